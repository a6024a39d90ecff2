/*
 * config_directive.c - the directive table: each directive's name, the
 * arguments it takes, where it may appear, and its handler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "health.h"

/* ------------------------------------------------------------------ */
/* Directives                                                          */

static int fail_on_off(struct parser *p, const char *found)
{
    return fail(p, "%s: expected On or Off, found '%s'", p->directive,
                found);
}

static int do_listen(struct parser *p, int argc, char **argv)
{
    struct config *c = p->cfg;
    struct listener_config l, *list;
    const char *text = argv[0], *why = NULL, *cause;
    char host[256] = "0.0.0.0";
    long port = 0;
    size_t i;

    if (argc == 2 && strcasecmp(argv[1], "http") != 0 &&
        strcasecmp(argv[1], "https") != 0)
        return fail(p, "Listen: protocol '%s' is not supported yet "
                    "(expected http or https)", argv[1]);

    /* "PORT" and "*:PORT" listen on every IPv4 address. */
    if (strncmp(text, "*:", 2) == 0)
        why = config_parse_number(text + 2, 1, 65535, &port) < 0 ? "" : NULL;
    else if (strspn(text, "0123456789") == strlen(text))
        why = config_parse_number(text, 1, 65535, &port) < 0 ? "" : NULL;
    else
        why = config_split_hostport(text, strlen(text), host, sizeof(host),
                                    &port);
    if (why != NULL || port == 0)
        return fail(p, "Listen: expected [ADDR:]PORT with a port from 1 "
                    "to 65535, found '%s'", text);

    memset(&l, 0, sizeof(l));
    if (config_resolve(p, host, (uint16_t)port, true, &l.addr, &l.addrlen,
                       &cause) < 0)
        return fail(p, "Listen: cannot resolve '%s': %s", host, cause);

    for (i = 0; i < c->nlisteners; i++)
        if (c->listeners[i].addrlen == l.addrlen &&
            memcmp(&c->listeners[i].addr, &l.addr, l.addrlen) == 0)
            return fail(p, "Listen: %s is already listened on (as %s)",
                        text, c->listeners[i].text);

    list = config_grow(c->listeners, c->nlisteners, sizeof(*list));
    if (list == NULL)
        return config_fail_oom(p);
    c->listeners = list;
    l.text = strdup(text);
    if (l.text == NULL)
        return config_fail_oom(p);
    l.https = argc == 2 && strcasecmp(argv[1], "https") == 0;
    c->listeners[c->nlisteners++] = l;
    return 0;
}

static int replace_string(struct parser *p, char **field, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return config_fail_oom(p);
    free(*field);
    *field = copy;
    return 0;
}

static int do_server_name(struct parser *p, int argc, char **argv)
{
    if (argv[0][0] == '\0')
        return fail(p, "ServerName: expected a host name, found ''");
    if (config_current_place(p) == IN_VHOST)
        return config_vhost_server_name(p, argv[0]);
    return replace_string(p, &p->cfg->server_name, argv[0]);
}

static int do_timeout(struct parser *p, int argc, char **argv)
{
    if (config_parse_seconds(argv[0], 1, &p->cfg->timeout_ms) < 0)
        return fail(p, "Timeout: expected whole seconds from 1 to 86400, "
                    "found '%s'", argv[0]);
    return 0;
}

static int do_proxy_timeout(struct parser *p, int argc, char **argv)
{
    if (config_parse_seconds(argv[0], 1, &p->cfg->proxy_timeout_ms) < 0)
        return fail(p, "ProxyTimeout: expected whole seconds from 1 to "
                    "86400, found '%s'", argv[0]);
    p->proxy_timeout_set = true;
    return 0;
}

static int do_preserve_host(struct parser *p, int argc, char **argv)
{
    if (config_parse_on_off(argv[0], &p->cfg->preserve_host) < 0)
        return fail_on_off(p, argv[0]);
    return 0;
}

