/*
 * proxy_conn.h - internal to the proxy: a worker, a client connection and
 * the request it is relaying. Shared by proxy.c (the state machine),
 * proxy_request.c (request heads), proxy_pump.c (bytes and body
 * framing), proxy_worker.c (accept, shutdown), proxy_head.c (heads we
 * write) and proxy_route.c (member choice, access log).
 *
 * Buffers. A client connection reads into `in`. A request head stays at
 * the start of `in` while it is served (the parsed request points into
 * it); its body streams through the rest of `in`, and what follows the
 * body (a pipelined request) stays there for later. The response head
 * likewise stays at the start of `bin`, the back end's input. The heads
 * we write go to `bhead` (to the back end) and `ohead` (to the client),
 * and the parsed heads to `msg`. All five come from the loop's buffer
 * free list, so nothing is allocated per request. `in` and `msg` are
 * taken when the client sends and go back when it is idle; the other
 * three are taken when first written and go back when the request ends,
 * bhead as soon as the request head is sent (proxy.c, take_buf).
 */
#ifndef BALANCER_PROXY_CONN_H
#define BALANCER_PROXY_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "balancer.h"
#include "config.h"
#include "http1.h"
#include "loop.h"
#include "pool.h"
#include "sticky.h"

#define LINGER_TIMEOUT_MS     2000  /* draining input before a close */
#define MAX_TRIED               32  /* members one request may try */

struct conn;
struct worker_gen;
struct ssl_st;                      /* OpenSSL's SSL */

/* The parsed heads of the request being served and its response. They
 * are large (HTTP1_MAX_HEADERS each), so they live in a loop buffer taken
 * with the input buffer, not in every idle connection. */
struct conn_msgs {
    struct http1_request req;
    struct http1_response res;
};

_Static_assert(sizeof(struct conn_msgs) <= LOOP_BUF_SIZE,
               "parsed heads must fit a loop buffer");

struct listener {
    struct loop_watch watch;
    struct proxy_worker *worker;
    const struct listener_config *config;   /* &own */
    struct listener_config own;     /* a copy: a listener outlives the
                                       configuration it came from */
    uint16_t port;
};

struct proxy_worker {
    int index;
    const struct config *config;
    struct loop *loop;
    struct pool *pool;
    struct listener **listeners;
    size_t nlisteners;
    struct worker_gen *gens;        /* generations in use, newest first
                                       (proxy_gen.c); config and pool
                                       are the newest one's */
    struct loop_timer sweep;        /* once a second: pool ttl, accept */
    struct health_thread *health;   /* this thread's health checks */
    struct conn *conns;             /* every open client connection */
    size_t nconns;
    struct conn *free_conns;
    struct conn *ready;             /* waiters whose member has a free
                                       connection: resumed at turn end */
    struct conn *flush;             /* writes held to the turn's end */
    struct conn **flush_tail;
    bool flushing;                  /* writing them: no more holding */
    _Atomic bool shutdown_requested;
    bool stopping;                  /* shutdown seen by the loop */
    bool accept_paused;             /* out of file descriptors */
    int64_t accept_error_logged_ms;
};

/* One direction of a message body through a buffer (see the top). */
struct pump {
    enum http1_body kind;           /* NONE, LENGTH, CHUNKED, UNTIL_CLOSE */
    bool tunnel;                    /* after 101: raw bytes until close */
    bool decode;                    /* strip chunked framing (1.0 client) */
    bool encode;                    /* frame an until-close body as chunked
                                       (1.1 client kept open) */
    bool chunk_sent;                /* encode: a chunk went out */
    uint64_t remaining;             /* LENGTH: body bytes not yet seen */
    struct http1_chunked chunked;
    bool done;                      /* the body's end has been read */
    bool eof;                       /* the source closed */
    bool shut;                      /* tunnel: that half-close was
                                       passed on (shutdown SHUT_WR) */
    bool discarded;                 /* sent body bytes were dropped */
    size_t head_len;                /* head kept at the buffer's start */
    size_t pos;                     /* next byte to send */
    size_t ready;                   /* end of body bytes ready to send */
    uint64_t sent;                  /* body bytes sent */
};

