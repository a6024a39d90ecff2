/*
 * config.c - the configuration reader: Apache httpd syntax in, one
 * immutable struct config out.
 *
 * Reading has three layers. Physical lines are joined into logical lines
 * ("\" continuations, comments); a logical line is split into words
 * (double or single quotes, \" escapes); each line is then a section
 * opener or closer, or a directive looked up in the one table below.
 * Balancers are created at their first mention, so a ProxyPass may name a
 * balancer whose <Proxy> comes later; what must hold for the whole
 * configuration (every balancer has members, at least one Listen, ...) is
 * checked once at the end, and the message names the line to fix.
 *
 * Every error is "FILE:LINE: cause". Apache directives and parameters we
 * do not implement are refused with "not supported", never ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "config.h"
#include "lbmethod.h"

#define MAX_INCLUDE_DEPTH   16
#define MAX_SECTIONS        32
#define MAX_FILE_SIZE       (16 * 1024 * 1024)
#define MAX_SECONDS         86400           /* one day, for every timeout */

#define DEFAULT_TIMEOUT_MS  60000
#define DEFAULT_RETRY_MS    60000

/* Where a directive may appear. <IfModule> does not count as a place. */
enum place {
    IN_MAIN = 1 << 0,       /* top level */
    IN_VHOST = 1 << 1,      /* inside <VirtualHost> */
    IN_PROXY = 1 << 2       /* inside <Proxy balancer://NAME> */
};

#define IN_SERVER (IN_MAIN | IN_VHOST)
#define IN_ANY (IN_MAIN | IN_VHOST | IN_PROXY)

enum section_kind { SECTION_PROXY, SECTION_VHOST, SECTION_IFMODULE };

struct section {
    enum section_kind kind;
    const char *file;
    int line;
    bool skip;                  /* an <IfModule> whose test failed */
    struct balancer *balancer;  /* SECTION_PROXY */
};

/* What the end-of-file checks need to know about balancers[i]. */
struct balancer_note {
    const char *file;           /* first mention */
    int line;
    const char *insert_file;    /* stickysessioninsert=On */
    int insert_line;
};

/* Where access_logs[i] came from; nickname set when its format is one. */
struct access_log_note {
    const char *file;
    int line;
    bool by_nickname;
};

struct parser {
    struct config *cfg;
    struct config_options opt;
    char *err;
    size_t errsize;

    const char *file;           /* where we are, for messages */
    int line;
    const char *directive;      /* the table's spelling */

    char **files;               /* names of every file read, owned */
    size_t nfiles;
    int depth;                  /* Include nesting */

    struct section sections[MAX_SECTIONS];
    int nsections;
    bool vhost_seen;
    bool proxy_timeout_set;

    struct balancer_note *bnotes;   /* parallel to cfg->balancers */
    struct access_log_note *lnotes; /* parallel to cfg->access_logs */
};

static const char out_of_memory[] = "out of memory";

/* ------------------------------------------------------------------ */
/* Errors and small helpers                                            */

static int fail_at(struct parser *p, const char *file, int line,
                   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct parser *p, const char *file, int line,
                   const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->errsize == 0)
        return -1;

    n = snprintf(p->err, p->errsize, "%s:%d: ", file, line);
    if (n < 0 || (size_t)n >= p->errsize)
        return -1;

    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errsize - n, fmt, ap);
    va_end(ap);
    return -1;
}

#define fail(p, ...) fail_at((p), (p)->file, (p)->line, __VA_ARGS__)

static int fail_oom(struct parser *p)
{
    return fail(p, "%s", out_of_memory);
}

/* Grow *array (of n elements of size elem) by one zeroed element. */
static void *grow(void *array, size_t n, size_t elem)
{
    char *a = realloc(array, (n + 1) * elem);

    if (a != NULL)
        memset(a + n * elem, 0, elem);
    return a;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* A decimal number min..max, digits only. Returns 0 or -1. */
static int parse_number(const char *s, long min, long max, long *out)
{
    long v = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    if (v < min)
        return -1;
    *out = v;
    return 0;
}

/* On|Off, any case. Returns 0 or -1. */
static int parse_on_off(const char *s, bool *out)
{
    if (strcasecmp(s, "on") == 0)
        *out = true;
    else if (strcasecmp(s, "off") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* Whole seconds min..MAX_SECONDS, as milliseconds. */
static int parse_seconds(const char *s, long min, int *ms)
{
    long v;

    if (parse_number(s, min, MAX_SECONDS, &v) < 0)
        return -1;
    *ms = (int)(v * 1000);
    return 0;
}

/*
 * A duration as Apache's ap_timeout_parameter_parse reads it: a number
 * with an optional unit, "ms", "s", "mi" or "h", seconds when none.
 * At least 1 ms, at most MAX_SECONDS.
 */
static int parse_duration_ms(const char *s, int *ms)
{
    static const struct { const char *unit; long ms; } units[] = {
        { "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "mi", 60000 },
        { "h", 3600000 },
    };
    char digits[16];
    size_t n = strspn(s, "0123456789");
    long v;
    size_t i;

    if (n == 0 || n >= sizeof(digits))
        return -1;
    memcpy(digits, s, n);
    digits[n] = '\0';
    if (parse_number(digits, 0, MAX_SECONDS * 1000L, &v) < 0)
        return -1;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(s + n, units[i].unit) != 0)
            continue;
        if (v * units[i].ms < 1 || v * units[i].ms > MAX_SECONDS * 1000L)
            return -1;
        *ms = (int)(v * units[i].ms);
        return 0;
    }
    return -1;
}

/*
 * loadfactor: 1 to 100 with at most two decimals (Apache 2.4.32 and
 * later take decimals), stored times 100.
 */
static int parse_loadfactor(const char *s, int *out)
{
    long whole = 0, frac = 0;
    int places = 0;

    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        whole = whole * 10 + (*s - '0');
        if (whole > 100)
            return -1;
    }
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s) && places < 2; s++, places++)
            frac = frac * 10 + (*s - '0');
        if (places == 0)
            return -1;
        if (places == 1)
            frac *= 10;
    }
    if (*s != '\0')
        return -1;

    whole = whole * 100 + frac;
    if (whole < 100 || whole > 10000)
        return -1;
    *out = (int)whole;
    return 0;
}

/* Characters a route, redirect or cookie name may hold: visible ASCII
 * but separators that would break a Cookie header. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= ' ' || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Host names and URLs                                                 */

/*
 * Resolve host (NULL: any address) and port into addr. Returns 0, or -1
 * with the resolver's cause in *cause.
 */
static int resolve(struct parser *p, const char *host, uint16_t port,
                   bool passive, struct sockaddr_storage *addr,
                   socklen_t *addrlen, const char **cause)
{
    struct addrinfo hints, *res;
    char service[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    if (p->opt.numeric_hosts_only)
        hints.ai_flags |= AI_NUMERICHOST;
    snprintf(service, sizeof(service), "%u", port);

    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        *cause = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
        return -1;
    }

    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static bool is_hostname(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-._", *s))
            return false;
    return true;
}

/*
 * Split "host[:port]" or "[v6]:port" (text, len) into host (brackets
 * removed, written to host of size hostsize) and port (0 when none).
 * Returns NULL or what was wrong.
 */
static const char *split_hostport(const char *text, size_t len, char *host,
                                  size_t hostsize, long *port)
{
    const char *colon = NULL, *h = text;
    size_t hlen;
    struct in6_addr a6;

    *port = 0;
    if (len > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', len);

        if (close == NULL)
            return "an IPv6 address closed by ']'";
        h = text + 1;
        hlen = close - h;
        if (close + 1 < text + len) {
            if (close[1] != ':')
                return "':' and a port after ']'";
            colon = close + 1;
        }
    } else {
        colon = memchr(text, ':', len);
        hlen = colon ? (size_t)(colon - text) : len;
        if (colon && memchr(colon + 1, ':', text + len - colon - 1))
            return "an IPv6 address in brackets, [ADDR]:PORT";
    }

    if (hlen == 0 || hlen >= hostsize)
        return "a host name or address";
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (text[0] == '[' && inet_pton(AF_INET6, host, &a6) != 1)
        return "an IPv6 address inside [ ]";
    if (text[0] != '[' && !is_hostname(host))
        return "a host name or address";

    if (colon != NULL) {
        char digits[8];
        size_t plen = text + len - colon - 1;

        if (plen == 0 || plen >= sizeof(digits))
            return "a port from 1 to 65535";
        memcpy(digits, colon + 1, plen);
        digits[plen] = '\0';
        if (parse_number(digits, 1, 65535, port) < 0)
            return "a port from 1 to 65535";
    }
    return NULL;
}

/* Scheme names Apache's mod_proxy knows that we do not serve yet. */
static const char *const unsupported_schemes[] = {
    "https", "ws", "wss", "ajp", "fcgi", "scgi", "uwsgi", "h2", "h2c",
    "ftp", "unix", NULL
};

/* Refuse url with a clear message when its scheme is not ours. */
static int fail_scheme(struct parser *p, const char *what, const char *url)
{
    size_t n = strcspn(url, ":");
    size_t i;

    if (strncmp(url + n, "://", 3) == 0 || strncmp(url + n, ":", 1) == 0) {
        for (i = 0; unsupported_schemes[i]; i++) {
            if (strlen(unsupported_schemes[i]) == n &&
                strncasecmp(url, unsupported_schemes[i], n) == 0)
                return fail(p, "%s: %.*s:// URLs are not supported yet "
                            "(found '%s'; use http://)", p->directive,
                            (int)n, url, url);
        }
    }
    return fail(p, "%s: expected %s, found '%s'", p->directive, what, url);
}

static bool has_scheme(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);

    return strncasecmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3)
           == 0;
}

