/*
 * diagnose.h - stickiness diagnosis: why sessions do not stick.
 *
 * For each balancer with stickysession, counts (struct balancer's sticky_*
 * atomics, shown by the manager and exported as metrics) requests whose
 * sticky route found its member (hits), requests without a sticky value
 * (misses), those of them that carry an application session cookie
 * (BalancerSessionCookies, default PHPSESSID JSESSIONID ASP.NET_SessionId)
 * so the session exists but is not tied to a member, sticky values whose
 * route names no member, and responses that set the sticky cookie with a
 * Domain or Path the client will not send it back to.
 *
 * Each cause is logged once at warn level, per balancer (session cookie
 * without sticky value, unknown route) or per member (Domain, Path), with
 * the cookie, the attribute and the host seen; the counters go on.
 *
 * Cost: hits and misses are one atomic add; the cookie scan runs only on
 * a miss, the Set-Cookie check only for a header that sets the sticky
 * cookie.
 */
#ifndef BALANCER_DIAGNOSE_H
#define BALANCER_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "balancer.h"

/* Causes, as bits of diag_warned (balancer and member). */
#define DIAG_SESSION_NO_STICKY  (1u << 0)
#define DIAG_UNKNOWN_ROUTE      (1u << 1)
#define DIAG_COOKIE_DOMAIN      (1u << 2)
#define DIAG_COOKIE_PATH        (1u << 3)

struct config;
struct conn;

/*
 * After the sticky lookup of route_choose for c (c->balancer,
 * c->has_sticky, c->sticky set): count and diagnose the request side.
 * named is the member the route named (NULL when none or no route),
 * found the member chosen by the route (NULL when the lbmethod chose).
 */
void diagnose_request(const struct conn *c, const struct member *named,
                      const struct member *found);

/*
 * A Set-Cookie header value of c's response from c->member: when it sets
 * the sticky cookie, check its Domain and Path against the Host and path
 * of c's request.
 */
void diagnose_set_cookie(const struct conn *c, const char *value,
                         size_t value_len);

/* The session cookie names in force for configuration c (its
 * BalancerSessionCookies, or the defaults), NULL-terminated. */
const char *const *diagnose_session_cookies(const struct config *c);

#endif
