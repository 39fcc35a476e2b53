/* scenario_fd.c -- the failure-detection parts of a scenario: the engine's
 * SWIM settings, stalls, kill/restart/leave generators and graceful
 * leaves.  Format and limits: docs/simulator.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario_json.h"

/* One engine setting: its JSON key, accepted range and gossip_config field. */
struct fd_setting_spec {
    const char *name;
    uint32_t min, max;
    size_t config_offset;
};

#define FD_SETTING(field, lo, hi) {#field, (lo), (hi), offsetof(gossip_config, field)}

/* Indexed by enum scn_fd_setting.  probe_interval_ms 0 turns probing off;
 * timeouts are bounded by SCN_MAX_INTERVAL_MS (an hour) and reaping by a
 * week of virtual time, the longest run. */
static const struct fd_setting_spec fd_settings[SCN_FD_SETTING_COUNT] = {
    FD_SETTING(probe_interval_ms, 0, SCN_MAX_INTERVAL_MS),
    FD_SETTING(probe_timeout_ms, 1, SCN_MAX_INTERVAL_MS),
    FD_SETTING(indirect_checks, 0, SCN_MAX_INDIRECT_CHECKS),
    FD_SETTING(suspicion_min_mult, 1, SCN_MAX_FD_MULT),
    FD_SETTING(suspicion_max_mult, 1, SCN_MAX_FD_MULT),
    FD_SETTING(retransmit_mult, 1, SCN_MAX_FD_MULT),
    FD_SETTING(awareness_max, 1, SCN_MAX_AWARENESS),
    FD_SETTING(reap_timeout_ms, 1, (uint32_t)SCN_MAX_DURATION_MS),
    FD_SETTING(leave_timeout_ms, 1, SCN_MAX_INTERVAL_MS),
    FD_SETTING(monitored_peers, 0, SCN_MAX_MONITORED_PEERS),
    FD_SETTING(phi_threshold_x100, 1, SCN_MAX_PHI_THRESHOLD_X100),
    FD_SETTING(rumor_fanout, 0, GOSSIP_MAX_RUMOR_FANOUT),
    FD_SETTING(rumor_k, 1, 1000),
    FD_SETTING(max_rumors, 1, GOSSIP_MAX_RUMORS),
};

const char *scenario_fd_setting_name(enum scn_fd_setting setting)
{
    return setting < SCN_FD_SETTING_COUNT ? fd_settings[setting].name : "unknown";
}

void scenario_set_fd(struct scenario *s, enum scn_fd_setting setting, uint32_t value)
{
    if (setting >= SCN_FD_SETTING_COUNT)
        return;
    s->fd_value[setting] = value;
    s->fd_set |= 1u << setting;
}

static int fd_is_set(const struct scenario *s, enum scn_fd_setting setting)
{
    return (s->fd_set >> setting) & 1u;
}

void scenario_engine_config(const struct scenario *s, gossip_config *cfg)
{
    gossip_config_init(cfg);
    cfg->mode = s->mode;
    cfg->fanout = s->fanout;
    cfg->gossip_interval_ms = s->gossip_interval_ms;
    cfg->mtu = s->mtu;
    cfg->max_members = s->nodes;
    cfg->heartbeat_bump = s->heartbeat_bump;
    cfg->rumor_stop = s->rumor_stop;
    for (int i = 0; i < SCN_FD_SETTING_COUNT; i++) {
        if (!fd_is_set(s, (enum scn_fd_setting)i))
            continue;
        uint32_t *field = (uint32_t *)((char *)cfg + fd_settings[i].config_offset);
        *field = s->fd_value[i];
    }
}

int scenario_add_generator(struct scenario *s, const struct scn_generator *g)
{
    if (s->generator_count >= SCN_MAX_GENERATORS)
        return -1;
    s->generators[s->generator_count++] = *g;
    return 0;
}

