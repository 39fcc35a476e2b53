/*
 * test_rounds.c -- the synchronous round model reproduces the theory and is
 * deterministic.
 *
 * The reference table (mean rounds to inform all N nodes, fanout 1) is the
 * one in docs/theory.md; we check its N = 1,000 and N = 10,000 rows.  The
 * tolerance is fixed at +-0.4 rounds; the trial counts are chosen so that the
 * standard error of our mean (stddev ~1.4 rounds) stays well inside it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gossip/gossip.h"
#include "sim/rounds.h"

#define TABLE_TOLERANCE 0.4
/* Standard error <= 1.4 / sqrt(1000) = 0.045 rounds, while our long-run means
 * (docs/theory.md) are within 0.06 of every reference cell checked here. */
#define TABLE_TRIALS 1000u
#define TEST_THREADS 2u
#define TEST_SEED 20240601u

static struct rounds_config config(uint32_t nodes, enum rounds_mode mode, uint32_t fanout,
                                   uint32_t trials, double loss)
{
    struct rounds_config cfg = {
        .nodes = nodes,
        .mode = mode,
        .fanout = fanout,
        .trials = trials,
        .seed = TEST_SEED,
        .loss = loss,
        .threads = TEST_THREADS,
    };
    return cfg;
}

static struct rounds_summary run(const struct rounds_config *cfg)
{
    struct rounds_summary summary;
    assert_int_equal(rounds_run(cfg, &summary), 0);
    assert_int_equal(summary.trials_capped, 0);
    return summary;
}

/* Everything that must not depend on threads or scheduling. */
static void assert_same_results(const struct rounds_summary *a, const struct rounds_summary *b)
{
    assert_true(a->rounds_mean == b->rounds_mean);
    assert_true(a->rounds_stddev == b->rounds_stddev);
    assert_int_equal(a->rounds_min, b->rounds_min);
    assert_int_equal(a->rounds_p99, b->rounds_p99);
    assert_int_equal(a->rounds_max, b->rounds_max);
    assert_int_equal(a->trials_capped, b->trials_capped);
    assert_true(a->messages_per_node == b->messages_per_node);
    assert_true(a->node_rounds == b->node_rounds);
}

/* ---- the reference table ---------------------------------------------------- */

struct table_row {
    uint32_t nodes;
    double push, pull, pushpull;
};

static const struct table_row reference_table[] = {
    {1000, 18.0, 13.8, 9.1},
    {10000, 23.7, 17.5, 11.6},
};

static void check_cell(uint32_t nodes, enum rounds_mode mode, double expected)
{
    struct rounds_config cfg = config(nodes, mode, 1, TABLE_TRIALS, 0.0);
    struct rounds_summary s = run(&cfg);
    print_message("N=%u %-8s mean %.3f (reference %.1f, formula %.2f)\n", nodes,
                  rounds_mode_name(mode), s.rounds_mean, expected, rounds_theory(mode, nodes));
    assert_true(fabs(s.rounds_mean - expected) <= TABLE_TOLERANCE);
    assert_true(s.rounds_min <= s.rounds_mean && s.rounds_mean <= s.rounds_max);
    assert_true(s.rounds_min <= s.rounds_p99 && s.rounds_p99 <= s.rounds_max);
}

static void check_row(const struct table_row *row)
{
    check_cell(row->nodes, ROUNDS_PUSH, row->push);
    check_cell(row->nodes, ROUNDS_PULL, row->pull);
    check_cell(row->nodes, ROUNDS_PUSHPULL, row->pushpull);
}

static void test_table_1000_nodes(void **state)
{
    check_row(&reference_table[0]);
}

static void test_table_10000_nodes(void **state)
{
    check_row(&reference_table[1]);
}

/* ---- determinism -------------------------------------------------------------- */

static void test_same_seed_same_results(void **state)
{
    for (int mode = ROUNDS_PUSH; mode <= ROUNDS_PUSHPULL; mode++) {
        struct rounds_config cfg = config(1000, (enum rounds_mode)mode, 1, 50, 0.1);
        struct rounds_summary first = run(&cfg);
        struct rounds_summary second = run(&cfg);
        assert_same_results(&first, &second);
    }
}

static void test_different_seed_different_trials(void **state)
{
    struct rounds_config cfg = config(1000, ROUNDS_PUSH, 1, 1, 0.0);
    struct rounds_trial a, b;
    uint32_t differing = 0;
    for (uint32_t trial = 0; trial < 20; trial++) {
        cfg.seed = TEST_SEED;
        assert_int_equal(rounds_run_trial(&cfg, trial, &a), 0);
        cfg.seed = TEST_SEED + 1;
        assert_int_equal(rounds_run_trial(&cfg, trial, &b), 0);
        differing += a.rounds != b.rounds || a.contacts != b.contacts;
    }
    assert_true(differing > 0);
}

