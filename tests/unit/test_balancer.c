/*
 * test_balancer.c - status= letters, the manager's status names, error
 * state with its log line, pick reason names and the clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "balancer.h"
#include "log.h"

/*
 * The error log goes to a scratch file, which the tests read back:
 * error_logs counts the "is in error state" lines, last_log holds the
 * last line written.
 */
static char log_path[] = "/tmp/test_balancer_log.XXXXXX";
static char last_log[2048];
static int error_logs;

static int open_scratch_log(void **state)
{
    char err[256];
    int fd = mkstemp(log_path);

    if (fd < 0)
        return -1;
    close(fd);
    log_current_level = LOG_LEVEL_DEBUG;
    return log_open_error(log_path, err, sizeof(err));
}

static int remove_scratch_log(void **state)
{
    char err[256];

    log_open_error(NULL, err, sizeof(err));
    unlink(log_path);
    return 0;
}

static void read_log(void)
{
    char line[2048];
    FILE *f = fopen(log_path, "r");

    assert_non_null(f);
    error_logs = 0;
    last_log[0] = '\0';
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, "is in error state") != NULL)
            error_logs++;
        snprintf(last_log, sizeof(last_log), "%s", line);
    }
    fclose(f);
}

static void reset_log(void)
{
    assert_int_equal(truncate(log_path, 0), 0);
    read_log();
}

static struct balancer *make_balancer(size_t n)
{
    struct balancer *b = calloc(1, sizeof(*b));
    size_t i;

    assert_non_null(b);
    b->name = strdup("balancer://cluster");
    b->members = calloc(n, sizeof(*b->members));
    b->nmembers = n;
    for (i = 0; i < n; i++) {
        struct member *m = calloc(1, sizeof(*m));
        char name[64];

        snprintf(name, sizeof(name), "http://10.0.0.%zu", i + 1);
        m->name = strdup(name);
        m->route = strdup("");
        m->redirect = strdup("");
        m->loadfactor = 100;
        m->retry_ms = 60000;
        b->members[i] = m;
    }
    assert_int_equal(balancer_init_runtime(b), 0);
    return b;
}

static unsigned parse_ok(const char *text, unsigned start)
{
    const char *error = NULL;
    unsigned flags = start;

    assert_int_equal(member_parse_status(text, &flags, &error), 0);
    return flags;
}

static const char *parse_error(const char *text)
{
    const char *error = NULL;
    unsigned flags = 0;

    assert_int_equal(member_parse_status(text, &flags, &error), -1);
    assert_non_null(error);
    assert_int_equal(flags, 0);
    return error;
}

static void test_status_letters(void **state)
{
    assert_int_equal(parse_ok("D", 0), MEMBER_DISABLED);
    assert_int_equal(parse_ok("S", 0), MEMBER_STOPPED);
    assert_int_equal(parse_ok("I", 0), MEMBER_IGNORE_ERRORS);
    assert_int_equal(parse_ok("H", 0), MEMBER_HOT_STANDBY);
    assert_int_equal(parse_ok("R", 0), MEMBER_HOT_SPARE);
    assert_int_equal(parse_ok("E", 0), MEMBER_IN_ERROR);
    assert_int_equal(parse_ok("N", 0), MEMBER_DRAIN);
    assert_int_equal(parse_ok("C", 0), MEMBER_HC_FAILED);
}

static void test_status_case_and_signs(void **state)
{
    assert_int_equal(parse_ok("d", 0), MEMBER_DISABLED);
    assert_int_equal(parse_ok("+h", 0), MEMBER_HOT_STANDBY);
    assert_int_equal(parse_ok("DH", 0), MEMBER_DISABLED | MEMBER_HOT_STANDBY);
    assert_int_equal(parse_ok("+D+H", 0),
                     MEMBER_DISABLED | MEMBER_HOT_STANDBY);
    assert_int_equal(parse_ok("-E", MEMBER_IN_ERROR | MEMBER_DRAIN),
                     MEMBER_DRAIN);
    /* The documentation's example: S set, E cleared. */
    assert_int_equal(parse_ok("S-E", MEMBER_IN_ERROR), MEMBER_STOPPED);
    /* As in Apache, a sign holds for the letters after it. */
    assert_int_equal(parse_ok("-EH", MEMBER_IN_ERROR | MEMBER_HOT_STANDBY
                                     | MEMBER_DISABLED), MEMBER_DISABLED);
    assert_int_equal(parse_ok("-E+N", MEMBER_IN_ERROR), MEMBER_DRAIN);
}

