#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(void *ud, size_t n) { (void)ud; return malloc(n); }
static void *libc_realloc(void *ud, void *p, size_t n) { (void)ud; return realloc(p, n); }
static void libc_free(void *ud, void *p) { (void)ud; free(p); }

static const gossip_allocator libc_allocator = {libc_malloc, libc_realloc, libc_free, NULL};

const gossip_allocator *gossip_default_allocator(void) { return &libc_allocator; }

char *ga_strndup(const gossip_allocator *a, const char *s, size_t len)
{
    char *d = ga_malloc(a, len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}
