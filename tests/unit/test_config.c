/*
 * test_config.c - the configuration reader: every directive, every
 * parameter, and every error with its "FILE:LINE: cause" message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char err[1024];

static struct config *load(const char *text)
{
    struct config *c = config_load_string("t.conf", text, err, sizeof(err));

    if (c == NULL)
        print_error("unexpected error: %s\n", err);
    return c;
}

/* The guide's front end, as it stands, with a Listen added. */
static const char guide[] =
    "Listen 127.0.0.1:8080\n"
    "ProxyPass / balancer://cluster/ lbmethod=byrequests "
    "stickysession=BALANCEID\n"
    "ProxyPassReverse / balancer://cluster/\n"
    "<Proxy balancer://cluster>\n"
    "BalancerMember http://127.0.0.1:8081 route=server1\n"
    "BalancerMember http://127.0.0.1:8082 route=server2\n"
    "</Proxy>\n";

static void test_guide(void **state)
{
    struct config *c = load(guide);
    struct balancer *b;
    struct sockaddr_in *sin;

    assert_non_null(c);
    assert_int_equal(c->nlisteners, 1);
    assert_string_equal(c->listeners[0].text, "127.0.0.1:8080");
    sin = (struct sockaddr_in *)&c->listeners[0].addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 8080);

    assert_int_equal(c->npasses, 1);
    assert_string_equal(c->passes[0].path, "/");
    assert_string_equal(c->passes[0].url, "balancer://cluster/");
    assert_string_equal(c->passes[0].url_path, "/");
    assert_false(c->passes[0].exclude);

    assert_int_equal(c->nbalancers, 1);
    b = c->balancers[0];
    assert_ptr_equal(c->passes[0].balancer, b);
    assert_string_equal(b->name, "balancer://cluster");
    assert_false(b->anonymous);
    assert_int_equal(b->lbmethod, LBMETHOD_BYREQUESTS);
    assert_string_equal(b->sticky_cookie, "BALANCEID");
    assert_string_equal(b->sticky_param, "BALANCEID");
    assert_int_equal(b->sticky_sep, '.');
    assert_int_equal(b->maxattempts, 1);
    assert_true(b->forcerecovery);
    assert_int_equal(b->nmembers, 2);
    assert_string_equal(b->members[0]->name, "http://127.0.0.1:8081");
    assert_string_equal(b->members[0]->route, "server1");
    assert_string_equal(b->members[1]->route, "server2");
    assert_string_equal(b->members[1]->hostport, "127.0.0.1:8082");
    assert_int_equal(b->members[1]->port, 8082);
    assert_string_equal(b->members[1]->path, "");
    assert_ptr_equal(b->members[1]->balancer, b);
    assert_int_equal(b->members[1]->index, 1);

    assert_int_equal(c->nreverses, 1);
    assert_string_equal(c->reverses[0].path, "/");
    assert_ptr_equal(c->reverses[0].balancer, b);
    assert_ptr_equal(config_find_balancer(c, "balancer://cluster"), b);
    assert_ptr_equal(config_find_balancer(c, "BALANCER://Cluster/"), b);
    assert_null(config_find_balancer(c, "balancer://other"));
    config_free(c);
}

static void test_defaults(void **state)
{
    struct config *c = load("Listen 8080\n");
    struct sockaddr_in *sin;

    assert_non_null(c);
    sin = (struct sockaddr_in *)&c->listeners[0].addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
    assert_true(c->add_headers);
    assert_false(c->preserve_host);
    assert_int_equal(c->log_level, LOG_LEVEL_WARN);
    assert_int_equal(c->proxy_timeout_ms, 60000);
    assert_int_equal(c->timeout_ms, 60000);
    assert_int_equal(c->threads, 0);
    assert_int_equal(c->limits.max_request_line, 8190);
    assert_int_equal(c->limits.max_field_size, 8190);
    assert_int_equal(c->limits.max_fields, 100);
    assert_null(c->error_log);
    assert_non_null(c->server_name);
    assert_int_equal(c->naccess_logs, 0);
    assert_true(c->nformats >= 2);
    assert_string_equal(c->format_names[0], "common");
    assert_string_equal(c->format_texts[0], "%h %l %u %t \"%r\" %>s %b");
    assert_string_equal(c->format_names[1], "combined");
    config_free(c);
}

static void test_server_directives(void **state)
{
    struct config *c = load(
        "listen 127.0.0.1:8080\n"
        "LISTEN [::1]:8081\n"
        "Listen *:8082 http\n"
        "ServerName www.example.com:80\n"
        "ProxyPreserveHost on\n"
        "ProxyAddHeaders Off\n"
        "Timeout 30\n"
        "LogLevel warn proxy:debug proxy_balancer:info\n"
        "ErrorLog /tmp/error.log\n"
        "LimitRequestLine 4000\n"
        "LimitRequestFieldSize 5000\n"
        "LimitRequestFields 50\n"
        "Workers 4\n"
        "ProxyRequests Off\n"
        "LoadModule proxy_module modules/mod_proxy.so\n"
        "LoadModule slotmem_shm_module modules/mod_slotmem_shm.so\n");
    struct sockaddr_in6 *sin6;

    assert_non_null(c);
    assert_int_equal(c->nlisteners, 3);
    sin6 = (struct sockaddr_in6 *)&c->listeners[1].addr;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 8081);
    assert_string_equal(c->server_name, "www.example.com:80");
    assert_true(c->preserve_host);
    assert_false(c->add_headers);
    assert_int_equal(c->timeout_ms, 30000);
    assert_int_equal(c->proxy_timeout_ms, 30000);  /* from Timeout */
    assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
    assert_string_equal(c->error_log, "/tmp/error.log");
    assert_int_equal(c->limits.max_request_line, 4000);
    assert_int_equal(c->limits.max_field_size, 5000);
    assert_int_equal(c->limits.max_fields, 50);
    assert_int_equal(c->threads, 4);
    config_free(c);

    c = load("Listen 8080\nProxyTimeout 300\nTimeout 20\n");
    assert_non_null(c);
    assert_int_equal(c->proxy_timeout_ms, 300000);
    assert_int_equal(c->timeout_ms, 20000);
    config_free(c);
}

