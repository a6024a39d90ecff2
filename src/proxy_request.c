/*
 * proxy_request.c - a request head: read and parsed (CONN_HEAD), then
 * checked and mapped to what serves it: an answer of our own, a
 * <Location> handler, or a member of a balancer (proxy_route.c), on
 * which proxy.c then makes the attempt.
 */
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "handler.h"
#include "log.h"
#include "mapping.h"
#include "proxy_conn.h"
#include "target.h"
#include "vhost.h"

static int64_t wall_clock_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The balancer's timeout= (Apache: the most time to wait for a free
 * worker): no member is usable now, so the request waits, polling every
 * ROUTE_POLL_MS without blocking the loop, for one to become usable.
 */
#define ROUTE_POLL_MS 100

static enum step route_wait(struct conn *c)
{
    int64_t now = loop_now(c->worker->loop), next;

    if (c->route_deadline_ms == 0) {
        c->route_deadline_ms = now + c->pass->balancer->timeout_ms;
        log_msg(LOG_LEVEL_INFO, "proxy_balancer", "%s: no usable member; "
                "the request waits up to %d ms (timeout=)",
                c->pass->balancer->name, c->pass->balancer->timeout_ms);
    }
    c->state = CONN_PROXY;
    c->be = NULL;
    next = now + ROUTE_POLL_MS;
    if (next > c->route_deadline_ms)
        next = c->route_deadline_ms;
    loop_timer_set(c->worker->loop, &c->timer, next);
    return STEP_WAIT;
}

/* The poll of route_wait: a member is usable, or the time is up. */
enum step conn_route_poll(struct conn *c)
{
    struct balancer *b = c->pass->balancer;
    int status;

    if (balancer_count_usable(b, balancer_now_ms()) == 0) {
        if (loop_now(c->worker->loop) < c->route_deadline_ms)
            return route_wait(c);
        c->balancer = b;
        log_msg(LOG_LEVEL_ERR, "proxy_balancer", "%s: no member became "
                "usable within timeout=%d ms; answering 503", b->name,
                b->timeout_ms);
        return conn_local_reply(c, 503, false);
    }
    c->route_deadline_ms = 0;
    status = route_choose(c);
    if (status != 0)
        return conn_local_reply(c, status, false);
    return conn_attempt(c, 0);
}

/* KeepAlive and MaxKeepAliveRequests (0: unlimited). */
static bool keep_alive_allowed(const struct conn *c)
{
    const struct client_limits *cl = &c->config->client;

    if (!cl->keepalive || c->listener_gone)
        return false;
    return cl->max_keepalive_requests == 0 ||
           c->requests < (uint32_t)cl->max_keepalive_requests;
}

/*
 * Absolute-form to origin-form and dot segments removed, in place in the
 * head (target.h). For absolute-form the target's authority replaces the
 * Host field's value, as RFC 9112 3.2.2 says a server must.
 */
static int normalize_target(struct conn *c, const char **error)
{
    struct http1_request *r = &c->msg->req;
    char *t = (char *)r->target;
    size_t len = r->target_len, start, alen, i;
    const char *auth;

    if (target_normalize(t, &len, &start, &auth, &alen, error) < 0)
        return -1;
    r->target = t + start;
    r->target_len = len;
    if (auth == NULL)
        return 0;
    for (i = 0; i < r->num_headers; i++) {
        struct http1_header *h = &r->headers[i];

        if (h->name_len == 4 && strncasecmp(h->name, "Host", 4) == 0) {
            h->value = auth;
            h->value_len = alen;
        }
    }
    return 0;
}

/* The request asks to switch to websocket (among others, maybe). */
static bool upgrade_allowed(const struct http1_request *r)
{
    const struct http1_header *up =
        http1_find_header(r->headers, r->num_headers, "Upgrade");

    return up != NULL &&
           http1_list_has_token(up->value, up->value_len, "websocket");
}

/* OPTIONS * (200) and CONNECT (405), answered here (proxy_head.c). */
static enum step local_allow(struct conn *c, int status)
{
    enum step s;

    if (status == 405)
        log_msg(LOG_LEVEL_INFO, "proxy", "CONNECT %.*s: not a forward "
                "proxy; answering 405", (int)c->msg->req.target_len,
                c->msg->req.target);
    s = conn_local_reply(c, status, status == 405);
    if (s == STEP_AGAIN)
        head_build_allow(c, status);
    return s;
}

/* Redirect (mod_alias) of the connection's virtual host. */
static enum step local_redirect(struct conn *c, const struct redirect *r)
{
    enum step s = conn_local_reply(c, r->status, false);

