/* frame.h -- bytes ready for the wire, built once and shared by reference:
 * one encoding of one message for one kind of transport, queued on every
 * subscriber that takes it (outbound.h). Single-threaded: built and
 * shared within one worker. */
#ifndef HERALD_FRAME_H
#define HERALD_FRAME_H

#include <stddef.h>

struct frame {
  unsigned refs;
  size_t len;
  char data[];
};

/* A frame of len bytes (to be filled in) with one reference. */
struct frame *frame__new(size_t len);
struct frame *frame__ref(struct frame *f);
/* Drops a reference (f may be NULL); the last frees f. */
void frame__unref(struct frame *f);

#endif
