/* test_merkle.c -- the replica's Merkle tree (core/merkle.c) and the Merkle
 * anti-entropy session (core/recon_merkle.c): incremental hashes equal a
 * rebuild from scratch, splitting and collapsing keep every invariant, equal
 * replicas settle in one round trip, random differences always end with
 * identical replicas at the last-writer-wins winners, and malformed session
 * messages are refused without changing anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"
#include "core/merkle.h"
#include "core/recon.h"
#include "core/recon_wire.h"
#include "core/rng.h"
#include "sim/antientropy.h"

/* ---- the tree ----------------------------------------------------------- */

struct model {
    merkle_rec *recs;
    size_t n, cap;
};

static void model_add(struct model *m, merkle_rec r)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->recs = realloc(m->recs, m->cap * sizeof *m->recs);
        assert_non_null(m->recs);
    }
    m->recs[m->n++] = r;
}

static uint64_t random_khash(gossip_rng *rng, unsigned clustered)
{
    uint64_t k = gossip_rng_next(rng) >> 3;
    if (clustered) /* many keys under one prefix: deep splits */
        k = (k & ((UINT64_C(1) << 20) - 1)) | (UINT64_C(0x155) << 50);
    return k % RECON_P61;
}

/* Every range at every depth to 14, and random deep ones, against a tree
 * built from scratch out of the same records. */
static void assert_same_hashes(const merkle_tree *a, const merkle_tree *b, gossip_rng *rng)
{
    assert_int_equal(merkle_root(a), merkle_root(b));
    assert_int_equal(merkle_count(a), merkle_count(b));
    static uint64_t ha[1 << 14], hb[1 << 14], ca[1 << 14], cb[1 << 14];
    for (unsigned depth = 0; depth <= 14; depth += 7) {
        merkle_level(a, depth, ha, ca);
        merkle_level(b, depth, hb, cb);
        assert_memory_equal(ha, hb, sizeof(uint64_t) << depth);
        assert_memory_equal(ca, cb, sizeof(uint64_t) << depth);
    }
    for (int i = 0; i < 200; i++) {
        unsigned depth = (unsigned)gossip_rng_below(rng, RECON_KHASH_BITS + 1);
        uint64_t prefix = depth ? (gossip_rng_next(rng) >> 3) >> (RECON_KHASH_BITS - depth) : 0;
        uint64_t h1, c1, h2, c2;
        merkle_range_hash(a, depth, prefix, &h1, &c1);
        merkle_range_hash(b, depth, prefix, &h2, &c2);
        assert_int_equal(h1, h2);
        assert_int_equal(c1, c2);
    }
}

static void random_operations(unsigned leaf_bits, uint32_t split, unsigned clustered,
                              uint64_t seed, int steps)
{
    merkle_tree t;
    assert_int_equal(merkle_init(&t, NULL, leaf_bits, split), 0);
    struct model m = {0};
    gossip_rng rng;
    gossip_rng_seed(&rng, seed);
    for (int step = 0; step < steps; step++) {
        uint64_t op = gossip_rng_below(&rng, 10);
        if (m.n == 0 || op < 5) {
            merkle_rec r = {random_khash(&rng, clustered), {gossip_rng_next(&rng), 1}};
            assert_int_equal(merkle_insert(&t, r.khash, r.version), 0);
            model_add(&m, r);
        } else if (op < 8) {
            size_t i = (size_t)gossip_rng_below(&rng, m.n);
            recon_version v = {gossip_rng_next(&rng), 2};
            assert_int_equal(merkle_update(&t, m.recs[i].khash, m.recs[i].version, v), 0);
            m.recs[i].version = v;
        } else {
            size_t i = (size_t)gossip_rng_below(&rng, m.n);
            assert_int_equal(merkle_remove(&t, m.recs[i].khash, m.recs[i].version), 0);
            m.recs[i] = m.recs[--m.n];
        }
        if (step % 500 == 0)
            assert_int_equal(merkle_check(&t), 0);
    }
    assert_int_equal(merkle_check(&t), 0);
    merkle_tree fresh;
    assert_int_equal(merkle_init(&fresh, NULL, leaf_bits, split), 0);
    for (size_t i = 0; i < m.n; i++)
        assert_int_equal(merkle_insert(&fresh, m.recs[i].khash, m.recs[i].version), 0);
    assert_int_equal(merkle_check(&fresh), 0);
    assert_same_hashes(&t, &fresh, &rng);
    /* Remove everything: back to the empty tree, collapsed. */
    for (size_t i = 0; i < m.n; i++)
        assert_int_equal(merkle_remove(&t, m.recs[i].khash, m.recs[i].version), 0);
    assert_int_equal(merkle_root(&t), 0);
    assert_int_equal(merkle_count(&t), 0);
    assert_int_equal(merkle_check(&t), 0);
    merkle_free(&fresh);
    merkle_free(&t);
    free(m.recs);
}

