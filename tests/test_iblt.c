/* test_iblt.c -- the rateless IBLT (core/iblt.c) and the IBLT anti-entropy
 * session (core/recon_iblt.c): the index sequence has the designed density,
 * known differences decode exactly, an incomplete or corrupt decode is
 * never reported complete, the estimator is unbiased, sessions retry with
 * more symbols and fall back to Merkle when decoding fails, random
 * differences always end identical at the last-writer-wins winners, and
 * malformed SYMBOLS / MORE messages are refused without changing anything. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"
#include "core/iblt.h"
#include "core/merkle.h"
#include "core/recon.h"
#include "core/recon_wire.h"
#include "core/rng.h"
#include "sim/antientropy.h"

/* ---- coding ---------------------------------------------------------------- */

static void test_walk_density(void **state)
{
    (void)state;
    enum { KEYS = 100000, SPAN = 4096 };
    static uint32_t hits[SPAN];
    memset(hits, 0, sizeof hits);
    for (uint64_t k = 0; k < KEYS; k++) {
        iblt_walk w;
        iblt_walk_start(&w, gossip_hash_mix(k) >> 3);
        assert_int_equal(w.index, 0);
        uint64_t last = 0;
        bool first = true;
        for (; w.index < SPAN; iblt_walk_next(&w)) {
            assert_true(first || w.index > last);
            first = false;
            last = w.index;
            hits[w.index]++;
        }
    }
    assert_int_equal(hits[0], KEYS);
    /* P(index i) = 2 / (i + 2): check sums over bands, within 4 sigma. */
    const uint64_t bands[][2] = {{1, 2}, {2, 8}, {8, 64}, {64, 512}, {512, 4096}};
    for (size_t b = 0; b < 5; b++) {
        double expect = 0, got = 0;
        for (uint64_t i = bands[b][0]; i < bands[b][1]; i++) {
            expect += 2.0 / (double)(i + 2) * KEYS;
            got += hits[i];
        }
        assert_true(fabs(got - expect) < 4 * sqrt(expect) + 1);
    }
}

static void test_symbol_wire(void **state)
{
    (void)state;
    iblt_sym s, t;
    iblt_item(12345, (recon_version){7, 8}, &s);
    uint8_t buf[IBLT_SYMBOL_BYTES];
    iblt_sym_write(buf, &s);
    assert_int_equal(iblt_sym_read(buf, &t), 0);
    assert_memory_equal(&s, &t, sizeof s);
    buf[16 + 7] = 0x20; /* r = 2^61 + ...: not a field element */
    assert_int_equal(iblt_sym_read(buf, &t), GOSSIP_ERR_MALFORMED);
    iblt_sym z = s;
    iblt_sym_sub(&z, &s);
    assert_true(iblt_sym_is_zero(&z));
    iblt_sym_add(&z, &s);
    assert_memory_equal(&z, &s, sizeof s);
}

/* A difference built by hand: local items in a tree, and symbols equal to
 * local minus remote. */
struct diffset {
    merkle_tree local;
    iblt_sym *syms;
    uint64_t cap;
    iblt_diff *truth;
    size_t n;
};

static size_t find_local(const void *ud, uint64_t khash, recon_version *out, size_t max)
{
    return merkle_find(ud, khash, out, max);
}

static void ds_init(struct diffset *d, uint64_t cap, size_t max_truth)
{
    assert_int_equal(merkle_init(&d->local, NULL, 4, 8), 0);
    d->cap = cap;
    d->syms = calloc(cap, sizeof *d->syms);
    d->truth = calloc(max_truth, sizeof *d->truth);
    d->n = 0;
}

static void ds_free(struct diffset *d)
{
    merkle_free(&d->local);
    free(d->syms);
    free(d->truth);
}

static void ds_side(struct diffset *d, uint64_t k, recon_version v, int sign)
{
    iblt_sym item;
    iblt_item(k, v, &item);
    iblt_encode(d->syms, 0, d->cap, k, &item, sign);
    if (sign > 0)
        assert_int_equal(merkle_insert(&d->local, k, v), 0);
}

/* Key k: local version l (if has_l), remote version r (if has_r). */
static void ds_key(struct diffset *d, uint64_t k, bool has_l, recon_version l, bool has_r,
                   recon_version r)
{
    if (has_l)
        ds_side(d, k, l, +1);
    if (has_r)
        ds_side(d, k, r, -1);
    if (has_l && has_r && recon_version_eq(l, r))
        return;
    d->truth[d->n++] = (iblt_diff){k, has_l, has_r, has_l ? l : (recon_version){0, 0},
                                   has_r ? r : (recon_version){0, 0}};
}

