/* http.c -- gossipd's HTTP API on libmicrohttpd (thread per connection) and
 * jansson.  docs/agent-http.md documents every endpoint.
 *
 * A request goes through on_request() in three steps: the first call (the
 * headers are in) checks the token, finds the route and refuses a declared
 * body over http_max_body; the calls with upload data copy the body up to
 * the cap and discard the rest; the last call runs the route's handler.
 * Handlers touch the engine only between agent_lock() and agent_unlock(),
 * build their answer as jansson objects there, and serialise after
 * unlocking.  Every 4xx/5xx answer is {"error": "..."}. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "agent/http.h"
#include "agent/http_internal.h"
#include "agent/json_text.h"
#include "agent/blob_agent.h" /* blobs: PUT /v1/blob, GET /v1/blob/HASH */
#include "agent/kv_agent.h"   /* key-value store: /v1/kv (kv_http.c) */
#include "agent/services.h"   /* services: /v1/services (services.c) */

#define HTTP_TIMEOUT_S 30          /* idle connection timeout */
#define HTTP_CONN_MEMORY (512 * 1024) /* MHD's per-connection memory pool: a
                                       * /v1/watch frame must fit */
#define HTTP_MAX_DISCARD (1u << 20) /* body bytes past the cap we read before hanging up */
#define WATCH_BLOCK 16384          /* bytes per /v1/watch read */
#define WATCH_WAIT_MS 1000         /* a keepalive comment after this much silence */
#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))
#define JSON_PRETTY (JSON_INDENT(2) | JSON_REAL_PRECISION(6))

struct agent_http {
    agent *a;
    struct MHD_Daemon *daemon;
    char token[AGENT_MAX_TOKEN + 1]; /* empty: no authentication */
    size_t max_body;
    atomic_int stopping;
    pthread_mutex_t mu;              /* guards st */
    agent_http_stats st;
};

/* ---- small helpers ------------------------------------------------------ */

static json_t *json_u64(uint64_t v) { return json_integer((json_int_t)v); }

static const char *mode_name(enum gossip_mode m)
{
    switch (m) {
    case GOSSIP_MODE_PUSH: return "push";
    case GOSSIP_MODE_PULL: return "pull";
    case GOSSIP_MODE_PUSHPULL: return "pushpull";
    }
    return "unknown";
}

static const char *log_level_name(enum gossip_log_level l)
{
    switch (l) {
    case GOSSIP_LOG_DEBUG: return "debug";
    case GOSSIP_LOG_INFO: return "info";
    case GOSSIP_LOG_WARN: return "warn";
    case GOSSIP_LOG_ERROR: return "error";
    }
    return "unknown";
}

static int parse_status(const char *s)
{
    for (int st = GOSSIP_STATUS_ALIVE; st <= GOSSIP_STATUS_LEFT; st++)
        if (strcmp(s, gossip_status_name(st)) == 0)
            return st;
    return -1;
}


/* Keys (and names) in a path: 1..max bytes, no control characters.  Puts
 * the reason in why and returns false when s is not one. */
static bool path_text_ok(const char *s, size_t max, const char *what, char *why, size_t why_len)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        snprintf(why, why_len, "%s must be 1..%zu bytes, got %zu", what, max, n);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            snprintf(why, why_len, "%s must not contain control characters", what);
            return false;
        }
    return true;
}

/* Bearer token check in time independent of where the tokens differ. */
static bool token_ok(const char *header, const char *token)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    const char *got = header + 7;
    while (*got == ' ')
        got++;
    size_t gl = strlen(got), tl = strlen(token);
    unsigned diff = gl != tl;
    for (size_t i = 0; i < tl; i++)
        diff |= (unsigned)((unsigned char)token[i] ^ (unsigned char)(i < gl ? got[i] : 0));
    return diff == 0;
}

/* ---- answers ------------------------------------------------------------ */

static void count_answer(agent_http *h, unsigned status)
{
    pthread_mutex_lock(&h->mu);
    h->st.requests++;
    if (status >= 400 && status < 500)
        h->st.bad_requests++;
    if (status == 401)
        h->st.unauthorized++;
    if (status >= 500)
        h->st.server_errors++;
    pthread_mutex_unlock(&h->mu);
}

static void count_dropped(agent_http *h)
{
    pthread_mutex_lock(&h->mu);
    h->st.bad_requests++;
    pthread_mutex_unlock(&h->mu);
}

/* Queues `text` (malloc'd, taken over) as the answer. */
static enum MHD_Result send_text(agent_http *h, struct MHD_Connection *conn, unsigned status,
                                 const char *ctype, char *text, size_t len, const char *allow)
{
    struct MHD_Response *rsp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!rsp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(rsp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow)
        MHD_add_response_header(rsp, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == 401)
        MHD_add_response_header(rsp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"gossipd\"");
    count_answer(h, status);
    enum MHD_Result r = MHD_queue_response(conn, status, rsp);
    MHD_destroy_response(rsp);
    return r;
}

static enum MHD_Result iter_has_pretty(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    (void)value;
    if (strcmp(key, "pretty") == 0) {
        *(bool *)cls = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* Sends `j` (reference taken over) as JSON; ?pretty indents it. */
static enum MHD_Result send_json_allow(agent_http *h, struct MHD_Connection *conn,
                                       unsigned status, json_t *j, const char *allow)
{
    bool pretty = false;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, iter_has_pretty, &pretty);
    char *text = j ? json_dumps(j, pretty ? JSON_PRETTY : JSON_FLAGS) : NULL;
    json_decref(j);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\"}\n";
        char *copy = strdup(oom);
        if (!copy)
            return MHD_NO;
        return send_text(h, conn, 500, "application/json", copy, sizeof oom - 1, NULL);
    }
    size_t n = strlen(text);
    char *body = realloc(text, n + 2);
    if (!body) {
        free(text);
        return MHD_NO;
    }
    body[n] = '\n';
    body[n + 1] = '\0';
    return send_text(h, conn, status, "application/json", body, n + 1, allow);
}

static enum MHD_Result send_json(agent_http *h, struct MHD_Connection *conn, unsigned status,
                                 json_t *j)
{
    return send_json_allow(h, conn, status, j, NULL);
}

