/* gossipctl -- the command-line client of gossipd's HTTP API.
 *
 *   gossipctl [--http ADDR:PORT] [--token T] [--json] COMMAND [ARGS]
 *
 * Exit codes: 0 ok, 1 the agent answered with an error, 2 bad usage,
 * 3 the agent could not be reached. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/client.h"
#include "cli/kv.h" /* kv get|put|del|list */
#include "cli/output.h"
#include "cli/services.h" /* services: service register|deregister, services */
#include "gossip/gossip.h"

#define DEFAULT_HTTP "127.0.0.1:7947"
#define STDIN_VALUE_MAX ((size_t)1024 * 1024) /* bytes `state set KEY -` reads at most */
#define MAX_ARGS 64

typedef struct ctl {
    const char *http;
    const char *token;
    bool json;
    const char *status; /* members --status */
    const char *tags[MAX_ARGS]; /* query --tag k=v (repeatable) */
    int n_tags;
    const char *names;  /* query --node a,b */
    const char *timeout; /* query --timeout MS */
    const char *relay;  /* query --relay R */
    bool no_coalesce;   /* event --no-coalesce */
    const char *args[MAX_ARGS];
    int n_args;
    ctl_client cl;
} ctl;

typedef struct command {
    const char *name;
    int min_args, max_args;
    const char *usage;  /* after "gossipctl [global options] " */
    const char *about;
    int (*run)(ctl *c);
} command;

static const command *find_command(const char *name);

/* ---- usage -------------------------------------------------------------------- */

static const char global_usage[] =
    "usage: gossipctl [--http ADDR:PORT] [--token TOKEN] [--json] COMMAND [ARGS]\n"
    "\n"
    "Talks to a running gossipd over its HTTP API.\n"
    "\n"
    "commands:\n"
    "  members [--status S]       the members this agent knows (a table; S is alive,\n"
    "                             suspect, dead or left)\n"
    "  self                       this agent's own member record\n"
    "  info                       version, settings and counters of the agent\n"
    "  join ADDR:PORT...          ask the agent to join the members at these addresses\n"
    "  leave                      leave the cluster gracefully (the agent then exits)\n"
    "  force-leave NAME           mark a dead or suspect member as left\n"
    "  state get KEY              print the value of this node's application-state KEY\n"
    "  state set KEY VALUE|-      set KEY (VALUE '-' reads it from standard input)\n"
    "  state del KEY              delete KEY\n"
    "  blob put FILE|-            store a file as a blob and spread it; prints its hash\n"
    "  blob get HASH [-o FILE]    write the blob HASH to FILE (default: standard output)\n"
    "  watch                      print membership and state events as they happen\n"
    "  metrics                    print the Prometheus metrics\n"
    "  kv get|put|del|list ...    the cluster-wide key-value store (gossipctl kv --help)\n"
    "  service register NAME --port P ...  register a service on this agent (gossipctl\n"
    "                             service --help); service deregister NAME removes it\n"
    "  services [NAME] [--all]    healthy service instances across the cluster\n"
    "\n"
    "options (before or after the command):\n"
    "  --http ADDR:PORT           the agent's HTTP API: a.b.c.d:PORT, [IPv6]:PORT,\n"
    "                             HOST:PORT or an http:// URL (default: $GOSSIP_HTTP_ADDR,\n"
    "                             else " DEFAULT_HTTP ")\n"
    "  --token TOKEN              bearer token for the API (default: $GOSSIP_HTTP_TOKEN)\n"
    "  --json                     print the agent's JSON instead of text (watch: one\n"
    "                             JSON object per line)\n"
    "  --help                     print this help (gossipctl COMMAND --help: the\n"
    "                             command's own)\n"
    "  --version                  print the version\n"
    "\n"
    "exit status: 0 ok; 1 the agent answered with an error; 2 bad usage;\n"
    "3 the agent could not be reached.\n";

static void command_usage(FILE *f, const command *cmd)
{
    fprintf(f, "usage: gossipctl [--http ADDR:PORT] [--token TOKEN] [--json] %s\n\n%s\n",
            cmd->usage, cmd->about);
}

