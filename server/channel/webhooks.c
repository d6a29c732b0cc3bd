/* webhooks.c -- rules, their queues and the delivery thread (webhooks.h). */
#include "channel/webhooks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "channel/meta_channels.h"
#include "core/log.h"
#include "core/metrics.h"
#include "msgid.h"
#include "transport/http_client.h"
#include "webhook_payload.h"

/* A rule and its queue: a ring of events, oldest at head. */
struct hook {
  struct webhooks *wh;
  char *app_id;
  struct webhook_rule *rule;
  struct webhook_event **ring;
  size_t head, count, cap;
  /* The request in flight: its events, taken off the queue. */
  bool in_flight;
  struct webhook_event **sending;
  size_t n_sending;
  struct webhook_request req;
  struct http_call call;
  int failures;    /* in a row */
  int64_t next_at; /* ms: no request before */
  /* Drops are reported at most once a second: how many since, why. */
  size_t unreported;
  const char *drop_reason;
  int64_t reported_at;
  /* What GET /apps/:app/rules shows of its delivery (webhooks__list). */
  struct hook_state {
    uint64_t delivered, failed, dropped; /* events, requests, events */
    int64_t delivered_at, failed_at;     /* ms, 0: never */
    char error[160];                     /* the last failure */
  } state;
  bool removed;    /* freed once its request ends */
};

/* What keeps events stored until each is delivered or dropped: a record
 * of its own (sqlite), or a shared engine's outbox entry (redis), one per
 * publish, shared by its events for every rule. */
struct webhook_keeper {
  char *key;
  atomic_size_t refs; /* events are forgotten outside the lock */
  bool outbox;
};

struct webhooks {
  struct channels *ch;
  const struct config *cfg;
  bool shared; /* events come from the engine's outbox (webhooks.h) */
  bool kept;   /* else from the publish, each kept as a record if this */
  pthread_mutex_t lock; /* hooks, their queues */
  struct hook **hooks;
  size_t n_hooks;
  atomic_size_t n_enabled; /* publishes look no further when 0 */
  size_t queued;
  struct http_client *client;
  struct hook **due; /* the thread's: requests to start */
  size_t n_due;
  pthread_t thread;
  bool started;
  atomic_bool stop;
};

/* ---- Queues --------------------------------------------------------------- */

static struct hook *find(struct webhooks *wh, const char *app_id,
                         const char *id) {
  for (size_t i = 0; i < wh->n_hooks; i++) {
    struct hook *h = wh->hooks[i];
    if (!h->removed && !strcmp(h->app_id, app_id) && !strcmp(h->rule->id, id))
      return h;
  }
  return NULL;
}

static void push_back(struct hook *h, struct webhook_event *e) {
  if (h->count == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 16;
    struct webhook_event **ring = herald_xmalloc(cap * sizeof *ring);
    for (size_t i = 0; i < h->count; i++)
      ring[i] = h->ring[(h->head + i) % h->cap];
    herald_free(h->ring);
    h->ring = ring;
    h->cap = cap;
    h->head = 0;
  }
  h->ring[(h->head + h->count++) % h->cap] = e;
  h->wh->queued++;
}

static struct webhook_event *pop_front(struct hook *h) {
  struct webhook_event *e = h->ring[h->head];
  h->head = (h->head + 1) % h->cap;
  h->count--;
  h->wh->queued--;
  return e;
}

/* Puts the events that were in flight back ahead of the queue, in order. */
static void requeue(struct hook *h) {
  size_t n = h->n_sending;
  for (size_t i = 0; i < n; i++) push_back(h, h->sending[i]);
  for (size_t i = 0; i < h->count - n; i++) push_back(h, pop_front(h));
  h->n_sending = 0;
}

static struct webhook_keeper *keeper_new(char *key, bool outbox) {
  struct webhook_keeper *k = herald_xcalloc(1, sizeof *k);
  k->key = key;
  atomic_init(&k->refs, 1);
  k->outbox = outbox;
  return k;
}

static void on_forgotten(struct store_req *req) {
  struct store_record *r = (struct store_record *)req;
  herald_free((char *)r->app_id);
  herald_free((char *)r->key);
  herald_free(r);
}

/* Drops a reference to k; the last deletes what it keeps, fire and
 * forget. */
static void keeper_release(struct webhooks *wh, const char *app_id,
                           struct webhook_keeper *k) {
  if (!k || atomic_fetch_sub(&k->refs, 1) != 1) return;
  if (k->outbox) {
    store__outbox_done(wh->ch->store, k->key);
    herald_free(k->key);
  } else {
    struct store_record *r = herald_xcalloc(1, sizeof *r);
    *r = (struct store_record){.req = {.done = on_forgotten},
                               .app_id = herald_xstrdup(app_id),
                               .kind = WEBHOOKS_RECORD_EVENT,
                               .key = k->key};
    store__put_record(wh->ch->store, r);
  }
  herald_free(k);
}

