/* store.c -- engine selection and the interface's calls and cleanups (see
 * store.h); completing a request is store_req.c's. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "core/metrics.h"

extern const struct store_ops store_memory__ops;
extern const struct store_ops store_sqlite__ops;
extern const struct store_ops store_redis__ops;

static const struct store_ops *const engines[] = {
    &store_sqlite__ops, &store_memory__ops, &store_redis__ops};

int store__open(struct store **out, const struct config *cfg,
                herald_error *err) {
  for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
    if (!strcmp(engines[i]->name, cfg->engine))
      return engines[i]->open(out, cfg, err);
  return herald_error_set(err, HERALD_E_BAD_REQUEST,
                          "unknown engine '%s'", cfg->engine);
}

void store__close(struct store *s) {
  if (s) s->ops->close(s);
}

int64_t store__last_serial_ms(struct store *s) {
  return s->ops->last_serial_ms ? s->ops->last_serial_ms(s) : 0;
}

void store__append(struct store *s, struct store_append *a) {
  a->req.op = STORE_OP_APPEND;
  a->req.started_us = metrics__now_us();
  s->ops->append(s, a);
}

void store__history(struct store *s, struct store_history *h) {
  h->req.op = STORE_OP_HISTORY;
  s->ops->history(s, h);
}

void store__channels(struct store *s, struct store_channels *c) {
  c->req.op = STORE_OP_CHANNELS;
  s->ops->channels(s, c);
}

void store__put_record(struct store *s, struct store_record *r) {
  r->req.op = STORE_OP_PUT_RECORD;
  s->ops->put_record(s, r);
}

void store__drop_app(struct store *s, struct store_drop_app *d) {
  d->req.op = STORE_OP_DROP_APP;
  s->ops->drop_app(s, d);
}

int store__load_records(struct store *s, const char *kind, store_record_fn fn,
                        void *ctx, herald_error *err) {
  return s->ops->load_records(s, kind, fn, ctx, err);
}

bool store__shared(const struct store *s) { return s->ops->watch != NULL; }

bool store__keeps_records(const struct store *s) {
  return s->ops->keeps_records;
}

void store__set_watcher(struct store *s, struct store_watcher watcher) {
  s->watcher = watcher;
}

void store__follow_records(struct store *s, struct store_record_watcher w) {
  if (s->n_records == STORE_RECORD_WATCHERS) abort(); /* a fixed few layers */
  s->records[s->n_records++] = w;
}

void store__follow_outbox(struct store *s, struct store_watcher w) {
  s->outbox = w;
}

void store__outbox_done(struct store *s, const char *key) {
  s->ops->outbox_done(s, herald_xstrdup(key));
}

void store__quiet(struct store *s) {
  if (s->ops->quiet) s->ops->quiet(s);
}

void store__once(struct store *s, struct store_once *o) {
  o->req.op = STORE_OP_ONCE;
  o->first = false;
  s->ops->once(s, o);
}

void store__connection(struct store *s, struct store_connection *c) {
  c->req.op = STORE_OP_CONNECTION;
  c->taken = NULL;
  s->ops->connection(s, c);
}

void store__watch(struct store *s, const char *app_id, const char *channel,
                  bool on) {
  struct store_watch *w = herald_xcalloc(1, sizeof *w);
  w->req.op = STORE_OP_WATCH;
  w->app_id = herald_xstrdup(app_id);
  w->channel = herald_xstrdup(channel);
  w->on = on;
  s->ops->watch(s, w);
}

void store__members(struct store *s, struct store_members *m) {
  m->req.op = STORE_OP_MEMBERS;
  m->members = NULL;
  m->count = 0;
  s->ops->members(s, m);
}

void store__members_cleanup(struct store_members *m) {
  message__free_list(m->members, m->count);
  m->members = NULL;
  m->count = 0;
}

void store__add_occupancy(struct occupancy *sum, const struct occupancy *part) {
  sum->connections += part->connections;
  sum->publishers += part->publishers;
  sum->subscribers += part->subscribers;
  sum->presence_connections += part->presence_connections;
  sum->presence_subscribers += part->presence_subscribers;
  sum->presence_members += part->presence_members;
  sum->object_publishers += part->object_publishers;
  sum->object_subscribers += part->object_subscribers;
}

void store__usage(struct store *s, struct store_usage *u) {
  u->req.op = STORE_OP_USAGE;
  s->ops->usage(s, u);
}

void store__usage_cleanup(struct store_usage *u) {
  for (size_t i = 0; i < u->count; i++) {
    herald_free(u->entries[i].app_id);
    herald_free(u->entries[i].channel);
  }
  herald_free(u->entries);
  u->entries = NULL;
  u->count = 0;
}

void store__occupancy(struct store *s, struct store_occupancy *o) {
  o->req.op = STORE_OP_OCCUPANCY;
  s->ops->occupancy(s, o);
}

void store__feed_item_free(struct store_feed_item *item) {
  herald_free(item->app_id);
  herald_free(item->channel);
  herald_free(item->message_id);
  herald_free(item->connection_id);
  message__free_list(item->messages, item->count);
  message__unref(item->latest);
  herald_free(item->outbox_key);
  herald_free(item->outbox_tag);
  herald_free(item);
}

static void free_strings(char **list, size_t count) {
  for (size_t i = 0; list && i < count; i++) herald_free(list[i]);
  herald_free(list);
}

void store__append_cleanup(struct store_append *a) {
  herald_free(a->original_message_id);
  free_strings(a->original_serials, a->original_count);
  a->original_message_id = NULL;
  a->original_serials = NULL;
}

void store__history_cleanup(struct store_history *h) {
  message__free_list(h->messages, h->count);
  herald_free(h->next_cursor);
  h->messages = NULL;
  h->next_cursor = NULL;
}

void store__channels_cleanup(struct store_channels *c) {
  free_strings(c->names, c->count);
  herald_free(c->next_cursor);
  c->names = NULL;
  c->next_cursor = NULL;
}
