/* scenario.c -- strict JSON scenario parsing (jansson) and validation.
 * The format is documented in docs/simulator.md. */
#include "sim/scenario.h"

#include <errno.h>
#include <jansson.h>

#include "sim/scenario_json.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int scn_take_array(struct parse_ctx *ctx, json_t *root, const char *key, size_t max,
                   size_t item_size, json_t **array, void **items)
{
    *items = NULL;
    *array = json_object_get(root, key);
    if (!*array)
        return 0;
    if (!json_is_array(*array) || json_array_size(*array) > max)
        return scn_fail(ctx, key, "must be an array of at most %zu entries", max);
    size_t count = json_array_size(*array);
    *items = calloc(count ? count : 1, item_size);
    if (!*items)
        return scn_fail(ctx, key, "out of memory");
    return 0;
}

int scn_fail(struct parse_ctx *ctx, const char *path, const char *fmt, ...)
{
    if (!ctx->err || ctx->errlen == 0)
        return -1;
    int n = snprintf(ctx->err, ctx->errlen, "%s: ", path);
    if (n >= 0 && (size_t)n < ctx->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Paths longer than SCN_MAX_PATH are truncated: still a useful message. */
void scn_join_path(char *out, const char *parent, const char *key)
{
    int n = parent[0] ? snprintf(out, SCN_MAX_PATH, "%s.%s", parent, key)
                      : snprintf(out, SCN_MAX_PATH, "%s", key);
    if (n < 0)
        out[0] = '\0';
}

void scn_index_path(char *out, const char *parent, size_t i)
{
    if (snprintf(out, SCN_MAX_PATH, "%s[%zu]", parent, i) < 0)
        out[0] = '\0';
}

/* ---- defaults and lifetime -------------------------------------------- */

void scenario_init(struct scenario *s)
{
    memset(s, 0, sizeof *s);
    s->mode = GOSSIP_MODE_PUSHPULL;
    s->fanout = 1;
    s->gossip_interval_ms = 1000;
    s->mtu = 1400;
    s->settle_ms = SCN_DEFAULT_SETTLE_MS;
    s->seeds[0] = 0;
    s->seed_count = 1;
    s->latency.dist = SCN_LATENCY_CONSTANT;
    s->latency.ms = 1.0;
}

void scenario_free(struct scenario *s)
{
    free(s->description);
    for (uint32_t i = 0; i < s->partition_count; i++)
        free(s->partitions[i].group_of);
    free(s->partitions);
    free(s->kills);
    for (uint32_t i = 0; i < s->write_count; i++) {
        free(s->writes[i].key);
        free(s->writes[i].value);
    }
    free(s->writes);
    free(s->stalls);
    free(s->leaves);
    memset(s, 0, sizeof *s);
}

const char *scenario_mode_name(enum gossip_mode mode)
{
    switch (mode) {
    case GOSSIP_MODE_PUSH: return "push";
    case GOSSIP_MODE_PULL: return "pull";
    case GOSSIP_MODE_PUSHPULL: return "pushpull";
    }
    return "unknown";
}

/* ---- writes ------------------------------------------------------------ */

static char *copy_string(const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    return copy;
}

static int append_write(struct scenario *s, uint64_t at_ms, int32_t node,
                        const char *key, const char *value, size_t value_len)
{
    if (s->write_count >= SCN_MAX_WRITES)
        return -1;
    if (s->write_count == s->write_capacity) {
        uint32_t capacity = s->write_capacity ? s->write_capacity * 2 : 16;
        struct scn_write *writes = realloc(s->writes, capacity * sizeof *writes);
        if (!writes)
            return -1;
        s->writes = writes;
        s->write_capacity = capacity;
    }
    struct scn_write *w = &s->writes[s->write_count];
    w->at_ms = at_ms;
    w->node = node;
    w->key = copy_string(key, strlen(key));
    w->value = copy_string(value, value_len);
    w->value_len = value_len;
    if (!w->key || !w->value) {
        free(w->key);
        free(w->value);
        return -1;
    }
    s->write_count++;
    return 0;
}

int scenario_add_write(struct scenario *s, uint64_t at_ms, int32_t node,
                       const char *key, const char *value)
{
    return append_write(s, at_ms, node, key, value, strlen(value));
}

int scenario_add_writes(struct scenario *s, uint64_t start_ms, uint64_t every_ms,
                        uint32_t count, int32_t node, const char *key, const char *value)
{
    if ((uint64_t)s->write_count + count > SCN_MAX_WRITES)
        return -1;
    const char *prefix = value ? value : key;
    char text[SCN_MAX_VALUE + 1];
    for (uint32_t i = 0; i < count; i++) {
        int n = snprintf(text, sizeof text, "%s-%u", prefix, i);
        if (n < 0 || (size_t)n >= sizeof text)
            return -1;
        if (append_write(s, start_ms + (uint64_t)i * every_ms, node, key, text, (size_t)n) != 0)
            return -1;
    }
    return 0;
}

uint64_t scenario_last_fault_ms(const struct scenario *s)
{
    uint64_t last = s->start_spread_ms;
    for (uint32_t i = 0; i < s->partition_count; i++)
        if (s->partitions[i].end_ms > last)
            last = s->partitions[i].end_ms;
    for (uint32_t i = 0; i < s->kill_count; i++) {
        const struct scn_kill *k = &s->kills[i];
        uint64_t t = k->restart_at_ms != SCN_NEVER ? k->restart_at_ms : k->at_ms;
        if (t > last)
            last = t;
    }
    for (uint32_t i = 0; i < s->write_count; i++)
        if (s->writes[i].at_ms > last)
            last = s->writes[i].at_ms;
    uint64_t fd_last = scn_last_fd_fault_ms(s);
    return fd_last > last ? fd_last : last;
}

/* ---- generic JSON field readers ---------------------------------------- */

/* Rejects any key of `obj` not in the NULL-terminated `allowed`. */
int scn_check_keys(struct parse_ctx *ctx, json_t *obj, const char *path,
                      const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        (void)value;
        int known = 0;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char sub[SCN_MAX_PATH];
            scn_join_path(sub, path, key);
            return scn_fail(ctx, sub, "unknown key");
        }
    }
    return 0;
}

