/*
 * rounds.h -- the synchronous round model of one rumor.
 *
 * N nodes, one of them holds a rumor.  Time advances in rounds; in every
 * round each node contacts `fanout` distinct peers drawn uniformly from the
 * other N-1 nodes, and information moves only according to the state every
 * node had at the start of the round (a snapshot, double-buffered).  We
 * count rounds until all N nodes hold the rumor.  docs/theory.md defines the
 * model precisely and compares it with the classic formulas.
 *
 * Trials are independent: trial i draws from a PRNG seeded from
 * (seed, i), so the results depend only on the configuration, never on the
 * number of worker threads or on scheduling.
 */
#ifndef GOSSIP_SIM_ROUNDS_H
#define GOSSIP_SIM_ROUNDS_H

#include <stdbool.h>
#include <stdint.h>

/* Limits.  Each one is documented in docs/theory.md and `gossip-sim rounds
 * --help`. */
#define ROUNDS_MAX_NODES 100000000u /* two bit sets of 12.5 MB per thread */
#define ROUNDS_MAX_FANOUT 64u       /* peers are kept distinct by a linear scan */
#define ROUNDS_MAX_TRIALS 1000000u  /* one small record per trial is kept */
#define ROUNDS_MAX_THREADS 256u
/* A trial stops after this many rounds even if some node is still
 * uninformed (a loss close to 1 would otherwise run for ages); it is then
 * counted as `capped` and contributes ROUNDS_MAX_ROUNDS to the statistics. */
#define ROUNDS_MAX_ROUNDS 100000u

enum rounds_mode {
    ROUNDS_PUSH = 0,     /* informed nodes send the rumor to their peers */
    ROUNDS_PULL = 1,     /* uninformed nodes ask their peers for it */
    ROUNDS_PUSHPULL = 2, /* every node exchanges state with its peers */
};

enum rounds_kernel {
    ROUNDS_KERNEL_AUTO = 0,  /* the fastest that applies (the default) */
    ROUNDS_KERNEL_REFERENCE, /* node by node, any fanout and loss */
    /* push-pull, fanout 1, no loss: draw a word's peers first and prefetch
     * their bit-set words (chosen automatically beyond the L2 cache) */
    ROUNDS_KERNEL_PREFETCH,
};

struct rounds_config {
    uint32_t nodes;        /* N, 2..ROUNDS_MAX_NODES */
    enum rounds_mode mode;
    uint32_t fanout;       /* K, 1..min(N-1, ROUNDS_MAX_FANOUT) */
    uint32_t trials;       /* 1..ROUNDS_MAX_TRIALS */
    uint64_t seed;
    double loss;           /* probability that one message is lost, [0, 1) */
    uint32_t threads;      /* worker threads, 1..ROUNDS_MAX_THREADS */
    /* Which implementation runs the rounds.  Every kernel gives identical
     * results by construction; tests force one to check the others. */
    enum rounds_kernel kernel;
};

/* The outcome of one trial. */
struct rounds_trial {
    uint32_t rounds;   /* rounds until all nodes were informed (or the cap) */
    bool capped;       /* ROUNDS_MAX_ROUNDS reached first */
    uint64_t contacts; /* (initiator, peer) contacts made, see docs/theory.md */
};

/* Statistics over all trials.  Everything except `elapsed_sec` and
 * `node_rounds_per_sec` is a pure function of the configuration. */
struct rounds_summary {
    double rounds_mean;
    double rounds_stddev;     /* population standard deviation */
    uint32_t rounds_min;
    uint32_t rounds_p99;      /* nearest-rank 99th percentile */
    uint32_t rounds_max;
    uint32_t trials_capped;   /* trials that hit ROUNDS_MAX_ROUNDS */
    double messages_per_node; /* mean over trials of contacts / N */
    uint64_t node_rounds;     /* sum over trials of N * rounds */
    double elapsed_sec;       /* wall-clock time of the whole run */
    double node_rounds_per_sec;
};

/* Returns NULL if `cfg` is acceptable, else a static message naming the
 * offending field. */
const char *rounds_config_problem(const struct rounds_config *cfg);

/* Runs all trials on cfg->threads threads.  Returns 0, GOSSIP_ERR_INVALID
 * (see rounds_config_problem) or GOSSIP_ERR_NOMEM. */
int rounds_run(const struct rounds_config *cfg, struct rounds_summary *out);

/* Runs trial number `trial_index` alone on the calling thread. */
int rounds_run_trial(const struct rounds_config *cfg, uint32_t trial_index,
                     struct rounds_trial *out);

/* "push", "pull", "pushpull". */
const char *rounds_mode_name(enum rounds_mode mode);
/* Returns 0 and sets *mode, or GOSSIP_ERR_INVALID for an unknown name. */
int rounds_mode_parse(const char *name, enum rounds_mode *mode);

/* The asymptotic estimate of the mean rounds for fanout 1 without loss:
 * push log2 N + ln N, pull log2 N + log2 ln N, push-pull
 * log3 N + log2 ln N. */
double rounds_theory(enum rounds_mode mode, uint32_t nodes);
/* The formula above as text, e.g. "log2 N + ln N". */
const char *rounds_theory_formula(enum rounds_mode mode);

/* The PRNG of the model, exposed so that bench/bench_rounds.c can drive its
 * straightforward baseline with exactly the same generator.  wyrand: a
 * 64-bit counter passed through a multiply-fold; fast and statistically
 * good enough for simulation (passes BigCrush and PractRand). */
struct rounds_rng {
    uint64_t state;
};

/* SplitMix64 finaliser: turns correlated seeds (0, 1, 2 ...) into
 * well-spread 64-bit values. */
static inline uint64_t rounds_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static inline uint64_t rounds_rng_next(struct rounds_rng *rng)
{
    rng->state += 0xa0761d6478bd642fu;
    unsigned __int128 product =
        (unsigned __int128)rng->state * (rng->state ^ 0xe7037ed1a0b428dbu);
    return (uint64_t)(product >> 64) ^ (uint64_t)product;
}

/* A uniform integer in [0, range), range >= 1, by Lemire's multiply-high
 * reduction.  The rejection step keeps it exactly uniform; it is taken with
 * probability below range / 2^64, so it costs one predictable compare. */
static inline uint64_t rounds_rng_below(struct rounds_rng *rng, uint64_t range)
{
    unsigned __int128 product = (unsigned __int128)rounds_rng_next(rng) * range;
    uint64_t low = (uint64_t)product;
    if (low < range) {
        uint64_t threshold = (0 - range) % range;
        while (low < threshold) {
            product = (unsigned __int128)rounds_rng_next(rng) * range;
            low = (uint64_t)product;
        }
    }
    return (uint64_t)(product >> 64);
}

/* The generator of trial `trial_index` of a run seeded with `seed`. */
static inline struct rounds_rng rounds_trial_rng(uint64_t seed, uint32_t trial_index)
{
    struct rounds_rng rng = {rounds_splitmix64(seed ^ rounds_splitmix64(trial_index))};
    return rng;
}

#endif
