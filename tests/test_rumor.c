/*
 * test_rumor.c -- rumor mongering in the round model (src/sim/rumor.c):
 * the blind-coin residue follows s = exp(-k(1-s)), Demers et al.'s
 * Tables 1 and 2 are reproduced, results are deterministic for any thread
 * count, the variants keep their invariants, anti-entropy drives the
 * residue to 0, and broadcast loads its source N-1 times more than gossip
 * loads any node.  docs/rumor-mongering.md has the figures.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gossip/gossip.h"
#include "sim/rumor.h"

#define TEST_SEED 20240611u
#define TEST_THREADS 2u
/* The fixed-point check: N = 10,000, k = 2..5.  The trial-to-trial
 * standard deviation of the residue is at most 0.007 (k = 2), so with
 * 200 trials the standard error is 0.0005, a tenth of the tolerance. */
#define FIXED_POINT_NODES 10000u
#define FIXED_POINT_TRIALS 200u
#define FIXED_POINT_TOLERANCE 0.005

static struct rumor_config config(uint32_t nodes, enum rumor_variant variant, uint32_t k,
                                  uint32_t trials)
{
    struct rumor_config cfg = {
        .nodes = nodes,
        .variant = variant,
        .k = k,
        .trials = trials,
        .seed = TEST_SEED,
        .threads = TEST_THREADS,
    };
    return cfg;
}

static struct rumor_summary run(const struct rumor_config *cfg)
{
    struct rumor_summary s;
    assert_int_equal(rumor_run(cfg, &s), 0);
    assert_int_equal(s.trials_capped, 0);
    return s;
}

/* Everything that must not depend on threads or scheduling. */
static void assert_same_results(const struct rumor_summary *a, const struct rumor_summary *b)
{
    assert_true(a->residue_mean == b->residue_mean);
    assert_true(a->residue_stddev == b->residue_stddev);
    assert_true(a->residue_min == b->residue_min);
    assert_true(a->residue_max == b->residue_max);
    assert_true(a->traffic_mean == b->traffic_mean);
    assert_true(a->t_last_mean == b->t_last_mean);
    assert_int_equal(a->t_last_max, b->t_last_max);
    assert_true(a->t_ave_mean == b->t_ave_mean);
    assert_true(a->rounds_mean == b->rounds_mean);
    assert_true(a->max_sent_mean == b->max_sent_mean);
    assert_true(a->max_received_mean == b->max_received_mean);
    assert_true(a->zero_round_mean == b->zero_round_mean);
    assert_true(a->ae_exchanges_per_node == b->ae_exchanges_per_node);
    assert_int_equal(a->history_len, b->history_len);
    for (uint32_t r = 0; r < a->history_len; r++) {
        assert_true(a->history_uninformed[r] == b->history_uninformed[r]);
        assert_true(a->history_infective[r] == b->history_infective[r]);
    }
}

/* ---- theory ------------------------------------------------------------------ */

static void test_fixed_point_values(void **state)
{
    /* s = exp(-k(1-s)) for k = 2..5, as quoted in issue 6 */
    const double expected[] = {0.203, 0.0595, 0.0198, 0.0070};
    for (uint32_t k = 2; k <= 5; k++) {
        double s = rumor_theory_residue(RUMOR_BLIND_COIN, k);
        assert_true(fabs(s - exp(-(double)k * (1.0 - s))) < 1e-12);
        assert_true(fabs(s - expected[k - 2]) < 0.0005);
        /* feedback-coin at k is blind-coin at k + 1 */
        assert_true(rumor_theory_residue(RUMOR_FEEDBACK_COIN, k - 1) == s);
    }
    assert_true(rumor_fixed_point(1.0) == 1.0);
    assert_true(rumor_fixed_point(0.5) == 1.0);
    assert_true(isnan(rumor_theory_residue(RUMOR_FEEDBACK_COUNTER, 2)));
    assert_true(isnan(rumor_theory_residue(RUMOR_BLIND_COUNTER, 2)));
}

