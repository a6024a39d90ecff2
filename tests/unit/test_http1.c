/*
 * test_http1.c - unit tests of the HTTP/1.1 reader (src/http1.c).
 *
 * Every input is copied into an allocation of exactly its length, so an
 * over-read of even one byte past the end is caught by AddressSanitizer.
 * Every message is also fed at every length from 0 to its end: a prefix
 * must need more bytes, or fail exactly as the whole message does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"

#define STR(s) s, sizeof(s) - 1

static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);

    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static void assert_in_buf(const char *p, size_t n, const char *buf,
                          size_t len)
{
    if (n == 0)
        return;
    assert_true(p >= buf && p + n <= buf + len);
}

static int parse_request_copy(const char *s, size_t n,
                              const struct http1_limits *lim,
                              struct http1_request *req)
{
    char *buf = exact_copy(s, n);
    int rc = http1_parse_request(buf, n, lim, req);

    if (rc > 0) {
        assert_true((size_t)rc <= n);
        assert_in_buf(req->method, req->method_len, buf, n);
        assert_in_buf(req->target, req->target_len, buf, n);
        for (size_t i = 0; i < req->num_headers; i++) {
            assert_in_buf(req->headers[i].name, req->headers[i].name_len,
                          buf, n);
            assert_in_buf(req->headers[i].value, req->headers[i].value_len,
                          buf, n);
        }
    }
    if (rc == HTTP1_ERROR) {
        assert_non_null(req->error);
        assert_true(req->error_status == 400 || req->error_status == 414 ||
                    req->error_status == 431 || req->error_status == 501 ||
                    req->error_status == 505);
    }
    free(buf);
    return rc;
}

/*
 * Parse s[0..n) whole, then every prefix of it, checking that prefixes
 * are INCOMPLETE or give the same answer. Returns the whole parse's rc;
 * *out holds its result (pointers into freed memory: compare only the
 * scalar fields).
 */
static int request_all_prefixes(const char *s, size_t n,
                                const struct http1_limits *lim,
                                struct http1_request *out)
{
    static struct http1_request req;
    int whole = parse_request_copy(s, n, lim, out);

    for (size_t k = 0; k < n; k++) {
        int rc = parse_request_copy(s, k, lim, &req);

        if (rc == HTTP1_INCOMPLETE)
            continue;
        if (whole > 0) {
            assert_true((size_t)whole <= k);
            assert_int_equal(rc, whole);
        } else {
            assert_int_equal(whole, HTTP1_ERROR);
            assert_int_equal(rc, HTTP1_ERROR);
            assert_int_equal(req.error_status, out->error_status);
            assert_string_equal(req.error, out->error);
        }
    }
    return whole;
}

/* ---- valid requests ---------------------------------------------- */

struct request_case {
    const char *text;
    const char *method;
    const char *target;
    int minor;
    size_t headers;
    enum http1_body body;
    uint64_t content_length;
    bool keep_alive;
    bool expect_continue;
    bool upgrade;
};

