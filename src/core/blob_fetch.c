/*
 * blob_fetch.c -- pulling a payload we lack (docs/large-payloads.md,
 * "Fetching").
 *
 * An INV names a payload; we ask one announcer for its chunk list (COMPACT
 * short IDs, or the MANIFEST of full hashes), fill every slot we can from
 * the chunk store, and request the rest by index, spread over the
 * announcers: each request goes to the source with the most room under
 * max_inflight_per_peer, within max_inflight_total.  Every arriving chunk is
 * checked at once -- against its manifest hash, or against its short ID
 * when only the compact list is known -- and a source that serves a chunk
 * that fails is dropped for this payload and its requests go elsewhere.
 * When all slots are full, a compact fetch checks the payload hash; if that
 * fails (a short-ID collision with a local chunk, or a forged chunk that
 * matched a 48-bit short ID) it asks for the manifest, which names the bad
 * slots exactly, and refetches them.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blob_internal.h"

blob_fetch *blob_fetch_find(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES])
{
    for (uint32_t i = 0; i < e->n_fetches; i++) {
        if (memcmp(e->fetches[i]->hash, hash, BLOB_HASH_BYTES) == 0)
            return e->fetches[i];
    }
    return NULL;
}

static void fetch_free(blob_engine *e, blob_fetch *f)
{
    if (f->slots) {
        for (uint32_t i = 0; i < f->count; i++) {
            if (f->slots[i].chunk)
                blob_store_unref(&e->store, f->slots[i].chunk);
        }
    }
    e->inflight_total -= f->n_inflight;
    ga_free(e->a, f->slots);
    ga_free(e->a, f->expected);
    ga_free(e->a, f->expected_len);
    ga_free(e->a, f);
}

static void fetch_remove(blob_engine *e, blob_fetch *f)
{
    for (uint32_t i = 0; i < e->n_fetches; i++) {
        if (e->fetches[i] == f) {
            memmove(&e->fetches[i], &e->fetches[i + 1],
                    (e->n_fetches - i - 1) * sizeof *e->fetches);
            e->n_fetches--;
            return;
        }
    }
}

void blob_fetch_cancel(blob_engine *e, blob_fetch *f)
{
    fetch_remove(e, f);
    fetch_free(e, f);
}

static void fetch_abandon(blob_engine *e, blob_fetch *f)
{
    e->st.payloads_abandoned++;
    blob_fetch_cancel(e, f);
}

void blob_fetch_free_all(blob_engine *e)
{
    for (uint32_t i = 0; i < e->n_fetches; i++)
        fetch_free(e, e->fetches[i]);
    e->n_fetches = 0;
}

/* ---- sources ---------------------------------------------------------------- */

static int source_index(const blob_fetch *f, uint64_t peer)
{
    for (uint32_t j = 0; j < f->n_sources; j++) {
        if (f->sources[j].peer == peer)
            return (int)j;
    }
    return -1;
}

static int add_source(const blob_engine *e, blob_fetch *f, uint64_t peer)
{
    int j = source_index(f, peer);
    if (j >= 0 || f->n_sources >= e->s.max_sources)
        return j;
    fetch_source *s = &f->sources[f->n_sources];
    memset(s, 0, sizeof *s);
    s->peer = peer;
    return (int)f->n_sources++;
}

static uint32_t peer_inflight(const blob_engine *e, uint64_t peer)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->n_fetches; i++) {
        const blob_fetch *f = e->fetches[i];
        int j = source_index(f, peer);
        if (j >= 0)
            n += f->sources[j].inflight;
    }
    return n;
}

/* Asks a usable source, the one with fewest timeouts, for the chunk list:
 * the compact list in compact mode, otherwise (and to verify) the
 * manifest. */
static void request_list(blob_engine *e, blob_fetch *f, uint64_t now_ms)
{
    int best = -1;
    for (uint32_t t = 0; t < f->n_sources; t++) {
        uint32_t j = (f->rotor + t) % f->n_sources;
        const fetch_source *s = &f->sources[j];
        if (!s->dropped && (best < 0 || s->strikes < f->sources[best].strikes))
            best = (int)j;
    }
    f->list_source = best;
    if (best < 0)
        return; /* wait for another announcer */
    f->rotor = ((uint32_t)best + 1) % f->n_sources;
    f->list_want = f->phase == FETCH_LIST && e->s.fetch_mode == BLOB_FETCH_COMPACT
                       ? BLOB_WANT_COMPACT
                       : BLOB_WANT_MANIFEST;
    f->list_deadline = now_ms + e->s.request_timeout_ms;
    if (blob_encode_request(&e->out, BLOB_MSG_GETDATA, f->hash, f->list_want, NULL, 0) == 0)
        blob_send(e, f->sources[best].peer);
}

