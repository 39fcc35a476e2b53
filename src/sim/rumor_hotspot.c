/*
 * rumor_hotspot.c -- broadcast vs gossip under a per-node send limit (the
 * "NIC model"): `gossip-sim rumor --compare-broadcast`.
 *
 * Every node can send at most M messages per round.
 *   broadcast  the source sends the update to each of the other N-1 nodes,
 *              M per round; nobody else sends.  This is deterministic:
 *              ceil((N-1)/M) rounds, the source sends N-1 messages.
 *   gossip     push: in every round each node informed at the start of the
 *              round sends it to F distinct random peers (F <= M), until
 *              every node is informed -- the round model's push mode.
 * We count, per node, messages sent and received, and report the busiest
 * node of each kind.  docs/rumor-mongering.md has the table.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip/gossip.h"
#include "sim/rounds.h"
#include "sim/rumor.h"

#define WORD_BITS 64u

const char *hotspot_config_problem(const struct hotspot_config *cfg)
{
    if (cfg->nodes < 2)
        return "nodes must be at least 2";
    if (cfg->nodes > RUMOR_MAX_NODES)
        return "nodes exceeds RUMOR_MAX_NODES (10000000)";
    if (cfg->send_rate < 1)
        return "send rate must be at least 1";
    if (cfg->fanout < 1)
        return "fanout must be at least 1";
    if (cfg->fanout > cfg->send_rate)
        return "fanout must not exceed the send rate";
    if (cfg->fanout >= cfg->nodes)
        return "fanout must be less than nodes";
    if (cfg->fanout > RUMOR_MAX_FANOUT)
        return "fanout exceeds RUMOR_MAX_FANOUT (64)";
    if (cfg->trials < 1 || cfg->trials > RUMOR_MAX_TRIALS)
        return "trials must be 1 .. 1000000";
    if (cfg->threads < 1 || cfg->threads > RUMOR_MAX_THREADS)
        return "threads must be 1 .. 256";
    return NULL;
}

/* `fanout` distinct peers other than `self` by Floyd's sampling, exactly
 * as rounds.c draws them (one draw, the same one, for fanout 1). */
static void pick_distinct_peers(struct rounds_rng *rng, uint32_t self, uint32_t others,
                                uint32_t fanout, uint32_t *peers)
{
    uint32_t count = 0;
    for (uint32_t limit = others - fanout; limit < others; limit++) {
        uint32_t candidate = (uint32_t)rounds_rng_below(rng, (uint64_t)limit + 1);
        for (uint32_t i = 0; i < count; i++) {
            if (peers[i] == candidate) {
                candidate = limit;
                break;
            }
        }
        peers[count++] = candidate;
    }
    for (uint32_t i = 0; i < fanout; i++)
        peers[i] += (peers[i] >= self);
}

struct gossip_trial {
    uint32_t rounds;
    uint32_t max_sent, max_received;
    uint64_t sent;
    bool capped;
};

struct gossip_ws {
    size_t words;
    uint64_t *start, *next;
    uint32_t *sent, *received;
};

static void gossip_ws_free(struct gossip_ws *ws)
{
    free(ws->start);
    free(ws->next);
    free(ws->sent);
    free(ws->received);
    memset(ws, 0, sizeof *ws);
}

static int gossip_ws_alloc(struct gossip_ws *ws, uint32_t nodes)
{
    ws->words = ((size_t)nodes + WORD_BITS - 1) / WORD_BITS;
    ws->start = calloc(ws->words, sizeof(uint64_t));
    ws->next = calloc(ws->words, sizeof(uint64_t));
    ws->sent = calloc(nodes, sizeof(uint32_t));
    ws->received = calloc(nodes, sizeof(uint32_t));
    if (!ws->start || !ws->next || !ws->sent || !ws->received) {
        gossip_ws_free(ws);
        return GOSSIP_ERR_NOMEM;
    }
    return 0;
}

