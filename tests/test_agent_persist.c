/* test_agent_persist.c -- gossipd's data dir: round trip, atomic replace,
 * corrupt files moved aside and never loaded, the single-agent lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent_internal.h"

static void make_dir(char *out, size_t len)
{
    snprintf(out, len, "/tmp/gossip-persist-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void remove_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void test_missing_state_is_fresh(void **unused)
{
    char dir[64], err[256];
    make_dir(dir, sizeof dir);
    persist_state st;
    assert_int_equal(persist_load(dir, &st, err, sizeof err), 1);
    assert_int_equal(st.generation, 0);
    assert_int_equal(st.n_members, 0);
    remove_dir(dir);
}

static void test_round_trip(void **unused)
{
    char dir[64], err[256];
    make_dir(dir, sizeof dir);
    persist_state st = {.generation = 1764097200, .incarnation = 7, .n_members = 2};
    snprintf(st.members[0].name, sizeof st.members[0].name, "n1");
    snprintf(st.members[0].addr, sizeof st.members[0].addr, "127.0.0.1:7001");
    snprintf(st.members[1].name, sizeof st.members[1].name, "n2");
    snprintf(st.members[1].addr, sizeof st.members[1].addr, "[::1]:7002");
    assert_int_equal(persist_save(dir, &st, err, sizeof err), 0);
    assert_false(exists(dir, "state.json.tmp")); /* renamed into place */

    persist_state back;
    assert_int_equal(persist_load(dir, &back, err, sizeof err), 0);
    assert_int_equal(back.generation, 1764097200);
    assert_int_equal(back.incarnation, 7);
    assert_int_equal(back.n_members, 2);
    assert_string_equal(back.members[1].name, "n2");
    assert_string_equal(back.members[1].addr, "[::1]:7002");

    /* A second save replaces the first whole. */
    st.generation++;
    st.n_members = 0;
    assert_int_equal(persist_save(dir, &st, err, sizeof err), 0);
    assert_int_equal(persist_load(dir, &back, err, sizeof err), 0);
    assert_int_equal(back.generation, 1764097201);
    assert_int_equal(back.n_members, 0);
    remove_dir(dir);
}

/* Each of these is refused, moved aside, and leaves a zeroed state. */
static void test_corrupt_files_are_moved_aside(void **unused)
{
    static const char *bad[] = {
        "",                                                   /* empty (torn write) */
        "{\"format\":1,\"generation\":5,\"incarn",             /* truncated */
        "{\"format\":2,\"generation\":5,\"incarnation\":0,\"members\":[]}", /* future format */
        "{\"format\":1,\"generation\":-5,\"incarnation\":0,\"members\":[]}",
        ("{\"format\":1,\"generation\":5,\"incarnation\":0,\"members\":[{\"name\":\"x\","
         "\"addr\":\"not-an-address\"}]}"),
        "{\"format\":1,\"generation\":5,\"incarnation\":0,\"members\":[],\"extra\":1}",
        "[1,2,3]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[64], err[256] = "";
        make_dir(dir, sizeof dir);
        write_file(dir, "state.json", bad[i]);
        persist_state st;
        st.generation = 99;
        assert_int_equal(persist_load(dir, &st, err, sizeof err), -1);
        assert_int_equal(st.generation, 0);
        assert_non_null(strstr(err, "corrupt"));
        assert_true(exists(dir, "state.json.corrupt"));
        assert_false(exists(dir, "state.json"));
        remove_dir(dir);
    }
}

static void test_lock_refuses_second_agent(void **unused)
{
    char dir[64], err[256];
    make_dir(dir, sizeof dir);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/data", dir); /* created on demand */
    int fd1 = -1, fd2 = -1;
    assert_int_equal(persist_lock(sub, &fd1, err, sizeof err), 0);
    assert_int_equal(persist_lock(sub, &fd2, err, sizeof err), -1);
    assert_non_null(strstr(err, "--data-dir"));
    assert_non_null(strstr(err, "in use"));
    close(fd1);
    assert_int_equal(persist_lock(sub, &fd2, err, sizeof err), 0);
    close(fd2);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_state_is_fresh),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupt_files_are_moved_aside),
        cmocka_unit_test(test_lock_refuses_second_agent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
