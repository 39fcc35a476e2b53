/* test_kv.c -- the key-value store (core/kv.c) and its bytes (core/kv_wire.c):
 * the hybrid logical clock, last-writer-wins with compare-and-set,
 * tombstones and their collection, the log's torn and corrupt tails, the
 * messages' checks, the allocator, and the property: random interleavings
 * of writes, deletes, rumors (delivered in any order, lost, duplicated),
 * anti-entropy sessions, partitions, garbage collection and restarts from
 * the log end, on every seed, with identical replicas holding the
 * last-writer-wins winner of every key -- no acknowledged write lost unless
 * a later one to the same key superseded it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/kv.h"
#include "core/kv_wire.h"
#include "core/recon.h"
#include "core/rng.h"

#define T0 UINT64_C(1764000000000) /* a wall clock in ms */

static kv_store *new_store(uint64_t writer, uint64_t horizon_ms)
{
    kv_config c;
    kv_config_default(&c);
    c.writer = writer;
    if (horizon_ms)
        c.horizon_ms = horizon_ms;
    kv_store *s = NULL;
    assert_int_equal(kv_new(&s, NULL, &c), 0);
    return s;
}

static recon_entry entry(const char *key, const char *value, uint64_t ts, uint64_t writer)
{
    recon_entry e = {(const uint8_t *)key, (uint32_t)strlen(key), (const uint8_t *)value,
                     value ? (uint32_t)strlen(value) : 0, {ts, writer}, value == NULL};
    return e;
}

static bool has_value(const kv_store *s, const char *key, const char *value)
{
    recon_entry e;
    if (kv_get(s, key, strlen(key), &e) != 0)
        return value == NULL;
    if (value == NULL)
        return e.tombstone;
    return !e.tombstone && e.value_len == strlen(value) &&
           (e.value_len == 0 || memcmp(e.value, value, e.value_len) == 0);
}

/* The index equals one rebuilt from the entries. */
static int add_to_index(void *arg, const recon_entry *e)
{
    return recon_index_insert(arg, recon_key_hash(e->key, e->key_len), e->version);
}

static void assert_index_consistent(const kv_store *s)
{
    recon_index x;
    assert_int_equal(recon_index_init(&x, NULL, 0, 0), 0);
    assert_int_equal(kv_each(s, NULL, 0, add_to_index, &x), 0);
    const recon_index *have = kv_index(s);
    assert_int_equal(merkle_root(&have->tree), merkle_root(&x.tree));
    assert_int_equal(merkle_count(&have->tree), merkle_count(&x.tree));
    assert_memory_equal(have->sketch, x.sketch, sizeof x.sketch);
    assert_int_equal(merkle_check(&have->tree), 0);
    kv_stats st;
    kv_get_stats(s, &st);
    assert_int_equal(st.entries, merkle_count(&x.tree));
    assert_int_equal(st.live + st.tombstones, st.entries);
    recon_index_free(&x);
}

/* ---- the clock ----------------------------------------------------------------- */

static void test_hlc(void **state)
{
    (void)state;
    kv_store *s = new_store(7, 0);
    recon_version v, prev = {0, 0};
    for (int i = 0; i < 100; i++) { /* the same millisecond: the counter moves */
        assert_int_equal(kv_put(s, "k", 1, "v", 1, T0, NULL, &v), 0);
        assert_true(recon_version_cmp(v, prev) > 0);
        assert_int_equal(kv_hlc_physical(v.ts), T0);
        assert_int_equal(v.writer, 7);
        prev = v;
    }
    /* The wall clock goes back: timestamps still grow. */
    assert_int_equal(kv_put(s, "k", 1, "w", 1, T0 - 5000, NULL, &v), 0);
    assert_true(v.ts > prev.ts);
    /* A timestamp from a clock 2 minutes ahead: seen, counted, and the next
     * local write is newer still (it must win over what it overwrote). */
    uint64_t ahead = (T0 + 120000) << KV_HLC_LOGICAL_BITS;
    recon_entry e = entry("other", "x", ahead, 9);
    assert_int_equal(kv_merge(s, &e, T0), 1);
    kv_stats st;
    kv_get_stats(s, &st);
    assert_int_equal(st.clock_ahead, 1);
    assert_int_equal(kv_put(s, "other", 5, "mine", 4, T0, NULL, &v), 0);
    assert_true(v.ts > ahead);
    assert_true(has_value(s, "other", "mine"));
    /* Physical time dominates once it passes the counter. */
    assert_int_equal(kv_put(s, "k", 1, "z", 1, T0 + 200000, NULL, &v), 0);
    assert_int_equal(v.ts, (T0 + 200000) << KV_HLC_LOGICAL_BITS);
    kv_free(s);
}

