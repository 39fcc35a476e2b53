/*
 * recon.h -- anti-entropy between two replicas of a key-value store:
 * Merkle-tree descent or rateless-IBLT set reconciliation, sans-I/O.
 *
 * The store keeps a recon_index (a Merkle tree and a difference sketch over
 * its entries' digests) up to date on every write, and lends the session two
 * functions: read one entry, apply one received entry.  A session turns
 * received messages into replies; the caller carries the bytes (over TCP in
 * the agent, in memory in gossip-sim antientropy and the tests).
 *
 *     initiator                          responder
 *     recon_session_start  --HELLO-->    recon_session_recv
 *     recon_session_recv   <--reply--    ...
 *     ...                                until a side has nothing to send
 *
 * HELLO carries the initiator's root hash and sketch.  Equal roots end the
 * session with DONE: one round trip.  Otherwise the responder estimates the
 * number of differing keys and answers in the method asked for, or under
 * RECON_AUTO in the one its cost model predicts cheaper; entries then flow
 * both ways so that each side ends with the newer version of every key.
 * docs/anti-entropy.md describes the protocol, the messages and the figures.
 */
#ifndef GOSSIP_CORE_RECON_H
#define GOSSIP_CORE_RECON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/iblt.h"
#include "core/merkle.h"
#include "core/recon_types.h"
#include "gossip/gossip.h"

/* ---- the index a store keeps ------------------------------------------- */

typedef struct recon_index {
    merkle_tree tree;
    uint16_t sketch[IBLT_SKETCH_CELLS];
} recon_index;

/* leaf_bits and split as merkle_init (0: defaults 1024 leaves, split 32). */
int recon_index_init(recon_index *x, const gossip_allocator *a, unsigned leaf_bits,
                     uint32_t split);
void recon_index_free(recon_index *x);
/* As merkle_insert / merkle_update / merkle_remove; the sketch follows. */
int recon_index_insert(recon_index *x, uint64_t khash, recon_version v);
int recon_index_update(recon_index *x, uint64_t khash, recon_version old, recon_version v);
int recon_index_remove(recon_index *x, uint64_t khash, recon_version v);

typedef struct recon_store {
    recon_index *index;
    /* Fills *out with the entry stored as (khash, v); its bytes stay valid
     * until the next call on the store.  0 or GOSSIP_ERR_NOT_FOUND. */
    int (*read)(void *ud, uint64_t khash, recon_version v, recon_entry *out);
    /* Merges a received entry by last-writer-wins (an older one changes
     * nothing) and updates the index.  0 or a negative error. */
    int (*apply)(void *ud, const recon_entry *e);
    void *ud;
} recon_store;

/* ---- sessions ------------------------------------------------------------ */

typedef enum recon_method {
    RECON_MERKLE = 1,
    RECON_IBLT = 2,
    RECON_AUTO = 3,
} recon_method;

typedef struct recon_config {
    recon_method method;     /* initiator: what HELLO asks for (default AUTO) */
    uint32_t max_message;    /* bytes per message, header included (64 MiB) */
    uint32_t max_key;        /* bytes in a received key (1,024) */
    uint32_t max_value;      /* bytes in a received value (64 KiB) */
    uint32_t list_threshold; /* Merkle: list a differing range when holding <= this (2) */
    uint32_t min_symbols;    /* IBLT: smallest batch (16) */
    uint32_t max_symbols;    /* IBLT: past this many, fall back to Merkle (2^20) */
    double first_batch;      /* IBLT: first batch in symbols per estimated key (1.45) */
    double more_batch;       /* IBLT: each further batch, the same unit (0.15) */
    double rtt_bytes;        /* AUTO: one round trip weighs as much as this many bytes (0) */
} recon_config;

void recon_config_default(recon_config *cfg);

typedef struct recon_stats {
    recon_method method;       /* the method used: MERKLE or IBLT; 0 if equal at once */
    bool fell_back;            /* IBLT could not decode; Merkle finished the session */
    double estimate;           /* responder: estimated differing keys */
    uint64_t predicted[3];     /* responder under AUTO: modelled cost, [MERKLE], [IBLT] */
    uint64_t bytes_sent, bytes_received;
    uint32_t messages_sent, messages_received;
    uint64_t entries_sent, entries_received;
    uint64_t symbols;          /* IBLT symbols sent or received */
    uint32_t symbol_batches;
    uint64_t differences;      /* initiator after decoding: differing keys found */
    uint32_t rejected;         /* messages refused (malformed or unexpected) */
} recon_stats;

typedef struct recon_session recon_session;

/* The session keeps pointers to store and store->index; they must outlive
 * it.  cfg NULL: defaults. */
int recon_session_new(recon_session **out, const gossip_allocator *a, const recon_config *cfg,
                      const recon_store *store, bool initiator);
void recon_session_free(recon_session *s);

/* Initiator: the HELLO to send.  *out stays valid until the next call. */
int recon_session_start(recon_session *s, const uint8_t **out, size_t *out_len);
/* Consumes one message from the peer and gives the reply to send (*out_len
 * is 0 when there is none: the session is then done or the message was
 * refused).  A refused message returns its negative error and changes
 * nothing -- no entry applied, no state moved -- so the session may go on
 * with a good one.  Any other error (the allocator, a reply over
 * max_message, the store's apply -- returned after the entries before it
 * were applied) leaves the session unusable: free it. */
int recon_session_recv(recon_session *s, const uint8_t *msg, size_t len, const uint8_t **out,
                       size_t *out_len);
bool recon_session_done(const recon_session *s);
const recon_stats *recon_session_stats(const recon_session *s);
const char *recon_method_name(recon_method m);

#endif