static int do_add_headers(struct parser *p, int argc, char **argv)
{
    if (config_parse_on_off(argv[0], &p->cfg->add_headers) < 0)
        return fail_on_off(p, argv[0]);
    return 0;
}

/* Off is the default and all we do: we are a reverse proxy only. */
static int do_proxy_requests(struct parser *p, int argc, char **argv)
{
    bool on;

    if (config_parse_on_off(argv[0], &on) < 0)
        return fail_on_off(p, argv[0]);
    if (on)
        return fail(p, "ProxyRequests On (forward proxying) is not "
                    "supported");
    return 0;
}

static int do_workers(struct parser *p, int argc, char **argv)
{
    long n;

    if (config_parse_number(argv[0], 0, 1024, &n) < 0)
        return fail(p, "Workers: expected a number of threads from 0 "
                    "(one per core) to 1024, found '%s'", argv[0]);
    p->cfg->threads = (int)n;
    return 0;
}

static int set_limit(struct parser *p, const char *value, long max,
                     size_t *field)
{
    long n;

    if (strcmp(value, "0") == 0)
        return fail(p, "%s: 0 (unlimited) is not supported: expected a "
                    "number from 1 to %ld", p->directive, max);
    if (config_parse_number(value, 1, max, &n) < 0)
        return fail(p, "%s: expected a number from 1 to %ld, found '%s'",
                    p->directive, max, value);
    *field = (size_t)n;
    return 0;
}

static int do_limit_line(struct parser *p, int argc, char **argv)
{
    return set_limit(p, argv[0], 1048576,
                     &p->cfg->limits.max_request_line);
}

static int do_limit_field_size(struct parser *p, int argc, char **argv)
{
    return set_limit(p, argv[0], 1048576, &p->cfg->limits.max_field_size);
}

static int do_limit_fields(struct parser *p, int argc, char **argv)
{
    return set_limit(p, argv[0], 10000, &p->cfg->limits.max_fields);
}

/* LogLevel LEVEL [MODULE:LEVEL ...]: we have one level for every module,
 * so the most verbose one named applies. */
static int do_log_level(struct parser *p, int argc, char **argv)
{
    int best = -1, level, i;

    for (i = 0; i < argc; i++) {
        const char *colon = strchr(argv[i], ':');
        const char *name = colon ? colon + 1 : argv[i];

        if (colon == argv[i] || (colon == NULL && i > 0))
            return fail(p, "LogLevel: expected MODULE:LEVEL after the "
                        "first level, found '%s'", argv[i]);
        level = log_level_from_name(name);
        if (level < 0)
            return fail(p, "LogLevel: expected a level (emerg, alert, "
                        "crit, error, warn, notice, info, debug, trace1 "
                        "to trace8), found '%s'", name);
        if (level > best)
            best = level;
    }
    p->cfg->log_level = best;
    return 0;
}

static int do_error_log(struct parser *p, int argc, char **argv)
{
    if (argv[0][0] == '|')
        return fail(p, "ErrorLog: piped logs are not supported yet "
                    "(found '%s')", argv[0]);
    if (strncasecmp(argv[0], "syslog", 6) == 0 &&
        (argv[0][6] == '\0' || argv[0][6] == ':'))
        return fail(p, "ErrorLog: syslog is not supported yet");
    if (argv[0][0] == '\0')
        return fail(p, "ErrorLog: expected a file name, found ''");
    return replace_string(p, &p->cfg->error_log, argv[0]);
}

static int do_pid_file(struct parser *p, int argc, char **argv)
{
    if (argv[0][0] == '\0')
        return fail(p, "PidFile: expected a file name, found ''");
    return replace_string(p, &p->cfg->pid_file, argv[0]);
}

/* Apache's BalancerPersist: see persist.h. */
static int do_balancer_persist(struct parser *p, int argc, char **argv)
{
    if (config_parse_on_off(argv[0], &p->cfg->balancer_persist) < 0)
        return fail_on_off(p, argv[0]);
    return 0;
}

