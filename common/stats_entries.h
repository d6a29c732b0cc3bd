/* stats_entries.h -- the entries of one stats interval: Ably's flat
 * dotted keys ("messages.inbound.realtime.messages.count") to numbers
 * (json-schemas app-stats.json), sparse, in key order.
 *
 * Keys are interned once per process (stats_entries__intern), so an
 * interval costs a pointer and a number per key it has. Two ways to
 * combine intervals: summed (the same minute as several nodes saw it, or
 * a fixture added to a minute) and rolled up (minutes into an hour, ...:
 * counts summed, the max of "peak", the min of "min", the mean of "mean"). */
#ifndef HERALD_STATS_ENTRIES_H
#define HERALD_STATS_ENTRIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"
#include "wire.h"

struct stats_entry {
  const char *key; /* interned */
  double value;    /* "mean": the sum of n means */
  uint32_t n;
};

struct stats_entries {
  struct stats_entry *items;
  size_t count, cap;
};

/* The interned copy of a key: dotted segments of letters (2 to 8 of them,
 * at most 100 bytes), or NULL for any other or once the process has 4096
 * distinct keys. Thread-safe. */
const char *stats_entries__intern(const char *key, size_t len);

void stats_entries__init(struct stats_entries *e);
void stats_entries__cleanup(struct stats_entries *e);
void stats_entries__copy(struct stats_entries *dst,
                         const struct stats_entries *src);

/* Adds v to key's value (key interned, or any text: interned here; an
 * invalid one is ignored). */
void stats_entries__add(struct stats_entries *e, const char *key, double v);
/* key's value (a mean: the mean), 0 when absent. */
double stats_entries__get(const struct stats_entries *e, const char *key);

/* dst += src, value by value. */
void stats_entries__sum(struct stats_entries *dst,
                        const struct stats_entries *src);
/* src, one interval, into dst, a longer one that contains it. */
void stats_entries__roll(struct stats_entries *dst,
                         const struct stats_entries *src);

/* A map of every non-zero value. */
void stats_entries__write(struct wire_writer *w, const struct stats_entries *e);
/* Adds a flat entries map (keys as above, numbers): 0, or -40003. */
int stats_entries__read(struct stats_entries *e, struct wire_value map,
                        herald_error *err);

/* The families a counted value stands for (rest.md 17.3):
 * messages.<direction>.<transport>.<type>.<metric> with its "all"
 * transport and type, and messages.all.<type>.<metric>; */
void stats_entries__add_message(struct stats_entries *e, const char *direction,
                                const char *transport, const char *type,
                                const char *metric, double v);
/* messages.persisted.<type>.<metric> and .all; */
void stats_entries__add_persisted(struct stats_entries *e, const char *type,
                                  const char *metric, double v);
/* apiRequests.<kind>.<metric> ("other", "tokenRequests") and .all. */
void stats_entries__add_request(struct stats_entries *e, const char *kind,
                                const char *metric, double v);

/* Adds a legacy fixture record (the nested form SDK test suites post:
 * inbound, outbound, persisted, connections, channels, apiRequests,
 * tokenRequests, entries): 0, or -40003 for a value that is not a number
 * or a key that is not valid. */
int stats_entries__add_fixture(struct stats_entries *e, struct wire_value rec,
                               herald_error *err);

#endif
