/*
 * main.c - command line, start-up, worker threads, signals.
 *
 *   balancer -f FILE        run in the foreground
 *   balancer -t -f FILE     check FILE: "Syntax OK" and 0, or
 *                           "FILE:LINE: cause" and 1
 *   balancer -v             print the version
 *   balancer -k graceful -f FILE
 *                           check FILE as -t does, then have the running
 *                           balancer (found by its PidFile) read it again
 *                           (SIGHUP); -k stop sends SIGTERM
 *
 * Signals are taken by the main thread only (sigwait); workers have them
 * blocked. SIGTERM and SIGINT stop gracefully: workers stop accepting,
 * close idle connections and finish the requests in flight; after
 * SHUTDOWN_GRACE_MS the process exits anyway. SIGHUP reads the
 * configuration again (reload.h): a good one is taken by new requests
 * at once, a broken one is refused with its cause in the error log.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "balancer.h"
#include "config.h"
#include "log.h"
#include "pidfile.h"
#include "proxy.h"
#include "reload.h"

#ifndef BALANCER_VERSION
#define BALANCER_VERSION "unknown"
#endif

#define SHUTDOWN_GRACE_MS 10000

struct options {
    const char *file;
    bool check_only;
    const char *signal_action;     /* -k ACTION */
};

struct worker_thread {
    struct proxy_worker *worker;
    pthread_t thread;
    bool started;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: balancer [-t] -f FILE\n"
                 "       balancer -k graceful|stop -f FILE\n"
                 "       balancer -v\n"
                 "  -f FILE  configuration file (Apache httpd syntax)\n"
                 "  -t       check the configuration and exit\n"
                 "  -k graceful  check FILE, then make the running "
                 "balancer read it again\n"
                 "               (-k restart does the same: the reload "
                 "keeps every connection)\n"
                 "  -k stop  stop the running balancer (also "
                 "graceful-stop)\n"
                 "  -v       print the version and exit\n");
}

/* Returns -1 to continue, else the exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
    int opt;

    while ((opt = getopt(argc, argv, "f:tvhD:k:")) != -1) {
        switch (opt) {
        case 'f':
            o->file = optarg;
            break;
        case 't':
            o->check_only = true;
            break;
        case 'k':
            o->signal_action = optarg;
            break;
        case 'v':
            printf("balancer version %s\n", BALANCER_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'D':
            fprintf(stderr, "balancer: -D %s: defines (<IfDefine>) are "
                    "not supported\n", optarg);
            return 1;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "balancer: unexpected argument: %s\n",
                argv[optind]);
        return 1;
    }
    if (o->file == NULL) {
        fprintf(stderr, "balancer: no configuration file: use -f FILE\n");
        usage(stderr);
        return 1;
    }
    return -1;
}

/* Logs and runtime state the configuration asks for. */
static int prepare(struct config *c)
{
    char err[512];
    size_t i;

    log_current_level = c->log_level;
    if (log_open_error(c->error_log, err, sizeof(err)) < 0) {
        fprintf(stderr, "balancer: ErrorLog: %s\n", err);
        return -1;
    }
    for (i = 0; i < c->naccess_logs; i++) {
        if (access_log_open(&c->access_logs[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "balancer: CustomLog: %s\n", err);
            return -1;
        }
    }
    for (i = 0; i < c->nbalancers; i++) {
        if (balancer_init_runtime(c->balancers[i]) < 0) {
            fprintf(stderr, "balancer: %s: cannot initialise\n",
                    c->balancers[i]->name);
            return -1;
        }
    }
    return 0;
}

static int thread_count(const struct config *c)
{
    long n = c->threads;

    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0)
        n = 1;
    return n > 1024 ? 1024 : (int)n;
}

static void *worker_main(void *arg)
{
    struct worker_thread *t = arg;

    if (proxy_worker_run(t->worker) < 0)
        log_msg(LOG_LEVEL_CRIT, "core", "worker event loop failed: %s",
                strerror(errno));
    return NULL;
}

static void log_start(const struct config *c, int nthreads)
{
    char listeners[512];

    config_listeners_text(c, listeners, sizeof(listeners));
    log_msg(LOG_LEVEL_NOTICE, "core", "balancer version %s: listening on "
            "%s with %d worker thread%s; configuration %s",
            BALANCER_VERSION, listeners, nthreads, nthreads == 1 ? "" : "s",
            c->file);
}

/* Wait for SIGTERM or SIGINT; SIGHUP reads the configuration again
 * and, when it is good, has every worker take it. */
static int wait_for_stop(const sigset_t *set, const char *file,
                         struct worker_thread *t, int n)
{
    for (;;) {
        int sig, i;

        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            return sig;
        if (reload_apply(file, n) < 0)
            continue;
        for (i = 0; i < n; i++)
            proxy_worker_reload(t[i].worker);
    }
}

/* Ask every worker to stop and wait for them, at most the grace time.
 * Returns the number of threads that did not finish. */
