/*
 * target.c - request-target normalisation (target.h).
 *
 * Apache decodes the path, then ap_getparents removes "." and ".."
 * segments and a ".." above the root is a 400; mod_proxy matches and
 * forwards that path. We keep the path encoded but treat a segment of
 * dots spelt "%2e" as the dot it decodes to, which matches the same.
 */
#include "target.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Is t[0..n) "." (want 1) or ".." (want 2), dots possibly as %2e? */
static bool is_dots(const char *t, size_t n, int want)
{
    int dots = 0;
    size_t i = 0;

    while (i < n) {
        if (t[i] == '.')
            i++;
        else if (n - i >= 3 && t[i] == '%' && t[i + 1] == '2' &&
                 (t[i + 2] == 'e' || t[i + 2] == 'E'))
            i += 3;
        else
            return false;
        dots++;
    }
    return dots == want;
}

/*
 * RFC 3986 5.2.4 on an absolute path p[0..n) (p[0] == '/'), in place.
 * Segments are copied to out, which never passes the read position.
 * Returns the new length, or -1 when ".." climbs above the root.
 */
static long remove_dots(char *p, size_t n)
{
    size_t in = 0, out = 0;

    while (in < n) {
        size_t seg = in + 1, end = seg;

        while (end < n && p[end] != '/')
            end++;
        if (is_dots(p + seg, end - seg, 1)) {
            in = end;
            if (in == n)
                p[out++] = '/';     /* "/a/." is "/a/" */
            continue;
        }
        if (is_dots(p + seg, end - seg, 2)) {
            if (out == 0)
                return -1;
            while (p[out - 1] != '/')
                out--;
            out--;                  /* the last segment and its '/' */
            in = end;
            if (in == n)
                p[out++] = '/';     /* "/a/b/.." is "/a/" */
            continue;
        }
        memmove(p + out, p + in, end - in);
        out += end - in;
        in = end;
    }
    if (out == 0)
        p[out++] = '/';
    return (long)out;
}

/* Split "http[s]://authority[path]" at t[0..len): the authority and the
 * index of the path's start. Returns -1 on userinfo or an empty host. */
static int split_absolute(const char *t, size_t len, size_t *host,
                          size_t *host_len, size_t *path)
{
    size_t i = strncasecmp(t, "https://", 8) == 0 ? 8 : 7;
    size_t j = i;

    while (j < len && t[j] != '/' && t[j] != '?' && t[j] != '#') {
        if (t[j] == '@')
            return -1;
        j++;
    }
    if (j == i)
        return -1;
    *host = i;
    *host_len = j - i;
    *path = j;
    return 0;
}

int target_normalize(char *t, size_t *len, size_t *start,
                     const char **authority, size_t *authority_len,
                     const char **error)
{
    size_t n = *len, base = 0, path_len, host, host_len, at;
    long done;

    *start = 0;
    *authority = NULL;
    *authority_len = 0;
    if (n > 0 && t[0] != '/') {
        if (!(n > 7 && strncasecmp(t, "http://", 7) == 0) &&
            !(n > 8 && strncasecmp(t, "https://", 8) == 0))
            return 0;               /* "*" or CONNECT's authority */
        if (split_absolute(t, n, &host, &host_len, &at) < 0) {
            *error = "absolute-form target without a plain host";
            return -1;
        }
        if (at == n || t[at] != '/') {
            /* No path: move the authority one byte left and put the
             * path's "/" where it ended. */
            memmove(t + host - 1, t + host, host_len);
            host--;
            at--;
            t[at] = '/';
        }
        *authority = t + host;
        *authority_len = host_len;
        base = at;
    }

    for (path_len = 0; base + path_len < n; path_len++) {
        char ch = t[base + path_len];

        if (ch == '?' || ch == '#')
            break;
    }
    if (path_len == 0) {
        *start = base;
        *len = n - base;
        return 0;
    }
    done = remove_dots(t + base, path_len);
    if (done < 0) {
        *error = "the path climbs above the root with \"..\"";
        return -1;
    }
    memmove(t + base + done, t + base + path_len, n - base - path_len);
    *start = base;
    *len = (size_t)done + (n - base - path_len);
    return 0;
}
