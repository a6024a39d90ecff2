/*
 * test_sticky.c - the sticky route of a request from its cookies and URL,
 * the member a route names (redirect, drain, disabled, standby), and the
 * cookie balancer sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "balancer.h"
#include "lbmethod.h"
#include "log.h"
#include "sticky.h"

struct member_spec {
    const char *route;
    const char *redirect;
    const char *status;
};

static struct balancer *make_balancer(const char *cookie, const char *param,
                                      const struct member_spec *spec,
                                      size_t n)
{
    struct balancer *b = calloc(1, sizeof(*b));
    size_t i;

    assert_non_null(b);
    b->name = strdup("balancer://cluster");
    b->sticky_cookie = cookie ? strdup(cookie) : NULL;
    b->sticky_param = param ? strdup(param) : NULL;
    b->sticky_sep = '.';
    b->forcerecovery = true;
    b->members = calloc(n ? n : 1, sizeof(*b->members));
    b->nmembers = n;
    for (i = 0; i < n; i++) {
        struct member *m = calloc(1, sizeof(*m));
        const char *error;
        char name[64];

        snprintf(name, sizeof(name), "http://127.0.0.1:%zu", 9000 + i);
        m->name = strdup(name);
        m->route = strdup(spec[i].route ? spec[i].route : "");
        m->redirect = strdup(spec[i].redirect ? spec[i].redirect : "");
        m->loadfactor = 100;
        m->retry_ms = 60000;
        if (spec[i].status)
            assert_int_equal(member_parse_status(spec[i].status,
                                                 &m->initial_status,
                                                 &error), 0);
        b->members[i] = m;
    }
    assert_int_equal(balancer_init_runtime(b), 0);
    return b;
}

/* The cookie value of name in header, or NULL. */
static char *cookie(const char *header, const char *name)
{
    static char buf[256];
    const char *v;
    size_t len;

    if (!sticky_cookie_value(header, strlen(header), name, &v, &len))
        return NULL;
    snprintf(buf, sizeof(buf), "%.*s", (int)len, v);
    return buf;
}

static char *param(const char *target, const char *name, bool scolon)
{
    static char buf[256];
    const char *v;
    size_t len;

    if (!sticky_url_param(target, strlen(target), name, scolon, &v, &len))
        return NULL;
    snprintf(buf, sizeof(buf), "%.*s", (int)len, v);
    return buf;
}

static void test_cookie_simple(void **state)
{
    assert_string_equal(cookie("BALANCEID=abc.server1", "BALANCEID"),
                        "abc.server1");
    assert_string_equal(cookie("a=1; BALANCEID=x.s2; b=2", "BALANCEID"),
                        "x.s2");
    assert_string_equal(cookie("a=1;BALANCEID=x.s2", "BALANCEID"), "x.s2");
    assert_null(cookie("a=1; b=2", "BALANCEID"));
    assert_null(cookie("", "BALANCEID"));
}

static void test_cookie_whole_name(void **state)
{
    assert_null(cookie("XBALANCEID=a.s1", "BALANCEID"));
    assert_null(cookie("BALANCEIDX=a.s1", "BALANCEID"));
    assert_string_equal(cookie("XBALANCEID=a.s1; BALANCEID=b.s2",
                               "BALANCEID"), "b.s2");
    /* Inside another cookie's value, after '=': not a name. */
    assert_null(cookie("foo=BALANCEID=a.s1", "BALANCEID"));
    /* Case matters, as in Apache. */
    assert_null(cookie("balanceid=a.s1", "BALANCEID"));
}

static void test_cookie_whitespace(void **state)
{
    assert_string_equal(cookie("a=1 ;  BALANCEID=v.s1 ; b=2", "BALANCEID"),
                        "v.s1");
    assert_string_equal(cookie("a=1;\tBALANCEID = v.s1", "BALANCEID"),
                        "v.s1");
    assert_string_equal(cookie("BALANCEID=v.s1   ", "BALANCEID"), "v.s1");
}

static void test_cookie_first_wins_and_comma(void **state)
{
    assert_string_equal(cookie("BALANCEID=a.s1; BALANCEID=b.s2",
                               "BALANCEID"), "a.s1");
    /* Apache joins repeated Cookie headers with ", " and ends values at
     * ','. */
    assert_string_equal(cookie("a=1, BALANCEID=b.s2, c=3", "BALANCEID"),
                        "b.s2");
}

