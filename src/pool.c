/*
 * pool.c - per-thread, per-member keep-alive connections to back ends.
 */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define READ_EVENTS  (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define WRITE_EVENTS (EPOLLOUT | EPOLLHUP | EPOLLERR)

struct pool_slot {
    struct backend_conn *idle;      /* most recently used first */
    int nidle;
    int total;                      /* idle and in use */
    struct pool_waiter *waiters;    /* FIFO: first out at the head */
    struct pool_waiter *waiters_tail;
};

struct pool {
    struct loop *loop;
    const struct config *config;
    pool_event_fn on_event;
    pool_free_fn on_free;
    struct pool_slot *slots;
    size_t nslots;
    size_t *balancer_base;          /* first slot of each balancer */
    struct backend_conn *free_conns;
};

static struct pool_slot *slot_of(struct pool *p, const struct member *m)
{
    size_t i;

    for (i = 0; i < p->config->nbalancers; i++) {
        if (p->config->balancers[i] == m->balancer)
            return &p->slots[p->balancer_base[i] + (size_t)m->index];
    }
    return NULL;
}

struct pool *pool_create(struct loop *l, const struct config *c,
                         pool_event_fn on_event, pool_free_fn on_free)
{
    struct pool *p = calloc(1, sizeof(*p));
    size_t i, n = 0;

    if (p == NULL)
        return NULL;
    p->loop = l;
    p->config = c;
    p->on_event = on_event;
    p->on_free = on_free;

    p->balancer_base = calloc(c->nbalancers + 1, sizeof(size_t));
    if (p->balancer_base == NULL)
        goto free_pool;
    for (i = 0; i < c->nbalancers; i++) {
        p->balancer_base[i] = n;
        n += c->balancers[i]->nmembers;
    }

    p->nslots = n;
    p->slots = calloc(n + 1, sizeof(*p->slots));
    if (p->slots == NULL)
        goto free_base;
    return p;

free_base:
    free(p->balancer_base);
free_pool:
    free(p);
    return NULL;
}

static void waiter_unlink(struct pool_slot *s, struct pool_waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        s->waiters = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        s->waiters_tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

/* A connection of slot s became free: the first waiter may go. */
static void wake_waiter(struct pool *p, struct pool_slot *s)
{
    struct pool_waiter *w = s->waiters;

    if (w == NULL)
        return;
    waiter_unlink(s, w);
    p->on_free(w->owner);
}

static void conn_destroy(struct pool *p, struct backend_conn *b)
{
    struct pool_slot *s = slot_of(p, b->member);

    if (s != NULL) {
        s->total--;
        wake_waiter(p, s);
    }
    loop_del(p->loop, &b->watch);
    close(b->watch.fd);
    b->next = p->free_conns;
    p->free_conns = b;
}

static void idle_unlink(struct pool_slot *s, struct backend_conn *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        s->idle = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    b->next = b->prev = NULL;
    s->nidle--;
    stats_idle_add(&b->member->stats, -1);
}

void pool_close_idle(struct pool *p)
{
    size_t i;

    for (i = 0; i < p->nslots; i++) {
        struct pool_slot *s = &p->slots[i];

        while (s->idle != NULL) {
            struct backend_conn *b = s->idle;

            idle_unlink(s, b);
            conn_destroy(p, b);
        }
    }
}

void pool_free(struct pool *p)
{
    struct backend_conn *b;

    if (p == NULL)
        return;
    pool_close_idle(p);
    while ((b = p->free_conns) != NULL) {
        p->free_conns = b->next;
        free(b);
    }
    free(p->slots);
    free(p->balancer_base);
    free(p);
}

/* An event on a connection: its owner's, or, when idle, the back end
 * closing it (or sending what it must not): drop it. */
static void on_backend_event(struct loop *l, struct loop_watch *w,
                             uint32_t events)
{
    struct backend_conn *b = (struct backend_conn *)w;
    struct pool_slot *s;

    if (events & READ_EVENTS)
        b->readable = true;
    if (events & WRITE_EVENTS)
        b->writable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        b->rdhup = true;

    if (b->owner != NULL) {
        b->pool->on_event(b->owner, b, events);
        return;
    }
    if (!(events & READ_EVENTS))
        return;

    s = slot_of(b->pool, b->member);
    if (s != NULL)
        idle_unlink(s, b);
    log_msg(LOG_LEVEL_DEBUG, "proxy",
            "%s: idle keep-alive connection closed by the back end",
            b->member->name);
    conn_destroy(b->pool, b);
}

/* Past its ttl=, or opened before its member last went down (error or
 * failed health checks): a down member's connections are not reused. */
static bool expired(const struct backend_conn *b, int64_t now)
{
    int ttl = b->member->ttl_ms;

    if (b->down_gen != atomic_load(&b->member->down_gen))
        return true;
    return ttl > 0 && now - b->idle_since_ms >= ttl;
}

/* Peek without blocking: false when the back end has closed b (or sent
 * bytes nobody asked for). */
static bool still_alive(struct backend_conn *b)
{
    char c;
    ssize_t n = recv(b->watch.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static struct backend_conn *take_idle(struct pool *p, struct pool_slot *s,
                                      bool check_alive)
{
    int64_t now = loop_now(p->loop);

    while (s->idle != NULL) {
        struct backend_conn *b = s->idle;

        idle_unlink(s, b);
        if (!expired(b, now) && (!check_alive || still_alive(b)))
            return b;
        conn_destroy(p, b);
    }
    return NULL;
}

static int open_socket(const struct member *m)
{
    int one = 1;
    int fd = socket(m->addr.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (m->tcp_keepalive)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    return fd;
}

static struct backend_conn *conn_new(struct pool *p)
{
    struct backend_conn *b = p->free_conns;

    if (b != NULL)
        p->free_conns = b->next;
    else
        b = malloc(sizeof(*b));
    if (b != NULL)
        memset(b, 0, sizeof(*b));
    return b;
}

static enum pool_result connect_new(struct pool *p, struct pool_slot *s,
                                    struct member *m, void *owner,
                                    struct backend_conn **out)
{
    struct backend_conn *b;
    int fd, saved;

    fd = open_socket(m);
    if (fd < 0)
        return POOL_ERROR;

    if (connect(fd, (const struct sockaddr *)&m->addr, m->addrlen) < 0 &&
        errno != EINPROGRESS)
        goto close_fd;

    b = conn_new(p);
    if (b == NULL) {
        errno = ENOMEM;
        goto close_fd;
    }
    b->watch.fd = fd;
    b->watch.on_event = on_backend_event;
    b->pool = p;
    b->member = m;
    b->owner = owner;
    b->connecting = true;
    b->down_gen = atomic_load(&m->down_gen);
    if (loop_add(p->loop, &b->watch) < 0) {
        saved = errno;
        b->next = p->free_conns;
        p->free_conns = b;
        errno = saved;
        goto close_fd;
    }
    s->total++;
    *out = b;
    return POOL_CONNECTING;

close_fd:
    saved = errno;
    close(fd);
    errno = saved;
    return POOL_ERROR;
}

enum pool_result pool_acquire(struct pool *p, struct member *m,
                              void *owner, unsigned flags,
                              struct backend_conn **out)
{
    struct pool_slot *s = slot_of(p, m);
    struct backend_conn *b;

    if (s == NULL) {
        errno = EINVAL;
        return POOL_ERROR;
    }

    b = NULL;
    if (!(flags & POOL_FRESH))
        b = take_idle(p, s, flags & POOL_CHECK_ALIVE);
    if (b != NULL) {
        b->owner = owner;
        *out = b;
        return POOL_REUSED;
    }

    if (m->max_conns > 0 && s->total >= m->max_conns)
        return POOL_FULL;
    return connect_new(p, s, m, owner, out);
}

int pool_connect_result(struct backend_conn *b)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(b->watch.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    if (err == 0)
        b->connecting = false;
    return err;
}

void pool_release(struct pool *p, struct backend_conn *b, bool reusable)
{
    struct pool_slot *s = slot_of(p, b->member);

    b->owner = NULL;
    if (!reusable || b->member->disablereuse || s == NULL ||
        b->connecting ||
        b->down_gen != atomic_load(&b->member->down_gen)) {
        conn_destroy(p, b);
        return;
    }

    b->idle_since_ms = loop_now(p->loop);
    b->prev = NULL;
    b->next = s->idle;
    if (s->idle != NULL)
        s->idle->prev = b;
    s->idle = b;
    s->nidle++;
    stats_idle_add(&b->member->stats, 1);
    wake_waiter(p, s);
}

void pool_wait(struct pool *p, struct pool_waiter *w)
{
    struct pool_slot *s = slot_of(p, w->member);

    if (s == NULL || w->queued)
        return;
    w->next = NULL;
    w->prev = s->waiters_tail;
    if (s->waiters_tail != NULL)
        s->waiters_tail->next = w;
    else
        s->waiters = w;
    s->waiters_tail = w;
    w->queued = true;
}

void pool_cancel_wait(struct pool *p, struct pool_waiter *w)
{
    struct pool_slot *s;

    if (!w->queued)
        return;
    s = slot_of(p, w->member);
    if (s != NULL)
        waiter_unlink(s, w);
}

void pool_sweep(struct pool *p)
{
    int64_t now = loop_now(p->loop);
    size_t i;

    for (i = 0; i < p->nslots; i++) {
        struct pool_slot *s = &p->slots[i];
        struct backend_conn *b = s->idle, *next;

        for (; b != NULL; b = next) {
            next = b->next;
            if (expired(b, now)) {
                idle_unlink(s, b);
                conn_destroy(p, b);
            }
        }
    }
}
