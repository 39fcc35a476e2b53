/* blob_agent.c -- the blob engine inside gossipd (blob_agent.h). */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/agent_internal.h"
#include "agent/blob_agent.h"
#include "core/blob_wire.h"

#define BLOB_DIR "blobs"
#define BLOB_MAX_PEERS 65536     /* interned addresses; the table starts over beyond */
#define BLOB_OUTBOX_MAX (64u << 20) /* bytes queued by HTTP threads for the loop */

typedef struct outmsg {
    struct outmsg *next;
    uint64_t peer;
    size_t len;
    uint8_t data[];
} outmsg;

typedef struct blob_agent {
    agent *a;
    blob_engine *e;
    blob_settings s;
    uv_timer_t timer;
    uv_async_t async;
    bool handles_open;
    char dir[AGENT_MAX_PATH + 16]; /* DATA_DIR/blobs */
    /* peer ids: index into addrs; idx is an open-addressing index of them */
    char (*addrs)[GOSSIP_MAX_ADDR + 1];
    uint32_t n_addrs, cap_addrs;
    uint32_t *idx;               /* cap_idx slots of id + 1, 0 free */
    uint32_t cap_idx;
    outmsg *out_head, *out_tail;
    size_t out_bytes;
} blob_agent;

/* gossipd runs one agent per process (agent_run's static agent). */
static blob_agent the_blobs;

static blob_agent *blobs_of(const agent *a)
{
    return the_blobs.a == a && the_blobs.e ? &the_blobs : NULL;
}

/* ---- peers ------------------------------------------------------------------- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void peers_reset(blob_agent *b)
{
    free(b->addrs);
    free(b->idx);
    b->addrs = NULL;
    b->idx = NULL;
    b->n_addrs = b->cap_addrs = b->cap_idx = 0;
}

static int reindex(blob_agent *b, uint32_t cap)
{
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return -1;
    for (uint32_t id = 0; id < b->n_addrs; id++) {
        uint32_t j = (uint32_t)fnv(b->addrs[id]) & (cap - 1);
        while (idx[j])
            j = (j + 1) & (cap - 1);
        idx[j] = id + 1;
    }
    free(b->idx);
    b->idx = idx;
    b->cap_idx = cap;
    return 0;
}

/* The id of an address, interning it; UINT64_MAX without memory. */
static uint64_t peer_id(blob_agent *b, const char *addr)
{
    if (b->cap_idx) {
        for (uint32_t j = (uint32_t)fnv(addr) & (b->cap_idx - 1); b->idx[j];
             j = (j + 1) & (b->cap_idx - 1))
            if (strcmp(b->addrs[b->idx[j] - 1], addr) == 0)
                return b->idx[j] - 1;
    }
    if (b->n_addrs >= BLOB_MAX_PEERS) {
        /* Start over: ids in flight name other peers now, which the
         * engine survives (a wrong answer is a bad chunk or a timeout). */
        peers_reset(b);
    }
    if (b->n_addrs == b->cap_addrs) {
        uint32_t cap = b->cap_addrs ? 2 * b->cap_addrs : 64;
        void *p = realloc(b->addrs, cap * sizeof *b->addrs);
        if (!p)
            return UINT64_MAX;
        b->addrs = p;
        b->cap_addrs = cap;
    }
    uint32_t id = b->n_addrs;
    snprintf(b->addrs[id], sizeof b->addrs[0], "%s", addr);
    b->n_addrs++;
    if ((uint64_t)b->n_addrs * 2 > b->cap_idx) {
        if (reindex(b, b->cap_idx ? 2 * b->cap_idx : 128) != 0) {
            b->n_addrs--;
            return UINT64_MAX;
        }
    } else {
        uint32_t j = (uint32_t)fnv(addr) & (b->cap_idx - 1);
        while (b->idx[j])
            j = (j + 1) & (b->cap_idx - 1);
        b->idx[j] = id + 1;
    }
    return id;
}

/* ---- engine callbacks ---------------------------------------------------------- */

/* One blob frame (AGENT_FRAME_BLOB) to `addr`: loop thread, lock held. */
static bool send_frame(agent *a, const char *addr, const uint8_t *buf, size_t len)
{
    return transport_send_frame(&a->net, addr, AGENT_FRAME_BLOB, buf, len);
}