static void slot_unflight(blob_engine *e, blob_fetch *f, uint32_t i)
{
    fetch_slot *sl = &f->slots[i];
    f->sources[sl->source].inflight--;
    f->n_inflight--;
    e->inflight_total--;
    sl->state = SLOT_MISSING;
    if (i < f->scan)
        f->scan = i;
}

/* The source is given up for this payload; `bad` counts it as misbehaving. */
static void drop_source(blob_engine *e, blob_fetch *f, int j, bool bad, uint64_t now_ms)
{
    fetch_source *s = &f->sources[j];
    if (s->dropped)
        return;
    s->dropped = true;
    if (bad)
        e->st.sources_dropped++;
    if (f->slots && s->inflight > 0) {
        for (uint32_t i = 0; i < f->count; i++) {
            if (f->slots[i].state == SLOT_INFLIGHT && f->slots[i].source == j)
                slot_unflight(e, f, i);
        }
    }
    if (f->phase != FETCH_CHUNKS && f->list_source == j)
        request_list(e, f, now_ms);
}

/* ---- requesting chunks ----------------------------------------------------------- */

static void pump(blob_engine *e, blob_fetch *f, uint64_t now_ms)
{
    if (f->phase != FETCH_CHUNKS || f->n_sources == 0)
        return;
    uint32_t per = e->s.max_inflight_per_peer;
    uint32_t room[BLOB_MAX_SOURCES];
    for (uint32_t j = 0; j < f->n_sources; j++) {
        uint32_t used = f->sources[j].dropped ? per : peer_inflight(e, f->sources[j].peer);
        room[j] = used >= per ? 0 : per - used;
        e->batch_n[j] = 0;
    }
    uint32_t total = e->inflight_total >= e->s.max_inflight_total
                         ? 0
                         : e->s.max_inflight_total - e->inflight_total;
    while (f->scan < f->count && f->slots[f->scan].state != SLOT_MISSING)
        f->scan++;
    uint64_t deadline = now_ms + e->s.request_timeout_ms;
    for (uint32_t i = f->scan; i < f->count && total > 0; i++) {
        fetch_slot *sl = &f->slots[i];
        if (sl->state != SLOT_MISSING)
            continue;
        int best = -1;
        for (uint32_t t = 0; t < f->n_sources; t++) {
            uint32_t j = (f->rotor + t) % f->n_sources;
            if (room[j] > 0 && (best < 0 || room[j] > room[best]))
                best = (int)j;
        }
        if (best < 0)
            break;
        f->rotor = ((uint32_t)best + 1) % f->n_sources;
        room[best]--;
        total--;
        sl->state = SLOT_INFLIGHT;
        sl->source = (uint8_t)best;
        sl->deadline = deadline;
        f->sources[best].inflight++;
        f->n_inflight++;
        e->inflight_total++;
        e->batch[(size_t)best * per + e->batch_n[best]++] = i;
    }
    for (uint32_t j = 0; j < f->n_sources; j++) {
        if (e->batch_n[j] == 0)
            continue;
        if (blob_encode_request(&e->out, BLOB_MSG_GETDATA, f->hash, BLOB_WANT_CHUNKS,
                                e->batch + (size_t)j * per, e->batch_n[j]) == 0)
            blob_send(e, f->sources[j].peer);
    }
}

/* ---- completing ------------------------------------------------------------------ */

/* Every slot is full.  Returns after freeing `f` in every case but one: a
 * compact fetch whose payload hash fails waits for the manifest. */
