/*
 * blob_run.c -- the event loop of `gossip-sim blob`.
 *
 * Each node is one real blob_engine.  A message costs its bytes plus a
 * 4-byte frame prefix; it leaves through the sender's uplink and enters
 * through the receiver's downlink, each a FIFO at bandwidth_mbit, and
 * spends the link's latency (uniform in [latency_min_ms, latency_max_ms],
 * fixed per pair by the seed) in between.  Events are ordered by (time,
 * insertion) in des_queue, so one seed gives one run.
 */
#include <stdlib.h>
#include <string.h>

#include "core/blob_wire.h"
#include "sim/blob_sim.h"
#include "sim/des.h"

enum { EV_DELIVER = 1, EV_TICK = 2 };

typedef struct sim_msg {
    uint32_t from, len;
    uint8_t *data;
    uint32_t next_free;
} sim_msg;

typedef struct sim_node {
    blob_engine *e;
    uint64_t up_free_us, down_free_us, tick_at_us;
    uint64_t upload_bytes;
    uint64_t done_ms;
    bool done;
} sim_node;

typedef struct sim {
    const blob_sim_config *c;
    const blob_sim_payload *p;
    uint8_t target[BLOB_HASH_BYTES];
    sim_node *nodes;
    struct des_queue q;
    sim_msg *msgs;
    uint32_t n_msgs, cap_msgs, free_msg;
    uint64_t now_us;
    uint32_t cur;       /* the node whose engine is running */
    blob_sim_result *r;
    int err;
} sim;

typedef struct sim_ctx {
    sim *s;
    uint32_t node;
} sim_ctx;

void blob_sim_config_init(blob_sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->nodes = 100;
    c->mode = BLOB_FETCH_COMPACT;
    c->k = 3;
    c->seed = 1;
    c->latency_min_ms = 1;
    c->latency_max_ms = 20;
    c->bandwidth_mbit = 100;
    c->max_time_ms = 3600 * 1000;
    blob_settings_init(&c->engine);
}

static uint64_t link_latency_us(const sim *s, uint32_t a, uint32_t b)
{
    uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
    uint64_t h = des_mix64(s->c->seed ^ des_mix64(((uint64_t)lo << 32 | hi) + 0x11a7));
    uint64_t span = (uint64_t)(s->c->latency_max_ms - s->c->latency_min_ms) * 1000 + 1;
    return (uint64_t)s->c->latency_min_ms * 1000 + h % span;
}

static uint32_t msg_put(sim *s, uint32_t from, const uint8_t *data, size_t len)
{
    uint32_t i;
    if (s->free_msg != UINT32_MAX) {
        i = s->free_msg;
        s->free_msg = s->msgs[i].next_free;
    } else {
        if (s->n_msgs == s->cap_msgs) {
            uint32_t cap = s->cap_msgs ? 2 * s->cap_msgs : 1024;
            sim_msg *m = realloc(s->msgs, cap * sizeof *m);
            if (!m)
                return UINT32_MAX;
            s->msgs = m;
            s->cap_msgs = cap;
        }
        i = s->n_msgs++;
    }
    s->msgs[i].data = malloc(len);
    if (!s->msgs[i].data) {
        s->msgs[i].next_free = s->free_msg;
        s->free_msg = i;
        return UINT32_MAX;
    }
    memcpy(s->msgs[i].data, data, len);
    s->msgs[i].from = from;
    s->msgs[i].len = (uint32_t)len;
    return i;
}

static void msg_release(sim *s, uint32_t i)
{
    free(s->msgs[i].data);
    s->msgs[i].data = NULL;
    s->msgs[i].next_free = s->free_msg;
    s->free_msg = i;
}

static uint64_t tx_us(const sim *s, uint64_t bytes)
{
    /* Mbit/s is bits per microsecond. */
    return (bytes * 8 + s->c->bandwidth_mbit - 1) / s->c->bandwidth_mbit;
}

