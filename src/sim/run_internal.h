/*
 * run_internal.h -- state shared by the pieces of the simulator:
 * run_sim.c (event loop, virtual network), run_writes.c (write
 * propagation tracking) and run_check.c (the convergence invariant).
 */
#ifndef GOSSIP_SIM_RUN_INTERNAL_H
#define GOSSIP_SIM_RUN_INTERNAL_H

#include <stdint.h>

#include "gossip/gossip.h"
#include "sim/des.h"
#include "sim/run_sim.h"
#include "sim/scenario.h"

/* "n" + the digits of any uint32_t + NUL (SCN_MAX_NODES keeps it at 6). */
#define SIM_MAX_NODE_NAME 12
#define SIM_NO_WRITE (-1)
#define SIM_NO_DETECTION (-1)
#define US_PER_MS 1000u

/* PRNG streams derived from the run seed (des_rng_make's `stream`). */
enum sim_stream {
    SIM_STREAM_NETWORK = 1,
    SIM_STREAM_WRITES = 2,
    SIM_STREAM_SETUP = 3,     /* start times, clock drift and offsets */
    SIM_STREAM_FAULTS = 4,    /* fault generators: which nodes, when */
    SIM_STREAM_NODE_BASE = 16 /* + node index: the engine's seed */
};

/* Why a node's engine is NULL. */
enum sim_down_reason {
    SIM_DOWN_NOT_STARTED = 0,
    SIM_DOWN_KILLED = 1,
    SIM_DOWN_LEFT = 2,        /* left gracefully: gossip_node_has_left said so */
};

struct sim_node {
    struct sim_run *run;       /* callbacks get the node; they need the run */
    gossip_node *engine;       /* NULL while down */
    uint32_t index;
    uint32_t life;             /* bumped on every start and kill: stale ticks */
    uint64_t generation;       /* of the current (or last) incarnation */
    struct des_clock clock;
    uint64_t tick_due_us;      /* time of the valid pending tick, or UINT64_MAX */
    uint64_t up_since_us;
    uint64_t up_total_us;      /* live time of finished incarnations */
    int32_t pending_writes;    /* head of this writer's pending-write list */
    uint64_t stalled_until_us; /* processes nothing before this; 0: not stalled */
    int leaving;               /* gossip_node_leave called, not left yet */
    enum sim_down_reason down_reason; /* while engine is NULL */
    int32_t detection;         /* its pending detection (run_fd.c) or SIM_NO_DETECTION */
    char name[SIM_MAX_NODE_NAME];
};

/* The faults of one run: the scenario's explicit ones plus what its
 * generators drew from the run seed (run_plan.c). */
struct sim_plan {
    struct scn_kill *kills;
    uint32_t kill_count;
    struct scn_stall *stalls;
    uint32_t stall_count;
    struct scn_leave *leaves;
    uint32_t leave_count;
};

enum sim_detection_state {
    SIM_DETECTION_PENDING = 0,
    SIM_DETECTION_COMPLETE = 1,
    SIM_DETECTION_ABANDONED = 2, /* the subject came back first */
};

/* A node killed for good, and which live nodes hold it dead (or do not
 * know it any more): complete once every live node does. */
struct sim_detection {
    uint32_t subject;
    enum sim_detection_state state;
    uint64_t killed_us;
    uint64_t done_us;
    uint32_t holders;
    uint32_t last_observer;    /* the last to hold it dead (or to go down) */
    uint64_t *held;            /* bit per observer; freed once settled */
};

/* Failure-detection bookkeeping of a run (run_fd.c). */
struct sim_fd {
    int probing;               /* effective probe_interval_ms > 0 */
    uint32_t probe_interval_ms;
    uint64_t partition_grace_us; /* a DEAD this soon after a split is explained by it */
    uint64_t suspect_limit_ms; /* a suspicion older than this (observer's clock) is stuck */
    struct sim_detection *detections;
    uint32_t detection_count, detection_capacity;
    struct sim_deferred *deferred;
    uint32_t deferred_count, deferred_capacity;
    gossip_stats freed;        /* stats of engines already freed, summed */
};

enum sim_write_state {
    SIM_WRITE_PENDING = 0,
    SIM_WRITE_COMPLETE = 1,
    SIM_WRITE_ABANDONED = 2,   /* the writer went down first */
};

/* One issued write and which live nodes hold it (a bit per node). */
struct sim_write {
    const char *key;           /* points into the scenario */
    uint32_t writer;
    enum sim_write_state state;
    uint64_t generation;       /* writer's generation when written */
    uint64_t version;          /* version the engine gave the key */
    uint64_t at_us;
    uint64_t done_us;
    uint32_t holders;          /* live nodes holding version >= ours */
    int32_t next_pending;      /* next write of the same writer */
    uint64_t *held;            /* nodes bits; freed once not pending */
};