int scn_parse_engine_fd(struct parse_ctx *ctx, json_t *engine, struct scenario *s)
{
    for (int i = 0; i < SCN_FD_SETTING_COUNT; i++) {
        const struct fd_setting_spec *spec = &fd_settings[i];
        if (!json_object_get(engine, spec->name))
            continue;
        uint64_t value;
        if (scn_read_uint(ctx, engine, "engine", spec->name, 1, spec->min, spec->max, &value))
            return -1;
        scenario_set_fd(s, (enum scn_fd_setting)i, (uint32_t)value);
    }
    return 0;
}

/* ---- generators ------------------------------------------------------- */

int scn_is_generator(json_t *obj)
{
    return json_is_object(obj) &&
           (json_object_get(obj, "count") || json_object_get(obj, "fraction"));
}

/* "count": n or "fraction": f (of all nodes, rounded to the nearest) -- one
 * of the two, at least one node. */
static int read_generator_count(struct parse_ctx *ctx, json_t *obj, const char *path,
                                const struct scenario *s, uint32_t *count)
{
    char sub[SCN_MAX_PATH];
    int has_count = json_object_get(obj, "count") != NULL;
    int has_fraction = json_object_get(obj, "fraction") != NULL;
    if (has_count && has_fraction)
        return scn_fail(ctx, path, "give \"count\" or \"fraction\", not both");
    if (has_count) {
        uint64_t n;
        if (scn_read_uint(ctx, obj, path, "count", 1, 1, s->nodes, &n))
            return -1;
        *count = (uint32_t)n;
        return 0;
    }
    double fraction;
    if (scn_read_number(ctx, obj, path, "fraction", 0.0, 1.0, 0, &fraction))
        return -1;
    *count = (uint32_t)llround(fraction * s->nodes);
    if (*count == 0) {
        scn_join_path(sub, path, "fraction");
        return scn_fail(ctx, sub, "selects no node out of %u", s->nodes);
    }
    return 0;
}

/* [a, b] with start_spread_ms <= a < b <= duration_ms: a half-open window. */
static int read_window(struct parse_ctx *ctx, json_t *obj, const char *path,
                       const struct scenario *s, uint64_t *from, uint64_t *to)
{
    char sub[SCN_MAX_PATH];
    scn_join_path(sub, path, "between_ms");
    json_t *v = json_object_get(obj, "between_ms");
    if (!v)
        return scn_fail(ctx, sub, "required");
    json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(a) ||
        !json_is_integer(b))
        return scn_fail(ctx, sub, "must be [from_ms, to_ms], two integers");
    json_int_t x = json_integer_value(a), y = json_integer_value(b);
    if (x < (json_int_t)s->start_spread_ms || y > (json_int_t)s->duration_ms || y <= x)
        return scn_fail(ctx, sub,
                        "must satisfy start_spread_ms (%llu) <= from_ms < to_ms <= "
                        "duration_ms (%llu), got [%lld, %lld]",
                        (unsigned long long)s->start_spread_ms,
                        (unsigned long long)s->duration_ms, (long long)x, (long long)y);
    *from = (uint64_t)x;
    *to = (uint64_t)y;
    return 0;
}

/* "down_ms": d or [min, max] (inclusive), 1 ms at least. */
static int read_down_time(struct parse_ctx *ctx, json_t *obj, const char *path,
                          const struct scenario *s, struct scn_generator *g)
{
    char sub[SCN_MAX_PATH];
    scn_join_path(sub, path, "down_ms");
    json_t *v = json_object_get(obj, "down_ms");
    if (!v)
        return scn_fail(ctx, sub, "required");
    if (json_is_integer(v)) {
        json_int_t d = json_integer_value(v);
        if (d < 1 || d > (json_int_t)s->duration_ms)
            return scn_fail(ctx, sub, "must be in [1, duration_ms]");
        g->down_min_ms = g->down_max_ms = (uint64_t)d;
        return 0;
    }
    json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(a) ||
        !json_is_integer(b))
        return scn_fail(ctx, sub, "must be an integer or [min_ms, max_ms]");
    json_int_t x = json_integer_value(a), y = json_integer_value(b);
    if (x < 1 || y < x || y > (json_int_t)s->duration_ms)
        return scn_fail(ctx, sub, "must satisfy 1 <= min_ms <= max_ms <= duration_ms");
    g->down_min_ms = (uint64_t)x;
    g->down_max_ms = (uint64_t)y;
    return 0;
}

