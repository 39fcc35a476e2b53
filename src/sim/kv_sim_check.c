/*
 * kv_sim_check.c -- the oracle of `gossip-sim kv` and its checks.
 *
 * The oracle.  A write is acknowledged when kv_put / kv_del returns 0 on a
 * live replica (its log record is synced first, as the agent does before
 * answering).  For every key the oracle keeps the winner of its
 * acknowledged writes: the highest version (timestamp, writer), with its
 * value or as a tombstone.  Only acknowledged writes ever enter a store, so
 * no replica may hold a version above the winner.
 *
 * Identical.  The replicas are identical when, for every key, either
 *   (a) every replica holds the same entry (version, tombstone flag and
 *       value), or none holds the key; or
 *   (b) no replica holds a live value, every replica that holds the key
 *       holds the same tombstone T, and every replica that lacks it could
 *       no longer take T: T's write time is at least the horizon old on that
 *       replica's clock, so kv_merge would refuse it as expired.  (A replica
 *       that collected T is such a replica: kv_gc only collects past the
 *       horizon.)  A replica that lacks the key while T is still young must
 *       still receive T, and the replicas are not yet identical.
 * Reads agree in both cases; (b) is the only way a collected tombstone
 * counts as equal to an absent key, and only when no replica has a value.
 *
 * The checks on the final state:
 *   lost_writes   keys where some replica does not hold the winner: a
 *                 different or missing value, an older version, or, for a
 *                 deleted key, a live value when the delete was never
 *                 collected anywhere (a delete that did not spread);
 *   resurrected   keys where a collected delete came back: during the run,
 *                 a replica that had collected tombstone T stored an older
 *                 live version (by merge, or found one after replaying its
 *                 log); or at the end, the winner is a tombstone some
 *                 replica collected and a replica holds an older live value;
 *   collected     once identical, anti-entropy and collection go on until no
 *                 replica holds a tombstone (collection is live: every delete
 *                 is collected once the faults stop) -- required when the
 *                 horizon is shorter than the deadline;
 *   index         every replica's recon_index equals one rebuilt from its
 *                 entries (root, count, sketch, the tree's own invariants).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/kv_sim_internal.h"

int kvs_key_index(const kvs_world *w, const recon_entry *e, uint32_t *out)
{
    if (e->key_len < 2 || e->key_len > 11 || e->key[0] != 'k')
        return -1;
    uint64_t v = 0;
    for (uint32_t i = 1; i < e->key_len; i++) {
        if (e->key[i] < '0' || e->key[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(e->key[i] - '0');
    }
    if (v >= w->c->keys)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

void kvs_oracle_ack(kvs_world *w, uint32_t key, const recon_entry *e)
{
    kvs_key *k = &w->keys[key];
    if (k->acked && recon_version_cmp(e->version, k->v) <= 0)
        return;
    k->acked = true;
    k->v = e->version;
    k->tomb = e->tombstone;
    k->vlen = e->value_len;
    if (e->value_len)
        memcpy(k->value, e->value, e->value_len);
}

static kvs_floor *floor_of(const kvs_key *k, uint32_t node)
{
    for (uint32_t i = 0; i < k->n_floors; i++)
        if (k->floors[i].node == node)
            return &k->floors[i];
    return NULL;
}

int kvs_note_collected(kvs_world *w, uint32_t node, uint32_t key, recon_version v)
{
    kvs_key *k = &w->keys[key];
    kvs_floor *f = floor_of(k, node);
    if (f) {
        if (recon_version_cmp(v, f->v) > 0)
            f->v = v;
        return 0;
    }
    if (k->n_floors == k->cap_floors) {
        uint32_t cap = k->cap_floors ? 2 * k->cap_floors : 4;
        kvs_floor *p = realloc(k->floors, cap * sizeof *p);
        if (!p)
            return -1;
        k->floors = p;
        k->cap_floors = cap;
    }
    k->floors[k->n_floors++] = (kvs_floor){node, v};
    return 0;
}

void kvs_check_comeback(kvs_world *w, uint32_t node, uint32_t key, const recon_entry *e)
{
    kvs_key *k = &w->keys[key];
    const kvs_floor *f = floor_of(k, node);
    if (!e->tombstone && f && recon_version_cmp(e->version, f->v) < 0)
        k->resurrected = true;
}

void kvs_check_replayed(kvs_world *w, kvs_node *n)
{
    for (uint32_t key = 0; key < w->c->keys; key++) {
        kvs_key *k = &w->keys[key];
        if (k->n_floors == 0 || !floor_of(k, n->id))
            continue;
        char name[16];
        size_t len;
        kvs_key_name(key, name, &len);
        recon_entry e;
        if (kv_get(n->s, name, len, &e) == 0)
            kvs_check_comeback(w, n->id, key, &e);
    }
}

static bool same_entry(const recon_entry *a, const recon_entry *b)
{
    return recon_version_eq(a->version, b->version) && a->tombstone == b->tombstone &&
           a->value_len == b->value_len &&
           (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

static bool key_identical(const kvs_world *w, uint32_t key)
{
    char name[16];
    size_t len;
    kvs_key_name(key, name, &len);
    recon_entry ref = {0};
    bool have_ref = false, absent = false, differ = false, live = false;
    for (uint32_t i = 0; i < w->c->nodes; i++) {
        recon_entry e;
        if (!w->nodes[i].up || kv_get(w->nodes[i].s, name, len, &e) != 0) {
            absent = true;
            continue;
        }
        live |= !e.tombstone;
        if (!have_ref) {
            ref = e;
            have_ref = true;
        } else if (!same_entry(&e, &ref)) {
            differ = true;
        }
        if (differ && live)
            return false;
    }
    if (!have_ref || !absent)
        return !differ; /* (a) */
    if (differ || live)
        return false;
    /* (b): one tombstone, held or expired everywhere. */
    for (uint32_t i = 0; i < w->c->nodes; i++) {
        const kvs_node *n = &w->nodes[i];
        recon_entry e;
        if (n->up && kv_get(n->s, name, len, &e) == 0)
            continue;
        if (kv_hlc_physical(ref.version.ts) + w->c->horizon_ms > kvs_wall(w, n))
            return false;
    }
    return true;
}

