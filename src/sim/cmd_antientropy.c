/*
 * cmd_antientropy.c -- `gossip-sim antientropy`: command line of the
 * anti-entropy benchmark (antientropy_run.c).  Every argument is checked
 * before anything runs; a bad one is named on stderr with exit status 2.
 * A session that leaves the replicas different exits 1, loudly.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gossip/gossip.h"
#include "sim/antientropy.h"
#include "sim/cli_args.h"

static const char CMD[] = "antientropy";

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: gossip-sim antientropy --keys N --diff FRACTION --value-bytes B [--seed S]\n"
            "                              [--method merkle|iblt|both|auto] [--leaves L]\n"
            "                              [--split K] [--json]\n"
            "\n"
            "Builds two in-memory replicas of a key-value store and reconciles them with the\n"
            "real anti-entropy code (src/core/recon.c), once per method, checking after each\n"
            "session that both replicas are identical and hold the last-writer-wins winner\n"
            "of every key.\n"
            "\n"
            "  --keys N          keys on replica A, 1 .. %u\n"
            "  --diff F          fraction of keys that differ, in [0, 1]: half updated on one\n"
            "                    side (alternately A and B newer; one update in four a delete),\n"
            "                    a quarter only on A, a quarter only on B\n"
            "  --value-bytes B   bytes per value, 0 .. %u\n"
            "  --seed S          unsigned 64-bit integer (default 1); same arguments, same run\n"
            "  --method M        merkle, iblt, both (default), or auto: both, then a session\n"
            "                    in which the responder picks the method from its estimate\n"
            "  --leaves L        Merkle leaves before splitting, a power of two 1 .. 2^%u\n"
            "                    (default 1024)\n"
            "  --split K         a leaf holding more than K keys splits, 2 .. %u (default %u)\n"
            "  --json            one JSON object instead of the table\n"
            "\n"
            "Bytes count every message both ways, headers included; a round trip is two\n"
            "messages.  full_bytes is every entry of A once, min_bytes each differing key's\n"
            "winning entry once.  See docs/anti-entropy.md.\n",
            AE_MAX_KEYS, AE_MAX_VALUE, MERKLE_MAX_LEAF_BITS, MERKLE_MAX_SPLIT,
            MERKLE_DEFAULT_SPLIT);
}

enum flag_id { F_KEYS, F_DIFF, F_VALUE_BYTES, F_SEED, F_METHOD, F_LEAVES, F_SPLIT, F_COUNT };

static const sim_flag flags[F_COUNT] = {
    [F_KEYS] = {"--keys", true},     [F_DIFF] = {"--diff", true},
    [F_VALUE_BYTES] = {"--value-bytes", true},
    [F_SEED] = {"--seed", true},     [F_METHOD] = {"--method", true},
    [F_LEAVES] = {"--leaves", true}, [F_SPLIT] = {"--split", true},
};

struct ae_args {
    ae_config cfg;
    bool json, help;
    bool given[F_COUNT];
    const char *method_name;
};

static int parse_method(struct ae_args *a, const char *flag, const char *value)
{
    static const struct {
        const char *name;
        unsigned methods;
    } names[] = {{"merkle", AE_RUN_MERKLE},
                 {"iblt", AE_RUN_IBLT},
                 {"both", AE_RUN_MERKLE | AE_RUN_IBLT},
                 {"auto", AE_RUN_MERKLE | AE_RUN_IBLT | AE_RUN_AUTO}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(value, names[i].name) == 0) {
            a->cfg.methods = names[i].methods;
            a->method_name = names[i].name;
            return 0;
        }
    }
    return sim_usage_error(CMD, flag, "'%s' is not one of merkle, iblt, both, auto", value);
}

static int parse_leaves(struct ae_args *a, const char *flag, const char *value)
{
    uint64_t v;
    int rc = sim_parse_range(CMD, flag, value, 1, UINT64_C(1) << MERKLE_MAX_LEAF_BITS, &v);
    if (rc != 0)
        return rc;
    if (v & (v - 1))
        return sim_usage_error(CMD, flag, "%s is not a power of two", value);
    unsigned bits = 0;
    while ((UINT64_C(1) << bits) < v)
        bits++;
    /* merkle_init reads 0 as the default: one leaf is not offered. */
    if (bits == 0)
        return sim_usage_error(CMD, flag, "1 leaf is not supported; use 2 or more");
    a->cfg.leaf_bits = bits;
    return 0;
}

