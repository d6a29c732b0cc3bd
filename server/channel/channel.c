/* channel.c -- channel ownership by hash and the publish pipeline (messages
 * and presence changes alike).
 * Owns: each worker's serial clock and member sets (struct channel_table).
 * Does not own: messages (refcounted, message.h) or history (store.h). */
#include "channel/channel.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "channel/annotations.h"
#include "channel/fanout.h"
#include "channel/presence.h"
#include "channel/turns.h"
#include "channel/webhooks.h"
#include "clock.h"
#include "core/metrics.h"
#include "decimal.h"
#include "hashmap.h"
#include "msgid.h"
#include "serial.h"

#define ID_BASE_LEN 12

/* The serial clock of one owner worker. Serials are unique across all
 * channels (the node part names this process and worker) and, since a
 * channel always has the same owner, they grow in publish order within each
 * channel. */
struct channel_table {
  int64_t serial_ms; /* time part of the last serial issued */
  unsigned serial_seq;
  char serial_node[24];
  struct presence_table *presence;
};

struct channel_table *channel__table_new(const char *node_id, int worker,
                                        int64_t serial_floor_ms) {
  struct channel_table *t = herald_xcalloc(1, sizeof *t);
  t->serial_ms = serial_floor_ms;
  snprintf(t->serial_node, sizeof t->serial_node, "%s%d", node_id, worker);
  t->presence = presence__table_new();
  return t;
}

void channel__table_free(struct channel_table *t) {
  if (!t) return;
  presence__table_free(t->presence);
  herald_free(t);
}

struct presence_table *channel__presence(struct channel_table *t) {
  return t->presence;
}

static int slot = -1;

static void free_table(void *t) { channel__table_free(t); }

void channel__worker_init(struct channels *ch, struct worker *w) {
  struct channel_table *t = channel__table_new(
      ch->node_id, w->index, store__last_serial_ms(ch->store) + 1);
  w->locals[worker__slot(&slot)] = t;
  worker__at_exit(w, free_table, t);
  fanout__worker_init(ch, w);
  occupancy__worker_init(ch, w);
  turns__worker_init(w);
}

struct channel_table *channel__table(struct worker *w) {
  return w->locals[slot];
}

/* Keyed (hashmap__hash): chosen names cannot pin channels on one worker. */
struct worker *channel__owner(const struct channels *ch, const char *app_id,
                              const char *name) {
  uint64_t h = hashmap__hash(app_id, strlen(app_id));
  h ^= hashmap__hash(name, strlen(name)) * 31;
  return &ch->pool->workers[h % (uint64_t)ch->pool->n];
}

/* ---- Stamping (on the owner) ------------------------------------------- */

/* Advances the serial clock: serials sort in publish order even when the
 * wall clock steps back, since their time part never decreases. */
static void next_serial_time(struct channel_table *t, int64_t now) {
  if (now > t->serial_ms) {
    t->serial_ms = now;
    t->serial_seq = 0;
  } else if (++t->serial_seq > 999) {
    t->serial_ms++;
    t->serial_seq = 0;
  }
}

/* The publish's message id: the idempotency base for client ids, else the
 * origin's base (a realtime "<connectionId>:<msgSerial>") or a fresh random
 * one, which the messages' ids are built from. */
static void assign_ids(struct publish *p) {
  if (!p->idempotency_key) {
    if (p->id_base) {
      p->assigned_id_base = p->id_base;
      p->id_base = NULL;
    } else {
      p->assigned_id_base = herald_xmalloc(ID_BASE_LEN + 1);
      msgid__random(p->assigned_id_base, ID_BASE_LEN);
    }
    msgid__assign(p->messages, p->count, p->assigned_id_base);
    p->message_id = p->assigned_id_base;
  } else {
    p->message_id = p->idempotency_key;
  }
}

/* What the owner sets on every item, whoever stamps it: ids, the
 * publisher's connection, the action of a publish. */
static void prepare_items(struct publish *p) {
  assign_ids(p);
  for (size_t i = 0; i < p->count; i++) {
    struct message *m = p->messages[i];
    if (!p->presence && !p->annotation) m->action = 0;
    herald_free(m->connection_id);
    m->connection_id = herald_xstrdup(p->connection_id);
  }
}

static void stamp_items(struct publish *p, int64_t ms, unsigned seq,
                        const char *node, int64_t timestamp) {
  for (size_t i = 0; i < p->count; i++) {
    char serial[SERIAL_MAX];
    serial__format(serial, ms, seq, node, i);
    p->messages[i]->serial = herald_xstrdup(serial);
    p->messages[i]->timestamp = timestamp;
  }
}

