/*
 * recon.c -- the anti-entropy session: life cycle, the state machine that
 * decides which message may come next, HELLO and the choice of method
 * (recon.h).  The Merkle descent is in recon_merkle.c, the IBLT exchange in
 * recon_iblt.c.
 */
#include "core/recon_internal.h"

#include <string.h>

#include "core/alloc.h"

#define ANY_REPLY (EXPECT(RECON_MSG_DONE) | EXPECT(RECON_MSG_EXCHANGE))

void recon_config_default(recon_config *cfg)
{
    *cfg = (recon_config){
        .method = RECON_AUTO,
        .max_message = 64u << 20,
        .max_key = 1024,
        .max_value = 64u << 10,
        .list_threshold = 2,
        .min_symbols = 16,
        .max_symbols = 1u << 20,
        .first_batch = 1.45,
        .more_batch = 0.15,
        .rtt_bytes = 0,
    };
}

const char *recon_method_name(recon_method m)
{
    switch (m) {
    case RECON_MERKLE: return "merkle";
    case RECON_IBLT: return "iblt";
    case RECON_AUTO: return "auto";
    default: return "none";
    }
}

static bool config_ok(const recon_config *c)
{
    return c->method >= RECON_MERKLE && c->method <= RECON_AUTO &&
           c->max_message >= 1024 && c->min_symbols >= 1 &&
           c->max_symbols >= c->min_symbols &&
           c->first_batch > 0 && c->first_batch < 100 && c->more_batch > 0 &&
           c->more_batch < 100 && c->rtt_bytes >= 0 && c->list_threshold <= 1u << 16;
}

static size_t find_versions(const void *ud, uint64_t khash, recon_version *out, size_t max)
{
    return merkle_find(ud, khash, out, max);
}

int recon_session_new(recon_session **out, const gossip_allocator *a, const recon_config *cfg,
                      const recon_store *store, bool initiator)
{
    *out = NULL;
    recon_config c;
    if (cfg)
        c = *cfg;
    else
        recon_config_default(&c);
    if (!config_ok(&c) || store == NULL || store->index == NULL || store->read == NULL ||
        store->apply == NULL)
        return GOSSIP_ERR_INVALID;
    if (a == NULL)
        a = gossip_default_allocator();
    recon_session *s = ga_malloc(a, sizeof *s);
    if (s == NULL)
        return GOSSIP_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->alloc = a;
    s->cfg = c;
    s->lim = (recon_limits){c.max_message, c.max_key, c.max_value, c.max_symbols};
    s->store = *store;
    s->initiator = initiator;
    s->expect = initiator ? 0 : EXPECT(RECON_MSG_HELLO);
    recon_buf_init(&s->out, a);
    for (int i = 0; i < RECON_SEC_COUNT; i++)
        recon_buf_init(&s->sec[i], a);
    iblt_decoder_init(&s->dec, a, find_versions, &store->index->tree);
    *out = s;
    return 0;
}

void recon_session_free(recon_session *s)
{
    if (s == NULL)
        return;
    recon_buf_free(&s->out);
    for (int i = 0; i < RECON_SEC_COUNT; i++)
        recon_buf_free(&s->sec[i]);
    iblt_decoder_free(&s->dec);
    ga_free(s->alloc, s->mine);
    ga_free(s->alloc, s->theirs);
    ga_free(s->alloc, s->level_h);
    ga_free(s->alloc, s->level_c);
    ga_free(s->alloc, s->syms);
    ga_free(s->alloc, s);
}

bool recon_session_done(const recon_session *s) { return s->started && s->expect == 0; }

const recon_stats *recon_session_stats(const recon_session *s) { return &s->stats; }

/* Accounts for s->out as sent and hands it out. */
static int give(recon_session *s, const uint8_t **out, size_t *out_len)
{
    if (s->out.err)
        return s->out.err;
    if (s->out.len > s->cfg.max_message)
        return GOSSIP_ERR_OVERSIZE;
    *out = s->out.p;
    *out_len = s->out.len;
    s->stats.bytes_sent += s->out.len;
    s->stats.messages_sent++;
    return 0;
}

int recon_session_start(recon_session *s, const uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!s->initiator || s->started)
        return GOSSIP_ERR_INVALID;
    const recon_index *x = s->store.index;
    recon_begin_message(&s->out, RECON_MSG_HELLO);
    recon_put_u8(&s->out, (uint8_t)s->cfg.method);
    recon_put_u64(&s->out, merkle_root(&x->tree));
    recon_put_varint(&s->out, merkle_count(&x->tree));
    for (unsigned i = 0; i < IBLT_SKETCH_CELLS; i++)
        recon_put_u16(&s->out, x->sketch[i]);
    recon_end_message(&s->out);
    int rc = give(s, out, out_len);
    if (rc != 0)
        return rc;
    s->started = true;
    s->expect = EXPECT(RECON_MSG_DONE) | EXPECT(RECON_MSG_SYMBOLS) | EXPECT(RECON_MSG_EXCHANGE);
    return 0;
}

static void emit_done(recon_session *s)
{
    recon_begin_message(&s->out, RECON_MSG_DONE);
    recon_end_message(&s->out);
}

/* The responder's cost model (docs/anti-entropy.md, "Choosing"): bytes
 * each method is expected to add to the entries themselves, plus rtt_bytes
 * per round trip. */
