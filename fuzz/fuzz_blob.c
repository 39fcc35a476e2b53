/* fuzz_blob.c -- libFuzzer harness of the large-payload messages
 * (core/blob_wire.h) and of the engine that acts on them (core/blob.h).
 *
 * Input: two header bytes, then a sequence of operations on one engine that
 * holds payload P from the start:
 *
 *   byte 0   settings: bits 0-1 fetch mode (3: compact), bit 2 a small
 *            store bound, bit 3 P stored borrowed, bits 4-5 peers offered
 *            for announcements (0..3)
 *   byte 1   0, or k: the k-th allocation after set-up fails (once)
 *   then     records [op] [arguments]; op bits 4-5 pick the peer (1..4),
 *            op bits 0-3 (mod 13) the operation:
 *     0  raw message: u16 LE length, bytes (clamped to what is left)
 *     1  time passes: one byte x 50 ms (0: to the next deadline), then tick
 *     2  INV of payload X          args: sel (bits 0-1 X, bit 2 wrong size,
 *                                  bit 3 wrong count)
 *     3  COMPACT of X              args: sel (bits 0-1 X, bits 2-3 lie),
 *                                  nonce byte, slot byte
 *     4  MANIFEST of X             args: sel (bits 0-1 X, bits 2-3 lie), slot
 *     5  CHUNK of X                args: sel (bits 0-1 X, bits 2-3 lie), index
 *     6  NOTFOUND of X             args: sel (X, want), index
 *     7  GETDATA of X              args: sel (X, want), n, n indexes
 *     8  the peer is gone
 *     9  blob_engine_fetch of X    args: sel
 *    10  put: one byte n, then n x 16 bytes of payload (op bit 6 borrow,
 *        bit 7 announce)
 *    11  the engine's last message echoed back to it
 *    12  put X                     args: sel (bits 0-1 X, bit 2 announce,
 *                                  bit 3 borrow): a payload being fetched
 *   X is P (held), Q (not held, shares a prefix with P) or R (not held,
 *   shares most chunks with Q).  The synthesised messages let the fuzzer
 *   reach what pure bytes cannot (BLAKE2b names the payloads): a whole
 *   fetch, lying lists, forged and misplaced chunks.
 *
 * Checked: a raw message that decodes encodes back to the same fields;
 * every message the engine sends decodes under its own limits and fits
 * blob_max_message; after a tick the next deadline lies in the future (or
 * a host sleeping until it would spin); a payload reported stored hashes to
 * its name and, if it is one we know, holds its bytes; P stays readable and
 * intact; after every operation the store's reference counts and bytes and
 * every fetch's in-flight and have counters agree with the slots (read
 * through core/blob_internal.h); no allocation outlives the engine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/blob.h"
#include "core/blob_internal.h"
#include "core/blob_store.h"
#include "core/blob_wire.h"
#include "fault_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "fuzz_blob: check failed at line %d: %s\n", __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* ---- the payloads the harness knows ----------------------------------------- */

#define MAX_CHUNKS 64

static const blob_chunking chunking = {64, 256, 1024};

typedef struct known {
    uint8_t *data;
    size_t len;
    uint32_t count;
    uint32_t off[MAX_CHUNKS], lens[MAX_CHUNKS];
    uint8_t hashes[MAX_CHUNKS * BLOB_HASH_BYTES];
    uint8_t hash[BLOB_HASH_BYTES];
} known;

enum { KP = 0, KQ = 1, KR = 2, N_KNOWN = 3 };
static known pay[N_KNOWN];

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

static void known_init(known *k, uint8_t *data, size_t len)
{
    k->data = data;
    k->len = len;
    k->count = 0;
    for (size_t off = 0; off < len; k->count++) {
        CHECK(k->count < MAX_CHUNKS);
        uint32_t n = (uint32_t)blob_chunk_cut(&chunking, data + off, len - off);
        k->off[k->count] = (uint32_t)off;
        k->lens[k->count] = n;
        blob_hash_chunk(data + off, n, k->hashes + (size_t)k->count * BLOB_HASH_BYTES);
        off += n;
    }
    blob_hash_manifest(len, k->count, k->hashes, k->lens, k->hash);
    uint8_t h[BLOB_HASH_BYTES];
    CHECK(blob_payload_hash(&chunking, data, len, h) == k->count);
    CHECK(memcmp(h, k->hash, BLOB_HASH_BYTES) == 0);
}