static const iblt_diff *truth_of(const struct diffset *d, uint64_t k)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->truth[i].khash == k)
            return &d->truth[i];
    return NULL;
}

/* Every decoded item is a true difference with the right versions. */
static void assert_items_true(const struct diffset *d, const iblt_decoder *dec)
{
    for (size_t i = 0; i < dec->n_items; i++) {
        const iblt_diff *x = &dec->items[i];
        const iblt_diff *t = truth_of(d, x->khash);
        assert_non_null(t);
        assert_int_equal(x->local, t->local);
        assert_int_equal(x->remote, t->remote);
        if (t->local)
            assert_true(recon_version_eq(x->local_v, t->local_v));
        if (t->remote)
            assert_true(recon_version_eq(x->remote_v, t->remote_v));
    }
}

static void test_decode_known_difference(void **state)
{
    (void)state;
    struct diffset d;
    ds_init(&d, 4096, 2000);
    gossip_rng rng;
    gossip_rng_seed(&rng, 3);
    /* 1,000 keys in common, each case of difference. */
    for (int i = 0; i < 1000; i++) {
        recon_version v = {gossip_rng_next(&rng), 1};
        ds_key(&d, gossip_rng_next(&rng) >> 3, true, v, true, v);
    }
    ds_key(&d, 11, true, (recon_version){5, 1}, false, (recon_version){0, 0});
    ds_key(&d, 12, false, (recon_version){0, 0}, true, (recon_version){6, 2});
    ds_key(&d, 13, true, (recon_version){9, 1}, true, (recon_version){8, 1});
    ds_key(&d, 14, true, (recon_version){8, 1}, true, (recon_version){9, 1});
    ds_key(&d, 15, true, (recon_version){8, 3}, true, (recon_version){8, 4}); /* ts tie */
    ds_key(&d, 0, true, (recon_version){UINT64_MAX, UINT64_MAX}, false, (recon_version){0, 0});
    ds_key(&d, RECON_P61 - 1, false, (recon_version){0, 0}, true, (recon_version){0, 0});
    for (int i = 0; i < 300; i++) {
        int kind = i % 3;
        uint64_t k = gossip_rng_next(&rng) >> 3;
        recon_version a = {gossip_rng_next(&rng), 1}, b = {gossip_rng_next(&rng), 2};
        ds_key(&d, k, kind != 1, a, kind != 0, b);
    }
    iblt_decoder dec;
    iblt_decoder_init(&dec, NULL, find_local, &d.local);
    assert_false(iblt_decoder_complete(&dec));
    assert_int_equal(iblt_decoder_add(&dec, d.syms, (uint64_t)(d.n * 2)), 0);
    assert_true(iblt_decoder_complete(&dec));
    assert_int_equal(dec.n_items, d.n);
    assert_items_true(&d, &dec);
    iblt_decoder_free(&dec);
    ds_free(&d);
}

static void test_incomplete_and_corrupt_never_complete(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct diffset d;
        size_t n = 50 + (size_t)(seed * 97 % 500);
        ds_init(&d, n * 12, n);
        gossip_rng rng;
        gossip_rng_seed(&rng, seed);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = gossip_rng_next(&rng) >> 3;
            recon_version a = {gossip_rng_next(&rng), 1}, b = {gossip_rng_next(&rng), 2};
            ds_key(&d, k, i % 3 != 1, a, i % 3 != 0, b);
        }
        /* Symbol by symbol: until complete, every item found is true. */
        iblt_decoder dec;
        iblt_decoder_init(&dec, NULL, find_local, &d.local);
        uint64_t m = 0;
        while (!iblt_decoder_complete(&dec)) {
            assert_true(m < d.cap);
            assert_int_equal(iblt_decoder_add(&dec, &d.syms[m++], 1), 0);
            assert_items_true(&d, &dec);
            if (m == n / 2)
                assert_false(iblt_decoder_complete(&dec)); /* far too few symbols */
        }
        assert_int_equal(dec.n_items, n);
        /* The estimator read the raw zeros: within a factor of two. */
        iblt_decoder_free(&dec);

        /* One symbol corrupted: never complete, never a false item kept
         * silently as complete. */
        iblt_decoder_init(&dec, NULL, find_local, &d.local);
        d.syms[m / 2].ts ^= UINT64_C(1) << (seed % 64);
        assert_int_equal(iblt_decoder_add(&dec, d.syms, d.cap), 0);
        assert_false(iblt_decoder_complete(&dec));
        iblt_decoder_free(&dec);
        ds_free(&d);
    }
}

