/*
 * wire.c -- encoder and bounds-checked decoder of gossip datagrams.
 *
 * msgpuck encodes; the decoder reads every MessagePack header itself and
 * checks it against the bytes that remain before it calls an mp_decode_*
 * function, because msgpuck's decoders trust their input and its mp_check()
 * can be fooled by 32-bit counts that wrap its counter.
 */
#include "wire/wire.h"
#include "wire/mp_read.h"

#include <string.h>

#include <msgpuck.h>

/* ---- well-known keys ------------------------------------------------------ */

static const char *const well_known_names[WKK_COUNT] = {
    [WKK_STATUS] = GOSSIP_KEY_STATUS, [WKK_LOAD] = GOSSIP_KEY_LOAD,
    [WKK_SCHEMA] = GOSSIP_KEY_SCHEMA, [WKK_ADDRESS] = GOSSIP_KEY_ADDRESS,
    [WKK_TAGS] = GOSSIP_KEY_TAGS,     [WKK_TOKENS] = GOSSIP_KEY_TOKENS,
};

int wire_well_known_id(const char *key, size_t len)
{
    for (int id = 1; id < WKK_COUNT; id++) {
        const char *n = well_known_names[id];
        if (strlen(n) == len && memcmp(n, key, len) == 0)
            return id;
    }
    return 0;
}

const char *wire_well_known_name(int id)
{
    return id > 0 && id < WKK_COUNT ? well_known_names[id] : NULL;
}

/* ---- reader ----------------------------------------------------------------- */

/* Names, keys and addresses become C strings: no NUL inside. */
static int rd_str(reader *r, wire_str *s, uint32_t max_len)
{
    int rc = rd_need_header(r);
    if (rc)
        return rc;
    if (rd_peek(r) != MP_STR)
        return GOSSIP_ERR_BAD_TYPE;
    const char *save = r->p;
    uint32_t len = mp_decode_strl(&r->p);
    if (len > rd_left(r)) {
        r->p = save;
        return GOSSIP_ERR_TRUNCATED;
    }
    if (len > max_len)
        return GOSSIP_ERR_OVERSIZE;
    if (memchr(r->p, 0, len))
        return GOSSIP_ERR_MALFORMED;
    s->ptr = r->p;
    s->len = len;
    r->p += len;
    return 0;
}

/* Tuples (digests, deltas, kvs) are arrays; extra trailing elements are
 * skipped so a later version may append fields. */
static int rd_skip_rest(reader *r, uint32_t count, uint32_t used)
{
    for (uint32_t i = used; i < count; i++) {
        int rc = rd_skip(r);
        if (rc)
            return rc;
    }
    return 0;
}

/* A membership record: incarnation, then status. */
static int rd_record(reader *r, uint64_t *incarnation, uint8_t *status)
{
    uint64_t st;
    int rc;
    if ((rc = rd_uint(r, incarnation)) || (rc = rd_uint(r, &st)))
        return rc;
    if (st > WIRE_MAX_STATUS)
        return GOSSIP_ERR_MALFORMED;
    *status = (uint8_t)st;
    return 0;
}

static int rd_digest_array(reader *r, wire_digest *out, uint32_t *n_out, uint32_t cap)
{
    uint32_t n;
    int rc = rd_container(r, MP_ARRAY, &n, cap);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t fields;
        wire_digest *d = &out[i];
        if ((rc = rd_container(r, MP_ARRAY, &fields, UINT32_MAX)))
            return rc;
        if (fields < 3)
            return GOSSIP_ERR_MALFORMED;
        if ((rc = rd_str(r, &d->name, GOSSIP_MAX_NAME)) || (rc = rd_uint(r, &d->generation)) ||
            (rc = rd_uint(r, &d->max_version)))
            return rc;
        if (d->name.len == 0)
            return GOSSIP_ERR_MALFORMED;
        d->has_record = fields >= 5;
        d->status = 0;
        d->incarnation = 0;
        if (d->has_record && (rc = rd_record(r, &d->incarnation, &d->status)))
            return rc;
        if ((rc = rd_skip_rest(r, fields, d->has_record ? 5 : 3)))
            return rc;
    }
    *n_out = n;
    return 0;
}

