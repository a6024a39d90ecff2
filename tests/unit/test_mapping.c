/*
 * test_mapping.c - ProxyPass prefix matching (mod_proxy's rules) and the
 * request-target sent to a member.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "mapping.h"

static struct proxy_pass passes[8];
static struct config conf = { .passes = passes };

static void add_pass(const char *path, const char *url_path, bool exclude)
{
    struct proxy_pass *p = &passes[conf.npasses++];

    memset(p, 0, sizeof(*p));
    p->path = (char *)path;
    p->url_path = (char *)url_path;
    p->exclude = exclude;
}

static int reset(void **state)
{
    conf.npasses = 0;
    return 0;
}

static const struct proxy_pass *find(const char *path)
{
    return mapping_find(&conf, path, strlen(path));
}

static void check_target(const struct proxy_pass *p, const char *member_path,
                         const char *target, const char *expected)
{
    struct member m = { .path = (char *)member_path };
    char buf[256];
    int n = mapping_backend_target(p, &m, target, strlen(target), buf,
                                   sizeof(buf));

    assert_int_equal(n, (int)strlen(expected));
    assert_string_equal(buf, expected);
}

static void test_first_match_wins(void **state)
{
    add_pass("/static/", NULL, true);
    add_pass("/app/", "/x/", false);
    add_pass("/", "/", false);

    assert_null(find("/static/a.css"));
    assert_ptr_equal(find("/app/y"), &passes[1]);
    assert_ptr_equal(find("/"), &passes[2]);
    assert_ptr_equal(find("/other"), &passes[2]);
    /* "/static/" needs its slash: "/static" goes to "/" */
    assert_ptr_equal(find("/static"), &passes[2]);
}

static void test_exclusion_after_is_too_late(void **state)
{
    /* Apache's docs: exclusions must come first; here "/" wins. */
    add_pass("/", "/", false);
    add_pass("/static/", NULL, true);
    assert_ptr_equal(find("/static/a.css"), &passes[0]);
}

static void test_whole_segment(void **state)
{
    add_pass("/app", "", false);

    assert_non_null(find("/app"));
    assert_non_null(find("/app/"));
    assert_non_null(find("/app/x"));
    assert_null(find("/apple"));
    assert_null(find("/ap"));
    assert_null(find("/"));
    assert_null(find("/App"));
}

static void test_slashes_collapse(void **state)
{
    add_pass("/a/b/", "/", false);

    assert_non_null(find("//a///b/c"));
    assert_non_null(find("/a//b/"));
    assert_null(find("/ab/"));
    assert_null(find("/a/b"));
    check_target(&passes[0], "", "//a///b/c?q=1", "/c?q=1");
}

static void test_percent_decoded(void **state)
{
    add_pass("/app/", NULL, true);
    add_pass("/", "/", false);

    assert_null(find("/%61pp/secret"));
    assert_null(find("/ap%70/secret"));
    /* an encoded slash is not a separator */
    assert_ptr_equal(find("/app%2Fsecret"), &passes[1]);
    assert_ptr_equal(find("/%zzpp/"), &passes[1]);
    assert_ptr_equal(find("/app%"), &passes[1]);
}

static void test_targets(void **state)
{
    add_pass("/", "/", false);
    add_pass("/app/", "/x/", false);
    add_pass("/app", "", false);
    add_pass("/svc", "/", false);

    check_target(&passes[0], "", "/a/b?x=1", "/a/b?x=1");
    check_target(&passes[0], "", "/", "/");
    check_target(&passes[0], "/pm", "/a", "/pm/a");
    check_target(&passes[0], "", "http://front/a?b", "/a?b");
    check_target(&passes[1], "/pm", "/app/y", "/pm/x/y");
    check_target(&passes[1], "", "/app/", "/x/");
    check_target(&passes[2], "", "/app", "/");
    check_target(&passes[2], "", "/app?q", "/?q");
    check_target(&passes[2], "", "/app/z", "/z");
    check_target(&passes[2], "/pm", "/app/z?k=v", "/pm/z?k=v");
    check_target(&passes[3], "", "/svc/z", "/z");
    check_target(&passes[3], "", "/svc", "/");
    /* the query is passed on untouched, slashes and all */
    check_target(&passes[0], "", "/a?u=//x", "/a?u=//x");
}

static void test_target_too_small(void **state)
{
    struct member m = { .path = "/pm" };
    char buf[8];

    add_pass("/", "/", false);
    assert_int_equal(mapping_backend_target(&passes[0], &m, "/abc", 4, buf,
                                            sizeof(buf)), 7);
    assert_string_equal(buf, "/pm/abc");
    assert_int_equal(mapping_backend_target(&passes[0], &m, "/abcd", 5,
                                            buf, sizeof(buf)), -1);
    assert_int_equal(mapping_backend_target(&passes[0], &m, "/", 1, buf, 0),
                     -1);
    m.path = "";
    assert_int_equal(mapping_backend_target(&passes[0], &m, "/", 1, buf, 1),
                     -1);
    assert_int_equal(mapping_backend_target(&passes[0], &m, "/", 1, buf, 2),
                     1);
    assert_string_equal(buf, "/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_first_match_wins, reset),
        cmocka_unit_test_setup(test_exclusion_after_is_too_late, reset),
        cmocka_unit_test_setup(test_whole_segment, reset),
        cmocka_unit_test_setup(test_slashes_collapse, reset),
        cmocka_unit_test_setup(test_percent_decoded, reset),
        cmocka_unit_test_setup(test_targets, reset),
        cmocka_unit_test_setup(test_target_too_small, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
