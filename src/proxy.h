/*
 * proxy.h - worker threads: each accepts client connections on its own
 * SO_REUSEPORT listening sockets and relays their requests to back ends
 * (the state machine is in proxy.c).
 */
#ifndef BALANCER_PROXY_H
#define BALANCER_PROXY_H

#include <stddef.h>

#include "config.h"

struct proxy_worker;

/*
 * Create worker number index for configuration c, which must be the
 * current generation's (reload_start; the worker holds a reference):
 * its event loop, back-end pool and one listening socket per Listen.
 * Returns NULL with the cause ("127.0.0.1:80: Address already in use")
 * in err.
 */
struct proxy_worker *proxy_worker_create(const struct config *c, int index,
                                         char *err, size_t errsize);

/*
 * Run the worker's loop in the calling thread until it has been shut down
 * and its last client connection is closed. Returns 0, or -1 when the
 * event loop failed.
 */
int proxy_worker_run(struct proxy_worker *w);

/*
 * Graceful stop, callable from any thread: the worker closes its
 * listening sockets and idle client connections, lets requests in flight
 * finish (answering them with Connection: close), then proxy_worker_run
 * returns.
 */
void proxy_worker_shutdown(struct proxy_worker *w);

/* A reload made a new configuration generation current (reload.h):
 * the worker takes its Listen addresses and lets its idle connections
 * move to it soon. Any thread. */
void proxy_worker_reload(struct proxy_worker *w);

/* Free a worker whose run returned (or never started). */
void proxy_worker_free(struct proxy_worker *w);

#endif
