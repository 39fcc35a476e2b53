/* services.c -- service discovery: registrations, health checks, the
 * "svc.NAME" state keys and /v1/services (services.h, docs/services.md). */
#include "agent/services.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent/json_text.h"

#define SVC_SCAN_MS 100            /* the check timer's period */
#define SVC_HTTP_REQ 700           /* bytes of the HTTP check's request */
#define SVC_HTTP_STATUS_LINE 64    /* bytes of the answer we read */

enum { CHECK_NONE = 0, CHECK_CMD, CHECK_HTTP };

typedef struct svc_run svc_run;

typedef struct svc {
    bool used;
    uint64_t id;                   /* per registration: stale check results are ignored */
    char name[AGENT_SVC_MAX_NAME + 1];
    uint32_t port;
    char tags[AGENT_SVC_MAX_TAGS][AGENT_SVC_MAX_TAG + 1];
    size_t n_tags;
    int check;                     /* CHECK_* */
    char target[AGENT_SVC_MAX_CHECK + 1]; /* the command or the URL */
    uint32_t interval_ms;
    bool passing;
    uint64_t next_ms;              /* agent_now_ms when the next check is due */
    svc_run *run;                  /* the check in flight */
} svc;

/* One health check in flight (loop thread only). */
struct svc_run {
    svc_run *next;
    uint64_t svc_id;
    int kind;
    uint64_t deadline_ms;
    bool done;                     /* its result was taken */
    int handles;                   /* open libuv handles; freed at 0 once done */
    bool proc_exited;
    uv_process_t proc;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    char req[SVC_HTTP_REQ];
    char resp[SVC_HTTP_STATUS_LINE + 1];
    size_t resp_len;
};

typedef struct agent_svcs {
    agent *a;
    bool open, closing;
    uv_timer_t timer;
    svc svcs[AGENT_SVC_LIMIT];
    uint64_t next_id;
    svc_run *runs;
} agent_svcs;

static agent_svcs the_svcs; /* one agent per process (agent_run's static agent) */

static agent_svcs *svcs_of(agent *a) { return the_svcs.a == a ? &the_svcs : NULL; }

bool agent_services_reserved_key(const char *key)
{
    return strncmp(key, AGENT_SVC_KEY_PREFIX, sizeof AGENT_SVC_KEY_PREFIX - 1) == 0;
}

/* ---- validation ------------------------------------------------------------ */

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AGENT_SVC_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool text_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return agent_utf8_valid((const uint8_t *)s, n);
}

/* "http://HOST[:PORT][/PATH]" with HOST an IPv4 address, [IPv6] or
 * localhost.  Fills the socket address and the path. */
static bool parse_url(const char *url, struct sockaddr_storage *ss, char *host, size_t host_len,
                      char *path, size_t path_len)
{
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *p = url + 7, *h_end;
    char h[64];
    if (*p == '[') {
        h_end = strchr(p, ']');
        if (!h_end || (size_t)(h_end - p - 1) >= sizeof h)
            return false;
        memcpy(h, p + 1, (size_t)(h_end - p - 1));
        h[h_end - p - 1] = 0;
        h_end++;
    } else {
        h_end = p + strcspn(p, ":/");
        if ((size_t)(h_end - p) >= sizeof h || h_end == p)
            return false;
        memcpy(h, p, (size_t)(h_end - p));
        h[h_end - p] = 0;
    }
    long port = 80;
    p = h_end;
    if (*p == ':') {
        char *e;
        errno = 0;
        port = strtol(p + 1, &e, 10);
        if (e == p + 1 || errno || port < 1 || port > 65535)
            return false;
        p = e;
    }
    if (*p && *p != '/')
        return false;
    snprintf(path, path_len, "%s", *p ? p : "/");
    if (strcmp(h, "localhost") == 0)
        snprintf(h, sizeof h, "127.0.0.1");
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(h, (int)port, (struct sockaddr_in *)ss) != 0 &&
        uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)ss) != 0)
        return false;
    snprintf(host, host_len, "%s", h);
    return true;
}

