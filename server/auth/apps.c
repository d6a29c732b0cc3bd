/* apps.c -- the app/key/namespace registry (see apps.h). */
#include "auth/apps.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "channel_name.h"
#include "core/log.h"
#include "msgid.h"
#include "store/store.h"

static void free_app(struct app *app) {
  for (size_t i = 0; i < app->n_keys; i++) {
    herald_free(app->keys[i].name);
    herald_free(app->keys[i].secret);
    capability__free(app->keys[i].capability);
  }
  for (size_t i = 0; i < app->n_namespaces; i++)
    herald_free(app->namespaces[i].id);
  herald_free(app->keys);
  herald_free(app->namespaces);
  json_decref(app->fixtures);
  counters__free(atomic_load(&app->stats));
  revocation__cleanup(&app->revocations);
  herald_free(app->id);
  herald_free(app);
}

struct app *apps__retain(struct app *app) {
  atomic_fetch_add_explicit(&app->refs, 1, memory_order_relaxed);
  return app;
}

void apps__release(struct app *app) {
  if (app && atomic_fetch_sub_explicit(&app->refs, 1, memory_order_acq_rel) == 1)
    free_app(app);
}

/* ---- Parsing app definitions ---------------------------------------- */

static int parse_capability(const json_t *value, struct capability **out,
                            herald_error *err) {
  if (!value) {
    *out = capability__new_all();
    return 0;
  }
  char *text = json_is_string(value)
                   ? herald_xstrdup(json_string_value(value))
                   : NULL;
  if (!text && json_is_object(value)) {
    char *dumped = json_dumps(value, JSON_COMPACT);
    text = dumped ? herald_xstrdup(dumped) : NULL;
    free(dumped);
  }
  if (!text)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "capability must be a JSON object or JSON text");
  int rc = capability__parse(text, strlen(text), out, err);
  herald_free(text);
  return rc;
}

/* Parses "appId.keyId:secret" belonging to app_id into *key. */
static int parse_key(const char *app_id, const json_t *def, struct key *key,
                     herald_error *err) {
  const char *text = json_string_value(json_object_get(def, "key"));
  const char *colon = text ? strchr(text, ':') : NULL;
  size_t app_len = strlen(app_id);
  if (!colon || strncmp(text, app_id, app_len) != 0 || text[app_len] != '.' ||
      colon - text <= (long)app_len + 1 || !colon[1] || strchr(colon + 1, ':') ||
      memchr(text + app_len + 1, '.', (size_t)(colon - text) - app_len - 1) ||
      strchr(colon + 1, '.'))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "key '%s' is not of the form %s.keyId:secret",
                            text ? text : "", app_id);
  int rc = parse_capability(json_object_get(def, "capability"),
                            &key->capability, err);
  if (rc) return rc;
  key->name = herald_xstrndup(text, (size_t)(colon - text));
  key->secret = herald_xstrdup(colon + 1);
  key->revocable_tokens = json_is_true(json_object_get(def, "revocableTokens"));
  return 0;
}

static int parse_namespace(const json_t *def, struct namespace_rule *ns,
                           herald_error *err) {
  const char *id = json_string_value(json_object_get(def, "id"));
  json_t *retention = json_object_get(def, "retention-ms");
  if (!id || !*id || strchr(id, '*') ||
      (retention && !json_is_integer(retention)))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "namespace needs an id (without '*') and an "
                            "integer retention-ms");
  ns->id = herald_xstrdup(id);
  ns->persisted = json_is_true(json_object_get(def, "persisted"));
  ns->durable = !json_is_false(json_object_get(def, "durable"));
  ns->mutable_messages =
      json_is_true(json_object_get(def, "mutableMessages"));
  ns->retention_ms = retention ? json_integer_value(retention) : 0;
  return 0;
}

static int parse_app(const json_t *def, struct app **out, herald_error *err) {
  const char *id = json_string_value(json_object_get(def, "id"));
  if (!id || !*id || strpbrk(id, ".:"))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "app needs an id without '.' or ':'");
  const json_t *keys = json_object_get(def, "keys");
  const json_t *namespaces = json_object_get(def, "namespaces");
  struct app *app = herald_xcalloc(1, sizeof *app);
  atomic_init(&app->refs, 1);
  revocation__init(&app->revocations);
  app->id = herald_xstrdup(id);
  app->keys = herald_xcalloc(json_array_size(keys), sizeof *app->keys);
  app->namespaces =
      herald_xcalloc(json_array_size(namespaces), sizeof *app->namespaces);
  int rc = 0;
  for (size_t i = 0; !rc && i < json_array_size(keys); i++, app->n_keys++)
    rc = parse_key(id, json_array_get(keys, i), &app->keys[i], err);
  for (size_t i = 0; !rc && i < json_array_size(namespaces);
       i++, app->n_namespaces++)
    rc = parse_namespace(json_array_get(namespaces, i), &app->namespaces[i],
                         err);
  json_int_t max_members = json_integer_value(json_object_get(
      json_object_get(json_object_get(def, "limits"), "presence"),
      "maxMembers"));
  app->presence_max_members = max_members > 0 ? (size_t)max_members : 0;
  const json_t *fixtures = json_object_get(def, "channels");
  if (json_array_size(fixtures)) app->fixtures = json_deep_copy(fixtures);
  if (rc) {
    free_app(app);
    return rc;
  }
  *out = app;
  return 0;
}

