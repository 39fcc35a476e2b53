/* kv_agent.c -- the key-value store inside gossipd (kv_agent.h): rumor
 * mongering of writes, anti-entropy sessions over TCP, the log in the data
 * dir with its compaction, and tombstone collection.  docs/kv.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/kv_agent.h"
#include "core/hash.h"
#include "core/kv_wire.h"
#include "core/recon_wire.h" /* the DONE that acknowledges a session's last message */

#define KV_TICK_MS 50              /* the timer: rumor rounds, chunks, deadlines */
#define KV_MAX_HOT 4096            /* rumors spreading at once; the oldest goes beyond */
#define KV_MAX_ROUNDS 40           /* a rumor nobody acknowledges stops after this many */
#define KV_MAX_SESSIONS 4          /* sessions at once, both roles */
#define KV_MAX_MESSAGE (64u << 20) /* an anti-entropy message, reassembled */
#define KV_MAX_CHUNK (256u << 10)  /* bytes of a session message per frame */
#define KV_SYNC_MS 1000            /* received entries reach the disk within this */
#define KV_GC_MS 1000              /* tombstone collection runs this often */
#define KV_COMPACT_MIN (64u << 10) /* the log is compacted past this size ... */
#define KV_COMPACT_RATIO 2         /* ... when it is this many times the live data */
#define KV_MAX_PEERS_SYNCED 4096   /* remembered session times */

typedef struct kv_hot {
    uint8_t *key;
    uint32_t klen;
    uint64_t khash;
    recon_version v;
    uint32_t knew, rounds;
    uint64_t due_ms;
} kv_hot;

typedef struct kv_sess {
    bool used;
    bool initiator;
    bool done; /* recon is done; finished once the last message is out */
    bool sent_last; /* our reply ended the session: the peer may not have it */
    bool wait_ack;  /* ... so it counts only when the peer's DONE comes */
    uint64_t sid;
    char peer[GOSSIP_MAX_ADDR + 1];
    recon_session *rs;
    uint64_t started_wall;
    uint64_t last_ms;
    uint8_t *in;
    uint32_t in_total, in_have, in_cap;
    uint8_t *out;
    uint32_t out_len, out_sent, out_cap;
} kv_sess;

typedef struct kv_synced {
    char addr[GOSSIP_MAX_ADDR + 1];
    uint64_t wall_ms;  /* start of the last session completed with it */
    uint64_t tried_ms; /* start of the last session we opened with it */
} kv_synced;

typedef struct agent_kv_stats {
    uint64_t rumor_frames_sent, rumor_entries_sent, rumor_entries_received, rumor_entries_new;
    uint64_t rumor_feedback_knew, rumors_dropped, rumors_unacked;
    uint64_t sessions_started, sessions_accepted, sessions_refused, sessions_completed;
    uint64_t sessions_failed, sessions_timed_out, sessions_equal, sessions_merkle;
    uint64_t sessions_iblt, sessions_fell_back;
    uint64_t sessions_acked, sessions_unacked, sessions_stale;
    uint64_t session_bytes_sent, session_bytes_received, session_entries_sent;
    uint64_t session_entries_received, session_messages_rejected;
    uint64_t msgs_rejected, frames_dropped;
    uint64_t log_bytes, log_records_loaded, log_errors, log_truncated_bytes, log_write_errors;
    uint64_t log_syncs, compactions, gc_runs;
} agent_kv_stats;

typedef struct agent_kv {
    agent *a;
    kv_store *s;
    uv_timer_t timer;
    uv_async_t async;
    bool handles_open;
    uint64_t rng;
    /* the log */
    char path[AGENT_MAX_PATH + 32];
    int fd;
    recon_buf logbuf;   /* records not yet written */
    bool dirty;         /* written, not yet synced */
    bool sync_busy;     /* a periodic sync is on the thread pool */
    bool from_rumor;    /* the entries being merged came in a rumor */
    /* rumors */
    kv_hot *hot;
    size_t n_hot, cap_hot;
    /* sessions */
    kv_sess sess[KV_MAX_SESSIONS];
    kv_synced *synced;
    size_t n_synced, cap_synced;
    char last_method[8];
    uint64_t next_ae_ms, next_gc_ms, next_sync_ms;
    recon_buf scratch;
    agent_kv_stats st;
} agent_kv;

static agent_kv the_kv; /* gossipd runs one agent per process (agent_run's static agent) */

static agent_kv *kv_of(const agent *a) { return the_kv.a == a && the_kv.s ? &the_kv : NULL; }

