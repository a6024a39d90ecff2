/*
 * http1.c - the HTTP/1.1 message reader (RFC 9112): request and response
 * heads, header helpers, the chunked transfer coding.
 *
 * The head parsers restart from the first byte on every call and make one
 * pass over the bytes, classifying each byte by a table lookup. They never
 * read past buf + len (the buffer is not NUL-terminated) and never allocate.
 *
 * Line terminators: every line of a head and of a chunked body must end in
 * CRLF. RFC 9112 section 2.2 lets a recipient accept a bare LF; we refuse
 * it (400) everywhere, in requests and responses alike, so that no line
 * boundary can be seen by us and not by the next hop, or the reverse.
 *
 * Limits are checked as bytes arrive: a line is over its limit as soon as
 * its (limit + 1)th byte is seen and is not the CR that ends it, so a
 * prefix of a message either needs more bytes or fails the same way as the
 * whole message does.
 */
#include "http1.h"

#include <string.h>

/* Character classes, one bit each. */
#define C_TCHAR  0x01   /* token (RFC 9110 5.6.2) */
#define C_VALUE  0x02   /* field-value: VCHAR, obs-text, SP, HTAB */
#define C_TARGET 0x04   /* request-target: VCHAR, obs-text */
#define C_WS     0x08   /* SP, HTAB */
#define C_QDTEXT 0x10   /* quoted-string text (RFC 9110 5.6.4) */

#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_VCHAR(c) ((c) >= 0x21 && (c) <= 0x7e)
#define IS_OBS(c)   ((c) >= 0x80)
#define IS_WS(c)    ((c) == ' ' || (c) == '\t')
#define IS_TCHAR(c) (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '!' || \
                     (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || \
                     (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || \
                     (c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || \
                     (c) == '|' || (c) == '~')
#define IS_QDTEXT(c) (IS_WS(c) || (c) == 0x21 || \
                      ((c) >= 0x23 && (c) <= 0x5b) || \
                      ((c) >= 0x5d && (c) <= 0x7e) || IS_OBS(c))

/*
 * Request targets may carry obs-text (raw UTF-8): Apache httpd's default
 * "HttpProtocolOptions Strict" accepts it too. Controls, SP and DEL never.
 */
#define CLASS_OF(c) \
    ((IS_TCHAR(c) ? C_TCHAR : 0) | \
     ((IS_VCHAR(c) || IS_OBS(c) || IS_WS(c)) ? C_VALUE : 0) | \
     ((IS_VCHAR(c) || IS_OBS(c)) ? C_TARGET : 0) | \
     (IS_WS(c) ? C_WS : 0) | \
     (IS_QDTEXT(c) ? C_QDTEXT : 0))

#define HEX_OF(c) \
    (IS_DIGIT(c) ? (c) - '0' : \
     ((c) >= 'a' && (c) <= 'f') ? (c) - 'a' + 10 : \
     ((c) >= 'A' && (c) <= 'F') ? (c) - 'A' + 10 : 0xff)

#define LOWER_OF(c) (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))

#define ROW(m, b) \
    m((b) + 0), m((b) + 1), m((b) + 2), m((b) + 3), \
    m((b) + 4), m((b) + 5), m((b) + 6), m((b) + 7), \
    m((b) + 8), m((b) + 9), m((b) + 10), m((b) + 11), \
    m((b) + 12), m((b) + 13), m((b) + 14), m((b) + 15)
#define TABLE(m) \
    ROW(m, 0x00), ROW(m, 0x10), ROW(m, 0x20), ROW(m, 0x30), \
    ROW(m, 0x40), ROW(m, 0x50), ROW(m, 0x60), ROW(m, 0x70), \
    ROW(m, 0x80), ROW(m, 0x90), ROW(m, 0xa0), ROW(m, 0xb0), \
    ROW(m, 0xc0), ROW(m, 0xd0), ROW(m, 0xe0), ROW(m, 0xf0)

static const uint8_t char_class[256] = { TABLE(CLASS_OF) };
static const uint8_t hex_value[256] = { TABLE(HEX_OF) };
static const uint8_t lower[256] = { TABLE(LOWER_OF) };

#define CLS(c) (char_class[(uint8_t)(c)])

/* Apache httpd's defaults for LimitRequestLine/FieldSize/Fields. */
#define DEFAULT_LINE   8190
#define DEFAULT_FIELD  8190
#define DEFAULT_FIELDS 100

/* Caps that keep a head's length within an int whatever is configured. */
#define MAX_LINE_CAP   (1u << 20)

/* Limits of the chunked coding (per line, and the whole trailer section). */
#define CHUNK_LINE_MAX    4096
#define TRAILER_LINE_MAX  8190
#define TRAILER_TOTAL_MAX 65536
#define CHUNK_SIZE_MAX    ((uint64_t)INT64_MAX)

struct limits {
    size_t line;
    size_t field;
    size_t fields;
};

struct head_error {
    int status;
    const char *text;
};

/* Facts gathered from the header fields, before they are judged. */
struct field_facts {
    unsigned hosts;
    const char *host;           /* the (last) Host value */
    size_t host_len;
    bool has_cl;
    bool cl_error;
    const char *cl_cause;
    uint64_t cl;
    unsigned te_fields;
    unsigned te_chunked;        /* how many times chunked was named */
    bool te_last_chunked;
    bool te_other;              /* a coding other than chunked */
    const char *te_cause;       /* malformed Transfer-Encoding */
    bool has_connection;
    bool conn_close;
    bool conn_keep_alive;
    bool conn_upgrade;
    bool conn_framing;          /* Connection names CL or TE */
    bool has_upgrade;
    bool expect_continue;
};

static int fail(struct head_error *err, int status, const char *text)
{
    err->status = status;
    err->text = text;
    return HTTP1_ERROR;
}

#ifdef __SSE2__
#include <emmintrin.h>

/*
 * Sixteen bytes at a time for the long runs (field values, targets):
 * find the first byte below lowest (0x20 for values, 0x21 for targets)
 * that is not an allowed HTAB, or DEL; bytes >= 0x80 (obs-text) pass.
 * Loads may look past stop (never past end) but the answer is capped at
 * stop. Returns where the table loop takes over: the answer, or a point
 * with fewer than 16 bytes before end.
 */
static inline const char *skip_sse2(const char *p, const char *stop,
                                    const char *end, char lowest, bool tab)
{
    const __m128i low = _mm_set1_epi8(lowest);
    const __m128i del = _mm_set1_epi8(0x7f);
    const __m128i htab = _mm_set1_epi8('\t');

    if (p >= stop)
        return p;
    while (p < stop && end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(v, low), v);
        unsigned bad;

        ok = _mm_andnot_si128(_mm_cmpeq_epi8(v, del), ok);
        if (tab)
            ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, htab));
        bad = ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
        if (bad) {
            p += __builtin_ctz(bad);
            return p < stop ? p : stop;
        }
        p += 16;
    }
    return p < stop ? p : stop;
}
#endif

