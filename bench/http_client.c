/* http_client.c -- HTTP/1.1 client connection (see http_client.h). */
#include "http_client.h"

#include <stddef.h>

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr)-offsetof(type, member)))

static const struct tcp_client_events tcp_events;

/* Records the first reason the connection ends and closes it now. */
static void fail(struct http_client *h, const char *why) {
  if (!h->why && !h->closing_by_us) h->why = why;
  tcp_client__close(&h->tcp);
}

void http_client__connect(struct http_client *h, uv_loop_t *loop,
                          const struct sockaddr *addr,
                          const struct http_client_events *events) {
  h->events = events;
  h->why = NULL;
  h->closing_by_us = false;
  http_parser_init(&h->parser, HTTP_RESPONSE);
  h->parser.data = h;
  int rc = tcp_client__connect(&h->tcp, loop, addr, &tcp_events);
  if (rc) fail(h, uv_strerror(rc));
}

int http_client__write(struct http_client *h, const void *data, size_t len) {
  return tcp_client__write(&h->tcp, data, len);
}

void http_client__flush(struct http_client *h) { tcp_client__flush(&h->tcp); }

void http_client__close(struct http_client *h) {
  h->closing_by_us = true;
  tcp_client__close(&h->tcp);
}

/* ---- Responses ----------------------------------------------------------- */

static int on_headers_complete(http_parser *parser) {
  struct http_client *h = parser->data;
  h->events->head(h);
  return 0;
}

static int on_body(http_parser *parser, const char *at, size_t len) {
  struct http_client *h = parser->data;
  h->events->body(h, at, len);
  return 0;
}

static int on_message_complete(http_parser *parser) {
  struct http_client *h = parser->data;
  h->events->response(h, http_should_keep_alive(parser) != 0);
  return 0;
}

static const http_parser_settings response_settings = {
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- TCP events ---------------------------------------------------------- */

static void tcp_connected(struct tcp_client *c, int status) {
  struct http_client *h = container_of(c, struct http_client, tcp);
  if (status) return fail(h, uv_strerror(status));
  h->events->connected(h);
}

static void tcp_read(struct tcp_client *c, const char *data, size_t len) {
  struct http_client *h = container_of(c, struct http_client, tcp);
  http_parser_execute(&h->parser, &response_settings, data, len);
  if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK) fail(h, "bad HTTP response");
}

static void tcp_ended(struct tcp_client *c, int status) {
  struct http_client *h = container_of(c, struct http_client, tcp);
  fail(h, status == UV_EOF ? "connection closed by server"
                           : uv_strerror(status));
}

static void tcp_closed(struct tcp_client *c) {
  struct http_client *h = container_of(c, struct http_client, tcp);
  h->events->closed(h, h->closing_by_us ? NULL : h->why);
}

static const struct tcp_client_events tcp_events = {
    .connected = tcp_connected,
    .read = tcp_read,
    .ended = tcp_ended,
    .closed = tcp_closed,
};
