/*
 * merkle.h -- the Merkle tree of one replica over the key-hash space.
 *
 * The tree indexes the digests (key hash, version) of every entry of a
 * replica; the store calls merkle_insert / merkle_update / merkle_remove on
 * every change, and the anti-entropy session (recon.h) reads it.
 *
 * Shape.  A node at depth d with prefix p covers the key hashes whose top d
 * bits (of 61) are p.  The top is a complete binary tree with 2^leaf_bits
 * leaves (default 1024, the seed document's figure).  A leaf that holds more
 * than `split` entries splits in two on the next key-hash bit, repeatedly,
 * down to depth 61; a split node below the fixed top whose count falls to
 * split/2 or below collapses back into one leaf.  The gap between split and
 * split/2 keeps a key that is inserted and deleted in turn from splitting
 * and merging the same node every time.
 *
 * Hashes.  A node's hash is the XOR of the digests of the entries below it,
 * and its count their number.  An insert, update or delete therefore changes
 * one hash and one count per level on the path from the root, O(1) each: no
 * recomputation, no dirty flags.  And the hash of any range depends only on
 * the entries in it, not on how either replica happens to have split its
 * leaves: two replicas compare any (depth, prefix) they like, which is what
 * lets the session descend a *virtual* tree independent of both shapes.
 * The price of XOR over a cryptographic hash of the children: it is linear,
 * so an adversary could craft a difference that cancels; replicas are
 * trusted here (as in core/hash.c) and a random cancellation has
 * probability 2^-64.
 */
#ifndef GOSSIP_CORE_MERKLE_H
#define GOSSIP_CORE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/recon_types.h"
#include "gossip/gossip.h"

#define MERKLE_DEFAULT_LEAF_BITS 10 /* 1024 leaves */
#define MERKLE_MAX_LEAF_BITS 20
#define MERKLE_DEFAULT_SPLIT 32
#define MERKLE_MAX_SPLIT 4096
#define MERKLE_MAX_DEPTH RECON_KHASH_BITS
#define MERKLE_NONE UINT32_MAX

typedef struct merkle_rec {
    uint64_t khash;
    recon_version version;
} merkle_rec;

typedef struct merkle_node {
    uint64_t hash;     /* XOR of the digests below */
    uint64_t count;    /* entries below */
    uint32_t child;    /* left child (right = child + 1), or MERKLE_NONE: a leaf */
    uint32_t nrec;     /* leaf: records in recs */
    uint32_t cap;
    merkle_rec *recs;  /* leaf: its records, unordered */
} merkle_node;

typedef struct merkle_tree {
    const gossip_allocator *alloc;
    unsigned leaf_bits;
    uint32_t split;
    merkle_node *nodes; /* nodes[0] is the root */
    uint32_t n_nodes, cap_nodes;
    uint32_t free_pair; /* freed child pairs, linked through .child */
} merkle_tree;

/* leaf_bits 0..MERKLE_MAX_LEAF_BITS (0: default 10); split 2..MERKLE_MAX_SPLIT
 * (0: default 32).  GOSSIP_ERR_INVALID, GOSSIP_ERR_NOMEM. */
int merkle_init(merkle_tree *t, const gossip_allocator *a, unsigned leaf_bits, uint32_t split);
void merkle_free(merkle_tree *t);

/* khash must be a key hash (< 2^61 - 1).  Inserting a (khash, version) that
 * is already there is GOSSIP_ERR_INVALID; two versions under one key hash
 * are allowed (two keys whose hashes collide).  A failed call changes
 * nothing. */
int merkle_insert(merkle_tree *t, uint64_t khash, recon_version v);
/* GOSSIP_ERR_NOT_FOUND if (khash, old) is not there. */
int merkle_update(merkle_tree *t, uint64_t khash, recon_version old, recon_version v);
int merkle_remove(merkle_tree *t, uint64_t khash, recon_version v);

static inline uint64_t merkle_root(const merkle_tree *t) { return t->nodes[0].hash; }
static inline uint64_t merkle_count(const merkle_tree *t) { return t->nodes[0].count; }

/* Hash and count of the range (depth, prefix), depth 0..61, prefix < 2^depth. */
void merkle_range_hash(const merkle_tree *t, unsigned depth, uint64_t prefix,
                       uint64_t *hash, uint64_t *count);
/* The hashes (and counts, if not NULL) of all 2^depth ranges at `depth`,
 * depth <= 24, in one walk. */
void merkle_level(const merkle_tree *t, unsigned depth, uint64_t *hashes, uint64_t *counts);

typedef void (*merkle_visit_fn)(void *arg, const merkle_rec *rec);
/* Calls fn for every record in the range (depth, prefix). */
void merkle_range_each(const merkle_tree *t, unsigned depth, uint64_t prefix,
                       merkle_visit_fn fn, void *arg);
void merkle_each(const merkle_tree *t, merkle_visit_fn fn, void *arg);
/* The versions stored under khash (up to max of them); returns how many
 * there are in all. */
size_t merkle_find(const merkle_tree *t, uint64_t khash, recon_version *out, size_t max);

/* Checks every invariant against a recomputation from the records: hashes,
 * counts, split bounds, records under the right prefix.  0 or
 * GOSSIP_ERR_MALFORMED.  For tests; O(n). */
int merkle_check(const merkle_tree *t);

#endif
