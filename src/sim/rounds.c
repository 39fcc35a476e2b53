/*
 * rounds.c -- the synchronous round model (see rounds.h, docs/theory.md).
 *
 * State is two bit sets of N bits: `start`, the snapshot every node had at
 * the start of the round, and `next`, the state being built.  A round only
 * reads `start` and only ORs into `next`; then the two swap.  At N = 10^6 a
 * bit set is 125 KB, so both stay in the L2 cache, which is what makes the
 * random peer accesses cheap.
 *
 * Several kernels implement the same model:
 *   - the fast kernels (fanout 1, no loss), one per mode, written word by
 *     word without per-node branches where the mode allows, plus a
 *     prefetching push-pull variant for bit sets beyond the L2 cache;
 *   - the reference kernel (any fanout, any loss), written node by node for
 *     clarity.
 * For fanout 1 without loss all draw the same random numbers in the same
 * order, so they give bit-identical results; tests/test_rounds.c checks
 * that, which is how we trust the fast kernels.
 */
#include "sim/rounds.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip/gossip.h"

#define WORD_BITS 64u
/* Bit sets larger than this no longer fit a core's L2 cache (1 MiB on the
 * machines we measured); from there on the random accesses go to L3 or
 * DRAM, and drawing a word's peers first, with prefetches, lets those
 * accesses overlap: 3x faster at N = 10^8, but 15% slower in L2. */
#define PREFETCH_MIN_BITSET_BYTES ((size_t)1 << 20)

/* ---- modes and theory ---------------------------------------------------- */

static const char *const mode_names[] = {
    [ROUNDS_PUSH] = "push",
    [ROUNDS_PULL] = "pull",
    [ROUNDS_PUSHPULL] = "pushpull",
};

const char *rounds_mode_name(enum rounds_mode mode)
{
    if ((unsigned)mode < sizeof mode_names / sizeof mode_names[0])
        return mode_names[mode];
    return "unknown";
}

int rounds_mode_parse(const char *name, enum rounds_mode *mode)
{
    for (unsigned m = 0; m < sizeof mode_names / sizeof mode_names[0]; m++) {
        if (strcmp(name, mode_names[m]) == 0) {
            *mode = (enum rounds_mode)m;
            return 0;
        }
    }
    return GOSSIP_ERR_INVALID;
}

double rounds_theory(enum rounds_mode mode, uint32_t nodes)
{
    double n = (double)nodes;
    switch (mode) {
    case ROUNDS_PUSH:
        return log2(n) + log(n);
    case ROUNDS_PULL:
        return log2(n) + log2(log(n));
    case ROUNDS_PUSHPULL:
        return log(n) / log(3.0) + log2(log(n));
    }
    return NAN;
}

const char *rounds_theory_formula(enum rounds_mode mode)
{
    switch (mode) {
    case ROUNDS_PUSH:
        return "log2 N + ln N";
    case ROUNDS_PULL:
        return "log2 N + log2 ln N";
    case ROUNDS_PUSHPULL:
        return "log3 N + log2 ln N";
    }
    return "?";
}

/* ---- configuration --------------------------------------------------------- */

const char *rounds_config_problem(const struct rounds_config *cfg)
{
    if (cfg->nodes < 2)
        return "nodes must be at least 2";
    if (cfg->nodes > ROUNDS_MAX_NODES)
        return "nodes exceeds ROUNDS_MAX_NODES (100000000)";
    if (cfg->mode != ROUNDS_PUSH && cfg->mode != ROUNDS_PULL && cfg->mode != ROUNDS_PUSHPULL)
        return "mode must be push, pull or pushpull";
    if (cfg->fanout < 1)
        return "fanout must be at least 1";
    if (cfg->fanout >= cfg->nodes)
        return "fanout must be less than nodes";
    if (cfg->fanout > ROUNDS_MAX_FANOUT)
        return "fanout exceeds ROUNDS_MAX_FANOUT (64)";
    if (cfg->trials < 1)
        return "trials must be at least 1";
    if (cfg->trials > ROUNDS_MAX_TRIALS)
        return "trials exceeds ROUNDS_MAX_TRIALS (1000000)";
    if (!(cfg->loss >= 0.0 && cfg->loss < 1.0))
        return "loss must be in [0, 1)";
    if (cfg->threads < 1)
        return "threads must be at least 1";
    if (cfg->threads > ROUNDS_MAX_THREADS)
        return "threads exceeds ROUNDS_MAX_THREADS (256)";
    if (cfg->kernel != ROUNDS_KERNEL_AUTO && cfg->kernel != ROUNDS_KERNEL_REFERENCE &&
        cfg->kernel != ROUNDS_KERNEL_PREFETCH)
        return "unknown kernel";
    return NULL;
}

