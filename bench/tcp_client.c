/* tcp_client.c -- outgoing TCP connection with coalesced writes (see
 * tcp_client.h). */
#include "tcp_client.h"

#include <stddef.h>

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr)-offsetof(type, member)))

/* Reads are handled before the next one is allocated, so one buffer per
 * thread serves every connection of that thread. */
#define READ_BUFFER_SIZE (256u << 10)
static _Thread_local char read_buffer[READ_BUFFER_SIZE];

/* ---- Reading ------------------------------------------------------------- */

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  buf->base = read_buffer;
  buf->len = sizeof read_buffer;
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  struct tcp_client *c = container_of(stream, struct tcp_client, handle);
  if (nread > 0) {
    c->read_ns = uv_hrtime();
    c->events->read(c, buf->base, (size_t)nread);
  } else if (nread < 0) {
    uv_read_stop(stream);
    c->events->ended(c, (int)nread);
  }
}

static void connect_cb(uv_connect_t *req, int status) {
  struct tcp_client *c = container_of(req, struct tcp_client, connect_req);
  if (status == UV_ECANCELED) return; /* closed while connecting */
  if (status == 0) {
    uv_tcp_nodelay(&c->handle, 1);
    status = uv_read_start((uv_stream_t *)&c->handle, alloc_cb, read_cb);
  }
  c->events->connected(c, status);
}

int tcp_client__connect(struct tcp_client *c, uv_loop_t *loop,
                        const struct sockaddr *addr,
                        const struct tcp_client_events *events) {
  c->events = events;
  c->queued.len = c->writing.len = 0;
  c->close_when_flushed = false;
  /* On Unix uv_tcp_init creates no socket and cannot fail; the socket is
   * made by uv_tcp_connect, whose failure leaves an open handle. */
  uv_tcp_init(loop, &c->handle);
  c->open = true;
  return uv_tcp_connect(&c->connect_req, &c->handle, addr, connect_cb);
}

/* ---- Writing ------------------------------------------------------------- */

static void start_write(struct tcp_client *c);

static void write_cb(uv_write_t *req, int status) {
  struct tcp_client *c = container_of(req, struct tcp_client, write_req);
  c->writing.len = 0;
  if (!c->open) return;
  if (status) {
    c->events->ended(c, status);
  } else if (c->queued.len) {
    start_write(c);
  } else if (c->close_when_flushed) {
    tcp_client__close(c);
  }
}

/* Swaps the queue into the in-flight buffer and writes it. */
static void start_write(struct tcp_client *c) {
  struct byte_buf swap = c->writing;
  c->writing = c->queued;
  c->queued = swap;
  uv_buf_t buf = uv_buf_init(c->writing.data, (unsigned)c->writing.len);
  if (uv_write(&c->write_req, (uv_stream_t *)&c->handle, &buf, 1, write_cb)) {
    c->writing.len = 0;
    tcp_client__close(c);
  }
}

int tcp_client__write(struct tcp_client *c, const void *data, size_t len) {
  return byte_buf__append(&c->queued, data, len, TCP_CLIENT_MAX_QUEUED);
}

int tcp_client__flush(struct tcp_client *c) {
  if (!c->open) return UV_EPIPE;
  if (!c->writing.len && c->queued.len) start_write(c);
  return 0;
}

/* ---- Closing ------------------------------------------------------------- */

static void close_cb(uv_handle_t *handle) {
  struct tcp_client *c = container_of(handle, struct tcp_client, handle);
  byte_buf__cleanup(&c->queued);
  byte_buf__cleanup(&c->writing);
  c->events->closed(c);
}

void tcp_client__close(struct tcp_client *c) {
  if (!c->open) return;
  c->open = false;
  uv_close((uv_handle_t *)&c->handle, close_cb);
}

void tcp_client__close_when_flushed(struct tcp_client *c) {
  if (!c->open) return;
  c->close_when_flushed = true;
  tcp_client__flush(c);
  if (!c->writing.len) tcp_client__close(c);
}
