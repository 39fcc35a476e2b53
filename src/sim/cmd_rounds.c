/*
 * cmd_rounds.c -- `gossip-sim rounds`: command line of the round model.
 *
 * Every argument is checked before anything runs; a bad one is named on
 * stderr and the exit status is 2 (usage error), as for the other
 * subcommands.  The model itself lives in rounds.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/gossip.h"
#include "sim/cli_args.h"
#include "sim/rounds.h"
#include "sim/sim.h"

static const char CMD[] = "rounds";

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: gossip-sim rounds --nodes N --mode push|pull|pushpull --fanout K\n"
            "                         --trials T --seed S [--loss P] [--threads M] [--json]\n"
            "\n"
            "Synchronous round model of one rumor started at one random node.  In each\n"
            "round every node contacts K distinct peers drawn uniformly from the other\n"
            "N-1 nodes; information moves according to the state at the round's start.\n"
            "Counts rounds until all N nodes are informed.\n"
            "\n"
            "  --nodes N     2 .. %u (ROUNDS_MAX_NODES)\n"
            "  --mode M      push: informed nodes push; pull: uninformed nodes pull;\n"
            "                pushpull: every node exchanges state with its peers\n"
            "  --fanout K    1 .. min(N-1, %u) (ROUNDS_MAX_FANOUT)\n"
            "  --trials T    independent runs, 1 .. %u (ROUNDS_MAX_TRIALS)\n"
            "  --seed S      unsigned 64-bit integer; same arguments and seed, same results\n"
            "  --loss P      each message lost independently with probability P in [0, 1);\n"
            "                a pull or push-pull contact is a request and a reply\n"
            "  --threads M   worker threads, 1 .. %u (default: online CPUs); the results\n"
            "                do not depend on it\n"
            "  --json        print one JSON object instead of the summary\n"
            "\n"
            "A trial stops after %u rounds (ROUNDS_MAX_ROUNDS) and is reported as capped.\n"
            "See docs/theory.md for the model and the meaning of every output field.\n",
            ROUNDS_MAX_NODES, ROUNDS_MAX_FANOUT, ROUNDS_MAX_TRIALS, ROUNDS_MAX_THREADS,
            ROUNDS_MAX_ROUNDS);
}

/* The loss probability: a number in [0, 1). */
static int parse_loss(const char *flag, const char *text, double *out)
{
    int rc = sim_parse_double(CMD, flag, text, out);
    if (rc == 0 && !(*out >= 0.0 && *out < 1.0))
        return sim_usage_error(CMD, flag, "%s is not in [0, 1)", text);
    return rc;
}

enum flag_id { F_NODES, F_MODE, F_FANOUT, F_TRIALS, F_SEED, F_LOSS, F_THREADS, F_COUNT };

static const sim_flag flags[F_COUNT] = {
    [F_NODES] = {"--nodes", true},   [F_MODE] = {"--mode", true},
    [F_FANOUT] = {"--fanout", true}, [F_TRIALS] = {"--trials", true},
    [F_SEED] = {"--seed", true},     [F_LOSS] = {"--loss", true},
    [F_THREADS] = {"--threads", true},
};

struct rounds_args {
    struct rounds_config cfg;
    bool json;
    bool help;
    bool given[F_COUNT]; /* to find missing required flags */
};

/* Applies one "--flag value" pair.  Returns 0 or SIM_EXIT_USAGE. */
static int apply_option(void *ctx, size_t id, const char *flag, const char *value)
{
    struct rounds_config *cfg = &((struct rounds_args *)ctx)->cfg;
    switch ((enum flag_id)id) {
    case F_NODES:
        return sim_parse_count(CMD, flag, value, 2, ROUNDS_MAX_NODES, &cfg->nodes);
    case F_FANOUT:
        return sim_parse_count(CMD, flag, value, 1, ROUNDS_MAX_FANOUT, &cfg->fanout);
    case F_TRIALS:
        return sim_parse_count(CMD, flag, value, 1, ROUNDS_MAX_TRIALS, &cfg->trials);
    case F_THREADS:
        return sim_parse_count(CMD, flag, value, 1, ROUNDS_MAX_THREADS, &cfg->threads);
    case F_SEED:
        return sim_parse_seed(CMD, flag, value, &cfg->seed);
    case F_LOSS:
        return parse_loss(flag, value, &cfg->loss);
    case F_MODE:
        if (rounds_mode_parse(value, &cfg->mode) != 0)
            return sim_usage_error(CMD, flag, "'%s' is not one of push, pull, pushpull", value);
        return 0;
    case F_COUNT:
        break;
    }
    return 0;
}

/* Accepts "--flag value" and "--flag=value". */
static int parse_args(int argc, char **argv, struct rounds_args *a)
{
    return sim_parse_flags(CMD, argc, argv, flags, F_COUNT, a->given, &a->help, &a->json,
                           apply_option, a);
}

