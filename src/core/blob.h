/*
 * blob.h -- large payloads spread Bitcoin-style: INV / GETDATA pulls of
 * content-defined chunks, with compact announcements (short IDs, after
 * BIP 152) so that a node fetches only the chunks it does not already hold.
 * docs/large-payloads.md is the reference; this header is the engine's API.
 *
 * Sans-I/O like the rest of src/core: time comes in as now_ms, messages
 * leave through blob_callbacks.send (one whole message per call; the host
 * frames it on a stream), randomness is a per-engine PRNG seeded from
 * blob_settings.seed, memory comes from blob_settings.allocator.  Hashing is
 * libsodium's BLAKE2b and SipHash-2-4, which are pure functions; a host may
 * call sodium_init() once for the faster BLAKE2b implementations.
 *
 * Definitions (all integers little-endian):
 *
 *   chunk         a piece cut by FastCDC (blob_chunk_cut) with the engine's
 *                 min / avg / max chunk sizes
 *   chunk hash    BLAKE2b-256(chunk bytes)
 *   manifest      the ordered list of (chunk hash, chunk length u32)
 *   payload hash  BLAKE2b-256("gossip-blob-v1" || u64 size || u32 count ||
 *                 count x (chunk hash || u32 length)) -- the payload's name
 *   short-ID key  the first 16 bytes of BLAKE2b-256("gossip-blob-sid-v1" ||
 *                 payload hash || u64 nonce); the nonce is drawn by whoever
 *                 sends a COMPACT list, so the key changes per announcement
 *   short ID      the low 48 bits of SipHash-2-4(key, chunk hash)
 */
#ifndef GOSSIP_CORE_BLOB_H
#define GOSSIP_CORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/gossip.h"

#define BLOB_HASH_BYTES 32
#define BLOB_SHORT_ID_BYTES 6
#define BLOB_SHORT_ID_MASK ((UINT64_C(1) << 48) - 1)
#define BLOB_HEX_BYTES (2 * BLOB_HASH_BYTES) /* without the NUL */

/* Defaults and hard ceilings of the settings. */
#define BLOB_DEFAULT_MIN_CHUNK (2u * 1024)
#define BLOB_DEFAULT_AVG_CHUNK (8u * 1024)
#define BLOB_DEFAULT_MAX_CHUNK (32u * 1024)
#define BLOB_DEFAULT_MAX_PAYLOAD (UINT64_C(64) * 1024 * 1024)
#define BLOB_CEIL_MAX_PAYLOAD (UINT64_C(1) << 32) /* 4 GiB: counts stay u32 */
#define BLOB_CEIL_MAX_CHUNK (1u << 20)            /* 1 MiB per chunk */
#define BLOB_FLOOR_MIN_CHUNK 64u                  /* the gear hash window */

/* ---- chunking and hashing ------------------------------------------------ */

typedef struct blob_chunking {
    uint32_t min_size; /* no cut before this many bytes */
    uint32_t avg_size; /* a power of two: the expected chunk size */
    uint32_t max_size; /* a cut is forced here */
} blob_chunking;

/* GOSSIP_ERR_INVALID unless 64 <= min < avg < max <= 1 MiB, avg a power of
 * two. */
int blob_chunking_check(const blob_chunking *c);

/* Length of the first chunk of data[0..len): FastCDC with normalised
 * chunking (level 2) over a gear hash.  len > 0; the result is in
 * 1..min(len, max_size) and is len whenever len <= min_size. */
size_t blob_chunk_cut(const blob_chunking *c, const uint8_t *data, size_t len);

void blob_hash_chunk(const uint8_t *data, size_t len, uint8_t out[BLOB_HASH_BYTES]);

/* The payload hash of a manifest: `hashes` holds count x 32 bytes, `lens`
 * count lengths; `size` is their sum. */
void blob_hash_manifest(uint64_t size, uint32_t count, const uint8_t *hashes,
                        const uint32_t *lens, uint8_t out[BLOB_HASH_BYTES]);

/* The payload hash of data[0..len) cut with `c` (len > 0); returns the
 * chunk count. */
uint32_t blob_payload_hash(const blob_chunking *c, const uint8_t *data, size_t len,
                           uint8_t out[BLOB_HASH_BYTES]);

void blob_short_id_key(const uint8_t payload_hash[BLOB_HASH_BYTES], uint64_t nonce,
                       uint8_t key[16]);
uint64_t blob_short_id(const uint8_t key[16], const uint8_t chunk_hash[BLOB_HASH_BYTES]);

/* Lower-case hex of a hash into out[65] (NUL-terminated), and back
 * (GOSSIP_ERR_INVALID unless exactly 64 hex digits). */
void blob_hash_to_hex(const uint8_t hash[BLOB_HASH_BYTES], char out[BLOB_HEX_BYTES + 1]);
int blob_hash_from_hex(const char *hex, size_t len, uint8_t hash[BLOB_HASH_BYTES]);

/* ---- the engine -------------------------------------------------------------- */

/* What a node asks for when it learns of a payload it lacks. */
enum blob_fetch_mode {
    BLOB_FETCH_COMPACT = 0,  /* short IDs; fetch only chunks it lacks (default) */
    BLOB_FETCH_MANIFEST = 1, /* full chunk hashes (36 B a chunk); same dedup */
    BLOB_FETCH_FULL = 2,     /* manifest, then every chunk: no dedup */
};

#define BLOB_SETTINGS_VERSION 1

