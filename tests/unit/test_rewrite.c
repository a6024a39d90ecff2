/*
 * test_rewrite.c - ProxyPassReverse on Location values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rewrite.h"

#define FRONT "http://front.example"

static struct member members[3];
static struct member *member_list[3] = { &members[0], &members[1],
                                         &members[2] };
static struct balancer cluster = { .name = "balancer://cluster",
                                   .members = member_list };
static struct proxy_pass_reverse reverses[4];
static struct config conf = { .reverses = reverses };

static void add_member(const char *name)
{
    members[cluster.nmembers++].name = (char *)name;
}

static void add_reverse(const char *path, const char *url)
{
    struct proxy_pass_reverse *r = &reverses[conf.nreverses++];

    r->path = (char *)path;
    r->url = (char *)url;
    r->balancer = strncmp(url, "balancer://", 11) == 0 ? &cluster : NULL;
}

static int reset(void **state)
{
    conf.nreverses = 0;
    cluster.nmembers = 0;
    memset(members, 0, sizeof(members));
    return 0;
}

static void check(const char *value, const char *expected)
{
    char buf[512];
    int n = rewrite_location(&conf, value, strlen(value), FRONT,
                             strlen(FRONT), buf, sizeof(buf));

    if (expected == NULL) {
        assert_int_equal(n, 0);
        return;
    }
    assert_int_equal(n, (int)strlen(expected));
    assert_string_equal(buf, expected);
}

/* The guide: ProxyPassReverse / balancer://cluster/ */
static void test_guide_rule(void **state)
{
    add_member("http://127.0.0.1:8081");
    add_member("http://127.0.0.1:8082");
    add_reverse("/", "balancer://cluster/");

    check("http://127.0.0.1:8081/login.php?x", FRONT "/login.php?x");
    check("http://127.0.0.1:8082/", FRONT "/");
    check("http://127.0.0.1:8082", FRONT "/");
    check("http://127.0.0.1:8082?a=b", FRONT "/?a=b");
    check("HTTP://127.0.0.1:8082/A", FRONT "/A");
    check("http://127.0.0.1:8083/login.php", NULL);
    check("http://other.example/login.php", NULL);
    check("https://127.0.0.1:8081/login.php", NULL);
    check("/login.php", NULL);
    check("login.php", NULL);
    check("", NULL);
}

static void test_host_prefix_is_not_a_match(void **state)
{
    add_member("http://10.0.0.1:80");
    add_member("http://10.0.0.1");
    add_reverse("/", "balancer://cluster/");

    check("http://10.0.0.10/x", NULL);
    check("http://10.0.0.1:8080/x", NULL);
    check("http://10.0.0.1:80/x", FRONT "/x");
    check("http://10.0.0.1/x", FRONT "/x");
    check("http://10.0.0.1.evil/x", NULL);
    check("http://user@10.0.0.1/x", NULL);
}

static void test_member_and_rule_paths(void **state)
{
    /* Apache's example: member http://example.com/foo,
     * ProxyPassReverse /bash balancer://alias/bar maps
     * http://example.com/foo/bar/that to /bash/that */
    add_member("http://example.com/foo");
    add_reverse("/bash", "balancer://cluster/bar");

    check("http://example.com/foo/bar/that", FRONT "/bash/that");
    check("http://example.com/foo/bar", FRONT "/bash");
    check("http://example.com/foo/that", NULL);
    check("http://example.com/bar/that", NULL);
}

static void test_plain_url_rules_in_order(void **state)
{
    add_reverse("/app/", "http://backend:8080/app/");
    add_reverse("/", "http://backend:8080/");

    check("http://backend:8080/app/x", FRONT "/app/x");
    check("http://backend:8080/other", FRONT "/other");
    check("http://BACKEND:8080/other", FRONT "/other");
    check("http://backend/other", NULL);
    check("http://backend:8080", FRONT "/");
}

static void test_path_rule(void **state)
{
    add_reverse("/front/", "/back/");

    check("http://anything/back/x", FRONT "/front/x");
    check("/back/y", FRONT "/front/y");
    check("/other", NULL);
}

static void test_ipv6_member(void **state)
{
    add_member("http://[::1]:8081");
    add_reverse("/", "balancer://cluster");

    check("http://[::1]:8081/a", FRONT "/a");
    check("http://[::1]/a", NULL);
    check("http://[::1]:8081x/a", NULL);
}

static void test_buffer_too_small(void **state)
{
    char buf[16];
    const char *v = "http://127.0.0.1:8081/login.php";

    add_member("http://127.0.0.1:8081");
    add_reverse("/", "balancer://cluster/");
    assert_int_equal(rewrite_location(&conf, v, strlen(v), FRONT,
                                      strlen(FRONT), buf, sizeof(buf)), -1);
    assert_int_equal(rewrite_location(&conf, v, strlen(v), "", 0, buf,
                                      sizeof(buf)), 10);
    assert_string_equal(buf, "/login.php");
}

static void test_no_balancer(void **state)
{
    /* a rule naming a balancer the configuration lacks matches nothing */
    add_reverse("/", "balancer://cluster/");
    reverses[0].balancer = NULL;
    check("http://127.0.0.1:8081/x", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_guide_rule, reset),
        cmocka_unit_test_setup(test_host_prefix_is_not_a_match, reset),
        cmocka_unit_test_setup(test_member_and_rule_paths, reset),
        cmocka_unit_test_setup(test_plain_url_rules_in_order, reset),
        cmocka_unit_test_setup(test_path_rule, reset),
        cmocka_unit_test_setup(test_ipv6_member, reset),
        cmocka_unit_test_setup(test_buffer_too_small, reset),
        cmocka_unit_test_setup(test_no_balancer, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
