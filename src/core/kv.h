/*
 * kv.h -- one replica of the cluster's key-value store, sans-I/O.
 *
 * Any replica writes any key.  Every entry carries a version (timestamp,
 * writer): the timestamp comes from the replica's hybrid logical clock (HLC),
 * the writer is the writing replica's id, and the higher version wins on
 * every replica (last writer wins, deterministic).  A delete is a tombstone:
 * a newer version without a value.  Tombstones are collected by kv_gc once
 * they are older than the horizon and every live peer has completed an
 * anti-entropy session with this replica since the tombstone arrived (the
 * caller knows the sessions and passes the resulting time; docs/kv.md).
 *
 * The store keeps a recon_index (core/recon.h) in step with every change and
 * lends it to anti-entropy sessions through kv_recon_store.  No clock, no
 * I/O, no globals: time comes in as `now_ms` (wall clock, ms since the epoch:
 * HLC timestamps must be comparable across the cluster), memory through the
 * allocator, and every change goes out through the on_change callback (the
 * agent appends it to its log and spreads it as a rumor).
 *
 * HLC.  A timestamp is (physical ms << 16) | logical counter, one u64.  A
 * local write takes max(last + 1, now_ms << 16); every timestamp the store
 * sees (merged, loaded) raises `last` to at least it.  So a write is newer
 * than every version the writer had seen, whatever the clocks say, and close
 * to real time when clocks agree (Kulkarni et al., "Logical physical clocks",
 * OPODIS 2014, in the one-integer encoding).
 */
#ifndef GOSSIP_CORE_KV_H
#define GOSSIP_CORE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/recon.h"
#include "gossip/gossip.h"

#define KV_HLC_LOGICAL_BITS 16
#define KV_DEFAULT_MAX_KEY 512
#define KV_MAX_KEY 1024              /* recon's max_key: what a session carries */
#define KV_DEFAULT_MAX_VALUE 65536
#define KV_MAX_VALUE (16u << 20)
#define KV_DEFAULT_MAX_ENTRIES 1000000u
#define KV_DEFAULT_HORIZON_MS (24ull * 3600 * 1000)
#define KV_DEFAULT_MAX_AHEAD_MS 60000u

/* kv_put / kv_del: the compare-and-set did not match; nothing was written. */
#define KV_CAS_FAILED 1

static inline uint64_t kv_hlc_physical(uint64_t ts) { return ts >> KV_HLC_LOGICAL_BITS; }

typedef struct kv_store kv_store;

enum kv_cause {
    KV_LOCAL = 0,  /* kv_put / kv_del */
    KV_REMOTE = 1, /* kv_merge: a rumor or an anti-entropy session */
    KV_LOADED = 2, /* kv_load: read back from the data dir */
    KV_GC = 3,     /* kv_gc collected this tombstone */
};

typedef struct kv_change {
    const recon_entry *entry; /* the entry as stored now (KV_GC: as it was) */
    enum kv_cause cause;
} kv_change;

typedef struct kv_config {
    uint64_t writer;               /* this replica's id (the agent: hash of name and generation) */
    uint32_t max_key;              /* bytes in a key, 1..KV_MAX_KEY (512) */
    uint32_t max_value;            /* bytes in a value, up to KV_MAX_VALUE (65536) */
    uint32_t max_entries;          /* entries held, tombstones included (1,000,000) */
    uint64_t horizon_ms;           /* tombstones younger than this are kept (24 h) */
    uint64_t max_ahead_ms;         /* a received timestamp further ahead of now is counted (60 s) */
    unsigned leaf_bits;            /* the Merkle tree's (0: 1024 leaves) */
    uint32_t split;                /* its leaf split (0: 32) */
    void (*on_change)(void *ud, const kv_change *c); /* may be NULL; must not call the store */
    void *ud;
} kv_config;

typedef struct kv_stats {
    uint64_t entries, live, tombstones; /* held now */
    uint64_t bytes;                     /* keys and values held now */
    uint64_t puts, deletes;             /* local writes */
    uint64_t cas_failed;                /* local writes refused by compare-and-set */
    uint64_t merged_new;                /* received entries that changed this replica */
    uint64_t merged_stale;              /* received entries it already had, or older */
    uint64_t expired_refused;           /* received tombstones past the horizon for absent keys */
    uint64_t refused;                   /* received entries refused (limits, full) */
    uint64_t gc_collected;              /* tombstones collected */
    uint64_t clock_ahead;               /* received timestamps over max_ahead_ms in the future */
    uint64_t loaded;                    /* entries read back by kv_load */
} kv_stats;

void kv_config_default(kv_config *c);

/* GOSSIP_ERR_INVALID for a bad config, GOSSIP_ERR_NOMEM.  a NULL: libc. */
int kv_new(kv_store **out, const gossip_allocator *a, const kv_config *cfg);
void kv_free(kv_store *s);

/* Local writes.  cas NULL: unconditional; else the write happens only if the
 * key's live version has timestamp *cas (0: the key is absent or deleted),
 * and otherwise returns KV_CAS_FAILED with *out = the key's version (zero if
 * absent or deleted).  0 with *out = the new version; GOSSIP_ERR_INVALID
 * (empty key), GOSSIP_ERR_OVERSIZE (key or value over its limit),
 * GOSSIP_ERR_FULL (max_entries), GOSSIP_ERR_NOMEM.  kv_del of a key that is
 * absent or already deleted is GOSSIP_ERR_NOT_FOUND. */
int kv_put(kv_store *s, const void *key, size_t klen, const void *val, size_t vlen,
           uint64_t now_ms, const uint64_t *cas, recon_version *out);
int kv_del(kv_store *s, const void *key, size_t klen, uint64_t now_ms, const uint64_t *cas,
           recon_version *out);

/* An entry from another replica (rumor, anti-entropy): last writer wins.
 * 1 applied, 0 not newer (or a tombstone past the horizon for a key this
 * replica does not hold: kept out, counted), or a negative error (limits,
 * GOSSIP_ERR_FULL, GOSSIP_ERR_NOMEM) -- refused, nothing changed. */
int kv_merge(kv_store *s, const recon_entry *e, uint64_t now_ms);
/* As kv_merge without the horizon rule, reported as KV_LOADED. */
int kv_load(kv_store *s, const recon_entry *e, uint64_t now_ms);

/* The entry of key, tombstones included (pointers valid until the next
 * change).  GOSSIP_ERR_NOT_FOUND. */
int kv_get(const kv_store *s, const void *key, size_t klen, recon_entry *out);

/* Calls fn for every entry whose key starts with prefix[0, plen), tombstones
 * included, in no particular order; stops at fn's first non-zero result and
 * returns it. */
int kv_each(const kv_store *s, const void *prefix, size_t plen,
            int (*fn)(void *arg, const recon_entry *e), void *arg);

/* Collects every tombstone whose write time, the HLC physical part, is at least
 * horizon_ms before now_ms and that this replica has held since before
 * safe_ms (the caller's "every live peer has completed a session with us
 * since").  Returns how many. */
size_t kv_gc(kv_store *s, uint64_t now_ms, uint64_t safe_ms);

/* What an anti-entropy session reads and applies through (entries applied
 * with the time of the last call that passed one: kv_set_now). */
recon_store kv_recon_store(kv_store *s);
void kv_set_now(kv_store *s, uint64_t now_ms);

const recon_index *kv_index(const kv_store *s);
void kv_get_stats(const kv_store *s, kv_stats *out);
/* The last HLC timestamp issued or seen. */
uint64_t kv_clock(const kv_store *s);
const kv_config *kv_get_config(const kv_store *s);

#endif
