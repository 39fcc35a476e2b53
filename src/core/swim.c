/* swim.c -- SWIM probing (Das et al. 2002) with Lifeguard's local health
 * (Dadgar et al. 2018): one probe per interval in randomised round-robin
 * order; no ack by the probe timeout -> ask indirect_checks members to probe
 * for us; still nothing by the end of the interval -> suspect.  Relays
 * answer a failed relay with a nack, so a prober that misses nacks learns
 * that its own network, not the target, is the problem. */
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/members.h"
#include "core/node.h"

/* Lifeguard scales probe interval and timeout by (awareness + 1). */
static uint64_t scaled(const gossip_node *n, uint32_t ms)
{
    return (uint64_t)ms * (n->ms.awareness + 1);
}

static bool probe_candidate(const gossip_node *n, uint32_t idx, char *addr, size_t cap)
{
    return idx != n->self && idx < n->tbl.n && members_is_live(n, idx) &&
           node_member_addr(n, idx, addr, cap);
}

/* Randomised round-robin: every member once per cycle, in a fresh random
 * order each cycle (SWIM section 4.3), so the worst-case time to first
 * probe a failed member is bounded. */
static int rebuild_order(gossip_node *n)
{
    members *ms = &n->ms;
    if (ms->order_cap < n->tbl.n) {
        uint32_t cap = n->tbl.n * 2;
        uint32_t *order = ga_realloc(n->alloc, ms->order, cap * sizeof *order);
        if (!order)
            return GOSSIP_ERR_NOMEM;
        ms->order = order;
        ms->order_cap = cap;
    }
    for (uint32_t i = 0; i < n->tbl.n; i++)
        ms->order[i] = i;
    for (uint32_t i = n->tbl.n; i > 1; i--) {
        uint32_t j = (uint32_t)gossip_rng_below(&n->rng, i);
        uint32_t t = ms->order[i - 1];
        ms->order[i - 1] = ms->order[j];
        ms->order[j] = t;
    }
    ms->order_len = n->tbl.n;
    ms->order_pos = 0;
    return 0;
}

void members_on_new(gossip_node *n, uint32_t idx)
{
    members *ms = &n->ms;
    ms->live_epoch++; /* it may be our new ring successor */
    if (ms->order_len == 0 || ms->order_pos >= ms->order_len)
        return; /* the next cycle's shuffle takes it in */
    if (ms->order_len == ms->order_cap) {
        uint32_t cap = ms->order_cap * 2;
        uint32_t *order = ga_realloc(n->alloc, ms->order, cap * sizeof *order);
        if (!order)
            return;
        ms->order = order;
        ms->order_cap = cap;
    }
    /* a random place among the probes still to come this cycle */
    uint32_t at = ms->order_pos +
                  (uint32_t)gossip_rng_below(&n->rng, ms->order_len - ms->order_pos + 1);
    ms->order[ms->order_len++] = ms->order[at];
    ms->order[at] = idx;
}

static uint64_t ring_position(const endpoint *ep)
{
    return gossip_hash_bytes(ep_name(ep), ep->name_len, RING_HASH_SEED);
}

/* Our ring successor: the live member whose ring position follows ours most
 * closely (wrapping round).  Found again only when the set of live members
 * changed (alive <-> suspect does not change it). */
static uint32_t ring_successor(gossip_node *n)
{
    members *ms = &n->ms;
    if (ms->ring_epoch == ms->live_epoch)
        return ms->ring_succ;
    uint64_t me = ring_position(table_ep(&n->tbl, n->self)), best = UINT64_MAX;
    uint32_t succ = TABLE_NONE;
    for (uint32_t idx = 0; idx < n->tbl.n; idx++) {
        if (idx == n->self || !members_is_live(n, idx))
            continue;
        uint64_t d = ring_position(table_ep(&n->tbl, idx)) - me; /* wraps: distance ahead */
        if (d < best || succ == TABLE_NONE) {
            best = d;
            succ = idx;
        }
    }
    ms->ring_succ = succ;
    ms->ring_epoch = ms->live_epoch;
    return succ;
}

static uint32_t next_target(gossip_node *n, char *addr, size_t cap)
{
    members *ms = &n->ms;
    uint32_t urgent = ms->priority_target;
    ms->priority_target = UINT32_MAX;
    if (urgent < n->tbl.n && probe_candidate(n, urgent, addr, cap))
        return urgent;
    if (++ms->probe_turn % PROBE_RING_EVERY == 0) {
        uint32_t succ = ring_successor(n);
        if (succ != TABLE_NONE && probe_candidate(n, succ, addr, cap))
            return succ;
    }
    for (uint32_t tries = 0; tries <= n->tbl.n; tries++) {
        if (ms->order_pos >= ms->order_len && rebuild_order(n))
            return TABLE_NONE;
        uint32_t idx = ms->order[ms->order_pos++];
        if (probe_candidate(n, idx, addr, cap))
            return idx;
    }
    return TABLE_NONE;
}

