/* output.c -- gossipctl's human output. */
#include "cli/output.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void out_json(FILE *f, const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, f);
        fputc('\n', f);
        free(s);
    }
}

/* ---- scalars as text ---------------------------------------------------------- */

/* Writes a scalar (or compact JSON for containers) into buf. */
static void scalar_text(const json_t *v, char *buf, size_t len)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        snprintf(buf, len, "%s", json_string_value(v));
        break;
    case JSON_INTEGER:
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(buf, len, "%g", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(buf, len, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, len, "false");
        break;
    case JSON_NULL:
        snprintf(buf, len, "-");
        break;
    default: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        snprintf(buf, len, "%s", s ? s : "?");
        free(s);
        break;
    }
    }
}

/* ---- the member table ------------------------------------------------------------ */

enum { COL_NAME, COL_ADDR, COL_STATUS, COL_GEN, COL_INC, COL_PHI, COL_TAGS, N_COLS };
static const char *const col_title[N_COLS] = {"NAME", "ADDR",  "STATUS", "GEN",
                                              "INC",  "PHI", "TAGS"};

typedef struct row {
    char *cell[N_COLS];
} row;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v,k2=v2" with sorted keys, or "-". */
static char *tags_text(const json_t *tags)
{
    size_t n = json_is_object(tags) ? json_object_size(tags) : 0;
    if (n == 0)
        return strdup("-");
    const char **keys = calloc(n, sizeof *keys);
    if (!keys)
        return strdup("?");
    size_t i = 0, total = 1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tags, k, v) {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof *keys, cmp_key);
    char vb[512];
    for (i = 0; i < n; i++) {
        scalar_text(json_object_get(tags, keys[i]), vb, sizeof vb);
        total += strlen(keys[i]) + strlen(vb) + 2;
    }
    char *out = malloc(total);
    if (out) {
        char *p = out;
        for (i = 0; i < n; i++) {
            scalar_text(json_object_get(tags, keys[i]), vb, sizeof vb);
            p += sprintf(p, "%s%s=%s", i ? "," : "", keys[i], vb);
        }
        *p = '\0';
    }
    free(keys);
    return out ? out : strdup("?");
}

static int cmp_row(const void *a, const void *b)
{
    const row *x = a, *y = b;
    return strcmp(x->cell[COL_NAME], y->cell[COL_NAME]);
}

void out_members_table(FILE *f, const json_t *members)
{
    size_t n = json_is_array(members) ? json_array_size(members) : 0;
    row *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows)
        return;
    size_t width[N_COLS];
    for (int c = 0; c < N_COLS; c++)
        width[c] = strlen(col_title[c]);
    char buf[512];
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(members, i);
        const json_t *phi = json_object_get(m, "phi");
        for (int c = 0; c < N_COLS; c++) {
            switch (c) {
            case COL_NAME: scalar_text(json_object_get(m, "name"), buf, sizeof buf); break;
            case COL_ADDR: scalar_text(json_object_get(m, "addr"), buf, sizeof buf); break;
            case COL_STATUS: scalar_text(json_object_get(m, "status"), buf, sizeof buf); break;
            case COL_GEN: scalar_text(json_object_get(m, "generation"), buf, sizeof buf); break;
            case COL_INC: scalar_text(json_object_get(m, "incarnation"), buf, sizeof buf); break;
            case COL_PHI:
                if (json_is_number(phi))
                    snprintf(buf, sizeof buf, "%.2f", json_number_value(phi));
                else
                    snprintf(buf, sizeof buf, "-");
                break;
            default: buf[0] = '\0'; break;
            }
            rows[i].cell[c] = c == COL_TAGS ? tags_text(json_object_get(m, "tags")) : strdup(buf);
            if (!rows[i].cell[c])
                rows[i].cell[c] = strdup("");
            if (rows[i].cell[c] && strlen(rows[i].cell[c]) > width[c])
                width[c] = strlen(rows[i].cell[c]);
        }
    }
    qsort(rows, n, sizeof *rows, cmp_row);
    for (int c = 0; c < N_COLS; c++) {
        if (c == N_COLS - 1)
            fprintf(f, "%s\n", col_title[c]);
        else if (c == COL_GEN || c == COL_INC || c == COL_PHI)
            fprintf(f, "%*s  ", (int)width[c], col_title[c]);
        else
            fprintf(f, "%-*s  ", (int)width[c], col_title[c]);
    }
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < N_COLS; c++) {
            const char *cell = rows[i].cell[c] ? rows[i].cell[c] : "";
            if (c == N_COLS - 1)
                fprintf(f, "%s\n", cell);
            else if (c == COL_GEN || c == COL_INC || c == COL_PHI)
                fprintf(f, "%*s  ", (int)width[c], cell);
            else
                fprintf(f, "%-*s  ", (int)width[c], cell);
            free(rows[i].cell[c]);
        }
    }
    free(rows);
}