/*
 * Fill m's address fields from "http://host[:port][/path]". The member's
 * name is the URL without trailing slashes, its path the URL's path
 * without them ("" when none). host is kept without IPv6 brackets;
 * hostport, for the Host header, has them.
 */
static int member_set_url(struct parser *p, struct member *m,
                          const char *url)
{
    static const char expected[] = "a URL http://HOST[:PORT][/PATH]";
    const char *auth = url + 7, *path;
    char host[256];
    const char *why, *cause;
    size_t len;
    long port;

    if (!has_scheme(url, "http"))
        return fail_scheme(p, expected, url);
    if (strpbrk(url, "?#") != NULL)
        return fail(p, "%s: expected %s without query or fragment, "
                    "found '%s'", p->directive, expected, url);

    path = auth + strcspn(auth, "/");
    if (memchr(auth, '@', path - auth) != NULL)
        return fail(p, "%s: user names in URLs are not supported "
                    "(found '%s')", p->directive, url);
    why = split_hostport(auth, path - auth, host, sizeof(host), &port);
    if (why != NULL)
        return fail(p, "%s: expected %s with %s, found '%s'", p->directive,
                    expected, why, url);
    m->port = port ? (uint16_t)port : 80;

    if (resolve(p, host, m->port, false, &m->addr, &m->addrlen, &cause) < 0)
        return fail(p, "%s: cannot resolve host '%s' of %s: %s",
                    p->directive, host, url, cause);

    len = strlen(url);
    while (len > (size_t)(path - url) && url[len - 1] == '/')
        len--;
    m->name = strndup(url, len);
    m->path = strndup(path, url + len - path);
    m->host = strdup(host);
    m->hostport = malloc(strlen(host) + 16);
    if (m->hostport != NULL && m->port == 80)
        sprintf(m->hostport, auth[0] == '[' ? "[%s]" : "%s", host);
    else if (m->hostport != NULL)
        sprintf(m->hostport, auth[0] == '[' ? "[%s]:%u" : "%s:%u", host,
                m->port);
    if (!m->name || !m->path || !m->host || !m->hostport)
        return fail_oom(p);
    return 0;
}

/*
 * Split "balancer://NAME[/PATH]" into the balancer's name, lower case as
 * Apache keeps it ("balancer://name", malloc'd into *name) and the path
 * after it (a pointer into url, "" when none).
 */
static int parse_balancer_url(struct parser *p, const char *url,
                              char **name, const char **path)
{
    const char *start = url + strlen("balancer://");
    size_t n = strcspn(start, "/");
    size_t i;

    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)start[i]) && !strchr("-._", start[i]))
            break;
    if (n == 0 || i < n)
        return fail(p, "%s: expected balancer://NAME with a NAME of "
                    "letters, digits, '-', '_' or '.', found '%s'",
                    p->directive, url);

    *name = strndup(url, start - url + n);
    if (*name == NULL)
        return fail_oom(p);
    for (i = 0; (*name)[i]; i++)
        (*name)[i] = tolower((unsigned char)(*name)[i]);
    *path = start + n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Balancers and members                                               */

static struct member *member_new(void)
{
    struct member *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->route = strdup("");
    m->redirect = strdup("");
    m->loadfactor = 100;
    m->retry_ms = DEFAULT_RETRY_MS;
    if (m->route == NULL || m->redirect == NULL) {
        free(m->route);
        free(m->redirect);
        free(m);
        return NULL;
    }
    return m;
}

static void member_discard(struct member *m)
{
    if (m == NULL)
        return;
    free(m->name);
    free(m->host);
    free(m->path);
    free(m->hostport);
    free(m->route);
    free(m->redirect);
    free(m);
}

/* Append m to b; on failure m is freed. Two members with the same URL in
 * one balancer are refused: the second could never be told apart. */
static int balancer_add_member(struct parser *p, struct balancer *b,
                               struct member *m)
{
    struct member **members;
    size_t i;

    for (i = 0; i < b->nmembers; i++) {
        if (strcmp(b->members[i]->name, m->name) == 0) {
            fail(p, "%s: %s is already a member of %s", p->directive,
                 m->name, b->name);
            member_discard(m);
            return -1;
        }
    }

    members = grow(b->members, b->nmembers, sizeof(*members));
    if (members == NULL) {
        member_discard(m);
        return fail_oom(p);
    }
    b->members = members;
    m->balancer = b;
    m->index = (int)b->nmembers;
    b->members[b->nmembers++] = m;
    return 0;
}

/* Take b (name already set) into the configuration; frees it on error. */
static int config_add_balancer(struct parser *p, struct balancer *b)
{
    struct config *c = p->cfg;
    struct balancer **list;
    struct balancer_note *notes;

    list = grow(c->balancers, c->nbalancers, sizeof(*list));
    if (list != NULL)
        c->balancers = list;
    notes = grow(p->bnotes, c->nbalancers, sizeof(*notes));
    if (notes != NULL)
        p->bnotes = notes;
    if (list == NULL || notes == NULL) {
        balancer_free(b);
        return fail_oom(p);
    }

    p->bnotes[c->nbalancers].file = p->file;
    p->bnotes[c->nbalancers].line = p->line;
    c->balancers[c->nbalancers++] = b;
    return 0;
}

static struct balancer *balancer_new(char *name, bool anonymous)
{
    struct balancer *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->name = name;
    b->anonymous = anonymous;
    b->lbmethod = LBMETHOD_BYREQUESTS;
    b->sticky_sep = '.';
    b->maxattempts = -1;
    b->forcerecovery = true;
    return b;
}

static size_t balancer_index(const struct config *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->nbalancers; i++)
        if (strcasecmp(c->balancers[i]->name, name) == 0)
            return i;
    return c->nbalancers;
}

/*
 * The balancer named by url ("balancer://NAME[/PATH]"), created at its
 * first mention; *path (optional) gets the part after the name.
 */
static struct balancer *named_balancer(struct parser *p, const char *url,
                                       const char **path)
{
    struct config *c = p->cfg;
    struct balancer *b;
    const char *rest = "";
    char *name;
    size_t i;

    if (parse_balancer_url(p, url, &name, &rest) < 0)
        return NULL;
    if (path != NULL)
        *path = rest;

    i = balancer_index(c, name);
    if (i < c->nbalancers) {
        free(name);
        return c->balancers[i];
    }

    b = balancer_new(name, false);
    if (b == NULL) {
        free(name);
        fail_oom(p);
        return NULL;
    }
    if (config_add_balancer(p, b) < 0)
        return NULL;
    return b;
}

/* ------------------------------------------------------------------ */
/* Balancer and member parameters (key=value)                          */

/*
 * A setter returns NULL when value was taken, or what was expected
 * (a phrase following "expected"); out_of_memory when that failed.
 */
typedef const char *(*param_setter)(void *target, const char *value);

struct param {
    const char *key;
    param_setter set;
};

static const char *set_lbmethod(void *t, const char *v)
{
    int kind = lbmethod_from_name(v);

    if (kind < 0)
        return "byrequests, bytraffic or bybusyness";
    ((struct balancer *)t)->lbmethod = (enum lbmethod_kind)kind;
    return NULL;
}

/* stickysession=NAME is both the cookie and the URL parameter, as in
 * Apache; COOKIE|PARAM names them apart. */
static const char *set_stickysession(void *t, const char *v)
{
    static const char expected[] = "a cookie name, or COOKIE|URLPARAM";
    struct balancer *b = t;
    const char *bar = strchr(v, '|');
    char *cookie, *param;

    if (bar != NULL) {
        cookie = strndup(v, bar - v);
        param = strdup(bar + 1);
    } else {
        cookie = strdup(v);
        param = strdup(v);
    }
    if (cookie == NULL || param == NULL) {
        free(cookie);
        free(param);
        return out_of_memory;
    }
    if (!is_token(cookie) || !is_token(param)) {
        free(cookie);
        free(param);
        return expected;
    }

    free(b->sticky_cookie);
    free(b->sticky_param);
    b->sticky_cookie = cookie;
    b->sticky_param = param;
    return NULL;
}

