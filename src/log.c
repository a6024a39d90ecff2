/*
 * log.c - the error log (Apache's line form and LogLevel levels) and the
 * access logs (mod_log_config's LogFormat language).
 *
 * Both logs write whole lines with one write(2) each to an O_APPEND file,
 * so lines from different threads never interleave.
 *
 * Access log lines are rendered from a format compiled once into an array
 * of items; rendering allocates nothing. Each thread keeps its own buffer
 * per access log (64 KiB), written out by log_flush, which the event loop
 * calls once per turn, or when the buffer is nearly full. At exit every
 * worker thread calls log_flush (its buffers are freed when the thread
 * ends) and the main thread calls log_thread_exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ERROR_MSG_MAX      4096
#define ERROR_LINE_MAX     8192
#define ACCESS_BUFFER_SIZE (64 * 1024)
#define ACCESS_LINE_MAX    (16 * 1024)
#define ACCESS_SLOTS       8
#define MAX_CONDITIONS     16
#define STRFTIME_MAX       256

int log_current_level = LOG_LEVEL_WARN;

static const char *const level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7",
    "trace8"
};

#define NLEVELS ((int)(sizeof(level_names) / sizeof(level_names[0])))

static const char *const month_names[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static const char *const day_names[] = {
    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

/* Replaced in place with dup3 when reopened, so writers never see it
 * closed. */
static int error_fd = STDERR_FILENO;

static __thread char thread_client[64];
static __thread long thread_tid;

/* One local-time conversion per second per thread: localtime_r takes a
 * process-wide lock in glibc. */
static __thread time_t cached_sec = -1;
static __thread struct tm cached_tm;

static void local_time(time_t sec, struct tm *tm)
{
    if (sec != cached_sec) {
        localtime_r(&sec, &cached_tm);
        cached_sec = sec;
    }
    *tm = cached_tm;
}

static long current_tid(void)
{
    if (thread_tid == 0)
        thread_tid = syscall(SYS_gettid);
    return thread_tid;
}

/* Write all of buf, retrying on EINTR and short writes. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int log_level_from_name(const char *name)
{
    for (int i = 0; i < NLEVELS; i++) {
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *log_level_name(int level)
{
    if (level < 0 || level >= NLEVELS)
        return "unknown";
    return level_names[level];
}

static int open_log_file(const char *path, char *err, size_t errsize)
{
    int fd;

    if (path[0] == '|') {
        snprintf(err, errsize, "%s: piped logs not supported yet", path);
        return -1;
    }
    if (strncmp(path, "syslog", 6) == 0 && (path[6] == '\0' ||
                                            path[6] == ':')) {
        snprintf(err, errsize, "%s: syslog not supported yet", path);
        return -1;
    }

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsize, "cannot open log %s: %s", path,
                 strerror(errno));
        return -1;
    }
    return fd;
}

int log_open_error(const char *path, char *err, size_t errsize)
{
    int current = __atomic_load_n(&error_fd, __ATOMIC_ACQUIRE);
    int fd = STDERR_FILENO;

    if (path != NULL) {
        fd = open_log_file(path, err, errsize);
        if (fd < 0)
            return -1;
    }

    if (current == STDERR_FILENO) {
        if (fd != STDERR_FILENO)
            __atomic_store_n(&error_fd, fd, __ATOMIC_RELEASE);
        return 0;
    }

    if (dup3(fd, current, O_CLOEXEC) < 0) {
        snprintf(err, errsize, "cannot switch error log: %s",
                 strerror(errno));
        if (fd != STDERR_FILENO)
            close(fd);
        return -1;
    }
    if (fd != STDERR_FILENO)
        close(fd);
    return 0;
}

void log_set_client(const char *client)
{
    size_t n;

    if (client == NULL) {
        thread_client[0] = '\0';
        return;
    }
    /* Called twice per event of a connection: no printf here. */
    n = strnlen(client, sizeof(thread_client) - 1);
    memcpy(thread_client, client, n);
    thread_client[n] = '\0';
}

/* "[Thu Dec 03 16:59:31.123456 2026] [module:level] [pid P:tid T] "
 * plus "[client ADDR] " when the thread has a client. */
static size_t error_prefix(char *buf, size_t size, int level,
                           const char *module)
{
    struct timespec now;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &now);
    local_time(now.tv_sec, &tm);

    n = snprintf(buf, size,
                 "[%s %s %02d %02d:%02d:%02d.%06ld %d] [%s:%s] "
                 "[pid %d:tid %ld] ",
                 day_names[tm.tm_wday], month_names[tm.tm_mon], tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000,
                 tm.tm_year + 1900, module, log_level_name(level),
                 (int)getpid(), current_tid());
    if (n < 0 || (size_t)n >= size)
        return 0;
    if (thread_client[0] != '\0') {
        int m = snprintf(buf + n, size - (size_t)n, "[client %s] ",
                         thread_client);

        if (m > 0 && (size_t)m < size - (size_t)n)
            n += m;
    }
    return (size_t)n;
}

/* Copy msg into buf with every byte outside printable ASCII (controls,
 * DEL, bytes >= 0x80) as \xhh and a backslash doubled, so one call is
 * always one line however hostile the text it quotes, and an escape in
 * the log always means one byte. */
static size_t escape_message(char *buf, size_t size, const char *msg)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    for (; *msg != '\0'; msg++) {
        unsigned char c = (unsigned char)*msg;

        if (c == '\\') {
            if (n + 2 > size)
                break;
            buf[n++] = '\\';
            buf[n++] = '\\';
            continue;
        }
        if (c >= 0x20 && c < 0x7f) {
            if (n + 1 > size)
                break;
            buf[n++] = (char)c;
            continue;
        }
        if (n + 4 > size)
            break;
        buf[n++] = '\\';
        buf[n++] = 'x';
        buf[n++] = hex[c >> 4];
        buf[n++] = hex[c & 0xf];
    }
    return n;
}