static int rd_kv(reader *r, const wire_limits *lim, wire_kv *kv)
{
    uint32_t fields;
    int rc = rd_container(r, MP_ARRAY, &fields, UINT32_MAX);
    if (rc)
        return rc;
    if (fields < 3)
        return GOSSIP_ERR_MALFORMED;
    if (rd_left(r) < 1)
        return GOSSIP_ERR_TRUNCATED;
    if (rd_peek(r) == MP_UINT) {
        uint64_t id;
        if ((rc = rd_uint(r, &id)))
            return rc;
        const char *name = wire_well_known_name(id > INT32_MAX ? 0 : (int)id);
        if (!name)
            return GOSSIP_ERR_BAD_TYPE;
        kv->key.ptr = name;
        kv->key.len = (uint32_t)strlen(name);
    } else if ((rc = rd_str(r, &kv->key, GOSSIP_MAX_KEY))) {
        return rc;
    }
    if (kv->key.len == 0)
        return GOSSIP_ERR_MALFORMED;
    if ((rc = rd_uint(r, &kv->version)))
        return rc;
    if (kv->version == 0)
        return GOSSIP_ERR_MALFORMED;
    if (rd_left(r) < 1)
        return GOSSIP_ERR_TRUNCATED;
    if (rd_peek(r) == MP_NIL) {
        r->p++;
        kv->deleted = true;
        kv->value = NULL;
        kv->value_len = 0;
    } else {
        kv->deleted = false;
        if ((rc = rd_bin(r, &kv->value, &kv->value_len, lim->max_value)))
            return rc;
    }
    return rd_skip_rest(r, fields, 3);
}

static int rd_delta(reader *r, const wire_limits *lim, wire_msg *m, wire_delta *d)
{
    uint32_t fields, n;
    int rc = rd_container(r, MP_ARRAY, &fields, UINT32_MAX);
    if (rc)
        return rc;
    if (fields < 5)
        return GOSSIP_ERR_MALFORMED;
    if ((rc = rd_str(r, &d->name, GOSSIP_MAX_NAME)) || (rc = rd_uint(r, &d->generation)) ||
        (rc = rd_uint(r, &d->from_version)) || (rc = rd_uint(r, &d->heartbeat)))
        return rc;
    if (d->name.len == 0)
        return GOSSIP_ERR_MALFORMED;
    if ((rc = rd_container(r, MP_ARRAY, &n, lim->max_kvs_per_delta)))
        return rc;
    if (n > m->cap_kvs - m->n_kvs)
        return GOSSIP_ERR_TOO_MANY;
    d->kv_first = m->n_kvs;
    d->kv_count = n;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = rd_kv(r, lim, &m->kvs[m->n_kvs])))
            return rc;
        m->n_kvs++;
    }
    d->has_record = fields >= 7;
    d->status = 0;
    d->incarnation = 0;
    if (d->has_record && (rc = rd_record(r, &d->incarnation, &d->status)))
        return rc;
    return rd_skip_rest(r, fields, d->has_record ? 7 : 5);
}

static int rd_news(reader *r, wire_msg *m)
{
    uint32_t n;
    int rc = rd_container(r, MP_ARRAY, &n, m->cap_news);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t fields;
        wire_news *e = &m->news[i];
        if ((rc = rd_container(r, MP_ARRAY, &fields, UINT32_MAX)))
            return rc;
        if (fields < 5)
            return GOSSIP_ERR_MALFORMED;
        if ((rc = rd_str(r, &e->name, GOSSIP_MAX_NAME)) || (rc = rd_uint(r, &e->generation)) ||
            (rc = rd_record(r, &e->incarnation, &e->status)) ||
            (rc = rd_str(r, &e->from, GOSSIP_MAX_NAME)) || (rc = rd_skip_rest(r, fields, 5)))
            return rc;
        if (e->name.len == 0)
            return GOSSIP_ERR_MALFORMED; /* an empty `from`: relayed news, not a confirmation */
    }
    m->n_news = n;
    return 0;
}

static int rd_deltas(reader *r, const wire_limits *lim, wire_msg *m)
{
    uint32_t n;
    int rc = rd_container(r, MP_ARRAY, &n, m->cap_deltas);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = rd_delta(r, lim, m, &m->deltas[i])))
            return rc;
    }
    m->n_deltas = n;
    return 0;
}

