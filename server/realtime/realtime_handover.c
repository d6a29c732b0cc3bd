/* realtime_handover.c -- realtime connections across nodes (a shared
 * engine, store.h): the state each node keeps of its connections in the
 * engine, so that a resume or recover arriving at another node -- its
 * node died, or the load balancer moved it -- continues the connection:
 * same connectionId, its presence members, resends answered once.
 *
 * The state is {"k": SHA-256 of the connection key, "a": app id, "c":
 * clientId, "p": [channels it may have members on]}, put when the
 * connection starts, gets a new key or a presence channel, refreshed each
 * connectionStateTtl / 2 while it lives, and kept for connectionStateTtl
 * after that (so a node that dies leaves it behind for the resume). The
 * node that takes it over tells the others; one that still holds the
 * connection lets go of it without its members leaving.
 *
 * A REST publish on behalf of a connection (its connectionKey) on another
 * node is checked against the same state.
 *
 * Owns: the state's format, the take-over and resolve requests. The
 * connection itself is realtime.c's. */
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "channel/presence.h"
#include "clock.h"
#include "hmac.h"
#include "realtime/realtime.h"

static void key_hash(const char *key, char out[2 * SHA256_DIGEST_LENGTH + 1]) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)key, strlen(key), digest);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static struct store *store_of(const struct rt_conn *c) {
  return c->realtime->channels->store;
}

static bool followed(const struct rt_conn *c) {
  return store__shared(store_of(c)) && !c->ephemeral;
}

/* ---- Keeping the state ------------------------------------------------------- */

struct put {
  struct store_connection sc;
  char id[RT_CONNECTION_ID_LEN + 1];
  char *value;
};

static void on_put(struct store_req *req) {
  struct put *p = (struct put *)req;
  herald_free(p->value);
  herald_free(p);
}

static char *state_of(const struct rt_conn *c) {
  char hash[2 * SHA256_DIGEST_LENGTH + 1];
  key_hash(c->key, hash);
  json_t *channels = json_array();
  for (size_t i = 0; i < c->n_presence_channels; i++)
    json_array_append_new(channels, json_string(c->presence_channels[i]));
  json_t *state = json_pack("{s:s, s:s, s:s?, s:o}", "k", hash, "a",
                            c->app->id, "c", c->identity, "p", channels);
  char *text = json_dumps(state, JSON_COMPACT);
  json_decref(state);
  char *copy = herald_xstrdup(text);
  free(text);
  return copy;
}

/* Fire and forget: a failure only shortens what a resume elsewhere finds. */
static void put(struct rt_conn *c, char *value) {
  struct put *p = herald_xcalloc(1, sizeof *p);
  memcpy(p->id, c->id, sizeof p->id);
  p->value = value;
  p->sc = (struct store_connection){
      .req = {.done = on_put}, /* origin NULL: runs on the engine's thread */
      .id = p->id,
      .value = value,
      .ttl_ms = c->realtime->cfg->connection_state_ttl_ms};
  store__connection(store_of(c), &p->sc);
}

void realtime_handover__save(struct rt_conn *c) {
  if (!followed(c)) return;
  c->handover_saved_ms = clock__now_ms();
  put(c, state_of(c));
}

void realtime_handover__refresh(struct rt_conn *c, int64_t now) {
  if (followed(c) && c->transport &&
      now - c->handover_saved_ms >= c->realtime->cfg->connection_state_ttl_ms / 2)
    realtime_handover__save(c);
}

void realtime_handover__forget(struct rt_conn *c) {
  if (followed(c)) put(c, NULL);
}

/* ---- Taking a connection over ------------------------------------------------- */

/* A read of the state of the connection a key names (taken or peeked). */
struct lookup {
  struct store_connection sc;
  char id[RT_CONNECTION_ID_LEN + 1];
  char hash[2 * SHA256_DIGEST_LENGTH + 1]; /* of the key */
  const struct app *app;                   /* asking */
};

/* Starts l (the first member of a request of its own, on the calling
 * worker): false, with nothing started, when not shared or the key names
 * no connection id. */
static bool lookup_start(struct realtime *rt, struct lookup *l,
                         const char *key, const struct auth *auth, bool take,
                         void (*done)(struct store_req *req)) {
  const char *bang = strchr(key, '!');
  if (!store__shared(rt->channels->store) || !bang ||
      bang - key != RT_CONNECTION_ID_LEN)
    return false;
  memcpy(l->id, key, RT_CONNECTION_ID_LEN);
  key_hash(key, l->hash);
  l->app = auth->app;
  l->sc = (struct store_connection){
      .req = {.origin = worker__self(), .done = done},
      .take = take,
      .peek = !take,
      .id = l->id};
  store__connection(rt->channels->store, &l->sc);
  return true;
}

struct take {
  struct lookup l; /* first */
  char *identity;
  realtime_handover_fn done;
  void *ctx;
};

/* Whether state is of the connection whose key hashes to hash. */
static bool same_key(json_t *state, const char *hash) {
  const char *k = json_string_value(json_object_get(state, "k"));
  return k && strlen(k) == strlen(hash) && hmac__equal(k, hash, strlen(k));
}

/* Whether the taken state is the connection the key names, for this app
 * and identity; fills h. */
