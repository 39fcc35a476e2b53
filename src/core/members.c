/* members.c -- membership records, suspicion with Lifeguard's dynamic
 * timeout, refutation, graceful leave, and the news queue that piggybacks
 * membership events on every datagram (see members.h). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/members.h"
#include "core/node.h"

const char *gossip_status_name(int status)
{
    switch (status) {
    case GOSSIP_STATUS_ALIVE: return "alive";
    case GOSSIP_STATUS_SUSPECT: return "suspect";
    case GOSSIP_STATUS_DEAD: return "dead";
    case GOSSIP_STATUS_LEFT: return "left";
    default: return "unknown";
    }
}

void members_init(gossip_node *n)
{
    members *ms = &n->ms;
    memset(ms, 0, sizeof *ms);
    ms->count[GOSSIP_STATUS_ALIVE] = 1; /* ourselves */
    ms->priority_target = UINT32_MAX;
    ms->inconclusive_target = UINT32_MAX;
    ms->live_epoch = 1;
    ms->ring_succ = UINT32_MAX;
}

void members_free(gossip_node *n)
{
    ga_free(n->alloc, n->ms.order);
    ga_free(n->alloc, n->ms.mon);
    n->ms.order = NULL;
    n->ms.mon = NULL;
}

bool members_is_live(const gossip_node *n, uint32_t idx)
{
    uint8_t st = table_ep(&n->tbl, idx)->status;
    return st == GOSSIP_STATUS_ALIVE || st == GOSSIP_STATUS_SUSPECT;
}

/* ---- news ------------------------------------------------------------------ */

/* How often an event is piggybacked: retransmit_mult * ceil(log10(N + 1)),
 * SWIM's lambda log N. */
static uint32_t retransmit_limit(const gossip_node *n)
{
    uint32_t digits = 1;
    for (uint64_t m = (uint64_t)n->tbl.n + 1; m >= 10; m /= 10)
        digits++;
    return n->cfg.retransmit_mult * digits;
}

/* The sender of the datagram at hand still holds an incarnation of `idx`
 * that has been refuted: whatever we answer it carries the refutation first.
 * Without this a node that heard a suspicion late, in a storm of news (a
 * partition), may not hear the refutation before its timer runs out: the
 * news of it has left most queues by then (partition-1000, a false death). */
static void note_correction(gossip_node *n, uint32_t idx)
{
    members *ms = &n->ms;
    for (uint32_t i = 0; i < ms->n_corrections; i++)
        if (ms->corrections[i] == idx)
            return;
    if (ms->n_corrections < CORRECTIONS_MAX)
        ms->corrections[ms->n_corrections++] = idx;
}

static bool is_correction(const members *ms, uint32_t idx)
{
    for (uint32_t i = 0; i < ms->n_corrections; i++)
        if (ms->corrections[i] == idx)
            return true;
    return false;
}

/* Sending order of queued news, smallest first: news about `target` (the
 * receiver of the datagram, or the member a probe is about: it can refute
 * at once) and refutations the receiver has missed (note_correction); then
 * the least transmitted, so that fresh news spreads first. */
static uint32_t news_rank(const gossip_node *n, const news_item *it, uint32_t target)
{
    if (it->idx == target || is_correction(&n->ms, it->idx))
        return 0;
    return 1 + it->transmits;
}

/* Which item a full queue drops: the most transmitted that is not a
 * refutation, else the most transmitted.  A late refutation costs a false
 * death, late suspect or dead news only detection time; in a storm of news
 * (a partition: hundreds of members suspected at once) refutations of
 * same-side false suspicions were otherwise pushed out of the full queues
 * before they had reached everyone. */
static uint32_t news_victim(const members *ms)
{
    uint32_t worst = 0;
    for (uint32_t i = 1; i < ms->n_news; i++) {
        const news_item *a = &ms->news[i], *b = &ms->news[worst];
        bool a_refutes = a->status == GOSSIP_STATUS_ALIVE, b_refutes = b->status == GOSSIP_STATUS_ALIVE;
        if (a_refutes != b_refutes ? b_refutes : a->transmits > b->transmits)
            worst = i;
    }
    return worst;
}

