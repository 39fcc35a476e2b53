/*
 * kv_sim_node.c -- one replica of `gossip-sim kv`, run as the agent runs
 * its store (src/agent/kv_agent.c), with the network, the disk and the
 * clock replaced by the simulator's:
 *
 *  - the store is the real kv_store; its on_change appends the real log
 *    record (kv_log_put_record) of every local write and every received
 *    entry that changed it.  A local write is synced before it counts as
 *    acknowledged; received entries are synced every KVS_SYNC_MS and at the
 *    end of every session.  A crash keeps the synced log and a random
 *    prefix of the rest (so the last record may be torn, and sometimes a
 *    byte of that tail is damaged); a restart replays it through the real
 *    kv_log_scan, which must cut the bad tail, and compaction rewrites it
 *    from the store as the agent does;
 *  - rumors, feedback and session chunks are the real messages of
 *    core/kv_wire.h, built with its encoders and checked on arrival with
 *    kv_msg_parse, so a malformed message would meet the real checks;
 *  - sessions are the real recon_session, one message at a time through
 *    the network; a message lost, or cut off by a partition or a crash,
 *    leaves the session silent until KVS_IDLE_MS aborts it on each side.
 *    Entries a session applied before it stopped stay applied, each merged
 *    by last-writer-wins on its own (the session never half-applies an
 *    entry: a message is applied whole or not at all, since recon_parse
 *    checks it before anything is applied).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "sim/kv_sim_internal.h"

/* ---- the log ---------------------------------------------------------------- */

static void log_sync(kvs_node *n)
{
    if (n->pending.len == 0)
        return;
    recon_put_bytes(&n->durable, n->pending.p, n->pending.len);
    recon_buf_reset(&n->pending);
}

static int log_entry(void *arg, const recon_entry *e)
{
    kv_log_put_record(arg, e);
    return 0;
}

/* The agent's maybe_compact: past KVS_COMPACT_MIN and twice the data. */
static void maybe_compact(kvs_world *w, kvs_node *n)
{
    kv_stats st;
    kv_get_stats(n->s, &st);
    uint64_t need = st.bytes + st.entries * 32 + KV_LOG_HEADER;
    uint64_t size = n->durable.len + n->pending.len;
    if (size <= KVS_COMPACT_MIN || size <= KVS_COMPACT_RATIO * need)
        return;
    recon_buf_reset(&n->durable);
    recon_buf_reset(&n->pending);
    kv_log_put_header(&n->durable);
    kv_each(n->s, NULL, 0, log_entry, &n->durable);
    w->r->compactions++;
}

/* ---- rumors ----------------------------------------------------------------- */

static void make_hot(kvs_world *w, kvs_node *n, uint32_t key, const recon_entry *e)
{
    if (w->c->fanout == 0)
        return;
    kvs_hot *h = NULL;
    for (size_t i = 0; i < n->n_hot; i++)
        if (n->hot[i].key == key) {
            h = &n->hot[i];
            break;
        }
    if (!h) {
        if (n->n_hot == KVS_MAX_HOT) {
            size_t oldest = 0;
            for (size_t i = 1; i < n->n_hot; i++)
                if (n->hot[i].due_us < n->hot[oldest].due_us)
                    oldest = i;
            n->hot[oldest] = n->hot[--n->n_hot];
        }
        if (n->n_hot == n->cap_hot) {
            size_t cap = n->cap_hot ? n->cap_hot * 2 : 64;
            kvs_hot *p = realloc(n->hot, cap * sizeof *p);
            if (!p) {
                w->err = GOSSIP_ERR_NOMEM;
                return;
            }
            n->hot = p;
            n->cap_hot = cap;
        }
        h = &n->hot[n->n_hot++];
        h->key = key;
    }
    h->v = e->version;
    h->knew = h->rounds = 0;
    h->due_us = 0; /* at once */
}