static void test_blind_coin_follows_fixed_point(void **state)
{
    for (uint32_t k = 2; k <= 5; k++) {
        struct rumor_config cfg =
            config(FIXED_POINT_NODES, RUMOR_BLIND_COIN, k, FIXED_POINT_TRIALS);
        struct rumor_summary s = run(&cfg);
        print_message("blind-coin k=%u N=%u: residue %.5f (sd %.5f), theory %.5f, traffic "
                      "%.3f\n",
                      k, cfg.nodes, s.residue_mean, s.residue_stddev, s.theory_residue,
                      s.traffic_mean);
        assert_true(fabs(s.residue_mean - s.theory_residue) <= FIXED_POINT_TOLERANCE);
        /* every informed node pushes k times on average: m = k (1 - s) */
        assert_true(fabs(s.traffic_mean - k * (1.0 - s.residue_mean)) < 0.02);
        rumor_summary_free(&s);
    }
}

/* ---- Demers et al. 1987, Tables 1 and 2 (N = 1000) ------------------------------- */

/* Standard errors with 400 trials at N = 1000: residue <= 0.0008,
 * traffic <= 0.003, t_last 0.07 (Table 1) and 0.3 to 1 (Table 2). */
#define DEMERS_TRIALS 400u

/* The figures as the paper prints them (CSL-89-1, p. 10; docs/rumor-
 * mongering.md), mostly to two significant digits: a printed "0.18" is
 * anything in [0.175, 0.185), so each check allows half a unit of the last
 * printed digit on top of the sampling error. */
struct demers_row {
    uint32_t k;
    const char *residue, *traffic;
    double t_last;
};

/* Table 1: feedback, counter (reset by a necessary push, see the docs). */
static const struct demers_row table1[] = {
    {1, "0.18", "1.7", 16.8}, {2, "0.037", "3.3", 16.9}, {3, "0.011", "4.5", 17.4},
    {4, "0.0036", "5.6", 17.5}, {5, "0.0012", "6.7", 17.7},
};
/* Table 2: blind, coin. */
static const struct demers_row table2[] = {
    {1, "0.96", "0.04", 38}, {2, "0.20", "1.6", 33}, {3, "0.060", "2.8", 32},
    {4, "0.021", "3.9", 32}, {5, "0.008", "4.9", 32},
};

/* |ours - printed| within half a unit of its last digit plus `sampling`. */
static bool matches_printed(double ours, const char *printed, double sampling)
{
    const char *dot = strchr(printed, '.');
    size_t decimals = dot ? strlen(dot + 1) : 0;
    double unit = pow(10.0, -(double)decimals);
    return fabs(ours - strtod(printed, NULL)) <= unit / 2 + sampling;
}

static void check_demers(const struct demers_row *rows, size_t count,
                         enum rumor_variant variant, bool reset, double t_last_tolerance)
{
    for (size_t i = 0; i < count; i++) {
        struct rumor_config cfg = config(1000, variant, rows[i].k, DEMERS_TRIALS);
        cfg.counter_reset = reset;
        struct rumor_summary s = run(&cfg);
        print_message("%s k=%u: residue %.4f (Demers %s), traffic %.3f (%s), t_last "
                      "%.2f (%.1f)\n",
                      rumor_variant_name(variant), rows[i].k, s.residue_mean, rows[i].residue,
                      s.traffic_mean, rows[i].traffic, s.t_last_mean, rows[i].t_last);
        /* sampling: about 4 standard errors of 400 trials (see above) */
        assert_true(matches_printed(s.residue_mean, rows[i].residue, 0.003));
        assert_true(matches_printed(s.traffic_mean, rows[i].traffic, 0.03));
        assert_true(fabs(s.t_last_mean - rows[i].t_last) <= t_last_tolerance);
        rumor_summary_free(&s);
    }
}

static void test_demers_table1_feedback_counter(void **state)
{
    check_demers(table1, sizeof table1 / sizeof table1[0], RUMOR_FEEDBACK_COUNTER, true, 0.3);
}

static void test_demers_table2_blind_coin(void **state)
{
    /* t_last of blind-coin varies a lot between trials -- at k = 1 the rumor
     * is a chain whose length has sd ~20 rounds at N = 1000, a standard
     * error of 1 round over 400 trials -- and the paper gives whole rounds */
    check_demers(table2, sizeof table2 / sizeof table2[0], RUMOR_BLIND_COIN, false, 2.5);
}

/* ---- determinism ---------------------------------------------------------------- */

