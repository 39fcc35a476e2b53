/* rng.c -- xoshiro256** (Blackman & Vigna 2018), written from the paper's
 * description; splitmix64 expands the 64-bit seed into the state. */
#include "core/rng.h"

uint64_t gossip_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void gossip_rng_seed(gossip_rng *rng, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = gossip_splitmix64(&st);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gossip_rng_next(gossip_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t gossip_rng_below(gossip_rng *rng, uint64_t bound)
{
    /* Lemire 2019: the high half of a 128-bit product, rejecting the few
     * low halves that would bias the result. */
    unsigned __int128 m = (unsigned __int128)gossip_rng_next(rng) * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = -bound % bound;
        while (low < threshold) {
            m = (unsigned __int128)gossip_rng_next(rng) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double gossip_rng_unit(gossip_rng *rng)
{
    return (double)(gossip_rng_next(rng) >> 11) * 0x1.0p-53;
}