static void complete(blob_engine *e, blob_fetch *f, uint64_t now_ms)
{
    if (!f->expected) {
        uint8_t *hashes = ga_malloc(e->a, (size_t)f->count * BLOB_HASH_BYTES);
        uint32_t *lens = ga_malloc(e->a, (size_t)f->count * sizeof *lens);
        if (!hashes || !lens) {
            ga_free(e->a, hashes);
            ga_free(e->a, lens);
            fetch_abandon(e, f);
            return;
        }
        uint64_t sum = 0;
        for (uint32_t i = 0; i < f->count; i++) {
            memcpy(hashes + (size_t)i * BLOB_HASH_BYTES, f->slots[i].chunk->hash,
                   BLOB_HASH_BYTES);
            lens[i] = f->slots[i].chunk->len;
            sum += lens[i];
        }
        uint8_t got[BLOB_HASH_BYTES];
        blob_hash_manifest(sum, f->count, hashes, lens, got);
        ga_free(e->a, hashes);
        ga_free(e->a, lens);
        if (sum != f->size || memcmp(got, f->hash, BLOB_HASH_BYTES) != 0) {
            e->st.manifest_fallbacks++;
            f->phase = FETCH_VERIFY;
            f->last_progress = now_ms;
            request_list(e, f, now_ms);
            return;
        }
    }
    blob_chunk **chunks = ga_malloc(e->a, (size_t)f->count * sizeof *chunks);
    blob_payload *p = NULL;
    if (!chunks) {
        fetch_abandon(e, f);
        return;
    }
    for (uint32_t i = 0; i < f->count; i++)
        chunks[i] = f->slots[i].chunk;
    if (blob_add_payload(e, f->hash, f->size, f->count, chunks, &p) != 0) {
        ga_free(e->a, chunks);
        fetch_abandon(e, f);
        return;
    }
    for (uint32_t i = 0; i < f->count; i++)
        f->slots[i].chunk = NULL; /* the payload's references now */
    for (uint32_t j = 0; j < f->n_sources; j++)
        blob_add_holder(e, p, f->sources[j].peer);
    fetch_remove(e, f);
    fetch_free(e, f);
    e->st.payloads_completed++;
    if (e->cb.stored)
        e->cb.stored(e->cb.ud, p->hash, p->size);
    blob_announce_start(e, p, now_ms);
}

/* ---- the list --------------------------------------------------------------------- */

typedef struct sid_entry {
    uint64_t sid;
    blob_chunk *chunk;
} sid_entry;

static int sid_cmp(const void *a, const void *b)
{
    uint64_t x = ((const sid_entry *)a)->sid, y = ((const sid_entry *)b)->sid;
    return x < y ? -1 : x > y;
}

static void fill_slot(blob_engine *e, blob_fetch *f, uint32_t i, blob_chunk *c)
{
    c->refs++;
    f->slots[i].chunk = c;
    f->slots[i].state = SLOT_HAVE;
    f->slots[i].source = BLOB_SOURCE_LOCAL;
    f->n_have++;
    e->st.chunks_local++;
}

/* Short IDs of everything in the store under this list's key, sorted; a
 * slot whose short ID names exactly one local chunk takes it. */
static void match_compact(blob_engine *e, blob_fetch *f)
{
    if (e->store.count == 0)
        return;
    sid_entry *t = ga_malloc(e->a, (size_t)e->store.count * sizeof *t);
    if (!t)
        return; /* fetch everything instead */
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->store.cap; i++) {
        blob_chunk *c = blob_store_slot(&e->store, i);
        if (c) {
            t[n].sid = blob_short_id(f->key, c->hash);
            t[n++].chunk = c;
        }
    }
    qsort(t, n, sizeof *t, sid_cmp);
    for (uint32_t i = 0; i < f->count; i++) {
        uint64_t sid = f->slots[i].short_id;
        uint32_t lo = 0, hi = n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (t[mid].sid < sid)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == n || t[lo].sid != sid)
            continue;
        if (lo + 1 < n && t[lo + 1].sid == sid) {
            e->st.short_id_ambiguous++; /* two candidates: ask for the chunk */
            continue;
        }
        fill_slot(e, f, i, t[lo].chunk);
    }
    ga_free(e->a, t);
}

