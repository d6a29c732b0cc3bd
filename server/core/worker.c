/* worker.c -- I/O worker threads: loop, inbox and shutdown phases (see
 * worker.h); listening is listener.c. */
#include "core/worker.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "channel/channel.h"
#include "transport/http.h"
#include "transport/outbound.h"
#include "realtime/realtime.h"
#include "server.h"
#include "store/store.h"
#include "transport/websocket.h"

static _Thread_local struct worker *current_worker;

struct worker *worker__self(void) { return current_worker; }

/* ---- Inbox --------------------------------------------------------------- */

void worker__post(struct worker *w, struct worker_task *task,
                  void (*fn)(struct worker_task *)) {
  task->fn = fn;
  task->next = NULL;
  uv_mutex_lock(&w->inbox_lock);
  if (w->inbox_tail) w->inbox_tail->next = task;
  else w->inbox_head = task;
  w->inbox_tail = task;
  uv_mutex_unlock(&w->inbox_lock);
  uv_async_send(&w->inbox_signal);
}

/* Runs every task posted so far, in posting order. */
static void on_inbox(uv_async_t *handle) {
  struct worker *w = handle->data;
  uv_mutex_lock(&w->inbox_lock);
  struct worker_task *task = w->inbox_head;
  w->inbox_head = w->inbox_tail = NULL;
  uv_mutex_unlock(&w->inbox_lock);
  while (task) {
    struct worker_task *next = task->next;
    task->fn(task);
    task = next;
  }
}

static void run_thread(void *arg) {
  struct worker *w = arg;
  current_worker = w;
  uv_run(&w->loop, UV_RUN_DEFAULT);
  realtime__worker_free(w->realtime);
  websocket__thread_cleanup();
  outbound__flusher_free(w->flusher);
  channel__table_free(w->channels);
  herald_free(w->read_buffer);
  uv_loop_close(&w->loop);
}

int worker__init_inbox(struct worker *w) {
  int rc = uv_loop_init(&w->loop);
  if (rc) return rc;
  uv_mutex_init(&w->inbox_lock);
  uv_async_init(&w->loop, &w->inbox_signal, on_inbox);
  w->inbox_signal.data = w;
  return 0;
}

int worker__init(struct worker *w, struct server *server, int index) {
  memset(w, 0, sizeof *w);
  w->index = index;
  w->server = server;
  w->channels = channel__table_new(server->node_id, index,
                                   store__last_serial_ms(server->store) + 1);
  w->read_buffer = herald_xmalloc(WORKER_READ_BUFFER_SIZE);
  int rc = worker__init_inbox(w);
  if (rc) return rc;
  w->flusher = outbound__flusher_new(&w->loop);
  http__worker_init(w);
  w->realtime = realtime__worker_new(w);
  return 0;
}

int worker__start(struct worker *w, const int *fds, int n_fds) {
  int rc;
  for (int i = 0; i < n_fds && i < WORKER_MAX_LISTENERS; i++) {
    if ((rc = listener__init(&w->listeners[i], w, fds[i])) != 0) return rc;
    w->n_listeners++;
  }
  return uv_thread_create(&w->thread, run_thread, w);
}

/* ---- Shutdown ------------------------------------------------------------ */

static void report_if_drained(struct worker *w) {
  if (w->draining && w->n_conns == 0 && !w->drained_reported) {
    w->drained_reported = true;
    server__worker_drained(w->server);
  }
}

static void drain_on_worker(struct worker_task *task) {
  struct worker *w = worker__self();
  w->draining = true;
  for (int i = 0; i < w->n_listeners; i++) listener__stop(&w->listeners[i]);
  http__drain(w);
  report_if_drained(w);
}

void worker__drain(struct worker *w) {
  worker__post(w, &w->drain_task, drain_on_worker);
}

void worker__conn_closed(struct worker *w) { report_if_drained(w); }

static void close_any(uv_handle_t *handle, void *arg) {
  if (!uv_is_closing(handle)) uv_close(handle, NULL);
}

static void exit_on_worker(struct worker_task *task) {
  struct worker *w = worker__self();
  uv_walk(&w->loop, close_any, NULL);
}

void worker__exit(struct worker *w) {
  worker__post(w, &w->exit_task, exit_on_worker);
}

void worker__join(struct worker *w) {
  uv_thread_join(&w->thread);
  uv_mutex_destroy(&w->inbox_lock);
}
