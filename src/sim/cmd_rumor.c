/*
 * cmd_rumor.c -- `gossip-sim rumor`: rumor mongering (Demers et al. 1987)
 * in the round model, its anti-entropy backstop, and the broadcast vs
 * gossip hot spot.
 *
 * Every argument is checked before anything runs; a bad one is named on
 * stderr and the exit status is 2, as for `gossip-sim rounds`.  The model
 * lives in rumor.c and rumor_hotspot.c; --json output is built with
 * jansson.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gossip/gossip.h"
#include "sim/cli_args.h"
#include "sim/rumor.h"

static const char CMD[] = "rumor";
#define HOTSPOT_DEFAULT_FANOUT 1u

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: gossip-sim rumor --nodes N --variant V --k K --trials T --seed S\n"
            "                        [--schedule sync|sequential] [--counter-reset]\n"
            "                        [--anti-entropy-after | --anti-entropy-every R]\n"
            "                        [--history] [--threads M] [--json]\n"
            "       gossip-sim rumor --compare-broadcast --nodes N --send-rate M --trials T\n"
            "                        --seed S [--fanout F] [--variant V --k K] [--threads M] [--json]\n"
            "\n"
            "Rumor mongering (Demers et al. 1987) in synchronous rounds: one random node\n"
            "starts with a hot rumor; every infective node pushes it to one random peer\n"
            "per round and may lose interest.  Reports the residue (fraction never\n"
            "informed), the traffic (pushes per node) and t_last (the round in which the\n"
            "last node was informed), as means over the trials.\n"
            "\n"
            "  --nodes N        2 .. %u (RUMOR_MAX_NODES)\n"
            "  --variant V      feedback-counter, feedback-coin, blind-counter, blind-coin:\n"
            "                   blind reacts after every push, feedback only when the peer\n"
            "                   already knew; coin loses interest with probability 1/k at\n"
            "                   each reaction, counter at the k-th reaction\n"
            "  --k K            1 .. %u (RUMOR_MAX_K)\n"
            "  --trials T       independent runs, 1 .. %u\n"
            "  --seed S         unsigned 64-bit integer; same arguments, same results\n"
            "  --schedule S     sync (default): every push of a round is decided from the\n"
            "                   state at the start of the round, and a node informed in\n"
            "                   round r pushes from round r+1; sequential: nodes act one at\n"
            "                   a time in a fresh random order each round and see every\n"
            "                   earlier change of that round\n"
            "  --counter-reset  feedback-counter: a push to a node that did not know resets\n"
            "                   the counter (stop after k unnecessary pushes in a row)\n"
            "  --anti-entropy-after\n"
            "                   once the rumor has died, every node does one push-pull\n"
            "                   anti-entropy exchange with a random peer per round until\n"
            "                   every node is informed\n"
            "  --anti-entropy-every R\n"
            "                   the same exchange every R rounds (1 .. %u) from round R on,\n"
            "                   alongside the rumor, until every node is informed\n"
            "  --history        add the mean uninformed and infective fractions after each\n"
            "                   round (the first %u rounds)\n"
            "  --threads M      worker threads, 1 .. %u (default: online CPUs); the results\n"
            "                   do not depend on it\n"
            "  --json           print one JSON object instead of the summary\n"
            "\n"
            "  --compare-broadcast\n"
            "                   broadcast vs gossip under a per-node send limit: one source\n"
            "                   sends to all N-1 others, M per round, against push gossip\n"
            "                   where every informed node sends to F random peers per round\n"
            "                   until all are informed; with --variant and --k, also that\n"
            "                   rumor-mongering variant\n"
            "  --send-rate M    messages a node may send per round (>= 1)\n"
            "  --fanout F       gossip peers per round, 1 .. min(M, N-1, %u), default 1\n"
            "\n"
            "A trial stops after %u rounds (RUMOR_MAX_ROUNDS) and is reported as capped.\n"
            "See docs/rumor-mongering.md for the model and every output field.\n",
            RUMOR_MAX_NODES, RUMOR_MAX_K, RUMOR_MAX_TRIALS, RUMOR_MAX_AE_EVERY,
            RUMOR_HISTORY_ROUNDS, RUMOR_MAX_THREADS, RUMOR_MAX_FANOUT, RUMOR_MAX_ROUNDS);
}

/* The flags, in one table: name and whether it takes a value; given[]
 * tells which were given (to find missing and conflicting ones). */
