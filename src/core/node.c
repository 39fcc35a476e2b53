/* node.c -- a gossip node's life cycle, its own state, applying deltas and
 * the public API around them.  The exchange itself is exchange.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/node.h"
#include "core/events.h"
#include "core/rumor.h"

void gossip_config_init(gossip_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_version = GOSSIP_CONFIG_VERSION;
    cfg->mode = GOSSIP_MODE_PUSHPULL;
    cfg->fanout = 1;
    cfg->gossip_interval_ms = 1000;
    cfg->mtu = 1400;
    cfg->max_members = 100000;
    cfg->max_keys = 64;
    cfg->max_value_size = 512;
    cfg->max_seeds = 16;
    cfg->syn_window = 8;
    cfg->burst_datagrams = 4;
    cfg->probe_interval_ms = 1000;
    cfg->probe_timeout_ms = 500;
    cfg->indirect_checks = 3;
    cfg->suspicion_min_mult = 1;
    cfg->suspicion_max_mult = 3;
    cfg->retransmit_mult = 4;
    cfg->awareness_max = 8;
    cfg->reap_timeout_ms = 3600000;
    cfg->leave_timeout_ms = 5000;
    cfg->monitored_peers = 16;
    cfg->phi_threshold_x100 = 800;
    cfg->inconclusive_retries = 2;
    cfg->generation = 1;
    cfg->rumor_stop = GOSSIP_RUMOR_FEEDBACK_COUNTER;
    cfg->rumor_k = 3;
    cfg->max_rumors = 64;
    cfg->event_buffer = 16;
    cfg->max_event_size = 256;
}

void node_log(gossip_node *n, enum gossip_log_level level, const char *fmt, ...)
{
    if (!n->cb.log)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    n->cb.log(n->ud, level, msg);
}

static bool valid_text(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t len = strnlen(s, max + 1);
    return len >= 1 && len <= max;
}

static int validate_config(const gossip_config *c)
{
    if (c->struct_version != GOSSIP_CONFIG_VERSION)
        return GOSSIP_ERR_INVALID;
    if (!valid_text(c->name, GOSSIP_MAX_NAME) || !valid_text(c->addr, GOSSIP_MAX_ADDR))
        return GOSSIP_ERR_INVALID;
    if (c->mode != GOSSIP_MODE_PUSH && c->mode != GOSSIP_MODE_PULL &&
        c->mode != GOSSIP_MODE_PUSHPULL)
        return GOSSIP_ERR_INVALID;
    if (c->fanout < 1 || c->fanout > 64 || c->gossip_interval_ms < 1)
        return GOSSIP_ERR_INVALID;
    if (c->mtu < GOSSIP_MIN_MTU || c->mtu > GOSSIP_MAX_MTU)
        return GOSSIP_ERR_INVALID;
    if (c->max_members < 1 || c->max_keys < 2 || c->max_keys > 4096 /* entries are counted in 16 bits */)
        return GOSSIP_ERR_INVALID;
    /* One entry must fit a datagram with room for the frame around it. */
    if (c->max_value_size > c->mtu - 256)
        return GOSSIP_ERR_INVALID;
    if (c->burst_datagrams < 1 || c->burst_datagrams > 16)
        return GOSSIP_ERR_INVALID;
    if (c->probe_interval_ms && (c->probe_timeout_ms < 1 ||
                                 c->probe_timeout_ms > c->probe_interval_ms))
        return GOSSIP_ERR_INVALID;
    if (c->indirect_checks > PROBE_HELPERS_MAX || c->suspicion_min_mult < 1 ||
        c->suspicion_max_mult < 1 || c->retransmit_mult < 1 || c->awareness_max < 1 ||
        c->awareness_max > 64 || c->leave_timeout_ms < 1 || c->monitored_peers > 1024)
        return GOSSIP_ERR_INVALID;
    if (c->syn_window > c->mtu / WIRE_MIN_DIGEST)
        return GOSSIP_ERR_INVALID;
    if (c->generation == 0 || c->incarnation > GOSSIP_MAX_INCARNATION)
        return GOSSIP_ERR_INVALID;
    if (c->event_buffer > GOSSIP_MAX_EVENT_BUFFER)
        return GOSSIP_ERR_INVALID;
    if (c->rumor_fanout > GOSSIP_MAX_RUMOR_FANOUT || c->rumor_k < 1 ||
        (unsigned)c->rumor_stop > GOSSIP_RUMOR_BLIND_COIN ||
        (c->rumor_fanout && (c->max_rumors < 1 || c->max_rumors > GOSSIP_MAX_RUMORS)))
        return GOSSIP_ERR_INVALID;
    return 0;
}

