/* bench_sim_scale.c -- how fast `gossip-sim run` simulates real engines.
 *
 * Two configurations, push-pull, T = 1 s, uniform 1-5 ms latency, 1 % loss,
 * three seeds started first, the rest within the first second, ten writes
 * at random nodes after a warm-up:
 *
 *   1,000 nodes for 120 virtual seconds (target: under 5 s of wall time)
 *  10,000 nodes for BENCH_LARGE_DEFAULT_MS virtual seconds by default: each
 *         node holds every member it has learnt, so memory grows like N^2
 *         over the run (see docs/simulator.md); --large-ms 120000 runs the
 *         full two minutes on a machine with the memory for it.
 *
 * Each configuration runs in a child process so that its peak RSS is its
 * own.  The peer in the same run is the synchronous round model: rounds_p99
 * of push-pull at that N (src/sim/rounds.c, 200 trials) times T, the time a
 * write would need if every node gossiped in lock-step.
 *
 * usage: bench_sim_scale [--small-ms MS] [--large-ms MS] [--only-small]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/rounds.h"
#include "sim/run_sim.h"
#include "sim/scenario.h"

#define BENCH_SMALL_NODES 1000u
#define BENCH_LARGE_NODES 10000u
#define BENCH_SMALL_DEFAULT_MS 120000u
#define BENCH_LARGE_DEFAULT_MS 20000u
#define BENCH_INTERVAL_MS 1000u
#define BENCH_LOSS 0.01
#define BENCH_WRITES 10u
#define BENCH_ROUND_TRIALS 200u
#define BENCH_SEED 1u
#define BENCH_ERR 512

struct bench_config {
    uint32_t nodes;
    uint64_t duration_ms;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The scenario described at the top, built in code. */
static int build_scenario(struct scenario *s, const struct bench_config *c)
{
    scenario_init(s);
    s->nodes = c->nodes;
    s->mode = GOSSIP_MODE_PUSHPULL;
    s->gossip_interval_ms = BENCH_INTERVAL_MS;
    s->duration_ms = c->duration_ms;
    s->start_spread_ms = BENCH_INTERVAL_MS;
    s->seeds_first = 1;
    s->seed_count = 3;
    for (uint32_t i = 0; i < s->seed_count; i++)
        s->seeds[i] = i;
    s->latency.dist = SCN_LATENCY_UNIFORM;
    s->latency.min_ms = 1;
    s->latency.max_ms = 5;
    s->loss = BENCH_LOSS;
    /* Writes in the middle third, the rest of the run to settle. */
    uint64_t every_ms = c->duration_ms / 3 / BENCH_WRITES;
    s->settle_ms = c->duration_ms / 3;
    if (every_ms == 0 ||
        scenario_add_writes(s, c->duration_ms / 3, every_ms, BENCH_WRITES, SCN_NODE_RANDOM,
                            GOSSIP_KEY_SCHEMA, NULL) != 0)
        return -1;
    char err[BENCH_ERR];
    if (scenario_validate(s, err, sizeof err) != 0) {
        fprintf(stderr, "bench_sim_scale: %s\n", err);
        return -1;
    }
    return 0;
}

static double round_model_p99_ms(uint32_t nodes)
{
    struct rounds_config cfg = {.nodes = nodes, .mode = ROUNDS_PUSHPULL, .fanout = 1,
                                .trials = BENCH_ROUND_TRIALS, .seed = BENCH_SEED,
                                .loss = BENCH_LOSS, .threads = 1};
    struct rounds_summary sum;
    if (rounds_run(&cfg, &sum) != 0)
        return -1;
    return sum.rounds_p99 * (double)BENCH_INTERVAL_MS;
}

/* Runs in the child: one configuration, one line of figures. */
static int run_config(const struct bench_config *c)
{
    struct scenario s;
    if (build_scenario(&s, c) != 0)
        return 1;
    char err[BENCH_ERR] = "";
    double start = now_seconds();
    struct sim_result r;
    int rc = sim_run_scenario(&s, BENCH_SEED, &r, err, sizeof err);
    double wall = now_seconds() - start;
    scenario_free(&s);
    if (rc != 0) {
        fprintf(stderr, "bench_sim_scale: %s\n", err);
        return 1;
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double model_ms = round_model_p99_ms(c->nodes);
    printf("%6u nodes %4llu s virtual: wall %7.2f s  %9.0f events/s  peak RSS %8.1f MiB  "
           "%6.2f pkts/node/s  writes %u/%u  write p99 %8.1f ms  | round model p99 x T "
           "%6.0f ms  invariant %s\n",
           c->nodes, (unsigned long long)(c->duration_ms / 1000), wall,
           wall > 0 ? (double)r.events / wall : 0.0, (double)usage.ru_maxrss / 1024.0,
           r.packets_per_node_per_sec, r.writes_complete, r.writes, r.write_p99_ms, model_ms,
           r.invariant_ok ? "ok" : "not converged");
    if (!r.invariant_ok)
        printf("       (%s)\n", r.violation);
    fflush(stdout);
    return 0;
}

static int run_in_child(const struct bench_config *c)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0)
        _exit(run_config(c));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int parse_ms(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < 3000 || v > SCN_MAX_DURATION_MS)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_config small = {BENCH_SMALL_NODES, BENCH_SMALL_DEFAULT_MS};
    struct bench_config large = {BENCH_LARGE_NODES, BENCH_LARGE_DEFAULT_MS};
    int only_small = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--small-ms") == 0 && i + 1 < argc) {
            if (parse_ms(argv[++i], &small.duration_ms) != 0)
                goto usage;
        } else if (strcmp(argv[i], "--large-ms") == 0 && i + 1 < argc) {
            if (parse_ms(argv[++i], &large.duration_ms) != 0)
                goto usage;
        } else if (strcmp(argv[i], "--only-small") == 0) {
            only_small = 1;
        } else {
            goto usage;
        }
    }
    printf("bench_sim_scale: real engines, push-pull, T = %u ms, 1-5 ms latency, %.0f %% loss, "
           "seed %u\n", BENCH_INTERVAL_MS, BENCH_LOSS * 100, BENCH_SEED);
    int rc = run_in_child(&small);
    if (rc == 0 && !only_small)
        rc = run_in_child(&large);
    return rc;
usage:
    fprintf(stderr, "usage: bench_sim_scale [--small-ms MS] [--large-ms MS] [--only-small]\n"
                    "  MS in [3000, %llu]\n", (unsigned long long)SCN_MAX_DURATION_MS);
    return 2;
}
