/*
 * tls.h - TLS termination with OpenSSL: a virtual host's SSL_CTX, made
 * when the configuration is read, and the non-blocking I/O of a client
 * connection that arrived on a TLS listener.
 *
 * The proxy keeps its plain read()/writev() path for TCP and branches to
 * tls_read / tls_writev only when a connection has a TLS session, so
 * plain connections pay one test of a pointer and nothing else.
 *
 * Edge-triggered epoll and TLS. The proxy's readable / writable flags
 * (loop.h) are set by an event and cleared when an operation would block.
 * With TLS the operation that blocks is not always the one asked for: a
 * read may need to write (a handshake message, a session ticket) and a
 * write may need to read (the handshake is not finished). So tls_read
 * and tls_writev clear the flag of the direction OpenSSL is waiting for
 * (WANT_READ clears readable, WANT_WRITE clears writable) and leave the
 * other one alone: the next event of that direction runs the connection
 * again, and its steps retry the operation. A successful read never
 * clears readable, since OpenSSL may hold decrypted bytes (SSL_pending)
 * that no socket event will announce; the caller reads until
 * tls_read blocks.
 */
#ifndef BALANCER_TLS_H
#define BALANCER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"

struct ssl_st;                      /* OpenSSL's SSL */

/* SSLProtocol bits: the versions we speak. */
#define TLS_PROTOCOL_1_2    (1u << 0)
#define TLS_PROTOCOL_1_3    (1u << 1)
#define TLS_PROTOCOL_ALL    (TLS_PROTOCOL_1_2 | TLS_PROTOCOL_1_3)

/* Results of tls_read besides a byte count (the proxy's IO_* values). */
#define TLS_IO_EOF      0
#define TLS_IO_ERROR    (-1)
#define TLS_IO_BLOCKED  (-2)

/*
 * Apache's SSLProtocol words ("all -SSLv3 +TLSv1.3", "TLSv1.2"): a word
 * with + adds, with - removes, without a sign sets exactly that one;
 * "all" is TLS 1.2 and 1.3 here. SSLv3, TLSv1 and TLSv1.1 may be removed
 * but not enabled. Returns 0 with *protocols set, or -1 with the cause
 * in why.
 */
int tls_parse_protocols(int argc, char **argv, unsigned *protocols,
                        char *why, size_t whysize);

/* Which setting a failure of tls_context_new is about. */
enum tls_setting {
    TLS_SETTING_CERTIFICATE,        /* SSLCertificateFile */
    TLS_SETTING_KEY,                /* SSLCertificateKeyFile */
    TLS_SETTING_CIPHERS,            /* SSLCipherSuite (TLS 1.2) */
    TLS_SETTING_SUITES,             /* SSLCipherSuite TLSv1.3 */
    TLS_SETTING_OTHER
};

/*
 * Make the SSL_CTX of settings t: certificate (with its chain), key,
 * protocols and ciphers. Reads the files now, so that a bad path, an
 * unreadable or encrypted key or a key that does not match the
 * certificate fails the configuration at load. Returns the context (the
 * caller frees it with tls_context_free), or NULL with the cause in err
 * and the setting to blame in *setting.
 */
struct ssl_ctx_st *tls_context_new(const struct vhost_tls *t,
                                   enum tls_setting *setting, char *err,
                                   size_t errsize);

/* Free a context from tls_context_new (sessions keep it alive until
 * they end). NULL is fine. */
void tls_context_free(struct ssl_ctx_st *ctx);

/* A server session of ctx on the accepted socket fd (the handshake runs
 * in the first tls_read / tls_writev). NULL when memory is short. */
struct ssl_st *tls_session_new(struct ssl_ctx_st *ctx, int fd);

/* Free a session (the socket is the caller's to close). NULL is fine. */
void tls_session_free(struct ssl_st *ssl);

/*
 * Read decrypted bytes into buf[0..space), handshaking first when needed.
 * Returns the byte count, TLS_IO_EOF (the client closed, with or without
 * close_notify), TLS_IO_ERROR (errno set; a handshake or protocol failure
 * is logged at info, with the client's address from the log context) or
 * TLS_IO_BLOCKED (see the top for the flags).
 */
ssize_t tls_read(struct ssl_st *ssl, bool *readable, bool *writable,
                 char *buf, size_t space);

/*
 * Encrypt and send the n pieces of iov, in order, as far as the socket
 * takes them. Returns the bytes of iov sent (0 when blocked: see the top
 * for the flags), or TLS_IO_ERROR with errno set. After a partial send
 * the caller must offer the same unsent bytes again (it may offer more
 * after them): OpenSSL holds the record it began.
 */
ssize_t tls_writev(struct ssl_st *ssl, bool *readable, bool *writable,
                   const struct iovec *iov, int n);

/* Send close_notify if the handshake is done (best effort, no wait):
 * before shutting the socket down for writing. */
void tls_close_notify(struct ssl_st *ssl);

/* "TLSv1.3", for logs; "" when no session. */
const char *tls_version(const struct ssl_st *ssl);

#endif
