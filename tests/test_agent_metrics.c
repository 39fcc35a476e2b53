/* test_agent_metrics.c -- GET /metrics rendering (src/agent/metrics.c) as a
 * pure function of a snapshot: every family has # HELP and # TYPE before its
 * samples, counters end in _total, the probe RTT histogram is cumulative and
 * ends in +Inf with _count equal to it, label values are escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/http_internal.h"
#include "core/blob_wire.h"

static agent_metrics_input sample_input(void)
{
    agent_metrics_input in;
    memset(&in, 0, sizeof in);
    snprintf(in.name, sizeof in.name, "node-1");
    in.generation = 1700000000;
    in.uptime_ms = 12345;
    in.members[GOSSIP_STATUS_ALIVE] = 5;
    in.members[GOSSIP_STATUS_SUSPECT] = 1;
    in.members[GOSSIP_STATUS_DEAD] = 2;
    in.members[GOSSIP_STATUS_LEFT] = 3;
    in.events_buffered = 17;
    for (int t = 1; t < GOSSIP_MSG_TYPE_COUNT; t++) {
        in.engine.packets_sent[t] = 100u + (uint64_t)t;
        in.engine.bytes_sent[t] = 1000u * (uint64_t)t;
        in.engine.packets_recv[t] = 200u + (uint64_t)t;
        in.engine.bytes_recv[t] = 2000u * (uint64_t)t;
    }
    in.engine.suspicions = 7;
    in.engine.refutations = 2;
    in.engine.probes = 40;
    in.engine.probes_failed = 3;
    in.engine.recv_errors = 9;
    in.engine.awareness = 4;
    in.engine.news_queue = 6;
    for (int i = 0; i < GOSSIP_RTT_BUCKETS; i++)
        in.engine.probe_rtt_buckets[i] = (uint64_t)i + 1; /* 1 + 2 + ... + 11 = 66 */
    in.engine.probe_rtt_count = 66;
    in.engine.probe_rtt_sum_ms = 1500;
    in.net.udp_in = 11;
    in.net.tcp_connections = 2;
    in.net.send_queue = 4096;
    in.handlers.queued = 5;
    in.http.requests = 30;
    in.http.bad_requests = 4;
    in.http.watchers = 1;
    in.blob_on = true;
    in.blob.msgs_sent[BLOB_MSG_INV] = 12;
    in.blob.msgs_recv[BLOB_MSG_CHUNK] = 34;
    in.blob.recv_errors = 3;
    in.blob.chunks_bad = 2;
    in.blob.payloads_completed = 5;
    return in;
}