static enum MHD_Result send_error_allow(agent_http *h, struct MHD_Connection *conn,
                                        unsigned status, const char *allow, const char *fmt,
                                        ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result send_error_allow(agent_http *h, struct MHD_Connection *conn,
                                        unsigned status, const char *allow, const char *fmt,
                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *j = agent_json_verror(fmt, ap);
    va_end(ap);
    return send_json_allow(h, conn, status, j, allow);
}

#define send_error(h, conn, status, ...) send_error_allow(h, conn, status, NULL, __VA_ARGS__)

/* ---- members ------------------------------------------------------------ */

typedef struct state_walk {
    json_t *state;
    json_t *tags;
} state_walk;

static int walk_key(void *ctx, const char *key, const uint8_t *value, size_t len,
                    uint64_t version, int deleted)
{
    (void)version;
    state_walk *w = ctx;
    if (deleted || strncmp(key, GOSSIP_EVENT_KEY_PREFIX, sizeof GOSSIP_EVENT_KEY_PREFIX - 1) == 0)
        return 0; /* user event slots are delivered as events, not shown as state */
    if (strcmp(key, GOSSIP_KEY_TAGS) == 0) {
        json_t *t = json_loadb((const char *)value, len, 0, NULL);
        if (json_is_object(t)) {
            json_decref(w->tags);
            w->tags = t;
        } else {
            json_decref(t);
        }
        return 0;
    }
    json_t *k = agent_json_text(key); /* the key, valid UTF-8 */
    if (json_is_string(k))
        json_object_set_new(w->state, json_string_value(k), agent_json_value(value, len));
    json_decref(k);
    return 0;
}

/* The member object of /v1/members and /v1/self (under the lock). */
static json_t *member_json(gossip_node *node, const gossip_member_info *m)
{
    state_walk w = {json_object(), json_object()};
    gossip_node_foreach_key(node, m->name, walk_key, &w);
    json_t *o = json_object();
    json_object_set_new(o, "name", agent_json_text(m->name));
    json_object_set_new(o, "addr", agent_json_text(m->addr ? m->addr : ""));
    json_object_set_new(o, "status", json_string(gossip_status_name(m->status)));
    json_object_set_new(o, "generation", json_u64(m->generation));
    json_object_set_new(o, "incarnation", json_u64(m->incarnation));
    json_object_set_new(o, "heartbeat", json_u64(m->heartbeat));
    json_object_set_new(o, "phi",
                        m->phi < 0 || !isfinite(m->phi) ? json_null() : json_real(m->phi));
    json_object_set_new(o, "tags", w.tags);
    json_object_set_new(o, "state", w.state);
    json_object_set_new(o, "self", json_boolean(m->is_self));
    return o;
}

static const char *name_of(const json_t *member)
{
    const char *s = json_string_value(json_object_get(member, "name"));
    return s ? s : "";
}

static int by_name(const void *x, const void *y)
{
    return strcmp(name_of(*(json_t *const *)x), name_of(*(json_t *const *)y));
}

/* ---- the routes --------------------------------------------------------- */

typedef struct http_call {
    agent_http *h;
    agent *a;
    struct MHD_Connection *conn;
    const char *arg;              /* the path after a prefix route's path */
    const char *body;
    size_t body_len;
} http_call;

static const char *query(const http_call *c, const char *name)
{
    return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result h_members(const http_call *c)
{
    int want = -1;
    const char *st = query(c, "status");
    if (st && (want = parse_status(st)) < 0)
        return send_error(c->h, c->conn, 400,
                          "status: must be alive, suspect, dead or left, got \"%s\"", st);
    agent_lock(c->a);
    gossip_node *node = agent_node(c->a);
    size_t n = gossip_node_member_count(node), k = 0;
    json_t **items = calloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; items && i < n; i++) {
        gossip_member_info m;
        if (gossip_node_member_at(node, i, &m) == 0 && (want < 0 || (int)m.status == want))
            if ((items[k] = member_json(node, &m)) != NULL)
                k++;
    }
    agent_unlock(c->a);
    if (!items)
        return send_error(c->h, c->conn, 503, "out of memory");
    qsort(items, k, sizeof *items, by_name);
    json_t *arr = json_array();
    for (size_t i = 0; i < k; i++)
        json_array_append_new(arr, items[i]); /* takes items[i], also on failure */
    free(items);
    return send_json(c->h, c->conn, 200, arr);
}

static enum MHD_Result h_self(const http_call *c)
{
    agent_lock(c->a);
    gossip_node *node = agent_node(c->a);
    gossip_member_info m;
    json_t *o = NULL;
    if (gossip_node_member_find(node, agent_cfg(c->a)->name, &m) == 0)
        o = member_json(node, &m);
    agent_unlock(c->a);
    if (!o)
        return send_error(c->h, c->conn, 500, "this node is missing from its own table");
    return send_json(c->h, c->conn, 200, o);
}

static json_t *config_json(const agent_config *cfg)
{
    json_t *joins = json_array(), *tags = json_object(), *handler_list = json_array();
    for (size_t i = 0; i < cfg->n_joins; i++)
        json_array_append_new(joins, agent_json_text(cfg->joins[i]));
    for (size_t i = 0; i < cfg->n_tags; i++) {
        json_t *k = agent_json_text(cfg->tags[i].key);
        if (json_is_string(k))
            json_object_set_new(tags, json_string_value(k), agent_json_text(cfg->tags[i].value));
        json_decref(k);
    }
    for (size_t i = 0; i < cfg->n_handlers; i++) {
        json_t *ev = json_array();
        for (int e = 0; e < AGENT_EV_COUNT; e++)
            if (cfg->handlers[i].events & (1u << e))
                json_array_append_new(ev, json_string(agent_event_name((enum agent_event_type)e)));
        json_array_append_new(handler_list, json_pack("{s:o,s:o}", "events", ev, "path",
                                                  agent_json_text(cfg->handlers[i].path)));
    }
    json_t *o = json_object();
    json_object_set_new(o, "name", agent_json_text(cfg->name));
    json_object_set_new(o, "bind", agent_json_text(cfg->bind));
    json_object_set_new(o, "advertise", agent_json_text(cfg->advertise));
    json_object_set_new(o, "joins", joins);
    json_object_set_new(o, "http", agent_json_text(cfg->http));
    json_object_set_new(o, "http_token_set", json_boolean(cfg->http_token[0] != '\0'));
    json_object_set_new(o, "data_dir", agent_json_text(cfg->data_dir));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "handlers", handler_list);
    json_object_set_new(o, "log_level", json_string(log_level_name(cfg->log_level)));
    json_object_set_new(o, "config_file", agent_json_text(cfg->config_file));
    json_object_set_new(o, "mode", json_string(mode_name(cfg->mode)));
    static const struct {
        const char *name;
        size_t off;
    } nums[] = {
#define N(f) {#f, offsetof(agent_config, f)}
        N(fanout), N(gossip_interval_ms), N(probe_interval_ms), N(probe_timeout_ms), N(mtu),
        N(max_members), N(max_value_size), N(reap_timeout_ms), N(leave_timeout_ms),
        N(http_max_body), N(http_max_connections), N(watch_buffer), N(tcp_max_frame),
        N(tcp_timeout_ms), N(tcp_max_connections), N(handler_max_running), N(handler_queue),
        N(handler_timeout_ms), N(persist_interval_ms),
#undef N
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        uint32_t v;
        memcpy(&v, (const char *)cfg + nums[i].off, sizeof v);
        json_object_set_new(o, nums[i].name, json_integer(v));
    }
    return o;
}