static void test_logs(void **state)
{
    struct config *c = load(
        "Listen 8080\n"
        "CustomLog /tmp/a.log mine\n"
        "CustomLog /tmp/b.log combined\n"
        "CustomLog /tmp/c.log \"%h %>s %{BALANCER_WORKER_NAME}e\"\n"
        "LogFormat \"%h %r\" mine\n"
        "LogFormat \"%h %t\" common\n");

    assert_non_null(c);
    assert_int_equal(c->naccess_logs, 3);
    assert_string_equal(c->access_logs[0].path, "/tmp/a.log");
    assert_string_equal(c->access_logs[0].format_text, "%h %r");
    assert_non_null(c->access_logs[0].format);
    assert_int_equal(c->access_logs[0].fd, -1);
    assert_string_equal(c->access_logs[1].format_text,
                        "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" "
                        "\"%{User-Agent}i\"");
    assert_string_equal(c->access_logs[2].format_text,
                        "%h %>s %{BALANCER_WORKER_NAME}e");
    assert_string_equal(c->format_texts[0], "%h %t");  /* redefined */
    config_free(c);
}

static void test_balancer_params(void **state)
{
    struct config *c = load(
        "Listen 8080\n"
        "ProxyPass /app/ balancer://Two/app/ lbmethod=bytraffic "
        "stickysession=JSESSIONID|jsessionid stickysessionsep=_ "
        "nofailover=On maxattempts=3 timeout=5 scolonpathdelim=on "
        "forcerecovery=off failonstatus=500,503 failontimeout=On\n"
        "ProxySet balancer://two lbmethod=bybusyness "
        "stickysessioninsert=On\n"
        "BalancerMember balancer://two http://127.0.0.1:9000\n"
        "ProxyPass /x balancer://three\n"
        "<Proxy balancer://three/>\n"
        "  ProxySet stickysessionsep=Off\n"
        "  BalancerMember http://127.0.0.1:9001\n"
        "  BalancerMember http://127.0.0.1:9002\n"
        "  BalancerMember http://127.0.0.1:9003\n"
        "</Proxy>\n");
    struct balancer *b;

    assert_non_null(c);
    b = config_find_balancer(c, "balancer://two");
    assert_non_null(b);
    assert_string_equal(b->name, "balancer://two");
    assert_string_equal(c->passes[0].url_path, "/app/");
    assert_int_equal(b->lbmethod, LBMETHOD_BYBUSYNESS);
    assert_string_equal(b->sticky_cookie, "JSESSIONID");
    assert_string_equal(b->sticky_param, "jsessionid");
    assert_int_equal(b->sticky_sep, '_');
    assert_true(b->nofailover);
    assert_int_equal(b->maxattempts, 3);
    assert_int_equal(b->timeout_ms, 5000);
    assert_true(b->scolonpathdelim);
    assert_false(b->forcerecovery);
    assert_int_equal(b->nfailonstatus, 2);
    assert_int_equal(b->failonstatus[0], 500);
    assert_int_equal(b->failonstatus[1], 503);
    assert_true(b->failontimeout);
    assert_true(b->sticky_insert);

    b = config_find_balancer(c, "balancer://three");
    assert_non_null(b);
    assert_int_equal(b->sticky_sep, '\0');
    assert_int_equal(b->maxattempts, 2);        /* members - 1 */
    assert_null(b->sticky_cookie);
    assert_string_equal(c->passes[1].url_path, "");
    config_free(c);
}

static void test_member_params(void **state)
{
    struct config *c = load(
        "Listen 8080\n"
        "<Proxy balancer://c>\n"
        "BalancerMember http://127.0.0.1:9000/app/ route=a redirect=b "
        "loadfactor=2.5 lbset=3 status=+H retry=0 timeout=7 "
        "connectiontimeout=500ms keepalive=On max=10 ttl=30 "
        "disablereuse=On\n"
        "BalancerMember http://127.0.0.1 loadfactor=100 status=D-D+S "
        "connectiontimeout=2 enablereuse=off\n"
        "BalancerMember http://[::1]:8080/ loadfactor=1.05 lbset=99\n"
        "BalancerMember http://localhost:81 connectiontimeout=1mi\n"
        "</Proxy>\n"
        "ProxyPass / balancer://c/\n");
    struct balancer *b;
    struct member *m;

    assert_non_null(c);
    b = c->balancers[0];
    assert_int_equal(b->nmembers, 4);
    m = b->members[0];
    assert_string_equal(m->name, "http://127.0.0.1:9000/app");
    assert_string_equal(m->path, "/app");
    assert_string_equal(m->host, "127.0.0.1");
    assert_string_equal(m->route, "a");
    assert_string_equal(m->redirect, "b");
    assert_int_equal(m->loadfactor, 250);
    assert_int_equal(m->lbset, 3);
    assert_int_equal(m->initial_status, MEMBER_HOT_STANDBY);
    assert_int_equal(m->retry_ms, 0);
    assert_int_equal(m->timeout_ms, 7000);
    assert_int_equal(m->connect_timeout_ms, 500);
    assert_true(m->tcp_keepalive);
    assert_int_equal(m->max_conns, 10);
    assert_int_equal(m->ttl_ms, 30000);
    assert_true(m->disablereuse);

    m = b->members[1];
    assert_int_equal(m->port, 80);
    assert_string_equal(m->hostport, "127.0.0.1");
    assert_int_equal(m->loadfactor, 10000);
    assert_int_equal(m->initial_status, MEMBER_STOPPED);
    assert_int_equal(m->connect_timeout_ms, 2000);
    assert_true(m->disablereuse);
    assert_int_equal(m->retry_ms, 60000);      /* default */
    assert_string_equal(m->route, "");

    m = b->members[2];
    assert_string_equal(m->host, "::1");
    assert_string_equal(m->hostport, "[::1]:8080");
    assert_string_equal(m->name, "http://[::1]:8080");
    assert_int_equal(m->addr.ss_family, AF_INET6);
    assert_int_equal(m->loadfactor, 105);
    assert_int_equal(m->lbset, 99);

    m = b->members[3];
    assert_string_equal(m->hostport, "localhost:81");
    assert_int_equal(m->connect_timeout_ms, 60000);
    assert_int_equal(m->loadfactor, 100);
    assert_int_equal(m->initial_status, 0);
    config_free(c);
}

