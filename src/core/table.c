/* table.c -- endpoint table, name index and summaries (see table.h). */
#include "core/table.h"

#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"

int table_init(table *t, const gossip_allocator *a, uint32_t max)
{
    memset(t, 0, sizeof *t);
    t->alloc = a;
    t->max = max;
    for (uint32_t b = 0; b < TABLE_BUCKETS; b++)
        t->bucket_head[b] = TABLE_NONE;
    for (uint32_t i = 0; i < TABLE_RECENT; i++)
        t->recent[i] = TABLE_NONE;
    return 0;
}

void table_free(table *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        endpoint_clear(&t->eps[i], t->alloc);
    ga_free(t->alloc, t->eps);
    ga_free(t->alloc, t->index);
    memset(t, 0, sizeof *t);
}

static uint32_t slot_of(const table *t, uint64_t h) { return (uint32_t)h & (t->index_cap - 1); }

uint32_t table_find(const table *t, const char *name, size_t len)
{
    if (!t->index_cap)
        return TABLE_NONE;
    uint64_t h = gossip_hash_bytes(name, len, 0);
    for (uint32_t s = slot_of(t, h);; s = (s + 1) & (t->index_cap - 1)) {
        uint32_t i = t->index[s];
        if (i == TABLE_NONE)
            return TABLE_NONE;
        const endpoint *ep = &t->eps[i];
        if (ep->name_hash == h && ep->name_len == len && memcmp(ep->name, name, len) == 0)
            return i;
    }
}

static void index_insert(table *t, uint32_t idx)
{
    uint32_t s = slot_of(t, t->eps[idx].name_hash);
    while (t->index[s] != TABLE_NONE)
        s = (s + 1) & (t->index_cap - 1);
    t->index[s] = idx;
}

static int grow(table *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 16;
    if (cap > t->max)
        cap = t->max;
    endpoint *eps = ga_realloc(t->alloc, t->eps, (size_t)cap * sizeof *eps);
    if (!eps)
        return GOSSIP_ERR_NOMEM;
    t->eps = eps;
    uint32_t icap = 32;
    while (icap < 2 * cap)
        icap *= 2;
    if (icap != t->index_cap) {
        uint32_t *index = ga_malloc(t->alloc, (size_t)icap * sizeof *index);
        if (!index)
            return GOSSIP_ERR_NOMEM;
        memset(index, 0xff, (size_t)icap * sizeof *index);
        ga_free(t->alloc, t->index);
        t->index = index;
        t->index_cap = icap;
        for (uint32_t i = 0; i < t->n; i++)
            index_insert(t, i);
    }
    t->cap = cap;
    return 0;
}

int table_add(table *t, const char *name, size_t len, uint64_t generation, uint32_t *idx)
{
    if (t->n >= t->max)
        return GOSSIP_ERR_FULL;
    if (t->n == t->cap) {
        int rc = grow(t);
        if (rc)
            return rc;
    }
    endpoint *ep = &t->eps[t->n];
    int rc = endpoint_init(ep, t->alloc, name, len, generation);
    if (rc)
        return rc;
    ep->bucket = table_bucket_of(ep->name_hash, TABLE_BUCKET_BITS);
    ep->bucket_next = t->bucket_head[ep->bucket];
    t->bucket_head[ep->bucket] = t->n;
    t->bucket_size[ep->bucket]++;
    *idx = t->n++;
    index_insert(t, *idx);
    table_changed(t, *idx); /* a new endpoint enters the hashes */
    return 0;
}

void table_before_change(table *t, uint32_t idx)
{
    const endpoint *ep = &t->eps[idx];
    t->hash ^= ep->digest;
    t->bucket_hash[ep->bucket] ^= ep->digest;
}

void table_changed(table *t, uint32_t idx)
{
    endpoint *ep = &t->eps[idx];
    endpoint_refresh(ep);
    t->hash ^= ep->digest;
    t->bucket_hash[ep->bucket] ^= ep->digest;
    ep->change_seq = ++t->change_seq;
    t->recent[t->recent_pos] = idx;
    t->recent_seq[t->recent_pos] = ep->change_seq;
    t->recent_round[t->recent_pos] = t->round;
    t->recent_pos = (t->recent_pos + 1) % TABLE_RECENT;
}

void table_bucket_summaries(const table *t, uint32_t bits, uint32_t *out)
{
    uint32_t n = 1u << bits, per = TABLE_BUCKETS >> bits;
    for (uint32_t b = 0; b < n; b++) {
        uint64_t h = 0;
        for (uint32_t f = b * per; f < (b + 1) * per; f++)
            h ^= t->bucket_hash[f];
        out[b] = (uint32_t)(h ^ (h >> 32));
    }
}

uint32_t table_bucket_bits_for(uint64_t n)
{
    uint32_t bits = 0;
    while (bits < TABLE_BUCKET_BITS && (8ull << bits) < n)
        bits++;
    return bits;
}
