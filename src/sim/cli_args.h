/*
 * cli_args.h -- argument checking shared by the gossip-sim subcommands.
 *
 * A bad argument is reported on stderr as
 *
 *     gossip-sim CMD: FLAG: what is wrong
 *     (gossip-sim CMD --help shows the options)
 *
 * and the functions that report one return SIM_EXIT_USAGE, so a caller can
 * `return sim_parse_count(...)`; they return 0 when all is well.
 */
#ifndef GOSSIP_SIM_CLI_ARGS_H
#define GOSSIP_SIM_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_EXIT_USAGE 2
#define SIM_FLAG_MAX 32 /* longer than any flag we know */

/* Prints the message above for CMD and FLAG; returns SIM_EXIT_USAGE. */
__attribute__((format(printf, 3, 4)))
int sim_usage_error(const char *cmd, const char *flag, const char *fmt, ...);

/* Decimal digits only: no sign, no blanks, no trailing text.  Reports
 * nothing: false when TEXT is not such a number or does not fit. */
bool sim_parse_u64(const char *text, uint64_t *out);

/* An integer in MIN .. MAX, else a usage error naming FLAG. */
int sim_parse_range(const char *cmd, const char *flag, const char *text, uint64_t min,
                    uint64_t max, uint64_t *out);

/* The same into 32 bits: MAX must not exceed UINT32_MAX. */
int sim_parse_count(const char *cmd, const char *flag, const char *text, uint64_t min,
                    uint64_t max, uint32_t *out);

/* An unsigned 64-bit seed (sim_parse_u64), else a usage error. */
int sim_parse_seed(const char *cmd, const char *flag, const char *text, uint64_t *out);

/* A finite number (strtod syntax, all of TEXT), else a usage error; the
 * caller checks the range, which differs from flag to flag. */
int sim_parse_double(const char *cmd, const char *flag, const char *text, double *out);

/* Splits ARG, "--flag" or "--flag=value", into NAME and *VALUE (the text
 * after '=', or NULL).  A name too long for NAME is an unknown option. */
int sim_flag_split(const char *cmd, const char *arg, char name[SIM_FLAG_MAX],
                   const char **value);

/* The value of FLAG: *VALUE if it came with '=', else argv[*i + 1] (and
 * *i moves past it), else a "missing value" usage error. */
int sim_flag_value(const char *cmd, const char *flag, int argc, char **argv, int *i,
                   const char **value);

/* One option of a subcommand: "--name VALUE" or "--name=VALUE" when
 * TAKES_VALUE, else a switch ("--name" alone). */
typedef struct sim_flag {
    const char *name;
    bool takes_value;
} sim_flag;

/* Applies option ID of the table, named FLAG, with its VALUE (NULL for a
 * switch) to CTX.  Returns 0, or what sim_usage_error returns. */
typedef int sim_flag_apply(void *ctx, size_t id, const char *flag, const char *value);

/*
 * The argument loop of every subcommand, over argv[1 .. argc-1]:
 *
 *   --help, -h      *HELP = true; stops there (the rest is not read)
 *   --json          *JSON = true
 *   FLAGS[id]       SEEN[id] = true and APPLY(CTX, id, name, value)
 *
 * Arguments are read in order and the first problem is reported, checked
 * in this order: "ARG: unexpected argument" (ARG does not start with
 * "--"), "ARG: unknown option", "FLAG: given twice" (--json too), "FLAG:
 * missing value", "FLAG: takes no value" (a switch given "=VALUE"), then
 * whatever APPLY reports.  SEEN has N_FLAGS entries, false on entry; the
 * caller reads it afterwards for its required and conflicting flags.
 * Returns 0 or SIM_EXIT_USAGE.
 */
int sim_parse_flags(const char *cmd, int argc, char **argv, const sim_flag *flags,
                    size_t n_flags, bool *seen, bool *help, bool *json, sim_flag_apply *apply,
                    void *ctx);

/* The online CPUs, 1 .. MAX: the default worker thread count. */
uint32_t sim_default_threads(uint32_t max);

#endif