static void test_incremental_equals_rebuild(void **state)
{
    (void)state;
    random_operations(0, 0, 0, 1, 20000);        /* 1024 leaves, split 32 */
    random_operations(2, 4, 0, 2, 20000);        /* tiny top, eager splits */
    random_operations(3, 2, 1, 3, 10000);        /* clustered: deep subtrees */
    for (uint64_t seed = 10; seed < 20; seed++)
        random_operations(1, 3, seed & 1, seed, 2000);
}

static void test_split_and_collapse(void **state)
{
    (void)state;
    merkle_tree t;
    assert_int_equal(merkle_init(&t, NULL, 1, 4), 0);
    assert_int_equal(t.n_nodes, 3);
    /* 64 keys under one prefix of the first leaf split it many times. */
    for (uint64_t i = 0; i < 64; i++)
        assert_int_equal(merkle_insert(&t, i, (recon_version){i, 1}), 0);
    assert_int_equal(merkle_check(&t), 0);
    assert_true(t.n_nodes > 40);
    uint64_t h, c;
    merkle_range_hash(&t, RECON_KHASH_BITS, 5, &h, &c);
    assert_int_equal(c, 1);
    assert_int_equal(h, recon_digest(5, (recon_version){5, 1}));
    for (uint64_t i = 0; i < 62; i++)
        assert_int_equal(merkle_remove(&t, i, (recon_version){i, 1}), 0);
    assert_int_equal(merkle_check(&t), 0);
    /* Two keys left: the first leaf collapsed back into one node. */
    assert_int_equal(t.nodes[1].child, MERKLE_NONE);
    assert_int_equal(t.nodes[1].nrec, 2);
    /* Collisions: two versions under one key hash at depth 61. */
    for (uint64_t v = 0; v < 8; v++)
        assert_int_equal(merkle_insert(&t, 99, (recon_version){v, 7}), 0);
    assert_int_equal(merkle_check(&t), 0);
    recon_version found[8];
    assert_int_equal(merkle_find(&t, 99, found, 8), 8);
    merkle_free(&t);
}

static void test_tree_errors_change_nothing(void **state)
{
    (void)state;
    merkle_tree t;
    assert_int_equal(merkle_init(&t, NULL, 21, 0), GOSSIP_ERR_INVALID);
    assert_int_equal(merkle_init(&t, NULL, 0, 1), GOSSIP_ERR_INVALID);
    assert_int_equal(merkle_init(&t, NULL, 0, MERKLE_MAX_SPLIT + 1), GOSSIP_ERR_INVALID);
    assert_int_equal(merkle_init(&t, NULL, 4, 4), 0);
    recon_version v = {10, 1}, w = {11, 1};
    assert_int_equal(merkle_insert(&t, 42, v), 0);
    uint64_t root = merkle_root(&t);
    assert_int_equal(merkle_insert(&t, 42, v), GOSSIP_ERR_INVALID);
    assert_int_equal(merkle_insert(&t, RECON_P61, v), GOSSIP_ERR_INVALID);
    assert_int_equal(merkle_update(&t, 42, w, v), GOSSIP_ERR_NOT_FOUND);
    assert_int_equal(merkle_update(&t, 43, v, w), GOSSIP_ERR_NOT_FOUND);
    assert_int_equal(merkle_remove(&t, 42, w), GOSSIP_ERR_NOT_FOUND);
    assert_int_equal(merkle_remove(&t, UINT64_MAX, w), GOSSIP_ERR_INVALID);
    assert_int_equal(merkle_root(&t), root);
    assert_int_equal(merkle_count(&t), 1);
    assert_int_equal(merkle_check(&t), 0);
    assert_int_equal(merkle_update(&t, 42, v, w), 0);
    assert_int_equal(merkle_root(&t), recon_digest(42, w));
    merkle_free(&t);
}

/* ---- sessions ------------------------------------------------------------ */

