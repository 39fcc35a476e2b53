/* test_fd_sim.c -- SWIM failure detection of the real engine, simulated:
 * short twins of bench/scenarios/{fd,churn,partition}-1000.json run for
 * FD_TEST_SEEDS seeds each.  No live node may be declared dead (false_dead
 * = 0), every node killed for good must be seen dead by all within a bound
 * derived from the engine settings, restarted nodes come back alive at
 * their newest generation, a split makes each side hold the other dead and
 * heals, and a node that leaves is never taken for failed.  Any violation
 * prints the seed and the command that reproduces it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/run_sim.h"
#include "sim/scenario.h"

#define ERR_SIZE 512
/* Seeds per scenario (the brief asks for at least 20). */
#define FD_TEST_SEEDS 20u
/* Slack for a DEAD to reach everyone once declared: this many gossip rounds
 * per doubling of the informed set, i.e. FD_SPREAD_ROUNDS_PER_LOG2 x
 * ceil(log2 N) gossip periods. */
#define FD_SPREAD_ROUNDS_PER_LOG2 2u
/* Probe periods before someone probes the dead node and the probe (direct,
 * then indirect) has failed: one to be picked, one to fail, one spare. */
#define FD_PROBE_PERIODS_TO_SUSPECT 3u

static void parse_or_fail(struct scenario *s, const char *json)
{
    char err[ERR_SIZE] = "";
    if (scenario_parse_string(s, json, err, sizeof err) != 0) {
        fprintf(stderr, "scenario: %s\n", err);
        fail();
    }
}

/* Runs one seed; on a failed expectation the caller prints the seed. */
static void run_seed(const struct scenario *s, uint64_t seed, struct sim_result *r)
{
    char err[ERR_SIZE] = "";
    if (sim_run_scenario(s, seed, r, err, sizeof err) != 0) {
        fprintf(stderr, "seed %llu: simulator failed: %s\n", (unsigned long long)seed, err);
        fail();
    }
}

/* The scenario being checked, for the reproducer printed on a failure. */
struct fd_case {
    const char *name;
    const char *json;
};

/* Reports a broken expectation with a shell command that reproduces it
 * (the JSON holds no single quote). */
static int expect(int ok, const struct fd_case *c, const struct sim_result *r, const char *what)
{
    if (!ok)
        fprintf(stderr,
                "FAIL %s seed %llu: %s (false_dead %llu, detections %u/%u, p50 %.0f ms, "
                "max %.0f ms, split %.4f, violation: %s)\n"
                "  reproduce: echo '%s' > /tmp/%s.json && "
                "gossip-sim run --scenario /tmp/%s.json --seed %llu\n",
                c->name, (unsigned long long)r->seed, what, (unsigned long long)r->false_dead,
                r->detections, r->detections + r->kills_undetected, r->detection_p50_ms,
                r->detection_max_ms, r->split_dead_fraction, r->violation, c->json, c->name,
                c->name, (unsigned long long)r->seed);
    return ok ? 0 : 1;
}

/* The longest a kill may take to be seen by all: found out by a probe,
 * the longest suspicion, the DEAD spread, and a stall of an observer. */
static double detection_bound_ms(const struct scenario *s, double stall_ms)
{
    gossip_config cfg;
    scenario_engine_config(s, &cfg);
    double spread = FD_SPREAD_ROUNDS_PER_LOG2 * ceil(log2((double)s->nodes)) *
                    cfg.gossip_interval_ms;
    return FD_PROBE_PERIODS_TO_SUSPECT * (double)cfg.probe_interval_ms +
           sim_fd_max_suspicion_ms(s) + spread + stall_ms;
}

/* How many nodes the scenario's generators of one kind pick. */
static uint32_t generated(const struct scenario *s, enum scn_generator_kind kind)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->generator_count; i++)
        if (s->generators[i].kind == kind)
            n += s->generators[i].count;
    return n;
}

/* ---- fd: loss, stalls, kills ------------------------------------------- */

#define FD_STALL_MS 2000.0
static const char *const fd_scenario =
    "{\"nodes\": 50, \"duration_ms\": 120000, \"settle_ms\": 30000,"
    " \"start_spread_ms\": 2000, \"seeds_first\": true, \"seeds\": [0, 1],"
    " \"engine\": {\"gossip_interval_ms\": 200, \"probe_interval_ms\": 1000,"
    "   \"probe_timeout_ms\": 500, \"indirect_checks\": 3},"
    " \"network\": {\"latency\": {\"dist\": \"uniform\", \"min_ms\": 1, \"max_ms\": 10},"
    "   \"loss\": 0.1},"
    " \"stalls\": [{\"fraction\": 0.1, \"duration_ms\": 2000, \"between_ms\": [15000, 80000]}],"
    " \"kills\": [{\"count\": 3, \"between_ms\": [20000, 80000]}]}";