/* Frees e, done with: what keeps it stored forgets it. */
static void forget(struct webhooks *wh, const char *app_id,
                   struct webhook_event *e) {
  keeper_release(wh, app_id, e->keeper);
  webhook_payload__event_free(e);
}

/* The events h's request carried, taken from it: forgotten (forget_all)
 * once the lock is let go, so that publishers queueing meanwhile do not
 * wait for a thousand frees. */
struct taken {
  struct webhook_event **events;
  size_t n;
};

static struct taken take_sent(struct hook *h) {
  struct taken t = {h->sending, h->n_sending};
  h->sending = NULL;
  h->n_sending = 0;
  return t;
}

static void forget_all(struct hook *h, struct taken t) {
  for (size_t i = 0; i < t.n; i++) forget(h->wh, h->app_id, t.events[i]);
  herald_free(t.events);
}

/* Frees e, keeping what keeps it stored (delivered at the next start). */
static void event_free_kept(struct webhook_event *e) {
  if (e->keeper && atomic_fetch_sub(&e->keeper->refs, 1) == 1) {
    herald_free(e->keeper->key);
    herald_free(e->keeper);
  }
  webhook_payload__event_free(e);
}

/* Frees h; its events' records stay (a rule retired forgot them already;
 * at exit they are what the next start delivers). */
static void hook_free(struct hook *h) {
  while (h->count) event_free_kept(pop_front(h));
  for (size_t i = 0; i < h->n_sending; i++) event_free_kept(h->sending[i]);
  herald_free(h->sending);
  herald_free(h->ring);
  webhook_payload__request_cleanup(&h->req);
  webhook_rule__free(h->rule);
  herald_free(h->app_id);
  herald_free(h);
}

/* ---- Reporting ------------------------------------------------------------ */

struct report {
  struct worker_task task;
  struct channels *ch;
  char *app_id;
  herald_error err;
};

static void report_on_worker(struct worker_task *task) {
  struct report *r = (struct report *)task;
  struct app *app = apps__find(r->ch->apps, r->app_id);
  if (app) meta_channels__log(r->ch, app, "webhook.failed", &r->err, NULL);
  apps__release(app);
  herald_free(r->app_id);
  herald_free(r);
}