static void test_decoder_estimate(void **state)
{
    (void)state;
    struct diffset d;
    size_t n = 3000;
    ds_init(&d, 2 * n, n);
    gossip_rng rng;
    gossip_rng_seed(&rng, 5);
    for (size_t i = 0; i < n; i++)
        ds_key(&d, gossip_rng_next(&rng) >> 3, true, (recon_version){i + 1, 1}, false,
               (recon_version){0, 0});
    iblt_decoder dec;
    iblt_decoder_init(&dec, NULL, find_local, &d.local);
    /* Stuck well short of the threshold: the zero symbols still tell. */
    assert_int_equal(iblt_decoder_add(&dec, d.syms, n), 0);
    assert_false(iblt_decoder_complete(&dec));
    double e = iblt_decoder_estimate(&dec);
    assert_true(e > 0.8 * (double)n && e < 1.25 * (double)n);
    iblt_decoder_free(&dec);
    ds_free(&d);
}

static void test_sketch_estimate(void **state)
{
    (void)state;
    uint16_t a[IBLT_SKETCH_CELLS], b[IBLT_SKETCH_CELLS];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    gossip_rng rng;
    gossip_rng_seed(&rng, 8);
    for (int i = 0; i < 50000; i++) {
        uint64_t k = gossip_rng_next(&rng) >> 3;
        recon_version v = {gossip_rng_next(&rng), 1};
        iblt_sketch_add(a, k, v, +1);
        iblt_sketch_add(b, k, v, +1);
    }
    assert_true(iblt_sketch_estimate(a, b) == 0);
    double sum = 0;
    for (int trial = 0; trial < 20; trial++) {
        uint16_t x[IBLT_SKETCH_CELLS], y[IBLT_SKETCH_CELLS];
        memcpy(x, a, sizeof a);
        memcpy(y, b, sizeof b);
        for (int i = 0; i < 2000; i++) {
            uint64_t k = gossip_rng_next(&rng) >> 3;
            recon_version v1 = {gossip_rng_next(&rng), 1}, v2 = {gossip_rng_next(&rng), 2};
            if (i % 4 != 3)
                iblt_sketch_add(x, k, v1, +1);
            if (i % 4 != 2)
                iblt_sketch_add(y, k, v2, +1);
        }
        double e = iblt_sketch_estimate(x, y);
        assert_true(e > 1500 && e < 2500); /* about 5 sigma of 5% */
        sum += e;
    }
    assert_true(fabs(sum / 20 - 2000) < 100); /* unbiased: mean within 5% */
    /* Removing what was added restores the sketch. */
    recon_version v = {77, 1};
    iblt_sketch_add(a, 5, v, +1);
    iblt_sketch_add(a, 5, v, -1);
    assert_memory_equal(a, b, sizeof a);
}

/* ---- sessions ---------------------------------------------------------------- */

static void put(ae_replica *r, const char *key, uint64_t ts, uint64_t writer, bool tomb,
                const char *value)
{
    recon_entry e = {(const uint8_t *)key, (uint32_t)strlen(key), (const uint8_t *)value,
                     tomb ? 0 : (uint32_t)strlen(value), {ts, writer}, tomb};
    assert_true(ae_replica_put(r, &e) >= 0);
}

static void random_pair(uint64_t seed, unsigned keys, unsigned differ_in_8, ae_replica *a,
                        ae_replica *b, ae_replica *want)
{
    gossip_rng rng;
    gossip_rng_seed(&rng, seed);
    for (unsigned i = 0; i < keys; i++) {
        char key[16], value[24];
        snprintf(key, sizeof key, "key%u", i);
        unsigned where = (unsigned)gossip_rng_below(&rng, 8);
        if (where >= differ_in_8)
            where = 0;
        else
            where = 4 + where % 4; /* 4 only A, 5 only B, 6-7 both, maybe different */
        for (int side = 0; side < 2; side++) {
            if ((where == 4 && side == 1) || (where == 5 && side == 0))
                continue;
            uint64_t ts = where == 0 ? 1000 + i : 1000 + gossip_rng_below(&rng, 4);
            uint64_t writer = where == 0 ? 1 : 1 + gossip_rng_below(&rng, 3);
            bool tomb = gossip_hash_mix(i * 131 + ts * 7 + writer) % 6 == 0;
            snprintf(value, sizeof value, "v%llu-%llu", (unsigned long long)ts,
                     (unsigned long long)writer);
            put(side == 0 ? a : b, key, ts, writer, tomb, value);
            put(want, key, ts, writer, tomb, value);
        }
    }
}

