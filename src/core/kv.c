/*
 * kv.c -- one replica of the key-value store (kv.h): entries in one array,
 * each with its key and value in one allocation, a chained hash index by the
 * 61-bit key hash, the HLC, and the recon_index kept in step with every
 * change.
 */
#include "core/kv.h"

#include <string.h>

#include "core/alloc.h"

#define NIL UINT32_MAX

typedef struct kv_ent {
    uint64_t khash;
    recon_version v;
    uint64_t seen_ms; /* when this replica stored this version */
    uint8_t *data;    /* key then value */
    uint32_t klen, vlen;
    uint32_t next;    /* hash chain */
    bool tomb;
} kv_ent;

struct kv_store {
    const gossip_allocator *alloc;
    kv_config cfg;
    recon_index index;
    kv_ent *e;
    uint32_t n, cap;
    uint32_t *heads;
    uint32_t mask;
    uint64_t clock; /* HLC: the last timestamp issued or seen */
    uint64_t now_ms;
    kv_stats st;
};

void kv_config_default(kv_config *c)
{
    memset(c, 0, sizeof *c);
    c->writer = 1;
    c->max_key = KV_DEFAULT_MAX_KEY;
    c->max_value = KV_DEFAULT_MAX_VALUE;
    c->max_entries = KV_DEFAULT_MAX_ENTRIES;
    c->horizon_ms = KV_DEFAULT_HORIZON_MS;
    c->max_ahead_ms = KV_DEFAULT_MAX_AHEAD_MS;
}

int kv_new(kv_store **out, const gossip_allocator *a, const kv_config *cfg)
{
    *out = NULL;
    kv_config c;
    if (cfg)
        c = *cfg;
    else
        kv_config_default(&c);
    if (c.max_key < 1 || c.max_key > KV_MAX_KEY || c.max_value > KV_MAX_VALUE ||
        c.max_entries < 1 || c.max_entries >= NIL / 2)
        return GOSSIP_ERR_INVALID;
    if (a == NULL)
        a = gossip_default_allocator();
    kv_store *s = ga_malloc(a, sizeof *s);
    if (s == NULL)
        return GOSSIP_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->alloc = a;
    s->cfg = c;
    s->mask = 255;
    s->heads = ga_malloc(a, (size_t)(s->mask + 1) * sizeof *s->heads);
    if (s->heads == NULL) {
        ga_free(a, s);
        return GOSSIP_ERR_NOMEM;
    }
    memset(s->heads, 0xff, (size_t)(s->mask + 1) * sizeof *s->heads);
    int rc = recon_index_init(&s->index, a, c.leaf_bits, c.split);
    if (rc != 0) {
        ga_free(a, s->heads);
        ga_free(a, s);
        return rc;
    }
    *out = s;
    return 0;
}

void kv_free(kv_store *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        ga_free(s->alloc, s->e[i].data);
    ga_free(s->alloc, s->e);
    ga_free(s->alloc, s->heads);
    recon_index_free(&s->index);
    ga_free(s->alloc, s);
}

/* ---- the hash index ------------------------------------------------------------ */

static uint32_t lookup(const kv_store *s, uint64_t khash, const void *key, size_t klen)
{
    for (uint32_t i = s->heads[khash & s->mask]; i != NIL; i = s->e[i].next) {
        const kv_ent *x = &s->e[i];
        if (x->khash == khash && x->klen == klen && memcmp(x->data, key, klen) == 0)
            return i;
    }
    return NIL;
}

static int grow_heads(kv_store *s)
{
    uint32_t size = (s->mask + 1) * 2;
    uint32_t *h = ga_malloc(s->alloc, (size_t)size * sizeof *h);
    if (h == NULL)
        return GOSSIP_ERR_NOMEM;
    memset(h, 0xff, (size_t)size * sizeof *h);
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t b = (uint32_t)(s->e[i].khash & (size - 1));
        s->e[i].next = h[b];
        h[b] = i;
    }
    ga_free(s->alloc, s->heads);
    s->heads = h;
    s->mask = size - 1;
    return 0;
}