/* A registration's JSON (PUT body, or one entry of DIR/services.json) into
 * *out.  false with the reason in why. */
static bool parse_reg(const agent_config *cfg, const char *name, json_t *o, svc *out,
                      char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    if (!json_is_object(o)) {
        snprintf(why, why_len, "the body must be a JSON object");
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "port") && strcmp(k, "tags") && strcmp(k, "check_http") &&
            strcmp(k, "check_cmd") && strcmp(k, "interval_ms")) {
            snprintf(why, why_len,
                     "unknown field \"%.64s\" (fields: port, tags, check_http, check_cmd, "
                     "interval_ms)", k);
            return false;
        }
    }
    json_t *port = json_object_get(o, "port");
    if (!port) {
        snprintf(why, why_len, "port: missing (an integer 1..65535)");
        return false;
    }
    if (!json_is_integer(port) || json_integer_value(port) < 1 ||
        json_integer_value(port) > 65535) {
        snprintf(why, why_len, "port: must be an integer 1..65535");
        return false;
    }
    out->port = (uint32_t)json_integer_value(port);
    json_t *tags = json_object_get(o, "tags");
    if (tags) {
        if (!json_is_array(tags) || json_array_size(tags) > AGENT_SVC_MAX_TAGS) {
            snprintf(why, why_len, "tags: must be an array of at most %d strings",
                     AGENT_SVC_MAX_TAGS);
            return false;
        }
        size_t i;
        json_array_foreach(tags, i, v) {
            const char *t = json_string_value(v);
            size_t n = t ? json_string_length(v) : 0;
            if (!t || n == 0 || n > AGENT_SVC_MAX_TAG || strlen(t) != n || !text_ok(t, n)) {
                snprintf(why, why_len,
                         "tags[%zu]: must be 1..%d bytes of text without control characters",
                         i, AGENT_SVC_MAX_TAG);
                return false;
            }
            snprintf(out->tags[out->n_tags++], AGENT_SVC_MAX_TAG + 1, "%s", t);
        }
    }
    json_t *ch = json_object_get(o, "check_http"), *cc = json_object_get(o, "check_cmd");
    if (ch && cc) {
        snprintf(why, why_len, "check_http and check_cmd: give one check, not both");
        return false;
    }
    json_t *check = ch ? ch : cc;
    if (check) {
        const char *s = json_string_value(check);
        size_t n = s ? json_string_length(check) : 0;
        if (!s || n == 0 || n > AGENT_SVC_MAX_CHECK || strlen(s) != n || !text_ok(s, n)) {
            snprintf(why, why_len, "%s: must be 1..%d bytes of text", ch ? "check_http" : "check_cmd",
                     AGENT_SVC_MAX_CHECK);
            return false;
        }
        if (ch) {
            struct sockaddr_storage ss;
            char host[64], path[AGENT_SVC_MAX_CHECK + 1];
            if (!parse_url(s, &ss, host, sizeof host, path, sizeof path)) {
                snprintf(why, why_len,
                         "check_http: must be http://HOST[:PORT][/PATH] with HOST an IP "
                         "address, [IPv6] or localhost");
                return false;
            }
        }
        out->check = ch ? CHECK_HTTP : CHECK_CMD;
        snprintf(out->target, sizeof out->target, "%s", s);
    }
    json_t *iv = json_object_get(o, "interval_ms");
    out->interval_ms = AGENT_SVC_DEFAULT_INTERVAL_MS;
    if (out->interval_ms < cfg->service_min_interval_ms)
        out->interval_ms = cfg->service_min_interval_ms;
    if (iv) {
        if (!check) {
            snprintf(why, why_len, "interval_ms: goes with check_http or check_cmd");
            return false;
        }
        if (!json_is_integer(iv) || json_integer_value(iv) < cfg->service_min_interval_ms ||
            json_integer_value(iv) > AGENT_SVC_MAX_INTERVAL_MS) {
            snprintf(why, why_len, "interval_ms: must be an integer %u..%u",
                     (unsigned)cfg->service_min_interval_ms, AGENT_SVC_MAX_INTERVAL_MS);
            return false;
        }
        out->interval_ms = (uint32_t)json_integer_value(iv);
    }
    out->passing = check == NULL; /* with a check: critical until it passes */
    return true;
}

