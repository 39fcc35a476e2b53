/*
 * cmd_kv.c -- `gossip-sim kv`: command line of the key-value store's
 * property test in the simulator (kv_sim.c).  Every argument is checked
 * before anything runs; a bad one is named on stderr with exit status 2.
 * A run whose checks fail exits 1 and names its seed on stderr; a
 * simulator failure (out of memory) exits 3.  Seeds run in parallel
 * threads and are reported in seed order, so the output depends only on
 * the arguments.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/recon.h"
#include "gossip/gossip.h"
#include "sim/cli_args.h"
#include "sim/kv_sim.h"

static const char CMD[] = "kv";

#define KV_CMD_MAX_SEEDS 100000u
#define KV_CMD_MAX_THREADS 64u

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: gossip-sim kv [--nodes N] [--keys K] [--writes W] [--delete-fraction F]\n"
            "                     [--loss P] [--latency-ms LO-HI] [--partitions on|off]\n"
            "                     [--restarts on|off] [--anti-entropy-ms MS] [--horizon-ms MS]\n"
            "                     [--duration-ms MS] [--deadline-ms MS] [--skew-ms MS]\n"
            "                     [--fanout F] [--rumor-k K] [--key-dist zipf|uniform]\n"
            "                     [--method mixed|auto|merkle|iblt] [--gc-rule acked|eager]\n"
            "                     [--seed S] [--seeds N] [--threads T] [--json]\n"
            "\n"
            "The replicated key-value store's property test: N replicas of the real store\n"
            "(src/core/kv.c) exchange the real rumors and anti-entropy sessions (kv_wire.c,\n"
            "recon*.c) over a simulated network, in virtual time, while they take random\n"
            "writes and deletes, lose messages, are partitioned, crash (losing the unsynced\n"
            "tail of their log, maybe mid-record) and restart from the log, and collect\n"
            "tombstones.  When the faults stop, anti-entropy runs until the replicas are\n"
            "identical; then every key must hold the last-writer-wins winner of its\n"
            "acknowledged writes on every replica, and no collected delete may have come\n"
            "back.  Exit status 1 when a check fails (the seed is named on stderr).\n"
            "\n"
            "  --nodes N            replicas, 2 .. %u (default 20)\n"
            "  --keys K             distinct keys, 1 .. %u (default 200)\n"
            "  --writes W           write attempts, 0 .. %u (default 2000)\n"
            "  --delete-fraction F  of the attempts that are deletes, [0, 1] (default 0.2)\n"
            "  --loss P             message loss, [0, %.1f] (default 0.1)\n"
            "  --latency-ms LO-HI   per message, uniform, 0 <= LO <= HI <= %u (default 1-10)\n"
            "  --partitions on|off  random splits of the cluster (default on)\n"
            "  --restarts on|off    crashes and restarts from the log (default on)\n"
            "  --anti-entropy-ms MS session period, %u .. %u (default 1000)\n"
            "  --horizon-ms MS      tombstone horizon, 0 .. %u (default 5000)\n"
            "  --duration-ms MS     writes and faults happen in [0, MS), 1 .. %u (default 30000)\n"
            "  --deadline-ms MS     the replicas must be identical within MS after, 1 .. %u\n"
            "                       (default 1800000)\n"
            "  --skew-ms MS         clock offsets uniform in [-MS, MS], 0 .. %u (default 200)\n"
            "  --fanout F           rumor fanout, 0 .. %u (0: anti-entropy only; default 3)\n"
            "  --rumor-k K          a rumor stops after K \"knew it\", 1 .. %u (default 3)\n"
            "  --key-dist D         zipf (rank 1/r, default) or uniform\n"
            "  --method M           mixed (each session at random: auto half the time, else\n"
            "                       merkle or iblt; default), auto, merkle or iblt\n"
            "  --gc-rule R          which completed sessions count for tombstone collection:\n"
            "                       acked (as gossipd: the side that sent the last message\n"
            "                       counts it once the peer's DONE comes; default) or eager\n"
            "                       (both sides at once: gossipd's old rule, which can undo\n"
            "                       a delete when the last message is lost)\n"
            "  --seed S             unsigned 64-bit integer (default 1)\n"
            "  --seeds N            run seeds S .. S+N-1, 1 .. %u, and a summary\n"
            "  --threads T          seeds run on T threads, 1 .. %u (default: the CPUs)\n"
            "  --json               JSON instead of text\n"
            "\n"
            "For the test suite: --inject-bug drop-merge|gc-unsafe breaks one rule on\n"
            "purpose (replica 0 drops what it receives; tombstones are collected without\n"
            "the session condition) and must make the checks fail.  See docs/kv.md,\n"
            "\"Simulator property test\".\n",
            KV_SIM_MAX_NODES, KV_SIM_MAX_KEYS, KV_SIM_MAX_WRITES, KV_SIM_MAX_LOSS,
            KV_SIM_MAX_LATENCY_MS, KV_SIM_MIN_AE_MS, KV_SIM_MAX_AE_MS, KV_SIM_MAX_HORIZON_MS,
            KV_SIM_MAX_DURATION_MS, KV_SIM_MAX_DEADLINE_MS, KV_SIM_MAX_SKEW_MS,
            KV_SIM_MAX_FANOUT, KV_SIM_MAX_RUMOR_K, KV_CMD_MAX_SEEDS, KV_CMD_MAX_THREADS);
}

enum flag_id {
    F_NODES, F_KEYS, F_WRITES, F_DELETE_FRACTION, F_LOSS, F_LATENCY_MS, F_PARTITIONS,
    F_RESTARTS, F_AE_MS, F_HORIZON_MS, F_DURATION_MS, F_DEADLINE_MS, F_SKEW_MS, F_FANOUT,
    F_RUMOR_K, F_KEY_DIST, F_METHOD, F_SEED, F_SEEDS, F_THREADS, F_GC_RULE, F_INJECT_BUG,
    F_COUNT
};

static const sim_flag flags[F_COUNT] = {
    [F_NODES] = {"--nodes", true},
    [F_KEYS] = {"--keys", true},
    [F_WRITES] = {"--writes", true},
    [F_DELETE_FRACTION] = {"--delete-fraction", true},
    [F_LOSS] = {"--loss", true},
    [F_LATENCY_MS] = {"--latency-ms", true},
    [F_PARTITIONS] = {"--partitions", true},
    [F_RESTARTS] = {"--restarts", true},
    [F_AE_MS] = {"--anti-entropy-ms", true},
    [F_HORIZON_MS] = {"--horizon-ms", true},
    [F_DURATION_MS] = {"--duration-ms", true},
    [F_DEADLINE_MS] = {"--deadline-ms", true},
    [F_SKEW_MS] = {"--skew-ms", true},
    [F_FANOUT] = {"--fanout", true},
    [F_RUMOR_K] = {"--rumor-k", true},
    [F_KEY_DIST] = {"--key-dist", true},
    [F_METHOD] = {"--method", true},
    [F_SEED] = {"--seed", true},
    [F_SEEDS] = {"--seeds", true},
    [F_THREADS] = {"--threads", true},
    [F_GC_RULE] = {"--gc-rule", true},
    [F_INJECT_BUG] = {"--inject-bug", true},
};

struct kv_args {
    kv_sim_config cfg;
    uint32_t seeds, threads;
    bool multi; /* --seeds given: a summary, even for one seed */
    bool json, help;
    bool given[F_COUNT];
};

