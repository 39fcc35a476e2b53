/*
 * rumor.c -- rumor mongering in the round model (see rumor.h and
 * docs/rumor-mongering.md).
 *
 * The state of a trial is a handful of bit sets of N bits -- `informed`
 * and `infective`, and their snapshots at the start of the round -- plus
 * one 16-bit reaction counter and two 32-bit message counters per node.
 * At N = 10,000 that is 100 KB, so a trial lives in the L2 cache and the
 * cost is a few nanoseconds per push.
 *
 * Random numbers are drawn in a fixed order from the trial's own generator
 * (rounds_trial_rng): the first holder, then per round the infective nodes
 * in ascending index order (sync schedule) or in the round's random order
 * (sequential schedule), each drawing its peer and then, if it reacts with
 * a coin, the coin; then the anti-entropy exchanges in ascending order.
 */
#include "sim/rumor.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip/gossip.h"
#include "sim/rounds.h"

#define WORD_BITS 64u

/* ---- names ---------------------------------------------------------------- */

static const char *const variant_names[] = {
    [RUMOR_FEEDBACK_COUNTER] = "feedback-counter",
    [RUMOR_FEEDBACK_COIN] = "feedback-coin",
    [RUMOR_BLIND_COUNTER] = "blind-counter",
    [RUMOR_BLIND_COIN] = "blind-coin",
};

static const char *const schedule_names[] = {
    [RUMOR_SCHEDULE_SYNC] = "sync",
    [RUMOR_SCHEDULE_SEQUENTIAL] = "sequential",
};

const char *rumor_variant_name(enum rumor_variant v)
{
    if ((unsigned)v < sizeof variant_names / sizeof variant_names[0])
        return variant_names[v];
    return "unknown";
}

int rumor_variant_parse(const char *name, enum rumor_variant *v)
{
    for (unsigned i = 0; i < sizeof variant_names / sizeof variant_names[0]; i++) {
        if (strcmp(name, variant_names[i]) == 0) {
            *v = (enum rumor_variant)i;
            return 0;
        }
    }
    return GOSSIP_ERR_INVALID;
}

const char *rumor_schedule_name(enum rumor_schedule s)
{
    if ((unsigned)s < sizeof schedule_names / sizeof schedule_names[0])
        return schedule_names[s];
    return "unknown";
}

int rumor_schedule_parse(const char *name, enum rumor_schedule *s)
{
    for (unsigned i = 0; i < sizeof schedule_names / sizeof schedule_names[0]; i++) {
        if (strcmp(name, schedule_names[i]) == 0) {
            *s = (enum rumor_schedule)i;
            return 0;
        }
    }
    return GOSSIP_ERR_INVALID;
}

static bool is_feedback(enum rumor_variant v)
{
    return v == RUMOR_FEEDBACK_COUNTER || v == RUMOR_FEEDBACK_COIN;
}

static bool is_coin(enum rumor_variant v)
{
    return v == RUMOR_FEEDBACK_COIN || v == RUMOR_BLIND_COIN;
}

/* ---- theory ------------------------------------------------------------------ */

/* The root in (0, 1) of f(s) = s - exp(-m(1-s)): f(0) < 0 and, for m > 1,
 * f(1 - e) ~ (m - 1) e > 0, so bisection finds it. */
double rumor_fixed_point(double m)
{
    if (!(m > 1.0))
        return 1.0;
    double lo = 0.0, hi = 1.0 - 1e-12;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid - exp(-m * (1.0 - mid)) < 0)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Every informed node ends removed.  Blind-coin: k pushes per removal on
 * average; feedback-coin: k unnecessary pushes per removal plus about one
 * necessary push per informed node.  A node misses all of m pushes per node
 * with probability exp(-m), and m = pushes per informed node x (1 - s). */
double rumor_theory_residue(enum rumor_variant v, uint32_t k)
{
    switch (v) {
    case RUMOR_BLIND_COIN:
        return rumor_fixed_point((double)k);
    case RUMOR_FEEDBACK_COIN:
        return rumor_fixed_point((double)k + 1.0);
    case RUMOR_FEEDBACK_COUNTER:
    case RUMOR_BLIND_COUNTER:
        break;
    }
    return NAN;
}

/* ---- configuration ----------------------------------------------------------- */

