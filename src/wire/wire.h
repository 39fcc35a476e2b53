/*
 * wire.h -- the datagram format.
 *
 * Every datagram is a 5-byte header (magic "GS", protocol version, message
 * type, flags) followed by one MessagePack map with small-integer keys.
 * Decoding is zero-copy: strings and values in a wire_msg point into the
 * input buffer.  Every count and length is checked against wire_limits and
 * the remaining input before it is used; a decoder error leaves no partial
 * result that a caller could act on (the caller gets a negative code).
 */
#ifndef GOSSIP_WIRE_WIRE_H
#define GOSSIP_WIRE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/gossip.h"

#define WIRE_MAGIC0 0x47 /* 'G' */
#define WIRE_MAGIC1 0x53 /* 'S' */
#define WIRE_PROTO_VERSION 1
#define WIRE_HEADER_SIZE 5

/* The smallest encodings of a digest, a delta and an entry: a datagram of
 * `mtu` bytes cannot carry more than mtu / WIRE_MIN_* of them, which sizes a
 * wire_msg's arrays (see wire_msg_size) without limiting any legitimate
 * sender. */
#define WIRE_MIN_DIGEST 5       /* fixarray, 1-byte name, two fixints */
#define WIRE_MIN_DELTA 7
#define WIRE_MIN_KV 4
#define WIRE_MIN_NEWS 7         /* fixarray, 1-byte name, three fixints, 1-byte from */
#define WIRE_MAX_BUCKETS 64     /* summary bucket hashes (2^6) */
#define WIRE_MAX_BUCKET_BITS 6

/* Body map keys. */
enum wire_key {
    WK_FROM = 1,        /* str: sender's name */
    WK_ADDR = 2,        /* str: sender's advertised address */
    WK_TABLE_HASH = 3,  /* uint: XOR of all endpoint digest hashes */
    WK_MEMBERS = 4,     /* uint: how many endpoints the sender knows */
    WK_DIGESTS = 5,     /* array of [name, generation, max_version] */
    WK_REQUESTS = 6,    /* array of [name, generation, max_version] */
    WK_DELTAS = 7,      /* array of deltas */
    WK_BUCKET_BITS = 8, /* uint: log2 of the bucket count below */
    WK_BUCKETS = 9,     /* bin: 4-byte little-endian bucket hashes */
    WK_LISTED = 10,     /* array of uint: buckets listed completely in DIGESTS */
    WK_NEWS = 11,       /* array of [name, generation, incarnation, status, from] */
    WK_SEQ = 12,        /* uint: probe sequence number */
    WK_TARGET = 13,     /* str: the member a PING / PING_REQ is about */
    WK_TARGET_ADDR = 14,/* str: its address (PING_REQ) */
};

/* Header flags. */
#define WIRE_FLAG_PULL_ONLY 0x01 /* SYN: the initiator runs pull only */
#define WIRE_FLAG_NACK 0x02      /* PING_ACK: the relay got no answer (Lifeguard) */
#define WIRE_FLAG_RUMOR 0x04     /* PUSH: a rumor push (rumor.c) */
#define WIRE_FLAG_FEEDBACK 0x08  /* PUSH: digests of rumored deltas we knew already */

/* Membership status on the wire (enum gossip_member_status). */
#define WIRE_MAX_STATUS 3

/* Application-state keys that travel as integers. */
enum wire_well_known_key {
    WKK_STATUS = 1,
    WKK_LOAD = 2,
    WKK_SCHEMA = 3,
    WKK_ADDRESS = 4,
    WKK_TAGS = 5,
    WKK_TOKENS = 6,
    WKK_COUNT = 7,
};

typedef struct wire_str {
    const char *ptr;
    uint32_t len;
} wire_str;

/* A digest; digests (not requests) also carry the sender's membership
 * record of the endpoint, so anti-entropy repairs status as well. */
typedef struct wire_digest {
    wire_str name;
    uint64_t generation;
    uint64_t max_version;
    bool has_record;
    uint8_t status;
    uint64_t incarnation;
} wire_digest;

/* A piggybacked membership event (SWIM): `from` is who raised it, empty when
 * the sender only relays what it holds (so it counts as no confirmation). */
typedef struct wire_news {
    wire_str name;
    uint64_t generation;
    uint64_t incarnation;
    uint8_t status;
    wire_str from;
} wire_news;

typedef struct wire_kv {
    wire_str key;           /* well-known keys are mapped back to their names */
    const uint8_t *value;   /* NULL when deleted */
    uint32_t value_len;
    uint64_t version;
    bool deleted;
} wire_kv;

/* An endpoint delta: every entry of `name` in `generation` whose version is
 * in (from_version, max over the entries].  heartbeat 0 = not included. */
typedef struct wire_delta {
    wire_str name;
    uint64_t generation;
    uint64_t from_version;
    uint64_t heartbeat;
    uint32_t kv_first;      /* index into wire_msg.kvs */
    uint32_t kv_count;
    bool has_record;        /* the sender's membership record of the endpoint */
    uint8_t status;
    uint64_t incarnation;
} wire_delta;