/* ---- the state value ----------------------------------------------------------- */

static json_t *value_json(const svc *s)
{
    json_t *tags = json_array();
    for (size_t i = 0; i < s->n_tags; i++)
        json_array_append_new(tags, json_string(s->tags[i]));
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "port", json_integer(s->port));
    json_object_set_new(o, "tags", tags);
    if (s->check != CHECK_NONE)
        json_object_set_new(o, "check",
                            json_pack("{s:s,s:I}", s->check == CHECK_CMD ? "cmd" : "http",
                                      s->target, "interval_ms", (json_int_t)s->interval_ms));
    json_object_set_new(o, "status", json_string(s->passing ? "passing" : "critical"));
    return o;
}

/* Lock held.  Writes the service's state key; a GOSSIP_ERR_*. */
static int publish(agent *a, const svc *s)
{
    json_t *o = value_json(s);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return GOSSIP_ERR_NOMEM;
    char key[GOSSIP_MAX_KEY + 1];
    snprintf(key, sizeof key, AGENT_SVC_KEY_PREFIX "%s", s->name);
    int rc = agent_set_state(a, key, (const uint8_t *)text, strlen(text));
    free(text);
    return rc;
}

/* ---- persistence ------------------------------------------------------------------ */

static json_t *reg_json(const svc *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "port", json_integer(s->port));
    json_t *tags = json_array();
    for (size_t i = 0; i < s->n_tags; i++)
        json_array_append_new(tags, json_string(s->tags[i]));
    json_object_set_new(o, "tags", tags);
    if (s->check != CHECK_NONE) {
        json_object_set_new(o, s->check == CHECK_CMD ? "check_cmd" : "check_http",
                            json_string(s->target));
        json_object_set_new(o, "interval_ms", json_integer(s->interval_ms));
    }
    return o;
}

