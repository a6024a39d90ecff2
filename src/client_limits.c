/*
 * client_limits.c - client limits: RequestReadTimeout parsing and
 * deadlines, the client connection count, the file descriptor limit.
 */
#include "client_limits.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#define MAX_READ_SECONDS 86400

void limits_defaults(struct client_limits *l)
{
    memset(l, 0, sizeof(*l));
    /* mod_reqtimeout's defaults: header=20-40,MinRate=500 body=20,
     * MinRate=500. */
    l->header.initial_ms = 20000;
    l->header.max_ms = 40000;
    l->header.min_rate = 500;
    l->body.initial_ms = 20000;
    l->body.min_rate = 500;
    l->keepalive = true;
    l->keepalive_timeout_ms = 5000;
    l->max_keepalive_requests = 0;      /* Apache: 100 */
    l->max_body = 1073741824;
}

/* Digits only, 0..max; advances *s. Returns 0 or -1. */
static int parse_count(const char **s, long max, long *out)
{
    const char *p = *s;
    long v = 0;

    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > max)
            return -1;
    }
    *s = p;
    *out = v;
    return 0;
}

int limits_parse_read_timeout(const char *arg, struct client_limits *l,
                              char *err, size_t errsize)
{
    struct read_timeout t = { 0, 0, 0 };
    struct read_timeout *stage;
    const char *s = arg;
    long v;

    if (strncasecmp(s, "header=", 7) == 0) {
        stage = &l->header;
        s += 7;
    } else if (strncasecmp(s, "body=", 5) == 0) {
        stage = &l->body;
        s += 5;
    } else {
        snprintf(err, errsize, "expected header=... or body=..., found "
                 "'%s' (handshake= is for TLS, not supported)", arg);
        return -1;
    }

    if (parse_count(&s, MAX_READ_SECONDS, &v) < 0)
        goto bad;
    t.initial_ms = (int)v * 1000;
    if (*s == '-') {
        s++;
        if (parse_count(&s, MAX_READ_SECONDS, &v) < 0)
            goto bad;
        t.max_ms = (int)v * 1000;
        if (t.max_ms < t.initial_ms) {
            snprintf(err, errsize, "'%s': the maximum is below the "
                     "initial timeout", arg);
            return -1;
        }
    }
    if (*s == ',') {
        s++;
        if (strncasecmp(s, "MinRate=", 8) != 0)
            goto bad;
        s += 8;
        if (parse_count(&s, 1L << 30, &v) < 0 || v == 0)
            goto bad;
        t.min_rate = (int)v;
    }
    if (*s != '\0')
        goto bad;
    if (t.max_ms > 0 && t.min_rate == 0) {
        snprintf(err, errsize, "'%s': a maximum needs MinRate", arg);
        return -1;
    }
    *stage = t;
    return 0;

bad:
    snprintf(err, errsize, "expected header|body=SECONDS[-MAX]"
             "[,MinRate=BYTES], found '%s'", arg);
    return -1;
}

int64_t limits_read_deadline(const struct read_timeout *t, int64_t start_ms,
                             uint64_t received)
{
    int64_t d;

    if (t->initial_ms <= 0)
        return 0;
    d = start_ms + t->initial_ms;
    if (t->min_rate > 0) {
        uint64_t extra = received / (uint64_t)t->min_rate;

        if (extra > MAX_READ_SECONDS)
            extra = MAX_READ_SECONDS;
        d += (int64_t)extra * 1000;
    }
    if (t->max_ms > 0 && d > start_ms + t->max_ms)
        d = start_ms + t->max_ms;
    return d;
}

static _Atomic int clients;

bool limits_client_enter(int max)
{
    if (atomic_fetch_add(&clients, 1) < max || max <= 0)
        return true;
    atomic_fetch_sub(&clients, 1);
    return false;
}

void limits_client_leave(void)
{
    atomic_fetch_sub(&clients, 1);
}

long limits_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;

        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? -1L : (long)rl.rlim_cur;
}
