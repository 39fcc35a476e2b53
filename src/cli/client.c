/* client.c -- gossipctl's HTTP requests over libcurl. */
#include "cli/client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

/* A watch stream with no byte at all (the agent sends keepalive comments)
 * for this long is taken as a lost agent. */
#define CTL_STREAM_IDLE_S 120

int ctl_client_init(ctl_client *c, const char *addr, const char *token, char *err,
                    size_t err_len)
{
    memset(c, 0, sizeof *c);
    if (!addr || !*addr) {
        snprintf(err, err_len, "--http: empty address");
        return -1;
    }
    if (strlen(addr) >= sizeof c->shown) {
        snprintf(err, err_len, "--http: address too long");
        return -1;
    }
    snprintf(c->shown, sizeof c->shown, "%s", addr);
    if (strncmp(addr, "http://", 7) == 0 || strncmp(addr, "https://", 8) == 0) {
        snprintf(c->base, sizeof c->base, "%s", addr);
        size_t n = strlen(c->base);
        while (n > 0 && c->base[n - 1] == '/')
            c->base[--n] = '\0';
    } else {
        /* HOST:PORT or [V6]:PORT: a port is required. */
        const char *colon = strrchr(addr, ':');
        const char *close = strrchr(addr, ']');
        bool ok = colon && colon[1] != '\0' && colon != addr;
        if (ok && addr[0] == '[')
            ok = close && close + 1 == colon;
        else if (ok && strchr(addr, ':') != colon)
            ok = false; /* bare IPv6 without brackets */
        for (const char *p = colon ? colon + 1 : ""; ok && *p; p++)
            ok = *p >= '0' && *p <= '9';
        if (ok) {
            long port = strtol(colon + 1, NULL, 10);
            ok = port >= 1 && port <= 65535 && strlen(colon + 1) <= 5;
        }
        for (const char *p = addr; ok && *p; p++)
            ok = *p > ' ' && *p != '/' && *p != '?' && *p != '#' && *p != '@';
        if (!ok) {
            snprintf(err, err_len,
                     "--http: \"%s\" is not ADDR:PORT ([IPv6]:PORT, or an http:// URL)", addr);
            return -1;
        }
        snprintf(c->base, sizeof c->base, "http://%s", addr);
    }
    if (token && *token) {
        for (const char *p = token; *p; p++) {
            if (*p < 0x21 || *p > 0x7e) {
                snprintf(err, err_len, "--token: only printable ASCII without spaces");
                return -1;
            }
        }
        if (strlen(token) > 256) {
            snprintf(err, err_len, "--token: longer than 256 bytes");
            return -1;
        }
        snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", token);
    }
    return 0;
}

void ctl_response_free(ctl_response *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

/* ---- one request ---------------------------------------------------------- */

typedef struct sink {
    char *buf;
    size_t len, cap;
    bool too_big;
} sink;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    if (s->len + n + 1 > (size_t)CTL_MAX_RESPONSE) {
        s->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
            return 0;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static struct curl_slist *base_headers(const ctl_client *c, const char *content_type)
{
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (c->auth[0])
        h = curl_slist_append(h, c->auth);
    if (content_type) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        h = curl_slist_append(h, ct);
    }
    return h;
}

static CURL *new_handle(const ctl_client *c, const char *path, char *url, size_t url_len,
                        char *errbuf)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    snprintf(url, url_len, "%s%s", c->base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* the agent is never behind a proxy */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CTL_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gossipctl");
    errbuf[0] = '\0';
    return h;
}

/* Prints why the agent could not be reached. */
static void report_unreachable(const ctl_client *c, CURL *h, CURLcode rc, const char *errbuf)
{
    long os_errno = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    const char *why;
    char tmp[300];
    if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
        why = strerror((int)os_errno);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(tmp, sizeof tmp, "no answer in time (%s)", errbuf[0] ? errbuf : "timeout");
        why = tmp;
    } else {
        why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    }
    fprintf(stderr, "gossipctl: cannot reach the agent at %s: %s\n", c->shown, why);
}