static int on_off(const char *flag, const char *value, bool *out)
{
    if (strcmp(value, "on") == 0)
        *out = true;
    else if (strcmp(value, "off") == 0)
        *out = false;
    else
        return sim_usage_error(CMD, flag, "'%s' is not on or off", value);
    return 0;
}

static int parse_ms(const char *flag, const char *value, uint64_t min, uint64_t max, uint64_t *out)
{
    return sim_parse_range(CMD, flag, value, min, max, out);
}

static int fraction(const char *flag, const char *value, double max, double *out)
{
    int rc = sim_parse_double(CMD, flag, value, out);
    if (rc == 0 && !(*out >= 0.0 && *out <= max))
        return sim_usage_error(CMD, flag, "%s is not in [0, %g]", value, max);
    return rc;
}

static int apply_option(void *ctx, size_t id, const char *flag, const char *value)
{
    struct kv_args *a = ctx;
    kv_sim_config *c = &a->cfg;
    switch ((enum flag_id)id) {
    case F_NODES:
        return sim_parse_count(CMD, flag, value, 2, KV_SIM_MAX_NODES, &c->nodes);
    case F_KEYS:
        return sim_parse_count(CMD, flag, value, 1, KV_SIM_MAX_KEYS, &c->keys);
    case F_WRITES:
        return sim_parse_count(CMD, flag, value, 0, KV_SIM_MAX_WRITES, &c->writes);
    case F_DELETE_FRACTION:
        return fraction(flag, value, 1.0, &c->delete_fraction);
    case F_LOSS:
        return fraction(flag, value, KV_SIM_MAX_LOSS, &c->loss);
    case F_LATENCY_MS: {
        unsigned long lo, hi;
        char tail;
        if (value[0] < '0' || value[0] > '9' ||
            sscanf(value, "%lu-%lu%c", &lo, &hi, &tail) != 2 || lo > hi ||
            hi > KV_SIM_MAX_LATENCY_MS)
            return sim_usage_error(CMD, flag, "'%s' is not LO-HI with 0 <= LO <= HI <= %u", value,
                                   KV_SIM_MAX_LATENCY_MS);
        c->latency_min_ms = (uint32_t)lo;
        c->latency_max_ms = (uint32_t)hi;
        return 0;
    }
    case F_PARTITIONS:
        return on_off(flag, value, &c->partitions);
    case F_RESTARTS:
        return on_off(flag, value, &c->restarts);
    case F_AE_MS:
        return sim_parse_count(CMD, flag, value, KV_SIM_MIN_AE_MS, KV_SIM_MAX_AE_MS,
                               &c->anti_entropy_ms);
    case F_HORIZON_MS:
        return parse_ms(flag, value, 0, KV_SIM_MAX_HORIZON_MS, &c->horizon_ms);
    case F_DURATION_MS:
        return parse_ms(flag, value, 1, KV_SIM_MAX_DURATION_MS, &c->duration_ms);
    case F_DEADLINE_MS:
        return parse_ms(flag, value, 1, KV_SIM_MAX_DEADLINE_MS, &c->deadline_ms);
    case F_SKEW_MS:
        return sim_parse_count(CMD, flag, value, 0, KV_SIM_MAX_SKEW_MS, &c->skew_ms);
    case F_FANOUT:
        return sim_parse_count(CMD, flag, value, 0, KV_SIM_MAX_FANOUT, &c->fanout);
    case F_RUMOR_K:
        return sim_parse_count(CMD, flag, value, 1, KV_SIM_MAX_RUMOR_K, &c->rumor_k);
    case F_KEY_DIST:
        if (strcmp(value, "zipf") == 0)
            c->zipf = true;
        else if (strcmp(value, "uniform") == 0)
            c->zipf = false;
        else
            return sim_usage_error(CMD, flag, "'%s' is not zipf or uniform", value);
        return 0;
    case F_METHOD: {
        static const struct {
            const char *name;
            int method;
        } names[] = {{"mixed", KV_SIM_METHOD_MIXED},
                     {"auto", RECON_AUTO},
                     {"merkle", RECON_MERKLE},
                     {"iblt", RECON_IBLT}};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(value, names[i].name) == 0) {
                c->method = names[i].method;
                return 0;
            }
        return sim_usage_error(CMD, flag, "'%s' is not mixed, auto, merkle or iblt", value);
    }
    case F_SEED:
        return sim_parse_seed(CMD, flag, value, &c->seed);
    case F_SEEDS:
        a->multi = true;
        return sim_parse_count(CMD, flag, value, 1, KV_CMD_MAX_SEEDS, &a->seeds);
    case F_THREADS:
        return sim_parse_count(CMD, flag, value, 1, KV_CMD_MAX_THREADS, &a->threads);
    case F_GC_RULE:
        if (strcmp(value, "acked") == 0)
            c->gc_rule = KV_SIM_GC_ACKED;
        else if (strcmp(value, "eager") == 0)
            c->gc_rule = KV_SIM_GC_EAGER;
        else
            return sim_usage_error(CMD, flag, "'%s' is not acked or eager", value);
        return 0;
    case F_INJECT_BUG:
        if (strcmp(value, "drop-merge") == 0)
            c->bug = KV_SIM_BUG_DROP_MERGE;
        else if (strcmp(value, "gc-unsafe") == 0)
            c->bug = KV_SIM_BUG_GC_UNSAFE;
        else
            return sim_usage_error(CMD, flag, "'%s' is not drop-merge or gc-unsafe", value);
        return 0;
    case F_COUNT:
        break;
    }
    return 0;
}

