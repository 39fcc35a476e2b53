/* phi.c -- the phi-accrual failure detector; see phi.h and
 * docs/phi-accrual.md. */
#include "core/phi.h"

#include <math.h>
#include <stddef.h>

#include "gossip/gossip.h"

/* The exactness argument of PHI_INTERVAL_CAP_MS: n <= 2^10 samples of at
 * most 2^21 ms give sum < 2^31, sum^2 < 2^62 and n * sum_sq < 2^62. */
_Static_assert(PHI_MAX_WINDOW <= 1024u, "window too large for exact sums");
_Static_assert(PHI_INTERVAL_CAP_MS <= (1u << 21), "cap too large for exact sums");

/* Logistic approximation of the standard normal CDF, the one Akka uses
 * (Bowling et al. 2009): Phi(y) ~ 1 / (1 + exp(-z)), z = y (A + B y^2).
 * Its absolute error is below 1.4e-4 everywhere; in the far tail it falls
 * faster than the true normal (phi ~ y^3 instead of ~ y^2), which Akka's
 * threshold of 8 is tuned against. */
#define PHI_LOGISTIC_A 1.5976
#define PHI_LOGISTIC_B 0.070566
/* ln 10, spelled out: M_LN10 is POSIX, not C11. */
#define PHI_LN10 2.302585092994045684
/* The exponential model divides by the mean; a window of zero-length
 * intervals (heartbeats in the same millisecond) must not divide by 0. */
#define PHI_MIN_MEAN_MS 1.0

void phi_params_default(phi_params *p, enum phi_model m)
{
    bool exp_model = m == PHI_MODEL_EXPONENTIAL;
    p->model = m;
    p->window = PHI_DEFAULT_WINDOW;
    p->min_std_dev_ms = PHI_DEFAULT_MIN_STD_DEV_MS;
    p->acceptable_pause_ms = PHI_DEFAULT_ACCEPTABLE_PAUSE_MS;
    p->first_interval_ms = exp_model ? PHI_DEFAULT_FIRST_INTERVAL_EXP_MS
                                     : PHI_DEFAULT_FIRST_INTERVAL_NORMAL_MS;
    p->max_interval_ms = exp_model ? PHI_DEFAULT_MAX_INTERVAL_EXP_MS : 0;
    p->threshold = PHI_DEFAULT_THRESHOLD;
}

int phi_params_check(const phi_params *p)
{
    if (!p)
        return GOSSIP_ERR_INVALID;
    if (p->model != PHI_MODEL_NORMAL && p->model != PHI_MODEL_EXPONENTIAL)
        return GOSSIP_ERR_INVALID;
    if (p->window < 1 || p->window > PHI_MAX_WINDOW)
        return GOSSIP_ERR_INVALID;
    /* The floor is what keeps y finite when every interval is equal. */
    if (p->model == PHI_MODEL_NORMAL &&
        (p->min_std_dev_ms < 1 || p->min_std_dev_ms > PHI_INTERVAL_CAP_MS))
        return GOSSIP_ERR_INVALID;
    if (p->first_interval_ms < 1 || p->first_interval_ms > PHI_INTERVAL_CAP_MS)
        return GOSSIP_ERR_INVALID;
    if (p->acceptable_pause_ms > PHI_INTERVAL_CAP_MS ||
        p->max_interval_ms > PHI_INTERVAL_CAP_MS)
        return GOSSIP_ERR_INVALID;
    /* Written so that NaN fails too. */
    if (!(p->threshold > 0.0) || !isfinite(p->threshold))
        return GOSSIP_ERR_INVALID;
    return GOSSIP_OK;
}

/* Every sample goes through here, so every sample is <= the cap. */
static void ring_push(phi_detector *d, uint64_t ms)
{
    uint32_t interval = ms > PHI_INTERVAL_CAP_MS ? PHI_INTERVAL_CAP_MS : (uint32_t)ms;
    uint64_t sq = (uint64_t)interval * interval;
    if (d->count == d->params.window) {
        uint32_t old = d->ring[d->head];
        d->sum -= old;
        d->sum_sq -= (uint64_t)old * old;
        d->ring[d->head] = interval;
        d->head = (d->head + 1) % d->params.window;
    } else {
        d->ring[(d->head + d->count) % d->params.window] = interval;
        d->count++;
    }
    d->sum += interval;
    d->sum_sq += sq;
}

