/* des.c -- PRNG, event heap, packet pool and clock model of the simulator.
 * See des.h for what each piece promises. */
#include "sim/des.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ------------------------------------------------------------- */

#define DES_GOLDEN_GAMMA 0x9e3779b97f4a7c15u
/* M_PI is not part of strict C11. */
#define DES_TWO_PI 6.283185307179586476925

uint64_t des_mix64(uint64_t x)
{
    x += DES_GOLDEN_GAMMA;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

struct des_rng des_rng_make(uint64_t seed, uint64_t stream)
{
    /* Mixing the stream number first keeps streams of nearby seeds apart. */
    struct des_rng rng = {des_mix64(seed ^ des_mix64(stream + 1))};
    return rng;
}

uint64_t des_rng_next(struct des_rng *rng)
{
    rng->state += DES_GOLDEN_GAMMA;
    uint64_t z = rng->state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

uint64_t des_rng_below(struct des_rng *rng, uint64_t range)
{
    if (range <= 1)
        return 0;
    /* Rejection keeps the result exactly uniform: draws at or above the
     * largest multiple of `range` are retried. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % range);
    uint64_t x;
    do {
        x = des_rng_next(rng);
    } while (x >= limit);
    return x % range;
}

double des_rng_unit(struct des_rng *rng)
{
    return (double)(des_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double des_rng_normal(struct des_rng *rng)
{
    /* 1 - unit is in (0, 1], so the log is finite. */
    double u1 = 1.0 - des_rng_unit(rng);
    double u2 = des_rng_unit(rng);
    return sqrt(-2.0 * log(u1)) * cos(DES_TWO_PI * u2);
}

/* ---- event queue ------------------------------------------------------ */

static int event_before(const struct des_event *a, const struct des_event *b)
{
    if (a->time_us != b->time_us)
        return a->time_us < b->time_us;
    return a->seq < b->seq;
}

void des_queue_init(struct des_queue *q)
{
    memset(q, 0, sizeof *q);
}

void des_queue_free(struct des_queue *q)
{
    free(q->heap);
    memset(q, 0, sizeof *q);
}

static int queue_grow(struct des_queue *q)
{
    size_t capacity = q->capacity ? q->capacity * 2 : DES_QUEUE_INITIAL_CAPACITY;
    struct des_event *heap = realloc(q->heap, capacity * sizeof *heap);
    if (!heap)
        return -1;
    q->heap = heap;
    q->capacity = capacity;
    return 0;
}

int des_queue_push(struct des_queue *q, struct des_event ev)
{
    if (q->count == q->capacity && queue_grow(q) != 0)
        return -1;
    ev.seq = q->next_seq++;
    size_t i = q->count++;
    /* Sift up: move parents down until ev's place is found. */
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!event_before(&ev, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = ev;
    q->pushed++;
    if (q->count > q->peak)
        q->peak = q->count;
    return 0;
}

int des_queue_pop(struct des_queue *q, struct des_event *out)
{
    if (q->count == 0)
        return -1;
    *out = q->heap[0];
    struct des_event last = q->heap[--q->count];
    size_t n = q->count;
    size_t i = 0;
    /* Sift down the former last element from the root. */
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && event_before(&q->heap[child + 1], &q->heap[child]))
            child++;
        if (!event_before(&q->heap[child], &last))
            break;
        q->heap[i] = q->heap[child];
        i = child;
    }
    if (n > 0)
        q->heap[i] = last;
    return 0;
}

const struct des_event *des_queue_peek(const struct des_queue *q)
{
    return q->count ? &q->heap[0] : NULL;
}

/* ---- packet pool ------------------------------------------------------ */

void des_pool_init(struct des_packet_pool *pool, size_t slot_size)
{
    memset(pool, 0, sizeof *pool);
    pool->slot_size = slot_size;
    pool->free_head = DES_POOL_NO_SLOT;
}

void des_pool_free(struct des_packet_pool *pool)
{
    for (size_t b = 0; b < pool->block_count; b++) {
        free(pool->blocks[b]);
        free(pool->data_blocks[b]);
    }
    free(pool->blocks);
    free(pool->data_blocks);
    memset(pool, 0, sizeof *pool);
    pool->free_head = DES_POOL_NO_SLOT;
}

/* Adds one block of slots and threads them onto the free list. */
static int pool_add_block(struct des_packet_pool *pool)
{
    size_t b = pool->block_count;
    if ((uint64_t)(b + 1) * DES_POOL_BLOCK_SLOTS >= DES_POOL_NO_SLOT)
        return -1;
    struct des_packet **blocks = realloc(pool->blocks, (b + 1) * sizeof *blocks);
    if (!blocks)
        return -1;
    pool->blocks = blocks;
    uint8_t **data_blocks = realloc(pool->data_blocks, (b + 1) * sizeof *data_blocks);
    if (!data_blocks)
        return -1;
    pool->data_blocks = data_blocks;
    struct des_packet *packets = calloc(DES_POOL_BLOCK_SLOTS, sizeof *packets);
    uint8_t *data = malloc(DES_POOL_BLOCK_SLOTS * pool->slot_size);
    if (!packets || !data) {
        free(packets);
        free(data);
        return -1;
    }
    blocks[b] = packets;
    data_blocks[b] = data;
    pool->block_count = b + 1;
    uint32_t first = (uint32_t)(b * DES_POOL_BLOCK_SLOTS);
    for (uint32_t i = DES_POOL_BLOCK_SLOTS; i-- > 0;) {
        packets[i].data = data + (size_t)i * pool->slot_size;
        packets[i].next_free = pool->free_head;
        pool->free_head = first + i;
    }
    return 0;
}

struct des_packet *des_pool_get(const struct des_packet_pool *pool, uint32_t slot)
{
    return &pool->blocks[slot / DES_POOL_BLOCK_SLOTS][slot % DES_POOL_BLOCK_SLOTS];
}

uint32_t des_pool_put(struct des_packet_pool *pool, uint32_t from,
                      const uint8_t *buf, size_t len)
{
    if (len > pool->slot_size)
        return DES_POOL_NO_SLOT;
    if (pool->free_head == DES_POOL_NO_SLOT && pool_add_block(pool) != 0)
        return DES_POOL_NO_SLOT;
    uint32_t slot = pool->free_head;
    struct des_packet *p = des_pool_get(pool, slot);
    pool->free_head = p->next_free;
    p->from = from;
    p->len = (uint32_t)len;
    p->next_free = DES_POOL_NO_SLOT;
    if (len)
        memcpy(p->data, buf, len);
    if (++pool->in_use > pool->peak_in_use)
        pool->peak_in_use = pool->in_use;
    return slot;
}

void des_pool_release(struct des_packet_pool *pool, uint32_t slot)
{
    struct des_packet *p = des_pool_get(pool, slot);
    p->next_free = pool->free_head;
    pool->free_head = slot;
    pool->in_use--;
}

/* ---- node clocks ------------------------------------------------------ */

#define DES_PPM 1000000

/* Local microseconds at virtual time v.  Monotonic in v because
 * |drift| < 1e6 ppm: each virtual µs adds 1 and removes at most 1. */
static uint64_t clock_local_us(const struct des_clock *clock, uint64_t v)
{
    int64_t skew = (int64_t)v * clock->drift_ppm / DES_PPM;
    return clock->offset_us + (uint64_t)((int64_t)v + skew);
}

uint64_t des_clock_local_ms(const struct des_clock *clock, uint64_t virtual_us)
{
    return clock_local_us(clock, virtual_us) / 1000;
}

uint64_t des_clock_virtual_us(const struct des_clock *clock, uint64_t local_ms)
{
    if (local_ms >= DES_CLOCK_MAX_VIRTUAL_US / 1000)
        return UINT64_MAX;
    uint64_t target = local_ms * 1000;
    if (target <= clock->offset_us)
        return 0;
    /* Invert the linear map, then correct the rounding by a step or two. */
    uint64_t v = (uint64_t)((int64_t)(target - clock->offset_us) * DES_PPM /
                            (DES_PPM + clock->drift_ppm));
    while (clock_local_us(clock, v) < target)
        v++;
    while (v > 0 && clock_local_us(clock, v - 1) >= target)
        v--;
    return v;
}