/* Accepts "--flag value" and "--flag=value". */
static int parse_args(int argc, char **argv, struct kv_args *a)
{
    int rc = sim_parse_flags(CMD, argc, argv, flags, F_COUNT, a->given, &a->help, &a->json,
                             apply_option, a);
    if (rc != 0 || a->help)
        return rc;
    if (a->multi && a->cfg.seed > UINT64_MAX - (a->seeds - 1))
        return sim_usage_error(CMD, "--seeds", "seed %llu + %u - 1 does not fit in 64 bits",
                               (unsigned long long)a->cfg.seed, a->seeds);
    return 0;
}

static const char *method_name(int m)
{
    return m == KV_SIM_METHOD_MIXED ? "mixed" : recon_method_name((recon_method)m);
}

static const char *bug_name(int b)
{
    return b == KV_SIM_BUG_DROP_MERGE   ? "drop-merge"
           : b == KV_SIM_BUG_GC_UNSAFE ? "gc-unsafe"
                                        : NULL;
}

/* ---- running the seeds ----------------------------------------------------------- */

typedef struct pool {
    const struct kv_args *a;
    kv_sim_result *res;
    int *rc;
    uint32_t next;
    pthread_mutex_t lock;
} pool;

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        uint32_t i = p->next < p->a->seeds ? p->next++ : UINT32_MAX;
        pthread_mutex_unlock(&p->lock);
        if (i == UINT32_MAX)
            return NULL;
        kv_sim_config c = p->a->cfg;
        c.seed += i;
        p->rc[i] = kv_sim_run(&c, &p->res[i]);
    }
}

