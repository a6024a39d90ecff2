/*
 * target.h - request-targets made safe to map and forward: absolute-form
 * reduced to its path (RFC 9112 3.2.2) and dot segments removed (RFC 3986
 * 5.2.4), so that "/x/../private" cannot pass a "ProxyPass /private !".
 */
#ifndef BALANCER_TARGET_H
#define BALANCER_TARGET_H

#include <stddef.h>

/*
 * Rewrite the request-target t[0..*len) in place, shrinking it:
 * "http://host[:port]/path?q" becomes "/path?q" (an empty path "/"), and
 * the path loses its dot segments ("." and "..", also when written with
 * %2e as Apache decodes them). The query is untouched. *start is moved to
 * where the result begins inside t; *authority / *authority_len get the
 * absolute-form's host[:port] (NULL when the target was origin-form).
 * Other forms ("*", CONNECT's host:port) are left alone.
 * Returns 0, or -1 with *error set when the path climbs above the root
 * or the authority holds userinfo.
 */
int target_normalize(char *t, size_t *len, size_t *start,
                     const char **authority, size_t *authority_len,
                     const char **error);

#endif