struct log_format *config_compile_format(struct parser *p, const char *text)
{
    char cause[256] = "";
    struct log_format *f = log_format_compile(text, cause, sizeof(cause));

    if (f == NULL)
        fail(p, "%s: bad format \"%s\": %s", p->directive, text, cause);
    return f;
}

size_t config_format_index(const struct config *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->nformats; i++)
        if (strcmp(c->format_names[i], name) == 0)
            return i;
    return c->nformats;
}

/* Define (or redefine) the nickname name as text. */
int config_define_format(struct parser *p, const char *name,
                         const char *text)
{
    struct config *c = p->cfg;
    size_t i = config_format_index(c, name);
    struct log_format *f, **formats;
    char *n, *t, **names, **texts;

    f = config_compile_format(p, text);
    if (f == NULL)
        return -1;
    n = strdup(name);
    t = strdup(text);
    if (n == NULL || t == NULL)
        goto fail_free;

    if (i < c->nformats) {
        log_format_free(c->formats[i]);
        free(c->format_names[i]);
        free(c->format_texts[i]);
    } else {
        formats = config_grow(c->formats, c->nformats, sizeof(*formats));
        if (formats != NULL)
            c->formats = formats;
        names = config_grow(c->format_names, c->nformats, sizeof(*names));
        if (names != NULL)
            c->format_names = names;
        texts = config_grow(c->format_texts, c->nformats, sizeof(*texts));
        if (texts != NULL)
            c->format_texts = texts;
        if (formats == NULL || names == NULL || texts == NULL)
            goto fail_free;
        c->nformats++;
    }
    c->formats[i] = f;
    c->format_names[i] = n;
    c->format_texts[i] = t;
    return 0;

fail_free:
    log_format_free(f);
    free(n);
    free(t);
    return config_fail_oom(p);
}

static int do_log_format(struct parser *p, int argc, char **argv)
{
    if (argc == 1)
        return fail(p, "LogFormat: a format without a nickname is "
                    "TransferLog's, and TransferLog is not supported yet: "
                    "expected LogFormat FORMAT NICKNAME");
    if (argv[1][0] == '\0' || strchr(argv[1], '%') != NULL)
        return fail(p, "LogFormat: expected a NICKNAME after the format, "
                    "found '%s'", argv[1]);
    return config_define_format(p, argv[1], argv[0]);
}

/*
 * CustomLog PATH FORMAT-OR-NICKNAME. A word with a '%' is a format; any
 * other must be a nickname, which may be defined later in the file
 * (Apache would log such a word literally; we take it for a typo).
 */
static int do_custom_log(struct parser *p, int argc, char **argv)
{
    struct config *c = p->cfg;
    struct access_log log, *logs;
    struct access_log_note *notes;
    bool nickname = strchr(argv[1], '%') == NULL;

    if (argc == 3)
        return fail(p, "CustomLog: conditional logging ('%s') is not "
                    "supported yet", argv[2]);
    if (argv[0][0] == '|')
        return fail(p, "CustomLog: piped logs are not supported yet "
                    "(found '%s')", argv[0]);
    if (argv[0][0] == '\0')
        return fail(p, "CustomLog: expected a file name, found ''");

    memset(&log, 0, sizeof(log));
    log.fd = -1;
    if (!nickname) {
        log.format = config_compile_format(p, argv[1]);
        if (log.format == NULL)
            return -1;
    }
    log.path = strdup(argv[0]);
    log.format_text = strdup(argv[1]);
    logs = config_grow(c->access_logs, c->naccess_logs, sizeof(*logs));
    if (logs != NULL)
        c->access_logs = logs;
    notes = config_grow(p->lnotes, c->naccess_logs, sizeof(*notes));
    if (notes != NULL)
        p->lnotes = notes;
    if (!log.path || !log.format_text || !logs || !notes) {
        free(log.path);
        free(log.format_text);
        if (log.format != NULL)
            log_format_free(log.format);
        return config_fail_oom(p);
    }

    p->lnotes[c->naccess_logs].file = p->file;
    p->lnotes[c->naccess_logs].line = p->line;
    p->lnotes[c->naccess_logs].by_nickname = nickname;
    c->access_logs[c->naccess_logs++] = log;
    return 0;
}

