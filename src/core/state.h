/*
 * state.h -- versioned endpoint state (Cassandra's EndpointState).
 *
 * One endpoint = a heartbeat (generation, version) plus an application-state
 * map key -> (value, version).  Within a generation every version comes from
 * the owner's single counter, so an endpoint's max_version says how far a
 * holder has caught up: deltas are sent in version order and a holder of
 * (generation, v) has every entry whose latest version is <= v.
 *
 * Merge: the higher generation replaces the whole state; in the same
 * generation the higher version wins per key (ties, which only a buggy or
 * hostile owner can produce, break towards the tombstone, then the larger
 * value) and the heartbeat is the maximum.  This makes merge commutative,
 * associative and idempotent.
 */
#ifndef GOSSIP_CORE_STATE_H
#define GOSSIP_CORE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/gossip.h"

typedef struct gossip_kv {
    char *key;             /* owned, NUL-terminated */
    uint8_t *value;        /* owned, NUL-terminated; NULL when empty or deleted */
    uint32_t value_len;
    bool deleted;
    uint64_t version;
} gossip_kv;

typedef struct endpoint {
    char *name;            /* owned, NUL-terminated */
    uint32_t name_len;
    uint32_t bucket;       /* summary bucket, from the name hash */
    uint64_t name_hash;
    uint64_t generation;
    uint64_t heartbeat;    /* heartbeat version */
    uint64_t max_version;  /* max(heartbeat, every entry's version) */
    uint64_t digest;       /* gossip_digest_hash(name, generation, max_version) */
    gossip_kv *kvs;        /* sorted by version, ascending */
    uint32_t n_kvs;
    uint32_t cap_kvs;
    uint32_t bucket_next;  /* next endpoint in the same bucket (table.c) */
    uint64_t change_seq;   /* table's change counter at the last change */
    uint32_t mark;         /* exchange epoch that last listed it (exchange.c) */
    uint32_t planned;      /* plan epoch that last planned a delta (exchange.c) */
} endpoint;

/* A borrowed entry, as it arrives in a delta or from a local write. */
typedef struct kv_view {
    const char *key;
    uint32_t key_len;
    const uint8_t *value;
    uint32_t value_len;
    uint64_t version;
    bool deleted;
} kv_view;

/* Initialises an empty endpoint named `name` in `generation`. */
int endpoint_init(endpoint *ep, const gossip_allocator *a, const char *name,
                  size_t name_len, uint64_t generation);
void endpoint_clear(endpoint *ep, const gossip_allocator *a);
/* Deep copy; `dst` must be uninitialised or cleared. */
int endpoint_copy(endpoint *dst, const endpoint *src, const gossip_allocator *a);

gossip_kv *endpoint_find_kv(const endpoint *ep, const char *key, size_t len);

/* Puts one entry with the merge rule.  *changed tells whether it won.
 * Returns GOSSIP_ERR_TOO_MANY past `max_keys` new keys. */
int endpoint_put_kv(endpoint *ep, const gossip_allocator *a, const kv_view *kv,
                    uint32_t max_keys, bool *changed);

/* Drops every entry and restarts the endpoint in a new generation. */
void endpoint_reset(endpoint *ep, const gossip_allocator *a, uint64_t generation);

/* Recomputes max_version and digest after changes. */
void endpoint_refresh(endpoint *ep);

/* Merges a whole state `src` into `dst` (same name).  *changed is set when
 * dst changed. */
int endpoint_merge(endpoint *dst, const endpoint *src, const gossip_allocator *a,
                   uint32_t max_keys, bool *changed);

/* Content equality (name, generation, heartbeat and every entry). */
bool endpoint_equal(const endpoint *x, const endpoint *y);

#endif
