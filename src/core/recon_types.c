/* recon_types.c -- the key hash and the entry digest (core/recon_types.h).
 * Both are built on core/hash.c, the engine's hash; neither may change once
 * replicas compare them. */
#include "core/recon_types.h"

#include "core/hash.h"

#define RECON_KEY_SEED UINT64_C(0x6b65792d68617368) /* "key-hash" */

uint64_t recon_key_hash(const void *key, size_t len)
{
    /* 61 bits; the one value equal to the prime folds to 0. */
    uint64_t h = gossip_hash_bytes(key, len, RECON_KEY_SEED) >> 3;
    return h == RECON_P61 ? 0 : h;
}

uint64_t recon_digest(uint64_t khash, recon_version v)
{
    uint64_t h = gossip_hash_mix(khash ^ UINT64_C(0x243f6a8885a308d3));
    h = gossip_hash_mix(h ^ v.ts * UINT64_C(0x9e3779b97f4a7c15));
    return gossip_hash_mix(h ^ v.writer * UINT64_C(0xc2b2ae3d27d4eb4f));
}