static const char *const msg_names[GOSSIP_MSG_TYPE_COUNT] = {
    [GOSSIP_MSG_SYN] = "syn",   [GOSSIP_MSG_ACK] = "ack",   [GOSSIP_MSG_ACK2] = "ack2",
    [GOSSIP_MSG_PUSH] = "push", [GOSSIP_MSG_PING] = "ping", [GOSSIP_MSG_PING_REQ] = "ping_req",
    [GOSSIP_MSG_PING_ACK] = "ping_ack",
};

static json_t *by_type_json(const uint64_t *v)
{
    json_t *o = json_object();
    for (int t = 1; t < GOSSIP_MSG_TYPE_COUNT; t++)
        if (msg_names[t])
            json_object_set_new(o, msg_names[t], json_u64(v[t]));
    return o;
}

static json_t *engine_stats_json(const gossip_stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "packets_sent", by_type_json(s->packets_sent));
    json_object_set_new(o, "bytes_sent", by_type_json(s->bytes_sent));
    json_object_set_new(o, "packets_recv", by_type_json(s->packets_recv));
    json_object_set_new(o, "bytes_recv", by_type_json(s->bytes_recv));
#define U(f) json_object_set_new(o, #f, json_u64(s->f))
    U(recv_errors); U(rounds); U(deltas_applied); U(deltas_stale); U(table_full);
    U(syn_in_sync); U(probes); U(probes_failed); U(indirect_probes); U(suspicions);
    U(refutations); U(declared_dead); U(news_sent); U(awareness); U(name_conflicts);
    U(address_changes); U(seed_attempts); U(phi_deferred);
    U(news_queue); U(members_alive); U(members_suspect); U(members_dead); U(members_left);
    U(probe_rtt_sum_ms); U(probe_rtt_count);
    json_t *b = json_array();
    for (int i = 0; i < GOSSIP_RTT_BUCKETS; i++)
        json_array_append_new(b, json_u64(s->probe_rtt_buckets[i]));
    json_object_set_new(o, "probe_rtt_buckets", b);
#undef U
    return o;
}

static json_t *net_stats_json(const agent_net_stats *s)
{
    json_t *o = json_object();
#define U(f) json_object_set_new(o, #f, json_u64(s->f))
    U(udp_in); U(udp_out); U(udp_bytes_in); U(udp_bytes_out); U(udp_send_errors);
    U(udp_truncated); U(tcp_frames_in); U(tcp_frames_out); U(tcp_bytes_in); U(tcp_bytes_out);
    U(tcp_accepts); U(tcp_connects); U(tcp_errors); U(tcp_oversize); U(tcp_fallback_sends);
    U(tcp_connections); U(send_queue); U(recv_rejected);
#undef U
    return o;
}

static json_t *handler_stats_json(const agent_handler_stats *s)
{
    json_t *o = json_object();
#define U(f) json_object_set_new(o, #f, json_u64(s->f))
    U(started); U(succeeded); U(failed); U(timed_out); U(dropped); U(coalesced); U(running);
    U(queued); U(pending);
#undef U
    return o;
}

static json_t *http_stats_json(const agent_http_stats *s)
{
    json_t *o = json_object();
#define U(f) json_object_set_new(o, #f, json_u64(s->f))
    U(requests); U(bad_requests); U(unauthorized); U(server_errors); U(watchers);
#undef U
    return o;
}

static enum MHD_Result h_info(const http_call *c)
{
    agent_http_stats hs;
    agent_http_get_stats(c->h, &hs);
    gossip_stats gs;
    agent_net_stats ns;
    agent_handler_stats hds;
    uint64_t now = agent_wall_ms();
    json_t *o = json_object();

    agent_lock(c->a);
    const agent_config *cfg = agent_cfg(c->a);
    gossip_node *node = agent_node(c->a);
    gossip_node_get_stats(node, &gs);
    agent_get_net_stats(c->a, &ns);
    agent_get_handler_stats(c->a, &hds);
    uint64_t started = agent_started_ms(c->a);
    json_object_set_new(o, "version", json_string(GOSSIP_VERSION_STRING));
    json_object_set_new(o, "name", agent_json_text(cfg->name));
    json_object_set_new(o, "generation", json_u64(agent_generation(c->a)));
    json_object_set_new(o, "started_ms", json_u64(started));
    json_object_set_new(o, "uptime_ms", json_u64(now > started ? now - started : 0));
    json_object_set_new(o, "members", json_u64(gossip_node_member_count(node)));
    json_object_set_new(o, "events_buffered", json_u64(agent_events_buffered(c->a)));
    json_object_set_new(o, "config", config_json(cfg));
    agent_unlock(c->a);

    json_t *counters = json_object();
    json_object_set_new(counters, "engine", engine_stats_json(&gs));
    json_object_set_new(counters, "net", net_stats_json(&ns));
    json_object_set_new(counters, "handlers", handler_stats_json(&hds));
    json_object_set_new(counters, "http", http_stats_json(&hs));
    agent_lock(c->a); /* key-value store (kv_agent.c) */
    json_object_set_new(counters, "kv", agent_kv_info_json(c->a));
    json_object_set_new(counters, "blob", agent_blob_info_json(c->a)); /* blob_agent.c */
    agent_unlock(c->a);
    json_object_set_new(o, "counters", counters);
    return send_json(c->h, c->conn, 200, o);
}

/* ---- /v1/state/KEY ------------------------------------------------------ */

/* Keys the agent itself owns: "tags" (from --tag) and "address". */
static bool reserved_key(const char *key)
{
    return strcmp(key, GOSSIP_KEY_TAGS) == 0 || strcmp(key, GOSSIP_KEY_ADDRESS) == 0 ||
           strncmp(key, GOSSIP_EVENT_KEY_PREFIX, sizeof GOSSIP_EVENT_KEY_PREFIX - 1) == 0 ||
           agent_services_reserved_key(key); /* services: "svc.NAME" */
}

