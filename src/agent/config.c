/* config.c -- gossipd's settings: one table of options drives the defaults,
 * the command-line flags, the JSON config file and the --help text.
 *
 * Order of precedence: defaults < config file (--config, read first wherever
 * it appears on the command line) < flags.  Scalar flags given twice: the
 * last one wins.  --join and --handler on the command line replace the
 * file's lists; --tag adds to the file's tags (a key given both ways, or
 * twice, takes the last value). */
#include "agent/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define CONFIG_FILE_MAX (1024 * 1024) /* bytes in a config file */
#define ALL_EVENTS ((1u << AGENT_EV_COUNT) - 1u)

/* ---- small helpers -------------------------------------------------------- */

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* Copies src into dst[cap]; false when it does not fit. */
static bool copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

/* Well-formed UTF-8 without control characters. */
static bool valid_utf8_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c < 0x80) {
            p++;
            continue;
        }
        int n;
        unsigned cp;
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3fu);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
            return false;
        p += n + 1;
    }
    return true;
}

/* ---- events ---------------------------------------------------------------- */

static const char *const event_names[AGENT_EV_COUNT] = {
    [AGENT_EV_MEMBER_JOIN] = "member-join",     [AGENT_EV_MEMBER_LEAVE] = "member-leave",
    [AGENT_EV_MEMBER_FAILED] = "member-failed", [AGENT_EV_MEMBER_SUSPECT] = "member-suspect",
    [AGENT_EV_MEMBER_ALIVE] = "member-alive",   [AGENT_EV_MEMBER_UPDATE] = "member-update",
    [AGENT_EV_MEMBER_REAP] = "member-reap",     [AGENT_EV_USER] = "user",
    [AGENT_EV_QUERY] = "query",
};

const char *agent_event_name(enum agent_event_type t)
{
    if ((int)t < 0 || t >= AGENT_EV_COUNT)
        return "unknown";
    return event_names[t];
}

/* ---- addresses --------------------------------------------------------------- */

int agent_split_hostport(const char *s, char *host, size_t host_len, int *port)
{
    if (!s || !host || host_len == 0 || !port)
        return -1;
    const char *h, *colon;
    size_t hlen;
    int family;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        family = AF_INET6;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -1; /* no port, or a bare IPv6 address without brackets */
        h = s;
        hlen = (size_t)(colon - s);
        family = AF_INET;
    }
    char buf[INET6_ADDRSTRLEN + 1];
    if (hlen == 0 || hlen >= sizeof buf || hlen >= host_len)
        return -1;
    memcpy(buf, h, hlen);
    buf[hlen] = '\0';
    unsigned char bin[sizeof(struct in6_addr)];
    if (inet_pton(family, buf, bin) != 1)
        return -1;
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5)
        return -1;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return -1;
    memcpy(host, buf, hlen + 1);
    *port = (int)v;
    return 0;
}

typedef struct parsed_addr {
    int family;
    unsigned char bin[sizeof(struct in6_addr)];
    int port;
    char canon[GOSSIP_MAX_ADDR + 1]; /* inet_ntop form */
} parsed_addr;

static bool addr_unspecified(const parsed_addr *a)
{
    static const unsigned char zero[sizeof(struct in6_addr)];
    return memcmp(a->bin, zero, a->family == AF_INET ? 4 : 16) == 0;
}

static bool addr_loopback(const parsed_addr *a)
{
    if (a->family == AF_INET)
        return a->bin[0] == 127;
    static const unsigned char v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a->bin, v6_loop, 16) == 0)
        return true;
    return memcmp(a->bin, v4_mapped, 12) == 0 && a->bin[12] == 127;
}

/* Parses "a.b.c.d:port" or "[v6]:port" (port 1..65535) into its canonical
 * text.  On error writes the reason (without the setting's name). */
static int parse_addr(const char *s, parsed_addr *out, char *why, size_t why_len)
{
    char host[INET6_ADDRSTRLEN + 1];
    int port;
    memset(out, 0, sizeof *out);
    if (agent_split_hostport(s, host, sizeof host, &port) != 0) {
        const char *colon = strrchr(s, ':');
        bool looks_like_name = false;
        for (const char *p = s; *p && p != colon; p++)
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
                looks_like_name = true;
        if (s[0] != '[' && strchr(s, ':') != strrchr(s, ':'))
            set_err(why, why_len, "\"%s\" is not an address: write IPv6 as [ADDR]:PORT", s);
        else if (looks_like_name && s[0] != '[')
            set_err(why, why_len,
                    "\"%s\" is not an IP address (host names are not accepted; "
                    "use a.b.c.d:PORT or [IPv6]:PORT)",
                    s);
        else
            set_err(why, why_len,
                    "\"%s\" is not an address: expected a.b.c.d:PORT or [IPv6]:PORT "
                    "with PORT in 1..65535",
                    s);
        return -1;
    }
    if (port < 1) {
        set_err(why, why_len, "\"%s\": the port must be in 1..65535", s);
        return -1;
    }
    out->family = s[0] == '[' ? AF_INET6 : AF_INET;
    out->port = port;
    inet_pton(out->family, host, out->bin);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(out->family, out->bin, text, sizeof text);
    int n = snprintf(out->canon, sizeof out->canon, out->family == AF_INET6 ? "[%s]:%d" : "%s:%d",
                     text, port);
    if (n < 0 || (size_t)n >= sizeof out->canon) {
        set_err(why, why_len, "\"%s\" is too long", s);
        return -1;
    }
    return 0;
}

/* ---- the option table ---------------------------------------------------------- */

enum opt_kind {
    K_NAME,      /* member name */
    K_ADDR,      /* bind, http: any address */
    K_ADVERTISE, /* an address that is not 0.0.0.0 / :: (empty allowed from the file) */
    K_JOIN,      /* repeatable address */
    K_TOKEN,
    K_PATH,      /* data dir */
    K_TAG,       /* repeatable k=v (file: "tags": {object}) */
    K_HANDLER,   /* repeatable [events=]path */
    K_MODE,
    K_LOG,
    K_RUMOR_STOP,
    K_U32,
    K_CONFIG,
    K_HELP,
    K_VERSION,
};

typedef struct opt {
    const char *flag; /* without the leading dashes */
    const char *key;  /* config file key; NULL: flag only */
    enum opt_kind kind;
    size_t off, size; /* the agent_config field */
    uint32_t min, max;
    const char *metavar;
    const char *help;
} opt;

#define FIELD(m) offsetof(agent_config, m), sizeof(((agent_config *)0)->m)
#define NOFIELD 0, 0

