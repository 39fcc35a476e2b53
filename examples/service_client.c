/* service_client.c -- a program that embeds libgossip and registers a
 * service with a gossipd cluster, without any agent on its host.
 *
 *   example_service_client --name NAME --bind IP:PORT --join IP:PORT
 *                          --service SVC --port P [--tag T]... [--seconds N]
 *
 * libgossip is sans-I/O: it never opens a socket or reads a clock.  This
 * program does both itself -- one UDP socket, poll() and CLOCK_MONOTONIC --
 * and feeds the engine: datagrams in (gossip_node_recv), time in
 * (gossip_node_tick at gossip_node_next_deadline), datagrams out (the send
 * callback, a plain sendto).  It joins the cluster through the gossip
 * address of any agent (--join) and becomes a member like the agents are.
 *
 * The service is its application-state key "svc.SVC" with the JSON value
 * gossipd's service discovery reads (docs/services.md):
 *   {"name":"SVC","port":P,"tags":[...],"status":"passing"}
 * so every agent lists it in GET /v1/services within a gossip round or two,
 * and drops it when this program leaves (SIGINT/SIGTERM: a graceful leave)
 * or dies (SIGKILL: once the cluster declares it dead).
 *
 * Build: part of the CMake build (target example_service_client), or by hand
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L examples/service_client.c \
 *      $(pkg-config --cflags --libs gossip) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gossip/gossip.h>

#define MAX_TAGS 16

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The engine's clock: ms since the program started (never 0). */
static uint64_t now_ms(void)
{
    static struct timespec t0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t0.tv_sec == 0 && t0.tv_nsec == 0)
        t0 = t;
    return (uint64_t)(t.tv_sec - t0.tv_sec) * 1000u +
           (uint64_t)((t.tv_nsec - t0.tv_nsec) / 1000000L) + 1u;
}

/* "a.b.c.d:PORT" or "[v6]:PORT" to a socket address. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[GOSSIP_MAX_ADDR + 1];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return -1;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return -1;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
}

/* The other way round, for the engine's from_addr. */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t out_len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip);
        snprintf(out, out_len, "[%s]:%u", ip, (unsigned)ntohs(a6->sin6_port));
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof ip);
        snprintf(out, out_len, "%s:%u", ip, (unsigned)ntohs(a4->sin_port));
    }
}

/* The engine's send callback: one datagram to a member's address. */
static void send_datagram(void *ud, const char *addr, const uint8_t *buf, size_t len)
{
    int fd = *(int *)ud;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(addr, &ss, &sl) != 0)
        return; /* not an address we can reach */
    (void)sendto(fd, buf, len, 0, (const struct sockaddr *)&ss, sl);
}

static void on_change(void *ud, const gossip_change *c)
{
    (void)ud;
    if (c->kind == GOSSIP_CHANGE_JOIN || c->kind == GOSSIP_CHANGE_DEAD ||
        c->kind == GOSSIP_CHANGE_LEFT)
        fprintf(stderr, "service_client: member %s %s\n", c->name,
                c->kind == GOSSIP_CHANGE_JOIN ? "joined"
                : c->kind == GOSSIP_CHANGE_DEAD ? "is dead" : "left");
}

static int usage(const char *why)
{
    fprintf(stderr,
            "service_client: %s\n"
            "usage: example_service_client --name NAME --bind IP:PORT --join IP:PORT\n"
            "                              --service SVC --port P [--tag T]... [--seconds N]\n",
            why);
    return 2;
}