static void setup_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    CHECK(sodium_init() >= 0);
    /* P: 3000 bytes.  Q: P's first 1500, 1500 new, P's last 1000.  R: Q with
     * a different last 600. */
    static uint8_t p[3000], q[4000], r[4000];
    fill(p, sizeof p, 1);
    memcpy(q, p, 1500);
    fill(q + 1500, 1500, 2);
    memcpy(q + 3000, p + 2000, 1000);
    memcpy(r, q, 3400);
    fill(r + 3400, 600, 3);
    known_init(&pay[KP], p, sizeof p);
    known_init(&pay[KQ], q, sizeof q);
    known_init(&pay[KR], r, sizeof r);
}

/* The allocator that counts and fails once on demand: fault_alloc.h. */

/* ---- the engine's surroundings ---------------------------------------------------- */

typedef struct harness {
    blob_engine *e;
    blob_settings s;
    blob_limits lim;
    size_t max_msg;
    uint32_t n_peers;
    uint8_t last[1 << 12]; /* the engine's last message, if it fit */
    size_t last_len;
    blob_msg *dm;          /* scratch for decoding what the engine sends */
} harness;

static harness H;
static unsigned long n_stored; /* payloads completed, over the whole run (for seed checks) */

static int on_send(void *ud, uint64_t peer, const uint8_t *msg, size_t len)
{
    harness *h = ud;
    CHECK(peer >= 1 && peer <= 4);
    CHECK(len <= h->max_msg);
    /* Whatever the engine says must pass its own decoder. */
    uint8_t *copy = malloc(len);
    memcpy(copy, msg, len);
    int rc = blob_decode(copy, len, &h->lim, h->dm);
    if (rc != 0) {
        fprintf(stderr, "fuzz_blob: the engine sent a message its decoder refuses (%d)\n", rc);
        abort();
    }
    free(copy);
    if (len <= sizeof h->last) {
        memcpy(h->last, msg, len);
        h->last_len = len;
    }
    return 0;
}

static uint32_t on_list_peers(void *ud, uint64_t *out, uint32_t cap)
{
    harness *h = ud;
    uint32_t n = 0;
    for (uint32_t i = 0; i < h->n_peers && n < cap; i++)
        out[n++] = 1 + i;
    return n;
}

static void on_stored(void *ud, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size)
{
    harness *h = ud;
    n_stored++;
    const blob_payload *p = blob_find_payload(h->e, hash);
    CHECK(p != NULL);
    CHECK(p->size == size);
    /* Its chunks are what their names say, and the manifest is the name. */
    uint8_t *hashes = malloc((size_t)p->count * BLOB_HASH_BYTES + 1);
    uint32_t *lens = malloc((size_t)p->count * sizeof *lens + 1);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < p->count; i++) {
        const blob_chunk *c = p->chunks[i];
        uint8_t ch[BLOB_HASH_BYTES];
        blob_hash_chunk(c->data, c->len, ch);
        CHECK(memcmp(ch, c->hash, BLOB_HASH_BYTES) == 0);
        memcpy(hashes + (size_t)i * BLOB_HASH_BYTES, c->hash, BLOB_HASH_BYTES);
        lens[i] = c->len;
        sum += c->len;
    }
    CHECK(sum == size);
    uint8_t got[BLOB_HASH_BYTES];
    blob_hash_manifest(sum, p->count, hashes, lens, got);
    CHECK(memcmp(got, hash, BLOB_HASH_BYTES) == 0);
    free(hashes);
    free(lens);
    for (int k = 0; k < N_KNOWN; k++) {
        if (memcmp(hash, pay[k].hash, BLOB_HASH_BYTES) != 0)
            continue;
        CHECK(size == pay[k].len);
        uint8_t *buf = malloc(pay[k].len);
        CHECK(blob_engine_read(h->e, hash, buf, pay[k].len) == 0);
        CHECK(memcmp(buf, pay[k].data, pay[k].len) == 0);
        free(buf);
    }
}

