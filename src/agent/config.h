/* config.h -- gossipd's settings: defaults, command-line flags, the JSON
 * config file (--config; flags win), and validation that names the setting
 * at fault.  Every limit the agent enforces is a field here. */
#ifndef GOSSIP_AGENT_CONFIG_H
#define GOSSIP_AGENT_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <gossip/gossip.h>

#define AGENT_MAX_JOINS 32
#define AGENT_MAX_TAGS 32
#define AGENT_MAX_HANDLERS 16
#define AGENT_MAX_TAG_TEXT 128    /* bytes in a tag key or value */
#define AGENT_MAX_TOKEN 256       /* bytes in the HTTP bearer token */
#define AGENT_MAX_PATH 1024

typedef struct agent_tag {
    char key[AGENT_MAX_TAG_TEXT + 1];
    char value[AGENT_MAX_TAG_TEXT + 1];
} agent_tag;

/* Event names a handler can ask for (--handler 'member-join,member-failed=/x'). */
enum agent_event_type {
    AGENT_EV_MEMBER_JOIN = 0,   /* a member we did not know, or a new generation */
    AGENT_EV_MEMBER_LEAVE,      /* left gracefully */
    AGENT_EV_MEMBER_FAILED,     /* declared dead */
    AGENT_EV_MEMBER_SUSPECT,
    AGENT_EV_MEMBER_ALIVE,      /* suspect or dead member is alive again */
    AGENT_EV_MEMBER_UPDATE,     /* a member's application state changed */
    AGENT_EV_MEMBER_REAP,       /* a dead or left member was forgotten */
    AGENT_EV_USER,              /* a user event (POST /v1/event/NAME on any member) */
    AGENT_EV_QUERY,             /* a query this member matches; a handler's stdout answers it */
    AGENT_EV_COUNT
};
const char *agent_event_name(enum agent_event_type t); /* "member-join", ... */

typedef struct agent_handler {
    uint32_t events;            /* bit (1u << agent_event_type); all bits: every event */
    char path[AGENT_MAX_PATH];
} agent_handler;

