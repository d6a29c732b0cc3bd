/* delivery.c -- published messages as subscribers receive them (see
 * delivery.h). */
#include "channel/delivery.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "channel/channel.h"
#include "message_filter.h"
#include "msgid.h"

/* The delivery of count messages (taken over, as every pointer here). */
static struct delivery *make(int action, char *key, size_t app_id_len,
                             char *pm_id, char *connection_id,
                             struct message **messages, size_t count,
                             size_t presence_members) {
  struct delivery *d = herald_xcalloc(1, sizeof *d);
  atomic_init(&d->refs, 1);
  d->action = action;
  d->key = key;
  d->channel = key + app_id_len + 1;
  d->pm_id = pm_id;
  d->connection_id = connection_id;
  d->timestamp = messages[0]->timestamp;
  d->messages = messages;
  d->count = count;
  d->channel_serial = messages[count - 1]->serial; /* NULL for an event */
  d->presence_members = presence_members;
  return d;
}

struct delivery *delivery__new(const struct publish *p, char *key,
                               size_t app_id_len, size_t presence_members) {
  struct message **messages = herald_xmalloc(p->count * sizeof *messages);
  for (size_t i = 0; i < p->count; i++) messages[i] = message__ref(p->messages[i]);
  struct delivery *d =
      make(p->presence     ? PM_PRESENCE
           : p->annotation ? PM_ANNOTATION
                           : PM_MESSAGE,
           key, app_id_len, herald_xstrdup(p->message_id),
           herald_xstrdup(p->connection_id), messages, p->count,
           presence_members);
  if (p->annotation) d->kind = DELIVERY_ANNOTATION;
  return d;
}

/* The summary MESSAGE of latest (the annotated message as it now is) after
 * annotation a: action summary, positioned at a's serial, naming latest by
 * its serial, with its whole summary. */
static struct message *summary_message(const struct message *latest,
                                       const struct message *a) {
  struct message *m = message__new();
  m->action = MESSAGE_SUMMARY;
  m->serial = herald_xstrdup(a->serial);
  m->timestamp = a->timestamp;
  m->version = herald_xcalloc(1, sizeof *m->version);
  m->version->of = herald_xstrdup(latest->version ? latest->version->of
                                                  : latest->serial);
  m->version->created = latest->version ? latest->version->created
                                        : latest->timestamp;
  m->summary = json_deep_copy(latest->summary);
  return m;
}

/* The summary delivery of annotation a on latest, its message. */
static struct delivery *summary_of(const struct message *latest,
                                   const struct message *a,
                                   const char *message_id, char *key,
                                   size_t app_id_len, size_t presence_members) {
  struct message **messages = herald_xmalloc(sizeof *messages);
  messages[0] = summary_message(latest, a);
  /* no publisher: every subscriber takes it, whatever its echo */
  return make(PM_MESSAGE, key, app_id_len, herald_xstrdup(message_id), NULL,
              messages, 1, presence_members);
}

struct delivery *delivery__summary(const struct publish *p, char *key,
                                   size_t app_id_len, size_t presence_members) {
  return summary_of(p->change.latest, p->messages[0], p->message_id, key,
                    app_id_len, presence_members);
}

struct delivery *delivery__feed_summary(const struct store_feed_item *it,
                                        char *key, size_t presence_members) {
  return summary_of(it->latest, it->messages[0], it->message_id, key,
                    strlen(it->app_id), presence_members);
}

struct delivery *delivery__from_feed(struct store_feed_item *it, char *key,
                                     size_t presence_members) {
  struct delivery *d = make(it->stream == STORE_PRESENCE      ? PM_PRESENCE
                            : it->stream == STORE_ANNOTATIONS ? PM_ANNOTATION
                                                              : PM_MESSAGE,
                            key,
                            strlen(it->app_id), it->message_id,
                            it->connection_id, it->messages, it->count,
                            presence_members);
  if (it->stream == STORE_ANNOTATIONS) d->kind = DELIVERY_ANNOTATION;
  it->message_id = it->connection_id = NULL;
  it->messages = NULL;
  it->count = 0;
  return d;
}