static void gossip_trial_run(const struct hotspot_config *cfg, uint32_t trial,
                             struct gossip_ws *ws, struct gossip_trial *out)
{
    uint32_t n = cfg->nodes, peers[RUMOR_MAX_FANOUT];
    memset(out, 0, sizeof *out);
    memset(ws->next, 0, ws->words * sizeof(uint64_t));
    memset(ws->sent, 0, n * sizeof(uint32_t));
    memset(ws->received, 0, n * sizeof(uint32_t));
    struct rounds_rng rng = rounds_trial_rng(cfg->seed, trial);
    uint32_t first = (uint32_t)rounds_rng_below(&rng, n);
    ws->next[first / WORD_BITS] |= (uint64_t)1 << (first % WORD_BITS);
    uint32_t informed = 1;
    while (informed < n) {
        if (out->rounds >= RUMOR_MAX_ROUNDS) {
            out->capped = true;
            break;
        }
        out->rounds++;
        memcpy(ws->start, ws->next, ws->words * sizeof(uint64_t));
        for (size_t w = 0; w < ws->words; w++) {
            uint64_t bits = ws->start[w];
            while (bits != 0) {
                uint32_t self = (uint32_t)(w * WORD_BITS) + (uint32_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                pick_distinct_peers(&rng, self, n - 1, cfg->fanout, peers);
                ws->sent[self] += cfg->fanout;
                out->sent += cfg->fanout;
                for (uint32_t i = 0; i < cfg->fanout; i++) {
                    uint32_t p = peers[i];
                    uint64_t bit = (uint64_t)1 << (p % WORD_BITS);
                    ws->received[p]++;
                    informed += (ws->next[p / WORD_BITS] & bit) == 0;
                    ws->next[p / WORD_BITS] |= bit;
                }
            }
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        out->max_sent = ws->sent[i] > out->max_sent ? ws->sent[i] : out->max_sent;
        out->max_received =
            ws->received[i] > out->max_received ? ws->received[i] : out->max_received;
    }
}

struct hotspot_ctx {
    const struct hotspot_config *cfg;
    struct gossip_ws *ws;
    struct gossip_trial *results;
};

static void hotspot_one(void *arg, uint32_t worker, uint32_t trial)
{
    struct hotspot_ctx *ctx = arg;
    gossip_trial_run(ctx->cfg, trial, &ctx->ws[worker], &ctx->results[trial]);
}

int hotspot_run(const struct hotspot_config *cfg, struct hotspot_summary *out)
{
    memset(out, 0, sizeof *out);
    if (hotspot_config_problem(cfg) != NULL)
        return GOSSIP_ERR_INVALID;

    /* Broadcast: nothing random. */
    uint32_t n = cfg->nodes;
    uint32_t b_rounds = (uint32_t)(((uint64_t)n - 1 + cfg->send_rate - 1) / cfg->send_rate);
    out->broadcast = (struct hotspot_row){
        .max_sent_mean = n - 1,
        .max_sent_max = n - 1,
        .sent_per_node = (double)(n - 1) / n,
        .max_received_mean = 1,
        .max_received_max = 1,
        .rounds_mean = b_rounds,
        .rounds_max = b_rounds,
    };

    uint32_t workers = cfg->threads < cfg->trials ? cfg->threads : cfg->trials;
    struct hotspot_ctx ctx = {.cfg = cfg};
    ctx.ws = calloc(workers, sizeof *ctx.ws);
    ctx.results = calloc(cfg->trials, sizeof *ctx.results);
    int rc = ctx.ws && ctx.results ? 0 : GOSSIP_ERR_NOMEM;
    uint32_t allocated = 0;
    while (rc == 0 && allocated < workers) {
        rc = gossip_ws_alloc(&ctx.ws[allocated], n);
        allocated += rc == 0;
    }
    if (rc == 0) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rumor_pool_run(workers, cfg->trials, hotspot_one, &ctx);
        out->elapsed_sec = rumor_seconds_since(&t0);
        struct hotspot_row *g = &out->gossip;
        for (uint32_t t = 0; t < cfg->trials; t++) {
            const struct gossip_trial *r = &ctx.results[t];
            g->max_sent_mean += r->max_sent;
            g->max_sent_max = r->max_sent > g->max_sent_max ? r->max_sent : g->max_sent_max;
            g->sent_per_node += (double)r->sent / n;
            g->max_received_mean += r->max_received;
            g->max_received_max =
                r->max_received > g->max_received_max ? r->max_received : g->max_received_max;
            g->rounds_mean += r->rounds;
            g->rounds_max = r->rounds > g->rounds_max ? r->rounds : g->rounds_max;
            out->trials_capped += r->capped;
        }
        g->max_sent_mean /= cfg->trials;
        g->sent_per_node /= cfg->trials;
        g->max_received_mean /= cfg->trials;
        g->rounds_mean /= cfg->trials;
    }
    for (uint32_t w = 0; w < allocated; w++)
        gossip_ws_free(&ctx.ws[w]);
    free(ctx.ws);
    free(ctx.results);
    return rc;
}
