/* stats_minutes.c -- apps' statistics by minute, stored, rolled up and
 * published (see stats_minutes.h). */
#include "channel/stats_minutes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "channel/meta_channels.h"
#include "channel/stats.h"
#include "clock.h"
#include "core/log.h"

#define FIXTURES_NODE "fixtures"
#define SAMPLE_MS 1000

/* One node's record of one minute. */
struct minute {
  int64_t start;
  char *node;
  struct stats_entries entries;
};

/* Open connections or channels through the minute. */
struct gauge {
  double peak, min, sum;
  long samples;
};

struct app_log {
  struct minute *minutes; /* by start, then node */
  size_t count, cap;
  /* this node's current minute: */
  int64_t current;              /* its start; 0: none yet */
  long base[STATS_COUNTERS];    /* the counts when it began */
  struct gauge connections, channels;
  int64_t folded_slot;          /* the interval folded last */
  struct stats_entries published; /* what [meta]stats:minute got last */
};

/* ---- Minutes ----------------------------------------------------------- */

static struct app_log *log_of(struct stats_minutes *s, const char *app_id) {
  struct app_log *l = hashmap__get(&s->logs, app_id, strlen(app_id));
  if (!l) {
    l = herald_xcalloc(1, sizeof *l);
    hashmap__put(&s->logs, app_id, strlen(app_id), l);
  }
  return l;
}

static void free_log(struct app_log *l) {
  for (size_t i = 0; i < l->count; i++) {
    herald_free(l->minutes[i].node);
    stats_entries__cleanup(&l->minutes[i].entries);
  }
  herald_free(l->minutes);
  stats_entries__cleanup(&l->published);
  herald_free(l);
}

/* The index of the first minute at or after (start, node). */
static size_t lower_bound(const struct app_log *l, int64_t start,
                          const char *node) {
  size_t lo = 0, hi = l->count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const struct minute *m = &l->minutes[mid];
    bool before = m->start < start ||
                  (m->start == start && node && strcmp(m->node, node) < 0);
    if (before) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* The record of (start, node), made empty if need be. */
static struct minute *minute_of(struct app_log *l, int64_t start,
                                const char *node) {
  size_t i = lower_bound(l, start, node);
  if (i < l->count && l->minutes[i].start == start &&
      !strcmp(l->minutes[i].node, node))
    return &l->minutes[i];
  if (l->count == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->minutes = herald_xrealloc(l->minutes, l->cap * sizeof *l->minutes);
  }
  memmove(&l->minutes[i + 1], &l->minutes[i],
          (l->count - i) * sizeof *l->minutes);
  l->count++;
  l->minutes[i] = (struct minute){.start = start, .node = herald_xstrdup(node)};
  return &l->minutes[i];
}

static void replace(struct minute *m, const struct stats_entries *e) {
  stats_entries__cleanup(&m->entries);
  stats_entries__copy(&m->entries, e);
}

/* ---- Records ------------------------------------------------------------- */

static void record_key(char *out, size_t size, int64_t start, const char *node) {
  snprintf(out, size, "%" PRId64 "/%s", start, node);
}

/* Reads a record's key and value into a minute of app_id's log. */
static void take_record(struct stats_minutes *s, const char *app_id,
                        const char *key, const char *value) {
  char *slash;
  long long start = strtoll(key, &slash, 10);
  if (*slash != '/' || !slash[1] || !value) return;
  struct wire_doc doc;
  herald_error err;
  if (wire_doc__parse(&doc, WIRE_JSON, value, strlen(value), &err)) return;
  struct stats_entries e;
  stats_entries__init(&e);
  if (!stats_entries__read(&e, wire_doc__root(&doc), &err))
    replace(minute_of(log_of(s, app_id), start, slash + 1), &e);
  stats_entries__cleanup(&e);
  wire_doc__cleanup(&doc);
}

static void load_record(void *ctx, const char *app_id, const char *key,
                        const char *value) {
  take_record(ctx, app_id, key, value);
}

/* Another node's record (a shared engine's thread), or a dropped app. */
static void follow_record(void *ctx, const char *kind, const char *app_id,
                          const char *key, const char *value) {
  struct stats_minutes *s = ctx;
  if (kind && strcmp(kind, STATS_RECORD_KIND)) return;
  uv_mutex_lock(&s->lock);
  if (!kind) {
    struct app_log *l = hashmap__remove(&s->logs, app_id, strlen(app_id));
    if (l) free_log(l);
  } else {
    take_record(s, app_id, key, value);
  }
  uv_mutex_unlock(&s->lock);
}

struct put {
  struct store_record record;
  char *app_id, *key, *value;
};

static void on_put(struct store_req *req) {
  struct put *p = (struct put *)req;
  if (req->rc) log_warn("stats of %s not stored: %s", p->app_id, req->err.message);
  herald_free(p->app_id);
  herald_free(p->key);
  herald_free(p->value);
  herald_free(p);
}

static char *entries_json(const struct stats_entries *e) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  stats_entries__write(&w, e);
  size_t len;
  return meta_channels__json_text(&w, &len);
}

