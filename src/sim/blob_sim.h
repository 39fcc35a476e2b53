/*
 * blob_sim.h -- `gossip-sim blob`: the real large-payload engine
 * (core/blob.h) on N simulated nodes joined by links with latency and
 * bandwidth.  Every node starts with an earlier version of the payload; one
 * node publishes the new version; the run reports bytes on the wire and
 * the time until every node holds the new version, checked byte for byte
 * and by its payload hash.
 */
#ifndef GOSSIP_SIM_BLOB_SIM_H
#define GOSSIP_SIM_BLOB_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/blob.h"

#define BLOB_SIM_MAX_NODES 2000
#define BLOB_SIM_FRAME_BYTES 4 /* a stream frame's length prefix, counted on the wire */

/* The two versions: `old` is what every node holds, `cur` is published. */
typedef struct blob_sim_payload {
    uint8_t *old, *cur;
    size_t size;
    uint32_t chunks;           /* of cur */
    uint32_t chunks_shared;    /* of cur's chunks, those that are also old's */
    uint64_t shared_bytes;     /* their bytes */
    uint64_t missing_bytes;    /* size - shared_bytes: what each node must fetch */
} blob_sim_payload;

/* Builds a random `old` and a `cur` that differs from it in whole regions
 * until at most `have` of cur's bytes (and as close to it as a chunk
 * allows) lie in chunks that old also has.  have 1: cur = old; have 0: an
 * unrelated cur. */
int blob_sim_make_payload(uint64_t seed, size_t size, double have, const blob_chunking *ch,
                          blob_sim_payload *out);
void blob_sim_payload_free(blob_sim_payload *p);

typedef struct blob_sim_config {
    uint32_t nodes;
    enum blob_fetch_mode mode;
    uint32_t k;                /* announce fanout */
    uint64_t seed;
    uint32_t latency_min_ms, latency_max_ms; /* per link, uniform, symmetric */
    uint32_t bandwidth_mbit;   /* each node's uplink and downlink */
    uint32_t corrupt_nodes;    /* nodes 1..corrupt_nodes flip a byte of every chunk they serve */
    uint64_t max_time_ms;      /* virtual time limit */
    blob_settings engine;      /* the rest of the engine's settings */
} blob_sim_config;

void blob_sim_config_init(blob_sim_config *c);

typedef struct blob_sim_result {
    uint64_t wire_bytes;       /* every message plus its frame prefix */
    uint64_t bytes_by_type[7], msgs_by_type[7];
    uint64_t time_all_ms;      /* virtual time at which the last node completed */
    uint64_t time_end_ms;      /* when the last message was delivered */
    uint32_t completed;        /* nodes holding the new version, the source included */
    uint32_t verified;         /* ... whose bytes and payload hash match */
    uint64_t max_upload_bytes; /* the busiest node's uplink */
    uint64_t source_upload_bytes;
    blob_stats total;          /* summed over nodes */
    uint64_t events;
} blob_sim_result;

int blob_sim_run(const blob_sim_config *c, const blob_sim_payload *p, blob_sim_result *r);

/* `gossip-sim blob` (cmd_blob.c). */
int sim_cmd_blob(int argc, char **argv);

#endif
