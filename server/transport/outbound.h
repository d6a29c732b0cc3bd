/* outbound.h -- what a connection has yet to send: a queue of frames
 * (frame.h) that may be shared by many connections, written with coalesced
 * writes.
 *
 * A frame is queued, by reference, on every subscriber that takes it
 * (DESIGN.md section 4). Queued frames are not written at once: a queue
 * that received frames is marked dirty, and at the end of the loop turn
 * (uv_check) each dirty queue leaves in one vectored write. */
#ifndef HERALD_OUTBOUND_H
#define HERALD_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "transport/frame.h"

struct outbound_flusher;
struct worker;

struct outbound {
  uv_stream_t *stream; /* NULL: frames wait (outbound__attach) */
  struct outbound_flusher *flusher;
  struct frame **ring; /* queued frames, oldest at head */
  size_t head, count, cap;
  size_t offset;   /* bytes of the head frame already written */
  size_t bytes;    /* queued bytes not yet written */
  size_t in_write; /* frames (from head) in the uv_write in flight */
  uv_write_t write_req;
  bool dirty;
  bool failed; /* a write failed: the peer is gone */
  size_t limit; /* unsent bytes the peer may fall behind by (0: no limit) */
  struct frame *partial; /* parts of a frame still being handed over */
  struct outbound *next_dirty;
  /* Set by the owner: a write failed, the queue became empty, more than
   * limit bytes stayed unsent after a write (the peer falls behind), and
   * frames arrived while there is no stream (the owner may take them). */
  void (*on_error)(struct outbound *o);
  void (*on_empty)(struct outbound *o);
  void (*on_overflow)(struct outbound *o);
  void (*on_waiting)(struct outbound *o);
};

void outbound__init(struct outbound *o, uv_stream_t *stream,
                    struct outbound_flusher *flusher);
/* Queues a reference to f; it is written at the end of this loop turn. */
void outbound__push(struct outbound *o, struct frame *f);
/* Appends data to the frame being handed over in parts (wslay sends a
 * control frame's header and payload separately); the frame is queued
 * whole once the last part (more false) arrives, so that a discard can
 * never keep one half of it. */
void outbound__push_part(struct outbound *o, const void *data, size_t len,
                         bool more);
/* Drops queued frames that no write has started on (a subscriber that fell
 * behind); a frame already partly written stays, so framing stays whole. */
void outbound__discard_unsent(struct outbound *o);
/* A queue without a stream (stream NULL) keeps its frames: its owner
 * takes them (outbound__pop) or gives it a stream to write them to, after
 * `head` (may be NULL), which goes first. Only while nothing is being
 * written: attach to a queue without a stream, detach one whose writes
 * are done (outbound__idle). */
void outbound__attach(struct outbound *o, uv_stream_t *stream,
                      struct frame *head);
void outbound__detach(struct outbound *o);
/* The oldest queued frame, now the caller's, or NULL (no stream only). */
struct frame *outbound__pop(struct outbound *o);
/* Whether no write is in flight and no frame is partly written. */
bool outbound__idle(const struct outbound *o);
/* Whether nothing is queued or being written. */
bool outbound__empty(const struct outbound *o);
/* Releases the queue. Only once the stream is closed (libuv has then
 * cancelled any write in flight). */
void outbound__cleanup(struct outbound *o);

/* One per worker: writes the dirty queues at the end of each loop turn. */
struct outbound_flusher *outbound__flusher_new(uv_loop_t *loop);
void outbound__flusher_free(struct outbound_flusher *f);

/* Gives worker w its flusher (freed when w ends), before w starts. */
void outbound__worker_init(struct worker *w);
/* The flusher of worker w. */
struct outbound_flusher *outbound__flusher(struct worker *w);

#endif
