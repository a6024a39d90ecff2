/*
 * test_lbmethod.c - byrequests, bytraffic, bybusyness and the order in
 * which lbmethod_pick offers members (lbsets, hot spares, hot standbys,
 * error state, forcerecovery, drain).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "balancer.h"
#include "lbmethod.h"
#include "log.h"

#define PICKS 10000

struct member_spec {
    const char *route;
    int loadfactor;         /* x 100; 0: 100 */
    int lbset;
    const char *status;     /* status= letters, or NULL */
};

/* A member by weight only, or by route, lbset and status. */
#define W(loadfactor) { NULL, (loadfactor), 0, NULL }
#define M(route, lbset, status) { (route), 0, (lbset), (status) }

static struct balancer *make_balancer(enum lbmethod_kind kind,
                                      const struct member_spec *spec,
                                      size_t n)
{
    struct balancer *b = calloc(1, sizeof(*b));
    size_t i;

    assert_non_null(b);
    b->name = strdup("balancer://test");
    b->lbmethod = kind;
    b->sticky_sep = '.';
    b->forcerecovery = true;
    b->maxattempts = -1;
    b->members = calloc(n, sizeof(*b->members));
    b->nmembers = n;

    for (i = 0; i < n; i++) {
        struct member *m = calloc(1, sizeof(*m));
        char name[64];
        const char *error = NULL;

        snprintf(name, sizeof(name), "http://127.0.0.1:%zu", 8000 + i);
        m->name = strdup(name);
        m->route = strdup(spec[i].route ? spec[i].route : "");
        m->redirect = strdup("");
        m->loadfactor = spec[i].loadfactor ? spec[i].loadfactor : 100;
        m->lbset = spec[i].lbset;
        m->retry_ms = 60000;
        if (spec[i].status != NULL)
            assert_int_equal(member_parse_status(spec[i].status,
                                                 &m->initial_status,
                                                 &error), 0);
        b->members[i] = m;
    }
    assert_int_equal(balancer_init_runtime(b), 0);
    return b;
}

static struct member *pick(struct balancer *b, enum pick_reason *reason)
{
    enum pick_reason r;

    return lbmethod_pick(b, NULL, 0, reason ? reason : &r);
}

/* Picks n times and counts the choices per member index. */
static void count_picks(struct balancer *b, int n, int *counts)
{
    int i;

    memset(counts, 0, b->nmembers * sizeof(*counts));
    for (i = 0; i < n; i++) {
        struct member *m = pick(b, NULL);

        assert_non_null(m);
        counts[m->index]++;
    }
}

/* Every member's share is within 1% of its weight's share. */
static void assert_shares(const struct balancer *b, const int *counts,
                          int n)
{
    double total = 0;
    size_t i;

    for (i = 0; i < b->nmembers; i++)
        total += b->members[i]->loadfactor;
    for (i = 0; i < b->nmembers; i++) {
        double want = b->members[i]->loadfactor / total;
        double got = (double)counts[i] / n;

        if (got < want - 0.01 || got > want + 0.01)
            fail_msg("member %zu: share %.4f, weight share %.4f", i, got,
                     want);
    }
}

static void test_names(void **state)
{
    assert_int_equal(lbmethod_from_name("byrequests"), LBMETHOD_BYREQUESTS);
    assert_int_equal(lbmethod_from_name("bytraffic"), LBMETHOD_BYTRAFFIC);
    assert_int_equal(lbmethod_from_name("bybusyness"), LBMETHOD_BYBUSYNESS);
    assert_int_equal(lbmethod_from_name("heartbeat"), -1);
    assert_int_equal(lbmethod_from_name("ByRequests"), -1);
    assert_string_equal(lbmethod_ops(LBMETHOD_BYTRAFFIC)->name, "bytraffic");
    assert_ptr_equal(lbmethod_ops(LBMETHOD_BYBUSYNESS),
                     &lbmethod_bybusyness);
}

