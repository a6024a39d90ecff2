/*
 * log.h - the error log (Apache's LogLevel levels) and access logs
 * (mod_log_config's LogFormat language plus balancer's own fields).
 *
 * Error log lines look like Apache's:
 *   [Thu Dec 03 16:59:31.123456 2026] [proxy_balancer:debug] [pid 12:tid 13]
 *   [client 127.0.0.1:50612] message
 * The client part comes from the calling thread's context (log_set_client),
 * so call sites name only the object and the cause.
 */
#ifndef BALANCER_LOG_H
#define BALANCER_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "balancer.h"
#include "http1.h"

enum log_level {
    LOG_LEVEL_EMERG, LOG_LEVEL_ALERT, LOG_LEVEL_CRIT, LOG_LEVEL_ERR,
    LOG_LEVEL_WARN, LOG_LEVEL_NOTICE, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG,
    LOG_LEVEL_TRACE1, LOG_LEVEL_TRACE2, LOG_LEVEL_TRACE3, LOG_LEVEL_TRACE4,
    LOG_LEVEL_TRACE5, LOG_LEVEL_TRACE6, LOG_LEVEL_TRACE7, LOG_LEVEL_TRACE8
};

extern int log_current_level;

/* "debug" -> LOG_LEVEL_DEBUG ("warn", "error", "trace1".. ok); -1 if not.
 * Apache's per-module form ("warn proxy:debug") is taken by config.c; the
 * highest level named applies. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

/* Send the error log to path (append), or stderr when path is NULL.
 * Returns 0, or -1 with the cause in err. */
int log_open_error(const char *path, char *err, size_t errsize);

/* Set / clear the calling thread's client context ("127.0.0.1:50612"). */
void log_set_client(const char *client);

/* Write one error log line. module is the bracketed tag ("proxy",
 * "proxy_balancer", "core"). Use the macro, which skips the formatting
 * when the level is off. */
void log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_msg(level, module, ...)                                     \
    do {                                                                \
        if ((level) <= log_current_level)                               \
            log_write((level), (module), __VA_ARGS__);                  \
    } while (0)

/*
 * mod_log_config's predefined formats, for the "common" and "combined"
 * nicknames, and ours: combined plus why the request went where it went.
 */
#define LOG_FORMAT_COMMON "%h %l %u %t \"%r\" %>s %b"
#define LOG_FORMAT_COMBINED                                             \
    "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""
#define LOG_FORMAT_BALANCER                                             \
    LOG_FORMAT_COMBINED " balancer=%{balancer}x member=%{member}x"      \
    " route=%{route}x sticky=%{sticky}x decision=%{decision}x"          \
    " attempts=%{attempts}x failover=%{failover}x us=%D"

/*
 * For failures that repeat on every request (no usable member, a back
 * end answering garbage): true at most once a second per stamp, which
 * the caller keeps beside the object (a balancer, a member), zeroed.
 * Lock-free; the thread that wins the second writes the line.
 */
bool log_once_a_second(_Atomic int64_t *stamp);

#define log_msg_limited(stamp, level, module, ...)                      \
    do {                                                                \
        if ((level) <= log_current_level && log_once_a_second(stamp))   \
            log_write((level), (module), __VA_ARGS__);                  \
    } while (0)