static int rd_buckets(reader *r, wire_msg *m)
{
    const uint8_t *data;
    uint32_t len;
    int rc = rd_bin(r, &data, &len, 4 * WIRE_MAX_BUCKETS);
    if (rc)
        return rc;
    if (len % 4)
        return GOSSIP_ERR_MALFORMED;
    m->n_buckets = len / 4;
    for (uint32_t i = 0; i < m->n_buckets; i++) {
        const uint8_t *b = data + 4 * i;
        m->buckets[i] = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                        (uint32_t)b[3] << 24;
    }
    return 0;
}

static int rd_listed(reader *r, wire_msg *m)
{
    uint32_t n;
    int rc = rd_container(r, MP_ARRAY, &n, WIRE_MAX_BUCKETS);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t b;
        if ((rc = rd_uint(r, &b)))
            return rc;
        if (b >= WIRE_MAX_BUCKETS)
            return GOSSIP_ERR_MALFORMED;
        m->listed[i] = (uint32_t)b;
    }
    m->n_listed = n;
    return 0;
}

static int rd_field(reader *r, uint64_t key, const wire_limits *lim, wire_msg *m)
{
    uint64_t v;
    int rc;
    switch (key) {
    case WK_FROM: return rd_str(r, &m->from, GOSSIP_MAX_NAME);
    case WK_ADDR: return rd_str(r, &m->addr, GOSSIP_MAX_ADDR);
    case WK_TABLE_HASH:
        m->has_table_hash = true;
        return rd_uint(r, &m->table_hash);
    case WK_MEMBERS: return rd_uint(r, &m->members);
    case WK_DIGESTS: return rd_digest_array(r, m->digests, &m->n_digests, m->cap_digests);
    case WK_REQUESTS: return rd_digest_array(r, m->requests, &m->n_requests, m->cap_digests);
    case WK_DELTAS: return rd_deltas(r, lim, m);
    case WK_BUCKET_BITS:
        if ((rc = rd_uint(r, &v)))
            return rc;
        if (v > WIRE_MAX_BUCKET_BITS)
            return GOSSIP_ERR_MALFORMED;
        m->bucket_bits = (uint32_t)v;
        return 0;
    case WK_BUCKETS: return rd_buckets(r, m);
    case WK_LISTED: return rd_listed(r, m);
    case WK_NEWS: return rd_news(r, m);
    case WK_SEQ:
        m->has_seq = true;
        return rd_uint(r, &m->seq);
    case WK_TARGET: return rd_str(r, &m->target, GOSSIP_MAX_NAME);
    case WK_TARGET_ADDR: return rd_str(r, &m->target_addr, GOSSIP_MAX_ADDR);
    default: return rd_skip(r); /* a newer peer's field */
    }
}

