/* handlers.c -- event handler scripts (--handler 'member-join,member-failed=/path').
 *
 * Each matching event becomes a job: the script runs with the event in
 * environment variables (GOSSIP_EVENT, GOSSIP_MEMBER_NAME, ...) and the
 * event's JSON on stdin.  At most handler_max_running scripts run at once,
 * at most handler_queue jobs wait (beyond that new events are dropped and
 * counted), and a script still running after handler_timeout_ms is killed.
 * Everything is asynchronous on the loop: a slow or failing script never
 * blocks the agent.
 *
 * Coalescing (Serf's coalesce and quiescent periods, off by default): an
 * event that may be coalesced waits in a pending slot keyed by what it is
 * about -- a member's status, a member's state key, a user event's name.  A
 * newer event for the same slot replaces it (counted as coalesced); the slot
 * goes to the handlers when its period since the first event ends, or
 * earlier when no newer event came for the quiescent period.  Watchers of
 * /v1/watch always see every event. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"

#define ENV_SLOTS 16

struct handler_job {
    handlers *h;
    const agent_handler *handler;
    agent_event ev;               /* ev.json owned by the job */
    uv_process_t proc;
    uv_pipe_t stdin_pipe;
    uv_timer_t timer;
    uv_write_t write_req;
    int handles_open;
    bool exited, timed_out, succeeded;
    /* A "query" job answers with its stdout (at most max_event_size bytes). */
    bool query, out_eof;
    uv_pipe_t stdout_pipe;
    uint8_t *out;
    size_t out_len;
    handler_job *next;
};

void handlers_init(handlers *h, agent *a)
{
    memset(h, 0, sizeof *h);
    h->a = a;
}

static void job_free(handler_job *j)
{
    free(j->ev.json);
    free(j->out);
    free(j);
}

static void job_on_closed(uv_handle_t *hd)
{
    handler_job *j = hd->data;
    if (--j->handles_open == 0)
        job_free(j);
}

static void unlink_running(handlers *h, handler_job *j)
{
    for (handler_job **pp = &h->running; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            h->n_running--;
            return;
        }
}

static void start_next(handlers *h);

static void job_finish(handler_job *j)
{
    handlers *h = j->h;
    if (j->query && j->succeeded && !j->timed_out && !h->closing) {
        while (j->out_len > 0 && j->out[j->out_len - 1] == '\n')
            j->out_len--; /* like $(...): the final newlines are not the answer */
        query_respond(h->a, j->ev.json, j->out, j->out_len);
    }
    unlink_running(h, j);
    uv_close((uv_handle_t *)&j->proc, job_on_closed);
    uv_close((uv_handle_t *)&j->timer, job_on_closed);
    if (!uv_is_closing((uv_handle_t *)&j->stdin_pipe))
        uv_close((uv_handle_t *)&j->stdin_pipe, job_on_closed);
    if (j->query && !uv_is_closing((uv_handle_t *)&j->stdout_pipe))
        uv_close((uv_handle_t *)&j->stdout_pipe, job_on_closed);
    if (!h->closing)
        start_next(h);
}

static void job_on_exit(uv_process_t *p, int64_t status, int signal)
{
    handler_job *j = p->data;
    agent *a = j->h->a;
    char esc[2 * AGENT_MAX_PATH];
    agent_lock(a);
    j->exited = true;
    if (j->timed_out) {
        j->h->stats.timed_out++;
    } else if (status == 0 && signal == 0) {
        j->h->stats.succeeded++;
        j->succeeded = true;
    } else {
        j->h->stats.failed++;
        agent_log(a, GOSSIP_LOG_WARN,
                  "msg=\"handler failed\" handler=\"%s\" event=%s member=%s exit=%" PRId64
                  " signal=%d", agent_logfmt_escape(j->handler->path, esc, sizeof esc), agent_event_name(j->ev.type), j->ev.name,
                  status, signal);
    }
    if (!j->query || j->out_eof || j->timed_out)
        job_finish(j); /* a query job also waits for the end of its stdout */
    agent_unlock(a);
}

static void job_out_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    handler_job *j = hd->data;
    size_t cap = j->h->a->cfg.max_event_size;
    *buf = uv_buf_init((char *)j->out + j->out_len, (unsigned)(cap + 1 - j->out_len));
}

static void job_on_out(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    handler_job *j = s->data;
    agent *a = j->h->a;
    agent_lock(a);
    if (nread > 0)
        j->out_len += (size_t)nread;
    if (j->out_len > a->cfg.max_event_size) { /* too long an answer: truncated */
        j->out_len = a->cfg.max_event_size;
        nread = UV_EOF;
    }
    if (nread < 0 && !j->out_eof) {
        j->out_eof = true;
        uv_read_stop(s);
        if (j->exited)
            job_finish(j);
    }
    agent_unlock(a);
}