/* ---- last writer wins ---------------------------------------------------------- */

static void test_lww(void **state)
{
    (void)state;
    kv_store *s = new_store(1, 0);
    recon_version v;
    assert_int_equal(kv_put(s, "a", 1, "1", 1, T0, NULL, &v), 0);
    uint64_t ts = v.ts;
    /* Older and equal versions change nothing. */
    recon_entry old = entry("a", "old", ts - 1, 99);
    assert_int_equal(kv_merge(s, &old, T0), 0);
    recon_entry same = entry("a", "same", ts, 1);
    assert_int_equal(kv_merge(s, &same, T0), 0);
    assert_true(has_value(s, "a", "1"));
    /* A timestamp tie goes to the larger writer id, on every replica. */
    recon_entry tie = entry("a", "tie", ts, 2);
    assert_int_equal(kv_merge(s, &tie, T0), 1);
    assert_true(has_value(s, "a", "tie"));
    /* A tombstone is a newer version without a value. */
    recon_entry del = entry("a", NULL, ts + 1, 1);
    assert_int_equal(kv_merge(s, &del, T0), 1);
    assert_true(has_value(s, "a", NULL));
    assert_int_equal(kv_del(s, "a", 1, T0, NULL, &v), GOSSIP_ERR_NOT_FOUND);
    /* ...and an older put does not bring it back. */
    recon_entry back = entry("a", "zombie", ts, 5);
    assert_int_equal(kv_merge(s, &back, T0), 0);
    assert_true(has_value(s, "a", NULL));
    /* A write after it does. */
    assert_int_equal(kv_put(s, "a", 1, "again", 5, T0, NULL, &v), 0);
    assert_true(v.ts > ts + 1);
    assert_true(has_value(s, "a", "again"));
    assert_int_equal(kv_del(s, "a", 1, T0, NULL, &v), 0);
    assert_true(has_value(s, "a", NULL));
    /* Empty values are values. */
    assert_int_equal(kv_put(s, "empty", 5, NULL, 0, T0, NULL, &v), 0);
    assert_true(has_value(s, "empty", ""));
    assert_index_consistent(s);
    kv_free(s);
}

static void test_cas(void **state)
{
    (void)state;
    kv_store *s = new_store(1, 0);
    recon_version v, cur;
    uint64_t zero = 0;
    /* cas=0: only if absent. */
    assert_int_equal(kv_put(s, "k", 1, "1", 1, T0, &zero, &v), 0);
    assert_int_equal(kv_put(s, "k", 1, "2", 1, T0, &zero, &cur), KV_CAS_FAILED);
    assert_true(recon_version_eq(cur, v));
    uint64_t wrong = v.ts + 1, right = v.ts;
    assert_int_equal(kv_put(s, "k", 1, "2", 1, T0, &wrong, &cur), KV_CAS_FAILED);
    assert_true(has_value(s, "k", "1"));
    assert_int_equal(kv_put(s, "k", 1, "2", 1, T0, &right, &v), 0);
    assert_true(has_value(s, "k", "2"));
    /* Delete with cas, then cas=0 succeeds again on the tombstone. */
    assert_int_equal(kv_del(s, "k", 1, T0, &right, &cur), KV_CAS_FAILED);
    right = v.ts;
    assert_int_equal(kv_del(s, "k", 1, T0, &right, &v), 0);
    assert_int_equal(kv_put(s, "k", 1, "3", 1, T0, &zero, &v), 0);
    kv_stats st;
    kv_get_stats(s, &st);
    assert_int_equal(st.cas_failed, 3);
    kv_free(s);
}

