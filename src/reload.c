/*
 * reload.c - configuration generations, and reading the configuration
 * again on SIGHUP (Apache's graceful restart, without new processes: the
 * worker threads stay and pick the new generation up at their next
 * request; see reload.h for who holds what).
 */
#include "reload.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "persist.h"
#include "pidfile.h"

_Atomic(struct generation *) reload_current;

/* Taken to acquire the current generation and to swap it, so that an
 * acquire never meets a generation whose last reference just went. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_number;

static struct generation *generation_new(struct config *c)
{
    struct generation *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->baseline = persist_baseline_create(c);
    if (g->baseline == NULL) {
        free(g);
        return NULL;
    }
    g->config = c;
    atomic_init(&g->refs, 1);
    return g;
}

static void generation_free(struct generation *g)
{
    persist_baseline_free(g->baseline);
    config_free(g->config);
    free(g);
}

struct generation *generation_acquire(void)
{
    struct generation *g;

    pthread_mutex_lock(&current_lock);
    g = atomic_load(&reload_current);
    if (g != NULL)
        atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&current_lock);
    return g;
}

void generation_release(struct generation *g)
{
    if (g == NULL)
        return;
    if (atomic_fetch_sub(&g->refs, 1) == 1) {
        log_msg(LOG_LEVEL_DEBUG, "core", "configuration generation %llu "
                "freed: its last request finished",
                (unsigned long long)g->number);
        generation_free(g);
    }
}

/* Make g current; returns the previous one, whose reference for being
 * current the caller now holds. */
static struct generation *swap_current(struct generation *g)
{
    struct generation *old;

    pthread_mutex_lock(&current_lock);
    g->number = ++last_number;
    old = atomic_exchange(&reload_current, g);
    pthread_mutex_unlock(&current_lock);
    return old;
}

/* For reload_get_stats. */
static _Atomic uint64_t reloads_applied, reloads_refused;
static _Atomic bool last_reload_applied = true;
static _Atomic int64_t config_loaded_at;

void reload_get_stats(struct reload_stats *s)
{
    s->applied = atomic_load(&reloads_applied);
    s->refused = atomic_load(&reloads_refused);
    s->last_applied = atomic_load(&last_reload_applied);
    s->loaded_at = atomic_load(&config_loaded_at);
}

int reload_start(struct config *c)
{
    struct generation *g = generation_new(c);

    atomic_store(&config_loaded_at, (int64_t)time(NULL));
    if (g == NULL)
        return -1;
    if (c->balancer_persist)
        persist_load(c, g->baseline);
    persist_set_current(c, g->baseline);
    swap_current(g);
    return 0;
}

void reload_finish(void)
{
    struct generation *g;

    pthread_mutex_lock(&current_lock);
    g = atomic_exchange(&reload_current, NULL);
    pthread_mutex_unlock(&current_lock);
    persist_set_current(NULL, NULL);
    generation_release(g);
}

/* ---- carrying runtime state over ------------------------------------ */

static struct member *find_member(const struct config *c, const char *name,
                                  const char *url)
{
    const struct balancer *b = config_find_balancer(c, name);
    size_t i;

    if (b == NULL)
        return NULL;
    for (i = 0; i < b->nmembers; i++) {
        if (strcmp(b->members[i]->name, url) == 0)
            return b->members[i];
    }
    return NULL;
}

/*
 * Status: the flags keep their run-time values unless the file's status=
 * changed since (then the file wins). Error state goes with its time.
 * Health state (MEMBER_HC_FAILED and the check counts) goes over when
 * both sides run checks, so no member counts as healthy before a check
 * said so.
 */
