/* store.h -- the storage interface: one set of asynchronous operations,
 * several engines (store_memory.c, store_sqlite.c, store_redis.c).
 *
 * Every operation is a request struct the caller embeds in its own state.
 * The caller fills the inputs and calls store__<op>; the engine does the
 * work (on its own thread, for engines that have one) and then runs
 * req->done on the worker named by req->origin, exactly once. A publish is
 * acknowledged only from that callback, i.e. after the engine made it
 * durable. */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/worker.h"
#include "herald/errors.h"
#include "message.h"
#include "serial.h"

struct store;

enum store_op {
  STORE_OP_APPEND,
  STORE_OP_HISTORY,
  STORE_OP_CHANNELS,
  STORE_OP_PUT_RECORD,
  STORE_OP_DROP_APP,
  STORE_OP_LOAD_RECORDS, /* engine-internal: a synchronous load */
  STORE_OP_WATCH,        /* engine-internal: a watch or its end */
  STORE_OP_MEMBERS,
  STORE_OP_CONNECTION,
  STORE_OP_ONCE,
  STORE_OP_USAGE,
  STORE_OP_OCCUPANCY,
  STORE_OP_OUTBOX_DONE,
};

/* The header shared by every request. */
struct store_req {
  struct worker_task task; /* how the completion reaches origin */
  enum store_op op;        /* set by store.c */
  struct store_req *queued_next; /* for engines that queue requests */
  struct worker *origin; /* NULL: done runs on the engine's own thread */
  void *engine;          /* the engine's, for such engine-side requests */
  void (*done)(struct store_req *req);
  int rc;           /* 0, or a negative Ably code with err set */
  herald_error err;
  int64_t started_us; /* appends: when store__append was called (metrics) */
};

/* Ably's occupancy metrics of one channel (rest.md 11.1): what the
 * occupancy queries add up, and what a shared engine keeps per worker. */
struct occupancy {
  long connections;          /* attachments */
  long publishers;           /* ... with the publish mode */
  long subscribers;          /* ... with the subscribe mode */
  long presence_connections; /* ... with the presence mode */
  long presence_subscribers; /* ... with the presence_subscribe mode */
  long presence_members;
  long object_publishers;
  long object_subscribers;
};

/* A channel keeps three histories: its messages, its presence events
 * (ENTER/UPDATE/LEAVE) and the annotations of its messages (annotation.h).
 * Their serials come from one sequence. */
enum store_stream { STORE_MESSAGES, STORE_PRESENCE, STORE_ANNOTATIONS };

/* Append one publish (already stamped) to a channel's history, atomically,
 * unless its idempotency key was seen within the window. */
struct store_append {
  struct store_req req;
  const char *app_id;
  const char *channel;
  enum store_stream stream;
  struct message *const *messages;
  size_t count;
  const char *message_id;      /* the publish's id base, for replies */
  const char *idempotency_key; /* NULL: no client-supplied ids */
  int64_t idempotency_window_ms;
  int64_t retention_ms;
  bool ephemeral; /* do not keep in history */
  bool durable;   /* acknowledge only once on disk (namespace default) */
  /* A realtime publish's msgSerial (else below 0) on connection_id: a
   * shared engine answers one it stored already as a duplicate (with no
   * serials), since a client resumed on another node resends what it saw
   * no ACK for. Remembered for dedupe_ttl_ms. */
  long long msg_serial;
  const char *connection_id;
  int64_t dedupe_ttl_ms;
  /* Output of a shared engine, which stamps: the messages' serials are
   * (stamp_ms, stamp_seq, stamp_node, index), their timestamp stamp_ms. */
  int64_t stamp_ms;
  unsigned stamp_seq;
  char stamp_node[24];
  /* A change of a message (mutable namespaces): messages[0] is the change
   * as subscribers receive it (count 1), latest the message as it now is
   * (the same for an update or delete, the whole for an append), which is
   * one of its versions too unless the change is an append (new_version
   * false). Stored only while the message is still as `expected` (the
   * serial of the message latest was made from): else nothing is stored
   * and stale is set, so that the caller makes it again from what it is
   * now. */
  struct message *latest;
  bool new_version;
  const char *expected;
  /* ... and while its summary still counts up to the annotation
   * expected_summary (message.h summary_serial; NULL: no summary yet).
   * An annotation (stream STORE_ANNOTATIONS) is stored with its message's
   * new summary so: latest is that message of the channel's messages with
   * the summary, new_version false. */
  const char *expected_summary;
  /* Records kept with the append, in its transaction, and only if it is
   * (webhook events: webhooks.h); engines that keep no records ignore
   * them. Their req is not used. */
  const struct store_record *records;
  size_t n_records;
  /* A shared engine keeps the publish, as stamped, in its outbox too, in
   * the same step, with this tag (webhooks: the rules it is for); NULL:
   * not kept. */
  const char *outbox_tag;
  bool stale; /* output */
  /* Outputs for a duplicate: the first publish's result. */
  bool duplicate;
  char *original_message_id;  /* herald_xmalloc'd */
  char **original_serials;    /* herald_xmalloc'd array of herald_xmalloc'd */
  size_t original_count;
};