static void put(ae_replica *r, const char *key, uint64_t ts, uint64_t writer, bool tomb,
                const char *value)
{
    recon_entry e = {(const uint8_t *)key, (uint32_t)strlen(key), (const uint8_t *)value,
                     tomb ? 0 : (uint32_t)strlen(value), {ts, writer}, tomb};
    assert_true(ae_replica_put(r, &e) >= 0);
}

static recon_config config(recon_method m)
{
    recon_config c;
    recon_config_default(&c);
    c.method = m;
    return c;
}

static void assert_identical(const ae_replica *a, const ae_replica *b)
{
    char why[200];
    const char *diff = ae_replica_compare(a, b, why, sizeof why);
    if (diff)
        fail_msg("replicas differ: %s", diff);
}

static void test_equal_replicas_one_round_trip(void **state)
{
    (void)state;
    ae_replica a, b;
    assert_int_equal(ae_replica_init(&a, 100, 0, 0), 0);
    assert_int_equal(ae_replica_init(&b, 100, 0, 0), 0);
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        put(&a, key, 100 + (uint64_t)i, 1, i % 7 == 0, "value");
        put(&b, key, 100 + (uint64_t)i, 1, i % 7 == 0, "value");
    }
    const recon_method methods[] = {RECON_MERKLE, RECON_IBLT, RECON_AUTO};
    for (size_t i = 0; i < 3; i++) {
        recon_config c = config(methods[i]);
        ae_method_result res;
        char err[200];
        assert_int_equal(ae_session(&a, &b, &c, &res, err, sizeof err), 0);
        assert_int_equal(res.messages, 2); /* HELLO, DONE */
        assert_int_equal(res.round_trips, 1);
        assert_int_equal(res.entries, 0);
        assert_int_equal(res.responder.method, 0); /* neither method ran */
    }
    ae_replica_free(&a);
    ae_replica_free(&b);
}

/* Random replicas over a small key space; returns the expected winner
 * replica in *want (every key at its highest version). */
static void random_pair(uint64_t seed, unsigned keys, ae_replica *a, ae_replica *b,
                        ae_replica *want)
{
    gossip_rng rng;
    gossip_rng_seed(&rng, seed);
    for (unsigned i = 0; i < keys; i++) {
        char key[16], value[24];
        snprintf(key, sizeof key, "key%u", i);
        unsigned where = (unsigned)gossip_rng_below(&rng, 8); /* 0..3 same, 4 A, 5 B, 6-7 both */
        for (int side = 0; side < 2; side++) {
            if ((where == 4 && side == 1) || (where == 5 && side == 0))
                continue;
            uint64_t ts = where <= 3 ? 1000 + i : 1000 + gossip_rng_below(&rng, 4);
            uint64_t writer = where <= 3 ? 1 : 1 + gossip_rng_below(&rng, 3);
            /* one version, one content: a tie never hides a difference */
            bool tomb = gossip_hash_mix(i * 131 + ts * 7 + writer) % 6 == 0;
            snprintf(value, sizeof value, "v%llu-%llu", (unsigned long long)ts,
                     (unsigned long long)writer);
            ae_replica *r = side == 0 ? a : b;
            put(r, key, ts, writer, tomb, value);
            put(want, key, ts, writer, tomb, value);
        }
    }
}

static void run_random_sessions(recon_method method, unsigned seeds, bool small_tree)
{
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        ae_replica a, b, want;
        unsigned leaf_bits = small_tree ? 1 + (unsigned)(seed % 3) : 0;
        uint32_t split = small_tree ? 2 + (uint32_t)(seed % 5) : 0;
        assert_int_equal(ae_replica_init(&a, 64, leaf_bits, split), 0);
        assert_int_equal(ae_replica_init(&b, 64, leaf_bits, split), 0);
        assert_int_equal(ae_replica_init(&want, 64, 0, 0), 0);
        unsigned keys = 1 + (unsigned)(seed * 37 % 400);
        random_pair(seed, keys, &a, &b, &want);
        recon_config c = config(method);
        c.list_threshold = (uint32_t)(seed % 4);
        ae_method_result res;
        char err[200];
        int rc = ae_session(&a, &b, &c, &res, err, sizeof err);
        if (rc != 0)
            fail_msg("seed %llu: %s", (unsigned long long)seed, err);
        assert_identical(&a, &b);
        assert_identical(&a, &want);
        assert_int_equal(merkle_check(&a.index.tree), 0);
        assert_int_equal(merkle_check(&b.index.tree), 0);
        /* A second session finds nothing left to do. */
        assert_int_equal(ae_session(&a, &b, &c, &res, err, sizeof err), 0);
        assert_int_equal(res.messages, 2);
        ae_replica_free(&a);
        ae_replica_free(&b);
        ae_replica_free(&want);
    }
}