/* ---- bit sets -------------------------------------------------------------- */

struct bitsets {
    uint64_t *start; /* state at the start of the round: only read */
    uint64_t *next;  /* state after the round: only ORed into */
    size_t words;
};

static size_t words_for(uint32_t nodes)
{
    return ((size_t)nodes + WORD_BITS - 1) / WORD_BITS;
}

static int bitsets_alloc(struct bitsets *bs, uint32_t nodes)
{
    bs->words = words_for(nodes);
    bs->start = calloc(bs->words, sizeof *bs->start);
    bs->next = calloc(bs->words, sizeof *bs->next);
    if (bs->start == NULL || bs->next == NULL) {
        free(bs->start);
        free(bs->next);
        return GOSSIP_ERR_NOMEM;
    }
    return 0;
}

static void bitsets_free(struct bitsets *bs)
{
    free(bs->start);
    free(bs->next);
}

static void bitsets_swap(struct bitsets *bs)
{
    uint64_t *tmp = bs->start;
    bs->start = bs->next;
    bs->next = tmp;
}

static uint64_t bit_of(uint32_t node)
{
    return (uint64_t)1 << (node % WORD_BITS);
}

static bool bit_test(const uint64_t *set, uint32_t node)
{
    return (set[node / WORD_BITS] >> (node % WORD_BITS)) & 1u;
}

static void bit_set(uint64_t *set, uint32_t node)
{
    set[node / WORD_BITS] |= bit_of(node);
}

static uint64_t bitset_count(const uint64_t *set, size_t words)
{
    uint64_t count = 0;
    for (size_t w = 0; w < words; w++)
        count += (uint64_t)__builtin_popcountll(set[w]);
    return count;
}

/* Bits of word `w` that stand for real nodes (the last word is partial). */
static uint64_t valid_bits(uint32_t nodes, size_t w)
{
    size_t remaining = (size_t)nodes - w * WORD_BITS;
    return remaining >= WORD_BITS ? ~(uint64_t)0 : ((uint64_t)1 << remaining) - 1;
}

/* ---- peer choice ----------------------------------------------------------- */

/* A peer uniform among the N-1 nodes other than `self`: draw from
 * [0, N-1) and step over self. */
static inline uint32_t pick_peer(struct rounds_rng *rng, uint32_t self, uint32_t others)
{
    uint32_t peer = (uint32_t)rounds_rng_below(rng, others);
    return peer + (peer >= self);
}

/* `fanout` distinct peers by Floyd's sampling: exactly `fanout` draws, and
 * for fanout 1 the very same draw as pick_peer(), which keeps the fast and
 * the reference kernels in step. */
static void pick_distinct_peers(struct rounds_rng *rng, uint32_t self, uint32_t others,
                                uint32_t fanout, uint32_t *peers)
{
    uint32_t count = 0;
    for (uint32_t limit = others - fanout; limit < others; limit++) {
        uint32_t candidate = (uint32_t)rounds_rng_below(rng, (uint64_t)limit + 1);
        for (uint32_t i = 0; i < count; i++) {
            if (peers[i] == candidate) {
                candidate = limit; /* not drawn before: limit grows each step */
                break;
            }
        }
        peers[count++] = candidate;
    }
    for (uint32_t i = 0; i < fanout; i++)
        peers[i] += (peers[i] >= self);
}

/* ---- fast kernels: fanout 1, no loss ----------------------------------------- */

/* Each informed node sets its peer's bit in `next`.  Only informed nodes
 * act, so we walk the set bits of each word. */
static void round_push_fast(const uint64_t *restrict start, uint64_t *restrict next,
                            size_t words, uint32_t nodes, struct rounds_rng *shared_rng)
{
    struct rounds_rng rng = *shared_rng; /* a local copy: stores to next cannot alias it */
    uint32_t others = nodes - 1;
    for (size_t w = 0; w < words; w++) {
        uint64_t informed = start[w];
        uint32_t base = (uint32_t)(w * WORD_BITS);
        while (informed != 0) {
            uint32_t self = base + (uint32_t)__builtin_ctzll(informed);
            informed &= informed - 1;
            bit_set(next, pick_peer(&rng, self, others));
        }
    }
    *shared_rng = rng;
}