bool log_once_a_second(_Atomic int64_t *stamp)
{
    struct timespec ts;
    int64_t now, last;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    now = (int64_t)ts.tv_sec + 1;       /* never 0, the zeroed stamp */
    last = atomic_load_explicit(stamp, memory_order_relaxed);
    if (last == now)
        return false;
    return atomic_compare_exchange_strong(stamp, &last, now);
}

void log_write(int level, const char *module, const char *fmt, ...)
{
    char msg[ERROR_MSG_MAX];
    char line[ERROR_LINE_MAX];
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    n = error_prefix(line, sizeof(line), level, module);
    n += escape_message(line + n, sizeof(line) - n - 1, msg);
    line[n++] = '\n';

    (void)write_all(__atomic_load_n(&error_fd, __ATOMIC_ACQUIRE), line, n);
}

/* ------------------------------------------------------------------ */
/* Access log formats                                                  */

enum item_kind {
    ITEM_LITERAL,
    ITEM_DASH,              /* %l %u: no identd, no authentication */
    ITEM_CLIENT_IP,         /* %a %h */
    ITEM_LOCAL_IP,          /* %A */
    ITEM_BODY_BYTES_CLF,    /* %b */
    ITEM_BODY_BYTES,        /* %B */
    ITEM_COOKIE,            /* %{NAME}C */
    ITEM_DURATION,          /* %D, %T, %{UNIT}T */
    ITEM_FIELD,             /* %{NAME}e, %{NAME}x */
    ITEM_HEADER_IN,         /* %{NAME}i */
    ITEM_HEADER_OUT,        /* %{NAME}o */
    ITEM_METHOD,            /* %m */
    ITEM_PORT,              /* %p %{local|remote|canonical}p */
    ITEM_PID,               /* %P %{pid|tid|hextid}P */
    ITEM_QUERY,             /* %q */
    ITEM_REQUEST_LINE,      /* %r */
    ITEM_STATUS,            /* %s %>s */
    ITEM_TIME,              /* %t %{FORMAT}t */
    ITEM_PATH,              /* %U */
    ITEM_SERVER_NAME,       /* %v */
    ITEM_HOST_NAME,         /* %V */
    ITEM_CONN_STATUS,       /* %X */
    ITEM_BYTES_IN,          /* %I */
    ITEM_BYTES_OUT,         /* %O */
    ITEM_BYTES_ALL,         /* %S */
    ITEM_PROTOCOL           /* %H */
};

enum duration_unit { UNIT_S, UNIT_MS, UNIT_US };
enum port_kind { PORT_LOCAL, PORT_REMOTE };
enum pid_kind { PID_PID, PID_TID, PID_HEXTID };
enum header_out_kind { OUT_FIRST_FIELD, OUT_ALL_FIELDS, OUT_MEDIA_TYPE };

enum time_form {
    TIME_CLF, TIME_SEC, TIME_MSEC, TIME_USEC, TIME_MSEC_FRAC,
    TIME_USEC_FRAC, TIME_STRFTIME
};

/* What %{NAME}e and %{NAME}x show about balancing. */
enum field {
    FIELD_NONE,             /* an unknown environment variable: "-" */
    FIELD_BALANCER,
    FIELD_MEMBER,
    FIELD_MEMBER_ROUTE,
    FIELD_STICKY_NAME,
    FIELD_STICKY_VALUE,
    FIELD_ROUTE,
    FIELD_ROUTE_CHANGED,
    FIELD_DECISION,
    FIELD_ATTEMPTS,
    FIELD_FAILOVER
};

struct field_name {
    const char *name;
    char directive;         /* 'e' or 'x' */
    enum field field;
};

static const struct field_name field_names[] = {
    { "BALANCER_NAME", 'e', FIELD_BALANCER },
    { "BALANCER_WORKER_NAME", 'e', FIELD_MEMBER },
    { "BALANCER_WORKER_ROUTE", 'e', FIELD_MEMBER_ROUTE },
    { "BALANCER_SESSION_STICKY", 'e', FIELD_STICKY_NAME },
    { "BALANCER_SESSION_ROUTE", 'e', FIELD_ROUTE },
    { "BALANCER_ROUTE_CHANGED", 'e', FIELD_ROUTE_CHANGED },
    { "BALANCER_DECISION", 'e', FIELD_DECISION },
    { "BALANCER_ATTEMPTS", 'e', FIELD_ATTEMPTS },
    { "BALANCER_FAILOVER_FROM", 'e', FIELD_FAILOVER },
    { "balancer", 'x', FIELD_BALANCER },
    { "member", 'x', FIELD_MEMBER },
    { "member_route", 'x', FIELD_MEMBER_ROUTE },
    { "route", 'x', FIELD_ROUTE },
    { "sticky", 'x', FIELD_STICKY_VALUE },
    { "sticky_name", 'x', FIELD_STICKY_NAME },
    { "route_changed", 'x', FIELD_ROUTE_CHANGED },
    { "decision", 'x', FIELD_DECISION },
    { "attempts", 'x', FIELD_ATTEMPTS },
    { "failover", 'x', FIELD_FAILOVER },
};