static void test_thread_count_does_not_change_results(void **state)
{
    /* fanout 1 uses the fast kernels, fanout 2 with loss the reference one */
    const struct {
        uint32_t fanout;
        double loss;
    } variants[] = {{1, 0.0}, {2, 0.2}};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        for (int mode = ROUNDS_PUSH; mode <= ROUNDS_PUSHPULL; mode++) {
            struct rounds_config cfg = config(1000, (enum rounds_mode)mode, variants[v].fanout,
                                              37, variants[v].loss);
            cfg.threads = 1;
            struct rounds_summary one = run(&cfg);
            cfg.threads = 2;
            struct rounds_summary two = run(&cfg);
            cfg.threads = 5;
            struct rounds_summary five = run(&cfg);
            assert_same_results(&one, &two);
            assert_same_results(&one, &five);
        }
    }
}

/* The summary is a function of the per-trial results: trial i alone gives
 * the same rounds as trial i inside a run. */
static void test_single_trial_matches_run(void **state)
{
    struct rounds_config cfg = config(500, ROUNDS_PULL, 1, 10, 0.0);
    struct rounds_summary s = run(&cfg);
    uint32_t max = 0;
    uint64_t node_rounds = 0;
    for (uint32_t trial = 0; trial < cfg.trials; trial++) {
        struct rounds_trial t;
        assert_int_equal(rounds_run_trial(&cfg, trial, &t), 0);
        max = t.rounds > max ? t.rounds : max;
        node_rounds += (uint64_t)t.rounds * cfg.nodes;
    }
    assert_int_equal(s.rounds_max, max);
    assert_true(s.node_rounds == node_rounds);
}

/* The fast word-by-word kernels (and the prefetching push-pull variant
 * used beyond the L2 cache) and the node-by-node reference kernel implement
 * the same model with the same random draws; an odd N exercises the
 * partial last word of the bit sets. */
static void test_fast_kernels_match_reference_kernel(void **state)
{
    for (int mode = ROUNDS_PUSH; mode <= ROUNDS_PUSHPULL; mode++) {
        struct rounds_config cfg = config(1001, (enum rounds_mode)mode, 1, 40, 0.0);
        struct rounds_summary fast = run(&cfg);
        cfg.kernel = ROUNDS_KERNEL_REFERENCE;
        struct rounds_summary reference = run(&cfg);
        cfg.kernel = ROUNDS_KERNEL_PREFETCH;
        struct rounds_summary prefetch = run(&cfg);
        assert_same_results(&fast, &reference);
        assert_same_results(&fast, &prefetch);
    }
}

/* ---- behaviour ---------------------------------------------------------------- */

static void test_loss_takes_more_rounds(void **state)
{
    for (int mode = ROUNDS_PUSH; mode <= ROUNDS_PUSHPULL; mode++) {
        struct rounds_config cfg = config(1000, (enum rounds_mode)mode, 1, 100, 0.0);
        struct rounds_summary lossless = run(&cfg);
        cfg.loss = 0.3;
        struct rounds_summary lossy = run(&cfg);
        print_message("%-8s loss 0: %.2f rounds, loss 0.3: %.2f rounds\n",
                      rounds_mode_name(cfg.mode), lossless.rounds_mean, lossy.rounds_mean);
        assert_true(lossy.rounds_mean > lossless.rounds_mean + 1.0);
    }
}

static void test_fanout_2_is_faster(void **state)
{
    for (int mode = ROUNDS_PUSH; mode <= ROUNDS_PUSHPULL; mode++) {
        struct rounds_config cfg = config(10000, (enum rounds_mode)mode, 1, 100, 0.0);
        struct rounds_summary one = run(&cfg);
        cfg.fanout = 2;
        struct rounds_summary two = run(&cfg);
        print_message("%-8s fanout 1: %.2f rounds, fanout 2: %.2f rounds\n",
                      rounds_mode_name(cfg.mode), one.rounds_mean, two.rounds_mean);
        assert_true(two.rounds_mean < one.rounds_mean - 1.0);
    }
}

/* Push-pull: every node makes `fanout` contacts per round. */
static void test_pushpull_contacts_per_node(void **state)
{
    for (uint32_t fanout = 1; fanout <= 3; fanout++) {
        struct rounds_config cfg = config(300, ROUNDS_PUSHPULL, fanout, 20, 0.0);
        struct rounds_summary s = run(&cfg);
        assert_true(fabs(s.messages_per_node - s.rounds_mean * fanout) < 1e-9);
    }
}

/* N = 2: the only peer is the other node, so one lossless round informs
 * both, with one contact (push, pull) or two (push-pull). */
static void test_two_nodes(void **state)
{
    const double contacts_per_node[] = {
        [ROUNDS_PUSH] = 0.5, [ROUNDS_PULL] = 0.5, [ROUNDS_PUSHPULL] = 1.0};
    for (int mode = ROUNDS_PUSH; mode <= ROUNDS_PUSHPULL; mode++) {
        struct rounds_config cfg = config(2, (enum rounds_mode)mode, 1, 10, 0.0);
        struct rounds_summary s = run(&cfg);
        assert_int_equal(s.rounds_min, 1);
        assert_int_equal(s.rounds_max, 1);
        assert_true(s.messages_per_node == contacts_per_node[mode]);

        cfg.kernel = ROUNDS_KERNEL_REFERENCE;
        struct rounds_summary reference = run(&cfg);
        assert_same_results(&s, &reference);
        cfg.kernel = ROUNDS_KERNEL_PREFETCH;
        struct rounds_summary prefetch = run(&cfg);
        assert_same_results(&s, &prefetch);
        cfg.kernel = ROUNDS_KERNEL_AUTO;

        cfg.loss = 0.5;
        struct rounds_summary lossy = run(&cfg);
        assert_true(lossy.rounds_mean > 1.0);
        assert_int_equal(lossy.rounds_min, 1);
    }
}

