/*
 * balancer.h - balancers, their members, status flags and counters.
 *
 * A balancer and its members are built by the configuration reader and live
 * as long as the configuration. The fields under "runtime" are shared by all
 * worker threads: the flags and counters are atomics; lbstatus is guarded by
 * the balancer's lock, which is held only while a member is chosen.
 *
 * A ProxyPass to a plain http:// URL gets an anonymous balancer with a
 * single member and no stickiness, so the proxy has one path for both.
 */
#ifndef BALANCER_BALANCER_H
#define BALANCER_BALANCER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stats.h"

/* Member status flags, as mod_proxy_balancer's status= letters. */
#define MEMBER_DISABLED      (1u << 0)  /* D: takes no requests */
#define MEMBER_STOPPED       (1u << 1)  /* S: administratively stopped */
#define MEMBER_IGNORE_ERRORS (1u << 2)  /* I: always considered usable */
#define MEMBER_HOT_STANDBY   (1u << 3)  /* H: used only when none else is */
#define MEMBER_HOT_SPARE     (1u << 4)  /* R: replaces an unusable member */
#define MEMBER_IN_ERROR      (1u << 5)  /* E: failed, waits for retry */
#define MEMBER_DRAIN         (1u << 6)  /* N: sticky sessions only */
#define MEMBER_HC_FAILED     (1u << 7)  /* C: failed its health check */

#define MAX_FAILONSTATUS 16

struct balancer;
struct hc_cond;

/* mod_proxy_hcheck's hcmethod= (health.h runs the checks). The "11"
 * kinds send HTTP/1.1, the others HTTP/1.0, as Apache 2.4 does. */
enum hc_method {
    HC_METHOD_NONE = 0,     /* no active checks (Apache's default) */
    HC_METHOD_TCP,          /* connect only */
    HC_METHOD_OPTIONS,
    HC_METHOD_HEAD,
    HC_METHOD_GET,
    HC_METHOD_OPTIONS11,
    HC_METHOD_HEAD11,
    HC_METHOD_GET11
};

/* Which fields of a struct member_hc were written in the configuration. */
#define HC_SET_METHOD    (1u << 0)
#define HC_SET_URI       (1u << 1)
#define HC_SET_INTERVAL  (1u << 2)
#define HC_SET_PASSES    (1u << 3)
#define HC_SET_FAILS     (1u << 4)
#define HC_SET_EXPR      (1u << 5)
#define HC_SET_SLOWSTART (1u << 6)

/*
 * Health-check settings of a member (hc* parameters, slowstart=) or, in
 * struct balancer, the ProxySet defaults for its members. When the
 * configuration is loaded a member's settings are resolved: its own value,
 * else its hctemplate='s, else its balancer's, else the default; after
 * that every field of a member's hc is final and set is all ones.
 */
struct member_hc {
    unsigned set;               /* HC_SET_* written here */
    int method;                 /* enum hc_method, default NONE */
    char *uri;                  /* hcuri=, appended to the member's path;
                                   NULL or "": the path itself, or "/" */
    int interval_ms;            /* hcinterval=, default 30 s */
    int passes;                 /* hcpasses=, default 1 */
    int fails;                  /* hcfails=, default 1 */
    char *expr;                 /* hcexpr= condition name, NULL: none */
    char *template_name;        /* hctemplate=, NULL: none */
    int slowstart_ms;           /* slowstart= (ours), default 0: off */
    const struct hc_cond *cond; /* hcexpr resolved; NULL: 2xx or 3xx */
};

struct member {
    struct balancer *balancer;
    int index;                  /* position in balancer->members */
    char *name;                 /* the URL as configured, e.g.
                                   "http://10.0.0.1:8080" (no trailing /) */
    char *host;                 /* as written in the URL */
    uint16_t port;              /* 80 when the URL gives none */
    char *path;                 /* path part of the URL, "" when none */
    char *hostport;             /* "host" or "host:port", for Host: */
    struct sockaddr_storage addr;  /* resolved when the config is read */
    socklen_t addrlen;

