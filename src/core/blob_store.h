/*
 * blob_store.h -- the chunk store: every chunk a node holds, once, keyed by
 * its BLAKE2b-256 hash and reference-counted by the payloads (and fetches)
 * that use it.  Because the key is the hash of the bytes, a chunk in the
 * store is always what its name says; whether it belongs in a payload is
 * the fetch's question, not the store's.
 *
 * Open addressing with linear probing over a power-of-two table, deletion
 * by backward shift; the table stays at most half full.
 */
#ifndef GOSSIP_CORE_BLOB_STORE_H
#define GOSSIP_CORE_BLOB_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/blob.h"

typedef struct blob_chunk {
    uint8_t hash[BLOB_HASH_BYTES];
    uint32_t len;
    uint32_t refs;
    const uint8_t *data; /* owned unless borrowed */
    bool borrowed;
} blob_chunk;

typedef struct blob_store {
    const gossip_allocator *alloc;
    blob_chunk **slots;
    uint32_t cap;   /* a power of two, or 0 */
    uint32_t count;
    uint64_t bytes; /* chunk bytes held (borrowed ones included) */
} blob_store;

void blob_store_init(blob_store *s, const gossip_allocator *a);
/* Frees every chunk whatever its references. */
void blob_store_free(blob_store *s);

blob_chunk *blob_store_find(const blob_store *s, const uint8_t hash[BLOB_HASH_BYTES]);

/* Takes a reference on the chunk with `hash`, adding it (a copy of `data`,
 * or `data` itself when `borrow`) if it is new.  `hash` must be the hash of
 * data[0..len).  Returns the chunk or NULL (no memory). */
blob_chunk *blob_store_ref(blob_store *s, const uint8_t hash[BLOB_HASH_BYTES],
                           const uint8_t *data, uint32_t len, bool borrow);

/* Drops a reference; the chunk goes when none is left. */
void blob_store_unref(blob_store *s, blob_chunk *c);

/* Slot i of the table, i < cap: a chunk or NULL (for iteration). */
static inline blob_chunk *blob_store_slot(const blob_store *s, uint32_t i)
{
    return s->slots[i];
}

#endif
