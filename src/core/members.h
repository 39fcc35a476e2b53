/*
 * members.h -- membership: the (incarnation, status) record of every member,
 * SWIM probing with Lifeguard, suspicion, refutation, news piggybacking.
 *
 * The record is a join semilattice within a generation: a higher
 * incarnation wins; at the same incarnation alive < suspect < dead < left.
 * Only the member itself raises its incarnation (refuting a suspicion);
 * anyone may raise the status.  A new generation (a restart) resets the
 * record to (0, alive).  See docs/failure-detection.md.
 */
#ifndef GOSSIP_CORE_MEMBERS_H
#define GOSSIP_CORE_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/phi.h"
#include "wire/wire.h"

typedef struct gossip_node gossip_node;

/* Bounds on the membership machinery's own tables. */
#define NEWS_MAX 128            /* queued membership events */
#define SUSPICIONS_MAX 256      /* concurrent suspicion timers */
#define SUSPECT_CONFIRM_MAX 8   /* distinct confirmers remembered per suspicion */
#define RELAYS_MAX 32           /* indirect probes relayed for others at once */
#define PROBE_HELPERS_MAX 16    /* members asked to probe indirectly */
#define MONITOR_WINDOW 100      /* inter-arrival samples kept per monitored peer */
#define QUARANTINE_MAX 256      /* recently forgotten members remembered */
#define CORRECTIONS_MAX 4       /* refutations a sender missed, answered first per datagram */
/* No honest member refutes 2^62 times in one generation; a record above it
 * is refused, so that "incarnation + 1" can never wrap. */
#define MEMBERS_MAX_INCARNATION GOSSIP_MAX_INCARNATION
/* The shortest suspicion, in probe intervals, whatever N: log10 N alone gives
 * 1.7 s at N = 50, shorter than a 2 s GC pause plus the refutation. */
#define SUSPICION_FLOOR_PROBES 3
/* Every PROBE_RING_EVERY-th probe goes to our ring successor: the next live
 * member after us in the order of RING_HASH_SEED-hashed names, which is the
 * same order at every node.  So every live member is probed by its ring
 * predecessor at least every PROBE_RING_EVERY probe intervals, which bounds
 * the wait for the first probe of a failed member (random round-robin
 * alone leaves it exponential cluster-wide).  The other probes go round
 * the random order as before. */
#define PROBE_RING_EVERY 2
#define RING_HASH_SEED UINT64_C(0x72696e67) /* "ring" */

/* A member we forgot: gossip from peers that have not forgotten it yet
 * must not bring it back (Cassandra's "just removed endpoints"). */
typedef struct quarantined {
    uint64_t name_hash;
    uint64_t generation;
    uint64_t until_ms;
} quarantined;

/* A monitored peer: phi accrual over the arrivals of its datagrams. */
typedef struct monitor {
    bool used;
    uint32_t idx;
    uint64_t name_hash;
    phi_detector det;
    uint32_t ring[MONITOR_WINDOW];
} monitor;

typedef struct news_item {
    uint32_t idx;               /* endpoint the news is about */
    uint64_t generation;
    uint64_t incarnation;
    uint8_t status;
    uint32_t transmits;
    char from[GOSSIP_MAX_NAME + 1];
} news_item;

typedef struct suspicion {
    uint32_t idx;
    uint64_t generation;
    uint64_t incarnation;
    uint64_t start_ms;
    uint64_t deadline_ms;
    uint32_t confirmations;
    uint64_t confirmers[SUSPECT_CONFIRM_MAX]; /* name hashes */
} suspicion;

typedef struct relay {
    bool used;
    uint64_t seq;               /* our PING's sequence number */
    uint64_t their_seq;         /* the requester's */
    uint64_t deadline_ms;
    char requester[GOSSIP_MAX_ADDR + 1];
} relay;

typedef struct probe {
    bool active;
    bool acked;
    bool direct_acked;          /* the target's own ack came (an RTT sample) */
    bool indirect_sent;
    uint32_t target;
    uint64_t seq;
    uint64_t start_ms;          /* when the PING left: round-trip times */
    uint64_t indirect_at_ms;
    uint64_t end_ms;
    uint32_t nacks_expected;
    uint32_t nacks;
} probe;

