/* agent.c -- gossipd's life cycle: the libuv loop that drives the engine,
 * the event ring behind /v1/watch and handler scripts, signals, the data
 * dir snapshot, and the requests HTTP threads hand to the loop. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent_internal.h"
#include "agent/json_text.h"
#include "agent/blob_agent.h" /* large payloads */
#include "agent/kv_agent.h"   /* key-value store */
#include "agent/services.h"   /* services (services.c) */

/* ---- clocks and logging ------------------------------------------------------ */

uint64_t agent_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t agent_now_ms(const agent *a) { return (uv_hrtime() - a->clock_base_ns) / 1000000u; }

static const char *level_name(enum gossip_log_level l)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    return (unsigned)l < 4 ? names[l] : "info";
}

/* One logfmt line: ts=... level=... then the fragment. */
static void log_line(agent *a, enum gossip_log_level level, const char *fragment)
{
    if (level < a->cfg.log_level)
        return;
    uint64_t ms = agent_wall_ms();
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "ts=%s.%03uZ level=%s node=%s %s\n", ts, (unsigned)(ms % 1000),
            level_name(level), a->cfg.name, fragment);
}

const char *agent_logfmt_escape(const char *in, char *out, size_t out_len)
{
    size_t o = 0;
    for (; *in && o + 3 < out_len; in++) {
        char c = *in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = 0;
    return out;
}

void agent_log(agent *a, enum gossip_log_level level, const char *fmt, ...)
{
    if (level < a->cfg.log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(a, level, msg);
}

static void engine_log(void *ud, enum gossip_log_level level, const char *msg)
{
    log_line(ud, level, msg);
}

/* ---- accessors for the HTTP layer ---------------------------------------------- */

bool agent_on_loop(agent *a)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &a->loop_thread) != 0;
}

/* Lock held.  The wakeup handle is closed once the agent shuts down. */
void agent_wake(agent *a)
{
    if (!a->shutting_down)
        uv_async_send(&a->wakeup);
}

void agent_lock(agent *a) { pthread_mutex_lock(&a->lock); }
void agent_unlock(agent *a) { pthread_mutex_unlock(&a->lock); }
gossip_node *agent_node(agent *a) { return a->node; }
const agent_config *agent_cfg(const agent *a) { return &a->cfg; }
uint64_t agent_started_ms(const agent *a) { return a->started_ms; }
uint64_t agent_generation(const agent *a) { return a->generation; }
size_t agent_events_buffered(const agent *a) { return a->ring_count; }

void agent_get_net_stats(const agent *a, agent_net_stats *out)
{
    *out = a->net_stats;
    out->tcp_connections = a->net.n_conns;
}

void agent_get_handler_stats(const agent *a, agent_handler_stats *out)
{
    handlers_get_stats(&a->hnd, out);
}

static void on_change(void *ud, const gossip_change *c);

/* The engine reports other members' changes only; watchers and handlers
 * hear about this node's own state from here. */
static void self_update(agent *a, const char *key)
{
    const uint8_t *value = NULL;
    size_t len = 0;
    uint64_t version = 0;
    if (gossip_node_get_state(a->node, NULL, key, &value, &len, &version) != 0)
        value = NULL;
    gossip_change c = {GOSSIP_CHANGE_STATE, a->cfg.name, a->generation, key, value, len,
                       version, 0, 0};
    on_change(a, &c);
}

int agent_set_state(agent *a, const char *key, const uint8_t *value, size_t len)
{
    int rc = gossip_node_set_state(a->node, key, value, len);
    if (rc == 0) {
        self_update(a, key);
        agent_wake(a); /* the rumor of it is due now */
    }
    return rc;
}

int agent_del_state(agent *a, const char *key)
{
    int rc = gossip_node_del_state(a->node, key);
    if (rc == 0) {
        self_update(a, key);
        agent_wake(a);
    }
    return rc;
}