static int take_manifest(blob_engine *e, blob_fetch *f, const blob_msg *m)
{
    f->expected = ga_malloc(e->a, (size_t)m->count * BLOB_HASH_BYTES);
    f->expected_len = ga_malloc(e->a, (size_t)m->count * sizeof *f->expected_len);
    if (!f->expected || !f->expected_len)
        return GOSSIP_ERR_NOMEM;
    for (uint32_t i = 0; i < m->count; i++) {
        memcpy(f->expected + (size_t)i * BLOB_HASH_BYTES, blob_msg_chunk_hash(m, i),
               BLOB_HASH_BYTES);
        f->expected_len[i] = blob_msg_chunk_len(m, i);
    }
    return 0;
}

static const uint8_t *expected_hash(const blob_fetch *f, uint32_t i)
{
    return f->expected + (size_t)i * BLOB_HASH_BYTES;
}

/* The first list of a fetch. */
static void accept_list(blob_engine *e, blob_fetch *f, const blob_msg *m, uint64_t now_ms)
{
    f->size = m->size;
    f->count = m->count;
    f->slots = ga_malloc(e->a, (size_t)m->count * sizeof *f->slots);
    if (f->slots) /* before anything can fail: fetch_free walks the slots */
        memset(f->slots, 0, (size_t)m->count * sizeof *f->slots);
    if (!f->slots || (m->type == BLOB_MSG_MANIFEST && take_manifest(e, f, m) != 0)) {
        fetch_abandon(e, f);
        return;
    }
    if (m->type == BLOB_MSG_COMPACT) {
        blob_short_id_key(f->hash, m->nonce, f->key);
        for (uint32_t i = 0; i < f->count; i++)
            f->slots[i].short_id = blob_msg_short_id(m, i);
        match_compact(e, f);
    } else if (e->s.fetch_mode == BLOB_FETCH_MANIFEST) {
        for (uint32_t i = 0; i < f->count; i++) {
            blob_chunk *c = blob_store_find(&e->store, expected_hash(f, i));
            if (c && c->len == f->expected_len[i])
                fill_slot(e, f, i, c);
        }
    }
    f->phase = FETCH_CHUNKS;
    f->list_source = -1;
    f->last_progress = now_ms;
    if (f->n_have == f->count)
        complete(e, f, now_ms);
    else
        pump(e, f, now_ms);
}

/* A compact fetch failed its payload hash; the manifest names the slots
 * that are wrong. */
static void verify_with_manifest(blob_engine *e, blob_fetch *f, const blob_msg *m,
                                 uint64_t now_ms)
{
    if (take_manifest(e, f, m) != 0) {
        fetch_abandon(e, f);
        return;
    }
    f->phase = FETCH_CHUNKS;
    f->list_source = -1;
    f->last_progress = now_ms;
    for (uint32_t i = 0; i < f->count; i++) {
        fetch_slot *sl = &f->slots[i];
        if (memcmp(sl->chunk->hash, expected_hash(f, i), BLOB_HASH_BYTES) == 0 &&
            sl->chunk->len == f->expected_len[i])
            continue;
        if (sl->source == BLOB_SOURCE_LOCAL) {
            e->st.short_id_false++;
        } else {
            e->st.chunks_bad++;
            drop_source(e, f, sl->source, true, now_ms);
        }
        blob_store_unref(&e->store, sl->chunk);
        sl->chunk = NULL;
        sl->state = SLOT_MISSING;
        f->n_have--;
        if (i < f->scan)
            f->scan = i;
    }
    if (f->n_have == f->count)
        complete(e, f, now_ms);
    else
        pump(e, f, now_ms);
}

static blob_fetch *fetch_create(blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES],
                                uint64_t size, uint32_t count, uint64_t now_ms)
{
    if (e->n_fetches >= e->s.max_pending) {
        e->st.inv_dropped_full++;
        return NULL;
    }
    blob_fetch *f = ga_malloc(e->a, sizeof *f);
    if (!f)
        return NULL;
    memset(f, 0, sizeof *f);
    memcpy(f->hash, hash, BLOB_HASH_BYTES);
    f->size = size;
    f->count = count;
    f->phase = FETCH_LIST;
    f->list_source = -1;
    f->last_progress = now_ms;
    e->fetches[e->n_fetches++] = f;
    return f;
}

