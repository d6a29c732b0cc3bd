/* ws_client.c -- WebSocket client connection (see ws_client.h). */
#include "ws_client.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr)-offsetof(type, member)))

#define WEBSOCKET_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_MESSAGE (16u << 20)
#define ACCEPT_HEADER "sec-websocket-accept"

static const struct tcp_client_events tcp_events;
static const http_parser_settings handshake_settings;

/* Records the first reason the connection ends and closes it now. */
static void fail(struct ws_client *ws, const char *why) {
  if (!ws->why && !ws->closing_by_us) ws->why = why;
  tcp_client__close(&ws->tcp);
}

/* ---- Opening handshake --------------------------------------------------- */

/* Fills key with a fresh Sec-WebSocket-Key and ws->accept_expected with the
 * answer RFC 6455 section 4.2.2 requires for it. */
static void make_key(struct ws_client *ws, char key[32]) {
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) abort();
  base64__encode(nonce, sizeof nonce, key);
  char concatenated[64];
  int n = snprintf(concatenated, sizeof concatenated, "%s%s", key,
                   WEBSOCKET_GUID);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)concatenated, (size_t)n, digest);
  base64__encode(digest, sizeof digest, ws->accept_expected);
}

static int queue_request(struct ws_client *ws, const char *host,
                         const char *target) {
  char key[32];
  make_key(ws, key);
  char request[2048];
  int n = snprintf(request, sizeof request,
                   "GET %s HTTP/1.1\r\n"
                   "Host: %s\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "\r\n",
                   target, host, key);
  if (n < 0 || (size_t)n >= sizeof request) return -1;
  return tcp_client__write(&ws->tcp, request, (size_t)n);
}

void ws_client__connect(struct ws_client *ws, uv_loop_t *loop,
                        const struct sockaddr *addr, const char *host,
                        const char *target,
                        const struct ws_client_events *events) {
  ws->events = events;
  ws->frames = NULL;
  ws->why = NULL;
  ws->closing_by_us = false;
  ws->header_name_len = ws->accept_received_len = 0;
  ws->header_in_value = false;
  http_parser_init(&ws->parser, HTTP_RESPONSE);
  ws->parser.data = ws;
  int rc = tcp_client__connect(&ws->tcp, loop, addr, &tcp_events);
  if (rc) {
    fail(ws, uv_strerror(rc));
  } else if (queue_request(ws, host, target)) {
    fail(ws, "request too long");
  }
}

static int on_header_field(http_parser *parser, const char *at, size_t len) {
  struct ws_client *ws = parser->data;
  if (ws->header_in_value) ws->header_name_len = 0;
  ws->header_in_value = false;
  if (ws->header_name_len + len < sizeof ws->header_name) {
    memcpy(ws->header_name + ws->header_name_len, at, len);
    ws->header_name_len += (unsigned char)len;
  } else {
    ws->header_name_len = sizeof ws->header_name; /* too long to matter */
  }
  return 0;
}

static int on_header_value(http_parser *parser, const char *at, size_t len) {
  struct ws_client *ws = parser->data;
  ws->header_in_value = true;
  if (ws->header_name_len != strlen(ACCEPT_HEADER) ||
      strncasecmp(ws->header_name, ACCEPT_HEADER, ws->header_name_len))
    return 0;
  if (ws->accept_received_len + len >= sizeof ws->accept_received) return 0;
  memcpy(ws->accept_received + ws->accept_received_len, at, len);
  ws->accept_received_len += (unsigned char)len;
  return 0;
}

/* Stops the parser at the head of anything but a 101. */
static int on_headers_complete(http_parser *parser) {
  return parser->status_code == 101 ? 0 : -1;
}

static const http_parser_settings handshake_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
};

/* Checks a complete 101 response. Returns NULL, or why it is refused. */
static const char *refuse_handshake(struct ws_client *ws) {
  if (ws->parser.status_code != 101) return "upgrade refused (not 101)";
  if (ws->accept_received_len != strlen(ws->accept_expected) ||
      memcmp(ws->accept_received, ws->accept_expected,
             ws->accept_received_len))
    return "wrong Sec-WebSocket-Accept";
  return NULL;
}

static const struct wslay_frame_callbacks frame_callbacks;

/* Sets up wslay once the upgrade is accepted. Returns 0 or -1. */
static int start_framing(struct ws_client *ws) {
  ws->in_frame = ws->close_sent = false;
  ws->message.len = 0;
  return wslay_frame_context_init(&ws->frames, &frame_callbacks, ws) ? -1
                                                                      : 0;
}

