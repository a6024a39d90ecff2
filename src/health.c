/*
 * health.c - active health checks (mod_proxy_hcheck's parameters) and
 * slow start; their expected-status conditions are in health_expr.c.
 *
 * Apache's documentation of mod_proxy_hcheck is followed for the
 * parameters and their defaults: hcmethod None (no checks), hcinterval
 * 30 s, hcpasses 1, hcfails 1; OPTIONS, HEAD and GET send HTTP/1.0 and
 * their "11" forms HTTP/1.1; TCP only connects; without hcexpr a 2xx or
 * 3xx status passes; hcuri is appended to the member's URL; ProxyHCExpr
 * and ProxyHCTemplate must be defined before a member names them.
 */
#include "health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

const char health_out_of_memory[] = "out of memory";

/* ==================================================================== */
/* Configuration                                                         */

struct named_cond {
    char *name;
    struct hc_cond *cond;
};

struct hc_template {
    char *name;
    struct member_hc hc;
};

struct health_config {
    struct named_cond *conds;
    size_t nconds;
    struct hc_template *templates;
    size_t ntemplates;
    _Atomic int nthreads;           /* health_thread_create calls */
    _Atomic bool fixed;             /* health_set_threads: final */
};

static const char *const method_names[] = {
    [HC_METHOD_NONE] = "NONE",
    [HC_METHOD_TCP] = "TCP",
    [HC_METHOD_OPTIONS] = "OPTIONS",
    [HC_METHOD_HEAD] = "HEAD",
    [HC_METHOD_GET] = "GET",
    [HC_METHOD_OPTIONS11] = "OPTIONS11",
    [HC_METHOD_HEAD11] = "HEAD11",
    [HC_METHOD_GET11] = "GET11",
};

#define NMETHODS (sizeof(method_names) / sizeof(method_names[0]))

const char *hc_method_name(int method)
{
    if (method < 0 || (size_t)method >= NMETHODS)
        return "NONE";
    return method_names[method];
}

static struct health_config *health_of(struct config *c)
{
    if (c->health == NULL)
        c->health = calloc(1, sizeof(*c->health));
    return c->health;
}

void member_hc_free(struct member_hc *hc)
{
    free(hc->uri);
    free(hc->expr);
    free(hc->template_name);
    hc->uri = hc->expr = hc->template_name = NULL;
}

void health_config_free(struct health_config *h)
{
    size_t i;

    if (h == NULL)
        return;
    for (i = 0; i < h->nconds; i++) {
        free(h->conds[i].name);
        hc_cond_free(h->conds[i].cond);
    }
    free(h->conds);
    for (i = 0; i < h->ntemplates; i++) {
        free(h->templates[i].name);
        member_hc_free(&h->templates[i].hc);
    }
    free(h->templates);
    free(h);
}

static const char *const param_names[] = {
    "hcmethod", "hcuri", "hcinterval", "hcpasses", "hcfails", "hcexpr",
    "hctemplate", "slowstart", NULL
};

bool health_is_param(const char *key)
{
    size_t i;

    for (i = 0; param_names[i]; i++)
        if (strcasecmp(param_names[i], key) == 0)
            return true;
    return false;
}

/* "N" seconds or "Nms" / "Ns", from min_ms to one day. */
static int parse_ms(const char *v, int min_ms, int *out)
{
    char *end;
    long n;

    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || n > 86400000L)
        return -1;
    if (strcasecmp(end, "ms") != 0) {
        if (*end != '\0' && strcasecmp(end, "s") != 0)
            return -1;
        if (n > 86400)
            return -1;
        n *= 1000;
    }
    if (n < min_ms || n > 86400000L)
        return -1;
    *out = (int)n;
    return 0;
}

static int parse_count(const char *v, int *out)
{
    char *end;
    long n;

    if (*v < '0' || *v > '9')
        return -1;
    n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > 1000)
        return -1;
    *out = (int)n;
    return 0;
}

static const struct hc_cond *find_cond(struct health_config *h,
                                       const char *name)
{
    size_t i;

    for (i = 0; h != NULL && i < h->nconds; i++)
        if (strcmp(h->conds[i].name, name) == 0)
            return h->conds[i].cond;
    return NULL;
}

