/*
 * mapping.h - which ProxyPass handles a request path, and the target the
 * back end is sent.
 */
#ifndef BALANCER_MAPPING_H
#define BALANCER_MAPPING_H

#include <stddef.h>

#include "config.h"

/*
 * The ProxyPass that handles path (the path part of a request-target, no
 * query): the first in configuration order whose prefix matches, as
 * Apache's mod_proxy matches them. A matching "ProxyPass PATH !" returns
 * NULL as no match does.
 */
const struct proxy_pass *mapping_find(const struct config *c,
                                      const char *path, size_t path_len);

/*
 * Write the request-target for member m: the member URL's path, the
 * ProxyPass URL's path, then the rest of target after the matched prefix
 * (query included), with duplicate slashes at the joins removed as Apache
 * joins them. Returns the length, or -1 when buf is too small.
 */
int mapping_backend_target(const struct proxy_pass *p,
                           const struct member *m, const char *target,
                           size_t target_len, char *buf, size_t size);

#endif