struct log_item {
    enum item_kind kind;
    int sub;                /* unit, port, pid, time form or field */
    bool end_time;          /* %{end:...}t */
    bool apache_env;        /* %e: Apache's rules for unset values */
    char *arg;              /* literal text, a name, a strftime format */
    size_t arg_len;
    bool negate;            /* %!200{...}: log when status is not listed */
    int nstatuses;
    int statuses[MAX_CONDITIONS];
};

struct log_format {
    struct log_item *items;
    size_t nitems;
};

/* The state of one compilation. */
struct compiler {
    struct log_format *f;
    size_t cap;
    char *err;
    size_t errsize;
};

static struct log_item *new_item(struct compiler *c)
{
    struct log_item *item;

    if (c->f->nitems == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct log_item *items = realloc(c->f->items,
                                         cap * sizeof(*items));

        if (items == NULL) {
            snprintf(c->err, c->errsize, "out of memory");
            return NULL;
        }
        c->f->items = items;
        c->cap = cap;
    }
    item = &c->f->items[c->f->nitems++];
    memset(item, 0, sizeof(*item));
    return item;
}

/* Literal text up to the next '%', with mod_log_config's \n and \t.
 * Returns the number of bytes of text consumed, or -1. */
static int compile_literal(struct compiler *c, const char *text)
{
    size_t len = strcspn(text, "%");
    struct log_item *item = new_item(c);
    size_t n = 0;

    if (item == NULL)
        return -1;
    item->kind = ITEM_LITERAL;
    item->arg = malloc(len + 1);
    if (item->arg == NULL) {
        snprintf(c->err, c->errsize, "out of memory");
        return -1;
    }

    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\\' && i + 1 < len &&
            (text[i + 1] == 'n' || text[i + 1] == 't')) {
            item->arg[n++] = text[i + 1] == 'n' ? '\n' : '\t';
            i++;
            continue;
        }
        item->arg[n++] = text[i];
    }
    item->arg[n] = '\0';
    item->arg_len = n;
    return (int)len;
}

static int set_arg(struct compiler *c, struct log_item *item,
                   const char *arg, size_t len)
{
    item->arg = strndup(arg, len);
    if (item->arg == NULL) {
        snprintf(c->err, c->errsize, "out of memory");
        return -1;
    }
    item->arg_len = len;
    return 0;
}

static int compile_time(struct compiler *c, struct log_item *item)
{
    static const struct { const char *name; enum time_form form; } forms[] = {
        { "sec", TIME_SEC }, { "msec", TIME_MSEC }, { "usec", TIME_USEC },
        { "msec_frac", TIME_MSEC_FRAC }, { "usec_frac", TIME_USEC_FRAC },
    };
    const char *fmt = item->arg ? item->arg : "";

    /* mod_log_config: "begin:" (the default) or "end:" of the request. */
    if (strncmp(fmt, "begin:", 6) == 0) {
        fmt += 6;
    } else if (strncmp(fmt, "end:", 4) == 0) {
        fmt += 4;
        item->end_time = true;
    }

    item->sub = fmt[0] == '\0' ? TIME_CLF : TIME_STRFTIME;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        if (strcmp(fmt, forms[i].name) == 0)
            item->sub = forms[i].form;
    }

    if (item->arg != NULL && fmt != item->arg) {
        size_t len = strlen(fmt);

        memmove(item->arg, fmt, len + 1);
        item->arg_len = len;
    }
    (void)c;
    return 0;
}

static int compile_duration(struct compiler *c, struct log_item *item,
                            char directive)
{
    if (directive == 'D') {
        item->sub = UNIT_US;
        return 0;
    }
    if (item->arg == NULL || strcmp(item->arg, "s") == 0) {
        item->sub = UNIT_S;
    } else if (strcmp(item->arg, "ms") == 0) {
        item->sub = UNIT_MS;
    } else if (strcmp(item->arg, "us") == 0) {
        item->sub = UNIT_US;
    } else {
        snprintf(c->err, c->errsize,
                 "%%{%s}T: unit must be s, ms or us", item->arg);
        return -1;
    }
    return 0;
}

static int compile_field(struct compiler *c, struct log_item *item,
                         char directive)
{
    if (item->arg == NULL) {
        snprintf(c->err, c->errsize, "%%%c needs a name: %%{NAME}%c",
                 directive, directive);
        return -1;
    }

    item->apache_env = directive == 'e';
    item->sub = FIELD_NONE;
    for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]);
         i++) {
        if (field_names[i].directive == directive &&
            strcmp(field_names[i].name, item->arg) == 0)
            item->sub = field_names[i].field;
    }

    /* An unset environment variable logs "-" in Apache; an unknown %x
     * name is a mistake worth saying. */
    if (item->sub == FIELD_NONE && directive == 'x') {
        snprintf(c->err, c->errsize,
                 "%%{%s}x: unknown field (balancer, member, member_route, "
                 "route, sticky, sticky_name, route_changed, decision, "
                 "attempts, failover)", item->arg);
        return -1;
    }
    return 0;
}

static int compile_named(struct compiler *c, struct log_item *item,
                         char directive, enum item_kind kind)
{
    if (item->arg == NULL || item->arg[0] == '\0') {
        snprintf(c->err, c->errsize, "%%%c needs a name: %%{NAME}%c",
                 directive, directive);
        return -1;
    }
    item->kind = kind;
    if (kind == ITEM_HEADER_OUT && strcasecmp(item->arg, "Set-Cookie") == 0)
        item->sub = OUT_ALL_FIELDS;
    if (kind == ITEM_HEADER_OUT && strcasecmp(item->arg, "Content-Type") == 0)
        item->sub = OUT_MEDIA_TYPE;
    return 0;
}

