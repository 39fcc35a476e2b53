/*
 * blob_store.c -- the chunk store (blob_store.h).
 */
#include "core/blob_store.h"

#include <string.h>

#include "core/alloc.h"

/* The first 8 bytes of a BLAKE2b hash are as good as any hash of it. */
static uint32_t home(const blob_store *s, const uint8_t hash[BLOB_HASH_BYTES])
{
    uint64_t h;
    memcpy(&h, hash, sizeof h);
    return (uint32_t)(h ^ h >> 32) & (s->cap - 1);
}

void blob_store_init(blob_store *s, const gossip_allocator *a)
{
    memset(s, 0, sizeof *s);
    s->alloc = a;
}

static void chunk_free(blob_store *s, blob_chunk *c)
{
    if (!c->borrowed)
        ga_free(s->alloc, (void *)c->data);
    ga_free(s->alloc, c);
}

void blob_store_free(blob_store *s)
{
    for (uint32_t i = 0; i < s->cap; i++) {
        if (s->slots[i])
            chunk_free(s, s->slots[i]);
    }
    ga_free(s->alloc, s->slots);
    memset(s, 0, sizeof *s);
}

blob_chunk *blob_store_find(const blob_store *s, const uint8_t hash[BLOB_HASH_BYTES])
{
    if (s->cap == 0)
        return NULL;
    for (uint32_t i = home(s, hash);; i = (i + 1) & (s->cap - 1)) {
        blob_chunk *c = s->slots[i];
        if (!c)
            return NULL;
        if (memcmp(c->hash, hash, BLOB_HASH_BYTES) == 0)
            return c;
    }
}

static void place(blob_store *s, blob_chunk *c)
{
    uint32_t i = home(s, c->hash);
    while (s->slots[i])
        i = (i + 1) & (s->cap - 1);
    s->slots[i] = c;
}

static int grow(blob_store *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : 64;
    if (cap < s->cap)
        return GOSSIP_ERR_NOMEM;
    blob_chunk **slots = ga_malloc(s->alloc, (size_t)cap * sizeof *slots);
    if (!slots)
        return GOSSIP_ERR_NOMEM;
    memset(slots, 0, (size_t)cap * sizeof *slots);
    blob_chunk **old = s->slots;
    uint32_t old_cap = s->cap;
    s->slots = slots;
    s->cap = cap;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old[i])
            place(s, old[i]);
    }
    ga_free(s->alloc, old);
    return 0;
}

blob_chunk *blob_store_ref(blob_store *s, const uint8_t hash[BLOB_HASH_BYTES],
                           const uint8_t *data, uint32_t len, bool borrow)
{
    blob_chunk *c = blob_store_find(s, hash);
    if (c) {
        c->refs++;
        return c;
    }
    if ((uint64_t)(s->count + 1) * 2 > s->cap && grow(s) != 0)
        return NULL;
    c = ga_malloc(s->alloc, sizeof *c);
    if (!c)
        return NULL;
    memcpy(c->hash, hash, BLOB_HASH_BYTES);
    c->len = len;
    c->refs = 1;
    c->borrowed = borrow;
    if (borrow) {
        c->data = data;
    } else {
        uint8_t *copy = ga_malloc(s->alloc, len ? len : 1);
        if (!copy) {
            ga_free(s->alloc, c);
            return NULL;
        }
        memcpy(copy, data, len);
        c->data = copy;
    }
    place(s, c);
    s->count++;
    s->bytes += len;
    return c;
}

void blob_store_unref(blob_store *s, blob_chunk *c)
{
    if (!c || --c->refs > 0)
        return;
    uint32_t mask = s->cap - 1, i = home(s, c->hash);
    while (s->slots[i] != c)
        i = (i + 1) & mask;
    /* Backward-shift deletion: pull later members of the cluster into the
     * hole when their home does not lie cyclically in (hole, j]. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
        uint32_t h = home(s, s->slots[j]->hash);
        bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (!stays) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole] = NULL;
    s->count--;
    s->bytes -= c->len;
    chunk_free(s, c);
}
