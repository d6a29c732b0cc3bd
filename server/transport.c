/* transport.c -- frames per transport kind (see transport.h). */
#include "transport.h"

#include "websocket.h"

struct frame *transport__frame(enum frame_kind kind, const char *payload,
                               size_t len) {
  return websocket__frame(kind == FRAME_WS_MSGPACK, payload, len);
}

enum wire_format transport__format(enum frame_kind kind) {
  return kind == FRAME_WS_MSGPACK ? WIRE_MSGPACK : WIRE_JSON;
}
