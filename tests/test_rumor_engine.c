/* test_rumor_engine.c -- rumor mongering in the engine (src/core/rumor.c):
 * eager forwarding spreads a write before any gossip round, every variant
 * loses interest and stops, feedback is only used by feedback variants,
 * anti-entropy still finishes the job, and bad settings are refused. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "mininet.h"

#define N 40

static gossip_config base_config(uint32_t fanout, enum gossip_rumor_stop stop, uint32_t k)
{
    gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.gossip_interval_ms = 1000;
    cfg.probe_interval_ms = 0; /* only the exchange and rumors talk */
    cfg.rumor_fanout = fanout;
    cfg.rumor_stop = stop;
    cfg.rumor_k = k;
    return cfg;
}

/* How many nodes hold node 5's "schema" at `value`. */
static int holders(mininet *net, const char *value)
{
    int count = 0;
    for (int i = 0; i < net->n; i++) {
        const uint8_t *v;
        size_t len;
        uint64_t version;
        if (gossip_node_get_state(net->nodes[i], "node-5", "schema", &v, &len, &version) == 0 &&
            len == strlen(value) && memcmp(v, value, len) == 0)
            count++;
    }
    return count;
}

static uint64_t sum_stat(mininet *net, size_t offset)
{
    uint64_t sum = 0;
    for (int i = 0; i < net->n; i++) {
        gossip_stats s;
        gossip_node_get_stats(net->nodes[i], &s);
        sum += *(const uint64_t *)((const char *)&s + offset);
    }
    return sum;
}

static uint32_t hot_rumors(mininet *net)
{
    uint32_t sum = 0;
    for (int i = 0; i < net->n; i++) {
        gossip_stats s;
        gossip_node_get_stats(net->nodes[i], &s);
        sum += s.rumors_hot;
    }
    return sum;
}

/* Membership first, then node 5 writes; returns once that write is set. */
static void converge_then_write(mininet *net, const gossip_config *cfg)
{
    mn_init(net, N, cfg);
    assert_true(mn_run_until_converged(net, 60) > 0);
    /* Let the rumors of the joins die down before the write we measure. */
    for (int r = 0; r < 20 && hot_rumors(net) > 0; r++)
        mn_round(net);
    assert_int_equal(hot_rumors(net), 0);
    /* Half a period on: the rounds (every node's at the same phase here)
     * are 500 ms away, so a step of 50 ms runs none. */
    for (int s = 0; s < 10; s++)
        mn_step(net);
    assert_int_equal(gossip_node_set_state(net->nodes[5], "schema", (const uint8_t *)"v2", 2), 0);
}

static void test_eager_forwarding_beats_the_period(void **unused)
{
    mininet net;
    gossip_config cfg = base_config(4, GOSSIP_RUMOR_FEEDBACK_COUNTER, 4);
    converge_then_write(&net, &cfg);
    /* The write makes the writer's next deadline "now". */
    assert_true(gossip_node_next_deadline(net.nodes[5]) <= net.now);
    uint64_t rounds_before = sum_stat(&net, offsetof(gossip_stats, rounds));
    mn_step(&net); /* 50 ms: no gossip round is due */
    assert_int_equal(sum_stat(&net, offsetof(gossip_stats, rounds)), rounds_before);
    int got = holders(&net, "v2");
    print_message("rumor, one step: %d of %d nodes hold the write\n", got, N);
    assert_true(got >= N * 9 / 10);
    assert_true(sum_stat(&net, offsetof(gossip_stats, rumor_pushes)) > 0);
    mn_free(&net);

    /* The same without rumors: nobody but the writer within the step. */
    cfg = base_config(0, GOSSIP_RUMOR_FEEDBACK_COUNTER, 4);
    converge_then_write(&net, &cfg);
    mn_step(&net);
    assert_int_equal(holders(&net, "v2"), 1);
    assert_int_equal(sum_stat(&net, offsetof(gossip_stats, rumor_pushes)), 0);
    mn_free(&net);
}

/* Every variant stops spreading, and anti-entropy completes the residue. */
static void test_every_variant_dies_and_backstop_completes(void **unused)
{
    static const enum gossip_rumor_stop stops[] = {
        GOSSIP_RUMOR_FEEDBACK_COUNTER, GOSSIP_RUMOR_FEEDBACK_COIN, GOSSIP_RUMOR_BLIND_COUNTER,
        GOSSIP_RUMOR_BLIND_COIN};
    for (size_t v = 0; v < 4; v++) {
        mininet net;
        gossip_config cfg = base_config(2, stops[v], 2);
        converge_then_write(&net, &cfg);
        int rounds = 0;
        while (hot_rumors(&net) > 0 && rounds < 30) {
            mn_round(&net);
            rounds++;
        }
        assert_int_equal(hot_rumors(&net), 0);
        uint64_t feedback = sum_stat(&net, offsetof(gossip_stats, rumor_feedback));
        bool is_blind = stops[v] >= GOSSIP_RUMOR_BLIND_COUNTER;
        if (is_blind)
            assert_int_equal(feedback, 0);
        else
            assert_true(feedback > 0);
        assert_true(mn_run_until_converged(&net, 30) > 0);
        assert_int_equal(holders(&net, "v2"), N);
        mn_free(&net);
    }
}

/* A newer write replaces the older one in the hot list and wins everywhere. */
static void test_newer_write_wins(void **unused)
{
    mininet net;
    gossip_config cfg = base_config(4, GOSSIP_RUMOR_FEEDBACK_COUNTER, 4);
    converge_then_write(&net, &cfg);
    assert_int_equal(gossip_node_set_state(net.nodes[5], "schema", (const uint8_t *)"v3", 2), 0);
    mn_step(&net);
    assert_true(holders(&net, "v3") >= N * 9 / 10);
    assert_int_equal(holders(&net, "v2"), 0);
    mn_free(&net);
}

static void test_bad_settings_refused(void **unused)
{
    gossip_callbacks cb = mn_callbacks;
    gossip_node *node;
    gossip_config cfg = base_config(GOSSIP_MAX_RUMOR_FANOUT + 1, GOSSIP_RUMOR_BLIND_COIN, 2);
    cfg.name = "x";
    cfg.addr = "n0";
    assert_int_equal(gossip_node_new(&node, &cfg, &cb, NULL), GOSSIP_ERR_INVALID);
    cfg.rumor_fanout = 2;
    cfg.rumor_k = 0;
    assert_int_equal(gossip_node_new(&node, &cfg, &cb, NULL), GOSSIP_ERR_INVALID);
    cfg.rumor_k = 2;
    cfg.rumor_stop = (enum gossip_rumor_stop)7;
    assert_int_equal(gossip_node_new(&node, &cfg, &cb, NULL), GOSSIP_ERR_INVALID);
    cfg.rumor_stop = GOSSIP_RUMOR_BLIND_COIN;
    cfg.max_rumors = GOSSIP_MAX_RUMORS + 1;
    assert_int_equal(gossip_node_new(&node, &cfg, &cb, NULL), GOSSIP_ERR_INVALID);
    cfg.max_rumors = 8;
    assert_int_equal(gossip_node_new(&node, &cfg, &cb, NULL), 0);
    gossip_node_free(node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eager_forwarding_beats_the_period),
        cmocka_unit_test(test_every_variant_dies_and_backstop_completes),
        cmocka_unit_test(test_newer_write_wins),
        cmocka_unit_test(test_bad_settings_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
