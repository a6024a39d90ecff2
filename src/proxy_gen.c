/*
 * proxy_gen.c - a worker thread's hold on configuration generations
 * (reload.h): which generations its connections use, a back-end pool for
 * each, and its listening sockets following the current configuration.
 *
 * A connection takes the current generation when it is accepted and again
 * before each new request head (conn_gen_refresh: one atomic load when
 * nothing changed), so a request runs start to end on one configuration.
 * The worker holds one reference per generation some connection of it
 * uses and gives it back at the end of a loop turn, after its access log
 * lines were written (worker_gen_collect).
 *
 * Pools are per generation: an old generation's idle back-end connections
 * are closed when its last request is done (dropping idle ones is cheap;
 * the new generation opens its own).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "proxy.h"
#include "proxy_conn.h"
#include "reload.h"

struct worker_gen {
    struct generation *gen;
    struct pool *pool;
    size_t users;                   /* connections using it */
    struct worker_gen *next;        /* older */
};

static struct worker_gen *worker_gen_new(struct proxy_worker *w,
                                         struct generation *g)
{
    struct worker_gen *wg = calloc(1, sizeof(*wg));

    if (wg == NULL)
        return NULL;
    wg->pool = pool_create(w->loop, g->config, conn_on_backend_event,
                           conn_on_pool_free);
    if (wg->pool == NULL) {
        free(wg);
        return NULL;
    }
    wg->gen = g;
    wg->next = w->gens;
    w->gens = wg;
    w->config = g->config;
    w->pool = wg->pool;
    return wg;
}

/* Close its idle back-end connections, free it, drop the reference.
 * The caller flushed this thread's access log lines. */
static void worker_gen_free(struct worker_gen *wg)
{
    pool_free(wg->pool);
    generation_release(wg->gen);
    free(wg);
}

int worker_gen_init(struct proxy_worker *w)
{
    struct generation *g = generation_acquire();

    if (g == NULL)
        return -1;
    if (worker_gen_new(w, g) == NULL) {
        generation_release(g);
        return -1;
    }
    return 0;
}

static void listeners_follow(struct proxy_worker *w,
                             const struct config *c);
static void health_follow(struct proxy_worker *w, const struct config *c);

/*
 * The worker's newest generation, after taking the current one when it
 * is newer: then its Listen addresses and health checks follow at once,
 * so that what a listener points into is always the newest generation's.
 * When that fails (no memory) the worker stays on its own.
 */
static struct worker_gen *adopt_current(struct proxy_worker *w)
{
    struct generation *g;

    if (w->stopping || generation_peek() == w->gens->gen ||
        generation_peek() == NULL)
        return w->gens;
    g = generation_acquire();
    if (g == NULL || g == w->gens->gen) {
        generation_release(g);
        return w->gens;
    }
    if (worker_gen_new(w, g) == NULL) {
        log_msg(LOG_LEVEL_ERR, "core", "worker %d: out of memory taking "
                "configuration generation %llu; serving with the previous "
                "one", w->index, (unsigned long long)g->number);
        generation_release(g);
        return w->gens;
    }
    listeners_follow(w, g->config);
    health_follow(w, g->config);
    return w->gens;
}

static void conn_gen_set(struct conn *c, struct worker_gen *wg)
{
    c->gen = wg;
    wg->users++;
    c->config = wg->gen->config;
    c->pool = wg->pool;
}

void conn_gen_attach(struct conn *c)
{
    conn_gen_set(c, adopt_current(c->worker));
}

void conn_gen_detach(struct conn *c)
{
    if (c->gen == NULL)
        return;
    c->gen->users--;
    c->gen = NULL;
}

static bool is_any_address(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(
            &((const struct sockaddr_in6 *)ss)->sin6_addr);
    return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
           htonl(INADDR_ANY);
}

static bool same_ip(const struct sockaddr_storage *a,
                    const struct sockaddr_storage *b)
{
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ((const struct sockaddr_in6 *)ss)->sin6_port;
    return ((const struct sockaddr_in *)ss)->sin_port;
}

/* The Listen of cf that accepted c (by c's local address), or NULL when
 * cf no longer listens there. */
static const struct listener_config *listener_of(const struct conn *c,
                                                 const struct config *cf)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);
    size_t i;

    if (getsockname(c->watch.fd, (struct sockaddr *)&local, &len) < 0)
        return NULL;
    for (i = 0; i < cf->nlisteners; i++) {
        const struct sockaddr_storage *a = &cf->listeners[i].addr;

        if (a->ss_family == local.ss_family &&
            port_of(a) == port_of(&local) &&
            (is_any_address(a) || same_ip(a, &local)))
            return &cf->listeners[i];
    }
    return NULL;
}

void conn_gen_refresh(struct conn *c)
{
    const struct listener_config *lc;
    struct worker_gen *wg;

    if (c->gen == NULL || generation_peek() == c->gen->gen)
        return;
    if (c->be != NULL || c->waiter.queued || c->member_busy)
        return;         /* still bound to a member of the old one */
    wg = adopt_current(c->worker);
    if (wg == c->gen)
        return;
    lc = listener_of(c, wg->gen->config);
    if (lc == NULL) {
        /* Its Listen was removed: it ends on the old one, after the
         * request it is on, so that a client cannot keep the old
         * configuration (and its members) alive. */
        c->listener_gone = true;
        return;
    }

    /* Nothing of the previous request may point into the old one. */
    c->pass = NULL;
    c->balancer = NULL;
    c->member = NULL;
    c->busy_member = NULL;
    c->route_member = NULL;
    c->failover_from = NULL;
    c->ntried = 0;
    c->vhost = lc->vhost;
    conn_gen_detach(c);
    conn_gen_set(c, wg);
}

