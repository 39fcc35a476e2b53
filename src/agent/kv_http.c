/* kv_http.c -- /v1/kv: GET, PUT (?cas=VERSION) and DELETE of one key, and
 * GET /v1/kv/?prefix=P listing keys (kv_agent.h; docs/kv.md, "HTTP API").
 * http.c routes the requests here and sends the JSON built here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "agent/json_text.h"
#include "agent/kv_agent.h"



static const char *query(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static bool has_query(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name) != NULL;
}

/* Versions are HLC timestamps, about 2^57: past the 2^53 that JSON numbers
 * hold exactly in most clients (jq 1.6, JavaScript), so they go as decimal
 * strings. */
static json_t *version_text(uint64_t ts)
{
    char dec[24];
    snprintf(dec, sizeof dec, "%" PRIu64, ts);
    return json_string(dec);
}

static json_t *writer_hex(uint64_t w)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, w);
    return json_string(hex);
}

/* The JSON of one live entry. */
static json_t *entry_json(const recon_entry *e, bool with_value)
{
    char key[KV_MAX_KEY + 1];
    memcpy(key, e->key, e->key_len);
    key[e->key_len] = '\0';
    json_t *o = json_object();
    json_object_set_new(o, "key", agent_json_text(key));
    if (with_value)
        json_object_set_new(o, "value", agent_json_value(e->value, e->value_len));
    json_object_set_new(o, "version", version_text(e->version.ts));
    json_object_set_new(o, "writer", writer_hex(e->version.writer));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)kv_hlc_physical(e->version.ts)));
    json_object_set_new(o, "size", json_integer((json_int_t)e->value_len));
    return o;
}

/* A key in a path: 1..max bytes, no control characters. */
static bool key_ok(const char *key, uint32_t max, bool writing, unsigned *status, json_t **err)
{
    size_t n = strlen(key);
    if (n == 0 || n > max) {
        *err = agent_json_error(status, n > max ? 413 : 400, "key must be 1..%u bytes (kv_max_key), got %zu",
                     (unsigned)max, n);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f) {
            *err = agent_json_error(status, 400, "key must not contain control characters");
            return false;
        }
    if (writing && !agent_utf8_valid((const uint8_t *)key, n)) {
        *err = agent_json_error(status, 400, "key must be UTF-8 text");
        return false;
    }
    return true;
}

typedef struct lister {
    json_t **items;
    size_t n, cap;
    bool values;
    bool failed;
} lister;

static int list_one(void *arg, const recon_entry *e)
{
    lister *l = arg;
    if (e->tombstone)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        json_t **items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            l->failed = true;
            return 1;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n] = entry_json(e, l->values);
    if (!l->items[l->n]) {
        l->failed = true;
        return 1;
    }
    l->n++;
    return 0;
}

static int by_key(const void *x, const void *y)
{
    const char *a = json_string_value(json_object_get(*(json_t *const *)x, "key"));
    const char *b = json_string_value(json_object_get(*(json_t *const *)y, "key"));
    return strcmp(a ? a : "", b ? b : "");
}

static json_t *list(agent *a, struct MHD_Connection *conn, unsigned *status)
{
    const char *prefix = query(conn, "prefix");
    if (!prefix)
        prefix = "";
    lister l = {NULL, 0, 0, !has_query(conn, "keys"), false};
    agent_lock(a);
    kv_store *s = agent_kv_store(a);
    if (s)
        kv_each(s, prefix, strlen(prefix), list_one, &l);
    agent_unlock(a);
    if (!s || l.failed) {
        for (size_t i = 0; i < l.n; i++)
            json_decref(l.items[i]);
        free(l.items);
        return agent_json_error(status, 503, s ? "out of memory" : "the key-value store is not open");
    }
    if (l.n)
        qsort(l.items, l.n, sizeof *l.items, by_key);
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, l.items[i]);
    free(l.items);
    *status = 200;
    return arr;
}

