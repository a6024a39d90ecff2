/* test_target.c - request-target normalisation (target.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "target.h"

/* Normalise in; returns the result as a string ("!" on refusal), and
 * the authority in host when asked. */
static const char *norm(const char *in, char *host)
{
    static char buf[512], out[512];
    size_t len = strlen(in), start;
    const char *auth, *err = NULL;
    size_t alen;

    memcpy(buf, in, len);
    if (target_normalize(buf, &len, &start, &auth, &alen, &err) < 0) {
        assert_non_null(err);
        return "!";
    }
    snprintf(out, sizeof(out), "%.*s", (int)len, buf + start);
    if (host != NULL)
        snprintf(host, 128, "%.*s", (int)alen, auth ? auth : "");
    return out;
}

static void test_origin_form(void **state)
{
    assert_string_equal(norm("/", NULL), "/");
    assert_string_equal(norm("/a/b?x=/../y", NULL), "/a/b?x=/../y");
    assert_string_equal(norm("/x/../private", NULL), "/private");
    assert_string_equal(norm("/x/./y/", NULL), "/x/y/");
    assert_string_equal(norm("/a/b/..", NULL), "/a/");
    assert_string_equal(norm("/a/b/.", NULL), "/a/b/");
    assert_string_equal(norm("/a/..", NULL), "/");
    assert_string_equal(norm("/a//../b", NULL), "/a/b");
    assert_string_equal(norm("/a/...", NULL), "/a/...");
    assert_string_equal(norm("/a/.b/..c", NULL), "/a/.b/..c");
    assert_string_equal(norm("/x/%2e%2E/private?q", NULL), "/private?q");
    assert_string_equal(norm("/x/.%2e/private", NULL), "/private");
    assert_string_equal(norm("/x/%2e/y", NULL), "/x/y");
    assert_string_equal(norm("/%2e%2e%2e", NULL), "/%2e%2e%2e");
    assert_string_equal(norm("/..", NULL), "!");
    assert_string_equal(norm("/a/../..", NULL), "!");
    assert_string_equal(norm("/%2e%2e/etc", NULL), "!");
    assert_string_equal(norm("*", NULL), "*");
    assert_string_equal(norm("example.com:443", NULL), "example.com:443");
}

static void test_absolute_form(void **state)
{
    char host[128];

    assert_string_equal(norm("http://h.example:81/a/../b?q", host),
                        "/b?q");
    assert_string_equal(host, "h.example:81");
    assert_string_equal(norm("HTTP://h", host), "/");
    assert_string_equal(host, "h");
    assert_string_equal(norm("http://h?q=1", host), "/?q=1");
    assert_string_equal(host, "h");
    assert_string_equal(norm("https://h/x", host), "/x");
    assert_string_equal(host, "h");
    assert_string_equal(norm("http://u@h/x", NULL), "!");
    assert_string_equal(norm("http:///x", NULL), "!");
    assert_string_equal(norm("http://h/../x", NULL), "!");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_form),
        cmocka_unit_test(test_absolute_form),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
