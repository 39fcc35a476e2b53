/*
 * blob_engine.c -- the large-payload engine's life cycle, its stored
 * payloads, serving GETDATA, and announcing what it holds.  Fetching what
 * it lacks is blob_fetch.c.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/blob_internal.h"

void blob_settings_init(blob_settings *s)
{
    memset(s, 0, sizeof *s);
    s->struct_version = BLOB_SETTINGS_VERSION;
    s->chunking.min_size = BLOB_DEFAULT_MIN_CHUNK;
    s->chunking.avg_size = BLOB_DEFAULT_AVG_CHUNK;
    s->chunking.max_size = BLOB_DEFAULT_MAX_CHUNK;
    s->max_payload = BLOB_DEFAULT_MAX_PAYLOAD;
    s->max_store_bytes = UINT64_C(1) << 30;
    s->fetch_mode = BLOB_FETCH_COMPACT;
    s->announce_fanout = 3;
    s->announce_rounds = 4;
    s->announce_interval_ms = 500;
    s->max_inflight_per_peer = 32;
    s->max_inflight_total = 128;
    s->max_pending = 4;
    s->max_sources = 8;
    s->max_holders = 32;
    s->request_timeout_ms = 5000;
    s->fetch_timeout_ms = 60000;
}

static int check_settings(const blob_settings *s)
{
    if (s->struct_version != BLOB_SETTINGS_VERSION || blob_chunking_check(&s->chunking) != 0 ||
        s->max_payload == 0 || s->max_payload > BLOB_CEIL_MAX_PAYLOAD ||
        s->fetch_mode > BLOB_FETCH_FULL || s->max_inflight_per_peer == 0 ||
        s->max_inflight_per_peer > BLOB_MAX_INDEXES || s->max_inflight_total == 0 ||
        s->max_pending == 0 || s->max_pending > 1024 || s->max_sources == 0 ||
        s->max_sources > BLOB_MAX_SOURCES || s->max_holders == 0 ||
        s->max_holders > 65536 || s->request_timeout_ms == 0 || s->fetch_timeout_ms == 0)
        return GOSSIP_ERR_INVALID;
    return 0;
}

int blob_engine_new(const blob_settings *s, const blob_callbacks *cb, blob_engine **out)
{
    if (!s || !cb || !cb->send || !out || check_settings(s) != 0)
        return GOSSIP_ERR_INVALID;
    const gossip_allocator *a = s->allocator ? s->allocator : gossip_default_allocator();
    blob_engine *e = ga_malloc(a, sizeof *e);
    if (!e)
        return GOSSIP_ERR_NOMEM;
    memset(e, 0, sizeof *e);
    e->s = *s;
    e->cb = *cb;
    e->a = a;
    blob_limits_from(s, &e->lim);
    gossip_rng_seed(&e->rng, s->seed);
    blob_store_init(&e->store, a);
    blob_buf_init(&e->out, a);
    e->fetches = ga_malloc(a, s->max_pending * sizeof *e->fetches);
    e->peers = ga_malloc(a, BLOB_PEER_LIST_CAP * sizeof *e->peers);
    e->batch = ga_malloc(a, (size_t)s->max_sources * s->max_inflight_per_peer *
                                sizeof *e->batch);
    e->batch_n = ga_malloc(a, s->max_sources * sizeof *e->batch_n);
    if (!e->fetches || !e->peers || !e->batch || !e->batch_n) {
        blob_engine_free(e);
        return GOSSIP_ERR_NOMEM;
    }
    *out = e;
    return 0;
}

static void payload_free(blob_engine *e, blob_payload *p)
{
    for (uint32_t i = 0; i < p->count; i++)
        blob_store_unref(&e->store, p->chunks[i]);
    ga_free(e->a, p->chunks);
    ga_free(e->a, p->holders);
    ga_free(e->a, p);
}

void blob_engine_free(blob_engine *e)
{
    if (!e)
        return;
    if (e->fetches)
        blob_fetch_free_all(e);
    for (uint32_t i = 0; i < e->n_payloads; i++)
        payload_free(e, e->payloads[i]);
    ga_free(e->a, e->payloads);
    blob_store_free(&e->store);
    blob_buf_free(&e->out);
    ga_free(e->a, e->fetches);
    ga_free(e->a, e->peers);
    ga_free(e->a, e->batch);
    ga_free(e->a, e->batch_n);
    ga_free(e->a, e->ids);
    ga_free(e->a, e);
}

/* ---- sending -------------------------------------------------------------- */

