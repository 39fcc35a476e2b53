/*
 * blob_wire.c -- encoder and bounds-checked decoder of the large-payload
 * messages (format in blob_wire.h).
 *
 * msgpuck encodes.  The decoder reads every MessagePack header itself and
 * checks it against the bytes left before it calls an mp_decode_* function,
 * for the reasons given in src/wire/wire.c: msgpuck's decoders trust their
 * input.
 */
#include "core/blob_wire.h"

#include <string.h>

#include <msgpuck.h>

#include "core/alloc.h"
#include "wire/mp_read.h"

void blob_limits_from(const blob_settings *s, blob_limits *lim)
{
    lim->max_payload = s->max_payload;
    lim->min_chunk = s->chunking.min_size;
    lim->max_chunk = s->chunking.max_size;
    lim->max_indexes = BLOB_MAX_INDEXES;
}

uint32_t blob_max_chunks(uint64_t size, uint32_t min_chunk)
{
    if (size == 0 || min_chunk == 0)
        return 0;
    uint64_t n = (size - 1) / min_chunk + 1;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

size_t blob_max_message(const blob_settings *s)
{
    uint64_t n = blob_max_chunks(s->max_payload, s->chunking.min_size);
    uint64_t list = n * BLOB_MANIFEST_ENTRY;
    uint64_t chunk = s->chunking.max_size;
    uint64_t body = list > chunk ? list : chunk;
    uint64_t total = body + 128; /* header, map, keys, hash, integers */
    return total > SIZE_MAX ? SIZE_MAX : (size_t)total;
}

/* ---- reader (src/wire/mp_read.h) ------------------------------------------- */

static int rd_u32(reader *r, uint32_t *v)
{
    uint64_t x;
    int rc = rd_uint(r, &x);
    if (rc)
        return rc;
    if (x > UINT32_MAX)
        return GOSSIP_ERR_OVERSIZE;
    *v = (uint32_t)x;
    return 0;
}

/* ---- decoding ---------------------------------------------------------------- */

static const uint32_t required[BLOB_MSG_TYPE_COUNT] = {
    [BLOB_MSG_INV] = 1u << BK_HASH | 1u << BK_SIZE | 1u << BK_COUNT,
    [BLOB_MSG_COMPACT] = 1u << BK_HASH | 1u << BK_SIZE | 1u << BK_COUNT | 1u << BK_NONCE |
                         1u << BK_IDS,
    [BLOB_MSG_MANIFEST] = 1u << BK_HASH | 1u << BK_SIZE | 1u << BK_COUNT | 1u << BK_CHUNKS,
    [BLOB_MSG_GETDATA] = 1u << BK_HASH | 1u << BK_WANT,
    [BLOB_MSG_CHUNK] = 1u << BK_HASH | 1u << BK_INDEX | 1u << BK_DATA,
    [BLOB_MSG_NOTFOUND] = 1u << BK_HASH | 1u << BK_WANT,
};

static int rd_indexes(reader *r, const blob_limits *lim, blob_msg *m)
{
    uint32_t n;
    uint32_t cap = lim->max_indexes < BLOB_MAX_INDEXES ? lim->max_indexes : BLOB_MAX_INDEXES;
    int rc = rd_container(r, MP_ARRAY, &n, cap);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = rd_u32(r, &m->indexes[i])))
            return rc;
    }
    m->n_indexes = n;
    return 0;
}

static int rd_field(reader *r, uint64_t key, const blob_limits *lim, blob_msg *m)
{
    uint32_t len;
    int rc;
    switch (key) {
    case BK_HASH:
        if ((rc = rd_bin(r, &m->hash, &len, BLOB_HASH_BYTES)))
            return rc;
        return len == BLOB_HASH_BYTES ? 0 : GOSSIP_ERR_MALFORMED;
    case BK_SIZE: return rd_uint(r, &m->size);
    case BK_COUNT: return rd_u32(r, &m->count);
    case BK_NONCE: return rd_uint(r, &m->nonce);
    case BK_IDS:
        return rd_bin(r, &m->ids, &m->ids_len, UINT32_MAX); /* against count: check_msg */
    case BK_CHUNKS:
        return rd_bin(r, &m->chunks, &m->chunks_len, UINT32_MAX);
    case BK_WANT: return rd_u32(r, &m->want);
    case BK_INDEXES: return rd_indexes(r, lim, m);
    case BK_INDEX: return rd_u32(r, &m->index);
    case BK_DATA: return rd_bin(r, &m->data, &m->data_len, lim->max_chunk);
    default: return rd_skip(r); /* a newer peer's field */
    }
}

