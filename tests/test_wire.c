/* test_wire.c -- the datagram codec: decode(encode(x)) == x over random
 * messages, and rejection of truncated, oversize, wrong-typed and absurd
 * input with the right error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpuck.h>

#include "core/rng.h"
#include "wire/wire.h"

#define ROUNDTRIP_RUNS 2000
#define BUF 65536

static const wire_limits LIMITS = {BUF, 1024, 64};

/* Random text lives in this pool so that wire_str can point into it. */
static char pool[1 << 20];
static size_t pool_used;

static wire_str random_text(gossip_rng *rng, uint32_t max)
{
    uint32_t len = 1 + (uint32_t)gossip_rng_below(rng, max);
    char *p = pool + pool_used;
    for (uint32_t i = 0; i < len; i++)
        p[i] = (char)('a' + gossip_rng_below(rng, 26));
    pool_used += len;
    return (wire_str){p, len};
}

static uint64_t random_u64(gossip_rng *rng)
{
    /* mix small and huge values to exercise every uint width */
    switch (gossip_rng_below(rng, 4)) {
    case 0: return gossip_rng_below(rng, 128);
    case 1: return gossip_rng_below(rng, 70000);
    case 2: return gossip_rng_below(rng, 1ull << 33);
    default: return gossip_rng_next(rng);
    }
}

static void random_digests(gossip_rng *rng, wire_digest *d, uint32_t *n)
{
    *n = (uint32_t)gossip_rng_below(rng, 12);
    for (uint32_t i = 0; i < *n; i++) {
        d[i].name = random_text(rng, GOSSIP_MAX_NAME);
        d[i].generation = random_u64(rng);
        d[i].max_version = random_u64(rng);
        d[i].has_record = gossip_rng_below(rng, 2);
        d[i].incarnation = d[i].has_record ? random_u64(rng) : 0;
        d[i].status = d[i].has_record ? (uint8_t)gossip_rng_below(rng, WIRE_MAX_STATUS + 1) : 0;
    }
}

static void random_msg(gossip_rng *rng, wire_msg *m)
{
    wire_msg_init(m, BUF);
    pool_used = 0;
    m->type = (uint8_t)(1 + gossip_rng_below(rng, GOSSIP_MSG_TYPE_COUNT - 1));
    m->flags = (uint8_t)gossip_rng_below(rng, 2);
    m->from = random_text(rng, GOSSIP_MAX_NAME);
    m->addr = random_text(rng, GOSSIP_MAX_ADDR);
    m->has_table_hash = gossip_rng_below(rng, 2);
    m->table_hash = m->has_table_hash ? random_u64(rng) : 0;
    m->members = random_u64(rng);
    if (gossip_rng_below(rng, 2)) {
        m->bucket_bits = (uint32_t)gossip_rng_below(rng, WIRE_MAX_BUCKET_BITS + 1);
        m->n_buckets = 1u << m->bucket_bits;
        for (uint32_t i = 0; i < m->n_buckets; i++)
            m->buckets[i] = (uint32_t)gossip_rng_next(rng);
        m->n_listed = (uint32_t)gossip_rng_below(rng, m->n_buckets + 1);
        for (uint32_t i = 0; i < m->n_listed; i++)
            m->listed[i] = (uint32_t)gossip_rng_below(rng, m->n_buckets);
    }
    random_digests(rng, m->digests, &m->n_digests);
    random_digests(rng, m->requests, &m->n_requests);
    if (gossip_rng_below(rng, 2)) {
        m->has_seq = true;
        m->seq = random_u64(rng);
        m->target = random_text(rng, GOSSIP_MAX_NAME);
        m->target_addr = random_text(rng, GOSSIP_MAX_ADDR);
    }
    m->n_news = (uint32_t)gossip_rng_below(rng, 5);
    for (uint32_t i = 0; i < m->n_news; i++) {
        wire_news *e = &m->news[i];
        e->name = random_text(rng, GOSSIP_MAX_NAME);
        e->generation = random_u64(rng);
        e->incarnation = random_u64(rng);
        e->status = (uint8_t)gossip_rng_below(rng, WIRE_MAX_STATUS + 1);
        e->from = random_text(rng, GOSSIP_MAX_NAME);
    }
    m->n_deltas = (uint32_t)gossip_rng_below(rng, 6);
    for (uint32_t i = 0; i < m->n_deltas; i++) {
        wire_delta *d = &m->deltas[i];
        d->name = random_text(rng, GOSSIP_MAX_NAME);
        d->generation = random_u64(rng);
        d->from_version = random_u64(rng);
        d->heartbeat = random_u64(rng);
        d->has_record = true; /* our encoder always writes the record */
        d->incarnation = random_u64(rng);
        d->status = (uint8_t)gossip_rng_below(rng, WIRE_MAX_STATUS + 1);
        d->kv_first = m->n_kvs;
        d->kv_count = (uint32_t)gossip_rng_below(rng, 5);
        for (uint32_t k = 0; k < d->kv_count; k++) {
            wire_kv *kv = &m->kvs[m->n_kvs++];
            static const char *const known[] = {"status", "schema", "address"};
            if (gossip_rng_below(rng, 3) == 0) {
                const char *name = known[gossip_rng_below(rng, 3)];
                kv->key = (wire_str){name, (uint32_t)strlen(name)};
            } else {
                kv->key = random_text(rng, GOSSIP_MAX_KEY);
            }
            kv->version = 1 + gossip_rng_below(rng, 1ull << 40);
            kv->deleted = gossip_rng_below(rng, 5) == 0;
            kv->value = NULL;
            kv->value_len = 0;
            if (!kv->deleted) {
                wire_str v = random_text(rng, 300);
                kv->value = (const uint8_t *)v.ptr;
                kv->value_len = gossip_rng_below(rng, 8) == 0 ? 0 : v.len;
            }
        }
    }
}