static void test_random_differences_merkle(void **state)
{
    (void)state;
    run_random_sessions(RECON_MERKLE, 150, false);
    run_random_sessions(RECON_MERKLE, 150, true);
}

/* Newer wins in both directions, deletes included, through a Merkle
 * session, on a hand-made pair. */
static void test_lww_both_ways(void **state)
{
    (void)state;
    ae_replica a, b;
    assert_int_equal(ae_replica_init(&a, 16, 0, 0), 0);
    assert_int_equal(ae_replica_init(&b, 16, 0, 0), 0);
    put(&a, "newer-on-a", 20, 1, false, "a20");
    put(&b, "newer-on-a", 10, 1, false, "b10");
    put(&a, "newer-on-b", 10, 9, false, "a10");
    put(&b, "newer-on-b", 10, 10, false, "b10w10"); /* timestamp tie: writer decides */
    put(&a, "deleted-on-b", 5, 1, false, "alive");
    put(&b, "deleted-on-b", 6, 2, true, "");
    put(&a, "only-a", 1, 1, false, "x");
    put(&b, "only-b", 1, 1, true, "");
    recon_config c = config(RECON_MERKLE);
    ae_method_result res;
    char err[200];
    assert_int_equal(ae_session(&a, &b, &c, &res, err, sizeof err), 0);
    assert_identical(&a, &b);
    const ae_entry *e = ae_replica_find(&b, "newer-on-a", 10);
    assert_int_equal(e->version.ts, 20);
    e = ae_replica_find(&a, "newer-on-b", 10);
    assert_int_equal(e->version.writer, 10);
    e = ae_replica_find(&a, "deleted-on-b", 12);
    assert_true(e->tombstone);
    assert_int_equal(e->val_len, 0);
    assert_non_null(ae_replica_find(&a, "only-b", 6));
    assert_non_null(ae_replica_find(&b, "only-a", 6));
    assert_int_equal(res.entries, 5);
    ae_replica_free(&a);
    ae_replica_free(&b);
}

/* ---- malformed messages --------------------------------------------------- */

struct pair {
    ae_replica a, b;
    recon_store sa, sb;
    recon_session *ini, *resp;
};

static void pair_open(struct pair *p, recon_method m, uint64_t seed)
{
    assert_int_equal(ae_replica_init(&p->a, 64, 2, 4), 0);
    assert_int_equal(ae_replica_init(&p->b, 64, 2, 4), 0);
    ae_replica want;
    assert_int_equal(ae_replica_init(&want, 64, 0, 0), 0);
    random_pair(seed, 200, &p->a, &p->b, &want);
    ae_replica_free(&want);
    p->sa = ae_replica_store(&p->a);
    p->sb = ae_replica_store(&p->b);
    recon_config c = config(m);
    assert_int_equal(recon_session_new(&p->ini, NULL, &c, &p->sa, true), 0);
    assert_int_equal(recon_session_new(&p->resp, NULL, &c, &p->sb, false), 0);
}

static void pair_close(struct pair *p)
{
    recon_session_free(p->ini);
    recon_session_free(p->resp);
    ae_replica_free(&p->a);
    ae_replica_free(&p->b);
}

/* Feeds `bad` to s and checks it is refused with `want` (any error if 0)
 * and that neither the store nor the session moved. */
static void refuse(recon_session *s, const ae_replica *r, const uint8_t *bad, size_t len, int want)
{
    uint64_t root = merkle_root(&r->index.tree);
    uint32_t n = r->n;
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
    assert_int_equal(r->n, n);
    const recon_stats *after = recon_session_stats(s);
    assert_int_equal(after->rejected, before.rejected + 1);
    assert_int_equal(after->messages_received, before.messages_received);
    assert_int_equal(after->entries_received, before.entries_received);
}

static uint8_t *copy(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, p, n);
    return c;
}

/* Every damaged form of one good message: each truncation, bad magic,
 * version and type, trailing bytes, a wrong length field. */
