/* test_client_limits.c - RequestReadTimeout parsing and deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "client_limits.h"

static void test_defaults(void **state)
{
    struct client_limits l;

    limits_defaults(&l);
    assert_int_equal(l.header.initial_ms, 20000);
    assert_int_equal(l.header.max_ms, 40000);
    assert_int_equal(l.header.min_rate, 500);
    assert_int_equal(l.body.initial_ms, 20000);
    assert_int_equal(l.body.max_ms, 0);
    assert_true(l.keepalive);
    assert_int_equal(l.keepalive_timeout_ms, 5000);
    assert_int_equal(l.max_body, 1073741824);
}

static void test_parse(void **state)
{
    struct client_limits l;
    char err[200];

    limits_defaults(&l);
    assert_int_equal(limits_parse_read_timeout("header=10-30,MinRate=100",
                                               &l, err, sizeof(err)), 0);
    assert_int_equal(l.header.initial_ms, 10000);
    assert_int_equal(l.header.max_ms, 30000);
    assert_int_equal(l.header.min_rate, 100);
    assert_int_equal(limits_parse_read_timeout("BODY=0", &l, err,
                                               sizeof(err)), 0);
    assert_int_equal(l.body.initial_ms, 0);
    assert_int_equal(l.body.min_rate, 0);
    assert_int_equal(limits_parse_read_timeout("body=5,minrate=1", &l, err,
                                               sizeof(err)), 0);
    assert_int_equal(l.body.min_rate, 1);

    static const char *const bad[] = {
        "header", "header=", "header=x", "header=5-", "header=5-4,MinRate=1",
        "header=5-9", "header=5,MinRate=", "header=5,MinRate=0",
        "header=5,Rate=1", "header=5 ", "handshake=5", "header=86401",
        "header=99999999999999999999", "body=-1", "header=5,MinRate=1x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct client_limits before;

        limits_defaults(&l);
        before = l;
        err[0] = '\0';
        assert_int_equal(limits_parse_read_timeout(bad[i], &l, err,
                                                   sizeof(err)), -1);
        assert_true(err[0] != '\0');
        assert_memory_equal(&l, &before, sizeof(l));
    }
}

static void test_deadline(void **state)
{
    struct read_timeout t = { 20000, 40000, 500 };
    struct read_timeout plain = { 10000, 0, 0 };
    struct read_timeout off = { 0, 0, 0 };
    struct read_timeout unbounded = { 20000, 0, 500 };

    assert_int_equal(limits_read_deadline(&t, 1000, 0), 21000);
    assert_int_equal(limits_read_deadline(&t, 1000, 499), 21000);
    assert_int_equal(limits_read_deadline(&t, 1000, 500), 22000);
    assert_int_equal(limits_read_deadline(&t, 1000, 100000), 41000);
    assert_int_equal(limits_read_deadline(&plain, 5, 1 << 20), 10005);
    assert_int_equal(limits_read_deadline(&off, 5, 0), 0);
    assert_int_equal(limits_read_deadline(&unbounded, 0, UINT64_MAX),
                     20000 + (int64_t)86400 * 1000);
}

static void test_clients(void **state)
{
    assert_true(limits_client_enter(2));
    assert_true(limits_client_enter(2));
    assert_false(limits_client_enter(2));
    assert_true(limits_client_enter(0));     /* no limit */
    limits_client_leave();
    limits_client_leave();
    assert_true(limits_client_enter(2));
    limits_client_leave();
    limits_client_leave();
}

static void test_nofile(void **state)
{
    assert_true(limits_raise_nofile() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_clients),
        cmocka_unit_test(test_nofile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