static void test_status_errors(void **state)
{
    assert_non_null(strstr(parse_error("X"), "'X'"));
    assert_non_null(strstr(parse_error("DQ"), "'Q'"));
    assert_non_null(strstr(parse_error("+"), "'+'"));
    assert_non_null(strstr(parse_error("D-"), "'-'"));
    assert_non_null(strstr(parse_error("+-D"), "'+'"));
    assert_non_null(strstr(parse_error("D H"), "' '"));
    assert_non_null(strstr(parse_error("\x01"), "0x01"));
    assert_non_null(strstr(parse_error(""), "DSIHRENC"));
    /* Apache's internal letters are not ours. */
    assert_non_null(strstr(parse_error("G"), "'G'"));
}

static void test_status_string(void **state)
{
    char buf[128];

    member_status_string(0, buf, sizeof(buf));
    assert_string_equal(buf, "Ok");
    member_status_string(MEMBER_DISABLED, buf, sizeof(buf));
    assert_string_equal(buf, "Dis");
    member_status_string(MEMBER_IN_ERROR | MEMBER_HOT_STANDBY, buf,
                         sizeof(buf));
    assert_string_equal(buf, "Err Stby");
    member_status_string(MEMBER_DRAIN | MEMBER_IGNORE_ERRORS, buf,
                         sizeof(buf));
    assert_string_equal(buf, "Ign Drn Ok");
    member_status_string(MEMBER_HOT_SPARE, buf, sizeof(buf));
    assert_string_equal(buf, "Spar Ok");
    member_status_string(MEMBER_STOPPED | MEMBER_HC_FAILED, buf,
                         sizeof(buf));
    assert_string_equal(buf, "Stop HcFl");

    /* Truncated, but terminated. */
    member_status_string(MEMBER_IN_ERROR | MEMBER_HOT_STANDBY, buf, 5);
    assert_int_equal(strlen(buf), 4);
    member_status_string(0, buf, 0);
}

static void test_pick_reason_names(void **state)
{
    assert_string_equal(pick_reason_name(PICK_STICKY), "sticky");
    assert_string_equal(pick_reason_name(PICK_REDIRECT), "redirect");
    assert_string_equal(pick_reason_name(PICK_LBMETHOD), "lbmethod");
    assert_string_equal(pick_reason_name(PICK_FAILOVER), "failover");
    assert_string_equal(pick_reason_name(PICK_STANDBY), "standby");
    assert_string_equal(pick_reason_name(PICK_RETRY), "retry");
    assert_string_equal(pick_reason_name(PICK_NONE), "none");
    assert_string_equal(pick_reason_name((enum pick_reason)99), "none");
}

static void test_now_ms(void **state)
{
    int64_t a = balancer_now_ms();
    int64_t b = balancer_now_ms();

    assert_true(a > 0);
    assert_true(b >= a);
}

static void test_init_runtime(void **state)
{
    struct balancer *b = make_balancer(2);

    b->members[1]->initial_status = MEMBER_HOT_STANDBY;
    pthread_mutex_destroy(&b->lock);
    assert_int_equal(balancer_init_runtime(b), 0);
    assert_int_equal(atomic_load(&b->members[1]->status),
                     MEMBER_HOT_STANDBY);
    assert_ptr_equal(b->members[1]->balancer, b);
    assert_int_equal(b->members[1]->index, 1);
    balancer_free(b);
}

