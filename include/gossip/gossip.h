/*
 * gossip.h -- the one public header of libgossip.
 *
 * libgossip is a sans-I/O engine: it never reads a clock, opens a socket,
 * draws global randomness or prints.  Time comes in as `now_ms`, datagrams
 * go out through `gossip_callbacks.send`, randomness is a per-node PRNG
 * seeded from `gossip_config.seed`.  The same code therefore runs inside the
 * agent (libuv), the simulator (a virtual clock) and the tests.
 *
 * Error convention: functions return 0 (GOSSIP_OK) or a negative
 * GOSSIP_ERR_* code; gossip_strerror() names it.
 */
#ifndef GOSSIP_GOSSIP_H
#define GOSSIP_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GOSSIP_VERSION_STRING "0.1.0"

/* ---- errors ------------------------------------------------------------ */

enum gossip_error {
    GOSSIP_OK = 0,
    GOSSIP_ERR_NOMEM = -1,      /* the allocator said no */
    GOSSIP_ERR_INVALID = -2,    /* bad argument or configuration */
    GOSSIP_ERR_TRUNCATED = -3,  /* input ends inside a field */
    GOSSIP_ERR_BAD_MAGIC = -4,  /* not a gossip datagram */
    GOSSIP_ERR_BAD_VERSION = -5,/* protocol version we do not speak */
    GOSSIP_ERR_BAD_TYPE = -6,   /* unknown message type or wrong field type */
    GOSSIP_ERR_OVERSIZE = -7,   /* a field or the datagram exceeds a limit */
    GOSSIP_ERR_MALFORMED = -8,  /* structurally invalid MessagePack */
    GOSSIP_ERR_TOO_MANY = -9,   /* a count exceeds a configured bound */
    GOSSIP_ERR_NOT_FOUND = -10, /* no such member or key */
    GOSSIP_ERR_FULL = -11,      /* a bounded table is full */
    GOSSIP_ERR_NO_SPACE = -12,  /* output buffer too small */
};

/* A static, human-readable name for an error code ("unknown error" for
 * anything not listed). */
const char *gossip_strerror(int err);

/* ---- limits (compile-time ceilings; runtime bounds live in the config) -- */

#define GOSSIP_MAX_NAME 64        /* bytes in a member name, without NUL */
#define GOSSIP_MAX_ADDR 64        /* bytes in an address string, without NUL */
#define GOSSIP_MAX_KEY 64         /* bytes in an application-state key */
#define GOSSIP_MIN_MTU 512        /* smallest datagram budget we accept */
#define GOSSIP_MAX_MTU 65000      /* largest datagram budget we accept */

/* Well-known application-state keys.  They travel as small integers on the
 * wire; any other key travels as a string. */
#define GOSSIP_KEY_STATUS "status"
#define GOSSIP_KEY_LOAD "load"
#define GOSSIP_KEY_SCHEMA "schema"
#define GOSSIP_KEY_ADDRESS "address"
#define GOSSIP_KEY_TAGS "tags"
#define GOSSIP_KEY_TOKENS "tokens"

/* ---- configuration ----------------------------------------------------- */

enum gossip_mode {
    GOSSIP_MODE_PUSH = 0,     /* send deltas of recent changes, no reply */
    GOSSIP_MODE_PULL = 1,     /* send digests, the peer answers with deltas */
    GOSSIP_MODE_PUSHPULL = 2, /* SYN / ACK / ACK2 three-way handshake */
};

typedef struct gossip_allocator {
    void *(*malloc)(void *ud, size_t size);
    void *(*realloc)(void *ud, void *ptr, size_t size);
    void (*free)(void *ud, void *ptr);
    void *ud;
} gossip_allocator;

#define GOSSIP_CONFIG_VERSION 1

/* How a node loses interest in a rumor (Demers et al. 1987): after every
 * push (blind) or when a peer says it knew (feedback); after k such
 * reactions (counter) or with probability 1/k on each (coin). */
enum gossip_rumor_stop {
    GOSSIP_RUMOR_FEEDBACK_COUNTER = 0,
    GOSSIP_RUMOR_FEEDBACK_COIN = 1,
    GOSSIP_RUMOR_BLIND_COUNTER = 2,
    GOSSIP_RUMOR_BLIND_COIN = 3,
};
#define GOSSIP_MAX_RUMOR_FANOUT 16
#define GOSSIP_MAX_EVENT_BUFFER 256
#define GOSSIP_MAX_EVENT_NAME 64
/* Application-state keys reserved for event slots; gossip_node_set_state
 * refuses them, gossip_node_foreach_key lists them like any key. */
