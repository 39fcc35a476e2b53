/* hash.c -- FNV-1a over the bytes, finished by the splitmix64 mixer so that
 * every input bit reaches every output bit.  Not collision-resistant against
 * an adversary: it decides only what to compare, never what to trust. */
#include "core/hash.h"

uint64_t gossip_hash_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t gossip_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return gossip_hash_mix(h ^ len);
}

uint64_t gossip_digest_hash(const char *name, size_t len, uint64_t generation,
                            uint64_t max_version)
{
    uint64_t h = gossip_hash_bytes(name, len, 0);
    h = gossip_hash_mix(h ^ generation * 0x9e3779b97f4a7c15ull);
    return gossip_hash_mix(h ^ max_version * 0xc2b2ae3d27d4eb4full);
}
