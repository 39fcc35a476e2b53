/*
 * recon_merkle.c -- the Merkle descent of an anti-entropy session.
 *
 * Both sides walk a virtual binary tree over the 61-bit key-hash space.  A
 * range's hash is the XOR of its entries' digests (merkle.h), so each side
 * computes any (depth, prefix) from its own tree whatever its shape.
 *
 *   LEVEL   the responder opens with all 2^l hashes at depth l, l chosen
 *           from the estimated number of differing keys: near the top
 *           nearly every range differs and a whole level costs less than
 *           descending to it.
 *   NODES   for a range that differs, the side holding more than
 *           list_threshold entries in it sends its 4 grandchild hashes:
 *           two levels per message.  Sending both children (2 hashes, one
 *           level) costs the same bytes per level but twice the messages;
 *           16 great-grandchildren would cost twice the bytes.
 *   LISTS   a side holding list_threshold or fewer entries in a differing
 *           range lists their digests (key hash, ts, writer) instead.
 *   WANTS   the receiver of a list compares it with its own entries in the
 *           range, sends the entries the lister lacks or holds older, and
 *           asks for the ones the lister holds newer.
 *   ENTRIES the entries sent, in reply to a list or to wants.
 *
 * All of these travel together in one EXCHANGE per turn.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/recon_internal.h"

void recon_sections_reset(recon_session *s)
{
    for (int i = 0; i < RECON_SEC_COUNT; i++) {
        recon_buf_reset(&s->sec[i]);
        s->sec_n[i] = 0;
    }
    s->level_depth = 0;
}

int recon_sections_emit(recon_session *s, bool *requests)
{
    bool any = false;
    for (int k = 1; k < RECON_SEC_COUNT; k++) {
        if (s->sec[k].err)
            return s->sec[k].err;
        any = any || s->sec_n[k] > 0;
    }
    if (!any) {
        recon_begin_message(&s->out, RECON_MSG_DONE);
        recon_end_message(&s->out);
        *requests = false;
        return s->out.err;
    }
    recon_begin_message(&s->out, RECON_MSG_EXCHANGE);
    for (int k = 1; k < RECON_SEC_COUNT; k++) {
        if (s->sec_n[k] == 0)
            continue;
        recon_put_u8(&s->out, (uint8_t)k);
        if (k == RECON_SEC_LEVEL)
            recon_put_u8(&s->out, (uint8_t)s->level_depth);
        else
            recon_put_varint(&s->out, s->sec_n[k]);
        recon_put_bytes(&s->out, s->sec[k].p, s->sec[k].len);
    }
    recon_end_message(&s->out);
    *requests = s->sec_n[RECON_SEC_LEVEL] || s->sec_n[RECON_SEC_NODES] ||
                s->sec_n[RECON_SEC_LISTS] || s->sec_n[RECON_SEC_WANTS];
    return s->out.err;
}

unsigned recon_merkle_first_level(double estimate, uint64_t count)
{
    double d = estimate < 1 ? 1 : estimate;
    int level = (int)ceil(log2(d));
    int finest = count < 2 ? 1 : (int)ceil(log2((double)count));
    if (level > finest)
        level = finest;
    if (level > 20)
        level = 20;
    return level < 1 ? 1 : (unsigned)level;
}

static int level_arrays(recon_session *s, unsigned depth)
{
    size_t n = (size_t)1 << depth;
    ga_free(s->alloc, s->level_h);
    ga_free(s->alloc, s->level_c);
    s->level_h = ga_malloc(s->alloc, n * sizeof *s->level_h);
    s->level_c = ga_malloc(s->alloc, n * sizeof *s->level_c);
    if (s->level_h == NULL || s->level_c == NULL)
        return GOSSIP_ERR_NOMEM;
    merkle_level(&s->store.index->tree, depth, s->level_h, s->level_c);
    return 0;
}

int recon_merkle_level(recon_session *s, unsigned depth)
{
    int rc = level_arrays(s, depth);
    if (rc != 0)
        return rc;
    recon_buf *b = &s->sec[RECON_SEC_LEVEL];
    uint8_t *p = recon_put_space(b, (size_t)8 << depth);
    if (p == NULL)
        return b->err;
    for (size_t i = 0; i < (size_t)1 << depth; i++)
        for (int j = 0; j < 8; j++)
            p[i * 8 + (size_t)j] = (uint8_t)(s->level_h[i] >> (8 * j));
    s->sec_n[RECON_SEC_LEVEL] = 1;
    s->level_depth = depth;
    return 0;
}

int recon_add_entry(recon_session *s, uint64_t khash, recon_version v)
{
    recon_entry e;
    int rc = s->store.read(s->store.ud, khash, v, &e);
    if (rc == GOSSIP_ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    recon_put_entry(&s->sec[RECON_SEC_ENTRIES], &e);
    s->sec_n[RECON_SEC_ENTRIES]++;
    s->stats.entries_sent++;
    return 0;
}

static void list_visit(void *arg, const merkle_rec *r)
{
    recon_buf *b = arg;
    recon_put_u64(b, r->khash);
    recon_put_u64(b, r->version.ts);
    recon_put_u64(b, r->version.writer);
}

/* A range that differs: list it or descend, from what we hold in it. */
static void add_diff(recon_session *s, unsigned depth, uint64_t prefix, uint64_t own_count)
{
    const merkle_tree *t = &s->store.index->tree;
    if (own_count <= s->cfg.list_threshold || depth >= RECON_KHASH_BITS) {
        recon_buf *b = &s->sec[RECON_SEC_LISTS];
        recon_put_u8(b, (uint8_t)depth);
        recon_put_varint(b, prefix);
        recon_put_varint(b, own_count);
        merkle_range_each(t, depth, prefix, list_visit, b);
        s->sec_n[RECON_SEC_LISTS]++;
        return;
    }
    unsigned step = RECON_KHASH_BITS - depth < RECON_NODE_STEP ? RECON_KHASH_BITS - depth
                                                               : RECON_NODE_STEP;
    recon_buf *b = &s->sec[RECON_SEC_NODES];
    recon_put_u8(b, (uint8_t)depth);
    recon_put_varint(b, prefix);
    for (uint64_t c = 0; c < (UINT64_C(1) << step); c++) {
        uint64_t h, n;
        merkle_range_hash(t, depth + step, prefix << step | c, &h, &n);
        recon_put_u64(b, h);
    }
    s->sec_n[RECON_SEC_NODES]++;
}

