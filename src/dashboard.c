/*
 * dashboard.c - the balancer-dashboard handler: a live page (no outside
 * scripts or styles: src/dashboard.html, built into the program) that
 * draws each member's requests per second, p50 and p99 latency and
 * errors over the last minutes, and its state; and, with "json" in the
 * query, the data the page polls:
 *
 *     <Location /balancer-dashboard>
 *         SetHandler balancer-dashboard
 *         Require ip 127.0.0.1
 *     </Location>
 *
 * GET /balancer-dashboard?json[&seconds=N] answers
 *
 *   { "seconds": N, "end_sec": S, "balancers": [ { "name": ...,
 *     "sticky": {...} | null, "members": [ { "name", "route", "state",
 *       "flags", "usable", "requests", "errors", "errors_by_kind": {...},
 *       "busy", "idle",
 *       "elected", "bytes_in", "bytes_out", "rps" (mean of the last 10 s),
 *       "p50_ms", "p99_ms" (last 60 s, null without requests),
 *       "series": { "requests": [...], "errors": [...],
 *                   "p50_ms": [...], "p99_ms": [...] } } ] } ],
 *     "reload": { "applied", "refused", "last_applied", "loaded_at" } }
 *
 * where each series holds the last N whole seconds, oldest first, the
 * last one ending at monotonic second S.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer.h"
#include "config.h"
#include "handler.h"
#include "reload.h"
#include "stats.h"

#define RATE_SECONDS     10     /* "rps" averages this many seconds */
#define QUANTILE_SECONDS 60     /* "p50_ms", "p99_ms" over this many */
#define ROUTE_MAX        256

/* The page, made from src/dashboard.html by mk/observe.mk. */
static const char page[] =
#include "dashboard_html.h"
    ;

/* ---- JSON text ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* s as a JSON string: quotes, backslashes, control bytes and < > &
 * escaped; a byte that is not UTF-8 becomes U+FFFD. */
static void put_json_string(struct hbuf *o, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), i = 0;

    hbuf_put(o, "\"", 1);
    while (i < n) {
        size_t len = utf8_len(s + i, n - i);

        if (len == 0) {
            hbuf_puts(o, "\\ufffd");
            i++;
        } else if (len > 1) {
            hbuf_put(o, (const char *)s + i, len);
            i += len;
        } else if (s[i] == '"' || s[i] == '\\') {
            hbuf_printf(o, "\\%c", s[i]);
            i++;
        } else if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '<' ||
                   s[i] == '>' || s[i] == '&') {
            hbuf_printf(o, "\\u%04x", s[i]);
            i++;
        } else {
            hbuf_put(o, (const char *)s + i, 1);
            i++;
        }
    }
    hbuf_put(o, "\"", 1);
}

static void put_key(struct hbuf *o, const char *key, bool first)
{
    hbuf_printf(o, "%s\"%s\":", first ? "" : ",", key);
}

static void put_ms(struct hbuf *o, double ms)
{
    if (ms < 0)
        hbuf_puts(o, "null");
    else
        hbuf_printf(o, "%.3f", ms);
}

/* ---- one member ------------------------------------------------------ */

/* Quantile q of the last n samples of series s (len long) merged. */
static double window_quantile(const struct stats_sample *s, size_t len,
                              size_t n, double q)
{
    uint64_t b[STATS_NBUCKETS] = { 0 };
    size_t i;
    int k;

    for (i = len > n ? len - n : 0; i < len; i++)
        for (k = 0; k < STATS_NBUCKETS; k++)
            b[k] += s[i].buckets[k];
    return stats_quantile(b, q);
}

static void put_series(struct hbuf *o, const struct stats_sample *s,
                       size_t n)
{
    size_t i;

    hbuf_puts(o, "{\"requests\":[");
    for (i = 0; i < n; i++)
        hbuf_printf(o, "%s%u", i ? "," : "", s[i].requests);
    hbuf_puts(o, "],\"errors\":[");
    for (i = 0; i < n; i++)
        hbuf_printf(o, "%s%u", i ? "," : "", s[i].errors);
    hbuf_puts(o, "],\"p50_ms\":[");
    for (i = 0; i < n; i++) {
        hbuf_puts(o, i ? "," : "");
        put_ms(o, stats_sample_quantile(&s[i], 0.5));
    }
    hbuf_puts(o, "],\"p99_ms\":[");
    for (i = 0; i < n; i++) {
        hbuf_puts(o, i ? "," : "");
        put_ms(o, stats_sample_quantile(&s[i], 0.99));
    }
    hbuf_puts(o, "]}");
}

/*
 * One member. series has room for len samples (len >= n and >= the rate
 * and quantile windows, so those do not depend on seconds=); the last n
 * are shown as the series.
 */