const char *rumor_config_problem(const struct rumor_config *cfg)
{
    if (cfg->nodes < 2)
        return "nodes must be at least 2";
    if (cfg->nodes > RUMOR_MAX_NODES)
        return "nodes exceeds RUMOR_MAX_NODES (10000000)";
    if ((unsigned)cfg->variant > RUMOR_BLIND_COIN)
        return "variant must be feedback-counter, feedback-coin, blind-counter or blind-coin";
    if (cfg->k < 1)
        return "k must be at least 1";
    if (cfg->k > RUMOR_MAX_K)
        return "k exceeds RUMOR_MAX_K (1000)";
    if (cfg->trials < 1)
        return "trials must be at least 1";
    if (cfg->trials > RUMOR_MAX_TRIALS)
        return "trials exceeds RUMOR_MAX_TRIALS (1000000)";
    if (cfg->threads < 1)
        return "threads must be at least 1";
    if (cfg->threads > RUMOR_MAX_THREADS)
        return "threads exceeds RUMOR_MAX_THREADS (256)";
    if ((unsigned)cfg->schedule > RUMOR_SCHEDULE_SEQUENTIAL)
        return "schedule must be sync or sequential";
    if (cfg->counter_reset && cfg->variant != RUMOR_FEEDBACK_COUNTER)
        return "counter reset applies to feedback-counter only";
    switch (cfg->ae_mode) {
    case RUMOR_AE_NONE:
    case RUMOR_AE_AFTER:
        if (cfg->ae_every != 0)
            return "ae_every is only for RUMOR_AE_EVERY";
        break;
    case RUMOR_AE_EVERY:
        if (cfg->ae_every < 1 || cfg->ae_every > RUMOR_MAX_AE_EVERY)
            return "anti-entropy period must be 1 .. 100000 rounds";
        break;
    default:
        return "unknown anti-entropy mode";
    }
    return NULL;
}

/* ---- bit sets and peers -------------------------------------------------------- */

static size_t words_for(uint32_t nodes)
{
    return ((size_t)nodes + WORD_BITS - 1) / WORD_BITS;
}

static inline bool bit_test(const uint64_t *set, uint32_t node)
{
    return (set[node / WORD_BITS] >> (node % WORD_BITS)) & 1u;
}

static inline void bit_set(uint64_t *set, uint32_t node)
{
    set[node / WORD_BITS] |= (uint64_t)1 << (node % WORD_BITS);
}

static inline void bit_clear(uint64_t *set, uint32_t node)
{
    set[node / WORD_BITS] &= ~((uint64_t)1 << (node % WORD_BITS));
}

/* Uniform among the N-1 nodes other than `self` (as in rounds.c). */
static inline uint32_t pick_peer(struct rounds_rng *rng, uint32_t self, uint32_t others)
{
    uint32_t peer = (uint32_t)rounds_rng_below(rng, others);
    return peer + (peer >= self);
}

/* ---- one worker's memory ------------------------------------------------------- */

struct workspace {
    size_t words;
    uint64_t *informed, *informed_start; /* ever informed: now, at round start */
    uint64_t *infective, *infective_start;
    uint16_t *reactions;     /* counter variants */
    uint32_t *sent, *received;
    uint32_t *order;         /* sequential schedule: this round's order */
    uint64_t *hist_uninformed, *hist_infective; /* --history: sums over trials */
    uint32_t hist_len;       /* rounds recorded by the longest trial, + 1 */
};

static void workspace_free(struct workspace *ws)
{
    free(ws->informed);
    free(ws->informed_start);
    free(ws->infective);
    free(ws->infective_start);
    free(ws->reactions);
    free(ws->sent);
    free(ws->received);
    free(ws->order);
    free(ws->hist_uninformed);
    free(ws->hist_infective);
    memset(ws, 0, sizeof *ws);
}

