/* test_agent_config.c -- gossipd's settings: defaults, every flag in both
 * spellings, the JSON config file and its precedence, validation messages
 * that name the setting, addresses, handlers and the tags' JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config.h"

#define MAX_ARGV 128

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/gossip-config-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes `text` to a file in the temp dir and returns its path (static). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Parses a NULL-terminated list of arguments (after "gossipd"). */
static int parse_list(agent_config *c, char *err, size_t err_len, const char *const *args)
{
    char *argv[MAX_ARGV];
    int argc = 0;
    argv[argc++] = (char *)"gossipd";
    for (; *args; args++) {
        assert_true(argc < MAX_ARGV - 1);
        argv[argc++] = (char *)*args;
    }
    argv[argc] = NULL;
    err[0] = '\0';
    return agent_config_parse(c, argc, argv, err, err_len);
}

#define PARSE(c, err, ...) parse_list((c), (err), sizeof(err), (const char *const[]){__VA_ARGS__, NULL})

/* Expects the arguments (plus --name and --data-dir) to fail with a message
 * that contains `needle`. */
#define EXPECT_ERR(needle, ...)                                                              \
    do {                                                                                     \
        agent_config c_;                                                                     \
        char e_[512];                                                                        \
        int rc_ = PARSE(&c_, e_, "--name", "n1", "--data-dir", "/tmp/d", __VA_ARGS__);       \
        if (rc_ != -1 || !strstr(e_, needle))                                                \
            fail_msg("expected an error naming %s, got rc=%d \"%s\"", needle, rc_, e_);      \
    } while (0)

/* ---- defaults and every flag ------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--name", "n1", "--data-dir", "/var/lib/gossip"), 0);
    assert_string_equal(c.name, "n1");
    assert_string_equal(c.data_dir, "/var/lib/gossip");
    assert_string_equal(c.bind, "0.0.0.0:7946");
    assert_string_equal(c.advertise, ""); /* unspecified bind: the agent derives it */
    assert_string_equal(c.http, "127.0.0.1:7947");
    assert_string_equal(c.http_token, "");
    assert_int_equal(c.n_joins, 0);
    assert_int_equal(c.n_tags, 0);
    assert_int_equal(c.n_handlers, 0);
    assert_int_equal(c.mode, GOSSIP_MODE_PUSHPULL);
    assert_int_equal(c.log_level, GOSSIP_LOG_INFO);
    assert_int_equal(c.fanout, 1);
    assert_int_equal(c.gossip_interval_ms, 200);
    assert_int_equal(c.probe_interval_ms, 1000);
    assert_int_equal(c.probe_timeout_ms, 500);
    assert_int_equal(c.mtu, 1400);
    assert_int_equal(c.max_members, 100000);
    assert_int_equal(c.max_value_size, 1400 - 256); /* derived from --mtu */
    assert_int_equal(c.max_event_size, 1024);
    assert_int_equal(c.reap_timeout_ms, 3600000);
    assert_int_equal(c.leave_timeout_ms, 5000);
    assert_int_equal(c.http_max_body, 65536);
    assert_int_equal(c.http_max_connections, 64);
    assert_int_equal(c.watch_buffer, 4096);
    assert_int_equal(c.tcp_max_frame, 2 * 1024 * 1024);
    assert_int_equal(c.tcp_timeout_ms, 5000);
    assert_int_equal(c.tcp_max_connections, 256);
    assert_int_equal(c.handler_max_running, 4);
    assert_int_equal(c.handler_queue, 256);
    assert_int_equal(c.handler_timeout_ms, 30000);
    assert_int_equal(c.persist_interval_ms, 10000);

    /* agent_config_defaults() alone gives the same numbers. */
    agent_config d;
    agent_config_defaults(&d);
    assert_int_equal(d.gossip_interval_ms, c.gossip_interval_ms);
    assert_int_equal(d.tcp_max_frame, c.tcp_max_frame);
    assert_string_equal(d.name, "");
}