/* Modules whose work is built in: <IfModule> finds them, LoadModule of
 * them is accepted and does nothing. slotmem_shm and watchdog are there
 * because Apache's balancer and health checks need them for what we keep
 * in-process. */
static const char *const builtin_modules[][2] = {
    { "core.c", "core_module" },
    { "http_core.c", "http_module" },
    { "mod_so.c", "so_module" },
    { "mod_proxy.c", "proxy_module" },
    { "mod_proxy_http.c", "proxy_http_module" },
    { "mod_proxy_balancer.c", "proxy_balancer_module" },
    { "mod_lbmethod_byrequests.c", "lbmethod_byrequests_module" },
    { "mod_lbmethod_bytraffic.c", "lbmethod_bytraffic_module" },
    { "mod_lbmethod_bybusyness.c", "lbmethod_bybusyness_module" },
    { "mod_log_config.c", "log_config_module" },
    { "mod_slotmem_shm.c", "slotmem_shm_module" },
    { "mod_ssl.c", "ssl_module" },
    { "mod_alias.c", "alias_module" },
    { "mod_proxy_hcheck.c", "proxy_hcheck_module" },
    { "mod_watchdog.c", "watchdog_module" },
    { "mod_authz_core.c", "authz_core_module" },
    { "mod_authz_host.c", "authz_host_module" },
    { "mod_reqtimeout.c", "reqtimeout_module" },
};

#define NBUILTIN (sizeof(builtin_modules) / sizeof(builtin_modules[0]))

bool config_module_present(const char *name, bool identifier_only)
{
    size_t i;

    for (i = 0; i < NBUILTIN; i++) {
        if (strcasecmp(name, builtin_modules[i][1]) == 0)
            return true;
        if (!identifier_only && strcasecmp(name, builtin_modules[i][0]) == 0)
            return true;
    }
    return false;
}

static int do_load_module(struct parser *p, int argc, char **argv)
{
    char names[1024];
    size_t i, len = 0;

    if (config_module_present(argv[0], true))
        return 0;
    for (i = 3; i < NBUILTIN && len < sizeof(names); i++)
        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
                                i > 3 ? ", " : "", builtin_modules[i][1]);
    return fail(p, "LoadModule: '%s' is not built into balancer, which "
                "cannot load modules (built in: %s)", argv[0], names);
}

static bool starts_with_slash(struct parser *p, const char *path)
{
    if (path[0] == '/')
        return true;
    fail(p, "%s: expected a PATH starting with '/', found '%s'",
         p->directive, path);
    return false;
}

/* Words after the URL that Apache takes as flags, not key=value. */
static int refuse_flags(struct parser *p, int argc, char **argv)
{
    static const char *const flags[] = { "nocanon", "interpolate",
                                         "noquery", NULL };
    int i, j;

    for (i = 0; i < argc; i++)
        for (j = 0; flags[j]; j++)
            if (strcasecmp(argv[i], flags[j]) == 0)
                return fail(p, "%s: flag '%s' is not supported yet",
                            p->directive, argv[i]);
    return 0;
}

static int add_pass(struct parser *p, struct proxy_pass *pass)
{
    struct config *c = p->cfg;
    struct proxy_pass *passes;

    passes = config_grow(c->passes, c->npasses, sizeof(*passes));
    if (passes == NULL || !pass->path || !pass->url || !pass->url_path) {
        if (passes != NULL)
            c->passes = passes;
        free(pass->path);
        free(pass->url);
        free(pass->url_path);
        return config_fail_oom(p);
    }
    c->passes = passes;
    c->passes[c->npasses++] = *pass;
    return 0;
}

