/* delivery.h -- one published ProtocolMessage (a MESSAGE, a PRESENCE or
 * an ANNOTATION)
 * as every subscriber receives it: made once on the channel's owner,
 * shared by the workers it is posted to (fanout.h), immutable, counted
 * across threads. */
#ifndef HERALD_DELIVERY_H
#define HERALD_DELIVERY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "store/store.h"
#include "transport/transport.h"

struct message_filter;
struct publish;

enum delivery_kind {
  DELIVERY_STORED,    /* a publish or presence change: in the channel's
                         order, moves its position */
  DELIVERY_OCCUPANCY, /* a [meta]occupancy event (occupancy_events.h): no
                         serial, for the subscribers that take events */
  DELIVERY_ANNOTATION, /* an annotation (annotations.h): for the
                          subscribers with the annotation_subscribe mode;
                          the summary MESSAGE after it moves the position */
};

struct delivery {
  atomic_int refs;
  enum delivery_kind kind;
  int action;          /* PM_MESSAGE, PM_PRESENCE or PM_ANNOTATION */
  char *key; /* the channel's key: app id, '\n', base name */
  const char *channel; /* the base name, inside key */
  char *pm_id;
  char *connection_id; /* the publisher's */
  int64_t timestamp;
  struct message **messages; /* or presence items */
  size_t count;
  const char *channel_serial; /* the last message's serial (stored) */
  size_t presence_members; /* the channel's member count after it */
};

/* The delivery of p (appended, count > 0) to the channel with that key
 * (taken over; app_id_len: the length of its app id part), after which
 * the channel has presence_members members. One reference. */
struct delivery *delivery__new(const struct publish *p, char *key,
                               size_t app_id_len, size_t presence_members);
/* After p, an annotation appended: the MESSAGE (action summary) every
 * subscriber of the channel receives, the annotated message's serial with
 * its whole summary (Ably's message.summary). */
struct delivery *delivery__summary(const struct publish *p, char *key,
                                   size_t app_id_len, size_t presence_members);
/* delivery__summary of a shared engine's appended annotation (it->latest
 * set), before delivery__from_feed takes the item's strings. */
struct delivery *delivery__feed_summary(const struct store_feed_item *it,
                                        char *key, size_t presence_members);
/* The delivery of a shared engine's append (it->count > 0), whose strings
 * and messages it takes over. */
struct delivery *delivery__from_feed(struct store_feed_item *it, char *key,
                                     size_t presence_members);
/* A [meta]occupancy event of the channel with that key (taken over) at
 * now: data {"metrics": o}, as Ably sends it. */
struct delivery *delivery__occupancy(char *key, size_t app_id_len,
                                     const struct occupancy *o, int64_t now);
struct delivery *delivery__ref(struct delivery *d);
/* Drops a reference (d may be NULL); the last frees d. */
void delivery__unref(struct delivery *d);

/* The delivery's ProtocolMessage as a frame of kind (a new one). */
struct frame *delivery__frame(const struct delivery *d, enum frame_kind kind);

/* The messages of d (a MESSAGE) that filter matches, as the ProtocolMessage
 * a filtered attachment receives on channel (its "[filter=...]" name):
 * a frame of kind of its own, or NULL when filter matches none. The
 * position is d's, so a subscriber resumes after every message it was
 * spared. The exception path: unfiltered subscribers share
 * delivery__frame_of's frames. */
struct frame *delivery__filtered_frame(const struct delivery *d,
                                       enum frame_kind kind,
                                       const char *channel,
                                       const struct message_filter *filter);

/* One delivery's frames on one worker, one per kind, each built the first
 * time a subscriber of that kind takes it (delivery__frame_of): a kind
 * nobody takes is never encoded. */
struct delivery_frames {
  const struct delivery *delivery;
  struct frame *by_kind[FRAME_KINDS];
};

/* The delivery as a frame of kind, shared (take a reference to keep it). */
static inline struct frame *delivery__frame_of(struct delivery_frames *fr,
                                               enum frame_kind kind) {
  if (!fr->by_kind[kind]) fr->by_kind[kind] = delivery__frame(fr->delivery, kind);
  return fr->by_kind[kind];
}

#endif
