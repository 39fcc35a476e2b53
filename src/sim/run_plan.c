/* run_plan.c -- the faults of one run: the scenario's explicit kills,
 * stalls and leaves, plus what its generators draw from the run seed
 * (SIM_STREAM_FAULTS).  Kill, restart and leave generators are expanded in
 * scenario order, then stall generators on the nodes none of those touch;
 * each takes distinct nodes through a partial Fisher-Yates shuffle, so one
 * seed gives one plan and another seed other nodes and times. */
#include "sim/run_internal.h"

#include <stdlib.h>
#include <string.h>

struct plan_builder {
    struct sim_plan *plan;
    const struct scenario *s;
    struct des_rng rng;
    uint32_t *pool;            /* kill/restart/leave candidates, shuffled as used */
    uint32_t pool_size;
    uint32_t pool_used;        /* pool[0..used) are taken */
    uint32_t *all;             /* stall candidates: seeds and untouched pool nodes */
    uint32_t stall_pool;
};

static uint32_t kills_capacity(const struct scenario *s)
{
    uint32_t n = s->kill_count;
    for (uint32_t i = 0; i < s->generator_count; i++)
        if (s->generators[i].kind == SCN_GEN_KILL || s->generators[i].kind == SCN_GEN_RESTART)
            n += s->generators[i].count;
    return n;
}

static uint32_t generated_count(const struct scenario *s, enum scn_generator_kind kind)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->generator_count; i++)
        if (s->generators[i].kind == kind)
            n += s->generators[i].count;
    return n;
}

/* Swaps a uniformly drawn element of nodes[first..size) into nodes[first]. */
static uint32_t draw_node(struct des_rng *rng, uint32_t *nodes, uint32_t first, uint32_t size)
{
    uint32_t j = first + (uint32_t)des_rng_below(rng, size - first);
    uint32_t node = nodes[j];
    nodes[j] = nodes[first];
    nodes[first] = node;
    return node;
}

static uint64_t draw_time(struct des_rng *rng, uint64_t from_ms, uint64_t to_ms)
{
    return from_ms + des_rng_below(rng, to_ms - from_ms);
}

/* Each stall generator draws its own distinct nodes among those no kill,
 * restart or leave concerns (b->all[0..stall_pool)). */
static void expand_stalls(struct plan_builder *b, const struct scn_generator *g)
{
    struct sim_plan *p = b->plan;
    for (uint32_t k = 0; k < g->count; k++) {
        uint32_t node = draw_node(&b->rng, b->all, k, b->stall_pool);
        p->stalls[p->stall_count++] =
            (struct scn_stall){node, draw_time(&b->rng, g->from_ms, g->to_ms), g->duration_ms};
    }
}

static void expand_generator(struct plan_builder *b, const struct scn_generator *g)
{
    struct sim_plan *p = b->plan;
    for (uint32_t k = 0; k < g->count; k++) {
        uint32_t node = draw_node(&b->rng, b->pool, b->pool_used++, b->pool_size);
        uint64_t at_ms = draw_time(&b->rng, g->from_ms, g->to_ms);
        if (g->kind == SCN_GEN_LEAVE) {
            p->leaves[p->leave_count++] = (struct scn_leave){node, at_ms};
            continue;
        }
        uint64_t restart_ms = SCN_NEVER;
        if (g->kind == SCN_GEN_RESTART)
            restart_ms = at_ms + g->down_min_ms +
                         des_rng_below(&b->rng, g->down_max_ms - g->down_min_ms + 1);
        p->kills[p->kill_count++] = (struct scn_kill){node, at_ms, restart_ms};
    }
}