typedef struct agent_config {
    char name[GOSSIP_MAX_NAME + 1];
    char bind[GOSSIP_MAX_ADDR + 1];      /* "ADDR:PORT", "[v6]:PORT"; default 0.0.0.0:7946 */
    char advertise[GOSSIP_MAX_ADDR + 1]; /* empty: derived from bind */
    char joins[AGENT_MAX_JOINS][GOSSIP_MAX_ADDR + 1];
    size_t n_joins;
    char http[GOSSIP_MAX_ADDR + 1];      /* default 127.0.0.1:7947 */
    char http_token[AGENT_MAX_TOKEN + 1];/* required when http is not loopback */
    char data_dir[AGENT_MAX_PATH];
    agent_tag tags[AGENT_MAX_TAGS];
    size_t n_tags;
    agent_handler handlers[AGENT_MAX_HANDLERS];
    size_t n_handlers;
    enum gossip_log_level log_level;     /* default info */
    char config_file[AGENT_MAX_PATH];

    /* engine settings (gossip_config) the agent exposes */
    enum gossip_mode mode;
    uint32_t fanout;
    uint32_t gossip_interval_ms;         /* agent default 200 */
    uint32_t probe_interval_ms;          /* default 1000 */
    uint32_t probe_timeout_ms;           /* default 500 */
    uint32_t mtu;                        /* default 1400 */
    uint32_t max_members;
    uint32_t max_value_size;             /* default 1144 (mtu - 256) */
    uint32_t max_event_size;             /* user event payload; default 1024 */
    uint32_t event_buffer;               /* events each member keeps for catch-up; default 16 */
    uint32_t reap_timeout_ms;
    uint32_t leave_timeout_ms;           /* default 5000 */
    uint32_t rumor_fanout;               /* eager rumor pushes; default 3 (0: off) */
    enum gossip_rumor_stop rumor_stop;   /* default feedback-counter */
    uint32_t rumor_k;                    /* default 4 */

    /* agent limits */
    uint32_t http_max_body;              /* bytes in a request body; default 65536 */
    uint32_t http_max_connections;       /* concurrent HTTP connections; default 64 */
    uint32_t http_max_watchers;          /* /v1/watch streams, < connections; 0: 3/4 of them */
    uint32_t watch_buffer;               /* events kept for /v1/watch; default 4096 */
    uint32_t tcp_max_frame;              /* bytes in one TCP frame; default 2 MiB */
    uint32_t tcp_timeout_ms;             /* connect/idle timeout; default 5000 */
    uint32_t tcp_max_connections;        /* open TCP connections; default 256 */
    uint32_t handler_max_running;        /* handler scripts at once; default 4 */
    uint32_t handler_queue;              /* events waiting for a handler; default 256 */
    uint32_t handler_timeout_ms;         /* a handler is killed after; default 30000 */
    /* Coalescing before handlers (Serf's four settings; 0: off): a member's
     * status events within the period reach handlers as its latest one
     * (member-update per key), user events flagged "coalesce" as the newest
     * of their name.  A quiescent period ends the wait early when no newer
     * event came for that long. */
    uint32_t coalesce_period_ms;         /* member events; default 0 */
    uint32_t quiescent_period_ms;        /* default 0 */
    uint32_t user_coalesce_period_ms;    /* user events; default 0 */
    uint32_t user_quiescent_period_ms;   /* default 0 */
    uint32_t persist_interval_ms;        /* data-dir snapshot period; default 10000 */

    /* key-value store (src/agent/kv_agent.c, docs/kv.md) */
    uint32_t kv_max_key;                 /* bytes in a key; default 512 */
    uint32_t kv_max_value;               /* bytes in a value; default 65536 */
    uint32_t kv_max_entries;             /* entries held, tombstones included; default 1000000 */
    uint32_t kv_anti_entropy_interval_ms;/* a session with a random member; default 10000 (0: off) */
    uint32_t kv_rumor_fanout;            /* members a write is pushed to; default 3 (0: off) */
    uint32_t kv_rumor_k;                 /* feedback counter: stop after k "knew it"; default 3 */
    uint32_t kv_tombstone_horizon_ms;    /* deletes kept at least this long; default 86400000 */

    /* services (src/agent/services.c, docs/services.md) */
    uint32_t services_max;               /* services registered on this agent; default 16 */
    uint32_t service_check_timeout_ms;   /* a health check is critical after; default 2000 */
    uint32_t service_min_interval_ms;    /* shortest check interval; default 200 */
} agent_config;

void agent_config_defaults(agent_config *c);

/* Parses argv (flags win over --config FILE, which wins over defaults) and
 * validates the result.  On error returns -1 with a message naming the
 * setting in err ("--fanout: must be 1..64, got 0").  Returns 1 when --help
 * or --version was printed (to stdout), 0 on success. */
int agent_config_parse(agent_config *c, int argc, char **argv, char *err, size_t err_len);

/* "feedback-counter", ... for a rumor stop rule. */
const char *agent_rumor_stop_name(enum gossip_rumor_stop s);

/* The help text listing every setting. */
const char *agent_config_help(void);

/* Fills an engine config from the agent's settings (name/addr point into c). */
void agent_config_to_engine(const agent_config *c, gossip_config *g);

/* Splits "ADDR:PORT" / "[V6]:PORT" into host and port (0..65535); IP
 * addresses only, never host names.  0 on success, -1 otherwise. */
int agent_split_hostport(const char *s, char *host, size_t host_len, int *port);

/* Tags as the JSON object text gossiped under GOSSIP_KEY_TAGS (keys
 * sorted).  0, or a negative GOSSIP_ERR_* (NO_SPACE, NOMEM, INVALID) with
 * "" in out. */
int agent_tags_json(const agent_config *c, char *out, size_t out_len);

#endif