/* Serials and timestamp from t's clock; a shared engine's come with the
 * append's completion (store.h). */
static void stamp(struct publish *p, struct channel_table *t) {
  int64_t now = clock__now_ms();
  next_serial_time(t, now);
  stamp_items(p, t->serial_ms, t->serial_seq, t->serial_node, now);
}

void channel__next_position(struct channel_table *t, char *out) {
  /* A clock that stood still is brought to now first (serials at now then
   * start at seq 1), so that a position is never older than the moment it
   * is handed out: a resume from a quiet channel's position is not taken
   * for one from before history. */
  int64_t now = clock__now_ms();
  if (now > t->serial_ms) {
    t->serial_ms = now;
    t->serial_seq = 0;
  }
  /* The next serial is (serial_ms, seq + 1) or later; past 999 the clock
   * moves to the next millisecond (next_serial_time). */
  if (t->serial_seq < 999) serial__floor(out, t->serial_ms, t->serial_seq + 1);
  else serial__floor(out, t->serial_ms + 1, 0);
}

/* ---- The pipeline ------------------------------------------------------- */

static void reply_on_origin(struct worker_task *task) {
  struct publish *p = (struct publish *)task;
  struct channels *ch = p->channels;
  p->done(p);
  atomic_fetch_sub(&ch->publishing, 1);
}

bool channel__idle(struct channels *ch) {
  return atomic_load(&ch->publishing) == 0;
}

void channel__stop(struct channels *ch) { atomic_store(&ch->stopping, true); }

bool channel__stopping(struct channels *ch) {
  return atomic_load(&ch->stopping);
}

/* The publish is done on the owner: its result goes to the origin. */
static void finish(struct publish *p) {
  turns__release(p); /* a change's or an annotation's */
  worker__post(p->origin, &p->task, reply_on_origin);
}

void channel__fail(struct publish *p, const herald_error *err) {
  p->rc = -err->code;
  p->err = *err;
  finish(p);
}

static void on_appended(struct store_req *req) {
  struct publish *p = (struct publish *)((char *)req -
                                         offsetof(struct publish, append));
  struct store_append *a = &p->append;
  if (!req->rc && a->stale) { /* another change came first */
    changes__retry(p);
    return;
  }
  p->rc = req->rc;
  p->err = req->err;
  if (!p->rc && a->duplicate) {
    p->message_id = a->original_message_id;
    p->serials = a->original_serials;
    p->n_serials = a->original_count;
  } else if (!p->rc) {
    bool shared = store__shared(p->channels->store);
    if (shared) stamp_items(p, a->stamp_ms, a->stamp_seq, a->stamp_node,
                            a->stamp_ms);
    struct message *latest = p->change.latest;
    if (shared && latest && latest != p->messages[0] && !p->annotation) {
      /* an append's */
      latest->serial = herald_xstrdup(p->messages[0]->serial);
      latest->timestamp = a->stamp_ms;
    }
    p->own_serials = herald_xcalloc(p->count, sizeof *p->own_serials);
    for (size_t i = 0; i < p->count; i++)
      p->own_serials[i] = p->messages[i]->serial;
    p->serials = p->own_serials;
    p->n_serials = p->count;
    /* a shared engine feeds every node's publishes instead (fanout.h) */
    if (!shared) fanout__published(worker__self(), p);
    webhooks__commit(p->channels->webhooks, p);
  }
  finish(p);
}

void channel__append(struct publish *p) {
  struct store_append *a = &p->append;
  store__append_cleanup(a);
  memset(a, 0, sizeof *a);
  a->req.origin = worker__self();
  a->req.done = on_appended;
  a->app_id = p->app->id;
  a->channel = p->channel;
  a->stream = p->presence     ? STORE_PRESENCE
              : p->annotation ? STORE_ANNOTATIONS
                              : STORE_MESSAGES;
  a->messages = p->messages;
  a->count = p->count;
  a->message_id = p->message_id;
  a->idempotency_key = p->idempotency_key;
  a->idempotency_window_ms = p->channels->cfg->idempotency_window_ms;
  a->retention_ms = apps__retention_ms(p->channels->apps, p->app, p->channel);
  a->ephemeral = p->ephemeral;
  a->durable = apps__durable(p->app, p->channel);
  a->msg_serial = p->msg_serial;
  a->connection_id = p->connection_id;
  a->dedupe_ttl_ms = p->channels->cfg->connection_state_ttl_ms;
  if (p->change.latest) {
    a->latest = p->change.latest;
    a->new_version = !p->annotation && p->messages[0]->action != MESSAGE_APPEND;
    a->expected = p->change.read.messages[0]->serial;
    a->expected_summary = p->change.read.messages[0]->summary_serial;
  }
  webhooks__prepare(p->channels->webhooks, p);
  store__append(p->channels->store, a);
}