/*
 * Advance p while bytes are in class bit, stopping at stop (<= end, the
 * end of the buffer). bit is a constant at every call, so the SSE2
 * branch folds away where unused.
 */
static inline const char *skip_class(const char *p, const char *stop,
                                     const char *end, uint8_t bit)
{
#ifdef __SSE2__
    if (bit == C_VALUE)
        p = skip_sse2(p, stop, end, 0x20, true);
    else if (bit == C_TARGET)
        p = skip_sse2(p, stop, end, 0x21, false);
#endif
    while (stop - p >= 4) {
        if (!(CLS(p[0]) & bit))
            return p;
        if (!(CLS(p[1]) & bit))
            return p + 1;
        if (!(CLS(p[2]) & bit))
            return p + 2;
        if (!(CLS(p[3]) & bit))
            return p + 3;
        p += 4;
    }
    while (p < stop && (CLS(*p) & bit))
        p++;
    return p;
}

/* Case-insensitive compare of n bytes; b must be lower case. */
static inline bool equal_lower(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower[(uint8_t)a[i]] != (uint8_t)b[i])
            return false;
    return true;
}

static inline bool equal_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower[(uint8_t)a[i]] != lower[(uint8_t)b[i]])
            return false;
    return true;
}

/* The end of a line's allowance: bytes at or past it are over the limit. */
static inline const char *line_stop(const char *line, const char *end,
                                    size_t limit)
{
    return (size_t)(end - line) > limit ? line + limit : end;
}

static void effective_limits(const struct http1_limits *lim,
                             struct limits *out)
{
    out->line = DEFAULT_LINE;
    out->field = DEFAULT_FIELD;
    out->fields = DEFAULT_FIELDS;
    if (lim == NULL)
        return;

    /* A zero means "the default". */
    if (lim->max_request_line)
        out->line = lim->max_request_line;
    if (lim->max_field_size)
        out->field = lim->max_field_size;
    if (lim->max_fields)
        out->fields = lim->max_fields;
    if (out->line > MAX_LINE_CAP)
        out->line = MAX_LINE_CAP;
    if (out->field > MAX_LINE_CAP)
        out->field = MAX_LINE_CAP;
    if (out->fields > HTTP1_MAX_HEADERS)
        out->fields = HTTP1_MAX_HEADERS;
}

/*
 * Parse "HTTP/D.D" at *pp, where stop is the line's allowance.
 * Returns 0 with *pp moved past it and *major, *minor set, or
 * HTTP1_INCOMPLETE, or HTTP1_ERROR (status too_long past the allowance,
 * else 400).
 */
static int parse_version(const char **pp, const char *stop, const char *end,
                         int too_long, int *major, int *minor,
                         struct head_error *err)
{
    static const char form[] = "HTTP/D.D";
    const char *p = *pp;

    for (int i = 0; i < 8; i++, p++) {
        if (p >= stop) {
            if (p >= end)
                return HTTP1_INCOMPLETE;
            return fail(err, too_long, "start line too long");
        }
        if (form[i] == 'D') {
            if (!IS_DIGIT(*p))
                return fail(err, 400, "malformed HTTP version");
        } else if (*p != form[i]) {
            return fail(err, 400, "malformed HTTP version");
        }
    }
    *major = p[-3] - '0';
    *minor = p[-1] - '0';
    *pp = p;
    return 0;
}

/*
 * Expect CRLF at p. Returns 0 when it is there, HTTP1_INCOMPLETE, or
 * HTTP1_ERROR naming a bare CR or LF.
 */
static inline int expect_crlf(const char *p, const char *end,
                              struct head_error *err, const char *cause)
{
    if (p >= end)
        return HTTP1_INCOMPLETE;
    if (*p == '\n')
        return fail(err, 400, "bare LF as line terminator");
    if (*p != '\r')
        return fail(err, 400, cause);
    if (p + 1 >= end)
        return HTTP1_INCOMPLETE;
    if (p[1] != '\n')
        return fail(err, 400, "bare CR in start line");
    return 0;
}

/*
 * Parse field lines from p up to and including the empty line that ends
 * the head. Fills h[0..*num). Returns the offset from buf past the empty
 * line, HTTP1_INCOMPLETE or HTTP1_ERROR (400, or 431 for the limits).
 */