typedef struct wire_msg {
    uint8_t type;           /* enum gossip_msg_type */
    uint8_t flags;
    wire_str from;
    wire_str addr;
    bool has_seq;
    uint64_t seq;
    wire_str target;
    wire_str target_addr;
    bool has_table_hash;
    uint64_t table_hash;
    uint64_t members;
    uint32_t bucket_bits;   /* 0 with no buckets */
    uint32_t n_buckets;
    uint32_t buckets[WIRE_MAX_BUCKETS];
    uint32_t n_listed;
    uint32_t listed[WIRE_MAX_BUCKETS];
    uint32_t n_digests;
    uint32_t n_requests;
    uint32_t n_deltas;
    uint32_t n_kvs;
    uint32_t n_news;
    /* capacities, set by wire_msg_init from the MTU */
    uint32_t cap_digests;       /* for digests and for requests */
    uint32_t cap_deltas;
    uint32_t cap_kvs;
    uint32_t cap_news;
    wire_digest *digests;
    wire_digest *requests;
    wire_delta *deltas;
    wire_kv *kvs;
    wire_news *news;
} wire_msg;

/* Bytes for a wire_msg able to hold any datagram of up to `mtu` bytes, and
 * its initialisation in such a block (the arrays follow the struct). */
size_t wire_msg_size(uint32_t mtu);
void wire_msg_init(wire_msg *m, uint32_t mtu);

typedef struct wire_limits {
    uint32_t max_datagram;  /* the receiver's MTU */
    uint32_t max_value;     /* bytes per app-state value */
    uint32_t max_kvs_per_delta;
} wire_limits;

/* Decodes one datagram into *out.  0 or a negative GOSSIP_ERR_*. */
int wire_decode(const uint8_t *buf, size_t len, const wire_limits *lim,
                wire_msg *out);

/* Encodes a whole message (the inverse of wire_decode).  The engine builds
 * its datagrams incrementally with the writer below instead. */
int wire_encode(const wire_msg *m, uint8_t *buf, size_t cap, size_t *len);

/* Maps a key name to its well-known id (0 if it has none) and back. */
int wire_well_known_id(const char *key, size_t len);
const char *wire_well_known_name(int id);

/* ---- encoding ------------------------------------------------------------
 * A writer appends to a caller's buffer of fixed capacity (the MTU).  Items
 * are appended with wire_try_*: each either fits whole and returns 0, or
 * leaves the buffer untouched and returns GOSSIP_ERR_NO_SPACE.  Map and
 * array counts are written as 32-bit placeholders and patched when the
 * section ends, so the writer never needs to know counts in advance. */
typedef struct wire_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    size_t map_pos;         /* offset of the body map's count */
    uint32_t map_count;
    size_t arr_pos;         /* offset of the open array's count; 0 = none */
    uint32_t arr_count;
    size_t delta_pos;       /* offset of the open delta's kv array count */
    uint32_t delta_kvs;
    uint64_t delta_incarnation; /* written after the entries by wire_close_delta */
    uint8_t delta_status;
    size_t reserved;        /* bytes the open delta still needs to close */
    bool delta_open;
} wire_writer;

void wire_begin(wire_writer *w, uint8_t *buf, size_t cap, uint8_t type);
/* Returns the datagram length. */
size_t wire_finish(wire_writer *w);

int wire_try_str(wire_writer *w, enum wire_key key, const char *s, size_t len);
int wire_try_uint(wire_writer *w, enum wire_key key, uint64_t v);
int wire_try_buckets(wire_writer *w, uint32_t bits, const uint32_t *hashes);

/* Arrays of digests / requests / deltas / listed buckets. */
int wire_open_array(wire_writer *w, enum wire_key key);
void wire_close_array(wire_writer *w);
uint32_t wire_array_count(const wire_writer *w);
int wire_try_digest(wire_writer *w, const char *name, size_t name_len,
                    uint64_t generation, uint64_t max_version);
/* A digest with the membership record appended. */
int wire_try_digest_rec(wire_writer *w, const char *name, size_t name_len,
                        uint64_t generation, uint64_t max_version, uint64_t incarnation,
                        uint8_t status);
int wire_try_news(wire_writer *w, const char *name, size_t name_len, uint64_t generation,
                  uint64_t incarnation, uint8_t status, const char *from, size_t from_len);
int wire_try_array_uint(wire_writer *w, uint64_t v);

/* A delta inside an open WK_DELTAS array: open it, add entries, close it.
 * wire_cancel_delta() removes a delta that ended up carrying nothing. */
int wire_open_delta(wire_writer *w, const char *name, size_t name_len,
                    uint64_t generation, uint64_t from_version,
                    uint64_t heartbeat, uint64_t incarnation, uint8_t status);
int wire_try_kv(wire_writer *w, const char *key, size_t key_len,
                const uint8_t *value, size_t value_len, uint64_t version,
                bool deleted);
void wire_close_delta(wire_writer *w);
/* Exact encoded sizes, to plan what fits before writing. */
size_t wire_kv_size(const char *key, size_t key_len, size_t value_len, uint64_t version,
                    bool deleted);
size_t wire_delta_head_size(size_t name_len, uint64_t generation, uint64_t from_version,
                            uint64_t heartbeat, uint64_t incarnation);
void wire_cancel_delta(wire_writer *w, size_t mark);
size_t wire_mark(const wire_writer *w);

/* Bytes left in the writer, keeping room for the close of open sections. */
size_t wire_room(const wire_writer *w);

#endif
