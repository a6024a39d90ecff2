/*
 * config.h - the configuration, read from Apache httpd syntax.
 *
 * config_load reads a file (and what it Includes) into one immutable
 * snapshot; everything in it is owned by the snapshot and freed by
 * config_free. Directives are declared in one table, in
 * config_directive.c.
 */
#ifndef BALANCER_CONFIG_H
#define BALANCER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "balancer.h"
#include "http1.h"
#include "client_limits.h"
#include "log.h"

struct location;                    /* location.h */

struct vhost;
struct ssl_ctx_st;                  /* OpenSSL's SSL_CTX */

struct location;                    /* location.h */

struct listener_config {
    char *text;                     /* as written: "127.0.0.1:8080" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool https;                     /* Listen ... https: needs TLS */
    const struct vhost *vhost;      /* the <VirtualHost> serving it, or
                                       NULL (see config_vhost.c) */
};

/* Redirect [STATUS] PATH [URL] (mod_alias): a request whose path is
 * PATH or below it gets STATUS with Location URL + the rest. */
struct redirect {
    char *path;
    char *url;                      /* NULL for a status without one */
    int status;                     /* 301, 302, 303, other 3xx, 410 ... */
};

/* TLS settings of a <VirtualHost> (SSLEngine On ...). */
struct vhost_tls {
    bool engine;                    /* SSLEngine On */
    char *certificate_file;         /* SSLCertificateFile */
    char *key_file;                 /* SSLCertificateKeyFile (or NULL:
                                       the key is in certificate_file) */
    unsigned protocols;             /* TLS_PROTOCOL_* bits (tls.h) */
    char *cipher_list;              /* SSLCipherSuite [SSL] ... (1.2) */
    char *cipher_suites;            /* SSLCipherSuite TLSv1.3 ... */
    struct ssl_ctx_st *context;     /* OpenSSL's SSL_CTX, made at load
                                       time; NULL when engine is off */
};

/* One <VirtualHost ADDR:PORT ...>: which listeners it serves and what is
 * its own there. ProxyPass, balancers and the rest stay global. */
struct vhost {
    char **addresses;               /* as written: "*:443", "_default_" */
    size_t naddresses;
    char *server_name;              /* ServerName inside, or NULL */
    struct redirect *redirects;
    size_t nredirects;
    struct vhost_tls tls;
};

/* One ProxyPass: requests whose path starts with path go to balancer. */
struct proxy_pass {
    char *path;                     /* the prefix, e.g. "/" or "/app/" */
    bool exclude;                   /* ProxyPass PATH ! */
    struct balancer *balancer;      /* NULL when exclude */
    char *url;                      /* the URL as written */
    char *url_path;                 /* path after balancer://name, e.g.
                                       "/"; for a plain http:// URL the
                                       member's path holds the URL's path
                                       and this only its trailing "/" (or
                                       ""), so member path + url_path +
                                       rest is the back-end target */
};

/* One ProxyPassReverse: a back-end URL prefix and the front-end path. */
struct proxy_pass_reverse {
    char *path;                     /* front-end path, e.g. "/" */
    char *url;                      /* back-end URL or balancer://name/... */
    struct balancer *balancer;      /* when url is balancer://: every
                                       member's URL is matched */
};

enum add_headers { ADD_HEADERS_ON, ADD_HEADERS_OFF };

struct config {
    char *file;                     /* the main file as given */
    char *server_name;              /* ServerName, or the host name */

    struct listener_config *listeners;
    size_t nlisteners;
    struct vhost **vhosts;          /* in configuration order */
    size_t nvhosts;

    struct proxy_pass *passes;      /* in configuration order: the first
                                       match wins, as in Apache */
    size_t npasses;
    struct proxy_pass_reverse *reverses;
    size_t nreverses;

    struct balancer **balancers;    /* named and anonymous */
    size_t nbalancers;

    struct location *locations;     /* <Location> sections, in order */
    size_t nlocations;
    char **session_cookies;         /* BalancerSessionCookies, NULL-
                                       terminated; NULL: the defaults
                                       (diagnose.h) */

    bool preserve_host;             /* ProxyPreserveHost */
    bool add_headers;               /* ProxyAddHeaders, default On */
    int proxy_timeout_ms;           /* ProxyTimeout, default 60 s
                                       (Apache: the Timeout directive) */
    int timeout_ms;                 /* Timeout: client I/O, default 60 s */
    int threads;                    /* ThreadsPerChild-like: ours,
                                       Workers N; 0 = number of cores */

    int log_level;                  /* LogLevel */
    char *error_log;                /* ErrorLog path, NULL: stderr */
    char *pid_file;                 /* PidFile as written, NULL: the
                                       default (pidfile.h) */
    bool balancer_persist;          /* BalancerPersist (persist.h) */
    struct log_format **formats;    /* LogFormat nicknames */
    char **format_names;            /* formats[i]'s nickname, "common" .. */
    char **format_texts;            /* formats[i] as written */
    size_t nformats;
    struct access_log *access_logs; /* CustomLog */
    size_t naccess_logs;

    struct http1_limits limits;

    struct health_config *health;   /* ProxyHCExpr ..., health.h */
    struct client_limits client;    /* KeepAlive, RequestReadTimeout,
                                       LimitRequestBody, MaxClients.. */

};

/*
 * Read path into a new snapshot. On error returns NULL and writes
 * "FILE:LINE: cause" to errbuf (size errsize). Host names in member URLs
 * and Listen are resolved here.
 */
struct config *config_load(const char *path, char *errbuf, size_t errsize);

/* Same, from a string (for tests); name is used in error messages and
 * relative Include paths are taken from its directory. */
struct config *config_load_string(const char *name, const char *text,
                                  char *errbuf, size_t errsize);

/* What config_load_string_options may switch off (for the fuzzer, which
 * must not query DNS nor read the file system). Zero: the defaults. */
struct config_options {
    bool numeric_hosts_only;        /* host names fail to resolve */
    bool no_includes;               /* Include is an error */
};

struct config *config_load_string_options(const char *name, const char *text,
                                          const struct config_options *opt,
                                          char *errbuf, size_t errsize);

/* Free c and everything it owns (access logs still open are closed).
 * NULL is fine. */
void config_free(struct config *c);

/* "ADDR:PORT, ADDR:PORT" of c's Listen lines into buf (cut to size),
 * for start-up and reload log lines. */
void config_listeners_text(const struct config *c, char *buf, size_t size);

/* The balancer named "balancer://name" (case does not matter, a trailing
 * "/" neither), or an anonymous one by its URL; NULL when none. */
struct balancer *config_find_balancer(const struct config *c,
                                      const char *name);

#endif