    if (s == STEP_AGAIN && r->url != NULL)
        head_build_redirect(c, r);
    return s;
}

static bool is_idempotent(const struct http1_request *r)
{
    static const char *const methods[] = {
        "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"
    };
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strlen(methods[i]) == r->method_len &&
            memcmp(methods[i], r->method, r->method_len) == 0)
            return true;
    }
    return false;
}

static enum step request_begin(struct conn *c, size_t head_len)
{
    const struct config *cf = c->config;
    const struct http1_request *r = &c->msg->req;
    const char *error = NULL;
    size_t path_len;
    int status;

    c->requests++;
    c->req_valid = true;
    c->head_started = false;
    c->status = 0;
    c->local_body_len = 0;
    c->response_started = false;
    c->bytes_sent = 0;
    c->bytes_received = head_len;
    c->pass = NULL;
    c->location = NULL;
    c->balancer = NULL;
    c->member = NULL;
    c->route_member = NULL;
    c->failover_from = NULL;
    c->has_sticky = false;
    memset(&c->sticky, 0, sizeof(c->sticky));
    c->decision = PICK_NONE;
    c->attempts = 0;
    c->ntried = 0;
    c->res_parsed = false;
    c->start_us = wall_clock_us();
    c->start_ms = loop_now(c->worker->loop);
    c->keep_alive = r->info.keep_alive && !c->worker->stopping &&
                    keep_alive_allowed(c);
    c->idempotent = is_idempotent(r);
    c->body_start_ms = c->start_ms;

    pump_setup(&c->reqp, r->info.body, r->info.content_length, head_len);
    if (r->info.upgrade && !upgrade_allowed(r)) {
        /* Apache 2.4.47+ tunnels only the protocols upgrade= names
         * (websocket here): the request goes on without its Upgrade. */
        log_msg(LOG_LEVEL_DEBUG, "proxy", "Upgrade other than websocket "
                "dropped from the request");
        c->msg->req.info.upgrade = false;
    }
    /* LimitRequestFields counts trailer fields too (responses: 100) */
    c->reqp.chunked.max_trailers = (unsigned)cf->limits.max_fields;
    if (r->info.body == HTTP1_BODY_LENGTH && cf->client.max_body > 0 &&
        r->info.content_length > cf->client.max_body) {
        log_msg(LOG_LEVEL_INFO, "proxy", "Content-Length %llu is over "
                "LimitRequestBody %llu; answering 413",
                (unsigned long long)r->info.content_length,
                (unsigned long long)cf->client.max_body);
        return conn_local_reply(c, 413, true);
    }
    if (r->method_len == 7 && memcmp(r->method, "CONNECT", 7) == 0)
        return local_allow(c, 405);
    if (r->target_len == 1 && r->target[0] == '*')
        return local_allow(c, 200);         /* OPTIONS * (http1.c) */
    if (normalize_target(c, &error) < 0) {
        log_msg(LOG_LEVEL_INFO, "proxy", "bad request target: %s", error);
        return conn_local_reply(c, 400, true);
    }
    for (path_len = 0; path_len < r->target_len; path_len++) {
        if (r->target[path_len] == '?' || r->target[path_len] == '#')
            break;
    }
    c->pass = mapping_find(cf, r->target, path_len);
    if (c->pass == NULL && cf->nlocations > 0)
        c->location = handler_location(cf, r->target, path_len);
    c->reqp.decode = c->location != NULL;   /* a handler reads it whole */

    if (pump_frame(&c->reqp, c->in, &c->in_len, &error) < 0) {
        log_msg(LOG_LEVEL_INFO, "proxy", "bad chunked request body: %s",
                error);
        return conn_local_reply(c, 400, true);
    }
    if (r->version_minor >= 1 &&
        http1_find_header(r->headers, r->num_headers, "Host") == NULL) {
        log_msg(LOG_LEVEL_INFO, "proxy", "HTTP/1.1 request without Host");
        return conn_local_reply(c, 400, true);
    }
    if (c->vhost != NULL && c->vhost->nredirects > 0) {
        const struct redirect *rd = vhost_find_redirect(c->vhost, r->target,
                                                        path_len);

        if (rd != NULL)
            return local_redirect(c, rd);
    }