static int on_send(void *ud, uint64_t peer, const uint8_t *msg, size_t len)
{
    sim_ctx *x = ud;
    sim *s = x->s;
    uint32_t from = x->node, to = (uint32_t)peer;
    if (to >= s->c->nodes || to == from)
        return -1;
    uint32_t slot = msg_put(s, from, msg, len);
    if (slot == UINT32_MAX) {
        s->err = GOSSIP_ERR_NOMEM;
        return -1;
    }
    uint8_t type = len > 3 ? msg[3] : 0;
    if (from >= 1 && from <= s->c->corrupt_nodes && type == BLOB_MSG_CHUNK)
        s->msgs[slot].data[len - 1] ^= 0x5a; /* the chunk's bytes end the message */
    uint64_t wire = len + BLOB_SIM_FRAME_BYTES;
    s->r->wire_bytes += wire;
    if (type < 7) {
        s->r->bytes_by_type[type] += wire;
        s->r->msgs_by_type[type]++;
    }
    sim_node *a = &s->nodes[from], *b = &s->nodes[to];
    a->upload_bytes += wire;
    uint64_t t = tx_us(s, wire);
    uint64_t start = a->up_free_us > s->now_us ? a->up_free_us : s->now_us;
    a->up_free_us = start + t;
    uint64_t arrive = a->up_free_us + link_latency_us(s, from, to);
    uint64_t via_down = b->down_free_us + t;
    uint64_t deliver = arrive > via_down ? arrive : via_down;
    b->down_free_us = deliver;
    struct des_event ev = {.time_us = deliver, .kind = EV_DELIVER, .node = to, .arg = slot};
    if (des_queue_push(&s->q, ev) != 0) {
        s->err = GOSSIP_ERR_NOMEM;
        return -1;
    }
    return 0;
}

static uint32_t on_list_peers(void *ud, uint64_t *out, uint32_t cap)
{
    sim_ctx *x = ud;
    uint32_t n = 0;
    for (uint32_t i = 0; i < x->s->c->nodes && n < cap; i++) {
        if (i != x->node)
            out[n++] = i;
    }
    return n;
}

static void on_stored(void *ud, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size)
{
    sim_ctx *x = ud;
    sim *s = x->s;
    if (memcmp(hash, s->target, BLOB_HASH_BYTES) != 0)
        return;
    sim_node *n = &s->nodes[x->node];
    n->done = true;
    n->done_ms = s->now_us / 1000;
}

static void schedule_tick(sim *s, uint32_t i)
{
    sim_node *n = &s->nodes[i];
    uint64_t d = blob_engine_next_deadline(n->e);
    if (d == UINT64_MAX)
        return;
    uint64_t t = d * 1000;
    if (t < s->now_us)
        t = s->now_us;
    if (t >= n->tick_at_us)
        return;
    n->tick_at_us = t;
    struct des_event ev = {.time_us = t, .kind = EV_TICK, .node = i};
    if (des_queue_push(&s->q, ev) != 0)
        s->err = GOSSIP_ERR_NOMEM;
}

static void sim_free(sim *s, sim_ctx *ctx)
{
    if (s->nodes) {
        for (uint32_t i = 0; i < s->c->nodes; i++)
            blob_engine_free(s->nodes[i].e);
    }
    for (uint32_t i = 0; i < s->n_msgs; i++)
        free(s->msgs[i].data);
    free(s->msgs);
    free(s->nodes);
    free(ctx);
    des_queue_free(&s->q);
}

/* Does every node hold exactly the published bytes?  They are compared
 * byte for byte with the published version, whose payload hash is
 * recomputed once from its bytes: equal bytes, equal hash. */
static void verify(sim *s)
{
    uint8_t *buf = malloc(s->p->size);
    if (!buf) {
        s->err = GOSSIP_ERR_NOMEM;
        return;
    }
    uint8_t h[BLOB_HASH_BYTES];
    blob_payload_hash(&s->c->engine.chunking, s->p->cur, s->p->size, h);
    bool hash_ok = memcmp(h, s->target, BLOB_HASH_BYTES) == 0;
    for (uint32_t i = 0; i < s->c->nodes; i++) {
        uint64_t size;
        if (blob_engine_stat(s->nodes[i].e, s->target, &size) != 0)
            continue;
        s->r->completed++;
        if (size != s->p->size || blob_engine_read(s->nodes[i].e, s->target, buf, size) != 0)
            continue;
        if (hash_ok && memcmp(buf, s->p->cur, size) == 0)
            s->r->verified++;
    }
    free(buf);
}

