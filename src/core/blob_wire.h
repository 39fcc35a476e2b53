/*
 * blob_wire.h -- the large-payload messages (docs/large-payloads.md,
 * "Messages", is the reference).
 *
 * A message travels whole in one stream frame.  It is a 4-byte header
 * ('G' 'B', version 1, type) and one MessagePack map with small-integer
 * keys, as in src/wire:
 *
 *   1 hash     bin 32   payload hash                        every type
 *   2 size     uint     payload bytes                       INV COMPACT MANIFEST
 *   3 count    uint     chunks                              INV COMPACT MANIFEST
 *   4 nonce    uint     short-ID key nonce                  COMPACT
 *   5 ids      bin      count x 6-byte short ID (LE)        COMPACT
 *   6 chunks   bin      count x (32-byte hash, u32 LE len)  MANIFEST
 *   7 want     uint     0 chunks, 1 compact list, 2 manifest GETDATA NOTFOUND
 *   8 indexes  array of uint chunk indexes                  GETDATA NOTFOUND (want 0)
 *   9 index    uint     chunk index                         CHUNK
 *  10 data     bin      chunk bytes                         CHUNK
 *
 * Decoding is zero-copy (pointers into the input) and checks everything
 * before the engine sees it: each header against the bytes left, types,
 * the hash length, size against max_payload, count against the size and
 * the smallest chunk, list lengths against count, MANIFEST lengths (each
 * 1..max_chunk, summing to size), index counts against max_indexes, chunk
 * data against max_chunk, and the fields each type requires.  Unknown keys
 * are skipped; a key given twice is malformed.
 */
#ifndef GOSSIP_CORE_BLOB_WIRE_H
#define GOSSIP_CORE_BLOB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/blob.h"

#define BLOB_MAGIC0 'G'
#define BLOB_MAGIC1 'B'
#define BLOB_WIRE_VERSION 1
#define BLOB_HEADER_BYTES 4
#define BLOB_MANIFEST_ENTRY 36 /* hash + u32 length */
#define BLOB_MAX_INDEXES 1024  /* chunk indexes in one GETDATA / NOTFOUND */

enum blob_msg_type {
    BLOB_MSG_INV = 1,
    BLOB_MSG_COMPACT = 2,
    BLOB_MSG_MANIFEST = 3,
    BLOB_MSG_GETDATA = 4,
    BLOB_MSG_CHUNK = 5,
    BLOB_MSG_NOTFOUND = 6,
    BLOB_MSG_TYPE_COUNT = 7,
};

enum blob_want {
    BLOB_WANT_CHUNKS = 0,
    BLOB_WANT_COMPACT = 1,
    BLOB_WANT_MANIFEST = 2,
};

enum blob_key {
    BK_HASH = 1,
    BK_SIZE = 2,
    BK_COUNT = 3,
    BK_NONCE = 4,
    BK_IDS = 5,
    BK_CHUNKS = 6,
    BK_WANT = 7,
    BK_INDEXES = 8,
    BK_INDEX = 9,
    BK_DATA = 10,
    BK_COUNT_KEYS = 11,
};

typedef struct blob_limits {
    uint64_t max_payload;
    uint32_t min_chunk;   /* every chunk but the last is at least this long */
    uint32_t max_chunk;
    uint32_t max_indexes; /* at most BLOB_MAX_INDEXES */
} blob_limits;

/* Limits that match an engine's settings. */
void blob_limits_from(const blob_settings *s, blob_limits *lim);

/* The largest message the settings allow (a COMPACT or MANIFEST list of a
 * max_payload payload, or a max_chunk CHUNK): a host's frame cap. */
size_t blob_max_message(const blob_settings *s);

/* The largest number of chunks a payload of `size` bytes can have. */
uint32_t blob_max_chunks(uint64_t size, uint32_t min_chunk);

typedef struct blob_msg {
    uint8_t type;
    const uint8_t *hash;     /* 32 bytes */
    uint64_t size;
    uint32_t count;
    uint64_t nonce;
    const uint8_t *ids;      /* count x 6 bytes (COMPACT) */
    uint32_t ids_len;
    const uint8_t *chunks;   /* count x 36 bytes (MANIFEST) */
    uint32_t chunks_len;
    uint32_t want;
    uint32_t index;
    const uint8_t *data;
    uint32_t data_len;
    uint32_t present;        /* bit k: key k was present */
    uint32_t n_indexes;
    uint32_t indexes[BLOB_MAX_INDEXES]; /* valid up to n_indexes */
} blob_msg;

int blob_decode(const uint8_t *buf, size_t len, const blob_limits *lim, blob_msg *m);

/* Short ID i of a COMPACT, chunk hash i / length i of a MANIFEST. */
uint64_t blob_msg_short_id(const blob_msg *m, uint32_t i);
const uint8_t *blob_msg_chunk_hash(const blob_msg *m, uint32_t i);
uint32_t blob_msg_chunk_len(const blob_msg *m, uint32_t i);

/* ---- writing -------------------------------------------------------------- */

/* A growable output buffer in the engine's allocator. */
typedef struct blob_buf {
    const gossip_allocator *alloc;
    uint8_t *p;
    size_t len, cap;
    int err; /* the first failure; later writes are dropped */
} blob_buf;

/* a NULL: libc */
void blob_buf_init(blob_buf *b, const gossip_allocator *a);
void blob_buf_free(blob_buf *b);

/* Each encoder resets `b` and writes one whole message; returns 0 or
 * GOSSIP_ERR_NOMEM. */
int blob_encode_inv(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size,
                    uint32_t count);
/* ids: count short IDs. */
int blob_encode_compact(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size,
                        uint32_t count, uint64_t nonce, const uint64_t *ids);
/* hashes: count x 32 bytes; lens: count lengths. */
int blob_encode_manifest(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size,
                         uint32_t count, const uint8_t *hashes, const uint32_t *lens);
/* type BLOB_MSG_GETDATA or BLOB_MSG_NOTFOUND. */
int blob_encode_request(blob_buf *b, uint8_t type, const uint8_t hash[BLOB_HASH_BYTES],
                        uint32_t want, const uint32_t *indexes, uint32_t n);
int blob_encode_chunk(blob_buf *b, const uint8_t hash[BLOB_HASH_BYTES], uint32_t index,
                      const uint8_t *data, uint32_t len);

#endif
