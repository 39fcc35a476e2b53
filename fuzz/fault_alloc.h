/* fault_alloc.h -- a gossip_allocator for fuzz harnesses that counts live
 * blocks (a leak check at the end of a run) and fails the fail_at-th call
 * once armed (out-of-memory paths get fuzzed too). */
#ifndef GOSSIP_FUZZ_FAULT_ALLOC_H
#define GOSSIP_FUZZ_FAULT_ALLOC_H

#include <stdlib.h>

typedef struct fault_alloc {
    long live;
    unsigned long calls;
    unsigned long fail_at; /* 0: never */
    int armed;
} fault_alloc;

static int should_fail(fault_alloc *f)
{
    if (!f->armed || f->fail_at == 0)
        return 0;
    return ++f->calls == f->fail_at;
}

static void *fa_malloc(void *ud, size_t n)
{
    fault_alloc *f = ud;
    if (should_fail(f))
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        f->live++;
    return p;
}

static void *fa_realloc(void *ud, void *ptr, size_t n)
{
    fault_alloc *f = ud;
    if (should_fail(f))
        return NULL;
    void *p = realloc(ptr, n ? n : 1);
    if (p && !ptr)
        f->live++;
    return p;
}

static void fa_free(void *ud, void *ptr)
{
    fault_alloc *f = ud;
    if (ptr) {
        f->live--;
        free(ptr);
    }
}

#endif
