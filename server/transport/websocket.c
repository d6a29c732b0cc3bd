/* websocket.c -- the WebSocket transport (see websocket.h).
 * Owns: struct websocket, its wslay context and outbound queue.
 * Inbound bytes go through wslay's event API (reassembly, control frames,
 * close handshake, size limit); data frames out are built with wslay's
 * frame API into shared frames and bypass the event queue, while wslay's
 * own control frames (pong, close) are copied into the same queue, so
 * everything leaves in order, and count toward the queue's limit: a peer
 * that sends pings and never reads is cut off once its pongs pass it. */
#include "transport/websocket.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "alloc.h"
#include "base64.h"
#include "core/worker.h"

#define WEBSOCKET_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct websocket {
  struct transport transport;
  struct http_upgrade upgrade;
  struct outbound out;
  wslay_event_context_ptr ctx; /* NULL between messages: see release_idle */
  uint64_t fed, framed; /* bytes given to wslay, bytes of complete frames */
  uint64_t frame_size;  /* of the frame being received */
  bool mid_message;     /* a fragmented data message is incomplete */
  const char *input; /* bytes being fed to wslay */
  size_t input_len;
  uint64_t message_bytes; /* of the data message being received */
  size_t max_message;
  struct frame *too_big; /* sent when a message exceeds max_message */
  bool rejected; /* a message was too big: nothing more is read */
  bool closing;
};

/* ---- Building frames ----------------------------------------------------- */

/* wslay's frame API writes through a callback; this one collects into a
 * buffer, so a frame is built once into bytes any socket can take. */
struct frame_sink {
  struct frame *frame;
  size_t len;
};

static ssize_t sink_send(const uint8_t *data, size_t len, int flags,
                         void *user_data) {
  struct frame_sink *sink = user_data;
  memcpy(sink->frame->data + sink->len, data, len);
  sink->len += len;
  return (ssize_t)len;
}

static const struct wslay_frame_callbacks sink_callbacks = {
    .send_callback = sink_send};

/* One frame builder per thread (frames are built on workers). */
static _Thread_local wslay_frame_context_ptr builder;
static _Thread_local struct frame_sink sink;

/* And the handshake's SHA-1 (accept_key). */
static _Thread_local EVP_MD *sha1;
static _Thread_local EVP_MD_CTX *sha1_ctx;

static void cleanup_on_exit(void *unused) { websocket__thread_cleanup(); }

void websocket__worker_init(struct worker *w) {
  worker__at_exit(w, cleanup_on_exit, NULL);
}

void websocket__thread_cleanup(void) {
  if (builder) wslay_frame_context_free(builder);
  builder = NULL;
  EVP_MD_CTX_free(sha1_ctx);
  EVP_MD_free(sha1);
  sha1_ctx = NULL;
  sha1 = NULL;
}

enum frame_kind websocket__kind(enum wire_format format) {
  return format == WIRE_MSGPACK ? FRAME_WS_MSGPACK : FRAME_WS_JSON;
}

struct frame *websocket__frame(bool binary, const char *payload, size_t len) {
  wslay_frame_context_ptr ctx = builder;
  if (!ctx && wslay_frame_context_init(&builder, &sink_callbacks, &sink))
    herald_oom("wslay frame context");
  ctx = builder;
  sink.frame = frame__new(len + 10); /* 10: the largest server frame header */
  sink.len = 0;
  struct wslay_frame_iocb iocb = {
      .fin = 1,
      .opcode = binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME,
      .payload_length = len,
      .data = (const uint8_t *)payload,
      .data_length = len,
  };
  /* The sink takes every byte, so a short send is a broken invariant. */
  if (wslay_frame_send(ctx, &iocb) != (ssize_t)len) abort();
  sink.frame->len = sink.len;
  return sink.frame;
}

/* ---- wslay callbacks ------------------------------------------------------ */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                       int flags, void *user_data) {
  struct websocket *ws = user_data;
  if (ws->input_len == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < ws->input_len ? len : ws->input_len;
  memcpy(buf, ws->input, n);
  ws->input += n;
  ws->input_len -= n;
  return (ssize_t)n;
}

/* wslay sends only control frames (pong, close); they join the queue. */
static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *user_data) {
  struct websocket *ws = user_data;
  outbound__push_part(&ws->out, data, len, flags & WSLAY_MSG_MORE);
  return (ssize_t)len;
}