static void test_same_seed_same_results(void **state)
{
    for (int v = RUMOR_FEEDBACK_COUNTER; v <= RUMOR_BLIND_COIN; v++) {
        struct rumor_config cfg = config(1000, (enum rumor_variant)v, 2, 40);
        struct rumor_summary a = run(&cfg), b = run(&cfg);
        assert_same_results(&a, &b);
        rumor_summary_free(&a);
        rumor_summary_free(&b);
    }
}

static void test_different_seed_different_trials(void **state)
{
    struct rumor_config cfg = config(1000, RUMOR_BLIND_COIN, 2, 1);
    uint32_t differing = 0;
    for (uint32_t trial = 0; trial < 10; trial++) {
        struct rumor_trial a, b;
        cfg.seed = TEST_SEED;
        assert_int_equal(rumor_run_trial(&cfg, trial, &a), 0);
        cfg.seed = TEST_SEED + 1;
        assert_int_equal(rumor_run_trial(&cfg, trial, &b), 0);
        differing += a.uninformed != b.uninformed || a.pushes != b.pushes;
    }
    assert_true(differing > 0);
}

static void test_thread_count_does_not_change_results(void **state)
{
    struct rumor_config variants[] = {
        config(2000, RUMOR_FEEDBACK_COUNTER, 2, 37), config(2000, RUMOR_FEEDBACK_COIN, 2, 37),
        config(2000, RUMOR_BLIND_COUNTER, 3, 37),    config(2000, RUMOR_BLIND_COIN, 3, 37),
        config(2000, RUMOR_FEEDBACK_COUNTER, 2, 37), config(2000, RUMOR_BLIND_COIN, 2, 37),
        config(2000, RUMOR_FEEDBACK_COIN, 1, 37),
    };
    variants[4].counter_reset = true;
    variants[4].schedule = RUMOR_SCHEDULE_SEQUENTIAL;
    variants[5].ae_mode = RUMOR_AE_EVERY;
    variants[5].ae_every = 7;
    variants[5].history = true;
    variants[6].ae_mode = RUMOR_AE_AFTER;
    variants[6].history = true;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        struct rumor_config cfg = variants[v];
        cfg.threads = 1;
        struct rumor_summary one = run(&cfg);
        cfg.threads = 2;
        struct rumor_summary two = run(&cfg);
        cfg.threads = 5;
        struct rumor_summary five = run(&cfg);
        assert_same_results(&one, &two);
        assert_same_results(&one, &five);
        rumor_summary_free(&one);
        rumor_summary_free(&two);
        rumor_summary_free(&five);
    }
}

static void test_single_trial_matches_run(void **state)
{
    struct rumor_config cfg = config(500, RUMOR_FEEDBACK_COIN, 2, 12);
    struct rumor_summary s = run(&cfg);
    uint32_t t_last_max = 0;
    double pushes = 0;
    for (uint32_t i = 0; i < cfg.trials; i++) {
        struct rumor_trial t;
        assert_int_equal(rumor_run_trial(&cfg, i, &t), 0);
        t_last_max = t.t_last > t_last_max ? t.t_last : t_last_max;
        pushes += (double)t.pushes / cfg.nodes;
    }
    assert_int_equal(s.t_last_max, t_last_max);
    assert_true(fabs(s.traffic_mean - pushes / cfg.trials) < 1e-12);
    rumor_summary_free(&s);
}

/* ---- behaviour -------------------------------------------------------------------- */

/* Feedback only reacts to unnecessary pushes, so at the same k a node
 * pushes longer and fewer nodes are missed: exp(-(k+1)(1-s)) vs
 * exp(-k(1-s)) for coins.  Checked for coins and counters. */
static void test_feedback_beats_blind(void **state)
{
    for (uint32_t k = 2; k <= 5; k++) {
        const enum rumor_variant pairs[2][2] = {{RUMOR_FEEDBACK_COIN, RUMOR_BLIND_COIN},
                                                {RUMOR_FEEDBACK_COUNTER, RUMOR_BLIND_COUNTER}};
        for (int p = 0; p < 2; p++) {
            struct rumor_config fcfg = config(2000, pairs[p][0], k, 50);
            struct rumor_config bcfg = config(2000, pairs[p][1], k, 50);
            struct rumor_summary f = run(&fcfg), b = run(&bcfg);
            print_message("k=%u %s %.5f < %s %.5f\n", k, rumor_variant_name(pairs[p][0]),
                          f.residue_mean, rumor_variant_name(pairs[p][1]), b.residue_mean);
            assert_true(f.residue_mean < b.residue_mean);
            rumor_summary_free(&f);
            rumor_summary_free(&b);
        }
    }
}

