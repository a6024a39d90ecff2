/*
 * proxy_head.c - the heads the proxy writes: the request head for the
 * back end, the response head for the client, and our own error pages.
 * Each is built in a connection buffer; nothing is allocated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "diagnose.h"
#include "log.h"
#include "mapping.h"
#include "proxy_conn.h"
#include "rewrite.h"
#include "sticky.h"
#include "vhost.h"

/* A head being written into a fixed buffer; overflow sticks. */
struct out {
    char *buf;
    size_t len;
    size_t size;
    bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || n > o->size - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->size - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

static void put_header(struct out *o, const char *name, size_t name_len,
                       const char *value, size_t value_len)
{
    put(o, name, name_len);
    put(o, ": ", 2);
    put(o, value, value_len);
    put(o, "\r\n", 2);
}

/* Unsigned decimal, no printf on the hot path. */
static void put_u64(struct out *o, uint64_t v)
{
    char digits[20];
    size_t n = sizeof(digits);

    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(o, digits + n, sizeof(digits) - n);
}

/* "HTTP/1.1 NNN " (status is 100..999: the parser read three digits). */
static void put_status(struct out *o, int status)
{
    char line[13] = "HTTP/1.1 000 ";

    if (status < 100 || status > 999) {
        o->overflow = true;
        return;
    }
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    put(o, line, sizeof(line));
}

static bool name_is_n(const struct http1_header *h, const char *name,
                      size_t len)
{
    return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

/* name is a string literal: its length is known when compiling. */
#define name_is(h, name) name_is_n((h), "" name, sizeof(name) - 1)

/* Is h hop-by-hop in the head whose Connection names are conn? */
static bool hop_by_hop(const struct http1_conn_names *conn,
                       const struct http1_header *h)
{
    return http1_is_hop_by_hop_in(conn, h->name, h->name_len);
}

/*
 * Apache's ProxyAddHeaders merges what the request already carries with
 * its own value, comma separated (apr_table_mergen): one header out.
 */
static void put_forwarded_n(struct out *o, const struct http1_request *r,
                            const char *name, size_t name_len,
                            const char *value, size_t value_len)
{
    size_t i;
    bool first = true;

    put(o, name, name_len);
    put(o, ": ", 2);
    for (i = 0; i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];

        if (!name_is_n(h, name, name_len) || h->value_len == 0)
            continue;
        if (!first)
            put(o, ", ", 2);
        put(o, h->value, h->value_len);
        first = false;
    }
    if (!first)
        put(o, ", ", 2);
    put(o, value, value_len);
    put(o, "\r\n", 2);
}

#define put_forwarded(o, r, name, value, value_len) \
    put_forwarded_n((o), (r), "" name, sizeof(name) - 1, (value), \
                    (value_len))

/* ServerName of the connection's virtual host, else the server's. */
static const char *server_name(const struct conn *c)
{
    if (c->vhost != NULL && c->vhost->server_name != NULL)
        return c->vhost->server_name;
    return c->config->server_name;
}

int head_build_request(struct conn *c)
{
    const struct config *cf = c->config;
    const struct http1_request *r = &c->msg->req;
    const struct http1_header *host =
        http1_find_header(r->headers, r->num_headers, "Host");
    struct out o = { c->bhead, 0, LOOP_BUF_SIZE, false };
    struct http1_conn_names conn;
    size_t i;
    int n;

    http1_connection_names(r->headers, r->num_headers, &conn);
    put(&o, r->method, r->method_len);
    put(&o, " ", 1);
    n = mapping_backend_target(c->pass, c->member, r->target, r->target_len,
                               o.buf + o.len, o.size - o.len);
    if (n < 0)
        return -1;
    o.len += (size_t)n;
    puts_(&o, " HTTP/1.1\r\n");

    if (cf->preserve_host && host != NULL)
        put_header(&o, "Host", 4, host->value, host->value_len);
    else
        put_header(&o, "Host", 4, c->member->hostport,
                   strlen(c->member->hostport));

    for (i = 0; i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];

        if (name_is(h, "Host") || name_is(h, "Content-Length") ||
            hop_by_hop(&conn, h))
            continue;
        if (cf->add_headers && (name_is(h, "X-Forwarded-For") ||
                                name_is(h, "X-Forwarded-Host") ||
                                name_is(h, "X-Forwarded-Server") ||
                                name_is(h, "X-Forwarded-Proto")))
            continue;
        put_header(&o, h->name, h->name_len, h->value, h->value_len);
    }