static void put_member(struct hbuf *o, struct balancer *b, struct member *m,
                       struct stats_sample *series, size_t len, size_t n,
                       int64_t now_ms)
{
    struct stats_totals t;
    char route[ROUTE_MAX], flags[128];
    uint64_t recent = 0;
    size_t i;
    int k;

    pthread_mutex_lock(&b->lock);
    snprintf(route, sizeof(route), "%s", m->route ? m->route : "");
    pthread_mutex_unlock(&b->lock);
    member_status_string(atomic_load(&m->status), flags, sizeof(flags));
    stats_series(&m->stats, now_ms, series, len);
    stats_totals(&m->stats, &t);
    for (i = len - RATE_SECONDS; i < len; i++)
        recent += series[i].requests;

    put_key(o, "name", true);
    put_json_string(o, m->name);
    put_key(o, "route", false);
    put_json_string(o, route);
    put_key(o, "state", false);
    put_json_string(o, stats_member_state(m, now_ms));
    put_key(o, "flags", false);
    put_json_string(o, flags);
    hbuf_printf(o, ",\"usable\":%s,\"requests\":%llu,\"errors\":%llu",
                stats_member_usable(m, now_ms) ? "true" : "false",
                (unsigned long long)t.requests,
                (unsigned long long)t.error_total);
    put_key(o, "errors_by_kind", false);
    for (k = 0; k < STATS_NERRORS; k++)
        hbuf_printf(o, "%s\"%s\":%llu", k ? "," : "{", stats_error_name(k),
                    (unsigned long long)t.errors[k]);
    hbuf_printf(o, "},\"busy\":%lld,\"idle\":%lld,\"elected\":%llu,"
                "\"bytes_in\":%llu,\"bytes_out\":%llu,\"rps\":%.3f",
                (long long)atomic_load(&m->busy),
                (long long)atomic_load(&m->stats.idle),
                (unsigned long long)atomic_load(&m->elected),
                (unsigned long long)atomic_load(&m->bytes_in),
                (unsigned long long)atomic_load(&m->bytes_out),
                (double)recent / RATE_SECONDS);
    put_key(o, "p50_ms", false);
    put_ms(o, window_quantile(series, len, QUANTILE_SECONDS, 0.5));
    put_key(o, "p99_ms", false);
    put_ms(o, window_quantile(series, len, QUANTILE_SECONDS, 0.99));
    put_key(o, "series", false);
    put_series(o, series + (len - n), n);
}

static void put_balancer(struct hbuf *o, struct balancer *b,
                         struct stats_sample *series, size_t len, size_t n,
                         int64_t now_ms)
{
    size_t j;

    put_key(o, "name", true);
    put_json_string(o, b->name);
    put_key(o, "sticky", false);
    if (b->sticky_cookie == NULL && b->sticky_param == NULL)
        hbuf_puts(o, "null");
    else
        hbuf_printf(o, "{\"hits\":%llu,\"misses\":%llu,"
                    "\"session_only\":%llu,\"unknown_route\":%llu,"
                    "\"failovers\":%llu,\"cookie_lost\":%llu}",
                    (unsigned long long)atomic_load(&b->sticky_hits),
                    (unsigned long long)atomic_load(&b->sticky_misses),
                    (unsigned long long)
                        atomic_load(&b->sticky_session_only),
                    (unsigned long long)
                        atomic_load(&b->sticky_unknown_route),
                    (unsigned long long)
                        atomic_load(&b->sticky_failovers),
                    (unsigned long long)
                        atomic_load(&b->sticky_cookie_lost));
    hbuf_puts(o, ",\"members\":[");
    for (j = 0; j < b->nmembers; j++) {
        hbuf_puts(o, j ? ",{" : "{");
        put_member(o, b, b->members[j], series, len, n, now_ms);
        hbuf_puts(o, "}");
    }
    hbuf_puts(o, "]");
}

/* The seconds= of the query: 1 .. STATS_RING, default STATS_RING. */
static size_t seconds_param(const struct handler_request *rq)
{
    char buf[16];
    char *end;
    long v;

    if (handler_form_value(rq->query, rq->query_len, "seconds", buf,
                           sizeof(buf)) <= 0)
        return STATS_RING;
    v = strtol(buf, &end, 10);
    if (*end != '\0' || v < 1)
        return STATS_RING;
    return v > STATS_RING ? STATS_RING : (size_t)v;
}

static void serve_json(const struct handler_request *rq,
                       struct handler_response *rs)
{
    const struct config *c = rq->config;
    size_t n = seconds_param(rq), i;
    size_t len = n > QUANTILE_SECONDS ? n : QUANTILE_SECONDS;
    struct stats_sample *series = calloc(len, sizeof(*series));
    int64_t now = balancer_now_ms();
    struct reload_stats reload;

    if (series == NULL) {
        rs->body.failed = true;
        return;
    }
    rs->content_type = "application/json";
    hbuf_printf(&rs->body, "{\"seconds\":%zu,\"end_sec\":%lld,"
                "\"balancers\":[", n, (long long)(now / 1000));
    for (i = 0; i < c->nbalancers; i++) {
        hbuf_puts(&rs->body, i ? ",{" : "{");
        put_balancer(&rs->body, c->balancers[i], series, len, n, now);
        hbuf_puts(&rs->body, "}");
    }
    reload_get_stats(&reload);
    hbuf_printf(&rs->body, "],\"reload\":{\"applied\":%llu,"
                "\"refused\":%llu,\"last_applied\":%s,"
                "\"loaded_at\":%lld}}\n",
                (unsigned long long)reload.applied,
                (unsigned long long)reload.refused,
                reload.last_applied ? "true" : "false",
                (long long)reload.loaded_at);
    free(series);
}

void dashboard_serve(const struct handler_request *rq,
                     struct handler_response *rs)
{
    char buf[8];

    if (!handler_method_is(rq, "GET") && !handler_method_is(rq, "HEAD")) {
        handler_add_header(rs, "Allow", "GET, HEAD");
        handler_error_page(rs, 405, "balancer-dashboard answers GET and "
                           "HEAD.");
        return;
    }
    if (handler_form_value(rq->query, rq->query_len, "json", buf,
                           sizeof(buf)) != -1) {
        serve_json(rq, rs);
        return;
    }
    rs->content_type = "text/html; charset=utf-8";
    /* The page runs only its own inline script and style. */
    handler_add_header(rs, "Content-Security-Policy",
                       "default-src 'self'; script-src 'unsafe-inline'; "
                       "style-src 'unsafe-inline'; img-src 'self' data:");
    handler_add_header(rs, "X-Content-Type-Options", "nosniff");
    hbuf_put(&rs->body, page, sizeof(page) - 1);
}