static void job_on_timeout(uv_timer_t *t)
{
    handler_job *j = t->data;
    agent *a = j->h->a;
    agent_lock(a);
    j->timed_out = true;
    char esc[2 * AGENT_MAX_PATH];
    agent_log(a, GOSSIP_LOG_WARN, "msg=\"handler timed out; killing it\" handler=\"%s\" event=%s "
              "timeout_ms=%u", agent_logfmt_escape(j->handler->path, esc, sizeof esc), agent_event_name(j->ev.type),
              a->cfg.handler_timeout_ms);
    uv_process_kill(&j->proc, SIGKILL);
    agent_unlock(a);
}

static void job_on_written(uv_write_t *w, int status)
{
    handler_job *j = w->data;
    /* Done with stdin either way (a script that ignores it may close early). */
    if (!uv_is_closing((uv_handle_t *)&j->stdin_pipe))
        uv_close((uv_handle_t *)&j->stdin_pipe, job_on_closed);
}

static void env_add(char **env, size_t *n, char (*store)[GOSSIP_MAX_ADDR + 96], const char *k,
                    const char *v)
{
    snprintf(store[*n], sizeof store[*n], "%s=%s", k, v);
    env[*n] = store[*n];
    (*n)++;
}

static void job_start(handlers *h, handler_job *j)
{
    agent *a = h->a;
    char store[ENV_SLOTS][GOSSIP_MAX_ADDR + 96];
    char *env[ENV_SLOTS + 1];
    size_t n = 0;
    char num[32];
    const char *path = getenv("PATH");
    env_add(env, &n, store, "PATH", path && strlen(path) < 80 ? path : "/usr/bin:/bin");
    env_add(env, &n, store, "GOSSIP_EVENT", agent_event_name(j->ev.type));
    env_add(env, &n, store, "GOSSIP_SELF_NAME", a->cfg.name);
    env_add(env, &n, store, "GOSSIP_MEMBER_NAME", j->ev.name);
    env_add(env, &n, store, "GOSSIP_MEMBER_ADDR", j->ev.addr);
    env_add(env, &n, store, "GOSSIP_MEMBER_STATUS", j->ev.status);
    snprintf(num, sizeof num, "%" PRIu64, j->ev.generation);
    env_add(env, &n, store, "GOSSIP_MEMBER_GENERATION", num);
    snprintf(num, sizeof num, "%" PRIu64, j->ev.incarnation);
    env_add(env, &n, store, "GOSSIP_MEMBER_INCARNATION", num);
    snprintf(num, sizeof num, "%" PRIu64, j->ev.seq);
    env_add(env, &n, store, "GOSSIP_EVENT_SEQ", num);
    if (j->ev.key[0])
        env_add(env, &n, store, "GOSSIP_EVENT_KEY", j->ev.key);
    env[n] = NULL;

    char *args[3] = {(char *)j->handler->path, (char *)agent_event_name(j->ev.type), NULL};
    uv_pipe_init(&a->loop, &j->stdin_pipe, 0);
    uv_timer_init(&a->loop, &j->timer);
    j->stdin_pipe.data = j->timer.data = j->proc.data = j;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&j->stdin_pipe;
    stdio[1].flags = UV_INHERIT_FD; /* the script's output joins our log stream */
    stdio[1].data.fd = 2;
    if (j->ev.type == AGENT_EV_QUERY) /* its stdout is the answer */
        j->out = malloc((size_t)a->cfg.max_event_size + 1);
    j->query = j->out != NULL;
    if (j->query) {
        uv_pipe_init(&a->loop, &j->stdout_pipe, 0);
        j->stdout_pipe.data = j;
        stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[1].data.stream = (uv_stream_t *)&j->stdout_pipe;
    }
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t opt = {0};
    opt.file = j->handler->path;
    opt.args = args;
    opt.env = env;
    opt.exit_cb = job_on_exit;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    int rc = uv_spawn(&a->loop, &j->proc, &opt);
    j->handles_open = j->query ? 4 : 3;
    if (rc != 0) {
        h->stats.failed++;
        char esc[2 * AGENT_MAX_PATH];
        agent_log(a, GOSSIP_LOG_WARN, "msg=\"handler did not start\" handler=\"%s\" err=\"%s\"",
                  agent_logfmt_escape(j->handler->path, esc, sizeof esc), uv_strerror(rc));
        uv_close((uv_handle_t *)&j->proc, job_on_closed);
        uv_close((uv_handle_t *)&j->timer, job_on_closed);
        uv_close((uv_handle_t *)&j->stdin_pipe, job_on_closed);
        if (j->query)
            uv_close((uv_handle_t *)&j->stdout_pipe, job_on_closed);
        return;
    }
    if (j->query)
        uv_read_start((uv_stream_t *)&j->stdout_pipe, job_out_alloc, job_on_out);
    h->stats.started++;
    j->next = h->running;
    h->running = j;
    h->n_running++;
    uv_timer_start(&j->timer, job_on_timeout, a->cfg.handler_timeout_ms, 0);
    /* The JSON (and a newline) to stdin; the buffer lives in the job. */
    size_t len = strlen(j->ev.json);
    j->ev.json[len] = '\n';
    j->ev.json[len + 1] = '\0'; /* still a string: a query job parses it again */
    uv_buf_t b = uv_buf_init(j->ev.json, (unsigned)len + 1);
    j->write_req.data = j;
    if (uv_write(&j->write_req, (uv_stream_t *)&j->stdin_pipe, &b, 1, job_on_written) != 0)
        uv_close((uv_handle_t *)&j->stdin_pipe, job_on_closed);
}