static void on_change(void *ud, const kv_change *c)
{
    kvs_node *n = ud;
    kvs_world *w = n->w;
    w->changes++;
    uint32_t key;
    if (kvs_key_index(w, c->entry, &key) != 0) {
        w->err = GOSSIP_ERR_INVALID; /* a key the simulator never wrote */
        return;
    }
    switch (c->cause) {
    case KV_LOCAL:
        kv_log_put_record(&n->pending, c->entry);
        make_hot(w, n, key, c->entry);
        break;
    case KV_REMOTE:
        kv_log_put_record(&n->pending, c->entry);
        if (n->from_rumor)
            make_hot(w, n, key, c->entry); /* forwarded on first receipt */
        kvs_check_comeback(w, n->id, key, c->entry);
        break;
    case KV_GC:
        w->r->tombstones_collected++;
        w->r->collected_in_faults += w->phase == KVS_FAULTS;
        if (kvs_note_collected(w, n->id, key, c->entry->version) != 0)
            w->err = GOSSIP_ERR_NOMEM;
        break;
    case KV_LOADED:
        break; /* checked once the replay is over: a log holds older versions first */
    }
}

static uint32_t pick_fanout(kvs_world *w, kvs_node *n)
{
    uint32_t np = kvs_up_peers(w, n->id);
    uint32_t fanout = w->c->fanout < np ? w->c->fanout : np;
    for (uint32_t i = 0; i < fanout; i++) { /* a random fanout-subset at the front */
        uint32_t j = i + (uint32_t)des_rng_below(&n->rng, np - i);
        uint32_t t = w->tmp_peers[i];
        w->tmp_peers[i] = w->tmp_peers[j];
        w->tmp_peers[j] = t;
    }
    return fanout;
}

/* One rumor round, as the agent's push_rumors: every due rumor to `fanout`
 * random live peers, batched per peer into as few frames as fit. */
static void push_rumors(kvs_world *w, kvs_node *n)
{
    if (w->phase >= KVS_DRAIN || n->n_hot == 0)
        return;
    uint64_t now = w->now_us;
    size_t due = 0;
    for (size_t i = 0; i < n->n_hot; i++)
        due += n->hot[i].due_us <= now;
    if (due == 0)
        return;
    uint32_t fanout = pick_fanout(w, n);
    recon_buf *b = &w->scratch;
    for (uint32_t p = 0; p < fanout; p++) {
        uint32_t to = w->tmp_peers[p];
        recon_buf_reset(b);
        size_t in_msg = 0;
        for (size_t i = 0; i < n->n_hot; i++) {
            kvs_hot *h = &n->hot[i];
            char name[16];
            size_t klen;
            kvs_key_name(h->key, name, &klen);
            recon_entry e;
            if (h->due_us > now || kv_get(n->s, name, klen, &e) != 0)
                continue;
            size_t sz = recon_entry_size(&e);
            if (in_msg && b->len + sz > KVS_FRAME_ROOM) {
                kvs_send(w, n->id, to, b->p, b->len, KVS_RUMOR);
                recon_buf_reset(b);
                in_msg = 0;
            }
            if (in_msg == 0)
                kv_msg_begin(b, KV_MSG_RUMOR);
            recon_put_entry(b, &e);
            in_msg++;
            w->r->rumor_entries++;
        }
        if (b->err) {
            w->err = b->err;
            return;
        }
        if (in_msg)
            kvs_send(w, n->id, to, b->p, b->len, KVS_RUMOR);
    }
    for (size_t i = 0; i < n->n_hot;) {
        kvs_hot *h = &n->hot[i];
        if (h->due_us <= now) {
            char name[16];
            size_t klen;
            kvs_key_name(h->key, name, &klen);
            recon_entry e;
            bool gone = kv_get(n->s, name, klen, &e) != 0;
            if (!gone && fanout > 0)
                h->rounds++;
            h->due_us = now + (uint64_t)KVS_RUMOR_INTERVAL_MS * 1000;
            if (gone || h->rounds >= KVS_MAX_ROUNDS) {
                w->r->rumors_unacked += !gone;
                n->hot[i] = n->hot[--n->n_hot];
                continue;
            }
        }
        i++;
    }
}

