/*
 * config_internal.h - what the parts of the configuration reader share:
 * the parser's state and the helpers each part calls. Not for use
 * outside src/config*.c.
 *
 *   config.c            lines, words, sections, Include, the end checks
 *   config_directive.c  the directive table and its handlers
 *   config_param.c      URLs, balancers, members, key=value parameters
 *
 * Every function that fails writes "FILE:LINE: cause" through
 * config_fail_at and returns -1 (or NULL).
 */
#ifndef BALANCER_CONFIG_INTERNAL_H
#define BALANCER_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define MAX_INCLUDE_DEPTH   16
#define MAX_SECTIONS        32
#define MAX_FILE_SIZE       (16 * 1024 * 1024)
#define MAX_SECONDS         86400           /* one day, for every timeout */

#define DEFAULT_TIMEOUT_MS  60000
#define DEFAULT_RETRY_MS    60000

/* Where a directive may appear. <IfModule> does not count as a place. */
enum place {
    IN_MAIN = 1 << 0,       /* top level */
    IN_VHOST = 1 << 1,      /* inside <VirtualHost> */
    IN_PROXY = 1 << 2,      /* inside <Proxy balancer://NAME> */
    IN_LOCATION = 1 << 3    /* inside <Location PATH> */
};

#define IN_SERVER (IN_MAIN | IN_VHOST)
#define IN_ANY (IN_MAIN | IN_VHOST | IN_PROXY)

enum section_kind {
    SECTION_PROXY, SECTION_VHOST, SECTION_IFMODULE, SECTION_LOCATION
};

struct section {
    enum section_kind kind;
    const char *file;
    int line;
    bool skip;                  /* an <IfModule> whose test failed */
    struct balancer *balancer;  /* SECTION_PROXY */
    size_t location;            /* SECTION_LOCATION: cfg->locations[i] */
};

/* What the end-of-file checks need to know about balancers[i]. */
struct balancer_note {
    const char *file;           /* first mention */
    int line;
    const char *insert_file;    /* stickysessioninsert=On */
    int insert_line;
};

/* Where a directive was read. */
struct config_place_note {
    const char *file;
    int line;
};

/* Where the parts of vhosts[i] came from (config_vhost.c). */
struct vhost_note {
    struct config_place_note open, engine, certificate, key, ciphers,
                             suites;
    struct config_place_note mapping;   /* first ProxyPass* inside */
};

/* Where access_logs[i] came from; nickname set when its format is one. */
struct access_log_note {
    const char *file;
    int line;
    bool by_nickname;
};

struct parser {
    struct config *cfg;
    struct config_options opt;
    char *err;
    size_t errsize;

    const char *file;           /* where we are, for messages */
    int line;
    const char *directive;      /* the table's spelling */

    char **files;               /* names of every file read, owned */
    size_t nfiles;
    int depth;                  /* Include nesting */

    struct section sections[MAX_SECTIONS];
    int nsections;
    bool proxy_timeout_set;

    struct balancer_note *bnotes;   /* parallel to cfg->balancers */
    struct access_log_note *lnotes; /* parallel to cfg->access_logs */
    struct vhost_note *vnotes;      /* parallel to cfg->vhosts */
};


extern const char config_out_of_memory[];

/* ---- config.c ---------------------------------------------------- */

/* Write "FILE:LINE: " and the message to the caller's error buffer.
 * Returns -1, so that handlers can "return fail(p, ...)". */
