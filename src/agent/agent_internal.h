/* agent_internal.h -- the agent's private state, shared by agent.c (life
 * cycle, engine glue, events), transport.c (UDP + TCP), persist.c (data
 * dir) and handlers.c (event scripts).  The HTTP layer sees only agent.h. */
#ifndef GOSSIP_AGENT_INTERNAL_H
#define GOSSIP_AGENT_INTERNAL_H

#include <stdarg.h>

#include "agent/agent.h"
#include "agent/http.h"

/* ---- transport ------------------------------------------------------------ */

typedef struct tcp_conn tcp_conn;
typedef struct peer_path peer_path;

typedef struct transport {
    struct agent *a;
    uv_udp_t udp;
    uv_tcp_t listener;
    bool udp_open, tcp_open;
    int family;                    /* AF_INET or AF_INET6 of the bound sockets */
    tcp_conn *conns;               /* every open TCP connection (both directions) */
    size_t n_conns;
    peer_path *paths;              /* per peer address: when UDP last worked */
    size_t n_paths, cap_paths;
    uint64_t last_udp_rx_ms;       /* any UDP datagram, from anyone */
    uint64_t udp_since_ms;         /* the first probe we sent (the deafness clock's start) */
    uint8_t rxbuf[65536];
} transport;

/* TCP frame kinds.  A new kind is added here and dispatched in
 * agent_on_frame (agent.c). */
enum agent_frame_kind {
    AGENT_FRAME_DATAGRAM = 1,      /* an engine datagram (the fallback probe path) */
    AGENT_FRAME_QUERY_REPLY = 2,   /* an ack or response to a query (query.c) */
    AGENT_FRAME_QUERY_RELAY = 3,   /* the same, to be forwarded to the asker */
    AGENT_FRAME_BLOB = 4,          /* large payloads */
    AGENT_FRAME_KV = 5,            /* key-value store */
    AGENT_FRAME_KINDS
};

int transport_open(transport *t, struct agent *a, char *err, size_t err_len);
/* Sends one frame of `kind` to addr over TCP (connecting if needed);
 * false when it was dropped (connection bound, queue full, too large). */
bool transport_send_frame(transport *t, const char *addr, uint8_t kind, const uint8_t *buf,
                          size_t len);
/* Closes every handle (the loop must run once more to finish). */
void transport_close(transport *t);
/* The engine's send callback. */
void transport_send(void *ud, const char *addr, const uint8_t *buf, size_t len);
/* "ip:port" / "[v6]:port" of a socket address. */
int transport_format_addr(const struct sockaddr *sa, char *out, size_t out_len);
int transport_parse_addr(const char *s, struct sockaddr_storage *out);

/* ---- persistence (data dir) ---------------------------------------------- */

#define PERSIST_MAX_MEMBERS 64

typedef struct persist_member {
    char name[GOSSIP_MAX_NAME + 1];
    char addr[GOSSIP_MAX_ADDR + 1];
} persist_member;

typedef struct persist_state {
    uint64_t generation;
    uint64_t incarnation;
    uint64_t event_ltime;          /* Lamport clock of user events at the last save */
    persist_member members[PERSIST_MAX_MEMBERS];
    size_t n_members;
} persist_state;

/* Takes the data dir's lock (creating the dir if needed); -1 with a message
 * when another gossipd holds it.  *fd_out stays open for the process life. */
int persist_lock(const char *dir, int *fd_out, char *err, size_t err_len);
/* 0: loaded; 1: no state yet; -1: unreadable or corrupt (moved aside, err
 * says so; the caller starts fresh). */
int persist_load(const char *dir, persist_state *st, char *err, size_t err_len);
/* Atomic: temp file, fsync, rename, fsync of the directory. */
int persist_save(const char *dir, const persist_state *st, char *err, size_t err_len);

/* ---- handlers ------------------------------------------------------------- */

typedef struct handler_job handler_job;

/* An event waiting out its coalesce period (handlers.c). */
typedef struct coalesce_slot {
    agent_event ev;                /* the newest so far; ev.json owned */
    uint64_t flush_at, quiet_at;   /* agent_now_ms deadlines */
} coalesce_slot;

typedef struct handlers {
    struct agent *a;
    handler_job *queue_head, *queue_tail;
    size_t queued;
    coalesce_slot *pending;        /* at most handler_queue */
    size_t n_pending;
    uv_timer_t coalesce_timer;
    bool timer_open;
    handler_job *running;          /* list of jobs with a live process */
    size_t n_running;
    agent_handler_stats stats;
    bool closing;
} handlers;