static bool str_eq(wire_str a, wire_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void assert_digests_equal(const wire_digest *x, const wire_digest *y, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        assert_true(str_eq(x[i].name, y[i].name));
        assert_int_equal(x[i].generation, y[i].generation);
        assert_int_equal(x[i].max_version, y[i].max_version);
        assert_int_equal(x[i].has_record, y[i].has_record);
        assert_int_equal(x[i].incarnation, y[i].incarnation);
        assert_int_equal(x[i].status, y[i].status);
    }
}

static void assert_msgs_equal(const wire_msg *x, const wire_msg *y)
{
    assert_int_equal(x->type, y->type);
    assert_int_equal(x->flags, y->flags);
    assert_true(str_eq(x->from, y->from));
    assert_true(str_eq(x->addr, y->addr));
    assert_int_equal(x->has_table_hash, y->has_table_hash);
    assert_int_equal(x->table_hash, y->table_hash);
    assert_int_equal(x->members, y->members);
    assert_int_equal(x->n_buckets, y->n_buckets);
    assert_memory_equal(x->buckets, y->buckets, x->n_buckets * sizeof x->buckets[0]);
    assert_int_equal(x->n_listed, y->n_listed);
    assert_memory_equal(x->listed, y->listed, x->n_listed * sizeof x->listed[0]);
    assert_int_equal(x->n_digests, y->n_digests);
    assert_digests_equal(x->digests, y->digests, x->n_digests);
    assert_int_equal(x->n_requests, y->n_requests);
    assert_digests_equal(x->requests, y->requests, x->n_requests);
    assert_int_equal(x->has_seq, y->has_seq);
    assert_int_equal(x->seq, y->seq);
    assert_true(str_eq(x->target, y->target));
    assert_true(str_eq(x->target_addr, y->target_addr));
    assert_int_equal(x->n_news, y->n_news);
    for (uint32_t i = 0; i < x->n_news; i++) {
        assert_true(str_eq(x->news[i].name, y->news[i].name));
        assert_true(str_eq(x->news[i].from, y->news[i].from));
        assert_int_equal(x->news[i].generation, y->news[i].generation);
        assert_int_equal(x->news[i].incarnation, y->news[i].incarnation);
        assert_int_equal(x->news[i].status, y->news[i].status);
    }
    assert_int_equal(x->n_deltas, y->n_deltas);
    assert_int_equal(x->n_kvs, y->n_kvs);
    for (uint32_t i = 0; i < x->n_deltas; i++) {
        const wire_delta *a = &x->deltas[i], *b = &y->deltas[i];
        assert_true(str_eq(a->name, b->name));
        assert_int_equal(a->generation, b->generation);
        assert_int_equal(a->from_version, b->from_version);
        assert_int_equal(a->heartbeat, b->heartbeat);
        assert_int_equal(a->incarnation, b->incarnation);
        assert_int_equal(a->status, b->status);
        assert_int_equal(a->kv_count, b->kv_count);
        for (uint32_t k = 0; k < a->kv_count; k++) {
            const wire_kv *p = &x->kvs[a->kv_first + k], *q = &y->kvs[b->kv_first + k];
            assert_true(str_eq(p->key, q->key));
            assert_int_equal(p->version, q->version);
            assert_int_equal(p->deleted, q->deleted);
            assert_int_equal(p->value_len, q->value_len);
            if (p->value_len)
                assert_memory_equal(p->value, q->value, p->value_len);
        }
    }
}