static int compile_choice(struct compiler *c, struct log_item *item,
                          char directive, const char *const *names,
                          int nnames)
{
    if (item->arg == NULL)
        return 0;
    for (int i = 0; i < nnames; i++) {
        if (strcmp(item->arg, names[i]) == 0) {
            item->sub = i;
            return 0;
        }
    }
    snprintf(c->err, c->errsize, "%%{%s}%c: unknown form", item->arg,
             directive);
    return -1;
}

/* Fill item for the directive letter; item->arg holds the {} part. */
static int compile_directive(struct compiler *c, struct log_item *item,
                             char d)
{
    static const char *const port_forms[] = { "local", "remote",
                                              "canonical" };
    static const char *const pid_forms[] = { "pid", "tid", "hextid" };
    static const char *const ip_forms[] = { "c" };

    switch (d) {
    case 'a': item->kind = ITEM_CLIENT_IP;
              return compile_choice(c, item, d, ip_forms, 1);
    case 'h': item->kind = ITEM_CLIENT_IP; return 0;
    case 'A': item->kind = ITEM_LOCAL_IP; return 0;
    case 'b': item->kind = ITEM_BODY_BYTES_CLF; return 0;
    case 'B': item->kind = ITEM_BODY_BYTES; return 0;
    case 'C': return compile_named(c, item, d, ITEM_COOKIE);
    case 'D':
    case 'T': item->kind = ITEM_DURATION;
              return compile_duration(c, item, d);
    case 'e':
    case 'x': item->kind = ITEM_FIELD; return compile_field(c, item, d);
    case 'H': item->kind = ITEM_PROTOCOL; return 0;
    case 'i': return compile_named(c, item, d, ITEM_HEADER_IN);
    case 'o': return compile_named(c, item, d, ITEM_HEADER_OUT);
    case 'l':
    case 'u': item->kind = ITEM_DASH; return 0;
    case 'm': item->kind = ITEM_METHOD; return 0;
    case 'p': item->kind = ITEM_PORT;
              if (compile_choice(c, item, d, port_forms, 3) < 0)
                  return -1;
              if (item->sub == 2)
                  item->sub = PORT_LOCAL;
              return 0;
    case 'P': item->kind = ITEM_PID;
              return compile_choice(c, item, d, pid_forms, 3);
    case 'q': item->kind = ITEM_QUERY; return 0;
    case 'r': item->kind = ITEM_REQUEST_LINE; return 0;
    case 's': item->kind = ITEM_STATUS; return 0;
    case 't': item->kind = ITEM_TIME; return compile_time(c, item);
    case 'U': item->kind = ITEM_PATH; return 0;
    case 'v': item->kind = ITEM_SERVER_NAME; return 0;
    case 'V': item->kind = ITEM_HOST_NAME; return 0;
    case 'X': item->kind = ITEM_CONN_STATUS; return 0;
    case 'I': item->kind = ITEM_BYTES_IN; return 0;
    case 'O': item->kind = ITEM_BYTES_OUT; return 0;
    case 'S': item->kind = ITEM_BYTES_ALL; return 0;
    case 'f': case 'k': case 'L': case 'n': case 'R': case '^':
        snprintf(c->err, c->errsize,
                 "log format directive %%%c is not supported", d);
        return -1;
    default:
        if (d >= 0x21 && d < 0x7f)
            snprintf(c->err, c->errsize,
                     "unknown log format directive %%%c", d);
        else
            snprintf(c->err, c->errsize,
                     "unknown log format directive %%\\x%02x",
                     (unsigned char)d);
        return -1;
    }
}

/* The status list of "%400,501{...}i" or "%!200{...}i". */
static int add_status(struct compiler *c, struct log_item *item,
                      const char *text, size_t *i)
{
    int status = 0;
    size_t digits = 0;

    while (text[*i] >= '0' && text[*i] <= '9') {
        if (++digits > 3) {
            snprintf(c->err, c->errsize,
                     "log format: status condition is not 3 digits");
            return -1;
        }
        status = status * 10 + (text[*i] - '0');
        (*i)++;
    }
    if (item->nstatuses == MAX_CONDITIONS) {
        snprintf(c->err, c->errsize,
                 "log format: more than %d status conditions",
                 MAX_CONDITIONS);
        return -1;
    }
    item->statuses[item->nstatuses++] = status;
    return 0;
}

/* One %-directive starting after the '%'. Returns bytes consumed. */
static int compile_percent(struct compiler *c, const char *text)
{
    struct log_item *item;
    size_t i = 0;

    if (text[0] == '%') {
        item = new_item(c);
        if (item == NULL || set_arg(c, item, "%", 1) < 0)
            return -1;
        item->kind = ITEM_LITERAL;
        return 1;
    }

    item = new_item(c);
    if (item == NULL)
        return -1;

    /* Modifiers in any order, as mod_log_config takes them: '!', status
     * codes separated by ',', '<' and '>' (we have one status only), and
     * one {argument}. */
    for (;;) {
        char ch = text[i];

        if (ch == '!') {
            item->negate = true;
            i++;
        } else if (ch == ',' || ch == '<' || ch == '>') {
            i++;
        } else if (ch >= '0' && ch <= '9') {
            if (add_status(c, item, text, &i) < 0)
                return -1;
        } else if (ch == '{') {
            const char *end = strchr(text + i + 1, '}');

            if (end == NULL) {
                snprintf(c->err, c->errsize,
                         "log format: %%{ without a closing }");
                return -1;
            }
            free(item->arg);
            if (set_arg(c, item, text + i + 1,
                        (size_t)(end - text - (long)i - 1)) < 0)
                return -1;
            i = (size_t)(end - text) + 1;
        } else if (ch == '\0') {
            snprintf(c->err, c->errsize,
                     "log format ends inside a %% directive");
            return -1;
        } else {
            break;
        }
    }

    if (compile_directive(c, item, text[i]) < 0)
        return -1;
    return (int)i + 1;
}