static void news_push(gossip_node *n, uint32_t idx, const char *from, size_t from_len)
{
    members *ms = &n->ms;
    const endpoint *ep = table_ep(&n->tbl, idx);
    news_item *it = NULL;
    for (uint32_t i = 0; i < ms->n_news && !it; i++)
        if (ms->news[i].idx == idx)
            it = &ms->news[i]; /* newer news of the same member replaces the old */
    if (it && it->generation == ep->generation && it->incarnation == ep->incarnation &&
        it->status == ep->status &&
        (from_len == 0 || (strlen(it->from) == from_len && memcmp(it->from, from, from_len) == 0)))
        return; /* already queued: keep its transmit count */
    if (!it) {
        if (ms->n_news == NEWS_MAX) {
            /* full: anti-entropy still carries what is dropped */
            it = &ms->news[news_victim(ms)];
        } else {
            it = &ms->news[ms->n_news++];
        }
    }
    it->idx = idx;
    it->generation = ep->generation;
    it->incarnation = ep->incarnation;
    it->status = ep->status;
    it->transmits = 0;
    if (from_len > GOSSIP_MAX_NAME)
        from_len = GOSSIP_MAX_NAME;
    memcpy(it->from, from, from_len);
    it->from[from_len] = '\0';
}

static void news_drop(members *ms, uint32_t i)
{
    ms->news[i] = ms->news[--ms->n_news];
}

static int try_news(gossip_node *n, wire_writer *w, news_item *it)
{
    const endpoint *ep = table_ep(&n->tbl, it->idx);
    int rc = wire_try_news(w, ep_name(ep), ep->name_len, it->generation, it->incarnation,
                           it->status, it->from, strlen(it->from));
    if (rc == 0) {
        it->transmits++;
        n->stats.news_sent++;
    }
    return rc;
}

void members_write_news(gossip_node *n, wire_writer *w, uint32_t target, size_t budget)
{
    members *ms = &n->ms;
    if (ms->n_news == 0 || wire_room(w) < 32)
        return;
    size_t stop_at = wire_room(w) > budget ? wire_room(w) - budget : 0;
    /* in news_rank order (insertion sort: stable, at most NEWS_MAX items) */
    uint32_t order[NEWS_MAX], keys[NEWS_MAX], k = 0, limit = retransmit_limit(n);
    for (uint32_t i = 0; i < ms->n_news; i++) {
        uint32_t key = news_rank(n, &ms->news[i], target), j = k++;
        for (; j > 0 && keys[j - 1] > key; j--) {
            order[j] = order[j - 1];
            keys[j] = keys[j - 1];
        }
        order[j] = i;
        keys[j] = key;
    }
    if (wire_open_array(w, WK_NEWS))
        return;
    for (uint32_t j = 0; j < k && wire_room(w) > stop_at; j++)
        if (try_news(n, w, &ms->news[order[j]]))
            break;
    wire_close_array(w);
    for (uint32_t i = 0; i < ms->n_news;)
        if (ms->news[i].transmits >= limit)
            news_drop(ms, i);
        else
            i++;
}

void members_apply_news(gossip_node *n, const wire_msg *m, uint64_t now_ms)
{
    for (uint32_t i = 0; i < m->n_news; i++) {
        const wire_news *e = &m->news[i];
        uint32_t idx = table_find(&n->tbl, e->name.ptr, e->name.len);
        if (idx == TABLE_NONE)
            continue; /* the state exchange introduces members, not news */
        members_merge_record(n, idx, e->generation, e->incarnation, e->status, e->from.ptr,
                             e->from.len, now_ms);
    }
}

/* ---- suspicion (Lifeguard) --------------------------------------------------- */

static uint64_t probe_interval(const gossip_node *n)
{
    return (uint64_t)n->cfg.probe_interval_ms;
}

/* Lifeguard: the timeout starts at max and falls towards min as independent
 * confirmations arrive, logarithmically, reaching min at indirect_checks
 * confirmations.  min = suspicion_min_mult * max(1, log10 N) * probe interval. */
