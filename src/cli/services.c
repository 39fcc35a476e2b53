/* services.c -- gossipctl service register|deregister and gossipctl
 * services (services.h; docs/services.md). */
#include "cli/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/output.h"

#define SVC_MAX_TAGS 64

static int usage(const char *which, const char *fmt, const char *arg)
{
    fputs("gossipctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: gossipctl [--http ADDR:PORT] [--token TOKEN] [--json] %s\n", which);
    return CTL_EXIT_USAGE;
}

int ctl_service_option(const char *arg)
{
    static const char *const valued[] = {"--port", "--tag", "--check-http", "--check-cmd",
                                         "--interval"};
    if (strcmp(arg, "--all") == 0)
        return 2;
    for (size_t i = 0; i < sizeof valued / sizeof valued[0]; i++) {
        size_t n = strlen(valued[i]);
        if (strncmp(arg, valued[i], n) == 0) {
            if (arg[n] == '\0')
                return 1;
            if (arg[n] == '=')
                return 2;
        }
    }
    return 0;
}

/* The request; on 2xx the parsed JSON answer (NULL on an error, printed). */
static int call(const ctl_client *cl, const char *method, const char *path, const char *body,
                json_t **out)
{
    return ctl_call_json(cl, method, path, body, body ? strlen(body) : 0,
                         body ? "application/json" : NULL, out);
}

/* "--opt=value" or "--opt" "value": the value, advancing *i. */
static const char *value_of(int argc, const char *const *argv, int *i)
{
    const char *eq = strchr(argv[*i], '=');
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static bool number(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int ctl_service_run(const ctl_client *cl, bool json, int argc, const char *const *argv)
{
    const char *const U = CTL_SERVICE_USAGE;
    if (argc < 1)
        return usage(U, "service: missing subcommand (register or deregister)%s", "");
    const char *sub = argv[0];
    bool reg = strcmp(sub, "register") == 0;
    bool dereg = strcmp(sub, "deregister") == 0 || strcmp(sub, "del") == 0;
    if (!reg && !dereg)
        return usage(U, "service: unknown subcommand \"%s\" (register or deregister)", sub);
    const char *name = NULL, *http = NULL, *cmd = NULL;
    long port = -1, interval = -1;
    json_t *tags = json_array();
    int rc = CTL_EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int kind = ctl_service_option(a);
        if (kind == 0 && a[0] == '-' && a[1] == '-') {
            rc = usage(U, "service: unknown option %s", a);
            goto out;
        }
        if (kind == 0) {
            if (name) {
                rc = usage(U, "service %s: too many arguments", sub);
                goto out;
            }
            name = a;
            continue;
        }
        if (!reg) {
            rc = usage(U, "service deregister: %s goes with register", a);
            goto out;
        }
        const char *v = value_of(argc, argv, &i);
        if (!v) {
            rc = usage(U, "service register: %s needs a value", a);
            goto out;
        }
        if (strncmp(a, "--port", 6) == 0) {
            if (!number(v, 1, 65535, &port)) {
                rc = usage(U, "service register: --port must be 1..65535, got \"%s\"", v);
                goto out;
            }
        } else if (strncmp(a, "--tag", 5) == 0) {
            if (json_array_size(tags) >= SVC_MAX_TAGS) {
                rc = usage(U, "service register: too many --tag%s", "");
                goto out;
            }
            json_array_append_new(tags, json_string(v));
        } else if (strncmp(a, "--check-http", 12) == 0) {
            http = v;
        } else if (strncmp(a, "--check-cmd", 11) == 0) {
            cmd = v;
        } else if (strncmp(a, "--interval", 10) == 0) {
            if (!number(v, 1, 86400000, &interval)) {
                rc = usage(U, "service register: --interval must be milliseconds, got \"%s\"", v);
                goto out;
            }
        } else {
            rc = usage(U, "service: %s goes with `services`", a);
            goto out;
        }
    }
    if (!name || !*name) {
        rc = usage(U, "service %s: missing NAME", sub);
        goto out;
    }
    if (reg && port < 0) {
        rc = usage(U, "service register: --port is required%s", "");
        goto out;
    }
    if (http && cmd) {
        rc = usage(U, "service register: give --check-http or --check-cmd, not both%s", "");
        goto out;
    }
    if (interval >= 0 && !http && !cmd) {
        rc = usage(U, "service register: --interval goes with --check-http or --check-cmd%s", "");
        goto out;
    }
    char esc[512], path[600];
    if (ctl_escape(name, esc, sizeof esc) != 0) {
        rc = usage(U, "service: NAME is too long: %.40s...", name);
        goto out;
    }
    snprintf(path, sizeof path, "/v1/services/%s", esc);
    json_t *j = NULL;
    if (reg) {
        json_t *body = json_object();
        json_object_set_new(body, "port", json_integer(port));
        json_object_set(body, "tags", tags);
        if (http)
            json_object_set_new(body, "check_http", json_string(http));
        if (cmd)
            json_object_set_new(body, "check_cmd", json_string(cmd));
        if (interval >= 0)
            json_object_set_new(body, "interval_ms", json_integer(interval));
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!text) {
            fprintf(stderr, "gossipctl: out of memory\n");
            rc = CTL_EXIT_API;
            goto out;
        }
        rc = call(cl, "PUT", path, text, &j);
        free(text);
    } else {
        rc = call(cl, "DELETE", path, NULL, &j);
    }
    if (rc == CTL_EXIT_OK) {
        if (json)
            out_json(stdout, j);
        else
            printf("%s %s\n", reg ? "registered" : "deregistered", name);
    }
    json_decref(j);
out:
    json_decref(tags);
    return rc;
}

