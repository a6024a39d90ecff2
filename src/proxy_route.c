/*
 * proxy_route.c - which member serves a request (sticky route first, then
 * the lbmethod), the debug line that says why, retries on another member,
 * and the access log record.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "diagnose.h"
#include "lbmethod.h"
#include "log.h"
#include "proxy_conn.h"
#include "stats.h"
#include "sticky.h"

static const char *sticky_name(const struct balancer *b)
{
    return b->sticky_cookie ? b->sticky_cookie : b->sticky_param;
}

static const char *lbmethod_name(const struct balancer *b)
{
    const struct lbmethod_ops *ops = lbmethod_ops(b->lbmethod);

    return ops != NULL ? ops->name : "?";
}

/* Find the sticky value in the request's URL or Cookie headers. */
static void find_sticky(struct conn *c, struct balancer *b)
{
    const struct http1_request *r = &c->msg->req;
    const char *cookies[HTTP1_MAX_HEADERS];
    size_t lens[HTTP1_MAX_HEADERS], n = 0, i;

    for (i = 0; i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];

        if (h->name_len == 6 && strncasecmp(h->name, "Cookie", 6) == 0) {
            cookies[n] = h->value;
            lens[n++] = h->value_len;
        }
    }
    c->has_sticky = sticky_find(b, r->target, r->target_len, cookies, lens,
                                n, &c->sticky);
}

/* The debug line for a decision: what was seen and what was chosen. */
static void log_decision(const struct conn *c, const struct member *named)
{
    const struct balancer *b = c->balancer;
    const struct sticky_value *s = &c->sticky;
    char seen[512];

    if (log_current_level < LOG_LEVEL_DEBUG)
        return;

    if (sticky_name(b) == NULL)
        snprintf(seen, sizeof(seen), "no stickysession");
    else if (!c->has_sticky)
        snprintf(seen, sizeof(seen), "no sticky value for %s (no cookie, "
                 "no URL parameter)", sticky_name(b));
    else if (s->route == NULL)
        snprintf(seen, sizeof(seen), "sticky value '%.*s' for %s (%s) "
                 "carries no route", (int)s->value_len, s->value,
                 sticky_name(b), s->from_url ? "URL parameter" : "cookie");
    else
        snprintf(seen, sizeof(seen), "sticky value '%.*s' for %s (%s), "
                 "route '%.*s'", (int)s->value_len, s->value,
                 sticky_name(b), s->from_url ? "URL parameter" : "cookie",
                 (int)s->route_len, s->route);

    switch (c->decision) {
    case PICK_STICKY:
    case PICK_REDIRECT:
        log_write(LOG_LEVEL_DEBUG, "proxy_balancer", "%s: %s -> %s %s",
                  b->name, seen, pick_reason_name(c->decision),
                  c->member->name);
        break;
    case PICK_FAILOVER:
        log_write(LOG_LEVEL_DEBUG, "proxy_balancer",
                  "%s: %s; %s -> failover: lbmethod %s chose %s", b->name,
                  seen, named ? "its member is not usable"
                              : "no member has that route",
                  lbmethod_name(b), c->member->name);
        break;
    default:
        log_write(LOG_LEVEL_DEBUG, "proxy_balancer",
                  "%s: %s -> %s %s chose %s", b->name, seen,
                  c->decision == PICK_STANDBY ? "hot standby, lbmethod"
                                              : "lbmethod",
                  lbmethod_name(b), c->member->name);
        break;
    }
}

static void note_tried(struct conn *c, struct member *m)
{
    c->member = m;
    c->attempts++;
    if (c->ntried < MAX_TRIED)
        c->tried[c->ntried++] = m;
}

int route_choose(struct conn *c)
{
    struct balancer *b = c->pass->balancer;
    struct member *m = NULL, *named = NULL;
    enum pick_reason reason = PICK_NONE;

    c->balancer = b;
    if (b->sticky_cookie != NULL || b->sticky_param != NULL)
        find_sticky(c, b);

    if (c->has_sticky && c->sticky.route != NULL) {
        m = sticky_route_member(b, c->sticky.route, c->sticky.route_len,
                                loop_now(c->worker->loop), &reason, &named);
        c->route_member = named;
        /* As Apache: nofailover refuses only a route that names a
         * member; an unknown route is balanced like no route at all. */
        if (m == NULL && b->nofailover && named != NULL) {
            log_msg(LOG_LEVEL_DEBUG, "proxy_balancer", "%s: sticky route "
                    "'%.*s' has no usable member and nofailover=On -> 503",
                    b->name, (int)c->sticky.route_len, c->sticky.route);
            diagnose_request(c, named, NULL);
            return 503;
        }
        if (m == NULL)
            c->failover_from = named;
    }
    if (b->sticky_cookie != NULL || b->sticky_param != NULL)
        diagnose_request(c, named, m);

    if (m == NULL) {
        m = lbmethod_pick(b, NULL, 0, &reason);
        if (m == NULL) {
            log_msg_limited(&b->log_stamp, LOG_LEVEL_ERR, "proxy_balancer",
                            "%s: no usable member (all in error, disabled "
                            "or stopped); answering 503 (logged at most "
                            "once a second)", b->name);
            return 503;
        }
        if (c->has_sticky && c->sticky.route != NULL &&
            reason == PICK_LBMETHOD)
            reason = PICK_FAILOVER;
    }

    c->decision = reason;
    note_tried(c, m);
    log_decision(c, named);
    return 0;
}