static int stop_workers(struct worker_thread *t, int n)
{
    struct timespec deadline;
    int i, left = 0;

    for (i = 0; i < n; i++)
        proxy_worker_shutdown(t[i].worker);

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += SHUTDOWN_GRACE_MS / 1000;
    for (i = 0; i < n; i++) {
        if (pthread_timedjoin_np(t[i].thread, NULL, &deadline) == 0)
            t[i].started = false;
        else
            left++;
    }
    return left;
}

/* c may be freed by a reload once the workers run: file is the name
 * to read again. */
static int run(struct config *c, const char *file)
{
    int n = thread_count(c), wanted = n, i, sig, created = 0, left;
    struct worker_thread *threads = calloc((size_t)n, sizeof(*threads));
    sigset_t set;
    char err[512];

    if (threads == NULL)
        return 1;
    for (i = 0; i < n; i++) {
        threads[i].worker = proxy_worker_create(c, i, err, sizeof(err));
        if (threads[i].worker == NULL) {
            fprintf(stderr, "balancer: %s\n", err);
            log_msg(LOG_LEVEL_EMERG, "core", "%s; not starting", err);
            goto free_workers;
        }
        created++;
    }

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    for (i = 0; i < n; i++) {
        if (pthread_create(&threads[i].thread, NULL, worker_main,
                           &threads[i]) != 0) {
            log_msg(LOG_LEVEL_EMERG, "core", "cannot start worker thread");
            n = i;
            goto stop;
        }
        threads[i].started = true;
    }
    log_start(c, n);
    if (pidfile_write(c, err, sizeof(err)) < 0)
        log_msg(LOG_LEVEL_ERR, "core", "PidFile: %s; `balancer -k` will "
                "not find this process", err);

    sig = wait_for_stop(&set, file, threads, n);
    log_msg(LOG_LEVEL_NOTICE, "core", "caught %s, shutting down "
            "gracefully", sig == SIGTERM ? "SIGTERM" : "SIGINT");
stop:
    left = stop_workers(threads, n);
    if (left > 0) {
        log_msg(LOG_LEVEL_WARN, "core", "%d worker thread%s still busy "
                "after %d s; exiting anyway", left, left == 1 ? "" : "s",
                SHUTDOWN_GRACE_MS / 1000);
        log_flush();
        _exit(0);
    }
    log_msg(LOG_LEVEL_NOTICE, "core", "stopped");

free_workers:
    for (i = 0; i < created; i++)
        proxy_worker_free(threads[i].worker);
    free(threads);
    return created == wanted ? 0 : 1;
}

/* Serve c (prepared) until stopped; c belongs to the generations from
 * here and is freed with the last of them. */
static int serve(struct config *c, const char *file)
{
    char pid_path[4096];
    struct generation *g;
    int rc;

    if (reload_start(c) < 0) {
        fprintf(stderr, "balancer: out of memory\n");
        config_free(c);
        return 1;
    }
    rc = run(c, file);

    g = generation_acquire();
    if (rc == 0 && pidfile_path(g->config, pid_path, sizeof(pid_path)) == 0)
        pidfile_remove(pid_path);
    generation_release(g);
    reload_finish();
    return rc;
}

/*
 * The directory a log file goes in should exist and be writable, or the
 * server will not start. Apache's -t refuses such a file (AH02291); -t
 * here warns and still says Syntax OK, because a packaged configuration
 * names /var/log/balancer, which systemd's LogsDirectory= makes only when
 * the service starts. Returns 0, or -1 after printing the warning.
 */
static int check_log_dir(const char *file, const char *what,
                         const char *path)
{
    char dir[4096];
    const char *slash;
    size_t len;

    if (path == NULL)
        return 0;
    slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        len = slash == path ? 1 : (size_t)(slash - path);
        if (len >= sizeof(dir))
            len = sizeof(dir) - 1;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    if (access(dir, W_OK | X_OK) == 0)
        return 0;
    fprintf(stderr, "%s: warning: %s %s: cannot write in directory %s: "
            "%s; balancer will not start until it can\n",
            file, what, path, dir, strerror(errno));
    return -1;
}

/* -t: warnings that need the file system, after the syntax. */
static int check_paths(const struct config *c, const char *file)
{
    int rc = check_log_dir(file, "ErrorLog", c->error_log);

    for (size_t i = 0; i < c->naccess_logs; i++) {
        if (check_log_dir(file, "CustomLog", c->access_logs[i].path) < 0)
            rc = -1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = { NULL, false, NULL };
    struct config *c;
    char err[1024];
    int rc = parse_args(argc, argv, &o);

    if (rc >= 0)
        return rc;
    if (o.signal_action != NULL)
        return pidfile_signal_command(o.signal_action, o.file);

    c = config_load(o.file, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (o.check_only) {
        check_paths(c, o.file);
        printf("Syntax OK\n");
        config_free(c);
        return 0;
    }

    signal(SIGPIPE, SIG_IGN);
    limits_raise_nofile();      /* every client and back end is an fd */
    if (prepare(c) < 0) {
        config_free(c);
        return 1;
    }
    return serve(c, o.file);
}
