/*
 * kv_sim.c -- the world of `gossip-sim kv` (kv_sim.h): the event loop, the
 * network, the writes and the faults.
 *
 * Network.  A message leaves at once and arrives after a latency drawn
 * uniformly in [latency_min, latency_max] for each message, but never
 * before the previous message on the same directed link (the agent's kv
 * messages travel over TCP, which keeps order).  It is lost with
 * probability `loss`, dropped when a partition separates the two replicas
 * at sending or at arrival, and dropped when the receiver is down at
 * either moment.  A lost session chunk stalls its session until the idle
 * timeout aborts it, or makes the next chunk arrive out of order, which
 * aborts it at once -- as a broken connection would.
 *
 * Time.  Events are in virtual microseconds.  Replica i's wall clock is
 * KVS_T0_MS + virtual ms + offset_i, offset_i uniform in [-skew, +skew]:
 * that is what its store's HLC sees.
 *
 * Phases.  [0, duration): writes at uniformly random times on random live
 * replicas, keys uniform or Zipf(1); crashes (one per KVS_CRASH_EVERY_MS on
 * average, down for [KVS_DOWN_MIN_MS, KVS_DOWN_MAX_MS], at most half the
 * cluster down at once); partitions (one per KVS_PARTITION_EVERY_MS, a
 * random 10-50% of the replicas cut off for [KVS_PARTITION_MIN_MS,
 * KVS_PARTITION_MAX_MS]).  At `duration` the faults stop: partitions heal,
 * crashed replicas restart, and anti-entropy (and collection) go on until
 * the replicas are identical (converge_ms), then until no replica holds a
 * tombstone (collect_ms; skipped when the horizon is not shorter than the
 * deadline), or until `deadline` passes.  Then no new session or rumor
 * round starts, the ones in flight finish, and the checks run on the final
 * state (kv_sim_check.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/kv_sim_internal.h"

void kv_sim_config_init(kv_sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->nodes = 20;
    c->keys = 200;
    c->writes = 2000;
    c->delete_fraction = 0.2;
    c->loss = 0.1;
    c->latency_min_ms = 1;
    c->latency_max_ms = 10;
    c->partitions = true;
    c->restarts = true;
    c->anti_entropy_ms = 1000;
    c->horizon_ms = 5000;
    c->duration_ms = 30000;
    c->deadline_ms = 1800000;
    c->skew_ms = 200;
    c->fanout = 3;
    c->rumor_k = 3;
    c->zipf = true;
    c->method = KV_SIM_METHOD_MIXED;
    c->bug = KV_SIM_BUG_NONE;
    c->seed = 1;
}

uint64_t kvs_wall(const kvs_world *w, const kvs_node *n)
{
    return (uint64_t)((int64_t)(KVS_T0_MS + w->now_us / 1000) + n->offset_ms);
}

void kvs_key_name(uint32_t key, char out[16], size_t *len)
{
    int k = snprintf(out, 16, "k%u", key);
    *len = k > 0 ? (size_t)k : 0;
}

uint32_t kvs_up_peers(kvs_world *w, uint32_t self)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->c->nodes; i++)
        if (i != self && w->nodes[i].up)
            w->tmp_peers[n++] = i;
    return n;
}

static void push(kvs_world *w, uint64_t t, uint32_t kind, uint32_t node, uint64_t arg)
{
    struct des_event ev = {.time_us = t, .kind = kind, .node = node, .arg = arg};
    if (des_queue_push(&w->q, ev) != 0)
        w->err = GOSSIP_ERR_NOMEM;
}

/* ---- the network ------------------------------------------------------------- */

