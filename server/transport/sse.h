/* sse.h -- the event-stream transport (realtime.md 8): a subscribe-only
 * realtime connection over one HTTP response, as Server-Sent Events
 * (text/event-stream) or newline-delimited JSON (application/x-ndjson),
 * whose body ends when the connection closes.
 *
 * A MESSAGE (or PRESENCE) becomes one event per item: SSE
 * "event: message\ndata: <item>\n\n", JSON {"event":"message","data":<item>}
 * on a line; an item is enveloped (the Message JSON with a "channel"
 * member) or bare (its payload). Such frames are of a kind (FRAME_SSE,
 * FRAME_SSE_BARE, FRAME_EVENTS, FRAME_EVENTS_BARE), built once and shared
 * by every stream of that kind; their last event is left open, and each
 * stream completes it with its own event id.
 *
 * The id is the stream's position: one serial per channel, in the order
 * the stream named its channels, joined by '~'. A client that resumes
 * after it (lastEvent, Last-Event-ID) misses nothing and gets nothing
 * twice. Everything else is the stream's own: keepalives, heartbeat and
 * error events. */
#ifndef HERALD_SSE_H
#define HERALD_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/http.h"
#include "transport/transport.h"

struct worker;

/* Between the serials of an event id, one per channel. */
#define SSE_ID_SEPARATOR '~'

/* What a stream is, fixed when it is accepted. */
struct sse_options {
  enum frame_kind kind; /* one of the event-stream kinds */
  bool heartbeats;      /* heartbeat events instead of comments/blank lines */
  size_t n_channels;
  const char *const *channels;  /* base names, in the event id's order */
  const char *const *positions; /* where each channel starts */
  const char *headers; /* extra response header lines ("Name: v\r\n" each) */
};

/* Whether kind is one of the event-stream kinds. */
bool sse__kind(enum frame_kind kind);

/* Takes req's connection over and queues the response head; returns the
 * transport, which reads nothing (and ignores what arrives) until its owner
 * is set and it is started. */
struct transport *sse__accept(struct http_request *req,
                              const struct sse_options *o);

/* A MESSAGE or PRESENCE as a frame of an event-stream kind, its last event
 * open; NULL for any other action. */
struct frame *sse__pm_frame(enum frame_kind kind,
                            const struct protocol_message *pm);

/* Gives worker w the cache of its streams' shared id suffixes (freed when
 * w ends), before w starts. */
void sse__worker_init(struct worker *w);

#endif
