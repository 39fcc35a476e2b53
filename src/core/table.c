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
        endpoint_clear(table_ep(t, i), t->alloc);
    for (uint32_t c = 0; c < t->n_chunks; c++)
        ga_free(t->alloc, t->chunks[c]);
    ga_free(t->alloc, t->chunks);
    ga_free(t->alloc, t->index);
    memset(t, 0, sizeof *t);
}

/* Index slots carry the upper half of the name hash, so a probe that meets
 * another name is rejected without touching that endpoint's memory (the
 * lookups of a digest exchange are otherwise one cache miss each). */
#define SLOT_EMPTY UINT64_MAX

static uint32_t slot_of(const table *t, uint64_t h) { return (uint32_t)h & (t->index_cap - 1); }
static uint64_t tag_of(uint64_t h) { return h >> 32 << 32; }

uint32_t table_find(const table *t, const char *name, size_t len)
{
    if (!t->index_cap)
        return TABLE_NONE;
    uint64_t h = gossip_hash_bytes(name, len, 0), tag = tag_of(h);
    for (uint32_t s = slot_of(t, h);; s = (s + 1) & (t->index_cap - 1)) {
        uint64_t slot = t->index[s];
        if (slot == SLOT_EMPTY)
            return TABLE_NONE;
        if ((slot & ~(uint64_t)UINT32_MAX) != tag)
            continue;
        uint32_t i = (uint32_t)slot;
        const endpoint *ep = table_ep(t, i);
        if (ep->name_len == len && memcmp(ep_name(ep), name, len) == 0)
            return i;
    }
}

static void index_insert(table *t, uint32_t idx)
{
    const endpoint *ep = table_ep(t, idx);
    uint64_t h = gossip_hash_bytes(ep_name(ep), ep->name_len, 0);
    uint32_t s = slot_of(t, h);
    while (t->index[s] != SLOT_EMPTY)
        s = (s + 1) & (t->index_cap - 1);
    t->index[s] = tag_of(h) | idx;
}

/* Keeps the index at most 3/4 full. */
static int grow_index(table *t, uint32_t want)
{
    uint32_t icap = t->index_cap ? t->index_cap : 32;
    while ((uint64_t)icap * 3 < (uint64_t)want * 4)
        icap *= 2;
    if (icap == t->index_cap)
        return 0;
    uint64_t *index = ga_malloc(t->alloc, (size_t)icap * sizeof *index);
    if (!index)
        return GOSSIP_ERR_NOMEM;
    memset(index, 0xff, (size_t)icap * sizeof *index);
    ga_free(t->alloc, t->index);
    t->index = index;
    t->index_cap = icap;
    for (uint32_t i = 0; i < t->n; i++)
        index_insert(t, i);
    return 0;
}

static int add_chunk(table *t)
{
    endpoint **chunks = ga_realloc(t->alloc, t->chunks, (t->n_chunks + 1) * sizeof *chunks);
    if (!chunks)
        return GOSSIP_ERR_NOMEM;
    t->chunks = chunks;
    endpoint *chunk = ga_malloc(t->alloc, TABLE_CHUNK * sizeof *chunk);
    if (!chunk)
        return GOSSIP_ERR_NOMEM;
    t->chunks[t->n_chunks++] = chunk;
    return 0;
}

int table_add(table *t, const char *name, size_t len, uint64_t generation, uint32_t *idx)
{
    if (t->n >= t->max)
        return GOSSIP_ERR_FULL;
    int rc;
    if (t->n == t->n_chunks * TABLE_CHUNK && (rc = add_chunk(t)))
        return rc;
    if ((rc = grow_index(t, t->n + 1)))
        return rc;
    endpoint *ep = table_ep(t, t->n);
    if ((rc = endpoint_init(ep, t->alloc, name, len, generation)))
        return rc;
    ep->bucket = (uint8_t)table_bucket_of(gossip_hash_bytes(name, len, 0), TABLE_BUCKET_BITS);
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
    const endpoint *ep = table_ep(t, idx);
    t->hash ^= ep->digest;
    t->bucket_hash[ep->bucket] ^= ep->digest;
}

void table_changed(table *t, uint32_t idx)
{
    endpoint *ep = table_ep(t, idx);
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

/* Removes index slot `s` and closes the gap (backward-shift deletion), so
 * linear probing needs no tombstones. */
static void index_delete_slot(table *t, uint32_t s)
{
    uint32_t mask = t->index_cap - 1;
    for (uint32_t next = (s + 1) & mask;; next = (next + 1) & mask) {
        uint64_t slot = t->index[next];
        if (slot == SLOT_EMPTY)
            break;
        const endpoint *ep = table_ep(t, (uint32_t)slot);
        uint32_t home = slot_of(t, gossip_hash_bytes(ep_name(ep), ep->name_len, 0));
        /* move `next` back into the hole unless its home lies in (s, next] */
        bool stays = s <= next ? (home > s && home <= next) : (home > s || home <= next);
        if (!stays) {
            t->index[s] = slot;
            s = next;
        }
    }
    t->index[s] = SLOT_EMPTY;
}

static uint32_t index_slot_of(const table *t, uint32_t idx)
{
    const endpoint *ep = table_ep(t, idx);
    uint32_t s = slot_of(t, gossip_hash_bytes(ep_name(ep), ep->name_len, 0));
    while ((uint32_t)t->index[s] != idx)
        s = (s + 1) & (t->index_cap - 1);
    return s;
}

/* Points whatever referred to endpoint `from` in the bucket list at `to`. */
static void bucket_relink(table *t, uint32_t bucket, uint32_t from, uint32_t to)
{
    if (t->bucket_head[bucket] == from) {
        t->bucket_head[bucket] = to;
        return;
    }
    for (uint32_t i = t->bucket_head[bucket]; i != TABLE_NONE; i = table_ep(t, i)->bucket_next)
        if (table_ep(t, i)->bucket_next == from) {
            table_ep(t, i)->bucket_next = to;
            return;
        }
}

uint32_t table_remove(table *t, uint32_t idx)
{
    endpoint *ep = table_ep(t, idx);
    uint32_t last = t->n - 1;
    /* out of the hashes, the bucket list, the index and the recent ring */
    t->hash ^= ep->digest;
    t->bucket_hash[ep->bucket] ^= ep->digest;
    t->bucket_size[ep->bucket]--;
    bucket_relink(t, ep->bucket, idx, ep->bucket_next);
    index_delete_slot(t, index_slot_of(t, idx));
    for (uint32_t i = 0; i < TABLE_RECENT; i++)
        if (t->recent[i] == idx)
            t->recent_seq[i] = 0; /* matches no change_seq: skipped */
    endpoint_clear(ep, t->alloc);
    if (idx != last) {
        /* the last endpoint moves into the hole */
        endpoint *moved = table_ep(t, last);
        uint32_t s = index_slot_of(t, last);
        t->index[s] = (t->index[s] & ~(uint64_t)UINT32_MAX) | idx;
        bucket_relink(t, moved->bucket, last, idx);
        for (uint32_t i = 0; i < TABLE_RECENT; i++)
            if (t->recent[i] == last)
                t->recent[i] = idx;
        *ep = *moved;
        if (moved->kvs == &moved->one)
            ep->kvs = &ep->one;
        memset(moved, 0, sizeof *moved);
    }
    t->n--;
    return last;
}
