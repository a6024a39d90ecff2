/*
 * test_health.c - the expected-status conditions (ProxyHCExpr,
 * ProxyHCExpectStatus), the hc* parameters, templates, the settings a
 * member ends with, and slow start.
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
#include "config.h"
#include "health.h"

static char err[256];

static struct hc_cond *parse(const char *text)
{
    struct hc_cond *c;

    err[0] = '\0';
    c = hc_cond_parse(text, err, sizeof(err));
    if (c == NULL)
        print_message("parse '%s': %s\n", text, err);
    return c;
}

/* The statuses from 100 to 599 that pass text, as a bit per status. */
static void expect_passing(const char *text, const int *pass, size_t n)
{
    struct hc_cond *c = parse(text);
    int status;
    size_t i;

    assert_non_null(c);
    for (status = 100; status < 600; status++) {
        bool want = false;

        for (i = 0; i < n; i++)
            want = want || pass[i] == status;
        if (hc_cond_eval(c, status) != want)
            fail_msg("'%s' on %d: expected %s", text, status,
                     want ? "pass" : "fail");
    }
    hc_cond_free(c);
}

static void test_default_condition(void **state)
{
    assert_true(hc_cond_eval(NULL, 200));
    assert_true(hc_cond_eval(NULL, 399));
    assert_false(hc_cond_eval(NULL, 199));
    assert_false(hc_cond_eval(NULL, 400));
    assert_false(hc_cond_eval(NULL, 500));
}

static void test_regex(void **state)
{
    struct hc_cond *c = parse("{%{REQUEST_STATUS} =~ /^[23]/}");

    assert_non_null(c);
    assert_true(hc_cond_eval(c, 200));
    assert_true(hc_cond_eval(c, 302));
    assert_false(hc_cond_eval(c, 404));
    assert_false(hc_cond_eval(c, 500));
    hc_cond_free(c);

    /* Without braces, with \d, and negated. */
    c = parse("%{REQUEST_STATUS} !~ /^5\\d\\d$/");
    assert_non_null(c);
    assert_true(hc_cond_eval(c, 404));
    assert_false(hc_cond_eval(c, 503));
    hc_cond_free(c);
}

static void test_comparisons(void **state)
{
    static const int eq200[] = { 200 };
    static const int in_list[] = { 200, 204 };
    struct hc_cond *c;
    int s;

    expect_passing("%{REQUEST_STATUS} -eq 200", eq200, 1);
    expect_passing("%{REQUEST_STATUS} == '200'", eq200, 1);
    expect_passing("%{REQUEST_STATUS} in {200,204}", in_list, 2);
    expect_passing("%{REQUEST_STATUS} in {'200', \"204\"}", in_list, 2);

    c = parse("%{REQUEST_STATUS} -ge 200 && %{REQUEST_STATUS} -lt 300");
    assert_non_null(c);
    for (s = 100; s < 600; s++)
        assert_int_equal(hc_cond_eval(c, s), s >= 200 && s < 300);
    hc_cond_free(c);

    c = parse("%{REQUEST_STATUS} -le 204 && %{REQUEST_STATUS} -gt 199 "
              "&& %{REQUEST_STATUS} -ne 201");
    assert_non_null(c);
    assert_true(hc_cond_eval(c, 200));
    assert_false(hc_cond_eval(c, 201));
    assert_true(hc_cond_eval(c, 204));
    assert_false(hc_cond_eval(c, 205));
    hc_cond_free(c);
}

static void test_logic(void **state)
{
    struct hc_cond *c;

    /* && binds tighter than ||. */
    c = parse("%{REQUEST_STATUS} == 418 || %{REQUEST_STATUS} -ge 200 && "
              "%{REQUEST_STATUS} -lt 300");
    assert_non_null(c);
    assert_true(hc_cond_eval(c, 418));
    assert_true(hc_cond_eval(c, 250));
    assert_false(hc_cond_eval(c, 300));
    hc_cond_free(c);

    c = parse("!(%{REQUEST_STATUS} =~ /^5/) && !%{REQUEST_STATUS} == 404");
    assert_non_null(c);
    assert_true(hc_cond_eval(c, 200));
    assert_false(hc_cond_eval(c, 404));
    assert_false(hc_cond_eval(c, 502));
    hc_cond_free(c);
}

static void expect_error(const char *text, const char *cause)
{
    struct hc_cond *c = hc_cond_parse(text, err, sizeof(err));

    if (c != NULL)
        fail_msg("'%s' was taken", text);
    if (strstr(err, cause) == NULL)
        fail_msg("'%s': '%s' lacks '%s'", text, err, cause);
}

