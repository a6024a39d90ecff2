/*
 * fuzz_http1_response.c - libFuzzer target for http1_parse_response.
 *
 * The first byte picks the request method (GET, HEAD, CONNECT, none); the
 * rest is the response, copied into a buffer of exactly its size. Checked
 * invariants: the result lies inside the buffer, the framing is one that
 * RFC 9112 6.3 allows for the status and method, parsing again gives the
 * same answer, and prefixes need more bytes or give the same answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static const char *const methods[] = { "GET", "HEAD", "CONNECT", NULL };

static void in_buf(const char *p, size_t n, const char *buf, size_t len)
{
    if (n > 0 && (p < buf || p + n > buf + len))
        abort();
}

static void check_result(int rc, const struct http1_response *r,
                         const char *method, const char *buf, size_t len)
{
    if (rc > 0) {
        if ((size_t)rc > len || r->num_headers > HTTP1_MAX_HEADERS ||
            r->status < 100 || r->status > 999 ||
            r->version_minor < 0 || r->version_minor > 1)
            abort();
        in_buf(r->reason, r->reason_len, buf, len);
        for (size_t i = 0; i < r->num_headers; i++) {
            in_buf(r->headers[i].name, r->headers[i].name_len, buf, len);
            in_buf(r->headers[i].value, r->headers[i].value_len, buf, len);
        }
        if ((r->status < 200 || r->status == 204 || r->status == 304 ||
             (method && strcmp(method, "HEAD") == 0)) &&
            r->info.body != HTTP1_BODY_NONE)
            abort();
        if (r->info.body == HTTP1_BODY_UNTIL_CLOSE && r->info.keep_alive)
            abort();
        return;
    }
    if (rc == HTTP1_ERROR && r->error == NULL)
        abort();
    if (rc != HTTP1_ERROR && rc != HTTP1_INCOMPLETE)
        abort();
}

static int parse(const uint8_t *data, size_t len, const char *method,
                 struct http1_response *r)
{
    char *buf = malloc(len ? len : 1);
    int rc;

    memcpy(buf, data, len);
    rc = http1_parse_response(buf, len, method, method ? strlen(method) : 0,
                              r);
    check_result(rc, r, method, buf, len);
    free(buf);
    return rc;
}

static void check_prefix(const uint8_t *data, size_t len, size_t k,
                         const char *method, int whole,
                         const struct http1_response *w)
{
    static struct http1_response r;
    int rc;

    if (k > len)
        return;
    rc = parse(data, k, method, &r);
    if (rc == HTTP1_INCOMPLETE)
        return;
    if (whole > 0) {
        if ((size_t)whole > k || rc != whole)
            abort();
    } else if (rc != HTTP1_ERROR || whole != HTTP1_ERROR ||
               r.error != w->error) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http1_response whole, again;
    const char *method;
    int rc;

    if (size == 0)
        return 0;
    method = methods[data[0] & 3];
    data++;
    size--;

    rc = parse(data, size, method, &whole);
    if (parse(data, size, method, &again) != rc)
        abort();

    check_prefix(data, size, size ? size - 1 : 0, method, rc, &whole);
    check_prefix(data, size, size / 2, method, rc, &whole);
    if (rc > 0)
        check_prefix(data, size, (size_t)rc - 1, method, rc, &whole);
    return 0;
}
