/* http_client.h -- an HTTP/1.1 client connection on tcp_client: the owner
 * writes requests (pipelining allowed), http-parser reads the responses in
 * order and hands over each head, its body bytes (de-chunked) and its end.
 * Serves both nchan's publisher (many short keep-alive responses) and
 * event-stream subscribers (one endless response).
 * Owns: the tcp_client (embedded, first member) and the parser state. */
#ifndef HERALD_BENCH_HTTP_CLIENT_H
#define HERALD_BENCH_HTTP_CLIENT_H

#include <http_parser.h>
#include <stdbool.h>

#include "tcp_client.h"

struct http_client;

struct http_client_events {
  /* The connection is up: requests can be written. */
  void (*connected)(struct http_client *h);
  /* A response head is complete (status code in h->parser.status_code). */
  void (*head)(struct http_client *h);
  /* Body bytes of the current response, valid during the call only. */
  void (*body)(struct http_client *h, const char *data, size_t len);
  /* The current response is complete; keep_alive is false when the server
   * will close the connection after it. */
  void (*response)(struct http_client *h, bool keep_alive);
  /* The connection is gone; the struct may be reused. why is NULL after
   * http_client__close. */
  void (*closed)(struct http_client *h, const char *why);
};

struct http_client {
  struct tcp_client tcp; /* first: code handling any transport reaches it */
  const struct http_client_events *events;
  http_parser parser;
  bool closing_by_us;
  const char *why;
};

/* Connects to addr. Always ends in events->connected or events->closed. */
void http_client__connect(struct http_client *h, uv_loop_t *loop,
                          const struct sockaddr *addr,
                          const struct http_client_events *events);

/* Queues request bytes (flush with tcp_client__flush(&h->tcp)). Returns 0 or
 * -1 when too much is queued. */
int http_client__write(struct http_client *h, const void *data, size_t len);

/* Sends what is queued. */
void http_client__flush(struct http_client *h);

/* Closes now; events->closed follows with why NULL. */
void http_client__close(struct http_client *h);

#endif