/* `target` may be TABLE_NONE: a relay probes members it has not heard of
 * yet (a newcomer is known to the prober before the gossip reaches us). */
static void send_ping(gossip_node *n, const char *addr, uint64_t seq, const char *name,
                      size_t name_len, uint32_t target)
{
    wire_writer w;
    node_begin_msg(n, &w, GOSSIP_MSG_PING, 0, false);
    (void)wire_try_uint(&w, WK_SEQ, seq);
    (void)wire_try_str(&w, WK_TARGET, name, name_len);
    members_write_news(n, &w, target, n->cfg.mtu);
    node_send(n, addr, wire_finish(&w), GOSSIP_MSG_PING);
}

static void start_probe(gossip_node *n, uint64_t now_ms)
{
    char addr[GOSSIP_MAX_ADDR + 1];
    probe *pr = &n->ms.pr;
    uint32_t target = next_target(n, addr, sizeof addr);
    if (target == TABLE_NONE)
        return;
    memset(pr, 0, sizeof *pr);
    pr->active = true;
    pr->target = target;
    pr->seq = ++n->ms.next_seq;
    pr->start_ms = now_ms;
    pr->indirect_at_ms = now_ms + scaled(n, n->cfg.probe_timeout_ms);
    pr->end_ms = now_ms + scaled(n, n->cfg.probe_interval_ms);
    const endpoint *t = table_ep(&n->tbl, target);
    send_ping(n, addr, pr->seq, ep_name(t), t->name_len, target);
    n->stats.probes++;
}

/* No direct ack in time: ask up to indirect_checks other live members. */
static void send_indirect(gossip_node *n)
{
    probe *pr = &n->ms.pr;
    char target_addr[GOSSIP_MAX_ADDR + 1], helper_addr[GOSSIP_MAX_ADDR + 1];
    pr->indirect_sent = true;
    if (!node_member_addr(n, pr->target, target_addr, sizeof target_addr))
        return;
    const endpoint *t = table_ep(&n->tbl, pr->target);
    uint32_t want = n->cfg.indirect_checks, asked[PROBE_HELPERS_MAX], got = 0;
    if (want > PROBE_HELPERS_MAX)
        want = PROBE_HELPERS_MAX;
    for (uint32_t tries = 0; got < want && tries < 4 * want + 8; tries++) {
        uint32_t idx = (uint32_t)gossip_rng_below(&n->rng, n->tbl.n);
        bool dup = idx == pr->target;
        for (uint32_t j = 0; j < got; j++)
            dup |= asked[j] == idx;
        if (dup || table_ep(&n->tbl, idx)->status != GOSSIP_STATUS_ALIVE ||
            !probe_candidate(n, idx, helper_addr, sizeof helper_addr))
            continue;
        asked[got++] = idx;
        wire_writer w;
        node_begin_msg(n, &w, GOSSIP_MSG_PING_REQ, 0, false);
        (void)wire_try_uint(&w, WK_SEQ, pr->seq);
        (void)wire_try_str(&w, WK_TARGET, ep_name(t), t->name_len);
        (void)wire_try_str(&w, WK_TARGET_ADDR, target_addr, strlen(target_addr));
        members_write_news(n, &w, pr->target, n->cfg.mtu / 2);
        node_send(n, helper_addr, wire_finish(&w), GOSSIP_MSG_PING_REQ);
        n->stats.indirect_probes++;
    }
    pr->nacks_expected = got;
}

/* We have just begun to suspect `idx`: tell it at once, in a ping that
 * carries the news about it first (its ack is not waited for), instead of
 * leaving it to the next member that happens to talk to it.  A live member
 * refutes within a round trip; without this, one suspected a few hundred
 * milliseconds before a 2 s stall heard of it only after the stall, and
 * its refutation came too late for some (fd-1000 seed 2: n345 suspected at
 * 42.72 s, stalled from 43.33 s to 45.33 s, declared dead at 45.87 s). */
static void tell_suspect(gossip_node *n, uint32_t idx)
{
    char addr[GOSSIP_MAX_ADDR + 1];
    if (!node_member_addr(n, idx, addr, sizeof addr))
        return;
    const endpoint *t = table_ep(&n->tbl, idx);
    send_ping(n, addr, ++n->ms.next_seq, ep_name(t), t->name_len, idx);
}

