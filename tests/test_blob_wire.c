/* test_blob_wire.c -- the large-payload messages: every type round-trips;
 * truncation at every byte, wrong types, absurd counts, lists that do not
 * match their count, manifests that do not add up, oversize payloads and
 * chunks, missing and repeated fields, trailing bytes and random mutations
 * are rejected with a negative code, and a rejected message changes nothing
 * in an engine but its error counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpuck.h>
#include <sodium.h>

#include "core/blob.h"
#include "core/blob_wire.h"
#include "core/rng.h"

#define LIM_CHUNK_TEST 20000

static blob_limits LIM;
static blob_msg M; /* large: static */
static uint8_t HASH[BLOB_HASH_BYTES];

static int setup(void **state)
{
    (void)state;
    blob_settings s;
    blob_settings_init(&s);
    blob_limits_from(&s, &LIM);
    for (int i = 0; i < BLOB_HASH_BYTES; i++)
        HASH[i] = (uint8_t)(0xa0 + i);
    return 0;
}

static void test_roundtrip_every_type(void **state)
{
    (void)state;
    blob_buf b;
    blob_buf_init(&b, NULL);
    /* INV */
    assert_int_equal(blob_encode_inv(&b, HASH, 100000, 10), 0);
    assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), 0);
    assert_int_equal(M.type, BLOB_MSG_INV);
    assert_memory_equal(M.hash, HASH, BLOB_HASH_BYTES);
    assert_int_equal(M.size, 100000);
    assert_int_equal(M.count, 10);
    /* COMPACT */
    uint64_t ids[10];
    for (int i = 0; i < 10; i++)
        ids[i] = (UINT64_C(0x123456789a) * (uint64_t)(i + 1)) & BLOB_SHORT_ID_MASK;
    assert_int_equal(blob_encode_compact(&b, HASH, 100000, 10, UINT64_MAX, ids), 0);
    assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), 0);
    assert_int_equal(M.type, BLOB_MSG_COMPACT);
    assert_int_equal(M.nonce, UINT64_MAX);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(blob_msg_short_id(&M, i), ids[i]);
    /* MANIFEST */
    uint8_t hashes[10 * BLOB_HASH_BYTES];
    uint32_t lens[10];
    for (int i = 0; i < 10; i++) {
        memset(hashes + i * BLOB_HASH_BYTES, i, BLOB_HASH_BYTES);
        lens[i] = 10000;
    }
    assert_int_equal(blob_encode_manifest(&b, HASH, 100000, 10, hashes, lens), 0);
    assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), 0);
    assert_int_equal(M.type, BLOB_MSG_MANIFEST);
    for (uint32_t i = 0; i < 10; i++) {
        assert_memory_equal(blob_msg_chunk_hash(&M, i), hashes + i * BLOB_HASH_BYTES,
                            BLOB_HASH_BYTES);
        assert_int_equal(blob_msg_chunk_len(&M, i), 10000);
    }
    /* GETDATA and NOTFOUND */
    uint32_t idx[3] = {0, 70000, UINT32_MAX};
    assert_int_equal(blob_encode_request(&b, BLOB_MSG_GETDATA, HASH, BLOB_WANT_CHUNKS, idx, 3), 0);
    assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), 0);
    assert_int_equal(M.type, BLOB_MSG_GETDATA);
    assert_int_equal(M.want, BLOB_WANT_CHUNKS);
    assert_int_equal(M.n_indexes, 3);
    assert_int_equal(M.indexes[1], 70000);
    assert_int_equal(M.indexes[2], UINT32_MAX);
    assert_int_equal(blob_encode_request(&b, BLOB_MSG_NOTFOUND, HASH, BLOB_WANT_COMPACT, NULL, 0),
                     0);
    assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), 0);
    assert_int_equal(M.type, BLOB_MSG_NOTFOUND);
    assert_int_equal(M.want, BLOB_WANT_COMPACT);
    /* CHUNK */
    uint8_t data[LIM_CHUNK_TEST];
    memset(data, 0x5c, sizeof data);
    assert_int_equal(blob_encode_chunk(&b, HASH, 9, data, sizeof data), 0);
    assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), 0);
    assert_int_equal(M.type, BLOB_MSG_CHUNK);
    assert_int_equal(M.index, 9);
    assert_int_equal(M.data_len, sizeof data);
    assert_memory_equal(M.data, data, sizeof data);
    blob_buf_free(&b);
}