/* Blind-counter: every informed node pushes exactly k times, then stops. */
static void test_blind_counter_pushes_exactly_k(void **state)
{
    for (uint32_t k = 1; k <= 4; k++) {
        struct rumor_config cfg = config(3000, RUMOR_BLIND_COUNTER, k, 1);
        for (uint32_t trial = 0; trial < 20; trial++) {
            struct rumor_trial t;
            assert_int_equal(rumor_run_trial(&cfg, trial, &t), 0);
            assert_false(t.capped);
            uint64_t informed = cfg.nodes - t.uninformed;
            assert_true(t.pushes == (uint64_t)k * informed);
            assert_int_equal(t.max_sent, k);
            /* the last pushes are made in the round the rumor dies */
            assert_true(t.rounds > t.t_last);
            if (k == 1) { /* a chain: one push per round, each new until the last */
                assert_true(t.pushes == t.rounds);
                assert_true(informed == t.rounds);
            }
        }
    }
}

/* Feedback-counter: every informed node makes exactly k unnecessary pushes
 * (no reset) and every informed node but the first was reached by at
 * least one necessary push, so pushes >= (k+1) informed - 1; with the
 * reset, a node makes at least k. */
static void test_feedback_counter_terminates_with_bounded_traffic(void **state)
{
    for (int reset = 0; reset <= 1; reset++) {
        for (uint32_t k = 1; k <= 5; k++) {
            struct rumor_config cfg = config(2000, RUMOR_FEEDBACK_COUNTER, k, 1);
            cfg.counter_reset = reset;
            for (uint32_t trial = 0; trial < 10; trial++) {
                struct rumor_trial t;
                assert_int_equal(rumor_run_trial(&cfg, trial, &t), 0);
                assert_false(t.capped);
                uint64_t informed = cfg.nodes - t.uninformed;
                assert_true(t.pushes >= (uint64_t)(k + 1) * informed - 1);
                assert_true(t.rounds > 0 && t.rounds < 200);
            }
        }
    }
}

/* The synchronous schedule lets several pushes reach one node in a round,
 * and all of them count as necessary: feedback sends more than the
 * mean-field (k+1)(1-s) and leaves less residue than exp(-(k+1)(1-s)).  The
 * sequential schedule has no such collisions and follows the formula. */
static void test_schedules_against_mean_field(void **state)
{
    struct rumor_config cfg = config(10000, RUMOR_FEEDBACK_COIN, 1, 100);
    double theory = rumor_theory_residue(RUMOR_FEEDBACK_COIN, 1);
    struct rumor_summary sync = run(&cfg);
    cfg.schedule = RUMOR_SCHEDULE_SEQUENTIAL;
    struct rumor_summary seq = run(&cfg);
    print_message("feedback-coin k=1: sync %.4f, sequential %.4f, theory %.4f\n",
                  sync.residue_mean, seq.residue_mean, theory);
    assert_true(sync.residue_mean < theory - 0.015);
    assert_true(fabs(seq.residue_mean - theory) < 0.005);
    rumor_summary_free(&sync);
    rumor_summary_free(&seq);
}

/* N = 2, blind-coin, k = 1: round 1 informs the other node and the holder
 * stops; round 2 the other node pushes back and stops. */
static void test_two_nodes(void **state)
{
    struct rumor_config cfg = config(2, RUMOR_BLIND_COIN, 1, 3);
    struct rumor_summary s = run(&cfg);
    assert_true(s.residue_mean == 0.0);
    assert_true(s.traffic_mean == 1.0);
    assert_true(s.t_last_mean == 1.0);
    assert_true(s.rounds_mean == 2.0);
    assert_int_equal(s.max_sent_max, 1);
    rumor_summary_free(&s);
}

