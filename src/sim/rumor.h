/*
 * rumor.h -- rumor mongering in the synchronous round model (Demers et
 * al. 1987, section 1.4), with an anti-entropy backstop, and the broadcast
 * vs gossip hot-spot comparison.
 *
 * N nodes, one of them (drawn at random) starts with a hot rumor.  Every
 * node is susceptible (never informed), infective (informed and still
 * spreading) or removed (informed, lost interest).  In every round each
 * infective node pushes the rumor to one peer drawn uniformly from the other
 * N-1 nodes; after a push it may "react" and lose interest:
 *
 *   blind     reacts after every push;
 *   feedback  reacts only when the peer already knew the rumor;
 *   coin      on each reaction, loses interest with probability 1/k;
 *   counter   loses interest at its k-th reaction.
 *
 * docs/rumor-mongering.md defines the model precisely (in particular what a
 * node informed during round r sees and does in round r) and compares the
 * results with Demers et al.'s tables and the fixed point s = exp(-k(1-s)).
 *
 * Like the round model (rounds.h), trial i draws every random number from
 * rounds_trial_rng(seed, i) and runs alone on one thread, so the results
 * depend on the configuration only, never on the number of threads.
 */
#ifndef GOSSIP_SIM_RUMOR_H
#define GOSSIP_SIM_RUMOR_H

#include <stdbool.h>
#include <stdint.h>

/* Limits; each one is documented in docs/rumor-mongering.md and in
 * `gossip-sim rumor --help`. */
#define RUMOR_MAX_NODES 10000000u /* ~7 bytes per node per worker thread */
#define RUMOR_MAX_K 1000u         /* counters are 16-bit */
#define RUMOR_MAX_TRIALS 1000000u
#define RUMOR_MAX_THREADS 256u
/* A trial stops after this many rounds; it is then reported as capped.  No
 * configuration within the other limits gets close: the slowest, a coin at
 * k = 1000, dies out after about k ln N rounds, some 16,000 at N = 10^7. */
#define RUMOR_MAX_ROUNDS 100000u
#define RUMOR_MAX_AE_EVERY 100000u
/* --history keeps the mean state after each of the first rounds. */
#define RUMOR_HISTORY_ROUNDS 1000u
#define RUMOR_MAX_FANOUT 64u /* hot-spot gossip: distinct peers by a linear scan */

enum rumor_variant {
    RUMOR_FEEDBACK_COUNTER = 0,
    RUMOR_FEEDBACK_COIN = 1,
    RUMOR_BLIND_COUNTER = 2,
    RUMOR_BLIND_COIN = 3,
};

enum rumor_schedule {
    /* every push of round r is decided from the state at the start of
     * round r (a snapshot): the default, as in `gossip-sim rounds` */
    RUMOR_SCHEDULE_SYNC = 0,
    /* in every round the nodes act one at a time in a fresh random order,
     * each seeing everything done before it in that round */
    RUMOR_SCHEDULE_SEQUENTIAL = 1,
};

enum rumor_ae_mode {
    RUMOR_AE_NONE = 0,
    RUMOR_AE_AFTER = 1, /* once the rumor has died, every round */
    RUMOR_AE_EVERY = 2, /* every `ae_every` rounds, from the first round */
};

struct rumor_config {
    uint32_t nodes; /* N, 2..RUMOR_MAX_NODES */
    enum rumor_variant variant;
    uint32_t k;      /* 1..RUMOR_MAX_K */
    uint32_t trials; /* 1..RUMOR_MAX_TRIALS */
    uint64_t seed;
    uint32_t threads; /* 1..RUMOR_MAX_THREADS */
    enum rumor_schedule schedule;
    /* feedback-counter only: a push to a node that did not know the rumor
     * resets the counter, so a node stops after k unnecessary pushes in a
     * row (the counter behind the traffic bounds of Demers et al.) */
    bool counter_reset;
    enum rumor_ae_mode ae_mode;
    uint32_t ae_every; /* RUMOR_AE_EVERY: 1..RUMOR_MAX_AE_EVERY, else 0 */
    bool history;      /* fill rumor_summary.history_* */
};

/* The outcome of one trial. */
struct rumor_trial {
    uint32_t uninformed;      /* nodes never informed when the rumor died */
    uint32_t rounds;          /* rounds until no node was infective */
    uint32_t t_last;          /* round in which the last node was informed by the rumor */
    uint64_t informed_rounds; /* sum over nodes informed by the rumor of that round */
    uint32_t rumor_informed;  /* nodes informed by the rumor, the first holder excluded */
    uint64_t pushes;          /* rumor messages sent */
    uint32_t max_sent;        /* most pushes sent by one node */
    uint32_t max_received;    /* most pushes received by one node */
    bool capped;              /* RUMOR_MAX_ROUNDS reached first */
    /* with anti-entropy */
    uint32_t zero_round;      /* round at whose end every node was informed */
    uint32_t ae_rounds;       /* anti-entropy rounds until then */
    uint64_t ae_exchanges;    /* push-pull exchanges until then */
    uint32_t final_uninformed;/* nodes uninformed at the end of the trial */
};