static uint32_t msg_put(kvs_world *w, uint32_t from, uint32_t to, const uint8_t *p, size_t len)
{
    uint32_t i;
    if (w->free_msg != UINT32_MAX) {
        i = w->free_msg;
        w->free_msg = w->msgs[i].next_free;
    } else {
        if (w->n_msgs == w->cap_msgs) {
            uint32_t cap = w->cap_msgs ? 2 * w->cap_msgs : 1024;
            kvs_msg *m = realloc(w->msgs, cap * sizeof *m);
            if (!m)
                return UINT32_MAX;
            w->msgs = m;
            w->cap_msgs = cap;
        }
        i = w->n_msgs++;
    }
    kvs_msg *m = &w->msgs[i];
    m->data = malloc(len ? len : 1);
    if (!m->data) {
        m->next_free = w->free_msg;
        w->free_msg = i;
        return UINT32_MAX;
    }
    memcpy(m->data, p, len);
    m->from = from;
    m->to = to;
    m->len = (uint32_t)len;
    return i;
}

static void msg_release(kvs_world *w, uint32_t i)
{
    free(w->msgs[i].data);
    w->msgs[i].data = NULL;
    w->msgs[i].next_free = w->free_msg;
    w->free_msg = i;
}

static bool separated(const kvs_world *w, uint32_t a, uint32_t b)
{
    return w->partitioned && w->nodes[a].side != w->nodes[b].side;
}

bool kvs_send(kvs_world *w, uint32_t from, uint32_t to, const uint8_t *p, size_t len,
              enum kvs_msg_kind kind)
{
    kv_sim_result *r = w->r;
    r->messages_sent++;
    r->bytes_sent += len;
    r->rumor_messages += kind == KVS_RUMOR;
    r->feedback_messages += kind == KVS_FEEDBACK;
    /* Drawn for every message, so that the stream does not depend on
     * which of the other checks failed. */
    bool lost = w->c->loss > 0 && des_rng_unit(&w->net) < w->c->loss;
    uint64_t span = (uint64_t)(w->c->latency_max_ms - w->c->latency_min_ms) * 1000 + 1;
    uint64_t latency = (uint64_t)w->c->latency_min_ms * 1000 + des_rng_below(&w->net, span);
    if (!w->nodes[to].up) {
        r->messages_to_down++;
        r->messages_lost++;
        return false;
    }
    if (separated(w, from, to)) {
        r->messages_partitioned++;
        r->messages_lost++;
        return false;
    }
    if (lost) {
        r->messages_lost_random++;
        r->messages_lost++;
        return false;
    }
    uint64_t *last = &w->fifo[(size_t)from * w->c->nodes + to];
    uint64_t at = w->now_us + latency;
    if (at < *last)
        at = *last;
    *last = at;
    uint32_t slot = msg_put(w, from, to, p, len);
    if (slot == UINT32_MAX) {
        w->err = GOSSIP_ERR_NOMEM;
        return false;
    }
    w->in_flight++;
    push(w, at, KVS_EV_DELIVER, to, slot);
    return true;
}

static void deliver(kvs_world *w, uint32_t slot)
{
    kvs_msg *m = &w->msgs[slot];
    w->in_flight--;
    kvs_node *to = &w->nodes[m->to];
    if (!to->up) {
        w->r->messages_to_down++;
        w->r->messages_lost++;
    } else if (separated(w, m->from, m->to)) {
        w->r->messages_partitioned++;
        w->r->messages_lost++;
    } else {
        kvs_node_deliver(w, to, m->from, m->data, m->len);
    }
    msg_release(w, slot);
}

/* ---- writes and faults -------------------------------------------------------- */

static uint32_t random_up(kvs_world *w)
{
    uint32_t n = kvs_up_peers(w, UINT32_MAX);
    return n ? w->tmp_peers[des_rng_below(&w->work, n)] : UINT32_MAX;
}