static const opt opts[] = {
    {"name", "name", K_NAME, FIELD(name), 0, 0, "NAME",
     "this member's unique name: 1-64 of A-Z a-z 0-9 . _ - (required)"},
    {"data-dir", "data_dir", K_PATH, FIELD(data_dir), 0, 0, "DIR",
     "directory for the node's generation, incarnation and known members; created "
     "if missing (required)"},
    {"bind", "bind", K_ADDR, FIELD(bind), 0, 0, "ADDR:PORT",
     "UDP and TCP address for gossip: a.b.c.d:PORT or [IPv6]:PORT"},
    {"advertise", "advertise", K_ADVERTISE, FIELD(advertise), 0, 0, "ADDR:PORT",
     "address the other members reach this one at; not 0.0.0.0 or [::]; same "
     "address family as --bind (default: --bind when that is a specific address, "
     "else the agent picks one of the host's addresses at start)"},
    {"join", "join", K_JOIN, NOFIELD, 0, 0, "ADDR:PORT",
     "a member to join at start, same address family as --bind (repeatable, "
     "up to 32; given on the command line they replace the config file's list)"},
    {"http", "http", K_ADDR, FIELD(http), 0, 0, "ADDR:PORT",
     "address of the HTTP API (/v1/..., /metrics)"},
    {"http-token", "http_token", K_TOKEN, FIELD(http_token), 0, 0, "TOKEN",
     "bearer token the HTTP API requires (Authorization: Bearer TOKEN); required "
     "when --http is not a loopback address; 1-256 printable ASCII characters"},
    {"tag", "tags", K_TAG, NOFIELD, 0, 0, "KEY=VALUE",
     "a tag gossiped with this member (repeatable, up to 32; key 1-128 bytes, "
     "value 0-128 bytes; the last value of a key wins); the config file takes an "
     "object: \"tags\": {\"role\": \"web\"}"},
    {"handler", "handler", K_HANDLER, NOFIELD, 0, 0, "[EVENTS=]PATH",
     "run the executable PATH on each event in the comma-separated EVENTS list "
     "(member-join, member-leave, member-failed, member-suspect, member-alive, "
     "member-update, member-reap, user, query), or on every event without a list; the event "
     "comes as JSON on stdin and in environment variables (repeatable, up to "
     "16; given on the command line they replace the config file's list)"},
    {"mode", "mode", K_MODE, FIELD(mode), 0, 0, "push|pull|pushpull",
     "anti-entropy exchange: push deltas, pull by digests, or the three-way "
     "push-pull handshake"},
    {"fanout", "fanout", K_U32, FIELD(fanout), 1, 64, "K", "peers gossiped with per round"},
    {"gossip-interval", "gossip_interval", K_U32, FIELD(gossip_interval_ms), 10, 60000, "MS",
     "milliseconds between gossip rounds"},
    {"probe-interval", "probe_interval", K_U32, FIELD(probe_interval_ms), 10, 60000, "MS",
     "milliseconds between failure-detector probes"},
    {"probe-timeout", "probe_timeout", K_U32, FIELD(probe_timeout_ms), 1, 60000, "MS",
     "milliseconds to wait for a direct probe's ack before asking others to "
     "probe; at most --probe-interval"},
    {"mtu", "mtu", K_U32, FIELD(mtu), GOSSIP_MIN_MTU, GOSSIP_MAX_MTU, "BYTES",
     "largest datagram sent"},
    {"max-members", "max_members", K_U32, FIELD(max_members), 1, 1000000, "N",
     "members kept at most"},
    {"max-value-size", "max_value_size", K_U32, FIELD(max_value_size), 0,
     GOSSIP_MAX_MTU - 256, "BYTES",
     "bytes in one application-state value, the tags' JSON included; at most "
     "--mtu minus 256 (0: exactly that)"},
    {"reap-timeout", "reap_timeout", K_U32, FIELD(reap_timeout_ms), 1000, 2592000000u, "MS",
     "milliseconds a dead or left member is remembered"},
    {"leave-timeout", "leave_timeout", K_U32, FIELD(leave_timeout_ms), 100, 600000, "MS",
     "milliseconds a graceful leave (SIGTERM, POST /v1/leave) waits at most"},
    {"max-event-size", "max_event_size", K_U32, FIELD(max_event_size), 0, 65536, "BYTES",
     "bytes in a user event's or query's payload (POST /v1/event/NAME); with a "
     "64-byte name and 9 bytes it must fit --max-value-size (0: 1024, or "
     "what --max-value-size leaves)"},
    {"event-buffer", "event_buffer", K_U32, FIELD(event_buffer), 0, GOSSIP_MAX_EVENT_BUFFER,
     "N", "user events each member keeps so that members that were away catch "
     "up (0: no user events)"},
    {"rumor-fanout", "rumor_fanout", K_U32, FIELD(rumor_fanout), 0, GOSSIP_MAX_RUMOR_FANOUT, "K",
     "peers each state change is pushed to at once and every period while it "
     "is hot (rumor mongering; 0: anti-entropy only)"},
    {"rumor-stop", "rumor_stop", K_RUMOR_STOP, FIELD(rumor_stop), 0, 0, "RULE",
     "when a node stops spreading a change, one of feedback-counter, "
     "feedback-coin, blind-counter, blind-coin: when peers say they knew it "
     "(feedback) or after every push (blind), after --rumor-k such events "
     "(counter) or with chance 1/k each (coin)"},
    {"rumor-k", "rumor_k", K_U32, FIELD(rumor_k), 1, 1000, "K",
     "Demers' k for --rumor-stop"},
    {"log-level", "log_level", K_LOG, FIELD(log_level), 0, 0, "debug|info|warn|error",
     "least severe log line written to stderr"},
    {"http-max-body", "http_max_body", K_U32, FIELD(http_max_body), 1024, 16777216, "BYTES",
     "bytes in an HTTP request body; at least --max-value-size"},
    {"http-max-connections", "http_max_connections", K_U32, FIELD(http_max_connections), 1,
     1024, "N", "concurrent HTTP connections"},
    {"http-max-watchers", "http_max_watchers", K_U32, FIELD(http_max_watchers), 0, 1023, "N",
     "concurrent /v1/watch streams, fewer than --http-max-connections so that "
     "watchers never take every connection (more get 503); 0: three quarters "
     "of --http-max-connections"},
    {"watch-buffer", "watch_buffer", K_U32, FIELD(watch_buffer), 16, 1048576, "N",
     "events kept for /v1/watch; a watcher that falls further behind is told "
     "it lost events"},
    {"tcp-max-frame", "tcp_max_frame", K_U32, FIELD(tcp_max_frame), 1024, 67108864, "BYTES",
     "bytes in one TCP frame; at least --mtu"},
    {"tcp-timeout", "tcp_timeout", K_U32, FIELD(tcp_timeout_ms), 100, 600000, "MS",
     "milliseconds a TCP connect may take and an idle TCP connection stays open"},
    {"tcp-max-connections", "tcp_max_connections", K_U32, FIELD(tcp_max_connections), 1, 65535,
     "N", "open TCP connections, both directions"},
    {"handler-max-running", "handler_max_running", K_U32, FIELD(handler_max_running), 1, 256,
     "N", "handler scripts running at once"},
    {"handler-queue", "handler_queue", K_U32, FIELD(handler_queue), 1, 65536, "N",
     "events waiting for a free handler slot; more are dropped and counted"},
    {"handler-timeout", "handler_timeout", K_U32, FIELD(handler_timeout_ms), 100, 86400000, "MS",
     "milliseconds before a handler script is killed"},
    {"coalesce-period", "coalesce_period", K_U32, FIELD(coalesce_period_ms), 0, 3600000, "MS",
     "hold member events this long before handlers run, keeping each member's latest "
     "status and latest value per state key (0: off)"},
    {"quiescent-period", "quiescent_period", K_U32, FIELD(quiescent_period_ms), 0, 3600000,
     "MS", "hand held member events on early when none newer came for this long (0: wait "
     "out --coalesce-period)"},
    {"user-coalesce-period", "user_coalesce_period", K_U32, FIELD(user_coalesce_period_ms), 0,
     3600000, "MS", "hold user events sent with coalesce (the default) this long before "
     "handlers run, keeping the newest of each name (0: off)"},
    {"user-quiescent-period", "user_quiescent_period", K_U32, FIELD(user_quiescent_period_ms),
     0, 3600000, "MS", "hand held user events on early when none newer of that name came for "
     "this long (0: wait out --user-coalesce-period)"},
    {"persist-interval", "persist_interval", K_U32, FIELD(persist_interval_ms), 100, 86400000,
     "MS", "milliseconds between snapshots of the data dir; one is also written at exit"},
    /* key-value store (src/agent/kv_agent.c, docs/kv.md) */
    {"kv-max-key", "kv_max_key", K_U32, FIELD(kv_max_key), 1, 1024, "BYTES",
     "bytes in a key of the key-value store (/v1/kv)"},
    {"kv-max-value", "kv_max_value", K_U32, FIELD(kv_max_value), 0, 16777216, "BYTES",
     "bytes in a value of the key-value store; larger writes are refused (413); "
     "a PUT's body is also capped by --http-max-body"},
    {"kv-max-entries", "kv_max_entries", K_U32, FIELD(kv_max_entries), 1, 100000000, "N",
     "entries the key-value store holds, deletes not yet collected included"},
    {"kv-anti-entropy-interval", "kv_anti_entropy_interval", K_U32,
     FIELD(kv_anti_entropy_interval_ms), 0, 86400000, "MS",
     "milliseconds between key-value anti-entropy sessions with a random member "
     "(0: none; deletes are then never collected)"},
    {"kv-rumor-fanout", "kv_rumor_fanout", K_U32, FIELD(kv_rumor_fanout), 0, 64, "K",
     "members each key-value write is pushed to at once and every gossip interval "
     "while it is hot (0: anti-entropy only)"},
    {"kv-rumor-k", "kv_rumor_k", K_U32, FIELD(kv_rumor_k), 1, 1000, "K",
     "a node stops pushing a key-value write after K members said they had it"},
    {"kv-tombstone-horizon", "kv_tombstone_horizon", K_U32, FIELD(kv_tombstone_horizon_ms), 100,
     2592000000u, "MS",
     "milliseconds a key-value delete is kept at least; it is collected after that "
     "once every live member has completed an anti-entropy session with this one"},
    /* services (src/agent/services.c, docs/services.md) */
    {"services-max", "services_max", K_U32, FIELD(services_max), 0, 32, "N",
     "services this agent registers at most (PUT /v1/services/NAME; 0: none)"},
    {"service-check-timeout", "service_check_timeout", K_U32, FIELD(service_check_timeout_ms),
     100, 600000, "MS",
     "milliseconds a service health check may take; after that it is killed and the "
     "service is critical"},
    {"service-min-interval", "service_min_interval", K_U32, FIELD(service_min_interval_ms), 50,
     3600000, "MS", "shortest interval between two runs of a service's health check"},
    {"config", NULL, K_CONFIG, FIELD(config_file), 0, 0, "FILE",
     "read settings from a JSON object with the same names, dashes written as "
     "underscores; flags win over the file"},
    {"help", NULL, K_HELP, NOFIELD, 0, 0, NULL, "print this help and exit"},
    {"version", NULL, K_VERSION, NOFIELD, 0, 0, NULL, "print the version and exit"},
};