/* Validates the key of a state route; answers and returns false if bad. */
static bool state_key_ok(const http_call *c, bool writing, enum MHD_Result *res)
{
    char why[96];
    if (!path_text_ok(c->arg, GOSSIP_MAX_KEY, "key", why, sizeof why)) {
        *res = send_error(c->h, c->conn, 400, "%s", why);
        return false;
    }
    if (writing && !agent_utf8_valid((const uint8_t *)c->arg, strlen(c->arg))) {
        *res = send_error(c->h, c->conn, 400, "key must be UTF-8 text");
        return false;
    }
    if (writing && reserved_key(c->arg)) {
        *res = send_error(c->h, c->conn, 403,
                          "key \"%s\" is reserved: %s", c->arg,
                          strcmp(c->arg, GOSSIP_KEY_TAGS) == 0
                              ? "set tags with --tag (SIGHUP reloads them)"
                          : strcmp(c->arg, GOSSIP_KEY_ADDRESS) == 0
                              ? "the agent sets it from --advertise"
                          : agent_services_reserved_key(c->arg) /* services */
                              ? "services: register with PUT /v1/services/NAME"
                              : "user event slots: fire events with POST /v1/event/NAME");
        return false;
    }
    return true;
}

static unsigned status_for(int rc)
{
    switch (rc) {
    case GOSSIP_ERR_OVERSIZE: return 413;
    case GOSSIP_ERR_NOT_FOUND: return 404;
    case GOSSIP_ERR_NOMEM: return 503;
    default: return 400;
    }
}

static enum MHD_Result h_state_get(const http_call *c)
{
    enum MHD_Result res;
    if (!state_key_ok(c, false, &res))
        return res;
    const char *member = query(c, "member");
    agent_lock(c->a);
    gossip_node *node = agent_node(c->a);
    const uint8_t *v;
    size_t len;
    uint64_t version;
    int rc = gossip_node_get_state(node, member, c->arg, &v, &len, &version);
    json_t *o = NULL;
    if (rc == 0) /* v is valid until the next call into the node */
        o = json_pack("{s:o,s:o,s:o}", "key", agent_json_text(c->arg), "value", agent_json_value(v, len),
                      "version", json_u64(version));
    gossip_member_info m;
    bool known = !member || gossip_node_member_find(node, member, &m) == 0;
    agent_unlock(c->a);
    if (rc == 0)
        return send_json(c->h, c->conn, 200, o);
    if (!known)
        return send_error(c->h, c->conn, 404, "no member named \"%s\"", member);
    return send_error(c->h, c->conn, 404, "key \"%s\" is not set%s%s", c->arg,
                      member ? " on " : "", member ? member : "");
}

static enum MHD_Result h_state_put(const http_call *c)
{
    enum MHD_Result res;
    if (!state_key_ok(c, true, &res))
        return res;
    agent_lock(c->a);
    uint32_t max_value = agent_cfg(c->a)->max_value_size;
    int rc = agent_set_state(c->a, c->arg, (const uint8_t *)c->body, c->body_len);
    uint64_t version = 0;
    if (rc == 0)
        gossip_node_get_state(agent_node(c->a), NULL, c->arg, NULL, NULL, &version);
    agent_unlock(c->a);
    if (rc == GOSSIP_ERR_OVERSIZE)
        return send_error(c->h, c->conn, 413, "value of %zu bytes is over max_value_size (%u): %s",
                          c->body_len, (unsigned)max_value, gossip_strerror(rc));
    if (rc)
        return send_error(c->h, c->conn, status_for(rc), "cannot set \"%s\": %s", c->arg,
                          gossip_strerror(rc));
    return send_json(c->h, c->conn, 200,
                     json_pack("{s:o,s:o,s:o}", "key", agent_json_text(c->arg), "version",
                               json_u64(version), "size", json_u64(c->body_len)));
}

static enum MHD_Result h_state_del(const http_call *c)
{
    enum MHD_Result res;
    if (!state_key_ok(c, true, &res))
        return res;
    agent_lock(c->a);
    int rc = agent_del_state(c->a, c->arg);
    agent_unlock(c->a);
    if (rc == GOSSIP_ERR_NOT_FOUND)
        return send_error(c->h, c->conn, 404, "key \"%s\" is not set", c->arg);
    if (rc)
        return send_error(c->h, c->conn, status_for(rc), "cannot delete \"%s\": %s", c->arg,
                          gossip_strerror(rc));
    return send_json(c->h, c->conn, 200,
                     json_pack("{s:o,s:b}", "key", agent_json_text(c->arg), "deleted", 1));
}

/* ---- join, leave, force-leave ------------------------------------------- */

static enum MHD_Result h_join(const http_call *c)
{
    json_error_t jerr;
    json_t *body = json_loadb(c->body ? c->body : "", c->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        return send_error(c->h, c->conn, 400, "malformed JSON: %s (line %d, column %d)",
                          jerr.text, jerr.line, jerr.column);
    json_t *addrs = json_object_get(body, "addrs");
    size_t n = json_array_size(addrs);
    if (!json_is_array(addrs) || n == 0 || n > AGENT_MAX_JOINS) {
        json_decref(body);
        return send_error(c->h, c->conn, 400,
                          "addrs: want {\"addrs\": [\"ADDR:PORT\", ...]} with 1..%d addresses",
                          AGENT_MAX_JOINS);
    }
    const char *list[AGENT_MAX_JOINS];
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(addrs, i));
        char host[GOSSIP_MAX_ADDR + 1];
        int port;
        if (!s || strlen(s) > GOSSIP_MAX_ADDR ||
            agent_split_hostport(s, host, sizeof host, &port) != 0) {
            json_decref(body);
            return send_error(c->h, c->conn, 400, "addrs[%zu]: not an ADDR:PORT or [V6]:PORT string",
                              i);
        }
        list[i] = s;
    }
    agent_lock(c->a);
    int rc = agent_request_join(c->a, list, n);
    agent_unlock(c->a);
    json_decref(body);
    if (rc == GOSSIP_ERR_FULL)
        return send_error(c->h, c->conn, 503, "join: too many joins pending; try again shortly");
    if (rc)
        return send_error(c->h, c->conn, status_for(rc), "join: %s", gossip_strerror(rc));
    return send_json(c->h, c->conn, 200, json_pack("{s:I}", "requested", (json_int_t)n));
}

