/* fuzz_recon.c -- libFuzzer harness of the anti-entropy session
 * (core/recon.h, core/recon_wire.h): hostile messages from the peer go
 * through recon_session_recv of a session over a small in-memory
 * last-writer-wins store (the simulator's ae_replica).
 *
 * Input: three header bytes, then the peer's messages back to back, each
 * as long as its own header says (the last one takes whatever is left):
 *
 *   byte 0   bit 0 our role (0 responder, 1 initiator: we send HELLO first);
 *            bits 1-2 the method our HELLO asks for (0 and 3: auto);
 *            bits 3-4 list_threshold; bit 5 a small Merkle tree (leaf_bits
 *            2, split 4); bit 7 max_message 4 KiB (replies can overflow it)
 *   byte 1   bits 0-1 which store we hold (empty, 12, 60 or 200 keys)
 *   byte 2   0, or k: our session's k-th allocation fails (once)
 *
 * max_symbols is 4,096 (not 2^20) so that a MORE cannot make every run
 * encode 32 MiB of symbols; every bound stays reachable.
 *
 * Checked: a refused message (stats.rejected goes up) returns an error,
 * no reply, and changes nothing -- store, index, counters, the session's
 * state; any other error is one the API allows (allocator, oversize
 * reply) and ends the run; every reply parses under the same limits and
 * fits max_message; afterwards, if the store may have changed, the Merkle
 * tree passes merkle_check and it and the sketch agree with the store's
 * entries; nothing leaks from the session's allocator.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/iblt.h"
#include "core/merkle.h"
#include "core/recon.h"
#include "core/recon_internal.h"
#include "core/recon_wire.h"
#include "sim/antientropy.h"
#include "fault_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "fuzz_recon: check failed at line %d: %s\n", __LINE__, #cond); \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#define FUZZ_MAX_SYMBOLS 4096u

/* ---- the stores ------------------------------------------------------------------ */

static const unsigned preset_keys[4] = {0, 12, 60, 200};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static void put(ae_replica *r, const char *key, uint64_t ts, uint64_t writer, bool tomb)
{
    char value[32];
    int n = tomb ? 0 : snprintf(value, sizeof value, "v%llu-%llu", (unsigned long long)ts,
                                (unsigned long long)writer);
    recon_entry e = {(const uint8_t *)key, (uint32_t)strlen(key), (const uint8_t *)value,
                     (uint32_t)n, {ts, writer}, tomb};
    CHECK(ae_replica_put(r, &e) >= 0);
}

/* Our store (side 0) or the peer's the seeds were recorded against (side
 * 1): most keys equal, some on one side only, some newer on either side,
 * some deleted.  With preset 0 we hold nothing and the peer 20 keys. */
static void build_store(ae_replica *r, unsigned preset, int side)
{
    unsigned keys = preset_keys[preset & 3];
    if (keys == 0 && side == 1)
        keys = 20;
    for (unsigned i = 0; i < keys; i++) {
        char key[24];
        snprintf(key, sizeof key, "key-%u", i);
        uint64_t h = mix(i + 1);
        unsigned where = preset == 0 ? 5 : (unsigned)(h % 10);
        uint64_t ts = 1000 + i, writer = 1;
        bool tomb = (h >> 8) % 7 == 0;
        switch (where) {
        case 4: /* only ours */
            if (side == 1)
                continue;
            break;
        case 5: /* only theirs */
            if (side == 0)
                continue;
            break;
        case 6: /* newer on ours */
            if (side == 0)
                ts += 10;
            break;
        case 7: /* newer on theirs, by the writer at a tied timestamp */
            if (side == 1)
                writer = 2;
            break;
        case 8: /* deleted on theirs, later */
            if (side == 1) {
                ts += 5;
                tomb = true;
            }
            break;
        default: break;
        }
        put(r, key, ts, writer, tomb);
    }
}

static void session_config(uint8_t cfg, recon_config *c)
{
    recon_config_default(c);
    unsigned m = cfg >> 1 & 3;
    c->method = m == 1 ? RECON_MERKLE : m == 2 ? RECON_IBLT : RECON_AUTO;
    c->list_threshold = cfg >> 3 & 3;
    c->max_symbols = FUZZ_MAX_SYMBOLS;
    if (cfg & 0x80)
        c->max_message = 4096;
}

static void store_shape(uint8_t cfg, unsigned *leaf_bits, uint32_t *split)
{
    *leaf_bits = (cfg & 0x20) ? 2 : 0;
    *split = (cfg & 0x20) ? 4 : 0;
}

/* The allocator that counts and fails once on demand: fault_alloc.h. */

/* ---- checks ---------------------------------------------------------------------- */

static void check_reply(const recon_session *s, const uint8_t *msg, size_t len)
{
    CHECK(len >= RECON_HEADER_BYTES && len <= s->cfg.max_message);
    static recon_msg m;
    uint8_t *copy = malloc(len);
    memcpy(copy, msg, len);
    int rc = recon_parse(copy, len, &s->lim, &m);
    if (rc != 0) {
        fprintf(stderr, "fuzz_recon: the session sent a message (type %u, %zu bytes) that "
                        "does not parse (%d)\n", msg[3], len, rc);
        abort();
    }
    free(copy);
}

typedef struct visit_ctx {
    const ae_replica *r;
    uint64_t seen;
} visit_ctx;

