/*
 * fuzz_chunked.c - libFuzzer target for http1_chunked_scan and
 * http1_chunked_decode.
 *
 * The first two bytes choose where to cut the rest into three pieces; each
 * piece is scanned from a buffer of exactly its size. The scan in pieces
 * must agree with the scan in one call (bytes of the body, done, error),
 * the decode must agree with the scan, the decoded data must be the same
 * however it is cut, and no call may claim more bytes than it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

struct outcome {
    ssize_t consumed;       /* HTTP1_ERROR on error */
    bool done;
    size_t data_len;
};

/* Feed data in pieces cut at a <= b; decoded data is appended to out. */
static void feed(const uint8_t *data, size_t len, size_t a, size_t b,
                 bool decode, char *out, struct outcome *o)
{
    size_t cuts[3] = { a, b, len }, at = 0;
    struct http1_chunked c;

    memset(&c, 0, sizeof(c));
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < 3; i++) {
        size_t n = cuts[i] - at, data_len = 0;
        char *piece = malloc(n ? n : 1);
        const char *error = NULL;
        bool done = false;
        ssize_t rc;

        memcpy(piece, data + at, n);
        if (decode)
            rc = http1_chunked_decode(&c, piece, n, &data_len, &done,
                                      &error);
        else
            rc = http1_chunked_scan(&c, piece, n, &done, &error);
        if (rc == HTTP1_ERROR) {
            if (error == NULL)
                abort();
            free(piece);
            o->consumed = HTTP1_ERROR;
            return;
        }
        if (rc < 0 || (size_t)rc > n || (!done && (size_t)rc != n) ||
            data_len > (size_t)rc)
            abort();
        if (out != NULL)
            memcpy(out + o->data_len, piece, data_len);
        o->data_len += data_len;
        o->consumed += rc;
        free(piece);
        if (done) {
            o->done = true;
            return;
        }
        at = cuts[i];
    }
}

static bool same(const struct outcome *x, const struct outcome *y)
{
    return x->consumed == y->consumed && x->done == y->done;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome whole, split, dec_whole, dec_split;
    char *out1, *out2;
    size_t a, b;

    if (size < 2)
        return 0;
    a = data[0];
    b = data[1];
    data += 2;
    size -= 2;
    a = size ? a * size / 255 : 0;
    b = size ? b * size / 255 : 0;
    if (a > b) {
        size_t t = a;

        a = b;
        b = t;
    }

    out1 = malloc(size + 1);
    out2 = malloc(size + 1);
    feed(data, size, size, size, false, NULL, &whole);
    feed(data, size, a, b, false, NULL, &split);
    feed(data, size, size, size, true, out1, &dec_whole);
    feed(data, size, a, b, true, out2, &dec_split);
    if (!same(&whole, &split) || !same(&whole, &dec_whole) ||
        !same(&whole, &dec_split))
        abort();
    if (whole.consumed >= 0 &&
        (dec_whole.data_len != dec_split.data_len ||
         memcmp(out1, out2, dec_whole.data_len) != 0))
        abort();
    free(out1);
    free(out2);
    return 0;
}