static void reschedule(blob_agent *b);

static int on_send(void *ud, uint64_t peer, const uint8_t *msg, size_t len)
{
    blob_agent *b = ud;
    if (peer >= b->n_addrs)
        return -1;
    if (agent_on_loop(b->a))
        return send_frame(b->a, b->addrs[peer], msg, len) ? 0 : -1;
    /* An HTTP thread: the loop sends it. */
    if (b->out_bytes + len > BLOB_OUTBOX_MAX)
        return -1;
    outmsg *m = malloc(sizeof *m + len);
    if (!m)
        return -1;
    m->next = NULL;
    m->peer = peer;
    m->len = len;
    memcpy(m->data, msg, len);
    if (b->out_tail)
        b->out_tail->next = m;
    else
        b->out_head = m;
    b->out_tail = m;
    b->out_bytes += len;
    uv_async_send(&b->async);
    return 0;
}

static uint32_t on_list_peers(void *ud, uint64_t *out, uint32_t cap)
{
    blob_agent *b = ud;
    gossip_node *node = b->a->node;
    size_t n = gossip_node_member_count(node);
    uint32_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        gossip_member_info m;
        if (gossip_node_member_at(node, i, &m) != 0 || m.is_self ||
            m.status != GOSSIP_STATUS_ALIVE || !m.addr || !m.addr[0] ||
            strcmp(m.addr, b->a->advertise) == 0)
            continue;
        uint64_t id = peer_id(b, m.addr);
        if (id != UINT64_MAX)
            out[k++] = id;
    }
    return k;
}

/* DIR/blobs/HEX, written whole (temp file, fsync, rename).  Each writer has
 * its own temp file: the thread pool (a fetched payload) and an HTTP thread
 * (a PUT of the same bytes) may write one hash at once. */
static int write_blob(const char *dir, const char *hex, const uint8_t *data, size_t len)
{
    static atomic_uint next_tmp;
    char path[AGENT_MAX_PATH + 100], tmp[AGENT_MAX_PATH + 140];
    snprintf(path, sizeof path, "%s/%s", dir, hex);
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.%u.tmp", dir, hex, (long)getpid(),
             atomic_fetch_add(&next_tmp, 1u));
    if (access(path, F_OK) == 0)
        return 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Writing a fetched payload to disk: on libuv's thread pool, because 10 MiB
 * and an fsync on the loop thread, lock held, delayed every hop of the
 * epidemic (bench/blob_agents.sh: 0.6 s on average from a node's last chunk
 * to "stored" with 100 agents sharing one disk) and the probes with it.
 * The engine serves the payload from memory meanwhile. */
typedef struct store_job {
    uv_work_t req;
    agent *a;
    char dir[AGENT_MAX_PATH + 16]; /* as blob_agent.dir */
    char hex[BLOB_HEX_BYTES + 1];
    uint8_t *data;
    size_t len;
    int rc, err;
} store_job;

static void store_work(uv_work_t *w)
{
    store_job *j = w->data;
    j->rc = write_blob(j->dir, j->hex, j->data, j->len);
    j->err = errno;
}

static void store_done(uv_work_t *w, int status)
{
    store_job *j = w->data;
    agent_lock(j->a);
    if (status != 0 || j->rc != 0)
        agent_log(j->a, GOSSIP_LOG_WARN, "msg=\"blob not persisted\" hash=%s err=\"%s\"",
                  j->hex, status ? uv_strerror(status) : strerror(j->err));
    else
        agent_log(j->a, GOSSIP_LOG_INFO, "msg=\"blob stored\" hash=%s size=%zu", j->hex, j->len);
    agent_unlock(j->a);
    free(j->data);
    free(j);
}

/* A fetched payload is complete (loop thread, lock held): a copy goes to
 * the thread pool to be written. */
