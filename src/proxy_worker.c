/*
 * proxy_worker.c - a worker thread's listening sockets, accepting,
 * the client connection free list, and graceful shutdown.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "proxy.h"
#include "proxy_conn.h"
#include "tls.h"

#define LISTEN_BACKLOG 4096
#define ACCEPT_RETRY_MS 100

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void addr_ip(const struct sockaddr_storage *ss, char *buf,
                    size_t size)
{
    const void *a = ss->ss_family == AF_INET6
        ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
        : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

    if (inet_ntop(ss->ss_family, a, buf, (socklen_t)size) == NULL)
        snprintf(buf, size, "?");
}

/* ---- connections ----------------------------------------------------- */

static struct conn *conn_alloc(struct proxy_worker *w)
{
    struct conn *c = w->free_conns;

    if (c != NULL)
        w->free_conns = c->next;
    else
        c = malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->worker = w;
    return c;
}

void conn_free(struct conn *c)
{
    struct proxy_worker *w = c->worker;
    struct loop *l = w->loop;

    if (c->be != NULL) {
        pool_release(c->pool, c->be, false);
        c->be = NULL;
    }
    route_busy(c, false);
    pool_cancel_wait(c->pool, &c->waiter);
    if (c->on_ready) {
        struct conn **pp = &w->ready;

        while (*pp != NULL && *pp != c)
            pp = &(*pp)->ready_next;
        if (*pp == c)
            *pp = c->ready_next;
        c->on_ready = false;
    }
    if (c->on_flush) {
        struct conn **pp = &w->flush;

        while (*pp != NULL && *pp != c)
            pp = &(*pp)->flush_next;
        if (*pp == c) {
            *pp = c->flush_next;
            if (w->flush_tail == &c->flush_next)
                w->flush_tail = pp;
        }
        c->on_flush = false;
    }
    conn_gen_detach(c);
    loop_timer_cancel(l, &c->timer);
    loop_del(l, &c->watch);
    tls_session_free(c->tls);
    c->tls = NULL;
    close(c->watch.fd);

    loop_buf_put(l, c->in);
    loop_buf_put(l, (char *)c->msg);
    loop_buf_put(l, c->bin);
    loop_buf_put(l, c->bhead);
    loop_buf_put(l, c->ohead);
    free(c->local_body);
    c->local_body = NULL;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    w->nconns--;
    limits_client_leave();
    if (w->accept_paused && !w->stopping)
        loop_timer_set(l, &w->sweep, loop_now(l));     /* accept again */

    c->next = w->free_conns;
    w->free_conns = c;
}

static void accept_one(struct listener *li, int fd,
                       const struct sockaddr_storage *peer)
{
    struct proxy_worker *w = li->worker;
    struct conn *c = conn_alloc(w);
    int one = 1;

    if (c == NULL) {
        close(fd);
        limits_client_leave();
        return;
    }
    conn_gen_attach(c);     /* first: the listener follows it */
    c->watch.fd = fd;
    c->local_port = li->port;
    c->client_port = addr_port(peer);
    addr_ip(peer, c->client_ip, sizeof(c->client_ip));
    snprintf(c->client_text, sizeof(c->client_text), "%s:%u",
             c->client_ip, c->client_port);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->vhost = li->config->vhost;
    if (c->vhost != NULL && c->vhost->tls.context != NULL)
        c->tls = tls_session_new(c->vhost->tls.context, fd);

    conn_start(c);
    if ((c->tls == NULL && c->vhost != NULL &&
         c->vhost->tls.context != NULL) || loop_add(w->loop, &c->watch) < 0) {
        loop_timer_cancel(w->loop, &c->timer);
        conn_gen_detach(c);
        tls_session_free(c->tls);
        c->tls = NULL;
        close(fd);
        limits_client_leave();
        c->next = w->free_conns;
        w->free_conns = c;
        return;
    }

    c->prev = NULL;
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
}

/* Stop accepting for a moment: new connections wait in the listen
 * queue, and the sweep timer (or a connection closing) retries. */
static void accept_pause(struct proxy_worker *w)
{
    w->accept_paused = true;
    loop_timer_set(w->loop, &w->sweep, loop_now(w->loop) + ACCEPT_RETRY_MS);
}

static void accept_all(struct listener *li)
{
    struct proxy_worker *w = li->worker;

    while (!w->stopping && !w->accept_paused) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd;

        if (!limits_client_enter(w->config->client.max_clients)) {
            accept_pause(w);    /* MaxClients connections are open */
            return;
        }
        fd = accept4(li->watch.fd, (struct sockaddr *)&peer, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(li, fd, &peer);
            continue;
        }
        limits_client_leave();
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
            errno == ENOBUFS) {
            /* Retry from the timer; log once a second at most. */
            int64_t now = loop_now(w->loop);

            if (now - w->accept_error_logged_ms >= 1000) {
                log_msg(LOG_LEVEL_ERR, "core", "accept on %s: %s; new "
                        "connections wait", li->config->text,
                        strerror(errno));
                w->accept_error_logged_ms = now;
            }
            accept_pause(w);
        }
        return;
    }
}

static void on_accept(struct loop *l, struct loop_watch *watch,
                      uint32_t events)
{
    accept_all((struct listener *)watch);
}

/* ---- listeners ------------------------------------------------------- */