/* Stores (start, node)'s record of app_id. */
static void store_minute(struct stats_minutes *s, const char *app_id,
                         const struct minute *m) {
  struct put *p = herald_xcalloc(1, sizeof *p);
  char key[64];
  record_key(key, sizeof key, m->start, m->node);
  p->app_id = herald_xstrdup(app_id);
  p->key = herald_xstrdup(key);
  p->value = entries_json(&m->entries);
  p->record = (struct store_record){
      /* done on the engine's thread: it only frees, and a record stored
       * as the worker ends (store_at_exit) has no worker to go back to */
      .req = {.done = on_put},
      .app_id = p->app_id, .kind = STATS_RECORD_KIND, .key = p->key,
      .value = p->value};
  store__put_record(s->channels->store, &p->record);
}

int stats_minutes__init(struct stats_minutes *s, struct channels *ch,
                        herald_error *err) {
  memset(s, 0, sizeof *s);
  s->channels = ch;
  uv_mutex_init(&s->lock);
  hashmap__init(&s->logs);
  ch->stats = s;
  int rc = store__load_records(ch->store, STATS_RECORD_KIND, load_record, s,
                               err);
  if (!rc && store__shared(ch->store))
    store__follow_records(ch->store,
                          (struct store_record_watcher){follow_record, s});
  return rc;
}

void stats_minutes__cleanup(struct stats_minutes *s) {
  size_t b;
  for (struct hashmap_entry *e = hashmap__first(&s->logs, &b); e;
       e = hashmap__next(&s->logs, e, &b))
    free_log(e->value);
  hashmap__cleanup(&s->logs);
  uv_mutex_destroy(&s->lock);
}

/* ---- The tick ------------------------------------------------------------ */

static void sample(struct gauge *g, double v) {
  if (!g->samples || v > g->peak) g->peak = v;
  if (!g->samples || v < g->min) g->min = v;
  g->sum += v;
  g->samples++;
}

static void add_gauge(struct stats_entries *e, const char *prefix,
                      const struct gauge *g) {
  if (!g->samples) return;
  char key[64];
  snprintf(key, sizeof key, "%s.peak", prefix);
  stats_entries__add(e, key, g->peak);
  snprintf(key, sizeof key, "%s.min", prefix);
  stats_entries__add(e, key, g->min);
  snprintf(key, sizeof key, "%s.mean", prefix);
  stats_entries__add(e, key, g->sum / (double)g->samples);
}

/* This node's current minute of l so far, counts being `totals`. */
static void live_entries(const struct app_log *l, const long *totals,
                         struct stats_entries *e) {
  stats__entries(l->base, totals, e);
  add_gauge(e, "connections.all", &l->connections);
  add_gauge(e, "channels", &l->channels);
}