/* True when s can go into a JSON string as it is (no quote, backslash or control). */
static int json_string_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    const char *name = NULL, *bind_addr = NULL, *join = NULL, *service = NULL;
    const char *tags[MAX_TAGS];
    int n_tags = 0;
    long port = 0, seconds = 0;
    for (int i = 1; i < argc; i += 2) { /* --option value pairs */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage("every option takes a value");
        if (strcmp(a, "--name") == 0)
            name = v;
        else if (strcmp(a, "--bind") == 0)
            bind_addr = v;
        else if (strcmp(a, "--join") == 0)
            join = v;
        else if (strcmp(a, "--service") == 0)
            service = v;
        else if (strcmp(a, "--port") == 0)
            port = strtol(v, NULL, 10);
        else if (strcmp(a, "--seconds") == 0)
            seconds = strtol(v, NULL, 10);
        else if (strcmp(a, "--tag") == 0 && n_tags < MAX_TAGS)
            tags[n_tags++] = v;
        else
            return usage("unknown option (or too many --tag)");
    }
    if (!name || !bind_addr || !join || !service)
        return usage("--name, --bind, --join and --service are required");
    if (port < 1 || port > 65535)
        return usage("--port must be 1..65535");
    if (strlen(service) > 48 || !json_string_ok(service))
        return usage("--service: 1..48 plain characters");

    /* The socket: plain UDP, non-blocking reads driven by poll(). */
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(bind_addr, &ss, &sl) != 0)
        return usage("--bind must be IP:PORT or [IPv6]:PORT");
    int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        fprintf(stderr, "service_client: cannot bind %s: %s\n", bind_addr, strerror(errno));
        return 1;
    }

    /* The engine. */
    gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = name;
    cfg.addr = bind_addr;
    cfg.generation = (uint64_t)time(NULL); /* epoch seconds, like gossipd */
    cfg.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    cfg.gossip_interval_ms = 200;
    cfg.probe_interval_ms = 500;
    cfg.probe_timeout_ms = 250;
    cfg.rumor_fanout = 3;
    cfg.max_value_size = 1144;
    gossip_callbacks cb = {GOSSIP_CALLBACKS_VERSION, send_datagram, on_change, NULL};
    gossip_node *node;
    int rc = gossip_node_new(&node, &cfg, &cb, &fd);
    if (rc != 0) {
        fprintf(stderr, "service_client: gossip_node_new: %s\n", gossip_strerror(rc));
        return 1;
    }

    /* The service: this member's "svc.NAME" state key. */
    char key[GOSSIP_MAX_KEY + 1], value[1024];
    snprintf(key, sizeof key, "svc.%s", service);
    int n = snprintf(value, sizeof value, "{\"name\":\"%s\",\"port\":%ld,\"tags\":[", service, port);
    for (int i = 0; i < n_tags && n > 0 && (size_t)n < sizeof value; i++) {
        if (!json_string_ok(tags[i]))
            return usage("--tag: plain characters only");
        n += snprintf(value + n, sizeof value - (size_t)n, "%s\"%s\"", i ? "," : "", tags[i]);
    }
    if (n > 0 && (size_t)n < sizeof value)
        n += snprintf(value + n, sizeof value - (size_t)n, "],\"status\":\"passing\"}");
    if (n <= 0 || (size_t)n >= sizeof value)
        return usage("the service's JSON is too long");
    if ((rc = gossip_node_set_state(node, GOSSIP_KEY_ADDRESS, (const uint8_t *)bind_addr,
                                    strlen(bind_addr))) != 0 ||
        (rc = gossip_node_set_state(node, key, (const uint8_t *)value, (size_t)n)) != 0) {
        fprintf(stderr, "service_client: cannot set %s: %s\n", key, gossip_strerror(rc));
        return 1;
    }
    if ((rc = gossip_node_contact(node, join, now_ms())) != 0) {
        fprintf(stderr, "service_client: cannot contact %s: %s\n", join, gossip_strerror(rc));
        return 1;
    }
    fprintf(stderr, "service_client: %s at %s, joining %s, registered %s = %s\n", name,
            bind_addr, join, key, value);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* The loop: wait for a datagram or the engine's next deadline. */
    uint64_t end = seconds > 0 ? now_ms() + (uint64_t)seconds * 1000u : UINT64_MAX;
    int leaving = 0;
    static uint8_t buf[65536];
    while (!(leaving && gossip_node_has_left(node))) {
        uint64_t now = now_ms();
        if (!leaving && (stop_requested || now >= end)) {
            fprintf(stderr, "service_client: leaving\n");
            gossip_node_leave(node, now);
            leaving = 1;
        }
        if (gossip_node_next_deadline(node) <= now)
            gossip_node_tick(node, now);
        uint64_t next = gossip_node_next_deadline(node);
        int wait = next == UINT64_MAX ? 1000 : next > now ? (int)(next - now) : 0;
        if (wait > 1000)
            wait = 1000;
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0 && (pfd.revents & POLLIN)) {
            struct sockaddr_storage from;
            socklen_t fl = sizeof from;
            ssize_t got = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (got > 0) {
                char from_text[GOSSIP_MAX_ADDR + 1];
                format_addr(&from, from_text, sizeof from_text);
                gossip_node_recv(node, from_text, buf, (size_t)got, now_ms());
            }
        }
    }
    gossip_node_free(node);
    close(fd);
    return 0;
}