/* ---- invariants of the engine's state ---------------------------------------------- */

static uint32_t refs_to(const blob_engine *e, const blob_chunk *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->n_payloads; i++) {
        const blob_payload *p = e->payloads[i];
        for (uint32_t j = 0; j < p->count; j++)
            n += p->chunks[j] == c;
    }
    for (uint32_t i = 0; i < e->n_fetches; i++) {
        const blob_fetch *f = e->fetches[i];
        if (!f->slots)
            continue;
        for (uint32_t j = 0; j < f->count; j++)
            n += f->slots[j].chunk == c;
    }
    return n;
}

static void check_engine(const blob_engine *e)
{
    /* the store */
    uint64_t bytes = 0;
    uint32_t count = 0;
    for (uint32_t i = 0; i < e->store.cap; i++) {
        const blob_chunk *c = blob_store_slot(&e->store, i);
        if (!c)
            continue;
        count++;
        bytes += c->len;
        CHECK(c->refs > 0);
        CHECK(c->refs == refs_to(e, c));
        CHECK(blob_store_find(&e->store, c->hash) == c);
    }
    CHECK(count == e->store.count);
    CHECK(bytes == e->store.bytes);
    /* stored payloads */
    for (uint32_t i = 0; i < e->n_payloads; i++) {
        const blob_payload *p = e->payloads[i];
        uint64_t sum = 0;
        CHECK(p->count > 0);
        for (uint32_t j = 0; j < p->count; j++) {
            CHECK(blob_store_find(&e->store, p->chunks[j]->hash) == p->chunks[j]);
            sum += p->chunks[j]->len;
        }
        CHECK(sum == p->size);
        CHECK(p->n_holders <= e->s.max_holders);
        CHECK(blob_find_payload(e, p->hash) == p);
    }
    /* fetches */
    CHECK(e->n_fetches <= e->s.max_pending);
    uint32_t total = 0;
    for (uint32_t i = 0; i < e->n_fetches; i++) {
        const blob_fetch *f = e->fetches[i];
        CHECK(blob_find_payload(e, f->hash) == NULL); /* a fetch of what we hold */
        CHECK(f->n_sources <= e->s.max_sources);
        uint32_t per_source[BLOB_MAX_SOURCES] = {0};
        uint32_t inflight = 0, have = 0;
        if (f->slots) {
            for (uint32_t j = 0; j < f->count; j++) {
                const fetch_slot *sl = &f->slots[j];
                CHECK(sl->state <= SLOT_HAVE);
                if (sl->state == SLOT_INFLIGHT) {
                    CHECK(sl->source < f->n_sources);
                    CHECK(!f->sources[sl->source].dropped);
                    per_source[sl->source]++;
                    inflight++;
                    CHECK(sl->chunk == NULL);
                } else if (sl->state == SLOT_HAVE) {
                    CHECK(sl->chunk != NULL);
                    CHECK(sl->source == BLOB_SOURCE_LOCAL || sl->source < f->n_sources);
                    have++;
                } else {
                    CHECK(sl->chunk == NULL);
                }
            }
        }
        CHECK(f->n_inflight == inflight);
        CHECK(f->n_have == have);
        for (uint32_t j = 0; j < f->n_sources; j++)
            CHECK(f->sources[j].inflight == per_source[j]);
        CHECK(f->list_source < (int)f->n_sources);
        total += inflight;
    }
    CHECK(e->inflight_total == total);
    CHECK(total <= e->s.max_inflight_total);
    for (uint64_t peer = 1; peer <= 4; peer++) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < e->n_fetches; i++) {
            const blob_fetch *f = e->fetches[i];
            for (uint32_t j = 0; j < f->n_sources; j++)
                if (f->sources[j].peer == peer)
                    n += f->sources[j].inflight;
        }
        CHECK(n <= e->s.max_inflight_per_peer);
    }
}

/* ---- the decoder alone: decode, encode back, compare --------------------------------- */