static void feed(struct ws_client *ws, const char *data, size_t len);

/* Reads the handshake response; bytes after it are WebSocket frames. */
static void read_handshake(struct ws_client *ws, const char *data,
                           size_t len) {
  size_t parsed =
      http_parser_execute(&ws->parser, &handshake_settings, data, len);
  enum http_errno error = HTTP_PARSER_ERRNO(&ws->parser);
  if (error == HPE_CB_headers_complete)
    return fail(ws, "upgrade refused (HTTP status is not 101)");
  if (error != HPE_OK) return fail(ws, "bad handshake response");
  if (!ws->parser.upgrade) return; /* the head is not complete yet */
  const char *refused = refuse_handshake(ws);
  if (refused) return fail(ws, refused);
  if (start_framing(ws)) return fail(ws, "out of memory");
  ws->events->open(ws);
  if (ws->tcp.open && parsed < len) feed(ws, data + parsed, len - parsed);
}

/* ---- wslay frame callbacks ----------------------------------------------- */

/* Hands wslay the bytes being fed; none left reads as "want more". */
static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *user_data) {
  struct ws_client *ws = user_data;
  if (!ws->input_len) return -1;
  size_t n = len < ws->input_len ? len : ws->input_len;
  memcpy(buf, ws->input, n);
  ws->input += n;
  ws->input_len -= n;
  return (ssize_t)n;
}

static ssize_t send_cb(const uint8_t *data, size_t len, int flags,
                       void *user_data) {
  struct ws_client *ws = user_data;
  return tcp_client__write(&ws->tcp, data, len) ? -1 : (ssize_t)len;
}

/* Masks only need to be unpredictable to proxies (RFC 6455 section 10.3);
 * a fast generator per thread is enough for a load generator. */
static int genmask_cb(uint8_t *buf, size_t len, void *user_data) {
  static _Thread_local uint64_t state;
  if (!state) state = uv_hrtime() | 1;
  for (size_t i = 0; i < len; i++) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    buf[i] = (uint8_t)state;
  }
  return 0;
}

static const struct wslay_frame_callbacks frame_callbacks = {
    .send_callback = send_cb,
    .recv_callback = recv_cb,
    .genmask_callback = genmask_cb,
};

/* ---- Sending frames ------------------------------------------------------ */

/* Queues one whole frame (masked, as a client must). Returns 0 or -1. */
static int send_frame(struct ws_client *ws, uint8_t opcode, const void *data,
                      size_t len) {
  struct wslay_frame_iocb iocb = {
      .fin = 1,
      .opcode = opcode,
      .mask = 1,
      .payload_length = len,
      .data = data,
      .data_length = len,
  };
  ssize_t sent = wslay_frame_send(ws->frames, &iocb);
  return sent == (ssize_t)len ? 0 : -1;
}

/* Sends a close frame with status (RFC 6455 section 5.5.1), once. */
static void send_close(struct ws_client *ws, const uint8_t status[2]) {
  if (ws->close_sent) return;
  ws->close_sent = true;
  send_frame(ws, WSLAY_CONNECTION_CLOSE, status, 2);
}

int ws_client__send(struct ws_client *ws, bool binary, const void *data,
                    size_t len) {
  if (!ws->frames || !ws->tcp.open || ws->close_sent) return -1;
  return send_frame(ws, binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME, data,
                    len);
}

void ws_client__flush(struct ws_client *ws) { tcp_client__flush(&ws->tcp); }

void ws_client__close(struct ws_client *ws) {
  static const uint8_t normal_closure[2] = {1000 >> 8, 1000 & 0xff};
  ws->closing_by_us = true;
  if (ws->frames && ws->tcp.open) send_close(ws, normal_closure);
  tcp_client__close_when_flushed(&ws->tcp);
}

/* ---- Receiving frames ---------------------------------------------------- */

/* A complete control frame: answer pings, and a close with a close. */
static void control_frame(struct ws_client *ws) {
  static const uint8_t no_status[2] = {1000 >> 8, 1000 & 0xff};
  if (ws->frame_opcode == WSLAY_PING) {
    if (!ws->close_sent)
      send_frame(ws, WSLAY_PONG, ws->control, ws->control_len);
    return;
  }
  if (ws->frame_opcode != WSLAY_CONNECTION_CLOSE) return; /* a pong */
  if (!ws->why && !ws->closing_by_us) ws->why = "server closed the WebSocket";
  send_close(ws, ws->control_len >= 2 ? ws->control : no_status);
  tcp_client__close_when_flushed(&ws->tcp);
}