/* One character, or Off: no separator (Apache 2.4.41 and later). */
static const char *set_stickysessionsep(void *t, const char *v)
{
    struct balancer *b = t;

    if (strcasecmp(v, "off") == 0)
        b->sticky_sep = '\0';
    else if (strlen(v) == 1 && !is_space(v[0]) && v[0] != '"')
        b->sticky_sep = v[0];
    else
        return "a single character or Off";
    return NULL;
}

#define ON_OFF_SETTER(fn, type, field)                                  \
    static const char *fn(void *t, const char *v)                      \
    {                                                                   \
        return parse_on_off(v, &((type *)t)->field) < 0 ? "On or Off"   \
                                                        : NULL;         \
    }

ON_OFF_SETTER(set_nofailover, struct balancer, nofailover)
ON_OFF_SETTER(set_scolonpathdelim, struct balancer, scolonpathdelim)
ON_OFF_SETTER(set_forcerecovery, struct balancer, forcerecovery)
ON_OFF_SETTER(set_failontimeout, struct balancer, failontimeout)
ON_OFF_SETTER(set_sticky_insert, struct balancer, sticky_insert)
ON_OFF_SETTER(set_keepalive, struct member, tcp_keepalive)
ON_OFF_SETTER(set_disablereuse, struct member, disablereuse)

static const char *set_enablereuse(void *t, const char *v)
{
    bool on;

    if (parse_on_off(v, &on) < 0)
        return "On or Off";
    ((struct member *)t)->disablereuse = !on;
    return NULL;
}

static const char *set_maxattempts(void *t, const char *v)
{
    long n;

    if (parse_number(v, 0, 1000, &n) < 0)
        return "a number of attempts from 0 to 1000";
    ((struct balancer *)t)->maxattempts = (int)n;
    return NULL;
}

static const char *set_balancer_timeout(void *t, const char *v)
{
    if (parse_seconds(v, 1, &((struct balancer *)t)->timeout_ms) < 0)
        return "whole seconds from 1 to 86400";
    return NULL;
}

/* Codes separated by commas (Apache also takes spaces, inside quotes). */
static const char *set_failonstatus(void *t, const char *v)
{
    static const char expected[] =
        "HTTP status codes 100..599 separated by ',' (at most 16)";
    struct balancer *b = t;
    int codes[MAX_FAILONSTATUS];
    int n = 0;
    const char *s = v;

    while (*s) {
        char digits[4];
        size_t len = strcspn(s, ", ");
        long code;

        if (len == 0 || len >= sizeof(digits) || n == MAX_FAILONSTATUS)
            return expected;
        memcpy(digits, s, len);
        digits[len] = '\0';
        if (parse_number(digits, 100, 599, &code) < 0)
            return expected;
        codes[n++] = (int)code;
        s += len;
        if (*s && *++s == '\0')
            return expected;
    }
    if (n == 0)
        return expected;

    memcpy(b->failonstatus, codes, sizeof(codes[0]) * n);
    b->nfailonstatus = n;
    return NULL;
}

static const char *set_string(char **field, const char *v)
{
    char *copy;

    if (*v != '\0' && !is_token(v))
        return "a name without spaces, quotes or separators";
    copy = strdup(v);
    if (copy == NULL)
        return out_of_memory;
    free(*field);
    *field = copy;
    return NULL;
}

static const char *set_route(void *t, const char *v)
{
    return set_string(&((struct member *)t)->route, v);
}

static const char *set_redirect(void *t, const char *v)
{
    return set_string(&((struct member *)t)->redirect, v);
}

static const char *set_loadfactor(void *t, const char *v)
{
    if (parse_loadfactor(v, &((struct member *)t)->loadfactor) < 0)
        return "a number from 1 to 100 with at most 2 decimals";
    return NULL;
}

static const char *set_lbset(void *t, const char *v)
{
    long n;

    if (parse_number(v, 0, 99, &n) < 0)
        return "a number from 0 to 99";
    ((struct member *)t)->lbset = (int)n;
    return NULL;
}

static const char *set_status(void *t, const char *v)
{
    static __thread char expected[160];
    struct member *m = t;
    unsigned flags = m->initial_status;
    const char *error = NULL;

    if (member_parse_status(v, &flags, &error) < 0) {
        snprintf(expected, sizeof(expected),
                 "status letters D S I H R E N C, each after an optional "
                 "+ or - (%s)", error ? error : "bad status");
        return expected;
    }
    m->initial_status = flags;
    return NULL;
}

static const char *set_retry(void *t, const char *v)
{
    if (parse_seconds(v, 0, &((struct member *)t)->retry_ms) < 0)
        return "whole seconds from 0 to 86400";
    return NULL;
}

static const char *set_member_timeout(void *t, const char *v)
{
    if (parse_seconds(v, 1, &((struct member *)t)->timeout_ms) < 0)
        return "whole seconds from 1 to 86400";
    return NULL;
}

static const char *set_connectiontimeout(void *t, const char *v)
{
    if (parse_duration_ms(v, &((struct member *)t)->connect_timeout_ms) < 0)
        return "seconds, or a number with unit ms, s, mi or h "
               "(1 ms to 86400 s)";
    return NULL;
}

static const char *set_max(void *t, const char *v)
{
    long n;

    if (parse_number(v, 0, 1000000, &n) < 0)
        return "a number of connections from 0 to 1000000";
    ((struct member *)t)->max_conns = (int)n;
    return NULL;
}

static const char *set_ttl(void *t, const char *v)
{
    if (parse_seconds(v, 1, &((struct member *)t)->ttl_ms) < 0)
        return "whole seconds from 1 to 86400";
    return NULL;
}

static const struct param balancer_params[] = {
    { "lbmethod", set_lbmethod },
    { "stickysession", set_stickysession },
    { "stickysessionsep", set_stickysessionsep },
    { "nofailover", set_nofailover },
    { "maxattempts", set_maxattempts },
    { "timeout", set_balancer_timeout },
    { "scolonpathdelim", set_scolonpathdelim },
    { "forcerecovery", set_forcerecovery },
    { "failonstatus", set_failonstatus },
    { "failontimeout", set_failontimeout },
    { "stickysessioninsert", set_sticky_insert },
    { NULL, NULL }
};

static const struct param member_params[] = {
    { "route", set_route },
    { "redirect", set_redirect },
    { "loadfactor", set_loadfactor },
    { "lbset", set_lbset },
    { "status", set_status },
    { "retry", set_retry },
    { "timeout", set_member_timeout },
    { "connectiontimeout", set_connectiontimeout },
    { "keepalive", set_keepalive },
    { "max", set_max },
    { "ttl", set_ttl },
    { "disablereuse", set_disablereuse },
    { "enablereuse", set_enablereuse },
    { NULL, NULL }
};

/* Apache parameters we know and do not implement: refused by name. */
static const char *const unsupported_params[] = {
    "nonce", "growth", "min", "smax", "acquire", "flushpackets",
    "flushwait", "ping", "iobuffersize", "receivebuffersize", "flusher",
    "upgrade", "responsefieldsize", "secret", "addressttl", "mapping",
    NULL
};

static const struct param *find_param(const struct param *table,
                                      const char *key)
{
    for (; table->key; table++)
        if (strcasecmp(table->key, key) == 0)
            return table;
    return NULL;
}

static bool is_unsupported_param(const char *key)
{
    size_t i;

    if (strncasecmp(key, "hc", 2) == 0)
        return true;                /* mod_proxy_hcheck's hcmethod ... */
    for (i = 0; unsupported_params[i]; i++)
        if (strcasecmp(unsupported_params[i], key) == 0)
            return true;
    return false;
}

/*
 * Apply one "key=value" word to target, a balancer (for_balancer) or a
 * member. Errors name the directive, the key and the value.
 */