static char *render(const agent_metrics_input *in)
{
    size_t len = 0;
    char *text = agent_metrics_render(in, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_true(len > 0 && text[len - 1] == '\n');
    return text;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static void test_required_samples(void **state)
{
    (void)state;
    agent_metrics_input in = sample_input();
    char *t = render(&in);
    static const char *const lines[] = {
        "gossip_members{status=\"alive\"} 5",
        "gossip_members{status=\"suspect\"} 1",
        "gossip_members{status=\"dead\"} 2",
        "gossip_members{status=\"left\"} 3",
        "gossip_packets_sent_total{type=\"syn\"} 101",
        "gossip_packets_sent_total{type=\"ping_ack\"} 107",
        "gossip_bytes_sent_total{type=\"push\"} 4000",
        "gossip_packets_received_total{type=\"ping_req\"} 206",
        "gossip_bytes_received_total{type=\"ack2\"} 6000",
        "gossip_suspicions_total 7",
        "gossip_refutations_total 2",
        "gossip_probes_total 40",
        "gossip_probes_failed_total 3",
        "gossip_recv_errors_total 9",
        "gossip_news_queue 6",
        "gossip_events_buffered 17",
        "gossip_handler_queue 5",
        "gossip_tcp_send_queue_bytes 4096",
        "gossip_tcp_connections 2",
        "gossip_udp_packets_received_total 11",
        "gossip_http_requests_total 30",
        "gossip_http_bad_requests_total 4",
        "gossip_http_watchers 1",
        "gossip_awareness 4",
        "gossip_info{version=\"" GOSSIP_VERSION_STRING "\",name=\"node-1\"} 1",
        "# TYPE gossip_probe_rtt_seconds histogram",
        "# TYPE gossip_members gauge",
        "# TYPE gossip_suspicions_total counter",
        "gossip_blob_messages_sent_total{type=\"inv\"} 12",
        "gossip_blob_messages_received_total{type=\"chunk\"} 34",
        "gossip_blob_recv_errors_total 3",
        "gossip_blob_chunks_total{source=\"bad\"} 2",
        "gossip_blob_payloads_total{outcome=\"completed\"} 5",
        "# TYPE gossip_blob_store_bytes gauge",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (!has_line(t, lines[i]))
            fail_msg("missing line: %s", lines[i]);
    free(t);
}

static void test_histogram_is_cumulative(void **state)
{
    (void)state;
    agent_metrics_input in = sample_input();
    char *t = render(&in);
    uint64_t cum = 0;
    for (int i = 0; i < GOSSIP_RTT_BUCKETS; i++) {
        cum += in.engine.probe_rtt_buckets[i];
        char line[128];
        if (i < GOSSIP_RTT_BUCKETS - 1)
            snprintf(line, sizeof line, "gossip_probe_rtt_seconds_bucket{le=\"%g\"} %llu",
                     gossip_rtt_bounds_ms[i] / 1000.0, (unsigned long long)cum);
        else
            snprintf(line, sizeof line, "gossip_probe_rtt_seconds_bucket{le=\"+Inf\"} %llu",
                     (unsigned long long)cum);
        if (!has_line(t, line))
            fail_msg("missing bucket line: %s", line);
    }
    assert_true(has_line(t, "gossip_probe_rtt_seconds_bucket{le=\"0.001\"} 1"));
    assert_true(has_line(t, "gossip_probe_rtt_seconds_bucket{le=\"1\"} 55"));
    assert_true(has_line(t, "gossip_probe_rtt_seconds_count 66"));
    assert_true(has_line(t, "gossip_probe_rtt_seconds_sum 1.500000"));
    free(t);
}

/* Every sample line belongs to the family whose # HELP and # TYPE came
 * last; counters end in _total; no family appears twice. */
static void test_every_family_has_help_and_type(void **state)
{
    (void)state;
    agent_metrics_input in = sample_input();
    char *t = render(&in);
    char family[128] = "", type[32] = "";
    char seen[4096] = " ";
    int families = 0, samples = 0;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128];
        if (sscanf(line, "# HELP %127s", name) == 1) {
            char key[132];
            snprintf(key, sizeof key, " %s ", name);
            if (strstr(seen, key))
                fail_msg("family %s appears twice", name);
            assert_true(strlen(seen) + strlen(key) < sizeof seen);
            strcat(seen, key + 1);
            snprintf(family, sizeof family, "%s", name);
            type[0] = '\0';
            families++;
            continue;
        }
        if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
            assert_string_equal(name, family);
            continue;
        }
        assert_true(line[0] != '#');
        assert_true(type[0] != '\0'); /* # TYPE came before the samples */
        size_t n = strcspn(line, "{ ");
        assert_true(n < sizeof name);
        memcpy(name, line, n);
        name[n] = '\0';
        if (strcmp(type, "histogram") == 0) {
            size_t f = strlen(family);
            assert_true(strncmp(name, family, f) == 0);
            assert_true(strcmp(name + f, "_bucket") == 0 || strcmp(name + f, "_sum") == 0 ||
                        strcmp(name + f, "_count") == 0);
        } else {
            assert_string_equal(name, family);
        }
        if (strcmp(type, "counter") == 0) {
            size_t k = strlen(name);
            assert_true(k > 6 && strcmp(name + k - 6, "_total") == 0);
        }
        samples++;
    }
    assert_true(families >= 40);
    assert_true(samples > families);
    free(t);
}

static void test_label_values_are_escaped(void **state)
{
    (void)state;
    agent_metrics_input in = sample_input();
    snprintf(in.name, sizeof in.name, "a\"b\\c\nd");
    char *t = render(&in);
    assert_true(has_line(t, "gossip_info{version=\"" GOSSIP_VERSION_STRING
                            "\",name=\"a\\\"b\\\\c\\nd\"} 1"));
    free(t);
}

static void test_zero_snapshot_renders(void **state)
{
    (void)state;
    agent_metrics_input in;
    memset(&in, 0, sizeof in);
    char *t = render(&in);
    assert_true(has_line(t, "gossip_members{status=\"alive\"} 0"));
    assert_true(has_line(t, "gossip_probe_rtt_seconds_bucket{le=\"+Inf\"} 0"));
    assert_true(has_line(t, "gossip_info{version=\"" GOSSIP_VERSION_STRING "\",name=\"\"} 1"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_samples),
        cmocka_unit_test(test_histogram_is_cumulative),
        cmocka_unit_test(test_every_family_has_help_and_type),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_zero_snapshot_renders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