enum store_direction { STORE_BACKWARDS, STORE_FORWARDS };

/* What a history lists. */
enum store_view {
  STORE_VIEW_STREAM, /* every entry as subscribers received it (replays) */
  STORE_VIEW_LATEST, /* each message once, where it was created, as its
                        newest version; versions themselves left out (the
                        REST history of a mutable namespace) */
  STORE_VIEW_VERSIONS, /* the versions of the message `of` (its serial):
                          as created, then each version as it then was */
};

/* A page of history: messages with start <= timestamp <= end, newest first
 * (backwards) or oldest first (forwards), from the cursor on. */
struct store_history {
  struct store_req req;
  const char *app_id;
  const char *channel;
  enum store_stream stream;
  enum store_view view;
  const char *of; /* versions: whose; latest: only the message with this
                     serial, as it is now; annotations: those of the
                     message with this serial */
  int64_t start, end;
  enum store_direction direction;
  size_t limit;
  const char *cursor; /* serial of the first message of this page, or NULL */
  /* Outputs. */
  struct message **messages; /* references; herald_xmalloc'd array */
  size_t count;
  char *next_cursor; /* serial starting the next page, or NULL at the end */
};

/* A page of the app's active channels (those with retained messages), in
 * name order, names starting with prefix, from cursor (inclusive) on. */
struct store_channels {
  struct store_req req;
  const char *app_id;
  const char *prefix;
  const char *cursor;
  size_t limit;
  char **names; /* herald_xmalloc'd array of herald_xmalloc'd */
  size_t count;
  char *next_cursor;
};

/* Control-plane records of an app, kept durably: apps created through the
 * API (kind "app"), token revocations (kind "revocation"), and whatever
 * later state needs the same treatment. Put replaces the record of
 * (app, kind, key); a NULL value deletes it. Records with expires > 0
 * vanish after that time (ms). */
struct store_record {
  struct store_req req;
  const char *app_id;
  const char *kind;
  const char *key;
  const char *value; /* JSON text, or NULL to delete */
  int64_t expires;
};

/* Deletes everything stored for an app: records, history, idempotency. */
struct store_drop_app {
  struct store_req req;
  const char *app_id;
};

/* ---- Shared engines --------------------------------------------------------
 *
 * An engine several nodes share (Redis) stamps each append itself, in one
 * atomic step with storing it (store_append's stamp outputs), and carries every node's appends to each
 * node that watches the channel, in the channel's serial order: that, not
 * the append's completion, is what such a node fans out. A node watches a
 * channel while it has subscribers there. */

enum store_feed_event {
  STORE_FEED_POSITIONED,  /* watched: appends after `position` follow */
  STORE_FEED_APPENDED,    /* one append, after the previous one */
  STORE_FEED_INTERRUPTED, /* the watch ended by itself (err): appends may
                             have been missed; watch again to go on */
  STORE_FEED_USAGE,       /* other nodes' attachments changed (usage) */
  STORE_FEED_OUTBOX,      /* an outbox entry, for the outbox's follower */
};