static void test_limits(void **state)
{
    (void)state;
    kv_config c;
    kv_config_default(&c);
    c.max_key = 8;
    c.max_value = 16;
    c.max_entries = 3;
    kv_store *s;
    assert_int_equal(kv_new(&s, NULL, &c), 0);
    recon_version v;
    char big[32];
    memset(big, 'x', sizeof big);
    assert_int_equal(kv_put(s, big, 9, "v", 1, T0, NULL, &v), GOSSIP_ERR_OVERSIZE);
    assert_int_equal(kv_put(s, "k", 1, big, 17, T0, NULL, &v), GOSSIP_ERR_OVERSIZE);
    assert_int_equal(kv_put(s, "k", 1, big, 16, T0, NULL, &v), 0);
    assert_int_equal(kv_put(s, "", 0, "v", 1, T0, NULL, &v), GOSSIP_ERR_INVALID);
    recon_entry e = {(const uint8_t *)big, 9, NULL, 0, {1, 1}, true};
    assert_int_equal(kv_merge(s, &e, T0), GOSSIP_ERR_OVERSIZE);
    recon_entry bad = {(const uint8_t *)"t", 1, (const uint8_t *)"x", 1, {1, 1}, true};
    assert_int_equal(kv_merge(s, &bad, T0), GOSSIP_ERR_INVALID);
    assert_int_equal(kv_put(s, "k2", 2, "v", 1, T0, NULL, &v), 0);
    assert_int_equal(kv_put(s, "k3", 2, "v", 1, T0, NULL, &v), 0);
    assert_int_equal(kv_put(s, "k4", 2, "v", 1, T0, NULL, &v), GOSSIP_ERR_FULL);
    assert_int_equal(kv_put(s, "k3", 2, "w", 1, T0, NULL, &v), 0); /* updates still go */
    kv_stats st;
    kv_get_stats(s, &st);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.entries, 3);
    assert_index_consistent(s);
    kv_free(s);
    c.max_key = 0;
    assert_int_equal(kv_new(&s, NULL, &c), GOSSIP_ERR_INVALID);
    c.max_key = KV_MAX_KEY + 1;
    assert_int_equal(kv_new(&s, NULL, &c), GOSSIP_ERR_INVALID);
}

static int count_fn(void *arg, const recon_entry *e)
{
    (void)e;
    (*(int *)arg)++;
    return 0;
}