static int apply_param(struct parser *p, void *target, bool for_balancer,
                       char *word)
{
    const struct param *own = for_balancer ? balancer_params : member_params;
    const struct param *other = for_balancer ? member_params
                                             : balancer_params;
    const struct param *param;
    char *eq = strchr(word, '=');
    const char *expected;

    if (eq == NULL || eq == word)
        return fail(p, "%s: expected key=value, found '%s'", p->directive,
                    word);
    *eq = '\0';

    param = find_param(own, word);
    if (param == NULL && find_param(other, word) != NULL)
        return fail(p, "%s: '%s' is a %s parameter, not allowed here "
                    "(expected %s parameters)", p->directive, word,
                    for_balancer ? "member" : "balancer",
                    for_balancer ? "balancer" : "member");
    if (param == NULL && is_unsupported_param(word))
        return fail(p, "%s: parameter '%s' is not supported yet",
                    p->directive, word);
    if (param == NULL)
        return fail(p, "%s: unknown parameter '%s' (in '%s=%s')",
                    p->directive, word, word, eq + 1);

    expected = param->set(target, eq + 1);
    if (expected == out_of_memory)
        return fail_oom(p);
    if (expected != NULL)
        return fail(p, "%s: bad value '%s' for %s: expected %s",
                    p->directive, eq + 1, param->key, expected);
    return 0;
}

static int apply_balancer_params(struct parser *p, struct balancer *b,
                                 int argc, char **argv)
{
    size_t bi = balancer_index(p->cfg, b->name);
    int i;

    for (i = 0; i < argc; i++) {
        bool insert = strncasecmp(argv[i], "stickysessioninsert=", 20) == 0;

        if (apply_param(p, b, true, argv[i]) < 0)
            return -1;
        if (insert && b->sticky_insert && bi < p->cfg->nbalancers) {
            p->bnotes[bi].insert_file = p->file;
            p->bnotes[bi].insert_line = p->line;
        }
    }
    return 0;
}

static int apply_member_params(struct parser *p, struct member *m, int argc,
                               char **argv)
{
    int i;

    for (i = 0; i < argc; i++)
        if (apply_param(p, m, false, argv[i]) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Where we are                                                        */

static const char *section_name(enum section_kind kind)
{
    switch (kind) {
    case SECTION_PROXY:
        return "Proxy";
    case SECTION_VHOST:
        return "VirtualHost";
    case SECTION_IFMODULE:
        return "IfModule";
    }
    return "?";
}

/* The innermost section that is not an <IfModule>, or NULL. */
static struct section *enclosing(struct parser *p)
{
    int i;

    for (i = p->nsections - 1; i >= 0; i--)
        if (p->sections[i].kind != SECTION_IFMODULE)
            return &p->sections[i];
    return NULL;
}

static enum place current_place(struct parser *p)
{
    struct section *s = enclosing(p);

    if (s == NULL)
        return IN_MAIN;
    return s->kind == SECTION_PROXY ? IN_PROXY : IN_VHOST;
}

static bool skipping(const struct parser *p)
{
    return p->nsections > 0 && p->sections[p->nsections - 1].skip;
}

/* ------------------------------------------------------------------ */
/* Directives                                                          */

static int do_include(struct parser *p, int argc, char **argv);
static int do_include_optional(struct parser *p, int argc, char **argv);

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

    if (argc == 2 && strcasecmp(argv[1], "http") != 0)
        return fail(p, "Listen: protocol '%s' is not supported yet "
                    "(expected http)", argv[1]);

    /* "PORT" and "*:PORT" listen on every IPv4 address. */
    if (strncmp(text, "*:", 2) == 0)
        why = parse_number(text + 2, 1, 65535, &port) < 0 ? "" : NULL;
    else if (strspn(text, "0123456789") == strlen(text))
        why = parse_number(text, 1, 65535, &port) < 0 ? "" : NULL;
    else
        why = split_hostport(text, strlen(text), host, sizeof(host), &port);
    if (why != NULL || port == 0)
        return fail(p, "Listen: expected [ADDR:]PORT with a port from 1 "
                    "to 65535, found '%s'", text);

    memset(&l, 0, sizeof(l));
    if (resolve(p, host, (uint16_t)port, true, &l.addr, &l.addrlen,
                &cause) < 0)
        return fail(p, "Listen: cannot resolve '%s': %s", host, cause);

    for (i = 0; i < c->nlisteners; i++)
        if (c->listeners[i].addrlen == l.addrlen &&
            memcmp(&c->listeners[i].addr, &l.addr, l.addrlen) == 0)
            return fail(p, "Listen: %s is already listened on (as %s)",
                        text, c->listeners[i].text);

    list = grow(c->listeners, c->nlisteners, sizeof(*list));
    if (list == NULL)
        return fail_oom(p);
    c->listeners = list;
    l.text = strdup(text);
    if (l.text == NULL)
        return fail_oom(p);
    c->listeners[c->nlisteners++] = l;
    return 0;
}

static int replace_string(struct parser *p, char **field, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return fail_oom(p);
    free(*field);
    *field = copy;
    return 0;
}

static int do_server_name(struct parser *p, int argc, char **argv)
{
    if (argv[0][0] == '\0')
        return fail(p, "ServerName: expected a host name, found ''");
    return replace_string(p, &p->cfg->server_name, argv[0]);
}

static int do_timeout(struct parser *p, int argc, char **argv)
{
    if (parse_seconds(argv[0], 1, &p->cfg->timeout_ms) < 0)
        return fail(p, "Timeout: expected whole seconds from 1 to 86400, "
                    "found '%s'", argv[0]);
    return 0;
}

static int do_proxy_timeout(struct parser *p, int argc, char **argv)
{
    if (parse_seconds(argv[0], 1, &p->cfg->proxy_timeout_ms) < 0)
        return fail(p, "ProxyTimeout: expected whole seconds from 1 to "
                    "86400, found '%s'", argv[0]);
    p->proxy_timeout_set = true;
    return 0;
}

static int do_preserve_host(struct parser *p, int argc, char **argv)
{
    if (parse_on_off(argv[0], &p->cfg->preserve_host) < 0)
        return fail_on_off(p, argv[0]);
    return 0;
}

static int do_add_headers(struct parser *p, int argc, char **argv)
{
    if (parse_on_off(argv[0], &p->cfg->add_headers) < 0)
        return fail_on_off(p, argv[0]);
    return 0;
}

/* Off is the default and all we do: we are a reverse proxy only. */
static int do_proxy_requests(struct parser *p, int argc, char **argv)
{
    bool on;

    if (parse_on_off(argv[0], &on) < 0)
        return fail_on_off(p, argv[0]);
    if (on)
        return fail(p, "ProxyRequests On (forward proxying) is not "
                    "supported");
    return 0;
}

static int do_workers(struct parser *p, int argc, char **argv)
{
    long n;

    if (parse_number(argv[0], 0, 1024, &n) < 0)
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
    if (parse_number(value, 1, max, &n) < 0)
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

static struct log_format *compile_format(struct parser *p, const char *text)
{
    char cause[256] = "";
    struct log_format *f = log_format_compile(text, cause, sizeof(cause));

    if (f == NULL)
        fail(p, "%s: bad format \"%s\": %s", p->directive, text, cause);
    return f;
}

static size_t format_index(const struct config *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->nformats; i++)
        if (strcmp(c->format_names[i], name) == 0)
            return i;
    return c->nformats;
}

/* Define (or redefine) the nickname name as text. */
static int define_format(struct parser *p, const char *name,
                         const char *text)
{
    struct config *c = p->cfg;
    size_t i = format_index(c, name);
    struct log_format *f, **formats;
    char *n, *t, **names, **texts;

    f = compile_format(p, text);
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
        formats = grow(c->formats, c->nformats, sizeof(*formats));
        if (formats != NULL)
            c->formats = formats;
        names = grow(c->format_names, c->nformats, sizeof(*names));
        if (names != NULL)
            c->format_names = names;
        texts = grow(c->format_texts, c->nformats, sizeof(*texts));
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
    return fail_oom(p);
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
    return define_format(p, argv[1], argv[0]);
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
        log.format = compile_format(p, argv[1]);
        if (log.format == NULL)
            return -1;
    }
    log.path = strdup(argv[0]);
    log.format_text = strdup(argv[1]);
    logs = grow(c->access_logs, c->naccess_logs, sizeof(*logs));
    if (logs != NULL)
        c->access_logs = logs;
    notes = grow(p->lnotes, c->naccess_logs, sizeof(*notes));
    if (notes != NULL)
        p->lnotes = notes;
    if (!log.path || !log.format_text || !logs || !notes) {
        free(log.path);
        free(log.format_text);
        if (log.format != NULL)
            log_format_free(log.format);
        return fail_oom(p);
    }

    p->lnotes[c->naccess_logs].file = p->file;
    p->lnotes[c->naccess_logs].line = p->line;
    p->lnotes[c->naccess_logs].by_nickname = nickname;
    c->access_logs[c->naccess_logs++] = log;
    return 0;
}

/* Modules whose work is built in: <IfModule> finds them, LoadModule of
 * them is accepted and does nothing. slotmem_shm is there because
 * Apache's balancer needs it for the shared state we keep in-process. */
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
};

#define NBUILTIN (sizeof(builtin_modules) / sizeof(builtin_modules[0]))