static void check_all_flags(const agent_config *c)
{
    assert_string_equal(c->name, "web-1.eu_x");
    assert_string_equal(c->bind, "127.0.0.1:7001");
    assert_string_equal(c->advertise, "127.0.0.2:7001");
    assert_int_equal(c->n_joins, 2);
    assert_string_equal(c->joins[0], "127.0.0.1:7002");
    assert_string_equal(c->joins[1], "127.0.0.1:7003");
    assert_string_equal(c->http, "127.0.0.1:8500");
    assert_string_equal(c->http_token, "s3cret-token");
    assert_string_equal(c->data_dir, "/tmp/data dir");
    assert_int_equal(c->n_tags, 2);
    assert_string_equal(c->tags[0].key, "role");
    assert_string_equal(c->tags[0].value, "web");
    assert_string_equal(c->tags[1].key, "empty");
    assert_string_equal(c->tags[1].value, "");
    assert_int_equal(c->n_handlers, 2);
    assert_int_equal(c->handlers[0].events,
                     (1u << AGENT_EV_MEMBER_JOIN) | (1u << AGENT_EV_MEMBER_FAILED));
    assert_string_equal(c->handlers[0].path, "/bin/true");
    assert_int_equal(c->handlers[1].events, (1u << AGENT_EV_COUNT) - 1);
    assert_string_equal(c->handlers[1].path, "/bin/cat");
    assert_int_equal(c->mode, GOSSIP_MODE_PULL);
    assert_int_equal(c->fanout, 3);
    assert_int_equal(c->gossip_interval_ms, 150);
    assert_int_equal(c->probe_interval_ms, 900);
    assert_int_equal(c->probe_timeout_ms, 400);
    assert_int_equal(c->log_level, GOSSIP_LOG_DEBUG);
    assert_int_equal(c->mtu, 1300);
    assert_int_equal(c->max_members, 5000);
    assert_int_equal(c->max_value_size, 1000);
    assert_int_equal(c->reap_timeout_ms, 60000);
    assert_int_equal(c->leave_timeout_ms, 2000);
    assert_int_equal(c->http_max_body, 4096);
    assert_int_equal(c->http_max_connections, 10);
    assert_int_equal(c->watch_buffer, 100);
    assert_int_equal(c->tcp_max_frame, 65536);
    assert_int_equal(c->tcp_timeout_ms, 3000);
    assert_int_equal(c->tcp_max_connections, 50);
    assert_int_equal(c->handler_max_running, 2);
    assert_int_equal(c->handler_queue, 20);
    assert_int_equal(c->handler_timeout_ms, 1000);
    assert_int_equal(c->persist_interval_ms, 5000);
}

static void test_every_flag(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    int rc = PARSE(&c, err, "--name", "web-1.eu_x", "--bind", "127.0.0.1:7001", "--advertise",
                   "127.0.0.2:7001", "--join", "127.0.0.1:7002", "--join", "127.0.0.1:7003",
                   "--http", "127.0.0.1:8500", "--http-token", "s3cret-token", "--data-dir",
                   "/tmp/data dir", "--tag", "role=web", "--tag", "empty=", "--handler",
                   "member-join,member-failed=/bin/true", "--handler", "/bin/cat", "--mode",
                   "pull", "--fanout", "3", "--gossip-interval", "150", "--probe-interval",
                   "900", "--probe-timeout", "400", "--log-level", "debug", "--mtu", "1300",
                   "--max-members", "5000", "--max-value-size", "1000", "--reap-timeout",
                   "60000", "--leave-timeout", "2000", "--http-max-body", "4096",
                   "--http-max-connections", "10", "--watch-buffer", "100", "--tcp-max-frame",
                   "65536", "--tcp-timeout", "3000", "--tcp-max-connections", "50",
                   "--handler-max-running", "2", "--handler-queue", "20", "--handler-timeout",
                   "1000", "--persist-interval", "5000");
    if (rc != 0)
        fail_msg("%s", err);
    check_all_flags(&c);
}

static void test_every_flag_equals_form(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    int rc = PARSE(&c, err, "--name=web-1.eu_x", "--bind=127.0.0.1:7001",
                   "--advertise=127.0.0.2:7001", "--join=127.0.0.1:7002",
                   "--join=127.0.0.1:7003", "--http=127.0.0.1:8500",
                   "--http-token=s3cret-token", "--data-dir=/tmp/data dir", "--tag=role=web",
                   "--tag=empty=", "--handler=member-join,member-failed=/bin/true",
                   "--handler=/bin/cat", "--mode=pull", "--fanout=3", "--gossip-interval=150",
                   "--probe-interval=900", "--probe-timeout=400", "--log-level=debug",
                   "--mtu=1300", "--max-members=5000", "--max-value-size=1000",
                   "--reap-timeout=60000", "--leave-timeout=2000", "--http-max-body=4096",
                   "--http-max-connections=10", "--watch-buffer=100", "--tcp-max-frame=65536",
                   "--tcp-timeout=3000", "--tcp-max-connections=50",
                   "--handler-max-running=2", "--handler-queue=20", "--handler-timeout=1000",
                   "--persist-interval=5000");
    if (rc != 0)
        fail_msg("%s", err);
    check_all_flags(&c);
}

