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

/* failure-detection parts (scenario_fd.c) */
#define SCN_MAX_STALLS 10000u            /* explicit stalls */
#define SCN_MAX_STALL_MS 3600000u        /* one stall lasts at most an hour */
#define SCN_MAX_LEAVES 10000u            /* explicit leaves */
#define SCN_MAX_GENERATORS 64u           /* stall/kill/restart/leave generators in total */
#define SCN_MAX_INDIRECT_CHECKS 16u
#define SCN_MAX_FD_MULT 100u             /* suspicion_*_mult, retransmit_mult */
#define SCN_MAX_AWARENESS 64u
#define SCN_MAX_MONITORED_PEERS 1024u
#define SCN_MAX_PHI_THRESHOLD_X100 100000u /* phi 1000 */

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

/* A node processes nothing (no ticks, no receives) in [at_ms, at_ms +
 * duration_ms); datagrams reaching it meanwhile are delivered when it ends. */
struct scn_stall {
    uint32_t node;
    uint64_t at_ms;
    uint64_t duration_ms;
};

/* gossip_node_leave at at_ms; the node is removed once it has left. */
struct scn_leave {
    uint32_t node;
    uint64_t at_ms;
};

/* Engine settings of failure detection.  Only the ones a scenario sets are
 * applied; the others keep gossip_config_init's defaults. */
enum scn_fd_setting {
    SCN_FD_PROBE_INTERVAL_MS = 0,
    SCN_FD_PROBE_TIMEOUT_MS,
    SCN_FD_INDIRECT_CHECKS,
    SCN_FD_SUSPICION_MIN_MULT,
    SCN_FD_SUSPICION_MAX_MULT,
    SCN_FD_RETRANSMIT_MULT,
    SCN_FD_AWARENESS_MAX,
    SCN_FD_REAP_TIMEOUT_MS,
    SCN_FD_LEAVE_TIMEOUT_MS,
    SCN_FD_MONITORED_PEERS,
    SCN_FD_PHI_THRESHOLD_X100,
    SCN_FD_RUMOR_FANOUT,        /* rumor mongering (not failure detection, same table) */
    SCN_FD_RUMOR_K,
    SCN_FD_MAX_RUMORS,
    SCN_FD_SETTING_COUNT
};

/* A fault generator: `count` distinct nodes, each hit once at a uniform
 * random time in [from_ms, to_ms), drawn from the run seed (so every seed
 * picks other nodes and times).  Kill, restart and leave generators draw
 * from nodes that are not seeds and not named by an explicit kill or leave,
 * and never pick a node twice; stall generators draw from the nodes none of
 * those touch (seeds included), so a stall always hits a node that is up. */
enum scn_generator_kind {
    SCN_GEN_STALL = 0,
    SCN_GEN_KILL = 1,
    SCN_GEN_RESTART = 2,
    SCN_GEN_LEAVE = 3,
};

struct scn_generator {
    enum scn_generator_kind kind;
    uint32_t count;
    uint64_t from_ms, to_ms;
    uint64_t duration_ms;             /* stalls */
    uint64_t down_min_ms, down_max_ms; /* restarts: down time, uniform, inclusive */
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
    enum gossip_rumor_stop rumor_stop;
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
    uint32_t fd_value[SCN_FD_SETTING_COUNT];
    uint32_t fd_set;                  /* bit (1 << setting) per setting given */
    struct scn_stall *stalls;
    uint32_t stall_count;
    struct scn_leave *leaves;
    uint32_t leave_count;
    struct scn_generator generators[SCN_MAX_GENERATORS];
    uint32_t generator_count;
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

/* ---- failure detection (scenario_fd.c) --------------------------------- */

/* The JSON key of a setting under "engine", e.g. "probe_interval_ms". */
const char *scenario_fd_setting_name(enum scn_fd_setting setting);
/* Sets a failure-detection setting in code (checked by scenario_validate). */
void scenario_set_fd(struct scenario *s, enum scn_fd_setting setting, uint32_t value);
/* The engine configuration every node gets: gossip_config_init, then the
 * scenario's engine settings (mode, fanout, interval, MTU, heartbeat bump,
 * max_members = nodes, and the failure-detection settings it gives).
 * name, addr, generation and seed are left to the caller. */
void scenario_engine_config(const struct scenario *s, gossip_config *cfg);
/* Appends a generator; -1 if SCN_MAX_GENERATORS are already there. */
int scenario_add_generator(struct scenario *s, const struct scn_generator *g);
/* Nodes that kill, restart and leave generators may pick: not a seed, not
 * named by an explicit kill or leave.  Fills `out` (nodes entries) with
 * them in index order and returns how many. */
uint32_t scenario_generator_pool(const struct scenario *s, uint32_t *out);

#endif