static void write_stats(struct wire_writer *w, const char *app_id,
                        enum stats_unit unit, int64_t start,
                        const char *in_progress,
                        const struct stats_entries *e) {
  char id[STATS_INTERVAL_ID_MAX];
  stats_interval__id(start, unit, id);
  wire_writer__map(w, in_progress ? 6 : 5);
  wire_writer__kv_str(w, "appId", app_id);
  wire_writer__kv_str(w, "intervalId", id);
  wire_writer__kv_str(w, "unit", stats_interval__unit_name(unit));
  wire_writer__kv_str(w, "schema", STATS_SCHEMA);
  if (in_progress) wire_writer__kv_str(w, "inProgress", in_progress);
  wire_writer__key(w, "entries");
  stats_entries__write(w, e);
}

static bool same_entries(const struct stats_entries *a,
                         const struct stats_entries *b) {
  if (a->count != b->count) return false;
  for (size_t i = 0; i < a->count; i++)
    if (a->items[i].key != b->items[i].key ||
        stats_entries__get(a, a->items[i].key) !=
            stats_entries__get(b, b->items[i].key))
      return false;
  return true;
}

/* Publishes the minute's entries so far on the app's [meta]stats:minute,
 * unless they are what it got last. */
static void publish(struct stats_minutes *s, struct app *app,
                    struct app_log *l, const struct stats_entries *e,
                    int64_t now, bool ended) {
  if (same_entries(e, &l->published)) return;
  stats_entries__cleanup(&l->published);
  stats_entries__copy(&l->published, e);
  char in_progress[STATS_INTERVAL_ID_MAX];
  stats_interval__second_id(now, in_progress);
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  write_stats(&w, app->id, STATS_MINUTE, l->current,
              ended ? NULL : in_progress, e);
  size_t len;
  char *json = meta_channels__json_text(&w, &len);
  meta_channels__publish(s->channels, app, STATS_META_CHANNEL, "update", json,
                         len);
  herald_free(json);
}

/* The sum of every node's record of the minute starting at start. */
static void minute_total(const struct app_log *l, int64_t start,
                         struct stats_entries *out) {
  for (size_t i = lower_bound(l, start, NULL);
       i < l->count && l->minutes[i].start == start; i++)
    stats_entries__sum(out, &l->minutes[i].entries);
}

/* How a fold ends. */
enum fold { FOLD_IN_PROGRESS, FOLD_ENDED, FOLD_STORED_ONLY };

/* Makes this node's record of l's current minute from the counts, stores
 * it and, unless the worker is ending, publishes the minute (every node's
 * records of it, as this node knows them). */
static void fold(struct stats_minutes *s, struct app *app, struct app_log *l,
                 const long *totals, int64_t now, enum fold how) {
  struct stats_entries e;
  stats_entries__init(&e);
  live_entries(l, totals, &e);
  if (e.count) {
    struct minute *m = minute_of(l, l->current, s->channels->node_id);
    replace(m, &e);
    store_minute(s, app->id, m);
    if (how != FOLD_STORED_ONLY) {
      struct stats_entries total;
      stats_entries__init(&total);
      minute_total(l, l->current, &total);
      publish(s, app, l, &total, now, how == FOLD_ENDED);
      stats_entries__cleanup(&total);
    }
  }
  stats_entries__cleanup(&e);
}

static void totals_of(struct app *app, long *totals) {
  for (int i = 0; i < STATS_COUNTERS; i++)
    totals[i] = stats__total(app, (enum stats_counter)i);
}

/* app's log, its current minute the one now is in (the one before, if it
 * was another, folded as ended). Under s->lock. */
