/* fuzz_websocket.c -- libFuzzer target for WebSocket input as heraldd
 * receives it: server/transport/websocket.c (wslay's event API with websocket.c's own
 * callbacks, limit and context release) behind a completed handshake,
 * given the bytes a client sends.
 *
 * websocket.c reads through the HTTP layer's upgrade interface (http.h:
 * http__upgrade hands it the socket, the layer calls on_read with the
 * bytes, http__close ends it, on_closed follows). This file stands in for
 * that layer, http.h's functions over one end of a socketpair, so the
 * real websocket__accept, outbound queue and close handshake run without
 * a server; a socket never goes through http.c here.
 *
 * The first input byte picks the wire format (bit 0), the chunking (bits
 * 1-4) and the mode (bit 5):
 *  - raw: the rest is fed as is, once whole and once in chunks. Both must
 *    deliver the same messages, and chunks close the connection only if
 *    the whole does: wslay's context is freed between messages
 *    (release_idle) and rebuilt, which must lose nothing wherever a read
 *    ends;
 *  - frames: the rest is split at 0xff bytes into messages, each sent as
 *    masked client frames (fragmented by the chunking bits, with a ping
 *    between fragments); exactly those messages up to the first one over
 *    the size limit (or, in text frames, not UTF-8) must arrive, in order,
 *    and that one closes the socket.
 * Whatever the bytes: no crash, leak or undefined behaviour, and no
 * message over the limit reaches the protocol layer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "transport/http.h"
#include "transport/outbound.h"
#include "utf8.h"
#include "transport/websocket.h"
#include "core/worker.h"

#define MAX_MESSAGE 512 /* small, so that inputs reach the limit */
#define MAX_RECORD (64 * 1024)

static struct worker worker; /* its loop runs the connection */

static void fail(const char *what) {
  fprintf(stderr, "websocket: %s\n", what);
  abort();
}

/* ---- The HTTP layer, as websocket.c sees it ------------------------------ */

struct fake_conn {
  uv_pipe_t pipe;
  int peer; /* the client's end, drained */
  struct http_upgrade *upgrade;
  struct transport *transport;
  bool closing, closed;
};

static struct fake_conn conn;

const char *http__header(const struct http_request *req, const char *name) {
  for (size_t i = 0; i < req->n_headers; i++)
    if (!strcmp(req->headers[i].name, name)) return req->headers[i].value;
  return NULL;
}

const char *http__param(const struct http_request *req, const char *name) {
  return NULL;
}

void http__fail(struct http_request *req, const herald_error *err) {
  fail("the handshake was refused");
}

uv_stream_t *http__upgrade(struct http_request *req, struct http_upgrade *u) {
  conn.upgrade = u;
  return (uv_stream_t *)&conn.pipe;
}

void http__upgrade_start(uv_stream_t *stream) {}

static void on_pipe_closed(uv_handle_t *handle) {
  conn.closed = true;
  conn.upgrade->on_closed(conn.upgrade);
}

void http__close(uv_stream_t *stream) {
  if (conn.closing) return;
  conn.closing = true;
  uv_close((uv_handle_t *)&conn.pipe, on_pipe_closed);
}

void http__close_queue(struct outbound *o) { http__close(o->stream); }

/* No header timeout here: the peer is always drained. */
void http__close_when_sent(struct outbound *o) {
  o->on_empty = http__close_queue;
  if (outbound__empty(o) && !o->dirty) http__close(o->stream);
}

/* ---- What reaches the protocol layer ------------------------------------- */

struct record {
  char bytes[MAX_RECORD]; /* each message as its length, then its bytes */
  size_t len;
  size_t messages;
};

static void on_message(void *owner, const char *data, size_t len,
                       bool batch) {
  struct record *r = owner;
  if (!data) fail("a message was delivered as NULL");
  if (len > MAX_MESSAGE) fail("a message over the limit was delivered");
  if (r->len + sizeof len + len > MAX_RECORD) fail("record full");
  memcpy(r->bytes + r->len, &len, sizeof len);
  memcpy(r->bytes + r->len + sizeof len, data, len);
  r->len += sizeof len + len;
  r->messages++;
}

