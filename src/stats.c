/*
 * stats.c - per-member request statistics (see stats.h).
 */
#include "stats.h"

#include <string.h>
#include <time.h>

#include "proxy_conn.h"

#define RELAXED memory_order_relaxed

const int64_t stats_bucket_le_us[STATS_NBUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000
};

static const char *const error_names[STATS_NERRORS] = {
    [STATS_ERR_CONNECT] = "connect",
    [STATS_ERR_TIMEOUT] = "timeout",
    [STATS_ERR_STATUS_5XX] = "status_5xx",
    [STATS_ERR_BAD_RESPONSE] = "bad_response",
    [STATS_ERR_ABORTED] = "aborted",
};

const char *stats_error_name(enum stats_error kind)
{
    if ((unsigned)kind >= STATS_NERRORS)
        return "unknown";
    return error_names[kind];
}

int stats_bucket_of(int64_t latency_us)
{
    int lo = 0, hi = STATS_NBUCKETS - 1;

    /* The first bucket whose bound is >= latency; +Inf when none. */
    while (lo < hi) {
        int mid = (lo + hi) / 2;

        if (latency_us <= stats_bucket_le_us[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static struct stats_shard *shard_of(struct member_stats *s, int shard)
{
    if (shard < 0)
        shard = 0;
    return &s->shards[shard % STATS_SHARDS];
}

void stats_totals(struct member_stats *s, struct stats_totals *out)
{
    int i, k;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < STATS_SHARDS; i++) {
        struct stats_shard *sh = &s->shards[i];

        out->requests += atomic_load_explicit(&sh->requests, RELAXED);
        out->latency_sum_us +=
            atomic_load_explicit(&sh->latency_sum_us, RELAXED);
        for (k = 0; k < STATS_NERRORS; k++)
            out->errors[k] += atomic_load_explicit(&sh->errors[k], RELAXED);
        for (k = 0; k < STATS_NBUCKETS; k++)
            out->buckets[k] +=
                atomic_load_explicit(&sh->buckets[k], RELAXED);
    }
    for (k = 0; k < STATS_NERRORS; k++)
        out->error_total += out->errors[k];
}

/* ---- the ring of seconds ------------------------------------------ */

static struct stats_sample *slot_of(struct stats_ring *r, int64_t sec)
{
    return &r->samples[sec % STATS_RING];
}

/* Write second sec's sample: the totals now less those at its start. */
static void close_second(struct stats_ring *r, int64_t sec,
                         const struct stats_totals *now)
{
    struct stats_sample *sm = slot_of(r, sec);
    int k;

    sm->sec = sec;
    sm->requests = (uint32_t)(now->requests - r->base.requests);
    sm->errors = (uint32_t)(now->error_total - r->base.error_total);
    for (k = 0; k < STATS_NBUCKETS; k++)
        sm->buckets[k] = (uint32_t)(now->buckets[k] - r->base.buckets[k]);
}

/* Close the open second and the empty ones after it, up to sec, which
 * becomes the open one. The caller holds r->lock. */
static void ring_advance_locked(struct member_stats *s, int64_t sec)
{
    struct stats_ring *r = &s->ring;
    int64_t open = atomic_load(&r->open_sec), t;
    struct stats_totals now;

    if (sec <= open)
        return;
    stats_totals(s, &now);
    if (open > 0) {
        close_second(r, open, &now);
        t = open + 1 > sec - STATS_RING ? open + 1 : sec - STATS_RING;
        for (; t < sec; t++) {
            struct stats_sample *sm = slot_of(r, t);

            memset(sm, 0, sizeof(*sm));
            sm->sec = t;
        }
    }
    r->base = now;
    atomic_store(&r->open_sec, sec);
}

/* On the recording path: advance unless another thread is doing it. */
static void ring_tick(struct member_stats *s, int64_t now_ms)
{
    int64_t sec = now_ms / 1000;

    if (sec <= 0 ||
        atomic_load_explicit(&s->ring.open_sec, RELAXED) >= sec)
        return;
    if (pthread_mutex_trylock(&s->ring.lock) != 0)
        return;
    ring_advance_locked(s, sec);
    pthread_mutex_unlock(&s->ring.lock);
}

void stats_series(struct member_stats *s, int64_t now_ms,
                  struct stats_sample *out, size_t n)
{
    struct stats_ring *r = &s->ring;
    int64_t sec = now_ms / 1000;
    size_t i;

    if (n > STATS_RING)
        n = STATS_RING;
    pthread_mutex_lock(&r->lock);
    if (sec > 0)
        ring_advance_locked(s, sec);
    for (i = 0; i < n; i++) {
        int64_t t = sec - (int64_t)n + (int64_t)i;
        const struct stats_sample *sm = t > 0 ? slot_of(r, t) : NULL;

        if (sm != NULL && sm->sec == t) {
            out[i] = *sm;
        } else {
            memset(&out[i], 0, sizeof(out[i]));
            out[i].sec = t;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- recording ----------------------------------------------------- */

void stats_request(struct member_stats *s, int shard, int64_t now_ms,
                   int64_t latency_us, int error)
{
    struct stats_shard *sh = shard_of(s, shard);

    ring_tick(s, now_ms);
    if (latency_us < 0)
        latency_us = 0;
    atomic_fetch_add_explicit(&sh->requests, 1, RELAXED);
    atomic_fetch_add_explicit(&sh->buckets[stats_bucket_of(latency_us)], 1,
                              RELAXED);
    atomic_fetch_add_explicit(&sh->latency_sum_us, (uint64_t)latency_us,
                              RELAXED);
    if (error >= 0 && error < STATS_NERRORS)
        atomic_fetch_add_explicit(&sh->errors[error], 1, RELAXED);
}

void stats_error(struct member_stats *s, int shard, int64_t now_ms,
                 enum stats_error kind)
{
    struct stats_shard *sh = shard_of(s, shard);

    ring_tick(s, now_ms);
    if ((unsigned)kind < STATS_NERRORS)
        atomic_fetch_add_explicit(&sh->errors[kind], 1, RELAXED);
}

void stats_idle_add(struct member_stats *s, int delta)
{
    atomic_fetch_add_explicit(&s->idle, delta, RELAXED);
}

void stats_carry_over(struct member_stats *to,
                      const struct member_stats *from)
{
    /* Only the ring's lock is written; the counters are read. */
    struct member_stats *old = (struct member_stats *)from;
    struct stats_shard *sh = &to->shards[0];
    struct stats_totals t;
    int k;

    pthread_mutex_lock(&old->ring.lock);
    stats_totals(old, &t);
    atomic_fetch_add(&sh->requests, t.requests);
    atomic_fetch_add(&sh->latency_sum_us, t.latency_sum_us);
    for (k = 0; k < STATS_NERRORS; k++)
        atomic_fetch_add(&sh->errors[k], t.errors[k]);
    for (k = 0; k < STATS_NBUCKETS; k++)
        atomic_fetch_add(&sh->buckets[k], t.buckets[k]);

    pthread_mutex_lock(&to->ring.lock);
    memcpy(to->ring.samples, old->ring.samples, sizeof(to->ring.samples));
    to->ring.base = old->ring.base;
    atomic_store(&to->ring.open_sec, atomic_load(&old->ring.open_sec));
    pthread_mutex_unlock(&to->ring.lock);
    pthread_mutex_unlock(&old->ring.lock);
}

/* ---- quantiles ----------------------------------------------------- */

/* Linear interpolation inside the bucket that holds rank. */
static double quantile_of(const double *counts, double q)
{
    double total = 0, seen = 0, rank;
    int k;

    for (k = 0; k < STATS_NBUCKETS; k++)
        total += counts[k];
    if (total <= 0)
        return -1;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    rank = q * total;
    for (k = 0; k < STATS_NBUCKETS; k++) {
        double lo, hi;

        if (counts[k] <= 0 || seen + counts[k] < rank) {
            seen += counts[k];
            continue;
        }
        lo = k > 0 ? (double)stats_bucket_le_us[k - 1] : 0.0;
        if (k == STATS_NBUCKETS - 1)
            return lo / 1000.0;
        hi = (double)stats_bucket_le_us[k];
        return (lo + (hi - lo) * (rank - seen) / counts[k]) / 1000.0;
    }
    return (double)stats_bucket_le_us[STATS_NBUCKETS - 2] / 1000.0;
}

double stats_quantile(const uint64_t *buckets, double q)
{
    double counts[STATS_NBUCKETS];
    int k;

    for (k = 0; k < STATS_NBUCKETS; k++)
        counts[k] = (double)buckets[k];
    return quantile_of(counts, q);
}

double stats_sample_quantile(const struct stats_sample *sm, double q)
{
    double counts[STATS_NBUCKETS];
    int k;

    for (k = 0; k < STATS_NBUCKETS; k++)
        counts[k] = (double)sm->buckets[k];
    return quantile_of(counts, q);
}

/* ---- what is shown ------------------------------------------------ */

bool stats_member_usable(const struct member *m, int64_t now_ms)
{
    unsigned st = atomic_load(&m->status);

    if (st & (MEMBER_DISABLED | MEMBER_STOPPED | MEMBER_HC_FAILED))
        return false;
    if (!(st & MEMBER_IN_ERROR) || (st & MEMBER_IGNORE_ERRORS))
        return true;
    return now_ms >= atomic_load(&m->error_time_ms) + m->retry_ms;
}

const char *stats_member_state(const struct member *m, int64_t now_ms)
{
    unsigned st = atomic_load(&m->status);

    if (st & MEMBER_STOPPED)
        return "stopped";
    if (st & MEMBER_DISABLED)
        return "disabled";
    if (st & MEMBER_HC_FAILED)
        return "hc_failed";
    if (!stats_member_usable(m, now_ms))
        return "error";
    if (st & MEMBER_DRAIN)
        return "draining";
    if (st & (MEMBER_HOT_STANDBY | MEMBER_HOT_SPARE))
        return "standby";
    return "usable";
}

/* ---- the proxy's hooks --------------------------------------------- */

/* What went wrong with c's finished request on its member, or -1. */
static int conn_error_kind(const struct conn *c, bool aborted)
{
    if (aborted)
        return STATS_ERR_ABORTED;
    if (c->state == CONN_LOCAL) {
        /* Our own answer: 502 and 504 are the back end's failures;
         * a 503 (no connection free, attempts used up) or a 4xx is
         * not an error of the member. */
        if (c->status == 502)
            return STATS_ERR_BAD_RESPONSE;
        if (c->status == 504)
            return STATS_ERR_TIMEOUT;
        return -1;
    }
    return c->res_parsed && c->status >= 500 ? STATS_ERR_STATUS_5XX : -1;
}

void stats_conn_done(const struct conn *c, bool aborted)
{
    struct timespec now;
    int64_t latency_us;

    if (c->member == NULL)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    latency_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 -
                 c->start_us;
    stats_request(&c->member->stats, c->worker->index,
                  loop_now(c->worker->loop), latency_us,
                  conn_error_kind(c, aborted));
}

void stats_conn_connect_failed(const struct conn *c)
{
    if (c->member == NULL)
        return;
    stats_error(&c->member->stats, c->worker->index,
                loop_now(c->worker->loop), STATS_ERR_CONNECT);
}