int blob_send(blob_engine *e, uint64_t peer)
{
    if (e->out.err) {
        e->st.send_errors++;
        return e->out.err;
    }
    uint8_t type = e->out.p[3];
    e->st.msgs_sent[type < BLOB_MSG_TYPE_COUNT ? type : 0]++;
    e->st.bytes_sent += e->out.len;
    if (e->cb.send(e->cb.ud, peer, e->out.p, e->out.len) != 0) {
        e->st.send_errors++;
        return GOSSIP_ERR_INVALID;
    }
    return 0;
}

/* ---- stored payloads -------------------------------------------------------- */

blob_payload *blob_find_payload(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES])
{
    for (uint32_t i = 0; i < e->n_payloads; i++) {
        if (memcmp(e->payloads[i]->hash, hash, BLOB_HASH_BYTES) == 0)
            return e->payloads[i];
    }
    return NULL;
}

bool blob_store_has_room(const blob_engine *e, uint64_t bytes)
{
    return e->s.max_store_bytes == 0 || e->store.bytes + bytes <= e->s.max_store_bytes;
}

int blob_add_payload(blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size,
                     uint32_t count, blob_chunk **chunks, blob_payload **out)
{
    if (e->n_payloads == e->cap_payloads) {
        uint32_t cap = e->cap_payloads ? 2 * e->cap_payloads : 16;
        blob_payload **p = ga_realloc(e->a, e->payloads, cap * sizeof *p);
        if (!p)
            return GOSSIP_ERR_NOMEM;
        e->payloads = p;
        e->cap_payloads = cap;
    }
    blob_payload *p = ga_malloc(e->a, sizeof *p);
    uint64_t *holders = ga_malloc(e->a, e->s.max_holders * sizeof *holders);
    if (!p || !holders) {
        ga_free(e->a, p);
        ga_free(e->a, holders);
        return GOSSIP_ERR_NOMEM;
    }
    memset(p, 0, sizeof *p);
    memcpy(p->hash, hash, BLOB_HASH_BYTES);
    p->size = size;
    p->count = count;
    p->chunks = chunks;
    p->holders = holders;
    e->payloads[e->n_payloads++] = p;
    *out = p;
    return 0;
}

void blob_add_holder(blob_engine *e, blob_payload *p, uint64_t peer)
{
    for (uint32_t i = 0; i < p->n_holders; i++) {
        if (p->holders[i] == peer)
            return;
    }
    if (p->n_holders < e->s.max_holders) {
        p->holders[p->n_holders++] = peer;
    } else {
        p->holders[p->next_holder] = peer; /* forget the oldest */
        p->next_holder = (p->next_holder + 1) % e->s.max_holders;
    }
}

static bool is_holder(const blob_payload *p, uint64_t peer)
{
    for (uint32_t i = 0; i < p->n_holders; i++) {
        if (p->holders[i] == peer)
            return true;
    }
    return false;
}

