/*
 * rewrite.h - ProxyPassReverse: back-end URLs in response headers turned
 * into front-end ones, so no redirect shows a back end's address.
 */
#ifndef BALANCER_REWRITE_H
#define BALANCER_REWRITE_H

#include <stddef.h>

#include "config.h"

/*
 * Rewrite one Location, Content-Location or URI header value. front is
 * the client's view of the server, "scheme://host[:port]" (from the
 * request's Host header, as Apache builds it with UseCanonicalName Off).
 * A value that starts with a ProxyPassReverse URL (or, for a balancer://
 * rule, with any of its members' URLs) has that prefix replaced by front
 * plus the rule's path.
 * Returns the new length written to buf, 0 when no rule applies (leave the
 * value as it is), or -1 when buf is too small.
 */
int rewrite_location(const struct config *c, const char *value,
                     size_t value_len, const char *front, size_t front_len,
                     char *buf, size_t size);

#endif