typedef struct blob_settings {
    uint32_t struct_version;      /* BLOB_SETTINGS_VERSION */
    blob_chunking chunking;       /* 2 / 8 / 32 KiB */
    uint64_t max_payload;         /* bytes; default 64 MiB; larger: GOSSIP_ERR_OVERSIZE */
    uint64_t max_store_bytes;     /* chunk bytes held; default 1 GiB; 0: unbounded */
    enum blob_fetch_mode fetch_mode;
    uint32_t announce_fanout;     /* k peers told on completion; default 3 */
    uint32_t announce_rounds;     /* further rounds of k INVs; default 4 */
    uint32_t announce_interval_ms;/* between rounds; default 500 */
    uint32_t max_inflight_per_peer;  /* chunk requests outstanding to a peer; default 32 */
    uint32_t max_inflight_total;     /* across all peers; default 128 */
    uint32_t max_pending;         /* payloads being fetched at once; default 4 */
    uint32_t max_sources;         /* announcers remembered per payload; default 8 */
    uint32_t max_holders;         /* peers remembered as holding a stored payload; default 32 */
    uint32_t request_timeout_ms;  /* a request unanswered this long goes elsewhere; default 5000 */
    uint32_t fetch_timeout_ms;    /* a fetch with no progress this long is abandoned; default 60000 */
    uint64_t seed;                /* the engine's PRNG */
    const gossip_allocator *allocator; /* NULL: libc */
} blob_settings;

void blob_settings_init(blob_settings *s);

typedef struct blob_callbacks {
    /* One whole message for `peer`.  The buffer is only valid during the
     * call.  A non-zero return counts as a send error and is otherwise
     * ignored (timeouts recover). */
    int (*send)(void *ud, uint64_t peer, const uint8_t *msg, size_t len);
    /* Up to `cap` peer ids the engine may announce to (alive members other
     * than ourselves); returns how many were written. */
    uint32_t (*list_peers)(void *ud, uint64_t *out, uint32_t cap);
    /* A payload became complete and verified (fetched or published).
     * Optional. */
    void (*stored)(void *ud, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size);
    void *ud;
} blob_callbacks;

typedef struct blob_stats {
    uint64_t msgs_sent[7], msgs_recv[7]; /* by enum blob_msg_type */
    uint64_t bytes_sent, bytes_recv;
    uint64_t recv_errors;         /* malformed, oversize or out-of-place messages */
    uint64_t send_errors;
    uint64_t oversize_rejected;   /* messages naming a payload beyond max_payload or a
                                     chunk beyond max_chunk: rejected */
    uint64_t inv_dropped_full;    /* announcements ignored: max_pending fetches */
    uint64_t chunks_local;        /* chunks matched from the store */
    uint64_t chunks_fetched;      /* chunks received and accepted */
    uint64_t chunk_bytes_fetched;
    uint64_t chunks_duplicate;    /* arrived but no longer wanted */
    uint64_t chunks_bad;          /* failed their hash or short ID */
    uint64_t sources_dropped;     /* peers dropped for serving bad data or NOTFOUND */
    uint64_t request_timeouts;
    uint64_t short_id_ambiguous;  /* two local chunks shared a short ID: fetched */
    uint64_t short_id_false;      /* a match disproved by the manifest: fetched */
    uint64_t manifest_fallbacks;  /* compact fetch whose payload hash failed */
    uint64_t payloads_completed;
    uint64_t payloads_abandoned;
    uint64_t payloads_served_chunks; /* CHUNK messages sent */
    uint64_t store_bytes;         /* chunk bytes held now */
    uint64_t store_chunks;
} blob_stats;

typedef struct blob_engine blob_engine;

int blob_engine_new(const blob_settings *s, const blob_callbacks *cb, blob_engine **out);
void blob_engine_free(blob_engine *e);

enum blob_put_flags {
    BLOB_PUT_ANNOUNCE = 1, /* tell k peers now (and in the later rounds) */
    BLOB_PUT_BORROW = 2,   /* keep pointers into `data` instead of copies;
                              the caller keeps it alive and unchanged until
                              blob_engine_free */
};

/* Chunks and stores a payload and returns its hash.  GOSSIP_ERR_OVERSIZE
 * beyond max_payload, GOSSIP_ERR_INVALID for an empty one, GOSSIP_ERR_FULL
 * beyond max_store_bytes.  Storing a payload held already is not an error. */
int blob_engine_put(blob_engine *e, const uint8_t *data, size_t len, unsigned flags,
                    uint64_t now_ms, uint8_t hash_out[BLOB_HASH_BYTES]);

/* One message from `peer`.  Returns 0 or the decoder's negative code; a
 * rejected message changes nothing but stats.recv_errors. */
int blob_engine_recv(blob_engine *e, uint64_t peer, const uint8_t *msg, size_t len,
                     uint64_t now_ms);

/* Timeouts and announcement rounds. */
void blob_engine_tick(blob_engine *e, uint64_t now_ms);
/* The earliest now_ms at which tick has work, or UINT64_MAX. */
uint64_t blob_engine_next_deadline(const blob_engine *e);

/* `peer` is gone: its outstanding requests go elsewhere now. */
void blob_engine_peer_gone(blob_engine *e, uint64_t peer, uint64_t now_ms);

/* Starts fetching a payload that no one announced to us, from `peer`
 * (e.g. a client's GET for a hash the host learned elsewhere). */
int blob_engine_fetch(blob_engine *e, uint64_t peer, const uint8_t hash[BLOB_HASH_BYTES],
                      uint64_t now_ms);

/* Size of a stored payload, or GOSSIP_ERR_NOT_FOUND. */
int blob_engine_stat(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES],
                     uint64_t *size);
/* Copies a stored payload into out[0..cap); GOSSIP_ERR_NO_SPACE if cap is
 * smaller than its size. */
int blob_engine_read(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES], uint8_t *out,
                     size_t cap);
/* Is the payload being fetched? */
bool blob_engine_pending(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES]);

void blob_engine_stats(const blob_engine *e, blob_stats *out);

#endif
