/* cmd_run.c -- `gossip-sim run --scenario FILE [--seed S] [--json] [--timing]`.
 * Exit status: 0 ok, 1 invariant violated, 2 bad usage or scenario,
 * 3 the simulator itself failed. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sim/cli_args.h"
#include "sim/run_sim.h"
#include "sim/scenario.h"
#include "sim/sim.h"

#define RUN_EXIT_OK 0
#define RUN_EXIT_VIOLATION 1
#define RUN_EXIT_USAGE 2
#define RUN_EXIT_FAILURE 3
#define RUN_DEFAULT_SEED 1u
#define RUN_MAX_ERROR 512

static const char CMD[] = "run";

enum flag_id { F_SCENARIO, F_SEED, F_TIMING, F_TRACE, F_MEMBERS, F_COUNT };

static const sim_flag flags[F_COUNT] = {
    [F_SCENARIO] = {"--scenario", true}, [F_SEED] = {"--seed", true},
    [F_TIMING] = {"--timing", false},    [F_TRACE] = {"--trace", true},
    [F_MEMBERS] = {"--members", true},
};

struct run_options {
    const char *scenario;
    uint64_t seed;
    bool json, timing, help;
    const char *trace;    /* node name, or NULL */
    const char *members;  /* node name whose member table to print, or NULL */
    bool given[F_COUNT];
};

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: gossip-sim run --scenario FILE [--seed S] [--json] [--timing]\n"
            "                      [--trace NODE] [--members NODE]\n"
            "\n"
            "Runs real libgossip nodes over a simulated network described by FILE\n"
            "(format: docs/simulator.md).  One seed reproduces the run exactly.\n"
            "\n"
            "  --scenario FILE  the JSON scenario (required)\n"
            "  --seed S         run seed, an unsigned 64-bit integer (default %u)\n"
            "  --json           print one JSON object instead of a table\n"
            "  --timing         print wall time, events/s and peak RSS to stderr\n"
            "  --trace NODE     print to stderr what every node learns about NODE\n"
            "                   (e.g. n7: suspect, dead, alive ...) and its faults\n"
            "  --members NODE   at the end, print NODE's member table to stderr:\n"
            "                   status, generation, incarnation, max version, phi\n"
            "\n"
            "exit status: 0 ok, 1 invariant violated, 2 bad usage or scenario,\n"
            "3 the simulator failed\n",
            RUN_DEFAULT_SEED);
}

static int apply_option(void *ctx, size_t id, const char *flag, const char *value)
{
    struct run_options *o = ctx;
    switch ((enum flag_id)id) {
    case F_SCENARIO:
        o->scenario = value;
        return 0;
    case F_SEED:
        return sim_parse_seed(CMD, flag, value, &o->seed);
    case F_TIMING:
        o->timing = true;
        return 0;
    case F_TRACE:
        o->trace = value;
        return 0;
    case F_MEMBERS:
        o->members = value;
        return 0;
    case F_COUNT:
        break;
    }
    return 0;
}

/* Returns -1 to run, else the exit status. */
static int parse_options(int argc, char **argv, struct run_options *o)
{
    o->seed = RUN_DEFAULT_SEED;
    int rc = sim_parse_flags(CMD, argc, argv, flags, F_COUNT, o->given, &o->help, &o->json,
                             apply_option, o);
    if (rc != 0)
        return rc;
    if (o->help) {
        run_usage(stdout);
        return RUN_EXIT_OK;
    }
    if (!o->scenario) {
        fprintf(stderr, "gossip-sim run: --scenario FILE is required\n");
        run_usage(stderr);
        return RUN_EXIT_USAGE;
    }
    return -1;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void print_timing(const struct sim_result *r, double wall_s)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    fprintf(stderr, "timing: wall %.3f s, %.0f events/s, peak RSS %ld KiB\n", wall_s,
            wall_s > 0 ? (double)r->events / wall_s : 0.0, usage.ru_maxrss);
}

