/*
 * mapping.c - which ProxyPass handles a request, and the request-target
 * sent to the member chosen for it.
 *
 * Prefix matching follows mod_proxy's (alias_match in httpd 2.4):
 *   - ProxyPass entries are tried in configuration order and the first
 *     that matches wins, so "ProxyPass /path !" exclusions must come
 *     before the broader ProxyPass they carve out of (Apache's docs say
 *     the same);
 *   - any run of '/' in the prefix matches any run of '/' in the path,
 *     but there must be at least one;
 *   - the prefix's last path segment must match whole: "/app" matches
 *     "/app", "/app/" and "/app/x" but not "/apple" (httpd 2.4 checks
 *     that the next path byte is '/' or the end when the prefix does
 *     not end in '/');
 *   - a prefix ending in '/' needs that slash: "/app/" does not match
 *     "/app" (Apache answers such a request from its own document root).
 * Apache matches the decoded path (r->uri), so "%61pp" is "app" here too;
 * an encoded slash (%2F) is never a separator (AllowEncodedSlashes Off).
 *
 * Dot segments ("/x/../app", also spelt with %2e) are removed before
 * this is called, as Apache's ap_getparents does (target.c).
 */
#include <string.h>

#include "mapping.h"

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The byte of path at *pos, percent-decoded, advancing *pos past it.
 * "%2F" stays three literal bytes: it must never act as a '/'. */
static int next_byte(const char *path, size_t len, size_t *pos)
{
    size_t i = *pos;

    if (path[i] == '%' && i + 2 < len) {
        int hi = hex_value(path[i + 1]);
        int lo = hex_value(path[i + 2]);

        if (hi >= 0 && lo >= 0 && hi * 16 + lo != '/') {
            *pos = i + 3;
            return hi * 16 + lo;
        }
    }
    *pos = i + 1;
    return (unsigned char)path[i];
}

/*
 * How many bytes of path[0..len) the ProxyPass prefix matches, by the
 * rules above; 0 when it does not match.
 */
static size_t prefix_match(const char *prefix, const char *path, size_t len)
{
    size_t a = 0, u = 0;

    while (prefix[a] != '\0' && u < len) {
        if (prefix[a] == '/') {
            if (path[u] != '/')
                return 0;
            while (prefix[a] == '/')
                a++;
            while (u < len && path[u] == '/')
                u++;
            continue;
        }
        if (next_byte(path, len, &u) != (unsigned char)prefix[a])
            return 0;
        a++;
    }

    if (prefix[a] != '\0' || a == 0)
        return 0;
    if (prefix[a - 1] != '/' && u < len && path[u] != '/')
        return 0;
    return u;
}

const struct proxy_pass *mapping_find(const struct config *c,
                                      const char *path, size_t path_len)
{
    for (size_t i = 0; i < c->npasses; i++) {
        const struct proxy_pass *p = &c->passes[i];

        if (p->path == NULL || prefix_match(p->path, path, path_len) == 0)
            continue;
        return p->exclude ? NULL : p;
    }
    return NULL;
}

/* Output being built; overflow is remembered, not written. */
struct target_out {
    char *buf;
    size_t size;
    size_t len;
    bool overflow;
};

/* Append s, dropping its first '/' when the output already ends in one
 * (the joins never make "//"). */
static void append_piece(struct target_out *o, const char *s, size_t n)
{
    if (n > 0 && s[0] == '/' && o->len > 0 && o->buf[o->len - 1] == '/') {
        s++;
        n--;
    }
    if (o->len + n >= o->size) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* The origin-form part of an absolute-form target ("http://h/p?q"). */
static void skip_authority(const char **target, size_t *len)
{
    const char *t = *target, *end = t + *len;
    const char *scheme;
    const char *path;

    if (t == NULL || *len == 0 || t[0] == '/')
        return;
    scheme = memmem(t, *len, "://", 3);
    if (scheme == NULL)
        return;
    path = scheme + 3;
    while (path < end && *path != '/' && *path != '?')
        path++;
    *target = path;
    *len = (size_t)(end - path);
}

int mapping_backend_target(const struct proxy_pass *p,
                           const struct member *m, const char *target,
                           size_t target_len, char *buf, size_t size)
{
    struct target_out o = { .buf = buf, .size = size };
    const char *query;
    size_t path_len, matched;

    skip_authority(&target, &target_len);
    query = memchr(target, '?', target_len);
    path_len = query ? (size_t)(query - target) : target_len;
    matched = p->path ? prefix_match(p->path, target, path_len) : 0;

    /* mod_proxy_balancer: member URL, then the ProxyPass URL's path,
     * then what the prefix did not match. */
    if (m != NULL && m->path != NULL)
        append_piece(&o, m->path, strlen(m->path));
    if (p->url_path != NULL)
        append_piece(&o, p->url_path, strlen(p->url_path));
    append_piece(&o, target + matched, target_len - matched);

    /* Never an empty target, never one without its leading '/'. */
    if (o.len == 0 || buf[0] != '/') {
        if (o.overflow || o.len + 1 >= size)
            return -1;
        memmove(buf + 1, buf, o.len);
        buf[0] = '/';
        o.len++;
    }
    if (o.overflow)
        return -1;
    buf[o.len] = '\0';
    return (int)o.len;
}
