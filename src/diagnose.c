/*
 * diagnose.c - stickiness diagnosis (see diagnose.h).
 *
 * The cookie rules are RFC 6265's: a Domain attribute the request host
 * does not domain-match makes the browser drop the cookie (5.3 step 6),
 * and a cookie is sent back only for request paths that path-match its
 * Path (5.1.4). The host is the one the client sent (Host header), which
 * is what the browser compares with.
 */
#include "diagnose.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "proxy_conn.h"
#include "sticky.h"

static const char *const default_session_cookies[] = {
    "PHPSESSID", "JSESSIONID", "ASP.NET_SessionId", NULL
};

const char *const *diagnose_session_cookies(const struct config *c)
{
    if (c->session_cookies != NULL)
        return (const char *const *)c->session_cookies;
    return default_session_cookies;
}

/* True once: the first caller to set cause in *warned. */
static bool first_time(_Atomic unsigned *warned, unsigned cause)
{
    return !(atomic_fetch_or(warned, cause) & cause);
}

/* The request's Host without its port, for messages and matching. */
static void request_host(const struct conn *c, const char **host,
                         size_t *len)
{
    const struct http1_request *r = &c->msg->req;
    const struct http1_header *h =
        http1_find_header(r->headers, r->num_headers, "Host");
    size_t n;

    *host = "";
    *len = 0;
    if (h == NULL)
        return;
    n = h->value_len;
    if (n > 0 && h->value[0] == '[') {
        const char *end = memchr(h->value, ']', n);

        n = end ? (size_t)(end - h->value) + 1 : n;
    } else {
        const char *colon = memchr(h->value, ':', n);

        n = colon ? (size_t)(colon - h->value) : n;
    }
    *host = h->value;
    *len = n;
}

/* Does any Cookie header of c's request hold a session cookie? */
static const char *session_cookie(const struct conn *c)
{
    const struct http1_request *r = &c->msg->req;
    const char *const *names = diagnose_session_cookies(c->worker->config);
    const char *value;
    size_t i, value_len;

    for (i = 0; i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];
        size_t j;

        if (h->name_len != 6 || strncasecmp(h->name, "Cookie", 6) != 0)
            continue;
        for (j = 0; names[j] != NULL; j++)
            if (sticky_cookie_value(h->value, h->value_len, names[j],
                                    &value, &value_len))
                return names[j];
    }
    return NULL;
}

static void warn_session_only(const struct conn *c, const char *name)
{
    const struct balancer *b = c->balancer;
    const char *host;
    size_t host_len;

    request_host(c, &host, &host_len);
    log_msg(LOG_LEVEL_WARN, "proxy_balancer", "%s: requests carry the "
            "session cookie %s but no sticky value %s (host seen '%.*s'): "
            "their sessions are not tied to a member; the back ends must "
            "set %s=<id>.<route> (or set stickysessioninsert=On); logged "
            "once, counted in the balancer-manager", b->name, name,
            b->sticky_cookie ? b->sticky_cookie : b->sticky_param,
            (int)host_len, host, b->sticky_cookie ? b->sticky_cookie
                                                  : b->sticky_param);
}

static void warn_unknown_route(const struct conn *c)
{
    const struct balancer *b = c->balancer;
    char routes[256];
    size_t i, len = 0;
    const char *host;
    size_t host_len;

    routes[0] = '\0';
    for (i = 0; i < b->nmembers && len < sizeof(routes); i++)
        len += (size_t)snprintf(routes + len, sizeof(routes) - len,
                                "%s'%s'", i ? ", " : "",
                                b->members[i]->route);
    request_host(c, &host, &host_len);
    log_msg(LOG_LEVEL_WARN, "proxy_balancer", "%s: sticky value '%.*s' "
            "names route '%.*s', which no member has (routes: %s; host "
            "seen '%.*s'); such requests are balanced as if they had no "
            "route; logged once, counted in the balancer-manager",
            b->name, (int)c->sticky.value_len, c->sticky.value,
            (int)c->sticky.route_len, c->sticky.route, routes,
            (int)host_len, host);
}

void diagnose_request(const struct conn *c, const struct member *named,
                      const struct member *found)
{
    struct balancer *b = c->balancer;
    const char *name;

    if (found != NULL) {
        atomic_fetch_add(&b->sticky_hits, 1);
        return;
    }
    if (c->has_sticky && c->sticky.route != NULL) {
        if (named == NULL) {
            atomic_fetch_add(&b->sticky_unknown_route, 1);
            if (first_time(&b->diag_warned, DIAG_UNKNOWN_ROUTE))
                warn_unknown_route(c);
        } else {
            atomic_fetch_add(&b->sticky_failovers, 1);
        }
        return;
    }
    if (c->has_sticky)
        return;     /* a value without a route: the back end's choice */

    atomic_fetch_add(&b->sticky_misses, 1);
    name = session_cookie(c);
    if (name == NULL)
        return;
    atomic_fetch_add(&b->sticky_session_only, 1);
    if (first_time(&b->diag_warned, DIAG_SESSION_NO_STICKY))
        warn_session_only(c, name);
}

