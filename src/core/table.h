/*
 * table.h -- the endpoint table of one node.
 *
 * An array of endpoints with an open-addressing index by name, plus the
 * summaries the digest exchange compares: the table hash (XOR of every
 * endpoint's digest hash, updated in O(1) per change) and TABLE_BUCKETS
 * bucket hashes (the same XOR over the endpoints whose name hash falls in
 * the bucket), and a ring of recently changed endpoints.
 */
#ifndef GOSSIP_CORE_TABLE_H
#define GOSSIP_CORE_TABLE_H

#include <stdint.h>

#include "core/state.h"
#include "wire/wire.h"

#define TABLE_BUCKET_BITS WIRE_MAX_BUCKET_BITS
#define TABLE_BUCKETS (1u << TABLE_BUCKET_BITS)
#define TABLE_RECENT 64 /* ring of recent changes */
#define TABLE_NONE UINT32_MAX
/* Endpoints live in fixed chunks, so they never move (an endpoint may point
 * into itself, and callers may hold pointers across table growth) and cost
 * no allocator header each. */
#define TABLE_CHUNK_BITS 8
#define TABLE_CHUNK (1u << TABLE_CHUNK_BITS)

typedef struct table {
    const gossip_allocator *alloc;
    endpoint **chunks;              /* TABLE_CHUNK endpoints each; never move */
    uint32_t n_chunks;
    uint32_t n;
    uint32_t max;                   /* configured bound */
    uint64_t *index;                /* slot: hash tag << 32 | endpoint index */
    uint32_t index_cap;             /* power of two, >= 4/3 * n */
    uint64_t hash;                  /* XOR of all digests */
    uint64_t bucket_hash[TABLE_BUCKETS];
    uint32_t bucket_head[TABLE_BUCKETS];
    uint32_t bucket_size[TABLE_BUCKETS];
    uint32_t change_seq;            /* bumped on every change (wraps) */
    uint32_t recent[TABLE_RECENT];  /* endpoint indices, newest at recent_pos-1 */
    uint32_t recent_seq[TABLE_RECENT];
    uint64_t recent_round[TABLE_RECENT]; /* gossip round of the change */
    uint64_t round;                 /* the owner's current gossip round */
    uint32_t recent_pos;
} table;

int table_init(table *t, const gossip_allocator *a, uint32_t max);
void table_free(table *t);

static inline endpoint *table_ep(const table *t, uint32_t idx)
{
    return &t->chunks[idx >> TABLE_CHUNK_BITS][idx & (TABLE_CHUNK - 1)];
}

uint32_t table_find(const table *t, const char *name, size_t len);
/* Adds an empty endpoint; returns its index via *idx. */
int table_add(table *t, const char *name, size_t len, uint64_t generation, uint32_t *idx);

/* Forgets endpoint `idx`: the last endpoint moves into its place.  Returns
 * the index that moved (the old last), so callers can fix references. */
uint32_t table_remove(table *t, uint32_t idx);

/* Call before changing endpoint `idx`, and table_changed() after: they keep
 * the table and bucket hashes and the recent ring up to date. */
void table_before_change(table *t, uint32_t idx);
void table_changed(table *t, uint32_t idx);

/* Bucket of a name hash at `bits` of resolution (0..TABLE_BUCKET_BITS). */
static inline uint32_t table_bucket_of(uint64_t name_hash, uint32_t bits)
{
    return bits ? (uint32_t)(name_hash >> (64 - bits)) : 0;
}
/* The 32-bit summaries of the 2^bits buckets. */
void table_bucket_summaries(const table *t, uint32_t bits, uint32_t *out);
/* Bits of bucket resolution suited to a table of `n` members: about
 * eight members a bucket, at most TABLE_BUCKET_BITS. */
uint32_t table_bucket_bits_for(uint64_t n);

#endif
