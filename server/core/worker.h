/* worker.h -- an I/O worker: one thread, one libuv loop, and an inbox other
 * threads post tasks to. The bottom layer: every other layer runs on
 * workers, and a worker knows nothing of them.
 *
 * A connection lives on one worker for its whole life. Cross-thread work
 * (a publish handed to its channel's owner, a store completion handed back)
 * travels as a struct worker_task embedded in the object it concerns, so
 * posting never allocates and the hot path takes no lock but the inbox's.
 *
 * A layer that keeps state per worker (its connections, the channels the
 * worker owns) takes a slot once (worker__slot) and keeps that state in
 * w->locals[slot]; what must be released on the worker's own thread when
 * its loop ends is registered with worker__at_exit. */
#ifndef HERALD_WORKER_H
#define HERALD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define WORKER_SLOTS 16
#define WORKER_AT_EXIT 16

struct worker_task {
  void (*fn)(struct worker_task *task);
  struct worker_task *next;
};

/* The workers of one process, so that any of them can post to another. */
struct worker_pool {
  struct worker *workers;
  int n;
};

struct worker_exit_hook {
  void (*fn)(void *arg);
  void *arg;
};

struct worker {
  int index; /* in pool->workers */
  struct worker_pool *pool;
  uv_loop_t loop;
  uv_thread_t thread;
  uv_async_t inbox_signal;
  uv_mutex_t inbox_lock;
  struct worker_task *inbox_head, *inbox_tail;
  void *locals[WORKER_SLOTS]; /* the layers' state, by slot */
  struct worker_exit_hook at_exit[WORKER_AT_EXIT];
  int n_at_exit;
  struct worker_task exit_task;
  bool closed; /* under inbox_lock: exited, posts are dropped */
};

/* Sets up worker `index` of pool (pool->workers[index]): its loop and
 * inbox. Every worker is initialised before any starts, so a post never
 * finds one half made. 0 or a negative errno. */
int worker__init(struct worker *w, struct worker_pool *pool, int index);

/* Starts the worker's thread, which runs its loop. 0 or a negative errno. */
int worker__start(struct worker *w);

/* Runs task->fn(task) on w's thread, soon. Safe from any thread. */
void worker__post(struct worker *w, struct worker_task *task,
                  void (*fn)(struct worker_task *));

/* The worker whose thread is calling, or NULL on other threads. */
struct worker *worker__self(void);

/* The slot a layer keeps its per-worker state in: *slot, taken the first
 * time (a static initialised to -1), at start-up before workers run. */
int worker__slot(int *slot);

/* Runs fn(arg) on w's thread once its loop has ended, the latest
 * registered first (layers are torn down in the reverse of their making).
 * Before worker__start. */
void worker__at_exit(struct worker *w, void (*fn)(void *arg), void *arg);

/* Closes every handle of w's loop, which then ends, and with it the thread
 * (posted: any thread may call); worker__join waits for the thread. */
void worker__exit(struct worker *w);
void worker__join(struct worker *w);
/* Once no thread may post to w any more (every worker joined, the store
 * closed). */
void worker__cleanup(struct worker *w);

#endif
