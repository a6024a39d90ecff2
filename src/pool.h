/*
 * pool.h - back-end connections kept alive for reuse, per worker thread
 * and per member.
 *
 * Idle connections of a member are a LIFO list: the most recently used is
 * reused first, so the oldest ones age out by the member's ttl= (and the
 * back end's own keep-alive timeout). An idle connection stays registered
 * in the loop; when the back end closes it (or sends anything), it is
 * closed and dropped at once, which keeps the keep-alive race small.
 *
 * A pool is used by one thread only.
 */
#ifndef BALANCER_POOL_H
#define BALANCER_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "balancer.h"
#include "config.h"
#include "loop.h"

struct pool;
struct backend_conn;

/* Called for events on a connection that is in use (owner != NULL). */
typedef void (*pool_event_fn)(void *owner, struct backend_conn *b,
                              uint32_t events);

/* Called when a member that had all its max= connections in use has one
 * free again, for the waiter queued first. Called from pool_release and
 * idle-close events: the callee should defer its work to the loop turn. */
typedef void (*pool_free_fn)(void *owner);

/* A request waiting for a connection to a member at its max=. Embed it. */
struct pool_waiter {
    struct pool_waiter *next, *prev;
    void *owner;
    struct member *member;
    bool queued;
};

struct backend_conn {
    struct loop_watch watch;
    struct pool *pool;
    struct member *member;
    struct backend_conn *next;      /* idle list, or the free list */
    struct backend_conn *prev;
    void *owner;                    /* the client connection using it */
    int64_t idle_since_ms;
    uint32_t requests;              /* requests sent on it: 0 when fresh */
    uint32_t down_gen;              /* member->down_gen when opened: a
                                       newer one means the member went
                                       down since, so it is not reused */
    bool connecting;                /* connect() in progress */
    bool readable;                  /* edge-triggered readiness flags */
    bool writable;
    bool rdhup;                     /* the back end closed or reset */
};

enum pool_result {
    POOL_REUSED,        /* an idle connection, ready to write */
    POOL_CONNECTING,    /* a new connection; wait until writable, then
                           check pool_connect_result */
    POOL_FULL,          /* the member's max= connections are all in use */
    POOL_ERROR          /* no connection: errno says why */
};

/*
 * Create the pool of one worker thread for every member of every balancer
 * in c. on_event receives the events of connections in use.
 * Returns NULL when memory is exhausted.
 */
struct pool *pool_create(struct loop *l, const struct config *c,
                         pool_event_fn on_event, pool_free_fn on_free);

/* Close every idle connection and free the pool. Connections in use must
 * have been released first. */
void pool_free(struct pool *p);

/* pool_acquire flags */
#define POOL_CHECK_ALIVE 1u     /* probe an idle connection first */
#define POOL_FRESH       2u     /* do not reuse: open a new connection */

/*
 * Get a connection to m for owner: the most recent idle one whose ttl has
 * not passed, else a new non-blocking one. With POOL_CHECK_ALIVE (used
 * before sending a request that must not be sent twice), an idle
 * connection is first probed with a non-blocking MSG_PEEK recv and dropped
 * if the back end has closed it. With POOL_FRESH a new connection is
 * opened whatever is idle (after a reused one failed).
 * *out is set for POOL_REUSED and POOL_CONNECTING.
 */
enum pool_result pool_acquire(struct pool *p, struct member *m,
                              void *owner, unsigned flags,
                              struct backend_conn **out);

/*
 * After a POOL_CONNECTING connection became writable: 0 when connected,
 * else the connect error (errno value: ECONNREFUSED ...).
 */
int pool_connect_result(struct backend_conn *b);

/*
 * Done with b. When reusable (a complete response was read, nothing
 * extra is buffered and both sides keep the connection alive) and the
 * member allows reuse, b becomes idle; else it is closed.
 */
void pool_release(struct pool *p, struct backend_conn *b, bool reusable);

/*
 * After POOL_FULL: queue w (owner and member set by the caller) until a
 * connection of w->member is released or closed; then on_free(owner) is
 * called once and w is off the queue. FIFO, as Apache's connection pool
 * makes requests wait for a free connection when max= is reached.
 */
void pool_wait(struct pool *p, struct pool_waiter *w);

/* Take w off its queue (timeout, connection closed); harmless when it is
 * not queued. */
void pool_cancel_wait(struct pool *p, struct pool_waiter *w);

/* Close idle connections whose member's ttl= has passed, or whose member
 * went down since they were opened. Called by the worker once a second. */
void pool_sweep(struct pool *p);

/* Close every idle connection (at shutdown). */
void pool_close_idle(struct pool *p);

#endif
