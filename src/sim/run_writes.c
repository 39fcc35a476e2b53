/* run_writes.c -- how long a write takes to reach every live node.
 *
 * A write is complete the first moment every live node holds the writer's
 * key at the write's version or newer (same generation).  Holding is learnt
 * from the engine's on_change callback: GOSSIP_CHANGE_STATE carries the key
 * and version directly; a JOIN or RESTART (a whole endpoint learnt at once)
 * is followed up with gossip_node_get_state after the engine call returns.
 * A node that goes down forgets everything, so its bits are cleared; a
 * writer that goes down abandons its pending writes (its next generation
 * starts from scratch). */
#include "sim/run_internal.h"

#include <stdlib.h>
#include <string.h>

/* "node": "random" tries this many uniform draws for a live node before
 * falling back to a scan from a random start (many nodes down). */
#define SIM_RANDOM_PICK_ATTEMPTS 64
#define SIM_DEFERRED_INITIAL 64u

int sim_writes_init(struct sim_run *run)
{
    uint32_t count = run->scn->write_count;
    run->writes = calloc(count ? count : 1, sizeof *run->writes);
    run->bitmap_words = (run->scn->nodes + 63) / 64;
    return run->writes ? 0 : -1;
}

void sim_writes_free(struct sim_run *run)
{
    if (run->writes)
        for (uint32_t i = 0; i < run->write_count; i++)
            free(run->writes[i].held);
    free(run->writes);
    free(run->deferred);
    run->writes = NULL;
    run->deferred = NULL;
}

static void write_settle(struct sim_run *run, struct sim_write *w, enum sim_write_state state)
{
    w->state = state;
    w->done_us = run->now_us;
    free(w->held);
    w->held = NULL;
}

static void advance_oldest_pending(struct sim_run *run)
{
    while (run->oldest_pending < run->write_count &&
           run->writes[run->oldest_pending].state != SIM_WRITE_PENDING)
        run->oldest_pending++;
}

static void write_mark_held(struct sim_run *run, struct sim_write *w, uint32_t node)
{
    if (w->state != SIM_WRITE_PENDING)
        return;
    uint64_t bit = 1ull << (node % 64);
    if (w->held[node / 64] & bit)
        return;
    w->held[node / 64] |= bit;
    w->holders++;
    if (w->holders >= run->live_count) {
        write_settle(run, w, SIM_WRITE_COMPLETE);
        advance_oldest_pending(run);
    }
}

static int32_t pick_random_live(struct sim_run *run)
{
    uint32_t n = run->scn->nodes;
    if (run->live_count == 0)
        return -1;
    for (int attempt = 0; attempt < SIM_RANDOM_PICK_ATTEMPTS; attempt++) {
        uint32_t i = (uint32_t)des_rng_below(&run->write_rng, n);
        if (run->nodes[i].engine)
            return (int32_t)i;
    }
    uint32_t start = (uint32_t)des_rng_below(&run->write_rng, n);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (start + k) % n;
        if (run->nodes[i].engine)
            return (int32_t)i;
    }
    return -1;
}

/* Returns the writer's index, -1 if the write was skipped, -2 on no memory. */
int sim_write_issue(struct sim_run *run, uint32_t index)
{
    const struct scn_write *spec = &run->scn->writes[index];
    int32_t writer = spec->node == SCN_NODE_RANDOM ? pick_random_live(run) : spec->node;
    struct sim_node *node = writer >= 0 ? &run->nodes[writer] : NULL;
    uint64_t version = 0;
    const uint8_t *value;
    size_t len;
    if (!node || !node->engine ||
        gossip_node_set_state(node->engine, spec->key, (const uint8_t *)spec->value,
                              spec->value_len) != GOSSIP_OK ||
        gossip_node_get_state(node->engine, NULL, spec->key, &value, &len, &version) !=
            GOSSIP_OK) {
        run->result.writes_skipped++;
        return -1;
    }
    struct sim_write *w = &run->writes[run->write_count];
    memset(w, 0, sizeof *w);
    w->held = calloc(run->bitmap_words, sizeof *w->held);
    if (!w->held)
        return -2;
    run->write_count++;
    w->key = spec->key;
    w->writer = (uint32_t)writer;
    w->generation = node->generation;
    w->version = version;
    w->at_us = run->now_us;
    w->state = SIM_WRITE_PENDING;
    w->next_pending = node->pending_writes;
    node->pending_writes = (int32_t)(w - run->writes);
    write_mark_held(run, w, (uint32_t)writer);
    return writer;
}

/* The next pending write of a writer's list, unlinking settled ones. */
static struct sim_write *next_pending(struct sim_run *run, int32_t **link)
{
    while (**link != SIM_NO_WRITE) {
        struct sim_write *w = &run->writes[**link];
        if (w->state == SIM_WRITE_PENDING) {
            *link = &w->next_pending;
            return w;
        }
        **link = w->next_pending;
    }
    return NULL;
}