static void start_next(handlers *h)
{
    while (h->queue_head && h->n_running < h->a->cfg.handler_max_running) {
        handler_job *j = h->queue_head;
        h->queue_head = j->next;
        if (!h->queue_head)
            h->queue_tail = NULL;
        h->queued--;
        j->next = NULL;
        job_start(h, j);
    }
}

/* Queues a job per handler that wants the event (drops, counted, when the
 * queue is full).  Takes nothing from ev: the jobs get copies. */
static void enqueue(handlers *h, const agent_event *ev)
{
    const agent_config *c = &h->a->cfg;
    for (size_t i = 0; i < c->n_handlers && !h->closing; i++) {
        if (!(c->handlers[i].events & (1u << ev->type)))
            continue;
        if (h->queued >= c->handler_queue) {
            h->stats.dropped++;
            continue;
        }
        handler_job *j = calloc(1, sizeof *j);
        size_t len = strlen(ev->json);
        char *json = j ? malloc(len + 2) : NULL; /* room for the newline */
        if (!json) {
            free(j);
            h->stats.dropped++;
            continue;
        }
        memcpy(json, ev->json, len + 1);
        j->h = h;
        j->handler = &c->handlers[i];
        j->ev = *ev;
        j->ev.json = json;
        if (h->queue_tail)
            h->queue_tail->next = j;
        else
            h->queue_head = j;
        h->queue_tail = j;
        h->queued++;
    }
}

/* ---- coalescing ------------------------------------------------------------------ */

static bool wanted(const handlers *h, const agent_event *ev)
{
    const agent_config *c = &h->a->cfg;
    for (size_t i = 0; i < c->n_handlers; i++)
        if (c->handlers[i].events & (1u << ev->type))
            return true;
    return false;
}

/* The event's periods (0: handled at once). */
static void periods(const handlers *h, const agent_event *ev, uint32_t *period,
                    uint32_t *quiet)
{
    const agent_config *c = &h->a->cfg;
    *period = *quiet = 0;
    if (ev->type == AGENT_EV_USER) {
        if (ev->coalesce) {
            *period = c->user_coalesce_period_ms;
            *quiet = c->user_quiescent_period_ms;
        }
    } else if (ev->type != AGENT_EV_QUERY) {
        *period = c->coalesce_period_ms;
        *quiet = c->quiescent_period_ms;
    }
}

static bool is_status(enum agent_event_type t)
{
    return t != AGENT_EV_USER && t != AGENT_EV_QUERY && t != AGENT_EV_MEMBER_UPDATE;
}

/* Two events share a slot: the same member's status, the same member's
 * state key, or the same user event name. */
static bool same_slot(const agent_event *x, const agent_event *y)
{
    if (x->type == AGENT_EV_USER || y->type == AGENT_EV_USER)
        return x->type == y->type && strcmp(x->key, y->key) == 0;
    if (strcmp(x->name, y->name) != 0)
        return false;
    if (is_status(x->type) || is_status(y->type))
        return is_status(x->type) && is_status(y->type);
    return strcmp(x->key, y->key) == 0;
}

static void release(handlers *h, size_t i)
{
    enqueue(h, &h->pending[i].ev);
    free(h->pending[i].ev.json);
    h->pending[i] = h->pending[--h->n_pending];
}

static uint64_t slot_due(const coalesce_slot *s)
{
    return s->quiet_at && s->quiet_at < s->flush_at ? s->quiet_at : s->flush_at;
}

static void on_coalesce_timer(uv_timer_t *t);

/* Loop thread: hands what is due to the handlers, arms the timer for the
 * rest. */
