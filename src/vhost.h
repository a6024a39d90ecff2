/*
 * vhost.h - what a request meets of its virtual host before mapping:
 * mod_alias's Redirect. (The virtual host of a connection is the one of
 * its listener; see config_vhost.c.)
 */
#ifndef BALANCER_VHOST_H
#define BALANCER_VHOST_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * The first Redirect of v whose URL-path is the request's path or a
 * path segment above it ("/a" takes "/a" and "/a/b", not "/ab"; "/a/"
 * takes what starts with "/a/"), as mod_alias matches. target is the
 * origin-form request target, path_len the length of its path (before
 * '?'). Returns the redirect, or NULL.
 */
const struct redirect *vhost_find_redirect(const struct vhost *v,
                                           const char *target,
                                           size_t path_len);

/*
 * The Location of redirect r for that target: r->url, then the path
 * below r->path, then the query string (mod_alias keeps it). A URL
 * that is only a path gets "http[s]://HOST" before it, host being the
 * request's Host (host_len bytes). Returns the length written into buf
 * (NUL-terminated), or -1 when it does not fit or r has no URL.
 */
int vhost_redirect_location(const struct redirect *r, const char *target,
                            size_t target_len, size_t path_len, bool https,
                            const char *host, size_t host_len, char *buf,
                            size_t size);

#endif
