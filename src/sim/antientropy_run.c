/*
 * antientropy_run.c -- the benchmark behind `gossip-sim antientropy`.
 *
 * Replica A holds keys 0 .. N-1.  d = round(N * diff) keys differ:
 *   half are updated on one side (alternately A and B hold the newer
 *   version; one update in four is a delete, i.e. a tombstone),
 *   a quarter exist only on A (B never heard of them),
 *   the rest exist only on B (keys N, N+1, ... written there).
 * Keys are "key-" and 12 digits (16 bytes); values are pseudo-random bytes;
 * versions are HLC-shaped (48-bit milliseconds, 16-bit logical) with one of
 * 16 writers.  Everything follows from the seed.
 *
 * Each method runs one session between the same two replicas (A initiates),
 * then both are checked: identical entry for entry, and every differing key
 * at its last-writer-wins winner.  The undo journal then restores both for
 * the next method.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/recon_wire.h"
#include "core/rng.h"
#include "sim/antientropy.h"

#define KEY_LEN 16
#define MAX_MESSAGES 100000

enum { SAME = 0, NEWER_A, NEWER_B, ONLY_A };

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void make_key(uint64_t i, uint8_t out[KEY_LEN])
{
    memcpy(out, "key-", 4);
    for (int d = KEY_LEN - 1; d >= 4; d--) {
        out[d] = (uint8_t)('0' + i % 10);
        i /= 10;
    }
}

static recon_version base_version(uint64_t seed, uint64_t i)
{
    uint64_t h = gossip_hash_mix(seed ^ gossip_hash_mix(i + 1));
    uint64_t ms = UINT64_C(1700000000000) + h % 86400000u;
    return (recon_version){ms << 16 | ((h >> 40) & 0xff), 1 + (h >> 59)};
}

static recon_version newer_version(uint64_t seed, uint64_t i, recon_version base)
{
    uint64_t h = gossip_hash_mix(seed ^ gossip_hash_mix(i + 1) ^ UINT64_C(0x6e65776572));
    uint64_t ms = (base.ts >> 16) + 1 + h % 3600000u;
    return (recon_version){ms << 16 | ((h >> 40) & 0xff), 1 + (h >> 59)};
}

static void make_value(uint64_t seed, uint64_t i, recon_version v, uint8_t *out, uint32_t n)
{
    uint64_t st = seed ^ gossip_hash_mix(i ^ gossip_hash_mix(v.ts ^ v.writer * 31));
    for (uint32_t k = 0; k < n; k += 8) {
        uint64_t x = gossip_splitmix64(&st);
        for (uint32_t b = 0; b < 8 && k + b < n; b++)
            out[k + b] = (uint8_t)(x >> (8 * b));
    }
}

struct plan {
    const ae_config *cfg;
    uint8_t *cat;      /* per key < N */
    uint32_t *changed; /* keys < N that differ, in choice order */
    uint64_t n_changed, only_b;
    uint8_t *value;
};

static bool is_delete(uint64_t j) { return (j / 2) % 4 == 3; }

/* The entry key i has on a side: `newer` selects the updated version. */
static void entry_for(const struct plan *p, uint64_t i, bool newer, bool tomb, uint8_t *key,
                      recon_entry *e)
{
    make_key(i, key);
    recon_version v = base_version(p->cfg->seed, i);
    if (newer)
        v = newer_version(p->cfg->seed, i, v);
    uint32_t len = tomb ? 0 : p->cfg->value_bytes;
    make_value(p->cfg->seed, i, v, p->value, len);
    *e = (recon_entry){key, KEY_LEN, p->value, len, v, tomb};
}

static int make_plan(const ae_config *cfg, struct plan *p, ae_result *res)
{
    uint64_t n = cfg->keys;
    uint64_t d = (uint64_t)llround((double)n * cfg->diff);
    if (d > n)
        d = n;
    uint64_t updated = d / 2, only_a = d / 4;
    p->only_b = d - updated - only_a;
    p->n_changed = updated + only_a;
    p->cat = calloc(n ? n : 1, 1);
    p->changed = malloc((n ? n : 1) * sizeof *p->changed);
    p->value = malloc(cfg->value_bytes + 8);
    if (!p->cat || !p->changed || !p->value)
        return GOSSIP_ERR_NOMEM;
    for (uint64_t i = 0; i < n; i++)
        p->changed[i] = (uint32_t)i;
    gossip_rng rng;
    gossip_rng_seed(&rng, cfg->seed);
    for (uint64_t j = 0; j < p->n_changed; j++) { /* partial Fisher-Yates */
        uint64_t k = j + gossip_rng_below(&rng, n - j);
        uint32_t t = p->changed[j];
        p->changed[j] = p->changed[k];
        p->changed[k] = t;
        p->cat[p->changed[j]] = j < updated ? (j % 2 == 0 ? NEWER_A : NEWER_B) : ONLY_A;
    }
    res->differing = d;
    res->updated = updated;
    res->only_a = only_a;
    res->only_b = p->only_b;
    for (uint64_t j = 0; j < updated; j++) {
        res->newer_a += j % 2 == 0;
        res->newer_b += j % 2 == 1;
        res->deletes += is_delete(j);
    }
    return 0;
}

