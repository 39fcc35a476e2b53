/*
 * phi.h -- the phi-accrual failure detector (Hayashibara et al. 2004) for one
 * monitored peer, sans-I/O.
 *
 * Instead of a yes/no verdict the detector gives a suspicion level phi:
 * phi = -log10(P_later(t)), where t is the time since the last heartbeat and
 * P_later(t) is the probability, under a model fitted to the recent
 * inter-arrival times, that the next heartbeat would still be on its way.
 * phi = 1 means a 10 % chance that suspecting the peer now is a mistake,
 * phi = 2 a 1 % chance, phi = 8 one in 10^8.
 *
 * Two models (docs/phi-accrual.md has the formulas and the defaults):
 *   PHI_MODEL_NORMAL       normal inter-arrival times, as Akka does, with the
 *                          same logistic approximation of the normal CDF, so
 *                          thresholds tuned for Akka carry over;
 *   PHI_MODEL_EXPONENTIAL  exponential inter-arrival times, as Cassandra
 *                          does: phi = t / mean / ln 10.
 *
 * Memory is bounded and the caller's: the window of intervals is a ring in a
 * buffer the caller hands to phi_init() (at least params.window entries; an
 * array of PHI_MAX_WINDOW always fits).  Running sums make every call O(1).
 * Time is the caller's monotonic `now_ms`; it is never read here.
 */
#ifndef GOSSIP_CORE_PHI_H
#define GOSSIP_CORE_PHI_H

#include <stdbool.h>
#include <stdint.h>

/* Largest window: Akka's max-sample-size and Cassandra's SAMPLE_SIZE. */
#define PHI_MAX_WINDOW 1000u
/* Recorded intervals and every duration parameter are capped at 2^21 ms
 * (about 35 minutes): with at most PHI_MAX_WINDOW samples, the sums, the
 * sum of squares and n * sum of squares then all stay exact in uint64_t,
 * so the variance is computed without rounding and is never negative. */
#define PHI_INTERVAL_CAP_MS (1u << 21)

/* Defaults; docs/phi-accrual.md gives the source of each. */
#define PHI_DEFAULT_WINDOW 1000u
#define PHI_DEFAULT_THRESHOLD 8.0
#define PHI_DEFAULT_MIN_STD_DEV_MS 100u
#define PHI_DEFAULT_ACCEPTABLE_PAUSE_MS 0u   /* Akka's cluster default: 3000 */
#define PHI_DEFAULT_FIRST_INTERVAL_NORMAL_MS 1000u  /* Akka heartbeat-interval */
#define PHI_DEFAULT_FIRST_INTERVAL_EXP_MS 2000u     /* Cassandra: 2 x gossip interval */
#define PHI_DEFAULT_MAX_INTERVAL_EXP_MS 2000u       /* Cassandra fd_max_interval_ms */

enum phi_model {
    PHI_MODEL_NORMAL = 0,
    PHI_MODEL_EXPONENTIAL = 1,
};

typedef struct phi_params {
    enum phi_model model;
    uint32_t window;              /* intervals kept, 1..PHI_MAX_WINDOW */
    uint32_t min_std_dev_ms;      /* normal model: floor of the std dev, >= 1 */
    uint32_t acceptable_pause_ms; /* added to the mean before phi is computed */
    uint32_t first_interval_ms;   /* bootstrap estimate of the interval, >= 1 */
    uint32_t max_interval_ms;     /* longer intervals are not recorded; 0: no cap */
    double threshold;             /* phi at or above it: not available; > 0 */
} phi_params;

typedef struct phi_detector {
    phi_params params;
    uint32_t *ring;    /* caller's buffer, params.window entries used */
    uint32_t head;     /* index of the oldest sample */
    uint32_t count;    /* samples held, <= params.window */
    uint64_t sum;      /* of the samples, exact */
    uint64_t sum_sq;   /* of their squares, exact */
    uint64_t last_ms;  /* arrival of the latest heartbeat */
    bool started;      /* a heartbeat has arrived since init / reset */
} phi_detector;

/* Fills *p with the defaults of model `m` (see the PHI_DEFAULT_* above:
 * the exponential model gets Cassandra's first and max interval, the
 * normal model no max interval). */
void phi_params_default(phi_params *p, enum phi_model m);

/* 0 if *p is usable, GOSSIP_ERR_INVALID otherwise. */
int phi_params_check(const phi_params *p);

/* Validates *p and starts an empty detector over `ring`, which must hold at
 * least p->window entries and outlive the detector.  Returns 0, or
 * GOSSIP_ERR_INVALID on bad parameters, a NULL pointer or a short ring. */
int phi_init(phi_detector *d, const phi_params *p, uint32_t *ring, uint32_t ring_len);

/* Forgets every heartbeat and re-seeds the window with the bootstrap
 * estimate, e.g. when the peer restarted with a new generation. */
void phi_reset(phi_detector *d);

/* A heartbeat (or an ack) from the peer arrived at now_ms.  The interval
 * since the previous one is recorded unless it exceeds max_interval_ms or
 * the peer was already suspected (phi >= threshold): one long silence must
 * not teach the detector that long silences are normal.  A now_ms earlier
 * than the previous heartbeat is ignored. */
void phi_heartbeat(phi_detector *d, uint64_t now_ms);

/* The suspicion level at now_ms: 0 before the first heartbeat, then
 * non-decreasing in now_ms, always finite. */
double phi_value(const phi_detector *d, uint64_t now_ms);

/* phi_value(d, now_ms) < threshold; true before the first heartbeat. */
bool phi_is_available(const phi_detector *d, uint64_t now_ms);

/* Mean and standard deviation of the intervals in the window, in ms, as
 * held (before the acceptable pause and the std dev floor are applied). */
double phi_mean_ms(const phi_detector *d);
double phi_std_dev_ms(const phi_detector *d);

#endif
