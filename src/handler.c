/*
 * handler.c - the handler table, <Location> access rules, and writing a
 * handler's response (see handler.h).
 */
#include "handler.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "manager.h"
#include "proxy_conn.h"
#include "stats.h"

/* Largest body a handler may build; more is a 500 (a bug, not a load). */
#define HBUF_MAX (64u * 1024 * 1024)

/* Every handler SetHandler may name. Add a line to add one. */
static const struct handler handlers[] = {
    { "balancer-manager", manager_serve },
    { "balancer-metrics", metrics_serve },
    { "balancer-dashboard", dashboard_serve },
};

#define NHANDLERS (sizeof(handlers) / sizeof(handlers[0]))

const struct handler *handler_find(const char *name)
{
    size_t i;

    for (i = 0; i < NHANDLERS; i++)
        if (strcasecmp(handlers[i].name, name) == 0)
            return &handlers[i];
    return NULL;
}

const char *handler_names(void)
{
    static char names[256];
    size_t i, len = 0;

    if (names[0] != '\0')
        return names;
    for (i = 0; i < NHANDLERS && len < sizeof(names); i++)
        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
                                i ? ", " : "", handlers[i].name);
    return names;
}

/* ---- buffers ------------------------------------------------------ */

static bool hbuf_reserve(struct hbuf *b, size_t n)
{
    size_t size = b->size ? b->size : 4096;
    char *data;

    if (b->failed)
        return false;
    if (n <= b->size - b->len)
        return true;
    while (size - b->len < n && size <= HBUF_MAX)
        size *= 2;
    data = size <= HBUF_MAX ? realloc(b->data, size) : NULL;
    if (data == NULL) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->size = size;
    return true;
}

void hbuf_put(struct hbuf *b, const char *s, size_t n)
{
    if (n == 0 || !hbuf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void hbuf_puts(struct hbuf *b, const char *s)
{
    hbuf_put(b, s, strlen(s));
}

void hbuf_printf(struct hbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !hbuf_reserve(b, (size_t)n + 1)) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hbuf_html(struct hbuf *b, const char *s, size_t n)
{
    size_t i, start = 0;

    for (i = 0; i < n; i++) {
        const char *entity;
        unsigned char ch = (unsigned char)s[i];

        switch (ch) {
        case '&': entity = "&amp;"; break;
        case '<': entity = "&lt;"; break;
        case '>': entity = "&gt;"; break;
        case '"': entity = "&quot;"; break;
        case '\'': entity = "&#39;"; break;
        default:
            entity = ch < 0x20 || ch == 0x7f ? "\xef\xbf\xbd" : NULL;
            break;
        }
        if (entity == NULL)
            continue;
        hbuf_put(b, s + start, i - start);
        hbuf_puts(b, entity);
        start = i + 1;
    }
    hbuf_put(b, s + start, n - start);
}

void hbuf_url(struct hbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL)
            hbuf_put(b, s + i, 1);
        else
            hbuf_put(b, esc, 3);
    }
}

void hbuf_free(struct hbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void handler_add_header(struct handler_response *rs, const char *name,
                        const char *value)
{
    hbuf_printf(&rs->headers, "%s: %s\r\n", name, value);
}

void handler_error_page(struct handler_response *rs, int status,
                        const char *message)
{
    const char *reason = http1_reason(status);

    rs->status = status;
    rs->content_type = "text/html; charset=utf-8";
    rs->body.len = 0;
    hbuf_printf(&rs->body, "<!DOCTYPE html>\n<html><head><title>%d %s"
                "</title></head>\n<body><h1>%s</h1>\n<p>", status, reason,
                reason);
    hbuf_html(&rs->body, message, strlen(message));
    hbuf_puts(&rs->body, "</p>\n</body></html>\n");
}

bool handler_method_is(const struct handler_request *rq, const char *name)
{
    return rq->req->method_len == strlen(name) &&
           memcmp(rq->req->method, name, rq->req->method_len) == 0;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decode s[0..n) (form encoding) into buf. Length, or -2. */
static int form_decode(const char *s, size_t n, char *buf, size_t size)
{
    size_t i, out = 0;

    for (i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];

        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 &&
                   hex_digit(s[i + 2]) >= 0) {
            ch = hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]);
            i += 2;
        }
        if (ch == 0 || out + 1 >= size)
            return -2;
        buf[out++] = (char)ch;
    }
    buf[out] = '\0';
    return (int)out;
}

