/* test_node.c -- the node API: configuration checks, own state, hostile or
 * inconsistent datagrams change nothing, change notifications, scheduling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gossip/gossip.h"
#include "wire/wire.h"

/* Every datagram a node sends is counted, and the last few kept. */
#define KEPT_MAX 16
static int sent;
static struct kept {
    char addr[GOSSIP_MAX_ADDR + 1];
    uint8_t data[2048];
    size_t len;
} kept[KEPT_MAX];
static void count_send(void *ud, const char *addr, const uint8_t *buf, size_t len)
{
    (void)ud;
    struct kept *k = &kept[sent % KEPT_MAX];
    snprintf(k->addr, sizeof k->addr, "%s", addr);
    k->len = len < sizeof k->data ? len : sizeof k->data;
    memcpy(k->data, buf, k->len);
    sent++;
}

typedef struct changes {
    int joins, restarts, states, lefts;
    char last_key[64];
} changes;

static void record_change(void *ud, const gossip_change *c)
{
    changes *ch = ud;
    if (!ch)
        return;
    if (c->kind == GOSSIP_CHANGE_JOIN)
        ch->joins++;
    else if (c->kind == GOSSIP_CHANGE_RESTART)
        ch->restarts++;
    else if (c->kind == GOSSIP_CHANGE_LEFT)
        ch->lefts++;
    else if (c->kind == GOSSIP_CHANGE_STATE) {
        ch->states++;
        snprintf(ch->last_key, sizeof ch->last_key, "%s", c->key);
    }
}

static const gossip_callbacks CB = {GOSSIP_CALLBACKS_VERSION, count_send, record_change, NULL};

static gossip_node *make_node(changes *ch)
{
    gossip_config c;
    gossip_config_init(&c);
    c.name = "me";
    c.addr = "10.0.0.1:7946";
    gossip_node *n;
    assert_int_equal(gossip_node_new(&n, &c, &CB, ch), 0);
    return n;
}