static bool drops_merges(const kvs_world *w, const kvs_node *n)
{
    return w->c->bug == KV_SIM_BUG_DROP_MERGE && n->id == 0;
}

static void on_rumor(kvs_world *w, kvs_node *n, uint32_t from, const kv_msg *m)
{
    uint64_t wall = kvs_wall(w, n);
    recon_buf *b = &w->feedback;
    recon_buf_reset(b);
    kv_msg_begin(b, KV_MSG_FEEDBACK);
    size_t off = 0;
    n->from_rumor = true;
    for (uint64_t i = 0; i < m->n; i++) {
        recon_entry e;
        kv_msg_entry(m, &off, &e);
        int rc = drops_merges(w, n) ? 0 : kv_merge(n->s, &e, wall);
        w->r->rumor_entries_new += rc == 1;
        kv_feedback f = {recon_key_hash(e.key, e.key_len), e.version, rc != 1};
        kv_msg_put_feedback(b, &f);
    }
    n->from_rumor = false;
    if (b->err) {
        w->err = b->err;
        return;
    }
    kvs_send(w, n->id, from, b->p, b->len, KVS_FEEDBACK);
    push_rumors(w, n); /* forward at once */
}

static void on_feedback(kvs_node *n, const kv_msg *m)
{
    size_t off = 0;
    for (uint64_t i = 0; i < m->n; i++) {
        kv_feedback f;
        kv_msg_feedback(m, &off, &f);
        if (!f.knew)
            continue;
        for (size_t j = 0; j < n->n_hot; j++) {
            kvs_hot *h = &n->hot[j];
            if (!recon_version_eq(h->v, f.v))
                continue;
            char name[16];
            size_t klen;
            kvs_key_name(h->key, name, &klen);
            if (recon_key_hash(name, klen) != f.khash)
                continue;
            if (++h->knew >= n->w->c->rumor_k)
                n->hot[j] = n->hot[--n->n_hot];
            break;
        }
    }
}

/* ---- sessions ------------------------------------------------------------------ */

static int drop_apply(void *ud, const recon_entry *e)
{
    (void)ud;
    (void)e;
    return 0;
}

static recon_store session_store(kvs_world *w, kvs_node *n)
{
    recon_store st = kv_recon_store(n->s);
    if (drops_merges(w, n))
        st.apply = drop_apply;
    return st;
}

static recon_config session_config(kvs_world *w, kvs_node *n)
{
    recon_config c;
    recon_config_default(&c);
    c.max_message = KVS_MAX_MESSAGE;
    c.max_key = KVS_KEY_BYTES;
    c.max_value = KVS_VALUE_BYTES;
    c.method = RECON_AUTO;
    if (w->c->method != KV_SIM_METHOD_MIXED) {
        c.method = (recon_method)w->c->method;
    } else {
        uint64_t x = des_rng_below(&n->rng, 4);
        c.method = x == 0 ? RECON_MERKLE : x == 1 ? RECON_IBLT : RECON_AUTO;
    }
    return c;
}

static void sess_free(kvs_world *w, kvs_sess *s)
{
    recon_session_free(s->rs);
    free(s->in);
    memset(s, 0, sizeof *s);
    w->open_sessions--;
}

/* Cuts one session message into chunks and sends them; false when a chunk
 * was dropped at once. */
static bool sess_send(kvs_world *w, kvs_node *n, kvs_sess *s, const uint8_t *msg, size_t len)
{
    bool all = true;
    recon_buf *b = &w->scratch;
    size_t off = 0;
    do {
        size_t chunk = len - off < KVS_CHUNK ? len - off : KVS_CHUNK;
        recon_buf_reset(b);
        kv_msg_session(b, s->sid, s->initiator ? KV_SESSION_FROM_INITIATOR : 0, (uint32_t)len,
                       (uint32_t)off, msg + off, chunk);
        if (b->err) {
            w->err = b->err;
            return false;
        }
        all &= kvs_send(w, n->id, s->peer, b->p, b->len, KVS_SESSION);
        off += chunk;
    } while (off < len);
    w->r->session_messages++;
    w->r->session_bytes += len;
    s->last_us = w->now_us;
    return all;
}