static int add_parsed_generator(struct parse_ctx *ctx, const char *path, struct scenario *s,
                                const struct scn_generator *g)
{
    if (scenario_add_generator(s, g) != 0)
        return scn_fail(ctx, path, "more than %u generators in the scenario",
                        SCN_MAX_GENERATORS);
    return 0;
}

int scn_parse_kill_generator(struct parse_ctx *ctx, json_t *obj, const char *path,
                             struct scenario *s)
{
    static const char *const keys[] = {"count", "fraction", "between_ms", NULL};
    struct scn_generator g = {.kind = SCN_GEN_KILL};
    if (scn_check_keys(ctx, obj, path, keys) ||
        read_generator_count(ctx, obj, path, s, &g.count) ||
        read_window(ctx, obj, path, s, &g.from_ms, &g.to_ms))
        return -1;
    return add_parsed_generator(ctx, path, s, &g);
}

/* ---- stalls ------------------------------------------------------------ */

static int parse_stall_generator(struct parse_ctx *ctx, json_t *obj, const char *path,
                                 struct scenario *s)
{
    static const char *const keys[] = {"count", "fraction", "duration_ms", "between_ms",
                                       NULL};
    struct scn_generator g = {.kind = SCN_GEN_STALL};
    if (scn_check_keys(ctx, obj, path, keys) ||
        read_generator_count(ctx, obj, path, s, &g.count) ||
        scn_read_uint(ctx, obj, path, "duration_ms", 1, 1, SCN_MAX_STALL_MS, &g.duration_ms) ||
        read_window(ctx, obj, path, s, &g.from_ms, &g.to_ms))
        return -1;
    return add_parsed_generator(ctx, path, s, &g);
}

static int parse_stall(struct parse_ctx *ctx, json_t *obj, const char *path,
                       const struct scenario *s, struct scn_stall *st)
{
    static const char *const keys[] = {"node", "at_ms", "duration_ms", NULL};
    return scn_check_keys(ctx, obj, path, keys) ||
                   scn_read_node(ctx, obj, path, "node", s->nodes, &st->node) ||
                   scn_read_uint(ctx, obj, path, "at_ms", 1, s->start_spread_ms,
                                 s->duration_ms, &st->at_ms) ||
                   scn_read_uint(ctx, obj, path, "duration_ms", 1, 1, SCN_MAX_STALL_MS,
                                 &st->duration_ms)
               ? -1
               : 0;
}

int scn_parse_stalls(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    json_t *stalls;
    void *items;
    if (scn_take_array(ctx, root, "stalls", SCN_MAX_STALLS, sizeof *s->stalls, &stalls, &items))
        return -1;
    if (!stalls)
        return 0;
    s->stalls = items;
    size_t i;
    json_t *v;
    json_array_foreach(stalls, i, v) {
        char path[SCN_MAX_PATH];
        scn_index_path(path, "stalls", i);
        if (scn_expect_object(ctx, v, path))
            return -1;
        if (scn_is_generator(v)) {
            if (parse_stall_generator(ctx, v, path, s))
                return -1;
            continue;
        }
        if (parse_stall(ctx, v, path, s, &s->stalls[s->stall_count]))
            return -1;
        s->stall_count++;
    }
    return 0;
}

/* ---- restarts ------------------------------------------------------------ */

