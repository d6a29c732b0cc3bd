/* sse_peer.c -- event-stream (Server-Sent Events) subscribers: GET the
 * stream with Accept: text/event-stream, ready at a 200 head, each
 * "message" event's data is a payload. Two variants differ only in the
 * request target: nchan's /sub/<channel> and Herald's
 * /sse?channels=<channel>&enveloped=false (../shared/spec/realtime.md
 * section 8; enveloped=false makes the data the bare payload). */
#include <stdio.h>
#include <string.h>

#include "peer.h"
#include "protocol.h"
#include "worker.h"

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr)-offsetof(type, member)))

static const struct http_client_events stream_events;

static struct http_client *http_of(struct peer *p) {
  return &p->transport.stream.http;
}

static void nchan_target(const struct peer *p, char *buf, size_t size) {
  char channel[32];
  peer__channel_name(p, channel, sizeof channel);
  snprintf(buf, size, "/sub/%s", channel);
}

static void herald_target(const struct peer *p, char *buf, size_t size) {
  char channel[32];
  peer__channel_name(p, channel, sizeof channel);
  snprintf(buf, size, "/sse?v=1.2&enveloped=false&key=%s&channels=%s",
           p->worker->run->key_escaped, channel);
}

static void open_stream(struct peer *p) {
  struct worker *w = p->worker;
  sse_parser__init(&p->transport.stream.sse);
  http_client__connect(http_of(p), &w->loop,
                       (const struct sockaddr *)&p->node->addr,
                       &stream_events);
}

static void close_stream(struct peer *p) { http_client__close(http_of(p)); }

const struct peer_ops sse_peer__nchan_ops = {
    .open = open_stream,
    .close = close_stream,
    .target = nchan_target,
};

const struct peer_ops sse_peer__herald_ops = {
    .open = open_stream,
    .close = close_stream,
    .target = herald_target,
};

/* ---- HTTP events --------------------------------------------------------- */

static void stream_connected(struct http_client *h) {
  struct peer *p = container_of(h, struct peer, transport.stream.http);
  char path[512], request[1024];
  p->ops->target(p, path, sizeof path);
  int n = snprintf(request, sizeof request,
                   "GET %s HTTP/1.1\r\n"
                   "Host: %s\r\n"
                   "Accept: text/event-stream\r\n"
                   "Cache-Control: no-cache\r\n"
                   "\r\n",
                   path, p->node->host_header);
  if (n < 0 || (size_t)n >= sizeof request ||
      http_client__write(h, request, (size_t)n))
    return peer__fail(p, "request too long");
  http_client__flush(h);
}

static void stream_head(struct http_client *h) {
  struct peer *p = container_of(h, struct peer, transport.stream.http);
  if (h->parser.status_code == 200) return peer__ready(p);
  char detail[32];
  snprintf(detail, sizeof detail, "HTTP %u", h->parser.status_code);
  bench__warn("event stream refused", detail);
  peer__fail(p, h->parser.status_code == 404
                    ? "event stream refused (404: unsupported?)"
                    : "event stream refused");
}

static void on_event(void *ctx, struct span name, struct span data) {
  struct peer *p = ctx;
  if (name.len == 7 && !memcmp(name.p, "message", 7))
    return peer__deliver(p, data, peer__tcp(p)->read_ns);
  if (name.len == 5 && !memcmp(name.p, "error", 5))
    peer__error(p, "error event on the stream", NULL);
}

static void stream_body(struct http_client *h, const char *data, size_t len) {
  struct peer *p = container_of(h, struct peer, transport.stream.http);
  if (p->state != PEER_READY) return;
  if (sse_parser__feed(&p->transport.stream.sse, data, len, on_event, p))
    peer__fail(p, "event too long");
}

static void stream_response(struct http_client *h, bool keep_alive) {
  struct peer *p = container_of(h, struct peer, transport.stream.http);
  peer__fail(p, "event stream ended");
}

static void stream_closed(struct http_client *h, const char *why) {
  struct peer *p = container_of(h, struct peer, transport.stream.http);
  sse_parser__cleanup(&p->transport.stream.sse);
  peer__closed(p, why);
}

static const struct http_client_events stream_events = {
    .connected = stream_connected,
    .head = stream_head,
    .body = stream_body,
    .response = stream_response,
    .closed = stream_closed,
};