/* Lock held.  DIR/services.json: temp file, fsync, rename, fsync of the dir. */
static int save(agent_svcs *v, char *err, size_t err_len)
{
    const char *dir = v->a->cfg.data_dir;
    json_t *all = json_object();
    for (size_t i = 0; i < AGENT_SVC_LIMIT; i++)
        if (v->svcs[i].used)
            json_object_set_new(all, v->svcs[i].name, reg_json(&v->svcs[i]));
    json_t *doc = json_pack("{s:i,s:o}", "version", 1, "services", all);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    char tmp[AGENT_MAX_PATH + 64], path[AGENT_MAX_PATH + 64];
    snprintf(tmp, sizeof tmp, "%s/" AGENT_SVC_FILE ".tmp", dir);
    snprintf(path, sizeof path, "%s/" AGENT_SVC_FILE, dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text), off = 0;
    bool ok = fd >= 0;
    while (ok && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok)
            off += (size_t)w;
    }
    free(text);
    ok = ok && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    ok = ok && rename(tmp, path) == 0;
    if (ok) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    if (!ok) {
        snprintf(err, err_len, "cannot write %.400s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- checks (loop thread) ------------------------------------------------------ */

static svc *find_id(agent_svcs *v, uint64_t id)
{
    for (size_t i = 0; i < AGENT_SVC_LIMIT; i++)
        if (v->svcs[i].used && v->svcs[i].id == id)
            return &v->svcs[i];
    return NULL;
}

static svc *find_name(agent_svcs *v, const char *name)
{
    for (size_t i = 0; i < AGENT_SVC_LIMIT; i++)
        if (v->svcs[i].used && strcmp(v->svcs[i].name, name) == 0)
            return &v->svcs[i];
    return NULL;
}

static void run_maybe_free(agent_svcs *v, svc_run *r)
{
    if (!r->done || r->handles > 0)
        return;
    for (svc_run **p = &v->runs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    free(r);
}

static void on_run_closed(uv_handle_t *h)
{
    svc_run *r = h->data;
    r->handles--;
    run_maybe_free(&the_svcs, r);
}

static void close_run_handles(svc_run *r)
{
    if (r->kind == CHECK_CMD) {
        if (!r->proc_exited && r->proc.pid > 0)
            kill(-r->proc.pid, SIGKILL); /* its process group: sh and what it started */
        if (!uv_is_closing((uv_handle_t *)&r->proc))
            uv_close((uv_handle_t *)&r->proc, on_run_closed);
    } else if (r->kind == CHECK_HTTP) {
        if (!uv_is_closing((uv_handle_t *)&r->tcp))
            uv_close((uv_handle_t *)&r->tcp, on_run_closed);
    }
}

/* Lock held.  The check's verdict: the status is published when it changed. */
static void run_result(agent_svcs *v, svc_run *r, bool passing, const char *why)
{
    if (r->done)
        return;
    r->done = true;
    svc *s = find_id(v, r->svc_id);
    if (s) {
        s->run = NULL;
        s->next_ms = agent_now_ms(v->a) + s->interval_ms;
        if (s->passing != passing && !v->closing) {
            s->passing = passing;
            int rc = publish(v->a, s);
            agent_log(v->a, passing ? GOSSIP_LOG_INFO : GOSSIP_LOG_WARN,
                      "msg=\"service check\" service=%s status=%s reason=\"%s\" err=\"%s\"",
                      s->name, passing ? "passing" : "critical", why, gossip_strerror(rc));
        }
    }
    close_run_handles(r);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int signal)
{
    svc_run *r = p->data;
    agent *a = the_svcs.a;
    agent_lock(a);
    r->proc_exited = true;
    char why[64];
    if (signal)
        snprintf(why, sizeof why, "killed by signal %d", signal);
    else
        snprintf(why, sizeof why, "exit status %" PRId64, status);
    run_result(&the_svcs, r, status == 0 && signal == 0, why);
    agent_unlock(a);
}

static void start_cmd(agent_svcs *v, svc *s, svc_run *r)
{
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char *args[] = {sh, dash_c, s->target, NULL};
    uv_stdio_container_t stdio[3];
    for (int i = 0; i < 3; i++)
        stdio[i].flags = UV_IGNORE;
    uv_process_options_t opt = {0};
    opt.file = "/bin/sh";
    opt.args = args;
    opt.exit_cb = on_proc_exit;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.flags = UV_PROCESS_DETACHED; /* its own process group, killed whole at the timeout */
    r->proc.data = r;
    int rc = uv_spawn(&v->a->loop, &r->proc, &opt);
    r->handles = 1;
    if (rc != 0) {
        r->proc_exited = true;
        char why[128];
        snprintf(why, sizeof why, "cannot start /bin/sh: %s", uv_strerror(rc));
        run_result(v, r, false, why);
    }
}

static void on_http_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    svc_run *r = h->data;
    size_t room = SVC_HTTP_STATUS_LINE - r->resp_len;
    *buf = uv_buf_init(r->resp + r->resp_len, (unsigned)(room ? room : 1));
}

/* Lock held.  Judges the status line read so far; true when decided. */
static bool http_judge(agent_svcs *v, svc_run *r, bool eof)
{
    r->resp[r->resp_len] = 0;
    char *nl = strchr(r->resp, '\n');
    if (!nl && !eof && r->resp_len < SVC_HTTP_STATUS_LINE)
        return false;
    int code = 0;
    bool ok = sscanf(r->resp, "HTTP/%*d.%*d %d", &code) == 1;
    char why[64];
    if (ok)
        snprintf(why, sizeof why, "HTTP %d", code);
    else
        snprintf(why, sizeof why, "no HTTP status line");
    run_result(v, r, ok && code >= 200 && code < 300, why);
    return true;
}

static void on_http_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    svc_run *r = st->data;
    agent_lock(the_svcs.a);
    if (n > 0) {
        r->resp_len += (size_t)n;
        if (r->resp_len > SVC_HTTP_STATUS_LINE)
            r->resp_len = SVC_HTTP_STATUS_LINE;
        http_judge(&the_svcs, r, false);
    } else if (n < 0) {
        if (n == UV_EOF)
            http_judge(&the_svcs, r, true);
        else
            run_result(&the_svcs, r, false, uv_strerror((int)n));
    }
    agent_unlock(the_svcs.a);
}

static void on_http_written(uv_write_t *w, int status)
{
    svc_run *r = w->data;
    if (status == 0 || r->done)
        return;
    agent_lock(the_svcs.a);
    run_result(&the_svcs, r, false, uv_strerror(status));
    agent_unlock(the_svcs.a);
}

static void on_http_connect(uv_connect_t *c, int status)
{
    svc_run *r = c->data;
    agent_lock(the_svcs.a);
    if (r->done) {
        /* timed out (or closing) meanwhile */
    } else if (status != 0) {
        run_result(&the_svcs, r, false, uv_strerror(status));
    } else {
        uv_buf_t b = uv_buf_init(r->req, (unsigned)strlen(r->req));
        r->write_req.data = r;
        int rc = uv_write(&r->write_req, (uv_stream_t *)&r->tcp, &b, 1, on_http_written);
        if (rc == 0)
            rc = uv_read_start((uv_stream_t *)&r->tcp, on_http_alloc, on_http_read);
        if (rc != 0)
            run_result(&the_svcs, r, false, uv_strerror(rc));
    }
    agent_unlock(the_svcs.a);
}

static void start_http(agent_svcs *v, svc *s, svc_run *r)
{
    struct sockaddr_storage ss;
    char host[64], path[AGENT_SVC_MAX_CHECK + 1];
    uv_tcp_init(&v->a->loop, &r->tcp);
    r->tcp.data = r;
    r->handles = 1;
    if (!parse_url(s->target, &ss, host, sizeof host, path, sizeof path)) {
        run_result(v, r, false, "bad URL");
        return;
    }
    bool v6 = ss.ss_family == AF_INET6;
    snprintf(r->req, sizeof r->req,
             "GET %s HTTP/1.0\r\nHost: %s%s%s\r\nUser-Agent: gossipd/" GOSSIP_VERSION_STRING
             "\r\nConnection: close\r\n\r\n",
             path, v6 ? "[" : "", host, v6 ? "]" : "");
    r->connect_req.data = r;
    int rc = uv_tcp_connect(&r->connect_req, &r->tcp, (const struct sockaddr *)&ss,
                            on_http_connect);
    if (rc != 0)
        run_result(v, r, false, uv_strerror(rc));
}

/* Lock held, loop thread. */
static void start_check(agent_svcs *v, svc *s, uint64_t now)
{
    svc_run *r = calloc(1, sizeof *r);
    if (!r) {
        s->next_ms = now + s->interval_ms;
        return;
    }
    r->svc_id = s->id;
    r->kind = s->check;
    r->deadline_ms = now + v->a->cfg.service_check_timeout_ms;
    r->next = v->runs;
    v->runs = r;
    s->run = r;
    if (s->check == CHECK_CMD)
        start_cmd(v, s, r);
    else
        start_http(v, s, r);
    run_maybe_free(v, r);
}

static void on_timer(uv_timer_t *t)
{
    agent_svcs *v = t->data;
    agent_lock(v->a);
    uint64_t now = agent_now_ms(v->a);
    for (svc_run *r = v->runs, *next; r; r = next) {
        next = r->next;
        if (!r->done && now >= r->deadline_ms)
            run_result(v, r, false, "timed out");
    }
    if (!v->closing)
        for (size_t i = 0; i < AGENT_SVC_LIMIT; i++) {
            svc *s = &v->svcs[i];
            if (s->used && s->check != CHECK_NONE && !s->run && now >= s->next_ms)
                start_check(v, s, now);
        }
    agent_unlock(v->a);
}

/* ---- registration (lock held) ----------------------------------------------------- */

/* 0, or an HTTP status with the reason in why. */
static unsigned do_register(agent_svcs *v, const svc *in, bool persist, char *why, size_t why_len)
{
    agent *a = v->a;
    svc *s = find_name(v, in->name);
    bool fresh = s == NULL;
    if (fresh) {
        size_t used = 0;
        for (size_t i = 0; i < AGENT_SVC_LIMIT; i++)
            used += v->svcs[i].used;
        for (size_t i = 0; !s && i < AGENT_SVC_LIMIT; i++)
            if (!v->svcs[i].used)
                s = &v->svcs[i];
        if (used >= a->cfg.services_max || !s) {
            snprintf(why, why_len, "this agent already runs %zu services (--services-max %u)",
                     used, (unsigned)a->cfg.services_max);
            return 507;
        }
    }
    svc old = *s;
    *s = *in;
    s->used = true;
    s->id = ++v->next_id;
    s->next_ms = 0; /* the first check at once */
    s->run = NULL;  /* a check of the old registration finishes unheard */
    int rc = publish(a, s);
    if (rc != 0) {
        *s = old;
        snprintf(why, why_len, "cannot publish service \"%s\": %s%s", in->name,
                 gossip_strerror(rc),
                 rc == GOSSIP_ERR_OVERSIZE ? " (the service's JSON is over max_value_size)" : "");
        return rc == GOSSIP_ERR_OVERSIZE ? 413 : rc == GOSSIP_ERR_NOMEM ? 503 : 400;
    }
    if (persist) {
        char err[600], esc[1300];
        if (save(v, err, sizeof err) != 0)
            agent_log(a, GOSSIP_LOG_ERROR, "msg=\"services not saved\" err=\"%s\"",
                      agent_logfmt_escape(err, esc, sizeof esc));
    }
    agent_log(a, GOSSIP_LOG_INFO, "msg=\"service registered\" service=%s port=%u check=%s",
              s->name, (unsigned)s->port,
              s->check == CHECK_CMD ? "cmd" : s->check == CHECK_HTTP ? "http" : "none");
    return 0;
}

static bool do_deregister(agent_svcs *v, const char *name)
{
    svc *s = find_name(v, name);
    if (!s)
        return false;
    memset(s, 0, sizeof *s);
    char key[GOSSIP_MAX_KEY + 1];
    snprintf(key, sizeof key, AGENT_SVC_KEY_PREFIX "%s", name);
    (void)agent_del_state(v->a, key);
    char err[600], esc[1300];
    if (save(v, err, sizeof err) != 0)
        agent_log(v->a, GOSSIP_LOG_ERROR, "msg=\"services not saved\" err=\"%s\"",
                  agent_logfmt_escape(err, esc, sizeof esc));
    agent_log(v->a, GOSSIP_LOG_INFO, "msg=\"service deregistered\" service=%s", name);
    return true;
}

static void load(agent_svcs *v)
{
    agent *a = v->a;
    char path[AGENT_MAX_PATH + 64];
    snprintf(path, sizeof path, "%s/" AGENT_SVC_FILE, a->cfg.data_dir);
    if (access(path, F_OK) != 0)
        return;
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    json_t *all = json_object_get(doc, "services");
    if (!json_is_object(all)) {
        char aside[AGENT_MAX_PATH + 80];
        snprintf(aside, sizeof aside, "%s.corrupt", path);
        (void)rename(path, aside);
        char esc[512];
        agent_log(a, GOSSIP_LOG_WARN,
                  "msg=\"services file unusable; moved aside\" file=\"%s\" err=\"%s\"", aside,
                  agent_logfmt_escape(doc ? "no services object" : jerr.text, esc, sizeof esc));
        json_decref(doc);
        return;
    }
    const char *name;
    json_t *o;
    size_t n = 0;
    json_object_foreach(all, name, o) {
        svc s;
        char why[300];
        unsigned st = 0;
        if (!name_ok(name) || !parse_reg(&a->cfg, name, o, &s, why, sizeof why) ||
            (st = do_register(v, &s, false, why, sizeof why)) != 0) {
            agent_log(a, GOSSIP_LOG_WARN, "msg=\"saved service not registered\" service=\"%.48s\" "
                      "err=\"%s\"", name_ok(name) ? name : "?", st ? why : "invalid entry");
            continue;
        }
        n++;
    }
    json_decref(doc);
    if (n)
        agent_log(a, GOSSIP_LOG_INFO, "msg=\"services restored\" count=%zu", n);
}

/* ---- hooks ----------------------------------------------------------------------- */

void agent_services_open(agent *a)
{
    agent_svcs *v = &the_svcs;
    memset(v, 0, sizeof *v);
    v->a = a;
    uv_timer_init(&a->loop, &v->timer);
    v->timer.data = v;
    uv_timer_start(&v->timer, on_timer, SVC_SCAN_MS, SVC_SCAN_MS);
    v->open = true;
    load(v);
}

void agent_services_close(agent *a)
{
    agent_svcs *v = svcs_of(a);
    if (!v || !v->open || v->closing)
        return;
    v->closing = true;
    uv_timer_stop(&v->timer);
    uv_close((uv_handle_t *)&v->timer, NULL);
    for (svc_run *r = v->runs, *next; r; r = next) {
        next = r->next;
        if (!r->done)
            run_result(v, r, false, "agent stopping");
    }
}

void agent_services_free(agent *a)
{
    agent_svcs *v = svcs_of(a);
    if (!v)
        return;
    while (v->runs) { /* only if the loop did not run the close callbacks */
        svc_run *r = v->runs;
        v->runs = r->next;
        free(r);
    }
    v->open = false;
}

/* ---- HTTP ------------------------------------------------------------------------ */


typedef struct list_walk {
    json_t *out;
    const char *only;              /* a service name, or NULL */
    bool all;                      /* critical ones too */
    const gossip_member_info *m;
} list_walk;

/* "HOST:PORT" / "[HOST]:PORT" of a member's address with another port. */
static void service_addr(const char *member_addr, uint32_t port, char *out, size_t out_len)
{
    char host[GOSSIP_MAX_ADDR + 1];
    int p;
    if (!member_addr || agent_split_hostport(member_addr, host, sizeof host, &p) != 0) {
        snprintf(out, out_len, "%s", "");
        return;
    }
    bool v6 = strchr(host, ':') != NULL;
    if (v6)
        snprintf(out, out_len, "[%s]:%u", host, (unsigned)port);
    else
        snprintf(out, out_len, "%s:%u", host, (unsigned)port);
}

static int walk_svc(void *ctx, const char *key, const uint8_t *value, size_t len,
                    uint64_t version, int deleted)
{
    (void)version;
    list_walk *w = ctx;
    if (deleted || !agent_services_reserved_key(key))
        return 0;
    const char *name = key + sizeof AGENT_SVC_KEY_PREFIX - 1;
    if (w->only && strcmp(name, w->only) != 0)
        return 0;
    json_t *o = json_loadb((const char *)value, len, 0, NULL);
    json_t *port = json_object_get(o, "port");
    const char *status = json_string_value(json_object_get(o, "status"));
    if (!json_is_object(o) || !json_is_integer(port) || json_integer_value(port) < 1 ||
        json_integer_value(port) > 65535 || !status || !name_ok(name)) {
        json_decref(o); /* not a service value: someone else's key */
        return 0;
    }
    if (!w->all && strcmp(status, "passing") != 0) {
        json_decref(o);
        return 0;
    }
    char addr[GOSSIP_MAX_ADDR + 16];
    service_addr(w->m->addr, (uint32_t)json_integer_value(port), addr, sizeof addr);
    json_t *tags = json_object_get(o, "tags");
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(name));
    json_object_set_new(e, "node", agent_json_text(w->m->name));
    json_object_set_new(e, "addr", agent_json_text(addr));
    json_object_set_new(e, "port", json_integer(json_integer_value(port)));
    json_object_set_new(e, "tags", json_is_array(tags) ? json_incref(tags) : json_array());
    json_object_set_new(e, "status", agent_json_text(status));
    json_array_append_new(w->out, e);
    json_decref(o);
    return 0;
}