static void roundtrip(const uint8_t *msg, size_t len, const blob_limits *lim)
{
    static blob_msg *m, *again;
    if (!m) {
        m = malloc(sizeof *m);
        again = malloc(sizeof *again);
    }
    uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */
    memcpy(copy, msg, len);
    if (blob_decode(copy, len, lim, m) != 0) {
        free(copy);
        return;
    }
    blob_buf b;
    blob_buf_init(&b, NULL);
    int rc = 0;
    uint64_t *ids = NULL;
    uint8_t *hashes = NULL;
    uint32_t *lens = NULL;
    switch (m->type) {
    case BLOB_MSG_INV: rc = blob_encode_inv(&b, m->hash, m->size, m->count); break;
    case BLOB_MSG_COMPACT:
        ids = malloc((size_t)m->count * sizeof *ids);
        for (uint32_t i = 0; i < m->count; i++)
            ids[i] = blob_msg_short_id(m, i);
        rc = blob_encode_compact(&b, m->hash, m->size, m->count, m->nonce, ids);
        break;
    case BLOB_MSG_MANIFEST:
        hashes = malloc((size_t)m->count * BLOB_HASH_BYTES);
        lens = malloc((size_t)m->count * sizeof *lens);
        for (uint32_t i = 0; i < m->count; i++) {
            memcpy(hashes + (size_t)i * BLOB_HASH_BYTES, blob_msg_chunk_hash(m, i),
                   BLOB_HASH_BYTES);
            lens[i] = blob_msg_chunk_len(m, i);
        }
        rc = blob_encode_manifest(&b, m->hash, m->size, m->count, hashes, lens);
        break;
    case BLOB_MSG_GETDATA:
    case BLOB_MSG_NOTFOUND:
        rc = blob_encode_request(&b, m->type, m->hash, m->want, m->indexes, m->n_indexes);
        break;
    case BLOB_MSG_CHUNK: rc = blob_encode_chunk(&b, m->hash, m->index, m->data, m->data_len); break;
    default: CHECK(0);
    }
    CHECK(rc == 0);
    rc = blob_decode(b.p, b.len, lim, again);
    if (rc != 0) {
        fprintf(stderr, "fuzz_blob: a decoded message of type %u encodes to one that does "
                        "not decode (%d)\n", m->type, rc);
        abort();
    }
    CHECK(again->type == m->type);
    CHECK(memcmp(again->hash, m->hash, BLOB_HASH_BYTES) == 0);
    switch (m->type) {
    case BLOB_MSG_COMPACT:
        CHECK(again->nonce == m->nonce);
        CHECK(again->ids_len == m->ids_len && memcmp(again->ids, m->ids, m->ids_len) == 0);
        /* fall through */
    case BLOB_MSG_INV:
        CHECK(again->size == m->size && again->count == m->count);
        break;
    case BLOB_MSG_MANIFEST:
        CHECK(again->size == m->size && again->count == m->count);
        CHECK(again->chunks_len == m->chunks_len &&
              memcmp(again->chunks, m->chunks, m->chunks_len) == 0);
        break;
    case BLOB_MSG_GETDATA:
    case BLOB_MSG_NOTFOUND:
        CHECK(again->want == m->want);
        if (m->want == BLOB_WANT_CHUNKS) {
            CHECK(again->n_indexes == m->n_indexes);
            CHECK(memcmp(again->indexes, m->indexes, m->n_indexes * sizeof *m->indexes) == 0);
        }
        break;
    case BLOB_MSG_CHUNK:
        CHECK(again->index == m->index);
        CHECK(again->data_len == m->data_len && memcmp(again->data, m->data, m->data_len) == 0);
        break;
    default: break;
    }
    free(ids);
    free(hashes);
    free(lens);
    blob_buf_free(&b);
    free(copy);
}

/* ---- reading the input ----------------------------------------------------------- */

typedef struct input {
    const uint8_t *p;
    size_t len, off;
} input;

static uint8_t take(input *in)
{
    return in->off < in->len ? in->p[in->off++] : 0;
}

/* ---- synthesised messages ----------------------------------------------------------- */

static blob_buf out; /* libc allocator: never subject to the fault */

static void deliver(harness *h, uint64_t peer, const uint8_t *msg, size_t len, uint64_t now)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, msg, len);
    blob_engine_recv(h->e, peer, copy, len, now);
    free(copy);
}

