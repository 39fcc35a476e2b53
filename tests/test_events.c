/* test_events.c -- user events (src/core/events.c): delivered once to every
 * member (the sender included), ordered by a Lamport clock, caught up by a
 * member that missed them while they fit the buffer, not delivered again
 * after a restart that passes its clock, and bad input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "mininet.h"

#define N 16

/* What each node delivered: count per (origin node, event name). */
static struct {
    int count[N][N];              /* [receiver][origin] */
    uint64_t last_ltime[N];       /* per receiver */
    char last_payload[N][32];
    char last_name[N][GOSSIP_MAX_EVENT_NAME + 1];
    uint32_t last_flags[N];
    int total;
} seen;

static void on_change(void *ud, const gossip_change *c)
{
    mininet *net = ud;
    if (c->kind != GOSSIP_CHANGE_EVENT)
        return;
    int origin = atoi(c->name + 5); /* "node-<i>" */
    assert_true(origin >= 0 && origin < N);
    seen.count[net->sender][origin]++;
    seen.last_ltime[net->sender] = c->version;
    snprintf(seen.last_payload[net->sender], sizeof seen.last_payload[0], "%.*s",
             (int)c->value_len, (const char *)c->value);
    snprintf(seen.last_name[net->sender], sizeof seen.last_name[0], "%s", c->key);
    seen.last_flags[net->sender] = c->flags;
    seen.total++;
}

static const gossip_callbacks event_callbacks = {GOSSIP_CALLBACKS_VERSION, mn_send, on_change,
                                                 NULL};

static void start(mininet *net, uint32_t rumor_fanout)
{
    memset(&seen, 0, sizeof seen);
    gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.gossip_interval_ms = 200;
    cfg.probe_interval_ms = 0;
    cfg.rumor_fanout = rumor_fanout;
    cfg.event_buffer = 4;
    mn_init_with(net, N, &cfg, &event_callbacks);
    assert_true(mn_run_until_converged(net, 60) > 0);
}

static int fire(mininet *net, int i, const char *name, const char *payload, uint64_t *ltime)
{
    net->sender = i;
    return gossip_node_event(net->nodes[i], name, (const uint8_t *)payload, strlen(payload),
                             ltime);
}

static void test_delivered_once_everywhere(void **unused)
{
    mininet net;
    start(&net, 3);
    uint64_t t1;
    assert_int_equal(fire(&net, 3, "deploy", "v42", &t1), 0);
    assert_int_equal(seen.count[3][3], 1); /* the sender delivers its own at once */
    for (int r = 0; r < 20; r++)
        mn_round(&net);
    for (int i = 0; i < N; i++) {
        assert_int_equal(seen.count[i][3], 1);
        assert_string_equal(seen.last_payload[i], "v42");
        assert_int_equal(seen.last_ltime[i], t1);
    }
    /* Lamport: node 9 has seen t1, so its event is later. */
    uint64_t t2;
    assert_int_equal(fire(&net, 9, "restart", "", &t2), 0);
    assert_true(t2 > t1);
    assert_int_equal(gossip_node_event_clock(net.nodes[9]), t2);
    for (int r = 0; r < 20; r++)
        mn_round(&net);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen.count[i][9], 1);
    assert_int_equal(seen.total, 2 * N);
    mn_free(&net);
}

/* The no-coalesce flag travels with the event (in the name-length byte) and
 * reaches every member; the name stays whole, even at the longest. */
static void test_coalesce_flag_travels(void **unused)
{
    mininet net;
    start(&net, 3);
    char longest[GOSSIP_MAX_EVENT_NAME + 1];
    memset(longest, 'n', GOSSIP_MAX_EVENT_NAME);
    longest[GOSSIP_MAX_EVENT_NAME] = 0;
    net.sender = 4;
    assert_int_equal(gossip_node_event_flags(net.nodes[4], longest, (const uint8_t *)"p", 1,
                                             GOSSIP_EVENT_NO_COALESCE, NULL),
                     0);
    for (int r = 0; r < 20; r++)
        mn_round(&net);
    for (int i = 0; i < N; i++) {
        assert_int_equal(seen.count[i][4], 1);
        assert_int_equal(seen.last_flags[i], GOSSIP_EVENT_NO_COALESCE);
        assert_string_equal(seen.last_name[i], longest);
    }
    assert_int_equal(fire(&net, 4, "plain", "q", NULL), 0);
    for (int r = 0; r < 20; r++)
        mn_round(&net);
    for (int i = 0; i < N; i++) {
        assert_int_equal(seen.last_flags[i], 0);
        assert_string_equal(seen.last_name[i], "plain");
    }
    /* Unknown flags are refused. */
    assert_int_equal(gossip_node_event_flags(net.nodes[4], "e", NULL, 0, 0x2, NULL),
                     GOSSIP_ERR_INVALID);
    mn_free(&net);
}

