/* redis_outbox.h -- the redis engine's outbox (store.h, "The outbox").
 *
 * The append script adds an append that has an outbox tag to its shard's
 * stream h:wq (fields a: app, c: channel, k: stream kind, i: the
 * publish's entry id, t: the tag, b: the batch as redis_batch.h encodes
 * it) and says so on the topic h:wq. On each shard one node at a time
 * holds the lease h:wl, taken or renewed at each beat of the engine and
 * lasting --node-timeout-ms. The holder reads the stream from its start
 * when it takes the lease, then what follows whenever h:wq (or the next
 * beat) tells it, and hands each entry on; an entry is deleted (XDEL) once
 * the follower is done with it. A node that dies leaves its lease to
 * expire; the next holder reads every entry still there: at least once.
 *
 * Owns: the leases this node holds and its place in each shard's stream;
 * runs on the engine's thread. */
#ifndef HERALD_REDIS_OUTBOX_H
#define HERALD_REDIS_OUTBOX_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/redis_shard.h"
#include "store/store.h"

#define REDIS_OUTBOX_STREAM "h:wq" /* also the topic */

struct redis_outbox_shard;

struct redis_outbox {
  struct redis_shard *shards;
  size_t n_shards;
  const char *node;
  int64_t lease_ms;
  /* Hands an entry (STORE_FEED_OUTBOX) to the follower; ctx is the
   * engine's. */
  void (*emit)(void *ctx, struct store_feed_item *it);
  void *ctx;
  struct redis_outbox_shard *per; /* one per shard */
};

void redis_outbox__init(struct redis_outbox *o, struct redis_shard *shards,
                        size_t n_shards, const char *node, int64_t lease_ms,
                        void (*emit)(void *, struct store_feed_item *),
                        void *ctx);
void redis_outbox__cleanup(struct redis_outbox *o);

/* Takes or renews each shard's lease, and reads on those held. */
void redis_outbox__beat(struct redis_outbox *o);
/* A shard's pub/sub connection is back: listens again where it holds the
 * lease. */
void redis_outbox__up(struct redis_outbox *o, struct redis_shard *sh);
/* Whether a pub/sub reply is the outbox's (then handled). */
bool redis_outbox__sub_reply(struct redis_outbox *o, struct redis_shard *sh,
                             const redisReply *kind, const redisReply *topic);
/* Deletes the entry of key (item->outbox_key: "<shard> <entry id>"). */
void redis_outbox__done(struct redis_outbox *o, const char *key);

#endif
