/*
 * health.h - active health checks of members (mod_proxy_hcheck's hc*
 * parameters), the expected-status conditions they use, and the member
 * state changes that follow from them.
 *
 * Settings. A member's hcmethod (TCP, OPTIONS, HEAD, GET, and Apache's
 * OPTIONS11, HEAD11, GET11), hcuri, hcinterval, hcpasses, hcfails, hcexpr
 * and hctemplate are written on BalancerMember, or on ProxySet for a
 * balancer (then they are defaults for its members), and kept in struct
 * member_hc (balancer.h). slowstart= is ours. A condition is named by
 * ProxyHCExpr NAME {EXPR} (Apache's syntax, status comparisons only) or
 * ProxyHCExpectStatus NAME LIST (ours: "200-399,418"); ProxyHCTemplate
 * NAME key=value... names a set of hc parameters.
 *
 * Runtime. Each worker thread runs the checks of the members it owns
 * (members numbered across all balancers, member k belongs to thread
 * k mod threads) with non-blocking sockets and loop timers. A member that
 * fails hcfails checks in a row gets MEMBER_HC_FAILED; hcpasses good
 * checks in a row clear it. A passive failure (member_set_error) of a
 * member with checks makes it checked at once; a good check then also
 * clears its error state. Each change is logged once, with its cause and
 * the number of usable members left.
 */
#ifndef BALANCER_HEALTH_H
#define BALANCER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "balancer.h"
#include "loop.h"

struct config;
struct health_config;
struct health_thread;

#define HC_DEFAULT_INTERVAL_MS 30000    /* Apache's hcinterval default */

/* ---- conditions ---------------------------------------------------- */

/*
 * Parse an Apache expression over %{REQUEST_STATUS}, with or without the
 * braces ProxyHCExpr puts around it. Supported: "%{REQUEST_STATUS} =~
 * /REGEX/" (and !~; POSIX extended regex, \d taken as [0-9]), -lt -le -gt
 * -ge -eq -ne N, == N, != N, "in {N, ...}" (numbers bare or quoted),
 * joined by &&, || and ! with parentheses. Anything else is refused.
 * Returns the condition, or NULL with the cause in err.
 */
struct hc_cond *hc_cond_parse(const char *text, char *err, size_t errsize);

/*
 * Parse ProxyHCExpectStatus's list: codes and ranges separated by commas,
 * e.g. "200-399,418". Returns the condition, or NULL with the cause.
 */
struct hc_cond *hc_cond_parse_status_list(const char *text, char *err,
                                          size_t errsize);

/* Does HTTP status pass cond? A NULL cond is Apache's default: 2xx or
 * 3xx. */
bool hc_cond_eval(const struct hc_cond *cond, int status);

/* Free a condition; NULL is fine. */
void hc_cond_free(struct hc_cond *cond);

/* ---- configuration ------------------------------------------------- */

/* What health_param returns when memory ran out. */
extern const char health_out_of_memory[];

/* Is key one of the parameters health_param takes (any case)? */
bool health_is_param(const char *key);

/*
 * Set hc parameter key (hcmethod, hcuri, hcinterval, hcpasses, hcfails,
 * hcexpr, hctemplate, slowstart) to value in hc. hcexpr and hctemplate
 * must name a condition or template defined above in c (as in Apache).
 * Returns NULL when taken, health_out_of_memory, or what was expected.
 */
const char *health_param(struct config *c, struct member_hc *hc,
                         const char *key, const char *value);

/*
 * Define condition name (ProxyHCExpr when !status_list, else
 * ProxyHCExpectStatus) from text. Returns 0, or -1 with the cause in err.
 */
int health_define_cond(struct config *c, const char *name,
                       const char *text, bool status_list, char *err,
                       size_t errsize);

/* ProxyHCTemplate name key=value... Returns 0, or -1 with the cause. */
int health_define_template(struct config *c, const char *name, int argc,
                           char **argv, char *err, size_t errsize);

/*
 * At the end of the configuration: give every member its final hc
 * settings (own, else its balancer's ProxySet ones, else the defaults).
 * Returns 0, or -1 with the cause in err.
 */
int health_config_finish(struct config *c, char *err, size_t errsize);

/* Free what the configuration's health part owns; NULL is fine. */
void health_config_free(struct health_config *h);

/* Free the strings of hc (member or balancer teardown). */
void member_hc_free(struct member_hc *hc);

/* "TCP", "GET" ... as written in hcmethod=; "NONE" for none. */
const char *hc_method_name(int method);

/* ---- runtime ------------------------------------------------------- */

/*
 * The health checker of worker thread index, on loop l, for configuration
 * c. Every thread of c must be created before any of them runs its loop
 * (the members are shared out when the loop first turns). Returns NULL
 * when memory is short.
 */
struct health_thread *health_thread_create(struct loop *l,
                                           const struct config *c,
                                           int index);

/*
 * For a configuration that running workers take one by one (a reload,
 * reload.c): share its checks out among nthreads threads, however many
 * of them have called health_thread_create when the first one starts.
 * Before any thread is created for c.
 */
void health_set_threads(const struct config *c, int nthreads);

/* Stop checking (graceful shutdown): close check sockets, cancel timers.
 * Loop's thread only. */
void health_thread_stop(struct health_thread *t);

/* Stop and free; NULL is fine. Before the loop is freed. */
void health_thread_free(struct health_thread *t);

/*
 * Slow start: the factor to use for m now, given its configured factor
 * lf. From 10% to 100% of lf linearly over slowstart= after m came back
 * (up_since_ms, which is cleared once the window is over); lf itself
 * otherwise. Reads the clock only while m is ramping up.
 */
int64_t health_effective_factor(struct member *m, int64_t lf);

/* Note that m came back into rotation now (error retry or health): start
 * its slow start window, if it has one. */
void health_member_up(struct member *m, int64_t now_ms);

#endif