static wire_msg *msg_a, *msg_b;
static uint8_t buf[BUF];

static void test_roundtrip_random_messages(void **state)
{
    (void)state;
    gossip_rng rng;
    gossip_rng_seed(&rng, 42);
    for (int run = 0; run < ROUNDTRIP_RUNS; run++) {
        random_msg(&rng, msg_a);
        size_t len;
        assert_int_equal(wire_encode(msg_a, buf, sizeof buf, &len), 0);
        assert_int_equal(wire_decode(buf, len, &LIMITS, msg_b), 0);
        assert_msgs_equal(msg_a, msg_b);
    }
}

static size_t encode_sample(void)
{
    gossip_rng rng;
    gossip_rng_seed(&rng, 7);
    do
        random_msg(&rng, msg_a);
    while (msg_a->n_deltas == 0 || msg_a->n_digests == 0);
    size_t len;
    assert_int_equal(wire_encode(msg_a, buf, sizeof buf, &len), 0);
    return len;
}

/* Every strict prefix of a valid datagram is rejected; none crashes. */
static void test_every_truncation_is_rejected(void **state)
{
    (void)state;
    size_t len = encode_sample();
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        memcpy(copy, buf, cut);
        assert_true(wire_decode(copy, cut, &LIMITS, msg_b) < 0);
        free(copy);
    }
}

static void test_header_errors(void **state)
{
    (void)state;
    size_t len = encode_sample();
    uint8_t copy[BUF];
    memcpy(copy, buf, len);
    copy[0] = 'X';
    assert_int_equal(wire_decode(copy, len, &LIMITS, msg_b), GOSSIP_ERR_BAD_MAGIC);
    memcpy(copy, buf, len);
    copy[2] = 99;
    assert_int_equal(wire_decode(copy, len, &LIMITS, msg_b), GOSSIP_ERR_BAD_VERSION);
    memcpy(copy, buf, len);
    copy[3] = 77;
    assert_int_equal(wire_decode(copy, len, &LIMITS, msg_b), GOSSIP_ERR_BAD_TYPE);
    wire_limits small = LIMITS;
    small.max_datagram = (uint32_t)len - 1;
    assert_int_equal(wire_decode(buf, len, &small, msg_b), GOSSIP_ERR_OVERSIZE);
    memcpy(copy, buf, len);
    copy[len] = 0xc0; /* trailing byte */
    assert_int_equal(wire_decode(copy, len + 1, &LIMITS, msg_b), GOSSIP_ERR_MALFORMED);
}

/* Builds a body by hand: header then the given MessagePack bytes. */
static size_t hand_made(uint8_t *out, const char *body, size_t body_len)
{
    out[0] = WIRE_MAGIC0, out[1] = WIRE_MAGIC1, out[2] = WIRE_PROTO_VERSION;
    out[3] = GOSSIP_MSG_SYN, out[4] = 0;
    memcpy(out + WIRE_HEADER_SIZE, body, body_len);
    return WIRE_HEADER_SIZE + body_len;
}

static char *put_sender(char *p)
{
    p = mp_encode_uint(p, WK_FROM);
    p = mp_encode_str(p, "a", 1);
    p = mp_encode_uint(p, WK_ADDR);
    return mp_encode_str(p, "b", 1);
}

static void test_unknown_keys_are_skipped(void **state)
{
    (void)state;
    char body[256], *p = body;
    p = mp_encode_map(p, 4);
    p = put_sender(p);
    p = mp_encode_uint(p, 99); /* a future field: nested containers and ext */
    p = mp_encode_map(p, 1);
    p = mp_encode_str(p, "x", 1);
    p = mp_encode_array(p, 2);
    p = mp_encode_double(p, 1.5);
    p = mp_encode_nil(p);
    p = mp_encode_str(p, "strkey", 6);
    p = mp_encode_bool(p, true);
    uint8_t dg[512];
    size_t len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), 0);
    assert_int_equal(msg_b->from.len, 1);
}

