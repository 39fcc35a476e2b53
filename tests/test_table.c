/* test_table.c -- the endpoint table: the name index, and the incrementally
 * kept table and bucket hashes always equal a recomputation from scratch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/rng.h"
#include "core/table.h"

static void assert_hashes_recompute(const table *t)
{
    uint64_t all = 0, buckets[TABLE_BUCKETS] = {0};
    uint32_t sizes[TABLE_BUCKETS] = {0};
    for (uint32_t i = 0; i < t->n; i++) {
        const endpoint *ep = table_ep(t, i);
        uint64_t d = endpoint_digest(ep);
        assert_int_equal(d, ep->digest);
        all ^= d;
        buckets[ep->bucket] ^= d;
        sizes[ep->bucket]++;
    }
    assert_int_equal(all, t->hash);
    for (uint32_t b = 0; b < TABLE_BUCKETS; b++) {
        assert_int_equal(buckets[b], t->bucket_hash[b]);
        assert_int_equal(sizes[b], t->bucket_size[b]);
        uint32_t walked = 0;
        for (uint32_t i = t->bucket_head[b]; i != TABLE_NONE; i = table_ep(t, i)->bucket_next)
            walked++;
        assert_int_equal(walked, sizes[b]);
    }
}

static void test_index_and_hashes_under_random_changes(void **state)
{
    (void)state;
    table t;
    const gossip_allocator *a = gossip_default_allocator();
    table_init(&t, a, 5000);
    gossip_rng rng;
    gossip_rng_seed(&rng, 5);
    for (int step = 0; step < 20000; step++) {
        char name[32];
        int len = snprintf(name, sizeof name, "member-%u", (unsigned)gossip_rng_below(&rng, 3000));
        uint32_t idx = table_find(&t, name, (size_t)len);
        if (idx == TABLE_NONE) {
            assert_int_equal(table_add(&t, name, (size_t)len, 1, &idx), 0);
            assert_int_equal(table_find(&t, name, (size_t)len), idx);
        } else {
            endpoint *ep = table_ep(&t, idx);
            table_before_change(&t, idx);
            if (gossip_rng_below(&rng, 10) == 0)
                endpoint_reset(ep, a, ep->generation + 1);
            ep->heartbeat += 1 + gossip_rng_below(&rng, 3);
            if (gossip_rng_below(&rng, 4) == 0)
                ep->status = (uint8_t)gossip_rng_below(&rng, 4);
            table_changed(&t, idx);
        }
        if (step % 2000 == 0)
            assert_hashes_recompute(&t);
    }
    assert_hashes_recompute(&t);
    /* every name added can be found, an unknown one cannot */
    assert_int_equal(table_find(&t, "nobody", 6), TABLE_NONE);
    for (uint32_t i = 0; i < t.n; i++) {
        const endpoint *ep = table_ep(&t, i);
        assert_int_equal(table_find(&t, ep_name(ep), ep->name_len), i);
    }
    table_free(&t);
}

/* Removal keeps index, buckets and hashes exact while endpoints move. */
static void test_remove_keeps_everything_consistent(void **state)
{
    (void)state;
    table t;
    const gossip_allocator *a = gossip_default_allocator();
    table_init(&t, a, 5000);
    gossip_rng rng;
    gossip_rng_seed(&rng, 9);
    for (int step = 0; step < 20000; step++) {
        char name[32];
        int len = snprintf(name, sizeof name, "m-%u", (unsigned)gossip_rng_below(&rng, 700));
        uint32_t idx = table_find(&t, name, (size_t)len);
        if (idx == TABLE_NONE)
            assert_int_equal(table_add(&t, name, (size_t)len, 1, &idx), 0);
        else if (gossip_rng_below(&rng, 2) == 0)
            table_remove(&t, idx);
        if (step % 1000 == 0)
            assert_hashes_recompute(&t);
    }
    assert_hashes_recompute(&t);
    for (uint32_t i = 0; i < t.n; i++) {
        const endpoint *ep = table_ep(&t, i);
        assert_int_equal(table_find(&t, ep_name(ep), ep->name_len), i);
        assert_ptr_equal(ep->kvs, &ep->one);
    }
    table_free(&t);
}

static void test_bound_is_enforced(void **state)
{
    (void)state;
    table t;
    table_init(&t, gossip_default_allocator(), 3);
    uint32_t idx;
    assert_int_equal(table_add(&t, "a", 1, 1, &idx), 0);
    assert_int_equal(table_add(&t, "b", 1, 1, &idx), 0);
    assert_int_equal(table_add(&t, "c", 1, 1, &idx), 0);
    assert_int_equal(table_add(&t, "d", 1, 1, &idx), GOSSIP_ERR_FULL);
    assert_int_equal(t.n, 3);
    table_free(&t);
}