static void test_set_error_logs_once(void **state)
{
    struct balancer *b = make_balancer(2);
    struct member *m = b->members[0];

    reset_log();
    assert_true(member_set_error(m, "connection refused"));
    read_log();
    assert_int_equal(error_logs, 1);
    assert_non_null(strstr(last_log, "[proxy:error]"));
    assert_non_null(strstr(last_log,
                           "member http://10.0.0.1 in balancer://cluster is "
                           "in error state for 60 s: connection refused; "
                           "1 of 2 members left"));

    assert_false(member_set_error(m, "connection refused"));
    read_log();
    assert_int_equal(error_logs, 1);

    /* Back from error, it logs again at the next failure. */
    assert_true(member_is_usable(m, atomic_load(&m->error_time_ms) + 60000));
    m->retry_ms = 1500;
    assert_true(member_set_error(m, "timed out"));
    read_log();
    assert_int_equal(error_logs, 2);
    assert_non_null(strstr(last_log, "for 1500 ms: timed out"));
    balancer_free(b);
}

static void test_set_error_ignore_errors(void **state)
{
    struct balancer *b = make_balancer(1);
    struct member *m = b->members[0];

    reset_log();
    atomic_store(&m->status, MEMBER_IGNORE_ERRORS);
    assert_false(member_set_error(m, "refused"));
    read_log();
    assert_int_equal(error_logs, 0);
    assert_int_equal(atomic_load(&m->status), MEMBER_IGNORE_ERRORS);
    assert_int_equal(atomic_load(&m->errors), 1);
    balancer_free(b);
}

static void test_usable(void **state)
{
    struct balancer *b = make_balancer(1);
    struct member *m = b->members[0];
    int64_t now = balancer_now_ms();
    unsigned flags[] = { MEMBER_DISABLED, MEMBER_STOPPED, MEMBER_HC_FAILED };
    size_t i;

    assert_true(member_is_usable(m, now));
    for (i = 0; i < 3; i++) {
        atomic_store(&m->status, flags[i]);
        assert_false(member_is_usable(m, now));
    }
    atomic_store(&m->status, MEMBER_DRAIN | MEMBER_HOT_STANDBY
                             | MEMBER_HOT_SPARE);
    assert_true(member_is_usable(m, now));

    /* Stopped and in error: never retried. */
    atomic_store(&m->status, MEMBER_STOPPED | MEMBER_IN_ERROR);
    assert_false(member_is_usable(m, now + 3600000));
    assert_true(atomic_load(&m->status) & MEMBER_IN_ERROR);
    balancer_free(b);
}

static void test_force_recovery(void **state)
{
    struct balancer *b = make_balancer(2);
    int64_t now = balancer_now_ms();

    b->forcerecovery = true;
    assert_false(balancer_force_recovery(b, now));

    member_set_error(b->members[0], "x");
    assert_false(balancer_force_recovery(b, now));
    member_set_error(b->members[1], "x");
    assert_true(balancer_force_recovery(b, now));
    assert_int_equal(atomic_load(&b->members[0]->status), 0);
    assert_int_equal(atomic_load(&b->members[1]->status), 0);

    b->forcerecovery = false;
    member_set_error(b->members[0], "x");
    member_set_error(b->members[1], "x");
    assert_false(balancer_force_recovery(b, now));
    balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_letters),
        cmocka_unit_test(test_status_case_and_signs),
        cmocka_unit_test(test_status_errors),
        cmocka_unit_test(test_status_string),
        cmocka_unit_test(test_pick_reason_names),
        cmocka_unit_test(test_now_ms),
        cmocka_unit_test(test_init_runtime),
        cmocka_unit_test(test_set_error_logs_once),
        cmocka_unit_test(test_set_error_ignore_errors),
        cmocka_unit_test(test_usable),
        cmocka_unit_test(test_force_recovery),
    };

    return cmocka_run_group_tests(tests, open_scratch_log,
                                  remove_scratch_log);
}