static void on_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg,
                           void *user_data) {
  struct websocket *ws = user_data;
  uint64_t len = arg->payload_length;
  /* Client frames are masked (wslay refuses others): 2 + length + 4. */
  ws->frame_size = 2 + (len > 65535 ? 8 : len > 125 ? 2 : 0) + 4 + len;
  if (wslay_is_ctrl_frame(arg->opcode)) return;
  ws->mid_message = !arg->fin;
  if (arg->opcode != WSLAY_CONTINUATION_FRAME) ws->message_bytes = 0;
  ws->message_bytes += arg->payload_length;
  if (ws->message_bytes > ws->max_message && ws->too_big) {
    /* Checked here, not by wslay's own limit, so the client learns why. */
    outbound__push(&ws->out, ws->too_big);
    frame__unref(ws->too_big);
    ws->too_big = NULL;
    ws->rejected = true;
    wslay_event_queue_close(ctx, WSLAY_CODE_MESSAGE_TOO_BIG, NULL, 0);
    wslay_event_shutdown_read(ctx);
  }
}

static void on_frame_end(wslay_event_context_ptr ctx, void *user_data) {
  struct websocket *ws = user_data;
  ws->framed += ws->frame_size;
}

static void on_message(wslay_event_context_ptr ctx,
                       const struct wslay_event_on_msg_recv_arg *arg,
                       void *user_data) {
  struct websocket *ws = user_data;
  if (wslay_is_ctrl_frame(arg->opcode) || ws->closing || ws->rejected) return;
  /* wslay hands an empty message over as (NULL, 0); parsers get "". */
  const char *msg = arg->msg ? (const char *)arg->msg : "";
  ws->transport.on_message(ws->transport.owner, msg, arg->msg_length, false);
}

static const struct wslay_event_callbacks event_callbacks = {
    .recv_callback = on_recv,
    .send_callback = on_send,
    .on_frame_recv_start_callback = on_frame_start,
    .on_frame_recv_end_callback = on_frame_end,
    .on_msg_recv_callback = on_message,
};

/* ---- The wslay context, only while it is needed ----------------------------- */

/* wslay's context holds a 4 KiB input buffer; an idle connection keeps none
 * (DESIGN.md 5: memory per connection). */
static wslay_event_context_ptr context(struct websocket *ws) {
  if (!ws->ctx) {
    if (wslay_event_context_server_init(&ws->ctx, &event_callbacks, ws))
      herald_oom("wslay event context");
    /* A backstop: on_frame_start refuses big messages before this. */
    wslay_event_config_set_max_recv_msg_length(ws->ctx, 2 * ws->max_message);
    ws->fed = ws->framed = 0;
  }
  return ws->ctx;
}

/* Frees the context when it holds no state: every byte fed belongs to a
 * complete frame, no message is half received and nothing waits to go. */
static void release_idle(struct websocket *ws) {
  if (!ws->ctx || ws->fed != ws->framed || ws->mid_message || ws->closing ||
      wslay_event_want_write(ws->ctx) || !wslay_event_get_read_enabled(ws->ctx))
    return;
  wslay_event_context_free(ws->ctx);
  ws->ctx = NULL;
}

/* ---- Transport ------------------------------------------------------------ */