/* One round: INV to up to k peers not known to hold the payload. */
static void announce_round(blob_engine *e, blob_payload *p)
{
    if (!e->cb.list_peers || e->s.announce_fanout == 0)
        return;
    uint32_t n = e->cb.list_peers(e->cb.ud, e->peers, BLOB_PEER_LIST_CAP);
    if (n > BLOB_PEER_LIST_CAP)
        n = BLOB_PEER_LIST_CAP;
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!is_holder(p, e->peers[i]))
            e->peers[m++] = e->peers[i];
    }
    if (m == 0 || blob_encode_inv(&e->out, p->hash, p->size, p->count) != 0)
        return;
    uint32_t k = e->s.announce_fanout < m ? e->s.announce_fanout : m;
    for (uint32_t i = 0; i < k; i++) { /* partial Fisher-Yates */
        uint32_t j = i + (uint32_t)gossip_rng_below(&e->rng, m - i);
        uint64_t t = e->peers[i];
        e->peers[i] = e->peers[j];
        e->peers[j] = t;
        blob_add_holder(e, p, e->peers[i]);
        blob_send(e, e->peers[i]);
    }
}

void blob_announce_start(blob_engine *e, blob_payload *p, uint64_t now_ms)
{
    announce_round(e, p);
    p->rounds_left = e->s.announce_rounds;
    p->next_announce_ms = now_ms + e->s.announce_interval_ms;
}

/* ---- storing ---------------------------------------------------------------- */

int blob_engine_put(blob_engine *e, const uint8_t *data, size_t len, unsigned flags,
                    uint64_t now_ms, uint8_t hash_out[BLOB_HASH_BYTES])
{
    if (!e || (!data && len) || !hash_out)
        return GOSSIP_ERR_INVALID;
    if (len == 0)
        return GOSSIP_ERR_INVALID;
    if (len > e->s.max_payload)
        return GOSSIP_ERR_OVERSIZE;
    /* Cut once to count, so the arrays are exact. */
    uint32_t count = 0;
    for (size_t off = 0; off < len; count++)
        off += blob_chunk_cut(&e->s.chunking, data + off, len - off);
    uint8_t *hashes = ga_malloc(e->a, (size_t)count * BLOB_HASH_BYTES);
    uint32_t *lens = ga_malloc(e->a, (size_t)count * sizeof *lens);
    blob_chunk **chunks = ga_malloc(e->a, (size_t)count * sizeof *chunks);
    int rc = GOSSIP_ERR_NOMEM;
    if (!hashes || !lens || !chunks)
        goto out;
    size_t off = 0;
    uint64_t new_bytes = 0;
    for (uint32_t i = 0; i < count; i++) {
        lens[i] = (uint32_t)blob_chunk_cut(&e->s.chunking, data + off, len - off);
        blob_hash_chunk(data + off, lens[i], hashes + (size_t)i * BLOB_HASH_BYTES);
        if (!blob_store_find(&e->store, hashes + (size_t)i * BLOB_HASH_BYTES))
            new_bytes += lens[i];
        off += lens[i];
    }
    blob_hash_manifest(len, count, hashes, lens, hash_out);
    blob_payload *p = blob_find_payload(e, hash_out);
    if (p) {
        rc = 0;
        if (flags & BLOB_PUT_ANNOUNCE)
            blob_announce_start(e, p, now_ms);
        goto out;
    }
    if (!blob_store_has_room(e, new_bytes)) {
        rc = GOSSIP_ERR_FULL;
        goto out;
    }
    off = 0;
    for (uint32_t i = 0; i < count; i++) {
        chunks[i] = blob_store_ref(&e->store, hashes + (size_t)i * BLOB_HASH_BYTES, data + off,
                                   lens[i], (flags & BLOB_PUT_BORROW) != 0);
        if (!chunks[i]) {
            while (i-- > 0)
                blob_store_unref(&e->store, chunks[i]);
            goto out;
        }
        off += lens[i];
    }
    if ((rc = blob_add_payload(e, hash_out, len, count, chunks, &p)) != 0) {
        for (uint32_t i = 0; i < count; i++)
            blob_store_unref(&e->store, chunks[i]);
        goto out;
    }
    chunks = NULL; /* the payload owns them */
    blob_fetch *f = blob_fetch_find(e, hash_out);
    if (f)
        blob_fetch_cancel(e, f);
    if (flags & BLOB_PUT_ANNOUNCE)
        blob_announce_start(e, p, now_ms);
out:
    ga_free(e->a, hashes);
    ga_free(e->a, lens);
    ga_free(e->a, chunks);
    return rc;
}