static struct hc_template *find_template(struct health_config *h,
                                         const char *name)
{
    size_t i;

    for (i = 0; h != NULL && i < h->ntemplates; i++)
        if (strcmp(h->templates[i].name, name) == 0)
            return &h->templates[i];
    return NULL;
}

static const char *replace(char **field, const char *v)
{
    char *copy = strdup(v);

    if (copy == NULL)
        return health_out_of_memory;
    free(*field);
    *field = copy;
    return NULL;
}

/* Copy what hc `from` sets onto `to` (hctemplate=, ProxySet defaults). */
static const char *copy_set(struct member_hc *to,
                            const struct member_hc *from, unsigned which)
{
    unsigned w = from->set & which;

    if (w & HC_SET_METHOD)
        to->method = from->method;
    if (w & HC_SET_INTERVAL)
        to->interval_ms = from->interval_ms;
    if (w & HC_SET_PASSES)
        to->passes = from->passes;
    if (w & HC_SET_FAILS)
        to->fails = from->fails;
    if (w & HC_SET_SLOWSTART)
        to->slowstart_ms = from->slowstart_ms;
    if ((w & HC_SET_URI) && replace(&to->uri, from->uri) != NULL)
        return health_out_of_memory;
    if (w & HC_SET_EXPR) {
        if (replace(&to->expr, from->expr) != NULL)
            return health_out_of_memory;
        to->cond = from->cond;
    }
    to->set |= w;
    return NULL;
}

static const char *set_method(struct member_hc *hc, const char *v)
{
    size_t i;

    for (i = 0; i < NMETHODS; i++) {
        if (strcasecmp(method_names[i], v) == 0) {
            hc->method = (int)i;
            hc->set |= HC_SET_METHOD;
            return NULL;
        }
    }
    return "TCP, OPTIONS, HEAD, GET, OPTIONS11, HEAD11, GET11 or NONE "
           "(CPING and provider methods are not supported)";
}

