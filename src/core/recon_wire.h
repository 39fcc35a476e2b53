/*
 * recon_wire.h -- the anti-entropy session's messages on the wire
 * (docs/anti-entropy.md, "Messages", is the reference).
 *
 * A session runs over a stream (TCP), so messages are length-prefixed
 * binary, not MessagePack datagrams: nearly every byte is a fixed-width hash,
 * version or IBLT symbol, and a fixed layout costs no per-field tags.
 *
 *   header   'G' 'R'  version (1)  type (1)  body length (u32 LE)
 *   HELLO    method (u8)  root hash (u64)  entry count (varint)
 *            IBLT_SKETCH_CELLS x u16 sketch
 *   DONE     empty
 *   SYMBOLS  start (varint)  n (varint)  n x 32-byte symbol
 *   MORE     end (varint)
 *   EXCHANGE sections, each at most once, in this order:
 *            1 LEVEL    depth (u8)  2^depth x u64 hash
 *            2 NODES    n (varint), n x [depth (u8)  prefix (varint)
 *                                        2^step x u64 child hash]
 *                       step = min(2, 61 - depth)
 *            3 LISTS    n (varint), n x [depth (u8)  prefix (varint)  m (varint)
 *                                        m x (khash, ts, writer) u64 each]
 *            4 WANTS    n (varint), n x u64 khash
 *            5 ENTRIES  n (varint), n x entry
 *   entry    flags (u8: bit 0 tombstone)  ts (u64)  writer (u64)
 *            key length (varint)  key  value length (varint)  value
 *
 * Integers are little-endian; varints are unsigned LEB128 of at most 10
 * bytes.  recon_parse() checks a whole message -- every length against the
 * bytes left, every count against what those bytes could hold, prefixes
 * against their depth, key hashes against their range, keys and values
 * against the configured limits -- before the session acts on any of it.
 */
#ifndef GOSSIP_CORE_RECON_WIRE_H
#define GOSSIP_CORE_RECON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/iblt.h"
#include "core/recon_types.h"
#include "gossip/gossip.h"

#define RECON_MAGIC0 'G'
#define RECON_MAGIC1 'R'
#define RECON_WIRE_VERSION 1
#define RECON_HEADER_BYTES 8
#define RECON_MAX_LEVEL 20  /* deepest LEVEL section: 2^20 hashes, 8 MiB */
#define RECON_NODE_STEP 2   /* levels a NODES group descends */
#define RECON_DIGEST_BYTES 24

enum recon_msg_type {
    RECON_MSG_HELLO = 1,
    RECON_MSG_DONE = 2,
    RECON_MSG_SYMBOLS = 3,
    RECON_MSG_MORE = 4,
    RECON_MSG_EXCHANGE = 5,
};

enum recon_section {
    RECON_SEC_LEVEL = 1,
    RECON_SEC_NODES = 2,
    RECON_SEC_LISTS = 3,
    RECON_SEC_WANTS = 4,
    RECON_SEC_ENTRIES = 5,
    RECON_SEC_COUNT = 6,
};

/* ---- writing ------------------------------------------------------------ */

typedef struct recon_buf {
    const gossip_allocator *alloc;
    uint8_t *p;
    size_t len, cap;
    int err; /* first failure (GOSSIP_ERR_NOMEM); later writes are dropped */
} recon_buf;

void recon_buf_init(recon_buf *b, const gossip_allocator *a);
void recon_buf_free(recon_buf *b);
void recon_buf_reset(recon_buf *b);
void recon_put_u8(recon_buf *b, uint8_t v);
void recon_put_u16(recon_buf *b, uint16_t v);
void recon_put_u64(recon_buf *b, uint64_t v);
void recon_put_varint(recon_buf *b, uint64_t v);
void recon_put_bytes(recon_buf *b, const void *p, size_t n);
/* Reserves n bytes and returns them (NULL after a failure). */
uint8_t *recon_put_space(recon_buf *b, size_t n);
size_t recon_varint_size(uint64_t v);

/* Writes a header for `type` with a zero length; recon_end_message() fills
 * in the length once the body is written. */
void recon_begin_message(recon_buf *b, uint8_t type);
void recon_end_message(recon_buf *b);
void recon_put_entry(recon_buf *b, const recon_entry *e);
/* Bytes recon_put_entry() writes for e: the unit min_bytes counts. */
size_t recon_entry_size(const recon_entry *e);

/* ---- reading ------------------------------------------------------------ */

typedef struct recon_reader {
    const uint8_t *p;
    size_t len, off;
    int err;
} recon_reader;

void recon_reader_init(recon_reader *r, const uint8_t *p, size_t len);
uint8_t recon_get_u8(recon_reader *r);
uint16_t recon_get_u16(recon_reader *r);
uint64_t recon_get_u64(recon_reader *r);
uint64_t recon_get_varint(recon_reader *r);
const uint8_t *recon_get_bytes(recon_reader *r, size_t n);
static inline size_t recon_left(const recon_reader *r) { return r->len - r->off; }
/* Reads one entry (pointers into the message); limits as in recon_parse. */
void recon_get_entry(recon_reader *r, recon_entry *e, uint32_t max_key, uint32_t max_value);

typedef struct recon_limits {
    uint32_t max_message, max_key, max_value, max_symbols;
} recon_limits;

/* A checked message: its type and where each part starts in the body. */
typedef struct recon_msg {
    uint8_t type;
    const uint8_t *body;
    size_t body_len;
    /* HELLO */
    uint8_t method;
    uint64_t root, count;
    uint16_t sketch[IBLT_SKETCH_CELLS];
    /* SYMBOLS / MORE */
    uint64_t start, n_symbols, end;
    const uint8_t *symbols;
    /* EXCHANGE: offset of each section's payload in body, count of items */
    bool has[RECON_SEC_COUNT];
    size_t at[RECON_SEC_COUNT];
    uint64_t n[RECON_SEC_COUNT];
    unsigned level_depth;
} recon_msg;

/* 0, or GOSSIP_ERR_TRUNCATED / BAD_MAGIC / BAD_VERSION / BAD_TYPE /
 * OVERSIZE / TOO_MANY / MALFORMED.  Reads nothing outside msg[0, len). */
int recon_parse(const uint8_t *msg, size_t len, const recon_limits *lim, recon_msg *out);

#endif
