/* worker.h -- an I/O worker: one thread, one libuv loop, its own
 * SO_REUSEPORT listeners, and an inbox other threads post tasks to.
 *
 * A connection lives on one worker for its whole life. Cross-thread work
 * (a publish handed to its channel's owner, a store completion handed back)
 * travels as a struct worker_task embedded in the object it concerns, so
 * posting never allocates and the hot path takes no lock but the inbox's. */
#ifndef HERALD_WORKER_H
#define HERALD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/deadline.h"
#include "transport/listener.h"

#define WORKER_MAX_LISTENERS 8
#define WORKER_READ_BUFFER_SIZE (64 * 1024)

struct server;
struct channel_table;
struct realtime_worker;
struct outbound_flusher;

struct worker_task {
  void (*fn)(struct worker_task *task);
  struct worker_task *next;
};

struct worker {
  int index;
  struct server *server;
  uv_loop_t loop;
  uv_thread_t thread;
  uv_async_t inbox_signal;
  uv_mutex_t inbox_lock;
  struct worker_task *inbox_head, *inbox_tail;
  struct listener listeners[WORKER_MAX_LISTENERS];
  int n_listeners;
  struct channel_table *channels; /* channels this worker owns */
  struct realtime_worker *realtime; /* subscriptions, realtime connections */
  struct outbound_flusher *flusher; /* coalesced writes (outbound.h) */
  char *read_buffer;  /* shared by this worker's connections */
  bool read_buffer_busy;
  struct http_conn *conns; /* every open HTTP connection, for shutdown */
  size_t n_conns;
  struct deadline_timer http_deadlines; /* their timeouts (http.c) */
  bool draining;
  bool drained_reported;
  struct worker_task drain_task, exit_task;
};

/* Sets up the worker's loop, inbox and per-worker state. Every worker is
 * initialised before any starts, so a post never finds one half made.
 * 0 or a negative errno. */
int worker__init(struct worker *w, struct server *server, int index);

/* Only the loop and the inbox of w (zeroed): enough for worker__post to
 * reach it. worker__init starts with this; the store's unit tests use it
 * alone, to receive completions as a worker does. 0 or a negative errno. */
int worker__init_inbox(struct worker *w);

/* Listens on the given bound sockets (the worker takes ownership of the
 * descriptors) and starts the worker's thread. 0 or a negative errno. */
int worker__start(struct worker *w, const int *fds, int n_fds);

/* Runs task->fn(task) on w's thread, soon. Safe from any thread. */
void worker__post(struct worker *w, struct worker_task *task,
                  void (*fn)(struct worker_task *));

/* The worker whose thread is calling, or NULL on other threads. */
struct worker *worker__self(void);

/* Shutdown, in two phases driven by server.c: drain (stop accepting, close
 * idle connections, let in-flight requests finish, then report) and exit
 * (close the inbox and end the thread). Both are posted, so any thread may
 * call them; worker__join waits for the thread. */
void worker__drain(struct worker *w);
void worker__exit(struct worker *w);
void worker__join(struct worker *w);

/* Called by the HTTP layer when a connection is gone, so a draining worker
 * can report that it is done. */
void worker__conn_closed(struct worker *w);

#endif
