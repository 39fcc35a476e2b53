/* query.c -- queries (what Serf calls queries): ask every member, or those
 * matching tags or names, and collect their acks and answers within a
 * timeout.
 *
 * The question travels as a user event named "_query" (events.c: rumors
 * spread it at once, anti-entropy repairs misses), whose payload is a JSON
 * object: id, asker name and address, query name, payload, filters, relay
 * factor and deadline.  A member that matches sends an ack, and the answer
 * of its "query" handler script (stdout, at most max_event_size bytes) if it
 * has one, straight to the asker over TCP (AGENT_FRAME_QUERY_REPLY) and, for
 * lossy networks, through `relay` random other members as well
 * (AGENT_FRAME_QUERY_RELAY).  The asker keeps one entry per pending query
 * and de-duplicates by member name. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent/agent_internal.h"
#include "agent/json_text.h"

struct query_pending {
    char id[17];
    json_t *acks;                 /* array of member names */
    json_t *responses;            /* object: member name -> answer */
    pthread_cond_t cond;
    struct query_pending *next;
};

bool query_is_event(const char *name) { return name && strcmp(name, AGENT_QUERY_EVENT) == 0; }

static query_pending *find_pending(agent *a, const char *id)
{
    for (query_pending *q = a->queries; q; q = q->next)
        if (strcmp(q->id, id) == 0)
            return q;
    return NULL;
}

/* Records an ack or an answer for a pending query of ours (lock held). */
static void record(agent *a, const char *id, const char *from, bool ack, json_t *answer)
{
    query_pending *q = find_pending(a, id);
    if (!q) {
        json_decref(answer);
        return; /* finished, or never ours */
    }
    if (ack) {
        bool dup = false;
        size_t i;
        json_t *v;
        json_array_foreach(q->acks, i, v) dup |= strcmp(json_string_value(v), from) == 0;
        if (!dup)
            json_array_append_new(q->acks, json_string(from));
    }
    if (answer)
        json_object_set_new(q->responses, from, answer);
    pthread_cond_broadcast(&q->cond);
}

/* Sends a reply frame to the asker, and through `relay` random others. */
static void send_reply(agent *a, const char *asker_addr, json_t *reply, int relay)
{
    char *text = json_dumps(reply, JSON_COMPACT);
    if (!text)
        return;
    transport_send_frame(&a->net, asker_addr, AGENT_FRAME_QUERY_REPLY, (const uint8_t *)text,
                         strlen(text));
    if (relay > 0) {
        json_t *wrapped = json_pack("{s:s,s:O}", "to", asker_addr, "reply", reply);
        char *wtext = wrapped ? json_dumps(wrapped, JSON_COMPACT) : NULL;
        json_decref(wrapped);
        size_t n = gossip_node_member_count(a->node);
        uint64_t x = uv_hrtime() | 1;
        for (int sent = 0, tries = 0; wtext && sent < relay && tries < 4 * relay + 8; tries++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: which relays */
            gossip_member_info mi;
            if (n == 0 || gossip_node_member_at(a->node, x % n, &mi) != 0 || mi.is_self ||
                mi.status != GOSSIP_STATUS_ALIVE || !mi.addr || strcmp(mi.addr, asker_addr) == 0)
                continue;
            transport_send_frame(&a->net, mi.addr, AGENT_FRAME_QUERY_RELAY,
                                 (const uint8_t *)wtext, strlen(wtext));
            sent++;
        }
        free(wtext);
    }
    free(text);
}

/* Answers (ack, or answer) to the asker of the query whose JSON is `q`. */
static void answer(agent *a, json_t *q, bool ack, json_t *response)
{
    const char *id = json_string_value(json_object_get(q, "id"));
    const char *asker = json_string_value(json_object_get(q, "asker"));
    const char *addr = json_string_value(json_object_get(q, "addr"));
    int relay = (int)json_integer_value(json_object_get(q, "relay"));
    if (!id || !asker || !addr) {
        json_decref(response);
        return;
    }
    if (strcmp(asker, a->cfg.name) == 0) { /* our own query: no network */
        record(a, id, a->cfg.name, ack, response);
        return;
    }
    if (!agent_on_loop(a)) { /* sockets belong to the loop; an own query never gets here */
        json_decref(response);
        return;
    }
    json_t *reply = json_pack("{s:s,s:s,s:b}", "id", id, "from", a->cfg.name, "ack", ack);
    if (response)
        json_object_set_new(reply, "response", response);
    send_reply(a, addr, reply, relay);
    json_decref(reply);
}