static void test_byrequests_round_robin(void **state)
{
    const struct member_spec spec[] = { { 0 }, { 0 }, { 0 } };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 3);
    enum pick_reason reason;
    int i;

    for (i = 0; i < 30; i++) {
        struct member *m = pick(b, &reason);

        assert_int_equal(m->index, i % 3);
        assert_int_equal(reason, PICK_LBMETHOD);
    }
    assert_int_equal(atomic_load(&b->members[0]->elected), 10);
    balancer_free(b);
}

/* The example of mod_lbmethod_byrequests' documentation: four members
 * of equal factor, b disabled: a c d a c d ... */
static void test_byrequests_doc_example(void **state)
{
    const struct member_spec spec[] = {
        { "a", 2500, 0, NULL }, { "b", 2500, 0, "D" },
        { "c", 2500, 0, NULL }, { "d", 2500, 0, NULL },
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 4);
    const char *want = "acdacdacd";
    size_t i;

    for (i = 0; i < strlen(want); i++)
        assert_int_equal(pick(b, NULL)->route[0], want[i]);
    balancer_free(b);
}

static void test_byrequests_weights(void **state)
{
    const struct member_spec spec[] = {
        W(100), W(150), W(250), W(500), W(1000),
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 5);
    int counts[5];

    count_picks(b, PICKS, counts);
    assert_shares(b, counts, PICKS);
    /* byrequests is exact over a whole cycle: 2000 / 100 = 20 picks. */
    assert_int_equal(counts[0], PICKS / 20);
    assert_int_equal(counts[4], PICKS / 2);
    balancer_free(b);
}

/* Each pick sends and receives bytes; shares follow the weights. */
static void test_bytraffic_weights(void **state)
{
    const struct member_spec spec[] = { W(100), W(300), W(600) };
    struct balancer *b = make_balancer(LBMETHOD_BYTRAFFIC, spec, 3);
    int counts[3] = { 0 };
    int i;

    for (i = 0; i < PICKS; i++) {
        struct member *m = pick(b, NULL);

        counts[m->index]++;
        atomic_fetch_add(&m->bytes_out, 700);
        atomic_fetch_add(&m->bytes_in, 5300);
    }
    assert_shares(b, counts, PICKS);
    balancer_free(b);
}

static void test_bytraffic_least(void **state)
{
    const struct member_spec spec[] = { W(100), W(200) };
    struct balancer *b = make_balancer(LBMETHOD_BYTRAFFIC, spec, 2);

    /* 1000 / 1 vs 1500 / 2: the second has less for its weight. */
    atomic_store(&b->members[0]->bytes_in, 100000);
    atomic_store(&b->members[1]->bytes_in, 150000);
    assert_int_equal(pick(b, NULL)->index, 1);

    /* Equal traffic per weight: the first wins the tie. */
    atomic_store(&b->members[1]->bytes_in, 200000);
    assert_int_equal(pick(b, NULL)->index, 0);
    balancer_free(b);
}

/* Requests that finish at once leave every busy at 0, so the lbstatus
 * tie-break gives the weighted shares. */
static void test_bybusyness_weights(void **state)
{
    const struct member_spec spec[] = { W(100), W(200), W(700) };
    struct balancer *b = make_balancer(LBMETHOD_BYBUSYNESS, spec, 3);
    int counts[3];

    count_picks(b, PICKS, counts);
    assert_shares(b, counts, PICKS);
    balancer_free(b);
}

/* With requests in flight, the least busy member wins whatever its
 * weight; busy is not weighted in Apache 2.4. */
static void test_bybusyness_least_busy(void **state)
{
    const struct member_spec spec[] = { W(100), W(1000), W(100) };
    struct balancer *b = make_balancer(LBMETHOD_BYBUSYNESS, spec, 3);
    int counts[3] = { 0 };
    int i;

    atomic_store(&b->members[0]->busy, 3);
    atomic_store(&b->members[1]->busy, 2);
    atomic_store(&b->members[2]->busy, 1);
    assert_int_equal(pick(b, NULL)->index, 2);

    /* Simulate: each pick stays in flight until the next pick but one.
     * Every member then holds about the same busy count, and the ties
     * go by weight. */
    atomic_store(&b->members[0]->busy, 0);
    atomic_store(&b->members[1]->busy, 0);
    atomic_store(&b->members[2]->busy, 0);
    {
        struct member *prev = NULL;

        for (i = 0; i < PICKS; i++) {
            struct member *m = pick(b, NULL);

            counts[m->index]++;
            atomic_fetch_add(&m->busy, 1);
            if (prev != NULL)
                atomic_fetch_sub(&prev->busy, 1);
            prev = m;
        }
    }
    for (i = 0; i < 3; i++)
        assert_true(counts[i] > 0);
    balancer_free(b);
}