static void test_prefix(void **state)
{
    (void)state;
    kv_store *s = new_store(1, 0);
    recon_version v;
    const char *keys[] = {"svc/a", "svc/b", "svc", "sv", "other/svc/x"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(kv_put(s, keys[i], strlen(keys[i]), "v", 1, T0, NULL, &v), 0);
    int n = 0;
    kv_each(s, "svc/", 4, count_fn, &n);
    assert_int_equal(n, 2);
    n = 0;
    kv_each(s, "sv", 2, count_fn, &n);
    assert_int_equal(n, 4);
    n = 0;
    kv_each(s, NULL, 0, count_fn, &n);
    assert_int_equal(n, 5);
    kv_free(s);
}

/* ---- tombstones ---------------------------------------------------------------- */

static void test_gc(void **state)
{
    (void)state;
    const uint64_t H = 1000;
    kv_store *s = new_store(1, H);
    recon_version v;
    assert_int_equal(kv_put(s, "a", 1, "1", 1, T0, NULL, &v), 0);
    assert_int_equal(kv_put(s, "b", 1, "1", 1, T0, NULL, &v), 0);
    assert_int_equal(kv_del(s, "a", 1, T0 + 10, NULL, &v), 0);
    /* Not before the horizon, whatever the sessions say. */
    assert_int_equal(kv_gc(s, T0 + 10 + H - 1, UINT64_MAX), 0);
    /* Not before every live peer completed a session after it arrived. */
    assert_int_equal(kv_gc(s, T0 + 10 + H, T0 + 10), 0);
    assert_true(has_value(s, "a", NULL));
    assert_int_equal(kv_gc(s, T0 + 10 + H, T0 + 11), 1);
    recon_entry e;
    assert_int_equal(kv_get(s, "a", 1, &e), GOSSIP_ERR_NOT_FOUND);
    assert_true(has_value(s, "b", "1")); /* live entries are never collected */
    assert_int_equal(kv_gc(s, T0 + 100 * H, UINT64_MAX), 0);
    assert_index_consistent(s);

    /* An expired tombstone for a key this replica does not hold stays out... */
    recon_entry old = entry("a", NULL, v.ts, 1);
    assert_int_equal(kv_merge(s, &old, T0 + 10 + H), 0);
    assert_int_equal(kv_get(s, "a", 1, &e), GOSSIP_ERR_NOT_FOUND);
    /* ...but it still deletes an older live value (and is kept for a while). */
    assert_int_equal(kv_del(s, "b", 1, T0 + 20, NULL, &v), 0);
    recon_entry live = entry("c", "1", v.ts - 1, 3);
    assert_int_equal(kv_merge(s, &live, T0 + 20), 1);
    recon_entry kill = entry("c", NULL, v.ts, 3);
    assert_int_equal(kv_merge(s, &kill, T0 + 20 + 5 * H), 1);
    assert_true(has_value(s, "c", NULL));
    /* Held since T0 + 20 + 5H: a session from before that does not count. */
    assert_int_equal(kv_gc(s, T0 + 20 + 5 * H, T0 + 20 + 5 * H), 1); /* only b */
    assert_true(has_value(s, "c", NULL));
    assert_int_equal(kv_gc(s, T0 + 20 + 5 * H, T0 + 21 + 5 * H), 1);
    kv_stats st;
    kv_get_stats(s, &st);
    assert_int_equal(st.expired_refused, 1);
    assert_int_equal(st.gc_collected, 3);
    assert_int_equal(st.entries, 0);
    assert_index_consistent(s);
    kv_free(s);
}

/* ---- the log ----------------------------------------------------------------------- */

typedef struct collected {
    recon_entry e[64];
    char keys[64][16];
    size_t n;
} collected;

static int collect(void *arg, const recon_entry *e)
{
    collected *c = arg;
    assert_true(c->n < 64);
    c->e[c->n++] = *e;
    return 0;
}

static size_t build_log(recon_buf *b, size_t *ends, size_t n)
{
    kv_log_put_header(b);
    for (size_t i = 0; i < n; i++) {
        char key[16], val[40];
        snprintf(key, sizeof key, "key%zu", i);
        snprintf(val, sizeof val, "value number %zu", i * 7919);
        recon_entry e = entry(key, i % 5 == 4 ? NULL : val, 1000 + i, 3);
        size_t before = b->len;
        kv_log_put_record(b, &e);
        assert_int_equal(b->len - before, kv_log_record_size(&e));
        ends[i] = b->len;
    }
    assert_int_equal(b->err, 0);
    return b->len;
}

static void test_log(void **state)
{
    (void)state;
    recon_buf b;
    recon_buf_init(&b, NULL);
    size_t ends[20];
    size_t len = build_log(&b, ends, 20);
    size_t valid;
    uint64_t recs;
    collected c = {.n = 0};
    assert_int_equal(kv_log_scan(b.p, len, 64, 1024, collect, &c, &valid, &recs), KV_LOG_CLEAN);
    assert_int_equal(valid, len);
    assert_int_equal(recs, 20);
    assert_int_equal(c.e[4].tombstone, true);
    assert_memory_equal(c.e[3].key, "key3", 4);
    assert_int_equal(c.e[3].version.ts, 1003);

    /* Every truncation: the complete records before it, never a partial one. */
    for (size_t cut = 0; cut < len; cut++) {
        c.n = 0;
        int end = kv_log_scan(b.p, cut, 64, 1024, collect, &c, &valid, &recs);
        size_t want = cut < KV_LOG_HEADER ? 0 : KV_LOG_HEADER;
        size_t whole = 0;
        for (size_t i = 0; i < 20 && ends[i] <= cut; i++) {
            want = ends[i];
            whole = i + 1;
        }
        assert_int_equal(valid, want);
        assert_int_equal(recs, whole);
        assert_int_equal(c.n, whole);
        assert_int_equal(end, cut == want && cut >= KV_LOG_HEADER ? KV_LOG_CLEAN : KV_LOG_TORN);
    }
    /* Every damaged byte: the scan stops at the record holding it. */
    for (size_t at = KV_LOG_HEADER; at < len; at++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, b.p, len);
        copy[at] ^= 0x20;
        int end = kv_log_scan(copy, len, 64, 1024, collect, &c, &valid, &recs);
        size_t start = KV_LOG_HEADER;
        for (size_t i = 0; i < 20 && ends[i] <= at; i++)
            start = ends[i];
        /* A damaged length may also make the record look torn. */
        assert_true(end == KV_LOG_CORRUPT || end == KV_LOG_TORN);
        assert_int_equal(valid, start);
        c.n = 0;
        free(copy);
    }
    /* Not a log. */
    uint8_t junk[16] = "GKVLOG02xxxxxxx";
    assert_int_equal(kv_log_scan(junk, sizeof junk, 64, 1024, collect, &c, &valid, &recs),
                     KV_LOG_BAD_HEADER);
    assert_int_equal(valid, 0);
    assert_int_equal(kv_log_scan(junk, 3, 64, 1024, collect, &c, &valid, &recs), KV_LOG_TORN);
    /* A record over the limits is corrupt, not a reason to allocate. */
    c.n = 0;
    assert_int_equal(kv_log_scan(b.p, len, 3, 1024, collect, &c, &valid, &recs), KV_LOG_CORRUPT);
    assert_int_equal(valid, KV_LOG_HEADER);
    recon_buf_free(&b);
}