static int workspace_alloc(struct workspace *ws, const struct rumor_config *cfg)
{
    memset(ws, 0, sizeof *ws);
    ws->words = words_for(cfg->nodes);
    ws->informed = calloc(ws->words, sizeof(uint64_t));
    ws->informed_start = calloc(ws->words, sizeof(uint64_t));
    ws->infective = calloc(ws->words, sizeof(uint64_t));
    ws->infective_start = calloc(ws->words, sizeof(uint64_t));
    ws->reactions = calloc(cfg->nodes, sizeof(uint16_t));
    ws->sent = calloc(cfg->nodes, sizeof(uint32_t));
    ws->received = calloc(cfg->nodes, sizeof(uint32_t));
    bool ok = ws->informed && ws->informed_start && ws->infective && ws->infective_start &&
              ws->reactions && ws->sent && ws->received;
    if (ok && cfg->schedule == RUMOR_SCHEDULE_SEQUENTIAL) {
        ws->order = malloc(cfg->nodes * sizeof(uint32_t));
        ok = ws->order != NULL;
    }
    if (ok && cfg->history) {
        ws->hist_uninformed = calloc(RUMOR_HISTORY_ROUNDS, sizeof(uint64_t));
        ws->hist_infective = calloc(RUMOR_HISTORY_ROUNDS, sizeof(uint64_t));
        ok = ws->hist_uninformed && ws->hist_infective;
    }
    if (!ok) {
        workspace_free(ws);
        return GOSSIP_ERR_NOMEM;
    }
    return 0;
}

/* ---- one trial -------------------------------------------------------------------- */

struct trial_state {
    const struct rumor_config *cfg;
    struct workspace *ws;
    struct rounds_rng rng;
    uint32_t round;
    uint32_t informed_count;
    uint32_t infective_count;
    struct rumor_trial *out;
};

static void remove_node(struct trial_state *t, uint32_t node)
{
    bit_clear(t->ws->infective, node);
    t->infective_count--;
}

/* Node `self` pushes; `knew` is whether the peer already knew the rumor --
 * at the start of the round (sync) or at the moment of the push
 * (sequential). */
static void push(struct trial_state *t, uint32_t self, bool sequential)
{
    const struct rumor_config *cfg = t->cfg;
    struct workspace *ws = t->ws;
    uint32_t peer = pick_peer(&t->rng, self, cfg->nodes - 1);
    t->out->pushes++;
    ws->sent[self]++;
    ws->received[peer]++;
    bool knew = bit_test(sequential ? ws->informed : ws->informed_start, peer);
    if (!bit_test(ws->informed, peer)) {
        bit_set(ws->informed, peer);
        bit_set(ws->infective, peer); /* sync: acts from the next round on */
        t->informed_count++;
        t->infective_count++;
        t->out->rumor_informed++;
        t->out->informed_rounds += t->round;
        t->out->t_last = t->round;
    }
    bool feedback = is_feedback(cfg->variant);
    if (feedback && !knew) {
        if (cfg->counter_reset)
            ws->reactions[self] = 0;
        return; /* a necessary push: no reaction */
    }
    if (is_coin(cfg->variant)) {
        if (rounds_rng_below(&t->rng, cfg->k) == 0)
            remove_node(t, self);
    } else if (++ws->reactions[self] >= cfg->k) {
        remove_node(t, self);
    }
}

/* Every node infective at the start of the round pushes once; nodes
 * informed in this round start next round. */
static void rumor_round_sync(struct trial_state *t)
{
    struct workspace *ws = t->ws;
    memcpy(ws->infective_start, ws->infective, ws->words * sizeof(uint64_t));
    for (size_t w = 0; w < ws->words; w++) {
        uint64_t bits = ws->infective_start[w];
        while (bits != 0) {
            uint32_t self = (uint32_t)(w * WORD_BITS) + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            push(t, self, false);
        }
    }
}

/* The nodes act one at a time in a random order (a Fisher-Yates shuffle of
 * the previous round's order); a node pushes if it is infective when its
 * turn comes, so a node informed earlier in the round already pushes in it. */
static void rumor_round_sequential(struct trial_state *t)
{
    uint32_t *order = t->ws->order;
    uint32_t n = t->cfg->nodes;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)rounds_rng_below(&t->rng, (uint64_t)i + 1);
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (uint32_t i = 0; i < n && t->infective_count > 0; i++)
        if (bit_test(t->ws->infective, order[i]))
            push(t, order[i], true);
}

/* Every node does one push-pull exchange with a random peer, from the
 * state at the start of the round.  What a node learns this way is not hot:
 * it does not become infective. */
static void anti_entropy_round(struct trial_state *t)
{
    struct workspace *ws = t->ws;
    uint32_t n = t->cfg->nodes;
    for (uint32_t self = 0; self < n; self++) {
        uint32_t peer = pick_peer(&t->rng, self, n - 1);
        bool self_knew = bit_test(ws->informed_start, self);
        bool peer_knew = bit_test(ws->informed_start, peer);
        if (self_knew && !bit_test(ws->informed, peer)) {
            bit_set(ws->informed, peer);
            t->informed_count++;
        } else if (peer_knew && !bit_test(ws->informed, self)) {
            bit_set(ws->informed, self);
            t->informed_count++;
        }
    }
    t->out->ae_exchanges += n;
    t->out->ae_rounds++;
}