int scn_parse_restarts(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    static const char *const keys[] = {"count", "fraction", "between_ms", "down_ms", NULL};
    json_t *restarts = json_object_get(root, "restarts");
    if (!restarts)
        return 0;
    if (!json_is_array(restarts))
        return scn_fail(ctx, "restarts", "must be an array of generators");
    size_t i;
    json_t *v;
    json_array_foreach(restarts, i, v) {
        char path[SCN_MAX_PATH];
        scn_index_path(path, "restarts", i);
        struct scn_generator g = {.kind = SCN_GEN_RESTART};
        if (scn_expect_object(ctx, v, path) || scn_check_keys(ctx, v, path, keys) ||
            read_generator_count(ctx, v, path, s, &g.count) ||
            read_window(ctx, v, path, s, &g.from_ms, &g.to_ms) ||
            read_down_time(ctx, v, path, s, &g))
            return -1;
        if (g.to_ms + g.down_max_ms > s->duration_ms) {
            char sub[SCN_MAX_PATH];
            scn_join_path(sub, path, "down_ms");
            return scn_fail(ctx, sub, "a restart could fall after duration_ms");
        }
        if (add_parsed_generator(ctx, path, s, &g))
            return -1;
    }
    return 0;
}

/* ---- leaves --------------------------------------------------------------- */

static int parse_leave_generator(struct parse_ctx *ctx, json_t *obj, const char *path,
                                 struct scenario *s)
{
    static const char *const keys[] = {"count", "fraction", "between_ms", NULL};
    struct scn_generator g = {.kind = SCN_GEN_LEAVE};
    if (scn_check_keys(ctx, obj, path, keys) ||
        read_generator_count(ctx, obj, path, s, &g.count) ||
        read_window(ctx, obj, path, s, &g.from_ms, &g.to_ms))
        return -1;
    return add_parsed_generator(ctx, path, s, &g);
}

int scn_parse_leaves(struct parse_ctx *ctx, json_t *root, struct scenario *s)
{
    static const char *const keys[] = {"node", "at_ms", NULL};
    json_t *leaves;
    void *items;
    if (scn_take_array(ctx, root, "leaves", SCN_MAX_LEAVES, sizeof *s->leaves, &leaves, &items))
        return -1;
    if (!leaves)
        return 0;
    s->leaves = items;
    size_t i;
    json_t *v;
    json_array_foreach(leaves, i, v) {
        char path[SCN_MAX_PATH];
        scn_index_path(path, "leaves", i);
        if (scn_expect_object(ctx, v, path))
            return -1;
        if (scn_is_generator(v)) {
            if (parse_leave_generator(ctx, v, path, s))
                return -1;
            continue;
        }
        struct scn_leave *l = &s->leaves[s->leave_count];
        if (scn_check_keys(ctx, v, path, keys) ||
            scn_read_node(ctx, v, path, "node", s->nodes, &l->node) ||
            scn_read_uint(ctx, v, path, "at_ms", 1, s->start_spread_ms, s->duration_ms,
                          &l->at_ms))
            return -1;
        s->leave_count++;
    }
    return 0;
}

/* ---- cross-field checks ------------------------------------------------- */

uint32_t scenario_generator_pool(const struct scenario *s, uint32_t *out)
{
    uint32_t n = 0;
    for (uint32_t node = 0; node < s->nodes; node++) {
        int taken = 0;
        for (uint32_t i = 0; i < s->seed_count && !taken; i++)
            taken = s->seeds[i] == node;
        for (uint32_t i = 0; i < s->kill_count && !taken; i++)
            taken = s->kills[i].node == node;
        for (uint32_t i = 0; i < s->leave_count && !taken; i++)
            taken = s->leaves[i].node == node;
        if (!taken)
            out[n++] = node;
    }
    return n;
}

static uint64_t effective_leave_timeout_ms(const struct scenario *s)
{
    gossip_config cfg;
    scenario_engine_config(s, &cfg);
    return cfg.leave_timeout_ms;
}

static uint64_t generator_last_ms(const struct scn_generator *g, uint64_t leave_timeout_ms)
{
    switch (g->kind) {
    case SCN_GEN_STALL: return g->to_ms + g->duration_ms;
    case SCN_GEN_RESTART: return g->to_ms + g->down_max_ms;
    case SCN_GEN_LEAVE: return g->to_ms + leave_timeout_ms;
    case SCN_GEN_KILL:
    default: return g->to_ms;
    }
}

