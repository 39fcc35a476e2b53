/* test_phi.c -- the phi-accrual failure detector: phi against values worked
 * out by hand for known interval histories in both models, the bootstrap,
 * window eviction, the recording rules, monotonicity, huge silences and
 * parameter validation.
 *
 * Hand computations use the logistic CDF of phi.c:
 *   y = (t - (mean + pause)) / max(sd, min_sd),  z = y (1.5976 + 0.070566 y^2),
 *   P_later = 1 / (1 + e^z),  phi = -log10 P_later = ln(1 + e^z) / ln 10;
 * and for the exponential model phi = t / mean / ln 10, ln 10 = 2.302585093. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/phi.h"
#include "gossip/gossip.h"

#define EPS 1e-4        /* hand values are given to 5-6 significant digits */
#define LOG10_2 0.30103 /* phi at y = 0: P_later = 1/2 */

static uint32_t ring[PHI_MAX_WINDOW];

static void init_normal(phi_detector *d, uint32_t window, uint32_t pause_ms)
{
    phi_params p;
    phi_params_default(&p, PHI_MODEL_NORMAL);
    p.window = window;
    p.acceptable_pause_ms = pause_ms;
    assert_int_equal(phi_init(d, &p, ring, PHI_MAX_WINDOW), 0);
}

/* Heartbeats at start, start + step, ..., `beats` of them. Returns the last. */
static uint64_t beat_every(phi_detector *d, uint64_t start, uint64_t step, int beats)
{
    uint64_t t = start;
    for (int i = 0; i < beats; i++, t += step)
        phi_heartbeat(d, t);
    return t - step;
}

static void test_before_any_heartbeat(void **state)
{
    (void)state;
    phi_detector d;
    init_normal(&d, 10, 0);
    assert_true(phi_value(&d, 0) == 0.0);
    assert_true(phi_value(&d, UINT64_MAX) == 0.0);
    assert_true(phi_is_available(&d, UINT64_MAX));

    phi_params p;
    phi_params_default(&p, PHI_MODEL_EXPONENTIAL);
    assert_int_equal(phi_init(&d, &p, ring, PHI_MAX_WINDOW), 0);
    assert_true(phi_value(&d, 123456789) == 0.0);
    assert_true(phi_is_available(&d, 123456789));
}

/* Window 10, heartbeats every 1000 ms from t = 0 to 10000: ten intervals of
 * 1000 push out both bootstrap samples.  mean 1000, sd 0 -> floor 100.
 *   t = 1000: y = 0, z = 0, phi = log10 2 = 0.30103
 *   t = 1100: y = 1, z = 1.5976 + 0.070566 = 1.668166,
 *             phi = ln(1 + e^1.668166) / ln 10 = 1.84095 / 2.302585 = 0.79951
 *   t = 1500: y = 5, z = 5 (1.5976 + 1.76415) = 16.80875,
 *             P_later = 1/(1 + e^16.80875) = 5.0125e-8, phi = 7.29995 */
static void test_normal_steady_history(void **state)
{
    (void)state;
    phi_detector d;
    init_normal(&d, 10, 0);
    uint64_t last = beat_every(&d, 0, 1000, 11);
    assert_int_equal(d.count, 10);
    assert_true(phi_mean_ms(&d) == 1000.0);
    assert_true(phi_std_dev_ms(&d) == 0.0);
    assert_float_equal(phi_value(&d, last + 1000), LOG10_2, EPS);
    assert_float_equal(phi_value(&d, last + 1100), 0.79951, EPS);
    assert_float_equal(phi_value(&d, last + 1500), 7.29995, EPS);
    assert_true(phi_is_available(&d, last + 1500));  /* 7.3 < 8 */
    assert_false(phi_is_available(&d, last + 1600)); /* y = 6: z = 24.83, phi 10.8 */
}

/* One heartbeat only: the window is the Akka bootstrap, 1000 -/+ 250, i.e.
 * {750, 1250}: mean 1000, sd 250.
 *   t = 1500: y = 2, z = 2 (1.5976 + 0.282264) = 3.759728,
 *             phi = ln(1 + e^3.759728) / ln 10 = 3.78275 / 2.302585 = 1.64283 */
static void test_normal_bootstrap(void **state)
{
    (void)state;
    phi_detector d;
    init_normal(&d, 1000, 0);
    phi_heartbeat(&d, 5000);
    assert_int_equal(d.count, 2);
    assert_true(phi_mean_ms(&d) == 1000.0);
    assert_true(phi_std_dev_ms(&d) == 250.0);
    assert_float_equal(phi_value(&d, 5000 + 1000), LOG10_2, EPS);
    assert_float_equal(phi_value(&d, 5000 + 1500), 1.64283, EPS);
}