static void carry_status(struct member *to, const struct member *from)
{
    unsigned old = atomic_load(&from->status);
    unsigned status = atomic_load(&to->status);
    unsigned take = from->initial_status == to->initial_status ?
                    MEMBER_ADMIN_FLAGS | MEMBER_IN_ERROR : 0;

    status = (status & ~take) | (old & take);
    if (to->hc.method != HC_METHOD_NONE &&
        from->hc.method != HC_METHOD_NONE) {
        status = (status & ~MEMBER_HC_FAILED) | (old & MEMBER_HC_FAILED);
        atomic_store(&to->hc_last_status, atomic_load(&from->hc_last_status));
        atomic_store(&to->hc_last_check_ms,
                     atomic_load(&from->hc_last_check_ms));
        atomic_store(&to->hc_consecutive_fails,
                     atomic_load(&from->hc_consecutive_fails));
        atomic_store(&to->hc_consecutive_passes,
                     atomic_load(&from->hc_consecutive_passes));
        atomic_store(&to->hc_last_cause, atomic_load(&from->hc_last_cause));
        atomic_store(&to->up_since_ms, atomic_load(&from->up_since_ms));
    }
    atomic_store(&to->status, status);
    atomic_store(&to->error_time_ms, atomic_load(&from->error_time_ms));
}

static void carry_counters(struct member *to, const struct member *from)
{
    atomic_store(&to->elected, atomic_load(&from->elected));
    atomic_store(&to->bytes_out, atomic_load(&from->bytes_out));
    atomic_store(&to->bytes_in, atomic_load(&from->bytes_in));
    atomic_store(&to->errors, atomic_load(&from->errors));
    stats_carry_over(&to->stats, &from->stats);
}

static bool same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void take_text(char **field, const char *value)
{
    char *copy = strdup(value ? value : "");

    if (copy == NULL)
        return;         /* keep the configured value */
    free(*field);
    *field = copy;
}

/* BalancerPersist: values changed at run time stay unless the file
 * changed what it sets. Caller holds from's balancer lock. */
static void carry_settings(struct member *to, const struct member *from,
                           const struct persist_member_conf *to_conf,
                           const struct persist_member_conf *from_conf)
{
    if (to_conf == NULL || from_conf == NULL)
        return;
    if (to_conf->loadfactor == from_conf->loadfactor)
        to->loadfactor = from->loadfactor;
    if (to_conf->lbset == from_conf->lbset)
        to->lbset = from->lbset;
    if (same_text(to_conf->route, from_conf->route))
        take_text(&to->route, from->route);
    if (same_text(to_conf->redirect, from_conf->redirect))
        take_text(&to->redirect, from->redirect);
}

void reload_carry_over(struct config *new_config,
                       const struct persist_baseline *new_base,
                       const struct config *old_config,
                       const struct persist_baseline *old_base,
                       bool persist)
{
    size_t i, j;

    for (i = 0; i < new_config->nbalancers; i++) {
        struct balancer *b = new_config->balancers[i];

        for (j = 0; j < b->nmembers; j++) {
            struct member *to = b->members[j];
            struct member *from = find_member(old_config, b->name,
                                              to->name);

            if (from == NULL)
                continue;
            carry_status(to, from);
            carry_counters(to, from);

            pthread_mutex_lock(&from->balancer->lock);
            to->lbstatus = from->lbstatus;
            if (persist)
                carry_settings(to, from,
                               persist_baseline_find(new_base, b->name,
                                                     to->name),
                               persist_baseline_find(old_base, b->name,
                                                     to->name));
            pthread_mutex_unlock(&from->balancer->lock);
        }
    }
}

/* ---- checking and preparing a new configuration --------------------- */

static bool has_listener(const struct config *c,
                         const struct listener_config *l)
{
    size_t i;

    for (i = 0; i < c->nlisteners; i++) {
        if (c->listeners[i].addrlen == l->addrlen &&
            memcmp(&c->listeners[i].addr, &l->addr, l->addrlen) == 0)
            return true;
    }
    return false;
}

/* A new Listen address must be free: bind it once without SO_REUSEPORT
 * (as at start), so that another process's port is an error now rather
 * than a silently shared port in the workers. */