/* Called from HTTP threads with the lock held: the loop picks it up. */
int agent_request_join(agent *a, const char *const *addrs, size_t n)
{
    struct sockaddr_storage ss;
    for (size_t i = 0; i < n; i++)
        if (!addrs[i] || strlen(addrs[i]) > GOSSIP_MAX_ADDR ||
            transport_parse_addr(addrs[i], &ss) != 0)
            return GOSSIP_ERR_INVALID;
    if (n > AGENT_MAX_JOINS - a->n_pending_joins)
        return GOSSIP_ERR_FULL;
    for (size_t i = 0; i < n; i++)
        snprintf(a->pending_joins[a->n_pending_joins++], GOSSIP_MAX_ADDR + 1, "%s", addrs[i]);
    agent_wake(a);
    return 0;
}

int agent_fire_event(agent *a, const char *name, const uint8_t *payload, size_t len,
                     bool coalesce, uint64_t *ltime)
{
    int rc = gossip_node_event_flags(a->node, name, payload, len,
                                     coalesce ? 0 : GOSSIP_EVENT_NO_COALESCE, ltime);
    if (rc == 0)
        agent_wake(a); /* the rumor goes out on the next tick, now */
    return rc;
}

int agent_request_leave(agent *a)
{
    a->leave_requested = true;
    agent_wake(a);
    return 0;
}

int agent_force_leave(agent *a, const char *name)
{
    int rc = gossip_node_force_leave(a->node, name, agent_now_ms(a));
    if (rc == 0)
        agent_wake(a);
    return rc;
}

/* ---- the event ring ------------------------------------------------------------- */

static const char *status_of(agent *a, const char *name, char *addr, size_t addr_len,
                             uint64_t *incarnation)
{
    gossip_member_info mi;
    if (gossip_node_member_find(a->node, name, &mi) != 0)
        return "unknown";
    snprintf(addr, addr_len, "%s", mi.addr ? mi.addr : "");
    *incarnation = mi.incarnation;
    return gossip_status_name(mi.status);
}