static void self_changed(gossip_node *n)
{
    table_changed(&n->tbl, n->self);
}

static int self_put(gossip_node *n, const char *key, const uint8_t *value, size_t len,
                    bool deleted)
{
    kv_view v = {key, (uint32_t)strlen(key), value, (uint32_t)len, ++n->version_counter,
                 deleted};
    bool changed;
    table_before_change(&n->tbl, n->self);
    int rc = endpoint_put_kv(table_ep(&n->tbl, n->self), n->alloc, &v, n->cfg.max_keys, &changed);
    self_changed(n);
    return rc;
}

int gossip_node_new(gossip_node **out, const gossip_config *cfg, const gossip_callbacks *cb,
                    void *ud)
{
    *out = NULL;
    if (!cfg || !cb || cb->struct_version != GOSSIP_CALLBACKS_VERSION || !cb->send)
        return GOSSIP_ERR_INVALID;
    int rc = validate_config(cfg);
    if (rc)
        return rc;
    const gossip_allocator *a = cfg->allocator ? cfg->allocator : gossip_default_allocator();
    gossip_node *n = ga_malloc(a, sizeof *n);
    if (!n)
        return GOSSIP_ERR_NOMEM;
    memset(n, 0, sizeof *n);
    n->alloc = a;
    n->cfg = *cfg;
    n->cb = *cb;
    n->ud = ud;
    n->cfg.name = ga_strndup(a, cfg->name, strlen(cfg->name));
    n->cfg.addr = ga_strndup(a, cfg->addr, strlen(cfg->addr));
    n->rx = ga_malloc(a, wire_msg_size(cfg->mtu));
    n->reqs = ga_malloc(a, (cfg->mtu / WIRE_MIN_DIGEST) * sizeof *n->reqs);
    n->plan = ga_malloc(a, exchange_plan_size(cfg->mtu));
    n->tx = ga_malloc(a, cfg->mtu);
    n->seeds = ga_malloc(a, cfg->max_seeds * sizeof *n->seeds + 1);
    table_init(&n->tbl, a, cfg->max_members);
    members_init(n);
    gossip_rng_seed(&n->rng, cfg->seed);
    n->limits.max_datagram = cfg->mtu;
    n->limits.max_value = cfg->max_value_size;
    n->limits.max_kvs_per_delta = cfg->max_keys;
    if (!n->cfg.name || !n->cfg.addr || !n->rx || !n->reqs || !n->plan || !n->tx || !n->seeds) {
        gossip_node_free(n);
        return GOSSIP_ERR_NOMEM;
    }
    wire_msg_init(n->rx, cfg->mtu);
    exchange_plan_init(n->plan, cfg->mtu);
    rc = table_add(&n->tbl, cfg->name, strlen(cfg->name), cfg->generation, &n->self);
    if (rc == 0) {
        table_before_change(&n->tbl, n->self);
        table_ep(&n->tbl, n->self)->heartbeat = ++n->version_counter;
        table_ep(&n->tbl, n->self)->incarnation = cfg->incarnation;
        self_changed(n);
        rc = self_put(n, GOSSIP_KEY_ADDRESS, (const uint8_t *)cfg->addr, strlen(cfg->addr), false);
    }
    if (rc == 0)
        rc = rumor_init(n);
    n->event_clock = cfg->event_ltime_floor;
    if (rc) {
        gossip_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

void gossip_node_free(gossip_node *n)
{
    if (!n)
        return;
    const gossip_allocator *a = n->alloc;
    members_free(n);
    rumor_free(n);
    table_free(&n->tbl);
    if (n->seeds)
        for (uint32_t i = 0; i < n->n_seeds; i++)
            ga_free(a, n->seeds[i]);
    ga_free(a, n->seeds);
    ga_free(a, n->rx);
    ga_free(a, n->reqs);
    ga_free(a, n->plan);
    ga_free(a, n->tx);
    ga_free(a, (char *)n->cfg.name);
    ga_free(a, (char *)n->cfg.addr);
    ga_free(a, n);
}

int gossip_node_add_seed(gossip_node *n, const char *addr)
{
    if (!valid_text(addr, GOSSIP_MAX_ADDR))
        return GOSSIP_ERR_INVALID;
    for (uint32_t i = 0; i < n->n_seeds; i++)
        if (strcmp(n->seeds[i], addr) == 0)
            return 0;
    if (n->n_seeds >= n->cfg.max_seeds)
        return GOSSIP_ERR_FULL;
    char *copy = ga_strndup(n->alloc, addr, strlen(addr));
    if (!copy)
        return GOSSIP_ERR_NOMEM;
    n->seeds[n->n_seeds++] = copy;
    return 0;
}

int gossip_node_contact(gossip_node *n, const char *addr, uint64_t now_ms)
{
    if (!valid_text(addr, GOSSIP_MAX_ADDR) || strcmp(addr, n->cfg.addr) == 0 || n->ms.left)
        return GOSSIP_ERR_INVALID;
    n->now = now_ms;
    int rc = gossip_node_add_seed(n, addr);
    if (rc && rc != GOSSIP_ERR_FULL)
        return rc;
    /* a fresh address: if we still know nobody, knock again soon */
    n->seed_knocks = 0;
    n->seed_next_ms = now_ms + n->cfg.gossip_interval_ms;
    exchange_contact(n, addr);
    return 0;
}

int gossip_node_tick(gossip_node *n, uint64_t now_ms)
{
    n->now = now_ms;
    if (n->ms.left)
        return 0;
    if (!n->started) {
        n->started = true;
        n->next_round_ms = now_ms;
        n->ms.next_probe_ms = now_ms + n->cfg.probe_interval_ms;
    }
    swim_tick(n, now_ms);
    rumor_flush(n); /* our own fresh writes: pushed at once */
    members_leave_progress(n, now_ms);
    members_reap(n, now_ms);
    if (now_ms < n->next_round_ms || n->ms.left)
        return 0;
    n->tbl.round = ++n->stats.rounds;
    if (n->cfg.heartbeat_bump) {
        table_before_change(&n->tbl, n->self);
        table_ep(&n->tbl, n->self)->heartbeat = ++n->version_counter;
        self_changed(n);
    }
    exchange_run_round(n);
    n->next_round_ms += n->cfg.gossip_interval_ms;
    if (n->next_round_ms <= now_ms) /* we were not ticked for a while */
        n->next_round_ms = now_ms + n->cfg.gossip_interval_ms;
    return 0;
}

uint64_t gossip_node_next_deadline(const gossip_node *n)
{
    if (!n->started)
        return 0;
    if (n->ms.left)
        return UINT64_MAX;
    uint64_t next = n->next_round_ms, swim = swim_next_deadline(n);
    if (swim < next)
        next = swim;
    if (n->ms.leaving && n->ms.leave_deadline_ms < next)
        next = n->ms.leave_deadline_ms;
    if (rumor_due(n) && n->now < next)
        next = n->now; /* a fresh rumor goes out at once */
    return next;
}

int gossip_node_leave(gossip_node *n, uint64_t now_ms)
{
    n->now = now_ms;
    return members_leave(n, now_ms);
}

int gossip_node_has_left(const gossip_node *n) { return n->ms.left; }

int gossip_node_force_leave(gossip_node *n, const char *name, uint64_t now_ms)
{
    if (!name || strnlen(name, GOSSIP_MAX_NAME + 1) > GOSSIP_MAX_NAME)
        return GOSSIP_ERR_INVALID;
    uint32_t idx = table_find(&n->tbl, name, strlen(name));
    if (idx == TABLE_NONE)
        return GOSSIP_ERR_NOT_FOUND;
    n->now = now_ms;
    return members_force_leave(n, idx, now_ms);
}

void node_begin_msg(gossip_node *n, wire_writer *w, uint8_t type, uint8_t flags, bool with_hash)
{
    wire_begin(w, n->tx, n->cfg.mtu, type);
    n->tx[4] = flags;
    const endpoint *self = table_ep(&n->tbl, n->self);
    /* Name and address always fit: they are bounded far below GOSSIP_MIN_MTU. */
    (void)wire_try_str(w, WK_FROM, ep_name(self), self->name_len);
    (void)wire_try_str(w, WK_ADDR, n->cfg.addr, strlen(n->cfg.addr));
    if (with_hash)
        (void)wire_try_uint(w, WK_TABLE_HASH, n->tbl.hash);
}

void node_send(gossip_node *n, const char *addr, size_t len, uint8_t type)
{
    n->stats.packets_sent[type]++;
    n->stats.bytes_sent[type] += len;
    n->cb.send(n->ud, addr, n->tx, len);
}

int gossip_node_recv(gossip_node *n, const char *from_addr, const uint8_t *buf, size_t len,
                     uint64_t now_ms)
{
    n->now = now_ms;
    if (n->ms.left)
        return 0; /* gone: we answer nobody */
    if (!from_addr || !buf) {
        n->stats.recv_errors++;
        return GOSSIP_ERR_INVALID;
    }
    int rc = wire_decode(buf, len, &n->limits, n->rx);
    if (rc) {
        n->stats.recv_errors++;
        node_log(n, GOSSIP_LOG_DEBUG, "msg=\"datagram rejected\" from=%s err=\"%s\"", from_addr,
                 gossip_strerror(rc));
        return rc;
    }
    n->ms.n_corrections = 0;
    n->stats.packets_recv[n->rx->type]++;
    n->stats.bytes_recv[n->rx->type] += len;
    monitor_on_datagram(n, n->rx->from, now_ms);
    members_apply_news(n, n->rx, now_ms);
    switch (n->rx->type) {
    case GOSSIP_MSG_PING:
    case GOSSIP_MSG_PING_REQ:
    case GOSSIP_MSG_PING_ACK:
        swim_on_msg(n, from_addr, n->rx, now_ms);
        return 0;
    default:
        return exchange_on_msg(n, from_addr, n->rx);
    }
}

/* ---- applying deltas --------------------------------------------------------- */

static kv_view kv_view_of_wire(const wire_kv *k)
{
    kv_view v = {k->key.ptr, k->key.len, k->value, k->value_len, k->version, k->deleted};
    return v;
}

/* Someone holds news of us that is newer than ours (we restarted with the
 * same generation, say): jump our version counter past it and re-announce. */
static void refute_stale_self(gossip_node *n, const wire_delta *d, uint64_t delta_max)
{
    endpoint *self = table_ep(&n->tbl, n->self);
    if (d->generation > self->generation) {
        /* Another process runs under our name with a newer generation:
         * two live nodes claim one name.  Say so loudly; merging them
         * silently would corrupt both. */
        n->stats.name_conflicts++;
        node_log(n, GOSSIP_LOG_ERROR,
                 "msg=\"another member claims our name with a newer generation\" name=%s "
                 "ours=%llu theirs=%llu",
                 ep_name(self), (unsigned long long)self->generation,
                 (unsigned long long)d->generation);
        return;
    }
    if (d->generation < self->generation || delta_max <= self->max_version)
        return; /* news of an earlier process of ours, or nothing new */
    node_log(n, GOSSIP_LOG_WARN,
             "msg=\"newer state about ourselves in gossip; re-asserting\" generation=%llu "
             "version=%llu",
             (unsigned long long)d->generation, (unsigned long long)delta_max);
    if (delta_max > n->version_counter)
        n->version_counter = delta_max;
    table_before_change(&n->tbl, n->self);
    self->heartbeat = ++n->version_counter;
    self_changed(n);
}

/* New keys a delta would add to `ep`, to refuse a delta whole rather than
 * apply part of it when it would pass max_keys. */
static uint32_t new_keys_in(const endpoint *ep, const wire_msg *m, const wire_delta *d)
{
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < d->kv_count; i++) {
        const wire_kv *k = &m->kvs[d->kv_first + i];
        if (!ep || !endpoint_find_kv(ep, k->key.ptr, k->key.len))
            fresh++;
    }
    return fresh;
}

static void notify(gossip_node *n, enum gossip_change_kind kind, const endpoint *ep,
                   const gossip_kv *kv)
{
    if (!n->cb.on_change)
        return;
    gossip_change c = {kind, ep_name(ep), ep->generation, NULL, NULL, 0, ep->max_version,
                       ep->incarnation, 0};
    if (kv) {
        c.key = kv->key;
        c.value = kv_value(kv);
        c.value_len = kv->value_len;
        c.version = kv->version;
    }
    n->cb.on_change(n->ud, &c);
}

static void merge_delta_record(gossip_node *n, uint32_t idx, const wire_delta *d)
{
    if (idx != TABLE_NONE && d->has_record)
        members_merge_record(n, idx, d->generation, d->incarnation, d->status, "", 0, n->now);
}


int node_apply_delta(gossip_node *n, const wire_msg *m, const wire_delta *d)
{
    uint64_t delta_max = d->heartbeat;
    for (uint32_t i = 0; i < d->kv_count; i++)
        if (m->kvs[d->kv_first + i].version > delta_max)
            delta_max = m->kvs[d->kv_first + i].version;

    uint32_t idx = table_find(&n->tbl, d->name.ptr, d->name.len);
    if (idx == n->self) {
        refute_stale_self(n, d, delta_max);
        return 0;
    }
    endpoint *ep = idx == TABLE_NONE ? NULL : table_ep(&n->tbl, idx);
    bool new_generation = !ep || d->generation > ep->generation;
    /* A delta continues from `from_version`: applying one that starts past
     * what we hold would leave a hole below our max_version. */
    if ((ep && d->generation < ep->generation) || (new_generation && d->from_version != 0) ||
        (!new_generation && d->from_version > ep->max_version)) {
        n->stats.deltas_stale++;
        merge_delta_record(n, idx, d);
        return 0;
    }
    uint32_t base_keys = new_generation || !ep ? 0 : ep->n_kvs;
    if (base_keys + new_keys_in(new_generation ? NULL : ep, m, d) > n->cfg.max_keys) {
        n->stats.recv_errors++;
        node_log(n, GOSSIP_LOG_WARN, "msg=\"delta refused: too many keys\" member=%.*s",
                 (int)d->name.len, d->name.ptr);
        return 0;
    }
    if (!ep && members_quarantined(n, d->name.ptr, d->name.len, d->generation, n->now)) {
        n->stats.deltas_stale++; /* forgotten on purpose; a restart may return */
        return 0;
    }
    if (!ep) {
        int rc = table_add(&n->tbl, d->name.ptr, d->name.len, d->generation, &idx);
        if (rc) {
            n->stats.table_full += rc == GOSSIP_ERR_FULL;
            return 0;
        }
        ep = table_ep(&n->tbl, idx);
        n->ms.count[GOSSIP_STATUS_ALIVE]++;
        members_on_new(n, idx);
    }
    uint8_t old_status = ep->status;
    char old_addr[GOSSIP_MAX_ADDR + 1] = "";
    bool had_addr = node_member_addr(n, idx, old_addr, sizeof old_addr);
    enum gossip_change_kind kind = 0;
    table_before_change(&n->tbl, idx);
    if (ep->max_version == 0 && ep->n_kvs == 0 && ep->heartbeat == 0)
        kind = GOSSIP_CHANGE_JOIN;
    else if (new_generation)
        kind = GOSSIP_CHANGE_RESTART;
    if (new_generation) {
        endpoint_reset(ep, n->alloc, d->generation);
        members_on_reset(n, idx, old_status);
    }
    bool changed = kind != 0;
    if (d->heartbeat > ep->heartbeat) {
        ep->heartbeat = d->heartbeat;
        changed = true;
    }
    uint32_t first_changed = UINT32_MAX;
    for (uint32_t i = 0; i < d->kv_count; i++) {
        kv_view v = kv_view_of_wire(&m->kvs[d->kv_first + i]);
        bool won = false;
        /* cannot fail for lack of keys: counted above */
        if (endpoint_put_kv(ep, n->alloc, &v, n->cfg.max_keys, &won) == GOSSIP_ERR_NOMEM)
            break;
        if (won && first_changed == UINT32_MAX)
            first_changed = i;
        changed |= won;
    }
    table_changed(&n->tbl, idx);
    if (!changed) {
        n->stats.deltas_stale++;
        merge_delta_record(n, idx, d);
        return 0;
    }
    n->stats.deltas_applied++;
    if (kind)
        notify(n, kind, ep, NULL);
    if (kind == GOSSIP_CHANGE_RESTART && old_status != GOSSIP_STATUS_ALIVE)
        notify(n, GOSSIP_CHANGE_ALIVE, ep, NULL); /* it was held dead: news for watchers */
    char new_addr[GOSSIP_MAX_ADDR + 1];
    if (had_addr && node_member_addr(n, idx, new_addr, sizeof new_addr) &&
        strcmp(old_addr, new_addr) != 0) {
        n->stats.address_changes++; /* e.g. a container restarted elsewhere */
        node_log(n, GOSSIP_LOG_INFO,
                 "msg=\"member moved to a new address\" member=%s from=%s to=%s generation=%llu",
                 ep_name(ep), old_addr, new_addr, (unsigned long long)ep->generation);
    }
    merge_delta_record(n, idx, d);
    if (first_changed != UINT32_MAX) {
        for (uint32_t i = first_changed; i < d->kv_count; i++) {
            const wire_kv *k = &m->kvs[d->kv_first + i];
            const gossip_kv *kv = endpoint_find_kv(ep, k->key.ptr, k->key.len);
            if (!kv || kv->version != k->version)
                continue;
            if (events_is_key(k->key.ptr, k->key.len))
                events_on_value(n, ep, kv);
            else
                notify(n, GOSSIP_CHANGE_STATE, ep, kv);
        }
    }
    return 1;
}

/* ---- own state and introspection ------------------------------------------- */

static bool valid_key(const char *key)
{
    return valid_text(key, GOSSIP_MAX_KEY);
}

/* Writes one of our keys and makes the change a rumor. */
static int own_write(gossip_node *n, const char *key, const uint8_t *value, size_t len)
{
    uint64_t before = table_ep(&n->tbl, n->self)->max_version;
    int rc = self_put(n, key, value, len, false);
    if (rc == 0)
        rumor_on_change(n, n->self, before);
    return rc;
}

int gossip_node_set_state(gossip_node *n, const char *key, const uint8_t *value, size_t len)
{
    if (!valid_key(key) || (len && !value) || events_is_key(key, strlen(key)))
        return GOSSIP_ERR_INVALID;
    if (len > n->cfg.max_value_size)
        return GOSSIP_ERR_OVERSIZE;
    return own_write(n, key, value, len);
}

int gossip_node_event(gossip_node *n, const char *name, const uint8_t *payload, size_t len,
                      uint64_t *ltime)
{
    return events_fire(n, name, payload, len, 0, ltime, own_write);
}

int gossip_node_event_flags(gossip_node *n, const char *name, const uint8_t *payload,
                            size_t len, uint32_t flags, uint64_t *ltime)
{
    return events_fire(n, name, payload, len, flags, ltime, own_write);
}

uint64_t gossip_node_event_clock(const gossip_node *n) { return n->event_clock; }

int gossip_node_del_state(gossip_node *n, const char *key)
{
    if (!valid_key(key) || events_is_key(key, strlen(key)))
        return GOSSIP_ERR_INVALID;
    const gossip_kv *kv = endpoint_find_kv(table_ep(&n->tbl, n->self), key, strlen(key));
    if (!kv || kv->deleted)
        return GOSSIP_ERR_NOT_FOUND;
    uint64_t before = table_ep(&n->tbl, n->self)->max_version;
    int rc = self_put(n, key, NULL, 0, true);
    if (rc == 0)
        rumor_on_change(n, n->self, before);
    return rc;
}

static const endpoint *lookup(const gossip_node *n, const char *name)
{
    if (!name)
        return table_ep(&n->tbl, n->self);
    uint32_t idx = table_find(&n->tbl, name, strlen(name));
    return idx == TABLE_NONE ? NULL : table_ep(&n->tbl, idx);
}

int gossip_node_get_state(const gossip_node *n, const char *name, const char *key,
                          const uint8_t **value, size_t *len, uint64_t *version)
{
    const endpoint *ep = lookup(n, name);
    if (!ep || !key)
        return GOSSIP_ERR_NOT_FOUND;
    const gossip_kv *kv = endpoint_find_kv(ep, key, strlen(key));
    if (!kv || kv->deleted)
        return GOSSIP_ERR_NOT_FOUND;
    if (value)
        *value = kv_value(kv);
    if (len)
        *len = kv->value_len;
    if (version)
        *version = kv->version;
    return 0;
}

bool node_member_addr(const gossip_node *n, uint32_t idx, char *buf, size_t cap)
{
    const endpoint *ep = table_ep(&n->tbl, idx);
    const gossip_kv *kv = endpoint_find_kv(ep, GOSSIP_KEY_ADDRESS, strlen(GOSSIP_KEY_ADDRESS));
    if (!kv || kv->deleted || kv->value_len == 0 || kv->value_len >= cap ||
        memchr(kv_value(kv), 0, kv->value_len))
        return false;
    memcpy(buf, kv_value(kv), kv->value_len);
    buf[kv->value_len] = '\0';
    return true;
}

size_t gossip_node_member_count(const gossip_node *n) { return n->tbl.n; }

static void fill_info(const gossip_node *n, uint32_t idx, gossip_member_info *out)
{
    const endpoint *ep = table_ep(&n->tbl, idx);
    const gossip_kv *addr = endpoint_find_kv(ep, GOSSIP_KEY_ADDRESS, strlen(GOSSIP_KEY_ADDRESS));
    out->name = ep_name(ep);
    out->addr = addr && !addr->deleted ? (const char *)kv_value(addr) : NULL;
    out->generation = ep->generation;
    out->heartbeat = ep->heartbeat;
    out->max_version = ep->max_version;
    out->key_count = 0;
    for (uint32_t i = 0; i < ep->n_kvs; i++)
        out->key_count += !ep->kvs[i].deleted;
    out->is_self = ep == table_ep(&n->tbl, n->self);
    out->status = (enum gossip_member_status)ep->status;
    out->incarnation = ep->incarnation;
    out->status_since_ms = ep->status_since_ms;
    out->phi = monitor_phi(n, idx, n->now);
}

int gossip_node_member_at(const gossip_node *n, size_t index, gossip_member_info *out)
{
    if (index >= n->tbl.n)
        return GOSSIP_ERR_NOT_FOUND;
    fill_info(n, (uint32_t)index, out);
    return 0;
}

int gossip_node_member_find(const gossip_node *n, const char *name, gossip_member_info *out)
{
    uint32_t idx = name ? table_find(&n->tbl, name, strlen(name)) : n->self;
    if (idx == TABLE_NONE)
        return GOSSIP_ERR_NOT_FOUND;
    fill_info(n, idx, out);
    return 0;
}

int gossip_node_foreach_key(const gossip_node *n, const char *name,
                            int (*fn)(void *ctx, const char *key, const uint8_t *value,
                                      size_t len, uint64_t version, int deleted),
                            void *ctx)
{
    const endpoint *ep = lookup(n, name);
    if (!ep)
        return GOSSIP_ERR_NOT_FOUND;
    for (uint32_t i = 0; i < ep->n_kvs; i++) {
        const gossip_kv *kv = &ep->kvs[i];
        if (fn(ctx, kv->key, kv_value(kv), kv->value_len, kv->version, kv->deleted))
            break;
    }
    return 0;
}

uint64_t gossip_node_table_hash(const gossip_node *n) { return n->tbl.hash; }

void gossip_node_get_stats(const gossip_node *n, gossip_stats *out)
{
    *out = n->stats;
    out->awareness = n->ms.awareness;
    out->phi_deferred = n->ms.phi_deferred;
    out->news_queue = n->ms.n_news;
    out->members_alive = n->ms.count[GOSSIP_STATUS_ALIVE];
    out->members_suspect = n->ms.count[GOSSIP_STATUS_SUSPECT];
    out->members_dead = n->ms.count[GOSSIP_STATUS_DEAD];
    out->members_left = n->ms.count[GOSSIP_STATUS_LEFT];
    out->rumors_hot = rumor_hot(n);
}