/* Each uninformed node copies its peer's bit of `start`. */
static void round_pull_fast(const uint64_t *restrict start, uint64_t *restrict next,
                            size_t words, uint32_t nodes, struct rounds_rng *shared_rng)
{
    struct rounds_rng rng = *shared_rng;
    uint32_t others = nodes - 1;
    for (size_t w = 0; w < words; w++) {
        uint64_t uninformed = ~start[w] & valid_bits(nodes, w);
        uint64_t pulled = 0;
        uint32_t base = (uint32_t)(w * WORD_BITS);
        while (uninformed != 0) {
            uint32_t bit = (uint32_t)__builtin_ctzll(uninformed);
            uninformed &= uninformed - 1;
            uint32_t peer = pick_peer(&rng, base + bit, others);
            pulled |= (uint64_t)bit_test(start, peer) << bit;
        }
        next[w] |= pulled;
    }
    *shared_rng = rng;
}

/* Push-pull, words where every node is informed: only pushes matter. */
static inline void pushpull_word_all_informed(uint64_t *restrict next, uint32_t base,
                                              uint32_t width, uint32_t others,
                                              struct rounds_rng *rng)
{
    for (uint32_t bit = 0; bit < width; bit++)
        bit_set(next, pick_peer(rng, base + bit, others));
}

/* Push-pull, words where no node is informed: only pulls matter. */
static inline uint64_t pushpull_word_none_informed(const uint64_t *restrict start,
                                                   uint32_t base, uint32_t width,
                                                   uint32_t others, struct rounds_rng *rng)
{
    uint64_t pulled = 0;
    for (uint32_t bit = 0; bit < width; bit++) {
        uint32_t peer = pick_peer(rng, base + bit, others);
        pulled |= (uint64_t)bit_test(start, peer) << bit;
    }
    return pulled;
}

/* Push-pull, mixed words: an informed node pushes (sets the peer's bit in
 * `next`), an uninformed one pulls (copies the peer's bit of `start`).  Both
 * are done unconditionally with masks -- the push of an uninformed node ORs
 * zero, the pull of an informed node sets a bit already set -- so the loop
 * has no data-dependent branch. */
static inline uint64_t pushpull_word_mixed(const uint64_t *restrict start,
                                           uint64_t *restrict next, uint64_t informed,
                                           uint32_t base, uint32_t width, uint32_t others,
                                           struct rounds_rng *rng)
{
    uint64_t pulled = 0;
    for (uint32_t bit = 0; bit < width; bit++) {
        uint32_t peer = pick_peer(rng, base + bit, others);
        uint64_t self_informed = (informed >> bit) & 1u;
        next[peer / WORD_BITS] |= bit_of(peer) & (0 - self_informed);
        pulled |= (uint64_t)bit_test(start, peer) << bit;
    }
    return pulled;
}

/* Every node draws one peer.  Early in a trial nearly every word is all
 * uninformed, late nearly every word all informed; those words take loops
 * without the useless half of the work (no stores, resp. no loads), and
 * the branch between the three is well predicted. */
static void round_pushpull_fast(const uint64_t *restrict start, uint64_t *restrict next,
                                size_t words, uint32_t nodes, struct rounds_rng *shared_rng)
{
    struct rounds_rng rng = *shared_rng; /* a local copy: stores to next cannot alias it */
    uint32_t others = nodes - 1;
    for (size_t w = 0; w < words; w++) {
        uint64_t informed = start[w];
        uint32_t base = (uint32_t)(w * WORD_BITS);
        uint32_t width = nodes - base < WORD_BITS ? nodes - base : WORD_BITS;
        if (informed == valid_bits(nodes, w))
            pushpull_word_all_informed(next, base, width, others, &rng);
        else if (informed == 0)
            next[w] |= pushpull_word_none_informed(start, base, width, others, &rng);
        else
            next[w] |= pushpull_word_mixed(start, next, informed, base, width, others, &rng);
    }
    *shared_rng = rng;
}

/* The prefetching variant of round_pushpull_fast(), for bit sets beyond
 * the L2 cache: it draws the same peers in the same order, but all of a
 * word's first, prefetching the words the pushes and pulls will touch. */