static void assert_identical(const ae_replica *a, const ae_replica *b)
{
    char why[200];
    const char *diff = ae_replica_compare(a, b, why, sizeof why);
    if (diff)
        fail_msg("replicas differ: %s", diff);
}

/* One session per seed on a random pair; returns how many fell back. */
static unsigned random_sessions(const recon_config *c, unsigned seeds, unsigned differ_in_8,
                                unsigned max_keys, recon_method expect_method)
{
    unsigned fell_back = 0;
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        ae_replica a, b, want;
        assert_int_equal(ae_replica_init(&a, 64, 1 + (unsigned)(seed % 4), 4), 0);
        assert_int_equal(ae_replica_init(&b, 64, 0, 0), 0);
        assert_int_equal(ae_replica_init(&want, 64, 0, 0), 0);
        random_pair(seed, 1 + (unsigned)(seed * 53 % max_keys), differ_in_8, &a, &b, &want);
        ae_method_result res;
        char err[200];
        int rc = ae_session(&a, &b, c, &res, err, sizeof err);
        if (rc != 0)
            fail_msg("seed %llu: %s", (unsigned long long)seed, err);
        assert_identical(&a, &b);
        assert_identical(&a, &want);
        if (expect_method && res.responder.method != 0)
            assert_int_equal(res.initiator.method, expect_method);
        fell_back += res.initiator.fell_back;
        assert_int_equal(res.initiator.fell_back, res.responder.fell_back);
        ae_replica_free(&a);
        ae_replica_free(&b);
        ae_replica_free(&want);
    }
    return fell_back;
}

static void test_random_differences_iblt(void **state)
{
    (void)state;
    recon_config c;
    recon_config_default(&c);
    c.method = RECON_IBLT;
    assert_int_equal(random_sessions(&c, 150, 1, 600, RECON_IBLT), 0);
    assert_int_equal(random_sessions(&c, 50, 6, 300, RECON_IBLT), 0);
    c.method = RECON_AUTO;
    random_sessions(&c, 100, 2, 400, 0);
}

/* A first batch far too small: the initiator asks for more until done. */
static void test_retry_with_more_symbols(void **state)
{
    (void)state;
    recon_config c;
    recon_config_default(&c);
    c.method = RECON_IBLT;
    c.first_batch = 0.3;
    c.min_symbols = 4;
    ae_replica a, b, want;
    assert_int_equal(ae_replica_init(&a, 64, 0, 0), 0);
    assert_int_equal(ae_replica_init(&b, 64, 0, 0), 0);
    assert_int_equal(ae_replica_init(&want, 64, 0, 0), 0);
    random_pair(4, 2000, 2, &a, &b, &want);
    ae_method_result res;
    char err[200];
    assert_int_equal(ae_session(&a, &b, &c, &res, err, sizeof err), 0);
    assert_true(res.initiator.symbol_batches >= 2);
    assert_false(res.initiator.fell_back);
    assert_int_equal(res.round_trips, res.initiator.symbol_batches + 1);
    assert_identical(&a, &b);
    assert_identical(&a, &want);
    ae_replica_free(&a);
    ae_replica_free(&b);
    ae_replica_free(&want);
}

/* The symbol cap below what the difference needs: Merkle finishes. */
static void test_fall_back_when_capped(void **state)
{
    (void)state;
    recon_config c;
    recon_config_default(&c);
    c.method = RECON_IBLT;
    c.max_symbols = 32;
    c.min_symbols = 8;
    unsigned fell = random_sessions(&c, 20, 4, 800, 0);
    assert_true(fell >= 15);
}

/* Corrupt symbols from the responder: the initiator never decodes them
 * into anything complete; it falls back to Merkle and the replicas still
 * end identical. */