/* ---- key: value ---------------------------------------------------------------------- */

static void kv_walk(FILE *f, const char *prefix, const json_t *v)
{
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *k;
        json_t *item;
        json_object_foreach((json_t *)v, k, item) {
            size_t len = strlen(prefix) + strlen(k) + 2;
            char *p = malloc(len);
            if (!p)
                return;
            snprintf(p, len, "%s%s%s", prefix, prefix[0] ? "." : "", k);
            kv_walk(f, p, item);
            free(p);
        }
        return;
    }
    if (json_is_array(v)) {
        bool scalars = true;
        size_t i;
        json_t *item;
        json_array_foreach((json_t *)v, i, item) {
            if (json_is_object(item) || json_is_array(item))
                scalars = false;
        }
        if (scalars) {
            fprintf(f, "%s:", prefix);
            char buf[1024];
            json_array_foreach((json_t *)v, i, item) {
                scalar_text(item, buf, sizeof buf);
                fprintf(f, "%s%s", i ? ", " : " ", buf);
            }
            if (json_array_size(v) == 0)
                fprintf(f, " -");
            fputc('\n', f);
            return;
        }
    }
    if (json_is_object(v)) { /* empty */
        fprintf(f, "%s: -\n", prefix);
        return;
    }
    if (json_is_string(v)) {
        fprintf(f, "%s: %s\n", prefix, json_string_value(v));
        return;
    }
    char *buf = malloc(65536);
    if (!buf)
        return;
    scalar_text(v, buf, 65536);
    fprintf(f, "%s: %s\n", prefix, buf);
    free(buf);
}

void out_key_values(FILE *f, const json_t *obj)
{
    if (!json_is_object(obj)) {
        out_json(f, obj);
        return;
    }
    kv_walk(f, "", obj);
}

/* ---- watch ------------------------------------------------------------------------------ */

/* A logfmt value: quoted when it holds spaces, quotes or '='. */
static void put_value(FILE *f, const char *s)
{
    bool quote = *s == '\0';
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            quote = true;
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if ((unsigned char)*p < 0x20)
            fprintf(f, "\\x%02x", (unsigned char)*p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_time(FILE *f, uint64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char ts[32];
    if (ms && gmtime_r(&s, &tm) && strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm))
        fprintf(f, "%s.%03uZ", ts, (unsigned)(ms % 1000));
    else
        fputs("-", f);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void out_event_line(FILE *f, const char *event, const char *data)
{
    json_t *j = data && *data ? json_loads(data, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        /* Not an object (e.g. a bare "lost" frame): show what came. */
        put_time(f, now_ms());
        fprintf(f, " %s", event);
        if (data && *data) {
            fputc(' ', f);
            put_value(f, data);
        }
        fputc('\n', f);
        json_decref(j);
        return;
    }
    const json_t *t = json_object_get(j, "time_ms");
    put_time(f, json_is_integer(t) ? (uint64_t)json_integer_value(t) : now_ms());
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type || strcmp(event, "message") != 0)
        type = event;
    fprintf(f, " %s", type);
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *addr = json_string_value(json_object_get(j, "addr"));
    if (name) {
        fputc(' ', f);
        put_value(f, name);
    }
    if (addr) {
        fputc(' ', f);
        put_value(f, addr);
    }
    const char *k;
    json_t *v;
    char buf[1024];
    json_object_foreach(j, k, v) {
        if (!strcmp(k, "seq") || !strcmp(k, "time_ms") || !strcmp(k, "type") ||
            !strcmp(k, "name") || !strcmp(k, "addr"))
            continue;
        const char *shown = !strcmp(k, "generation") ? "gen"
                            : !strcmp(k, "incarnation") ? "inc"
                                                        : k;
        scalar_text(v, buf, sizeof buf);
        fprintf(f, " %s=", shown);
        put_value(f, buf);
    }
    fputc('\n', f);
    json_decref(j);
}
