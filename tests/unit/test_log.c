/*
 * test_log.c - the error log line form, LogLevel names, the access log
 * format language (Apache's output rules) and buffered access log writes.
 */
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* balancer.c provides the real one; this one lets the test link alone. */
__attribute__((weak)) const char *pick_reason_name(enum pick_reason reason)
{
    static const char *const names[] = { "none", "sticky", "redirect",
                                         "lbmethod", "failover", "standby",
                                         "retry" };
    return names[reason];
}

/* 2026-12-03 16:59:31.123456 UTC */
#define START_US 1796317171123456LL

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_log.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_tmpdir(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *read_file(const char *path)
{
    static char buf[1 << 22];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
    return buf;
}

static void add_header(struct http1_request *req, const char *name,
                       const char *value)
{
    struct http1_header *h = &req->headers[req->num_headers++];

    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = strlen(value);
}

static struct http1_request request;
static struct http1_header resp_headers[4];
static struct member members[2];
static struct member *member_list[2] = { &members[0], &members[1] };
static struct balancer cluster;

/* A proxied GET, sticky route server1 taken from BALANCEID. */
static struct access_record make_record(void)
{
    static const char line[] = "GET /a/b?x=1 HTTP/1.1";
    struct access_record r;

    memset(&request, 0, sizeof(request));
    request.method = "GET";
    request.method_len = 3;
    request.target = "/a/b?x=1";
    request.target_len = 8;
    request.version_minor = 1;
    add_header(&request, "Host", "front.example:8080");
    add_header(&request, "User-Agent", "curl/8.0");
    add_header(&request, "Referer", "http://front.example/");
    add_header(&request, "Cookie", "a=1; BALANCEID=abc.server1 ; b=2");

    resp_headers[0] = (struct http1_header){ "Content-Type", 12,
        "text/html; charset=UTF-8", 24 };
    resp_headers[1] = (struct http1_header){ "Set-Cookie", 10, "s=1", 3 };
    resp_headers[2] = (struct http1_header){ "Set-Cookie", 10, "t=2", 3 };

    memset(&cluster, 0, sizeof(cluster));
    cluster.name = "balancer://cluster";
    cluster.sticky_cookie = "BALANCEID";
    cluster.members = member_list;
    cluster.nmembers = 2;
    memset(members, 0, sizeof(members));
    members[0].name = "http://127.0.0.1:8081";
    members[0].route = "server1";
    members[1].name = "http://127.0.0.1:8082";
    members[1].route = "server2";

    memset(&r, 0, sizeof(r));
    r.client_ip = "127.0.0.1";
    r.client_port = 50612;
    r.local_ip = "127.0.0.2";
    r.local_port = 8080;
    r.server_name = "front.example";
    r.start_us = START_US;
    r.duration_us = 2500123;
    r.req = &request;
    r.request_line = line;
    r.request_line_len = strlen(line);
    r.status = 200;
    r.body_bytes = 1234;
    r.bytes_received = 100;
    r.bytes_sent = 1500;
    r.resp_headers = resp_headers;
    r.resp_num_headers = 3;
    r.conn_status = '+';
    r.balancer = &cluster;
    r.member = &members[1];
    r.sticky_value = "abc.server1";
    r.sticky_value_len = 11;
    r.route_requested = "server1";
    r.route_requested_len = 7;
    r.decision = PICK_FAILOVER;
    r.attempts = 2;
    r.failover_from = &members[0];
    r.route_changed = true;
    return r;
}

/* Render text for r and compare with expected (without the '\n'). */
static void check_render(const char *text, const struct access_record *r,
                         const char *expected)
{
    char err[256] = "";
    struct log_format *f = log_format_compile(text, err, sizeof(err));
    char buf[4096];
    size_t n;

    if (f == NULL)
        fail_msg("compile %s: %s", text, err);
    n = log_format_render(f, r, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(buf[n - 1], '\n');
    buf[n - 1] = '\0';
    assert_string_equal(buf, expected);
    log_format_free(f);
}

static void check_compile_error(const char *text, const char *cause)
{
    char err[256] = "";
    struct log_format *f = log_format_compile(text, err, sizeof(err));

    assert_null(f);
    if (strstr(err, cause) == NULL)
        fail_msg("%s: error \"%s\" lacks \"%s\"", text, err, cause);
}

static void test_level_names(void **state)
{
    assert_int_equal(log_level_from_name("emerg"), LOG_LEVEL_EMERG);
    assert_int_equal(log_level_from_name("error"), LOG_LEVEL_ERR);
    assert_int_equal(log_level_from_name("warn"), LOG_LEVEL_WARN);
    assert_int_equal(log_level_from_name("DEBUG"), LOG_LEVEL_DEBUG);
    assert_int_equal(log_level_from_name("trace1"), LOG_LEVEL_TRACE1);
    assert_int_equal(log_level_from_name("trace8"), LOG_LEVEL_TRACE8);
    assert_int_equal(log_level_from_name("trace9"), -1);
    assert_int_equal(log_level_from_name("warning"), -1);
    assert_int_equal(log_level_from_name(""), -1);
    assert_string_equal(log_level_name(LOG_LEVEL_NOTICE), "notice");
    assert_string_equal(log_level_name(99), "unknown");
    assert_int_equal(log_current_level, LOG_LEVEL_WARN);
}

static void test_error_log_line(void **state)
{
    char path[128], err[256], pattern[256];
    regex_t re;
    char *text;
    int saved = log_current_level;

    snprintf(path, sizeof(path), "%s/error_log", tmpdir);
    assert_int_equal(log_open_error(path, err, sizeof(err)), 0);

    log_current_level = LOG_LEVEL_DEBUG;
    log_set_client("127.0.0.1:50612");
    log_msg(LOG_LEVEL_DEBUG, "proxy_balancer", "member %s chosen",
            "http://h:1");
    log_set_client(NULL);
    log_msg(LOG_LEVEL_ERR, "proxy", "bad\nline");
    log_msg(LOG_LEVEL_TRACE1, "proxy", "not shown");
    log_current_level = saved;

    assert_int_equal(log_open_error(NULL, err, sizeof(err)), 0);

    text = read_file(path);
    snprintf(pattern, sizeof(pattern), "^\\[[A-Z][a-z]{2} [A-Z][a-z]{2} "
             "[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6} [0-9]{4}\\] "
             "\\[proxy_balancer:debug\\] \\[pid %d:tid [0-9]+\\] "
             "\\[client 127\\.0\\.0\\.1:50612\\] member http://h:1 chosen\n"
             "\\[[^]]*\\] \\[proxy:error\\] \\[pid [0-9]+:tid [0-9]+\\] "
             "bad\\\\x0aline\n$", (int)getpid());
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0);
    if (regexec(&re, text, 0, NULL, 0) != 0)
        fail_msg("error log:\n%s", text);
    regfree(&re);
}

/* Bytes >= 0x80, controls and backslashes are escaped alike (breaker
 * 17: a sticky value's raw bytes came through while tabs were escaped). */
static void test_error_log_escapes(void **state)
{
    char path[128], err[256];
    char *text;
    int saved = log_current_level;

    snprintf(path, sizeof(path), "%s/error_log_esc", tmpdir);
    assert_int_equal(log_open_error(path, err, sizeof(err)), 0);
    log_current_level = LOG_LEVEL_DEBUG;
    log_msg(LOG_LEVEL_ERR, "proxy", "v=%s.", "a\tb\xc3\xa9" "c\\x41\x7f\xff");
    log_current_level = saved;
    assert_int_equal(log_open_error(NULL, err, sizeof(err)), 0);

    text = read_file(path);
    if (strstr(text, "] v=a\\x09b\\xc3\\xa9c\\\\x41\\x7f\\xff.\n") == NULL)
        fail_msg("error log:\n%s", text);
}

static void test_error_log_refused(void **state)
{
    char err[256] = "";

    assert_int_equal(log_open_error("|/usr/bin/rotatelogs x", err,
                                    sizeof(err)), -1);
    assert_non_null(strstr(err, "piped logs not supported yet"));
    assert_int_equal(log_open_error("/nonexistent/dir/log", err,
                                    sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/dir/log"));
}

static void test_common_and_combined(void **state)
{
    struct access_record r = make_record();

    check_render(LOG_FORMAT_COMMON, &r,
                 "127.0.0.1 - - [03/Dec/2026:16:59:31 +0000] "
                 "\"GET /a/b?x=1 HTTP/1.1\" 200 1234");
    check_render(LOG_FORMAT_COMBINED, &r,
                 "127.0.0.1 - - [03/Dec/2026:16:59:31 +0000] "
                 "\"GET /a/b?x=1 HTTP/1.1\" 200 1234 "
                 "\"http://front.example/\" \"curl/8.0\"");
    check_render(LOG_FORMAT_BALANCER, &r,
                 "127.0.0.1 - - [03/Dec/2026:16:59:31 +0000] "
                 "\"GET /a/b?x=1 HTTP/1.1\" 200 1234 "
                 "\"http://front.example/\" \"curl/8.0\" "
                 "balancer=balancer://cluster member=http://127.0.0.1:8082 "
                 "route=server1 sticky=abc.server1 decision=failover "
                 "attempts=2 failover=http://127.0.0.1:8081 us=2500123");
}

static void test_bytes_and_status(void **state)
{
    struct access_record r = make_record();

    r.body_bytes = 0;
    r.status = 304;
    check_render("%b %B %s %>s %I %O %S", &r, "- 0 304 304 100 1500 1600");
    r.status = 0;
    check_render("%s|%%|100%%", &r, "-|%|100%");
}

static void test_times(void **state)
{
    struct access_record r = make_record();

    check_render("%{sec}t %{msec}t %{usec}t", &r,
                 "1796317171 1796317171123 1796317171123456");
    check_render("%{msec_frac}t %{usec_frac}t %{end:sec}t %{begin:sec}t",
                 &r, "123 123456 1796317173 1796317171");
    check_render("%{%Y-%m-%d %H:%M:%S}t|%{end:%S}t", &r,
                 "2026-12-03 16:59:31|33");
    check_render("%{end:}t", &r, "[03/Dec/2026:16:59:33 +0000]");
    check_render("%D %T %{ms}T %{us}T %{s}T", &r,
                 "2500123 2 2500 2500123 2");
    r.start_us = 1796317171000042LL;
    check_render("%{msec_frac}t %{usec_frac}t", &r, "000 000042");
}

static void test_request_parts(void **state)
{
    struct access_record r = make_record();

    check_render("%m %U %q %H %h %a %{c}a %A %p %{remote}p %{local}p", &r,
                 "GET /a/b ?x=1 HTTP/1.1 127.0.0.1 127.0.0.1 127.0.0.1 "
                 "127.0.0.2 8080 50612 8080");
    check_render("%v %V %X %l %u", &r,
                 "front.example front.example + - -");

    request.target = "http://h:1/p/q";
    request.target_len = strlen(request.target);
    request.version_minor = 0;
    check_render("[%U][%q][%H]", &r, "[/p/q][][HTTP/1.0]");

    r.req = NULL;
    r.request_line = NULL;
    r.conn_status = 'X';
    check_render("%m %U [%q] %H %{Host}i %r %V %X", &r,
                 "- - [] - - - front.example X");
}

static void test_headers(void **state)
{
    struct access_record r = make_record();

    add_header(&request, "Accept", "a/b");
    add_header(&request, "accept", "c/d");
    check_render("%{Accept}i|%{X-None}i|%{user-agent}i", &r,
                 "a/b, c/d|-|curl/8.0");
    check_render("%{Content-Type}o|%{Set-Cookie}o|%{Server}o", &r,
                 "text/html|s=1, t=2|-");
    check_render("%{BALANCEID}C|%{a}C|%{b}C|%{BALANCE}C", &r,
                 "abc.server1|1|2|-");
    r.resp_headers = NULL;
    check_render("%{Server}o", &r, "-");
}

static void test_escaping(void **state)
{
    struct access_record r = make_record();
    static const char line[] = "GET /\"x\\y\x01\xff HTTP/1.1";

    add_header(&request, "X-Evil", "a\"b\\c\n\r\t\b\v\x7f\x80z");
    r.request_line = line;
    r.request_line_len = strlen(line);
    check_render("\"%r\" %{X-Evil}i", &r,
                 "\"GET /\\\"x\\\\y\\x01\\xff HTTP/1.1\" "
                 "a\\\"b\\\\c\\n\\r\\t\\b\\v\\x7f\\x80z");
    /* literal text: mod_log_config's \n and \t escapes */
    check_render("a\\tb", &r, "a\tb");
}

static void test_conditions(void **state)
{
    struct access_record r = make_record();

    check_render("%400,501{User-Agent}i %!200,304{Referer}i %200s", &r,
                 "- - 200");
    r.status = 501;
    check_render("%400,501{User-Agent}i %!200,304{Referer}i %>s", &r,
                 "curl/8.0 http://front.example/ 501");
    check_render("%<400,501{User-Agent}i", &r, "curl/8.0");
}

static void test_balancer_env(void **state)
{
    struct access_record r = make_record();
    const char *env = "%{BALANCER_NAME}e %{BALANCER_WORKER_NAME}e "
                      "%{BALANCER_WORKER_ROUTE}e %{BALANCER_SESSION_STICKY}e "
                      "%{BALANCER_SESSION_ROUTE}e %{BALANCER_ROUTE_CHANGED}e "
                      "%{BALANCER_DECISION}e %{BALANCER_ATTEMPTS}e "
                      "%{BALANCER_FAILOVER_FROM}e %{HOME}e";

    check_render(env, &r,
                 "balancer://cluster http://127.0.0.1:8082 server2 BALANCEID "
                 "server1 1 failover 2 http://127.0.0.1:8081 -");

    /* a member without a route: Apache's variable is set, but empty */
    members[1].route = "";
    r.route_changed = false;
    r.failover_from = NULL;
    r.decision = PICK_LBMETHOD;
    r.attempts = 1;
    r.sticky_value = NULL;
    r.route_requested = NULL;
    check_render(env, &r, "balancer://cluster http://127.0.0.1:8082  - - - "
                          "lbmethod 1 - -");
    check_render("%{member_route}x %{route}x %{sticky}x %{sticky_name}x "
                 "%{route_changed}x", &r, "- - - - -");

    /* plain ProxyPass: no balancer for %e, the member for %x */
    cluster.anonymous = true;
    check_render("%{BALANCER_WORKER_NAME}e %{member}x", &r,
                 "- http://127.0.0.1:8082");

    r.balancer = NULL;
    r.member = NULL;
    r.decision = PICK_NONE;
    r.attempts = 0;
    check_render("%{balancer}x %{member}x %{decision}x %{attempts}x "
                 "%{BALANCER_NAME}e", &r, "- - - - -");
}

static void test_compile_errors(void **state)
{
    check_compile_error("%Z", "unknown log format directive %Z");
    check_compile_error("abc %", "ends inside");
    check_compile_error("%{Host", "closing }");
    check_compile_error("%{bogus}x", "%{bogus}x: unknown field");
    check_compile_error("%f", "%f is not supported");
    check_compile_error("%k", "%k is not supported");
    check_compile_error("%{h}T", "unit must be");
    check_compile_error("%i", "needs a name");
    check_compile_error("%{}C", "needs a name");
    check_compile_error("%1000s", "3 digits");
    check_compile_error("%{x}p", "unknown form");
}

static void test_truncation(void **state)
{
    struct access_record r = make_record();
    char err[256];
    struct log_format *f = log_format_compile("%r %r %r", err, sizeof(err));
    char buf[16];

    assert_non_null(f);
    assert_int_equal(log_format_render(f, &r, buf, sizeof(buf)), 15);
    assert_string_equal(buf, "GET /a/b?x=1 H\n");
    assert_int_equal(log_format_render(f, &r, buf, 2), 1);
    assert_string_equal(buf, "\n");
    assert_int_equal(log_format_render(f, &r, buf, 1), 0);
    assert_int_equal(buf[0], '\0');
    log_format_free(f);
}

static void test_access_log_buffered(void **state)
{
    struct access_record r = make_record();
    struct access_log log = { .format_text = "%h %>s", .fd = -1 };
    char path[128], err[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/access_log", tmpdir);
    log.path = path;
    assert_int_equal(access_log_open(&log, err, sizeof(err)), 0);
    assert_int_equal(fstat(log.fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    access_log_write(&log, &r);
    access_log_write(&log, &r);
    assert_string_equal(read_file(path), "");
    log_flush();
    assert_string_equal(read_file(path), "127.0.0.1 200\n127.0.0.1 200\n");
    log_flush();
    assert_string_equal(read_file(path), "127.0.0.1 200\n127.0.0.1 200\n");

    access_log_close(&log);
    assert_int_equal(log.fd, -1);
    log_format_free(log.format);
    log_thread_exit();
}

static void test_access_log_refused(void **state)
{
    struct access_log log = { .path = "|/usr/bin/rotatelogs x", .fd = -1 };
    char err[256];

    assert_int_equal(access_log_open(&log, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "piped logs not supported yet"));
    log_format_free(log.format);

    log = (struct access_log){ .path = "/tmp/x", .format_text = "%Q",
                               .fd = -1 };
    assert_int_equal(access_log_open(&log, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "%Q"));
}

#define THREADS 4
#define LINES_PER_THREAD 3000

static struct access_log shared_log;

static void *write_lines(void *arg)
{
    struct access_record r = make_record();
    static char uas[THREADS][64];
    int id = (int)(long)arg;

    /* each thread's own request, header values included */
    memset(&r, 0, sizeof(r));
    r.client_ip = "127.0.0.1";
    r.status = 200 + id;
    snprintf(uas[id], sizeof(uas[id]), "thread-%d-%s", id,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    r.server_name = uas[id];
    for (int i = 0; i < LINES_PER_THREAD; i++) {
        access_log_write(&shared_log, &r);
        if (i % 500 == 0)
            log_flush();
    }
    log_flush();
    return NULL;
}

static void test_access_log_threads(void **state)
{
    pthread_t threads[THREADS];
    char path[128], err[256];
    int counts[THREADS] = { 0 };
    char *text, *line, *save;

    snprintf(path, sizeof(path), "%s/threads_log", tmpdir);
    shared_log = (struct access_log){ .path = path, .fd = -1,
                                      .format_text = "%>s %v end" };
    assert_int_equal(access_log_open(&shared_log, err, sizeof(err)), 0);

    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, write_lines,
                                        (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);

    text = read_file(path);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        int status, id;
        char rest[128];

        assert_int_equal(sscanf(line, "%d thread-%d-%127s", &status, &id,
                                rest), 3);
        assert_int_equal(status, 200 + id);
        assert_string_equal(rest, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        assert_non_null(strstr(line, " end"));
        counts[id]++;
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(counts[i], LINES_PER_THREAD);

    access_log_close(&shared_log);
    log_format_free(shared_log.format);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_error_log_line),
        cmocka_unit_test(test_error_log_escapes),
        cmocka_unit_test(test_error_log_refused),
        cmocka_unit_test(test_common_and_combined),
        cmocka_unit_test(test_bytes_and_status),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_request_parts),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_balancer_env),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_access_log_buffered),
        cmocka_unit_test(test_access_log_refused),
        cmocka_unit_test(test_access_log_threads),
    };

    /* Apache logs local time; the expected lines are in UTC. */
    setenv("TZ", "UTC", 1);
    tzset();
    return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
