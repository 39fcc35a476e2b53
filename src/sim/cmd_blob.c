/*
 * cmd_blob.c -- `gossip-sim blob`: command line of the large-payload
 * benchmark (blob_run.c).  Every argument is checked before anything runs;
 * a bad one is named on stderr with exit status 2.  A run in which some
 * node does not end with the exact payload exits 1.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gossip/gossip.h"
#include "sim/blob_sim.h"
#include "sim/cli_args.h"


#define MIB (1024.0 * 1024.0)

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: gossip-sim blob [--nodes N] [--size-mib M] [--have F] [--k K] [--seed S]\n"
            "                       [--mode compact|manifest|full|both|all] [--json]\n"
            "                       [--latency-ms MIN-MAX] [--bandwidth-mbit B]\n"
            "                       [--corrupt C] [--max-payload-mib P]\n"
            "\n"
            "Spreads one payload with the real large-payload engine (src/core/blob*.c) over\n"
            "N simulated nodes.  Every node holds an earlier version whose chunks cover the\n"
            "fraction F of the new version's bytes; node 0 publishes the new version and\n"
            "announces it (INV) to K peers; each node that completes announces it in turn.\n"
            "\n"
            "  --nodes N            2 .. %u (default 100)\n"
            "  --size-mib M         payload size in MiB, > 0, may be fractional (default 10)\n"
            "  --have F             fraction in [0, 1] of the payload already held (default 0.9)\n"
            "  --k K                announcement fanout, 1 .. 64 (default 3)\n"
            "  --seed S             unsigned 64-bit integer (default 1); same arguments, same run\n"
            "  --mode M             compact: short IDs, fetch the missing chunks (default);\n"
            "                       manifest: full chunk hashes, fetch the missing chunks;\n"
            "                       full: fetch every chunk; both: compact and full; all: the three\n"
            "  --latency-ms A-B     per-link latency, uniform in [A, B] ms (default 1-20)\n"
            "  --bandwidth-mbit B   each node's uplink and downlink, 1 .. 100000 (default 100)\n"
            "  --corrupt C          nodes 1..C corrupt every chunk they serve (default 0)\n"
            "  --max-payload-mib P  the engine's payload cap, 1 .. 4096 (default 64)\n"
            "  --json               one JSON object instead of the table\n"
            "\n"
            "Wire bytes count every message with its 4-byte frame prefix.  The minimum is\n"
            "the bytes missing from the old version times N - 1.  See docs/large-payloads.md.\n",
            BLOB_SIM_MAX_NODES);
}

static const char CMD[] = "blob";

enum { RUN_COMPACT = 1, RUN_MANIFEST = 2, RUN_FULL = 4 };

enum flag_id {
    F_NODES, F_SIZE_MIB, F_HAVE, F_K, F_SEED, F_MODE, F_LATENCY_MS, F_BANDWIDTH_MBIT,
    F_CORRUPT, F_MAX_PAYLOAD_MIB, F_COUNT
};

static const sim_flag flags[F_COUNT] = {
    [F_NODES] = {"--nodes", true},
    [F_SIZE_MIB] = {"--size-mib", true},
    [F_HAVE] = {"--have", true},
    [F_K] = {"--k", true},
    [F_SEED] = {"--seed", true},
    [F_MODE] = {"--mode", true},
    [F_LATENCY_MS] = {"--latency-ms", true},
    [F_BANDWIDTH_MBIT] = {"--bandwidth-mbit", true},
    [F_CORRUPT] = {"--corrupt", true},
    [F_MAX_PAYLOAD_MIB] = {"--max-payload-mib", true},
};

struct blob_args {
    blob_sim_config cfg;
    double size_mib, have;
    unsigned runs;
    uint64_t max_payload_mib;
    bool json, help;
    bool given[F_COUNT];
};

static int parse_latency(struct blob_args *a, const char *flag, const char *value)
{
    unsigned long lo, hi;
    char tail;
    if (sscanf(value, "%lu-%lu%c", &lo, &hi, &tail) != 2 || lo > hi || hi > 10000 ||
        value[0] < '0' || value[0] > '9')
        return sim_usage_error(CMD, flag, "'%s' is not MIN-MAX with 0 <= MIN <= MAX <= 10000",
                               value);
    a->cfg.latency_min_ms = (uint32_t)lo;
    a->cfg.latency_max_ms = (uint32_t)hi;
    return 0;
}

static int parse_mode(struct blob_args *a, const char *flag, const char *value)
{
    static const struct {
        const char *name;
        unsigned runs;
    } names[] = {{"compact", RUN_COMPACT},
                 {"manifest", RUN_MANIFEST},
                 {"full", RUN_FULL},
                 {"both", RUN_COMPACT | RUN_FULL},
                 {"all", RUN_COMPACT | RUN_MANIFEST | RUN_FULL}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(value, names[i].name) == 0) {
            a->runs = names[i].runs;
            return 0;
        }
    }
    return sim_usage_error(CMD, flag, "'%s' is not compact, manifest, full, both or all", value);
}

static int apply_option(void *ctx, size_t id, const char *flag, const char *value)
{
    struct blob_args *a = ctx;
    int rc;
    switch ((enum flag_id)id) {
    case F_NODES:
        return sim_parse_count(CMD, flag, value, 2, BLOB_SIM_MAX_NODES, &a->cfg.nodes);
    case F_K:
        return sim_parse_count(CMD, flag, value, 1, 64, &a->cfg.k);
    case F_SEED:
        return sim_parse_seed(CMD, flag, value, &a->cfg.seed);
    case F_BANDWIDTH_MBIT:
        return sim_parse_count(CMD, flag, value, 1, 100000, &a->cfg.bandwidth_mbit);
    case F_CORRUPT:
        return sim_parse_count(CMD, flag, value, 0, BLOB_SIM_MAX_NODES, &a->cfg.corrupt_nodes);
    case F_MAX_PAYLOAD_MIB:
        return sim_parse_range(CMD, flag, value, 1, 4096, &a->max_payload_mib);
    case F_SIZE_MIB:
        if ((rc = sim_parse_double(CMD, flag, value, &a->size_mib)))
            return rc;
        if (!(a->size_mib > 0.0) || a->size_mib > 4096.0)
            return sim_usage_error(CMD, flag, "%s is not in (0, 4096]", value);
        return 0;
    case F_HAVE:
        if ((rc = sim_parse_double(CMD, flag, value, &a->have)))
            return rc;
        if (!(a->have >= 0.0 && a->have <= 1.0))
            return sim_usage_error(CMD, flag, "%s is not in [0, 1]", value);
        return 0;
    case F_LATENCY_MS:
        return parse_latency(a, flag, value);
    case F_MODE:
        return parse_mode(a, flag, value);
    case F_COUNT:
        break;
    }
    return 0;
}

/* Accepts "--flag value" and "--flag=value". */
static int parse_args(int argc, char **argv, struct blob_args *a)
{
    int rc = sim_parse_flags(CMD, argc, argv, flags, F_COUNT, a->given, &a->help, &a->json,
                             apply_option, a);
    if (rc != 0 || a->help)
        return rc;
    if (a->cfg.corrupt_nodes >= a->cfg.nodes)
        return sim_usage_error(CMD, "--corrupt", "%u must be below --nodes (%u)", a->cfg.corrupt_nodes,
                           a->cfg.nodes);
    return 0;
}