/* Every proper prefix of every message is rejected. */
static void test_every_truncation_is_rejected(void **state)
{
    (void)state;
    blob_buf b;
    blob_buf_init(&b, NULL);
    uint64_t ids[4] = {1, 2, 3, 4};
    uint8_t hashes[4 * BLOB_HASH_BYTES] = {0};
    uint32_t lens[4] = {5000, 5000, 5000, 5000};
    uint32_t idx[2] = {1, 300};
    uint8_t data[300] = {1};
    for (int t = 0; t < 5; t++) {
        switch (t) {
        case 0: blob_encode_inv(&b, HASH, 20000, 4); break;
        case 1: blob_encode_compact(&b, HASH, 20000, 4, 77, ids); break;
        case 2: blob_encode_manifest(&b, HASH, 20000, 4, hashes, lens); break;
        case 3: blob_encode_request(&b, BLOB_MSG_GETDATA, HASH, 0, idx, 2); break;
        default: blob_encode_chunk(&b, HASH, 3, data, sizeof data); break;
        }
        assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), 0);
        for (size_t len = 0; len < b.len; len++) {
            uint8_t *copy = malloc(len + 1); /* exact size: ASan sees any over-read */
            memcpy(copy, b.p, len);
            assert_true(blob_decode(copy, len, &LIM, &M) < 0);
            free(copy);
        }
    }
    blob_buf_free(&b);
}

/* A hand-built message: header then a map of `n` entries written by the
 * caller into the returned cursor. */
static char raw[1 << 16];

static char *begin_raw(uint8_t type, uint32_t n)
{
    raw[0] = 'G';
    raw[1] = 'B';
    raw[2] = 1;
    raw[3] = (char)type;
    return mp_encode_map(raw + 4, n);
}

static char *put_hash(char *p)
{
    p = mp_encode_uint(p, BK_HASH);
    return mp_encode_bin(p, (const char *)HASH, BLOB_HASH_BYTES);
}

static int decode_raw(const char *end)
{
    return blob_decode((const uint8_t *)raw, (size_t)(end - raw), &LIM, &M);
}

static void test_header_errors(void **state)
{
    (void)state;
    char *p = begin_raw(BLOB_MSG_INV, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 1000);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 1);
    assert_int_equal(decode_raw(p), 0);
    raw[0] = 'X';
    assert_int_equal(decode_raw(p), GOSSIP_ERR_BAD_MAGIC);
    raw[0] = 'G';
    raw[2] = 2;
    assert_int_equal(decode_raw(p), GOSSIP_ERR_BAD_VERSION);
    raw[2] = 1;
    raw[3] = 0;
    assert_int_equal(decode_raw(p), GOSSIP_ERR_BAD_TYPE);
    raw[3] = BLOB_MSG_TYPE_COUNT;
    assert_int_equal(decode_raw(p), GOSSIP_ERR_BAD_TYPE);
    raw[3] = BLOB_MSG_INV;
    /* trailing garbage after the map */
    *p = 0;
    assert_int_equal(decode_raw(p + 1), GOSSIP_ERR_MALFORMED);
}

static void test_unknown_keys_are_skipped(void **state)
{
    (void)state;
    char *p = begin_raw(BLOB_MSG_INV, 6);
    p = mp_encode_uint(p, 99); /* unknown integer key with a nested value */
    p = mp_encode_array(p, 2);
    p = mp_encode_map(p, 1);
    p = mp_encode_str(p, "x", 1);
    p = mp_encode_bin(p, "yz", 2);
    p = mp_encode_double(p, 1.5);
    p = mp_encode_str(p, "future", 6); /* a string key */
    p = mp_encode_nil(p);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 1000);
    p = mp_encode_uint(p, 42); /* an ext value */
    *p++ = (char)0xd5;
    *p++ = 1;
    *p++ = 2;
    *p++ = 3;
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 1);
    assert_int_equal(decode_raw(p), 0);
    assert_int_equal(M.size, 1000);
}