static void test_plain_url(void **state)
{
    struct config *c = load(
        "Listen 8080\n"
        "ProxyPass /static !\n"
        "ProxyPass /api/ http://127.0.0.1:9000/v1/ retry=5 route=r\n"
        "ProxyPass /other http://127.0.0.1:9000/v1/\n"
        "ProxyPass / http://127.0.0.1:9001\n"
        "ProxyPassReverse / http://127.0.0.1:9001/\n");
    struct balancer *b;

    assert_non_null(c);
    assert_int_equal(c->npasses, 4);
    assert_true(c->passes[0].exclude);
    assert_null(c->passes[0].balancer);

    b = c->passes[1].balancer;
    assert_true(b->anonymous);
    assert_string_equal(b->name, "http://127.0.0.1:9000/v1/");
    assert_int_equal(b->nmembers, 1);
    assert_int_equal(b->maxattempts, 0);
    assert_string_equal(b->members[0]->name, "http://127.0.0.1:9000/v1");
    assert_string_equal(b->members[0]->path, "/v1");
    assert_string_equal(c->passes[1].url_path, "/");
    assert_int_equal(b->members[0]->retry_ms, 5000);
    assert_ptr_equal(c->passes[2].balancer, b);    /* shared */

    b = c->passes[3].balancer;
    assert_string_equal(b->members[0]->path, "");
    assert_string_equal(c->passes[3].url_path, "");
    assert_null(c->reverses[0].balancer);
    assert_string_equal(c->reverses[0].url, "http://127.0.0.1:9001/");
    assert_int_equal(c->nbalancers, 2);
    config_free(c);
}

/* Apache's module lines for what is built in: read, not skipped. */
static void test_builtin_module_sections(void **state)
{
    struct config *c = load(
        "Listen 8080\n"
        "LoadModule proxy_hcheck_module modules/mod_proxy_hcheck.so\n"
        "LoadModule authz_host_module modules/mod_authz_host.so\n"
        "<IfModule mod_proxy_hcheck.c>\n"
        "  ProxyHCExpr ok {%{REQUEST_STATUS} =~ /^[23]/}\n"
        "</IfModule>\n"
        "<IfModule reqtimeout_module>\n"
        "  RequestReadTimeout header=10\n"
        "</IfModule>\n"
        "ProxyPass / balancer://c/\n"
        "<Proxy balancer://c>\n"
        "  BalancerMember http://127.0.0.1:9000 hcmethod=GET hcexpr=ok\n"
        "</Proxy>\n");

    (void)state;
    assert_non_null(c);
    config_free(c);
}

static void test_syntax(void **state)
{
    struct config *c = load(
        "# a comment \\\n"
        "   still the comment\n"
        "\n"
        "   \t# indented comment\r\n"
        "Listen \\\n"
        "   8080\r\n"
        "ProxyPass \"/a b/\" \\\n"
        "  balancer://c/\n"
        "LogFormat \"%h \\\"%r\\\" 'x'\" quoted\n"
        "LogFormat '%h \\'%r\\'' single\n"
        "<IfModule mod_proxy.c>\n"
        "  <IfModule !proxy_balancer_module>\n"
        "    Bogus directive here\n"
        "    <Location /x>\n"
        "  </IfModule>\n"
        "  <Proxy \"balancer://c\">\n"
        "    BalancerMember http://127.0.0.1:9000\n"
        "  </proxy>\n"
        "</IfModule>\n"
        "<IfModule mod_rewrite.c>\n"
        "  RewriteEngine On\n"
        "  <IfModule mod_proxy.c>\n"
        "    Nothing\n"
        "  </IfModule>\n"
        "</IfModule>\n"
        "<VirtualHost *:80>\n"
        "  ServerName example.com\n"
        "  ProxyPreserveHost On\n"
        "</VirtualHost>\n"
        "Timeout 9 \\");
    size_t i;

    assert_non_null(c);
    assert_int_equal(c->nlisteners, 1);
    assert_string_equal(c->passes[0].path, "/a b/");
    for (i = 0; i < c->nformats; i++) {
        if (strcmp(c->format_names[i], "quoted") == 0)
            assert_string_equal(c->format_texts[i], "%h \"%r\" 'x'");
        if (strcmp(c->format_names[i], "single") == 0)
            assert_string_equal(c->format_texts[i], "%h '%r'");
    }
    assert_string_equal(c->server_name, "example.com");
    assert_true(c->preserve_host);
    assert_int_equal(c->timeout_ms, 9000);
    config_free(c);
}

/* ---------------------------------------------------------------- */
/* Include                                                           */

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int make_dir(void **state)
{
    char path[256];

    snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/conf.d", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/conf.d/sub", dir);
    mkdir(path, 0700);
    return 0;
}