/*
 * ProxyPass PATH URL [key=value ...] and ProxyPass PATH !. Parameters go
 * to the balancer for balancer:// URLs (as Apache's documentation says)
 * and to the single member of a plain URL's anonymous balancer.
 */
static int do_proxy_pass(struct parser *p, int argc, char **argv)
{
    static const char expected[] =
        "a URL http://HOST[:PORT][/PATH] or balancer://NAME[/PATH], or !";
    struct proxy_pass pass;
    const char *url = argv[1], *rest = "";
    size_t len;

    config_vhost_note_mapping(p);
    if (!starts_with_slash(p, argv[0]))
        return -1;
    memset(&pass, 0, sizeof(pass));

    if (strcmp(url, "!") == 0) {
        if (argc > 2)
            return fail(p, "ProxyPass: expected nothing after '!', found "
                        "'%s'", argv[2]);
        pass.exclude = true;
    } else if (refuse_flags(p, argc - 2, argv + 2) < 0) {
        return -1;
    } else if (config_has_scheme(url, "balancer")) {
        pass.balancer = config_named_balancer(p, url, &rest);
        if (pass.balancer == NULL ||
            config_balancer_params(p, pass.balancer, argc - 2, argv + 2) < 0)
            return -1;
    } else if (config_has_scheme(url, "http")) {
        pass.balancer = config_anonymous_balancer(p, url);
        if (pass.balancer == NULL ||
            config_member_params(p, pass.balancer->members[0], argc - 2,
                                 argv + 2) < 0)
            return -1;
        len = strlen(url);
        rest = len > 7 && url[len - 1] == '/' ? "/" : "";
    } else {
        return config_fail_scheme(p, expected, url);
    }

    pass.path = strdup(argv[0]);
    pass.url = strdup(url);
    pass.url_path = strdup(rest);
    return add_pass(p, &pass);
}

static int do_proxy_pass_reverse(struct parser *p, int argc, char **argv)
{
    struct config *c = p->cfg;
    struct proxy_pass_reverse r, *list;

    config_vhost_note_mapping(p);
    if (argc == 3)
        return fail(p, "ProxyPassReverse: '%s' is not supported yet",
                    argv[2]);
    if (!starts_with_slash(p, argv[0]))
        return -1;

    memset(&r, 0, sizeof(r));
    if (config_has_scheme(argv[1], "balancer")) {
        r.balancer = config_named_balancer(p, argv[1], NULL);
        if (r.balancer == NULL)
            return -1;
    } else if (!config_has_scheme(argv[1], "http") || argv[1][7] == '\0') {
        return config_fail_scheme(p, "a URL http://HOST[:PORT][/PATH] or "
                                  "balancer://NAME[/PATH]", argv[1]);
    }

    list = config_grow(c->reverses, c->nreverses, sizeof(*list));
    if (list == NULL)
        return config_fail_oom(p);
    c->reverses = list;
    r.path = strdup(argv[0]);
    r.url = strdup(argv[1]);
    if (r.path == NULL || r.url == NULL) {
        free(r.path);
        free(r.url);
        return config_fail_oom(p);
    }
    c->reverses[c->nreverses++] = r;
    return 0;
}

/*
 * BalancerMember URL [key=value ...] inside <Proxy balancer://NAME>, or
 * BalancerMember balancer://NAME URL [key=value ...] anywhere else.
 */