typedef struct members {
    news_item news[NEWS_MAX];
    uint32_t n_news;
    suspicion susp[SUSPICIONS_MAX];
    uint32_t n_susp;
    relay relays[RELAYS_MAX];
    probe pr;
    uint64_t next_seq;
    uint64_t next_probe_ms;
    uint32_t *order;            /* randomised round-robin probe order */
    uint32_t order_len;
    uint32_t order_cap;
    uint32_t order_pos;
    uint32_t priority_target;   /* probe this one next (a fresh suspect, or the
                                 * target of an inconclusive probe); TABLE_NONE */
    uint32_t inconclusive_target; /* the member of the current run of ... */
    uint32_t inconclusive_run;    /* ... inconclusive probes in a row */
    uint32_t probe_turn;        /* probes started: every PROBE_RING_EVERY-th is the ring's */
    uint64_t live_epoch;        /* bumped when the set of live members or indices change */
    uint64_t ring_epoch;        /* live_epoch when ring_succ was found (0: never) */
    uint32_t ring_succ;         /* our ring successor; TABLE_NONE */
    /* Members whose refutation the sender of the datagram being handled has
     * not seen (its record has a lower incarnation than ours): our answer
     * carries their news first.  Cleared for every datagram. */
    uint32_t corrections[CORRECTIONS_MAX];
    uint32_t n_corrections;
    uint32_t count[4];          /* members by status, ourselves included */
    uint32_t awareness;         /* Lifeguard local health */
    monitor *mon;               /* cfg.monitored_peers slots */
    quarantined quarantine[QUARANTINE_MAX];
    uint32_t quarantine_pos;
    uint64_t next_reap_ms;
    uint64_t phi_deferred;      /* suspicions phi talked us out of */
    bool leaving;
    bool left;
    uint64_t leave_deadline_ms;
} members;

void members_init(gossip_node *n);
void members_free(gossip_node *n);

/* A membership record of endpoint `idx` in `generation` arrived (digest,
 * delta or news), raised by `from` (a name; may be empty). */
void members_merge_record(gossip_node *n, uint32_t idx, uint64_t generation,
                          uint64_t incarnation, uint8_t status, const char *from,
                          size_t from_len, uint64_t now_ms);
/* Endpoint `idx` was just learnt: it joins the probe order at a random
 * place of the current cycle (SWIM section 4.3), not at the next cycle. */
void members_on_new(gossip_node *n, uint32_t idx);
/* Endpoint `idx` was just added or restarted (status reset to alive). */
void members_on_reset(gossip_node *n, uint32_t idx, uint8_t old_status);
bool members_is_live(const gossip_node *n, uint32_t idx);

/* Piggybacking: news into an open writer (about `target` first, if any);
 * received news applied. */
void members_write_news(gossip_node *n, wire_writer *w, uint32_t target, size_t budget);
void members_apply_news(gossip_node *n, const wire_msg *m, uint64_t now_ms);

/* SWIM. */
void swim_tick(gossip_node *n, uint64_t now_ms);
uint64_t swim_next_deadline(const gossip_node *n);
void swim_on_msg(gossip_node *n, const char *from_addr, const wire_msg *m, uint64_t now_ms);

/* Suspicion: our own failed probe, the timers, their earliest deadline. */
void members_suspect(gossip_node *n, uint32_t idx, uint64_t now_ms);
void members_expire_suspicions(gossip_node *n, uint64_t now_ms);
uint64_t members_next_suspicion_deadline(const gossip_node *n);

/* Phi accrual over a bounded set of monitored peers. */
void monitor_on_datagram(gossip_node *n, wire_str from, uint64_t now_ms);
void monitor_adopt(gossip_node *n, uint32_t idx, uint64_t now_ms);
/* phi of member idx, or -1 when it is not monitored. */
double monitor_phi(const gossip_node *n, uint32_t idx, uint64_t now_ms);
/* Second opinion on a failed probe: true when the member was heard from
 * recently and phi is below the threshold, so the failure is likely loss. */
bool monitor_vouches(const gossip_node *n, uint32_t idx, uint64_t now_ms);

/* Forgets dead and left members older than reap_timeout_ms. */
void members_reap(gossip_node *n, uint64_t now_ms);
/* Was (name, generation) forgotten recently? */
bool members_quarantined(const gossip_node *n, const char *name, size_t len,
                         uint64_t generation, uint64_t now_ms);

int members_leave(gossip_node *n, uint64_t now_ms);
/* Force-leave: a suspect or dead member becomes left (see gossip.h). */
int members_force_leave(gossip_node *n, uint32_t idx, uint64_t now_ms);
void members_leave_progress(gossip_node *n, uint64_t now_ms);

#endif