static int check_state(struct take *t, json_t *state, struct handover *h,
                       herald_error *err) {
  const char *app = json_string_value(json_object_get(state, "a"));
  const char *client = json_string_value(json_object_get(state, "c"));
  json_t *channels = json_object_get(state, "p");
  if (!same_key(state, t->l.hash) || !json_is_array(channels))
    return herald_error_set(err, HERALD_E_CONNECTION_EXPIRED, NULL);
  if (!app || strcmp(app, t->l.app->id) ||
      (client && t->identity ? strcmp(client, t->identity) != 0
                             : client != t->identity))
    return herald_error_set(err, HERALD_E_RESUME_INCOMPATIBLE_AUTH, NULL);
  memcpy(h->id, t->l.id, sizeof h->id);
  h->n_channels = 0;
  h->channels = herald_xcalloc(json_array_size(channels) + 1, sizeof *h->channels);
  size_t i;
  json_t *name;
  json_array_foreach(channels, i, name)
    if (json_is_string(name))
      h->channels[h->n_channels++] = herald_xstrdup(json_string_value(name));
  return 0;
}

static void on_taken(struct store_req *req) {
  struct take *t = (struct take *)req;
  struct handover h = {0};
  herald_error err;
  int rc = req->rc;
  if (rc) err = req->err;
  json_t *state = t->l.sc.taken ? json_loads(t->l.sc.taken, 0, NULL) : NULL;
  if (!rc && !state) rc = herald_error_set(&err, HERALD_E_CONNECTION_EXPIRED, NULL);
  if (!rc) rc = check_state(t, state, &h, &err);
  json_decref(state);
  t->done(t->ctx, rc ? NULL : &h, rc ? &err : NULL);
  for (size_t i = 0; i < h.n_channels; i++) herald_free(h.channels[i]);
  herald_free(h.channels);
  herald_free(t->l.sc.taken);
  herald_free(t->identity);
  herald_free(t);
}

bool realtime_handover__take(struct realtime *rt, const char *key,
                             const struct auth *auth, realtime_handover_fn done,
                             void *ctx) {
  struct take *t = herald_xcalloc(1, sizeof *t);
  t->identity = auth->client_id ? herald_xstrdup(auth->client_id) : NULL;
  t->done = done;
  t->ctx = ctx;
  if (lookup_start(rt, &t->l, key, auth, true, on_taken)) return true;
  herald_free(t->identity);
  herald_free(t);
  return false;
}

/* ---- Publishing on behalf of a connection on another node ---------------------- */

struct resolve {
  struct lookup l; /* first */
  char *ids[2]; /* clientIds the publisher names (NULL: none) */
  void (*done)(void *arg, const char *id, const herald_error *err);
  void *arg;
};

/* Whether the state is of the key's connection, of the app, and of every
 * clientId the publisher names. */
static bool may_speak_for(const struct resolve *r, json_t *state) {
  const char *app = json_string_value(json_object_get(state, "a"));
  const char *client = json_string_value(json_object_get(state, "c"));
  if (!same_key(state, r->l.hash) || !app || strcmp(app, r->l.app->id))
    return false;
  for (size_t i = 0; i < 2; i++)
    if (r->ids[i] && (!client || strcmp(client, r->ids[i]))) return false;
  return true;
}

static void on_peeked(struct store_req *req) {
  struct resolve *r = (struct resolve *)req;
  herald_error err;
  json_t *state = r->l.sc.taken ? json_loads(r->l.sc.taken, 0, NULL) : NULL;
  bool ok = !req->rc && state && may_speak_for(r, state);
  json_decref(state);
  if (req->rc) err = req->err;
  else if (!ok)
    herald_error_set(&err, HERALD_E_INVALID_CONNECTION_ID,
                     "Malformed message; invalid connectionKey");
  r->done(r->arg, ok ? r->l.id : NULL, ok ? NULL : &err);
  herald_free(r->l.sc.taken);
  for (size_t i = 0; i < 2; i++) herald_free(r->ids[i]);
  herald_free(r);
}

bool realtime_handover__resolve(struct realtime *rt, const char *key,
                                const struct auth *auth, const char *client_id,
                                void (*done)(void *arg, const char *id,
                                             const herald_error *err),
                                void *arg) {
  struct resolve *r = herald_xcalloc(1, sizeof *r);
  r->ids[0] = auth->client_id ? herald_xstrdup(auth->client_id) : NULL;
  r->ids[1] = client_id ? herald_xstrdup(client_id) : NULL;
  r->done = done;
  r->arg = arg;
  if (lookup_start(rt, &r->l, key, auth, false, on_peeked)) return true;
  for (size_t i = 0; i < 2; i++) herald_free(r->ids[i]);
  herald_free(r);
  return false;
}

/* ---- Letting go of a connection another node took ------------------------------- */

static void on_record(void *ctx, const char *kind, const char *app_id,
                      const char *key, const char *value) {
  if (kind && !strcmp(kind, STORE_CONNECTION_MOVED))
    realtime__moved(ctx, key);
}

void realtime_handover__init(struct realtime *rt) {
  if (store__shared(rt->channels->store))
    store__follow_records(rt->channels->store,
                          (struct store_record_watcher){on_record, rt});
}