static void suspicion_timeout(const gossip_node *n, uint32_t confirmations, uint64_t *min_ms,
                              uint64_t *timeout_ms)
{
    double nodes = (double)(n->ms.count[GOSSIP_STATUS_ALIVE] + n->ms.count[GOSSIP_STATUS_SUSPECT]);
    double scale = nodes > 10 ? log10(nodes) : 1.0;
    double min = n->cfg.suspicion_min_mult * scale * (double)probe_interval(n);
    double floor = SUSPICION_FLOOR_PROBES * (double)probe_interval(n);
    if (min < floor)
        min = floor; /* small clusters: outlast a 2 s pause plus its refutation */
    /* and long enough for a refutation to spread: about log2 N gossip rounds */
    double spread = ceil(log2(nodes > 2 ? nodes : 2)) * (double)n->cfg.gossip_interval_ms;
    if (min < spread)
        min = spread;
    double max = n->cfg.suspicion_max_mult * min;
    double k = n->cfg.indirect_checks ? n->cfg.indirect_checks : 1;
    double frac = log((double)confirmations + 1) / log(k + 1);
    double t = max - (max - min) * (frac > 1 ? 1 : frac);
    *min_ms = (uint64_t)min;
    *timeout_ms = (uint64_t)(t < min ? min : t);
}

static suspicion *suspicion_of(gossip_node *n, uint32_t idx)
{
    for (uint32_t i = 0; i < n->ms.n_susp; i++)
        if (n->ms.susp[i].idx == idx)
            return &n->ms.susp[i];
    return NULL;
}

static void suspicion_cancel(gossip_node *n, uint32_t idx)
{
    suspicion *s = suspicion_of(n, idx);
    if (s)
        *s = n->ms.susp[--n->ms.n_susp];
}

static void suspicion_start(gossip_node *n, uint32_t idx, const char *from, size_t from_len,
                            uint64_t now_ms)
{
    const endpoint *ep = table_ep(&n->tbl, idx);
    suspicion *s = suspicion_of(n, idx);
    if (!s) {
        if (n->ms.n_susp == SUSPICIONS_MAX)
            return; /* the member stays suspect; a later failed probe retries */
        s = &n->ms.susp[n->ms.n_susp++];
    }
    memset(s, 0, sizeof *s);
    s->idx = idx;
    s->generation = ep->generation;
    s->incarnation = ep->incarnation;
    s->start_ms = now_ms;
    if (from_len)
        s->confirmers[0] = gossip_hash_bytes(from, from_len, 0);
    uint64_t min, timeout;
    suspicion_timeout(n, 0, &min, &timeout);
    s->deadline_ms = now_ms + timeout;
}

/* Another member independently suspects the same incarnation. */
static void suspicion_confirm(gossip_node *n, uint32_t idx, const char *from, size_t from_len)
{
    suspicion *s = suspicion_of(n, idx);
    /* past SUSPECT_CONFIRM_MAX confirmers we could no longer tell a new
     * one from a repeat: stop counting (the timeout is near its min) */
    if (!s || from_len == 0 || s->confirmations + 1 >= SUSPECT_CONFIRM_MAX)
        return;
    uint64_t h = gossip_hash_bytes(from, from_len, 0);
    for (uint32_t i = 0; i <= s->confirmations; i++)
        if (s->confirmers[i] == h)
            return;
    s->confirmers[s->confirmations + 1] = h;
    s->confirmations++;
    uint64_t min, timeout;
    suspicion_timeout(n, s->confirmations, &min, &timeout);
    uint64_t deadline = s->start_ms + timeout;
    if (deadline < s->deadline_ms)
        s->deadline_ms = deadline;
    /* re-gossip so that others count this confirmation as well */
    news_push(n, idx, from, from_len);
}

/* ---- records ------------------------------------------------------------------- */

static void notify_status(gossip_node *n, const endpoint *ep)
{
    static const enum gossip_change_kind kinds[] = {GOSSIP_CHANGE_ALIVE, GOSSIP_CHANGE_SUSPECT,
                                                    GOSSIP_CHANGE_DEAD, GOSSIP_CHANGE_LEFT};
    if (!n->cb.on_change)
        return;
    gossip_change c = {kinds[ep->status], ep_name(ep), ep->generation, NULL, NULL, 0,
                       ep->max_version, ep->incarnation, 0};
    n->cb.on_change(n->ud, &c);
}