static const known *pick(uint8_t sel)
{
    return &pay[(sel & 3) % N_KNOWN];
}

static void send_inv(harness *h, uint64_t peer, input *in, uint64_t now)
{
    uint8_t sel = take(in);
    const known *k = pick(sel);
    uint64_t size = k->len + ((sel & 4) ? 1 : 0);
    uint32_t count = k->count + ((sel & 8) ? 1 : 0);
    if (blob_encode_inv(&out, k->hash, size, count) == 0)
        deliver(h, peer, out.p, out.len, now);
}

static void send_compact(harness *h, uint64_t peer, input *in, uint64_t now)
{
    uint8_t sel = take(in);
    uint64_t nonce = take(in);
    uint8_t slot = take(in);
    const known *k = pick(sel);
    const known *other = &pay[KP];
    uint8_t key[16];
    blob_short_id_key(k->hash, nonce, key);
    uint64_t ids[MAX_CHUNKS];
    for (uint32_t i = 0; i < k->count; i++)
        ids[i] = blob_short_id(key, k->hashes + (size_t)i * BLOB_HASH_BYTES);
    uint32_t at = slot % k->count;
    switch (sel >> 2 & 3) {
    case 1: /* one slot names a chunk of P: a local chunk in the wrong place */
        ids[at] = blob_short_id(key, other->hashes + (size_t)(slot % other->count) *
                                                         BLOB_HASH_BYTES);
        break;
    case 2: ids[at] ^= 1; break; /* a short ID nothing matches */
    case 3: /* every slot names a chunk of P */
        for (uint32_t i = 0; i < k->count; i++)
            ids[i] = blob_short_id(key, other->hashes +
                                            (size_t)((i + slot) % other->count) * BLOB_HASH_BYTES);
        break;
    default: break;
    }
    if (blob_encode_compact(&out, k->hash, k->len, k->count, nonce, ids) == 0)
        deliver(h, peer, out.p, out.len, now);
}

static void send_manifest(harness *h, uint64_t peer, input *in, uint64_t now)
{
    uint8_t sel = take(in);
    uint8_t slot = take(in);
    const known *k = pick(sel);
    uint8_t hashes[MAX_CHUNKS * BLOB_HASH_BYTES];
    uint32_t lens[MAX_CHUNKS];
    memcpy(hashes, k->hashes, (size_t)k->count * BLOB_HASH_BYTES);
    memcpy(lens, k->lens, k->count * sizeof *lens);
    uint8_t name[BLOB_HASH_BYTES];
    memcpy(name, k->hash, BLOB_HASH_BYTES);
    uint32_t at = slot % k->count;
    switch (sel >> 2 & 3) {
    case 1: /* a wrong chunk hash: the list does not hash to the name */
        hashes[(size_t)at * BLOB_HASH_BYTES] ^= 1;
        break;
    case 2: /* lengths moved between two chunks: same size, wrong name */
        if (k->count > 1 && lens[at] > 1) {
            uint32_t to = (at + 1) % k->count;
            if (lens[to] < chunking.max_size) {
                lens[at]--;
                lens[to]++;
            }
        }
        break;
    case 3: /* a self-consistent list whose chunk `at` is P's: its own name */
        memcpy(hashes + (size_t)at * BLOB_HASH_BYTES,
               pay[KP].hashes + (size_t)(slot % pay[KP].count) * BLOB_HASH_BYTES,
               BLOB_HASH_BYTES);
        lens[at] = pay[KP].lens[slot % pay[KP].count];
        {
            uint64_t sum = 0;
            for (uint32_t i = 0; i < k->count; i++)
                sum += lens[i];
            blob_hash_manifest(sum, k->count, hashes, lens, name);
            if (blob_encode_manifest(&out, name, sum, k->count, hashes, lens) == 0)
                deliver(h, peer, out.p, out.len, now);
        }
        return;
    default: break;
    }
    if (blob_encode_manifest(&out, name, k->len, k->count, hashes, lens) == 0)
        deliver(h, peer, out.p, out.len, now);
}