static void ignore(void *owner) {}

/* ---- One connection --------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  if (worker__init(&worker, NULL, 0)) fail("worker__init");
  outbound__worker_init(&worker);
  return 0;
}

static void drain_peer(void) {
  char buf[4096];
  while (read(conn.peer, buf, sizeof buf) > 0) {
  }
}

/* Opens a connection past its handshake, its messages going to r. */
static struct transport *open_conn(enum wire_format format, struct record *r) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds)) fail("socketpair");
  memset(&conn, 0, sizeof conn);
  uv_pipe_init(&worker.loop, &conn.pipe, 0);
  uv_pipe_open(&conn.pipe, fds[0]);
  conn.peer = fds[1];
  struct http_header headers[] = {
      {"upgrade", "websocket"},
      {"connection", "Upgrade"},
      {"sec-websocket-version", "13"},
      {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
  };
  struct http_request req = {.worker = &worker, .method = 1 /* GET */,
                             .headers = headers, .n_headers = 4};
  if (!websocket__requested(&req)) fail("the upgrade is not recognised");
  static const char too_big[] = "{\"action\":6,\"error\":{\"code\":40009}}";
  struct transport *t = websocket__accept(
      &req, format, MAX_MESSAGE,
      websocket__frame(format == WIRE_MSGPACK, too_big, sizeof too_big - 1));
  t->owner = r;
  t->on_message = on_message;
  t->on_drain = t->on_backlog = t->on_closed = ignore;
  t->start(t);
  conn.transport = t;
  return t;
}

/* Gives the connection data in chunks of `chunk` bytes (0: at once), as
 * the socket would, until it closes. The loop turns when the connection
 * has something to write (a pong, a close), as a worker's would. */
static void feed(const uint8_t *data, size_t size, size_t chunk) {
  for (size_t at = 0; at < size && !conn.closing;) {
    size_t n = chunk && chunk < size - at ? chunk : size - at;
    conn.upgrade->on_read(conn.upgrade, (const char *)data + at, n);
    at += n;
    if (conn.transport->out->dirty) {
      uv_run(&worker.loop, UV_RUN_NOWAIT);
      drain_peer();
    }
  }
}

static bool run(enum wire_format format, const uint8_t *data, size_t size,
                size_t chunk, struct record *r) {
  memset(r, 0, sizeof *r);
  open_conn(format, r);
  uv_run(&worker.loop, UV_RUN_NOWAIT); /* the 101 response */
  feed(data, size, chunk);
  /* A close the server began ends after its close frame is written:
   * flushed at the next loop turn, its write completed at the one after. */
  for (int i = 0; i < 3; i++) uv_run(&worker.loop, UV_RUN_NOWAIT);
  bool closed_by_server = conn.closing;
  if (!conn.closing) conn.upgrade->on_read(conn.upgrade, NULL, 0);
  while (!conn.closed) uv_run(&worker.loop, UV_RUN_NOWAIT);
  uv_run(&worker.loop, UV_RUN_NOWAIT); /* the close timer's close */
  close(conn.peer);
  return closed_by_server;
}

/* ---- Frames as a client sends them ------------------------------------ */

struct frames {
  uint8_t *bytes;
  size_t len, cap;
};

static void put(struct frames *f, const void *data, size_t len) {
  if (f->len + len > f->cap) {
    f->cap = 2 * (f->len + len);
    f->bytes = herald_xrealloc(f->bytes, f->cap);
  }
  memcpy(f->bytes + f->len, data, len);
  f->len += len;
}

