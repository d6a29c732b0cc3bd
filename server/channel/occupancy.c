/* occupancy.c -- occupancy metrics and active channels, gathered from every
 * worker, and with a shared engine from the other nodes (see
 * occupancy.h). */
#include "channel/occupancy.h"

#include <string.h>

#include "alloc.h"
#include "channel/channel.h"
#include "channel/fanout.h"
#include "channel/occupancy_events.h"
#include "channel/presence.h"
#include "core/log.h"

void occupancy__write_details(struct wire_writer *w, const char *channel_id,
                              bool active, const struct occupancy *o) {
  wire_writer__map(w, 2);
  wire_writer__kv_str(w, "channelId", channel_id);
  wire_writer__key(w, "status");
  wire_writer__map(w, 2);
  wire_writer__kv_bool(w, "isActive", active);
  wire_writer__key(w, "occupancy");
  wire_writer__map(w, 1);
  wire_writer__key(w, "metrics");
  wire_writer__map(w, 8);
  wire_writer__kv_int(w, "connections", o->connections);
  wire_writer__kv_int(w, "presenceConnections", o->presence_connections);
  wire_writer__kv_int(w, "presenceMembers", o->presence_members);
  wire_writer__kv_int(w, "presenceSubscribers", o->presence_subscribers);
  wire_writer__kv_int(w, "publishers", o->publishers);
  wire_writer__kv_int(w, "subscribers", o->subscribers);
  wire_writer__kv_int(w, "objectPublishers", o->object_publishers);
  wire_writer__kv_int(w, "objectSubscribers", o->object_subscribers);
}

/* ---- A round of the workers -------------------------------------------------- */

struct round_visit {
  struct worker_task task;
  struct worker_round *round;
  int index;
};

static void round_done(struct worker_task *task) {
  struct worker_round *r =
      (struct worker_round *)((char *)task -
                              offsetof(struct worker_round, done_task));
  herald_free(r->visits);
  r->visits = NULL;
  r->gathered(r);
}

static void round_visit(struct worker_task *task) {
  struct round_visit *v = (struct round_visit *)task;
  struct worker_round *r = v->round;
  r->visit(r, v->index);
  if (atomic_fetch_sub(&r->pending, 1) == 1)
    worker__post(r->origin, &r->done_task, round_done);
}

/* Runs r->visit on every worker, then r->gathered on r->origin. */
static void round_start(struct worker_round *r) {
  int n = r->channels->pool->n;
  r->visits = herald_xcalloc((size_t)n, sizeof *r->visits);
  atomic_init(&r->pending, n);
  for (int w = 0; w < n; w++) {
    r->visits[w].round = r;
    r->visits[w].index = w;
  }
  for (int w = 0; w < n; w++)
    worker__post(&r->channels->pool->workers[w], &r->visits[w].task, round_visit);
}

/* ---- Occupancy metrics ------------------------------------------------------- */

/* On worker index: its attachments, and the members of the channels it
 * owns. */
static void count_on_worker(struct worker_round *r, int index) {
  struct occupancy_query *q = (struct occupancy_query *)r;
  struct worker *self = &r->channels->pool->workers[index];
  struct occupancy *counts = q->parts[index];
  for (size_t i = 0; i < q->count; i++) {
    size_t key_len;
    char *key = fanout__channel_key(q->app_id, q->channels[i], &key_len);
    fanout__count_subscribers(self, key, key_len, &counts[i]);
    if (!store__shared(r->channels->store) && /* else the engine's count */
        channel__owner(r->channels, q->app_id, q->channels[i]) == self)
      counts[i].presence_members = (long)presence__count(
          channel__presence(channel__table(self)), key, key_len);
    herald_free(key);
  }
}

/* On origin: the other nodes' part added (with a shared engine). */
static void on_stored(struct store_req *req) {
  struct occupancy_query *q = (struct occupancy_query *)(
      (char *)req - offsetof(struct occupancy_query, stored.req));
  if (req->rc)
    log_warn("occupancy of other nodes: %s", req->err.message);
  q->done(q);
}

static void sum_counts(struct worker_round *r) {
  struct occupancy_query *q = (struct occupancy_query *)r;
  for (int w = 0; w < r->channels->pool->n; w++) {
    for (size_t i = 0; i < q->count; i++) store__add_occupancy(&q->results[i], &q->parts[w][i]);
    herald_free(q->parts[w]);
  }
  herald_free(q->parts);
  q->parts = NULL;
  if (!store__shared(r->channels->store)) {
    q->done(q);
    return;
  }
  q->stored = (struct store_occupancy){
      .req = {.origin = r->origin, .done = on_stored},
      .app_id = q->app_id,
      .channels = q->channels,
      .count = q->count,
      .results = q->results,
  };
  store__occupancy(r->channels->store, &q->stored);
}

void occupancy__query(struct occupancy_query *q) {
  int n = q->round.channels->pool->n;
  size_t slots = q->count ? q->count : 1;
  q->results = herald_xcalloc(slots, sizeof *q->results);
  q->parts = herald_xcalloc((size_t)n, sizeof *q->parts);
  for (int w = 0; w < n; w++) q->parts[w] = herald_xcalloc(slots, sizeof **q->parts);
  q->round.visit = count_on_worker;
  q->round.gathered = sum_counts;
  round_start(&q->round);
}

void occupancy__query_cleanup(struct occupancy_query *q) {
  herald_free(q->results);
  q->results = NULL;
}