uint64_t scn_last_fd_fault_ms(const struct scenario *s)
{
    uint64_t last = 0;
    uint64_t leave_timeout_ms = effective_leave_timeout_ms(s);
    for (uint32_t i = 0; i < s->stall_count; i++)
        if (s->stalls[i].at_ms + s->stalls[i].duration_ms > last)
            last = s->stalls[i].at_ms + s->stalls[i].duration_ms;
    for (uint32_t i = 0; i < s->leave_count; i++)
        if (s->leaves[i].at_ms + leave_timeout_ms > last)
            last = s->leaves[i].at_ms + leave_timeout_ms;
    for (uint32_t i = 0; i < s->generator_count; i++) {
        uint64_t t = generator_last_ms(&s->generators[i], leave_timeout_ms);
        if (t > last)
            last = t;
    }
    return last;
}

/* Kill, restart and leave generators together may not ask for more nodes
 * than the pool holds: each node is hit by at most one of them. */
static int check_generator_pool(struct parse_ctx *ctx, const struct scenario *s)
{
    uint64_t wanted = 0, stall_max = 0;
    for (uint32_t i = 0; i < s->generator_count; i++) {
        const struct scn_generator *g = &s->generators[i];
        if (g->count < 1 || g->count > s->nodes || g->to_ms <= g->from_ms ||
            g->down_max_ms < g->down_min_ms)
            return scn_fail(ctx, "generators", "generator %u is malformed", i);
        if (g->kind == SCN_GEN_STALL)
            stall_max = g->count > stall_max ? g->count : stall_max;
        else
            wanted += g->count;
    }
    if (wanted == 0 && stall_max == 0)
        return 0;
    uint32_t *pool = malloc(s->nodes * sizeof *pool);
    if (!pool)
        return scn_fail(ctx, "generators", "out of memory");
    uint32_t available = scenario_generator_pool(s, pool);
    free(pool);
    if (wanted > available)
        return scn_fail(ctx, "kills",
                        "kill, restart and leave generators want %llu nodes, only %u are "
                        "neither seeds nor named by an explicit kill or leave",
                        (unsigned long long)wanted, available);
    /* Stalls go to seeds and to pool nodes no other generator took. */
    if (stall_max > available - wanted + s->seed_count)
        return scn_fail(ctx, "stalls",
                        "a stall generator wants %llu nodes, only %llu are untouched by "
                        "kills, restarts and leaves",
                        (unsigned long long)stall_max,
                        (unsigned long long)(available - wanted + s->seed_count));
    return 0;
}

int scn_validate_fd(struct parse_ctx *ctx, const struct scenario *s)
{
    for (int i = 0; i < SCN_FD_SETTING_COUNT; i++) {
        const struct fd_setting_spec *spec = &fd_settings[i];
        if (!fd_is_set(s, (enum scn_fd_setting)i))
            continue;
        if (s->fd_value[i] < spec->min || s->fd_value[i] > spec->max) {
            char sub[SCN_MAX_PATH];
            scn_join_path(sub, "engine", spec->name);
            return scn_fail(ctx, sub, "must be in [%u, %u]", spec->min, spec->max);
        }
    }
    if (fd_is_set(s, SCN_FD_PROBE_INTERVAL_MS) && fd_is_set(s, SCN_FD_PROBE_TIMEOUT_MS) &&
        s->fd_value[SCN_FD_PROBE_INTERVAL_MS] > 0 &&
        s->fd_value[SCN_FD_PROBE_TIMEOUT_MS] > s->fd_value[SCN_FD_PROBE_INTERVAL_MS])
        return scn_fail(ctx, "engine.probe_timeout_ms", "must not exceed probe_interval_ms");
    for (uint32_t i = 0; i < s->stall_count; i++)
        if (s->stalls[i].node >= s->nodes)
            return scn_fail(ctx, "stalls", "node %u does not exist", s->stalls[i].node);
    for (uint32_t i = 0; i < s->leave_count; i++)
        if (s->leaves[i].node >= s->nodes)
            return scn_fail(ctx, "leaves", "node %u does not exist", s->leaves[i].node);
    return check_generator_pool(ctx, s);
}
