/*
 * mininet.h -- a tiny synchronous network of gossip nodes for unit tests:
 * datagrams queue in FIFO order and are delivered after every round, with
 * optional loss.  (The full discrete-event simulator is src/sim; this keeps
 * engine tests independent of it.)
 */
#ifndef GOSSIP_TESTS_MININET_H
#define GOSSIP_TESTS_MININET_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "gossip/gossip.h"

#define MININET_MAX_NODES 1024
#define MININET_MAX_QUEUE 200000

typedef struct mn_packet {
    int from, to;
    size_t len;
    uint8_t *data;
} mn_packet;

typedef struct mininet {
    int n;
    gossip_node *nodes[MININET_MAX_NODES];
    int alive[MININET_MAX_NODES];
    uint64_t generation[MININET_MAX_NODES];
    int sender; /* index of the node currently running */
    mn_packet *queue;
    size_t q_len;
    uint64_t now;
    double loss;
    double out_loss[MININET_MAX_NODES]; /* extra loss of one node's outbound datagrams */
    gossip_rng rng;
    size_t max_datagram_seen;
    uint64_t delivered, dropped;
    gossip_config base;
    const gossip_callbacks *callbacks; /* NULL: mn_callbacks */
} mininet;

static inline int mn_index_of(const char *addr)
{
    return atoi(addr + 1); /* "n<index>" */
}

static inline void mn_send(void *ud, const char *addr, const uint8_t *buf, size_t len)
{
    mininet *net = ud;
    if (net->q_len >= MININET_MAX_QUEUE)
        return;
    if (len > net->max_datagram_seen)
        net->max_datagram_seen = len;
    mn_packet *p = &net->queue[net->q_len++];
    p->from = net->sender;
    p->to = mn_index_of(addr);
    p->len = len;
    p->data = malloc(len);
    memcpy(p->data, buf, len);
}

static const gossip_callbacks mn_callbacks = {GOSSIP_CALLBACKS_VERSION, mn_send, NULL, NULL};

static inline int mn_start_node(mininet *net, int i)
{
    char name[32], addr[32];
    snprintf(name, sizeof name, "node-%d", i);
    snprintf(addr, sizeof addr, "n%d", i);
    gossip_config cfg = net->base;
    cfg.name = name;
    cfg.addr = addr;
    cfg.generation = ++net->generation[i];
    cfg.seed = (uint64_t)i * 7919 + net->generation[i];
    int rc = gossip_node_new(&net->nodes[i], &cfg, net->callbacks ? net->callbacks : &mn_callbacks,
                             net);
    if (rc)
        return rc;
    if (i != 0)
        gossip_node_add_seed(net->nodes[i], "n0");
    net->alive[i] = 1;
    return 0;
}

/* Starts n nodes whose changes go to `callbacks` (NULL: none watched). */
static inline void mn_init_with(mininet *net, int n, const gossip_config *base,
                                const gossip_callbacks *callbacks)
{
    memset(net, 0, sizeof *net);
    net->callbacks = callbacks;
    net->n = n;
    net->base = *base;
    net->queue = calloc(MININET_MAX_QUEUE, sizeof *net->queue);
    gossip_rng_seed(&net->rng, 12345);
    for (int i = 0; i < n; i++)
        if (mn_start_node(net, i))
            abort();
}

static inline void mn_init(mininet *net, int n, const gossip_config *base)
{
    mn_init_with(net, n, base, NULL);
}

static inline void mn_kill(mininet *net, int i)
{
    gossip_node_free(net->nodes[i]);
    net->nodes[i] = NULL;
    net->alive[i] = 0;
}

static inline void mn_deliver_all(mininet *net)
{
    /* Replies produced while delivering are appended and delivered too. */
    for (size_t k = 0; k < net->q_len; k++) {
        mn_packet *p = &net->queue[k];
        double p_loss = net->loss > net->out_loss[p->from] ? net->loss : net->out_loss[p->from];
        int lost = p_loss > 0 && gossip_rng_unit(&net->rng) < p_loss;
        if (!lost && p->to >= 0 && p->to < net->n && net->alive[p->to]) {
            char from[32];
            snprintf(from, sizeof from, "n%d", p->from);
            net->sender = p->to;
            gossip_node_recv(net->nodes[p->to], from, p->data, p->len, net->now);
            net->delivered++;
        } else {
            net->dropped++;
        }
        free(p->data);
        p->data = NULL;
    }
    net->q_len = 0;
}

/* Time advances in steps of MININET_STEP_MS; in each step every live node
 * whose deadline has come ticks, then all traffic settles (zero latency). */
#define MININET_STEP_MS 50

static inline void mn_step(mininet *net)
{
    net->now += MININET_STEP_MS;
    for (int i = 0; i < net->n; i++) {
        if (!net->alive[i] || gossip_node_next_deadline(net->nodes[i]) > net->now)
            continue;
        net->sender = i;
        gossip_node_tick(net->nodes[i], net->now);
    }
    mn_deliver_all(net);
}

/* One gossip period. */
static inline void mn_round(mininet *net)
{
    for (uint32_t t = 0; t < net->base.gossip_interval_ms; t += MININET_STEP_MS)
        mn_step(net);
}

/* Converged: every live node knows every live node at its own digest. */
static inline int mn_converged(const mininet *net)
{
    for (int s = 0; s < net->n; s++) {
        if (!net->alive[s])
            continue;
        gossip_member_info own;
        gossip_node_member_find(net->nodes[s], NULL, &own);
        for (int o = 0; o < net->n; o++) {
            if (!net->alive[o] || o == s)
                continue;
            gossip_member_info seen;
            if (gossip_node_member_find(net->nodes[o], own.name, &seen) != 0 ||
                seen.generation != own.generation || seen.max_version != own.max_version)
                return 0;
        }
    }
    return 1;
}

/* Runs rounds until converged or `max_rounds`; returns the rounds taken or -1. */
static inline int mn_run_until_converged(mininet *net, int max_rounds)
{
    for (int r = 1; r <= max_rounds; r++) {
        mn_round(net);
        if (mn_converged(net))
            return r;
    }
    return -1;
}

/* Bytes every node has sent, all message types. */
static inline uint64_t mn_bytes_sent(const mininet *net)
{
    uint64_t sum = 0;
    for (int i = 0; i < net->n; i++) {
        gossip_stats s;
        if (!net->nodes[i])
            continue;
        gossip_node_get_stats(net->nodes[i], &s);
        for (int t = 0; t < GOSSIP_MSG_TYPE_COUNT; t++)
            sum += s.bytes_sent[t];
    }
    return sum;
}

static inline void mn_free(mininet *net)
{
    for (size_t k = 0; k < net->q_len; k++)
        free(net->queue[k].data);
    for (int i = 0; i < net->n; i++)
        if (net->nodes[i])
            gossip_node_free(net->nodes[i]);
    free(net->queue);
}

#endif
