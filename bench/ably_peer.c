/* ably_peer.c -- Herald's realtime protocol over WebSocket, JSON or
 * MessagePack (../shared/spec/realtime.md): connect with the key, wait for
 * CONNECTED; a subscriber then ATTACHes to its channel and is ready at
 * ATTACHED; a publisher is ready at CONNECTED, sends MESSAGEs numbered by
 * msgSerial and counts ACKs and NACKs. At the end it sends CLOSE, so the
 * server drops the connection's state at once instead of keeping it
 * resumable. */
#include <stdio.h>

#include "peer.h"
#include "protocol.h"
#include "worker.h"

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr)-offsetof(type, member)))

static const struct ws_client_events ws_events;

static bool binary_frames(const struct peer *p) {
  return p->worker->codec.format == ABLY_FORMAT_MSGPACK;
}

/* GET /?key=..&format=..&v=6&heartbeats=true */
static void target(const struct peer *p, char *buf, size_t size) {
  snprintf(buf, size, "/?key=%s&format=%s&v=6&heartbeats=true",
           p->worker->run->key_escaped, binary_frames(p) ? "msgpack" : "json");
}

static void open_peer(struct peer *p) {
  struct worker *w = p->worker;
  char path[512];
  p->ops->target(p, path, sizeof path);
  ws_client__connect(&p->transport.ws, &w->loop,
                     (const struct sockaddr *)&p->node->addr,
                     p->node->host_header, path, &ws_events);
}

static void send_pm(struct peer *p, int rc, struct span encoded) {
  if (rc || ws_client__send(&p->transport.ws, binary_frames(p), encoded.p,
                            encoded.len))
    peer__error(p, "could not send", NULL);
}

static void publish(struct peer *p, uint64_t serial, struct span payload) {
  char channel[32];
  peer__channel_name(p, channel, sizeof channel);
  struct span encoded;
  int rc = ably__encode_message(&p->worker->codec, channel, (int64_t)serial,
                                payload, &encoded);
  send_pm(p, rc, encoded);
}

static void flush(struct peer *p) { ws_client__flush(&p->transport.ws); }

static void close_peer(struct peer *p) {
  struct span encoded;
  if (p->transport.ws.frames && !ably__encode_close(&p->worker->codec, &encoded))
    ws_client__send(&p->transport.ws, binary_frames(p), encoded.p,
                    encoded.len);
  ws_client__close(&p->transport.ws);
}

const struct peer_ops ably_peer__ops = {
    .open = open_peer,
    .publish = publish,
    .flush = flush,
    .close = close_peer,
    .target = target,
};

/* ---- Incoming ProtocolMessages, by action -------------------------------- */

static void on_connected(struct peer *p, const struct ably_pm *pm) {
  if (p->state != PEER_CONNECTING) return;
  if (p->publisher) return peer__ready(p);
  char channel[32];
  peer__channel_name(p, channel, sizeof channel);
  struct span encoded;
  int rc = ably__encode_attach(&p->worker->codec, channel, &encoded);
  send_pm(p, rc, encoded);
}

static void on_attached(struct peer *p, const struct ably_pm *pm) {
  peer__ready(p);
}

static void on_message(struct peer *p, const struct ably_pm *pm) {
  uint64_t recv_ns = peer__tcp(p)->read_ns;
  for (size_t i = 0; i < pm->n_data; i++)
    peer__deliver(p, pm->data[i], recv_ns);
}

static void on_ack(struct peer *p, const struct ably_pm *pm) {
  if (pm->msg_serial < 0 || pm->count < 1)
    return peer__error(p, "ACK without msgSerial and count", NULL);
  peer__settled(p, (uint64_t)pm->msg_serial, (uint64_t)pm->count, true);
}

static void on_nack(struct peer *p, const struct ably_pm *pm) {
  char detail[64];
  snprintf(detail, sizeof detail, "error code %lld",
           (long long)pm->error_code);
  bench__warn("NACK", detail);
  if (pm->msg_serial >= 0 && pm->count >= 1)
    peer__settled(p, (uint64_t)pm->msg_serial, (uint64_t)pm->count, false);
}

static void on_error(struct peer *p, const struct ably_pm *pm) {
  char detail[64];
  snprintf(detail, sizeof detail, "ERROR %lld", (long long)pm->error_code);
  if (p->state == PEER_CONNECTING) {
    bench__warn("ERROR while connecting", detail);
    return peer__fail(p, "server sent ERROR");
  }
  peer__error(p, "ERROR from server", detail);
}

static void on_disconnected(struct peer *p, const struct ably_pm *pm) {
  char detail[64];
  snprintf(detail, sizeof detail, "error code %lld",
           (long long)pm->error_code);
  bench__warn("DISCONNECTED from server", detail);
}

typedef void (*pm_handler)(struct peer *p, const struct ably_pm *pm);

static const pm_handler handlers[] = {
    [PM_ACK] = on_ack,
    [PM_NACK] = on_nack,
    [PM_CONNECTED] = on_connected,
    [PM_DISCONNECTED] = on_disconnected,
    [PM_ERROR] = on_error,
    [PM_ATTACHED] = on_attached,
    [PM_MESSAGE] = on_message,
};

/* ---- WebSocket events ---------------------------------------------------- */

static void ws_open(struct ws_client *ws) {} /* CONNECTED comes next */

static void ws_message(struct ws_client *ws, const char *data, size_t len,
                       bool binary) {
  struct peer *p = container_of(ws, struct peer, transport.ws);
  struct ably_pm pm;
  if (ably__decode(&p->worker->codec, data, len, &pm))
    return peer__error(p, "undecodable ProtocolMessage", NULL);
  size_t n = sizeof handlers / sizeof handlers[0];
  if ((uint64_t)pm.action < n && handlers[pm.action])
    handlers[pm.action](p, &pm);
}

static void ws_closed(struct ws_client *ws, const char *why) {
  peer__closed(container_of(ws, struct peer, transport.ws), why);
}

static const struct ws_client_events ws_events = {
    .open = ws_open,
    .message = ws_message,
    .closed = ws_closed,
};