json_t *agent_kv_http(agent *a, struct MHD_Connection *conn, enum agent_kv_op op,
                      const char *key, const char *body, size_t body_len, unsigned *status)
{
    if (op == AGENT_KV_LIST)
        return list(a, conn, status);
    agent_lock(a);
    uint32_t max_key = agent_cfg(a)->kv_max_key, max_value = agent_cfg(a)->kv_max_value;
    uint32_t max_entries = agent_cfg(a)->kv_max_entries;
    agent_unlock(a);
    json_t *err = NULL;
    if (!key_ok(key, max_key, op != AGENT_KV_GET, status, &err))
        return err;
    size_t klen = strlen(key);
    if (op == AGENT_KV_GET) {
        agent_lock(a);
        kv_store *s = agent_kv_store(a);
        recon_entry e;
        json_t *o = NULL;
        int rc = s ? kv_get(s, key, klen, &e) : GOSSIP_ERR_INVALID;
        if (rc == 0 && !e.tombstone)
            o = entry_json(&e, true);
        agent_unlock(a);
        if (rc == GOSSIP_ERR_INVALID)
            return agent_json_error(status, 503, "the key-value store is not open");
        if (!o)
            return agent_json_error(status, 404, "key \"%s\" is not set", key);
        *status = 200;
        return o;
    }
    uint64_t cas;
    const char *cas_text = query(conn, "cas");
    if (cas_text && !agent_parse_u64(cas_text, &cas))
        return agent_json_error(status, 400, "cas: must be an entry's version (an integer; 0: absent), got \"%.40s\"",
                     cas_text);
    if (op == AGENT_KV_PUT && body_len > max_value)
        return agent_json_error(status, 413, "value of %zu bytes is over kv_max_value (%u bytes)", body_len,
                     (unsigned)max_value);
    recon_version v;
    int sync_fd;
    agent_lock(a);
    int rc = agent_kv_write(a, (const uint8_t *)key, klen, (const uint8_t *)body,
                            op == AGENT_KV_PUT ? body_len : 0, op == AGENT_KV_DEL,
                            cas_text ? &cas : NULL, &v, &sync_fd);
    agent_unlock(a);
    if (rc == 0 && agent_kv_sync(a, sync_fd) != 0)
        return agent_json_error(status, 503,
                                "\"%s\" was applied but the disk refused the log write or its "
                                "sync: it may not survive a crash (counted in log_write_errors)",
                                key);
    switch (rc) {
    case 0:
        break;
    case KV_CAS_FAILED:
        return agent_json_error(status, 409, "cas: key \"%s\" is at version %" PRIu64 ", not %" PRIu64, key,
                     v.ts, cas);
    case GOSSIP_ERR_NOT_FOUND:
        return agent_json_error(status, 404, "key \"%s\" is not set", key);
    case GOSSIP_ERR_OVERSIZE:
        return agent_json_error(status, 413, "value of %zu bytes is over kv_max_value (%u bytes)", body_len,
                     (unsigned)max_value);
    case GOSSIP_ERR_FULL:
        return agent_json_error(status, 507, "the key-value store is full (kv_max_entries %u)",
                     (unsigned)max_entries);
    case GOSSIP_ERR_INVALID:
        return agent_json_error(status, 503, "the key-value store is not open");
    default:
        return agent_json_error(status, 503, "cannot write \"%s\": %s", key, gossip_strerror(rc));
    }
    *status = 200;
    json_t *o = json_object();
    json_object_set_new(o, "key", agent_json_text(key));
    json_object_set_new(o, "version", version_text(v.ts));
    json_object_set_new(o, "writer", writer_hex(v.writer));
    if (op == AGENT_KV_DEL)
        json_object_set_new(o, "deleted", json_true());
    else
        json_object_set_new(o, "size", json_integer((json_int_t)body_len));
    return o;
}