/* ---- listeners ------------------------------------------------------- */

struct listener *listener_new(struct proxy_worker *w,
                              const struct listener_config *lc, char *err,
                              size_t errsize)
{
    struct listener *li = calloc(1, sizeof(*li));

    if (li == NULL)
        goto no_memory;
    li->worker = w;
    li->own = *lc;
    li->own.text = strdup(lc->text);
    li->config = &li->own;
    li->watch.fd = -1;
    if (li->own.text == NULL)
        goto no_memory;
    if (listener_open(li, err, errsize) < 0)
        goto free_listener;
    if (loop_add(w->loop, &li->watch) < 0) {
        snprintf(err, errsize, "Listen %s: epoll: %s", lc->text,
                 strerror(errno));
        goto free_listener;
    }
    return li;

no_memory:
    snprintf(err, errsize, "Listen %s: out of memory", lc->text);
free_listener:
    listener_free(w, li);
    return NULL;
}

void listener_free(struct proxy_worker *w, struct listener *li)
{
    if (li == NULL)
        return;
    if (li->watch.fd >= 0) {
        loop_del(w->loop, &li->watch);
        close(li->watch.fd);
    }
    free(li->own.text);
    free(li);
}

static bool same_address(const struct listener_config *a,
                         const struct listener_config *b)
{
    return a->addrlen == b->addrlen &&
           memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* The worker's open listener for lc's address, taken out of its list. */
static struct listener *take_listener(struct proxy_worker *w,
                                      const struct listener_config *lc)
{
    size_t i;

    for (i = 0; i < w->nlisteners; i++) {
        struct listener *li = w->listeners[i];

        if (li != NULL && same_address(li->config, lc)) {
            w->listeners[i] = NULL;
            return li;
        }
    }
    return NULL;
}

/*
 * Listen addresses that stay keep their sockets (never closed, so no
 * connection is refused during a reload); new ones are opened; removed
 * ones are closed: their connections already accepted finish.
 */
static void listeners_follow(struct proxy_worker *w, const struct config *c)
{
    struct listener **list = calloc(c->nlisteners + 1, sizeof(*list));
    char err[512];
    size_t i, n = 0;

    if (list == NULL) {
        log_msg(LOG_LEVEL_ERR, "core", "worker %d: out of memory: Listen "
                "addresses stay as they were", w->index);
        return;
    }
    for (i = 0; i < c->nlisteners; i++) {
        struct listener *li = take_listener(w, &c->listeners[i]);

        if (li != NULL) {
            char *text = li->own.text;     /* the socket stays */

            li->own = c->listeners[i];
            li->own.text = text;
        } else {
            li = listener_new(w, &c->listeners[i], err, sizeof(err));
            if (li == NULL)
                log_msg(LOG_LEVEL_ERR, "core", "worker %d: %s; not "
                        "accepting there", w->index, err);
            else if (w->index == 0)
                log_msg(LOG_LEVEL_NOTICE, "core", "Listen %s: new, "
                        "accepting", li->config->text);
        }
        if (li != NULL)
            list[n++] = li;
    }
    for (i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i] == NULL)
            continue;
        if (w->index == 0)
            log_msg(LOG_LEVEL_NOTICE, "core", "Listen %s: removed from "
                    "the configuration; closed, its connections finish",
                    w->listeners[i]->config->text);
        listener_free(w, w->listeners[i]);
    }
    free(w->listeners);
    w->listeners = list;
    w->nlisteners = n;
}

/* ---- the worker ------------------------------------------------------ */

/*
 * Health checks follow the new generation: its members are the ones to
 * check, and their health state came over with them (reload.c), so a
 * member that failed its checks stays out until a check passes.
 */
static void health_follow(struct proxy_worker *w, const struct config *c)
{
    struct health_thread *t = health_thread_create(w->loop, c, w->index);

    if (t == NULL) {
        log_msg(LOG_LEVEL_ERR, "health", "worker %d: out of memory: "
                "health checks stay on the previous configuration",
                w->index);
        return;
    }
    health_thread_free(w->health);
    w->health = t;
}

void worker_gen_update(struct proxy_worker *w)
{
    struct conn *c, *next;

    if (w->stopping || generation_peek() == w->gens->gen)
        return;
    adopt_current(w);
    for (c = w->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == CONN_HEAD && c->in_len == 0)
            conn_gen_refresh(c);
    }
}

void worker_gen_collect(struct proxy_worker *w)
{
    struct worker_gen **pp, *wg;

    if (w->gens == NULL)
        return;
    pp = &w->gens->next;
    while ((wg = *pp) != NULL) {
        if (wg->users > 0) {
            pp = &wg->next;
            continue;
        }
        *pp = wg->next;
        worker_gen_free(wg);
    }
}

void worker_gen_sweep(struct proxy_worker *w)
{
    struct worker_gen *wg;

    for (wg = w->gens; wg != NULL; wg = wg->next)
        pool_sweep(wg->pool);
}

void worker_gen_close_idle(struct proxy_worker *w)
{
    struct worker_gen *wg;

    for (wg = w->gens; wg != NULL; wg = wg->next)
        pool_close_idle(wg->pool);
}

void worker_gen_free_all(struct proxy_worker *w)
{
    struct worker_gen *wg;

    log_flush();
    while ((wg = w->gens) != NULL) {
        w->gens = wg->next;
        worker_gen_free(wg);
    }
    w->config = NULL;
    w->pool = NULL;
}

void proxy_worker_reload(struct proxy_worker *w)
{
    loop_wake(w->loop);
}
