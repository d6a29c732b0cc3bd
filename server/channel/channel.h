/* channel.h -- channel ownership and the publish pipeline.
 *
 * Every channel (app id + base name) is owned by one worker, chosen by hash.
 * Only the owner stamps a channel's messages (id, timestamp, serial), so
 * serials need no lock. A publish travels: origin worker (decoded, checked)
 * -> owner (stamped, appended to the store) -> store completion on the
 * owner, which fans the messages out (fanout.h) -> origin (reply). Each hop
 * is a posted task. */
#ifndef HERALD_CHANNEL_H
#define HERALD_CHANNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/apps.h"
#include "auth/auth.h"
#include "channel/changes.h"
#include "core/config.h"
#include "core/worker.h"
#include "message.h"
#include "store/store.h"

struct channel_table;
struct stats_minutes;
struct webhooks;
struct webhook_prepared;

/* What the channel layer needs of the process (server.c makes it). */
struct channels {
  struct worker_pool *pool; /* the workers that own channels */
  struct store *store;
  struct stats_minutes *stats; /* apps' statistics (stats_minutes.h) */
  struct apps *apps;
  struct webhooks *webhooks; /* apps' webhook rules (webhooks.h) */
  const struct config *cfg;
  const char *node_id; /* this process, in serials */
  /* Publishes between channel__publish and their done: a stopping process
   * waits for none to be left (the server's own, such as presence leaves
   * and metachannel events, have nobody else waiting for them). */
  atomic_int publishing;
  atomic_bool stopping; /* channel__stop was called */
};

/* One publish of one or more messages to one channel, atomically. */
struct publish {
  struct worker_task task;
  struct channels *channels;
  struct worker *origin;
  struct app *app; /* retained by the caller for the publish's life */
  char *channel;   /* base name, herald_xmalloc'd */
  int64_t started_us; /* metrics__now_us() when it was addressed */
  struct message **messages;
  size_t count;
  char *idempotency_key; /* herald_xmalloc'd, or NULL */
  char *connection_id;   /* herald_xmalloc'd */
  char *id_base; /* herald_xmalloc'd base of assigned ids, or NULL: random */
  long long msg_serial; /* the publisher's (struct publisher), or below 0 */
  bool ephemeral;
  /* A presence change (presence.h): messages are PresenceMessages. With
   * leave_connection, count is 0 and the owner makes one LEAVE per member
   * connection_id has on the channel. */
  bool presence;
  bool leave_connection;
  size_t presence_members; /* presence__apply: the channel's member count
                              after this change */
  /* An annotation (annotations.h): messages[0] is one (annotation.h). */
  bool annotation;
  struct change change; /* a change of a mutable message (changes.h), or
                           an annotation's state (annotations.h) */
  struct {                /* its message's turn on the owner (turns.h) */
    char *key;            /* NULL: none taken */
    struct publish *next; /* waiting after it */
    void (*on_turn)(struct publish *p);
  } turn;
  /* The webhook events stored with it and queued once it is (webhooks.h),
   * or NULL. */
  struct webhook_prepared *webhook_events;
  /* Runs on origin when the publish is durable or has failed. */
  void (*done)(struct publish *p);
  /* Results. */
  int rc;
  herald_error err;
  const char *message_id;  /* valid until channel__publish_cleanup */
  char *const *serials;
  size_t n_serials;
  /* Internal. */
  struct store_append append;
  char *assigned_id_base;
  char **own_serials;
};

/* Who a publish is from, and where its result goes. */
struct publisher {
  struct channels *channels;
  struct worker *origin; /* done runs here */
  struct app *app;       /* retained by the caller for the publish's life */
  const char *connection_id;
  /* The messages' ids are "<connection_id>:<msg_serial>:<index>", as Ably
   * assigns them; below 0: random ids. */
  long long msg_serial;
};

/* Addresses p (its items decoded already) from `from` to channel (a base
 * name, herald_xmalloc'd: p takes it); done runs on from->origin. */
void channel__publish_init(struct publish *p, const struct publisher *from,
                           char *channel, void (*done)(struct publish *p));

/* Applies the publish rules to p's decoded messages, whatever the
 * transport: at least one, the item rules of channel__check_items and the
 * id rules (sets p->idempotency_key). 0 or a negative Ably code. */
int channel__check_publish(struct publish *p, const struct auth *auth,
                           size_t max_size, herald_error *err);

/* The rules every item of p obeys, messages and presence items alike: the
 * clientId rule for auth (a presence item must end up with a clientId),
 * and their total size at most max_size. 0 or a negative Ably code. */
int channel__check_items(struct publish *p, const struct auth *auth,
                         size_t max_size, herald_error *err);

/* Starts the publish; p->done runs exactly once on p->origin. */
void channel__publish(struct publish *p);

/* For changes.c and annotations.c, on the owner: stamps p's messages (unless a shared engine
 * stamps them), appends them to the store (and on to fan-out and p->done),
 * or ends p with err. */
void channel__stamp(struct publish *p);
void channel__append(struct publish *p);
void channel__fail(struct publish *p, const herald_error *err);

/* Frees what the publish owns (messages, strings, results). */
void channel__publish_cleanup(struct publish *p);

/* Whether no publish is in flight (struct channels.publishing). */
bool channel__idle(struct channels *ch);

/* The process is stopping: from now on the server publishes no events of
 * its own that nobody waits for (metachannels': channel__stopping), since
 * some (a channel closing as the occupancy counts reach its owner) would
 * come after the workers ended. From any thread. */
void channel__stop(struct channels *ch);
bool channel__stopping(struct channels *ch);

/* The worker owning app_id's channel `name`. */
struct worker *channel__owner(const struct channels *ch, const char *app_id,
                              const char *name);

/* The position after every serial t issued so far and before every one it
 * will issue (serial__floor), for channels it owns; not before now. */
void channel__next_position(struct channel_table *t, char *out);

/* Per-worker state of the channels a worker owns. Serials it issues are
 * later than serial_floor_ms (the newest stored serial, so that serials keep
 * growing across restarts). */
struct channel_table *channel__table_new(const char *node_id, int worker,
                                        int64_t serial_floor_ms);
void channel__table_free(struct channel_table *t);

/* Gives worker w its channel table and its fan-out state (fanout.h), both
 * freed when w ends; before w starts. */
void channel__worker_init(struct channels *ch, struct worker *w);
/* Worker w's table. */
struct channel_table *channel__table(struct worker *w);

/* The member sets of the channels t's worker owns (presence.h). */
struct presence_table *channel__presence(struct channel_table *t);

#endif
