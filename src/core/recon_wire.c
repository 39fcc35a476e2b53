/* recon_wire.c -- writing and checking the session's messages
 * (recon_wire.h). */
#include "core/recon_wire.h"

#include <string.h>

#include "core/alloc.h"

/* ---- writing ------------------------------------------------------------ */

void recon_buf_init(recon_buf *b, const gossip_allocator *a)
{
    memset(b, 0, sizeof *b);
    b->alloc = a != NULL ? a : gossip_default_allocator();
}

void recon_buf_free(recon_buf *b)
{
    ga_free(b->alloc, b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void recon_buf_reset(recon_buf *b)
{
    b->len = 0;
    b->err = 0;
}

uint8_t *recon_put_space(recon_buf *b, size_t n)
{
    if (b->err)
        return NULL;
    if (n > SIZE_MAX / 2 - b->len) {
        b->err = GOSSIP_ERR_NOMEM;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap < 256 ? 256 : b->cap;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = ga_realloc(b->alloc, b->p, cap);
        if (p == NULL) {
            b->err = GOSSIP_ERR_NOMEM;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void recon_put_u8(recon_buf *b, uint8_t v)
{
    uint8_t *p = recon_put_space(b, 1);
    if (p)
        *p = v;
}

void recon_put_u16(recon_buf *b, uint16_t v)
{
    uint8_t *p = recon_put_space(b, 2);
    if (p) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

void recon_put_u64(recon_buf *b, uint64_t v)
{
    uint8_t *p = recon_put_space(b, 8);
    if (p)
        for (int i = 0; i < 8; i++)
            p[i] = (uint8_t)(v >> (8 * i));
}

size_t recon_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void recon_put_varint(recon_buf *b, uint64_t v)
{
    uint8_t *p = recon_put_space(b, recon_varint_size(v));
    if (!p)
        return;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p = (uint8_t)v;
}

void recon_put_bytes(recon_buf *b, const void *src, size_t n)
{
    uint8_t *p = recon_put_space(b, n);
    if (p && n)
        memcpy(p, src, n);
}

void recon_begin_message(recon_buf *b, uint8_t type)
{
    recon_buf_reset(b);
    recon_put_u8(b, RECON_MAGIC0);
    recon_put_u8(b, RECON_MAGIC1);
    recon_put_u8(b, RECON_WIRE_VERSION);
    recon_put_u8(b, type);
    recon_put_space(b, 4);
}

void recon_end_message(recon_buf *b)
{
    if (b->err || b->len < RECON_HEADER_BYTES)
        return;
    size_t body = b->len - RECON_HEADER_BYTES;
    if (body > UINT32_MAX) {
        b->err = GOSSIP_ERR_OVERSIZE;
        return;
    }
    for (int i = 0; i < 4; i++)
        b->p[4 + i] = (uint8_t)(body >> (8 * i));
}

void recon_put_entry(recon_buf *b, const recon_entry *e)
{
    recon_put_u8(b, e->tombstone ? 1 : 0);
    recon_put_u64(b, e->version.ts);
    recon_put_u64(b, e->version.writer);
    recon_put_varint(b, e->key_len);
    recon_put_bytes(b, e->key, e->key_len);
    recon_put_varint(b, e->value_len);
    recon_put_bytes(b, e->value, e->value_len);
}

size_t recon_entry_size(const recon_entry *e)
{
    return 1 + 8 + 8 + recon_varint_size(e->key_len) + e->key_len +
           recon_varint_size(e->value_len) + e->value_len;
}

/* ---- reading ------------------------------------------------------------ */

void recon_reader_init(recon_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = 0;
}

static void fail(recon_reader *r, int err)
{
    if (!r->err)
        r->err = err;
}

const uint8_t *recon_get_bytes(recon_reader *r, size_t n)
{
    if (r->err)
        return NULL;
    if (n > recon_left(r)) {
        fail(r, GOSSIP_ERR_TRUNCATED);
        return NULL;
    }
    const uint8_t *at = r->p + r->off;
    r->off += n;
    return at;
}

uint8_t recon_get_u8(recon_reader *r)
{
    const uint8_t *p = recon_get_bytes(r, 1);
    return p ? p[0] : 0;
}

uint16_t recon_get_u16(recon_reader *r)
{
    const uint8_t *p = recon_get_bytes(r, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint64_t recon_get_u64(recon_reader *r)
{
    const uint8_t *p = recon_get_bytes(r, 8);
    uint64_t v = 0;
    if (p)
        for (int i = 0; i < 8; i++)
            v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t recon_get_varint(recon_reader *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = recon_get_bytes(r, 1);
        if (!p)
            return 0;
        uint64_t bits = *p & 0x7f;
        if (shift == 63 && bits > 1) {
            fail(r, GOSSIP_ERR_MALFORMED); /* more than 64 bits */
            return 0;
        }
        v |= bits << shift;
        if (!(*p & 0x80))
            return v;
    }
    fail(r, GOSSIP_ERR_MALFORMED);
    return 0;
}

void recon_get_entry(recon_reader *r, recon_entry *e, uint32_t max_key, uint32_t max_value)
{
    memset(e, 0, sizeof *e);
    uint8_t flags = recon_get_u8(r);
    e->version.ts = recon_get_u64(r);
    e->version.writer = recon_get_u64(r);
    uint64_t klen = recon_get_varint(r);
    if (r->err)
        return;
    if (flags & ~1u) {
        fail(r, GOSSIP_ERR_MALFORMED);
        return;
    }
    if (klen > max_key) {
        fail(r, GOSSIP_ERR_OVERSIZE);
        return;
    }
    e->tombstone = flags & 1;
    e->key_len = (uint32_t)klen;
    e->key = recon_get_bytes(r, e->key_len);
    uint64_t vlen = recon_get_varint(r);
    if (r->err)
        return;
    if (vlen > max_value) {
        fail(r, GOSSIP_ERR_OVERSIZE);
        return;
    }
    if (e->tombstone && vlen != 0) {
        fail(r, GOSSIP_ERR_MALFORMED);
        return;
    }
    e->value_len = (uint32_t)vlen;
    e->value = recon_get_bytes(r, e->value_len);
}

/* A count of items of at least `min_size` bytes each must fit in what is
 * left: a message cannot claim more items than it could hold. */
static uint64_t get_count(recon_reader *r, size_t min_size)
{
    uint64_t n = recon_get_varint(r);
    if (!r->err && n > recon_left(r) / min_size)
        fail(r, GOSSIP_ERR_TOO_MANY);
    return r->err ? 0 : n;
}

static uint64_t get_prefix(recon_reader *r, unsigned depth)
{
    uint64_t p = recon_get_varint(r);
    if (!r->err && depth < 64 && (p >> depth) != 0)
        fail(r, GOSSIP_ERR_MALFORMED);
    return p;
}

static void parse_nodes(recon_reader *r, uint64_t n)
{
    for (uint64_t i = 0; i < n && !r->err; i++) {
        unsigned depth = recon_get_u8(r);
        if (!r->err && depth >= RECON_KHASH_BITS) {
            fail(r, GOSSIP_ERR_MALFORMED);
            return;
        }
        get_prefix(r, depth);
        unsigned step = RECON_KHASH_BITS - depth < RECON_NODE_STEP ? RECON_KHASH_BITS - depth
                                                                   : RECON_NODE_STEP;
        recon_get_bytes(r, ((size_t)8) << step);
    }
}

static void parse_lists(recon_reader *r, uint64_t n)
{
    for (uint64_t i = 0; i < n && !r->err; i++) {
        unsigned depth = recon_get_u8(r);
        if (!r->err && depth > RECON_KHASH_BITS) {
            fail(r, GOSSIP_ERR_MALFORMED);
            return;
        }
        uint64_t prefix = get_prefix(r, depth);
        uint64_t m = get_count(r, RECON_DIGEST_BYTES);
        for (uint64_t j = 0; j < m && !r->err; j++) {
            uint64_t khash = recon_get_u64(r);
            recon_get_u64(r);
            recon_get_u64(r);
            if (r->err)
                return;
            if (khash >= RECON_P61 ||
                (depth > 0 && (khash >> (RECON_KHASH_BITS - depth)) != prefix))
                fail(r, GOSSIP_ERR_MALFORMED);
        }
    }
}

static void parse_exchange(recon_reader *r, const recon_limits *lim, recon_msg *m)
{
    unsigned last = 0;
    while (recon_left(r) > 0 && !r->err) {
        unsigned kind = recon_get_u8(r);
        if (kind == 0 || kind >= RECON_SEC_COUNT) {
            fail(r, GOSSIP_ERR_BAD_TYPE);
            return;
        }
        if (kind <= last) {
            fail(r, GOSSIP_ERR_MALFORMED); /* repeated or out of order */
            return;
        }
        last = kind;
        m->has[kind] = true;
        switch (kind) {
        case RECON_SEC_LEVEL: {
            unsigned depth = recon_get_u8(r);
            if (!r->err && depth > RECON_MAX_LEVEL) {
                fail(r, GOSSIP_ERR_OVERSIZE);
                return;
            }
            m->level_depth = depth;
            m->n[kind] = (uint64_t)1 << depth;
            m->at[kind] = r->off;
            recon_get_bytes(r, (size_t)8 << depth);
            break;
        }
        case RECON_SEC_NODES:
            m->n[kind] = get_count(r, 1 + 1 + 16);
            m->at[kind] = r->off;
            parse_nodes(r, m->n[kind]);
            break;
        case RECON_SEC_LISTS:
            m->n[kind] = get_count(r, 3);
            m->at[kind] = r->off;
            parse_lists(r, m->n[kind]);
            break;
        case RECON_SEC_WANTS:
            m->n[kind] = get_count(r, 8);
            m->at[kind] = r->off;
            for (uint64_t i = 0; i < m->n[kind] && !r->err; i++)
                if (recon_get_u64(r) >= RECON_P61)
                    fail(r, GOSSIP_ERR_MALFORMED);
            break;
        case RECON_SEC_ENTRIES:
            m->n[kind] = get_count(r, 19);
            m->at[kind] = r->off;
            for (uint64_t i = 0; i < m->n[kind] && !r->err; i++) {
                recon_entry e;
                recon_get_entry(r, &e, lim->max_key, lim->max_value);
            }
            break;
        }
    }
}

int recon_parse(const uint8_t *msg, size_t len, const recon_limits *lim, recon_msg *m)
{
    memset(m, 0, sizeof *m);
    if (msg == NULL || len < RECON_HEADER_BYTES)
        return GOSSIP_ERR_TRUNCATED;
    if (msg[0] != RECON_MAGIC0 || msg[1] != RECON_MAGIC1)
        return GOSSIP_ERR_BAD_MAGIC;
    if (msg[2] != RECON_WIRE_VERSION)
        return GOSSIP_ERR_BAD_VERSION;
    if (len > lim->max_message)
        return GOSSIP_ERR_OVERSIZE;
    uint64_t body = (uint64_t)msg[4] | (uint64_t)msg[5] << 8 | (uint64_t)msg[6] << 16 |
                    (uint64_t)msg[7] << 24;
    if (body > len - RECON_HEADER_BYTES)
        return GOSSIP_ERR_TRUNCATED;
    if (body < len - RECON_HEADER_BYTES)
        return GOSSIP_ERR_MALFORMED; /* trailing bytes */
    m->type = msg[3];
    m->body = msg + RECON_HEADER_BYTES;
    m->body_len = (size_t)body;
    recon_reader r;
    recon_reader_init(&r, m->body, m->body_len);
    switch (m->type) {
    case RECON_MSG_HELLO:
        m->method = recon_get_u8(&r);
        m->root = recon_get_u64(&r);
        m->count = recon_get_varint(&r);
        for (unsigned i = 0; i < IBLT_SKETCH_CELLS; i++)
            m->sketch[i] = recon_get_u16(&r);
        if (!r.err && (m->method < 1 || m->method > 3))
            fail(&r, GOSSIP_ERR_MALFORMED);
        break;
    case RECON_MSG_DONE:
        break;
    case RECON_MSG_SYMBOLS:
        m->start = recon_get_varint(&r);
        m->n_symbols = get_count(&r, IBLT_SYMBOL_BYTES);
        if (!r.err && (m->n_symbols == 0 || m->start > lim->max_symbols ||
                       m->n_symbols > lim->max_symbols - m->start)) {
            fail(&r, GOSSIP_ERR_TOO_MANY);
            break;
        }
        m->symbols = recon_get_bytes(&r, (size_t)m->n_symbols * IBLT_SYMBOL_BYTES);
        for (uint64_t i = 0; i < m->n_symbols && !r.err; i++) {
            iblt_sym s;
            if (iblt_sym_read(m->symbols + i * IBLT_SYMBOL_BYTES, &s) != 0)
                fail(&r, GOSSIP_ERR_MALFORMED);
        }
        break;
    case RECON_MSG_MORE:
        m->end = recon_get_varint(&r);
        if (!r.err && m->end > lim->max_symbols)
            fail(&r, GOSSIP_ERR_TOO_MANY);
        break;
    case RECON_MSG_EXCHANGE:
        parse_exchange(&r, lim, m);
        break;
    default:
        return GOSSIP_ERR_BAD_TYPE;
    }
    if (!r.err && recon_left(&r) != 0)
        fail(&r, GOSSIP_ERR_MALFORMED);
    return r.err;
}