static void draw_word_peers(const uint64_t *start, const uint64_t *next, uint64_t informed,
                            uint64_t all, uint32_t base, uint32_t width, uint32_t others,
                            struct rounds_rng *rng, uint32_t *peers)
{
    bool will_pull = informed != all, will_push = informed != 0;
    for (uint32_t bit = 0; bit < width; bit++) {
        uint32_t peer = pick_peer(rng, base + bit, others);
        peers[bit] = peer;
        if (will_pull)
            __builtin_prefetch(&start[peer / WORD_BITS], 0);
        if (will_push)
            __builtin_prefetch(&next[peer / WORD_BITS], 1);
    }
}

/* One word of nodes exchanging with their drawn peers; the same masks as
 * pushpull_word_mixed(), and the same shortcuts for uniform words. */
static uint64_t exchange_with_peers(const uint64_t *restrict start, uint64_t *restrict next,
                                    uint64_t informed, uint64_t all, const uint32_t *peers,
                                    uint32_t width)
{
    uint64_t pulled = 0;
    if (informed == all) {
        for (uint32_t bit = 0; bit < width; bit++)
            bit_set(next, peers[bit]);
    } else if (informed == 0) {
        for (uint32_t bit = 0; bit < width; bit++)
            pulled |= (uint64_t)bit_test(start, peers[bit]) << bit;
    } else {
        for (uint32_t bit = 0; bit < width; bit++) {
            uint64_t self_informed = (informed >> bit) & 1u;
            next[peers[bit] / WORD_BITS] |= bit_of(peers[bit]) & (0 - self_informed);
            pulled |= (uint64_t)bit_test(start, peers[bit]) << bit;
        }
    }
    return pulled;
}

static void round_pushpull_prefetch(const uint64_t *restrict start, uint64_t *restrict next,
                                    size_t words, uint32_t nodes,
                                    struct rounds_rng *shared_rng)
{
    struct rounds_rng rng = *shared_rng;
    uint32_t others = nodes - 1;
    uint32_t peers[WORD_BITS];
    for (size_t w = 0; w < words; w++) {
        uint64_t informed = start[w], all = valid_bits(nodes, w);
        uint32_t base = (uint32_t)(w * WORD_BITS);
        uint32_t width = nodes - base < WORD_BITS ? nodes - base : WORD_BITS;
        draw_word_peers(start, next, informed, all, base, width, others, &rng, peers);
        next[w] |= exchange_with_peers(start, next, informed, all, peers, width);
    }
    *shared_rng = rng;
}

/* ---- reference kernel: any fanout, any loss ------------------------------------ */

struct round_params {
    enum rounds_mode mode;
    uint32_t nodes;
    uint32_t fanout;
    uint64_t loss_threshold; /* a message is lost when a draw is below this */
};

/* Draws nothing without loss, so that loss 0 reproduces the fast kernels. */
static bool message_lost(struct rounds_rng *rng, uint64_t loss_threshold)
{
    return loss_threshold != 0 && rounds_rng_next(rng) < loss_threshold;
}

/* One contact from `self` to `peer`.  The request carries the initiator's
 * state (push, push-pull); a peer that received a request replies with its
 * own state (pull, push-pull).  Each message is lost independently. */
static void contact(const struct round_params *p, const uint64_t *start, uint64_t *next,
                    struct rounds_rng *rng, uint32_t self, bool self_informed, uint32_t peer)
{
    if (message_lost(rng, p->loss_threshold))
        return; /* the request: no push, and no reply either */
    if (p->mode != ROUNDS_PULL && self_informed)
        bit_set(next, peer);
    if (p->mode != ROUNDS_PUSH && !message_lost(rng, p->loss_threshold) &&
        bit_test(start, peer))
        bit_set(next, self);
}

/* Returns the contacts made. */
static uint64_t round_reference(const struct round_params *p, const uint64_t *start,
                                uint64_t *next, struct rounds_rng *rng)
{
    uint32_t peers[ROUNDS_MAX_FANOUT];
    uint64_t contacts = 0;
    for (uint32_t self = 0; self < p->nodes; self++) {
        bool self_informed = bit_test(start, self);
        if ((p->mode == ROUNDS_PUSH && !self_informed) ||
            (p->mode == ROUNDS_PULL && self_informed))
            continue; /* nothing this node could give or get */
        pick_distinct_peers(rng, self, p->nodes - 1, p->fanout, peers);
        for (uint32_t i = 0; i < p->fanout; i++)
            contact(p, start, next, rng, self, self_informed, peers[i]);
        contacts += p->fanout;
    }
    return contacts;
}

