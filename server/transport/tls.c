/* tls.c -- TLS sessions on libuv streams (see tls.h): the server's
 * reloadable SSL_CTX, a BIO that reads the ciphertext libuv just read and
 * collects the records OpenSSL writes, and the write and shutdown calls
 * that encrypt on the way to the socket. */
#include "transport/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <string.h>

#include "alloc.h"

/* TLS 1.2's suites: forward secret AEADs only (Mozilla's "intermediate");
 * TLS 1.3 keeps OpenSSL's defaults, which are all of that kind. */
#define TLS12_CIPHERS                                                         \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* A record's largest plaintext: what one SSL_read returns at most, and
 * how much small writes are gathered into before they are encrypted. */
#define TLS_RECORD 16384

struct tls_context {
  pthread_mutex_t lock; /* ctx: read by workers, swapped by a reload */
  SSL_CTX *ctx;
  char *cert_path, *key_path;
};

/* Records on their way to the socket (the uv_write's buffer). */
struct tls_write {
  uv_write_t uv;
  uv_write_t *req; /* the caller's, NULL for the session's own records */
  uv_write_cb cb;
  size_t len, cap;
  char data[];
};

struct tls_session {
  SSL *ssl;
  const char *in; /* ciphertext not yet read by OpenSSL (tls__read) */
  size_t in_len;
  struct tls_write *out; /* records written by OpenSSL, not yet sent */
};

/* One per thread: the plaintext decrypted by tls__read, and small writes
 * gathered by tls__write (a write may happen while plaintext is passed
 * on, so the two are apart). */
static _Thread_local char plaintext[TLS_RECORD];
static _Thread_local char gathered[TLS_RECORD];

/* ---- The context ---------------------------------------------------------- */

static int openssl_error(herald_error *err, const char *what,
                         const char *path) {
  char reason[256];
  unsigned long e = ERR_peek_last_error();
  ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  return herald_error_set(err, HERALD_E_INTERNAL, "TLS: cannot %s %s: %s",
                          what, path, e ? reason : "unknown error");
}

static SSL_CTX *load_ctx(const char *cert_path, const char *key_path,
                         herald_error *err) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    openssl_error(err, "create a context for", cert_path);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  /* Idle sessions keep no buffers; no tickets, no session cache (a client
   * keeps its connection, and a session of the cache is memory kept). */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  const char *failed = NULL, *path = cert_path;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1)
    failed = "load the certificate chain";
  else if (path = key_path,
           SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1)
    failed = "load the private key";
  else if (SSL_CTX_check_private_key(ctx) != 1)
    failed = "match the certificate to the key";
  if (!failed) return ctx;
  openssl_error(err, failed, path);
  SSL_CTX_free(ctx);
  return NULL;
}

int tls__context_new(struct tls_context **out, const char *cert_path,
                     const char *key_path, herald_error *err) {
  if (!cert_path || !key_path)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "TLS needs both --tls-cert and --tls-key");
  SSL_CTX *ctx = load_ctx(cert_path, key_path, err);
  if (!ctx) return -1;
  struct tls_context *t = herald_xcalloc(1, sizeof *t);
  pthread_mutex_init(&t->lock, NULL);
  t->ctx = ctx;
  t->cert_path = herald_xstrdup(cert_path);
  t->key_path = herald_xstrdup(key_path);
  *out = t;
  return 0;
}

int tls__context_reload(struct tls_context *t, herald_error *err) {
  SSL_CTX *ctx = load_ctx(t->cert_path, t->key_path, err);
  if (!ctx) return -1;
  pthread_mutex_lock(&t->lock);
  SSL_CTX *old = t->ctx;
  t->ctx = ctx;
  pthread_mutex_unlock(&t->lock);
  SSL_CTX_free(old); /* sessions made with it hold their own reference */
  return 0;
}

void tls__context_free(struct tls_context *t) {
  if (!t) return;
  SSL_CTX_free(t->ctx);
  pthread_mutex_destroy(&t->lock);
  herald_free(t->cert_path);
  herald_free(t->key_path);
  herald_free(t);
}

/* ---- The BIO: ciphertext in from tls__read's buffer, records out --------- */