static int build(const struct plan *p, ae_replica *a, ae_replica *b, ae_result *res)
{
    const ae_config *cfg = p->cfg;
    uint8_t key[KEY_LEN];
    recon_entry e;
    /* Position in the choice order of each changed key, for its delete flag. */
    for (uint64_t j = 0; j < p->n_changed; j++)
        p->cat[p->changed[j]] |= (uint8_t)(is_delete(j) << 4);
    for (uint64_t i = 0; i < cfg->keys; i++) {
        unsigned cat = p->cat[i] & 15;
        bool tomb = (p->cat[i] >> 4) & 1;
        entry_for(p, i, cat == NEWER_A, cat == NEWER_A && tomb, key, &e);
        int rc = ae_replica_put(a, &e);
        if (rc < 0)
            return rc;
        if (cat == ONLY_A)
            continue;
        if (cat == NEWER_A || cat == NEWER_B)
            entry_for(p, i, cat == NEWER_B, cat == NEWER_B && tomb, key, &e);
        rc = ae_replica_put(b, &e);
        if (rc < 0)
            return rc;
    }
    for (uint64_t j = 0; j < p->only_b; j++) {
        entry_for(p, cfg->keys + j, false, false, key, &e);
        int rc = ae_replica_put(b, &e);
        if (rc < 0)
            return rc;
    }
    res->entries_a = a->n;
    res->entries_b = b->n;
    for (uint32_t i = 0; i < a->n; i++) {
        recon_entry x;
        ae_replica_view(a, &a->e[i], &x);
        res->full_bytes += recon_entry_size(&x);
    }
    /* The minimum: each differing key's winning entry, once. */
    for (uint64_t j = 0; j < p->n_changed; j++) {
        uint64_t i = p->changed[j];
        unsigned cat = p->cat[i] & 15;
        bool tomb = (p->cat[i] >> 4) & 1;
        entry_for(p, i, cat != ONLY_A, cat != ONLY_A && tomb, key, &e);
        res->min_bytes += recon_entry_size(&e);
    }
    for (uint64_t j = 0; j < p->only_b; j++) {
        entry_for(p, cfg->keys + j, false, false, key, &e);
        res->min_bytes += recon_entry_size(&e);
    }
    res->estimate = iblt_sketch_estimate(a->index.sketch, b->index.sketch);
    return 0;
}

int ae_session(ae_replica *a, ae_replica *b, const recon_config *cfg, ae_method_result *out,
               char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    recon_store sa = ae_replica_store(a), sb = ae_replica_store(b);
    recon_session *side[2] = {NULL, NULL};
    int rc = recon_session_new(&side[0], NULL, cfg, &sa, true);
    if (rc == 0)
        rc = recon_session_new(&side[1], NULL, cfg, &sb, false);
    double t0 = now_sec();
    const uint8_t *msg = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = recon_session_start(side[0], &msg, &len);
    int turn = 1; /* who receives next */
    while (rc == 0 && len > 0) {
        out->bytes += len;
        out->messages++;
        if (out->messages > MAX_MESSAGES) {
            rc = GOSSIP_ERR_TOO_MANY;
            break;
        }
        rc = recon_session_recv(side[turn], msg, len, &msg, &len);
        turn ^= 1;
    }
    out->seconds = now_sec() - t0;
    if (rc != 0)
        snprintf(err, err_len, "session failed after %u messages: %s", out->messages,
                 gossip_strerror(rc));
    else if (!recon_session_done(side[0]) || !recon_session_done(side[1])) {
        snprintf(err, err_len, "session stopped after %u messages with a side not done",
                 out->messages);
        rc = GOSSIP_ERR_INVALID;
    }
    if (side[0] && side[1]) {
        out->initiator = *recon_session_stats(side[0]);
        out->responder = *recon_session_stats(side[1]);
        out->entries = out->initiator.entries_sent + out->responder.entries_sent;
    }
    out->round_trips = (out->messages + 1) / 2;
    out->ran = rc == 0;
    recon_session_free(side[0]);
    recon_session_free(side[1]);
    return rc;
}