static void msg_reset(wire_msg *m)
{
    /* Only the head; the arrays are valid up to their counts. */
    memset(m, 0, offsetof(wire_msg, cap_digests));
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

size_t wire_msg_size(uint32_t mtu)
{
    return align8(sizeof(wire_msg)) + 2 * align8((mtu / WIRE_MIN_DIGEST) * sizeof(wire_digest)) +
           align8((mtu / WIRE_MIN_DELTA) * sizeof(wire_delta)) +
           align8((mtu / WIRE_MIN_KV) * sizeof(wire_kv)) +
           align8((mtu / WIRE_MIN_NEWS) * sizeof(wire_news));
}

void wire_msg_init(wire_msg *m, uint32_t mtu)
{
    memset(m, 0, sizeof *m);
    m->cap_digests = mtu / WIRE_MIN_DIGEST;
    m->cap_deltas = mtu / WIRE_MIN_DELTA;
    m->cap_kvs = mtu / WIRE_MIN_KV;
    m->cap_news = mtu / WIRE_MIN_NEWS;
    char *p = (char *)m + align8(sizeof *m);
    m->digests = (wire_digest *)p;
    p += align8(m->cap_digests * sizeof(wire_digest));
    m->requests = (wire_digest *)p;
    p += align8(m->cap_digests * sizeof(wire_digest));
    m->deltas = (wire_delta *)p;
    p += align8(m->cap_deltas * sizeof(wire_delta));
    m->kvs = (wire_kv *)p;
    p += align8(m->cap_kvs * sizeof(wire_kv));
    m->news = (wire_news *)p;
}

int wire_decode(const uint8_t *buf, size_t len, const wire_limits *lim, wire_msg *m)
{
    msg_reset(m);
    if (len < WIRE_HEADER_SIZE)
        return GOSSIP_ERR_TRUNCATED;
    if (len > lim->max_datagram)
        return GOSSIP_ERR_OVERSIZE;
    if (buf[0] != WIRE_MAGIC0 || buf[1] != WIRE_MAGIC1)
        return GOSSIP_ERR_BAD_MAGIC;
    if (buf[2] != WIRE_PROTO_VERSION)
        return GOSSIP_ERR_BAD_VERSION;
    if (buf[3] == 0 || buf[3] >= GOSSIP_MSG_TYPE_COUNT)
        return GOSSIP_ERR_BAD_TYPE;
    m->type = buf[3];
    m->flags = buf[4];

    reader r = {(const char *)buf + WIRE_HEADER_SIZE, (const char *)buf + len};
    uint32_t n;
    uint64_t seen = 0; /* keys below 64 already read: a repeated one is refused */
    int rc = rd_container(&r, MP_MAP, &n, UINT32_MAX);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        uint64_t key;
        if (rd_left(&r) >= 1 && rd_peek(&r) != MP_UINT) {
            rc = rd_skip(&r) ? GOSSIP_ERR_MALFORMED : rd_skip(&r); /* string key: unknown */
        } else if ((rc = rd_uint(&r, &key)) == 0) {
            /* A repeated key would leave the first one's entries behind (deltas
             * read twice, kvs counted twice): a map has each key once. */
            if (key < 64 && (seen >> key & 1))
                rc = GOSSIP_ERR_MALFORMED;
            else {
                seen |= key < 64 ? 1ull << key : 0;
                rc = rd_field(&r, key, lim, m);
            }
        }
    }
    if (rc == 0 && r.p != r.end)
        rc = GOSSIP_ERR_MALFORMED; /* trailing bytes */
    if (rc == 0 && (m->from.len == 0 || m->addr.len == 0))
        rc = GOSSIP_ERR_MALFORMED; /* every message names its sender */
    if (rc == 0 && m->n_buckets && m->n_buckets != (1u << m->bucket_bits))
        rc = GOSSIP_ERR_MALFORMED;
    if (rc)
        msg_reset(m);
    return rc;
}

/* ---- writer ------------------------------------------------------------------ */

#define COUNT32_SIZE 5 /* 0xdd/0xdf + 4-byte count */

static void put_count32(uint8_t *at, uint8_t marker, uint32_t count)
{
    at[0] = marker;
    at[1] = (uint8_t)(count >> 24);
    at[2] = (uint8_t)(count >> 16);
    at[3] = (uint8_t)(count >> 8);
    at[4] = (uint8_t)count;
}

/* Bytes left for items: counts are patched in place and need nothing more,
 * but an open delta still has its membership record to write. */
size_t wire_room(const wire_writer *w) { return w->cap - w->len - w->reserved; }

size_t wire_mark(const wire_writer *w) { return w->len; }

void wire_begin(wire_writer *w, uint8_t *buf, size_t cap, uint8_t type)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    buf[0] = WIRE_MAGIC0;
    buf[1] = WIRE_MAGIC1;
    buf[2] = WIRE_PROTO_VERSION;
    buf[3] = type;
    buf[4] = 0;
    w->map_pos = WIRE_HEADER_SIZE;
    w->len = WIRE_HEADER_SIZE + COUNT32_SIZE;
}

size_t wire_finish(wire_writer *w)
{
    put_count32(w->buf + w->map_pos, 0xdf, w->map_count);
    return w->len;
}

static char *cursor(wire_writer *w) { return (char *)w->buf + w->len; }

static void advance(wire_writer *w, char *to) { w->len = (size_t)((uint8_t *)to - w->buf); }