static void refuse_damaged(recon_session *s, const ae_replica *r, const uint8_t *good, size_t len)
{
    for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 97)
        refuse(s, r, good, cut, 0);
    uint8_t *bad = malloc(len + 1);
    assert_non_null(bad);
    memcpy(bad, good, len);
    bad[0] = 'X';
    refuse(s, r, bad, len, GOSSIP_ERR_BAD_MAGIC);
    memcpy(bad, good, len);
    bad[2] = 9;
    refuse(s, r, bad, len, GOSSIP_ERR_BAD_VERSION);
    memcpy(bad, good, len);
    bad[3] = 77;
    refuse(s, r, bad, len, GOSSIP_ERR_BAD_TYPE);
    memcpy(bad, good, len);
    bad[len] = 0;
    refuse(s, r, bad, len + 1, GOSSIP_ERR_MALFORMED); /* a byte past the length */
    memcpy(bad, good, len);
    bad[4] ^= 1;
    refuse(s, r, bad, len, 0);
    free(bad);
}

/* Finds section `kind` of an EXCHANGE; returns its offset (the kind byte). */
static size_t find_section(const uint8_t *msg, size_t len, unsigned kind)
{
    recon_msg m;
    recon_limits lim = {1u << 30, 1024, 1u << 16, 1u << 20};
    assert_int_equal(recon_parse(msg, len, &lim, &m), 0);
    assert_true(m.has[kind]);
    /* back over the count varint to the kind byte, which has no high bit */
    size_t off = m.at[kind] + RECON_HEADER_BYTES - 1;
    while (msg[off - 1] & 0x80)
        off--;
    return off - 1;
}

static void test_malformed_merkle_messages(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, RECON_MERKLE, 7);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(recon_session_start(p.ini, &msg, &len), 0);
    uint8_t *hello = copy(msg, len);
    size_t hello_len = len;
    /* The responder waits for HELLO: anything else, or a damaged HELLO, is
     * refused. */
    refuse_damaged(p.resp, &p.b, hello, hello_len);
    uint8_t done[8] = {'G', 'R', 1, RECON_MSG_DONE, 0, 0, 0, 0};
    refuse(p.resp, &p.b, done, sizeof done, GOSSIP_ERR_BAD_TYPE);
    hello[RECON_HEADER_BYTES] = 4; /* no such method */
    refuse(p.resp, &p.b, hello, hello_len, GOSSIP_ERR_MALFORMED);
    hello[RECON_HEADER_BYTES] = RECON_MERKLE;
    /* Now the real conversation, damaging every message on its way. */
    int turn = 1;
    recon_session *side[2] = {p.ini, p.resp};
    const ae_replica *rep[2] = {&p.a, &p.b};
    uint8_t *cur = hello;
    size_t cur_len = hello_len;
    int exchanges = 0;
    while (cur_len > 0) {
        refuse_damaged(side[turn], rep[turn], cur, cur_len);
        if (cur[3] == RECON_MSG_EXCHANGE) {
            exchanges++;
            /* Out-of-order sections: swap in a section kind below one
             * present.  Oversize count: claim 2^40 items. */
            recon_msg m;
            recon_limits lim = {1u << 30, 1024, 1u << 16, 1u << 20};
            assert_int_equal(recon_parse(cur, cur_len, &lim, &m), 0);
            for (unsigned k = RECON_SEC_NODES; k < RECON_SEC_COUNT; k++) {
                if (!m.has[k])
                    continue;
                size_t at = find_section(cur, cur_len, k);
                uint8_t *bad = copy(cur, cur_len);
                bad[at] = 0;
                refuse(side[turn], rep[turn], bad, cur_len, GOSSIP_ERR_BAD_TYPE);
                bad[at] = RECON_SEC_COUNT;
                refuse(side[turn], rep[turn], bad, cur_len, GOSSIP_ERR_BAD_TYPE);
                free(bad);
                /* a huge count in place of the real one */
                size_t count_at = at + 1, count_len = 1;
                while (cur[count_at + count_len - 1] & 0x80)
                    count_len++;
                size_t big_len = cur_len - count_len + 6;
                bad = malloc(big_len);
                memcpy(bad, cur, count_at);
                const uint8_t huge[6] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x20};
                memcpy(bad + count_at, huge, 6);
                memcpy(bad + count_at + 6, cur + count_at + count_len,
                       cur_len - count_at - count_len);
                uint32_t body = (uint32_t)(big_len - RECON_HEADER_BYTES);
                for (int i = 0; i < 4; i++)
                    bad[4 + i] = (uint8_t)(body >> (8 * i));
                refuse(side[turn], rep[turn], bad, big_len, GOSSIP_ERR_TOO_MANY);
                free(bad);
            }
            if (m.has[RECON_SEC_LEVEL]) {
                uint8_t *bad = copy(cur, cur_len);
                size_t at = m.at[RECON_SEC_LEVEL] + RECON_HEADER_BYTES - 1;
                bad[at] = (uint8_t)(bad[at] + 1); /* depth one deeper than the hashes */
                refuse(side[turn], rep[turn], bad, cur_len, 0);
                free(bad);
            }
        }
        /* The good message goes through. */
        const uint8_t *next;
        size_t next_len;
        assert_int_equal(recon_session_recv(side[turn], cur, cur_len, &next, &next_len), 0);
        free(cur);
        cur = next_len ? copy(next, next_len) : NULL;
        cur_len = next_len;
        turn ^= 1;
    }
    free(cur);
    assert_true(exchanges >= 3);
    assert_true(recon_session_done(p.ini));
    assert_true(recon_session_done(p.resp));
    assert_identical(&p.a, &p.b);
    /* After the end, everything is refused. */
    refuse(p.ini, &p.a, done, sizeof done, GOSSIP_ERR_BAD_TYPE);
    pair_close(&p);
}