static void test_config_is_validated(void **state)
{
    (void)state;
    gossip_config c;
    gossip_node *n;
    char long_name[GOSSIP_MAX_NAME + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
#define EXPECT_INVALID(stmt)                                                                      \
    do {                                                                                          \
        gossip_config_init(&c);                                                                   \
        c.name = "a";                                                                             \
        c.addr = "b";                                                                             \
        stmt;                                                                                     \
        assert_int_equal(gossip_node_new(&n, &c, &CB, NULL), GOSSIP_ERR_INVALID);                 \
        assert_null(n);                                                                           \
    } while (0)
    EXPECT_INVALID(c.name = NULL);
    EXPECT_INVALID(c.name = "");
    EXPECT_INVALID(c.name = long_name);
    EXPECT_INVALID(c.addr = NULL);
    EXPECT_INVALID(c.mtu = 100);
    EXPECT_INVALID(c.mtu = 70000);
    EXPECT_INVALID(c.fanout = 0);
    EXPECT_INVALID(c.gossip_interval_ms = 0);
    EXPECT_INVALID(c.max_value_size = c.mtu);
    EXPECT_INVALID(c.struct_version = 99);
    EXPECT_INVALID(c.generation = 0);
    EXPECT_INVALID(c.mode = (enum gossip_mode)7);
    EXPECT_INVALID(c.incarnation = GOSSIP_MAX_INCARNATION + 1);
#undef EXPECT_INVALID
    gossip_callbacks no_send = {GOSSIP_CALLBACKS_VERSION, NULL, NULL, NULL};
    gossip_config_init(&c);
    c.name = "a";
    c.addr = "b";
    assert_int_equal(gossip_node_new(&n, &c, &no_send, NULL), GOSSIP_ERR_INVALID);
    assert_string_equal(gossip_strerror(GOSSIP_ERR_INVALID), "invalid argument");
    assert_string_equal(gossip_strerror(-999), "unknown error");
}

static void test_own_state(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    uint8_t big[600] = {0};
    assert_int_equal(gossip_node_set_state(n, "k", big, sizeof big), GOSSIP_ERR_OVERSIZE);
    assert_int_equal(gossip_node_set_state(n, "", big, 1), GOSSIP_ERR_INVALID);
    assert_int_equal(gossip_node_set_state(n, "k", (const uint8_t *)"v1", 2), 0);
    uint64_t v1, v2;
    const uint8_t *val;
    size_t len;
    assert_int_equal(gossip_node_get_state(n, NULL, "k", &val, &len, &v1), 0);
    assert_memory_equal(val, "v1", 2);
    assert_int_equal(gossip_node_set_state(n, "k", (const uint8_t *)"v2", 2), 0);
    assert_int_equal(gossip_node_get_state(n, "me", "k", &val, &len, &v2), 0);
    assert_true(v2 > v1);
    assert_int_equal(gossip_node_del_state(n, "k"), 0);
    assert_int_equal(gossip_node_get_state(n, NULL, "k", &val, &len, NULL), GOSSIP_ERR_NOT_FOUND);
    assert_int_equal(gossip_node_del_state(n, "k"), GOSSIP_ERR_NOT_FOUND);
    /* the key limit (64 by default, the address is one) */
    int rc = 0, i;
    for (i = 0; i < 100 && rc == 0; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", i);
        rc = gossip_node_set_state(n, key, (const uint8_t *)"x", 1);
    }
    assert_int_equal(rc, GOSSIP_ERR_TOO_MANY);
    assert_true(i <= 64);
    gossip_node_free(n);
}

static wire_msg *msg;
static uint8_t buf[2048];

static void new_msg(uint8_t type)
{
    wire_msg_init(msg, sizeof buf);
    msg->type = type;
    msg->from = (wire_str){"peer", 4};
    msg->addr = (wire_str){"10.0.0.2:7946", 13};
}

static void add_delta(const char *name, uint64_t gen, uint64_t from, uint64_t hb, int keys,
                      int first_key)
{
    static char keybuf[4096][12];
    wire_delta *d = &msg->deltas[msg->n_deltas++];
    d->name = (wire_str){name, (uint32_t)strlen(name)};
    d->generation = gen;
    d->from_version = from;
    d->heartbeat = hb;
    d->has_record = true; /* alive, incarnation 0 */
    d->incarnation = 0;
    d->status = GOSSIP_STATUS_ALIVE;
    d->kv_first = msg->n_kvs;
    d->kv_count = (uint32_t)keys;
    for (int i = 0; i < keys; i++) {
        wire_kv *kv = &msg->kvs[msg->n_kvs];
        int len = snprintf(keybuf[msg->n_kvs], sizeof keybuf[0], "k%d", first_key + i);
        kv->key = (wire_str){keybuf[msg->n_kvs], (uint32_t)len};
        kv->version = from + 1 + (uint64_t)i;
        kv->value = (const uint8_t *)"v";
        kv->value_len = 1;
        kv->deleted = false;
        msg->n_kvs++;
    }
}

static int deliver_at(gossip_node *n, uint64_t now_ms)
{
    size_t len;
    assert_int_equal(wire_encode(msg, buf, sizeof buf, &len), 0);
    return gossip_node_recv(n, "10.0.0.2:7946", buf, len, now_ms);
}

static int deliver(gossip_node *n)
{
    return deliver_at(n, 0);
}

static void test_garbage_changes_nothing(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    uint64_t hash = gossip_node_table_hash(n);
    const uint8_t junk[] = "GS\x01\x02\x00\xdf\xff\xff\xff\xff";
    assert_true(gossip_node_recv(n, "x", junk, sizeof junk - 1, 0) < 0);
    assert_true(gossip_node_recv(n, "x", (const uint8_t *)"hello", 5, 0) < 0);
    gossip_stats s;
    gossip_node_get_stats(n, &s);
    assert_int_equal(s.recv_errors, 2);
    assert_int_equal(gossip_node_member_count(n), 1);
    assert_int_equal(gossip_node_table_hash(n), hash);
    gossip_node_free(n);
}

static void test_deltas_apply_and_notify(void **state)
{
    (void)state;
    changes ch = {0};
    gossip_node *n = make_node(&ch);
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("peer", 7, 0, 1, 3, 0);
    assert_int_equal(deliver(n), 0);
    assert_int_equal(ch.joins, 1);
    assert_int_equal(ch.states, 3);
    gossip_member_info info;
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.generation, 7);
    assert_int_equal(info.max_version, 3);
    /* the same delta again changes nothing */
    assert_int_equal(deliver(n), 0);
    assert_int_equal(ch.states, 3);
    /* a continuation */
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("peer", 7, 3, 0, 1, 3);
    deliver(n);
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.max_version, 4);
    assert_string_equal(ch.last_key, "k3");
    /* a restart: new generation, from version 0 */
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("peer", 8, 0, 1, 1, 0);
    deliver(n);
    assert_int_equal(ch.restarts, 1);
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.generation, 8);
    assert_int_equal(info.key_count, 1);
    gossip_node_free(n);
}

