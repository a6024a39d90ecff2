/*
 * config_vhost.c - <VirtualHost> sections: which listener each serves,
 * and what is its own there: ServerName, Redirect (mod_alias) and the
 * TLS settings of mod_ssl (SSLEngine, SSLCertificateFile,
 * SSLCertificateKeyFile, SSLProtocol, SSLCipherSuite).
 *
 * A virtual host is chosen by the listener a connection arrived on, not
 * by the Host header: one <VirtualHost> per listener (name-based virtual
 * hosts and SNI are not supported). ProxyPass, ProxyPassReverse,
 * balancers and the other directives inside a <VirtualHost> apply to
 * every listener, as the one virtual host of the first version did.
 *
 * Matching addresses to listeners (Apache's rules, per listener):
 * "*:PORT" and "_default_:PORT" take every Listen on PORT; "ADDR:PORT"
 * takes the Listen on that address and port, or on the wildcard address
 * and that port; a missing port or "*" as port takes any port. A lone
 * <VirtualHost> without TLS that matches no Listen serves them all (what
 * the first version did with any address); any other <VirtualHost> that
 * matches no Listen is an error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "tls.h"

/* The <VirtualHost> being read (the parser is inside one). */
static struct vhost *current(struct parser *p)
{
    return p->cfg->vhosts[p->cfg->nvhosts - 1];
}

static struct vhost_note *current_note(struct parser *p)
{
    return &p->vnotes[p->cfg->nvhosts - 1];
}

static void note_here(struct parser *p, struct config_place_note *n)
{
    n->file = p->file;
    n->line = p->line;
}

void config_vhost_note_mapping(struct parser *p)
{
    struct config_place_note *n;

    if (config_current_place(p) != IN_VHOST)
        return;
    n = &current_note(p)->mapping;
    if (n->file == NULL)
        note_here(p, n);
}

/*
 * ProxyPass and ProxyPassReverse apply to every listener (one mapping
 * table). With one <VirtualHost> that is what its lines mean; with more,
 * per-host mappings would be silently merged, so they are refused.
 */
static int check_vhost_mappings(struct parser *p)
{
    size_t vi;

    if (p->cfg->nvhosts < 2)
        return 0;
    for (vi = 0; vi < p->cfg->nvhosts; vi++) {
        const struct config_place_note *n = &p->vnotes[vi].mapping;

        if (n->file != NULL)
            return config_fail_at(p, n->file, n->line,
                                  "ProxyPass and ProxyPassReverse inside "
                                  "one of several <VirtualHost> sections "
                                  "are not supported yet: every virtual "
                                  "host shares one mapping; put them at "
                                  "top level");
    }
    return 0;
}

int config_vhost_open(struct parser *p, int argc, char **argv)
{
    struct config *c = p->cfg;
    struct vhost **list, *v;
    struct vhost_note *notes;
    int i;

    list = config_grow(c->vhosts, c->nvhosts, sizeof(*list));
    if (list == NULL)
        return config_fail_oom(p);
    c->vhosts = list;
    notes = config_grow(p->vnotes, c->nvhosts, sizeof(*notes));
    if (notes == NULL)
        return config_fail_oom(p);
    p->vnotes = notes;
    v = calloc(1, sizeof(*v));
    if (v == NULL)
        return config_fail_oom(p);
    c->vhosts[c->nvhosts++] = v;
    note_here(p, &p->vnotes[c->nvhosts - 1].open);

    v->addresses = calloc((size_t)argc, sizeof(*v->addresses));
    if (v->addresses == NULL)
        return config_fail_oom(p);
    for (i = 0; i < argc; i++) {
        v->addresses[i] = strdup(argv[i]);
        if (v->addresses[i] == NULL)
            return config_fail_oom(p);
        v->naddresses++;
    }
    return 0;
}

/* ---- directives inside <VirtualHost> ---------------------------------- */

static int set_string(struct parser *p, char **field, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return config_fail_oom(p);
    free(*field);
    *field = copy;
    return 0;
}

int config_vhost_server_name(struct parser *p, const char *name)
{
    return set_string(p, &current(p)->server_name, name);
}

int config_do_ssl_engine(struct parser *p, int argc, char **argv)
{
    if (config_parse_on_off(argv[0], &current(p)->tls.engine) < 0)
        return fail(p, "SSLEngine: expected On or Off, found '%s' "
                    "(optional and addresses are not supported)", argv[0]);
    note_here(p, &current_note(p)->engine);
    return 0;
}

