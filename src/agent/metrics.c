/* metrics.c -- GET /metrics: the Prometheus text exposition format 0.0.4.
 *
 * Every family gets # HELP and # TYPE; counters end in _total; the probe
 * round-trip histogram has cumulative _bucket{le=...} samples, _sum and
 * _count.  Rendering is a pure function of a snapshot (http_internal.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/blob_agent.h" /* agent_blob_msg_names */
#include "agent/http_internal.h"

/* ---- a growing text buffer --------------------------------------------- */

typedef struct mbuf {
    char *p;
    size_t len, cap;
    int oom;
} mbuf;

static void mb_printf(mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mb_printf(mbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n + 1;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* A label value with \, " and newline escaped as the format asks. */
static void mb_label_value(mbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            mb_printf(b, "\\\\");
        else if (*s == '"')
            mb_printf(b, "\\\"");
        else if (*s == '\n')
            mb_printf(b, "\\n");
        else
            mb_printf(b, "%c", *s);
    }
}

static void family(mbuf *b, const char *name, const char *type, const char *help)
{
    mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(mbuf *b, const char *name, const char *labels, uint64_t v)
{
    if (labels)
        mb_printf(b, "%s{%s} %llu\n", name, labels, (unsigned long long)v);
    else
        mb_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* ---- the families ------------------------------------------------------ */

static const char *const status_label[4] = {"alive", "suspect", "dead", "left"};

static const char *const msg_label[GOSSIP_MSG_TYPE_COUNT] = {
    [GOSSIP_MSG_SYN] = "syn",   [GOSSIP_MSG_ACK] = "ack",           [GOSSIP_MSG_ACK2] = "ack2",
    [GOSSIP_MSG_PUSH] = "push", [GOSSIP_MSG_PING] = "ping",         [GOSSIP_MSG_PING_REQ] = "ping_req",
    [GOSSIP_MSG_PING_ACK] = "ping_ack",
};

static void render_info(mbuf *b, const agent_metrics_input *in)
{
    family(b, "gossip_info", "gauge", "Constant 1, labelled with the version and the member name.");
    mb_printf(b, "gossip_info{version=\"%s\",name=\"", GOSSIP_VERSION_STRING);
    mb_label_value(b, in->name);
    mb_printf(b, "\"} 1\n");
    family(b, "gossip_generation", "gauge", "This node's generation (bumped on every restart).");
    sample_u64(b, "gossip_generation", NULL, in->generation);
    family(b, "gossip_uptime_seconds", "gauge", "Seconds since the agent started.");
    mb_printf(b, "gossip_uptime_seconds %.3f\n", (double)in->uptime_ms / 1000.0);
}

static void render_members(mbuf *b, const agent_metrics_input *in)
{
    family(b, "gossip_members", "gauge", "Members this node knows, by status (itself included).");
    for (int s = 0; s < 4; s++)
        mb_printf(b, "gossip_members{status=\"%s\"} %llu\n", status_label[s],
                  (unsigned long long)in->members[s]);
}

/* gossip_{packets,bytes}_{sent,received}_total{type=...} */
static void render_by_type(mbuf *b, const char *name, const char *help, const uint64_t *v)
{
    family(b, name, "counter", help);
    for (int t = 1; t < GOSSIP_MSG_TYPE_COUNT; t++)
        if (msg_label[t])
            mb_printf(b, "%s{type=\"%s\"} %llu\n", name, msg_label[t], (unsigned long long)v[t]);
}

static void render_traffic(mbuf *b, const agent_metrics_input *in)
{
    render_by_type(b, "gossip_packets_sent_total", "Datagrams the engine sent, by message type.",
                   in->engine.packets_sent);
    render_by_type(b, "gossip_bytes_sent_total", "Bytes the engine sent, by message type.",
                   in->engine.bytes_sent);
    render_by_type(b, "gossip_packets_received_total",
                   "Datagrams the engine accepted, by message type.", in->engine.packets_recv);
    render_by_type(b, "gossip_bytes_received_total",
                   "Bytes the engine accepted, by message type.", in->engine.bytes_recv);
}

/* Bucket upper bounds are in milliseconds in the engine, seconds here. */
static void render_rtt(mbuf *b, const agent_metrics_input *in)
{
    family(b, "gossip_probe_rtt_seconds", "histogram",
           "Round-trip time of answered direct probes.");
    uint64_t cum = 0;
    for (int i = 0; i < GOSSIP_RTT_BUCKETS; i++) {
        cum += in->engine.probe_rtt_buckets[i];
        if (i < GOSSIP_RTT_BUCKETS - 1)
            mb_printf(b, "gossip_probe_rtt_seconds_bucket{le=\"%g\"} %llu\n",
                      gossip_rtt_bounds_ms[i] / 1000.0,
                      (unsigned long long)cum);
        else
            mb_printf(b, "gossip_probe_rtt_seconds_bucket{le=\"+Inf\"} %llu\n",
                      (unsigned long long)cum);
    }
    mb_printf(b, "gossip_probe_rtt_seconds_sum %.6f\n",
              (double)in->engine.probe_rtt_sum_ms / 1000.0);
    mb_printf(b, "gossip_probe_rtt_seconds_count %llu\n",
              (unsigned long long)in->engine.probe_rtt_count);
}

/* One unlabelled uint64_t sample per row, read at `off` in the snapshot. */
typedef struct scalar {
    const char *name;
    const char *type;
    const char *help;
    size_t off, size;             /* a uint64_t or a uint32_t field */
} scalar;

#define S(name, type, field, help)                                                           \
    {name, type, help, offsetof(agent_metrics_input, field),                                \
     sizeof(((const agent_metrics_input *)0)->field)}

static const scalar scalars[] = {
    /* engine */
    S("gossip_rounds_total", "counter", engine.rounds, "Gossip rounds run."),
    S("gossip_deltas_applied_total", "counter", engine.deltas_applied,
      "Endpoint deltas that changed something."),
    S("gossip_deltas_stale_total", "counter", engine.deltas_stale,
      "Endpoint deltas that changed nothing."),
    S("gossip_probes_total", "counter", engine.probes, "Direct SWIM probes sent."),
    S("gossip_probes_failed_total", "counter", engine.probes_failed,
      "Probes that ended with no ack at all."),
    S("gossip_indirect_probes_total", "counter", engine.indirect_probes, "Ping-reqs sent."),
    S("gossip_suspicions_total", "counter", engine.suspicions,
      "Members this node started to suspect."),
    S("gossip_refutations_total", "counter", engine.refutations,
      "Suspicions of this node that it refuted."),
    S("gossip_declared_dead_total", "counter", engine.declared_dead,
      "Members this node declared dead itself."),
    S("gossip_phi_deferred_total", "counter", engine.phi_deferred,
      "Failed probes the phi detector judged to be packet loss."),
    S("gossip_recv_errors_total", "counter", engine.recv_errors,
      "Datagrams the engine's decoder rejected."),
    S("gossip_table_full_total", "counter", engine.table_full,
      "Members refused because the table was full."),
    S("gossip_name_conflicts_total", "counter", engine.name_conflicts,
      "Times another live process claimed this node's name."),
    S("gossip_awareness", "gauge", engine.awareness,
      "Lifeguard local health (0 = healthy; higher = slower to suspect others)."),
    S("gossip_news_sent_total", "counter", engine.news_sent,
      "Membership news items piggybacked on datagrams."),
    S("gossip_news_queue", "gauge", engine.news_queue,
      "Membership news items waiting to be piggybacked."),
    /* agent queues */
    S("gossip_events_buffered", "gauge", events_buffered,
      "Events kept for /v1/watch replays."),
    S("gossip_handler_queue", "gauge", handlers.queued, "Events waiting for a handler script."),
    S("gossip_handler_running", "gauge", handlers.running, "Handler scripts running now."),
    S("gossip_handler_started_total", "counter", handlers.started, "Handler scripts started."),
    S("gossip_handler_succeeded_total", "counter", handlers.succeeded,
      "Handler scripts that exited 0."),
    S("gossip_handler_failed_total", "counter", handlers.failed,
      "Handler scripts that failed (non-zero exit or signal)."),
    S("gossip_handler_timed_out_total", "counter", handlers.timed_out,
      "Handler scripts killed for running too long."),
    S("gossip_handler_dropped_total", "counter", handlers.dropped,
      "Events no handler ran for because the queue was full."),
    /* transport */
    S("gossip_udp_packets_received_total", "counter", net.udp_in, "UDP datagrams received."),
    S("gossip_udp_packets_sent_total", "counter", net.udp_out, "UDP datagrams sent."),
    S("gossip_udp_bytes_received_total", "counter", net.udp_bytes_in, "UDP bytes received."),
    S("gossip_udp_bytes_sent_total", "counter", net.udp_bytes_out, "UDP bytes sent."),
    S("gossip_udp_send_errors_total", "counter", net.udp_send_errors, "UDP sends that failed."),
    S("gossip_udp_truncated_total", "counter", net.udp_truncated,
      "UDP datagrams larger than the receive buffer."),
    S("gossip_tcp_frames_received_total", "counter", net.tcp_frames_in, "TCP frames received."),
    S("gossip_tcp_frames_sent_total", "counter", net.tcp_frames_out, "TCP frames sent."),
    S("gossip_tcp_bytes_received_total", "counter", net.tcp_bytes_in, "TCP bytes received."),
    S("gossip_tcp_bytes_sent_total", "counter", net.tcp_bytes_out, "TCP bytes sent."),
    S("gossip_tcp_accepts_total", "counter", net.tcp_accepts, "TCP connections accepted."),
    S("gossip_tcp_connects_total", "counter", net.tcp_connects, "TCP connections opened."),
    S("gossip_tcp_errors_total", "counter", net.tcp_errors,
      "TCP connections that failed or timed out."),
    S("gossip_tcp_oversize_total", "counter", net.tcp_oversize,
      "TCP frames refused for exceeding tcp_max_frame."),
    S("gossip_tcp_fallback_sends_total", "counter", net.tcp_fallback_sends,
      "Probe datagrams duplicated over TCP."),
    S("gossip_tcp_connections", "gauge", net.tcp_connections, "TCP connections open now."),
    S("gossip_tcp_send_queue_bytes", "gauge", net.send_queue,
      "Bytes queued on TCP connections now."),
    S("gossip_recv_rejected_total", "counter", net.recv_rejected,
      "Datagrams or frames the engine refused (UDP and TCP)."),
    /* HTTP API */
    S("gossip_http_requests_total", "counter", http.requests, "HTTP requests answered."),
    S("gossip_http_bad_requests_total", "counter", http.bad_requests,
      "HTTP requests answered with a 4xx status."),
    S("gossip_http_unauthorized_total", "counter", http.unauthorized,
      "HTTP requests answered 401 (missing or wrong bearer token)."),
    S("gossip_http_server_errors_total", "counter", http.server_errors,
      "HTTP requests answered with a 5xx status."),
    S("gossip_http_watchers", "gauge", http.watchers, "/v1/watch streams open now."),
};

#undef S

static void render_scalars(mbuf *b, const agent_metrics_input *in)
{
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        const scalar *s = &scalars[i];
        uint64_t v;
        if (s->size == sizeof(uint32_t)) {
            uint32_t v32;
            memcpy(&v32, (const char *)in + s->off, sizeof v32);
            v = v32;
        } else {
            memcpy(&v, (const char *)in + s->off, sizeof v);
        }
        family(b, s->name, s->type, s->help);
        sample_u64(b, s->name, NULL, v);
    }
}

/* gossip_blob_*: the large-payload engine (docs/large-payloads.md). */
static void render_blob(mbuf *b, const agent_metrics_input *in)
{
    if (!in->blob_on)
        return;
    const blob_stats *s = &in->blob;
    static const char *const dir[2] = {"sent", "received"};
    for (int d = 0; d < 2; d++) {
        char name[64];
        snprintf(name, sizeof name, "gossip_blob_messages_%s_total", dir[d]);
        family(b, name, "counter", "Large-payload messages, by type.");
        for (int t = 1; t < BLOB_MSG_TYPE_COUNT; t++)
            mb_printf(b, "%s{type=\"%s\"} %llu\n", name, agent_blob_msg_names[t],
                      (unsigned long long)(d ? s->msgs_recv[t] : s->msgs_sent[t]));
    }
    family(b, "gossip_blob_bytes_total", "counter", "Large-payload message bytes, by direction.");
    sample_u64(b, "gossip_blob_bytes_total", "direction=\"sent\"", s->bytes_sent);
    sample_u64(b, "gossip_blob_bytes_total", "direction=\"received\"", s->bytes_recv);
    family(b, "gossip_blob_recv_errors_total", "counter",
           "Malformed, oversize or out-of-place large-payload messages refused.");
    sample_u64(b, "gossip_blob_recv_errors_total", NULL, s->recv_errors);
    family(b, "gossip_blob_chunks_total", "counter",
           "Chunks of announced payloads, by where they came from or why they were dropped.");
    sample_u64(b, "gossip_blob_chunks_total", "source=\"local\"", s->chunks_local);
    sample_u64(b, "gossip_blob_chunks_total", "source=\"fetched\"", s->chunks_fetched);
    sample_u64(b, "gossip_blob_chunks_total", "source=\"duplicate\"", s->chunks_duplicate);
    sample_u64(b, "gossip_blob_chunks_total", "source=\"bad\"", s->chunks_bad);
    family(b, "gossip_blob_sources_dropped_total", "counter",
           "Peers dropped as sources for serving bad data or nothing.");
    sample_u64(b, "gossip_blob_sources_dropped_total", NULL, s->sources_dropped);
    family(b, "gossip_blob_request_timeouts_total", "counter", "Chunk requests that timed out.");
    sample_u64(b, "gossip_blob_request_timeouts_total", NULL, s->request_timeouts);
    family(b, "gossip_blob_payloads_total", "counter", "Payload fetches, by outcome.");
    sample_u64(b, "gossip_blob_payloads_total", "outcome=\"completed\"", s->payloads_completed);
    sample_u64(b, "gossip_blob_payloads_total", "outcome=\"abandoned\"", s->payloads_abandoned);
    family(b, "gossip_blob_store_bytes", "gauge", "Chunk bytes held now.");
    sample_u64(b, "gossip_blob_store_bytes", NULL, s->store_bytes);
}

char *agent_metrics_render(const agent_metrics_input *in, size_t *len)
{
    mbuf b = {malloc(8192), 0, 8192, 0};
    if (!b.p)
        return NULL;
    render_info(&b, in);
    render_members(&b, in);
    render_traffic(&b, in);
    render_rtt(&b, in);
    render_scalars(&b, in);
    render_blob(&b, in);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}