static bool module_present(const char *name, bool identifier_only)
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
    if (module_present(argv[0], true))
        return 0;
    return fail(p, "LoadModule: '%s' is not built into balancer, which "
                "cannot load modules (built in: proxy_module, "
                "proxy_http_module, proxy_balancer_module, "
                "lbmethod_byrequests_module, lbmethod_bytraffic_module, "
                "lbmethod_bybusyness_module, log_config_module, "
                "slotmem_shm_module)", argv[0]);
}

static bool starts_with_slash(struct parser *p, const char *path)
{
    if (path[0] == '/')
        return true;
    fail(p, "%s: expected a PATH starting with '/', found '%s'",
         p->directive, path);
    return false;
}

/* The anonymous balancer for a plain URL, shared by every ProxyPass to
 * the same URL (Apache shares the worker the same way). */
static struct balancer *anonymous_balancer(struct parser *p,
                                           const char *url)
{
    struct config *c = p->cfg;
    size_t i = balancer_index(c, url);
    struct balancer *b;
    struct member *m;
    char *name;

    if (i < c->nbalancers)
        return c->balancers[i];

    m = member_new();
    if (m == NULL) {
        fail_oom(p);
        return NULL;
    }
    if (member_set_url(p, m, url) < 0) {
        member_discard(m);
        return NULL;
    }

    name = strdup(url);
    b = name ? balancer_new(name, true) : NULL;
    if (b == NULL) {
        free(name);
        member_discard(m);
        fail_oom(p);
        return NULL;
    }
    if (balancer_add_member(p, b, m) < 0) {
        balancer_free(b);
        return NULL;
    }
    if (config_add_balancer(p, b) < 0)
        return NULL;
    return b;
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

    passes = grow(c->passes, c->npasses, sizeof(*passes));
    if (passes == NULL || !pass->path || !pass->url || !pass->url_path) {
        if (passes != NULL)
            c->passes = passes;
        free(pass->path);
        free(pass->url);
        free(pass->url_path);
        return fail_oom(p);
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
    } else if (has_scheme(url, "balancer")) {
        pass.balancer = named_balancer(p, url, &rest);
        if (pass.balancer == NULL ||
            apply_balancer_params(p, pass.balancer, argc - 2, argv + 2) < 0)
            return -1;
    } else if (has_scheme(url, "http")) {
        pass.balancer = anonymous_balancer(p, url);
        if (pass.balancer == NULL ||
            apply_member_params(p, pass.balancer->members[0], argc - 2,
                                argv + 2) < 0)
            return -1;
        len = strlen(url);
        rest = len > 7 && url[len - 1] == '/' ? "/" : "";
    } else {
        return fail_scheme(p, expected, url);
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

    if (argc == 3)
        return fail(p, "ProxyPassReverse: '%s' is not supported yet",
                    argv[2]);
    if (!starts_with_slash(p, argv[0]))
        return -1;

    memset(&r, 0, sizeof(r));
    if (has_scheme(argv[1], "balancer")) {
        r.balancer = named_balancer(p, argv[1], NULL);
        if (r.balancer == NULL)
            return -1;
    } else if (!has_scheme(argv[1], "http") || argv[1][7] == '\0') {
        return fail_scheme(p, "a URL http://HOST[:PORT][/PATH] or "
                           "balancer://NAME[/PATH]", argv[1]);
    }

    list = grow(c->reverses, c->nreverses, sizeof(*list));
    if (list == NULL)
        return fail_oom(p);
    c->reverses = list;
    r.path = strdup(argv[0]);
    r.url = strdup(argv[1]);
    if (r.path == NULL || r.url == NULL) {
        free(r.path);
        free(r.url);
        return fail_oom(p);
    }
    c->reverses[c->nreverses++] = r;
    return 0;
}

/* "balancer://NAME" naming a whole balancer: no path but "/" after. */
static struct balancer *balancer_arg(struct parser *p, const char *url)
{
    struct balancer *b;
    const char *rest = "";

    if (!has_scheme(url, "balancer")) {
        fail(p, "%s: expected balancer://NAME, found '%s'", p->directive,
             url);
        return NULL;
    }
    b = named_balancer(p, url, &rest);
    if (b != NULL && rest[0] != '\0' && strcmp(rest, "/") != 0) {
        fail(p, "%s: expected balancer://NAME without a path, found '%s'",
             p->directive, url);
        return NULL;
    }
    return b;
}

/*
 * BalancerMember URL [key=value ...] inside <Proxy balancer://NAME>, or
 * BalancerMember balancer://NAME URL [key=value ...] anywhere else.
 */
static int do_balancer_member(struct parser *p, int argc, char **argv)
{
    struct section *s = enclosing(p);
    struct balancer *b;
    struct member *m;

    if (s != NULL && s->kind == SECTION_PROXY) {
        b = s->balancer;
        if (has_scheme(argv[0], "balancer"))
            return fail(p, "BalancerMember: inside <Proxy %s> expected "
                        "URL [key=value ...], found '%s'", b->name,
                        argv[0]);
    } else {
        if (argc < 2 || !has_scheme(argv[0], "balancer"))
            return fail(p, "BalancerMember: outside <Proxy> expected "
                        "balancer://NAME URL [key=value ...], found '%s'",
                        argv[0]);
        b = balancer_arg(p, argv[0]);
        if (b == NULL)
            return -1;
        argc--;
        argv++;
    }

    m = member_new();
    if (m == NULL)
        return fail_oom(p);
    if (member_set_url(p, m, argv[0]) < 0 ||
        apply_member_params(p, m, argc - 1, argv + 1) < 0) {
        member_discard(m);
        return -1;
    }
    return balancer_add_member(p, b, m);
}

/* ProxySet key=value ... inside <Proxy balancer://NAME>, or ProxySet
 * balancer://NAME key=value ... elsewhere. Balancer parameters only. */
static int do_proxy_set(struct parser *p, int argc, char **argv)
{
    struct section *s = enclosing(p);
    struct balancer *b;

    if (s != NULL && s->kind == SECTION_PROXY)
        return apply_balancer_params(p, s->balancer, argc, argv);

    if (has_scheme(argv[0], "http"))
        return fail(p, "ProxySet: parameters of a plain URL are not "
                    "supported yet: expected balancer://NAME, found '%s'",
                    argv[0]);
    if (argc < 2 || strchr(argv[0], '=') != NULL)
        return fail(p, "ProxySet: outside <Proxy> expected balancer://NAME "
                    "key=value ..., found '%s'", argv[0]);
    b = balancer_arg(p, argv[0]);
    if (b == NULL)
        return -1;
    return apply_balancer_params(p, b, argc - 1, argv + 1);
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
    { "CustomLog", "PATH FORMAT|NICKNAME", 2, 3, IN_SERVER,
      do_custom_log },
    { "ErrorLog", "PATH", 1, 1, IN_SERVER, do_error_log },
    { "Include", "PATH|WILDCARD", 1, 1, IN_ANY, do_include },
    { "IncludeOptional", "PATH|WILDCARD", 1, 1, IN_ANY,
      do_include_optional },
    { "LimitRequestFields", "NUMBER", 1, 1, IN_SERVER, do_limit_fields },
    { "LimitRequestFieldSize", "BYTES", 1, 1, IN_SERVER,
      do_limit_field_size },
    { "LimitRequestLine", "BYTES", 1, 1, IN_SERVER, do_limit_line },
    { "Listen", "[ADDR:]PORT [http]", 1, 2, IN_MAIN, do_listen },
    { "LoadModule", "MODULE PATH", 2, 2, IN_MAIN, do_load_module },
    { "LogFormat", "FORMAT NICKNAME", 1, 2, IN_SERVER, do_log_format },
    { "LogLevel", "LEVEL [MODULE:LEVEL ...]", 1, -1, IN_SERVER,
      do_log_level },
    { "ProxyAddHeaders", "On|Off", 1, 1, IN_SERVER, do_add_headers },
    { "ProxyPass", "PATH URL [key=value ...]", 2, -1, IN_SERVER,
      do_proxy_pass },
    { "ProxyPassReverse", "PATH URL", 2, 3, IN_SERVER,
      do_proxy_pass_reverse },
    { "ProxyPreserveHost", "On|Off", 1, 1, IN_SERVER, do_preserve_host },
    { "ProxyRequests", "Off", 1, 1, IN_SERVER, do_proxy_requests },
    { "ProxySet", "[balancer://NAME] key=value ...", 1, -1, IN_ANY,
      do_proxy_set },
    { "ProxyTimeout", "SECONDS", 1, 1, IN_SERVER, do_proxy_timeout },
    { "ServerName", "NAME[:PORT]", 1, 1, IN_SERVER, do_server_name },
    { "Timeout", "SECONDS", 1, 1, IN_SERVER, do_timeout },
    { "Workers", "NUMBER", 1, 1, IN_MAIN, do_workers },
    { NULL, NULL, 0, 0, 0, NULL }
};

/* Apache directives people carry over that we do not implement yet. */
static const char *const apache_directives[] = {
    "ServerRoot", "ServerAdmin", "ServerAlias", "DocumentRoot", "User",
    "Group", "PidFile", "KeepAlive", "KeepAliveTimeout",
    "MaxKeepAliveRequests", "TransferLog", "Header", "RequestHeader",
    "ProxyPassMatch", "ProxyPassReverseCookieDomain",
    "ProxyPassReverseCookiePath", "ProxyVia", "ProxyErrorOverride",
    "ProxyStatus", "ProxyBadHeader", "ProxyIOBufferSize",
    "ProxyReceiveBufferSize", "ProxyHCExpr", "ProxyHCTemplate",
    "ProxyHCTPsize", "BalancerPersist", "BalancerInherit",
    "BalancerGrowth", "SSLEngine", "SSLProxyEngine", "SSLCertificateFile",
    "SSLCertificateKeyFile", "SetHandler", "Require", "Order", "Allow",
    "Deny", "Define", "Mutex", "ErrorDocument", "Alias", "Redirect",
    NULL
};

static const char *const rewrite_directives[] = {
    "RewriteEngine", "RewriteRule", "RewriteCond", "RewriteBase", NULL
};

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcasecmp(*list, name) == 0)
            return true;
    return false;
}