static void finish_probe(gossip_node *n, uint64_t now_ms)
{
    probe *pr = &n->ms.pr;
    members *ms = &n->ms;
    pr->active = false;
    /* A run of inconclusive probes is "in a row": anything but another
     * inconclusive probe of the same member ends it (see below). */
    if (ms->inconclusive_target != pr->target)
        ms->inconclusive_run = 0;
    bool inconclusive = !pr->acked && pr->nacks_expected > 0 && pr->nacks == 0;
    if (!inconclusive) {
        ms->inconclusive_target = UINT32_MAX;
        ms->inconclusive_run = 0;
    }
    if (pr->acked) {
        if (ms->awareness > 0)
            ms->awareness--;
        monitor_adopt(n, pr->target, now_ms);
        return;
    }
    n->stats.probes_failed++;
    if (monitor_vouches(n, pr->target, now_ms)) {
        ms->phi_deferred++; /* heard from it within the last interval: likely loss */
        return;
    }
    /* Lifeguard: helpers that never even sent a nack point at our network */
    if (pr->nacks < pr->nacks_expected && ms->awareness + 1 < n->cfg.awareness_max)
        ms->awareness++;
    /* Only a helper's nack says that someone besides us could not reach the
     * target.  When we asked helpers and not one answered, every indirect
     * path failed as well: that is evidence about the network around us (or
     * between us and them: a partition, where half the helpers are out of
     * reach), not about the target, so we accuse nobody this time and probe
     * the same target again next.  A dead or stalled target still draws
     * nacks -- unless its helpers are gone too (a mass failure, a small
     * cluster losing all but us): so only inconclusive_retries probes in a
     * row may come out that way; the next one counts as failed. */
    if (inconclusive && ms->inconclusive_run < n->cfg.inconclusive_retries) {
        n->stats.probes_inconclusive++;
        ms->inconclusive_target = pr->target;
        ms->inconclusive_run++;
        ms->priority_target = pr->target; /* the next probe, at once, decides */
        return;
    }
    ms->inconclusive_target = UINT32_MAX;
    ms->inconclusive_run = 0;
    if (pr->target < n->tbl.n && members_is_live(n, pr->target)) {
        bool was_alive = table_ep(&n->tbl, pr->target)->status == GOSSIP_STATUS_ALIVE;
        members_suspect(n, pr->target, now_ms);
        if (was_alive)
            tell_suspect(n, pr->target);
    }
}

static void send_ack(gossip_node *n, const char *addr, uint64_t seq, uint8_t flags,
                     uint32_t about)
{
    wire_writer w;
    node_begin_msg(n, &w, GOSSIP_MSG_PING_ACK, flags, false);
    (void)wire_try_uint(&w, WK_SEQ, seq);
    members_write_news(n, &w, about, n->cfg.mtu / 2);
    node_send(n, addr, wire_finish(&w), GOSSIP_MSG_PING_ACK);
}

static void expire_relays(gossip_node *n, uint64_t now_ms)
{
    for (uint32_t i = 0; i < RELAYS_MAX; i++) {
        relay *r = &n->ms.relays[i];
        if (r->used && now_ms >= r->deadline_ms) {
            r->used = false;
            send_ack(n, r->requester, r->their_seq, WIRE_FLAG_NACK, TABLE_NONE);
        }
    }
}

void swim_tick(gossip_node *n, uint64_t now_ms)
{
    members *ms = &n->ms;
    probe *pr = &ms->pr;
    if (n->cfg.probe_interval_ms == 0)
        return;
    if (pr->active && !pr->acked && !pr->indirect_sent && now_ms >= pr->indirect_at_ms)
        send_indirect(n);
    bool all_nacked = pr->indirect_sent && pr->nacks_expected && pr->nacks >= pr->nacks_expected;
    if (pr->active && (pr->acked || all_nacked || now_ms >= pr->end_ms))
        finish_probe(n, now_ms);
    expire_relays(n, now_ms);
    if (!pr->active && now_ms >= ms->next_probe_ms) {
        start_probe(n, now_ms);
        ms->next_probe_ms = now_ms + scaled(n, n->cfg.probe_interval_ms);
    }
    members_expire_suspicions(n, now_ms);
}

uint64_t swim_next_deadline(const gossip_node *n)
{
    const members *ms = &n->ms;
    uint64_t next = members_next_suspicion_deadline(n);
    if (n->cfg.probe_interval_ms == 0)
        return next;
    uint64_t probe_at = ms->next_probe_ms;
    if (ms->pr.active)
        probe_at = ms->pr.indirect_sent || ms->pr.acked ? ms->pr.end_ms : ms->pr.indirect_at_ms;
    if (ms->pr.active && (ms->pr.acked || (ms->pr.nacks_expected &&
                                           ms->pr.nacks >= ms->pr.nacks_expected)))
        probe_at = n->now; /* settled early: finish it at once */
    if (probe_at < next)
        next = probe_at;
    for (uint32_t i = 0; i < RELAYS_MAX; i++)
        if (ms->relays[i].used && ms->relays[i].deadline_ms < next)
            next = ms->relays[i].deadline_ms;
    return next;
}