static void on_stored(void *ud, const uint8_t hash[BLOB_HASH_BYTES], uint64_t size)
{
    blob_agent *b = ud;
    store_job *j = calloc(1, sizeof *j);
    uint8_t *buf = j ? malloc(size ? size : 1) : NULL;
    char hex[BLOB_HEX_BYTES + 1];
    blob_hash_to_hex(hash, hex);
    if (!buf || blob_engine_read(b->e, hash, buf, size) != 0) {
        agent_log(b->a, GOSSIP_LOG_WARN, "msg=\"blob not persisted\" hash=%s err=\"%s\"", hex,
                  buf ? "cannot read it back" : "out of memory");
        free(buf);
        free(j);
        return;
    }
    j->req.data = j;
    j->a = b->a;
    memcpy(j->dir, b->dir, sizeof j->dir);
    memcpy(j->hex, hex, sizeof hex);
    j->data = buf;
    j->len = (size_t)size;
    int rc = uv_queue_work(&b->a->loop, &j->req, store_work, store_done);
    if (rc != 0) {
        agent_log(b->a, GOSSIP_LOG_WARN, "msg=\"blob not persisted\" hash=%s err=\"%s\"", hex,
                  uv_strerror(rc));
        free(buf);
        free(j);
    }
}

/* ---- the loop's side ------------------------------------------------------------ */

static void on_timer(uv_timer_t *t)
{
    blob_agent *b = t->data;
    agent_lock(b->a);
    if (b->e && !b->a->shutting_down) {
        blob_engine_tick(b->e, agent_now_ms(b->a));
        reschedule(b);
    }
    agent_unlock(b->a);
}

/* Loop thread, lock held. */
static void reschedule(blob_agent *b)
{
    if (!b->handles_open)
        return;
    uint64_t d = blob_engine_next_deadline(b->e), now = agent_now_ms(b->a);
    if (d == UINT64_MAX) {
        uv_timer_stop(&b->timer);
        return;
    }
    uv_timer_start(&b->timer, on_timer, d > now ? d - now : 0, 0);
}

static void flush_outbox(blob_agent *b)
{
    while (b->out_head) {
        outmsg *m = b->out_head;
        b->out_head = m->next;
        if (!b->out_head)
            b->out_tail = NULL;
        b->out_bytes -= m->len;
        if (m->peer < b->n_addrs)
            (void)send_frame(b->a, b->addrs[m->peer], m->data, m->len);
        free(m);
    }
}

static void on_async(uv_async_t *h)
{
    blob_agent *b = h->data;
    agent_lock(b->a);
    if (!b->a->shutting_down) {
        flush_outbox(b);
        reschedule(b);
    }
    agent_unlock(b->a);
}

void agent_blob_deliver(agent *a, const char *from, const uint8_t *msg, size_t len)
{
    blob_agent *b = blobs_of(a);
    if (!b)
        return;
    uint64_t peer = peer_id(b, from);
    if (peer == UINT64_MAX)
        return;
    int rc = blob_engine_recv(b->e, peer, msg, len, agent_now_ms(a));
    if (rc)
        agent_log(a, GOSSIP_LOG_DEBUG, "msg=\"blob message rejected\" from=%s err=\"%s\"", from,
                  gossip_strerror(rc));
    reschedule(b);
}

size_t agent_blob_max_frame(const agent *a)
{
    blob_agent *b = blobs_of(a);
    return b ? blob_max_message(&b->s) : 0;
}

size_t agent_blob_max_body(const agent *a)
{
    blob_agent *b = blobs_of(a);
    return b ? (size_t)b->s.max_payload : 0;
}

/* ---- counters ------------------------------------------------------------------ */

bool agent_blob_get_stats(const agent *a, blob_stats *out)
{
    blob_agent *b = blobs_of(a);
    if (!b || !b->e) {
        memset(out, 0, sizeof *out);
        return false;
    }
    blob_engine_stats(b->e, out);
    return true;
}

const char *const agent_blob_msg_names[BLOB_MSG_TYPE_COUNT] = {
    [BLOB_MSG_INV] = "inv",         [BLOB_MSG_COMPACT] = "compact", [BLOB_MSG_MANIFEST] = "manifest",
    [BLOB_MSG_GETDATA] = "getdata", [BLOB_MSG_CHUNK] = "chunk",     [BLOB_MSG_NOTFOUND] = "notfound",
};