static void test_refused(void **state)
{
    expect_error("{%{CONTENT_TYPE} =~ /json/}", "only %{REQUEST_STATUS}");
    expect_error("hc('body') =~ /up/", "hc('body') is not supported");
    expect_error("%{REQUEST_STATUS} -foo 1", "expected =~");
    expect_error("%{REQUEST_STATUS} =~ /^[23/", "bad regex");
    expect_error("%{REQUEST_STATUS} =~ /^2", "closing /");
    expect_error("%{REQUEST_STATUS} =~ ^2", "expected /REGEX/");
    expect_error("%{REQUEST_STATUS} == abc", "expected a status number");
    expect_error("%{REQUEST_STATUS} == 2000", "expected a status number");
    expect_error("%{REQUEST_STATUS} in {200", "expected ',' or '}'");
    expect_error("%{REQUEST_STATUS} in 200", "expected {N, ...}");
    expect_error("(%{REQUEST_STATUS} == 200", "expected ')'");
    expect_error("%{REQUEST_STATUS} == 200 junk", "expected && or ||");
    expect_error("", "expected %{REQUEST_STATUS}");
    expect_error("{}", "expected %{REQUEST_STATUS}");
}

static void test_deep_nesting_refused(void **state)
{
    char text[512];
    int i;

    text[0] = '\0';
    for (i = 0; i < 100; i++)
        strcat(text, "(");
    strcat(text, "%{REQUEST_STATUS} == 200");
    expect_error(text, "nested too deeply");
}

static void test_status_list(void **state)
{
    struct hc_cond *c = hc_cond_parse_status_list("200-399, 418", err,
                                                  sizeof(err));
    int s;

    assert_non_null(c);
    for (s = 100; s < 600; s++)
        assert_int_equal(hc_cond_eval(c, s),
                         (s >= 200 && s <= 399) || s == 418);
    hc_cond_free(c);

    assert_null(hc_cond_parse_status_list("", err, sizeof(err)));
    assert_non_null(strstr(err, "expected status codes"));
    assert_null(hc_cond_parse_status_list("300-200", err, sizeof(err)));
    assert_null(hc_cond_parse_status_list("200,", err, sizeof(err)));
    assert_null(hc_cond_parse_status_list("99", err, sizeof(err)));
    assert_null(hc_cond_parse_status_list("200-600", err, sizeof(err)));
    assert_null(hc_cond_parse_status_list("2xx", err, sizeof(err)));
    assert_null(hc_cond_parse_status_list("-200", err, sizeof(err)));
}

static void test_params(void **state)
{
    struct config c;
    struct member_hc hc;

    memset(&c, 0, sizeof(c));
    memset(&hc, 0, sizeof(hc));
    assert_null(health_param(&c, &hc, "hcmethod", "get"));
    assert_int_equal(hc.method, HC_METHOD_GET);
    assert_null(health_param(&c, &hc, "HCMETHOD", "HEAD11"));
    assert_int_equal(hc.method, HC_METHOD_HEAD11);
    assert_non_null(health_param(&c, &hc, "hcmethod", "CPING"));
    assert_null(health_param(&c, &hc, "hcuri", "/status.php?x=1"));
    assert_string_equal(hc.uri, "/status.php?x=1");
    assert_non_null(health_param(&c, &hc, "hcuri", "status"));
    assert_null(health_param(&c, &hc, "hcinterval", "5"));
    assert_int_equal(hc.interval_ms, 5000);
    assert_null(health_param(&c, &hc, "hcinterval", "250ms"));
    assert_int_equal(hc.interval_ms, 250);
    assert_non_null(health_param(&c, &hc, "hcinterval", "0"));
    assert_non_null(health_param(&c, &hc, "hcinterval", "10ms"));
    assert_non_null(health_param(&c, &hc, "hcinterval", "-1"));
    assert_null(health_param(&c, &hc, "hcpasses", "3"));
    assert_null(health_param(&c, &hc, "hcfails", "2"));
    assert_int_equal(hc.passes, 3);
    assert_int_equal(hc.fails, 2);
    assert_non_null(health_param(&c, &hc, "hcfails", "0"));
    assert_null(health_param(&c, &hc, "slowstart", "30"));
    assert_int_equal(hc.slowstart_ms, 30000);
    assert_null(health_param(&c, &hc, "slowstart", "0"));
    assert_non_null(health_param(&c, &hc, "hcexpr", "undefined"));
    assert_non_null(health_param(&c, &hc, "hctemplate", "undefined"));
    assert_int_equal(hc.set, HC_SET_METHOD | HC_SET_URI | HC_SET_INTERVAL
                     | HC_SET_PASSES | HC_SET_FAILS | HC_SET_SLOWSTART);
    assert_true(health_is_param("hcMethod"));
    assert_false(health_is_param("hcfoo"));
    member_hc_free(&hc);
}

