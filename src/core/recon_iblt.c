/*
 * recon_iblt.c -- the rateless-IBLT exchange of an anti-entropy session.
 *
 *   responder: SYMBOLS [0, m1)  with m1 = first_batch * estimate
 *   initiator: subtracts its own symbols and peels; if stuck, MORE (end)
 *   responder: SYMBOLS [m, end)
 *   initiator: once decoded, one EXCHANGE: its entries the responder lacks
 *              or holds older, and WANTS for the keys the responder holds
 *              newer; the responder answers the wants with ENTRIES.
 *
 * Both sides encode their symbols from the whole index for every batch:
 * O(n log m) work, no per-session state beyond the decoder.  If the
 * decoder is still stuck at max_symbols, or finds the symbols inconsistent
 * (a key decoded twice), the initiator falls back to the Merkle descent in
 * the same session by sending its own LEVEL.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/recon_internal.h"

uint64_t recon_iblt_first_batch(const recon_session *s, double estimate)
{
    double d = estimate < 1 ? 1 : estimate;
    double m = ceil(s->cfg.first_batch * d);
    if (m < s->cfg.min_symbols)
        return s->cfg.min_symbols;
    if (m > s->cfg.max_symbols)
        return s->cfg.max_symbols;
    return (uint64_t)m;
}

/* Symbols, the wants and the headers of the four messages; two round
 * trips. */
uint64_t recon_predict_iblt(const recon_session *s, double estimate)
{
    double d = estimate < 1 ? 1 : estimate;
    double symbols = (double)recon_iblt_first_batch(s, estimate);
    double bytes = IBLT_SYMBOL_BYTES * symbols + 8 * d / 2 + 4 * RECON_HEADER_BYTES + 16;
    return (uint64_t)(bytes + 2 * s->cfg.rtt_bytes);
}

struct encode_ctx {
    iblt_sym *syms;
    uint64_t from, to;
};

static void encode_visit(void *arg, const merkle_rec *r)
{
    const struct encode_ctx *c = arg;
    iblt_sym item;
    iblt_item(r->khash, r->version, &item);
    iblt_encode(c->syms, c->from, c->to, r->khash, &item, +1);
}

/* Our symbols [from, to) into s->syms. */
static int encode_own(recon_session *s, uint64_t from, uint64_t to)
{
    size_t n = (size_t)(to - from);
    if (n > s->syms_cap) {
        iblt_sym *p = ga_realloc(s->alloc, s->syms, n * sizeof *p);
        if (p == NULL)
            return GOSSIP_ERR_NOMEM;
        s->syms = p;
        s->syms_cap = n;
    }
    memset(s->syms, 0, n * sizeof *s->syms);
    struct encode_ctx c = {s->syms, from, to};
    merkle_each(&s->store.index->tree, encode_visit, &c);
    return 0;
}

int recon_iblt_send(recon_session *s, uint64_t from, uint64_t to)
{
    if (to > s->cfg.max_symbols)
        to = s->cfg.max_symbols;
    if (to <= from)
        return GOSSIP_ERR_INVALID;
    int rc = encode_own(s, from, to);
    if (rc != 0)
        return rc;
    recon_begin_message(&s->out, RECON_MSG_SYMBOLS);
    recon_put_varint(&s->out, from);
    recon_put_varint(&s->out, to - from);
    uint8_t *p = recon_put_space(&s->out, (size_t)(to - from) * IBLT_SYMBOL_BYTES);
    if (p != NULL)
        for (uint64_t i = 0; i < to - from; i++)
            iblt_sym_write(p + i * IBLT_SYMBOL_BYTES, &s->syms[i]);
    recon_end_message(&s->out);
    if (s->out.err)
        return s->out.err;
    s->symbols_sent = to;
    s->stats.symbols += to - from;
    s->stats.symbol_batches++;
    return 0;
}

/* After a batch that did not decode: grow by more_batch / first_batch of
 * what we hold (the estimate was a little low), or straight to
 * first_batch times what the zero symbols say the difference is (it was
 * far off). */
static uint64_t next_end(const recon_session *s)
{
    const iblt_decoder *d = &s->dec;
    double step = ceil((double)d->n * s->cfg.more_batch / s->cfg.first_batch);
    if (step < s->cfg.min_symbols)
        step = s->cfg.min_symbols;
    double end = (double)d->n + step;
    double target = ceil(s->cfg.first_batch * iblt_decoder_estimate(d));
    if (target > end)
        end = target;
    if (end > s->cfg.max_symbols)
        end = s->cfg.max_symbols;
    return (uint64_t)end;
}

/* The decoded difference tells which way every differing key goes. */
static int finish(recon_session *s, bool *requests)
{
    recon_sections_reset(s);
    s->stats.differences = s->dec.n_items;
    for (size_t i = 0; i < s->dec.n_items; i++) {
        const iblt_diff *x = &s->dec.items[i];
        int newer = !x->remote ? 1 : !x->local ? -1 : recon_version_cmp(x->local_v, x->remote_v);
        if (newer > 0) {
            int rc = recon_add_entry(s, x->khash, x->local_v);
            if (rc != 0)
                return rc;
        } else if (newer < 0) {
            recon_put_u64(&s->sec[RECON_SEC_WANTS], x->khash);
            s->sec_n[RECON_SEC_WANTS]++;
        }
    }
    return recon_sections_emit(s, requests);
}

static int fall_back(recon_session *s, bool *requests)
{
    s->stats.fell_back = true;
    s->stats.method = RECON_MERKLE;
    s->symbols_asked = s->dec.n;
    recon_sections_reset(s);
    const merkle_tree *t = &s->store.index->tree;
    double estimate = (double)s->dec.n / s->cfg.first_batch;
    int rc = recon_merkle_level(s, recon_merkle_first_level(estimate, merkle_count(t)));
    return rc != 0 ? rc : recon_sections_emit(s, requests);
}

int recon_iblt_receive(recon_session *s, const recon_msg *m, bool *requests)
{
    if (s->dec.n == 0)
        s->stats.method = RECON_IBLT;
    uint64_t from = m->start, to = m->start + m->n_symbols;
    int rc = encode_own(s, from, to);
    if (rc != 0)
        return rc;
    for (uint64_t i = 0; i < to - from; i++) {
        iblt_sym theirs;
        iblt_sym_read(m->symbols + i * IBLT_SYMBOL_BYTES, &theirs); /* checked by recon_parse */
        iblt_sym_sub(&s->syms[i], &theirs);
    }
    rc = iblt_decoder_add(&s->dec, s->syms, to - from);
    if (rc != 0)
        return rc;
    s->symbols_asked = s->dec.n;
    s->stats.symbols += to - from;
    s->stats.symbol_batches++;
    if (iblt_decoder_complete(&s->dec))
        return finish(s, requests);
    if (s->dec.corrupt || s->dec.n >= s->cfg.max_symbols)
        return fall_back(s, requests);
    uint64_t end = next_end(s);
    recon_begin_message(&s->out, RECON_MSG_MORE);
    recon_put_varint(&s->out, end);
    recon_end_message(&s->out);
    s->symbols_asked = end;
    *requests = true;
    return s->out.err;
}