static void test_fall_back_on_corrupt_symbols(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        ae_replica a, b, want;
        assert_int_equal(ae_replica_init(&a, 64, 0, 0), 0);
        assert_int_equal(ae_replica_init(&b, 64, 0, 0), 0);
        assert_int_equal(ae_replica_init(&want, 64, 0, 0), 0);
        random_pair(seed, 300, 3, &a, &b, &want);
        recon_store sa = ae_replica_store(&a), sb = ae_replica_store(&b);
        recon_config c;
        recon_config_default(&c);
        c.method = RECON_IBLT;
        c.max_symbols = 600;
        recon_session *ini, *resp;
        assert_int_equal(recon_session_new(&ini, NULL, &c, &sa, true), 0);
        assert_int_equal(recon_session_new(&resp, NULL, &c, &sb, false), 0);
        const uint8_t *msg;
        size_t len;
        assert_int_equal(recon_session_start(ini, &msg, &len), 0);
        recon_session *side[2] = {ini, resp};
        int turn = 1;
        uint8_t *copybuf = NULL;
        while (len > 0) {
            if (msg[3] == RECON_MSG_SYMBOLS) {
                /* flip a timestamp bit in the last symbol of each batch */
                copybuf = realloc(copybuf, len);
                memcpy(copybuf, msg, len);
                copybuf[len - IBLT_SYMBOL_BYTES] ^= (uint8_t)(1u << (seed % 8));
                msg = copybuf;
            }
            assert_int_equal(recon_session_recv(side[turn], msg, len, &msg, &len), 0);
            turn ^= 1;
        }
        free(copybuf);
        const recon_stats *st = recon_session_stats(ini);
        assert_true(st->fell_back);
        assert_int_equal(st->method, RECON_MERKLE);
        assert_true(recon_session_stats(resp)->fell_back);
        assert_true(recon_session_done(ini) && recon_session_done(resp));
        assert_identical(&a, &b);
        assert_identical(&a, &want);
        recon_session_free(ini);
        recon_session_free(resp);
        ae_replica_free(&a);
        ae_replica_free(&b);
        ae_replica_free(&want);
    }
}

/* ---- malformed messages ----------------------------------------------------- */

static void refuse(recon_session *s, const ae_replica *r, const uint8_t *bad, size_t len, int want)
{
    uint64_t root = merkle_root(&r->index.tree);
    recon_stats before = *recon_session_stats(s);
    const uint8_t *out;
    size_t out_len;
    int rc = recon_session_recv(s, bad, len, &out, &out_len);
    if (want)
        assert_int_equal(rc, want);
    else
        assert_true(rc < 0);
    assert_int_equal(out_len, 0);
    assert_int_equal(merkle_root(&r->index.tree), root);
    const recon_stats *after = recon_session_stats(s);
    assert_int_equal(after->rejected, before.rejected + 1);
    assert_int_equal(after->symbols, before.symbols);
    assert_int_equal(after->messages_received, before.messages_received);
}

static size_t symbols_msg(recon_buf *b, uint64_t start, uint64_t n, uint64_t claimed)
{
    recon_begin_message(b, RECON_MSG_SYMBOLS);
    recon_put_varint(b, start);
    recon_put_varint(b, claimed);
    for (uint64_t i = 0; i < n; i++) {
        iblt_sym s;
        iblt_item(i + 1, (recon_version){i, 1}, &s);
        iblt_sym_write(recon_put_space(b, IBLT_SYMBOL_BYTES), &s);
    }
    recon_end_message(b);
    return b->len;
}

