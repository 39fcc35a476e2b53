/*
 * iblt.c -- rateless IBLT coding, peeling and the difference estimator
 * (iblt.h).  Written from the papers' descriptions; the key-folded symbol
 * fields (T, W, R, X) and their decoding are this project's own.
 */
#include "core/iblt.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/rng.h"

#define P RECON_P61
#define WALK_SEED UINT64_C(0x726174656c657373) /* "rateless" */
#define R_SEED UINT64_C(0x495342544c542d72)
#define SKETCH_SEED UINT64_C(0x746f672d6f662d77)

/* ---- GF(2^61 - 1) ------------------------------------------------------ */

static uint64_t mod_add(uint64_t a, uint64_t b)
{
    uint64_t s = a + b; /* < 2^62: no overflow */
    return s >= P ? s - P : s;
}

static uint64_t mod_sub(uint64_t a, uint64_t b) { return a >= b ? a - b : a + P - b; }

static uint64_t mod_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 t = (unsigned __int128)a * b;
    uint64_t s = (uint64_t)(t & P) + (uint64_t)(t >> 61);
    return s >= P ? s - P : s;
}

static uint64_t mod_inv(uint64_t a) /* a != 0: a^(p-2) */
{
    uint64_t result = 1, base = a, e = P - 2;
    while (e) {
        if (e & 1)
            result = mod_mul(result, base);
        base = mod_mul(base, base);
        e >>= 1;
    }
    return result;
}

/* ---- items and symbols -------------------------------------------------- */

static uint64_t r_value(uint64_t khash, recon_version v)
{
    uint64_t r = gossip_hash_mix(recon_digest(khash, v) ^ R_SEED) % P;
    return r == 0 ? 1 : r;
}

void iblt_item(uint64_t khash, recon_version v, iblt_sym *out)
{
    out->ts = v.ts;
    out->writer = v.writer;
    out->r = r_value(khash, v);
    out->x = mod_mul(khash, out->r);
}

void iblt_sym_add(iblt_sym *a, const iblt_sym *b)
{
    a->ts += b->ts;
    a->writer += b->writer;
    a->r = mod_add(a->r, b->r);
    a->x = mod_add(a->x, b->x);
}

void iblt_sym_sub(iblt_sym *a, const iblt_sym *b)
{
    a->ts -= b->ts;
    a->writer -= b->writer;
    a->r = mod_sub(a->r, b->r);
    a->x = mod_sub(a->x, b->x);
}

