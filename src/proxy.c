/*
 * proxy.c - the client <-> back-end relay state machine.
 *
 * A client connection is in one of five states (proxy_conn.h). conn_run
 * calls the step function of the current state until one has to wait for
 * I/O; a step returns STEP_AGAIN when it changed the state, STEP_WAIT when
 * it is blocked, STEP_FREED when the connection is gone. The first state,
 * reading a request head and choosing what serves it, is in
 * proxy_request.c; the reads, writes and body framing the pumps below
 * make are in proxy_pump.c.
 *
 * While proxying (CONN_PROXY), two pumps run side by side: the request
 * pump writes the request head and streams the body from the client to
 * the back end; the response pump reads the response head, writes the
 * client's head and streams the body back. Each runs until it blocks, and
 * each stops reading its source while it still has unsent bytes, which is
 * the back-pressure: no body is ever held whole.
 *
 * Requests on one client connection are served one at a time; bytes of a
 * pipelined request wait in the input buffer until the response before
 * them is complete.
 *
 * Writes wait for the end of the event batch (write_held): while the
 * loop dispatches what one epoll_wait returned, a connection that has
 * bytes to send is queued instead, and at the turn's end
 * (conn_flush_held) every queued one runs again and writes. The writes
 * of a batch then reach each peer back to back, so a back end or client
 * that sleeps in its own event loop is woken once for the batch instead
 * of once per message; on loopback the waking is most of a send's cost
 * (docs/performance.md). A batch adds no system call, and the wait is
 * the rest of the batch: microseconds.
 */
#include "proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "proxy_conn.h"
#include "tls.h"

#define READ_EVENTS  (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define WRITE_EVENTS (EPOLLOUT | EPOLLHUP | EPOLLERR)

static int64_t now_ms(const struct conn *c)
{
    return loop_now(c->worker->loop);
}

int conn_io_timeout_ms(const struct conn *c)
{
    if (c->member != NULL && c->member->timeout_ms > 0)
        return c->member->timeout_ms;
    if (c->config->proxy_timeout_ms > 0)
        return c->config->proxy_timeout_ms;
    return 60000;
}

static int connect_timeout_ms(const struct conn *c)
{
    if (c->member != NULL && c->member->connect_timeout_ms > 0)
        return c->member->connect_timeout_ms;
    return conn_io_timeout_ms(c);
}

/* When the request head must be in (RequestReadTimeout header=, else
 * Timeout), counted from head_start_ms. */
int64_t conn_head_deadline(const struct conn *c)
{
    const struct config *cf = c->config;
    int64_t d = limits_read_deadline(&cf->client.header, c->head_start_ms,
                                     c->in_len);

    return d != 0 ? d : c->head_start_ms + cf->timeout_ms;
}

/* When the request body must be in (RequestReadTimeout body=); 0 when
 * there is no limit or nothing more to read. */
static int64_t body_deadline(const struct conn *c)
{
    const struct pump *p = &c->reqp;

    if (p->done || p->tunnel || p->kind == HTTP1_BODY_NONE)
        return 0;
    return limits_read_deadline(&c->config->client.body,
                                c->body_start_ms,
                                c->bytes_received - p->head_len);
}

/* Arm the timer of a request being proxied for deadline, or for the
 * body deadline when that comes first. */
static void proxy_timer_set(struct conn *c, int64_t deadline)
{
    int64_t body = body_deadline(c);

    if (body > now_ms(c) && body < deadline)
        deadline = body;
    loop_timer_set(c->worker->loop, &c->timer, deadline);
}

/* How long a request waits for a connection under max=: the balancer's
 * timeout= when set (Apache: the wait for a free worker), else the
 * connection timeout. */
static int queue_timeout_ms(const struct conn *c)
{
    if (c->balancer != NULL && c->balancer->timeout_ms > 0)
        return c->balancer->timeout_ms;
    return connect_timeout_ms(c);
}

/* ---- reading and writing -------------------------------------------- */

/*
 * The client side: through the connection's TLS session when it has
 * one (tls.h says how the flags then move), else the plain calls above;
 * the plain path pays one test of a pointer. Same results as pump_read
 * and pump_send (the head is always c->ohead).
 */
ssize_t conn_read(struct conn *c, char *buf, size_t space)
{
    if (c->tls != NULL)
        return tls_read(c->tls, &c->readable, &c->writable, buf, space);
    return pump_read(c->watch.fd, &c->readable, c->rdhup, buf, space);
}

/* Hold c's write to the end of the batch (see the top); false while the
 * held writes are being made, which then go out at once. */
static bool write_held(struct conn *c)
{
    struct proxy_worker *w = c->worker;

    if (w->flushing)
        return false;
    if (!c->on_flush) {
        c->on_flush = true;
        c->flush_next = NULL;
        if (w->flush == NULL)
            w->flush_tail = &w->flush;
        *w->flush_tail = c;
        w->flush_tail = &c->flush_next;
    }
    return true;
}

static ssize_t client_send(struct conn *c, const char *buf, struct pump *p,
                           bool more)
{
    struct iovec iov[2];
    size_t total;
    int n;
    ssize_t w;

    if (c->writable && (c->ohead_sent < c->ohead_len ||
                        (p != NULL && p->pos < p->ready)) && write_held(c))
        return 0;
    if (c->tls == NULL)
        return pump_send(c->watch.fd, &c->writable, c->ohead,
                         &c->ohead_sent, c->ohead_len, buf, p, more);

    n = pump_pieces(iov, &total, c->ohead, c->ohead_sent, c->ohead_len,
                    buf, p);
    if (n == 0 || !c->writable)
        return 0;
    w = tls_writev(c->tls, &c->readable, &c->writable, iov, n);
    if (w < 0)
        return IO_ERROR;
    pump_advance((size_t)w, &c->ohead_sent, c->ohead_len, p);
    return w;
}

