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
    char name[SIM_MAX_NODE_NAME];
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

#endif