static void test_hot_standby(void **state)
{
    const struct member_spec spec[] = {
        M("a", 0, NULL), M("s", 0, "H"), M("b", 0, NULL),
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 3);
    enum pick_reason reason;
    int counts[3];

    count_picks(b, 1000, counts);
    assert_int_equal(counts[1], 0);

    member_set_error(b->members[0], "test");
    count_picks(b, 10, counts);
    assert_int_equal(counts[2], 10);

    member_set_error(b->members[2], "test");
    assert_ptr_equal(pick(b, &reason), b->members[1]);
    assert_int_equal(reason, PICK_STANDBY);

    /* A member back from error takes over from the standby again. */
    atomic_fetch_and(&b->members[0]->status, ~MEMBER_IN_ERROR);
    assert_ptr_equal(pick(b, &reason), b->members[0]);
    assert_int_equal(reason, PICK_LBMETHOD);
    balancer_free(b);
}

static void test_lbsets(void **state)
{
    const struct member_spec spec[] = {
        M("b1", 1, NULL), M("a", 0, NULL), M("b2", 1, NULL), M("s0", 0, "H"),
        M("c", 5, NULL),
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 5);
    enum pick_reason reason;
    int counts[5];

    count_picks(b, 100, counts);
    assert_int_equal(counts[1], 100);

    /* lbset 0's standby comes before lbset 1. */
    member_set_error(b->members[1], "test");
    assert_ptr_equal(pick(b, &reason), b->members[3]);
    assert_int_equal(reason, PICK_STANDBY);

    member_set_error(b->members[3], "test");
    count_picks(b, 100, counts);
    assert_int_equal(counts[0], 50);
    assert_int_equal(counts[2], 50);

    member_set_error(b->members[0], "test");
    member_set_error(b->members[2], "test");
    assert_ptr_equal(pick(b, &reason), b->members[4]);
    assert_int_equal(reason, PICK_LBMETHOD);
    balancer_free(b);
}

static void test_hot_spares(void **state)
{
    const struct member_spec spec[] = {
        M("a", 0, NULL), M("r1", 0, "R"), M("b", 0, NULL), M("r2", 0, "R"),
        M("x", 1, "R"), M("h", 0, "H"),
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 6);
    int counts[6];

    count_picks(b, 100, counts);
    assert_int_equal(counts[0], 50);
    assert_int_equal(counts[2], 50);

    /* One unusable member: the first spare stands in, not the second,
     * and not the spare of another lbset. */
    member_set_error(b->members[0], "test");
    count_picks(b, 100, counts);
    assert_int_equal(counts[1], 50);
    assert_int_equal(counts[2], 50);
    assert_int_equal(counts[3], 0);
    assert_int_equal(counts[4], 0);

    /* A stopped member is unusable too; both spares now. */
    atomic_fetch_or(&b->members[2]->status, MEMBER_STOPPED);
    count_picks(b, 100, counts);
    assert_int_equal(counts[1], 50);
    assert_int_equal(counts[3], 50);
    assert_int_equal(counts[5], 0);
    balancer_free(b);
}

/* A draining member is skipped and, as in Apache, is not unusable: no
 * spare replaces it. */
static void test_drain(void **state)
{
    const struct member_spec spec[] = {
        M("a", 0, "N"), M("b", 0, NULL), M("r", 0, "R"),
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 3);
    int counts[3];

    count_picks(b, 100, counts);
    assert_int_equal(counts[1], 100);

    /* Only draining members left: nothing, and no forced recovery. */
    atomic_fetch_or(&b->members[1]->status, MEMBER_DISABLED);
    atomic_fetch_or(&b->members[2]->status, MEMBER_DISABLED);
    assert_null(pick(b, NULL));
    balancer_free(b);
}

