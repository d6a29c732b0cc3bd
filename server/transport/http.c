/* http.c -- HTTP/1.1 connections: accept, read, frame with http-parser,
 * hand complete requests to the layer above one at a time, write
 * responses, keep-alive and pipelining, limits, timeouts, graceful close,
 * moving a connection to another worker.
 * Owns: struct http_worker (a worker's listeners and connections), struct
 * http_conn and the struct http_request it is serving. */
#include "transport/http.h"

#include <fcntl.h>
#include <http_parser.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "core/deadline.h"
#include "core/log.h"
#include "core/worker.h"
#include "decimal.h"
#include "transport/http_strict.h"
#include "transport/listener.h"
#include "transport/outbound.h"
#include "transport/tls.h"

#define HTTP_MAX_LISTENERS 8
#define HTTP_READ_BUFFER_SIZE (64 * 1024)

/* A worker's HTTP state (in its slot). */
struct http_worker {
  struct http_server *server;
  struct worker *worker;
  struct listener listeners[HTTP_MAX_LISTENERS];
  bool listener_tls[HTTP_MAX_LISTENERS]; /* its connections speak TLS */
  int n_listeners;
  char *read_buffer; /* shared by this worker's connections */
  bool read_buffer_busy;
  struct http_conn *conns; /* every open connection, for shutdown */
  size_t n_conns;
  struct deadline_timer deadlines; /* their timeouts */
  bool draining;
  bool drained_reported;
};

static int slot = -1;

static struct http_worker *worker_state(struct worker *w) {
  return w->locals[slot];
}

struct http_conn {
  struct tls_stream io; /* the socket, and its TLS session if any */
  struct http_worker *hw;
  struct http_conn *prev, *next; /* hw's list */
  http_parser parser;
  /* Bytes received and not yet parsed. */
  char *pending;
  size_t pending_len, pending_cap;
  /* The request line and headers being read: "target\0name\0value\0..." */
  char *head;
  size_t head_len, head_cap;
  size_t *header_offsets; /* name, value offsets into head (grown as needed) */
  size_t n_header_parts, header_parts_cap;
  bool last_was_value;
  size_t target_len;
  struct http_request req;
  bool message_complete; /* req is framed and waiting for dispatch */
  bool in_flight;        /* req dispatched, not yet answered */
  bool processing;       /* inside process(): no re-entry */
  bool close_after_response;
  bool closing;
  bool linger;  /* after an error reply: discard input until the peer closes */
  bool built;    /* req was built from the head before its body (precheck) */
  uint8_t phase; /* enum conn_phase: which timeout applies */
  size_t lingered; /* bytes discarded while lingering */
  uv_shutdown_t shutdown_req;
  unsigned writes_pending;
  int head_error;        /* why the request is refused: its Ably code */
  const char *head_message; /* and its message (static or req.arena), or NULL */
  struct http_strict strict;
  size_t body_cap;       /* bytes allocated for req.body */
  struct deadline deadline; /* of `phase` (hw->deadlines) */
  struct address_slot *unauthenticated; /* counted until it authenticates */
  struct http_upgrade *upgrade; /* set once another protocol took over */
  bool upgrade_started; /* it reads: http__upgrade_start was called */
  struct move *moving; /* on its way to another worker (http__move) */
};

/* A connection travelling to another worker with the request it serves:
 * the socket as a duplicate descriptor (the old handle closes its own). */
struct move {
  struct worker_task task;
  struct http_conn *conn;
  struct worker *target;
  int fd;
};

/* What the connection waits for, and so which timeout applies. */
enum conn_phase {
  PHASE_NEW,     /* accepted, no byte yet: the header timeout, from accept */
  PHASE_HEAD,    /* a request's line and headers: the header timeout */
  PHASE_BODY,    /* its body: the body timeout */
  PHASE_IDLE,    /* keep-alive between requests: the idle timeout */
  PHASE_LINGER,  /* after an error reply: the header timeout */
  PHASE_CLOSING, /* upgraded, its goodbye queued: the header timeout */
  PHASE_NONE,    /* a request in flight, or upgraded: no timeout */
};

/* A worker's deadline queues (http__worker_init). */
enum { QUEUE_HEADER, QUEUE_BODY, QUEUE_IDLE, N_QUEUES };

#define MAX_HEADER_PARTS (2 * 128) /* 128 headers */
#define HEAD_MAX 256 /* our status line, Content-Length and Connection */
#define HTTP_PIPELINE_BUFFER (64 * 1024) /* bytes read ahead of the request
                                            being answered */

static void process(struct http_conn *c);
static void close_conn(struct http_conn *c);
static int precheck(struct http_conn *c);

/* ---- Timeouts and the unauthenticated count ------------------------------ */