static void sess_abort(kvs_world *w, kvs_node *n, kvs_sess *s, bool tell_peer)
{
    if (tell_peer) {
        recon_buf *b = &w->scratch;
        recon_buf_reset(b);
        kv_msg_session(b, s->sid,
                       (s->initiator ? KV_SESSION_FROM_INITIATOR : 0) | KV_SESSION_ABORT, 0, 0,
                       NULL, 0);
        if (!b->err)
            kvs_send(w, n->id, s->peer, b->p, b->len, KVS_SESSION);
    }
    if (s->initiator && !s->wait_ack)
        w->r->sessions_aborted++;
    sess_free(w, s);
}

static void count_for_gc(kvs_node *n, const kvs_sess *s)
{
    kvs_peer *p = &n->peers[s->peer];
    if (s->started_wall > p->wall_ms)
        p->wall_ms = s->started_wall;
}

/* The agent's sess_finish: what the peer sent is on disk before the
 * session counts for collection.  sent_last: this side's own reply ended
 * the session (the peer may never receive it); dropped: and the network
 * dropped it at once.
 *
 * KV_SIM_GC_EAGER counts the session on both sides at once.
 * KV_SIM_GC_ACKED (the agent's rule) counts it only once both sides are known to hold
 * everything: the side that received the last message counts it and
 * answers with a recon DONE (a real message of recon_wire.h, after its own
 * sync); the side that sent the last message keeps the session open and
 * counts it when that DONE arrives -- or never, if it does not come within
 * KVS_IDLE_MS. */
static void sess_finish(kvs_world *w, kvs_node *n, kvs_sess *s, bool sent_last, bool last_dropped)
{
    const recon_stats *rs = recon_session_stats(s->rs);
    kv_sim_result *r = w->r;
    if (s->initiator) {
        r->sessions_completed++;
        r->sessions_equal += rs->method == 0;
        r->sessions_merkle += rs->method == RECON_MERKLE;
        r->sessions_iblt += rs->method == RECON_IBLT;
        r->sessions_fell_back += rs->fell_back;
    }
    r->session_entries += rs->entries_received;
    r->sessions_final_lost += sent_last && last_dropped;
    log_sync(n);
    if (w->c->gc_rule == KV_SIM_GC_ACKED) {
        if (sent_last) {
            s->wait_ack = true;
            return;
        }
        recon_buf done;
        recon_buf_init(&done, NULL);
        recon_begin_message(&done, RECON_MSG_DONE);
        recon_end_message(&done);
        if (done.err)
            w->err = done.err;
        else
            sess_send(w, n, s, done.p, done.len);
        recon_buf_free(&done);
    }
    count_for_gc(n, s);
    sess_free(w, s);
}

/* KV_SIM_GC_ACKED: the message that came for a session waiting for its
 * acknowledgement. */
static void on_ack(kvs_world *w, kvs_node *n, kvs_sess *s)
{
    static const uint8_t done[RECON_HEADER_BYTES] = {RECON_MAGIC0, RECON_MAGIC1,
                                                     RECON_WIRE_VERSION, RECON_MSG_DONE};
    if (s->in_total == sizeof done && memcmp(s->in, done, sizeof done) == 0) {
        w->r->sessions_acked++;
        count_for_gc(n, s);
        sess_free(w, s);
    } else {
        w->r->session_msgs_rejected++;
        sess_abort(w, n, s, true);
    }
}

static kvs_sess *sess_slot(kvs_node *n)
{
    for (size_t i = 0; i < KVS_MAX_SESSIONS; i++)
        if (!n->sess[i].used)
            return &n->sess[i];
    return NULL;
}