/* Logs a rule's trouble and puts it on its app's [meta]log. */
static void report(struct hook *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(struct hook *h, const char *fmt, ...) {
  struct report *r = herald_xcalloc(1, sizeof *r);
  va_list ap;
  va_start(ap, fmt);
  char text[512];
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  herald_error_set(&r->err, HERALD_E_INTERNAL, "webhook rule %s: %s",
                   h->rule->id, text);
  log_warn("app %s: %s", h->app_id, r->err.message);
  r->ch = h->wh->ch;
  r->app_id = herald_xstrdup(h->app_id);
  worker__post(&r->ch->pool->workers[0], &r->task, report_on_worker);
}

#define DROP_REPORT_MS 1000

static int64_t now_ms(void) { return metrics__now_us() / 1000; }

/* Reports the drops not reported yet, unless the last report is recent. */
static void report_drops(struct hook *h, int64_t now) {
  if (!h->unreported || now - h->reported_at < DROP_REPORT_MS) return;
  report(h, "%zu events dropped (%s)", h->unreported, h->drop_reason);
  h->unreported = 0;
  h->reported_at = now;
}

/* Counts n events dropped, and reports them (at most once a second: a
 * queue overflowing drops at the rate events come). */
static void dropped(struct hook *h, size_t n, const char *why) {
  if (!n) return;
  metrics__add(METRIC_WEBHOOK_DROPPED, (int64_t)n);
  h->state.dropped += n;
  h->unreported += n;
  h->drop_reason = why;
  report_drops(h, now_ms());
}

/* ---- Delivery ------------------------------------------------------------- */

static int64_t backoff_ms(const struct config *cfg, int failures) {
  double d = (double)cfg->webhook_retry_min_ms;
  for (int i = 1; i < failures && d < (double)cfg->webhook_retry_max_ms; i++)
    d *= M_SQRT2;
  return d > (double)cfg->webhook_retry_max_ms ? cfg->webhook_retry_max_ms
                                               : (int64_t)d;
}

/* Drops what waited past the retry window, while the rule fails. */
static void expire(struct hook *h, int64_t now) {
  size_t n = 0;
  int64_t oldest = now - h->wh->cfg->webhook_retry_window_ms;
  while (h->count && h->ring[h->head]->queued_ms < oldest) {
    forget(h->wh, h->app_id, pop_front(h));
    n++;
  }
  dropped(h, n, "older than the retry window");
}

static void on_answer(struct http_call *call, long status, const char *error) {
  struct hook *h = (struct hook *)((char *)call - offsetof(struct hook, call));
  struct webhooks *wh = h->wh;
  pthread_mutex_lock(&wh->lock);
  h->in_flight = false;
  webhook_payload__request_cleanup(&h->req);
  int64_t now = now_ms();
  struct taken done = {NULL, 0};
  if (status >= 200 && status < 300) {
    metrics__add(METRIC_WEBHOOK_DELIVERED, (int64_t)h->n_sending);
    h->state.delivered += h->n_sending;
    h->state.delivered_at = clock__now_ms();
    done = take_sent(h);
    h->failures = 0;
    h->next_at = now + (h->rule->batch ? wh->cfg->webhook_batch_interval_ms
                                       : 0);
  } else if (h->removed) {
    done = take_sent(h);
  } else {
    metrics__add(METRIC_WEBHOOK_FAILED, 1);
    requeue(h);
    h->failures++;
    h->next_at = now + backoff_ms(wh->cfg, h->failures);
    h->state.failed++;
    h->state.failed_at = clock__now_ms();
    if (status)
      snprintf(h->state.error, sizeof h->state.error, "%s answered %ld",
               h->rule->url, status);
    else
      snprintf(h->state.error, sizeof h->state.error, "%s: %s", h->rule->url,
               error);
    report(h, "%s", h->state.error);
    expire(h, now);
  }
  pthread_mutex_unlock(&wh->lock);
  forget_all(h, done);
}

static const char *signing_secret(struct webhooks *wh, const struct app *app,
                                  const char *key_name) {
  (void)wh;
  for (size_t i = 0; app && key_name && i < app->n_keys; i++)
    if (!strcmp(app->keys[i].name, key_name)) return app->keys[i].secret;
  return NULL;
}

/* Takes the next request's events off h's queue (under the lock). */
static void take_next(struct hook *h) {
  size_t n = h->rule->batch ? (size_t)h->wh->cfg->webhook_batch_max : 1;
  if (n > h->count) n = h->count;
  h->sending = herald_xrealloc(h->sending, n * sizeof *h->sending);
  for (size_t i = 0; i < n; i++) h->sending[i] = pop_front(h);
  h->n_sending = n;
  h->in_flight = true;
}

/* Builds and starts h's request, outside the lock: publishers queueing
 * meanwhile wait for nothing (h's events are its own until answered). */
static void send_taken(struct hook *h) {
  struct webhooks *wh = h->wh;
  struct app *app = apps__find(wh->ch->apps, h->app_id);
  webhook_payload__build(h->rule, h->app_id, h->sending, h->n_sending,
                         signing_secret(wh, app, h->rule->signing_key),
                         &h->req);
  apps__release(app);
  h->call = (struct http_call){.url = h->rule->url,
                               .headers = (const char *const *)h->req.headers,
                               .n_headers = h->req.n_headers,
                               .body = h->req.body,
                               .len = h->req.len,
                               .timeout_ms = (long)wh->cfg->webhook_timeout_ms,
                               .done = on_answer};
  http_client__post(wh->client, &h->call);
}

/* Takes what is due into wh->due (under the lock); returns how long until
 * the next is (ms). */
static int64_t schedule(struct webhooks *wh) {
  int64_t now = now_ms(), wait = 1000;
  wh->due = herald_xrealloc(wh->due, (wh->n_hooks + 1) * sizeof *wh->due);
  wh->n_due = 0;
  for (size_t i = 0; i < wh->n_hooks;) {
    struct hook *h = wh->hooks[i];
    if (h->removed && !h->in_flight) {
      hook_free(h);
      wh->hooks[i] = wh->hooks[--wh->n_hooks];
      continue;
    }
    i++;
    report_drops(h, now);
    if (h->in_flight || !h->count || h->removed) continue;
    if (now >= h->next_at) {
      take_next(h);
      wh->due[wh->n_due++] = h;
    } else if (h->next_at - now < wait) {
      wait = h->next_at - now;
    }
  }
  return wait;
}

static void *run(void *arg) {
  struct webhooks *wh = arg;
  while (!atomic_load(&wh->stop)) {
    pthread_mutex_lock(&wh->lock);
    int64_t wait = schedule(wh);
    pthread_mutex_unlock(&wh->lock);
    for (size_t i = 0; i < wh->n_due; i++) send_taken(wh->due[i]);
    http_client__run(wh->client, wh->n_due ? 0 : (int)wait);
  }
  return NULL;
}

/* ---- Events --------------------------------------------------------------- */

/* Queues e on h; true if the thread must be woken for it: h had nothing
 * to send (else the thread comes back to h by itself: when its request is
 * answered, or when its next request is due). */
static bool enqueue(struct hook *h, struct webhook_event *e) {
  e->queued_ms = now_ms();
  if (h->count >= (size_t)h->wh->cfg->webhook_queue_max) {
    forget(h->wh, h->app_id, pop_front(h));
    dropped(h, 1, "the queue is full");
  }
  push_back(h, e);
  return h->count == 1 && !h->in_flight;
}

static char *dup_or_null(const char *s) { return s ? herald_xstrdup(s) : NULL; }

/* messages[0..n) encoded as an array, for a rule of this format. */
static char *encode_items(struct message *const *messages, size_t n,
                          bool presence, enum wire_format format,
                          size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, format);
  wire_writer__array(&w, n);
  for (size_t i = 0; i < n; i++) {
    if (presence) presence_message__write(messages[i], &w);
    else message__write(messages[i], &w);
  }
  char *out = wire_writer__finish(&w, len);
  wire_writer__cleanup(&w);
  return out;
}