static void test_inconsistent_deltas_are_refused_whole(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    gossip_member_info info;
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("peer", 1, 0, 1, 60, 0);
    deliver(n);
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.key_count, 60);
    uint64_t hash = gossip_node_table_hash(n);

    /* ten more keys would pass max_keys (64): nothing of it is applied */
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("peer", 1, 60, 0, 10, 100);
    deliver(n);
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.key_count, 60);
    assert_int_equal(gossip_node_table_hash(n), hash);

    /* a delta that starts past what we hold would leave a hole */
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("peer", 1, 70, 0, 1, 200);
    deliver(n);
    assert_int_equal(gossip_node_table_hash(n), hash);

    /* an older generation */
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("peer", 0, 0, 5, 1, 300);
    deliver(n);
    assert_int_equal(gossip_node_table_hash(n), hash);

    /* a new generation that does not start at 0 */
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("stranger", 1, 5, 0, 1, 0);
    deliver(n);
    assert_int_equal(gossip_node_member_find(n, "stranger", &info), GOSSIP_ERR_NOT_FOUND);
    gossip_stats s;
    gossip_node_get_stats(n, &s);
    assert_true(s.deltas_stale >= 3);
    gossip_node_free(n);
}

/* One delta of member "peer" carrying only its address. */
static void add_address_delta(uint64_t generation, const char *addr)
{
    wire_delta *d = &msg->deltas[msg->n_deltas++];
    d->name = (wire_str){"peer", 4};
    d->generation = generation;
    d->from_version = 0;
    d->heartbeat = 1;
    d->has_record = true;
    d->incarnation = 0;
    d->status = GOSSIP_STATUS_ALIVE;
    d->kv_first = msg->n_kvs;
    d->kv_count = 1;
    wire_kv *kv = &msg->kvs[msg->n_kvs++];
    kv->key = (wire_str){GOSSIP_KEY_ADDRESS, (uint32_t)strlen(GOSSIP_KEY_ADDRESS)};
    kv->version = 2;
    kv->value = (const uint8_t *)addr;
    kv->value_len = (uint32_t)strlen(addr);
    kv->deleted = false;
}

/* A member that restarts at another address (a rescheduled container) is
 * noticed and counted, and its new address is the one used. */
static void test_member_moving_address_is_reported(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    new_msg(GOSSIP_MSG_PUSH);
    add_address_delta(1, "10.0.0.5:7946");
    deliver(n);
    new_msg(GOSSIP_MSG_PUSH);
    add_address_delta(2, "10.0.9.9:7946");
    deliver(n);
    gossip_stats s;
    gossip_node_get_stats(n, &s);
    assert_int_equal(s.address_changes, 1);
    gossip_member_info info;
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_string_equal(info.addr, "10.0.9.9:7946");
    assert_int_equal(info.generation, 2);
    gossip_node_free(n);
}

/* A record no honest member can reach (an incarnation near 2^64, so that
 * a refutation's "+ 1" would wrap) is refused, not believed. */
static void test_absurd_incarnation_is_refused(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("peer", 1, 0, 1, 1, 0);
    deliver(n);
    new_msg(GOSSIP_MSG_PUSH);
    wire_news *e = &msg->news[msg->n_news++];
    e->name = (wire_str){"peer", 4};
    e->generation = 1;
    e->incarnation = UINT64_MAX;
    e->status = GOSSIP_STATUS_SUSPECT;
    e->from = (wire_str){"mallory", 7};
    deliver(n);
    gossip_member_info info;
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.status, GOSSIP_STATUS_ALIVE);
    assert_int_equal(info.incarnation, 0);
    /* and about ourselves: no refutation to a wrapped incarnation */
    gossip_member_info self;
    gossip_node_member_find(n, NULL, &self);
    new_msg(GOSSIP_MSG_PUSH);
    e = &msg->news[msg->n_news++];
    e->name = (wire_str){"me", 2};
    e->generation = self.generation;
    e->incarnation = UINT64_MAX;
    e->status = GOSSIP_STATUS_DEAD;
    e->from = (wire_str){"mallory", 7};
    deliver(n);
    gossip_node_member_find(n, NULL, &self);
    assert_int_equal(self.incarnation, 0);
    assert_int_equal(self.status, GOSSIP_STATUS_ALIVE);
    gossip_node_free(n);
}