#define GOSSIP_EVENT_KEY_PREFIX "_ev."
#define GOSSIP_MAX_RUMORS 1024

typedef struct gossip_config {
    uint32_t struct_version;     /* GOSSIP_CONFIG_VERSION */
    const char *name;            /* unique member name (1..GOSSIP_MAX_NAME bytes) */
    const char *addr;            /* advertised address; opaque to the engine */
    uint64_t generation;         /* bumped on every restart (e.g. epoch seconds) */
    uint64_t seed;               /* seeds the node's PRNG; same seed, same run */
    enum gossip_mode mode;       /* default GOSSIP_MODE_PUSHPULL */
    uint32_t fanout;             /* peers per period; default 1 */
    uint32_t gossip_interval_ms; /* period T; default 1000 */
    uint32_t mtu;                /* datagram budget in bytes; default 1400 */
    uint32_t max_members;        /* endpoint table bound; default 100000 */
    uint32_t max_keys;           /* app-state keys per endpoint; default 64 */
    uint32_t max_value_size;     /* bytes per app-state value; default 512 */
    uint32_t max_seeds;          /* seed addresses kept; default 16 */
    uint32_t syn_window;         /* digests from the rotating window per SYN; default 8 */

    /* Failure detection: SWIM probes with Lifeguard (docs/failure-detection.md) */
    uint32_t probe_interval_ms;  /* one probe per interval; default 1000; 0: no probing */
    uint32_t probe_timeout_ms;   /* direct ack deadline before indirect probes; default 500 */
    uint32_t indirect_checks;    /* members asked to probe indirectly; default 3 */
    uint32_t suspicion_min_mult; /* min suspicion = mult * log10(N) * probe interval; default 1 */
    uint32_t suspicion_max_mult; /* max suspicion = this * min (no confirmations); default 3 */
    uint32_t retransmit_mult;    /* news retransmits = mult * ceil(log10(N + 1)); default 4 */
    uint32_t awareness_max;      /* Lifeguard local health 0..max-1; default 8 */
    uint32_t reap_timeout_ms;    /* dead and left members kept this long; default 3600000 */
    uint32_t leave_timeout_ms;   /* graceful leave waits at most this long; default 5000 */
    uint32_t monitored_peers;    /* phi-accrual detectors kept (bounded set); default 16 */
    uint32_t phi_threshold_x100; /* phi second opinion before suspicion, x100; default 800 */
    uint32_t burst_datagrams;    /* datagrams one answer may span when far behind; default 4 */
    int heartbeat_bump;          /* Cassandra-style: bump heartbeat every period */
    const gossip_allocator *allocator; /* NULL: libc */
    /* The self member's initial incarnation in its generation (default 0),
     * at most GOSSIP_MAX_INCARNATION.  An agent that restarts within the
     * same generation persists and restores it, so that its first record
     * is not older than what the cluster last heard from it. */
    uint64_t incarnation;

    /* Rumor mongering (Demers 1987) on top of anti-entropy; docs/rumor-mongering.md.
     * A change this node makes, or learns from a rumor push, is pushed at
     * once to rumor_fanout random live peers and again every period until the
     * node loses interest.  0 (the default): anti-entropy only. */
    uint32_t rumor_fanout;       /* peers per rumor push, 0..GOSSIP_MAX_RUMOR_FANOUT */
    enum gossip_rumor_stop rumor_stop; /* when to lose interest; default feedback-counter */
    uint32_t rumor_k;            /* Demers' k: reactions (counter) or 1/k chance (coin); default 3 */
    uint32_t max_rumors;         /* hot rumors kept, 1..GOSSIP_MAX_RUMORS; default 64 */

    /* User events (gossip_node_event): each member keeps its last
     * event_buffer events in reserved state keys (GOSSIP_EVENT_KEY_PREFIX),
     * so a member that was away catches up on what fits the buffer.
     * 0 turns events off.  Events whose Lamport time is <= event_ltime_floor
     * are not delivered: a restarted program passes the clock it saw last
     * (gossip_node_event_clock) and gets only what it missed. */
    uint32_t event_buffer;       /* slots per member, 0..GOSSIP_MAX_EVENT_BUFFER; default 16 */
    uint32_t max_event_size;     /* payload bytes; default 256 (and 9 + name +
                                  * payload must fit max_value_size) */
    uint64_t event_ltime_floor;  /* default 0 */

    /* Probes that no helper answered (not even with a nack) accuse nobody:
     * the silence says more about our network than about the target, which
     * is probed again at once.  At most this many such probes of a member
     * in a row; the next one counts as failed.  Default 2. */
    uint32_t inconclusive_retries;
} gossip_config;

