/* transport.c -- gossipd's sockets: UDP for every datagram, TCP as the
 * fallback path for probes when UDP between two members is blocked, and the
 * stream that larger transfers (payloads, anti-entropy) will share.
 *
 * TCP frame: u32 big-endian length of the rest, u8 kind (1 = datagram),
 * u8 address length, the sender's advertised address, the datagram.  The
 * address is needed because a TCP connection's source port is ephemeral.
 *
 * Fallback rule (per peer address, no engine involvement): a probe datagram
 * (ping, ping-req, ping-ack) is sent over TCP as well when UDP is known not
 * to work on that path:
 *   - the last ping or ping-req we sent the peer is at least a probe
 *     timeout old and no UDP datagram came from it since (its UDP does not
 *     reach us, or ours does not reach it);
 *   - for an answer (ping-ack): the peer asked us over TCP within
 *     fallback_ms (it believes the same: answer the way it asked);
 *   - our UDP socket has received nothing from anyone for fallback_ms
 *     (our UDP is broken as a whole).
 * Healthy paths never pay for it.  (The first rule used to be "no UDP from
 * that peer for fallback_ms": in a cluster of 100 a member rarely hears
 * from a given peer within two probe intervals, so most probes went over
 * TCP too -- bench/blob_agents.sh saw 45-85 % of them.) */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"

#define FRAME_HEADER 6           /* length + kind + address length */
#define CONN_QUEUE_SLACK 65536   /* bytes queued on one connection beyond one
                                  * largest frame before we drop */

struct peer_path {
    char addr[GOSSIP_MAX_ADDR + 1]; /* "" = free slot */
    uint64_t last_udp_rx_ms;
    uint64_t last_ask_ms;    /* our last ping or ping-req to it (UDP) */
    uint64_t last_tcp_ask_rx_ms; /* its last ping or ping-req that came over TCP */
};

typedef struct write_req {
    uv_write_t req;
    tcp_conn *conn;
    size_t len;
    struct write_req *next;      /* queued while connecting */
    uint8_t data[];
} write_req;

struct tcp_conn {
    uv_tcp_t h;
    uv_timer_t idle;
    uv_connect_t connect_req;
    transport *t;
    char peer[GOSSIP_MAX_ADDR + 1]; /* outgoing: the destination; incoming: "" */
    bool outgoing, connected, closing;
    int handles_open;
    uint8_t *rbuf;
    size_t rlen, rcap;
    write_req *pending_head, *pending_tail;
    size_t queued;               /* bytes written or waiting, not yet done */
    tcp_conn *prev, *next;
};

static agent_net_stats *stats(transport *t) { return &t->a->net_stats; }

/* ---- addresses --------------------------------------------------------------------- */

int transport_parse_addr(const char *s, struct sockaddr_storage *out)
{
    char host[GOSSIP_MAX_ADDR + 1];
    int port;
    if (agent_split_hostport(s, host, sizeof host, &port) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0 ? 0 : -1;
    return uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0 ? 0 : -1;
}

int transport_format_addr(const struct sockaddr *sa, char *out, size_t out_len)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        uv_ip4_name(in, ip, sizeof ip);
        snprintf(out, out_len, "%s:%u", ip, ntohs(in->sin_port));
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) { /* a v4 peer on a dual-stack socket */
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
            snprintf(out, out_len, "%s:%u", ip, ntohs(in6->sin6_port));
        } else {
            uv_ip6_name(in6, ip, sizeof ip);
            snprintf(out, out_len, "[%s]:%u", ip, ntohs(in6->sin6_port));
        }
        return 0;
    }
    return -1;
}

/* A v4 destination from a v6 socket goes as a v4-mapped address. */
static void match_family(transport *t, struct sockaddr_storage *ss)
{
    if (t->family != AF_INET6 || ss->ss_family != AF_INET)
        return;
    struct sockaddr_in in = *(struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(in6, 0, sizeof *in6);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = in.sin_port;
    in6->sin6_addr.s6_addr[10] = 0xff;
    in6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6->sin6_addr.s6_addr[12], &in.sin_addr, 4);
}