/* ---- ends of a request ----------------------------------------------- */

static void release_buffers(struct conn *c)
{
    struct loop *l = c->worker->loop;

    loop_buf_put(l, c->bin);
    loop_buf_put(l, c->bhead);
    loop_buf_put(l, c->ohead);
    c->bin = c->bhead = c->ohead = NULL;
    c->res_parsed = false;      /* res points into bin: a later access
                                   log line (a bad head) must not read it */
    free(c->local_body);
    c->local_body = NULL;
}

static void drop_backend(struct conn *c, bool reusable)
{
    if (c->be == NULL)
        return;
    if (reusable)
        c->be->requests++;
    c->be->rdhup = false;
    pool_release(c->pool, c->be, reusable);
    c->be = NULL;
    c->be_corked = false;
}

/* The connection broke in the middle of a request: log, free. */
static enum step conn_abort(struct conn *c)
{
    if (c->req_valid)
        route_log_access(c, true);
    conn_free(c);
    return STEP_FREED;
}

/* All output is written and the connection will not be kept: stop
 * sending, then read what the client still sends for a moment, so that
 * closing does not reset the connection before it read our response. */
static enum step conn_linger(struct conn *c)
{
    drop_backend(c, false);
    route_busy(c, false);
    release_buffers(c);
    c->req_valid = false;
    if (c->reqp.tunnel) {
        conn_free(c);
        return STEP_FREED;
    }

    tls_close_notify(c->tls);
    shutdown(c->watch.fd, SHUT_WR);
    c->state = CONN_LINGER;
    loop_timer_set(c->worker->loop, &c->timer,
                   now_ms(c) + LINGER_TIMEOUT_MS);
    return STEP_AGAIN;
}

/* The response is complete: keep the connection for the next request,
 * or close it. */
static enum step request_end(struct conn *c)
{
    size_t rest;

    if (!c->keep_alive || c->worker->stopping || !c->reqp.done)
        return conn_linger(c);

    release_buffers(c);
    rest = c->in_len - c->reqp.ready;
    memmove(c->in, c->in + c->reqp.ready, rest);
    c->in_len = rest;
    c->req_valid = false;
    c->state = CONN_HEAD;
    c->head_started = rest > 0;
    c->head_start_ms = now_ms(c);
    loop_timer_set(c->worker->loop, &c->timer,
                   rest > 0 ? conn_head_deadline(c) :
                   now_ms(c) + c->config->client.keepalive_timeout_ms);
    return STEP_AGAIN;
}

/* Answer the current request ourselves with an error page. close: do
 * not keep the client connection afterwards. */
enum step conn_local_reply(struct conn *c, int status, bool close)
{
    bool head_only;

    drop_backend(c, false);
    route_busy(c, false);
    if (close || !c->req_valid || !c->reqp.done)
        c->keep_alive = false;

    if (c->ohead == NULL)
        c->ohead = loop_buf_get(c->worker->loop);
    if (c->ohead == NULL) {
        conn_free(c);
        return STEP_FREED;
    }
    head_only = c->req_valid && c->msg->req.method_len == 4 &&
                memcmp(c->msg->req.method, "HEAD", 4) == 0;
    head_build_error(c, status, head_only);

    c->status = status;
    c->response_started = true;
    c->state = CONN_LOCAL;
    loop_timer_set(c->worker->loop, &c->timer,
                   now_ms(c) + conn_io_timeout_ms(c));
    return STEP_AGAIN;
}

/* A handler's body (c->local_body) follows the head, c->resp saying
 * how much of it is sent. */
static enum step step_local(struct conn *c)
{
    struct pump *body = c->local_body != NULL ? &c->resp : NULL;
    ssize_t w = client_send(c, c->local_body, body, false);

    if (w < 0) {
        conn_free(c);
        return STEP_FREED;
    }
    c->bytes_sent += (uint64_t)w;
    if (c->ohead_sent < c->ohead_len ||
        (body != NULL && body->pos < body->ready))
        return STEP_WAIT;

    route_log_access(c, false);
    return request_end(c);
}

static enum step step_linger(struct conn *c)
{
    char scratch[4096];
    int i;

    for (i = 0; i < 64; i++) {
        ssize_t n = conn_read(c, scratch, sizeof(scratch));

        if (n == IO_BLOCKED)
            return STEP_WAIT;
        if (n <= 0)
            break;
    }
    conn_free(c);
    return STEP_FREED;
}

/* A request for a <Location> handler: read its body whole (forms and
 * JSON, small: it must fit the input buffer), then let the handler
 * answer at once. */
static enum step step_handler(struct conn *c)
{
    const char *error = NULL;
    ssize_t n;