/* ---- Telling a shared engine ------------------------------------------------------ */

#define OCCUPANCY_FLUSH_MS 100 /* a change is told within this */

/* A worker's channels whose attachments changed since it last told. */
struct usage_worker {
  struct channels *channels;
  struct worker *worker;
  struct hashmap changed; /* fan-out key -> NULL */
  uv_timer_t flush;
};

static int slot = -1;

/* On the engine's thread, which owns a flush once it has it (it tells
 * Redis again by itself when Redis comes back). */
static void free_flush(struct store_req *req) {
  store__usage_cleanup((struct store_usage *)req);
  herald_free(req);
}

/* Tells the channels' owners (for their events) and a shared engine (for
 * the cluster's view) this worker's counts on every changed channel. */
static void flush(uv_timer_t *timer) {
  struct usage_worker *uw = timer->data;
  bool shared = store__shared(uw->channels->store);
  struct store_usage *u = herald_xcalloc(1, sizeof *u);
  u->req.done = free_flush; /* origin NULL: on the engine's thread */
  u->worker = uw->worker->index;
  u->entries = herald_xcalloc(uw->changed.count, sizeof *u->entries);
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&uw->changed, &bucket); e;
       e = hashmap__next(&uw->changed, e, &bucket)) {
    struct store_usage_entry *entry = &u->entries[u->count++];
    size_t wanting = fanout__count_subscribers(uw->worker, e->key, e->key_len,
                                               &entry->counts);
    occupancy_events__report(uw->channels, e->key, e->key_len, &entry->counts,
                             wanting);
    const char *newline = memchr(e->key, '\n', e->key_len);
    entry->app_id = herald_xstrndup(e->key, (size_t)(newline - e->key));
    entry->channel = herald_xstrdup(newline + 1);
  }
  hashmap__cleanup(&uw->changed);
  hashmap__init(&uw->changed);
  if (shared) store__usage(uw->channels->store, u);
  else free_flush(&u->req);
}

static void free_usage_worker(void *arg) {
  struct usage_worker *uw = arg;
  hashmap__cleanup(&uw->changed);
  herald_free(uw);
}

void occupancy__worker_init(struct channels *ch, struct worker *w) {
  occupancy_events__worker_init(ch, w);
  struct usage_worker *uw = herald_xcalloc(1, sizeof *uw);
  uw->channels = ch;
  uw->worker = w;
  hashmap__init(&uw->changed);
  uv_timer_init(&w->loop, &uw->flush);
  uw->flush.data = uw;
  w->locals[worker__slot(&slot)] = uw;
  worker__at_exit(w, free_usage_worker, uw);
}

void occupancy__changed(const char *key, size_t key_len) {
  struct usage_worker *uw = worker__self()->locals[slot];
  hashmap__put(&uw->changed, key, key_len, NULL);
  if (!uv_is_active((uv_handle_t *)&uw->flush))
    uv_timer_start(&uw->flush, flush, OCCUPANCY_FLUSH_MS, 0);
}

/* ---- Active channels --------------------------------------------------------- */

struct name_list {
  char **names;
  size_t count, cap;
  const struct active_channels_query *query; /* for the filter */
};

static void take_name(const char *name, void *arg) {
  struct name_list *l = arg;
  const struct active_channels_query *q = l->query;
  if (q->prefix && strncmp(name, q->prefix, strlen(q->prefix))) return;
  if (q->cursor && strcmp(name, q->cursor) < 0) return;
  if (l->count == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 16;
    l->names = herald_xrealloc(l->names, l->cap * sizeof *l->names);
  }
  l->names[l->count++] = herald_xstrdup(name);
}

/* On worker index: channels with its attachments, and those it owns with
 * presence members. */
static void list_on_worker(struct worker_round *r, int index) {
  struct active_channels_query *q = (struct active_channels_query *)r;
  struct worker *self = &r->channels->pool->workers[index];
  struct name_list *l = &q->parts[index];
  l->query = q;
  fanout__each_channel(self, q->app_id, take_name, l);
  presence__each_channel(channel__presence(channel__table(self)), q->app_id,
                         take_name, l);
}

/* On origin: every worker's names in one array. */
static void gather_names(struct worker_round *r) {
  struct active_channels_query *q = (struct active_channels_query *)r;
  size_t total = 0;
  for (int w = 0; w < r->channels->pool->n; w++) total += q->parts[w].count;
  q->names = herald_xcalloc(total ? total : 1, sizeof *q->names);
  for (int w = 0; w < r->channels->pool->n; w++) {
    if (q->parts[w].count) /* a worker with none has names == NULL */
      memcpy(q->names + q->count, q->parts[w].names,
             q->parts[w].count * sizeof *q->names);
    q->count += q->parts[w].count;
    herald_free(q->parts[w].names);
  }
  herald_free(q->parts);
  q->parts = NULL;
  q->done(q);
}

void occupancy__active_channels(struct active_channels_query *q) {
  q->parts = herald_xcalloc((size_t)q->round.channels->pool->n, sizeof *q->parts);
  q->round.visit = list_on_worker;
  q->round.gathered = gather_names;
  round_start(&q->round);
}

void occupancy__active_channels_cleanup(struct active_channels_query *q) {
  for (size_t i = 0; i < q->count; i++) herald_free(q->names[i]);
  herald_free(q->names);
  q->names = NULL;
  q->count = 0;
}