static bool initiating(const kvs_node *n)
{
    for (size_t i = 0; i < KVS_MAX_SESSIONS; i++)
        if (n->sess[i].used && n->sess[i].initiator && !n->sess[i].wait_ack)
            return true; /* as the agent: one waiting for its DONE is over for recon */
    return false;
}

/* The agent's start_session: one of our own at a time, with the live peer
 * met or tried longest ago (ties at random). */
static void start_session(kvs_world *w, kvs_node *n)
{
    if (w->phase >= KVS_DRAIN || initiating(n))
        return;
    kvs_sess *s = sess_slot(n);
    uint32_t np = kvs_up_peers(w, n->id);
    if (!s || np == 0)
        return;
    uint32_t pick = 0;
    uint64_t ties = 0, oldest = UINT64_MAX;
    for (uint32_t i = 0; i < np; i++) {
        const kvs_peer *p = &n->peers[w->tmp_peers[i]];
        uint64_t t = p->wall_ms > p->tried_ms ? p->wall_ms : p->tried_ms;
        if (t < oldest) {
            oldest = t;
            pick = i;
            ties = 1;
        } else if (t == oldest && des_rng_below(&n->rng, ++ties) == 0) {
            pick = i;
        }
    }
    uint64_t wall = kvs_wall(w, n);
    memset(s, 0, sizeof *s);
    s->peer = w->tmp_peers[pick];
    n->peers[s->peer].tried_ms = wall;
    recon_config cfg = session_config(w, n);
    s->store = session_store(w, n);
    s->started_wall = wall;
    kv_set_now(n->s, wall);
    const uint8_t *msg;
    size_t len;
    int rc = recon_session_new(&s->rs, NULL, &cfg, &s->store, true);
    if (rc == 0)
        rc = recon_session_start(s->rs, &msg, &len);
    if (rc != 0) {
        recon_session_free(s->rs);
        memset(s, 0, sizeof *s);
        w->err = rc;
        return;
    }
    s->used = true;
    s->initiator = true;
    s->sid = des_rng_next(&n->rng) | 1;
    w->open_sessions++;
    w->r->sessions++;
    sess_send(w, n, s, msg, len);
}

static kvs_sess *find_sess(kvs_node *n, uint32_t peer, uint64_t sid, bool initiator)
{
    for (size_t i = 0; i < KVS_MAX_SESSIONS; i++) {
        kvs_sess *s = &n->sess[i];
        if (s->used && s->sid == sid && s->initiator == initiator && s->peer == peer)
            return s;
    }
    return NULL;
}

/* The agent's on_session: reassembles chunks in order, feeds whole
 * messages to the session, sends the reply. */