static struct app_log *advance(struct stats_minutes *s, struct app *app,
                               const long *totals, int64_t now) {
  int64_t minute = stats_interval__floor(now, STATS_MINUTE);
  struct app_log *l = log_of(s, app->id);
  if (l->current && l->current != minute) {
    fold(s, app, l, totals, now, FOLD_ENDED);
    memcpy(l->base, totals, sizeof l->base);
    l->connections = l->channels = (struct gauge){0};
    stats_entries__cleanup(&l->published);
  }
  l->current = minute;
  return l;
}

static void tick_app(struct app *app, void *ctx) {
  struct stats_minutes *s = ctx;
  if (!atomic_load(&app->stats)) return; /* nothing ever counted */
  int64_t now = clock__now_ms(), interval = s->channels->cfg->stats_interval_ms;
  long totals[STATS_COUNTERS];
  totals_of(app, totals);
  uv_mutex_lock(&s->lock);
  struct app_log *l = advance(s, app, totals, now);
  sample(&l->connections, (double)(totals[STATS_CONNECTIONS_OPENED] -
                                   totals[STATS_CONNECTIONS_CLOSED]));
  sample(&l->channels, (double)(totals[STATS_CHANNELS_OPENED] -
                                totals[STATS_CHANNELS_CLOSED]));
  if (now / interval != l->folded_slot) {
    l->folded_slot = now / interval;
    if (interval < 60000) fold(s, app, l, totals, now, FOLD_IN_PROGRESS);
  }
  uv_mutex_unlock(&s->lock);
}

static void on_tick(uv_timer_t *t) {
  struct stats_minutes *s = t->data;
  apps__each(s->channels->apps, tick_app, s);
}

/* The worker's loop has ended: the current minutes are stored as they are
 * (a stop loses no count), published no more. */
static void store_at_exit(struct app *app, void *ctx) {
  struct stats_minutes *s = ctx;
  if (!atomic_load(&app->stats)) return;
  long totals[STATS_COUNTERS];
  totals_of(app, totals);
  uv_mutex_lock(&s->lock);
  struct app_log *l = hashmap__get(&s->logs, app->id, strlen(app->id));
  if (l && l->current) fold(s, app, l, totals, clock__now_ms(), FOLD_STORED_ONLY);
  uv_mutex_unlock(&s->lock);
}

static void on_worker_end(void *arg) {
  struct stats_minutes *s = arg;
  apps__each(s->channels->apps, store_at_exit, s);
}

void stats_minutes__worker_init(struct stats_minutes *s, struct worker *w) {
  if (w->index != 0) return;
  int64_t interval = s->channels->cfg->stats_interval_ms;
  uint64_t every = (uint64_t)(interval < SAMPLE_MS ? interval : SAMPLE_MS);
  uv_timer_init(&w->loop, &s->tick);
  s->tick.data = s;
  uv_timer_start(&s->tick, on_tick, every, every); /* closed with w's loop */
  worker__at_exit(w, on_worker_end, s);
}

/* ---- Reading ------------------------------------------------------------ */

struct intervals {
  struct stats_interval *items;
  size_t count, cap;
};

static struct stats_interval *interval_at(struct intervals *out, int64_t start,
                                          int64_t now, enum stats_unit unit) {
  if (out->count && out->items[out->count - 1].start == start)
    return &out->items[out->count - 1];
  if (out->count == out->cap) {
    out->cap = out->cap ? out->cap * 2 : 16;
    out->items = herald_xrealloc(out->items, out->cap * sizeof *out->items);
  }
  struct stats_interval *iv = &out->items[out->count++];
  *iv = (struct stats_interval){
      .start = start,
      .in_progress = stats_interval__floor(now, unit) == start};
  stats_entries__init(&iv->entries);
  return iv;
}

/* Every minute of l from `from` to before `to`, each the sum of its
 * nodes' records (this node's current one live, stored or not), rolled up
 * by unit. */