static void record_history(struct trial_state *t)
{
    struct workspace *ws = t->ws;
    if (ws->hist_uninformed == NULL || t->round >= RUMOR_HISTORY_ROUNDS)
        return;
    ws->hist_uninformed[t->round] += t->cfg->nodes - t->informed_count;
    ws->hist_infective[t->round] += t->infective_count;
}

/* A trial that ended keeps its final state for the rest of the history. */
static void finish_history(struct trial_state *t)
{
    struct workspace *ws = t->ws;
    if (ws->hist_uninformed == NULL)
        return;
    uint32_t recorded = t->round + 1 < RUMOR_HISTORY_ROUNDS ? t->round + 1 : RUMOR_HISTORY_ROUNDS;
    if (recorded > ws->hist_len)
        ws->hist_len = recorded;
    for (uint32_t r = recorded; r < RUMOR_HISTORY_ROUNDS; r++) {
        ws->hist_uninformed[r] += t->cfg->nodes - t->informed_count;
        ws->hist_infective[r] += t->infective_count;
    }
}

static void reset_workspace(struct workspace *ws, const struct rumor_config *cfg)
{
    size_t bytes = ws->words * sizeof(uint64_t);
    memset(ws->informed, 0, bytes);
    memset(ws->infective, 0, bytes);
    memset(ws->reactions, 0, cfg->nodes * sizeof(uint16_t));
    memset(ws->sent, 0, cfg->nodes * sizeof(uint32_t));
    memset(ws->received, 0, cfg->nodes * sizeof(uint32_t));
    if (ws->order != NULL) /* every trial starts from the same order */
        for (uint32_t i = 0; i < cfg->nodes; i++)
            ws->order[i] = i;
}

static void run_trial_with(const struct rumor_config *cfg, uint32_t trial_index,
                           struct workspace *ws, struct rumor_trial *out)
{
    memset(out, 0, sizeof *out);
    reset_workspace(ws, cfg);
    struct trial_state t = {.cfg = cfg, .ws = ws, .out = out};
    t.rng = rounds_trial_rng(cfg->seed, trial_index);
    uint32_t first = (uint32_t)rounds_rng_below(&t.rng, cfg->nodes);
    bit_set(ws->informed, first);
    bit_set(ws->infective, first);
    t.informed_count = 1;
    t.infective_count = 1;
    record_history(&t);

    bool rumor_alive = true;
    for (;;) {
        bool need_ae = cfg->ae_mode != RUMOR_AE_NONE && t.informed_count < cfg->nodes;
        if (!rumor_alive && !need_ae)
            break;
        if (t.round >= RUMOR_MAX_ROUNDS) {
            out->capped = true;
            break;
        }
        t.round++;
        bool ae_now = need_ae && (cfg->ae_mode == RUMOR_AE_AFTER ? !rumor_alive
                                                                 : t.round % cfg->ae_every == 0);
        memcpy(ws->informed_start, ws->informed, ws->words * sizeof(uint64_t));
        if (rumor_alive) {
            if (cfg->schedule == RUMOR_SCHEDULE_SEQUENTIAL)
                rumor_round_sequential(&t);
            else
                rumor_round_sync(&t);
        }
        if (ae_now)
            anti_entropy_round(&t);
        if (rumor_alive && t.infective_count == 0) {
            rumor_alive = false;
            out->rounds = t.round;
            out->uninformed = cfg->nodes - t.informed_count;
        }
        if (t.informed_count == cfg->nodes && out->zero_round == 0)
            out->zero_round = t.round;
        record_history(&t);
    }
    if (rumor_alive) { /* capped while still spreading */
        out->rounds = t.round;
        out->uninformed = cfg->nodes - t.informed_count;
    }
    out->final_uninformed = cfg->nodes - t.informed_count;
    for (uint32_t i = 0; i < cfg->nodes; i++) {
        if (ws->sent[i] > out->max_sent)
            out->max_sent = ws->sent[i];
        if (ws->received[i] > out->max_received)
            out->max_received = ws->received[i];
    }
    finish_history(&t);
}