    if (cf->nlocations > 0 && !handler_allowed(cf, r->target, path_len,
                                               c->client_ip, c->watch.fd)) {
        log_msg(LOG_LEVEL_INFO, "proxy", "%.*s: client denied by the "
                "Require rules of its <Location>; answering 403",
                (int)path_len, r->target);
        return conn_local_reply(c, 403, false);
    }
    if (c->location != NULL) {
        /* The body is read here: a client waiting for 100 Continue
         * gets it (a best-effort write of 25 bytes on an idle socket). */
        if (!c->reqp.done && r->info.expect_continue)
            (void)!send(c->watch.fd, "HTTP/1.1 100 Continue\r\n\r\n", 25,
                        MSG_NOSIGNAL | MSG_DONTWAIT);
        c->state = CONN_HANDLER;
        loop_timer_set(c->worker->loop, &c->timer,
                       loop_now(c->worker->loop) + conn_io_timeout_ms(c));
        return STEP_AGAIN;
    }
    if (c->pass == NULL) {
        log_msg(LOG_LEVEL_INFO, "proxy", "no ProxyPass for %.*s",
                (int)path_len, r->target);
        return conn_local_reply(c, 404, false);
    }

    c->route_deadline_ms = 0;
    if (c->pass->balancer->timeout_ms > 0 &&
        balancer_count_usable(c->pass->balancer, balancer_now_ms()) == 0)
        return route_wait(c);
    status = route_choose(c);
    if (status != 0)
        return conn_local_reply(c, status, false);
    return conn_attempt(c, 0);
}

enum step conn_head_error(struct conn *c, int status, const char *cause)
{
    log_msg(LOG_LEVEL_INFO, "proxy", "bad request head: %s; answering %d",
            cause, status);
    c->req_valid = false;
    memset(&c->reqp, 0, sizeof(c->reqp));
    c->requests++;
    c->start_us = wall_clock_us();
    c->start_ms = loop_now(c->worker->loop);
    c->bytes_received = c->in_len;
    c->bytes_sent = 0;
    c->member = NULL;
    c->balancer = NULL;
    return conn_local_reply(c, status, true);
}

enum step conn_step_head(struct conn *c)
{
    const struct config *cf;
    ssize_t n;

    conn_gen_refresh(c);    /* a reload: new requests take the new one */
    cf = c->config;

    if (c->in_len > 0) {
        int h = http1_parse_request(c->in, c->in_len, &cf->limits,
                                    &c->msg->req);

        if (h > 0)
            return request_begin(c, (size_t)h);
        if (h == HTTP1_ERROR) {
            const struct http1_request *r = &c->msg->req;

            return conn_head_error(c, r->error_status ? r->error_status : 400,
                                   r->error ? r->error : "malformed");
        }
        if (c->in_len == LOOP_BUF_SIZE) {
            bool line_done = memchr(c->in, '\n', c->in_len) != NULL;

            return conn_head_error(c, line_done ? 431 : 414,
                                   "request head larger than the buffer");
        }
    }

    if (c->worker->stopping && c->in_len == 0) {
        conn_free(c);
        return STEP_FREED;
    }
    if (!c->readable) {
        if (c->in_len == 0) {
            loop_buf_put(c->worker->loop, c->in);
            loop_buf_put(c->worker->loop, (char *)c->msg);
            c->in = NULL;
            c->msg = NULL;
        }
        return STEP_WAIT;
    }
    if (c->in == NULL)
        c->in = loop_buf_get(c->worker->loop);
    if (c->msg == NULL)
        c->msg = (struct conn_msgs *)loop_buf_get(c->worker->loop);
    if (c->in == NULL || c->msg == NULL) {
        conn_free(c);
        return STEP_FREED;
    }

    n = conn_read(c, c->in + c->in_len, LOOP_BUF_SIZE - c->in_len);
    if (n == IO_BLOCKED)
        return STEP_WAIT;
    if (n <= 0) {
        conn_free(c);       /* closed between requests, or mid-head */
        return STEP_FREED;
    }
    if (!c->head_started) {
        /* The first request's time counts from the accept (Apache's
         * header= timeout does too); a later one's from its first byte,
         * KeepAliveTimeout ruling before. */
        c->head_started = true;
        if (c->requests > 0)
            c->head_start_ms = loop_now(c->worker->loop);
        c->in_len += (size_t)n;
        loop_timer_set(c->worker->loop, &c->timer, conn_head_deadline(c));
        return STEP_AGAIN;
    }
    c->in_len += (size_t)n;
    if (c->config->client.header.min_rate > 0)
        loop_timer_set(c->worker->loop, &c->timer, conn_head_deadline(c));
    return STEP_AGAIN;
}
