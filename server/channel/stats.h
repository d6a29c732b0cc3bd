/* stats.h -- what an app's statistics count (Ably's stats API, rest.md
 * 15), counted where it happens.
 *
 * Each app has a block of counters (core/counters.h, on struct app): the
 * hot path adds to its worker's slot and takes no lock. The counts only
 * grow (connections and channels count their openings and closings);
 * stats_minutes.c reads them every tick and turns each minute's growth into
 * that minute's entries. Every count here is also the node's metric
 * (core/metrics.h) where an operator wants it. */
#ifndef HERALD_STATS_H
#define HERALD_STATS_H

#include <stdbool.h>

#include "auth/apps.h"
#include "channel/delivery.h"
#include "core/metrics.h"
#include "stats_entries.h"

struct publish;

enum stats_counter {
  /* inbound, each + enum metric_origin */
  STATS_IN_MESSAGES = 0,
  STATS_IN_MESSAGES_DATA = STATS_IN_MESSAGES + METRIC_ORIGINS,
  STATS_IN_PRESENCE = STATS_IN_MESSAGES_DATA + METRIC_ORIGINS,
  STATS_IN_PRESENCE_DATA = STATS_IN_PRESENCE + METRIC_ORIGINS,
  /* outbound: realtime */
  STATS_OUT_MESSAGES = STATS_IN_PRESENCE_DATA + METRIC_ORIGINS,
  STATS_OUT_MESSAGES_DATA,
  STATS_OUT_PRESENCE,
  STATS_OUT_PRESENCE_DATA,
  STATS_PERSISTED_MESSAGES,
  STATS_PERSISTED_MESSAGES_DATA,
  STATS_PERSISTED_PRESENCE,
  STATS_PERSISTED_PRESENCE_DATA,
  STATS_CONNECTIONS_OPENED,
  STATS_CONNECTIONS_CLOSED,
  STATS_CHANNELS_OPENED,
  STATS_CHANNELS_CLOSED,
  /* REST requests but token requests, then token requests: each
   * succeeded, failed, refused */
  STATS_API_SUCCEEDED,
  STATS_API_FAILED,
  STATS_API_REFUSED,
  STATS_TOKEN_SUCCEEDED,
  STATS_TOKEN_FAILED,
  STATS_TOKEN_REFUSED,
  STATS_COUNTERS
};

/* Adds v to the app's counter id (app NULL: nothing). */
void stats__count(struct app *app, enum stats_counter id, long v);
/* The sum of every worker's count. */
long stats__total(struct app *app, enum stats_counter id);

/* A publish's result, on its origin: when it succeeded, its messages (or
 * presence changes) came in over `origin`, and were persisted if the
 * channel keeps history that long; its latency is observed either way. */
void stats__published(const struct publish *p, enum metric_origin origin);
/* A delivery's messages went out to one realtime subscriber of app (not
 * on a metachannel: those are not the app's messages). */
void stats__delivered(struct app *app, const struct delivery *d);
/* A realtime connection (on a transport named as [meta]connection.
 * lifecycle names it) opened or closed. */
void stats__connection(struct app *app, const char *transport, bool opened);
/* A channel of app opened or closed (as this node announced it). */
void stats__channel(struct app *app, bool opened);
/* A REST request of app was answered with HTTP status `status`; token:
 * it asked for a token. */
void stats__request(struct app *app, bool token, int status);

/* The entries the counts' growth from `from` to `to` (each
 * STATS_COUNTERS long) stands for: messages, persisted, opened counts and
 * requests; connections and channels peak, min, mean are the sampler's. */
void stats__entries(const long *from, const long *to, struct stats_entries *e);

#endif