static int parse_fields(const char *buf, const char *p, const char *end,
                        const struct limits *lim, struct http1_header *h,
                        size_t *num, struct head_error *err)
{
    size_t n = 0;

    for (;;) {
        const char *line = p, *stop, *q, *value, *value_end;

        if (p >= end)
            break;
        if (*p == '\r') {
            if (p + 1 >= end)
                break;
            if (p[1] != '\n')
                return fail(err, 400, "bare CR in header section");
            *num = n;
            return (int)(p + 2 - buf);
        }
        if (*p == '\n')
            return fail(err, 400, "bare LF as line terminator");
        if (IS_WS(*p))
            return fail(err, 400, "obs-fold (line folding) in header");
        if (n >= lim->fields)
            return fail(err, 431, "too many header fields");

        stop = line_stop(line, end, lim->field);
        q = skip_class(p, stop, end, C_TCHAR);
        if (q >= end)
            break;
        if (CLS(*q) & C_TCHAR)
            return fail(err, 431, "header field too long");
        if (*q != ':') {
            if (IS_WS(*q))
                return fail(err, 400, "whitespace before colon in header");
            if (*q == '\r' || *q == '\n')
                return fail(err, 400, "header field without colon");
            return fail(err, 400, "invalid character in header name");
        }
        if (q == p)
            return fail(err, 400, "empty header name");
        h[n].name = p;
        h[n].name_len = (size_t)(q - p);

        q = skip_class(q + 1, stop, end, C_WS);
        value = q;
        q = skip_class(q, stop, end, C_VALUE);
        if (q >= end)
            break;
        if (CLS(*q) & C_VALUE)
            return fail(err, 431, "header field too long");
        if (*q == '\n')
            return fail(err, 400, "bare LF as line terminator");
        if (*q != '\r')
            return fail(err, 400, "control character in header value");
        if (q + 1 >= end)
            break;
        if (q[1] != '\n')
            return fail(err, 400, "bare CR in header value");

        value_end = q;
        while (value_end > value && IS_WS(value_end[-1]))
            value_end--;
        h[n].value = value;
        h[n].value_len = (size_t)(value_end - value);
        n++;
        p = q + 2;
    }
    *num = n;
    return HTTP1_INCOMPLETE;
}

/*
 * Content-Length: 1*DIGIT. A comma list of identical values (what an
 * upstream that merged duplicates makes) counts as one value, as RFC 9110
 * section 8.6 allows; anything else is refused.
 */
static void note_content_length(struct field_facts *f, const char *v,
                                size_t len)
{
    size_t i = 0;

    if (len == 0)
        goto bad;
    while (i < len) {
        uint64_t value = 0;
        size_t digits = 0;

        while (i < len && IS_DIGIT(v[i])) {
            unsigned d = (unsigned)(v[i] - '0');

            if (value > (UINT64_MAX - d) / 10) {
                f->cl_cause = "Content-Length overflows";
                goto error;
            }
            value = value * 10 + d;
            digits++;
            i++;
        }
        if (digits == 0)
            goto bad;
        while (i < len && IS_WS(v[i]))
            i++;
        if (i < len) {
            if (v[i] != ',')
                goto bad;
            i++;
            while (i < len && IS_WS(v[i]))
                i++;
            if (i == len)
                goto bad;
        }
        if (f->has_cl && f->cl != value) {
            f->cl_cause = "conflicting Content-Length values";
            goto error;
        }
        f->has_cl = true;
        f->cl = value;
    }
    return;

bad:
    f->cl_cause = "invalid Content-Length";
error:
    f->cl_error = true;
}

/*
 * Transfer-Encoding: a comma list of codings, all fields taken in order.
 * Codings with parameters and empty list elements are refused: neither
 * has a use in a message a proxy forwards, and both are smuggling bait.
 */
static void note_transfer_encoding(struct field_facts *f, const char *v,
                                   size_t len)
{
    size_t i = 0;

    f->te_fields++;
    if (len == 0)
        goto bad;
    while (i < len) {
        size_t start = i, n;

        while (i < len && (CLS(v[i]) & C_TCHAR))
            i++;
        n = i - start;
        if (n == 0)
            goto bad;
        if (n == 7 && equal_lower(v + start, "chunked", 7)) {
            f->te_chunked++;
            f->te_last_chunked = true;
        } else {
            f->te_other = true;
            f->te_last_chunked = false;
        }

        while (i < len && IS_WS(v[i]))
            i++;
        if (i < len) {
            if (v[i] != ',')
                goto bad;
            i++;
            while (i < len && IS_WS(v[i]))
                i++;
            if (i == len)
                goto bad;
        }
    }
    return;

bad:
    if (f->te_cause == NULL)
        f->te_cause = "malformed Transfer-Encoding";
}

/* Connection options that matter here, in one pass over the list. */
static void note_connection(struct field_facts *f, const char *v, size_t len)
{
    size_t i = 0;

    f->has_connection = true;
    while (i < len) {
        size_t start, n;

        while (i < len && (IS_WS(v[i]) || v[i] == ','))
            i++;
        start = i;
        while (i < len && v[i] != ',')
            i++;
        n = i - start;
        while (n > 0 && IS_WS(v[start + n - 1]))
            n--;

        if (n == 5 && equal_lower(v + start, "close", 5))
            f->conn_close = true;
        else if (n == 10 && equal_lower(v + start, "keep-alive", 10))
            f->conn_keep_alive = true;
        else if (n == 7 && equal_lower(v + start, "upgrade", 7))
            f->conn_upgrade = true;
        else if ((n == 14 && equal_lower(v + start, "content-length", 14)) ||
                 (n == 17 &&
                  equal_lower(v + start, "transfer-encoding", 17)))
            f->conn_framing = true;
    }
}

/* One pass over the fields, sorting out those that frame the message. */
static void gather_facts(const struct http1_header *h, size_t n,
                         struct field_facts *f)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < n; i++) {
        const char *name = h[i].name, *v = h[i].value;
        size_t len = h[i].value_len;

        switch (h[i].name_len) {
        case 4:
            if (equal_lower(name, "host", 4)) {
                f->hosts++;
                f->host = v;
                f->host_len = len;
            }
            break;
        case 6:
            if (equal_lower(name, "expect", 6) && len == 12 &&
                equal_lower(v, "100-continue", 12))
                f->expect_continue = true;
            break;
        case 7:
            if (equal_lower(name, "upgrade", 7))
                f->has_upgrade = true;
            break;
        case 10:
            if (equal_lower(name, "connection", 10))
                note_connection(f, v, len);
            break;
        case 14:
            if (equal_lower(name, "content-length", 14))
                note_content_length(f, v, len);
            break;
        case 17:
            if (equal_lower(name, "transfer-encoding", 17))
                note_transfer_encoding(f, v, len);
            break;
        }
    }
}