static struct webhook_event *new_event(enum webhook_source source,
                                       const char *channel, const char *name,
                                       const char *serial, int64_t ts) {
  struct webhook_event *e = herald_xcalloc(1, sizeof *e);
  e->source = source;
  e->channel = herald_xstrdup(channel);
  e->name = herald_xstrdup(name);
  e->serial = herald_xstrdup(serial);
  e->timestamp = ts;
  return e;
}

static void fill_bare(struct webhook_event *e, const struct message *m) {
  e->bare.id = dup_or_null(m->id);
  e->bare.name = dup_or_null(m->name);
  e->bare.client_id = dup_or_null(m->client_id);
  e->bare.connection_id = dup_or_null(m->connection_id);
  e->bare.encoding = dup_or_null(m->payload.encoding);
  e->bare.data_len = m->payload.data ? m->payload.len : 0;
  e->bare.data = herald_xmalloc(e->bare.data_len + 1);
  if (e->bare.data_len) memcpy(e->bare.data, m->payload.data, e->bare.data_len);
}

/* What making a rule's events needs of it, copied under the lock so that
 * they are made outside it. */
struct rule_view {
  char *id;
  enum webhook_source source;
  enum wire_format format;
  bool enveloped;
};

struct rule_views {
  struct rule_view *list;
  size_t n;
};

