/*
 * http1.h - the HTTP/1.1 message reader (RFC 9112).
 *
 * Zero-copy and incremental: every pointer a parse function returns points
 * into the caller's buffer, and a parse function may be called again with
 * the same buffer grown by newly read bytes. A head is parsed whole or not
 * at all; the caller keeps the bytes until it is done with the result.
 *
 * Return codes (all parse functions):
 *   > 0               the head is complete; the value is its length in
 *                     bytes, including the empty line that ends it
 *   HTTP1_INCOMPLETE  more bytes are needed (nothing wrong so far)
 *   HTTP1_ERROR       the message is malformed or over a limit; the result's
 *                     error_status says what to answer (400, 414, 431, 501,
 *                     505) and error says why, for the log
 *
 * Policies (see http1.c): every line must end in CRLF; a bare LF or a bare
 * CR is refused (400), in requests and responses alike (RFC 9112 2.2 lets
 * a recipient accept a bare LF; a proxy is safer refusing it). An HTTP/1.1
 * request without exactly one Host field, and any request with more than
 * one, is refused (RFC 9112 3.2), as is a Host value that is not
 * host[:port] in RFC 3986 syntax and a target with a fragment ("#").
 * Content-Length: 0 gives
 * HTTP1_BODY_LENGTH with content_length 0. A zero in struct http1_limits
 * means the default; max_fields is capped at HTTP1_MAX_HEADERS.
 */
#ifndef BALANCER_HTTP1_H
#define BALANCER_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_INCOMPLETE (-2)
#define HTTP1_ERROR      (-1)

#define HTTP1_MAX_HEADERS 128

struct http1_header {
    const char *name;
    size_t name_len;
    const char *value;      /* leading and trailing whitespace removed */
    size_t value_len;
};

enum http1_body {
    HTTP1_BODY_NONE,        /* no body at all */
    HTTP1_BODY_LENGTH,      /* content_length bytes */
    HTTP1_BODY_CHUNKED,     /* chunked transfer coding */
    HTTP1_BODY_UNTIL_CLOSE  /* responses only: read until the peer closes */
};

struct http1_limits {
    size_t max_request_line;   /* LimitRequestLine, default 8190 */
    size_t max_field_size;     /* LimitRequestFieldSize, default 8190 */
    size_t max_fields;         /* LimitRequestFields, default 100 */
};

/* Framing and connection facts derived from the headers. */
struct http1_message_info {
    enum http1_body body;
    uint64_t content_length;   /* valid when body == HTTP1_BODY_LENGTH */
    bool keep_alive;           /* per version and Connection header */
    bool expect_continue;      /* request: Expect: 100-continue */
    bool upgrade;              /* Connection: upgrade and Upgrade present */
    /* Which framing fields the head carries, recorded while parsing so
     * that a proxy building the next hop's head need not search again. */
    bool has_content_length;
    bool has_transfer_encoding;
    bool has_connection;
    bool connection_framing;   /* a Connection field names Content-Length
                                  or Transfer-Encoding */
    uint64_t length_field;     /* the Content-Length value, checked, when
                                  has_content_length (a HEAD or 304
                                  response has one but no body) */
};

struct http1_request {
    const char *method;
    size_t method_len;
    const char *target;        /* request-target as sent */
    size_t target_len;
    int version_minor;         /* HTTP/1.<minor>: 0 or 1 */
    size_t num_headers;
    struct http1_message_info info;
    int error_status;          /* on HTTP1_ERROR: status to answer */
    const char *error;         /* on HTTP1_ERROR: static text, the cause */
    /* Last, so that what a parse writes (the fields above and the first
     * few headers) lies together: in the proxy's buffers, a page. */
    struct http1_header headers[HTTP1_MAX_HEADERS];
};

struct http1_response {
    int version_minor;
    int status;                /* 100..999 */
    const char *reason;
    size_t reason_len;
    size_t num_headers;
    struct http1_message_info info;
    const char *error;         /* on HTTP1_ERROR: static text, the cause */
    struct http1_header headers[HTTP1_MAX_HEADERS];     /* last: as above */
};

/*
 * Parse a request head from buf[0..len). lim may be NULL for the defaults.
 * Leading empty lines before the request line are skipped as RFC 9112
 * section 2.2 allows (they count in the returned length).
 * Framing errors (Content-Length with Transfer-Encoding, duplicate or bad
 * Content-Length, a Transfer-Encoding whose last coding is not chunked,
 * obs-fold, bare CR, whitespace before a colon, control bytes) are
 * HTTP1_ERROR with error_status 400 (501 for a transfer coding other than
 * chunked, e.g. "gzip, chunked", which the proxy cannot forward as is;
 * 505 for an unsupported version, 414 for a long request line, 431 for a
 * long or excessive header field).
 */