static void test_unusable_flags(void **state)
{
    const struct member_spec spec[] = {
        M("d", 0, "D"), M("s", 0, "S"), M("c", 0, "C"),
        M("e", 0, "E"), M("ok", 0, NULL),
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 5);
    int counts[5];

    atomic_store(&b->members[3]->error_time_ms, balancer_now_ms());
    count_picks(b, 50, counts);
    assert_int_equal(counts[4], 50);
    balancer_free(b);
}

static void test_exclude(void **state)
{
    const struct member_spec spec[] = {
        M("a", 0, NULL), M("b", 0, NULL), M("r", 0, "R"),
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 3);
    struct member *tried[2] = { b->members[0], b->members[1] };
    enum pick_reason reason;
    int i;

    /* a tried: it counts as unusable, so the spare stands in for it. */
    for (i = 0; i < 10; i++)
        assert_ptr_equal(lbmethod_pick(b, tried, 1, &reason),
                         b->members[1 + i % 2]);

    /* Both tried: the spare stands in. */
    assert_ptr_equal(lbmethod_pick(b, tried, 2, &reason), b->members[2]);
    balancer_free(b);
}

static void test_error_and_retry(void **state)
{
    const struct member_spec spec[] = { M("a", 0, NULL), M("b", 0, NULL) };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 2);
    struct timespec pause = { 0, 30 * 1000000 };
    struct member *a = b->members[0];
    int counts[2];

    a->retry_ms = 20;
    assert_true(member_set_error(a, "connection refused"));
    assert_false(member_set_error(a, "connection refused"));
    assert_true(atomic_load(&a->status) & MEMBER_IN_ERROR);
    assert_int_equal(atomic_load(&a->errors), 2);
    assert_false(member_is_usable(a, balancer_now_ms()));

    count_picks(b, 10, counts);
    assert_int_equal(counts[1], 10);

    nanosleep(&pause, NULL);
    count_picks(b, 10, counts);
    assert_true(counts[0] > 0);
    assert_false(atomic_load(&a->status) & MEMBER_IN_ERROR);
    balancer_free(b);
}

static void test_retry_time_injected(void **state)
{
    const struct member_spec spec[] = { M("a", 0, NULL) };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 1);
    struct member *a = b->members[0];
    int64_t t;

    a->retry_ms = 60000;
    member_set_error(a, "test");
    t = atomic_load(&a->error_time_ms);
    assert_false(member_is_usable(a, t + 59999));
    assert_true(atomic_load(&a->status) & MEMBER_IN_ERROR);
    assert_true(member_is_usable(a, t + 60000));
    assert_false(atomic_load(&a->status) & MEMBER_IN_ERROR);
    balancer_free(b);
}

static void test_ignore_errors(void **state)
{
    const struct member_spec spec[] = { M("a", 0, "I"), M("b", 0, NULL) };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 2);
    struct member *a = b->members[0];

    assert_false(member_set_error(a, "test"));
    assert_false(atomic_load(&a->status) & MEMBER_IN_ERROR);
    assert_true(member_is_usable(a, balancer_now_ms()));

    /* Configured in error (status=IE): retried at once. */
    atomic_fetch_or(&a->status, MEMBER_IN_ERROR);
    assert_true(member_is_usable(a, balancer_now_ms()));

    /* Ignoring errors does not override disabled. */
    atomic_fetch_or(&a->status, MEMBER_DISABLED);
    assert_false(member_is_usable(a, balancer_now_ms()));
    balancer_free(b);
}

