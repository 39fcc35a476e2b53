/* test_scenario.c -- strict parsing of `gossip-sim run` scenario files. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/scenario.h"

#define ERR_SIZE 512
#define PATH_SIZE 1024

/* A bad scenario and a fragment its error message must contain (the key). */
struct bad_case {
    const char *json;
    const char *expect;
};

static const struct bad_case bad_cases[] = {
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"colour\": 1}", "colour: unknown key"},
    {"{\"duration_ms\": 60000}", "nodes: required"},
    {"{\"nodes\": 0, \"duration_ms\": 60000}", "nodes: must be in"},
    {"{\"nodes\": 10}", "duration_ms: required"},
    {"{\"nodes\": \"ten\", \"duration_ms\": 60000}", "nodes: must be an integer"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"mode\": \"gossipy\"}}",
     "engine.mode"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"fanout\": 0}}", "engine.fanout"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"mtu\": 100}}", "engine.mtu"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"heartbeat_bump\": 1}}",
     "engine.heartbeat_bump"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"period\": 1}}",
     "engine.period: unknown key"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"seeds\": [3, 10]}", "seeds[1]"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"seeds\": [3, 3]}", "seeds[1]"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"network\": {\"loss\": 1.0}}", "network.loss"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"network\": {\"latency\": "
     "{\"dist\": \"uniform\", \"min_ms\": 5, \"max_ms\": 1}}}",
     "network.latency.max_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"network\": {\"latency\": "
     "{\"dist\": \"pareto\"}}}",
     "network.latency.dist"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"network\": {\"latency\": "
     "{\"dist\": \"constant\", \"ms\": 1, \"min_ms\": 0}}}",
     "network.latency.min_ms: unknown key"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"clock\": {\"drift_ppm\": "
     "{\"min\": 5, \"max\": -5}}}",
     "clock.drift_ppm.max"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"clock\": {\"drift_ppm\": "
     "{\"min\": -2000000, \"max\": 5}}}",
     "clock.drift_ppm.min"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"partitions\": [{\"start_ms\": 5000, "
     "\"end_ms\": 5000, \"groups\": [[0], [1]]}]}",
     "partitions[0].end_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"partitions\": [{\"start_ms\": 0, "
     "\"end_ms\": 5000, \"groups\": [[0, 1], [1, 2]]}]}",
     "partitions[0].groups[1][0]"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"partitions\": [{\"start_ms\": 0, "
     "\"end_ms\": 5000, \"groups\": [[0, 1]]}]}",
     "partitions[0].groups"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"partitions\": [{\"start_ms\": 0, "
     "\"end_ms\": 5000, \"groups\": [{\"from\": 4, \"to\": 2}, [7]]}]}",
     "partitions[0].groups[0].to"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"kills\": [{\"node\": 10, \"at_ms\": 100}]}",
     "kills[0].node"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"kills\": [{\"node\": 1, \"at_ms\": 900, "
     "\"restart_at_ms\": 800}]}",
     "kills[0].restart_at_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"kills\": [{\"node\": 1, \"at_ms\": 100, "
     "\"restart_at_ms\": 800}, {\"node\": 1, \"at_ms\": 500}]}",
     "kills[1]"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"writes\": [{\"at_ms\": 100, \"node\": 1}]}",
     "writes[0].key: required"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"writes\": [{\"at_ms\": 100, \"node\": "
     "\"any\", \"key\": \"k\"}]}",
     "writes[0].node"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"writes\": [{\"start_ms\": 100, "
     "\"every_ms\": 1000, \"count\": 100, \"node\": 1, \"key\": \"k\"}]}",
     "writes[0].count"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"writes\": [{\"start_ms\": 100, "
     "\"every_ms\": 1000, \"count\": 5, \"node\": 1, \"key\": \"k\", \"at_ms\": 3}]}",
     "writes[0].at_ms: unknown key"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"settle_ms\": 50000, \"writes\": "
     "[{\"at_ms\": 20000, \"node\": 1, \"key\": \"k\"}]}",
     "settle_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000,}", "invalid JSON"},
    {"{\"nodes\": 10, \"nodes\": 11, \"duration_ms\": 60000}", "invalid JSON"},
    {"[1, 2]", "must be an object"},
    /* failure detection */
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"probe_timeout_ms\": 0}}",
     "engine.probe_timeout_ms: must be in"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"probe_interval_ms\": 200,"
     " \"probe_timeout_ms\": 500}}",
     "engine.probe_timeout_ms: must not exceed probe_interval_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"indirect_checks\": 99}}",
     "engine.indirect_checks"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"engine\": {\"suspicion_min_mult\": \"2\"}}",
     "engine.suspicion_min_mult: must be an integer"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"stalls\": [{\"node\": 3, \"at_ms\": 100}]}",
     "stalls[0].duration_ms: required"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"stalls\": [{\"node\": 3, \"at_ms\": 100,"
     " \"duration_ms\": 5, \"pause\": 1}]}",
     "stalls[0].pause: unknown key"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"stalls\": [{\"fraction\": 0.5,"
     " \"duration_ms\": 2000, \"between_ms\": [5000, 4000]}]}",
     "stalls[0].between_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"stalls\": [{\"fraction\": 0.01,"
     " \"duration_ms\": 2000, \"between_ms\": [0, 4000]}]}",
     "stalls[0].fraction: selects no node"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"stalls\": [{\"fraction\": 1.5,"
     " \"duration_ms\": 2000, \"between_ms\": [0, 4000]}]}",
     "stalls[0].fraction: must be in"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"kills\": [{\"count\": 2, \"fraction\": 0.2,"
     " \"between_ms\": [0, 4000]}]}",
     "kills[0]: give \"count\" or \"fraction\""},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"kills\": [{\"count\": 2,"
     " \"between_ms\": [0, 70000]}]}",
     "kills[0].between_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"kills\": [{\"count\": 2}]}",
     "kills[0].between_ms: required"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"seeds\": [0, 1],"
     " \"kills\": [{\"count\": 5, \"between_ms\": [0, 100]}],"
     " \"restarts\": [{\"count\": 4, \"between_ms\": [0, 100], \"down_ms\": 10}]}",
     "kills: kill, restart and leave generators want 9 nodes, only 8"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"restarts\": [{\"count\": 2,"
     " \"between_ms\": [0, 1000]}]}",
     "restarts[0].down_ms: required"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"restarts\": [{\"count\": 2,"
     " \"between_ms\": [0, 1000], \"down_ms\": [500, 100]}]}",
     "restarts[0].down_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"restarts\": [{\"count\": 2,"
     " \"between_ms\": [0, 59000], \"down_ms\": 2000}]}",
     "restarts[0].down_ms: a restart could fall after duration_ms"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"restarts\": {\"count\": 2}}",
     "restarts: must be an array"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"leaves\": [{\"node\": 12, \"at_ms\": 5}]}",
     "leaves[0].node"},
    {"{\"nodes\": 10, \"duration_ms\": 60000, \"leaves\": [{\"node\": 2}]}",
     "leaves[0].at_ms: required"},
};