static void defer_check(struct sim_run *run, uint32_t observer, uint32_t subject)
{
    if (run->deferred_count == run->deferred_capacity) {
        uint32_t capacity = run->deferred_capacity ? run->deferred_capacity * 2
                                                   : SIM_DEFERRED_INITIAL;
        struct sim_deferred *d = realloc(run->deferred, capacity * sizeof *d);
        if (!d) {
            run->failed = 1;
            return;
        }
        run->deferred = d;
        run->deferred_capacity = capacity;
    }
    run->deferred[run->deferred_count++] = (struct sim_deferred){observer, subject};
}

void sim_writes_on_change(struct sim_node *observer, const gossip_change *change)
{
    struct sim_run *run = observer->run;
    /* Most changes (membership churn) arrive with no write in flight. */
    if (run->oldest_pending == run->write_count)
        return;
    int32_t subject = sim_node_index_of(run, change->name);
    if (subject < 0 || run->nodes[subject].pending_writes == SIM_NO_WRITE)
        return;
    if (change->kind != GOSSIP_CHANGE_STATE) {
        defer_check(run, observer->index, (uint32_t)subject);
        return;
    }
    if (!change->key)
        return;
    int32_t *link = &run->nodes[subject].pending_writes;
    struct sim_write *w;
    while ((w = next_pending(run, &link))) {
        if (w->generation == change->generation && w->version <= change->version &&
            strcmp(w->key, change->key) == 0)
            write_mark_held(run, w, observer->index);
    }
}

static void check_deferred(struct sim_run *run, const struct sim_deferred *d)
{
    gossip_node *engine = run->nodes[d->observer].engine;
    const char *name = run->nodes[d->subject].name;
    gossip_member_info info;
    if (!engine || gossip_node_member_find(engine, name, &info) != GOSSIP_OK)
        return;
    int32_t *link = &run->nodes[d->subject].pending_writes;
    struct sim_write *w;
    while ((w = next_pending(run, &link))) {
        const uint8_t *value;
        size_t len;
        uint64_t version;
        if (info.generation == w->generation &&
            gossip_node_get_state(engine, name, w->key, &value, &len, &version) == GOSSIP_OK &&
            version >= w->version)
            write_mark_held(run, w, d->observer);
    }
}

void sim_writes_run_deferred(struct sim_run *run)
{
    for (uint32_t i = 0; i < run->deferred_count; i++)
        check_deferred(run, &run->deferred[i]);
    run->deferred_count = 0;
}

void sim_writes_on_kill(struct sim_run *run, uint32_t node)
{
    int32_t *head = &run->nodes[node].pending_writes;
    int32_t *link = head;
    struct sim_write *w;
    while ((w = next_pending(run, &link)))
        write_settle(run, w, SIM_WRITE_ABANDONED);
    *head = SIM_NO_WRITE;
    uint64_t bit = 1ull << (node % 64);
    for (uint32_t i = run->oldest_pending; i < run->write_count; i++) {
        w = &run->writes[i];
        if (w->state != SIM_WRITE_PENDING)
            continue;
        if (w->held[node / 64] & bit) {
            w->held[node / 64] &= ~bit;
            w->holders--;
        }
        /* One node fewer to reach: the survivors may all hold it now. */
        if (run->live_count > 0 && w->holders >= run->live_count)
            write_settle(run, w, SIM_WRITE_COMPLETE);
    }
    advance_oldest_pending(run);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted[0..n-1], n >= 1: the value at rank
 * ceil(n * percent / 100), in integers so that 99 % of 100 is exactly 99. */
static double percentile(const double *sorted, size_t n, unsigned percent)
{
    size_t rank = (n * percent + 99) / 100;
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

void sim_writes_summarise(struct sim_run *run, struct sim_result *r)
{
    r->writes = run->write_count;
    r->writes_complete = 0;
    r->writes_abandoned = 0;
    double *latency_ms = malloc((run->write_count ? run->write_count : 1) * sizeof *latency_ms);
    for (uint32_t i = 0; i < run->write_count; i++) {
        const struct sim_write *w = &run->writes[i];
        if (w->state == SIM_WRITE_ABANDONED)
            r->writes_abandoned++;
        if (w->state == SIM_WRITE_COMPLETE && latency_ms)
            latency_ms[r->writes_complete++] = (double)(w->done_us - w->at_us) / 1000.0;
    }
    r->write_p50_ms = r->write_p99_ms = r->write_max_ms = 0;
    if (latency_ms && r->writes_complete > 0) {
        qsort(latency_ms, r->writes_complete, sizeof *latency_ms, compare_double);
        r->write_p50_ms = percentile(latency_ms, r->writes_complete, 50);
        r->write_p99_ms = percentile(latency_ms, r->writes_complete, 99);
        r->write_max_ms = latency_ms[r->writes_complete - 1];
    }
    free(latency_ms);
}