size_t apps__presence_max_members(const struct app *app,
                                  const struct config *cfg) {
  return app->presence_max_members ? app->presence_max_members
                                   : (size_t)cfg->presence_max_members;
}

/* ---- The registry ---------------------------------------------------- */

static struct app *find_app_locked(struct apps *apps, const char *id,
                                   size_t len) {
  return hashmap__get(&apps->by_id, id, len);
}

/* Inserts app. One with the same id gets app's keys and namespaces merged
 * in (so HERALD_KEY can add a key to an app of the config file) when
 * merging is allowed, which is only at start-up: merging moves the key
 * array that requests point into. Without merging, an id that is taken
 * gives -40900 and a full registry -40128, and app is freed. */
static int insert_app(struct apps *apps, struct app *app, bool merge,
                      herald_error *err) {
  pthread_rwlock_wrlock(&apps->lock);
  struct app *existing = find_app_locked(apps, app->id, strlen(app->id));
  int rc = 0;
  if (existing && !merge)
    rc = herald_error_set(err, HERALD_E_CONFLICT, "An app with id %s exists",
                          app->id);
  else if (!merge && apps->by_id.count >= apps->max_apps)
    rc = herald_error_set(err, HERALD_E_APP_LIMIT_EXCEEDED,
                          "Maximum number of apps (%zu) reached",
                          apps->max_apps);
  if (rc) {
    pthread_rwlock_unlock(&apps->lock);
    free_app(app);
    return rc;
  }
  if (!existing) {
    hashmap__put(&apps->by_id, app->id, strlen(app->id), app);
    pthread_rwlock_unlock(&apps->lock);
    return 0;
  }
  existing->keys = herald_xrealloc(
      existing->keys, (existing->n_keys + app->n_keys) * sizeof *app->keys);
  memcpy(existing->keys + existing->n_keys, app->keys,
         app->n_keys * sizeof *app->keys);
  existing->n_keys += app->n_keys;
  existing->namespaces = herald_xrealloc(
      existing->namespaces,
      (existing->n_namespaces + app->n_namespaces) * sizeof *app->namespaces);
  memcpy(existing->namespaces + existing->n_namespaces, app->namespaces,
         app->n_namespaces * sizeof *app->namespaces);
  existing->n_namespaces += app->n_namespaces;
  pthread_rwlock_unlock(&apps->lock);
  app->n_keys = app->n_namespaces = 0; /* moved */
  free_app(app);
  return 0;
}

int apps__add_json(struct apps *apps, const json_t *def, herald_error *err) {
  struct app *app;
  int rc = parse_app(def, &app, err);
  if (!rc) rc = insert_app(apps, app, true, err);
  return rc;
}

int apps__add_new_json(struct apps *apps, const json_t *def,
                       herald_error *err) {
  struct app *app;
  int rc = parse_app(def, &app, err);
  if (!rc) rc = insert_app(apps, app, false, err);
  return rc;
}

int apps__find_key(struct apps *apps, const char *key_name, size_t len,
                   struct app **app_out, const struct key **key_out,
                   herald_error *err) {
  const char *dot = memchr(key_name, '.', len);
  size_t app_len = dot ? (size_t)(dot - key_name) : len;
  pthread_rwlock_rdlock(&apps->lock);
  struct app *app = find_app_locked(apps, key_name, app_len);
  const struct key *key = NULL;
  for (size_t i = 0; app && i < app->n_keys; i++)
    if (strlen(app->keys[i].name) == len &&
        !memcmp(app->keys[i].name, key_name, len))
      key = &app->keys[i];
  if (key) apps__retain(app);
  pthread_rwlock_unlock(&apps->lock);
  if (!app)
    return herald_error_set(err, HERALD_E_NOT_FOUND, "No application found "
                            "with id %.*s", (int)app_len, key_name);
  if (!key) {
    herald_error_set(err, HERALD_E_NOT_FOUND, "No key found with name %.*s",
                     (int)len, key_name);
    if (err) err->status = 401;
    return -HERALD_E_NOT_FOUND;
  }
  *app_out = app;
  *key_out = key;
  return 0;
}

