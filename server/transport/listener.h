/* listener.h -- one listening socket of a worker: it hands each new
 * connection to its hand_over callback (the HTTP layer's) and, when the
 * process runs out of descriptors (or kernel memory), stops accepting for a while.
 *
 * libuv retries a failed accept at once and for as long as connections
 * wait, so without the pause a worker out of descriptors spins inside one
 * callback and never sees its inbox (SIGTERM could not stop it). Pausing
 * closes the libuv handle; a duplicate descriptor keeps the socket itself,
 * and the connections queued on it, open until accepting resumes. */
#ifndef HERALD_LISTENER_H
#define HERALD_LISTENER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct worker;

struct listener {
  uv_tcp_t tcp;
  struct worker *worker;
  /* A connection waits on stream: accept it (uv_accept) now. */
  void (*hand_over)(void *arg, uv_stream_t *stream);
  void *arg;
  int socket_fd;  /* a duplicate of the listening socket's descriptor */
  uv_timer_t backoff;
  uint64_t backoff_ms; /* the next pause */
  bool paused;         /* tcp is closed (or closing) until the back-off ends */
  bool stopped;
  bool warned;         /* the pause was logged; cleared once accepting again */
  uint64_t failures;   /* other accept failures since the last report */
  uint64_t failure_reported_ms;
};

/* Takes over fd, a bound, listening socket, and accepts on it once the
 * worker's loop runs (call before it does), each connection handed to
 * hand_over(arg, ...). Returns 0 or a negative errno. */
int listener__init(struct listener *l, struct worker *w, int fd,
                   void (*hand_over)(void *arg, uv_stream_t *stream),
                   void *arg);

/* Stops accepting for good and closes the socket (shutdown). */
void listener__stop(struct listener *l);

#endif