static void test_stale_news_of_self_is_refuted(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    gossip_member_info before, after;
    gossip_node_member_find(n, NULL, &before);
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("me", before.generation, 0, 500, 0, 0);
    deliver(n);
    gossip_node_member_find(n, NULL, &after);
    assert_true(after.heartbeat > 500);
    assert_true(after.max_version > 500);
    gossip_node_free(n);
}

static void test_tick_schedule_and_seeds(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    sent = 0;
    gossip_node_tick(n, 1000);
    assert_int_equal(sent, 0); /* knows nobody, has no seed */
    assert_int_equal(gossip_node_next_deadline(n), 2000);
    assert_int_equal(gossip_node_add_seed(n, "10.0.0.9:7946"), 0);
    assert_int_equal(gossip_node_add_seed(n, "10.0.0.9:7946"), 0); /* duplicate: kept once */
    gossip_node_tick(n, 1500); /* not due */
    assert_int_equal(sent, 0);
    gossip_node_tick(n, 2000);
    assert_int_equal(sent, 1);
    gossip_node_tick(n, 9000); /* late: catches up with one round, not seven */
    assert_int_equal(sent, 2);
    assert_int_equal(gossip_node_next_deadline(n), 10000);
    for (int i = 0; i < 20; i++) {
        char seed[32];
        snprintf(seed, sizeof seed, "10.0.1.%d:7946", i);
        int rc = gossip_node_add_seed(n, seed);
        assert_true(rc == 0 || rc == GOSSIP_ERR_FULL);
    }
    assert_int_equal(gossip_node_add_seed(n, ""), GOSSIP_ERR_INVALID);
    gossip_node_free(n);
}

/* Decodes kept datagram `i` (0 = the first sent since `sent` was reset). */
static uint8_t kept_type(int i, wire_msg *out)
{
    wire_limits lim = {2048, 512, 64};
    wire_msg_init(out, 2048);
    assert_int_equal(wire_decode(kept[i % KEPT_MAX].data, kept[i % KEPT_MAX].len, &lim, out), 0);
    return out->type;
}

/* contact: one exchange at once, whatever the node knows, and the address
 * is kept as a seed that the node keeps knocking on. */