    while (!c->reqp.done) {
        if (c->in_len == LOOP_BUF_SIZE) {
            log_msg(LOG_LEVEL_INFO, "handler", "%s: request body larger "
                    "than the %d byte buffer; answering 413",
                    c->location->handler, LOOP_BUF_SIZE);
            return conn_local_reply(c, 413, true);
        }
        n = conn_read(c, c->in + c->in_len, LOOP_BUF_SIZE - c->in_len);
        if (n == IO_BLOCKED)
            return STEP_WAIT;
        if (n <= 0)
            return conn_abort(c);
        c->in_len += (size_t)n;
        c->bytes_received += (uint64_t)n;
        if (pump_frame(&c->reqp, c->in, &c->in_len, &error) < 0) {
            log_msg(LOG_LEVEL_INFO, "handler", "bad chunked request "
                    "body: %s", error);
            return conn_local_reply(c, 400, true);
        }
    }

    if (handler_serve(c) < 0)
        return conn_local_reply(c, 500, true);
    c->response_started = true;
    c->state = CONN_LOCAL;
    loop_timer_set(c->worker->loop, &c->timer,
                   now_ms(c) + conn_io_timeout_ms(c));
    return STEP_AGAIN;
}

/* ---- attempts on a member -------------------------------------------- */

/*
 * A buffer is taken when it is first written, and all go back at the
 * request's end (release_buffers); bhead goes back as soon as the
 * request head is sent, and bin is taken only once the back end has
 * something to read. A request waiting for its answer so holds only in
 * and msg: at a thousand requests in flight that is most of them, and
 * most of the memory.
 */
static bool take_buf(struct conn *c, char **buf)
{
    if (*buf == NULL)
        *buf = loop_buf_get(c->worker->loop);
    if (*buf != NULL)
        return true;
    log_msg(LOG_LEVEL_ERR, "proxy", "out of memory for a buffer; the "
            "request is answered 500");
    return false;
}

static enum step connect_failed(struct conn *c, int err);

/* Send the request to c->member: a pooled connection or a new one. */
enum step conn_attempt(struct conn *c, unsigned flags)
{
    enum pool_result r;

    if (!take_buf(c, &c->bhead))
        return conn_local_reply(c, 500, true);
    if (head_build_request(c) < 0) {
        log_msg(LOG_LEVEL_INFO, "proxy",
                "request head too large once rewritten for %s",
                c->member->name);
        return conn_local_reply(c, 431, true);
    }
    route_busy(c, true);

    c->bin_len = 0;
    c->res_parsed = false;
    c->be_wrote = false;
    c->be_write_closed = false;
    c->ohead_len = c->ohead_sent = 0;
    c->reqp.pos = c->reqp.head_len;
    c->reqp.sent = 0;
    c->state = CONN_PROXY;
    c->last_progress_ms = now_ms(c);

    if (!c->idempotent)
        flags |= POOL_CHECK_ALIVE;
    r = pool_acquire(c->pool, c->member, c, flags, &c->be);
    switch (r) {
    case POOL_FULL:
        log_msg(LOG_LEVEL_DEBUG, "proxy", "%s: all its max=%d connections "
                "of this thread are busy; the request waits",
                c->member->name, c->member->max_conns);
        c->be = NULL;
        c->waiter.owner = c;
        c->waiter.member = c->member;
        pool_wait(c->pool, &c->waiter);
        loop_timer_set(c->worker->loop, &c->timer,
                       now_ms(c) + queue_timeout_ms(c));
        return STEP_WAIT;
    case POOL_ERROR:
        return connect_failed(c, errno);
    case POOL_REUSED:
        c->be_reused = true;
        proxy_timer_set(c, now_ms(c) + conn_io_timeout_ms(c));
        break;
    case POOL_CONNECTING:
        c->be_reused = false;
        proxy_timer_set(c, now_ms(c) + connect_timeout_ms(c));
        break;
    }
    return STEP_AGAIN;
}

/* The member refused or did not answer the connection: it goes into
 * error state and another member gets the request (nothing was sent). */
static enum step connect_failed(struct conn *c, int err)
{
    char cause[160];
    int status;

    drop_backend(c, false);
    route_busy(c, false);
    snprintf(cause, sizeof(cause), "connect to %s failed: %s",
             c->member->name, strerror(err));
    member_set_error(c->member, cause);     /* counts it in errors */

    status = route_retry(c, cause);
    if (status != 0)
        return conn_local_reply(c, status, false);
    return conn_attempt(c, 0);
}

/*
 * An idempotent request got no response byte from a new connection (a
 * reset, a close): it may safely go to another member (RFC 9110 9.2.2).
 * With none left, the client gets the status route_retry says.
 */
static enum step retry_elsewhere(struct conn *c, const char *what,
                                 const char *cause)
{
    char text[256];
    int status;

    snprintf(text, sizeof(text), "%s: %s: %s before any response byte",
             c->member->name, what, cause);
    route_busy(c, false);
    status = route_retry(c, text);
    if (status != 0)
        return conn_local_reply(c, status, true);
    return conn_attempt(c, 0);
}

/*
 * Writing the request or reading the response head failed. When the
 * connection was a pooled one and no response byte came, this is the
 * keep-alive race (the back end closed it while idle): send the request
 * again on a new connection to the same member, when that is safe. Else
 * the client gets 502, or, when its response has begun, a closed
 * connection.
 */
static enum step backend_failed(struct conn *c, const char *what, int err)
{
    const char *cause = err ? strerror(err) : "connection closed";
    bool nothing_back = c->bin_len == 0 && !c->res_parsed;
    bool resendable = !c->reqp.discarded &&
                      (c->idempotent || !c->be_wrote);