/* The largest incarnation the engine accepts in a record or the config: no
 * honest member refutes 2^62 times in one generation, and refusing more
 * keeps a refutation's "incarnation + 1" from wrapping. */
#define GOSSIP_MAX_INCARNATION (UINT64_C(1) << 62)

/* Fills `cfg` with the defaults above (name and addr NULL). */
void gossip_config_init(gossip_config *cfg);

enum gossip_member_status {
    GOSSIP_STATUS_ALIVE = 0,
    GOSSIP_STATUS_SUSPECT = 1,
    GOSSIP_STATUS_DEAD = 2,
    GOSSIP_STATUS_LEFT = 3,
};

/* "alive", "suspect", "dead", "left" (or "unknown"). */
const char *gossip_status_name(int status);

/* ---- callbacks --------------------------------------------------------- */

/* A JOIN or RESTART is reported first; every key that the same delta
 * brought is then reported as a STATE change of its own. */
enum gossip_change_kind {
    GOSSIP_CHANGE_JOIN = 1,       /* a member we did not know */
    GOSSIP_CHANGE_RESTART = 2,    /* a known member with a higher generation */
    GOSSIP_CHANGE_STATE = 3,      /* an application-state key got a newer value */
    GOSSIP_CHANGE_ALIVE = 4,      /* a suspected or dead member is alive again */
    GOSSIP_CHANGE_SUSPECT = 5,    /* this node now suspects the member */
    GOSSIP_CHANGE_DEAD = 6,       /* this node now holds the member dead */
    GOSSIP_CHANGE_LEFT = 7,       /* the member left gracefully */
    GOSSIP_CHANGE_REAPED = 8,     /* a dead or left member was forgotten */
    GOSSIP_CHANGE_EVENT = 9,      /* a user event: key = its name, value = payload,
                                   * version = its Lamport time, name = who fired it */
};

typedef struct gossip_change {
    enum gossip_change_kind kind;
    const char *name;             /* the member the change is about */
    uint64_t generation;
    const char *key;              /* GOSSIP_CHANGE_STATE only */
    const uint8_t *value;         /* GOSSIP_CHANGE_STATE only; NULL if deleted */
    size_t value_len;
    uint64_t version;             /* version of the key (or max version) */
    uint64_t incarnation;         /* status changes: the member's incarnation */
    uint32_t flags;               /* GOSSIP_CHANGE_EVENT: GOSSIP_EVENT_* bits */
} gossip_change;

enum gossip_log_level {
    GOSSIP_LOG_DEBUG = 0,
    GOSSIP_LOG_INFO = 1,
    GOSSIP_LOG_WARN = 2,
    GOSSIP_LOG_ERROR = 3,
};

#define GOSSIP_CALLBACKS_VERSION 1

typedef struct gossip_callbacks {
    uint32_t struct_version;      /* GOSSIP_CALLBACKS_VERSION */
    /* Send one datagram of `len` <= mtu bytes to `addr`.  Must not call back
     * into the node.  Required. */
    void (*send)(void *ud, const char *addr, const uint8_t *buf, size_t len);
    /* Endpoint state changed (optional). */
    void (*on_change)(void *ud, const gossip_change *change);
    /* Diagnostics (optional); `msg` is a logfmt fragment. */
    void (*log)(void *ud, enum gossip_log_level level, const char *msg);
} gossip_callbacks;

/* ---- the node ---------------------------------------------------------- */

typedef struct gossip_node gossip_node;

int gossip_node_new(gossip_node **out, const gossip_config *cfg,
                    const gossip_callbacks *cb, void *ud);
void gossip_node_free(gossip_node *node);

/* Adds a seed address to contact while this node knows no other member. */
int gossip_node_add_seed(gossip_node *node, const char *addr);

/* Starts an exchange with `addr` now, whatever the node already knows: a SYN
 * in push-pull and pull mode, a PUSH in push mode (one datagram, through
 * `send`).  `addr` is also remembered as a seed, like gossip_node_add_seed()
 * (when the seed list is full the contact still happens), and the seed
 * retry backoff starts over.  Use it to join a running cluster or to merge
 * two clusters.  GOSSIP_ERR_INVALID for an empty, oversize (> GOSSIP_MAX_ADDR)
 * or NULL address, our own address, or a node that has left. */
int gossip_node_contact(gossip_node *node, const char *addr, uint64_t now_ms);