/* Whether id is one of the lines of tag. */
static bool tagged(const char *tag, const char *id) {
  size_t n = strlen(id);
  for (const char *p = tag; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (!strncmp(p, id, n) && (p[n] == '\n' || !p[n])) return true;
  return false;
}

/* The enabled rules of app_id that take source's events on channel (and,
 * with a tag, are in it). */
static struct rule_views matching(struct webhooks *wh, const char *app_id,
                                  const char *channel,
                                  enum webhook_source source,
                                  const char *tag) {
  struct rule_views v = {NULL, 0};
  pthread_mutex_lock(&wh->lock);
  for (size_t i = 0; i < wh->n_hooks; i++) {
    const struct webhook_rule *r = wh->hooks[i]->rule;
    if (wh->hooks[i]->removed || strcmp(wh->hooks[i]->app_id, app_id) ||
        !webhook_rule__matches(r, source, channel) ||
        (tag && !tagged(tag, r->id)))
      continue;
    v.list = herald_xrealloc(v.list, (v.n + 1) * sizeof *v.list);
    v.list[v.n++] = (struct rule_view){herald_xstrdup(r->id), r->source,
                                       r->format, r->enveloped};
  }
  pthread_mutex_unlock(&wh->lock);
  return v;
}

static void views_free(struct rule_views *v) {
  for (size_t i = 0; i < v->n; i++) herald_free(v->list[i].id);
  herald_free(v->list);
}

/* The rules' ids, one a line: an outbox tag. */
static char *views_tag(const struct rule_views *v) {
  size_t len = 0;
  for (size_t i = 0; i < v->n; i++) len += strlen(v->list[i].id) + 1;
  char *tag = herald_xmalloc(len + 1), *p = tag;
  for (size_t i = 0; i < v->n; i++)
    p += sprintf(p, "%s%s", i ? "\n" : "", v->list[i].id);
  *p = '\0';
  return tag;
}

struct prepared_event {
  char *rule_id;
  struct webhook_event *e;
};

struct webhook_prepared {
  char *app_id;
  struct prepared_event *events;
  size_t n;
  struct store_record *records; /* one per event, kept with the append */
  char *outbox_tag;             /* or, with a shared engine, this */
};

/* The events of messages[0..n) for rule r: one, or one per message for a
 * non-enveloped rule; appended to prepared's. */
static void make_events(struct webhook_prepared *prepared,
                        const struct rule_view *r, const char *channel,
                        struct message *const *messages, size_t n,
                        bool presence) {
  size_t events = r->enveloped ? 1 : n, per = r->enveloped ? n : 1;
  for (size_t i = 0; i < events; i++) {
    struct message *const *first = messages + i * per;
    struct webhook_event *e = new_event(
        r->source, channel, presence ? "presence.message" : "channel.message",
        first[0]->serial, first[0]->timestamp);
    e->items = encode_items(first, per, presence, r->format, &e->items_len);
    if (!e->items) {
      webhook_payload__event_free(e);
      continue;
    }
    if (!r->enveloped) fill_bare(e, first[0]);
    prepared->events = herald_xrealloc(
        prepared->events, (prepared->n + 1) * sizeof *prepared->events);
    prepared->events[prepared->n++] =
        (struct prepared_event){herald_xstrdup(r->id), e};
  }
}

static char *dup_bytes(const char *bytes, size_t len) {
  char *out = herald_xmalloc(len + 1);
  memcpy(out, bytes, len);
  out[len] = '\0';
  return out;
}

/* A copy of e for another rule: the same items, encoded once. */
static struct webhook_event *event_copy(const struct webhook_event *e) {
  struct webhook_event *c =
      new_event(e->source, e->channel, e->name, e->serial, e->timestamp);
  c->items = dup_bytes(e->items, e->items_len);
  c->items_len = e->items_len;
  const struct webhook_bare *b = &e->bare;
  c->bare = (struct webhook_bare){
      .id = dup_or_null(b->id), .client_id = dup_or_null(b->client_id),
      .connection_id = dup_or_null(b->connection_id),
      .encoding = dup_or_null(b->encoding), .name = dup_or_null(b->name),
      .data = b->data ? dup_bytes(b->data, b->data_len) : NULL,
      .data_len = b->data_len};
  return c;
}

/* The events of every rule of v: a rule whose events are those of an
 * earlier one in the same format gets copies (encoding is what costs). */
static void make_all(struct webhook_prepared *prepared,
                     const struct rule_views *v, const char *channel,
                     struct message *const *messages, size_t n,
                     bool presence) {
  size_t *first = herald_xcalloc(v->n + 1, sizeof *first);
  for (size_t i = 0; i < v->n; i++) {
    const struct rule_view *r = &v->list[i];
    size_t j = 0;
    while (j < i && (v->list[j].format != r->format ||
                     v->list[j].enveloped != r->enveloped))
      j++;
    first[i] = prepared->n;
    if (j == i) {
      make_events(prepared, r, channel, messages, n, presence);
      continue;
    }
    for (size_t k = first[j]; k < first[j + 1]; k++) {
      struct webhook_event *e = event_copy(prepared->events[k].e);
      e->source = r->source;
      prepared->events = herald_xrealloc(
          prepared->events, (prepared->n + 1) * sizeof *prepared->events);
      prepared->events[prepared->n++] =
          (struct prepared_event){herald_xstrdup(r->id), e};
    }
  }
  herald_free(first);
}

/* The record keeping each event: key "<rule>\n<serial>\n<channel>", so
 * that records load in each channel's order. */
static void make_records(struct webhook_prepared *prepared) {
  prepared->records = herald_xcalloc(prepared->n, sizeof *prepared->records);
  for (size_t i = 0; i < prepared->n; i++) {
    struct prepared_event *pe = &prepared->events[i];
    size_t len = strlen(pe->rule_id) + strlen(pe->e->serial) +
                 strlen(pe->e->channel) + 3;
    char *key = herald_xmalloc(len);
    snprintf(key, len, "%s\n%s\n%s", pe->rule_id, pe->e->serial,
             pe->e->channel);
    pe->e->keeper = keeper_new(key, false);
    prepared->records[i] = (struct store_record){
        .app_id = prepared->app_id,
        .kind = WEBHOOKS_RECORD_EVENT,
        .key = key,
        .value = webhook_payload__event_json(pe->e)};
  }
}

static void prepared_free(struct webhook_prepared *prepared) {
  for (size_t i = 0; i < prepared->n; i++) {
    herald_free(prepared->events[i].rule_id);
    if (prepared->events[i].e) event_free_kept(prepared->events[i].e);
    if (prepared->records) herald_free((char *)prepared->records[i].value);
  }
  herald_free(prepared->events);
  herald_free(prepared->records);
  herald_free(prepared->outbox_tag);
  herald_free(prepared->app_id);
  herald_free(prepared);
}

void webhooks__discard(struct publish *p) {
  if (!p->webhook_events) return;
  prepared_free(p->webhook_events);
  p->webhook_events = NULL;
  p->append.records = NULL;
  p->append.n_records = 0;
  p->append.outbox_tag = NULL;
}

void webhooks__prepare(struct webhooks *wh, struct publish *p) {
  webhooks__discard(p);
  if (!webhooks__any(wh) || p->annotation || !p->count ||
      meta_channels__is_meta(p->channel, strlen(p->channel)))
    return;
  struct rule_views v = matching(wh, p->app->id, p->channel,
                                 p->presence ? WEBHOOK_PRESENCE
                                             : WEBHOOK_MESSAGE,
                                 NULL);
  if (!v.n) return;
  struct webhook_prepared *prepared = herald_xcalloc(1, sizeof *prepared);
  prepared->app_id = herald_xstrdup(p->app->id);
  p->webhook_events = prepared;
  if (wh->shared) { /* stamped by the engine: made from its outbox */
    prepared->outbox_tag = views_tag(&v);
    p->append.outbox_tag = prepared->outbox_tag;
  } else {
    make_all(prepared, &v, p->channel, p->messages, p->count, p->presence);
  }
  if (wh->kept) {
    make_records(prepared);
    p->append.records = prepared->records;
    p->append.n_records = prepared->n;
  }
  views_free(&v);
}

/* Queues e for app_id's rule rule_id (taken over); forgotten when the rule
 * is gone. */
static bool queue_for(struct webhooks *wh, const char *app_id,
                      const char *rule_id, struct webhook_event *e) {
  struct hook *h = find(wh, app_id, rule_id);
  if (h) return enqueue(h, e);
  forget(wh, app_id, e);
  return false;
}

/* Queues prepared's events, each kept by keeper if not NULL. */
static void queue_prepared(struct webhooks *wh,
                           struct webhook_prepared *prepared,
                           struct webhook_keeper *keeper) {
  bool wake = false;
  pthread_mutex_lock(&wh->lock);
  for (size_t i = 0; i < prepared->n; i++) {
    struct webhook_event *e = prepared->events[i].e;
    if (keeper) {
      e->keeper = keeper;
      atomic_fetch_add(&keeper->refs, 1);
    }
    wake |= queue_for(wh, prepared->app_id, prepared->events[i].rule_id, e);
    prepared->events[i].e = NULL;
  }
  pthread_mutex_unlock(&wh->lock);
  if (wake) http_client__wakeup(wh->client);
}

/* An outbox entry (shared engines), on the engine's thread: a publish as
 * stamped, tagged with the rules it was for when it was made. */
static void on_outbox(void *ctx, struct store_feed_item *it) {
  struct webhooks *wh = ctx;
  bool presence = it->stream == STORE_PRESENCE;
  struct rule_views v = matching(wh, it->app_id, it->channel,
                                 presence ? WEBHOOK_PRESENCE : WEBHOOK_MESSAGE,
                                 it->outbox_tag);
  struct webhook_prepared *made = herald_xcalloc(1, sizeof *made);
  made->app_id = herald_xstrdup(it->app_id);
  make_all(made, &v, it->channel, it->messages, it->count, presence);
  views_free(&v);
  struct webhook_keeper *keeper = keeper_new(it->outbox_key, true);
  it->outbox_key = NULL;
  queue_prepared(wh, made, keeper);
  keeper_release(wh, made->app_id, keeper); /* done now if nothing took it */
  prepared_free(made);
  store__feed_item_free(it);
}

void webhooks__commit(struct webhooks *wh, struct publish *p) {
  if (p->webhook_events) queue_prepared(wh, p->webhook_events, NULL);
}

void webhooks__channel_event(struct webhooks *wh, const char *app_id,
                             const char *channel, enum webhook_source source,
                             const char *name, const json_t *status) {
  if (!webhooks__any(wh)) return;
  char serial[17];
  msgid__random(serial, sizeof serial - 1);
  int64_t ts = clock__now_ms();
  bool wake = false;
  pthread_mutex_lock(&wh->lock);
  for (size_t i = 0; i < wh->n_hooks; i++) {
    struct hook *h = wh->hooks[i];
    if (h->removed || strcmp(h->app_id, app_id) ||
        !webhook_rule__matches(h->rule, source, channel))
      continue;
    struct webhook_event *e = new_event(source, channel, name, serial, ts);
    struct wire_writer w;
    wire_writer__init(&w, h->rule->format);
    wire_writer__json(&w, status);
    e->items = wire_writer__finish(&w, &e->items_len);
    wire_writer__cleanup(&w);
    if (e->items) wake |= enqueue(h, e);
    else webhook_payload__event_free(e);
  }
  pthread_mutex_unlock(&wh->lock);
  if (wake) http_client__wakeup(wh->client);
}

bool webhooks__any(struct webhooks *wh) {
  return wh && atomic_load_explicit(&wh->n_enabled, memory_order_relaxed);
}

bool webhooks__wants(struct webhooks *wh, const char *app_id,
                     const char *channel, enum webhook_source source) {
  if (!webhooks__any(wh)) return false;
  bool wants = false;
  pthread_mutex_lock(&wh->lock);
  for (size_t i = 0; i < wh->n_hooks && !wants; i++) {
    struct hook *h = wh->hooks[i];
    wants = !h->removed && !strcmp(h->app_id, app_id) &&
            webhook_rule__matches(h->rule, source, channel);
  }
  pthread_mutex_unlock(&wh->lock);
  return wants;
}

size_t webhooks__queued(struct webhooks *wh) {
  if (!wh) return 0;
  pthread_mutex_lock(&wh->lock);
  size_t n = wh->queued;
  for (size_t i = 0; i < wh->n_hooks; i++) n += wh->hooks[i]->n_sending;
  pthread_mutex_unlock(&wh->lock);
  return n;
}

/* ---- Rules ---------------------------------------------------------------- */

static void count_enabled(struct webhooks *wh) {
  size_t n = 0;
  for (size_t i = 0; i < wh->n_hooks; i++)
    n += !wh->hooks[i]->removed && wh->hooks[i]->rule->enabled;
  atomic_store(&wh->n_enabled, n);
}


/* Marks h gone: the thread frees it once no request of its is in flight. */
static void retire(struct hook *h) {
  h->removed = true;
  while (h->count) forget(h->wh, h->app_id, pop_front(h));
}

int webhooks__check(struct webhooks *wh, const struct app *app,
                    const json_t *def, struct webhook_rule **out,
                    herald_error *err) {
  char id[21];
  msgid__random(id, sizeof id - 1);
  int rc = webhook_rule__parse(def, id, out, err);
  if (!rc && (*out)->signing_key &&
      !signing_secret(wh, app, (*out)->signing_key))
    rc = herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid webhook rule: signingKey %s is not a key "
                          "of app %s", (*out)->signing_key, app->id);
  if (rc) {
    webhook_rule__free(*out);
    *out = NULL;
  }
  return rc;
}

