/* transport.h -- what the realtime protocol needs of a transport: take
 * frames of its kind, close, and report what arrives. The WebSocket
 * (websocket.c) is the first transport; SSE and comet join it later.
 *
 * A frame kind is one wire encoding of a ProtocolMessage for one kind of
 * transport, so a fanned-out message is built once per kind and shared by
 * every subscriber of that kind (outbound.h). */
#ifndef HERALD_TRANSPORT_H
#define HERALD_TRANSPORT_H

#include <stddef.h>

#include "protocol_message.h"
#include "transport/outbound.h"
#include "wire.h"

enum frame_kind { FRAME_WS_JSON, FRAME_WS_MSGPACK, FRAME_KINDS };

struct transport {
  enum frame_kind kind;
  enum wire_format format;
  struct outbound *out;
  /* Set by the protocol layer (realtime.c), called by the transport. */
  void *owner;
  void (*on_message)(void *owner, const char *data, size_t len);
  void (*on_drain)(void *owner); /* the server is stopping */
  void (*on_backlog)(void *owner); /* out->limit unsent bytes exceeded */
  void (*on_closed)(void *owner); /* gone, by either side; the last call */
  /* Set by the transport. start: begin reading (once the owner is set);
   * close: after what is queued is written; abort: now. on_closed follows
   * close and abort. */
  void (*start)(struct transport *t);
  void (*close)(struct transport *t);
  void (*abort)(struct transport *t);
};

/* pm encoded for kind, as a new frame; NULL if it does not encode. */
struct frame *transport__pm_frame(enum frame_kind kind,
                                  const struct protocol_message *pm);

#endif
