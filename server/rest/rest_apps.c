/* rest_apps.c -- the test-provisioning API (rest.md 17): POST /apps
 * creates an app with keys and namespaces as SDK test suites ask, stored
 * durably like configured apps; DELETE /apps/:appId removes it and all its
 * data. Creating is open to anyone in sandbox mode, else it needs the
 * configured admin key; GET /apps lists every app with its keys, for the
 * admin key only. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth/auth.h"
#include "capability.h"
#include "channel/presence.h"
#include "channel/webhooks.h"
#include "clock.h"
#include "msgid.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "store/store.h"
#include "transport/http.h"

#define ID_LEN 6
#define SECRET_LEN 24

struct app_creation {
  struct store_record record;
  struct http_request *req;
  json_t *def;      /* the stored definition */
  json_t *response; /* the reply body */
  char *def_text;
};

/* Whether the request carries the configured admin key. */
static bool admin_presented(const struct http_request *req) {
  return rest__bearer_is(req, rest__context(req)->cfg->admin_key);
}

static int check_admin(const struct http_request *req, herald_error *err) {
  if (rest__context(req)->cfg->sandbox || admin_presented(req)) return 0;
  return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                          "Creating apps needs the admin key (or a server in "
                          "sandbox mode)");
}

/* One app as GET /apps lists it: its id, keys and namespaces' ids. */
static void list_app(struct app *app, void *ctx) {
  json_t *keys = json_array(), *namespaces = json_array();
  for (size_t i = 0; i < app->n_keys; i++) {
    const struct key *k = &app->keys[i];
    char *capability = capability__canonical(k->capability);
    json_array_append_new(
        keys, json_pack("{s:s, s:s, s:s++, s:s}", "keyName", k->name,
                        "keySecret", k->secret, "keyStr", k->name, ":",
                        k->secret, "capability", capability));
    herald_free(capability);
  }
  for (size_t i = 0; i < app->n_namespaces; i++)
    json_array_append_new(namespaces,
                          json_pack("{s:s}", "id", app->namespaces[i].id));
  json_array_append_new(ctx, json_pack("{s:s, s:o, s:o}", "appId", app->id,
                                       "keys", keys, "namespaces", namespaces));
}

/* GET /apps: every app with its keys, for the admin key only (the web
 * console's sign-in), sandbox or not: it hands out every secret. */
void rest_apps__list(struct http_request *req) {
  if (!admin_presented(req)) {
    herald_error err;
    herald_error_set(&err, HERALD_E_INVALID_CREDENTIALS,
                     "Listing apps needs the admin key (Authorization: "
                     "Bearer)");
    reply__error(req, &err);
    return;
  }
  json_t *list = json_array();
  apps__each(rest__context(req)->apps, list_app, list);
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__json(&w, list);
  reply__send(req, 200, &w, NULL);
  json_decref(list);
}

/* The key's capability in canonical text: {"*":["*"]} when not given. */
static int canonical_capability(json_t *spec, json_t **out, herald_error *err) {
  json_t *given = json_object_get(spec, "capability");
  if (!given) {
    *out = json_string("{\"*\":[\"*\"]}");
    return 0;
  }
  char *text = json_is_string(given) ? strdup(json_string_value(given))
                                     : json_dumps(given, JSON_COMPACT);
  struct capability *cap;
  int rc = text ? capability__parse(text, strlen(text), &cap, err)
                : herald_error_set(err, HERALD_E_BAD_REQUEST,
                                   "Invalid key capability");
  free(text);
  if (rc) return rc;
  char *canonical = capability__canonical(cap);
  capability__free(cap);
  *out = json_string(canonical);
  herald_free(canonical);
  return 0;
}

