/* transport.c -- frames per transport kind and the plain send (see
 * transport.h). */
#include "transport/transport.h"

#include <string.h>

#include "alloc.h"
#include "core/log.h"
#include "transport/sse.h"
#include "transport/websocket.h"

/* A comet line: the ProtocolMessage as a one-element array. */
static struct frame *comet_line(const char *json, size_t len) {
  struct frame *f = frame__new(len + 3);
  f->data[0] = '[';
  memcpy(f->data + 1, json, len);
  memcpy(f->data + 1 + len, "]\n", 2);
  return f;
}

/* The frame that carries one encoded ProtocolMessage on kind. */
static struct frame *kind_frame(enum frame_kind kind, const char *payload,
                                size_t len) {
  if (kind == FRAME_COMET) return comet_line(payload, len);
  return websocket__frame(kind == FRAME_WS_MSGPACK, payload, len);
}

struct frame *transport__pm_frame(enum frame_kind kind,
                                  const struct protocol_message *pm) {
  if (sse__kind(kind)) return sse__pm_frame(kind, pm);
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

void transport__send(struct transport *t, const struct protocol_message *pm) {
  struct frame *f = transport__pm_frame(t->kind, pm);
  if (!f) return;
  outbound__push(t->out, f);
  frame__unref(f);
}

void transport__send_frame(struct transport *t, struct frame *f,
                           const char *channel, const char *serial) {
  outbound__push(t->out, f);
}
