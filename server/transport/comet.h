/* comet.h -- Ably's comet transport (realtime.md 7): one realtime
 * connection over a series of HTTP requests. /comet/connect opens it and
 * is its first recv; /comet/<key>/recv takes what is queued, /send brings
 * a JSON array of ProtocolMessages, /close and /disconnect end it.
 *
 * Polling (stream=false, browsers): a recv is answered with every queued
 * ProtocolMessage as one JSON array, or waits until there is one (the
 * realtime layer's heartbeats bound the wait). Streaming (ably-js in
 * Node): a recv stays open and takes a line "[PM]\n" per message until
 * the server ends it (stream_ms); the client then asks again. Frames are
 * FRAME_COMET lines, shared like those of any other kind; between recvs
 * they wait in the queue (an outbound without a stream), whose bound
 * applies as on any transport.
 *
 * A comet connection lives on the worker that accepted its connect; the
 * registry tells every worker which, and a request for it arriving
 * elsewhere moves there with its HTTP connection (http__move). Without a
 * recv for idle_ms + grace_ms it is lost (the client resumes). */
#ifndef HERALD_COMET_H
#define HERALD_COMET_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "hashmap.h"
#include "transport/http.h"
#include "transport/transport.h"

/* Every comet connection of the process, by the connection key its
 * client puts in the URL. */
struct comet_registry {
  uv_mutex_t lock;
  struct hashmap by_key; /* key -> struct comet */
  const char *allowed_origins; /* CORS of every answer (http_headers.h) */
};

void comet__registry_init(struct comet_registry *r,
                          const char *allowed_origins);
void comet__registry_cleanup(struct comet_registry *r);

/* On worker w's thread once its loop has ended: frees w's comet
 * connections still there, those between recvs when the server stopped
 * (nobody came to take their last frames). */
void comet__worker_cleanup(struct comet_registry *r, struct worker *w);

struct comet_options {
  bool stream;      /* else polling */
  int64_t idle_ms;  /* the connection's heartbeat interval */
  int64_t grace_ms; /* a recv is due within idle_ms + grace_ms */
  int64_t stream_ms; /* a streaming recv ends after this */
};

/* A comet transport whose first recv is req (a /comet/connect). It is
 * found by the key of the CONNECTED it sends. */
struct transport *comet__accept(struct comet_registry *r,
                                struct http_request *req,
                                const struct comet_options *o);

enum comet_request { COMET_RECV, COMET_SEND, COMET_CLOSE, COMET_DISCONNECT };

/* Serves req, a request of the comet connection with that key: on the
 * connection's worker (moving req there first), or with 410 (80016) when
 * there is no such connection. */
void comet__serve(struct comet_registry *r, const char *key,
                  enum comet_request what, struct http_request *req);

#endif