static void test_last_flag_wins(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--fanout", "2",
                           "--fanout=5", "--name", "b", "--mode", "push", "--log-level",
                           "error", "--join", "127.0.0.1:1", "--join", "127.0.0.1:1"),
                     0);
    assert_int_equal(c.fanout, 5);
    assert_string_equal(c.name, "b");
    assert_int_equal(c.mode, GOSSIP_MODE_PUSH);
    assert_int_equal(c.log_level, GOSSIP_LOG_ERROR);
    assert_int_equal(c.n_joins, 1); /* the same address twice is kept once */
}

static void test_help_and_version(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    /* what they print goes to stdout: keep it out of the test log */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_non_null(freopen("/dev/null", "w", stdout));
    int rc_version = PARSE(&c, err, "--version");
    int rc_help = PARSE(&c, err, "--fanout", "0", "--help"); /* help wins */
    int rc_short = PARSE(&c, err, "-h");
    fflush(stdout);
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    assert_int_equal(rc_version, 1);
    assert_int_equal(rc_help, 1);
    assert_int_equal(rc_short, 1);
    const char *help = agent_config_help();
    static const char *const flags[] = {
        "--name",          "--bind",           "--advertise",        "--join",
        "--http ",         "--http-token",     "--data-dir",         "--tag",
        "--handler ",      "--mode",           "--fanout",           "--gossip-interval",
        "--probe-interval", "--probe-timeout", "--log-level",        "--config",
        "--mtu",           "--max-members",    "--max-value-size",   "--reap-timeout",
        "--leave-timeout", "--http-max-body",  "--http-max-connections", "--watch-buffer",
        "--tcp-max-frame", "--tcp-timeout",    "--tcp-max-connections", "--handler-max-running",
        "--handler-queue", "--handler-timeout", "--persist-interval", "--help",
        "--version",
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strstr(help, flags[i]))
            fail_msg("help does not list %s", flags[i]);
    assert_non_null(strstr(help, "default 0.0.0.0:7946"));
    assert_non_null(strstr(help, "default 127.0.0.1:7947"));
    assert_non_null(strstr(help, "default pushpull"));
    assert_non_null(strstr(help, "default 200"));
}

/* ---- errors that name the setting ------------------------------------------------ */

static void test_missing_required(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--data-dir", "d"), -1);
    assert_non_null(strstr(err, "--name"));
    assert_int_equal(PARSE(&c, err, "--name", "a"), -1);
    assert_non_null(strstr(err, "--data-dir"));
    assert_int_equal(PARSE(&c, err, "--name"), -1);
    assert_non_null(strstr(err, "--name"));
    assert_int_equal(PARSE(&c, err, "--name", "--data-dir", "d"), -1);
    assert_non_null(strstr(err, "--name"));
}

static void test_unknown_flag_and_argument(void **state)
{
    (void)state;
    EXPECT_ERR("--bogus", "--bogus", "1");
    EXPECT_ERR("--bogus", "--bogus=1");
    EXPECT_ERR("\"stray\"", "stray");
    EXPECT_ERR("--version", "--version=2");
    EXPECT_ERR("-x", "-x");
}

static void test_bad_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *flag, *low, *high;
    } cases[] = {
        {"--fanout", "0", "65"},
        {"--gossip-interval", "9", "60001"},
        {"--probe-interval", "9", "60001"},
        {"--probe-timeout", "0", "60001"},
        {"--mtu", "511", "65001"},
        {"--max-members", "0", "1000001"},
        {"--max-value-size", "64745", "-1"},
        {"--reap-timeout", "999", "2592000001"},
        {"--leave-timeout", "99", "600001"},
        {"--http-max-body", "1023", "16777217"},
        {"--http-max-connections", "0", "1025"},
        {"--watch-buffer", "15", "1048577"},
        {"--tcp-max-frame", "1023", "67108865"},
        {"--tcp-timeout", "99", "600001"},
        {"--tcp-max-connections", "0", "65536"},
        {"--handler-max-running", "0", "257"},
        {"--handler-queue", "0", "65537"},
        {"--handler-timeout", "99", "86400001"},
        {"--persist-interval", "99", "86400001"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *bad[] = {cases[i].low, cases[i].high, "abc", "", "-1", "1.5", " 7", "7x",
                             "99999999999999999999"};
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            char arg[128];
            snprintf(arg, sizeof arg, "%s=%s", cases[i].flag, bad[j]);
            EXPECT_ERR(cases[i].flag, arg);
            char msg[160];
            snprintf(msg, sizeof msg, "got \"%s\"", bad[j]);
            EXPECT_ERR(msg, arg);
        }
    }
    /* the message's exact form */
    agent_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--fanout", "0"), -1);
    assert_string_equal(err, "--fanout: must be an integer in 1..64, got \"0\"");
    /* a number flag at the end without a value */
    EXPECT_ERR("--fanout", "--fanout");
}