/* One event of a watched channel, made by the engine on its thread. */
struct store_feed_item {
  struct worker_task task; /* the watcher may post the item with it */
  struct store_feed_item *next; /* the engine's, until it emits the item */
  enum store_feed_event event;
  char *app_id; /* herald_xmalloc'd, as every string here */
  char *channel;
  char position[SERIAL_MAX]; /* positioned */
  /* positioned, and appended presence changes: the channel's member
   * count (across nodes) as of the position or after the change */
  size_t members;
  /* positioned, usage: the other nodes' attachments, summed
   * (presence_members unused) */
  struct occupancy usage;
  /* appended: */
  enum store_stream stream;
  char *message_id;    /* the publish's id */
  char *connection_id; /* the publisher's */
  struct message **messages; /* stamped, one reference each */
  size_t count;
  /* an appended annotation's message with its new summary (one
   * reference), else NULL */
  struct message *latest;
  herald_error err; /* interrupted */
  /* outbox: the entry (store__outbox_done) and the append's outbox_tag */
  char *outbox_key;
  char *outbox_tag;
};

/* Receives a shared engine's feed items, on the engine's thread; it owns
 * each (store__feed_item_free). */
struct store_watcher {
  void (*fn)(void *ctx, struct store_feed_item *item);
  void *ctx;
};

/* The outbox of a shared engine: appends with an outbox_tag, kept until
 * the node that follows the outbox is done with them. One node of all
 * that follow it at a time receives the entries (another takes over once
 * that one is gone, and receives what it left: at least once), each
 * instance's in the order they were stored, so a channel's in its serial
 * order. The items (STORE_FEED_OUTBOX) come on the engine's thread. */

/* A channel's presence members as the shared engine keeps them: every
 * node's (they are also changed by appends to the presence stream). */
struct store_members {
  struct store_req req;
  const char *app_id;
  const char *channel;
  /* Or only this connection's members, which become this node's (it
   * took the connection over). */
  const char *adopt_connection;
  struct message **members; /* outputs: PRESENT items, herald_xmalloc'd */
  size_t count;
};

/* Receives, on a shared engine's thread, the records other nodes put
 * (value NULL: deleted) and the apps they dropped (kind NULL). */
struct store_record_watcher {
  void (*fn)(void *ctx, const char *kind, const char *app_id, const char *key,
             const char *value);
  void *ctx;
};

/* A realtime connection's state as a shared engine keeps it, so that a
 * resume on another node continues it: put (value NULL: forget it), read
 * it (peek), or take -- read and forget in one step, telling the other
 * nodes that the connection moved (record watchers get kind
 * STORE_CONNECTION_MOVED, key the connection id). */
#define STORE_CONNECTION_MOVED "connection-moved"

struct store_connection {
  struct store_req req;
  bool take;
  bool peek;
  const char *id;
  const char *value; /* put: opaque text */
  int64_t ttl_ms;    /* put */
  char *taken;       /* take, peek: the value (herald_xmalloc'd), or NULL */
};

/* Whether key is seen for the first time within ttl_ms, on every node
 * (a signed TokenRequest's nonce). */
struct store_once {
  struct store_req req;
  const char *key;
  int64_t ttl_ms;
  bool first; /* output */
};


/* Adds every count of part to sum. */
void store__add_occupancy(struct occupancy *sum, const struct occupancy *part);

/* One worker's attachments on some channels (presence_members unused),
 * replacing what it told before: all zero, it has none there. The
 * engine's cluster view of occupancy; a node's own workers are counted by
 * the node itself. The engine keeps what it was told and tells Redis again
 * after an outage, so nothing waits for the answer: done may run on the
 * engine's thread (origin NULL) and just free the request. */
struct store_usage_entry {
  char *app_id; /* herald_xmalloc'd, freed by store__usage_cleanup */
  char *channel;
  struct occupancy counts;
};

struct store_usage {
  struct store_req req;
  int worker; /* this node's worker the counts are of */
  struct store_usage_entry *entries;
  size_t count;
};

/* Channels' occupancy as the other nodes see it: their attachments, and
 * every node's presence members. Added to results[0..count). */
struct store_occupancy {
  struct store_req req;
  const char *app_id;
  char *const *channels;
  size_t count;
  struct occupancy *results;
};

struct store_watch {
  struct store_req req; /* no completion: the answer is the feed */
  char *app_id;         /* herald_xmalloc'd, freed by the engine */
  char *channel;
  bool on; /* watch, or end the watch */
};

/* Receives each live record of a kind while records are loaded. */
typedef void (*store_record_fn)(void *ctx, const char *app_id,
                                const char *key, const char *value);