static int apply_option(void *ctx, size_t id, const char *flag, const char *value)
{
    struct ae_args *a = ctx;
    switch ((enum flag_id)id) {
    case F_KEYS:
        return sim_parse_range(CMD, flag, value, 1, AE_MAX_KEYS, &a->cfg.keys);
    case F_VALUE_BYTES:
        return sim_parse_count(CMD, flag, value, 0, AE_MAX_VALUE, &a->cfg.value_bytes);
    case F_SEED:
        return sim_parse_seed(CMD, flag, value, &a->cfg.seed);
    case F_DIFF: {
        int rc = sim_parse_double(CMD, flag, value, &a->cfg.diff);
        if (rc == 0 && !(a->cfg.diff >= 0.0 && a->cfg.diff <= 1.0))
            return sim_usage_error(CMD, flag, "%s is not in [0, 1]", value);
        return rc;
    }
    case F_METHOD:
        return parse_method(a, flag, value);
    case F_LEAVES:
        return parse_leaves(a, flag, value);
    case F_SPLIT:
        return sim_parse_count(CMD, flag, value, 2, MERKLE_MAX_SPLIT, &a->cfg.split);
    case F_COUNT:
        break;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct ae_args *a)
{
    int rc = sim_parse_flags(CMD, argc, argv, flags, F_COUNT, a->given, &a->help, &a->json,
                             apply_option, a);
    if (rc != 0 || a->help)
        return rc;
    static const enum flag_id required[] = {F_KEYS, F_DIFF, F_VALUE_BYTES};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!a->given[required[i]])
            return sim_usage_error(CMD, flags[required[i]].name, "missing (required)");
    return 0;
}

static double ratio(uint64_t x, uint64_t min)
{
    return min ? (double)x / (double)min : 0;
}

static void json_method(const char *name, const ae_method_result *m, const ae_result *r)
{
    if (!m->ran) {
        printf("\"%s_bytes\":null,\"%s_round_trips\":null,\"%s_messages\":null,", name, name,
               name);
        return;
    }
    printf("\"%s_bytes\":%llu,\"%s_round_trips\":%u,\"%s_messages\":%u,", name,
           (unsigned long long)m->bytes, name, m->round_trips, name, m->messages);
    printf("\"%s_entries\":%llu,\"%s_vs_min\":%.4f,\"%s_saving\":%.6f,\"%s_seconds\":%.3f,",
           name, (unsigned long long)m->entries, name, ratio(m->bytes, r->min_bytes), name,
           r->full_bytes ? 1.0 - (double)m->bytes / (double)r->full_bytes : 0, name, m->seconds);
}

static void print_json(const struct ae_args *a, const ae_result *r)
{
    const ae_config *c = &a->cfg;
    printf("{\"keys\":%llu,\"diff\":%.17g,\"value_bytes\":%u,\"seed\":%llu,\"method\":\"%s\",",
           (unsigned long long)c->keys, c->diff, c->value_bytes, (unsigned long long)c->seed,
           a->method_name);
    printf("\"differing_keys\":%llu,\"updated\":%llu,\"newer_on_a\":%llu,\"newer_on_b\":%llu,"
           "\"deletes\":%llu,\"only_on_a\":%llu,\"only_on_b\":%llu,\"entries_a\":%llu,"
           "\"entries_b\":%llu,\"estimated_differing_keys\":%.1f,",
           (unsigned long long)r->differing, (unsigned long long)r->updated,
           (unsigned long long)r->newer_a, (unsigned long long)r->newer_b,
           (unsigned long long)r->deletes, (unsigned long long)r->only_a,
           (unsigned long long)r->only_b, (unsigned long long)r->entries_a,
           (unsigned long long)r->entries_b, r->estimate);
    printf("\"full_bytes\":%llu,\"min_bytes\":%llu,", (unsigned long long)r->full_bytes,
           (unsigned long long)r->min_bytes);
    json_method("merkle", &r->merkle, r);
    json_method("iblt", &r->iblt, r);
    if (r->iblt.ran)
        printf("\"iblt_symbols\":%llu,\"iblt_batches\":%u,\"iblt_fell_back\":%s,",
               (unsigned long long)r->iblt.initiator.symbols, r->iblt.initiator.symbol_batches,
               r->iblt.initiator.fell_back ? "true" : "false");
    if (r->autom.ran) {
        const recon_stats *s = &r->autom.responder;
        printf("\"chosen_method\":\"%s\",\"auto_bytes\":%llu,\"auto_round_trips\":%u,"
               "\"auto_messages\":%u,\"auto_seconds\":%.3f,"
               "\"auto_predicted_merkle\":%llu,\"auto_predicted_iblt\":%llu,",
               recon_method_name(r->autom.initiator.method), (unsigned long long)r->autom.bytes,
               r->autom.round_trips, r->autom.messages, r->autom.seconds,
               (unsigned long long)s->predicted[RECON_MERKLE],
               (unsigned long long)s->predicted[RECON_IBLT]);
    } else {
        printf("\"chosen_method\":null,");
    }
    printf("\"identical\":true,\"build_seconds\":%.3f}\n", r->build_seconds);
}