int blob_engine_stat(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES],
                     uint64_t *size)
{
    const blob_payload *p = e && hash ? blob_find_payload(e, hash) : NULL;
    if (!p)
        return GOSSIP_ERR_NOT_FOUND;
    if (size)
        *size = p->size;
    return 0;
}

int blob_engine_read(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES], uint8_t *out,
                     size_t cap)
{
    const blob_payload *p = e && hash ? blob_find_payload(e, hash) : NULL;
    if (!p)
        return GOSSIP_ERR_NOT_FOUND;
    if (cap < p->size || !out)
        return GOSSIP_ERR_NO_SPACE;
    size_t off = 0;
    for (uint32_t i = 0; i < p->count; i++) {
        memcpy(out + off, p->chunks[i]->data, p->chunks[i]->len);
        off += p->chunks[i]->len;
    }
    return 0;
}

bool blob_engine_pending(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES])
{
    return e && hash && blob_fetch_find(e, hash) != NULL;
}

void blob_engine_stats(const blob_engine *e, blob_stats *out)
{
    *out = e->st;
    out->store_bytes = e->store.bytes;
    out->store_chunks = e->store.count;
}

/* ---- serving ------------------------------------------------------------------ */

static void send_compact(blob_engine *e, uint64_t peer, const blob_payload *p)
{
    if (e->ids_cap < p->count) {
        uint64_t *ids = ga_realloc(e->a, e->ids, (size_t)p->count * sizeof *ids);
        if (!ids) {
            e->st.send_errors++;
            return;
        }
        e->ids = ids;
        e->ids_cap = p->count;
    }
    uint64_t nonce = gossip_rng_next(&e->rng);
    uint8_t key[16];
    blob_short_id_key(p->hash, nonce, key);
    for (uint32_t i = 0; i < p->count; i++)
        e->ids[i] = blob_short_id(key, p->chunks[i]->hash);
    blob_encode_compact(&e->out, p->hash, p->size, p->count, nonce, e->ids);
    blob_send(e, peer);
}

static void send_manifest(blob_engine *e, uint64_t peer, const blob_payload *p)
{
    uint8_t *hashes = ga_malloc(e->a, (size_t)p->count * BLOB_HASH_BYTES);
    uint32_t *lens = ga_malloc(e->a, (size_t)p->count * sizeof *lens);
    if (hashes && lens) {
        for (uint32_t i = 0; i < p->count; i++) {
            memcpy(hashes + (size_t)i * BLOB_HASH_BYTES, p->chunks[i]->hash, BLOB_HASH_BYTES);
            lens[i] = p->chunks[i]->len;
        }
        blob_encode_manifest(&e->out, p->hash, p->size, p->count, hashes, lens);
        blob_send(e, peer);
    } else {
        e->st.send_errors++;
    }
    ga_free(e->a, hashes);
    ga_free(e->a, lens);
}

