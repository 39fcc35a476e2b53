/* run_fd.c -- what failure detection achieved in a run.
 *
 * Detection: a node killed for good is detected the first moment every
 * live node holds it DEAD or does not know it (reaped, or never learnt).
 * Which nodes hold it is followed through on_change: any change about the
 * subject queues a re-read of (observer, subject) with
 * gossip_node_member_find once the engine call has returned (a callback
 * must not call back into the node).
 *
 * False deaths: every GOSSIP_CHANGE_DEAD is judged against the truth.  A
 * DEAD about the incarnation that is up right now (a stalled node is up) is
 * false -- unless a partition explains it (partition_dead: the two are
 * split, or the subject was cut off and the split healed recently), or the subject is leaving or has left
 * (left_marked_dead, which must stay 0 too).
 *
 * SWIM counters (suspicions, refutations, probes ...) are summed over every
 * engine of the run, including the ones already freed. */
#include "sim/run_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* After a partition ends, a DEAD about a node of the other side is still
 * blamed on it for the longest suspicion timeout plus this many probe
 * intervals (suspicions started in the split run out after the heal). */
#define SIM_PARTITION_GRACE_PROBES 10u
/* A live node may be SUSPECT at a check (under loss, probes fail and
 * suspicions are refuted all the time) while its suspicion is younger than
 * the longest suspicion timeout plus this many probe intervals: older, the
 * suspicion is stuck -- neither refuted nor confirmed. */
#define SIM_SUSPECT_SLACK_PROBES 2u
/* memberlist's LAN defaults: SuspicionMult = 4, timeout = mult x
 * max(1, log10 N) x ProbeInterval (memberlist/util.go suspicionTimeout). */
#define SIM_MEMBERLIST_SUSPICION_MULT 4.0
/* First size of the detection and deferred-reread arrays; they double. */
#define SIM_FD_INITIAL_CAPACITY 16u

static double log10_at_least_1(uint32_t n)
{
    double l = log10((double)n);
    return l > 1.0 ? l : 1.0;
}

double sim_fd_min_suspicion_ms(const struct scenario *s)
{
    gossip_config cfg;
    scenario_engine_config(s, &cfg);
    double min = (double)cfg.suspicion_min_mult * log10_at_least_1(s->nodes) *
                 cfg.probe_interval_ms;
    double floor = (double)SIM_SUSPICION_FLOOR_PROBES * cfg.probe_interval_ms;
    return min > floor ? min : floor;
}

double sim_fd_max_suspicion_ms(const struct scenario *s)
{
    gossip_config cfg;
    scenario_engine_config(s, &cfg);
    return cfg.suspicion_max_mult * sim_fd_min_suspicion_ms(s);
}

int sim_fd_init(struct sim_run *run)
{
    gossip_config cfg;
    scenario_engine_config(run->scn, &cfg);
    struct sim_fd *fd = &run->fd;
    fd->probing = cfg.probe_interval_ms > 0;
    fd->probe_interval_ms = cfg.probe_interval_ms;
    double max_suspicion_ms = sim_fd_max_suspicion_ms(run->scn);
    fd->partition_grace_us =
        (uint64_t)(max_suspicion_ms * US_PER_MS) +
        (uint64_t)SIM_PARTITION_GRACE_PROBES * cfg.probe_interval_ms * US_PER_MS;
    fd->suspect_limit_ms = (uint64_t)max_suspicion_ms +
                           (uint64_t)SIM_SUSPECT_SLACK_PROBES * cfg.probe_interval_ms;
    run->result.split_dead_fraction = -1.0;
    return 0;
}

void sim_fd_free(struct sim_run *run)
{
    struct sim_fd *fd = &run->fd;
    for (uint32_t i = 0; i < fd->detection_count; i++)
        free(fd->detections[i].held);
    free(fd->detections);
    free(fd->deferred);
    memset(fd, 0, sizeof *fd);
}

/* Records the first violation (with the time); later ones only count. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void fd_violation(struct sim_run *run, const char *fmt, ...)
{
    struct sim_result *r = &run->result;
    if (r->violation[0])
        return;
    int n = snprintf(r->violation, sizeof r->violation, "at t=%llu ms: ",
                     (unsigned long long)(run->now_us / US_PER_MS));
    if (n >= 0 && (size_t)n < sizeof r->violation) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->violation + n, sizeof r->violation - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

/* ---- detection ------------------------------------------------------------ */