static void print_row(const char *name, const ae_method_result *m, const ae_result *r)
{
    if (!m->ran)
        return;
    printf("  %-16s %14llu %9.2fx %10.3f%% %12u %9u %10llu %8.2f\n", name,
           (unsigned long long)m->bytes, ratio(m->bytes, r->min_bytes),
           r->full_bytes ? 100.0 * (1.0 - (double)m->bytes / (double)r->full_bytes) : 0,
           m->round_trips, m->messages, (unsigned long long)m->entries, m->seconds);
}

static void print_table(const struct ae_args *a, const ae_result *r)
{
    const ae_config *c = &a->cfg;
    printf("anti-entropy: %llu keys, %u-byte values, %g%% differ, seed %llu\n",
           (unsigned long long)c->keys, c->value_bytes, 100 * c->diff,
           (unsigned long long)c->seed);
    printf("  %llu differing keys: %llu updated (%llu newer on A, %llu on B; %llu deletes), "
           "%llu only on A, %llu only on B; estimated %.0f\n",
           (unsigned long long)r->differing, (unsigned long long)r->updated,
           (unsigned long long)r->newer_a, (unsigned long long)r->newer_b,
           (unsigned long long)r->deletes, (unsigned long long)r->only_a,
           (unsigned long long)r->only_b, r->estimate);
    printf("\n  %-16s %14s %10s %11s %12s %9s %10s %8s\n", "method", "bytes", "vs min",
           "saving", "round trips", "messages", "entries", "seconds");
    printf("  %-16s %14llu %9.2fx %11s\n", "full transfer", (unsigned long long)r->full_bytes,
           ratio(r->full_bytes, r->min_bytes), "-");
    printf("  %-16s %14llu %9.2fx %10.3f%%\n", "minimum", (unsigned long long)r->min_bytes, 1.0,
           r->full_bytes ? 100.0 * (1.0 - (double)r->min_bytes / (double)r->full_bytes) : 0);
    print_row("merkle", &r->merkle, r);
    print_row("iblt", &r->iblt, r);
    if (r->autom.ran) {
        char name[32];
        snprintf(name, sizeof name, "auto (%s)", recon_method_name(r->autom.initiator.method));
        print_row(name, &r->autom, r);
    }
    if (r->iblt.ran)
        printf("\n  iblt: %llu symbols in %u batches%s\n",
               (unsigned long long)r->iblt.initiator.symbols, r->iblt.initiator.symbol_batches,
               r->iblt.initiator.fell_back ? ", fell back to merkle" : "");
    if (r->autom.ran)
        printf("  auto: predicted merkle %llu, iblt %llu bytes beyond the entries\n",
               (unsigned long long)r->autom.responder.predicted[RECON_MERKLE],
               (unsigned long long)r->autom.responder.predicted[RECON_IBLT]);
    printf("  replicas identical after every session, each key at its last-writer-wins "
           "winner (built in %.2f s)\n", r->build_seconds);
}

int sim_cmd_antientropy(int argc, char **argv)
{
    struct ae_args args = {.cfg = {.seed = 1, .methods = AE_RUN_MERKLE | AE_RUN_IBLT},
                           .method_name = "both"};
    recon_config_default(&args.cfg.recon);
    int rc = parse_args(argc, argv, &args);
    if (rc != 0)
        return rc;
    if (args.help) {
        print_usage(stdout);
        return 0;
    }
    ae_result res;
    char err[512] = "";
    rc = ae_run(&args.cfg, &res, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "gossip-sim antientropy: FAILED: %s\n",
                err[0] ? err : gossip_strerror(rc));
        return 1;
    }
    if (args.json)
        print_json(&args, &res);
    else
        print_table(&args, &res);
    return 0;
}