/* Everything an access log line can show about one request. */
struct access_record {
    const char *client_ip;          /* "127.0.0.1" */
    uint16_t client_port;
    const char *local_ip;           /* %A, may be NULL */
    uint16_t local_port;
    const char *server_name;
    int64_t start_us;               /* wall clock, us since the epoch */
    int64_t duration_us;
    const struct http1_request *req;  /* may be NULL (unparsable request) */
    const char *request_line;       /* first line, without CRLF */
    size_t request_line_len;
    int status;                     /* final status sent */
    uint64_t body_bytes;            /* response body bytes sent */
    uint64_t bytes_received;        /* all bytes read from the client */
    uint64_t bytes_sent;            /* all bytes written to the client */
    const struct http1_header *resp_headers;  /* may be NULL */
    size_t resp_num_headers;
    char conn_status;               /* %X: 'X' aborted, '+' keep-alive,
                                       '-' closed */
    /* balancing, NULL / 0 when the request was not proxied */
    const struct balancer *balancer;
    const struct member *member;
    const char *sticky_name;        /* cookie or URL parameter name the
                                       sticky value came from, or NULL */
    const char *sticky_value;       /* the sticky value seen, or NULL */
    size_t sticky_value_len;
    const char *route_requested;    /* the route it carried, or NULL */
    size_t route_requested_len;
    enum pick_reason decision;
    int attempts;                   /* members tried, >= 1 when proxied */
    const struct member *failover_from;  /* member of the route, if it
                                            could not be used */
    bool route_changed;             /* sticky route differs from member's */
};

struct log_format;

/*
 * Compile a LogFormat string. Supports %% %a %{c}a %A %b %B %{NAME}C %D
 * %h %H %l %m %p %{local|remote|canonical}p %P %{pid|tid|hextid}P %q %r
 * %s %>s %t %{FORMAT}t (strftime, or sec msec usec msec_frac usec_frac,
 * with an optional begin: or end: prefix) %T %{s|ms|us}T %u %U %v %V %X
 * %I %O %S %{NAME}i %{NAME}o
 * %{NAME}e (BALANCER_NAME, BALANCER_WORKER_NAME, BALANCER_WORKER_ROUTE,
 * BALANCER_SESSION_STICKY, BALANCER_SESSION_ROUTE, BALANCER_ROUTE_CHANGED,
 * and ours: BALANCER_DECISION, BALANCER_ATTEMPTS, BALANCER_FAILOVER_FROM;
 * any other name logs "-" as an unset variable does in Apache)
 * and %{NAME}x for the same fields by short name (balancer, member,
 * member_route, route (requested), sticky (value seen), sticky_name,
 * route_changed, decision, attempts, failover).
 * Status conditions work as in mod_log_config: %400,501{User-Agent}i,
 * %!200,304{Referer}i; '<' and '>' are accepted (one status is known).
 * Literal text takes \n and \t. Values are escaped as Apache escapes
 * them (\" \\ \n ... \xhh). %f %k %L %n %R %^.. and unknown letters
 * are an error naming them. Returns NULL with the cause in err; the
 * result is freed with log_format_free.
 */
struct log_format *log_format_compile(const char *text, char *err,
                                      size_t errsize);
void log_format_free(struct log_format *f);

/* Render one line (with the final '\n') into buf; returns its length,
 * truncated to size - 1. */
size_t log_format_render(const struct log_format *f,
                         const struct access_record *r, char *buf,
                         size_t size);

struct access_log {
    char *path;                     /* file, or "|command" is refused */
    char *format_text;
    struct log_format *format;      /* owned */
    int fd;                         /* opened by access_log_open */
};

/* Open every access log for append. Returns 0, or -1 with err set. */
int access_log_open(struct access_log *log, char *err, size_t errsize);

/* Append one line for r; buffered per thread, written by log_flush. */
void access_log_write(struct access_log *log,
                      const struct access_record *r);

/* Close log's file (fd back to -1); its format is left to the owner.
 * Every thread that wrote to log must have called log_flush first. */
void access_log_close(struct access_log *log);

/* Write the calling thread's buffered access log lines. The event loop
 * calls it once per turn; cheap when there is nothing. */
void log_flush(void);

/* Flush and free the calling thread's access log buffers. Worker threads
 * get this at pthread exit anyway; the main thread calls it before exit. */
void log_thread_exit(void);

/* "sticky", "redirect", "lbmethod", "failover", "standby", "retry". */
const char *pick_reason_name(enum pick_reason reason);

#endif