/* Before the first real interval the statistics come from the estimate.
 * Normal model (Akka): two samples estimate -/+ estimate/4, so the mean is
 * the estimate and the spread is wide while nothing is known.  Exponential
 * model (Cassandra): one sample, the estimate; only the mean matters. */
static void seed_window(phi_detector *d)
{
    uint32_t first = d->params.first_interval_ms;
    if (d->params.model == PHI_MODEL_NORMAL) {
        uint32_t spread = first / 4;
        ring_push(d, first - spread);
        ring_push(d, (uint64_t)first + spread);
    } else {
        ring_push(d, first);
    }
}

void phi_reset(phi_detector *d)
{
    d->head = 0;
    d->count = 0;
    d->sum = 0;
    d->sum_sq = 0;
    d->last_ms = 0;
    d->started = false;
    seed_window(d);
}

int phi_init(phi_detector *d, const phi_params *p, uint32_t *ring, uint32_t ring_len)
{
    if (!d || !ring)
        return GOSSIP_ERR_INVALID;
    int rc = phi_params_check(p);
    if (rc != GOSSIP_OK)
        return rc;
    if (ring_len < p->window)
        return GOSSIP_ERR_INVALID;
    d->params = *p;
    d->ring = ring;
    phi_reset(d);
    return GOSSIP_OK;
}

double phi_mean_ms(const phi_detector *d)
{
    return d->count ? (double)d->sum / d->count : 0.0;
}

double phi_std_dev_ms(const phi_detector *d)
{
    if (!d->count)
        return 0.0;
    /* n^2 var = n sum_sq - sum^2: exact in uint64_t (see the static
     * asserts) and never negative, where sum_sq/n - mean^2 in doubles can
     * round below zero and turn sqrt into NaN. */
    uint64_t n = d->count;
    uint64_t n2_var = n * d->sum_sq - d->sum * d->sum;
    return sqrt((double)n2_var) / (double)n;
}

/* log(1 + e^z) without overflow for large z or loss for very negative z:
 * ln(1 / P_later) when P_later = 1 / (1 + e^z). */
static double softplus(double z)
{
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static double phi_normal(const phi_detector *d, double elapsed)
{
    double mean = phi_mean_ms(d) + d->params.acceptable_pause_ms;
    double sd = fmax(phi_std_dev_ms(d), (double)d->params.min_std_dev_ms);
    double y = (elapsed - mean) / sd;
    double z = y * (PHI_LOGISTIC_A + PHI_LOGISTIC_B * y * y);
    /* P_later = 1 - 1/(1 + e^-z) = 1/(1 + e^z); working in logs keeps phi
     * finite and growing long after P_later underflows to 0. */
    return softplus(z) / PHI_LN10;
}

static double phi_exponential(const phi_detector *d, double elapsed)
{
    double mean = fmax(phi_mean_ms(d) + d->params.acceptable_pause_ms, PHI_MIN_MEAN_MS);
    /* P_later = e^(-t/mean), so -log10 P_later = t / mean / ln 10. */
    return elapsed / mean / PHI_LN10;
}

double phi_value(const phi_detector *d, uint64_t now_ms)
{
    /* An unmonitored peer is not suspected: nothing is known against it. */
    if (!d->started)
        return 0.0;
    double elapsed = now_ms > d->last_ms ? (double)(now_ms - d->last_ms) : 0.0;
    if (d->params.model == PHI_MODEL_NORMAL)
        return phi_normal(d, elapsed);
    return phi_exponential(d, elapsed);
}

bool phi_is_available(const phi_detector *d, uint64_t now_ms)
{
    return phi_value(d, now_ms) < d->params.threshold;
}

static bool interval_is_recordable(const phi_detector *d, uint64_t interval,
                                   uint64_t now_ms)
{
    if (d->params.max_interval_ms && interval > d->params.max_interval_ms)
        return false;
    return phi_is_available(d, now_ms);
}

void phi_heartbeat(phi_detector *d, uint64_t now_ms)
{
    if (!d->started) {
        d->started = true;
        d->last_ms = now_ms;
        return;
    }
    /* Time never runs backwards for a monotonic clock; a stale caller's
     * heartbeat would only record a bogus interval. */
    if (now_ms < d->last_ms)
        return;
    uint64_t interval = now_ms - d->last_ms;
    if (interval_is_recordable(d, interval, now_ms))
        ring_push(d, interval);
    d->last_ms = now_ms;
}
