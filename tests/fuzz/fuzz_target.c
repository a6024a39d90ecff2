/*
 * fuzz_target.c - libFuzzer target for target_normalize (target.c).
 *
 * The input is a request-target, normalised in a buffer of exactly its
 * size. Checks: the result lies inside the buffer and is no longer than
 * the input; an accepted origin-form or absolute-form result starts with
 * '/' and its path (before '?') has no "." or ".." segment left, and
 * normalising the result again changes nothing; the authority, when
 * given, lies inside the buffer too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

static int has_dot_segment(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t end = i + 1;

        while (end < n && p[end] != '/')
            end++;
        if ((end - i == 2 && p[i + 1] == '.') ||
            (end - i == 3 && p[i + 1] == '.' && p[i + 2] == '.'))
            return 1;
        i = end;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *again;
    size_t len = size, start, alen, path, len2, start2, alen2;
    const char *auth, *auth2, *err = NULL;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    if (target_normalize(buf, &len, &start, &auth, &alen, &err) < 0) {
        if (err == NULL)
            abort();
        free(buf);
        return 0;
    }
    if (start > size || len > size - start)
        abort();
    if (auth != NULL && (auth < buf || auth + alen > buf + size))
        abort();
    if (len == 0 || buf[start] != '/') {
        free(buf);
        return 0;                   /* "*", CONNECT's host:port, other */
    }
    for (path = 0; path < len; path++)
        if (buf[start + path] == '?' || buf[start + path] == '#')
            break;
    if (has_dot_segment(buf + start, path))
        abort();

    again = malloc(len + 1);
    if (again == NULL)
        abort();
    memcpy(again, buf + start, len);
    len2 = len;
    if (target_normalize(again, &len2, &start2, &auth2, &alen2, &err) < 0 ||
        start2 != 0 || len2 != len || memcmp(again, buf + start, len) != 0)
        abort();
    free(again);
    free(buf);
    return 0;
}