static recon_method choose(recon_session *s, double estimate, uint64_t count)
{
    uint64_t merkle = recon_predict_merkle(s, estimate, count);
    uint64_t iblt = recon_predict_iblt(s, estimate);
    s->stats.predicted[RECON_MERKLE] = merkle;
    s->stats.predicted[RECON_IBLT] = iblt;
    return iblt <= merkle ? RECON_IBLT : RECON_MERKLE;
}

static int on_hello(recon_session *s, const recon_msg *m, bool *requests)
{
    const recon_index *x = s->store.index;
    s->started = true;
    if (m->root == merkle_root(&x->tree) && m->count == merkle_count(&x->tree)) {
        emit_done(s);
        *requests = false;
        return 0;
    }
    double estimate = iblt_sketch_estimate(x->sketch, m->sketch);
    uint64_t count = m->count > merkle_count(&x->tree) ? m->count : merkle_count(&x->tree);
    s->stats.estimate = estimate;
    recon_method method = (recon_method)m->method;
    if (method == RECON_AUTO)
        method = choose(s, estimate, count);
    s->stats.method = method;
    *requests = true;
    if (method == RECON_IBLT)
        return recon_iblt_send(s, 0, recon_iblt_first_batch(s, estimate));
    recon_sections_reset(s);
    int rc = recon_merkle_level(s, recon_merkle_first_level(estimate, count));
    return rc != 0 ? rc : recon_sections_emit(s, requests);
}

/* Applies every entry of a checked EXCHANGE. */
static int apply_entries(recon_session *s, const recon_msg *m)
{
    if (!m->has[RECON_SEC_ENTRIES])
        return 0;
    recon_reader r;
    recon_reader_init(&r, m->body, m->body_len);
    r.off = m->at[RECON_SEC_ENTRIES];
    for (uint64_t i = 0; i < m->n[RECON_SEC_ENTRIES]; i++) {
        recon_entry e;
        recon_get_entry(&r, &e, s->cfg.max_key, s->cfg.max_value);
        if (r.err)
            return r.err; /* cannot happen: recon_parse checked it */
        int rc = s->store.apply(s->store.ud, &e);
        if (rc != 0)
            return rc;
        s->stats.entries_received++;
    }
    return 0;
}

static bool has_requests(const recon_msg *m)
{
    return m->has[RECON_SEC_LEVEL] || m->has[RECON_SEC_NODES] || m->has[RECON_SEC_LISTS] ||
           m->has[RECON_SEC_WANTS];
}

static int on_exchange(recon_session *s, const recon_msg *m, bool *reply, bool *requests)
{
    if (m->has[RECON_SEC_LEVEL] && s->stats.method == RECON_IBLT)
        s->stats.fell_back = true; /* the initiator gave up decoding */
    if (m->has[RECON_SEC_LEVEL] || m->has[RECON_SEC_NODES] || m->has[RECON_SEC_LISTS])
        s->stats.method = RECON_MERKLE;
    *reply = has_requests(m);
    *requests = false;
    if (*reply) {
        recon_sections_reset(s);
        int rc = recon_merkle_answer(s, m);
        if (rc == 0)
            rc = recon_sections_emit(s, requests);
        if (rc != 0)
            return rc;
    }
    return apply_entries(s, m);
}

/* Checks that a parsed message may come now. */
static int acceptable(const recon_session *s, const recon_msg *m)
{
    if (!(s->expect & EXPECT(m->type)))
        return GOSSIP_ERR_BAD_TYPE;
    /* SYMBOLS must be the range asked for (the first: any length from 0). */
    if (m->type == RECON_MSG_SYMBOLS &&
        (m->start != s->dec.n ||
         (s->symbols_asked != 0 && m->start + m->n_symbols != s->symbols_asked)))
        return GOSSIP_ERR_MALFORMED;
    if (m->type == RECON_MSG_MORE && m->end <= s->symbols_sent)
        return GOSSIP_ERR_MALFORMED;
    return 0;
}

int recon_session_recv(recon_session *s, const uint8_t *msg, size_t len, const uint8_t **out,
                       size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    recon_msg m;
    int rc = recon_parse(msg, len, &s->lim, &m);
    if (rc == 0)
        rc = acceptable(s, &m);
    if (rc != 0) {
        s->stats.rejected++;
        return rc;
    }
    s->stats.bytes_received += len;
    s->stats.messages_received++;
    bool reply = true, requests = false;
    switch (m.type) {
    case RECON_MSG_HELLO:
        rc = on_hello(s, &m, &requests);
        break;
    case RECON_MSG_DONE:
        reply = false;
        break;
    case RECON_MSG_SYMBOLS:
        rc = recon_iblt_receive(s, &m, &requests);
        break;
    case RECON_MSG_MORE:
        rc = recon_iblt_send(s, s->symbols_sent, m.end);
        requests = true;
        break;
    case RECON_MSG_EXCHANGE:
        rc = on_exchange(s, &m, &reply, &requests);
        break;
    }
    if (rc != 0)
        return rc;
    if (reply) {
        rc = give(s, out, out_len);
        if (rc != 0)
            return rc;
    }
    if (!reply || !requests)
        s->expect = 0;
    else if (s->stats.method == RECON_IBLT && s->initiator && m.type == RECON_MSG_SYMBOLS &&
             s->dec.n < s->symbols_asked)
        s->expect = EXPECT(RECON_MSG_SYMBOLS) | EXPECT(RECON_MSG_DONE);
    else if (!s->initiator && s->stats.method == RECON_IBLT)
        s->expect = EXPECT(RECON_MSG_MORE) | ANY_REPLY;
    else
        s->expect = ANY_REPLY;
    return 0;
}
