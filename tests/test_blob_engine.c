/* test_blob_engine.c -- the large-payload engine on a small synchronous
 * network: a published payload reaches every node intact; a node that holds
 * an earlier version fetches only the chunks it lacks; a peer serving
 * corrupt chunks is dropped and the chunks come from elsewhere; a peer that
 * never answers is timed out; a lying compact list (a short ID naming the
 * wrong local chunk) falls back to the manifest; NOTFOUND; oversize
 * payloads refused; in-flight and pending bounds hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/blob.h"
#include "core/blob_wire.h"
#include "core/rng.h"

#define MAXN 8

typedef struct qmsg {
    uint32_t from, to;
    size_t len;
    uint8_t *data;
} qmsg;

typedef struct net net;

typedef struct ctx {
    net *n;
    uint32_t id;
} ctx;

struct net {
    blob_engine *e[MAXN];
    ctx c[MAXN];
    uint32_t count;
    qmsg *q;
    size_t head, tail, cap;
    uint64_t now;
    uint32_t corrupt; /* bit i: node i corrupts the chunks it serves */
    uint32_t mute;    /* bit i: everything node i sends is lost */
    uint32_t peers[MAXN]; /* bit j of peers[i]: i may announce to j */
    int stored[MAXN];
    /* chunk requests outstanding from i to j: GETDATA indexes sent minus
     * CHUNKs delivered back */
    int outstanding[MAXN][MAXN];
    int max_outstanding;
    uint64_t sent_type[BLOB_MSG_TYPE_COUNT];
};

static int on_send(void *ud, uint64_t peer, const uint8_t *msg, size_t len)
{
    ctx *c = ud;
    net *n = c->n;
    assert_true(peer < n->count && peer != c->id);
    n->sent_type[msg[3]]++;
    if (n->mute & (1u << c->id))
        return 0;
    if (n->tail == n->cap) {
        n->cap = n->cap ? 2 * n->cap : 256;
        n->q = realloc(n->q, n->cap * sizeof *n->q);
        assert_non_null(n->q);
    }
    qmsg *m = &n->q[n->tail++];
    m->from = c->id;
    m->to = (uint32_t)peer;
    m->len = len;
    m->data = malloc(len);
    memcpy(m->data, msg, len);
    if (msg[3] == BLOB_MSG_CHUNK && (n->corrupt & (1u << c->id)))
        m->data[len - 1] ^= 0xff;
    return 0;
}

static uint32_t on_list_peers(void *ud, uint64_t *out, uint32_t cap)
{
    ctx *c = ud;
    uint32_t k = 0;
    for (uint32_t j = 0; j < c->n->count && k < cap; j++) {
        if (c->n->peers[c->id] & (1u << j))
            out[k++] = j;
    }
    return k;
}

static void on_stored(void *ud, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size)
{
    (void)hash;
    (void)size;
    ctx *c = ud;
    c->n->stored[c->id]++;
}

static void net_init(net *n, uint32_t count, const blob_settings *base)
{
    memset(n, 0, sizeof *n);
    n->count = count;
    for (uint32_t i = 0; i < count; i++) {
        blob_settings s = *base;
        s.seed = 1000 + i;
        n->c[i] = (ctx){n, i};
        n->peers[i] = ((1u << count) - 1) & ~(1u << i);
        blob_callbacks cb = {on_send, on_list_peers, on_stored, &n->c[i]};
        assert_int_equal(blob_engine_new(&s, &cb, &n->e[i]), 0);
    }
}

static void net_free(net *n)
{
    for (uint32_t i = 0; i < n->count; i++)
        blob_engine_free(n->e[i]);
    for (size_t i = n->head; i < n->tail; i++)
        free(n->q[i].data);
    free(n->q);
}

