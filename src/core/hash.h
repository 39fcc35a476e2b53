/* hash.h -- 64-bit hashing of names and endpoint digests.  Unkeyed and
 * fixed forever: every node must compute the same digest hash, since table
 * and bucket hashes are compared across the cluster. */
#ifndef GOSSIP_CORE_HASH_H
#define GOSSIP_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t gossip_hash_bytes(const void *data, size_t len, uint64_t seed);
uint64_t gossip_hash_mix(uint64_t x);
/* h(name, generation, max_version): one endpoint's contribution to the
 * table hash. */
uint64_t gossip_digest_hash(const char *name, size_t len, uint64_t generation,
                            uint64_t max_version);

#endif