static int check_required(const struct rounds_args *a)
{
    static const enum flag_id required[] = {F_NODES, F_MODE, F_FANOUT, F_TRIALS, F_SEED};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!a->given[required[i]])
            return sim_usage_error(CMD, flags[required[i]].name, "missing (required)");
    if (a->cfg.fanout >= a->cfg.nodes)
        return sim_usage_error(CMD, "--fanout",
                               "%u must be less than --nodes (%u): a node never contacts itself",
                               a->cfg.fanout, a->cfg.nodes);
    return 0;
}

/* The formula holds for fanout 1 without loss; elsewhere there is none. */
static bool theory_applies(const struct rounds_config *cfg)
{
    return cfg->fanout == 1 && cfg->loss == 0.0;
}

/* The shortest of %.15g / %.17g that reads back as the same double, so
 * that 0.1 prints as 0.1 and every value still round-trips. */
static void print_json_double(double value)
{
    char text[32];
    snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value)
        snprintf(text, sizeof text, "%.17g", value);
    fputs(text, stdout);
}

static void print_json(const struct rounds_config *cfg, const struct rounds_summary *s)
{
    printf("{\"nodes\":%u,\"mode\":\"%s\",\"fanout\":%u,\"trials\":%u,\"seed\":%llu,"
           "\"loss\":",
           cfg->nodes, rounds_mode_name(cfg->mode), cfg->fanout, cfg->trials,
           (unsigned long long)cfg->seed);
    print_json_double(cfg->loss);
    printf(",\"threads\":%u,", cfg->threads);
    printf("\"rounds_mean\":%.6f,\"rounds_stddev\":%.6f,\"rounds_min\":%u,"
           "\"rounds_p99\":%u,\"rounds_max\":%u,\"trials_capped\":%u,\"max_rounds\":%u,",
           s->rounds_mean, s->rounds_stddev, s->rounds_min, s->rounds_p99, s->rounds_max,
           s->trials_capped, ROUNDS_MAX_ROUNDS);
    printf("\"messages_per_node\":%.6f,\"node_rounds\":%llu,\"elapsed_sec\":%.6f,"
           "\"node_rounds_per_sec\":%.0f,",
           s->messages_per_node, (unsigned long long)s->node_rounds, s->elapsed_sec,
           s->node_rounds_per_sec);
    if (theory_applies(cfg))
        printf("\"theory_rounds\":%.6f,\"theory_formula\":\"%s\"}\n",
               rounds_theory(cfg->mode, cfg->nodes), rounds_theory_formula(cfg->mode));
    else
        printf("\"theory_rounds\":null,\"theory_formula\":null}\n");
}

static void print_summary(const struct rounds_config *cfg, const struct rounds_summary *s)
{
    printf("%s, N=%u, fanout %u, loss %g: %u trials (seed %llu, %u threads)\n",
           rounds_mode_name(cfg->mode), cfg->nodes, cfg->fanout, cfg->loss, cfg->trials,
           (unsigned long long)cfg->seed, cfg->threads);
    printf("rounds to inform all: mean %.2f  stddev %.2f  min %u  p99 %u  max %u\n",
           s->rounds_mean, s->rounds_stddev, s->rounds_min, s->rounds_p99, s->rounds_max);
    if (theory_applies(cfg))
        printf("theory (%s): %.2f\n", rounds_theory_formula(cfg->mode),
               rounds_theory(cfg->mode, cfg->nodes));
    printf("contacts per node: %.2f\n", s->messages_per_node);
    printf("speed: %.3g node-rounds/s (%.2f s)\n", s->node_rounds_per_sec, s->elapsed_sec);
}

int sim_cmd_rounds(int argc, char **argv)
{
    struct rounds_args args = {.cfg = {.threads = sim_default_threads(ROUNDS_MAX_THREADS)}};
    int rc = parse_args(argc, argv, &args);
    if (rc != 0)
        return rc;
    if (args.help) {
        print_usage(stdout);
        return 0;
    }
    rc = check_required(&args);
    if (rc != 0)
        return rc;
    const char *problem = rounds_config_problem(&args.cfg);
    if (problem != NULL) { /* the checks above should have caught it */
        fprintf(stderr, "gossip-sim rounds: %s\n", problem);
        return SIM_EXIT_USAGE;
    }

    struct rounds_summary summary;
    rc = rounds_run(&args.cfg, &summary);
    if (rc != 0) {
        fprintf(stderr, "gossip-sim rounds: %s\n",
                rc == GOSSIP_ERR_NOMEM ? "out of memory" : "invalid configuration");
        return 1;
    }
    if (summary.trials_capped > 0)
        fprintf(stderr,
                "gossip-sim rounds: warning: %u of %u trials stopped at %u rounds "
                "(ROUNDS_MAX_ROUNDS) with nodes still uninformed\n",
                summary.trials_capped, args.cfg.trials, ROUNDS_MAX_ROUNDS);
    if (args.json)
        print_json(&args.cfg, &summary);
    else
        print_summary(&args.cfg, &summary);
    return 0;
}