static int plan_alloc(struct sim_plan *p, const struct scenario *s)
{
    uint32_t kills = kills_capacity(s);
    uint32_t stalls = s->stall_count + generated_count(s, SCN_GEN_STALL);
    uint32_t leaves = s->leave_count + generated_count(s, SCN_GEN_LEAVE);
    p->kills = calloc(kills ? kills : 1, sizeof *p->kills);
    p->stalls = calloc(stalls ? stalls : 1, sizeof *p->stalls);
    p->leaves = calloc(leaves ? leaves : 1, sizeof *p->leaves);
    if (!p->kills || !p->stalls || !p->leaves)
        return -1;
    if (s->kill_count)
        memcpy(p->kills, s->kills, s->kill_count * sizeof *p->kills);
    if (s->stall_count)
        memcpy(p->stalls, s->stalls, s->stall_count * sizeof *p->stalls);
    if (s->leave_count)
        memcpy(p->leaves, s->leaves, s->leave_count * sizeof *p->leaves);
    p->kill_count = s->kill_count;
    p->stall_count = s->stall_count;
    p->leave_count = s->leave_count;
    return 0;
}

int sim_plan_build(struct sim_plan *plan, const struct scenario *s, uint64_t seed)
{
    memset(plan, 0, sizeof *plan);
    struct plan_builder b = {.plan = plan, .s = s, .rng = des_rng_make(seed, SIM_STREAM_FAULTS)};
    int rc = -1;
    if (plan_alloc(plan, s) != 0)
        goto out;
    if (s->generator_count == 0) {
        rc = 0;
        goto out;
    }
    b.pool = malloc(s->nodes * sizeof *b.pool);
    b.all = malloc(s->nodes * sizeof *b.all);
    if (!b.pool || !b.all)
        goto out;
    b.pool_size = scenario_generator_pool(s, b.pool);
    /* Kills, restarts and leaves first, then stalls on nodes none of them
     * touches, so that every stall hits a node that is up. */
    for (uint32_t i = 0; i < s->generator_count; i++) {
        const struct scn_generator *g = &s->generators[i];
        if (g->kind == SCN_GEN_STALL)
            continue;
        /* scenario_validate guarantees the pool is large enough. */
        if (b.pool_used + g->count > b.pool_size)
            goto out;
        expand_generator(&b, g);
    }
    for (uint32_t i = 0; i < s->seed_count; i++)
        b.all[b.stall_pool++] = s->seeds[i];
    for (uint32_t i = b.pool_used; i < b.pool_size; i++)
        b.all[b.stall_pool++] = b.pool[i];
    for (uint32_t i = 0; i < s->generator_count; i++) {
        const struct scn_generator *g = &s->generators[i];
        if (g->kind != SCN_GEN_STALL)
            continue;
        if (g->count > b.stall_pool)
            goto out;
        expand_stalls(&b, g);
    }
    rc = 0;
out:
    free(b.pool);
    free(b.all);
    if (rc != 0)
        sim_plan_free(plan);
    return rc;
}

void sim_plan_free(struct sim_plan *plan)
{
    free(plan->kills);
    free(plan->stalls);
    free(plan->leaves);
    memset(plan, 0, sizeof *plan);
}

static uint64_t later(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

uint64_t sim_plan_last_fault_ms(const struct sim_plan *plan, const struct scenario *s)
{
    gossip_config cfg;
    scenario_engine_config(s, &cfg);
    uint64_t last = s->start_spread_ms;
    for (uint32_t i = 0; i < s->partition_count; i++)
        last = later(last, s->partitions[i].end_ms);
    for (uint32_t i = 0; i < s->write_count; i++)
        last = later(last, s->writes[i].at_ms);
    for (uint32_t i = 0; i < plan->kill_count; i++) {
        const struct scn_kill *k = &plan->kills[i];
        last = later(last, k->restart_at_ms != SCN_NEVER ? k->restart_at_ms : k->at_ms);
    }
    for (uint32_t i = 0; i < plan->stall_count; i++)
        last = later(last, plan->stalls[i].at_ms + plan->stalls[i].duration_ms);
    for (uint32_t i = 0; i < plan->leave_count; i++)
        last = later(last, plan->leaves[i].at_ms + cfg.leave_timeout_ms);
    return last;
}
