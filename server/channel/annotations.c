/* annotations.c -- annotations on their channel's owner (see
 * annotations.h).
 * Owns: each owner's queues of the annotations of one message. */
#include "channel/annotations.h"

#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "annotation_summary.h"
#include "auth/apps.h"
#include "capability.h"
#include "channel/channel.h"
#include "hashmap.h"

/* As changes.c: a message that keeps changing is given up on. */
#define MAX_ATTEMPTS 16

/* On an owner: the annotations of one message, applied one at a time
 * (each would else find the summary changed by the others, over and over):
 * head is in flight, the others wait in order. */
struct annotation_queue {
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

void annotations__worker_init(struct worker *w) {
  struct hashmap *queues = herald_xcalloc(1, sizeof *queues);
  hashmap__init(queues);
  w->locals[worker__slot(&slot)] = queues;
  worker__at_exit(w, free_queues, queues);
}

/* p's message's key in the owner's queues: app id, channel, serial. */
static char *queue_key(const struct publish *p, size_t *len) {
  const char *parts[] = {p->app->id, p->channel,
                         p->change.op->annotation->message_serial};
  size_t n[3], total = 0;
  for (int i = 0; i < 3; i++) total += (n[i] = strlen(parts[i])) + 1;
  char *key = herald_xmalloc(total), *at = key;
  for (int i = 0; i < 3; i++) {
    memcpy(at, parts[i], n[i]);
    at[n[i]] = '\n';
    at += n[i] + 1;
  }
  *len = total - 1;
  return key;
}

/* Whether p may go now: it is first of its message's queue (else it waits
 * there until annotations__finished starts it). */
static bool take_turn(struct publish *p) {
  struct hashmap *queues = worker__self()->locals[slot];
  size_t len;
  char *key = queue_key(p, &len);
  struct annotation_queue *q = hashmap__get(queues, key, len);
  bool first = !q;
  if (first) {
    q = herald_xcalloc(1, sizeof *q);
    q->head = q->tail = p;
    hashmap__put(queues, key, len, q);
  } else {
    q->tail->next_annotation = p;
    q->tail = p;
  }
  herald_free(key);
  return first;
}

static void read_message(struct publish *p);

void annotations__finished(struct publish *p) {
  struct hashmap *queues = worker__self()->locals[slot];
  size_t len;
  char *key = queue_key(p, &len);
  struct annotation_queue *q = hashmap__get(queues, key, len);
  struct publish *next = p->next_annotation;
  p->next_annotation = NULL;
  if (next) {
    q->head = next;
  } else {
    hashmap__remove(queues, key, len);
    herald_free(q);
  }
  herald_free(key);
  if (next) read_message(next);
}

/* ---- On the origin ------------------------------------------------------- */

int annotations__check(struct publish *p, const struct store *store,
                       const struct auth *auth, const char *channel,
                       size_t max_size, herald_error *err) {
  p->annotation = true;
  if (p->count != 1)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Publish one annotation at a time");
  if (!store__annotations(store))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Annotations are not supported with the %s "
                            "storage engine yet", store->ops->name);
  if (!apps__mutable(auth->app, channel))
    return herald_error_set(err, HERALD_E_MESSAGE_UPDATES_NOT_ENABLED, NULL);
  int rc = auth__check(auth, channel, strlen(channel),
                       CAPABILITY_OP_ANNOTATION_PUBLISH, err);
  if (!rc) rc = channel__check_items(p, auth, max_size, err);
  if (!rc) rc = annotation_summary__check(p->messages[0], err);
  return rc;
}

/* ---- On the owner ---------------------------------------------------------- */

static void on_read(struct store_req *req);

void annotations__start(struct publish *p) {
  struct change *c = &p->change;
  if (!c->op) { /* the first attempt: the annotation as prepared */
    c->op = p->messages[0];
    p->messages[0] = NULL;
    if (!take_turn(p)) return;
  }
  read_message(p);
}

static void read_message(struct publish *p) {
  struct change *c = &p->change;
  struct store_history *h = &c->read;
  store__history_cleanup(h);
  memset(h, 0, sizeof *h);
  h->req.origin = worker__self();
  h->req.done = on_read;
  h->app_id = p->app->id;
  h->channel = p->channel;
  h->stream = STORE_MESSAGES;
  h->view = STORE_VIEW_LATEST;
  h->of = c->op->annotation->message_serial;
  h->end = INT64_MAX;
  h->direction = STORE_BACKWARDS;
  h->limit = 1;
  store__history(p->channels->store, h);
}

/* Stamps a fresh copy of the annotation and appends it with `now`, the
 * message, summarised anew. */
static void annotate(struct publish *p, const struct message *now) {
  struct change *c = &p->change;
  message__unref(p->messages[0]);
  struct message *a = p->messages[0] = message__copy(c->op);
  channel__stamp(p);
  struct message *latest = message__copy(now);
  json_decref(latest->summary);
  latest->summary = annotation_summary__apply(now->summary, a);
  herald_free(latest->summary_serial);
  latest->summary_serial = herald_xstrdup(a->serial);
  message__unref(c->latest);
  c->latest = latest;
  channel__append(p);
}

static void on_read(struct store_req *req) {
  struct publish *p = (struct publish *)((char *)req -
                                         offsetof(struct publish, change.read));
  struct store_history *h = &p->change.read;
  herald_error err;
  if (req->rc) {
    channel__fail(p, &req->err);
  } else if (!h->count) {
    herald_error_set(&err, HERALD_E_NOT_FOUND, "Could not find message %s",
                     h->of);
    channel__fail(p, &err);
  } else if (++p->change.attempts > MAX_ATTEMPTS) {
    herald_error_set(&err, HERALD_E_INTERNAL,
                     "The message kept changing; try again");
    channel__fail(p, &err);
  } else {
    annotate(p, h->messages[0]);
  }
}