static void test_fd_detects_kills_without_false_deaths(void **state)
{
    (void)state;
    struct scenario s;
    parse_or_fail(&s, fd_scenario);
    const struct fd_case c = {"fd", fd_scenario};
    double bound = detection_bound_ms(&s, FD_STALL_MS);
    double floor_ms = sim_fd_min_suspicion_ms(&s);
    uint32_t stalls = generated(&s, SCN_GEN_STALL), kills = generated(&s, SCN_GEN_KILL);
    int failures = 0;
    for (uint64_t seed = 1; seed <= FD_TEST_SEEDS; seed++) {
        struct sim_result r;
        run_seed(&s, seed, &r);
        failures += expect(r.invariant_ok, &c, &r, "invariant violated");
        failures += expect(r.false_dead == 0, &c, &r, "a live node was declared dead");
        failures += expect(r.stalls == stalls, &c, &r, "not every stall hit a live node");
        failures += expect(r.detections == kills && r.kills_undetected == 0, &c, &r,
                           "a kill was not seen dead by every live node");
        failures += expect(r.detection_max_ms <= bound, &c, &r,
                           "detection slower than the bound from the settings");
        /* Nobody may be declared dead before its suspicion could time out. */
        failures += expect(r.detections == 0 || r.detection_p50_ms >= floor_ms, &c, &r,
                           "detection faster than the shortest suspicion");
        failures += expect(r.suspicions > 0 && r.probes > 0, &c, &r,
                           "no probes or suspicions counted");
    }
    if (failures)
        fprintf(stderr, "fd: bound %.0f ms, floor %.0f ms\n", bound, floor_ms);
    scenario_free(&s);
    assert_int_equal(failures, 0);
}

/* A node stalled far longer than any suspicion is declared dead while it
 * is up: the simulator must count it (and say it was stalled), and once it
 * runs again it refutes and everyone holds it alive. */
static void test_long_stall_counts_as_false_dead_then_refutes(void **state)
{
    (void)state;
    struct scenario s;
    parse_or_fail(&s, "{\"nodes\": 20, \"duration_ms\": 120000, \"settle_ms\": 30000,"
                      " \"seeds_first\": true, \"seeds\": [0],"
                      " \"engine\": {\"gossip_interval_ms\": 200, \"probe_interval_ms\": 1000},"
                      " \"stalls\": [{\"node\": 5, \"at_ms\": 20000, \"duration_ms\": 60000}]}");
    struct sim_result r;
    run_seed(&s, 1, &r);
    scenario_free(&s);
    assert_true(r.false_dead > 0);
    assert_false(r.invariant_ok);
    assert_non_null(strstr(r.violation, "n5"));
    assert_non_null(strstr(r.violation, "(stalled)"));
    assert_true(r.settle_check_ok);
    assert_true(r.refuted_suspicions > 0);
}

/* ---- churn ------------------------------------------------------------------ */

static const char *const churn_scenario =
    "{\"nodes\": 50, \"duration_ms\": 90000, \"settle_ms\": 30000,"
    " \"start_spread_ms\": 2000, \"seeds_first\": true, \"seeds\": [0, 1],"
    " \"engine\": {\"gossip_interval_ms\": 200, \"probe_interval_ms\": 1000,"
    "   \"probe_timeout_ms\": 500},"
    " \"network\": {\"latency\": {\"dist\": \"uniform\", \"min_ms\": 1, \"max_ms\": 10},"
    "   \"loss\": 0.01},"
    " \"restarts\": [{\"fraction\": 0.2, \"between_ms\": [20000, 50000],"
    "   \"down_ms\": [1000, 5000]}]}";