static const char *const mode_names[] = {"compact", "manifest", "full"};
static const char *const type_names[7] = {"other", "inv", "compact", "manifest",
                                          "getdata", "chunk", "notfound"};

typedef struct run_out {
    enum blob_fetch_mode mode;
    blob_sim_result r;
} run_out;

static void print_table(const struct blob_args *a, const blob_sim_payload *p,
                        const run_out *runs, size_t n)
{
    uint64_t min = p->missing_bytes * (a->cfg.nodes - 1);
    printf("gossip-sim blob: %u nodes, %.2f MiB payload (%u chunks), nodes hold %.1f%% of its "
           "bytes (%u chunks), k = %u, seed %llu\n",
           a->cfg.nodes, (double)p->size / MIB, p->chunks,
           100.0 * (double)p->shared_bytes / (double)p->size, p->chunks_shared, a->cfg.k,
           (unsigned long long)a->cfg.seed);
    printf("links: %u-%u ms, %u Mbit/s up and down per node\n\n", a->cfg.latency_min_ms,
           a->cfg.latency_max_ms, a->cfg.bandwidth_mbit);
    printf("%-9s %15s %9s %13s %14s %9s\n", "mode", "wire bytes", "x minimum", "time to all",
           "source upload", "verified");
    printf("%-9s %15llu %9s %13s %14s %9s\n", "minimum", (unsigned long long)min, "1.00", "-",
           "-", "-");
    for (size_t i = 0; i < n; i++) {
        const blob_sim_result *r = &runs[i].r;
        char t[32];
        if (r->verified == a->cfg.nodes)
            snprintf(t, sizeof t, "%.3f s", (double)r->time_all_ms / 1000.0);
        else
            snprintf(t, sizeof t, "never");
        printf("%-9s %15llu %9.2f %13s %14llu %5u/%-3u\n", mode_names[runs[i].mode],
               (unsigned long long)r->wire_bytes,
               min ? (double)r->wire_bytes / (double)min : 0.0, t,
               (unsigned long long)r->source_upload_bytes, r->verified, a->cfg.nodes);
    }
    printf("\nbytes by message type:\n%-9s", "mode");
    for (int t = 1; t < 7; t++)
        printf(" %13s", type_names[t]);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        printf("%-9s", mode_names[runs[i].mode]);
        for (int t = 1; t < 7; t++)
            printf(" %13llu", (unsigned long long)runs[i].r.bytes_by_type[t]);
        printf("\n");
    }
    for (size_t i = 0; i < n; i++) {
        const blob_stats *s = &runs[i].r.total;
        printf("%s: chunks local %llu, fetched %llu, bad %llu, duplicate %llu, sources dropped "
               "%llu, timeouts %llu, short-ID ambiguous %llu, false %llu, manifest fallbacks "
               "%llu\n",
               mode_names[runs[i].mode], (unsigned long long)s->chunks_local,
               (unsigned long long)s->chunks_fetched, (unsigned long long)s->chunks_bad,
               (unsigned long long)s->chunks_duplicate, (unsigned long long)s->sources_dropped,
               (unsigned long long)s->request_timeouts,
               (unsigned long long)s->short_id_ambiguous, (unsigned long long)s->short_id_false,
               (unsigned long long)s->manifest_fallbacks);
    }
}