static void test_wrong_types_and_limits(void **state)
{
    (void)state;
    char *p;
    /* hash as a string */
    p = begin_raw(BLOB_MSG_INV, 3);
    p = mp_encode_uint(p, BK_HASH);
    p = mp_encode_str(p, (const char *)HASH, BLOB_HASH_BYTES);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 1000);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 1);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_BAD_TYPE);
    /* hash of 31 bytes */
    p = begin_raw(BLOB_MSG_INV, 3);
    p = mp_encode_uint(p, BK_HASH);
    p = mp_encode_bin(p, (const char *)HASH, 31);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 1000);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 1);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    /* size as a negative integer */
    p = begin_raw(BLOB_MSG_INV, 3);
    p = put_hash(p);
    p = mp_encode_int(mp_encode_uint(p, BK_SIZE), -5);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 1);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_BAD_TYPE);
    /* oversize payload */
    p = begin_raw(BLOB_MSG_INV, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), LIM.max_payload + 1);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 10000);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_OVERSIZE);
    /* more chunks than the size allows (each but the last >= min_chunk) */
    p = begin_raw(BLOB_MSG_INV, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 4096);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 3);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    /* fewer chunks than max_chunk allows */
    p = begin_raw(BLOB_MSG_INV, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 10u << 20);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 1);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    /* count zero, size zero */
    p = begin_raw(BLOB_MSG_INV, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 0);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 0);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    /* a required field missing */
    p = begin_raw(BLOB_MSG_INV, 2);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 1000);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    /* a field twice */
    p = begin_raw(BLOB_MSG_INV, 4);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 1000);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 1);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 1);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    /* COMPACT whose ids do not match count */
    p = begin_raw(BLOB_MSG_COMPACT, 5);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), 20000);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 4);
    p = mp_encode_uint(mp_encode_uint(p, BK_NONCE), 1);
    p = mp_encode_bin(mp_encode_uint(p, BK_IDS), "abcdefabcdef", 12);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    /* MANIFEST whose lengths do not add up to size */
    {
        uint8_t hashes[2 * BLOB_HASH_BYTES] = {0};
        uint32_t lens[2] = {3000, 3000};
        blob_buf b;
        blob_buf_init(&b, NULL);
        blob_encode_manifest(&b, HASH, 6001, 2, hashes, lens);
        assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), GOSSIP_ERR_MALFORMED);
        lens[1] = 0; /* an empty chunk */
        blob_encode_manifest(&b, HASH, 3000, 2, hashes, lens);
        assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), GOSSIP_ERR_MALFORMED);
        lens[0] = LIM.max_chunk + 1; /* a chunk beyond max_chunk */
        lens[1] = 2;
        blob_encode_manifest(&b, HASH, LIM.max_chunk + 3, 2, hashes, lens);
        assert_int_equal(blob_decode(b.p, b.len, &LIM, &M), GOSSIP_ERR_MALFORMED);
        blob_buf_free(&b);
    }
    /* GETDATA: bad want, empty index list, too many indexes, index as str */
    p = begin_raw(BLOB_MSG_GETDATA, 2);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_WANT), 3);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    p = begin_raw(BLOB_MSG_GETDATA, 2);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_WANT), 0);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    p = begin_raw(BLOB_MSG_GETDATA, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_WANT), 0);
    p = mp_encode_array(mp_encode_uint(p, BK_INDEXES), BLOB_MAX_INDEXES + 1);
    for (int i = 0; i <= BLOB_MAX_INDEXES; i++)
        p = mp_encode_uint(p, 1);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_TOO_MANY);
    p = begin_raw(BLOB_MSG_GETDATA, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_WANT), 0);
    p = mp_encode_array(mp_encode_uint(p, BK_INDEXES), 1);
    p = mp_encode_str(p, "1", 1);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_BAD_TYPE);
    /* an index array that claims 2^32-1 elements */
    p = begin_raw(BLOB_MSG_GETDATA, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_WANT), 0);
    p = mp_encode_array(mp_encode_uint(p, BK_INDEXES), UINT32_MAX);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_TRUNCATED);
    /* a map that claims 2^31 pairs */
    p = begin_raw(BLOB_MSG_INV, 0x80000000u);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_TRUNCATED);
    /* CHUNK: empty, oversize, index beyond u32 */
    p = begin_raw(BLOB_MSG_CHUNK, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_INDEX), 0);
    p = mp_encode_bin(mp_encode_uint(p, BK_DATA), "", 0);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
    {
        size_t big = LIM.max_chunk + 1;
        char *buf = malloc(big + 128), *q = buf;
        memcpy(q, "GB\x01\x05", 4);
        q = mp_encode_map(q + 4, 3);
        q = mp_encode_bin(mp_encode_uint(q, BK_HASH), (const char *)HASH, BLOB_HASH_BYTES);
        q = mp_encode_uint(mp_encode_uint(q, BK_INDEX), 0);
        q = mp_encode_binl(mp_encode_uint(q, BK_DATA), (uint32_t)big);
        memset(q, 1, big);
        q += big;
        assert_int_equal(blob_decode((uint8_t *)buf, (size_t)(q - buf), &LIM, &M),
                         GOSSIP_ERR_OVERSIZE);
        free(buf);
    }
    p = begin_raw(BLOB_MSG_CHUNK, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_INDEX), UINT64_C(1) << 32);
    p = mp_encode_bin(mp_encode_uint(p, BK_DATA), "a", 1);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_OVERSIZE);
    /* the reserved marker 0xc1 */
    p = begin_raw(BLOB_MSG_INV, 1);
    *p++ = (char)0xc1;
    p = mp_encode_nil(p);
    assert_int_equal(decode_raw(p), GOSSIP_ERR_MALFORMED);
}