#define N_OPTS (sizeof opts / sizeof opts[0])

static const opt *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].flag) == len && memcmp(opts[i].flag, name, len) == 0)
            return &opts[i];
    return NULL;
}

static const opt *find_key(const char *key)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].key && strcmp(opts[i].key, key) == 0)
            return &opts[i];
    if (strcmp(key, "tag") == 0) /* the flag's name works too */
        return find_key("tags");
    return NULL;
}

static const opt *opt_by_flag(const char *flag)
{
    return find_flag(flag, strlen(flag));
}

static const char *mode_name(enum gossip_mode m)
{
    switch (m) {
    case GOSSIP_MODE_PUSH: return "push";
    case GOSSIP_MODE_PULL: return "pull";
    case GOSSIP_MODE_PUSHPULL: return "pushpull";
    }
    return "?";
}

static const char *log_name(enum gossip_log_level l)
{
    switch (l) {
    case GOSSIP_LOG_DEBUG: return "debug";
    case GOSSIP_LOG_INFO: return "info";
    case GOSSIP_LOG_WARN: return "warn";
    case GOSSIP_LOG_ERROR: return "error";
    }
    return "?";
}

/* ---- defaults ------------------------------------------------------------------------ */

void agent_config_defaults(agent_config *c)
{
    memset(c, 0, sizeof *c);
    gossip_config g;
    gossip_config_init(&g);
    strcpy(c->bind, "0.0.0.0:7946");
    strcpy(c->http, "127.0.0.1:7947");
    c->log_level = GOSSIP_LOG_INFO;
    c->mode = g.mode;                   /* pushpull */
    c->fanout = g.fanout;               /* 1: the engine's; SWIM probes also spread news */
    c->gossip_interval_ms = 200;
    c->probe_interval_ms = g.probe_interval_ms; /* 1000 */
    c->probe_timeout_ms = g.probe_timeout_ms;   /* 500 */
    c->mtu = g.mtu;                             /* 1400 */
    c->max_members = g.max_members;             /* 100000 */
    c->max_value_size = 0;                      /* derived: --mtu minus 256 (1144) */
    c->max_event_size = 0; /* derived: 1024, or what --max-value-size leaves */
    c->event_buffer = g.event_buffer;           /* 16 */
    c->reap_timeout_ms = g.reap_timeout_ms;     /* 1 hour */
    c->leave_timeout_ms = 5000;
    c->http_max_body = 65536;
    c->http_max_connections = 64;
    c->http_max_watchers = 0; /* derived below */
    c->rumor_fanout = 3;
    c->rumor_stop = GOSSIP_RUMOR_FEEDBACK_COUNTER;
    c->rumor_k = 4;
    c->watch_buffer = 4096;
    c->tcp_max_frame = 2 * 1024 * 1024; /* a 64 MiB payload's manifest fits one frame */
    c->tcp_timeout_ms = 5000;
    c->tcp_max_connections = 256;
    c->handler_max_running = 4;
    c->handler_queue = 256;
    c->handler_timeout_ms = 30000;
    c->persist_interval_ms = 10000;
    c->kv_max_key = 512;                /* key-value store (kv_agent.c) */
    c->kv_max_value = 65536;
    c->kv_max_entries = 1000000;
    c->kv_anti_entropy_interval_ms = 10000;
    c->kv_rumor_fanout = 3;
    c->kv_rumor_k = 3;
    c->kv_tombstone_horizon_ms = 86400000;
    c->services_max = 16;               /* services (services.c) */
    c->service_check_timeout_ms = 2000;
    c->service_min_interval_ms = 200;
}

