/*
 * rewrite.c - ProxyPassReverse on Location, Content-Location and URI.
 *
 * As Apache's mod_proxy (ap_proxy_location_reverse_map in httpd 2.4):
 * the rules are tried in configuration order and the first that matches
 * rewrites the value. A rule's URL matches when the value starts with it;
 * for a balancer:// rule, when the value starts with any member's URL
 * followed by the path part of the rule's URL ("balancer://c/bar" with
 * member "http://h/foo" matches "http://h/foo/bar..."). The matched prefix
 * is replaced by the rule's path; the result is made absolute with the
 * front end's "scheme://host[:port]".
 *
 * Where we differ from Apache, on purpose:
 *   - scheme, host and port are compared as parsed parts, not as a string
 *     prefix: member "http://10.0.0.1" does not match
 *     "http://10.0.0.10/x" (Apache's strncasecmp does), and
 *     "http://h:80/x" matches member "http://h";
 *   - the path part is compared case-sensitively (Apache ignores case in
 *     the whole URL);
 *   - the join of the rule's path and the rest never makes "//" (Apache
 *     avoids it only for the path "/").
 * Relative values ("/login") are left alone, as Apache leaves them: they
 * already name the front end. A rule whose URL is itself a path ("/x")
 * is matched against the value's path, as Apache does.
 */
#include <string.h>
#include <strings.h>

#include "rewrite.h"

#define BALANCER_SCHEME "balancer://"
#define PREFIX_MAX 2048

/* An absolute URL cut into parts; path is everything after the
 * authority (path, query, fragment), possibly empty. */
struct url_parts {
    const char *scheme;
    size_t scheme_len;
    const char *host;
    size_t host_len;
    unsigned port;
    const char *path;
    size_t path_len;
};

static unsigned default_port(const char *scheme, size_t len)
{
    if ((len == 4 && strncasecmp(scheme, "http", 4) == 0) ||
        (len == 2 && strncasecmp(scheme, "ws", 2) == 0))
        return 80;
    if ((len == 5 && strncasecmp(scheme, "https", 5) == 0) ||
        (len == 3 && strncasecmp(scheme, "wss", 3) == 0))
        return 443;
    return 0;
}

/* The port after ':' in [p, end); false when it is not a number. */
static bool parse_port(const char *p, const char *end, unsigned *port)
{
    unsigned v = 0;

    if (p == end)
        return true;            /* "host:" means the default port */
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > 65535)
            return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535)
        return false;
    *port = v;
    return true;
}

