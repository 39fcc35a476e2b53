/* kv_wire.c -- the key-value store's log records and messages (kv_wire.h). */
#include "core/kv_wire.h"

#include <string.h>

#include "core/hash.h"

/* ---- the log -------------------------------------------------------------------- */

void kv_log_put_header(recon_buf *b) { recon_put_bytes(b, KV_LOG_MAGIC, KV_LOG_HEADER); }

size_t kv_log_record_size(const recon_entry *e)
{
    return KV_LOG_RECORD_HEADER + recon_entry_size(e);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void kv_log_put_record(recon_buf *b, const recon_entry *e)
{
    size_t at = b->len;
    uint8_t *h = recon_put_space(b, KV_LOG_RECORD_HEADER);
    if (h == NULL)
        return;
    recon_put_entry(b, e);
    if (b->err)
        return;
    size_t body = b->len - at - KV_LOG_RECORD_HEADER;
    uint8_t *p = b->p + at; /* recon_put_entry may have moved the buffer */
    put_u32(p, (uint32_t)body);
    uint64_t sum = gossip_hash_bytes(p + KV_LOG_RECORD_HEADER, body, KV_LOG_SEED);
    for (int i = 0; i < 8; i++)
        p[4 + i] = (uint8_t)(sum >> (8 * i));
}

const char *kv_log_end_name(int end)
{
    switch (end) {
    case KV_LOG_CLEAN: return "clean";
    case KV_LOG_TORN: return "torn";
    case KV_LOG_CORRUPT: return "corrupt";
    case KV_LOG_BAD_HEADER: return "bad header";
    default: return "stopped";
    }
}

int kv_log_scan(const uint8_t *p, size_t len, uint32_t max_key, uint32_t max_value,
                int (*fn)(void *arg, const recon_entry *e), void *arg, size_t *valid,
                uint64_t *records)
{
    *valid = 0;
    *records = 0;
    if (len < KV_LOG_HEADER)
        return len == 0 || memcmp(p, KV_LOG_MAGIC, len) == 0 ? KV_LOG_TORN : KV_LOG_BAD_HEADER;
    if (memcmp(p, KV_LOG_MAGIC, KV_LOG_HEADER) != 0)
        return KV_LOG_BAD_HEADER;
    size_t off = KV_LOG_HEADER;
    /* The largest body an entry within the limits can take. */
    size_t max_body = 1 + 8 + 8 + 10 + (size_t)max_key + 10 + (size_t)max_value;
    *valid = off;
    while (off < len) {
        if (len - off < KV_LOG_RECORD_HEADER)
            return KV_LOG_TORN;
        uint32_t body = get_u32(p + off);
        if (body == 0 || body > max_body)
            return KV_LOG_CORRUPT;
        if (len - off - KV_LOG_RECORD_HEADER < body)
            return KV_LOG_TORN;
        const uint8_t *b = p + off + KV_LOG_RECORD_HEADER;
        if (gossip_hash_bytes(b, body, KV_LOG_SEED) != get_u64(p + off + 4))
            return KV_LOG_CORRUPT;
        recon_reader r;
        recon_reader_init(&r, b, body);
        recon_entry e;
        recon_get_entry(&r, &e, max_key, max_value);
        if (r.err || recon_left(&r) != 0 || e.key_len == 0)
            return KV_LOG_CORRUPT;
        int rc = fn(arg, &e);
        if (rc != 0)
            return rc;
        off += KV_LOG_RECORD_HEADER + body;
        *valid = off;
        (*records)++;
    }
    return KV_LOG_CLEAN;
}

/* ---- messages ------------------------------------------------------------------- */

void kv_msg_begin(recon_buf *b, uint8_t type)
{
    uint8_t *p = recon_put_space(b, KV_MSG_HEADER);
    if (p) {
        p[0] = KV_MSG_MAGIC0;
        p[1] = KV_MSG_MAGIC1;
        p[2] = KV_MSG_VERSION;
        p[3] = type;
    }
}

void kv_msg_session(recon_buf *b, uint64_t sid, uint8_t flags, uint32_t total, uint32_t offset,
                    const uint8_t *chunk, size_t len)
{
    kv_msg_begin(b, KV_MSG_SESSION);
    recon_put_u64(b, sid);
    recon_put_u8(b, flags);
    uint8_t *p = recon_put_space(b, 8);
    if (p) {
        put_u32(p, total);
        put_u32(p + 4, offset);
    }
    if (len)
        recon_put_bytes(b, chunk, len);
}

void kv_msg_put_feedback(recon_buf *b, const kv_feedback *f)
{
    recon_put_u64(b, f->khash);
    recon_put_u64(b, f->v.ts);
    recon_put_u64(b, f->v.writer);
    recon_put_u8(b, f->knew ? 1 : 0);
}

int kv_msg_parse(const uint8_t *p, size_t len, uint32_t max_key, uint32_t max_value,
                 uint32_t max_total, kv_msg *m)
{
    memset(m, 0, sizeof *m);
    if (p == NULL || len < KV_MSG_HEADER)
        return GOSSIP_ERR_TRUNCATED;
    if (p[0] != KV_MSG_MAGIC0 || p[1] != KV_MSG_MAGIC1)
        return GOSSIP_ERR_BAD_MAGIC;
    if (p[2] != KV_MSG_VERSION)
        return GOSSIP_ERR_BAD_VERSION;
    m->type = p[3];
    m->body = p + KV_MSG_HEADER;
    m->body_len = len - KV_MSG_HEADER;
    recon_reader r;
    recon_reader_init(&r, m->body, m->body_len);
    switch (m->type) {
    case KV_MSG_RUMOR:
        while (recon_left(&r) > 0) {
            recon_entry e;
            recon_get_entry(&r, &e, max_key, max_value);
            if (r.err)
                return r.err;
            if (e.key_len == 0)
                return GOSSIP_ERR_MALFORMED;
            m->n++;
        }
        return m->n ? 0 : GOSSIP_ERR_TRUNCATED;
    case KV_MSG_FEEDBACK:
        if (m->body_len == 0)
            return GOSSIP_ERR_TRUNCATED;
        if (m->body_len % KV_FEEDBACK_ITEM != 0)
            return GOSSIP_ERR_MALFORMED;
        m->n = m->body_len / KV_FEEDBACK_ITEM;
        for (uint64_t i = 0; i < m->n; i++) {
            const uint8_t *it = m->body + i * KV_FEEDBACK_ITEM;
            if (get_u64(it) >= RECON_P61 || it[24] > 1)
                return GOSSIP_ERR_MALFORMED;
        }
        return 0;
    case KV_MSG_SESSION:
        if (m->body_len < KV_SESSION_HEADER - KV_MSG_HEADER)
            return GOSSIP_ERR_TRUNCATED;
        m->sid = recon_get_u64(&r);
        m->flags = recon_get_u8(&r);
        m->total = get_u32(m->body + 9);
        m->offset = get_u32(m->body + 13);
        m->chunk = m->body + 17;
        m->chunk_len = m->body_len - 17;
        if (m->flags & ~(KV_SESSION_FROM_INITIATOR | KV_SESSION_ABORT))
            return GOSSIP_ERR_MALFORMED;
        if (m->flags & KV_SESSION_ABORT)
            return m->chunk_len == 0 && m->total == 0 && m->offset == 0 ? 0
                                                                        : GOSSIP_ERR_MALFORMED;
        if (m->total > max_total)
            return GOSSIP_ERR_OVERSIZE;
        if (m->chunk_len == 0 || m->offset > m->total || m->chunk_len > m->total - m->offset)
            return GOSSIP_ERR_MALFORMED;
        return 0;
    default:
        return GOSSIP_ERR_BAD_TYPE;
    }
}

void kv_msg_entry(const kv_msg *m, size_t *off, recon_entry *e)
{
    recon_reader r;
    recon_reader_init(&r, m->body, m->body_len);
    r.off = *off;
    recon_get_entry(&r, e, UINT32_MAX, UINT32_MAX); /* checked by kv_msg_parse */
    *off = r.off;
}

void kv_msg_feedback(const kv_msg *m, size_t *off, kv_feedback *f)
{
    const uint8_t *it = m->body + *off;
    f->khash = get_u64(it);
    f->v.ts = get_u64(it + 8);
    f->v.writer = get_u64(it + 16);
    f->knew = it[24] != 0;
    *off += KV_FEEDBACK_ITEM;
}
