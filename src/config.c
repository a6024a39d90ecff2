/*
 * config.c - the configuration reader: Apache httpd syntax in, one
 * immutable struct config out.
 *
 * Reading has three layers. Physical lines are joined into logical lines
 * ("\" continuations, comments); a logical line is split into words
 * (double or single quotes, \" escapes); each line is then a section
 * opener or closer, or a directive looked up in the one table of
 * config_directive.c.
 * Balancers are created at their first mention, so a ProxyPass may name a
 * balancer whose <Proxy> comes later; what must hold for the whole
 * configuration (every balancer has members, at least one Listen, ...) is
 * checked once at the end, and the message names the line to fix.
 *
 * Every error is "FILE:LINE: cause". Apache directives and parameters we
 * do not implement are refused with "not supported", never ignored.
 */
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "health.h"
#include "location.h"

const char config_out_of_memory[] = "out of memory";

int config_fail_at(struct parser *p, const char *file, int line,
                   const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->errsize == 0)
        return -1;

    if (line > 0)
        n = snprintf(p->err, p->errsize, "%s:%d: ", file, line);
    else        /* the whole file: it cannot be read, or lacks a Listen */
        n = snprintf(p->err, p->errsize, "%s: ", file);
    if (n < 0 || (size_t)n >= p->errsize)
        return -1;

    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errsize - n, fmt, ap);
    va_end(ap);
    return -1;
}

int config_fail_oom(struct parser *p)
{
    return fail(p, "%s", config_out_of_memory);
}

/* Grow *array (of n elements of size elem) by one zeroed element. */
void *config_grow(void *array, size_t n, size_t elem)
{
    char *a = realloc(array, (n + 1) * elem);

    if (a != NULL)
        memset(a + n * elem, 0, elem);
    return a;
}

bool config_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* A decimal number min..max, digits only. Returns 0 or -1. */
int config_parse_number(const char *s, long min, long max, long *out)
{
    long v = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    if (v < min)
        return -1;
    *out = v;
    return 0;
}

