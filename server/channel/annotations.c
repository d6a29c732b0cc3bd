/* annotations.c -- annotations on their channel's owner (see
 * annotations.h). */
#include "channel/annotations.h"

#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "annotation_summary.h"
#include "auth/apps.h"
#include "capability.h"
#include "channel/channel.h"

/* As changes.c: a message that keeps changing is given up on. */
#define MAX_ATTEMPTS 16

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
  }
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