int ctl_request(const ctl_client *c, const char *method, const char *path, const char *body,
                size_t body_len, const char *content_type, ctl_response *out)
{
    memset(out, 0, sizeof *out);
    char url[2048], errbuf[CURL_ERROR_SIZE];
    CURL *h = new_handle(c, path, url, sizeof url, errbuf);
    if (!h) {
        fprintf(stderr, "gossipctl: cannot set up libcurl\n");
        return CTL_EXIT_API;
    }
    struct curl_slist *hdr = base_headers(c, body ? content_type : NULL);
    sink s = {0};
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, CTL_REQUEST_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    if (strcmp(method, "GET") != 0) {
        if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
        } else {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
        if (body || strcmp(method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        }
    }
    CURLcode rc = curl_easy_perform(h);
    int exit_code = CTL_EXIT_OK;
    if (rc != CURLE_OK) {
        if (s.too_big) {
            fprintf(stderr, "gossipctl: the agent's answer is larger than %ld bytes\n",
                    CTL_MAX_RESPONSE);
            exit_code = CTL_EXIT_API;
        } else {
            report_unreachable(c, h, rc, errbuf);
            exit_code = CTL_EXIT_UNREACHABLE;
        }
        free(s.buf);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        if (!s.buf) {
            s.buf = calloc(1, 1);
            if (!s.buf) {
                fprintf(stderr, "gossipctl: out of memory\n");
                exit_code = CTL_EXIT_API;
            }
        }
        out->body = s.buf;
        out->len = s.len;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return exit_code;
}

/* The server's {"error": "..."} message, or the first line of the body. */
static void error_text(const char *body, size_t len, char *out, size_t out_len)
{
    out[0] = '\0';
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (j) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        if (msg)
            snprintf(out, out_len, "%s", msg);
        json_decref(j);
        if (out[0])
            return;
    }
    if (body && len) {
        size_t n = strcspn(body, "\r\n");
        if (n > 200)
            n = 200;
        snprintf(out, out_len, "%.*s", (int)n, body);
    }
}

static int report_status(const ctl_client *c, long status, const char *body, size_t len)
{
    char msg[512];
    error_text(body, len, msg, sizeof msg);
    if (!msg[0])
        snprintf(msg, sizeof msg, "request failed");
    fprintf(stderr, "gossipctl: %s (HTTP %ld)\n", msg, status);
    if (status == 401 && !c->auth[0])
        fprintf(stderr, "gossipctl: the agent wants a token: --token T or GOSSIP_HTTP_TOKEN\n");
    return CTL_EXIT_API;
}

int ctl_check(const ctl_client *c, const ctl_response *r)
{
    if (r->status >= 200 && r->status < 300)
        return CTL_EXIT_OK;
    return report_status(c, r->status, r->body, r->len);
}

/* ---- server-sent events ---------------------------------------------------- */

typedef struct stream {
    CURL *h;
    long status;       /* 0 until the first body byte */
    sink err;          /* the body of a non-2xx answer */
    char *line;        /* the partial line */
    size_t line_len, line_cap;
    bool line_too_long;
    char *data;        /* the frame's data lines joined by \n */
    size_t data_len, data_cap;
    char id[64], event[64];
    ctl_event_fn fn;
    void *ud;
    time_t last_byte;
    bool idle;         /* aborted for silence */
    bool nomem;
} stream;

static bool grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap : 256;
    while (nc < need)
        nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb)
        return false;
    *buf = nb;
    *cap = nc;
    return true;
}

/* One complete line of the stream (without its end of line). */
static void stream_line(stream *s, const char *line, size_t len)
{
    if (len == 0) { /* end of frame */
        if (s->data || s->event[0]) {
            if (!grow(&s->data, &s->data_cap, s->data_len + 1)) {
                s->nomem = true;
                return;
            }
            s->data[s->data_len] = '\0';
            s->fn(s->ud, s->id, s->event[0] ? s->event : "message", s->data);
        }
        s->data_len = 0;
        s->event[0] = '\0';
        if (s->data)
            s->data[0] = '\0';
        free(s->data);
        s->data = NULL;
        s->data_cap = 0;
        return;
    }
    if (line[0] == ':')
        return; /* a comment: keepalive */
    const char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *v = colon ? colon + 1 : line + len;
    size_t vlen = colon ? len - flen - 1 : 0;
    if (vlen && *v == ' ')
        v++, vlen--;
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        size_t need = s->data_len + (s->data ? 1 : 0) + vlen + 1;
        bool had = s->data != NULL;
        if (!grow(&s->data, &s->data_cap, need)) {
            s->nomem = true;
            return;
        }
        if (had && s->data_len)
            s->data[s->data_len++] = '\n';
        memcpy(s->data + s->data_len, v, vlen);
        s->data_len += vlen;
        s->data[s->data_len] = '\0';
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
        snprintf(s->event, sizeof s->event, "%.*s", (int)vlen, v);
    } else if (flen == 2 && memcmp(line, "id", 2) == 0) {
        snprintf(s->id, sizeof s->id, "%.*s", (int)vlen, v);
    }
    /* "retry" and unknown fields are ignored */
}

#define STREAM_MAX_LINE (16L * 1024 * 1024)

