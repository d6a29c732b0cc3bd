/* occupancy_events.h -- the [meta]occupancy events of channels whose
 * subscribers asked for them (the occupancy channel param, realtime.md
 * 5.3): a MESSAGE named "[meta]occupancy" whose data is {"metrics": ...},
 * to those subscribers only, when the channel's occupancy changes.
 *
 * Each channel's owner keeps every worker's attachment counts, which the
 * workers report within OCCUPANCY_FLUSH_MS of a change (occupancy.c), the
 * other nodes' (a shared engine's feed), and takes the member count from
 * the fan-out, for as long as the fan-out owns the channel. An event goes out at once for
 * the first change, and when a subscriber that wants events arrives;
 * otherwise at most once per --occupancy-interval-ms (Ably debounces them
 * too), with the counts of then.
 *
 * Owns: the owner-side counts of channels (struct channel_counts). */
#ifndef HERALD_OCCUPANCY_EVENTS_H
#define HERALD_OCCUPANCY_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/worker.h"
#include "store/store.h" /* struct occupancy */

struct channels;

void occupancy_events__worker_init(struct channels *ch, struct worker *w);

/* On a worker: its attachments on the channel with that fan-out key are
 * now `counts` (presence_members unused), `wanting` of them take events.
 * Posted to the channel's owner. */
void occupancy_events__report(struct channels *ch, const char *key,
                              size_t key_len, const struct occupancy *counts,
                              size_t wanting);
/* On an owner: the other nodes' attachments on the channel are now o. */
void occupancy_events__remote(struct worker *owner, const char *key,
                              size_t key_len, const struct occupancy *o);
/* On an owner: the fan-out no longer owns the channel. */
void occupancy_events__forget(struct worker *owner, const char *key,
                              size_t key_len);
/* On an owner: the channel's members changed. */
void occupancy_events__touch(struct worker *owner, const char *key,
                             size_t key_len);
/* On an owner, each tick: the events due. */
void occupancy_events__sweep(struct worker *owner, int64_t now);

#endif