static void test_malformed_iblt_messages(void **state)
{
    (void)state;
    ae_replica a, b, want;
    assert_int_equal(ae_replica_init(&a, 64, 0, 0), 0);
    assert_int_equal(ae_replica_init(&b, 64, 0, 0), 0);
    assert_int_equal(ae_replica_init(&want, 64, 0, 0), 0);
    random_pair(21, 3000, 1, &a, &b, &want);
    recon_store sa = ae_replica_store(&a), sb = ae_replica_store(&b);
    recon_config c;
    recon_config_default(&c);
    c.method = RECON_IBLT;
    c.first_batch = 0.5; /* so that a MORE round happens */
    recon_session *ini, *resp;
    assert_int_equal(recon_session_new(&ini, NULL, &c, &sa, true), 0);
    assert_int_equal(recon_session_new(&resp, NULL, &c, &sb, false), 0);
    recon_buf bad;
    recon_buf_init(&bad, NULL);
    const uint8_t *hello;
    size_t hello_len;
    assert_int_equal(recon_session_start(ini, &hello, &hello_len), 0);
    uint8_t *h = malloc(hello_len);
    memcpy(h, hello, hello_len);
    /* MORE before HELLO; SYMBOLS to a responder. */
    recon_begin_message(&bad, RECON_MSG_MORE);
    recon_put_varint(&bad, 10);
    recon_end_message(&bad);
    refuse(resp, &b, bad.p, bad.len, GOSSIP_ERR_BAD_TYPE);
    symbols_msg(&bad, 0, 4, 4);
    refuse(resp, &b, bad.p, bad.len, GOSSIP_ERR_BAD_TYPE);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(recon_session_recv(resp, h, hello_len, &msg, &len), 0);
    assert_int_equal(msg[3], RECON_MSG_SYMBOLS);
    uint8_t *syms = malloc(len);
    memcpy(syms, msg, len);
    size_t syms_len = len;
    /* At the initiator: wrong start, no symbols, more than the bytes hold,
     * past max_symbols, a symbol outside the field, HELLO again. */
    symbols_msg(&bad, 5, 4, 4);
    refuse(ini, &a, bad.p, bad.len, GOSSIP_ERR_MALFORMED);
    symbols_msg(&bad, 0, 0, 0);
    refuse(ini, &a, bad.p, bad.len, GOSSIP_ERR_TOO_MANY);
    symbols_msg(&bad, 0, 4, 5);
    refuse(ini, &a, bad.p, bad.len, GOSSIP_ERR_TOO_MANY);
    symbols_msg(&bad, 0, 4, 3);
    refuse(ini, &a, bad.p, bad.len, GOSSIP_ERR_MALFORMED); /* trailing bytes */
    symbols_msg(&bad, (uint64_t)c.max_symbols, 1, 1);
    refuse(ini, &a, bad.p, bad.len, GOSSIP_ERR_TOO_MANY);
    symbols_msg(&bad, 0, 4, 4);
    memset(bad.p + bad.len - 8, 0xff, 8); /* x = 2^64 - 1 */
    refuse(ini, &a, bad.p, bad.len, GOSSIP_ERR_MALFORMED);
    refuse(ini, &a, h, hello_len, GOSSIP_ERR_BAD_TYPE);
    for (size_t cut = 0; cut < syms_len; cut += 1 + cut / 4)
        refuse(ini, &a, syms, cut, 0);
    /* The real batch goes through; the initiator asks for more. */
    assert_int_equal(recon_session_recv(ini, syms, syms_len, &msg, &len), 0);
    assert_int_equal(msg[3], RECON_MSG_MORE);
    uint8_t *more = malloc(len);
    memcpy(more, msg, len);
    size_t more_len = len;
    /* The same batch again is not the range asked for. */
    refuse(ini, &a, syms, syms_len, GOSSIP_ERR_MALFORMED);
    /* At the responder: MORE going backwards, or past the cap. */
    recon_begin_message(&bad, RECON_MSG_MORE);
    recon_put_varint(&bad, 3);
    recon_end_message(&bad);
    refuse(resp, &b, bad.p, bad.len, GOSSIP_ERR_MALFORMED);
    recon_begin_message(&bad, RECON_MSG_MORE);
    recon_put_varint(&bad, (uint64_t)c.max_symbols + 1);
    recon_end_message(&bad);
    refuse(resp, &b, bad.p, bad.len, GOSSIP_ERR_TOO_MANY);
    recon_begin_message(&bad, RECON_MSG_MORE);
    recon_end_message(&bad);
    refuse(resp, &b, bad.p, bad.len, GOSSIP_ERR_TRUNCATED);
    /* Then the conversation finishes normally. */
    msg = more;
    len = more_len;
    recon_session *side[2] = {ini, resp};
    int turn = 1;
    while (len > 0) {
        assert_int_equal(recon_session_recv(side[turn], msg, len, &msg, &len), 0);
        turn ^= 1;
    }
    assert_true(recon_session_done(ini) && recon_session_done(resp));
    assert_false(recon_session_stats(ini)->fell_back);
    assert_identical(&a, &b);
    assert_identical(&a, &want);
    free(h);
    free(syms);
    free(more);
    recon_buf_free(&bad);
    recon_session_free(ini);
    recon_session_free(resp);
    ae_replica_free(&a);
    ae_replica_free(&b);
    ae_replica_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_density),
        cmocka_unit_test(test_symbol_wire),
        cmocka_unit_test(test_decode_known_difference),
        cmocka_unit_test(test_incomplete_and_corrupt_never_complete),
        cmocka_unit_test(test_decoder_estimate),
        cmocka_unit_test(test_sketch_estimate),
        cmocka_unit_test(test_random_differences_iblt),
        cmocka_unit_test(test_retry_with_more_symbols),
        cmocka_unit_test(test_fall_back_when_capped),
        cmocka_unit_test(test_fall_back_on_corrupt_symbols),
        cmocka_unit_test(test_malformed_iblt_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
