/*
 * kv_wire.h -- the key-value store's bytes: the records of its append-only
 * log in the data dir, and the messages replicas exchange (rumors, their
 * feedback, and anti-entropy sessions cut into chunks).  Pure functions; the
 * agent does the I/O.  docs/kv.md, "Persistence" and "Messages", describes
 * both.
 *
 * An entry is encoded as in an anti-entropy session (recon_wire.h):
 *   flags (u8: bit 0 tombstone)  ts (u64)  writer (u64)
 *   key length (varint)  key  value length (varint)  value
 *
 * Log:      "GKVLOG01"  then records
 *   record  body length (u32 LE)  checksum (u64 LE)  body (one entry)
 *           checksum = gossip_hash_bytes(body, length, KV_LOG_SEED): FNV-1a
 *           over the bytes then a bijective mixer, so any one changed byte
 *           always changes it, and random damage escapes it with
 *           probability 2^-64.
 *
 * Messages: 'G' 'K'  version (1)  type (u8), then
 *   RUMOR     entries, to the end of the message (at least one)
 *   FEEDBACK  items, to the end: [khash (u64)  ts (u64)  writer (u64)  knew (u8)]
 *   SESSION   session id (u64)  flags (u8: bit 0 from the initiator,
 *             bit 1 abort)  total (u32)  offset (u32)  chunk (the rest)
 *             -- one anti-entropy message is `total` bytes cut into chunks
 *             sent in order; an abort carries no chunk.
 */
#ifndef GOSSIP_CORE_KV_WIRE_H
#define GOSSIP_CORE_KV_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/recon_types.h"
#include "core/recon_wire.h"

/* ---- the log -------------------------------------------------------------- */

#define KV_LOG_MAGIC "GKVLOG01"
#define KV_LOG_HEADER 8
#define KV_LOG_RECORD_HEADER 12
#define KV_LOG_SEED UINT64_C(0x6b764c6f67)

enum kv_log_end {
    KV_LOG_CLEAN = 0,      /* every byte belongs to a good record */
    KV_LOG_TORN = 1,       /* the file ends inside a record (a crash mid-write) */
    KV_LOG_CORRUPT = 2,    /* a record fails its checksum or does not decode */
    KV_LOG_BAD_HEADER = 3, /* not a log at all: nothing is usable */
};

void kv_log_put_header(recon_buf *b);
void kv_log_put_record(recon_buf *b, const recon_entry *e);
/* Bytes kv_log_put_record writes for e. */
size_t kv_log_record_size(const recon_entry *e);

/* Reads a log image: fn gets every good record in order (its pointers point
 * into p) until the first bad one, where the scan stops -- a record after a
 * damaged one is never trusted, since the damage may be in a length.
 * *valid is the length of the good prefix (header included; 0 when the
 * header itself is bad or torn), *records how many fn got.  Returns
 * enum kv_log_end, or fn's first non-zero result. */
int kv_log_scan(const uint8_t *p, size_t len, uint32_t max_key, uint32_t max_value,
                int (*fn)(void *arg, const recon_entry *e), void *arg, size_t *valid,
                uint64_t *records);
const char *kv_log_end_name(int end);

/* ---- messages -------------------------------------------------------------- */

#define KV_MSG_MAGIC0 'G'
#define KV_MSG_MAGIC1 'K'
#define KV_MSG_VERSION 1
#define KV_MSG_HEADER 4
#define KV_SESSION_HEADER (KV_MSG_HEADER + 8 + 1 + 4 + 4)
#define KV_FEEDBACK_ITEM 25

enum kv_msg_type {
    KV_MSG_RUMOR = 1,
    KV_MSG_FEEDBACK = 2,
    KV_MSG_SESSION = 3,
};

#define KV_SESSION_FROM_INITIATOR 1u
#define KV_SESSION_ABORT 2u

typedef struct kv_feedback {
    uint64_t khash;
    recon_version v;
    bool knew;
} kv_feedback;

typedef struct kv_msg {
    uint8_t type;
    /* RUMOR: n entries in body; FEEDBACK: n items */
    uint64_t n;
    const uint8_t *body;
    size_t body_len;
    /* SESSION */
    uint64_t sid;
    uint8_t flags;
    uint32_t total, offset;
    const uint8_t *chunk;
    size_t chunk_len;
} kv_msg;

void kv_msg_begin(recon_buf *b, uint8_t type);
/* Session chunk: header then the chunk bytes. */
void kv_msg_session(recon_buf *b, uint64_t sid, uint8_t flags, uint32_t total, uint32_t offset,
                    const uint8_t *chunk, size_t len);

/* Checks a whole message (every entry against the limits, every count
 * against the bytes left, a chunk against its total) before anything acts
 * on it.  0 or GOSSIP_ERR_TRUNCATED / BAD_MAGIC / BAD_VERSION / BAD_TYPE /
 * OVERSIZE / TOO_MANY / MALFORMED. */
int kv_msg_parse(const uint8_t *p, size_t len, uint32_t max_key, uint32_t max_value,
                 uint32_t max_total, kv_msg *out);
/* Iterating a checked RUMOR or FEEDBACK: call with *off = 0 first. */
void kv_msg_entry(const kv_msg *m, size_t *off, recon_entry *e);
void kv_msg_feedback(const kv_msg *m, size_t *off, kv_feedback *f);
void kv_msg_put_feedback(recon_buf *b, const kv_feedback *f);

#endif
