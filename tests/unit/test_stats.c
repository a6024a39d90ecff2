/*
 * test_stats.c - per-member statistics: bucketing, quantiles, the ring of
 * seconds, shards merged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static struct member_stats *new_stats(void)
{
    struct member_stats *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    return s;
}

static void test_bucket_of(void **state)
{
    (void)state;
    assert_int_equal(stats_bucket_of(0), 0);
    assert_int_equal(stats_bucket_of(100), 0);      /* le is inclusive */
    assert_int_equal(stats_bucket_of(101), 1);
    assert_int_equal(stats_bucket_of(250), 1);
    assert_int_equal(stats_bucket_of(999), 3);
    assert_int_equal(stats_bucket_of(1000), 3);
    assert_int_equal(stats_bucket_of(10000000), STATS_NBUCKETS - 2);
    assert_int_equal(stats_bucket_of(10000001), STATS_NBUCKETS - 1);
    assert_int_equal(stats_bucket_of(INT64_MAX), STATS_NBUCKETS - 1);
}

static void test_bounds_ascend(void **state)
{
    int k;

    (void)state;
    for (k = 1; k < STATS_NBUCKETS - 1; k++)
        assert_true(stats_bucket_le_us[k] > stats_bucket_le_us[k - 1]);
}

static void test_quantile(void **state)
{
    uint64_t b[STATS_NBUCKETS] = { 0 };

    (void)state;
    assert_true(stats_quantile(b, 0.5) < 0);

    /* 100 requests in (1 ms, 2.5 ms]: p50 halfway, p99 near the top. */
    b[stats_bucket_of(2000)] = 100;
    assert_float_equal(stats_quantile(b, 0.5), 1.75, 1e-9);
    assert_float_equal(stats_quantile(b, 0.99), 1.0 + 1.5 * 0.99, 1e-9);

    /* 90 fast and 10 slow: p50 among the fast, p99 among the slow. */
    b[stats_bucket_of(2000)] = 0;
    b[stats_bucket_of(50)] = 90;
    b[stats_bucket_of(400000)] = 10;
    assert_true(stats_quantile(b, 0.5) <= 0.1);
    assert_true(stats_quantile(b, 0.99) > 250.0);
    assert_true(stats_quantile(b, 0.99) <= 500.0);

    /* All beyond the last bound: the last finite bound. */
    memset(b, 0, sizeof(b));
    b[STATS_NBUCKETS - 1] = 5;
    assert_float_equal(stats_quantile(b, 0.5), 10000.0, 1e-9);
}

static void test_totals_merge_shards(void **state)
{
    struct member_stats *s = new_stats();
    struct stats_totals t;
    int i;

    (void)state;
    for (i = 0; i < 40; i++)
        stats_request(s, i, 5000, 1500, i % 10 == 0 ? STATS_ERR_TIMEOUT
                                                    : -1);
    stats_error(s, 3, 5000, STATS_ERR_CONNECT);
    stats_request(s, -1, 5000, -7, STATS_ERR_STATUS_5XX);

    stats_totals(s, &t);
    assert_int_equal(t.requests, 41);
    assert_int_equal(t.errors[STATS_ERR_TIMEOUT], 4);
    assert_int_equal(t.errors[STATS_ERR_CONNECT], 1);
    assert_int_equal(t.errors[STATS_ERR_STATUS_5XX], 1);
    assert_int_equal(t.error_total, 6);
    assert_int_equal(t.buckets[stats_bucket_of(1500)], 40);
    assert_int_equal(t.buckets[0], 1);     /* negative latency: 0 */
    assert_int_equal(t.latency_sum_us, 40 * 1500);

    stats_idle_add(s, 3);
    stats_idle_add(s, -1);
    assert_int_equal(atomic_load(&s->idle), 2);
    free(s);
}