/* A file path as written; relative ones are taken from the directory of
 * the file that names them, as Include does (no ServerRoot). */
static int set_path(struct parser *p, char **field, const char *path,
                    struct config_place_note *note)
{
    const char *slash = strrchr(p->file, '/');
    size_t dirlen = slash && path[0] != '/' ? (size_t)(slash - p->file) : 0;
    size_t size = dirlen + strlen(path) + 2;
    char *full;

    if (path[0] == '\0')
        return fail(p, "%s: expected a PATH, found ''", p->directive);
    if (*field != NULL)
        return fail(p, "a second %s in one <VirtualHost> is not supported "
                    "(one certificate per virtual host)", p->directive);
    full = malloc(size);
    if (full == NULL)
        return config_fail_oom(p);
    snprintf(full, size, "%.*s%s%s", (int)dirlen, p->file,
             dirlen ? "/" : "", path);
    *field = full;
    note_here(p, note);
    return 0;
}

int config_do_ssl_certificate_file(struct parser *p, int argc, char **argv)
{
    return set_path(p, &current(p)->tls.certificate_file, argv[0],
                    &current_note(p)->certificate);
}

int config_do_ssl_certificate_key_file(struct parser *p, int argc,
                                       char **argv)
{
    return set_path(p, &current(p)->tls.key_file, argv[0],
                    &current_note(p)->key);
}

int config_do_ssl_protocol(struct parser *p, int argc, char **argv)
{
    char why[160];

    if (tls_parse_protocols(argc, argv, &current(p)->tls.protocols, why,
                            sizeof(why)) < 0)
        return fail(p, "SSLProtocol: %s", why);
    return 0;
}

/* SSLCipherSuite [SSL|TLSv1.3] SPEC, as Apache 2.4.36+. */
int config_do_ssl_cipher_suite(struct parser *p, int argc, char **argv)
{
    struct vhost_tls *t = &current(p)->tls;
    struct vhost_note *n = current_note(p);

    if (argc == 1 || strcasecmp(argv[0], "SSL") == 0) {
        note_here(p, &n->ciphers);
        return set_string(p, &t->cipher_list, argv[argc - 1]);
    }
    if (strcasecmp(argv[0], "TLSv1.3") == 0) {
        note_here(p, &n->suites);
        return set_string(p, &t->cipher_suites, argv[1]);
    }
    return fail(p, "SSLCipherSuite: expected SSL or TLSv1.3 before the "
                "cipher list, found '%s'", argv[0]);
}

/* mod_alias's status words, and whether each takes a URL. */
static int redirect_status(const char *word, int *status)
{
    static const struct { const char *name; int status; } words[] = {
        { "permanent", 301 }, { "temp", 302 }, { "seeother", 303 },
        { "gone", 410 }
    };
    size_t i;
    long n;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(word, words[i].name) == 0) {
            *status = words[i].status;
            return 0;
        }
    }
    if (config_parse_number(word, 300, 599, &n) < 0)
        return -1;
    *status = (int)n;
    return 0;
}

static bool redirect_url_ok(const char *url)
{
    const char *colon = strstr(url, "://");

    if (url[0] == '/')
        return true;
    return colon != NULL && colon > url &&
           strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                  "WXYZ0123456789+-.") == (size_t)(colon - url) &&
           strpbrk(url, " \t\r\n\"<>") == NULL;
}

/* Redirect [STATUS] URL-PATH [URL]: STATUS 3xx takes a URL, the others
 * (gone, 4xx, 5xx) none; without STATUS it is temp (302). */