static void set_phase(struct http_conn *c, enum conn_phase phase) {
  static const int queue_of[] = {
      [PHASE_NEW] = QUEUE_HEADER, [PHASE_HEAD] = QUEUE_HEADER,
      [PHASE_BODY] = QUEUE_BODY,  [PHASE_IDLE] = QUEUE_IDLE,
      [PHASE_LINGER] = QUEUE_HEADER, [PHASE_CLOSING] = QUEUE_HEADER,
      [PHASE_NONE] = -1};
  struct deadline_timer *t = &c->hw->deadlines;
  c->phase = (uint8_t)phase;
  if (queue_of[phase] < 0 || !t->queues[queue_of[phase]].duration_ms)
    deadline__disarm(&c->deadline); /* no timeout, or configured as 0 */
  else deadline__arm(t, &c->deadline, &t->queues[queue_of[phase]]);
}

/* The connection authenticated or was upgraded: it no longer counts
 * toward its address's cap. */
static void stop_counting(struct http_conn *c) {
  address_limit__release(&c->hw->server->unauthenticated, c->unauthenticated);
  c->unauthenticated = NULL;
}

/* Growth for the connection's buffers: doubling from `first` until `need`
 * fits, so n appends cost O(n) copying whatever their sizes. */
static size_t grown_capacity(size_t cap, size_t need, size_t first) {
  if (!cap) cap = first;
  while (cap < need) cap *= 2;
  return cap;
}

/* ---- Accumulating the head --------------------------------------------- */

static int head_append(struct http_conn *c, const char *at, size_t len) {
  size_t limit = (size_t)c->hw->server->cfg->max_header_size;
  if (c->head_len + len + 1 > limit) {
    c->head_error = HERALD_E_HEADERS_TOO_LARGE;
    return -1;
  }
  if (c->head_len + len + 1 > c->head_cap) {
    size_t cap = grown_capacity(c->head_cap, c->head_len + len + 1, 1024);
    c->head = herald_xrealloc(c->head, cap);
    c->head_cap = cap;
  }
  memcpy(c->head + c->head_len, at, len);
  c->head_len += len;
  return 0;
}

/* Ends the current head part with a NUL and starts a new one. */
static int head_next_part(struct http_conn *c) {
  if (head_append(c, "", 0)) return -1;
  c->head[c->head_len++] = '\0';
  if (c->n_header_parts == c->header_parts_cap) {
    if (c->header_parts_cap == MAX_HEADER_PARTS) {
      c->head_error = HERALD_E_HEADERS_TOO_LARGE;
      return -1;
    }
    c->header_parts_cap = c->header_parts_cap ? 2 * c->header_parts_cap : 32;
    c->header_offsets = herald_xrealloc(
        c->header_offsets, c->header_parts_cap * sizeof *c->header_offsets);
  }
  c->header_offsets[c->n_header_parts++] = c->head_len;
  return 0;
}

static int on_message_begin(http_parser *p) {
  struct http_conn *c = p->data;
  c->head_len = 0;
  c->n_header_parts = 0;
  c->target_len = 0;
  c->last_was_value = true;
  c->head_error = 0;
  c->head_message = NULL;
  c->built = false;
  /* A new connection's first request keeps the deadline of the accept. */
  if (c->phase != PHASE_NEW) set_phase(c, PHASE_HEAD);
  c->phase = PHASE_HEAD;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = p->data;
  c->target_len += len;
  return head_append(c, at, len);
}

/* Trailer fields (after a chunked body) are not kept: the request was
 * built from its head already. */
static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = p->data;
  if (p->flags & F_TRAILING) return 0;
  if (c->last_was_value && head_next_part(c)) return -1;
  c->last_was_value = false;
  return head_append(c, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = p->data;
  if (p->flags & F_TRAILING) return 0;
  if (!c->last_was_value && head_next_part(c)) return -1;
  c->last_was_value = true;
  return head_append(c, at, len);
}

static int on_headers_complete(http_parser *p) {
  struct http_conn *c = p->data;
  if (head_next_part(c)) return -1;
  uint64_t limit = (uint64_t)c->hw->server->cfg->max_body_size;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > limit) {
    c->head_error = HERALD_E_REQUEST_TOO_LARGE;
    return -1;
  }
  set_phase(c, PHASE_BODY);
  bool body_follows = (p->flags & F_CHUNKED) ||
                      ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
  return body_follows ? precheck(c) : 0;
}

/* The body grows as its bytes arrive, never by what Content-Length
 * declares (the bytes may never come) and geometrically, not by each
 * chunk exactly (1-byte chunks would copy the body over and over). */