void handlers_init(handlers *h, struct agent *a);
/* Queues the event for every handler that wants it (drops, counted, when
 * the queue is full) and starts what the concurrency bound allows. */
void handlers_dispatch(handlers *h, const agent_event *ev);
/* Starts queued jobs the concurrency bound allows (loop thread). */
void handlers_kick(handlers *h);
/* Kills running scripts and frees the queue. */
void handlers_close(handlers *h);
void handlers_get_stats(const handlers *h, agent_handler_stats *out);
/* Loop thread: hands every held event to the handlers now (a leave). */
void handlers_flush(handlers *h);

/* ---- queries (query.c) ------------------------------------------------------ */

#define AGENT_QUERY_EVENT "_query" /* the user-event name queries travel as */
#define AGENT_MAX_QUERIES 16       /* queries this agent asks at once */

typedef struct query_pending query_pending;

bool query_is_event(const char *name);
/* A "_query" event arrived (lock held): acks it when this member matches
 * and returns the query's JSON for watchers and handlers (malloc'd), else
 * NULL. */
char *query_on_event(struct agent *a, const gossip_change *c);
/* A "query" handler finished with `out` on its stdout: answer the asker. */
void query_respond(struct agent *a, const char *query_json, const uint8_t *out, size_t len);
/* Shutting down: queries waiting for answers return now (lock held). */
void query_wake_all(struct agent *a);
/* An AGENT_FRAME_QUERY_REPLY or _RELAY frame (loop thread, lock held). */
void query_on_frame(struct agent *a, uint8_t kind, const uint8_t *buf, size_t len);

/* ---- the agent ------------------------------------------------------------ */

struct agent {
    agent_config cfg;
    int argc;                      /* kept for SIGHUP's re-read */
    char **argv;
    uv_loop_t loop;
    uv_thread_t loop_thread;
    pthread_mutex_t lock;
    pthread_cond_t events_cond;
    gossip_node *node;
    char advertise[GOSSIP_MAX_ADDR + 1];
    uint64_t generation;
    uint64_t started_ms;           /* wall clock */
    uint64_t clock_base_ns;        /* uv_hrtime() at start: the engine's clock is relative */
    int lock_fd;
    size_t known_at_start;         /* members remembered from the last run */

    uv_timer_t tick_timer, persist_timer, leave_timer;
    bool persist_busy;             /* a periodic save is on the thread pool */
    uv_async_t wakeup;
    uv_signal_t sig_term, sig_int, sig_hup;

    transport net;
    agent_net_stats net_stats;
    handlers hnd;
    agent_http *http;

    /* the event ring for /v1/watch */
    agent_event *ring;
    size_t ring_cap, ring_count, ring_start;
    uint64_t next_seq;
    bool shutting_down;

    /* requests from HTTP threads, carried out on the loop */
    char pending_joins[AGENT_MAX_JOINS][GOSSIP_MAX_ADDR + 1];
    size_t n_pending_joins;
    bool leave_requested;
    query_pending *queries;        /* our own queries waiting for answers */

    bool leaving;
    int exit_code;
};

/* Text for a quoted logfmt value: quotes and backslashes escaped, line
 * breaks as spaces; returns out. */
const char *agent_logfmt_escape(const char *in, char *out, size_t out_len);
void agent_log(struct agent *a, enum gossip_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Wakes the loop to carry out requested work (lock held; no-op once the
 * agent shuts down). */
void agent_wake(struct agent *a);
/* True on the loop thread (the one that may use handles). */
bool agent_on_loop(struct agent *a);
/* Runs the engine's tick and re-arms the timer; call after anything that
 * may have changed the engine's deadline (loop thread, lock held). */
void agent_reschedule(struct agent *a);
/* A TCP frame of a kind other than AGENT_FRAME_DATAGRAM (loop thread, lock
 * held); `from` is the sender's advertised address. */
void agent_on_frame(struct agent *a, uint8_t kind, const char *from, const uint8_t *buf,
                    size_t len);
/* Feeds one datagram to the engine (loop thread, lock held). */
void agent_deliver(struct agent *a, const char *from, const uint8_t *buf, size_t len);

/* Runs gossipd with parsed settings; returns the process exit code. */
int agent_run(const agent_config *cfg, int argc, char **argv);

#endif