    if (nothing_back && c->be_reused && resendable) {
        log_msg(LOG_LEVEL_DEBUG, "proxy",
                "%s: pooled connection closed by the back end (%s, %s); "
                "sending the request again on a new connection",
                c->member->name, what, cause);
        drop_backend(c, false);
        return conn_attempt(c, POOL_FRESH);
    }

    drop_backend(c, false);
    atomic_fetch_add(&c->member->errors, 1);
    if (nothing_back && c->idempotent && !c->reqp.discarded)
        return retry_elsewhere(c, what, cause);
    if (c->response_started) {
        log_msg(LOG_LEVEL_ERR, "proxy",
                "%s: %s: %s; closing the client connection in the middle "
                "of its response", c->member->name, what, cause);
        return conn_abort(c);
    }
    log_msg(LOG_LEVEL_ERR, "proxy", "%s: %s: %s; answering 502",
            c->member->name, what, cause);
    return conn_local_reply(c, 502, true);
}

/* ---- request pump: client -> back end -------------------------------- */

/* LimitRequestBody for a chunked body: its bytes as received (framing
 * included) count, which is a little stricter than Apache. */
static bool body_over_limit(const struct conn *c)
{
    uint64_t max = c->config->client.max_body;

    if (max == 0 || c->bytes_received - c->reqp.head_len <= max)
        return false;
    log_msg(LOG_LEVEL_INFO, "proxy", "request body larger than "
            "LimitRequestBody %llu; answering 413",
            (unsigned long long)max);
    return true;
}

static enum step pump_request(struct conn *c)
{
    struct backend_conn *be = c->be;
    struct pump *p = &c->reqp;
    const char *error = NULL;

    if (c->be_write_closed)
        return STEP_WAIT;           /* the response goes on alone */
    for (;;) {
        bool pending = c->bhead_sent < c->bhead_len || p->pos < p->ready;
        bool more = pump_more_follows(p, c->readable);
        ssize_t w = 0, n;

        if (!(pending && be->writable && write_held(c)))
            w = pump_send(be->watch.fd, &be->writable, c->bhead,
                          &c->bhead_sent, c->bhead_len, c->in, p, more);
        if (w > 0)
            c->be_corked = more;

        if (w < 0 && c->res_parsed && !p->tunnel) {
            /* RFC 9112 9.6: a server may answer before the body is in
             * and close. The response is whole; the client connection
             * closes after it (response_head said so). */
            log_msg(LOG_LEVEL_INFO, "proxy", "%s: answered %d before the "
                    "end of the request body and stopped reading it (%s);"
                    " the rest of the body is not sent", c->member->name,
                    c->msg->res.status, strerror(errno));
            c->be_write_closed = true;
            c->keep_alive = false;
            return STEP_WAIT;
        }
        if (w < 0)
            return backend_failed(c, "writing the request", errno);
        if (w > 0) {
            c->be_wrote = true;
            c->last_progress_ms = now_ms(c);
            atomic_fetch_add(&c->member->bytes_out, (uint64_t)w);
            continue;
        }
        if (c->bhead_sent < c->bhead_len || p->pos < p->ready)
            return STEP_WAIT;
        if (c->bhead != NULL) {     /* a retry builds the head anew */
            loop_buf_put(c->worker->loop, c->bhead);
            c->bhead = NULL;
        }
        if (p->done && p->tunnel && p->eof && !p->shut) {
            /* The client's half-close, passed on once all it sent is
             * through; the other direction goes on until it closes. */
            shutdown(be->watch.fd, SHUT_WR);
            p->shut = true;
        }
        if (p->done)
            return STEP_WAIT;

        if (c->in_len == LOOP_BUF_SIZE)
            pump_compact(p, &c->in_len);
        n = conn_read(c, c->in + c->in_len, LOOP_BUF_SIZE - c->in_len);
        if (n == IO_BLOCKED) {
            pump_uncork(be->watch.fd, &c->be_corked);
            return STEP_WAIT;
        }
        if (n <= 0 && p->tunnel) {
            p->done = p->eof = true;
            continue;
        }
        if (n == 0 && !c->response_started) {
            /* Apache answers 400 too; the back end's connection, with
             * a request cut short on it, is closed (conn_local_reply). */
            if (p->kind == HTTP1_BODY_LENGTH)
                log_msg(LOG_LEVEL_INFO, "proxy", "client ended its request "
                        "body early (%llu of its %llu bytes came; to %s); "
                        "answering 400", (unsigned long long)
                        (c->msg->req.info.content_length - p->remaining),
                        (unsigned long long)c->msg->req.info.content_length,
                        c->member->name);
            else
                log_msg(LOG_LEVEL_INFO, "proxy", "client ended its chunked "
                        "request body early (to %s); answering 400",
                        c->member->name);
            return conn_local_reply(c, 400, true);
        }
        if (n <= 0) {
            log_msg(LOG_LEVEL_INFO, "proxy",
                    "client closed the connection in the middle of its "
                    "request body (to %s)", c->member->name);
            return conn_abort(c);
        }

        c->in_len += (size_t)n;
        c->bytes_received += (uint64_t)n;
        c->last_progress_ms = now_ms(c);
        if (pump_frame(p, c->in, &c->in_len, &error) < 0) {
            log_msg(LOG_LEVEL_INFO, "proxy",
                    "bad chunked request body: %s", error);
            if (c->response_started)
                return conn_abort(c);
            return conn_local_reply(c, 400, true);
        }
        if (body_over_limit(c)) {
            if (c->response_started)
                return conn_abort(c);
            return conn_local_reply(c, 413, true);
        }
    }
}