/* The presence facts of http1_message_info (http1.h). */
static void note_presence(struct http1_message_info *info,
                          const struct field_facts *f)
{
    info->has_content_length = f->has_cl;
    info->has_transfer_encoding = f->te_fields > 0;
    info->has_connection = f->has_connection;
    info->connection_framing = f->conn_framing;
    info->length_field = f->has_cl ? f->cl : 0;
}

static bool keep_alive_for(int version_minor, const struct field_facts *f)
{
    if (f->conn_close)
        return false;
    return version_minor >= 1 || f->conn_keep_alive;
}

/* RFC 3986 3.2.2 unreserved, pct-encoded's "%" and sub-delims. */
static bool is_host_char(uint8_t b)
{
    return IS_ALPHA(b) || IS_DIGIT(b) ||
           (b != 0 && strchr("-._~%!$&'()*+,;=", b) != NULL);
}

/*
 * A Host value: uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2),
 * where uri-host is an IP-literal in brackets or a reg-name (which
 * covers IPv4). Empty is allowed (a target without authority). Apache
 * answers 400 "Client sent malformed Host header" likewise.
 */
static bool host_valid(const char *v, size_t len)
{
    size_t i = 0;

    if (len > 0 && v[0] == '[') {
        for (i = 1; i < len && v[i] != ']'; i++)
            if (!is_host_char((uint8_t)v[i]) && v[i] != ':')
                return false;
        if (i == len || i == 1)
            return false;
        i++;
    } else {
        while (i < len && v[i] != ':' && is_host_char((uint8_t)v[i]))
            i++;
    }
    if (i < len && v[i] == ':')
        for (i++; i < len && IS_DIGIT(v[i]); i++)
            ;
    return i == len;
}

/* RFC 9112 sections 6.1 to 6.3 for a request, and section 3.2 for Host. */
static int request_framing(struct http1_request *req,
                           const struct field_facts *f,
                           struct head_error *err)
{
    struct http1_message_info *info = &req->info;

    if (f->cl_error)
        return fail(err, 400, f->cl_cause);
    if (f->hosts > 1)
        return fail(err, 400, "more than one Host header");
    if (f->hosts == 0 && req->version_minor == 1)
        return fail(err, 400, "HTTP/1.1 request without Host");
    if (f->hosts == 1 && !host_valid(f->host, f->host_len))
        return fail(err, 400, "invalid Host value");
    /*
     * Content-Length and Transfer-Encoding are never hop-by-hop: a field
     * named in Connection is removed by the next hop (RFC 9110 7.6.1),
     * which for these would leave the body unframed. Refused, as a
     * request no honest client sends.
     */
    if (f->conn_framing)
        return fail(err, 400, "Connection names Content-Length or "
                    "Transfer-Encoding");

    if (f->te_fields) {
        if (req->version_minor == 0)
            return fail(err, 400, "Transfer-Encoding in HTTP/1.0 request");
        if (f->has_cl)
            return fail(err, 400,
                        "both Transfer-Encoding and Content-Length");
        if (f->te_cause)
            return fail(err, 400, f->te_cause);
        if (f->te_chunked > 1)
            return fail(err, 400, "chunked applied more than once");
        if (!f->te_last_chunked)
            return fail(err, 400, "final transfer coding is not chunked");
        /*
         * The proxy forwards request bodies as plain chunked, so codings
         * under it (gzip, chunked) are "not implemented" (RFC 9112 6.1).
         */
        if (f->te_other)
            return fail(err, 501, "transfer coding other than chunked");
        info->body = HTTP1_BODY_CHUNKED;
    } else if (f->has_cl) {
        info->body = HTTP1_BODY_LENGTH;
        info->content_length = f->cl;
    } else {
        info->body = HTTP1_BODY_NONE;
    }

    info->keep_alive = keep_alive_for(req->version_minor, f);
    /* RFC 9110 10.1.1: a 100-continue in an HTTP/1.0 request is ignored. */
    info->expect_continue = f->expect_continue && req->version_minor == 1;
    /* RFC 9110 7.8: Upgrade in an HTTP/1.0 request is ignored */
    info->upgrade = f->conn_upgrade && f->has_upgrade &&
                    req->version_minor >= 1;
    return 0;
}

/*
 * Check the request-target's form against the method (RFC 9112 3.2):
 * origin-form, absolute-form (http or https), authority-form for CONNECT
 * only, asterisk-form for OPTIONS only.
 */
static int check_target(const struct http1_request *req,
                        struct head_error *err)
{
    const char *t = req->target, *m = req->method;
    size_t n = req->target_len;
    bool connect = req->method_len == 7 && memcmp(m, "CONNECT", 7) == 0;

    if (connect) {
        size_t colon = n, port;

        for (size_t i = 0; i < n; i++) {
            if (t[i] == '/' || t[i] == '?' || t[i] == '#' || t[i] == '@')
                return fail(err, 400, "CONNECT needs host:port");
            if (t[i] == ':')
                colon = i;
        }
        port = n - colon - 1;
        if (colon == 0 || colon == n || port == 0 || port > 5)
            return fail(err, 400, "CONNECT needs host:port");
        for (size_t i = colon + 1; i < n; i++)
            if (!IS_DIGIT(t[i]))
                return fail(err, 400, "CONNECT needs host:port");
        return 0;
    }
    /* No form of request-target has a fragment (RFC 9112 3.2): a client
     * strips it; one that sends "#" gets 400, never a guess. */
    if (memchr(t, '#', n) != NULL)
        return fail(err, 400, "fragment (#) in request target");
    if (t[0] == '/')
        return 0;
    if (n == 1 && t[0] == '*') {
        if (req->method_len == 7 && memcmp(m, "OPTIONS", 7) == 0)
            return 0;
        return fail(err, 400, "asterisk-form target outside OPTIONS");
    }
    if ((n > 7 && equal_lower(t, "http://", 7)) ||
        (n > 8 && equal_lower(t, "https://", 8)))
        return 0;
    return fail(err, 400, "invalid request target");
}