/* ---- per-peer path state ---------------------------------------------------------- */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Bounded: max_members + 1024 addresses; a full table starts over (only
 * the fallback's memory of recent UDP traffic is lost). */
static peer_path *path_of(transport *t, const char *addr)
{
    size_t limit = (size_t)t->a->cfg.max_members + 1024;
    if (t->n_paths + 1 > t->cap_paths * 7 / 10) {
        size_t ncap = t->cap_paths ? t->cap_paths * 2 : 64;
        bool reset = t->n_paths + 1 > limit;
        if (reset)
            ncap = t->cap_paths;
        peer_path *np = calloc(ncap, sizeof *np);
        if (!np)
            return NULL;
        if (!reset)
            for (size_t i = 0; i < t->cap_paths; i++) {
                if (!t->paths[i].addr[0])
                    continue;
                size_t j = str_hash(t->paths[i].addr) & (ncap - 1);
                while (np[j].addr[0])
                    j = (j + 1) & (ncap - 1);
                np[j] = t->paths[i];
            }
        else
            t->n_paths = 0;
        free(t->paths);
        t->paths = np;
        t->cap_paths = ncap;
    }
    size_t j = str_hash(addr) & (t->cap_paths - 1);
    while (t->paths[j].addr[0]) {
        if (strcmp(t->paths[j].addr, addr) == 0)
            return &t->paths[j];
        j = (j + 1) & (t->cap_paths - 1);
    }
    snprintf(t->paths[j].addr, sizeof t->paths[j].addr, "%s", addr);
    t->n_paths++;
    return &t->paths[j];
}

static uint64_t fallback_ms(transport *t)
{
    uint64_t ms = 2ull * t->a->cfg.probe_interval_ms;
    return ms < 1000 ? 1000 : ms;
}

static bool is_probe(const uint8_t *buf, size_t len)
{
    return len > 3 && (buf[3] == GOSSIP_MSG_PING || buf[3] == GOSSIP_MSG_PING_REQ ||
                       buf[3] == GOSSIP_MSG_PING_ACK);
}

/* A probe datagram that asks for an answer. */
static bool is_ask(const uint8_t *buf, size_t len)
{
    return len > 3 && (buf[3] == GOSSIP_MSG_PING || buf[3] == GOSSIP_MSG_PING_REQ);
}

/* ---- TCP connections ------------------------------------------------------------- */

static void conn_on_closed(uv_handle_t *h)
{
    tcp_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    for (write_req *w = c->pending_head; w;) {
        write_req *next = w->next;
        free(w);
        w = next;
    }
    free(c->rbuf);
    free(c);
}

static void conn_close(tcp_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    transport *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->n_conns--;
    stats(t)->send_queue -= c->queued;
    uv_close((uv_handle_t *)&c->h, conn_on_closed);
    uv_close((uv_handle_t *)&c->idle, conn_on_closed);
}

static void conn_on_idle(uv_timer_t *timer)
{
    tcp_conn *c = timer->data;
    agent *a = c->t->a;
    agent_lock(a);
    conn_close(c);
    agent_unlock(a);
}

static void conn_touch(tcp_conn *c)
{
    uv_timer_start(&c->idle, conn_on_idle, c->t->a->cfg.tcp_timeout_ms, 0);
}

static tcp_conn *conn_new(transport *t, bool outgoing, const char *peer)
{
    if (t->n_conns >= t->a->cfg.tcp_max_connections)
        return NULL;
    tcp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->t = t;
    c->outgoing = outgoing;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    uv_tcp_init(&t->a->loop, &c->h);
    uv_timer_init(&t->a->loop, &c->idle);
    c->h.data = c->idle.data = c;
    c->handles_open = 2;
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    t->n_conns++;
    conn_touch(c);
    return c;
}

static void conn_on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    tcp_conn *c = w->conn;
    agent *a = c->t->a;
    agent_lock(a);
    if (!c->closing) {
        c->queued -= w->len;
        stats(c->t)->send_queue -= w->len;
        if (status < 0) {
            stats(c->t)->tcp_errors++;
            conn_close(c);
        }
    }
    agent_unlock(a);
    free(w);
}