static int fail_unknown(struct parser *p, const char *name)
{
    if (in_list(rewrite_directives, name))
        return fail(p, "%s (mod_rewrite) is not supported; to have the "
                    "sticky cookie set, use stickysessioninsert=On on the "
                    "balancer", name);
    if (in_list(apache_directives, name))
        return fail(p, "Apache's %s directive is not supported yet", name);
    return fail(p, "unknown directive '%s'", name);
}

static const char *place_name(enum place place)
{
    return place == IN_PROXY ? "inside <Proxy>"
           : place == IN_VHOST ? "inside <VirtualHost>" : "at top level";
}

static int run_directive(struct parser *p, int argc, char **argv)
{
    const struct directive *d;
    enum place place = current_place(p);

    for (d = directives; d->name; d++)
        if (strcasecmp(d->name, argv[0]) == 0)
            break;
    if (d->name == NULL)
        return fail_unknown(p, argv[0]);

    p->directive = d->name;
    if (!(d->places & place))
        return fail(p, "%s is not allowed %s", d->name, place_name(place));
    if (argc - 1 < d->min_args || (d->max_args >= 0 &&
                                   argc - 1 > d->max_args))
        return fail(p, "%s: expected %s, found %d argument%s", d->name,
                    d->usage, argc - 1, argc == 2 ? "" : "s");
    return d->handler(p, argc - 1, argv + 1);
}

/* ------------------------------------------------------------------ */
/* Words and sections                                                  */

/*
 * Split s in place into words, as Apache's ap_getword_conf does: runs of
 * non-space, or text in double or single quotes where \" (\') stands for
 * the quote. *words is malloc'd and points into s.
 */
static int split_words(struct parser *p, char *s, char ***words, int *count)
{
    size_t cap = 8;
    int n = 0;
    char **w = malloc(cap * sizeof(*w)), **bigger;

    if (w == NULL)
        return fail_oom(p);
    for (;;) {
        while (is_space(*s))
            s++;
        if (*s == '\0')
            break;
        if ((size_t)n + 1 >= cap) {
            cap *= 2;
            bigger = realloc(w, cap * sizeof(*w));
            if (bigger == NULL) {
                free(w);
                return fail_oom(p);
            }
            w = bigger;
        }

        if (*s == '"' || *s == '\'') {
            char quote = *s++, *out = s;

            w[n++] = out;
            for (;;) {
                if (*s == '\0') {
                    free(w);
                    return fail(p, "expected a closing %c to end the "
                                "quoted argument, found the end of the "
                                "line", quote);
                }
                if (*s == '\\' && s[1] == quote) {
                    *out++ = quote;
                    s += 2;
                } else if (*s == quote) {
                    s++;
                    break;
                } else {
                    *out++ = *s++;
                }
            }
            *out = '\0';
        } else {
            w[n++] = s;
            while (*s != '\0' && !is_space(*s))
                s++;
            if (*s != '\0')
                *s++ = '\0';
        }
    }
    *words = w;
    *count = n;
    return 0;
}

static int push_section(struct parser *p, enum section_kind kind, bool skip,
                        struct balancer *b)
{
    struct section *s;

    if (p->nsections == MAX_SECTIONS)
        return fail(p, "sections nested deeper than %d", MAX_SECTIONS);
    s = &p->sections[p->nsections++];
    s->kind = kind;
    s->file = p->file;
    s->line = p->line;
    s->skip = skip;
    s->balancer = b;
    return 0;
}

static int open_proxy(struct parser *p, int argc, char **argv)
{
    struct balancer *b;

    p->directive = "<Proxy>";
    if (current_place(p) == IN_PROXY)
        return fail(p, "<Proxy> is not allowed inside <Proxy>");
    if (argc != 1)
        return fail(p, "<Proxy>: expected <Proxy balancer://NAME>, found "
                    "%d arguments", argc);
    if (!has_scheme(argv[0], "balancer"))
        return fail(p, "<Proxy %s>: only <Proxy balancer://NAME> is "
                    "supported yet", argv[0]);
    b = balancer_arg(p, argv[0]);
    if (b == NULL)
        return -1;
    return push_section(p, SECTION_PROXY, false, b);
}

/* We serve one virtual host: the directives inside apply globally. */
static int open_vhost(struct parser *p, int argc, char **argv)
{
    enum place place = current_place(p);

    if (place != IN_MAIN)
        return fail(p, "<VirtualHost> is not allowed %s",
                    place_name(place));
    if (argc == 0)
        return fail(p, "<VirtualHost>: expected <VirtualHost ADDR:PORT "
                    "...>, found no address");
    if (p->vhost_seen)
        return fail(p, "a second <VirtualHost> is not supported yet (one "
                    "virtual host is served)");
    p->vhost_seen = true;
    return push_section(p, SECTION_VHOST, false, NULL);
}

static int open_ifmodule(struct parser *p, int argc, char **argv)
{
    const char *name;
    bool negate, present;

    if (argc != 1)
        return fail(p, "<IfModule>: expected <IfModule [!]MODULE>, found "
                    "%d arguments", argc);
    negate = argv[0][0] == '!';
    name = argv[0] + negate;
    if (*name == '\0')
        return fail(p, "<IfModule>: expected a module name, found '%s'",
                    argv[0]);
    present = module_present(name, false);
    return push_section(p, SECTION_IFMODULE, present == negate, NULL);
}

/* Apache sections we know and do not implement yet. */
static const char *const unsupported_sections[] = {
    "Location", "LocationMatch", "Directory", "DirectoryMatch", "Files",
    "FilesMatch", "ProxyMatch", "If", "ElseIf", "Else", "IfDefine",
    "IfVersion", "IfFile", "IfDirective", "IfSection", "Limit",
    "LimitExcept", "Macro", "RequireAll", "RequireAny", "RequireNone",
    NULL
};

static int open_section(struct parser *p, char *name, char *rest)
{
    char **argv;
    int argc, rc;

    if (split_words(p, rest, &argv, &argc) < 0)
        return -1;
    if (strcasecmp(name, "Proxy") == 0)
        rc = open_proxy(p, argc, argv);
    else if (strcasecmp(name, "VirtualHost") == 0)
        rc = open_vhost(p, argc, argv);
    else if (strcasecmp(name, "IfModule") == 0)
        rc = open_ifmodule(p, argc, argv);
    else if (in_list(unsupported_sections, name))
        rc = fail(p, "<%s> sections are not supported yet", name);
    else
        rc = fail(p, "unknown section <%s>", name);
    free(argv);
    return rc;
}

static int close_section(struct parser *p, const char *name, int file_base)
{
    struct section *top;

    if (p->nsections == file_base)
        return fail(p, "</%s> without a matching <%s>", name, name);
    top = &p->sections[p->nsections - 1];
    if (strcasecmp(name, section_name(top->kind)) != 0)
        return fail(p, "expected </%s> to close <%s> of line %d, found "
                    "</%s>", section_name(top->kind),
                    section_name(top->kind), top->line, name);
    p->nsections--;
    return 0;
}

/*
 * A line starting with '<': "<Name args...>" or "</Name>". While an
 * <IfModule> is skipped only nested <IfModule> lines count.
 */