/* Sets the record of `idx`, keeping the hashes, counts and timers right. */
static void set_record(gossip_node *n, uint32_t idx, uint64_t incarnation, uint8_t status,
                       uint64_t now_ms)
{
    endpoint *ep = table_ep(&n->tbl, idx);
    uint8_t old = ep->status;
    table_before_change(&n->tbl, idx);
    ep->incarnation = incarnation;
    ep->status = status;
    table_changed(&n->tbl, idx);
    if (old != status) {
        n->ms.count[old]--;
        n->ms.count[status]++;
        ep->status_since_ms = now_ms;
        if ((old <= GOSSIP_STATUS_SUSPECT) != (status <= GOSSIP_STATUS_SUSPECT))
            n->ms.live_epoch++; /* the probe ring changed */
    }
    if (status != GOSSIP_STATUS_SUSPECT)
        suspicion_cancel(n, idx);
}

void members_on_reset(gossip_node *n, uint32_t idx, uint8_t old_status)
{
    endpoint *ep = table_ep(&n->tbl, idx);
    if (old_status != ep->status) {
        n->ms.count[old_status]--;
        n->ms.count[ep->status]++;
        n->ms.live_epoch++;
    }
    suspicion_cancel(n, idx);
}

/* Somebody says we are suspect, dead or gone: we are not (SWIM's
 * refutation).  Lifeguard: being suspected hints that we are the slow one. */
static void refute(gossip_node *n, uint64_t incarnation, uint64_t now_ms)
{
    endpoint *self = table_ep(&n->tbl, n->self);
    set_record(n, n->self, incarnation + 1, GOSSIP_STATUS_ALIVE, now_ms);
    news_push(n, n->self, ep_name(self), self->name_len);
    n->stats.refutations++;
    if (n->ms.awareness + 1 < n->cfg.awareness_max)
        n->ms.awareness++;
}

/* Confirmations make a suspicion expire sooner, but at N = 1,000 a member
 * is probed about once a second, so they trickle in.  About
 * 2 * (indirect_checks + 1) of the nodes that hear of a fresh suspicion
 * probe the suspect next, out of turn: a dead member collects its
 * confirmations within a probe interval or two, while a live one sees a
 * handful of extra pings, not a thousand. */
static void maybe_probe_suspect_next(gossip_node *n, uint32_t idx)
{
    uint64_t live = n->ms.count[GOSSIP_STATUS_ALIVE] + n->ms.count[GOSSIP_STATUS_SUSPECT];
    uint64_t want = 2 * ((uint64_t)n->cfg.indirect_checks + 1);
    if (n->cfg.probe_interval_ms && gossip_rng_below(&n->rng, live ? live : 1) < want)
        n->ms.priority_target = idx;
}

static bool record_newer(uint64_t incarnation, uint8_t status, const endpoint *ep)
{
    if (incarnation != ep->incarnation)
        return incarnation > ep->incarnation;
    return status > ep->status;
}

void members_merge_record(gossip_node *n, uint32_t idx, uint64_t generation,
                          uint64_t incarnation, uint8_t status, const char *from,
                          size_t from_len, uint64_t now_ms)
{
    endpoint *ep = table_ep(&n->tbl, idx);
    if (generation != ep->generation || status > GOSSIP_STATUS_LEFT ||
        incarnation > MEMBERS_MAX_INCARNATION)
        return; /* another generation's news (the state exchange settles that
                 * first), or an incarnation no honest member reaches */
    if (idx == n->self) {
        bool slander = status != GOSSIP_STATUS_ALIVE && incarnation >= ep->incarnation;
        if (slander && !n->ms.leaving)
            refute(n, incarnation, now_ms);
        else if (incarnation > ep->incarnation && !n->ms.leaving)
            refute(n, incarnation, now_ms); /* stale incarnation of ours in circulation */
        return;
    }
    if (!record_newer(incarnation, status, ep)) {
        if (status == GOSSIP_STATUS_SUSPECT && ep->status == GOSSIP_STATUS_SUSPECT &&
            incarnation == ep->incarnation)
            suspicion_confirm(n, idx, from, from_len);
        else if (incarnation != ep->incarnation || status != ep->status)
            news_push(n, idx, "", 0); /* the sender is behind; relayed, not a confirmation */
        if (incarnation < ep->incarnation)
            note_correction(n, idx);
        return;
    }
    uint8_t old = ep->status;
    set_record(n, idx, incarnation, status, now_ms);
    if (status == GOSSIP_STATUS_SUSPECT) {
        suspicion_start(n, idx, from, from_len, now_ms);
        maybe_probe_suspect_next(n, idx);
    }
    news_push(n, idx, from, from_len);
    if (old != status)
        notify_status(n, ep);
}

