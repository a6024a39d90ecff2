/*
 * config_param.c - the configuration's URLs, balancers and members, and
 * the key=value parameters of ProxyPass, ProxySet and BalancerMember,
 * each in one table with its setter. Value ranges follow Apache's
 * mod_proxy; Apache parameters we do not implement are refused by name.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "config_internal.h"
#include "health.h"
#include "lbmethod.h"

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
    if (config_parse_number(digits, 0, MAX_SECONDS * 1000L, &v) < 0)
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
int config_resolve(struct parser *p, const char *host, uint16_t port,
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
const char *config_split_hostport(const char *text, size_t len, char *host,
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
        if (config_parse_number(digits, 1, 65535, port) < 0)
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
int config_fail_scheme(struct parser *p, const char *what, const char *url)
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

bool config_has_scheme(const char *url, const char *scheme)
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
int config_member_set_url(struct parser *p, struct member *m,
                          const char *url)
{
    static const char expected[] = "a URL http://HOST[:PORT][/PATH]";
    const char *auth = url + 7, *path;
    char host[256];
    const char *why, *cause;
    size_t len;
    long port;

    if (!config_has_scheme(url, "http"))
        return config_fail_scheme(p, expected, url);
    if (strpbrk(url, "?#") != NULL)
        return fail(p, "%s: expected %s without query or fragment, "
                    "found '%s'", p->directive, expected, url);

    path = auth + strcspn(auth, "/");
    if (memchr(auth, '@', path - auth) != NULL)
        return fail(p, "%s: user names in URLs are not supported "
                    "(found '%s')", p->directive, url);
    why = config_split_hostport(auth, path - auth, host, sizeof(host), &port);
    if (why != NULL)
        return fail(p, "%s: expected %s with %s, found '%s'", p->directive,
                    expected, why, url);
    m->port = port ? (uint16_t)port : 80;

    if (config_resolve(p, host, m->port, false, &m->addr, &m->addrlen,
                       &cause) < 0)
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
        return config_fail_oom(p);
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
        return config_fail_oom(p);
    for (i = 0; (*name)[i]; i++)
        (*name)[i] = tolower((unsigned char)(*name)[i]);
    *path = start + n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Balancers and members                                               */

struct member *config_member_new(void)
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

void config_member_discard(struct member *m)
{
    member_free(m);
}

/* Append m to b; on failure m is freed. Two members with the same URL in
 * one balancer are refused: the second could never be told apart. */
int config_add_member(struct parser *p, struct balancer *b,
                      struct member *m)
{
    struct member **members;
    size_t i;

    for (i = 0; i < b->nmembers; i++) {
        if (strcmp(b->members[i]->name, m->name) == 0) {
            fail(p, "%s: %s is already a member of %s", p->directive,
                 m->name, b->name);
            config_member_discard(m);
            return -1;
        }
    }