static int on_body(http_parser *p, const char *at, size_t len) {
  struct http_conn *c = p->data;
  struct http_request *req = &c->req;
  size_t limit = (size_t)c->hw->server->cfg->max_body_size;
  if (req->body_len + len > limit) {
    c->head_error = HERALD_E_REQUEST_TOO_LARGE;
    return -1;
  }
  if (req->body_len + len + 1 > c->body_cap) {
    c->body_cap = grown_capacity(c->body_cap, req->body_len + len + 1, 1024);
    req->body = herald_xrealloc(req->body, c->body_cap);
  }
  memcpy(req->body + req->body_len, at, len);
  req->body_len += len;
  req->body[req->body_len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct http_conn *c = p->data;
  c->message_complete = true;
  set_phase(c, PHASE_NONE);
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- Building the request ---------------------------------------------- */

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

char *http__percent_decode(struct arena *a, const char *src, size_t len) {
  char *out = arena__alloc(a, len + 1);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (src[i] != '%') {
      out[n++] = src[i];
      continue;
    }
    if (i + 2 >= len) return NULL;
    int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
    /* No NUL: decoded strings are C strings, and a NUL would cut them. */
    if (hi < 0 || lo < 0 || (hi | lo) == 0) return NULL;
    out[n++] = (char)(hi << 4 | lo);
    i += 2;
  }
  out[n] = '\0';
  return out;
}

/* Splits "/a/b%2Fc" into decoded segments {"a", "b/c"}. */
static int split_path(struct http_request *req, const char *path, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += path[i] == '/';
  req->segments = arena__alloc(&req->arena, (n + 1) * sizeof *req->segments);
  req->n_segments = 0;
  size_t start = path[0] == '/' ? 1 : 0;
  if (start == len) return 0; /* "/" */
  for (size_t i = start; i <= len; i++) {
    if (i < len && path[i] != '/') continue;
    const char *seg = http__percent_decode(&req->arena, path + start, i - start);
    if (!seg) return -1;
    req->segments[req->n_segments++] = seg;
    start = i + 1;
  }
  return 0;
}

/* Parses "a=1&b=x%20y" into decoded parameters ('+' means space here, as
 * browsers' form encoding does). */
static int split_query(struct http_request *req, const char *q, size_t len) {
  size_t n = 1;
  for (size_t i = 0; i < len; i++) n += q[i] == '&';
  req->params = arena__alloc(&req->arena, n * sizeof *req->params);
  req->n_params = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && q[i] != '&') continue;
    if (i > start) {
      char *pair = arena__strndup(&req->arena, q + start, i - start);
      for (char *p = pair; *p; p++)
        if (*p == '+') *p = ' ';
      char *eq = strchr(pair, '=');
      size_t name_len = eq ? (size_t)(eq - pair) : strlen(pair);
      const char *name = http__percent_decode(&req->arena, pair, name_len);
      const char *value =
          eq ? http__percent_decode(&req->arena, eq + 1, strlen(eq + 1)) : "";
      if (!name || !value) return -1;
      req->params[req->n_params].name = name;
      req->params[req->n_params++].value = value;
    }
    start = i + 1;
  }
  return 0;
}