static void test_cookie_quoted_and_empty(void **state)
{
    /* Apache keeps the quotes. */
    assert_string_equal(cookie("BALANCEID=\"a.s1\"", "BALANCEID"),
                        "\"a.s1\"");
    assert_string_equal(cookie("BALANCEID=; b=2", "BALANCEID"), "");
    /* Nothing after '=' at the end: skipped, as in Apache. */
    assert_null(cookie("BALANCEID=", "BALANCEID"));
    assert_null(cookie("BALANCEID", "BALANCEID"));
    assert_null(cookie("BALANCEID x=1", "BALANCEID"));
    assert_null(cookie("a=1", ""));
}

static void test_url_query(void **state)
{
    assert_string_equal(param("/x?BALANCEID=a.s1", "BALANCEID", false),
                        "a.s1");
    assert_string_equal(param("/x?a=1&BALANCEID=a.s1&b=2", "BALANCEID",
                              false), "a.s1");
    assert_string_equal(param("/x?BALANCEID=a.s1?z", "BALANCEID", false),
                        "a.s1");
    assert_null(param("/x?a=1", "BALANCEID", false));
    assert_null(param("/BALANCEID=a.s1", "BALANCEID", false));
    assert_null(param("BALANCEID=a.s1", "BALANCEID", false));
    assert_string_equal(param("http://h/x?BALANCEID=q.s3", "BALANCEID",
                              false), "q.s3");
}

static void test_url_whole_name(void **state)
{
    assert_null(param("/x?XBALANCEID=a.s1", "BALANCEID", false));
    assert_null(param("/x?a=1&myBALANCEID=a.s1", "BALANCEID", false));
    assert_null(param("/x?BALANCEIDX=a.s1", "BALANCEID", false));
    assert_string_equal(param("/x?XBALANCEID=a.s1&BALANCEID=b.s2",
                              "BALANCEID", false), "b.s2");
    assert_null(param("/x?BALANCEID", "BALANCEID", false));
}

static void test_url_empty_value(void **state)
{
    assert_null(param("/x?BALANCEID=", "BALANCEID", false));
    assert_null(param("/x?BALANCEID=&a=1", "BALANCEID", false));
    assert_string_equal(param("/x?BALANCEID=&BALANCEID=b.s2", "BALANCEID",
                              false), "b.s2");
}

static void test_url_path_params(void **state)
{
    const char *t = "/app;jsessionid=abc.node1;foo=1?x=1";

    assert_string_equal(param(t, "jsessionid", true), "abc.node1");
    /* Without scolonpathdelim Apache still finds it, but ';' does not end
     * the value. */
    assert_string_equal(param(t, "jsessionid", false), "abc.node1;foo=1");
    assert_string_equal(param("/a;jsessionid=abc.n2", "jsessionid", true),
                        "abc.n2");
    assert_string_equal(param("/a?x=1;jsessionid=abc.n3&y", "jsessionid",
                              true), "abc.n3");
    assert_null(param("/a;xjsessionid=abc.n2", "jsessionid", true));
}

static bool find(const struct balancer *b, const char *target,
                 const char *const *cookies, size_t n,
                 struct sticky_value *out)
{
    size_t lens[8];
    size_t i;

    for (i = 0; i < n; i++)
        lens[i] = strlen(cookies[i]);
    return sticky_find(b, target, target ? strlen(target) : 0, cookies,
                       lens, n, out);
}

static void assert_route(const struct sticky_value *v, const char *route)
{
    if (route == NULL) {
        assert_null(v->route);
        return;
    }
    assert_non_null(v->route);
    assert_int_equal(v->route_len, strlen(route));
    assert_memory_equal(v->route, route, strlen(route));
}