static int section_line(struct parser *p, char *s, int file_base)
{
    size_t len = strlen(s);
    char *name, *rest;
    bool closing = s[1] == '/';

    if (len < 3 || s[len - 1] != '>') {
        if (skipping(p))
            return 0;
        return fail(p, "expected '>' at the end of the section line, "
                    "found '%.80s'", s);
    }
    s[len - 1] = '\0';
    name = s + 1 + closing;
    rest = name + strcspn(name, " \t\r\f\v");
    if (*rest != '\0')
        *rest++ = '\0';

    if (skipping(p)) {
        if (strcasecmp(name, "IfModule") != 0)
            return 0;
        if (closing)
            return close_section(p, name, file_base);
        return push_section(p, SECTION_IFMODULE, true, NULL);
    }

    if (*name == '\0')
        return fail(p, "expected a section name after '<', found '<%s>'",
                    s + 1);
    if (closing) {
        while (is_space(*rest))
            rest++;
        if (*rest != '\0')
            return fail(p, "expected </%s>, found text '%s' after the "
                        "name", name, rest);
        return close_section(p, name, file_base);
    }
    return open_section(p, name, rest);
}

/* One logical line (continuations joined), NUL-terminated, writable. */
static int logical_line(struct parser *p, char *s, int file_base)
{
    size_t len;
    char **argv;
    int argc, rc;

    while (is_space(*s))
        s++;
    if (*s == '\0' || *s == '#')
        return 0;
    len = strlen(s);
    while (len > 0 && is_space(s[len - 1]))
        s[--len] = '\0';

    if (*s == '<')
        return section_line(p, s, file_base);
    if (skipping(p))
        return 0;

    if (split_words(p, s, &argv, &argc) < 0)
        return -1;
    rc = run_directive(p, argc, argv);
    free(argv);
    p->directive = NULL;
    return rc;
}

/*
 * Run every logical line of text. A line ending in '\' goes on with the
 * next one (the backslash and the newline removed), as in Apache, also
 * for comments. Messages name the first physical line.
 */
static int run_text(struct parser *p, const char *text, size_t len,
                    int file_base, int *last_line)
{
    size_t pos = 0, blen, cap = 256;
    char *buf = malloc(cap), *bigger;
    int lineno = 0, rc = 0;

    if (buf == NULL)
        return fail_oom(p);
    while (pos < len && rc == 0) {
        int first = lineno + 1;

        blen = 0;
        for (;;) {
            const char *nl = memchr(text + pos, '\n', len - pos);
            size_t end = nl ? (size_t)(nl - text) : len, n;
            bool more;

            lineno++;
            n = end - pos;
            if (n > 0 && text[pos + n - 1] == '\r')
                n--;
            more = n > 0 && text[pos + n - 1] == '\\';
            n -= more;
            if (blen + n + 1 > cap) {
                while (blen + n + 1 > cap)
                    cap *= 2;
                bigger = realloc(buf, cap);
                if (bigger == NULL) {
                    free(buf);
                    return fail_oom(p);
                }
                buf = bigger;
            }
            memcpy(buf + blen, text + pos, n);
            blen += n;
            pos = nl ? end + 1 : len;
            if (!more || pos >= len)
                break;
        }
        buf[blen] = '\0';
        p->line = first;
        rc = logical_line(p, buf, file_base);
    }
    free(buf);
    *last_line = lineno;
    return rc;
}

/* Keep name for the configuration's lifetime of messages. */
static const char *remember_file(struct parser *p, const char *name)
{
    char **files = grow(p->files, p->nfiles, sizeof(*files));
    char *copy = strdup(name);

    if (files != NULL)
        p->files = files;
    if (files == NULL || copy == NULL) {
        free(copy);
        fail_oom(p);
        return NULL;
    }
    p->files[p->nfiles++] = copy;
    return copy;
}

/*
 * Run the text of file name. Sections must close in the file that opens
 * them. *last_line gets the number of lines.
 */
static int run_file(struct parser *p, const char *name, const char *text,
                    size_t len, int *last_line)
{
    const char *saved_file = p->file;
    int saved_line = p->line, base = p->nsections, rc;
    const char *file = remember_file(p, name);
    struct section *top;

    if (file == NULL)
        return -1;
    p->file = file;
    p->line = 0;
    rc = run_text(p, text, len, base, last_line);
    if (rc == 0 && p->nsections > base) {
        top = &p->sections[p->nsections - 1];
        rc = fail_at(p, top->file, top->line, "<%s> is not closed: "
                     "expected </%s> before the end of the file",
                     section_name(top->kind), section_name(top->kind));
    }
    p->nsections = base;
    p->file = saved_file;
    p->line = saved_line;
    return rc;
}

/* Read path whole. Returns the text (malloc'd) or NULL with *cause. */
static char *read_whole(const char *path, size_t *len, const char **cause)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL, *bigger;
    size_t n = 0, cap = 0, got;

    if (f == NULL) {
        *cause = strerror(errno);
        return NULL;
    }
    do {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            bigger = realloc(text, cap);
            if (bigger == NULL || cap > MAX_FILE_SIZE) {
                free(bigger ? bigger : text);
                fclose(f);
                *cause = bigger ? "file larger than 16 MiB" : out_of_memory;
                return NULL;
            }
            text = bigger;
        }
        got = fread(text + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);

    if (ferror(f)) {
        *cause = strerror(errno);
        free(text);
        fclose(f);
        return NULL;
    }
    fclose(f);
    text[n] = '\0';
    *len = n;
    return text;
}

