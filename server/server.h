/* server.h -- heraldd's composition: the layers of server/ (core ->
 * transport -> store -> auth -> channel -> realtime, rest) put together,
 * each handed what it needs, and the start/stop lifecycle (server.c). */
#ifndef HERALD_SERVER_H
#define HERALD_SERVER_H

#include <stdatomic.h>
#include <uv.h>

#include "auth/apps.h"
#include "auth/nonce_cache.h"
#include "channel/channel.h"
#include "channel/stats_minutes.h"
#include "core/config.h"
#include "core/worker.h"
#include "realtime/realtime.h"
#include "rest/rest.h"
#include "transport/http.h"

/* The layers of one process, each given what it needs of the others. */
struct server {
  const struct config *cfg;
  struct worker_pool pool; /* the I/O workers */
  struct apps apps;
  struct store *store;
  struct nonce_cache nonces; /* of signed TokenRequests */
  struct channels channels;
  struct stats_minutes stats; /* apps' statistics */
  struct realtime realtime;
  struct rest rest;
  struct http_server http;
  int port;          /* the bound port (resolved when --port 0) */
  int tls_port;      /* the TLS port beside it (--tls-port), or 0 */
  char node_id[12];  /* this process, in serials and connection ids */
  uv_loop_t *main_loop;
  uv_async_t drained_signal;
  atomic_int workers_drained;
  struct worker_task *drain_tasks; /* one per worker */
  uv_signal_t sigint, sigterm;
  uv_signal_t sighup; /* re-reads the TLS files */
  uv_timer_t drain_deadline;
  uv_timer_t idle_check; /* drained: waiting for the last publishes */
  bool stopping;
};

int server__run(struct server *s, const struct config *cfg);

#endif