/* On|Off, any case. Returns 0 or -1. */
int config_parse_on_off(const char *s, bool *out)
{
    if (strcasecmp(s, "on") == 0)
        *out = true;
    else if (strcasecmp(s, "off") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* Whole seconds min..MAX_SECONDS, as milliseconds. */
int config_parse_seconds(const char *s, long min, int *ms)
{
    long v;

    if (config_parse_number(s, min, MAX_SECONDS, &v) < 0)
        return -1;
    *ms = (int)(v * 1000);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Where we are                                                        */

static const char *section_name(enum section_kind kind)
{
    switch (kind) {
    case SECTION_PROXY:
        return "Proxy";
    case SECTION_VHOST:
        return "VirtualHost";
    case SECTION_IFMODULE:
        return "IfModule";
    case SECTION_LOCATION:
        return "Location";
    }
    return "?";
}

/* The innermost section that is not an <IfModule>, or NULL. */
struct section *config_enclosing(struct parser *p)
{
    int i;

    for (i = p->nsections - 1; i >= 0; i--)
        if (p->sections[i].kind != SECTION_IFMODULE)
            return &p->sections[i];
    return NULL;
}

enum place config_current_place(struct parser *p)
{
    struct section *s = config_enclosing(p);

    if (s == NULL)
        return IN_MAIN;
    if (s->kind == SECTION_LOCATION)
        return IN_LOCATION;
    return s->kind == SECTION_PROXY ? IN_PROXY : IN_VHOST;
}

static bool skipping(const struct parser *p)
{
    return p->nsections > 0 && p->sections[p->nsections - 1].skip;
}

/* ------------------------------------------------------------------ */
/* Words and sections                                                  */

/*
 * Split s in place into words, as Apache's ap_getword_conf does: runs of
 * non-space, or text in double or single quotes where \" (\') stands for
 * the quote. *words is malloc'd and points into s.
 */
static int split_words(struct parser *p, char *s, char ***words, int *count)
{
    size_t cap = 8;
    int n = 0;
    char **w = malloc(cap * sizeof(*w)), **bigger;

    if (w == NULL)
        return config_fail_oom(p);
    for (;;) {
        while (config_is_space(*s))
            s++;
        if (*s == '\0')
            break;
        if ((size_t)n + 1 >= cap) {
            cap *= 2;
            bigger = realloc(w, cap * sizeof(*w));
            if (bigger == NULL) {
                free(w);
                return config_fail_oom(p);
            }
            w = bigger;
        }

        if (*s == '"' || *s == '\'') {
            char quote = *s++, *out = s;

            w[n++] = out;
            for (;;) {
                if (*s == '\0') {
                    free(w);
                    return fail(p, "expected a closing %c to end the "
                                "quoted argument, found the end of the "
                                "line", quote);
                }
                if (*s == '\\' && s[1] == quote) {
                    *out++ = quote;
                    s += 2;
                } else if (*s == quote) {
                    s++;
                    break;
                } else {
                    *out++ = *s++;
                }
            }
            *out = '\0';
        } else {
            w[n++] = s;
            while (*s != '\0' && !config_is_space(*s))
                s++;
            if (*s != '\0')
                *s++ = '\0';
        }
    }
    *words = w;
    *count = n;
    return 0;
}

static int push_section(struct parser *p, enum section_kind kind, bool skip,
                        struct balancer *b)
{
    struct section *s;

    if (p->nsections == MAX_SECTIONS)
        return fail(p, "sections nested deeper than %d", MAX_SECTIONS);
    s = &p->sections[p->nsections++];
    s->kind = kind;
    s->file = p->file;
    s->line = p->line;
    s->skip = skip;
    s->balancer = b;
    return 0;
}

int config_push_location(struct parser *p, size_t index)
{
    if (push_section(p, SECTION_LOCATION, false, NULL) < 0)
        return -1;
    p->sections[p->nsections - 1].location = index;
    return 0;
}

static int open_proxy(struct parser *p, int argc, char **argv)
{
    struct balancer *b;

    p->directive = "<Proxy>";
    if (config_current_place(p) == IN_PROXY)
        return fail(p, "<Proxy> is not allowed inside <Proxy>");
    if (argc != 1)
        return fail(p, "<Proxy>: expected <Proxy balancer://NAME>, found "
                    "%d arguments", argc);
    if (!config_has_scheme(argv[0], "balancer"))
        return fail(p, "<Proxy %s>: only <Proxy balancer://NAME> is "
                    "supported yet", argv[0]);
    b = config_balancer_arg(p, argv[0]);
    if (b == NULL)
        return -1;
    return push_section(p, SECTION_PROXY, false, b);
}

/* A virtual host: see config_vhost.c for what is its own. */
static int open_vhost(struct parser *p, int argc, char **argv)
{
    enum place place = config_current_place(p);

    if (place != IN_MAIN)
        return fail(p, "<VirtualHost> is not allowed %s",
                    config_place_name(place));
    if (argc == 0)
        return fail(p, "<VirtualHost>: expected <VirtualHost ADDR:PORT "
                    "...>, found no address");
    if (push_section(p, SECTION_VHOST, false, NULL) < 0)
        return -1;
    return config_vhost_open(p, argc, argv);
}

static int open_ifmodule(struct parser *p, int argc, char **argv)
{
    const char *name;
    bool negate, present;

    if (argc != 1)
        return fail(p, "<IfModule>: expected <IfModule [!]MODULE>, found "
                    "%d arguments", argc);
    negate = argv[0][0] == '!';
    name = argv[0] + negate;
    if (*name == '\0')
        return fail(p, "<IfModule>: expected a module name, found '%s'",
                    argv[0]);
    present = config_module_present(name, false);
    return push_section(p, SECTION_IFMODULE, present == negate, NULL);
}

/* Apache sections we know and do not implement yet. */
static const char *const unsupported_sections[] = {
    "LocationMatch", "Directory", "DirectoryMatch", "Files",
    "FilesMatch", "ProxyMatch", "If", "ElseIf", "Else", "IfDefine",
    "IfVersion", "IfFile", "IfDirective", "IfSection", "Limit",
    "LimitExcept", "Macro", "RequireAll", "RequireAny", "RequireNone",
    NULL
};

static int open_section(struct parser *p, char *name, char *rest)
{
    char **argv;
    int argc, rc;

    if (split_words(p, rest, &argv, &argc) < 0)
        return -1;
    if (strcasecmp(name, "Proxy") == 0)
        rc = open_proxy(p, argc, argv);
    else if (strcasecmp(name, "VirtualHost") == 0)
        rc = open_vhost(p, argc, argv);
    else if (strcasecmp(name, "IfModule") == 0)
        rc = open_ifmodule(p, argc, argv);
    else if (strcasecmp(name, "Location") == 0)
        rc = config_open_location(p, argc, argv);
    else if (config_in_list(unsupported_sections, name))
        rc = fail(p, "<%s> sections are not supported yet", name);
    else
        rc = fail(p, "unknown section <%s>", name);
    free(argv);
    return rc;
}

static int close_section(struct parser *p, const char *name, int file_base)
{
    struct section *top;

    if (p->nsections == file_base)
        return fail(p, "</%s> without a matching <%s>", name, name);
    top = &p->sections[p->nsections - 1];
    if (strcasecmp(name, section_name(top->kind)) != 0)
        return fail(p, "expected </%s> to close <%s> of line %d, found "
                    "</%s>", section_name(top->kind),
                    section_name(top->kind), top->line, name);
    p->nsections--;
    if (top->kind == SECTION_VHOST)
        return config_vhost_close(p);
    return 0;
}

/*
 * A line starting with '<': "<Name args...>" or "</Name>". While an
 * <IfModule> is skipped only nested <IfModule> lines count.
 */
static int section_line(struct parser *p, char *s, int file_base)
{
    size_t len = strlen(s);
    char *name, *rest;
    bool closing = s[1] == '/';

    if (len < 3 || s[len - 1] != '>') {
        if (skipping(p))
            return 0;
        return fail(p, "expected '>' at the end of the section line, "
                    "found '%.80s'", s);
    }
    s[len - 1] = '\0';
    name = s + 1 + closing;
    rest = name + strcspn(name, " \t\r\f\v");
    if (*rest != '\0')
        *rest++ = '\0';

    if (skipping(p)) {
        if (strcasecmp(name, "IfModule") != 0)
            return 0;
        if (closing)
            return close_section(p, name, file_base);
        return push_section(p, SECTION_IFMODULE, true, NULL);
    }

    if (*name == '\0')
        return fail(p, "expected a section name after '<', found '<%s>'",
                    s + 1);
    if (closing) {
        while (config_is_space(*rest))
            rest++;
        if (*rest != '\0')
            return fail(p, "expected </%s>, found text '%s' after the "
                        "name", name, rest);
        return close_section(p, name, file_base);
    }
    return open_section(p, name, rest);
}

/* One logical line (continuations joined), NUL-terminated, writable. */
static int logical_line(struct parser *p, char *s, int file_base)
{
    size_t len;
    char **argv;
    int argc, rc;

    while (config_is_space(*s))
        s++;
    if (*s == '\0' || *s == '#')
        return 0;
    len = strlen(s);
    while (len > 0 && config_is_space(s[len - 1]))
        s[--len] = '\0';

    if (*s == '<')
        return section_line(p, s, file_base);
    if (skipping(p))
        return 0;

    if (split_words(p, s, &argv, &argc) < 0)
        return -1;
    rc = config_run_directive(p, argc, argv);
    free(argv);
    p->directive = NULL;
    return rc;
}

/*
 * Run every logical line of text. A line ending in '\' goes on with the
 * next one (the backslash and the newline removed), as in Apache, also
 * for comments. Messages name the first physical line.
 */
static int run_text(struct parser *p, const char *text, size_t len,
                    int file_base, int *last_line)
{
    size_t pos = 0, blen, cap = 256;
    char *buf = malloc(cap), *bigger;
    int lineno = 0, rc = 0;

    if (buf == NULL)
        return config_fail_oom(p);
    while (pos < len && rc == 0) {
        int first = lineno + 1;

        blen = 0;
        for (;;) {
            const char *nl = memchr(text + pos, '\n', len - pos);
            size_t end = nl ? (size_t)(nl - text) : len, n;
            bool more;

            lineno++;
            n = end - pos;
            if (n > 0 && text[pos + n - 1] == '\r')
                n--;
            more = n > 0 && text[pos + n - 1] == '\\';
            n -= more;
            if (blen + n + 1 > cap) {
                while (blen + n + 1 > cap)
                    cap *= 2;
                bigger = realloc(buf, cap);
                if (bigger == NULL) {
                    free(buf);
                    return config_fail_oom(p);
                }
                buf = bigger;
            }
            memcpy(buf + blen, text + pos, n);
            blen += n;
            pos = nl ? end + 1 : len;
            if (!more || pos >= len)
                break;
        }
        buf[blen] = '\0';
        p->line = first;
        rc = logical_line(p, buf, file_base);
    }
    free(buf);
    *last_line = lineno;
    return rc;
}

/* Keep name for the configuration's lifetime of messages. */
static const char *remember_file(struct parser *p, const char *name)
{
    char **files = config_grow(p->files, p->nfiles, sizeof(*files));
    char *copy = strdup(name);

    if (files != NULL)
        p->files = files;
    if (files == NULL || copy == NULL) {
        free(copy);
        config_fail_oom(p);
        return NULL;
    }
    p->files[p->nfiles++] = copy;
    return copy;
}

/*
 * Run the text of file name. Sections must close in the file that opens
 * them. *last_line gets the number of lines.
 */
static int run_file(struct parser *p, const char *name, const char *text,
                    size_t len, int *last_line)
{
    const char *saved_file = p->file;
    int saved_line = p->line, base = p->nsections, rc;
    const char *file = remember_file(p, name);
    struct section *top;

    if (file == NULL)
        return -1;
    p->file = file;
    p->line = 0;
    rc = run_text(p, text, len, base, last_line);
    if (rc == 0 && p->nsections > base) {
        top = &p->sections[p->nsections - 1];
        rc = config_fail_at(p, top->file, top->line,
                            "<%s> is not closed: expected </%s> before the "
                            "end of the file", section_name(top->kind),
                            section_name(top->kind));
    }
    p->nsections = base;
    p->file = saved_file;
    p->line = saved_line;
    return rc;
}

/* Read path whole. Returns the text (malloc'd) or NULL with *cause. */
static char *read_whole(const char *path, size_t *len, const char **cause)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL, *bigger;
    size_t n = 0, cap = 0, got;

    if (f == NULL) {
        *cause = strerror(errno);
        return NULL;
    }
    do {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            bigger = realloc(text, cap);
            if (bigger == NULL || cap > MAX_FILE_SIZE) {
                free(bigger ? bigger : text);
                fclose(f);
                *cause = bigger ? "file larger than 16 MiB"
                                : config_out_of_memory;
                return NULL;
            }
            text = bigger;
        }
        got = fread(text + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);

    if (ferror(f)) {
        *cause = strerror(errno);
        free(text);
        fclose(f);
        return NULL;
    }
    fclose(f);
    text[n] = '\0';
    *len = n;
    return text;
}

/* Read and run the file path; errors are named at the current line. */
static int run_path(struct parser *p, const char *path, int *last_line)
{
    const char *cause;
    size_t len;
    char *text = read_whole(path, &len, &cause);
    const char *nul;
    int rc;

    if (text == NULL)
        return fail(p, "cannot read '%s': %s", path, cause);
    nul = memchr(text, '\0', len);
    if (nul != NULL) {
        int line = 1;
        const char *s;

        for (s = text; s < nul; s++)
            line += *s == '\n';
        free(text);
        return config_fail_at(p, path, line,
                              "expected text, found a NUL byte");
    }
    rc = run_file(p, path, text, len, last_line);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Include                                                             */

static int include_entry(struct parser *p, const char *path);

/* Every file of a directory, in name order, sub-directories too (as
 * Apache includes a directory). Names starting with '.' are left out. */
static int include_directory(struct parser *p, const char *dir)
{
    size_t size = strlen(dir) + 3, i;
    char *pattern = malloc(size);
    glob_t g;
    int rc = 0, r;

    if (pattern == NULL)
        return config_fail_oom(p);
    snprintf(pattern, size, "%s/*", dir);
    r = glob(pattern, 0, NULL, &g);
    free(pattern);
    if (r == GLOB_NOMATCH)
        return 0;
    if (r != 0)
        return fail(p, "%s: cannot list directory '%s'", p->directive, dir);
    for (i = 0; i < g.gl_pathc && rc == 0; i++)
        rc = include_entry(p, g.gl_pathv[i]);
    globfree(&g);
    return rc;
}

static int include_entry(struct parser *p, const char *path)
{
    struct stat st;
    int last, rc;

    if (stat(path, &st) < 0)
        return fail(p, "%s: cannot read '%s': %s", p->directive, path,
                    strerror(errno));
    if (p->depth >= MAX_INCLUDE_DEPTH)
        return fail(p, "%s: includes nested deeper than %d (does a file "
                    "include itself?)", p->directive, MAX_INCLUDE_DEPTH);

    p->depth++;
    if (S_ISDIR(st.st_mode))
        rc = include_directory(p, path);
    else if (S_ISREG(st.st_mode))
        rc = run_path(p, path, &last);
    else
        rc = fail(p, "%s: '%s' is not a file nor a directory",
                  p->directive, path);
    p->depth--;
    return rc;
}

/*
 * Include PATTERN: a file, a directory or a glob(3) wildcard. Relative
 * paths are taken from the including file's directory (Apache takes them
 * from ServerRoot, which we do not have). A wildcard that matches nothing
 * and a file that does not exist are errors for Include and nothing for
 * IncludeOptional, as in Apache 2.4.
 */
int config_include(struct parser *p, const char *pattern, bool optional)
{
    const char *slash = strrchr(p->file, '/');
    size_t dirlen = slash && pattern[0] != '/' ? (size_t)(slash - p->file)
                                               : 0;
    size_t size = dirlen + strlen(pattern) + 2, i;
    char *full;
    glob_t g;
    int rc = 0, r;

    if (p->opt.no_includes)
        return fail(p, "%s is switched off here", p->directive);
    if (pattern[0] == '\0')
        return fail(p, "%s: expected a PATH, found ''", p->directive);
    full = malloc(size);
    if (full == NULL)
        return config_fail_oom(p);
    snprintf(full, size, "%.*s%s%s", (int)dirlen, p->file,
             dirlen ? "/" : "", pattern);

    if (strpbrk(full, "*?[") == NULL) {
        struct stat st;

        if (optional && stat(full, &st) < 0 && errno == ENOENT)
            rc = 0;
        else
            rc = include_entry(p, full);
        free(full);
        return rc;
    }

    r = glob(full, 0, NULL, &g);
    if (r == GLOB_NOMATCH && !optional)
        rc = fail(p, "%s: no file matches '%s'", p->directive, full);
    else if (r != 0 && r != GLOB_NOMATCH)
        rc = fail(p, "%s: cannot expand '%s'", p->directive, full);
    for (i = 0; r == 0 && i < g.gl_pathc && rc == 0; i++)
        rc = include_entry(p, g.gl_pathv[i]);
    if (r == 0)
        globfree(&g);
    free(full);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The end of the configuration                                        */

static int check_balancers(struct parser *p)
{
    struct config *c = p->cfg;
    size_t i;

    for (i = 0; i < c->nbalancers; i++) {
        struct balancer *b = c->balancers[i];
        struct balancer_note *n = &p->bnotes[i];

        if (b->nmembers == 0)
            return config_fail_at(p, n->file, n->line,
                                  "%s has no members: expected "
                                  "BalancerMember lines in <Proxy %s> (or "
                                  "BalancerMember %s URL)", b->name,
                                  b->name, b->name);
        if (b->sticky_insert && b->sticky_cookie == NULL)
            return config_fail_at(p, n->insert_file, n->insert_line,
                                  "%s: stickysessioninsert=On needs "
                                  "stickysession=NAME, the cookie to set",
                                  b->name);
        if (b->maxattempts < 0)
            b->maxattempts = (int)b->nmembers - 1;
    }
    return 0;
}

/* Give each CustomLog that names a nickname its format. */
static int resolve_access_logs(struct parser *p)
{
    struct config *c = p->cfg;
    size_t i, f;

    for (i = 0; i < c->naccess_logs; i++) {
        struct access_log *log = &c->access_logs[i];
        struct access_log_note *n = &p->lnotes[i];
        char *text;

        if (!n->by_nickname)
            continue;
        p->file = n->file;
        p->line = n->line;
        p->directive = "CustomLog";
        f = config_format_index(c, log->format_text);
        if (f == c->nformats)
            return fail(p, "CustomLog: expected a format with %% "
                        "directives or a LogFormat nickname, found "
                        "'%s'", log->format_text);
        text = strdup(c->format_texts[f]);
        if (text == NULL)
            return config_fail_oom(p);
        free(log->format_text);
        log->format_text = text;
        log->format = config_compile_format(p, text);
        if (log->format == NULL)
            return -1;
    }
    return 0;
}

static int finish(struct parser *p, int last_line)
{
    struct config *c = p->cfg;
    char host[256];
    size_t i;

    if (check_balancers(p) < 0)
        return -1;
    if (health_config_finish(c, p->err, p->errsize) < 0)
        return config_fail_at(p, c->file, last_line, "%s",
                              config_out_of_memory);
    if (c->nlisteners == 0)
        return config_fail_at(p, c->file, last_line, "no Listen directive: "
                              "expected at least one Listen [ADDR:]PORT");
    if (resolve_access_logs(p) < 0)
        return -1;
    if (config_vhosts_finish(p, last_line) < 0)
        return -1;
    config_check_locations(p);

    if (!p->proxy_timeout_set)
        c->proxy_timeout_ms = c->timeout_ms;
    if (c->server_name == NULL) {
        if (gethostname(host, sizeof(host)) < 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        c->server_name = strdup(host);
        if (c->server_name == NULL)
            return config_fail_at(p, c->file, last_line, "%s",
                                  config_out_of_memory);
    }

    for (i = 0; i < c->nbalancers; i++)
        if (balancer_init_runtime(c->balancers[i]) < 0)
            return config_fail_at(p, c->file, last_line,
                                  "%s: cannot initialise its lock",
                                  c->balancers[i]->name);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The snapshot                                                        */

/* A snapshot with the defaults, in p->cfg (which may be NULL on error). */
static int config_new(struct parser *p, const char *name)
{
    static const char *const predefined[][2] = {
        { "common", LOG_FORMAT_COMMON },
        { "combined", LOG_FORMAT_COMBINED },
        { "balancer", LOG_FORMAT_BALANCER },
    };
    struct config *c = calloc(1, sizeof(*c));
    size_t i;

    p->cfg = c;
    if (c == NULL || (c->file = strdup(name)) == NULL)
        return config_fail_at(p, name, 0, "%s", config_out_of_memory);
    c->add_headers = true;
    c->preserve_host = false;
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    c->proxy_timeout_ms = DEFAULT_TIMEOUT_MS;
    c->log_level = LOG_LEVEL_WARN;
    c->limits.max_request_line = 8190;
    c->limits.max_field_size = 8190;
    c->limits.max_fields = 100;
    limits_defaults(&c->client);

    p->file = c->file;
    p->directive = "LogFormat";
    for (i = 0; i < sizeof(predefined) / sizeof(predefined[0]); i++)
        if (config_define_format(p, predefined[i][0], predefined[i][1]) < 0)
            return -1;
    p->directive = NULL;
    return 0;
}

static void parser_done(struct parser *p)
{
    size_t i;

    for (i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    free(p->bnotes);
    free(p->lnotes);
    free(p->vnotes);
}

static void parser_init(struct parser *p, const struct config_options *opt,
                        char *errbuf, size_t errsize)
{
    memset(p, 0, sizeof(*p));
    if (opt != NULL)
        p->opt = *opt;
    p->err = errbuf;
    p->errsize = errsize;
    if (errsize > 0)
        errbuf[0] = '\0';
}

/* Read name's text, or (text NULL) the file name, into a snapshot. */
static struct config *load(const char *name, const char *text,
                           const struct config_options *opt, char *errbuf,
                           size_t errsize)
{
    struct parser p;
    struct config *c;
    int last_line = 0, rc;

    parser_init(&p, opt, errbuf, errsize);
    rc = config_new(&p, name);
    c = p.cfg;
    if (rc < 0)
        goto fail_free;

    p.file = c->file;
    p.line = 0;
    if (text != NULL)
        rc = run_file(&p, name, text, strlen(text), &last_line);
    else
        rc = run_path(&p, name, &last_line);
    if (rc < 0 || finish(&p, last_line) < 0)
        goto fail_free;

    parser_done(&p);
    return c;

fail_free:
    if (errsize > 0 && errbuf[0] == '\0')
        snprintf(errbuf, errsize, "%s: cannot read the configuration",
                 name);
    config_free(c);
    parser_done(&p);
    return NULL;
}

struct config *config_load(const char *path, char *errbuf, size_t errsize)
{
    return load(path, NULL, NULL, errbuf, errsize);
}

struct config *config_load_string(const char *name, const char *text,
                                  char *errbuf, size_t errsize)
{
    return load(name, text, NULL, errbuf, errsize);
}

struct config *config_load_string_options(const char *name, const char *text,
                                          const struct config_options *opt,
                                          char *errbuf, size_t errsize)
{
    return load(name, text, opt, errbuf, errsize);
}

void config_listeners_text(const struct config *c, char *buf, size_t size)
{
    size_t i, len = 0;

    if (size == 0)
        return;
    buf[0] = '\0';
    for (i = 0; i < c->nlisteners && len < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
                         c->listeners[i].text);

        if (n < 0)
            break;
        len += (size_t)n;
    }
}

void config_free(struct config *c)
{
    size_t i;

    if (c == NULL)
        return;

    for (i = 0; i < c->nlisteners; i++)
        free(c->listeners[i].text);
    free(c->listeners);
    config_vhosts_free(c);

    for (i = 0; i < c->npasses; i++) {
        free(c->passes[i].path);
        free(c->passes[i].url);
        free(c->passes[i].url_path);
    }
    free(c->passes);

    for (i = 0; i < c->nreverses; i++) {
        free(c->reverses[i].path);
        free(c->reverses[i].url);
    }
    free(c->reverses);

    for (i = 0; i < c->nbalancers; i++)
        balancer_free(c->balancers[i]);
    free(c->balancers);
    location_free_all(c->locations, c->nlocations);
    config_free_words(c->session_cookies);
    health_config_free(c->health);

    for (i = 0; i < c->nformats; i++) {
        log_format_free(c->formats[i]);
        free(c->format_names[i]);
        free(c->format_texts[i]);
    }
    free(c->formats);
    free(c->format_names);
    free(c->format_texts);

    for (i = 0; i < c->naccess_logs; i++) {
        struct access_log *log = &c->access_logs[i];

        if (log->fd >= 0)
            access_log_close(log);
        if (log->format != NULL)
            log_format_free(log->format);
        free(log->path);
        free(log->format_text);
    }
    free(c->access_logs);

    free(c->error_log);
    free(c->pid_file);
    free(c->server_name);
    free(c->file);
    free(c);
}

struct balancer *config_find_balancer(const struct config *c,
                                      const char *name)
{
    size_t len = strlen(name), i;

    while (len > 0 && name[len - 1] == '/' &&
           config_has_scheme(name, "balancer"))
        len--;
    for (i = 0; i < c->nbalancers; i++) {
        const char *n = c->balancers[i]->name;

        if (strlen(n) == len && strncasecmp(n, name, len) == 0)
            return c->balancers[i];
    }
    return NULL;
}