enum flag_id {
    F_NODES, F_VARIANT, F_K, F_TRIALS, F_SEED, F_THREADS, F_SCHEDULE, F_COUNTER_RESET,
    F_AE_AFTER, F_AE_EVERY, F_HISTORY, F_COMPARE, F_SEND_RATE, F_FANOUT, F_COUNT
};

static const sim_flag flags[F_COUNT] = {
    [F_NODES] = {"--nodes", true},         [F_VARIANT] = {"--variant", true},
    [F_K] = {"--k", true},                 [F_TRIALS] = {"--trials", true},
    [F_SEED] = {"--seed", true},           [F_THREADS] = {"--threads", true},
    [F_SCHEDULE] = {"--schedule", true},   [F_COUNTER_RESET] = {"--counter-reset", false},
    [F_AE_AFTER] = {"--anti-entropy-after", false},
    [F_AE_EVERY] = {"--anti-entropy-every", true},
    [F_HISTORY] = {"--history", false},
    [F_COMPARE] = {"--compare-broadcast", false},
    [F_SEND_RATE] = {"--send-rate", true}, [F_FANOUT] = {"--fanout", true},
};

struct rumor_args {
    struct rumor_config cfg;
    struct hotspot_config hot;
    bool given[F_COUNT];
    bool json, help;
};

static int apply_option(void *ctx, size_t id, const char *flag, const char *value)
{
    struct rumor_args *a = ctx;
    struct rumor_config *cfg = &a->cfg;
    switch ((enum flag_id)id) {
    case F_NODES:
        return sim_parse_count(CMD, flag, value, 2, RUMOR_MAX_NODES, &cfg->nodes);
    case F_K:
        return sim_parse_count(CMD, flag, value, 1, RUMOR_MAX_K, &cfg->k);
    case F_TRIALS:
        return sim_parse_count(CMD, flag, value, 1, RUMOR_MAX_TRIALS, &cfg->trials);
    case F_THREADS:
        return sim_parse_count(CMD, flag, value, 1, RUMOR_MAX_THREADS, &cfg->threads);
    case F_AE_EVERY:
        cfg->ae_mode = RUMOR_AE_EVERY;
        return sim_parse_count(CMD, flag, value, 1, RUMOR_MAX_AE_EVERY, &cfg->ae_every);
    case F_SEND_RATE:
        return sim_parse_count(CMD, flag, value, 1, UINT32_MAX, &a->hot.send_rate);
    case F_FANOUT:
        return sim_parse_count(CMD, flag, value, 1, RUMOR_MAX_FANOUT, &a->hot.fanout);
    case F_SEED:
        return sim_parse_seed(CMD, flag, value, &cfg->seed);
    case F_VARIANT:
        if (rumor_variant_parse(value, &cfg->variant) != 0)
            return sim_usage_error(CMD, flag,
                                   "'%s' is not one of feedback-counter, feedback-coin, "
                                   "blind-counter, blind-coin",
                                   value);
        return 0;
    case F_SCHEDULE:
        if (rumor_schedule_parse(value, &cfg->schedule) != 0)
            return sim_usage_error(CMD, flag, "'%s' is not one of sync, sequential", value);
        return 0;
    case F_COUNTER_RESET:
        cfg->counter_reset = true;
        return 0;
    case F_AE_AFTER:
        cfg->ae_mode = RUMOR_AE_AFTER;
        return 0;
    case F_HISTORY:
        cfg->history = true;
        return 0;
    case F_COMPARE:
    case F_COUNT:
        return 0;
    }
    return 0;
}

/* Accepts "--flag value" and "--flag=value". */
static int parse_args(int argc, char **argv, struct rumor_args *a)
{
    return sim_parse_flags(CMD, argc, argv, flags, F_COUNT, a->given, &a->help, &a->json,
                           apply_option, a);
}

static int require(const struct rumor_args *a, enum flag_id id)
{
    if (!a->given[id])
        return sim_usage_error(CMD, flags[id].name, "missing (required)");
    return 0;
}