static void collect(const struct app_log *l, const long *totals, int64_t from,
                    int64_t to, enum stats_unit unit, int64_t now,
                    const char *node, struct intervals *out) {
  bool live_due = l->current >= from && l->current < to;
  size_t i = lower_bound(l, from, NULL);
  for (;;) {
    bool stored = i < l->count && l->minutes[i].start < to;
    int64_t start = stored ? l->minutes[i].start : INT64_MAX;
    if (live_due && l->current <= start) start = l->current;
    else if (!stored) break;
    struct stats_entries minute;
    stats_entries__init(&minute);
    for (; i < l->count && l->minutes[i].start == start; i++) {
      const struct minute *m = &l->minutes[i];
      bool live = start == l->current && !strcmp(m->node, node);
      if (!live) stats_entries__sum(&minute, &m->entries);
    }
    if (start == l->current) { /* this node's, as it is now */
      live_due = false;
      struct stats_entries e;
      stats_entries__init(&e);
      live_entries(l, totals, &e);
      stats_entries__sum(&minute, &e);
      stats_entries__cleanup(&e);
    }
    if (minute.count)
      stats_entries__roll(
          &interval_at(out, stats_interval__floor(start, unit), now, unit)
               ->entries,
          &minute);
    stats_entries__cleanup(&minute);
  }
}

void stats_minutes__free_intervals(struct stats_interval *iv, size_t count) {
  for (size_t i = 0; i < count; i++) stats_entries__cleanup(&iv[i].entries);
  herald_free(iv);
}

/* Keeps the page of all (ascending) that q asks for, in its order. */
static struct stats_interval *page(struct intervals *all,
                                   const struct stats_query *q, size_t *count,
                                   int64_t *next) {
  struct stats_interval *out = herald_xcalloc(q->limit, sizeof *out);
  size_t n = 0;
  *next = -1;
  for (size_t k = 0; k < all->count; k++) {
    size_t i = q->forwards ? k : all->count - 1 - k;
    struct stats_interval *iv = &all->items[i];
    bool before_cursor = q->cursor >= 0 && (q->forwards ? iv->start < q->cursor
                                                        : iv->start > q->cursor);
    if (before_cursor || !iv->entries.count) continue;
    if (n == q->limit) {
      *next = iv->start;
      break;
    }
    out[n++] = *iv;
    iv->entries = (struct stats_entries){0}; /* moved */
  }
  for (size_t i = 0; i < all->count; i++)
    stats_entries__cleanup(&all->items[i].entries);
  herald_free(all->items);
  *count = n;
  return out;
}

struct stats_interval *stats_minutes__query(struct stats_minutes *s,
                                            struct app *app,
                                            const struct stats_query *q,
                                            int64_t now, size_t *count,
                                            int64_t *next) {
  int64_t from = stats_interval__floor(q->first, q->unit);
  int64_t to = stats_interval__next(stats_interval__floor(q->last, q->unit),
                                    q->unit);
  long totals[STATS_COUNTERS];
  totals_of(app, totals);
  struct intervals all = {0};
  uv_mutex_lock(&s->lock);
  struct app_log *l = advance(s, app, totals, now);
  collect(l, totals, from, to, q->unit, now, s->channels->node_id, &all);
  uv_mutex_unlock(&s->lock);
  return page(&all, q, count, next);
}

void stats_minutes__add_fixture(struct stats_minutes *s, struct app *app,
                                int64_t minute, const struct stats_entries *e) {
  uv_mutex_lock(&s->lock);
  struct minute *m = minute_of(log_of(s, app->id), minute, FIXTURES_NODE);
  stats_entries__sum(&m->entries, e);
  store_minute(s, app->id, m);
  uv_mutex_unlock(&s->lock);
}

void stats_minutes__write(struct wire_writer *w, const char *app_id,
                          enum stats_unit unit, const struct stats_interval *iv,
                          int64_t now) {
  char in_progress[STATS_INTERVAL_ID_MAX];
  stats_interval__second_id(now, in_progress);
  write_stats(w, app_id, unit, iv->start, iv->in_progress ? in_progress : NULL,
              &iv->entries);
}