    char *route;                /* route=, "" when none */
    char *redirect;             /* redirect=, "" when none */
    int loadfactor;             /* loadfactor= x 100 (1.00 .. 100.00) */
    int lbset;                  /* lbset=, 0 .. 99 */
    unsigned initial_status;    /* status= as configured */
    int retry_ms;               /* retry=, default 60 s */
    int timeout_ms;             /* timeout=, 0: the balancer's/ProxyTimeout */
    int connect_timeout_ms;     /* connectiontimeout=, 0: same as timeout */
    bool tcp_keepalive;         /* keepalive=On: SO_KEEPALIVE on back end */
    int max_conns;              /* max=, per worker thread, 0: no limit */
    int ttl_ms;                 /* ttl=, idle pooled connections, 0: none */
    bool disablereuse;          /* disablereuse=On: no pooling */
    struct member_hc hc;        /* health checks, slow start (resolved) */

    /* runtime, shared by all threads */
    _Atomic unsigned status;    /* MEMBER_* flags */
    _Atomic int64_t error_time_ms;  /* monotonic ms when put in error */
    _Atomic uint64_t elected;   /* times chosen: counted by lbmethod_pick
                                   and sticky_route_member */
    _Atomic int64_t busy;       /* requests in flight */
    _Atomic uint64_t bytes_out; /* bytes sent to the back end */
    _Atomic uint64_t bytes_in;  /* bytes read from the back end */
    _Atomic uint64_t errors;    /* failed attempts */
    int64_t lbstatus;           /* lbmethod state, under balancer->lock */

    /*
     * Health, runtime (health.c writes them; anyone may read them):
     * hc_last_status is the HTTP status of the last check (0 before the
     * first, for TCP checks, or when no status was read); hc_last_check_ms
     * the monotonic ms when it ended (0: none yet); the consecutive counts
     * reset each other; hc_last_cause a static string ("ok", "connection
     * refused", "timeout", "unexpected status", "expression failed", ...)
     * that never needs freeing. MEMBER_HC_FAILED in status is the state.
     */
    _Atomic int hc_last_status;
    _Atomic int64_t hc_last_check_ms;
    _Atomic int hc_consecutive_fails;
    _Atomic int hc_consecutive_passes;
    _Atomic(const char *) hc_last_cause;
    _Atomic bool hc_urgent;     /* passive failure: check it now */
    _Atomic uint32_t down_gen;  /* +1 each time m goes down (error or
                                   HC failed): pools close idle
                                   connections opened before */
    _Atomic int64_t up_since_ms;    /* when m came back, for slowstart;
                                       0: not ramping up */
    _Atomic unsigned diag_warned;   /* DIAG_* causes already logged for
                                       m (diagnose.h): once each */
    struct member_stats stats;      /* requests, errors, latency, idle
                                       connections (stats.h) */
    _Atomic int64_t log_stamp;      /* log_once_a_second, for m */
};

enum lbmethod_kind {
    LBMETHOD_BYREQUESTS,
    LBMETHOD_BYTRAFFIC,
    LBMETHOD_BYBUSYNESS
};

struct balancer {
    char *name;                 /* "balancer://cluster" */
    bool anonymous;             /* made for a ProxyPass to a plain URL */
    enum lbmethod_kind lbmethod;
    char *sticky_cookie;        /* stickysession= cookie name, or NULL */
    char *sticky_param;         /* URL parameter name (after |), or NULL */
    char sticky_sep;            /* stickysessionsep=, default '.' */
    bool scolonpathdelim;       /* ;name=value path parameters */
    bool nofailover;
    int maxattempts;            /* -1 until set: then members - 1 */
    int timeout_ms;             /* timeout=: wait for a usable member */
    bool forcerecovery;         /* default On */
    int failonstatus[MAX_FAILONSTATUS];
    int nfailonstatus;
    bool failontimeout;
    /*
     * Ours, beyond Apache: stickysessioninsert=On makes balancer set the
     * sticky cookie (NAME=<value>.<route>; Path=/; HttpOnly[; Secure])
     * itself when a response starts or changes a route and lacks it.
     */
    bool sticky_insert;
    struct member_hc hc;        /* ProxySet hc*= / slowstart= defaults */

