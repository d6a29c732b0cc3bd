/* channel_lifecycle.h -- when a channel opens and closes, for
 * [meta]channel.lifecycle (meta_channels.h).
 *
 * A channel is open while some realtime connection (WebSocket, comet or
 * event stream) is attached to it anywhere: it opens ("channel.opened")
 * when its first attachment arrives, closes ("channel.closed") when its
 * last one leaves. Presence members and publishes alone do not open a
 * channel; metachannels never open (their own subscribers would announce
 * themselves).
 *
 * The decision is made on the channel's owner from the counts it keeps
 * for [meta]occupancy (occupancy_events.c): its workers' attachments and,
 * with a shared engine, the other nodes'. The node whose own attachments
 * made the channel open or close announces it; a change of other nodes'
 * counts moves what the owner knows without announcing, so one opening
 * across the cluster is announced once. With a shared engine an owner
 * decides only once it knows the other nodes' counts (the engine's answer
 * when it starts watching the channel). Two nodes whose first attachments
 * come within that answer's delay may both announce an opening.
 *
 * Owns: nothing (the state is in struct channel_counts). */
#ifndef HERALD_CHANNEL_LIFECYCLE_H
#define HERALD_CHANNEL_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

#include "channel/channel.h"
#include "store/store.h" /* struct occupancy */

struct channel_lifecycle {
  bool known;         /* the other nodes' counts were known once */
  bool open;          /* as the owner last knew */
  bool local_pending; /* a change of this node's since the last step that
                         knew the other nodes' counts */
};

enum lifecycle_event { LIFECYCLE_NONE, LIFECYCLE_OPENED, LIFECYCLE_CLOSED };

/* The channel now has `here` attachments on this node and `others` on
 * the others, after a change of this node's (local) or of the others';
 * known: the others' counts are known (always, without a shared engine).
 * The first time they are, the channel was open if the others were on it.
 * Returns the event this node announces. */
enum lifecycle_event channel_lifecycle__step(struct channel_lifecycle *l,
                                             long here, long others,
                                             bool local, bool known);

/* On the owner of the channel with that fan-out key: announces e (not
 * NONE) on its app's [meta]channel.lifecycle, with the channel's counts o
 * in its ChannelDetails. Nothing for a metachannel or an app gone. */
void channel_lifecycle__announce(struct channels *ch, const char *key,
                                 size_t key_len, const struct occupancy *o,
                                 enum lifecycle_event e);

/* A channel.opened / channel.closed event's data: ChannelDetails as JSON
 * text (herald_xmalloc'd). */
char *channel_lifecycle__details_json(const char *channel, bool open,
                                      const struct occupancy *o, size_t *len);

#endif