static int do_balancer_member(struct parser *p, int argc, char **argv)
{
    struct section *s = config_enclosing(p);
    struct balancer *b;
    struct member *m;

    if (s != NULL && s->kind == SECTION_PROXY) {
        b = s->balancer;
        if (config_has_scheme(argv[0], "balancer"))
            return fail(p, "BalancerMember: inside <Proxy %s> expected "
                        "URL [key=value ...], found '%s'", b->name,
                        argv[0]);
    } else {
        if (argc < 2 || !config_has_scheme(argv[0], "balancer"))
            return fail(p, "BalancerMember: outside <Proxy> expected "
                        "balancer://NAME URL [key=value ...], found '%s'",
                        argv[0]);
        b = config_balancer_arg(p, argv[0]);
        if (b == NULL)
            return -1;
        argc--;
        argv++;
    }

    m = config_member_new();
    if (m == NULL)
        return config_fail_oom(p);
    if (config_member_set_url(p, m, argv[0]) < 0 ||
        config_member_params(p, m, argc - 1, argv + 1) < 0) {
        config_member_discard(m);
        return -1;
    }
    return config_add_member(p, b, m);
}

/* ProxySet key=value ... inside <Proxy balancer://NAME>, or ProxySet
 * balancer://NAME key=value ... elsewhere. Balancer parameters only. */
static int do_proxy_set(struct parser *p, int argc, char **argv)
{
    struct section *s = config_enclosing(p);
    struct balancer *b;

    if (s != NULL && s->kind == SECTION_PROXY)
        return config_balancer_params(p, s->balancer, argc, argv);

    if (config_has_scheme(argv[0], "http"))
        return fail(p, "ProxySet: parameters of a plain URL are not "
                    "supported yet: expected balancer://NAME, found '%s'",
                    argv[0]);
    if (argc < 2 || strchr(argv[0], '=') != NULL)
        return fail(p, "ProxySet: outside <Proxy> expected balancer://NAME "
                    "key=value ..., found '%s'", argv[0]);
    b = config_balancer_arg(p, argv[0]);
    if (b == NULL)
        return -1;
    return config_balancer_params(p, b, argc - 1, argv + 1);
}

/* The words of argv joined by single spaces (ProxyHCExpr's expression
 * may be written with or without quotes), or NULL. */