/*
 * The request line, after any empty lines. Returns the offset past its
 * CRLF, HTTP1_INCOMPLETE or HTTP1_ERROR.
 */
static int parse_request_line(const char *buf, const char *p,
                              const char *end, const struct limits *lim,
                              struct http1_request *req,
                              struct head_error *err)
{
    const char *stop = line_stop(p, end, lim->line), *q;
    int major, minor, rc;

    q = skip_class(p, stop, end, C_TCHAR);
    if (q >= end)
        return HTTP1_INCOMPLETE;
    if (CLS(*q) & C_TCHAR)
        return fail(err, 414, "request line too long");
    if (*q != ' ')
        return fail(err, 400, "invalid character in method");
    if (q == p)
        return fail(err, 400, "empty method");
    req->method = p;
    req->method_len = (size_t)(q - p);

    p = q + 1;
    q = skip_class(p, stop, end, C_TARGET);
    if (q >= end)
        return HTTP1_INCOMPLETE;
    if (CLS(*q) & C_TARGET)
        return fail(err, 414, "request line too long");
    if (*q != ' ')
        return fail(err, 400, "invalid character in request target");
    if (q == p)
        return fail(err, 400, "empty request target");
    req->target = p;
    req->target_len = (size_t)(q - p);

    p = q + 1;
    rc = parse_version(&p, stop, end, 414, &major, &minor, err);
    if (rc != 0)
        return rc;
    rc = expect_crlf(p, end, err, "malformed HTTP version");
    if (rc != 0)
        return rc;
    if (major != 1 || minor > 1)
        return fail(err, 505, "unsupported HTTP version");
    req->version_minor = minor;

    rc = check_target(req, err);
    if (rc != 0)
        return rc;
    return (int)(p + 2 - buf);
}

/*
 * Parse a request head from buf[0..len). lim may be NULL for the defaults.
 * See http1.h for the return values; on error req->error_status and
 * req->error say what and why.
 */
int http1_parse_request(const char *buf, size_t len,
                        const struct http1_limits *lim,
                        struct http1_request *req)
{
    const char *p = buf, *end = buf + len;
    struct head_error err = { 0, NULL };
    struct field_facts facts;
    struct limits l;
    int rc, head;

    req->num_headers = 0;
    req->error_status = 0;
    req->error = NULL;
    memset(&req->info, 0, sizeof(req->info));
    effective_limits(lim, &l);

    /* RFC 9112 2.2: ignore empty lines before the request line. */
    while (p < end && *p == '\r') {
        if (p + 1 >= end)
            return HTTP1_INCOMPLETE;
        if (p[1] != '\n') {
            rc = fail(&err, 400, "bare CR before request line");
            goto error;
        }
        p += 2;
        if ((size_t)(p - buf) > l.line) {
            rc = fail(&err, 400, "too many empty lines before request");
            goto error;
        }
    }
    if (p < end && *p == '\n') {
        rc = fail(&err, 400, "bare LF as line terminator");
        goto error;
    }

    rc = parse_request_line(buf, p, end, &l, req, &err);
    if (rc < 0)
        goto error;

    head = parse_fields(buf, buf + rc, end, &l, req->headers,
                        &req->num_headers, &err);
    if (head < 0) {
        rc = head;
        goto error;
    }

    gather_facts(req->headers, req->num_headers, &facts);
    rc = request_framing(req, &facts, &err);
    if (rc < 0)
        goto error;
    note_presence(&req->info, &facts);
    return head;

error:
    if (rc == HTTP1_ERROR) {
        req->error_status = err.status;
        req->error = err.text;
    }
    return rc;
}

static bool is_method(const char *m, size_t len, const char *want)
{
    size_t n = strlen(want);

    return m != NULL && len == n && memcmp(m, want, n) == 0;
}

/* RFC 9112 6.3 for a response to a request made with method m. */
static int response_framing(struct http1_response *res, const char *m,
                            size_t mlen, const struct field_facts *f,
                            struct head_error *err)
{
    struct http1_message_info *info = &res->info;
    int s = res->status;

    if (f->cl_error)
        return fail(err, 502, f->cl_cause);
    info->keep_alive = keep_alive_for(res->version_minor, f);
    info->upgrade = f->conn_upgrade && f->has_upgrade;

    if (is_method(m, mlen, "HEAD") || s < 200 || s == 204 || s == 304 ||
        (is_method(m, mlen, "CONNECT") && s < 300)) {
        info->body = HTTP1_BODY_NONE;
        return 0;
    }
    if (f->te_fields) {
        if (f->te_cause)
            return fail(err, 502, f->te_cause);
        if (f->te_chunked > 1)
            return fail(err, 502, "chunked applied more than once");

        /* TE overrides CL, but the framing is suspect: do not reuse. */
        if (f->has_cl || res->version_minor == 0)
            info->keep_alive = false;
        if (f->te_last_chunked) {
            info->body = HTTP1_BODY_CHUNKED;
        } else {
            info->body = HTTP1_BODY_UNTIL_CLOSE;
            info->keep_alive = false;
        }
        return 0;
    }
    if (f->has_cl) {
        info->body = HTTP1_BODY_LENGTH;
        info->content_length = f->cl;
        return 0;
    }
    info->body = HTTP1_BODY_UNTIL_CLOSE;
    info->keep_alive = false;
    return 0;
}

