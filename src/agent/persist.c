/* persist.c -- what gossipd keeps in its data dir across restarts: the last
 * generation (the next run uses a higher one), this member's incarnation,
 * and the members it knew (seeds for rejoining without --join).
 *
 * state.json is replaced atomically: write state.json.tmp, fsync it, rename
 * over state.json, fsync the directory.  A crash leaves the old file or the
 * new one, never a mix.  A file that does not parse is moved aside to
 * state.json.corrupt (kept for inspection) and the agent starts fresh; the
 * generation stays monotonic anyway because it is at least the epoch
 * second.  LOCK (flock) keeps a second gossipd off the same data dir. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent_internal.h"

#define STATE_FILE "state.json"
#define STATE_FORMAT 1

static int path_join(char *out, size_t out_len, const char *dir, const char *file)
{
    int n = snprintf(out, out_len, "%s/%s", dir, file);
    return n > 0 && (size_t)n < out_len ? 0 : -1;
}

int persist_lock(const char *dir, int *fd_out, char *err, size_t err_len)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "--data-dir: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[AGENT_MAX_PATH + 16];
    if (path_join(path, sizeof path, dir, "LOCK") != 0) {
        snprintf(err, err_len, "--data-dir: path too long");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "--data-dir: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        snprintf(err, err_len, "--data-dir: %s is in use by another gossipd (pid %s)", dir,
                 pid[0] ? pid : "unknown");
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* The lock holds; only the pid hint for the message above is missing. */
    }
    *fd_out = fd;
    return 0;
}

static int parse_state(json_t *root, persist_state *st, char *err, size_t err_len)
{
    json_int_t format = 0, generation = -1, incarnation = -1, event_ltime = 0;
    json_t *members = NULL;
    json_error_t je;
    if (json_unpack_ex(root, &je, JSON_STRICT, "{s:I,s:I,s:I,s:o,s?I}", "format", &format,
                       "generation", &generation, "incarnation", &incarnation, "members",
                       &members, "event_ltime", &event_ltime) != 0) {
        snprintf(err, err_len, "%s", je.text);
        return -1;
    }
    if (format != STATE_FORMAT || generation < 0 || incarnation < 0 || event_ltime < 0 ||
        !json_is_array(members)) {
        snprintf(err, err_len, "unknown format or negative numbers");
        return -1;
    }
    st->generation = (uint64_t)generation;
    st->incarnation = (uint64_t)incarnation;
    st->event_ltime = (uint64_t)event_ltime;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        const char *name, *addr;
        struct sockaddr_storage ss;
        if (json_unpack(m, "{s:s,s:s}", "name", &name, "addr", &addr) != 0 ||
            strlen(name) > GOSSIP_MAX_NAME || strlen(addr) > GOSSIP_MAX_ADDR ||
            transport_parse_addr(addr, &ss) != 0) {
            snprintf(err, err_len, "member %zu is malformed", i);
            return -1;
        }
        if (st->n_members == PERSIST_MAX_MEMBERS)
            break;
        persist_member *pm = &st->members[st->n_members++];
        snprintf(pm->name, sizeof pm->name, "%s", name);
        snprintf(pm->addr, sizeof pm->addr, "%s", addr);
    }
    return 0;
}

int persist_load(const char *dir, persist_state *st, char *err, size_t err_len)
{
    memset(st, 0, sizeof *st);
    char path[AGENT_MAX_PATH + 32];
    if (path_join(path, sizeof path, dir, STATE_FILE) != 0) {
        snprintf(err, err_len, "path too long");
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    char why[256];
    int rc = -1;
    if (!root)
        snprintf(why, sizeof why, "line %d: %s", je.line, je.text);
    else
        rc = parse_state(root, st, why, sizeof why);
    json_decref(root);
    if (rc == 0)
        return 0;
    memset(st, 0, sizeof *st);
    char aside[AGENT_MAX_PATH + 48];
    snprintf(aside, sizeof aside, "%s.corrupt", path);
    int moved = rename(path, aside);
    snprintf(err, err_len, "%s is corrupt (%s); %s", path, why,
             moved == 0 ? "moved aside to state.json.corrupt" : "could not move it aside");
    return -1;
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

int persist_save(const char *dir, const persist_state *st, char *err, size_t err_len)
{
    json_t *members = json_array();
    for (size_t i = 0; i < st->n_members; i++)
        json_array_append_new(members, json_pack("{s:s,s:s}", "name", st->members[i].name,
                                                 "addr", st->members[i].addr));
    json_t *root = json_pack("{s:i,s:I,s:I,s:I,s:o}", "format", STATE_FORMAT, "generation",
                             (json_int_t)st->generation, "incarnation",
                             (json_int_t)st->incarnation, "event_ltime",
                             (json_int_t)st->event_ltime, "members", members);
    char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    if (!text) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    char path[AGENT_MAX_PATH + 32], tmp[AGENT_MAX_PATH + 48];
    if (path_join(path, sizeof path, dir, STATE_FILE) != 0 ||
        path_join(tmp, sizeof tmp, dir, STATE_FILE ".tmp") != 0) {
        free(text);
        snprintf(err, err_len, "path too long");
        return -1;
    }
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && write_all(fd, text, strlen(text)) == 0 && write_all(fd, "\n", 1) == 0 &&
        fsync(fd) == 0 && close(fd) == 0) {
        fd = -1;
        if (rename(tmp, path) == 0) {
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            rc = dfd >= 0 && fsync(dfd) == 0 ? 0 : -1;
            if (dfd >= 0)
                close(dfd);
        }
    }
    if (rc != 0)
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}
