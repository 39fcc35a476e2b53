/*
 * iblt.h -- rateless invertible Bloom lookup table over entry digests, and
 * the difference estimator that sizes its first batch.
 *
 * Coded symbols.  Following Rateless IBLT (Yang, Gilad, Alizadeh 2024), a
 * replica's set maps to an unbounded sequence of coded symbols; item x is
 * added into symbol i with probability 2 / (i + 2) (symbol 0 holds every
 * item), chosen by a generator seeded from x, so a prefix of any length is a
 * valid summary and a receiver that cannot decode simply asks for more.
 * The receiver subtracts its own symbols and peels (Goodrich & Mitzenmacher
 * 2011; Eppstein et al. 2011): a symbol holding one item yields it, and the
 * item is removed from every other symbol it was added to.
 *
 * Items are keyed by key hash, not by version.  Replicas hold one version
 * per key, so a key updated on one side would be two items in a plain set of
 * (key, version) digests.  Here both versions of key k map to the same
 * symbols (the generator is seeded by k alone) and the symbol fields are
 * group sums, so the two versions fold into one item -- their difference --
 * that still decodes:
 *
 *     T = sum of ts          (mod 2^64)    R = sum of r(k, v)        (mod p)
 *     W = sum of writer      (mod 2^64)    X = sum of k * r(k, v)    (mod p)
 *
 * with p = 2^61 - 1 and r a nonzero hash of the digest.  The receiver adds
 * its own items and subtracts the sender's.  A symbol holding one key k,
 * whatever the case, has X = k * R, so k = X / R; the receiver then looks k
 * up in its own index: if it holds k at v1 and (T, W) = v1 the sender lacks
 * k; if it holds v1 otherwise the sender's version is v1 - (T, W); if it
 * does not hold k the sender has -(T, W).  In each case R must equal the
 * r-sum that version implies, which a symbol mixing several items passes
 * with probability about 2^-61; the symbol's index must also be one the key
 * maps to.  So the decoded difference names every differing key with both
 * versions: enough to decide which way each entry goes, with no further
 * digest exchange.  32 bytes a symbol, one item per differing key.
 *
 * Estimator.  IBLT_SKETCH_CELLS 16-bit cells of a bucketed tug-of-war sketch
 * (Alon, Matias, Szegedy 1996): key k adds s(k) * g(k, v) to cell b(k),
 * with s = +-1 and g in {0, 1}.  Subtracting two replicas' sketches leaves,
 * per differing key, s(k) * (g(v1) - g(v2)) or s(k) * g(v): nonzero with
 * probability 1/2 in both cases, so twice the sum of squared cell
 * differences estimates the number of differing keys without bias, with
 * relative error about sqrt(2 / cells), 4.4%, once keys outnumber cells.
 * 2 KiB on the wire, maintained in O(1) per change (recon_index).
 */
#ifndef GOSSIP_CORE_IBLT_H
#define GOSSIP_CORE_IBLT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/recon_types.h"
#include "gossip/gossip.h"

#define IBLT_SYMBOL_BYTES 32
#define IBLT_SKETCH_CELLS 1024
/* Indices past this end a key's sequence: no session asks for so many. */
#define IBLT_INDEX_LIMIT (UINT64_C(1) << 32)

typedef struct iblt_sym {
    uint64_t ts, writer; /* mod 2^64 */
    uint64_t r, x;       /* mod 2^61 - 1 */
} iblt_sym;

/* The item of one entry version, to be added (or subtracted) into the
 * symbols its key maps to. */
void iblt_item(uint64_t khash, recon_version v, iblt_sym *out);
void iblt_sym_add(iblt_sym *a, const iblt_sym *b);
void iblt_sym_sub(iblt_sym *a, const iblt_sym *b);
bool iblt_sym_is_zero(const iblt_sym *s);

/* The symbol indices a key maps to, increasing: 0 first. */
typedef struct iblt_walk {
    uint64_t index; /* current index; UINT64_MAX when the sequence ended */
    uint64_t state;
} iblt_walk;
void iblt_walk_start(iblt_walk *w, uint64_t khash);
void iblt_walk_next(iblt_walk *w);

/* Adds (sign > 0) or subtracts the item into symbols [from, to) of its key,
 * held at syms[0 .. to - from). */
void iblt_encode(iblt_sym *syms, uint64_t from, uint64_t to, uint64_t khash,
                 const iblt_sym *item, int sign);

/* Symbols to and from the wire: little-endian ts, writer, r, x. */
void iblt_sym_write(uint8_t out[IBLT_SYMBOL_BYTES], const iblt_sym *s);
/* GOSSIP_ERR_MALFORMED if r or x is not below p. */
int iblt_sym_read(const uint8_t in[IBLT_SYMBOL_BYTES], iblt_sym *s);

/* ---- decoding ---------------------------------------------------------- */

/* The versions the decoding side holds under khash: merkle_find's shape. */
typedef size_t (*iblt_find_fn)(const void *ud, uint64_t khash, recon_version *out, size_t max);

typedef struct iblt_diff {
    uint64_t khash;
    bool local, remote; /* which sides hold the key */
    recon_version local_v, remote_v;
} iblt_diff;

typedef struct iblt_decoder {
    const gossip_allocator *alloc;
    iblt_find_fn find;
    const void *find_ud;
    iblt_sym *sym; /* local minus remote, with decoded items removed */
    uint8_t *raw_zero; /* symbol i was zero as received, before any peeling */
    uint64_t n, cap;
    uint64_t nonzero;
    iblt_diff *items;
    iblt_sym *contrib; /* each item's local-minus-remote sum, parallel to items */
    size_t n_items, cap_items;
    uint64_t *seen; /* open addressing set of decoded key hashes (+1; 0 empty) */
    size_t seen_cap;
    uint64_t *queue;
    size_t n_queue, cap_queue;
    bool corrupt; /* a key decoded twice: the symbols are inconsistent */
} iblt_decoder;

int iblt_decoder_init(iblt_decoder *d, const gossip_allocator *a, iblt_find_fn find,
                      const void *find_ud);
void iblt_decoder_free(iblt_decoder *d);
/* Appends symbols [d->n, d->n + count), each the local symbol minus the
 * remote one, and peels as far as it can.  GOSSIP_ERR_NOMEM. */
int iblt_decoder_add(iblt_decoder *d, const iblt_sym *diff, uint64_t count);
/* True once every symbol is zero: the items list the whole difference. */
static inline bool iblt_decoder_complete(const iblt_decoder *d)
{
    return d->n > 0 && d->nonzero == 0 && !d->corrupt;
}

/* Estimated number of differing keys in all, from the symbols that arrived
 * zero: symbol i is zero with probability (1 - 2/(i+2))^d, so solve the
 * upper half's zero count for d.  Unbiased by what peeling removed; about
 * 2 * n when no symbol arrived zero (d is then well above n / 2). */
double iblt_decoder_estimate(const iblt_decoder *d);

/* ---- estimator --------------------------------------------------------- */

void iblt_sketch_add(uint16_t cells[IBLT_SKETCH_CELLS], uint64_t khash, recon_version v,
                     int sign);
/* Estimated number of keys whose versions differ between the two sketches. */
double iblt_sketch_estimate(const uint16_t a[IBLT_SKETCH_CELLS],
                            const uint16_t b[IBLT_SKETCH_CELLS]);

#endif