static int bio_read(BIO *b, char *buf, int size) {
  struct tls_session *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (t->in_len == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = t->in_len < (size_t)size ? t->in_len : (size_t)size;
  memcpy(buf, t->in, n);
  t->in += n;
  t->in_len -= n;
  return (int)n;
}

static struct tls_write *write_new(size_t cap) {
  struct tls_write *w = herald_xmalloc(sizeof *w + cap);
  w->req = NULL;
  w->cb = NULL;
  w->len = 0;
  w->cap = cap;
  return w;
}

static int bio_write(BIO *b, const char *data, int len) {
  struct tls_session *t = BIO_get_data(b);
  struct tls_write *w = t->out ? t->out : (t->out = write_new(1024));
  size_t need = w->len + (size_t)len;
  if (need > w->cap) {
    size_t cap = w->cap;
    while (cap < need) cap *= 2;
    w = t->out = herald_xrealloc(w, sizeof *w + cap);
    w->cap = cap;
  }
  memcpy(w->data + w->len, data, (size_t)len);
  w->len += (size_t)len;
  return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b, (void)num, (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_method_once = PTHREAD_ONCE_INIT;

static void make_bio_method(void) {
  bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                            "herald-libuv");
  BIO_meth_set_read(bio_method, bio_read);
  BIO_meth_set_write(bio_method, bio_write);
  BIO_meth_set_ctrl(bio_method, bio_ctrl);
}

/* ---- Sessions -------------------------------------------------------------- */

void tls__accept(struct tls_stream *s, struct tls_context *t) {
  pthread_once(&bio_method_once, make_bio_method);
  struct tls_session *session = herald_xcalloc(1, sizeof *session);
  pthread_mutex_lock(&t->lock);
  session->ssl = SSL_new(t->ctx); /* takes its own reference to ctx */
  pthread_mutex_unlock(&t->lock);
  BIO *bio = BIO_new(bio_method);
  if (!session->ssl || !bio) herald_oom("a TLS session");
  BIO_set_data(bio, session);
  BIO_set_init(bio, 1);
  SSL_set_bio(session->ssl, bio, bio);
  SSL_set_accept_state(session->ssl);
  s->session = session;
}

void tls__cleanup(struct tls_stream *s) {
  struct tls_session *t = s->session;
  if (!t) return;
  SSL_free(t->ssl);
  herald_free(t->out);
  herald_free(t);
  s->session = NULL;
}

static void on_records_written(uv_write_t *uv, int status) {
  struct tls_write *w = (struct tls_write *)uv;
  if (w->cb) w->cb(w->req, status);
  herald_free(w);
}

/* Writes the records OpenSSL produced, if any; req and cb (may be NULL)
 * follow once they are written. */
static int send_records(struct tls_stream *s, uv_write_t *req,
                        uv_write_cb cb) {
  struct tls_session *t = s->session;
  struct tls_write *w = t->out ? t->out : write_new(0);
  t->out = NULL;
  if (!w->len && !cb) {
    herald_free(w);
    return 0;
  }
  w->req = req;
  w->cb = cb;
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
  int rc = uv_write(&w->uv, (uv_stream_t *)&s->tcp, &buf, 1,
                    on_records_written);
  if (rc) herald_free(w);
  return rc;
}

void tls__read(struct tls_stream *s, const char *data, size_t len,
               tls_plaintext_cb cb, void *arg) {
  struct tls_session *t = s->session;
  t->in = data;
  t->in_len = len;
  for (;;) {
    size_t n = 0;
    int ok = SSL_read_ex(t->ssl, plaintext, sizeof plaintext, &n);
    int e = ok ? SSL_ERROR_NONE : SSL_get_error(t->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e != SSL_ERROR_NONE) {
      ERR_clear_error();
      send_records(s, NULL, NULL); /* the alert, if any */
      t->in_len = 0;
      cb(arg, NULL, e == SSL_ERROR_ZERO_RETURN ? UV_EOF : UV_EPROTO);
      return;
    }
    if (!cb(arg, plaintext, (ssize_t)n)) break;
  }
  t->in_len = 0; /* what is left was for a connection that is closing */
  send_records(s, NULL, NULL); /* handshake records */
}

/* ---- Writing ---------------------------------------------------------------- */

static struct tls_session *session_of(uv_stream_t *stream) {
  return ((struct tls_stream *)stream)->session;
}

static int encrypt(struct tls_session *t, const char *data, size_t len) {
  size_t written;
  if (!len || SSL_write_ex(t->ssl, data, len, &written) == 1) return 0;
  ERR_clear_error();
  return UV_EPROTO; /* before the handshake, or after a fatal alert */
}

/* Encrypts bufs, small ones gathered into records of up to TLS_RECORD. */
static int encrypt_all(struct tls_session *t, const uv_buf_t bufs[],
                       unsigned n) {
  size_t used = 0;
  int rc = 0;
  for (unsigned i = 0; i < n && !rc; i++) {
    if (used + bufs[i].len > sizeof gathered && used) {
      rc = encrypt(t, gathered, used);
      used = 0;
    }
    if (bufs[i].len >= sizeof gathered) {
      if (!rc) rc = encrypt(t, bufs[i].base, bufs[i].len);
      continue;
    }
    memcpy(gathered + used, bufs[i].base, bufs[i].len);
    used += bufs[i].len;
  }
  if (!rc && used) rc = encrypt(t, gathered, used);
  return rc;
}

int tls__try_write(uv_stream_t *stream, const uv_buf_t bufs[], unsigned n) {
  if (session_of(stream)) return UV_EAGAIN;
  return uv_try_write(stream, bufs, n);
}

int tls__write(uv_write_t *req, uv_stream_t *stream, const uv_buf_t bufs[],
               unsigned n, uv_write_cb cb) {
  struct tls_session *t = session_of(stream);
  if (!t) return uv_write(req, stream, bufs, n, cb);
  int rc = encrypt_all(t, bufs, n);
  if (rc) {
    herald_free(t->out); /* a part of the records would break the stream */
    t->out = NULL;
    return rc;
  }
  return send_records((struct tls_stream *)stream, req, cb);
}

int tls__shutdown(uv_shutdown_t *req, uv_stream_t *stream,
                  uv_shutdown_cb cb) {
  struct tls_session *t = session_of(stream);
  if (t) {
    if (SSL_shutdown(t->ssl) < 0) ERR_clear_error();
    send_records((struct tls_stream *)stream, NULL, NULL);
  }
  return uv_shutdown(req, stream, cb);
}