/* Read and run the file path; errors are named at the current line. */
static int run_path(struct parser *p, const char *path, int *last_line)
{
    const char *cause;
    size_t len;
    char *text = read_whole(path, &len, &cause);
    const char *nul;
    int rc;

    if (text == NULL)
        return fail(p, "cannot read '%s': %s", path, cause);
    nul = memchr(text, '\0', len);
    if (nul != NULL) {
        int line = 1;
        const char *s;

        for (s = text; s < nul; s++)
            line += *s == '\n';
        free(text);
        return fail_at(p, path, line, "expected text, found a NUL byte");
    }
    rc = run_file(p, path, text, len, last_line);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Include                                                             */

static int include_entry(struct parser *p, const char *path);

/* Every file of a directory, in name order, sub-directories too (as
 * Apache includes a directory). Names starting with '.' are left out. */
static int include_directory(struct parser *p, const char *dir)
{
    size_t size = strlen(dir) + 3, i;
    char *pattern = malloc(size);
    glob_t g;
    int rc = 0, r;

    if (pattern == NULL)
        return fail_oom(p);
    snprintf(pattern, size, "%s/*", dir);
    r = glob(pattern, 0, NULL, &g);
    free(pattern);
    if (r == GLOB_NOMATCH)
        return 0;
    if (r != 0)
        return fail(p, "%s: cannot list directory '%s'", p->directive, dir);
    for (i = 0; i < g.gl_pathc && rc == 0; i++)
        rc = include_entry(p, g.gl_pathv[i]);
    globfree(&g);
    return rc;
}

static int include_entry(struct parser *p, const char *path)
{
    struct stat st;
    int last, rc;

    if (stat(path, &st) < 0)
        return fail(p, "%s: cannot read '%s': %s", p->directive, path,
                    strerror(errno));
    if (p->depth >= MAX_INCLUDE_DEPTH)
        return fail(p, "%s: includes nested deeper than %d (does a file "
                    "include itself?)", p->directive, MAX_INCLUDE_DEPTH);

    p->depth++;
    if (S_ISDIR(st.st_mode))
        rc = include_directory(p, path);
    else if (S_ISREG(st.st_mode))
        rc = run_path(p, path, &last);
    else
        rc = fail(p, "%s: '%s' is not a file nor a directory",
                  p->directive, path);
    p->depth--;
    return rc;
}

/*
 * Include PATTERN: a file, a directory or a glob(3) wildcard. Relative
 * paths are taken from the including file's directory (Apache takes them
 * from ServerRoot, which we do not have). A wildcard that matches nothing
 * and a file that does not exist are errors for Include and nothing for
 * IncludeOptional, as in Apache 2.4.
 */
static int include_pattern(struct parser *p, const char *pattern,
                           bool optional)
{
    const char *slash = strrchr(p->file, '/');
    size_t dirlen = slash && pattern[0] != '/' ? (size_t)(slash - p->file)
                                               : 0;
    size_t size = dirlen + strlen(pattern) + 2, i;
    char *full;
    glob_t g;
    int rc = 0, r;

    if (p->opt.no_includes)
        return fail(p, "%s is switched off here", p->directive);
    if (pattern[0] == '\0')
        return fail(p, "%s: expected a PATH, found ''", p->directive);
    full = malloc(size);
    if (full == NULL)
        return fail_oom(p);
    snprintf(full, size, "%.*s%s%s", (int)dirlen, p->file,
             dirlen ? "/" : "", pattern);

    if (strpbrk(full, "*?[") == NULL) {
        struct stat st;

        if (optional && stat(full, &st) < 0 && errno == ENOENT)
            rc = 0;
        else
            rc = include_entry(p, full);
        free(full);
        return rc;
    }

    r = glob(full, 0, NULL, &g);
    if (r == GLOB_NOMATCH && !optional)
        rc = fail(p, "%s: no file matches '%s'", p->directive, full);
    else if (r != 0 && r != GLOB_NOMATCH)
        rc = fail(p, "%s: cannot expand '%s'", p->directive, full);
    for (i = 0; r == 0 && i < g.gl_pathc && rc == 0; i++)
        rc = include_entry(p, g.gl_pathv[i]);
    if (r == 0)
        globfree(&g);
    free(full);
    return rc;
}

static int do_include(struct parser *p, int argc, char **argv)
{
    return include_pattern(p, argv[0], false);
}

static int do_include_optional(struct parser *p, int argc, char **argv)
{
    return include_pattern(p, argv[0], true);
}

/* ------------------------------------------------------------------ */
/* The end of the configuration                                        */

static int check_balancers(struct parser *p)
{
    struct config *c = p->cfg;
    size_t i;

    for (i = 0; i < c->nbalancers; i++) {
        struct balancer *b = c->balancers[i];
        struct balancer_note *n = &p->bnotes[i];

        if (b->nmembers == 0)
            return fail_at(p, n->file, n->line, "%s has no members: "
                           "expected BalancerMember lines in <Proxy %s> "
                           "(or BalancerMember %s URL)", b->name, b->name,
                           b->name);
        if (b->sticky_insert && b->sticky_cookie == NULL)
            return fail_at(p, n->insert_file, n->insert_line,
                           "%s: stickysessioninsert=On needs "
                           "stickysession=NAME, the cookie to set",
                           b->name);
        if (b->maxattempts < 0)
            b->maxattempts = (int)b->nmembers - 1;
    }
    return 0;
}

/* Give each CustomLog that names a nickname its format. */
static int resolve_access_logs(struct parser *p)
{
    struct config *c = p->cfg;
    size_t i, f;

    for (i = 0; i < c->naccess_logs; i++) {
        struct access_log *log = &c->access_logs[i];
        struct access_log_note *n = &p->lnotes[i];
        char *text;

        if (!n->by_nickname)
            continue;
        p->file = n->file;
        p->line = n->line;
        p->directive = "CustomLog";
        f = format_index(c, log->format_text);
        if (f == c->nformats)
            return fail(p, "CustomLog: expected a format with %% "
                        "directives or a LogFormat nickname, found "
                        "'%s'", log->format_text);
        text = strdup(c->format_texts[f]);
        if (text == NULL)
            return fail_oom(p);
        free(log->format_text);
        log->format_text = text;
        log->format = compile_format(p, text);
        if (log->format == NULL)
            return -1;
    }
    return 0;
}

static int finish(struct parser *p, int last_line)
{
    struct config *c = p->cfg;
    char host[256];
    size_t i;

    if (check_balancers(p) < 0)
        return -1;
    if (c->nlisteners == 0)
        return fail_at(p, c->file, last_line, "no Listen directive: "
                       "expected at least one Listen [ADDR:]PORT");
    if (resolve_access_logs(p) < 0)
        return -1;

    if (!p->proxy_timeout_set)
        c->proxy_timeout_ms = c->timeout_ms;
    if (c->server_name == NULL) {
        if (gethostname(host, sizeof(host)) < 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        c->server_name = strdup(host);
        if (c->server_name == NULL)
            return fail_at(p, c->file, last_line, "%s", out_of_memory);
    }

    for (i = 0; i < c->nbalancers; i++)
        if (balancer_init_runtime(c->balancers[i]) < 0)
            return fail_at(p, c->file, last_line, "%s: cannot initialise "
                           "its lock", c->balancers[i]->name);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The snapshot                                                        */

/* A snapshot with the defaults, in p->cfg (which may be NULL on error). */
static int config_new(struct parser *p, const char *name)
{
    static const char *const predefined[][2] = {
        { "common", LOG_FORMAT_COMMON },
        { "combined", LOG_FORMAT_COMBINED },
        { "balancer", LOG_FORMAT_BALANCER },
    };
    struct config *c = calloc(1, sizeof(*c));
    size_t i;

    p->cfg = c;
    if (c == NULL || (c->file = strdup(name)) == NULL)
        return fail_at(p, name, 0, "%s", out_of_memory);
    c->add_headers = true;
    c->preserve_host = false;
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    c->proxy_timeout_ms = DEFAULT_TIMEOUT_MS;
    c->log_level = LOG_LEVEL_WARN;
    c->limits.max_request_line = 8190;
    c->limits.max_field_size = 8190;
    c->limits.max_fields = 100;

    p->file = c->file;
    p->directive = "LogFormat";
    for (i = 0; i < sizeof(predefined) / sizeof(predefined[0]); i++)
        if (define_format(p, predefined[i][0], predefined[i][1]) < 0)
            return -1;
    p->directive = NULL;
    return 0;
}

static void parser_done(struct parser *p)
{
    size_t i;

    for (i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    free(p->bnotes);
    free(p->lnotes);
}

static void parser_init(struct parser *p, const struct config_options *opt,
                        char *errbuf, size_t errsize)
{
    memset(p, 0, sizeof(*p));
    if (opt != NULL)
        p->opt = *opt;
    p->err = errbuf;
    p->errsize = errsize;
    if (errsize > 0)
        errbuf[0] = '\0';
}

/* Read name's text, or (text NULL) the file name, into a snapshot. */
static struct config *load(const char *name, const char *text,
                           const struct config_options *opt, char *errbuf,
                           size_t errsize)
{
    struct parser p;
    struct config *c;
    int last_line = 0, rc;

    parser_init(&p, opt, errbuf, errsize);
    rc = config_new(&p, name);
    c = p.cfg;
    if (rc < 0)
        goto fail_free;

    p.file = c->file;
    p.line = 0;
    if (text != NULL)
        rc = run_file(&p, name, text, strlen(text), &last_line);
    else
        rc = run_path(&p, name, &last_line);
    if (rc < 0 || finish(&p, last_line) < 0)
        goto fail_free;

    parser_done(&p);
    return c;

fail_free:
    if (errsize > 0 && errbuf[0] == '\0')
        snprintf(errbuf, errsize, "%s:0: cannot read the configuration",
                 name);
    config_free(c);
    parser_done(&p);
    return NULL;
}

struct config *config_load(const char *path, char *errbuf, size_t errsize)
{
    return load(path, NULL, NULL, errbuf, errsize);
}

struct config *config_load_string(const char *name, const char *text,
                                  char *errbuf, size_t errsize)
{
    return load(name, text, NULL, errbuf, errsize);
}

struct config *config_load_string_options(const char *name, const char *text,
                                          const struct config_options *opt,
                                          char *errbuf, size_t errsize)
{
    return load(name, text, opt, errbuf, errsize);
}

void config_free(struct config *c)
{
    size_t i;

    if (c == NULL)
        return;

    for (i = 0; i < c->nlisteners; i++)
        free(c->listeners[i].text);
    free(c->listeners);

    for (i = 0; i < c->npasses; i++) {
        free(c->passes[i].path);
        free(c->passes[i].url);
        free(c->passes[i].url_path);
    }
    free(c->passes);

    for (i = 0; i < c->nreverses; i++) {
        free(c->reverses[i].path);
        free(c->reverses[i].url);
    }
    free(c->reverses);

    for (i = 0; i < c->nbalancers; i++)
        balancer_free(c->balancers[i]);
    free(c->balancers);

    for (i = 0; i < c->nformats; i++) {
        log_format_free(c->formats[i]);
        free(c->format_names[i]);
        free(c->format_texts[i]);
    }
    free(c->formats);
    free(c->format_names);
    free(c->format_texts);

    for (i = 0; i < c->naccess_logs; i++) {
        struct access_log *log = &c->access_logs[i];

        if (log->fd >= 0)
            access_log_close(log);
        if (log->format != NULL)
            log_format_free(log->format);
        free(log->path);
        free(log->format_text);
    }
    free(c->access_logs);

    free(c->error_log);
    free(c->server_name);
    free(c->file);
    free(c);
}

struct balancer *config_find_balancer(const struct config *c,
                                      const char *name)
{
    size_t len = strlen(name), i;

    while (len > 0 && name[len - 1] == '/' && has_scheme(name, "balancer"))
        len--;
    for (i = 0; i < c->nbalancers; i++) {
        const char *n = c->balancers[i]->name;

        if (strlen(n) == len && strncasecmp(n, name, len) == 0)
            return c->balancers[i];
    }
    return NULL;
}