int rumor_run_trial(const struct rumor_config *cfg, uint32_t trial_index,
                    struct rumor_trial *out)
{
    if (rumor_config_problem(cfg) != NULL)
        return GOSSIP_ERR_INVALID;
    struct rumor_config one = *cfg;
    one.history = false;
    struct workspace ws;
    if (workspace_alloc(&ws, &one) != 0)
        return GOSSIP_ERR_NOMEM;
    run_trial_with(&one, trial_index, &ws, out);
    workspace_free(&ws);
    return 0;
}

/* ---- trials on worker threads ------------------------------------------------------ */

/* Workers take trial numbers from a shared counter; fn must write each
 * trial's result to its own slot, so nothing depends on scheduling. */
struct pool {
    void (*fn)(void *ctx, uint32_t worker, uint32_t trial);
    void *ctx;
    uint32_t trials;
    atomic_uint next_trial;
    atomic_uint next_worker;
};

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    uint32_t worker = atomic_fetch_add(&p->next_worker, 1);
    for (;;) {
        unsigned trial = atomic_fetch_add(&p->next_trial, 1);
        if (trial >= p->trials)
            break;
        p->fn(p->ctx, worker, trial);
    }
    return NULL;
}

uint32_t rumor_pool_run(uint32_t threads, uint32_t trials,
                        void (*fn)(void *ctx, uint32_t worker, uint32_t trial), void *ctx)
{
    struct pool p = {.fn = fn, .ctx = ctx, .trials = trials};
    atomic_init(&p.next_trial, 0);
    atomic_init(&p.next_worker, 0);
    if (threads > trials)
        threads = trials;
    pthread_t helpers[RUMOR_MAX_THREADS];
    uint32_t started = 0;
    for (uint32_t i = 1; i < threads; i++) {
        if (pthread_create(&helpers[started], NULL, pool_worker, &p) != 0)
            break; /* fewer workers, same results */
        started++;
    }
    pool_worker(&p);
    for (uint32_t i = 0; i < started; i++)
        pthread_join(helpers[i], NULL);
    return started + 1;
}

double rumor_seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* ---- summary ------------------------------------------------------------------------- */

struct run_ctx {
    const struct rumor_config *cfg;
    struct workspace *workspaces; /* one per worker */
    struct rumor_trial *results;
};

static void run_one(void *arg, uint32_t worker, uint32_t trial)
{
    struct run_ctx *ctx = arg;
    run_trial_with(ctx->cfg, trial, &ctx->workspaces[worker], &ctx->results[trial]);
}

static double stddev_of(double sum_squares, double mean, uint32_t count)
{
    double var = sum_squares / count - mean * mean;
    return var > 0 ? sqrt(var) : 0.0;
}

static void summarize(const struct rumor_config *cfg, const struct rumor_trial *r,
                      struct rumor_summary *s)
{
    double n = cfg->nodes, trials = cfg->trials;
    double sum_res = 0, sq_res = 0, sum_tr = 0, sq_tr = 0, sum_tlast = 0, sq_tlast = 0;
    double sum_tave = 0;
    double sum_rounds = 0, sum_sent = 0, sum_recv = 0, sum_zero = 0, sum_ae = 0, sum_aex = 0;
    s->residue_min = 1.0;
    s->residue_max = 0.0;
    for (uint32_t i = 0; i < cfg->trials; i++) {
        double res = r[i].uninformed / n, tr = (double)r[i].pushes / n;
        sum_res += res;
        sq_res += res * res;
        sum_tr += tr;
        sq_tr += tr * tr;
        s->residue_min = res < s->residue_min ? res : s->residue_min;
        s->residue_max = res > s->residue_max ? res : s->residue_max;
        sum_tlast += r[i].t_last;
        sq_tlast += (double)r[i].t_last * r[i].t_last;
        s->t_last_max = r[i].t_last > s->t_last_max ? r[i].t_last : s->t_last_max;
        if (r[i].rumor_informed > 0)
            sum_tave += (double)r[i].informed_rounds / r[i].rumor_informed;
        sum_rounds += r[i].rounds;
        s->rounds_max = r[i].rounds > s->rounds_max ? r[i].rounds : s->rounds_max;
        sum_sent += r[i].max_sent;
        s->max_sent_max = r[i].max_sent > s->max_sent_max ? r[i].max_sent : s->max_sent_max;
        sum_recv += r[i].max_received;
        s->max_received_max =
            r[i].max_received > s->max_received_max ? r[i].max_received : s->max_received_max;
        s->trials_capped += r[i].capped;
        sum_zero += r[i].zero_round;
        s->zero_round_max = r[i].zero_round > s->zero_round_max ? r[i].zero_round
                                                                : s->zero_round_max;
        sum_ae += r[i].ae_rounds;
        s->ae_rounds_max = r[i].ae_rounds > s->ae_rounds_max ? r[i].ae_rounds : s->ae_rounds_max;
        sum_aex += (double)r[i].ae_exchanges / n;
        if (r[i].final_uninformed > s->final_uninformed_max)
            s->final_uninformed_max = r[i].final_uninformed;
    }
    s->residue_mean = sum_res / trials;
    s->residue_stddev = stddev_of(sq_res, s->residue_mean, cfg->trials);
    s->traffic_mean = sum_tr / trials;
    s->traffic_stddev = stddev_of(sq_tr, s->traffic_mean, cfg->trials);
    s->t_last_mean = sum_tlast / trials;
    s->t_last_stddev = stddev_of(sq_tlast, s->t_last_mean, cfg->trials);
    s->t_ave_mean = sum_tave / trials;
    s->rounds_mean = sum_rounds / trials;
    s->max_sent_mean = sum_sent / trials;
    s->max_received_mean = sum_recv / trials;
    s->zero_round_mean = sum_zero / trials;
    s->ae_rounds_mean = sum_ae / trials;
    s->ae_exchanges_per_node = sum_aex / trials;
    s->theory_residue = rumor_theory_residue(cfg->variant, cfg->k);
}

