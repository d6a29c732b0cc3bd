/* server.h -- the process-wide context of heraldd: configuration, apps,
 * storage and the I/O workers, plus the start/stop lifecycle (server.c). */
#ifndef HERALD_SERVER_H
#define HERALD_SERVER_H

#include <stdatomic.h>
#include <uv.h>

#include "transport/address_limit.h"
#include "auth/apps.h"
#include "core/config.h"
#include "realtime/connection_registry.h"
#include "auth/nonce_cache.h"
#include "core/worker.h"

struct store;

struct server {
  const struct config *cfg;
  struct apps apps;
  struct store *store;
  struct nonce_cache nonces; /* of signed TokenRequests */
  struct connection_registry connections; /* realtime, for resume */
  struct address_limit unauthenticated;   /* HTTP connections per address */
  struct worker *workers;
  int n_workers;
  int port;          /* the bound port (resolved when --port 0) */
  char node_id[12];  /* this process, in serials and connection ids */
  uv_loop_t *main_loop;
  uv_async_t drained_signal;
  atomic_int workers_drained;
  uv_signal_t sigint, sigterm;
  uv_timer_t drain_deadline;
  bool stopping;
};

/* Runs heraldd until SIGINT or SIGTERM: opens storage, builds the apps,
 * binds, starts the workers, prints where it listens, and on a signal drains
 * in-flight requests before closing storage. Returns the exit status. */
int server__run(struct server *s, const struct config *cfg);

/* Called by a worker (any thread) when it has drained. */
void server__worker_drained(struct server *s);

#endif
