/* occupancy.h -- who is on a channel right now: the occupancy metrics of
 * ChannelDetails (rest.md 11.1).
 *
 * Attachments live on the workers their connections belong to, members on
 * the channel's owner, so a query visits every worker once (each counts its
 * attachments to the asked channels, the owner of a channel also its
 * members) and the counts are summed on the origin. Status requests are
 * rare; nothing is kept up to date for them on the hot path.
 *
 * Owns: struct occupancy_query's results and visits. */
#ifndef HERALD_OCCUPANCY_H
#define HERALD_OCCUPANCY_H

#include <stdatomic.h>
#include <stddef.h>

#include "worker.h"

struct server;

/* Ably's occupancy metrics of one channel. */
struct occupancy {
  long connections;          /* attachments */
  long publishers;           /* ... with the publish mode */
  long subscribers;          /* ... with the subscribe mode */
  long presence_connections; /* ... with the presence mode */
  long presence_subscribers; /* ... with the presence_subscribe mode */
  long presence_members;
  long object_publishers;
  long object_subscribers;
};

struct occupancy_visit;

struct occupancy_query {
  struct server *server;
  struct worker *origin;
  const char *app_id;
  char *const *channels; /* base names */
  size_t count;
  void (*done)(struct occupancy_query *q); /* on origin */
  /* Output: count entries, channels' order. */
  struct occupancy *results;
  /* Internal. */
  atomic_int pending;
  struct worker_task done_task;
  struct occupancy_visit *visits;
};

/* Counts; done runs on origin once every worker has answered. */
void occupancy__query(struct occupancy_query *q);
void occupancy__query_cleanup(struct occupancy_query *q);

#endif