static char *event_json(const agent_event *ev, const gossip_change *c)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:I,s:I}", "seq", (json_int_t)ev->seq,
                          "time_ms", (json_int_t)ev->time_ms, "type", agent_event_name(ev->type),
                          "name", ev->name, "addr", ev->addr, "status", ev->status,
                          "generation", (json_int_t)ev->generation, "incarnation",
                          (json_int_t)ev->incarnation);
    if (!o)
        return NULL;
    if (ev->type == AGENT_EV_MEMBER_UPDATE) {
        json_object_set_new(o, "key", json_string(ev->key));
        json_object_set_new(o, "value", c->value ? agent_json_value(c->value, c->value_len)
                                                 : json_null());
        json_object_set_new(o, "version", json_integer((json_int_t)c->version));
    } else if (ev->type == AGENT_EV_USER) {
        json_object_set_new(o, "event", agent_json_text(ev->key));
        json_object_set_new(o, "payload", agent_json_value(c->value, c->value_len));
        json_object_set_new(o, "ltime", json_integer((json_int_t)c->version));
        json_object_set_new(o, "coalesce", json_boolean(ev->coalesce));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int event_type_of(enum gossip_change_kind k)
{
    switch (k) {
    case GOSSIP_CHANGE_JOIN:
    case GOSSIP_CHANGE_RESTART: return AGENT_EV_MEMBER_JOIN;
    case GOSSIP_CHANGE_STATE: return AGENT_EV_MEMBER_UPDATE;
    case GOSSIP_CHANGE_ALIVE: return AGENT_EV_MEMBER_ALIVE;
    case GOSSIP_CHANGE_SUSPECT: return AGENT_EV_MEMBER_SUSPECT;
    case GOSSIP_CHANGE_DEAD: return AGENT_EV_MEMBER_FAILED;
    case GOSSIP_CHANGE_LEFT: return AGENT_EV_MEMBER_LEAVE;
    case GOSSIP_CHANGE_REAPED: return AGENT_EV_MEMBER_REAP;
    case GOSSIP_CHANGE_EVENT: return AGENT_EV_USER;
    }
    return -1;
}

/* The engine's on_change: loop thread, lock held. */
static void on_change(void *ud, const gossip_change *c)
{
    agent *a = ud;
    int type = event_type_of(c->kind);
    if (type < 0)
        return;
    agent_event ev = {0};
    ev.seq = a->next_seq;
    ev.time_ms = agent_wall_ms();
    ev.type = (enum agent_event_type)type;
    snprintf(ev.name, sizeof ev.name, "%s", c->name);
    ev.generation = c->generation;
    ev.incarnation = c->incarnation;
    snprintf(ev.status, sizeof ev.status, "%s",
             status_of(a, c->name, ev.addr, sizeof ev.addr, &ev.incarnation));
    if (c->kind == GOSSIP_CHANGE_REAPED)
        snprintf(ev.status, sizeof ev.status, "reaped");
    if (c->key)
        snprintf(ev.key, sizeof ev.key, "%s", c->key);
    ev.coalesce = c->kind == GOSSIP_CHANGE_EVENT && !(c->flags & GOSSIP_EVENT_NO_COALESCE);
    ev.ltime = c->kind == GOSSIP_CHANGE_EVENT ? c->version : 0;
    if (type == AGENT_EV_USER && query_is_event(c->key)) {
        ev.json = query_on_event(a, c); /* NULL: not for us */
        if (!ev.json)
            return;
        ev.type = AGENT_EV_QUERY;
        type = AGENT_EV_QUERY;
    } else {
        ev.json = event_json(&ev, c);
    }
    if (!ev.json) {
        agent_log(a, GOSSIP_LOG_ERROR, "msg=\"event dropped: out of memory\" member=%s", ev.name);
        return;
    }
    a->next_seq++;
    if (type == AGENT_EV_USER)
        agent_log(a, GOSSIP_LOG_INFO, "msg=\"user event\" event=%s from=%s ltime=%" PRIu64
                  " bytes=%zu", ev.key, ev.name, c->version, c->value_len);
    else if (type != AGENT_EV_MEMBER_UPDATE)
        agent_log(a, GOSSIP_LOG_INFO, "msg=\"%s\" member=%s addr=%s generation=%" PRIu64
                  " incarnation=%" PRIu64, agent_event_name(ev.type), ev.name, ev.addr,
                  ev.generation, ev.incarnation);
    handlers_dispatch(&a->hnd, &ev);

    size_t slot;
    if (a->ring_count == a->ring_cap) { /* full: the oldest goes */
        slot = a->ring_start;
        free(a->ring[slot].json);
        a->ring_start = (a->ring_start + 1) % a->ring_cap;
    } else {
        slot = (a->ring_start + a->ring_count++) % a->ring_cap;
    }
    a->ring[slot] = ev;
    pthread_cond_broadcast(&a->events_cond);
}

uint64_t agent_events_last_seq(agent *a)
{
    agent_lock(a);
    uint64_t s = a->next_seq - 1;
    agent_unlock(a);
    return s;
}

/* Appends one SSE frame when it fits; returns its length or 0. */
static size_t sse_frame(char *out, size_t cap, uint64_t id, const char *type, const char *data)
{
    int n = snprintf(out, cap, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", id, type, data);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

long agent_events_read_sse(agent *a, uint64_t *cursor, char *out, size_t cap, int timeout_ms)
{
    agent_lock(a);
    uint64_t oldest = a->next_seq - a->ring_count; /* seq of ring_start */
    if (!a->shutting_down && *cursor + 1 >= a->next_seq) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!a->shutting_down && *cursor + 1 >= a->next_seq)
            if (pthread_cond_timedwait(&a->events_cond, &a->lock, &until) == ETIMEDOUT)
                break;
        oldest = a->next_seq - a->ring_count;
    }
    if (a->shutting_down) {
        agent_unlock(a);
        return -1;
    }
    size_t len = 0;
    if (*cursor + 1 < oldest) { /* the watcher fell behind the ring */
        char data[96];
        snprintf(data, sizeof data, "{\"missed\":%" PRIu64 "}", oldest - 1 - *cursor);
        size_t n = sse_frame(out, cap, oldest - 1, "lost", data);
        if (n == 0) {
            agent_unlock(a);
            return 0;
        }
        len += n;
        *cursor = oldest - 1;
    }
    while (*cursor + 1 < a->next_seq) {
        const agent_event *ev = &a->ring[(a->ring_start + (*cursor + 1 - oldest)) % a->ring_cap];
        size_t n = sse_frame(out + len, cap - len, ev->seq, agent_event_name(ev->type), ev->json);
        if (n == 0)
            break;
        len += n;
        *cursor = ev->seq;
    }
    agent_unlock(a);
    return (long)len;
}

void agent_on_frame(agent *a, uint8_t kind, const char *from, const uint8_t *buf, size_t len)
{
    (void)from;
    switch (kind) {
    case AGENT_FRAME_QUERY_REPLY:
    case AGENT_FRAME_QUERY_RELAY:
        query_on_frame(a, kind, buf, len);
        break;
    case AGENT_FRAME_BLOB:
        agent_blob_deliver(a, from, buf, len);
        break;
    case AGENT_FRAME_KV: /* key-value store (kv_agent.c) */
        agent_kv_deliver(a, from, buf, len);
        break;
    default:
        a->net_stats.tcp_errors++; /* a kind this agent does not serve */
        break;
    }
}

/* ---- the data dir ------------------------------------------------------------- */

/* What the data dir keeps, read from the engine (lock held). */
static void collect(agent *a, persist_state *st)
{
    memset(st, 0, sizeof *st);
    st->generation = a->generation;
    st->event_ltime = gossip_node_event_clock(a->node);
    size_t n = gossip_node_member_count(a->node);
    for (size_t i = 0; i < n; i++) {
        gossip_member_info mi;
        if (gossip_node_member_at(a->node, i, &mi) != 0)
            continue;
        if (mi.is_self) {
            st->incarnation = mi.incarnation;
            continue;
        }
        if (mi.status == GOSSIP_STATUS_LEFT || st->n_members == PERSIST_MAX_MEMBERS || !mi.addr)
            continue;
        persist_member *m = &st->members[st->n_members++];
        snprintf(m->name, sizeof m->name, "%s", mi.name);
        snprintf(m->addr, sizeof m->addr, "%s", mi.addr);
    }
}

static void log_save_error(agent *a, const char *err)
{
    char esc[512];
    agent_log(a, GOSSIP_LOG_ERROR, "msg=\"cannot save the data dir\" err=\"%s\"",
              agent_logfmt_escape(err, esc, sizeof esc));
}

/* Saved here and now: at start (the new generation is on disk before we
 * speak) and at exit. */
static void snapshot(agent *a)
{
    static persist_state st; /* large; start and exit only, one thread */
    collect(a, &st);
    char err[256];
    if (persist_save(a->cfg.data_dir, &st, err, sizeof err) != 0)
        log_save_error(a, err);
}

/* The periodic save runs on libuv's thread pool: its fsyncs never hold up
 * the loop (a probe answered late is a suspicion). */
typedef struct persist_job {
    uv_work_t req;
    agent *a;
    int rc;
    char err[256];
    persist_state st;
} persist_job;

static void persist_work(uv_work_t *w)
{
    persist_job *j = w->data;
    j->rc = persist_save(j->a->cfg.data_dir, &j->st, j->err, sizeof j->err);
}

static void persist_done(uv_work_t *w, int status)
{
    persist_job *j = w->data;
    agent_lock(j->a);
    j->a->persist_busy = false;
    if (status == 0 && j->rc != 0)
        log_save_error(j->a, j->err);
    agent_unlock(j->a);
    free(j);
}

static void on_persist_timer(uv_timer_t *t)
{
    agent *a = t->data;
    agent_lock(a);
    persist_job *j = a->persist_busy || a->shutting_down ? NULL : malloc(sizeof *j);
    if (j) {
        j->a = a;
        j->req.data = j;
        collect(a, &j->st);
        if (uv_queue_work(&a->loop, &j->req, persist_work, persist_done) == 0)
            a->persist_busy = true;
        else
            free(j);
    }
    agent_unlock(a);
}

/* ---- driving the engine -------------------------------------------------------- */

static void stop_loop(agent *a);

static void on_tick_timer(uv_timer_t *t)
{
    agent *a = t->data;
    agent_lock(a);
    agent_reschedule(a);
    agent_unlock(a);
}

void agent_reschedule(agent *a)
{
    uint64_t now = agent_now_ms(a);
    if (gossip_node_next_deadline(a->node) <= now) {
        int rc = gossip_node_tick(a->node, now);
        if (rc)
            agent_log(a, GOSSIP_LOG_WARN, "msg=\"tick failed\" err=\"%s\"", gossip_strerror(rc));
    }
    if (a->leaving && gossip_node_has_left(a->node)) {
        stop_loop(a);
        return;
    }
    uint64_t next = gossip_node_next_deadline(a->node);
    if (next == UINT64_MAX)
        return;
    uint64_t wait = next > now ? next - now : 0;
    uv_timer_start(&a->tick_timer, on_tick_timer, wait, 0);
}

void agent_deliver(agent *a, const char *from, const uint8_t *buf, size_t len)
{
    int rc = gossip_node_recv(a->node, from, buf, len, agent_now_ms(a));
    if (rc)
        a->net_stats.recv_rejected++;
    if (!a->shutting_down)
        agent_reschedule(a);
}

static void on_leave_deadline(uv_timer_t *t);

static void begin_leave(agent *a, const char *why)
{
    if (a->leaving)
        return;
    a->leaving = true;
    agent_log(a, GOSSIP_LOG_INFO, "msg=\"leaving the cluster\" reason=%s timeout_ms=%u", why,
              a->cfg.leave_timeout_ms);
    gossip_stats gs;
    gossip_node_get_stats(a->node, &gs);
    bool alone = gs.members_alive + gs.members_suspect <= 1; /* counts include us */
    gossip_node_leave(a->node, agent_now_ms(a));
    gossip_change c = {GOSSIP_CHANGE_LEFT, a->cfg.name, a->generation, NULL, NULL, 0, 0, 0, 0};
    on_change(a, &c); /* our own leave, for watchers and handlers */
    handlers_flush(&a->hnd); /* held events run during the leave, not never */
    if (alone) {
        agent_log(a, GOSSIP_LOG_INFO, "msg=\"no other live member to tell; leaving at once\"");
        stop_loop(a);
        return;
    }
    /* A bound on top of the engine's own leave timeout. */
    uv_timer_start(&a->leave_timer, on_leave_deadline, a->cfg.leave_timeout_ms + 2000u, 0);
    agent_reschedule(a);
}

/* Work HTTP threads asked for. */
static void on_wakeup(uv_async_t *h)
{
    agent *a = h->data;
    agent_lock(a);
    for (size_t i = 0; i < a->n_pending_joins; i++) {
        int rc = gossip_node_contact(a->node, a->pending_joins[i], agent_now_ms(a));
        agent_log(a, rc ? GOSSIP_LOG_WARN : GOSSIP_LOG_INFO,
                  "msg=\"join requested\" addr=%s err=\"%s\"", a->pending_joins[i],
                  gossip_strerror(rc));
    }
    a->n_pending_joins = 0;
    handlers_kick(&a->hnd);
    if (a->leave_requested)
        begin_leave(a, "api");
    if (!a->shutting_down)
        agent_reschedule(a);
    agent_unlock(a);
}

/* ---- signals --------------------------------------------------------------------- */

static void reload(agent *a)
{
    agent_config fresh;
    char err[512];
    if (agent_config_parse(&fresh, a->argc, a->argv, err, sizeof err) != 0) {
        char esc[1024];
        agent_log(a, GOSSIP_LOG_ERROR, "msg=\"reload refused; settings unchanged\" err=\"%s\"",
                  agent_logfmt_escape(err, esc, sizeof esc));
        return;
    }
    a->cfg.log_level = fresh.log_level;
    memcpy(a->cfg.tags, fresh.tags, sizeof fresh.tags);
    a->cfg.n_tags = fresh.n_tags;
    static char tags[GOSSIP_MAX_MTU]; /* loop thread only */
    int rc = agent_tags_json(&a->cfg, tags, sizeof tags);
    if (rc == 0)
        rc = agent_set_state(a, GOSSIP_KEY_TAGS, (const uint8_t *)tags, strlen(tags));
    if (rc)
        agent_log(a, GOSSIP_LOG_ERROR, "msg=\"tags not applied\" err=\"%s\"",
                  gossip_strerror(rc));
    agent_log(a, GOSSIP_LOG_WARN, "msg=\"reloaded\" log_level=%s tags=%zu",
              level_name(a->cfg.log_level), a->cfg.n_tags);
}

static void on_signal(uv_signal_t *s, int signum)
{
    agent *a = s->data;
    agent_lock(a);
    if (signum == SIGHUP) {
        reload(a);
    } else if (a->leaving) {
        agent_log(a, GOSSIP_LOG_WARN, "msg=\"second signal: stopping without waiting\"");
        a->exit_code = 1;
        stop_loop(a);
    } else {
        begin_leave(a, signum == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    agent_unlock(a);
}

static void on_leave_deadline(uv_timer_t *t)
{
    agent *a = t->data;
    agent_lock(a);
    agent_log(a, GOSSIP_LOG_WARN, "msg=\"leave timed out; stopping\"");
    stop_loop(a);
    agent_unlock(a);
}

/* ---- start and stop -------------------------------------------------------------- */

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Lock held.  Ends watch streams and closes the loop's handles: uv_run returns. */
static void stop_loop(agent *a)
{
    if (a->shutting_down)
        return;
    a->shutting_down = true;
    pthread_cond_broadcast(&a->events_cond);
    query_wake_all(a);
    uv_timer_stop(&a->tick_timer);
    close_handle((uv_handle_t *)&a->tick_timer);
    close_handle((uv_handle_t *)&a->persist_timer);
    close_handle((uv_handle_t *)&a->leave_timer);
    close_handle((uv_handle_t *)&a->wakeup);
    close_handle((uv_handle_t *)&a->sig_term);
    close_handle((uv_handle_t *)&a->sig_int);
    close_handle((uv_handle_t *)&a->sig_hup);
    transport_close(&a->net);
    handlers_close(&a->hnd);
    agent_blob_close(a);
    agent_kv_close(a); /* key-value store (kv_agent.c) */
    agent_services_close(a); /* services (services.c) */
}

/* An address to advertise when bound to 0.0.0.0 / [::]: the first
 * non-loopback interface address of that family, else loopback. */
static void pick_advertise(agent *a)
{
    if (a->cfg.advertise[0]) {
        snprintf(a->advertise, sizeof a->advertise, "%s", a->cfg.advertise);
        return;
    }
    char host[GOSSIP_MAX_ADDR + 1];
    int port = 0;
    agent_split_hostport(a->cfg.bind, host, sizeof host, &port);
    bool v6 = strchr(host, ':') != NULL;
    bool unspecified = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
    if (!unspecified) {
        snprintf(a->advertise, sizeof a->advertise, "%s", a->cfg.bind);
        return;
    }
    snprintf(a->advertise, sizeof a->advertise, v6 ? "[::1]:%d" : "127.0.0.1:%d", port);
    uv_interface_address_t *ifs;
    int count;
    if (uv_interface_addresses(&ifs, &count) != 0)
        return;
    for (int i = 0; i < count; i++) {
        if (ifs[i].is_internal)
            continue;
        const struct sockaddr *sa = (const struct sockaddr *)&ifs[i].address;
        if (sa->sa_family != (v6 ? AF_INET6 : AF_INET))
            continue;
        if (v6 && IN6_IS_ADDR_LINKLOCAL(&ifs[i].address.address6.sin6_addr))
            continue;
        char ip[INET6_ADDRSTRLEN];
        if (v6)
            uv_ip6_name(&ifs[i].address.address6, ip, sizeof ip);
        else
            uv_ip4_name(&ifs[i].address.address4, ip, sizeof ip);
        snprintf(a->advertise, sizeof a->advertise, v6 ? "[%s]:%d" : "%s:%d", ip, port);
        break;
    }
    uv_free_interface_addresses(ifs, count);
}

static int start_engine(agent *a, const persist_state *st, char *err, size_t err_len)
{
    gossip_config g;
    agent_config_to_engine(&a->cfg, &g);
    g.addr = a->advertise;
    g.generation = a->generation;
    g.incarnation = st->incarnation;
    g.event_ltime_floor = st->event_ltime; /* events seen before the restart stay seen */
    g.seed = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ a->generation;
    gossip_callbacks cb = {GOSSIP_CALLBACKS_VERSION, transport_send, on_change, engine_log};
    int rc = gossip_node_new(&a->node, &g, &cb, a);
    if (rc) {
        snprintf(err, err_len, "the engine refused the settings: %s", gossip_strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < a->cfg.n_joins; i++) {
        rc = gossip_node_add_seed(a->node, a->cfg.joins[i]);
        if (rc)
            agent_log(a, GOSSIP_LOG_WARN, "msg=\"join address not used\" addr=%s err=\"%s\"",
                      a->cfg.joins[i], gossip_strerror(rc));
    }
    /* Members we knew before a restart are seeds too: we rejoin by ourselves. */
    for (size_t i = 0; i < st->n_members; i++)
        if (strcmp(st->members[i].addr, a->advertise) != 0 &&
            strcmp(st->members[i].name, a->cfg.name) != 0)
            (void)gossip_node_add_seed(a->node, st->members[i].addr);
    static char tags[GOSSIP_MAX_MTU];
    if (agent_tags_json(&a->cfg, tags, sizeof tags) != 0 ||
        (rc = gossip_node_set_state(a->node, GOSSIP_KEY_TAGS, (const uint8_t *)tags,
                                    strlen(tags))) != 0) {
        snprintf(err, err_len, "--tag: the tags do not fit a state value (%s)",
                 gossip_strerror(rc));
        return -1;
    }
    return 0;
}

static int agent_init(agent *a, const agent_config *cfg, int argc, char **argv, char *err,
                      size_t err_len)
{
    memset(a, 0, sizeof *a);
    a->loop_thread = uv_thread_self(); /* this thread runs the loop */
    a->cfg = *cfg;
    a->argc = argc;
    a->argv = argv;
    a->lock_fd = -1;
    a->next_seq = 1;
    a->started_ms = agent_wall_ms();
    a->clock_base_ns = uv_hrtime() - 1000000ull; /* the engine's clock starts at 1 ms */
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->events_cond, NULL);
    a->ring_cap = cfg->watch_buffer;
    a->ring = calloc(a->ring_cap, sizeof *a->ring);
    if (!a->ring || uv_loop_init(&a->loop) != 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (persist_lock(cfg->data_dir, &a->lock_fd, err, err_len) != 0)
        return -1;
    persist_state st;
    char perr[512], esc[1024];
    int lrc = persist_load(cfg->data_dir, &st, perr, sizeof perr);
    if (lrc < 0)
        agent_log(a, GOSSIP_LOG_WARN, "msg=\"data dir state unusable; starting fresh\" err=\"%s\"",
                  agent_logfmt_escape(perr, esc, sizeof esc));
    if (lrc != 0)
        memset(&st, 0, sizeof st);
    /* Epoch seconds, as Cassandra does, and always above the last run's. */
    uint64_t now_s = a->started_ms / 1000;
    a->generation = st.generation + 1 > now_s ? st.generation + 1 : now_s;

    pick_advertise(a);
    handlers_init(&a->hnd, a);
    if (start_engine(a, &st, err, err_len) != 0)
        return -1;
    if (transport_open(&a->net, a, err, err_len) != 0)
        return -1;
    if (agent_kv_open(a, err, err_len) != 0) /* key-value store (kv_agent.c) */
        return -1;
    uv_timer_init(&a->loop, &a->tick_timer);
    uv_timer_init(&a->loop, &a->persist_timer);
    uv_timer_init(&a->loop, &a->leave_timer);
    uv_async_init(&a->loop, &a->wakeup, on_wakeup);
    uv_signal_init(&a->loop, &a->sig_term);
    uv_signal_init(&a->loop, &a->sig_int);
    uv_signal_init(&a->loop, &a->sig_hup);
    a->tick_timer.data = a->persist_timer.data = a->leave_timer.data = a;
    a->wakeup.data = a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
    uv_signal_start(&a->sig_term, on_signal, SIGTERM);
    uv_signal_start(&a->sig_int, on_signal, SIGINT);
    uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
    uv_timer_start(&a->persist_timer, on_persist_timer, a->cfg.persist_interval_ms,
                   a->cfg.persist_interval_ms);
    snapshot(a); /* the new generation is on disk before we speak */
    a->known_at_start = st.n_members;
    agent_blob_open(a, err, err_len); /* last: blobs never stop the start (blob_agent.c) */
    agent_services_open(a); /* services (services.c): never stops the start */
    return 0;
}

static void agent_destroy(agent *a)
{
    agent_blob_free(a);
    agent_kv_free(a); /* key-value store (kv_agent.c) */
    agent_services_free(a); /* services (services.c) */
    if (a->node)
        gossip_node_free(a->node);
    for (size_t i = 0; i < a->ring_count; i++)
        free(a->ring[(a->ring_start + i) % a->ring_cap].json);
    free(a->ring);
    uv_loop_close(&a->loop);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    pthread_cond_destroy(&a->events_cond);
    pthread_mutex_destroy(&a->lock);
}

int agent_run(const agent_config *cfg, int argc, char **argv)
{
    static agent a; /* large (rx buffer, ring bookkeeping): not on the stack */
    char err[512] = "";
    a.cfg = *cfg; /* agent_log works from here on */
    if (agent_init(&a, cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "gossipd: %s\n", err);
        if (a.net.udp_open || a.net.tcp_open) {
            transport_close(&a.net);
            uv_run(&a.loop, UV_RUN_DEFAULT);
        }
        agent_destroy(&a);
        return 1;
    }
    if (agent_http_start(&a.http, &a, err, sizeof err) != 0) {
        fprintf(stderr, "gossipd: %s\n", err);
        agent_lock(&a);
        a.exit_code = 1;
        stop_loop(&a);
        agent_unlock(&a);
        uv_run(&a.loop, UV_RUN_DEFAULT);
        agent_destroy(&a);
        return 1;
    }
    agent_log(&a, GOSSIP_LOG_INFO,
              "msg=\"gossipd started\" version=%s bind=%s advertise=%s http=%s generation=%" PRIu64
              " joins=%zu known=%zu",
              GOSSIP_VERSION_STRING, a.cfg.bind, a.advertise, a.cfg.http, a.generation,
              a.cfg.n_joins, a.known_at_start);
    agent_lock(&a);
    agent_reschedule(&a); /* the first round at once */
    agent_unlock(&a);
    uv_run(&a.loop, UV_RUN_DEFAULT);

    agent_lock(&a);
    a.shutting_down = true;
    pthread_cond_broadcast(&a.events_cond);
    agent_unlock(&a);
    agent_http_stop(a.http);
    snapshot(&a);
    agent_log(&a, GOSSIP_LOG_INFO, "msg=\"gossipd stopped\" exit=%d", a.exit_code);
    agent_destroy(&a);
    return a.exit_code;
}