/* ---- messages ------------------------------------------------------------------ */

static void test_messages(void **state)
{
    (void)state;
    recon_buf b;
    recon_buf_init(&b, NULL);
    kv_msg_begin(&b, KV_MSG_RUMOR);
    recon_entry e1 = entry("alpha", "one", 10, 1), e2 = entry("beta", NULL, 11, 2);
    recon_put_entry(&b, &e1);
    recon_put_entry(&b, &e2);
    kv_msg m;
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), 0);
    assert_int_equal(m.type, KV_MSG_RUMOR);
    assert_int_equal(m.n, 2);
    size_t off = 0;
    recon_entry got;
    kv_msg_entry(&m, &off, &got);
    assert_memory_equal(got.key, "alpha", 5);
    kv_msg_entry(&m, &off, &got);
    assert_true(got.tombstone);
    assert_int_equal(off, m.body_len);
    for (size_t cut = 0; cut < b.len; cut++)
        assert_true(kv_msg_parse(b.p, cut, 64, 64, 1 << 20, &m) < 0 ||
                    cut == KV_MSG_HEADER + recon_entry_size(&e1));
    assert_int_equal(kv_msg_parse(b.p, b.len, 4, 64, 1 << 20, &m), GOSSIP_ERR_OVERSIZE);
    b.p[2] = 9;
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), GOSSIP_ERR_BAD_VERSION);
    b.p[2] = 1;
    b.p[3] = 77;
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), GOSSIP_ERR_BAD_TYPE);
    b.p[0] = 'X';
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), GOSSIP_ERR_BAD_MAGIC);

    recon_buf_reset(&b);
    kv_msg_begin(&b, KV_MSG_FEEDBACK);
    kv_feedback f = {12345, {99, 7}, true}, g;
    kv_msg_put_feedback(&b, &f);
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), 0);
    assert_int_equal(m.n, 1);
    off = 0;
    kv_msg_feedback(&m, &off, &g);
    assert_int_equal(g.khash, 12345);
    assert_int_equal(g.v.writer, 7);
    assert_true(g.knew);
    assert_int_equal(kv_msg_parse(b.p, b.len - 1, 64, 64, 1 << 20, &m), GOSSIP_ERR_MALFORMED);
    b.p[b.len - 1] = 2;
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), GOSSIP_ERR_MALFORMED);

    recon_buf_reset(&b);
    kv_msg_session(&b, 0xabcdef, KV_SESSION_FROM_INITIATOR, 100, 40, (const uint8_t *)"0123456789", 10);
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), 0);
    assert_int_equal(m.sid, 0xabcdef);
    assert_int_equal(m.total, 100);
    assert_int_equal(m.offset, 40);
    assert_int_equal(m.chunk_len, 10);
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 99, &m), GOSSIP_ERR_OVERSIZE);
    for (size_t cut = 0; cut < KV_SESSION_HEADER + 1; cut++)
        assert_true(kv_msg_parse(b.p, cut, 64, 64, 1 << 20, &m) < 0);
    recon_buf_reset(&b);
    kv_msg_session(&b, 1, 0, 100, 95, (const uint8_t *)"0123456789", 10); /* past total */
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), GOSSIP_ERR_MALFORMED);
    recon_buf_reset(&b);
    kv_msg_session(&b, 1, 4, 100, 0, (const uint8_t *)"0123456789", 10); /* unknown flag */
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), GOSSIP_ERR_MALFORMED);
    recon_buf_reset(&b);
    kv_msg_session(&b, 1, KV_SESSION_ABORT, 0, 0, NULL, 0);
    assert_int_equal(kv_msg_parse(b.p, b.len, 64, 64, 1 << 20, &m), 0);
    recon_buf_free(&b);
}

/* ---- the allocator -------------------------------------------------------------- */

typedef struct budget {
    long left;
} budget;

static void *b_malloc(void *ud, size_t n)
{
    budget *b = ud;
    return b->left-- > 0 ? malloc(n) : NULL;
}

static void *b_realloc(void *ud, void *p, size_t n)
{
    budget *b = ud;
    return b->left-- > 0 ? realloc(p, n) : NULL;
}