/* {"metrics": {...}} as JSON text (herald_xmalloc'd). */
static char *metrics_json(const struct occupancy *o) {
  json_t *metrics = json_pack(
      "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connections",
      (json_int_t)o->connections, "publishers", (json_int_t)o->publishers,
      "subscribers", (json_int_t)o->subscribers, "presenceConnections",
      (json_int_t)o->presence_connections, "presenceMembers",
      (json_int_t)o->presence_members, "presenceSubscribers",
      (json_int_t)o->presence_subscribers, "objectPublishers",
      (json_int_t)o->object_publishers, "objectSubscribers",
      (json_int_t)o->object_subscribers);
  json_t *data = json_pack("{s:o}", "metrics", metrics);
  char *text = json_dumps(data, JSON_COMPACT);
  json_decref(data);
  if (!text) abort(); /* only out of memory */
  char *copy = herald_xstrdup(text);
  free(text);
  return copy;
}

struct delivery *delivery__occupancy(char *key, size_t app_id_len,
                                     const struct occupancy *o, int64_t now) {
  char id[11];
  msgid__random(id, 10);
  struct message *m = message__new();
  m->id = herald_xmalloc(strlen(id) + 5);
  sprintf(m->id, "%s:0:0", id);
  m->name = herald_xstrdup("[meta]occupancy");
  m->payload.type = PAYLOAD_STRING;
  m->payload.data = metrics_json(o);
  m->payload.len = strlen(m->payload.data);
  m->payload.encoding = herald_xstrdup("json");
  m->timestamp = now;
  struct message **messages = herald_xmalloc(sizeof *messages);
  messages[0] = m;
  struct delivery *d = make(PM_MESSAGE, key, app_id_len, herald_xstrdup(id),
                            NULL, messages, 1, 0);
  d->kind = DELIVERY_OCCUPANCY;
  return d;
}

struct delivery *delivery__ref(struct delivery *d) {
  atomic_fetch_add(&d->refs, 1);
  return d;
}

void delivery__unref(struct delivery *d) {
  if (!d || atomic_fetch_sub(&d->refs, 1) != 1) return;
  message__free_list(d->messages, d->count);
  herald_free(d->key);
  herald_free(d->pm_id);
  herald_free(d->connection_id);
  herald_free(d);
}

/* A ProtocolMessage of d's kind, ids and position carrying count of its
 * messages, on channel, as a frame of kind (a new one). */
static struct frame *encode(const struct delivery *d, enum frame_kind kind,
                            const char *channel, struct message **messages,
                            size_t count) {
  struct protocol_message pm = {
      .action = d->action,
      .channel = (char *)channel,
      .channel_serial = (char *)d->channel_serial,
      .id = d->pm_id,
      .connection_id = d->connection_id,
      .timestamp = d->timestamp,
  };
  if (d->action == PM_PRESENCE) {
    pm.presence = messages;
    pm.n_presence = count;
  } else if (d->action == PM_ANNOTATION) {
    pm.annotations = messages;
    pm.n_annotations = count;
  } else {
    pm.messages = messages;
    pm.n_messages = count;
  }
  struct frame *f = transport__pm_frame(kind, &pm);
  if (!f) abort(); /* stored messages always encode */
  return f;
}

struct frame *delivery__frame(const struct delivery *d, enum frame_kind kind) {
  return encode(d, kind, d->channel, d->messages, d->count);
}

struct frame *delivery__filtered_frame(const struct delivery *d,
                                       enum frame_kind kind,
                                       const char *channel,
                                       const struct message_filter *filter) {
  struct message **kept = herald_xmalloc(d->count * sizeof *kept);
  size_t n = 0;
  for (size_t i = 0; i < d->count; i++)
    if (message_filter__matches(filter, d->messages[i]))
      kept[n++] = d->messages[i];
  struct frame *f = n ? encode(d, kind, channel, kept, n) : NULL;
  herald_free(kept);
  return f;
}
