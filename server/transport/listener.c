/* listener.c -- accepting, and pausing while descriptors run out (see
 * listener.h). */
#include "transport/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "clock.h"
#include "core/log.h"
#include "core/worker.h"

#define LISTEN_BACKLOG 1024
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 1000

static void on_connection(uv_stream_t *stream, int status);

/* A libuv handle listening on fd, a duplicate of the socket's descriptor
 * (closing the handle closes fd, never the socket). */
static int listen_on(struct listener *l, int fd) {
  uv_tcp_init(&l->worker->loop, &l->tcp);
  l->tcp.data = l;
  int rc = uv_tcp_open(&l->tcp, fd);
  if (rc) close(fd);
  else rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection);
  return rc;
}

static int duplicate(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

int listener__init(struct listener *l, struct worker *w, int fd,
                   void (*hand_over)(void *arg, uv_stream_t *stream),
                   void *arg) {
  l->worker = w;
  l->hand_over = hand_over;
  l->arg = arg;
  l->socket_fd = fd;
  l->backoff_ms = BACKOFF_FIRST_MS;
  uv_timer_init(&w->loop, &l->backoff);
  l->backoff.data = l;
  int handle_fd = duplicate(fd);
  return handle_fd < 0 ? -errno : listen_on(l, handle_fd);
}

void listener__stop(struct listener *l) {
  l->stopped = true;
  uv_timer_stop(&l->backoff);
  if (!l->paused) uv_close((uv_handle_t *)&l->tcp, NULL);
  close(l->socket_fd);
}

/* ---- Pausing ---------------------------------------------------------------- */

static void on_backoff(uv_timer_t *timer);

static void wait_backoff(struct listener *l) {
  uv_timer_start(&l->backoff, on_backoff, l->backoff_ms, 0);
  l->backoff_ms = l->backoff_ms * 2 < BACKOFF_MAX_MS ? l->backoff_ms * 2
                                                     : BACKOFF_MAX_MS;
}

static void on_handle_closed(uv_handle_t *handle) {
  struct listener *l = handle->data;
  if (!l->stopped) wait_backoff(l);
}

/* Accepting resumes once a descriptor can be had again. */
static void on_backoff(uv_timer_t *timer) {
  struct listener *l = timer->data;
  int fd = duplicate(l->socket_fd);
  if (fd < 0) {
    wait_backoff(l);
    return;
  }
  int rc = listen_on(l, fd);
  if (rc) {
    log_error("worker %d: cannot listen again: %s", l->worker->index,
              uv_strerror(rc));
    uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
    return;
  }
  l->paused = false;
}

/* Closing the handle is what ends libuv's accept loop. */
static void pause_accepting(struct listener *l, int status) {
  if (!l->warned)
    log_warn("worker %d: accept failed: %s; not accepting for up to %d ms at "
             "a time until it succeeds (raise the open files limit, ulimit -n)",
             l->worker->index, uv_strerror(status), BACKOFF_MAX_MS);
  l->warned = true;
  l->paused = true;
  uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
}

/* Other failures concern one connection each: said once a second, with a
 * count. Not uv_now: libuv may call back in a loop without advancing it. */
static void report_failure(struct listener *l, int status) {
  uint64_t now = (uint64_t)clock__now_ms();
  l->failures++;
  if (now - l->failure_reported_ms < 1000) return;
  log_warn("worker %d: accept failed %lu time(s) in the last second: %s",
           l->worker->index, (unsigned long)l->failures, uv_strerror(status));
  l->failures = 0;
  l->failure_reported_ms = now;
}

static bool out_of_resources(int status) {
  return status == UV_EMFILE || status == UV_ENFILE || status == UV_ENOBUFS ||
         status == UV_ENOMEM;
}

static void on_connection(uv_stream_t *stream, int status) {
  struct listener *l = stream->data;
  if (l->paused) return; /* closing: libuv's loop ends with this call */
  if (out_of_resources(status)) {
    pause_accepting(l, status);
    return;
  }
  if (status < 0) {
    report_failure(l, status);
    return;
  }
  if (l->warned) {
    log_info("worker %d: accepting connections again", l->worker->index);
    l->warned = false;
    l->backoff_ms = BACKOFF_FIRST_MS;
  }
  l->hand_over(l->arg, stream);
}
