/*
 * test_location.c - <Location> sections: path matching, Require ranges,
 * the configuration's checks, access decisions, and the handler helpers
 * (form values, HTML escaping).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "handler.h"
#include "location.h"

static char err[512];

static struct config *load(const char *text)
{
    char full[2048];
    struct config_options opt = { true, true };

    snprintf(full, sizeof(full), "Listen 127.0.0.1:8080\n%s", text);
    err[0] = '\0';
    return config_load_string_options("t.conf", full, &opt, err,
                                      sizeof(err));
}

static void test_path_matches(void **state)
{
    (void)state;
    assert_true(location_path_matches("/m", "/m", 2));
    assert_true(location_path_matches("/m", "/m/x", 4));
    assert_true(location_path_matches("/m", "//m", 3));
    assert_false(location_path_matches("/m", "/mx", 3));
    assert_false(location_path_matches("/m", "/", 1));
    assert_true(location_path_matches("/m/", "/m/x", 4));
    assert_false(location_path_matches("/m/", "/m", 2));
    assert_true(location_path_matches("/", "/anything", 9));
    /* the length is the limit, not a NUL */
    assert_true(location_path_matches("/m", "/mx", 2));
}

static void test_ranges(void **state)
{
    struct ip_range r;
    const char *why;

    (void)state;
    assert_int_equal(location_parse_range("127.0.0.1", &r, &why), 0);
    assert_true(location_range_has(&r, "127.0.0.1"));
    assert_false(location_range_has(&r, "127.0.0.2"));
    assert_true(location_range_has(&r, "::ffff:127.0.0.1"));

    assert_int_equal(location_parse_range("10.1", &r, &why), 0);
    assert_true(location_range_has(&r, "10.1.200.3"));
    assert_false(location_range_has(&r, "10.2.0.1"));

    assert_int_equal(location_parse_range("10.0.0.0/8", &r, &why), 0);
    assert_true(location_range_has(&r, "10.255.0.1"));
    assert_int_equal(location_parse_range("192.168.0.0/255.255.0.0", &r,
                                          &why), 0);
    assert_true(location_range_has(&r, "192.168.3.4"));
    assert_false(location_range_has(&r, "192.169.3.4"));

    assert_int_equal(location_parse_range("2001:db8::/32", &r, &why), 0);
    assert_true(location_range_has(&r, "2001:db8:1::5"));
    assert_false(location_range_has(&r, "2001:db9::5"));
    assert_false(location_range_has(&r, "10.0.0.1"));

    assert_int_equal(location_parse_range("10.0.0.0/33", &r, &why), -1);
    assert_int_equal(location_parse_range("300.1", &r, &why), -1);
    assert_int_equal(location_parse_range("host.example", &r, &why), -1);
    assert_int_equal(location_parse_range("", &r, &why), -1);
}

static void test_config_reads_location(void **state)
{
    struct config *c = load("<Location /balancer-manager>\n"
                            "  SetHandler balancer-manager\n"
                            "  Require ip 127.0.0.1 10.0.0.0/8\n"
                            "  Require local\n"
                            "</Location>\n");

    (void)state;
    assert_non_null(c);
    assert_int_equal(c->nlocations, 1);
    assert_string_equal(c->locations[0].handler, "balancer-manager");
    assert_int_equal(c->locations[0].nrequires, 2);
    assert_int_equal(c->locations[0].requires[0].nranges, 2);
    assert_ptr_equal(handler_location(c, "/balancer-manager", 17),
                     &c->locations[0]);
    assert_null(handler_location(c, "/other", 6));
    assert_true(handler_allowed(c, "/balancer-manager", 17, "10.2.3.4", -1));
    assert_false(handler_allowed(c, "/balancer-manager", 17, "192.0.2.1",
                                 -1));
    assert_true(handler_allowed(c, "/other", 6, "192.0.2.1", -1));
    config_free(c);
}

static void test_later_sections_win(void **state)
{
    struct config *c = load("<Location />\n  Require all denied\n"
                            "</Location>\n"
                            "<Location /m>\n  SetHandler balancer-manager\n"
                            "  Require all granted\n</Location>\n"
                            "<Location /m/off>\n  SetHandler None\n"
                            "</Location>\n");

    (void)state;
    assert_non_null(c);
    assert_false(handler_allowed(c, "/x", 2, "127.0.0.1", -1));
    assert_true(handler_allowed(c, "/m", 2, "192.0.2.1", -1));
    assert_non_null(handler_location(c, "/m/x", 4));
    assert_null(handler_location(c, "/m/off", 6));
    config_free(c);
}