int blob_fetch_start(blob_engine *e, uint64_t peer, const uint8_t hash[BLOB_HASH_BYTES],
                     uint64_t size, uint32_t count, uint64_t now_ms)
{
    blob_fetch *f = blob_fetch_find(e, hash);
    if (!f) {
        f = fetch_create(e, hash, size, count, now_ms);
        if (!f)
            return e->n_fetches >= e->s.max_pending ? GOSSIP_ERR_FULL : GOSSIP_ERR_NOMEM;
    }
    int j = add_source(e, f, peer);
    if (f->phase == FETCH_CHUNKS)
        pump(e, f, now_ms);
    else if (f->list_source < 0 && j >= 0)
        request_list(e, f, now_ms);
    return 0;
}

/* Does what `m` says about the payload agree with what we know? */
static bool consistent(const blob_fetch *f, const blob_msg *m)
{
    return f->size == 0 || (f->size == m->size && f->count == m->count);
}

void blob_fetch_on_inv(blob_engine *e, uint64_t peer, const blob_msg *m, uint64_t now_ms)
{
    blob_fetch *f = blob_fetch_find(e, m->hash);
    if (f && !consistent(f, m)) {
        e->st.recv_errors++; /* a size that contradicts the list: not a source */
        return;
    }
    blob_fetch_start(e, peer, m->hash, m->size, m->count, now_ms);
}

void blob_fetch_on_list(blob_engine *e, uint64_t peer, const blob_msg *m, uint64_t now_ms)
{
    blob_fetch *f = blob_fetch_find(e, m->hash);
    if (!f) {
        /* Unsolicited (a high-bandwidth announcement, BIP 152 style): an
         * INV with its list. */
        f = fetch_create(e, m->hash, m->size, m->count, now_ms);
        if (!f)
            return;
    }
    int j = add_source(e, f, peer);
    if (!consistent(f, m)) {
        e->st.recv_errors++;
        if (j >= 0)
            drop_source(e, f, j, true, now_ms);
        return;
    }
    if (m->type == BLOB_MSG_MANIFEST) {
        uint8_t got[BLOB_HASH_BYTES];
        uint8_t *hashes = ga_malloc(e->a, (size_t)m->count * BLOB_HASH_BYTES);
        uint32_t *lens = ga_malloc(e->a, (size_t)m->count * sizeof *lens);
        bool ok = hashes && lens;
        if (ok) {
            for (uint32_t i = 0; i < m->count; i++) {
                memcpy(hashes + (size_t)i * BLOB_HASH_BYTES, blob_msg_chunk_hash(m, i),
                       BLOB_HASH_BYTES);
                lens[i] = blob_msg_chunk_len(m, i);
            }
            blob_hash_manifest(m->size, m->count, hashes, lens, got);
            ok = memcmp(got, m->hash, BLOB_HASH_BYTES) == 0;
        }
        ga_free(e->a, hashes);
        ga_free(e->a, lens);
        if (!ok) {
            e->st.recv_errors++;
            if (j >= 0)
                drop_source(e, f, j, true, now_ms);
            return;
        }
    }
    if (f->phase == FETCH_LIST) {
        bool wanted = m->type == BLOB_MSG_MANIFEST || e->s.fetch_mode == BLOB_FETCH_COMPACT;
        if (wanted)
            accept_list(e, f, m, now_ms);
        else if (f->list_source < 0 && j >= 0)
            request_list(e, f, now_ms);
    } else if (f->phase == FETCH_VERIFY && m->type == BLOB_MSG_MANIFEST) {
        verify_with_manifest(e, f, m, now_ms);
    } else if (f->phase == FETCH_CHUNKS) {
        pump(e, f, now_ms); /* a new source may take requests */
    }
}