void channel__stamp(struct publish *p) {
  if (!store__shared(p->channels->store))
    stamp(p, channel__table(worker__self()));
}

static void publish_on_owner(struct worker_task *task) {
  struct publish *p = (struct publish *)task;
  struct worker *self = worker__self();
  struct channel_table *table = channel__table(self);
  struct presence_table *members = table->presence;
  if (p->presence) {
    size_t max = apps__presence_max_members(p->app, p->channels->cfg);
    p->rc = presence__prepare(members, p, max, &p->err);
    if (p->rc) {
      worker__post(p->origin, &p->task, reply_on_origin);
      return;
    }
  }
  if (changes__is_change(p)) {
    changes__start(p);
    return;
  }
  if (p->annotation) {
    prepare_items(p);
    annotations__start(p);
    return;
  }
  if (p->count) {
    prepare_items(p);
    channel__stamp(p);
  }
  if (p->presence) presence__apply(members, p);
  if (p->count == 0) { /* a presence change nobody sees */
    worker__post(p->origin, &p->task, reply_on_origin);
    return;
  }
  channel__append(p);
}

void channel__publish_init(struct publish *p, const struct publisher *from,
                           char *channel, void (*done)(struct publish *p)) {
  p->started_us = metrics__now_us();
  p->channels = from->channels;
  p->origin = from->origin;
  p->app = from->app;
  p->channel = channel;
  p->connection_id = herald_xstrdup(from->connection_id);
  p->msg_serial = from->msg_serial;
  if (from->msg_serial >= 0) { /* "<connection_id>:<msg_serial>", no printf */
    size_t n = strlen(from->connection_id);
    p->id_base = herald_xmalloc(n + 1 + DECIMAL_MAX + 1);
    memcpy(p->id_base, from->connection_id, n);
    p->id_base[n] = ':';
    n += 1 + decimal__write(p->id_base + n + 1, (uint64_t)from->msg_serial, 1);
    p->id_base[n] = '\0';
  }
  p->done = done;
}

int channel__check_items(struct publish *p, const struct auth *auth,
                         size_t max_size, herald_error *err) {
  size_t total = 0;
  for (size_t i = 0; i < p->count; i++) {
    struct message *m = p->messages[i];
    int rc = auth__publish_client_id(auth, &m->client_id, err);
    if (!rc && p->presence && !m->client_id)
      rc = herald_error_set(err, HERALD_E_PRESENCE_NO_CLIENT_ID, NULL);
    if (rc) return rc;
    total += message__size(m);
  }
  if (total > max_size)
    return herald_error_set(err, HERALD_E_MESSAGE_TOO_LARGE,
                            "Maximum message length exceeded (size was %zu "
                            "bytes, limit is %zu bytes)", total, max_size);
  return 0;
}

int channel__check_publish(struct publish *p, const struct auth *auth,
                           size_t max_size, herald_error *err) {
  if (p->count == 0)
    return herald_error_set(err, HERALD_E_BAD_REQUEST, "No messages to publish");
  if (changes__is_change(p)) /* those go through changes__check */
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "A published message's action must be create (0)");
  int rc = channel__check_items(p, auth, max_size, err);
  if (rc) return rc;
  return msgid__publish_key(p->messages, p->count, &p->idempotency_key, err);
}

void channel__publish(struct publish *p) {
  atomic_fetch_add(&p->channels->publishing, 1);
  struct worker *owner = channel__owner(p->channels, p->app->id, p->channel);
  worker__post(owner, &p->task, publish_on_owner);
}

void channel__publish_cleanup(struct publish *p) {
  message__free_list(p->messages, p->count);
  store__append_cleanup(&p->append);
  webhooks__discard(p);
  changes__cleanup(&p->change);
  herald_free(p->own_serials); /* the strings belong to the messages */
  herald_free(p->channel);
  herald_free(p->idempotency_key);
  herald_free(p->connection_id);
  herald_free(p->assigned_id_base);
  herald_free(p->id_base);
  memset(p, 0, sizeof *p);
}