/* A member cut off while 3 events fire (buffer 4) gets all 3 once it is
 * back: anti-entropy carries the slots. */
static void test_catch_up_within_the_buffer(void **unused)
{
    mininet net;
    start(&net, 0); /* anti-entropy only: the catch-up path */
    /* Node 12 is cut off (it neither ticks nor receives) but keeps its
     * state: a pause, not a restart. */
    net.alive[12] = 0;
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "e%d", k);
        assert_int_equal(fire(&net, 5, name, "x", NULL), 0);
        for (int r = 0; r < 5; r++)
            mn_round(&net);
    }
    assert_int_equal(seen.count[12][5], 0);
    net.alive[12] = 1;
    for (int r = 0; r < 30; r++)
        mn_round(&net);
    assert_int_equal(seen.count[12][5], 3);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen.count[i][5], 3);
    mn_free(&net);
}

/* A restart that passes its clock as the floor does not deliver again. */
static void test_restart_with_floor_delivers_nothing_twice(void **unused)
{
    mininet net;
    start(&net, 3);
    assert_int_equal(fire(&net, 2, "old", "1", NULL), 0);
    for (int r = 0; r < 20; r++)
        mn_round(&net);
    assert_int_equal(seen.count[7][2], 1);
    uint64_t clock = gossip_node_event_clock(net.nodes[7]);
    mn_kill(&net, 7);
    net.base.event_ltime_floor = clock;
    assert_int_equal(mn_start_node(&net, 7), 0);
    net.base.event_ltime_floor = 0;
    assert_int_equal(fire(&net, 2, "new", "2", NULL), 0);
    for (int r = 0; r < 40; r++)
        mn_round(&net);
    assert_int_equal(seen.count[7][2], 2);            /* old once, new once */
    assert_string_equal(seen.last_payload[7], "2");
    mn_free(&net);
}

static void test_bad_input_refused(void **unused)
{
    mininet net;
    start(&net, 0);
    gossip_node *n = net.nodes[1];
    char big[300];
    memset(big, 'p', sizeof big);
    assert_int_equal(gossip_node_event(n, "e", (const uint8_t *)big, sizeof big, NULL),
                     GOSSIP_ERR_OVERSIZE); /* max_event_size 256 */
    assert_int_equal(gossip_node_event(n, "", NULL, 0, NULL), GOSSIP_ERR_INVALID);
    char long_name[GOSSIP_MAX_EVENT_NAME + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    assert_int_equal(gossip_node_event(n, long_name, NULL, 0, NULL), GOSSIP_ERR_INVALID);
    /* The slots are not application state anyone may write. */
    assert_int_equal(gossip_node_set_state(n, "_ev.1", (const uint8_t *)"x", 1),
                     GOSSIP_ERR_INVALID);
    assert_int_equal(gossip_node_del_state(n, "_ev.1"), GOSSIP_ERR_INVALID);
    assert_int_equal(seen.total, 0);
    mn_free(&net);

    /* event_buffer 0: events are off. */
    gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.event_buffer = 0;
    cfg.name = "x";
    cfg.addr = "n0";
    gossip_node *off;
    assert_int_equal(gossip_node_new(&off, &cfg, &mn_callbacks, NULL), 0);
    assert_int_equal(gossip_node_event(off, "e", NULL, 0, NULL), GOSSIP_ERR_INVALID);
    gossip_node_free(off);
    cfg.event_buffer = GOSSIP_MAX_EVENT_BUFFER + 1;
    assert_int_equal(gossip_node_new(&off, &cfg, &mn_callbacks, NULL), GOSSIP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coalesce_flag_travels),
        cmocka_unit_test(test_delivered_once_everywhere),
        cmocka_unit_test(test_catch_up_within_the_buffer),
        cmocka_unit_test(test_restart_with_floor_delivers_nothing_twice),
        cmocka_unit_test(test_bad_input_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