static void test_rejects_bad_scenarios_naming_the_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct scenario s;
        char err[ERR_SIZE] = "";
        int rc = scenario_parse_string(&s, bad_cases[i].json, err, sizeof err);
        if (rc == 0 || !strstr(err, bad_cases[i].expect)) {
            fprintf(stderr, "case %zu: rc %d, error '%s', expected '%s'\n", i, rc, err,
                    bad_cases[i].expect);
            if (rc == 0)
                scenario_free(&s);
            fail();
        }
    }
}

static void test_defaults_of_a_minimal_scenario(void **state)
{
    (void)state;
    struct scenario s;
    char err[ERR_SIZE] = "";
    int rc = scenario_parse_string(&s, "{\"nodes\": 5, \"duration_ms\": 40000}", err,
                                   sizeof err);
    assert_int_equal(rc, 0);
    assert_int_equal(s.nodes, 5);
    assert_int_equal(s.mode, GOSSIP_MODE_PUSHPULL);
    assert_int_equal(s.fanout, 1);
    assert_int_equal(s.gossip_interval_ms, 1000);
    assert_int_equal(s.mtu, 1400);
    assert_int_equal(s.settle_ms, SCN_DEFAULT_SETTLE_MS);
    assert_int_equal(s.seed_count, 1);
    assert_int_equal(s.seeds[0], 0);
    assert_int_equal(s.latency.dist, SCN_LATENCY_CONSTANT);
    assert_true(s.loss == 0.0);
    assert_int_equal(scenario_last_fault_ms(&s), 0);
    scenario_free(&s);
}