static void test_find_cookie(void **state)
{
    struct balancer *b = make_balancer("BALANCEID", NULL, NULL, 0);
    const char *cookies[] = { "a=1", "BALANCEID=xyz.server2; c=3" };
    struct sticky_value v;

    assert_true(find(b, "/index.php", cookies, 2, &v));
    assert_false(v.from_url);
    assert_int_equal(v.value_len, 11);
    assert_route(&v, "server2");

    assert_false(find(b, "/index.php", cookies, 1, &v));
    assert_null(v.value);
    assert_null(v.route);
    assert_false(find(b, "/index.php", NULL, 0, &v));
    balancer_free(b);
}

static void test_find_multiple_cookie_headers(void **state)
{
    struct balancer *b = make_balancer("BALANCEID", NULL, NULL, 0);
    const char *cookies[] = { "XBALANCEID=no.s9", "BALANCEID=a.s1",
                              "BALANCEID=b.s2" };
    struct sticky_value v;

    assert_true(find(b, "/", cookies, 3, &v));
    assert_route(&v, "s1");
    balancer_free(b);
}

static void test_find_route_split(void **state)
{
    struct balancer *b = make_balancer("BALANCEID", NULL, NULL, 0);
    const char *no_sep[] = { "BALANCEID=abcdef" };
    const char *two_seps[] = { "BALANCEID=a.b.c" };
    const char *empty_route[] = { "BALANCEID=abc." };
    const char *empty[] = { "BALANCEID=; x=1" };
    const char *custom[] = { "BALANCEID=abc_s1.x" };
    struct sticky_value v;

    assert_true(find(b, "/", no_sep, 1, &v));
    assert_int_equal(v.value_len, 6);
    assert_route(&v, NULL);

    assert_true(find(b, "/", two_seps, 1, &v));
    assert_route(&v, "b.c");

    assert_true(find(b, "/", empty_route, 1, &v));
    assert_route(&v, NULL);

    assert_true(find(b, "/", empty, 1, &v));
    assert_int_equal(v.value_len, 0);
    assert_route(&v, NULL);

    b->sticky_sep = '_';
    assert_true(find(b, "/", custom, 1, &v));
    assert_route(&v, "s1.x");

    /* stickysessionsep=Off: the whole value is the route. */
    b->sticky_sep = '\0';
    assert_true(find(b, "/", custom, 1, &v));
    assert_route(&v, "abc_s1.x");
    balancer_free(b);
}

static void test_find_url_first(void **state)
{
    struct balancer *b = make_balancer("BALANCEID", NULL, NULL, 0);
    const char *cookies[] = { "BALANCEID=c.fromcookie" };
    struct sticky_value v;

    /* One name: Apache uses it for the URL parameter too. */
    assert_true(find(b, "/p?BALANCEID=u.fromurl", cookies, 1, &v));
    assert_true(v.from_url);
    assert_route(&v, "fromurl");

    assert_true(find(b, "/p?other=u.fromurl", cookies, 1, &v));
    assert_false(v.from_url);
    assert_route(&v, "fromcookie");
    balancer_free(b);
}

static void test_find_cookie_and_param_names(void **state)
{
    struct balancer *b = make_balancer("JSESSIONID", "jsessionid", NULL, 0);
    const char *cookies[] = { "JSESSIONID=c.n1" };
    struct sticky_value v;

    assert_true(find(b, "/app;jsessionid=u.n2?x=1", cookies, 1, &v));
    assert_true(v.from_url);
    assert_route(&v, "n2");

    /* The cookie name is not looked for in the URL. */
    assert_true(find(b, "/app?JSESSIONID=u.n3", cookies, 1, &v));
    assert_false(v.from_url);
    assert_route(&v, "n1");

    b->scolonpathdelim = true;
    assert_true(find(b, "/app;jsessionid=u.n2;x=1", NULL, 0, &v));
    assert_route(&v, "n2");
    balancer_free(b);
}

static void test_find_no_stickysession(void **state)
{
    struct balancer *b = make_balancer(NULL, NULL, NULL, 0);
    const char *cookies[] = { "BALANCEID=a.s1" };
    struct sticky_value v;

    assert_false(find(b, "/?BALANCEID=a.s1", cookies, 1, &v));
    balancer_free(b);
}

static struct member *route_member(struct balancer *b, const char *route,
                                   enum pick_reason *reason,
                                   struct member **named)
{
    return sticky_route_member(b, route, strlen(route), balancer_now_ms(),
                               reason, named);
}

