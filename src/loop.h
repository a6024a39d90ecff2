/*
 * loop.h - one epoll event loop per worker thread, with timers and a
 * free list of I/O buffers.
 *
 * Every file descriptor is registered once, edge-triggered, for both
 * directions (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET); the owner keeps
 * "readable" / "writable" flags that an event sets and EAGAIN clears, so
 * no epoll_ctl is made per request.
 *
 * Timers live in a binary min-heap ordered by deadline. Time is read once
 * per loop turn (loop_now), so setting a timer costs no system call.
 *
 * A loop is used by the thread that runs it only, except loop_wake, which
 * any thread may call.
 */
#ifndef BALANCER_LOOP_H
#define BALANCER_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_watch;
struct loop_timer;

typedef void (*loop_io_fn)(struct loop *l, struct loop_watch *w,
                           uint32_t events);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t);
typedef void (*loop_fn)(struct loop *l, void *arg);

/* A registered file descriptor. Embed it in the owner's structure. */
struct loop_watch {
    int fd;
    loop_io_fn on_event;
};

/* A timer. Embed it; zero-initialise (or loop_timer_init) before use. */
struct loop_timer {
    int64_t deadline_ms;        /* monotonic ms */
    size_t heap_index;          /* 0: not armed; else position + 1 */
    loop_timer_fn on_expire;
};

/* Size of every buffer from loop_buf_get. */
#define LOOP_BUF_SIZE (16 * 1024)

/*
 * Create a loop. on_wake is called in the loop's thread after another
 * thread called loop_wake; on_turn after each batch of events (log flush).
 * Returns NULL when epoll or eventfd cannot be created.
 */
struct loop *loop_create(loop_fn on_wake, loop_fn on_turn, void *arg);

/*
 * on_events is called after each batch of events, before the timers that
 * are due run (the proxy writes what the batch held back there, so that a
 * timer sees each connection as the batch left it). NULL: none.
 */
void loop_set_on_events(struct loop *l, loop_fn on_events);

/* Free a loop that is not running. Buffers handed out must be back. */
void loop_free(struct loop *l);

/*
 * Register w->fd edge-triggered for input, output and peer close.
 * Returns 0, or -1 with errno set.
 */
int loop_add(struct loop *l, struct loop_watch *w);

/* Remove w->fd from the loop (before closing it when it may be shared;
 * close() alone also removes it). Events already fetched for it in this
 * turn are dropped. */
void loop_del(struct loop *l, struct loop_watch *w);

/* Run until loop_stop. Returns 0, or -1 when epoll_wait fails. */
int loop_run(struct loop *l);

/* Make loop_run return after the current turn (loop's thread only). */
void loop_stop(struct loop *l);

/* Wake the loop from any thread: its on_wake runs soon in its thread. */
void loop_wake(struct loop *l);

/* The loop's cached monotonic time in ms, updated once per turn. */
int64_t loop_now(const struct loop *l);

/* Arm (or re-arm) t to fire at deadline_ms. */
void loop_timer_set(struct loop *l, struct loop_timer *t,
                    int64_t deadline_ms);

/* Disarm t; harmless when it is not armed. */
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

static inline bool loop_timer_armed(const struct loop_timer *t)
{
    return t->heap_index != 0;
}

/*
 * A LOOP_BUF_SIZE buffer from the loop's free list (malloc only when the
 * list is empty, so a warm loop allocates nothing per request).
 * Returns NULL when memory is exhausted.
 */
char *loop_buf_get(struct loop *l);

/* Give a buffer back to the free list; NULL is ignored. */
void loop_buf_put(struct loop *l, char *buf);

#endif
