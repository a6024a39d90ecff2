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

    struct member **members;
    size_t nmembers;

    /* runtime */
    pthread_mutex_t lock;       /* guards members' lbstatus during a pick */
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

/*
 * True when m may take a new request now: not disabled, stopped, in error
 * or failing health checks, or IGNORE_ERRORS. A member in error whose
 * retry time has passed is usable again: its error flag is cleared here
 * (Apache's ap_proxy_retry_worker).
 */
bool member_is_usable(struct member *m, int64_t now_ms);

/* Put m in error state (unless IGNORE_ERRORS); logs the change once with
 * cause. Returns true when this call changed the state. */
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
