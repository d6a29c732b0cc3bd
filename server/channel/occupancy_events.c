/* occupancy_events.c -- [meta]occupancy events (see occupancy_events.h). */
#include "channel/occupancy_events.h"

#include <string.h>

#include "alloc.h"
#include "channel/channel.h"
#include "channel/channel_lifecycle.h"
#include "channel/delivery.h"
#include "channel/fanout.h"
#include "channel/webhooks.h"
#include "clock.h"

/* On an owner: a channel some worker has attachments on. */
struct channel_counts {
  struct occupancy *workers; /* per worker (presence_members unused) */
  struct occupancy remote;   /* the other nodes', summed */
  size_t *wanting;           /* per worker: attachments that take events */
  struct occupancy sent;     /* the last event's */
  int64_t sent_ms;           /* 0: none sent yet */
  bool due;                  /* changed since then, not sent yet */
  bool remote_known;         /* a shared engine told the other nodes' */
  struct channel_lifecycle lifecycle;
};

struct events_worker {
  struct channels *channels;
  struct worker *worker;
  struct hashmap owned; /* fan-out key -> struct channel_counts */
};

static int slot = -1;

static struct events_worker *state_of(struct worker *w) { return w->locals[slot]; }

static void free_counts(struct channel_counts *cc) {
  herald_free(cc->workers);
  herald_free(cc->wanting);
  herald_free(cc);
}

static void free_state(void *arg) {
  struct events_worker *ew = arg;
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&ew->owned, &bucket); e;
       e = hashmap__next(&ew->owned, e, &bucket))
    free_counts(e->value);
  hashmap__cleanup(&ew->owned);
  herald_free(ew);
}

void occupancy_events__worker_init(struct channels *ch, struct worker *w) {
  struct events_worker *ew = herald_xcalloc(1, sizeof *ew);
  ew->channels = ch;
  ew->worker = w;
  hashmap__init(&ew->owned);
  w->locals[worker__slot(&slot)] = ew;
  worker__at_exit(w, free_state, ew);
}

/* ---- Sums ------------------------------------------------------------------ */

static size_t wanting(const struct events_worker *ew,
                      const struct channel_counts *cc) {
  size_t n = 0;
  for (int w = 0; w < ew->worker->pool->n; w++) n += cc->wanting[w];
  return n;
}

/* The channel's occupancy now: every worker's attachments, its members. */
static struct occupancy sum(const struct events_worker *ew,
                            const struct channel_counts *cc, const char *key,
                            size_t key_len) {
  struct occupancy o = {
      .presence_members = (long)fanout__owned_members(ew->worker, key, key_len)};
  store__add_occupancy(&o, &cc->remote);
  for (int w = 0; w < ew->worker->pool->n; w++)
    store__add_occupancy(&o, &cc->workers[w]);
  return o;
}

/* ---- Channel lifecycle (channel_lifecycle.h) ---------------------------------- */

/* The channel's attachments changed, on this node (local) or another. */
static void lifecycle(struct events_worker *ew, const char *key,
                      size_t key_len, struct channel_counts *cc, bool local) {
  struct occupancy o = sum(ew, cc, key, key_len);
  bool known = cc->remote_known || !store__shared(ew->channels->store);
  long others = cc->remote.connections;
  channel_lifecycle__announce(
      ew->channels, key, key_len, &o,
      channel_lifecycle__step(&cc->lifecycle, o.connections - others, others,
                              local, known));
}

/* ---- Events ------------------------------------------------------------------ */

/* The app id and channel of a fan-out key (herald_xmalloc'd). */
static void split_key(const char *key, size_t key_len, char **app_id,
                      char **channel) {
  const char *newline = memchr(key, '\n', key_len);
  *app_id = herald_xstrndup(key, (size_t)(newline - key));
  *channel = herald_xstrndup(newline + 1,
                             key_len - (size_t)(newline - key) - 1);
}

/* Whether a channel.occupancy rule of the key's app takes its channel. */
static bool hooked(struct events_worker *ew, const char *key, size_t key_len) {
  struct webhooks *wh = ew->channels->webhooks;
  if (!webhooks__any(wh)) return false;
  char *app_id, *channel;
  split_key(key, key_len, &app_id, &channel);
  bool wants = webhooks__wants(wh, app_id, channel, WEBHOOK_OCCUPANCY);
  herald_free(app_id);
  herald_free(channel);
  return wants;
}

/* The occupancy event for the app's channel.occupancy rules: status
 * {occupancy: {metrics}}, as ChannelDetails has it. */
static void hook(struct events_worker *ew, const char *key, size_t key_len,
                 const struct occupancy *o) {
  if (!hooked(ew, key, key_len)) return;
  char *app_id, *channel;
  split_key(key, key_len, &app_id, &channel);
  size_t len;
  char *json = channel_lifecycle__details_json(channel, true, o, &len);
  json_t *details = json_loadb(json, len, 0, NULL);
  json_t *status = json_object_get(details, "status");
  json_object_del(status, "isActive");
  webhooks__channel_event(ew->channels->webhooks, app_id, channel,
                          WEBHOOK_OCCUPANCY, "channel.occupancy", status);
  json_decref(details);
  herald_free(json);
  herald_free(app_id);
  herald_free(channel);
}

