/* state.c -- endpoint state and its merge rule (see state.h). */
#include "core/state.h"

#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "wire/wire.h"

int endpoint_init(endpoint *ep, const gossip_allocator *a, const char *name, size_t name_len,
                  uint64_t generation)
{
    memset(ep, 0, sizeof *ep);
    if (name_len == 0 || name_len > GOSSIP_MAX_NAME)
        return GOSSIP_ERR_INVALID;
    if (name_len < EP_INLINE_NAME) {
        memcpy(ep->nm.small, name, name_len);
        ep->nm.small[name_len] = '\0';
    } else if (!(ep->nm.heap = ga_strndup(a, name, name_len))) {
        return GOSSIP_ERR_NOMEM;
    }
    ep->name_len = (uint8_t)name_len;
    ep->kvs = &ep->one;
    ep->cap_kvs = 1;
    ep->generation = generation;
    endpoint_refresh(ep);
    return 0;
}

static void kv_free_value(gossip_kv *kv, const gossip_allocator *a)
{
    if (!kv->deleted && kv->value_len >= KV_INLINE_VALUE)
        ga_free(a, kv->v.heap);
}

static void kv_free(gossip_kv *kv, const gossip_allocator *a)
{
    if (kv->key_owned)
        ga_free(a, (char *)kv->key);
    kv_free_value(kv, a);
}

void endpoint_reset(endpoint *ep, const gossip_allocator *a, uint64_t generation)
{
    for (uint32_t i = 0; i < ep->n_kvs; i++)
        kv_free(&ep->kvs[i], a);
    ep->n_kvs = 0;
    ep->generation = generation;
    ep->heartbeat = 0;
    ep->incarnation = 0;
    ep->status = GOSSIP_STATUS_ALIVE;
    endpoint_refresh(ep);
}

void endpoint_clear(endpoint *ep, const gossip_allocator *a)
{
    endpoint_reset(ep, a, 0);
    if (ep->kvs != &ep->one)
        ga_free(a, ep->kvs);
    if (ep->name_len >= EP_INLINE_NAME)
        ga_free(a, ep->nm.heap);
    memset(ep, 0, sizeof *ep);
}

void endpoint_refresh(endpoint *ep)
{
    uint64_t maxv = ep->heartbeat;
    if (ep->n_kvs && ep->kvs[ep->n_kvs - 1].version > maxv)
        maxv = ep->kvs[ep->n_kvs - 1].version;
    ep->max_version = maxv;
    ep->digest = endpoint_digest(ep);
}

/* The record is mixed in with the member's own hash, not XORed on as a
 * hash of the record alone: with that, two members of one bucket whose
 * records made the same move (dead, incarnation 0 -> alive, incarnation 1,
 * after a partition heals) cancelled out in the bucket and table hashes, and
 * a node that missed both refutations looked in sync for ever
 * (partition-1000, seed 1; tests/test_table.c). */
uint64_t endpoint_digest(const endpoint *ep)
{
    uint64_t h = gossip_digest_hash(ep_name(ep), ep->name_len, ep->generation, ep->max_version);
    return gossip_hash_mix(h ^ (ep->incarnation * 8 + ep->status + 1) * 0xd6e8feb86659fd93ull);
}

gossip_kv *endpoint_find_kv(const endpoint *ep, const char *key, size_t len)
{
    for (uint32_t i = 0; i < ep->n_kvs; i++) {
        gossip_kv *kv = &ep->kvs[i];
        if (strncmp(kv->key, key, len) == 0 && kv->key[len] == '\0')
            return kv;
    }
    return NULL;
}

/* Does `incoming` beat the entry we hold at the same key? */
static bool kv_wins(const kv_view *in, const gossip_kv *have)
{
    if (in->version != have->version)
        return in->version > have->version;
    if (in->deleted != have->deleted)
        return in->deleted;
    if (in->deleted)
        return false;
    size_t n = in->value_len < have->value_len ? in->value_len : have->value_len;
    int c = n ? memcmp(in->value, kv_value(have), n) : 0;
    if (c != 0)
        return c > 0;
    return in->value_len > have->value_len;
}

/* Moves entry `i` so the array stays sorted by version. */
static void resort_kv(endpoint *ep, uint32_t i)
{
    gossip_kv moved = ep->kvs[i];
    memmove(&ep->kvs[i], &ep->kvs[i + 1], (ep->n_kvs - i - 1) * sizeof moved);
    uint32_t j = ep->n_kvs - 1u;
    while (j > 0 && ep->kvs[j - 1].version > moved.version)
        j--;
    memmove(&ep->kvs[j + 1], &ep->kvs[j], (ep->n_kvs - 1u - j) * sizeof moved);
    ep->kvs[j] = moved;
}

static int kv_set_value(gossip_kv *kv, const gossip_allocator *a, const kv_view *in)
{
    uint32_t len = in->deleted ? 0 : in->value_len;
    uint8_t *heap = NULL;
    if (!in->deleted && len >= KV_INLINE_VALUE) {
        heap = ga_malloc(a, (size_t)len + 1);
        if (!heap)
            return GOSSIP_ERR_NOMEM;
        memcpy(heap, in->value, len);
        heap[len] = '\0'; /* so text values (addresses) read as C strings */
    }
    kv_free_value(kv, a);
    if (heap) {
        kv->v.heap = heap;
    } else {
        if (len)
            memcpy(kv->v.small, in->value, len);
        kv->v.small[len] = '\0';
    }
    kv->value_len = len;
    kv->deleted = in->deleted;
    kv->version = in->version;
    return 0;
}

