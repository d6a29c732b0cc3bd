/* tls.h -- TLS on a connection's libuv stream, with OpenSSL.
 *
 * No second event loop and no thread: OpenSSL never touches the socket.
 * Ciphertext read by libuv is handed to tls__read, which decrypts it on
 * the spot (the session's BIO reads the caller's buffer, nothing is
 * copied in) and passes the plaintext on; plaintext to send goes through
 * tls__write, which encrypts it and writes the records with uv_write. A
 * stream without a session (plaintext) goes straight to libuv, so the
 * HTTP layer and the write queues (outbound.c) use these calls for every
 * connection and hold no TLS branch of their own.
 *
 * A session is plain memory (an SSL object and its BIO): a connection
 * moved to another worker carries it along. Idle sessions keep no
 * buffers (SSL_MODE_RELEASE_BUFFERS, and output is handed to libuv, not
 * kept in a BIO).
 *
 * The context (certificate chain and key, PEM) is the server's: reloading
 * it (SIGHUP) makes new handshakes use the new files; sessions made
 * before keep the old context until they end. */
#ifndef HERALD_TLS_H
#define HERALD_TLS_H

#include <stdbool.h>
#include <uv.h>

#include "herald/errors.h"

struct tls_context;
struct tls_session;

/* A connection's stream: cast from and to the uv_stream_t of tcp. */
struct tls_stream {
  uv_tcp_t tcp; /* first: the stream libuv and the layers above see */
  struct tls_session *session; /* NULL: plaintext */
};

/* Loads cert_path (a PEM chain, the server's certificate first) and
 * key_path (its PEM key). 0, or -1 with err set. */
int tls__context_new(struct tls_context **out, const char *cert_path,
                     const char *key_path, herald_error *err);
/* Reads the files again; on failure err is set and the context in use
 * stays. Any thread. */
int tls__context_reload(struct tls_context *t, herald_error *err);
void tls__context_free(struct tls_context *t);

/* s (accepted, its tcp initialised) speaks TLS from now on as the server
 * of t's current certificate. */
void tls__accept(struct tls_stream *s, struct tls_context *t);
/* Releases s's session, once its handle is closed. */
void tls__cleanup(struct tls_stream *s);

/* Plaintext from the peer, for tls__read's caller; data NULL and len a
 * negative libuv error once the session ended (close_notify: UV_EOF; a bad
 * handshake or record: UV_EPROTO). Returns false to stop reading (the
 * connection is closing). */
typedef bool (*tls_plaintext_cb)(void *arg, const char *data, ssize_t len);

/* Ciphertext read from s's socket: decrypts it, writes what the session
 * has to send (handshake records, alerts) and passes every plaintext byte
 * to cb before returning (nothing stays buffered in the session). */
void tls__read(struct tls_stream *s, const char *data, size_t len,
               tls_plaintext_cb cb, void *arg);

/* uv_try_write, for a stream that may be a tls_stream: with a session it
 * writes nothing (UV_EAGAIN), so that "written" always means the records
 * are on the socket. */
int tls__try_write(uv_stream_t *stream, const uv_buf_t bufs[], unsigned n);
/* uv_write on a tls_stream's stream: with a session the bufs are
 * encrypted at once (the caller may release them on return) and cb
 * follows once the records are written. */
int tls__write(uv_write_t *req, uv_stream_t *stream, const uv_buf_t bufs[],
               unsigned n, uv_write_cb cb);
/* uv_shutdown, with a close_notify first when there is a session. */
int tls__shutdown(uv_shutdown_t *req, uv_stream_t *stream, uv_shutdown_cb cb);

#endif