static void test_write_generator_expands(void **state)
{
    (void)state;
    const char *json =
        "{\"nodes\": 20, \"duration_ms\": 100000, \"settle_ms\": 1000,"
        " \"kills\": [{\"node\": 3, \"at_ms\": 5000, \"restart_at_ms\": 9000}],"
        " \"partitions\": [{\"start_ms\": 100, \"end_ms\": 200,"
        "   \"groups\": [{\"from\": 0, \"to\": 10}, [10, 11]]}],"
        " \"writes\": [{\"start_ms\": 1000, \"every_ms\": 500, \"count\": 100,"
        "   \"node\": \"random\", \"key\": \"schema\", \"value\": \"v\"},"
        "  {\"at_ms\": 7, \"node\": 2, \"key\": \"load\", \"value\": \"0.5\"}]}";
    struct scenario s;
    char err[ERR_SIZE] = "";
    assert_int_equal(scenario_parse_string(&s, json, err, sizeof err), 0);
    assert_int_equal(s.write_count, 101);
    assert_int_equal(s.writes[0].at_ms, 1000);
    assert_int_equal(s.writes[99].at_ms, 1000 + 99 * 500);
    assert_int_equal(s.writes[99].node, SCN_NODE_RANDOM);
    assert_string_equal(s.writes[99].key, "schema");
    assert_string_equal(s.writes[99].value, "v-99");
    assert_string_equal(s.writes[100].value, "0.5");
    assert_int_equal(s.writes[100].node, 2);
    assert_int_equal(s.partitions[0].group_of[9], 0);
    assert_int_equal(s.partitions[0].group_of[10], 1);
    assert_int_equal(s.partitions[0].group_of[12], -1);
    assert_int_equal(s.kills[0].restart_at_ms, 9000);
    assert_int_equal(scenario_last_fault_ms(&s), 1000 + 99 * 500);
    scenario_free(&s);
}

static const char *source_dir(void)
{
    const char *dir = getenv("GOSSIP_SOURCE_DIR");
    return dir && *dir ? dir : ".";
}

static void test_accepts_every_example(void **state)
{
    (void)state;
    char dir_path[PATH_SIZE];
    snprintf(dir_path, sizeof dir_path, "%s/examples/scenarios", source_dir());
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    int parsed = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        size_t len = strlen(entry->d_name);
        if (len < 5 || strcmp(entry->d_name + len - 5, ".json") != 0)
            continue;
        char path[PATH_SIZE * 2];
        snprintf(path, sizeof path, "%s/%s", dir_path, entry->d_name);
        struct scenario s;
        char err[ERR_SIZE] = "";
        if (scenario_load_file(&s, path, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", path, err);
            fail();
        }
        assert_true(s.nodes > 0);
        scenario_free(&s);
        parsed++;
    }
    closedir(dir);
    assert_true(parsed >= 4);
}

static void test_schema_example_has_the_promised_shape(void **state)
{
    (void)state;
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/examples/scenarios/schema-100.json", source_dir());
    struct scenario s;
    char err[ERR_SIZE] = "";
    assert_int_equal(scenario_load_file(&s, path, err, sizeof err), 0);
    assert_int_equal(s.nodes, 100);
    assert_int_equal(s.mode, GOSSIP_MODE_PUSHPULL);
    assert_int_equal(s.gossip_interval_ms, 1000);
    assert_true(s.write_count >= 100);
    for (uint32_t i = 0; i < s.write_count; i++) {
        assert_string_equal(s.writes[i].key, "schema");
        assert_int_equal(s.writes[i].node, s.writes[0].node);
    }
    scenario_free(&s);
}