/* Runs whatever periodic work is due at `now_ms` (gossip rounds).  Call it
 * at gossip_node_next_deadline() or later; calling early is harmless.  The
 * first tick runs a round at once. */
int gossip_node_tick(gossip_node *node, uint64_t now_ms);
/* When the next tick is due: 0 before the first tick (due now), then the
 * time of the next round on the node's clock. */
uint64_t gossip_node_next_deadline(const gossip_node *node);

/* Feeds one received datagram.  Returns a negative error for input that was
 * rejected; a rejected datagram changes nothing but the error counters. */
int gossip_node_recv(gossip_node *node, const char *from_addr,
                     const uint8_t *buf, size_t len, uint64_t now_ms);

/* This node's application state.  A set or delete gets a fresh version and
 * is gossiped to everyone. */
int gossip_node_set_state(gossip_node *node, const char *key,
                          const uint8_t *value, size_t len);
int gossip_node_del_state(gossip_node *node, const char *key);

/* Reads `key` of member `name` (NULL: self).  On success *value points into
 * the node's table and stays valid until the next call into the node. */
int gossip_node_get_state(const gossip_node *node, const char *name,
                          const char *key, const uint8_t **value,
                          size_t *len, uint64_t *version);

/* Fires a user event: `name` (1..GOSSIP_MAX_EVENT_NAME bytes) and a
 * payload of at most max_event_size bytes (GOSSIP_ERR_OVERSIZE beyond),
 * delivered once to every member's on_change as GOSSIP_CHANGE_EVENT, this
 * one included.  *ltime (may be NULL) gets its Lamport time.  Sends nothing
 * itself: the next tick does. */
int gossip_node_event(gossip_node *node, const char *name, const uint8_t *payload, size_t len,
                      uint64_t *ltime);
/* The same with flags.  Receivers may coalesce an event with later events of
 * the same name (only the newest is handled), as Serf does by default;
 * GOSSIP_EVENT_NO_COALESCE asks them to handle this one whatever comes
 * after.  The flags travel with the event and reach every member's
 * on_change in gossip_change.flags.  (An event without the flag has the
 * layout of events before flags existed, so older members read it.) */
#define GOSSIP_EVENT_NO_COALESCE 0x1u
int gossip_node_event_flags(gossip_node *node, const char *name, const uint8_t *payload,
                            size_t len, uint32_t flags, uint64_t *ltime);
/* The Lamport clock of events: the highest event time this node has seen. */
uint64_t gossip_node_event_clock(const gossip_node *node);

/* Graceful leave: announces "left", keeps answering until the news has
 * spread (bounded by leave_timeout_ms), then gossip_node_has_left() turns
 * true and the node sends nothing more. */
int gossip_node_leave(gossip_node *node, uint64_t now_ms);
int gossip_node_has_left(const gossip_node *node);

/* Force-leave (Serf's force-leave): member `name`, which this node holds
 * suspect or dead, becomes "left" at the same incarnation.  The record
 * spreads as news like a graceful leave, the member is reaped like a left
 * one, and on_change reports GOSSIP_CHANGE_LEFT before this returns.  If
 * the member is in fact alive it refutes, as it would a suspicion.  Sends
 * nothing: the news leaves with the next datagrams (tick or answers).
 * 0 also when the member is already left; GOSSIP_ERR_NOT_FOUND for a name
 * we do not know; GOSSIP_ERR_INVALID for NULL, ourselves, or a member we
 * hold alive. */
int gossip_node_force_leave(gossip_node *node, const char *name, uint64_t now_ms);

/* ---- introspection ----------------------------------------------------- */

typedef struct gossip_member_info {
    const char *name;
    const char *addr;
    uint64_t generation;
    uint64_t heartbeat;           /* heartbeat version */
    uint64_t max_version;
    uint32_t key_count;           /* live (non-deleted) app-state keys */
    int is_self;
    enum gossip_member_status status;
    uint64_t incarnation;
    uint64_t status_since_ms;     /* this node's clock when the status last changed */
    double phi;                   /* phi accrual, for monitored peers; -1 if not monitored */
} gossip_member_info;

size_t gossip_node_member_count(const gossip_node *node);
/* Member by index 0..count-1 (order is stable between changes only). */
int gossip_node_member_at(const gossip_node *node, size_t index,
                          gossip_member_info *out);
int gossip_node_member_find(const gossip_node *node, const char *name,
                            gossip_member_info *out);