/* The checks that need more than one field. */
static int check_msg(const blob_limits *lim, blob_msg *m)
{
    if ((m->present & required[m->type]) != required[m->type])
        return GOSSIP_ERR_MALFORMED;
    switch (m->type) {
    case BLOB_MSG_INV:
    case BLOB_MSG_COMPACT:
    case BLOB_MSG_MANIFEST:
        if (m->size == 0 || m->count == 0)
            return GOSSIP_ERR_MALFORMED;
        if (m->size > lim->max_payload)
            return GOSSIP_ERR_OVERSIZE;
        if (m->count > blob_max_chunks(m->size, lim->min_chunk) ||
            (uint64_t)m->count * lim->max_chunk < m->size)
            return GOSSIP_ERR_MALFORMED;
        if (m->type == BLOB_MSG_COMPACT &&
            m->ids_len != (uint64_t)m->count * BLOB_SHORT_ID_BYTES)
            return GOSSIP_ERR_MALFORMED;
        if (m->type == BLOB_MSG_MANIFEST) {
            if (m->chunks_len != (uint64_t)m->count * BLOB_MANIFEST_ENTRY)
                return GOSSIP_ERR_MALFORMED;
            uint64_t sum = 0;
            for (uint32_t i = 0; i < m->count; i++) {
                uint32_t l = blob_msg_chunk_len(m, i);
                if (l == 0 || l > lim->max_chunk)
                    return GOSSIP_ERR_MALFORMED;
                sum += l;
            }
            if (sum != m->size)
                return GOSSIP_ERR_MALFORMED;
        }
        return 0;
    case BLOB_MSG_GETDATA:
    case BLOB_MSG_NOTFOUND:
        if (m->want > BLOB_WANT_MANIFEST)
            return GOSSIP_ERR_MALFORMED;
        if (m->want == BLOB_WANT_CHUNKS && m->n_indexes == 0)
            return GOSSIP_ERR_MALFORMED;
        return 0;
    case BLOB_MSG_CHUNK:
        return m->data_len == 0 ? GOSSIP_ERR_MALFORMED : 0;
    default: return GOSSIP_ERR_BAD_TYPE;
    }
}

int blob_decode(const uint8_t *buf, size_t len, const blob_limits *lim, blob_msg *m)
{
    memset(m, 0, offsetof(blob_msg, indexes));
    if (len < BLOB_HEADER_BYTES + 1)
        return GOSSIP_ERR_TRUNCATED;
    if (buf[0] != BLOB_MAGIC0 || buf[1] != BLOB_MAGIC1)
        return GOSSIP_ERR_BAD_MAGIC;
    if (buf[2] != BLOB_WIRE_VERSION)
        return GOSSIP_ERR_BAD_VERSION;
    if (buf[3] == 0 || buf[3] >= BLOB_MSG_TYPE_COUNT)
        return GOSSIP_ERR_BAD_TYPE;
    m->type = buf[3];
    reader r = {(const char *)buf + BLOB_HEADER_BYTES, (const char *)buf + len};
    uint32_t n;
    int rc = rd_container(&r, MP_MAP, &n, UINT32_MAX);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        uint64_t key;
        if (rd_left(&r) >= 1 && mp_typeof(*r.p) != MP_UINT) {
            /* a string (or other) key: unknown by definition */
            if ((rc = rd_skip(&r)) == 0)
                rc = rd_skip(&r);
            continue;
        }
        if ((rc = rd_uint(&r, &key)))
            break;
        if (key > 0 && key < BK_COUNT_KEYS) {
            if (m->present & (1u << key)) {
                rc = GOSSIP_ERR_MALFORMED;
                break;
            }
            m->present |= 1u << key;
        }
        rc = rd_field(&r, key, lim, m);
    }
    if (rc == 0 && rd_left(&r) != 0)
        rc = GOSSIP_ERR_MALFORMED; /* trailing bytes after the map */
    if (rc == 0)
        rc = check_msg(lim, m);
    if (rc)
        m->type = 0;
    return rc;
}

uint64_t blob_msg_short_id(const blob_msg *m, uint32_t i)
{
    const uint8_t *p = m->ids + (size_t)i * BLOB_SHORT_ID_BYTES;
    uint64_t v = 0;
    for (unsigned b = 0; b < BLOB_SHORT_ID_BYTES; b++)
        v |= (uint64_t)p[b] << (8 * b);
    return v;
}

const uint8_t *blob_msg_chunk_hash(const blob_msg *m, uint32_t i)
{
    return m->chunks + (size_t)i * BLOB_MANIFEST_ENTRY;
}