static void run_all(const struct kv_args *a, kv_sim_result *res, int *rc)
{
    pool p = {a, res, rc, 0, PTHREAD_MUTEX_INITIALIZER};
    uint32_t threads = a->threads < a->seeds ? a->threads : a->seeds;
    pthread_t helpers[KV_CMD_MAX_THREADS];
    uint32_t started = 0;
    for (uint32_t t = 1; t < threads; t++) {
        if (pthread_create(&helpers[started], NULL, worker, &p) != 0)
            break;
        started++;
    }
    worker(&p);
    for (uint32_t t = 0; t < started; t++)
        pthread_join(helpers[t], NULL);
}

/* ---- output ------------------------------------------------------------------------ */

#define U(x) ((unsigned long long)(x))

static void json_config(const kv_sim_config *c)
{
    printf("\"nodes\":%u,\"keys\":%u,\"writes\":%u,\"delete_fraction\":%.6g,\"loss\":%.6g,"
           "\"latency_ms\":[%u,%u],\"with_partitions\":%s,\"with_restarts\":%s,"
           "\"anti_entropy_ms\":%u,"
           "\"horizon_ms\":%llu,\"duration_ms\":%llu,\"deadline_ms\":%llu,\"skew_ms\":%u,"
           "\"fanout\":%u,\"rumor_k\":%u,\"key_dist\":\"%s\",\"method\":\"%s\","
           "\"gc_rule\":\"%s\",",
           c->nodes, c->keys, c->writes, c->delete_fraction, c->loss, c->latency_min_ms,
           c->latency_max_ms, c->partitions ? "true" : "false", c->restarts ? "true" : "false",
           c->anti_entropy_ms, U(c->horizon_ms), U(c->duration_ms), U(c->deadline_ms),
           c->skew_ms, c->fanout, c->rumor_k, c->zipf ? "zipf" : "uniform",
           method_name(c->method), c->gc_rule == KV_SIM_GC_ACKED ? "acked" : "eager");
    if (bug_name(c->bug))
        printf("\"inject_bug\":\"%s\",", bug_name(c->bug));
}

