/* recon_index.c -- the summaries a store keeps for anti-entropy: the Merkle
 * tree and the difference sketch, changed together (recon.h). */
#include "core/recon.h"

#include <string.h>

int recon_index_init(recon_index *x, const gossip_allocator *a, unsigned leaf_bits,
                     uint32_t split)
{
    memset(x->sketch, 0, sizeof x->sketch);
    return merkle_init(&x->tree, a, leaf_bits, split);
}

void recon_index_free(recon_index *x) { merkle_free(&x->tree); }

int recon_index_insert(recon_index *x, uint64_t khash, recon_version v)
{
    int rc = merkle_insert(&x->tree, khash, v);
    if (rc == 0)
        iblt_sketch_add(x->sketch, khash, v, +1);
    return rc;
}

int recon_index_update(recon_index *x, uint64_t khash, recon_version old, recon_version v)
{
    int rc = merkle_update(&x->tree, khash, old, v);
    if (rc == 0 && !recon_version_eq(old, v)) {
        iblt_sketch_add(x->sketch, khash, old, -1);
        iblt_sketch_add(x->sketch, khash, v, +1);
    }
    return rc;
}

int recon_index_remove(recon_index *x, uint64_t khash, recon_version v)
{
    int rc = merkle_remove(&x->tree, khash, v);
    if (rc == 0)
        iblt_sketch_add(x->sketch, khash, v, -1);
    return rc;
}