    /* One framing field, ours: duplicates ("3, 3") the parser let pass as
     * RFC 9110 8.6 allows are not forwarded as they came. */
    if (r->info.body == HTTP1_BODY_CHUNKED)
        puts_(&o, "Transfer-Encoding: chunked\r\n");
    else if (r->info.body == HTTP1_BODY_LENGTH) {
        puts_(&o, "Content-Length: ");
        put_u64(&o, r->info.content_length);
        put(&o, "\r\n", 2);
    }
    /* Only websocket is tunnelled (request_begin in proxy.c cleared
     * info.upgrade for any other protocol) and only it is asked for. */
    if (r->info.upgrade)
        puts_(&o, "Connection: Upgrade\r\nUpgrade: websocket\r\n");

    if (cf->add_headers) {
        put_forwarded(&o, r, "X-Forwarded-For", c->client_ip,
                      strlen(c->client_ip));
        if (host != NULL)
            put_forwarded(&o, r, "X-Forwarded-Host", host->value,
                          host->value_len);
        if (server_name(c) != NULL)
            put_forwarded(&o, r, "X-Forwarded-Server", server_name(c),
                          strlen(server_name(c)));
        /* Ours (Apache adds no X-Forwarded-Proto): replaced, not merged,
         * so that a client cannot claim https over plain HTTP. */
        puts_(&o, c->tls != NULL ? "X-Forwarded-Proto: https\r\n"
                                 : "X-Forwarded-Proto: http\r\n");
    }
    put(&o, "\r\n", 2);

    if (o.overflow)
        return -1;
    c->bhead_len = o.len;
    c->bhead_sent = 0;
    return 0;
}

/* "http[s]://host[:port]" as the client sees us, for
 * ProxyPassReverse. */
static size_t front_url(const struct conn *c, char *buf, size_t size)
{
    const struct http1_header *host =
        http1_find_header(c->msg->req.headers, c->msg->req.num_headers, "Host");
    int n;

    if (host != NULL)
        n = snprintf(buf, size, "%s://%.*s", c->tls ? "https" : "http",
                     (int)host->value_len, host->value);
    else
        n = snprintf(buf, size, "%s://%s:%u", c->tls ? "https" : "http",
                     server_name(c) ? server_name(c) : "localhost",
                     c->local_port);
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

static bool is_location_header(const struct http1_header *h)
{
    return name_is(h, "Location") || name_is(h, "Content-Location") ||
           name_is(h, "URI");
}

/* Copy the response's end-to-end headers, rewriting locations. Returns
 * true when one of them sets the sticky cookie. */
static bool put_response_headers(struct conn *c, struct out *o)
{
    const struct http1_response *r = &c->msg->res;
    const struct balancer *b = c->balancer;
    char front[300], value[2048];
    size_t front_len = 0, i;
    bool sets_sticky = false;
    struct http1_conn_names conn;

    http1_connection_names(r->headers, r->num_headers, &conn);
    for (i = 0; i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];
        int n;

        if (name_is(h, "Content-Length"))
            continue;               /* put_content_length: one, ours */
        if (hop_by_hop(&conn, h))
            continue;
        if (is_location_header(h)) {
            if (front_len == 0)
                front_len = front_url(c, front, sizeof(front));
            n = rewrite_location(c->config, h->value, h->value_len,
                                 front, front_len, value, sizeof(value));
            if (n > 0) {
                put_header(o, h->name, h->name_len, value, (size_t)n);
                continue;
            }
        }
        if (b->sticky_cookie != NULL && name_is(h, "Set-Cookie")) {
            diagnose_set_cookie(c, h->value, h->value_len);
            if (b->sticky_insert &&
                sticky_sets_cookie(b, h->value, h->value_len))
                sets_sticky = true;
        }
        put_header(o, h->name, h->name_len, h->value, h->value_len);
    }
    return sets_sticky;
}

/* Does this response start or change the client's route? */
static bool route_needs_cookie(const struct conn *c)
{
    if (!c->balancer->sticky_insert || c->balancer->sticky_cookie == NULL)
        return false;
    if (c->sticky.route == NULL)
        return true;
    return c->route_member != c->member;
}

/*
 * The response's transfer codings go to the client as they came ("gzip,
 * chunked" stays so; "gzip" alone means a body until close, still
 * gzipped), except that a chunked body we decode for an HTTP/1.0 client
 * loses its final "chunked".
 */