static uint32_t pick_key(kvs_world *w)
{
    if (!w->c->zipf)
        return (uint32_t)des_rng_below(&w->work, w->c->keys);
    double u = des_rng_unit(&w->work);
    uint32_t lo = 0, hi = w->c->keys - 1;
    while (lo < hi) { /* the first rank whose cumulative weight passes u */
        uint32_t mid = lo + (hi - lo) / 2;
        if (w->zipf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void on_write(kvs_world *w, uint64_t serial)
{
    uint32_t key = pick_key(w);
    bool del = des_rng_unit(&w->work) < w->c->delete_fraction;
    uint32_t i = random_up(w);
    if (i == UINT32_MAX) {
        w->r->writes_no_node++;
        return;
    }
    kvs_node_write(w, &w->nodes[i], key, del, serial);
}

static void on_crash(kvs_world *w)
{
    uint32_t up = kvs_up_peers(w, UINT32_MAX);
    if (up <= w->c->nodes / 2 || up < 2)
        return; /* at most half the cluster down at once */
    uint32_t i = w->tmp_peers[des_rng_below(&w->sched, up)];
    kvs_node *n = &w->nodes[i];
    kvs_node_crash(w, n);
    uint64_t span = (uint64_t)(KVS_DOWN_MAX_MS - KVS_DOWN_MIN_MS) * 1000 + 1;
    uint64_t down = (uint64_t)KVS_DOWN_MIN_MS * 1000 + des_rng_below(&w->sched, span);
    if (w->now_us + down < w->faults_end_us)
        push(w, w->now_us + down, KVS_EV_RESTART, i, n->life);
}

static void restart(kvs_world *w, kvs_node *n)
{
    int rc = kvs_node_start(w, n);
    if (rc != 0)
        w->err = rc;
}

static void on_partition(kvs_world *w, uint32_t id)
{
    uint32_t nodes = w->c->nodes;
    double q = 0.1 + 0.4 * des_rng_unit(&w->sched);
    uint32_t cut = 0;
    for (uint32_t i = 0; i < nodes; i++) {
        w->nodes[i].side = des_rng_unit(&w->sched) < q;
        cut += w->nodes[i].side;
    }
    if (cut == 0)
        w->nodes[des_rng_below(&w->sched, nodes)].side = 1;
    else if (cut == nodes)
        w->nodes[des_rng_below(&w->sched, nodes)].side = 0;
    w->partitioned = true;
    w->partition_id = id;
    w->r->partitions++;
}

static void schedule_faults(kvs_world *w)
{
    const kv_sim_config *c = w->c;
    uint64_t dur = c->duration_ms * 1000;
    for (uint32_t i = 0; i < c->writes; i++)
        push(w, des_rng_below(&w->sched, dur), KVS_EV_WRITE, 0, i);
    if (c->restarts) {
        uint64_t crashes = c->duration_ms / KVS_CRASH_EVERY_MS;
        for (uint64_t i = 0; i < crashes; i++)
            push(w, des_rng_below(&w->sched, dur), KVS_EV_CRASH, 0, 0);
    }
    if (c->partitions) {
        uint64_t count = c->duration_ms / KVS_PARTITION_EVERY_MS;
        if (count == 0)
            count = 1;
        uint64_t slot = dur / count; /* one partition per slot, never two at once */
        for (uint64_t i = 0; i < count; i++) {
            uint64_t start = i * slot + des_rng_below(&w->sched, slot / 2 + 1);
            uint64_t len = (uint64_t)KVS_PARTITION_MIN_MS * 1000 +
                           des_rng_below(&w->sched, (uint64_t)(KVS_PARTITION_MAX_MS -
                                                               KVS_PARTITION_MIN_MS) * 1000 + 1);
            uint64_t end = start + len;
            if (end > (i + 1) * slot)
                end = (i + 1) * slot;
            push(w, start, KVS_EV_PART_START, 0, i + 1);
            push(w, end, KVS_EV_PART_END, 0, i + 1);
        }
    }
    push(w, dur, KVS_EV_FAULTS_END, 0, 0);
}

static void on_faults_end(kvs_world *w)
{
    w->phase = KVS_SETTLE;
    w->partitioned = false;
    w->faults_end_us = w->now_us;
    for (uint32_t i = 0; i < w->c->nodes && w->err == 0; i++)
        if (!w->nodes[i].up)
            restart(w, &w->nodes[i]);
    push(w, w->now_us, KVS_EV_CHECK, 0, 0);
    push(w, w->now_us + w->c->deadline_ms * 1000, KVS_EV_DEADLINE, 0, 0);
}

static void on_check(kvs_world *w)
{
    if (w->phase != KVS_SETTLE && w->phase != KVS_COLLECT)
        return;
    bool first = w->checked_us == 0;
    bool due = w->now_us >= w->checked_us + (uint64_t)KVS_RECHECK_MS * 1000;
    if (w->phase == KVS_SETTLE && (first || due || w->changes != w->checked_changes)) {
        w->checked_changes = w->changes;
        w->checked_us = w->now_us;
        due = true; /* look for quiet at once too */
        if (kvs_identical(w)) {
            w->r->converged = true;
            w->r->converge_ms = (w->now_us - w->faults_end_us) / 1000;
            w->phase = kvs_must_collect(w->c) ? KVS_COLLECT : KVS_DRAIN;
            if (w->phase == KVS_DRAIN)
                return;
        }
    }
    if (w->phase == KVS_COLLECT && due) {
        w->checked_us = w->now_us;
        if (kvs_tombstones(w) == 0) {
            w->r->collected = true;
            w->r->collect_ms = (w->now_us - w->faults_end_us) / 1000;
            w->phase = KVS_DRAIN;
            return;
        }
    }
    push(w, w->now_us + (uint64_t)KVS_CHECK_MS * 1000, KVS_EV_CHECK, 0, 0);
}

/* ---- the run ------------------------------------------------------------------ */

static bool config_ok(const kv_sim_config *c)
{
    return c->nodes >= 2 && c->nodes <= KV_SIM_MAX_NODES && c->keys >= 1 &&
           c->keys <= KV_SIM_MAX_KEYS && c->writes <= KV_SIM_MAX_WRITES &&
           c->delete_fraction >= 0 && c->delete_fraction <= 1 && c->loss >= 0 &&
           c->loss <= KV_SIM_MAX_LOSS && c->latency_min_ms <= c->latency_max_ms &&
           c->latency_max_ms <= KV_SIM_MAX_LATENCY_MS && c->anti_entropy_ms >= KV_SIM_MIN_AE_MS &&
           c->anti_entropy_ms <= KV_SIM_MAX_AE_MS && c->horizon_ms <= KV_SIM_MAX_HORIZON_MS &&
           c->duration_ms >= 1 && c->duration_ms <= KV_SIM_MAX_DURATION_MS &&
           c->deadline_ms >= 1 && c->deadline_ms <= KV_SIM_MAX_DEADLINE_MS &&
           c->skew_ms <= KV_SIM_MAX_SKEW_MS && c->fanout <= KV_SIM_MAX_FANOUT &&
           c->rumor_k >= 1 && c->rumor_k <= KV_SIM_MAX_RUMOR_K &&
           (c->method == KV_SIM_METHOD_MIXED ||
            (c->method >= RECON_MERKLE && c->method <= RECON_AUTO)) &&
           (c->gc_rule == KV_SIM_GC_ACKED || c->gc_rule == KV_SIM_GC_EAGER) &&
           c->bug >= KV_SIM_BUG_NONE && c->bug <= KV_SIM_BUG_GC_UNSAFE;
}

static void world_free(kvs_world *w)
{
    if (w->nodes)
        for (uint32_t i = 0; i < w->c->nodes; i++)
            kvs_node_free(&w->nodes[i]);
    if (w->keys)
        for (uint32_t k = 0; k < w->c->keys; k++)
            free(w->keys[k].floors);
    for (uint32_t i = 0; i < w->n_msgs; i++)
        free(w->msgs[i].data);
    free(w->msgs);
    free(w->nodes);
    free(w->keys);
    free(w->zipf);
    free(w->tmp_peers);
    free(w->fifo);
    recon_buf_free(&w->scratch);
    recon_buf_free(&w->feedback);
    des_queue_free(&w->q);
}

static int world_init(kvs_world *w)
{
    const kv_sim_config *c = w->c;
    w->nodes = calloc(c->nodes, sizeof *w->nodes);
    w->keys = calloc(c->keys, sizeof *w->keys);
    w->zipf = calloc(c->keys, sizeof *w->zipf);
    w->tmp_peers = calloc(c->nodes, sizeof *w->tmp_peers);
    w->fifo = calloc((size_t)c->nodes * c->nodes, sizeof *w->fifo);
    if (!w->nodes || !w->keys || !w->zipf || !w->tmp_peers || !w->fifo)
        return GOSSIP_ERR_NOMEM;
    double sum = 0;
    for (uint32_t k = 0; k < c->keys; k++) {
        sum += 1.0 / (double)(k + 1);
        w->zipf[k] = sum;
    }
    for (uint32_t k = 0; k < c->keys; k++)
        w->zipf[k] /= sum;
    w->sched = des_rng_make(c->seed, 1);
    w->net = des_rng_make(c->seed, 2);
    w->work = des_rng_make(c->seed, 3);
    for (uint32_t i = 0; i < c->nodes; i++) {
        kvs_node *n = &w->nodes[i];
        n->w = w;
        n->id = i;
        n->rng = des_rng_make(c->seed, 100 + (uint64_t)i);
        n->offset_ms = (int64_t)des_rng_below(&w->sched, 2 * (uint64_t)c->skew_ms + 1) -
                       (int64_t)c->skew_ms;
        recon_buf_init(&n->durable, NULL);
        recon_buf_init(&n->pending, NULL);
        n->peers = calloc(c->nodes, sizeof *n->peers);
        if (!n->peers)
            return GOSSIP_ERR_NOMEM;
    }
    return 0;
}

int kv_sim_run(const kv_sim_config *c, kv_sim_result *r)
{
    if (!c || !r || !config_ok(c))
        return GOSSIP_ERR_INVALID;
    memset(r, 0, sizeof *r);
    r->seed = c->seed;
    kvs_world w;
    memset(&w, 0, sizeof w);
    w.c = c;
    w.r = r;
    w.free_msg = UINT32_MAX;
    w.faults_end_us = c->duration_ms * 1000;
    des_queue_init(&w.q);
    recon_buf_init(&w.scratch, NULL);
    recon_buf_init(&w.feedback, NULL);
    int rc = world_init(&w);
    for (uint32_t i = 0; i < c->nodes && rc == 0; i++)
        rc = kvs_node_start(&w, &w.nodes[i]);
    if (rc != 0)
        goto out;
    schedule_faults(&w);
    struct des_event ev;
    while (w.err == 0 && w.phase != KVS_DONE && des_queue_pop(&w.q, &ev) == 0) {
        w.now_us = ev.time_us;
        r->events++;
        kvs_node *n = &w.nodes[ev.node];
        switch (ev.kind) {
        case KVS_EV_TICK:
            if (n->up && ev.arg == n->life) {
                kvs_node_tick(&w, n);
                push(&w, w.now_us + (uint64_t)KVS_TICK_MS * 1000, KVS_EV_TICK, n->id, n->life);
            }
            break;
        case KVS_EV_DELIVER: deliver(&w, (uint32_t)ev.arg); break;
        case KVS_EV_WRITE: on_write(&w, ev.arg); break;
        case KVS_EV_CRASH: on_crash(&w); break;
        case KVS_EV_RESTART:
            if (!n->up && ev.arg == n->life)
                restart(&w, n);
            break;
        case KVS_EV_PART_START: on_partition(&w, (uint32_t)ev.arg); break;
        case KVS_EV_PART_END:
            if (w.partition_id == ev.arg)
                w.partitioned = false;
            break;
        case KVS_EV_FAULTS_END: on_faults_end(&w); break;
        case KVS_EV_CHECK: on_check(&w); break;
        case KVS_EV_DEADLINE: w.phase = KVS_DONE; break;
        }
        if (w.phase == KVS_DRAIN && w.in_flight == 0 && w.open_sessions == 0)
            w.phase = KVS_DONE;
    }
    r->end_ms = w.now_us / 1000;
    rc = w.err;
    if (rc == 0)
        kvs_final_checks(&w);
out:
    world_free(&w);
    return rc;
}