struct app *apps__find(struct apps *apps, const char *id) {
  pthread_rwlock_rdlock(&apps->lock);
  struct app *app = find_app_locked(apps, id, strlen(id));
  if (app) apps__retain(app);
  pthread_rwlock_unlock(&apps->lock);
  return app;
}

void apps__remove(struct apps *apps, const char *id) {
  pthread_rwlock_wrlock(&apps->lock);
  struct app *removed = hashmap__remove(&apps->by_id, id, strlen(id));
  pthread_rwlock_unlock(&apps->lock);
  apps__release(removed);
}

void apps__each(struct apps *apps, void (*fn)(struct app *app, void *ctx),
                void *ctx) {
  pthread_rwlock_rdlock(&apps->lock);
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&apps->by_id, &bucket); e;
       e = hashmap__next(&apps->by_id, e, &bucket))
    fn(e->value, ctx);
  pthread_rwlock_unlock(&apps->lock);
}

/* The rule of the channel's namespace, or NULL. */
static const struct namespace_rule *find_namespace(const struct app *app,
                                                   const char *channel) {
  size_t ns_len = channel_name__namespace_len(channel, strlen(channel));
  for (size_t i = 0; i < app->n_namespaces; i++) {
    const struct namespace_rule *ns = &app->namespaces[i];
    if (strlen(ns->id) == ns_len && !strncmp(ns->id, channel, ns_len)) return ns;
  }
  return NULL;
}

bool apps__durable(const struct app *app, const char *channel) {
  const struct namespace_rule *ns = find_namespace(app, channel);
  return !ns || ns->durable;
}

bool apps__mutable(const struct app *app, const char *channel) {
  size_t len = strlen(channel), suffix = strlen(APPS_CHAT_ROOM_SUFFIX);
  if (len > suffix &&
      !strcmp(channel + len - suffix, APPS_CHAT_ROOM_SUFFIX))
    return true;
  const struct namespace_rule *ns = find_namespace(app, channel);
  return ns && ns->mutable_messages;
}

bool apps__persisted(const struct app *app, const char *channel) {
  const struct namespace_rule *ns = find_namespace(app, channel);
  /* mutable messages are persisted, as Ably's are */
  return (ns && ns->persisted) || apps__mutable(app, channel);
}

int64_t apps__retention_ms(const struct apps *apps, const struct app *app,
                           const char *channel) {
  const struct namespace_rule *ns = find_namespace(app, channel);
  if (ns && ns->retention_ms) return ns->retention_ms;
  return apps__persisted(app, channel) ? apps->persisted_retention_ms
                                       : apps->retention_ms;
}

/* ---- Start-up sources ------------------------------------------------ */

/* Adds "appId.keyId:secret" with full capability. */
static int add_key_string(struct apps *apps, const char *key_string,
                          herald_error *err) {
  const char *dot = strchr(key_string, '.');
  if (!dot)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "HERALD_KEY must look like appId.keyId:secret");
  char *app_id = herald_xstrndup(key_string, (size_t)(dot - key_string));
  json_t *def = json_pack("{s:s, s:[{s:s}]}", "id", app_id, "keys", "key",
                          key_string);
  int rc = apps__add_json(apps, def, err);
  json_decref(def);
  herald_free(app_id);
  return rc;
}

/* Loads the development app's key from data_dir, creating it on first
 * start. *key_string receives it. */
static int ensure_dev_key(const char *data_dir, char **key_string,
                          herald_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/dev-key", data_dir);
  FILE *f = fopen(path, "r");
  char line[256] = "";
  if (f) {
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
  }
  if (!line[0]) {
    char app_id[7], key_id[7], secret[25];
    msgid__random(app_id, 6);
    msgid__random(key_id, 6);
    msgid__random(secret, 24);
    /* '-' would be fine, but '.'/':' never occur: the alphabet excludes them. */
    snprintf(line, sizeof line, "%s.%s:%s", app_id, key_id, secret);
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
      return herald_error_set(err, HERALD_E_INTERNAL,
                              "cannot create data directory %s: %s", data_dir,
                              strerror(errno));
    f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0)
      return herald_error_set(err, HERALD_E_INTERNAL, "cannot write %s: %s",
                              path, strerror(errno));
    log_info("created development app key in %s", path);
  }
  *key_string = herald_xstrdup(line);
  return 0;
}

int apps__init(struct apps *apps, const struct config *cfg, char **dev_key,
               herald_error *err) {
  memset(apps, 0, sizeof *apps);
  pthread_rwlock_init(&apps->lock, NULL);
  hashmap__init(&apps->by_id);
  apps->max_apps = (size_t)cfg->max_apps;
  apps->retention_ms = cfg->retention_ms;
  apps->persisted_retention_ms = cfg->persisted_retention_ms;
  *dev_key = NULL;
  int rc = 0;
  for (size_t i = 0; !rc && i < json_array_size(cfg->apps); i++)
    rc = apps__add_json(apps, json_array_get(cfg->apps, i), err);
  if (!rc && cfg->env_key) rc = add_key_string(apps, cfg->env_key, err);
  if (!rc && apps->by_id.count == 0) {
    rc = ensure_dev_key(cfg->data_dir, dev_key, err);
    if (!rc) rc = add_key_string(apps, *dev_key, err);
  }
  return rc;
}