static void serve(blob_engine *e, uint64_t peer, const blob_msg *m)
{
    blob_payload *p = blob_find_payload(e, m->hash);
    if (!p) {
        if (blob_encode_request(&e->out, BLOB_MSG_NOTFOUND, m->hash, m->want, m->indexes,
                                m->n_indexes) == 0)
            blob_send(e, peer);
        return;
    }
    blob_add_holder(e, p, peer); /* it will have it soon: no need to announce to it */
    if (m->want == BLOB_WANT_COMPACT) {
        send_compact(e, peer, p);
        return;
    }
    if (m->want == BLOB_WANT_MANIFEST) {
        send_manifest(e, peer, p);
        return;
    }
    /* Out-of-range indexes are answered together in one NOTFOUND; the
     * scratch batch is free while serving. */
    uint32_t missing = 0;
    uint32_t missing_cap = e->s.max_sources * e->s.max_inflight_per_peer;
    for (uint32_t i = 0; i < m->n_indexes; i++) {
        uint32_t idx = m->indexes[i];
        if (idx >= p->count) {
            if (missing < missing_cap)
                e->batch[missing++] = idx;
            continue;
        }
        const blob_chunk *c = p->chunks[idx];
        if (blob_encode_chunk(&e->out, p->hash, idx, c->data, c->len) == 0 &&
            blob_send(e, peer) == 0)
            e->st.payloads_served_chunks++;
    }
    if (missing && blob_encode_request(&e->out, BLOB_MSG_NOTFOUND, p->hash, BLOB_WANT_CHUNKS,
                                       e->batch, missing) == 0)
        blob_send(e, peer);
}

/* ---- receiving ------------------------------------------------------------------ */

int blob_engine_recv(blob_engine *e, uint64_t peer, const uint8_t *msg, size_t len,
                     uint64_t now_ms)
{
    if (!e || (!msg && len))
        return GOSSIP_ERR_INVALID;
    e->st.bytes_recv += len;
    int rc = blob_decode(msg, len, &e->lim, &e->msg);
    if (rc) {
        e->st.recv_errors++;
        if (rc == GOSSIP_ERR_OVERSIZE)
            e->st.oversize_rejected++;
        return rc;
    }
    const blob_msg *m = &e->msg;
    e->st.msgs_recv[m->type]++;
    switch (m->type) {
    case BLOB_MSG_INV: {
        blob_payload *p = blob_find_payload(e, m->hash);
        if (p)
            blob_add_holder(e, p, peer);
        else
            blob_fetch_on_inv(e, peer, m, now_ms);
        break;
    }
    case BLOB_MSG_COMPACT:
    case BLOB_MSG_MANIFEST: {
        blob_payload *p = blob_find_payload(e, m->hash);
        if (p)
            blob_add_holder(e, p, peer);
        else
            blob_fetch_on_list(e, peer, m, now_ms);
        break;
    }
    case BLOB_MSG_GETDATA: serve(e, peer, m); break;
    case BLOB_MSG_CHUNK: blob_fetch_on_chunk(e, peer, m, now_ms); break;
    case BLOB_MSG_NOTFOUND: blob_fetch_on_notfound(e, peer, m, now_ms); break;
    default: break;
    }
    return 0;
}

/* ---- time --------------------------------------------------------------------- */

void blob_engine_tick(blob_engine *e, uint64_t now_ms)
{
    if (!e)
        return;
    for (uint32_t i = 0; i < e->n_payloads; i++) {
        blob_payload *p = e->payloads[i];
        if (p->rounds_left > 0 && now_ms >= p->next_announce_ms) {
            announce_round(e, p);
            p->rounds_left--;
            p->next_announce_ms = now_ms + e->s.announce_interval_ms;
        }
    }
    blob_fetch_tick(e, now_ms);
}

uint64_t blob_engine_next_deadline(const blob_engine *e)
{
    uint64_t d = blob_fetch_deadline(e);
    for (uint32_t i = 0; i < e->n_payloads; i++) {
        const blob_payload *p = e->payloads[i];
        if (p->rounds_left > 0 && p->next_announce_ms < d)
            d = p->next_announce_ms;
    }
    return d;
}

void blob_engine_peer_gone(blob_engine *e, uint64_t peer, uint64_t now_ms)
{
    if (e)
        blob_fetch_peer_gone(e, peer, now_ms);
}

int blob_engine_fetch(blob_engine *e, uint64_t peer, const uint8_t hash[BLOB_HASH_BYTES],
                      uint64_t now_ms)
{
    if (!e || !hash)
        return GOSSIP_ERR_INVALID;
    if (blob_find_payload(e, hash))
        return 0;
    return blob_fetch_start(e, peer, hash, 0, 0, now_ms);
}