/* Exponential model, bootstrap estimate 1000, one heartbeat: window {1000}.
 *   t = 2000: phi = 2000 / 1000 / ln 10 = 0.868589
 *   t = 1000: phi = 1 / ln 10 = 0.434294
 * Cassandra's defaults (estimate 2000) at t = 2000: 1 / ln 10. */
static void test_exponential(void **state)
{
    (void)state;
    phi_detector d;
    phi_params p;
    phi_params_default(&p, PHI_MODEL_EXPONENTIAL);
    p.first_interval_ms = 1000;
    assert_int_equal(phi_init(&d, &p, ring, PHI_MAX_WINDOW), 0);
    phi_heartbeat(&d, 7000);
    assert_true(phi_mean_ms(&d) == 1000.0);
    assert_float_equal(phi_value(&d, 7000 + 2000), 0.868589, 1e-6);
    assert_float_equal(phi_value(&d, 7000 + 1000), 0.434294, 1e-6);
    assert_float_equal(phi_value(&d, 7000), 0.0, 1e-12);
    /* phi = 8 at t = 8 ln 10 * 1000 = 18420.7 ms */
    assert_true(phi_is_available(&d, 7000 + 18420));
    assert_false(phi_is_available(&d, 7000 + 18421));

    phi_params_default(&p, PHI_MODEL_EXPONENTIAL);
    assert_int_equal(phi_init(&d, &p, ring, PHI_MAX_WINDOW), 0);
    phi_heartbeat(&d, 0);
    assert_float_equal(phi_value(&d, 2000), 0.434294, 1e-6);
}

/* Window 4, normal model, bootstrap {750, 1250}.
 *   beats at 0, 1000, 2000     -> {750, 1250, 1000, 1000}   mean 1000
 *   beat at 3200 (1200)        -> 750 out:  {1250, 1000, 1000, 1200}
 *                                 mean 4450 / 4 = 1112.5
 *   beat at 4000 (800)         -> 1250 out: {1000, 1000, 1200, 800}
 *                                 mean 1000, var (0+0+200^2+200^2)/4 = 20000,
 *                                 sd 141.421
 *   t = 1300 after the last:  y = 300 / 141.421 = 2.121320,
 *       z = 2.121320 (1.5976 + 0.070566 * 4.5) = 4.062640,
 *       phi = ln(1 + e^4.062640) / ln 10 = 4.079715 / 2.302585 = 1.77179 */
static void test_window_eviction(void **state)
{
    (void)state;
    phi_detector d;
    init_normal(&d, 4, 0);
    beat_every(&d, 0, 1000, 3);
    assert_int_equal(d.count, 4);
    assert_true(phi_mean_ms(&d) == 1000.0);
    phi_heartbeat(&d, 3200);
    assert_int_equal(d.count, 4);
    assert_true(phi_mean_ms(&d) == 1112.5);
    phi_heartbeat(&d, 4000);
    assert_true(phi_mean_ms(&d) == 1000.0);
    assert_float_equal(phi_std_dev_ms(&d), 141.421356, 1e-6);
    assert_float_equal(phi_value(&d, 4000 + 1300), 1.77179, EPS);
    /* Many more beats: the ring wraps many times and the sums stay exact. */
    beat_every(&d, 5000, 1000, 40);
    assert_true(phi_mean_ms(&d) == 1000.0);
    assert_true(phi_std_dev_ms(&d) == 0.0);
}

/* Akka's acceptable pause is added to the mean: the whole curve moves right
 * by the pause.  History as in test_normal_steady_history, pause 3000:
 *   t = 4000: y = 0, phi = log10 2;  t = 4500: y = 5, phi = 7.29995. */
static void test_acceptable_pause_shifts_curve(void **state)
{
    (void)state;
    phi_detector plain, paused;
    init_normal(&plain, 10, 0);
    uint64_t last = beat_every(&plain, 0, 1000, 11);
    static uint32_t ring2[PHI_MAX_WINDOW];
    phi_params p = plain.params;
    p.acceptable_pause_ms = 3000;
    assert_int_equal(phi_init(&paused, &p, ring2, PHI_MAX_WINDOW), 0);
    beat_every(&paused, 0, 1000, 11);
    assert_float_equal(phi_value(&paused, last + 4000), LOG10_2, EPS);
    assert_float_equal(phi_value(&paused, last + 4500), 7.29995, EPS);
    for (uint64_t t = 0; t <= 6000; t += 50)
        assert_float_equal(phi_value(&paused, last + 3000 + t), phi_value(&plain, last + t),
                           1e-9);
}

/* A heartbeat after the peer was suspected is not recorded (Akka): the
 * 10 s silence would otherwise drag the mean up to ~1818 ms. */