int wire_try_str(wire_writer *w, enum wire_key key, const char *s, size_t len)
{
    if (mp_sizeof_uint(key) + mp_sizeof_str((uint32_t)len) > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    char *p = mp_encode_uint(cursor(w), key);
    advance(w, mp_encode_str(p, s, (uint32_t)len));
    w->map_count++;
    return 0;
}

int wire_try_uint(wire_writer *w, enum wire_key key, uint64_t v)
{
    if (mp_sizeof_uint(key) + mp_sizeof_uint(v) > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    char *p = mp_encode_uint(cursor(w), key);
    advance(w, mp_encode_uint(p, v));
    w->map_count++;
    return 0;
}

int wire_try_buckets(wire_writer *w, uint32_t bits, const uint32_t *hashes)
{
    uint32_t n = 1u << bits;
    size_t need = mp_sizeof_uint(WK_BUCKET_BITS) + mp_sizeof_uint(bits) +
                  mp_sizeof_uint(WK_BUCKETS) + mp_sizeof_bin(4 * n);
    if (bits > WIRE_MAX_BUCKET_BITS)
        return GOSSIP_ERR_INVALID;
    if (need > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    char *p = mp_encode_uint(cursor(w), WK_BUCKET_BITS);
    p = mp_encode_uint(p, bits);
    p = mp_encode_uint(p, WK_BUCKETS);
    p = mp_encode_binl(p, 4 * n);
    for (uint32_t i = 0; i < n; i++) {
        *p++ = (char)(hashes[i] & 0xff);
        *p++ = (char)(hashes[i] >> 8 & 0xff);
        *p++ = (char)(hashes[i] >> 16 & 0xff);
        *p++ = (char)(hashes[i] >> 24 & 0xff);
    }
    advance(w, p);
    w->map_count += 2;
    return 0;
}

int wire_open_array(wire_writer *w, enum wire_key key)
{
    if (mp_sizeof_uint(key) + COUNT32_SIZE > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    advance(w, mp_encode_uint(cursor(w), key));
    w->arr_pos = w->len;
    w->arr_count = 0;
    w->len += COUNT32_SIZE;
    w->map_count++;
    return 0;
}

void wire_close_array(wire_writer *w)
{
    put_count32(w->buf + w->arr_pos, 0xdd, w->arr_count);
    w->arr_pos = 0;
}

uint32_t wire_array_count(const wire_writer *w) { return w->arr_count; }

int wire_try_digest(wire_writer *w, const char *name, size_t name_len, uint64_t generation,
                    uint64_t max_version)
{
    size_t need = mp_sizeof_array(3) + mp_sizeof_str((uint32_t)name_len) +
                  mp_sizeof_uint(generation) + mp_sizeof_uint(max_version);
    if (need > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    char *p = mp_encode_array(cursor(w), 3);
    p = mp_encode_str(p, name, (uint32_t)name_len);
    p = mp_encode_uint(p, generation);
    advance(w, mp_encode_uint(p, max_version));
    w->arr_count++;
    return 0;
}

int wire_try_digest_rec(wire_writer *w, const char *name, size_t name_len, uint64_t generation,
                        uint64_t max_version, uint64_t incarnation, uint8_t status)
{
    size_t need = mp_sizeof_array(5) + mp_sizeof_str((uint32_t)name_len) +
                  mp_sizeof_uint(generation) + mp_sizeof_uint(max_version) +
                  mp_sizeof_uint(incarnation) + mp_sizeof_uint(status);
    if (need > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    char *p = mp_encode_array(cursor(w), 5);
    p = mp_encode_str(p, name, (uint32_t)name_len);
    p = mp_encode_uint(p, generation);
    p = mp_encode_uint(p, max_version);
    p = mp_encode_uint(p, incarnation);
    advance(w, mp_encode_uint(p, status));
    w->arr_count++;
    return 0;
}

int wire_try_news(wire_writer *w, const char *name, size_t name_len, uint64_t generation,
                  uint64_t incarnation, uint8_t status, const char *from, size_t from_len)
{
    size_t need = mp_sizeof_array(5) + mp_sizeof_str((uint32_t)name_len) +
                  mp_sizeof_uint(generation) + mp_sizeof_uint(incarnation) +
                  mp_sizeof_uint(status) + mp_sizeof_str((uint32_t)from_len);
    if (need > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    char *p = mp_encode_array(cursor(w), 5);
    p = mp_encode_str(p, name, (uint32_t)name_len);
    p = mp_encode_uint(p, generation);
    p = mp_encode_uint(p, incarnation);
    p = mp_encode_uint(p, status);
    advance(w, mp_encode_str(p, from, (uint32_t)from_len));
    w->arr_count++;
    return 0;
}

int wire_try_array_uint(wire_writer *w, uint64_t v)
{
    if (mp_sizeof_uint(v) > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    advance(w, mp_encode_uint(cursor(w), v));
    w->arr_count++;
    return 0;
}

int wire_open_delta(wire_writer *w, const char *name, size_t name_len, uint64_t generation,
                    uint64_t from_version, uint64_t heartbeat, uint64_t incarnation,
                    uint8_t status)
{
    size_t need = wire_delta_head_size(name_len, generation, from_version, heartbeat, incarnation);
    if (need > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    w->delta_incarnation = incarnation;
    w->delta_status = status;
    char *p = mp_encode_array(cursor(w), 7);
    p = mp_encode_str(p, name, (uint32_t)name_len);
    p = mp_encode_uint(p, generation);
    p = mp_encode_uint(p, from_version);
    advance(w, mp_encode_uint(p, heartbeat));
    w->delta_pos = w->len;
    w->delta_kvs = 0;
    w->delta_open = true;
    w->len += COUNT32_SIZE;
    w->reserved = mp_sizeof_uint(incarnation) + mp_sizeof_uint(status);
    w->arr_count++;
    return 0;
}

int wire_try_kv(wire_writer *w, const char *key, size_t key_len, const uint8_t *value,
                size_t value_len, uint64_t version, bool deleted)
{
    int id = wire_well_known_id(key, key_len);
    size_t need = mp_sizeof_array(3) +
                  (id ? mp_sizeof_uint((uint64_t)id) : mp_sizeof_str((uint32_t)key_len)) +
                  mp_sizeof_uint(version) +
                  (deleted ? mp_sizeof_nil() : mp_sizeof_bin((uint32_t)value_len));
    if (need > wire_room(w))
        return GOSSIP_ERR_NO_SPACE;
    char *p = mp_encode_array(cursor(w), 3);
    p = id ? mp_encode_uint(p, (uint64_t)id) : mp_encode_str(p, key, (uint32_t)key_len);
    p = mp_encode_uint(p, version);
    p = deleted ? mp_encode_nil(p) : mp_encode_bin(p, (const char *)value, (uint32_t)value_len);
    advance(w, p);
    w->delta_kvs++;
    return 0;
}

void wire_close_delta(wire_writer *w)
{
    put_count32(w->buf + w->delta_pos, 0xdd, w->delta_kvs);
    w->reserved = 0; /* room for these two was reserved by wire_open_delta */
    char *p = mp_encode_uint(cursor(w), w->delta_incarnation);
    advance(w, mp_encode_uint(p, w->delta_status));
    w->delta_open = false;
}

size_t wire_kv_size(const char *key, size_t key_len, size_t value_len, uint64_t version,
                    bool deleted)
{
    int id = wire_well_known_id(key, key_len);
    return mp_sizeof_array(3) +
           (id ? mp_sizeof_uint((uint64_t)id) : mp_sizeof_str((uint32_t)key_len)) +
           mp_sizeof_uint(version) +
           (deleted ? mp_sizeof_nil() : mp_sizeof_bin((uint32_t)value_len));
}

size_t wire_delta_head_size(size_t name_len, uint64_t generation, uint64_t from_version,
                            uint64_t heartbeat, uint64_t incarnation)
{
    return mp_sizeof_array(7) + mp_sizeof_str((uint32_t)name_len) + mp_sizeof_uint(generation) +
           mp_sizeof_uint(from_version) + mp_sizeof_uint(heartbeat) + COUNT32_SIZE +
           mp_sizeof_uint(incarnation) + mp_sizeof_uint(WIRE_MAX_STATUS);
}

void wire_cancel_delta(wire_writer *w, size_t mark)
{
    w->len = mark;
    w->arr_count--;
    w->delta_open = false;
    w->reserved = 0;
}

/* ---- whole-message encoding (tests, fuzz corpus, tools) -------------------- */

static int encode_digests(wire_writer *w, enum wire_key key, const wire_digest *d, uint32_t n)
{
    if (n == 0)
        return 0;
    if (wire_open_array(w, key))
        return GOSSIP_ERR_NO_SPACE;
    for (uint32_t i = 0; i < n; i++) {
        int rc = d[i].has_record
                     ? wire_try_digest_rec(w, d[i].name.ptr, d[i].name.len, d[i].generation,
                                           d[i].max_version, d[i].incarnation, d[i].status)
                     : wire_try_digest(w, d[i].name.ptr, d[i].name.len, d[i].generation,
                                       d[i].max_version);
        if (rc)
            return GOSSIP_ERR_NO_SPACE;
    }
    wire_close_array(w);
    return 0;
}

static int encode_news(wire_writer *w, const wire_msg *m)
{
    if (m->n_news == 0)
        return 0;
    if (wire_open_array(w, WK_NEWS))
        return GOSSIP_ERR_NO_SPACE;
    for (uint32_t i = 0; i < m->n_news; i++) {
        const wire_news *e = &m->news[i];
        if (wire_try_news(w, e->name.ptr, e->name.len, e->generation, e->incarnation, e->status,
                          e->from.ptr, e->from.len))
            return GOSSIP_ERR_NO_SPACE;
    }
    wire_close_array(w);
    return 0;
}

static int encode_deltas(wire_writer *w, const wire_msg *m)
{
    if (m->n_deltas == 0)
        return 0;
    if (wire_open_array(w, WK_DELTAS))
        return GOSSIP_ERR_NO_SPACE;
    for (uint32_t i = 0; i < m->n_deltas; i++) {
        const wire_delta *d = &m->deltas[i];
        if (wire_open_delta(w, d->name.ptr, d->name.len, d->generation, d->from_version,
                            d->heartbeat, d->incarnation, d->status))
            return GOSSIP_ERR_NO_SPACE;
        for (uint32_t k = 0; k < d->kv_count; k++) {
            const wire_kv *kv = &m->kvs[d->kv_first + k];
            if (wire_try_kv(w, kv->key.ptr, kv->key.len, kv->value, kv->value_len, kv->version,
                            kv->deleted))
                return GOSSIP_ERR_NO_SPACE;
        }
        wire_close_delta(w);
    }
    wire_close_array(w);
    return 0;
}

int wire_encode(const wire_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer w;
    if (cap < WIRE_HEADER_SIZE + COUNT32_SIZE)
        return GOSSIP_ERR_NO_SPACE;
    wire_begin(&w, buf, cap, m->type);
    buf[4] = m->flags;
    if (wire_try_str(&w, WK_FROM, m->from.ptr, m->from.len) ||
        wire_try_str(&w, WK_ADDR, m->addr.ptr, m->addr.len))
        return GOSSIP_ERR_NO_SPACE;
    if (m->has_table_hash && wire_try_uint(&w, WK_TABLE_HASH, m->table_hash))
        return GOSSIP_ERR_NO_SPACE;
    if (m->has_seq && wire_try_uint(&w, WK_SEQ, m->seq))
        return GOSSIP_ERR_NO_SPACE;
    if (m->target.len && wire_try_str(&w, WK_TARGET, m->target.ptr, m->target.len))
        return GOSSIP_ERR_NO_SPACE;
    if (m->target_addr.len && wire_try_str(&w, WK_TARGET_ADDR, m->target_addr.ptr,
                                           m->target_addr.len))
        return GOSSIP_ERR_NO_SPACE;
    if (encode_news(&w, m))
        return GOSSIP_ERR_NO_SPACE;
    if (m->members && wire_try_uint(&w, WK_MEMBERS, m->members))
        return GOSSIP_ERR_NO_SPACE;
    if (m->n_buckets && wire_try_buckets(&w, m->bucket_bits, m->buckets))
        return GOSSIP_ERR_NO_SPACE;
    if (encode_digests(&w, WK_DIGESTS, m->digests, m->n_digests) ||
        encode_digests(&w, WK_REQUESTS, m->requests, m->n_requests) || encode_deltas(&w, m))
        return GOSSIP_ERR_NO_SPACE;
    if (m->n_listed) {
        if (wire_open_array(&w, WK_LISTED))
            return GOSSIP_ERR_NO_SPACE;
        for (uint32_t i = 0; i < m->n_listed; i++)
            if (wire_try_array_uint(&w, m->listed[i]))
                return GOSSIP_ERR_NO_SPACE;
        wire_close_array(&w);
    }
    *len = wire_finish(&w);
    return 0;
}
