/* bench_blob.c -- large payloads: bytes on the wire with compact
 * announcements (short IDs) against a manifest of full hashes, a full
 * transfer and the minimum (missing bytes x receivers), and the time until
 * every node holds the payload, on the simulator's network (blob_run.c).
 *
 *   bench_blob [NODES [SIZE_MIB]]     default 100 nodes, 10 MiB
 *
 * Prints one row per (have, mode); full transfer once, at have = 0.9. */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "sim/blob_sim.h"

static const char *const names[] = {"compact", "manifest", "full"};

int main(int argc, char **argv)
{
    uint32_t nodes = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100;
    double mib = argc > 2 ? strtod(argv[2], NULL) : 10.0;
    if (nodes < 2 || nodes > BLOB_SIM_MAX_NODES || !(mib > 0 && mib <= 64)) {
        fprintf(stderr, "usage: bench_blob [NODES 2..%u [SIZE_MIB (0, 64]]]\n",
                BLOB_SIM_MAX_NODES);
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    const double haves[] = {0.5, 0.9, 0.99};
    printf("bench_blob: %u nodes, %.1f MiB, k = 3, links 1-20 ms, 100 Mbit/s, seed 1\n\n",
           nodes, mib);
    printf("%5s %-9s %13s %13s %8s %11s %13s\n", "have", "mode", "wire bytes", "minimum",
           "x min", "time to all", "list bytes");
    for (size_t h = 0; h < sizeof haves / sizeof haves[0]; h++) {
        blob_sim_config c;
        blob_sim_config_init(&c);
        c.nodes = nodes;
        blob_sim_payload p;
        if (blob_sim_make_payload(c.seed, (size_t)(mib * 1024 * 1024), haves[h],
                                  &c.engine.chunking, &p) != 0)
            return 1;
        uint64_t min = p.missing_bytes * (nodes - 1);
        for (int m = 0; m < 3; m++) {
            if (m == BLOB_FETCH_FULL && haves[h] != 0.9)
                continue;
            c.mode = (enum blob_fetch_mode)m;
            blob_sim_result r;
            if (blob_sim_run(&c, &p, &r) != 0 || r.verified != nodes) {
                fprintf(stderr, "bench_blob: run failed or not verified\n");
                return 1;
            }
            printf("%5.2f %-9s %13llu %13llu %8.3f %9.3f s %13llu\n",
                   (double)p.shared_bytes / (double)p.size, names[m],
                   (unsigned long long)r.wire_bytes, (unsigned long long)min,
                   (double)r.wire_bytes / (double)min, (double)r.time_all_ms / 1000.0,
                   (unsigned long long)(r.bytes_by_type[2] + r.bytes_by_type[3]));
            fflush(stdout);
        }
        blob_sim_payload_free(&p);
    }
    return 0;
}
