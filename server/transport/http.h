/* http.h -- HTTP/1.1 connections and requests on a worker.
 *
 * http-parser frames requests; a request is handed to the layer above
 * (struct http_handlers: the router) once it is complete, and the
 * connection reads no further request until that one is answered, so
 * pipelined requests are answered in order. Limits: request line + headers
 * (431), body (413), framing stricter than http-parser's (400,
 * http_strict.h), timeouts for the head, the body (408) and idle keep-alive
 * (close), and a cap on each address's connections that have not
 * authenticated yet (429, address_limit.h). When a body follows, the layer
 * above may refuse the request from its head before the body is read
 * (handlers.precheck). A handler answers with http__respond, now or later
 * from a posted task; a refusal of the HTTP layer's own is answered through
 * handlers.error, so every error has the layer above's format. */
#ifndef HERALD_HTTP_H
#define HERALD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "arena.h"
#include "core/config.h"
#include "herald/errors.h"
#include "transport/address_limit.h"
#include "transport/tls.h"
#include "wire.h"

struct worker;
struct http_conn;
struct outbound;

struct http_header {
  const char *name; /* lower-case */
  const char *value;
};

struct http_param {
  const char *name; /* percent-decoded */
  const char *value;
};

struct http_request {
  struct http_conn *conn;
  struct worker *worker;
  void *context; /* handlers.context */
  void *data;    /* the layer above's, released by handlers.end */
  struct arena arena; /* freed when the request ends */
  int method;         /* enum http_method of http-parser */
  const char *target; /* the raw request target */
  const char **segments; /* percent-decoded path segments */
  size_t n_segments;
  struct http_param *params;
  size_t n_params;
  struct http_header *headers;
  size_t n_headers;
  char *body;
  size_t body_len;
  /* Filled by the layer above as the request is handled. */
  enum wire_format format; /* response format */
  int envelope;            /* -1, or the wire_format of the envelope */
  int version;             /* X-Ably-Version (or v=); 0 when absent */
};

/* What the layer above does with requests. */
struct http_handlers {
  void *context; /* every request's req->context */
  /* The head is in and a body follows: 0 to read the body, or -code with
   * err set to answer err (through error) without reading it. */
  int (*precheck)(struct http_request *req, herald_error *err);
  /* A complete request: answer it with http__respond. */
  void (*dispatch)(struct http_request *req);
  /* Answers a request the HTTP layer refuses (or one whose upgrade
   * failed) with err. */
  void (*error)(struct http_request *req, const herald_error *err);
  /* The request ends, answered or not: release req->data. */
  void (*end)(struct http_request *req);
  /* Every connection of draining worker w is closed (on w's thread). */
  void (*drained)(void *context, struct worker *w);
};

/* The process's HTTP service, shared by its workers. */
struct http_server {
  const struct config *cfg; /* sizes and timeouts */
  struct http_handlers handlers;
  struct address_limit unauthenticated; /* connections per address */
  struct tls_context *tls; /* the TLS listeners' certificate, or NULL */
};

void http__server_init(struct http_server *hs, const struct config *cfg,
                       const struct http_handlers *handlers);
void http__server_cleanup(struct http_server *hs);

/* Makes hs accept on worker w: listens on the given bound sockets (w takes
 * ownership of the descriptors) once w's loop runs, those with tls[i]
 * speaking TLS (hs->tls). Before worker__start. 0 or a negative errno. */
int http__worker_init(struct http_server *hs, struct worker *w,
                      const int *fds, const bool *tls, int n_fds);

/* The request's credentials are good: its connection no longer counts
 * toward its address's cap of unauthenticated connections. */
void http__authenticated(struct http_request *req);

/* Answers req with err through handlers.error. */
void http__fail(struct http_request *req, const herald_error *err);

/* A header's value (name in lower case), or NULL. */
const char *http__header(const struct http_request *req, const char *name);
/* A query parameter's decoded value, or NULL. */
const char *http__param(const struct http_request *req, const char *name);

/* Sends the response: status, extra header lines ("Name: value\r\n" each,
 * may be NULL) and body. The request ends here; its memory is released. */
void http__respond(struct http_request *req, int status,
                   const char *extra_headers, const char *body,
                   size_t body_len);

/* Moves req's connection to worker `to` (another one), where req is
 * dispatched again: for requests that must be answered where some state
 * lives (a comet connection's). The connection stays there. */
void http__move(struct http_request *req, struct worker *to);

/* A protocol that takes a connection over after an upgrade (WebSocket).
 * The HTTP layer keeps the socket and its read loop; from the upgrade on it
 * only passes bytes through and closes. */
struct http_upgrade {
  /* Bytes from the peer; data NULL once the peer is gone (EOF or error). */
  void (*on_read)(struct http_upgrade *u, const char *data, size_t len);
  /* The server is stopping: say goodbye, then http__close. */
  void (*on_drain)(struct http_upgrade *u);
  /* The socket is closed: release everything. Runs exactly once. */
  void (*on_closed)(struct http_upgrade *u);
};

/* Hands req's connection to u; the request ends here. Returns the stream to
 * write to. Reading starts with http__upgrade_start, which first passes on
 * the bytes the peer sent after the request. */
uv_stream_t *http__upgrade(struct http_request *req, struct http_upgrade *u);
void http__upgrade_start(uv_stream_t *stream);

/* Closes an upgraded connection; u->on_closed follows. */
void http__close(uv_stream_t *stream);
/* Closes the upgraded connection queue o writes to: an outbound hook (a
 * write failed, the last bytes are out). */
void http__close_queue(struct outbound *o);
/* Closes an upgraded connection once o, its queue, is written (the
 * protocol's goodbye), or after the header timeout when the peer does not
 * take it: a peer that stops reading is not waited for. */
void http__close_when_sent(struct outbound *o);

/* On w's thread: stops accepting, closes every idle connection of w and
 * marks the others to close after their current request (graceful
 * shutdown); handlers.drained follows once none is left. */
void http__drain(struct worker *w);

/* Percent-decodes src[0..len) into an arena string ('+' stays '+').
 * Returns NULL on a malformed escape or an encoded NUL. */
char *http__percent_decode(struct arena *a, const char *src, size_t len);

#endif
