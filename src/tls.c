/*
 * tls.c - TLS termination with OpenSSL (see tls.h for the contract and
 * how OpenSSL's WANT_READ / WANT_WRITE map onto the edge-triggered loop).
 *
 * One SSL_CTX per TLS virtual host, made at configuration load and shared
 * by every worker thread (OpenSSL allows SSL_new on one context from
 * several threads). One SSL per client connection, used by its thread
 * only. No SNI: one certificate per listener.
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"

/* ---- SSLProtocol ----------------------------------------------------- */

struct protocol_name {
    const char *name;
    unsigned bits;              /* 0: a version we never speak */
};

static const struct protocol_name protocol_names[] = {
    { "all", TLS_PROTOCOL_ALL },
    { "TLSv1.3", TLS_PROTOCOL_1_3 },
    { "TLSv1.2", TLS_PROTOCOL_1_2 },
    { "TLSv1.1", 0 },
    { "TLSv1", 0 },
    { "SSLv3", 0 },
    { NULL, 0 }
};

int tls_parse_protocols(int argc, char **argv, unsigned *protocols,
                        char *why, size_t whysize)
{
    unsigned set = 0;
    int i;

    for (i = 0; i < argc; i++) {
        const char *w = argv[i];
        char sign = (*w == '+' || *w == '-') ? *w++ : 0;
        const struct protocol_name *p;

        for (p = protocol_names; p->name != NULL; p++)
            if (strcasecmp(p->name, w) == 0)
                break;
        if (p->name == NULL) {
            snprintf(why, whysize, "expected [+|-]all, TLSv1.2 or TLSv1.3, "
                     "found '%s'", argv[i]);
            return -1;
        }
        if (p->bits == 0 && sign != '-') {
            snprintf(why, whysize, "%s is not supported (TLS 1.2 and 1.3 "
                     "only); write -%s or leave it out", p->name, p->name);
            return -1;
        }
        if (sign == '-')
            set &= ~p->bits;
        else if (sign == '+')
            set |= p->bits;
        else
            set = p->bits;      /* as Apache: no sign replaces the set */
    }
    if (set == 0) {
        snprintf(why, whysize, "no protocol left: expected TLSv1.2 or "
                 "TLSv1.3 among the enabled ones");
        return -1;
    }
    *protocols = set;
    return 0;
}

/* ---- contexts -------------------------------------------------------- */

/* The reason of OpenSSL's last error, then an empty error queue. */
static const char *last_error(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return reason != NULL ? reason : "unknown OpenSSL error";
}

/* An encrypted key would make OpenSSL prompt on the terminal: refuse. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    return -1;
}

/* Can the file be opened? Gives the system's cause before OpenSSL's. */
static int check_readable(const char *path, const char *what, char *err,
                          size_t errsize)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, errsize, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static int load_keys(SSL_CTX *ctx, const struct vhost_tls *t,
                     enum tls_setting *setting, char *err, size_t errsize)
{
    const char *key = t->key_file ? t->key_file : t->certificate_file;
    const char *key_what = t->key_file ? "SSLCertificateKeyFile"
                                       : "SSLCertificateFile";

    *setting = TLS_SETTING_CERTIFICATE;
    if (check_readable(t->certificate_file, "SSLCertificateFile", err,
                       errsize) < 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, t->certificate_file) != 1) {
        snprintf(err, errsize, "SSLCertificateFile %s: no usable PEM "
                 "certificate: %s", t->certificate_file, last_error());
        return -1;
    }

    *setting = t->key_file ? TLS_SETTING_KEY : TLS_SETTING_CERTIFICATE;
    if (check_readable(key, key_what, err, errsize) < 0)
        return -1;
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        snprintf(err, errsize, "%s %s: no usable PEM private key (an "
                 "encrypted key is not supported): %s", key_what, key,
                 last_error());
        return -1;
    }
    if (ERR_peek_last_error() != 0 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errsize, "%s %s: the key does not match the "
                 "certificate of %s: %s", key_what, key,
                 t->certificate_file, last_error());
        return -1;
    }
    return 0;
}

static int set_ciphers(SSL_CTX *ctx, const struct vhost_tls *t,
                       enum tls_setting *setting, char *err, size_t errsize)
{
    if (t->cipher_list != NULL &&
        SSL_CTX_set_cipher_list(ctx, t->cipher_list) != 1) {
        *setting = TLS_SETTING_CIPHERS;
        snprintf(err, errsize, "SSLCipherSuite: no usable cipher in "
                 "'%s': %s", t->cipher_list, last_error());
        return -1;
    }
    if (t->cipher_suites != NULL &&
        SSL_CTX_set_ciphersuites(ctx, t->cipher_suites) != 1) {
        *setting = TLS_SETTING_SUITES;
        snprintf(err, errsize, "SSLCipherSuite TLSv1.3: no usable suite "
                 "in '%s': %s", t->cipher_suites, last_error());
        return -1;
    }
    return 0;
}

static void set_protocols(SSL_CTX *ctx, unsigned protocols)
{
    if (protocols == 0)
        protocols = TLS_PROTOCOL_ALL;
    SSL_CTX_set_min_proto_version(ctx, (protocols & TLS_PROTOCOL_1_2)
                                  ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, (protocols & TLS_PROTOCOL_1_3)
                                  ? TLS1_3_VERSION : TLS1_2_VERSION);
}