/* The first chunk of a frame: checks it and starts a message or a control
 * frame. Returns 0, or -1 on a frame no server may send. */
static int start_frame(struct ws_client *ws,
                       const struct wslay_frame_iocb *iocb) {
  if (iocb->mask || iocb->rsv) return -1;
  ws->in_frame = true;
  ws->frame_opcode = iocb->opcode;
  ws->frame_received = 0;
  if (wslay_is_ctrl_frame(iocb->opcode)) {
    ws->control_len = 0;
    return iocb->payload_length <= sizeof ws->control && iocb->fin ? 0 : -1;
  }
  if (iocb->opcode == WSLAY_TEXT_FRAME || iocb->opcode == WSLAY_BINARY_FRAME) {
    ws->message_binary = iocb->opcode == WSLAY_BINARY_FRAME;
    ws->message.len = 0;
    return 0;
  }
  return iocb->opcode == WSLAY_CONTINUATION_FRAME ? 0 : -1;
}

/* A chunk of a data frame: hand a message over in place when it came whole,
 * else gather it. Returns 0 or -1 (too big). */
static int data_chunk(struct ws_client *ws, const struct wslay_frame_iocb *iocb,
                      bool frame_done) {
  if (iocb->fin && !ws->message.len && iocb->data_length == iocb->payload_length) {
    ws->events->message(ws, (const char *)iocb->data, iocb->data_length,
                        ws->message_binary);
    return 0;
  }
  if (byte_buf__append(&ws->message, iocb->data, iocb->data_length,
                       MAX_MESSAGE))
    return -1;
  if (frame_done && iocb->fin) {
    ws->events->message(ws, ws->message.data, ws->message.len,
                        ws->message_binary);
    ws->message.len = 0;
  }
  return 0;
}

/* One chunk of payload as wslay_frame_recv returns it. Returns 0 or -1. */
static int read_chunk(struct ws_client *ws,
                      const struct wslay_frame_iocb *iocb) {
  if (!ws->in_frame && start_frame(ws, iocb)) return -1;
  ws->frame_received += iocb->data_length;
  bool frame_done = ws->frame_received == iocb->payload_length;
  if (frame_done) ws->in_frame = false;
  if (!wslay_is_ctrl_frame(ws->frame_opcode))
    return data_chunk(ws, iocb, frame_done);
  memcpy(ws->control + ws->control_len, iocb->data, iocb->data_length);
  ws->control_len += (uint8_t)iocb->data_length;
  if (frame_done) control_frame(ws);
  return 0;
}

static void feed(struct ws_client *ws, const char *data, size_t len) {
  ws->input = data;
  ws->input_len = len;
  while (ws->tcp.open) {
    struct wslay_frame_iocb iocb;
    ssize_t r = wslay_frame_recv(ws->frames, &iocb);
    if (r == WSLAY_ERR_WANT_READ) break;
    if (r < 0 || read_chunk(ws, &iocb)) {
      fail(ws, "WebSocket protocol error");
      break;
    }
  }
  ws->input_len = 0;
  tcp_client__flush(&ws->tcp);
}

/* ---- TCP events ---------------------------------------------------------- */

static void tcp_connected(struct tcp_client *c, int status) {
  struct ws_client *ws = container_of(c, struct ws_client, tcp);
  if (status) return fail(ws, uv_strerror(status));
  tcp_client__flush(c);
}

static void tcp_read(struct tcp_client *c, const char *data, size_t len) {
  struct ws_client *ws = container_of(c, struct ws_client, tcp);
  if (ws->frames) {
    feed(ws, data, len);
  } else {
    read_handshake(ws, data, len);
  }
}

static void tcp_ended(struct tcp_client *c, int status) {
  struct ws_client *ws = container_of(c, struct ws_client, tcp);
  fail(ws, status == UV_EOF ? "connection closed by server"
                            : uv_strerror(status));
}

static void tcp_closed(struct tcp_client *c) {
  struct ws_client *ws = container_of(c, struct ws_client, tcp);
  if (ws->frames) wslay_frame_context_free(ws->frames);
  ws->frames = NULL;
  byte_buf__cleanup(&ws->message);
  ws->events->closed(ws, ws->closing_by_us ? NULL : ws->why);
}

static const struct tcp_client_events tcp_events = {
    .connected = tcp_connected,
    .read = tcp_read,
    .ended = tcp_ended,
    .closed = tcp_closed,
};