void blob_fetch_on_chunk(blob_engine *e, uint64_t peer, const blob_msg *m, uint64_t now_ms)
{
    blob_fetch *f = blob_fetch_find(e, m->hash);
    if (!f || f->phase != FETCH_CHUNKS) {
        e->st.chunks_duplicate++;
        return;
    }
    if (m->index >= f->count) {
        e->st.recv_errors++;
        return;
    }
    int j = source_index(f, peer);
    fetch_slot *sl = &f->slots[m->index];
    if (j < 0 || sl->state != SLOT_INFLIGHT || sl->source != j) {
        e->st.chunks_duplicate++;
        return;
    }
    uint8_t h[BLOB_HASH_BYTES];
    blob_hash_chunk(m->data, m->data_len, h);
    bool ok = f->expected ? memcmp(h, expected_hash(f, m->index), BLOB_HASH_BYTES) == 0 &&
                                m->data_len == f->expected_len[m->index]
                          : blob_short_id(f->key, h) == sl->short_id;
    if (!ok) {
        e->st.chunks_bad++;
        drop_source(e, f, j, true, now_ms);
        pump(e, f, now_ms);
        return;
    }
    if (!blob_store_find(&e->store, h) && !blob_store_has_room(e, m->data_len)) {
        fetch_abandon(e, f);
        return;
    }
    blob_chunk *c = blob_store_ref(&e->store, h, m->data, m->data_len, false);
    if (!c)
        return; /* no memory: the request times out and is retried */
    slot_unflight(e, f, m->index);
    sl->state = SLOT_HAVE;
    sl->chunk = c;
    sl->source = (uint8_t)j;
    f->sources[j].strikes = 0;
    f->n_have++;
    f->last_progress = now_ms;
    e->st.chunks_fetched++;
    e->st.chunk_bytes_fetched += m->data_len;
    if (f->n_have == f->count)
        complete(e, f, now_ms);
    else
        pump(e, f, now_ms);
}

void blob_fetch_on_notfound(blob_engine *e, uint64_t peer, const blob_msg *m, uint64_t now_ms)
{
    blob_fetch *f = blob_fetch_find(e, m->hash);
    int j = f ? source_index(f, peer) : -1;
    if (j < 0)
        return;
    drop_source(e, f, j, true, now_ms);
    pump(e, f, now_ms);
}

/* ---- time ------------------------------------------------------------------------ */

static void strike(blob_engine *e, blob_fetch *f, int j, uint64_t now_ms)
{
    e->st.request_timeouts++;
    if (++f->sources[j].strikes >= BLOB_MAX_STRIKES)
        drop_source(e, f, j, false, now_ms);
}

static void fetch_tick(blob_engine *e, blob_fetch *f, uint64_t now_ms)
{
    if (f->phase != FETCH_CHUNKS) {
        if (f->list_source >= 0 && now_ms >= f->list_deadline) {
            int j = f->list_source;
            f->list_source = -1;
            strike(e, f, j, now_ms);
        }
        if (f->list_source < 0)
            request_list(e, f, now_ms);
        return;
    }
    if (f->n_inflight == 0)
        return;
    for (uint32_t i = 0; i < f->count; i++) {
        fetch_slot *sl = &f->slots[i];
        if (sl->state == SLOT_INFLIGHT && sl->deadline <= now_ms) {
            int j = sl->source;
            slot_unflight(e, f, i);
            strike(e, f, j, now_ms);
        }
    }
    pump(e, f, now_ms);
}

void blob_fetch_tick(blob_engine *e, uint64_t now_ms)
{
    for (uint32_t i = 0; i < e->n_fetches;) {
        blob_fetch *f = e->fetches[i];
        if (now_ms >= f->last_progress && now_ms - f->last_progress >= e->s.fetch_timeout_ms) {
            fetch_abandon(e, f);
            continue;
        }
        fetch_tick(e, f, now_ms);
        i++;
    }
}

uint64_t blob_fetch_deadline(const blob_engine *e)
{
    uint64_t d = UINT64_MAX;
    for (uint32_t i = 0; i < e->n_fetches; i++) {
        const blob_fetch *f = e->fetches[i];
        uint64_t give_up = f->last_progress + e->s.fetch_timeout_ms;
        if (give_up < d)
            d = give_up;
        if (f->phase != FETCH_CHUNKS && f->list_source >= 0 && f->list_deadline < d)
            d = f->list_deadline;
        if (f->phase == FETCH_CHUNKS && f->n_inflight > 0) {
            for (uint32_t s = 0; s < f->count; s++) {
                if (f->slots[s].state == SLOT_INFLIGHT && f->slots[s].deadline < d)
                    d = f->slots[s].deadline;
            }
        }
    }
    return d;
}

void blob_fetch_peer_gone(blob_engine *e, uint64_t peer, uint64_t now_ms)
{
    for (uint32_t i = 0; i < e->n_fetches; i++) {
        blob_fetch *f = e->fetches[i];
        int j = source_index(f, peer);
        if (j >= 0 && !f->sources[j].dropped) {
            drop_source(e, f, j, false, now_ms);
            pump(e, f, now_ms);
        }
    }
}