static void put_transfer_codings(struct conn *c, struct out *o)
{
    const struct http1_response *r = &c->msg->res;
    char list[1024];
    size_t len = 0, i;

    if (c->resp.encode) {           /* an until-close body we re-frame */
        put_header(o, "Transfer-Encoding", 17, "chunked", 7);
        return;
    }
    for (i = 0; i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];
        int n;

        if (!name_is(h, "Transfer-Encoding") || h->value_len == 0)
            continue;
        n = snprintf(list + len, sizeof(list) - len, "%s%.*s",
                     len > 0 ? ", " : "", (int)h->value_len, h->value);
        if (n < 0 || (size_t)n >= sizeof(list) - len) {
            o->overflow = true;
            return;
        }
        len += (size_t)n;
    }
    if (c->resp.decode && r->info.body == HTTP1_BODY_CHUNKED) {
        /* drop the last coding (the parser checked it is chunked) */
        while (len > 0 && list[len - 1] != ',')
            len--;
        if (len > 0)
            len--;
    }
    if (len > 0)
        put_header(o, "Transfer-Encoding", 17, list, len);
}

/*
 * One Content-Length for the client, with the single value the parser
 * accepted: "3, 3" or a repeated field become "3" (RFC 9110 8.6). None
 * when Transfer-Encoding is present (RFC 9112 6.1: a sender must not send
 * both, and chunked wins). Named in Connection or not, it stays: it
 * frames the message, and dropping it made the client read the next
 * response as this one's body.
 */
static void put_content_length(struct conn *c, struct out *o)
{
    const struct http1_message_info *info = &c->msg->res.info;

    if (!info->has_content_length || info->has_transfer_encoding)
        return;
    puts_(o, "Content-Length: ");
    put_u64(o, info->length_field);     /* the parser checked it */
    put(o, "\r\n", 2);
}

int head_build_response(struct conn *c)
{
    const struct http1_response *r = &c->msg->res;
    struct out o = { c->ohead, 0, LOOP_BUF_SIZE, false };
    bool sets_sticky;

    put_status(&o, r->status);
    put(&o, r->reason, r->reason_len);
    put(&o, "\r\n", 2);

    sets_sticky = put_response_headers(c, &o);

    put_transfer_codings(c, &o);
    put_content_length(c, &o);
    if (r->status == 101) {
        const struct http1_header *up =
            http1_find_header(r->headers, r->num_headers, "Upgrade");

        puts_(&o, "Connection: Upgrade\r\n");
        if (up != NULL)
            put_header(&o, "Upgrade", 7, up->value, up->value_len);
    } else if (!c->keep_alive || c->worker->stopping) {
        puts_(&o, "Connection: close\r\n");
    } else if (c->msg->req.version_minor == 0) {
        puts_(&o, "Connection: keep-alive\r\n");
    }

    if (!sets_sticky && route_needs_cookie(c)) {
        char cookie[512];
        int n = sticky_make_cookie(c->balancer, c->member,
                                   c->tls != NULL, cookie,
                                   sizeof(cookie));

        if (n > 0)
            put_header(&o, "Set-Cookie", 10, cookie, (size_t)n);
    }
    put(&o, "\r\n", 2);

    if (o.overflow)
        return -1;
    c->ohead_len = o.len;
    c->ohead_sent = 0;
    return 0;
}

int head_build_interim(struct conn *c)
{
    const struct http1_response *r = &c->msg->res;
    struct out o = { c->ohead, 0, LOOP_BUF_SIZE, false };
    struct http1_conn_names conn;
    size_t i;

    http1_connection_names(r->headers, r->num_headers, &conn);
    put_status(&o, r->status);
    put(&o, r->reason, r->reason_len);
    put(&o, "\r\n", 2);
    for (i = 0; i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];

        if (!hop_by_hop(&conn, h))
            put_header(&o, h->name, h->name_len, h->value, h->value_len);
    }
    put(&o, "\r\n", 2);

    if (o.overflow)
        return -1;
    c->ohead_len = o.len;
    c->ohead_sent = 0;
    return 0;
}

static const char *error_text(int status)
{
    switch (status) {
    case 400: return "Your browser sent a request this server could not "
                     "understand.";
    case 403: return "You don't have permission to access this URL "
                     "(the Require rules of its Location section).";
    case 404: return "No ProxyPass rule maps the requested URL.";
    case 408: return "The request did not arrive in time.";
    case 414: return "The request line is too long.";
    case 431: return "The request header fields are too large.";
    case 502: return "The back-end server sent an invalid response or "
                     "none at all.";
    case 503: return "No back-end server is available to serve the "
                     "request right now. Please try again later.";
    case 504: return "The back-end server did not answer in time.";
    default:  return "The request could not be served.";
    }
}

