/* kv.c -- gossipctl kv get|put|del|list (kv.h). */
#include "cli/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/output.h"

#define KV_STDIN_MAX ((size_t)16 * 1024 * 1024) /* bytes `kv put KEY -` reads at most */

static int usage(const char *fmt, const char *arg)
{
    fputs("gossipctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: gossipctl [--http ADDR:PORT] [--token TOKEN] [--json] %s\n",
            CTL_KV_USAGE);
    return CTL_EXIT_USAGE;
}

static bool digits(const char *s)
{
    if (!*s || strlen(s) > 20)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The request; on 2xx the parsed JSON answer (NULL on an error, printed). */
static int call(const ctl_client *cl, const char *method, const char *path, const char *body,
                size_t len, json_t **out)
{
    return ctl_call_json(cl, method, path, body, len, body ? "application/octet-stream" : NULL,
                         out);
}

static void print_value(const json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        fwrite(s, 1, n, stdout);
        if (n == 0 || s[n - 1] != '\n')
            putchar('\n');
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        puts(t ? t : "?");
        free(t);
    }
}

int ctl_kv_run(const ctl_client *cl, bool json, int argc, const char *const *argv)
{
    if (argc < 1)
        return usage("kv: missing subcommand (get, put, del or list)%s", "");
    const char *sub = argv[0];
    const char *pos[3];
    int npos = 0;
    const char *cas = NULL;
    bool keys_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--cas") == 0) {
            if (i + 1 >= argc)
                return usage("kv: --cas needs a version%s", "");
            cas = argv[++i];
        } else if (strncmp(a, "--cas=", 6) == 0) {
            cas = a + 6;
        } else if (strcmp(a, "--keys") == 0) {
            keys_only = true;
        } else if (a[0] == '-' && a[1] == '-') {
            return usage("kv: unknown option %s", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return usage("kv %s: too many arguments", sub);
        }
    }
    if (cas && !digits(cas))
        return usage("kv: --cas must be an entry's version (digits), got \"%s\"", cas);
    bool get = strcmp(sub, "get") == 0, put = strcmp(sub, "put") == 0;
    bool del = strcmp(sub, "del") == 0 || strcmp(sub, "delete") == 0;
    bool lst = strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0;
    if (!get && !put && !del && !lst)
        return usage("kv: unknown subcommand \"%s\" (get, put, del or list)", sub);
    int want = put ? 2 : 1;
    if (lst ? npos > 1 : npos != want)
        return usage("kv %s: wrong number of arguments", sub);
    if (cas && !put && !del)
        return usage("kv %s: --cas goes with put and del", sub);
    if (keys_only && !lst)
        return usage("kv %s: --keys goes with list", sub);

    char esc[4096], path[4200];
    json_t *j = NULL;
    int rc;
    if (lst) {
        if (ctl_escape(npos ? pos[0] : "", esc, sizeof esc) != 0)
            return usage("kv list: the prefix is too long%s", "");
        snprintf(path, sizeof path, "/v1/kv/?prefix=%s%s", esc, keys_only ? "&keys" : "");
        rc = call(cl, "GET", path, NULL, 0, &j);
        if (rc != CTL_EXIT_OK)
            return rc;
        if (json) {
            out_json(stdout, j);
        } else {
            size_t i;
            json_t *e;
            json_array_foreach(j, i, e) {
                const char *k = json_string_value(json_object_get(e, "key"));
                if (keys_only) {
                    puts(k ? k : "");
                    continue;
                }
                printf("%s\t", k ? k : "");
                print_value(json_object_get(e, "value"));
            }
        }
        json_decref(j);
        return CTL_EXIT_OK;
    }
    const char *key = pos[0];
    if (!*key)
        return usage("kv %s: the key is empty", sub);
    if (ctl_escape(key, esc, sizeof esc) != 0)
        return usage("kv: the key is too long: %.40s...", key);
    snprintf(path, sizeof path, "/v1/kv/%s%s%s", esc, cas ? "?cas=" : "", cas ? cas : "");
    if (get) {
        rc = call(cl, "GET", path, NULL, 0, &j);
        if (rc == CTL_EXIT_OK) {
            if (json)
                out_json(stdout, j);
            else
                print_value(json_object_get(j, "value"));
        }
    } else if (put) {
        const char *value = pos[1];
        size_t len = strlen(value);
        char *owned = NULL;
        if (strcmp(value, "-") == 0) {
            if (!(owned = ctl_read_stdin(KV_STDIN_MAX, &len)))
                return CTL_EXIT_USAGE;
            value = owned;
        }
        rc = call(cl, "PUT", path, value, len, &j);
        free(owned);
        if (rc == CTL_EXIT_OK) {
            if (json)
                out_json(stdout, j);
            else
            {
                const char *v = json_string_value(json_object_get(j, "version"));
                puts(v ? v : "");
            }
        }
    } else {
        rc = call(cl, "DELETE", path, NULL, 0, &j);
        if (rc == CTL_EXIT_OK && json)
            out_json(stdout, j);
    }
    json_decref(j);
    return rc;
}