static int probe_new_listeners(const struct config *c,
                               const struct config *old, char *err,
                               size_t errsize)
{
    size_t i;
    int one = 1;

    for (i = 0; i < c->nlisteners; i++) {
        const struct listener_config *l = &c->listeners[i];
        int fd;

        if (has_listener(old, l))
            continue;
        fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (bind(fd, (const struct sockaddr *)&l->addr,
                     l->addrlen) == 0) {
                close(fd);
                continue;
            }
            close(fd);
        }
        snprintf(err, errsize, "%s: Listen %s: %s", c->file, l->text,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int prepare_runtime(struct config *c, char *err, size_t errsize)
{
    size_t i;

    for (i = 0; i < c->naccess_logs; i++) {
        char why[512];

        if (access_log_open(&c->access_logs[i], why, sizeof(why)) < 0) {
            snprintf(err, errsize, "%s: CustomLog: %s", c->file, why);
            return -1;
        }
    }
    for (i = 0; i < c->nbalancers; i++) {
        if (balancer_init_runtime(c->balancers[i]) < 0) {
            snprintf(err, errsize, "%s: cannot initialise",
                     c->balancers[i]->name);
            return -1;
        }
    }
    return 0;
}

/* The error log moves when ErrorLog changed (in place: writers in other
 * threads never see it closed, see log.c). */
static int switch_error_log(const struct config *c, const struct config *old,
                            char *err, size_t errsize)
{
    char why[512];

    if (same_text(c->error_log, old->error_log) &&
        (c->error_log == NULL) == (old->error_log == NULL))
        return 0;
    if (log_open_error(c->error_log, why, sizeof(why)) < 0) {
        snprintf(err, errsize, "%s: ErrorLog: %s", c->file, why);
        return -1;
    }
    return 0;
}

static void warn_threads(const struct config *c, const struct config *old,
                         int nthreads)
{
    if (c->threads == old->threads)
        return;
    log_msg(LOG_LEVEL_WARN, "core", "%s: Workers changed from %d to %d: "
            "the number of worker threads changes only with a restart; "
            "%d keep running", c->file, old->threads, c->threads,
            nthreads);
}

static void switch_pid_file(const struct config *c, const struct config *old)
{
    char now[4096], before[4096], err[512];
    bool had = pidfile_path(old, before, sizeof(before)) == 0;

    if (pidfile_path(c, now, sizeof(now)) < 0) {
        if (had)
            pidfile_remove(before);
        return;
    }
    if (had && strcmp(now, before) == 0)
        return;
    if (pidfile_write(c, err, sizeof(err)) < 0)
        log_msg(LOG_LEVEL_ERR, "core", "PidFile: %s", err);
    if (had)
        pidfile_remove(before);
}

static void log_reloaded(const struct generation *g)
{
    const struct config *c = g->config;
    char listeners[512];

    config_listeners_text(c, listeners, sizeof(listeners));
    log_msg(LOG_LEVEL_NOTICE, "core", "configuration %s reloaded "
            "(generation %llu): listening on %s; requests in flight "
            "finish on the previous one", c->file,
            (unsigned long long)g->number, listeners);
}

int reload_apply(const char *file, int nthreads)
{
    struct generation *old = atomic_load(&reload_current), *g;
    struct config *c;
    char err[1024];

    log_msg(LOG_LEVEL_NOTICE, "core", "SIGHUP received: reading %s again",
            file);
    c = config_load(file, err, sizeof(err));
    if (c == NULL)
        goto refuse;
    if (probe_new_listeners(c, old->config, err, sizeof(err)) < 0 ||
        prepare_runtime(c, err, sizeof(err)) < 0)
        goto free_config;
    g = generation_new(c);
    if (g == NULL) {
        snprintf(err, sizeof(err), "%s: out of memory", file);
        goto free_config;
    }
    if (switch_error_log(c, old->config, err, sizeof(err)) < 0) {
        generation_free(g);
        goto refuse;
    }

    log_current_level = c->log_level;
    warn_threads(c, old->config, nthreads);
    health_set_threads(c, nthreads);
    reload_carry_over(c, g->baseline, old->config, old->baseline,
                      c->balancer_persist);
    switch_pid_file(c, old->config);

    swap_current(g);
    persist_set_current(c, g->baseline);
    if (c->balancer_persist)
        persist_save(c);
    log_reloaded(g);
    pidfile_note_reload(c, NULL);
    generation_release(old);
    atomic_fetch_add(&reloads_applied, 1);
    atomic_store(&last_reload_applied, true);
    atomic_store(&config_loaded_at, (int64_t)time(NULL));
    return 0;

free_config:
    config_free(c);
refuse:
    log_msg(LOG_LEVEL_ERR, "core", "reload refused: %s; the running "
            "configuration stays in force", err);
    pidfile_note_reload(old->config, err);
    atomic_fetch_add(&reloads_refused, 1);
    atomic_store(&last_reload_applied, false);
    return -1;
}