static void on_session(kvs_world *w, kvs_node *n, uint32_t from, const kv_msg *m)
{
    bool peer_initiated = m->flags & KV_SESSION_FROM_INITIATOR;
    kvs_sess *s = find_sess(n, from, m->sid, !peer_initiated);
    if (m->flags & KV_SESSION_ABORT) {
        if (s) {
            if (s->initiator && !s->wait_ack)
                w->r->sessions_aborted++;
            sess_free(w, s);
        }
        return;
    }
    if (!s) {
        if (!peer_initiated || m->offset != 0)
            return; /* the rest of a session we gave up */
        bool hello = m->chunk_len >= RECON_HEADER_BYTES && m->chunk[0] == RECON_MAGIC0 &&
                     m->chunk[1] == RECON_MAGIC1 && m->chunk[3] == RECON_MSG_HELLO;
        s = hello ? sess_slot(n) : NULL;
        /* Only a HELLO opens a session.  (The agent opens one on any first
         * chunk and then counts the refusal as a malformed message.) */
        if (!hello)
            w->r->sessions_stale++; /* a session we gave up, or forgot in a restart */
        else if (!s)
            w->r->sessions_refused++;
        if (!s) {
            recon_buf *b = &w->scratch;
            recon_buf_reset(b);
            kv_msg_session(b, m->sid, KV_SESSION_ABORT, 0, 0, NULL, 0);
            if (!b->err)
                kvs_send(w, n->id, from, b->p, b->len, KVS_SESSION);
            return;
        }
        memset(s, 0, sizeof *s);
        recon_config cfg = session_config(w, n);
        s->store = session_store(w, n);
        int rc = recon_session_new(&s->rs, NULL, &cfg, &s->store, false);
        if (rc != 0) {
            w->err = rc;
            return;
        }
        s->used = true;
        s->sid = m->sid;
        s->peer = from;
        s->started_wall = kvs_wall(w, n);
        w->open_sessions++;
    }
    s->last_us = w->now_us;
    if (m->offset != s->in_have || (s->in_have && m->total != s->in_total)) {
        sess_abort(w, n, s, true); /* a chunk out of order: one before it was lost */
        return;
    }
    if (s->in_have == 0) {
        if (m->total > s->in_cap) {
            uint8_t *p = realloc(s->in, m->total ? m->total : 1);
            if (!p) {
                w->err = GOSSIP_ERR_NOMEM;
                return;
            }
            s->in = p;
            s->in_cap = m->total;
        }
        s->in_total = m->total;
    }
    if (m->chunk_len)
        memcpy(s->in + s->in_have, m->chunk, m->chunk_len);
    s->in_have += (uint32_t)m->chunk_len;
    if (s->in_have < s->in_total)
        return;
    s->in_have = 0;
    if (s->wait_ack) {
        on_ack(w, n, s);
        return;
    }
    kv_set_now(n->s, kvs_wall(w, n));
    const uint8_t *reply;
    size_t len;
    int rc = recon_session_recv(s->rs, s->in, s->in_total, &reply, &len);
    bool dropped = false;
    if (rc == 0 && len)
        dropped = !sess_send(w, n, s, reply, len);
    if (rc != 0) {
        if (recon_session_stats(s->rs)->rejected)
            w->r->session_msgs_rejected++;
        else if (rc == GOSSIP_ERR_NOMEM)
            w->err = rc;
        sess_abort(w, n, s, true);
        return;
    }
    if (recon_session_done(s->rs))
        sess_finish(w, n, s, len > 0, dropped);
}

static void sessions_tick(kvs_world *w, kvs_node *n)
{
    for (size_t i = 0; i < KVS_MAX_SESSIONS; i++) {
        kvs_sess *s = &n->sess[i];
        if (!s->used || w->now_us - s->last_us <= (uint64_t)KVS_IDLE_MS * 1000)
            continue;
        if (s->wait_ack) {
            w->r->acks_missing++; /* complete, but not counted for collection */
            sess_free(w, s);
            continue;
        }
        w->r->session_timeouts++;
        sess_abort(w, n, s, true);
    }
}

/* ---- collection --------------------------------------------------------------- */

/* The agent's safe_time: the oldest start of the last completed session
 * over the members held alive or suspect.  Every replica of the simulated
 * cluster is a member: a crashed one is suspect until it restarts (the
 * simulator never declares a member dead -- every crash ends in a restart,
 * within KVS_DOWN_MAX_MS or when the faults end), so a crashed replica
 * holds collection up, as a suspect member does in the agent. */
static uint64_t safe_time(kvs_world *w, kvs_node *n, uint64_t wall)
{
    if (w->c->bug == KV_SIM_BUG_GC_UNSAFE)
        return wall + 1;
    uint64_t safe = wall;
    for (uint32_t j = 0; j < w->c->nodes; j++)
        if (j != n->id && n->peers[j].wall_ms < safe)
            safe = n->peers[j].wall_ms;
    return safe;
}

/* ---- life cycle ----------------------------------------------------------------- */

typedef struct loader {
    kvs_world *w;
    kvs_node *n;
    uint64_t now;
} loader;

static int load_one(void *arg, const recon_entry *e)
{
    loader *l = arg;
    if (kv_load(l->n->s, e, l->now) < 0)
        l->w->err = GOSSIP_ERR_INVALID; /* the log holds only entries within the limits */
    l->w->r->records_replayed++;
    return 0;
}

