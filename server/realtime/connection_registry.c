/* connection_registry.c -- realtime connections by id (see
 * connection_registry.h). */
#include "realtime/connection_registry.h"

#include <string.h>

#include "hmac.h"
#include "msgid.h"
#include "realtime/realtime.h"

#define KEY_SECRET_LEN 22

void connection_registry__init(struct connection_registry *r) {
  uv_mutex_init(&r->lock);
  hashmap__init(&r->by_id);
}

void connection_registry__cleanup(struct connection_registry *r) {
  hashmap__cleanup(&r->by_id);
  uv_mutex_destroy(&r->lock);
}

/* "<id>!<secret>": the id, so a key names its connection. */
static void new_key(struct rt_conn *c) {
  char secret[KEY_SECRET_LEN + 1];
  msgid__random(secret, KEY_SECRET_LEN);
  snprintf(c->key, sizeof c->key, "%s!%s", c->id, secret);
}

void connection_registry__add(struct connection_registry *r, struct rt_conn *c) {
  uv_mutex_lock(&r->lock);
  do msgid__random(c->id, RT_CONNECTION_ID_LEN);
  while (hashmap__get(&r->by_id, c->id, RT_CONNECTION_ID_LEN));
  new_key(c);
  c->state = RT_LIVE;
  hashmap__put(&r->by_id, c->id, RT_CONNECTION_ID_LEN, c);
  uv_mutex_unlock(&r->lock);
}

bool connection_registry__add_as(struct connection_registry *r,
                                 struct rt_conn *c, const char *id,
                                 const char *key) {
  uv_mutex_lock(&r->lock);
  bool free = !hashmap__get(&r->by_id, id, RT_CONNECTION_ID_LEN);
  if (free) {
    memcpy(c->id, id, RT_CONNECTION_ID_LEN);
    c->id[RT_CONNECTION_ID_LEN] = '\0';
    snprintf(c->key, sizeof c->key, "%s", key);
    c->state = RT_LIVE;
    hashmap__put(&r->by_id, c->id, RT_CONNECTION_ID_LEN, c);
  }
  uv_mutex_unlock(&r->lock);
  return free;
}

struct rt_conn *connection_registry__claim_id(struct connection_registry *r,
                                              const char *id,
                                              struct rt_resume *claim) {
  uv_mutex_lock(&r->lock);
  struct rt_conn *c = strlen(id) == RT_CONNECTION_ID_LEN
                          ? hashmap__get(&r->by_id, id, RT_CONNECTION_ID_LEN)
                          : NULL;
  if (c && c->state == RT_MOVING) c = NULL;
  if (c) {
    c->state = RT_MOVING;
    c->claim = claim;
  }
  uv_mutex_unlock(&r->lock);
  return c;
}

void connection_registry__rekey(struct connection_registry *r,
                                struct rt_conn *c) {
  uv_mutex_lock(&r->lock);
  new_key(c);
  uv_mutex_unlock(&r->lock);
}

/* A connection's app and clientId never change, so they are read here
 * without its home thread. */
static bool same_identity(const struct rt_conn *c, const struct auth *a) {
  if (c->app != a->app) return false;
  if (!c->identity || !a->client_id) return c->identity == a->client_id;
  return !strcmp(c->identity, a->client_id);
}

/* Whether key is c's key, compared in constant time: the id part is
 * public, the secret part is not to be guessed byte by byte. */
static bool key_matches(const struct rt_conn *c, const char *key) {
  size_t len = strlen(key);
  return len == strlen(c->key) && hmac__equal(c->key, key, len);
}

struct rt_conn *connection_registry__claim(struct connection_registry *r,
                                           const char *key,
                                           const struct auth *auth,
                                           struct rt_resume *claim,
                                           herald_error *err) {
  const char *bang = strchr(key, '!');
  if (!bang || bang - key != RT_CONNECTION_ID_LEN || strlen(key) >= RT_CONNECTION_KEY_MAX) {
    herald_error_set(err, HERALD_E_INVALID_CONNECTION_KEY, NULL);
    return NULL;
  }
  uv_mutex_lock(&r->lock);
  struct rt_conn *c = hashmap__get(&r->by_id, key, RT_CONNECTION_ID_LEN);
  if (!c || !key_matches(c, key) || c->state == RT_MOVING) {
    herald_error_set(err, HERALD_E_CONNECTION_EXPIRED, NULL);
    c = NULL;
  } else if (!same_identity(c, auth)) {
    herald_error_set(err, HERALD_E_RESUME_INCOMPATIBLE_AUTH, NULL);
    c = NULL;
  } else {
    c->state = RT_MOVING;
    c->claim = claim;
  }
  uv_mutex_unlock(&r->lock);
  return c;
}

/* Whether clientId id (NULL: none named) is c's. */
static bool is_identity(const struct rt_conn *c, const char *id) {
  return !id || (c->identity && !strcmp(c->identity, id));
}

int connection_registry__resolve(struct connection_registry *r,
                                 const char *key, const struct auth *auth,
                                 const char *client_id, char *id,
                                 herald_error *err) {
  const char *bang = strchr(key, '!');
  bool ok = false;
  if (bang && bang - key == RT_CONNECTION_ID_LEN &&
      strlen(key) < RT_CONNECTION_KEY_MAX) {
    uv_mutex_lock(&r->lock);
    const struct rt_conn *c = hashmap__get(&r->by_id, key, RT_CONNECTION_ID_LEN);
    ok = c && key_matches(c, key) && c->app == auth->app &&
         is_identity(c, auth->client_id) && is_identity(c, client_id);
    if (ok) memcpy(id, c->id, RT_CONNECTION_ID_LEN + 1);
    uv_mutex_unlock(&r->lock);
  }
  if (ok) return 0;
  return herald_error_set(err, HERALD_E_INVALID_CONNECTION_ID,
                          "Malformed message; invalid connectionKey");
}

void connection_registry__settle(struct connection_registry *r,
                                 struct rt_conn *c, enum rt_state state) {
  uv_mutex_lock(&r->lock);
  c->state = state;
  c->claim = NULL;
  uv_mutex_unlock(&r->lock);
}

bool connection_registry__detach(struct connection_registry *r,
                                 struct rt_conn *c, int64_t expires_at) {
  uv_mutex_lock(&r->lock);
  bool live = c->state == RT_LIVE;
  if (live) {
    c->state = RT_DETACHED;
    c->expires_at = expires_at;
  }
  uv_mutex_unlock(&r->lock);
  return live;
}

bool connection_registry__remove(struct connection_registry *r,
                                 struct rt_conn *c, int64_t now, bool force) {
  uv_mutex_lock(&r->lock);
  bool expired = c->state != RT_MOVING &&
                 (force || (c->state == RT_DETACHED && now >= c->expires_at));
  if (expired) hashmap__remove(&r->by_id, c->id, RT_CONNECTION_ID_LEN);
  uv_mutex_unlock(&r->lock);
  return expired;
}