static int32_t node_index(struct sim_run *run, const struct scenario *s, const char *name,
                          char *err, size_t errlen)
{
    for (uint32_t i = 0; i < s->nodes; i++)
        if (strcmp(sim_run_node_name(run, i), name) == 0)
            return (int32_t)i;
    snprintf(err, errlen, "no node named '%s' (names are n0 ... n%u)", name, s->nodes - 1);
    return -1;
}

/* The member table of one node as it stands at the end of the run: the
 * per-member view an operator gets from the agent's /v1/members. */
static void print_members(struct sim_run *run, uint32_t index, FILE *out)
{
    gossip_node *engine = sim_run_engine(run, index);
    fprintf(out, "members of %s at the end:\n", sim_run_node_name(run, index));
    if (!engine) {
        fprintf(out, "  (down)\n");
        return;
    }
    fprintf(out, "  %-12s %-8s %10s %11s %11s %8s\n", "name", "status", "generation",
            "incarnation", "max_version", "phi");
    size_t count = gossip_node_member_count(engine);
    for (size_t i = 0; i < count; i++) {
        gossip_member_info m;
        if (gossip_node_member_at(engine, i, &m) != 0)
            continue;
        char phi[16] = "-";
        if (m.phi >= 0)
            snprintf(phi, sizeof phi, "%.2f", m.phi);
        fprintf(out, "  %-12s %-8s %10llu %11llu %11llu %8s%s\n", m.name,
                gossip_status_name(m.status), (unsigned long long)m.generation,
                (unsigned long long)m.incarnation, (unsigned long long)m.max_version, phi,
                m.is_self ? "  (self)" : "");
    }
}

/* Returns 0, -1 if the simulator failed, RUN_EXIT_USAGE for a bad node name. */
static int run_scenario(const struct scenario *s, const struct run_options *o,
                        struct sim_result *r, char *err, size_t errlen)
{
    struct sim_run *run = sim_run_new(s, o->seed, err, errlen);
    if (!run)
        return -1;
    int32_t members_of = -1;
    if ((o->members && (members_of = node_index(run, s, o->members, err, errlen)) < 0)) {
        sim_run_free(run);
        return RUN_EXIT_USAGE;
    }
    if (o->trace) {
        int32_t subject = node_index(run, s, o->trace, err, errlen);
        if (subject < 0) {
            sim_run_free(run);
            return RUN_EXIT_USAGE;
        }
        sim_run_trace(run, stderr, (uint32_t)subject);
    }
    int rc = sim_run_finish(run, r, err, errlen);
    if (rc == 0 && members_of >= 0)
        print_members(run, (uint32_t)members_of, stderr);
    sim_run_free(run);
    return rc;
}

int sim_cmd_run(int argc, char **argv)
{
    struct run_options o = {0};
    int status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    struct scenario s;
    char err[RUN_MAX_ERROR] = "";
    if (scenario_load_file(&s, o.scenario, err, sizeof err) != 0) {
        fprintf(stderr, "gossip-sim run: %s: %s\n", o.scenario, err);
        return RUN_EXIT_USAGE;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct sim_result r;
    int rc = run_scenario(&s, &o, &r, err, sizeof err);
    scenario_free(&s);
    if (rc == RUN_EXIT_USAGE) {
        fprintf(stderr, "gossip-sim run: --trace/--members: %s\n", err);
        return RUN_EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "gossip-sim run: %s\n", err);
        return RUN_EXIT_FAILURE;
    }
    if (o.timing)
        print_timing(&r, seconds_since(&start));
    if (o.json)
        sim_result_print_json(stdout, &r);
    else
        sim_result_print_table(stdout, &r);
    if (!r.invariant_ok) {
        fprintf(stderr, "gossip-sim run: invariant violated with --seed %llu: %s\n",
                (unsigned long long)r.seed, r.violation);
        return RUN_EXIT_VIOLATION;
    }
    return RUN_EXIT_OK;
}
