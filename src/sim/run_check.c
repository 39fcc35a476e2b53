/* run_check.c -- the convergence invariant.
 *
 * Once the faults are over and settle_ms has passed, every live node must
 * hold the latest endpoint state of every live node: for each (observer,
 * subject) pair, gossip_node_member_find(observer, subject) reports the
 * subject's own (generation, max_version), and all live nodes agree on a
 * state hash over (name, generation, max_version) of every member they
 * know, down ones too (not gossip_node_table_hash, which also covers
 * membership records: those legitimately differ for a moment under loss).
 *
 * With heartbeat_bump every node bumps its version every period, so the
 * table never stands still; then the check compares generations and the
 * versions of the keys the scenario writes, and skips the table hash.
 *
 * Failure detection: every live node must also hold every live node
 * ALIVE (gossip_member_info.status) -- or SUSPECT for less than the longest
 * suspicion timeout (fd.suspect_limit_ms: under loss live nodes are
 * suspected and refute all the time); with probing on, a node killed and
 * not restarted must be DEAD or forgotten everywhere, and a node that left
 * gracefully LEFT or forgotten everywhere.
 *
 * A safety check runs on every change an engine reports, at every step:
 * nothing may be learnt that its owner never had -- no generation above
 * the owner's current one, no key version above the owner's own. */
#include "sim/run_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Distinct keys compared per pair when heartbeat_bump is on. */
#define SIM_MAX_CHECKED_KEYS 16u

struct check_ctx {
    struct sim_run *run;
    const char *when;
    uint32_t *live;              /* indices of live nodes */
    uint32_t live_count;
    uint32_t *down;              /* indices of nodes killed or left */
    uint32_t down_count;
    gossip_member_info *self;    /* self view, indexed by node index */
    const char *keys[SIM_MAX_CHECKED_KEYS];
    uint32_t key_count;
};

/* Our own names: gossip_status_name is the engine's, and the simulator
 * must also describe a status value the engine never should produce. */
