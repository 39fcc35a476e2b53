/*
 * run_sim.h -- the discrete-event simulation behind `gossip-sim run`.
 *
 * Real libgossip nodes (the production engine, unchanged) exchange
 * datagrams over a virtual network: every send becomes a DELIVER event at
 * now + sampled latency, unless the loss draw or an active partition drops
 * it.  Each node sees only its own drifting local clock.  Events are ordered
 * by (virtual time, insertion sequence), all randomness comes from PRNGs
 * derived from the run seed, so one seed reproduces a run exactly.
 */
#ifndef GOSSIP_SIM_RUN_SIM_H
#define GOSSIP_SIM_RUN_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gossip/gossip.h"
#include "sim/scenario.h"

/* Up to this many live nodes the invariant is checked for every (observer,
 * subject) pair with gossip_node_member_find: O(N^2) lookups.  Beyond it,
 * one observer is checked against every subject and all others must agree
 * with it on gossip_node_table_hash: O(N). */
#define SIM_PAIRWISE_CHECK_MAX_NODES 2000u
/* Room for the first invariant violation, printed with the seed. */
#define SIM_MAX_VIOLATION 512u
/* The engine never suspects for less than this many probe intervals
 * (its SUSPICION_FLOOR_PROBES, documented in docs/failure-detection.md). */
#define SIM_SUSPICION_FLOOR_PROBES 3u
/* Room for a diagnostic note (slowest detection, split hold-out). */
#define SIM_MAX_NOTE 160u

struct sim_result {
    uint64_t seed;
    uint32_t nodes;
    uint32_t live_nodes;          /* at the end */
    uint32_t writes;              /* writes issued */
    uint32_t writes_complete;     /* reached every live node */
    uint32_t writes_skipped;      /* the chosen node was down */
    uint32_t writes_abandoned;    /* writer killed before completion */
    double write_p50_ms;          /* over complete writes; 0 if none */
    double write_p99_ms;
    double write_max_ms;
    double packets_per_node_per_sec; /* sent, over live node-time */
    double bytes_per_node_per_sec;
    uint64_t packets_sent;
    uint64_t bytes_sent;
    uint64_t packets_lost;        /* loss draws */
    uint64_t packets_partitioned; /* dropped by an active partition */
    uint64_t packets_to_down;     /* arrived at a node that was down */
    uint64_t packets_misaddressed;/* sent to an address no node has */
    uint64_t recv_errors;         /* gossip_node_recv returned an error */
    uint32_t kills;
    uint32_t restarts;
    uint64_t max_generation;      /* highest generation any node started with */
    uint64_t virtual_ms;
    uint64_t events;              /* events processed (stale ticks included) */
    uint64_t peak_queue;          /* most events pending at once */
    uint64_t check_at_ms;         /* last fault + settle_ms */
    int settle_check_ok;          /* invariant at check_at_ms */
    int end_check_ok;             /* invariant at the end */
    uint64_t safety_violations;   /* changes learnt that their owner never had */
    /* failure detection (run_fd.c; docs/simulator.md) */
    uint32_t stalls;              /* stalls that hit a live node */
    uint32_t leaves;              /* nodes that called gossip_node_leave */
    uint32_t left;                /* of those, nodes gossip_node_has_left let go */
    uint32_t detections;          /* kills for good seen dead by every live node */
    uint32_t kills_undetected;    /* kills for good not (yet) seen dead by all */
    double detection_p50_ms;      /* kill -> every live node holds it dead */
    double detection_p99_ms;
    double detection_max_ms;
    uint64_t false_dead;          /* DEAD about an up subject, no partition to blame */
    uint64_t partition_dead;      /* DEAD about an up subject across a recent split */
    uint64_t left_marked_dead;    /* DEAD about a node that left gracefully */
    uint64_t suspicions;          /* sum of stats.suspicions */
    uint64_t refuted_suspicions;  /* sum of stats.refutations */
    uint64_t probes, probes_failed, indirect_probes, declared_dead; /* sums of stats */
    double split_dead_fraction;   /* lowest over partitions; -1 without partitions */
    uint32_t probe_interval_ms;   /* effective engine setting */
    double memberlist_suspicion_ms; /* 4 x max(1, log10 N) x probe interval */
    double detection_ratio_vs_memberlist; /* detection_p50_ms / the above */
    char slowest_detection[SIM_MAX_NOTE]; /* which kill, and the last node to see it */
    char split_holdout[SIM_MAX_NOTE];     /* a cross-side pair not held dead at split end */
    int invariant_ok;             /* both checks, no safety violation, no false or
                                     left-marked death */
    char violation[SIM_MAX_VIOLATION]; /* first violation, "" if none */
};

struct sim_run;

/* Builds the nodes' start events; the scenario must outlive the run.
 * Returns NULL with a message in err on failure. */
struct sim_run *sim_run_new(const struct scenario *s, uint64_t seed, char *err, size_t errlen);
void sim_run_free(struct sim_run *run);

/* Processes every event due at or before `virtual_ms` (capped at the
 * scenario's duration).  Returns 0, or -1 with err set if the simulator
 * itself failed (out of memory, engine refused a configuration). */
int sim_run_until(struct sim_run *run, uint64_t virtual_ms, char *err, size_t errlen);

/* Runs to the end (including the final invariant check) and fills *out. */
int sim_run_finish(struct sim_run *run, struct sim_result *out, char *err, size_t errlen);

/* The engine of node `index`, or NULL while it is down.  For tests. */
gossip_node *sim_run_engine(const struct sim_run *run, uint32_t index);
/* The name of node `index` ("n<index>"); its address is the same string. */
const char *sim_run_node_name(const struct sim_run *run, uint32_t index);

/* Writes every membership change any node reports about node `subject`
 * (joins, restarts, alive/suspect/dead/left/reaped), and the subject's own
 * starts, kills, stalls and leaves, one line each to `out` with the virtual
 * time: what --trace prints.  Does not change the run. */
void sim_run_trace(struct sim_run *run, FILE *out, uint32_t subject);

/* The engine's suspicion timeout for this scenario's settings (run_fd.c):
 * min = max(suspicion_min_mult x max(1, log10 N), SIM_SUSPICION_FLOOR_PROBES)
 * x probe interval, max = suspicion_max_mult x min (docs/failure-detection.md).
 * The simulator's limits and the tests' bounds derive from them. */
double sim_fd_min_suspicion_ms(const struct scenario *s);
double sim_fd_max_suspicion_ms(const struct scenario *s);

/* Convenience: new + finish + free. */
int sim_run_scenario(const struct scenario *s, uint64_t seed, struct sim_result *out,
                     char *err, size_t errlen);

/* Output (run_report.c).  Only virtual-time figures: byte-identical for one
 * seed. */
void sim_result_print_json(FILE *out, const struct sim_result *r);
void sim_result_print_table(FILE *out, const struct sim_result *r);

#endif