/*
 * Apache's core answers OPTIONS * itself (ProxyPass maps only paths that
 * start with "/"), with the methods it serves in Allow. A CONNECT gets
 * 405 with the same list: this is no forward proxy (RFC 9110 15.5.6
 * wants Allow on a 405).
 */
void head_build_allow(struct conn *c, int status)
{
    struct out o = { c->ohead, 0, LOOP_BUF_SIZE, false };
    char date[64];
    struct tm tm;
    time_t now = time(NULL);

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    putf(&o, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: balancer\r\n"
         "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"
         "Content-Length: 0\r\n", status, http1_reason(status), date);
    if (!c->keep_alive || c->worker->stopping)
        puts_(&o, "Connection: close\r\n");
    else if (c->req_valid && c->msg->req.version_minor == 0)
        puts_(&o, "Connection: keep-alive\r\n");
    put(&o, "\r\n", 2);

    c->ohead_len = o.len;
    c->ohead_sent = 0;
    c->local_body_len = 0;
}

void head_build_error(struct conn *c, int status, bool head_only)
{
    struct out o = { c->ohead, 0, LOOP_BUF_SIZE, false };
    const char *reason = http1_reason(status);
    char body[768], date[64];
    struct tm tm;
    time_t now = time(NULL);
    int n;

    n = snprintf(body, sizeof(body),
                 "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                 "\n<body><h1>%s</h1>\n<p>%s</p>\n</body></html>\n",
                 status, reason, reason, error_text(status));
    if (n < 0 || (size_t)n >= sizeof(body))
        n = 0;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);

    putf(&o, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: balancer\r\n"
         "Content-Type: text/html; charset=utf-8\r\n"
         "Content-Length: %d\r\n", status, reason, date, n);
    if (!c->keep_alive || c->worker->stopping)
        puts_(&o, "Connection: close\r\n");
    else if (c->req_valid && c->msg->req.version_minor == 0)
        puts_(&o, "Connection: keep-alive\r\n");
    put(&o, "\r\n", 2);
    if (!head_only)
        put(&o, body, (size_t)n);

    c->ohead_len = o.len;
    c->ohead_sent = 0;
    c->local_body_len = head_only ? 0 : (size_t)n;
}

int head_build_redirect(struct conn *c, const struct redirect *r)
{
    const struct http1_request *req = &c->msg->req;
    const struct http1_header *host =
        http1_find_header(req->headers, req->num_headers, "Host");
    const char *name = host ? host->value : server_name(c);
    size_t path_len = 0;
    bool head_only = req->method_len == 4 &&
                     memcmp(req->method, "HEAD", 4) == 0;
    static const char body[] = "<!DOCTYPE html>\n<html><head><title>"
        "Moved</title></head>\n<body><p>The document has moved.</p>"
        "</body></html>\n";
    char location[4096];
    struct out o = { c->ohead, 0, LOOP_BUF_SIZE, false };
    int n;

    while (path_len < req->target_len && req->target[path_len] != '?')
        path_len++;
    n = vhost_redirect_location(r, req->target, req->target_len, path_len,
                                c->tls != NULL, name ? name : "localhost",
                                host ? host->value_len
                                     : strlen(name ? name : "localhost"),
                                location, sizeof(location));
    if (n < 0)
        return -1;

    putf(&o, "HTTP/1.1 %d %s\r\nServer: balancer\r\n", r->status,
         http1_reason(r->status));
    put_header(&o, "Location", 8, location, (size_t)n);
    putf(&o, "Content-Type: text/html; charset=utf-8\r\n"
         "Content-Length: %zu\r\n", sizeof(body) - 1);
    if (!c->keep_alive || c->worker->stopping)
        puts_(&o, "Connection: close\r\n");
    else if (req->version_minor == 0)
        puts_(&o, "Connection: keep-alive\r\n");
    put(&o, "\r\n", 2);
    if (!head_only)
        put(&o, body, sizeof(body) - 1);
    if (o.overflow)
        return -1;

    c->ohead_len = o.len;
    c->ohead_sent = 0;
    c->local_body_len = head_only ? 0 : sizeof(body) - 1;
    return 0;
}