static const char *set_uri(struct member_hc *hc, const char *v)
{
    const char *p;

    if (v[0] != '/')
        return "a path starting with '/'";
    for (p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "a path without spaces or control characters";
    hc->set |= HC_SET_URI;
    return replace(&hc->uri, v);
}

const char *health_param(struct config *c, struct member_hc *hc,
                         const char *key, const char *value)
{
    struct health_config *h = c->health;
    const struct hc_cond *cond;
    struct hc_template *t;

    if (strcasecmp(key, "hcmethod") == 0)
        return set_method(hc, value);
    if (strcasecmp(key, "hcuri") == 0)
        return set_uri(hc, value);
    if (strcasecmp(key, "hcinterval") == 0) {
        if (parse_ms(value, 100, &hc->interval_ms) < 0)
            return "seconds from 1 to 86400, or a number with unit ms "
                   "(at least 100ms)";
        hc->set |= HC_SET_INTERVAL;
        return NULL;
    }
    if (strcasecmp(key, "hcpasses") == 0 || strcasecmp(key, "hcfails") == 0) {
        bool passes = strcasecmp(key, "hcpasses") == 0;

        if (parse_count(value, passes ? &hc->passes : &hc->fails) < 0)
            return "a number of checks from 1 to 1000";
        hc->set |= passes ? HC_SET_PASSES : HC_SET_FAILS;
        return NULL;
    }
    if (strcasecmp(key, "slowstart") == 0) {
        if (parse_ms(value, 0, &hc->slowstart_ms) < 0)
            return "seconds from 0 to 86400, or a number with unit ms";
        hc->set |= HC_SET_SLOWSTART;
        return NULL;
    }
    if (strcasecmp(key, "hcexpr") == 0) {
        cond = find_cond(h, value);
        if (cond == NULL)
            return "the name of a ProxyHCExpr or ProxyHCExpectStatus "
                   "defined above";
        hc->cond = cond;
        hc->set |= HC_SET_EXPR;
        return replace(&hc->expr, value);
    }
    if (strcasecmp(key, "hctemplate") == 0) {
        t = find_template(h, value);
        if (t == NULL)
            return "the name of a ProxyHCTemplate defined above";
        if (copy_set(hc, &t->hc, ~0u) != NULL)
            return health_out_of_memory;
        return replace(&hc->template_name, value);
    }
    return "a health check parameter";
}

static bool valid_name(const char *name)
{
    const char *p;

    if (*name == '\0')
        return false;
    for (p = name; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\'')
            return false;
    return true;
}

int health_define_cond(struct config *c, const char *name,
                       const char *text, bool status_list, char *err,
                       size_t errsize)
{
    struct health_config *h = health_of(c);
    struct named_cond *list;
    struct hc_cond *cond;
    char *copy;

    if (h == NULL)
        goto no_memory;
    if (!valid_name(name)) {
        snprintf(err, errsize, "expected a name without spaces or quotes, "
                 "found '%s'", name);
        return -1;
    }
    if (find_cond(h, name) != NULL) {
        snprintf(err, errsize, "condition '%s' is already defined", name);
        return -1;
    }
    cond = status_list ? hc_cond_parse_status_list(text, err, errsize)
                       : hc_cond_parse(text, err, errsize);
    if (cond == NULL)
        return -1;

    copy = strdup(name);
    list = realloc(h->conds, (h->nconds + 1) * sizeof(*list));
    if (list != NULL)
        h->conds = list;
    if (copy == NULL || list == NULL) {
        free(copy);
        hc_cond_free(cond);
        goto no_memory;
    }
    list[h->nconds].name = copy;
    list[h->nconds].cond = cond;
    h->nconds++;
    return 0;

no_memory:
    snprintf(err, errsize, "out of memory");
    return -1;
}

int health_define_template(struct config *c, const char *name, int argc,
                           char **argv, char *err, size_t errsize)
{
    struct health_config *h = health_of(c);
    struct member_hc hc;
    struct hc_template *list;
    const char *expected;
    char *copy;
    int i;

    if (h == NULL)
        goto no_memory;
    if (!valid_name(name)) {
        snprintf(err, errsize, "expected a name without spaces or quotes, "
                 "found '%s'", name);
        return -1;
    }
    if (find_template(h, name) != NULL) {
        snprintf(err, errsize, "template '%s' is already defined", name);
        return -1;
    }

    memset(&hc, 0, sizeof(hc));
    for (i = 0; i < argc; i++) {
        char key[32];
        const char *eq = strchr(argv[i], '=');
        size_t klen = eq ? (size_t)(eq - argv[i]) : 0;

        if (eq == NULL || klen == 0 || klen >= sizeof(key)) {
            snprintf(err, errsize, "expected key=value, found '%s'",
                     argv[i]);
            goto free_hc;
        }
        memcpy(key, argv[i], klen);
        key[klen] = '\0';
        if (!health_is_param(key)) {
            snprintf(err, errsize, "'%s' is not a health check parameter "
                     "(expected hcmethod, hcuri, hcinterval, hcpasses, "
                     "hcfails, hcexpr, hctemplate or slowstart)", key);
            goto free_hc;
        }
        expected = health_param(c, &hc, key, eq + 1);
        if (expected == health_out_of_memory)
            goto oom_hc;
        if (expected != NULL) {
            snprintf(err, errsize, "bad value '%s' for %s: expected %s",
                     eq + 1, key, expected);
            goto free_hc;
        }
    }

    copy = strdup(name);
    list = realloc(h->templates, (h->ntemplates + 1) * sizeof(*list));
    if (list != NULL)
        h->templates = list;
    if (copy == NULL || list == NULL) {
        free(copy);
        goto oom_hc;
    }
    list[h->ntemplates].name = copy;
    list[h->ntemplates].hc = hc;
    h->ntemplates++;
    return 0;

oom_hc:
    member_hc_free(&hc);
no_memory:
    snprintf(err, errsize, "out of memory");
    return -1;
free_hc:
    member_hc_free(&hc);
    return -1;
}

static int finish_member(struct member *m, const struct balancer *b)
{
    static const struct member_hc defaults = {
        .set = ~0u, .method = HC_METHOD_NONE,
        .interval_ms = HC_DEFAULT_INTERVAL_MS, .passes = 1, .fails = 1,
    };
    unsigned missing = ~m->hc.set;

    if (copy_set(&m->hc, &b->hc, missing) != NULL)
        return -1;
    missing = ~m->hc.set & ~(HC_SET_URI | HC_SET_EXPR);
    copy_set(&m->hc, &defaults, missing);
    m->hc.set = ~0u;
    return 0;
}

int health_config_finish(struct config *c, char *err, size_t errsize)
{
    size_t i, j;

    if (health_of(c) == NULL)
        goto no_memory;
    for (i = 0; i < c->nbalancers; i++) {
        struct balancer *b = c->balancers[i];

        for (j = 0; j < b->nmembers; j++)
            if (finish_member(b->members[j], b) < 0)
                goto no_memory;
    }
    return 0;

no_memory:
    snprintf(err, errsize, "out of memory");
    return -1;
}

/* ==================================================================== */
/* Slow start                                                            */

int64_t health_effective_factor(struct member *m, int64_t lf)
{
    int64_t since = atomic_load(&m->up_since_ms);
    int64_t window = m->hc.slowstart_ms, elapsed, f;

    if (since == 0 || window <= 0)
        return lf;
    elapsed = balancer_now_ms() - since;
    if (elapsed < 0 || elapsed >= window) {
        atomic_compare_exchange_strong(&m->up_since_ms, &since, 0);
        return lf;
    }
    /* 10% at once, then linearly up to the full factor. */
    f = lf * (10 + 90 * elapsed / window) / 100;
    return f > 0 ? f : 1;
}

void health_member_up(struct member *m, int64_t now_ms)
{
    if (m->hc.slowstart_ms > 0)
        atomic_store(&m->up_since_ms, now_ms > 0 ? now_ms : 1);
}

/* ==================================================================== */
/* Checks                                                                */

#define POLL_MS         200     /* passive failures are looked at */
#define RESPONSE_MAX    512     /* enough for a status line */

enum check_state { CHECK_IDLE, CHECK_CONNECTING, CHECK_SENDING,
                   CHECK_READING };

struct hc_check {
    struct loop_watch watch;        /* first: the event's container */
    struct health_thread *thread;
    struct member *m;
    struct loop_timer timer;        /* next check, or the deadline */
    enum check_state state;
    int64_t started_ms;
    char *request;
    size_t request_len, sent;
    char response[RESPONSE_MAX];
    size_t response_len;
};

struct health_thread {
    struct loop *loop;
    const struct config *config;
    int index;
    bool assigned;
    bool stopped;
    struct hc_check *checks;
    size_t nchecks;
    struct loop_timer poll;         /* first turn, then passive signals */
};

static struct hc_check *check_of_timer(struct loop_timer *t)
{
    return (struct hc_check *)((char *)t - offsetof(struct hc_check,
                                                      timer));
}

static size_t usable_left(const struct member *m, int64_t now)
{
    return m->balancer ? balancer_count_usable(m->balancer, now) : 0;
}

static const char *balancer_name(const struct member *m)
{
    return m->balancer ? m->balancer->name : "(none)";
}

/* "GET /health" or "TCP connect", for log lines. */
static void describe(const struct member *m, char *buf, size_t size)
{
    const char *uri = m->hc.uri ? m->hc.uri : "";

    if (m->hc.method == HC_METHOD_TCP)
        snprintf(buf, size, "TCP connect");
    else
        snprintf(buf, size, "%s %s%s", hc_method_name(m->hc.method),
                 m->path, m->path[0] == '\0' && uri[0] == '\0' ? "/" : uri);
}

static void check_close(struct hc_check *k)
{
    if (k->watch.fd >= 0) {
        loop_del(k->thread->loop, &k->watch);
        close(k->watch.fd);
        k->watch.fd = -1;
    }
    k->state = CHECK_IDLE;
}

static void schedule_next(struct hc_check *k, int64_t now)
{
    int64_t next = k->started_ms + k->m->hc.interval_ms;

    if (next < now + 1)
        next = now + 1;
    loop_timer_set(k->thread->loop, &k->timer, next);
}

static void record_pass(struct hc_check *k, int status, int64_t now)
{
    struct member *m = k->m;
    char what[160], detail[32];
    unsigned old;
    int passes;

    atomic_store(&m->hc_last_status, status);
    atomic_store(&m->hc_last_check_ms, now);
    atomic_store(&m->hc_last_cause, "ok");
    atomic_store(&m->hc_consecutive_fails, 0);
    passes = atomic_fetch_add(&m->hc_consecutive_passes, 1) + 1;
    if (passes < m->hc.passes)
        return;

    old = atomic_fetch_and(&m->status, ~(MEMBER_HC_FAILED
                                         | MEMBER_IN_ERROR));
    if (!(old & (MEMBER_HC_FAILED | MEMBER_IN_ERROR)))
        return;
    health_member_up(m, now);

    describe(m, what, sizeof(what));
    if (status > 0)
        snprintf(detail, sizeof(detail), "status %d", status);
    else
        snprintf(detail, sizeof(detail), "connected");
    log_msg(LOG_LEVEL_WARN, "health", "member %s in %s is back in "
            "rotation: %d health check%s passed (%s: %s), was %s; "
            "%zu of %zu members usable", m->name, balancer_name(m), passes,
            passes == 1 ? "" : "s", what, detail,
            (old & MEMBER_HC_FAILED) ? "failing its checks" : "in error",
            usable_left(m, now), m->balancer ? m->balancer->nmembers : 1);
}

static void record_fail(struct hc_check *k, const char *cause, int status,
                        int64_t now)
{
    struct member *m = k->m;
    char what[160], detail[160];
    unsigned old;
    int fails;

    atomic_store(&m->hc_last_status, status);
    atomic_store(&m->hc_last_check_ms, now);
    atomic_store(&m->hc_last_cause, cause);
    atomic_store(&m->hc_consecutive_passes, 0);
    fails = atomic_fetch_add(&m->hc_consecutive_fails, 1) + 1;
    if (fails < m->hc.fails)
        return;

    old = atomic_fetch_or(&m->status, MEMBER_HC_FAILED);
    if (old & MEMBER_HC_FAILED)
        return;
    atomic_fetch_add(&m->down_gen, 1);
    atomic_store(&m->up_since_ms, 0);

    describe(m, what, sizeof(what));
    if (status > 0 && m->hc.cond != NULL)
        snprintf(detail, sizeof(detail), "status %d failed hcexpr %s",
                 status, m->hc.expr);
    else if (status > 0)
        snprintf(detail, sizeof(detail), "status %d (expected 2xx or 3xx)",
                 status);
    else
        snprintf(detail, sizeof(detail), "%s", cause);
    log_msg(LOG_LEVEL_ERR, "health", "member %s in %s failed %d health "
            "check%s (%s: %s): out of rotation; %zu of %zu members usable",
            m->name, balancer_name(m), fails, fails == 1 ? "" : "s", what,
            detail, usable_left(m, now),
            m->balancer ? m->balancer->nmembers : 1);
}

static void check_done(struct hc_check *k, bool ok, const char *cause,
                       int status)
{
    int64_t now = loop_now(k->thread->loop);

    check_close(k);
    loop_timer_cancel(k->thread->loop, &k->timer);
    if (ok)
        record_pass(k, status, now);
    else
        record_fail(k, cause, status, now);
    if (!k->thread->stopped)
        schedule_next(k, now);
}

static const char *errno_cause(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return "connection refused";
    case ECONNRESET:
    case EPIPE:
        return "connection reset";
    case ETIMEDOUT:
        return "timeout";
    case EHOSTUNREACH:
    case ENETUNREACH:
        return "host unreachable";
    default:
        return "connection failed";
    }
}