static void test_contact_starts_an_exchange_now(void **state)
{
    (void)state;
    wire_msg *out = malloc(wire_msg_size(2048));
    gossip_node *n = make_node(NULL);
    sent = 0;
    assert_int_equal(gossip_node_contact(n, "10.0.0.9:7946", 5), 0);
    assert_int_equal(sent, 1);
    assert_string_equal(kept[0].addr, "10.0.0.9:7946");
    assert_int_equal(kept_type(0, out), GOSSIP_MSG_SYN);
    assert_int_equal(out->flags, 0);
    assert_true(out->n_digests >= 1); /* at least our own digest */
    /* remembered as a seed: knocked on one gossip period after the contact
     * (no seed was added by hand) */
    gossip_node_tick(n, 10);
    assert_int_equal(sent, 1);
    gossip_node_tick(n, 1010);
    assert_int_equal(sent, 2);
    assert_string_equal(kept[1].addr, "10.0.0.9:7946");
    /* again, while knowing nobody still: sent at once, not held by the backoff */
    assert_int_equal(gossip_node_contact(n, "10.0.0.9:7946", 20), 0);
    assert_int_equal(sent, 3);
    /* bad addresses */
    char long_addr[GOSSIP_MAX_ADDR + 2];
    memset(long_addr, 'a', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = '\0';
    assert_int_equal(gossip_node_contact(n, NULL, 30), GOSSIP_ERR_INVALID);
    assert_int_equal(gossip_node_contact(n, "", 30), GOSSIP_ERR_INVALID);
    assert_int_equal(gossip_node_contact(n, long_addr, 30), GOSSIP_ERR_INVALID);
    assert_int_equal(gossip_node_contact(n, "10.0.0.1:7946", 30), GOSSIP_ERR_INVALID); /* us */
    assert_int_equal(sent, 3);
    /* a full seed list does not stop the contact */
    for (int i = 0; i < 40; i++) {
        char seed[32];
        snprintf(seed, sizeof seed, "10.0.1.%d:7946", i);
        gossip_node_add_seed(n, seed);
    }
    assert_int_equal(gossip_node_contact(n, "10.0.2.1:7946", 40), 0);
    assert_int_equal(sent, 4);
    gossip_node_free(n);

    /* pull mode: a SYN flagged pull-only; push mode: a PUSH */
    gossip_config c;
    gossip_config_init(&c);
    c.name = "me";
    c.addr = "10.0.0.1:7946";
    c.mode = GOSSIP_MODE_PULL;
    assert_int_equal(gossip_node_new(&n, &c, &CB, NULL), 0);
    sent = 0;
    assert_int_equal(gossip_node_contact(n, "10.0.0.9:7946", 0), 0);
    assert_int_equal(kept_type(0, out), GOSSIP_MSG_SYN);
    assert_int_equal(out->flags & WIRE_FLAG_PULL_ONLY, WIRE_FLAG_PULL_ONLY);
    gossip_node_free(n);
    c.mode = GOSSIP_MODE_PUSH;
    assert_int_equal(gossip_node_new(&n, &c, &CB, NULL), 0);
    sent = 0;
    assert_int_equal(gossip_node_contact(n, "10.0.0.9:7946", 0), 0);
    assert_int_equal(sent, 1);
    assert_int_equal(kept_type(0, out), GOSSIP_MSG_PUSH);
    assert_true(out->n_deltas >= 1);
    /* a node that has left contacts nobody */
    gossip_node_leave(n, 0);
    while (!gossip_node_has_left(n))
        gossip_node_tick(n, gossip_node_next_deadline(n));
    sent = 0;
    assert_int_equal(gossip_node_contact(n, "10.0.0.9:7946", 60000), GOSSIP_ERR_INVALID);
    assert_int_equal(sent, 0);
    gossip_node_free(n);
    free(out);
}

/* Puts member "peer" into record (incarnation, status) by news from "x". */
static void news_of_peer(gossip_node *n, uint64_t incarnation, uint8_t status, uint64_t now_ms)
{
    new_msg(GOSSIP_MSG_PUSH);
    msg->from = (wire_str){"x", 1};
    wire_news *e = &msg->news[msg->n_news++];
    e->name = (wire_str){"peer", 4};
    e->generation = 1;
    e->incarnation = incarnation;
    e->status = status;
    e->from = (wire_str){"x", 1};
    deliver_at(n, now_ms);
}

/* API calls that the agent makes from its HTTP thread never send. */
static void test_force_leave_and_state_calls_send_nothing(void **state)
{
    (void)state;
    changes ch = {0};
    gossip_node *n = make_node(&ch);
    new_msg(GOSSIP_MSG_PUSH);
    add_address_delta(1, "10.0.0.5:7946");
    deliver(n);
    sent = 0;
    assert_int_equal(gossip_node_set_state(n, "k", (const uint8_t *)"v", 1), 0);
    assert_int_equal(gossip_node_del_state(n, "k"), 0);
    assert_int_equal(sent, 0);

    /* errors: unknown, ourselves, alive, NULL */
    assert_int_equal(gossip_node_force_leave(n, "nobody", 0), GOSSIP_ERR_NOT_FOUND);
    assert_int_equal(gossip_node_force_leave(n, "me", 0), GOSSIP_ERR_INVALID);
    assert_int_equal(gossip_node_force_leave(n, "peer", 0), GOSSIP_ERR_INVALID);
    assert_int_equal(gossip_node_force_leave(n, NULL, 0), GOSSIP_ERR_INVALID);

    /* suspect at incarnation 3 -> left at incarnation 3, news queued, not sent */
    news_of_peer(n, 3, GOSSIP_STATUS_SUSPECT, 100);
    gossip_stats s;
    gossip_node_get_stats(n, &s);
    assert_int_equal(s.members_alive, 1);
    assert_int_equal(s.members_suspect, 1);
    uint64_t queued = s.news_queue;
    uint64_t hash = gossip_node_table_hash(n);
    sent = 0;
    assert_int_equal(gossip_node_force_leave(n, "peer", 200), 0);
    assert_int_equal(sent, 0);
    assert_int_equal(ch.lefts, 1);
    gossip_member_info info;
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.status, GOSSIP_STATUS_LEFT);
    assert_int_equal(info.incarnation, 3);
    assert_int_equal(info.status_since_ms, 200);
    assert_true(gossip_node_table_hash(n) != hash); /* anti-entropy carries it too */
    gossip_node_get_stats(n, &s);
    assert_int_equal(s.members_suspect, 0);
    assert_int_equal(s.members_left, 1);
    assert_true(s.news_queue >= 1 && s.news_queue >= queued);
    /* again: nothing more */
    assert_int_equal(gossip_node_force_leave(n, "peer", 300), 0);
    assert_int_equal(ch.lefts, 1);
    /* the news goes out with the next datagram we send */
    assert_int_equal(gossip_node_contact(n, "10.0.0.7:7946", 1000), 0);
    assert_int_equal(sent, 1);
    wire_msg *out = malloc(wire_msg_size(2048));
    int found = 0;
    for (int i = 0; i < sent && i < KEPT_MAX; i++) {
        kept_type(i, out);
        for (uint32_t k = 0; k < out->n_news; k++)
            found |= out->news[k].name.len == 4 && memcmp(out->news[k].name.ptr, "peer", 4) == 0 &&
                     out->news[k].status == GOSSIP_STATUS_LEFT && out->news[k].incarnation == 3;
    }
    assert_true(found);
    free(out);

    /* dead works as well; a suspected member that refuted (alive again) does not */
    gossip_node_free(n);
    n = make_node(NULL);
    new_msg(GOSSIP_MSG_PUSH);
    add_address_delta(1, "10.0.0.5:7946");
    deliver(n);
    news_of_peer(n, 0, GOSSIP_STATUS_DEAD, 0);
    assert_int_equal(gossip_node_force_leave(n, "peer", 0), 0);
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.status, GOSSIP_STATUS_LEFT);
    news_of_peer(n, 1, GOSSIP_STATUS_ALIVE, 0); /* it was alive after all: refuted */
    assert_int_equal(gossip_node_member_find(n, "peer", &info), 0);
    assert_int_equal(info.status, GOSSIP_STATUS_ALIVE);
    assert_int_equal(gossip_node_force_leave(n, "peer", 0), GOSSIP_ERR_INVALID);
    gossip_node_free(n);
}

