/*
 * kv_sim.h -- `gossip-sim kv`: the property test of the replicated
 * key-value store at cluster scale, in virtual time.
 *
 * N replicas, each the real store (core/kv.h) with its own writer id and a
 * wall clock offset from the others, exchange the real messages
 * (core/kv_wire.h: rumors, their feedback, anti-entropy sessions cut into
 * chunks) over a simulated network with latency, loss and partitions.
 * Anti-entropy sessions are the real recon_session (core/recon.h); replicas
 * crash, losing their memory and the unsynced tail of their log, and
 * restart by replaying the log through the real log scanner.  Tombstones
 * are collected with the agent's rule.  Every acknowledged write is
 * recorded; when the faults stop the replicas must end identical, every key
 * at the last-writer-wins winner of its acknowledged writes, and no
 * collected delete may come back.  docs/kv.md, "Simulator property test",
 * says what is checked and how precisely.
 *
 * One seed gives one run: every random choice draws from des_rng streams
 * of the seed, and events are ordered by (time, insertion).
 */
#ifndef GOSSIP_SIM_KV_SIM_H
#define GOSSIP_SIM_KV_SIM_H

#include <stdbool.h>
#include <stdint.h>

/* Bounds of the command line (and of kv_sim_run). */
#define KV_SIM_MAX_NODES 1000
#define KV_SIM_MAX_KEYS 100000
#define KV_SIM_MAX_WRITES 1000000
#define KV_SIM_MAX_DURATION_MS 3600000u /* the write-and-fault phase: one hour */
#define KV_SIM_MAX_DEADLINE_MS 3600000u /* the settling phase after it */
#define KV_SIM_MAX_HORIZON_MS 86400000u
#define KV_SIM_MAX_LATENCY_MS 10000u
#define KV_SIM_MAX_SKEW_MS 10000u
#define KV_SIM_MIN_AE_MS 100u           /* two ticks of the replicas' timer */
#define KV_SIM_MAX_AE_MS 600000u
#define KV_SIM_MAX_LOSS 0.9
#define KV_SIM_MAX_FANOUT 64u
#define KV_SIM_MAX_RUMOR_K 100u

/* method: 0 picks one at random per session (half auto, a quarter each
 * Merkle and IBLT); else a recon_method. */
#define KV_SIM_METHOD_MIXED 0

/* Deliberate bugs, to show that the checks bite (tests/test_kv_sim.sh). */
enum kv_sim_bug {
    KV_SIM_BUG_NONE = 0,
    KV_SIM_BUG_DROP_MERGE = 1, /* replica 0 drops every entry it receives */
    KV_SIM_BUG_GC_UNSAFE = 2,  /* tombstones collected at the horizon, without the session rule */
};

/* Which completed sessions count for tombstone collection (the time
 * passed to kv_gc as safe_ms is the oldest start of the last counted
 * session with each member). */
enum kv_sim_gc_rule {
    /* As src/agent/kv_agent.c does: the side that received the session's
     * last message counts it and answers DONE; the side that sent it counts
     * the session only when that DONE arrives.  The default. */
    KV_SIM_GC_ACKED = 0,
    /* The agent's rule before 2026-11-25, kept to show why it changed: both
     * sides count a session once their part is done -- including the side
     * whose own reply ended it, although that reply may never arrive (a
     * lost message, a broken connection). */
    KV_SIM_GC_EAGER = 1,
};

typedef struct kv_sim_config {
    uint32_t nodes;
    uint32_t keys;             /* distinct keys */
    uint32_t writes;           /* write attempts (puts and deletes) */
    double delete_fraction;    /* of the write attempts */
    double loss;               /* every message is lost with this probability */
    uint32_t latency_min_ms, latency_max_ms; /* per message, uniform; FIFO per link */
    bool partitions, restarts;
    uint32_t anti_entropy_ms;  /* the session period, jittered to [0.5, 1.5) of it */
    uint64_t horizon_ms;       /* the tombstone horizon (kv_config.horizon_ms) */
    uint64_t duration_ms;      /* writes and faults happen in [0, duration) */
    uint64_t deadline_ms;      /* the settling phase ends unconverged after this */
    uint32_t skew_ms;          /* clock offsets are uniform in [-skew, +skew] */
    uint32_t fanout;           /* rumor fanout (0: anti-entropy only) */
    uint32_t rumor_k;          /* a rumor stops after this many "knew it" */
    bool zipf;                 /* keys by Zipf(1) rank, else uniform */
    int method;                /* KV_SIM_METHOD_MIXED or a recon_method */
    int gc_rule;               /* enum kv_sim_gc_rule */
    int bug;                   /* enum kv_sim_bug */
    uint64_t seed;
} kv_sim_config;

