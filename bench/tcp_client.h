/* tcp_client.h -- one outgoing TCP connection on a libuv loop, with writes
 * coalesced: tcp_client__write only appends to a queue, tcp_client__flush
 * hands everything queued to the kernel in one write, and bytes queued while
 * a write is in flight leave together when it completes.
 * Owns: the uv_tcp_t (embedded) and the two write buffers. Reads land in one
 * buffer per thread, valid only during the read callback. */
#ifndef HERALD_BENCH_TCP_CLIENT_H
#define HERALD_BENCH_TCP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

/* Most bytes a connection may have queued for writing. */
#define TCP_CLIENT_MAX_QUEUED (64u << 20)

struct tcp_client;

struct tcp_client_events {
  /* The connection is up (status 0) or failed (a libuv error; close it). */
  void (*connected)(struct tcp_client *c, int status);
  /* Bytes arrived; c->read_ns says when. */
  void (*read)(struct tcp_client *c, const char *data, size_t len);
  /* The peer closed the connection or it failed (a libuv error, UV_EOF for a
   * clean end; also a failed write). Close it. May come more than once. */
  void (*ended)(struct tcp_client *c, int status);
  /* The handle is closed: the struct may be reused or freed. */
  void (*closed)(struct tcp_client *c);
};

struct tcp_client {
  uv_tcp_t handle;
  uv_connect_t connect_req;
  uv_write_t write_req;
  const struct tcp_client_events *events;
  struct byte_buf queued;  /* appended by tcp_client__write */
  struct byte_buf writing; /* in the write in flight */
  uint64_t read_ns;        /* uv_hrtime() of the read being delivered */
  bool open;               /* handle initialised and not yet closing */
  bool close_when_flushed;
};

/* Starts connecting to addr. Returns 0 (events->connected follows), or a
 * libuv error (such as EMFILE); either way the handle is open, so the owner
 * ends with tcp_client__close and its closed callback. */
int tcp_client__connect(struct tcp_client *c, uv_loop_t *loop,
                        const struct sockaddr *addr,
                        const struct tcp_client_events *events);

/* Queues bytes; nothing is sent before tcp_client__flush. Returns 0, or -1
 * when the queue would exceed TCP_CLIENT_MAX_QUEUED. */
int tcp_client__write(struct tcp_client *c, const void *data, size_t len);

/* Sends what is queued now, unless a write is in flight (its completion
 * sends the rest). Returns 0 or a libuv error. */
int tcp_client__flush(struct tcp_client *c);

/* Closes at once, dropping unsent bytes; events->closed follows. Does
 * nothing when already closing. */
void tcp_client__close(struct tcp_client *c);

/* Flushes, then closes once the queued bytes are written. */
void tcp_client__close_when_flushed(struct tcp_client *c);

#endif