static int answer_level(recon_session *s, recon_reader *r, unsigned depth)
{
    int rc = level_arrays(s, depth);
    if (rc != 0)
        return rc;
    for (uint64_t p = 0; p < (UINT64_C(1) << depth); p++)
        if (recon_get_u64(r) != s->level_h[p])
            add_diff(s, depth, p, s->level_c[p]);
    return 0;
}

static void answer_nodes(recon_session *s, recon_reader *r, uint64_t groups)
{
    const merkle_tree *t = &s->store.index->tree;
    for (uint64_t g = 0; g < groups; g++) {
        unsigned depth = recon_get_u8(r);
        uint64_t prefix = recon_get_varint(r);
        unsigned step = RECON_KHASH_BITS - depth < RECON_NODE_STEP ? RECON_KHASH_BITS - depth
                                                                   : RECON_NODE_STEP;
        for (uint64_t c = 0; c < (UINT64_C(1) << step); c++) {
            uint64_t theirs = recon_get_u64(r), h, n;
            uint64_t child = prefix << step | c;
            merkle_range_hash(t, depth + step, child, &h, &n);
            if (h != theirs)
                add_diff(s, depth + step, child, n);
        }
    }
}

static int rec_cmp(const void *pa, const void *pb)
{
    const merkle_rec *a = pa, *b = pb;
    if (a->khash != b->khash)
        return a->khash < b->khash ? -1 : 1;
    return recon_version_cmp(a->version, b->version);
}