enum conn_state {
    CONN_HEAD,          /* waiting for, or reading, a request head */
    CONN_PROXY,         /* relaying a request and its response */
    CONN_HANDLER,       /* reading a request body for a handler */
    CONN_LOCAL,         /* sending a response we made */
    CONN_LINGER         /* all sent; draining input before close */
};

struct conn {
    struct loop_watch watch;
    struct loop_timer timer;
    struct proxy_worker *worker;
    struct conn *next, *prev;       /* worker->conns, or free list */
    enum conn_state state;
    bool readable, writable;
    bool rdhup;                     /* the client closed or reset */
    uint16_t client_port;
    uint16_t local_port;
    char client_ip[INET6_ADDRSTRLEN];
    char client_text[INET6_ADDRSTRLEN + 8];    /* "ip:port" for logs */
    uint32_t requests;              /* requests begun on this connection */
    struct worker_gen *gen;         /* configuration generation in use */
    const struct config *config;    /* gen's: read this, not the
                                       worker's, within a request */
    struct pool *pool;              /* gen's back-end pool */
    const struct vhost *vhost;      /* of the listener, or NULL */
    struct ssl_st *tls;             /* the TLS session (tls.h), or NULL:
                                       plain TCP */

    /* client input */
    char *in;
    size_t in_len;
    bool head_started;              /* bytes of a new head have come */
    int64_t head_start_ms;          /* RequestReadTimeout header= from */
    int64_t body_start_ms;          /* RequestReadTimeout body= from */
    int64_t route_deadline_ms;      /* waiting for a usable member until
                                       then (balancer timeout=), or 0 */

    /* the request being served */
    struct conn_msgs *msg;          /* taken and put back with in */
    bool req_valid;                 /* req holds a parsed head */
    struct pump reqp;
    bool keep_alive;                /* keep the client connection after */
    bool idempotent;
    int64_t start_us;               /* wall clock, for the access log */
    int64_t start_ms;               /* monotonic */
    int64_t last_progress_ms;

    /* a <Location> handler serves it (handler.h), not a ProxyPass */
    const struct location *location;
    char *local_body;               /* the handler's body (malloc'd),
                                       sent after ohead via resp */

    /* member choice */
    const struct proxy_pass *pass;
    struct balancer *balancer;
    struct member *member;          /* of the current attempt */
    bool member_busy;               /* busy_member->busy counted */
    bool listener_gone;             /* a reload removed its Listen: the
                                       connection closes after the
                                       request it is on */
    struct member *busy_member;
    struct sticky_value sticky;
    bool has_sticky;
    struct member *route_member;    /* the member the route named */
    struct member *failover_from;
    enum pick_reason decision;
    int attempts;
    struct member *tried[MAX_TRIED];
    int ntried;

    /* the back end of the current attempt */
    struct pool_waiter waiter;      /* queued while the member is at max= */
    struct conn *ready_next;
    bool on_ready;
    struct conn *flush_next;
    bool on_flush;
    struct backend_conn *be;
    bool be_corked;                 /* the last write to be had MSG_MORE */
    bool client_corked;             /* the last write to the client had */
    bool be_reused;                 /* be served a request before */
    bool be_wrote;                  /* a write to be succeeded */
    bool be_write_closed;           /* it answered early and stopped
                                       reading the request body */
    char *bin;
    size_t bin_len;
    bool res_parsed;                /* res holds the final response head */
    struct pump resp;
    char *bhead;
    size_t bhead_len, bhead_sent;

    /* to the client */
    char *ohead;
    size_t ohead_len, ohead_sent;
    bool response_started;          /* a byte of the final response sent */
    int status;                     /* final status, for the log */
    size_t local_body_len;          /* body of a response we made */
    uint64_t bytes_sent;            /* to the client, this request */
    uint64_t bytes_received;        /* from the client, this request */
};

/* What a step of the state machine did: STEP_WAIT, it is blocked on
 * I/O or a timer; STEP_AGAIN, it changed the state and the next step
 * runs; STEP_FREED, the connection is gone. */
enum step { STEP_WAIT, STEP_AGAIN, STEP_FREED };

/* I/O results besides a byte count */
#define IO_EOF     0
#define IO_ERROR  (-1)
#define IO_BLOCKED (-2)