static void build_headers(struct http_conn *c) {
  struct http_request *req = &c->req;
  size_t n = c->n_header_parts / 2;
  req->headers = arena__alloc(&req->arena, (n ? n : 1) * sizeof *req->headers);
  req->n_headers = n;
  for (size_t i = 0; i < n; i++) {
    char *name = c->head + c->header_offsets[2 * i];
    for (char *p = name; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    req->headers[i].name = name;
    req->headers[i].value = c->head + c->header_offsets[2 * i + 1];
  }
}

/* Fills req from the framed head. Returns 0, or -1 for a malformed target. */
static int build_request(struct http_conn *c) {
  struct http_request *req = &c->req;
  req->conn = c;
  req->worker = c->hw->worker;
  req->context = c->hw->server->handlers.context;
  req->method = c->parser.method;
  req->envelope = -1;
  c->head[c->target_len] = '\0';
  req->target = c->head;
  build_headers(c);
  const char *query = memchr(req->target, '?', c->target_len);
  size_t path_len = query ? (size_t)(query - req->target) : c->target_len;
  if (path_len == 0 || req->target[0] != '/') return -1;
  if (split_path(req, req->target, path_len)) return -1;
  if (query && split_query(req, query + 1, c->target_len - path_len - 1))
    return -1;
  return 0;
}

const char *http__header(const struct http_request *req, const char *name) {
  for (size_t i = 0; i < req->n_headers; i++)
    if (req->headers[i].name[0] == name[0] && !strcmp(req->headers[i].name, name))
      return req->headers[i].value;
  return NULL;
}

const char *http__param(const struct http_request *req, const char *name) {
  for (size_t i = 0; i < req->n_params; i++)
    if (!strcmp(req->params[i].name, name)) return req->params[i].value;
  return NULL;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *req, int status) {}

/* After an error reply to a request whose body is still arriving, closing
 * at once would make the kernel reset the connection and the client could
 * lose the reply. So: end our side, and read and discard until the peer
 * closes (or sends more than any request could hold). */
static void start_linger(struct http_conn *c) {
  herald_free(c->pending);
  c->pending = NULL;
  c->pending_len = c->pending_cap = 0;
  set_phase(c, PHASE_LINGER);
  tls__shutdown(&c->shutdown_req, (uv_stream_t *)&c->io.tcp, on_shutdown);
  uv_read_start((uv_stream_t *)&c->io.tcp, alloc_cb, on_read);
}

/* ---- Responding ---------------------------------------------------------- */

struct write_req {
  uv_write_t uv;
  struct http_conn *conn;
  char data[];
};

/* After a response went out: start lingering or close when that is what the
 * connection waits for. */
static void leave(struct http_conn *c);

static void response_written(struct http_conn *c, int status) {
  if (c->moving && c->writes_pending == 0) {
    leave(c);
    return;
  }
  bool finished = !c->in_flight && !c->message_complete &&
                  c->writes_pending == 0;
  if (status >= 0 && c->linger && finished && !c->closing)
    start_linger(c);
  else if (status < 0 || ((c->close_after_response || c->closing) && finished))
    close_conn(c);
}

static void on_written(uv_write_t *w, int status) {
  struct write_req *wr = (struct write_req *)w;
  struct http_conn *c = wr->conn;
  herald_free(wr);
  c->writes_pending--;
  response_written(c, status);
}

static void end_request(struct http_conn *c) {
  struct http_request *req = &c->req;
  struct http_handlers *h = &c->hw->server->handlers;
  if (h->end) h->end(req);
  herald_free(req->body);
  c->body_cap = 0;
  struct arena arena = req->arena;
  arena__reset(&arena); /* a chunk stays for the next request */
  memset(req, 0, sizeof *req);
  req->arena = arena;
  c->in_flight = false;
}

static char *put(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

/* The status line, Content-Length and Connection into head (HEAD_MAX
 * bytes); returns the length. */
static size_t format_head(char *head, int status, size_t body_len,
                          bool keep_alive) {
  char *p = put(head, "HTTP/1.1 ");
  p += decimal__write(p, (uint64_t)status, 3);
  *p++ = ' ';
  p = put(p, http_status_str((enum http_status)status));
  p = put(p, "\r\nContent-Length: ");
  p += decimal__write(p, body_len, 1);
  p = put(p, keep_alive ? "\r\nConnection: keep-alive\r\n"
                        : "\r\nConnection: close\r\n");
  return (size_t)(p - head);
}

/* Queues what uv_try_write could not send (from byte `sent` of the parts
 * on): a copy, since the parts live on the caller's stack or heap. */
static int queue_rest(struct http_conn *c, const uv_buf_t *parts, int n_parts,
                      size_t sent) {
  size_t total = 0;
  for (int i = 0; i < n_parts; i++) total += parts[i].len;
  struct write_req *wr = herald_xmalloc(sizeof *wr + total - sent);
  wr->conn = c;
  char *p = wr->data;
  for (int i = 0; i < n_parts; i++) {
    size_t skip = sent < parts[i].len ? sent : parts[i].len;
    memcpy(p, parts[i].base + skip, parts[i].len - skip);
    p += parts[i].len - skip;
    sent -= skip;
  }
  uv_buf_t buf = uv_buf_init(wr->data, (unsigned)(p - wr->data));
  c->writes_pending++;
  if (tls__write(&wr->uv, (uv_stream_t *)&c->io.tcp, &buf, 1, on_written)) {
    herald_free(wr);
    c->writes_pending--;
    return -1;
  }
  return 0;
}

/* Writes the parts now when the socket takes them (no request, no copy, and
 * none of the epoll re-arming libuv does after a queued write), else queues
 * the rest. Returns 1 when all went out, 0 when some is queued, -1 when the
 * connection failed. */
static int send_parts(struct http_conn *c, const uv_buf_t *parts, int n_parts) {
  size_t total = 0;
  for (int i = 0; i < n_parts; i++) total += parts[i].len;
  int sent = tls__try_write((uv_stream_t *)&c->io.tcp, parts, (unsigned)n_parts);
  if (sent == UV_EAGAIN) sent = 0;
  if (sent < 0) return -1;
  if ((size_t)sent == total) return 1;
  return queue_rest(c, parts, n_parts, (size_t)sent);
}

void http__respond(struct http_request *req, int status,
                   const char *extra_headers, const char *body,
                   size_t body_len) {
  struct http_conn *c = req->conn;
  bool keep_alive = !c->close_after_response &&
                    http_should_keep_alive(&c->parser) && !c->head_error;
  if (!keep_alive) c->close_after_response = true;
  if (c->closing) {
    end_request(c);
    close_conn(c);
    return;
  }
  char head[HEAD_MAX];
  uv_buf_t parts[] = {
      uv_buf_init(head, (unsigned)format_head(head, status, body_len, keep_alive)),
      uv_buf_init((char *)(extra_headers ? extra_headers : ""),
                  extra_headers ? (unsigned)strlen(extra_headers) : 0),
      uv_buf_init("\r\n", 2),
      uv_buf_init((char *)(body ? body : ""), (unsigned)body_len),
  };
  int sent = send_parts(c, parts, 4);
  end_request(c);
  set_phase(c, PHASE_IDLE); /* also bounds a response the peer never reads */
  if (sent < 0) {
    close_conn(c);
    return;
  }
  if (sent == 1) response_written(c, 0);
  if (!c->processing) process(c);
}

/* ---- The read/parse/dispatch loop ----------------------------------------- */

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  struct http_conn *c = handle->data;
  struct http_worker *hw = c->hw;
  /* Reads are consumed synchronously in on_read, so one buffer per worker
   * serves every connection; fall back to the heap if it is ever busy. */
  if (!hw->read_buffer_busy) {
    hw->read_buffer_busy = true;
    *buf = uv_buf_init(hw->read_buffer, HTTP_READ_BUFFER_SIZE);
  } else {
    *buf = uv_buf_init(herald_xmalloc(HTTP_READ_BUFFER_SIZE),
                       HTTP_READ_BUFFER_SIZE);
  }
}

static void release_read_buffer(struct http_worker *hw, const uv_buf_t *buf) {
  if (buf->base == hw->read_buffer) hw->read_buffer_busy = false;
  else herald_free(buf->base);
}

static void pending_append(struct http_conn *c, const char *data, size_t len) {
  if (c->pending_len + len > c->pending_cap) {
    size_t cap = grown_capacity(c->pending_cap, c->pending_len + len, 4096);
    c->pending = herald_xrealloc(c->pending, cap);
    c->pending_cap = cap;
  }
  memcpy(c->pending + c->pending_len, data, len);
  c->pending_len += len;
}

static void pending_consume(struct http_conn *c, size_t n) {
  memmove(c->pending, c->pending + n, c->pending_len - n);
  c->pending_len -= n;
  if (c->pending_len == 0) {
    herald_free(c->pending);
    c->pending = NULL;
    c->pending_cap = 0;
  }
}

/* Answers a request that could not be framed or built, then closes:
 * after lingering (start_linger) when the peer may still be sending. */
static void reject(struct http_conn *c, int code, const char *message,
                   bool linger) {
  herald_error err;
  herald_error_set(&err, code, "%s", message);
  c->close_after_response = true;
  c->linger = linger;
  c->in_flight = true;
  c->req.conn = c;
  c->req.worker = c->hw->worker;
  c->req.context = c->hw->server->handlers.context;
  c->req.envelope = -1;
  if (!c->req.arena.chunks) arena__init(&c->req.arena);
  c->hw->server->handlers.error(&c->req, &err);
}

/* Sets the reason the request is refused (message: static, or copied into
 * the request's arena); returns -1 for the parser callback. */
static int refuse(struct http_conn *c, int code, const char *message) {
  c->head_error = code;
  c->head_message = message;
  return -1;
}

/* When a body follows the head, the request is built at once and the
 * layer above may refuse it before the body is read (handlers.precheck): a
 * client without credentials never makes the server hold a body. */
static int precheck(struct http_conn *c) {
  herald_error err;
  c->built = true;
  if (build_request(c))
    return refuse(c, HERALD_E_BAD_REQUEST, "Malformed request target");
  if (c->hw->server->handlers.precheck(&c->req, &err) == 0) return 0;
  return refuse(c, err.code,
                arena__strndup(&c->req.arena, err.message, strlen(err.message)));
}

static void dispatch(struct http_conn *c) {
  c->message_complete = false;
  c->in_flight = true;
  set_phase(c, PHASE_NONE); /* also after a pipelined predecessor's reply */
  if (!c->built && build_request(c)) {
    reject(c, HERALD_E_BAD_REQUEST, "Malformed request target", true);
    return;
  }
  c->hw->server->handlers.dispatch(&c->req);
}

/* Feeds bytes to the parser, which stops after the end of a request, and
 * the strict checks; returns the bytes the parser took. */
static size_t parse(struct http_conn *c, const char *data, size_t len) {
  size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
  const char *malformed = http_strict__scan(&c->strict, data, n,
                                            c->parser.flags & F_CHUNKED);
  if (c->message_complete) http_strict__reset(&c->strict);
  if (malformed && !c->head_error) {
    refuse(c, HERALD_E_BAD_REQUEST, malformed);
    c->message_complete = false; /* never dispatched */
  }
  return n;
}

/* Answers (and closes after) what the parser could not frame; true then.
 * Called once the bytes parsed are consumed: the answer may free them. */
static bool reject_if_malformed(struct http_conn *c) {
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (c->head_error)
    reject(c, c->head_error,
           c->head_message ? c->head_message : herald_strerror(c->head_error),
           true);
  else if (e != HPE_OK && e != HPE_PAUSED)
    reject(c, HERALD_E_BAD_REQUEST, http_errno_description(e), true);
  else
    return false;
  return true;
}

/* Parses pending bytes and dispatches complete requests, one at a time. */
static void process(struct http_conn *c) {
  c->processing = true;
  while (!c->in_flight && !c->closing && !c->upgrade) {
    if (c->message_complete) {
      http_parser_pause(&c->parser, 0);
      dispatch(c);
      continue;
    }
    if (c->pending_len == 0 || c->close_after_response) break;
    pending_consume(c, parse(c, c->pending, c->pending_len));
    if (reject_if_malformed(c)) break;
    if (!c->message_complete) break; /* need more bytes */
  }
  c->processing = false;
  if (c->closing || c->upgrade || c->moving) return;
  if (c->linger) return; /* reading resumes to discard once the reply is out */
  /* Reading goes on while a request is answered (stopping and starting
   * costs two epoll_ctl calls per request); what arrives meanwhile waits
   * in pending, up to a bound. */
  bool full = c->in_flight && c->pending_len > HTTP_PIPELINE_BUFFER;
  if (full || c->close_after_response) uv_read_stop((uv_stream_t *)&c->io.tcp);
  else uv_read_start((uv_stream_t *)&c->io.tcp, alloc_cb, on_read);
  if (c->close_after_response && !c->in_flight && c->writes_pending == 0)
    close_conn(c);
}

/* New bytes from the socket. When nothing waits before them they are
 * parsed where they are, up to the end of the first request (the usual
 * case: no copy); what is left waits in pending for process(). */
static void take_bytes(struct http_conn *c, const char *data, size_t len) {
  bool parse_here = c->pending_len == 0 && !c->in_flight &&
                    !c->message_complete && !c->close_after_response;
  size_t parsed = parse_here ? parse(c, data, len) : 0;
  if (parsed < len) pending_append(c, data + parsed, len - parsed);
  if (parse_here) reject_if_malformed(c);
}

/* Bytes from the peer (plaintext), or nread < 0: EOF or error. */
static void take_input(struct http_conn *c, const char *data, ssize_t nread) {
  uv_stream_t *stream = (uv_stream_t *)&c->io.tcp;
  if (c->upgrade && !c->upgrade_started) {
    /* Before the new protocol is ready (it usually is at once, so reading
     * is not stopped at the upgrade): keep the bytes for it and pause; an
     * EOF is read again once reading resumes. */
    if (nread > 0) pending_append(c, data, (size_t)nread);
    uv_read_stop(stream);
    return;
  }
  if (c->upgrade) {
    if (nread > 0) c->upgrade->on_read(c->upgrade, data, (size_t)nread);
    if (nread < 0) c->upgrade->on_read(c->upgrade, NULL, 0);
    return;
  }
  if (c->linger) {
    c->lingered += nread > 0 ? (size_t)nread : 0;
    if (nread < 0 ||
        c->lingered > 2 * (size_t)c->hw->server->cfg->max_body_size)
      close_conn(c);
    return;
  }
  if (nread > 0) take_bytes(c, data, (size_t)nread);
  if (nread < 0) {
    /* EOF or error: an answered-or-idle connection closes now; one with a
     * request in flight closes when it is answered. */
    if (c->in_flight) {
      c->closing = true;
      uv_read_stop(stream);
    } else {
      close_conn(c);
    }
    return;
  }
  if (nread > 0) process(c);
}

/* Decrypted bytes: on to the HTTP layer while the connection reads. */
static bool take_plaintext(void *conn, const char *data, ssize_t len) {
  struct http_conn *c = conn;
  take_input(c, data, len);
  return !c->closing; /* a connection on its way elsewhere takes the rest */
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  struct http_conn *c = stream->data;
  struct http_worker *hw = c->hw;
  /* A lingering connection only counts what it discards. */
  if (c->io.session && nread > 0 && !c->linger)
    tls__read(&c->io, buf->base, (size_t)nread, take_plaintext, c);
  else
    take_input(c, buf->base, nread);
  release_read_buffer(hw, buf);
}

/* ---- Connection lifetime -------------------------------------------------- */

static void report_if_drained(struct http_worker *hw) {
  if (hw->draining && hw->n_conns == 0 && !hw->drained_reported) {
    hw->drained_reported = true;
    hw->server->handlers.drained(hw->server->handlers.context, hw->worker);
  }
}

static void link_conn(struct http_worker *hw, struct http_conn *c) {
  c->hw = hw;
  c->prev = NULL;
  c->next = hw->conns;
  if (hw->conns) hw->conns->prev = c;
  hw->conns = c;
  hw->n_conns++;
}

static void unlink_conn(struct http_conn *c) {
  struct http_worker *hw = c->hw;
  if (c->prev) c->prev->next = c->next;
  else hw->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  hw->n_conns--;
  deadline__disarm(&c->deadline);
}

static void on_closed(uv_handle_t *handle) {
  struct http_conn *c = handle->data;
  struct http_worker *hw = c->hw;
  unlink_conn(c);
  stop_counting(c);
  herald_free(c->pending);
  herald_free(c->head);
  herald_free(c->header_offsets);
  arena__cleanup(&c->req.arena);
  tls__cleanup(&c->io);
  if (c->upgrade) c->upgrade->on_closed(c->upgrade);
  herald_free(c);
  report_if_drained(hw);
}

static void close_conn(struct http_conn *c) {
  if (uv_is_closing((uv_handle_t *)&c->io.tcp)) return;
  c->closing = true;
  if (c->in_flight) return; /* closed when the request is answered */
  end_request(c);
  uv_close((uv_handle_t *)&c->io.tcp, on_closed);
}

/* Counts c toward its source address; false when that address holds its
 * cap of unauthenticated connections already. */
static bool count_unauthenticated(struct http_conn *c) {
  struct sockaddr_storage addr;
  int len = sizeof addr;
  if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&addr, &len) != 0)
    return true;
  return address_limit__acquire(&c->hw->server->unauthenticated, &addr,
                                &c->unauthenticated) == 0;
}

