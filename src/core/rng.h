/* rng.h -- the per-node PRNG (xoshiro256**, seeded through splitmix64).
 * Deterministic by seed; never shared between nodes. */
#ifndef GOSSIP_CORE_RNG_H
#define GOSSIP_CORE_RNG_H

#include <stdint.h>

typedef struct gossip_rng {
    uint64_t s[4];
} gossip_rng;

uint64_t gossip_splitmix64(uint64_t *state);
void gossip_rng_seed(gossip_rng *rng, uint64_t seed);
uint64_t gossip_rng_next(gossip_rng *rng);
/* Uniform in [0, bound), bound > 0 (Lemire's multiply-shift with rejection). */
uint64_t gossip_rng_below(gossip_rng *rng, uint64_t bound);
/* Uniform in [0, 1). */
double gossip_rng_unit(gossip_rng *rng);

#endif
