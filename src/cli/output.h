/* output.h -- gossipctl's human output: the member table, key: value
 * listings and one line per watched event. */
#ifndef GOSSIP_CLI_OUTPUT_H
#define GOSSIP_CLI_OUTPUT_H

#include <stdio.h>

#include <jansson.h>

/* Pretty JSON (2-space indent, the server's key order) and a newline. */
void out_json(FILE *f, const json_t *j);

/* The members array as an aligned table: NAME ADDR STATUS GEN INC PHI TAGS,
 * sorted by name. */
void out_members_table(FILE *f, const json_t *members);

/* An object as "key: value" lines; nested objects as "outer.inner: value". */
void out_key_values(FILE *f, const json_t *obj);

/* One watched event: "TIME TYPE NAME ADDR k=v ..." (TIME in UTC, ms). */
void out_event_line(FILE *f, const char *event, const char *data);

#endif
