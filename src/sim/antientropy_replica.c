/*
 * antientropy_replica.c -- the simulator's in-memory last-writer-wins
 * replica (antientropy.h): entries in one array, keys and values in one
 * arena, a chained hash index by key hash, and the recon_index the sessions
 * read.  Every change is journalled while a mark is set, so rollback
 * restores the replica -- index included -- in O(changes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/antientropy.h"

#define NIL UINT32_MAX

int ae_replica_init(ae_replica *r, uint32_t expected, unsigned leaf_bits, uint32_t split)
{
    memset(r, 0, sizeof *r);
    uint32_t heads = 1024;
    while (heads < expected && heads < (1u << 30))
        heads *= 2;
    r->heads = malloc((size_t)heads * sizeof *r->heads);
    if (r->heads == NULL)
        return GOSSIP_ERR_NOMEM;
    memset(r->heads, 0xff, (size_t)heads * sizeof *r->heads);
    r->mask = heads - 1;
    int rc = recon_index_init(&r->index, NULL, leaf_bits, split);
    if (rc != 0) {
        free(r->heads);
        r->heads = NULL;
    }
    return rc;
}

void ae_replica_free(ae_replica *r)
{
    recon_index_free(&r->index);
    free(r->e);
    free(r->arena);
    free(r->heads);
    free(r->undo);
    memset(r, 0, sizeof *r);
}

static int grow_heads(ae_replica *r)
{
    uint32_t heads = (r->mask + 1) * 2;
    uint32_t *h = malloc((size_t)heads * sizeof *h);
    if (h == NULL)
        return GOSSIP_ERR_NOMEM;
    memset(h, 0xff, (size_t)heads * sizeof *h);
    /* Re-chain in index order so each chain stays newest first, which
     * rollback relies on. */
    for (uint32_t i = 0; i < r->n; i++) {
        uint32_t b = (uint32_t)r->e[i].khash & (heads - 1);
        r->e[i].next = h[b];
        h[b] = i;
    }
    free(r->heads);
    r->heads = h;
    r->mask = heads - 1;
    return 0;
}

static uint64_t arena_add(ae_replica *r, const void *p, size_t n)
{
    if (r->used + n > r->arena_cap) {
        size_t cap = r->arena_cap ? r->arena_cap : 1 << 20;
        while (cap < r->used + n)
            cap *= 2;
        uint8_t *a = realloc(r->arena, cap);
        if (a == NULL)
            return UINT64_MAX;
        r->arena = a;
        r->arena_cap = cap;
    }
    uint64_t off = r->used;
    if (n)
        memcpy(r->arena + off, p, n);
    r->used += n;
    return off;
}

static int journal(ae_replica *r, uint32_t idx, bool inserted)
{
    if (!r->journaling)
        return 0;
    if (r->n_undo == r->cap_undo) {
        size_t cap = r->cap_undo ? r->cap_undo * 2 : 256;
        ae_undo *u = realloc(r->undo, cap * sizeof *u);
        if (u == NULL)
            return GOSSIP_ERR_NOMEM;
        r->undo = u;
        r->cap_undo = cap;
    }
    r->undo[r->n_undo++] = (ae_undo){idx, inserted, r->e[idx]};
    return 0;
}

static uint32_t lookup(const ae_replica *r, uint64_t khash, const void *key, uint32_t len)
{
    for (uint32_t i = r->heads[khash & r->mask]; i != NIL; i = r->e[i].next) {
        const ae_entry *x = &r->e[i];
        if (x->khash == khash && x->key_len == len && memcmp(r->arena + x->key_off, key, len) == 0)
            return i;
    }
    return NIL;
}

const ae_entry *ae_replica_find(const ae_replica *r, const void *key, uint32_t key_len)
{
    uint32_t i = lookup(r, recon_key_hash(key, key_len), key, key_len);
    return i == NIL ? NULL : &r->e[i];
}

void ae_replica_view(const ae_replica *r, const ae_entry *x, recon_entry *out)
{
    *out = (recon_entry){r->arena + x->key_off, x->key_len, r->arena + x->val_off, x->val_len,
                         x->version, x->tombstone};
}

