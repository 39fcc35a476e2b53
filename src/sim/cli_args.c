/* cli_args.c -- argument checking shared by the gossip-sim subcommands. */
#include "sim/cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sim_usage_error(const char *cmd, const char *flag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gossip-sim %s: %s: ", cmd, flag);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(gossip-sim %s --help shows the options)\n", cmd);
    va_end(ap);
    return SIM_EXIT_USAGE;
}

bool sim_parse_u64(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = value;
    return true;
}

int sim_parse_range(const char *cmd, const char *flag, const char *text, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    uint64_t value;
    if (!sim_parse_u64(text, &value))
        return sim_usage_error(cmd, flag, "'%s' is not a non-negative integer", text);
    if (value < min || value > max)
        return sim_usage_error(cmd, flag, "%s is out of range %llu .. %llu", text,
                               (unsigned long long)min, (unsigned long long)max);
    *out = value;
    return 0;
}

int sim_parse_count(const char *cmd, const char *flag, const char *text, uint64_t min,
                    uint64_t max, uint32_t *out)
{
    uint64_t value = 0;
    int rc = sim_parse_range(cmd, flag, text, min, max, &value);
    if (rc == 0)
        *out = (uint32_t)value;
    return rc;
}

int sim_parse_seed(const char *cmd, const char *flag, const char *text, uint64_t *out)
{
    if (!sim_parse_u64(text, out))
        return sim_usage_error(cmd, flag, "'%s' is not an unsigned 64-bit integer", text);
    return 0;
}

int sim_parse_double(const char *cmd, const char *flag, const char *text, double *out)
{
    char *end;
    double value = strtod(text, &end); /* overflow gives inf; underflow ~0 is fine */
    if (end == text || *end != '\0' || !isfinite(value))
        return sim_usage_error(cmd, flag, "'%s' is not a number", text);
    *out = value;
    return 0;
}

int sim_flag_split(const char *cmd, const char *arg, char name[SIM_FLAG_MAX],
                   const char **value)
{
    const char *equals = strchr(arg, '=');
    size_t len = equals != NULL ? (size_t)(equals - arg) : strlen(arg);
    if (len >= SIM_FLAG_MAX)
        return sim_usage_error(cmd, arg, "unknown option");
    memcpy(name, arg, len);
    name[len] = '\0';
    *value = equals != NULL ? equals + 1 : NULL;
    return 0;
}

int sim_flag_value(const char *cmd, const char *flag, int argc, char **argv, int *i,
                   const char **value)
{
    if (*value != NULL)
        return 0;
    if (*i + 1 < argc) {
        *value = argv[++*i];
        return 0;
    }
    return sim_usage_error(cmd, flag, "missing value");
}

int sim_parse_flags(const char *cmd, int argc, char **argv, const sim_flag *flags,
                    size_t n_flags, bool *seen, bool *help, bool *json, sim_flag_apply *apply,
                    void *ctx)
{
    bool json_seen = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0)
            return sim_usage_error(cmd, arg, "unexpected argument");
        char name[SIM_FLAG_MAX];
        const char *value;
        int rc = sim_flag_split(cmd, arg, name, &value);
        if (rc != 0)
            return rc;
        size_t id = 0;
        while (id < n_flags && strcmp(flags[id].name, name) != 0)
            id++;
        bool is_json = id == n_flags && strcmp(name, "--json") == 0;
        if (id == n_flags && !is_json)
            return sim_usage_error(cmd, arg, "unknown option");
        bool *given = is_json ? &json_seen : &seen[id];
        if (*given)
            return sim_usage_error(cmd, name, "given twice");
        *given = true;
        if (!is_json && flags[id].takes_value)
            rc = sim_flag_value(cmd, name, argc, argv, &i, &value);
        else if (value != NULL)
            rc = sim_usage_error(cmd, name, "takes no value");
        if (rc != 0)
            return rc;
        if (is_json)
            *json = true;
        else if ((rc = apply(ctx, id, name, value)) != 0)
            return rc;
    }
    return 0;
}

uint32_t sim_default_threads(uint32_t max)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return 1;
    return cpus > (long)max ? max : (uint32_t)cpus;
}