int handler_form_value(const char *text, size_t len, const char *name,
                       char *buf, size_t size)
{
    size_t pos = 0, nlen = strlen(name);

    while (pos < len) {
        const char *amp = memchr(text + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - text) : len;
        const char *eq = memchr(text + pos, '=', end - pos);
        size_t klen = eq ? (size_t)(eq - text) - pos : end - pos;

        if (klen == nlen && memcmp(text + pos, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : text + end;

            return form_decode(v, (size_t)(text + end - v), buf, size);
        }
        pos = end + 1;
    }
    return -1;
}

const char *handler_header(const struct handler_request *rq,
                           const char *name, size_t *len)
{
    const struct http1_header *h =
        http1_find_header(rq->req->headers, rq->req->num_headers, name);

    if (h == NULL)
        return NULL;
    *len = h->value_len;
    return h->value;
}

/* ---- locations and access ----------------------------------------- */

const struct location *handler_location(const struct config *c,
                                        const char *path, size_t path_len)
{
    const struct location *found = NULL;
    size_t i;

    /* As Apache merges <Location> sections in order: a later match's
     * SetHandler (or SetHandler None) replaces an earlier one's. */
    for (i = 0; i < c->nlocations; i++) {
        const struct location *l = &c->locations[i];

        if ((l->handler == NULL && !l->handler_none) ||
            !location_path_matches(l->path, path, path_len))
            continue;
        found = l->handler != NULL ? l : NULL;
    }
    return found;
}

/* Is the client the address it connected to, or a loopback one? */
static bool client_is_local(const char *ip, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char local[INET6_ADDRSTRLEN];
    struct ip_range lo4, lo6;
    const char *why;

    location_parse_range("127.0.0.0/8", &lo4, &why);
    location_parse_range("::1", &lo6, &why);
    if (location_range_has(&lo4, ip) || location_range_has(&lo6, ip))
        return true;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return false;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, local,
                  sizeof(local));
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
                  local, sizeof(local));
    else
        return false;
    return strcmp(local, ip) == 0;
}

static bool require_grants(const struct require *r, const char *ip, int fd)
{
    size_t i;

    switch (r->kind) {
    case REQUIRE_ALL_GRANTED:
        return true;
    case REQUIRE_ALL_DENIED:
        return false;
    case REQUIRE_LOCAL:
        return client_is_local(ip, fd);
    case REQUIRE_IP:
        for (i = 0; i < r->nranges; i++)
            if (location_range_has(&r->ranges[i], ip))
                return true;
        return false;
    }
    return false;
}

bool handler_allowed(const struct config *c, const char *path,
                     size_t path_len, const char *client_ip, int fd)
{
    const struct location *rules = NULL;
    size_t i;

    /* Apache's AuthMerging Off: the last matching section with Require
     * lines decides alone; its lines are an implicit <RequireAny>. */
    for (i = 0; i < c->nlocations; i++) {
        const struct location *l = &c->locations[i];

        if (l->nrequires > 0 &&
            location_path_matches(l->path, path, path_len))
            rules = l;
    }
    if (rules == NULL)
        return true;
    for (i = 0; i < rules->nrequires; i++)
        if (require_grants(&rules->requires[i], client_ip, fd))
            return true;
    return false;
}

/* ---- serving ------------------------------------------------------ */

static void request_from_conn(const struct conn *c,
                              struct handler_request *rq)
{
    const struct http1_request *r = &c->msg->req;
    const char *q = memchr(r->target, '?', r->target_len);

    memset(rq, 0, sizeof(*rq));
    rq->config = c->worker->config;
    rq->location = c->location;
    rq->req = r;
    rq->path = r->target;
    rq->path_len = q ? (size_t)(q - r->target) : r->target_len;
    rq->query = q ? q + 1 : "";
    rq->query_len = q ? r->target_len - rq->path_len - 1 : 0;
    rq->body = c->in + c->reqp.head_len;
    rq->body_len = c->reqp.ready - c->reqp.head_len;
    rq->client_ip = c->client_ip;
    rq->worker_index = c->worker->index;
}

/* The response head into c->ohead. Returns 0, or -1 when too long. */
static int write_head(struct conn *c, const struct handler_response *rs)
{
    char date[64];
    struct tm tm;
    time_t now = time(NULL);
    const char *conn_line = "";
    int n;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!c->keep_alive || c->worker->stopping)
        conn_line = "Connection: close\r\n";
    else if (c->msg->req.version_minor == 0)
        conn_line = "Connection: keep-alive\r\n";

    n = snprintf(c->ohead, LOOP_BUF_SIZE, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
                 "Server: balancer\r\nContent-Type: %s\r\n"
                 "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                 "%.*s%s\r\n", rs->status, http1_reason(rs->status), date,
                 rs->content_type, rs->body.len, (int)rs->headers.len,
                 rs->headers.data ? rs->headers.data : "", conn_line);
    if (n < 0 || n >= LOOP_BUF_SIZE)
        return -1;
    c->ohead_len = (size_t)n;
    c->ohead_sent = 0;
    return 0;
}

int handler_serve(struct conn *c)
{
    const struct handler *h = handler_find(c->location->handler);
    struct handler_request rq;
    struct handler_response rs = { 200, "text/html; charset=utf-8",
                                   { 0 }, { 0 } };
    bool head_only;

    if (c->ohead == NULL)
        c->ohead = loop_buf_get(c->worker->loop);
    if (c->ohead == NULL || h == NULL)
        return -1;

    request_from_conn(c, &rq);
    h->serve(&rq, &rs);
    if (rs.body.failed || rs.headers.failed || write_head(c, &rs) < 0) {
        log_msg(LOG_LEVEL_ERR, "handler", "%s: out of memory building "
                "the response", h->name);
        hbuf_free(&rs.headers);
        hbuf_free(&rs.body);
        return -1;
    }
    hbuf_free(&rs.headers);

    head_only = handler_method_is(&rq, "HEAD");
    c->status = rs.status;
    c->local_body_len = head_only ? 0 : rs.body.len;
    memset(&c->resp, 0, sizeof(c->resp));
    if (head_only || rs.body.len == 0) {
        hbuf_free(&rs.body);
        return 0;
    }
    c->local_body = rs.body.data;
    c->resp.ready = rs.body.len;
    return 0;
}
