/* rumor.c -- rumor mongering (Demers et al. 1987) over the state exchange.
 *
 * A change this node makes to its own state, or learns from a rumor push,
 * becomes a hot rumor.  It is pushed at once to `rumor_fanout` random live
 * peers (eager forwarding: the next tick is due immediately), and again
 * every gossip period while it stays hot.  The node loses interest either
 * after every push it makes (blind) or only when a peer answers that it
 * knew already (feedback); after `rumor_k` such reactions (counter) or with
 * probability 1/rumor_k on each (coin).  Anti-entropy (the SYN/ACK/ACK2
 * exchange) stays the backstop for the residue rumors leave behind, as
 * Demers prescribes; docs/rumor-mongering.md measures the four variants.
 *
 * Wire: a rumor push is a PUSH with WIRE_FLAG_RUMOR carrying deltas from
 * the version before the change; a receiver that knew every delta answers
 * (feedback variants only) with a PUSH flagged WIRE_FLAG_FEEDBACK listing
 * the digests it already had. */
#include <string.h>

#include "core/alloc.h"
#include "core/node.h"
#include "core/rumor.h"

typedef struct rumor {
    char name[GOSSIP_MAX_NAME];   /* the endpoint (indices move when members are reaped) */
    uint8_t name_len;
    bool fresh;                   /* not pushed yet: due at once */
    uint32_t reactions;           /* counter variants */
    uint64_t generation;
    uint64_t from_version;        /* the receiver needs what came after this */
    uint64_t version;             /* the newest version this rumor carries */
} rumor;

struct rumors {
    rumor *items;
    uint32_t n, cap;
    uint32_t fresh;               /* how many items are fresh */
};

static bool blind(const gossip_node *n)
{
    return n->cfg.rumor_stop == GOSSIP_RUMOR_BLIND_COUNTER ||
           n->cfg.rumor_stop == GOSSIP_RUMOR_BLIND_COIN;
}

static bool coin(const gossip_node *n)
{
    return n->cfg.rumor_stop == GOSSIP_RUMOR_BLIND_COIN ||
           n->cfg.rumor_stop == GOSSIP_RUMOR_FEEDBACK_COIN;
}

int rumor_init(gossip_node *n)
{
    if (n->cfg.rumor_fanout == 0)
        return 0;
    n->rumors = ga_malloc(n->alloc, sizeof *n->rumors);
    if (!n->rumors)
        return GOSSIP_ERR_NOMEM;
    n->rumors->n = n->rumors->fresh = 0;
    n->rumors->cap = n->cfg.max_rumors;
    n->rumors->items = ga_malloc(n->alloc, n->rumors->cap * sizeof(rumor));
    return n->rumors->items ? 0 : GOSSIP_ERR_NOMEM;
}

void rumor_free(gossip_node *n)
{
    if (!n->rumors)
        return;
    ga_free(n->alloc, n->rumors->items);
    ga_free(n->alloc, n->rumors);
    n->rumors = NULL;
}

static void drop(struct rumors *rs, uint32_t i)
{
    if (rs->items[i].fresh)
        rs->fresh--;
    rs->items[i] = rs->items[--rs->n];
}