int ctl_services_run(const ctl_client *cl, bool json, int argc, const char *const *argv)
{
    const char *const U = CTL_SERVICES_USAGE;
    const char *name = NULL;
    bool all = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            all = true;
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return usage(U, "services: unknown option %s", argv[i]);
        else if (!name)
            name = argv[i];
        else
            return usage(U, "services: too many arguments%s", "");
    }
    char esc[512], path[600];
    if (name && (!*name || ctl_escape(name, esc, sizeof esc) != 0))
        return usage(U, "services: bad NAME \"%.40s\"", name);
    snprintf(path, sizeof path, "/v1/services%s%s%s", name ? "/" : "", name ? esc : "",
             all ? "?all=1" : "");
    json_t *j = NULL;
    int rc = call(cl, "GET", path, NULL, &j);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (json) {
        out_json(stdout, j);
    } else {
        int wn = 4, wd = 4, wa = 4;
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e) {
            const char *n = json_string_value(json_object_get(e, "name"));
            const char *d = json_string_value(json_object_get(e, "node"));
            const char *a = json_string_value(json_object_get(e, "addr"));
            if (n && (int)strlen(n) > wn)
                wn = (int)strlen(n);
            if (d && (int)strlen(d) > wd)
                wd = (int)strlen(d);
            if (a && (int)strlen(a) > wa)
                wa = (int)strlen(a);
        }
        printf("%-*s  %-*s  %-*s  %-8s  %s\n", wn, "NAME", wd, "NODE", wa, "ADDR", "STATUS",
               "TAGS");
        json_array_foreach(j, i, e) {
            const char *n = json_string_value(json_object_get(e, "name"));
            const char *d = json_string_value(json_object_get(e, "node"));
            const char *a = json_string_value(json_object_get(e, "addr"));
            const char *s = json_string_value(json_object_get(e, "status"));
            printf("%-*s  %-*s  %-*s  %-8s  ", wn, n ? n : "?", wd, d ? d : "?", wa, a ? a : "?",
                   s ? s : "?");
            size_t k;
            json_t *t;
            json_array_foreach(json_object_get(e, "tags"), k, t)
                printf("%s%s", k ? "," : "", json_string_value(t) ? json_string_value(t) : "");
            if (json_array_size(json_object_get(e, "tags")) == 0)
                printf("-");
            putchar('\n');
        }
    }
    json_decref(j);
    return CTL_EXIT_OK;
}