/* "HTTP/1.x DDD reason" CRLF. Returns the offset past it or < 0. */
static int parse_status_line(const char *buf, const char *end,
                             struct http1_response *res,
                             struct head_error *err)
{
    const char *p = buf, *stop = line_stop(buf, end, DEFAULT_LINE), *q;
    int major, minor, rc, status = 0;

    rc = parse_version(&p, stop, end, 502, &major, &minor, err);
    if (rc != 0)
        return rc;
    for (int i = 0; i < 4; i++, p++) {
        if (p >= stop)
            return p >= end ? HTTP1_INCOMPLETE
                            : fail(err, 502, "status line too long");
        if (i == 0 ? *p != ' ' : !IS_DIGIT(*p))
            return fail(err, 502, "malformed status line");
        if (i > 0)
            status = status * 10 + (*p - '0');
    }
    if (major != 1 || minor > 1)
        return fail(err, 502, "unsupported HTTP version");
    if (status < 100)
        return fail(err, 502, "invalid status code");

    /* The SP before an empty reason is often left out; accept that. */
    if (p < end && *p != ' ' && *p != '\r')
        return fail(err, 502, "malformed status line");
    q = p;
    if (p < stop && *p == ' ')
        q = skip_class(p + 1, stop, end, C_VALUE);
    if (q >= end)
        return HTTP1_INCOMPLETE;
    if (CLS(*q) & C_VALUE)
        return fail(err, 502, "status line too long");
    rc = expect_crlf(q, end, err, "control character in status line");
    if (rc != 0)
        return rc;

    res->version_minor = minor;
    res->status = status;
    res->reason = p < q ? p + 1 : p;
    res->reason_len = p < q ? (size_t)(q - p - 1) : 0;
    return (int)(q + 2 - buf);
}

/*
 * Parse a response head from buf[0..len); request_method (method_len
 * bytes, may be NULL) is the method of the request it answers. See http1.h.
 * Limits are Apache's defaults (8190-byte lines) with up to
 * HTTP1_MAX_HEADERS fields.
 */
int http1_parse_response(const char *buf, size_t len,
                         const char *request_method, size_t method_len,
                         struct http1_response *res)
{
    const struct limits l = { DEFAULT_LINE, DEFAULT_FIELD,
                              HTTP1_MAX_HEADERS };
    const char *end = buf + len;
    struct head_error err = { 0, NULL };
    struct field_facts facts;
    int rc, head;

    res->num_headers = 0;
    res->error = NULL;
    memset(&res->info, 0, sizeof(res->info));

    rc = parse_status_line(buf, end, res, &err);
    if (rc < 0)
        goto error;

    head = parse_fields(buf, buf + rc, end, &l, res->headers,
                        &res->num_headers, &err);
    if (head < 0) {
        rc = head;
        goto error;
    }

    gather_facts(res->headers, res->num_headers, &facts);
    rc = response_framing(res, request_method, method_len, &facts, &err);
    if (rc < 0)
        goto error;
    note_presence(&res->info, &facts);
    return head;

error:
    if (rc == HTTP1_ERROR)
        res->error = err.text;
    return rc;
}

/*
 * Case-insensitive lookup of name (NUL-terminated) in h[0..n).
 * Returns the first match, or NULL.
 */
const struct http1_header *http1_find_header(const struct http1_header *h,
                                             size_t n, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < n; i++)
        if (h[i].name_len == len && equal_nocase(h[i].name, name, len))
            return &h[i];
    return NULL;
}

/* Calls fn(arg, element, length) for each non-empty element of the
 * comma-separated list v[0..len), OWS trimmed, as list_has reads it;
 * stops early when fn returns false. */
static void list_each(const char *v, size_t len,
                      bool (*fn)(void *, const char *, size_t), void *arg)
{
    size_t i = 0;

    while (i < len) {
        size_t start, stop;

        while (i < len && (IS_WS(v[i]) || v[i] == ','))
            i++;
        start = i;
        while (i < len && v[i] != ',')
            i++;
        stop = i;
        while (stop > start && IS_WS(v[stop - 1]))
            stop--;
        if (stop > start && !fn(arg, v + start, stop - start))
            return;
    }
}

struct list_find {
    const char *tok;
    size_t len;
    bool found;
};

static bool match_element(void *arg, const char *v, size_t len)
{
    struct list_find *f = arg;

    f->found = len == f->len && equal_nocase(v, f->tok, len);
    return !f->found;
}

/* Like http1_list_has_token with a counted token. */
static bool list_has(const char *v, size_t len, const char *tok,
                     size_t tok_len)
{
    struct list_find f = { tok, tok_len, false };

    if (tok_len > 0)
        list_each(v, len, match_element, &f);
    return f.found;
}

/*
 * True when the comma-separated list value[0..value_len) has an element
 * equal to token (NUL-terminated), ignoring case and surrounding OWS.
 */
bool http1_list_has_token(const char *value, size_t value_len,
                          const char *token)
{
    return list_has(value, value_len, token, strlen(token));
}

/* The fixed hop-by-hop set, told apart by length and first letter so
 * that an end-to-end name costs one switch and at most one compare. */
static bool fixed_hop_by_hop(const char *name, size_t len)
{
    switch (len) {
    case 2:
        return equal_lower(name, "te", 2);
    case 7:
        return (lower[(uint8_t)name[0]] == 't' &&
                equal_lower(name, "trailer", 7)) ||
               (lower[(uint8_t)name[0]] == 'u' &&
                equal_lower(name, "upgrade", 7));
    case 10:
        return (lower[(uint8_t)name[0]] == 'c' &&
                equal_lower(name, "connection", 10)) ||
               (lower[(uint8_t)name[0]] == 'k' &&
                equal_lower(name, "keep-alive", 10));
    case 16:
        return equal_lower(name, "proxy-connection", 16);
    case 17:
        return equal_lower(name, "transfer-encoding", 17);
    case 18:
        return equal_lower(name, "proxy-authenticate", 18);
    case 19:
        return equal_lower(name, "proxy-authorization", 19);
    default:
        return false;
    }
}