static void test_bad_values(void **state)
{
    (void)state;
    EXPECT_ERR("--name", "--name", "has space");
    EXPECT_ERR("--name", "--name", "");
    EXPECT_ERR("--name", "--name", "a/b");
    EXPECT_ERR("--name", "--name",
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* 65 */
    EXPECT_ERR("--data-dir", "--data-dir", "");
    EXPECT_ERR("--mode", "--mode", "gossip");
    EXPECT_ERR("--log-level", "--log-level", "trace");
    EXPECT_ERR("--http-token", "--http-token", "has space");
    EXPECT_ERR("--tag", "--tag", "novalue");
    EXPECT_ERR("--tag", "--tag", "=v");
    EXPECT_ERR("--tag", "--tag", "k=bad\tvalue");
    EXPECT_ERR("--handler", "--handler", "member-jion=/bin/true");
    EXPECT_ERR("--handler", "--handler", "member-join,=/bin/true");
    EXPECT_ERR("--handler", "--handler", "member-join=");
    EXPECT_ERR("--handler", "--handler", "/nonexistent/script");
    EXPECT_ERR("--config", "--config", "");

    char big[200];
    memset(big, 'k', 129);
    strcpy(big + 129, "=v");
    EXPECT_ERR("--tag", "--tag", big);
    memset(big, 'v', sizeof big);
    memcpy(big, "k=", 2);
    big[2 + 129] = '\0';
    EXPECT_ERR("--tag", "--tag", big);

    /* more tags than AGENT_MAX_TAGS, handlers than AGENT_MAX_HANDLERS, joins
     * than AGENT_MAX_JOINS */
    const char *args[2 * (AGENT_MAX_JOINS + 1) + 6];
    char text[AGENT_MAX_JOINS + 1][32];
    agent_config c;
    char err[256];
    for (int kind = 0; kind < 3; kind++) {
        int n = 0, count = kind == 0 ? AGENT_MAX_TAGS : kind == 1 ? AGENT_MAX_JOINS
                                                                   : AGENT_MAX_HANDLERS;
        args[n++] = "--name", args[n++] = "a", args[n++] = "--data-dir", args[n++] = "d";
        for (int i = 0; i <= count; i++) {
            if (kind == 0) {
                snprintf(text[i], sizeof text[i], "k%d=v", i);
                args[n++] = "--tag";
            } else if (kind == 1) {
                snprintf(text[i], sizeof text[i], "127.0.0.1:%d", 1000 + i);
                args[n++] = "--join";
            } else {
                snprintf(text[i], sizeof text[i], "member-join=/bin/true");
                args[n++] = "--handler";
            }
            args[n++] = text[i];
        }
        args[n] = NULL;
        assert_int_equal(parse_list(&c, err, sizeof err, args), -1);
        assert_non_null(strstr(err, kind == 0 ? "--tag" : kind == 1 ? "--join" : "--handler"));
    }
}

static void test_cross_checks(void **state)
{
    (void)state;
    EXPECT_ERR("--probe-timeout", "--probe-interval", "400", "--probe-timeout", "401");
    EXPECT_ERR("--max-value-size", "--mtu", "600", "--max-value-size", "400");
    EXPECT_ERR("--http-max-body", "--mtu", "9000", "--max-value-size", "2000", "--http-max-body",
               "1024");
    EXPECT_ERR("--tcp-max-frame", "--mtu", "9000", "--tcp-max-frame", "4096");
    /* a non-loopback HTTP address wants a token */
    EXPECT_ERR("--http-token", "--http", "0.0.0.0:7947");
    EXPECT_ERR("--http-token", "--http", "[::]:7947");
    /* HTTP and gossip on the same port */
    EXPECT_ERR("--http", "--bind", "127.0.0.1:7000", "--http", "127.0.0.1:7000");
    EXPECT_ERR("--http", "--http", "127.0.0.1:7946");
    /* joins of another address family than the bind address */
    EXPECT_ERR("--join", "--join", "[::1]:7946");
    EXPECT_ERR("--advertise", "--bind", "[::]:7946", "--advertise", "10.0.0.1:7946");
    /* the tags' JSON must fit a state value */
    EXPECT_ERR("--tag", "--max-value-size", "10", "--tag", "role=webserver");

    agent_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--probe-interval", "400",
                           "--probe-timeout", "400", "--http", "0.0.0.0:8000", "--http-token",
                           "t"),
                     0);
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--max-value-size", "10",
                           "--tag", "a=bc"),
                     0); /* {"a":"bc"} is 10 bytes */
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--max-value-size", "9",
                           "--tag", "a=bc"),
                     -1);
}

/* ---- addresses ------------------------------------------------------------------------ */

