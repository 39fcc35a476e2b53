/*
 * kv_sim_internal.h -- what the three parts of `gossip-sim kv` share:
 * kv_sim.c (the world: events, network, faults), kv_sim_node.c (one
 * replica as the agent runs it: log, rumors, sessions, collection) and
 * kv_sim_check.c (the oracle of acknowledged writes and the checks).
 *
 * Every constant below is the agent's (src/agent/kv_agent.c) unless it
 * says otherwise; the simulator copies the agent's policy because the
 * agent itself is tied to libuv and TCP.
 */
#ifndef GOSSIP_SIM_KV_SIM_INTERNAL_H
#define GOSSIP_SIM_KV_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/kv.h"
#include "core/kv_wire.h"
#include "core/recon.h"
#include "sim/des.h"
#include "sim/kv_sim.h"

#define KVS_TICK_MS 50              /* each replica's timer */
#define KVS_RUMOR_INTERVAL_MS 200   /* a hot rumor is pushed again this often */
#define KVS_MAX_HOT 4096            /* rumors spreading at once per replica */
#define KVS_MAX_ROUNDS 40           /* a rumor nobody acknowledges stops after this many */
#define KVS_MAX_SESSIONS 4          /* sessions at once per replica, both roles */
#define KVS_IDLE_MS 2000            /* a silent session is aborted (the agent's floor) */
#define KVS_GC_MS 1000              /* collection runs this often */
#define KVS_SYNC_MS 1000            /* received entries reach the disk within this */
#define KVS_COMPACT_MIN (64u << 10) /* the log is compacted past this size ... */
#define KVS_COMPACT_RATIO 2         /* ... when it is this many times the live data */
#define KVS_MAX_MESSAGE (64u << 20) /* a reassembled session message */
#define KVS_FRAME_ROOM (64u << 10)  /* sim: bytes of one rumor frame */
#define KVS_CHUNK 4096              /* sim: bytes of a session message per chunk */
#define KVS_KEY_BYTES 24            /* sim: the stores' max_key */
#define KVS_VALUE_BYTES 64          /* sim: the stores' max_value */
#define KVS_T0_MS UINT64_C(1764000000000) /* sim: the wall clock at virtual time 0 */
#define KVS_CHECK_MS 10             /* sim: convergence is checked this often once faults end */
#define KVS_RECHECK_MS 100          /* ... and at least this often when nothing changed */

/* Faults (sim only). */
#define KVS_CRASH_EVERY_MS 2000     /* one crash per this much of the fault phase, cluster-wide */
#define KVS_DOWN_MIN_MS 100         /* a crashed replica is down for [min, max] */
#define KVS_DOWN_MAX_MS 3000
#define KVS_PARTITION_EVERY_MS 10000 /* one partition per this much of the fault phase */
#define KVS_PARTITION_MIN_MS 1000   /* a partition lasts [min, max] */
#define KVS_PARTITION_MAX_MS 8000
#define KVS_TEAR_CORRUPT 4          /* 1 crash in this many also damages a byte of the kept tail */

enum kvs_phase {
    KVS_FAULTS = 0, /* writes, faults, anti-entropy */
    KVS_SETTLE = 1,  /* faults over: anti-entropy until identical */
    KVS_COLLECT = 2, /* identical: anti-entropy and collection until quiet */
    KVS_DRAIN = 3,   /* quiet: no new sessions or rumor rounds; in-flight ones finish */
    KVS_DONE = 4,
};

enum kvs_event {
    KVS_EV_TICK = 1,       /* a replica's timer; arg = its life */
    KVS_EV_DELIVER = 2,    /* message slot arg reaches node */
    KVS_EV_WRITE = 3,      /* write attempt number arg */
    KVS_EV_CRASH = 4,      /* a random live replica crashes */
    KVS_EV_RESTART = 5,    /* node restarts; arg = its life when it crashed */
    KVS_EV_PART_START = 6, /* partition arg begins */
    KVS_EV_PART_END = 7,   /* partition arg heals */
    KVS_EV_FAULTS_END = 8, /* no more writes or faults: heal, restart, settle */
    KVS_EV_CHECK = 9,      /* are the replicas identical yet? */
    KVS_EV_DEADLINE = 10,  /* the settling phase gives up */
};

enum kvs_msg_kind { KVS_RUMOR = 0, KVS_FEEDBACK = 1, KVS_SESSION = 2 };

typedef struct kvs_hot {
    uint32_t key;
    recon_version v;
    uint32_t knew, rounds;
    uint64_t due_us;
} kvs_hot;

typedef struct kvs_sess {
    bool used, initiator;
    bool wait_ack; /* KV_SIM_GC_ACKED: done by our last message; waiting for the peer's DONE */
    uint64_t sid;
    uint32_t peer;
    recon_session *rs;
    recon_store store;
    uint64_t started_wall; /* this replica's wall clock at the start */
    uint64_t last_us;
    uint8_t *in;
    uint32_t in_total, in_have, in_cap;
} kvs_sess;