static void test_conditions_and_templates(void **state)
{
    struct config c;
    struct member_hc hc;
    char *argv[] = { "hcmethod=HEAD", "hcuri=/hc", "hcexpr=ok" };

    memset(&c, 0, sizeof(c));
    memset(&hc, 0, sizeof(hc));
    assert_int_equal(health_define_cond(&c, "ok", "{%{REQUEST_STATUS} "
                                        "=~ /^2/}", false, err,
                                        sizeof(err)), 0);
    assert_int_equal(health_define_cond(&c, "ok", "200", true, err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "already defined"));
    assert_int_equal(health_define_cond(&c, "bad", "%{X} == 1", false, err,
                                        sizeof(err)), -1);
    assert_int_equal(health_define_template(&c, "t", 3, argv, err,
                                            sizeof(err)), 0);
    assert_int_equal(health_define_template(&c, "u", 1, argv, err,
                                            sizeof(err)), 0);
    argv[0] = "route=x";
    assert_int_equal(health_define_template(&c, "v", 1, argv, err,
                                            sizeof(err)), -1);
    assert_non_null(strstr(err, "not a health check parameter"));

    /* The template's values, then ours on top. */
    assert_null(health_param(&c, &hc, "hcuri", "/before"));
    assert_null(health_param(&c, &hc, "hctemplate", "t"));
    assert_int_equal(hc.method, HC_METHOD_HEAD);
    assert_string_equal(hc.uri, "/hc");
    assert_string_equal(hc.expr, "ok");
    assert_non_null(hc.cond);
    assert_true(hc_cond_eval(hc.cond, 204));
    assert_false(hc_cond_eval(hc.cond, 302));
    assert_null(health_param(&c, &hc, "hcmethod", "TCP"));
    assert_int_equal(hc.method, HC_METHOD_TCP);

    member_hc_free(&hc);
    health_config_free(c.health);
}

/* A member's own value, else the balancer's (ProxySet), else default. */
static void test_finish(void **state)
{
    struct config c;
    struct balancer b;
    struct member m1, m2, *members[2] = { &m1, &m2 };
    struct balancer *bl[1] = { &b };

    memset(&c, 0, sizeof(c));
    memset(&b, 0, sizeof(b));
    memset(&m1, 0, sizeof(m1));
    memset(&m2, 0, sizeof(m2));
    b.members = members;
    b.nmembers = 2;
    c.balancers = bl;
    c.nbalancers = 1;

    assert_null(health_param(&c, &b.hc, "hcmethod", "GET"));
    assert_null(health_param(&c, &b.hc, "hcuri", "/b"));
    assert_null(health_param(&c, &m1.hc, "hcuri", "/m1"));
    assert_null(health_param(&c, &m1.hc, "hcfails", "3"));
    assert_int_equal(health_config_finish(&c, err, sizeof(err)), 0);

    assert_int_equal(m1.hc.method, HC_METHOD_GET);
    assert_string_equal(m1.hc.uri, "/m1");
    assert_int_equal(m1.hc.fails, 3);
    assert_string_equal(m2.hc.uri, "/b");
    assert_int_equal(m2.hc.fails, 1);
    assert_int_equal(m2.hc.passes, 1);
    assert_int_equal(m2.hc.interval_ms, HC_DEFAULT_INTERVAL_MS);
    assert_int_equal(m2.hc.slowstart_ms, 0);
    assert_null(m2.hc.cond);

    member_hc_free(&m1.hc);
    member_hc_free(&m2.hc);
    member_hc_free(&b.hc);
    health_config_free(c.health);
}

static void test_slow_start(void **state)
{
    struct member m;
    int64_t now = balancer_now_ms();
    int64_t f;

    memset(&m, 0, sizeof(m));
    assert_int_equal(health_effective_factor(&m, 100), 100);

    /* No window: coming back changes nothing. */
    health_member_up(&m, now);
    assert_int_equal(atomic_load(&m.up_since_ms), 0);

    m.hc.slowstart_ms = 10000;
    health_member_up(&m, now);
    f = health_effective_factor(&m, 1000);
    assert_in_range(f, 100, 120);           /* ~10% at once */

    atomic_store(&m.up_since_ms, now - 5000);
    f = health_effective_factor(&m, 1000);
    assert_in_range(f, 530, 570);           /* halfway: ~55% */

    atomic_store(&m.up_since_ms, now - 10001);
    assert_int_equal(health_effective_factor(&m, 1000), 1000);
    assert_int_equal(atomic_load(&m.up_since_ms), 0);

    /* Never zero, even for the smallest factor. */
    health_member_up(&m, balancer_now_ms());
    assert_true(health_effective_factor(&m, 1) >= 1);
}

static void test_method_names(void **state)
{
    assert_string_equal(hc_method_name(HC_METHOD_NONE), "NONE");
    assert_string_equal(hc_method_name(HC_METHOD_TCP), "TCP");
    assert_string_equal(hc_method_name(HC_METHOD_GET11), "GET11");
    assert_string_equal(hc_method_name(99), "NONE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_condition),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_deep_nesting_refused),
        cmocka_unit_test(test_status_list),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_conditions_and_templates),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_slow_start),
        cmocka_unit_test(test_method_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
