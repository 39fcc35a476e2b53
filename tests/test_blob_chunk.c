/* test_blob_chunk.c -- content-defined chunking and the hashes that name
 * chunks and payloads: determinism, sizes within bounds, resistance to a
 * shifted boundary (an inserted or deleted byte changes only the chunks
 * around it), the payload hash as defined in core/blob.h, short IDs, hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/blob.h"
#include "core/rng.h"

#define DATA_BYTES (4u << 20)
#define KNOWN_COUNT 11u /* test_known_answer */
#define KNOWN_HEX "2d63a03b652138b33dda079ac849f6ee3c2a45d4cb887830a114a75e7f604979"

static const blob_chunking CH = {BLOB_DEFAULT_MIN_CHUNK, BLOB_DEFAULT_AVG_CHUNK,
                                 BLOB_DEFAULT_MAX_CHUNK};

static uint8_t *random_bytes(uint64_t seed, size_t n)
{
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    gossip_rng rng;
    gossip_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(gossip_rng_next(&rng) >> 56);
    return p;
}

typedef struct chunk_list {
    uint32_t n;
    size_t *len;
    uint8_t (*hash)[BLOB_HASH_BYTES];
} chunk_list;

static chunk_list cut_all(const uint8_t *data, size_t len)
{
    chunk_list l = {0, malloc(sizeof(size_t) * (len / 64 + 2)),
                    malloc(BLOB_HASH_BYTES * (len / 64 + 2))};
    assert_non_null(l.len);
    assert_non_null(l.hash);
    for (size_t off = 0; off < len; l.n++) {
        l.len[l.n] = blob_chunk_cut(&CH, data + off, len - off);
        blob_hash_chunk(data + off, l.len[l.n], l.hash[l.n]);
        off += l.len[l.n];
    }
    return l;
}

static void list_free(chunk_list *l)
{
    free(l->len);
    free(l->hash);
}

/* How many of b's chunks are also a's. */
static uint32_t shared(const chunk_list *a, const chunk_list *b)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        for (uint32_t j = 0; j < a->n; j++) {
            if (memcmp(a->hash[j], b->hash[i], BLOB_HASH_BYTES) == 0) {
                n++;
                break;
            }
        }
    }
    return n;
}

static void test_settings_check(void **state)
{
    (void)state;
    assert_int_equal(blob_chunking_check(&CH), 0);
    blob_chunking bad[] = {
        {32, 8192, 32768},    /* min below the gear window */
        {8192, 8192, 32768},  /* min == avg */
        {2048, 8000, 32768},  /* avg not a power of two */
        {2048, 8192, 8192},   /* max == avg */
        {2048, 8192, 4u << 20}, /* max beyond 1 MiB */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(blob_chunking_check(&bad[i]), GOSSIP_ERR_INVALID);
    assert_int_equal(blob_chunking_check(NULL), GOSSIP_ERR_INVALID);
}

static void test_deterministic_and_bounded(void **state)
{
    (void)state;
    uint8_t *d = random_bytes(1, DATA_BYTES);
    chunk_list a = cut_all(d, DATA_BYTES), b = cut_all(d, DATA_BYTES);
    assert_int_equal(a.n, b.n);
    size_t total = 0;
    for (uint32_t i = 0; i < a.n; i++) {
        assert_int_equal(a.len[i], b.len[i]);
        assert_memory_equal(a.hash[i], b.hash[i], BLOB_HASH_BYTES);
        if (i + 1 < a.n)
            assert_true(a.len[i] >= CH.min_size);
        assert_true(a.len[i] <= CH.max_size && a.len[i] > 0);
        total += a.len[i];
    }
    assert_int_equal(total, DATA_BYTES);
    /* normalised chunking keeps the mean near avg_size (expected about
     * min + avg for FastCDC level 2 over random data) */
    double mean = (double)DATA_BYTES / a.n;
    assert_true(mean > CH.avg_size * 0.75 && mean < CH.avg_size * 1.75);
    /* short input is one chunk */
    assert_int_equal(blob_chunk_cut(&CH, d, 100), 100);
    assert_int_equal(blob_chunk_cut(&CH, d, CH.min_size), CH.min_size);
    list_free(&a);
    list_free(&b);
    free(d);
}

static void test_boundary_shift_resistance(void **state)
{
    (void)state;
    const size_t n = 1u << 20;
    uint8_t *d = random_bytes(2, n);
    chunk_list base = cut_all(d, n);
    /* insert one byte in the middle, delete one, prepend one */
    uint8_t *ins = malloc(n + 1), *del = malloc(n), *pre = malloc(n + 1);
    assert_non_null(ins);
    assert_non_null(del);
    assert_non_null(pre);
    memcpy(ins, d, n / 2);
    ins[n / 2] = 0xab;
    memcpy(ins + n / 2 + 1, d + n / 2, n - n / 2);
    memcpy(del, d, n / 3);
    memcpy(del + n / 3, d + n / 3 + 1, n - n / 3 - 1);
    pre[0] = 0x42;
    memcpy(pre + 1, d, n);
    chunk_list li = cut_all(ins, n + 1), ld = cut_all(del, n - 1), lp = cut_all(pre, n + 1);
    /* A fixed-size chunker would share nothing after the edit; CDC loses the
     * chunk that holds the edit and perhaps a neighbour. */
    assert_true(shared(&base, &li) + 3 >= li.n);
    assert_true(shared(&base, &ld) + 3 >= ld.n);
    assert_true(shared(&base, &lp) + 3 >= lp.n);
    assert_true(shared(&base, &li) * 10 >= li.n * 9);
    list_free(&base);
    list_free(&li);
    list_free(&ld);
    list_free(&lp);
    free(ins);
    free(del);
    free(pre);
    free(d);
}

static void test_payload_hash_definition(void **state)
{
    (void)state;
    const size_t n = 300000;
    uint8_t *d = random_bytes(3, n);
    chunk_list l = cut_all(d, n);
    uint8_t *hashes = malloc((size_t)l.n * BLOB_HASH_BYTES);
    uint32_t *lens = malloc(l.n * sizeof *lens);
    assert_non_null(hashes);
    assert_non_null(lens);
    for (uint32_t i = 0; i < l.n; i++) {
        memcpy(hashes + (size_t)i * BLOB_HASH_BYTES, l.hash[i], BLOB_HASH_BYTES);
        lens[i] = (uint32_t)l.len[i];
    }
    uint8_t via_manifest[BLOB_HASH_BYTES], direct[BLOB_HASH_BYTES];
    blob_hash_manifest(n, l.n, hashes, lens, via_manifest);
    assert_int_equal(blob_payload_hash(&CH, d, n, direct), l.n);
    assert_memory_equal(via_manifest, direct, BLOB_HASH_BYTES);

    /* The definition spelled out with libsodium directly. */
    crypto_generichash_state st;
    uint8_t head[12], le[4], expect[BLOB_HASH_BYTES];
    crypto_generichash_init(&st, NULL, 0, BLOB_HASH_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)"gossip-blob-v1", 14);
    for (int i = 0; i < 8; i++)
        head[i] = (uint8_t)((uint64_t)n >> (8 * i));
    for (int i = 0; i < 4; i++)
        head[8 + i] = (uint8_t)(l.n >> (8 * i));
    crypto_generichash_update(&st, head, sizeof head);
    for (uint32_t c = 0; c < l.n; c++) {
        for (int i = 0; i < 4; i++)
            le[i] = (uint8_t)(lens[c] >> (8 * i));
        crypto_generichash_update(&st, l.hash[c], BLOB_HASH_BYTES);
        crypto_generichash_update(&st, le, 4);
    }
    crypto_generichash_final(&st, expect, BLOB_HASH_BYTES);
    assert_memory_equal(expect, direct, BLOB_HASH_BYTES);

    /* One flipped byte, another name. */
    d[n / 2] ^= 1;
    uint8_t other[BLOB_HASH_BYTES];
    blob_payload_hash(&CH, d, n, other);
    assert_memory_not_equal(other, direct, BLOB_HASH_BYTES);
    list_free(&l);
    free(hashes);
    free(lens);
    free(d);
}