/* Whether `observer` holds `subject` dead or does not know it. */
static int holds_dead(const struct sim_run *run, uint32_t observer, uint32_t subject)
{
    gossip_member_info info;
    memset(&info, 0, sizeof info);
    if (gossip_node_member_find(run->nodes[observer].engine, run->nodes[subject].name,
                                &info) != GOSSIP_OK)
        return 1;
    return info.status == GOSSIP_STATUS_DEAD;
}

static void detection_settle(struct sim_run *run, struct sim_detection *d,
                             enum sim_detection_state state)
{
    d->state = state;
    d->done_us = run->now_us;
    free(d->held);
    d->held = NULL;
    run->nodes[d->subject].detection = SIM_NO_DETECTION;
}

static void detection_check_done(struct sim_run *run, struct sim_detection *d)
{
    if (d->state == SIM_DETECTION_PENDING && d->holders >= run->live_count)
        detection_settle(run, d, SIM_DETECTION_COMPLETE);
}

static void detection_set(struct sim_detection *d, uint32_t observer, int holds)
{
    uint64_t bit = 1ull << (observer % 64);
    int had = (d->held[observer / 64] & bit) != 0;
    if (holds && !had) {
        d->held[observer / 64] |= bit;
        d->holders++;
        d->last_observer = observer;
    } else if (!holds && had) {
        d->held[observer / 64] &= ~bit;
        d->holders--;
    }
}

static int detection_start(struct sim_run *run, uint32_t subject)
{
    struct sim_fd *fd = &run->fd;
    if (fd->detection_count == fd->detection_capacity) {
        uint32_t capacity = fd->detection_capacity ? fd->detection_capacity * 2
                                                   : SIM_FD_INITIAL_CAPACITY;
        struct sim_detection *d = realloc(fd->detections, capacity * sizeof *d);
        if (!d)
            return -1;
        fd->detections = d;
        fd->detection_capacity = capacity;
    }
    struct sim_detection *d = &fd->detections[fd->detection_count];
    memset(d, 0, sizeof *d);
    d->held = calloc(run->bitmap_words, sizeof *d->held);
    if (!d->held)
        return -1;
    d->subject = subject;
    d->killed_us = run->now_us;
    d->state = SIM_DETECTION_PENDING;
    run->nodes[subject].detection = (int32_t)fd->detection_count++;
    for (uint32_t i = 0; i < run->scn->nodes; i++)
        if (run->nodes[i].engine)
            detection_set(d, i, holds_dead(run, i, subject));
    detection_check_done(run, d);
    return 0;
}

void sim_fd_on_down(struct sim_run *run, uint32_t node, int permanent)
{
    struct sim_fd *fd = &run->fd;
    /* One observer fewer: the others may all hold their subjects now. */
    for (uint32_t i = 0; i < fd->detection_count; i++) {
        struct sim_detection *d = &fd->detections[i];
        if (d->state != SIM_DETECTION_PENDING)
            continue;
        detection_set(d, node, 0);
        d->last_observer = node;
        detection_check_done(run, d);
    }
    if (permanent && fd->probing && detection_start(run, node) != 0)
        run->failed = 1;
}

void sim_fd_on_start(struct sim_run *run, uint32_t node)
{
    struct sim_fd *fd = &run->fd;
    int32_t own = run->nodes[node].detection;
    if (own != SIM_NO_DETECTION)
        detection_settle(run, &fd->detections[own], SIM_DETECTION_ABANDONED);
    for (uint32_t i = 0; i < fd->detection_count; i++) {
        struct sim_detection *d = &fd->detections[i];
        if (d->state != SIM_DETECTION_PENDING)
            continue;
        detection_set(d, node, holds_dead(run, node, d->subject));
        detection_check_done(run, d);
    }
}

static void defer_reread(struct sim_run *run, uint32_t observer, uint32_t subject)
{
    struct sim_fd *fd = &run->fd;
    if (fd->deferred_count == fd->deferred_capacity) {
        uint32_t capacity = fd->deferred_capacity ? fd->deferred_capacity * 2
                                                  : SIM_FD_INITIAL_CAPACITY;
        struct sim_deferred *d = realloc(fd->deferred, capacity * sizeof *d);
        if (!d) {
            run->failed = 1;
            return;
        }
        fd->deferred = d;
        fd->deferred_capacity = capacity;
    }
    fd->deferred[fd->deferred_count++] = (struct sim_deferred){observer, subject};
}