/* The link that points at entry i (a head or a predecessor's next). */
static uint32_t *link_to(kv_store *s, uint32_t i)
{
    uint32_t *l = &s->heads[s->e[i].khash & s->mask];
    while (*l != i)
        l = &s->e[*l].next;
    return l;
}

static void view(const kv_ent *x, recon_entry *out)
{
    *out = (recon_entry){x->data, x->klen, x->vlen ? x->data + x->klen : NULL, x->vlen, x->v,
                         x->tomb};
}

static void tell(kv_store *s, const kv_ent *x, enum kv_cause cause)
{
    if (s->cfg.on_change == NULL)
        return;
    recon_entry e;
    view(x, &e);
    kv_change c = {&e, cause};
    s->cfg.on_change(s->cfg.ud, &c);
}

/* ---- the clock ------------------------------------------------------------------- */

static void observe(kv_store *s, uint64_t ts, uint64_t now_ms)
{
    if (ts > s->clock)
        s->clock = ts;
    if (kv_hlc_physical(ts) > now_ms + s->cfg.max_ahead_ms)
        s->st.clock_ahead++;
}

static uint64_t tick(kv_store *s, uint64_t now_ms)
{
    uint64_t phys = now_ms << KV_HLC_LOGICAL_BITS;
    s->clock = s->clock + 1 > phys ? s->clock + 1 : phys;
    return s->clock;
}

/* ---- storing ----------------------------------------------------------------------- */

/* Replaces entry i's version and value (the key stays). */
static int replace(kv_store *s, uint32_t i, const recon_entry *e, uint64_t now_ms)
{
    kv_ent *x = &s->e[i];
    uint8_t *data = x->data;
    if (e->value_len != x->vlen) {
        data = ga_realloc(s->alloc, x->data, (size_t)x->klen + e->value_len + 1);
        if (data == NULL)
            return GOSSIP_ERR_NOMEM;
        x->data = data;
    }
    int rc = recon_index_update(&s->index, x->khash, x->v, e->version);
    if (rc != 0)
        return rc; /* data may have grown: harmless, vlen still says what is valid */
    if (e->value_len)
        memmove(data + x->klen, e->value, e->value_len);
    s->st.bytes -= x->vlen;
    s->st.bytes += e->value_len;
    if (x->tomb != e->tombstone) {
        if (e->tombstone) {
            s->st.live--;
            s->st.tombstones++;
        } else {
            s->st.live++;
            s->st.tombstones--;
        }
    }
    x->vlen = e->value_len;
    x->v = e->version;
    x->tomb = e->tombstone;
    x->seen_ms = now_ms;
    return 0;
}

static int insert(kv_store *s, uint64_t khash, const recon_entry *e, uint64_t now_ms,
                  uint32_t *idx)
{
    if (s->n >= s->cfg.max_entries)
        return GOSSIP_ERR_FULL;
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 64;
        kv_ent *p = ga_realloc(s->alloc, s->e, (size_t)cap * sizeof *p);
        if (p == NULL)
            return GOSSIP_ERR_NOMEM;
        s->e = p;
        s->cap = cap;
    }
    if (s->n > s->mask && grow_heads(s) != 0)
        return GOSSIP_ERR_NOMEM;
    uint8_t *data = ga_malloc(s->alloc, (size_t)e->key_len + e->value_len + 1);
    if (data == NULL)
        return GOSSIP_ERR_NOMEM;
    int rc = recon_index_insert(&s->index, khash, e->version);
    if (rc != 0) {
        ga_free(s->alloc, data);
        return rc;
    }
    memcpy(data, e->key, e->key_len);
    if (e->value_len)
        memcpy(data + e->key_len, e->value, e->value_len);
    uint32_t i = s->n++;
    uint32_t b = (uint32_t)(khash & s->mask);
    s->e[i] = (kv_ent){khash, e->version, now_ms, data, e->key_len, e->value_len, s->heads[b],
                       e->tombstone};
    s->heads[b] = i;
    s->st.entries++;
    s->st.bytes += (uint64_t)e->key_len + e->value_len;
    if (e->tombstone)
        s->st.tombstones++;
    else
        s->st.live++;
    *idx = i;
    return 0;
}

