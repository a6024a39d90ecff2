/*
 * fuzz_http1_request.c - libFuzzer target for http1_parse_request.
 *
 * The first byte picks the limits (the defaults or small ones, to reach
 * the 414 and 431 paths); the rest is the request, copied into a buffer of
 * exactly its size so any over-read is caught. Checked invariants: the
 * result lies inside the buffer, parsing again gives the same answer, and
 * every prefix needs more bytes or gives the same answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static void in_buf(const char *p, size_t n, const char *buf, size_t len)
{
    if (n > 0 && (p < buf || p + n > buf + len))
        abort();
}

static void check_result(int rc, const struct http1_request *r,
                         const char *buf, size_t len)
{
    if (rc > 0) {
        if ((size_t)rc > len || r->num_headers > HTTP1_MAX_HEADERS ||
            r->method_len == 0 || r->target_len == 0 ||
            r->version_minor < 0 || r->version_minor > 1)
            abort();
        in_buf(r->method, r->method_len, buf, len);
        in_buf(r->target, r->target_len, buf, len);
        for (size_t i = 0; i < r->num_headers; i++) {
            in_buf(r->headers[i].name, r->headers[i].name_len, buf, len);
            in_buf(r->headers[i].value, r->headers[i].value_len, buf, len);
            if (r->headers[i].name_len == 0)
                abort();
        }
        if (r->info.body == HTTP1_BODY_UNTIL_CLOSE)
            abort();
        return;
    }
    if (rc == HTTP1_ERROR) {
        if (r->error == NULL)
            abort();
        switch (r->error_status) {
        case 400: case 414: case 431: case 501: case 505:
            return;
        }
        abort();
    }
    if (rc != HTTP1_INCOMPLETE)
        abort();
}

static int parse(const uint8_t *data, size_t len,
                 const struct http1_limits *lim, struct http1_request *r)
{
    char *buf = malloc(len ? len : 1);
    int rc;

    memcpy(buf, data, len);
    rc = http1_parse_request(buf, len, lim, r);
    check_result(rc, r, buf, len);
    free(buf);
    return rc;
}

static void check_prefix(const uint8_t *data, size_t len, size_t k,
                         const struct http1_limits *lim, int whole,
                         const struct http1_request *w)
{
    static struct http1_request r;
    int rc;

    if (k > len)
        return;
    rc = parse(data, k, lim, &r);
    if (rc == HTTP1_INCOMPLETE)
        return;
    if (whole > 0) {
        if ((size_t)whole > k || rc != whole)
            abort();
    } else if (rc != HTTP1_ERROR || whole != HTTP1_ERROR ||
               r.error_status != w->error_status || r.error != w->error) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http1_request whole, again;
    struct http1_limits small = { 40, 24, 4 };
    const struct http1_limits *lim;
    int rc;

    if (size == 0)
        return 0;
    lim = (data[0] & 1) ? &small : NULL;
    data++;
    size--;

    rc = parse(data, size, lim, &whole);
    if (parse(data, size, lim, &again) != rc)
        abort();
    if (rc == HTTP1_ERROR && (again.error_status != whole.error_status ||
                              again.error != whole.error))
        abort();

    check_prefix(data, size, size ? size - 1 : 0, lim, rc, &whole);
    check_prefix(data, size, size / 2, lim, rc, &whole);
    if (rc > 0)
        check_prefix(data, size, (size_t)rc - 1, lim, rc, &whole);
    return 0;
}