    struct member **members;
    size_t nmembers;

    /* runtime */
    pthread_mutex_t lock;       /* guards members' lbstatus during a pick,
                                   and the manager's changes of members'
                                   loadfactor, lbset, route, redirect and
                                   of the balancer's settings */
    char nonce[33];             /* balancer-manager's per-balancer nonce
                                   (hex), made by balancer_init_runtime */

    /* stickiness diagnosis (diagnose.h), counted by all threads */
    _Atomic uint64_t sticky_hits;       /* sticky route -> its member */
    _Atomic uint64_t sticky_misses;     /* no sticky value at all */
    _Atomic uint64_t sticky_session_only;   /* a session cookie (e.g.
                                       PHPSESSID) but no sticky value */
    _Atomic uint64_t sticky_unknown_route;  /* route names no member */
    _Atomic uint64_t sticky_failovers;  /* route's member unusable: the
                                       request went to another */
    _Atomic uint64_t sticky_cookie_lost;    /* back end set the sticky
                                       cookie with a Domain or Path the
                                       client will not send it back to */
    _Atomic unsigned diag_warned;   /* DIAG_* causes logged for b */
    _Atomic int64_t log_stamp;      /* log_once_a_second, for b */
};

/* Why a member was chosen; printed in logs as the lower-case name. */
enum pick_reason {
    PICK_NONE = 0,      /* nothing chosen: see pick_result.status */
    PICK_STICKY,        /* the request's route named this member */
    PICK_REDIRECT,      /* its route's member redirects here */
    PICK_LBMETHOD,      /* no route: chosen by the lbmethod */
    PICK_FAILOVER,      /* route's member unusable: lbmethod chose this */
    PICK_STANDBY,       /* chosen among hot standbys */
    PICK_RETRY          /* a new attempt after a failed one */
};

/* Current monotonic time in milliseconds. */
int64_t balancer_now_ms(void);

/* Initialise the runtime fields of b and its members (status from
 * initial_status, counters zero, the lock). Returns 0 or -1. */
int balancer_init_runtime(struct balancer *b);

/* Free b and its members. Every char * of b and of its members (route
 * and redirect too, even when "") must have come from malloc. */
void balancer_free(struct balancer *b);

/* Free one member and every string it owns (NULL is fine). */
void member_free(struct member *m);

/*
 * True when m may take a new request now: not disabled, stopped, in error
 * or failing health checks, or IGNORE_ERRORS. A member in error whose
 * retry time has passed is usable again: its error flag is cleared here
 * (Apache's ap_proxy_retry_worker).
 */
bool member_is_usable(struct member *m, int64_t now_ms);

/* How many members of b could take a new request now (retry times
 * considered), without changing any state. */
size_t balancer_count_usable(const struct balancer *b, int64_t now_ms);

/* Put m in error state (unless IGNORE_ERRORS); logs the change once with
 * cause. Returns true when this call changed the state. It also marks m
 * down for the pools (down_gen) and, when m has health checks, asks for
 * one at once (hc_urgent). */
bool member_set_error(struct member *m, const char *cause);

/* Status flags as Apache's manager shows them: "Ok", "Dis", "Stop",
 * "Err", "Drn", "Stby", "Spar", "Ign", "HcFl", joined by spaces. */
void member_status_string(unsigned status, char *buf, size_t size);

/*
 * Parse a status= value ("D", "+H", "-E", "DH" ...) onto *flags.
 * Returns 0, or -1 with *error set to the cause (per-thread storage,
 * valid until the next call) and *flags unchanged. As in Apache, a sign
 * holds for the letters after it: "-EH" clears E and H.
 */
int member_parse_status(const char *text, unsigned *flags,
                        const char **error);

/*
 * Apache's force_recovery: when b->forcerecovery is on and every member
 * of b is in error (retry times considered), clear the error state of
 * all of them so the request can try them again. Returns true when it
 * did. lbmethod_pick and sticky_route_member call it.
 */
bool balancer_force_recovery(struct balancer *b, int64_t now_ms);

#endif