void webhooks__put(struct webhooks *wh, const char *app_id,
                   struct webhook_rule *r) {
  struct hook *h = herald_xcalloc(1, sizeof *h);
  h->wh = wh;
  h->app_id = herald_xstrdup(app_id);
  h->rule = r;
  pthread_mutex_lock(&wh->lock);
  struct hook *old = find(wh, app_id, r->id);
  if (old) retire(old);
  wh->hooks = herald_xrealloc(wh->hooks, (wh->n_hooks + 1) * sizeof *wh->hooks);
  wh->hooks[wh->n_hooks++] = h;
  count_enabled(wh);
  pthread_mutex_unlock(&wh->lock);
}

bool webhooks__remove(struct webhooks *wh, const char *app_id,
                      const char *id) {
  pthread_mutex_lock(&wh->lock);
  struct hook *h = find(wh, app_id, id);
  if (h) retire(h);
  count_enabled(wh);
  pthread_mutex_unlock(&wh->lock);
  if (h) http_client__wakeup(wh->client);
  return h != NULL;
}

void webhooks__drop_app(struct webhooks *wh, const char *app_id) {
  pthread_mutex_lock(&wh->lock);
  for (size_t i = 0; i < wh->n_hooks; i++)
    if (!strcmp(wh->hooks[i]->app_id, app_id)) retire(wh->hooks[i]);
  count_enabled(wh);
  pthread_mutex_unlock(&wh->lock);
  http_client__wakeup(wh->client);
}