int config_fail_at(struct parser *p, const char *file, int line,
                   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define fail(p, ...) config_fail_at((p), (p)->file, (p)->line, __VA_ARGS__)

/* fail() with "out of memory"; returns -1. */
int config_fail_oom(struct parser *p);

/* realloc array of n elements of size elem to n + 1, the new one zeroed;
 * NULL (array untouched) when memory is short. */
void *config_grow(void *array, size_t n, size_t elem);

bool config_is_space(char c);

/* A decimal number min..max, digits only. Returns 0 or -1. */
int config_parse_number(const char *s, long min, long max, long *out);

/* On|Off in any case. Returns 0 or -1. */
int config_parse_on_off(const char *s, bool *out);

/* Whole seconds from min to MAX_SECONDS, into milliseconds. 0 or -1. */
int config_parse_seconds(const char *s, long min, int *ms);

/* The innermost section that is not an <IfModule>, or NULL at top
 * level; and the place that makes (IN_MAIN, IN_VHOST or IN_PROXY). */
struct section *config_enclosing(struct parser *p);
enum place config_current_place(struct parser *p);

/* Include / IncludeOptional PATTERN from the current file. 0 or -1. */
int config_include(struct parser *p, const char *pattern, bool optional);

/* ---- config_directive.c ------------------------------------------ */

/* Run the directive argv[0] with its argc - 1 arguments. 0 or -1. */
int config_run_directive(struct parser *p, int argc, char **argv);

/* Compile a LogFormat string, or NULL with the error written. */
struct log_format *config_compile_format(struct parser *p, const char *text);

/* The index of LogFormat nickname name, or c->nformats when none. */
size_t config_format_index(const struct config *c, const char *name);

/* Define or redefine the LogFormat nickname name as text. 0 or -1. */
int config_define_format(struct parser *p, const char *name,
                         const char *text);

/* Is the module built in (for <IfModule>; identifier_only: only the
 * "proxy_module" form, for LoadModule)? */
bool config_module_present(const char *name, bool identifier_only);

/* Is name in the NULL-terminated list, in any case? */
bool config_in_list(const char *const *list, const char *name);

/* "at top level", "inside <VirtualHost>", "inside <Proxy>". */
const char *config_place_name(enum place place);

/* ---- config_param.c ---------------------------------------------- */

bool config_has_scheme(const char *url, const char *scheme);

/* Refuse url: "not supported yet" for schemes mod_proxy has and we do
 * not, else "expected WHAT, found URL". Returns -1. */
int config_fail_scheme(struct parser *p, const char *what, const char *url);

/* Resolve host (numeric only with opt.numeric_hosts_only) and port into
 * addr. Returns 0, or -1 with the resolver's cause in *cause. */
int config_resolve(struct parser *p, const char *host, uint16_t port,
                   bool passive, struct sockaddr_storage *addr,
                   socklen_t *addrlen, const char **cause);

/* Split "host[:port]" or "[v6][:port]" of length len into host (no
 * brackets) and *port (0 when none). NULL, or what was expected. */
const char *config_split_hostport(const char *text, size_t len, char *host,
                                  size_t hostsize, long *port);

/* A member with the defaults; NULL when memory is short. Freed with
 * config_member_discard until added to a balancer. */
struct member *config_member_new(void);
void config_member_discard(struct member *m);

/* Set m's URL fields from "http://host[:port][/path]", resolving host. */
int config_member_set_url(struct parser *p, struct member *m,
                          const char *url);

/* Append m to b (m is freed on failure). 0 or -1. */
int config_add_member(struct parser *p, struct balancer *b,
                      struct member *m);

/* The index of the balancer named name in c, or c->nbalancers. */
size_t config_balancer_index(const struct config *c, const char *name);

/* The balancer of "balancer://NAME[/PATH]", created at its first
 * mention; *path (may be NULL) gets the part after NAME. */
struct balancer *config_named_balancer(struct parser *p, const char *url,
                                       const char **path);

/* The same for "balancer://NAME" or "balancer://NAME/" only. */
struct balancer *config_balancer_arg(struct parser *p, const char *url);

/* The anonymous one-member balancer of a plain http:// URL. */
struct balancer *config_anonymous_balancer(struct parser *p,
                                           const char *url);

/* Apply key=value words to a balancer or a member. 0 or -1. */
int config_balancer_params(struct parser *p, struct balancer *b, int argc,
                           char **argv);
int config_member_params(struct parser *p, struct member *m, int argc,
                         char **argv);

/* ---- config_limits.c: handlers (see client_limits.h) -------------- */

int config_do_keepalive(struct parser *p, int argc, char **argv);
int config_do_keepalive_timeout(struct parser *p, int argc, char **argv);
int config_do_max_keepalive_requests(struct parser *p, int argc,
                                     char **argv);
int config_do_limit_request_body(struct parser *p, int argc, char **argv);
int config_do_request_read_timeout(struct parser *p, int argc, char **argv);
int config_do_max_clients(struct parser *p, int argc, char **argv);

/* ---- config_location.c: <Location>, SetHandler, Require ---------- */

/* <Location PATH>: a new cfg->locations entry and its section. */
int config_open_location(struct parser *p, int argc, char **argv);
int config_do_set_handler(struct parser *p, int argc, char **argv);
int config_do_require(struct parser *p, int argc, char **argv);

/* BalancerSessionCookies NAME ...|None (diagnose.h). */
int config_do_session_cookies(struct parser *p, int argc, char **argv);

/* Free a NULL-terminated array of strings; NULL is fine. */
void config_free_words(char **words);

/* At the end: warn about handlers a ProxyPass shadows. */
void config_check_locations(struct parser *p);

/* config.c: push the section of cfg->locations[index]. 0 or -1. */
int config_push_location(struct parser *p, size_t index);

/* ---- config_vhost.c: <VirtualHost>, Redirect, mod_ssl ------------- */

/* A ProxyPass or ProxyPassReverse was read: noted when inside a
 * <VirtualHost>, for config_vhosts_finish's check. */
void config_vhost_note_mapping(struct parser *p);

/* <VirtualHost ADDR ...> opens: a new cfg->vhosts entry. 0 or -1. */
int config_vhost_open(struct parser *p, int argc, char **argv);

/* </VirtualHost>: check its TLS settings and make its SSL_CTX. */
int config_vhost_close(struct parser *p);

/* ServerName inside a <VirtualHost>. 0 or -1. */
int config_vhost_server_name(struct parser *p, const char *name);

/* At the end: tie listeners to virtual hosts (Listen https checked).
 * 0 or -1. */
int config_vhosts_finish(struct parser *p, int last_line);

/* Free c's virtual hosts (their TLS contexts too). */
void config_vhosts_free(struct config *c);

int config_do_ssl_engine(struct parser *p, int argc, char **argv);
int config_do_ssl_certificate_file(struct parser *p, int argc, char **argv);
int config_do_ssl_certificate_key_file(struct parser *p, int argc,
                                       char **argv);
int config_do_ssl_protocol(struct parser *p, int argc, char **argv);
int config_do_ssl_cipher_suite(struct parser *p, int argc, char **argv);
int config_do_redirect(struct parser *p, int argc, char **argv);

#endif
