/* nchan_peer.c -- nchan's WebSocket subscriber and HTTP publisher
 * endpoints (https://nchan.io): a subscriber upgrades GET /sub/<channel> and
 * receives each message's body as one WebSocket message; a publisher POSTs
 * each message to /pub/<channel> on a keep-alive connection, pipelining,
 * and counts 2xx answers as accepted. When nginx ends a keep-alive
 * connection (keepalive_requests), the publisher reconnects and sends the
 * unanswered requests again. */
#include <stdio.h>

#include "peer.h"
#include "protocol.h"
#include "publisher.h"
#include "worker.h"

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr)-offsetof(type, member)))

#define MAX_RECONNECT_FAILURES 5

static void channel_target(const struct peer *p, const char *prefix,
                           char *buf, size_t size) {
  char channel[32];
  peer__channel_name(p, channel, sizeof channel);
  snprintf(buf, size, "%s%s", prefix, channel);
}

/* ---- WebSocket subscriber ------------------------------------------------ */

static const struct ws_client_events subscriber_events;

static void subscriber_target(const struct peer *p, char *buf, size_t size) {
  channel_target(p, "/sub/", buf, size);
}

static void subscriber_open(struct peer *p) {
  struct worker *w = p->worker;
  char path[256];
  p->ops->target(p, path, sizeof path);
  ws_client__connect(&p->transport.ws, &w->loop,
                     (const struct sockaddr *)&p->node->addr,
                     p->node->host_header, path, &subscriber_events);
}

static void subscriber_close(struct peer *p) {
  ws_client__close(&p->transport.ws);
}

const struct peer_ops nchan_peer__ws_subscriber_ops = {
    .open = subscriber_open,
    .close = subscriber_close,
    .target = subscriber_target,
};

static void subscriber_ws_open(struct ws_client *ws) {
  peer__ready(container_of(ws, struct peer, transport.ws));
}

static void subscriber_ws_message(struct ws_client *ws, const char *data,
                                  size_t len, bool binary) {
  struct peer *p = container_of(ws, struct peer, transport.ws);
  peer__deliver(p, (struct span){data, len}, ws->tcp.read_ns);
}

static void subscriber_ws_closed(struct ws_client *ws, const char *why) {
  peer__closed(container_of(ws, struct peer, transport.ws), why);
}

static const struct ws_client_events subscriber_events = {
    .open = subscriber_ws_open,
    .message = subscriber_ws_message,
    .closed = subscriber_ws_closed,
};

/* ---- HTTP publisher ------------------------------------------------------ */

static const struct http_client_events publisher_events;

static struct http_client *http_of(struct peer *p) {
  return &p->transport.stream.http;
}

static void publisher_target(const struct peer *p, char *buf, size_t size) {
  channel_target(p, "/pub/", buf, size);
}

static void publisher_open(struct peer *p) {
  struct worker *w = p->worker;
  http_client__connect(http_of(p), &w->loop,
                       (const struct sockaddr *)&p->node->addr,
                       &publisher_events);
}

/* Queues POST <target> with the payload as its body. */
static void write_request(struct peer *p, struct span payload) {
  char path[256], head[512];
  p->ops->target(p, path, sizeof path);
  int n = snprintf(head, sizeof head,
                   "POST %s HTTP/1.1\r\n"
                   "Host: %s\r\n"
                   "Content-Type: text/plain\r\n"
                   "Content-Length: %zu\r\n"
                   "\r\n",
                   path, p->node->host_header, payload.len);
  if (http_client__write(http_of(p), head, (size_t)n) ||
      http_client__write(http_of(p), payload.p, payload.len))
    peer__error(p, "could not queue a request", NULL);
}

/* While reconnecting nothing is written: the message stays unsettled and
 * goes out with the others once the connection is back. */
static void publisher_publish(struct peer *p, uint64_t serial,
                              struct span payload) {
  if (p->connected) write_request(p, payload);
}

static void publisher_flush(struct peer *p) {
  if (p->connected) http_client__flush(http_of(p));
}

static void publisher_close(struct peer *p) { http_client__close(http_of(p)); }

const struct peer_ops nchan_peer__publisher_ops = {
    .open = publisher_open,
    .publish = publisher_publish,
    .flush = publisher_flush,
    .close = publisher_close,
    .target = publisher_target,
};

/* Sends every unsettled message again, with its original send time. */
static void resend_unsettled(struct peer *p) {
  struct publisher *pub = p->publisher;
  for (uint64_t n = pub->settled; n < pub->next; n++)
    write_request(p, publisher__payload(pub, publisher__send_time(pub, n)));
  http_client__flush(http_of(p));
}

static void publisher_connected(struct http_client *h) {
  struct peer *p = container_of(h, struct peer, transport.stream.http);
  if (p->state == PEER_CONNECTING) return peer__ready(p);
  p->connected = true;
  resend_unsettled(p);
}

static void publisher_head(struct http_client *h) {}

static void publisher_body(struct http_client *h, const char *data,
                           size_t len) {}

static void publisher_response(struct http_client *h, bool keep_alive) {
  struct peer *p = container_of(h, struct peer, transport.stream.http);
  unsigned status = h->parser.status_code;
  bool ok = status >= 200 && status < 300;
  if (!ok) {
    char detail[32];
    snprintf(detail, sizeof detail, "HTTP %u", status);
    bench__warn("publish refused", detail);
  }
  p->reconnect_failures = 0;
  peer__settled(p, p->publisher->settled, 1, ok);
  if (!keep_alive) http_client__close(h); /* publisher_closed reconnects */
}

static void publisher_closed(struct http_client *h, const char *why) {
  struct peer *p = container_of(h, struct peer, transport.stream.http);
  p->connected = false;
  bool reconnect = p->state == PEER_READY && !p->worker->stopping &&
                   p->reconnect_failures++ < MAX_RECONNECT_FAILURES;
  if (!reconnect) return peer__closed(p, why);
  stat_add(&p->worker->stats.publisher_reconnects, 1);
  publisher_open(p);
}

static const struct http_client_events publisher_events = {
    .connected = publisher_connected,
    .head = publisher_head,
    .body = publisher_body,
    .response = publisher_response,
    .closed = publisher_closed,
};