void sim_fd_run_deferred(struct sim_run *run)
{
    struct sim_fd *fd = &run->fd;
    for (uint32_t i = 0; i < fd->deferred_count; i++) {
        const struct sim_deferred *q = &fd->deferred[i];
        int32_t index = run->nodes[q->subject].detection;
        if (index == SIM_NO_DETECTION || !run->nodes[q->observer].engine)
            continue;
        struct sim_detection *d = &fd->detections[index];
        detection_set(d, q->observer, holds_dead(run, q->observer, q->subject));
        detection_check_done(run, d);
    }
    fd->deferred_count = 0;
}

/* ---- judging DEAD ------------------------------------------------------- */

static void judge_dead(struct sim_node *observer, const struct sim_node *subject,
                       const gossip_change *change)
{
    struct sim_run *run = observer->run;
    struct sim_result *r = &run->result;
    int current = change->generation >= subject->generation;
    if (current && (subject->leaving || subject->down_reason == SIM_DOWN_LEFT)) {
        r->left_marked_dead++;
        fd_violation(run, "%s marked %s dead, which left gracefully", observer->name,
                     subject->name);
        return;
    }
    /* Down, or an older incarnation: the death is real. */
    if (!subject->engine || !current)
        return;
    if (sim_partition_explains_dead(run, observer->index, subject->index,
                                    run->fd.partition_grace_us)) {
        r->partition_dead++;
        return;
    }
    r->false_dead++;
    fd_violation(run, "false dead: %s marked %s (generation %llu, incarnation %llu) dead "
                 "while it is up%s",
                 observer->name, subject->name, (unsigned long long)change->generation,
                 (unsigned long long)change->incarnation,
                 subject->stalled_until_us > run->now_us ? " (stalled)" : "");
}

void sim_fd_on_change(struct sim_node *observer, const gossip_change *change)
{
    struct sim_run *run = observer->run;
    int32_t index = sim_node_index_of(run, change->name);
    if (index < 0 || (uint32_t)index == observer->index)
        return;
    const struct sim_node *subject = &run->nodes[index];
    if (change->kind == GOSSIP_CHANGE_DEAD)
        judge_dead(observer, subject, change);
    if (subject->detection != SIM_NO_DETECTION)
        defer_reread(run, observer->index, (uint32_t)index);
}

/* ---- partitions ------------------------------------------------------------ */

/* Names the first cross-side pair not held dead, for the report. */
static void note_split_holdout(struct sim_run *run, const int32_t *group_of, int all_observe)
{
    for (uint32_t o = 0; o < run->scn->nodes; o++) {
        if (!run->nodes[o].engine || group_of[o] < 0)
            continue;
        for (uint32_t s = 0; s < run->scn->nodes; s++) {
            if (!run->nodes[s].engine || group_of[s] < 0 || group_of[s] == group_of[o] ||
                holds_dead(run, o, s))
                continue;
            gossip_member_info info;
            memset(&info, 0, sizeof info);
            gossip_node_member_find(run->nodes[o].engine, run->nodes[s].name, &info);
            snprintf(run->result.split_holdout, sizeof run->result.split_holdout,
                     "at %llu ms %s holds %s %s (incarnation %llu)",
                     (unsigned long long)(run->now_us / US_PER_MS), run->nodes[o].name,
                     run->nodes[s].name,
                     info.status == GOSSIP_STATUS_SUSPECT ? "suspect"
                     : info.status == GOSSIP_STATUS_ALIVE ? "alive"
                                                          : "left",
                     (unsigned long long)info.incarnation);
            return;
        }
        if (!all_observe)
            return;
    }
}

/* Up to SIM_PAIRWISE_CHECK_MAX_NODES live nodes every live node observes;
 * beyond, the first live node of each group does. */