static void test_suspected_interval_not_recorded(void **state)
{
    (void)state;
    phi_detector d;
    init_normal(&d, 10, 0);
    uint64_t last = beat_every(&d, 0, 1000, 11);
    assert_false(phi_is_available(&d, last + 10000));
    phi_heartbeat(&d, last + 10000);
    assert_true(phi_mean_ms(&d) == 1000.0);
    /* The timestamp did move: the peer is trusted again right away. */
    assert_float_equal(phi_value(&d, last + 11000), LOG10_2, EPS);
    phi_heartbeat(&d, last + 11000);
    assert_true(phi_mean_ms(&d) == 1000.0);
}

/* Cassandra's MAX_INTERVAL: with the defaults (estimate 2000, cap 2000),
 *   beat at 0       -> {2000}
 *   beat at 2500    -> 2500 > 2000, not recorded: {2000}
 *   beat at 4500    -> 2000 <= 2000, recorded: {2000, 2000}
 *   beat at 5500    -> {2000, 2000, 1000}, mean 5000 / 3 = 1666.67 */
static void test_max_interval(void **state)
{
    (void)state;
    phi_detector d;
    phi_params p;
    phi_params_default(&p, PHI_MODEL_EXPONENTIAL);
    assert_int_equal(phi_init(&d, &p, ring, PHI_MAX_WINDOW), 0);
    phi_heartbeat(&d, 0);
    phi_heartbeat(&d, 2500);
    assert_int_equal(d.count, 1);
    assert_true(phi_mean_ms(&d) == 2000.0);
    assert_float_equal(phi_value(&d, 2500 + 2000), 0.434294, 1e-6); /* clock restarted */
    phi_heartbeat(&d, 4500);
    assert_int_equal(d.count, 2);
    phi_heartbeat(&d, 5500);
    assert_int_equal(d.count, 3);
    assert_float_equal(phi_mean_ms(&d), 5000.0 / 3.0, 1e-9);
}

static void assert_monotonic(const phi_detector *d, uint64_t last)
{
    double prev = phi_value(d, last);
    for (uint64_t t = last; t <= last + 200000; t += 7) {
        double v = phi_value(d, t);
        assert_true(v >= prev);
        assert_true(isfinite(v));
        prev = v;
    }
}

static void test_monotonic_in_time(void **state)
{
    (void)state;
    /* A jittery history: intervals 900, 1000, 1100, 1200, repeated. */
    static const uint32_t jitter[] = {900, 1000, 1100, 1200};
    for (int m = PHI_MODEL_NORMAL; m <= PHI_MODEL_EXPONENTIAL; m++) {
        phi_detector d;
        phi_params p;
        phi_params_default(&p, (enum phi_model)m);
        p.window = 16;
        assert_int_equal(phi_init(&d, &p, ring, PHI_MAX_WINDOW), 0);
        uint64_t t = 1;
        for (int i = 0; i < 40; i++) {
            phi_heartbeat(&d, t);
            t += jitter[i % 4];
        }
        assert_monotonic(&d, d.last_ms);
    }
}

/* Computed directly, P_later = e^-z / (1 + e^-z) underflows to 0 once
 * z > 745 (y = 21.6, here t = 3160 ms); phi must keep growing, finite.  At t = 2^64 - 1 ms: y = 1.84e17, phi about
 * 0.070566 y^3 / ln 10 = 1.92e50 (normal), 1.8e19 / 1000 / ln 10 = 8.0e15
 * (exponential). */
static void test_huge_silence_is_finite(void **state)
{
    (void)state;
    phi_detector d;
    init_normal(&d, 10, 0);
    beat_every(&d, 0, 1000, 11);
    double big = phi_value(&d, UINT64_MAX);
    assert_true(isfinite(big));
    assert_true(big > phi_value(&d, 1000000));
    assert_float_equal(big / 1.9237e50, 1.0, 1e-3);
    assert_true(phi_value(&d, 1000000) > phi_value(&d, 100000));
    assert_false(phi_is_available(&d, UINT64_MAX));

    phi_params p;
    phi_params_default(&p, PHI_MODEL_EXPONENTIAL);
    assert_int_equal(phi_init(&d, &p, ring, PHI_MAX_WINDOW), 0);
    phi_heartbeat(&d, 0);
    phi_heartbeat(&d, 0); /* a zero interval: mean 1000, still finite */
    big = phi_value(&d, UINT64_MAX);
    assert_true(isfinite(big));
    assert_float_equal(big / (18446744073709551615.0 / 1000.0 / 2.302585093), 1.0, 1e-9);
}

static void test_time_backwards_ignored(void **state)
{
    (void)state;
    phi_detector d;
    init_normal(&d, 10, 0);
    uint64_t last = beat_every(&d, 0, 1000, 11);
    double at_last = phi_value(&d, last);
    assert_float_equal(phi_value(&d, last - 500), at_last, 1e-12);
    phi_heartbeat(&d, last - 500);
    assert_int_equal(d.last_ms, last);
    assert_true(phi_mean_ms(&d) == 1000.0);
}