static enum MHD_Result h_leave(const http_call *c)
{
    agent_lock(c->a);
    int rc = agent_request_leave(c->a);
    agent_unlock(c->a);
    if (rc)
        return send_error(c->h, c->conn, 409, "leave: %s", gossip_strerror(rc));
    return send_json(c->h, c->conn, 200, json_pack("{s:b}", "leaving", 1));
}

static enum MHD_Result h_force_leave(const http_call *c)
{
    char why[96];
    if (!path_text_ok(c->arg, GOSSIP_MAX_NAME, "name", why, sizeof why))
        return send_error(c->h, c->conn, 400, "%s", why);
    agent_lock(c->a);
    gossip_member_info m;
    int found = gossip_node_member_find(agent_node(c->a), c->arg, &m) == 0;
    bool is_self = found && m.is_self;
    enum gossip_member_status before = found ? m.status : GOSSIP_STATUS_ALIVE;
    int rc = agent_force_leave(c->a, c->arg);
    agent_unlock(c->a);
    if (rc == GOSSIP_ERR_NOT_FOUND)
        return send_error(c->h, c->conn, 404, "no member named \"%s\"", c->arg);
    if (rc == GOSSIP_ERR_INVALID && is_self)
        return send_error(c->h, c->conn, 409,
                          "\"%s\" is this node: use POST /v1/leave to leave", c->arg);
    if (rc == GOSSIP_ERR_INVALID)
        return send_error(c->h, c->conn, 409,
                          "\"%s\" is %s: only a suspect or dead member can be forced to leave",
                          c->arg, gossip_status_name(before));
    if (rc)
        return send_error(c->h, c->conn, status_for(rc), "force-leave: %s", gossip_strerror(rc));
    return send_json(c->h, c->conn, 200,
                     json_pack("{s:o,s:s,s:s}", "name", agent_json_text(c->arg), "previous",
                               gossip_status_name(before), "status", "left"));
}

/* POST /v1/event/NAME[?coalesce=false]: the body is the payload. */
static enum MHD_Result h_event(const http_call *c)
{
    char why[96];
    const char *co = query(c, "coalesce");
    bool coalesce = true; /* as Serf: receivers with a user coalesce period may */
    if (co && (strcmp(co, "false") == 0 || strcmp(co, "0") == 0))
        coalesce = false;
    else if (co && strcmp(co, "true") != 0 && strcmp(co, "1") != 0)
        return send_error(c->h, c->conn, 400, "coalesce: must be true or false, got \"%s\"", co);
    if (!path_text_ok(c->arg, GOSSIP_MAX_EVENT_NAME, "event name", why, sizeof why))
        return send_error(c->h, c->conn, 400, "%s", why);
    if (!agent_utf8_valid((const uint8_t *)c->arg, strlen(c->arg)))
        return send_error(c->h, c->conn, 400, "event name must be UTF-8 text");
    if (c->arg[0] == '_')
        return send_error(c->h, c->conn, 400,
                          "event names starting with '_' are the agent's own (queries use "
                          "POST /v1/query/NAME)");
    agent_lock(c->a);
    uint32_t max_size = agent_cfg(c->a)->max_event_size;
    uint64_t ltime = 0;
    int rc = agent_fire_event(c->a, c->arg, (const uint8_t *)c->body, c->body_len, coalesce,
                              &ltime);
    agent_unlock(c->a);
    if (rc == GOSSIP_ERR_OVERSIZE)
        return send_error(c->h, c->conn, 413,
                          "event payload of %zu bytes is over max_event_size (%u)", c->body_len,
                          (unsigned)max_size);
    if (rc == GOSSIP_ERR_INVALID && agent_cfg(c->a)->event_buffer == 0)
        return send_error(c->h, c->conn, 409, "user events are off (--event-buffer 0)");
    if (rc)
        return send_error(c->h, c->conn, status_for(rc), "cannot fire \"%s\": %s", c->arg,
                          gossip_strerror(rc));
    return send_json(c->h, c->conn, 200,
                     json_pack("{s:o,s:o,s:o,s:b}", "event", agent_json_text(c->arg), "ltime",
                               json_u64(ltime), "size", json_u64(c->body_len), "coalesce",
                               coalesce));
}

/* ---- blobs (docs/large-payloads.md; the engine glue is blob_agent.c) ----- */

/* PUT /v1/blob: the body is the payload; answers its hash. */
static enum MHD_Result h_blob_put(const http_call *c)
{
    char hex[BLOB_HEX_BYTES + 1];
    int rc = agent_blob_put(c->a, (const uint8_t *)c->body, c->body_len, hex);
    if (rc == GOSSIP_ERR_OVERSIZE)
        return send_error(c->h, c->conn, 413, "blob of %zu bytes is over the blob cap (%zu bytes)",
                          c->body_len, agent_blob_max_body(c->a));
    if (rc == GOSSIP_ERR_INVALID)
        return send_error(c->h, c->conn, 400, "empty blob: the request body is the payload");
    if (rc == GOSSIP_ERR_FULL)
        return send_error(c->h, c->conn, 507, "the blob store is full");
    if (rc == GOSSIP_ERR_NOT_FOUND)
        return send_error(c->h, c->conn, 503, "blobs are disabled on this agent (see its log)");
    if (rc)
        return send_error(c->h, c->conn, 503, "cannot store the blob: %s", gossip_strerror(rc));
    return send_json(c->h, c->conn, 200,
                     json_pack("{s:s,s:o}", "hash", hex, "size", json_u64(c->body_len)));
}

/* GET /v1/blob/HASH: the payload's bytes. */
static enum MHD_Result h_blob_get(const http_call *c)
{
    uint8_t *data;
    size_t len;
    bool pending;
    int rc = agent_blob_read(c->a, c->arg, &data, &len, &pending);
    if (rc == GOSSIP_ERR_INVALID)
        return send_error(c->h, c->conn, 400, "HASH must be 64 hex digits, got \"%.80s\"",
                          c->arg);
    if (rc == GOSSIP_ERR_NOT_FOUND)
        return send_error(c->h, c->conn, 404, "no blob %s here%s", c->arg,
                          pending ? " yet (it is being fetched)" : "");
    if (rc)
        return send_error(c->h, c->conn, 503, "cannot read the blob: %s", gossip_strerror(rc));
    return send_text(c->h, c->conn, 200, "application/octet-stream", (char *)data, len, NULL);
}

/* POST /v1/query/NAME[?tag=k=v,k2=v2][&name=a,b][&timeout=MS][&relay=R]:
 * the body is the payload; answers after the timeout. */