/* ---- response pump: back end -> client ------------------------------- */

static bool failonstatus(const struct balancer *b, int status)
{
    int i;

    for (i = 0; i < b->nfailonstatus; i++) {
        if (b->failonstatus[i] == status)
            return true;
    }
    return false;
}

/* An interim 1xx response (not 101): pass it on to an HTTP/1.1 client,
 * then wait for the final one. */
static void response_interim(struct conn *c, size_t head_len)
{
    if (c->msg->req.version_minor >= 1 &&
        (!take_buf(c, &c->ohead) || head_build_interim(c) < 0))
        c->ohead_len = c->ohead_sent = 0;
    c->bin_len -= head_len;
    memmove(c->bin, c->bin + head_len, c->bin_len);
}

/* 101 Switching Protocols: both sides become a raw tunnel, when it
 * switches to the protocol asked for (websocket) once the request
 * body is through; else -1, the cause logged. */
static int response_upgrade(struct conn *c)
{
    const struct http1_response *res = &c->msg->res;
    const struct http1_header *up =
        http1_find_header(res->headers, res->num_headers, "Upgrade");
    const char *error = NULL;

    if (!c->msg->req.info.upgrade) {
        log_msg(LOG_LEVEL_ERR, "proxy", "%s: 101 Switching Protocols "
                "to a request that asked for no upgrade; answering 502",
                c->member->name);
        return -1;
    }
    if (up == NULL || !http1_list_has_token(up->value, up->value_len,
                                            "websocket")) {
        log_msg(LOG_LEVEL_ERR, "proxy", "%s: 101 Switching Protocols "
                "to %.*s, not the websocket asked for; answering 502",
                c->member->name, up ? (int)up->value_len : 6,
                up ? up->value : "(none)");
        return -1;
    }
    if (!c->reqp.done) {
        log_msg(LOG_LEVEL_ERR, "proxy", "%s: 101 Switching Protocols "
                "before the request body was through; answering 502",
                c->member->name);
        return -1;
    }
    c->resp.kind = HTTP1_BODY_UNTIL_CLOSE;
    c->resp.tunnel = true;
    c->resp.done = false;
    c->reqp.kind = HTTP1_BODY_UNTIL_CLOSE;
    c->reqp.tunnel = true;
    c->reqp.done = false;
    c->keep_alive = false;
    return pump_frame(&c->reqp, c->in, &c->in_len, &error);
}

/*
 * A response whose framing a less careful hop could read another way:
 * what goes to the client is decided (proxy_head.c keeps one framing),
 * but the member is odd, so say so, naming it.
 */
static void response_framing_notes(const struct conn *c)
{
    const struct http1_response *r = &c->msg->res;
    size_t i;

    if (r->info.has_content_length && r->info.has_transfer_encoding)
        log_msg(LOG_LEVEL_WARN, "proxy", "%s: response with both "
                "Transfer-Encoding and Content-Length; Content-Length "
                "dropped (RFC 9112 6.1)", c->member->name);
    for (i = 0; r->info.connection_framing && i < r->num_headers; i++) {
        const struct http1_header *h = &r->headers[i];

        if (h->name_len != 10 ||
            strncasecmp(h->name, "Connection", 10) != 0)
            continue;
        if (http1_list_has_token(h->value, h->value_len,
                                 "content-length") ||
            http1_list_has_token(h->value, h->value_len,
                                 "transfer-encoding")) {
            log_msg(LOG_LEVEL_WARN, "proxy", "%s: response's Connection "
                    "names a framing field (%.*s); the framing is kept",
                    c->member->name, (int)h->value_len, h->value);
            return;
        }
    }
}

/*
 * A response whose body ends when the back end closes would end the
 * client's connection too. An HTTP/1.1 client can take it chunked
 * instead (RFC 9112 7: a proxy may add the chunked coding), and keep its
 * connection. Not for 101, nor when the response has codings of its own.
 */
static bool can_reframe(const struct conn *c)
{
    const struct http1_response *r = &c->msg->res;

    return c->keep_alive && c->msg->req.version_minor >= 1 &&
           r->status != 101 && !r->info.has_transfer_encoding;
}

/* encode: the body bytes just made ready become one chunk. Its size line
 * goes to ohead (after what is still unsent there), led by the CRLF that
 * ends the chunk before. Returns -1 when ohead has no room. */
static int encode_chunk(struct conn *c)
{
    struct pump *p = &c->resp;
    size_t n = p->ready - p->pos, space;
    int w;

    if (!p->encode || n == 0)
        return 0;
    if (c->ohead_sent == c->ohead_len)
        c->ohead_len = c->ohead_sent = 0;
    space = LOOP_BUF_SIZE - c->ohead_len;
    w = snprintf(c->ohead + c->ohead_len, space, "%s%zx\r\n",
                 p->chunk_sent ? "\r\n" : "", n);
    if (w < 0 || (size_t)w >= space)
        return -1;
    c->ohead_len += (size_t)w;
    p->chunk_sent = true;
    return 0;
}

/* encode: the back end closed; end the chunked body. */
static void encode_end(struct conn *c)
{
    const char *end = c->resp.chunk_sent ? "\r\n0\r\n\r\n" : "0\r\n\r\n";

    if (c->ohead_sent == c->ohead_len)
        c->ohead_len = c->ohead_sent = 0;
    memcpy(c->ohead + c->ohead_len, end, strlen(end));
    c->ohead_len += strlen(end);
}

