/*
 * merkle.c -- the replica's Merkle tree over the key-hash space (merkle.h).
 *
 * Nodes live in one array and refer to their children by index; children
 * come in pairs (left at `child`, right at `child + 1`), so a freed pair goes
 * back on a free list whole.  The fixed top is laid out as a heap: node i
 * has its children at 2i + 1 and 2i + 2.
 */
#include "core/merkle.h"

#include <string.h>

#include "core/alloc.h"

/* The bit of khash that chooses between the children of a node at depth d
 * (d < 61): bit 60 at the root, bit 0 at depth 60. */
static unsigned child_bit(uint64_t khash, unsigned depth)
{
    return (unsigned)(khash >> (RECON_KHASH_BITS - 1 - depth)) & 1u;
}

static uint64_t prefix_at(uint64_t khash, unsigned depth)
{
    return depth == 0 ? 0 : khash >> (RECON_KHASH_BITS - depth);
}

static bool is_leaf(const merkle_node *n) { return n->child == MERKLE_NONE; }

static void leaf_init(merkle_node *n)
{
    memset(n, 0, sizeof *n);
    n->child = MERKLE_NONE;
}

/* Returns the index of a fresh pair of leaves, or MERKLE_NONE.  May move
 * t->nodes. */
static uint32_t alloc_pair(merkle_tree *t)
{
    uint32_t pair;
    if (t->free_pair != MERKLE_NONE) {
        pair = t->free_pair;
        t->free_pair = t->nodes[pair].child;
    } else {
        if (t->n_nodes + 2 > t->cap_nodes) {
            if (t->cap_nodes > UINT32_MAX / 4)
                return MERKLE_NONE;
            uint32_t cap = t->cap_nodes * 2;
            merkle_node *nodes = ga_realloc(t->alloc, t->nodes, (size_t)cap * sizeof *nodes);
            if (nodes == NULL)
                return MERKLE_NONE;
            t->nodes = nodes;
            t->cap_nodes = cap;
        }
        pair = t->n_nodes;
        t->n_nodes += 2;
    }
    leaf_init(&t->nodes[pair]);
    leaf_init(&t->nodes[pair + 1]);
    return pair;
}

static void free_pair(merkle_tree *t, uint32_t pair)
{
    for (uint32_t i = pair; i < pair + 2; i++) {
        ga_free(t->alloc, t->nodes[i].recs);
        leaf_init(&t->nodes[i]);
    }
    t->nodes[pair].child = t->free_pair;
    t->free_pair = pair;
}

int merkle_init(merkle_tree *t, const gossip_allocator *a, unsigned leaf_bits, uint32_t split)
{
    memset(t, 0, sizeof *t);
    if (leaf_bits == 0)
        leaf_bits = MERKLE_DEFAULT_LEAF_BITS;
    if (split == 0)
        split = MERKLE_DEFAULT_SPLIT;
    if (leaf_bits > MERKLE_MAX_LEAF_BITS || split < 2 || split > MERKLE_MAX_SPLIT)
        return GOSSIP_ERR_INVALID;
    t->alloc = a != NULL ? a : gossip_default_allocator();
    t->leaf_bits = leaf_bits;
    t->split = split;
    t->free_pair = MERKLE_NONE;
    uint32_t top = (UINT32_C(2) << leaf_bits) - 1; /* complete tree: 2^(b+1) - 1 nodes */
    t->cap_nodes = top * 2 + 2;
    t->nodes = ga_malloc(t->alloc, (size_t)t->cap_nodes * sizeof *t->nodes);
    if (t->nodes == NULL)
        return GOSSIP_ERR_NOMEM;
    t->n_nodes = top;
    uint32_t first_leaf = (UINT32_C(1) << leaf_bits) - 1;
    for (uint32_t i = 0; i < top; i++) {
        leaf_init(&t->nodes[i]);
        if (i < first_leaf)
            t->nodes[i].child = 2 * i + 1;
    }
    return 0;
}

void merkle_free(merkle_tree *t)
{
    if (t->nodes != NULL) {
        for (uint32_t i = 0; i < t->n_nodes; i++)
            ga_free(t->alloc, t->nodes[i].recs);
        ga_free(t->alloc, t->nodes);
    }
    memset(t, 0, sizeof *t);
}