/* Iterates the app-state keys of member `name`; `fn` returns nonzero to stop. */
int gossip_node_foreach_key(const gossip_node *node, const char *name,
                            int (*fn)(void *ctx, const char *key,
                                      const uint8_t *value, size_t len,
                                      uint64_t version, int deleted),
                            void *ctx);

/* Order-independent hash of the whole endpoint table: equal hashes mean the
 * same (name, generation, max_version) for every member. */
uint64_t gossip_node_table_hash(const gossip_node *node);

enum gossip_msg_type {
    GOSSIP_MSG_SYN = 1,
    GOSSIP_MSG_ACK = 2,
    GOSSIP_MSG_ACK2 = 3,
    GOSSIP_MSG_PUSH = 4,
    GOSSIP_MSG_PING = 5,          /* SWIM probe */
    GOSSIP_MSG_PING_REQ = 6,      /* ask a member to probe another for us */
    GOSSIP_MSG_PING_ACK = 7,      /* answer to a probe (direct or relayed) */
    GOSSIP_MSG_TYPE_COUNT = 8,
};

/* Probe round-trip histogram: GOSSIP_RTT_BUCKETS buckets whose upper bounds
 * (inclusive, in ms) are 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000 and +inf.
 * gossip_rtt_bounds_ms holds the finite ones. */
#define GOSSIP_RTT_BUCKETS 11
extern const uint32_t gossip_rtt_bounds_ms[GOSSIP_RTT_BUCKETS - 1];

typedef struct gossip_stats {
    uint64_t packets_sent[GOSSIP_MSG_TYPE_COUNT];
    uint64_t bytes_sent[GOSSIP_MSG_TYPE_COUNT];
    uint64_t packets_recv[GOSSIP_MSG_TYPE_COUNT];
    uint64_t bytes_recv[GOSSIP_MSG_TYPE_COUNT];
    uint64_t recv_errors;         /* datagrams rejected by the decoder */
    uint64_t rounds;              /* gossip rounds run */
    uint64_t deltas_applied;      /* endpoint deltas that changed something */
    uint64_t deltas_stale;        /* endpoint deltas that changed nothing */
    uint64_t table_full;          /* members refused because max_members */
    uint64_t syn_in_sync;         /* SYNs whose table hash matched ours */
    uint64_t probes;              /* direct probes sent */
    uint64_t probes_failed;       /* probes that ended with no ack at all */
    uint64_t indirect_probes;     /* ping-reqs sent */
    uint64_t suspicions;          /* members this node started to suspect */
    uint64_t refutations;         /* suspicions of ourselves refuted */
    uint64_t declared_dead;       /* members this node declared dead itself */
    uint64_t news_sent;           /* membership news items piggybacked */
    uint32_t awareness;           /* Lifeguard local health now (0 = healthy) */
    uint64_t name_conflicts;      /* another live process claimed our name */
    uint64_t address_changes;     /* a member came back at another address */
    uint64_t seed_attempts;       /* gossip sent to a seed */
    uint64_t phi_deferred;        /* failed probes phi judged to be loss (no suspicion) */

    /* Round-trip time of direct probes: the time from our PING to the
     * target's own PING_ACK on the node's clock (relayed acks and acks that
     * arrive after the probe ended are not counted).  probe_rtt_buckets[i]
     * counts round trips <= gossip_rtt_bounds_ms[i] and > the bound before
     * (not cumulative); the last bucket counts those > 1000 ms. */
    uint64_t probe_rtt_buckets[GOSSIP_RTT_BUCKETS];
    uint64_t probe_rtt_sum_ms;
    uint64_t probe_rtt_count;
    uint64_t news_queue;          /* membership news items queued for piggybacking now */
    /* Members by the status this node holds now; ourselves included, in our
     * own status (alive, or left after gossip_node_leave()). */
    uint32_t members_alive;
    uint32_t members_suspect;
    uint32_t members_dead;
    uint32_t members_left;
    uint32_t rumors_hot;          /* rumors this node still spreads */
    uint64_t rumor_pushes;        /* rumor push datagrams sent */
    uint64_t rumor_feedback;      /* "knew it already" answers received for our pushes */
    uint64_t rumors_evicted;      /* hot rumors dropped for max_rumors */
    uint64_t events_fired;        /* user events this node fired */
    uint64_t events_delivered;    /* other members' events delivered here */
    uint64_t events_malformed;    /* event slots that did not decode (ignored) */
    uint64_t probes_inconclusive; /* failed probes that no helper answered: no suspicion */
} gossip_stats;

void gossip_node_get_stats(const gossip_node *node, gossip_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* GOSSIP_GOSSIP_H */