static int usage_error(const command *cmd, const char *fmt, const char *arg)
{
    fputs("gossipctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    if (cmd)
        command_usage(stderr, cmd);
    else
        fputs(global_usage, stderr);
    return CTL_EXIT_USAGE;
}

/* ---- helpers ------------------------------------------------------------------- */

/* GET/PUT/... path; on 2xx leaves the answer in *r and returns 0. */
static int call(ctl *c, const char *method, const char *path, const char *body, size_t len,
                const char *ctype, ctl_response *r)
{
    int rc = ctl_request(&c->cl, method, path, body, len, ctype, r);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_check(&c->cl, r);
    if (rc != CTL_EXIT_OK)
        ctl_response_free(r);
    return rc;
}

/* Parses a JSON answer; prints and returns NULL if it is not JSON. */
static json_t *parse_answer(const ctl_response *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->len, JSON_DECODE_ANY, &e);
    if (!j)
        fprintf(stderr, "gossipctl: the agent's answer is not JSON: %s\n", e.text);
    return j;
}

/* GET path and print its JSON: pretty with --json, else through `human`. */
static int get_and_show(ctl *c, const char *path, void (*human)(FILE *, const json_t *))
{
    ctl_response r;
    int rc = call(c, "GET", path, NULL, 0, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    json_t *j = parse_answer(&r);
    ctl_response_free(&r);
    if (!j)
        return CTL_EXIT_API;
    if (c->json)
        out_json(stdout, j);
    else
        human(stdout, j);
    json_decref(j);
    return CTL_EXIT_OK;
}

/* For commands whose answer only confirms: with --json show it, else `msg`. */
static int confirm(ctl *c, const ctl_response *r, const char *msg, const char *arg)
{
    if (c->json) {
        json_t *j = r->len ? json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL) : NULL;
        if (j) {
            out_json(stdout, j);
            json_decref(j);
        } else if (r->len) {
            fwrite(r->body, 1, r->len, stdout);
        } else {
            puts("{}");
        }
    } else if (msg) {
        printf(msg, arg);
        putchar('\n');
    }
    return CTL_EXIT_OK;
}

static int escaped_path(char *out, size_t out_len, const char *prefix, const char *arg)
{
    char esc[1024];
    if (ctl_escape(arg, esc, sizeof esc) != 0)
        return -1;
    int n = snprintf(out, out_len, "%s%s", prefix, esc);
    return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

/* ---- commands --------------------------------------------------------------------- */

static int cmd_members(ctl *c)
{
    char path[256] = "/v1/members";
    if (c->status) {
        static const char *const ok[] = {"alive", "suspect", "dead", "left"};
        bool known = false;
        for (size_t i = 0; i < 4; i++)
            known |= strcmp(c->status, ok[i]) == 0;
        if (!known)
            return usage_error(find_command("members"),
                               "--status: must be alive, suspect, dead or left, got \"%s\"",
                               c->status);
        snprintf(path, sizeof path, "/v1/members?status=%s", c->status);
    }
    return get_and_show(c, path, out_members_table);
}

static int cmd_self(ctl *c)
{
    return get_and_show(c, "/v1/self", out_key_values);
}

static int cmd_info(ctl *c)
{
    return get_and_show(c, "/v1/info", out_key_values);
}

static int cmd_join(ctl *c)
{
    json_t *addrs = json_array();
    for (int i = 0; i < c->n_args; i++)
        json_array_append_new(addrs, json_string(c->args[i]));
    json_t *body = json_pack("{s:o}", "addrs", addrs);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        fprintf(stderr, "gossipctl: the addresses are not UTF-8 text\n");
        return CTL_EXIT_USAGE;
    }
    ctl_response r;
    int rc = call(c, "POST", "/v1/join", text, strlen(text), "application/json", &r);
    free(text);
    if (rc != CTL_EXIT_OK)
        return rc;
    char list[2048] = "";
    for (int i = 0; i < c->n_args; i++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? " " : "", c->args[i]);
    }
    rc = confirm(c, &r, "joining %s", list);
    ctl_response_free(&r);
    return rc;
}