/* Walks from the root to the leaf holding khash; path[0..*depth] are the
 * nodes passed, path[*depth] the leaf. */
static uint32_t descend(const merkle_tree *t, uint64_t khash, uint32_t *path, unsigned *depth)
{
    uint32_t n = 0;
    unsigned d = 0;
    path[0] = 0;
    while (!is_leaf(&t->nodes[n])) {
        n = t->nodes[n].child + child_bit(khash, d);
        path[++d] = n;
    }
    *depth = d;
    return n;
}

static int find_rec(const merkle_node *leaf, uint64_t khash, recon_version v)
{
    for (uint32_t i = 0; i < leaf->nrec; i++)
        if (leaf->recs[i].khash == khash && recon_version_eq(leaf->recs[i].version, v))
            return (int)i;
    return -1;
}

static void apply_path(merkle_tree *t, const uint32_t *path, unsigned depth, uint64_t x, int dcount)
{
    for (unsigned i = 0; i <= depth; i++) {
        t->nodes[path[i]].hash ^= x;
        t->nodes[path[i]].count += (uint64_t)(int64_t)dcount;
    }
}

static int reserve_recs(merkle_tree *t, merkle_node *n, uint32_t want)
{
    if (want <= n->cap)
        return 0;
    uint32_t cap = n->cap < 4 ? 4 : n->cap;
    while (cap < want)
        cap *= 2;
    merkle_rec *r = ga_realloc(t->alloc, n->recs, (size_t)cap * sizeof *r);
    if (r == NULL)
        return GOSSIP_ERR_NOMEM;
    n->recs = r;
    n->cap = cap;
    return 0;
}

/* Splits leaf `idx` at `depth` in two, and again while a child is over the
 * threshold.  On allocation failure the leaf stays whole (and oversize):
 * the tree is still correct, and the next insert tries again. */
static void split_leaf(merkle_tree *t, uint32_t idx, unsigned depth)
{
    uint32_t pair = alloc_pair(t);
    if (pair == MERKLE_NONE)
        return;
    merkle_node *parent = &t->nodes[idx];
    uint32_t n_right = 0;
    for (uint32_t i = 0; i < parent->nrec; i++)
        n_right += child_bit(parent->recs[i].khash, depth);
    merkle_node *kid[2] = {&t->nodes[pair], &t->nodes[pair + 1]};
    if (reserve_recs(t, kid[0], parent->nrec - n_right) != 0 ||
        reserve_recs(t, kid[1], n_right) != 0) {
        free_pair(t, pair);
        return;
    }
    for (uint32_t i = 0; i < parent->nrec; i++) {
        const merkle_rec *r = &parent->recs[i];
        merkle_node *k = kid[child_bit(r->khash, depth)];
        k->recs[k->nrec++] = *r;
        k->hash ^= recon_digest(r->khash, r->version);
        k->count++;
    }
    ga_free(t->alloc, parent->recs);
    parent->recs = NULL;
    parent->nrec = parent->cap = 0;
    parent->child = pair;
    for (uint32_t c = 0; c < 2; c++)
        if (t->nodes[pair + c].nrec > t->split && depth + 1 < MERKLE_MAX_DEPTH)
            split_leaf(t, pair + c, depth + 1);
}

int merkle_insert(merkle_tree *t, uint64_t khash, recon_version v)
{
    if (khash >= RECON_P61)
        return GOSSIP_ERR_INVALID;
    uint32_t path[MERKLE_MAX_DEPTH + 1];
    unsigned depth;
    uint32_t leaf = descend(t, khash, path, &depth);
    merkle_node *n = &t->nodes[leaf];
    if (find_rec(n, khash, v) >= 0)
        return GOSSIP_ERR_INVALID;
    if (reserve_recs(t, n, n->nrec + 1) != 0)
        return GOSSIP_ERR_NOMEM;
    n->recs[n->nrec++] = (merkle_rec){khash, v};
    apply_path(t, path, depth, recon_digest(khash, v), +1);
    if (n->nrec > t->split && depth < MERKLE_MAX_DEPTH)
        split_leaf(t, leaf, depth);
    return 0;
}