int listener_open(struct listener *li, char *err, size_t errsize)
{
    const struct listener_config *lc = li->config;
    int one = 1;
    int fd = socket(lc->addr.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto close_fd;
    if (bind(fd, (const struct sockaddr *)&lc->addr, lc->addrlen) < 0)
        goto close_fd;
    if (listen(fd, LISTEN_BACKLOG) < 0)
        goto close_fd;

    li->watch.fd = fd;
    li->watch.on_event = on_accept;
    li->port = addr_port(&lc->addr);
    return 0;

close_fd:
    close(fd);
fail:
    snprintf(err, errsize, "Listen %s: %s", lc->text, strerror(errno));
    return -1;
}

/*
 * SO_REUSEPORT would let a second process share the port silently (and
 * take half the connections). Bind once without it first, as Apache
 * would, so that a port in use is an error at start-up.
 */
static int listener_probe(const struct listener_config *lc, char *err,
                          size_t errsize)
{
    int one = 1;
    int fd = socket(lc->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&lc->addr, lc->addrlen) < 0)
        goto close_fd;
    close(fd);
    return 0;

close_fd:
    close(fd);
fail:
    snprintf(err, errsize, "Listen %s: %s", lc->text, strerror(errno));
    return -1;
}

static void listeners_close(struct proxy_worker *w)
{
    size_t i;

    for (i = 0; i < w->nlisteners; i++) {
        listener_free(w, w->listeners[i]);
        w->listeners[i] = NULL;
    }
    w->nlisteners = 0;
}

/* ---- the worker ------------------------------------------------------ */

static void maybe_done(struct proxy_worker *w)
{
    if (w->stopping && w->nconns == 0)
        loop_stop(w->loop);
}

static void on_wake(struct loop *l, void *arg)
{
    struct proxy_worker *w = arg;
    struct conn *c, *next;

    worker_gen_update(w);
    if (!atomic_load(&w->shutdown_requested) || w->stopping)
        return;
    w->stopping = true;
    health_thread_stop(w->health);
    listeners_close(w);
    worker_gen_close_idle(w);
    for (c = w->conns; c != NULL; c = next) {
        next = c->next;
        conn_close_if_idle(c);
    }
    maybe_done(w);
}

/* The writes held while events or timers ran go out (proxy.c). */
static void on_events(struct loop *l, void *arg)
{
    struct proxy_worker *w = arg;

    do {
        conn_run_ready(w);
        conn_flush_held(w);
    } while (w->ready != NULL || w->flush != NULL);
}

static void on_turn(struct loop *l, void *arg)
{
    on_events(l, arg);
    log_flush();
    worker_gen_collect(arg);
    maybe_done(arg);
}

/* Once a second: pooled connections past their ttl; accept again after
 * running out of file descriptors. */
static void on_sweep(struct loop *l, struct loop_timer *t)
{
    struct proxy_worker *w = (struct proxy_worker *)
        ((char *)t - offsetof(struct proxy_worker, sweep));
    size_t i;

    worker_gen_sweep(w);
    if (w->accept_paused && !w->stopping) {
        w->accept_paused = false;
        for (i = 0; i < w->nlisteners; i++)
            accept_all(w->listeners[i]);
    }
    if (!loop_timer_armed(t))
        loop_timer_set(l, t, loop_now(l) + 1000);
}

struct proxy_worker *proxy_worker_create(const struct config *c, int index,
                                         char *err, size_t errsize)
{
    struct proxy_worker *w = calloc(1, sizeof(*w));
    size_t i;

    if (w == NULL)
        goto no_memory;
    w->index = index;
    w->loop = loop_create(on_wake, on_turn, w);
    if (w->loop == NULL)
        goto no_memory;
    loop_set_on_events(w->loop, on_events);
    if (worker_gen_init(w) < 0)
        goto no_memory;

    w->listeners = calloc(c->nlisteners + 1, sizeof(*w->listeners));
    if (w->listeners == NULL)
        goto no_memory;
    for (i = 0; i < c->nlisteners; i++) {
        if (index == 0 && listener_probe(&c->listeners[i], err,
                                         errsize) < 0)
            goto free_worker;
        w->listeners[i] = listener_new(w, &c->listeners[i], err, errsize);
        if (w->listeners[i] == NULL)
            goto free_worker;
        w->nlisteners++;
    }

    w->health = health_thread_create(w->loop, c, index);
    if (w->health == NULL)
        goto no_memory;

    w->sweep.on_expire = on_sweep;
    loop_timer_set(w->loop, &w->sweep, loop_now(w->loop) + 1000);
    return w;

no_memory:
    snprintf(err, errsize, "worker %d: out of memory", index);
free_worker:
    proxy_worker_free(w);
    return NULL;
}

int proxy_worker_run(struct proxy_worker *w)
{
    int rc = loop_run(w->loop);

    worker_gen_close_idle(w);
    log_flush();
    return rc;
}

void proxy_worker_shutdown(struct proxy_worker *w)
{
    atomic_store(&w->shutdown_requested, true);
    loop_wake(w->loop);
}

void proxy_worker_free(struct proxy_worker *w)
{
    struct conn *c;

    if (w == NULL)
        return;
    while (w->conns != NULL)
        conn_free(w->conns);
    while ((c = w->free_conns) != NULL) {
        w->free_conns = c->next;
        free(c);
    }
    if (w->listeners != NULL && w->loop != NULL)
        listeners_close(w);
    free(w->listeners);
    health_thread_free(w->health);
    if (w->loop != NULL)
        loop_timer_cancel(w->loop, &w->sweep);
    if (w->gens != NULL)
        worker_gen_free_all(w);
    loop_free(w->loop);
    free(w);
}