/* Statistics over all trials.  Everything but elapsed_sec is a pure
 * function of the configuration. */
struct rumor_summary {
    double residue_mean, residue_stddev, residue_min, residue_max;
    double traffic_mean, traffic_stddev; /* pushes per node */
    double t_last_mean, t_last_stddev;
    uint32_t t_last_max;
    double t_ave_mean; /* mean over trials of the mean informing round */
    double rounds_mean; /* rounds until the rumor died */
    uint32_t rounds_max;
    double max_sent_mean;
    uint32_t max_sent_max;
    double max_received_mean;
    uint32_t max_received_max;
    uint32_t trials_capped;
    /* the mean-field fixed point for coin variants, NaN otherwise */
    double theory_residue;
    /* anti-entropy (ae_mode != RUMOR_AE_NONE) */
    double zero_round_mean;
    uint32_t zero_round_max;
    double ae_rounds_mean;
    uint32_t ae_rounds_max;
    double ae_exchanges_per_node; /* mean over trials */
    uint32_t final_uninformed_max;
    /* --history: mean over trials of the uninformed and the infective
     * fractions at the end of rounds 0..history_len-1 (round 0 is the
     * start); a trial that has ended keeps its final state */
    uint32_t history_len;
    double *history_uninformed;
    double *history_infective;
    double elapsed_sec;
};

/* NULL if acceptable, else a static message naming the offending field. */
const char *rumor_config_problem(const struct rumor_config *cfg);

/* Runs all trials.  Returns 0, GOSSIP_ERR_INVALID or GOSSIP_ERR_NOMEM.
 * Free the summary with rumor_summary_free(). */
int rumor_run(const struct rumor_config *cfg, struct rumor_summary *out);
void rumor_summary_free(struct rumor_summary *s);

/* Runs trial `trial_index` alone on the calling thread. */
int rumor_run_trial(const struct rumor_config *cfg, uint32_t trial_index,
                    struct rumor_trial *out);

/* "feedback-counter", "feedback-coin", "blind-counter", "blind-coin". */
const char *rumor_variant_name(enum rumor_variant v);
int rumor_variant_parse(const char *name, enum rumor_variant *v);
const char *rumor_schedule_name(enum rumor_schedule s);
int rumor_schedule_parse(const char *name, enum rumor_schedule *s);

/* The mean-field residue: the root in (0, 1) of s = exp(-m(1-s)), where m
 * is the pushes per informed node (k for blind-coin, k + 1 for
 * feedback-coin); 1 when m <= 1 (no outbreak).  NaN for counters. */
double rumor_theory_residue(enum rumor_variant v, uint32_t k);
/* s = exp(-m(1-s)) solved for s in [0, 1). */
double rumor_fixed_point(double m);

/* ---- broadcast vs gossip: the hot spot --------------------------------- */

struct hotspot_config {
    uint32_t nodes;     /* 2..RUMOR_MAX_NODES */
    uint32_t send_rate; /* M: messages a node can send per round, >= 1 */
    uint32_t fanout;    /* gossip peers per round, 1..min(M, N-1, RUMOR_MAX_FANOUT) */
    uint32_t trials;
    uint64_t seed;
    uint32_t threads;
};

struct hotspot_row {
    double max_sent_mean;      /* the busiest sender's messages */
    uint32_t max_sent_max;
    double sent_per_node;      /* all messages / N */
    double max_received_mean;  /* the busiest receiver's messages */
    uint32_t max_received_max;
    double rounds_mean;        /* until every node was informed */
    uint32_t rounds_max;
};

struct hotspot_summary {
    struct hotspot_row broadcast; /* the source sends to all, M per round */
    struct hotspot_row gossip;    /* push, every informed node `fanout` per round */
    uint32_t trials_capped;
    double elapsed_sec;
};

const char *hotspot_config_problem(const struct hotspot_config *cfg);
int hotspot_run(const struct hotspot_config *cfg, struct hotspot_summary *out);

/* `gossip-sim rumor` (src/sim/cmd_rumor.c); argv[0] is "rumor". */
int sim_cmd_rumor(int argc, char **argv);

/* ---- shared by rumor.c and rumor_hotspot.c (not an API) ----------------- */

/* Runs fn(ctx, worker, trial) for every trial in [0, trials) on up to
 * `threads` threads (the caller is one of them); `worker` < the returned
 * number of workers, each running on one thread at a time.  Results must
 * go to per-trial slots so that they do not depend on scheduling. */
uint32_t rumor_pool_run(uint32_t threads, uint32_t trials,
                        void (*fn)(void *ctx, uint32_t worker, uint32_t trial), void *ctx);
struct timespec;
double rumor_seconds_since(const struct timespec *t0);

#endif