uint32_t blob_msg_chunk_len(const blob_msg *m, uint32_t i)
{
    const uint8_t *p = m->chunks + (size_t)i * BLOB_MANIFEST_ENTRY + BLOB_HASH_BYTES;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- writing ------------------------------------------------------------------ */

void blob_buf_init(blob_buf *b, const gossip_allocator *a)
{
    memset(b, 0, sizeof *b);
    b->alloc = a ? a : gossip_default_allocator();
}

void blob_buf_free(blob_buf *b)
{
    ga_free(b->alloc, b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Makes room for `n` more bytes; returns where they go, or NULL. */
static char *buf_room(blob_buf *b, size_t n)
{
    if (b->err)
        return NULL;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = ga_realloc(b->alloc, b->p, cap);
        if (!p) {
            b->err = GOSSIP_ERR_NOMEM;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return (char *)b->p + b->len;
}

/* Reserves the worst case `n`, then commits what the encoder used. */
#define EMIT(b, worst, expr)                                                              \
    do {                                                                                  \
        char *start_ = buf_room((b), (worst));                                            \
        if (start_) {                                                                     \
            char *p = start_;                                                             \
            p = (expr);                                                                   \
            (b)->len += (size_t)(p - start_);                                             \
        }                                                                                 \
    } while (0)

static void put_bytes(blob_buf *b, const void *data, size_t n)
{
    char *p = buf_room(b, n);
    if (p) {
        memcpy(p, data, n);
        b->len += n;
    }
}

static void begin(blob_buf *b, uint8_t type, uint32_t fields)
{
    b->len = 0;
    b->err = 0;
    uint8_t head[BLOB_HEADER_BYTES] = {BLOB_MAGIC0, BLOB_MAGIC1, BLOB_WIRE_VERSION, type};
    put_bytes(b, head, sizeof head);
    EMIT(b, 5, mp_encode_map(p, fields));
}

static void put_uint(blob_buf *b, uint32_t key, uint64_t v)
{
    EMIT(b, 1, mp_encode_uint(p, key));
    EMIT(b, 9, mp_encode_uint(p, v));
}

static void put_bin_head(blob_buf *b, uint32_t key, uint32_t len)
{
    EMIT(b, 1, mp_encode_uint(p, key));
    EMIT(b, 5, mp_encode_binl(p, len));
}

static void put_hash(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES])
{
    put_bin_head(b, BK_HASH, BLOB_HASH_BYTES);
    put_bytes(b, hash, BLOB_HASH_BYTES);
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int blob_encode_inv(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size,
                    uint32_t count)
{
    begin(b, BLOB_MSG_INV, 3);
    put_hash(b, hash);
    put_uint(b, BK_SIZE, size);
    put_uint(b, BK_COUNT, count);
    return b->err;
}

int blob_encode_compact(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size,
                        uint32_t count, uint64_t nonce, const uint64_t *ids)
{
    begin(b, BLOB_MSG_COMPACT, 5);
    put_hash(b, hash);
    put_uint(b, BK_SIZE, size);
    put_uint(b, BK_COUNT, count);
    put_uint(b, BK_NONCE, nonce);
    put_bin_head(b, BK_IDS, count * BLOB_SHORT_ID_BYTES);
    char *p = buf_room(b, (size_t)count * BLOB_SHORT_ID_BYTES);
    if (p) {
        for (uint32_t i = 0; i < count; i++)
            put_le((uint8_t *)p + (size_t)i * BLOB_SHORT_ID_BYTES, ids[i], BLOB_SHORT_ID_BYTES);
        b->len += (size_t)count * BLOB_SHORT_ID_BYTES;
    }
    return b->err;
}

int blob_encode_manifest(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size,
                         uint32_t count, const uint8_t *hashes, const uint32_t *lens)
{
    begin(b, BLOB_MSG_MANIFEST, 4);
    put_hash(b, hash);
    put_uint(b, BK_SIZE, size);
    put_uint(b, BK_COUNT, count);
    put_bin_head(b, BK_CHUNKS, count * BLOB_MANIFEST_ENTRY);
    char *p = buf_room(b, (size_t)count * BLOB_MANIFEST_ENTRY);
    if (p) {
        for (uint32_t i = 0; i < count; i++) {
            uint8_t *e = (uint8_t *)p + (size_t)i * BLOB_MANIFEST_ENTRY;
            memcpy(e, hashes + (size_t)i * BLOB_HASH_BYTES, BLOB_HASH_BYTES);
            put_le(e + BLOB_HASH_BYTES, lens[i], 4);
        }
        b->len += (size_t)count * BLOB_MANIFEST_ENTRY;
    }
    return b->err;
}

int blob_encode_request(blob_buf *b, uint8_t type, const uint8_t hash[BLOB_HASH_BYTES],
                        uint32_t want, const uint32_t *indexes, uint32_t n)
{
    bool list = want == BLOB_WANT_CHUNKS;
    begin(b, type, list ? 3 : 2);
    put_hash(b, hash);
    put_uint(b, BK_WANT, want);
    if (list) {
        EMIT(b, 1, mp_encode_uint(p, BK_INDEXES));
        EMIT(b, 5, mp_encode_array(p, n));
        for (uint32_t i = 0; i < n; i++)
            EMIT(b, 5, mp_encode_uint(p, indexes[i]));
    }
    return b->err;
}

int blob_encode_chunk(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES], uint32_t index,
                      const uint8_t *data, uint32_t len)
{
    begin(b, BLOB_MSG_CHUNK, 3);
    put_hash(b, hash);
    put_uint(b, BK_INDEX, index);
    put_bin_head(b, BK_DATA, len);
    put_bytes(b, data, len);
    return b->err;
}
