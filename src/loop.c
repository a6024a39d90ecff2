/*
 * loop.c - epoll event loop, timer heap, buffer free list.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256
#define LOOP_MAX_FREE_BUFS 4096     /* 64 MiB kept at most per thread */

struct loop {
    int epfd;
    struct loop_watch wake;     /* eventfd */
    loop_fn on_wake;
    loop_fn on_turn;
    loop_fn on_events;
    void *arg;
    bool stopping;
    int64_t now_ms;

    struct loop_timer **heap;   /* heap[0] is the earliest */
    size_t nheap;
    size_t heap_cap;

    /* the batch being dispatched, so loop_del can drop stale events */
    struct epoll_event events[LOOP_MAX_EVENTS];
    int nevents;
    int current;

    /* free buffers as a stack of pointers: taking one touches none of
     * its (cache-cold) bytes, and the last one given back, still warm,
     * is the next one taken */
    char *free_bufs[LOOP_MAX_FREE_BUFS];
    size_t nfree_bufs;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_wake_event(struct loop *l, struct loop_watch *w,
                          uint32_t events)
{
    uint64_t n;

    while (read(w->fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        ;
    if (l->on_wake != NULL)
        l->on_wake(l, l->arg);
}

struct loop *loop_create(loop_fn on_wake, loop_fn on_turn, void *arg)
{
    struct loop *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->on_wake = on_wake;
    l->on_turn = on_turn;
    l->arg = arg;
    l->now_ms = monotonic_ms();

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        goto free_loop;

    l->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake.fd < 0)
        goto close_epoll;
    l->wake.on_event = on_wake_event;
    if (loop_add(l, &l->wake) < 0)
        goto close_eventfd;
    return l;

close_eventfd:
    close(l->wake.fd);
close_epoll:
    close(l->epfd);
free_loop:
    free(l);
    return NULL;
}

void loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    while (l->nfree_bufs > 0)
        free(l->free_bufs[--l->nfree_bufs]);
    close(l->wake.fd);
    close(l->epfd);
    free(l->heap);
    free(l);
}

void loop_set_on_events(struct loop *l, loop_fn on_events)
{
    l->on_events = on_events;
}

int loop_add(struct loop *l, struct loop_watch *w)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.ptr = w,
    };

    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

void loop_del(struct loop *l, struct loop_watch *w)
{
    int i;

    epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);

    for (i = l->current + 1; i < l->nevents; i++) {
        if (l->events[i].data.ptr == w)
            l->events[i].data.ptr = NULL;
    }
}

void loop_stop(struct loop *l)
{
    l->stopping = true;
}

void loop_wake(struct loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->wake.fd, &one, sizeof(one));

    (void)n;        /* EAGAIN: a wake-up is pending already */
}

int64_t loop_now(const struct loop *l)
{
    return l->now_ms;
}

/* ---- timer heap ------------------------------------------------------ */

static void heap_place(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->heap_index = i + 1;
}

static void heap_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (l->heap[parent]->deadline_ms <= t->deadline_ms)
            break;
        heap_place(l, i, l->heap[parent]);
        i = parent;
    }
    heap_place(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= l->nheap)
            break;
        if (child + 1 < l->nheap &&
            l->heap[child + 1]->deadline_ms < l->heap[child]->deadline_ms)
            child++;
        if (t->deadline_ms <= l->heap[child]->deadline_ms)
            break;
        heap_place(l, i, l->heap[child]);
        i = child;
    }
    heap_place(l, i, t);
}

static int heap_grow(struct loop *l)
{
    size_t cap = l->heap_cap ? l->heap_cap * 2 : 256;
    struct loop_timer **heap = realloc(l->heap, cap * sizeof(*heap));

    if (heap == NULL)
        return -1;
    l->heap = heap;
    l->heap_cap = cap;
    return 0;
}

void loop_timer_set(struct loop *l, struct loop_timer *t,
                    int64_t deadline_ms)
{
    if (t->heap_index != 0) {
        size_t i = t->heap_index - 1;
        int64_t old = t->deadline_ms;

        t->deadline_ms = deadline_ms;
        if (deadline_ms < old)
            heap_up(l, i);
        else
            heap_down(l, i);
        return;
    }

    /* Growing happens while the heap is warming up; if memory is out,
     * the timer stays unarmed and the connection relies on the peer. */
    if (l->nheap == l->heap_cap && heap_grow(l) < 0)
        return;
    t->deadline_ms = deadline_ms;
    l->heap[l->nheap] = t;
    l->nheap++;
    heap_up(l, l->nheap - 1);
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    size_t i;
    struct loop_timer *last;

    if (t->heap_index == 0)
        return;
    i = t->heap_index - 1;
    t->heap_index = 0;
    l->nheap--;
    if (i == l->nheap)
        return;

    last = l->heap[l->nheap];
    heap_place(l, i, last);
    if (i > 0 && l->heap[(i - 1) / 2]->deadline_ms > last->deadline_ms)
        heap_up(l, i);
    else
        heap_down(l, i);
}

static void run_timers(struct loop *l)
{
    while (l->nheap > 0 && l->heap[0]->deadline_ms <= l->now_ms) {
        struct loop_timer *t = l->heap[0];

        loop_timer_cancel(l, t);
        t->on_expire(l, t);
    }
}

static int next_timeout(const struct loop *l)
{
    int64_t wait;

    if (l->nheap == 0)
        return 1000;
    wait = l->heap[0]->deadline_ms - l->now_ms;
    if (wait < 0)
        return 0;
    return wait > 1000 ? 1000 : (int)wait;
}

/* ---- the loop -------------------------------------------------------- */

int loop_run(struct loop *l)
{
    while (!l->stopping) {
        int n = epoll_wait(l->epfd, l->events, LOOP_MAX_EVENTS,
                           next_timeout(l));

        if (n < 0 && errno != EINTR)
            return -1;
        l->now_ms = monotonic_ms();
        l->nevents = n > 0 ? n : 0;

        for (l->current = 0; l->current < l->nevents; l->current++) {
            struct epoll_event *ev = &l->events[l->current];
            struct loop_watch *w = ev->data.ptr;

            if (w != NULL)
                w->on_event(l, w, ev->events);
        }
        l->nevents = 0;
        l->current = 0;

        if (n > 0 && l->on_events != NULL)
            l->on_events(l, l->arg);
        run_timers(l);
        if (l->on_turn != NULL)
            l->on_turn(l, l->arg);
    }
    return 0;
}

/* ---- buffers --------------------------------------------------------- */

char *loop_buf_get(struct loop *l)
{
    if (l->nfree_bufs == 0)
        return malloc(LOOP_BUF_SIZE);
    return l->free_bufs[--l->nfree_bufs];
}

void loop_buf_put(struct loop *l, char *buf)
{
    if (buf == NULL)
        return;
    if (l->nfree_bufs >= LOOP_MAX_FREE_BUFS) {
        free(buf);
        return;
    }
    l->free_bufs[l->nfree_bufs++] = buf;
}
