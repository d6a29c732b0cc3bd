/* apps.h -- the registry of apps, their keys and namespace rules.
 *
 * Read on every authenticated request by every worker, written rarely (at
 * start-up, and later by the apps API), so it sits behind a read-write lock.
 * An app is reference counted: a request holds its app for its whole life,
 * so removing an app never frees it under a request. */
#ifndef HERALD_APPS_H
#define HERALD_APPS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/revocation.h"
#include "capability.h"
#include "core/config.h"
#include "core/counters.h"
#include "hashmap.h"
#include "herald/errors.h"

struct store;

struct key {
  char *name;   /* appId.keyId */
  char *secret;
  struct capability *capability;
  bool revocable_tokens;
};

struct namespace_rule {
  char *id;
  bool persisted;
  bool durable;         /* acknowledge publishes only once on disk */
  bool mutable_messages; /* updates, deletes, appends and annotations */
  int64_t retention_ms; /* 0: the server default for its kind */
};

struct app {
  atomic_int refs;
  char *id;
  struct key *keys;
  size_t n_keys;
  struct namespace_rule *namespaces;
  size_t n_namespaces;
  struct revocations revocations;
  size_t presence_max_members; /* limits.presence.maxMembers; 0: default */
  /* The "channels" of a POST /apps body ([{name, presence:[...]}]) or
   * NULL; read-only once the app is registered. */
  json_t *fixtures;
  /* The app's statistics' counts (channel/stats.h), made on the first. */
  _Atomic(struct counters *) stats;
};

/* Told of every revocation that takes effect in the registry (made here or
 * followed from another node), on the thread that made it: app (retained
 * for the call only) revokes from applies_at on. */
struct revocation_watcher {
  void (*revoked)(void *ctx, struct app *app, int64_t applies_at);
  void *ctx;
};

struct apps {
  pthread_rwlock_t lock;
  struct revocation_watcher watcher; /* under lock; revoked NULL: none */
  struct hashmap by_id; /* app id -> struct app *, holding one reference */
  size_t max_apps;      /* apps__add_new_json refuses beyond this many */
  int64_t retention_ms;
  int64_t persisted_retention_ms;
};

/* Builds the registry from the configuration: the file's apps, HERALD_KEY,
 * and, when neither names an app, the development app kept in the data
 * directory (created on first start). *dev_key receives that app's key
 * string (herald_xmalloc'd) when the development app is in use, else NULL. */
int apps__init(struct apps *apps, const struct config *cfg, char **dev_key,
               herald_error *err);
void apps__cleanup(struct apps *apps);

/* Adds an app described as in the config file:
 * {"id", "keys":[{"key":"appId.keyId:secret","capability":...}],
 *  "namespaces":[{"id","persisted","retention-ms","mutableMessages"}],
 *  "limits":{"presence":{"maxMembers"}}, "channels":[presence fixtures]}. */
int apps__add_json(struct apps *apps, const json_t *def, herald_error *err);

/* Adds an app while the server runs: as apps__add_json, but an app of the
 * same id is never merged into (-40900 instead), and a registry holding
 * max_apps apps already takes no more (-40128). */
int apps__add_new_json(struct apps *apps, const json_t *def,
                       herald_error *err);

/* Finds the key named keyName[0..len) ("appId.keyId"). On success *app holds
 * a reference (release it with apps__release) and *key points into it.
 * Unknown app: -40400 (404); unknown key: -40400 with status 401. */
int apps__find_key(struct apps *apps, const char *key_name, size_t len,
                   struct app **app, const struct key **key,
                   herald_error *err);

/* The kinds of store records the registry keeps. */
#define APPS_RECORD_APP "app"
#define APPS_RECORD_REVOCATION "revocation"

/* Loads what the store keeps of the registry: apps created through the
 * API (record kind "app": a definition as apps__add_json takes) and token
 * revocations (kind "revocation", see apps__revocation_record). Called at
 * start-up, after the configured apps are in. */
int apps__load_stored(struct apps *apps, struct store *store,
                      herald_error *err);

/* With a shared engine, apps and revocations other nodes store take effect
 * here too (and apps they delete go); before the workers start. */
void apps__follow(struct apps *apps, struct store *store);

/* The record key and JSON value that persist a revocation (herald_xmalloc'd
 * and json_dumps'd respectively). */
char *apps__revocation_key(const char *key_name, const char *target);
char *apps__revocation_value(int64_t issued_before, int64_t applies_at);

/* Adds a revocation to app (revocation__add) and tells the watcher when it
 * changed anything. */
void apps__revoke(struct apps *apps, struct app *app, const char *key_name,
                  const char *target, int64_t issued_before,
                  int64_t applies_at);

/* Makes w the registry's revocation watcher. */
void apps__watch_revocations(struct apps *apps, struct revocation_watcher w);

/* The app with this id, retained, or NULL. */
struct app *apps__find(struct apps *apps, const char *id);

/* Takes the app out of the registry (requests holding it finish first). */
void apps__remove(struct apps *apps, const char *id);

/* Calls fn for every app, under the registry's read lock. */
void apps__each(struct apps *apps, void (*fn)(struct app *app, void *ctx),
                void *ctx);

struct app *apps__retain(struct app *app);
void apps__release(struct app *app);

/* Whether publishes to a channel (base name) of this app are acknowledged
 * only once on disk: true unless its namespace says "durable": false. */
bool apps__durable(const struct app *app, const char *channel);

/* The most presence members a channel of this app may have. */
size_t apps__presence_max_members(const struct app *app,
                                  const struct config *cfg);

/* Whether channel's messages may change (updates, deletes, appends,
 * annotations): its namespace says "mutableMessages": true, or it is an
 * Ably Chat room's ("<room>::$chat"), as Ably's are. */
bool apps__mutable(const struct app *app, const char *channel);
/* The suffix of an Ably Chat room's channel. */
#define APPS_CHAT_ROOM_SUFFIX "::$chat"

/* Whether channel is in a persisted namespace (or has mutable messages). */
bool apps__persisted(const struct app *app, const char *channel);
/* The history retention of a channel (base name) of this app. */
int64_t apps__retention_ms(const struct apps *apps, const struct app *app,
                           const char *channel);

#endif