static void set_ms(json_t *o, const char *key, int64_t ms) {
  if (ms) json_object_set_new(o, key, json_integer(ms));
}

/* h's definition with its deliveryState (Herald's, beside Ably's rule
 * fields): events queued, delivered and dropped, requests failed, and the
 * last failure while the rule fails. Under the lock. */
static json_t *rule_json(const struct hook *h) {
  const struct hook_state *st = &h->state;
  json_t *state = json_pack(
      "{s:I, s:I, s:I, s:I, s:i}", "queued",
      (json_int_t)(h->count + h->n_sending), "delivered",
      (json_int_t)st->delivered, "dropped", (json_int_t)st->dropped,
      "failedRequests", (json_int_t)st->failed, "failuresInARow",
      h->failures);
  set_ms(state, "lastDeliveredAt", st->delivered_at);
  set_ms(state, "lastFailedAt", st->failed_at);
  if (h->failures) {
    json_object_set_new(state, "lastError", json_string(st->error));
    set_ms(state, "nextAttemptAt",
           clock__now_ms() + (h->next_at - now_ms()));
  }
  json_t *out = json_copy(h->rule->def);
  json_object_set_new(out, "deliveryState", state);
  return out;
}

json_t *webhooks__list(struct webhooks *wh, const char *app_id,
                       const char *id) {
  json_t *out = id ? NULL : json_array();
  pthread_mutex_lock(&wh->lock);
  for (size_t i = 0; i < wh->n_hooks; i++) {
    struct hook *h = wh->hooks[i];
    if (h->removed || strcmp(h->app_id, app_id)) continue;
    if (!id) json_array_append_new(out, rule_json(h));
    else if (!strcmp(h->rule->id, id)) out = rule_json(h);
  }
  pthread_mutex_unlock(&wh->lock);
  return out;
}

/* ---- Start and stop ------------------------------------------------------- */

struct loading {
  struct webhooks *wh;
  herald_error *err;
  int rc;
};

static void load_rule(struct loading *l, const char *app_id,
                      const json_t *def) {
  struct app *app = apps__find(l->wh->ch->apps, app_id);
  struct webhook_rule *r = NULL;
  if (!app)
    l->rc = herald_error_set(l->err, HERALD_E_INVALID_PARAMETER_VALUE,
                             "Webhook rules of an unknown app %s", app_id);
  else l->rc = webhooks__check(l->wh, app, def, &r, l->err);
  apps__release(app);
  if (!l->rc) webhooks__put(l->wh, app_id, r);
}

