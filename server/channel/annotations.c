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

/* ---- On the origin ------------------------------------------------------- */

int annotations__check(struct publish *p, const struct auth *auth,
                       const char *channel, size_t max_size,
                       herald_error *err) {
  p->annotation = true;
  if (p->count != 1)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Publish one annotation at a time");
  if (!apps__mutable(auth->app, channel))
    return herald_error_set(err, HERALD_E_MESSAGE_UPDATES_NOT_ENABLED, NULL);
  int rc = auth__check(auth, channel, strlen(channel),
                       CAPABILITY_OP_ANNOTATION_PUBLISH, err);
  if (!rc) rc = channel__check_items(p, auth, max_size, err);
  if (!rc) rc = annotation_summary__check(p->messages[0], err);
  return rc;
}

/* ---- On the owner ---------------------------------------------------------- */

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
  /* a shared engine stamps as it stores: its summaries count up to the
   * entry the annotation becomes (store.h) */
  latest->summary_serial = a->serial ? herald_xstrdup(a->serial) : NULL;
  message__unref(c->latest);
  c->latest = latest;
  channel__append(p);
}

void annotations__start(struct publish *p) {
  changes__operate(p, p->messages[0]->annotation->message_serial, annotate);
}
