/* protocol.h -- the protocols herald-bench speaks, as a table: each names
 * its server, the peer_ops of its subscribers and of its publishers, and the
 * Ably wire format where it has one.
 *   herald: ably-json, ably-msgpack (realtime WebSocket), sse (GET /sse,
 *           published through ably-json)
 *   nchan:  nchan-ws (WebSocket subscribers), nchan-sse (EventSource
 *           subscribers), both published by HTTP POST /pub/<channel>
 * Owns: the table. */
#ifndef HERALD_BENCH_PROTOCOL_H
#define HERALD_BENCH_PROTOCOL_H

#include <stdio.h>

#include "ably.h"
#include "peer.h"

struct protocol {
  const char *server;
  const char *name;
  enum ably_format format; /* of Ably peers */
  const struct peer_ops *subscriber;
  const struct peer_ops *publisher;
};

/* The protocol of that name served by server, or NULL. */
const struct protocol *protocol__find(const char *server, const char *name);

/* Lists "server: name name ..." lines for the usage text. */
void protocol__list(FILE *out);

/* The peer_ops each protocol file defines. */
extern const struct peer_ops ably_peer__ops;
extern const struct peer_ops nchan_peer__ws_subscriber_ops;
extern const struct peer_ops nchan_peer__publisher_ops;
extern const struct peer_ops sse_peer__nchan_ops;
extern const struct peer_ops sse_peer__herald_ops;

#endif