typedef struct kvs_peer {
    uint64_t wall_ms;  /* start of the last session completed with it (0: none) */
    uint64_t tried_ms; /* start of the last session we opened with it */
} kvs_peer;

struct kvs_world;

typedef struct kvs_node {
    struct kvs_world *w;
    uint32_t id;
    kv_store *s; /* NULL while down */
    bool up;
    uint32_t life;       /* grows at every start and crash: stale ticks are ignored */
    uint32_t generation; /* grows at every start: a new writer id */
    int64_t offset_ms;
    struct des_rng rng;
    recon_buf durable; /* the log on disk, synced */
    recon_buf pending; /* appended but not synced: a crash keeps a prefix of it */
    bool from_rumor;
    kvs_hot *hot;
    size_t n_hot, cap_hot;
    kvs_sess sess[KVS_MAX_SESSIONS];
    kvs_peer *peers; /* [nodes], in memory: lost at a crash */
    uint64_t next_ae_us, next_gc_us, next_sync_us;
    uint8_t side; /* in a partition */
} kvs_node;

/* A replica that collected a tombstone of the key: floor = the version. */
typedef struct kvs_floor {
    uint32_t node;
    recon_version v;
} kvs_floor;

/* The oracle of one key: the winner of its acknowledged writes. */
typedef struct kvs_key {
    bool acked, tomb, resurrected;
    recon_version v;
    uint32_t vlen;
    uint8_t value[KVS_VALUE_BYTES];
    kvs_floor *floors;
    uint32_t n_floors, cap_floors;
} kvs_key;

typedef struct kvs_msg {
    uint32_t from, to, len, next_free;
    uint8_t *data;
} kvs_msg;

typedef struct kvs_world {
    const kv_sim_config *c;
    kv_sim_result *r;
    kvs_node *nodes;
    kvs_key *keys;
    double *zipf; /* cumulative, [keys] */
    uint32_t *tmp_peers;
    struct des_queue q;
    struct des_rng sched, net, work;
    uint64_t now_us, faults_end_us;
    kvs_msg *msgs;
    uint32_t n_msgs, cap_msgs, free_msg;
    uint64_t *fifo; /* [from * nodes + to]: the last delivery time on the link */
    uint64_t in_flight;
    uint32_t open_sessions;
    bool partitioned;
    uint32_t partition_id;
    enum kvs_phase phase;
    uint64_t changes, checked_changes, checked_us;
    recon_buf scratch, feedback;
    int err;
} kvs_world;

/* kv_sim.c */
uint64_t kvs_wall(const kvs_world *w, const kvs_node *n);
/* Hands a message to the network; false when it was dropped at once. */
bool kvs_send(kvs_world *w, uint32_t from, uint32_t to, const uint8_t *p, size_t len,
              enum kvs_msg_kind kind);
/* The replicas up, other than `self`, into w->tmp_peers: the agent's view
 * of the alive members (the simulator's failure detector is perfect). */
uint32_t kvs_up_peers(kvs_world *w, uint32_t self);
void kvs_key_name(uint32_t key, char out[16], size_t *len);

/* kv_sim_node.c */
int kvs_node_start(kvs_world *w, kvs_node *n);
void kvs_node_crash(kvs_world *w, kvs_node *n);
void kvs_node_tick(kvs_world *w, kvs_node *n);
void kvs_node_deliver(kvs_world *w, kvs_node *n, uint32_t from, const uint8_t *p, size_t len);
/* A local write on an up replica; records it in the oracle when acknowledged. */
void kvs_node_write(kvs_world *w, kvs_node *n, uint32_t key, bool del, uint64_t serial);
void kvs_node_free(kvs_node *n);

/* kv_sim_check.c */
int kvs_key_index(const kvs_world *w, const recon_entry *e, uint32_t *out);
void kvs_oracle_ack(kvs_world *w, uint32_t key, const recon_entry *e);
int kvs_note_collected(kvs_world *w, uint32_t node, uint32_t key, recon_version v);
/* Called for every entry a replica stores from elsewhere (merge or log
 * replay, once the replay is over): an older live version than a tombstone
 * it collected is a resurrection. */
void kvs_check_comeback(kvs_world *w, uint32_t node, uint32_t key, const recon_entry *e);
void kvs_check_replayed(kvs_world *w, kvs_node *n);
bool kvs_identical(const kvs_world *w);
/* Tombstones held, summed over the live replicas. */
uint64_t kvs_tombstones(const kvs_world *w);
/* Must every tombstone be collected before the deadline?  Only when the
 * horizon can pass within it. */
static inline bool kvs_must_collect(const kv_sim_config *c)
{
    return c->horizon_ms < c->deadline_ms;
}
void kvs_final_checks(kvs_world *w);

#endif