/* Never leaves *p NULL, so that empty groups still point somewhere. */
static int reserve(recon_session *s, merkle_rec **p, size_t *cap, size_t want)
{
    if (*p != NULL && want <= *cap)
        return 0;
    size_t c = *cap < 64 ? 64 : *cap;
    while (c < want)
        c *= 2;
    merkle_rec *q = ga_realloc(s->alloc, *p, c * sizeof *q);
    if (q == NULL)
        return GOSSIP_ERR_NOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static void collect_visit(void *arg, const merkle_rec *r)
{
    recon_session *s = arg;
    if (s->mine_n < s->mine_cap)
        s->mine[s->mine_n++] = *r;
}

static bool holds(const merkle_rec *group, size_t n, recon_version v)
{
    for (size_t i = 0; i < n; i++)
        if (recon_version_eq(group[i].version, v))
            return true;
    return false;
}

/* Compares one listed range with ours: for each key hash, an entry goes to
 * the lister unless it holds that version or a newer one; we ask for the
 * key unless we hold its version or a newer one.  (Records are sorted by
 * version within a key hash, so a group's last is its newest.) */
static int compare_group(recon_session *s, const merkle_rec *m, size_t nm, const merkle_rec *t,
                         size_t nt)
{
    for (size_t i = 0; i < nm; i++) {
        if (holds(t, nt, m[i].version))
            continue;
        if (nt > 0 && recon_version_cmp(t[nt - 1].version, m[i].version) > 0)
            continue;
        int rc = recon_add_entry(s, m[i].khash, m[i].version);
        if (rc != 0)
            return rc;
    }
    for (size_t j = 0; j < nt; j++) {
        if (holds(m, nm, t[j].version))
            continue;
        if (nm > 0 && recon_version_cmp(m[nm - 1].version, t[j].version) > 0)
            continue;
        recon_put_u64(&s->sec[RECON_SEC_WANTS], t[j].khash);
        s->sec_n[RECON_SEC_WANTS]++;
        break; /* one want brings every version we lack under the key hash */
    }
    return 0;
}

static int answer_list(recon_session *s, recon_reader *r)
{
    const merkle_tree *t = &s->store.index->tree;
    unsigned depth = recon_get_u8(r);
    uint64_t prefix = recon_get_varint(r);
    uint64_t n = recon_get_varint(r);
    if (reserve(s, &s->theirs, &s->theirs_cap, (size_t)n) != 0)
        return GOSSIP_ERR_NOMEM;
    for (uint64_t i = 0; i < n; i++) {
        s->theirs[i].khash = recon_get_u64(r);
        s->theirs[i].version.ts = recon_get_u64(r);
        s->theirs[i].version.writer = recon_get_u64(r);
    }
    s->theirs_n = (size_t)n;
    uint64_t h, own;
    merkle_range_hash(t, depth, prefix, &h, &own);
    if (reserve(s, &s->mine, &s->mine_cap, (size_t)own) != 0)
        return GOSSIP_ERR_NOMEM;
    s->mine_n = 0;
    merkle_range_each(t, depth, prefix, collect_visit, s);
    if (s->mine_n > 1)
        qsort(s->mine, s->mine_n, sizeof *s->mine, rec_cmp);
    if (s->theirs_n > 1)
        qsort(s->theirs, s->theirs_n, sizeof *s->theirs, rec_cmp);
    size_t i = 0, j = 0;
    while (i < s->mine_n || j < s->theirs_n) {
        uint64_t k;
        if (j >= s->theirs_n || (i < s->mine_n && s->mine[i].khash < s->theirs[j].khash))
            k = s->mine[i].khash;
        else
            k = s->theirs[j].khash;
        size_t i2 = i, j2 = j;
        while (i2 < s->mine_n && s->mine[i2].khash == k)
            i2++;
        while (j2 < s->theirs_n && s->theirs[j2].khash == k)
            j2++;
        int rc = compare_group(s, s->mine + i, i2 - i, s->theirs + j, j2 - j);
        if (rc != 0)
            return rc;
        i = i2;
        j = j2;
    }
    return 0;
}

static int answer_wants(recon_session *s, recon_reader *r, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t khash = recon_get_u64(r);
        recon_version v[4];
        size_t found = merkle_find(&s->store.index->tree, khash, v, 4);
        for (size_t j = 0; j < found && j < 4; j++) {
            int rc = recon_add_entry(s, khash, v[j]);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int recon_merkle_answer(recon_session *s, const recon_msg *m)
{
    recon_reader r;
    recon_reader_init(&r, m->body, m->body_len);
    int rc = 0;
    if (m->has[RECON_SEC_LEVEL]) {
        r.off = m->at[RECON_SEC_LEVEL];
        rc = answer_level(s, &r, m->level_depth);
    }
    if (rc == 0 && m->has[RECON_SEC_NODES]) {
        r.off = m->at[RECON_SEC_NODES];
        answer_nodes(s, &r, m->n[RECON_SEC_NODES]);
    }
    if (rc == 0 && m->has[RECON_SEC_LISTS]) {
        r.off = m->at[RECON_SEC_LISTS];
        for (uint64_t i = 0; i < m->n[RECON_SEC_LISTS] && rc == 0; i++)
            rc = answer_list(s, &r);
    }
    if (rc == 0 && m->has[RECON_SEC_WANTS]) {
        r.off = m->at[RECON_SEC_WANTS];
        rc = answer_wants(s, &r, m->n[RECON_SEC_WANTS]);
    }
    if (rc == 0 && r.err)
        rc = r.err; /* cannot happen: recon_parse checked the message */
    for (int k = 1; k < RECON_SEC_COUNT && rc == 0; k++)
        rc = s->sec[k].err;
    return rc;
}

/* Bytes the descent is expected to add to the entries: the opening level,
 * then per differing key a NODES group every two levels down to where a
 * range holds list_threshold entries, a list, and half a want.  Calibrated
 * against gossip-sim antientropy (docs/anti-entropy.md). */
uint64_t recon_predict_merkle(const recon_session *s, double estimate, uint64_t count)
{
    double d = estimate < 1 ? 1 : estimate;
    unsigned level = recon_merkle_first_level(estimate, count);
    double per_range = (double)count / d; /* entries per differing key's range */
    double leaf = s->cfg.list_threshold < 1 ? 1 : s->cfg.list_threshold;
    double levels = per_range > leaf ? log2(per_range / leaf) : 0;
    double group = 1 + recon_varint_size((uint64_t)1 << (level + (unsigned)levels)) + 32;
    double bytes = 8.0 * (double)((uint64_t)1 << level) +
                   d * (ceil(levels / 2) * group + 3 + 24 * (leaf + 1) / 2 + 4);
    double round_trips = 2 + ceil(levels / 2);
    return (uint64_t)(bytes + s->cfg.rtt_bytes * round_trips);
}