static json_t *split_list(const char *s, bool pairs, char *why, size_t why_len)
{
    json_t *out = pairs ? json_object() : json_array();
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!pairs) {
            json_array_append_new(out, json_string(tok));
            continue;
        }
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            snprintf(why, why_len, "tag: want key=value[,key=value...], got \"%.60s\"", tok);
            json_decref(out);
            return NULL;
        }
        *eq = 0;
        json_object_set_new(out, tok, json_string(eq + 1));
    }
    return out;
}

static enum MHD_Result h_query(const http_call *c)
{
    char why[160];
    if (!path_text_ok(c->arg, GOSSIP_MAX_EVENT_NAME, "query name", why, sizeof why))
        return send_error(c->h, c->conn, 400, "%s", why);
    agent_query_req req = {.name = c->arg, .payload = (const uint8_t *)c->body,
                           .len = c->body_len, .timeout_ms = 2000, .relay = 0};
    uint64_t v;
    const char *t = query(c, "timeout"), *r = query(c, "relay"), *tag = query(c, "tag"),
               *names = query(c, "name");
    if (t && (!agent_parse_u64(t, &v) || v < 1 || v > AGENT_MAX_QUERY_TIMEOUT_MS))
        return send_error(c->h, c->conn, 400, "timeout: must be 1..%d ms, got \"%s\"",
                          AGENT_MAX_QUERY_TIMEOUT_MS, t);
    if (t)
        req.timeout_ms = (uint32_t)v;
    if (r && (!agent_parse_u64(r, &v) || v > AGENT_MAX_QUERY_RELAY))
        return send_error(c->h, c->conn, 400, "relay: must be 0..%d, got \"%s\"",
                          AGENT_MAX_QUERY_RELAY, r);
    if (r)
        req.relay = (int)v;
    if (tag && !(req.tags = split_list(tag, true, why, sizeof why)))
        return send_error(c->h, c->conn, 400, "%s", why);
    if (names)
        req.names = split_list(names, false, why, sizeof why);
    json_t *out = NULL;
    int rc = agent_query(c->a, &req, &out, why, sizeof why);
    json_decref(req.tags);
    json_decref(req.names);
    if (rc)
        return send_error(c->h, c->conn, rc == GOSSIP_ERR_OVERSIZE ? 413 : rc == GOSSIP_ERR_FULL
                                                                           ? 503
                                                                           : 400,
                          "query: %s", why);
    return send_json(c->h, c->conn, 200, out);
}

/* ---- /v1/watch: server-sent events -------------------------------------- */

typedef struct watcher {
    agent_http *h;
    uint64_t cursor;
    bool greeted;
} watcher;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static ssize_t copy_out(char *buf, size_t max, const char *text, int n)
{
    if (n <= 0 || (size_t)n >= max)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    memcpy(buf, text, (size_t)n);
    return n;
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    watcher *w = cls;
    char line[160];
    if (atomic_load(&w->h->stopping))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (!w->greeted) {
        /* An immediate first line, so the client sees the stream open. */
        w->greeted = true;
        return copy_out(buf, max, line,
                        snprintf(line, sizeof line, ": gossipd %s watching events after seq %llu\n\n",
                                 GOSSIP_VERSION_STRING, (unsigned long long)w->cursor));
    }
    uint64_t t0 = mono_ms();
    long n = agent_events_read_sse(w->h->a, &w->cursor, buf, max, WATCH_WAIT_MS);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n > 0)
        return (ssize_t)n;
    if (mono_ms() - t0 < WATCH_WAIT_MS / 4 && agent_events_last_seq(w->h->a) > w->cursor) {
        /* 0 at once with events pending: the next frame is larger than
         * buf.  Skip it rather than stall the stream forever. */
        w->cursor++;
        return copy_out(buf, max, line,
                        snprintf(line, sizeof line,
                                 "id: %llu\nevent: lost\ndata: {\"missed\":1,\"reason\":\"too large\"}\n\n",
                                 (unsigned long long)w->cursor));
    }
    return copy_out(buf, max, ": keepalive\n\n", (int)strlen(": keepalive\n\n"));
}

static void watch_free(void *cls)
{
    watcher *w = cls;
    pthread_mutex_lock(&w->h->mu);
    w->h->st.watchers--;
    pthread_mutex_unlock(&w->h->mu);
    free(w);
}

static enum MHD_Result h_watch(const http_call *c)
{
    uint64_t cursor;
    const char *since = query(c, "since");
    const char *last_id =
        MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_LAST_EVENT_ID);
    if (since) {
        if (!agent_parse_u64(since, &cursor))
            return send_error(c->h, c->conn, 400,
                              "since: must be an event sequence number, got \"%s\"", since);
    } else if (!last_id || !agent_parse_u64(last_id, &cursor)) {
        cursor = agent_events_last_seq(c->a);
    }
    /* Watch streams never take every connection: the rest of the API must
     * stay reachable (http_max_watchers < http_max_connections). */
    uint32_t max_watchers = agent_cfg(c->a)->http_max_watchers;
    pthread_mutex_lock(&c->h->mu);
    bool full = c->h->st.watchers >= max_watchers;
    if (!full)
        c->h->st.watchers++;
    pthread_mutex_unlock(&c->h->mu);
    if (full)
        return send_error(c->h, c->conn, 503,
                          "too many watchers: %u /v1/watch streams are open "
                          "(--http-max-watchers)", max_watchers);
    watcher *w = calloc(1, sizeof *w);
    if (!w) {
        pthread_mutex_lock(&c->h->mu);
        c->h->st.watchers--;
        pthread_mutex_unlock(&c->h->mu);
        return send_error(c->h, c->conn, 503, "out of memory");
    }
    w->h = c->h;
    w->cursor = cursor;
    struct MHD_Response *rsp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, WATCH_BLOCK, watch_read, w, watch_free);
    if (!rsp) {
        watch_free(w); /* gives the watcher slot back */
        return send_error(c->h, c->conn, 503, "out of memory");
    }
    MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(rsp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(rsp, "X-Accel-Buffering", "no");
    count_answer(c->h, 200);
    enum MHD_Result r = MHD_queue_response(c->conn, 200, rsp);
    MHD_destroy_response(rsp);
    return r;
}

/* ---- /metrics ----------------------------------------------------------- */