static const char *status_name(enum gossip_member_status status)
{
    switch (status) {
    case GOSSIP_STATUS_ALIVE: return "alive";
    case GOSSIP_STATUS_SUSPECT: return "suspect";
    case GOSSIP_STATUS_DEAD: return "dead";
    case GOSSIP_STATUS_LEFT: return "left";
    }
    return "an unknown status";
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int violation(struct check_ctx *ctx, const char *fmt, ...)
{
    struct sim_result *r = &ctx->run->result;
    if (r->violation[0])
        return -1;
    int n = snprintf(r->violation, sizeof r->violation, "at %s (t=%llu ms): ", ctx->when,
                     (unsigned long long)(ctx->run->now_us / 1000));
    if (n >= 0 && (size_t)n < sizeof r->violation) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->violation + n, sizeof r->violation - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void collect_written_keys(struct check_ctx *ctx)
{
    const struct scenario *s = ctx->run->scn;
    for (uint32_t i = 0; i < s->write_count && ctx->key_count < SIM_MAX_CHECKED_KEYS; i++) {
        int seen = 0;
        for (uint32_t k = 0; k < ctx->key_count && !seen; k++)
            seen = strcmp(ctx->keys[k], s->writes[i].key) == 0;
        if (!seen)
            ctx->keys[ctx->key_count++] = s->writes[i].key;
    }
}

/* Same version of every written key (or both without it). */
static int compare_keys(struct check_ctx *ctx, uint32_t observer, uint32_t subject)
{
    const struct sim_node *obs = &ctx->run->nodes[observer];
    const struct sim_node *sub = &ctx->run->nodes[subject];
    for (uint32_t k = 0; k < ctx->key_count; k++) {
        const uint8_t *value;
        size_t len;
        uint64_t want = 0, got = 0;
        int want_rc = gossip_node_get_state(sub->engine, NULL, ctx->keys[k], &value, &len, &want);
        int got_rc = gossip_node_get_state(obs->engine, sub->name, ctx->keys[k], &value, &len,
                                           &got);
        if (want_rc != got_rc || want != got)
            return violation(ctx, "%s sees key %s of %s at version %llu, %s itself has %llu",
                             obs->name, ctx->keys[k], sub->name, (unsigned long long)got,
                             sub->name, (unsigned long long)want);
    }
    return 0;
}

/* Under loss probes fail and live nodes are suspected, then refute: a
 * suspicion younger than fd.suspect_limit_ms is normal operation. */
static int fresh_suspicion(const struct check_ctx *ctx, const struct sim_node *obs,
                           const gossip_member_info *got)
{
    if (got->status != GOSSIP_STATUS_SUSPECT)
        return 0;
    uint64_t now_ms = des_clock_local_ms(&obs->clock, ctx->run->now_us);
    return now_ms < got->status_since_ms + ctx->run->fd.suspect_limit_ms;
}

static int check_pair(struct check_ctx *ctx, uint32_t observer, uint32_t subject)
{
    const struct sim_node *obs = &ctx->run->nodes[observer];
    const struct sim_node *sub = &ctx->run->nodes[subject];
    const gossip_member_info *want = &ctx->self[subject];
    gossip_member_info got;
    memset(&got, 0, sizeof got);
    if (gossip_node_member_find(obs->engine, sub->name, &got) != GOSSIP_OK)
        return violation(ctx, "%s (%zu members) does not know %s (%zu members)", obs->name,
                         gossip_node_member_count(obs->engine), sub->name,
                         gossip_node_member_count(sub->engine));
    int bump = ctx->run->scn->heartbeat_bump;
    if (got.generation != want->generation || (!bump && got.max_version != want->max_version))
        return violation(ctx,
                         "%s sees %s at (generation %llu, max_version %llu), %s itself is at "
                         "(%llu, %llu)",
                         obs->name, sub->name, (unsigned long long)got.generation,
                         (unsigned long long)got.max_version, sub->name,
                         (unsigned long long)want->generation,
                         (unsigned long long)want->max_version);
    if (got.status != GOSSIP_STATUS_ALIVE && !fresh_suspicion(ctx, obs, &got))
        return violation(ctx, "%s holds %s %s (incarnation %llu) since %llu ms, but it is up",
                         obs->name, sub->name, status_name(got.status),
                         (unsigned long long)got.incarnation,
                         (unsigned long long)(des_clock_local_ms(&obs->clock,
                                                                 ctx->run->now_us) -
                                              got.status_since_ms));
    return bump ? compare_keys(ctx, observer, subject) : 0;
}

/* A node that is down: killed (with probing on) it must be DEAD or
 * unknown, left it must be LEFT or unknown. */
static int check_down_subject(struct check_ctx *ctx, uint32_t observer, uint32_t subject)
{
    const struct sim_node *obs = &ctx->run->nodes[observer];
    const struct sim_node *sub = &ctx->run->nodes[subject];
    enum gossip_member_status want;
    if (sub->down_reason == SIM_DOWN_KILLED && ctx->run->fd.probing)
        want = GOSSIP_STATUS_DEAD;
    else if (sub->down_reason == SIM_DOWN_LEFT)
        want = GOSSIP_STATUS_LEFT;
    else
        return 0;
    gossip_member_info got;
    memset(&got, 0, sizeof got);
    if (gossip_node_member_find(obs->engine, sub->name, &got) != GOSSIP_OK ||
        got.status == want)
        return 0;
    return violation(ctx, "%s holds %s %s (generation %llu), but it %s", obs->name,
                     sub->name, status_name(got.status), (unsigned long long)got.generation,
                     want == GOSSIP_STATUS_DEAD ? "was killed" : "left");
}

static int check_observer(struct check_ctx *ctx, uint32_t observer)
{
    for (uint32_t j = 0; j < ctx->down_count; j++)
        if (check_down_subject(ctx, observer, ctx->down[j]) != 0)
            return -1;
    for (uint32_t j = 0; j < ctx->live_count; j++)
        if (check_pair(ctx, observer, ctx->live[j]) != 0)
            return -1;
    return 0;
}

/* Order-independent hash of the endpoint *state* a node holds, of every
 * member it knows (down ones too): (name, generation, max_version).  The
 * engine's own table hash also covers membership records, which under
 * continuing loss legitimately differ for a moment (a fresh suspicion on its
 * way to being refuted), so it is not what "same state" means here. */
static uint64_t state_hash(gossip_node *engine)
{
    uint64_t h = 0;
    size_t count = gossip_node_member_count(engine);
    for (size_t i = 0; i < count; i++) {
        gossip_member_info m;
        if (gossip_node_member_at(engine, i, &m) != 0)
            continue;
        uint64_t x = 0xcbf29ce484222325ull;
        for (const char *c = m.name; *c; c++)
            x = (x ^ (uint8_t)*c) * 0x100000001b3ull;
        x ^= m.generation * 0x9e3779b97f4a7c15ull;
        x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ull;
        x ^= m.max_version * 0xc2b2ae3d27d4eb4full;
        h ^= x ^ (x >> 31);
    }
    return h;
}

static int check_hashes(struct check_ctx *ctx)
{
    const struct sim_node *first = &ctx->run->nodes[ctx->live[0]];
    uint64_t expected = state_hash(first->engine);
    for (uint32_t j = 1; j < ctx->live_count; j++) {
        const struct sim_node *node = &ctx->run->nodes[ctx->live[j]];
        uint64_t hash = state_hash(node->engine);
        if (hash != expected)
            return violation(ctx, "state hash of %s (%016llx, %zu members) differs from %s "
                             "(%016llx, %zu members)",
                             node->name, (unsigned long long)hash,
                             gossip_node_member_count(node->engine), first->name,
                             (unsigned long long)expected,
                             gossip_node_member_count(first->engine));
    }
    return 0;
}

static int run_checks(struct check_ctx *ctx)
{
    struct sim_run *run = ctx->run;
    for (uint32_t i = 0; i < run->scn->nodes; i++) {
        const struct sim_node *node = &run->nodes[i];
        if (!node->engine) {
            if (node->down_reason != SIM_DOWN_NOT_STARTED)
                ctx->down[ctx->down_count++] = i;
            continue;
        }
        ctx->live[ctx->live_count++] = i;
        if (gossip_node_member_find(node->engine, node->name, &ctx->self[i]) != GOSSIP_OK)
            return violation(ctx, "%s does not know itself", node->name);
    }
    if (ctx->live_count == 0)
        return 0;
    uint32_t observers = ctx->live_count <= SIM_PAIRWISE_CHECK_MAX_NODES ? ctx->live_count : 1;
    for (uint32_t i = 0; i < observers; i++)
        if (check_observer(ctx, ctx->live[i]) != 0)
            return -1;
    if (!run->scn->heartbeat_bump && check_hashes(ctx) != 0)
        return -1;
    return 0;
}

int sim_check_invariant(struct sim_run *run, const char *when)
{
    struct check_ctx ctx = {.run = run, .when = when};
    ctx.live = malloc(run->scn->nodes * sizeof *ctx.live);
    ctx.self = malloc(run->scn->nodes * sizeof *ctx.self);
    ctx.down = malloc(run->scn->nodes * sizeof *ctx.down);
    int rc;
    if (!ctx.live || !ctx.self || !ctx.down) {
        rc = violation(&ctx, "out of memory while checking");
    } else {
        if (run->scn->heartbeat_bump)
            collect_written_keys(&ctx);
        rc = run_checks(&ctx);
    }
    free(ctx.live);
    free(ctx.self);
    free(ctx.down);
    return rc;
}

/* Records the first safety violation; counts all of them. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void safety_violation(struct sim_run *run, const char *fmt, ...)
{
    struct sim_result *r = &run->result;
    r->safety_violations++;
    if (r->violation[0])
        return;
    int n = snprintf(r->violation, sizeof r->violation, "safety at t=%llu ms: ",
                     (unsigned long long)(run->now_us / 1000));
    if (n >= 0 && (size_t)n < sizeof r->violation) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->violation + n, sizeof r->violation - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

void sim_check_change(struct sim_node *observer, const gossip_change *change)
{
    struct sim_run *run = observer->run;
    int32_t index = sim_node_index_of(run, change->name);
    if (index < 0) {
        safety_violation(run, "%s reported a change about unknown member '%s'", observer->name,
                         change->name ? change->name : "(null)");
        return;
    }
    const struct sim_node *owner = &run->nodes[index];
    /* A node that is down (or inside its own start) cannot be asked. */
    if (!owner->engine || owner == observer)
        return;
    if (change->generation > owner->generation) {
        safety_violation(run, "%s learnt generation %llu of %s, which is only at %llu",
                         observer->name, (unsigned long long)change->generation, owner->name,
                         (unsigned long long)owner->generation);
        return;
    }
    if (change->kind != GOSSIP_CHANGE_STATE || !change->key ||
        change->generation != owner->generation)
        return;
    const uint8_t *value;
    size_t len;
    uint64_t own = 0;
    if (gossip_node_get_state(owner->engine, NULL, change->key, &value, &len, &own) !=
            GOSSIP_OK ||
        change->version > own)
        safety_violation(run, "%s learnt %s's key %s at version %llu; %s has version %llu",
                         observer->name, owner->name, change->key,
                         (unsigned long long)change->version, owner->name,
                         (unsigned long long)own);
}
