/* alloc.h -- every allocation of a node goes through its allocator. */
#ifndef GOSSIP_CORE_ALLOC_H
#define GOSSIP_CORE_ALLOC_H

#include <stddef.h>

#include "gossip/gossip.h"

const gossip_allocator *gossip_default_allocator(void);

static inline void *ga_malloc(const gossip_allocator *a, size_t n)
{
    return a->malloc(a->ud, n);
}
static inline void *ga_realloc(const gossip_allocator *a, void *p, size_t n)
{
    return a->realloc(a->ud, p, n);
}
static inline void ga_free(const gossip_allocator *a, void *p)
{
    if (p)
        a->free(a->ud, p);
}
/* Copies `len` bytes and appends a NUL. */
char *ga_strndup(const gossip_allocator *a, const char *s, size_t len);

#endif
