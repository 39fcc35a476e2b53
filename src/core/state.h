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

/* Values shorter than this live inside the entry (addresses, statuses,
 * schema ids): most entries then need no allocation of their own. */
#define KV_INLINE_VALUE 16
/* Names shorter than this live inside the endpoint. */
#define EP_INLINE_NAME 16

typedef struct gossip_kv {
    const char *key;       /* well-known keys point at static names; others owned */
    union {
        uint8_t *heap;     /* value_len >= KV_INLINE_VALUE */
        uint8_t small[KV_INLINE_VALUE];
    } v;                   /* NUL-terminated either way */
    uint64_t version;
    uint32_t value_len;
    bool deleted;
    bool key_owned;
} gossip_kv;

/* The value bytes (NULL when deleted). */
static inline const uint8_t *kv_value(const gossip_kv *kv)
{
    if (kv->deleted)
        return NULL;
    return kv->value_len < KV_INLINE_VALUE ? kv->v.small : kv->v.heap;
}

/* Endpoints are allocated one by one (the table keeps pointers), so a
 * pointer to one stays valid while the table grows.  Memory per endpoint is
 * what bounds the simulator at 10,000 nodes (10^8 endpoints), hence the
 * inline name and the inline first entry. */
typedef struct endpoint {
    union {
        char *heap;        /* name_len >= EP_INLINE_NAME */
        char small[EP_INLINE_NAME];
    } nm;
    gossip_kv *kvs;        /* sorted by version, ascending; == &one while cap_kvs == 1 */
    gossip_kv one;
    uint64_t generation;
    uint64_t heartbeat;    /* heartbeat version */
    uint64_t max_version;  /* max(heartbeat, every entry's version) */
    uint64_t digest;       /* endpoint_digest(): state and membership record */
    uint64_t incarnation;  /* membership record: (incarnation, status) in this generation */
    uint64_t status_since_ms;
    uint32_t change_seq;   /* table's change counter at the last change (wraps) */
    uint32_t bucket_next;  /* next endpoint in the same bucket (table.c) */
    uint32_t mark;         /* exchange epoch that last listed it (exchange.c) */
    uint32_t planned;      /* plan epoch that last planned a delta (exchange.c) */
    uint16_t n_kvs;
    uint16_t cap_kvs;
    uint8_t name_len;
    uint8_t bucket;        /* summary bucket, from the name hash */
    uint8_t status;        /* enum gossip_member_status */
} endpoint;

static inline const char *ep_name(const endpoint *ep)
{
    return ep->name_len < EP_INLINE_NAME ? ep->nm.small : ep->nm.heap;
}

/* A borrowed entry, as it arrives in a delta or from a local write. */
typedef struct kv_view {
    const char *key;
    uint32_t key_len;
    const uint8_t *value;
    uint32_t value_len;
    uint64_t version;
    bool deleted;
} kv_view;

/* Initialises an empty endpoint named `name` (1..GOSSIP_MAX_NAME bytes)
 * in `generation`.  An endpoint must not be copied bytewise: `kvs` may
 * point into itself. */
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

/* Drops every entry and restarts the endpoint in a new generation (its
 * membership record back to alive, incarnation 0). */
void endpoint_reset(endpoint *ep, const gossip_allocator *a, uint64_t generation);

/* Recomputes max_version and digest after changes. */
void endpoint_refresh(endpoint *ep);
/* What the table hash sums for one endpoint: its name, generation and
 * max_version, and its membership record, so that anti-entropy repairs a
 * missed "dead" as it repairs a missed write. */
uint64_t endpoint_digest(const endpoint *ep);

/* Merges a whole state `src` into `dst` (same name).  *changed is set when
 * dst changed. */
int endpoint_merge(endpoint *dst, const endpoint *src, const gossip_allocator *a,
                   uint32_t max_keys, bool *changed);

/* Content equality (name, generation, heartbeat and every entry). */
bool endpoint_equal(const endpoint *x, const endpoint *y);

#endif