static int cmd_leave(ctl *c)
{
    ctl_response r;
    int rc = call(c, "POST", "/v1/leave", NULL, 0, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = confirm(c, &r, "leaving the cluster%s", "");
    ctl_response_free(&r);
    return rc;
}

static int cmd_force_leave(ctl *c)
{
    char path[1200];
    if (escaped_path(path, sizeof path, "/v1/force-leave/", c->args[0]) != 0)
        return usage_error(find_command("force-leave"), "NAME is too long: %.40s...",
                           c->args[0]);
    ctl_response r;
    int rc = call(c, "POST", path, NULL, 0, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = confirm(c, &r, "%s is marked as left", c->args[0]);
    ctl_response_free(&r);
    return rc;
}


/* POSTs `arg` as the body, or standard input when it is "-". */
static int post_payload(ctl *c, const char *path, const char *arg, ctl_response *r)
{
    size_t len = strlen(arg);
    char *owned = NULL;
    if (strcmp(arg, "-") == 0) {
        owned = ctl_read_stdin(STDIN_VALUE_MAX, &len);
        if (!owned)
            return CTL_EXIT_USAGE;
        arg = owned;
    }
    int rc = call(c, "POST", path, arg, len, NULL, r);
    free(owned);
    return rc;
}

/* event NAME [PAYLOAD|-]: fires a user event; prints its Lamport time. */
static int cmd_event(ctl *c)
{
    char path[1200];
    if (escaped_path(path, sizeof path, "/v1/event/", c->args[0]) != 0)
        return usage_error(find_command("event"), "NAME is too long: %.40s...", c->args[0]);
    if (c->no_coalesce)
        strcat(path, "?coalesce=false"); /* fits: the escaped name is under 1024 bytes */
    ctl_response r;
    int rc = post_payload(c, path, c->n_args > 1 ? c->args[1] : "", &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    char note[96] = "";
    json_t *j = r.len ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    json_int_t ltime = j ? json_integer_value(json_object_get(j, "ltime")) : 0;
    json_decref(j);
    snprintf(note, sizeof note, "event %%s fired (Lamport time %lld)", (long long)ltime);
    rc = confirm(c, &r, note, c->args[0]);
    ctl_response_free(&r);
    return rc;
}

/* Appends "&name=value" (value escaped) to path; -1 when it does not fit. */
static int add_param(char *path, size_t cap, const char *name, const char *value)
{
    char esc[1024];
    if (ctl_escape(value, esc, sizeof esc) != 0)
        return -1;
    size_t used = strlen(path);
    int n = snprintf(path + used, cap - used, "%c%s=%s", strchr(path, '?') ? '&' : '?', name,
                     esc);
    return n < 0 || (size_t)n >= cap - used ? -1 : 0;
}

/* query NAME [PAYLOAD|-] [--tag k=v]... [--node a,b] [--timeout MS] [--relay R] */
static int cmd_query(ctl *c)
{
    char path[4096], tags[1024] = "";
    if (escaped_path(path, sizeof path, "/v1/query/", c->args[0]) != 0)
        return usage_error(find_command("query"), "NAME is too long: %.40s...", c->args[0]);
    for (int i = 0; i < c->n_tags; i++) {
        size_t used = strlen(tags);
        snprintf(tags + used, sizeof tags - used, "%s%s", i ? "," : "", c->tags[i]);
    }
    if ((tags[0] && add_param(path, sizeof path, "tag", tags) != 0) ||
        (c->names && add_param(path, sizeof path, "name", c->names) != 0) ||
        (c->timeout && add_param(path, sizeof path, "timeout", c->timeout) != 0) ||
        (c->relay && add_param(path, sizeof path, "relay", c->relay) != 0))
        return usage_error(find_command("query"), "the filters are too long%s", "");
    ctl_response r;
    int rc = post_payload(c, path, c->n_args > 1 ? c->args[1] : "", &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    json_t *j = r.len ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    if (c->json || !j) {
        rc = confirm(c, &r, NULL, "");
    } else {
        json_t *acks = json_object_get(j, "acks"), *resp = json_object_get(j, "responses");
        printf("%zu acks, %zu responses\n", json_array_size(acks), json_object_size(resp));
        const char *name;
        json_t *v;
        json_object_foreach(resp, name, v) {
            if (json_is_string(v))
                printf("%-20s %s\n", name, json_string_value(v));
            else {
                char *t = json_dumps(v, JSON_COMPACT);
                printf("%-20s %s\n", name, t ? t : "?");
                free(t);
            }
        }
    }
    json_decref(j);
    ctl_response_free(&r);
    return rc;
}

static int cmd_state(ctl *c)
{
    const command *self = find_command("state");
    const char *sub = c->args[0];
    int want;
    if (strcmp(sub, "get") == 0 || strcmp(sub, "del") == 0 || strcmp(sub, "delete") == 0)
        want = 2;
    else if (strcmp(sub, "set") == 0)
        want = 3;
    else
        return usage_error(self, "state: unknown subcommand \"%s\" (get, set or del)", sub);
    if (c->n_args != want)
        return usage_error(self, "state %s: wrong number of arguments", sub);
    const char *key = c->args[1];
    if (key[0] == '\0')
        return usage_error(self, "state %s: the key is empty", sub);
    char path[1200];
    if (escaped_path(path, sizeof path, "/v1/state/", key) != 0)
        return usage_error(self, "state: the key is too long: %.40s...", key);

    ctl_response r;
    int rc;
    if (sub[0] == 'g') {
        rc = call(c, "GET", path, NULL, 0, NULL, &r);
        if (rc != CTL_EXIT_OK)
            return rc;
        json_t *j = parse_answer(&r);
        ctl_response_free(&r);
        if (!j)
            return CTL_EXIT_API;
        if (c->json) {
            out_json(stdout, j);
        } else {
            const json_t *v = json_is_object(j) ? json_object_get(j, "value") : j;
            if (json_is_string(v)) {
                const char *s = json_string_value(v);
                size_t n = json_string_length(v);
                fwrite(s, 1, n, stdout);
                if (n == 0 || s[n - 1] != '\n')
                    putchar('\n');
            } else {
                out_json(stdout, v ? v : j);
            }
        }
        json_decref(j);
        return CTL_EXIT_OK;
    }
    if (sub[0] == 's') {
        const char *value = c->args[2];
        char *owned = NULL;
        size_t len = strlen(value);
        if (strcmp(value, "-") == 0) {
            owned = ctl_read_stdin(STDIN_VALUE_MAX, &len);
            if (!owned)
                return CTL_EXIT_USAGE;
            value = owned;
        }
        rc = call(c, "PUT", path, value, len, "application/octet-stream", &r);
        free(owned);
        if (rc != CTL_EXIT_OK)
            return rc;
        rc = confirm(c, &r, NULL, NULL);
        ctl_response_free(&r);
        return rc;
    }
    rc = call(c, "DELETE", path, NULL, 0, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = confirm(c, &r, NULL, NULL);
    ctl_response_free(&r);
    return rc;
}

static void on_event(void *ud, const char *id, const char *event, const char *data)
{
    (void)id;
    ctl *c = ud;
    if (c->json) {
        /* One compact JSON object per line, whatever the server's spacing. */
        json_t *j = json_loads(data, JSON_DECODE_ANY, NULL);
        if (json_is_object(j) && !json_object_get(j, "type"))
            json_object_set_new(j, "type", json_string(event));
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
                    : NULL;
        if (s && json_is_object(j)) {
            puts(s);
        } else {
            /* Not an object (e.g. "event: lost"): wrap it so every line is one. */
            json_t *w = json_pack("{s:s,s:s?}", "type", event, "data", data);
            char *ws = w ? json_dumps(w, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (ws)
                puts(ws);
            free(ws);
            json_decref(w);
        }
        free(s);
        json_decref(j);
    } else {
        out_event_line(stdout, event, data);
    }
    fflush(stdout);
}

static int cmd_watch(ctl *c)
{
    return ctl_stream(&c->cl, "/v1/watch", on_event, c);
}

static int cmd_metrics(ctl *c)
{
    ctl_response r;
    int rc = call(c, "GET", "/metrics", NULL, 0, NULL, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    fwrite(r.body, 1, r.len, stdout);
    ctl_response_free(&r);
    return CTL_EXIT_OK;
}

/* kv get|put|del|list: the key-value store (src/cli/kv.c, docs/kv.md). */
static int cmd_kv(ctl *c)
{
    return ctl_kv_run(&c->cl, c->json, c->n_args, c->args);
}

/* services: service register|deregister, services (src/cli/services.c,
 * docs/services.md). */
static int cmd_service(ctl *c)
{
    return ctl_service_run(&c->cl, c->json, c->n_args, c->args);
}

static int cmd_services(ctl *c)
{
    return ctl_services_run(&c->cl, c->json, c->n_args, c->args);
}

/* ---- blob put FILE | blob get HASH [-o FILE] (docs/large-payloads.md) ---------- */

#define BLOB_FILE_MAX (4ull << 30) /* the agent's cap is far lower */

/* Reads a whole file ("-": standard input) into a malloc'd buffer. */
static char *read_whole(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gossipctl: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = cap < BLOB_FILE_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                fprintf(stderr, "gossipctl: %s is too large to read\n", path);
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                fprintf(stderr, "gossipctl: cannot read %s\n", path);
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

static int cmd_blob(ctl *c)
{
    const command *self = find_command("blob");
    const char *sub = c->args[0];
    if (strcmp(sub, "put") == 0 && c->n_args == 2) {
        size_t len;
        char *data = read_whole(c->args[1], &len);
        if (!data)
            return CTL_EXIT_USAGE;
        ctl_response r;
        int rc = call(c, "PUT", "/v1/blob", data, len, "application/octet-stream", &r);
        free(data);
        if (rc != CTL_EXIT_OK)
            return rc;
        json_t *j = parse_answer(&r);
        const char *hash = j ? json_string_value(json_object_get(j, "hash")) : NULL;
        if (c->json && j)
            out_json(stdout, j);
        else if (hash)
            puts(hash);
        rc = hash ? CTL_EXIT_OK : CTL_EXIT_API;
        json_decref(j);
        ctl_response_free(&r);
        return rc;
    }
    bool to_file = c->n_args == 4 && strcmp(c->args[2], "-o") == 0;
    if (strcmp(sub, "get") == 0 && (c->n_args == 2 || to_file)) {
        char path[1200];
        if (escaped_path(path, sizeof path, "/v1/blob/", c->args[1]) != 0)
            return usage_error(self, "HASH is too long: %.40s...", c->args[1]);
        ctl_response r;
        int rc = call(c, "GET", path, NULL, 0, NULL, &r);
        if (rc != CTL_EXIT_OK)
            return rc;
        FILE *f = to_file ? fopen(c->args[3], "wb") : stdout;
        bool ok = f && fwrite(r.body, 1, r.len, f) == r.len;
        if (to_file && f && fclose(f) != 0)
            ok = false;
        ctl_response_free(&r);
        if (!ok) {
            fprintf(stderr, "gossipctl: cannot write %s\n", to_file ? c->args[3] : "the output");
            return CTL_EXIT_API;
        }
        return CTL_EXIT_OK;
    }
    return usage_error(self, "blob: expected put FILE or get HASH [-o FILE], got \"%s\"", sub);
}

static const command commands[] = {
    {"members", 0, 0, "members [--status alive|suspect|dead|left]",
     "Lists the members this agent knows as a table (NAME ADDR STATUS GEN INC PHI TAGS),\n"
     "sorted by name; --json prints the agent's JSON array.  PHI is the phi-accrual\n"
     "suspicion level for the peers this node monitors ('-' for the others).",
     cmd_members},
    {"self", 0, 0, "self", "Prints this agent's own member record as key: value lines.",
     cmd_self},
    {"info", 0, 0, "info", "Prints the agent's version, settings and counters as key: value lines.",
     cmd_info},
    {"join", 1, MAX_ARGS, "join ADDR:PORT...",
     "Asks the agent to join the members at these gossip addresses (a.b.c.d:PORT or\n"
     "[IPv6]:PORT).  The join itself happens in the background: check `members`.",
     cmd_join},
    {"leave", 0, 0, "leave",
     "Makes the agent leave the cluster gracefully; the others see it as \"left\",\n"
     "not \"dead\".",
     cmd_leave},
    {"force-leave", 1, 1, "force-leave NAME",
     "Marks the dead or suspect member NAME as left, so the cluster stops waiting\n"
     "for it to come back.",
     cmd_force_leave},
    {"state", 2, 3, "state get KEY | state set KEY VALUE|- | state del KEY",
     "Reads, sets or deletes a key of this node's application state, which gossip\n"
     "spreads to every member.  `state get` prints the value (--json: the key, value\n"
     "and version); `state set KEY -` reads the value from standard input (at most\n"
     "1 MiB; the agent enforces its own smaller limit).",
     cmd_state},
    {"event", 1, 2, "event NAME [PAYLOAD|-] [--no-coalesce]",
     "Fires a user event: every member delivers it once (to /v1/watch and to\n"
     "handlers subscribed to \"user\"), ordered by its Lamport time.  `-` reads the\n"
     "payload from standard input; the agent refuses payloads over --max-event-size.\n"
     "Members with a --user-coalesce-period hand only the newest event of a name to\n"
     "their handlers; --no-coalesce has them hand this one on at once.",
     cmd_event},
    {"blob", 2, 4, "blob put FILE|- | blob get HASH [-o FILE]",
     "Stores FILE (or standard input) on the agent as a blob, which the cluster\n"
     "spreads by announcements and chunk pulls, and prints its hash; or writes the\n"
     "blob HASH held by the agent to FILE or standard output (exit status 1 while\n"
     "the agent does not hold it yet).",
     cmd_blob},
    {"query", 1, 2, "query NAME [PAYLOAD|-] [--tag K=V]... [--node NAME,...] [--timeout MS] [--relay R]",
     "Asks the members (those with all the given tags, or the named nodes) and\n"
     "prints who acknowledged and what their \"query\" handler answered, after the\n"
     "timeout (default 2000 ms).  --relay R sends each answer along R more paths.",
     cmd_query},
    {"watch", 0, 0, "watch",
     "Prints membership and state events as they happen, one line each:\n"
     "TIME TYPE NAME ADDR followed by key=value fields (TIME in UTC); --json prints\n"
     "each event's JSON object on one line.  Runs until interrupted or until the\n"
     "agent goes away (exit status 3).",
     cmd_watch},
    {"metrics", 0, 0, "metrics", "Prints the agent's metrics in the Prometheus text format.",
     cmd_metrics},
    {"kv", 1, MAX_ARGS, CTL_KV_USAGE, CTL_KV_ABOUT, cmd_kv}, /* src/cli/kv.c */
    {"service", 1, MAX_ARGS, CTL_SERVICE_USAGE, CTL_SERVICE_ABOUT, cmd_service}, /* services */
    {"services", 0, MAX_ARGS, CTL_SERVICES_USAGE, CTL_SERVICES_ABOUT, cmd_services},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* ---- the command line -------------------------------------------------------------- */

/* Matches --NAME or --NAME=VALUE; takes the value from the next argument
 * when needed.  Returns 1 matched, 0 not this option, -1 missing value. */
static int take_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

/* Options that take a value; the value lands in the ctl field at `field`
 * (a const char *), or for the repeatable --tag in c.tags. */
typedef struct value_option {
    const char *name, *needs; /* needs: the message when the value is missing */
    size_t field;
    bool repeat;
} value_option;

static const value_option value_options[] = {
    {"--http", "--http: needs ADDR:PORT", offsetof(ctl, http), false},
    {"--token", "--token: needs a value", offsetof(ctl, token), false},
    {"--tag", "--tag: needs KEY=VALUE", 0, true},
    {"--node", "--node: needs NAME[,NAME...]", offsetof(ctl, names), false},
    {"--timeout", "--timeout: needs MS", offsetof(ctl, timeout), false},
    {"--relay", "--relay: needs a count", offsetof(ctl, relay), false},
    {"--status", "--status: needs a value", offsetof(ctl, status), false},
};
#define N_VALUE_OPTIONS (sizeof value_options / sizeof value_options[0])

int main(int argc, char **argv)
{
    ctl c;
    memset(&c, 0, sizeof c);
    const char *cmd_name = NULL;
    const command *cmd = NULL;
    bool help = false, options_done = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && a[0] == '-' && a[1] == '-') {
            if (a[2] == '\0') {
                options_done = true;
                continue;
            }
            const char *v;
            int m;
            /* services: their own options (--port, --tag, --check-*, --interval, --all) */
            if (cmd && (cmd->run == cmd_service || cmd->run == cmd_services) &&
                (m = ctl_service_option(a)) != 0) {
                if (c.n_args + m > MAX_ARGS)
                    return usage_error(cmd, "too many arguments%s", "");
                c.args[c.n_args++] = a;
                if (m == 1 && i + 1 < argc)
                    c.args[c.n_args++] = argv[++i];
                continue;
            }
            const value_option *vo = NULL;
            for (size_t k = 0; k < N_VALUE_OPTIONS && !vo; k++)
                if ((m = take_value(argc, argv, &i, value_options[k].name, &v)) != 0)
                    vo = &value_options[k];
            if (vo) {
                if (m < 0 || (vo->repeat && (c.n_tags == MAX_ARGS || !strchr(v, '='))))
                    return usage_error(cmd, "%s", vo->needs);
                if (vo->repeat)
                    c.tags[c.n_tags++] = v;
                else
                    *(const char **)((char *)&c + vo->field) = v;
            } else if (strcmp(a, "--json") == 0) {
                c.json = true;
            } else if (strcmp(a, "--no-coalesce") == 0) {
                c.no_coalesce = true;
            } else if (strcmp(a, "--help") == 0) {
                help = true;
            } else if (strcmp(a, "--version") == 0) {
                printf("gossipctl %s\n", GOSSIP_VERSION_STRING);
                return CTL_EXIT_OK;
            } else if (cmd && cmd->run == cmd_kv && c.n_args < MAX_ARGS) {
                c.args[c.n_args++] = a; /* kv's own options (--cas, --keys): kv.c */
            } else {
                return usage_error(cmd, "unknown option %s", a);
            }
            continue;
        }
        if (!options_done && strcmp(a, "-h") == 0) {
            help = true;
            continue;
        }
        if (!cmd_name) {
            cmd_name = a;
            cmd = find_command(a);
            if (!cmd && strcmp(a, "help") == 0) {
                help = true;
                continue;
            }
            if (!cmd)
                return usage_error(NULL, "unknown command \"%s\"", a);
            continue;
        }
        if (c.n_args >= MAX_ARGS)
            return usage_error(cmd, "too many arguments%s", "");
        c.args[c.n_args++] = a;
    }

    if (help) {
        if (cmd)
            command_usage(stdout, cmd);
        else
            fputs(global_usage, stdout);
        return CTL_EXIT_OK;
    }
    if (!cmd)
        return usage_error(NULL, "no command given%s", "");
    if (c.status && strcmp(cmd->name, "members") != 0)
        return usage_error(cmd, "--status only goes with members%s", "");
    if (c.no_coalesce && strcmp(cmd->name, "event") != 0)
        return usage_error(cmd, "--no-coalesce only goes with event%s", "");
    if (c.n_args < cmd->min_args)
        return usage_error(cmd, "%s: missing arguments", cmd->name);
    if (c.n_args > cmd->max_args)
        return usage_error(cmd, "%s: too many arguments", cmd->name);

    if (!c.http || !*c.http) {
        const char *env = getenv("GOSSIP_HTTP_ADDR");
        c.http = env && *env ? env : DEFAULT_HTTP;
    }
    if (!c.token) {
        const char *env = getenv("GOSSIP_HTTP_TOKEN");
        c.token = env && *env ? env : NULL;
    }
    char err[600];
    if (ctl_client_init(&c.cl, c.http, c.token, err, sizeof err) != 0)
        return usage_error(cmd, "%s", err);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "gossipctl: cannot initialise libcurl\n");
        return CTL_EXIT_API;
    }
    int rc = cmd->run(&c);
    if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
        fprintf(stderr, "gossipctl: cannot write the output\n");
        rc = CTL_EXIT_API;
    }
    curl_global_cleanup();
    return rc;
}
