/*
 * stats.h - per-member request statistics for the metrics and the
 * dashboard: requests, errors by kind, a latency histogram, idle pooled
 * connections, and a ring of per-second samples over the last minutes.
 *
 * Recording is lock-free and allocates nothing: a few relaxed atomic
 * adds on the recording thread's shard (worker index modulo
 * STATS_SHARDS), so worker threads do not share cache lines. Readers
 * merge the shards. Once a second (the first event or read of a new
 * second) one thread closes the second that ended into the ring: it
 * subtracts the merged totals at the second's start from the totals now,
 * under the ring's lock, which no recording thread waits on otherwise.
 *
 * An all-zero struct member_stats is a valid empty one (members are
 * calloc'd with it inside), so nothing needs initialising or freeing.
 */
#ifndef BALANCER_STATS_H
#define BALANCER_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_SHARDS    8       /* worker index % STATS_SHARDS */
#define STATS_NBUCKETS  17      /* latency buckets, the last is +Inf */
#define STATS_RING      300     /* per-second samples kept: 5 minutes */

/* Why an attempt on a member failed. */
enum stats_error {
    STATS_ERR_CONNECT = 0,      /* connect refused, failed or timed out */
    STATS_ERR_TIMEOUT,          /* no response in time (504) */
    STATS_ERR_STATUS_5XX,       /* the back end answered 5xx */
    STATS_ERR_BAD_RESPONSE,     /* reset, closed or malformed (502) */
    STATS_ERR_ABORTED,          /* the transfer broke midway */
    STATS_NERRORS
};

/* Upper bounds of the finite latency buckets in microseconds, ascending
 * (Prometheus "le" values): 0.1 ms .. 10 s. */
extern const int64_t stats_bucket_le_us[STATS_NBUCKETS - 1];

/* One shard: counters of requests recorded by some worker threads.
 * Padded so that two shards' counters never share a cache line, even
 * at the 16-byte alignment calloc gives. */
struct stats_shard {
    _Atomic uint64_t requests;
    _Atomic uint64_t errors[STATS_NERRORS];
    _Atomic uint64_t buckets[STATS_NBUCKETS];   /* not cumulative */
    _Atomic uint64_t latency_sum_us;
    char pad[64];
};

/* Shards merged: totals since the configuration was loaded. */
struct stats_totals {
    uint64_t requests;
    uint64_t errors[STATS_NERRORS];
    uint64_t error_total;
    uint64_t buckets[STATS_NBUCKETS];           /* not cumulative */
    uint64_t latency_sum_us;
};

/* One second of the ring: what happened during second sec (monotonic
 * seconds). A second with nothing recorded has zero counts. */
struct stats_sample {
    int64_t sec;
    uint32_t requests;
    uint32_t errors;
    uint32_t buckets[STATS_NBUCKETS];
};

struct stats_ring {
    pthread_mutex_t lock;               /* zero: a default mutex (glibc) */
    _Atomic int64_t open_sec;           /* second being counted, 0: none */
    struct stats_totals base;           /* totals when open_sec began */
    struct stats_sample samples[STATS_RING];
};

struct member_stats {
    struct stats_shard shards[STATS_SHARDS];
    _Atomic int64_t idle;               /* pooled idle connections, all
                                           threads (pool.c counts them) */
    struct stats_ring ring;
};

/* Name of an error kind for metrics labels and JSON ("connect", ...). */
const char *stats_error_name(enum stats_error kind);

/* The bucket a latency falls in: 0 .. STATS_NBUCKETS - 1. */
int stats_bucket_of(int64_t latency_us);

/*
 * Record a finished request on s: latency_us long, by worker thread
 * shard (any int >= 0), at monotonic now_ms. error: a stats_error kind
 * when it failed, or -1. Lock-free unless a new second begins.
 */
void stats_request(struct member_stats *s, int shard, int64_t now_ms,
                   int64_t latency_us, int error);

/* Record a failed attempt that is not a finished request (the request
 * went on to another member). */
void stats_error(struct member_stats *s, int shard, int64_t now_ms,
                 enum stats_error kind);

/* Add delta to the idle connection count (pool.c). */
void stats_idle_add(struct member_stats *s, int delta);

/*
 * At a reload: make to (a member of the new configuration, not serving
 * yet) go on from from's totals and ring of seconds. Requests the old
 * configuration still finishes afterwards count on from only.
 */
void stats_carry_over(struct member_stats *to,
                      const struct member_stats *from);

/* The totals of s, shards merged. */
void stats_totals(struct member_stats *s, struct stats_totals *out);

/*
 * The last n whole seconds before now_ms into out[0 .. n), oldest first
 * (n at most STATS_RING). Seconds with no traffic, or from before the
 * statistics began, come out as zero samples with their sec set.
 */
void stats_series(struct member_stats *s, int64_t now_ms,
                  struct stats_sample *out, size_t n);

/*
 * Estimate quantile q (0 .. 1) in milliseconds from non-cumulative
 * bucket counts, interpolating linearly inside the bucket the rank falls
 * in, as Prometheus' histogram_quantile does (the +Inf bucket gives its
 * lower bound). Returns -1 when there are no counts.
 */
double stats_quantile(const uint64_t *buckets, double q);

/* The same for a sample's 32-bit counts. */
double stats_sample_quantile(const struct stats_sample *sm, double q);

struct conn;

/*
 * The proxy's hook (proxy_route.c): c's request is finished (aborted:
 * its connection broke). Counts it on the member of its last attempt,
 * with its latency and, when it failed there, the error's kind. Requests
 * no member served are not counted.
 */
void stats_conn_done(const struct conn *c, bool aborted);

/* The proxy's hook: c's attempt on c->member failed to connect. */
void stats_conn_connect_failed(const struct conn *c);

/* ---- what the metrics and the dashboard show ------------------------ */

struct member;
struct handler_request;
struct handler_response;

/* Could m take a request now? As balancer.h's member_is_usable decides,
 * but without clearing an error whose retry time has passed. */
bool stats_member_usable(const struct member *m, int64_t now_ms);

/* m's state in one word: "usable", "error", "disabled", "stopped",
 * "draining", "standby" or "hc_failed" (health check failed). */
const char *stats_member_state(const struct member *m, int64_t now_ms);

/* The balancer-metrics handler (metrics.c): Prometheus text format. */
void metrics_serve(const struct handler_request *rq,
                   struct handler_response *rs);

/* The balancer-dashboard handler (dashboard.c): the live page, and with
 * "?json" in the query the data it draws. */
void dashboard_serve(const struct handler_request *rq,
                     struct handler_response *rs);

#endif