/* "HTTP/1.x NNN" at the start of the response; 0 while incomplete, -1
 * when it is not a status line. */
static int parse_status(const char *r, size_t len)
{
    const char *nl = memchr(r, '\n', len);

    if (nl == NULL)
        return len >= RESPONSE_MAX ? -1 : 0;
    if (nl - r < 12 || memcmp(r, "HTTP/1.", 7) != 0 || r[8] != ' ')
        return -1;
    if (r[9] < '1' || r[9] > '5' || r[10] < '0' || r[10] > '9' ||
        r[11] < '0' || r[11] > '9')
        return -1;
    return (r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0');
}

static void check_read(struct hc_check *k)
{
    int status;

    for (;;) {
        ssize_t n = recv(k->watch.fd, k->response + k->response_len,
                         RESPONSE_MAX - k->response_len, 0);

        if (n > 0) {
            k->response_len += (size_t)n;
            status = parse_status(k->response, k->response_len);
            if (status < 0) {
                check_done(k, false, "bad response", 0);
                return;
            }
            if (status > 0) {
                bool ok = hc_cond_eval(k->m->hc.cond, status);

                check_done(k, ok, ok ? "ok" : k->m->hc.cond
                           ? "expression failed" : "unexpected status",
                           status);
                return;
            }
            continue;
        }
        if (n == 0) {
            check_done(k, false, "closed without a response", 0);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            check_done(k, false, errno_cause(errno), 0);
        return;
    }
}

static void check_send(struct hc_check *k)
{
    while (k->sent < k->request_len) {
        ssize_t n = send(k->watch.fd, k->request + k->sent,
                         k->request_len - k->sent, MSG_NOSIGNAL);

        if (n > 0) {
            k->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        check_done(k, false, errno_cause(errno), 0);
        return;
    }
    k->state = CHECK_READING;
    check_read(k);
}

static void on_check_event(struct loop *l, struct loop_watch *w,
                           uint32_t events)
{
    struct hc_check *k = (struct hc_check *)w;
    int err = 0;
    socklen_t len = sizeof(err);

    switch (k->state) {
    case CHECK_CONNECTING:
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            check_done(k, false, errno_cause(err), 0);
            return;
        }
        if (k->m->hc.method == HC_METHOD_TCP) {
            check_done(k, true, "ok", 0);
            return;
        }
        k->state = CHECK_SENDING;
        check_send(k);
        return;
    case CHECK_SENDING:
        check_send(k);
        return;
    case CHECK_READING:
        check_read(k);
        return;
    case CHECK_IDLE:
        return;
    }
}

/* The whole check is bounded by the member's timeout (connectiontimeout
 * for the connect, else timeout=, else ProxyTimeout) or hcinterval,
 * whichever is less. */
static int check_timeout_ms(const struct hc_check *k)
{
    const struct member *m = k->m;
    int t = m->connect_timeout_ms;

    if (t <= 0)
        t = m->timeout_ms;
    if (t <= 0)
        t = k->thread->config->proxy_timeout_ms;
    if (t <= 0 || t > m->hc.interval_ms)
        t = m->hc.interval_ms;
    return t;
}

static void check_start(struct hc_check *k)
{
    struct loop *l = k->thread->loop;
    struct member *m = k->m;
    int fd;

    k->started_ms = loop_now(l);
    k->response_len = 0;
    k->sent = 0;
    fd = socket(m->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK
                | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        check_done(k, false, "no socket", 0);
        return;
    }
    if (connect(fd, (const struct sockaddr *)&m->addr, m->addrlen) < 0 &&
        errno != EINPROGRESS) {
        int err = errno;

        close(fd);
        check_done(k, false, errno_cause(err), 0);
        return;
    }
    k->watch.fd = fd;
    k->watch.on_event = on_check_event;
    if (loop_add(l, &k->watch) < 0) {
        close(fd);
        k->watch.fd = -1;
        check_done(k, false, "no socket", 0);
        return;
    }
    k->state = CHECK_CONNECTING;
    loop_timer_set(l, &k->timer, k->started_ms + check_timeout_ms(k));
}

static void on_check_timer(struct loop *l, struct loop_timer *t)
{
    struct hc_check *k = check_of_timer(t);

    if (k->thread->stopped)
        return;
    if (k->state == CHECK_IDLE)
        check_start(k);
    else
        check_done(k, false, "timeout", 0);
}

/* The request line and head of an HTTP check, made once. */
static int build_request(struct hc_check *k)
{
    const struct member *m = k->m;
    const char *uri = m->hc.uri ? m->hc.uri : "";
    const char *method;
    bool v11 = false;
    int n;

    switch (m->hc.method) {
    case HC_METHOD_TCP:
        return 0;
    case HC_METHOD_OPTIONS11:
        v11 = true;
        /* fall through */
    case HC_METHOD_OPTIONS:
        method = "OPTIONS";
        break;
    case HC_METHOD_HEAD11:
        v11 = true;
        /* fall through */
    case HC_METHOD_HEAD:
        method = "HEAD";
        break;
    case HC_METHOD_GET11:
        v11 = true;
        /* fall through */
    default:
        method = "GET";
        break;
    }
    if (m->path[0] == '\0' && uri[0] == '\0')
        uri = "/";
    n = asprintf(&k->request, "%s %s%s HTTP/1.%d\r\nHost: %s\r\n"
                 "User-Agent: balancer-health-check\r\nConnection: close"
                 "\r\n\r\n", method, m->path, uri, v11 ? 1 : 0,
                 m->hostport);
    if (n < 0) {
        k->request = NULL;
        return -1;
    }
    k->request_len = (size_t)n;
    return 0;
}

/* Share out the members: member number k (across balancers) belongs to
 * thread k mod threads. */
static int assign(struct health_thread *t)
{
    const struct config *c = t->config;
    int nthreads = atomic_load(&c->health->nthreads);
    size_t i, j, seq = 0, n = 0;

    for (i = 0; i < c->nbalancers; i++)
        n += c->balancers[i]->nmembers;
    t->checks = calloc(n + 1, sizeof(*t->checks));
    if (t->checks == NULL)
        return -1;

    for (i = 0; i < c->nbalancers; i++) {
        struct balancer *b = c->balancers[i];

        for (j = 0; j < b->nmembers; j++, seq++) {
            struct member *m = b->members[j];
            struct hc_check *k = &t->checks[t->nchecks];

            if (m->hc.method == HC_METHOD_NONE ||
                (int)(seq % (size_t)nthreads) != t->index)
                continue;
            k->thread = t;
            k->m = m;
            k->watch.fd = -1;
            k->timer.on_expire = on_check_timer;
            if (build_request(k) < 0)
                return -1;
            t->nchecks++;
            loop_timer_set(t->loop, &k->timer, loop_now(t->loop));
        }
    }
    return 0;
}

/* Passive failures: check the member now, counting from zero passes. */
static void poll_urgent(struct health_thread *t)
{
    size_t i;

    for (i = 0; i < t->nchecks; i++) {
        struct hc_check *k = &t->checks[i];

        if (!atomic_exchange(&k->m->hc_urgent, false))
            continue;
        atomic_store(&k->m->hc_consecutive_passes, 0);
        if (k->state == CHECK_IDLE)
            loop_timer_set(t->loop, &k->timer, loop_now(t->loop));
    }
}

static void on_poll(struct loop *l, struct loop_timer *timer)
{
    struct health_thread *t = (struct health_thread *)
        ((char *)timer - offsetof(struct health_thread, poll));

    if (t->stopped)
        return;
    if (!t->assigned) {
        t->assigned = true;
        if (assign(t) < 0) {
            log_msg(LOG_LEVEL_ERR, "health", "worker %d: out of memory: "
                    "health checks not started", t->index);
            return;
        }
    }
    if (t->nchecks == 0)
        return;
    poll_urgent(t);
    loop_timer_set(l, timer, loop_now(l) + POLL_MS);
}

struct health_thread *health_thread_create(struct loop *l,
                                           const struct config *c,
                                           int index)
{
    struct health_thread *t;

    if (c->health == NULL)
        return NULL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->loop = l;
    t->config = c;
    t->index = index;
    if (!atomic_load(&c->health->fixed))
        atomic_fetch_add(&c->health->nthreads, 1);
    t->poll.on_expire = on_poll;
    loop_timer_set(l, &t->poll, loop_now(l));
    return t;
}

void health_set_threads(const struct config *c, int nthreads)
{
    if (c->health == NULL)
        return;
    atomic_store(&c->health->nthreads, nthreads);
    atomic_store(&c->health->fixed, true);
}

void health_thread_stop(struct health_thread *t)
{
    size_t i;

    if (t == NULL || t->stopped)
        return;
    t->stopped = true;
    loop_timer_cancel(t->loop, &t->poll);
    for (i = 0; i < t->nchecks; i++) {
        check_close(&t->checks[i]);
        loop_timer_cancel(t->loop, &t->checks[i].timer);
    }
}

void health_thread_free(struct health_thread *t)
{
    size_t i;

    if (t == NULL)
        return;
    health_thread_stop(t);
    for (i = 0; i < t->nchecks; i++)
        free(t->checks[i].request);
    free(t->checks);
    free(t);
}
