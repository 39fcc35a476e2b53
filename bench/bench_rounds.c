/*
 * bench_rounds.c -- speed of the round model against a straightforward
 * implementation of the same push-pull model, in the same run.
 *
 * (a) straightforward: one byte per node, the whole array copied every
 *     round, one peer per node from the same PRNG reduced with `%`, an
 *     if/else per node, and a scan to count the informed nodes;
 * (b) the round model of src/sim/rounds.c (bit sets, branch-free kernel).
 * Both run one trial at a time on one thread ("single-trial-equivalent"),
 * so the ratio compares the inner loops; then (b) runs on all CPUs, and
 * at N = 10^7 with its peak RSS.  Figures only: a benchmark asserts nothing.
 *
 * usage: bench_rounds [trials]   (default BENCH_DEFAULT_TRIALS)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sim/rounds.h"

#define BENCH_NODES 1000000u
#define BENCH_LARGE_NODES 10000000u
#define BENCH_DEFAULT_TRIALS 10u
#define BENCH_SEED 1u

static double now_sec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One push-pull trial, written the obvious way.  Returns its rounds. */
static uint32_t naive_pushpull_trial(uint8_t *informed, uint8_t *next, uint32_t nodes,
                                     uint64_t seed, uint32_t trial)
{
    struct rounds_rng rng = rounds_trial_rng(seed, trial);
    memset(informed, 0, nodes);
    informed[rounds_rng_next(&rng) % nodes] = 1;
    uint32_t count = 1, rounds = 0;
    while (count < nodes && rounds < ROUNDS_MAX_ROUNDS) {
        memcpy(next, informed, nodes);
        for (uint32_t self = 0; self < nodes; self++) {
            uint32_t peer = (uint32_t)(rounds_rng_next(&rng) % (nodes - 1));
            if (peer >= self)
                peer++;
            if (informed[self])
                next[peer] = 1;
            else if (informed[peer])
                next[self] = 1;
        }
        memcpy(informed, next, nodes);
        count = 0;
        for (uint32_t i = 0; i < nodes; i++)
            count += informed[i];
        rounds++;
    }
    return rounds;
}

/* Node-rounds per second of the straightforward loop, one thread. */
static double bench_naive(uint32_t nodes, uint32_t trials, double *mean_rounds)
{
    uint8_t *informed = malloc(nodes), *next = malloc(nodes);
    if (informed == NULL || next == NULL) {
        fprintf(stderr, "bench_rounds: out of memory\n");
        exit(1);
    }
    uint64_t node_rounds = 0;
    double t0 = now_sec();
    for (uint32_t trial = 0; trial < trials; trial++)
        node_rounds += (uint64_t)nodes * naive_pushpull_trial(informed, next, nodes,
                                                              BENCH_SEED, trial);
    double elapsed = now_sec() - t0;
    free(informed);
    free(next);
    *mean_rounds = (double)node_rounds / nodes / trials;
    return (double)node_rounds / elapsed;
}

static struct rounds_summary bench_model(uint32_t nodes, uint32_t trials, uint32_t threads)
{
    struct rounds_config cfg = {
        .nodes = nodes,
        .mode = ROUNDS_PUSHPULL,
        .fanout = 1,
        .trials = trials,
        .seed = BENCH_SEED,
        .threads = threads,
    };
    struct rounds_summary s;
    if (rounds_run(&cfg, &s) != 0) {
        fprintf(stderr, "bench_rounds: rounds_run failed at N=%u\n", nodes);
        exit(1);
    }
    return s;
}

static uint32_t online_cpus(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return 1;
    return cpus > (long)ROUNDS_MAX_THREADS ? ROUNDS_MAX_THREADS : (uint32_t)cpus;
}

static double peak_rss_mib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_maxrss / 1024.0; /* Linux reports KiB */
}

int main(int argc, char **argv)
{
    uint32_t trials = BENCH_DEFAULT_TRIALS;
    if (argc > 1) {
        char *end;
        long t = strtol(argv[1], &end, 10);
        if (*end != '\0' || t < 1 || t > (long)ROUNDS_MAX_TRIALS) {
            fprintf(stderr, "usage: bench_rounds [trials 1..%u]\n", ROUNDS_MAX_TRIALS);
            return 2;
        }
        trials = (uint32_t)t;
    }
    uint32_t cpus = online_cpus();
    printf("push-pull, fanout 1, N = %u, %u trials, seed %u\n", BENCH_NODES, trials,
           BENCH_SEED);

    double naive_rounds;
    double naive = bench_naive(BENCH_NODES, trials, &naive_rounds);
    printf("  straightforward (bytes, copy, %%), 1 thread: %.3g node-rounds/s "
           "(mean %.2f rounds)\n", naive, naive_rounds);

    struct rounds_summary one = bench_model(BENCH_NODES, trials, 1);
    printf("  round model (bit sets),          1 thread: %.3g node-rounds/s "
           "(mean %.2f rounds)\n", one.node_rounds_per_sec, one.rounds_mean);
    printf("  ratio model / straightforward, 1 thread: %.1fx\n",
           one.node_rounds_per_sec / naive);

    struct rounds_summary all = bench_model(BENCH_NODES, trials, cpus);
    printf("  round model, %u threads: %.3g node-rounds/s\n", cpus, all.node_rounds_per_sec);

    struct rounds_summary large = bench_model(BENCH_LARGE_NODES, cpus, cpus);
    printf("push-pull, fanout 1, N = %u, %u trials, %u threads: %.3g node-rounds/s "
           "(mean %.2f rounds)\n", BENCH_LARGE_NODES, cpus, cpus, large.node_rounds_per_sec,
           large.rounds_mean);
    printf("  peak RSS of this process: %.1f MiB\n", peak_rss_mib());
    return 0;
}