/* One requested key: its stored definition and its record in the reply. */
static int make_key(const char *app_id, json_t *spec, int64_t now,
                    json_t *def_keys, json_t *reply_keys, herald_error *err) {
  json_t *capability;
  if (!json_is_object(spec))
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "keys must be objects");
  int rc = canonical_capability(spec, &capability, err);
  if (rc) return rc;
  char key_id[ID_LEN + 1], secret[SECRET_LEN + 1], name[64], key_str[128];
  msgid__random(key_id, ID_LEN);
  msgid__random(secret, SECRET_LEN);
  snprintf(name, sizeof name, "%s.%s", app_id, key_id);
  snprintf(key_str, sizeof key_str, "%s:%s", name, secret);
  bool revocable = json_is_true(json_object_get(spec, "revocableTokens"));
  json_array_append_new(def_keys,
                        json_pack("{s:s, s:O, s:b}", "key", key_str,
                                  "capability", capability, "revocableTokens",
                                  revocable));
  json_array_append_new(
      reply_keys,
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:s+, s:i, s:i, s:b, "
                "s:I, s:I}",
                "id", key_id, "value", secret, "keyName", name, "keySecret",
                secret, "keyStr", key_str, "capability", capability,
                "revocableTokens", revocable, "scopeId", "app:", app_id,
                "status", 0, "type", 0, "privileged", 0, "created",
                (json_int_t)now, "modified", (json_int_t)now));
  return 0;
}

/* The requested namespaces, kept as given plus created/modified. */
static int make_namespaces(json_t *requested, int64_t now, json_t **out,
                           herald_error *err) {
  *out = json_array();
  size_t i;
  json_t *ns;
  json_array_foreach(requested, i, ns) {
    if (!json_is_object(ns))
      return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                              "namespaces must be objects");
    json_t *copy = json_deep_copy(ns);
    json_object_set_new(copy, "created", json_integer(now));
    json_object_set_new(copy, "modified", json_integer(now));
    json_array_append_new(*out, copy);
  }
  return 0;
}

/* The host name the client used, for the reply's endpoint. */
static json_t *request_host(const struct http_request *req) {
  const char *host = http__header(req, "host");
  if (!host || !*host) return json_string("localhost");
  size_t len = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
  return json_stringn(host, len);
}

/* Builds the app's stored definition and the reply from the request. */
static int build_app(struct app_creation *c, json_t *body, herald_error *err) {
  int64_t now = clock__now_ms();
  char app_id[ID_LEN + 1], account_id[ID_LEN + 1];
  msgid__random(app_id, ID_LEN);
  msgid__random(account_id, ID_LEN);
  json_t *keys = json_object_get(body, "keys");
  json_t *def_keys = json_array(), *reply_keys = json_array(), *namespaces;
  int rc = make_namespaces(json_object_get(body, "namespaces"), now,
                           &namespaces, err);
  keys = json_array_size(keys) ? json_incref(keys) : json_pack("[{}]");
  for (size_t i = 0; !rc && i < json_array_size(keys); i++)
    rc = make_key(app_id, json_array_get(keys, i), now, def_keys, reply_keys,
                  err);
  json_decref(keys);
  json_t *channels = json_object_get(body, "channels");
  c->def = json_pack("{s:s, s:o, s:O}", "id", app_id, "keys", def_keys,
                     "namespaces", namespaces);
  json_t *limits = json_object_get(body, "limits");
  if (json_is_object(limits)) json_object_set(c->def, "limits", limits);
  if (json_is_array(channels)) json_object_set(c->def, "channels", channels);
  c->response = json_pack(
      "{s:s++, s:s, s:s, s:i, s:b, s:s, s:I, s:I, s:o, s:o, s:[], s:o, s:o, "
      "s:i, s:b}",
      "id", account_id, ":", app_id, "appId", app_id, "accountId", account_id,
      "status", 1, "tlsOnly", 0, "labels", "autodelete", "created",
      (json_int_t)now, "modified", (json_int_t)now, "keys", reply_keys,
      "namespaces", namespaces, "connections", "channels",
      channels ? json_incref(channels) : json_array(), "endpoint",
      request_host(c->req), "port", rest__context(c->req)->port, "tls", 0);
  return rc;
}

static void free_creation(struct app_creation *c) {
  json_decref(c->def);
  json_decref(c->response);
  free(c->def_text);
  herald_free(c);
}

static void on_app_stored(struct store_req *sreq) {
  struct app_creation *c = (struct app_creation *)sreq;
  struct http_request *req = c->req;
  if (sreq->rc) {
    apps__remove(rest__context(req)->apps, c->record.app_id);
    reply__error(req, &sreq->err);
  } else {
    struct app *app = apps__find(rest__context(req)->apps, c->record.app_id);
    if (app) presence__seed_fixtures(rest__context(req)->channels, app, true);
    apps__release(app);
    struct wire_writer w;
    reply__writer(req, &w);
    wire_writer__json(&w, c->response);
    reply__send(req, 201, &w, NULL);
  }
  free_creation(c);
}