static void test_addresses(void **state)
{
    (void)state;
    EXPECT_ERR("host names are not accepted", "--bind", "localhost:7946");
    EXPECT_ERR("--join", "--join", "node1.example.com:7946");
    EXPECT_ERR("--bind", "--bind", "127.0.0.1");
    EXPECT_ERR("--bind", "--bind", "127.0.0.1:");
    EXPECT_ERR("--bind", "--bind", "127.0.0.1:0");
    EXPECT_ERR("--bind", "--bind", "127.0.0.1:65536");
    EXPECT_ERR("--bind", "--bind", "127.0.0.1:http");
    EXPECT_ERR("--bind", "--bind", "256.0.0.1:7946");
    EXPECT_ERR("--bind", "--bind", "::1:7946");
    EXPECT_ERR("--bind", "--bind", "[::1]");
    EXPECT_ERR("--bind", "--bind", "[::1]7946");
    EXPECT_ERR("--bind", "--bind", "[127.0.0.1]:7946");
    EXPECT_ERR("--http", "--http", "127.0.0.1:-1");
    EXPECT_ERR("--advertise", "--advertise", "0.0.0.0:7946");
    EXPECT_ERR("--advertise", "--bind", "[::1]:7946", "--advertise", "[::]:7946");
    EXPECT_ERR("--join", "--join", "0.0.0.0:7946");

    agent_config c;
    char err[256];
    /* IPv6, canonicalised */
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--bind",
                           "[0:0:0::1]:7001", "--http", "[::1]:7002", "--join",
                           "[FE80:0::0001]:7946", "--join", "[::ffff:10.0.0.1]:7946"),
                     0);
    assert_string_equal(c.bind, "[::1]:7001");
    assert_string_equal(c.advertise, "[::1]:7001"); /* from a specific bind */
    assert_string_equal(c.http, "[::1]:7002");
    assert_string_equal(c.joins[0], "[fe80::1]:7946");
    assert_string_equal(c.joins[1], "[::ffff:10.0.0.1]:7946");

    /* unspecified v6 bind: advertise stays empty unless given */
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--bind", "[::]:7946",
                           "--http", "[::1]:7947"),
                     0);
    assert_string_equal(c.advertise, "");
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--advertise",
                           "192.168.1.5:9000"),
                     0);
    assert_string_equal(c.bind, "0.0.0.0:7946");
    assert_string_equal(c.advertise, "192.168.1.5:9000");
    /* an explicitly empty --advertise means "derive it" */
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--advertise", ""), 0);
    assert_string_equal(c.advertise, "");

    char host[64];
    int port = 0;
    assert_int_equal(agent_split_hostport("10.1.2.3:7946", host, sizeof host, &port), 0);
    assert_string_equal(host, "10.1.2.3");
    assert_int_equal(port, 7946);
    assert_int_equal(agent_split_hostport("[2001:db8::7]:65535", host, sizeof host, &port), 0);
    assert_string_equal(host, "2001:db8::7");
    assert_int_equal(port, 65535);
    assert_int_equal(agent_split_hostport("[::1]:1", host, 4, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(agent_split_hostport("[::1]:1", host, 3, &port), -1); /* no room */
    assert_int_equal(agent_split_hostport("example.com:80", host, sizeof host, &port), -1);
    assert_int_equal(agent_split_hostport("::1:80", host, sizeof host, &port), -1);
    assert_int_equal(agent_split_hostport("1.2.3.4:65536", host, sizeof host, &port), -1);
    assert_int_equal(agent_split_hostport("1.2.3.4", host, sizeof host, &port), -1);
    assert_int_equal(agent_split_hostport("[::1]", host, sizeof host, &port), -1);
    assert_int_equal(agent_split_hostport("", host, sizeof host, &port), -1);
}

/* ---- handlers -------------------------------------------------------------------------- */

static void test_handlers(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    const uint32_t all = (1u << AGENT_EV_COUNT) - 1;
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--handler",
                           "member-leave,member-suspect,member-alive,member-update,member-reap="
                           "/bin/true",
                           "--handler", "=/bin/true", "--handler", "*=/bin/true", "--handler",
                           "member-join=/bin/true"),
                     0);
    assert_int_equal(c.n_handlers, 4);
    assert_int_equal(c.handlers[0].events,
                     (1u << AGENT_EV_MEMBER_LEAVE) | (1u << AGENT_EV_MEMBER_SUSPECT) |
                         (1u << AGENT_EV_MEMBER_ALIVE) | (1u << AGENT_EV_MEMBER_UPDATE) |
                         (1u << AGENT_EV_MEMBER_REAP));
    assert_int_equal(c.handlers[1].events, all);
    assert_int_equal(c.handlers[2].events, all);
    assert_int_equal(c.handlers[3].events, 1u << AGENT_EV_MEMBER_JOIN);

    /* a path with '=' after a '/' is a path, not an event list */
    const char *script = write_file("run=me.sh", "#!/bin/sh\nexit 0\n");
    assert_int_equal(chmod(script, 0755), 0);
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--handler", script), 0);
    assert_int_equal(c.handlers[0].events, all);
    assert_string_equal(c.handlers[0].path, script);

    /* not executable */
    const char *plain = write_file("plain.sh", "#!/bin/sh\n");
    assert_int_equal(chmod(plain, 0644), 0);
    EXPECT_ERR("--handler", "--handler", plain); /* no x bit: refused even for root */

    static const char *const names[AGENT_EV_COUNT] = {
        "member-join",  "member-leave",  "member-failed", "member-suspect",
        "member-alive", "member-update", "member-reap",   "user",
        "query",
    };
    for (int e = 0; e < AGENT_EV_COUNT; e++)
        assert_string_equal(agent_event_name((enum agent_event_type)e), names[e]);
    assert_string_equal(agent_event_name(AGENT_EV_COUNT), "unknown");
}

