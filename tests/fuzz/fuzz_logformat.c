/*
 * fuzz_logformat.c - log_format_compile on any text, then render a fixed
 * access record with every field set into buffers of several sizes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* balancer.c provides the real one; this one lets the target link alone. */
__attribute__((weak)) const char *pick_reason_name(enum pick_reason reason)
{
    return reason == PICK_STICKY ? "sticky" : "lbmethod";
}

static struct http1_request request;
static struct http1_header resp_headers[3];
static struct member member = { .name = "http://127.0.0.1:8081",
                                .route = "server1" };
static struct member other = { .name = "http://127.0.0.1:8082",
                               .route = "" };
static struct balancer cluster = { .name = "balancer://cluster",
                                   .sticky_cookie = "BALANCEID" };

static void add_header(const char *name, const char *value)
{
    struct http1_header *h = &request.headers[request.num_headers++];

    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = strlen(value);
}

static void make_record(struct access_record *r)
{
    static const char line[] = "GET /a/\"b\"?x=\x01\xff HTTP/1.1";

    if (request.num_headers == 0) {
        request.method = "GET";
        request.method_len = 3;
        request.target = "/a/\"b\"?x=\x01\xff";
        request.target_len = strlen(request.target);
        request.version_minor = 1;
        add_header("Host", "front.example:8080");
        add_header("User-Agent", "fuzz\\agent\n");
        add_header("Cookie", "a=1; BALANCEID=abc.server1;; =; b");
        add_header("Accept", "*/*");
        add_header("accept", "text/html");
        resp_headers[0] = (struct http1_header){ "Content-Type", 12,
                                                 "text/html; charset=x", 20 };
        resp_headers[1] = (struct http1_header){ "Set-Cookie", 10, "s=1", 3 };
        resp_headers[2] = (struct http1_header){ "Set-Cookie", 10, "t", 1 };
    }

    memset(r, 0, sizeof(*r));
    r->client_ip = "127.0.0.1";
    r->client_port = 50612;
    r->local_port = 8080;
    r->server_name = "front.example";
    r->start_us = 1796317171123456LL;
    r->duration_us = 2500123;
    r->req = &request;
    r->request_line = line;
    r->request_line_len = strlen(line);
    r->status = 404;
    r->body_bytes = 1234;
    r->bytes_received = 100;
    r->bytes_sent = 1500;
    r->resp_headers = resp_headers;
    r->resp_num_headers = 3;
    r->conn_status = '+';
    r->balancer = &cluster;
    r->member = &other;
    r->sticky_value = "abc.server1";
    r->sticky_value_len = 11;
    r->route_requested = "server1";
    r->route_requested_len = 7;
    r->decision = PICK_STICKY;
    r->attempts = 2;
    r->failover_from = &member;
    r->route_changed = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t sizes[] = { 0, 1, 2, 7, 64, 4096 };
    struct access_record r;
    struct log_format *f;
    char err[256];
    char *text;
    char *buf;

    if (size > 4096)
        return 0;
    text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    f = log_format_compile(text, err, sizeof(err));
    free(text);
    if (f == NULL)
        return 0;

    make_record(&r);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n;

        /* exactly sizes[i] bytes, so ASan sees any write past the end */
        buf = malloc(sizes[i] ? sizes[i] : 1);
        if (buf == NULL)
            break;
        n = log_format_render(f, &r, buf, sizes[i]);
        if (sizes[i] > 0 && (n >= sizes[i] || buf[n] != '\0'))
            abort();
        if (sizes[i] > 1 && buf[n - 1] != '\n')
            abort();
        free(buf);
    }

    r.req = NULL;
    r.resp_headers = NULL;
    r.balancer = NULL;
    r.member = NULL;
    buf = malloc(512);
    if (buf != NULL)
        log_format_render(f, &r, buf, 512);
    free(buf);

    log_format_free(f);
    return 0;
}