static void test_reset(void **state)
{
    (void)state;
    phi_detector d;
    init_normal(&d, 10, 0);
    beat_every(&d, 0, 700, 20);
    assert_true(phi_mean_ms(&d) == 700.0);
    phi_reset(&d);
    assert_true(phi_value(&d, 100000) == 0.0);
    assert_int_equal(d.count, 2);
    assert_true(phi_mean_ms(&d) == 1000.0);
}

static void expect_invalid(const phi_params *p)
{
    phi_detector d;
    assert_int_equal(phi_params_check(p), GOSSIP_ERR_INVALID);
    assert_int_equal(phi_init(&d, p, ring, PHI_MAX_WINDOW), GOSSIP_ERR_INVALID);
}

static void test_bad_params_rejected(void **state)
{
    (void)state;
    phi_params good, p;
    phi_params_default(&good, PHI_MODEL_NORMAL);
    assert_int_equal(phi_params_check(&good), 0);

    p = good, p.model = (enum phi_model)7, expect_invalid(&p);
    p = good, p.window = 0, expect_invalid(&p);
    p = good, p.window = PHI_MAX_WINDOW + 1, expect_invalid(&p);
    p = good, p.min_std_dev_ms = 0, expect_invalid(&p);
    p = good, p.min_std_dev_ms = PHI_INTERVAL_CAP_MS + 1, expect_invalid(&p);
    p = good, p.first_interval_ms = 0, expect_invalid(&p);
    p = good, p.first_interval_ms = PHI_INTERVAL_CAP_MS + 1, expect_invalid(&p);
    p = good, p.acceptable_pause_ms = PHI_INTERVAL_CAP_MS + 1, expect_invalid(&p);
    p = good, p.max_interval_ms = PHI_INTERVAL_CAP_MS + 1, expect_invalid(&p);
    p = good, p.threshold = 0.0, expect_invalid(&p);
    p = good, p.threshold = -1.0, expect_invalid(&p);
    p = good, p.threshold = NAN, expect_invalid(&p);
    p = good, p.threshold = INFINITY, expect_invalid(&p);

    /* The std dev floor is the normal model's; the exponential ignores it. */
    phi_params_default(&p, PHI_MODEL_EXPONENTIAL);
    p.min_std_dev_ms = 0;
    assert_int_equal(phi_params_check(&p), 0);

    phi_detector d;
    assert_int_equal(phi_params_check(NULL), GOSSIP_ERR_INVALID);
    assert_int_equal(phi_init(NULL, &good, ring, PHI_MAX_WINDOW), GOSSIP_ERR_INVALID);
    assert_int_equal(phi_init(&d, NULL, ring, PHI_MAX_WINDOW), GOSSIP_ERR_INVALID);
    assert_int_equal(phi_init(&d, &good, NULL, PHI_MAX_WINDOW), GOSSIP_ERR_INVALID);
    assert_int_equal(phi_init(&d, &good, ring, good.window - 1), GOSSIP_ERR_INVALID);
    good.window = 8;
    assert_int_equal(phi_init(&d, &good, ring, 8), 0);
}

/* Intervals beyond PHI_INTERVAL_CAP_MS are recorded as the cap, so the sums
 * stay exact even for a full window of them. */
static void test_interval_cap(void **state)
{
    (void)state;
    phi_detector d;
    phi_params p;
    phi_params_default(&p, PHI_MODEL_NORMAL);
    p.first_interval_ms = PHI_INTERVAL_CAP_MS;
    p.threshold = 1e300; /* never suspect, so every interval is recorded */
    assert_int_equal(phi_init(&d, &p, ring, PHI_MAX_WINDOW), 0);
    uint64_t t = 0;
    for (uint32_t i = 0; i <= PHI_MAX_WINDOW; i++, t += 3ull * PHI_INTERVAL_CAP_MS)
        phi_heartbeat(&d, t);
    assert_int_equal(d.count, PHI_MAX_WINDOW);
    assert_true(phi_mean_ms(&d) == (double)PHI_INTERVAL_CAP_MS);
    assert_true(phi_std_dev_ms(&d) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_any_heartbeat),
        cmocka_unit_test(test_normal_steady_history),
        cmocka_unit_test(test_normal_bootstrap),
        cmocka_unit_test(test_exponential),
        cmocka_unit_test(test_window_eviction),
        cmocka_unit_test(test_acceptable_pause_shifts_curve),
        cmocka_unit_test(test_suspected_interval_not_recorded),
        cmocka_unit_test(test_max_interval),
        cmocka_unit_test(test_monotonic_in_time),
        cmocka_unit_test(test_huge_silence_is_finite),
        cmocka_unit_test(test_time_backwards_ignored),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_bad_params_rejected),
        cmocka_unit_test(test_interval_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