static void print_json(const struct blob_args *a, const blob_sim_payload *p,
                       const run_out *runs, size_t n)
{
    uint64_t min = p->missing_bytes * (a->cfg.nodes - 1);
    printf("{\"nodes\":%u,\"size\":%zu,\"chunks\":%u,\"chunks_shared\":%u,\"have\":%.6f,"
           "\"k\":%u,\"seed\":%llu,\"latency_ms\":[%u,%u],\"bandwidth_mbit\":%u,"
           "\"corrupt\":%u,\"missing_bytes\":%llu,\"min_bytes\":%llu,\"runs\":[",
           a->cfg.nodes, p->size, p->chunks, p->chunks_shared,
           (double)p->shared_bytes / (double)p->size, a->cfg.k,
           (unsigned long long)a->cfg.seed, a->cfg.latency_min_ms, a->cfg.latency_max_ms,
           a->cfg.bandwidth_mbit, a->cfg.corrupt_nodes, (unsigned long long)p->missing_bytes,
           (unsigned long long)min);
    for (size_t i = 0; i < n; i++) {
        const blob_sim_result *r = &runs[i].r;
        const blob_stats *s = &r->total;
        printf("%s{\"mode\":\"%s\",\"wire_bytes\":%llu,\"ratio_to_min\":%.4f,"
               "\"time_all_ms\":%llu,\"time_end_ms\":%llu,\"completed\":%u,\"verified\":%u,"
               "\"all_verified\":%s,\"source_upload_bytes\":%llu,\"max_upload_bytes\":%llu,"
               "\"bytes_by_type\":{",
               i ? "," : "", mode_names[runs[i].mode], (unsigned long long)r->wire_bytes,
               min ? (double)r->wire_bytes / (double)min : 0.0,
               (unsigned long long)r->time_all_ms, (unsigned long long)r->time_end_ms,
               r->completed, r->verified, r->verified == a->cfg.nodes ? "true" : "false",
               (unsigned long long)r->source_upload_bytes,
               (unsigned long long)r->max_upload_bytes);
        for (int t = 1; t < 7; t++)
            printf("%s\"%s\":%llu", t > 1 ? "," : "", type_names[t],
                   (unsigned long long)r->bytes_by_type[t]);
        printf("},\"chunks_local\":%llu,\"chunks_fetched\":%llu,\"chunks_bad\":%llu,"
               "\"chunks_duplicate\":%llu,\"sources_dropped\":%llu,\"request_timeouts\":%llu,"
               "\"short_id_ambiguous\":%llu,\"short_id_false\":%llu,"
               "\"manifest_fallbacks\":%llu,\"recv_errors\":%llu}",
               (unsigned long long)s->chunks_local, (unsigned long long)s->chunks_fetched,
               (unsigned long long)s->chunks_bad, (unsigned long long)s->chunks_duplicate,
               (unsigned long long)s->sources_dropped, (unsigned long long)s->request_timeouts,
               (unsigned long long)s->short_id_ambiguous, (unsigned long long)s->short_id_false,
               (unsigned long long)s->manifest_fallbacks, (unsigned long long)s->recv_errors);
    }
    printf("]}\n");
}