static int by_name_node(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    int c = strcmp(json_string_value(json_object_get(a, "name")),
                   json_string_value(json_object_get(b, "name")));
    return c ? c : strcmp(json_string_value(json_object_get(a, "node")),
                          json_string_value(json_object_get(b, "node")));
}

static json_t *sorted(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    if (!items)
        return arr;
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof *items, by_name_node);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, items[i]);
    free(items);
    json_decref(arr);
    return out;
}

static bool has_query(struct MHD_Connection *conn, const char *name, bool *truthy)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v)
        return false;
    *truthy = !(strcmp(v, "0") == 0 || strcmp(v, "false") == 0);
    return true;
}

json_t *agent_services_http(agent *a, struct MHD_Connection *conn, enum agent_svc_op op,
                            const char *name, const char *body, size_t body_len,
                            unsigned *status)
{
    *status = 200;
    if (op != AGENT_SVC_LIST && !name_ok(name))
        return agent_json_error(status, 400,
                     "service name must be 1..%d of A-Z a-z 0-9 . _ - (got \"%.64s\")",
                     AGENT_SVC_MAX_NAME, name);
    if (op == AGENT_SVC_LIST || op == AGENT_SVC_GET) {
        bool all = false;
        has_query(conn, "all", &all);
        json_t *out = json_array();
        agent_lock(a);
        gossip_node *node = agent_node(a);
        size_t n = gossip_node_member_count(node);
        for (size_t i = 0; i < n; i++) {
            gossip_member_info m;
            if (gossip_node_member_at(node, i, &m) != 0 ||
                (m.status != GOSSIP_STATUS_ALIVE && m.status != GOSSIP_STATUS_SUSPECT))
                continue;
            list_walk w = {out, op == AGENT_SVC_GET ? name : NULL, all, &m};
            gossip_node_foreach_key(node, m.name, walk_svc, &w);
        }
        agent_unlock(a);
        return sorted(out);
    }
    agent_svcs *v = svcs_of(a);
    if (!v || !v->open)
        return agent_json_error(status, 503, "services are not available");
    if (op == AGENT_SVC_DEL) {
        agent_lock(a);
        bool found = !v->closing && do_deregister(v, name);
        agent_unlock(a);
        if (!found)
            return agent_json_error(status, 404, "service \"%s\" is not registered on this agent", name);
        return json_pack("{s:s,s:b}", "name", name, "deregistered", 1);
    }
    json_error_t jerr;
    json_t *o = json_loadb(body ? body : "", body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return agent_json_error(status, 400, "malformed JSON: %s (line %d, column %d)", jerr.text,
                     jerr.line, jerr.column);
    svc s;
    char why[400];
    agent_lock(a);
    bool ok = parse_reg(&a->cfg, name, o, &s, why, sizeof why);
    unsigned st = ok ? (v->closing ? 503 : do_register(v, &s, true, why, sizeof why)) : 400;
    if (v->closing)
        snprintf(why, sizeof why, "the agent is shutting down");
    agent_unlock(a);
    json_decref(o);
    if (st != 0)
        return agent_json_error(status, st, "%s", why);
    json_t *r = value_json(&s);
    json_object_set_new(r, "registered", json_true());
    return r;
}