/* The final response head, length head_len, is parsed in c->msg->res. */
static enum step response_head(struct conn *c, size_t head_len)
{
    const struct http1_message_info *info = &c->msg->res.info;
    const char *error = NULL;

    c->res_parsed = true;
    response_framing_notes(c);
    if (failonstatus(c->balancer, c->msg->res.status)) {
        /* As Apache 2.4 does, the response still goes to the client;
         * the member is put in error for the next requests. */
        char cause[64];

        snprintf(cause, sizeof(cause), "status %d is in failonstatus",
                 c->msg->res.status);
        member_set_error(c->member, cause);
    }

    pump_setup(&c->resp, info->body, info->content_length, head_len);
    if (info->body == HTTP1_BODY_CHUNKED && c->msg->req.version_minor == 0) {
        c->resp.decode = true;
        c->keep_alive = false;
    }
    if (info->body == HTTP1_BODY_UNTIL_CLOSE) {
        if (can_reframe(c))
            c->resp.encode = true;
        else
            c->keep_alive = false;
    }
    if (c->msg->res.status == 101 && response_upgrade(c) < 0) {
        drop_backend(c, false);
        return conn_local_reply(c, 502, true);
    }
    if (pump_frame(&c->resp, c->bin, &c->bin_len, &error) < 0) {
        log_msg(LOG_LEVEL_ERR, "proxy", "%s: bad chunked response "
                "body: %s", c->member->name, error);
        drop_backend(c, false);
        return conn_local_reply(c, 502, true);
    }

    /* A final response before the request body is all in: the client
     * connection closes after it (the rest of the body is not read as
     * a request), and the client is told so. */
    if (!c->reqp.done && !c->resp.tunnel)
        c->keep_alive = false;
    if (!take_buf(c, &c->ohead)) {
        drop_backend(c, false);
        return conn_local_reply(c, 500, true);
    }
    if (head_build_response(c) < 0) {
        log_msg(LOG_LEVEL_ERR, "proxy", "%s: response head too large "
                "once rewritten", c->member->name);
        drop_backend(c, false);
        return conn_local_reply(c, 502, true);
    }
    if (encode_chunk(c) < 0) {
        drop_backend(c, false);
        return conn_local_reply(c, 502, true);
    }
    c->status = c->msg->res.status;
    c->response_started = true;
    return STEP_AGAIN;
}

/* RFC 9112 6.3: a response with both Transfer-Encoding and
 * Content-Length "ought to be handled as an error"; relaying it could
 * split the response for a client or cache that reads the length. */
static bool response_framing_ambiguous(const struct http1_response *r)
{
    return r->info.has_transfer_encoding && r->info.has_content_length;
}

/* Read and parse the response head. STEP_AGAIN: the head is parsed (or
 * the state changed), STEP_WAIT: blocked. */
static enum step read_response_head(struct conn *c)
{
    struct backend_conn *be = c->be;
    int n;

    for (;;) {
        ssize_t w = client_send(c, NULL, NULL, false);

        if (w < 0)
            return conn_abort(c);
        c->bytes_sent += (uint64_t)(w > 0 ? w : 0);
        if (c->ohead_sent < c->ohead_len)
            return STEP_WAIT;       /* an interim response is on its way */
        c->ohead_len = c->ohead_sent = 0;

        if (c->bin_len > 0) {
            n = http1_parse_response(c->bin, c->bin_len, c->msg->req.method,
                                     c->msg->req.method_len, &c->msg->res);
            if (n == HTTP1_ERROR) {
                log_msg_limited(&c->member->log_stamp, LOG_LEVEL_ERR,
                                "proxy", "%s: malformed response head: %s; "
                                "answering 502 (logged at most once a "
                                "second)", c->member->name,
                                c->msg->res.error ? c->msg->res.error
                                                  : "?");
                drop_backend(c, false);
                return conn_local_reply(c, 502, true);
            }
            if (n > 0 && response_framing_ambiguous(&c->msg->res)) {
                log_msg_limited(&c->member->log_stamp, LOG_LEVEL_ERR,
                                "proxy", "%s: malformed response head: "
                                "both Transfer-Encoding and Content-Length;"
                                " answering 502 (logged at most once a "
                                "second)", c->member->name);
                drop_backend(c, false);
                return conn_local_reply(c, 502, true);
            }
            if (n > 0 && c->msg->res.status >= 100 &&
                c->msg->res.status < 200 && c->msg->res.status != 101) {
                response_interim(c, (size_t)n);
                continue;
            }
            if (n > 0)
                return response_head(c, (size_t)n);
            if (c->bin_len == LOOP_BUF_SIZE) {
                log_msg_limited(&c->member->log_stamp, LOG_LEVEL_ERR,
                                "proxy", "%s: response head larger than %d "
                                "bytes; answering 502 (logged at most once "
                                "a second)", c->member->name, LOOP_BUF_SIZE);
                drop_backend(c, false);
                return conn_local_reply(c, 502, true);
            }
        }

        if (!be->readable)
            return STEP_WAIT;
        if (!take_buf(c, &c->bin)) {
            drop_backend(c, false);
            return conn_local_reply(c, 500, true);
        }
        w = pump_read(be->watch.fd, &be->readable, be->rdhup,
                      c->bin + c->bin_len, LOOP_BUF_SIZE - c->bin_len);
        if (w == IO_BLOCKED)
            return STEP_WAIT;
        if (w == IO_EOF)
            return backend_failed(c, "reading the response head", 0);
        if (w < 0)
            return backend_failed(c, "reading the response head", errno);
        c->bin_len += (size_t)w;
        c->last_progress_ms = now_ms(c);
        atomic_fetch_add(&c->member->bytes_in, (uint64_t)w);
    }
}

