/*
 * blob_versions.c -- the two payload versions of `gossip-sim blob`.
 *
 * "Nodes hold 90% of the payload" is made real at the chunk level: every
 * node holds an old version, and the new one is the old one with some
 * regions rewritten -- 32 random bytes in the middle of a randomly chosen
 * chunk, which changes that chunk (and, where the edit creates or removes
 * a cut point, a neighbour).  Edits are added until the share of the new
 * version's bytes that lie in chunks the old one also has is at most
 * `have`, measured by cutting and hashing both versions.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/blob_sim.h"
#include "sim/des.h"

#define EDIT_BYTES 32

typedef struct cut {
    size_t off;
    uint32_t len;
    uint8_t hash[BLOB_HASH_BYTES];
} cut;

/* Cuts data into chunks; returns their count, or 0 without memory. */
static uint32_t cut_all(const blob_chunking *ch, const uint8_t *data, size_t len, cut **out)
{
    uint32_t n = 0, cap = 1024;
    cut *v = malloc(cap * sizeof *v);
    for (size_t off = 0; v && off < len; n++) {
        if (n == cap) {
            cut *w = realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                free(v);
                return 0;
            }
            v = w;
            cap *= 2;
        }
        v[n].off = off;
        v[n].len = (uint32_t)blob_chunk_cut(ch, data + off, len - off);
        blob_hash_chunk(data + off, v[n].len, v[n].hash);
        off += v[n].len;
    }
    *out = v;
    return v ? n : 0;
}

static int hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, BLOB_HASH_BYTES);
}

/* Counts cur's chunks (and their bytes) whose hash is in the sorted list. */
static void measure(const blob_chunking *ch, blob_sim_payload *p, const uint8_t *sorted,
                    uint32_t n_sorted)
{
    cut *c = NULL;
    uint32_t n = cut_all(ch, p->cur, p->size, &c);
    p->chunks = n;
    p->chunks_shared = 0;
    p->shared_bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (bsearch(c[i].hash, sorted, n_sorted, BLOB_HASH_BYTES, hash_cmp)) {
            p->chunks_shared++;
            p->shared_bytes += c[i].len;
        }
    }
    p->missing_bytes = p->size - p->shared_bytes;
    free(c);
}

static void fill_random(struct des_rng *rng, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(des_rng_next(rng) >> 56);
}

int blob_sim_make_payload(uint64_t seed, size_t size, double have, const blob_chunking *ch,
                          blob_sim_payload *out)
{
    memset(out, 0, sizeof *out);
    out->size = size;
    out->old = malloc(size);
    out->cur = malloc(size);
    if (!out->old || !out->cur) {
        blob_sim_payload_free(out);
        return -1;
    }
    struct des_rng rng = des_rng_make(seed, 0xb10b);
    fill_random(&rng, out->old, size);
    if (have <= 0.0) {
        fill_random(&rng, out->cur, size);
    } else {
        memcpy(out->cur, out->old, size);
    }

    cut *old_cuts = NULL;
    uint32_t n_old = cut_all(ch, out->old, size, &old_cuts);
    uint8_t *sorted = malloc((size_t)n_old * BLOB_HASH_BYTES + 1);
    uint32_t *order = malloc((size_t)n_old * sizeof *order + 1);
    if (n_old == 0 || !sorted || !order) {
        free(old_cuts);
        free(sorted);
        free(order);
        blob_sim_payload_free(out);
        return -1;
    }
    for (uint32_t i = 0; i < n_old; i++) {
        memcpy(sorted + (size_t)i * BLOB_HASH_BYTES, old_cuts[i].hash, BLOB_HASH_BYTES);
        order[i] = i;
    }
    qsort(sorted, n_old, BLOB_HASH_BYTES, hash_cmp);
    for (uint32_t i = n_old; i > 1; i--) { /* the order in which chunks get edited */
        uint32_t j = (uint32_t)des_rng_below(&rng, i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    measure(ch, out, sorted, n_old);
    uint32_t next = 0;
    double target = have * (double)size;
    while (have > 0.0 && have < 1.0 && (double)out->shared_bytes > target && next < n_old) {
        /* Edit about as many chunks as the excess is worth, at least one. */
        double excess = (double)out->shared_bytes - target;
        uint32_t batch = (uint32_t)(excess / (double)ch->avg_size / 2.0) + 1;
        for (uint32_t b = 0; b < batch && next < n_old; b++, next++) {
            const cut *c = &old_cuts[order[next]];
            size_t at = c->off + (c->len > EDIT_BYTES ? (c->len - EDIT_BYTES) / 2 : 0);
            size_t n = c->len < EDIT_BYTES ? c->len : EDIT_BYTES;
            fill_random(&rng, out->cur + at, n);
        }
        measure(ch, out, sorted, n_old);
    }
    free(old_cuts);
    free(sorted);
    free(order);
    return 0;
}

void blob_sim_payload_free(blob_sim_payload *p)
{
    free(p->old);
    free(p->cur);
    p->old = p->cur = NULL;
}