/* ---- one trial ----------------------------------------------------------------- */

/* Contacts of a round in the fast kernels, where every acting node makes
 * exactly one contact: informed nodes push, uninformed ones pull. */
static uint64_t fast_contacts(enum rounds_mode mode, uint32_t nodes, uint64_t informed)
{
    switch (mode) {
    case ROUNDS_PUSH:
        return informed;
    case ROUNDS_PULL:
        return nodes - informed;
    case ROUNDS_PUSHPULL:
        return nodes;
    }
    return 0;
}

enum kernel_choice {
    KERNEL_REFERENCE,
    KERNEL_FAST,
    KERNEL_FAST_PREFETCH, /* push-pull only */
};

static enum kernel_choice choose_kernel(const struct rounds_config *cfg,
                                        const struct round_params *p, size_t words)
{
    if (cfg->kernel == ROUNDS_KERNEL_REFERENCE || cfg->fanout != 1 || p->loss_threshold != 0)
        return KERNEL_REFERENCE;
    if (cfg->mode == ROUNDS_PUSHPULL &&
        (cfg->kernel == ROUNDS_KERNEL_PREFETCH ||
         words * sizeof(uint64_t) > PREFETCH_MIN_BITSET_BYTES))
        return KERNEL_FAST_PREFETCH;
    return KERNEL_FAST;
}

static uint64_t run_round(const struct round_params *p, enum kernel_choice kernel,
                          struct bitsets *bs, uint64_t informed, struct rounds_rng *rng)
{
    memcpy(bs->next, bs->start, bs->words * sizeof *bs->next);
    if (kernel == KERNEL_REFERENCE)
        return round_reference(p, bs->start, bs->next, rng);
    switch (p->mode) {
    case ROUNDS_PUSH:
        round_push_fast(bs->start, bs->next, bs->words, p->nodes, rng);
        break;
    case ROUNDS_PULL:
        round_pull_fast(bs->start, bs->next, bs->words, p->nodes, rng);
        break;
    case ROUNDS_PUSHPULL:
        if (kernel == KERNEL_FAST_PREFETCH)
            round_pushpull_prefetch(bs->start, bs->next, bs->words, p->nodes, rng);
        else
            round_pushpull_fast(bs->start, bs->next, bs->words, p->nodes, rng);
        break;
    }
    return fast_contacts(p->mode, p->nodes, informed);
}

/* P * 2^64, so that a uniform 64-bit draw is below it with probability P. */
static uint64_t loss_threshold_of(double loss)
{
    return (uint64_t)ldexp(loss, 64); /* loss < 1, so this fits */
}

static void run_trial_with(const struct rounds_config *cfg, uint32_t trial_index,
                           struct bitsets *bs, struct rounds_trial *out)
{
    struct round_params params = {cfg->mode, cfg->nodes, cfg->fanout,
                                  loss_threshold_of(cfg->loss)};
    enum kernel_choice kernel = choose_kernel(cfg, &params, bs->words);
    struct rounds_rng rng = rounds_trial_rng(cfg->seed, trial_index);

    memset(bs->start, 0, bs->words * sizeof *bs->start);
    bit_set(bs->start, (uint32_t)rounds_rng_below(&rng, cfg->nodes));
    uint64_t informed = 1;
    uint32_t rounds = 0;
    uint64_t contacts = 0;
    while (informed < cfg->nodes && rounds < ROUNDS_MAX_ROUNDS) {
        contacts += run_round(&params, kernel, bs, informed, &rng);
        bitsets_swap(bs);
        informed = bitset_count(bs->start, bs->words);
        rounds++;
    }
    out->rounds = rounds;
    out->capped = informed < cfg->nodes;
    out->contacts = contacts;
}

int rounds_run_trial(const struct rounds_config *cfg, uint32_t trial_index,
                     struct rounds_trial *out)
{
    if (rounds_config_problem(cfg) != NULL)
        return GOSSIP_ERR_INVALID;
    struct bitsets bs;
    if (bitsets_alloc(&bs, cfg->nodes) != 0)
        return GOSSIP_ERR_NOMEM;
    run_trial_with(cfg, trial_index, &bs, out);
    bitsets_free(&bs);
    return 0;
}

