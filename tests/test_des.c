/* test_des.c -- the simulator's event queue, packet pool, PRNG and clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/des.h"

#define QUEUE_EVENTS 5000u
/* Few distinct times, so that most events tie and the sequence decides. */
#define QUEUE_DISTINCT_TIMES 37u

static void test_queue_orders_by_time_then_insertion(void **state)
{
    (void)state;
    struct des_queue q;
    des_queue_init(&q);
    struct des_rng rng = des_rng_make(42, 0);
    for (uint32_t i = 0; i < QUEUE_EVENTS; i++) {
        struct des_event ev = {.time_us = des_rng_below(&rng, QUEUE_DISTINCT_TIMES),
                               .kind = DES_EV_TICK, .arg = i};
        assert_int_equal(des_queue_push(&q, ev), 0);
    }
    assert_int_equal(q.count, QUEUE_EVENTS);
    struct des_event prev, ev;
    assert_int_equal(des_queue_pop(&q, &prev), 0);
    for (uint32_t i = 1; i < QUEUE_EVENTS; i++) {
        assert_int_equal(des_queue_pop(&q, &ev), 0);
        assert_true(ev.time_us >= prev.time_us);
        if (ev.time_us == prev.time_us) {
            /* Same time: popped in insertion order. */
            assert_true(ev.seq > prev.seq);
            assert_true(ev.arg > prev.arg);
        }
        prev = ev;
    }
    assert_int_equal(des_queue_pop(&q, &ev), -1);
    assert_null(des_queue_peek(&q));
    des_queue_free(&q);
}

/* Interleaved pushes and pops agree with a brute-force minimum search. */
static void test_queue_interleaved_matches_reference(void **state)
{
    (void)state;
    struct des_queue q;
    des_queue_init(&q);
    struct des_rng rng = des_rng_make(7, 0);
    struct des_event *ref = calloc(QUEUE_EVENTS, sizeof *ref);
    assert_non_null(ref);
    size_t ref_count = 0;
    uint64_t now = 0;
    for (uint32_t step = 0; step < QUEUE_EVENTS; step++) {
        if (ref_count == 0 || des_rng_below(&rng, 3) != 0) {
            struct des_event ev = {.time_us = now + des_rng_below(&rng, 100), .arg = step};
            assert_int_equal(des_queue_push(&q, ev), 0);
            ev.seq = q.next_seq - 1;
            ref[ref_count++] = ev;
            continue;
        }
        size_t best = 0;
        for (size_t i = 1; i < ref_count; i++)
            if (ref[i].time_us < ref[best].time_us ||
                (ref[i].time_us == ref[best].time_us && ref[i].seq < ref[best].seq))
                best = i;
        struct des_event got;
        assert_int_equal(des_queue_pop(&q, &got), 0);
        assert_int_equal(got.seq, ref[best].seq);
        assert_int_equal(got.time_us, ref[best].time_us);
        now = got.time_us;
        ref[best] = ref[--ref_count];
    }
    assert_int_equal(q.count, ref_count);
    free(ref);
    des_queue_free(&q);
}

static void test_pool_reuses_slots_and_keeps_buffers_in_place(void **state)
{
    (void)state;
    struct des_packet_pool pool;
    des_pool_init(&pool, 64);
    const uint8_t hello[] = "hello";
    uint32_t first = des_pool_put(&pool, 3, hello, sizeof hello);
    assert_int_not_equal(first, DES_POOL_NO_SLOT);
    const uint8_t *first_data = des_pool_get(&pool, first)->data;
    /* Growing past several blocks must not move the first buffer. */
    uint32_t extra = 3 * DES_POOL_BLOCK_SLOTS;
    uint32_t *slots = calloc(extra, sizeof *slots);
    assert_non_null(slots);
    for (uint32_t i = 0; i < extra; i++) {
        uint8_t byte = (uint8_t)i;
        slots[i] = des_pool_put(&pool, i, &byte, 1);
        assert_int_not_equal(slots[i], DES_POOL_NO_SLOT);
    }
    struct des_packet *p = des_pool_get(&pool, first);
    assert_ptr_equal(p->data, first_data);
    assert_memory_equal(p->data, hello, sizeof hello);
    assert_int_equal(p->from, 3);
    assert_int_equal(pool.in_use, extra + 1);
    for (uint32_t i = 0; i < extra; i++) {
        p = des_pool_get(&pool, slots[i]);
        assert_int_equal(p->data[0], (uint8_t)i);
        des_pool_release(&pool, slots[i]);
    }
    size_t blocks = pool.block_count;
    for (uint32_t i = 0; i < extra; i++)
        assert_int_not_equal(des_pool_put(&pool, 0, hello, 1), DES_POOL_NO_SLOT);
    assert_int_equal(pool.block_count, blocks); /* recycled, not grown */
    assert_int_equal(des_pool_put(&pool, 0, hello, 65), DES_POOL_NO_SLOT);
    free(slots);
    des_pool_free(&pool);
}

static void test_rng_is_reproducible_and_bounded(void **state)
{
    (void)state;
    struct des_rng a = des_rng_make(1, 5), b = des_rng_make(1, 5), c = des_rng_make(2, 5);
    int differs = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = des_rng_next(&a);
        assert_int_equal(x, des_rng_next(&b));
        differs |= x != des_rng_next(&c);
        uint64_t below = des_rng_below(&a, 10);
        assert_true(below < 10);
        assert_int_equal(below, des_rng_below(&b, 10));
        double u = des_rng_unit(&a);
        assert_true(u >= 0.0 && u < 1.0);
        assert_true(u == des_rng_unit(&b));
    }
    assert_true(differs);
}

/* des_clock_virtual_us returns the first virtual µs whose local ms reaches
 * the target, for fast, slow and offset clocks. */
static void test_clock_inverse_is_the_first_moment(void **state)
{
    (void)state;
    const int64_t drifts[] = {0, 1, -1, 250, -250, 99999, -99999};
    const uint64_t offsets[] = {0, 1, 999, 123456789};
    struct des_rng rng = des_rng_make(3, 0);
    for (size_t d = 0; d < sizeof drifts / sizeof drifts[0]; d++) {
        for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
            struct des_clock clock = {drifts[d], offsets[o]};
            for (int i = 0; i < 200; i++) {
                uint64_t local_ms = des_rng_below(&rng, 10000000);
                uint64_t v = des_clock_virtual_us(&clock, local_ms);
                assert_true(des_clock_local_ms(&clock, v) >= local_ms);
                if (v > 0)
                    assert_true(des_clock_local_ms(&clock, v - 1) < local_ms);
            }
        }
    }
    struct des_clock fast = {100000, 0};
    /* 10 % fast: 1000 local ms arrive after ~909.1 virtual ms. */
    uint64_t v = des_clock_virtual_us(&fast, 1000);
    assert_true(v > 909000 && v < 909200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_orders_by_time_then_insertion),
        cmocka_unit_test(test_queue_interleaved_matches_reference),
        cmocka_unit_test(test_pool_reuses_slots_and_keeps_buffers_in_place),
        cmocka_unit_test(test_rng_is_reproducible_and_bounded),
        cmocka_unit_test(test_clock_inverse_is_the_first_moment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
