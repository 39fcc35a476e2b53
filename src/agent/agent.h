/* agent.h -- the gossipd process.
 *
 * Threads: one libuv loop thread owns the engine (timers, UDP, TCP, handler
 * scripts).  libmicrohttpd serves the HTTP API from its own threads (one per
 * connection, bounded).  Every touch of the engine or of agent state happens
 * under `agent.lock`; the loop holds it inside its callbacks, HTTP code
 * around its calls (agent_lock / agent_unlock).  Work that sends datagrams
 * (join, leave) is requested from HTTP threads and carried out on the loop
 * (agent_request_*), so sockets are only ever used by the loop thread. */
#ifndef GOSSIP_AGENT_AGENT_H
#define GOSSIP_AGENT_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include <gossip/gossip.h>

#include "agent/config.h"

/* One membership or state change as /v1/watch and handler scripts see it. */
typedef struct agent_event {
    uint64_t seq;                 /* 1, 2, 3 ... per agent run */
    uint64_t time_ms;             /* wall clock, ms since the epoch */
    enum agent_event_type type;
    char name[GOSSIP_MAX_NAME + 1];
    char addr[GOSSIP_MAX_ADDR + 1];
    char status[8];               /* the member's status after the event */
    uint64_t generation;
    uint64_t incarnation;
    char key[GOSSIP_MAX_KEY + 1]; /* member-update: the key; user, query: the event name */
    bool coalesce;                /* user: its sender let receivers coalesce it */
    uint64_t ltime;               /* user, query: the event's Lamport time */
    char *json;                   /* the whole event as one JSON object (owned) */
} agent_event;

/* Transport counters (read under the lock). */
typedef struct agent_net_stats {
    uint64_t udp_in, udp_out, udp_bytes_in, udp_bytes_out;
    uint64_t udp_send_errors;     /* sendto failed (EAGAIN, unreachable ...) */
    uint64_t udp_truncated;       /* datagrams larger than the receive buffer */
    uint64_t tcp_frames_in, tcp_frames_out, tcp_bytes_in, tcp_bytes_out;
    uint64_t tcp_accepts, tcp_connects, tcp_errors;
    uint64_t tcp_oversize;        /* frames refused for tcp_max_frame */
    uint64_t tcp_fallback_sends;  /* probe datagrams duplicated over TCP */
    uint64_t tcp_connections;     /* open now */
    uint64_t send_queue;          /* bytes queued on TCP connections now */
    uint64_t recv_rejected;       /* datagrams the engine refused (both paths) */
} agent_net_stats;

typedef struct agent_handler_stats {
    uint64_t started, succeeded, failed, timed_out, dropped; /* dropped: queue full */
    uint64_t coalesced;           /* events a newer one replaced before any handler ran */
    uint64_t running, queued;     /* now */
    uint64_t pending;             /* now: events waiting out a coalesce period */
} agent_handler_stats;

typedef struct agent agent;

/* The wall clock, ms since the epoch (event and info timestamps). */
uint64_t agent_wall_ms(void);

/* ---- used by the HTTP layer (http.c, metrics.c) ------------------------- */

void agent_lock(agent *a);
void agent_unlock(agent *a);

/* Under the lock: */
gossip_node *agent_node(agent *a);
const agent_config *agent_cfg(const agent *a);
void agent_get_net_stats(const agent *a, agent_net_stats *out);
void agent_get_handler_stats(const agent *a, agent_handler_stats *out);
uint64_t agent_started_ms(const agent *a);      /* wall clock at start */
uint64_t agent_now_ms(const agent *a);          /* the engine's clock now */
uint64_t agent_generation(const agent *a);
size_t agent_events_buffered(const agent *a);

/* Sets or deletes this node's application-state key (GOSSIP_ERR_*). */
int agent_set_state(agent *a, const char *key, const uint8_t *value, size_t len);
int agent_del_state(agent *a, const char *key);

/* Queue work for the loop, lock held; they return at once (0, or
 * GOSSIP_ERR_* for bad arguments). */
int agent_request_join(agent *a, const char *const *addrs, size_t n);
int agent_request_leave(agent *a);
/* Lock held.  Fires a user event (gossip_node_event_flags; `coalesce` lets
 * receivers coalesce it); *ltime gets its Lamport time. */
int agent_fire_event(agent *a, const char *name, const uint8_t *payload, size_t len,
                     bool coalesce, uint64_t *ltime);
/* Lock held.  Marks a dead or suspect member as left (Serf's force-leave).
 * GOSSIP_ERR_NOT_FOUND: no such member; GOSSIP_ERR_INVALID: self or alive. */
int agent_force_leave(agent *a, const char *name);

/* A query (query.c): NAME and payload to the members matching the filters
 * (tags: JSON object of key -> value, all must match; names: JSON array;
 * NULL: everyone), acks and answers collected for timeout_ms. */
typedef struct agent_query_req {
    const char *name;
    const uint8_t *payload;
    size_t len;
    json_t *tags;
    json_t *names;
    uint32_t timeout_ms;
    int relay;                    /* extra paths each answer takes, 0..AGENT_MAX_QUERY_RELAY */
} agent_query_req;
#define AGENT_MAX_QUERY_RELAY 5
#define AGENT_MAX_QUERY_TIMEOUT_MS 60000
/* Called WITHOUT the lock; blocks until the timeout.  On success *out is
 * {id, acks: [names], responses: {name: answer}, ack_count, response_count};
 * otherwise a GOSSIP_ERR_* with a message in err. */
int agent_query(agent *a, const agent_query_req *req, json_t **out, char *err, size_t err_len);

/* Server-sent events for /v1/watch.  Copies whole SSE frames of the events
 * after *cursor into out (at most cap bytes) and advances *cursor.  With no
 * such event it waits up to timeout_ms (called WITHOUT the lock held; it
 * takes the lock itself).  A cursor older than the buffer yields one
 * "event: lost" frame first.  Returns bytes written (0: timeout, or the next
 * frame does not fit cap — a cap of 512 KiB fits any event), or -1 once the
 * agent is shutting down. */
long agent_events_read_sse(agent *a, uint64_t *cursor, char *out, size_t cap, int timeout_ms);
/* The sequence number of the newest event (a new watcher starts there).
 * Called WITHOUT the lock held: it takes the lock itself. */
uint64_t agent_events_last_seq(agent *a);

#endif