/* ---- proxy.c --------------------------------------------------------- */

/* Start serving a new accepted connection (state CONN_HEAD). */
void conn_start(struct conn *c);

/* Advance c as far as it can go without blocking. May free c. */
void conn_run(struct conn *c);

/* Events on c's back-end connection (pool callback). */
void conn_on_backend_event(void *owner, struct backend_conn *b,
                           uint32_t events);

/* A connection of the member c waits for is free (pool callback). */
void conn_on_pool_free(void *owner);

/* Resume the connections conn_on_pool_free queued (end of a turn). */
void conn_run_ready(struct proxy_worker *w);

/* Make the writes held during this turn's events (end of a turn). */
void conn_flush_held(struct proxy_worker *w);

/* At shutdown: close c if it is idle between requests (returns true);
 * a request head being received gets a second more. */
bool conn_close_if_idle(struct conn *c);

/* Answer c's current request with an error page of status (our own, no
 * member's); close: the client connection closes after it. Drops the
 * back end, if any, unused. STEP_AGAIN, or STEP_FREED when no buffer
 * could be had for the head. */
enum step conn_local_reply(struct conn *c, int status, bool close);

/* Send c's request to c->member (route_choose set it): on a pooled
 * connection, a new one, or queued while the member is at max=. flags
 * are pool_acquire's. Returns as a step does. */
enum step conn_attempt(struct conn *c, unsigned flags);

/* Read from the client (through TLS when it has it) into buf: the byte
 * count, IO_EOF, IO_ERROR or IO_BLOCKED, as pump_read. */
ssize_t conn_read(struct conn *c, char *buf, size_t space);

/* The time a back end has to answer or go on (ProxyTimeout, timeout= of
 * the member), in ms. */
int conn_io_timeout_ms(const struct conn *c);

/* When the request head must be in (RequestReadTimeout header=, else
 * Timeout), counted from c->head_start_ms. */
int64_t conn_head_deadline(const struct conn *c);

/* ---- proxy_request.c ------------------------------------------------- */

/* CONN_HEAD: read and parse a request head, then begin serving it
 * (local answer, handler, or an attempt on a member). A step. */
enum step conn_step_head(struct conn *c);

/* A request head that cannot be served (malformed, too large, too
 * slow): log cause, answer status and close. A step. */
enum step conn_head_error(struct conn *c, int status, const char *cause);

/* The request waits for a usable member (the balancer's timeout=); its
 * timer fired: try again, or answer 503 once the time is up. A step. */
enum step conn_route_poll(struct conn *c);

/* ---- proxy_pump.c ---------------------------------------------------- */

/*
 * Read into buf[0..space) from fd. readable is the edge-triggered
 * readiness flag: cleared when the socket is drained. Returns the byte
 * count, IO_EOF, IO_ERROR (errno set) or IO_BLOCKED.
 */
ssize_t pump_read(int fd, bool *readable, bool rdhup, char *buf,
                  size_t space);

/*
 * Write the rest of a head (head[*head_sent..head_len)) and then the
 * ready body bytes of p (may be NULL) from buf, in one call; more: with
 * MSG_MORE. Returns the bytes written, 0 when blocked or there is
 * nothing to write, IO_ERROR with errno set; advances *head_sent and p.
 */
ssize_t pump_send(int fd, bool *writable, const char *head,
                  size_t *head_sent, size_t head_len, const char *buf,
                  struct pump *p, bool more);

/* The pieces pump_send writes, as iov[0..return) of *total bytes, for a
 * writer of its own (TLS); pump_advance records that w were written. */
int pump_pieces(struct iovec *iov, size_t *total, const char *head,
                size_t head_sent, size_t head_len, const char *buf,
                const struct pump *p);
void pump_advance(size_t w, size_t *head_sent, size_t head_len,
                  struct pump *p);

/* A body write may take MSG_MORE: the source has more right now. */
bool pump_more_follows(const struct pump *p, bool source_readable);

/* Send what MSG_MORE held back on fd, when *corked; clears it. */
void pump_uncork(int fd, bool *corked);

/* Start p for a body of kind (length: its Content-Length) after a head
 * of head_len bytes at the buffer's start. */