int merkle_update(merkle_tree *t, uint64_t khash, recon_version old, recon_version v)
{
    if (khash >= RECON_P61)
        return GOSSIP_ERR_INVALID;
    uint32_t path[MERKLE_MAX_DEPTH + 1];
    unsigned depth;
    merkle_node *n = &t->nodes[descend(t, khash, path, &depth)];
    int i = find_rec(n, khash, old);
    if (i < 0)
        return GOSSIP_ERR_NOT_FOUND;
    if (recon_version_eq(old, v))
        return 0;
    if (find_rec(n, khash, v) >= 0)
        return GOSSIP_ERR_INVALID;
    n->recs[i].version = v;
    apply_path(t, path, depth, recon_digest(khash, old) ^ recon_digest(khash, v), 0);
    return 0;
}

static void gather(merkle_tree *t, uint32_t idx, merkle_rec *out, uint32_t *n)
{
    merkle_node *node = &t->nodes[idx];
    if (is_leaf(node)) {
        if (node->nrec > 0)
            memcpy(out + *n, node->recs, (size_t)node->nrec * sizeof *out);
        *n += node->nrec;
        return;
    }
    uint32_t pair = node->child;
    gather(t, pair, out, n);
    gather(t, pair + 1, out, n);
    free_pair(t, pair);
}

/* Turns the split node idx back into one leaf; skipped if the allocator
 * refuses. */
static void collapse(merkle_tree *t, uint32_t idx)
{
    merkle_node *node = &t->nodes[idx];
    uint32_t count = (uint32_t)node->count;
    uint32_t cap = count < 4 ? 4 : count;
    merkle_rec *recs = ga_malloc(t->alloc, (size_t)cap * sizeof *recs);
    if (recs == NULL)
        return;
    uint32_t n = 0;
    gather(t, idx, recs, &n);
    node = &t->nodes[idx];
    node->child = MERKLE_NONE;
    node->recs = recs;
    node->nrec = n;
    node->cap = cap;
}

int merkle_remove(merkle_tree *t, uint64_t khash, recon_version v)
{
    if (khash >= RECON_P61)
        return GOSSIP_ERR_INVALID;
    uint32_t path[MERKLE_MAX_DEPTH + 1];
    unsigned depth;
    merkle_node *n = &t->nodes[descend(t, khash, path, &depth)];
    int i = find_rec(n, khash, v);
    if (i < 0)
        return GOSSIP_ERR_NOT_FOUND;
    n->recs[i] = n->recs[--n->nrec];
    apply_path(t, path, depth, recon_digest(khash, v), -1);
    /* The shallowest split node below the fixed top that fell to split/2. */
    for (unsigned d = t->leaf_bits; d < depth; d++) {
        if (t->nodes[path[d]].count <= t->split / 2) {
            collapse(t, path[d]);
            break;
        }
    }
    return 0;
}

/* The node at exactly (depth, prefix), or the leaf above it (*reached <
 * depth). */
static uint32_t locate(const merkle_tree *t, unsigned depth, uint64_t prefix, unsigned *reached)
{
    uint32_t n = 0;
    unsigned d = 0;
    while (d < depth && !is_leaf(&t->nodes[n])) {
        n = t->nodes[n].child + (unsigned)((prefix >> (depth - 1 - d)) & 1u);
        d++;
    }
    *reached = d;
    return n;
}

void merkle_range_hash(const merkle_tree *t, unsigned depth, uint64_t prefix,
                       uint64_t *hash, uint64_t *count)
{
    unsigned reached;
    const merkle_node *n = &t->nodes[locate(t, depth, prefix, &reached)];
    if (reached == depth) {
        *hash = n->hash;
        *count = n->count;
        return;
    }
    uint64_t h = 0, c = 0;
    for (uint32_t i = 0; i < n->nrec; i++) {
        if (prefix_at(n->recs[i].khash, depth) == prefix) {
            h ^= recon_digest(n->recs[i].khash, n->recs[i].version);
            c++;
        }
    }
    *hash = h;
    *count = c;
}

static void fill_level(const merkle_tree *t, uint32_t idx, unsigned d, uint64_t prefix,
                       unsigned depth, uint64_t *hashes, uint64_t *counts)
{
    const merkle_node *n = &t->nodes[idx];
    if (d == depth) {
        hashes[prefix] = n->hash;
        if (counts)
            counts[prefix] = n->count;
        return;
    }
    if (is_leaf(n)) {
        for (uint32_t i = 0; i < n->nrec; i++) {
            uint64_t p = prefix_at(n->recs[i].khash, depth);
            hashes[p] ^= recon_digest(n->recs[i].khash, n->recs[i].version);
            if (counts)
                counts[p]++;
        }
        return;
    }
    fill_level(t, n->child, d + 1, prefix << 1, depth, hashes, counts);
    fill_level(t, n->child + 1, d + 1, prefix << 1 | 1, depth, hashes, counts);
}