struct log_format *log_format_compile(const char *text, char *err,
                                      size_t errsize)
{
    struct compiler c = { .err = err, .errsize = errsize };

    c.f = calloc(1, sizeof(*c.f));
    if (c.f == NULL) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }

    while (*text != '\0') {
        int n;

        if (*text == '%')
            n = compile_percent(&c, text + 1) + 1;
        else
            n = compile_literal(&c, text);
        if (n <= 0)
            goto fail_free_format;
        text += n;
    }
    return c.f;

fail_free_format:
    log_format_free(c.f);
    return NULL;
}

void log_format_free(struct log_format *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nitems; i++)
        free(f->items[i].arg);
    free(f->items);
    free(f);
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */

/* Output under construction; cap leaves room for the '\n' and the NUL. */
struct out {
    char *p;
    size_t len;
    size_t cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    size_t room = o->cap - o->len;

    if (n > room)
        n = room;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_char(struct out *o, char ch)
{
    if (o->len < o->cap)
        o->p[o->len++] = ch;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_dash(struct out *o)
{
    put_char(o, '-');
}

static void put_u64(struct out *o, uint64_t v)
{
    char digits[24];
    size_t n = sizeof(digits);

    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(o, digits + n, sizeof(digits) - n);
}

static void put_i64(struct out *o, int64_t v)
{
    if (v < 0) {
        put_char(o, '-');
        put_u64(o, (uint64_t)0 - (uint64_t)v);
        return;
    }
    put_u64(o, (uint64_t)v);
}

/* Apache's ap_escape_logitem rules: '"' and '\' get a backslash, \b \n
 * \r \t \v their C escapes, other bytes outside 0x20..0x7e "\xhh". */
static void put_escaped(struct out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc = 0;

        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            put_char(o, (char)ch);
            continue;
        }
        switch (ch) {
        case '"': esc = '"'; break;
        case '\\': esc = '\\'; break;
        case '\b': esc = 'b'; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        case '\t': esc = 't'; break;
        case '\v': esc = 'v'; break;
        }
        if (o->cap - o->len < (esc ? 2u : 4u)) {
            o->len = o->cap;
            return;
        }
        put_char(o, '\\');
        if (esc) {
            put_char(o, esc);
            continue;
        }
        put_char(o, 'x');
        put_char(o, hex[ch >> 4]);
        put_char(o, hex[ch & 0xf]);
    }
}

static void put_escaped_or_dash(struct out *o, const char *s, size_t n)
{
    if (s == NULL)
        put_dash(o);
    else
        put_escaped(o, s, n);
}

static void put_2digits(struct out *o, int v)
{
    put_char(o, (char)('0' + v / 10 % 10));
    put_char(o, (char)('0' + v % 10));
}

/* "[03/Dec/2026:16:59:31 +0000]" in local time, as mod_log_config. */
static void put_clf_time(struct out *o, time_t sec)
{
    struct tm tm;
    long off;

    local_time(sec, &tm);
    off = tm.tm_gmtoff / 60;

    put_char(o, '[');
    put_2digits(o, tm.tm_mday);
    put_char(o, '/');
    put_str(o, month_names[tm.tm_mon]);
    put_char(o, '/');
    put_u64(o, (uint64_t)(tm.tm_year + 1900));
    put_char(o, ':');
    put_2digits(o, tm.tm_hour);
    put_char(o, ':');
    put_2digits(o, tm.tm_min);
    put_char(o, ':');
    put_2digits(o, tm.tm_sec);
    put_char(o, ' ');
    put_char(o, off < 0 ? '-' : '+');
    if (off < 0)
        off = -off;
    put_2digits(o, (int)(off / 60));
    put_2digits(o, (int)(off % 60));
    put_char(o, ']');
}

static void put_padded(struct out *o, uint64_t v, int width)
{
    char digits[8];

    for (int i = width - 1; i >= 0; i--) {
        digits[i] = (char)('0' + v % 10);
        v /= 10;
    }
    put(o, digits, (size_t)width);
}

static void render_time(struct out *o, const struct log_item *item,
                        const struct access_record *r)
{
    int64_t us = r->start_us + (item->end_time ? r->duration_us : 0);
    time_t sec = (time_t)(us / 1000000);
    char text[STRFTIME_MAX];
    struct tm tm;
    size_t n;

    switch (item->sub) {
    case TIME_CLF: put_clf_time(o, sec); return;
    case TIME_SEC: put_i64(o, us / 1000000); return;
    case TIME_MSEC: put_i64(o, us / 1000); return;
    case TIME_USEC: put_i64(o, us); return;
    case TIME_MSEC_FRAC: put_padded(o, (uint64_t)(us % 1000000) / 1000, 3);
                         return;
    case TIME_USEC_FRAC: put_padded(o, (uint64_t)(us % 1000000), 6);
                         return;
    }

    local_time(sec, &tm);
    n = strftime(text, sizeof(text), item->arg, &tm);
    put(o, text, n);
}

static void render_duration(struct out *o, const struct log_item *item,
                            const struct access_record *r)
{
    switch (item->sub) {
    case UNIT_S: put_i64(o, r->duration_us / 1000000); break;
    case UNIT_MS: put_i64(o, r->duration_us / 1000); break;
    default: put_i64(o, r->duration_us); break;
    }
}

