/* occupancy.c -- occupancy metrics gathered from every worker (see
 * occupancy.h). */
#include "occupancy.h"

#include <stddef.h>

#include "alloc.h"
#include "channel.h"
#include "fanout.h"
#include "presence.h"
#include "server.h"

/* One worker's part: its counts for every channel asked. */
struct occupancy_visit {
  struct worker_task task;
  struct occupancy_query *query;
  struct occupancy *counts;
};

static void add(struct occupancy *sum, const struct occupancy *part) {
  sum->connections += part->connections;
  sum->publishers += part->publishers;
  sum->subscribers += part->subscribers;
  sum->presence_connections += part->presence_connections;
  sum->presence_subscribers += part->presence_subscribers;
  sum->presence_members += part->presence_members;
  sum->object_publishers += part->object_publishers;
  sum->object_subscribers += part->object_subscribers;
}

/* On origin, once every worker has counted: the sums, then done. */
static void on_done(struct worker_task *task) {
  struct occupancy_query *q =
      (struct occupancy_query *)((char *)task -
                                 offsetof(struct occupancy_query, done_task));
  for (int w = 0; w < q->server->n_workers; w++) {
    for (size_t i = 0; i < q->count; i++)
      add(&q->results[i], &q->visits[w].counts[i]);
    herald_free(q->visits[w].counts);
  }
  herald_free(q->visits);
  q->visits = NULL;
  q->done(q);
}

/* On each worker: its attachments, and the members of the channels it
 * owns. */
static void count_on_worker(struct worker_task *task) {
  struct occupancy_visit *v = (struct occupancy_visit *)task;
  struct occupancy_query *q = v->query;
  struct worker *self = worker__self();
  for (size_t i = 0; i < q->count; i++) {
    size_t key_len;
    char *key = fanout__channel_key(q->app_id, q->channels[i], &key_len);
    fanout__count_attachments(self->realtime, key, key_len, &v->counts[i]);
    if (channel__owner(q->server, q->app_id, q->channels[i]) == self)
      v->counts[i].presence_members = (long)presence__count(
          channel__presence(self->channels), key, key_len);
    herald_free(key);
  }
  if (atomic_fetch_sub(&q->pending, 1) == 1)
    worker__post(q->origin, &q->done_task, on_done);
}

void occupancy__query(struct occupancy_query *q) {
  int n = q->server->n_workers;
  q->results = herald_xcalloc(q->count ? q->count : 1, sizeof *q->results);
  q->visits = herald_xcalloc((size_t)n, sizeof *q->visits);
  atomic_init(&q->pending, n);
  for (int w = 0; w < n; w++) {
    q->visits[w].query = q;
    q->visits[w].counts =
        herald_xcalloc(q->count ? q->count : 1, sizeof *q->visits[w].counts);
  }
  for (int w = 0; w < n; w++)
    worker__post(&q->server->workers[w], &q->visits[w].task, count_on_worker);
}

void occupancy__query_cleanup(struct occupancy_query *q) {
  herald_free(q->results);
  q->results = NULL;
}