static int remove_dir(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct config *load_file(const char *name)
{
    char path[256];
    struct config *c;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    c = config_load(path, err, sizeof(err));
    return c;
}

static void test_include(void **state)
{
    struct config *c;

    write_file("main.conf",
               "Listen 8080\n"
               "Include conf.d/*.conf\n"
               "IncludeOptional missing/*.conf\n"
               "IncludeOptional missing.conf\n"
               "<Proxy balancer://c>\n"
               "  Include conf.d/sub\n"
               "</Proxy>\n");
    write_file("conf.d/10-pass.conf", "ProxyPass / balancer://c/\n");
    write_file("conf.d/20-log.conf", "LogLevel debug\n");
    write_file("conf.d/ignored.txt", "Bogus\n");
    write_file("conf.d/sub/a", "BalancerMember http://127.0.0.1:9000\n");
    write_file("conf.d/sub/b", "BalancerMember http://127.0.0.1:9001\n");

    c = load_file("main.conf");
    if (c == NULL)
        print_error("%s\n", err);
    assert_non_null(c);
    assert_int_equal(c->npasses, 1);
    assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(c->balancers[0]->nmembers, 2);
    assert_string_equal(c->balancers[0]->members[1]->name,
                        "http://127.0.0.1:9001");
    config_free(c);
}

static void test_include_errors(void **state)
{
    char want[512];

    write_file("self.conf", "ServerName x\nInclude self.conf\n");
    assert_null(load_file("self.conf"));
    assert_non_null(strstr(err, "includes nested deeper than 16"));

    write_file("nomatch.conf", "Listen 8080\n\nInclude none/*.conf\n");
    assert_null(load_file("nomatch.conf"));
    snprintf(want, sizeof(want), "%s/nomatch.conf:3: Include: no file "
             "matches '%s/none/*.conf'", dir, dir);
    assert_string_equal(err, want);

    write_file("missing.conf", "Include nofile.conf\n");
    assert_null(load_file("missing.conf"));
    snprintf(want, sizeof(want), "%s/missing.conf:1: Include: cannot "
             "read '%s/nofile.conf': No such file or directory", dir, dir);
    assert_string_equal(err, want);

    /* The error is named in the included file, at its own line. */
    write_file("bad.inc", "\n\nListen nope\n");
    write_file("outer.conf", "Listen 8080\nInclude bad.inc\n");
    assert_null(load_file("outer.conf"));
    snprintf(want, sizeof(want), "%s/bad.inc:3: Listen: expected "
             "[ADDR:]PORT with a port from 1 to 65535, found 'nope'", dir);
    assert_string_equal(err, want);

    /* Sections close in the file that opens them. */
    write_file("open.inc", "<Proxy balancer://c>\n");
    write_file("opener.conf", "Listen 8080\nInclude open.inc\n</Proxy>\n");
    assert_null(load_file("opener.conf"));
    snprintf(want, sizeof(want), "%s/open.inc:1: <Proxy> is not closed: "
             "expected </Proxy> before the end of the file", dir);
    assert_string_equal(err, want);

    assert_null(config_load("/nonexistent/x.conf", err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/x.conf: cannot read "
                        "'/nonexistent/x.conf': No such file or directory");
}

static void test_options(void **state)
{
    struct config_options opt = { .numeric_hosts_only = true,
                                  .no_includes = true };
    struct config *c;

    c = config_load_string_options("t.conf", "Include /etc/*.conf\n", &opt,
                                   err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, "t.conf:1: Include is switched off here");

    c = config_load_string_options("t.conf",
                                   "Listen 8080\nProxyPass / "
                                   "http://localhost:9000/\n", &opt, err,
                                   sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "t.conf:2: ProxyPass: cannot resolve "
                                "host 'localhost' of "
                                "http://localhost:9000/: "));
}

/* ---------------------------------------------------------------- */
/* Errors: configuration text, the exact message                    */

struct error_case {
    const char *text;
    const char *message;
};

#define L "Listen 8080\n"
#define MEMBER_IN(b) "<Proxy " b ">\nBalancerMember http://127.0.0.1:1\n" \
                     "</Proxy>\n"

static const struct error_case error_cases[] = {
    /* the whole file */
    { "", "t.conf: no Listen directive: expected at least one Listen "
          "[ADDR:]PORT" },
    { "ServerName x\n\n", "t.conf:2: no Listen directive: expected at "
                          "least one Listen [ADDR:]PORT" },
    { L "Frobnicate on\n", "t.conf:2: unknown directive 'Frobnicate'" },
    { L "RewriteEngine On\n", "t.conf:2: RewriteEngine (mod_rewrite) is "
      "not supported; to have the sticky cookie set, use "
      "stickysessioninsert=On on the balancer" },
    { L "ServerAlias x\n", "t.conf:2: Apache's ServerAlias directive is "
      "not supported yet" },
    { L "LogFormat \"%h\n", "t.conf:2: expected a closing \" to end the "
      "quoted argument, found the end of the line" },

    /* sections */
    { L "<Proxy balancer://c>\n", "t.conf:2: <Proxy> is not closed: "
      "expected </Proxy> before the end of the file" },
    { L "</Proxy>\n", "t.conf:2: </Proxy> without a matching <Proxy>" },
    { L "<IfModule mod_proxy.c>\n</Proxy>\n", "t.conf:3: expected "
      "</IfModule> to close <IfModule> of line 2, found </Proxy>" },
    { L "<IfModule nothing>\n<IfModule x>\n</IfModule>\n",
      "t.conf:2: <IfModule> is not closed: expected </IfModule> before "
      "the end of the file" },
    { L "<Proxy balancer://c\n", "t.conf:2: expected '>' at the end of "
      "the section line, found '<Proxy balancer://c'" },
    { L "<LocationMatch /balancer-manager>\n</LocationMatch>\n",
      "t.conf:2: <LocationMatch> sections are not supported yet" },
    { L "<Foo>\n", "t.conf:2: unknown section <Foo>" },
    { L "</Proxy extra>\n", "t.conf:2: expected </Proxy>, found text "
      "'extra' after the name" },
    { L "<Proxy *>\n</Proxy>\n", "t.conf:2: <Proxy *>: only <Proxy "
      "balancer://NAME> is supported yet" },
    { L "<Proxy balancer://a>\n<Proxy balancer://b>\n",
      "t.conf:3: <Proxy> is not allowed inside <Proxy>" },
    { L "<Proxy balancer://a b>\n", "t.conf:2: <Proxy>: expected <Proxy "
      "balancer://NAME>, found 2 arguments" },
    { L "<Proxy balancer://a/x>\n", "t.conf:2: <Proxy>: expected "
      "balancer://NAME without a path, found 'balancer://a/x'" },
    { L "<VirtualHost>\n", "t.conf:2: <VirtualHost>: expected "
      "<VirtualHost ADDR:PORT ...>, found no address" },
    { L "<VirtualHost *:80>\n</VirtualHost>\n<VirtualHost *:81>\n"
      "</VirtualHost>\n",
      "t.conf:2: <VirtualHost *:80> matches no Listen address and port" },
    { L "<VirtualHost *:8080>\n</VirtualHost>\n"
      "<VirtualHost 127.0.0.1:8080>\n</VirtualHost>\n",
      "t.conf:4: <VirtualHost> here and the one of t.conf:2 both serve "
      "Listen 8080: name-based virtual hosts are not supported yet (one "
      "<VirtualHost> per listener)" },
    { "Listen 8080\nListen 8081\n<VirtualHost *:8080>\n"
      "ProxyPass / http://127.0.0.1:9/\n</VirtualHost>\n"
      "<VirtualHost *:8081>\n</VirtualHost>\n",
      "t.conf:4: ProxyPass and ProxyPassReverse inside one of several "
      "<VirtualHost> sections are not supported yet" },
    { L "<VirtualHost *:8080>\nSSLEngine On\n</VirtualHost>\n",
      "t.conf:3: SSLEngine On needs an SSLCertificateFile in the same "
      "<VirtualHost>" },
    { L "<VirtualHost *:8080>\nSSLProtocol all -TLSv1.2 -TLSv1.3\n",
      "t.conf:3: SSLProtocol: no protocol left: expected TLSv1.2 or "
      "TLSv1.3 among the enabled ones" },
    { L "<VirtualHost *:8080>\nRedirect /a\n", "t.conf:3: Redirect: "
      "expected [STATUS] URL-PATH [URL], found 1 argument" },
    { L "<VirtualHost *:8080>\nRedirect gone /a http://x/\n", "t.conf:3: "
      "Redirect: status 410 takes no URL, found 'http://x/'" },
    { L "<VirtualHost *:8080>\nRedirect permanent /a x\n", "t.conf:3: "
      "Redirect: expected an absolute URL (scheme://host/...) or a path "
      "starting with '/', found 'x'" },
    { L "SSLEngine On\n", "t.conf:2: SSLEngine is not allowed at top "
      "level" },
    { L "Listen 9443 https\n", "t.conf:2: Listen 9443 https: no "
      "<VirtualHost> with SSLEngine On serves it" },
    { L "<VirtualHost *:80>\n<VirtualHost *:80>\n", "t.conf:3: "
      "<VirtualHost> is not allowed inside <VirtualHost>" },
    { L "<IfModule>\n", "t.conf:2: <IfModule>: expected <IfModule "
      "[!]MODULE>, found 0 arguments" },
    { L "<IfModule !>\n", "t.conf:2: <IfModule>: expected a module name, "
      "found '!'" },
    { L "<>\n", "t.conf:2: expected '>' at the end of the section line, "
      "found '<>'" },

    /* places and argument counts */
    { L "<VirtualHost *:80>\nListen 81\n", "t.conf:3: Listen is not "
      "allowed inside <VirtualHost>" },
    { L "<Proxy balancer://c>\nProxyPass / balancer://c/\n",
      "t.conf:3: ProxyPass is not allowed inside <Proxy>" },
    { L "ProxyPass /\n", "t.conf:2: ProxyPass: expected PATH URL "
      "[key=value ...], found 1 argument" },
    { L "ServerName a b\n", "t.conf:2: ServerName: expected NAME[:PORT], "
      "found 2 arguments" },
    { L "Workers\n", "t.conf:2: Workers: expected NUMBER, found 0 "
      "arguments" },

    /* Listen */
    { "Listen 0\n", "t.conf:1: Listen: expected [ADDR:]PORT with a port "
      "from 1 to 65535, found '0'" },
    { "Listen 65536\n", "t.conf:1: Listen: expected [ADDR:]PORT with a "
      "port from 1 to 65535, found '65536'" },
    { "Listen 127.0.0.1\n", "t.conf:1: Listen: expected [ADDR:]PORT with "
      "a port from 1 to 65535, found '127.0.0.1'" },
    { "Listen ::1:80\n", "t.conf:1: Listen: expected [ADDR:]PORT with a "
      "port from 1 to 65535, found '::1:80'" },
    { "Listen [::1\n", "t.conf:1: Listen: expected [ADDR:]PORT with a "
      "port from 1 to 65535, found '[::1'" },
    { "Listen 80 ftp\n", "t.conf:1: Listen: protocol 'ftp' is not "
      "supported yet (expected http or https)" },
    { "Listen 80\nListen 0.0.0.0:80\n", "t.conf:2: Listen: 0.0.0.0:80 is "
      "already listened on (as 80)" },

    /* simple directives */
    { L "ProxyPreserveHost yes\n", "t.conf:2: ProxyPreserveHost: "
      "expected On or Off, found 'yes'" },
    { L "ProxyAddHeaders 1\n", "t.conf:2: ProxyAddHeaders: expected On "
      "or Off, found '1'" },
    { L "ProxyRequests On\n", "t.conf:2: ProxyRequests On (forward "
      "proxying) is not supported" },
    { L "ProxyTimeout 0\n", "t.conf:2: ProxyTimeout: expected whole "
      "seconds from 1 to 86400, found '0'" },
    { L "Timeout 5s\n", "t.conf:2: Timeout: expected whole seconds from "
      "1 to 86400, found '5s'" },
    { L "Workers -1\n", "t.conf:2: Workers: expected a number of threads "
      "from 0 (one per core) to 1024, found '-1'" },
    { L "LimitRequestLine 0\n", "t.conf:2: LimitRequestLine: 0 "
      "(unlimited) is not supported: expected a number from 1 to "
      "1048576" },
    { L "LimitRequestFields many\n", "t.conf:2: LimitRequestFields: "
      "expected a number from 1 to 10000, found 'many'" },
    { L "LimitRequestFieldSize 2000000\n", "t.conf:2: "
      "LimitRequestFieldSize: expected a number from 1 to 1048576, found "
      "'2000000'" },
    { L "ServerName \"\"\n", "t.conf:2: ServerName: expected a host "
      "name, found ''" },
    { L "LoadModule headers_module modules/mod_headers.so\n",
      "t.conf:2: LoadModule: 'headers_module' is not built into balancer, "
      "which cannot load modules (built in: proxy_module, "
      "proxy_http_module, proxy_balancer_module, "
      "lbmethod_byrequests_module, lbmethod_bytraffic_module, "
      "lbmethod_bybusyness_module, log_config_module, "
      "slotmem_shm_module, ssl_module, alias_module, proxy_hcheck_module, "
      "watchdog_module, authz_core_module, authz_host_module, "
      "reqtimeout_module)" },

    /* logs */
    { L "LogLevel loud\n", "t.conf:2: LogLevel: expected a level (emerg, "
      "alert, crit, error, warn, notice, info, debug, trace1 to trace8), "
      "found 'loud'" },
    { L "LogLevel warn proxy:loud\n", "t.conf:2: LogLevel: expected a "
      "level (emerg, alert, crit, error, warn, notice, info, debug, "
      "trace1 to trace8), found 'loud'" },
    { L "LogLevel warn debug\n", "t.conf:2: LogLevel: expected "
      "MODULE:LEVEL after the first level, found 'debug'" },
    { L "ErrorLog \"|/usr/bin/logger\"\n", "t.conf:2: ErrorLog: piped "
      "logs are not supported yet (found '|/usr/bin/logger')" },
    { L "ErrorLog syslog:local7\n", "t.conf:2: ErrorLog: syslog is not "
      "supported yet" },
    { L "LogFormat \"%h\"\n", "t.conf:2: LogFormat: a format without a "
      "nickname is TransferLog's, and TransferLog is not supported yet: "
      "expected LogFormat FORMAT NICKNAME" },
    { L "LogFormat mine \"%h\"\n", "t.conf:2: LogFormat: expected a "
      "NICKNAME after the format, found '%h'" },
    { L "CustomLog /tmp/x.log commn\n", "t.conf:2: CustomLog: expected a "
      "format with % directives or a LogFormat nickname, found 'commn'" },
    { L "CustomLog /tmp/x.log common env=!dontlog\n", "t.conf:2: "
      "CustomLog: conditional logging ('env=!dontlog') is not supported "
      "yet" },
    { L "CustomLog \"|rotatelogs\" common\n", "t.conf:2: CustomLog: piped "
      "logs are not supported yet (found '|rotatelogs')" },

    /* ProxyPass and ProxyPassReverse */
    { L "ProxyPass app http://127.0.0.1/\n", "t.conf:2: ProxyPass: "
      "expected a PATH starting with '/', found 'app'" },
    { L "ProxyPass / https://127.0.0.1/\n", "t.conf:2: ProxyPass: "
      "https:// URLs are not supported yet (found 'https://127.0.0.1/'; "
      "use http://)" },
    { L "ProxyPass / ws://127.0.0.1/\n", "t.conf:2: ProxyPass: ws:// URLs "
      "are not supported yet (found 'ws://127.0.0.1/'; use http://)" },
    { L "ProxyPass / ajp://127.0.0.1/\n", "t.conf:2: ProxyPass: ajp:// "
      "URLs are not supported yet (found 'ajp://127.0.0.1/'; use "
      "http://)" },
    { L "ProxyPass / 127.0.0.1\n", "t.conf:2: ProxyPass: expected a URL "
      "http://HOST[:PORT][/PATH] or balancer://NAME[/PATH], or !, found "
      "'127.0.0.1'" },
    { L "ProxyPass / ! x\n", "t.conf:2: ProxyPass: expected nothing after "
      "'!', found 'x'" },
    { L "ProxyPass / http://127.0.0.1/ nocanon\n", "t.conf:2: ProxyPass: "
      "flag 'nocanon' is not supported yet" },
    { L "ProxyPass / http://127.0.0.1/ retry\n", "t.conf:2: ProxyPass: "
      "expected key=value, found 'retry'" },
    { L "ProxyPass / http://127.0.0.1/ =5\n", "t.conf:2: ProxyPass: "
      "expected key=value, found '=5'" },
    { L "ProxyPass / balancer://\n", "t.conf:2: ProxyPass: expected "
      "balancer://NAME with a NAME of letters, digits, '-', '_' or '.', "
      "found 'balancer://'" },
    { L "ProxyPass / balancer://a:b/\n", "t.conf:2: ProxyPass: expected "
      "balancer://NAME with a NAME of letters, digits, '-', '_' or '.', "
      "found 'balancer://a:b/'" },
    { L "ProxyPass / balancer://nowhere/\n", "t.conf:2: "
      "balancer://nowhere has no members: expected BalancerMember lines "
      "in <Proxy balancer://nowhere> (or BalancerMember "
      "balancer://nowhere URL)" },
    { L "\n<Proxy balancer://empty>\n</Proxy>\n",
      "t.conf:3: balancer://empty has no members: expected BalancerMember "
      "lines in <Proxy balancer://empty> (or BalancerMember "
      "balancer://empty URL)" },
    { L "ProxyPassReverse / balancer://gone/\n", "t.conf:2: "
      "balancer://gone has no members: expected BalancerMember lines in "
      "<Proxy balancer://gone> (or BalancerMember balancer://gone URL)" },
    { L "ProxyPassReverse / ftp://x/\n", "t.conf:2: ProxyPassReverse: "
      "ftp:// URLs are not supported yet (found 'ftp://x/'; use "
      "http://)" },
    { L "ProxyPassReverse / http://x/ interpolate\n", "t.conf:2: "
      "ProxyPassReverse: 'interpolate' is not supported yet" },
    { L "ProxyPassReverse x http://x/\n", "t.conf:2: ProxyPassReverse: "
      "expected a PATH starting with '/', found 'x'" },

    /* member URLs */
    { L "ProxyPass / http:///\n", "t.conf:2: ProxyPass: expected a URL "
      "http://HOST[:PORT][/PATH] with a host name or address, found "
      "'http:///'" },
    { L "ProxyPass / http://h:0/\n", "t.conf:2: ProxyPass: expected a URL "
      "http://HOST[:PORT][/PATH] with a port from 1 to 65535, found "
      "'http://h:0/'" },
    { L "ProxyPass / http://h:/\n", "t.conf:2: ProxyPass: expected a URL "
      "http://HOST[:PORT][/PATH] with a port from 1 to 65535, found "
      "'http://h:/'" },
    { L "ProxyPass / http://[::1/\n", "t.conf:2: ProxyPass: expected a "
      "URL http://HOST[:PORT][/PATH] with an IPv6 address closed by ']', "
      "found 'http://[::1/'" },
    { L "ProxyPass / http://[zz]:80/\n", "t.conf:2: ProxyPass: expected a "
      "URL http://HOST[:PORT][/PATH] with an IPv6 address inside [ ], "
      "found 'http://[zz]:80/'" },
    { L "ProxyPass / http://u@h/\n", "t.conf:2: ProxyPass: user names in "
      "URLs are not supported (found 'http://u@h/')" },
    { L "ProxyPass / http://h/?a=b\n", "t.conf:2: ProxyPass: expected a "
      "URL http://HOST[:PORT][/PATH] without query or fragment, found "
      "'http://h/?a=b'" },
    { L "ProxyPass / http://no-such-host.invalid/\n", "t.conf:2: "
      "ProxyPass: cannot resolve host 'no-such-host.invalid' of "
      "http://no-such-host.invalid/: " },

    /* BalancerMember and ProxySet */
    { L "<Proxy balancer://c>\nBalancerMember balancer://c "
      "http://127.0.0.1/\n", "t.conf:3: BalancerMember: inside <Proxy "
      "balancer://c> expected URL [key=value ...], found 'balancer://c'" },
    { L "BalancerMember http://127.0.0.1/\n", "t.conf:2: BalancerMember: "
      "outside <Proxy> expected balancer://NAME URL [key=value ...], found "
      "'http://127.0.0.1/'" },
    { L "BalancerMember balancer://c/x http://127.0.0.1/\n", "t.conf:2: "
      "BalancerMember: expected balancer://NAME without a path, found "
      "'balancer://c/x'" },
    { L "<Proxy balancer://c>\nBalancerMember http://127.0.0.1:1\n"
      "BalancerMember http://127.0.0.1:1/\n", "t.conf:4: BalancerMember: "
      "http://127.0.0.1:1 is already a member of balancer://c" },
    { L "ProxySet lbmethod=bytraffic\n", "t.conf:2: ProxySet: outside "
      "<Proxy> expected balancer://NAME key=value ..., found "
      "'lbmethod=bytraffic'" },
    { L "ProxySet http://127.0.0.1/ retry=1\n", "t.conf:2: ProxySet: "
      "parameters of a plain URL are not supported yet: expected "
      "balancer://NAME, found 'http://127.0.0.1/'" },
    { L MEMBER_IN("balancer://c") "ProxySet balancer://c route=x\n",
      "t.conf:5: ProxySet: 'route' is a member parameter, not allowed "
      "here (expected balancer parameters)" },

    /* balancer parameters */
    { L "ProxyPass / balancer://c/ lbmethod=heartbeat\n", "t.conf:2: "
      "ProxyPass: bad value 'heartbeat' for lbmethod: expected "
      "byrequests, bytraffic or bybusyness (heartbeat, which weighs "
      "members by the load mod_heartmonitor gathers, is not supported)" },
    { L "ProxyPass / balancer://c/ lbmethod=bogus\n", "t.conf:2: "
      "ProxyPass: bad value 'bogus' for lbmethod: expected "
      "byrequests, bytraffic or bybusyness" },
    { L "ProxyPass / balancer://c/ stickysession=\n", "t.conf:2: "
      "ProxyPass: bad value '' for stickysession: expected a cookie name, "
      "or COOKIE|URLPARAM" },
    { L "ProxyPass / balancer://c/ stickysession=A|\n", "t.conf:2: "
      "ProxyPass: bad value 'A|' for stickysession: expected a cookie "
      "name, or COOKIE|URLPARAM" },
    { L "ProxyPass / balancer://c/ stickysessionsep=::\n", "t.conf:2: "
      "ProxyPass: bad value '::' for stickysessionsep: expected a single "
      "character or Off" },
    { L "ProxyPass / balancer://c/ nofailover=maybe\n", "t.conf:2: "
      "ProxyPass: bad value 'maybe' for nofailover: expected On or Off" },
    { L "ProxyPass / balancer://c/ maxattempts=-1\n", "t.conf:2: "
      "ProxyPass: bad value '-1' for maxattempts: expected a number of "
      "attempts from 0 to 1000" },
    { L "ProxyPass / balancer://c/ timeout=0\n", "t.conf:2: ProxyPass: "
      "bad value '0' for timeout: expected whole seconds from 1 to "
      "86400" },
    { L "ProxyPass / balancer://c/ scolonpathdelim=1\n", "t.conf:2: "
      "ProxyPass: bad value '1' for scolonpathdelim: expected On or Off" },
    { L "ProxyPass / balancer://c/ forcerecovery=\n", "t.conf:2: "
      "ProxyPass: bad value '' for forcerecovery: expected On or Off" },
    { L "ProxyPass / balancer://c/ failonstatus=99\n", "t.conf:2: "
      "ProxyPass: bad value '99' for failonstatus: expected HTTP status "
      "codes 100..599 separated by ',' (at most 16)" },
    { L "ProxyPass / balancer://c/ failonstatus=500,\n", "t.conf:2: "
      "ProxyPass: bad value '500,' for failonstatus: expected HTTP status "
      "codes 100..599 separated by ',' (at most 16)" },
    { L "ProxyPass / balancer://c/ failonstatus=500,,503\n", "t.conf:2: "
      "ProxyPass: bad value '500,,503' for failonstatus: expected HTTP "
      "status codes 100..599 separated by ',' (at most 16)" },
    { L "ProxyPass / balancer://c/ failontimeout=x\n", "t.conf:2: "
      "ProxyPass: bad value 'x' for failontimeout: expected On or Off" },
    { L "ProxyPass / balancer://c/ stickysessioninsert=yes\n", "t.conf:2: "
      "ProxyPass: bad value 'yes' for stickysessioninsert: expected On or "
      "Off" },
    { L "\nProxyPass / balancer://c/ stickysessioninsert=On\n"
      MEMBER_IN("balancer://c"), "t.conf:3: balancer://c: "
      "stickysessioninsert=On needs stickysession=NAME, the cookie to "
      "set" },
    { L "ProxyPass / balancer://c/ route=a\n", "t.conf:2: ProxyPass: "
      "'route' is a member parameter, not allowed here (expected balancer "
      "parameters)" },
    { L "ProxyPass / balancer://c/ nonce=abc\n", "t.conf:2: ProxyPass: "
      "parameter 'nonce' is not supported yet" },
    { L "ProxyPass / balancer://c/ growth=5\n", "t.conf:2: ProxyPass: "
      "parameter 'growth' is not supported yet" },
    { L "ProxyPass / balancer://c/ colour=red\n", "t.conf:2: ProxyPass: "
      "unknown parameter 'colour' (in 'colour=red')" },

    /* member parameters */
    { L "ProxyPass / http://127.0.0.1/ lbmethod=bytraffic\n", "t.conf:2: "
      "ProxyPass: 'lbmethod' is a balancer parameter, not allowed here "
      "(expected member parameters)" },
#define M L "BalancerMember balancer://c http://127.0.0.1/ "
    { M "route=a;b\n", "t.conf:2: BalancerMember: bad value 'a;b' for "
      "route: expected a name without spaces, quotes or separators" },
    { M "redirect=\"a b\"\n", "t.conf:2: BalancerMember: bad value "
      "'\"a' for redirect: expected a name without spaces, quotes or "
      "separators" },
    { M "loadfactor=0\n", "t.conf:2: BalancerMember: bad value '0' for "
      "loadfactor: expected a number from 1 to 100 with at most 2 "
      "decimals" },
    { M "loadfactor=0.99\n", "t.conf:2: BalancerMember: bad value '0.99' "
      "for loadfactor: expected a number from 1 to 100 with at most 2 "
      "decimals" },
    { M "loadfactor=100.01\n", "t.conf:2: BalancerMember: bad value "
      "'100.01' for loadfactor: expected a number from 1 to 100 with at "
      "most 2 decimals" },
    { M "loadfactor=1.234\n", "t.conf:2: BalancerMember: bad value "
      "'1.234' for loadfactor: expected a number from 1 to 100 with at "
      "most 2 decimals" },
    { M "loadfactor=1.\n", "t.conf:2: BalancerMember: bad value '1.' for "
      "loadfactor: expected a number from 1 to 100 with at most 2 "
      "decimals" },
    { M "lbset=100\n", "t.conf:2: BalancerMember: bad value '100' for "
      "lbset: expected a number from 0 to 99" },
    { M "status=Q\n", "t.conf:2: BalancerMember: bad value 'Q' for "
      "status: expected status letters D S I H R E N C, each after an "
      "optional + or - (" },
    { M "retry=-1\n", "t.conf:2: BalancerMember: bad value '-1' for "
      "retry: expected whole seconds from 0 to 86400" },
    { M "timeout=0\n", "t.conf:2: BalancerMember: bad value '0' for "
      "timeout: expected whole seconds from 1 to 86400" },
    { M "connectiontimeout=0ms\n", "t.conf:2: BalancerMember: bad value "
      "'0ms' for connectiontimeout: expected seconds, or a number with "
      "unit ms, s, mi or h (1 ms to 86400 s)" },
    { M "connectiontimeout=5x\n", "t.conf:2: BalancerMember: bad value "
      "'5x' for connectiontimeout: expected seconds, or a number with "
      "unit ms, s, mi or h (1 ms to 86400 s)" },
    { M "connectiontimeout=25h\n", "t.conf:2: BalancerMember: bad value "
      "'25h' for connectiontimeout: expected seconds, or a number with "
      "unit ms, s, mi or h (1 ms to 86400 s)" },
    { M "keepalive=yes\n", "t.conf:2: BalancerMember: bad value 'yes' for "
      "keepalive: expected On or Off" },
    { M "max=-5\n", "t.conf:2: BalancerMember: bad value '-5' for max: "
      "expected a number of connections from 0 to 1000000" },
    { M "ttl=0\n", "t.conf:2: BalancerMember: bad value '0' for ttl: "
      "expected whole seconds from 1 to 86400" },
    { M "disablereuse=2\n", "t.conf:2: BalancerMember: bad value '2' for "
      "disablereuse: expected On or Off" },
    { M "enablereuse=2\n", "t.conf:2: BalancerMember: bad value '2' for "
      "enablereuse: expected On or Off" },
    { M "smax=5\n", "t.conf:2: BalancerMember: parameter 'smax' is not "
      "supported yet" },
    { M "flushpackets=on\n", "t.conf:2: BalancerMember: parameter "
      "'flushpackets' is not supported yet" },
    { M "ping=1\n", "t.conf:2: BalancerMember: parameter 'ping' is not "
      "supported yet" },
    { M "hcmethod=CPING\n", "t.conf:2: BalancerMember: bad value 'CPING' "
      "for hcmethod: expected TCP, OPTIONS, HEAD, GET, OPTIONS11, HEAD11, "
      "GET11 or NONE (CPING and provider methods are not supported)" },
    { M "hcexpr=x\n", "t.conf:2: BalancerMember: bad value 'x' for "
      "hcexpr: expected the name of a ProxyHCExpr or ProxyHCExpectStatus "
      "defined above" },
    { M "hcfoo=1\n", "t.conf:2: BalancerMember: unknown parameter 'hcfoo' "
      "(in 'hcfoo=1')" },
    { M "stickysession=X\n", "t.conf:2: BalancerMember: 'stickysession' "
      "is a balancer parameter, not allowed here (expected member "
      "parameters)" },
    { M "foo=bar\n", "t.conf:2: BalancerMember: unknown parameter 'foo' "
      "(in 'foo=bar')" },
#undef M
};

static void test_errors(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *e = &error_cases[i];
        struct config *c;

        err[0] = '\0';
        c = config_load_string("t.conf", e->text, err, sizeof(err));
        if (c != NULL || strncmp(err, e->message, strlen(e->message)) != 0)
            fail_msg("case %zu:\n%s\nexpected: %s\nfound:    %s", i,
                     e->text, e->message, c ? "(loaded)" : err);
    }
}

/* Directive, section, scheme, balancer and key names are read in any
 * case (values such as lbmethod names are not, as in Apache). */
static void test_repeat(void **state)
{
    struct config *c = config_load_string("t.conf",
        "<VirtualHost 127.0.0.1:80>\n"
        "proxypass / BALANCER://Cluster/ LbMethod=bytraffic\n"
        "</virtualhost>\n"
        "<PROXY balancer://cluster>\n"
        "balancermember HTTP://127.0.0.1:9000 ROUTE=x\n"
        "</PROXY>\n"
        "listen 8080\n", err, sizeof(err));

    assert_non_null(c);
    assert_int_equal(c->balancers[0]->lbmethod, LBMETHOD_BYTRAFFIC);
    assert_string_equal(c->balancers[0]->members[0]->route, "x");
    config_free(c);
    config_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guide),
        cmocka_unit_test(test_builtin_module_sections),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_server_directives),
        cmocka_unit_test(test_logs),
        cmocka_unit_test(test_balancer_params),
        cmocka_unit_test(test_member_params),
        cmocka_unit_test(test_plain_url),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test_setup_teardown(test_include, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_include_errors, make_dir,
                                        remove_dir),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_repeat),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