/* Tracks requests from `from` to `to` (GETDATA of chunks) and their answers. */
static void track(net *n, const qmsg *m)
{
    static blob_msg dm;
    blob_limits lim = {UINT64_MAX, 1, 1u << 20, BLOB_MAX_INDEXES};
    if (blob_decode(m->data, m->len, &lim, &dm) != 0)
        return;
    if (dm.type == BLOB_MSG_GETDATA && dm.want == BLOB_WANT_CHUNKS) {
        n->outstanding[m->from][m->to] += (int)dm.n_indexes;
        if (n->outstanding[m->from][m->to] > n->max_outstanding)
            n->max_outstanding = n->outstanding[m->from][m->to];
    } else if (dm.type == BLOB_MSG_CHUNK) {
        n->outstanding[m->to][m->from]--;
    }
}

/* Delivers queued messages in order until none is left. */
static void drain(net *n)
{
    while (n->head < n->tail) {
        qmsg m = n->q[n->head++];
        track(n, &m);
        blob_engine_recv(n->e[m.to], m.from, m.data, m.len, n->now);
        free(m.data);
    }
}

/* Drains, then advances time to the next deadline and ticks, until every
 * engine is idle or `until` is reached. */
static void run(net *n, uint64_t until)
{
    for (;;) {
        drain(n);
        uint64_t next = UINT64_MAX;
        for (uint32_t i = 0; i < n->count; i++) {
            uint64_t d = blob_engine_next_deadline(n->e[i]);
            if (d < next)
                next = d;
        }
        if (next == UINT64_MAX || next > until)
            return;
        if (next > n->now)
            n->now = next;
        for (uint32_t i = 0; i < n->count; i++)
            blob_engine_tick(n->e[i], n->now);
    }
}

static uint8_t *random_bytes(uint64_t seed, size_t len)
{
    uint8_t *p = malloc(len);
    gossip_rng rng;
    gossip_rng_seed(&rng, seed);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(gossip_rng_next(&rng) >> 56);
    return p;
}

static void assert_holds(const net *n, uint32_t node, const uint8_t hash[BLOB_HASH_BYTES],
                         const uint8_t *data, size_t len)
{
    uint64_t size = 0;
    assert_int_equal(blob_engine_stat(n->e[node], hash, &size), 0);
    assert_int_equal(size, len);
    uint8_t *buf = malloc(len);
    assert_int_equal(blob_engine_read(n->e[node], hash, buf, len), 0);
    assert_memory_equal(buf, data, len);
    uint8_t h[BLOB_HASH_BYTES];
    blob_chunking ch = {BLOB_DEFAULT_MIN_CHUNK, BLOB_DEFAULT_AVG_CHUNK, BLOB_DEFAULT_MAX_CHUNK};
    blob_payload_hash(&ch, buf, len, h);
    assert_memory_equal(h, hash, BLOB_HASH_BYTES);
    free(buf);
}

static void test_publish_reaches_everyone(void **state)
{
    (void)state;
    for (int mode = BLOB_FETCH_COMPACT; mode <= BLOB_FETCH_FULL; mode++) {
        blob_settings s;
        blob_settings_init(&s);
        s.fetch_mode = (enum blob_fetch_mode)mode;
        s.announce_fanout = 2;
        net n;
        net_init(&n, 6, &s);
        const size_t len = 300000;
        uint8_t *data = random_bytes(5, len), hash[BLOB_HASH_BYTES];
        assert_int_equal(blob_engine_put(n.e[0], data, len, BLOB_PUT_ANNOUNCE, 0, hash), 0);
        run(&n, 100000);
        for (uint32_t i = 0; i < n.count; i++) {
            assert_holds(&n, i, hash, data, len);
            if (i > 0)
                assert_int_equal(n.stored[i], 1);
        }
        assert_int_equal(n.max_outstanding <= (int)s.max_inflight_per_peer, 1);
        blob_stats st;
        blob_engine_stats(n.e[3], &st);
        assert_int_equal(st.chunks_bad, 0);
        assert_int_equal(st.recv_errors, 0);
        net_free(&n);
        free(data);
    }
}