/* The probe round-trip histogram: one sample per probe, from the target's
 * own ack (a helper's relayed ack is no round trip of ours), by its time. */
static void test_probe_rtt_histogram(void **state)
{
    (void)state;
    static const uint32_t bounds[GOSSIP_RTT_BUCKETS - 1] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000};
    assert_memory_equal(gossip_rtt_bounds_ms, bounds, sizeof bounds);
    gossip_config c;
    gossip_config_init(&c);
    c.name = "me";
    c.addr = "10.0.0.1:7946";
    c.probe_interval_ms = 5000; /* room for round trips past the last bound */
    gossip_node *n;
    assert_int_equal(gossip_node_new(&n, &c, &CB, NULL), 0);
    new_msg(GOSSIP_MSG_PUSH);
    add_address_delta(1, "10.0.0.5:7946");
    deliver(n);
    wire_msg *out = malloc(wire_msg_size(2048));
    const uint64_t rtts[] = {0, 1, 2, 3, 30, 50, 51, 400, 999, 1000, 1001, 4000};
    const uint64_t want[GOSSIP_RTT_BUCKETS] = {2, 1, 1, 0, 0, 2, 1, 0, 1, 2, 2};
    uint64_t sum = 0;
    gossip_node_tick(n, 0); /* the first probe is due one interval later */
    uint64_t t = 5000;
    for (size_t r = 0; r < sizeof rtts / sizeof rtts[0]; r++, t += 5000) {
        sent = 0;
        gossip_node_tick(n, t); /* ends the last probe (acked), starts the next */
        uint64_t seq = 0;
        int pings = 0;
        for (int i = 0; i < sent; i++)
            if (kept_type(i, out) == GOSSIP_MSG_PING) {
                seq = out->seq;
                pings++;
                assert_string_equal(kept[i].addr, "10.0.0.5:7946");
            }
        assert_int_equal(pings, 1);
        new_msg(GOSSIP_MSG_PING_ACK); /* relayed by a helper: no sample */
        msg->from = (wire_str){"helper", 6};
        msg->has_seq = true;
        msg->seq = seq;
        deliver_at(n, t + rtts[r] / 2);
        new_msg(GOSSIP_MSG_PING_ACK); /* the target's own, then a duplicate */
        msg->has_seq = true;
        msg->seq = seq;
        deliver_at(n, t + rtts[r]);
        deliver_at(n, t + rtts[r] + 1);
        sum += rtts[r];
    }
    gossip_stats s;
    gossip_node_get_stats(n, &s);
    assert_int_equal(s.probe_rtt_count, sizeof rtts / sizeof rtts[0]);
    assert_int_equal(s.probe_rtt_sum_ms, sum);
    for (int b = 0; b < GOSSIP_RTT_BUCKETS; b++)
        assert_int_equal(s.probe_rtt_buckets[b], want[b]);
    assert_int_equal(s.probes_failed, 0);
    /* an ack after its probe ended is no sample either */
    sent = 0;
    gossip_node_tick(n, t);
    new_msg(GOSSIP_MSG_PING_ACK);
    msg->has_seq = true;
    msg->seq = 1; /* the first probe's */
    deliver_at(n, t + 10);
    gossip_node_get_stats(n, &s);
    assert_int_equal(s.probe_rtt_count, sizeof rtts / sizeof rtts[0]);
    free(out);
    gossip_node_free(n);
}