static void conn_write(tcp_conn *c, write_req *w)
{
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
    w->conn = c;
    if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, conn_on_written) != 0) {
        c->queued -= w->len;
        stats(c->t)->send_queue -= w->len;
        stats(c->t)->tcp_errors++;
        free(w);
        conn_close(c);
        return;
    }
    stats(c->t)->tcp_frames_out++;
    stats(c->t)->tcp_bytes_out += w->len;
}

static void conn_deliver_frames(tcp_conn *c)
{
    transport *t = c->t;
    size_t off = 0;
    while (c->rlen - off >= 4) {
        const uint8_t *p = c->rbuf + off;
        uint32_t flen = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (flen > t->a->cfg.tcp_max_frame || flen < 2) {
            stats(t)->tcp_oversize++;
            agent_log(t->a, GOSSIP_LOG_WARN, "msg=\"tcp frame refused\" len=%u max=%u", flen,
                      t->a->cfg.tcp_max_frame);
            conn_close(c);
            return;
        }
        if (c->rlen - off - 4 < flen)
            break;
        uint8_t kind = p[4], alen = p[5];
        if (kind == 0 || kind >= AGENT_FRAME_KINDS || alen == 0 || alen > GOSSIP_MAX_ADDR ||
            (size_t)alen + 2 > flen) {
            stats(t)->tcp_errors++;
            conn_close(c);
            return;
        }
        char from[GOSSIP_MAX_ADDR + 1];
        memcpy(from, p + FRAME_HEADER, alen);
        from[alen] = 0;
        stats(t)->tcp_frames_in++;
        stats(t)->tcp_bytes_in += 4u + flen;
        if (kind == AGENT_FRAME_DATAGRAM) {
            const uint8_t *d = p + FRAME_HEADER + alen;
            peer_path *pp = is_ask(d, flen - 2 - alen) ? path_of(t, from) : NULL;
            if (pp)
                pp->last_tcp_ask_rx_ms = agent_now_ms(t->a);
            agent_deliver(t->a, from, d, flen - 2 - alen);
        }
        else
            agent_on_frame(t->a, kind, from, p + FRAME_HEADER + alen, flen - 2 - alen);
        if (c->closing)
            return;
        off += 4u + flen;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    tcp_conn *c = h->data;
    *buf = uv_buf_init((char *)c->t->rxbuf, sizeof c->t->rxbuf);
}

static void conn_read_locked(tcp_conn *c, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing)
        return;
    conn_touch(c);
    size_t need = c->rlen + (size_t)nread;
    size_t cap_limit = (size_t)c->t->a->cfg.tcp_max_frame + 4 + sizeof c->t->rxbuf;
    if (need > c->rcap) {
        size_t ncap = c->rcap ? c->rcap : 4096;
        while (ncap < need)
            ncap *= 2;
        if (ncap > cap_limit)
            ncap = cap_limit;
        uint8_t *nb = ncap >= need ? realloc(c->rbuf, ncap) : NULL;
        if (!nb) {
            stats(c->t)->tcp_errors++;
            conn_close(c);
            return;
        }
        c->rbuf = nb;
        c->rcap = ncap;
    }
    memcpy(c->rbuf + c->rlen, buf->base, (size_t)nread);
    c->rlen += (size_t)nread;
    conn_deliver_frames(c);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    tcp_conn *c = s->data;
    agent *a = c->t->a;
    agent_lock(a);
    conn_read_locked(c, nread, buf);
    agent_unlock(a);
}

static void conn_connected_locked(tcp_conn *c, int status)
{
    if (c->closing)
        return;
    if (status < 0) {
        stats(c->t)->tcp_errors++;
        agent_log(c->t->a, GOSSIP_LOG_DEBUG, "msg=\"tcp connect failed\" peer=%s err=\"%s\"",
                  c->peer, uv_strerror(status));
        conn_close(c);
        return;
    }
    c->connected = true;
    stats(c->t)->tcp_connects++;
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
    while (c->pending_head && !c->closing) {
        write_req *w = c->pending_head;
        c->pending_head = w->next;
        if (!c->pending_head)
            c->pending_tail = NULL;
        conn_write(c, w);
    }
}