/* ---- Stored apps and revocations ------------------------------------- */

struct load_ctx {
  struct apps *apps;
  herald_error *err;
  int rc;
};

static void load_app(void *ctx, const char *app_id, const char *key,
                     const char *value) {
  struct load_ctx *l = ctx;
  json_t *def = json_loads(value, 0, NULL);
  int rc = def ? apps__add_json(l->apps, def, l->err)
               : herald_error_set(l->err, HERALD_E_INTERNAL,
                                  "stored app %s is not JSON", app_id);
  json_decref(def);
  if (rc && !l->rc) l->rc = rc;
}

char *apps__revocation_key(const char *key_name, const char *target) {
  size_t len = strlen(key_name) + 1 + strlen(target);
  char *key = herald_xmalloc(len + 1);
  snprintf(key, len + 1, "%s %s", key_name, target);
  return key;
}

char *apps__revocation_value(int64_t issued_before, int64_t applies_at) {
  json_t *v = json_pack("{s:I, s:I}", "issuedBefore", (json_int_t)issued_before,
                        "appliesAt", (json_int_t)applies_at);
  char *text = json_dumps(v, JSON_COMPACT);
  json_decref(v);
  return text;
}

void apps__revoke(struct apps *apps, struct app *app, const char *key_name,
                  const char *target, int64_t issued_before,
                  int64_t applies_at) {
  if (!revocation__add(&app->revocations, key_name, target, issued_before,
                       applies_at))
    return;
  pthread_rwlock_rdlock(&apps->lock);
  struct revocation_watcher w = apps->watcher;
  pthread_rwlock_unlock(&apps->lock);
  if (w.revoked) w.revoked(w.ctx, app, applies_at);
}

void apps__watch_revocations(struct apps *apps, struct revocation_watcher w) {
  pthread_rwlock_wrlock(&apps->lock);
  apps->watcher = w;
  pthread_rwlock_unlock(&apps->lock);
}

/* A revocation record: key "<keyName> <target>", value from
 * apps__revocation_value. Revocations of apps gone since are skipped. */
static void load_revocation(void *ctx, const char *app_id, const char *key,
                            const char *value) {
  struct load_ctx *l = ctx;
  const char *space = strchr(key, ' ');
  json_t *v = json_loads(value, 0, NULL);
  struct app *app = apps__find(l->apps, app_id);
  if (app && space && v) {
    char *key_name = herald_xstrndup(key, (size_t)(space - key));
    apps__revoke(l->apps, app, key_name, space + 1,
                 json_integer_value(json_object_get(v, "issuedBefore")),
                 json_integer_value(json_object_get(v, "appliesAt")));
    herald_free(key_name);
  }
  apps__release(app);
  json_decref(v);
}

int apps__load_stored(struct apps *apps, struct store *store,
                      herald_error *err) {
  struct load_ctx ctx = {apps, err, 0};
  int rc = store__load_records(store, APPS_RECORD_APP, load_app, &ctx, err);
  if (!rc) rc = ctx.rc;
  if (!rc)
    rc = store__load_records(store, APPS_RECORD_REVOCATION, load_revocation,
                             &ctx, err);
  return rc;
}

/* Another node's change (a shared engine): the same records as at
 * start-up, or an app gone. Errors only reach the log. */
static void follow_record(void *ctx, const char *kind, const char *app_id,
                          const char *key, const char *value) {
  herald_error err;
  struct load_ctx l = {ctx, &err, 0};
  if (!kind || (!value && !strcmp(kind, APPS_RECORD_APP)))
    apps__remove(ctx, app_id);
  else if (value && !strcmp(kind, APPS_RECORD_APP))
    load_app(&l, app_id, key, value);
  else if (value && !strcmp(kind, APPS_RECORD_REVOCATION))
    load_revocation(&l, app_id, key, value);
  if (l.rc) log_warn("a change of app %s from another node: %s", app_id,
                     err.message);
}

void apps__follow(struct apps *apps, struct store *store) {
  store__follow_records(store, (struct store_record_watcher){follow_record,
                                                             apps});
}

static void release_app(struct app *app, void *ctx) { apps__release(app); }

void apps__cleanup(struct apps *apps) {
  apps__each(apps, release_app, NULL);
  hashmap__cleanup(&apps->by_id);
  pthread_rwlock_destroy(&apps->lock);
}