void merkle_level(const merkle_tree *t, unsigned depth, uint64_t *hashes, uint64_t *counts)
{
    size_t n = (size_t)1 << depth;
    memset(hashes, 0, n * sizeof *hashes);
    if (counts)
        memset(counts, 0, n * sizeof *counts);
    fill_level(t, 0, 0, 0, depth, hashes, counts);
}

static void each_below(const merkle_tree *t, uint32_t idx, merkle_visit_fn fn, void *arg)
{
    const merkle_node *n = &t->nodes[idx];
    if (is_leaf(n)) {
        for (uint32_t i = 0; i < n->nrec; i++)
            fn(arg, &n->recs[i]);
        return;
    }
    each_below(t, n->child, fn, arg);
    each_below(t, n->child + 1, fn, arg);
}

void merkle_range_each(const merkle_tree *t, unsigned depth, uint64_t prefix,
                       merkle_visit_fn fn, void *arg)
{
    unsigned reached;
    uint32_t idx = locate(t, depth, prefix, &reached);
    if (reached == depth) {
        each_below(t, idx, fn, arg);
        return;
    }
    const merkle_node *n = &t->nodes[idx];
    for (uint32_t i = 0; i < n->nrec; i++)
        if (prefix_at(n->recs[i].khash, depth) == prefix)
            fn(arg, &n->recs[i]);
}

void merkle_each(const merkle_tree *t, merkle_visit_fn fn, void *arg)
{
    each_below(t, 0, fn, arg);
}

size_t merkle_find(const merkle_tree *t, uint64_t khash, recon_version *out, size_t max)
{
    if (khash >= RECON_P61)
        return 0;
    uint32_t path[MERKLE_MAX_DEPTH + 1];
    unsigned depth;
    const merkle_node *n = &t->nodes[descend(t, khash, path, &depth)];
    size_t found = 0;
    for (uint32_t i = 0; i < n->nrec; i++) {
        if (n->recs[i].khash == khash) {
            if (found < max)
                out[found] = n->recs[i].version;
            found++;
        }
    }
    return found;
}

static bool check_node(const merkle_tree *t, uint32_t idx, unsigned d, uint64_t prefix,
                       uint64_t *hash, uint64_t *count)
{
    if (idx >= t->n_nodes)
        return false;
    const merkle_node *n = &t->nodes[idx];
    uint64_t h = 0, c = 0;
    if (is_leaf(n)) {
        if (d < t->leaf_bits)
            return false; /* the fixed top is complete */
        if (n->nrec > t->split && d < MERKLE_MAX_DEPTH)
            return false;
        for (uint32_t i = 0; i < n->nrec; i++) {
            const merkle_rec *r = &n->recs[i];
            if (r->khash >= RECON_P61 || prefix_at(r->khash, d) != prefix)
                return false;
            for (uint32_t j = 0; j < i; j++)
                if (n->recs[j].khash == r->khash && recon_version_eq(n->recs[j].version, r->version))
                    return false;
            h ^= recon_digest(r->khash, r->version);
            c++;
        }
    } else {
        if (d >= MERKLE_MAX_DEPTH || n->nrec != 0)
            return false;
        uint64_t h0, c0, h1, c1;
        if (!check_node(t, n->child, d + 1, prefix << 1, &h0, &c0) ||
            !check_node(t, n->child + 1, d + 1, prefix << 1 | 1, &h1, &c1))
            return false;
        h = h0 ^ h1;
        c = c0 + c1;
        if (d >= t->leaf_bits && c <= t->split / 2)
            return false; /* should have collapsed */
    }
    if (h != n->hash || c != n->count)
        return false;
    *hash = h;
    *count = c;
    return true;
}

int merkle_check(const merkle_tree *t)
{
    uint64_t h, c;
    return check_node(t, 0, 0, 0, &h, &c) ? 0 : GOSSIP_ERR_MALFORMED;
}