static void test_series(void **state)
{
    struct member_stats *s = new_stats();
    struct stats_sample out[10];
    int i;

    (void)state;
    /* Second 1000: 3 requests; 1001: none; 1002: 2 requests, 1 error. */
    for (i = 0; i < 3; i++)
        stats_request(s, 0, 1000100, 800, -1);
    stats_request(s, 1, 1002500, 3000, -1);
    stats_request(s, 1, 1002900, 3000, STATS_ERR_BAD_RESPONSE);

    stats_series(s, 1003100, out, 4);
    assert_int_equal(out[0].sec, 999);
    assert_int_equal(out[0].requests, 0);
    assert_int_equal(out[1].sec, 1000);
    assert_int_equal(out[1].requests, 3);
    assert_int_equal(out[1].buckets[stats_bucket_of(800)], 3);
    assert_int_equal(out[2].sec, 1001);
    assert_int_equal(out[2].requests, 0);
    assert_int_equal(out[3].sec, 1002);
    assert_int_equal(out[3].requests, 2);
    assert_int_equal(out[3].errors, 1);
    assert_float_equal(stats_sample_quantile(&out[3], 0.5), 2.5 + 2.5 * 0.5,
                       1e-9);
    assert_true(stats_sample_quantile(&out[2], 0.5) < 0);

    /* Asking again in the same second gives the same. */
    stats_series(s, 1003900, out, 4);
    assert_int_equal(out[1].requests, 3);
    free(s);
}

static void test_ring_rollover(void **state)
{
    struct member_stats *s = new_stats();
    struct stats_sample *out = calloc(STATS_RING, sizeof(*out));
    int64_t sec;
    int i;

    (void)state;
    assert_non_null(out);
    /* 2.5 rings' worth of seconds, second t holding t % 7 requests. */
    for (sec = 2000; sec < 2000 + 5 * STATS_RING / 2; sec++)
        for (i = 0; i < sec % 7; i++)
            stats_request(s, (int)sec, sec * 1000 + 10, 100, -1);

    stats_series(s, sec * 1000, out, STATS_RING);
    for (i = 0; i < STATS_RING; i++) {
        int64_t t = sec - STATS_RING + i;

        assert_int_equal(out[i].sec, t);
        assert_int_equal(out[i].requests, t % 7);
    }

    /* A long silence: every slot is an empty second, none stale. */
    stats_series(s, (sec + 1000) * 1000, out, STATS_RING);
    for (i = 0; i < STATS_RING; i++) {
        assert_int_equal(out[i].sec, sec + 1000 - STATS_RING + i);
        assert_int_equal(out[i].requests, 0);
    }

    /* More than the ring asked for: the ring's size. */
    stats_series(s, (sec + 1001) * 1000, out, STATS_RING);
    assert_int_equal(out[STATS_RING - 1].sec, sec + 1000);
    free(out);
    free(s);
}

static void test_carry_over(void **state)
{
    struct member_stats *from = new_stats(), *to = new_stats();
    struct stats_totals t;
    struct stats_sample out[3];

    (void)state;
    stats_request(from, 2, 7000100, 2000, -1);
    stats_request(from, 5, 7001100, 2000, STATS_ERR_TIMEOUT);
    stats_request(from, 5, 7001200, 2000, -1);

    stats_carry_over(to, from);
    stats_request(to, 1, 7002100, 2000, -1);
    stats_totals(to, &t);
    assert_int_equal(t.requests, 4);
    assert_int_equal(t.errors[STATS_ERR_TIMEOUT], 1);
    assert_int_equal(t.latency_sum_us, 8000);

    stats_series(to, 7003000, out, 3);
    assert_int_equal(out[0].requests, 1);
    assert_int_equal(out[1].requests, 2);
    assert_int_equal(out[1].errors, 1);
    assert_int_equal(out[2].requests, 1);
    free(from);
    free(to);
}

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(stats_error_name(STATS_ERR_CONNECT), "connect");
    assert_string_equal(stats_error_name(STATS_ERR_ABORTED), "aborted");
    assert_string_equal(stats_error_name(STATS_NERRORS), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_of),
        cmocka_unit_test(test_bounds_ascend),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_totals_merge_shards),
        cmocka_unit_test(test_series),
        cmocka_unit_test(test_ring_rollover),
        cmocka_unit_test(test_carry_over),
        cmocka_unit_test(test_error_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
