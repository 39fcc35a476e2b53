/* bench_phi.c -- prints the tables of docs/phi-accrual.md ("phi against
 * silence, 1 s heartbeat"): phi after a silence for the normal model (no
 * pause, and Akka's 3 s pause), the exact normal tail for comparison, and
 * the exponential model; then the silence at which phi first reaches a
 * threshold, by bisection.  Prints figures; asserts nothing.
 *
 *   build/bench_phi */
#include <math.h>
#include <stdio.h>

#include "core/phi.h"

#define HEARTBEATS 1001
#define PERIOD_MS 1000

static uint32_t rings[3][PHI_MAX_WINDOW];

/* A detector fed HEARTBEATS beats exactly PERIOD_MS apart; returns the
 * time of the last one. */
static uint64_t steady(phi_detector *d, enum phi_model model, uint32_t pause_ms, uint32_t *ring)
{
    phi_params p;
    phi_params_default(&p, model);
    p.acceptable_pause_ms = pause_ms;
    if (phi_init(d, &p, ring, PHI_MAX_WINDOW) != 0)
        return 0;
    uint64_t t = 0;
    for (int i = 0; i < HEARTBEATS; i++, t += PERIOD_MS)
        phi_heartbeat(d, t);
    return t - PERIOD_MS;
}

static double exact_normal_phi(double silence_ms)
{
    double y = (silence_ms - PERIOD_MS) / PHI_DEFAULT_MIN_STD_DEV_MS;
    return -log10(erfc(y / sqrt(2.0)) / 2.0);
}

/* The smallest silence (ms) at which phi reaches `threshold`. */
static uint64_t crossing(const phi_detector *d, uint64_t last, double threshold)
{
    uint64_t lo = 0, hi = 1;
    while (phi_value(d, last + hi) < threshold)
        hi *= 2;
    while (lo + 1 < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (phi_value(d, last + mid) < threshold)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

int main(void)
{
    phi_detector normal, paused, expo;
    uint64_t last = steady(&normal, PHI_MODEL_NORMAL, 0, rings[0]);
    steady(&paused, PHI_MODEL_NORMAL, 3000, rings[1]);
    steady(&expo, PHI_MODEL_EXPONENTIAL, 0, rings[2]);
    static const uint64_t silences[] = {500,  1000, 1100, 1200,  1300,  1500,  2000, 3000,
                                        4000, 4300, 4500, 5000, 10000, 18421, 60000};
    printf("%10s %14s %14s %16s %14s\n", "silence", "normal", "exact normal", "normal+3s pause",
           "exponential");
    for (size_t i = 0; i < sizeof silences / sizeof silences[0]; i++) {
        uint64_t s = silences[i];
        printf("%10llu %14.4g %14.4g %16.4g %14.4g\n", (unsigned long long)s,
               phi_value(&normal, last + s), exact_normal_phi((double)s),
               phi_value(&paused, last + s), phi_value(&expo, last + s));
    }
    printf("\n%10s %14s %16s %14s\n", "threshold", "normal", "normal+3s pause", "exponential");
    static const double thresholds[] = {1, 2, 4, 8, 16};
    for (size_t i = 0; i < sizeof thresholds / sizeof thresholds[0]; i++)
        printf("%10g %14llu %16llu %14llu\n", thresholds[i],
               (unsigned long long)crossing(&normal, last, thresholds[i]),
               (unsigned long long)crossing(&paused, last, thresholds[i]),
               (unsigned long long)crossing(&expo, last, thresholds[i]));
    return 0;
}