static void json_run(const kv_sim_config *c, const kv_sim_result *r, bool with_config)
{
    printf("{\"seed\":%llu,", U(r->seed));
    if (with_config)
        json_config(c);
    else
        printf("\"nodes\":%u,", c->nodes);
    printf("\"writes_acked\":%llu,\"puts_acked\":%llu,\"deletes_acked\":%llu,"
           "\"deletes_absent\":%llu,\"writes_no_node\":%llu,\"writes_failed\":%llu,",
           U(r->puts_acked + r->deletes_acked), U(r->puts_acked), U(r->deletes_acked),
           U(r->deletes_absent), U(r->writes_no_node), U(r->writes_failed));
    printf("\"rumor_messages\":%llu,\"rumor_entries\":%llu,\"rumor_entries_new\":%llu,"
           "\"feedback_messages\":%llu,\"rumors_unacked\":%llu,",
           U(r->rumor_messages), U(r->rumor_entries), U(r->rumor_entries_new),
           U(r->feedback_messages), U(r->rumors_unacked));
    printf("\"sessions\":%llu,\"sessions_completed\":%llu,\"sessions_aborted\":%llu,"
           "\"sessions_equal\":%llu,\"sessions_merkle\":%llu,\"sessions_iblt\":%llu,"
           "\"sessions_fell_back\":%llu,\"sessions_refused\":%llu,\"sessions_stale\":%llu,"
           "\"session_timeouts\":%llu,"
           "\"sessions_final_lost\":%llu,\"sessions_acked\":%llu,\"acks_missing\":%llu,"
           "\"session_messages\":%llu,\"session_bytes\":%llu,"
           "\"session_entries\":%llu,",
           U(r->sessions), U(r->sessions_completed), U(r->sessions_aborted),
           U(r->sessions_equal), U(r->sessions_merkle), U(r->sessions_iblt),
           U(r->sessions_fell_back), U(r->sessions_refused), U(r->sessions_stale),
           U(r->session_timeouts),
           U(r->sessions_final_lost), U(r->sessions_acked), U(r->acks_missing),
           U(r->session_messages), U(r->session_bytes),
           U(r->session_entries));
    printf("\"messages_sent\":%llu,\"bytes_sent\":%llu,\"messages_lost\":%llu,"
           "\"messages_lost_random\":%llu,\"messages_partitioned\":%llu,"
           "\"messages_to_down\":%llu,\"messages_rejected\":%llu,"
           "\"session_messages_rejected\":%llu,",
           U(r->messages_sent), U(r->bytes_sent), U(r->messages_lost),
           U(r->messages_lost_random), U(r->messages_partitioned), U(r->messages_to_down),
           U(r->msgs_rejected), U(r->session_msgs_rejected));
    printf("\"restarts\":%llu,\"partitions\":%llu,\"torn_tails\":%llu,\"corrupt_tails\":%llu,"
           "\"log_bytes_cut\":%llu,\"records_replayed\":%llu,\"compactions\":%llu,"
           "\"tombstones_collected\":%llu,\"collected_in_faults\":%llu,\"expired_refused\":%llu,",
           U(r->restarts), U(r->partitions), U(r->torn_tails), U(r->corrupt_tails),
           U(r->log_bytes_cut), U(r->records_replayed), U(r->compactions),
           U(r->tombstones_collected), U(r->collected_in_faults), U(r->expired_refused));
    if (r->converged)
        printf("\"converged\":true,\"converge_ms\":%llu,", U(r->converge_ms));
    else
        printf("\"converged\":false,\"converge_ms\":null,");
    printf("\"collect_required\":%s,", r->collect_required ? "true" : "false");
    if (r->collected)
        printf("\"collected\":true,\"collect_ms\":%llu,", U(r->collect_ms));
    else
        printf("\"collected\":false,\"collect_ms\":null,");
    printf("\"tombstones_left\":%llu,", U(r->tombstones_left));
    printf("\"end_ms\":%llu,\"identical\":%s,\"lost_writes\":%llu,\"resurrected\":%llu,"
           "\"index_mismatches\":%llu,\"live_keys\":%llu,\"tombstones_held\":%llu,"
           "\"events\":%llu,\"ok\":%s}",
           U(r->end_ms), r->identical ? "true" : "false", U(r->lost_writes), U(r->resurrected),
           U(r->index_mismatches), U(r->live_keys), U(r->tombstones_held), U(r->events),
           r->ok ? "true" : "false");
}

typedef struct summary {
    uint32_t runs, ok, converged, collected;
    uint64_t p50, p90, p99, max, mean;
    uint64_t c50, c90, cmax;
    uint64_t writes_acked, deletes_acked, sessions, sessions_aborted, messages_lost, restarts,
        partitions, tombstones_collected, lost_writes, resurrected;
} summary;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p% of the values at or below it. */
static uint64_t rank(const uint64_t *v, uint32_t n, unsigned p)
{
    uint64_t k = ((uint64_t)n * p + 99) / 100;
    return v[k ? k - 1 : 0];
}

