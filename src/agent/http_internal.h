/* http_internal.h -- what http.c and metrics.c share: the snapshot /metrics
 * is rendered from.  http.c fills it under the agent lock; rendering is a
 * pure function of it (tests/test_agent_metrics.c runs it without a daemon). */
#ifndef GOSSIP_AGENT_HTTP_INTERNAL_H
#define GOSSIP_AGENT_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <gossip/gossip.h>

#include "agent/agent.h"
#include "agent/http.h"
#include "core/blob.h"

/* Everything /metrics shows, copied out of the agent in one locked section. */
typedef struct agent_metrics_input {
    char name[GOSSIP_MAX_NAME + 1];
    uint64_t generation;
    uint64_t uptime_ms;
    uint64_t members[4];          /* by enum gossip_member_status */
    uint64_t events_buffered;
    gossip_stats engine;
    agent_net_stats net;
    agent_handler_stats handlers;
    agent_http_stats http;
    bool blob_on;                 /* blobs enabled: `blob` is filled */
    blob_stats blob;
} agent_metrics_input;

/* Renders the Prometheus text exposition (format 0.0.4) of `in`.  Returns a
 * malloc'd NUL-terminated text (length in *len), or NULL when out of memory. */
char *agent_metrics_render(const agent_metrics_input *in, size_t *len);

/* The Content-Type /metrics answers with. */
#define AGENT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