bool iblt_sym_is_zero(const iblt_sym *s)
{
    return (s->ts | s->writer | s->r | s->x) == 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void iblt_sym_write(uint8_t out[IBLT_SYMBOL_BYTES], const iblt_sym *s)
{
    put_le64(out, s->ts);
    put_le64(out + 8, s->writer);
    put_le64(out + 16, s->r);
    put_le64(out + 24, s->x);
}

int iblt_sym_read(const uint8_t in[IBLT_SYMBOL_BYTES], iblt_sym *s)
{
    s->ts = get_le64(in);
    s->writer = get_le64(in + 8);
    s->r = get_le64(in + 16);
    s->x = get_le64(in + 24);
    return s->r < P && s->x < P ? 0 : GOSSIP_ERR_MALFORMED;
}

/* ---- the index sequence ------------------------------------------------- */

void iblt_walk_start(iblt_walk *w, uint64_t khash)
{
    w->index = 0;
    w->state = khash ^ WALK_SEED;
}

/* From index i the next index t is the smallest t > i with
 *     (t + 1)(t + 2) * u > (i + 1)(i + 2),    u uniform in (0, 1],
 * because P(no index in (i, t]) = prod_{s=i+1..t} (1 - 2/(s+2))
 *                               = (i+1)(i+2) / ((t+1)(t+2)).
 * u = U / 2^32 with U in [1, 2^32].  A double square root gives a guess; the
 * exact 128-bit comparisons settle it, so every replica on every platform
 * walks the same indices. */
void iblt_walk_next(iblt_walk *w)
{
    uint64_t i = w->index;
    if (i >= IBLT_INDEX_LIMIT) {
        w->index = UINT64_MAX;
        return;
    }
    uint64_t u = (gossip_splitmix64(&w->state) >> 32) + 1;
    unsigned __int128 rhs = ((unsigned __int128)(i + 1) * (i + 2)) << 32;
    double q = (double)(i + 1) * (double)(i + 2) * 4294967296.0 / (double)u;
    double guess = sqrt(q + 0.25) - 1.5;
    if (!(guess < 4.0 * (double)IBLT_INDEX_LIMIT)) {
        w->index = UINT64_MAX;
        return;
    }
    uint64_t t = guess < (double)(i + 1) ? i + 1 : (uint64_t)guess;
    while (t > i + 1 && (unsigned __int128)t * (t + 1) * u > rhs)
        t--;
    while ((unsigned __int128)(t + 1) * (t + 2) * u <= rhs)
        t++;
    w->index = t;
}

void iblt_encode(iblt_sym *syms, uint64_t from, uint64_t to, uint64_t khash,
                 const iblt_sym *item, int sign)
{
    iblt_walk w;
    for (iblt_walk_start(&w, khash); w.index < to; iblt_walk_next(&w)) {
        if (w.index < from)
            continue;
        if (sign > 0)
            iblt_sym_add(&syms[w.index - from], item);
        else
            iblt_sym_sub(&syms[w.index - from], item);
    }
}

/* ---- decoding ----------------------------------------------------------- */

int iblt_decoder_init(iblt_decoder *d, const gossip_allocator *a, iblt_find_fn find,
                      const void *find_ud)
{
    memset(d, 0, sizeof *d);
    d->alloc = a != NULL ? a : gossip_default_allocator();
    d->find = find;
    d->find_ud = find_ud;
    return 0;
}

void iblt_decoder_free(iblt_decoder *d)
{
    ga_free(d->alloc, d->sym);
    ga_free(d->alloc, d->raw_zero);
    ga_free(d->alloc, d->items);
    ga_free(d->alloc, d->contrib);
    ga_free(d->alloc, d->seen);
    ga_free(d->alloc, d->queue);
    memset(d, 0, sizeof *d);
}

static int grow(const gossip_allocator *a, void **p, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap)
        return 0;
    size_t c = *cap < 16 ? 16 : *cap;
    while (c < want)
        c *= 2;
    void *q = ga_realloc(a, *p, c * size);
    if (q == NULL)
        return GOSSIP_ERR_NOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int push(iblt_decoder *d, uint64_t index)
{
    if (grow(d->alloc, (void **)&d->queue, &d->cap_queue, d->n_queue + 1, sizeof *d->queue))
        return GOSSIP_ERR_NOMEM;
    d->queue[d->n_queue++] = index;
    return 0;
}

static bool seen_has(const iblt_decoder *d, uint64_t khash)
{
    if (d->seen_cap == 0)
        return false;
    size_t mask = d->seen_cap - 1;
    for (size_t i = gossip_hash_mix(khash) & mask;; i = (i + 1) & mask) {
        if (d->seen[i] == 0)
            return false;
        if (d->seen[i] == khash + 1)
            return true;
    }
}

static int seen_add(iblt_decoder *d, uint64_t khash)
{
    if ((d->n_items + 1) * 2 > d->seen_cap) {
        size_t cap = d->seen_cap ? d->seen_cap * 2 : 64;
        uint64_t *s = ga_malloc(d->alloc, cap * sizeof *s);
        if (s == NULL)
            return GOSSIP_ERR_NOMEM;
        memset(s, 0, cap * sizeof *s);
        for (size_t j = 0; j < d->seen_cap; j++) {
            if (d->seen[j] == 0)
                continue;
            size_t i = gossip_hash_mix(d->seen[j] - 1) & (cap - 1);
            while (s[i] != 0)
                i = (i + 1) & (cap - 1);
            s[i] = d->seen[j];
        }
        ga_free(d->alloc, d->seen);
        d->seen = s;
        d->seen_cap = cap;
    }
    size_t mask = d->seen_cap - 1;
    size_t i = gossip_hash_mix(khash) & mask;
    while (d->seen[i] != 0)
        i = (i + 1) & mask;
    d->seen[i] = khash + 1;
    return 0;
}

/* If symbol s holds exactly one differing key, fills *out with the key and
 * the versions each side holds, and returns true. */
static bool interpret(const iblt_decoder *d, const iblt_sym *s, iblt_diff *out)
{
    if (s->r == 0)
        return false;
    uint64_t k = mod_mul(s->x, mod_inv(s->r));
    recon_version local[4];
    size_t n = d->find(d->find_ud, k, local, 4);
    if (n > 4)
        n = 4;
    for (size_t i = 0; i < n; i++) {
        recon_version v1 = local[i];
        uint64_t r1 = r_value(k, v1);
        if (s->ts == v1.ts && s->writer == v1.writer) {
            if (s->r == r1) {
                *out = (iblt_diff){.khash = k, .local = true, .local_v = v1};
                return true;
            }
            continue;
        }
        recon_version v2 = {v1.ts - s->ts, v1.writer - s->writer};
        if (s->r == mod_sub(r1, r_value(k, v2))) {
            *out = (iblt_diff){.khash = k, .local = true, .remote = true, .local_v = v1,
                               .remote_v = v2};
            return true;
        }
    }
    recon_version v2 = {0 - s->ts, 0 - s->writer};
    if (s->r == mod_sub(0, r_value(k, v2))) {
        *out = (iblt_diff){.khash = k, .remote = true, .remote_v = v2};
        return true;
    }
    return false;
}

static bool maps_to(uint64_t khash, uint64_t index)
{
    iblt_walk w;
    for (iblt_walk_start(&w, khash); w.index < index; iblt_walk_next(&w))
        ;
    return w.index == index;
}

static void set_sym(iblt_decoder *d, uint64_t i, const iblt_sym *v)
{
    bool was = !iblt_sym_is_zero(&d->sym[i]);
    d->sym[i] = *v;
    bool is = !iblt_sym_is_zero(&d->sym[i]);
    d->nonzero += (uint64_t)is - (uint64_t)was;
}

/* Removes contribution c of key khash from symbols [from, d->n), queueing
 * the ones it touched. */
static int remove_item(iblt_decoder *d, uint64_t khash, const iblt_sym *c, uint64_t from)
{
    iblt_walk w;
    for (iblt_walk_start(&w, khash); w.index < d->n; iblt_walk_next(&w)) {
        if (w.index < from)
            continue;
        iblt_sym v = d->sym[w.index];
        iblt_sym_sub(&v, c);
        set_sym(d, w.index, &v);
        if (push(d, w.index) != 0)
            return GOSSIP_ERR_NOMEM;
    }
    return 0;
}

static int peel(iblt_decoder *d)
{
    while (d->n_queue > 0 && !d->corrupt) {
        uint64_t i = d->queue[--d->n_queue];
        if (iblt_sym_is_zero(&d->sym[i]))
            continue;
        iblt_diff item;
        if (!interpret(d, &d->sym[i], &item) || !maps_to(item.khash, i))
            continue;
        if (seen_has(d, item.khash)) {
            d->corrupt = true;
            break;
        }
        if (grow(d->alloc, (void **)&d->items, &d->cap_items, d->n_items + 1, sizeof *d->items))
            return GOSSIP_ERR_NOMEM;
        size_t cap = d->cap_items;
        void *c = ga_realloc(d->alloc, d->contrib, cap * sizeof *d->contrib);
        if (c == NULL)
            return GOSSIP_ERR_NOMEM;
        d->contrib = c;
        if (seen_add(d, item.khash) != 0)
            return GOSSIP_ERR_NOMEM;
        iblt_sym contrib = d->sym[i];
        d->items[d->n_items] = item;
        d->contrib[d->n_items] = contrib;
        d->n_items++;
        if (remove_item(d, item.khash, &contrib, 0) != 0)
            return GOSSIP_ERR_NOMEM;
    }
    return 0;
}

int iblt_decoder_add(iblt_decoder *d, const iblt_sym *diff, uint64_t count)
{
    if (count > IBLT_INDEX_LIMIT - d->n)
        return GOSSIP_ERR_TOO_MANY;
    size_t cap = (size_t)d->cap, zcap = (size_t)d->cap;
    if (grow(d->alloc, (void **)&d->sym, &cap, (size_t)(d->n + count), sizeof *d->sym) ||
        grow(d->alloc, (void **)&d->raw_zero, &zcap, cap, 1))
        return GOSSIP_ERR_NOMEM;
    d->cap = cap;
    uint64_t from = d->n;
    for (uint64_t j = 0; j < count; j++) {
        d->sym[from + j] = (iblt_sym){0};
        set_sym(d, from + j, &diff[j]);
        d->raw_zero[from + j] = iblt_sym_is_zero(&diff[j]);
    }
    d->n += count;
    for (size_t k = 0; k < d->n_items; k++)
        if (remove_item(d, d->items[k].khash, &d->contrib[k], from) != 0)
            return GOSSIP_ERR_NOMEM;
    for (uint64_t j = from; j < d->n; j++)
        if (push(d, j) != 0)
            return GOSSIP_ERR_NOMEM;
    return peel(d);
}

double iblt_decoder_estimate(const iblt_decoder *d)
{
    uint64_t lo = d->n / 2, span = d->n - lo;
    if (span == 0)
        return 0;
    uint64_t step = span > 4096 ? span / 4096 : 1; /* at most ~4096 samples */
    double zeros = 0, samples = 0;
    for (uint64_t i = lo; i < d->n; i += step, samples++)
        zeros += d->raw_zero[i];
    if (zeros == samples)
        return 0;
    if (zeros == 0)
        return 2.0 * (double)d->n;
    double z = zeros / samples, a = 0, b = 2.0 * (double)d->n;
    for (int it = 0; it < 40; it++) {
        double mid = (a + b) / 2, mean = 0;
        for (uint64_t i = lo; i < d->n; i += step)
            mean += pow(1.0 - 2.0 / (double)(i + 2), mid);
        if (mean / samples > z)
            a = mid;
        else
            b = mid;
    }
    return (a + b) / 2;
}

/* ---- estimator ----------------------------------------------------------- */

void iblt_sketch_add(uint16_t cells[IBLT_SKETCH_CELLS], uint64_t khash, recon_version v,
                     int sign)
{
    if ((gossip_hash_mix(recon_digest(khash, v) ^ SKETCH_SEED) & 1) == 0)
        return; /* g = 0 */
    uint64_t h = gossip_hash_mix(khash ^ SKETCH_SEED);
    unsigned cell = (unsigned)(h % IBLT_SKETCH_CELLS);
    int s = (h >> 32) & 1 ? -1 : 1;
    cells[cell] = (uint16_t)(cells[cell] + (unsigned)(s * sign));
}

double iblt_sketch_estimate(const uint16_t a[IBLT_SKETCH_CELLS],
                            const uint16_t b[IBLT_SKETCH_CELLS])
{
    double sum = 0;
    for (unsigned i = 0; i < IBLT_SKETCH_CELLS; i++) {
        int16_t diff = (int16_t)(uint16_t)(a[i] - b[i]);
        sum += (double)diff * diff;
    }
    return 2.0 * sum;
}
