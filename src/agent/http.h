/* http.h -- gossipd's HTTP API (libmicrohttpd + jansson): /v1/... and
 * /metrics.  See docs/agent-http.md for every endpoint. */
#ifndef GOSSIP_AGENT_HTTP_H
#define GOSSIP_AGENT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"

typedef struct agent_http agent_http;

typedef struct agent_http_stats {
    uint64_t requests;            /* requests answered */
    uint64_t bad_requests;        /* answered 4xx */
    uint64_t unauthorized;        /* 401 (also counted in bad_requests) */
    uint64_t server_errors;       /* answered 5xx */
    uint64_t watchers;            /* /v1/watch streams open now */
} agent_http_stats;

/* Starts serving on agent_cfg(a)->http.  Refuses (returns -1, message in err
 * naming the setting) when the address is not loopback and no http_token is
 * set, or when the address cannot be bound. */
int agent_http_start(agent_http **out, agent *a, char *err, size_t err_len);
/* Stops serving: ends /v1/watch streams, joins MHD's threads, frees. */
void agent_http_stop(agent_http *h);
void agent_http_get_stats(agent_http *h, agent_http_stats *out);

#endif