/* Integer sums are added in any order with the same result, so the
 * history does not depend on which worker ran which trial. */
static int merge_history(const struct rumor_config *cfg, struct workspace *ws,
                         uint32_t workers, struct rumor_summary *s)
{
    uint32_t len = 0;
    for (uint32_t w = 0; w < workers; w++)
        len = ws[w].hist_len > len ? ws[w].hist_len : len;
    s->history_uninformed = calloc(len ? len : 1, sizeof(double));
    s->history_infective = calloc(len ? len : 1, sizeof(double));
    if (s->history_uninformed == NULL || s->history_infective == NULL)
        return GOSSIP_ERR_NOMEM;
    s->history_len = len;
    double scale = (double)cfg->nodes * cfg->trials;
    for (uint32_t r = 0; r < len; r++) {
        uint64_t u = 0, i = 0;
        for (uint32_t w = 0; w < workers; w++) {
            u += ws[w].hist_uninformed[r];
            i += ws[w].hist_infective[r];
        }
        s->history_uninformed[r] = (double)u / scale;
        s->history_infective[r] = (double)i / scale;
    }
    return 0;
}

void rumor_summary_free(struct rumor_summary *s)
{
    free(s->history_uninformed);
    free(s->history_infective);
    s->history_uninformed = NULL;
    s->history_infective = NULL;
    s->history_len = 0;
}

int rumor_run(const struct rumor_config *cfg, struct rumor_summary *out)
{
    memset(out, 0, sizeof *out);
    if (rumor_config_problem(cfg) != NULL)
        return GOSSIP_ERR_INVALID;
    uint32_t workers = cfg->threads < cfg->trials ? cfg->threads : cfg->trials;
    struct run_ctx ctx = {.cfg = cfg};
    ctx.results = calloc(cfg->trials, sizeof *ctx.results);
    ctx.workspaces = calloc(workers, sizeof *ctx.workspaces);
    int rc = ctx.results && ctx.workspaces ? 0 : GOSSIP_ERR_NOMEM;
    uint32_t allocated = 0; /* workspaces to free; a failed alloc frees itself */
    while (rc == 0 && allocated < workers) {
        rc = workspace_alloc(&ctx.workspaces[allocated], cfg);
        allocated += rc == 0;
    }
    if (rc == 0) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rumor_pool_run(workers, cfg->trials, run_one, &ctx);
        out->elapsed_sec = rumor_seconds_since(&t0);
        summarize(cfg, ctx.results, out);
        if (cfg->history)
            rc = merge_history(cfg, ctx.workspaces, workers, out);
    }
    for (uint32_t w = 0; w < allocated; w++)
        workspace_free(&ctx.workspaces[w]);
    free(ctx.workspaces);
    free(ctx.results);
    if (rc != 0) {
        rumor_summary_free(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}
