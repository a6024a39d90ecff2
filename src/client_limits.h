/*
 * client_limits.h - limits on what clients may make the proxy hold:
 * request read timeouts (mod_reqtimeout's RequestReadTimeout), keep-alive
 * (KeepAlive, KeepAliveTimeout, MaxKeepAliveRequests), LimitRequestBody,
 * the number of client connections (MaxClients / MaxRequestWorkers), and
 * the process's file descriptor limit.
 */
#ifndef BALANCER_CLIENT_LIMITS_H
#define BALANCER_CLIENT_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One stage of RequestReadTimeout ("header=20-40,MinRate=500"): the
 * stage must be done within initial_ms; when min_rate is set, every
 * min_rate bytes received extend that by a second, up to max_ms (0: no
 * maximum). initial_ms 0 switches the stage's limit off.
 */
struct read_timeout {
    int initial_ms;
    int max_ms;
    int min_rate;                   /* bytes per second, 0: none */
};

struct client_limits {
    struct read_timeout header;     /* default header=20-40,MinRate=500 */
    struct read_timeout body;       /* default body=20,MinRate=500 */
    bool keepalive;                 /* KeepAlive, default On */
    int keepalive_timeout_ms;       /* KeepAliveTimeout, default 5 s */
    int max_keepalive_requests;     /* MaxKeepAliveRequests: 0, unlimited,
                                       by default (Apache: 100) */
    uint64_t max_body;              /* LimitRequestBody, default 1 GiB
                                       (Apache 2.4.53 on), 0: unlimited */
    int max_clients;                /* MaxClients, 0: no limit but file
                                       descriptors */
};

/* Apache's defaults, as above. */
void limits_defaults(struct client_limits *l);

/*
 * Parse one RequestReadTimeout argument, "header=N[-M][,MinRate=R]" or
 * "body=N[-M][,MinRate=R]", into l. Returns 0, or -1 with the cause in
 * err.
 */
int limits_parse_read_timeout(const char *arg, struct client_limits *l,
                              char *err, size_t errsize);

/*
 * The deadline of a read stage that began at start_ms after received
 * bytes came: start + initial, plus a second per min_rate bytes, capped
 * at start + max. 0 when the stage has no limit.
 */
int64_t limits_read_deadline(const struct read_timeout *t, int64_t start_ms,
                             uint64_t received);

/*
 * Count a client connection about to be accepted, against max (0: no
 * limit) over all worker threads. Returns false, counting nothing, when
 * max connections are open; limits_client_leave undoes a true.
 */
bool limits_client_enter(int max);
void limits_client_leave(void);

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit. Returns the new soft
 * limit, or -1 when it could not be read.
 */
long limits_raise_nofile(void);

#endif
