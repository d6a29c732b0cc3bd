/* changes.c -- changes of mutable messages on their channel's owner (see
 * changes.h).
 * Owns: a change's state (struct change in its publish). */
#include "channel/changes.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "auth/apps.h"
#include "capability.h"
#include "channel/channel.h"
#include "channel/turns.h"
#include "message_version.h"

/* A store that keeps answering stale is changed that often meanwhile: the
 * change gives up rather than loop. */
#define MAX_ATTEMPTS 16

bool changes__is_change(const struct publish *p) {
  /* presence and annotation actions are not changes */
  if (p->presence || p->annotation) return false;
  for (size_t i = 0; i < p->count; i++)
    if (message_version__is_change(p->messages[i])) return true;
  return false;
}

/* ---- On the origin ------------------------------------------------------- */

/* The capability pair of a change's action: update (appends too) or
 * delete, own and any. */
static void rights_of(int action, unsigned *own, unsigned *any) {
  bool del = action == MESSAGE_DELETE;
  *own = del ? CAPABILITY_OP_MESSAGE_DELETE_OWN : CAPABILITY_OP_MESSAGE_UPDATE_OWN;
  *any = del ? CAPABILITY_OP_MESSAGE_DELETE_ANY : CAPABILITY_OP_MESSAGE_UPDATE_ANY;
}

static int check_rights(struct publish *p, const struct auth *auth,
                        const char *channel, herald_error *err) {
  struct message *m = p->messages[0];
  unsigned own, any;
  rights_of(m->action, &own, &any);
  size_t len = strlen(channel);
  herald_error ignored;
  p->change.any = auth__check(auth, channel, len, any, &ignored) == 0;
  if (p->change.any) return 0;
  int rc = auth__check(auth, channel, len, own, err);
  if (rc) return rc;
  if (auth->client_id && strcmp(auth->client_id, "*"))
    p->change.client_id = herald_xstrdup(auth->client_id);
  return 0;
}

int changes__check(struct publish *p, const struct auth *auth,
                   const char *channel, size_t max_size, herald_error *err) {
  if (p->count != 1)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "An update, delete or append must be the only "
                            "message of its publish");
  if (!apps__mutable(auth->app, channel))
    return herald_error_set(err, HERALD_E_MESSAGE_UPDATES_NOT_ENABLED, NULL);
  int rc = check_rights(p, auth, channel, err);
  if (rc) return rc;
  struct message *m = p->messages[0];
  /* The message keeps its publisher's clientId; the change's is the
   * operation's. */
  herald_free(m->client_id);
  m->client_id = NULL;
  if (!m->version->client_id && auth->client_id && strcmp(auth->client_id, "*"))
    m->version->client_id = herald_xstrdup(auth->client_id);
  if (message__size(m) > max_size)
    return herald_error_set(err, HERALD_E_MESSAGE_TOO_LARGE, NULL);
  return 0;
}

/* ---- On the owner ---------------------------------------------------------- */

static void on_read(struct store_req *req);

void changes__operate(struct publish *p, const char *of,
                      void (*apply)(struct publish *p,
                                    const struct message *now)) {
  struct change *c = &p->change;
  c->op = p->messages[0];
  p->messages[0] = NULL;
  c->of = of;
  c->apply = apply;
  if (turns__take(p, of, changes__retry)) changes__retry(p);
}

void changes__retry(struct publish *p) {
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
  h->of = c->of;
  h->end = INT64_MAX;
  h->direction = STORE_BACKWARDS;
  h->limit = 1;
  store__history(p->channels->store, h);
}

/* Whether the publisher may change `now` (the own/any rule). */
static bool allowed(const struct change *c, const struct message *now) {
  return c->any || (c->client_id && now->client_id &&
                    !strcmp(c->client_id, now->client_id));
}

/* The change as stamped and delivered: the operation with the message's
 * identity (an append keeps the message's name unless it names one). */
static struct message *stamped_change(struct publish *p,
                                      const struct message *now) {
  struct message *m = message__copy(p->change.op);
  herald_free(m->id);
  m->id = now->id ? herald_xstrdup(now->id) : NULL;
  herald_free(m->client_id);
  m->client_id = now->client_id ? herald_xstrdup(now->client_id) : NULL;
  herald_free(m->connection_id);
  m->connection_id = now->connection_id ? herald_xstrdup(now->connection_id)
                                        : NULL;
  if (!m->name && now->name) m->name = herald_xstrdup(now->name);
  m->version->created = now->version ? now->version->created : now->timestamp;
  p->message_id = p->id_base ? p->id_base : m->id; /* the delivery's */
  message__unref(p->messages[0]);
  p->messages[0] = m;
  channel__stamp(p);
  return m;
}

static void change(struct publish *p, const struct message *now) {
  struct change *c = &p->change;
  herald_error err;
  if (!allowed(c, now)) {
    herald_error_set(&err, HERALD_E_CAPABILITY_DENIED,
                     "Permission denied: %s another client's message needs "
                     "the -any capability",
                     c->op->action == MESSAGE_DELETE ? "deleting" : "changing");
    channel__fail(p, &err);
    return;
  }
  struct message *m = stamped_change(p, now);
  message__unref(c->latest);
  c->latest = NULL;
  if (message_version__apply(now, m, &c->latest, &err)) {
    channel__fail(p, &err);
    return;
  }
  if (m->action != MESSAGE_APPEND) { /* delivered as the message now is */
    message__unref(p->messages[0]);
    p->messages[0] = message__ref(c->latest);
  }
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
    p->change.apply(p, h->messages[0]);
  }
}

void changes__start(struct publish *p) {
  changes__operate(p, p->messages[0]->version->of, change);
}

void changes__cleanup(struct change *c) {
  message__unref(c->op);
  message__unref(c->latest);
  herald_free(c->client_id);
  store__history_cleanup(&c->read);
  memset(c, 0, sizeof *c);
}