/* The response has been relayed whole. */
static enum step response_done(struct conn *c)
{
    bool reusable = c->msg->res.info.keep_alive && c->reqp.done &&
                    !c->be->rdhup &&
                    !c->resp.tunnel && c->resp.ready == c->bin_len &&
                    c->bhead_sent == c->bhead_len &&
                    c->reqp.pos == c->reqp.ready;

    if (!c->resp.tunnel && c->resp.ready != c->bin_len)
        log_msg(LOG_LEVEL_WARN, "proxy", "%s: %zu bytes after the end of "
                "a %d response%s; its connection is closed, not reused",
                c->member->name, c->bin_len - c->resp.ready,
                c->msg->res.status, c->resp.kind == HTTP1_BODY_NONE ?
                " that has no body" : "");
    if (c->resp.tunnel)
        c->reqp.done = true;
    drop_backend(c, reusable);
    route_busy(c, false);
    route_log_access(c, false);
    return request_end(c);
}

static enum step pump_response(struct conn *c)
{
    struct pump *p = &c->resp;
    const char *error = NULL;

    if (!c->res_parsed)
        return read_response_head(c);

    for (;;) {
        struct backend_conn *be = c->be;
        bool more = c->tls == NULL && pump_more_follows(p, be->readable);
        ssize_t w = client_send(c, c->bin, p, more);
        ssize_t n;

        if (w < 0) {
            log_msg(LOG_LEVEL_INFO, "proxy", "client went away in the "
                    "middle of the response from %s: %s", c->member->name,
                    strerror(errno));
            return conn_abort(c);
        }
        if (w > 0) {
            c->bytes_sent += (uint64_t)w;
            c->last_progress_ms = now_ms(c);
            c->client_corked = more;
            continue;
        }
        if (c->ohead_sent < c->ohead_len || p->pos < p->ready)
            return STEP_WAIT;
        if (p->tunnel && p->eof && c->reqp.eof &&
            c->reqp.pos == c->reqp.ready)
            return response_done(c);        /* both sides closed */
        if (p->tunnel && p->eof) {
            if (!p->shut) {
                /* the back end's half-close, passed on */
                tls_close_notify(c->tls);
                shutdown(c->watch.fd, SHUT_WR);
                p->shut = true;
            }
            return STEP_WAIT;
        }
        if (p->done)
            return response_done(c);

        if (c->bin_len == LOOP_BUF_SIZE)
            pump_compact(p, &c->bin_len);
        n = pump_read(be->watch.fd, &be->readable, be->rdhup,
                      c->bin + c->bin_len, LOOP_BUF_SIZE - c->bin_len);
        if (n == IO_BLOCKED) {
            pump_uncork(c->watch.fd, &c->client_corked);
            return STEP_WAIT;
        }
        if (n < 0 && p->encode)     /* a reset: the client must see the
                                       chunked body unfinished */
            return backend_failed(c, "reading the response body", errno);
        if (n <= 0 && p->kind == HTTP1_BODY_UNTIL_CLOSE) {
            if (p->encode)
                encode_end(c);
            p->done = p->eof = true;
            continue;
        }
        if (n <= 0)
            return backend_failed(c, "reading the response body",
                                  n == 0 ? 0 : errno);

        c->bin_len += (size_t)n;
        c->last_progress_ms = now_ms(c);
        atomic_fetch_add(&c->member->bytes_in, (uint64_t)n);
        if (pump_frame(p, c->bin, &c->bin_len, &error) < 0) {
            log_msg(LOG_LEVEL_ERR, "proxy", "%s: bad chunked response "
                    "body: %s", c->member->name, error);
            return conn_abort(c);
        }
        if (encode_chunk(c) < 0)
            return conn_abort(c);
    }
}

static enum step step_proxy(struct conn *c)
{
    struct backend_conn *be = c->be;
    enum step r;

    if (be == NULL)
        return STEP_WAIT;       /* queued for a connection (max=) */

    if (be->connecting) {
        int err;

        if (!be->writable)
            return STEP_WAIT;
        err = pool_connect_result(be);
        if (err != 0)
            return connect_failed(c, err);
        c->last_progress_ms = now_ms(c);
        proxy_timer_set(c, now_ms(c) + conn_io_timeout_ms(c));
    }

    r = pump_request(c);
    if (r != STEP_WAIT)
        return r;
    return pump_response(c);
}

/* ---- events and timers ----------------------------------------------- */

void conn_run(struct conn *c)
{
    enum step r;

    log_set_client(c->client_text);
    do {
        switch (c->state) {
        case CONN_HEAD:
            r = conn_step_head(c);
            break;
        case CONN_PROXY:
            r = step_proxy(c);
            break;
        case CONN_HANDLER:
            r = step_handler(c);
            break;
        case CONN_LOCAL:
            r = step_local(c);
            break;
        case CONN_LINGER:
        default:
            r = step_linger(c);
            break;
        }
    } while (r == STEP_AGAIN);
    log_set_client(NULL);
}