/* ---- setting one value ---------------------------------------------------------------- */

/* How the setting is named in messages: "--fanout" or "FILE: fanout". */
typedef struct origin {
    const char *file; /* NULL: command line */
    bool from_cli;
} origin;

static void who(char *buf, size_t len, const opt *o, const origin *org)
{
    if (org->file)
        snprintf(buf, len, "%s: %s", org->file, o->key);
    else
        snprintf(buf, len, "--%s", o->flag);
}

static int set_u32_value(agent_config *c, const opt *o, long long v, const char *shown,
                         const char *w, char *err, size_t err_len)
{
    if (v < (long long)o->min || v > (long long)o->max) {
        set_err(err, err_len, "%s: must be an integer in %lu..%lu, got %s", w,
                (unsigned long)o->min, (unsigned long)o->max, shown);
        return -1;
    }
    *(uint32_t *)((char *)c + o->off) = (uint32_t)v;
    return 0;
}

static int add_tag(agent_config *c, const char *key, const char *value, const char *w,
                   char *err, size_t err_len)
{
    size_t kl = strlen(key), vl = strlen(value);
    if (kl == 0) {
        set_err(err, err_len, "%s: the tag key is empty", w);
        return -1;
    }
    if (kl > AGENT_MAX_TAG_TEXT) {
        set_err(err, err_len, "%s: tag key \"%.20s...\" is longer than %d bytes", w, key,
                AGENT_MAX_TAG_TEXT);
        return -1;
    }
    if (vl > AGENT_MAX_TAG_TEXT) {
        set_err(err, err_len, "%s: the value of tag \"%s\" is longer than %d bytes", w, key,
                AGENT_MAX_TAG_TEXT);
        return -1;
    }
    if (!valid_utf8_text(key) || !valid_utf8_text(value)) {
        set_err(err, err_len, "%s: tag \"%s\" is not UTF-8 text without control characters",
                w, key);
        return -1;
    }
    for (size_t i = 0; i < c->n_tags; i++) {
        if (strcmp(c->tags[i].key, key) == 0) { /* last wins */
            memcpy(c->tags[i].value, value, vl + 1);
            return 0;
        }
    }
    if (c->n_tags >= AGENT_MAX_TAGS) {
        set_err(err, err_len, "%s: more than %d tags", w, AGENT_MAX_TAGS);
        return -1;
    }
    memcpy(c->tags[c->n_tags].key, key, kl + 1);
    memcpy(c->tags[c->n_tags].value, value, vl + 1);
    c->n_tags++;
    return 0;
}

static int add_handler(agent_config *c, const char *text, const char *w, char *err,
                       size_t err_len)
{
    uint32_t events = 0;
    const char *path = text;
    const char *eq = strchr(text, '=');
    /* "[EVENTS=]PATH": a '=' before any '/' ends an event list. */
    if (eq && !memchr(text, '/', (size_t)(eq - text))) {
        path = eq + 1;
        const char *p = text;
        while (p < eq) {
            const char *comma = memchr(p, ',', (size_t)(eq - p));
            const char *end = comma ? comma : eq;
            size_t len = (size_t)(end - p);
            if (len == 0) {
                if (eq == text) /* "=PATH": every event */
                    break;
                set_err(err, err_len, "%s: empty event name in \"%s\"", w, text);
                return -1;
            }
            uint32_t bit = 0;
            if (len == 1 && *p == '*')
                bit = ALL_EVENTS;
            for (int e = 0; e < AGENT_EV_COUNT && !bit; e++)
                if (strlen(event_names[e]) == len && memcmp(event_names[e], p, len) == 0)
                    bit = 1u << e;
            if (!bit) {
                set_err(err, err_len,
                        "%s: unknown event \"%.*s\" (events: member-join, member-leave, "
                        "member-failed, member-suspect, member-alive, member-update, "
                        "member-reap, user, query)",
                        w, (int)len, p);
                return -1;
            }
            events |= bit;
            p = comma ? comma + 1 : eq;
            if (comma && comma + 1 == eq) {
                set_err(err, err_len, "%s: empty event name in \"%s\"", w, text);
                return -1;
            }
        }
    }
    if (events == 0)
        events = ALL_EVENTS;
    if (*path == '\0') {
        set_err(err, err_len, "%s: the handler path is empty in \"%s\"", w, text);
        return -1;
    }
    if (strlen(path) >= AGENT_MAX_PATH) {
        set_err(err, err_len, "%s: the handler path is longer than %d bytes", w,
                AGENT_MAX_PATH - 1);
        return -1;
    }
    if (access(path, X_OK) != 0) {
        set_err(err, err_len, "%s: %s is not an executable file: %s", w, path, strerror(errno));
        return -1;
    }
    if (c->n_handlers >= AGENT_MAX_HANDLERS) {
        set_err(err, err_len, "%s: more than %d handlers", w, AGENT_MAX_HANDLERS);
        return -1;
    }
    agent_handler *h = &c->handlers[c->n_handlers++];
    h->events = events;
    strcpy(h->path, path);
    return 0;
}