static void b_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

static void test_allocator_failures(void **state)
{
    (void)state;
    for (long limit = 0; limit < 400; limit += 3) {
        budget bud = {limit};
        gossip_allocator a = {b_malloc, b_realloc, b_free, &bud};
        kv_config c;
        kv_config_default(&c);
        kv_store *s = NULL;
        if (kv_new(&s, &a, &c) != 0)
            continue;
        gossip_rng rng;
        gossip_rng_seed(&rng, (uint64_t)limit);
        for (int i = 0; i < 300; i++) {
            char key[16], val[64];
            snprintf(key, sizeof key, "k%d", (int)gossip_rng_below(&rng, 90));
            size_t vl = (size_t)gossip_rng_below(&rng, sizeof val);
            memset(val, 'a' + i % 26, vl);
            recon_version v;
            int rc;
            if (gossip_rng_below(&rng, 4) == 0)
                rc = kv_del(s, key, strlen(key), T0 + i, NULL, &v);
            else
                rc = kv_put(s, key, strlen(key), val, vl, T0 + i, NULL, &v);
            assert_true(rc == 0 || rc == GOSSIP_ERR_NOMEM || rc == GOSSIP_ERR_NOT_FOUND);
            if (i % 50 == 49)
                kv_gc(s, T0 + (uint64_t)i + KV_DEFAULT_HORIZON_MS, UINT64_MAX);
        }
        /* Whatever failed, what is there is consistent. */
        assert_index_consistent(s);
        kv_free(s);
    }
}

/* ---- the property -------------------------------------------------------------- */

#define R 4
#define NKEYS 20
#define STEPS 500
#define HORIZON 400

typedef struct replica {
    kv_store *s;
    recon_buf log;
    int64_t skew;
    unsigned generation;
    uint64_t synced[R]; /* own clock: start of the last completed session with j */
} replica;

typedef struct acked {
    bool written;
    recon_version v;
    bool tomb;
    char value[48];
} acked;

typedef struct world {
    replica r[R];
    acked model[NKEYS];
    uint64_t t;
    gossip_rng rng;
    bool partitioned;
    uint64_t seed;
    uint64_t horizon; /* HORIZON with collection, else the default 24 h */
    unsigned sessions, rumors, restarts, collected;
} world;

static void on_change(void *ud, const kv_change *c)
{
    replica *r = ud;
    if (c->cause != KV_GC && c->cause != KV_LOADED)
        kv_log_put_record(&r->log, c->entry);
}

static uint64_t now_of(const world *w, int i) { return (uint64_t)((int64_t)w->t + w->r[i].skew); }

static void open_replica(world *w, int i)
{
    replica *r = &w->r[i];
    kv_config c;
    kv_config_default(&c);
    c.writer = (uint64_t)(i + 1) | (uint64_t)r->generation << 8;
    c.horizon_ms = w->horizon;
    c.max_key = 16;
    c.max_value = 64;
    c.on_change = on_change;
    c.ud = r;
    assert_int_equal(kv_new(&r->s, NULL, &c), 0);
}

typedef struct loader {
    kv_store *s;
    uint64_t now;
} loader;

static int load_one(void *arg, const recon_entry *e)
{
    loader *l = arg;
    assert_true(kv_load(l->s, e, l->now) >= 0);
    return 0;
}

static int log_one(void *arg, const recon_entry *e)
{
    kv_log_put_record(arg, e);
    return 0;
}

/* A crash and a restart from the log (compacted first, sometimes). */
static void restart(world *w, int i)
{
    replica *r = &w->r[i];
    if (gossip_rng_below(&w->rng, 2) == 0) { /* compaction */
        recon_buf fresh;
        recon_buf_init(&fresh, NULL);
        kv_log_put_header(&fresh);
        kv_each(r->s, NULL, 0, log_one, &fresh);
        recon_buf_free(&r->log);
        r->log = fresh;
    }
    kv_free(r->s);
    r->generation++;
    open_replica(w, i);
    loader l = {r->s, now_of(w, i)};
    size_t valid;
    uint64_t recs;
    int end = kv_log_scan(r->log.p, r->log.len, 16, 64, load_one, &l, &valid, &recs);
    assert_int_equal(end, KV_LOG_CLEAN);
    assert_int_equal(valid, r->log.len);
    w->restarts++;
}

static bool reachable(const world *w, int i, int j)
{
    return !w->partitioned || (i < R / 2) == (j < R / 2);
}