int kvs_node_start(kvs_world *w, kvs_node *n)
{
    const kv_sim_config *c = w->c;
    n->generation++;
    n->life++;
    kv_config kc;
    kv_config_default(&kc);
    /* Unique per run, as the agent's hash of name and generation. */
    kc.writer = gossip_hash_mix(c->seed ^ gossip_hash_mix(((uint64_t)n->id << 32) | n->generation));
    kc.max_key = KVS_KEY_BYTES;
    kc.max_value = KVS_VALUE_BYTES;
    kc.horizon_ms = c->horizon_ms;
    kc.on_change = on_change;
    kc.ud = n;
    int rc = kv_new(&n->s, NULL, &kc);
    if (rc != 0)
        return rc;
    if (n->durable.len == 0)
        kv_log_put_header(&n->durable);
    loader l = {w, n, kvs_wall(w, n)};
    size_t valid = 0;
    uint64_t records = 0;
    int end = kv_log_scan(n->durable.p, n->durable.len, KVS_KEY_BYTES, KVS_VALUE_BYTES, load_one,
                          &l, &valid, &records);
    if (end == KV_LOG_TORN)
        w->r->torn_tails++;
    else if (end == KV_LOG_CORRUPT)
        w->r->corrupt_tails++;
    else if (end != KV_LOG_CLEAN)
        return GOSSIP_ERR_INVALID; /* the header is always synced: cannot happen */
    if (valid < KV_LOG_HEADER)
        return GOSSIP_ERR_INVALID;
    w->r->log_bytes_cut += n->durable.len - valid;
    n->durable.len = valid; /* the agent truncates the file there */
    if (n->durable.err || n->pending.err)
        return GOSSIP_ERR_NOMEM;
    kvs_check_replayed(w, n);
    n->up = true;
    memset(n->peers, 0, (size_t)c->nodes * sizeof *n->peers);
    uint64_t every = (uint64_t)c->anti_entropy_ms * 1000;
    n->next_ae_us = w->now_us + des_rng_below(&n->rng, every); /* the first within a period */
    n->next_gc_us = w->now_us + (uint64_t)KVS_GC_MS * 1000;
    n->next_sync_us = w->now_us + (uint64_t)KVS_SYNC_MS * 1000;
    uint64_t phase = des_rng_below(&n->rng, (uint64_t)KVS_TICK_MS * 1000);
    struct des_event ev = {.time_us = w->now_us + phase, .kind = KVS_EV_TICK, .node = n->id,
                           .arg = n->life};
    return des_queue_push(&w->q, ev) == 0 ? 0 : GOSSIP_ERR_NOMEM;
}

void kvs_node_crash(kvs_world *w, kvs_node *n)
{
    for (size_t i = 0; i < KVS_MAX_SESSIONS; i++)
        if (n->sess[i].used) {
            if (n->sess[i].initiator && !n->sess[i].wait_ack)
                w->r->sessions_aborted++;
            sess_free(w, &n->sess[i]);
        }
    n->n_hot = 0;
    kv_stats st;
    kv_get_stats(n->s, &st);
    w->r->expired_refused += st.expired_refused; /* the counters die with the store */
    kv_free(n->s);
    n->s = NULL;
    n->up = false;
    n->life++;
    /* The disk keeps what was synced and some prefix of the rest, which may
     * end inside a record; sometimes a byte of that tail is damaged too. */
    size_t keep = (size_t)des_rng_below(&w->sched, (uint64_t)n->pending.len + 1);
    if (keep > 0) {
        size_t at = n->durable.len;
        recon_put_bytes(&n->durable, n->pending.p, keep);
        if (des_rng_below(&w->sched, KVS_TEAR_CORRUPT) == 0 && !n->durable.err)
            n->durable.p[at + des_rng_below(&w->sched, keep)] ^= 0x5a;
    }
    recon_buf_reset(&n->pending);
    w->r->restarts++;
}