    members = config_grow(b->members, b->nmembers, sizeof(*members));
    if (members == NULL) {
        config_member_discard(m);
        return config_fail_oom(p);
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

    list = config_grow(c->balancers, c->nbalancers, sizeof(*list));
    if (list != NULL)
        c->balancers = list;
    notes = config_grow(p->bnotes, c->nbalancers, sizeof(*notes));
    if (notes != NULL)
        p->bnotes = notes;
    if (list == NULL || notes == NULL) {
        balancer_free(b);
        return config_fail_oom(p);
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

size_t config_balancer_index(const struct config *c, const char *name)
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
struct balancer *config_named_balancer(struct parser *p, const char *url,
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

    i = config_balancer_index(c, name);
    if (i < c->nbalancers) {
        free(name);
        return c->balancers[i];
    }

    b = balancer_new(name, false);
    if (b == NULL) {
        free(name);
        config_fail_oom(p);
        return NULL;
    }
    if (config_add_balancer(p, b) < 0)
        return NULL;
    return b;
}

/* The anonymous balancer for a plain URL, shared by every ProxyPass to
 * the same URL (Apache shares the worker the same way). */
struct balancer *config_anonymous_balancer(struct parser *p,
                                           const char *url)
{
    struct config *c = p->cfg;
    size_t i = config_balancer_index(c, url);
    struct balancer *b;
    struct member *m;
    char *name;

    if (i < c->nbalancers)
        return c->balancers[i];

    m = config_member_new();
    if (m == NULL) {
        config_fail_oom(p);
        return NULL;
    }
    if (config_member_set_url(p, m, url) < 0) {
        config_member_discard(m);
        return NULL;
    }

    name = strdup(url);
    b = name ? balancer_new(name, true) : NULL;
    if (b == NULL) {
        free(name);
        config_member_discard(m);
        config_fail_oom(p);
        return NULL;
    }
    if (config_add_member(p, b, m) < 0) {
        balancer_free(b);
        return NULL;
    }
    if (config_add_balancer(p, b) < 0)
        return NULL;
    return b;
}


/* "balancer://NAME" naming a whole balancer: no path but "/" after. */
struct balancer *config_balancer_arg(struct parser *p, const char *url)
{
    struct balancer *b;
    const char *rest = "";

    if (!config_has_scheme(url, "balancer")) {
        fail(p, "%s: expected balancer://NAME, found '%s'", p->directive,
             url);
        return NULL;
    }
    b = config_named_balancer(p, url, &rest);
    if (b != NULL && rest[0] != '\0' && strcmp(rest, "/") != 0) {
        fail(p, "%s: expected balancer://NAME without a path, found '%s'",
             p->directive, url);
        return NULL;
    }
    return b;
}


/* ------------------------------------------------------------------ */
/* Balancer and member parameters (key=value)                          */

/*
 * A setter returns NULL when value was taken, or what was expected
 * (a phrase following "expected"); config_out_of_memory when that failed.
 */
typedef const char *(*param_setter)(void *target, const char *value);

struct param {
    const char *key;
    param_setter set;
};

static const char *set_lbmethod(void *t, const char *v)
{
    int kind = lbmethod_from_name(v);

    if (kind < 0 && strcmp(v, "heartbeat") == 0)
        return "byrequests, bytraffic or bybusyness (heartbeat, which "
               "weighs members by the load mod_heartmonitor gathers, is "
               "not supported)";
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
        return config_out_of_memory;
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
    else if (strlen(v) == 1 && !config_is_space(v[0]) && v[0] != '"')
        b->sticky_sep = v[0];
    else
        return "a single character or Off";
    return NULL;
}

#define ON_OFF_SETTER(fn, type, field)                                  \
    static const char *fn(void *t, const char *v)                      \
    {                                                                   \
        bool *field = &((type *)t)->field;                              \
                                                                        \
        return config_parse_on_off(v, field) < 0 ? "On or Off" : NULL;  \
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

    if (config_parse_on_off(v, &on) < 0)
        return "On or Off";
    ((struct member *)t)->disablereuse = !on;
    return NULL;
}

static const char *set_maxattempts(void *t, const char *v)
{
    long n;

    if (config_parse_number(v, 0, 1000, &n) < 0)
        return "a number of attempts from 0 to 1000";
    ((struct balancer *)t)->maxattempts = (int)n;
    return NULL;
}

static const char *set_balancer_timeout(void *t, const char *v)
{
    if (config_parse_seconds(v, 1, &((struct balancer *)t)->timeout_ms) < 0)
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
        if (config_parse_number(digits, 100, 599, &code) < 0)
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
        return config_out_of_memory;
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

    if (config_parse_number(v, 0, 99, &n) < 0)
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
    if (config_parse_seconds(v, 0, &((struct member *)t)->retry_ms) < 0)
        return "whole seconds from 0 to 86400";
    return NULL;
}

static const char *set_member_timeout(void *t, const char *v)
{
    if (config_parse_seconds(v, 1, &((struct member *)t)->timeout_ms) < 0)
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

    if (config_parse_number(v, 0, 1000000, &n) < 0)
        return "a number of connections from 0 to 1000000";
    ((struct member *)t)->max_conns = (int)n;
    return NULL;
}

static const char *set_ttl(void *t, const char *v)
{
    if (config_parse_seconds(v, 1, &((struct member *)t)->ttl_ms) < 0)
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

    for (i = 0; unsupported_params[i]; i++)
        if (strcasecmp(unsupported_params[i], key) == 0)
            return true;
    return false;
}

/* hcmethod= ... and slowstart=: on a member, or on a balancer as the
 * default of its members (health.h). */
static int apply_health_param(struct parser *p, void *target,
                              bool for_balancer, const char *key,
                              const char *value)
{
    struct member_hc *hc = for_balancer ? &((struct balancer *)target)->hc
                                        : &((struct member *)target)->hc;
    const char *expected = health_param(p->cfg, hc, key, value);

    if (expected == health_out_of_memory)
        return config_fail_oom(p);
    if (expected != NULL)
        return fail(p, "%s: bad value '%s' for %s: expected %s",
                    p->directive, value, key, expected);
    return 0;
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

    if (health_is_param(word))
        return apply_health_param(p, target, for_balancer, word, eq + 1);
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
    if (expected == config_out_of_memory)
        return config_fail_oom(p);
    if (expected != NULL)
        return fail(p, "%s: bad value '%s' for %s: expected %s",
                    p->directive, eq + 1, param->key, expected);
    return 0;
}

int config_balancer_params(struct parser *p, struct balancer *b, int argc,
                           char **argv)
{
    size_t bi = config_balancer_index(p->cfg, b->name);
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

int config_member_params(struct parser *p, struct member *m, int argc,
                         char **argv)
{
    int i;

    for (i = 0; i < argc; i++)
        if (apply_param(p, m, false, argv[i]) < 0)
            return -1;
    return 0;
}