struct error_case {
    const char *text;
    const char *message;
};

static const struct error_case error_cases[] = {
    { "<Location /m>\nSetHandler nothing\n</Location>\n",
      "t.conf:3: SetHandler: unknown handler 'nothing'" },
    { "SetHandler balancer-manager\n",
      "t.conf:2: SetHandler is not allowed at top level" },
    { "<Location /m>\nRequire host example.com\n</Location>\n",
      "t.conf:3: Require host is not supported yet" },
    { "<Location /m>\nRequire not ip 10.0.0.1\n</Location>\n",
      "t.conf:3: Require not: negation needs <RequireAll>" },
    { "<Location /m>\nRequire ip 10.0.0.0/40\n</Location>\n",
      "t.conf:3: Require ip: expected /BITS (0 to 32)" },
    { "<Location /m>\nRequire ip\n</Location>\n",
      "t.conf:3: Require ip: expected one or more addresses" },
    { "<Location /m>\nRequire all maybe\n</Location>\n",
      "t.conf:3: Require all: expected 'granted' or 'denied'" },
    { "<Location /m>\nProxyPass http://127.0.0.1:9/\n</Location>\n",
      "t.conf:3: ProxyPass is not allowed inside <Location>" },
    { "<Location m>\n</Location>\n",
      "t.conf:2: <Location>: expected a path starting with '/'" },
    { "<Location /m*>\n</Location>\n",
      "t.conf:2: <Location /m*>: wildcards are not supported yet" },
    { "<Location /a>\n<Location /b>\n</Location>\n</Location>\n",
      "t.conf:3: <Location> is not allowed inside <Location>" },
    { "BalancerSessionCookies a=b\n",
      "t.conf:2: BalancerSessionCookies: expected cookie names" },
};

static void test_errors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        struct config *c = load(error_cases[i].text);

        if (c != NULL || strncmp(err, error_cases[i].message,
                                 strlen(error_cases[i].message)) != 0)
            fail_msg("case %zu: expected %s\nfound %s", i,
                     error_cases[i].message, c ? "(loaded)" : err);
    }
}

static void test_session_cookies(void **state)
{
    struct config *c = load("BalancerSessionCookies SID other\n");

    (void)state;
    assert_non_null(c);
    assert_string_equal(c->session_cookies[0], "SID");
    assert_string_equal(c->session_cookies[1], "other");
    assert_null(c->session_cookies[2]);
    config_free(c);
    c = load("BalancerSessionCookies None\n");
    assert_non_null(c);
    assert_null(c->session_cookies[0]);
    config_free(c);
}

static void test_form_values(void **state)
{
    char buf[16];
    const char *q = "a=1&b=x+y%3C&c&dd=%00&e=0123456789abcdefg";

    (void)state;
    assert_int_equal(handler_form_value(q, strlen(q), "a", buf, 16), 1);
    assert_string_equal(buf, "1");
    assert_int_equal(handler_form_value(q, strlen(q), "b", buf, 16), 4);
    assert_string_equal(buf, "x y<");
    assert_int_equal(handler_form_value(q, strlen(q), "c", buf, 16), 0);
    assert_int_equal(handler_form_value(q, strlen(q), "d", buf, 16), -1);
    assert_int_equal(handler_form_value(q, strlen(q), "dd", buf, 16), -2);
    assert_int_equal(handler_form_value(q, strlen(q), "e", buf, 16), -2);
    /* a value cut by the length */
    assert_int_equal(handler_form_value(q, 3, "a", buf, 16), 1);
    assert_int_equal(handler_form_value("a=%4", 4, "a", buf, 16), 2);
    assert_string_equal(buf, "%4");
}

static void test_html_escape(void **state)
{
    struct hbuf b = { 0 };

    (void)state;
    hbuf_html(&b, "<a href=\"x\">'&'</a>\x01", 20);
    hbuf_put(&b, "", 1);
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
                        "&#39;&lt;/a&gt;\xef\xbf\xbd");
    b.len = 0;
    hbuf_url(&b, "http://a b/~x", 13);
    hbuf_put(&b, "", 1);
    assert_string_equal(b.data, "http%3A%2F%2Fa%20b%2F~x");
    hbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_matches),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_config_reads_location),
        cmocka_unit_test(test_later_sections_win),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_session_cookies),
        cmocka_unit_test(test_form_values),
        cmocka_unit_test(test_html_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
