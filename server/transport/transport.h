/* transport.h -- what the realtime protocol needs of a transport: take
 * ProtocolMessages and shared frames, close, and report what arrives.
 * Transports: the WebSocket (websocket.c), comet long-polling and
 * streaming (comet.c), and subscribe-only event streams (sse.c).
 *
 * A frame kind is one wire rendering of a ProtocolMessage for one kind of
 * transport, so a fanned-out message is built once per kind and shared by
 * every subscriber of that kind (outbound.h). */
#ifndef HERALD_TRANSPORT_H
#define HERALD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol_message.h"
#include "transport/outbound.h"
#include "wire.h"

enum frame_kind {
  FRAME_WS_JSON,     /* a WebSocket text frame of the JSON encoding */
  FRAME_WS_MSGPACK,  /* a WebSocket binary frame of the MessagePack one */
  FRAME_COMET,       /* a line "[<JSON>]\n" (comet.h) */
  /* Event streams (sse.h): Server-Sent Events and newline-delimited JSON,
   * with each item enveloped (the Message JSON) or bare (its payload). */
  FRAME_SSE,
  FRAME_SSE_BARE,
  FRAME_EVENTS,
  FRAME_EVENTS_BARE,
  FRAME_KINDS
};

struct transport {
  enum frame_kind kind;
  enum wire_format format; /* of what arrives */
  struct outbound *out;
  /* Set by the protocol layer (realtime.c), called by the transport. */
  void *owner;
  /* A ProtocolMessage, or with `batch` a JSON array of them (comet). */
  void (*on_message)(void *owner, const char *data, size_t len, bool batch);
  void (*on_drain)(void *owner); /* the server is stopping */
  void (*on_backlog)(void *owner); /* out->limit unsent bytes exceeded */
  void (*on_closed)(void *owner); /* gone, by either side; the last call */
  /* Set by the transport. start: begin reading (once the owner is set);
   * close: after what is queued is written; abort: now. on_closed follows
   * close and abort. */
  void (*start)(struct transport *t);
  void (*close)(struct transport *t);
  void (*abort)(struct transport *t);
  /* Queues pm (transport__send: encoded for kind). */
  void (*send)(struct transport *t, const struct protocol_message *pm);
  /* Queues f, a frame of kind. channel: the channel whose messages f
   * carries, after which its position is serial; NULL for any other frame
   * (transport__send_frame: queued as it is). */
  void (*send_frame)(struct transport *t, struct frame *f,
                     const char *channel, const char *serial);
};

/* pm rendered for kind, as a new frame; NULL if it does not encode or has
 * no rendering of that kind. */
struct frame *transport__pm_frame(enum frame_kind kind,
                                  const struct protocol_message *pm);

/* The plain send and send_frame: pm encoded for t->kind; f as it is. */
void transport__send(struct transport *t, const struct protocol_message *pm);
void transport__send_frame(struct transport *t, struct frame *f,
                           const char *channel, const char *serial);

#endif