/* ---- many trials on worker threads ------------------------------------------------ */

/* Workers take trial indices from a shared counter and write each result to
 * its own slot, so the set of results does not depend on scheduling. */
struct trial_pool {
    const struct rounds_config *cfg;
    struct rounds_trial *results;
    atomic_uint next_trial;
    atomic_uint trials_done;
};

static void *trial_worker(void *arg)
{
    struct trial_pool *pool = arg;
    struct bitsets bs;
    if (bitsets_alloc(&bs, pool->cfg->nodes) != 0)
        return NULL; /* other workers take the trials; if none can, run fails */
    for (;;) {
        unsigned trial = atomic_fetch_add(&pool->next_trial, 1);
        if (trial >= pool->cfg->trials)
            break;
        run_trial_with(pool->cfg, trial, &bs, &pool->results[trial]);
        atomic_fetch_add(&pool->trials_done, 1);
    }
    bitsets_free(&bs);
    return NULL;
}

/* The calling thread is one of the workers; a thread that cannot be created
 * only means fewer workers. */
static void run_pool(struct trial_pool *pool, uint32_t threads)
{
    pthread_t helpers[ROUNDS_MAX_THREADS];
    uint32_t started = 0;
    for (uint32_t i = 1; i < threads; i++) {
        if (pthread_create(&helpers[started], NULL, trial_worker, pool) != 0)
            break;
        started++;
    }
    trial_worker(pool);
    for (uint32_t i = 0; i < started; i++)
        pthread_join(helpers[i], NULL);
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least 99% of trials at or
 * below it. */
static uint32_t percentile_99(uint32_t *sorted_rounds, uint32_t count)
{
    uint32_t rank = (uint32_t)(((uint64_t)count * 99 + 99) / 100); /* ceil(0.99 count) */
    return sorted_rounds[rank - 1];
}

static int summarize(const struct rounds_config *cfg, const struct rounds_trial *results,
                     struct rounds_summary *out)
{
    uint32_t *rounds = malloc(cfg->trials * sizeof *rounds);
    if (rounds == NULL)
        return GOSSIP_ERR_NOMEM;
    double sum = 0, sum_messages = 0;
    memset(out, 0, sizeof *out);
    for (uint32_t t = 0; t < cfg->trials; t++) {
        rounds[t] = results[t].rounds;
        sum += results[t].rounds;
        sum_messages += (double)results[t].contacts / cfg->nodes;
        out->node_rounds += (uint64_t)results[t].rounds * cfg->nodes;
        out->trials_capped += results[t].capped;
    }
    out->rounds_mean = sum / cfg->trials;
    out->messages_per_node = sum_messages / cfg->trials;
    double squares = 0;
    for (uint32_t t = 0; t < cfg->trials; t++) {
        double d = rounds[t] - out->rounds_mean;
        squares += d * d;
    }
    out->rounds_stddev = sqrt(squares / cfg->trials);
    qsort(rounds, cfg->trials, sizeof *rounds, compare_u32);
    out->rounds_min = rounds[0];
    out->rounds_p99 = percentile_99(rounds, cfg->trials);
    out->rounds_max = rounds[cfg->trials - 1];
    free(rounds);
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

int rounds_run(const struct rounds_config *cfg, struct rounds_summary *out)
{
    if (rounds_config_problem(cfg) != NULL)
        return GOSSIP_ERR_INVALID;
    struct trial_pool pool = {.cfg = cfg};
    pool.results = calloc(cfg->trials, sizeof *pool.results);
    if (pool.results == NULL)
        return GOSSIP_ERR_NOMEM;
    atomic_init(&pool.next_trial, 0);
    atomic_init(&pool.trials_done, 0);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_pool(&pool, cfg->threads < cfg->trials ? cfg->threads : cfg->trials);
    double elapsed = seconds_since(&t0);

    int rc = GOSSIP_ERR_NOMEM; /* no worker could allocate its bit sets */
    if (atomic_load(&pool.trials_done) == cfg->trials)
        rc = summarize(cfg, pool.results, out);
    if (rc == 0) {
        out->elapsed_sec = elapsed;
        out->node_rounds_per_sec = elapsed > 0 ? (double)out->node_rounds / elapsed : 0;
    }
    free(pool.results);
    return rc;
}