void pump_setup(struct pump *p, enum http1_body kind, uint64_t length,
                size_t head_len);

/* New bytes buf[p->ready..*len) arrived: those of the body become
 * ready, bytes after its end stay. 0, or -1 on bad chunked framing
 * (cause in *error). Decoding (p->decode) may shorten *len. */
int pump_frame(struct pump *p, char *buf, size_t *len, const char **error);

/* All ready bytes were sent and the buffer is full: drop the sent body
 * bytes, keeping the head. Only when pos == ready == *len. */
void pump_compact(struct pump *p, size_t *len);

/* ---- proxy_worker.c -------------------------------------------------- */

/* Close c's socket and put c back on the free list; releases its
 * buffers and back end (not reusable). */
void conn_free(struct conn *c);

/* Open li's listening socket (li->config set). Returns 0, or -1 with
 * the cause in err. */
int listener_open(struct listener *li, char *err, size_t errsize);

/* ---- proxy_gen.c: configuration generations (reload.h) ------------- */

/* Take the current generation for the worker (at creation). Returns 0,
 * or -1 when there is none or memory is exhausted. */
int worker_gen_init(struct proxy_worker *w);

/* A new connection takes the worker's newest generation; detach gives
 * it back (conn_free). */
void conn_gen_attach(struct conn *c);
void conn_gen_detach(struct conn *c);

/* Before a new request head: move c to the current generation when a
 * reload made a new one (c must hold no back end nor member). When the
 * reload removed c's Listen address, c stays on the old generation and
 * listener_gone is set: its next response closes it. */
void conn_gen_refresh(struct conn *c);

/* After loop_wake: take a new generation, follow its Listen addresses,
 * move idle connections to it. */
void worker_gen_update(struct proxy_worker *w);

/* At the end of a turn, after log_flush: free generations no
 * connection of w uses any more. */
void worker_gen_collect(struct proxy_worker *w);

/* pool_sweep / pool_close_idle on every generation's pool. */
void worker_gen_sweep(struct proxy_worker *w);
void worker_gen_close_idle(struct proxy_worker *w);

/* At worker free, connections gone: every pool and reference. */
void worker_gen_free_all(struct proxy_worker *w);

/* A listening socket for lc, registered in w's loop; NULL with the
 * cause in err. listener_free closes and frees one (NULL is fine). */
struct listener *listener_new(struct proxy_worker *w,
                              const struct listener_config *lc, char *err,
                              size_t errsize);
void listener_free(struct proxy_worker *w, struct listener *li);

/* ---- proxy_head.c ---------------------------------------------------- */

/* Build the request head for the back end into c->bhead.
 * Returns 0, or -1 when it does not fit. */
int head_build_request(struct conn *c);

/* Build the client's head for the response c->res into c->ohead.
 * Returns 0, or -1 when it does not fit. */
int head_build_response(struct conn *c);

/* Build a 1xx interim response (c->res) for the client into c->ohead. */
int head_build_interim(struct conn *c);

/* Build a small HTML response with status into c->ohead. */
void head_build_error(struct conn *c, int status, bool head_only);

/* Build our answer to OPTIONS * (200) or to CONNECT (405) into c->ohead:
 * an Allow header and no body. */
void head_build_allow(struct conn *c, int status);

/* Make the head of c->ohead (built by head_build_error for r->status)
 * a redirect: the same with a Location header (vhost.h) and a short
 * body. Returns 0, or -1 when the Location does not fit (the error page
 * stays). */
int head_build_redirect(struct conn *c, const struct redirect *r);

/* ---- proxy_route.c --------------------------------------------------- */

/* Choose a member for c's request (c->pass set). Returns 0 with
 * c->member set, or the status to answer (503). */
int route_choose(struct conn *c);

/* After an attempt on c->member failed with cause: choose another one.
 * Returns 0 with c->member set, or the status to answer. */
int route_retry(struct conn *c, const char *cause);

/* Write c's access log lines. aborted: the connection broke. */
void route_log_access(struct conn *c, bool aborted);

/* Mark c->member busy / not busy for the current attempt. */
void route_busy(struct conn *c, bool busy);

#endif