static void conn_on_connect(uv_connect_t *req, int status)
{
    tcp_conn *c = req->data;
    agent *a = c->t->a;
    agent_lock(a);
    conn_connected_locked(c, status);
    agent_unlock(a);
}

static tcp_conn *conn_to(transport *t, const char *addr)
{
    for (tcp_conn *c = t->conns; c; c = c->next)
        if (c->outgoing && !c->closing && strcmp(c->peer, addr) == 0)
            return c;
    struct sockaddr_storage ss;
    if (transport_parse_addr(addr, &ss) != 0)
        return NULL;
    tcp_conn *c = conn_new(t, true, addr);
    if (!c)
        return NULL;
    c->connect_req.data = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->h, (const struct sockaddr *)&ss, conn_on_connect);
    if (rc != 0) {
        stats(t)->tcp_errors++;
        conn_close(c);
        return NULL;
    }
    return c;
}

bool transport_send_frame(transport *t, const char *addr, uint8_t kind, const uint8_t *buf,
                          size_t len)
{
    size_t alen = strlen(t->a->advertise);
    size_t flen = 2 + alen + len;
    if (!t->tcp_open || flen > t->a->cfg.tcp_max_frame)
        return false;
    tcp_conn *c = conn_to(t, addr);
    if (!c || c->queued + 4 + flen > (size_t)t->a->cfg.tcp_max_frame + CONN_QUEUE_SLACK)
        return false;
    write_req *w = malloc(sizeof *w + 4 + flen);
    if (!w)
        return false;
    w->len = 4 + flen;
    w->next = NULL;
    uint8_t *p = w->data;
    p[0] = (uint8_t)(flen >> 24);
    p[1] = (uint8_t)(flen >> 16);
    p[2] = (uint8_t)(flen >> 8);
    p[3] = (uint8_t)flen;
    p[4] = kind;
    p[5] = (uint8_t)alen;
    memcpy(p + FRAME_HEADER, t->a->advertise, alen);
    memcpy(p + FRAME_HEADER + alen, buf, len);
    c->queued += w->len;
    stats(t)->send_queue += w->len;
    conn_touch(c);
    if (c->connected) {
        conn_write(c, w);
    } else {
        if (c->pending_tail)
            c->pending_tail->next = w;
        else
            c->pending_head = w;
        c->pending_tail = w;
    }
    return true;
}

static void accept_locked(transport *t, uv_stream_t *server)
{
    tcp_conn *c = conn_new(t, false, "");
    if (!c) { /* at the connection bound: accept and drop at once */
        uv_tcp_t *tmp = malloc(sizeof *tmp);
        if (tmp) {
            uv_tcp_init(&t->a->loop, tmp);
            if (uv_accept(server, (uv_stream_t *)tmp) == 0)
                stats(t)->tcp_errors++;
            uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
        }
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&c->h) != 0) {
        conn_close(c);
        return;
    }
    c->connected = true;
    stats(t)->tcp_accepts++;
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
}

static void on_accept(uv_stream_t *server, int status)
{
    transport *t = server->data;
    if (status < 0)
        return;
    agent_lock(t->a);
    accept_locked(t, server);
    agent_unlock(t->a);
}