void kv_sim_config_init(kv_sim_config *c);

typedef struct kv_sim_result {
    uint64_t seed;
    /* writes */
    uint64_t puts_acked, deletes_acked;
    uint64_t deletes_absent;   /* deletes of a key the replica did not hold: refused, not acked */
    uint64_t writes_no_node;   /* attempts when every replica was down */
    uint64_t writes_failed;    /* any other refusal (none expected) */
    /* rumors */
    uint64_t rumor_messages, rumor_entries, rumor_entries_new, feedback_messages;
    uint64_t rumors_unacked;   /* stopped after KV_SIM_MAX_ROUNDS without enough feedback */
    /* sessions, counted by their initiator */
    uint64_t sessions, sessions_completed, sessions_aborted;
    uint64_t sessions_equal, sessions_merkle, sessions_iblt, sessions_fell_back;
    uint64_t sessions_refused;     /* responder had no free slot */
    uint64_t sessions_stale;       /* a message of a session the responder no longer has: aborted */
    uint64_t session_timeouts;     /* either side gave up waiting */
    uint64_t sessions_final_lost;  /* a side finished a session; its last message was dropped */
    uint64_t sessions_acked;       /* KV_SIM_GC_ACKED: last messages acknowledged by DONE */
    uint64_t acks_missing;         /* KV_SIM_GC_ACKED: ... not acknowledged: not counted */
    uint64_t session_messages, session_bytes;
    uint64_t session_entries;      /* entries received by either side */
    /* the network */
    uint64_t messages_sent, bytes_sent;
    uint64_t messages_lost;        /* never delivered: the three below */
    uint64_t messages_lost_random, messages_partitioned, messages_to_down;
    uint64_t msgs_rejected;        /* refused by kv_msg_parse (none expected) */
    uint64_t session_msgs_rejected;/* refused by recon_session_recv (none expected) */
    /* faults and the log */
    uint64_t restarts, partitions;
    uint64_t torn_tails, corrupt_tails, log_bytes_cut, records_replayed, compactions;
    /* tombstones */
    uint64_t tombstones_collected, expired_refused;
    uint64_t collected_in_faults;  /* of tombstones_collected, while writes and faults went on */
    /* the verdict */
    bool converged;
    uint64_t converge_ms;          /* from the end of the faults until identical */
    uint64_t end_ms;               /* virtual time when the run stopped */
    bool collect_required;         /* horizon < deadline: every tombstone must be collected */
    bool collected;                /* no tombstone left on any replica */
    uint64_t collect_ms;           /* from the end of the faults until quiet */
    uint64_t tombstones_left;      /* past the horizon and not collected, at the end */
    bool identical;
    uint64_t lost_writes;          /* keys not at their acknowledged winner somewhere */
    uint64_t resurrected;          /* keys where a collected delete came back */
    uint64_t index_mismatches;     /* replicas whose recon_index differs from a rebuilt one */
    uint64_t live_keys, tombstones_held; /* at the end, on replica 0 */
    uint64_t events;
    bool ok;
} kv_sim_result;

/* 0, GOSSIP_ERR_INVALID (a bad config) or GOSSIP_ERR_NOMEM.  A run whose
 * checks fail returns 0 with r->ok false. */
int kv_sim_run(const kv_sim_config *c, kv_sim_result *r);

/* `gossip-sim kv` (cmd_kv.c). */
int sim_cmd_kv(int argc, char **argv);

#endif