/* ---- the config file ------------------------------------------------------------------- */

static void test_config_file(void **state)
{
    (void)state;
    const char *path = write_file(
        "good.json",
        "{\"name\": \"from-file\", \"bind\": \"127.0.0.1:7001\", \"data_dir\": \"/tmp/ff\",\n"
        " \"join\": [\"127.0.0.1:7002\", \"127.0.0.1:7003\"], \"tags\": {\"role\": \"web\", "
        "\"dc\": \"eu\"},\n"
        " \"gossip_interval\": 300, \"fanout\": 4, \"mode\": \"push\", \"log_level\": \"warn\",\n"
        " \"handler\": [\"member-join=/bin/true\"], \"http\": \"127.0.0.1:9001\",\n"
        " \"http_token\": \"tok\", \"advertise\": \"127.0.0.9:7001\", \"probe_interval\": 800,\n"
        " \"probe_timeout\": 300, \"mtu\": 1200, \"max_members\": 10, \"max_value_size\": 600,\n"
        " \"reap_timeout\": 5000, \"leave_timeout\": 1000, \"http_max_body\": 2048,\n"
        " \"http_max_connections\": 5, \"watch_buffer\": 50, \"tcp_max_frame\": 8192,\n"
        " \"tcp_timeout\": 700, \"tcp_max_connections\": 7, \"handler_max_running\": 3,\n"
        " \"handler_queue\": 9, \"handler_timeout\": 2000, \"persist_interval\": 3000}\n");
    agent_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--config", path), 0);
    assert_string_equal(c.config_file, path);
    assert_string_equal(c.name, "from-file");
    assert_string_equal(c.data_dir, "/tmp/ff");
    assert_string_equal(c.bind, "127.0.0.1:7001");
    assert_string_equal(c.advertise, "127.0.0.9:7001");
    assert_string_equal(c.http, "127.0.0.1:9001");
    assert_string_equal(c.http_token, "tok");
    assert_int_equal(c.n_joins, 2);
    assert_int_equal(c.n_tags, 2);
    assert_int_equal(c.n_handlers, 1);
    assert_int_equal(c.gossip_interval_ms, 300);
    assert_int_equal(c.fanout, 4);
    assert_int_equal(c.mode, GOSSIP_MODE_PUSH);
    assert_int_equal(c.log_level, GOSSIP_LOG_WARN);
    assert_int_equal(c.probe_interval_ms, 800);
    assert_int_equal(c.probe_timeout_ms, 300);
    assert_int_equal(c.mtu, 1200);
    assert_int_equal(c.max_members, 10);
    assert_int_equal(c.max_value_size, 600);
    assert_int_equal(c.reap_timeout_ms, 5000);
    assert_int_equal(c.leave_timeout_ms, 1000);
    assert_int_equal(c.http_max_body, 2048);
    assert_int_equal(c.http_max_connections, 5);
    assert_int_equal(c.watch_buffer, 50);
    assert_int_equal(c.tcp_max_frame, 8192);
    assert_int_equal(c.tcp_timeout_ms, 700);
    assert_int_equal(c.tcp_max_connections, 7);
    assert_int_equal(c.handler_max_running, 3);
    assert_int_equal(c.handler_queue, 9);
    assert_int_equal(c.handler_timeout_ms, 2000);
    assert_int_equal(c.persist_interval_ms, 3000);

    /* Flags win, whether they come before or after --config. */
    assert_int_equal(PARSE(&c, err, "--gossip-interval", "100", "--name", "flag-name",
                           "--config", path, "--fanout=2", "--tag", "role=db", "--join",
                           "127.0.0.1:7100"),
                     0);
    assert_string_equal(c.name, "flag-name");
    assert_int_equal(c.gossip_interval_ms, 100);
    assert_int_equal(c.fanout, 2);
    assert_int_equal(c.mode, GOSSIP_MODE_PUSH); /* from the file */
    /* --join replaces the file's list; --tag merges key by key */
    assert_int_equal(c.n_joins, 1);
    assert_string_equal(c.joins[0], "127.0.0.1:7100");
    char tags[256];
    assert_int_equal(agent_tags_json(&c, tags, sizeof tags), 0);
    assert_string_equal(tags, "{\"dc\":\"eu\",\"role\":\"db\"}");
    assert_int_equal(c.n_handlers, 1); /* no --handler flag: the file's */

    /* A single string is accepted where a list is, and "tag" is "tags". */
    path = write_file("single.json", "{\"name\": \"a\", \"data_dir\": \"d\", \"join\": "
                                     "\"127.0.0.1:7002\", \"tag\": [\"x=1\", \"y=2\"], "
                                     "\"handler\": \"/bin/true\", \"advertise\": \"\"}");
    assert_int_equal(PARSE(&c, err, "--config", path), 0);
    assert_int_equal(c.n_joins, 1);
    assert_int_equal(c.n_tags, 2);
    assert_int_equal(c.n_handlers, 1);
    assert_string_equal(c.advertise, "");

    /* The last --config wins; --config=FILE works. */
    char arg[600];
    snprintf(arg, sizeof arg, "--config=%s", path);
    assert_int_equal(PARSE(&c, err, "--config", "/nonexistent.json", arg), 0);
}

