/* bench_memory.c -- memory per endpoint: RSS growth while N nodes converge
 * to full membership (N^2 endpoints in one process, as in the simulator),
 * divided by N^2.  Prints figures; asserts nothing.
 *
 *   build/bench_memory [N]          (default 1000) */
#include <stdio.h>
#include <sys/resource.h>

#include "../tests/mininet.h"

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    static mininet net;
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    if (n < 2 || n > MININET_MAX_NODES) {
        fprintf(stderr, "bench_memory: N must be 2..%d\n", MININET_MAX_NODES);
        return 2;
    }
    gossip_config c;
    gossip_config_init(&c);
    mn_init(&net, n, &c);
    long before = max_rss_kb();
    int rounds = mn_run_until_converged(&net, 1000);
    long after = max_rss_kb();
    printf("nodes=%d rounds_to_converge=%d rss_before_kb=%ld rss_after_kb=%ld "
           "bytes_per_endpoint=%.0f\n",
           n, rounds, before, after, (double)(after - before) * 1024.0 / ((double)n * n));
    printf("extrapolated for the simulator at N=10000: %.1f GB\n",
           (double)(after - before) * 1024.0 / ((double)n * n) * 1e8 / 1e9);
    mn_free(&net);
    return 0;
}