static int parse_json_body(const struct http_request *req, json_t **out,
                           herald_error *err) {
  struct wire_doc doc;
  int rc = rest__parse_body(req, &doc, err);
  if (rc) return rc;
  *out = wire_value__to_json(wire_doc__root(&doc));
  wire_doc__cleanup(&doc);
  if (!json_is_object(*out)) {
    json_decref(*out);
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "The app specification must be an object");
  }
  return 0;
}

/* Builds the app and enters it in the registry, which reserves its id
 * (a random id that is taken is drawn again). */
static int create_app(struct app_creation *c, json_t *body,
                      herald_error *err) {
  struct apps *apps = rest__context(c->req)->apps;
  int rc;
  do {
    json_decref(c->def);
    json_decref(c->response);
    rc = build_app(c, body, err);
    if (!rc) rc = apps__add_new_json(apps, c->def, err);
  } while (rc == -HERALD_E_CONFLICT);
  return rc;
}

/* POST /apps: answered once the app is stored. */
void rest_apps__create(struct http_request *req) {
  herald_error err;
  json_t *body = NULL;
  int rc = check_admin(req, &err);
  if (!rc) rc = parse_json_body(req, &body, &err);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  struct app_creation *c = herald_xcalloc(1, sizeof *c);
  c->req = req;
  rc = create_app(c, body, &err);
  json_decref(body);
  if (rc) {
    free_creation(c);
    reply__error(req, &err);
    return;
  }
  c->def_text = json_dumps(c->def, JSON_COMPACT);
  const char *app_id = json_string_value(json_object_get(c->def, "id"));
  c->record = (struct store_record){
      .req = {.origin = req->worker, .done = on_app_stored},
      .app_id = app_id,
      .kind = APPS_RECORD_APP,
      .key = app_id,
      .value = c->def_text};
  store__put_record(rest__context(req)->store, &c->record);
}

struct app_deletion {
  struct store_drop_app drop;
  struct http_request *req;
  struct app *app; /* retained until the store let go of its id */
};

static void on_app_dropped(struct store_req *sreq) {
  struct app_deletion *d = (struct app_deletion *)sreq;
  if (sreq->rc) reply__error(d->req, &sreq->err);
  else reply__no_content(d->req);
  apps__release(d->app);
  herald_free(d);
}

bool rest_apps__may_administer(struct http_request *req, const char *app_id) {
  struct rest *r = rest__context(req);
  herald_error ignored;
  if (admin_presented(req)) return true;
  return r->cfg->sandbox &&
         !auth__authenticate(req, r->apps, rest__auth(req), &ignored) &&
         !rest__auth(req)->via_token && !strcmp(rest__auth(req)->app->id, app_id) &&
         capability__allows_all_channels(rest__auth(req)->capability,
                                         CAPABILITY_OP_ALL);
}

/* DELETE /apps/:appId: the app stops answering at once; its data is gone
 * when the reply comes. */
void rest_apps__delete(struct http_request *req) {
  herald_error err;
  struct apps *apps = rest__context(req)->apps;
  struct app *app = NULL;
  int rc = 0;
  if (!rest_apps__may_administer(req, req->segments[1]))
    rc = herald_error_set(&err, HERALD_E_CAPABILITY_DENIED,
                          "Deleting an app needs the admin key, or in "
                          "sandbox mode a key of that app with full "
                          "capability");
  if (!rc && !(app = apps__find(apps, req->segments[1])))
    rc = herald_error_set(&err, HERALD_E_NOT_FOUND, "No app %s",
                          req->segments[1]);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  apps__remove(apps, app->id);
  webhooks__drop_app(rest__context(req)->channels->webhooks, app->id);
  struct app_deletion *d = herald_xcalloc(1, sizeof *d);
  d->req = req;
  d->app = app;
  d->drop = (struct store_drop_app){
      .req = {.origin = req->worker, .done = on_app_dropped},
      .app_id = app->id};
  store__drop_app(rest__context(req)->store, &d->drop);
}