int config_do_redirect(struct parser *p, int argc, char **argv)
{
    struct vhost *v = current(p);
    struct redirect r = { NULL, NULL, 302 }, *list;
    int i = 0;

    if (argv[0][0] != '/' && redirect_status(argv[i++], &r.status) < 0)
        return fail(p, "Redirect: expected permanent, temp, seeother, "
                    "gone or a status from 300 to 599, found '%s'",
                    argv[0]);
    if (i >= argc || argv[i][0] != '/')
        return fail(p, "Redirect: expected a URL-path starting with '/', "
                    "found '%s'", i < argc ? argv[i] : "");
    if (r.status >= 300 && r.status < 400 && argc - i != 2)
        return fail(p, "Redirect: status %d expects URL-PATH URL, found "
                    "%d arguments after the status", r.status, argc - i);
    if ((r.status < 300 || r.status >= 400) && argc - i != 1)
        return fail(p, "Redirect: status %d takes no URL, found '%s'",
                    r.status, argv[argc - 1]);
    if (argc - i == 2 && !redirect_url_ok(argv[i + 1]))
        return fail(p, "Redirect: expected an absolute URL (scheme://host"
                    "/...) or a path starting with '/', found '%s'",
                    argv[i + 1]);

    list = config_grow(v->redirects, v->nredirects, sizeof(*list));
    if (list == NULL)
        return config_fail_oom(p);
    v->redirects = list;
    r.path = strdup(argv[i]);
    r.url = argc - i == 2 ? strdup(argv[i + 1]) : NULL;
    if (r.path == NULL || (argc - i == 2 && r.url == NULL)) {
        free(r.path);
        free(r.url);
        return config_fail_oom(p);
    }
    v->redirects[v->nredirects++] = r;
    return 0;
}

/* ---- </VirtualHost>: the TLS context ---------------------------------- */

static const struct config_place_note *blamed(const struct vhost_note *n,
                                              enum tls_setting s)
{
    switch (s) {
    case TLS_SETTING_CERTIFICATE:
        return &n->certificate;
    case TLS_SETTING_KEY:
        return &n->key;
    case TLS_SETTING_CIPHERS:
        return &n->ciphers;
    case TLS_SETTING_SUITES:
        return &n->suites;
    default:
        return &n->engine;
    }
}

int config_vhost_close(struct parser *p)
{
    struct vhost *v = current(p);
    const struct vhost_note *n = current_note(p);
    const struct config_place_note *at;
    enum tls_setting setting;
    char cause[512];

    if (!v->tls.engine)
        return 0;
    if (v->tls.certificate_file == NULL)
        return config_fail_at(p, n->engine.file, n->engine.line,
                              "SSLEngine On needs an SSLCertificateFile in "
                              "the same <VirtualHost>");
    if (p->opt.no_includes)
        return 0;           /* files are not read here (the fuzzer) */

    v->tls.context = tls_context_new(&v->tls, &setting, cause,
                                     sizeof(cause));
    if (v->tls.context != NULL)
        return 0;
    at = blamed(n, setting);
    return config_fail_at(p, at->file, at->line, "%s", cause);
}

/* ---- the end: listeners and their virtual hosts ------------------------ */

/* An address of <VirtualHost>: host (any_host: "*" or "_default_") and
 * port (0: none or "*", any). */
static int parse_address(struct parser *p, const char *text,
                         struct sockaddr_storage *addr, bool *any_host,
                         long *port)
{
    char host[256];
    const char *cause, *colon = strrchr(text, ':');
    size_t host_len;
    socklen_t len;

    *port = 0;
    *any_host = strncmp(text, "*", 1) == 0 ||
                strncasecmp(text, "_default_", 9) == 0;
    if (*any_host || (colon != NULL && strcmp(colon, ":*") == 0)) {
        host_len = colon != NULL ? (size_t)(colon - text) : strlen(text);
        if (colon != NULL && strcmp(colon, ":*") != 0 &&
            config_parse_number(colon + 1, 1, 65535, port) < 0)
            return fail(p, "<VirtualHost>: expected a port from 1 to 65535 "
                        "or *, found '%s'", text);
        snprintf(host, sizeof(host), "%.*s", (int)host_len, text);
    } else if (config_split_hostport(text, strlen(text), host,
                                     sizeof(host), port) != NULL) {
        return fail(p, "<VirtualHost>: expected ADDR[:PORT], found '%s'",
                    text);
    }
    if (*any_host) {
        if (strcmp(host, "*") != 0 && strcasecmp(host, "_default_") != 0)
            return fail(p, "<VirtualHost>: expected ADDR[:PORT], found "
                        "'%s'", text);
        return 0;
    }
    if (config_resolve(p, host, (uint16_t)*port, true, addr, &len,
                       &cause) < 0)
        return fail(p, "<VirtualHost %s>: cannot resolve '%s': %s", text,
                    host, cause);
    return 0;
}

static uint16_t port_of(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    return ntohs(((const struct sockaddr_in *)a)->sin_port);
}