struct store_ops {
  const char *name;
  /* Whether records outlive the process (else put_record and an append's
   * records are no-ops). */
  bool keeps_records;
  /* The time part of the newest serial stored, so serials keep growing
   * across restarts (0 for engines that keep nothing). */
  int64_t (*last_serial_ms)(struct store *s);
  int (*open)(struct store **out, const struct config *cfg, herald_error *err);
  void (*close)(struct store *s);
  void (*append)(struct store *s, struct store_append *a);
  void (*history)(struct store *s, struct store_history *h);
  void (*channels)(struct store *s, struct store_channels *c);
  void (*put_record)(struct store *s, struct store_record *r);
  void (*drop_app)(struct store *s, struct store_drop_app *d);
  /* Synchronous, at start-up before any request: every live record of
   * kind, in (app, key) order. */
  int (*load_records)(struct store *s, const char *kind, store_record_fn fn,
                      void *ctx, herald_error *err);
  /* Shared engines only (NULL otherwise): see above. */
  void (*watch)(struct store *s, struct store_watch *w);
  void (*members)(struct store *s, struct store_members *m);
  void (*connection)(struct store *s, struct store_connection *c);
  void (*once)(struct store *s, struct store_once *o);
  void (*quiet)(struct store *s);
  void (*usage)(struct store *s, struct store_usage *u);
  void (*occupancy)(struct store *s, struct store_occupancy *o);
  /* Forgets an outbox entry (herald_xmalloc'd key, taken over). */
  void (*outbox_done)(struct store *s, char *key);
};

#define STORE_RECORD_WATCHERS 4

struct store {
  const struct store_ops *ops;
  struct store_watcher watcher; /* shared engines' feed goes here */
  struct store_record_watcher records[STORE_RECORD_WATCHERS]; /* and */
  int n_records;                               /* other nodes' records */
  struct store_watcher outbox; /* the outbox's entries, when followed */
};

/* Opens the engine named by cfg->engine. */
int store__open(struct store **out, const struct config *cfg,
                herald_error *err);
void store__close(struct store *s);
int64_t store__last_serial_ms(struct store *s);

void store__append(struct store *s, struct store_append *a);
void store__history(struct store *s, struct store_history *h);
void store__channels(struct store *s, struct store_channels *c);
void store__put_record(struct store *s, struct store_record *r);
void store__drop_app(struct store *s, struct store_drop_app *d);
int store__load_records(struct store *s, const char *kind, store_record_fn fn,
                        void *ctx, herald_error *err);

/* Whether records outlive the process (store_ops.keeps_records). */
bool store__keeps_records(const struct store *s);
/* Whether several nodes share the engine (it has a feed). */
bool store__shared(const struct store *s);
/* Where the feed goes; before any watch. */
void store__set_watcher(struct store *s, struct store_watcher watcher);
/* Adds a receiver of other nodes' records (shared engines); before
 * workers start. */
void store__follow_records(struct store *s, struct store_record_watcher w);
/* Receives the outbox's entries from now on (shared engines), competing
 * with the other nodes that follow it; before workers start. */
void store__follow_outbox(struct store *s, struct store_watcher w);
/* Done with an outbox entry (item->outbox_key): it is forgotten. */
void store__outbox_done(struct store *s, const char *key);
/* Starts (on) or ends watching app_id's channel; from any thread. */
void store__watch(struct store *s, const char *app_id, const char *channel,
                  bool on);
void store__feed_item_free(struct store_feed_item *item);
/* From now on neither the feed nor other nodes' records reach their
 * watchers (the workers are stopping). */
void store__quiet(struct store *s);
void store__members(struct store *s, struct store_members *m);
void store__connection(struct store *s, struct store_connection *c);
void store__once(struct store *s, struct store_once *o);
void store__members_cleanup(struct store_members *m);
void store__usage(struct store *s, struct store_usage *u);
void store__usage_cleanup(struct store_usage *u);
void store__occupancy(struct store *s, struct store_occupancy *o);

/* For engines: hand a finished request back to its origin worker
 * (store_req.c). */
void store_req__complete(struct store_req *req);

/* Releases the outputs of finished requests. */
void store__append_cleanup(struct store_append *a);
void store__history_cleanup(struct store_history *h);
void store__channels_cleanup(struct store_channels *c);

#endif