/* Request header NAME; several fields of that name are joined with
 * ", ", as Apache merges them when it reads the request. */
static void render_header_in(struct out *o, const struct log_item *item,
                             const struct access_record *r)
{
    bool found = false;

    if (r->req == NULL) {
        put_dash(o);
        return;
    }
    for (size_t i = 0; i < r->req->num_headers; i++) {
        const struct http1_header *h = &r->req->headers[i];

        if (h->name_len != item->arg_len ||
            strncasecmp(h->name, item->arg, h->name_len) != 0)
            continue;
        if (found)
            put(o, ", ", 2);
        put_escaped(o, h->value, h->value_len);
        found = true;
    }
    if (!found)
        put_dash(o);
}

/* Response header NAME; Set-Cookie fields joined, Content-Type without
 * its parameters, others the first field, as mod_log_config logs them. */
static void render_header_out(struct out *o, const struct log_item *item,
                              const struct access_record *r)
{
    bool all = item->sub == OUT_ALL_FIELDS;
    bool type = item->sub == OUT_MEDIA_TYPE;
    bool found = false;

    for (size_t i = 0; r->resp_headers && i < r->resp_num_headers; i++) {
        const struct http1_header *h = &r->resp_headers[i];
        size_t len = h->value_len;

        if (h->name_len != item->arg_len ||
            strncasecmp(h->name, item->arg, h->name_len) != 0)
            continue;
        if (type) {
            const char *semi = memchr(h->value, ';', len);

            if (semi != NULL)
                len = (size_t)(semi - h->value);
            while (len > 0 && (h->value[len - 1] == ' ' ||
                               h->value[len - 1] == '\t'))
                len--;
        }
        if (found)
            put(o, ", ", 2);
        put_escaped(o, h->value, len);
        found = true;
        if (!all)
            break;
    }
    if (!found)
        put_dash(o);
}

/* The value of cookie NAME in the request's Cookie headers. */
static void render_cookie(struct out *o, const struct log_item *item,
                          const struct access_record *r)
{
    for (size_t i = 0; r->req && i < r->req->num_headers; i++) {
        const struct http1_header *h = &r->req->headers[i];
        const char *p = h->value, *end = h->value + h->value_len;

        if (h->name_len != 6 || strncasecmp(h->name, "Cookie", 6) != 0)
            continue;
        while (p < end) {
            const char *pair_end = memchr(p, ';', (size_t)(end - p));
            const char *eq;

            if (pair_end == NULL)
                pair_end = end;
            while (p < pair_end && (*p == ' ' || *p == '\t'))
                p++;
            eq = memchr(p, '=', (size_t)(pair_end - p));
            if (eq != NULL && (size_t)(eq - p) == item->arg_len &&
                memcmp(p, item->arg, item->arg_len) == 0) {
                const char *v = eq + 1, *v_end = pair_end;

                while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
                    v_end--;
                put_escaped(o, v, (size_t)(v_end - v));
                return;
            }
            p = pair_end + 1;
        }
    }
    put_dash(o);
}

/* The request-target split into path and query; absolute-form targets
 * ("http://host/p?q") give their path, as Apache's r->uri. */
static void target_parts(const struct http1_request *req,
                         const char **path, size_t *path_len,
                         const char **query, size_t *query_len)
{
    const char *t = req->target, *end = req->target + req->target_len;
    const char *q;

    if (t < end && *t != '/') {
        const char *scheme = memmem(t, (size_t)(end - t), "://", 3);

        if (scheme != NULL) {
            const char *slash = memchr(scheme + 3, '/',
                                       (size_t)(end - scheme - 3));
            t = slash ? slash : end;
        }
    }
    q = memchr(t, '?', (size_t)(end - t));
    *path = t;
    *path_len = (size_t)((q ? q : end) - t);
    *query = q ? q + 1 : NULL;
    *query_len = q ? (size_t)(end - q - 1) : 0;
}

static void render_target(struct out *o, const struct log_item *item,
                          const struct access_record *r)
{
    const char *path, *query;
    size_t path_len, query_len;

    if (r->req == NULL) {
        if (item->kind == ITEM_PATH)
            put_dash(o);
        return;
    }
    target_parts(r->req, &path, &path_len, &query, &query_len);
    if (item->kind == ITEM_PATH) {
        put_escaped(o, path, path_len);
    } else if (query != NULL) {
        put_char(o, '?');
        put_escaped(o, query, query_len);
    }
}

/* %V: with UseCanonicalName Off (Apache's default) the Host header's
 * name, else ServerName. */
static void render_host_name(struct out *o, const struct access_record *r)
{
    const struct http1_header *h = NULL;
    size_t len;

    for (size_t i = 0; r->req && i < r->req->num_headers; i++) {
        if (r->req->headers[i].name_len == 4 &&
            strncasecmp(r->req->headers[i].name, "Host", 4) == 0) {
            h = &r->req->headers[i];
            break;
        }
    }
    if (h == NULL || h->value_len == 0) {
        put_escaped_or_dash(o, r->server_name,
                            r->server_name ? strlen(r->server_name) : 0);
        return;
    }

    len = h->value_len;
    if (h->value[0] == '[') {
        const char *close = memchr(h->value, ']', len);

        len = close ? (size_t)(close - h->value) + 1 : len;
    } else {
        const char *colon = memchr(h->value, ':', len);

        len = colon ? (size_t)(colon - h->value) : len;
    }
    put_escaped(o, h->value, len);
}

static void put_field_text(struct out *o, const char *s, bool apache_env)
{
    if (s == NULL || (s[0] == '\0' && !apache_env)) {
        put_dash(o);
        return;
    }
    put_escaped(o, s, strlen(s));
}