/* Node 1 holds an old version; it fetches only the chunks that changed. */
static void test_only_missing_chunks_are_fetched(void **state)
{
    (void)state;
    for (int mode = BLOB_FETCH_COMPACT; mode <= BLOB_FETCH_FULL; mode++) {
        blob_settings s;
        blob_settings_init(&s);
        s.fetch_mode = (enum blob_fetch_mode)mode;
        net n;
        net_init(&n, 2, &s);
        const size_t len = 500000;
        uint8_t *old = random_bytes(6, len), *cur = malloc(len), h[BLOB_HASH_BYTES];
        memcpy(cur, old, len);
        memset(cur + 100000, 0xee, 100); /* two edits: a chunk or two each */
        memset(cur + 400000, 0x11, 100);
        assert_int_equal(blob_engine_put(n.e[1], old, len, 0, 0, h), 0);
        assert_int_equal(blob_engine_put(n.e[0], cur, len, BLOB_PUT_ANNOUNCE, 0, h), 0);
        run(&n, 100000);
        assert_holds(&n, 1, h, cur, len);
        blob_stats st;
        blob_engine_stats(n.e[1], &st);
        uint32_t total = (uint32_t)(st.chunks_local + st.chunks_fetched);
        if (mode == BLOB_FETCH_FULL) {
            assert_int_equal(st.chunks_local, 0);
        } else {
            assert_true(st.chunks_fetched >= 2 && st.chunks_fetched <= 6);
            assert_true(st.chunks_local + 6 >= total);
        }
        net_free(&n);
        free(old);
        free(cur);
    }
}

static void send_inv(net *n, uint32_t from, uint32_t to, const uint8_t hash[BLOB_HASH_BYTES],
                     uint64_t size, uint32_t count)
{
    blob_buf b;
    blob_buf_init(&b, NULL);
    assert_int_equal(blob_encode_inv(&b, hash, size, count), 0);
    assert_int_equal(blob_engine_recv(n->e[to], from, b.p, b.len, n->now), 0);
    blob_buf_free(&b);
}

/* Node 1 serves corrupt chunks.  Node 2 hears of the payload from 1 first,
 * then from 0: it drops 1 and completes from 0. */
static void test_corrupt_source_dropped(void **state)
{
    (void)state;
    for (int mode = BLOB_FETCH_COMPACT; mode <= BLOB_FETCH_FULL; mode++) {
        blob_settings s;
        blob_settings_init(&s);
        s.fetch_mode = (enum blob_fetch_mode)mode;
        s.announce_fanout = 0; /* only the INVs sent by hand */
        net n;
        net_init(&n, 3, &s);
        n.corrupt = 1u << 1;
        const size_t len = 200000;
        uint8_t *data = random_bytes(7, len), h[BLOB_HASH_BYTES];
        assert_int_equal(blob_engine_put(n.e[0], data, len, 0, 0, h), 0);
        assert_int_equal(blob_engine_put(n.e[1], data, len, 0, 0, h), 0);
        uint64_t size;
        assert_int_equal(blob_engine_stat(n.e[0], h, &size), 0);
        uint32_t count = blob_payload_hash(&s.chunking, data, len, (uint8_t[32]){0});
        send_inv(&n, 1, 2, h, size, count);
        send_inv(&n, 0, 2, h, size, count);
        run(&n, 100000);
        assert_holds(&n, 2, h, data, len);
        blob_stats st;
        blob_engine_stats(n.e[2], &st);
        assert_true(st.chunks_bad >= 1);
        assert_int_equal(st.sources_dropped, 1);
        net_free(&n);
        free(data);
    }
}

/* Node 1 announces and then never answers: its requests time out and go to
 * node 0. */