static int summarise(const kv_sim_result *res, uint32_t n, summary *s)
{
    memset(s, 0, sizeof *s);
    uint64_t *conv = malloc((n ? n : 1) * sizeof *conv);
    uint64_t *coll = malloc((n ? n : 1) * sizeof *coll);
    if (!conv || !coll) {
        free(conv);
        free(coll);
        return -1;
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        const kv_sim_result *r = &res[i];
        s->runs++;
        s->ok += r->ok;
        if (r->converged) {
            conv[s->converged++] = r->converge_ms;
            sum += r->converge_ms;
        }
        if (r->collected)
            coll[s->collected++] = r->collect_ms;
        s->writes_acked += r->puts_acked + r->deletes_acked;
        s->deletes_acked += r->deletes_acked;
        s->sessions += r->sessions;
        s->sessions_aborted += r->sessions_aborted;
        s->messages_lost += r->messages_lost;
        s->restarts += r->restarts;
        s->partitions += r->partitions;
        s->tombstones_collected += r->tombstones_collected;
        s->lost_writes += r->lost_writes;
        s->resurrected += r->resurrected;
    }
    if (s->converged) {
        qsort(conv, s->converged, sizeof *conv, cmp_u64);
        s->p50 = rank(conv, s->converged, 50);
        s->p90 = rank(conv, s->converged, 90);
        s->p99 = rank(conv, s->converged, 99);
        s->max = conv[s->converged - 1];
        s->mean = sum / s->converged;
    }
    if (s->collected) {
        qsort(coll, s->collected, sizeof *coll, cmp_u64);
        s->c50 = rank(coll, s->collected, 50);
        s->c90 = rank(coll, s->collected, 90);
        s->cmax = coll[s->collected - 1];
    }
    free(conv);
    free(coll);
    return 0;
}

static void json_summary(const summary *s, const kv_sim_result *res, uint32_t n)
{
    printf("\"summary\":{\"runs\":%u,\"ok\":%u,\"failed\":%u,\"failed_seeds\":[", s->runs, s->ok,
           s->runs - s->ok);
    bool first = true;
    for (uint32_t i = 0; i < n; i++)
        if (!res[i].ok) {
            printf("%s%llu", first ? "" : ",", U(res[i].seed));
            first = false;
        }
    printf("],\"converged\":%u,", s->converged);
    if (s->converged)
        printf("\"converge_ms_p50\":%llu,\"converge_ms_p90\":%llu,\"converge_ms_p99\":%llu,"
               "\"converge_ms_max\":%llu,\"converge_ms_mean\":%llu,",
               U(s->p50), U(s->p90), U(s->p99), U(s->max), U(s->mean));
    else
        printf("\"converge_ms_p50\":null,\"converge_ms_p90\":null,\"converge_ms_p99\":null,"
               "\"converge_ms_max\":null,\"converge_ms_mean\":null,");
    printf("\"collected\":%u,", s->collected);
    if (s->collected)
        printf("\"collect_ms_p50\":%llu,\"collect_ms_p90\":%llu,\"collect_ms_max\":%llu,",
               U(s->c50), U(s->c90), U(s->cmax));
    else
        printf("\"collect_ms_p50\":null,\"collect_ms_p90\":null,\"collect_ms_max\":null,");
    printf("\"writes_acked\":%llu,\"deletes_acked\":%llu,\"sessions\":%llu,"
           "\"sessions_aborted\":%llu,\"messages_lost\":%llu,\"restarts\":%llu,"
           "\"partitions\":%llu,\"tombstones_collected\":%llu,\"lost_writes\":%llu,"
           "\"resurrected\":%llu}",
           U(s->writes_acked), U(s->deletes_acked), U(s->sessions), U(s->sessions_aborted),
           U(s->messages_lost), U(s->restarts), U(s->partitions), U(s->tombstones_collected),
           U(s->lost_writes), U(s->resurrected));
}