static bool filters_match(agent *a, json_t *q)
{
    json_t *names = json_object_get(q, "names");
    if (json_is_array(names) && json_array_size(names) > 0) {
        bool found = false;
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v) found |= json_is_string(v) &&
                                                 strcmp(json_string_value(v), a->cfg.name) == 0;
        if (!found)
            return false;
    }
    json_t *tags = json_object_get(q, "tags");
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v) {
        bool ok = false;
        for (size_t i = 0; i < a->cfg.n_tags && !ok; i++)
            ok = strcmp(a->cfg.tags[i].key, k) == 0 && json_is_string(v) &&
                 strcmp(a->cfg.tags[i].value, json_string_value(v)) == 0;
        if (!ok)
            return false;
    }
    json_t *deadline = json_object_get(q, "deadline_ms");
    return !json_is_integer(deadline) ||
           (uint64_t)json_integer_value(deadline) > agent_wall_ms();
}

void query_wake_all(agent *a)
{
    for (query_pending *q = a->queries; q; q = q->next)
        pthread_cond_broadcast(&q->cond);
}

char *query_on_event(agent *a, const gossip_change *c)
{
    json_t *q = json_loadb((const char *)c->value, c->value_len, 0, NULL);
    if (!json_is_object(q) || !filters_match(a, q)) {
        json_decref(q);
        return NULL;
    }
    answer(a, q, true, NULL);
    json_object_set_new(q, "type", json_string("query"));
    json_object_set_new(q, "ltime", json_integer((json_int_t)c->version));
    char *text = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    return text;
}

void query_respond(agent *a, const char *query_json, const uint8_t *out, size_t len)
{
    json_t *q = json_loads(query_json, 0, NULL);
    if (q)
        answer(a, q, false, agent_json_value(out, len));
    json_decref(q);
}

void query_on_frame(agent *a, uint8_t kind, const uint8_t *buf, size_t len)
{
    json_t *m = json_loadb((const char *)buf, len, 0, NULL);
    if (kind == AGENT_FRAME_QUERY_RELAY) {
        const char *to = json_string_value(json_object_get(m, "to"));
        char *inner = json_dumps(json_object_get(m, "reply"), JSON_COMPACT);
        struct sockaddr_storage ss;
        if (to && inner && transport_parse_addr(to, &ss) == 0)
            transport_send_frame(&a->net, to, AGENT_FRAME_QUERY_REPLY, (const uint8_t *)inner,
                                 strlen(inner));
        free(inner);
        json_decref(m);
        return;
    }
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *from = json_string_value(json_object_get(m, "from"));
    if (id && from) {
        json_t *response = json_object_get(m, "response");
        record(a, id, from, json_is_true(json_object_get(m, "ack")),
               response ? json_incref(response) : NULL);
    }
    json_decref(m);
}

int agent_query(agent *a, const agent_query_req *req, json_t **out, char *err, size_t err_len)
{
    agent_lock(a);
    size_t open = 0;
    for (query_pending *p = a->queries; p; p = p->next)
        open++;
    if (open >= AGENT_MAX_QUERIES) {
        agent_unlock(a);
        snprintf(err, err_len, "%d queries are already running", AGENT_MAX_QUERIES);
        return GOSSIP_ERR_FULL;
    }
    query_pending *q = calloc(1, sizeof *q);
    uint64_t deadline = agent_wall_ms() + req->timeout_ms;
    snprintf(q ? q->id : err, q ? sizeof q->id : err_len, "%016" PRIx64,
             uv_hrtime() ^ ((uint64_t)(uintptr_t)q << 16));
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:o,s:i,s:I}", "id", q ? q->id : "", "asker",
                           a->cfg.name, "addr", a->advertise, "query", req->name, "payload",
                           agent_json_value(req->payload, req->len), "relay", req->relay,
                           "deadline_ms", (json_int_t)deadline);
    if (req->tags)
        json_object_set(ev, "tags", req->tags);
    if (req->names)
        json_object_set(ev, "names", req->names);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!q || !text) {
        free(q);
        free(text);
        agent_unlock(a);
        snprintf(err, err_len, "out of memory");
        return GOSSIP_ERR_NOMEM;
    }
    q->acks = json_array();
    q->responses = json_object();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    q->next = a->queries;
    a->queries = q;
    int rc = agent_fire_event(a, AGENT_QUERY_EVENT, (const uint8_t *)text, strlen(text), false,
                              NULL);
    free(text);
    if (rc == 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += req->timeout_ms / 1000;
        until.tv_nsec += (long)(req->timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!a->shutting_down && pthread_cond_timedwait(&q->cond, &a->lock, &until) == 0) {
            /* each ack or answer wakes us; keep collecting until the deadline */
        }
    } else {
        snprintf(err, err_len, "%s", rc == GOSSIP_ERR_OVERSIZE
                                          ? "the query with its payload is over max_event_size"
                                          : gossip_strerror(rc));
    }
    for (query_pending **pp = &a->queries; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    agent_unlock(a);
    if (rc == 0)
        *out = json_pack("{s:s,s:O,s:O,s:i,s:i}", "id", q->id, "acks", q->acks, "responses",
                         q->responses, "ack_count", (int)json_array_size(q->acks),
                         "response_count", (int)json_object_size(q->responses));
    json_decref(q->acks);
    json_decref(q->responses);
    pthread_cond_destroy(&q->cond);
    free(q);
    return rc;
}