/* Applies one textual value (a flag's argument, or a string from the file). */
static int set_text(agent_config *c, const opt *o, const char *v, const origin *org, char *err,
                    size_t err_len)
{
    char w[128];
    who(w, sizeof w, o, org);
    char *field = (char *)c + o->off;
    char why[256];
    parsed_addr pa;

    switch (o->kind) {
    case K_NAME: {
        size_t n = strlen(v);
        if (n == 0 || n > GOSSIP_MAX_NAME) {
            set_err(err, err_len, "%s: must be 1..%d bytes, got %zu", w, GOSSIP_MAX_NAME, n);
            return -1;
        }
        for (const char *p = v; *p; p++) {
            char ch = *p;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')) {
                set_err(err, err_len,
                        "%s: \"%s\" may only use the characters A-Z a-z 0-9 . _ -", w, v);
                return -1;
            }
        }
        strcpy(field, v);
        return 0;
    }
    case K_ADDR:
    case K_ADVERTISE:
    case K_JOIN:
        if (o->kind == K_ADVERTISE && v[0] == '\0') {
            field[0] = '\0'; /* explicitly "derive it" */
            return 0;
        }
        if (parse_addr(v, &pa, why, sizeof why) != 0) {
            set_err(err, err_len, "%s: %s", w, why);
            return -1;
        }
        if (o->kind == K_ADVERTISE && addr_unspecified(&pa)) {
            set_err(err, err_len,
                    "%s: %s is not an address others can reach (0.0.0.0 and [::] are "
                    "only for --bind)",
                    w, v);
            return -1;
        }
        if (o->kind == K_JOIN) {
            if (addr_unspecified(&pa)) {
                set_err(err, err_len, "%s: cannot join the unspecified address %s", w, v);
                return -1;
            }
            for (size_t i = 0; i < c->n_joins; i++)
                if (strcmp(c->joins[i], pa.canon) == 0)
                    return 0; /* given twice */
            if (c->n_joins >= AGENT_MAX_JOINS) {
                set_err(err, err_len, "%s: more than %d addresses", w, AGENT_MAX_JOINS);
                return -1;
            }
            strcpy(c->joins[c->n_joins++], pa.canon);
            return 0;
        }
        strcpy(field, pa.canon);
        return 0;
    case K_TOKEN: {
        size_t n = strlen(v);
        if (n > AGENT_MAX_TOKEN) {
            set_err(err, err_len, "%s: longer than %d bytes", w, AGENT_MAX_TOKEN);
            return -1;
        }
        for (const char *p = v; *p; p++) {
            if (*p < 0x21 || *p > 0x7e) {
                set_err(err, err_len,
                        "%s: only printable ASCII characters without spaces are allowed", w);
                return -1;
            }
        }
        strcpy(field, v);
        return 0;
    }
    case K_PATH:
    case K_CONFIG:
        if (v[0] == '\0') {
            set_err(err, err_len, "%s: the path is empty", w);
            return -1;
        }
        if (!copy_text(field, o->size, v)) {
            set_err(err, err_len, "%s: the path is longer than %zu bytes", w, o->size - 1);
            return -1;
        }
        return 0;
    case K_TAG: {
        const char *eq = strchr(v, '=');
        if (!eq) {
            set_err(err, err_len, "%s: expected KEY=VALUE, got \"%s\"", w, v);
            return -1;
        }
        char key[AGENT_MAX_TAG_TEXT + 2];
        size_t kl = (size_t)(eq - v);
        if (kl > AGENT_MAX_TAG_TEXT)
            kl = AGENT_MAX_TAG_TEXT + 1; /* add_tag reports it */
        memcpy(key, v, kl);
        key[kl] = '\0';
        return add_tag(c, key, eq + 1, w, err, err_len);
    }
    case K_HANDLER:
        return add_handler(c, v, w, err, err_len);
    case K_MODE: {
        enum gossip_mode m;
        if (strcmp(v, "push") == 0)
            m = GOSSIP_MODE_PUSH;
        else if (strcmp(v, "pull") == 0)
            m = GOSSIP_MODE_PULL;
        else if (strcmp(v, "pushpull") == 0 || strcmp(v, "push-pull") == 0)
            m = GOSSIP_MODE_PUSHPULL;
        else {
            set_err(err, err_len, "%s: must be push, pull or pushpull, got \"%s\"", w, v);
            return -1;
        }
        c->mode = m;
        return 0;
    }
    case K_RUMOR_STOP: {
        static const char *const names[] = {"feedback-counter", "feedback-coin",
                                            "blind-counter", "blind-coin"};
        for (int i = 0; i < 4; i++)
            if (strcmp(v, names[i]) == 0) {
                c->rumor_stop = (enum gossip_rumor_stop)i;
                return 0;
            }
        set_err(err, err_len,
                "%s: must be feedback-counter, feedback-coin, blind-counter or blind-coin, "
                "got \"%s\"", w, v);
        return -1;
    }
    case K_LOG: {
        enum gossip_log_level l;
        if (strcmp(v, "debug") == 0)
            l = GOSSIP_LOG_DEBUG;
        else if (strcmp(v, "info") == 0)
            l = GOSSIP_LOG_INFO;
        else if (strcmp(v, "warn") == 0 || strcmp(v, "warning") == 0)
            l = GOSSIP_LOG_WARN;
        else if (strcmp(v, "error") == 0)
            l = GOSSIP_LOG_ERROR;
        else {
            set_err(err, err_len, "%s: must be debug, info, warn or error, got \"%s\"", w, v);
            return -1;
        }
        c->log_level = l;
        return 0;
    }
    case K_U32: {
        char shown[48];
        snprintf(shown, sizeof shown, "\"%.40s\"", v);
        const char *p = v;
        long long n = 0;
        if (*p == '\0' || strlen(p) > 12) {
            n = -1;
        } else {
            for (; *p; p++) {
                if (*p < '0' || *p > '9') {
                    n = -1;
                    break;
                }
                n = n * 10 + (*p - '0');
            }
        }
        return set_u32_value(c, o, n, shown, w, err, err_len);
    }
    case K_HELP:
    case K_VERSION:
        break;
    }
    set_err(err, err_len, "%s: takes no value", w);
    return -1;
}