static bool names_me(const gossip_node *n, wire_str name)
{
    const endpoint *self = table_ep(&n->tbl, n->self);
    return name.len == self->name_len && memcmp(name.ptr, ep_name(self), name.len) == 0;
}

static void on_ping(gossip_node *n, const char *from_addr, const wire_msg *m)
{
    /* A ping meant for a previous owner of our address is not ours to ack. */
    if (!m->has_seq || (m->target.len && !names_me(n, m->target)))
        return;
    uint32_t sender = table_find(&n->tbl, m->from.ptr, m->from.len);
    send_ack(n, from_addr, m->seq, 0, sender);
}

static void on_ping_req(gossip_node *n, const char *from_addr, const wire_msg *m,
                        uint64_t now_ms)
{
    if (!m->has_seq || m->target.len == 0 || m->target_addr.len == 0)
        return;
    relay *r = NULL;
    for (uint32_t i = 0; i < RELAYS_MAX && !r; i++)
        if (!n->ms.relays[i].used)
            r = &n->ms.relays[i];
    uint32_t target = table_find(&n->tbl, m->target.ptr, m->target.len);
    if (!r || strlen(from_addr) > GOSSIP_MAX_ADDR)
        return; /* busy: no nack either */
    char addr[GOSSIP_MAX_ADDR + 1];
    memcpy(addr, m->target_addr.ptr, m->target_addr.len);
    addr[m->target_addr.len] = '\0';
    r->used = true;
    r->seq = ++n->ms.next_seq;
    r->their_seq = m->seq;
    /* Our nack must reach the prober before its probe ends, one probe
     * timeout after it asked us: wait four fifths of that, leaving the rest
     * for the round trip.  (At a full timeout every nack came too late and
     * every prober of a dead member blamed itself, Lifeguard-wise.) */
    r->deadline_ms = now_ms + n->cfg.probe_timeout_ms * 4 / 5;
    memcpy(r->requester, from_addr, strlen(from_addr) + 1);
    send_ping(n, addr, r->seq, m->target.ptr, m->target.len, target);
}

const uint32_t gossip_rtt_bounds_ms[GOSSIP_RTT_BUCKETS - 1] = {1,   2,   5,   10,  25,
                                                                 50,  100, 250, 500, 1000};

/* A direct ack (from the target itself, not relayed by a helper): one
 * round-trip sample for the histogram in gossip_stats. */
static void count_rtt(gossip_node *n, uint64_t rtt_ms)
{
    uint32_t b = 0;
    while (b < GOSSIP_RTT_BUCKETS - 1 && rtt_ms > gossip_rtt_bounds_ms[b])
        b++;
    n->stats.probe_rtt_buckets[b]++;
    n->stats.probe_rtt_sum_ms += rtt_ms;
    n->stats.probe_rtt_count++;
}

static void on_ping_ack(gossip_node *n, const wire_msg *m, uint64_t now_ms)
{
    probe *pr = &n->ms.pr;
    if (!m->has_seq)
        return;
    if (pr->active && m->seq == pr->seq) {
        if (m->flags & WIRE_FLAG_NACK) {
            pr->nacks++;
        } else {
            const endpoint *t = pr->target < n->tbl.n ? table_ep(&n->tbl, pr->target) : NULL;
            if (!pr->direct_acked && t && m->from.len == t->name_len &&
                memcmp(m->from.ptr, ep_name(t), t->name_len) == 0) {
                pr->direct_acked = true;
                count_rtt(n, now_ms >= pr->start_ms ? now_ms - pr->start_ms : 0);
            }
            pr->acked = true;
        }
        return;
    }
    for (uint32_t i = 0; i < RELAYS_MAX; i++) {
        relay *r = &n->ms.relays[i];
        if (r->used && r->seq == m->seq && !(m->flags & WIRE_FLAG_NACK)) {
            r->used = false;
            send_ack(n, r->requester, r->their_seq, 0, TABLE_NONE);
            return;
        }
    }
}

void swim_on_msg(gossip_node *n, const char *from_addr, const wire_msg *m, uint64_t now_ms)
{
    switch (m->type) {
    case GOSSIP_MSG_PING: on_ping(n, from_addr, m); break;
    case GOSSIP_MSG_PING_REQ: on_ping_req(n, from_addr, m, now_ms); break;
    case GOSSIP_MSG_PING_ACK: on_ping_ack(n, m, now_ms); break;
    default: break;
    }
}