struct ssl_ctx_st *tls_context_new(const struct vhost_tls *t,
                                   enum tls_setting *setting, char *err,
                                   size_t errsize)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    *setting = TLS_SETTING_OTHER;
    if (ctx == NULL) {
        snprintf(err, errsize, "cannot create a TLS context: %s",
                 last_error());
        return NULL;
    }
    /* Client-initiated renegotiation only costs us CPU; a TCP close
     * without close_notify ends the stream (HTTP frames its messages). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                        SSL_OP_CIPHER_SERVER_PREFERENCE |
                        SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Partial writes let a full socket return what was sent; moving
     * buffers let a retry come from the same bytes at another address;
     * idle keep-alive connections give their record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                     SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    set_protocols(ctx, t->protocols);

    if (load_keys(ctx, t, setting, err, errsize) < 0)
        goto free_ctx;
    if (set_ciphers(ctx, t, setting, err, errsize) < 0)
        goto free_ctx;
    return ctx;

free_ctx:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

void tls_context_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

/* ---- sessions -------------------------------------------------------- */

struct ssl_st *tls_session_new(struct ssl_ctx_st *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

void tls_session_free(struct ssl_st *ssl)
{
    SSL_free(ssl);
}

/*
 * Plain HTTP on a TLS port: answer it in plain HTTP, as Apache's mod_ssl
 * does ("speaking plain HTTP to an SSL-enabled server port"), so the
 * user sees why rather than a closed connection. One write, best effort:
 * the connection closes after it either way.
 */
static void answer_plain_http(SSL *ssl)
{
    static const char reply[] =
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 66\r\n"
        "Connection: close\r\n"
        "\r\n"
        "This port speaks HTTPS: use an https:// URL to reach this server.\n";
    char sink[4096];
    int fd = SSL_get_fd(ssl);

    if (fd < 0 || write(fd, reply, sizeof(reply) - 1) < 0)
        return;                 /* the client went: nothing to tell */
    /* The rest of its request is unread: closing on it would send a
     * reset, which may destroy the reply before the client reads it. */
    while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
    shutdown(fd, SHUT_WR);
}

/*
 * An operation failed for good. Handshake failures are what clients do
 * wrong (a scanner, plain HTTP on the TLS port, an old client): info, as
 * every client error, so that a hostile client cannot flood the log at
 * the default level. A reset or a close mid-handshake is not logged.
 */
static ssize_t failed(SSL *ssl, int error, const char *op)
{
    int saved = errno;
    bool handshake = !SSL_is_init_finished(ssl);

    if (error == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        errno = saved != 0 ? saved : EPIPE;
        return TLS_IO_ERROR;
    }
    if (handshake &&
        ERR_GET_REASON(ERR_peek_error()) == SSL_R_HTTP_REQUEST) {
        answer_plain_http(ssl);
        log_msg(LOG_LEVEL_INFO, "ssl", "plain HTTP on a TLS port: "
                "answered 400; connection closed");
    } else if (handshake)
        log_msg(LOG_LEVEL_INFO, "ssl", "TLS handshake failed: %s; "
                "connection closed", last_error());
    else
        log_msg(LOG_LEVEL_INFO, "ssl", "TLS %s failed: %s; connection "
                "closed", op, last_error());
    ERR_clear_error();
    errno = EPROTO;
    return TLS_IO_ERROR;
}

ssize_t tls_read(struct ssl_st *ssl, bool *readable, bool *writable,
                 char *buf, size_t space)
{
    size_t n = 0;
    int rc, error;

    if (!*readable || space == 0)
        return TLS_IO_BLOCKED;

    rc = SSL_read_ex(ssl, buf, space, &n);
    if (rc == 1)
        return (ssize_t)n;

    error = SSL_get_error(ssl, rc);
    switch (error) {
    case SSL_ERROR_WANT_READ:
        *readable = false;
        return TLS_IO_BLOCKED;
    case SSL_ERROR_WANT_WRITE:
        *writable = false;          /* the next EPOLLOUT retries the read */
        return TLS_IO_BLOCKED;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_IO_EOF;
    default:
        return failed(ssl, error, "read");
    }
}

/* Send one piece. Returns the bytes sent (short when blocked),
 * or TLS_IO_ERROR. */
static ssize_t write_piece(SSL *ssl, bool *readable, bool *writable,
                           const char *buf, size_t len, bool *blocked)
{
    size_t done = 0;

    while (done < len) {
        size_t w = 0;
        int rc = SSL_write_ex(ssl, buf + done, len - done, &w);
        int error;

        if (rc == 1) {
            done += w;
            continue;
        }
        error = SSL_get_error(ssl, rc);
        *blocked = true;
        if (error == SSL_ERROR_WANT_WRITE) {
            *writable = false;
            return (ssize_t)done;
        }
        if (error == SSL_ERROR_WANT_READ) {
            *readable = false;      /* the next EPOLLIN retries the write */
            return (ssize_t)done;
        }
        if (done > 0)
            return (ssize_t)done;   /* the error comes again next time */
        return failed(ssl, error, "write");
    }
    return (ssize_t)done;
}

ssize_t tls_writev(struct ssl_st *ssl, bool *readable, bool *writable,
                   const struct iovec *iov, int n)
{
    size_t total = 0;
    bool blocked = false;
    int i;

    for (i = 0; i < n && !blocked; i++) {
        ssize_t w = write_piece(ssl, readable, writable, iov[i].iov_base,
                                iov[i].iov_len, &blocked);

        if (w < 0)
            return total > 0 ? (ssize_t)total : w;
        total += (size_t)w;
    }
    return (ssize_t)total;
}

void tls_close_notify(struct ssl_st *ssl)
{
    if (ssl == NULL || !SSL_is_init_finished(ssl))
        return;
    SSL_shutdown(ssl);
    ERR_clear_error();
}

const char *tls_version(const struct ssl_st *ssl)
{
    return ssl != NULL ? SSL_get_version(ssl) : "";
}
