/* websocket.h -- the WebSocket transport (RFC 6455 through wslay): the
 * upgrade handshake, inbound messages reassembled and checked by wslay,
 * outbound frames built once and queued by reference (outbound.h). */
#ifndef HERALD_WEBSOCKET_H
#define HERALD_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/http.h"
#include "transport/transport.h"

struct worker;

/* Whether req asks for a WebSocket upgrade. */
bool websocket__requested(const struct http_request *req);

/* Completes the handshake of req and returns the transport; it reads
 * nothing until its owner is set and it is started. Frames are text for
 * WIRE_JSON, binary for WIRE_MSGPACK. An invalid handshake is answered with
 * an HTTP error (http__fail) and NULL is returned. max_message: the largest inbound
 * message; a bigger one gets `too_big` sent, then the socket closes. */
struct transport *websocket__accept(struct http_request *req,
                                    enum wire_format format,
                                    size_t max_message,
                                    struct frame *too_big);

/* The frame kind a WebSocket of that format takes. */
enum frame_kind websocket__kind(enum wire_format format);

/* A data frame (binary or text) carrying payload. */
struct frame *websocket__frame(bool binary, const char *payload, size_t len);

/* Frees the calling thread's frame builder: websocket__worker_init makes
 * worker w do so when it ends (before w starts). */
void websocket__thread_cleanup(void);
void websocket__worker_init(struct worker *w);

#endif