static void assert_ae_complete(const struct rumor_config *cfg)
{
    struct rumor_summary s = run(cfg);
    print_message("%s k=%u ae %d: residue %.4f when the rumor died after %.1f rounds; 0 "
                  "after %.1f (max %u), %.2f exchanges per node\n",
                  rumor_variant_name(cfg->variant), cfg->k, (int)cfg->ae_mode, s.residue_mean,
                  s.rounds_mean, s.zero_round_mean, s.zero_round_max, s.ae_exchanges_per_node);
    assert_true(s.residue_mean > 0.01); /* something was left to repair */
    assert_int_equal(s.final_uninformed_max, 0);
    assert_true(s.zero_round_max > 0);
    assert_true(s.ae_rounds_mean >= 1.0);
    assert_true(s.history_len > 1);
    assert_true(fabs(s.history_uninformed[0] - (1.0 - 1.0 / cfg->nodes)) < 1e-12);
    assert_true(s.history_uninformed[s.history_len - 1] == 0.0);
    assert_true(s.history_infective[s.history_len - 1] == 0.0);
    if (cfg->ae_mode == RUMOR_AE_AFTER) {
        assert_true(s.zero_round_mean > s.rounds_mean);
        /* one exchange per node per anti-entropy round */
        assert_true(fabs(s.ae_exchanges_per_node - s.ae_rounds_mean) < 1e-9);
    }
    rumor_summary_free(&s);
}

static void test_anti_entropy_drives_residue_to_zero(void **state)
{
    struct rumor_config cfg = config(10000, RUMOR_FEEDBACK_COUNTER, 1, 50);
    cfg.history = true;
    cfg.ae_mode = RUMOR_AE_AFTER;
    assert_ae_complete(&cfg);
    cfg = config(10000, RUMOR_BLIND_COIN, 2, 50);
    cfg.history = true;
    cfg.ae_mode = RUMOR_AE_AFTER;
    assert_ae_complete(&cfg);
    cfg.ae_mode = RUMOR_AE_EVERY;
    cfg.ae_every = 30;
    assert_ae_complete(&cfg);
}

static void test_without_anti_entropy_residue_stays(void **state)
{
    struct rumor_config cfg = config(1000, RUMOR_FEEDBACK_COUNTER, 1, 20);
    cfg.history = true;
    struct rumor_summary s = run(&cfg);
    assert_true(s.residue_min > 0.0);
    assert_true(s.final_uninformed_max > 0);
    assert_true(s.ae_rounds_mean == 0.0);
    assert_true(fabs(s.history_uninformed[s.history_len - 1] - s.residue_mean) < 1e-12);
    rumor_summary_free(&s);
}

/* ---- the hot spot ------------------------------------------------------------------- */

static void test_broadcast_overloads_the_source(void **state)
{
    const uint32_t sizes[] = {100, 10000};
    for (size_t i = 0; i < 2; i++) {
        struct hotspot_config cfg = {.nodes = sizes[i], .send_rate = 10, .fanout = 1,
                                     .trials = 50, .seed = TEST_SEED, .threads = 2};
        struct hotspot_summary h;
        assert_int_equal(hotspot_run(&cfg, &h), 0);
        assert_int_equal(h.trials_capped, 0);
        print_message("N=%u: broadcast source sent %u, %u rounds; gossip busiest sender "
                      "%.1f (max %u), %.1f rounds\n",
                      cfg.nodes, h.broadcast.max_sent_max, h.broadcast.rounds_max,
                      h.gossip.max_sent_mean, h.gossip.max_sent_max, h.gossip.rounds_mean);
        assert_int_equal(h.broadcast.max_sent_max, cfg.nodes - 1);
        assert_int_equal(h.broadcast.rounds_max, (cfg.nodes - 1 + 9) / 10);
        /* push: the busiest sender is the first holder, one push per round */
        assert_int_equal(h.gossip.max_sent_max, h.gossip.rounds_max);
        assert_true(h.gossip.max_sent_max * 4 < cfg.nodes - 1);
        if (cfg.nodes == 10000)
            assert_true(h.gossip.max_sent_max * 100 < cfg.nodes - 1);
    }
}