/* Sends the channel's occupancy to the subscribers that take events, if it
 * changed since the last event (or always, when forced). */
static void emit(struct events_worker *ew, const char *key, size_t key_len,
                 struct channel_counts *cc, bool forced, int64_t now) {
  struct occupancy o = sum(ew, cc, key, key_len);
  cc->due = false;
  if (!forced && cc->sent_ms && !memcmp(&o, &cc->sent, sizeof o)) return;
  cc->sent = o;
  cc->sent_ms = now;
  const char *newline = memchr(key, '\n', key_len);
  if (wanting(ew, cc))
    fanout__announce(ew->worker, key, key_len,
                     delivery__occupancy(herald_xstrndup(key, key_len),
                                         (size_t)(newline - key), &o, now));
  hook(ew, key, key_len, &o);
}

/* The channel changed: an event now, unless one went out lately. */
static void changed(struct events_worker *ew, const char *key, size_t key_len,
                    struct channel_counts *cc, bool forced) {
  if (!wanting(ew, cc) && !hooked(ew, key, key_len)) return;
  int64_t now = clock__now_ms();
  if (forced || now - cc->sent_ms >= ew->channels->cfg->occupancy_interval_ms)
    emit(ew, key, key_len, cc, forced, now);
  else
    cc->due = true;
}

void occupancy_events__touch(struct worker *owner, const char *key,
                             size_t key_len) {
  struct events_worker *ew = state_of(owner);
  struct channel_counts *cc = hashmap__get(&ew->owned, key, key_len);
  if (cc) changed(ew, key, key_len, cc, false);
}

void occupancy_events__sweep(struct worker *owner, int64_t now) {
  struct events_worker *ew = state_of(owner);
  int64_t interval = ew->channels->cfg->occupancy_interval_ms;
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&ew->owned, &bucket); e;
       e = hashmap__next(&ew->owned, e, &bucket)) {
    struct channel_counts *cc = e->value;
    if (cc->due && now - cc->sent_ms >= interval)
      emit(ew, e->key, e->key_len, cc, false, now);
  }
}

/* ---- Reports from the workers --------------------------------------------------- */

struct report {
  struct worker_task task;
  int worker;
  struct occupancy counts;
  size_t wanting;
  size_t key_len;
  char key[];
};

/* The channel's counts, made the first time (while the fan-out owns it). */
static struct channel_counts *counts_of(struct events_worker *ew,
                                        const char *key, size_t key_len) {
  struct channel_counts *cc = hashmap__get(&ew->owned, key, key_len);
  if (cc || !fanout__owns(ew->worker, key, key_len)) return cc;
  cc = herald_xcalloc(1, sizeof *cc);
  cc->workers = herald_xcalloc((size_t)ew->worker->pool->n, sizeof *cc->workers);
  cc->wanting = herald_xcalloc((size_t)ew->worker->pool->n, sizeof *cc->wanting);
  hashmap__put(&ew->owned, key, key_len, cc);
  return cc;
}

static void on_report(struct worker_task *task) {
  struct report *r = (struct report *)task;
  struct events_worker *ew = state_of(worker__self());
  struct channel_counts *cc = counts_of(ew, r->key, r->key_len);
  if (cc) {
    bool arrived = r->wanting > cc->wanting[r->worker];
    cc->workers[r->worker] = r->counts;
    cc->wanting[r->worker] = r->wanting;
    changed(ew, r->key, r->key_len, cc, arrived);
    lifecycle(ew, r->key, r->key_len, cc, true);
  }
  herald_free(r);
}

void occupancy_events__remote(struct worker *owner, const char *key,
                              size_t key_len, const struct occupancy *o) {
  struct events_worker *ew = state_of(owner);
  struct channel_counts *cc = counts_of(ew, key, key_len);
  if (!cc) return;
  cc->remote = *o;
  cc->remote_known = true;
  changed(ew, key, key_len, cc, false);
  lifecycle(ew, key, key_len, cc, false);
}

void occupancy_events__forget(struct worker *owner, const char *key,
                              size_t key_len) {
  struct events_worker *ew = state_of(owner);
  struct channel_counts *cc = hashmap__remove(&ew->owned, key, key_len);
  if (!cc) return;
  /* No worker here subscribes any more: a last report still on its way
   * would find no counts, so the channel closes now if nobody else is on
   * it. */
  memset(cc->workers, 0, (size_t)ew->worker->pool->n * sizeof *cc->workers);
  lifecycle(ew, key, key_len, cc, true);
  free_counts(cc);
}

void occupancy_events__report(struct channels *ch, const char *key,
                              size_t key_len, const struct occupancy *counts,
                              size_t wanting) {
  struct report *r = herald_xmalloc(sizeof *r + key_len + 1);
  r->worker = worker__self()->index;
  r->counts = *counts;
  r->wanting = wanting;
  r->key_len = key_len;
  memcpy(r->key, key, key_len);
  r->key[key_len] = '\0';
  const char *newline = memchr(key, '\n', key_len);
  char *app_id = herald_xstrndup(key, (size_t)(newline - key));
  struct worker *owner = channel__owner(ch, app_id, newline + 1);
  herald_free(app_id);
  worker__post(owner, &r->task, on_report);
}