/* ---- the config file ----------------------------------------------------------------- */

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static int wrong_type(const char *file, const char *key, const char *want, const json_t *j,
                      char *err, size_t err_len)
{
    set_err(err, err_len, "%s: %s: must be %s, got %s", file, key, want, json_type_name(j));
    return -1;
}

static int load_file(agent_config *c, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, err_len, "--config: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        set_err(err, err_len, "--config: out of memory");
        return -1;
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        set_err(err, err_len, "--config: cannot read %s", path);
        return -1;
    }
    if (n > CONFIG_FILE_MAX) {
        free(buf);
        set_err(err, err_len, "--config: %s is larger than %d bytes", path, CONFIG_FILE_MAX);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!root) {
        set_err(err, err_len, "--config: %s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        set_err(err, err_len, "--config: %s must hold a JSON object, got %s", path,
                json_type_name(root));
        json_decref(root);
        return -1;
    }

    origin org = {path, false};
    int rc = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        const opt *o = find_key(key);
        if (!o) {
            set_err(err, err_len, "%s: unknown setting \"%s\"", path, key);
            rc = -1;
            break;
        }
        if (o->kind == K_U32) {
            if (!json_is_integer(val)) {
                rc = wrong_type(path, key, "an integer", val, err, err_len);
                break;
            }
            char shown[32], w[128];
            json_int_t v = json_integer_value(val);
            snprintf(shown, sizeof shown, "%lld", (long long)v);
            who(w, sizeof w, o, &org);
            rc = set_u32_value(c, o, (long long)v, shown, w, err, err_len);
        } else if (o->kind == K_TAG) {
            if (json_is_object(val)) {
                const char *tk;
                json_t *tv;
                char w[160];
                json_object_foreach(val, tk, tv) {
                    snprintf(w, sizeof w, "%s: tags.%.64s", path, tk);
                    if (!json_is_string(tv)) {
                        set_err(err, err_len, "%s: must be a string, got %s", w,
                                json_type_name(tv));
                        rc = -1;
                        break;
                    }
                    rc = add_tag(c, tk, json_string_value(tv), w, err, err_len);
                    if (rc)
                        break;
                }
            } else if (json_is_array(val)) { /* ["k=v", ...] like the flag */
                size_t i;
                json_t *it;
                json_array_foreach(val, i, it) {
                    if (!json_is_string(it)) {
                        rc = wrong_type(path, key, "an object of strings or KEY=VALUE strings",
                                        it, err, err_len);
                        break;
                    }
                    rc = set_text(c, o, json_string_value(it), &org, err, err_len);
                    if (rc)
                        break;
                }
            } else {
                rc = wrong_type(path, key, "an object of strings", val, err, err_len);
            }
        } else if (o->kind == K_JOIN || o->kind == K_HANDLER) {
            if (json_is_string(val)) {
                rc = set_text(c, o, json_string_value(val), &org, err, err_len);
            } else if (json_is_array(val)) {
                size_t i;
                json_t *it;
                json_array_foreach(val, i, it) {
                    if (!json_is_string(it)) {
                        rc = wrong_type(path, key, "an array of strings", it, err, err_len);
                        break;
                    }
                    rc = set_text(c, o, json_string_value(it), &org, err, err_len);
                    if (rc)
                        break;
                }
            } else {
                rc = wrong_type(path, key, "an array of strings", val, err, err_len);
            }
        } else {
            if (!json_is_string(val)) {
                rc = wrong_type(path, key, "a string", val, err, err_len);
                break;
            }
            rc = set_text(c, o, json_string_value(val), &org, err, err_len);
        }
        if (rc)
            break;
    }
    json_decref(root);
    return rc;
}

/* ---- validation of the whole ------------------------------------------------------------ */