static void test_wrong_types_and_limits(void **state)
{
    (void)state;
    char body[4096], *p;
    uint8_t dg[8192];
    size_t len;

    /* table hash as a string */
    p = mp_encode_map(body, 3);
    p = put_sender(p);
    p = mp_encode_uint(p, WK_TABLE_HASH);
    p = mp_encode_str(p, "zz", 2);
    len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), GOSSIP_ERR_BAD_TYPE);

    /* a key given twice (found by fuzz_wire: a second "deltas" left the
     * first one's kvs behind, so re-encoding lost entries) */
    p = mp_encode_map(body, 4);
    p = put_sender(p);
    p = mp_encode_uint(p, WK_TABLE_HASH);
    p = mp_encode_uint(p, 1);
    p = mp_encode_uint(p, WK_TABLE_HASH);
    p = mp_encode_uint(p, 2);
    len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), GOSSIP_ERR_MALFORMED);

    /* a name longer than GOSSIP_MAX_NAME */
    char longname[GOSSIP_MAX_NAME + 1];
    memset(longname, 'n', sizeof longname);
    p = mp_encode_map(body, 2);
    p = mp_encode_uint(p, WK_FROM);
    p = mp_encode_str(p, longname, sizeof longname);
    p = mp_encode_uint(p, WK_ADDR);
    p = mp_encode_str(p, "b", 1);
    len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), GOSSIP_ERR_OVERSIZE);

    /* a NUL inside a name */
    p = mp_encode_map(body, 2);
    p = mp_encode_uint(p, WK_FROM);
    p = mp_encode_str(p, "a\0b", 3);
    p = mp_encode_uint(p, WK_ADDR);
    p = mp_encode_str(p, "b", 1);
    len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), GOSSIP_ERR_MALFORMED);

    /* an array that claims 4 billion digests in a few bytes */
    p = mp_encode_map(body, 3);
    p = put_sender(p);
    p = mp_encode_uint(p, WK_DIGESTS);
    p = mp_encode_array(p, 0xffffffffu);
    len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), GOSSIP_ERR_TRUNCATED);

    /* a map whose 2^31 pairs would wrap a naive 32-bit counter */
    p = mp_encode_map(body, 3);
    p = put_sender(p);
    p = mp_encode_uint(p, 50);
    p = mp_encode_map(p, 0x80000000u);
    len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), GOSSIP_ERR_TRUNCATED);

    /* a value over max_value */
    wire_limits small = LIMITS;
    small.max_value = 4;
    p = mp_encode_map(body, 3);
    p = put_sender(p);
    p = mp_encode_uint(p, WK_DELTAS);
    p = mp_encode_array(p, 1);
    p = mp_encode_array(p, 5);
    p = mp_encode_str(p, "n", 1);
    p = mp_encode_uint(p, 1);
    p = mp_encode_uint(p, 0);
    p = mp_encode_uint(p, 1);
    p = mp_encode_array(p, 1);
    p = mp_encode_array(p, 3);
    p = mp_encode_str(p, "k", 1);
    p = mp_encode_uint(p, 2);
    p = mp_encode_bin(p, "12345", 5);
    len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), 0);
    assert_int_equal(wire_decode(dg, len, &small, msg_b), GOSSIP_ERR_OVERSIZE);
    assert_int_equal(msg_b->n_deltas, 0); /* nothing half-decoded left behind */

    /* a sender-less message is not a message */
    p = mp_encode_map(body, 0);
    len = hand_made(dg, body, (size_t)(p - body));
    assert_int_equal(wire_decode(dg, len, &LIMITS, msg_b), GOSSIP_ERR_MALFORMED);
}

/* Random byte flips never crash the decoder (a mini fuzzer in the suite;
 * the libFuzzer harness in fuzz/ goes much further). */
static void test_random_mutations_do_not_crash(void **state)
{
    (void)state;
    gossip_rng rng;
    gossip_rng_seed(&rng, 99);
    size_t len = encode_sample();
    int accepted = 0;
    for (int run = 0; run < 20000; run++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        int flips = 1 + (int)gossip_rng_below(&rng, 4);
        for (int f = 0; f < flips; f++)
            copy[WIRE_HEADER_SIZE + gossip_rng_below(&rng, len - WIRE_HEADER_SIZE)] =
                (uint8_t)gossip_rng_next(&rng);
        accepted += wire_decode(copy, len, &LIMITS, msg_b) == 0;
        free(copy);
    }
    print_message("mutations accepted: %d of 20000\n", accepted);
    assert_true(accepted < 20000);
}

int main(void)
{
    msg_a = malloc(wire_msg_size(BUF));
    msg_b = malloc(wire_msg_size(BUF));
    wire_msg_init(msg_a, BUF);
    wire_msg_init(msg_b, BUF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_random_messages),
        cmocka_unit_test(test_every_truncation_is_rejected),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_unknown_keys_are_skipped),
        cmocka_unit_test(test_wrong_types_and_limits),
        cmocka_unit_test(test_random_mutations_do_not_crash),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(msg_a);
    free(msg_b);
    return rc;
}