static void test_failure_detection_parts_parse(void **state)
{
    (void)state;
    struct scenario s;
    char err[ERR_SIZE] = "";
    int rc = scenario_parse_string(
        &s,
        "{\"nodes\": 100, \"duration_ms\": 200000, \"settle_ms\": 20000, \"seeds\": [0, 1],"
        " \"engine\": {\"gossip_interval_ms\": 200, \"probe_interval_ms\": 800,"
        "   \"probe_timeout_ms\": 300, \"indirect_checks\": 4, \"suspicion_min_mult\": 3,"
        "   \"suspicion_max_mult\": 5, \"retransmit_mult\": 2, \"awareness_max\": 6,"
        "   \"reap_timeout_ms\": 60000, \"leave_timeout_ms\": 3000, \"monitored_peers\": 8},"
        " \"stalls\": [{\"node\": 4, \"at_ms\": 1000, \"duration_ms\": 500},"
        "   {\"fraction\": 0.05, \"duration_ms\": 2000, \"between_ms\": [10000, 20000]}],"
        " \"kills\": [{\"node\": 7, \"at_ms\": 3000}, {\"count\": 10,"
        "   \"between_ms\": [30000, 40000]}],"
        " \"restarts\": [{\"fraction\": 0.2, \"between_ms\": [50000, 110000],"
        "   \"down_ms\": [1000, 5000]}],"
        " \"leaves\": [{\"node\": 9, \"at_ms\": 8000},"
        "   {\"count\": 3, \"between_ms\": [60000, 61000]}]}",
        err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    gossip_config cfg;
    scenario_engine_config(&s, &cfg);
    assert_int_equal(cfg.gossip_interval_ms, 200);
    assert_int_equal(cfg.probe_interval_ms, 800);
    assert_int_equal(cfg.probe_timeout_ms, 300);
    assert_int_equal(cfg.indirect_checks, 4);
    assert_int_equal(cfg.suspicion_min_mult, 3);
    assert_int_equal(cfg.suspicion_max_mult, 5);
    assert_int_equal(cfg.retransmit_mult, 2);
    assert_int_equal(cfg.awareness_max, 6);
    assert_int_equal(cfg.reap_timeout_ms, 60000);
    assert_int_equal(cfg.leave_timeout_ms, 3000);
    assert_int_equal(cfg.monitored_peers, 8);
    assert_int_equal(cfg.max_members, 100);
    /* Settings the scenario leaves out keep the engine's defaults. */
    gossip_config defaults;
    gossip_config_init(&defaults);
    assert_int_equal(cfg.phi_threshold_x100, defaults.phi_threshold_x100);
    assert_int_equal(s.stall_count, 1);
    assert_int_equal(s.stalls[0].node, 4);
    assert_int_equal(s.kill_count, 1);
    assert_int_equal(s.leave_count, 1);
    assert_int_equal(s.generator_count, 4);
    assert_int_equal(s.generators[0].kind, SCN_GEN_KILL);
    assert_int_equal(s.generators[0].count, 10);
    assert_int_equal(s.generators[1].kind, SCN_GEN_STALL);
    assert_int_equal(s.generators[1].count, 5);          /* 5 % of 100 */
    assert_int_equal(s.generators[1].duration_ms, 2000);
    assert_int_equal(s.generators[2].kind, SCN_GEN_RESTART);
    assert_int_equal(s.generators[2].count, 20);
    assert_int_equal(s.generators[2].down_min_ms, 1000);
    assert_int_equal(s.generators[2].down_max_ms, 5000);
    assert_int_equal(s.generators[3].kind, SCN_GEN_LEAVE);
    /* The latest a generated restart can happen: 110 s + 5 s down. */
    assert_int_equal(scenario_last_fault_ms(&s), 115000);
    /* Seeds 0, 1, killed 7 and leaving 9 are not in the generators' pool. */
    uint32_t pool[100];
    assert_int_equal(scenario_generator_pool(&s, pool), 96);
    for (uint32_t i = 0; i < 96; i++)
        assert_true(pool[i] != 0 && pool[i] != 1 && pool[i] != 7 && pool[i] != 9);
    scenario_free(&s);
}

static void test_missing_file_is_an_error(void **state)
{
    (void)state;
    struct scenario s;
    char err[ERR_SIZE] = "";
    assert_int_equal(scenario_load_file(&s, "/nonexistent/scenario.json", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_scenarios_naming_the_key),
        cmocka_unit_test(test_defaults_of_a_minimal_scenario),
        cmocka_unit_test(test_write_generator_expands),
        cmocka_unit_test(test_accepts_every_example),
        cmocka_unit_test(test_schema_example_has_the_promised_shape),
        cmocka_unit_test(test_missing_file_is_an_error),
        cmocka_unit_test(test_failure_detection_parts_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
