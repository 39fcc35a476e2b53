/* run_report.c -- the output of `gossip-sim run`: one flat JSON object
 * (--json) or a human table.  Keys are printed in a fixed order and reals
 * with a fixed number of decimals, so one seed gives byte-identical output;
 * nothing here depends on the wall clock. */
#include "sim/run_sim.h"

/* A JSON string: quotes and backslashes escaped, control bytes as \\u. */
static void print_violation_json(FILE *out, const char *text)
{
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* The failure-detection keys (docs/simulator.md, "Failure detection"). */
static void print_fd_json(FILE *out, const struct sim_result *r)
{
    fprintf(out, ", \"stalls\": %u, \"leaves\": %u, \"left\": %u", r->stalls, r->leaves,
            r->left);
    fprintf(out, ", \"detections\": %u, \"kills_undetected\": %u"
                 ", \"detection_p50_ms\": %.3f, \"detection_p99_ms\": %.3f"
                 ", \"detection_max_ms\": %.3f",
            r->detections, r->kills_undetected, r->detection_p50_ms, r->detection_p99_ms,
            r->detection_max_ms);
    fprintf(out, ", \"false_dead\": %llu, \"partition_dead\": %llu"
                 ", \"left_marked_dead\": %llu",
            (unsigned long long)r->false_dead, (unsigned long long)r->partition_dead,
            (unsigned long long)r->left_marked_dead);
    fprintf(out, ", \"suspicions\": %llu, \"refuted_suspicions\": %llu, \"probes\": %llu"
                 ", \"probes_failed\": %llu, \"indirect_probes\": %llu"
                 ", \"declared_dead\": %llu",
            (unsigned long long)r->suspicions, (unsigned long long)r->refuted_suspicions,
            (unsigned long long)r->probes, (unsigned long long)r->probes_failed,
            (unsigned long long)r->indirect_probes, (unsigned long long)r->declared_dead);
    fprintf(out, ", \"split_dead_fraction\": %.4f, \"probe_interval_ms\": %u"
                 ", \"memberlist_suspicion_ms\": %.1f"
                 ", \"detection_ratio_vs_memberlist\": %.4f",
            r->split_dead_fraction, r->probe_interval_ms, r->memberlist_suspicion_ms,
            r->detection_ratio_vs_memberlist);
    fprintf(out, ", \"slowest_detection\": ");
    print_violation_json(out, r->slowest_detection);
    fprintf(out, ", \"split_holdout\": ");
    print_violation_json(out, r->split_holdout);
}

static void print_fd_table(FILE *out, const struct sim_result *r)
{
    fprintf(out, "stalls / leaves           %u stalls, %u leaves (%u left)\n", r->stalls,
            r->leaves, r->left);
    fprintf(out, "detection of kills        %u detected, %u not; p50 %.3f ms, p99 %.3f ms, "
                 "max %.3f ms\n",
            r->detections, r->kills_undetected, r->detection_p50_ms, r->detection_p99_ms,
            r->detection_max_ms);
    fprintf(out, "memberlist baseline       %.1f ms suspicion (4 x max(1, log10 N) x %u ms); "
                 "p50 ratio %.4f\n",
            r->memberlist_suspicion_ms, r->probe_interval_ms, r->detection_ratio_vs_memberlist);
    fprintf(out, "deaths judged             %llu false, %llu across a split, %llu of left nodes\n",
            (unsigned long long)r->false_dead, (unsigned long long)r->partition_dead,
            (unsigned long long)r->left_marked_dead);
    fprintf(out, "swim                      %llu probes (%llu failed, %llu indirect), "
                 "%llu suspicions, %llu refuted, %llu declared dead\n",
            (unsigned long long)r->probes, (unsigned long long)r->probes_failed,
            (unsigned long long)r->indirect_probes, (unsigned long long)r->suspicions,
            (unsigned long long)r->refuted_suspicions, (unsigned long long)r->declared_dead);
    if (r->slowest_detection[0])
        fprintf(out, "slowest detection         %s\n", r->slowest_detection);
    if (r->split_dead_fraction >= 0)
        fprintf(out, "split dead fraction       %.4f (cross-side pairs held dead at split end)\n",
                r->split_dead_fraction);
    if (r->split_holdout[0])
        fprintf(out, "split hold-out            %s\n", r->split_holdout);
}

void sim_result_print_json(FILE *out, const struct sim_result *r)
{
    fprintf(out, "{\"seed\": %llu, \"nodes\": %u, \"live_nodes\": %u",
            (unsigned long long)r->seed, r->nodes, r->live_nodes);
    fprintf(out, ", \"writes\": %u, \"writes_complete\": %u, \"writes_skipped\": %u"
                 ", \"writes_abandoned\": %u",
            r->writes, r->writes_complete, r->writes_skipped, r->writes_abandoned);
    fprintf(out, ", \"write_p50_ms\": %.3f, \"write_p99_ms\": %.3f, \"write_max_ms\": %.3f",
            r->write_p50_ms, r->write_p99_ms, r->write_max_ms);
    fprintf(out, ", \"packets_per_node_per_sec\": %.3f, \"bytes_per_node_per_sec\": %.1f",
            r->packets_per_node_per_sec, r->bytes_per_node_per_sec);
    fprintf(out, ", \"packets_sent\": %llu, \"bytes_sent\": %llu, \"packets_lost\": %llu"
                 ", \"packets_partitioned\": %llu, \"packets_to_down\": %llu"
                 ", \"packets_misaddressed\": %llu, \"recv_errors\": %llu",
            (unsigned long long)r->packets_sent, (unsigned long long)r->bytes_sent,
            (unsigned long long)r->packets_lost, (unsigned long long)r->packets_partitioned,
            (unsigned long long)r->packets_to_down, (unsigned long long)r->packets_misaddressed,
            (unsigned long long)r->recv_errors);
    fprintf(out, ", \"kills\": %u, \"restarts\": %u, \"max_generation\": %llu", r->kills,
            r->restarts, (unsigned long long)r->max_generation);
    fprintf(out, ", \"virtual_ms\": %llu, \"events\": %llu, \"peak_queue\": %llu"
                 ", \"check_at_ms\": %llu",
            (unsigned long long)r->virtual_ms, (unsigned long long)r->events,
            (unsigned long long)r->peak_queue, (unsigned long long)r->check_at_ms);
    fprintf(out, ", \"settle_check_ok\": %s, \"end_check_ok\": %s, \"safety_violations\": %llu"
                 ", \"invariant_ok\": %s",
            r->settle_check_ok ? "true" : "false", r->end_check_ok ? "true" : "false",
            (unsigned long long)r->safety_violations, r->invariant_ok ? "true" : "false");
    print_fd_json(out, r);
    fprintf(out, ", \"violation\": ");
    print_violation_json(out, r->violation);
    fprintf(out, "}\n");
}

void sim_result_print_table(FILE *out, const struct sim_result *r)
{
    fprintf(out, "seed                      %llu\n", (unsigned long long)r->seed);
    fprintf(out, "nodes                     %u (%u live at the end)\n", r->nodes, r->live_nodes);
    fprintf(out, "virtual time              %llu ms, %llu events (peak queue %llu)\n",
            (unsigned long long)r->virtual_ms, (unsigned long long)r->events,
            (unsigned long long)r->peak_queue);
    fprintf(out, "writes                    %u issued, %u complete, %u skipped, %u abandoned\n",
            r->writes, r->writes_complete, r->writes_skipped, r->writes_abandoned);
    fprintf(out, "write to all live nodes   p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
            r->write_p50_ms, r->write_p99_ms, r->write_max_ms);
    fprintf(out, "per node per second       %.3f packets, %.1f bytes sent\n",
            r->packets_per_node_per_sec, r->bytes_per_node_per_sec);
    fprintf(out, "packets                   %llu sent, %llu lost, %llu partitioned, "
                 "%llu to down nodes, %llu misaddressed, %llu rejected\n",
            (unsigned long long)r->packets_sent, (unsigned long long)r->packets_lost,
            (unsigned long long)r->packets_partitioned, (unsigned long long)r->packets_to_down,
            (unsigned long long)r->packets_misaddressed, (unsigned long long)r->recv_errors);
    fprintf(out, "kills / restarts          %u / %u (highest generation %llu)\n", r->kills,
            r->restarts, (unsigned long long)r->max_generation);
    print_fd_table(out, r);
    fprintf(out, "invariant                 %s (settle check at %llu ms: %s, end: %s, "
                 "safety violations: %llu)\n",
            r->invariant_ok ? "ok" : "VIOLATED", (unsigned long long)r->check_at_ms,
            r->settle_check_ok ? "ok" : "failed", r->end_check_ok ? "ok" : "failed",
            (unsigned long long)r->safety_violations);
    if (r->violation[0])
        fprintf(out, "violation                 %s\n", r->violation);
}
