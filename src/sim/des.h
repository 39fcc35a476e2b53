/*
 * des.h -- the discrete-event core of `gossip-sim run`.
 *
 * Three small, engine-independent pieces:
 *
 *   - des_rng: a seeded PRNG (SplitMix64 stream).  Every random choice of a
 *     run draws from one of these, never from rand() or the clock.
 *   - des_queue: a binary min-heap of events ordered by (time, sequence).
 *     The sequence number is assigned at insertion, so two events due at the
 *     same virtual microsecond pop in the order they were scheduled: one
 *     seed, one order, byte-identical output.
 *   - des_packet_pool: fixed-size datagram buffers recycled through a free
 *     list, so delivering a packet costs no malloc in the steady state.
 *
 * plus the per-node clock model (drift and offset) used to translate between
 * virtual time and the node's local `now_ms`.
 */
#ifndef GOSSIP_SIM_DES_H
#define GOSSIP_SIM_DES_H

#include <stddef.h>
#include <stdint.h>

/* ---- PRNG ------------------------------------------------------------- */

struct des_rng {
    uint64_t state;
};

/* SplitMix64 finaliser: spreads correlated inputs (0, 1, 2 ...) apart. */
uint64_t des_mix64(uint64_t x);
/* A generator for stream `stream` of a run seeded with `seed`. */
struct des_rng des_rng_make(uint64_t seed, uint64_t stream);
uint64_t des_rng_next(struct des_rng *rng);
/* Uniform in [0, range); range >= 1. */
uint64_t des_rng_below(struct des_rng *rng, uint64_t range);
/* Uniform in [0, 1) with 53 random bits. */
double des_rng_unit(struct des_rng *rng);
/* Standard normal (Box-Muller; one draw per call, the twin is discarded so
 * that the stream position never depends on history). */
double des_rng_normal(struct des_rng *rng);

/* ---- event queue ------------------------------------------------------ */

enum des_event_kind {
    DES_EV_TICK = 1,     /* node's gossip deadline; `arg` = node life */
    DES_EV_DELIVER = 2,  /* packet `arg` (a pool slot) reaches `node` */
    DES_EV_START = 3,    /* node starts (first start or restart) */
    DES_EV_KILL = 4,     /* node stops; its engine is freed */
    DES_EV_WRITE = 5,    /* application-state write number `arg` */
    DES_EV_CHECK = 6,    /* invariant check point */
    DES_EV_STALL = 7,    /* `node` stops processing for `arg` µs */
    DES_EV_STALL_END = 8,/* `node` processes its queued packets, then ticks */
    DES_EV_LEAVE = 9,    /* `node` calls gossip_node_leave */
    DES_EV_SPLIT_CHECK = 10, /* partition `arg` ends: who holds the other side dead */
};

struct des_event {
    uint64_t time_us;  /* virtual time the event is due */
    uint64_t seq;      /* insertion order: the tie-breaker */
    uint32_t kind;     /* enum des_event_kind */
    uint32_t node;     /* node index the event concerns */
    uint64_t arg;      /* kind-specific, see above */
};

/* The heap starts with this many slots and doubles when full. */
#define DES_QUEUE_INITIAL_CAPACITY 1024u

struct des_queue {
    struct des_event *heap;
    size_t count;
    size_t capacity;
    uint64_t next_seq;
    uint64_t pushed;   /* events ever pushed (statistics) */
    size_t peak;       /* largest count seen */
};

void des_queue_init(struct des_queue *q);
void des_queue_free(struct des_queue *q);
/* Stamps `ev->seq` and inserts it: O(log n).  Returns 0 or -1 (no memory). */
int des_queue_push(struct des_queue *q, struct des_event ev);
/* Removes the earliest event into *out: O(log n).  Returns 0, or -1 if
 * empty. */
int des_queue_pop(struct des_queue *q, struct des_event *out);
/* The earliest event without removing it, or NULL if empty. */
const struct des_event *des_queue_peek(const struct des_queue *q);

/* ---- packet pool ------------------------------------------------------ */

/* Buffers are allocated in blocks of this many and never move, so a buffer
 * handed to gossip_node_recv stays valid while that call sends (and so
 * allocates) new packets. */
#define DES_POOL_BLOCK_SLOTS 1024u
#define DES_POOL_NO_SLOT UINT32_MAX

struct des_packet {
    uint32_t from;        /* sender node index */
    uint32_t len;         /* bytes used in the buffer */
    uint32_t next_free;   /* free-list link while unused */
    uint8_t *data;        /* `slot_size` bytes inside a block */
};

struct des_packet_pool {
    size_t slot_size;           /* bytes per buffer (the MTU) */
    struct des_packet **blocks; /* each DES_POOL_BLOCK_SLOTS packets */
    uint8_t **data_blocks;      /* their buffers */
    size_t block_count;
    uint32_t free_head;
    uint32_t in_use;
    uint32_t peak_in_use;
};

void des_pool_init(struct des_packet_pool *pool, size_t slot_size);
void des_pool_free(struct des_packet_pool *pool);
/* Takes a slot and copies `len` <= slot_size bytes in.  Returns the slot
 * number or DES_POOL_NO_SLOT (no memory, or len too large). */
uint32_t des_pool_put(struct des_packet_pool *pool, uint32_t from,
                      const uint8_t *buf, size_t len);
struct des_packet *des_pool_get(const struct des_packet_pool *pool, uint32_t slot);
void des_pool_release(struct des_packet_pool *pool, uint32_t slot);

/* ---- node clocks ------------------------------------------------------ */

/* Largest |drift| accepted: 10 % -- far beyond a real quartz (~100 ppm), so
 * experiments can exaggerate it, while keeping the arithmetic below exact
 * in 64 bits for any virtual time under DES_CLOCK_MAX_VIRTUAL_US. */
#define DES_CLOCK_MAX_DRIFT_PPM 100000
#define DES_CLOCK_MAX_VIRTUAL_US (30ull * 24 * 3600 * 1000000) /* 30 days */

/* A node's local clock: local_us = offset_us + v + trunc(v * drift_ppm / 1e6)
 * for virtual time v (µs); the engine sees local_us / 1000. */
struct des_clock {
    int64_t drift_ppm;
    uint64_t offset_us;
};

uint64_t des_clock_local_ms(const struct des_clock *clock, uint64_t virtual_us);
/* The smallest virtual time at which the local clock reads >= local_ms. */
uint64_t des_clock_virtual_us(const struct des_clock *clock, uint64_t local_ms);

#endif