/* Pins the protocol: chunker, gear table and hash layout.  A change here
 * renames every payload; bump the tags and the wire version with it. */
static void test_known_answer(void **state)
{
    (void)state;
    const size_t n = 100000;
    uint8_t *d = malloc(n);
    assert_non_null(d);
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(gossip_splitmix64(&x) >> 56);
    uint8_t h[BLOB_HASH_BYTES];
    char hex[BLOB_HEX_BYTES + 1];
    uint32_t count = blob_payload_hash(&CH, d, n, h);
    blob_hash_to_hex(h, hex);
    print_message("known answer: %u chunks, %s\n", count, hex);
    assert_int_equal(count, KNOWN_COUNT);
    assert_string_equal(hex, KNOWN_HEX);
    free(d);
}

static void test_short_ids(void **state)
{
    (void)state;
    uint8_t payload[BLOB_HASH_BYTES], chunk[BLOB_HASH_BYTES], k1[16], k2[16];
    memset(payload, 7, sizeof payload);
    memset(chunk, 9, sizeof chunk);
    blob_short_id_key(payload, 1, k1);
    blob_short_id_key(payload, 2, k2);
    assert_memory_not_equal(k1, k2, 16);
    uint64_t a = blob_short_id(k1, chunk), b = blob_short_id(k2, chunk);
    assert_true(a <= BLOB_SHORT_ID_MASK && b <= BLOB_SHORT_ID_MASK);
    assert_true(a != b);
    assert_int_equal(a, blob_short_id(k1, chunk));
    /* SipHash-2-4 under the key, low 48 bits little-endian */
    uint8_t out[8];
    crypto_shorthash(out, chunk, BLOB_HASH_BYTES, k1);
    uint64_t v = 0;
    for (int i = 0; i < 6; i++)
        v |= (uint64_t)out[i] << (8 * i);
    assert_int_equal(v, a);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t h[BLOB_HASH_BYTES], back[BLOB_HASH_BYTES];
    for (int i = 0; i < BLOB_HASH_BYTES; i++)
        h[i] = (uint8_t)(i * 37 + 1);
    char hex[BLOB_HEX_BYTES + 1];
    blob_hash_to_hex(h, hex);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(blob_hash_from_hex(hex, 64, back), 0);
    assert_memory_equal(h, back, BLOB_HASH_BYTES);
    assert_int_equal(blob_hash_from_hex(hex, 63, back), GOSSIP_ERR_INVALID);
    hex[5] = 'g';
    assert_int_equal(blob_hash_from_hex(hex, 64, back), GOSSIP_ERR_INVALID);
    assert_int_equal(blob_hash_from_hex(NULL, 64, back), GOSSIP_ERR_INVALID);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_check),
        cmocka_unit_test(test_deterministic_and_bounded),
        cmocka_unit_test(test_boundary_shift_resistance),
        cmocka_unit_test(test_payload_hash_definition),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_short_ids),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