/* Random byte flips and cuts of valid messages: never a crash or an
 * over-read (ASan), and anything accepted satisfies the limits. */
static void test_random_mutations_do_not_crash(void **state)
{
    (void)state;
    gossip_rng rng;
    gossip_rng_seed(&rng, 99);
    blob_buf b;
    blob_buf_init(&b, NULL);
    uint64_t ids[8] = {0};
    uint8_t hashes[8 * BLOB_HASH_BYTES] = {0};
    uint32_t lens[8] = {4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000};
    uint32_t idx[4] = {0, 1, 2, 3};
    uint8_t data[64] = {0};
    for (int run = 0; run < 20000; run++) {
        switch (run % 5) {
        case 0: blob_encode_inv(&b, HASH, 32000, 8); break;
        case 1: blob_encode_compact(&b, HASH, 32000, 8, 5, ids); break;
        case 2: blob_encode_manifest(&b, HASH, 32000, 8, hashes, lens); break;
        case 3: blob_encode_request(&b, BLOB_MSG_GETDATA, HASH, 0, idx, 4); break;
        default: blob_encode_chunk(&b, HASH, 1, data, sizeof data); break;
        }
        size_t len = b.len;
        uint8_t *copy = malloc(len);
        memcpy(copy, b.p, len);
        int flips = 1 + (int)gossip_rng_below(&rng, 4);
        for (int f = 0; f < flips; f++)
            copy[gossip_rng_below(&rng, len)] = (uint8_t)gossip_rng_next(&rng);
        if (gossip_rng_below(&rng, 4) == 0)
            len = (size_t)gossip_rng_below(&rng, len + 1);
        if (blob_decode(copy, len, &LIM, &M) == 0) {
            assert_true(M.type > 0 && M.type < BLOB_MSG_TYPE_COUNT);
            if (M.type == BLOB_MSG_CHUNK)
                assert_true(M.data_len > 0 && M.data_len <= LIM.max_chunk);
            if (M.type <= BLOB_MSG_MANIFEST)
                assert_true(M.size <= LIM.max_payload && M.count > 0);
        }
        free(copy);
    }
    blob_buf_free(&b);
}

static int count_send(void *ud, uint64_t peer, const uint8_t *msg, size_t len)
{
    (void)peer;
    (void)msg;
    (void)len;
    (*(int *)ud)++;
    return 0;
}

/* A rejected message changes nothing: no reply, no fetch, no stored
 * payload, only recv_errors (and oversize_rejected for an oversize INV). */
static void test_rejected_messages_change_nothing(void **state)
{
    (void)state;
    int sent = 0;
    blob_settings s;
    blob_settings_init(&s);
    blob_callbacks cb = {.send = count_send, .ud = &sent};
    blob_engine *e;
    assert_int_equal(blob_engine_new(&s, &cb, &e), 0);
    char *p = begin_raw(BLOB_MSG_INV, 3);
    p = put_hash(p);
    p = mp_encode_uint(mp_encode_uint(p, BK_SIZE), s.max_payload + 1);
    p = mp_encode_uint(mp_encode_uint(p, BK_COUNT), 40000);
    assert_int_equal(blob_engine_recv(e, 1, (uint8_t *)raw, (size_t)(p - raw), 0),
                     GOSSIP_ERR_OVERSIZE);
    /* truncated INV */
    blob_buf b;
    blob_buf_init(&b, NULL);
    blob_encode_inv(&b, HASH, 10000, 2);
    assert_int_equal(blob_engine_recv(e, 1, b.p, b.len - 1, 0), GOSSIP_ERR_TRUNCATED);
    blob_stats st;
    blob_engine_stats(e, &st);
    assert_int_equal(st.recv_errors, 2);
    assert_int_equal(st.oversize_rejected, 1);
    assert_int_equal(sent, 0);
    assert_false(blob_engine_pending(e, HASH));
    assert_int_equal(blob_engine_stat(e, HASH, NULL), GOSSIP_ERR_NOT_FOUND);
    assert_int_equal(blob_engine_next_deadline(e), UINT64_MAX);
    /* the whole one is accepted: a fetch starts, a GETDATA leaves */
    assert_int_equal(blob_engine_recv(e, 1, b.p, b.len, 0), 0);
    assert_true(blob_engine_pending(e, HASH));
    assert_int_equal(sent, 1);
    blob_buf_free(&b);
    blob_engine_free(e);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_every_truncation_is_rejected),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_unknown_keys_are_skipped),
        cmocka_unit_test(test_wrong_types_and_limits),
        cmocka_unit_test(test_random_mutations_do_not_crash),
        cmocka_unit_test(test_rejected_messages_change_nothing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
