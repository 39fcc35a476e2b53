/* node.h -- the inside of a gossip_node, shared by node.c and exchange.c. */
#ifndef GOSSIP_CORE_NODE_H
#define GOSSIP_CORE_NODE_H

#include <stdbool.h>

#include "core/members.h"
#include "core/rng.h"
#include "core/table.h"
#include "wire/wire.h"


struct gossip_node {
    gossip_config cfg;            /* name/addr point at our own copies */
    gossip_callbacks cb;
    void *ud;
    const gossip_allocator *alloc;
    gossip_rng rng;
    table tbl;
    uint32_t self;                /* our own endpoint's index */
    uint64_t version_counter;     /* the owner's version generator */
    char **seeds;
    uint32_t n_seeds;
    bool started;
    uint64_t next_round_ms;
    uint32_t cursor;              /* rotating window over the table */
    uint32_t epoch;               /* exchange epoch for endpoint.mark */
    gossip_stats stats;
    wire_limits limits;
    wire_msg *rx;                 /* decode scratch */
    wire_digest *reqs;            /* rx->cap_digests: requests being built */
    struct plan_list *plan;       /* deltas being planned (exchange.c) */
    uint8_t *tx;                  /* mtu bytes */
    members ms;                   /* membership and failure detection */
    uint64_t now;                 /* the clock as of the current call in */
    uint64_t seed_next_ms;        /* knowing nobody: next knock on a seed */
    uint32_t seed_knocks;         /* unanswered knocks in a row */
    struct rumors *rumors;        /* hot rumors (rumor.c); NULL with rumor_fanout 0 */
    uint64_t event_clock;         /* Lamport clock of user events (events.c) */
};

/* exchange.c */
size_t exchange_plan_size(uint32_t mtu);
void exchange_plan_init(struct plan_list *p, uint32_t mtu);
void exchange_run_round(gossip_node *n);
int exchange_on_msg(gossip_node *n, const char *from_addr, const wire_msg *m);
/* Writes endpoint ep's delta after from_version; nonzero if it did not fit. */
int exchange_write_delta(wire_writer *w, const endpoint *ep, uint64_t from_version);
/* Up to k distinct random live members other than ourselves; how many. */
uint32_t exchange_pick_peers(gossip_node *n, uint32_t k, uint32_t *out);
/* One exchange with `addr` now: a SYN, or a PUSH in push mode. */
void exchange_contact(gossip_node *n, const char *addr);

/* node.c */
/* Starts a datagram from us: header, our name and address, and (with_hash)
 * our table hash. */
void node_begin_msg(gossip_node *n, wire_writer *w, uint8_t type, uint8_t flags, bool with_hash);
void node_send(gossip_node *n, const char *addr, size_t len, uint8_t type);
/* Applies one delta from a message; returns 1 if it changed our table. */
int node_apply_delta(gossip_node *n, const wire_msg *m, const wire_delta *d);
/* Copies member `idx`'s address into buf; false if it has none usable. */
bool node_member_addr(const gossip_node *n, uint32_t idx, char *buf, size_t cap);
void node_log(gossip_node *n, enum gossip_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