/* Removes entry i (moving the last entry into its place). */
static void remove_at(kv_store *s, uint32_t i)
{
    kv_ent *x = &s->e[i];
    recon_index_remove(&s->index, x->khash, x->v);
    *link_to(s, i) = x->next;
    s->st.entries--;
    s->st.bytes -= (uint64_t)x->klen + x->vlen;
    if (x->tomb)
        s->st.tombstones--;
    else
        s->st.live--;
    ga_free(s->alloc, x->data);
    uint32_t last = --s->n;
    if (i != last) {
        *link_to(s, last) = i;
        s->e[i] = s->e[last];
    }
}

static int check_entry(const kv_store *s, const recon_entry *e)
{
    if (e->key_len == 0 || (e->key == NULL))
        return GOSSIP_ERR_INVALID;
    if (e->key_len > s->cfg.max_key || e->value_len > s->cfg.max_value)
        return GOSSIP_ERR_OVERSIZE;
    if ((e->tombstone && e->value_len != 0) || (e->value_len && e->value == NULL))
        return GOSSIP_ERR_INVALID;
    return 0;
}

/* Last writer wins: 1 stored, 0 not newer, or a negative error. */
static int store(kv_store *s, const recon_entry *e, uint64_t now_ms, enum kv_cause cause)
{
    uint64_t khash = recon_key_hash(e->key, e->key_len);
    uint32_t i = lookup(s, khash, e->key, e->key_len);
    if (i != NIL && recon_version_cmp(e->version, s->e[i].v) <= 0)
        return 0;
    if (i == NIL && cause == KV_REMOTE && e->tombstone &&
        kv_hlc_physical(e->version.ts) + s->cfg.horizon_ms <= now_ms) {
        /* A tombstone this replica may well have collected already: taking it
         * back would only bounce it between replicas.  Reads see the same. */
        s->st.expired_refused++;
        return 0;
    }
    int rc = i != NIL ? replace(s, i, e, now_ms) : insert(s, khash, e, now_ms, &i);
    if (rc != 0)
        return rc;
    tell(s, &s->e[i], cause);
    return 1;
}

static int received(kv_store *s, const recon_entry *e, uint64_t now_ms, enum kv_cause cause)
{
    s->now_ms = now_ms;
    int rc = check_entry(s, e);
    if (rc == 0) {
        observe(s, e->version.ts, now_ms);
        rc = store(s, e, now_ms, cause);
    }
    if (rc < 0)
        s->st.refused++;
    else if (cause == KV_LOADED)
        s->st.loaded += (uint64_t)rc;
    else if (rc == 1)
        s->st.merged_new++;
    else
        s->st.merged_stale++;
    return rc;
}

int kv_merge(kv_store *s, const recon_entry *e, uint64_t now_ms)
{
    return received(s, e, now_ms, KV_REMOTE);
}

int kv_load(kv_store *s, const recon_entry *e, uint64_t now_ms)
{
    return received(s, e, now_ms, KV_LOADED);
}

static int local_write(kv_store *s, const void *key, size_t klen, const void *val, size_t vlen,
                       bool tomb, uint64_t now_ms, const uint64_t *cas, recon_version *out)
{
    *out = (recon_version){0, 0};
    s->now_ms = now_ms;
    if (klen == 0 || key == NULL)
        return GOSSIP_ERR_INVALID;
    if (klen > s->cfg.max_key || vlen > s->cfg.max_value)
        return GOSSIP_ERR_OVERSIZE;
    uint64_t khash = recon_key_hash(key, klen);
    uint32_t i = lookup(s, khash, key, klen);
    bool live = i != NIL && !s->e[i].tomb;
    if (cas != NULL) {
        uint64_t have = live ? s->e[i].v.ts : 0;
        if (have != *cas) {
            s->st.cas_failed++;
            if (live)
                *out = s->e[i].v;
            return KV_CAS_FAILED;
        }
    }
    if (tomb && !live)
        return GOSSIP_ERR_NOT_FOUND;
    /* The clock is past every version stored (observe), so this one wins. */
    recon_entry e = {key, (uint32_t)klen, val, (uint32_t)vlen,
                     (recon_version){0, s->cfg.writer}, tomb};
    uint64_t saved = s->clock;
    e.version.ts = tick(s, now_ms);
    int rc = store(s, &e, now_ms, KV_LOCAL);
    if (rc < 0) {
        s->clock = saved;
        return rc;
    }
    if (tomb)
        s->st.deletes++;
    else
        s->st.puts++;
    *out = e.version;
    return 0;
}