/* News about the receiver of a datagram goes first (the buddy system for
 * every datagram, not only probes): a member falsely suspected hears of it
 * from whoever talks to it next, however much other news is queued. */
static void test_news_about_the_receiver_goes_first(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    new_msg(GOSSIP_MSG_PUSH);
    add_delta("a", 1, 0, 1, 0, 0);
    add_delta("b", 1, 0, 1, 0, 0);
    add_delta("c", 1, 0, 1, 0, 0);
    add_address_delta(1, "10.0.0.5:7946");
    deliver(n);
    /* a, b, c die (queued first), then "peer" is suspected */
    new_msg(GOSSIP_MSG_PUSH);
    msg->from = (wire_str){"x", 1};
    const char *names[] = {"a", "b", "c", "peer"};
    for (int i = 0; i < 4; i++) {
        wire_news *e = &msg->news[msg->n_news++];
        e->name = (wire_str){names[i], (uint32_t)strlen(names[i])};
        e->generation = 1;
        e->incarnation = 0;
        e->status = i < 3 ? GOSSIP_STATUS_DEAD : GOSSIP_STATUS_SUSPECT;
        e->from = (wire_str){"x", 1};
    }
    deliver(n);
    sent = 0;
    gossip_node_tick(n, 0); /* a round: the one live peer gets a SYN */
    wire_msg *out = malloc(wire_msg_size(2048));
    int syns = 0;
    for (int i = 0; i < sent; i++)
        if (kept_type(i, out) == GOSSIP_MSG_SYN && strcmp(kept[i].addr, "10.0.0.5:7946") == 0) {
            syns++;
            assert_true(out->n_news >= 4);
            assert_int_equal(out->news[0].name.len, 4);
            assert_memory_equal(out->news[0].name.ptr, "peer", 4);
            assert_int_equal(out->news[0].status, GOSSIP_STATUS_SUSPECT);
        }
    assert_int_equal(syns, 1);
    free(out);
    gossip_node_free(n);
}

/* Member `name` at `addr`, learnt from a PUSH. */
static void learn_member(gossip_node *n, const char *name, const char *addr)
{
    new_msg(GOSSIP_MSG_PUSH);
    add_address_delta(1, addr);
    msg->deltas[0].name = (wire_str){name, (uint32_t)strlen(name)};
    deliver(n);
}

/* A failed probe whose helpers all stay silent accuses nobody (every
 * indirect path failed too: the trouble is around us); one nack is enough
 * to suspect, and the suspect is told at once. */
