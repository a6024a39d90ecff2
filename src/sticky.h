/*
 * sticky.h - the sticky route of a request, and the cookie balancer sets.
 *
 * Reads a request's route exactly as mod_proxy_balancer does: first the URL
 * parameter (query "name=value", or with scolonpathdelim ";name=value" path
 * parameters), then the cookie named by stickysession, matched by its whole
 * name. The route is the part of the value after the first stickysessionsep
 * character; a value without one carries no route.
 */
#ifndef BALANCER_STICKY_H
#define BALANCER_STICKY_H

#include <stdbool.h>
#include <stddef.h>

#include "balancer.h"

struct sticky_value {
    const char *value;      /* whole value seen, or NULL when none */
    size_t value_len;
    const char *route;      /* part after the separator, or NULL */
    size_t route_len;
    bool from_url;          /* found in the URL rather than a cookie */
};

/*
 * Find the sticky value of a request for balancer b. target is the
 * request-target, cookies the values of every Cookie header (n of them).
 * Pointers in *out point into target or cookies. Returns true when a value
 * was found (it may still carry no route). The URL parameter is named by
 * b->sticky_param, or when that is NULL by b->sticky_cookie, as Apache
 * uses a single stickysession name for both. With sticky_sep '\0'
 * (stickysessionsep=Off) the whole value is the route.
 */
bool sticky_find(const struct balancer *b, const char *target,
                 size_t target_len, const char *const *cookies,
                 const size_t *cookie_lens, size_t ncookies,
                 struct sticky_value *out);

/* Find the value of cookie name in one Cookie header value. */
bool sticky_cookie_value(const char *header, size_t header_len,
                         const char *name, const char **value,
                         size_t *value_len);

/* Find the value of parameter name in a URL (query or ;path params). */
bool sticky_url_param(const char *target, size_t target_len,
                      const char *name, bool scolonpathdelim,
                      const char **value, size_t *value_len);

/*
 * The member of b whose route equals route; follows redirect= when that
 * member is not usable (Apache's find_route_worker). A draining member
 * still takes its own sticky requests. Sets *reason to PICK_STICKY or
 * PICK_REDIRECT. Returns NULL when no usable member has that route;
 * *named is set to the member the route named, if any (for logs).
 * Disabled (D) members refuse sticky requests too, as in Apache 2.4.
 * Forces recovery first (balancer_force_recovery), and counts a member it
 * returns in elected and in the lbmethod (lbmethod_note_sticky).
 */
struct member *sticky_route_member(struct balancer *b, const char *route,
                                   size_t route_len, int64_t now_ms,
                                   enum pick_reason *reason,
                                   struct member **named);

/*
 * Does a Set-Cookie header value set the sticky cookie of b? Used by the
 * insertion logic to leave alone responses whose back end sets it.
 */
bool sticky_sets_cookie(const struct balancer *b, const char *value,
                        size_t value_len);

/*
 * Write "NAME=<id>.<route>; Path=/; HttpOnly[; Secure]" to buf for member
 * m, where id is a random hex session tag. Returns the length, or -1 when
 * buf is too small.
 */
int sticky_make_cookie(const struct balancer *b, const struct member *m,
                       bool secure, char *buf, size_t size);

#endif
