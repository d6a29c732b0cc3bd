/* stats.c -- an app's statistics, counted on the hot path (see stats.h). */
#include "channel/stats.h"

#include <stdatomic.h>
#include <string.h>

#include "channel/channel.h"
#include "protocol_message.h"

static struct counters *block_of(struct app *app) {
  struct counters *c = atomic_load_explicit(&app->stats, memory_order_acquire);
  if (c) return c;
  struct counters *made = counters__new(STATS_COUNTERS);
  if (atomic_compare_exchange_strong(&app->stats, &c, made)) return made;
  counters__free(made); /* another thread made it first: c is that one */
  return c;
}

void stats__count(struct app *app, enum stats_counter id, long v) {
  if (app) counters__add(block_of(app), id, v);
}

long stats__total(struct app *app, enum stats_counter id) {
  struct counters *c = atomic_load_explicit(&app->stats, memory_order_acquire);
  return c ? (long)counters__sum(c, id) : 0;
}

static long data_of(struct message *const *messages, size_t count) {
  long bytes = 0;
  for (size_t i = 0; i < count; i++) bytes += (long)message__size(messages[i]);
  return bytes;
}

void stats__published(const struct publish *p, enum metric_origin origin) {
  metrics__observe(METRIC_PUBLISH_LATENCY, metrics__now_us() - p->started_us);
  if (p->rc || !p->count) return;
  long data = data_of(p->messages, p->count), n = (long)p->count;
  stats__count(p->app,
               (p->presence ? STATS_IN_PRESENCE : STATS_IN_MESSAGES) + origin, n);
  stats__count(p->app,
               (p->presence ? STATS_IN_PRESENCE_DATA : STATS_IN_MESSAGES_DATA) +
                   origin,
               data);
  metrics__add(METRIC_MESSAGES_IN + origin, n);
  metrics__add(METRIC_BYTES_IN + origin, data);
  if (p->ephemeral || !apps__persisted(p->app, p->channel)) return;
  stats__count(p->app,
               p->presence ? STATS_PERSISTED_PRESENCE : STATS_PERSISTED_MESSAGES,
               n);
  stats__count(p->app,
               p->presence ? STATS_PERSISTED_PRESENCE_DATA
                           : STATS_PERSISTED_MESSAGES_DATA,
               data);
}

void stats__delivered(struct app *app, const struct delivery *d) {
  bool presence = d->action == PM_PRESENCE;
  long data = data_of(d->messages, d->count), n = (long)d->count;
  stats__count(app, presence ? STATS_OUT_PRESENCE : STATS_OUT_MESSAGES, n);
  stats__count(app, presence ? STATS_OUT_PRESENCE_DATA : STATS_OUT_MESSAGES_DATA,
               data);
  metrics__add(METRIC_MESSAGES_OUT, n);
  metrics__add(METRIC_BYTES_OUT, data);
}

static enum metric_transport transport_of(const char *name) {
  if (name && !strcmp(name, "comet")) return METRIC_COMET;
  if (name && !strcmp(name, "sse")) return METRIC_SSE;
  return METRIC_WEBSOCKET;
}

void stats__connection(struct app *app, const char *transport, bool opened) {
  stats__count(app, opened ? STATS_CONNECTIONS_OPENED : STATS_CONNECTIONS_CLOSED,
               1);
  metrics__add((opened ? METRIC_CONNECTIONS_OPENED : METRIC_CONNECTIONS_CLOSED) +
                   transport_of(transport),
               1);
}

void stats__channel(struct app *app, bool opened) {
  stats__count(app, opened ? STATS_CHANNELS_OPENED : STATS_CHANNELS_CLOSED, 1);
  metrics__add(opened ? METRIC_CHANNELS_OPENED : METRIC_CHANNELS_CLOSED, 1);
}

void stats__request(struct app *app, bool token, int status) {
  /* refused: the client's credentials or rate; failed: anything else
   * (offsets of succeeded, failed, refused in both enums) */
  bool refused = status == 401 || status == 403 || status == 429;
  int outcome = status < 400 ? 0 : refused ? 2 : 1;
  stats__count(app, (token ? STATS_TOKEN_SUCCEEDED : STATS_API_SUCCEEDED) + outcome,
               1);
  metrics__add(METRIC_REQUESTS_SUCCEEDED + outcome, 1);
}

/* ---- Counts into entries ---------------------------------------------------- */

static const char *const outcomes[] = {"succeeded", "failed", "refused"};
static const char *const origins[] = {"rest", "realtime"};

void stats__entries(const long *from, const long *to, struct stats_entries *e) {
#define GROWN(id) ((double)(to[id] - from[id]))
  for (int o = 0; o < METRIC_ORIGINS; o++) {
    stats_entries__add_message(e, "inbound", origins[o], "messages", "count",
                               GROWN(STATS_IN_MESSAGES + o));
    stats_entries__add_message(e, "inbound", origins[o], "messages", "data",
                               GROWN(STATS_IN_MESSAGES_DATA + o));
    stats_entries__add_message(e, "inbound", origins[o], "presence", "count",
                               GROWN(STATS_IN_PRESENCE + o));
    stats_entries__add_message(e, "inbound", origins[o], "presence", "data",
                               GROWN(STATS_IN_PRESENCE_DATA + o));
  }
  stats_entries__add_message(e, "outbound", "realtime", "messages", "count",
                             GROWN(STATS_OUT_MESSAGES));
  stats_entries__add_message(e, "outbound", "realtime", "messages", "data",
                             GROWN(STATS_OUT_MESSAGES_DATA));
  stats_entries__add_message(e, "outbound", "realtime", "presence", "count",
                             GROWN(STATS_OUT_PRESENCE));
  stats_entries__add_message(e, "outbound", "realtime", "presence", "data",
                             GROWN(STATS_OUT_PRESENCE_DATA));
  stats_entries__add_persisted(e, "messages", "count",
                               GROWN(STATS_PERSISTED_MESSAGES));
  stats_entries__add_persisted(e, "messages", "data",
                               GROWN(STATS_PERSISTED_MESSAGES_DATA));
  stats_entries__add_persisted(e, "presence", "count",
                               GROWN(STATS_PERSISTED_PRESENCE));
  stats_entries__add_persisted(e, "presence", "data",
                               GROWN(STATS_PERSISTED_PRESENCE_DATA));
  stats_entries__add(e, "connections.all.opened", GROWN(STATS_CONNECTIONS_OPENED));
  stats_entries__add(e, "channels.opened", GROWN(STATS_CHANNELS_OPENED));
  for (int o = 0; o < 3; o++) {
    stats_entries__add_request(e, "other", outcomes[o],
                               GROWN(STATS_API_SUCCEEDED + o));
    stats_entries__add_request(e, "tokenRequests", outcomes[o],
                               GROWN(STATS_TOKEN_SUCCEEDED + o));
  }
#undef GROWN
}