static void test_route_member(void **state)
{
    const struct member_spec spec[] = {
        { "server1", NULL, NULL }, { "server2", NULL, NULL },
        { "server10", NULL, NULL },
    };
    struct balancer *b = make_balancer("BALANCEID", NULL, spec, 3);
    enum pick_reason reason;
    struct member *named;

    assert_ptr_equal(route_member(b, "server1", &reason, &named),
                     b->members[0]);
    assert_int_equal(reason, PICK_STICKY);
    assert_ptr_equal(named, b->members[0]);
    assert_int_equal(atomic_load(&b->members[0]->elected), 1);

    assert_ptr_equal(route_member(b, "server10", &reason, &named),
                     b->members[2]);
    assert_null(route_member(b, "server", &reason, &named));
    assert_int_equal(reason, PICK_NONE);
    assert_null(named);
    assert_null(route_member(b, "", &reason, &named));
    balancer_free(b);
}

/* Sticky picks count in byrequests, as in Apache: after a sticky pick of
 * server1 the lbmethod goes to server2 first. */
static void test_route_member_counts_in_lbstatus(void **state)
{
    const struct member_spec spec[] = {
        { "server1", NULL, NULL }, { "server2", NULL, NULL },
    };
    struct balancer *b = make_balancer("BALANCEID", NULL, spec, 2);
    enum pick_reason reason;
    struct member *named;

    route_member(b, "server1", &reason, &named);
    assert_ptr_equal(lbmethod_pick(b, NULL, 0, &reason), b->members[1]);
    balancer_free(b);
}

static void test_route_member_unusable(void **state)
{
    const struct member_spec spec[] = {
        { "s1", NULL, "D" }, { "s2", NULL, "N" }, { "s3", NULL, "S" },
        { "s4", NULL, NULL }, { "s5", NULL, "H" },
    };
    struct balancer *b = make_balancer("BALANCEID", NULL, spec, 5);
    enum pick_reason reason;
    struct member *named;

    /* Disabled: no sticky requests either, in Apache 2.4. */
    assert_null(route_member(b, "s1", &reason, &named));
    assert_ptr_equal(named, b->members[0]);
    /* Draining: keeps its sticky sessions. */
    assert_ptr_equal(route_member(b, "s2", &reason, &named), b->members[1]);
    assert_int_equal(reason, PICK_STICKY);
    assert_null(route_member(b, "s3", &reason, &named));
    /* A hot standby still takes its own route. */
    assert_ptr_equal(route_member(b, "s5", &reason, &named), b->members[4]);

    member_set_error(b->members[3], "refused");
    assert_null(route_member(b, "s4", &reason, &named));
    assert_ptr_equal(named, b->members[3]);
    balancer_free(b);
}

static void test_route_member_redirect(void **state)
{
    const struct member_spec spec[] = {
        { "old", "new", "D" }, { "new", NULL, NULL },
        { "loop1", "loop2", "D" }, { "loop2", "loop1", "D" },
        { "gone", "nowhere", "D" },
    };
    struct balancer *b = make_balancer("BALANCEID", NULL, spec, 5);
    enum pick_reason reason;
    struct member *named;

    assert_ptr_equal(route_member(b, "old", &reason, &named), b->members[1]);
    assert_int_equal(reason, PICK_REDIRECT);
    assert_ptr_equal(named, b->members[0]);

    /* The target of the redirect must be usable. */
    atomic_fetch_or(&b->members[1]->status, MEMBER_STOPPED);
    assert_null(route_member(b, "old", &reason, &named));

    /* Cycles end. */
    assert_null(route_member(b, "loop1", &reason, &named));
    assert_null(route_member(b, "gone", &reason, &named));
    balancer_free(b);
}

/* Two members with one route: the first usable one, standbys last. */
static void test_route_member_duplicates(void **state)
{
    const struct member_spec spec[] = {
        { "r", NULL, "H" }, { "r", NULL, "D" }, { "r", NULL, NULL },
    };
    struct balancer *b = make_balancer("BALANCEID", NULL, spec, 3);
    enum pick_reason reason;
    struct member *named;

    assert_ptr_equal(route_member(b, "r", &reason, &named), b->members[2]);
    assert_ptr_equal(named, b->members[1]);
    atomic_fetch_or(&b->members[2]->status, MEMBER_DISABLED);
    assert_ptr_equal(route_member(b, "r", &reason, &named), b->members[0]);
    balancer_free(b);
}