static void load_stored(void *ctx, const char *app_id, const char *key,
                        const char *value) {
  struct loading *l = ctx;
  (void)key;
  json_t *def = json_loads(value, 0, NULL);
  if (!l->rc) load_rule(l, app_id, def);
  json_decref(def);
}

/* An event stored with its message and not delivered before the process
 * ended: queued again for its rule (key "<rule>\n..."). */
static void load_event(void *ctx, const char *app_id, const char *key,
                       const char *value) {
  struct webhooks *wh = ctx;
  struct webhook_event *e = webhook_payload__event_parse(value);
  const char *newline = strchr(key, '\n');
  char *rule_id = herald_xstrndup(key, newline ? (size_t)(newline - key) : 0);
  if (!e) e = herald_xcalloc(1, sizeof *e); /* unreadable: forgotten */
  e->keeper = keeper_new(herald_xstrdup(key), false);
  pthread_mutex_lock(&wh->lock);
  if (e->items) queue_for(wh, app_id, rule_id, e);
  else forget(wh, app_id, e);
  pthread_mutex_unlock(&wh->lock);
  herald_free(rule_id);
}

/* Another node's change to the rules (shared engines), on the engine's
 * thread: kind NULL is an app dropped, value NULL a rule deleted. */
static void follow_rule(void *ctx, const char *kind, const char *app_id,
                        const char *key, const char *value) {
  struct webhooks *wh = ctx;
  if (!kind) {
    webhooks__drop_app(wh, app_id);
  } else if (!strcmp(kind, WEBHOOKS_RECORD_RULE) && !value) {
    webhooks__remove(wh, app_id, key);
  } else if (!strcmp(kind, WEBHOOKS_RECORD_RULE)) {
    herald_error err;
    struct loading l = {.wh = wh, .err = &err};
    load_stored(&l, app_id, key, value);
    if (l.rc) log_warn("app %s: another node's rule %s: %s", app_id, key,
                       err.message);
  }
}

static void load_configured(struct loading *l, const json_t *apps) {
  size_t i, j;
  const json_t *app, *rule;
  json_array_foreach(apps, i, app) {
    const char *id = json_string_value(json_object_get(app, "id"));
    const json_t *rules = json_object_get(app, "rules");
    if (!rules) continue;
    if (!json_is_array(rules)) {
      l->rc = herald_error_set(l->err, HERALD_E_INVALID_PARAMETER_VALUE,
                               "An app's rules are an array");
      return;
    }
    json_array_foreach(rules, j, rule) {
      if (!l->rc) load_rule(l, id ? id : "", rule);
    }
  }
}

int webhooks__init(struct channels *ch, herald_error *err) {
  struct webhooks *wh = herald_xcalloc(1, sizeof *wh);
  wh->ch = ch;
  wh->cfg = ch->cfg;
  pthread_mutex_init(&wh->lock, NULL);
  wh->client = http_client__new();
  ch->webhooks = wh;
  struct loading l = {.wh = wh, .err = err};
  if (ch->cfg->apps) load_configured(&l, ch->cfg->apps);
  if (!l.rc)
    l.rc = store__load_records(ch->store, WEBHOOKS_RECORD_RULE, load_stored,
                               &l, err);
  wh->shared = store__shared(ch->store);
  wh->kept = !wh->shared && store__keeps_records(ch->store);
  if (!l.rc && !wh->shared)
    l.rc = store__load_records(ch->store, WEBHOOKS_RECORD_EVENT, load_event,
                               wh, err);
  if (!l.rc && wh->shared) {
    store__follow_outbox(ch->store, (struct store_watcher){on_outbox, wh});
    store__follow_records(ch->store,
                          (struct store_record_watcher){follow_rule, wh});
  }
  if (l.rc) {
    webhooks__free(wh);
    ch->webhooks = NULL;
  }
  return l.rc;
}

int webhooks__start(struct webhooks *wh) {
  int rc = pthread_create(&wh->thread, NULL, run, wh);
  wh->started = !rc;
  return -rc;
}

void webhooks__stop(struct webhooks *wh) {
  if (!wh || !wh->started) return;
  atomic_store(&wh->stop, true);
  http_client__wakeup(wh->client);
  pthread_join(wh->thread, NULL);
  wh->started = false;
}

void webhooks__free(struct webhooks *wh) {
  if (!wh) return;
  webhooks__stop(wh);
  http_client__free(wh->client);
  for (size_t i = 0; i < wh->n_hooks; i++) hook_free(wh->hooks[i]);
  herald_free(wh->hooks);
  herald_free(wh->due);
  pthread_mutex_destroy(&wh->lock);
  herald_free(wh);
}