/* Both replicas identical, and every differing key at its winner. */
static int verify(const struct plan *p, const ae_replica *a, const ae_replica *b, char *err,
                  size_t err_len)
{
    char why[200];
    if (ae_replica_compare(a, b, why, sizeof why) != NULL) {
        snprintf(err, err_len, "replicas differ: %s", why);
        return 1;
    }
    uint8_t key[KEY_LEN];
    recon_entry want;
    for (uint64_t j = 0; j < p->n_changed + p->only_b; j++) {
        uint64_t i = j < p->n_changed ? p->changed[j] : p->cfg->keys + (j - p->n_changed);
        unsigned cat = i < p->cfg->keys ? p->cat[i] & 15 : ONLY_A;
        bool tomb = i < p->cfg->keys && ((p->cat[i] >> 4) & 1);
        entry_for(p, i, cat == NEWER_A || cat == NEWER_B, (cat == NEWER_A || cat == NEWER_B) && tomb,
                  key, &want);
        const ae_entry *got = ae_replica_find(a, key, KEY_LEN);
        if (got == NULL || !recon_version_eq(got->version, want.version) ||
            got->tombstone != want.tombstone) {
            snprintf(err, err_len, "key '%.*s' is not at its last-writer-wins winner", KEY_LEN,
                     (const char *)key);
            return 1;
        }
    }
    return 0;
}

static int run_method(const struct plan *p, ae_replica *a, ae_replica *b, recon_method m,
                      ae_method_result *out, char *err, size_t err_len)
{
    uint64_t root_a = merkle_root(&a->index.tree), root_b = merkle_root(&b->index.tree);
    recon_config rc_cfg = p->cfg->recon;
    rc_cfg.method = m;
    ae_replica_mark(a);
    ae_replica_mark(b);
    char why[256];
    int rc = ae_session(a, b, &rc_cfg, out, why, sizeof why);
    if (rc != 0) {
        snprintf(err, err_len, "%s session: %s", recon_method_name(m), why);
        return rc < 0 ? rc : 1;
    }
    if (verify(p, a, b, why, sizeof why) != 0) {
        snprintf(err, err_len, "after the %s session: %s", recon_method_name(m), why);
        return 1;
    }
    ae_replica_rollback(a);
    ae_replica_rollback(b);
    if (merkle_root(&a->index.tree) != root_a || merkle_root(&b->index.tree) != root_b) {
        snprintf(err, err_len, "rollback after the %s session did not restore the replicas",
                 recon_method_name(m));
        return 1;
    }
    return 0;
}

int ae_run(const ae_config *cfg, ae_result *res, char *err, size_t err_len)
{
    memset(res, 0, sizeof *res);
    struct plan p = {.cfg = cfg};
    ae_replica a, b;
    bool have_a = false, have_b = false;
    double t0 = now_sec();
    int rc = make_plan(cfg, &p, res);
    if (rc == 0)
        rc = ae_replica_init(&a, (uint32_t)cfg->keys, cfg->leaf_bits, cfg->split);
    have_a = rc == 0;
    if (rc == 0)
        rc = ae_replica_init(&b, (uint32_t)cfg->keys, cfg->leaf_bits, cfg->split);
    have_b = have_a && rc == 0;
    if (rc == 0)
        rc = build(&p, &a, &b, res);
    res->build_seconds = now_sec() - t0;
    if (rc != 0)
        snprintf(err, err_len, "building the replicas: %s", gossip_strerror(rc));
    if (rc == 0 && (cfg->methods & AE_RUN_MERKLE))
        rc = run_method(&p, &a, &b, RECON_MERKLE, &res->merkle, err, err_len);
    if (rc == 0 && (cfg->methods & AE_RUN_IBLT))
        rc = run_method(&p, &a, &b, RECON_IBLT, &res->iblt, err, err_len);
    if (rc == 0 && (cfg->methods & AE_RUN_AUTO))
        rc = run_method(&p, &a, &b, RECON_AUTO, &res->autom, err, err_len);
    if (have_a)
        ae_replica_free(&a);
    if (have_b)
        ae_replica_free(&b);
    free(p.cat);
    free(p.changed);
    free(p.value);
    return rc;
}