static uint64_t rnd(agent_kv *k)
{
    uint64_t x = k->rng; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    k->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t below(agent_kv *k, uint64_t n) { return n ? rnd(k) % n : 0; }

static const char *method_name(recon_method m) { return m ? recon_method_name(m) : "equal"; }

/* ---- the log -------------------------------------------------------------------- */

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* false: the records buffered could not be written (counted, logged once). */
static bool log_flush(agent_kv *k)
{
    if (k->logbuf.len == 0)
        return true;
    bool ok = k->fd >= 0 && !k->logbuf.err && write_all(k->fd, k->logbuf.p, k->logbuf.len);
    if (!ok) {
        if (k->st.log_write_errors++ == 0)
            agent_log(k->a, GOSSIP_LOG_ERROR, "msg=\"kv log write failed\" path=%s err=\"%s\"",
                      k->path, k->logbuf.err ? "out of memory" : strerror(errno));
    } else {
        k->st.log_bytes += k->logbuf.len;
        k->dirty = true;
    }
    recon_buf_reset(&k->logbuf);
    return ok;
}

static void log_sync(agent_kv *k)
{
    log_flush(k);
    /* A background sync may still be running for what was written before:
     * whoever waits for this one must not count on that one. */
    if ((k->dirty || k->sync_busy) && k->fd >= 0) {
        if (fdatasync(k->fd) != 0)
            k->st.log_write_errors++;
        k->st.log_syncs++;
        k->dirty = false;
    }
}

/* The periodic sync of received entries runs on libuv's thread pool, on a
 * duplicate of the log's descriptor, so a slow disk does not hold up the
 * loop (probes answered late are suspicions).  The syncs that something
 * waits for -- before a session counts, at close -- stay synchronous. */
typedef struct sync_job {
    uv_work_t req;
    agent_kv *k;
    int fd, rc;
} sync_job;

static void sync_work(uv_work_t *w)
{
    sync_job *j = w->data;
    j->rc = fdatasync(j->fd);
    close(j->fd);
}

static void sync_done(uv_work_t *w, int status)
{
    sync_job *j = w->data;
    agent_kv *k = j->k;
    agent_lock(k->a);
    k->sync_busy = false;
    k->st.log_syncs++;
    if (status != 0 || j->rc != 0) {
        k->st.log_write_errors++;
        k->dirty = true; /* not on disk: the next sync tries again */
    }
    agent_unlock(k->a);
    free(j);
}

static void log_sync_async(agent_kv *k)
{
    log_flush(k);
    if (!k->dirty || k->fd < 0 || k->sync_busy)
        return;
    sync_job *j = malloc(sizeof *j);
    int fd = j ? dup(k->fd) : -1;
    if (fd < 0) {
        free(j);
        log_sync(k); /* no job or descriptor to spare: here, then */
        return;
    }
    j->req.data = j;
    j->k = k;
    j->fd = fd;
    j->rc = 0;
    if (uv_queue_work(&k->a->loop, &j->req, sync_work, sync_done) != 0) {
        close(fd);
        free(j);
        log_sync(k);
        return;
    }
    k->sync_busy = true;
    k->dirty = false;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

typedef struct loader {
    agent_kv *k;
    uint64_t now;
} loader;

static int load_one(void *arg, const recon_entry *e)
{
    loader *l = arg;
    if (kv_load(l->k->s, e, l->now) < 0)
        l->k->st.log_errors++; /* over this run's limits, or full: left out */
    return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return -1;
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *out = p;
    *len = got;
    return 0;
}

/* Loads DIR/kv.log into the store and leaves k->fd open for appending. */
static int log_open(agent_kv *k, char *err, size_t err_len)
{
    agent *a = k->a;
    snprintf(k->path, sizeof k->path, "%s/%s", a->cfg.data_dir, KV_LOG_FILE);
    uint8_t *img;
    size_t len;
    int rc = read_file(k->path, &img, &len);
    if (rc < 0) {
        snprintf(err, err_len, "cannot read %s: %s", k->path, strerror(errno));
        return -1;
    }
    size_t valid = 0;
    bool fresh = rc == 1;
    if (!fresh) {
        loader l = {k, agent_wall_ms()};
        uint64_t records = 0;
        int end = kv_log_scan(img, len, a->cfg.kv_max_key, a->cfg.kv_max_value, load_one, &l,
                              &valid, &records);
        k->st.log_records_loaded = records;
        if (end == KV_LOG_BAD_HEADER || (end == KV_LOG_TORN && valid == 0 && len > 0)) {
            char aside[sizeof k->path + 16];
            snprintf(aside, sizeof aside, "%s.corrupt", k->path);
            k->st.log_errors++;
            agent_log(a, GOSSIP_LOG_WARN,
                      "msg=\"kv log is not a log; moved aside, starting empty\" path=%s moved_to=%s",
                      k->path, aside);
            if (rename(k->path, aside) != 0) {
                snprintf(err, err_len, "cannot move %s aside: %s", k->path, strerror(errno));
                free(img);
                return -1;
            }
            fresh = true;
        } else if (end != KV_LOG_CLEAN) {
            k->st.log_errors++;
            k->st.log_truncated_bytes += len - valid;
            agent_log(a, GOSSIP_LOG_WARN,
                      "msg=\"kv log tail %s; cut off, the rest loaded\" path=%s records=%" PRIu64
                      " kept_bytes=%zu dropped_bytes=%zu",
                      kv_log_end_name(end), k->path, records, valid, len - valid);
        }
    }
    free(img);
    if (fresh || valid == 0) {
        k->fd = open(k->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        recon_buf hdr;
        recon_buf_init(&hdr, NULL);
        kv_log_put_header(&hdr);
        bool ok = k->fd >= 0 && !hdr.err && write_all(k->fd, hdr.p, hdr.len) && fsync(k->fd) == 0;
        recon_buf_free(&hdr);
        if (!ok) {
            snprintf(err, err_len, "cannot create %s: %s", k->path, strerror(errno));
            return -1;
        }
        sync_dir(a->cfg.data_dir);
        k->st.log_bytes = KV_LOG_HEADER;
        close(k->fd);
    } else {
        if (valid < len && truncate(k->path, (off_t)valid) != 0) {
            snprintf(err, err_len, "cannot cut the damaged tail of %s: %s", k->path,
                     strerror(errno));
            return -1;
        }
        k->st.log_bytes = valid;
    }
    k->fd = open(k->path, O_WRONLY | O_APPEND);
    if (k->fd < 0 || (valid < len && !fresh && fsync(k->fd) != 0)) {
        snprintf(err, err_len, "cannot open %s: %s", k->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int log_entry(void *arg, const recon_entry *e)
{
    kv_log_put_record(arg, e);
    return 0;
}

/* Rewrites the log from the store: temp file, fsync, rename, fsync of the
 * directory.  A failure leaves the old log in use. */
static void compact(agent_kv *k)
{
    log_flush(k);
    char tmp[sizeof k->path + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", k->path);
    recon_buf b;
    recon_buf_init(&b, NULL);
    kv_log_put_header(&b);
    kv_each(k->s, NULL, 0, log_entry, &b);
    int fd = b.err ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    bool ok = fd >= 0 && write_all(fd, b.p, b.len) && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (ok)
        ok = rename(tmp, k->path) == 0;
    if (!ok) {
        unlink(tmp);
        k->st.log_write_errors++;
        agent_log(k->a, GOSSIP_LOG_ERROR, "msg=\"kv log compaction failed\" path=%s err=\"%s\"",
                  k->path, strerror(errno));
        recon_buf_free(&b);
        return;
    }
    sync_dir(k->a->cfg.data_dir);
    int nfd = open(k->path, O_WRONLY | O_APPEND);
    if (nfd >= 0) {
        if (k->fd >= 0)
            close(k->fd);
        k->fd = nfd;
    }
    agent_log(k->a, GOSSIP_LOG_DEBUG, "msg=\"kv log compacted\" from_bytes=%" PRIu64 " to_bytes=%zu",
              k->st.log_bytes, b.len);
    k->st.log_bytes = b.len;
    k->st.compactions++;
    k->dirty = false;
    recon_buf_free(&b);
}

static void maybe_compact(agent_kv *k)
{
    kv_stats st;
    kv_get_stats(k->s, &st);
    uint64_t need = st.bytes + st.entries * 32 + KV_LOG_HEADER;
    if (k->st.log_bytes > KV_COMPACT_MIN && k->st.log_bytes > KV_COMPACT_RATIO * need)
        compact(k);
}

/* ---- rumors ------------------------------------------------------------------- */

static kv_hot *find_hot(agent_kv *k, uint64_t khash, const uint8_t *key, uint32_t klen)
{
    for (size_t i = 0; i < k->n_hot; i++) {
        kv_hot *h = &k->hot[i];
        if (h->khash == khash && h->klen == klen && (!key || memcmp(h->key, key, klen) == 0))
            return h;
    }
    return NULL;
}

static void drop_hot(agent_kv *k, size_t i)
{
    free(k->hot[i].key);
    k->hot[i] = k->hot[--k->n_hot];
}

static void make_hot(agent_kv *k, const recon_entry *e)
{
    if (k->a->cfg.kv_rumor_fanout == 0)
        return;
    uint64_t khash = recon_key_hash(e->key, e->key_len);
    kv_hot *h = find_hot(k, khash, e->key, e->key_len);
    if (!h) {
        if (k->n_hot == KV_MAX_HOT) {
            size_t oldest = 0;
            for (size_t i = 1; i < k->n_hot; i++)
                if (k->hot[i].due_ms < k->hot[oldest].due_ms)
                    oldest = i;
            drop_hot(k, oldest);
            k->st.rumors_dropped++;
        }
        if (k->n_hot == k->cap_hot) {
            size_t cap = k->cap_hot ? k->cap_hot * 2 : 64;
            kv_hot *p = realloc(k->hot, cap * sizeof *p);
            if (!p)
                return;
            k->hot = p;
            k->cap_hot = cap;
        }
        uint8_t *key = malloc(e->key_len);
        if (!key)
            return;
        memcpy(key, e->key, e->key_len);
        h = &k->hot[k->n_hot++];
        *h = (kv_hot){key, e->key_len, khash, e->version, 0, 0, 0};
    }
    h->v = e->version;
    h->knew = h->rounds = 0;
    h->due_ms = 0; /* at once */
}

static void on_change(void *ud, const kv_change *c)
{
    agent_kv *k = ud;
    if (c->cause == KV_LOCAL || c->cause == KV_REMOTE)
        kv_log_put_record(&k->logbuf, c->entry);
    if (c->cause == KV_LOCAL || (c->cause == KV_REMOTE && k->from_rumor))
        make_hot(k, c->entry); /* forwarded on first receipt; anti-entropy's are not */
}

/* Alive members other than this one (addresses copied out), at most max. */
static size_t alive_peers(agent_kv *k, char (*out)[GOSSIP_MAX_ADDR + 1], size_t max,
                          bool suspects_too)
{
    gossip_node *node = k->a->node;
    size_t n = gossip_node_member_count(node), got = 0;
    for (size_t i = 0; i < n && got < max; i++) {
        gossip_member_info mi;
        if (gossip_node_member_at(node, i, &mi) != 0 || mi.is_self || !mi.addr || !mi.addr[0])
            continue;
        if (mi.status == GOSSIP_STATUS_ALIVE ||
            (suspects_too && mi.status == GOSSIP_STATUS_SUSPECT))
            snprintf(out[got++], GOSSIP_MAX_ADDR + 1, "%s", mi.addr);
    }
    return got;
}

static size_t frame_room(const agent_kv *k)
{
    size_t max = k->a->cfg.tcp_max_frame;
    size_t over = 2 + strlen(k->a->advertise);
    return max > over ? max - over : 0;
}

static bool send_frame(agent_kv *k, const char *addr, const uint8_t *p, size_t len)
{
    if (!k->handles_open)
        return false;
    bool ok = transport_send_frame(&k->a->net, addr, AGENT_FRAME_KV, p, len);
    if (!ok)
        k->st.frames_dropped++;
    return ok;
}

/* One rumor round: every due rumor to kv_rumor_fanout random alive members,
 * batched per member into as few frames as fit. */
static void push_rumors(agent_kv *k, uint64_t now)
{
    size_t due = 0;
    for (size_t i = 0; i < k->n_hot; i++)
        due += k->hot[i].due_ms <= now;
    if (due == 0)
        return;
    size_t cap = gossip_node_member_count(k->a->node);
    char (*peers)[GOSSIP_MAX_ADDR + 1] = malloc((cap ? cap : 1) * sizeof *peers);
    if (!peers)
        return;
    size_t n = alive_peers(k, peers, cap, false);
    size_t fanout = k->a->cfg.kv_rumor_fanout;
    if (fanout > n)
        fanout = n;
    for (size_t i = 0; i < fanout; i++) { /* a random fanout-subset at the front */
        size_t j = i + below(k, n - i);
        char tmp[GOSSIP_MAX_ADDR + 1];
        memcpy(tmp, peers[i], sizeof tmp);
        memcpy(peers[i], peers[j], sizeof tmp);
        memcpy(peers[j], tmp, sizeof tmp);
    }
    size_t room = frame_room(k);
    recon_buf *b = &k->scratch;
    for (size_t p = 0; p < fanout; p++) {
        recon_buf_reset(b);
        size_t in_msg = 0;
        for (size_t i = 0; i < k->n_hot; i++) {
            kv_hot *h = &k->hot[i];
            recon_entry e;
            if (h->due_ms > now || kv_get(k->s, h->key, h->klen, &e) != 0)
                continue;
            size_t sz = recon_entry_size(&e);
            if (KV_MSG_HEADER + sz > room)
                continue; /* too large for a frame: anti-entropy carries it */
            if (in_msg && b->len + sz > room) {
                if (send_frame(k, peers[p], b->p, b->len))
                    k->st.rumor_frames_sent++;
                recon_buf_reset(b);
                in_msg = 0;
            }
            if (in_msg == 0)
                kv_msg_begin(b, KV_MSG_RUMOR);
            recon_put_entry(b, &e);
            in_msg++;
            k->st.rumor_entries_sent++;
        }
        if (in_msg && !b->err && send_frame(k, peers[p], b->p, b->len))
            k->st.rumor_frames_sent++;
    }
    free(peers);
    uint32_t interval = k->a->cfg.gossip_interval_ms;
    for (size_t i = 0; i < k->n_hot;) {
        kv_hot *h = &k->hot[i];
        recon_entry e;
        if (h->due_ms <= now) {
            bool gone = kv_get(k->s, h->key, h->klen, &e) != 0;
            if (!gone && fanout > 0)
                h->rounds++;
            h->due_ms = now + interval;
            if (gone || h->rounds >= KV_MAX_ROUNDS) {
                k->st.rumors_unacked += !gone;
                drop_hot(k, i);
                continue;
            }
        }
        i++;
    }
}

static void on_rumor(agent_kv *k, const char *from, const kv_msg *m)
{
    uint64_t now = agent_wall_ms();
    recon_buf *b = &k->scratch;
    recon_buf_reset(b);
    kv_msg_begin(b, KV_MSG_FEEDBACK);
    size_t off = 0;
    k->from_rumor = true;
    for (uint64_t i = 0; i < m->n; i++) {
        recon_entry e;
        kv_msg_entry(m, &off, &e);
        int rc = kv_merge(k->s, &e, now);
        k->st.rumor_entries_received++;
        k->st.rumor_entries_new += rc == 1;
        /* "knew" when it brought nothing new; a refused entry counts as
         * knew too: pushing it again would not help. */
        kv_feedback f = {recon_key_hash(e.key, e.key_len), e.version, rc != 1};
        kv_msg_put_feedback(b, &f);
    }
    k->from_rumor = false;
    log_flush(k);
    if (!b->err)
        send_frame(k, from, b->p, b->len);
    if (k->n_hot)
        push_rumors(k, agent_now_ms(k->a)); /* forward at once */
}

static void on_feedback(agent_kv *k, const kv_msg *m)
{
    size_t off = 0;
    for (uint64_t i = 0; i < m->n; i++) {
        kv_feedback f;
        kv_msg_feedback(m, &off, &f);
        if (!f.knew)
            continue;
        k->st.rumor_feedback_knew++;
        for (size_t j = 0; j < k->n_hot; j++) {
            kv_hot *h = &k->hot[j];
            if (h->khash != f.khash || !recon_version_eq(h->v, f.v))
                continue;
            if (++h->knew >= k->a->cfg.kv_rumor_k)
                drop_hot(k, j);
            break;
        }
    }
}

/* ---- anti-entropy sessions ------------------------------------------------------ */

/* The session record of a peer, added when absent (NULL when out of memory). */
static kv_synced *synced_slot(agent_kv *k, const char *addr)
{
    for (size_t i = 0; i < k->n_synced; i++)
        if (strcmp(k->synced[i].addr, addr) == 0)
            return &k->synced[i];
    if (k->n_synced == KV_MAX_PEERS_SYNCED)
        k->n_synced = 0; /* start over: collection waits for fresh sessions */
    if (k->n_synced == k->cap_synced) {
        size_t cap = k->cap_synced ? k->cap_synced * 2 : 16;
        kv_synced *p = realloc(k->synced, cap * sizeof *p);
        if (!p)
            return NULL;
        k->synced = p;
        k->cap_synced = cap;
    }
    kv_synced *s = &k->synced[k->n_synced++];
    memset(s, 0, sizeof *s);
    snprintf(s->addr, sizeof s->addr, "%s", addr);
    return s;
}

static void synced_set(agent_kv *k, const char *addr, uint64_t wall)
{
    kv_synced *s = synced_slot(k, addr);
    if (s && wall > s->wall_ms)
        s->wall_ms = wall;
}

static const kv_synced *synced_find(const agent_kv *k, const char *addr)
{
    for (size_t i = 0; i < k->n_synced; i++)
        if (strcmp(k->synced[i].addr, addr) == 0)
            return &k->synced[i];
    return NULL;
}

static uint64_t synced_get(const agent_kv *k, const char *addr)
{
    const kv_synced *s = synced_find(k, addr);
    return s ? s->wall_ms : 0;
}

/* When we last met this peer or tried to: the order of the round robin. */
static uint64_t synced_turn(const agent_kv *k, const char *addr)
{
    const kv_synced *s = synced_find(k, addr);
    return !s ? 0 : s->wall_ms > s->tried_ms ? s->wall_ms : s->tried_ms;
}

static void sess_free(kv_sess *s)
{
    recon_session_free(s->rs);
    free(s->in);
    free(s->out);
    memset(s, 0, sizeof *s);
}

/* The session counts for tombstone collection (safe_time) only once both
 * sides are known to hold what it carried.  The side that received the
 * last message knows; it syncs, counts, and tells the other with a recon
 * DONE.  The side that sent the last message waits for that DONE: a lost
 * last message must not count, or this side could collect a tombstone the
 * peer never got and the peer's older value would come back (found by
 * `gossip-sim kv`: --nodes 2 --loss 0.3 --seed 3, before this rule). */
static void sess_counted(agent_kv *k, kv_sess *s)
{
    synced_set(k, s->peer, s->started_wall);
    sess_free(s);
}

static void send_done(agent_kv *k, kv_sess *s)
{
    recon_buf done;
    recon_buf_init(&done, NULL);
    recon_begin_message(&done, RECON_MSG_DONE);
    recon_end_message(&done);
    recon_buf *b = &k->scratch;
    recon_buf_reset(b);
    if (!done.err)
        kv_msg_session(b, s->sid, s->initiator ? KV_SESSION_FROM_INITIATOR : 0,
                       (uint32_t)done.len, 0, done.p, done.len);
    if (!done.err && !b->err)
        send_frame(k, s->peer, b->p, b->len);
    recon_buf_free(&done);
}

static bool is_recon_msg(const uint8_t *p, size_t len, uint8_t type)
{
    return len >= RECON_HEADER_BYTES && p[0] == RECON_MAGIC0 && p[1] == RECON_MAGIC1 &&
           p[2] == RECON_WIRE_VERSION && p[3] == type;
}

static void sess_finish(agent_kv *k, kv_sess *s)
{
    const recon_stats *rs = recon_session_stats(s->rs);
    k->st.sessions_completed++;
    k->st.sessions_equal += rs->method == 0;
    k->st.sessions_merkle += rs->method == RECON_MERKLE;
    k->st.sessions_iblt += rs->method == RECON_IBLT;
    k->st.sessions_fell_back += rs->fell_back;
    k->st.session_bytes_sent += rs->bytes_sent;
    k->st.session_bytes_received += rs->bytes_received;
    k->st.session_entries_sent += rs->entries_sent;
    k->st.session_entries_received += rs->entries_received;
    k->st.session_messages_rejected += rs->rejected;
    snprintf(k->last_method, sizeof k->last_method, "%s", method_name(rs->method));
    log_sync(k); /* what the peer sent is on disk before the session counts */
    agent_log(k->a, GOSSIP_LOG_DEBUG,
              "msg=\"kv session done\" peer=%s role=%s method=%s bytes_sent=%" PRIu64
              " bytes_received=%" PRIu64 " entries_sent=%" PRIu64 " entries_received=%" PRIu64,
              s->peer, s->initiator ? "initiator" : "responder", method_name(rs->method),
              rs->bytes_sent, rs->bytes_received, rs->entries_sent, rs->entries_received);
    if (s->sent_last) {
        s->wait_ack = true; /* counted when the peer's DONE comes (sessions_tick bounds it) */
        s->last_ms = agent_now_ms(k->a);
        return;
    }
    send_done(k, s);
    sess_counted(k, s);
}

static void sess_abort(agent_kv *k, kv_sess *s, const char *why, bool tell_peer)
{
    if (tell_peer) {
        recon_buf *b = &k->scratch;
        recon_buf_reset(b);
        kv_msg_session(b, s->sid,
                       (s->initiator ? KV_SESSION_FROM_INITIATOR : 0) | KV_SESSION_ABORT, 0, 0,
                       NULL, 0);
        if (!b->err)
            send_frame(k, s->peer, b->p, b->len);
    }
    k->st.sessions_failed++;
    agent_log(k->a, GOSSIP_LOG_DEBUG, "msg=\"kv session failed\" peer=%s role=%s reason=\"%s\"",
              s->peer, s->initiator ? "initiator" : "responder", why);
    log_flush(k);
    sess_free(s);
}

/* Sends what the transport takes of s->out; the rest on the next tick. */
static void sess_pump(agent_kv *k, kv_sess *s)
{
    size_t room = frame_room(k);
    size_t chunk_max = room > KV_SESSION_HEADER ? room - KV_SESSION_HEADER : 0;
    if (chunk_max > KV_MAX_CHUNK)
        chunk_max = KV_MAX_CHUNK;
    if (chunk_max == 0) {
        sess_abort(k, s, "tcp_max_frame too small for a session chunk", false);
        return;
    }
    recon_buf *b = &k->scratch;
    while (s->out_sent < s->out_len) {
        size_t n = s->out_len - s->out_sent;
        if (n > chunk_max)
            n = chunk_max;
        recon_buf_reset(b);
        kv_msg_session(b, s->sid, s->initiator ? KV_SESSION_FROM_INITIATOR : 0, s->out_len,
                       s->out_sent, s->out + s->out_sent, n);
        if (b->err || !transport_send_frame(&k->a->net, s->peer, AGENT_FRAME_KV, b->p, b->len))
            return; /* queue full or no connection yet: try again on the next tick */
        s->out_sent += (uint32_t)n;
        s->last_ms = agent_now_ms(k->a);
    }
    if (s->done)
        sess_finish(k, s);
}

static int sess_queue(kv_sess *s, const uint8_t *msg, size_t len)
{
    if (len > KV_MAX_MESSAGE)
        return GOSSIP_ERR_OVERSIZE;
    if (len > s->out_cap) {
        uint8_t *p = realloc(s->out, len);
        if (!p)
            return GOSSIP_ERR_NOMEM;
        s->out = p;
        s->out_cap = (uint32_t)len;
    }
    memcpy(s->out, msg, len);
    s->out_len = (uint32_t)len;
    s->out_sent = 0;
    return 0;
}

static recon_config session_config(const agent_kv *k)
{
    recon_config c;
    recon_config_default(&c);
    c.method = RECON_AUTO;
    c.max_message = KV_MAX_MESSAGE;
    c.max_key = k->a->cfg.kv_max_key;
    c.max_value = k->a->cfg.kv_max_value;
    return c;
}

static kv_sess *sess_slot(agent_kv *k)
{
    for (size_t i = 0; i < KV_MAX_SESSIONS; i++)
        if (!k->sess[i].used)
            return &k->sess[i];
    return NULL;
}

static bool initiating(const agent_kv *k)
{
    for (size_t i = 0; i < KV_MAX_SESSIONS; i++)
        if (k->sess[i].used && k->sess[i].initiator && !k->sess[i].wait_ack)
            return true; /* one waiting for its DONE is over for recon */
    return false;
}

static void start_session(agent_kv *k)
{
    if (initiating(k))
        return; /* one of our own at a time */
    kv_sess *s = sess_slot(k);
    if (!s)
        return;
    size_t cap = gossip_node_member_count(k->a->node);
    char (*peers)[GOSSIP_MAX_ADDR + 1] = malloc((cap ? cap : 1) * sizeof *peers);
    if (!peers)
        return;
    size_t n = alive_peers(k, peers, cap, false);
    if (n == 0) {
        free(peers);
        return;
    }
    /* The peer we met (or tried to) longest ago, ties broken at random: a
     * randomised round robin.  Every live member is then met within about
     * N - 1 periods (uniform picks need N ln N to cover all), which bounds
     * both the repair time and when tombstones can be collected (safe_time
     * waits for a session with every live member).  Counting attempts keeps
     * an unreachable peer from taking every turn. */
    size_t pick = 0, ties = 0;
    uint64_t oldest = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = synced_turn(k, peers[i]);
        if (t < oldest) {
            oldest = t;
            pick = i;
            ties = 1;
        } else if (t == oldest && below(k, ++ties) == 0) {
            pick = i;
        }
    }
    memset(s, 0, sizeof *s);
    snprintf(s->peer, sizeof s->peer, "%s", peers[pick]);
    free(peers);
    kv_synced *turn = synced_slot(k, s->peer);
    if (turn)
        turn->tried_ms = agent_wall_ms();
    recon_config cfg = session_config(k);
    recon_store store = kv_recon_store(k->s);
    s->started_wall = agent_wall_ms();
    kv_set_now(k->s, s->started_wall);
    const uint8_t *msg;
    size_t len;
    if (recon_session_new(&s->rs, NULL, &cfg, &store, true) != 0 ||
        recon_session_start(s->rs, &msg, &len) != 0 || sess_queue(s, msg, len) != 0) {
        recon_session_free(s->rs);
        memset(s, 0, sizeof *s);
        return;
    }
    s->used = true;
    s->initiator = true;
    s->sid = rnd(k) | 1;
    s->last_ms = agent_now_ms(k->a);
    k->st.sessions_started++;
    sess_pump(k, s);
}

static kv_sess *find_sess(agent_kv *k, const char *peer, uint64_t sid, bool initiator)
{
    for (size_t i = 0; i < KV_MAX_SESSIONS; i++) {
        kv_sess *s = &k->sess[i];
        if (s->used && s->sid == sid && s->initiator == initiator && strcmp(s->peer, peer) == 0)
            return s;
    }
    return NULL;
}

static void on_session(agent_kv *k, const char *from, const kv_msg *m)
{
    bool peer_initiated = m->flags & KV_SESSION_FROM_INITIATOR;
    kv_sess *s = find_sess(k, from, m->sid, !peer_initiated);
    if (m->flags & KV_SESSION_ABORT) {
        if (s) {
            k->st.sessions_failed++;
            agent_log(k->a, GOSSIP_LOG_DEBUG, "msg=\"kv session aborted by the peer\" peer=%s",
                      from);
            sess_free(s);
        }
        return;
    }
    if (s && s->wait_ack) {
        if (m->offset == 0 && m->total == m->chunk_len &&
            is_recon_msg(m->chunk, m->chunk_len, RECON_MSG_DONE)) {
            k->st.sessions_acked++;
            sess_counted(k, s);
        } else {
            sess_abort(k, s, "a message after our last one", true);
        }
        return;
    }
    if (!s) {
        if (!peer_initiated || m->offset != 0)
            return; /* the rest of a session we gave up */
        if (!is_recon_msg(m->chunk, m->chunk_len, RECON_MSG_HELLO)) {
            /* Only a HELLO opens a session: this is the end of one we
             * gave up or forgot in a restart (a DONE that came late ...) */
            k->st.sessions_stale++;
            return;
        }
        s = sess_slot(k);
        if (!s) {
            k->st.sessions_refused++;
            recon_buf *b = &k->scratch;
            recon_buf_reset(b);
            kv_msg_session(b, m->sid, KV_SESSION_ABORT, 0, 0, NULL, 0);
            if (!b->err)
                send_frame(k, from, b->p, b->len);
            return;
        }
        recon_config cfg = session_config(k);
        recon_store store = kv_recon_store(k->s);
        memset(s, 0, sizeof *s);
        if (recon_session_new(&s->rs, NULL, &cfg, &store, false) != 0)
            return;
        s->used = true;
        s->sid = m->sid;
        snprintf(s->peer, sizeof s->peer, "%s", from);
        s->started_wall = agent_wall_ms();
        k->st.sessions_accepted++;
    }
    s->last_ms = agent_now_ms(k->a);
    if (s->out_sent < s->out_len || s->done) {
        sess_abort(k, s, "a message while ours was still going out", true);
        return;
    }
    if (m->offset != s->in_have || (s->in_have && m->total != s->in_total)) {
        sess_abort(k, s, "a chunk out of order", true);
        return;
    }
    if (s->in_have == 0) {
        if (m->total > s->in_cap) {
            uint8_t *p = realloc(s->in, m->total);
            if (!p) {
                sess_abort(k, s, "out of memory", true);
                return;
            }
            s->in = p;
            s->in_cap = m->total;
        }
        s->in_total = m->total;
    }
    memcpy(s->in + s->in_have, m->chunk, m->chunk_len);
    s->in_have += (uint32_t)m->chunk_len;
    if (s->in_have < s->in_total)
        return;
    s->in_have = 0;
    kv_set_now(k->s, agent_wall_ms());
    const uint8_t *reply;
    size_t len;
    int rc = recon_session_recv(s->rs, s->in, s->in_total, &reply, &len);
    log_flush(k);
    if (rc == 0 && len)
        rc = sess_queue(s, reply, len);
    if (rc != 0) {
        if (recon_session_stats(s->rs)->rejected)
            k->st.session_messages_rejected++;
        agent_log(k->a, GOSSIP_LOG_WARN, "msg=\"kv session message refused\" peer=%s err=\"%s\"",
                  from, gossip_strerror(rc));
        sess_abort(k, s, gossip_strerror(rc), true);
        return;
    }
    s->done = recon_session_done(s->rs);
    s->sent_last = s->done && len > 0;
    if (s->sent_last)
        log_sync(k); /* what we hold is on disk before our last word can be acknowledged */
    sess_pump(k, s);
}

static void sessions_tick(agent_kv *k, uint64_t now)
{
    uint64_t idle = 2ull * k->a->cfg.tcp_timeout_ms;
    if (idle < 2000)
        idle = 2000;
    for (size_t i = 0; i < KV_MAX_SESSIONS; i++) {
        kv_sess *s = &k->sess[i];
        if (!s->used)
            continue;
        if (now - s->last_ms > idle) {
            if (s->wait_ack) { /* complete, but not known to be: not counted */
                k->st.sessions_unacked++;
                sess_free(s);
                continue;
            }
            k->st.sessions_timed_out++;
            sess_abort(k, s, "timed out", true);
            continue;
        }
        if (s->out_sent < s->out_len)
            sess_pump(k, s);
    }
}

/* ---- tombstones ----------------------------------------------------------------- */

/* The time before which every live member has completed a session with us:
 * what a tombstone must have been held since to be collected. */
static uint64_t safe_time(agent_kv *k, uint64_t wall)
{
    size_t cap = gossip_node_member_count(k->a->node);
    char (*peers)[GOSSIP_MAX_ADDR + 1] = malloc((cap ? cap : 1) * sizeof *peers);
    if (!peers)
        return 0;
    size_t n = alive_peers(k, peers, cap, true);
    uint64_t safe = wall;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = synced_get(k, peers[i]);
        if (t < safe)
            safe = t;
    }
    free(peers);
    return safe;
}

/* ---- the loop -------------------------------------------------------------------- */

static void tick(agent_kv *k)
{
    if (!k->handles_open || k->a->shutting_down)
        return;
    uint64_t now = agent_now_ms(k->a);
    push_rumors(k, now);
    sessions_tick(k, now);
    uint32_t every = k->a->cfg.kv_anti_entropy_interval_ms;
    if (every && now >= k->next_ae_ms) {
        start_session(k);
        k->next_ae_ms = now + every / 2 + below(k, every); /* [0.5, 1.5) x the period */
    }
    if (now >= k->next_gc_ms) {
        k->next_gc_ms = now + KV_GC_MS;
        if (every) {
            uint64_t wall = agent_wall_ms();
            k->st.gc_runs++;
            if (kv_gc(k->s, wall, safe_time(k, wall)) > 0)
                maybe_compact(k);
        }
    }
    if (now >= k->next_sync_ms) {
        k->next_sync_ms = now + KV_SYNC_MS;
        log_sync_async(k);
        maybe_compact(k);
    }
}

static void on_timer(uv_timer_t *t)
{
    agent_kv *k = t->data;
    agent_lock(k->a);
    tick(k);
    agent_unlock(k->a);
}

static void on_async(uv_async_t *h)
{
    agent_kv *k = h->data;
    agent_lock(k->a);
    if (k->handles_open && !k->a->shutting_down)
        push_rumors(k, agent_now_ms(k->a));
    agent_unlock(k->a);
}

void agent_kv_deliver(agent *a, const char *from, const uint8_t *msg, size_t len)
{
    agent_kv *k = kv_of(a);
    if (!k)
        return;
    kv_msg m;
    int rc = kv_msg_parse(msg, len, a->cfg.kv_max_key, a->cfg.kv_max_value, KV_MAX_MESSAGE, &m);
    if (rc != 0) {
        k->st.msgs_rejected++;
        agent_log(a, GOSSIP_LOG_DEBUG, "msg=\"kv message refused\" from=%s err=\"%s\"", from,
                  gossip_strerror(rc));
        return;
    }
    switch (m.type) {
    case KV_MSG_RUMOR: on_rumor(k, from, &m); break;
    case KV_MSG_FEEDBACK: on_feedback(k, &m); break;
    case KV_MSG_SESSION: on_session(k, from, &m); break;
    }
}

/* ---- life cycle ----------------------------------------------------------------- */

int agent_kv_open(agent *a, char *err, size_t err_len)
{
    agent_kv *k = &the_kv;
    memset(k, 0, sizeof *k);
    k->a = a;
    k->fd = -1;
    recon_buf_init(&k->logbuf, NULL);
    recon_buf_init(&k->scratch, NULL);
    uint64_t name_hash = gossip_hash_bytes(a->cfg.name, strlen(a->cfg.name), 0);
    k->rng = gossip_hash_mix(name_hash ^ uv_hrtime() ^ ((uint64_t)getpid() << 20)) | 1;
    kv_config c;
    kv_config_default(&c);
    /* Unique per run: the name, and the generation that grows at every start. */
    c.writer = gossip_hash_mix(name_hash ^ a->generation * 0x9e3779b97f4a7c15ull);
    c.max_key = a->cfg.kv_max_key;
    c.max_value = a->cfg.kv_max_value;
    c.max_entries = a->cfg.kv_max_entries;
    c.horizon_ms = a->cfg.kv_tombstone_horizon_ms;
    c.on_change = on_change;
    c.ud = k;
    int rc = kv_new(&k->s, NULL, &c);
    if (rc != 0) {
        snprintf(err, err_len, "key-value store: %s", gossip_strerror(rc));
        k->a = NULL;
        return -1;
    }
    if (log_open(k, err, err_len) != 0) {
        agent_kv_free(a);
        return -1;
    }
    kv_stats st;
    kv_get_stats(k->s, &st);
    if (k->st.log_records_loaded)
        agent_log(a, GOSSIP_LOG_INFO,
                  "msg=\"kv store loaded\" records=%" PRIu64 " entries=%" PRIu64
                  " live=%" PRIu64 " log_bytes=%" PRIu64,
                  k->st.log_records_loaded, st.entries, st.live, k->st.log_bytes);
    uv_timer_init(&a->loop, &k->timer);
    uv_async_init(&a->loop, &k->async, on_async);
    k->timer.data = k->async.data = k;
    k->handles_open = true;
    uint64_t now = agent_now_ms(a);
    uint32_t every = a->cfg.kv_anti_entropy_interval_ms;
    k->next_ae_ms = now + below(k, every ? every : 1); /* the first within one period */
    k->next_gc_ms = now + KV_GC_MS;
    k->next_sync_ms = now + KV_SYNC_MS;
    uv_timer_start(&k->timer, on_timer, KV_TICK_MS, KV_TICK_MS);
    return 0;
}

void agent_kv_close(agent *a)
{
    agent_kv *k = kv_of(a);
    if (!k)
        return;
    log_sync(k);
    if (!k->handles_open)
        return;
    k->handles_open = false;
    uv_timer_stop(&k->timer);
    uv_close((uv_handle_t *)&k->timer, NULL);
    uv_close((uv_handle_t *)&k->async, NULL);
}

void agent_kv_free(agent *a)
{
    agent_kv *k = &the_kv;
    if (k->a != a)
        return;
    log_sync(k);
    for (size_t i = 0; i < KV_MAX_SESSIONS; i++)
        if (k->sess[i].used)
            sess_free(&k->sess[i]);
    for (size_t i = 0; i < k->n_hot; i++)
        free(k->hot[i].key);
    free(k->hot);
    free(k->synced);
    recon_buf_free(&k->logbuf);
    recon_buf_free(&k->scratch);
    if (k->fd >= 0)
        close(k->fd);
    kv_free(k->s);
    memset(k, 0, sizeof *k);
}

/* ---- for the HTTP side ---------------------------------------------------------- */

kv_store *agent_kv_store(agent *a)
{
    agent_kv *k = kv_of(a);
    return k ? k->s : NULL;
}

int agent_kv_write(agent *a, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                   bool del, const uint64_t *cas, recon_version *out, int *sync_fd)
{
    *sync_fd = -1;
    agent_kv *k = kv_of(a);
    if (!k)
        return GOSSIP_ERR_INVALID;
    uint64_t now = agent_wall_ms();
    int rc = del ? kv_del(k->s, key, klen, now, cas, out)
                 : kv_put(k->s, key, klen, val, vlen, now, cas, out);
    if (rc == 0) {
        /* In the file now; on disk once the caller has synced a duplicate of
         * the descriptor outside the lock.  (A compaction meanwhile swaps
         * the file: it wrote and synced the whole store, this write with
         * it, and the duplicate keeps the old file open until then.) */
        if (!log_flush(k)) {
            *sync_fd = AGENT_KV_NOT_LOGGED; /* applied, but not in the log */
        } else {
            *sync_fd = k->fd >= 0 ? dup(k->fd) : -1;
            if (*sync_fd < 0)
                log_sync(k); /* no descriptor to spare: here, then */
        }
        if (k->handles_open && !a->shutting_down)
            uv_async_send(&k->async);
    }
    return rc;
}

int agent_kv_sync(agent *a, int sync_fd)
{
    if (sync_fd == AGENT_KV_NOT_LOGGED)
        return -1;
    if (sync_fd < 0)
        return 0;
    int rc = fdatasync(sync_fd) == 0 ? 0 : -1;
    close(sync_fd);
    agent_lock(a);
    agent_kv *k = kv_of(a);
    if (k) {
        k->st.log_syncs++;
        k->st.log_write_errors += rc != 0;
    }
    agent_unlock(a);
    return rc;
}

json_t *agent_kv_info_json(agent *a)
{
    agent_kv *k = kv_of(a);
    json_t *o = json_object();
    if (!k)
        return o;
    kv_stats s;
    kv_get_stats(k->s, &s);
    size_t active = 0;
    for (size_t i = 0; i < KV_MAX_SESSIONS; i++)
        active += k->sess[i].used;
#define S(f) json_object_set_new(o, "kv_" #f, json_integer((json_int_t)s.f))
    S(entries); S(live); S(tombstones); S(bytes); S(puts); S(deletes); S(cas_failed);
    S(merged_new); S(merged_stale); S(expired_refused); S(refused); S(gc_collected);
    S(clock_ahead);
#undef S
#define A(f) json_object_set_new(o, "kv_" #f, json_integer((json_int_t)k->st.f))
    A(rumor_frames_sent); A(rumor_entries_sent); A(rumor_entries_received);
    A(rumor_entries_new); A(rumor_feedback_knew); A(rumors_dropped); A(rumors_unacked);
    A(sessions_started); A(sessions_accepted); A(sessions_refused); A(sessions_completed);
    A(sessions_failed); A(sessions_timed_out); A(sessions_equal); A(sessions_merkle);
    A(sessions_acked); A(sessions_unacked); A(sessions_stale);
    A(sessions_iblt); A(sessions_fell_back); A(session_bytes_sent); A(session_bytes_received);
    A(session_entries_sent); A(session_entries_received); A(session_messages_rejected);
    A(msgs_rejected); A(frames_dropped); A(log_bytes); A(log_records_loaded); A(log_errors);
    A(log_truncated_bytes); A(log_write_errors); A(log_syncs); A(compactions); A(gc_runs);
#undef A
    json_object_set_new(o, "kv_rumors_hot", json_integer((json_int_t)k->n_hot));
    json_object_set_new(o, "kv_sessions_active", json_integer((json_int_t)active));
    json_object_set_new(o, "kv_last_method", json_string(k->last_method[0] ? k->last_method
                                                                              : "none"));
    char clock[24];
    snprintf(clock, sizeof clock, "%" PRIu64, kv_clock(k->s));
    json_object_set_new(o, "kv_clock", json_string(clock)); /* past 2^53: a string */
    return o;
}

/* ---- /metrics ------------------------------------------------------------------- */

typedef struct mbuf {
    char *p;
    size_t len, cap;
    bool failed;
} mbuf;

static void mprintf(mbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mprintf(mbuf *m, const char *fmt, ...)
{
    if (m->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(m->p + m->len, m->cap - m->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            m->failed = true;
            return;
        }
        if ((size_t)n < m->cap - m->len) {
            m->len += (size_t)n;
            return;
        }
        size_t cap = (m->cap + (size_t)n + 1) * 2;
        char *p = realloc(m->p, cap);
        if (!p) {
            m->failed = true;
            return;
        }
        m->p = p;
        m->cap = cap;
    }
}

static void family(mbuf *m, const char *name, const char *type, const char *help)
{
    mprintf(m, "# HELP gossip_kv_%s %s\n# TYPE gossip_kv_%s %s\n", name, help, name, type);
}

char *agent_kv_metrics_append(agent *a, char *text, size_t *len)
{
    agent_lock(a);
    agent_kv *k = kv_of(a);
    if (!k || !text) {
        agent_unlock(a);
        return text;
    }
    kv_stats s;
    kv_get_stats(k->s, &s);
    agent_kv_stats t = k->st;
    size_t hot = k->n_hot;
    agent_unlock(a);

    mbuf m = {text, *len, *len + 1, false};
    family(&m, "entries", "gauge", "Key-value entries held, by kind.");
    mprintf(&m, "gossip_kv_entries{kind=\"live\"} %" PRIu64 "\n", s.live);
    mprintf(&m, "gossip_kv_entries{kind=\"tombstone\"} %" PRIu64 "\n", s.tombstones);
    family(&m, "bytes", "gauge", "Bytes of keys and values held.");
    mprintf(&m, "gossip_kv_bytes %" PRIu64 "\n", s.bytes);
    family(&m, "writes_total", "counter", "Local writes, by kind.");
    mprintf(&m, "gossip_kv_writes_total{kind=\"put\"} %" PRIu64 "\n", s.puts);
    mprintf(&m, "gossip_kv_writes_total{kind=\"delete\"} %" PRIu64 "\n", s.deletes);
    family(&m, "cas_failed_total", "counter", "Writes refused by compare-and-set.");
    mprintf(&m, "gossip_kv_cas_failed_total %" PRIu64 "\n", s.cas_failed);
    family(&m, "merged_total", "counter", "Entries received from other members, by outcome.");
    mprintf(&m, "gossip_kv_merged_total{outcome=\"new\"} %" PRIu64 "\n", s.merged_new);
    mprintf(&m, "gossip_kv_merged_total{outcome=\"stale\"} %" PRIu64 "\n", s.merged_stale);
    mprintf(&m, "gossip_kv_merged_total{outcome=\"expired\"} %" PRIu64 "\n", s.expired_refused);
    mprintf(&m, "gossip_kv_merged_total{outcome=\"refused\"} %" PRIu64 "\n", s.refused);
    family(&m, "tombstones_collected_total", "counter", "Deletes collected after the horizon.");
    mprintf(&m, "gossip_kv_tombstones_collected_total %" PRIu64 "\n", s.gc_collected);
    family(&m, "rumors_hot", "gauge", "Writes this node is still pushing.");
    mprintf(&m, "gossip_kv_rumors_hot %zu\n", hot);
    family(&m, "rumor_entries_total", "counter", "Entries in rumor pushes, by direction.");
    mprintf(&m, "gossip_kv_rumor_entries_total{dir=\"sent\"} %" PRIu64 "\n", t.rumor_entries_sent);
    mprintf(&m, "gossip_kv_rumor_entries_total{dir=\"received\"} %" PRIu64 "\n",
            t.rumor_entries_received);
    mprintf(&m, "gossip_kv_rumor_entries_total{dir=\"received_new\"} %" PRIu64 "\n",
            t.rumor_entries_new);
    family(&m, "sessions_total", "counter",
           "Anti-entropy sessions completed, by the method the responder chose (equal: the "
           "roots matched).");
    mprintf(&m, "gossip_kv_sessions_total{method=\"equal\"} %" PRIu64 "\n", t.sessions_equal);
    mprintf(&m, "gossip_kv_sessions_total{method=\"merkle\"} %" PRIu64 "\n", t.sessions_merkle);
    mprintf(&m, "gossip_kv_sessions_total{method=\"iblt\"} %" PRIu64 "\n", t.sessions_iblt);
    family(&m, "sessions_failed_total", "counter", "Anti-entropy sessions that did not complete.");
    mprintf(&m, "gossip_kv_sessions_failed_total{reason=\"error\"} %" PRIu64 "\n",
            t.sessions_failed - t.sessions_timed_out);
    mprintf(&m, "gossip_kv_sessions_failed_total{reason=\"timeout\"} %" PRIu64 "\n",
            t.sessions_timed_out);
    family(&m, "sessions_fell_back_total", "counter", "IBLT sessions finished by Merkle.");
    mprintf(&m, "gossip_kv_sessions_fell_back_total %" PRIu64 "\n", t.sessions_fell_back);
    family(&m, "session_bytes_total", "counter", "Anti-entropy message bytes, by direction.");
    mprintf(&m, "gossip_kv_session_bytes_total{dir=\"sent\"} %" PRIu64 "\n", t.session_bytes_sent);
    mprintf(&m, "gossip_kv_session_bytes_total{dir=\"received\"} %" PRIu64 "\n",
            t.session_bytes_received);
    family(&m, "session_entries_total", "counter", "Entries shipped by anti-entropy, by direction.");
    mprintf(&m, "gossip_kv_session_entries_total{dir=\"sent\"} %" PRIu64 "\n",
            t.session_entries_sent);
    mprintf(&m, "gossip_kv_session_entries_total{dir=\"received\"} %" PRIu64 "\n",
            t.session_entries_received);
    family(&m, "messages_rejected_total", "counter", "Malformed key-value messages refused.");
    mprintf(&m, "gossip_kv_messages_rejected_total %" PRIu64 "\n",
            t.msgs_rejected + t.session_messages_rejected);
    family(&m, "log_bytes", "gauge", "Size of the key-value log in the data dir.");
    mprintf(&m, "gossip_kv_log_bytes %" PRIu64 "\n", t.log_bytes);
    family(&m, "log_errors_total", "counter",
           "Torn or corrupt log tails cut off at start, and records left out.");
    mprintf(&m, "gossip_kv_log_errors_total %" PRIu64 "\n", t.log_errors);
    family(&m, "compactions_total", "counter", "Log compactions.");
    mprintf(&m, "gossip_kv_compactions_total %" PRIu64 "\n", t.compactions);
    if (m.failed) {
        /* realloc failures leave m.p valid; cut back to the original text */
        m.p[*len] = '\0';
        return m.p;
    }
    *len = m.len;
    return m.p;
}
