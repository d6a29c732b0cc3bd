/* turns.c -- operations on one message one at a time (see turns.h). */
#include "channel/turns.h"

#include <string.h>

#include "alloc.h"
#include "channel/channel.h"
#include "hashmap.h"

/* The operations on one message: head is in flight, the others wait. */
struct turn_queue {
  struct publish *head, *tail;
};

static int slot = -1;

static void free_queues(void *arg) {
  struct hashmap *queues = arg;
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(queues, &bucket); e;
       e = hashmap__next(queues, e, &bucket))
    herald_free(e->value);
  hashmap__cleanup(queues);
  herald_free(queues);
}

void turns__worker_init(struct worker *w) {
  struct hashmap *queues = herald_xcalloc(1, sizeof *queues);
  hashmap__init(queues);
  w->locals[worker__slot(&slot)] = queues;
  worker__at_exit(w, free_queues, queues);
}

/* The message's key: app id, channel, serial, '\n' between. */
static char *key_of(const struct publish *p, const char *serial) {
  const char *parts[] = {p->app->id, p->channel, serial};
  size_t n[3], total = 0;
  for (int i = 0; i < 3; i++) total += (n[i] = strlen(parts[i])) + 1;
  char *key = herald_xmalloc(total), *at = key;
  for (int i = 0; i < 3; i++) {
    memcpy(at, parts[i], n[i]);
    at[n[i]] = i < 2 ? '\n' : '\0';
    at += n[i] + 1;
  }
  return key;
}

bool turns__take(struct publish *p, const char *serial,
                 void (*on_turn)(struct publish *p)) {
  struct hashmap *queues = worker__self()->locals[slot];
  p->turn.key = key_of(p, serial);
  p->turn.on_turn = on_turn;
  size_t len = strlen(p->turn.key);
  struct turn_queue *q = hashmap__get(queues, p->turn.key, len);
  if (!q) {
    q = herald_xcalloc(1, sizeof *q);
    q->head = q->tail = p;
    hashmap__put(queues, p->turn.key, len, q);
    return true;
  }
  q->tail->turn.next = p;
  q->tail = p;
  return false;
}

void turns__release(struct publish *p) {
  if (!p->turn.key) return; /* took no turn */
  struct hashmap *queues = worker__self()->locals[slot];
  size_t len = strlen(p->turn.key);
  struct turn_queue *q = hashmap__get(queues, p->turn.key, len);
  struct publish *next = p->turn.next;
  if (next) {
    q->head = next;
  } else {
    hashmap__remove(queues, p->turn.key, len);
    herald_free(q);
  }
  herald_free(p->turn.key);
  p->turn.key = NULL;
  p->turn.next = NULL;
  if (next) next->turn.on_turn(next);
}