static void run_session(world *w, int i, int j)
{
    recon_config cfg;
    recon_config_default(&cfg);
    cfg.method = (recon_method)(1 + gossip_rng_below(&w->rng, 3));
    cfg.max_key = 16;
    cfg.max_value = 64;
    uint64_t start_i = now_of(w, i), start_j = now_of(w, j);
    kv_set_now(w->r[i].s, start_i);
    kv_set_now(w->r[j].s, start_j);
    recon_store si = kv_recon_store(w->r[i].s), sj = kv_recon_store(w->r[j].s);
    recon_session *side[2];
    assert_int_equal(recon_session_new(&side[0], NULL, &cfg, &si, true), 0);
    assert_int_equal(recon_session_new(&side[1], NULL, &cfg, &sj, false), 0);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(recon_session_start(side[0], &msg, &len), 0);
    int turn = 1, messages = 0;
    while (len > 0) {
        assert_true(++messages < 200);
        assert_int_equal(recon_session_recv(side[turn], msg, len, &msg, &len), 0);
        turn ^= 1;
    }
    assert_true(recon_session_done(side[0]) && recon_session_done(side[1]));
    recon_session_free(side[0]);
    recon_session_free(side[1]);
    w->r[i].synced[j] = start_i;
    w->r[j].synced[i] = start_j;
    w->sessions++;
}

typedef struct picker {
    uint64_t k;
    recon_entry e;
    uint8_t key[16], val[64];
} picker;

static int pick(void *arg, const recon_entry *e)
{
    picker *p = arg;
    if (p->k-- != 0)
        return 0;
    p->e = *e;
    memcpy(p->key, e->key, e->key_len);
    if (e->value_len)
        memcpy(p->val, e->value, e->value_len);
    p->e.key = p->key;
    p->e.value = e->value_len ? p->val : NULL;
    return 1;
}

/* One entry of i, as a rumor to j (any entry: order, duplicates, staleness). */
static void rumor(world *w, int i, int j)
{
    kv_stats st;
    kv_get_stats(w->r[i].s, &st);
    if (st.entries == 0)
        return;
    picker p = {.k = gossip_rng_below(&w->rng, st.entries)};
    assert_int_equal(kv_each(w->r[i].s, NULL, 0, pick, &p), 1);
    assert_true(kv_merge(w->r[j].s, &p.e, now_of(w, j)) >= 0);
    w->rumors++;
}

static void gc(world *w, int i)
{
    uint64_t safe = UINT64_MAX;
    for (int j = 0; j < R; j++)
        if (j != i && w->r[i].synced[j] < safe)
            safe = w->r[i].synced[j];
    w->collected += (unsigned)kv_gc(w->r[i].s, now_of(w, i), safe);
}

static void do_write(world *w, int i, bool del)
{
    int k = (int)gossip_rng_below(&w->rng, NKEYS);
    char key[16], val[48];
    snprintf(key, sizeof key, "key%d", k);
    snprintf(val, sizeof val, "s%llu-t%llu-r%d", (unsigned long long)w->seed,
             (unsigned long long)w->t, i);
    recon_version v;
    int rc = del ? kv_del(w->r[i].s, key, strlen(key), now_of(w, i), NULL, &v)
                 : kv_put(w->r[i].s, key, strlen(key), val, strlen(val), now_of(w, i), NULL, &v);
    if (rc == GOSSIP_ERR_NOT_FOUND && del)
        return;
    assert_int_equal(rc, 0); /* acknowledged */
    acked *a = &w->model[k];
    if (!a->written || recon_version_cmp(v, a->v) > 0) {
        a->written = true;
        a->v = v;
        a->tomb = del;
        snprintf(a->value, sizeof a->value, "%s", del ? "" : val);
    }
}

static bool all_equal(const world *w)
{
    for (int i = 1; i < R; i++) {
        const recon_index *a = kv_index(w->r[0].s), *b = kv_index(w->r[i].s);
        if (merkle_root(&a->tree) != merkle_root(&b->tree) ||
            merkle_count(&a->tree) != merkle_count(&b->tree))
            return false;
    }
    return true;
}