static void text_header(const kv_sim_config *c, const struct kv_args *a)
{
    printf("gossip-sim kv: %u replicas, %u keys (%s), %u write attempts (%.0f%% deletes) in "
           "%llu ms, loss %g%%, latency %u-%u ms, clock skew +-%u ms\n",
           c->nodes, c->keys, c->zipf ? "zipf" : "uniform", c->writes,
           100 * c->delete_fraction, U(c->duration_ms), 100 * c->loss, c->latency_min_ms,
           c->latency_max_ms, c->skew_ms);
    printf("  partitions %s, restarts %s, anti-entropy every %u ms (%s), tombstone horizon "
           "%llu ms (gc rule %s), fanout %u, k %u",
           c->partitions ? "on" : "off", c->restarts ? "on" : "off", c->anti_entropy_ms,
           method_name(c->method), U(c->horizon_ms),
           c->gc_rule == KV_SIM_GC_ACKED ? "acked" : "eager", c->fanout, c->rumor_k);
    if (bug_name(c->bug))
        printf(", INJECTED BUG %s", bug_name(c->bug));
    if (a->multi)
        printf("; seeds %llu..%llu", U(c->seed), U(c->seed + a->seeds - 1));
    printf("\n");
}

static void text_verdict(const kv_sim_result *r, char *buf, size_t len)
{
    char conv[96];
    if (r->converged && r->collected)
        snprintf(conv, sizeof conv, "identical %llu ms after the faults, all collected at %llu ms",
                 U(r->converge_ms), U(r->collect_ms));
    else if (r->converged && !r->collect_required)
        snprintf(conv, sizeof conv, "identical %llu ms after the faults (horizon >= deadline: "
                 "collection not awaited)", U(r->converge_ms));
    else if (r->converged)
        snprintf(conv, sizeof conv, "identical %llu ms after the faults, %llu tombstones NOT "
                 "collected by the deadline", U(r->converge_ms), U(r->tombstones_left));
    else
        snprintf(conv, sizeof conv, "NOT identical by the deadline");
    snprintf(buf, len, "%s; lost writes %llu, resurrected %llu, index mismatches %llu: %s", conv,
             U(r->lost_writes), U(r->resurrected), U(r->index_mismatches),
             r->ok ? "ok" : "FAILED");
}

static void text_run(const kv_sim_result *r)
{
    char verdict[256];
    text_verdict(r, verdict, sizeof verdict);
    printf("seed %llu\n", U(r->seed));
    printf("  writes      %llu acknowledged (%llu deletes); %llu deletes of absent keys, %llu "
           "with every replica down\n",
           U(r->puts_acked + r->deletes_acked), U(r->deletes_acked), U(r->deletes_absent),
           U(r->writes_no_node));
    printf("  rumors      %llu messages, %llu entries (%llu new to the receiver), %llu "
           "feedback, %llu stopped unacknowledged\n",
           U(r->rumor_messages), U(r->rumor_entries), U(r->rumor_entries_new),
           U(r->feedback_messages), U(r->rumors_unacked));
    printf("  sessions    %llu started, %llu completed (%llu equal, %llu merkle, %llu iblt, "
           "%llu fell back), %llu aborted; %llu timeouts, %llu refused, %llu stale, %llu "
           "completed by a side whose last message was dropped\n",
           U(r->sessions), U(r->sessions_completed), U(r->sessions_equal), U(r->sessions_merkle),
           U(r->sessions_iblt), U(r->sessions_fell_back), U(r->sessions_aborted),
           U(r->session_timeouts), U(r->sessions_refused), U(r->sessions_stale),
           U(r->sessions_final_lost));
    printf("  network     %llu messages, %llu bytes; %llu lost (%llu at random, %llu by "
           "partitions, %llu to a down replica)\n",
           U(r->messages_sent), U(r->bytes_sent), U(r->messages_lost),
           U(r->messages_lost_random), U(r->messages_partitioned), U(r->messages_to_down));
    printf("  faults      %llu restarts (%llu torn and %llu damaged log tails, %llu bytes cut, "
           "%llu records replayed), %llu partitions, %llu compactions\n",
           U(r->restarts), U(r->torn_tails), U(r->corrupt_tails), U(r->log_bytes_cut),
           U(r->records_replayed), U(r->partitions), U(r->compactions));
    printf("  tombstones  %llu collected (%llu during the faults), %llu refused as expired; at "
           "the end replica 0 holds %llu live keys and %llu tombstones\n",
           U(r->tombstones_collected), U(r->collected_in_faults), U(r->expired_refused),
           U(r->live_keys),
           U(r->tombstones_held));
    printf("  verdict     %s\n", verdict);
}