static bool listener_tls(struct http_worker *hw, uv_stream_t *listener) {
  for (int i = 0; i < hw->n_listeners; i++)
    if ((uv_stream_t *)&hw->listeners[i].tcp == listener)
      return hw->listener_tls[i];
  return false;
}

/* A listener's connection: refused (429) when its address holds its cap of
 * unauthenticated connections (on a TLS listener, closed: there is no
 * session to answer in before the handshake). */
static void accept_conn(void *arg, uv_stream_t *listener) {
  struct http_worker *hw = arg;
  struct http_conn *c = herald_xcalloc(1, sizeof *c);
  c->hw = hw;
  uv_tcp_init(&hw->worker->loop, &c->io.tcp);
  c->io.tcp.data = c;
  if (uv_accept(listener, (uv_stream_t *)&c->io.tcp) != 0) {
    uv_close((uv_handle_t *)&c->io.tcp, (uv_close_cb)herald_free);
    return;
  }
  if (listener_tls(hw, listener)) tls__accept(&c->io, hw->server->tls);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  http_strict__reset(&c->strict);
  arena__init(&c->req.arena);
  link_conn(hw, c);
  set_phase(c, PHASE_NEW);
  if (!count_unauthenticated(c)) {
    reject(c, HERALD_E_RATE_LIMITED,
           "Too many unauthenticated connections from this address", false);
    return;
  }
  if (hw->draining) c->close_after_response = true;
  uv_read_start((uv_stream_t *)&c->io.tcp, alloc_cb, on_read);
}

