/*
 * proxy_pump.c - moving a message's bytes: reads and writes on a socket,
 * and the framing of a body as it passes through a buffer (struct pump,
 * proxy_conn.h). Nothing here knows of connections or their states;
 * proxy.c runs the pumps.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "proxy_conn.h"

/*
 * Read into buf[0..space). A short read means the socket is drained for
 * now; unless the peer already closed, the next edge will say when more
 * comes, so the EAGAIN read is saved. Returns the byte count, IO_EOF,
 * IO_ERROR (errno set) or IO_BLOCKED.
 */
ssize_t pump_read(int fd, bool *readable, bool rdhup, char *buf,
                  size_t space)
{
    ssize_t n;

    if (!*readable || space == 0)
        return IO_BLOCKED;
    do {
        n = recv(fd, buf, space, 0);    /* socket calls skip the VFS
                                           layer read/writev go through */
    } while (n < 0 && errno == EINTR);

    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *readable = false;
            return IO_BLOCKED;
        }
        return IO_ERROR;
    }
    if (n > 0 && (size_t)n < space && !rdhup)
        *readable = false;
    return n;
}

/* The rest of a head, then the ready body bytes of pump p in buf. */
int pump_pieces(struct iovec *iov, size_t *total, const char *head,
                size_t head_sent, size_t head_len, const char *buf,
                const struct pump *p)
{
    int n = 0;

    *total = 0;
    if (head_sent < head_len) {
        iov[n].iov_base = (char *)head + head_sent;
        iov[n].iov_len = head_len - head_sent;
        *total += iov[n++].iov_len;
    }
    if (p != NULL && p->pos < p->ready) {
        iov[n].iov_base = (char *)buf + p->pos;
        iov[n].iov_len = p->ready - p->pos;
        *total += iov[n++].iov_len;
    }
    return n;
}

/* w bytes of the pieces above were sent. */
void pump_advance(size_t w, size_t *head_sent, size_t head_len,
                  struct pump *p)
{
    size_t from_head = head_len - *head_sent;

    if (w < from_head)
        from_head = w;
    *head_sent += from_head;
    if (p != NULL) {
        p->pos += w - from_head;
        p->sent += w - from_head;
    }
}

/* One send for one piece, sendmsg for two: a socket call, not writev
 * (see pump_read). */
ssize_t pump_send(int fd, bool *writable, const char *head,
                  size_t *head_sent, size_t head_len,
                  const char *buf, struct pump *p, bool more)
{
    int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    struct iovec iov[2];
    size_t total;
    int n = pump_pieces(iov, &total, head, *head_sent, head_len, buf, p);
    ssize_t w;

    if (n == 0 || !*writable)
        return 0;

    do {
        if (n == 1) {
            w = send(fd, iov[0].iov_base, iov[0].iov_len, flags);
        } else {
            struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };

            w = sendmsg(fd, &msg, flags);
        }
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *writable = false;
            return 0;
        }
        return IO_ERROR;
    }

    pump_advance((size_t)w, head_sent, head_len, p);
    if ((size_t)w < total)
        *writable = false;      /* the socket buffer is full */
    return w;
}

/*
 * MSG_MORE (TCP_CORK for one call) on a body write when the source has
 * just filled a whole read and the body goes on: the next write follows
 * at once, and the kernel sends the two as one segment instead of one
 * each (a 16 KiB write is one segment on loopback, and each segment
 * costs both ends a trip through TCP). When the source then has nothing
 * more for now, pump_uncork sends what waits; a write without MSG_MORE
 * (the body's last) pushes it too.
 */
bool pump_more_follows(const struct pump *p, bool source_readable)
{
    return source_readable && !p->done && !p->tunnel;
}

void pump_uncork(int fd, bool *corked)
{
    int one = 1;

    if (!*corked)
        return;
    *corked = false;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void pump_setup(struct pump *p, enum http1_body kind,
                uint64_t length, size_t head_len)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->remaining = length;
    p->head_len = head_len;
    p->pos = head_len;
    p->ready = head_len;
    p->done = kind == HTTP1_BODY_NONE ||
              (kind == HTTP1_BODY_LENGTH && length == 0);
}

/* Chunked data of a response to a client that cannot take chunked:
 * strip the framing of buf[p->ready..*len) in place. */
static int pump_decode(struct pump *p, char *buf, size_t *len,
                       const char **error)
{
    size_t avail = *len - p->ready, data_len = 0, extra;
    bool done = false;
    ssize_t n = http1_chunked_decode(&p->chunked, buf + p->ready, avail,
                                     &data_len, &done, error);

    if (n < 0)
        return -1;
    extra = avail - (size_t)n;      /* bytes after the body's end */
    memmove(buf + p->ready + data_len, buf + p->ready + n, extra);
    *len = p->ready + data_len + extra;
    p->ready += data_len;
    p->done = done;
    return 0;
}

/*
 * New bytes buf[p->ready..*len) arrived: find which belong to the body.
 * Those become ready to send; bytes after the body's end are left where
 * they are. Returns 0, or -1 on bad chunked framing (cause in *error).
 */
int pump_frame(struct pump *p, char *buf, size_t *len,
               const char **error)
{
    size_t avail = *len - p->ready;
    bool done = false;
    ssize_t n;

    if (p->done || avail == 0)
        return 0;

    switch (p->kind) {
    case HTTP1_BODY_NONE:
        p->done = true;
        return 0;
    case HTTP1_BODY_LENGTH:
        if (avail > p->remaining)
            avail = (size_t)p->remaining;
        p->ready += avail;
        p->remaining -= avail;
        p->done = p->remaining == 0;
        return 0;
    case HTTP1_BODY_CHUNKED:
        if (p->decode)
            return pump_decode(p, buf, len, error);
        n = http1_chunked_scan(&p->chunked, buf + p->ready, avail, &done,
                               error);
        if (n < 0)
            return -1;
        p->ready += (size_t)n;
        p->done = done;
        return 0;
    case HTTP1_BODY_UNTIL_CLOSE:
        p->ready = *len;
        return 0;
    }
    return 0;
}

/* All ready bytes were sent and the buffer is full: drop the sent body
 * bytes, keeping the head. Only called when pos == ready == len. */
void pump_compact(struct pump *p, size_t *len)
{
    if (p->pos > p->head_len)
        p->discarded = true;
    p->pos = p->ready = p->head_len;
    *len = p->head_len;
}
