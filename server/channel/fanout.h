/* fanout.h -- from a channel's owner to every subscriber (DESIGN.md 3-4).
 *
 * The owner of a channel keeps its position (the serial of the last
 * message fanned out) and the set of workers with subscribers
 * (struct owned_channel). Each worker keeps, per channel, its local
 * subscribers (struct local_channel) and registers with the owner when the
 * first one arrives; the owner answers with the channel's position, and
 * from then on posts every published message to that worker once. The
 * worker offers a delivered message to each of its subscribers, and
 * encodes it once per frame kind some subscriber takes.
 *
 * A subscriber is anything that takes a channel's messages: a realtime
 * attachment (realtime_channels.c), whatever the connection's transport
 * (an event stream's too), today; a webhook rule tomorrow. Each is one
 * implementation of struct subscriber_ops; fan-out knows nothing else of
 * it.
 *
 * Ordering: owner -> worker posts are FIFO, so a worker holds every message
 * after the position it was told, and none before: a new attachment on a
 * registered channel starts at the channel's local position with no round
 * trip. The channel's presence member count travels with the position and
 * every delivery, so a worker knows, with no round trip either, whether an
 * ATTACHED must promise a presence SYNC (HAS_PRESENCE).
 *
 * With a shared engine (store.h: Redis, several nodes) an owner does not
 * fan out its own appends: it watches each channel some worker registered
 * for, answers registrations once the engine told it the channel's
 * position, and fans out what the engine feeds -- every node's publishes,
 * in the channel's one order. The rest is the same. */
#ifndef HERALD_FANOUT_H
#define HERALD_FANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "channel/channel.h"
#include "channel/delivery.h"
#include "channel/occupancy.h"
#include "message.h"
#include "serial.h"
#include "transport/transport.h"

struct local_channel;
struct subscriber;

struct subscriber_ops {
  /* Offers s the delivery d. A subscriber that takes it gets it encoded
   * for its transport from frames (delivery__frame_of), so each kind is
   * built once for every subscriber of the worker, and none for a kind
   * nobody takes. One indirect call per subscriber and message. */
  void (*deliver)(struct subscriber *s, struct delivery *d,
                  struct delivery_frames *frames);
  /* s's channel position is known (s->position): from now on it is
   * handed every message after it. */
  void (*positioned)(struct subscriber *s);
  /* s's channel lost its feed (a shared engine's outage, err): s is
   * unsubscribed already and gets nothing more; it may subscribe again,
   * and go on from its own position through history. */
  void (*interrupted)(struct subscriber *s, const herald_error *err);
};

struct subscriber {
  const struct subscriber_ops *ops;
  char *name;     /* the channel's base name */
  uint32_t modes; /* PM_FLAG_MODE_*: counted by occupancy */
  bool occupancy; /* takes the channel's [meta]occupancy events */
  /* Until positioned: the position it was told, then it may follow its
   * channel's (fanout__position). */
  char position[SERIAL_MAX];
  struct local_channel *local;
  struct subscriber *prev, *next; /* the local channel's list */
};

/* Links s (ops, name and modes set) into the calling worker's
 * channel and, once the channel's position is known, calls
 * s->ops->positioned(s). */
void fanout__subscribe(const char *app_id, struct subscriber *s);
void fanout__unsubscribe(struct subscriber *s);
/* Changes a subscribed s's modes, or whether it takes occupancy events
 * (occupancy counts both). */
void fanout__set_modes(struct subscriber *s, uint32_t modes);
void fanout__set_occupancy(struct subscriber *s, bool occupancy);

/* The last serial s's channel delivered on this worker. */
const char *fanout__position(const struct subscriber *s);
/* A channel's key in the owner's and the workers' maps: app id, '\n', base
 * name (herald_xmalloc'd; *len without the NUL). */
char *fanout__channel_key(const char *app_id, const char *name, size_t *len);
/* The base name in such a key when it is app_id's, else NULL. */
const char *fanout__key_channel(const char *key, size_t key_len,
                                const char *app_id);
/* Calls fn with the base name of each of the app's channels worker w
 * has subscribers to. */
void fanout__each_channel(struct worker *w, const char *app_id,
                          void (*fn)(const char *name, void *arg), void *arg);
/* Adds worker w's subscribers to the channel with that key to *o;
 * returns how many of them take occupancy events. */
size_t fanout__count_subscribers(struct worker *w, const char *key,
                                 size_t key_len, struct occupancy *o);
/* The channel's presence member count as of s's channel position (as of
 * the latest delivery). */
size_t fanout__presence_members(const struct subscriber *s);

/* On the owner: whether some worker subscribes to the channel (or did
 * lately), and its member count (0 when none does). */
bool fanout__owns(struct worker *owner, const char *key, size_t key_len);
size_t fanout__owned_members(struct worker *owner, const char *key,
                             size_t key_len);
/* On the owner: posts d (taken over), which is not in the channel's order
 * (an occupancy event), to every worker with subscribers. */
void fanout__announce(struct worker *owner, const char *key, size_t key_len,
                      struct delivery *d);

/* On the owner, after a publish (or presence change) was appended: move
 * the channel's position and post it to every worker with subscribers.
 * An annotation goes out as itself and then as its message's summary. */
void fanout__published(struct worker *owner, const struct publish *p);

/* Drops worker w's (owner) record of channels nobody subscribes to and
 * that saw no message for a while (their position is then "now"). */
void fanout__sweep(struct worker *w, int64_t now);

/* With a shared engine (store.h), makes its feed -- every node's
 * publishes -- what owners fan out, instead of their own appends. Once,
 * before the workers start. */
void fanout__init(struct channels *ch);

/* Gives worker w its fan-out state, freed when w ends (channel.c calls
 * it for channel__worker_init). */
void fanout__worker_init(struct channels *ch, struct worker *w);

#endif