static void send_chunk(harness *h, uint64_t peer, input *in, uint64_t now)
{
    uint8_t sel = take(in);
    uint8_t idx = take(in);
    const known *k = pick(sel);
    uint32_t i = idx % k->count;
    const uint8_t *d = k->data + k->off[i];
    uint32_t len = k->lens[i];
    uint8_t buf[1024];
    switch (sel >> 2 & 3) {
    case 1: /* another chunk's bytes */
        d = k->data + k->off[(i + 1) % k->count];
        len = k->lens[(i + 1) % k->count];
        break;
    case 2: /* one bit flipped */
        memcpy(buf, d, len);
        buf[idx % len] ^= 0x20;
        d = buf;
        break;
    case 3: /* the right bytes under an index one past the end */
        i = k->count + (idx >> 6);
        break;
    default: break;
    }
    if (blob_encode_chunk(&out, k->hash, i, d, len) == 0)
        deliver(h, peer, out.p, out.len, now);
}

static void send_request(harness *h, uint64_t peer, uint8_t type, input *in, uint64_t now)
{
    uint8_t sel = take(in);
    const known *k = pick(sel);
    uint32_t want = (sel >> 2 & 3) % 3;
    uint32_t n = type == BLOB_MSG_NOTFOUND ? 1 : 1 + (take(in) & 7);
    uint32_t idx[8];
    for (uint32_t i = 0; i < n; i++)
        idx[i] = take(in);
    uint8_t name[BLOB_HASH_BYTES];
    memcpy(name, k->hash, BLOB_HASH_BYTES);
    if (sel & 0x80)
        name[0] ^= 0x55; /* a payload nobody has */
    if (blob_encode_request(&out, type, name, want, idx, n) == 0)
        deliver(h, peer, out.p, out.len, now);
}