static int grow_kvs(endpoint *ep, const gossip_allocator *a)
{
    uint32_t cap = ep->cap_kvs * 2u;
    if (cap > UINT16_MAX)
        return GOSSIP_ERR_TOO_MANY;
    gossip_kv *kvs = ga_malloc(a, cap * sizeof *kvs);
    if (!kvs)
        return GOSSIP_ERR_NOMEM;
    memcpy(kvs, ep->kvs, ep->n_kvs * sizeof *kvs);
    if (ep->kvs != &ep->one)
        ga_free(a, ep->kvs);
    ep->kvs = kvs;
    ep->cap_kvs = (uint16_t)cap;
    return 0;
}

/* Well-known keys share one static copy of their name. */
static int kv_set_key(gossip_kv *kv, const gossip_allocator *a, const char *key, size_t len)
{
    const char *known = wire_well_known_name(wire_well_known_id(key, len));
    if (known) {
        kv->key = known;
        kv->key_owned = false;
        return 0;
    }
    char *copy = ga_strndup(a, key, len);
    if (!copy)
        return GOSSIP_ERR_NOMEM;
    kv->key = copy;
    kv->key_owned = true;
    return 0;
}

int endpoint_put_kv(endpoint *ep, const gossip_allocator *a, const kv_view *in,
                    uint32_t max_keys, bool *changed)
{
    *changed = false;
    gossip_kv *have = endpoint_find_kv(ep, in->key, in->key_len);
    if (have) {
        if (!kv_wins(in, have))
            return 0;
        int rc = kv_set_value(have, a, in);
        if (rc)
            return rc;
        resort_kv(ep, (uint32_t)(have - ep->kvs));
        *changed = true;
        return 0;
    }
    if (ep->n_kvs >= max_keys)
        return GOSSIP_ERR_TOO_MANY;
    if (ep->n_kvs == ep->cap_kvs) {
        int rc = grow_kvs(ep, a);
        if (rc)
            return rc;
    }
    gossip_kv *kv = &ep->kvs[ep->n_kvs];
    memset(kv, 0, sizeof *kv);
    kv->deleted = true; /* nothing to free yet */
    int rc = kv_set_key(kv, a, in->key, in->key_len);
    if (rc)
        return rc;
    if ((rc = kv_set_value(kv, a, in))) {
        if (kv->key_owned)
            ga_free(a, (char *)kv->key);
        return rc;
    }
    ep->n_kvs++;
    resort_kv(ep, ep->n_kvs - 1u);
    *changed = true;
    return 0;
}

static kv_view view_of(const gossip_kv *kv)
{
    kv_view v = {kv->key, (uint32_t)strlen(kv->key), kv_value(kv), kv->value_len, kv->version,
                 kv->deleted};
    return v;
}

int endpoint_copy(endpoint *dst, const endpoint *src, const gossip_allocator *a)
{
    int rc = endpoint_init(dst, a, ep_name(src), src->name_len, src->generation);
    if (rc)
        return rc;
    dst->heartbeat = src->heartbeat;
    for (uint32_t i = 0; i < src->n_kvs; i++) {
        kv_view v = view_of(&src->kvs[i]);
        bool changed;
        if ((rc = endpoint_put_kv(dst, a, &v, UINT16_MAX, &changed))) {
            endpoint_clear(dst, a);
            return rc;
        }
    }
    endpoint_refresh(dst);
    return 0;
}

int endpoint_merge(endpoint *dst, const endpoint *src, const gossip_allocator *a,
                   uint32_t max_keys, bool *changed)
{
    *changed = false;
    if (src->generation < dst->generation)
        return 0;
    if (src->generation > dst->generation) {
        endpoint_reset(dst, a, src->generation);
        *changed = true;
    }
    if (src->heartbeat > dst->heartbeat) {
        dst->heartbeat = src->heartbeat;
        *changed = true;
    }
    int rc = 0;
    for (uint32_t i = 0; i < src->n_kvs && rc == 0; i++) {
        kv_view v = view_of(&src->kvs[i]);
        bool won;
        rc = endpoint_put_kv(dst, a, &v, max_keys, &won);
        *changed |= won;
    }
    endpoint_refresh(dst);
    return rc;
}

bool endpoint_equal(const endpoint *x, const endpoint *y)
{
    if (x->name_len != y->name_len || memcmp(ep_name(x), ep_name(y), x->name_len) != 0 ||
        x->generation != y->generation || x->heartbeat != y->heartbeat ||
        x->n_kvs != y->n_kvs)
        return false;
    for (uint32_t i = 0; i < x->n_kvs; i++) {
        const gossip_kv *p = &x->kvs[i];
        const gossip_kv *q = endpoint_find_kv(y, p->key, strlen(p->key));
        if (!q || p->version != q->version || p->deleted != q->deleted ||
            p->value_len != q->value_len ||
            (p->value_len && memcmp(kv_value(p), kv_value(q), p->value_len) != 0))
            return false;
    }
    return true;
}
