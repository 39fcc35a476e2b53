/* client.h -- gossipctl's HTTP side (libcurl): one request and its answer,
 * the server-sent-event stream of /v1/watch, and the exit codes. */
#ifndef GOSSIP_CLI_CLIENT_H
#define GOSSIP_CLI_CLIENT_H

#include <stddef.h>

#include <jansson.h>

/* Exit codes. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_API = 1,         /* the agent answered with an error (or nonsense) */
    CTL_EXIT_USAGE = 2,       /* bad command line */
    CTL_EXIT_UNREACHABLE = 3, /* no answer from the agent */
};

#define CTL_CONNECT_TIMEOUT_MS 2000L
#define CTL_REQUEST_TIMEOUT_MS 10000L
#define CTL_MAX_RESPONSE (256L * 1024 * 1024)

typedef struct ctl_client {
    char base[600];  /* "http://127.0.0.1:7947" */
    char shown[512]; /* the address as the user gave it, for messages */
    char auth[320];  /* "Authorization: Bearer T", or "" */
} ctl_client;

/* Sets up the client for ADDR:PORT, [V6]:PORT, HOST:PORT or an http:// URL.
 * Returns 0, or -1 with a message in err. */
int ctl_client_init(ctl_client *c, const char *addr, const char *token, char *err,
                    size_t err_len);

typedef struct ctl_response {
    long status;
    char *body; /* NUL-terminated (owned) */
    size_t len;
} ctl_response;

void ctl_response_free(ctl_response *r);

/* One request.  body may be NULL (no body).  Returns CTL_EXIT_OK with *out
 * filled whatever the HTTP status, or CTL_EXIT_UNREACHABLE after printing
 * "gossipctl: cannot reach the agent at ADDR: REASON". */
int ctl_request(const ctl_client *c, const char *method, const char *path, const char *body,
                size_t body_len, const char *content_type, ctl_response *out);

/* For a status that is not 2xx: prints "gossipctl: MESSAGE (HTTP N)" and
 * returns CTL_EXIT_API; returns CTL_EXIT_OK for 2xx. */
int ctl_check(const ctl_client *c, const ctl_response *r);

/* Streams GET path as server-sent events, calling on_event for every frame
 * (comments are skipped).  Returns the exit code when the stream ends. */
typedef void (*ctl_event_fn)(void *ud, const char *id, const char *event, const char *data);
int ctl_stream(const ctl_client *c, const char *path, ctl_event_fn on_event, void *ud);

/* Percent-encodes s for a URL path segment or query value into out. */
int ctl_escape(const char *s, char *out, size_t out_len);

/* One request whose 2xx answer is JSON: *out gets it parsed (NULL, with the
 * message printed, on an error status, an unreachable agent or an answer
 * that is not JSON).  Returns the exit code. */
int ctl_call_json(const ctl_client *c, const char *method, const char *path, const char *body,
                  size_t body_len, const char *content_type, json_t **out);

/* Standard input whole, NUL-terminated (its length in *len), at most max
 * bytes; NULL with the reason printed ("gossipctl: ...") otherwise. */
char *ctl_read_stdin(size_t max, size_t *len);

#endif