/* ---- the run ------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (size < 2)
        return 0;
    if (!out.alloc)
        blob_buf_init(&out, NULL);
    input in = {data, size, 0};
    uint8_t cfg = take(&in);
    uint8_t fault = take(&in);

    harness *h = &H;
    memset(h, 0, sizeof *h);
    static blob_msg dm;
    h->dm = &dm;
    fault_alloc fa = {0, 0, fault, 0};
    const gossip_allocator alloc = {fa_malloc, fa_realloc, fa_free, &fa};

    blob_settings_init(&h->s);
    h->s.chunking = chunking;
    h->s.max_payload = 16 * 1024;
    h->s.max_store_bytes = (cfg & 4) ? 4000 : 0;
    h->s.fetch_mode = (cfg & 3) == 3 ? BLOB_FETCH_COMPACT : (enum blob_fetch_mode)(cfg & 3);
    h->s.announce_fanout = 2;
    h->s.announce_rounds = 2;
    h->s.announce_interval_ms = 100;
    h->s.max_inflight_per_peer = 4;
    h->s.max_inflight_total = 6;
    h->s.max_pending = 2;
    h->s.max_sources = 3;
    h->s.max_holders = 3;
    h->s.request_timeout_ms = 500;
    h->s.fetch_timeout_ms = 4000;
    h->s.seed = 7;
    h->s.allocator = &alloc;
    h->n_peers = cfg >> 4 & 3;
    blob_limits_from(&h->s, &h->lim);
    h->max_msg = blob_max_message(&h->s);

    const blob_callbacks cb = {on_send, on_list_peers, on_stored, h};
    CHECK(blob_engine_new(&h->s, &cb, &h->e) == 0);
    uint64_t now = 1000;
    uint8_t hash[BLOB_HASH_BYTES];
    CHECK(blob_engine_put(h->e, pay[KP].data, pay[KP].len, (cfg & 8) ? BLOB_PUT_BORROW : 0, now,
                          hash) == 0);
    CHECK(memcmp(hash, pay[KP].hash, BLOB_HASH_BYTES) == 0);
    check_engine(h->e);
    fa.armed = 1;

    uint8_t *kept[8];
    unsigned n_puts = 0;
    while (in.off < in.len) {
        uint8_t op = take(&in);
        uint64_t peer = 1 + (op >> 4 & 3);
        switch ((op & 15) % 13) {
        case 0: {
            size_t len = take(&in);
            len |= (size_t)take(&in) << 8;
            if (len > in.len - in.off)
                len = in.len - in.off;
            roundtrip(in.p + in.off, len, &h->lim);
            deliver(h, peer, in.p + in.off, len, now);
            in.off += len;
            break;
        }
        case 1: {
            uint8_t dt = take(&in);
            uint64_t next = blob_engine_next_deadline(h->e);
            if (dt == 0 && next != UINT64_MAX && next > now)
                now = next;
            else
                now += 50 * (uint64_t)dt;
            blob_engine_tick(h->e, now);
            next = blob_engine_next_deadline(h->e);
            if (next <= now) {
                fprintf(stderr, "fuzz_blob: after tick(%llu) the next deadline is %llu\n",
                        (unsigned long long)now, (unsigned long long)next);
                abort();
            }
            break;
        }
        case 2: send_inv(h, peer, &in, now); break;
        case 3: send_compact(h, peer, &in, now); break;
        case 4: send_manifest(h, peer, &in, now); break;
        case 5: send_chunk(h, peer, &in, now); break;
        case 6: send_request(h, peer, BLOB_MSG_NOTFOUND, &in, now); break;
        case 7: send_request(h, peer, BLOB_MSG_GETDATA, &in, now); break;
        case 8: blob_engine_peer_gone(h->e, peer, now); break;
        case 9: {
            const known *k = pick(take(&in));
            int rc = blob_engine_fetch(h->e, peer, k->hash, now);
            CHECK(rc == 0 || rc == GOSSIP_ERR_FULL || rc == GOSSIP_ERR_NOMEM);
            break;
        }
        case 10: {
            size_t len = 16 * (size_t)take(&in);
            if (len > in.len - in.off)
                len = in.len - in.off;
            if (len == 0 || n_puts == 8)
                break;
            /* a borrowed payload must outlive the engine: keep the copy */
            uint8_t *copy = malloc(len);
            memcpy(copy, in.p + in.off, len);
            kept[n_puts++] = copy;
            in.off += len;
            unsigned flags = ((op & 0x40) ? BLOB_PUT_BORROW : 0) |
                             ((op & 0x80) ? BLOB_PUT_ANNOUNCE : 0);
            int rc = blob_engine_put(h->e, copy, len, flags, now, hash);
            CHECK(rc == 0 || rc == GOSSIP_ERR_FULL || rc == GOSSIP_ERR_NOMEM);
            if (rc == 0) {
                uint64_t got = 0;
                CHECK(blob_engine_stat(h->e, hash, &got) == 0 && got == len);
            }
            break;
        }
        case 11:
            if (h->last_len) {
                uint8_t msg[sizeof h->last];
                size_t len = h->last_len;
                memcpy(msg, h->last, len);
                deliver(h, peer, msg, len, now);
            }
            break;
        case 12: {
            uint8_t sel = take(&in);
            const known *k = pick(sel);
            unsigned flags = ((sel & 4) ? BLOB_PUT_ANNOUNCE : 0) | ((sel & 8) ? BLOB_PUT_BORROW : 0);
            int rc = blob_engine_put(h->e, k->data, k->len, flags, now, hash);
            CHECK(rc == 0 || rc == GOSSIP_ERR_FULL || rc == GOSSIP_ERR_NOMEM);
            if (rc == 0) {
                CHECK(memcmp(hash, k->hash, BLOB_HASH_BYTES) == 0);
                CHECK(!blob_engine_pending(h->e, hash));
            }
            break;
        }
        }
        check_engine(h->e);
    }
    /* Whatever happened, P is still there and intact. */
    fa.armed = 0;
    uint8_t *buf = malloc(pay[KP].len);
    CHECK(blob_engine_read(h->e, pay[KP].hash, buf, pay[KP].len) == 0);
    CHECK(memcmp(buf, pay[KP].data, pay[KP].len) == 0);
    free(buf);
    now += 100000;
    blob_engine_tick(h->e, now); /* every fetch times out */
    check_engine(h->e);
    CHECK(h->e->n_fetches == 0 && h->e->inflight_total == 0);
    blob_engine_free(h->e);
    CHECK(fa.live == 0);
    for (unsigned i = 0; i < n_puts; i++)
        free(kept[i]);
    return 0;
}