/* ---- UDP ---------------------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    transport *t = h->data;
    *buf = uv_buf_init((char *)t->rxbuf, sizeof t->rxbuf);
}

static void udp_on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *from, unsigned flags)
{
    transport *t = h->data;
    if (nread <= 0 || !from)
        return;
    char addr[GOSSIP_MAX_ADDR + 1];
    if (transport_format_addr(from, addr, sizeof addr) != 0)
        return;
    agent_lock(t->a);
    stats(t)->udp_in++;
    stats(t)->udp_bytes_in += (uint64_t)nread;
    if (flags & UV_UDP_PARTIAL)
        stats(t)->udp_truncated++;
    peer_path *p = path_of(t, addr);
    uint64_t now = agent_now_ms(t->a);
    if (p)
        p->last_udp_rx_ms = now;
    t->last_udp_rx_ms = now;
    agent_deliver(t->a, addr, (const uint8_t *)buf->base, (size_t)nread);
    agent_unlock(t->a);
}

/* The engine's send callback: loop thread, lock held. */
void transport_send(void *ud, const char *addr, const uint8_t *buf, size_t len)
{
    agent *a = ud;
    transport *t = &a->net;
    if (!t->udp_open)
        return;
    struct sockaddr_storage ss;
    if (transport_parse_addr(addr, &ss) != 0) {
        stats(t)->udp_send_errors++;
        return;
    }
    match_family(t, &ss);
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int rc = uv_udp_try_send(&t->udp, &b, 1, (const struct sockaddr *)&ss);
    if (rc < 0) {
        stats(t)->udp_send_errors++;
    } else {
        stats(t)->udp_out++;
        stats(t)->udp_bytes_out += len;
    }
    if (!is_probe(buf, len) || !t->tcp_open)
        return;
    peer_path *p = path_of(t, addr);
    if (!p)
        return;
    uint64_t now = agent_now_ms(a);
    bool unanswered = p->last_ask_ms && p->last_udp_rx_ms < p->last_ask_ms &&
                      now - p->last_ask_ms >= a->cfg.probe_timeout_ms;
    /* Only answers follow the way the peer asked: were our own asks to
     * follow its answers too, one TCP round would keep a healthy pair on
     * TCP for ever (each side's TCP copy re-arming the other's). */
    bool asked_by_tcp = !is_ask(buf, len) && p->last_tcp_ask_rx_ms &&
                        now - p->last_tcp_ask_rx_ms <= fallback_ms(t);
    if (!t->udp_since_ms)
        t->udp_since_ms = now;
    uint64_t heard = t->last_udp_rx_ms > t->udp_since_ms ? t->last_udp_rx_ms : t->udp_since_ms;
    bool udp_deaf = now - heard > fallback_ms(t);
    /* A ping-req or ping sent while the last one is still unanswered keeps
     * the older time: the evidence is the oldest unanswered ask. */
    if (is_ask(buf, len) && !(p->last_ask_ms > p->last_udp_rx_ms))
        p->last_ask_ms = now;
    if ((unanswered || asked_by_tcp || udp_deaf) &&
        transport_send_frame(t, addr, AGENT_FRAME_DATAGRAM, buf, len))
        stats(t)->tcp_fallback_sends++;
}

/* ---- open / close ------------------------------------------------------------------ */

int transport_open(transport *t, agent *a, char *err, size_t err_len)
{
    memset(t, 0, sizeof *t);
    t->a = a;
    struct sockaddr_storage ss;
    if (transport_parse_addr(a->cfg.bind, &ss) != 0) {
        snprintf(err, err_len, "--bind: cannot parse \"%s\"", a->cfg.bind);
        return -1;
    }
    t->family = ss.ss_family;
    uv_udp_init(&a->loop, &t->udp);
    t->udp.data = t;
    t->udp_open = true;
    int rc = uv_udp_bind(&t->udp, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_udp_recv_start(&t->udp, udp_alloc, udp_on_recv);
    if (rc != 0) {
        snprintf(err, err_len, "--bind: cannot bind UDP %s: %s", a->cfg.bind, uv_strerror(rc));
        return -1;
    }
    uv_tcp_init(&a->loop, &t->listener);
    t->listener.data = t;
    t->tcp_open = true;
    rc = uv_tcp_bind(&t->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&t->listener, 128, on_accept);
    if (rc != 0) {
        snprintf(err, err_len, "--bind: cannot listen on TCP %s: %s", a->cfg.bind,
                 uv_strerror(rc));
        return -1;
    }
    return 0;
}

void transport_close(transport *t)
{
    if (t->udp_open && !uv_is_closing((uv_handle_t *)&t->udp))
        uv_close((uv_handle_t *)&t->udp, NULL);
    if (t->tcp_open && !uv_is_closing((uv_handle_t *)&t->listener))
        uv_close((uv_handle_t *)&t->listener, NULL);
    t->udp_open = t->tcp_open = false;
    while (t->conns)
        conn_close(t->conns);
    free(t->paths);
    t->paths = NULL;
    t->n_paths = t->cap_paths = 0;
}