static bool parse_url(const char *s, size_t len, struct url_parts *u)
{
    const char *end = s + len, *sep, *auth, *auth_end, *colon = NULL;

    sep = memmem(s, len, "://", 3);
    if (sep == NULL || sep == s)
        return false;
    for (const char *p = s; p < sep; p++) {
        if (strchr("+-.", *p) == NULL &&
            !((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') &&
            !(*p >= '0' && *p <= '9'))
            return false;
    }
    u->scheme = s;
    u->scheme_len = (size_t)(sep - s);

    auth = sep + 3;
    auth_end = auth;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' &&
           *auth_end != '#')
        auth_end++;

    /* the port's colon is the last one, after any "[v6]" literal */
    for (const char *p = auth; p < auth_end; p++) {
        if (*p == ']')
            colon = NULL;
        else if (*p == ':')
            colon = p;
    }
    u->host = auth;
    u->host_len = (size_t)((colon ? colon : auth_end) - auth);
    u->port = default_port(u->scheme, u->scheme_len);
    if (colon != NULL && !parse_port(colon + 1, auth_end, &u->port))
        return false;

    u->path = auth_end;
    u->path_len = (size_t)(end - auth_end);
    return u->host_len > 0;
}

/*
 * Bytes of value that the back-end URL prefix covers, or -1 when value
 * does not start with it.
 */
static long match_url(const char *prefix, size_t prefix_len,
                      const char *value, size_t value_len)
{
    struct url_parts p, v;

    if (!parse_url(prefix, prefix_len, &p) ||
        !parse_url(value, value_len, &v))
        return -1;
    if (p.scheme_len != v.scheme_len ||
        strncasecmp(p.scheme, v.scheme, p.scheme_len) != 0 ||
        p.host_len != v.host_len ||
        strncasecmp(p.host, v.host, p.host_len) != 0 || p.port != v.port)
        return -1;

    /* "http://h/" covers "http://h" and "http://h?q" too */
    if (p.path_len == 1 && p.path[0] == '/' &&
        (v.path_len == 0 || v.path[0] != '/'))
        return v.path - value;
    if (p.path_len > v.path_len ||
        memcmp(p.path, v.path, p.path_len) != 0)
        return -1;
    return (long)(v.path - value) + (long)p.path_len;
}

/* A balancer:// rule: the first member whose URL plus the rule's path
 * part starts value. Returns the bytes covered, or -1. */
static long match_balancer(const struct proxy_pass_reverse *rule,
                           const char *value, size_t value_len)
{
    const char *part = strchr(rule->url + strlen(BALANCER_SCHEME), '/');
    size_t part_len = part ? strlen(part) : 0;

    if (rule->balancer == NULL)
        return -1;
    if (part_len == 1)
        part_len = 0;           /* "balancer://c/" is "balancer://c" */

    for (size_t i = 0; i < rule->balancer->nmembers; i++) {
        const char *name = rule->balancer->members[i]->name;
        size_t name_len = strlen(name);
        char prefix[PREFIX_MAX];
        long n;

        if (part_len > 0 && name_len > 0 && name[name_len - 1] == '/')
            name_len--;
        if (name_len + part_len >= sizeof(prefix))
            continue;
        memcpy(prefix, name, name_len);
        if (part_len > 0)
            memcpy(prefix + name_len, part, part_len);

        n = match_url(prefix, name_len + part_len, value, value_len);
        if (n >= 0)
            return n;
    }
    return -1;
}

/* A rule whose URL is a path: compared with the value's path (the whole
 * value when it is relative). Returns the bytes covered, or -1. */
static long match_path_rule(const struct proxy_pass_reverse *rule,
                            const char *value, size_t value_len)
{
    size_t url_len = strlen(rule->url);
    struct url_parts v;
    const char *path = value;

    if (parse_url(value, value_len, &v))
        path = v.path;
    if (url_len > value_len - (size_t)(path - value) ||
        memcmp(path, rule->url, url_len) != 0)
        return -1;
    return (long)(path - value) + (long)url_len;
}

static long match_rule(const struct proxy_pass_reverse *rule,
                       const char *value, size_t value_len)
{
    if (rule->url == NULL || rule->url[0] == '\0')
        return -1;
    if (strncasecmp(rule->url, BALANCER_SCHEME,
                    strlen(BALANCER_SCHEME)) == 0)
        return match_balancer(rule, value, value_len);
    if (rule->url[0] == '/')
        return match_path_rule(rule, value, value_len);
    return match_url(rule->url, strlen(rule->url), value, value_len);
}

/* Output under construction. */
struct rewrite_out {
    char *buf;
    size_t size;
    size_t len;
    bool overflow;
};

static void append(struct rewrite_out *o, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (o->len + n >= o->size) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

int rewrite_location(const struct config *c, const char *value,
                     size_t value_len, const char *front, size_t front_len,
                     char *buf, size_t size)
{
    struct rewrite_out o = { .buf = buf, .size = size };

    for (size_t i = 0; i < c->nreverses; i++) {
        const struct proxy_pass_reverse *rule = &c->reverses[i];
        const char *path = rule->path ? rule->path : "";
        size_t path_len = strlen(path);
        const char *rest;
        size_t rest_len;
        long n = match_rule(rule, value, value_len);

        if (n < 0)
            continue;
        rest = value + n;
        rest_len = value_len - (size_t)n;

        if (path_len > 0 && path[path_len - 1] == '/' && rest_len > 0 &&
            rest[0] == '/')
            path_len--;
        append(&o, front, front_len);
        append(&o, path, path_len);
        append(&o, rest, rest_len);
        if (path_len + rest_len == 0)
            append(&o, "/", 1);
        if (o.overflow)
            return -1;
        buf[o.len] = '\0';
        return (int)o.len;
    }
    return 0;
}