static bool is_wildcard(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(
            &((const struct sockaddr_in6 *)a)->sin6_addr);
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == INADDR_ANY;
}

static bool same_host(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

static int take_listener(struct parser *p, size_t vi,
                         struct listener_config *l)
{
    struct config *c = p->cfg;
    size_t other;

    if (l->vhost == NULL || l->vhost == c->vhosts[vi]) {
        l->vhost = c->vhosts[vi];
        return 0;
    }
    for (other = 0; c->vhosts[other] != l->vhost; other++)
        ;
    return fail(p, "<VirtualHost> here and the one of %s:%d both serve "
                "Listen %s: name-based virtual hosts are not supported "
                "yet (one <VirtualHost> per listener)",
                p->vnotes[other].open.file, p->vnotes[other].open.line,
                l->text);
}

/* Tie vhosts[vi] to the listeners its addresses match. Returns the
 * count, or -1. */
static int bind_vhost(struct parser *p, size_t vi)
{
    struct config *c = p->cfg;
    struct vhost *v = c->vhosts[vi];
    int count = 0;
    size_t a, i;

    p->file = p->vnotes[vi].open.file;
    p->line = p->vnotes[vi].open.line;
    p->directive = "<VirtualHost>";
    for (a = 0; a < v->naddresses; a++) {
        struct sockaddr_storage addr;
        bool any_host;
        long port;

        memset(&addr, 0, sizeof(addr));
        if (parse_address(p, v->addresses[a], &addr, &any_host, &port) < 0)
            return -1;
        for (i = 0; i < c->nlisteners; i++) {
            struct listener_config *l = &c->listeners[i];

            if (port != 0 && port != port_of(&l->addr))
                continue;
            if (!any_host && !is_wildcard(&l->addr) &&
                !same_host(&addr, &l->addr))
                continue;
            if (take_listener(p, vi, l) < 0)
                return -1;
            count++;
        }
    }
    return count;
}

static int check_https(struct parser *p, int last_line)
{
    struct config *c = p->cfg;
    size_t i;

    for (i = 0; i < c->nlisteners; i++) {
        const struct listener_config *l = &c->listeners[i];

        if (l->https && (l->vhost == NULL || !l->vhost->tls.engine))
            return config_fail_at(p, c->file, last_line, "Listen %s "
                                  "https: no <VirtualHost> with SSLEngine "
                                  "On serves it", l->text);
    }
    return 0;
}

int config_vhosts_finish(struct parser *p, int last_line)
{
    struct config *c = p->cfg;
    size_t vi, i;

    for (vi = 0; vi < c->nvhosts; vi++) {
        int n = bind_vhost(p, vi);

        if (n < 0)
            return -1;
        if (n > 0)
            continue;
        if (c->nvhosts == 1 && !c->vhosts[vi]->tls.engine) {
            for (i = 0; i < c->nlisteners; i++)
                c->listeners[i].vhost = c->vhosts[vi];
            continue;
        }
        return fail(p, "<VirtualHost %s> matches no Listen address and "
                    "port", c->vhosts[vi]->addresses[0]);
    }
    if (check_https(p, last_line) < 0)
        return -1;
    if (check_vhost_mappings(p) < 0)
        return -1;

    /* A ServerName given only inside a virtual host names the server
     * too (X-Forwarded-Server on the other listeners), as before. */
    for (vi = 0; vi < c->nvhosts && c->server_name == NULL; vi++) {
        if (c->vhosts[vi]->server_name != NULL &&
            (c->server_name = strdup(c->vhosts[vi]->server_name)) == NULL)
            return config_fail_oom(p);
    }
    return 0;
}

void config_vhosts_free(struct config *c)
{
    size_t i, j;

    for (i = 0; i < c->nvhosts; i++) {
        struct vhost *v = c->vhosts[i];

        for (j = 0; j < v->naddresses; j++)
            free(v->addresses[j]);
        free(v->addresses);
        for (j = 0; j < v->nredirects; j++) {
            free(v->redirects[j].path);
            free(v->redirects[j].url);
        }
        free(v->redirects);
        free(v->server_name);
        free(v->tls.certificate_file);
        free(v->tls.key_file);
        free(v->tls.cipher_list);
        free(v->tls.cipher_suites);
        tls_context_free(v->tls.context);
        free(v);
    }
    free(c->vhosts);
    c->vhosts = NULL;
    c->nvhosts = 0;
}