/* A loss close to 1 stops at ROUNDS_MAX_ROUNDS instead of running on. */
static void test_round_cap(void **state)
{
    struct rounds_config cfg = config(2, ROUNDS_PUSH, 1, 3, 1.0 - 1e-9);
    struct rounds_summary s;
    assert_int_equal(rounds_run(&cfg, &s), 0);
    assert_int_equal(s.trials_capped, 3);
    assert_int_equal(s.rounds_max, ROUNDS_MAX_ROUNDS);
    assert_int_equal(s.rounds_min, ROUNDS_MAX_ROUNDS);
}

static void assert_invalid(const struct rounds_config *cfg)
{
    struct rounds_summary s;
    struct rounds_trial t;
    assert_non_null(rounds_config_problem(cfg));
    assert_int_equal(rounds_run(cfg, &s), GOSSIP_ERR_INVALID);
    assert_int_equal(rounds_run_trial(cfg, 0, &t), GOSSIP_ERR_INVALID);
}

static void test_invalid_configurations(void **state)
{
    struct rounds_config good = config(100, ROUNDS_PUSHPULL, 1, 1, 0.0);
    assert_null(rounds_config_problem(&good));

    struct rounds_config cfg = good;
    cfg.nodes = 1;
    assert_invalid(&cfg);
    cfg = good;
    cfg.nodes = ROUNDS_MAX_NODES + 1;
    assert_invalid(&cfg);
    cfg = good;
    cfg.fanout = 0;
    assert_invalid(&cfg);
    cfg = good;
    cfg.fanout = 100; /* must be < nodes */
    assert_invalid(&cfg);
    cfg = good;
    cfg.nodes = 1000;
    cfg.fanout = ROUNDS_MAX_FANOUT + 1;
    assert_invalid(&cfg);
    cfg = good;
    cfg.trials = 0;
    assert_invalid(&cfg);
    cfg = good;
    cfg.trials = ROUNDS_MAX_TRIALS + 1;
    assert_invalid(&cfg);
    cfg = good;
    cfg.loss = 1.0;
    assert_invalid(&cfg);
    cfg = good;
    cfg.loss = -0.01;
    assert_invalid(&cfg);
    cfg = good;
    cfg.loss = NAN;
    assert_invalid(&cfg);
    cfg = good;
    cfg.threads = 0;
    assert_invalid(&cfg);
    cfg = good;
    cfg.threads = ROUNDS_MAX_THREADS + 1;
    assert_invalid(&cfg);
    cfg = good;
    cfg.mode = (enum rounds_mode)7;
    assert_invalid(&cfg);
    cfg = good;
    cfg.kernel = (enum rounds_kernel)9;
    assert_invalid(&cfg);
}

static void test_mode_names(void **state)
{
    for (int mode = ROUNDS_PUSH; mode <= ROUNDS_PUSHPULL; mode++) {
        enum rounds_mode parsed;
        assert_int_equal(rounds_mode_parse(rounds_mode_name((enum rounds_mode)mode), &parsed),
                         0);
        assert_int_equal(parsed, mode);
    }
    enum rounds_mode parsed;
    assert_int_equal(rounds_mode_parse("push-pull", &parsed), GOSSIP_ERR_INVALID);
    assert_int_equal(rounds_mode_parse("", &parsed), GOSSIP_ERR_INVALID);
}

/* The lemire reduction stays in range and hits both ends. */
static void test_rng_below_range(void **state)
{
    struct rounds_rng rng = rounds_trial_rng(1, 0);
    uint32_t seen[3] = {0, 0, 0};
    for (int i = 0; i < 3000; i++) {
        uint64_t x = rounds_rng_below(&rng, 3);
        assert_true(x < 3);
        seen[x]++;
    }
    for (int i = 0; i < 3; i++)
        assert_true(seen[i] > 800 && seen[i] < 1200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_1000_nodes),
        cmocka_unit_test(test_table_10000_nodes),
        cmocka_unit_test(test_same_seed_same_results),
        cmocka_unit_test(test_different_seed_different_trials),
        cmocka_unit_test(test_thread_count_does_not_change_results),
        cmocka_unit_test(test_single_trial_matches_run),
        cmocka_unit_test(test_fast_kernels_match_reference_kernel),
        cmocka_unit_test(test_loss_takes_more_rounds),
        cmocka_unit_test(test_fanout_2_is_faster),
        cmocka_unit_test(test_pushpull_contacts_per_node),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_round_cap),
        cmocka_unit_test(test_invalid_configurations),
        cmocka_unit_test(test_mode_names),
        cmocka_unit_test(test_rng_below_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