static const struct request_case good_requests[] = {
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET", "/", 1, 1, HTTP1_BODY_NONE, 0, true, false, false },
    { "GET /x?y=1 HTTP/1.0\r\n\r\n",
      "GET", "/x?y=1", 0, 0, HTTP1_BODY_NONE, 0, false, false, false },
    { "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
      "GET", "/", 0, 1, HTTP1_BODY_NONE, 0, true, false, false },
    { "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      "GET", "/", 1, 2, HTTP1_BODY_NONE, 0, false, false, false },
    { "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n",
      "GET", "/", 1, 2, HTTP1_BODY_NONE, 0, false, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
      "POST", "/p", 1, 2, HTTP1_BODY_LENGTH, 5, true, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
      "POST", "/p", 1, 2, HTTP1_BODY_LENGTH, 0, true, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
      "POST", "/p", 1, 2, HTTP1_BODY_LENGTH, 7, true, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
      "POST", "/p", 1, 2, HTTP1_BODY_LENGTH, 5, true, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
      "Content-Length: 5\r\n\r\n",
      "POST", "/p", 1, 3, HTTP1_BODY_LENGTH, 5, true, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\n"
      "Content-Length: 18446744073709551615\r\n\r\n",
      "POST", "/p", 1, 2, HTTP1_BODY_LENGTH, UINT64_MAX, true, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST", "/p", 1, 2, HTTP1_BODY_CHUNKED, 0, true, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
      "POST", "/p", 1, 2, HTTP1_BODY_CHUNKED, 0, true, false, false },
    { "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked \r\n"
      "\r\n",
      "POST", "/p", 1, 2, HTTP1_BODY_CHUNKED, 0, true, false, false },
    { "PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
      "Content-Length: 3\r\n\r\n",
      "PUT", "/u", 1, 3, HTTP1_BODY_LENGTH, 3, true, true, false },
    { "PUT /u HTTP/1.0\r\nExpect: 100-continue\r\n"
      "Content-Length: 3\r\n\r\n",
      "PUT", "/u", 0, 2, HTTP1_BODY_LENGTH, 3, false, false, false },
    { "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
      "Upgrade: websocket\r\n\r\n",
      "GET", "/ws", 1, 3, HTTP1_BODY_NONE, 0, true, false, true },
    { "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n",
      "GET", "/ws", 1, 2, HTTP1_BODY_NONE, 0, true, false, false },
    { "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
      "GET", "/ws", 1, 2, HTTP1_BODY_NONE, 0, true, false, false },
    /* RFC 9110 7.8: an HTTP/1.0 request's Upgrade is ignored */
    { "GET /ws HTTP/1.0\r\nConnection: Upgrade\r\n"
      "Upgrade: websocket\r\n\r\n",
      "GET", "/ws", 0, 2, HTTP1_BODY_NONE, 0, false, false, false },
    { "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET", "/", 1, 1, HTTP1_BODY_NONE, 0, true, false, false },
    { "GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n",
      "GET", "http://example.com/a", 1, 1, HTTP1_BODY_NONE, 0, true, false,
      false },
    { "GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
      "GET", "HTTPS://example.com", 1, 1, HTTP1_BODY_NONE, 0, true, false,
      false },
    { "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
      "CONNECT", "example.com:443", 1, 1, HTTP1_BODY_NONE, 0, true, false,
      false },
    { "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
      "CONNECT", "[::1]:8443", 1, 1, HTTP1_BODY_NONE, 0, true, false,
      false },
    { "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
      "OPTIONS", "*", 1, 1, HTTP1_BODY_NONE, 0, true, false, false },
    { "M-SEARCH /%7Euser/\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
      "M-SEARCH", "/%7Euser/\xc3\xa9", 1, 1, HTTP1_BODY_NONE, 0, true, false,
      false },
    { "GET / HTTP/1.1\r\nHost:a\r\nX-Empty:\r\nX-Tab:\tv\t \r\n"
      "X-Obs: caf\xc3\xa9\r\n\r\n",
      "GET", "/", 1, 4, HTTP1_BODY_NONE, 0, true, false, false },
};

static void test_good_requests(void **state)
{
    for (size_t i = 0; i < sizeof(good_requests) / sizeof(*good_requests);
         i++) {
        const struct request_case *c = &good_requests[i];
        struct http1_request req;
        size_t n = strlen(c->text);
        char *buf = exact_copy(c->text, n);
        int rc = http1_parse_request(buf, n, NULL, &req);
        const char *body_at = strstr(c->text, "\r\n\r\n");

        /* Leading empty lines are not the end of the head. */
        if (c->text[0] == '\r')
            body_at = strstr(c->text + 4, "\r\n\r\n");
        if (rc < 0)
            fail_msg("case %zu: rc %d (%d %s)", i, rc, req.error_status,
                     req.error);
        assert_int_equal(rc, body_at + 4 - c->text);
        assert_int_equal(req.method_len, strlen(c->method));
        assert_memory_equal(req.method, c->method, req.method_len);
        assert_int_equal(req.target_len, strlen(c->target));
        assert_memory_equal(req.target, c->target, req.target_len);
        assert_int_equal(req.version_minor, c->minor);
        assert_int_equal(req.num_headers, c->headers);
        assert_int_equal(req.info.body, c->body);
        if (c->body == HTTP1_BODY_LENGTH)
            assert_true(req.info.content_length == c->content_length);
        assert_int_equal(req.info.keep_alive, c->keep_alive);
        assert_int_equal(req.info.expect_continue, c->expect_continue);
        assert_int_equal(req.info.upgrade, c->upgrade);

        /* The same buffer again gives the same answer. */
        assert_int_equal(http1_parse_request(buf, n, NULL, &req), rc);
        free(buf);

        assert_int_equal(request_all_prefixes(c->text, n, NULL, &req), rc);
    }
}

static void test_request_header_values(void **state)
{
    static const char text[] =
        "GET / HTTP/1.1\r\nHost:a\r\nX-Empty:\r\nX-Tab:\tv\t x \t\r\n\r\n";
    struct http1_request req;
    char *buf = exact_copy(STR(text));
    int rc = http1_parse_request(buf, sizeof(text) - 1, NULL, &req);

    assert_int_equal(rc, sizeof(text) - 1);
    assert_int_equal(req.num_headers, 3);
    assert_int_equal(req.headers[0].name_len, 4);
    assert_memory_equal(req.headers[0].name, "Host", 4);
    assert_int_equal(req.headers[0].value_len, 1);
    assert_memory_equal(req.headers[0].value, "a", 1);
    assert_int_equal(req.headers[1].value_len, 0);
    assert_int_equal(req.headers[2].value_len, 4);
    assert_memory_equal(req.headers[2].value, "v\t x", 4);
    free(buf);
}

static void test_pipelined_request(void **state)
{
    static const char text[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                               "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
    struct http1_request req;
    char *buf = exact_copy(STR(text));
    int rc = http1_parse_request(buf, sizeof(text) - 1, NULL, &req);

    assert_int_equal(rc, (sizeof(text) - 1) / 2);
    assert_memory_equal(req.target, "/a", 2);
    rc = http1_parse_request(buf + rc, sizeof(text) - 1 - rc, NULL, &req);
    assert_int_equal(rc, (sizeof(text) - 1) / 2);
    assert_memory_equal(req.target, "/b", 2);
    free(buf);
}

/* ---- bad requests ------------------------------------------------- */

struct bad_case {
    const char *text;
    size_t len;                 /* 0: strlen(text) */
    int status;
};

#define BAD(s, st) { s, sizeof(s) - 1, st }

static const struct bad_case bad_requests[] = {
    /* request line */
    BAD("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
    BAD("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    BAD("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
    BAD("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
    BAD("GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    BAD("GET / FOO/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET /\r\n\r\n", 400),
    BAD("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET / x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
    BAD("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("CONNECT example.com:x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET ftp://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    /* header fields */
    BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\nY: b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\r\r", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX\0: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX(y): a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    BAD("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n", 400),
    /* Content-Length */
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        "Content-Length: 6\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Content-Length: 18446744073709551616\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Content-Length: 99999999999999999999999\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\0\r\n\r\n", 400),
    /* framing fields named in Connection would be dropped downstream */
    BAD("POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\n"
        "Content-Length: 3\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nConnection: close, content-length"
        "\r\nContent-Length: 3\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nConnection: Transfer-Encoding\r\n"
        "Transfer-Encoding: chunked\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n"
        "Connection: TRANSFER-encoding\r\n\r\n", 400),
    /* Host must be host[:port]; no fragment in a target */
    BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400),
    BAD("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET /a?b#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("GET http://a/b#c HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    /* Transfer-Encoding, and the smuggling classics */
    BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n", 400),             /* CL.TE */
    BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 5\r\n\r\n", 400),                      /* TE.CL */
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: chunked, identity\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding : chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: xchunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Transfer-Encoding: identity\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: gzip\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding:\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: chunked,\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: ,chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: chunked;q=1\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding:\r\n chunked\r\n\r\n", 400),     /* obs-fold */
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: x\r\n\tchunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: chunked\0\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: \x0b" "chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: chunked\r\r\n\r\n", 400),
    BAD("POST / HTTP/1.0\r\n"
        "Transfer-Encoding: chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: foo, chunked\r\n\r\n", 501),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: identity, chunked\r\n\r\n", 501),
    BAD("POST / HTTP/1.1\r\nHost: a\r\n"
        "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
        "Transfer-Encoding: chunked\r\n\r\n", 501),
};

static void test_bad_requests(void **state)
{
    for (size_t i = 0; i < sizeof(bad_requests) / sizeof(*bad_requests);
         i++) {
        const struct bad_case *c = &bad_requests[i];
        struct http1_request req;
        int rc = request_all_prefixes(c->text, c->len, NULL, &req);

        if (rc != HTTP1_ERROR || req.error_status != c->status)
            fail_msg("case %zu: rc %d status %d (%s), want %d", i, rc,
                     req.error_status, req.error ? req.error : "-",
                     c->status);
        assert_non_null(req.error);
    }
}

/* ---- limits -------------------------------------------------------- */

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static int parse_text(const char *text, const struct http1_limits *lim,
                      struct http1_request *req)
{
    return request_all_prefixes(text, strlen(text), lim, req);
}

static void test_request_line_limit(void **state)
{
    struct http1_limits lim = { 32, 32, 4 };
    struct http1_request req;
    char text[256];
    char *path;

    /* "GET " + target + " HTTP/1.1" = 32 bytes exactly: accepted. */
    path = repeat('a', 32 - 4 - 9 - 1);
    snprintf(text, sizeof(text), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
             path);
    assert_true(parse_text(text, &lim, &req) > 0);
    free(path);

    /* One more byte: 414, wherever the line is cut. */
    path = repeat('a', 32 - 4 - 9);
    snprintf(text, sizeof(text), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
             path);
    assert_int_equal(parse_text(text, &lim, &req), HTTP1_ERROR);
    assert_int_equal(req.error_status, 414);
    free(path);

    /* A long method is a long line too. */
    path = repeat('G', 40);
    snprintf(text, sizeof(text), "%s / HTTP/1.1\r\nHost: a\r\n\r\n", path);
    assert_int_equal(parse_text(text, &lim, &req), HTTP1_ERROR);
    assert_int_equal(req.error_status, 414);
    free(path);

    /* Default limit: 8190. */
    path = repeat('a', 9000);
    {
        size_t n = strlen(path) + 64;
        char *big = malloc(n);

        snprintf(big, n, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", path);
        assert_int_equal(http1_parse_request(big, strlen(big), NULL, &req),
                         HTTP1_ERROR);
        assert_int_equal(req.error_status, 414);
        /* Still 414 before the line's end has arrived. */
        assert_int_equal(http1_parse_request(big, 8200, NULL, &req),
                         HTTP1_ERROR);
        assert_int_equal(req.error_status, 414);
        assert_int_equal(http1_parse_request(big, 8190, NULL, &req),
                         HTTP1_INCOMPLETE);
        free(big);
    }
    free(path);
}

static void test_field_limits(void **state)
{
    struct http1_limits lim = { 64, 16, 3 };
    struct http1_request req;

    /* "X-Long: " + 8 bytes = 16: accepted; 17: 431. */
    assert_true(parse_text("GET / HTTP/1.1\r\nHost: a\r\n"
                           "X-Long: 12345678\r\n\r\n", &lim, &req) > 0);
    assert_int_equal(parse_text("GET / HTTP/1.1\r\nHost: a\r\n"
                                "X-Long: 123456789\r\n\r\n", &lim, &req),
                     HTTP1_ERROR);
    assert_int_equal(req.error_status, 431);
    assert_int_equal(parse_text("GET / HTTP/1.1\r\nHost: a\r\n"
                                "X-Long-Name-Too-Long: 1\r\n\r\n", &lim,
                                &req), HTTP1_ERROR);
    assert_int_equal(req.error_status, 431);
    /* Trailing whitespace counts toward the line too. */
    assert_int_equal(parse_text("GET / HTTP/1.1\r\nHost: a\r\n"
                                "X-Long: 1               \r\n\r\n", &lim,
                                &req), HTTP1_ERROR);
    assert_int_equal(req.error_status, 431);

    /* Three fields pass, a fourth is 431. */
    assert_true(parse_text("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n"
                           "\r\n", &lim, &req) > 0);
    assert_int_equal(parse_text("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n"
                                "B: 2\r\nC: 3\r\n\r\n", &lim, &req),
                     HTTP1_ERROR);
    assert_int_equal(req.error_status, 431);
}

static void test_default_field_count(void **state)
{
    char text[4096];
    size_t n;
    struct http1_request req;
    struct http1_limits many = { 0, 0, 1000 };

    n = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 99; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X%d: v\r\n", i);
    snprintf(text + n, sizeof(text) - n, "\r\n");
    assert_true(parse_request_copy(text, strlen(text), NULL, &req) > 0);
    assert_int_equal(req.num_headers, 100);

    snprintf(text + n, sizeof(text) - n, "Y: v\r\n\r\n");
    assert_int_equal(parse_request_copy(text, strlen(text), NULL, &req),
                     HTTP1_ERROR);
    assert_int_equal(req.error_status, 431);

    /* Configured above the array's size: capped at HTTP1_MAX_HEADERS. */
    n = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < HTTP1_MAX_HEADERS; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X%d: v\r\n", i);
    snprintf(text + n, sizeof(text) - n, "\r\n");
    assert_int_equal(parse_request_copy(text, strlen(text), &many, &req),
                     HTTP1_ERROR);
    assert_int_equal(req.error_status, 431);
}

static void test_empty_lines_limit(void **state)
{
    struct http1_limits lim = { 16, 16, 4 };
    struct http1_request req;

    assert_true(parse_text("\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
                           &lim, &req) > 0);
    assert_int_equal(parse_text("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
                                "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                                &lim, &req), HTTP1_ERROR);
    assert_int_equal(req.error_status, 400);
}

/* Every byte value in every position of a small request. */
static void test_request_byte_sweep(void **state)
{
    static const char base[] = "GET /a HTTP/1.1\r\nHost: b\r\nX: c\r\n\r\n";
    char text[sizeof(base)];
    struct http1_request req;

    for (size_t pos = 0; pos < sizeof(base) - 1; pos++) {
        for (int b = 0; b < 256; b++) {
            memcpy(text, base, sizeof(base));
            text[pos] = (char)b;
            request_all_prefixes(text, sizeof(base) - 1, NULL, &req);
        }
    }
}

/*
 * Long target and value (the 16-bytes-at-a-time paths): each byte value at
 * each position is accepted exactly when its class allows it there.
 */
static void test_long_field_sweep(void **state)
{
    static const char base[] =
        "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n"
        "Host: b\r\nX-Long: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n\r\n";
    const char *target = strchr(base, '/') + 1;
    const char *value = strstr(base, "X-Long: ") + 8;
    size_t target_len = strlen("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    size_t value_len = strlen("vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
    char text[sizeof(base)];
    struct http1_request req;

    for (size_t i = 0; i < target_len; i++) {
        size_t pos = (size_t)(target - base) + i;

        for (int b = 0; b < 256; b++) {
            bool ok = b > 0x20 && b != 0x7f && b != '#';
            int rc;

            memcpy(text, base, sizeof(base));
            text[pos] = (char)b;
            rc = parse_request_copy(text, sizeof(base) - 1, NULL, &req);
            if ((rc > 0) != ok)
                fail_msg("target byte 0x%02x at %zu: rc %d", b, i, rc);
        }
    }
    for (size_t i = 0; i < value_len; i++) {
        size_t pos = (size_t)(value - base) + i;

        for (int b = 0; b < 256; b++) {
            bool ok = (b >= 0x20 && b != 0x7f) || b == '\t';
            int rc;

            memcpy(text, base, sizeof(base));
            text[pos] = (char)b;
            rc = parse_request_copy(text, sizeof(base) - 1, NULL, &req);
            if ((rc > 0) != ok)
                fail_msg("value byte 0x%02x at %zu: rc %d", b, i, rc);
            /* Whitespace at either end is not part of the value. */
            if (rc > 0 && (b == ' ' || b == '\t') &&
                (i == 0 || i == value_len - 1))
                assert_int_equal(req.headers[1].value_len, value_len - 1);
            else if (rc > 0)
                assert_int_equal(req.headers[1].value_len, value_len);
        }
    }
}

/* A colon exactly at the field-size limit leaves no room: 431. */
static void test_colon_at_limit(void **state)
{
    struct http1_limits lim = { 64, 8, 4 };
    struct http1_request req;

    assert_int_equal(parse_text("GET / HTTP/1.1\r\nHost: a\r\n"
                                "ABCDEFGH: v\r\n\r\n", &lim, &req),
                     HTTP1_ERROR);
    assert_int_equal(req.error_status, 431);
    assert_true(parse_text("GET / HTTP/1.1\r\nHost: a\r\n"
                           "ABCDEFG:\r\n\r\n", &lim, &req) > 0);
    assert_true(parse_text("GET / HTTP/1.1\r\nHost: a\r\n"
                           "ABCDEF: \r\n\r\n", &lim, &req) > 0);
}

/* ---- responses ----------------------------------------------------- */

static int parse_response_copy(const char *s, size_t n, const char *method,
                               struct http1_response *res)
{
    char *buf = exact_copy(s, n);
    int rc = http1_parse_response(buf, n, method,
                                  method ? strlen(method) : 0, res);

    if (rc > 0) {
        assert_true((size_t)rc <= n);
        assert_in_buf(res->reason, res->reason_len, buf, n);
        for (size_t i = 0; i < res->num_headers; i++) {
            assert_in_buf(res->headers[i].name, res->headers[i].name_len,
                          buf, n);
            assert_in_buf(res->headers[i].value, res->headers[i].value_len,
                          buf, n);
        }
    }
    if (rc == HTTP1_ERROR)
        assert_non_null(res->error);
    free(buf);
    return rc;
}

static int response_all_prefixes(const char *s, size_t n, const char *method,
                                 struct http1_response *out)
{
    static struct http1_response res;
    int whole = parse_response_copy(s, n, method, out);

    for (size_t k = 0; k < n; k++) {
        int rc = parse_response_copy(s, k, method, &res);

        if (rc == HTTP1_INCOMPLETE)
            continue;
        if (whole > 0) {
            assert_true((size_t)whole <= k);
            assert_int_equal(rc, whole);
        } else {
            assert_int_equal(rc, HTTP1_ERROR);
            assert_int_equal(whole, HTTP1_ERROR);
            assert_string_equal(res.error, out->error);
        }
    }
    return whole;
}

struct response_case {
    const char *text;
    const char *method;
    int status;
    const char *reason;
    enum http1_body body;
    uint64_t content_length;
    bool keep_alive;
    bool upgrade;
};

static const struct response_case good_responses[] = {
    { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET",
      200, "OK", HTTP1_BODY_LENGTH, 5, true, false },
    { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD",
      200, "OK", HTTP1_BODY_NONE, 0, true, false },
    { "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET", 404, "Not Found", HTTP1_BODY_CHUNKED, 0, true, false },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
      "Content-Length: 10\r\n\r\n", "GET",
      200, "OK", HTTP1_BODY_CHUNKED, 0, false, false },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET",
      200, "OK", HTTP1_BODY_UNTIL_CLOSE, 0, false, false },
    { "HTTP/1.1 200 OK\r\n\r\n", "GET",
      200, "OK", HTTP1_BODY_UNTIL_CLOSE, 0, false, false },
    { "HTTP/1.1 200 OK\r\n\r\n", NULL,
      200, "OK", HTTP1_BODY_UNTIL_CLOSE, 0, false, false },
    { "HTTP/1.1 204 No Content\r\n\r\n", "GET",
      204, "No Content", HTTP1_BODY_NONE, 0, true, false },
    { "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", "GET",
      304, "Not Modified", HTTP1_BODY_NONE, 0, true, false },
    { "HTTP/1.1 100 Continue\r\n\r\n", "POST",
      100, "Continue", HTTP1_BODY_NONE, 0, true, false },
    { "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
      "Upgrade: websocket\r\n\r\n", "GET",
      101, "Switching Protocols", HTTP1_BODY_NONE, 0, true, true },
    { "HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT",
      200, "Connection established", HTTP1_BODY_NONE, 0, true, false },
    { "HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n", "CONNECT",
      407, "Auth", HTTP1_BODY_LENGTH, 0, true, false },
    { "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", "GET",
      200, "OK", HTTP1_BODY_LENGTH, 2, false, false },
    { "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
      "Content-Length: 2\r\n\r\n", "GET",
      200, "OK", HTTP1_BODY_LENGTH, 2, true, false },
    { "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n",
      "GET", 200, "OK", HTTP1_BODY_LENGTH, 2, false, false },
    { "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\n", "GET",
      200, "", HTTP1_BODY_LENGTH, 2, true, false },
    { "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n", "GET",
      200, "", HTTP1_BODY_LENGTH, 2, true, false },
    { "HTTP/1.1 599 Odd\tbut fine \xe2\x9c\x93\r\nContent-Length: 2\r\n\r\n",
      "GET", 599, "Odd\tbut fine \xe2\x9c\x93", HTTP1_BODY_LENGTH, 2, true,
      false },
    { "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n", "GET",
      200, "OK", HTTP1_BODY_LENGTH, 3, true, false },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo, chunked\r\n\r\n", "GET",
      200, "OK", HTTP1_BODY_CHUNKED, 0, true, false },
    { "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
      200, "OK", HTTP1_BODY_CHUNKED, 0, false, false },
};

static void test_good_responses(void **state)
{
    for (size_t i = 0; i < sizeof(good_responses) / sizeof(*good_responses);
         i++) {
        const struct response_case *c = &good_responses[i];
        struct http1_response res;
        size_t n = strlen(c->text);
        char *buf = exact_copy(c->text, n);
        int rc = http1_parse_response(buf, n, c->method,
                                      c->method ? strlen(c->method) : 0,
                                      &res);

        if (rc < 0)
            fail_msg("case %zu: rc %d (%s)", i, rc, res.error);
        assert_int_equal(rc, strstr(c->text, "\r\n\r\n") + 4 - c->text);
        assert_int_equal(res.status, c->status);
        assert_int_equal(res.reason_len, strlen(c->reason));
        assert_memory_equal(res.reason, c->reason, res.reason_len);
        assert_int_equal(res.info.body, c->body);
        if (c->body == HTTP1_BODY_LENGTH)
            assert_true(res.info.content_length == c->content_length);
        if (res.info.keep_alive != c->keep_alive)
            fail_msg("case %zu: keep_alive %d", i, res.info.keep_alive);
        assert_int_equal(res.info.upgrade, c->upgrade);
        free(buf);

        assert_int_equal(response_all_prefixes(c->text, n, c->method, &res),
                         rc);
    }
}

static const struct bad_case bad_responses[] = {
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        0),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", 0),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", 0),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        0),
    BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0),
    BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 0),
    BAD("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", 0),
    BAD("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", 0),
    BAD("HTTP/1.1 200 OK\r\nX: \0\r\n\r\n", 0),
    BAD("HTTP/1.1 200 OK\nX: y\r\n\r\n", 0),
    BAD("HTTP/1.1 200 OK\r\nX: y\n\r\n", 0),
    BAD("HTTP/1.1 200 O\rK\r\n\r\n", 0),
    BAD("HTTP/1.1 200 O\x01K\r\n\r\n", 0),
    BAD("HTTP/2.0 200 OK\r\n\r\n", 0),
    BAD("HTTP/1.2 200 OK\r\n\r\n", 0),
    BAD("HTTP/1.1 20 OK\r\n\r\n", 0),
    BAD("HTTP/1.1 2000 OK\r\n\r\n", 0),
    BAD("HTTP/1.1 099 OK\r\n\r\n", 0),
    BAD("HTTP/1.1  200 OK\r\n\r\n", 0),
    BAD("HTTP/1.1 abc OK\r\n\r\n", 0),
    BAD("http/1.1 200 OK\r\n\r\n", 0),
    BAD("ICY 200 OK\r\n\r\n", 0),
    BAD("HTTP/1.1 204 No Content\r\nContent-Length: 1\r\n"
        "Content-Length: 2\r\n\r\n", 0),
};

static void test_bad_responses(void **state)
{
    for (size_t i = 0; i < sizeof(bad_responses) / sizeof(*bad_responses);
         i++) {
        const struct bad_case *c = &bad_responses[i];
        struct http1_response res;
        int rc = response_all_prefixes(c->text, c->len, "GET", &res);

        if (rc != HTTP1_ERROR)
            fail_msg("case %zu: rc %d", i, rc);
        assert_non_null(res.error);
    }
}

static void test_response_line_limit(void **state)
{
    size_t n = 9000;
    char *text = malloc(n);
    struct http1_response res;

    memcpy(text, "HTTP/1.1 200 ", 13);
    memset(text + 13, 'x', n - 13);
    assert_int_equal(http1_parse_response(text, n, "GET", 3, &res),
                     HTTP1_ERROR);
    assert_int_equal(http1_parse_response(text, 8000, "GET", 3, &res),
                     HTTP1_INCOMPLETE);
    free(text);
}

/* ---- helpers ------------------------------------------------------- */

static void test_find_header(void **state)
{
    static const char text[] = "GET / HTTP/1.1\r\nHost: a\r\n"
                               "content-TYPE: text/plain\r\nX: 1\r\nx: 2"
                               "\r\n\r\n";
    struct http1_request req;
    const struct http1_header *h;

    assert_true(http1_parse_request(STR(text), NULL, &req) > 0);
    h = http1_find_header(req.headers, req.num_headers, "Content-Type");
    assert_non_null(h);
    assert_int_equal(h->value_len, 10);
    assert_memory_equal(h->value, "text/plain", 10);
    h = http1_find_header(req.headers, req.num_headers, "x");
    assert_non_null(h);
    assert_memory_equal(h->value, "1", 1);
    assert_null(http1_find_header(req.headers, req.num_headers, "Content"));
    assert_null(http1_find_header(req.headers, req.num_headers, "Hos"));
    assert_null(http1_find_header(req.headers, 0, "Host"));
}

static void test_list_has_token(void **state)
{
    assert_true(http1_list_has_token(STR("close"), "close"));
    assert_true(http1_list_has_token(STR("Close"), "close"));
    assert_true(http1_list_has_token(STR(" a ,  b,close\t"), "close"));
    assert_true(http1_list_has_token(STR(",,keep-alive,"), "keep-alive"));
    assert_true(http1_list_has_token(STR("a, Upgrade"), "upgrade"));
    assert_false(http1_list_has_token(STR("closed"), "close"));
    assert_false(http1_list_has_token(STR("xclose"), "close"));
    assert_false(http1_list_has_token(STR("clo se"), "close"));
    assert_false(http1_list_has_token(STR(""), "close"));
    assert_false(http1_list_has_token(STR(", ,"), "close"));
    assert_false(http1_list_has_token(STR("a,b"), ""));
    /* Not NUL-terminated: only value_len bytes are read. */
    assert_false(http1_list_has_token("closed", 4, "close"));
    assert_true(http1_list_has_token("close,x", 5, "close"));
}

static void test_hop_by_hop(void **state)
{
    static const char text[] = "GET / HTTP/1.1\r\nHost: a\r\n"
                               "Connection: X-Secret, keep-alive\r\n"
                               "Connection: Other\r\n\r\n";
    static const char *const fixed[] = {
        "Connection", "keep-alive", "Proxy-Connection", "PROXY-AUTHENTICATE",
        "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding",
        "upgrade",
    };
    struct http1_request req;

    assert_true(http1_parse_request(STR(text), NULL, &req) > 0);
    for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
        assert_true(http1_is_hop_by_hop(NULL, 0, fixed[i],
                                        strlen(fixed[i])));
    assert_true(http1_is_hop_by_hop(req.headers, req.num_headers,
                                    STR("x-secret")));
    assert_true(http1_is_hop_by_hop(req.headers, req.num_headers,
                                    STR("other")));
    assert_false(http1_is_hop_by_hop(req.headers, req.num_headers,
                                     STR("Host")));
    assert_false(http1_is_hop_by_hop(req.headers, req.num_headers,
                                     STR("X-Secre")));
    assert_false(http1_is_hop_by_hop(NULL, 0, STR("Trailers")));
    assert_false(http1_is_hop_by_hop(NULL, 0, STR("Content-Length")));
}

/* Content-Length stays even when a response's Connection names it. */
static void test_hop_by_hop_framing(void **state)
{
    static const char text[] = "HTTP/1.1 200 OK\r\n"
                               "Connection: Content-Length, X-A\r\n"
                               "Content-Length: 5\r\n\r\n";
    struct http1_response res;

    assert_true(http1_parse_response(STR(text), STR("GET"), &res) > 0);
    assert_int_equal(res.info.body, HTTP1_BODY_LENGTH);
    assert_false(http1_is_hop_by_hop(res.headers, res.num_headers,
                                     STR("content-length")));
    assert_true(http1_is_hop_by_hop(res.headers, res.num_headers,
                                    STR("x-a")));
}

/* http1_is_hop_by_hop_in answers as http1_is_hop_by_hop on the same
 * head, for names listed, not listed, fixed, and Content-Length, with
 * few and with more listed names than the gathered set holds. */
static void check_names_agree(const struct http1_header *h, size_t n)
{
    static const char *const names[] = {
        "Connection", "Keep-Alive", "TE", "Upgrade", "Host", "X-A", "x-a",
        "X-B", "x-h", "X-I", "X-J", "Content-Length", "close", "X-Secre",
        "Transfer-Encoding", "Set-Cookie", "",
    };
    struct http1_conn_names conn;

    http1_connection_names(h, n, &conn);
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        assert_int_equal(http1_is_hop_by_hop_in(&conn, names[i],
                                                strlen(names[i])),
                         http1_is_hop_by_hop(h, n, names[i],
                                             strlen(names[i])));
}

static void test_connection_names(void **state)
{
    static const char few[] = "GET / HTTP/1.1\r\nHost: a\r\n"
                              "Connection: X-A , keep-alive,,\r\n"
                              "X-A: 1\r\nConnection:  x-b\r\n\r\n";
    static const char many[] = "GET / HTTP/1.1\r\nHost: a\r\n"
                               "Connection: x-1, x-2, x-3, x-4, x-5\r\n"
                               "Connection: x-6, x-7, x-8, x-h, X-I\r\n"
                               "\r\n";
    static const char none[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    struct http1_request req;
    struct http1_conn_names conn;

    assert_true(http1_parse_request(STR(few), NULL, &req) > 0);
    http1_connection_names(req.headers, req.num_headers, &conn);
    assert_int_equal(conn.n, 3);
    assert_null(conn.h);
    assert_true(http1_is_hop_by_hop_in(&conn, STR("x-a")));
    assert_true(http1_is_hop_by_hop_in(&conn, STR("X-B")));
    check_names_agree(req.headers, req.num_headers);

    assert_true(http1_parse_request(STR(many), NULL, &req) > 0);
    http1_connection_names(req.headers, req.num_headers, &conn);
    assert_non_null(conn.h);            /* past the set: the slow walk */
    assert_true(http1_is_hop_by_hop_in(&conn, STR("x-i")));
    check_names_agree(req.headers, req.num_headers);

    assert_true(http1_parse_request(STR(none), NULL, &req) > 0);
    assert_false(req.info.has_connection);
    check_names_agree(req.headers, req.num_headers);
}

/* The presence facts the proxy reads instead of searching the fields. */
static void test_presence_facts(void **state)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n"
                               "Connection: keep-alive\r\n\r\n";
    static const char te[] = "HTTP/1.1 200 OK\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n";
    static const char both[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    static const char named[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                "Connection: close, Content-Length\r\n\r\n";
    static const char req_text[] = "POST / HTTP/1.1\r\nHost: a\r\n"
                                   "Content-Length: 7\r\n\r\n";
    struct http1_response res;
    struct http1_request req;

    /* a response to HEAD: no body, and the length still known */
    assert_true(http1_parse_response(STR(head), STR("HEAD"), &res) > 0);
    assert_int_equal(res.info.body, HTTP1_BODY_NONE);
    assert_true(res.info.has_content_length);
    assert_true(res.info.length_field == 42);
    assert_false(res.info.has_transfer_encoding);
    assert_true(res.info.has_connection);
    assert_false(res.info.connection_framing);

    assert_true(http1_parse_response(STR(te), STR("GET"), &res) > 0);
    assert_false(res.info.has_content_length);
    assert_true(res.info.has_transfer_encoding);
    assert_false(res.info.has_connection);

    assert_true(http1_parse_response(STR(both), STR("GET"), &res) > 0);
    assert_true(res.info.has_content_length);
    assert_true(res.info.has_transfer_encoding);

    assert_true(http1_parse_response(STR(named), STR("GET"), &res) > 0);
    assert_true(res.info.connection_framing);

    assert_true(http1_parse_request(STR(req_text), NULL, &req) > 0);
    assert_true(req.info.has_content_length);
    assert_true(req.info.length_field == 7);
    assert_false(req.info.has_transfer_encoding);
}

/* Host values that are fine. */
static void test_host_values(void **state)
{
    static const char *const good[] = {
        "a", "a.test:8080", "127.0.0.1", "[::1]", "[::1]:80", "a_b-c.d",
        "xn--bcher-kva.example", "a:", "%41b", "",
    };
    char text[256];
    struct http1_request req;

    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        int n = snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: %s"
                         "\r\n\r\n", good[i]);

        if (http1_parse_request(text, (size_t)n, NULL, &req) != n)
            fail_msg("Host: %s refused: %s", good[i],
                     req.error ? req.error : "?");
    }
}

static void test_reason(void **state)
{
    assert_string_equal(http1_reason(200), "OK");
    assert_string_equal(http1_reason(502), "Bad Gateway");
    assert_string_equal(http1_reason(503), "Service Unavailable");
    assert_string_equal(http1_reason(414), "URI Too Long");
    assert_string_equal(http1_reason(431), "Request Header Fields Too Large");
    assert_string_equal(http1_reason(999), "");
    assert_string_equal(http1_reason(0), "");
    assert_string_equal(http1_reason(-1), "");
}

/* ---- chunked ------------------------------------------------------- */

/* Result of feeding a body in pieces: body bytes, decoded data, outcome. */
struct chunked_result {
    ssize_t consumed;           /* HTTP1_ERROR on error */
    bool done;
    char data[512];
    size_t data_len;
};

/*
 * Feed s[0..n) to the scanner (decode when decode is set) in pieces cut
 * at the cut offsets, each piece in an allocation of its exact size.
 */
static void chunked_feed(const char *s, size_t n, const size_t *cuts,
                         size_t ncuts, bool decode,
                         struct chunked_result *r)
{
    struct http1_chunked c;
    size_t at = 0;

    memset(&c, 0, sizeof(c));
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i <= ncuts; i++) {
        size_t stop = i < ncuts ? cuts[i] : n;
        size_t len = stop - at, data_len = 0;
        char *piece = exact_copy(s + at, len);
        const char *error = NULL;
        bool done = false;
        ssize_t rc;

        if (decode)
            rc = http1_chunked_decode(&c, piece, len, &data_len, &done,
                                      &error);
        else
            rc = http1_chunked_scan(&c, piece, len, &done, &error);
        if (rc == HTTP1_ERROR) {
            assert_non_null(error);
            free(piece);
            r->consumed = HTTP1_ERROR;
            return;
        }
        assert_true(rc >= 0 && (size_t)rc <= len);
        if (!done)
            assert_int_equal((size_t)rc, len);
        assert_true(data_len <= (size_t)rc);
        assert_true(r->data_len + data_len <= sizeof(r->data));
        memcpy(r->data + r->data_len, piece, data_len);
        r->data_len += data_len;
        r->consumed += rc;
        free(piece);
        if (done) {
            r->done = true;
            return;
        }
        at = stop;
    }
}

static void chunked_check_splits(const char *s, size_t n,
                                 const struct chunked_result *want)
{
    struct chunked_result got;
    size_t cuts[2], *each;

    for (int decode = 0; decode < 2; decode++) {
        /* Two pieces, every cut. */
        for (size_t k = 0; k <= n; k++) {
            cuts[0] = k;
            chunked_feed(s, n, cuts, 1, decode, &got);
            assert_int_equal(got.consumed, want->consumed);
            assert_int_equal(got.done, want->done);
            if (decode && want->consumed >= 0) {
                assert_int_equal(got.data_len, want->data_len);
                assert_memory_equal(got.data, want->data, got.data_len);
            }
        }
        /* Three pieces, every pair of cuts. */
        for (size_t a = 0; a <= n; a++) {
            for (size_t b = a; b <= n; b++) {
                cuts[0] = a;
                cuts[1] = b;
                chunked_feed(s, n, cuts, 2, decode, &got);
                assert_int_equal(got.consumed, want->consumed);
                assert_int_equal(got.done, want->done);
            }
        }
        /* Byte by byte. */
        each = malloc((n + 1) * sizeof(*each));
        for (size_t k = 0; k < n; k++)
            each[k] = k + 1;
        chunked_feed(s, n, each, n ? n - 1 : 0, decode, &got);
        assert_int_equal(got.consumed, want->consumed);
        assert_int_equal(got.done, want->done);
        if (decode && want->consumed >= 0) {
            assert_int_equal(got.data_len, want->data_len);
            assert_memory_equal(got.data, want->data, got.data_len);
        }
        free(each);
    }
}

struct chunked_case {
    const char *text;
    size_t len;
    size_t body_len;            /* bytes of the body; 0: all of text */
    const char *data;           /* decoded */
};

#define CHUNKED(s, body, data) { s, sizeof(s) - 1, body, data }

static const struct chunked_case good_chunked[] = {
    CHUNKED("0\r\n\r\n", 5, ""),
    CHUNKED("5\r\nhello\r\n0\r\n\r\n", 15, "hello"),
    CHUNKED("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 15, "hello"),
    CHUNKED("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nXYZ", 20, "abcde"),
    CHUNKED("A\r\n0123456789\r\n0\r\n\r\n", 20, "0123456789"),
    CHUNKED("a\r\n0123456789\r\n00\r\n\r\n", 21, "0123456789"),
    CHUNKED("0000000000000003\r\nabc\r\n0\r\n\r\n", 28, "abc"),
    /* leading zeros do not count toward the size's limit */
    CHUNKED("00000000000000000003\r\nabc\r\n0\r\n\r\n", 32, "abc"),
    CHUNKED("00000000000000005\r\nhello\r\n0\r\n\r\n", 0, "hello"),
    CHUNKED("3;name=value\r\nabc\r\n0\r\n\r\n", 24, "abc"),
    CHUNKED("3 ; a = b ; c\r\nabc\r\n0;x\r\n\r\n", 0, "abc"),
    CHUNKED("3;q=\"a \\\"quoted\\\" ;\\\\ value\"\r\nabc\r\n0\r\n\r\n",
            0, "abc"),
    CHUNKED("3\r\n\r\n\r\r\n0\r\n\r\n", 13, "\r\n\r"),
    CHUNKED("0\r\nExpires: never\r\nX-Sum: 1 2\t3\r\n\r\n", 0, ""),
    CHUNKED("0\r\nX-Empty:\r\n\r\n!", 15, ""),
};

static void test_chunked_good(void **state)
{
    for (size_t i = 0; i < sizeof(good_chunked) / sizeof(*good_chunked);
         i++) {
        const struct chunked_case *c = &good_chunked[i];
        struct chunked_result want;

        size_t body_len = c->body_len ? c->body_len : c->len;

        chunked_feed(c->text, c->len, NULL, 0, true, &want);
        if (want.consumed != (ssize_t)body_len)
            fail_msg("case %zu: consumed %zd, want %zu", i, want.consumed,
                     body_len);
        assert_true(want.done);
        assert_int_equal(want.data_len, strlen(c->data));
        assert_memory_equal(want.data, c->data, want.data_len);
        chunked_check_splits(c->text, c->len, &want);
    }
}

static void test_chunked_incomplete(void **state)
{
    static const char text[] = "5\r\nhello\r\n0\r\n\r\n";
    struct chunked_result r;

    for (size_t k = 0; k < sizeof(text) - 1; k++) {
        chunked_feed(text, k, NULL, 0, false, &r);
        assert_int_equal(r.consumed, k);
        assert_false(r.done);
    }
}

static const struct chunked_case bad_chunked[] = {
    CHUNKED("\r\n", 0, NULL),
    CHUNKED("x\r\n", 0, NULL),
    CHUNKED("-1\r\n", 0, NULL),
    CHUNKED("+1\r\na\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("0x5\r\nhello\r\n0\r\n\r\n", 0, NULL),
    CHUNKED(" 5\r\nhello\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("5 \r\nhello\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("5\nhello\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("5\rhello\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("5\r\nhelloXX0\r\n\r\n", 0, NULL),
    CHUNKED("5\r\nhello\n0\r\n\r\n", 0, NULL),
    CHUNKED("5\r\nhello\r0\r\n\r\n", 0, NULL),
    CHUNKED("5\r\nhello\r\n0\n\r\n", 0, NULL),
    CHUNKED("5\r\nhello\r\n0\r\n\n", 0, NULL),
    CHUNKED("5\r\nhello\r\n0\r\n\rX", 0, NULL),
    CHUNKED("10000000000000000\r\n", 0, NULL),
    /* above INT64_MAX: a signed 64-bit reader would see a negative size */
    CHUNKED("ffffffffffffffff\r\n", 0, NULL),
    CHUNKED("8000000000000000\r\n", 0, NULL),
    CHUNKED("0008000000000000000\r\n", 0, NULL),
    /* framing, routing and hop-by-hop fields in the trailer section */
    CHUNKED("0\r\nContent-Length: 5\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nX: 1\r\ntransfer-ENCODING: chunked\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nHost: b\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nConnection: close\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nTE: trailers\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nTrailer: x\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nUpgrade: h2c\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nKeep-Alive: 1\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nProxy-Authorization: x\r\n\r\n", 0, NULL),
    CHUNKED("3;\x01\r\nabc\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("3;a\nb\r\nabc\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("3;a=\"b\r\nabc\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("3;a=\"b\x7f\"\r\nabc\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("3;a=(b)\r\nabc\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("3\x00\r\nabc\r\n0\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nX : y\r\n\r\n", 0, NULL),
    CHUNKED("0\r\n y\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nX: y\n\r\n", 0, NULL),
    CHUNKED("0\r\nX: \x01\r\n\r\n", 0, NULL),
    CHUNKED("0\r\nNoColon\r\n\r\n", 0, NULL),
    CHUNKED("0\r\n:x\r\n\r\n", 0, NULL),
};

static void test_chunked_bad(void **state)
{
    for (size_t i = 0; i < sizeof(bad_chunked) / sizeof(*bad_chunked); i++) {
        const struct chunked_case *c = &bad_chunked[i];
        struct chunked_result want;

        chunked_feed(c->text, c->len, NULL, 0, false, &want);
        if (want.consumed != HTTP1_ERROR)
            fail_msg("case %zu: consumed %zd", i, want.consumed);
        chunked_check_splits(c->text, c->len, &want);
    }
}

static void test_chunked_limits(void **state)
{
    struct chunked_result r;
    char *ext = repeat('a', 5000);
    size_t n = 5000 + 32;
    char *text = malloc(n);

    /* A size line over 4096 bytes. */
    snprintf(text, n, "1;%s\r\nx\r\n0\r\n\r\n", ext);
    chunked_feed(text, strlen(text), NULL, 0, false, &r);
    assert_int_equal(r.consumed, HTTP1_ERROR);

    /* A long size line within the limit. */
    snprintf(text, n, "1;%.*s\r\nx\r\n0\r\n\r\n", 4000, ext);
    chunked_feed(text, strlen(text), NULL, 0, false, &r);
    assert_int_equal(r.consumed, strlen(text));
    assert_true(r.done);

    /* A trailer line over 8190 bytes is refused. */
    free(text);
    n = 9000 + 32;
    text = malloc(n);
    free(ext);
    ext = repeat('a', 9000);
    snprintf(text, n, "0\r\nX: %s\r\n\r\n", ext);
    chunked_feed(text, strlen(text), NULL, 0, false, &r);
    assert_int_equal(r.consumed, HTTP1_ERROR);
    free(text);
    free(ext);
}

static void test_chunked_trailer_total(void **state)
{
    struct http1_chunked c;
    const char *error;
    bool done;
    ssize_t rc;
    static const char line[] = "X-Trailer-Field: some value here\r\n";

    memset(&c, 0, sizeof(c));
    rc = http1_chunked_scan(&c, "0\r\n", 3, &done, &error);
    assert_int_equal(rc, 3);
    for (int i = 0; i < 10000; i++) {
        rc = http1_chunked_scan(&c, line, sizeof(line) - 1, &done, &error);
        if (rc == HTTP1_ERROR)
            break;
    }
    assert_int_equal(rc, HTTP1_ERROR);
    assert_non_null(error);
}

/* Trailer fields: at most max_trailers (default 100), names that only
 * look like forbidden ones pass. */
static void test_chunked_trailer_fields(void **state)
{
    struct http1_chunked c;
    const char *error;
    bool done;
    ssize_t rc = 0;
    static const char line[] = "X-T: 1\r\n";
    int i;

    memset(&c, 0, sizeof(c));
    assert_int_equal(http1_chunked_scan(&c, STR("0\r\n"), &done, &error), 3);
    for (i = 0; i < 100; i++) {
        rc = http1_chunked_scan(&c, line, sizeof(line) - 1, &done, &error);
        assert_int_equal(rc, sizeof(line) - 1);
    }
    rc = http1_chunked_scan(&c, line, sizeof(line) - 1, &done, &error);
    assert_int_equal(rc, HTTP1_ERROR);
    assert_string_equal(error, "too many trailer fields");

    memset(&c, 0, sizeof(c));
    c.max_trailers = 2;
    rc = http1_chunked_scan(&c, STR("0\r\nA: 1\r\nB: 2\r\n\r\n"), &done,
                            &error);
    assert_int_equal(rc, 17);
    assert_true(done);
    memset(&c, 0, sizeof(c));
    c.max_trailers = 2;
    rc = http1_chunked_scan(&c, STR("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
                            &done, &error);
    assert_int_equal(rc, HTTP1_ERROR);

    memset(&c, 0, sizeof(c));
    rc = http1_chunked_scan(&c, STR("0\r\nContent-Lengthx: 1\r\n"
                                    "Hosts: a\r\nT: 1\r\n"
                                    "Transfer-Encoding-And-More: 1\r\n\r\n"),
                            &done, &error);
    assert_true(rc > 0);
    assert_true(done);
}

static void test_chunked_large_and_sticky(void **state)
{
    struct http1_chunked c;
    const char *error;
    bool done;
    ssize_t rc;
    char data[4096];

    /* The largest size: INT64_MAX. Data is consumed as it comes. */
    memset(&c, 0, sizeof(c));
    rc = http1_chunked_scan(&c, STR("7fffffffffffffff\r\n"), &done, &error);
    assert_int_equal(rc, 18);
    assert_false(done);
    memset(data, 'x', sizeof(data));
    for (int i = 0; i < 100; i++) {
        rc = http1_chunked_scan(&c, data, sizeof(data), &done, &error);
        assert_int_equal(rc, sizeof(data));
    }
    assert_true(c.remaining == INT64_MAX - 100 * sizeof(data));

    /* After an error, every later call fails too. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(http1_chunked_scan(&c, STR("zz"), &done, &error),
                     HTTP1_ERROR);
    assert_int_equal(http1_chunked_scan(&c, STR("0\r\n\r\n"), &done,
                                        &error), HTTP1_ERROR);
    assert_non_null(error);

    /* After done, nothing more is consumed. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(http1_chunked_scan(&c, STR("0\r\n\r\n"), &done,
                                        &error), 5);
    assert_true(done);
    assert_int_equal(http1_chunked_scan(&c, STR("abc"), &done, &error), 0);
    assert_true(done);

    /* An empty buffer is fine. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(http1_chunked_scan(&c, data, 0, &done, &error), 0);
    assert_false(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_requests),
        cmocka_unit_test(test_request_header_values),
        cmocka_unit_test(test_pipelined_request),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_request_line_limit),
        cmocka_unit_test(test_field_limits),
        cmocka_unit_test(test_default_field_count),
        cmocka_unit_test(test_empty_lines_limit),
        cmocka_unit_test(test_request_byte_sweep),
        cmocka_unit_test(test_long_field_sweep),
        cmocka_unit_test(test_colon_at_limit),
        cmocka_unit_test(test_good_responses),
        cmocka_unit_test(test_bad_responses),
        cmocka_unit_test(test_response_line_limit),
        cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_list_has_token),
        cmocka_unit_test(test_hop_by_hop),
        cmocka_unit_test(test_hop_by_hop_framing),
        cmocka_unit_test(test_connection_names),
        cmocka_unit_test(test_presence_facts),
        cmocka_unit_test(test_host_values),
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_chunked_good),
        cmocka_unit_test(test_chunked_incomplete),
        cmocka_unit_test(test_chunked_bad),
        cmocka_unit_test(test_chunked_limits),
        cmocka_unit_test(test_chunked_trailer_total),
        cmocka_unit_test(test_chunked_trailer_fields),
        cmocka_unit_test(test_chunked_large_and_sticky),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