/* A connection's phase timed out: a request begun gets 408, then the
 * connection closes; an idle, lingering or closing one just closes. */
static void on_deadline(struct deadline *d) {
  struct http_conn *c =
      (struct http_conn *)((char *)d - offsetof(struct http_conn, deadline));
  if (c->phase == PHASE_HEAD || c->phase == PHASE_BODY)
    reject(c, HERALD_E_REQUEST_TIMEOUT,
           c->phase == PHASE_HEAD ? "Request headers not received in time"
                                  : "Request body not received in time",
           false);
  else
    close_conn(c);
}

/* ---- The service and its workers ---------------------------------------- */

void http__server_init(struct http_server *hs, const struct config *cfg,
                       const struct http_handlers *handlers) {
  hs->cfg = cfg;
  hs->handlers = *handlers;
  address_limit__init(&hs->unauthenticated,
                      cfg->max_unauthenticated_per_address);
}

void http__server_cleanup(struct http_server *hs) {
  address_limit__cleanup(&hs->unauthenticated);
}

static void free_worker_state(void *arg) {
  struct http_worker *hw = arg;
  herald_free(hw->read_buffer);
  herald_free(hw);
}

int http__worker_init(struct http_server *hs, struct worker *w,
                      const int *fds, const bool *tls, int n_fds) {
  struct http_worker *hw = herald_xcalloc(1, sizeof *hw);
  hw->server = hs;
  hw->worker = w;
  hw->read_buffer = herald_xmalloc(HTTP_READ_BUFFER_SIZE);
  w->locals[worker__slot(&slot)] = hw;
  worker__at_exit(w, free_worker_state, hw);
  const struct config *cfg = hs->cfg;
  const uint64_t durations[N_QUEUES] = {
      [QUEUE_HEADER] = (uint64_t)cfg->http_header_timeout_ms,
      [QUEUE_BODY] = (uint64_t)cfg->http_body_timeout_ms,
      [QUEUE_IDLE] = (uint64_t)cfg->http_idle_timeout_ms};
  deadline__timer_init(&hw->deadlines, &w->loop, durations, N_QUEUES,
                       on_deadline);
  for (int i = 0; i < n_fds && i < HTTP_MAX_LISTENERS; i++) {
    int rc = listener__init(&hw->listeners[i], w, fds[i], accept_conn, hw);
    if (rc) return rc;
    hw->listener_tls[hw->n_listeners++] = tls[i];
  }
  return 0;
}