static void test_failed_probe_verdicts(void **state)
{
    (void)state;
    gossip_node *n = make_node(NULL);
    const char *names[] = {"m1", "m2", "m3", "m4"};
    const char *addrs[] = {"10.0.0.11:7946", "10.0.0.12:7946", "10.0.0.13:7946", "10.0.0.14:7946"};
    for (int i = 0; i < 4; i++)
        learn_member(n, names[i], addrs[i]);
    wire_msg *out = malloc(wire_msg_size(2048));
    gossip_node_tick(n, 0);
    /* the first probe at 1 s; when it ends at 2 s the second starts, with
     * interval and timeout doubled by the awareness the silence raised */
    const uint64_t start[2] = {1000, 2000}, scale[2] = {1, 2};
    sent = 0;
    gossip_node_tick(n, start[0]);
    for (int r = 0; r < 2; r++) {
        uint64_t t = start[r];
        char target[16] = "";
        uint64_t seq = 0;
        for (int i = 0; i < sent; i++)
            if (kept_type(i, out) == GOSSIP_MSG_PING) {
                snprintf(target, sizeof target, "%.*s", (int)out->target.len, out->target.ptr);
                seq = out->seq;
            }
        assert_true(target[0] != '\0');
        sent = 0;
        gossip_node_tick(n, t + 500 * scale[r]); /* no ack: ping-reqs to the three others */
        int reqs = 0;
        for (int i = 0; i < sent; i++)
            reqs += kept_type(i, out) == GOSSIP_MSG_PING_REQ;
        assert_int_equal(reqs, 3);
        if (r == 1) { /* one helper could not reach it either */
            new_msg(GOSSIP_MSG_PING_ACK);
            msg->from = (wire_str){"m9", 2};
            msg->flags = WIRE_FLAG_NACK;
            msg->has_seq = true;
            msg->seq = seq;
            deliver_at(n, t + 900 * scale[r]);
        }
        gossip_stats s;
        gossip_node_get_stats(n, &s);
        uint64_t probes_before = s.probes;
        sent = 0;
        gossip_node_tick(n, t + 1000 * scale[r]); /* the probe ends (and the next starts) */
        gossip_member_info info;
        assert_int_equal(gossip_node_member_find(n, target, &info), 0);
        gossip_node_get_stats(n, &s);
        assert_int_equal(s.probes_failed, (uint64_t)r + 1);
        assert_int_equal(s.probes_inconclusive, 1);
        assert_int_equal(info.status, r == 0 ? GOSSIP_STATUS_ALIVE : GOSSIP_STATUS_SUSPECT);
        assert_int_equal(s.suspicions, (uint64_t)r);
        /* a fresh suspicion is told to the suspect at once: one ping more
         * than the probes started, to it, with the news about it first */
        int pings = 0, told = 0;
        for (int i = 0; i < sent; i++) {
            if (kept_type(i, out) != GOSSIP_MSG_PING)
                continue;
            pings++;
            told += strcmp(kept[i].addr, info.addr) == 0 && out->n_news > 0 &&
                    out->news[0].name.len == strlen(target) &&
                    memcmp(out->news[0].name.ptr, target, strlen(target)) == 0 &&
                    out->news[0].status == GOSSIP_STATUS_SUSPECT;
        }
        assert_int_equal((uint64_t)pings, s.probes - probes_before + (uint64_t)r);
        assert_true(told >= r);
    }
    free(out);
    gossip_node_free(n);
}

/* gossip_config.incarnation: the self record starts there, and a
 * refutation goes past it. */
static void test_initial_incarnation(void **state)
{
    (void)state;
    gossip_config c;
    gossip_config_init(&c);
    assert_int_equal(c.incarnation, 0);
    c.name = "me";
    c.addr = "10.0.0.1:7946";
    c.incarnation = 41;
    gossip_node *n;
    assert_int_equal(gossip_node_new(&n, &c, &CB, NULL), 0);
    gossip_member_info self;
    gossip_node_member_find(n, NULL, &self);
    assert_int_equal(self.incarnation, 41);
    /* news calling incarnation 40 suspect is stale: nothing to refute */
    new_msg(GOSSIP_MSG_PUSH);
    wire_news *e = &msg->news[msg->n_news++];
    e->name = (wire_str){"me", 2};
    e->generation = self.generation;
    e->incarnation = 40;
    e->status = GOSSIP_STATUS_SUSPECT;
    e->from = (wire_str){"peer", 4};
    deliver(n);
    gossip_node_member_find(n, NULL, &self);
    assert_int_equal(self.incarnation, 41);
    e->incarnation = 41; /* about our current one: refuted with 42 */
    deliver(n);
    gossip_node_member_find(n, NULL, &self);
    assert_int_equal(self.incarnation, 42);
    assert_int_equal(self.status, GOSSIP_STATUS_ALIVE);
    gossip_node_free(n);
    c.incarnation = GOSSIP_MAX_INCARNATION; /* the largest accepted */
    assert_int_equal(gossip_node_new(&n, &c, &CB, NULL), 0);
    gossip_node_free(n);
}

int main(void)
{
    msg = malloc(wire_msg_size(sizeof buf));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_is_validated),
        cmocka_unit_test(test_own_state),
        cmocka_unit_test(test_garbage_changes_nothing),
        cmocka_unit_test(test_deltas_apply_and_notify),
        cmocka_unit_test(test_inconsistent_deltas_are_refused_whole),
        cmocka_unit_test(test_stale_news_of_self_is_refuted),
        cmocka_unit_test(test_absurd_incarnation_is_refused),
        cmocka_unit_test(test_member_moving_address_is_reported),
        cmocka_unit_test(test_tick_schedule_and_seeds),
        cmocka_unit_test(test_contact_starts_an_exchange_now),
        cmocka_unit_test(test_force_leave_and_state_calls_send_nothing),
        cmocka_unit_test(test_probe_rtt_histogram),
        cmocka_unit_test(test_initial_incarnation),
        cmocka_unit_test(test_news_about_the_receiver_goes_first),
        cmocka_unit_test(test_failed_probe_verdicts),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(msg);
    return rc;
}