int ae_replica_put(ae_replica *r, const recon_entry *e)
{
    uint64_t khash = recon_key_hash(e->key, e->key_len);
    uint32_t i = lookup(r, khash, e->key, e->key_len);
    if (i != NIL && recon_version_cmp(e->version, r->e[i].version) <= 0)
        return 0;
    uint64_t val = arena_add(r, e->value, e->value_len);
    if (val == UINT64_MAX)
        return GOSSIP_ERR_NOMEM;
    if (i != NIL) {
        ae_entry *x = &r->e[i];
        int rc = journal(r, i, false);
        if (rc != 0)
            return rc;
        rc = recon_index_update(&r->index, khash, x->version, e->version);
        if (rc != 0) {
            if (r->journaling)
                r->n_undo--;
            return rc;
        }
        x->version = e->version;
        x->val_off = val;
        x->val_len = e->value_len;
        x->tombstone = e->tombstone;
        return 1;
    }
    uint64_t key = arena_add(r, e->key, e->key_len);
    if (key == UINT64_MAX)
        return GOSSIP_ERR_NOMEM;
    if (r->n == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 1024;
        ae_entry *p = realloc(r->e, (size_t)cap * sizeof *p);
        if (p == NULL)
            return GOSSIP_ERR_NOMEM;
        r->e = p;
        r->cap = cap;
    }
    if (r->n > r->mask && grow_heads(r) != 0)
        return GOSSIP_ERR_NOMEM;
    int rc = recon_index_insert(&r->index, khash, e->version);
    if (rc != 0)
        return rc;
    i = r->n++;
    uint32_t b = (uint32_t)khash & r->mask;
    r->e[i] = (ae_entry){khash, e->version, key, val, e->key_len, e->value_len, r->heads[b],
                         e->tombstone};
    r->heads[b] = i;
    return journal(r, i, true) == 0 ? 1 : GOSSIP_ERR_NOMEM;
}

/* ---- what sessions see ------------------------------------------------------ */

static int store_read(void *ud, uint64_t khash, recon_version v, recon_entry *out)
{
    const ae_replica *r = ud;
    for (uint32_t i = r->heads[khash & r->mask]; i != NIL; i = r->e[i].next) {
        if (r->e[i].khash == khash && recon_version_eq(r->e[i].version, v)) {
            ae_replica_view(r, &r->e[i], out);
            return 0;
        }
    }
    return GOSSIP_ERR_NOT_FOUND;
}

static int store_apply(void *ud, const recon_entry *e)
{
    int rc = ae_replica_put(ud, e);
    return rc < 0 ? rc : 0;
}

recon_store ae_replica_store(ae_replica *r)
{
    return (recon_store){&r->index, store_read, store_apply, r};
}

/* ---- undo ------------------------------------------------------------------- */

void ae_replica_mark(ae_replica *r)
{
    r->journaling = true;
    r->n_undo = 0;
    r->mark_used = r->used;
}

void ae_replica_rollback(ae_replica *r)
{
    while (r->n_undo > 0) {
        const ae_undo *u = &r->undo[--r->n_undo];
        ae_entry *x = &r->e[u->idx];
        if (u->inserted) {
            /* The newest entry, so the head of its chain. */
            recon_index_remove(&r->index, x->khash, x->version);
            r->heads[x->khash & r->mask] = x->next;
            r->n--;
        } else {
            recon_index_update(&r->index, x->khash, x->version, u->old.version);
            *x = u->old;
        }
    }
    r->used = r->mark_used;
    r->journaling = false;
}

const char *ae_replica_compare(const ae_replica *a, const ae_replica *b, char *buf, size_t len)
{
    if (a->n != b->n) {
        snprintf(buf, len, "%u entries against %u", a->n, b->n);
        return buf;
    }
    for (uint32_t i = 0; i < a->n; i++) {
        const ae_entry *x = &a->e[i];
        const ae_entry *y = ae_replica_find(b, a->arena + x->key_off, x->key_len);
        const char *what = NULL;
        if (y == NULL)
            what = "missing";
        else if (!recon_version_eq(x->version, y->version))
            what = "at another version";
        else if (x->tombstone != y->tombstone || x->val_len != y->val_len ||
                 memcmp(a->arena + x->val_off, b->arena + y->val_off, x->val_len) != 0)
            what = "with another value";
        if (what != NULL) {
            snprintf(buf, len, "key '%.*s' %s on the second replica", (int)x->key_len,
                     (const char *)(a->arena + x->key_off), what);
            return buf;
        }
    }
    if (merkle_root(&a->index.tree) != merkle_root(&b->index.tree) ||
        memcmp(a->index.sketch, b->index.sketch, sizeof a->index.sketch) != 0) {
        snprintf(buf, len, "same entries but different indexes");
        return buf;
    }
    return NULL;
}