bool kvs_identical(const kvs_world *w)
{
    for (uint32_t i = 0; i < w->c->nodes; i++)
        if (!w->nodes[i].up)
            return false;
    for (uint32_t key = 0; key < w->c->keys; key++)
        if (!key_identical(w, key))
            return false;
    return true;
}

uint64_t kvs_tombstones(const kvs_world *w)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < w->c->nodes; i++) {
        const kvs_node *n = &w->nodes[i];
        kv_stats st;
        if (!n->up)
            continue;
        kv_get_stats(n->s, &st);
        total += st.tombstones;
    }
    return total;
}

static bool collected_anywhere(const kvs_key *k)
{
    for (uint32_t i = 0; i < k->n_floors; i++)
        if (recon_version_cmp(k->floors[i].v, k->v) >= 0)
            return true;
    return false;
}

/* Does replica n hold what the oracle says of the key?  Sets *comeback when
 * it holds an older live value of a deleted key. */
static bool holds_winner(const kvs_key *k, const kvs_node *n, const char *name, size_t len,
                         bool *comeback)
{
    recon_entry e;
    int rc = kv_get(n->s, name, len, &e);
    if (!k->acked)
        return rc != 0;
    if (!k->tomb)
        return rc == 0 && !e.tombstone && recon_version_eq(e.version, k->v) &&
               e.value_len == k->vlen && (k->vlen == 0 || memcmp(e.value, k->value, k->vlen) == 0);
    if (rc != 0)
        return true; /* deleted, and collected or never held */
    if (!e.tombstone && recon_version_cmp(e.version, k->v) < 0)
        *comeback = true;
    return e.tombstone && recon_version_eq(e.version, k->v);
}

static int add_to_index(void *arg, const recon_entry *e)
{
    return recon_index_insert(arg, recon_key_hash(e->key, e->key_len), e->version);
}

static bool index_consistent(const kv_store *s)
{
    recon_index x;
    if (recon_index_init(&x, NULL, 0, 0) != 0)
        return false;
    bool ok = kv_each(s, NULL, 0, add_to_index, &x) == 0;
    const recon_index *have = kv_index(s);
    kv_stats st;
    kv_get_stats(s, &st);
    ok = ok && merkle_root(&have->tree) == merkle_root(&x.tree) &&
         merkle_count(&have->tree) == merkle_count(&x.tree) &&
         memcmp(have->sketch, x.sketch, sizeof x.sketch) == 0 && merkle_check(&have->tree) == 0 &&
         st.entries == merkle_count(&x.tree) && st.live + st.tombstones == st.entries;
    recon_index_free(&x);
    return ok;
}

void kvs_final_checks(kvs_world *w)
{
    kv_sim_result *r = w->r;
    r->identical = kvs_identical(w);
    r->tombstones_left = kvs_tombstones(w);
    r->collect_required = kvs_must_collect(w->c);
    for (uint32_t key = 0; key < w->c->keys; key++) {
        kvs_key *k = &w->keys[key];
        char name[16];
        size_t len;
        kvs_key_name(key, name, &len);
        bool bad = false, comeback = false;
        for (uint32_t i = 0; i < w->c->nodes; i++) {
            const kvs_node *n = &w->nodes[i];
            if (!n->up) {
                bad = true;
                continue;
            }
            bad |= !holds_winner(k, n, name, len, &comeback);
        }
        if (comeback && k->tomb && collected_anywhere(k))
            k->resurrected = true;
        if (k->resurrected)
            r->resurrected++;
        else if (bad)
            r->lost_writes++;
    }
    for (uint32_t i = 0; i < w->c->nodes; i++) {
        const kvs_node *n = &w->nodes[i];
        if (!n->up)
            continue;
        if (!index_consistent(n->s))
            r->index_mismatches++;
        kv_stats st;
        kv_get_stats(n->s, &st);
        r->expired_refused += st.expired_refused;
        if (i == 0) {
            r->live_keys = st.live;
            r->tombstones_held = st.tombstones;
        }
    }
    r->ok = r->converged && (r->collected || !r->collect_required) && r->identical &&
            r->lost_writes == 0 && r->resurrected == 0 &&
            r->index_mismatches == 0 && r->writes_failed == 0 && r->msgs_rejected == 0 &&
            r->session_msgs_rejected == 0;
}