void http__authenticated(struct http_request *req) {
  stop_counting(req->conn);
}

void http__fail(struct http_request *req, const herald_error *err) {
  req->conn->hw->server->handlers.error(req, err);
}

/* ---- Moving to another worker ------------------------------------------ */

/* On the target: the connection goes on here, and its request is
 * dispatched again. */
static void arrive(struct worker_task *task) {
  struct move *m = (struct move *)task;
  struct http_conn *c = m->conn;
  struct http_worker *hw = worker_state(m->target);
  link_conn(hw, c);
  c->moving = NULL;
  uv_tcp_init(&hw->worker->loop, &c->io.tcp);
  c->io.tcp.data = c;
  int rc = m->fd < 0 ? m->fd : uv_tcp_open(&c->io.tcp, m->fd);
  if (rc && m->fd >= 0) close(m->fd);
  herald_free(m);
  c->req.worker = hw->worker;
  if (rc || hw->draining) c->close_after_response = true;
  if (rc) c->closing = true; /* the answer only closes */
  hw->server->handlers.dispatch(&c->req);
  report_if_drained(hw);
}

/* On the origin, once libuv let go of the handle. */
static void on_left(uv_handle_t *handle) {
  struct http_conn *c = handle->data;
  struct http_worker *hw = c->hw;
  worker__post(c->moving->target, &c->moving->task, arrive);
  report_if_drained(hw);
}

