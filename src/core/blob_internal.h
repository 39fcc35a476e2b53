/*
 * blob_internal.h -- the engine's state, shared by blob_engine.c (life
 * cycle, storing, serving, announcing) and blob_fetch.c (pulling a payload
 * we lack).  Not part of any API.
 */
#ifndef GOSSIP_CORE_BLOB_INTERNAL_H
#define GOSSIP_CORE_BLOB_INTERNAL_H

#include "core/blob.h"
#include "core/blob_store.h"
#include "core/blob_wire.h"
#include "core/rng.h"

#define BLOB_MAX_SOURCES 64   /* ceiling of settings.max_sources */
#define BLOB_SOURCE_LOCAL 0xff /* a slot filled from our own store */
#define BLOB_MAX_STRIKES 3    /* timeouts before a source is given up */
#define BLOB_PEER_LIST_CAP 4096 /* peers considered for an announcement */

/* A payload held complete and verified. */
typedef struct blob_payload {
    uint8_t hash[BLOB_HASH_BYTES];
    uint64_t size;
    uint32_t count;
    blob_chunk **chunks;      /* count references into the store */
    uint64_t *holders;        /* peers that have it or were told: not told (again) */
    uint32_t n_holders, next_holder; /* a ring of max_holders */
    uint32_t rounds_left;     /* announcement rounds still to run */
    uint64_t next_announce_ms;
} blob_payload;

enum fetch_phase {
    FETCH_LIST = 0,   /* waiting for the COMPACT or MANIFEST list */
    FETCH_CHUNKS = 1, /* pulling missing chunks */
    FETCH_VERIFY = 2, /* compact result failed the payload hash: waiting for the manifest */
};

enum slot_state { SLOT_MISSING = 0, SLOT_INFLIGHT = 1, SLOT_HAVE = 2 };

typedef struct fetch_slot {
    uint64_t short_id; /* from the COMPACT list */
    uint64_t deadline; /* while in flight */
    blob_chunk *chunk; /* while held: a reference */
    uint8_t state;     /* enum slot_state */
    uint8_t source;    /* in flight from / served by; BLOB_SOURCE_LOCAL */
} fetch_slot;

typedef struct fetch_source {
    uint64_t peer;
    uint32_t inflight;
    uint8_t strikes;
    bool dropped;      /* served bad data, NOTFOUND, or timed out too often */
} fetch_source;

typedef struct blob_fetch {
    uint8_t hash[BLOB_HASH_BYTES];
    uint64_t size;     /* 0 until an INV or the list says */
    uint32_t count;
    enum fetch_phase phase;
    int list_source;   /* asked for the list, or -1 */
    uint32_t list_want;
    uint64_t list_deadline;
    uint8_t key[16];   /* short-ID key of the COMPACT list used */
    fetch_slot *slots; /* count, once the list is in */
    uint8_t *expected; /* count x 32 chunk hashes once a MANIFEST is in */
    uint32_t *expected_len;
    uint32_t n_have, n_inflight, scan;
    fetch_source sources[BLOB_MAX_SOURCES];
    uint32_t n_sources, rotor;
    uint64_t last_progress;
} blob_fetch;

struct blob_engine {
    blob_settings s;
    blob_callbacks cb;
    const gossip_allocator *a;
    blob_limits lim;
    gossip_rng rng;
    blob_store store;
    blob_payload **payloads;
    uint32_t n_payloads, cap_payloads;
    blob_fetch **fetches;  /* max_pending */
    uint32_t n_fetches;
    uint32_t inflight_total;
    blob_buf out;
    blob_msg msg;
    blob_stats st;
    uint64_t *peers;       /* BLOB_PEER_LIST_CAP */
    uint32_t *batch;       /* max_sources x max_inflight_per_peer */
    uint32_t *batch_n;     /* max_sources */
    uint64_t *ids;         /* short IDs of a COMPACT being sent */
    uint32_t ids_cap;
};

/* blob_engine.c */
int blob_send(blob_engine *e, uint64_t peer);
blob_payload *blob_find_payload(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES]);
/* Adopts a finished fetch's chunk references as a stored payload. */
int blob_add_payload(blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size,
                     uint32_t count, blob_chunk **chunks, blob_payload **out);
void blob_add_holder(blob_engine *e, blob_payload *p, uint64_t peer);
void blob_announce_start(blob_engine *e, blob_payload *p, uint64_t now_ms);
bool blob_store_has_room(const blob_engine *e, uint64_t bytes);

/* blob_fetch.c */
blob_fetch *blob_fetch_find(const blob_engine *e, const uint8_t hash[BLOB_HASH_BYTES]);
void blob_fetch_cancel(blob_engine *e, blob_fetch *f);
void blob_fetch_on_inv(blob_engine *e, uint64_t peer, const blob_msg *m, uint64_t now_ms);
void blob_fetch_on_list(blob_engine *e, uint64_t peer, const blob_msg *m, uint64_t now_ms);
void blob_fetch_on_chunk(blob_engine *e, uint64_t peer, const blob_msg *m, uint64_t now_ms);
void blob_fetch_on_notfound(blob_engine *e, uint64_t peer, const blob_msg *m, uint64_t now_ms);
int blob_fetch_start(blob_engine *e, uint64_t peer, const uint8_t hash[BLOB_HASH_BYTES],
                     uint64_t size, uint32_t count, uint64_t now_ms);
void blob_fetch_tick(blob_engine *e, uint64_t now_ms);
uint64_t blob_fetch_deadline(const blob_engine *e);
void blob_fetch_peer_gone(blob_engine *e, uint64_t peer, uint64_t now_ms);
void blob_fetch_free_all(blob_engine *e);

#endif