static void test_silent_source_times_out(void **state)
{
    (void)state;
    blob_settings s;
    blob_settings_init(&s);
    s.announce_fanout = 0;
    net n;
    net_init(&n, 3, &s);
    const size_t len = 150000;
    uint8_t *data = random_bytes(8, len), h[BLOB_HASH_BYTES];
    assert_int_equal(blob_engine_put(n.e[0], data, len, 0, 0, h), 0);
    assert_int_equal(blob_engine_put(n.e[1], data, len, 0, 0, h), 0);
    uint32_t count = blob_payload_hash(&s.chunking, data, len, (uint8_t[32]){0});
    n.mute = 1u << 1;
    send_inv(&n, 1, 2, h, len, count);
    send_inv(&n, 0, 2, h, len, count);
    run(&n, 1000000);
    assert_holds(&n, 2, h, data, len);
    blob_stats st;
    blob_engine_stats(n.e[2], &st);
    assert_true(st.request_timeouts >= 1);
    assert_true(n.now >= s.request_timeout_ms);
    net_free(&n);
    free(data);
}

/* A compact list whose first short ID names another local chunk: the
 * payload hash fails, the manifest names the slot, the chunk is fetched. */
static void test_false_short_id_match_falls_back(void **state)
{
    (void)state;
    blob_settings s;
    blob_settings_init(&s);
    s.announce_fanout = 0;
    net n;
    net_init(&n, 2, &s);
    const size_t len = 100000;
    uint8_t *cur = random_bytes(9, len), *other = random_bytes(10, 20000);
    uint8_t h[BLOB_HASH_BYTES], oh[BLOB_HASH_BYTES];
    assert_int_equal(blob_engine_put(n.e[0], cur, len, 0, 0, h), 0);
    assert_int_equal(blob_engine_put(n.e[1], other, 20000, 0, 0, oh), 0);
    /* node 1 also holds cur's chunks except the first */
    size_t first = blob_chunk_cut(&s.chunking, cur, len);
    assert_int_equal(blob_engine_put(n.e[1], cur + first, len - first, 0, 0, oh), 0);

    /* Build the lying COMPACT: real short IDs, except slot 0 carries the
     * short ID of `other`'s first chunk, which node 1 holds. */
    uint64_t nonce = 12345;
    uint8_t key[16], ch[BLOB_HASH_BYTES];
    blob_short_id_key(h, nonce, key);
    uint64_t ids[64];
    uint32_t count = 0;
    for (size_t off = 0; off < len; count++) {
        size_t c = blob_chunk_cut(&s.chunking, cur + off, len - off);
        blob_hash_chunk(cur + off, c, ch);
        ids[count] = blob_short_id(key, ch);
        off += c;
    }
    blob_hash_chunk(other, blob_chunk_cut(&s.chunking, other, 20000), ch);
    ids[0] = blob_short_id(key, ch);
    blob_buf b;
    blob_buf_init(&b, NULL);
    assert_int_equal(blob_encode_compact(&b, h, len, count, nonce, ids), 0);
    assert_int_equal(blob_engine_recv(n.e[1], 0, b.p, b.len, 0), 0);
    blob_buf_free(&b);
    run(&n, 100000);
    assert_holds(&n, 1, h, cur, len);
    blob_stats st;
    blob_engine_stats(n.e[1], &st);
    assert_int_equal(st.manifest_fallbacks, 1);
    assert_int_equal(st.short_id_false, 1);
    assert_int_equal(st.chunks_fetched, 1);
    net_free(&n);
    free(cur);
    free(other);
}