int http1_parse_request(const char *buf, size_t len,
                        const struct http1_limits *lim,
                        struct http1_request *req);

/*
 * Parse a response head from buf[0..len). request_method is the method of
 * the request it answers (HEAD, CONNECT change the framing); the body kind
 * follows RFC 9112 section 6.3: 1xx, 204 and 304 and responses to HEAD have
 * none, then Transfer-Encoding, then Content-Length, else until close.
 */
int http1_parse_response(const char *buf, size_t len,
                         const char *request_method, size_t method_len,
                         struct http1_response *res);

/* Case-insensitive header lookup; returns the first match or NULL. */
const struct http1_header *http1_find_header(const struct http1_header *h,
                                             size_t n, const char *name);

/* True when the comma-separated list value contains token (any case). */
bool http1_list_has_token(const char *value, size_t value_len,
                          const char *token);

/*
 * Hop-by-hop: true for Connection, Keep-Alive, Proxy-Connection,
 * Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding,
 * Upgrade, and for any name listed in the message's Connection header(s)
 * except Content-Length, which frames the message wherever it is named
 * (a request naming it or Transfer-Encoding in Connection is refused).
 */
bool http1_is_hop_by_hop(const struct http1_header *h, size_t n,
                         const char *name, size_t name_len);

/*
 * The names a head's Connection fields list, gathered once so that
 * testing each field of the head costs a few compares instead of a walk
 * over every Connection value (http1_connection_names), and the test
 * itself, the same as http1_is_hop_by_hop on that head.
 */
#define HTTP1_CONN_NAMES 8
struct http1_conn_names {
    const char *name[HTTP1_CONN_NAMES];
    size_t len[HTTP1_CONN_NAMES];
    size_t n;
    const struct http1_header *h;   /* more listed than fit: the head, */
    size_t nh;                      /* walked as http1_is_hop_by_hop does */
};

void http1_connection_names(const struct http1_header *h, size_t n,
                            struct http1_conn_names *out);
bool http1_is_hop_by_hop_in(const struct http1_conn_names *names,
                            const char *name, size_t name_len);

/*
 * Chunked transfer coding, incremental. Zero-initialise before the first
 * call (then max_trailers may be set). Bytes are passed through unchanged
 * by the proxy; the scanner finds where the body ends and checks its
 * framing: chunk sizes are hex and at most INT64_MAX (a signed 64-bit
 * reader must read the same number; leading zeros are allowed and do not
 * count), extensions well-formed, CRLF after data, trailer fields
 * well-formed, at most max_trailers of them, and none that frames or
 * routes the message or is hop-by-hop (Content-Length, Transfer-Encoding,
 * Host, Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade):
 * RFC 9110 6.5.1 forbids them there and a next hop could merge them into
 * the header section, so such a body is refused rather than forwarded.
 */
#define HTTP1_TRAILER_NAME_MAX 20

struct http1_chunked {
    int state;
    uint64_t remaining;        /* data bytes left in the current chunk */
    unsigned digits;           /* significant digits of the chunk size */
    size_t line_len;           /* length of the current size/trailer line */
    unsigned max_trailers;     /* trailer field limit; 0: 100 (Apache's
                                  LimitRequestFields default) */
    unsigned trailers;         /* trailer fields so far */
    unsigned name_len;         /* of the trailer name being read */
    char name[HTTP1_TRAILER_NAME_MAX];  /* its first bytes, lower case */
};

/*
 * Scan buf[0..len) as the continuation of a chunked body.
 * Returns the number of bytes that belong to the body (<= len) and sets
 * *done when the last chunk and its trailer section ended (bytes after that
 * belong to the next message); returns HTTP1_ERROR on bad framing, setting
 * *error to the cause.
 */
ssize_t http1_chunked_scan(struct http1_chunked *c, const char *buf,
                           size_t len, bool *done, const char **error);

/*
 * Decode in place: like http1_chunked_scan, but moves the chunk data of
 * buf[0..len) to the front of buf and stores its length in *data_len.
 * Used when the receiver cannot take chunked (an HTTP/1.0 client).
 */
ssize_t http1_chunked_decode(struct http1_chunked *c, char *buf, size_t len,
                             size_t *data_len, bool *done,
                             const char **error);

/* Reason phrase for a status code ("Bad Gateway"), "" when unknown. */
const char *http1_reason(int status);

#endif
