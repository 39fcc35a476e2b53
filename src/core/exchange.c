/*
 * exchange.c -- the digest exchange: SYN / ACK / ACK2 (push-pull), SYN / ACK
 * (pull) and PUSH, each within one MTU.
 *
 * A SYN carries the sender's table hash, its bucket summaries and as many
 * digests as fit: first the endpoints that changed most recently, then a
 * window that rotates over the whole table.  The receiver answers the digests
 * (deltas where it is newer, requests where it is older) and, where a bucket
 * summary differs, lists its own digests of that bucket, completely when they
 * fit.  The initiator answers the listing in ACK2.  Equal table hashes cost
 * one small SYN and a one-line ACK.  See docs/ARCHITECTURE.md.
 */
#include <stdlib.h>
#include <string.h>

#include "core/node.h"
#include "core/rumor.h"

/* ---- delta planning ------------------------------------------------------- */

typedef struct delta_plan {
    uint32_t idx;           /* endpoint */
    uint64_t from_version;  /* what the peer has in our generation (0: none) */
    uint64_t staleness;     /* how far behind the peer is: larger first */
} delta_plan;

typedef struct plan_list plan_list;
struct plan_list {
    uint32_t n;
    uint32_t cap;
    uint32_t epoch;         /* endpoint.planned == epoch: already in items */
    delta_plan items[];
};

static plan_list *plan_start(gossip_node *n)
{
    plan_list *p = n->plan;
    p->n = 0;
    if (++p->epoch == 0) {
        for (uint32_t i = 0; i < n->tbl.n; i++)
            table_ep(&n->tbl, i)->planned = 0;
        p->epoch = 1;
    }
    return p;
}

/* Versions the peer is missing; an unknown endpoint or an older generation
 * counts as missing everything and sorts first. */
static uint64_t staleness_of(const endpoint *ep, uint64_t from_version)
{
    return from_version == 0 ? UINT64_MAX / 2 + ep->max_version
                             : ep->max_version - from_version;
}

static void plan_add(plan_list *p, endpoint *ep, uint32_t idx, uint64_t peer_generation,
                     uint64_t peer_version)
{
    if (p->n == p->cap || ep->planned == p->epoch)
        return; /* full (the rest waits for a later round), or planned already */
    ep->planned = p->epoch;
    uint64_t from = peer_generation == ep->generation ? peer_version : 0;
    p->items[p->n].idx = idx;
    p->items[p->n].from_version = from;
    p->items[p->n].staleness = staleness_of(ep, from);
    p->n++;
}