/* A JOIN or RESTART seen by `observer` about `subject` while `subject` had
 * pending writes: checked with gossip_node_get_state once the engine call
 * that reported it has returned (the callback must not call back in). */
struct sim_deferred {
    uint32_t observer;
    uint32_t subject;
};

struct sim_run {
    const struct scenario *scn;
    uint64_t seed;
    uint64_t now_us;
    uint64_t end_us;
    uint64_t check_at_us;
    struct des_queue queue;
    struct des_packet_pool pool;
    struct des_rng net_rng;       /* loss and latency draws */
    struct des_rng write_rng;     /* "node": "random" */
    struct sim_node *nodes;
    uint32_t live_count;
    int failed;                   /* out of memory inside a callback */

    /* partitions active at now_us, recomputed at each boundary */
    uint32_t *active_partitions;
    uint32_t active_partition_count;
    uint64_t next_partition_change_us;

    struct sim_write *writes;
    uint32_t write_count;
    uint32_t oldest_pending;      /* writes below are all settled */
    struct sim_deferred *deferred;
    uint32_t deferred_count, deferred_capacity;
    size_t bitmap_words;

    int settle_checked;
    struct sim_plan plan;
    struct sim_fd fd;
    FILE *trace;                  /* sim_run_trace; NULL: off */
    uint32_t trace_subject;
    struct sim_result result;
};

/* run_writes.c */
int sim_writes_init(struct sim_run *run);
void sim_writes_free(struct sim_run *run);
/* Issues scenario write `index` at now_us. */
int sim_write_issue(struct sim_run *run, uint32_t index);
void sim_writes_on_change(struct sim_node *observer, const gossip_change *change);
/* Runs the JOIN/RESTART checks queued during the last engine call. */
void sim_writes_run_deferred(struct sim_run *run);
/* A node went down: it holds nothing any more, its own writes are lost. */
void sim_writes_on_kill(struct sim_run *run, uint32_t node);
void sim_writes_summarise(struct sim_run *run, struct sim_result *r);

/* run_check.c: 0 if every live node agrees on every live node's state;
 * else -1 and the first violation is described in run->result.violation. */
int sim_check_invariant(struct sim_run *run, const char *when);
/* Per-step safety: what `observer` just learnt, its owner really has. */
void sim_check_change(struct sim_node *observer, const gossip_change *change);

/* run_sim.c */
int32_t sim_node_index_of(const struct sim_run *run, const char *name);
/* Whether a partition explains `observer` taking `subject` for dead now:
 * an active partition separates them, or one that cut the subject off from
 * others ended less than grace_us ago (the other side's verdict spreads to
 * everyone once the split heals; the subject then refutes it). */
int sim_partition_explains_dead(const struct sim_run *run, uint32_t observer,
                                uint32_t subject, uint64_t grace_us);

/* run_trace.c: --trace output, a no-op unless sim_run_trace was called. */
void sim_trace_change(const struct sim_node *observer, const gossip_change *change);
void sim_trace_fault(const struct sim_run *run, uint32_t node, const char *what);

/* run_plan.c: expands the scenario's generators with the run seed. */
int sim_plan_build(struct sim_plan *plan, const struct scenario *s, uint64_t seed);
void sim_plan_free(struct sim_plan *plan);
/* The last fault this plan really has (generators drew their times): the
 * settle check runs settle_ms after it.  Never later than
 * scenario_last_fault_ms, which bounds it for validation. */
uint64_t sim_plan_last_fault_ms(const struct sim_plan *plan, const struct scenario *s);

/* run_fd.c: detection times, false deaths, split checks, SWIM counters. */
int sim_fd_init(struct sim_run *run);
void sim_fd_free(struct sim_run *run);
/* After `node` started (its engine is up and counted live). */
void sim_fd_on_start(struct sim_run *run, uint32_t node);
/* After `node` went down (engine freed, live count lowered); `permanent`:
 * killed with no restart planned, so its detection is measured. */
void sim_fd_on_down(struct sim_run *run, uint32_t node, int permanent);
/* Before an engine is freed: keeps its counters for the totals. */
void sim_fd_keep_stats(struct sim_run *run, const gossip_node *engine);
void sim_fd_on_change(struct sim_node *observer, const gossip_change *change);
/* Re-reads the (observer, subject) pairs the last engine call changed. */
void sim_fd_run_deferred(struct sim_run *run);
/* At the end of partition `index`: the fraction of cross-group pairs of
 * live nodes in which the observer holds the subject dead. */
void sim_fd_split_check(struct sim_run *run, uint32_t index);
void sim_fd_summarise(struct sim_run *run, struct sim_result *r);

#endif