static int validate(agent_config *c, char *err, size_t err_len)
{
    if (c->name[0] == '\0') {
        set_err(err, err_len, "--name: required (this member's unique name)");
        return -1;
    }
    if (c->data_dir[0] == '\0') {
        set_err(err, err_len, "--data-dir: required (where the node keeps its state)");
        return -1;
    }
    if (c->probe_timeout_ms > c->probe_interval_ms) {
        set_err(err, err_len, "--probe-timeout: must be at most --probe-interval (%lu), got %lu",
                (unsigned long)c->probe_interval_ms, (unsigned long)c->probe_timeout_ms);
        return -1;
    }
    if (c->max_value_size == 0)
        c->max_value_size = c->mtu - 256;
    if (c->max_value_size > c->mtu - 256) {
        set_err(err, err_len,
                "--max-value-size: must be at most --mtu minus 256 (%lu), got %lu",
                (unsigned long)(c->mtu - 256), (unsigned long)c->max_value_size);
        return -1;
    }
    uint32_t event_room = c->max_value_size > 9 + GOSSIP_MAX_EVENT_NAME
                              ? c->max_value_size - 9 - GOSSIP_MAX_EVENT_NAME
                              : 0;
    if (c->max_event_size == 0)
        c->max_event_size = event_room < 1024 ? event_room : 1024;
    if (c->event_buffer && c->max_event_size > event_room) {
        set_err(err, err_len,
                "--max-event-size: with a %d-byte name and a 9-byte header it must fit "
                "--max-value-size (%lu): at most %lu, got %lu",
                GOSSIP_MAX_EVENT_NAME, (unsigned long)c->max_value_size,
                (unsigned long)(c->max_value_size > 9 + GOSSIP_MAX_EVENT_NAME
                                    ? c->max_value_size - 9 - GOSSIP_MAX_EVENT_NAME
                                    : 0),
                (unsigned long)c->max_event_size);
        return -1;
    }
    if (c->http_max_body < c->max_value_size) {
        set_err(err, err_len,
                "--http-max-body: must be at least --max-value-size (%lu), got %lu",
                (unsigned long)c->max_value_size, (unsigned long)c->http_max_body);
        return -1;
    }
    if (c->http_max_watchers == 0)
        c->http_max_watchers = c->http_max_connections * 3 / 4;
    else if (c->http_max_watchers >= c->http_max_connections) {
        set_err(err, err_len,
                "--http-max-watchers: must be below --http-max-connections (%lu), got %lu",
                (unsigned long)c->http_max_connections, (unsigned long)c->http_max_watchers);
        return -1;
    }
    if (c->quiescent_period_ms > c->coalesce_period_ms) {
        set_err(err, err_len, "--quiescent-period: must be at most --coalesce-period (%lu), got %lu",
                (unsigned long)c->coalesce_period_ms, (unsigned long)c->quiescent_period_ms);
        return -1;
    }
    if (c->user_quiescent_period_ms > c->user_coalesce_period_ms) {
        set_err(err, err_len,
                "--user-quiescent-period: must be at most --user-coalesce-period (%lu), got %lu",
                (unsigned long)c->user_coalesce_period_ms,
                (unsigned long)c->user_quiescent_period_ms);
        return -1;
    }
    if (c->tcp_max_frame < c->mtu) {
        set_err(err, err_len, "--tcp-max-frame: must be at least --mtu (%lu), got %lu",
                (unsigned long)c->mtu, (unsigned long)c->tcp_max_frame);
        return -1;
    }

    char why[256];
    parsed_addr bind, http;
    if (parse_addr(c->bind, &bind, why, sizeof why) != 0) {
        set_err(err, err_len, "--bind: %s", why);
        return -1;
    }
    if (parse_addr(c->http, &http, why, sizeof why) != 0) {
        set_err(err, err_len, "--http: %s", why);
        return -1;
    }
    if (bind.port == http.port &&
        (addr_unspecified(&bind) || addr_unspecified(&http) ||
         (bind.family == http.family && memcmp(bind.bin, http.bin, 16) == 0))) {
        set_err(err, err_len,
                "--http: %s overlaps --bind %s (gossip uses TCP on the --bind port too)",
                c->http, c->bind);
        return -1;
    }
    if (!addr_loopback(&http) && c->http_token[0] == '\0') {
        set_err(err, err_len,
                "--http-token: required when --http is not a loopback address (--http %s)",
                c->http);
        return -1;
    }
    if (c->advertise[0] == '\0' && !addr_unspecified(&bind))
        strcpy(c->advertise, c->bind);
    if (c->advertise[0]) {
        parsed_addr adv;
        if (parse_addr(c->advertise, &adv, why, sizeof why) != 0) {
            set_err(err, err_len, "--advertise: %s", why);
            return -1;
        }
        if (adv.family != bind.family) {
            set_err(err, err_len,
                    "--advertise: %s is not of the same address family as --bind %s",
                    c->advertise, c->bind);
            return -1;
        }
    }

    for (size_t i = 0; i < c->n_joins; i++) {
        parsed_addr j;
        if (parse_addr(c->joins[i], &j, why, sizeof why) != 0) {
            set_err(err, err_len, "--join: %s", why);
            return -1;
        }
        if (j.family != bind.family) {
            set_err(err, err_len, "--join: %s is %s but --bind %s is %s", c->joins[i],
                    j.family == AF_INET ? "IPv4" : "IPv6", c->bind,
                    bind.family == AF_INET ? "IPv4" : "IPv6");
            return -1;
        }
    }

    char tags[GOSSIP_MAX_MTU];
    if (agent_tags_json(c, tags, sizeof tags) != 0 || strlen(tags) > c->max_value_size) {
        set_err(err, err_len,
                "--tag: the tags as JSON take more than --max-value-size (%lu) bytes",
                (unsigned long)c->max_value_size);
        return -1;
    }
    return 0;
}

/* ---- the command line ------------------------------------------------------------------ */

typedef struct arg {
    const opt *o;
    const char *value; /* NULL for flags without a value */
} arg;

/* Reads argv[*i] (and maybe the next one) as one flag. */
static int next_arg(int argc, char **argv, int *i, arg *out, char *err, size_t err_len)
{
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0) {
        out->o = opt_by_flag("help");
        out->value = NULL;
        return 0;
    }
    if (a[0] != '-' || a[1] != '-' || a[2] == '\0') {
        set_err(err, err_len, "unexpected argument \"%s\" (gossipd takes only --flags)", a);
        return -1;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const opt *o = find_flag(name, len);
    if (!o) {
        set_err(err, err_len, "unknown flag --%.*s", (int)len,
                name);
        return -1;
    }
    out->o = o;
    if (o->kind == K_HELP || o->kind == K_VERSION) {
        if (eq) {
            set_err(err, err_len, "--%s: takes no value", o->flag);
            return -1;
        }
        out->value = NULL;
        return 0;
    }
    if (eq) {
        out->value = eq + 1;
        return 0;
    }
    if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1] == '-')) {
        set_err(err, err_len, "--%s: needs a value (%s)", o->flag, o->metavar);
        return -1;
    }
    *i += 1;
    out->value = argv[*i];
    return 0;
}

int agent_config_parse(agent_config *c, int argc, char **argv, char *err, size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    agent_config_defaults(c);

    /* Pass 1: syntax, --help / --version, and where the config file is. */
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        arg a;
        if (next_arg(argc, argv, &i, &a, err, err_len) != 0) {
            /* --help still wins over a mistake elsewhere. */
            for (int j = 1; j < argc; j++) {
                if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
                    fputs(agent_config_help(), stdout);
                    return 1;
                }
            }
            return -1;
        }
        if (a.o->kind == K_HELP) {
            fputs(agent_config_help(), stdout);
            return 1;
        }
        if (a.o->kind == K_VERSION) {
            printf("gossipd %s\n", GOSSIP_VERSION_STRING);
            return 1;
        }
        if (a.o->kind == K_CONFIG)
            config_path = a.value;
    }

    origin cli = {NULL, true};
    if (config_path) {
        if (set_text(c, opt_by_flag("config"), config_path, &cli, err, err_len) != 0)
            return -1;
        if (load_file(c, c->config_file, err, err_len) != 0)
            return -1;
    }

    /* Pass 2: the flags, over the file's settings. */
    bool joins_cleared = false, handlers_cleared = false;
    for (int i = 1; i < argc; i++) {
        arg a;
        if (next_arg(argc, argv, &i, &a, err, err_len) != 0)
            return -1;
        if (a.o->kind == K_CONFIG)
            continue;
        if (a.o->kind == K_JOIN && !joins_cleared) {
            c->n_joins = 0;
            joins_cleared = true;
        }
        if (a.o->kind == K_HANDLER && !handlers_cleared) {
            c->n_handlers = 0;
            handlers_cleared = true;
        }
        if (set_text(c, a.o, a.value, &cli, err, err_len) != 0)
            return -1;
    }
    return validate(c, err, err_len);
}