int scn_expect_object(struct parse_ctx *ctx, json_t *v, const char *path)
{
    if (!json_is_object(v))
        return scn_fail(ctx, path, "must be an object");
    return 0;
}

/* Reads an integer in [min, max].  Missing: -1 with a message if required,
 * else 0 leaving *out untouched. */
int scn_read_uint(struct parse_ctx *ctx, json_t *obj, const char *path,
                     const char *key, int required, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    char sub[SCN_MAX_PATH];
    scn_join_path(sub, path, key);
    json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? scn_fail(ctx, sub, "required") : 0;
    if (!json_is_integer(v))
        return scn_fail(ctx, sub, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
        return scn_fail(ctx, sub, "must be in [%llu, %llu], got %lld",
                    (unsigned long long)min, (unsigned long long)max, (long long)x);
    *out = (uint64_t)x;
    return 0;
}

int scn_read_int(struct parse_ctx *ctx, json_t *obj, const char *path,
                    const char *key, int64_t min, int64_t max, int64_t *out)
{
    char sub[SCN_MAX_PATH];
    scn_join_path(sub, path, key);
    json_t *v = json_object_get(obj, key);
    if (!v)
        return scn_fail(ctx, sub, "required");
    if (!json_is_integer(v))
        return scn_fail(ctx, sub, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return scn_fail(ctx, sub, "must be in [%lld, %lld], got %lld",
                    (long long)min, (long long)max, (long long)x);
    *out = (int64_t)x;
    return 0;
}

/* A number in [min, max] (integers accepted); `open_max` excludes max. */
int scn_read_number(struct parse_ctx *ctx, json_t *obj, const char *path,
                       const char *key, double min, double max, int open_max,
                       double *out)
{
    char sub[SCN_MAX_PATH];
    scn_join_path(sub, path, key);
    json_t *v = json_object_get(obj, key);
    if (!v)
        return scn_fail(ctx, sub, "required");
    if (!json_is_number(v))
        return scn_fail(ctx, sub, "must be a number");
    double x = json_number_value(v);
    if (!(x >= min && (open_max ? x < max : x <= max)))
        return scn_fail(ctx, sub, "must be in [%g, %g%s, got %g", min, max,
                    open_max ? ")" : "]", x);
    *out = x;
    return 0;
}

/* A string of 1..max_len bytes; *out points into the JSON document. */
int scn_read_string(struct parse_ctx *ctx, json_t *obj, const char *path,
                       const char *key, size_t max_len, const char **out, size_t *len)
{
    char sub[SCN_MAX_PATH];
    scn_join_path(sub, path, key);
    json_t *v = json_object_get(obj, key);
    if (!v)
        return scn_fail(ctx, sub, "required");
    if (!json_is_string(v))
        return scn_fail(ctx, sub, "must be a string");
    size_t n = json_string_length(v);
    if (n == 0 || n > max_len)
        return scn_fail(ctx, sub, "must be 1 to %zu bytes long", max_len);
    if (memchr(json_string_value(v), '\0', n))
        return scn_fail(ctx, sub, "must not contain NUL");
    *out = json_string_value(v);
    if (len)
        *len = n;
    return 0;
}

/* A node index < nodes. */
int scn_read_node(struct parse_ctx *ctx, json_t *obj, const char *path,
                     const char *key, uint32_t nodes, uint32_t *out)
{
    uint64_t x;
    if (scn_read_uint(ctx, obj, path, key, 1, 0, nodes - 1, &x) != 0)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

/* ---- sections ----------------------------------------------------------- */

static int parse_mode(struct parse_ctx *ctx, json_t *engine, struct scenario *s)
{
    json_t *v = json_object_get(engine, "mode");
    if (!v)
        return 0;
    const char *name = json_is_string(v) ? json_string_value(v) : "";
    for (int m = GOSSIP_MODE_PUSH; m <= GOSSIP_MODE_PUSHPULL; m++) {
        if (strcmp(name, scenario_mode_name((enum gossip_mode)m)) == 0) {
            s->mode = (enum gossip_mode)m;
            return 0;
        }
    }
    return scn_fail(ctx, "engine.mode", "must be \"push\", \"pull\" or \"pushpull\"");
}

static int parse_engine(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    static const char *const keys[] = {
        "mode", "fanout", "gossip_interval_ms", "mtu", "heartbeat_bump",
        "probe_interval_ms", "probe_timeout_ms", "indirect_checks", "suspicion_min_mult",
        "suspicion_max_mult", "retransmit_mult", "awareness_max", "reap_timeout_ms",
        "leave_timeout_ms", "monitored_peers", "phi_threshold_x100", "rumor_fanout", "rumor_k",
        "max_rumors", "rumor_stop", NULL};
    json_t *engine = json_object_get(root, "engine");
    if (!engine)
        return 0;
    if (scn_expect_object(ctx, engine, "engine") || scn_check_keys(ctx, engine, "engine", keys) ||
        parse_mode(ctx, engine, s))
        return -1;
    uint64_t fanout = s->fanout, interval = s->gossip_interval_ms, mtu = s->mtu;
    if (scn_read_uint(ctx, engine, "engine", "fanout", 0, 1, SCN_MAX_FANOUT, &fanout) ||
        scn_read_uint(ctx, engine, "engine", "gossip_interval_ms", 0, SCN_MIN_INTERVAL_MS,
                  SCN_MAX_INTERVAL_MS, &interval) ||
        scn_read_uint(ctx, engine, "engine", "mtu", 0, GOSSIP_MIN_MTU, GOSSIP_MAX_MTU, &mtu))
        return -1;
    s->fanout = (uint32_t)fanout;
    s->gossip_interval_ms = (uint32_t)interval;
    s->mtu = (uint32_t)mtu;
    json_t *bump = json_object_get(engine, "heartbeat_bump");
    if (bump) {
        if (!json_is_boolean(bump))
            return scn_fail(ctx, "engine.heartbeat_bump", "must be true or false");
        s->heartbeat_bump = json_is_true(bump);
    }
    json_t *stop = json_object_get(engine, "rumor_stop");
    if (stop) {
        static const char *const names[] = {"feedback-counter", "feedback-coin", "blind-counter",
                                            "blind-coin"};
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (json_is_string(stop) && strcmp(json_string_value(stop), names[i]) == 0)
                found = i;
        if (found < 0)
            return scn_fail(ctx, "engine.rumor_stop",
                            "must be \"feedback-counter\", \"feedback-coin\", "
                            "\"blind-counter\" or \"blind-coin\"");
        s->rumor_stop = (enum gossip_rumor_stop)found;
    }
    return scn_parse_engine_fd(ctx, engine, s);
}

static int parse_seeds(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    json_t *seeds = json_object_get(root, "seeds");
    if (!seeds)
        return 0;
    if (!json_is_array(seeds) || json_array_size(seeds) == 0 ||
        json_array_size(seeds) > SCN_MAX_SEEDS)
        return scn_fail(ctx, "seeds", "must be an array of 1 to %u node indices", SCN_MAX_SEEDS);
    s->seed_count = 0;
    size_t i;
    json_t *v;
    json_array_foreach(seeds, i, v) {
        char sub[SCN_MAX_PATH];
        scn_index_path(sub, "seeds", i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= (json_int_t)s->nodes)
            return scn_fail(ctx, sub, "must be a node index in [0, %u)", s->nodes);
        uint32_t node = (uint32_t)json_integer_value(v);
        for (uint32_t j = 0; j < s->seed_count; j++)
            if (s->seeds[j] == node)
                return scn_fail(ctx, sub, "node %u is listed twice", node);
        s->seeds[s->seed_count++] = node;
    }
    return 0;
}

static int parse_latency(struct parse_ctx *ctx, json_t *latency, struct scenario *s)
{
    const char *path = "network.latency";
    if (scn_expect_object(ctx, latency, path))
        return -1;
    const char *dist;
    if (scn_read_string(ctx, latency, path, "dist", 16, &dist, NULL))
        return -1;
    struct scn_latency *l = &s->latency;
    if (strcmp(dist, "constant") == 0) {
        static const char *const keys[] = {"dist", "ms", NULL};
        l->dist = SCN_LATENCY_CONSTANT;
        return scn_check_keys(ctx, latency, path, keys) ||
               scn_read_number(ctx, latency, path, "ms", 0, SCN_MAX_LATENCY_MS, 0, &l->ms);
    }
    if (strcmp(dist, "uniform") == 0) {
        static const char *const keys[] = {"dist", "min_ms", "max_ms", NULL};
        l->dist = SCN_LATENCY_UNIFORM;
        if (scn_check_keys(ctx, latency, path, keys) ||
            scn_read_number(ctx, latency, path, "min_ms", 0, SCN_MAX_LATENCY_MS, 0, &l->min_ms) ||
            scn_read_number(ctx, latency, path, "max_ms", 0, SCN_MAX_LATENCY_MS, 0, &l->max_ms))
            return -1;
        if (l->max_ms < l->min_ms)
            return scn_fail(ctx, "network.latency.max_ms", "must be >= min_ms");
        return 0;
    }
    if (strcmp(dist, "lognormal") == 0) {
        static const char *const keys[] = {"dist", "median_ms", "p99_ms", NULL};
        l->dist = SCN_LATENCY_LOGNORMAL;
        if (scn_check_keys(ctx, latency, path, keys) ||
            scn_read_number(ctx, latency, path, "median_ms", 0.001, SCN_MAX_LATENCY_MS, 0,
                        &l->median_ms) ||
            scn_read_number(ctx, latency, path, "p99_ms", 0.001, SCN_MAX_LATENCY_MS, 0, &l->p99_ms))
            return -1;
        if (l->p99_ms < l->median_ms)
            return scn_fail(ctx, "network.latency.p99_ms", "must be >= median_ms");
        return 0;
    }
    return scn_fail(ctx, "network.latency.dist",
                "must be \"constant\", \"uniform\" or \"lognormal\"");
}

static int parse_network(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    static const char *const keys[] = {"latency", "loss", NULL};
    json_t *network = json_object_get(root, "network");
    if (!network)
        return 0;
    if (scn_expect_object(ctx, network, "network") || scn_check_keys(ctx, network, "network", keys))
        return -1;
    json_t *latency = json_object_get(network, "latency");
    if (latency && parse_latency(ctx, latency, s))
        return -1;
    if (json_object_get(network, "loss") &&
        scn_read_number(ctx, network, "network", "loss", 0.0, 1.0, 1, &s->loss))
        return -1;
    return 0;
}

/* {"min": a, "max": b} with lo <= a <= b <= hi. */
static int parse_int_range(struct parse_ctx *ctx, json_t *obj, const char *path,
                           int64_t lo, int64_t hi, int64_t *min, int64_t *max)
{
    static const char *const keys[] = {"min", "max", NULL};
    if (scn_expect_object(ctx, obj, path) || scn_check_keys(ctx, obj, path, keys) ||
        scn_read_int(ctx, obj, path, "min", lo, hi, min) ||
        scn_read_int(ctx, obj, path, "max", lo, hi, max))
        return -1;
    if (*max < *min) {
        char sub[SCN_MAX_PATH];
        scn_join_path(sub, path, "max");
        return scn_fail(ctx, sub, "must be >= min");
    }
    return 0;
}

static int parse_clock(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    static const char *const keys[] = {"drift_ppm", "offset_ms", NULL};
    json_t *clock = json_object_get(root, "clock");
    if (!clock)
        return 0;
    if (scn_expect_object(ctx, clock, "clock") || scn_check_keys(ctx, clock, "clock", keys))
        return -1;
    json_t *drift = json_object_get(clock, "drift_ppm");
    if (drift && parse_int_range(ctx, drift, "clock.drift_ppm", -SCN_MAX_DRIFT_PPM,
                                 SCN_MAX_DRIFT_PPM, &s->drift_ppm_min, &s->drift_ppm_max))
        return -1;
    json_t *offset = json_object_get(clock, "offset_ms");
    if (offset) {
        int64_t min, max;
        if (parse_int_range(ctx, offset, "clock.offset_ms", 0, SCN_MAX_CLOCK_OFFSET_MS,
                            &min, &max))
            return -1;
        s->offset_ms_min = (uint64_t)min;
        s->offset_ms_max = (uint64_t)max;
    }
    return 0;
}

/* One group: an array of node indices or {"from": a, "to": b} (half-open). */
static int parse_group(struct parse_ctx *ctx, json_t *group, const char *path,
                       uint32_t nodes, int32_t number, int32_t *group_of)
{
    if (json_is_object(group)) {
        static const char *const keys[] = {"from", "to", NULL};
        uint64_t from, to;
        if (scn_check_keys(ctx, group, path, keys) ||
            scn_read_uint(ctx, group, path, "from", 1, 0, nodes - 1, &from) ||
            scn_read_uint(ctx, group, path, "to", 1, 1, nodes, &to))
            return -1;
        if (to <= from) {
            char sub[SCN_MAX_PATH];
            scn_join_path(sub, path, "to");
            return scn_fail(ctx, sub, "must be greater than from");
        }
        for (uint64_t n = from; n < to; n++) {
            if (group_of[n] >= 0)
                return scn_fail(ctx, path, "node %llu is in two groups", (unsigned long long)n);
            group_of[n] = number;
        }
        return 0;
    }
    if (!json_is_array(group) || json_array_size(group) == 0)
        return scn_fail(ctx, path, "must be a non-empty array of node indices or {\"from\", \"to\"}");
    size_t i;
    json_t *v;
    json_array_foreach(group, i, v) {
        char sub[SCN_MAX_PATH];
        scn_index_path(sub, path, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= (json_int_t)nodes)
            return scn_fail(ctx, sub, "must be a node index in [0, %u)", nodes);
        json_int_t n = json_integer_value(v);
        if (group_of[n] >= 0)
            return scn_fail(ctx, sub, "node %lld is in two groups", (long long)n);
        group_of[n] = number;
    }
    return 0;
}

static int parse_partition(struct parse_ctx *ctx, json_t *obj, const char *path,
                           const struct scenario *s, struct scn_partition *p)
{
    static const char *const keys[] = {"start_ms", "end_ms", "groups", NULL};
    if (scn_expect_object(ctx, obj, path) || scn_check_keys(ctx, obj, path, keys) ||
        scn_read_uint(ctx, obj, path, "start_ms", 1, 0, s->duration_ms, &p->start_ms) ||
        scn_read_uint(ctx, obj, path, "end_ms", 1, 0, s->duration_ms, &p->end_ms))
        return -1;
    char sub[SCN_MAX_PATH];
    if (p->end_ms <= p->start_ms) {
        scn_join_path(sub, path, "end_ms");
        return scn_fail(ctx, sub, "must be greater than start_ms");
    }
    scn_join_path(sub, path, "groups");
    json_t *groups = json_object_get(obj, "groups");
    if (!json_is_array(groups) || json_array_size(groups) < 2 ||
        json_array_size(groups) > SCN_MAX_GROUPS)
        return scn_fail(ctx, sub, "must be an array of 2 to %u groups", SCN_MAX_GROUPS);
    p->group_of = malloc(s->nodes * sizeof *p->group_of);
    if (!p->group_of)
        return scn_fail(ctx, sub, "out of memory");
    for (uint32_t n = 0; n < s->nodes; n++)
        p->group_of[n] = -1;
    p->group_count = (uint32_t)json_array_size(groups);
    size_t i;
    json_t *group;
    json_array_foreach(groups, i, group) {
        char gpath[SCN_MAX_PATH];
        scn_index_path(gpath, sub, i);
        if (parse_group(ctx, group, gpath, s->nodes, (int32_t)i, p->group_of))
            return -1;
    }
    return 0;
}

static int parse_partitions(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    json_t *partitions;
    void *items;
    if (scn_take_array(ctx, root, "partitions", SCN_MAX_PARTITIONS, sizeof *s->partitions,
                       &partitions, &items))
        return -1;
    if (!partitions)
        return 0;
    s->partitions = items;
    size_t i;
    json_t *v;
    json_array_foreach(partitions, i, v) {
        char path[SCN_MAX_PATH];
        scn_index_path(path, "partitions", i);
        s->partition_count = (uint32_t)i + 1; /* so scenario_free sees it */
        if (parse_partition(ctx, v, path, s, &s->partitions[i]))
            return -1;
    }
    return 0;
}

static int parse_kill(struct parse_ctx *ctx, json_t *obj, const char *path,
                      const struct scenario *s, struct scn_kill *k)
{
    static const char *const keys[] = {"node", "at_ms", "restart_at_ms", NULL};
    if (scn_expect_object(ctx, obj, path) || scn_check_keys(ctx, obj, path, keys) ||
        scn_read_node(ctx, obj, path, "node", s->nodes, &k->node) ||
        scn_read_uint(ctx, obj, path, "at_ms", 1, s->start_spread_ms, s->duration_ms, &k->at_ms))
        return -1;
    k->restart_at_ms = SCN_NEVER;
    if (scn_read_uint(ctx, obj, path, "restart_at_ms", 0, 0, s->duration_ms, &k->restart_at_ms))
        return -1;
    if (k->restart_at_ms != SCN_NEVER && k->restart_at_ms <= k->at_ms) {
        char sub[SCN_MAX_PATH];
        scn_join_path(sub, path, "restart_at_ms");
        return scn_fail(ctx, sub, "must be greater than at_ms");
    }
    return 0;
}

/* Two down-windows of the same node must not overlap. */
static int check_kill_overlap(struct parse_ctx *ctx, const struct scenario *s)
{
    for (uint32_t i = 0; i < s->kill_count; i++) {
        const struct scn_kill *a = &s->kills[i];
        for (uint32_t j = 0; j < i; j++) {
            const struct scn_kill *b = &s->kills[j];
            if (a->node != b->node)
                continue;
            int a_after_b = b->restart_at_ms != SCN_NEVER && a->at_ms > b->restart_at_ms;
            int b_after_a = a->restart_at_ms != SCN_NEVER && b->at_ms > a->restart_at_ms;
            if (!a_after_b && !b_after_a) {
                char path[SCN_MAX_PATH];
                scn_index_path(path, "kills", i);
                return scn_fail(ctx, path, "node %u is already down then (kills[%u])",
                            a->node, j);
            }
        }
    }
    return 0;
}

static int parse_kills(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    json_t *kills;
    void *items;
    if (scn_take_array(ctx, root, "kills", SCN_MAX_KILLS, sizeof *s->kills, &kills, &items))
        return -1;
    if (!kills)
        return 0;
    s->kills = items;
    size_t i;
    json_t *v;
    json_array_foreach(kills, i, v) {
        char path[SCN_MAX_PATH];
        scn_index_path(path, "kills", i);
        if (scn_is_generator(v)) {
            if (scn_parse_kill_generator(ctx, v, path, s))
                return -1;
            continue;
        }
        if (parse_kill(ctx, v, path, s, &s->kills[s->kill_count]))
            return -1;
        s->kill_count++;
    }
    return check_kill_overlap(ctx, s);
}

/* "node": an index or "random". */
static int parse_write_node(struct parse_ctx *ctx, json_t *obj, const char *path,
                            const struct scenario *s, int32_t *node)
{
    json_t *v = json_object_get(obj, "node");
    if (json_is_string(v) && strcmp(json_string_value(v), "random") == 0) {
        *node = SCN_NODE_RANDOM;
        return 0;
    }
    char sub[SCN_MAX_PATH];
    scn_join_path(sub, path, "node");
    if (!v)
        return scn_fail(ctx, sub, "required");
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) >= (json_int_t)s->nodes)
        return scn_fail(ctx, sub, "must be a node index in [0, %u) or \"random\"", s->nodes);
    *node = (int32_t)json_integer_value(v);
    return 0;
}

static int parse_write(struct parse_ctx *ctx, json_t *obj, const char *path,
                       struct scenario *s)
{
    static const char *const single_keys[] = {"at_ms", "node", "key", "value", NULL};
    static const char *const series_keys[] = {"start_ms", "every_ms", "count", "node",
                                              "key", "value", NULL};
    if (scn_expect_object(ctx, obj, path))
        return -1;
    int series = json_object_get(obj, "every_ms") || json_object_get(obj, "count") ||
                 json_object_get(obj, "start_ms");
    int32_t node = 0;
    const char *key, *value = NULL;
    size_t value_len = 0;
    if (scn_check_keys(ctx, obj, path, series ? series_keys : single_keys) ||
        parse_write_node(ctx, obj, path, s, &node) ||
        scn_read_string(ctx, obj, path, "key", GOSSIP_MAX_KEY, &key, NULL))
        return -1;
    /* A generated value gets "-<i>" appended: leave room for it. */
    size_t max_value = series ? SCN_MAX_VALUE - 12 : SCN_MAX_VALUE;
    if (json_object_get(obj, "value") &&
        scn_read_string(ctx, obj, path, "value", max_value, &value, &value_len))
        return -1;
    if (!series) {
        uint64_t at_ms;
        if (scn_read_uint(ctx, obj, path, "at_ms", 1, s->start_spread_ms, s->duration_ms, &at_ms))
            return -1;
        if (append_write(s, at_ms, node, key, value ? value : key,
                         value ? value_len : strlen(key)))
            return scn_fail(ctx, path, "more than %u writes in total", SCN_MAX_WRITES);
        return 0;
    }
    uint64_t start_ms, every_ms, count;
    if (scn_read_uint(ctx, obj, path, "start_ms", 1, s->start_spread_ms, s->duration_ms, &start_ms) ||
        scn_read_uint(ctx, obj, path, "every_ms", 1, 1, s->duration_ms, &every_ms) ||
        scn_read_uint(ctx, obj, path, "count", 1, 1, SCN_MAX_WRITES, &count))
        return -1;
    if (start_ms + (count - 1) * every_ms > s->duration_ms) {
        char sub[SCN_MAX_PATH];
        scn_join_path(sub, path, "count");
        return scn_fail(ctx, sub, "the last write (at %llu ms) falls after duration_ms",
                    (unsigned long long)(start_ms + (count - 1) * every_ms));
    }
    if (scenario_add_writes(s, start_ms, every_ms, (uint32_t)count, node, key, value))
        return scn_fail(ctx, path, "more than %u writes in total", SCN_MAX_WRITES);
    return 0;
}

static int parse_writes(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    json_t *writes = json_object_get(root, "writes");
    if (!writes)
        return 0;
    if (!json_is_array(writes))
        return scn_fail(ctx, "writes", "must be an array");
    size_t i;
    json_t *v;
    json_array_foreach(writes, i, v) {
        char path[SCN_MAX_PATH];
        scn_index_path(path, "writes", i);
        if (parse_write(ctx, v, path, s))
            return -1;
    }
    return 0;
}

static int parse_top(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    static const char *const keys[] = {"description", "nodes", "engine", "duration_ms",
                                       "settle_ms", "start_spread_ms", "seeds_first",
                                       "seeds", "network", "clock", "partitions", "kills",
                                       "writes", "stalls", "restarts", "leaves", NULL};
    if (scn_expect_object(ctx, root, "scenario") || scn_check_keys(ctx, root, "", keys))
        return -1;
    uint64_t nodes;
    if (scn_read_uint(ctx, root, "", "nodes", 1, 1, SCN_MAX_NODES, &nodes) ||
        scn_read_uint(ctx, root, "", "duration_ms", 1, 1, SCN_MAX_DURATION_MS, &s->duration_ms) ||
        scn_read_uint(ctx, root, "", "settle_ms", 0, 0, SCN_MAX_DURATION_MS, &s->settle_ms) ||
        scn_read_uint(ctx, root, "", "start_spread_ms", 0, 0, s->duration_ms, &s->start_spread_ms))
        return -1;
    s->nodes = (uint32_t)nodes;
    json_t *seeds_first = json_object_get(root, "seeds_first");
    if (seeds_first) {
        if (!json_is_boolean(seeds_first))
            return scn_fail(ctx, "seeds_first", "must be true or false");
        s->seeds_first = json_is_true(seeds_first);
    }
    if (json_object_get(root, "description")) {
        const char *text;
        size_t len;
        if (scn_read_string(ctx, root, "", "description", SCN_MAX_DESCRIPTION, &text, &len))
            return -1;
        if (!(s->description = copy_string(text, len)))
            return scn_fail(ctx, "description", "out of memory");
    }
    return parse_engine(ctx, root, s) || parse_seeds(ctx, root, s) ||
           parse_network(ctx, root, s) || parse_clock(ctx, root, s) ||
           parse_partitions(ctx, root, s) || parse_kills(ctx, root, s) ||
           parse_writes(ctx, root, s) || scn_parse_stalls(ctx, root, s) ||
           scn_parse_restarts(ctx, root, s) || scn_parse_leaves(ctx, root, s) ? -1 : 0;
}

int scenario_validate(const struct scenario *s, char *err, size_t errlen)
{
    struct parse_ctx ctx = {err, errlen};
    if (s->nodes < 1 || s->nodes > SCN_MAX_NODES)
        return scn_fail(&ctx, "nodes", "must be in [1, %u]", SCN_MAX_NODES);
    if (s->duration_ms < 1 || s->duration_ms > SCN_MAX_DURATION_MS)
        return scn_fail(&ctx, "duration_ms", "must be in [1, %llu]",
                    (unsigned long long)SCN_MAX_DURATION_MS);
    if (s->seed_count < 1 || s->seed_count > SCN_MAX_SEEDS)
        return scn_fail(&ctx, "seeds", "must list 1 to %u nodes", SCN_MAX_SEEDS);
    for (uint32_t i = 0; i < s->seed_count; i++)
        if (s->seeds[i] >= s->nodes)
            return scn_fail(&ctx, "seeds", "node %u does not exist", s->seeds[i]);
    if (s->fanout < 1 || s->fanout > SCN_MAX_FANOUT)
        return scn_fail(&ctx, "engine.fanout", "must be in [1, %u]", SCN_MAX_FANOUT);
    if (s->gossip_interval_ms < SCN_MIN_INTERVAL_MS || s->gossip_interval_ms > SCN_MAX_INTERVAL_MS)
        return scn_fail(&ctx, "engine.gossip_interval_ms", "must be in [%u, %u]",
                    SCN_MIN_INTERVAL_MS, SCN_MAX_INTERVAL_MS);
    if (s->mtu < GOSSIP_MIN_MTU || s->mtu > GOSSIP_MAX_MTU)
        return scn_fail(&ctx, "engine.mtu", "must be in [%u, %u]", GOSSIP_MIN_MTU, GOSSIP_MAX_MTU);
    if (!(s->loss >= 0.0 && s->loss < 1.0))
        return scn_fail(&ctx, "network.loss", "must be in [0, 1)");
    if (s->start_spread_ms > s->duration_ms)
        return scn_fail(&ctx, "start_spread_ms", "must not exceed duration_ms");
    if (scn_validate_fd(&ctx, s) != 0)
        return -1;
    uint64_t check_at = scenario_last_fault_ms(s) + s->settle_ms;
    if (check_at > s->duration_ms)
        return scn_fail(&ctx, "settle_ms",
                    "the last fault at %llu ms plus settle_ms = %llu ms exceeds duration_ms "
                    "(%llu ms)", (unsigned long long)scenario_last_fault_ms(s),
                    (unsigned long long)check_at, (unsigned long long)s->duration_ms);
    return 0;
}

int scenario_parse_string(struct scenario *s, const char *json, char *err, size_t errlen)
{
    struct parse_ctx ctx = {err, errlen};
    scenario_init(s);
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        scn_fail(&ctx, "scenario", "invalid JSON at line %d column %d: %s", jerr.line,
             jerr.column, jerr.text);
        return -1;
    }
    int rc = parse_top(&ctx, root, s);
    json_decref(root);
    if (rc == 0)
        rc = scenario_validate(s, err, errlen);
    if (rc != 0)
        scenario_free(s);
    return rc;
}

int scenario_load_file(struct scenario *s, const char *path, char *err, size_t errlen)
{
    struct parse_ctx ctx = {err, errlen};
    scenario_init(s);
    FILE *f = fopen(path, "rb");
    if (!f)
        return scn_fail(&ctx, "file", "cannot open (%s)", strerror(errno));
    char *text = malloc(SCN_MAX_FILE_BYTES + 1);
    size_t len = text ? fread(text, 1, SCN_MAX_FILE_BYTES + 1, f) : 0;
    int read_error = ferror(f);
    fclose(f);
    if (!text)
        return scn_fail(&ctx, "file", "out of memory");
    if (read_error || len > SCN_MAX_FILE_BYTES) {
        free(text);
        return scn_fail(&ctx, "file", read_error ? "read error" : "larger than %u bytes",
                    SCN_MAX_FILE_BYTES);
    }
    text[len] = '\0';
    int rc = scenario_parse_string(s, text, err, errlen);
    free(text);
    return rc;
}