static int max_attempts(const struct balancer *b)
{
    int n = b->maxattempts;

    if (n < 0)
        n = b->nmembers > 1 ? (int)b->nmembers - 1 : 1;
    return n + 1;
}

int route_retry(struct conn *c, const char *cause)
{
    struct balancer *b = c->balancer;
    struct member *m, *failed = c->member;
    enum pick_reason reason;

    stats_conn_connect_failed(c);   /* nothing was sent: a connect error */

    /* Apache chooses again for a retry: a sticky route whose member
     * just failed is unusable now, and nofailover makes that a 503. */
    if (b->nofailover && c->sticky.route != NULL &&
        c->route_member != NULL) {
        log_msg(LOG_LEVEL_ERR, "proxy_balancer", "%s: %s; sticky route "
                "'%.*s' and nofailover=On; answering 503", b->name, cause,
                (int)c->sticky.route_len, c->sticky.route);
        return 503;
    }
    if (c->attempts >= max_attempts(b) || c->ntried >= MAX_TRIED) {
        log_msg(LOG_LEVEL_ERR, "proxy_balancer", "%s: %s; giving up after "
                "%d attempts; answering 503", b->name, cause, c->attempts);
        return 503;
    }

    m = lbmethod_pick(b, c->tried, (size_t)c->ntried, &reason);
    if (m == NULL) {
        log_msg(LOG_LEVEL_ERR, "proxy_balancer", "%s: %s; no other usable "
                "member; answering 503", b->name, cause);
        return 503;
    }

    if (c->failover_from == NULL && c->decision != PICK_LBMETHOD &&
        c->decision != PICK_STANDBY && c->decision != PICK_RETRY)
        c->failover_from = failed;
    c->decision = PICK_RETRY;
    note_tried(c, m);
    log_msg(LOG_LEVEL_WARN, "proxy_balancer", "%s: %s; attempt %d goes "
            "to %s", b->name, cause, c->attempts, m->name);
    return 0;
}

void route_busy(struct conn *c, bool busy)
{
    if (busy && !c->member_busy && c->member != NULL) {
        atomic_fetch_add(&c->member->busy, 1);
        c->member_busy = true;
        c->busy_member = c->member;
    } else if (!busy && c->member_busy) {
        atomic_fetch_sub(&c->busy_member->busy, 1);
        c->member_busy = false;
        c->busy_member = NULL;
    }
}

/* The request line as received, for %r. */
static void request_line(const struct conn *c, const char **line,
                         size_t *len)
{
    const char *start, *end;

    if (c->req_valid) {
        start = c->msg->req.method;
    } else {
        start = c->in;
        while (start != NULL && start < c->in + c->in_len &&
               (*start == '\r' || *start == '\n'))
            start++;
    }
    if (start == NULL) {
        *line = "";
        *len = 0;
        return;
    }
    end = start;
    while (end < c->in + c->in_len && *end != '\r' && *end != '\n')
        end++;
    *line = start;
    *len = (size_t)(end - start);
}

void route_log_access(struct conn *c, bool aborted)
{
    const struct config *cf = c->config;
    struct access_record r;
    struct timespec now;
    size_t i;

    stats_conn_done(c, aborted);
    if (cf->naccess_logs == 0)
        return;

    memset(&r, 0, sizeof(r));
    r.client_ip = c->client_ip;
    r.client_port = c->client_port;
    r.local_port = c->local_port;
    r.server_name = cf->server_name;
    r.start_us = c->start_us;
    /* %D is microseconds in Apache: take the clock here rather than
     * the loop's millisecond time (clock_gettime is a vDSO call). */
    clock_gettime(CLOCK_REALTIME, &now);
    r.duration_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 -
                    c->start_us;
    if (r.duration_us < 0)
        r.duration_us = 0;
    r.req = c->req_valid ? &c->msg->req : NULL;
    request_line(c, &r.request_line, &r.request_line_len);
    r.status = c->status;
    r.body_bytes = c->state == CONN_LOCAL ? c->local_body_len
                                          : c->resp.sent;
    r.bytes_received = c->bytes_received;
    r.bytes_sent = c->bytes_sent;
    if (c->res_parsed) {
        r.resp_headers = c->msg->res.headers;
        r.resp_num_headers = c->msg->res.num_headers;
    }
    r.conn_status = aborted ? 'X' : (c->keep_alive &&
                                     !c->worker->stopping ? '+' : '-');

    if (c->member != NULL) {
        r.balancer = c->balancer;
        r.member = c->member;
        r.sticky_value = c->sticky.value;
        r.sticky_value_len = c->sticky.value_len;
        r.route_requested = c->sticky.route;
        r.route_requested_len = c->sticky.route_len;
        r.decision = c->decision;
        r.attempts = c->attempts;
        r.failover_from = c->failover_from;
        r.route_changed = c->sticky.route != NULL &&
                          (c->member->route[0] == '\0' ||
                           strlen(c->member->route) != c->sticky.route_len ||
                           memcmp(c->member->route, c->sticky.route,
                                  c->sticky.route_len) != 0);
    }

    for (i = 0; i < cf->naccess_logs; i++)
        access_log_write(&cf->access_logs[i], &r);
}