void kvs_node_tick(kvs_world *w, kvs_node *n)
{
    push_rumors(w, n);
    sessions_tick(w, n);
    if (w->now_us >= n->next_ae_us) {
        start_session(w, n);
        uint64_t every = (uint64_t)w->c->anti_entropy_ms * 1000;
        n->next_ae_us = w->now_us + every / 2 + des_rng_below(&n->rng, every);
    }
    if (w->now_us >= n->next_gc_us) {
        n->next_gc_us = w->now_us + (uint64_t)KVS_GC_MS * 1000;
        uint64_t wall = kvs_wall(w, n);
        if (kv_gc(n->s, wall, safe_time(w, n, wall)) > 0)
            maybe_compact(w, n);
    }
    if (w->now_us >= n->next_sync_us) {
        n->next_sync_us = w->now_us + (uint64_t)KVS_SYNC_MS * 1000;
        log_sync(n);
        maybe_compact(w, n);
    }
    if (n->durable.err || n->pending.err)
        w->err = GOSSIP_ERR_NOMEM;
}

void kvs_node_deliver(kvs_world *w, kvs_node *n, uint32_t from, const uint8_t *p, size_t len)
{
    kv_msg m;
    if (kv_msg_parse(p, len, KVS_KEY_BYTES, KVS_VALUE_BYTES, KVS_MAX_MESSAGE, &m) != 0) {
        w->r->msgs_rejected++;
        return;
    }
    switch (m.type) {
    case KV_MSG_RUMOR: on_rumor(w, n, from, &m); break;
    case KV_MSG_FEEDBACK: on_feedback(n, &m); break;
    case KV_MSG_SESSION: on_session(w, n, from, &m); break;
    }
}

void kvs_node_write(kvs_world *w, kvs_node *n, uint32_t key, bool del, uint64_t serial)
{
    char name[16];
    size_t klen;
    kvs_key_name(key, name, &klen);
    uint8_t val[KVS_VALUE_BYTES];
    size_t vlen = 0;
    if (!del && des_rng_below(&w->work, 16) != 0) { /* 1 in 16 puts writes an empty value */
        int k = snprintf((char *)val, sizeof val, "s%llu.w%llu.n%u.g%u.",
                         (unsigned long long)w->c->seed, (unsigned long long)serial, n->id,
                         n->generation);
        vlen = k < 0 ? 0 : (size_t)k;
        size_t pad = (size_t)des_rng_below(&w->work, 17);
        for (size_t i = 0; i < pad && vlen < sizeof val; i++)
            val[vlen++] = (uint8_t)('a' + (serial + i) % 26);
    }
    uint64_t wall = kvs_wall(w, n);
    recon_version v;
    int rc = del ? kv_del(n->s, name, klen, wall, NULL, &v)
                 : kv_put(n->s, name, klen, val, vlen, wall, NULL, &v);
    if (rc == GOSSIP_ERR_NOT_FOUND && del) {
        w->r->deletes_absent++;
        return;
    }
    if (rc != 0) {
        w->r->writes_failed++;
        return;
    }
    log_sync(n); /* acknowledged writes are on disk */
    recon_entry e;
    if (kv_get(n->s, name, klen, &e) != 0 || !recon_version_eq(e.version, v)) {
        w->err = GOSSIP_ERR_INVALID;
        return;
    }
    kvs_oracle_ack(w, key, &e);
    if (del)
        w->r->deletes_acked++;
    else
        w->r->puts_acked++;
    push_rumors(w, n); /* at once, as the agent's write wakes its loop */
}

void kvs_node_free(kvs_node *n)
{
    for (size_t i = 0; i < KVS_MAX_SESSIONS; i++)
        if (n->sess[i].used) {
            recon_session_free(n->sess[i].rs);
            free(n->sess[i].in);
        }
    kv_free(n->s);
    free(n->hot);
    free(n->peers);
    recon_buf_free(&n->durable);
    recon_buf_free(&n->pending);
}
