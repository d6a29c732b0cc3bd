/* transport.c -- frames per transport kind (see transport.h). */
#include "transport/transport.h"

#include "alloc.h"
#include "core/log.h"
#include "transport/websocket.h"

/* The frame that carries one encoded ProtocolMessage on kind. */
static struct frame *kind_frame(enum frame_kind kind, const char *payload,
                                size_t len) {
  return websocket__frame(kind == FRAME_WS_MSGPACK, payload, len);
}

struct frame *transport__pm_frame(enum frame_kind kind,
                                  const struct protocol_message *pm) {
  struct wire_writer w;
  wire_writer__init(&w, kind == FRAME_WS_MSGPACK ? WIRE_MSGPACK : WIRE_JSON);
  protocol_message__write(pm, &w);
  size_t len;
  char *bytes = wire_writer__finish(&w, &len);
  wire_writer__cleanup(&w);
  if (!bytes) {
    log_error("a ProtocolMessage (action %d) did not encode", pm->action);
    return NULL;
  }
  struct frame *f = kind_frame(kind, bytes, len);
  herald_free(bytes);
  return f;
}