void sim_fd_split_check(struct sim_run *run, uint32_t index)
{
    const int32_t *group_of = run->scn->partitions[index].group_of;
    int all_observe = run->live_count <= SIM_PAIRWISE_CHECK_MAX_NODES;
    int32_t observed_group[SCN_MAX_GROUPS];
    memset(observed_group, 0, sizeof observed_group);
    uint64_t pairs = 0, dead = 0;
    for (uint32_t o = 0; o < run->scn->nodes; o++) {
        if (!run->nodes[o].engine || group_of[o] < 0)
            continue;
        if (!all_observe && observed_group[group_of[o]]++)
            continue;
        for (uint32_t s = 0; s < run->scn->nodes; s++) {
            if (!run->nodes[s].engine || group_of[s] < 0 || group_of[s] == group_of[o])
                continue;
            pairs++;
            dead += (uint64_t)holds_dead(run, o, s);
        }
    }
    double fraction = pairs ? (double)dead / (double)pairs : 1.0;
    if (dead < pairs && !run->result.split_holdout[0])
        note_split_holdout(run, group_of, all_observe);
    struct sim_result *r = &run->result;
    if (r->split_dead_fraction < 0 || fraction < r->split_dead_fraction)
        r->split_dead_fraction = fraction;
}

/* ---- counters and summary --------------------------------------------------- */

static void add_stats(struct sim_result *r, const gossip_stats *st)
{
    r->suspicions += st->suspicions;
    r->refuted_suspicions += st->refutations;
    r->probes += st->probes;
    r->probes_failed += st->probes_failed;
    r->indirect_probes += st->indirect_probes;
    r->declared_dead += st->declared_dead;
}

void sim_fd_keep_stats(struct sim_run *run, const gossip_node *engine)
{
    gossip_stats st;
    memset(&st, 0, sizeof st);
    gossip_node_get_stats(engine, &st);
    add_stats(&run->result, &st);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank, as for writes: rank ceil(n * percent / 100). */
static double percentile(const double *sorted, size_t n, unsigned percent)
{
    size_t rank = (n * percent + 99) / 100;
    return sorted[(rank < 1 ? 1 : rank) - 1];
}

static void note_slowest(struct sim_run *run, struct sim_result *r)
{
    const struct sim_detection *slowest = NULL;
    for (uint32_t i = 0; i < run->fd.detection_count; i++) {
        const struct sim_detection *d = &run->fd.detections[i];
        if (d->state == SIM_DETECTION_COMPLETE &&
            (!slowest || d->done_us - d->killed_us > slowest->done_us - slowest->killed_us))
            slowest = d;
    }
    if (slowest)
        snprintf(r->slowest_detection, sizeof r->slowest_detection,
                 "%s killed at %llu ms, seen dead by all %.0f ms later, last by %s",
                 run->nodes[slowest->subject].name,
                 (unsigned long long)(slowest->killed_us / US_PER_MS),
                 (double)(slowest->done_us - slowest->killed_us) / US_PER_MS,
                 run->nodes[slowest->last_observer].name);
}

static void summarise_detections(struct sim_run *run, struct sim_result *r)
{
    struct sim_fd *fd = &run->fd;
    note_slowest(run, r);
    double *ms = malloc((fd->detection_count ? fd->detection_count : 1) * sizeof *ms);
    r->detections = r->kills_undetected = 0;
    for (uint32_t i = 0; i < fd->detection_count && ms; i++) {
        const struct sim_detection *d = &fd->detections[i];
        if (d->state == SIM_DETECTION_COMPLETE)
            ms[r->detections++] = (double)(d->done_us - d->killed_us) / US_PER_MS;
        else if (d->state == SIM_DETECTION_PENDING)
            r->kills_undetected++;
    }
    r->detection_p50_ms = r->detection_p99_ms = r->detection_max_ms = 0;
    if (ms && r->detections > 0) {
        qsort(ms, r->detections, sizeof *ms, compare_double);
        r->detection_p50_ms = percentile(ms, r->detections, 50);
        r->detection_p99_ms = percentile(ms, r->detections, 99);
        r->detection_max_ms = ms[r->detections - 1];
    }
    free(ms);
}

void sim_fd_summarise(struct sim_run *run, struct sim_result *r)
{
    for (uint32_t i = 0; i < run->scn->nodes; i++)
        if (run->nodes[i].engine)
            sim_fd_keep_stats(run, run->nodes[i].engine);
    summarise_detections(run, r);
    r->probe_interval_ms = run->fd.probe_interval_ms;
    r->memberlist_suspicion_ms = SIM_MEMBERLIST_SUSPICION_MULT *
                                 log10_at_least_1(run->scn->nodes) * run->fd.probe_interval_ms;
    r->detection_ratio_vs_memberlist =
        r->memberlist_suspicion_ms > 0 ? r->detection_p50_ms / r->memberlist_suspicion_ms : 0;
}