static void collect_metrics(agent_http *h, agent_metrics_input *in)
{
    memset(in, 0, sizeof *in);
    agent_http_get_stats(h, &in->http);
    uint64_t now = agent_wall_ms();
    agent_lock(h->a);
    gossip_node *node = agent_node(h->a);
    snprintf(in->name, sizeof in->name, "%s", agent_cfg(h->a)->name);
    in->generation = agent_generation(h->a);
    uint64_t started = agent_started_ms(h->a);
    in->uptime_ms = now > started ? now - started : 0;
    in->events_buffered = agent_events_buffered(h->a);
    gossip_node_get_stats(node, &in->engine);
    agent_get_net_stats(h->a, &in->net);
    agent_get_handler_stats(h->a, &in->handlers);
    in->blob_on = agent_blob_get_stats(h->a, &in->blob);
    in->members[GOSSIP_STATUS_ALIVE] = in->engine.members_alive;
    in->members[GOSSIP_STATUS_SUSPECT] = in->engine.members_suspect;
    in->members[GOSSIP_STATUS_DEAD] = in->engine.members_dead;
    in->members[GOSSIP_STATUS_LEFT] = in->engine.members_left;
    agent_unlock(h->a);
}

static enum MHD_Result h_metrics(const http_call *c)
{
    agent_metrics_input in;
    collect_metrics(c->h, &in);
    size_t len;
    char *text = agent_metrics_render(&in, &len);
    if (!text)
        return send_error(c->h, c->conn, 503, "out of memory");
    text = agent_kv_metrics_append(c->a, text, &len); /* key-value store (kv_agent.c) */
    return send_text(c->h, c->conn, 200, AGENT_METRICS_CONTENT_TYPE, text, len, NULL);
}

/* ---- key-value store: /v1/kv (kv_http.c builds the answers) ------------- */

static enum MHD_Result kv_call(const http_call *c, enum agent_kv_op op)
{
    unsigned status = 500;
    json_t *j = agent_kv_http(c->a, c->conn, op, c->arg, c->body, c->body_len, &status);
    return send_json(c->h, c->conn, status, j);
}

static enum MHD_Result h_kv_get(const http_call *c) { return kv_call(c, AGENT_KV_GET); }
static enum MHD_Result h_kv_put(const http_call *c) { return kv_call(c, AGENT_KV_PUT); }
static enum MHD_Result h_kv_del(const http_call *c) { return kv_call(c, AGENT_KV_DEL); }
static enum MHD_Result h_kv_list(const http_call *c) { return kv_call(c, AGENT_KV_LIST); }

/* ---- services: /v1/services (services.c builds the answers) -------------- */

static enum MHD_Result svc_call(const http_call *c, enum agent_svc_op op)
{
    unsigned status = 500;
    json_t *j = agent_services_http(c->a, c->conn, op, c->arg, c->body, c->body_len, &status);
    return send_json(c->h, c->conn, status, j);
}

static enum MHD_Result h_svc_list(const http_call *c) { return svc_call(c, AGENT_SVC_LIST); }
static enum MHD_Result h_svc_get(const http_call *c) { return svc_call(c, AGENT_SVC_GET); }
static enum MHD_Result h_svc_put(const http_call *c) { return svc_call(c, AGENT_SVC_PUT); }
static enum MHD_Result h_svc_del(const http_call *c) { return svc_call(c, AGENT_SVC_DEL); }

/* ---- routing ------------------------------------------------------------ */

enum { M_GET = 1, M_PUT = 2, M_POST = 4, M_DELETE = 8 };

typedef struct route {
    const char *path;
    bool prefix;                  /* path + a non-empty argument */
    unsigned method;
    enum MHD_Result (*fn)(const http_call *c);
} route;

static const route routes[] = {
    {"/v1/members", false, M_GET, h_members},
    {"/v1/self", false, M_GET, h_self},
    {"/v1/info", false, M_GET, h_info},
    {"/v1/state/", true, M_GET, h_state_get},
    {"/v1/state/", true, M_PUT, h_state_put},
    {"/v1/state/", true, M_DELETE, h_state_del},
    {"/v1/join", false, M_POST, h_join},
    {"/v1/leave", false, M_POST, h_leave},
    {"/v1/force-leave/", true, M_POST, h_force_leave},
    {"/v1/event/", true, M_POST, h_event},
    {"/v1/query/", true, M_POST, h_query},
    {"/v1/watch", false, M_GET, h_watch},
    {"/v1/blob", false, M_PUT, h_blob_put},
    {"/v1/blob/", true, M_GET, h_blob_get},
    {"/metrics", false, M_GET, h_metrics},
    {"/v1/kv/", true, M_GET, h_kv_get},     /* key-value store (kv_http.c) */
    {"/v1/kv/", true, M_PUT, h_kv_put},
    {"/v1/kv/", true, M_DELETE, h_kv_del},
    {"/v1/kv/", false, M_GET, h_kv_list},
    {"/v1/kv", false, M_GET, h_kv_list},
    {"/v1/services", false, M_GET, h_svc_list},   /* services (services.c) */
    {"/v1/services/", false, M_GET, h_svc_list},
    {"/v1/services/", true, M_GET, h_svc_get},
    {"/v1/services/", true, M_PUT, h_svc_put},
    {"/v1/services/", true, M_DELETE, h_svc_del},
};

static unsigned method_bit(const char *m)
{
    static const struct {
        const char *name;
        unsigned bit;
    } map[] = {{"GET", M_GET}, {"PUT", M_PUT}, {"POST", M_POST}, {"DELETE", M_DELETE}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(m, map[i].name) == 0)
            return map[i].bit;
    return 0;
}

static bool path_matches(const route *r, const char *url)
{
    if (!r->prefix)
        return strcmp(url, r->path) == 0;
    size_t n = strlen(r->path);
    return strncmp(url, r->path, n) == 0 && url[n] != '\0';
}

/* The route for (url, method); NULL with *allowed = the methods the path
 * takes (0: no such path). */
static const route *find_route(const char *url, unsigned method, unsigned *allowed)
{
    *allowed = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(&routes[i], url))
            continue;
        if (routes[i].method == method)
            return &routes[i];
        *allowed |= routes[i].method;
    }
    return NULL;
}

static void allow_header(unsigned allowed, char *out, size_t cap)
{
    static const char *const names[] = {"GET", "PUT", "POST", "DELETE"};
    out[0] = '\0';
    for (unsigned i = 0; i < 4; i++)
        if (allowed & (1u << i)) {
            size_t n = strlen(out);
            snprintf(out + n, cap - n, "%s%s", n ? ", " : "", names[i]);
        }
}

/* ---- the MHD callbacks -------------------------------------------------- */

