/* run_sim.c -- the event loop and the virtual network of `gossip-sim run`.
 * See run_sim.h for the model. */
#include "sim/run_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* z such that P(Z <= z) = 0.99 for a standard normal Z. */
#define SIM_NORMAL_Z99 2.3263478740408408

static void set_error(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

int32_t sim_node_index_of(const struct sim_run *run, const char *name)
{
    /* Names (and addresses) are "n<index>" without leading zeros. */
    if (!name || name[0] != 'n' || name[1] < '0' || name[1] > '9')
        return -1;
    uint32_t index = 0;
    const char *p = name + 1;
    for (; *p >= '0' && *p <= '9'; p++) {
        index = index * 10 + (uint32_t)(*p - '0');
        if (index >= run->scn->nodes)
            return -1;
    }
    if (*p != '\0' || (name[1] == '0' && name[2] != '\0'))
        return -1;
    return (int32_t)index;
}

/* ---- virtual network -------------------------------------------------- */

static double sample_latency_ms(struct sim_run *run)
{
    const struct scn_latency *l = &run->scn->latency;
    double ms;
    switch (l->dist) {
    case SCN_LATENCY_UNIFORM:
        ms = l->min_ms + (l->max_ms - l->min_ms) * des_rng_unit(&run->net_rng);
        break;
    case SCN_LATENCY_LOGNORMAL: {
        double mu = log(l->median_ms);
        double sigma = (log(l->p99_ms) - mu) / SIM_NORMAL_Z99;
        ms = exp(mu + sigma * des_rng_normal(&run->net_rng));
        break;
    }
    case SCN_LATENCY_CONSTANT:
    default:
        ms = l->ms;
        break;
    }
    return ms < SCN_MAX_LATENCY_MS ? ms : SCN_MAX_LATENCY_MS;
}

/* Recomputes which partitions are active at now_us, and when that changes
 * next; called only when now_us crosses a boundary. */
static void refresh_partitions(struct sim_run *run)
{
    const struct scenario *s = run->scn;
    run->active_partition_count = 0;
    run->next_partition_change_us = UINT64_MAX;
    for (uint32_t i = 0; i < s->partition_count; i++) {
        uint64_t start = s->partitions[i].start_ms * US_PER_MS;
        uint64_t end = s->partitions[i].end_ms * US_PER_MS;
        if (run->now_us >= start && run->now_us < end)
            run->active_partitions[run->active_partition_count++] = i;
        uint64_t next = run->now_us < start ? start : end;
        if (next > run->now_us && next < run->next_partition_change_us)
            run->next_partition_change_us = next;
    }
}

int sim_partition_explains_dead(const struct sim_run *run, uint32_t observer,
                                uint32_t subject, uint64_t grace_us)
{
    const struct scenario *s = run->scn;
    for (uint32_t i = 0; i < s->partition_count; i++) {
        const struct scn_partition *p = &s->partitions[i];
        uint64_t start = p->start_ms * US_PER_MS, end = p->end_ms * US_PER_MS;
        if (run->now_us < start || run->now_us >= end + grace_us)
            continue;
        const int32_t *g = p->group_of;
        /* During the split only the other side can lose sight of the
         * subject; after the heal its verdict spreads to everyone. */
        if (run->now_us < end ? g[observer] >= 0 && g[subject] >= 0 && g[observer] != g[subject]
                              : g[subject] >= 0)
            return 1;
    }
    return 0;
}

static int partitioned(struct sim_run *run, uint32_t from, uint32_t to)
{
    if (run->now_us >= run->next_partition_change_us)
        refresh_partitions(run);
    for (uint32_t i = 0; i < run->active_partition_count; i++) {
        const int32_t *group_of = run->scn->partitions[run->active_partitions[i]].group_of;
        if (group_of[from] >= 0 && group_of[to] >= 0 && group_of[from] != group_of[to])
            return 1;
    }
    return 0;
}

/* The engine's send callback: never calls back into a node, only queues. */
static void on_send(void *ud, const char *addr, const uint8_t *buf, size_t len)
{
    struct sim_node *node = ud;
    struct sim_run *run = node->run;
    struct sim_result *r = &run->result;
    r->packets_sent++;
    r->bytes_sent += len;
    int32_t to = sim_node_index_of(run, addr);
    if (to < 0) {
        r->packets_misaddressed++;
        return;
    }
    if (run->scn->loss > 0 && des_rng_unit(&run->net_rng) < run->scn->loss) {
        r->packets_lost++;
        return;
    }
    if (partitioned(run, node->index, (uint32_t)to)) {
        r->packets_partitioned++;
        return;
    }
    uint64_t latency_us = (uint64_t)llround(sample_latency_ms(run) * US_PER_MS);
    uint32_t slot = des_pool_put(&run->pool, node->index, buf, len);
    struct des_event ev = {.time_us = run->now_us + latency_us, .kind = DES_EV_DELIVER,
                           .node = (uint32_t)to, .arg = slot};
    if (slot == DES_POOL_NO_SLOT || des_queue_push(&run->queue, ev) != 0) {
        if (slot != DES_POOL_NO_SLOT)
            des_pool_release(&run->pool, slot);
        run->failed = 1;
    }
}

static void on_change(void *ud, const gossip_change *change)
{
    sim_trace_change(ud, change);
    sim_check_change(ud, change);
    sim_writes_on_change(ud, change);
    sim_fd_on_change(ud, change);
}

static const gossip_callbacks sim_callbacks = {
    .struct_version = GOSSIP_CALLBACKS_VERSION,
    .send = on_send,
    .on_change = on_change,
    .log = NULL,
};

/* ---- node lifecycle ---------------------------------------------------- */

static uint64_t node_local_ms(const struct sim_node *node, uint64_t virtual_us)
{
    return des_clock_local_ms(&node->clock, virtual_us);
}

/* Schedules a tick at the engine's next deadline if that is earlier than
 * the tick already queued.  A stale later tick stays in the heap and is
 * skipped when popped (lazy deletion: no O(N) search).  After a tick the
 * next one is at least one local millisecond later, so an engine that
 * keeps reporting a past deadline cannot stall virtual time. */
static int node_reschedule(struct sim_run *run, struct sim_node *node, int after_tick)
{
    /* A stalled node's tick is scheduled when the stall ends. */
    if (!node->engine || node->stalled_until_us > run->now_us)
        return 0;
    uint64_t deadline = gossip_node_next_deadline(node->engine);
    uint64_t local_now = node_local_ms(node, run->now_us);
    if (after_tick && deadline <= local_now)
        deadline = local_now + 1;
    uint64_t due = des_clock_virtual_us(&node->clock, deadline);
    if (due < run->now_us)
        due = run->now_us;
    if (due > run->end_us || due >= node->tick_due_us)
        return 0;
    node->tick_due_us = due;
    struct des_event ev = {.time_us = due, .kind = DES_EV_TICK, .node = node->index,
                           .arg = node->life};
    return des_queue_push(&run->queue, ev);
}

static void node_down(struct sim_run *run, struct sim_node *node,
                      enum sim_down_reason reason, int permanent);

/* After every call into an engine: the checks it queued, its departure
 * once a graceful leave is over, its tick. */
static int after_engine_call(struct sim_run *run, struct sim_node *node, int after_tick)
{
    sim_writes_run_deferred(run);
    sim_fd_run_deferred(run);
    if (node->engine && node->leaving && gossip_node_has_left(node->engine)) {
        node_down(run, node, SIM_DOWN_LEFT, 1);
        return run->failed ? -1 : 0;
    }
    if (node_reschedule(run, node, after_tick) != 0 || run->failed)
        return -1;
    return 0;
}

/* Every incarnation of every node draws from its own PRNG stream. */
static uint64_t node_engine_seed(uint64_t run_seed, uint32_t index, uint64_t generation)
{
    struct des_rng rng = des_rng_make(run_seed, SIM_STREAM_NODE_BASE + index);
    return des_mix64(des_rng_next(&rng) ^ des_mix64(generation));
}

static int node_start(struct sim_run *run, struct sim_node *node, char *err, size_t errlen)
{
    const struct scenario *s = run->scn;
    if (node->engine)
        return 0;
    node->generation++;
    gossip_config cfg;
    scenario_engine_config(s, &cfg);
    cfg.name = node->name;
    cfg.addr = node->name;
    cfg.generation = node->generation;
    cfg.seed = node_engine_seed(run->seed, node->index, node->generation);
    int rc = gossip_node_new(&node->engine, &cfg, &sim_callbacks, node);
    if (rc != GOSSIP_OK) {
        if (err && errlen)
            snprintf(err, errlen, "gossip_node_new(%s): %s", node->name, gossip_strerror(rc));
        node->engine = NULL;
        return -1;
    }
    for (uint32_t i = 0; i < s->seed_count; i++) {
        if (s->seeds[i] == node->index)
            continue;
        rc = gossip_node_add_seed(node->engine, run->nodes[s->seeds[i]].name);
        if (rc != GOSSIP_OK) {
            if (err && errlen)
                snprintf(err, errlen, "gossip_node_add_seed(%s): %s", node->name,
                         gossip_strerror(rc));
            return -1;
        }
    }
    node->life++;
    node->tick_due_us = UINT64_MAX;
    node->up_since_us = run->now_us;
    node->stalled_until_us = 0;
    node->leaving = 0;
    node->down_reason = SIM_DOWN_NOT_STARTED;
    run->live_count++;
    if (node->generation > 1)
        run->result.restarts++;
    if (node->generation > run->result.max_generation)
        run->result.max_generation = node->generation;
    sim_fd_on_start(run, node->index);
    sim_trace_fault(run, node->index, "starts");
    return after_engine_call(run, node, 0);
}

/* Kill or graceful departure: the engine is freed, packets in flight to it
 * are dropped on arrival.  `permanent`: no restart is planned. */
static void node_down(struct sim_run *run, struct sim_node *node,
                      enum sim_down_reason reason, int permanent)
{
    if (!node->engine)
        return;
    sim_trace_fault(run, node->index, reason == SIM_DOWN_KILLED ? "is killed" : "has left");
    sim_fd_keep_stats(run, node->engine);
    gossip_node_free(node->engine);
    node->engine = NULL;
    node->life++;
    node->tick_due_us = UINT64_MAX;
    node->stalled_until_us = 0;
    node->leaving = 0;
    node->down_reason = reason;
    node->up_total_us += run->now_us - node->up_since_us;
    run->live_count--;
    if (reason == SIM_DOWN_KILLED)
        run->result.kills++;
    else
        run->result.left++;
    sim_writes_on_kill(run, node->index);
    sim_fd_on_down(run, node->index, permanent && reason == SIM_DOWN_KILLED);
}

/* Events that a stalled node cannot take now wait for its stall to end. */
static int postpone_until_stall_ends(struct sim_run *run, const struct des_event *ev)
{
    struct des_event later = *ev;
    later.time_us = run->nodes[ev->node].stalled_until_us;
    return des_queue_push(&run->queue, later);
}

/* ---- events ------------------------------------------------------------- */

static int handle_tick(struct sim_run *run, const struct des_event *ev)
{
    struct sim_node *node = &run->nodes[ev->node];
    /* Stale: the node restarted, died, or an earlier tick replaced this one. */
    if (!node->engine || ev->arg != node->life || ev->time_us != node->tick_due_us ||
        node->stalled_until_us > run->now_us)
        return 0;
    node->tick_due_us = UINT64_MAX;
    gossip_node_tick(node->engine, node_local_ms(node, run->now_us));
    return after_engine_call(run, node, 1);
}

static int handle_deliver(struct sim_run *run, const struct des_event *ev)
{
    struct sim_node *node = &run->nodes[ev->node];
    uint32_t slot = (uint32_t)ev->arg;
    if (!node->engine) {
        run->result.packets_to_down++;
        des_pool_release(&run->pool, slot);
        return 0;
    }
    /* Like a GC pause: the kernel keeps the datagram until the node runs. */
    if (node->stalled_until_us > run->now_us)
        return postpone_until_stall_ends(run, ev);
    const struct des_packet *p = des_pool_get(&run->pool, slot);
    int rc = gossip_node_recv(node->engine, run->nodes[p->from].name, p->data, p->len,
                              node_local_ms(node, run->now_us));
    if (rc < 0)
        run->result.recv_errors++;
    des_pool_release(&run->pool, slot);
    return after_engine_call(run, node, 0);
}

static int handle_write(struct sim_run *run, const struct des_event *ev)
{
    int32_t writer = sim_write_issue(run, (uint32_t)ev->arg);
    if (writer == -2)
        return -1;
    if (writer < 0)
        return 0;
    return after_engine_call(run, &run->nodes[writer], 0);
}

static int handle_stall(struct sim_run *run, const struct des_event *ev)
{
    struct sim_node *node = &run->nodes[ev->node];
    if (!node->engine)
        return 0;
    uint64_t until = run->now_us + ev->arg;
    run->result.stalls++;
    if (until <= node->stalled_until_us)
        return 0;
    /* Invalidates the pending tick (its time no longer matches). */
    node->tick_due_us = UINT64_MAX;
    node->stalled_until_us = until;
    sim_trace_fault(run, node->index, "stalls");
    struct des_event end = {.time_us = until, .kind = DES_EV_STALL_END, .node = node->index,
                            .arg = node->life};
    return des_queue_push(&run->queue, end);
}

/* The packets queued during the stall were pushed before the tick this
 * schedules, so they are processed first. */
static int handle_stall_end(struct sim_run *run, const struct des_event *ev)
{
    struct sim_node *node = &run->nodes[ev->node];
    if (!node->engine || ev->arg != node->life || node->stalled_until_us != run->now_us)
        return 0;
    node->stalled_until_us = 0;
    sim_trace_fault(run, node->index, "runs again");
    return node_reschedule(run, node, 0);
}

static int handle_leave(struct sim_run *run, const struct des_event *ev, char *err,
                        size_t errlen)
{
    struct sim_node *node = &run->nodes[ev->node];
    if (!node->engine || node->leaving)
        return 0;
    if (node->stalled_until_us > run->now_us)
        return postpone_until_stall_ends(run, ev);
    node->leaving = 1;
    run->result.leaves++;
    sim_trace_fault(run, node->index, "leaves");
    int rc = gossip_node_leave(node->engine, node_local_ms(node, run->now_us));
    if (rc != GOSSIP_OK) {
        if (err && errlen)
            snprintf(err, errlen, "gossip_node_leave(%s): %s", node->name, gossip_strerror(rc));
        return -1;
    }
    return after_engine_call(run, node, 0);
}

static int handle_event(struct sim_run *run, const struct des_event *ev, char *err,
                        size_t errlen)
{
    switch (ev->kind) {
    case DES_EV_TICK:
        return handle_tick(run, ev);
    case DES_EV_DELIVER:
        return handle_deliver(run, ev);
    case DES_EV_START:
        return node_start(run, &run->nodes[ev->node], err, errlen);
    case DES_EV_KILL:
        node_down(run, &run->nodes[ev->node], SIM_DOWN_KILLED, ev->arg == 0);
        return run->failed ? -1 : 0;
    case DES_EV_WRITE:
        return handle_write(run, ev);
    case DES_EV_CHECK:
        run->settle_checked = 1;
        run->result.settle_check_ok = sim_check_invariant(run, "settle") == 0;
        return 0;
    case DES_EV_STALL:
        return handle_stall(run, ev);
    case DES_EV_STALL_END:
        return handle_stall_end(run, ev);
    case DES_EV_LEAVE:
        return handle_leave(run, ev, err, errlen);
    case DES_EV_SPLIT_CHECK:
        sim_fd_split_check(run, (uint32_t)ev->arg);
        return 0;
    default:
        return -1;
    }
}

int sim_run_until(struct sim_run *run, uint64_t virtual_ms, char *err, size_t errlen)
{
    uint64_t limit_us = virtual_ms * US_PER_MS;
    if (virtual_ms > run->end_us / US_PER_MS)
        limit_us = run->end_us;
    const struct des_event *next;
    while ((next = des_queue_peek(&run->queue)) && next->time_us <= limit_us) {
        struct des_event ev;
        des_queue_pop(&run->queue, &ev);
        run->now_us = ev.time_us;
        run->result.events++;
        if (handle_event(run, &ev, err, errlen) != 0 || run->failed) {
            if (err && errlen && !err[0])
                set_error(err, errlen, "simulator out of memory");
            return -1;
        }
    }
    if (limit_us > run->now_us)
        run->now_us = limit_us;
    return 0;
}

/* ---- setup ---------------------------------------------------------------- */

static int push_event(struct sim_run *run, uint64_t time_us, enum des_event_kind kind,
                      uint32_t node, uint64_t arg)
{
    struct des_event ev = {.time_us = time_us, .kind = kind, .node = node, .arg = arg};
    return des_queue_push(&run->queue, ev);
}

static int64_t draw_range(struct des_rng *rng, int64_t min, int64_t max)
{
    return min + (int64_t)des_rng_below(rng, (uint64_t)(max - min) + 1);
}

static int is_seed(const struct scenario *s, uint32_t node)
{
    for (uint32_t i = 0; i < s->seed_count; i++)
        if (s->seeds[i] == node)
            return 1;
    return 0;
}

/* Names, clocks and start events of all nodes, in index order.  The start
 * time is drawn for every node even when seeds_first overrides it, so the
 * flag does not shift the other draws. */
static int setup_nodes(struct sim_run *run)
{
    const struct scenario *s = run->scn;
    struct des_rng setup = des_rng_make(run->seed, SIM_STREAM_SETUP);
    for (uint32_t i = 0; i < s->nodes; i++) {
        struct sim_node *node = &run->nodes[i];
        node->run = run;
        node->index = i;
        node->tick_due_us = UINT64_MAX;
        node->pending_writes = SIM_NO_WRITE;
        node->detection = SIM_NO_DETECTION;
        snprintf(node->name, sizeof node->name, "n%u", i);
        node->clock.drift_ppm = draw_range(&setup, s->drift_ppm_min, s->drift_ppm_max);
        node->clock.offset_us = (uint64_t)draw_range(&setup, (int64_t)s->offset_ms_min,
                                                     (int64_t)s->offset_ms_max) * US_PER_MS;
        uint64_t start_us = s->start_spread_ms
                                ? des_rng_below(&setup, s->start_spread_ms * US_PER_MS)
                                : 0;
        if (s->seeds_first && is_seed(s, i))
            start_us = 0;
        if (push_event(run, start_us, DES_EV_START, i, 0) != 0)
            return -1;
    }
    return 0;
}

/* Kills carry arg 1 when a restart is planned (their detection is not
 * measured).  A split check is due at each partition end, before anything
 * else at that time (its sequence number is lower). */
static int setup_faults(struct sim_run *run)
{
    const struct scenario *s = run->scn;
    const struct sim_plan *plan = &run->plan;
    for (uint32_t i = 0; i < plan->kill_count; i++) {
        const struct scn_kill *k = &plan->kills[i];
        int restarts = k->restart_at_ms != SCN_NEVER;
        if (push_event(run, k->at_ms * US_PER_MS, DES_EV_KILL, k->node, (uint64_t)restarts) != 0)
            return -1;
        if (restarts &&
            push_event(run, k->restart_at_ms * US_PER_MS, DES_EV_START, k->node, 0) != 0)
            return -1;
    }
    for (uint32_t i = 0; i < plan->stall_count; i++) {
        const struct scn_stall *st = &plan->stalls[i];
        if (push_event(run, st->at_ms * US_PER_MS, DES_EV_STALL, st->node,
                       st->duration_ms * US_PER_MS) != 0)
            return -1;
    }
    for (uint32_t i = 0; i < plan->leave_count; i++)
        if (push_event(run, plan->leaves[i].at_ms * US_PER_MS, DES_EV_LEAVE,
                       plan->leaves[i].node, 0) != 0)
            return -1;
    for (uint32_t i = 0; i < s->partition_count && run->fd.probing; i++)
        if (push_event(run, s->partitions[i].end_ms * US_PER_MS, DES_EV_SPLIT_CHECK, 0, i) != 0)
            return -1;
    for (uint32_t i = 0; i < s->write_count; i++)
        if (push_event(run, s->writes[i].at_ms * US_PER_MS, DES_EV_WRITE, 0, i) != 0)
            return -1;
    return push_event(run, run->check_at_us, DES_EV_CHECK, 0, 0);
}

/* The settle check: settle_ms after the last fault the plan really has. */
static int set_check_time(struct sim_run *run)
{
    run->check_at_us = (sim_plan_last_fault_ms(&run->plan, run->scn) + run->scn->settle_ms) *
                       US_PER_MS;
    run->result.check_at_ms = run->check_at_us / US_PER_MS;
    return 0;
}

struct sim_run *sim_run_new(const struct scenario *s, uint64_t seed, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (scenario_validate(s, err, errlen) != 0)
        return NULL;
    struct sim_run *run = calloc(1, sizeof *run);
    if (!run) {
        set_error(err, errlen, "out of memory");
        return NULL;
    }
    run->scn = s;
    run->seed = seed;
    run->end_us = s->duration_ms * US_PER_MS;
    run->net_rng = des_rng_make(seed, SIM_STREAM_NETWORK);
    run->write_rng = des_rng_make(seed, SIM_STREAM_WRITES);
    run->result.seed = seed;
    run->result.nodes = s->nodes;
    des_queue_init(&run->queue);
    des_pool_init(&run->pool, s->mtu);
    run->nodes = calloc(s->nodes, sizeof *run->nodes);
    run->active_partitions = calloc(s->partition_count + 1, sizeof *run->active_partitions);
    if (!run->nodes || !run->active_partitions || sim_writes_init(run) != 0 ||
        sim_fd_init(run) != 0 || sim_plan_build(&run->plan, s, seed) != 0 ||
        set_check_time(run) != 0 || setup_nodes(run) != 0 || setup_faults(run) != 0) {
        set_error(err, errlen, "out of memory");
        sim_run_free(run);
        return NULL;
    }
    refresh_partitions(run);
    return run;
}

void sim_run_free(struct sim_run *run)
{
    if (!run)
        return;
    if (run->nodes)
        for (uint32_t i = 0; i < run->scn->nodes; i++)
            gossip_node_free(run->nodes[i].engine);
    sim_writes_free(run);
    sim_fd_free(run);
    sim_plan_free(&run->plan);
    des_queue_free(&run->queue);
    des_pool_free(&run->pool);
    free(run->nodes);
    free(run->active_partitions);
    free(run);
}

gossip_node *sim_run_engine(const struct sim_run *run, uint32_t index)
{
    return index < run->scn->nodes ? run->nodes[index].engine : NULL;
}

const char *sim_run_node_name(const struct sim_run *run, uint32_t index)
{
    return index < run->scn->nodes ? run->nodes[index].name : NULL;
}

/* ---- results ---------------------------------------------------------------- */

static void summarise_traffic(struct sim_run *run, struct sim_result *r)
{
    uint64_t up_us = 0;
    for (uint32_t i = 0; i < run->scn->nodes; i++) {
        const struct sim_node *node = &run->nodes[i];
        up_us += node->up_total_us;
        if (node->engine)
            up_us += run->now_us - node->up_since_us;
    }
    double node_seconds = (double)up_us / 1e6;
    r->packets_per_node_per_sec = node_seconds > 0 ? (double)r->packets_sent / node_seconds : 0;
    r->bytes_per_node_per_sec = node_seconds > 0 ? (double)r->bytes_sent / node_seconds : 0;
}

int sim_run_finish(struct sim_run *run, struct sim_result *out, char *err, size_t errlen)
{
    if (sim_run_until(run, run->end_us / US_PER_MS, err, errlen) != 0)
        return -1;
    run->now_us = run->end_us;
    struct sim_result *r = &run->result;
    if (!run->settle_checked)
        r->settle_check_ok = sim_check_invariant(run, "settle") == 0;
    r->end_check_ok = sim_check_invariant(run, "end") == 0;
    r->invariant_ok = r->settle_check_ok && r->end_check_ok && r->safety_violations == 0 &&
                      r->false_dead == 0 && r->left_marked_dead == 0;
    r->live_nodes = run->live_count;
    r->virtual_ms = run->now_us / US_PER_MS;
    r->peak_queue = run->queue.peak;
    summarise_traffic(run, r);
    sim_writes_summarise(run, r);
    sim_fd_summarise(run, r);
    *out = *r;
    return 0;
}

int sim_run_scenario(const struct scenario *s, uint64_t seed, struct sim_result *out,
                     char *err, size_t errlen)
{
    struct sim_run *run = sim_run_new(s, seed, err, errlen);
    if (!run)
        return -1;
    int rc = sim_run_finish(run, out, err, errlen);
    sim_run_free(run);
    return rc;
}