/*
 * True when name[0..name_len) is a hop-by-hop field: one of the fixed set
 * (RFC 9110 7.6.1 and the Proxy-* fields) or one listed in a Connection
 * field of h[0..n). Content-Length never is, even when Connection names
 * it: dropping it would leave the message unframed.
 */
bool http1_is_hop_by_hop(const struct http1_header *h, size_t n,
                         const char *name, size_t name_len)
{
    if (fixed_hop_by_hop(name, name_len))
        return true;
    if (name_len == 14 && equal_lower(name, "content-length", 14))
        return false;
    for (size_t i = 0; i < n; i++)
        if (h[i].name_len == 10 && h[i].value_len >= name_len &&
            equal_lower(h[i].name, "connection", 10) &&
            list_has(h[i].value, h[i].value_len, name, name_len))
            return true;
    return false;
}

static bool add_conn_name(void *arg, const char *name, size_t len)
{
    struct http1_conn_names *out = arg;

    if (out->n == HTTP1_CONN_NAMES)
        return false;
    out->name[out->n] = name;
    out->len[out->n++] = len;
    return true;
}

void http1_connection_names(const struct http1_header *h, size_t n,
                            struct http1_conn_names *out)
{
    out->n = 0;
    out->h = NULL;
    out->nh = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len != 10 || !equal_lower(h[i].name, "connection", 10))
            continue;
        list_each(h[i].value, h[i].value_len, add_conn_name, out);
        if (out->n == HTTP1_CONN_NAMES) {   /* maybe more: walk them all */
            out->h = h;
            out->nh = n;
            return;
        }
    }
}

bool http1_is_hop_by_hop_in(const struct http1_conn_names *names,
                            const char *name, size_t name_len)
{
    if (names->h != NULL)
        return http1_is_hop_by_hop(names->h, names->nh, name, name_len);
    if (fixed_hop_by_hop(name, name_len))
        return true;
    if (name_len == 14 && equal_lower(name, "content-length", 14))
        return false;
    for (size_t i = 0; i < names->n; i++)
        if (names->len[i] == name_len &&
            equal_nocase(names->name[i], name, name_len))
            return true;
    return false;
}

/* States of the chunked scanner; zero is where a body starts. */
enum {
    CH_SIZE_START,      /* first hex digit of a chunk-size */
    CH_SIZE,            /* more hex digits */
    CH_SIZE_WS,         /* BWS after the size: only ";" may follow */
    CH_EXT,             /* chunk-ext: tokens, "=", ";", BWS */
    CH_EXT_QUOTED,      /* inside a quoted-string chunk-ext-val */
    CH_EXT_ESCAPE,      /* after a backslash in a quoted-string */
    CH_SIZE_LF,         /* the LF ending the chunk-size line */
    CH_DATA,            /* remaining bytes of chunk data */
    CH_DATA_CR,         /* the CRLF after chunk data */
    CH_DATA_LF,
    CH_TRAILER_START,   /* start of a trailer field line or the last CRLF */
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,
    CH_END_LF,          /* the LF of the empty line ending the body */
    CH_DONE,
    CH_ERROR
};

/* Keep the first bytes of a trailer field's name, lower case. */
static void trailer_name_add(struct http1_chunked *c, uint8_t b)
{
    if (c->name_len < HTTP1_TRAILER_NAME_MAX)
        c->name[c->name_len] = (char)lower[b];
    c->name_len++;
}

/*
 * Fields a trailer section must not carry (RFC 9110 6.5.1: framing,
 * routing, connection control); all are shorter than the kept name.
 */
static bool trailer_name_forbidden(const struct http1_chunked *c)
{
    static const char *const names[] = {
        "content-length", "transfer-encoding", "host", "connection",
        "keep-alive", "proxy-connection", "proxy-authenticate",
        "proxy-authorization", "te", "trailer", "upgrade",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == c->name_len &&
            memcmp(c->name, names[i], c->name_len) == 0)
            return true;
    return false;
}

/*
 * The size line and trailer section, one byte at a time (they are short);
 * returns the next state, or CH_ERROR with *error set. The chunk data
 * itself is skipped in bulk by the caller.
 *
 * In the trailer section, c->remaining counts the section's bytes so far.
 */