static void test_hotspot_fanout_and_determinism(void **state)
{
    struct hotspot_config cfg = {.nodes = 1000, .send_rate = 4, .fanout = 4,
                                 .trials = 20, .seed = TEST_SEED, .threads = 1};
    struct hotspot_summary a, b;
    assert_int_equal(hotspot_run(&cfg, &a), 0);
    cfg.threads = 3;
    assert_int_equal(hotspot_run(&cfg, &b), 0);
    assert_true(a.gossip.rounds_mean == b.gossip.rounds_mean);
    assert_true(a.gossip.max_received_mean == b.gossip.max_received_mean);
    assert_true(a.gossip.sent_per_node == b.gossip.sent_per_node);
    assert_int_equal(a.gossip.max_sent_max, 4 * a.gossip.rounds_max);
    cfg.fanout = 5; /* more than the send rate */
    assert_non_null(hotspot_config_problem(&cfg));
    assert_int_equal(hotspot_run(&cfg, &a), GOSSIP_ERR_INVALID);
}

/* ---- configuration ------------------------------------------------------------------- */

static void assert_invalid(const struct rumor_config *cfg)
{
    struct rumor_summary s;
    struct rumor_trial t;
    assert_non_null(rumor_config_problem(cfg));
    assert_int_equal(rumor_run(cfg, &s), GOSSIP_ERR_INVALID);
    assert_int_equal(rumor_run_trial(cfg, 0, &t), GOSSIP_ERR_INVALID);
}

static void test_invalid_configurations(void **state)
{
    const struct rumor_config good = config(100, RUMOR_BLIND_COIN, 2, 1);
    assert_null(rumor_config_problem(&good));
    struct rumor_config cfg = good;
    cfg.nodes = 1;
    assert_invalid(&cfg);
    cfg = good;
    cfg.nodes = RUMOR_MAX_NODES + 1;
    assert_invalid(&cfg);
    cfg = good;
    cfg.k = 0;
    assert_invalid(&cfg);
    cfg = good;
    cfg.k = RUMOR_MAX_K + 1;
    assert_invalid(&cfg);
    cfg = good;
    cfg.trials = 0;
    assert_invalid(&cfg);
    cfg = good;
    cfg.threads = 0;
    assert_invalid(&cfg);
    cfg = good;
    cfg.variant = (enum rumor_variant)9;
    assert_invalid(&cfg);
    cfg = good;
    cfg.schedule = (enum rumor_schedule)5;
    assert_invalid(&cfg);
    cfg = good;
    cfg.counter_reset = true; /* blind-coin */
    assert_invalid(&cfg);
    cfg = good;
    cfg.ae_mode = RUMOR_AE_EVERY; /* period 0 */
    assert_invalid(&cfg);
    cfg = good;
    cfg.ae_mode = RUMOR_AE_AFTER;
    cfg.ae_every = 3;
    assert_invalid(&cfg);
}

static void test_names(void **state)
{
    for (int v = RUMOR_FEEDBACK_COUNTER; v <= RUMOR_BLIND_COIN; v++) {
        enum rumor_variant parsed;
        assert_int_equal(rumor_variant_parse(rumor_variant_name((enum rumor_variant)v), &parsed),
                         0);
        assert_int_equal(parsed, v);
    }
    enum rumor_variant parsed;
    assert_int_equal(rumor_variant_parse("blind", &parsed), GOSSIP_ERR_INVALID);
    enum rumor_schedule sched;
    assert_int_equal(rumor_schedule_parse("sequential", &sched), 0);
    assert_int_equal(sched, RUMOR_SCHEDULE_SEQUENTIAL);
    assert_int_equal(rumor_schedule_parse("async", &sched), GOSSIP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_point_values),
        cmocka_unit_test(test_blind_coin_follows_fixed_point),
        cmocka_unit_test(test_demers_table1_feedback_counter),
        cmocka_unit_test(test_demers_table2_blind_coin),
        cmocka_unit_test(test_same_seed_same_results),
        cmocka_unit_test(test_different_seed_different_trials),
        cmocka_unit_test(test_thread_count_does_not_change_results),
        cmocka_unit_test(test_single_trial_matches_run),
        cmocka_unit_test(test_feedback_beats_blind),
        cmocka_unit_test(test_blind_counter_pushes_exactly_k),
        cmocka_unit_test(test_feedback_counter_terminates_with_bounded_traffic),
        cmocka_unit_test(test_schedules_against_mean_field),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_anti_entropy_drives_residue_to_zero),
        cmocka_unit_test(test_without_anti_entropy_residue_stays),
        cmocka_unit_test(test_broadcast_overloads_the_source),
        cmocka_unit_test(test_hotspot_fanout_and_determinism),
        cmocka_unit_test(test_invalid_configurations),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