static void check_final(world *w)
{
    for (int i = 0; i < R; i++)
        assert_index_consistent(w->r[i].s);
    for (int k = 0; k < NKEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", k);
        const acked *a = &w->model[k];
        for (int i = 0; i < R; i++) {
            recon_entry e;
            int rc = kv_get(w->r[i].s, key, strlen(key), &e);
            if (!a->written) {
                assert_int_equal(rc, GOSSIP_ERR_NOT_FOUND);
                continue;
            }
            if (a->tomb) { /* deleted: a tombstone at that version, or collected */
                if (rc == 0) {
                    assert_true(e.tombstone);
                    assert_true(recon_version_eq(e.version, a->v));
                }
                continue;
            }
            if (rc != 0 || e.tombstone || !recon_version_eq(e.version, a->v) ||
                e.value_len != strlen(a->value) ||
                (e.value_len && memcmp(e.value, a->value, e.value_len) != 0))
                fail_msg("seed %llu: replica %d does not hold the last write of %s (%s)",
                         (unsigned long long)w->seed, i, key, a->value);
        }
    }
}

static void run_world(uint64_t seed, bool with_gc, unsigned *stats)
{
    world w;
    memset(&w, 0, sizeof w);
    w.seed = seed;
    w.t = T0;
    w.horizon = with_gc ? HORIZON : KV_DEFAULT_HORIZON_MS;
    gossip_rng_seed(&w.rng, seed);
    for (int i = 0; i < R; i++) {
        w.r[i].skew = (int64_t)gossip_rng_below(&w.rng, 61) - 30;
        recon_buf_init(&w.r[i].log, NULL);
        kv_log_put_header(&w.r[i].log);
        open_replica(&w, i);
    }
    for (int step = 0; step < STEPS; step++) {
        w.t += gossip_rng_below(&w.rng, 12);
        int i = (int)gossip_rng_below(&w.rng, R);
        int j = (int)((unsigned)(i + 1 + gossip_rng_below(&w.rng, R - 1)) % R);
        uint64_t op = gossip_rng_below(&w.rng, 100);
        if (op < 30)
            do_write(&w, i, false);
        else if (op < 40)
            do_write(&w, i, true);
        else if (op < 75) {
            if (reachable(&w, i, j) && gossip_rng_below(&w.rng, 5) != 0) /* 20% lost */
                rumor(&w, i, j);
        } else if (op < 85) {
            if (reachable(&w, i, j))
                run_session(&w, i, j);
        } else if (op < 93) {
            if (with_gc)
                gc(&w, i);
        } else if (op < 96) {
            restart(&w, i);
        } else {
            w.partitioned = !w.partitioned;
        }
    }
    /* Heal, let time pass the horizon, and run rounds of sessions between
     * every pair (and collection) until the replicas agree. */
    w.partitioned = false;
    int rounds = 0;
    do {
        if (++rounds >= 12) { /* say how they differ */
            for (int i = 0; i < R; i++) {
                kv_stats st;
                kv_get_stats(w.r[i].s, &st);
                fprintf(stderr, "seed %llu gc %d replica %d: %llu live, %llu tombstones, root %llx\n",
                        (unsigned long long)seed, with_gc, i, (unsigned long long)st.live,
                        (unsigned long long)st.tombstones,
                        (unsigned long long)merkle_root(&kv_index(w.r[i].s)->tree));
            }
            fail_msg("seed %llu: the replicas never agreed", (unsigned long long)seed);
        }
        w.t += HORIZON;
        for (int i = 0; i < R; i++)
            for (int j = 0; j < R; j++)
                if (i != j)
                    run_session(&w, i, j);
        if (with_gc)
            for (int i = 0; i < R; i++)
                gc(&w, i);
    } while (!all_equal(&w));
    check_final(&w);
    stats[0] += w.sessions;
    stats[1] += w.rumors;
    stats[2] += w.restarts;
    stats[3] += w.collected;
    for (int i = 0; i < R; i++) {
        kv_free(w.r[i].s);
        recon_buf_free(&w.r[i].log);
    }
}

static void test_property(void **state)
{
    (void)state;
    unsigned stats[4] = {0, 0, 0, 0};
    for (uint64_t seed = 1; seed <= 150; seed++)
        run_world(seed, false, stats);
    for (uint64_t seed = 1001; seed <= 1150; seed++)
        run_world(seed, true, stats);
    printf("property: 300 seeds, %u sessions, %u rumors, %u restarts, %u tombstones collected\n",
           stats[0], stats[1], stats[2], stats[3]);
    assert_true(stats[3] > 0);
    assert_true(stats[2] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hlc),
        cmocka_unit_test(test_lww),
        cmocka_unit_test(test_cas),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_gc),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_allocator_failures),
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