static void ws_close(struct transport *t) {
  struct websocket *ws = (struct websocket *)t;
  if (ws->closing) return;
  ws->closing = true;
  wslay_event_context_ptr ctx = context(ws);
  if (!wslay_event_get_close_sent(ctx))
    wslay_event_queue_close(ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
  wslay_event_send(ctx);
  http__close_when_sent(&ws->out);
}

static void ws_start(struct transport *t) {
  http__upgrade_start(((struct websocket *)t)->out.stream);
}

static void ws_abort(struct transport *t) {
  struct websocket *ws = (struct websocket *)t;
  ws->closing = true;
  http__close(ws->out.stream);
}

static void on_overflow(struct outbound *o) {
  struct websocket *ws = (struct websocket *)((char *)o -
                                              offsetof(struct websocket, out));
  ws->transport.on_backlog(ws->transport.owner);
}

/* ---- The upgraded connection --------------------------------------------- */

static struct websocket *from_upgrade(struct http_upgrade *u) {
  return (struct websocket *)((char *)u - offsetof(struct websocket, upgrade));
}

/* Sends what wslay queued in answer to the peer (pongs, a close). Pongs
 * that take the unsent bytes past the limit end the connection at once:
 * a peer that does not read gets no goodbye. false when it ended. */
static bool send_replies(struct websocket *ws, wslay_event_context_ptr ctx) {
  size_t before = ws->out.bytes;
  wslay_event_send(ctx);
  if (!ws->out.limit || ws->out.bytes <= ws->out.limit ||
      ws->out.bytes <= before)
    return true;
  ws_abort(&ws->transport);
  return false;
}

static void on_read(struct http_upgrade *u, const char *data, size_t len) {
  struct websocket *ws = from_upgrade(u);
  if (!data) { /* the peer is gone */
    ws_abort(&ws->transport);
    return;
  }
  wslay_event_context_ptr ctx = context(ws);
  ws->input = data;
  ws->input_len = len;
  ws->fed += len;
  int rc = wslay_event_recv(ctx);
  ws->input_len = 0;
  if (rc == 0 && wslay_event_want_write(ctx) && !send_replies(ws, ctx)) return;
  /* A protocol error, a close from the peer or a too-big message: wslay
   * stopped reading and queued its close frame; leave once it is sent. */
  if (rc != 0 || !wslay_event_get_read_enabled(ctx)) ws_close(&ws->transport);
  else release_idle(ws);
}

static void on_drain(struct http_upgrade *u) {
  struct websocket *ws = from_upgrade(u);
  ws->transport.on_drain(ws->transport.owner);
}

static void on_closed(struct http_upgrade *u) {
  struct websocket *ws = from_upgrade(u);
  ws->transport.on_closed(ws->transport.owner);
  outbound__cleanup(&ws->out);
  if (ws->ctx) wslay_event_context_free(ws->ctx);
  frame__unref(ws->too_big);
  herald_free(ws);
}

/* ---- Handshake -------------------------------------------------------------- */

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool header_lists(const char *value, const char *token) {
  size_t n = strlen(token);
  for (const char *p = value; p && *p;) {
    while (*p == ' ' || *p == ',') p++;
    if (!strncasecmp(p, token, n) && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
      return true;
    p = strchr(p, ',');
  }
  return false;
}

bool websocket__requested(const struct http_request *req) {
  const char *upgrade = http__header(req, "upgrade");
  return upgrade && header_lists(upgrade, "websocket");
}

/* Sec-WebSocket-Accept: base64(SHA-1(key GUID)). SHA1() looks the
 * algorithm up on every call in OpenSSL 3; each thread fetches it once. */
static void accept_key(const char *key, char out[32]) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (!sha1 && !(sha1 = EVP_MD_fetch(NULL, "SHA1", NULL))) herald_oom("SHA-1");
  if (!sha1_ctx && !(sha1_ctx = EVP_MD_CTX_new())) herald_oom("SHA-1");
  if (!EVP_DigestInit_ex2(sha1_ctx, sha1, NULL) ||
      !EVP_DigestUpdate(sha1_ctx, key, strlen(key)) ||
      !EVP_DigestUpdate(sha1_ctx, WEBSOCKET_GUID, sizeof WEBSOCKET_GUID - 1) ||
      !EVP_DigestFinal_ex(sha1_ctx, digest, &digest_len))
    herald_oom("SHA-1");
  base64__encode(digest, digest_len, out);
}

/* The 101 response, as a frame for the outbound queue. */
static struct frame *switching_protocols(const char *accept) {
  static const char before[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: ";
  static const char after[] = "\r\n\r\n";
  size_t accept_len = strlen(accept);
  struct frame *f = frame__new(sizeof before - 1 + accept_len + sizeof after - 1);
  memcpy(f->data, before, sizeof before - 1);
  memcpy(f->data + sizeof before - 1, accept, accept_len);
  memcpy(f->data + sizeof before - 1 + accept_len, after, sizeof after - 1);
  return f;
}

static int check_handshake(const struct http_request *req, herald_error *err) {
  const char *key = http__header(req, "sec-websocket-key");
  const char *version = http__header(req, "sec-websocket-version");
  const char *connection = http__header(req, "connection");
  if (req->method != 1 /* HTTP_GET */ || !connection ||
      !header_lists(connection, "upgrade"))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "WebSocket upgrade needs GET and Connection: Upgrade");
  if (!version || strcmp(version, "13"))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Unsupported Sec-WebSocket-Version (13 is)");
  if (!key || strlen(key) != 24)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Missing or invalid Sec-WebSocket-Key");
  return 0;
}

struct transport *websocket__accept(struct http_request *req,
                                    enum wire_format format,
                                    size_t max_message,
                                    struct frame *too_big) {
  herald_error err;
  if (check_handshake(req, &err)) {
    frame__unref(too_big);
    http__fail(req, &err);
    return NULL;
  }
  char accept[32];
  accept_key(http__header(req, "sec-websocket-key"), accept);
  struct websocket *ws = herald_xcalloc(1, sizeof *ws);
  struct worker *w = req->worker;
  ws->max_message = max_message;
  ws->too_big = too_big;
  ws->upgrade = (struct http_upgrade){on_read, on_drain, on_closed};
  ws->transport.kind = websocket__kind(format);
  ws->transport.format = format;
  ws->transport.out = &ws->out;
  ws->transport.start = ws_start;
  ws->transport.close = ws_close;
  ws->transport.abort = ws_abort;
  ws->transport.send = transport__send;
  ws->transport.send_frame = transport__send_frame;
  uv_stream_t *stream = http__upgrade(req, &ws->upgrade);
  outbound__init(&ws->out, stream, outbound__flusher(w));
  ws->out.on_error = http__close_queue;
  ws->out.on_overflow = on_overflow;
  struct frame *f = switching_protocols(accept);
  outbound__push(&ws->out, f);
  frame__unref(f);
  return &ws->transport;
}