static int by_staleness_desc(const void *a, const void *b)
{
    const delta_plan *x = a, *y = b;
    if (x->staleness != y->staleness)
        return x->staleness < y->staleness ? 1 : -1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Writes as much of one delta as fits, cutting only at a version boundary so
 * that the receiver's max_version stays an honest "has everything up to".
 * Returns 0 when something was written. */
int exchange_write_delta(wire_writer *w, const endpoint *ep, uint64_t from)
{
    uint32_t first = 0;
    while (first < ep->n_kvs && ep->kvs[first].version <= from)
        first++;
    uint64_t hb = ep->heartbeat > from ? ep->heartbeat : 0;
    size_t room = wire_room(w);
    size_t head = wire_delta_head_size(ep->name_len, ep->generation, from, hb, ep->incarnation);
    if (head > room)
        return GOSSIP_ERR_NO_SPACE;
    size_t used = head;
    uint32_t last = first;
    while (last < ep->n_kvs) {
        const gossip_kv *kv = &ep->kvs[last];
        size_t sz = wire_kv_size(kv->key, strlen(kv->key), kv->value_len, kv->version,
                                 kv->deleted);
        if (used + sz > room)
            break;
        used += sz;
        last++;
    }
    if (last < ep->n_kvs && hb > ep->kvs[last].version)
        hb = 0; /* the cut is below the heartbeat: it comes with the rest */
    if (last == first && hb == 0)
        return GOSSIP_ERR_NO_SPACE;
    if (wire_open_delta(w, ep_name(ep), ep->name_len, ep->generation, from, hb, ep->incarnation,
                        ep->status))
        return GOSSIP_ERR_NO_SPACE;
    for (uint32_t i = first; i < last; i++) {
        const gossip_kv *kv = &ep->kvs[i];
        /* sizes were planned above; a failure here would be a bug */
        (void)wire_try_kv(w, kv->key, strlen(kv->key), kv_value(kv), kv->value_len, kv->version,
                          kv->deleted);
    }
    wire_close_delta(w);
    return 0;
}


/* Writes the planned deltas, most out-of-date first, as the last section of
 * the message in `w`.  When they overflow it, the full datagram is sent to
 * `addr` and the rest continues in another of the same type, up to
 * `burst_datagrams` in all: a node that is far behind (a newcomer, a healed
 * partition) catches up several times faster, while a cluster in sync never
 * needs more than one.  The caller sends what is left in `w`. */
static void write_deltas(gossip_node *n, wire_writer *w, plan_list *p, const char *addr)
{
    if (p->n == 0)
        return;
    qsort(p->items, p->n, sizeof p->items[0], by_staleness_desc);
    if (wire_open_array(w, WK_DELTAS))
        return;
    uint8_t type = w->buf[3];
    uint32_t datagrams = 1;
    for (uint32_t i = 0; i < p->n; i++) {
        endpoint *ep = table_ep(&n->tbl, p->items[i].idx);
        if (exchange_write_delta(w, ep, p->items[i].from_version) == 0)
            continue;
        if (datagrams > 1 && wire_array_count(w) == 0)
            continue; /* too big even for an empty datagram: skipped */
        if (datagrams == n->cfg.burst_datagrams)
            break;    /* the rest waits for a later round */
        wire_close_array(w);
        node_send(n, addr, wire_finish(w), type);
        node_begin_msg(n, w, type, 0, true);
        if (wire_open_array(w, WK_DELTAS))
            return;
        datagrams++;
        (void)exchange_write_delta(w, ep, p->items[i].from_version);
    }
    wire_close_array(w);
}

/* ---- message frame -------------------------------------------------------- */

static void new_epoch(gossip_node *n)
{
    if (++n->epoch == 0) { /* wrapped: clear every mark once */
        for (uint32_t i = 0; i < n->tbl.n; i++)
            table_ep(&n->tbl, i)->mark = 0;
        n->epoch = 1;
    }
}

static int try_digest_of(wire_writer *w, const endpoint *ep)
{
    return wire_try_digest_rec(w, ep_name(ep), ep->name_len, ep->generation, ep->max_version,
                               ep->incarnation, ep->status);
}

/* ---- initiating a round ---------------------------------------------------- */

/* How many rounds a change stays "recent": long enough for push-pull to
 * carry it to everyone (about log3 N + log2 ln N rounds), with margin. */
static uint64_t recent_rounds(const table *t)
{
    uint64_t r = 4;
    for (uint64_t m = t->n; m > 1; m >>= 1)
        r += 2;
    return r;
}

typedef int (*put_endpoint_fn)(wire_writer *w, const endpoint *ep);

static int put_digest(wire_writer *w, const endpoint *ep) { return try_digest_of(w, ep); }
static int put_full_delta(wire_writer *w, const endpoint *ep)
{
    return exchange_write_delta(w, ep, 0);
}

/* What a SYN lists and a PUSH sends, each endpoint once per message (marked
 * with a fresh epoch): the endpoints changed within `horizon` rounds, newest
 * first, then up to `window` more from a cursor that rotates over the whole
 * table, so every endpoint comes round even when nothing changes.  Stops at
 * the first one that does not fit. */
static void put_recent_then_window(gossip_node *n, wire_writer *w, put_endpoint_fn put,
                                   uint64_t horizon, uint32_t window)
{
    table *t = &n->tbl;
    for (uint32_t k = 1; k <= TABLE_RECENT; k++) {
        uint32_t slot = (t->recent_pos + TABLE_RECENT - k) % TABLE_RECENT;
        uint32_t idx = t->recent[slot];
        if (idx == TABLE_NONE || t->round - t->recent_round[slot] > horizon)
            break;
        if (idx >= t->n)
            continue; /* forgotten since */
        endpoint *ep = table_ep(t, idx);
        if (ep->mark == n->epoch || ep->change_seq != t->recent_seq[slot])
            continue; /* listed already, or changed again since */
        if (put(w, ep))
            return;
        ep->mark = n->epoch;
    }
    uint32_t scanned = 0, added = 0;
    while (scanned < t->n && added < window) {
        endpoint *ep = table_ep(t, (n->cursor + scanned) % t->n);
        if (ep->mark != n->epoch) {
            if (put(w, ep))
                break;
            ep->mark = n->epoch;
            added++;
        }
        scanned++;
    }
    n->cursor = t->n ? (n->cursor + scanned) % t->n : 0;
}

/* Digests for a SYN: ourselves, then the recent changes and the window. */
static void write_syn_digests(gossip_node *n, wire_writer *w)
{
    new_epoch(n);
    if (wire_open_array(w, WK_DIGESTS))
        return;
    endpoint *self = table_ep(&n->tbl, n->self);
    if (try_digest_of(w, self) == 0)
        self->mark = n->epoch;
    put_recent_then_window(n, w, put_digest, recent_rounds(&n->tbl), n->cfg.syn_window);
    wire_close_array(w);
}

/* `to`: the receiver's endpoint (TABLE_NONE: not known by name), whose own
 * news goes first -- the buddy system for every datagram, not only probes:
 * a member falsely suspected hears of it from whoever talks to it next. */
static void send_syn(gossip_node *n, const char *addr, uint32_t to)
{
    wire_writer w;
    uint8_t flags = n->cfg.mode == GOSSIP_MODE_PULL ? WIRE_FLAG_PULL_ONLY : 0;
    node_begin_msg(n, &w, GOSSIP_MSG_SYN, flags, true);
    uint32_t bits = table_bucket_bits_for(n->tbl.n);
    uint32_t sums[TABLE_BUCKETS];
    table_bucket_summaries(&n->tbl, bits, sums);
    (void)wire_try_uint(&w, WK_MEMBERS, n->tbl.n);
    (void)wire_try_buckets(&w, bits, sums);
    members_write_news(n, &w, to, n->cfg.mtu / 4);
    write_syn_digests(n, &w);
    node_send(n, addr, wire_finish(&w), GOSSIP_MSG_SYN);
}

/* Push mode: full deltas of the recent changes and of the window, unasked,
 * as many as fit. */
static void send_push(gossip_node *n, const char *addr)
{
    wire_writer w;
    node_begin_msg(n, &w, GOSSIP_MSG_PUSH, 0, true);
    if (wire_open_array(&w, WK_DELTAS))
        return;
    new_epoch(n);
    put_recent_then_window(n, &w, put_full_delta, UINT64_MAX, UINT32_MAX);
    wire_close_array(&w);
    node_send(n, addr, wire_finish(&w), GOSSIP_MSG_PUSH);
}

/* Picks up to `k` distinct random live members other than ourselves;
 * returns how many. */
uint32_t exchange_pick_peers(gossip_node *n, uint32_t k, uint32_t *out)
{
    uint32_t others = n->tbl.n - 1, got = 0;
    if (k > others)
        k = others;
    for (uint32_t tries = 0; got < k && tries < 4 * k + 8; tries++) {
        uint32_t idx = (uint32_t)gossip_rng_below(&n->rng, n->tbl.n);
        if (idx == n->self || !members_is_live(n, idx))
            continue;
        bool dup = false;
        for (uint32_t j = 0; j < got; j++)
            dup |= out[j] == idx;
        if (!dup)
            out[got++] = idx;
    }
    return got;
}

static void gossip_to(gossip_node *n, const char *addr, uint32_t to)
{
    if (n->cfg.mode == GOSSIP_MODE_PUSH)
        send_push(n, addr);
    else
        send_syn(n, addr, to);
}

#define MAX_FANOUT 64

void exchange_contact(gossip_node *n, const char *addr)
{
    gossip_to(n, addr, TABLE_NONE);
}

static bool is_seed(const gossip_node *n, const char *addr)
{
    for (uint32_t i = 0; i < n->n_seeds; i++)
        if (strcmp(n->seeds[i], addr) == 0)
            return true;
    return false;
}

/* A node that knows nobody knocks on a seed every gossip period; after
 * SEED_RETRY_PATIENCE unanswered knocks it backs off, doubling the wait up
 * to SEED_RETRY_MAX_MS, and keeps knocking at that rate forever, so that a
 * lossy start still joins quickly and a partition still heals by itself. */
#define SEED_RETRY_PATIENCE 8
#define SEED_RETRY_MAX_MS 10000

/* Cassandra's rule: besides the random peers, gossip to a random seed when
 * we know nobody else (with backoff), and otherwise with probability
 * seeds / members when no seed was among this round's peers.  Without it,
 * nodes that met each other before they reached a seed form islands that
 * never merge. */
static void maybe_gossip_to_seed(gossip_node *n, bool seed_contacted, uint32_t sent)
{
    if (n->n_seeds == 0 || seed_contacted)
        return;
    if (sent > 0) {
        n->seed_knocks = 0;
        if (gossip_rng_below(&n->rng, n->tbl.n) >= n->n_seeds)
            return;
    } else {
        if (n->now < n->seed_next_ms)
            return;
        uint64_t wait = n->cfg.gossip_interval_ms;
        for (uint32_t k = SEED_RETRY_PATIENCE; k < n->seed_knocks && wait < SEED_RETRY_MAX_MS; k++)
            wait *= 2;
        n->seed_next_ms = n->now + (wait < SEED_RETRY_MAX_MS ? wait : SEED_RETRY_MAX_MS);
        n->seed_knocks++;
    }
    const char *seed = n->seeds[gossip_rng_below(&n->rng, n->n_seeds)];
    if (strcmp(seed, n->cfg.addr) != 0) {
        n->stats.seed_attempts++;
        gossip_to(n, seed, TABLE_NONE);
    }
}

/* Cassandra's other rule: with probability dead / (live + 1), also gossip
 * to a random member we hold dead, so that one that came back (or the far
 * side of a healed partition) learns of it and refutes. */
static void maybe_gossip_to_dead(gossip_node *n)
{
    uint32_t dead = n->ms.count[GOSSIP_STATUS_DEAD];
    uint32_t live = n->ms.count[GOSSIP_STATUS_ALIVE] + n->ms.count[GOSSIP_STATUS_SUSPECT];
    if (dead == 0 || gossip_rng_below(&n->rng, live + 1) >= dead)
        return;
    char addr[GOSSIP_MAX_ADDR + 1];
    for (int tries = 0; tries < 8; tries++) {
        uint32_t idx = (uint32_t)gossip_rng_below(&n->rng, n->tbl.n);
        if (table_ep(&n->tbl, idx)->status == GOSSIP_STATUS_DEAD &&
            node_member_addr(n, idx, addr, sizeof addr)) {
            gossip_to(n, addr, idx);
            return;
        }
    }
}

void exchange_run_round(gossip_node *n)
{
    uint32_t peers[MAX_FANOUT];
    uint32_t k = n->cfg.fanout < MAX_FANOUT ? n->cfg.fanout : MAX_FANOUT;
    uint32_t got = exchange_pick_peers(n, k, peers);
    char addr[GOSSIP_MAX_ADDR + 1];
    uint32_t sent = 0;
    bool seed_contacted = false;
    for (uint32_t i = 0; i < got; i++) {
        if (node_member_addr(n, peers[i], addr, sizeof addr)) {
            gossip_to(n, addr, peers[i]);
            seed_contacted |= is_seed(n, addr);
            sent++;
        }
    }
    maybe_gossip_to_seed(n, seed_contacted, sent);
    maybe_gossip_to_dead(n);
    rumor_round(n);
}

/* ---- answering ------------------------------------------------------------ */

static int write_requests(wire_writer *w, const wire_digest *reqs, uint32_t n_reqs)
{
    if (n_reqs == 0)
        return 0;
    if (wire_open_array(w, WK_REQUESTS))
        return GOSSIP_ERR_NO_SPACE;
    for (uint32_t i = 0; i < n_reqs; i++) {
        if (wire_try_digest(w, reqs[i].name.ptr, reqs[i].name.len, reqs[i].generation,
                            reqs[i].max_version))
            break;
    }
    wire_close_array(w);
    return 0;
}

/* Compares one digest with our table: plans a delta where we are newer,
 * a request where the peer is.  Marks the endpoint as seen this epoch. */
static void compare_digest(gossip_node *n, const wire_digest *d, plan_list *deltas,
                           wire_digest *reqs, uint32_t *n_reqs, bool may_request)
{
    uint32_t idx = table_find(&n->tbl, d->name.ptr, d->name.len);
    if (idx == TABLE_NONE) {
        if (may_request && *n_reqs < n->rx->cap_digests &&
            !members_quarantined(n, d->name.ptr, d->name.len, d->generation, n->now)) {
            reqs[*n_reqs] = *d;
            reqs[*n_reqs].generation = 0;
            reqs[*n_reqs].max_version = 0;
            (*n_reqs)++;
        }
        return;
    }
    endpoint *ep = table_ep(&n->tbl, idx);
    ep->mark = n->epoch;
    if (d->has_record)
        members_merge_record(n, idx, d->generation, d->incarnation, d->status, "", 0, n->now);
    bool ours_newer = ep->generation > d->generation ||
                      (ep->generation == d->generation && ep->max_version > d->max_version);
    bool theirs_newer = d->generation > ep->generation ||
                        (d->generation == ep->generation && d->max_version > ep->max_version);
    if (ours_newer && deltas)
        plan_add(deltas, ep, idx, d->generation, d->max_version);
    else if (theirs_newer && may_request && idx != n->self && *n_reqs < n->rx->cap_digests) {
        reqs[*n_reqs] = *d;
        reqs[*n_reqs].generation = ep->generation;
        reqs[*n_reqs].max_version = ep->max_version;
        (*n_reqs)++;
    }
}

/* Where the peer's bucket summary differs from ours, list our digests of
 * that bucket: all of them when they fit (and say so in WK_LISTED), else a
 * random slice of those the peer did not mention. */
static void write_bucket_listing(gossip_node *n, wire_writer *w, const wire_msg *syn)
{
    table *t = &n->tbl;
    uint32_t bits = syn->bucket_bits, nb = syn->n_buckets;
    if (nb == 0 || !syn->has_table_hash || syn->table_hash == t->hash)
        return;
    uint32_t ours[TABLE_BUCKETS];
    table_bucket_summaries(t, bits, ours);
    uint32_t per = TABLE_BUCKETS >> bits;
    uint32_t listed[WIRE_MAX_BUCKETS], n_listed = 0;
    uint32_t start = (uint32_t)gossip_rng_below(&n->rng, nb);
    if (wire_open_array(w, WK_DIGESTS))
        return;
    for (uint32_t k = 0; k < nb && wire_room(w) > 32; k++) {
        uint32_t b = (start + k) % nb;
        if (ours[b] == syn->buckets[b])
            continue;
        uint32_t in_bucket = 0;
        for (uint32_t f = b * per; f < (b + 1) * per; f++)
            in_bucket += t->bucket_size[f];
        size_t mark = wire_mark(w);
        uint32_t count_before = wire_array_count(w);
        bool complete = true;
        for (uint32_t f = b * per; f < (b + 1) * per && complete; f++) {
            for (uint32_t i = t->bucket_head[f]; i != TABLE_NONE; i = table_ep(t, i)->bucket_next) {
                if (try_digest_of(w, table_ep(t, i))) {
                    complete = false;
                    break;
                }
            }
        }
        if (complete) {
            listed[n_listed++] = b;
            continue;
        }
        /* Too big to list whole: undo, then list a random slice of what the
         * SYN did not mention. */
        w->len = mark;
        w->arr_count = count_before;
        uint32_t skip = in_bucket ? (uint32_t)gossip_rng_below(&n->rng, in_bucket) : 0, seen = 0;
        for (uint32_t pass = 0; pass < 2; pass++) {
            for (uint32_t f = b * per; f < (b + 1) * per; f++) {
                for (uint32_t i = t->bucket_head[f]; i != TABLE_NONE; i = table_ep(t, i)->bucket_next) {
                    bool in_slice = pass == 0 ? seen++ >= skip : seen++ < in_bucket + skip;
                    if (!in_slice || table_ep(t, i)->mark == n->epoch)
                        continue;
                    if (try_digest_of(w, table_ep(t, i)))
                        goto full;
                    table_ep(t, i)->mark = n->epoch;
                }
            }
        }
    full:
        break; /* the datagram is full */
    }
    wire_close_array(w);
    /* the resolution the listing refers to: ours may change before the
     * initiator reads it, and so may the initiator's */
    if (n_listed && wire_try_uint(w, WK_BUCKET_BITS, bits) == 0 &&
        wire_open_array(w, WK_LISTED) == 0) {
        for (uint32_t i = 0; i < n_listed; i++)
            (void)wire_try_array_uint(w, listed[i]);
        wire_close_array(w);
    }
}

/* node_begin_msg() writes from, addr and table hash. */
#define ACK_HEAD_FIELDS 3

static void on_syn(gossip_node *n, const char *from_addr, const wire_msg *m)
{
    static const uint8_t no_flags = 0;
    bool pull_only = (m->flags & WIRE_FLAG_PULL_ONLY) != 0;
    plan_list *deltas = plan_start(n);
    wire_digest *reqs = n->reqs;
    uint32_t n_reqs = 0;
    new_epoch(n);
    if (m->has_table_hash && m->table_hash == n->tbl.hash)
        n->stats.syn_in_sync++;
    for (uint32_t i = 0; i < m->n_digests; i++) {
        const wire_digest *d = &m->digests[i];
        bool about_sender = d->name.len == m->from.len &&
                            memcmp(d->name.ptr, m->from.ptr, d->name.len) == 0;
        compare_digest(n, d, deltas, reqs, &n_reqs, !pull_only || about_sender);
    }

    wire_writer w;
    node_begin_msg(n, &w, GOSSIP_MSG_ACK, no_flags, true);
    members_write_news(n, &w, table_find(&n->tbl, m->from.ptr, m->from.len), n->cfg.mtu / 4);
    write_requests(&w, reqs, n_reqs);
    write_bucket_listing(n, &w, m);
    write_deltas(n, &w, deltas, from_addr);
    if (w.map_count > ACK_HEAD_FIELDS) /* nothing to say: in sync, stay quiet */
        node_send(n, from_addr, wire_finish(&w), GOSSIP_MSG_ACK);
}

/* Plans deltas for a message's requests.  A pull-only node answers for its
 * own endpoint alone: it is the authority on itself, and without that a
 * pull cluster could never learn a newcomer. */
static void plan_requested(gossip_node *n, const wire_msg *m, plan_list *deltas, bool only_self)
{
    for (uint32_t i = 0; i < m->n_requests; i++) {
        const wire_digest *r = &m->requests[i];
        uint32_t idx = table_find(&n->tbl, r->name.ptr, r->name.len);
        if (idx == TABLE_NONE || (only_self && idx != n->self))
            continue;
        endpoint *ep = table_ep(&n->tbl, idx);
        if (ep->generation > r->generation ||
            (ep->generation == r->generation && ep->max_version > r->max_version))
            plan_add(deltas, ep, idx, r->generation, r->max_version);
    }
}

/* Our endpoints in buckets the peer listed completely that the listing did
 * not mention: the peer lacks them. */
static void plan_missing_from_listing(gossip_node *n, const wire_msg *m, plan_list *deltas)
{
    table *t = &n->tbl;
    uint32_t bits = m->bucket_bits; /* the resolution the peer listed at */
    uint32_t per = TABLE_BUCKETS >> bits;
    for (uint32_t k = 0; k < m->n_listed; k++) {
        uint32_t b = m->listed[k];
        if (b >= (1u << bits))
            continue; /* not a bucket at that resolution */
        for (uint32_t f = b * per; f < (b + 1) * per; f++)
            for (uint32_t i = t->bucket_head[f]; i != TABLE_NONE; i = table_ep(t, i)->bucket_next)
                if (table_ep(t, i)->mark != n->epoch)
                    plan_add(deltas, table_ep(t, i), i, 0, 0);
    }
}

static void on_ack(gossip_node *n, const char *from_addr, const wire_msg *m)
{
    bool push = n->cfg.mode != GOSSIP_MODE_PULL;
    for (uint32_t i = 0; i < m->n_deltas; i++)
        node_apply_delta(n, m, &m->deltas[i]);
    plan_list *deltas = plan_start(n);
    plan_requested(n, m, deltas, !push);
    wire_digest *reqs = n->reqs;
    uint32_t n_reqs = 0;
    new_epoch(n);
    for (uint32_t i = 0; i < m->n_digests; i++)
        compare_digest(n, &m->digests[i], push ? deltas : NULL, reqs, &n_reqs, true);
    if (push)
        plan_missing_from_listing(n, m, deltas);
    if (deltas->n || n_reqs) {
        wire_writer w;
        node_begin_msg(n, &w, GOSSIP_MSG_ACK2, 0, true);
        members_write_news(n, &w, table_find(&n->tbl, m->from.ptr, m->from.len),
                           n->cfg.mtu / 4);
        write_requests(&w, reqs, n_reqs);
        write_deltas(n, &w, deltas, from_addr);
        node_send(n, from_addr, wire_finish(&w), GOSSIP_MSG_ACK2);
    }
}

static void on_ack2(gossip_node *n, const char *from_addr, const wire_msg *m)
{
    for (uint32_t i = 0; i < m->n_deltas; i++)
        node_apply_delta(n, m, &m->deltas[i]);
    if (m->n_requests == 0)
        return;
    /* The answer to an ACK2's requests carries deltas only, which ends the
     * exchange: at most four datagrams per round. */
    plan_list *deltas = plan_start(n);
    plan_requested(n, m, deltas, false);
    if (deltas->n) {
        wire_writer w;
        node_begin_msg(n, &w, GOSSIP_MSG_ACK2, 0, true);
        write_deltas(n, &w, deltas, from_addr);
        node_send(n, from_addr, wire_finish(&w), GOSSIP_MSG_ACK2);
    }
}

int exchange_on_msg(gossip_node *n, const char *from_addr, const wire_msg *m)
{
    switch (m->type) {
    case GOSSIP_MSG_SYN:
        /* Deltas in a SYN are not part of the protocol; ignore them. */
        on_syn(n, from_addr, m);
        return 0;
    case GOSSIP_MSG_ACK:
        on_ack(n, from_addr, m);
        return 0;
    case GOSSIP_MSG_ACK2:
        on_ack2(n, from_addr, m);
        return 0;
    case GOSSIP_MSG_PUSH:
        if (m->flags & WIRE_FLAG_FEEDBACK) {
            rumor_on_feedback(n, m);
            return 0;
        }
        if (m->flags & WIRE_FLAG_RUMOR) {
            rumor_on_push(n, from_addr, m);
            rumor_flush(n); /* eager forwarding of what was new */
            return 0;
        }
        for (uint32_t i = 0; i < m->n_deltas; i++)
            node_apply_delta(n, m, &m->deltas[i]);
        return 0;
    default:
        return GOSSIP_ERR_BAD_TYPE;
    }
}

size_t exchange_plan_size(uint32_t mtu)
{
    return sizeof(plan_list) + (mtu / WIRE_MIN_DIGEST) * sizeof(delta_plan);
}

void exchange_plan_init(struct plan_list *p, uint32_t mtu)
{
    memset(p, 0, sizeof *p);
    p->cap = mtu / WIRE_MIN_DIGEST;
}
