/* deadline.c -- equal-duration deadline queues behind one libuv timer (see
 * deadline.h). */
#include "core/deadline.h"

#include <string.h>

static void on_timer(uv_timer_t *timer);

void deadline__timer_init(struct deadline_timer *t, uv_loop_t *loop,
                          const uint64_t *durations_ms, size_t n,
                          void (*expired_cb)(struct deadline *d)) {
  memset(t, 0, sizeof *t);
  uv_timer_init(loop, &t->timer);
  t->timer.data = t;
  t->n_queues = n < DEADLINE_MAX_QUEUES ? n : DEADLINE_MAX_QUEUES;
  for (size_t i = 0; i < t->n_queues; i++)
    t->queues[i].duration_ms = durations_ms[i];
  t->expired_cb = expired_cb;
}

/* Makes the timer fire at `at` unless it already fires no later. */
static void schedule(struct deadline_timer *t, uint64_t at) {
  if (t->due_ms && t->due_ms <= at) return;
  uint64_t now = uv_now(t->timer.loop);
  t->due_ms = at;
  uv_timer_start(&t->timer, on_timer, at > now ? at - now : 0, 0);
}

void deadline__disarm(struct deadline *d) {
  struct deadline_queue *q = d->queue;
  if (!q) return;
  if (d->prev) d->prev->next = d->next;
  else q->head = d->next;
  if (d->next) d->next->prev = d->prev;
  else q->tail = d->prev;
  d->prev = d->next = NULL;
  d->queue = NULL;
}

void deadline__arm(struct deadline_timer *t, struct deadline *d,
                   struct deadline_queue *queue) {
  deadline__disarm(d);
  d->at_ms = uv_now(t->timer.loop) + queue->duration_ms;
  d->queue = queue;
  d->prev = queue->tail;
  if (queue->tail) queue->tail->next = d;
  else queue->head = d;
  queue->tail = d;
  schedule(t, d->at_ms);
}

/* Expires what is due in every queue, then waits for the earliest head.
 * A disarmed deadline leaves the timer set: it then fires early once and
 * reschedules itself, which is cheaper than restarting it on every move. */
static void on_timer(uv_timer_t *timer) {
  struct deadline_timer *t = timer->data;
  uint64_t now = uv_now(timer->loop);
  t->due_ms = 0;
  for (size_t i = 0; i < t->n_queues; i++) {
    struct deadline *d;
    while ((d = t->queues[i].head) && d->at_ms <= now) {
      deadline__disarm(d);
      t->expired_cb(d);
    }
  }
  for (size_t i = 0; i < t->n_queues; i++)
    if (t->queues[i].head) schedule(t, t->queues[i].head->at_ms);
}
