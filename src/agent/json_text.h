/* json_text.h -- network text and values as valid JSON (json_text.c). */
#ifndef GOSSIP_AGENT_JSON_TEXT_H
#define GOSSIP_AGENT_JSON_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* True when the n bytes at s are valid UTF-8. */
bool agent_utf8_valid(const uint8_t *s, size_t n);
/* A JSON string of s; invalid UTF-8 bytes become U+FFFD; NULL -> null. */
json_t *agent_json_text(const char *s);
/* An application-state value: a JSON string when it is UTF-8, else
 * {"base64": "..."}; NULL when out of memory. */
json_t *agent_json_value(const uint8_t *v, size_t n);

/* Decimal digits only, no sign or blanks, within 64 bits. */
bool agent_parse_u64(const char *s, uint64_t *out);
/* {"error": message} from a format and its arguments. */
json_t *agent_json_verror(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* {"error": message} for an API answer; *status gets `code`. */
json_t *agent_json_error(unsigned *status, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