static void leave(struct http_conn *c) {
  uv_os_fd_t fd;
  int rc = uv_fileno((uv_handle_t *)&c->io.tcp, &fd);
  c->moving->fd = rc ? rc : fcntl(fd, F_DUPFD_CLOEXEC, 0);
  unlink_conn(c);
  uv_read_stop((uv_stream_t *)&c->io.tcp);
  uv_close((uv_handle_t *)&c->io.tcp, on_left);
}

void http__move(struct http_request *req, struct worker *to) {
  struct http_conn *c = req->conn;
  struct move *m = herald_xcalloc(1, sizeof *m);
  m->conn = c;
  m->target = to;
  c->moving = m;
  if (c->writes_pending == 0) leave(c); /* else once they are written */
}

uv_stream_t *http__upgrade(struct http_request *req, struct http_upgrade *u) {
  struct http_conn *c = req->conn;
  end_request(c);
  stop_counting(c);
  set_phase(c, PHASE_NONE); /* the new protocol keeps its own time */
  c->upgrade = u;
  herald_free(c->head); /* the HTTP head is not needed any more */
  herald_free(c->header_offsets);
  c->head = NULL;
  c->header_offsets = NULL;
  c->head_len = c->head_cap = 0;
  c->n_header_parts = c->header_parts_cap = 0;
  arena__cleanup(&c->req.arena);
  return (uv_stream_t *)&c->io.tcp;
}

void http__upgrade_start(uv_stream_t *stream) {
  struct http_conn *c = stream->data;
  c->upgrade_started = true;
  if (c->closing) return;
  uv_read_start(stream, alloc_cb, on_read); /* if an early read paused it */
  if (c->pending_len) {
    char *early = c->pending;
    size_t len = c->pending_len;
    c->pending = NULL;
    c->pending_len = c->pending_cap = 0;
    c->upgrade->on_read(c->upgrade, early, len);
    herald_free(early);
  }
}

void http__close(uv_stream_t *stream) { close_conn(stream->data); }

void http__close_queue(struct outbound *o) { http__close(o->stream); }

void http__close_when_sent(struct outbound *o) {
  struct http_conn *c = o->stream->data;
  set_phase(c, PHASE_CLOSING);
  o->on_empty = http__close_queue;
  if (outbound__empty(o) && !o->dirty) close_conn(c);
}

void http__drain(struct worker *w) {
  struct http_worker *hw = worker_state(w);
  hw->draining = true;
  for (int i = 0; i < hw->n_listeners; i++) listener__stop(&hw->listeners[i]);
  for (struct http_conn *c = hw->conns, *next; c; c = next) {
    next = c->next;
    if (c->upgrade) {
      c->upgrade->on_drain(c->upgrade);
      continue;
    }
    c->close_after_response = true;
    if (!c->in_flight && c->writes_pending == 0 && c->pending_len == 0)
      close_conn(c);
  }
  report_if_drained(hw);
}