static void visit(void *arg, const merkle_rec *rec)
{
    visit_ctx *c = arg;
    c->seen++;
    /* each record is one entry of the store, at its version */
    const ae_replica *r = c->r;
    bool found = false;
    for (uint32_t i = r->heads[rec->khash & r->mask]; i != UINT32_MAX && !found; i = r->e[i].next)
        found = r->e[i].khash == rec->khash && recon_version_eq(r->e[i].version, rec->version);
    CHECK(found);
}

static void check_store(const ae_replica *r)
{
    CHECK(merkle_check(&r->index.tree) == 0);
    CHECK(merkle_count(&r->index.tree) == r->n);
    uint16_t cells[IBLT_SKETCH_CELLS];
    memset(cells, 0, sizeof cells);
    for (uint32_t i = 0; i < r->n; i++) {
        const ae_entry *x = &r->e[i];
        CHECK(x->khash == recon_key_hash(r->arena + x->key_off, x->key_len));
        CHECK(!x->tombstone || x->val_len == 0);
        recon_version v[4];
        size_t n = merkle_find(&r->index.tree, x->khash, v, 4);
        CHECK(n >= 1);
        bool found = false;
        for (size_t j = 0; j < n && j < 4; j++)
            found = found || recon_version_eq(v[j], x->version);
        CHECK(found);
        iblt_sketch_add(cells, x->khash, x->version, +1);
    }
    CHECK(memcmp(cells, r->index.sketch, sizeof cells) == 0);
    visit_ctx c = {r, 0};
    merkle_each(&r->index.tree, visit, &c);
    CHECK(c.seen == r->n);
}

/* ---- the run ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t cfg = data[0], preset = data[1] & 3, fault = data[2];
    data += 3;
    size -= 3;

    unsigned leaf_bits;
    uint32_t split;
    store_shape(cfg, &leaf_bits, &split);
    ae_replica r;
    CHECK(ae_replica_init(&r, 256, leaf_bits, split) == 0);
    build_store(&r, preset, 0);
    const uint64_t built_root = merkle_root(&r.index.tree);
    const uint32_t built_n = r.n;
    recon_store st = ae_replica_store(&r);
    recon_config c;
    session_config(cfg, &c);
    fault_alloc fa = {0, 0, fault, 0};
    const gossip_allocator alloc = {fa_malloc, fa_realloc, fa_free, &fa};
    bool initiator = cfg & 1;
    recon_session *s;
    CHECK(recon_session_new(&s, &alloc, &c, &st, initiator) == 0);
    fa.armed = 1;
    const uint8_t *out;
    size_t out_len;
    bool dead = false;
    if (initiator) {
        int rc = recon_session_start(s, &out, &out_len);
        if (rc == 0) {
            check_reply(s, out, out_len);
            CHECK(out[3] == RECON_MSG_HELLO);
        } else {
            CHECK(rc == GOSSIP_ERR_NOMEM);
            dead = true;
        }
    }

    size_t off = 0;
    while (off < size && !dead) {
        size_t len = size - off;
        if (len >= RECON_HEADER_BYTES) {
            const uint8_t *p = data + off;
            uint64_t body = (uint64_t)p[4] | (uint64_t)p[5] << 8 | (uint64_t)p[6] << 16 |
                            (uint64_t)p[7] << 24;
            if (body < len - RECON_HEADER_BYTES)
                len = RECON_HEADER_BYTES + (size_t)body;
        }
        uint8_t *msg = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(msg, data + off, len);
        off += len;

        uint64_t root = merkle_root(&r.index.tree), count = merkle_count(&r.index.tree);
        uint32_t n = r.n;
        recon_stats before = *recon_session_stats(s);
        unsigned expect = s->expect;
        uint64_t dec_n = s->dec.n, sent = s->symbols_sent, asked = s->symbols_asked;

        int rc = recon_session_recv(s, msg, len, &out, &out_len);
        const recon_stats *after = recon_session_stats(s);
        if (after->rejected != before.rejected) {
            /* refused: nothing moved */
            CHECK(after->rejected == before.rejected + 1);
            CHECK(rc < 0);
            CHECK(out_len == 0);
            CHECK(merkle_root(&r.index.tree) == root && merkle_count(&r.index.tree) == count);
            CHECK(r.n == n);
            CHECK(after->messages_received == before.messages_received);
            CHECK(after->entries_received == before.entries_received);
            CHECK(after->bytes_received == before.bytes_received);
            CHECK(s->expect == expect && s->dec.n == dec_n && s->symbols_sent == sent &&
                  s->symbols_asked == asked);
        } else if (rc != 0) {
            /* the errors that end a session */
            if (rc != GOSSIP_ERR_NOMEM && rc != GOSSIP_ERR_OVERSIZE) {
                fprintf(stderr, "fuzz_recon: recv failed with %d without refusing the "
                                "message\n", rc);
                abort();
            }
            CHECK(rc != GOSSIP_ERR_OVERSIZE || s->out.len > c.max_message);
            dead = true;
        } else {
            CHECK(after->messages_received == before.messages_received + 1);
            if (out_len > 0)
                check_reply(s, out, out_len);
            else
                CHECK(recon_session_done(s));
        }
        free(msg);
    }
    fa.armed = 0;
    bool changed = recon_session_stats(s)->entries_received > 0 || dead ||
                   merkle_root(&r.index.tree) != built_root || r.n != built_n;
    recon_session_free(s);
    CHECK(fa.live == 0);
    if (changed) /* the full check costs as much as the rest of a run */
        check_store(&r);
    ae_replica_free(&r);
    return 0;
}
