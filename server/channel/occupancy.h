/* occupancy.h -- who is on channels right now: the occupancy metrics of
 * ChannelDetails (rest.md 11.1), and which channels of an app someone is
 * on (for GET /channels, beside the channels with history).
 *
 * Attachments live on the workers their connections belong to, members on
 * the channel's owner, so a query visits every worker once and the parts
 * are put together on the origin. Such requests are rare; nothing is kept
 * up to date for them on the hot path.
 *
 * Each worker tells the channels' owners (for [meta]occupancy events,
 * occupancy_events.h) and, with a shared engine, the engine its counts of
 * the channels whose attachments changed, at most every
 * OCCUPANCY_FLUSH_MS (store__usage); a query there adds the engine's
 * answer (the other nodes' attachments, every node's members) to its own
 * workers' counts (store__occupancy).
 *
 * Owns: the queries' results and their per-worker parts, each worker's
 * channels to tell the engine about. */
#ifndef HERALD_OCCUPANCY_H
#define HERALD_OCCUPANCY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/worker.h"
#include "store/store.h" /* struct occupancy */
#include "wire.h"

struct channels;

/* Writes a ChannelDetails map (rest.md 11.1): {channelId, status:
 * {isActive, occupancy: {metrics}}} of the channel with these counts. */
void occupancy__write_details(struct wire_writer *w, const char *channel_id,
                              bool active, const struct occupancy *o);

/* Every worker visited once, then the origin (internal to the queries). */
struct worker_round {
  struct channels *channels;
  struct worker *origin;
  atomic_int pending;
  struct worker_task done_task;
  struct round_visit *visits; /* one per worker */
  void (*visit)(struct worker_round *r, int index); /* on worker index */
  void (*gathered)(struct worker_round *r);          /* on origin */
};

struct occupancy_query {
  struct worker_round round; /* first: the query is its round */
  const char *app_id;
  char *const *channels; /* base names */
  size_t count;
  void (*done)(struct occupancy_query *q); /* on origin */
  /* Output: count entries, channels' order. */
  struct occupancy *results;
  /* Internal: per worker, count entries; the engine's answer. */
  struct occupancy **parts;
  struct store_occupancy stored;
};

/* Counts; done runs on origin once every worker has answered. Set channels,
 * origin (in round), app_id, channels, count and done. */
void occupancy__query(struct occupancy_query *q);
void occupancy__query_cleanup(struct occupancy_query *q);

/* The per-worker state (and occupancy_events.h's), on w before it runs. */
void occupancy__worker_init(struct channels *ch, struct worker *w);

/* On a worker: its attachments on the channel with that fan-out key
 * changed (in number, modes, or taking events): told the channel's owner
 * (occupancy_events.h) and a shared engine within OCCUPANCY_FLUSH_MS. */
void occupancy__changed(const char *key, size_t key_len);

/* The base names of an app's channels with an attachment or a presence
 * member now, starting with prefix (if any), not before cursor (if any). */
struct active_channels_query {
  struct worker_round round; /* first: the query is its round */
  const char *app_id;
  const char *prefix;
  const char *cursor;
  void (*done)(struct active_channels_query *q); /* on origin */
  /* Output, herald_xmalloc'd: in no order, and a channel found on several
   * workers is there once per worker (GET /channels sorts and merges). */
  char **names;
  size_t count;
  /* Internal: per worker, the names it found. */
  struct name_list *parts;
};

void occupancy__active_channels(struct active_channels_query *q);
void occupancy__active_channels_cleanup(struct active_channels_query *q);

#endif
