/*
 * test_loop.c - the event loop's timer heap, wake-up and buffer list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loop.h"

#define NTIMERS 200

static int fired[NTIMERS];
static int nfired;
static struct loop_timer timers[NTIMERS];

static void on_expire(struct loop *l, struct loop_timer *t)
{
    fired[nfired++] = (int)(t - timers);
    if (nfired == NTIMERS / 2)
        loop_stop(l);
}

static void test_timers_fire_in_deadline_order(void **state)
{
    struct loop *l = loop_create(NULL, NULL, NULL);
    int64_t now;
    int i;

    assert_non_null(l);
    now = loop_now(l);
    nfired = 0;
    for (i = 0; i < NTIMERS; i++) {
        memset(&timers[i], 0, sizeof(timers[i]));
        timers[i].on_expire = on_expire;
        /* scrambled deadlines 1..NTIMERS ms ahead */
        loop_timer_set(l, &timers[i], now + 1 + (i * 37) % NTIMERS);
    }
    /* cancel every other one, move a few */
    for (i = 0; i < NTIMERS; i += 2)
        loop_timer_cancel(l, &timers[i]);
    for (i = 0; i < NTIMERS; i += 2)
        assert_false(loop_timer_armed(&timers[i]));
    loop_timer_set(l, &timers[1], now + 1000);
    loop_timer_set(l, &timers[1], now + 500);

    assert_int_equal(loop_run(l), 0);
    assert_int_equal(nfired, NTIMERS / 2);
    for (i = 0; i < nfired; i++) {
        assert_int_equal(fired[i] % 2, 1);
        if (i > 0)
            assert_true(timers[fired[i - 1]].deadline_ms <=
                        timers[fired[i]].deadline_ms);
    }
    assert_int_equal(fired[nfired - 1], 1);
    loop_free(l);
}

static int woken;

static void on_wake(struct loop *l, void *arg)
{
    woken++;
    loop_stop(l);
}

static void test_wake_runs_callback(void **state)
{
    struct loop *l = loop_create(on_wake, NULL, NULL);

    assert_non_null(l);
    woken = 0;
    loop_wake(l);
    loop_wake(l);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(woken, 1);
    loop_free(l);
}

/* The order of one turn: the batch's events, on_events, the timers due,
 * on_turn. */
static char order[8];
static size_t norder;

static void note(char what)
{
    if (norder < sizeof(order) - 1)
        order[norder++] = what;
}

static void ordered_wake(struct loop *l, void *arg)
{
    note('w');
}

static void ordered_events(struct loop *l, void *arg)
{
    note('e');
}

static void ordered_timer(struct loop *l, struct loop_timer *t)
{
    note('t');
}

static void ordered_turn(struct loop *l, void *arg)
{
    note('n');
    loop_stop(l);
}

static void test_on_events_runs_before_timers(void **state)
{
    struct loop *l = loop_create(ordered_wake, ordered_turn, NULL);
    struct loop_timer t = { .on_expire = ordered_timer };

    assert_non_null(l);
    loop_set_on_events(l, ordered_events);
    norder = 0;
    memset(order, 0, sizeof(order));
    loop_timer_set(l, &t, loop_now(l));     /* due at once */
    loop_wake(l);
    assert_int_equal(loop_run(l), 0);
    assert_string_equal(order, "wetn");
    loop_free(l);
}

static void test_buffers_are_reused(void **state)
{
    struct loop *l = loop_create(NULL, NULL, NULL);
    char *a = loop_buf_get(l), *b;

    assert_non_null(a);
    memset(a, 'x', LOOP_BUF_SIZE);
    loop_buf_put(l, a);
    b = loop_buf_get(l);
    assert_ptr_equal(a, b);
    loop_buf_put(l, b);
    loop_buf_put(l, NULL);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_fire_in_deadline_order),
        cmocka_unit_test(test_wake_runs_callback),
        cmocka_unit_test(test_on_events_runs_before_timers),
        cmocka_unit_test(test_buffers_are_reused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