/* With --compare-broadcast, only these rumor flags make sense. */
static int check_compare(struct rumor_args *a)
{
    static const enum flag_id not_here[] = {F_SCHEDULE, F_COUNTER_RESET, F_AE_AFTER,
                                            F_AE_EVERY, F_HISTORY};
    for (size_t i = 0; i < sizeof not_here / sizeof not_here[0]; i++)
        if (a->given[not_here[i]])
            return sim_usage_error(CMD, flags[not_here[i]].name,
                                   "cannot be combined with --compare-broadcast");
    int rc;
    if ((rc = require(a, F_NODES)) || (rc = require(a, F_SEND_RATE)) ||
        (rc = require(a, F_TRIALS)) || (rc = require(a, F_SEED)))
        return rc;
    if (a->given[F_VARIANT] != a->given[F_K])
        return sim_usage_error(CMD, a->given[F_K] ? "--variant" : "--k",
                               "missing: the rumor row needs both --variant and --k");
    a->hot.nodes = a->cfg.nodes;
    a->hot.trials = a->cfg.trials;
    a->hot.seed = a->cfg.seed;
    a->hot.threads = a->cfg.threads;
    if (!a->given[F_FANOUT])
        a->hot.fanout = HOTSPOT_DEFAULT_FANOUT;
    if (a->hot.fanout > a->hot.send_rate)
        return sim_usage_error(CMD, "--fanout",
                               "%u exceeds --send-rate (%u): a node may send at most "
                               "M messages per round",
                               a->hot.fanout, a->hot.send_rate);
    if (a->hot.fanout >= a->hot.nodes)
        return sim_usage_error(CMD, "--fanout", "%u must be less than --nodes (%u)",
                               a->hot.fanout, a->hot.nodes);
    return 0;
}

static int check_rumor(const struct rumor_args *a)
{
    static const enum flag_id compare_only[] = {F_SEND_RATE, F_FANOUT};
    for (size_t i = 0; i < sizeof compare_only / sizeof compare_only[0]; i++)
        if (a->given[compare_only[i]])
            return sim_usage_error(CMD, flags[compare_only[i]].name,
                                   "needs --compare-broadcast");
    int rc;
    if ((rc = require(a, F_NODES)) || (rc = require(a, F_VARIANT)) || (rc = require(a, F_K)) ||
        (rc = require(a, F_TRIALS)) || (rc = require(a, F_SEED)))
        return rc;
    if (a->given[F_AE_AFTER] && a->given[F_AE_EVERY])
        return sim_usage_error(CMD, "--anti-entropy-every",
                               "cannot be combined with --anti-entropy-after");
    if (a->cfg.counter_reset && a->cfg.variant != RUMOR_FEEDBACK_COUNTER)
        return sim_usage_error(CMD, "--counter-reset",
                               "applies to --variant feedback-counter only");
    return 0;
}

/* ---- output -------------------------------------------------------------- */

static json_t *real_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static void set(json_t *obj, const char *key, json_t *value)
{
    json_object_set_new(obj, key, value);
}

/* JSON integers are signed 64-bit in jansson: a seed of 2^63 or more is
 * written as a decimal string instead. */
static json_t *seed_json(uint64_t seed)
{
    if (seed <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)seed);
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)seed);
    return json_string(text);
}

static json_t *rumor_json(const struct rumor_config *cfg, const struct rumor_summary *s)
{
    json_t *o = json_object();
    set(o, "nodes", json_integer(cfg->nodes));
    set(o, "variant", json_string(rumor_variant_name(cfg->variant)));
    set(o, "k", json_integer(cfg->k));
    set(o, "trials", json_integer(cfg->trials));
    set(o, "seed", seed_json(cfg->seed));
    set(o, "threads", json_integer(cfg->threads));
    set(o, "schedule", json_string(rumor_schedule_name(cfg->schedule)));
    set(o, "counter_reset", json_boolean(cfg->counter_reset));
    set(o, "residue", json_real(s->residue_mean));
    set(o, "residue_stddev", json_real(s->residue_stddev));
    set(o, "residue_min", json_real(s->residue_min));
    set(o, "residue_max", json_real(s->residue_max));
    set(o, "theory_residue", real_or_null(s->theory_residue));
    set(o, "traffic", json_real(s->traffic_mean));
    set(o, "traffic_stddev", json_real(s->traffic_stddev));
    set(o, "t_last", json_real(s->t_last_mean));
    set(o, "t_last_stddev", json_real(s->t_last_stddev));
    set(o, "t_last_max", json_integer(s->t_last_max));
    set(o, "t_ave", json_real(s->t_ave_mean));
    set(o, "rounds", json_real(s->rounds_mean));
    set(o, "rounds_max", json_integer(s->rounds_max));
    set(o, "max_sent", json_real(s->max_sent_mean));
    set(o, "max_sent_max", json_integer(s->max_sent_max));
    set(o, "max_received", json_real(s->max_received_mean));
    set(o, "max_received_max", json_integer(s->max_received_max));
    set(o, "trials_capped", json_integer(s->trials_capped));
    set(o, "max_rounds", json_integer(RUMOR_MAX_ROUNDS));
    if (cfg->ae_mode == RUMOR_AE_NONE) {
        set(o, "anti_entropy", json_null());
    } else {
        json_t *ae = json_object();
        set(ae, "mode", json_string(cfg->ae_mode == RUMOR_AE_AFTER ? "after" : "every"));
        set(ae, "every", cfg->ae_mode == RUMOR_AE_EVERY ? json_integer(cfg->ae_every)
                                                        : json_null());
        set(ae, "rounds_to_zero", json_real(s->zero_round_mean));
        set(ae, "rounds_to_zero_max", json_integer(s->zero_round_max));
        set(ae, "ae_rounds", json_real(s->ae_rounds_mean));
        set(ae, "ae_rounds_max", json_integer(s->ae_rounds_max));
        set(ae, "exchanges_per_node", json_real(s->ae_exchanges_per_node));
        set(ae, "final_residue_max", json_real((double)s->final_uninformed_max / cfg->nodes));
        set(o, "anti_entropy", ae);
    }
    if (cfg->history) {
        json_t *h = json_object(), *u = json_array(), *inf = json_array();
        for (uint32_t r = 0; r < s->history_len; r++) {
            json_array_append_new(u, json_real(s->history_uninformed[r]));
            json_array_append_new(inf, json_real(s->history_infective[r]));
        }
        set(h, "uninformed", u);
        set(h, "infective", inf);
        set(o, "history", h);
    }
    set(o, "elapsed_sec", json_real(s->elapsed_sec));
    return o;
}

