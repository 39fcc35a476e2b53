/*
 * scenario.h -- what `gossip-sim run` simulates, parsed from a JSON file.
 *
 * The format (every key, default and limit) is documented in
 * docs/simulator.md.  Parsing is strict: an unknown key, a wrong type or a
 * value out of range is an error whose message names the key by its path,
 * e.g. "partitions[1].end_ms: must be greater than start_ms".
 *
 * A scenario can also be built in code (bench/bench_sim_scale.c): call
 * scenario_init(), fill the fields, add writes with scenario_add_writes(),
 * then scenario_validate().
 */
#ifndef GOSSIP_SIM_SCENARIO_H
#define GOSSIP_SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/gossip.h"

/* ---- limits (each documented in docs/simulator.md) --------------------- */
#define SCN_MAX_NODES 100000u            /* node names n0..n99999 */
#define SCN_MAX_FANOUT 16u
#define SCN_MIN_INTERVAL_MS 10u          /* below that, T is not a gossip period */
#define SCN_MAX_INTERVAL_MS 3600000u     /* one hour */
#define SCN_MAX_DURATION_MS 604800000ull /* one week of virtual time */
#define SCN_MAX_SEEDS 16u                /* the engine's default max_seeds */
#define SCN_MAX_LATENCY_MS 60000.0       /* any sampled latency is capped here */
#define SCN_MAX_PARTITIONS 256u
#define SCN_MAX_GROUPS 64u               /* groups in one partition */
#define SCN_MAX_KILLS 10000u
#define SCN_MAX_WRITES 100000u           /* after expanding generators */
#define SCN_MAX_VALUE 512u               /* the engine's default max_value_size */
#define SCN_MAX_DRIFT_PPM 100000         /* = DES_CLOCK_MAX_DRIFT_PPM: 10 % */
#define SCN_MAX_CLOCK_OFFSET_MS 86400000 /* one day */
#define SCN_MAX_DESCRIPTION 4096u
#define SCN_MAX_FILE_BYTES (16u * 1024 * 1024)

#define SCN_DEFAULT_SETTLE_MS 30000u
#define SCN_NODE_RANDOM (-1)             /* writes: "node": "random" */
#define SCN_NEVER UINT64_MAX             /* kills: no restart */

enum scn_latency_dist {
    SCN_LATENCY_CONSTANT = 0,
    SCN_LATENCY_UNIFORM = 1,
    SCN_LATENCY_LOGNORMAL = 2,
};

struct scn_latency {
    enum scn_latency_dist dist;
    double ms;          /* constant */
    double min_ms;      /* uniform */
    double max_ms;      /* uniform */
    double median_ms;   /* lognormal: median = e^mu */
    double p99_ms;      /* lognormal: 99th percentile = e^(mu + 2.326 sigma) */
};

/* Nodes in different groups of an active partition cannot exchange
 * packets; nodes in no group are unaffected.  Active in [start_ms, end_ms). */
struct scn_partition {
    uint64_t start_ms;
    uint64_t end_ms;
    int32_t *group_of;  /* `nodes` entries: group number, or -1 */
    uint32_t group_count;
};

struct scn_kill {
    uint32_t node;
    uint64_t at_ms;
    uint64_t restart_at_ms; /* SCN_NEVER: stays down */
};

struct scn_write {
    uint64_t at_ms;
    int32_t node;        /* index, or SCN_NODE_RANDOM: a live node at random */
    char *key;
    char *value;
    size_t value_len;
};

struct scenario {
    char *description;
    uint32_t nodes;
    enum gossip_mode mode;
    uint32_t fanout;
    uint32_t gossip_interval_ms;
    uint32_t mtu;
    int heartbeat_bump;
    uint64_t duration_ms;
    uint64_t settle_ms;
    uint64_t start_spread_ms;   /* node i starts at a random time in [0, this) */
    int seeds_first;            /* seed nodes start at 0, only the rest spread */
    uint32_t seeds[SCN_MAX_SEEDS];
    uint32_t seed_count;
    struct scn_latency latency;
    double loss;                /* probability a datagram is dropped, [0, 1) */
    int64_t drift_ppm_min, drift_ppm_max;
    uint64_t offset_ms_min, offset_ms_max;
    struct scn_partition *partitions;
    uint32_t partition_count;
    struct scn_kill *kills;
    uint32_t kill_count;
    struct scn_write *writes;
    uint32_t write_count;
    uint32_t write_capacity;
};

/* Defaults: 0 nodes (must be set), push-pull, fanout 1, T = 1000 ms,
 * MTU 1400, constant 1 ms latency, no loss, seeds [0], settle 30 s. */
void scenario_init(struct scenario *s);
void scenario_free(struct scenario *s);

/* Parse + validate.  On error return -1 and write a message naming the key
 * into err (NUL-terminated, truncated to errlen); *s is left freed. */
int scenario_parse_string(struct scenario *s, const char *json, char *err, size_t errlen);
int scenario_load_file(struct scenario *s, const char *path, char *err, size_t errlen);

/* Cross-field checks (also run by the parsers).  0 or -1 with err set. */
int scenario_validate(const struct scenario *s, char *err, size_t errlen);

/* Appends `count` writes at start_ms, start_ms + every_ms, ...; the value of
 * write i is "<value>-<i>" (or "<key>-<i>" if value is NULL).  Returns 0, or
 * -1 if SCN_MAX_WRITES would be exceeded or memory ran out. */
int scenario_add_writes(struct scenario *s, uint64_t start_ms, uint64_t every_ms,
                        uint32_t count, int32_t node, const char *key, const char *value);
/* One write with exactly this value. */
int scenario_add_write(struct scenario *s, uint64_t at_ms, int32_t node,
                       const char *key, const char *value);

/* The time of the last fault: node start, partition end, kill, restart or
 * write.  The invariant is checked settle_ms after it. */
uint64_t scenario_last_fault_ms(const struct scenario *s);

const char *scenario_mode_name(enum gossip_mode mode);

#endif