static void coalesce_pump(handlers *h)
{
    if (h->closing || h->n_pending == 0)
        return;
    uint64_t now = agent_now_ms(h->a), next;
    for (;;) { /* the earliest due first, so slots reach handlers in order */
        size_t first = 0;
        for (size_t i = 1; i < h->n_pending; i++)
            if (slot_due(&h->pending[i]) < slot_due(&h->pending[first]))
                first = i;
        if (h->n_pending == 0)
            return;
        next = slot_due(&h->pending[first]);
        if (next > now)
            break;
        release(h, first);
    }
    if (!h->timer_open) {
        uv_timer_init(&h->a->loop, &h->coalesce_timer);
        h->coalesce_timer.data = h;
        h->timer_open = true;
    }
    uv_timer_start(&h->coalesce_timer, on_coalesce_timer, next - now, 0);
}

/* Keeps the event for its coalesce period; false: handle it now.  An event
 * no handler wants only replaces what its slot holds (a member that failed
 * and came back within the period is not reported failed). */
static bool coalesce(handlers *h, const agent_event *ev, bool wanted_now)
{
    uint32_t period, quiet;
    periods(h, ev, &period, &quiet);
    if (period == 0)
        return false;
    uint64_t now = agent_now_ms(h->a);
    for (size_t i = 0; i < h->n_pending; i++) {
        coalesce_slot *s = &h->pending[i];
        if (!same_slot(&s->ev, ev))
            continue;
        /* The newest stays: by Lamport time for user events (anti-entropy
         * may bring an older one late), by arrival for member events. */
        if (ev->type == AGENT_EV_USER && ev->ltime < s->ev.ltime) {
            h->stats.coalesced++;
            return true;
        }
        char *json = strdup(ev->json);
        if (!json)
            return false; /* no memory to replace it: this one goes through */
        h->stats.coalesced++;
        free(s->ev.json);
        s->ev = *ev;
        s->ev.json = json;
        s->quiet_at = quiet ? now + quiet : 0;
        return true;
    }
    if (!wanted_now)
        return true; /* nothing held for it and nobody wants it */
    if (h->pending == NULL) {
        h->pending = calloc(h->a->cfg.handler_queue, sizeof *h->pending);
        if (!h->pending)
            return false;
    }
    if (h->n_pending == h->a->cfg.handler_queue)
        return false; /* every slot busy: no waiting for this one */
    char *json = strdup(ev->json);
    if (!json)
        return false;
    coalesce_slot *s = &h->pending[h->n_pending++];
    s->ev = *ev;
    s->ev.json = json;
    s->flush_at = now + period;
    s->quiet_at = quiet ? now + quiet : 0;
    return true;
}

static void on_coalesce_timer(uv_timer_t *t)
{
    handlers *h = t->data;
    agent_lock(h->a);
    coalesce_pump(h);
    start_next(h);
    agent_unlock(h->a);
}

/* ---- dispatch -------------------------------------------------------------------- */

void handlers_dispatch(handlers *h, const agent_event *ev)
{
    if (h->closing)
        return;
    bool want = wanted(h, ev);
    if (coalesce(h, ev, want)) {
        /* held, replaced or (unwanted, nothing held) let go */
    } else if (want) {
        /* One that may not wait goes after what its slot holds: in order. */
        for (size_t i = 0; i < h->n_pending; i++)
            if (same_slot(&h->pending[i].ev, ev)) {
                release(h, i);
                break;
            }
        enqueue(h, ev);
    }
    /* Processes are spawned and timers armed by the loop thread only; an
     * event raised on an HTTP thread (a state write, a user event, a
     * force-leave) wakes the loop for it. */
    if (agent_on_loop(h->a)) {
        coalesce_pump(h);
        start_next(h);
    } else {
        agent_wake(h->a);
    }
}

void handlers_kick(handlers *h)
{
    if (h->closing)
        return;
    coalesce_pump(h);
    start_next(h);
}

void handlers_get_stats(const handlers *h, agent_handler_stats *out)
{
    *out = h->stats;
    out->running = h->n_running;
    out->queued = h->queued;
    out->pending = h->n_pending;
}

void handlers_flush(handlers *h)
{
    while (h->n_pending > 0 && !h->closing)
        release(h, 0);
    if (!h->closing)
        start_next(h);
}

void handlers_close(handlers *h)
{
    h->closing = true;
    while (h->queue_head) {
        handler_job *j = h->queue_head;
        h->queue_head = j->next;
        job_free(j);
    }
    h->queue_tail = NULL;
    h->queued = 0;
    h->stats.dropped += h->n_pending; /* a stopping agent runs no more handlers */
    for (size_t i = 0; i < h->n_pending; i++)
        free(h->pending[i].ev.json);
    free(h->pending);
    h->pending = NULL;
    h->n_pending = 0;
    if (h->timer_open && !uv_is_closing((uv_handle_t *)&h->coalesce_timer))
        uv_close((uv_handle_t *)&h->coalesce_timer, NULL);
    for (handler_job *j = h->running; j; j = j->next)
        uv_process_kill(&j->proc, SIGKILL); /* their exit callbacks close them */
}