static json_t *row_json(const struct hotspot_row *r)
{
    json_t *o = json_object();
    set(o, "max_sent", json_real(r->max_sent_mean));
    set(o, "max_sent_max", json_integer(r->max_sent_max));
    set(o, "sent_per_node", json_real(r->sent_per_node));
    set(o, "max_received", json_real(r->max_received_mean));
    set(o, "max_received_max", json_integer(r->max_received_max));
    set(o, "rounds", json_real(r->rounds_mean));
    set(o, "rounds_max", json_integer(r->rounds_max));
    return o;
}

static int print_json(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (text == NULL) {
        fprintf(stderr, "gossip-sim rumor: out of memory\n");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

static void print_rumor_summary(const struct rumor_config *cfg, const struct rumor_summary *s)
{
    printf("%s, k=%u, N=%u, %s schedule%s: %u trials (seed %llu, %u threads)\n",
           rumor_variant_name(cfg->variant), cfg->k, cfg->nodes,
           rumor_schedule_name(cfg->schedule), cfg->counter_reset ? ", counter reset" : "",
           cfg->trials, (unsigned long long)cfg->seed, cfg->threads);
    printf("residue   mean %.5f  stddev %.5f  min %.5f  max %.5f", s->residue_mean,
           s->residue_stddev, s->residue_min, s->residue_max);
    if (isfinite(s->theory_residue))
        printf("  (theory %.5f)", s->theory_residue);
    printf("\ntraffic   %.3f pushes per node (stddev %.3f); busiest sender %.1f (max %u)\n",
           s->traffic_mean, s->traffic_stddev, s->max_sent_mean, s->max_sent_max);
    printf("t_last    mean %.2f  stddev %.2f  max %u rounds;  t_ave %.2f;  rumor died after "
           "%.2f rounds (max %u)\n",
           s->t_last_mean, s->t_last_stddev, s->t_last_max, s->t_ave_mean, s->rounds_mean,
           s->rounds_max);
    if (cfg->ae_mode != RUMOR_AE_NONE) {
        printf("anti-entropy (%s", cfg->ae_mode == RUMOR_AE_AFTER ? "after the rumor" : "every");
        if (cfg->ae_mode == RUMOR_AE_EVERY)
            printf(" %u rounds", cfg->ae_every);
        printf("): residue 0 after %.2f rounds (max %u); %.2f anti-entropy rounds, "
               "%.2f exchanges per node; largest final residue %.5f\n",
               s->zero_round_mean, s->zero_round_max, s->ae_rounds_mean,
               s->ae_exchanges_per_node, (double)s->final_uninformed_max / cfg->nodes);
    }
    if (cfg->history) {
        printf("round  uninformed  infective\n");
        for (uint32_t r = 0; r < s->history_len; r++)
            printf("%5u  %10.6f  %9.6f\n", r, s->history_uninformed[r],
                   s->history_infective[r]);
    }
    printf("elapsed   %.3f s\n", s->elapsed_sec);
}

static void print_row(const char *name, const struct hotspot_row *r)
{
    printf("%-10s  busiest sender %9.1f (max %u)  sent per node %6.3f  busiest receiver "
           "%5.1f (max %u)  rounds to all %8.2f (max %u)\n",
           name, r->max_sent_mean, r->max_sent_max, r->sent_per_node, r->max_received_mean,
           r->max_received_max, r->rounds_mean, r->rounds_max);
}

static int run_rumor(const struct rumor_args *a, bool json)
{
    struct rumor_summary s;
    int rc = rumor_run(&a->cfg, &s);
    if (rc != 0) {
        fprintf(stderr, "gossip-sim rumor: %s\n",
                rc == GOSSIP_ERR_NOMEM ? "out of memory" : "invalid configuration");
        return 1;
    }
    if (s.trials_capped > 0)
        fprintf(stderr, "gossip-sim rumor: warning: %u of %u trials stopped at %u rounds "
                        "(RUMOR_MAX_ROUNDS)\n",
                s.trials_capped, a->cfg.trials, RUMOR_MAX_ROUNDS);
    if (json)
        rc = print_json(rumor_json(&a->cfg, &s));
    else
        print_rumor_summary(&a->cfg, &s);
    rumor_summary_free(&s);
    return rc;
}

static int run_compare(const struct rumor_args *a, bool json)
{
    struct hotspot_summary h;
    int rc = hotspot_run(&a->hot, &h);
    struct rumor_summary s;
    bool with_rumor = a->given[F_VARIANT];
    memset(&s, 0, sizeof s);
    if (rc == 0 && with_rumor)
        rc = rumor_run(&a->cfg, &s);
    if (rc != 0) {
        fprintf(stderr, "gossip-sim rumor: %s\n",
                rc == GOSSIP_ERR_NOMEM ? "out of memory" : "invalid configuration");
        return 1;
    }
    if (json) {
        json_t *o = json_object();
        set(o, "mode", json_string("compare-broadcast"));
        set(o, "nodes", json_integer(a->hot.nodes));
        set(o, "send_rate", json_integer(a->hot.send_rate));
        set(o, "fanout", json_integer(a->hot.fanout));
        set(o, "trials", json_integer(a->hot.trials));
        set(o, "seed", seed_json(a->hot.seed));
        set(o, "threads", json_integer(a->hot.threads));
        set(o, "broadcast", row_json(&h.broadcast));
        set(o, "gossip", row_json(&h.gossip));
        set(o, "trials_capped", json_integer(h.trials_capped));
        set(o, "rumor", with_rumor ? rumor_json(&a->cfg, &s) : json_null());
        set(o, "elapsed_sec", json_real(h.elapsed_sec + s.elapsed_sec));
        rc = print_json(o);
    } else {
        printf("N=%u, send rate %u per node per round, gossip fanout %u: %u trials "
               "(seed %llu)\n",
               a->hot.nodes, a->hot.send_rate, a->hot.fanout, a->hot.trials,
               (unsigned long long)a->hot.seed);
        print_row("broadcast", &h.broadcast);
        print_row("gossip", &h.gossip);
        if (with_rumor)
            printf("%-10s  busiest sender %9.1f (max %u)  sent per node %6.3f  busiest "
                   "receiver %5.1f (max %u)  t_last %.2f (max %u), residue %.5f\n",
                   rumor_variant_name(a->cfg.variant), s.max_sent_mean, s.max_sent_max,
                   s.traffic_mean, s.max_received_mean, s.max_received_max, s.t_last_mean,
                   s.t_last_max, s.residue_mean);
    }
    rumor_summary_free(&s);
    return rc;
}

int sim_cmd_rumor(int argc, char **argv)
{
    struct rumor_args args = {.cfg = {.threads = sim_default_threads(RUMOR_MAX_THREADS)}};
    int rc = parse_args(argc, argv, &args);
    if (rc != 0)
        return rc;
    if (args.help) {
        print_usage(stdout);
        return 0;
    }
    bool compare = args.given[F_COMPARE];
    rc = compare ? check_compare(&args) : check_rumor(&args);
    if (rc != 0)
        return rc;
    const char *problem = NULL;
    if (!compare || args.given[F_VARIANT])
        problem = rumor_config_problem(&args.cfg);
    if (problem == NULL && compare)
        problem = hotspot_config_problem(&args.hot);
    if (problem != NULL) { /* the checks above should have caught it */
        fprintf(stderr, "gossip-sim rumor: %s\n", problem);
        return SIM_EXIT_USAGE;
    }
    return compare ? run_compare(&args, args.json) : run_rumor(&args, args.json);
}
