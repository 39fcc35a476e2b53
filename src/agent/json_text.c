/* json_text.c -- text from the network as JSON that is always valid:
 * names and addresses with invalid UTF-8 repaired, application-state values
 * as strings when they are UTF-8 and {"base64": ...} otherwise.  Shared by
 * the HTTP API and the event stream so both spell a value the same way. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/json_text.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool agent_utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* A JSON string of text that came from the network: invalid UTF-8 bytes
 * become U+FFFD, so the answer is always valid JSON. */
json_t *agent_json_text(const char *s)
{
    if (!s)
        return json_null();
    size_t n = strlen(s);
    if (agent_utf8_valid((const uint8_t *)s, n))
        return json_stringn(s, n);
    char *fixed = malloc(n * 3 + 1);
    if (!fixed)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

static char *base64(const uint8_t *v, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t x = (uint32_t)v[i] << 16 | (uint32_t)v[i + 1] << 8 | v[i + 2];
        out[o++] = tab[x >> 18];
        out[o++] = tab[(x >> 12) & 63];
        out[o++] = tab[(x >> 6) & 63];
        out[o++] = tab[x & 63];
    }
    if (i < n) {
        uint32_t x = (uint32_t)v[i] << 16 | (i + 1 < n ? (uint32_t)v[i + 1] << 8 : 0);
        out[o++] = tab[x >> 18];
        out[o++] = tab[(x >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(x >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

/* An app-state value: a JSON string when it is UTF-8, else {"base64": ...}. */
json_t *agent_json_value(const uint8_t *v, size_t n)
{
    if (!v)
        n = 0;
    if (agent_utf8_valid(v, n))
        return json_stringn((const char *)(n ? v : (const uint8_t *)""), n);
    char *b = base64(v, n);
    if (!b)
        return NULL;
    json_t *j = json_pack("{s:s}", "base64", b);
    free(b);
    return j;
}


bool agent_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

json_t *agent_json_verror(const char *fmt, va_list ap)
{
    char msg[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *o = json_object();
    json_object_set_new(o, "error", agent_json_text(msg));
    return o;
}

json_t *agent_json_error(unsigned *status, unsigned code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *o = agent_json_verror(fmt, ap);
    va_end(ap);
    *status = code;
    return o;
}
