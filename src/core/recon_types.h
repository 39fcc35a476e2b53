/*
 * recon_types.h -- what the reconciliation modules (merkle.c, iblt.c,
 * recon*.c) agree on: key hashes, versions, entry digests and entries.
 *
 * An entry is (key, value, timestamp, writer, tombstone).  Its version is
 * (timestamp, writer): the higher version wins (last writer wins), so two
 * replicas that exchange their newer entries end identical.  Replicas compare
 * entries through their *digest* (key hash, timestamp, writer); values travel
 * only for entries found to differ.
 *
 * Every function here is fixed forever: replicas compare these values across
 * the cluster.  The hashes are not collision-resistant against an adversary
 * (see core/hash.c); they decide what to compare, never what to trust.
 */
#ifndef GOSSIP_CORE_RECON_TYPES_H
#define GOSSIP_CORE_RECON_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Key hashes are 61-bit: below the Mersenne prime 2^61 - 1, so that the
 * IBLT can carry them as elements of GF(2^61 - 1) (iblt.h), and the
 * Merkle tree splits on their 61 bits, most significant first. */
#define RECON_KHASH_BITS 61
#define RECON_P61 ((UINT64_C(1) << 61) - 1)

typedef struct recon_version {
    uint64_t ts;     /* hybrid logical clock timestamp */
    uint64_t writer; /* the writer's id: breaks timestamp ties */
} recon_version;

/* One entry as it travels: pointers into the owner's memory or into a
 * received message. */
typedef struct recon_entry {
    const uint8_t *key;
    uint32_t key_len;
    const uint8_t *value; /* NULL allowed when value_len == 0 */
    uint32_t value_len;
    recon_version version;
    bool tombstone; /* a delete: value_len is 0 */
} recon_entry;

/* < 0, 0, > 0 as a is older than, the same as, newer than b. */
static inline int recon_version_cmp(recon_version a, recon_version b)
{
    if (a.ts != b.ts)
        return a.ts < b.ts ? -1 : 1;
    if (a.writer != b.writer)
        return a.writer < b.writer ? -1 : 1;
    return 0;
}

static inline bool recon_version_eq(recon_version a, recon_version b)
{
    return a.ts == b.ts && a.writer == b.writer;
}

/* The 61-bit key hash, in [0, 2^61 - 1). */
uint64_t recon_key_hash(const void *key, size_t len);

/* The 64-bit digest of one entry version: what Merkle nodes XOR together. */
uint64_t recon_digest(uint64_t khash, recon_version v);

#endif