int blob_sim_run(const blob_sim_config *c, const blob_sim_payload *p, blob_sim_result *r)
{
    if (!c || !p || !r || c->nodes < 2 || c->nodes > BLOB_SIM_MAX_NODES ||
        c->bandwidth_mbit == 0 || c->latency_min_ms > c->latency_max_ms ||
        c->corrupt_nodes >= c->nodes)
        return GOSSIP_ERR_INVALID;
    memset(r, 0, sizeof *r);
    sim s = {.c = c, .p = p, .r = r, .free_msg = UINT32_MAX};
    des_queue_init(&s.q);
    s.nodes = calloc(c->nodes, sizeof *s.nodes);
    sim_ctx *ctx = calloc(c->nodes, sizeof *ctx);
    int rc = GOSSIP_ERR_NOMEM;
    if (!s.nodes || !ctx)
        goto out;
    for (uint32_t i = 0; i < c->nodes; i++) {
        blob_settings es = c->engine;
        es.fetch_mode = c->mode;
        es.announce_fanout = c->k;
        es.seed = des_mix64(c->seed ^ des_mix64(i + 1));
        ctx[i] = (sim_ctx){&s, i};
        blob_callbacks cb = {.send = on_send, .list_peers = on_list_peers,
                             .stored = on_stored, .ud = &ctx[i]};
        s.nodes[i].tick_at_us = UINT64_MAX;
        if ((rc = blob_engine_new(&es, &cb, &s.nodes[i].e)) != 0)
            goto out;
        uint8_t h[BLOB_HASH_BYTES];
        if ((rc = blob_engine_put(s.nodes[i].e, p->old, p->size, BLOB_PUT_BORROW, 0, h)) != 0)
            goto out;
    }
    /* Node 0 publishes at time 0. */
    if ((rc = blob_engine_put(s.nodes[0].e, p->cur, p->size, BLOB_PUT_BORROW | BLOB_PUT_ANNOUNCE,
                              0, s.target)) != 0)
        goto out;
    s.nodes[0].done = true;
    for (uint32_t i = 0; i < c->nodes; i++) {
        /* A node that held the new version already (have = 1) is done. */
        if (blob_engine_stat(s.nodes[i].e, s.target, NULL) == 0)
            s.nodes[i].done = true;
        schedule_tick(&s, i);
    }
    struct des_event ev;
    while (s.err == 0 && des_queue_pop(&s.q, &ev) == 0) {
        if (ev.time_us / 1000 > c->max_time_ms)
            break;
        s.now_us = ev.time_us;
        r->events++;
        sim_node *n = &s.nodes[ev.node];
        s.cur = ev.node;
        if (ev.kind == EV_DELIVER) {
            sim_msg *m = &s.msgs[ev.arg];
            blob_engine_recv(n->e, m->from, m->data, m->len, s.now_us / 1000);
            msg_release(&s, (uint32_t)ev.arg);
            r->time_end_ms = s.now_us / 1000;
        } else {
            if (ev.time_us != n->tick_at_us)
                continue; /* superseded by an earlier tick */
            n->tick_at_us = UINT64_MAX;
            blob_engine_tick(n->e, s.now_us / 1000);
        }
        schedule_tick(&s, ev.node);
    }
    if (s.err) {
        rc = s.err;
        goto out;
    }
    for (uint32_t i = 0; i < c->nodes; i++) {
        sim_node *n = &s.nodes[i];
        if (n->done && n->done_ms > r->time_all_ms)
            r->time_all_ms = n->done_ms;
        if (n->upload_bytes > r->max_upload_bytes)
            r->max_upload_bytes = n->upload_bytes;
        blob_stats st;
        _Static_assert(sizeof st % sizeof(uint64_t) == 0, "blob_stats is all uint64_t");
        blob_engine_stats(n->e, &st);
        uint64_t *dst = (uint64_t *)&r->total;
        const uint64_t *src = (const uint64_t *)&st;
        for (size_t w = 0; w < sizeof st / sizeof(uint64_t); w++)
            dst[w] += src[w];
    }
    r->source_upload_bytes = s.nodes[0].upload_bytes;
    verify(&s);
    rc = s.err;
out:
    sim_free(&s, ctx);
    return rc;
}
