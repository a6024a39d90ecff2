/*
 * metrics.c - the balancer-metrics handler: every balancer's and
 * member's counters in the Prometheus text exposition format, version
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
 * "# HELP" and "# TYPE" lines, then one sample per line, label values
 * in double quotes with \\, \" and \n escaped.
 *
 *     <Location /metrics>
 *         SetHandler balancer-metrics
 *         Require ip 127.0.0.1
 *     </Location>
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "balancer.h"
#include "config.h"
#include "handler.h"
#include "reload.h"
#include "stats.h"

#define ROUTE_MAX 256

/* A member's labels, copied once (its route may change under b->lock). */
struct labels {
    const struct balancer *b;
    const struct member *m;
    char route[ROUTE_MAX];
};

/* Append s as a label value: \ " and newline escaped. */
static void put_label_value(struct hbuf *o, const char *s)
{
    size_t start = 0, i;

    for (i = 0; s[i] != '\0'; i++) {
        const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\""
                        : s[i] == '\n' ? "\\n" : NULL;

        if (esc == NULL)
            continue;
        hbuf_put(o, s + start, i - start);
        hbuf_puts(o, esc);
        start = i + 1;
    }
    hbuf_put(o, s + start, i - start);
}

static void put_help(struct hbuf *o, const char *name, const char *type,
                     const char *help)
{
    hbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{balancer="..",member="..",route=".."[,extra] */
static void put_member_start(struct hbuf *o, const char *name,
                             const struct labels *l)
{
    hbuf_printf(o, "%s{balancer=\"", name);
    put_label_value(o, l->b->name);
    hbuf_puts(o, "\",member=\"");
    put_label_value(o, l->m->name);
    hbuf_puts(o, "\",route=\"");
    put_label_value(o, l->route);
    hbuf_puts(o, "\"");
}

static void put_member_u64(struct hbuf *o, const char *name,
                           const struct labels *l, uint64_t v)
{
    put_member_start(o, name, l);
    hbuf_printf(o, "} %llu\n", (unsigned long long)v);
}

static void put_balancer_u64(struct hbuf *o, const char *name,
                             const struct balancer *b, uint64_t v)
{
    hbuf_printf(o, "%s{balancer=\"", name);
    put_label_value(o, b->name);
    hbuf_printf(o, "\"} %llu\n", (unsigned long long)v);
}

/* ---- what is shown ---------------------------------------------------- */

static const struct {
    unsigned flag;
    const char *name;
} status_flags[] = {
    { MEMBER_DISABLED, "disabled" },
    { MEMBER_STOPPED, "stopped" },
    { MEMBER_IGNORE_ERRORS, "ignore_errors" },
    { MEMBER_HOT_STANDBY, "hot_standby" },
    { MEMBER_HOT_SPARE, "hot_spare" },
    { MEMBER_IN_ERROR, "in_error" },
    { MEMBER_DRAIN, "drain" },
    { MEMBER_HC_FAILED, "hc_failed" },
};

#define NSTATUS_FLAGS (sizeof(status_flags) / sizeof(status_flags[0]))

/* Every member of every balancer, with its labels, for a callback. */
typedef void (*member_fn)(struct hbuf *o, const struct labels *l,
                          int64_t now_ms);

static void each_member(struct hbuf *o, const struct config *c,
                        member_fn fn, int64_t now_ms)
{
    size_t i, j;

    for (i = 0; i < c->nbalancers; i++) {
        struct balancer *b = c->balancers[i];

        for (j = 0; j < b->nmembers; j++) {
            struct labels l = { b, b->members[j], "" };

            pthread_mutex_lock(&b->lock);
            snprintf(l.route, sizeof(l.route), "%s",
                     l.m->route != NULL ? l.m->route : "");
            pthread_mutex_unlock(&b->lock);
            fn(o, &l, now_ms);
        }
    }
}

static void requests_of(struct hbuf *o, const struct labels *l, int64_t now)
{
    struct stats_totals t;

    stats_totals((struct member_stats *)&l->m->stats, &t);
    put_member_u64(o, "balancer_member_requests_total", l, t.requests);
}

static void errors_of(struct hbuf *o, const struct labels *l, int64_t now)
{
    struct stats_totals t;
    int k;

    stats_totals((struct member_stats *)&l->m->stats, &t);
    for (k = 0; k < STATS_NERRORS; k++) {
        put_member_start(o, "balancer_member_errors_total", l);
        hbuf_printf(o, ",kind=\"%s\"} %llu\n", stats_error_name(k),
                    (unsigned long long)t.errors[k]);
    }
}

static void histogram_of(struct hbuf *o, const struct labels *l,
                         int64_t now)
{
    const char *name = "balancer_member_request_duration_seconds";
    char metric[80];
    struct stats_totals t;
    uint64_t cumulative = 0;
    int k;

    stats_totals((struct member_stats *)&l->m->stats, &t);
    snprintf(metric, sizeof(metric), "%s_bucket", name);
    for (k = 0; k < STATS_NBUCKETS; k++) {
        cumulative += t.buckets[k];
        put_member_start(o, metric, l);
        if (k < STATS_NBUCKETS - 1)
            hbuf_printf(o, ",le=\"%g\"} %llu\n",
                        (double)stats_bucket_le_us[k] / 1e6,
                        (unsigned long long)cumulative);
        else
            hbuf_printf(o, ",le=\"+Inf\"} %llu\n",
                        (unsigned long long)cumulative);
    }
    snprintf(metric, sizeof(metric), "%s_sum", name);
    put_member_start(o, metric, l);
    hbuf_printf(o, "} %.6f\n", (double)t.latency_sum_us / 1e6);
    snprintf(metric, sizeof(metric), "%s_count", name);
    /* The +Inf bucket's count: the same snapshot as the buckets. */
    put_member_u64(o, metric, l, cumulative);
}

static void busy_of(struct hbuf *o, const struct labels *l, int64_t now)
{
    int64_t busy = atomic_load(&l->m->busy);

    put_member_u64(o, "balancer_member_busy", l,
                   busy > 0 ? (uint64_t)busy : 0);
}

static void idle_of(struct hbuf *o, const struct labels *l, int64_t now)
{
    int64_t idle = atomic_load(&l->m->stats.idle);

    put_member_u64(o, "balancer_member_idle_connections", l,
                   idle > 0 ? (uint64_t)idle : 0);
}

static void usable_of(struct hbuf *o, const struct labels *l, int64_t now)
{
    put_member_u64(o, "balancer_member_usable", l,
                   stats_member_usable(l->m, now));
}

static void status_of(struct hbuf *o, const struct labels *l, int64_t now)
{
    unsigned st = atomic_load(&l->m->status);
    size_t i;

    for (i = 0; i < NSTATUS_FLAGS; i++) {
        put_member_start(o, "balancer_member_status", l);
        hbuf_printf(o, ",flag=\"%s\"} %d\n", status_flags[i].name,
                    (st & status_flags[i].flag) != 0);
    }
}

static void elected_of(struct hbuf *o, const struct labels *l, int64_t now)
{
    put_member_u64(o, "balancer_member_elected_total", l,
                   atomic_load(&l->m->elected));
}

static void bytes_out_of(struct hbuf *o, const struct labels *l,
                         int64_t now)
{
    put_member_u64(o, "balancer_member_sent_bytes_total", l,
                   atomic_load(&l->m->bytes_out));
}

static void bytes_in_of(struct hbuf *o, const struct labels *l,
                        int64_t now)
{
    put_member_u64(o, "balancer_member_received_bytes_total", l,
                   atomic_load(&l->m->bytes_in));
}

static const struct {
    const char *name;
    const char *type;
    const char *help;
    member_fn fn;
} member_metrics[] = {
    { "balancer_member_requests_total", "counter",
      "Requests whose last attempt went to the member.", requests_of },
    { "balancer_member_errors_total", "counter",
      "Failed attempts by kind: connect (refused, failed or timed out), "
      "timeout (no response: 504), status_5xx (the back end answered "
      "5xx), bad_response (reset, closed or malformed: 502), aborted "
      "(the connection broke midway).", errors_of },
    { "balancer_member_request_duration_seconds", "histogram",
      "Time from the request's start to the end of its response.",
      histogram_of },
    { "balancer_member_busy", "gauge",
      "Requests in flight on the member.", busy_of },
    { "balancer_member_idle_connections", "gauge",
      "Idle pooled keep-alive connections to the member.", idle_of },
    { "balancer_member_usable", "gauge",
      "1 when the member may take a new request, else 0.", usable_of },
    { "balancer_member_status", "gauge",
      "1 when the member has the status flag, else 0.", status_of },
    { "balancer_member_elected_total", "counter",
      "Times the member was chosen.", elected_of },
    { "balancer_member_sent_bytes_total", "counter",
      "Bytes sent to the member.", bytes_out_of },
    { "balancer_member_received_bytes_total", "counter",
      "Bytes read from the member.", bytes_in_of },
};

#define NMEMBER_METRICS (sizeof(member_metrics) / sizeof(member_metrics[0]))

static const struct {
    const char *name;
    const char *help;
    size_t offset;
} balancer_metrics[] = {
    { "balancer_sticky_hits_total",
      "Requests whose sticky route named a member that took them.",
      offsetof(struct balancer, sticky_hits) },
    { "balancer_sticky_misses_total",
      "Requests with no sticky value at all.",
      offsetof(struct balancer, sticky_misses) },
    { "balancer_sticky_session_only_total",
      "Requests with a session cookie but no sticky value.",
      offsetof(struct balancer, sticky_session_only) },
    { "balancer_sticky_unknown_route_total",
      "Requests whose sticky route names no member.",
      offsetof(struct balancer, sticky_unknown_route) },
    { "balancer_sticky_failovers_total",
      "Requests whose sticky route named a member that could not take "
      "them (another member did, or 503 with nofailover).",
      offsetof(struct balancer, sticky_failovers) },
    { "balancer_sticky_cookie_lost_total",
      "Responses setting the sticky cookie with a Domain or Path the "
      "client will not send it back to.",
      offsetof(struct balancer, sticky_cookie_lost) },
};

#define NBALANCER_METRICS \
    (sizeof(balancer_metrics) / sizeof(balancer_metrics[0]))

static void put_balancer_metrics(struct hbuf *o, const struct config *c)
{
    size_t i, j;

    for (i = 0; i < NBALANCER_METRICS; i++) {
        put_help(o, balancer_metrics[i].name, "counter",
                 balancer_metrics[i].help);
        for (j = 0; j < c->nbalancers; j++) {
            struct balancer *b = c->balancers[j];
            _Atomic uint64_t *v = (_Atomic uint64_t *)
                ((char *)b + balancer_metrics[i].offset);

            if (b->sticky_cookie == NULL && b->sticky_param == NULL)
                continue;
            put_balancer_u64(o, balancer_metrics[i].name, b,
                             atomic_load(v));
        }
    }
}

/* The reloads' outcomes (reload.h), under the names Prometheus gives its
 * own (prometheus_config_last_reload_successful and _timestamp_seconds),
 * so that the usual alert on a refused reload reads the same. */
static void put_reload_metrics(struct hbuf *o)
{
    struct reload_stats s;

    reload_get_stats(&s);
    put_help(o, "balancer_config_reloads_total", "counter",
             "Reloads (SIGHUP, -k graceful) by result: applied, or "
             "refused (the running configuration stayed; the error log "
             "says why).");
    hbuf_printf(o, "balancer_config_reloads_total{result=\"applied\"} "
                "%llu\n", (unsigned long long)s.applied);
    hbuf_printf(o, "balancer_config_reloads_total{result=\"refused\"} "
                "%llu\n", (unsigned long long)s.refused);
    put_help(o, "balancer_config_last_reload_successful", "gauge",
             "0 when the last reload was refused, else 1.");
    hbuf_printf(o, "balancer_config_last_reload_successful %d\n",
                s.last_applied ? 1 : 0);
    put_help(o, "balancer_config_last_reload_success_timestamp_seconds",
             "gauge", "Unix time the configuration in force was read.");
    hbuf_printf(o, "balancer_config_last_reload_success_timestamp_seconds "
                "%lld\n", (long long)s.loaded_at);
}

/*
 * The balancer-metrics handler (handler.h): GET or HEAD, every metric
 * of every balancer (sticky counters only for balancers with a
 * stickysession) and member.
 */
void metrics_serve(const struct handler_request *rq,
                   struct handler_response *rs)
{
    int64_t now = balancer_now_ms();
    size_t i;

    if (!handler_method_is(rq, "GET") && !handler_method_is(rq, "HEAD")) {
        handler_add_header(rs, "Allow", "GET, HEAD");
        handler_error_page(rs, 405, "balancer-metrics answers GET and "
                           "HEAD.");
        return;
    }
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    for (i = 0; i < NMEMBER_METRICS; i++) {
        put_help(&rs->body, member_metrics[i].name, member_metrics[i].type,
                 member_metrics[i].help);
        each_member(&rs->body, rq->config, member_metrics[i].fn, now);
    }
    put_balancer_metrics(&rs->body, rq->config);
    put_reload_metrics(&rs->body);
}