/* Parses a config file holding `json` and expects an error containing needle. */
static void expect_file_err(const char *json, const char *needle)
{
    const char *path = write_file("bad.json", json);
    agent_config c;
    char err[512];
    int rc = PARSE(&c, err, "--config", path, "--name", "n", "--data-dir", "d");
    if (rc != -1 || !strstr(err, needle))
        fail_msg("%s: expected an error naming %s, got rc=%d \"%s\"", json, needle, rc, err);
}

static void test_config_file_errors(void **state)
{
    (void)state;
    expect_file_err("{\"name\": \"a\", \"bogus_key\": 1}", "\"bogus_key\"");
    expect_file_err("{\"gossip-interval\": 100}", "gossip-interval"); /* dashes are flags */
    expect_file_err("{\"config\": \"x.json\"}", "\"config\"");
    expect_file_err("{\"name\": \"a\",", "bad.json:");              /* syntax */
    expect_file_err("", "bad.json:");
    expect_file_err("[1, 2]", "JSON object");
    expect_file_err("{\"a\": 1, \"a\": 2}", "duplicate");
    expect_file_err("{\"fanout\": \"2\"}", "fanout: must be an integer");
    expect_file_err("{\"fanout\": 2.5}", "fanout");
    expect_file_err("{\"fanout\": 0}", "fanout: must be an integer in 1..64, got 0");
    expect_file_err("{\"fanout\": -1}", "fanout");
    expect_file_err("{\"fanout\": 99999999999}", "fanout");
    expect_file_err("{\"gossip_interval\": true}", "gossip_interval");
    expect_file_err("{\"name\": 5}", "name: must be a string");
    expect_file_err("{\"bind\": \"localhost:1\"}", "bind");
    expect_file_err("{\"join\": [1]}", "join");
    expect_file_err("{\"join\": {}}", "join");
    expect_file_err("{\"join\": [\"nohost\"]}", "join");
    expect_file_err("{\"tags\": [1]}", "tags");
    expect_file_err("{\"tags\": \"role=web\"}", "tags");
    expect_file_err("{\"tags\": {\"role\": 1}}", "tags.role");
    expect_file_err("{\"tags\": {\"\": \"x\"}}", "tags");
    expect_file_err("{\"handler\": [\"member-nope=/bin/true\"]}", "handler");
    expect_file_err("{\"mode\": \"both\"}", "mode");
    expect_file_err("{\"log_level\": 1}", "log_level");
    expect_file_err("{\"http_token\": \"a b\"}", "http_token");
    expect_file_err("{\"advertise\": \"0.0.0.0:1\"}", "advertise");
    expect_file_err("{\"data_dir\": null}", "data_dir");
    expect_file_err("{\"probe_interval\": 100, \"probe_timeout\": 200}", "--probe-timeout");

    agent_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--config", "/nonexistent/gossip.json"), -1);
    assert_non_null(strstr(err, "--config"));
    assert_non_null(strstr(err, "/nonexistent/gossip.json"));
    /* required settings missing from both */
    const char *path = write_file("noname.json", "{\"data_dir\": \"d\"}");
    assert_int_equal(PARSE(&c, err, "--config", path), -1);
    assert_non_null(strstr(err, "--name"));
}