json_t *agent_blob_info_json(const agent *a)
{
    blob_stats s;
    json_t *o = json_object();
    if (!agent_blob_get_stats(a, &s))
        return o;
    json_t *sent = json_object(), *recv = json_object();
    for (int t = 1; t < BLOB_MSG_TYPE_COUNT; t++) {
        json_object_set_new(sent, agent_blob_msg_names[t], json_integer((json_int_t)s.msgs_sent[t]));
        json_object_set_new(recv, agent_blob_msg_names[t], json_integer((json_int_t)s.msgs_recv[t]));
    }
    json_object_set_new(o, "blob_msgs_sent", sent);
    json_object_set_new(o, "blob_msgs_received", recv);
#define S(f) json_object_set_new(o, "blob_" #f, json_integer((json_int_t)s.f))
    S(bytes_sent); S(bytes_recv); S(recv_errors); S(send_errors); S(oversize_rejected);
    S(inv_dropped_full); S(chunks_local); S(chunks_fetched); S(chunk_bytes_fetched);
    S(chunks_duplicate); S(chunks_bad); S(sources_dropped); S(request_timeouts);
    S(short_id_ambiguous); S(short_id_false); S(manifest_fallbacks); S(payloads_completed);
    S(payloads_abandoned); S(payloads_served_chunks); S(store_bytes); S(store_chunks);
#undef S
    return o;
}

/* ---- HTTP's side ----------------------------------------------------------------- */

int agent_blob_put(agent *a, const uint8_t *data, size_t len, char hex[BLOB_HEX_BYTES + 1])
{
    agent_lock(a);
    blob_agent *b = blobs_of(a);
    uint8_t hash[BLOB_HASH_BYTES];
    int rc = b ? blob_engine_put(b->e, data, len, BLOB_PUT_ANNOUNCE, agent_now_ms(a), hash)
               : GOSSIP_ERR_NOT_FOUND; /* blobs disabled */
    if (rc == 0)
        uv_async_send(&b->async); /* the loop re-arms the timer */
    char dir[sizeof the_blobs.dir] = "";
    if (b)
        memcpy(dir, b->dir, sizeof dir);
    agent_unlock(a);
    if (rc)
        return rc;
    blob_hash_to_hex(hash, hex);
    if (write_blob(dir, hex, data, len) != 0)
        agent_log(a, GOSSIP_LOG_WARN, "msg=\"blob not persisted\" hash=%s err=\"%s\"", hex,
                  strerror(errno));
    return 0;
}