/* The value of attribute name ("Domain", "Path") of a Set-Cookie value. */
static bool cookie_attribute(const char *v, size_t n, const char *name,
                             const char **out, size_t *out_len)
{
    size_t i = 0, nlen = strlen(name);
    const char *semi = memchr(v, ';', n);

    if (semi == NULL)
        return false;
    i = (size_t)(semi - v) + 1;
    while (i < n) {
        size_t end = i, k;

        while (end < n && v[end] != ';')
            end++;
        while (i < end && (v[i] == ' ' || v[i] == '\t'))
            i++;
        k = i;
        while (k < end && v[k] != '=')
            k++;
        if (k - i == nlen && strncasecmp(v + i, name, nlen) == 0 &&
            k < end) {
            k++;
            while (k < end && (v[k] == ' ' || v[k] == '\t'))
                k++;
            *out = v + k;
            *out_len = end - k;
            while (*out_len > 0 && ((*out)[*out_len - 1] == ' ' ||
                                    (*out)[*out_len - 1] == '\t'))
                (*out_len)--;
            return true;
        }
        i = end + 1;
    }
    return false;
}

/* RFC 6265 5.1.3, host names only (an IP address must equal). */
static bool domain_matches(const char *host, size_t hlen, const char *dom,
                           size_t dlen)
{
    if (dlen > 0 && dom[0] == '.') {
        dom++;
        dlen--;
    }
    if (dlen == 0)
        return true;        /* an empty Domain is ignored by browsers */
    if (hlen == dlen)
        return strncasecmp(host, dom, dlen) == 0;
    if (hlen < dlen + 1 || host[hlen - dlen - 1] != '.')
        return false;
    if (strspn(host, "0123456789.") == hlen || host[0] == '[')
        return false;
    return strncasecmp(host + hlen - dlen, dom, dlen) == 0;
}

/* RFC 6265 5.1.4. */
static bool path_matches(const char *path, size_t plen, const char *cp,
                         size_t clen)
{
    if (clen == 0 || cp[0] != '/')
        return true;        /* no usable Path: the default path applies */
    if (plen < clen || memcmp(path, cp, clen) != 0)
        return false;
    return plen == clen || cp[clen - 1] == '/' || path[clen] == '/';
}

static void warn_cookie(const struct conn *c, const char *attribute,
                        const char *value, size_t value_len,
                        const char *host, size_t host_len, size_t path_len,
                        const char *consequence)
{
    const struct http1_request *r = &c->msg->req;

    log_msg(LOG_LEVEL_WARN, "proxy_balancer", "%s: member %s sets the "
            "sticky cookie %s with %s=%.*s, but the client asked for host "
            "'%.*s' path '%.*s': %s, so sessions will not stick; logged "
            "once per member, counted in the balancer-manager",
            c->balancer->name, c->member->name, c->balancer->sticky_cookie,
            attribute, (int)value_len, value, (int)host_len, host,
            (int)path_len, r->target, consequence);
}

void diagnose_set_cookie(const struct conn *c, const char *value,
                         size_t value_len)
{
    struct member *m = c->member;
    const struct http1_request *r = &c->msg->req;
    const char *attr, *host;
    size_t attr_len, host_len, path_len;

    if (m == NULL || !sticky_sets_cookie(c->balancer, value, value_len))
        return;

    request_host(c, &host, &host_len);
    for (path_len = 0; path_len < r->target_len; path_len++)
        if (r->target[path_len] == '?' || r->target[path_len] == '#')
            break;
    if (cookie_attribute(value, value_len, "Domain", &attr, &attr_len) &&
        host_len > 0 && !domain_matches(host, host_len, attr, attr_len)) {
        atomic_fetch_add(&c->balancer->sticky_cookie_lost, 1);
        if (first_time(&m->diag_warned, DIAG_COOKIE_DOMAIN))
            warn_cookie(c, "Domain", attr, attr_len, host, host_len,
                        path_len, "the browser refuses a cookie for "
                        "another domain");
        return;
    }
    if (cookie_attribute(value, value_len, "Path", &attr, &attr_len) &&
        !path_matches(r->target, path_len, attr, attr_len)) {
        atomic_fetch_add(&c->balancer->sticky_cookie_lost, 1);
        if (first_time(&m->diag_warned, DIAG_COOKIE_PATH))
            warn_cookie(c, "Path", attr, attr_len, host, host_len,
                        path_len, "the browser sends it back only under "
                        "that path");
    }
}