/* Our own verdict: a failed probe (suspect) or an expired suspicion (dead). */
static void raise_status(gossip_node *n, uint32_t idx, uint8_t status, uint64_t now_ms)
{
    const endpoint *self = table_ep(&n->tbl, n->self);
    endpoint *ep = table_ep(&n->tbl, idx);
    if (status == GOSSIP_STATUS_SUSPECT)
        n->stats.suspicions++;
    else if (status == GOSSIP_STATUS_DEAD)
        n->stats.declared_dead++;
    members_merge_record(n, idx, ep->generation, ep->incarnation, status, ep_name(self),
                         self->name_len, now_ms);
}

void members_suspect(gossip_node *n, uint32_t idx, uint64_t now_ms)
{
    endpoint *ep = table_ep(&n->tbl, idx);
    const endpoint *self = table_ep(&n->tbl, n->self);
    if (ep->status == GOSSIP_STATUS_ALIVE) {
        raise_status(n, idx, GOSSIP_STATUS_SUSPECT, now_ms);
        return;
    }
    if (ep->status != GOSSIP_STATUS_SUSPECT)
        return;
    /* Suspect already (someone else's news): our own failed probe is an
     * independent confirmation, for our timer and, broadcast, for everyone
     * else's (Lifeguard). */
    n->stats.suspicions++;
    if (!suspicion_of(n, idx))
        suspicion_start(n, idx, NULL, 0, now_ms);
    suspicion_confirm(n, idx, ep_name(self), self->name_len);
}

void members_expire_suspicions(gossip_node *n, uint64_t now_ms)
{
    for (uint32_t i = 0; i < n->ms.n_susp;) {
        suspicion *s = &n->ms.susp[i];
        if (s->deadline_ms > now_ms) {
            i++;
            continue;
        }
        uint32_t idx = s->idx;
        *s = n->ms.susp[--n->ms.n_susp];
        endpoint *ep = table_ep(&n->tbl, idx);
        if (ep->status == GOSSIP_STATUS_SUSPECT)
            raise_status(n, idx, GOSSIP_STATUS_DEAD, now_ms);
    }
}

uint64_t members_next_suspicion_deadline(const gossip_node *n)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < n->ms.n_susp; i++)
        if (n->ms.susp[i].deadline_ms < next)
            next = n->ms.susp[i].deadline_ms;
    return next;
}

/* ---- reaping ------------------------------------------------------------------- */

bool members_quarantined(const gossip_node *n, const char *name, size_t len,
                         uint64_t generation, uint64_t now_ms)
{
    uint64_t h = gossip_hash_bytes(name, len, 0);
    for (uint32_t i = 0; i < QUARANTINE_MAX; i++) {
        const quarantined *q = &n->ms.quarantine[i];
        if (q->until_ms > now_ms && q->name_hash == h && generation <= q->generation)
            return true;
    }
    return false;
}

/* References to endpoint `from` now mean `to` (table_remove moved it). */
static void renumber(gossip_node *n, uint32_t from, uint32_t to)
{
    members *ms = &n->ms;
    if (n->self == from)
        n->self = to;
    for (uint32_t i = 0; i < ms->n_news; i++)
        if (ms->news[i].idx == from)
            ms->news[i].idx = to;
    for (uint32_t i = 0; i < ms->n_susp; i++)
        if (ms->susp[i].idx == from)
            ms->susp[i].idx = to;
    if (ms->pr.target == from)
        ms->pr.target = to;
    if (ms->priority_target == from)
        ms->priority_target = to;
    if (ms->inconclusive_target == from)
        ms->inconclusive_target = to;
    for (uint32_t i = 0; ms->mon && i < n->cfg.monitored_peers; i++)
        if (ms->mon[i].used && ms->mon[i].idx == from)
            ms->mon[i].idx = to;
}