static void test_notfound_and_oversize(void **state)
{
    (void)state;
    blob_settings s;
    blob_settings_init(&s);
    s.max_payload = 100000;
    s.announce_fanout = 0;
    net n;
    net_init(&n, 2, &s);
    uint8_t *data = random_bytes(11, 100001), h[BLOB_HASH_BYTES];
    assert_int_equal(blob_engine_put(n.e[0], data, 100001, 0, 0, h), GOSSIP_ERR_OVERSIZE);
    assert_int_equal(blob_engine_put(n.e[0], data, 0, 0, 0, h), GOSSIP_ERR_INVALID);
    /* node 1 asks node 0 for a payload it does not have */
    memset(h, 0x33, sizeof h);
    assert_int_equal(blob_engine_fetch(n.e[1], 0, h, 0), 0);
    assert_true(blob_engine_pending(n.e[1], h));
    drain(&n);
    assert_int_equal(n.sent_type[BLOB_MSG_NOTFOUND], 1);
    blob_stats st;
    blob_engine_stats(n.e[1], &st);
    assert_int_equal(st.sources_dropped, 1);
    /* with no source left, the fetch is abandoned after fetch_timeout */
    run(&n, 10u * s.fetch_timeout_ms);
    assert_false(blob_engine_pending(n.e[1], h));
    blob_engine_stats(n.e[1], &st);
    assert_int_equal(st.payloads_abandoned, 1);
    net_free(&n);
    free(data);
}

static void test_pending_bound(void **state)
{
    (void)state;
    blob_settings s;
    blob_settings_init(&s);
    s.max_pending = 1;
    s.announce_fanout = 0;
    net n;
    net_init(&n, 2, &s);
    n.mute = 1u << 1; /* keep node 1's fetch pending */
    uint8_t h1[BLOB_HASH_BYTES], h2[BLOB_HASH_BYTES];
    memset(h1, 1, sizeof h1);
    memset(h2, 2, sizeof h2);
    send_inv(&n, 0, 1, h1, 10000, 2);
    send_inv(&n, 0, 1, h2, 10000, 2);
    send_inv(&n, 0, 1, h1, 10000, 2); /* again: a known source, no new request */
    assert_true(blob_engine_pending(n.e[1], h1));
    assert_false(blob_engine_pending(n.e[1], h2));
    blob_stats st;
    blob_engine_stats(n.e[1], &st);
    assert_int_equal(st.inv_dropped_full, 1);
    assert_int_equal(st.msgs_sent[BLOB_MSG_GETDATA], 1);
    /* an INV that contradicts the pending one's size is not a source */
    send_inv(&n, 0, 1, h1, 20000, 3);
    blob_engine_stats(n.e[1], &st);
    assert_int_equal(st.recv_errors, 1);
    net_free(&n);
}

static void test_settings_rejected(void **state)
{
    (void)state;
    blob_settings s;
    blob_settings_init(&s);
    blob_callbacks cb = {on_send, NULL, NULL, NULL};
    blob_engine *e;
    blob_settings bad = s;
    bad.max_payload = 0;
    assert_int_equal(blob_engine_new(&bad, &cb, &e), GOSSIP_ERR_INVALID);
    bad = s;
    bad.chunking.avg_size = 3000;
    assert_int_equal(blob_engine_new(&bad, &cb, &e), GOSSIP_ERR_INVALID);
    bad = s;
    bad.max_sources = 65;
    assert_int_equal(blob_engine_new(&bad, &cb, &e), GOSSIP_ERR_INVALID);
    bad = s;
    bad.struct_version = 99;
    assert_int_equal(blob_engine_new(&bad, &cb, &e), GOSSIP_ERR_INVALID);
    blob_callbacks no_send = {0};
    assert_int_equal(blob_engine_new(&s, &no_send, &e), GOSSIP_ERR_INVALID);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_reaches_everyone),
        cmocka_unit_test(test_only_missing_chunks_are_fetched),
        cmocka_unit_test(test_corrupt_source_dropped),
        cmocka_unit_test(test_silent_source_times_out),
        cmocka_unit_test(test_false_short_id_match_falls_back),
        cmocka_unit_test(test_notfound_and_oversize),
        cmocka_unit_test(test_pending_bound),
        cmocka_unit_test(test_settings_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
