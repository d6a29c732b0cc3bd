/* deadline.h -- timeouts for many objects on one libuv timer.
 *
 * A deadline queue holds deadlines of one duration, so its entries expire
 * in the order they were armed: arming and disarming are O(1) list moves,
 * and one uv_timer per deadline_timer fires at the earliest head of its
 * queues. An object embeds a struct deadline (32 bytes) and costs nothing
 * else while it is not armed. Single-threaded: a timer and its deadlines
 * belong to one loop. */
#ifndef HERALD_DEADLINE_H
#define HERALD_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define DEADLINE_MAX_QUEUES 4

struct deadline_queue;

struct deadline {
  struct deadline *prev, *next;
  struct deadline_queue *queue; /* NULL while not armed */
  uint64_t at_ms;               /* uv_now() time it expires */
};

struct deadline_queue {
  struct deadline *head, *tail; /* earliest first */
  uint64_t duration_ms;
};

struct deadline_timer {
  uv_timer_t timer;
  struct deadline_queue queues[DEADLINE_MAX_QUEUES];
  size_t n_queues;
  uint64_t due_ms; /* when the timer fires, 0 when it is stopped */
  /* Called for each expired deadline, already disarmed; it may arm or
   * disarm any deadline of this timer. */
  void (*expired_cb)(struct deadline *d);
};

/* Sets up t on loop with one queue per duration (at most
 * DEADLINE_MAX_QUEUES); queue i is t->queues[i]. */
void deadline__timer_init(struct deadline_timer *t, uv_loop_t *loop,
                          const uint64_t *durations_ms, size_t n,
                          void (*expired_cb)(struct deadline *d));

/* (Re)arms d to expire queue->duration_ms from now, behind the deadlines
 * already in queue. */
void deadline__arm(struct deadline_timer *t, struct deadline *d,
                   struct deadline_queue *queue);

/* Disarms d (nothing when it is not armed). */
void deadline__disarm(struct deadline *d);

static inline bool deadline__armed(const struct deadline *d) {
  return d->queue != NULL;
}

#endif