static int find(const struct rumors *rs, const char *name, size_t len)
{
    for (uint32_t i = 0; i < rs->n; i++)
        if (rs->items[i].name_len == len && memcmp(rs->items[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

void rumor_on_change(gossip_node *n, uint32_t idx, uint64_t from_version)
{
    struct rumors *rs = n->rumors;
    if (!rs)
        return;
    const endpoint *ep = table_ep(&n->tbl, idx);
    int i = find(rs, ep_name(ep), ep->name_len);
    if (i >= 0 && rs->items[i].generation == ep->generation) {
        rumor *r = &rs->items[i];
        if (from_version < r->from_version)
            r->from_version = from_version;
    } else {
        if (i >= 0) {
            drop(rs, (uint32_t)i);
        } else if (rs->n == rs->cap) {
            /* Full: the rumor closest to dying makes room. */
            uint32_t worst = 0;
            for (uint32_t j = 1; j < rs->n; j++)
                if (rs->items[j].reactions > rs->items[worst].reactions)
                    worst = j;
            drop(rs, worst);
            n->stats.rumors_evicted++;
        }
        rumor *r = &rs->items[rs->n++];
        memcpy(r->name, ep_name(ep), ep->name_len);
        r->name_len = (uint8_t)ep->name_len;
        r->generation = ep->generation;
        r->from_version = from_version;
        r->fresh = false;
        i = (int)rs->n - 1;
    }
    rumor *r = &rs->items[i];
    r->version = ep->max_version;
    r->reactions = 0; /* news again: full interest */
    if (!r->fresh) {
        r->fresh = true;
        rs->fresh++;
    }
}

/* One reaction (a push made, blind; or "I knew", feedback): counter or coin. */
static bool loses_interest(gossip_node *n, rumor *r)
{
    if (coin(n))
        return gossip_rng_below(&n->rng, n->cfg.rumor_k) == 0;
    return ++r->reactions >= n->cfg.rumor_k;
}

/* Writes the deltas of the chosen rumors; returns how many fit. */
static uint32_t write_rumors(gossip_node *n, wire_writer *w, bool fresh_only, uint32_t *chosen)
{
    struct rumors *rs = n->rumors;
    uint32_t k = 0;
    if (wire_open_array(w, WK_DELTAS))
        return 0;
    for (uint32_t i = 0; i < rs->n; i++) {
        rumor *r = &rs->items[i];
        if (fresh_only && !r->fresh)
            continue;
        uint32_t idx = table_find(&n->tbl, r->name, r->name_len);
        const endpoint *ep = idx == TABLE_NONE ? NULL : table_ep(&n->tbl, idx);
        if (!ep || ep->generation != r->generation)
            continue;
        if (exchange_write_delta(w, ep, r->from_version))
            break;
        chosen[k++] = i;
    }
    wire_close_array(w);
    return k;
}

/* Pushes the hot rumors (only the fresh ones, or all) to rumor_fanout peers. */
static void push(gossip_node *n, bool fresh_only)
{
    struct rumors *rs = n->rumors;
    if (!rs || rs->n == 0 || (fresh_only && rs->fresh == 0))
        return;
    uint32_t peers[GOSSIP_MAX_RUMOR_FANOUT];
    uint32_t got = exchange_pick_peers(n, n->cfg.rumor_fanout, peers);
    uint32_t chosen[GOSSIP_MAX_RUMORS];
    uint32_t k = 0;
    char addr[GOSSIP_MAX_ADDR + 1];
    for (uint32_t p = 0; p < got; p++) {
        if (!node_member_addr(n, peers[p], addr, sizeof addr))
            continue;
        wire_writer w;
        node_begin_msg(n, &w, GOSSIP_MSG_PUSH, WIRE_FLAG_RUMOR, false);
        k = write_rumors(n, &w, fresh_only, chosen);
        if (k == 0)
            break; /* nothing left to tell (the endpoints are gone) */
        node_send(n, addr, wire_finish(&w), GOSSIP_MSG_PUSH);
        n->stats.rumor_pushes++;
        if (blind(n)) /* blind: every push is a reaction */
            for (uint32_t j = k; j-- > 0;) /* high to low: drop() moves the last item */
                if (loses_interest(n, &rs->items[chosen[j]]))
                    drop(rs, chosen[j]);
    }
    for (uint32_t i = 0; i < rs->n; i++)
        if (rs->items[i].fresh) {
            rs->items[i].fresh = false;
            rs->fresh--;
        }
}

void rumor_flush(gossip_node *n) { push(n, true); }

void rumor_round(gossip_node *n) { push(n, false); }

bool rumor_due(const gossip_node *n) { return n->rumors && n->rumors->fresh > 0; }

uint32_t rumor_hot(const gossip_node *n) { return n->rumors ? n->rumors->n : 0; }

/* A rumor push arrived: apply it, make what was new hot (to forward at
 * once), and tell the sender what we knew already (feedback variants). */
void rumor_on_push(gossip_node *n, const char *from_addr, const wire_msg *m)
{
    wire_digest known[64];
    uint32_t n_known = 0;
    for (uint32_t i = 0; i < m->n_deltas; i++) {
        const wire_delta *d = &m->deltas[i];
        uint32_t before = table_find(&n->tbl, d->name.ptr, d->name.len);
        uint64_t had = before == TABLE_NONE ? 0 : table_ep(&n->tbl, before)->max_version;
        uint64_t had_gen = before == TABLE_NONE ? 0 : table_ep(&n->tbl, before)->generation;
        if (node_apply_delta(n, m, d) == 1) {
            uint32_t idx = table_find(&n->tbl, d->name.ptr, d->name.len);
            if (idx != TABLE_NONE && idx != n->self)
                rumor_on_change(n, idx, had_gen == d->generation ? had : 0);
            continue;
        }
        uint64_t delta_max = d->heartbeat;
        for (uint32_t j = 0; j < d->kv_count; j++)
            if (m->kvs[d->kv_first + j].version > delta_max)
                delta_max = m->kvs[d->kv_first + j].version;
        /* Knew it: same or newer.  (A delta refused for a gap is not "knew".) */
        bool knew = before != TABLE_NONE &&
                    (had_gen > d->generation || (had_gen == d->generation && had >= delta_max));
        if (knew && n_known < 64)
            known[n_known++] = (wire_digest){d->name, d->generation, delta_max, false, 0, 0};
    }
    if (n_known == 0 || !n->rumors || blind(n))
        return;
    wire_writer w;
    node_begin_msg(n, &w, GOSSIP_MSG_PUSH, WIRE_FLAG_FEEDBACK, false);
    if (wire_open_array(&w, WK_DIGESTS) == 0) {
        for (uint32_t i = 0; i < n_known; i++)
            if (wire_try_digest(&w, known[i].name.ptr, known[i].name.len, known[i].generation,
                                known[i].max_version))
                break;
        wire_close_array(&w);
    }
    node_send(n, from_addr, wire_finish(&w), GOSSIP_MSG_PUSH);
}

/* A peer knew some of what we pushed: one reaction per rumor it names. */
void rumor_on_feedback(gossip_node *n, const wire_msg *m)
{
    struct rumors *rs = n->rumors;
    if (!rs)
        return;
    for (uint32_t i = 0; i < m->n_digests; i++) {
        const wire_digest *d = &m->digests[i];
        int j = find(rs, d->name.ptr, d->name.len);
        if (j < 0 || rs->items[j].generation != d->generation ||
            rs->items[j].version > d->max_version)
            continue;
        n->stats.rumor_feedback++;
        if (loses_interest(n, &rs->items[j]))
            drop(rs, (uint32_t)j);
    }
}