static int chunked_byte(struct http1_chunked *c, uint8_t b,
                        const char **error)
{
    switch (c->state) {
    case CH_SIZE_START:
    case CH_SIZE:
        if (hex_value[b] != 0xff) {
            /* Leading zeros do not count; the line limit bounds them. */
            if (c->remaining > CHUNK_SIZE_MAX >> 4) {
                *error = "chunk size too large";
                return CH_ERROR;
            }
            c->remaining = (c->remaining << 4) | hex_value[b];
            if (c->remaining != 0)
                c->digits++;
            return CH_SIZE;
        }
        if (c->state == CH_SIZE_START) {
            *error = "chunk size is not hexadecimal";
            return CH_ERROR;
        }
        if (b == '\r')
            return CH_SIZE_LF;
        if (b == ';')
            return CH_EXT;
        if (IS_WS(b))
            return CH_SIZE_WS;
        *error = "invalid character after chunk size";
        return CH_ERROR;
    case CH_SIZE_WS:
        if (IS_WS(b))
            return CH_SIZE_WS;
        if (b == ';')
            return CH_EXT;
        *error = "invalid character after chunk size";
        return CH_ERROR;
    case CH_EXT:
        if ((CLS(b) & (C_TCHAR | C_WS)) || b == '=' || b == ';')
            return CH_EXT;
        if (b == '"')
            return CH_EXT_QUOTED;
        if (b == '\r')
            return CH_SIZE_LF;
        *error = "invalid chunk extension";
        return CH_ERROR;
    case CH_EXT_QUOTED:
        if (b == '"')
            return CH_EXT;
        if (b == '\\')
            return CH_EXT_ESCAPE;
        if (CLS(b) & C_QDTEXT)
            return CH_EXT_QUOTED;
        *error = "invalid chunk extension";
        return CH_ERROR;
    case CH_EXT_ESCAPE:
        if (CLS(b) & C_VALUE)
            return CH_EXT_QUOTED;
        *error = "invalid chunk extension";
        return CH_ERROR;
    case CH_SIZE_LF:
        if (b != '\n') {
            *error = "bare CR in chunk size line";
            return CH_ERROR;
        }
        if (c->remaining == 0)
            return CH_TRAILER_START;
        return CH_DATA;
    case CH_DATA_CR:
        if (b != '\r') {
            *error = "missing CRLF after chunk data";
            return CH_ERROR;
        }
        return CH_DATA_LF;
    case CH_DATA_LF:
        if (b != '\n') {
            *error = "missing CRLF after chunk data";
            return CH_ERROR;
        }
        c->digits = 0;
        return CH_SIZE_START;
    case CH_TRAILER_START:
        if (b == '\r')
            return CH_END_LF;
        if (!(CLS(b) & C_TCHAR)) {
            *error = "malformed trailer field";
            return CH_ERROR;
        }
        if (++c->trailers > (c->max_trailers ? c->max_trailers
                                             : DEFAULT_FIELDS)) {
            *error = "too many trailer fields";
            return CH_ERROR;
        }
        c->name_len = 0;
        trailer_name_add(c, b);
        return CH_TRAILER_NAME;
    case CH_TRAILER_NAME:
        if (CLS(b) & C_TCHAR) {
            trailer_name_add(c, b);
            return CH_TRAILER_NAME;
        }
        if (b == ':' && trailer_name_forbidden(c)) {
            *error = "framing, routing or hop-by-hop field in trailer "
                     "section";
            return CH_ERROR;
        }
        if (b == ':')
            return CH_TRAILER_VALUE;
        *error = "malformed trailer field";
        return CH_ERROR;
    case CH_TRAILER_VALUE:
        if (CLS(b) & C_VALUE)
            return CH_TRAILER_VALUE;
        if (b == '\r')
            return CH_TRAILER_LF;
        *error = "malformed trailer field";
        return CH_ERROR;
    case CH_TRAILER_LF:
        if (b != '\n') {
            *error = "bare CR in trailer section";
            return CH_ERROR;
        }
        return CH_TRAILER_START;
    case CH_END_LF:
        if (b != '\n') {
            *error = "bare CR at end of chunked body";
            return CH_ERROR;
        }
        return CH_DONE;
    }
    *error = "chunked scanner in a bad state";
    return CH_ERROR;
}

/* Count b against the limit of the line it is on; false when over. */
static bool chunked_line_ok(struct http1_chunked *c, const char **error)
{
    bool trailer = c->state >= CH_TRAILER_START;

    c->line_len++;
    if (trailer && ++c->remaining > TRAILER_TOTAL_MAX) {
        *error = "trailer section too large";
        return false;
    }
    if (c->line_len > (trailer ? TRAILER_LINE_MAX : CHUNK_LINE_MAX)) {
        *error = trailer ? "trailer field too long"
                         : "chunk size line too long";
        return false;
    }
    return true;
}

/*
 * The chunked state machine over buf[0..len). When out is not NULL, chunk
 * data is moved to out[*out_len...] (out <= the data, so in place works).
 */
static ssize_t chunked_run(struct http1_chunked *c, const char *buf,
                           size_t len, char *out, size_t *out_len,
                           bool *done, const char **error)
{
    size_t i = 0;

    *done = false;
    *error = NULL;
    if (c->state == CH_ERROR) {
        *error = "chunked body already failed";
        return HTTP1_ERROR;
    }
    while (i < len && c->state != CH_DONE) {
        int next;

        if (c->state == CH_DATA) {
            size_t n = len - i;

            if (n > c->remaining)
                n = (size_t)c->remaining;
            if (out != NULL) {
                memmove(out + *out_len, buf + i, n);
                *out_len += n;
            }
            i += n;
            c->remaining -= n;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            continue;
        }

        if (!chunked_line_ok(c, error)) {
            c->state = CH_ERROR;
            return HTTP1_ERROR;
        }
        next = chunked_byte(c, (uint8_t)buf[i], error);
        if (next == CH_ERROR) {
            c->state = CH_ERROR;
            return HTTP1_ERROR;
        }
        if (next == CH_SIZE_START || next == CH_DATA ||
            next == CH_TRAILER_START) {
            c->line_len = 0;
            if (c->state == CH_SIZE_LF && next == CH_TRAILER_START)
                c->remaining = 0;
        }
        c->state = next;
        i++;
    }
    *done = c->state == CH_DONE;
    return (ssize_t)i;
}

/*
 * Scan buf[0..len) as the continuation of a chunked body. Returns the
 * number of bytes that belong to the body; *done is set once the body
 * ended. HTTP1_ERROR with *error set on bad framing (and on every later
 * call with the same state).
 */
ssize_t http1_chunked_scan(struct http1_chunked *c, const char *buf,
                           size_t len, bool *done, const char **error)
{
    return chunked_run(c, buf, len, NULL, NULL, done, error);
}

/*
 * Like http1_chunked_scan, and moves the chunk data of buf[0..len) to the
 * front of buf, storing its length in *data_len.
 */
ssize_t http1_chunked_decode(struct http1_chunked *c, char *buf, size_t len,
                             size_t *data_len, bool *done,
                             const char **error)
{
    *data_len = 0;
    return chunked_run(c, buf, len, buf, data_len, done, error);
}

/* Reason phrase for a status code (RFC 9110 section 15), "" if unknown. */
const char *http1_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    case 511: return "Network Authentication Required";
    }
    return "";
}