static const char *sticky_name(const struct access_record *r)
{
    if (r->sticky_name != NULL)
        return r->sticky_name;
    if (r->route_requested == NULL && r->sticky_value == NULL)
        return NULL;
    return r->balancer->sticky_cookie ? r->balancer->sticky_cookie
                                      : r->balancer->sticky_param;
}

/* %{NAME}e and %{NAME}x. For %e, as mod_proxy_balancer: nothing is set
 * for a request that no balancer handled (anonymous balancers are our
 * plain ProxyPass), and the route ones only when a route was found. */
static void render_field(struct out *o, const struct log_item *item,
                         const struct access_record *r)
{
    bool env = item->apache_env;
    const struct member *m = r->member;

    if (r->balancer == NULL || (env && r->balancer->anonymous)) {
        put_dash(o);
        return;
    }

    switch (item->sub) {
    case FIELD_BALANCER: put_field_text(o, r->balancer->name, env); break;
    case FIELD_MEMBER: put_field_text(o, m ? m->name : NULL, env); break;
    case FIELD_MEMBER_ROUTE:
        put_field_text(o, m ? m->route : NULL, env);
        break;
    case FIELD_STICKY_NAME: put_field_text(o, sticky_name(r), env); break;
    case FIELD_STICKY_VALUE:
        put_escaped_or_dash(o, r->sticky_value, r->sticky_value_len);
        break;
    case FIELD_ROUTE:
        put_escaped_or_dash(o, r->route_requested, r->route_requested_len);
        break;
    case FIELD_ROUTE_CHANGED: put_str(o, r->route_changed ? "1" : "-");
                              break;
    case FIELD_DECISION:
        put_field_text(o, r->decision == PICK_NONE ? NULL
                          : pick_reason_name(r->decision), env);
        break;
    case FIELD_ATTEMPTS:
        if (r->attempts > 0)
            put_u64(o, (uint64_t)r->attempts);
        else
            put_dash(o);
        break;
    case FIELD_FAILOVER:
        put_field_text(o, r->failover_from ? r->failover_from->name : NULL,
                       env);
        break;
    default: put_dash(o); break;
    }
}

static void render_pid(struct out *o, const struct log_item *item)
{
    static const char hex[] = "0123456789abcdef";
    char digits[24];
    size_t n = sizeof(digits);
    unsigned long tid;

    if (item->sub == PID_PID) {
        put_u64(o, (uint64_t)getpid());
        return;
    }
    tid = (unsigned long)current_tid();
    if (item->sub == PID_TID) {
        put_u64(o, tid);
        return;
    }
    do {
        digits[--n] = hex[tid & 0xf];
        tid >>= 4;
    } while (tid != 0);
    put(o, digits + n, sizeof(digits) - n);
}

static void render_protocol(struct out *o, const struct access_record *r)
{
    if (r->req == NULL) {
        put_dash(o);
        return;
    }
    put(o, "HTTP/1.", 7);
    put_char(o, (char)('0' + (r->req->version_minor == 0 ? 0 : 1)));
}

static void render_text(struct out *o, const char *s)
{
    put_escaped_or_dash(o, s, s ? strlen(s) : 0);
}

static void render_item(struct out *o, const struct log_item *item,
                        const struct access_record *r)
{
    switch (item->kind) {
    case ITEM_LITERAL: put(o, item->arg, item->arg_len); break;
    case ITEM_DASH: put_dash(o); break;
    case ITEM_CLIENT_IP: render_text(o, r->client_ip); break;
    case ITEM_LOCAL_IP: render_text(o, r->local_ip); break;
    case ITEM_BODY_BYTES_CLF:
        if (r->body_bytes == 0)
            put_dash(o);
        else
            put_u64(o, r->body_bytes);
        break;
    case ITEM_BODY_BYTES: put_u64(o, r->body_bytes); break;
    case ITEM_COOKIE: render_cookie(o, item, r); break;
    case ITEM_DURATION: render_duration(o, item, r); break;
    case ITEM_FIELD: render_field(o, item, r); break;
    case ITEM_HEADER_IN: render_header_in(o, item, r); break;
    case ITEM_HEADER_OUT: render_header_out(o, item, r); break;
    case ITEM_METHOD:
        if (r->req == NULL)
            put_dash(o);
        else
            put_escaped(o, r->req->method, r->req->method_len);
        break;
    case ITEM_PORT:
        put_u64(o, item->sub == PORT_REMOTE ? r->client_port
                                            : r->local_port);
        break;
    case ITEM_PID: render_pid(o, item); break;
    case ITEM_QUERY:
    case ITEM_PATH: render_target(o, item, r); break;
    case ITEM_REQUEST_LINE:
        put_escaped_or_dash(o, r->request_line, r->request_line_len);
        break;
    case ITEM_STATUS:
        if (r->status <= 0)
            put_dash(o);
        else
            put_u64(o, (uint64_t)r->status);
        break;
    case ITEM_TIME: render_time(o, item, r); break;
    case ITEM_SERVER_NAME: render_text(o, r->server_name); break;
    case ITEM_HOST_NAME: render_host_name(o, r); break;
    case ITEM_CONN_STATUS: put_char(o, r->conn_status ? r->conn_status
                                                      : '-');
                           break;
    case ITEM_BYTES_IN: put_u64(o, r->bytes_received); break;
    case ITEM_BYTES_OUT: put_u64(o, r->bytes_sent); break;
    case ITEM_BYTES_ALL: put_u64(o, r->bytes_received + r->bytes_sent);
                         break;
    case ITEM_PROTOCOL: render_protocol(o, r); break;
    }
}