static void on_client_event(struct loop *l, struct loop_watch *w,
                            uint32_t events)
{
    struct conn *c = (struct conn *)w;

    if (events & READ_EVENTS)
        c->readable = true;
    if (events & WRITE_EVENTS)
        c->writable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->rdhup = true;
    conn_run(c);
}

void conn_on_backend_event(void *owner, struct backend_conn *b,
                           uint32_t events)
{
    struct conn *c = owner;

    if (c->state == CONN_PROXY && c->be == b)
        conn_run(c);
}

/* The back end gave no sign of life within its timeout. */
static enum step proxy_timeout(struct conn *c)
{
    int64_t deadline = c->last_progress_ms + conn_io_timeout_ms(c);
    int64_t body = body_deadline(c);

    if (c->route_deadline_ms != 0)
        return conn_route_poll(c);
    if (body != 0 && body <= now_ms(c) && c->reqp.pos == c->reqp.ready) {
        log_msg(LOG_LEVEL_INFO, "proxy", "request body not received in "
                "time (RequestReadTimeout body=); answering 408");
        pool_cancel_wait(c->pool, &c->waiter);
        if (c->response_started)
            return conn_abort(c);
        return conn_local_reply(c, 408, true);
    }
    if (c->waiter.queued) {
        pool_cancel_wait(c->pool, &c->waiter);
        log_msg(LOG_LEVEL_WARN, "proxy", "%s: no connection free under "
                "its max=%d within %d ms; answering 503", c->member->name,
                c->member->max_conns, queue_timeout_ms(c));
        return conn_local_reply(c, 503, false);
    }
    if (c->be != NULL && c->be->connecting)
        return connect_failed(c, ETIMEDOUT);
    if (deadline > now_ms(c)) {
        proxy_timer_set(c, deadline);
        return STEP_WAIT;
    }
    if (c->reqp.tunnel) {
        log_msg(LOG_LEVEL_DEBUG, "proxy", "%s: tunnel idle for %d ms; "
                "closed", c->member->name, conn_io_timeout_ms(c));
        route_busy(c, false);
        return conn_abort(c);
    }
    if (c->balancer->failontimeout)
        member_set_error(c->member, "timeout waiting for a response");
    if (c->response_started) {
        log_msg(LOG_LEVEL_ERR, "proxy", "%s: no data for %d ms in the "
                "middle of a response; closing the client connection",
                c->member->name, conn_io_timeout_ms(c));
        return conn_abort(c);
    }
    log_msg(LOG_LEVEL_ERR, "proxy", "%s: no response within %d ms; "
            "answering 504", c->member->name, conn_io_timeout_ms(c));
    return conn_local_reply(c, 504, true);
}

static void on_timer(struct loop *l, struct loop_timer *t)
{
    struct conn *c = (struct conn *)((char *)t -
                                     offsetof(struct conn, timer));
    enum step r = STEP_AGAIN;

    log_set_client(c->client_text);
    switch (c->state) {
    case CONN_HEAD:
        if (c->in_len == 0 && !c->head_started) {
            conn_free(c);
            r = STEP_FREED;
        } else {
            r = conn_head_error(c, 408, "request head not received in time");
        }
        break;
    case CONN_PROXY:
        r = proxy_timeout(c);
        break;
    case CONN_HANDLER:
        r = conn_local_reply(c, 408, true);
        break;
    case CONN_LOCAL:
    case CONN_LINGER:
        conn_free(c);
        r = STEP_FREED;
        break;
    }
    log_set_client(NULL);
    if (r == STEP_AGAIN)
        conn_run(c);
}

void conn_start(struct conn *c)
{
    c->watch.on_event = on_client_event;
    c->timer.on_expire = on_timer;
    c->state = CONN_HEAD;
    c->head_start_ms = now_ms(c);
    loop_timer_set(c->worker->loop, &c->timer, conn_head_deadline(c));
}

void conn_on_pool_free(void *owner)
{
    struct conn *c = owner;

    if (c->on_ready)
        return;
    c->on_ready = true;
    c->ready_next = c->worker->ready;
    c->worker->ready = c;
}

/* The turn's end: the held connections write (and go on as far as
 * they can), in the order they were held. */
void conn_flush_held(struct proxy_worker *w)
{
    struct conn *c;

    w->flushing = true;
    while ((c = w->flush) != NULL) {
        w->flush = c->flush_next;
        c->on_flush = false;
        conn_run(c);
    }
    w->flushing = false;
}

void conn_run_ready(struct proxy_worker *w)
{
    struct conn *c;

    while ((c = w->ready) != NULL) {
        enum step r;

        w->ready = c->ready_next;
        c->on_ready = false;
        if (c->state != CONN_PROXY || c->be != NULL)
            continue;
        log_set_client(c->client_text);
        r = conn_attempt(c, 0);
        log_set_client(NULL);
        if (r == STEP_AGAIN)
            conn_run(c);
    }
}

bool conn_close_if_idle(struct conn *c)
{
    int64_t soon = now_ms(c) + 1000;

    if (c->state != CONN_HEAD)
        return false;
    if (c->in_len == 0) {
        conn_free(c);
        return true;
    }
    /* A head on its way gets a second to arrive, not HEADER_TIMEOUT. */
    if (c->timer.deadline_ms > soon)
        loop_timer_set(c->worker->loop, &c->timer, soon);
    return false;
}
