/* test_swim.c -- failure detection on the mini network: a killed member is
 * declared dead by everyone within a bound derived from the settings, loss
 * and stalls cause no false "dead", a restart comes back alive with a new
 * generation, a graceful leave reads "left", never "dead". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mininet.h"

typedef struct verdicts {
    int dead_of_live; /* DEAD events about a member that was up */
    mininet *net;
} verdicts;

static verdicts V;

static void watch(void *ud, const gossip_change *c)
{
    (void)ud;
    if (c->kind != GOSSIP_CHANGE_DEAD)
        return;
    int idx = atoi(c->name + 5); /* "node-<i>" */
    if (V.net && V.net->alive[idx])
        V.dead_of_live++;
}

static const gossip_callbacks watch_callbacks = {GOSSIP_CALLBACKS_VERSION, mn_send, watch, NULL};

static mininet *start(int nodes, double loss)
{
    mininet *net = malloc(sizeof *net);
    gossip_config c;
    gossip_config_init(&c);
    c.gossip_interval_ms = 200;
    mn_init(net, nodes, &c);
    for (int i = 0; i < nodes; i++) { /* the same nodes, with the watching callback */
        gossip_node_free(net->nodes[i]);
        net->generation[i]--;
        net->nodes[i] = NULL;
    }
    net->callbacks = &watch_callbacks;
    for (int i = 0; i < nodes; i++)
        assert_int_equal(mn_start_node(net, i), 0);
    net->loss = loss;
    V.dead_of_live = 0;
    V.net = net;
    return net;
}

static void stop(mininet *net)
{
    V.net = NULL;
    mn_free(net);
    free(net);
}

static int count_status(mininet *net, int subject, enum gossip_member_status st)
{
    char name[32];
    snprintf(name, sizeof name, "node-%d", subject);
    int count = 0;
    for (int o = 0; o < net->n; o++) {
        gossip_member_info info;
        if (o != subject && net->alive[o] &&
            gossip_node_member_find(net->nodes[o], name, &info) == 0 && info.status == st)
            count++;
    }
    return count;
}

static int live_count(const mininet *net)
{
    int live = 0;
    for (int i = 0; i < net->n; i++)
        live += net->alive[i];
    return live;
}

/* Runs until every other live node holds `subject` in `st`; returns the
 * virtual milliseconds it took, or -1 past `deadline_ms`. */
static long until_all(mininet *net, int subject, enum gossip_member_status st, long deadline_ms)
{
    uint64_t start_ms = net->now;
    int others = live_count(net) - (net->alive[subject] ? 1 : 0);
    while ((long)(net->now - start_ms) <= deadline_ms) {
        if (count_status(net, subject, st) == others)
            return (long)(net->now - start_ms);
        mn_step(net);
    }
    return -1;
}

/* Bound from the settings: a full probe cycle to first probe the member
 * (round-robin), one probe interval for direct + indirect probes, the
 * longest suspicion timeout (no confirmations), and time to spread. */
static long detection_bound_ms(int nodes)
{
    gossip_config c;
    gossip_config_init(&c);
    double scale = nodes > 10 ? log10((double)nodes) : 1.0;
    double max_suspicion = c.suspicion_max_mult * c.suspicion_min_mult * scale * c.probe_interval_ms;
    return (long)((nodes + 1) * c.probe_interval_ms + max_suspicion + 10 * c.probe_interval_ms);
}

static void test_killed_member_is_declared_dead_by_all(void **state)
{
    (void)state;
    mininet *net = start(30, 0.0);
    assert_true(mn_run_until_converged(net, 100) > 0);
    mn_kill(net, 11);
    long took = until_all(net, 11, GOSSIP_STATUS_DEAD, detection_bound_ms(30));
    print_message("30 nodes: dead everywhere %ld ms after the kill (bound %ld)\n", took,
                  detection_bound_ms(30));
    assert_true(took >= 0);
    assert_int_equal(V.dead_of_live, 0);
    /* it comes back: alive again everywhere, in a higher generation */
    assert_int_equal(mn_start_node(net, 11), 0);
    assert_true(until_all(net, 11, GOSSIP_STATUS_ALIVE, 60000) >= 0);
    gossip_member_info info;
    assert_int_equal(gossip_node_member_find(net->nodes[0], "node-11", &info), 0);
    assert_int_equal(info.generation, 2);
    stop(net);
}

static void test_no_false_dead_under_loss(void **state)
{
    (void)state;
    mininet *net = start(40, 0.10);
    /* three virtual minutes at 10 % loss on every datagram */
    for (int r = 0; r < 900; r++)
        mn_round(net);
    assert_int_equal(V.dead_of_live, 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(count_status(net, i, GOSSIP_STATUS_DEAD), 0);
    uint64_t refuted = 0, suspected = 0;
    for (int i = 0; i < 40; i++) {
        gossip_stats s;
        gossip_node_get_stats(net->nodes[i], &s);
        refuted += s.refutations;
        suspected += s.suspicions;
    }
    print_message("10%% loss, 3 min: %llu suspicions, %llu refutations, 0 dead\n",
                  (unsigned long long)suspected, (unsigned long long)refuted);
    stop(net);
}

/* A stalled member (a long GC pause: no ticks, incoming datagrams lost)
 * is suspected, refutes when it wakes, and is never declared dead. */
static void test_stalled_member_refutes(void **state)
{
    (void)state;
    mininet *net = start(30, 0.0);
    assert_true(mn_run_until_converged(net, 100) > 0);
    gossip_node *sleeper = net->nodes[5];
    net->alive[5] = 0; /* stops ticking and receiving, keeps its state */
    for (int s = 0; s < 40; s++) /* 2 s */
        mn_step(net);
    net->alive[5] = 1;
    net->nodes[5] = sleeper;
    assert_true(until_all(net, 5, GOSSIP_STATUS_ALIVE, 60000) >= 0);
    for (int r = 0; r < 50; r++)
        mn_round(net);
    assert_int_equal(V.dead_of_live, 0);
    assert_int_equal(count_status(net, 5, GOSSIP_STATUS_ALIVE), 29);
    stop(net);
}

static void test_graceful_leave_reads_left_not_dead(void **state)
{
    (void)state;
    mininet *net = start(25, 0.0);
    assert_true(mn_run_until_converged(net, 100) > 0);
    assert_int_equal(gossip_node_leave(net->nodes[7], net->now), 0);
    assert_false(gossip_node_has_left(net->nodes[7]));
    while (!gossip_node_has_left(net->nodes[7]))
        mn_step(net); /* bounded by leave_timeout_ms */
    mn_kill(net, 7);
    assert_true(until_all(net, 7, GOSSIP_STATUS_LEFT, 30000) >= 0);
    for (int r = 0; r < 100; r++) /* long past any suspicion timeout */
        mn_round(net);
    assert_int_equal(count_status(net, 7, GOSSIP_STATUS_LEFT), 24);
    assert_int_equal(count_status(net, 7, GOSSIP_STATUS_DEAD), 0);
    stop(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_member_is_declared_dead_by_all),
        cmocka_unit_test(test_no_false_dead_under_loss),
        cmocka_unit_test(test_stalled_member_refutes),
        cmocka_unit_test(test_graceful_leave_reads_left_not_dead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
