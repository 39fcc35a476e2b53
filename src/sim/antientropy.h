/*
 * antientropy.h -- `gossip-sim antientropy`: two in-memory replicas of a
 * key-value store reconciled by the real anti-entropy code (core/recon.h).
 *
 * ae_replica is a minimal last-writer-wins store: enough to feed a session
 * and to check its outcome, with an undo journal so that one pair of
 * replicas serves every method in turn.  It is not the cluster's store.
 */
#ifndef GOSSIP_SIM_ANTIENTROPY_H
#define GOSSIP_SIM_ANTIENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/recon.h"

/* ---- the replica ----------------------------------------------------------- */

typedef struct ae_entry {
    uint64_t khash;
    recon_version version;
    uint64_t key_off, val_off; /* in the arena */
    uint32_t key_len, val_len;
    uint32_t next; /* hash chain */
    bool tombstone;
} ae_entry;

typedef struct ae_undo {
    uint32_t idx;
    bool inserted;
    ae_entry old;
} ae_undo;

typedef struct ae_replica {
    recon_index index;
    ae_entry *e;
    uint32_t n, cap;
    uint8_t *arena;
    size_t used, arena_cap;
    uint32_t *heads;
    uint32_t mask;
    /* undo journal, kept between ae_replica_mark and ae_replica_rollback */
    bool journaling;
    ae_undo *undo;
    size_t n_undo, cap_undo;
    size_t mark_used;
} ae_replica;

int ae_replica_init(ae_replica *r, uint32_t expected, unsigned leaf_bits, uint32_t split);
void ae_replica_free(ae_replica *r);
/* Last-writer-wins put: 1 if the entry changed, 0 if the replica already held
 * this version or a newer one, or a negative error. */
int ae_replica_put(ae_replica *r, const recon_entry *e);
const ae_entry *ae_replica_find(const ae_replica *r, const void *key, uint32_t key_len);
void ae_replica_view(const ae_replica *r, const ae_entry *x, recon_entry *out);
recon_store ae_replica_store(ae_replica *r);
void ae_replica_mark(ae_replica *r);
void ae_replica_rollback(ae_replica *r);
/* NULL if a and b hold the same entries, byte for byte; else what differs. */
const char *ae_replica_compare(const ae_replica *a, const ae_replica *b, char *buf, size_t len);

/* ---- the benchmark ---------------------------------------------------------- */

#define AE_MAX_KEYS 20000000u
#define AE_MAX_VALUE 65536u

enum { AE_RUN_MERKLE = 1, AE_RUN_IBLT = 2, AE_RUN_AUTO = 4 };

typedef struct ae_config {
    uint64_t keys;
    double diff;
    uint32_t value_bytes;
    uint64_t seed;
    unsigned methods; /* AE_RUN_* */
    unsigned leaf_bits;
    uint32_t split;
    recon_config recon;
} ae_config;

typedef struct ae_method_result {
    bool ran;
    uint64_t bytes; /* every message, headers included, both directions */
    uint32_t messages, round_trips;
    uint64_t entries; /* entries shipped, both directions */
    recon_stats initiator, responder;
    double seconds;
} ae_method_result;

typedef struct ae_result {
    uint64_t differing, updated, newer_a, newer_b, deletes, only_a, only_b;
    uint64_t entries_a, entries_b;
    uint64_t full_bytes, min_bytes;
    double estimate;
    ae_method_result merkle, iblt, autom;
    double build_seconds;
} ae_result;

/* Builds the replicas, runs the sessions, checks after each that both
 * replicas are identical and hold the last-writer-wins winner of every key.
 * 0; GOSSIP_ERR_NOMEM; or 1 with a message in err when a check failed. */
int ae_run(const ae_config *cfg, ae_result *out, char *err, size_t err_len);

/* Runs one session between a (initiator) and b; 0 or a negative error, with
 * a message in err. */
int ae_session(ae_replica *a, ae_replica *b, const recon_config *cfg, ae_method_result *out,
               char *err, size_t err_len);

int sim_cmd_antientropy(int argc, char **argv); /* cmd_antientropy.c */

#endif
