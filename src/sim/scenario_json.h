/*
 * scenario_json.h -- the strict JSON field readers shared by the scenario
 * parsers (scenario.c: nodes, network, partitions, kills, writes;
 * scenario_fd.c: failure-detection settings, stalls, fault generators,
 * leaves).  Internal to src/sim.  Every reader names the offending key by
 * its path in the error message.
 */
#ifndef GOSSIP_SIM_SCENARIO_JSON_H
#define GOSSIP_SIM_SCENARIO_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/scenario.h"

/* Longest key path in an error message, e.g. "writes[12].every_ms". */
#define SCN_MAX_PATH 128

struct parse_ctx {
    char *err;
    size_t errlen;
};

/* Writes "<path>: <message>" into ctx->err; always returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int scn_fail(struct parse_ctx *ctx, const char *path, const char *fmt, ...);
/* The optional top-level array `key` of `root`: absent -> 0 with *array
 * NULL; otherwise checked to hold at most `max` entries, with zeroed room
 * for them (items of `item_size` bytes) in *items.  0 or -1 (message set). */
int scn_take_array(struct parse_ctx *ctx, json_t *root, const char *key, size_t max,
                   size_t item_size, json_t **array, void **items);
void scn_join_path(char *out, const char *parent, const char *key);
void scn_index_path(char *out, const char *parent, size_t i);
/* Rejects any key of `obj` not in the NULL-terminated `allowed`. */
int scn_check_keys(struct parse_ctx *ctx, json_t *obj, const char *path,
                   const char *const *allowed);
int scn_expect_object(struct parse_ctx *ctx, json_t *v, const char *path);
/* An integer in [min, max].  Missing: -1 with a message if required, else 0
 * leaving *out untouched. */
int scn_read_uint(struct parse_ctx *ctx, json_t *obj, const char *path, const char *key,
                  int required, uint64_t min, uint64_t max, uint64_t *out);
int scn_read_int(struct parse_ctx *ctx, json_t *obj, const char *path, const char *key,
                 int64_t min, int64_t max, int64_t *out);
/* A number in [min, max] (integers accepted); `open_max` excludes max. */
int scn_read_number(struct parse_ctx *ctx, json_t *obj, const char *path, const char *key,
                    double min, double max, int open_max, double *out);
int scn_read_string(struct parse_ctx *ctx, json_t *obj, const char *path, const char *key,
                    size_t max_len, const char **out, size_t *len);
/* A node index < nodes. */
int scn_read_node(struct parse_ctx *ctx, json_t *obj, const char *path, const char *key,
                  uint32_t nodes, uint32_t *out);

/* scenario_fd.c: the failure-detection parts of a scenario. */
int scn_parse_engine_fd(struct parse_ctx *ctx, json_t *engine, struct scenario *s);
int scn_parse_stalls(struct parse_ctx *ctx, json_t *root, struct scenario *s);
int scn_parse_leaves(struct parse_ctx *ctx, json_t *root, struct scenario *s);
int scn_parse_restarts(struct parse_ctx *ctx, json_t *root, struct scenario *s);
/* A kills[] entry with "count" or "fraction": a kill generator. */
int scn_is_generator(json_t *obj);
int scn_parse_kill_generator(struct parse_ctx *ctx, json_t *obj, const char *path,
                             struct scenario *s);
/* Cross-field checks of the failure-detection parts. */
int scn_validate_fd(struct parse_ctx *ctx, const struct scenario *s);
/* The latest moment a stall, generated fault or leave can still be under
 * way (part of scenario_last_fault_ms). */
uint64_t scn_last_fd_fault_ms(const struct scenario *s);

#endif