static void test_route_member_forcerecovery(void **state)
{
    const struct member_spec spec[] = {
        { "s1", NULL, NULL }, { "s2", NULL, NULL },
    };
    struct balancer *b = make_balancer("BALANCEID", NULL, spec, 2);
    enum pick_reason reason;
    struct member *named;

    member_set_error(b->members[0], "x");
    member_set_error(b->members[1], "x");
    assert_ptr_equal(route_member(b, "s2", &reason, &named), b->members[1]);
    balancer_free(b);
}

static void test_sets_cookie(void **state)
{
    struct balancer *b = make_balancer("BALANCEID", NULL, NULL, 0);
    const char *yes[] = { "BALANCEID=a.s1; Path=/", " BALANCEID = x",
                          "BALANCEID=" };
    const char *no[] = { "XBALANCEID=a.s1", "BALANCEIDX=1", "PHPSESSID=1",
                         "BALANCEID", "", "balanceid=1" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(sticky_sets_cookie(b, yes[i], strlen(yes[i])));
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(sticky_sets_cookie(b, no[i], strlen(no[i])));
    balancer_free(b);
}

static void test_make_cookie(void **state)
{
    const struct member_spec spec[] = { { "server1", NULL, NULL } };
    struct balancer *b = make_balancer("BALANCEID", NULL, spec, 1);
    const char *cookies[1];
    struct sticky_value v;
    char buf[128], other[128];
    size_t i;
    int len;

    len = sticky_make_cookie(b, b->members[0], false, buf, sizeof(buf));
    assert_int_equal(len, (int)strlen(buf));
    assert_int_equal(len, (int)strlen("BALANCEID=0123456789abcdef.server1;"
                                      " Path=/; HttpOnly"));
    assert_memory_equal(buf, "BALANCEID=", 10);
    for (i = 10; i < 26; i++)
        assert_non_null(strchr("0123456789abcdef", buf[i]));
    assert_string_equal(buf + 26, ".server1; Path=/; HttpOnly");

    /* What we set reads back as the route, and is the sticky cookie. */
    cookies[0] = buf;
    assert_true(find(b, "/", cookies, 1, &v));
    assert_route(&v, "server1");
    assert_true(sticky_sets_cookie(b, buf, (size_t)len));

    sticky_make_cookie(b, b->members[0], true, other, sizeof(other));
    assert_non_null(strstr(other, "; HttpOnly; Secure"));
    assert_memory_not_equal(buf, other, 26);

    assert_int_equal(sticky_make_cookie(b, b->members[0], false, buf, 20),
                     -1);
    balancer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_simple),
        cmocka_unit_test(test_cookie_whole_name),
        cmocka_unit_test(test_cookie_whitespace),
        cmocka_unit_test(test_cookie_first_wins_and_comma),
        cmocka_unit_test(test_cookie_quoted_and_empty),
        cmocka_unit_test(test_url_query),
        cmocka_unit_test(test_url_whole_name),
        cmocka_unit_test(test_url_empty_value),
        cmocka_unit_test(test_url_path_params),
        cmocka_unit_test(test_find_cookie),
        cmocka_unit_test(test_find_multiple_cookie_headers),
        cmocka_unit_test(test_find_route_split),
        cmocka_unit_test(test_find_url_first),
        cmocka_unit_test(test_find_cookie_and_param_names),
        cmocka_unit_test(test_find_no_stickysession),
        cmocka_unit_test(test_route_member),
        cmocka_unit_test(test_route_member_counts_in_lbstatus),
        cmocka_unit_test(test_route_member_unusable),
        cmocka_unit_test(test_route_member_redirect),
        cmocka_unit_test(test_route_member_duplicates),
        cmocka_unit_test(test_route_member_forcerecovery),
        cmocka_unit_test(test_sets_cookie),
        cmocka_unit_test(test_make_cookie),
    };

    log_current_level = LOG_LEVEL_CRIT;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