static void test_churn_everyone_back_alive_at_newest_generation(void **state)
{
    (void)state;
    struct scenario s;
    parse_or_fail(&s, churn_scenario);
    const struct fd_case c = {"churn", churn_scenario};
    uint32_t restarts = generated(&s, SCN_GEN_RESTART);
    int failures = 0;
    for (uint64_t seed = 1; seed <= FD_TEST_SEEDS; seed++) {
        struct sim_result r;
        run_seed(&s, seed, &r);
        /* The settle check (30 s after the last restart) demands every live
         * node ALIVE at its newest generation everywhere. */
        failures += expect(r.invariant_ok, &c, &r, "invariant violated");
        failures += expect(r.false_dead == 0, &c, &r, "a live node was declared dead");
        failures += expect(r.restarts == restarts && r.live_nodes == s.nodes, &c, &r,
                           "not every restarted node is back");
        failures += expect(r.max_generation == 2, &c, &r, "wrong highest generation");
    }
    scenario_free(&s);
    assert_int_equal(failures, 0);
}

/* ---- partition ------------------------------------------------------------- */

static const char *const partition_scenario =
    "{\"nodes\": 40, \"duration_ms\": 100000, \"settle_ms\": 30000,"
    " \"start_spread_ms\": 2000, \"seeds_first\": true, \"seeds\": [0, 20],"
    " \"engine\": {\"gossip_interval_ms\": 200, \"probe_interval_ms\": 1000,"
    "   \"probe_timeout_ms\": 500},"
    " \"network\": {\"latency\": {\"dist\": \"uniform\", \"min_ms\": 1, \"max_ms\": 10},"
    "   \"loss\": 0.01},"
    " \"partitions\": [{\"start_ms\": 20000, \"end_ms\": 70000,"
    "   \"groups\": [{\"from\": 0, \"to\": 20}, {\"from\": 20, \"to\": 40}]}]}";

static void test_partition_each_side_holds_the_other_dead_then_heals(void **state)
{
    (void)state;
    struct scenario s;
    parse_or_fail(&s, partition_scenario);
    const struct fd_case c = {"partition", partition_scenario};
    int failures = 0;
    for (uint64_t seed = 1; seed <= FD_TEST_SEEDS; seed++) {
        struct sim_result r;
        run_seed(&s, seed, &r);
        failures += expect(r.split_dead_fraction == 1.0, &c, &r,
                           "a side still holds a node of the other side not dead at split end");
        /* Settle check at heal + 30 s: full membership, all alive. */
        failures += expect(r.invariant_ok, &c, &r, "invariant violated");
        failures += expect(r.false_dead == 0, &c, &r,
                           "a node was declared dead within its own side");
        failures += expect(r.partition_dead > 0, &c, &r,
                           "no death across the split was counted");
    }
    scenario_free(&s);
    assert_int_equal(failures, 0);
}

/* ---- graceful leave ------------------------------------------------------ */

static const char *const leave_scenario =
    "{\"nodes\": 30, \"duration_ms\": 80000, \"settle_ms\": 30000,"
    " \"start_spread_ms\": 2000, \"seeds_first\": true, \"seeds\": [0],"
    " \"engine\": {\"gossip_interval_ms\": 200, \"probe_interval_ms\": 1000},"
    " \"network\": {\"latency\": {\"dist\": \"uniform\", \"min_ms\": 1, \"max_ms\": 10},"
    "   \"loss\": 0.01},"
    " \"leaves\": [{\"node\": 4, \"at_ms\": 15000},"
    "   {\"count\": 3, \"between_ms\": [20000, 25000]}]}";

static void test_leavers_are_left_never_dead(void **state)
{
    (void)state;
    struct scenario s;
    parse_or_fail(&s, leave_scenario);
    const struct fd_case c = {"leave", leave_scenario};
    uint32_t leaves = s.leave_count + generated(&s, SCN_GEN_LEAVE);
    int failures = 0;
    for (uint64_t seed = 1; seed <= FD_TEST_SEEDS; seed++) {
        struct sim_result r;
        run_seed(&s, seed, &r);
        failures += expect(r.leaves == leaves && r.left == leaves, &c, &r,
                           "a leaving node never reported gossip_node_has_left");
        failures += expect(r.left_marked_dead == 0, &c, &r, "a left node was marked dead");
        /* The settle check demands LEFT (or forgotten) everywhere. */
        failures += expect(r.invariant_ok, &c, &r, "invariant violated");
        failures += expect(r.live_nodes == s.nodes - leaves && r.kills == 0, &c, &r,
                           "wrong number of live nodes");
    }
    scenario_free(&s);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_detects_kills_without_false_deaths),
        cmocka_unit_test(test_long_stall_counts_as_false_dead_then_refutes),
        cmocka_unit_test(test_churn_everyone_back_alive_at_newest_generation),
        cmocka_unit_test(test_partition_each_side_holds_the_other_dead_then_heals),
        cmocka_unit_test(test_leavers_are_left_never_dead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