/* Entries that break the limits, keys in the wrong range, a tombstone with
 * a value: refused whole, even when the first entries were fine. */
static void test_malformed_entries_and_lists(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, RECON_MERKLE, 9);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(recon_session_start(p.ini, &msg, &len), 0);
    assert_int_equal(recon_session_recv(p.resp, msg, len, &msg, &len), 0);
    /* The initiator now accepts EXCHANGE.  Build hostile ones by hand. */
    recon_buf b;
    recon_buf_init(&b, NULL);
    recon_entry good = {(const uint8_t *)"fresh", 5, (const uint8_t *)"v", 1, {1u << 30, 1}, false};
    recon_entry big = good;
    uint8_t huge[2000];
    memset(huge, 'k', sizeof huge);
    big.key = huge;
    big.key_len = 1025;
    struct {
        recon_entry second;
        int want;
    } cases[] = {{big, GOSSIP_ERR_OVERSIZE}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        recon_begin_message(&b, RECON_MSG_EXCHANGE);
        recon_put_u8(&b, RECON_SEC_ENTRIES);
        recon_put_varint(&b, 2);
        recon_put_entry(&b, &good);
        recon_put_entry(&b, &cases[i].second);
        recon_end_message(&b);
        refuse(p.ini, &p.a, b.p, b.len, cases[i].want);
    }
    /* A tombstone carrying a value; unknown flag bits. */
    recon_begin_message(&b, RECON_MSG_EXCHANGE);
    recon_put_u8(&b, RECON_SEC_ENTRIES);
    recon_put_varint(&b, 2);
    recon_put_entry(&b, &good);
    size_t flag_at = b.len;
    recon_put_entry(&b, &good);
    recon_end_message(&b);
    b.p[flag_at] = 1; /* tombstone, but value length 1 */
    refuse(p.ini, &p.a, b.p, b.len, GOSSIP_ERR_MALFORMED);
    b.p[flag_at] = 0x80;
    refuse(p.ini, &p.a, b.p, b.len, GOSSIP_ERR_MALFORMED);
    /* A list whose key hash lies outside its prefix, or past the prime. */
    const uint64_t khashes[] = {UINT64_C(1) << 59, RECON_P61};
    for (size_t i = 0; i < 2; i++) {
        recon_begin_message(&b, RECON_MSG_EXCHANGE);
        recon_put_u8(&b, RECON_SEC_LISTS);
        recon_put_varint(&b, 1);
        recon_put_u8(&b, 3);
        recon_put_varint(&b, 0); /* depth 3, prefix 0: top three bits zero */
        recon_put_varint(&b, 1);
        recon_put_u64(&b, khashes[i]);
        recon_put_u64(&b, 1);
        recon_put_u64(&b, 1);
        recon_end_message(&b);
        refuse(p.ini, &p.a, b.p, b.len, GOSSIP_ERR_MALFORMED);
    }
    /* Nodes: a prefix too wide for its depth, a depth past 60. */
    recon_begin_message(&b, RECON_MSG_EXCHANGE);
    recon_put_u8(&b, RECON_SEC_NODES);
    recon_put_varint(&b, 1);
    recon_put_u8(&b, 2);
    recon_put_varint(&b, 4);
    for (int i = 0; i < 4; i++)
        recon_put_u64(&b, 0);
    recon_end_message(&b);
    refuse(p.ini, &p.a, b.p, b.len, GOSSIP_ERR_MALFORMED);
    recon_begin_message(&b, RECON_MSG_EXCHANGE);
    recon_put_u8(&b, RECON_SEC_NODES);
    recon_put_varint(&b, 1);
    recon_put_u8(&b, 61);
    recon_put_varint(&b, 0);
    for (int i = 0; i < 4; i++)
        recon_put_u64(&b, 0);
    recon_end_message(&b);
    refuse(p.ini, &p.a, b.p, b.len, GOSSIP_ERR_MALFORMED);
    /* A varint of eleven bytes. */
    recon_begin_message(&b, RECON_MSG_EXCHANGE);
    recon_put_u8(&b, RECON_SEC_WANTS);
    for (int i = 0; i < 10; i++)
        recon_put_u8(&b, 0xff);
    recon_put_u8(&b, 0x01);
    recon_end_message(&b);
    refuse(p.ini, &p.a, b.p, b.len, GOSSIP_ERR_MALFORMED);
    /* A message over max_message. */
    recon_begin_message(&b, RECON_MSG_EXCHANGE);
    recon_put_u8(&b, RECON_SEC_WANTS);
    recon_put_varint(&b, (64u << 20) / 8);
    recon_put_space(&b, 64u << 20);
    recon_end_message(&b);
    memset(b.p + 10, 0, b.len - 10);
    refuse(p.ini, &p.a, b.p, b.len, GOSSIP_ERR_OVERSIZE);
    /* The one good entry alone is taken, and applied. */
    recon_begin_message(&b, RECON_MSG_EXCHANGE);
    recon_put_u8(&b, RECON_SEC_ENTRIES);
    recon_put_varint(&b, 1);
    recon_put_entry(&b, &good);
    recon_end_message(&b);
    const uint8_t *out;
    size_t out_len;
    assert_int_equal(recon_session_recv(p.ini, b.p, b.len, &out, &out_len), 0);
    assert_int_equal(out_len, 0); /* entries alone need no reply */
    assert_non_null(ae_replica_find(&p.a, "fresh", 5));
    recon_buf_free(&b);
    pair_close(&p);
}

