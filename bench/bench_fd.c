/* bench_fd.c -- failure detection of the real engine at 1,000 nodes.
 *
 * Runs the three full scenarios of bench/scenarios/ (each in a child
 * process, so that its peak RSS is its own) and prints, per scenario, the
 * detection times, false and partition-caused deaths, suspicions and
 * refutations, traffic, the split check, and the peer in the same run:
 * memberlist's suspicion timeout with its LAN defaults,
 * SuspicionMult (4) x max(1, log10 N) x probe interval -- the time
 * memberlist waits after suspecting before declaring a member dead, a lower
 * bound of its detection time.  Target: detection p50 <= 0.5 x that.
 *
 *   fd-1000         10 % loss, 5 % of nodes stall 2 s, 10 kills, 10 min
 *   churn-1000      20 % of nodes restart within a minute
 *   partition-1000  50/50 split for 60 s, then heal
 *
 * usage: bench_fd [--dir DIR] [--seed S] [--only NAME]
 *   DIR defaults to $GOSSIP_SOURCE_DIR/bench/scenarios, else bench/scenarios.
 * Figures and the commands that produced them: docs/fd-measurements.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/run_sim.h"
#include "sim/scenario.h"

#define BENCH_DEFAULT_SEED 1u
#define BENCH_ERR 512
#define BENCH_PATH 1024
/* memberlist is matched when detection p50 is at most this share of its
 * suspicion timeout (the brief's target). */
#define BENCH_TARGET_RATIO 0.5

static const char *const bench_scenarios[] = {"fd-1000", "churn-1000", "partition-1000"};
#define BENCH_SCENARIO_COUNT (sizeof bench_scenarios / sizeof bench_scenarios[0])

struct bench_options {
    char dir[BENCH_PATH];
    uint64_t seed;
    const char *only;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_figures(const char *name, const struct sim_result *r, double wall_s)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("%s: %u nodes, %llu s virtual, wall %.1f s, peak RSS %.0f MiB, seed %llu\n", name,
           r->nodes, (unsigned long long)(r->virtual_ms / 1000), wall_s,
           (double)usage.ru_maxrss / 1024.0, (unsigned long long)r->seed);
    printf("  detection      %u of %u kills seen dead by all: p50 %.0f ms, p99 %.0f ms, "
           "max %.0f ms\n",
           r->detections, r->detections + r->kills_undetected, r->detection_p50_ms,
           r->detection_p99_ms, r->detection_max_ms);
    printf("  memberlist     suspicion timeout 4 x max(1, log10 %u) x %u ms = %.0f ms; "
           "ratio p50/memberlist %.3f (target <= %.1f: %s)\n",
           r->nodes, r->probe_interval_ms, r->memberlist_suspicion_ms,
           r->detection_ratio_vs_memberlist, BENCH_TARGET_RATIO,
           r->detections == 0 ? "no kills"
           : r->detection_ratio_vs_memberlist <= BENCH_TARGET_RATIO ? "met" : "missed");
    printf("  deaths         false_dead %llu, across the split %llu, left_marked_dead %llu\n",
           (unsigned long long)r->false_dead, (unsigned long long)r->partition_dead,
           (unsigned long long)r->left_marked_dead);
    printf("  swim           %llu suspicions, %llu refuted, %llu probes (%llu failed, "
           "%llu indirect), %llu declared dead\n",
           (unsigned long long)r->suspicions, (unsigned long long)r->refuted_suspicions,
           (unsigned long long)r->probes, (unsigned long long)r->probes_failed,
           (unsigned long long)r->indirect_probes, (unsigned long long)r->declared_dead);
    printf("  traffic        %.0f bytes/node/s, %.2f packets/node/s\n",
           r->bytes_per_node_per_sec, r->packets_per_node_per_sec);
    printf("  faults         %u kills, %u restarts (generation %llu), %u stalls\n", r->kills,
           r->restarts, (unsigned long long)r->max_generation, r->stalls);
    if (r->slowest_detection[0])
        printf("  slowest        %s\n", r->slowest_detection);
    if (r->split_dead_fraction >= 0)
        printf("  split          %.4f of cross-side pairs held dead at the end of the split\n",
               r->split_dead_fraction);
    if (r->split_holdout[0])
        printf("  split holdout  %s\n", r->split_holdout);
    printf("  invariant      %s (settle check at %llu ms)\n",
           r->invariant_ok ? "ok" : "VIOLATED", (unsigned long long)r->check_at_ms);
    if (r->violation[0])
        printf("  violation      %s\n", r->violation);
    fflush(stdout);
}

/* Runs in the child: one scenario, its figures. */
static int run_scenario_file(const struct bench_options *o, const char *name)
{
    char path[BENCH_PATH * 2];
    snprintf(path, sizeof path, "%s/%s.json", o->dir, name);
    struct scenario s;
    char err[BENCH_ERR] = "";
    if (scenario_load_file(&s, path, err, sizeof err) != 0) {
        fprintf(stderr, "bench_fd: %s: %s\n", path, err);
        return 1;
    }
    double start = now_seconds();
    struct sim_result r;
    int rc = sim_run_scenario(&s, o->seed, &r, err, sizeof err);
    double wall = now_seconds() - start;
    scenario_free(&s);
    if (rc != 0) {
        fprintf(stderr, "bench_fd: %s: %s\n", name, err);
        return 1;
    }
    print_figures(name, &r, wall);
    return 0;
}

static int run_in_child(const struct bench_options *o, const char *name)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0)
        _exit(run_scenario_file(o, name));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int parse_options(int argc, char **argv, struct bench_options *o)
{
    const char *src = getenv("GOSSIP_SOURCE_DIR");
    snprintf(o->dir, sizeof o->dir, "%s%sbench/scenarios", src && *src ? src : "",
             src && *src ? "/" : "");
    o->seed = BENCH_DEFAULT_SEED;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            snprintf(o->dir, sizeof o->dir, "%s", argv[++i]);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            o->seed = strtoull(argv[++i], &end, 10);
            if (errno || *end || argv[i][0] == '-')
                return -1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            o->only = argv[++i];
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_options o;
    memset(&o, 0, sizeof o);
    if (parse_options(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: bench_fd [--dir DIR] [--seed S] [--only NAME]\n"
                        "  NAME: fd-1000, churn-1000 or partition-1000\n");
        return 2;
    }
    printf("bench_fd: real engines in gossip-sim run, scenarios from %s\n", o.dir);
    int failures = 0, ran = 0;
    for (size_t i = 0; i < BENCH_SCENARIO_COUNT; i++) {
        if (o.only && strcmp(o.only, bench_scenarios[i]) != 0)
            continue;
        ran++;
        failures += run_in_child(&o, bench_scenarios[i]) != 0;
    }
    if (ran == 0) {
        fprintf(stderr, "bench_fd: no scenario named '%s'\n", o.only);
        return 2;
    }
    return failures ? 1 : 0;
}