int kv_put(kv_store *s, const void *key, size_t klen, const void *val, size_t vlen,
           uint64_t now_ms, const uint64_t *cas, recon_version *out)
{
    if (vlen && val == NULL)
        return GOSSIP_ERR_INVALID;
    return local_write(s, key, klen, val, vlen, false, now_ms, cas, out);
}

int kv_del(kv_store *s, const void *key, size_t klen, uint64_t now_ms, const uint64_t *cas,
           recon_version *out)
{
    return local_write(s, key, klen, NULL, 0, true, now_ms, cas, out);
}

/* ---- reading --------------------------------------------------------------------- */

int kv_get(const kv_store *s, const void *key, size_t klen, recon_entry *out)
{
    if (key == NULL || klen == 0 || klen > s->cfg.max_key)
        return GOSSIP_ERR_NOT_FOUND;
    uint32_t i = lookup(s, recon_key_hash(key, klen), key, klen);
    if (i == NIL)
        return GOSSIP_ERR_NOT_FOUND;
    view(&s->e[i], out);
    return 0;
}

int kv_each(const kv_store *s, const void *prefix, size_t plen,
            int (*fn)(void *arg, const recon_entry *e), void *arg)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const kv_ent *x = &s->e[i];
        if (x->klen < plen || (plen && memcmp(x->data, prefix, plen) != 0))
            continue;
        recon_entry e;
        view(x, &e);
        int rc = fn(arg, &e);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- tombstones ---------------------------------------------------------------- */

size_t kv_gc(kv_store *s, uint64_t now_ms, uint64_t safe_ms)
{
    s->now_ms = now_ms;
    size_t collected = 0;
    uint32_t i = 0;
    while (i < s->n) {
        kv_ent *x = &s->e[i];
        if (x->tomb && kv_hlc_physical(x->v.ts) + s->cfg.horizon_ms <= now_ms &&
            x->seen_ms < safe_ms) {
            tell(s, x, KV_GC);
            remove_at(s, i); /* the last entry moved to i: look at i again */
            collected++;
            continue;
        }
        i++;
    }
    s->st.gc_collected += collected;
    return collected;
}

/* ---- what sessions see -------------------------------------------------------- */

static int session_read(void *ud, uint64_t khash, recon_version v, recon_entry *out)
{
    const kv_store *s = ud;
    for (uint32_t i = s->heads[khash & s->mask]; i != NIL; i = s->e[i].next)
        if (s->e[i].khash == khash && recon_version_eq(s->e[i].v, v)) {
            view(&s->e[i], out);
            return 0;
        }
    return GOSSIP_ERR_NOT_FOUND;
}

static int session_apply(void *ud, const recon_entry *e)
{
    kv_store *s = ud;
    int rc = received(s, e, s->now_ms, KV_REMOTE);
    /* An entry the limits refuse stays out; the session goes on. */
    return rc == GOSSIP_ERR_NOMEM ? rc : 0;
}

recon_store kv_recon_store(kv_store *s)
{
    return (recon_store){&s->index, session_read, session_apply, s};
}

void kv_set_now(kv_store *s, uint64_t now_ms) { s->now_ms = now_ms; }
const recon_index *kv_index(const kv_store *s) { return &s->index; }
uint64_t kv_clock(const kv_store *s) { return s->clock; }
const kv_config *kv_get_config(const kv_store *s) { return &s->cfg; }

void kv_get_stats(const kv_store *s, kv_stats *out) { *out = s->st; }
