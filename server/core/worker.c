/* worker.c -- I/O worker threads: loop, inbox, per-worker slots and the
 * end of the thread (see worker.h). */
#include "core/worker.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local struct worker *current_worker;

struct worker *worker__self(void) { return current_worker; }

/* ---- Inbox --------------------------------------------------------------- */

void worker__post(struct worker *w, struct worker_task *task,
                  void (*fn)(struct worker_task *)) {
  task->fn = fn;
  task->next = NULL;
  uv_mutex_lock(&w->inbox_lock);
  if (w->closed) { /* the process is stopping: nothing runs it any more */
    uv_mutex_unlock(&w->inbox_lock);
    return;
  }
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

/* ---- Life ---------------------------------------------------------------- */

int worker__init(struct worker *w, struct worker_pool *pool, int index) {
  memset(w, 0, sizeof *w);
  w->index = index;
  w->pool = pool;
  int rc = uv_loop_init(&w->loop);
  if (rc) return rc;
  uv_mutex_init(&w->inbox_lock);
  uv_async_init(&w->loop, &w->inbox_signal, on_inbox);
  w->inbox_signal.data = w;
  return 0;
}

int worker__slot(int *slot) {
  static atomic_int taken;
  if (*slot < 0) *slot = atomic_fetch_add(&taken, 1);
  if (*slot >= WORKER_SLOTS) abort(); /* raise WORKER_SLOTS */
  return *slot;
}

void worker__at_exit(struct worker *w, void (*fn)(void *arg), void *arg) {
  if (w->n_at_exit == WORKER_AT_EXIT) abort(); /* raise WORKER_AT_EXIT */
  w->at_exit[w->n_at_exit++] = (struct worker_exit_hook){fn, arg};
}

static void run_thread(void *arg) {
  struct worker *w = arg;
  current_worker = w;
  uv_run(&w->loop, UV_RUN_DEFAULT);
  while (w->n_at_exit > 0) {
    struct worker_exit_hook *h = &w->at_exit[--w->n_at_exit];
    h->fn(h->arg);
  }
  uv_loop_close(&w->loop);
}

int worker__start(struct worker *w) {
  return uv_thread_create(&w->thread, run_thread, w);
}

static void close_any(uv_handle_t *handle, void *arg) {
  if (!uv_is_closing(handle)) uv_close(handle, NULL);
}

static void exit_on_worker(struct worker_task *task) {
  struct worker *w = worker__self();
  uv_mutex_lock(&w->inbox_lock);
  w->closed = true;
  uv_mutex_unlock(&w->inbox_lock);
  on_inbox(&w->inbox_signal); /* what was posted before it closed */
  uv_walk(&w->loop, close_any, NULL);
}

void worker__exit(struct worker *w) {
  worker__post(w, &w->exit_task, exit_on_worker);
}

void worker__join(struct worker *w) { uv_thread_join(&w->thread); }

void worker__cleanup(struct worker *w) { uv_mutex_destroy(&w->inbox_lock); }