static void text_line(const kv_sim_result *r)
{
    char verdict[256];
    text_verdict(r, verdict, sizeof verdict);
    printf("seed %llu: %llu writes acked, %llu sessions (%llu aborted), %llu restarts, %llu "
           "partitions, %llu collected; %s\n",
           U(r->seed), U(r->puts_acked + r->deletes_acked), U(r->sessions),
           U(r->sessions_aborted), U(r->restarts), U(r->partitions),
           U(r->tombstones_collected), verdict);
}

static void text_summary(const summary *s)
{
    printf("summary: %u of %u seeds ok", s->ok, s->runs);
    if (s->converged)
        printf("; converge_ms p50 %llu, p90 %llu, p99 %llu, max %llu (%u converged)", U(s->p50),
               U(s->p90), U(s->p99), U(s->max), s->converged);
    if (s->collected)
        printf("; collect_ms p50 %llu, p90 %llu, max %llu", U(s->c50), U(s->c90), U(s->cmax));
    printf("\n  %llu writes acked (%llu deletes), %llu sessions (%llu aborted), %llu messages "
           "lost, %llu restarts, %llu partitions, %llu tombstones collected, %llu lost writes, "
           "%llu resurrected\n",
           U(s->writes_acked), U(s->deletes_acked), U(s->sessions), U(s->sessions_aborted),
           U(s->messages_lost), U(s->restarts), U(s->partitions), U(s->tombstones_collected),
           U(s->lost_writes), U(s->resurrected));
}

int sim_cmd_kv(int argc, char **argv)
{
    struct kv_args a;
    memset(&a, 0, sizeof a);
    kv_sim_config_init(&a.cfg);
    a.seeds = 1;
    a.threads = sim_default_threads(KV_CMD_MAX_THREADS);
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (a.help) {
        print_usage(stdout);
        return 0;
    }
    kv_sim_result *res = calloc(a.seeds, sizeof *res);
    int *rcs = calloc(a.seeds, sizeof *rcs);
    if (!res || !rcs) {
        free(res);
        free(rcs);
        fprintf(stderr, "gossip-sim kv: out of memory\n");
        return 3;
    }
    run_all(&a, res, rcs);
    for (uint32_t i = 0; i < a.seeds; i++)
        if (rcs[i] != 0) {
            fprintf(stderr, "gossip-sim kv: seed %llu: the simulator failed: %s\n",
                    U(a.cfg.seed + i), gossip_strerror(rcs[i]));
            free(res);
            free(rcs);
            return 3;
        }
    summary s;
    if (summarise(res, a.seeds, &s) != 0) {
        fprintf(stderr, "gossip-sim kv: out of memory\n");
        free(res);
        free(rcs);
        return 3;
    }
    if (a.json && !a.multi) {
        json_run(&a.cfg, &res[0], true);
        printf("\n");
    } else if (a.json) {
        printf("{\"seed\":%llu,\"seeds\":%u,", U(a.cfg.seed), a.seeds);
        json_config(&a.cfg);
        printf("\"runs\":[");
        for (uint32_t i = 0; i < a.seeds; i++) {
            printf(i ? ",\n" : "\n");
            json_run(&a.cfg, &res[i], false);
        }
        printf("],\n");
        json_summary(&s, res, a.seeds);
        printf("}\n");
    } else {
        text_header(&a.cfg, &a);
        if (!a.multi)
            text_run(&res[0]);
        else {
            for (uint32_t i = 0; i < a.seeds; i++)
                text_line(&res[i]);
            text_summary(&s);
        }
    }
    int status = 0;
    for (uint32_t i = 0; i < a.seeds; i++) {
        const kv_sim_result *r = &res[i];
        if (r->ok)
            continue;
        status = 1;
        fprintf(stderr,
                "gossip-sim kv: seed %llu: FAILED: identical %s (converged %s), tombstones "
                "left %llu, lost writes %llu, resurrected %llu, index mismatches %llu, "
                "rejected messages %llu+%llu, failed writes %llu\n",
                U(r->seed), r->identical ? "yes" : "no", r->converged ? "yes" : "no",
                U(r->tombstones_left),
                U(r->lost_writes), U(r->resurrected), U(r->index_mismatches),
                U(r->msgs_rejected), U(r->session_msgs_rejected), U(r->writes_failed));
    }
    free(res);
    free(rcs);
    return status;
}
