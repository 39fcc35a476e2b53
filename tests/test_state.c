/* test_state.c -- endpoint state and the merge rule: properties over random
 * states (commutative, associative, idempotent) and the per-key rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "core/state.h"

#define PROPERTY_RUNS 3000
#define MAX_KEYS 16

static const gossip_allocator *A;

static void random_state(endpoint *ep, gossip_rng *rng)
{
    assert_int_equal(endpoint_init(ep, A, "peer", 4, 1 + gossip_rng_below(rng, 3)), 0);
    ep->heartbeat = gossip_rng_below(rng, 20);
    uint32_t keys = (uint32_t)gossip_rng_below(rng, 6);
    for (uint32_t i = 0; i < keys; i++) {
        char key[8], value[8];
        snprintf(key, sizeof key, "k%u", (unsigned)gossip_rng_below(rng, 5));
        int vlen = snprintf(value, sizeof value, "v%u", (unsigned)gossip_rng_below(rng, 4));
        kv_view v = {key, (uint32_t)strlen(key), (const uint8_t *)value, (uint32_t)vlen,
                     1 + gossip_rng_below(rng, 8), gossip_rng_below(rng, 6) == 0};
        bool changed;
        assert_int_equal(endpoint_put_kv(ep, A, &v, MAX_KEYS, &changed), 0);
    }
    endpoint_refresh(ep);
}

/* Returns merge(x, y) as a fresh endpoint. */
static void merged(endpoint *out, const endpoint *x, const endpoint *y)
{
    bool changed;
    assert_int_equal(endpoint_copy(out, x, A), 0);
    assert_int_equal(endpoint_merge(out, y, A, MAX_KEYS, &changed), 0);
}

static void test_merge_commutative(void **state)
{
    (void)state;
    gossip_rng rng;
    gossip_rng_seed(&rng, 1);
    for (int run = 0; run < PROPERTY_RUNS; run++) {
        endpoint a, b, ab, ba;
        random_state(&a, &rng);
        random_state(&b, &rng);
        merged(&ab, &a, &b);
        merged(&ba, &b, &a);
        assert_true(endpoint_equal(&ab, &ba));
        assert_int_equal(ab.digest, ba.digest);
        endpoint_clear(&a, A), endpoint_clear(&b, A);
        endpoint_clear(&ab, A), endpoint_clear(&ba, A);
    }
}

static void test_merge_associative(void **state)
{
    (void)state;
    gossip_rng rng;
    gossip_rng_seed(&rng, 2);
    for (int run = 0; run < PROPERTY_RUNS; run++) {
        endpoint a, b, c, ab, ab_c, bc, a_bc;
        random_state(&a, &rng);
        random_state(&b, &rng);
        random_state(&c, &rng);
        merged(&ab, &a, &b);
        merged(&ab_c, &ab, &c);
        merged(&bc, &b, &c);
        merged(&a_bc, &a, &bc);
        assert_true(endpoint_equal(&ab_c, &a_bc));
        endpoint *all[] = {&a, &b, &c, &ab, &ab_c, &bc, &a_bc};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            endpoint_clear(all[i], A);
    }
}

static void test_merge_idempotent(void **state)
{
    (void)state;
    gossip_rng rng;
    gossip_rng_seed(&rng, 3);
    for (int run = 0; run < PROPERTY_RUNS; run++) {
        endpoint a, aa;
        bool changed;
        random_state(&a, &rng);
        assert_int_equal(endpoint_copy(&aa, &a, A), 0);
        assert_int_equal(endpoint_merge(&aa, &a, A, MAX_KEYS, &changed), 0);
        assert_false(changed);
        assert_true(endpoint_equal(&aa, &a));
        endpoint_clear(&a, A);
        endpoint_clear(&aa, A);
    }
}

static void put(endpoint *ep, const char *key, const char *value, uint64_t version,
                bool *changed)
{
    kv_view v = {key, (uint32_t)strlen(key), (const uint8_t *)value,
                 value ? (uint32_t)strlen(value) : 0, version, value == NULL};
    assert_int_equal(endpoint_put_kv(ep, A, &v, MAX_KEYS, changed), 0);
    endpoint_refresh(ep);
}

static void test_higher_version_wins_per_key(void **state)
{
    (void)state;
    endpoint ep;
    bool changed;
    assert_int_equal(endpoint_init(&ep, A, "x", 1, 5), 0);
    put(&ep, "load", "0.5", 3, &changed);
    assert_true(changed);
    put(&ep, "load", "0.9", 2, &changed); /* older: loses */
    assert_false(changed);
    assert_string_equal((const char *)kv_value(endpoint_find_kv(&ep, "load", 4)), "0.5");
    put(&ep, "load", NULL, 4, &changed); /* newer delete wins */
    assert_true(changed);
    assert_true(endpoint_find_kv(&ep, "load", 4)->deleted);
    assert_int_equal(ep.max_version, 4);
    /* entries stay sorted by version, which deltas rely on */
    put(&ep, "a", "1", 9, &changed);
    put(&ep, "b", "2", 7, &changed);
    for (uint32_t i = 1; i < ep.n_kvs; i++)
        assert_true(ep.kvs[i - 1].version <= ep.kvs[i].version);
    endpoint_clear(&ep, A);
}

static void test_higher_generation_replaces_whole(void **state)
{
    (void)state;
    endpoint old, young;
    bool changed;
    assert_int_equal(endpoint_init(&old, A, "x", 1, 1), 0);
    put(&old, "schema", "s1", 50, &changed);
    put(&old, "tokens", "t", 51, &changed);
    assert_int_equal(endpoint_init(&young, A, "x", 1, 2), 0);
    put(&young, "schema", "s2", 2, &changed);
    assert_int_equal(endpoint_merge(&old, &young, A, MAX_KEYS, &changed), 0);
    assert_true(changed);
    assert_int_equal(old.generation, 2);
    assert_int_equal(old.n_kvs, 1);
    assert_null(endpoint_find_kv(&old, "tokens", 6));
    /* and the older generation cannot come back */
    endpoint stale;
    assert_int_equal(endpoint_init(&stale, A, "x", 1, 1), 0);
    put(&stale, "schema", "s9", 99, &changed);
    assert_int_equal(endpoint_merge(&old, &stale, A, MAX_KEYS, &changed), 0);
    assert_false(changed);
    endpoint_clear(&old, A), endpoint_clear(&young, A), endpoint_clear(&stale, A);
}

static void test_key_limit_is_enforced(void **state)
{
    (void)state;
    endpoint ep;
    assert_int_equal(endpoint_init(&ep, A, "x", 1, 1), 0);
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        kv_view v = {key, (uint32_t)strlen(key), (const uint8_t *)"v", 1, (uint64_t)i + 1, false};
        bool changed;
        int rc = endpoint_put_kv(&ep, A, &v, 2, &changed);
        assert_int_equal(rc, i < 2 ? 0 : GOSSIP_ERR_TOO_MANY);
    }
    assert_int_equal(ep.n_kvs, 2);
    endpoint_clear(&ep, A);
}

int main(void)
{
    A = gossip_default_allocator();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_commutative),
        cmocka_unit_test(test_merge_associative),
        cmocka_unit_test(test_merge_idempotent),
        cmocka_unit_test(test_higher_version_wins_per_key),
        cmocka_unit_test(test_higher_generation_replaces_whole),
        cmocka_unit_test(test_key_limit_is_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
