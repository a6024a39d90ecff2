/*
 * reload.h - configuration generations and graceful reload (SIGHUP).
 *
 * Each configuration read (at start, then at every reload) is one
 * generation: an immutable snapshot plus the members' runtime state,
 * reference-counted. One generation is current; the pointer to it is
 * swapped atomically, and every worker thread compares it at the start of
 * each request, so new requests use a new configuration at once while
 * requests in flight finish on the one they started with.
 *
 * Who holds references: the current generation holds one for being
 * current; each worker thread holds one per generation any of its
 * connections still uses, and drops it at the end of a loop turn, after
 * it flushed its access log buffers. So when the last reference goes,
 * no thread has a buffered line for the generation's access logs and no
 * request can reach its balancers, and it is freed (its logs closed).
 */
#ifndef BALANCER_RELOAD_H
#define BALANCER_RELOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct persist_baseline;

struct generation {
    struct config *config;
    uint64_t number;                /* 1 for the start, +1 per reload */
    _Atomic int refs;
    struct persist_baseline *baseline;  /* members as configured */
};

/*
 * Make c the first current generation. c must be ready to serve: logs
 * open, balancer runtime initialised. The generation owns c from here
 * (freed with it). Returns 0, or -1 when memory is exhausted (c is then
 * still the caller's).
 */
int reload_start(struct config *c);

/*
 * Read file again and, when it is good, make it the current generation:
 * new Listen addresses are checked (bound once) here, logs reopened if
 * changed, members' runtime state carried over (see reload.c). A file
 * with an error is refused: the cause ("FILE:LINE: cause") is logged at
 * error level and the running configuration stays. Main thread only.
 * nthreads is the running worker count (a changed Workers is logged and
 * takes a restart). Returns 0 when the new configuration is current, -1
 * when it was refused. The caller then wakes the workers
 * (proxy_worker_reload) so they pick up listeners and free what is old.
 */
int reload_apply(const char *file, int nthreads);

/* Drop the current generation's own reference (at exit, after the
 * workers were freed): frees it when nobody else holds it. */
void reload_finish(void);

/* What the reloads so far came to, for the metrics: a reload refused by
 * a SIGHUP sent by hand (or by systemd's ExecReload) is otherwise told
 * only in the error log. Any thread. */
struct reload_stats {
    uint64_t applied;           /* reloads that made a new generation */
    uint64_t refused;           /* reloads refused: the running one stayed */
    bool last_applied;          /* the last reload was applied (true
                                   before the first) */
    int64_t loaded_at;          /* Unix time the configuration in force
                                   was read */
};
void reload_get_stats(struct reload_stats *s);

/*
 * The current generation with one more reference, which the caller
 * drops with generation_release. NULL before reload_start. Any thread.
 */
struct generation *generation_acquire(void);

/* The current generation without a reference, only to compare with one
 * the caller holds (one atomic load). */
static inline struct generation *generation_peek(void)
{
    extern _Atomic(struct generation *) reload_current;

    return atomic_load_explicit(&reload_current, memory_order_acquire);
}

/*
 * Drop a reference. The last one frees the generation and its
 * configuration (closing its access logs): the caller must have flushed
 * its own access log buffers (log_flush) first. NULL is fine.
 */
void generation_release(struct generation *g);

/*
 * Copy the runtime state of members that stay from old to new (same
 * balancer name, same member URL): status flags set at run time (the
 * configuration wins when the status= in the file changed),
 * error time, counters, lbstatus, health state. With persist (Balancer-
 * Persist On) also loadfactor, lbset, route and redirect changed at run
 * time, unless the file changed them. old_base and new_base say what the
 * files set (persist_baseline_create). For reload_apply and tests.
 */
void reload_carry_over(struct config *new_config,
                       const struct persist_baseline *new_base,
                       const struct config *old_config,
                       const struct persist_baseline *old_base,
                       bool persist);

#endif
