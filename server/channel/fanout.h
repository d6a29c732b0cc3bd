/* fanout.h -- from a channel's owner to every subscriber (DESIGN.md 3-4).
 *
 * The owner of a channel keeps its position (the serial of the last
 * message fanned out) and the set of workers with subscribers
 * (struct owned_channel). Each worker keeps, per channel, its local
 * attachments (struct local_channel) and registers with the owner when the
 * first one arrives; the owner answers with the channel's position, and
 * from then on posts every published message to that worker once. The
 * worker encodes a delivered message once per frame kind and queues the
 * same frame on every subscriber of that kind.
 *
 * Ordering: owner -> worker posts are FIFO, so a worker holds every message
 * after the position it was told, and none before: a new attachment on a
 * registered channel starts at the channel's local position with no round
 * trip. The channel's presence member count travels with the position and
 * every delivery, so a worker knows, with no round trip either, whether an
 * ATTACHED must promise a presence SYNC (HAS_PRESENCE). */
#ifndef HERALD_FANOUT_H
#define HERALD_FANOUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "message.h"
#include "channel/occupancy.h"
#include "realtime/realtime.h"
#include "serial.h"

struct local_channel;
struct publish;

/* One published ProtocolMessage (a MESSAGE or a PRESENCE), as every
 * subscriber receives it. Shared by the workers it is posted to;
 * immutable. */
struct delivery {
  atomic_int refs;
  int action;          /* PM_MESSAGE or PM_PRESENCE */
  char *key; /* the channel's key: app id, '\n', base name */
  const char *channel; /* the base name, inside key */
  char *pm_id;
  char *connection_id; /* the publisher's */
  int64_t timestamp;
  struct message **messages; /* or presence items */
  size_t count;
  const char *channel_serial; /* the last message's serial */
  size_t presence_members; /* the channel's member count after it */
};

void delivery__unref(struct delivery *d);
/* The delivery's ProtocolMessage as a frame of kind (a new one). */
struct frame *delivery__frame(const struct delivery *d, enum frame_kind kind);

enum attachment_state {
  ATTACHMENT_WAITING,   /* for the channel's position */
  ATTACHMENT_REPLAYING, /* history being sent; live messages are held */
  ATTACHMENT_LIVE,
};

struct attachment {
  struct rt_conn *conn; /* whose attachments map holds it by name */
  struct local_channel *local;
  struct attachment *prev, *next; /* the local channel's list */
  char *name; /* the channel's base name */
  uint32_t modes;
  bool echo; /* false: the connection's own messages are not delivered */
  enum attachment_state state;
  /* Until live: the last serial this attachment received; once live it
   * follows its channel's (fanout__position). */
  char position[SERIAL_MAX];
  /* What the attach asked for (realtime_channels.c). */
  char *resume_from;  /* channelSerial to continue from, or NULL */
  char *rewind;       /* the rewind param, or NULL */
  struct replay *replay;
  struct held_delivery *held; /* live deliveries during a replay */
  size_t n_held, cap_held;
};

/* A live delivery held back while its attachment replays, with the frame
 * it will be sent as (its bytes count toward the connection's outbound
 * bound: rt__hold). */
struct held_delivery {
  struct delivery *delivery;
  struct frame *frame;
};

/* Whether a takes a message published by connection `publisher` (NULL:
 * unknown): it subscribes, and echo is on or the message is not its own. */
bool attachment__wants(const struct attachment *a, const char *publisher);

/* Whether a takes d: a message as attachment__wants says; a presence
 * change with the presence_subscribe mode, or when it concerns a's own
 * connection's members (RTP17a). */
bool attachment__wants_delivery(const struct attachment *a,
                                const struct delivery *d);

/* Links a (a->conn, a->name set) into its worker's channel and, once the
 * channel's position is known, calls rt_channels__positioned(a). */
void fanout__subscribe(struct realtime_worker *rw, const char *app_id,
                       struct attachment *a);
void fanout__unsubscribe(struct attachment *a);

/* The last serial a live attachment's channel delivered. */
const char *fanout__position(const struct attachment *a);
/* A channel's key in the owner's and the workers' maps: app id, '\n', base
 * name (herald_xmalloc'd; *len without the NUL). */
char *fanout__channel_key(const char *app_id, const char *name, size_t *len);
/* The base name in such a key when it is app_id's, else NULL. */
const char *fanout__key_channel(const char *key, size_t key_len,
                                const char *app_id);
/* Calls fn with the base name of each of the app's channels this worker
 * has attachments to. */
void fanout__each_channel(struct realtime_worker *rw, const char *app_id,
                          void (*fn)(const char *name, void *arg), void *arg);
/* Adds this worker's attachments to the channel with that key to *o. */
void fanout__count_attachments(struct realtime_worker *rw, const char *key,
                               size_t key_len, struct occupancy *o);
/* The channel's presence member count as of that position (as of the
 * latest delivery while an attachment replays). */
size_t fanout__presence_members(const struct attachment *a);

/* On the owner, after a publish (or presence change) was appended: move
 * the channel's position and post it to every worker with subscribers. */
void fanout__published(struct worker *owner, const struct publish *p);

/* Drops the owner's record of channels nobody subscribes to and that saw
 * no message for a while (their position is then "now"). */
void fanout__sweep(struct realtime_worker *rw, int64_t now);

/* Per-worker teardown of fanout state. */
void fanout__cleanup(struct realtime_worker *rw);

/* realtime_channels.c: the attachment's channel position is known. */
void rt_channels__positioned(struct attachment *a);

#endif
