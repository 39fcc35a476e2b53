/* test_swim.c -- failure detection on the mini network: a killed member is
 * declared dead by everyone within a bound derived from the settings, loss
 * and stalls cause no false "dead", a restart comes back alive with a new
 * generation, a graceful leave reads "left", never "dead". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/members.h"
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

static uint32_t reap_timeout_ms = 3600000;

static mininet *start(int nodes, double loss)
{
    mininet *net = calloc(1, sizeof *net);
    gossip_config c;
    gossip_config_init(&c);
    c.gossip_interval_ms = 200;
    c.reap_timeout_ms = reap_timeout_ms;
    mn_init_with(net, nodes, &c, &watch_callbacks);
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

/* When every helper is gone too, no nack ever comes: the probes are
 * inconclusive.  The survivor still declares both dead after a bounded
 * number of retries (inconclusive_retries) instead of probing one of them
 * again for ever. */
static void test_survivor_of_a_mass_failure_declares_the_dead(void **state)
{
    (void)state;
    mininet *net = start(3, 0.0);
    assert_true(mn_run_until_converged(net, 100) > 0);
    mn_kill(net, 1);
    mn_kill(net, 2);
    gossip_config c;
    gossip_config_init(&c);
    /* awareness slows a prober whose probes fail: probes and the suspicion
     * timeout stretch by up to awareness_max. */
    long bound = (long)c.awareness_max * detection_bound_ms(3) * 2;
    long took1 = until_all(net, 1, GOSSIP_STATUS_DEAD, bound);
    long took2 = until_all(net, 2, GOSSIP_STATUS_DEAD, bound);
    print_message("3 nodes, 2 killed: the survivor holds them dead after %ld and %ld more ms\n",
                  took1, took2);
    assert_true(took1 >= 0);
    assert_true(took2 >= 0);
    gossip_stats s;
    gossip_node_get_stats(net->nodes[0], &s);
    assert_true(s.probes_inconclusive > 0); /* the path under test was taken */
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

/* Lifeguard: a node whose own outbound traffic is mostly lost (an
 * overloaded host) sees its probes fail without the helpers' nacks, raises
 * its awareness and slows down, while the healthy members never declare
 * each other dead. */
static void test_degraded_node_raises_awareness_and_slows_down(void **state)
{
    (void)state;
    mininet *net = start(30, 0.0);
    assert_true(mn_run_until_converged(net, 100) > 0);
    net->out_loss[5] = 0.7;
    gossip_stats before5, before6, after5, after6;
    gossip_node_get_stats(net->nodes[5], &before5);
    gossip_node_get_stats(net->nodes[6], &before6);
    uint32_t max_awareness = 0;
    for (int s = 0; s < 1200; s++) { /* 60 s */
        mn_step(net);
        gossip_stats now5;
        gossip_node_get_stats(net->nodes[5], &now5);
        if (now5.awareness > max_awareness)
            max_awareness = now5.awareness;
    }
    gossip_node_get_stats(net->nodes[5], &after5);
    gossip_node_get_stats(net->nodes[6], &after6);
    uint64_t probes5 = after5.probes - before5.probes, probes6 = after6.probes - before6.probes;
    print_message("degraded node: awareness up to %u, %llu probes vs %llu for a healthy one\n",
                  max_awareness, (unsigned long long)probes5, (unsigned long long)probes6);
    assert_true(max_awareness >= 2);
    assert_true(probes5 * 10 < probes6 * 8);
    /* nobody but the degraded node itself held a healthy member dead */
    for (int subject = 0; subject < 30; subject++)
        if (subject != 5)
            for (int o = 0; o < 30; o++) {
                char name[32];
                gossip_member_info info;
                snprintf(name, sizeof name, "node-%d", subject);
                if (o != 5 && o != subject &&
                    gossip_node_member_find(net->nodes[o], name, &info) == 0)
                    assert_int_not_equal(info.status, GOSSIP_STATUS_DEAD);
            }
    stop(net);
}

/* A node whose seed never answers knocks with backoff, forever. */
static void test_seed_retry_backs_off_but_never_stops(void **state)
{
    (void)state;
    mininet *net = start(2, 0.0);
    mn_kill(net, 0); /* the seed is down */
    for (int r = 0; r < 300; r++) /* 60 s at T = 200 ms */
        mn_round(net);
    gossip_stats s;
    gossip_node_get_stats(net->nodes[1], &s);
    /* 8 knocks 0.2 s apart, then 0.4, 0.8, ... 6.4 s, then every 10 s:
     * about 18 in the first minute, not 300 */
    print_message("knocks on a dead seed in 60 s: %llu\n", (unsigned long long)s.seed_attempts);
    assert_true(s.seed_attempts >= 14 && s.seed_attempts <= 22);
    uint64_t before = s.seed_attempts;
    for (int r = 0; r < 600; r++) /* two more minutes: still knocking, slowly */
        mn_round(net);
    gossip_node_get_stats(net->nodes[1], &s);
    assert_true(s.seed_attempts - before >= 10 && s.seed_attempts - before <= 14);
    /* the seed comes back: the cluster forms by itself */
    assert_int_equal(mn_start_node(net, 0), 0);
    assert_true(mn_run_until_converged(net, 400) > 0);
    stop(net);
}

/* Two live processes under one name: the older one notices and reports it
 * instead of quietly fighting over the name. */
static void test_two_live_nodes_claiming_one_name_are_reported(void **state)
{
    (void)state;
    mininet *net = start(10, 0.0);
    assert_true(mn_run_until_converged(net, 100) > 0);
    gossip_node *impostor;
    gossip_config c = net->base;
    c.name = "node-4";
    c.addr = "n9"; /* another address: answers go to node 9's slot, not node 4 */
    c.generation = 99;
    assert_int_equal(gossip_node_new(&impostor, &c, &mn_callbacks, net), 0);
    gossip_node_add_seed(impostor, "n0");
    gossip_node_free(net->nodes[9]);
    net->nodes[9] = impostor;
    for (int r = 0; r < 60; r++)
        mn_round(net);
    gossip_stats s;
    gossip_node_get_stats(net->nodes[4], &s);
    assert_true(s.name_conflicts > 0);
    stop(net);
}

/* Dead members are forgotten after the reap timeout, by everyone, and the
 * ones that forgot first are not re-taught by the ones that did not yet. */
static void test_dead_members_are_reaped_and_stay_forgotten(void **state)
{
    (void)state;
    reap_timeout_ms = 20000;
    mininet *net = start(20, 0.0);
    reap_timeout_ms = 3600000;
    assert_true(mn_run_until_converged(net, 100) > 0);
    mn_kill(net, 3);
    assert_true(until_all(net, 3, GOSSIP_STATUS_DEAD, 60000) >= 0);
    int forgotten_by_all = 0;
    for (int r = 0; r < 400 && !forgotten_by_all; r++) { /* up to 80 s */
        mn_round(net);
        forgotten_by_all = 1;
        for (int i = 0; i < 20; i++) {
            gossip_member_info info;
            if (net->alive[i] && gossip_node_member_find(net->nodes[i], "node-3", &info) == 0)
                forgotten_by_all = 0;
        }
    }
    assert_true(forgotten_by_all);
    for (int r = 0; r < 100; r++) /* no one brings it back */
        mn_round(net);
    for (int i = 0; i < 20; i++)
        if (net->alive[i])
            assert_int_equal(gossip_node_member_count(net->nodes[i]), 19);
    /* a restart (new generation) is welcome again */
    assert_int_equal(mn_start_node(net, 3), 0);
    assert_true(mn_run_until_converged(net, 200) > 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(gossip_node_member_count(net->nodes[i]), 20);
    stop(net);
}

/* Two clusters that never heard of each other (disjoint seeds) merge
 * when one node contacts a member of the other: the agent's join. */
static void test_contact_merges_two_clusters(void **state)
{
    (void)state;
    mininet *net = start(10, 0.0); /* nodes 0-9, seed n0 */
    net->n = 20;
    for (int i = 10; i < 20; i++) { /* nodes 10-19, seed n10 */
        char name[32], addr[32];
        snprintf(name, sizeof name, "node-%d", i);
        snprintf(addr, sizeof addr, "n%d", i);
        gossip_config c = net->base;
        c.name = name;
        c.addr = addr;
        c.generation = ++net->generation[i];
        c.seed = (uint64_t)i * 7919 + 1;
        assert_int_equal(gossip_node_new(&net->nodes[i], &c, &watch_callbacks, net), 0);
        if (i != 10)
            assert_int_equal(gossip_node_add_seed(net->nodes[i], "n10"), 0);
        net->alive[i] = 1;
    }
    for (int r = 0; r < 150; r++) /* 30 s: two clusters of ten */
        mn_round(net);
    assert_int_equal(gossip_node_member_count(net->nodes[0]), 10);
    assert_int_equal(gossip_node_member_count(net->nodes[15]), 10);
    assert_false(mn_converged(net));
    net->sender = 3;
    assert_int_equal(gossip_node_contact(net->nodes[3], "n12", net->now), 0);
    assert_int_equal(net->q_len, 1); /* the SYN, at once */
    int rounds = mn_run_until_converged(net, 200);
    print_message("two clusters of 10 merged %d rounds after one contact\n", rounds);
    assert_true(rounds > 0);
    for (int r = 0; r < 100; r++)
        mn_round(net);
    assert_int_equal(V.dead_of_live, 0);
    for (int i = 0; i < 20; i++) {
        gossip_stats st;
        gossip_node_get_stats(net->nodes[i], &st);
        assert_int_equal(st.members_alive, 20);
        assert_int_equal(st.members_suspect + st.members_dead + st.members_left, 0);
        assert_true(st.probe_rtt_count > 0);
        assert_int_equal(st.probe_rtt_buckets[0], st.probe_rtt_count); /* zero latency */
    }
    stop(net);
}

/* Force-leave: a dead member that one node forces out reads "left"
 * everywhere, never dead again, and is reaped like a left member. */
static void test_force_leave_spreads_left_and_is_reaped(void **state)
{
    (void)state;
    reap_timeout_ms = 30000;
    mininet *net = start(20, 0.0);
    reap_timeout_ms = 3600000;
    assert_true(mn_run_until_converged(net, 100) > 0);
    mn_kill(net, 3);
    while (count_status(net, 3, GOSSIP_STATUS_DEAD) == 0) /* node 0 may hold it dead */
        mn_step(net);
    int holder = 0;
    gossip_member_info info;
    while (!net->alive[holder] ||
           gossip_node_member_find(net->nodes[holder], "node-3", &info) ||
           info.status != GOSSIP_STATUS_DEAD)
        holder++;
    gossip_stats st;
    gossip_node_get_stats(net->nodes[holder], &st);
    assert_int_equal(st.members_dead, 1);
    assert_int_equal(st.members_alive + st.members_suspect, 19);
    size_t queued = net->q_len;
    assert_int_equal(gossip_node_force_leave(net->nodes[holder], "node-3", net->now), 0);
    assert_int_equal(net->q_len, queued); /* nothing sent from the call */
    gossip_node_get_stats(net->nodes[holder], &st);
    assert_int_equal(st.members_dead, 0);
    assert_int_equal(st.members_left, 1);
    assert_true(st.news_queue > 0);
    long took = until_all(net, 3, GOSSIP_STATUS_LEFT, 20000);
    print_message("force-leave: left everywhere after %ld ms\n", took);
    assert_true(took >= 0);
    int forgotten_by_all = 0;
    for (int r = 0; r < 400 && !forgotten_by_all; r++) { /* reaped within 80 s */
        mn_round(net);
        assert_int_equal(count_status(net, 3, GOSSIP_STATUS_DEAD), 0);
        forgotten_by_all = 1;
        for (int i = 0; i < 20; i++)
            if (net->alive[i] && gossip_node_member_find(net->nodes[i], "node-3", &info) == 0)
                forgotten_by_all = 0;
    }
    assert_true(forgotten_by_all);
    stop(net);
}

/* Force-leave of a member that was only paused: when it wakes it refutes
 * the "left" like a suspicion and is alive everywhere again. */
static void test_force_left_live_member_refutes(void **state)
{
    (void)state;
    mininet *net = start(20, 0.0);
    assert_true(mn_run_until_converged(net, 100) > 0);
    gossip_node *sleeper = net->nodes[5];
    net->alive[5] = 0;
    int holder = -1;
    while (holder < 0) {
        mn_step(net);
        for (int i = 0; i < 20 && holder < 0; i++) {
            gossip_member_info info;
            if (i != 5 && gossip_node_member_find(net->nodes[i], "node-5", &info) == 0 &&
                info.status == GOSSIP_STATUS_SUSPECT)
                holder = i;
        }
    }
    assert_int_equal(gossip_node_force_leave(net->nodes[holder], "node-5", net->now), 0);
    for (int s = 0; s < 10; s++)
        mn_step(net);
    assert_true(count_status(net, 5, GOSSIP_STATUS_LEFT) >= 2); /* it spread */
    net->alive[5] = 1;
    net->nodes[5] = sleeper;
    assert_true(until_all(net, 5, GOSSIP_STATUS_ALIVE, 30000) >= 0);
    gossip_member_info self;
    gossip_node_member_find(net->nodes[5], NULL, &self);
    assert_true(self.incarnation >= 1);
    assert_int_equal(self.status, GOSSIP_STATUS_ALIVE);
    assert_int_equal(V.dead_of_live, 0);
    stop(net);
}

/* The probe ring: every member is pinged by its ring predecessor at least
 * every PROBE_RING_EVERY probe intervals, so no member goes unprobed for
 * long (random round-robin alone leaves gaps of several intervals). */
static uint64_t last_ping[MININET_MAX_NODES], max_gap;
static mininet *gap_net;
static void ping_watch(void *ud, const char *addr, const uint8_t *buf, size_t len)
{
    mininet *net = ud;
    if (len > 3 && buf[3] == GOSSIP_MSG_PING && net == gap_net) {
        int to = mn_index_of(addr);
        if (last_ping[to] && net->now - last_ping[to] > max_gap)
            max_gap = net->now - last_ping[to];
        last_ping[to] = net->now;
    }
    mn_send(ud, addr, buf, len);
}

static void test_ring_bounds_the_gap_between_probes(void **state)
{
    (void)state;
    static const gossip_callbacks cb = {GOSSIP_CALLBACKS_VERSION, ping_watch, NULL, NULL};
    mininet *net = calloc(1, sizeof *net);
    gossip_config c;
    gossip_config_init(&c);
    c.gossip_interval_ms = 200;
    mn_init_with(net, 40, &c, &cb);
    assert_true(mn_run_until_converged(net, 100) > 0);
    for (int r = 0; r < 25; r++) /* the ring settles once everyone knows everyone */
        mn_round(net);
    memset(last_ping, 0, sizeof last_ping);
    max_gap = 0;
    gap_net = net;
    for (int r = 0; r < 600; r++) /* two minutes */
        mn_round(net);
    gap_net = NULL;
    print_message("40 nodes, 2 min: longest time a member went without a ping: %llu ms\n",
                  (unsigned long long)max_gap);
    assert_true(max_gap > 0);
    assert_true(max_gap <= (uint64_t)PROBE_RING_EVERY * c.probe_interval_ms + MININET_STEP_MS);
    mn_free(net);
    free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_member_is_declared_dead_by_all),
        cmocka_unit_test(test_survivor_of_a_mass_failure_declares_the_dead),
        cmocka_unit_test(test_no_false_dead_under_loss),
        cmocka_unit_test(test_stalled_member_refutes),
        cmocka_unit_test(test_graceful_leave_reads_left_not_dead),
        cmocka_unit_test(test_degraded_node_raises_awareness_and_slows_down),
        cmocka_unit_test(test_seed_retry_backs_off_but_never_stops),
        cmocka_unit_test(test_dead_members_are_reaped_and_stay_forgotten),
        cmocka_unit_test(test_two_live_nodes_claiming_one_name_are_reported),
        cmocka_unit_test(test_contact_merges_two_clusters),
        cmocka_unit_test(test_force_leave_spreads_left_and_is_reaped),
        cmocka_unit_test(test_force_left_live_member_refutes),
        cmocka_unit_test(test_ring_bounds_the_gap_between_probes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