static void test_coarse_summaries_fold_fine_buckets(void **state)
{
    (void)state;
    table t;
    table_init(&t, gossip_default_allocator(), 1000);
    for (int i = 0; i < 300; i++) {
        char name[16];
        uint32_t idx;
        int len = snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(table_add(&t, name, (size_t)len, 1, &idx), 0);
    }
    uint32_t fine[TABLE_BUCKETS], coarse[2], root[1];
    table_bucket_summaries(&t, 6, fine);
    table_bucket_summaries(&t, 1, coarse);
    table_bucket_summaries(&t, 0, root);
    uint64_t left = 0, right = 0;
    for (uint32_t b = 0; b < TABLE_BUCKETS; b++)
        *(b < TABLE_BUCKETS / 2 ? &left : &right) ^= t.bucket_hash[b];
    assert_int_equal(coarse[0], (uint32_t)(left ^ (left >> 32)));
    assert_int_equal(coarse[1], (uint32_t)(right ^ (right >> 32)));
    assert_int_equal(root[0], (uint32_t)(t.hash ^ (t.hash >> 32)));
    (void)fine;
    assert_int_equal(table_bucket_bits_for(8), 0);
    assert_int_equal(table_bucket_bits_for(100), 4);
    assert_int_equal(table_bucket_bits_for(100000), TABLE_BUCKET_BITS);
    table_free(&t);
}

static void test_rng_is_deterministic_and_bounded(void **state)
{
    (void)state;
    gossip_rng a, b;
    gossip_rng_seed(&a, 77);
    gossip_rng_seed(&b, 77);
    uint32_t counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t x = gossip_rng_below(&a, 10);
        assert_int_equal(x, gossip_rng_below(&b, 10));
        assert_true(x < 10);
        counts[x]++;
    }
    /* chi-square with 9 degrees of freedom; 27.9 is the 0.001 quantile */
    double chi = 0;
    for (int k = 0; k < 10; k++)
        chi += (counts[k] - 10000.0) * (counts[k] - 10000.0) / 10000.0;
    assert_true(chi < 27.9);
    double u = gossip_rng_unit(&a);
    assert_true(u >= 0 && u < 1);
}

/* Two tables that differ only in the records of two members, which made the
 * same move (dead at incarnation 0 in one table, alive at incarnation 1 in
 * the other), must not look alike: with the record hashed apart from the
 * member, the two differences cancelled in the XOR and anti-entropy never
 * saw them. */
static void test_same_record_moves_do_not_cancel(void **state)
{
    (void)state;
    const gossip_allocator *a = gossip_default_allocator();
    table x, y;
    table_init(&x, a, 100);
    table_init(&y, a, 100);
    const char *names[] = {"n660", "n929", "n1", "n2"}; /* n660, n929: one bucket */
    for (int i = 0; i < 4; i++) {
        uint32_t ix, iy;
        assert_int_equal(table_add(&x, names[i], strlen(names[i]), 1, &ix), 0);
        assert_int_equal(table_add(&y, names[i], strlen(names[i]), 1, &iy), 0);
        if (i < 2) {
            table_before_change(&x, ix);
            table_ep(&x, ix)->status = 2; /* dead, incarnation 0 */
            table_changed(&x, ix);
            table_before_change(&y, iy);
            table_ep(&y, iy)->incarnation = 1; /* refuted: alive, incarnation 1 */
            table_changed(&y, iy);
        }
    }
    assert_int_equal(table_ep(&x, 0)->bucket, table_ep(&x, 1)->bucket);
    assert_int_not_equal(x.hash, y.hash);
    uint32_t b = table_ep(&x, 0)->bucket;
    assert_int_not_equal(x.bucket_hash[b], y.bucket_hash[b]);
    assert_hashes_recompute(&x);
    assert_hashes_recompute(&y);
    table_free(&x);
    table_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_and_hashes_under_random_changes),
        cmocka_unit_test(test_remove_keeps_everything_consistent),
        cmocka_unit_test(test_bound_is_enforced),
        cmocka_unit_test(test_coarse_summaries_fold_fine_buckets),
        cmocka_unit_test(test_rng_is_deterministic_and_bounded),
        cmocka_unit_test(test_same_record_moves_do_not_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