/* ---- engine mapping and tags --------------------------------------------------------- */

static void discard_send(void *ud, const char *addr, const uint8_t *buf, size_t len)
{
    (void)ud, (void)addr, (void)buf, (void)len;
}

static void test_to_engine(void **state)
{
    (void)state;
    agent_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--name", "eng", "--data-dir", "d", "--bind",
                           "127.0.0.1:7001", "--mode", "push", "--fanout", "3",
                           "--gossip-interval", "50", "--probe-interval", "700",
                           "--probe-timeout", "100", "--mtu", "9000", "--max-members", "77",
                           "--max-value-size", "4000", "--reap-timeout", "9000",
                           "--leave-timeout", "1234", "--tcp-max-frame", "9000"),
                     0);
    gossip_config g;
    memset(&g, 0xab, sizeof g);
    agent_config_to_engine(&c, &g);
    gossip_config def;
    gossip_config_init(&def);
    assert_int_equal(g.struct_version, GOSSIP_CONFIG_VERSION);
    assert_ptr_equal(g.name, c.name);
    assert_string_equal(g.addr, "127.0.0.1:7001");
    assert_int_equal(g.mode, GOSSIP_MODE_PUSH);
    assert_int_equal(g.fanout, 3);
    assert_int_equal(g.gossip_interval_ms, 50);
    assert_int_equal(g.probe_interval_ms, 700);
    assert_int_equal(g.probe_timeout_ms, 100);
    assert_int_equal(g.mtu, 9000);
    assert_int_equal(g.max_members, 77);
    assert_int_equal(g.max_value_size, 4000);
    assert_int_equal(g.reap_timeout_ms, 9000);
    assert_int_equal(g.leave_timeout_ms, 1234);
    /* everything else is the engine's default */
    assert_int_equal(g.max_keys, def.max_keys);
    assert_int_equal(g.indirect_checks, def.indirect_checks);
    assert_int_equal(g.syn_window, def.syn_window);
    assert_int_equal(g.generation, def.generation);
    assert_null(g.allocator);

    /* the result is a configuration the engine accepts */
    gossip_callbacks cb = {GOSSIP_CALLBACKS_VERSION, discard_send, NULL, NULL};
    gossip_node *node = NULL;
    assert_int_equal(gossip_node_new(&node, &g, &cb, NULL), 0);
    gossip_node_free(node);
    assert_int_equal(PARSE(&c, err, "--name", "eng", "--data-dir", "d"), 0);
    agent_config_to_engine(&c, &g);
    assert_int_equal(gossip_node_new(&node, &g, &cb, NULL), 0);
    gossip_node_free(node);

    assert_int_equal(PARSE(&c, err, "--name", "eng", "--data-dir", "d", "--advertise",
                           "10.0.0.1:7946"),
                     0);
    agent_config_to_engine(&c, &g);
    assert_string_equal(g.addr, "10.0.0.1:7946");
}

static void test_tags_json(void **state)
{
    (void)state;
    agent_config c;
    char err[256], out[1024];
    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d"), 0);
    assert_int_equal(agent_tags_json(&c, out, sizeof out), 0);
    assert_string_equal(out, "{}");

    assert_int_equal(PARSE(&c, err, "--name", "a", "--data-dir", "d", "--tag", "zone=b",
                           "--tag", "app=x=y", "--tag", "q=\"quoted\"\\", "--tag",
                           "utf=caf\xc3\xa9", "--tag", "zone=a"),
                     0);
    assert_int_equal(c.n_tags, 4); /* zone given twice: the last value */
    assert_int_equal(agent_tags_json(&c, out, sizeof out), 0);
    assert_string_equal(out, "{\"app\":\"x=y\",\"q\":\"\\\"quoted\\\"\\\\\",\"utf\":\"caf\xc3\xa9\","
                             "\"zone\":\"a\"}");
    size_t len = strlen(out);
    assert_int_equal(agent_tags_json(&c, out, len + 1), 0);
    assert_int_not_equal(agent_tags_json(&c, out, len), 0); /* one byte short */
    assert_string_equal(out, "");

    /* invalid UTF-8 is refused at parse time */
    EXPECT_ERR("--tag", "--tag", "k=\xff\xfe");
    EXPECT_ERR("--tag", "--tag", "k=\xc0\x80"); /* overlong NUL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_flag),
        cmocka_unit_test(test_every_flag_equals_form),
        cmocka_unit_test(test_last_flag_wins),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_unknown_flag_and_argument),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_handlers),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_config_file_errors),
        cmocka_unit_test(test_to_engine),
        cmocka_unit_test(test_tags_json),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