/* One masked frame (RFC 6455 section 5.2). */
static void put_frame(struct frames *f, bool fin, int opcode, const uint8_t *payload,
                      size_t len) {
  uint8_t head[14] = {(uint8_t)((fin ? 0x80 : 0) | opcode)};
  size_t n = 2;
  if (len < 126) {
    head[1] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    head[1] = 0x80 | 126;
    head[2] = (uint8_t)(len >> 8);
    head[3] = (uint8_t)len;
    n = 4;
  } else {
    fail("a frame too long for this target");
  }
  static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  memcpy(head + n, mask, 4);
  put(f, head, n + 4);
  for (size_t i = 0; i < len; i++) {
    uint8_t b = payload[i] ^ mask[i % 4];
    put(f, &b, 1);
  }
}

/* Sends each message in fragments of `fragment` bytes (0: one frame). */
static void put_message(struct frames *f, enum wire_format format, const uint8_t *m,
                        size_t len, size_t fragment) {
  int opcode = format == WIRE_MSGPACK ? 0x2 : 0x1;
  size_t at = 0;
  do {
    size_t n = fragment && fragment < len - at ? fragment : len - at;
    put_frame(f, at + n == len, at ? 0x0 : opcode, m + at, n);
    at += n;
    if (at < len) put_frame(f, true, 0x9, (const uint8_t *)"ping", 4);
  } while (at < len);
}

/* The record the messages of data (split at 0xff) must give: every one up
 * to the first over the limit, or (text frames) the first that is not
 * UTF-8, which wslay refuses. Returns whether there was such a one. */
static bool expect(enum wire_format format, const uint8_t *data, size_t size,
                   struct record *r) {
  memset(r, 0, sizeof *r);
  for (size_t at = 0; at <= size;) {
    const uint8_t *end = memchr(data + at, 0xff, size - at);
    size_t len = end ? (size_t)(end - data - at) : size - at;
    if (len > MAX_MESSAGE ||
        (format == WIRE_JSON && !utf8__valid((const char *)data + at, len)))
      return true;
    on_message(r, (const char *)data + at, len, false);
    at += len + 1;
  }
  return false;
}

static void check_frames(enum wire_format format, const uint8_t *data, size_t size,
                         size_t chunk) {
  struct frames f = {0};
  for (size_t at = 0; at <= size;) {
    const uint8_t *end = memchr(data + at, 0xff, size - at);
    size_t len = end ? (size_t)(end - data - at) : size - at;
    put_message(&f, format, data + at, len, chunk);
    at += len + 1;
  }
  static struct record want, got;
  bool refused = expect(format, data, size, &want);
  bool closed = run(format, f.bytes, f.len, chunk, &got);
  if (got.messages != want.messages || got.len != want.len ||
      memcmp(got.bytes, want.bytes, got.len) != 0)
    fail("the messages sent are not the messages received");
  if (closed != refused)
    fail(refused ? "a message over the limit or not UTF-8 did not close"
                 : "valid frames closed the connection");
  herald_free(f.bytes);
}

static void check_raw(enum wire_format format, const uint8_t *data, size_t size,
                      size_t chunk) {
  static struct record whole, chunked;
  bool closed_whole = run(format, data, size, 0, &whole);
  bool closed_chunked = run(format, data, size, chunk, &chunked);
  if (whole.len != chunked.len || memcmp(whole.bytes, chunked.bytes, whole.len) != 0)
    fail("chunked input delivered other messages");
  /* wslay may find a control frame invalid before it is complete when its
   * bytes arrive in one read, and only once it is complete otherwise; input
   * that ends inside such a frame then closes only when given at once. */
  if (closed_chunked && !closed_whole) fail("only chunked input closed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 8192) return 0;
  enum wire_format format = data[0] & 1 ? WIRE_MSGPACK : WIRE_JSON;
  size_t chunk = 1 + ((data[0] >> 1) & 15) * 7; /* 1, 8, .. 106 bytes */
  if (data[0] & 32)
    check_frames(format, data + 1, size - 1, chunk);
  else
    check_raw(format, data + 1, size - 1, chunk);
  return 0;
}
