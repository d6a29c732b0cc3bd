/* webhooks.h -- apps' webhook rules and the delivery of their events.
 *
 * A rule (webhook_rule.h) takes the events of one source on the channels
 * its filter matches: messages and presence changes as the channel's owner
 * has appended them (channel.c), channels opening and closing
 * (channel_lifecycle.c), occupancy changes (occupancy_events.c). Each
 * event is encoded at once in its rule's format (once per format for all
 * of a publish's rules) and queued on the rule; one thread
 * of its own (struct webhooks.thread) POSTs each rule's queue in order
 * through libcurl (http_client.h): one event a request for a single rule,
 * up to --webhook-batch-max for a batch rule, at most once per
 * --webhook-batch-interval-ms. A 2xx answer removes what it carried;
 * anything else puts it back and retries after a delay growing by sqrt(2)
 * from --webhook-retry-min-ms to --webhook-retry-max-ms, each failure
 * logged, counted and reported on the app's [meta]log. Events older than
 * --webhook-retry-window-ms are dropped while a rule fails, and a queue at
 * --webhook-queue-max drops its oldest: both counted and logged. One
 * rule's receiver, however slow, holds up nothing but its own queue.
 *
 * A message's or presence change's events are stored with it, with an
 * engine that keeps records, in the append's transaction (records of kind
 * "webhook-event", deleted once
 * delivered or dropped), before the publish is acknowledged, and queued
 * again at start-up: with sqlite a crash loses none (at least once: what
 * was delivered but not yet deleted is delivered again). With a shared
 * engine, which stamps publishes itself, the append names the rules
 * instead (store_append.outbox_tag) and the engine keeps the stamped
 * publish in its outbox; the one node the outbox feeds makes the events
 * from it, and the entry goes once they are all delivered or dropped.
 * Lifecycle and occupancy events are kept in memory only.
 *
 * Rules come from the configuration file (an app's "rules") and the
 * rules API (rest_rules.c), which stores them as records (kind "rule"),
 * loaded at start-up and, with a shared engine, followed as other nodes
 * change them. */
#ifndef HERALD_WEBHOOKS_H
#define HERALD_WEBHOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "channel/channel.h"
#include "store/store.h"
#include "webhook_rule.h"

#define WEBHOOKS_RECORD_RULE "rule"
#define WEBHOOKS_RECORD_EVENT "webhook-event"

struct webhooks;

/* Loads the configured and the stored rules of ch's apps; ch->webhooks is
 * set. Before the workers start. 0 or a negative Ably code. */
int webhooks__init(struct channels *ch, herald_error *err);
/* Starts the delivery thread (after the workers started). */
int webhooks__start(struct webhooks *wh);
/* Stops it (before the workers stop); what was not delivered is lost. */
void webhooks__stop(struct webhooks *wh);
void webhooks__free(struct webhooks *wh);

/* Checks def as a rule of app: the rule as webhook_rule__parse makes it,
 * its signing key one of app's, and an engine that takes rules. */
int webhooks__check(struct webhooks *wh, const struct app *app,
                    const json_t *def, struct webhook_rule **out,
                    herald_error *err);
/* Puts r (taken over) in place of app_id's rule of its id, if any. */
void webhooks__put(struct webhooks *wh, const char *app_id,
                   struct webhook_rule *r);
/* Removes app_id's rule id (its queue is dropped); false: no such rule. */
bool webhooks__remove(struct webhooks *wh, const char *app_id,
                      const char *id);
/* Removes every rule of app_id (the app was deleted). */
void webhooks__drop_app(struct webhooks *wh, const char *app_id);
/* The definitions of app_id's rules, each with its "deliveryState" (a new
 * JSON array); with id, the one rule (a new object), or NULL. */
json_t *webhooks__list(struct webhooks *wh, const char *app_id,
                       const char *id);

/* On the owner, before p is appended (stamped): makes the events of its
 * messages or presence changes for the rules that take them
 * (p->webhook_events), each kept as a record of kind "webhook-event" with
 * the append (p->append.records), so that an acknowledged publish's events
 * outlive a crash with a store that keeps records. */
void webhooks__prepare(struct webhooks *wh, struct publish *p);
/* On the owner, once p was appended: queues those events. */
void webhooks__commit(struct webhooks *wh, struct publish *p);
/* Frees what is left of them. */
void webhooks__discard(struct publish *p);
/* A channel opened or closed, or changed occupancy: source LIFECYCLE
 * (name channel.opened / channel.closed) or OCCUPANCY (name
 * occupancy), status the event's status object. */
void webhooks__channel_event(struct webhooks *wh, const char *app_id,
                             const char *channel, enum webhook_source source,
                             const char *name, const json_t *status);

/* Whether any rule is enabled (a relaxed load), and whether one of app_id
 * takes source's events on channel. */
bool webhooks__any(struct webhooks *wh);
bool webhooks__wants(struct webhooks *wh, const char *app_id,
                     const char *channel, enum webhook_source source);

/* Events queued for every rule, not yet delivered. */
size_t webhooks__queued(struct webhooks *wh);

#endif