/* mod_log_config's conditions: "%400,501{...}i" shows the item only for
 * those statuses, "%!200{...}i" only for others; otherwise "-". */
static bool item_applies(const struct log_item *item,
                         const struct access_record *r)
{
    bool listed = false;

    if (item->nstatuses == 0)
        return true;
    for (int i = 0; i < item->nstatuses; i++) {
        if (item->statuses[i] == r->status)
            listed = true;
    }
    return listed != item->negate;
}

size_t log_format_render(const struct log_format *f,
                         const struct access_record *r, char *buf,
                         size_t size)
{
    struct out o = { .p = buf, .len = 0, .cap = size >= 2 ? size - 2 : 0 };

    if (size == 0)
        return 0;
    if (size == 1) {
        buf[0] = '\0';
        return 0;
    }

    for (size_t i = 0; i < f->nitems; i++) {
        if (item_applies(&f->items[i], r))
            render_item(&o, &f->items[i], r);
        else
            put_dash(&o);
    }

    buf[o.len++] = '\n';
    buf[o.len] = '\0';
    return o.len;
}

/* ------------------------------------------------------------------ */
/* Access log files and per-thread buffers                             */

struct access_buffer {
    const struct access_log *log;
    int fd;                 /* the log's fd when the lines were buffered */
    size_t len;
    char *data;             /* ACCESS_BUFFER_SIZE bytes */
};

struct thread_buffers {
    struct access_buffer slots[ACCESS_SLOTS];
};

static __thread struct thread_buffers *thread_buffers;
static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;

static void flush_buffer(struct access_buffer *b)
{
    static _Atomic bool reported;

    if (b->len == 0)
        return;
    if (write_all(b->fd, b->data, b->len) < 0 && !reported) {
        reported = true;
        log_msg(LOG_LEVEL_ERR, "log_config",
                "cannot write access log %s: %s; lines are lost",
                b->log->path ? b->log->path : "?", strerror(errno));
    }
    b->len = 0;
}

static void free_buffers(struct thread_buffers *t)
{
    for (int i = 0; i < ACCESS_SLOTS; i++) {
        flush_buffer(&t->slots[i]);
        free(t->slots[i].data);
    }
    free(t);
}

static void on_thread_exit(void *arg)
{
    free_buffers(arg);
    thread_buffers = NULL;
}

static void make_buffers_key(void)
{
    pthread_key_create(&buffers_key, on_thread_exit);
}

static struct thread_buffers *get_thread_buffers(void)
{
    if (thread_buffers != NULL)
        return thread_buffers;

    pthread_once(&buffers_once, make_buffers_key);
    thread_buffers = calloc(1, sizeof(*thread_buffers));
    if (thread_buffers != NULL)
        pthread_setspecific(buffers_key, thread_buffers);
    return thread_buffers;
}

/* This thread's buffer for log, or NULL (then write unbuffered). */
static struct access_buffer *buffer_for(const struct access_log *log)
{
    struct thread_buffers *t = get_thread_buffers();
    struct access_buffer *free_slot = NULL;

    if (t == NULL)
        return NULL;
    for (int i = 0; i < ACCESS_SLOTS; i++) {
        struct access_buffer *b = &t->slots[i];

        if (b->log == log && b->fd == log->fd)
            return b;
        if (free_slot == NULL && b->len == 0)
            free_slot = b;
    }
    if (free_slot == NULL)
        return NULL;
    if (free_slot->data == NULL) {
        free_slot->data = malloc(ACCESS_BUFFER_SIZE);
        if (free_slot->data == NULL)
            return NULL;
    }
    free_slot->log = log;
    free_slot->fd = log->fd;
    return free_slot;
}

int access_log_open(struct access_log *log, char *err, size_t errsize)
{
    if (log->path == NULL) {
        snprintf(err, errsize, "access log without a file name");
        return -1;
    }
    if (log->format == NULL) {
        const char *text = log->format_text ? log->format_text
                                            : LOG_FORMAT_COMMON;
        char why[256];

        log->format = log_format_compile(text, why, sizeof(why));
        if (log->format == NULL) {
            snprintf(err, errsize, "access log %s: %s", log->path, why);
            return -1;
        }
    }

    log->fd = open_log_file(log->path, err, errsize);
    return log->fd < 0 ? -1 : 0;
}

void access_log_close(struct access_log *log)
{
    if (log->fd >= 0)
        close(log->fd);
    log->fd = -1;
}

void access_log_write(struct access_log *log,
                      const struct access_record *r)
{
    struct access_buffer *b;

    if (log->fd < 0 || log->format == NULL)
        return;

    b = buffer_for(log);
    if (b == NULL) {
        char line[ACCESS_LINE_MAX];
        size_t n = log_format_render(log->format, r, line, sizeof(line));

        (void)write_all(log->fd, line, n);
        return;
    }

    if (ACCESS_BUFFER_SIZE - b->len < ACCESS_LINE_MAX)
        flush_buffer(b);
    b->len += log_format_render(log->format, r, b->data + b->len,
                                ACCESS_LINE_MAX);
}

void log_flush(void)
{
    if (thread_buffers == NULL)
        return;
    for (int i = 0; i < ACCESS_SLOTS; i++)
        flush_buffer(&thread_buffers->slots[i]);
}

void log_thread_exit(void)
{
    if (thread_buffers == NULL)
        return;
    pthread_setspecific(buffers_key, NULL);
    free_buffers(thread_buffers);
    thread_buffers = NULL;
}