static void forget(gossip_node *n, uint32_t idx, uint64_t now_ms)
{
    members *ms = &n->ms;
    endpoint *ep = table_ep(&n->tbl, idx);
    if (n->cb.on_change) {
        gossip_change c = {GOSSIP_CHANGE_REAPED, ep_name(ep), ep->generation, NULL, NULL, 0,
                           ep->max_version, ep->incarnation, 0};
        n->cb.on_change(n->ud, &c);
    }
    quarantined *q = &ms->quarantine[ms->quarantine_pos];
    ms->quarantine_pos = (ms->quarantine_pos + 1) % QUARANTINE_MAX;
    q->name_hash = gossip_hash_bytes(ep_name(ep), ep->name_len, 0);
    q->generation = ep->generation;
    q->until_ms = now_ms + n->cfg.reap_timeout_ms;
    ms->count[ep->status]--;
    suspicion_cancel(n, idx);
    for (uint32_t i = 0; i < ms->n_news;)
        if (ms->news[i].idx == idx)
            news_drop(ms, i);
        else
            i++;
    if (ms->pr.active && ms->pr.target == idx)
        ms->pr.active = false;
    if (ms->priority_target == idx)
        ms->priority_target = UINT32_MAX;
    if (ms->inconclusive_target == idx)
        ms->inconclusive_target = UINT32_MAX;
    for (uint32_t i = 0; ms->mon && i < n->cfg.monitored_peers; i++)
        if (ms->mon[i].used && ms->mon[i].idx == idx)
            ms->mon[i].used = false;
    ms->live_epoch++; /* indices change below */
    uint32_t moved = table_remove(&n->tbl, idx);
    if (moved != idx)
        renumber(n, moved, idx);
    ms->order_pos = ms->order_len; /* indices changed: reshuffle before the next probe */
}

void members_reap(gossip_node *n, uint64_t now_ms)
{
    members *ms = &n->ms;
    if (ms->count[GOSSIP_STATUS_DEAD] + ms->count[GOSSIP_STATUS_LEFT] == 0 ||
        now_ms < ms->next_reap_ms)
        return;
    /* a scan of the table, at most eight times per reap timeout */
    uint64_t every = n->cfg.reap_timeout_ms / 8;
    ms->next_reap_ms = now_ms + (every > 1000 ? every : 1000);
    for (uint32_t idx = n->tbl.n; idx-- > 0;) {
        const endpoint *ep = table_ep(&n->tbl, idx);
        if (idx != n->self &&
            (ep->status == GOSSIP_STATUS_DEAD || ep->status == GOSSIP_STATUS_LEFT) &&
            now_ms - ep->status_since_ms >= n->cfg.reap_timeout_ms)
            forget(n, idx, now_ms);
    }
}

/* ---- leave --------------------------------------------------------------------- */

int members_leave(gossip_node *n, uint64_t now_ms)
{
    if (n->ms.leaving)
        return 0;
    endpoint *self = table_ep(&n->tbl, n->self);
    set_record(n, n->self, self->incarnation, GOSSIP_STATUS_LEFT, now_ms);
    news_push(n, n->self, ep_name(self), self->name_len);
    n->ms.leaving = true;
    n->ms.leave_deadline_ms = now_ms + n->cfg.leave_timeout_ms;
    return 0;
}

int members_force_leave(gossip_node *n, uint32_t idx, uint64_t now_ms)
{
    endpoint *ep = table_ep(&n->tbl, idx);
    if (idx == n->self || ep->status == GOSSIP_STATUS_ALIVE)
        return GOSSIP_ERR_INVALID;
    if (ep->status == GOSSIP_STATUS_LEFT)
        return 0;
    const endpoint *self = table_ep(&n->tbl, n->self);
    /* news and the record only: the datagrams that carry it are sent by
     * the next tick or answer, never from here */
    set_record(n, idx, ep->incarnation, GOSSIP_STATUS_LEFT, now_ms);
    news_push(n, idx, ep_name(self), self->name_len);
    notify_status(n, ep);
    return 0;
}

/* Left for good once the news of it has been sent its full budget (it left
 * the queue) or the leave timeout passed. */
void members_leave_progress(gossip_node *n, uint64_t now_ms)
{
    if (!n->ms.leaving || n->ms.left)
        return;
    bool queued = false;
    for (uint32_t i = 0; i < n->ms.n_news; i++)
        queued |= n->ms.news[i].idx == n->self;
    if (!queued || now_ms >= n->ms.leave_deadline_ms)
        n->ms.left = true;
}
