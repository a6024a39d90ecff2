/*
 * vhost.c - Redirect (mod_alias) at request time.
 */
#include "vhost.h"

#include <stdio.h>
#include <string.h>

/* The length of path that r->path matches, or 0. */
static size_t redirect_match(const struct redirect *r, const char *path,
                             size_t path_len)
{
    size_t len = strlen(r->path);

    if (len > path_len || memcmp(r->path, path, len) != 0)
        return 0;
    if (r->path[len - 1] != '/' && len < path_len && path[len] != '/')
        return 0;       /* "/a" is not a segment of "/ab" */
    return len;
}

const struct redirect *vhost_find_redirect(const struct vhost *v,
                                           const char *target,
                                           size_t path_len)
{
    size_t i;

    for (i = 0; i < v->nredirects; i++)
        if (redirect_match(&v->redirects[i], target, path_len) > 0)
            return &v->redirects[i];
    return NULL;
}

int vhost_redirect_location(const struct redirect *r, const char *target,
                            size_t target_len, size_t path_len, bool https,
                            const char *host, size_t host_len, char *buf,
                            size_t size)
{
    size_t matched = redirect_match(r, target, path_len);
    int n;

    if (r->url == NULL)
        return -1;
    if (r->url[0] == '/')
        n = snprintf(buf, size, "%s://%.*s%s%.*s", https ? "https" : "http",
                     (int)host_len, host, r->url,
                     (int)(target_len - matched), target + matched);
    else
        n = snprintf(buf, size, "%s%.*s", r->url,
                     (int)(target_len - matched), target + matched);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return n;
}
