/*
 * handler.h - responses balancer makes itself: the handlers a
 * <Location PATH> names with SetHandler (balancer-manager, ...), and the
 * Require rules of <Location> sections.
 *
 * Dispatch, as Apache httpd does it: a request whose path a ProxyPass
 * maps is proxied, even under a <Location> with a handler (which is why
 * Apache's examples put "ProxyPass /balancer-manager !" before
 * "ProxyPass / balancer://..."). A request no ProxyPass maps (or that a
 * "ProxyPass PATH !" excludes) goes to the handler of the last
 * <Location> that matches it and sets one. The Require rules of the last
 * matching <Location> that has any apply to every request under it,
 * proxied or not: a client they refuse gets 403.
 *
 * Writing a handler. A handler is one function, named in the table of
 * handler.c:
 *
 *     static void hello(const struct handler_request *rq,
 *                       struct handler_response *rs)
 *     {
 *         rs->content_type = "text/plain; charset=utf-8";
 *         hbuf_printf(&rs->body, "hello %s\n", rq->client_ip);
 *     }
 *
 * It runs in the worker thread that received the request, once the whole
 * request body has arrived (bodies up to the input buffer's 16 KiB less
 * the head; larger ones get 413). It must not block: no file or network
 * I/O, no waiting on locks held for long. It reads shared state (atomics,
 * or briefly under a balancer's lock) and writes the whole response body
 * into rs->body, a growing buffer. Status defaults to 200, the content
 * type to text/html; balancer adds Date, Server, Content-Length,
 * Cache-Control: no-store and Connection, and for HEAD sends no body.
 * When memory runs short while building, the buffer says so (failed) and
 * the client gets 500.
 */
#ifndef BALANCER_HANDLER_H
#define BALANCER_HANDLER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "http1.h"
#include "location.h"

/* A growing buffer; a failed allocation sticks in failed. */
struct hbuf {
    char *data;
    size_t len;
    size_t size;
    bool failed;
};

struct handler_request {
    const struct config *config;
    const struct location *location;    /* the <Location> that chose it */
    const struct http1_request *req;    /* method, target, headers */
    const char *path;                   /* target up to '?', not decoded */
    size_t path_len;
    const char *query;                  /* after '?', "" when none */
    size_t query_len;
    const char *body;                   /* whole body, chunked decoded */
    size_t body_len;
    const char *client_ip;
    int worker_index;                   /* the worker thread serving it */
};

struct handler_response {
    int status;                         /* 200 unless set */
    const char *content_type;           /* static; text/html by default */
    struct hbuf headers;                /* more "Name: value\r\n" lines */
    struct hbuf body;
};

typedef void (*handler_fn)(const struct handler_request *rq,
                           struct handler_response *rs);

struct handler {
    const char *name;                   /* as in SetHandler */
    handler_fn serve;
};

/* The handler named name (case does not matter), or NULL. */
const struct handler *handler_find(const char *name);

/* The names of every handler, ", " between them (for messages). */
const char *handler_names(void);

/* Append n bytes of s / a C string / formatted text to b. */
void hbuf_put(struct hbuf *b, const char *s, size_t n);
void hbuf_puts(struct hbuf *b, const char *s);
void hbuf_printf(struct hbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append s (n bytes) escaped for HTML text and attribute values:
 * & < > " ' become entities, control bytes become U+FFFD. */
void hbuf_html(struct hbuf *b, const char *s, size_t n);

/* Append s (n bytes) percent-encoded for a URL query value. */
void hbuf_url(struct hbuf *b, const char *s, size_t n);

/* Free b's memory and empty it. */
void hbuf_free(struct hbuf *b);

/* Add the header "name: value" to rs (value must hold no CR or LF). */
void handler_add_header(struct handler_response *rs, const char *name,
                        const char *value);

/* Make rs a small HTML page for status, saying message (escaped). */
void handler_error_page(struct handler_response *rs, int status,
                        const char *message);

/* Is the request's method name? */
bool handler_method_is(const struct handler_request *rq, const char *name);

/*
 * The value of parameter name in application/x-www-form-urlencoded text
 * (a query string or a form body), percent- and '+'-decoded into buf
 * (NUL-terminated). Returns its length, -1 when absent, -2 when it does
 * not fit in buf or decodes to a NUL byte.
 */
int handler_form_value(const char *text, size_t len, const char *name,
                       char *buf, size_t size);

/* The value of request header name, or NULL (*len set). */
const char *handler_header(const struct handler_request *rq,
                           const char *name, size_t *len);

/* ---- used by the proxy (proxy.c) --------------------------------- */

struct conn;

/* The <Location> whose handler serves path (not decoded, no query), or
 * NULL. Call only for paths no ProxyPass maps. */
const struct location *handler_location(const struct config *c,
                                        const char *path, size_t path_len);

/*
 * Do the Require rules of the <Location> sections matching path allow
 * client_ip? fd is the client's socket (for "Require local"). True when
 * no section with Require matches.
 */
bool handler_allowed(const struct config *c, const char *path,
                     size_t path_len, const char *client_ip, int fd);

/*
 * Serve c's request with the handler of c->location: its body is
 * complete in c->in. Writes the head into c->ohead (taken from the loop
 * when NULL), hands the body to c->local_body (freed by the proxy), sets
 * c->status and c->local_body_len. Returns 0, or -1 when memory is short
 * (nothing to send: the caller answers 500).
 */
int handler_serve(struct conn *c);

#endif
