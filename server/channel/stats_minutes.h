/* stats_minutes.h -- an app's statistics minute by minute: made from the
 * counts (stats.h), kept durably, read back by unit (Ably's stats API,
 * rest.md 15) and published on the app's [meta]stats:minute.
 *
 * One worker (the first) ticks every second (or --stats-interval-ms, if
 * shorter): it samples each app's open connections and channels (peak,
 * min, mean of the minute) and, whenever a minute ends or an interval of
 * --stats-interval-ms does, folds the counts' growth since the minute
 * began into that minute's entries, stores them as a record (kind
 * "stats", key "<minute ms>/<node>") and publishes the minute (the sum
 * of every node's records of it that it knows) on [meta]stats:minute as
 * an "update" (unchanged entries are not published again). When the worker ends, the current minutes are stored as they
 * are, so a stop loses nothing.
 *
 * Each node (each process: the node id is new at every start) writes its
 * own record of a minute; a minute's value is the sum of its records, so
 * a shared engine's nodes add up, and so does a minute cut by a restart
 * (its gauges too, so a restart's minute may overstate its peak). Hours,
 * days and months are rolled up from minutes when read. The records live
 * in memory under one mutex (the tick, REST readers and a shared
 * engine's thread take it; no publisher does), loaded at start-up. */
#ifndef HERALD_STATS_MINUTES_H
#define HERALD_STATS_MINUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "channel/channel.h"
#include "hashmap.h"
#include "stats_entries.h"
#include "stats_interval.h"

#define STATS_RECORD_KIND "stats"
#define STATS_META_CHANNEL "[meta]stats:minute"
#define STATS_SCHEMA "https://schemas.ably.com/json/app-stats-0.0.5.json"

struct stats_minutes {
  struct channels *channels;
  uv_mutex_t lock;
  struct hashmap logs; /* app id -> struct app_log * (under lock) */
  uv_timer_t tick;     /* on the first worker */
};

/* Loads the stored records and follows other nodes' (before workers
 * start). 0 or a negative code. */
int stats_minutes__init(struct stats_minutes *s, struct channels *ch,
                        herald_error *err);
void stats_minutes__cleanup(struct stats_minutes *s);
/* Starts the tick on w if it is the first worker. */
void stats_minutes__worker_init(struct stats_minutes *s, struct worker *w);

/* A query (rest.md 15): intervals of `unit` starting from floor(first)
 * to last, at most limit of them, from the cursor on (an interval's start;
 * below 0: none) in the direction asked. */
struct stats_query {
  enum stats_unit unit;
  int64_t first, last;
  bool forwards;
  size_t limit;
  int64_t cursor;
};

struct stats_interval {
  int64_t start;
  bool in_progress; /* now is in it */
  struct stats_entries entries;
};

/* The app's non-empty intervals for q (herald_xmalloc'd, *count of them;
 * stats_minutes__free_intervals), and in *next the cursor of the page
 * after (below 0: none). now: the current time. */
struct stats_interval *stats_minutes__query(struct stats_minutes *s,
                                            struct app *app,
                                            const struct stats_query *q,
                                            int64_t now, size_t *count,
                                            int64_t *next);
void stats_minutes__free_intervals(struct stats_interval *iv, size_t count);

/* Adds fixture entries to the app's minute starting at minute (SDK test
 * suites' POST /stats), kept as the "fixtures" node's record. */
void stats_minutes__add_fixture(struct stats_minutes *s, struct app *app,
                                int64_t minute, const struct stats_entries *e);

/* A Stats object (current schema) of an interval. */
void stats_minutes__write(struct wire_writer *w, const char *app_id,
                          enum stats_unit unit, const struct stats_interval *iv,
                          int64_t now);

#endif