typedef struct http_req {
    bool started;                 /* on_request has seen it */
    const route *rt;
    char *body;
    size_t len, cap;
    size_t overflow;              /* bytes past the cap, discarded */
    size_t limit;                 /* body cap: http_max_body; the blob cap for PUT /v1/blob */
} http_req;

/* The first call, headers in: authenticate, route, check Content-Length.
 * Answers at once (the body, if any, is then discarded) or returns MHD_YES
 * to receive the body. */
static enum MHD_Result begin(agent_http *h, struct MHD_Connection *conn, const char *url,
                             const char *method, http_req *r)
{
    if (atomic_load(&h->stopping))
        return send_error(h, conn, 503, "the agent is shutting down");
    if (h->token[0] &&
        !token_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_AUTHORIZATION),
                  h->token))
        return send_error(h, conn, 401,
                          "missing or wrong bearer token (send \"Authorization: Bearer TOKEN\")");
    unsigned allowed;
    r->rt = find_route(url, method_bit(method), &allowed);
    if (!r->rt && !allowed)
        return send_error(h, conn, 404, "no such endpoint: %s", url);
    if (!r->rt) {
        char allow[64];
        allow_header(allowed, allow, sizeof allow);
        return send_error_allow(h, conn, 405, allow, "method %s not allowed on %s (allowed: %s)",
                                method, url, allow);
    }
    r->limit = r->rt->fn == h_blob_put ? agent_blob_max_body(h->a) : h->max_body;
    uint64_t declared;
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && agent_parse_u64(cl, &declared) && declared > r->limit)
        return send_error(h, conn, 413, "request body of %llu bytes is over %s (%zu)",
                          (unsigned long long)declared,
                          r->rt->fn == h_blob_put ? "the blob cap" : "http_max_body", r->limit);
    return MHD_YES;
}

/* Keeps up to the request's cap (r->limit) of the body; returns false to hang up on a
 * client that keeps sending far past the cap. */
static bool take_upload(agent_http *h, http_req *r, const char *data, size_t n)
{
    if (r->overflow || r->len + n > r->limit) {
        r->overflow += n;
        return r->overflow <= HTTP_MAX_DISCARD;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > r->limit)
            cap = r->limit;
        char *p = realloc(r->body, cap);
        if (!p)
            return false;
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    agent_http *h = cls;
    http_req *r = *con_cls;
    if (!r) { /* on_uri ran out of memory */
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *con_cls = r;
    }
    if (!r->started) {
        r->started = true;
        return begin(h, conn, url, method, r);
    }
    if (*upload_data_size) {
        bool keep = take_upload(h, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (!keep)
            count_dropped(h);
        return keep ? MHD_YES : MHD_NO;
    }
    if (r->overflow)
        return send_error(h, conn, 413, "request body is over %s (%zu bytes)",
                          r->rt->fn == h_blob_put ? "the blob cap" : "http_max_body", r->limit);
    size_t plen = strlen(r->rt->path);
    http_call c = {h, h->a, conn, r->rt->prefix ? url + plen : NULL, r->body, r->len};
    return r->rt->fn(&c);
}

/* Every request that got as far as its request line starts here, so that
 * the ones libmicrohttpd refuses before on_request (bad headers, a
 * malformed Content-Length ...) are counted too. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)uri;
    (void)conn;
    return calloc(1, sizeof(http_req));
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    agent_http *h = cls;
    http_req *r = *con_cls;
    if (r && !r->started && toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN) {
        /* libmicrohttpd refused it (its own 400) or it never finished */
        pthread_mutex_lock(&h->mu);
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
            h->st.requests++;
        h->st.bad_requests++;
        pthread_mutex_unlock(&h->mu);
    }
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* ---- start and stop ----------------------------------------------------- */

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
    }
    return false;
}

/* Resolves cfg->http into one socket address. */
static int resolve(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, int *port,
                   char *err, size_t err_len)
{
    char host[256];
    if (agent_split_hostport(spec, host, sizeof host, port) != 0) {
        snprintf(err, err_len, "--http: \"%s\" is not ADDR:PORT or [V6]:PORT", spec);
        return -1;
    }
    char service[16];
    snprintf(service, sizeof service, "%d", *port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (host[0] ? 0 : AI_PASSIVE);
    int rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, err_len, "--http: cannot resolve \"%s\": %s", spec, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Binds a throw-away socket the way MHD will, to name the reason in err
 * (MHD_start_daemon only says it failed). */
static int try_bind(const struct sockaddr_storage *ss, socklen_t sl, const char *spec, char *err,
                    size_t err_len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(err, err_len, "--http: cannot listen on %s: %s", spec, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    int rc = bind(fd, (const struct sockaddr *)ss, sl);
    int e = errno;
    close(fd);
    if (rc != 0) {
        snprintf(err, err_len, "--http: cannot listen on %s: %s", spec, strerror(e));
        return -1;
    }
    return 0;
}

int agent_http_start(agent_http **out, agent *a, char *err, size_t err_len)
{
    *out = NULL;
    agent_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, err_len, "--http: out of memory");
        return -1;
    }
    h->a = a;
    atomic_init(&h->stopping, 0);
    pthread_mutex_init(&h->mu, NULL);

    char spec[GOSSIP_MAX_ADDR + 1];
    unsigned max_conn;
    agent_lock(a);
    const agent_config *cfg = agent_cfg(a);
    snprintf(spec, sizeof spec, "%s", cfg->http);
    snprintf(h->token, sizeof h->token, "%s", cfg->http_token);
    h->max_body = cfg->http_max_body;
    max_conn = cfg->http_max_connections;
    agent_unlock(a);

    struct sockaddr_storage ss;
    socklen_t sl;
    int port;
    if (resolve(spec, &ss, &sl, &port, err, err_len) != 0)
        goto fail;
    if (!h->token[0] && !is_loopback((const struct sockaddr *)&ss)) {
        snprintf(err, err_len, "--http: address %s is not loopback; set --http-token", spec);
        goto fail;
    }
    if (try_bind(&ss, sl, spec, err, err_len) != 0)
        goto fail;

    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, max_conn,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, err_len, "--http: cannot start the HTTP server on %s", spec);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    pthread_mutex_destroy(&h->mu);
    free(h);
    return -1;
}

void agent_http_stop(agent_http *h)
{
    if (!h)
        return;
    /* Watch streams see `stopping` within WATCH_WAIT_MS (at once when the
     * agent is shutting down: agent_events_read_sse returns -1). */
    atomic_store(&h->stopping, 1);
    MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void agent_http_get_stats(agent_http *h, agent_http_stats *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->st;
    pthread_mutex_unlock(&h->mu);
}