static void test_session_api_misuse(void **state)
{
    (void)state;
    ae_replica a;
    assert_int_equal(ae_replica_init(&a, 16, 0, 0), 0);
    recon_store s = ae_replica_store(&a);
    recon_session *ses;
    recon_config c = config(RECON_AUTO);
    c.first_batch = 0;
    assert_int_equal(recon_session_new(&ses, NULL, &c, &s, true), GOSSIP_ERR_INVALID);
    c = config(RECON_AUTO);
    c.method = 0;
    assert_int_equal(recon_session_new(&ses, NULL, &c, &s, true), GOSSIP_ERR_INVALID);
    recon_store none = s;
    none.apply = NULL;
    assert_int_equal(recon_session_new(&ses, NULL, NULL, &none, true), GOSSIP_ERR_INVALID);
    assert_int_equal(recon_session_new(&ses, NULL, NULL, &s, false), 0);
    const uint8_t *out;
    size_t len;
    assert_int_equal(recon_session_start(ses, &out, &len), GOSSIP_ERR_INVALID); /* responder */
    assert_false(recon_session_done(ses));
    recon_session_free(ses);
    assert_int_equal(recon_session_new(&ses, NULL, NULL, &s, true), 0);
    assert_int_equal(recon_session_start(ses, &out, &len), 0);
    assert_int_equal(recon_session_start(ses, &out, &len), GOSSIP_ERR_INVALID); /* twice */
    recon_session_free(ses);
    ae_replica_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incremental_equals_rebuild),
        cmocka_unit_test(test_split_and_collapse),
        cmocka_unit_test(test_tree_errors_change_nothing),
        cmocka_unit_test(test_equal_replicas_one_round_trip),
        cmocka_unit_test(test_random_differences_merkle),
        cmocka_unit_test(test_lww_both_ways),
        cmocka_unit_test(test_malformed_merkle_messages),
        cmocka_unit_test(test_malformed_entries_and_lists),
        cmocka_unit_test(test_session_api_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