static void test_forcerecovery(void **state)
{
    const struct member_spec spec[] = { M("a", 0, NULL), M("b", 0, NULL) };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 2);
    enum pick_reason reason;

    member_set_error(b->members[0], "test");
    member_set_error(b->members[1], "test");

    b->forcerecovery = false;
    assert_null(pick(b, &reason));
    assert_int_equal(reason, PICK_NONE);

    b->forcerecovery = true;
    assert_ptr_equal(pick(b, &reason), b->members[0]);
    assert_int_equal(reason, PICK_LBMETHOD);
    assert_false(atomic_load(&b->members[1]->status) & MEMBER_IN_ERROR);
    balancer_free(b);
}

/* Recovery is forced only when every member is in error: a disabled
 * member that is not in error prevents it, as in Apache. */
static void test_forcerecovery_needs_all_in_error(void **state)
{
    const struct member_spec spec[] = { M("a", 0, NULL), M("d", 0, "D") };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 2);

    member_set_error(b->members[0], "test");
    assert_null(pick(b, NULL));
    assert_true(atomic_load(&b->members[0]->status) & MEMBER_IN_ERROR);
    balancer_free(b);
}

static void test_many_members(void **state)
{
    struct member_spec spec[100];
    struct balancer *b;
    int counts[100];
    int i;

    memset(spec, 0, sizeof(spec));
    for (i = 0; i < 100; i++)
        spec[i].loadfactor = 100 + 100 * (i % 4);
    b = make_balancer(LBMETHOD_BYREQUESTS, spec, 100);
    count_picks(b, PICKS, counts);
    assert_shares(b, counts, PICKS);
    balancer_free(b);
}

static void test_empty_balancer(void **state)
{
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, NULL, 0);
    enum pick_reason reason;

    assert_null(pick(b, &reason));
    assert_int_equal(reason, PICK_NONE);
    balancer_free(b);
}

struct picker {
    struct balancer *b;
    int counts[4];
};

static void *pick_in_thread(void *arg)
{
    struct picker *p = arg;
    int i;

    for (i = 0; i < PICKS / 4; i++)
        p->counts[pick(p->b, NULL)->index]++;
    return NULL;
}

/* Four threads pick at once: b->lock keeps lbstatus whole, so the total
 * is as exact as one thread's. */
static void test_threads(void **state)
{
    const struct member_spec spec[] = {
        W(100), W(200),
        W(300), W(400),
    };
    struct balancer *b = make_balancer(LBMETHOD_BYREQUESTS, spec, 4);
    struct picker pickers[4];
    pthread_t threads[4];
    int counts[4] = { 0 };
    int i, j;

    for (i = 0; i < 4; i++) {
        memset(&pickers[i], 0, sizeof(pickers[i]));
        pickers[i].b = b;
        assert_int_equal(pthread_create(&threads[i], NULL, pick_in_thread,
                                        &pickers[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        for (j = 0; j < 4; j++)
            counts[j] += pickers[i].counts[j];
    }
    for (j = 0; j < 4; j++)
        assert_int_equal(counts[j], PICKS / 10 * (j + 1));
    assert_int_equal(atomic_load(&b->members[3]->elected), PICKS / 10 * 4);
    balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_byrequests_round_robin),
        cmocka_unit_test(test_byrequests_doc_example),
        cmocka_unit_test(test_byrequests_weights),
        cmocka_unit_test(test_bytraffic_weights),
        cmocka_unit_test(test_bytraffic_least),
        cmocka_unit_test(test_bybusyness_weights),
        cmocka_unit_test(test_bybusyness_least_busy),
        cmocka_unit_test(test_hot_standby),
        cmocka_unit_test(test_lbsets),
        cmocka_unit_test(test_hot_spares),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_unusable_flags),
        cmocka_unit_test(test_exclude),
        cmocka_unit_test(test_error_and_retry),
        cmocka_unit_test(test_retry_time_injected),
        cmocka_unit_test(test_ignore_errors),
        cmocka_unit_test(test_forcerecovery),
        cmocka_unit_test(test_forcerecovery_needs_all_in_error),
        cmocka_unit_test(test_many_members),
        cmocka_unit_test(test_empty_balancer),
        cmocka_unit_test(test_threads),
    };

    /* Members put in error here would log; these tests do not read it. */
    log_current_level = LOG_LEVEL_CRIT;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