static char *join_words(int argc, char **argv)
{
    size_t len = 1;
    char *text;
    int i;

    for (i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    text = malloc(len);
    if (text == NULL)
        return NULL;
    text[0] = '\0';
    for (i = 0; i < argc; i++) {
        if (i > 0)
            strcat(text, " ");
        strcat(text, argv[i]);
    }
    return text;
}

/* ProxyHCExpr NAME {EXPR} and ProxyHCExpectStatus NAME LIST (ours). */
static int define_cond(struct parser *p, int argc, char **argv,
                       bool status_list)
{
    char err[256], *text = join_words(argc - 1, argv + 1);
    int rc;

    if (text == NULL)
        return config_fail_oom(p);
    rc = health_define_cond(p->cfg, argv[0], text, status_list, err,
                            sizeof(err));
    free(text);
    if (rc < 0)
        return fail(p, "%s %s: %s", p->directive, argv[0], err);
    return 0;
}

static int do_proxy_hc_expr(struct parser *p, int argc, char **argv)
{
    return define_cond(p, argc, argv, false);
}

static int do_proxy_hc_expect_status(struct parser *p, int argc,
                                     char **argv)
{
    return define_cond(p, argc, argv, true);
}

static int do_proxy_hc_template(struct parser *p, int argc, char **argv)
{
    char err[256];

    if (health_define_template(p->cfg, argv[0], argc - 1, argv + 1, err,
                               sizeof(err)) < 0)
        return fail(p, "%s %s: %s", p->directive, argv[0], err);
    return 0;
}

static int do_include(struct parser *p, int argc, char **argv)
{
    return config_include(p, argv[0], false);
}

static int do_include_optional(struct parser *p, int argc, char **argv)
{
    return config_include(p, argv[0], true);
}

struct directive {
    const char *name;
    const char *usage;      /* the arguments, for "expected ..." */
    int min_args;
    int max_args;           /* -1: no limit */
    unsigned places;        /* enum place bits */
    int (*handler)(struct parser *p, int argc, char **argv);
};

static const struct directive directives[] = {
    { "BalancerMember", "[balancer://NAME] URL [key=value ...]", 1, -1,
      IN_ANY, do_balancer_member },
    { "BalancerSessionCookies", "NAME ...|None", 1, -1, IN_SERVER,
      config_do_session_cookies },
    { "BalancerPersist", "On|Off", 1, 1, IN_MAIN, do_balancer_persist },
    { "CustomLog", "PATH FORMAT|NICKNAME", 2, 3, IN_SERVER,
      do_custom_log },
    { "ErrorLog", "PATH", 1, 1, IN_SERVER, do_error_log },
    { "Include", "PATH|WILDCARD", 1, 1, IN_ANY, do_include },
    { "IncludeOptional", "PATH|WILDCARD", 1, 1, IN_ANY,
      do_include_optional },
    { "KeepAlive", "On|Off", 1, 1, IN_SERVER, config_do_keepalive },
    { "KeepAliveTimeout", "SECONDS", 1, 1, IN_SERVER,
      config_do_keepalive_timeout },
    { "LimitRequestBody", "BYTES", 1, 1, IN_SERVER,
      config_do_limit_request_body },
    { "LimitRequestFields", "NUMBER", 1, 1, IN_SERVER, do_limit_fields },
    { "LimitRequestFieldSize", "BYTES", 1, 1, IN_SERVER,
      do_limit_field_size },
    { "LimitRequestLine", "BYTES", 1, 1, IN_SERVER, do_limit_line },
    { "Listen", "[ADDR:]PORT [http|https]", 1, 2, IN_MAIN, do_listen },
    { "LoadModule", "MODULE PATH", 2, 2, IN_MAIN, do_load_module },
    { "LogFormat", "FORMAT NICKNAME", 1, 2, IN_SERVER, do_log_format },
    { "LogLevel", "LEVEL [MODULE:LEVEL ...]", 1, -1, IN_SERVER,
      do_log_level },
    { "MaxClients", "NUMBER", 1, 1, IN_MAIN, config_do_max_clients },
    { "MaxKeepAliveRequests", "NUMBER", 1, 1, IN_SERVER,
      config_do_max_keepalive_requests },
    { "MaxRequestWorkers", "NUMBER", 1, 1, IN_MAIN,
      config_do_max_clients },
    { "PidFile", "PATH", 1, 1, IN_MAIN, do_pid_file },
    { "ProxyAddHeaders", "On|Off", 1, 1, IN_SERVER, do_add_headers },
    { "ProxyHCExpectStatus", "NAME CODE|LOW-HIGH[,...]", 2, -1, IN_SERVER,
      do_proxy_hc_expect_status },
    { "ProxyHCExpr", "NAME {%{REQUEST_STATUS} OP VALUE ...}", 2, -1,
      IN_SERVER, do_proxy_hc_expr },
    { "ProxyHCTemplate", "NAME hckey=value ...", 2, -1, IN_SERVER,
      do_proxy_hc_template },
    { "ProxyPass", "PATH URL [key=value ...]", 2, -1, IN_SERVER,
      do_proxy_pass },
    { "ProxyPassReverse", "PATH URL", 2, 3, IN_SERVER,
      do_proxy_pass_reverse },
    { "ProxyPreserveHost", "On|Off", 1, 1, IN_SERVER, do_preserve_host },
    { "ProxyRequests", "Off", 1, 1, IN_SERVER, do_proxy_requests },
    { "ProxySet", "[balancer://NAME] key=value ...", 1, -1, IN_ANY,
      do_proxy_set },
    { "ProxyTimeout", "SECONDS", 1, 1, IN_SERVER, do_proxy_timeout },
    { "RequestReadTimeout", "header=N[-M][,MinRate=R] body=...", 1, 2,
      IN_SERVER, config_do_request_read_timeout },
    { "Require", "all granted|denied | local | ip ADDR|NET ...", 1, -1,
      IN_LOCATION, config_do_require },
    { "Redirect", "[STATUS] URL-PATH [URL]", 2, 3, IN_VHOST,
      config_do_redirect },
    { "SSLCertificateFile", "PATH", 1, 1, IN_VHOST,
      config_do_ssl_certificate_file },
    { "SSLCertificateKeyFile", "PATH", 1, 1, IN_VHOST,
      config_do_ssl_certificate_key_file },
    { "SSLCipherSuite", "[SSL|TLSv1.3] CIPHERS", 1, 2, IN_VHOST,
      config_do_ssl_cipher_suite },
    { "SSLEngine", "On|Off", 1, 1, IN_VHOST, config_do_ssl_engine },
    { "SSLProtocol", "[+|-]PROTOCOL ...", 1, -1, IN_VHOST,
      config_do_ssl_protocol },
    { "ServerName", "NAME[:PORT]", 1, 1, IN_SERVER, do_server_name },
    { "SetHandler", "NAME|None", 1, 1, IN_LOCATION, config_do_set_handler },
    { "Timeout", "SECONDS", 1, 1, IN_SERVER, do_timeout },
    { "Workers", "NUMBER", 1, 1, IN_MAIN, do_workers },
    { NULL, NULL, 0, 0, 0, NULL }
};

/* Apache directives people carry over that we do not implement yet. */
static const char *const apache_directives[] = {
    "ServerRoot", "ServerAdmin", "ServerAlias", "DocumentRoot", "User",
    "Group", "TransferLog", "Header", "RequestHeader",
    "ProxyPassMatch", "ProxyPassReverseCookieDomain",
    "ProxyPassReverseCookiePath", "ProxyVia", "ProxyErrorOverride",
    "ProxyStatus", "ProxyBadHeader", "ProxyIOBufferSize",
    "ProxyReceiveBufferSize",
    "ProxyHCTPsize", "BalancerInherit",
    "BalancerGrowth", "SSLProxyEngine", "SSLCertificateChainFile",
    "SSLCACertificateFile", "SSLVerifyClient", "SSLHonorCipherOrder",
    "SSLSessionCache", "SSLOptions", "Order", "Allow",
    "Deny", "Define", "Mutex", "ErrorDocument", "Alias", "RedirectMatch",
    NULL
};

static const char *const rewrite_directives[] = {
    "RewriteEngine", "RewriteRule", "RewriteCond", "RewriteBase", NULL
};

bool config_in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcasecmp(*list, name) == 0)
            return true;
    return false;
}