int sim_cmd_blob(int argc, char **argv)
{
    struct blob_args a;
    memset(&a, 0, sizeof a);
    blob_sim_config_init(&a.cfg);
    a.size_mib = 10.0;
    a.have = 0.9;
    a.runs = RUN_COMPACT;
    a.max_payload_mib = 64;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (a.help) {
        print_usage(stdout);
        return 0;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "gossip-sim blob: libsodium failed to initialise\n");
        return 1;
    }
    a.cfg.engine.max_payload = a.max_payload_mib * 1024 * 1024;
    size_t size = (size_t)llround(a.size_mib * MIB);
    if (size == 0)
        size = 1;
    if (size > a.cfg.engine.max_payload) {
        fprintf(stderr,
                "gossip-sim blob: --size-mib: a payload of %zu bytes exceeds the cap of %llu "
                "bytes (%llu MiB; --max-payload-mib raises it): %s\n",
                size, (unsigned long long)a.cfg.engine.max_payload,
                (unsigned long long)a.max_payload_mib, gossip_strerror(GOSSIP_ERR_OVERSIZE));
        return SIM_EXIT_USAGE;
    }
    blob_sim_payload p;
    if (blob_sim_make_payload(a.cfg.seed, size, a.have, &a.cfg.engine.chunking, &p) != 0) {
        fprintf(stderr, "gossip-sim blob: out of memory building the payload\n");
        return 1;
    }
    run_out runs[3];
    size_t n = 0;
    int status = 0;
    for (int m = 0; m < 3; m++) {
        if (!(a.runs & (1u << m)))
            continue;
        a.cfg.mode = (enum blob_fetch_mode)m;
        runs[n].mode = a.cfg.mode;
        rc = blob_sim_run(&a.cfg, &p, &runs[n].r);
        if (rc) {
            fprintf(stderr, "gossip-sim blob: %s run failed: %s\n", mode_names[m],
                    gossip_strerror(rc));
            blob_sim_payload_free(&p);
            return 1;
        }
        if (runs[n].r.verified != a.cfg.nodes)
            status = 1;
        n++;
    }
    if (a.json)
        print_json(&a, &p, runs, n);
    else
        print_table(&a, &p, runs, n);
    if (status)
        fprintf(stderr, "gossip-sim blob: not every node ended with the exact payload\n");
    blob_sim_payload_free(&p);
    return status;
}