/* ---- engine mapping ---------------------------------------------------------------------- */

void agent_config_to_engine(const agent_config *c, gossip_config *g)
{
    gossip_config_init(g);
    g->name = c->name;
    g->addr = c->advertise[0] ? c->advertise : c->bind;
    g->mode = c->mode;
    g->fanout = c->fanout;
    g->gossip_interval_ms = c->gossip_interval_ms;
    g->probe_interval_ms = c->probe_interval_ms;
    g->probe_timeout_ms = c->probe_timeout_ms;
    g->mtu = c->mtu;
    g->max_members = c->max_members;
    g->max_value_size = c->max_value_size;
    g->reap_timeout_ms = c->reap_timeout_ms;
    g->leave_timeout_ms = c->leave_timeout_ms;
    g->max_event_size = c->max_event_size;
    g->event_buffer = c->event_buffer;
    g->rumor_fanout = c->rumor_fanout;
    g->rumor_stop = c->rumor_stop;
    g->rumor_k = c->rumor_k;
}

const char *agent_rumor_stop_name(enum gossip_rumor_stop s)
{
    static const char *const names[] = {"feedback-counter", "feedback-coin", "blind-counter",
                                        "blind-coin"};
    return (unsigned)s < 4 ? names[s] : "unknown";
}

/* ---- tags ----------------------------------------------------------------------------------- */

int agent_tags_json(const agent_config *c, char *out, size_t out_len)
{
    if (!out || out_len == 0)
        return GOSSIP_ERR_NO_SPACE;
    out[0] = '\0';
    json_t *obj = json_object();
    if (!obj)
        return GOSSIP_ERR_NOMEM;
    for (size_t i = 0; i < c->n_tags; i++) {
        json_t *v = json_string(c->tags[i].value);
        if (!v || json_object_set_new(obj, c->tags[i].key, v) != 0) {
            json_decref(obj);
            return GOSSIP_ERR_INVALID; /* not UTF-8 */
        }
    }
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    if (!text)
        return GOSSIP_ERR_NOMEM;
    int rc = copy_text(out, out_len, text) ? 0 : GOSSIP_ERR_NO_SPACE;
    free(text);
    if (rc)
        out[0] = '\0';
    return rc;
}

/* ---- help ------------------------------------------------------------------------------------ */

static void default_text(const opt *o, const agent_config *d, char *buf, size_t len)
{
    buf[0] = '\0';
    switch (o->kind) {
    case K_ADDR:
        snprintf(buf, len, "%s", (const char *)d + o->off);
        break;
    case K_MODE:
        snprintf(buf, len, "%s", mode_name(d->mode));
        break;
    case K_LOG:
        snprintf(buf, len, "%s", log_name(d->log_level));
        break;
    case K_RUMOR_STOP:
        snprintf(buf, len, "%s", agent_rumor_stop_name(d->rumor_stop));
        break;
    case K_U32:
        snprintf(buf, len, "%lu", (unsigned long)*(const uint32_t *)((const char *)d + o->off));
        break;
    default:
        break;
    }
}

/* Appends to a fixed buffer; silently stops at its end. */
typedef struct sbuf {
    char *p, *end;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(sbuf *b, const char *fmt, ...)
{
    if (b->p >= b->end - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p, (size_t)(b->end - b->p), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->p += (size_t)n < (size_t)(b->end - b->p) ? (size_t)n : (size_t)(b->end - b->p - 1);
}

#define HELP_COL 30
#define HELP_WIDTH 79

/* Appends `text` wrapped at HELP_WIDTH columns, lines indented by HELP_COL. */
static void wrap(sbuf *b, const char *text)
{
    int col = HELP_COL;
    const char *s = text;
    while (*s) {
        const char *sp = strchr(s, ' ');
        int wl = (int)(sp ? (size_t)(sp - s) : strlen(s));
        if (col > HELP_COL && col + 1 + wl > HELP_WIDTH) {
            put(b, "\n%*s", HELP_COL, "");
            col = HELP_COL;
        } else if (col > HELP_COL) {
            put(b, " ");
            col++;
        }
        put(b, "%.*s", wl, s);
        col += wl;
        s += wl;
        while (*s == ' ')
            s++;
    }
}

const char *agent_config_help(void)
{
    static char buf[16384];
    sbuf b = {buf, buf + sizeof buf};
    agent_config d;
    agent_config_defaults(&d);
    put(&b, "%s",
        "usage: gossipd --name NAME --data-dir DIR [--bind ADDR:PORT] [--advertise ADDR:PORT]\n"
        "               [--join ADDR:PORT]... [--http ADDR:PORT] [--tag KEY=VALUE]...\n"
        "               [--config FILE] [other flags below]\n"
        "\n"
        "Runs one member of a gossip cluster: membership with SWIM failure detection,\n"
        "application state spread by gossip, and an HTTP API (see gossipctl(1)).\n"
        "Addresses are IP addresses, a.b.c.d:PORT or [IPv6]:PORT, never host names.\n"
        "Flags take their value as --flag VALUE or --flag=VALUE.  A JSON config file\n"
        "(--config) holds the same settings, named without the dashes and with '_' for\n"
        "'-', e.g. {\"name\": \"a\", \"join\": [\"10.0.0.1:7946\"], \"tags\": {\"role\": \"web\"},\n"
        "\"gossip_interval\": 200}; flags win over the file.  SIGTERM or SIGINT leave the\n"
        "cluster gracefully and exit 0; SIGHUP re-reads the log level and the tags.\n"
        "\n"
        "flags:\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &opts[i];
        char head[64];
        if (o->metavar)
            snprintf(head, sizeof head, "  --%s %s", o->flag, o->metavar);
        else
            snprintf(head, sizeof head, "  --%s", o->flag);
        int hl = (int)strlen(head);
        if (hl >= HELP_COL - 1)
            put(&b, "%s\n%*s", head, HELP_COL, "");
        else
            put(&b, "%s%*s", head, HELP_COL - hl, "");
        char text[1024], def[64];
        default_text(o, &d, def, sizeof def);
        if (o->kind == K_U32)
            snprintf(text, sizeof text, "%s (%lu..%lu, default %s)", o->help,
                     (unsigned long)o->min, (unsigned long)o->max, def);
        else if (def[0])
            snprintf(text, sizeof text, "%s (default %s)", o->help, def);
        else
            snprintf(text, sizeof text, "%s", o->help);
        wrap(&b, text);
        put(&b, "\n");
    }
    return buf;
}