static int fail_unknown(struct parser *p, const char *name)
{
    if (config_in_list(rewrite_directives, name))
        return fail(p, "%s (mod_rewrite) is not supported; to have the "
                    "sticky cookie set, use stickysessioninsert=On on the "
                    "balancer", name);
    if (config_in_list(apache_directives, name))
        return fail(p, "Apache's %s directive is not supported yet", name);
    return fail(p, "unknown directive '%s'", name);
}

const char *config_place_name(enum place place)
{
    return place == IN_PROXY ? "inside <Proxy>"
           : place == IN_VHOST ? "inside <VirtualHost>"
           : place == IN_LOCATION ? "inside <Location>" : "at top level";
}

int config_run_directive(struct parser *p, int argc, char **argv)
{
    const struct directive *d;
    enum place place = config_current_place(p);

    for (d = directives; d->name; d++)
        if (strcasecmp(d->name, argv[0]) == 0)
            break;
    if (d->name == NULL)
        return fail_unknown(p, argv[0]);

    p->directive = d->name;
    if (!(d->places & place))
        return fail(p, "%s is not allowed %s", d->name,
                    config_place_name(place));
    if (argc - 1 < d->min_args || (d->max_args >= 0 &&
                                   argc - 1 > d->max_args))
        return fail(p, "%s: expected %s, found %d argument%s", d->name,
                    d->usage, argc - 1, argc == 2 ? "" : "s");
    return d->handler(p, argc - 1, argv + 1);
}