int agent_blob_read(agent *a, const char *hex, uint8_t **out, size_t *len, bool *pending)
{
    uint8_t hash[BLOB_HASH_BYTES];
    *out = NULL;
    *len = 0;
    *pending = false;
    if (blob_hash_from_hex(hex, strlen(hex), hash) != 0)
        return GOSSIP_ERR_INVALID;
    agent_lock(a);
    blob_agent *b = blobs_of(a);
    uint64_t size = 0;
    int rc = b ? blob_engine_stat(b->e, hash, &size) : GOSSIP_ERR_NOT_FOUND;
    if (rc == 0) {
        *out = malloc(size ? size : 1);
        rc = *out ? blob_engine_read(b->e, hash, *out, size) : GOSSIP_ERR_NOMEM;
        *len = size;
    } else if (b) {
        *pending = blob_engine_pending(b->e, hash);
    }
    agent_unlock(a);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- open and close ----------------------------------------------------------------- */

static bool is_hex_name(const char *s)
{
    size_t n = strlen(s);
    if (n != BLOB_HEX_BYTES)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static uint8_t *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    uint8_t *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= max &&
        (buf = malloc((size_t)st.st_size)) != NULL &&
        fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        *len = (size_t)st.st_size;
    fclose(f);
    return buf;
}

/* Loads every DIR/blobs/HEX whose bytes hash to HEX. */
static void load_blobs(blob_agent *b)
{
    DIR *d = opendir(b->dir);
    if (!d)
        return;
    struct dirent *ent;
    size_t loaded = 0;
    while ((ent = readdir(d)) != NULL) {
        size_t nl = strlen(ent->d_name);
        if (ent->d_name[0] == '.' && nl > 4 && strcmp(ent->d_name + nl - 4, ".tmp") == 0) {
            char stale[AGENT_MAX_PATH + 300];
            snprintf(stale, sizeof stale, "%s/%s", b->dir, ent->d_name);
            unlink(stale); /* a write a crash cut short (write_blob) */
            continue;
        }
        if (!is_hex_name(ent->d_name))
            continue;
        char path[AGENT_MAX_PATH + 100];
        snprintf(path, sizeof path, "%s/%s", b->dir, ent->d_name);
        size_t len = 0;
        uint8_t *data = read_file(path, b->s.max_payload, &len);
        uint8_t want[BLOB_HASH_BYTES], got[BLOB_HASH_BYTES];
        bool ok = data && blob_hash_from_hex(ent->d_name, BLOB_HEX_BYTES, want) == 0;
        if (ok) {
            blob_payload_hash(&b->s.chunking, data, len, got);
            ok = memcmp(want, got, BLOB_HASH_BYTES) == 0 &&
                 blob_engine_put(b->e, data, len, 0, 0, got) == 0;
        }
        free(data);
        if (ok) {
            loaded++;
            continue;
        }
        char aside[AGENT_MAX_PATH + 120];
        snprintf(aside, sizeof aside, "%s.corrupt", path);
        (void)rename(path, aside);
        agent_log(b->a, GOSSIP_LOG_WARN,
                  "msg=\"blob file unusable; moved aside\" file=%s.corrupt", ent->d_name);
    }
    closedir(d);
    if (loaded)
        agent_log(b->a, GOSSIP_LOG_INFO, "msg=\"blobs loaded\" count=%zu dir=%s", loaded, b->dir);
}

int agent_blob_open(agent *a, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    blob_agent *b = &the_blobs;
    memset(b, 0, sizeof *b);
    /* Nothing here stops the agent: without blobs it still gossips, and
     * the blob API answers 503. */
    const char *why = NULL;
    snprintf(b->dir, sizeof b->dir, "%s/" BLOB_DIR, a->cfg.data_dir);
    blob_settings_init(&b->s);
    /* A blob message must fit one TCP frame with its header and address. */
    while (b->s.max_payload > (UINT64_C(1) << 20) &&
           blob_max_message(&b->s) + 2 + GOSSIP_MAX_ADDR > a->cfg.tcp_max_frame)
        b->s.max_payload -= UINT64_C(1) << 20;
    b->s.seed = a->generation ^ fnv(a->cfg.name) ^ uv_hrtime();
    blob_callbacks cb = {on_send, on_list_peers, on_stored, b};
    int rc;
    if (sodium_init() < 0)
        why = "libsodium failed to initialise";
    else if (mkdir(b->dir, 0755) != 0 && errno != EEXIST)
        why = strerror(errno);
    else if ((rc = blob_engine_new(&b->s, &cb, &b->e)) != 0)
        why = gossip_strerror(rc);
    if (why) {
        agent_log(a, GOSSIP_LOG_WARN, "msg=\"blobs disabled\" dir=%s err=\"%s\"", b->dir, why);
        memset(b, 0, sizeof *b);
        return 0;
    }
    b->a = a;
    if (b->s.max_payload < BLOB_DEFAULT_MAX_PAYLOAD)
        agent_log(a, GOSSIP_LOG_INFO,
                  "msg=\"blob cap lowered to fit tcp_max_frame\" max_payload=%llu tcp_max_frame=%u",
                  (unsigned long long)b->s.max_payload, (unsigned)a->cfg.tcp_max_frame);
    load_blobs(b);
    uv_timer_init(&a->loop, &b->timer);
    uv_async_init(&a->loop, &b->async, on_async);
    b->timer.data = b->async.data = b;
    b->handles_open = true;
    return 0;
}

void agent_blob_close(agent *a)
{
    blob_agent *b = blobs_of(a);
    if (!b || !b->handles_open)
        return;
    b->handles_open = false;
    uv_timer_stop(&b->timer);
    uv_close((uv_handle_t *)&b->timer, NULL);
    uv_close((uv_handle_t *)&b->async, NULL);
}

void agent_blob_free(agent *a)
{
    blob_agent *b = blobs_of(a);
    if (!b)
        return;
    blob_engine_free(b->e);
    b->e = NULL;
    while (b->out_head) {
        outmsg *m = b->out_head;
        b->out_head = m->next;
        free(m);
    }
    peers_reset(b);
    memset(b, 0, sizeof *b);
}