static size_t stream_write(char *data, size_t size, size_t nmemb, void *ud)
{
    stream *s = ud;
    size_t n = size * nmemb;
    s->last_byte = time(NULL);
    if (s->status == 0)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status < 200 || s->status >= 300)
        return sink_write(data, size, nmemb, &s->err);
    for (size_t i = 0; i < n; i++) {
        char ch = data[i];
        if (ch == '\n') {
            size_t len = s->line_len;
            if (len && s->line[len - 1] == '\r')
                len--;
            if (!s->line_too_long)
                stream_line(s, s->line ? s->line : "", len);
            s->line_len = 0;
            s->line_too_long = false;
            if (s->nomem)
                return 0;
            continue;
        }
        if (s->line_len + 2 > (size_t)STREAM_MAX_LINE) {
            s->line_too_long = true; /* drop the rest of an absurd line */
            continue;
        }
        if (!grow(&s->line, &s->line_cap, s->line_len + 2)) {
            s->nomem = true;
            return 0;
        }
        s->line[s->line_len++] = ch;
    }
    return n;
}

static int stream_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    stream *s = ud;
    if (s->last_byte && time(NULL) - s->last_byte > CTL_STREAM_IDLE_S) {
        s->idle = true;
        return 1; /* abort */
    }
    return 0;
}

int ctl_stream(const ctl_client *c, const char *path, ctl_event_fn on_event, void *ud)
{
    char url[2048], errbuf[CURL_ERROR_SIZE];
    CURL *h = new_handle(c, path, url, sizeof url, errbuf);
    if (!h) {
        fprintf(stderr, "gossipctl: cannot set up libcurl\n");
        return CTL_EXIT_API;
    }
    struct curl_slist *hdr = base_headers(c, NULL);
    hdr = curl_slist_append(hdr, "Accept: text/event-stream");
    stream s = {0};
    s.h = h;
    s.fn = on_event;
    s.ud = ud;
    s.last_byte = time(NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stream_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    CURLcode rc = curl_easy_perform(h);
    if (s.status == 0)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &s.status);

    int exit_code;
    if (s.status != 0 && (s.status < 200 || s.status >= 300) &&
        (rc == CURLE_OK || s.err.len)) {
        exit_code = report_status(c, s.status, s.err.buf, s.err.len);
    } else if (s.nomem) {
        fprintf(stderr, "gossipctl: out of memory\n");
        exit_code = CTL_EXIT_API;
    } else if (s.idle) {
        fprintf(stderr, "gossipctl: no data from the agent at %s for %d s; giving up\n",
                c->shown, CTL_STREAM_IDLE_S);
        exit_code = CTL_EXIT_UNREACHABLE;
    } else if (rc != CURLE_OK && s.status == 0) {
        report_unreachable(c, h, rc, errbuf);
        exit_code = CTL_EXIT_UNREACHABLE;
    } else if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING) {
        fprintf(stderr, "gossipctl: the agent at %s closed the event stream\n", c->shown);
        exit_code = CTL_EXIT_UNREACHABLE;
    } else if (rc != CURLE_OK) {
        fprintf(stderr, "gossipctl: lost the event stream from %s: %s\n", c->shown,
                errbuf[0] ? errbuf : curl_easy_strerror(rc));
        exit_code = CTL_EXIT_UNREACHABLE;
    } else {
        fprintf(stderr, "gossipctl: the agent at %s closed the event stream\n", c->shown);
        exit_code = CTL_EXIT_UNREACHABLE;
    }
    free(s.err.buf);
    free(s.line);
    free(s.data);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return exit_code;
}

int ctl_escape(const char *s, char *out, size_t out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
                     *p == '~';
        if (o + (plain ? 1 : 3) + 1 > out_len)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o + 1 > out_len)
        return -1;
    out[o] = '\0';
    return 0;
}

int ctl_call_json(const ctl_client *c, const char *method, const char *path, const char *body,
                  size_t body_len, const char *content_type, json_t **out)
{
    *out = NULL;
    ctl_response r;
    int rc = ctl_request(c, method, path, body, body_len, content_type, &r);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_check(c, &r);
    if (rc == CTL_EXIT_OK) {
        json_error_t e;
        *out = json_loadb(r.body, r.len, JSON_DECODE_ANY, &e);
        if (!*out) {
            fprintf(stderr, "gossipctl: the agent's answer is not JSON: %s\n", e.text);
            rc = CTL_EXIT_API;
        }
    }
    ctl_response_free(&r);
    return rc;
}

char *ctl_read_stdin(size_t max, size_t *len)
{
    char *buf = malloc(max + 1);
    if (!buf) {
        fprintf(stderr, "gossipctl: out of memory\n");
        return NULL;
    }
    size_t n = fread(buf, 1, max + 1, stdin);
    if (ferror(stdin) || n > max) {
        if (ferror(stdin))
            fprintf(stderr, "gossipctl: cannot read standard input\n");
        else
            fprintf(stderr, "gossipctl: the value on standard input is larger than %zu bytes\n",
                    max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
