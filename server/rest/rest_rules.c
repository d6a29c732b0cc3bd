/* rest_rules.c -- an app's webhook rules (webhooks.h), at Ably's Control
 * API paths: POST /apps/:app/rules (201, the rule as stored),
 * GET /apps/:app/rules, GET and DELETE /apps/:app/rules/:id. Each needs
 * the admin key, or in sandbox mode a key of the app with full capability
 * (rest_apps__may_administer). A rule is stored as a record (kind "rule",
 * key its id) before it takes effect, so it outlives a restart. */
#include <string.h>

#include "alloc.h"
#include "channel/webhooks.h"
#include "rest/reply.h"
#include "transport/http.h"
#include "rest/rest.h"

/* The request's app, retained, if its credentials may change its rules. */
static struct app *administered_app(struct http_request *req,
                                    herald_error *err) {
  const char *app_id = req->segments[1];
  struct app *app = NULL;
  if (!rest_apps__may_administer(req, app_id))
    herald_error_set(err, HERALD_E_CAPABILITY_DENIED,
                     "Webhook rules need the admin key, or in sandbox mode "
                     "a key of that app with full capability");
  else if (!(app = apps__find(rest__context(req)->apps, app_id)))
    herald_error_set(err, HERALD_E_NOT_FOUND, "No app %s", app_id);
  return app;
}

static void send_json(struct http_request *req, int status, const json_t *v) {
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__json(&w, v);
  reply__send(req, status, &w, NULL);
}

struct rule_change {
  struct store_record record;
  struct http_request *req;
  struct webhook_rule *rule; /* a new rule; NULL: a deletion */
  char *app_id, *key, *value;
};

static void change_free(struct rule_change *c) {
  webhook_rule__free(c->rule);
  herald_free(c->app_id);
  herald_free(c->key);
  free(c->value);
  herald_free(c);
}

static void on_stored(struct store_req *sreq) {
  struct rule_change *c = (struct rule_change *)sreq;
  struct webhooks *wh = rest__context(c->req)->channels->webhooks;
  if (sreq->rc) {
    reply__error(c->req, &sreq->err);
  } else if (c->rule) {
    json_t *def = json_incref(c->rule->def);
    webhooks__put(wh, c->app_id, c->rule);
    c->rule = NULL;
    send_json(c->req, 201, def);
    json_decref(def);
  } else {
    webhooks__remove(wh, c->app_id, c->key);
    reply__no_content(c->req);
  }
  change_free(c);
}

static void store_change(struct http_request *req, const char *app_id,
                         const char *id, struct webhook_rule *rule) {
  struct rule_change *c = herald_xcalloc(1, sizeof *c);
  c->req = req;
  c->rule = rule;
  c->app_id = herald_xstrdup(app_id);
  c->key = herald_xstrdup(id);
  if (rule) c->value = json_dumps(rule->def, JSON_COMPACT);
  c->record = (struct store_record){
      .req = {.origin = req->worker, .done = on_stored},
      .app_id = c->app_id,
      .kind = WEBHOOKS_RECORD_RULE,
      .key = c->key,
      .value = c->value};
  store__put_record(rest__context(req)->store, &c->record);
}

static int parse_rule(struct http_request *req, const struct app *app,
                      struct webhook_rule **out, herald_error *err) {
  struct wire_doc doc;
  int rc = rest__parse_body(req, &doc, err);
  if (rc) return rc;
  json_t *def = wire_value__to_json(wire_doc__root(&doc));
  wire_doc__cleanup(&doc);
  rc = webhooks__check(rest__context(req)->channels->webhooks, app, def, out,
                       err);
  json_decref(def);
  return rc;
}

void rest_rules__create(struct http_request *req) {
  herald_error err;
  struct webhook_rule *rule = NULL;
  struct app *app = administered_app(req, &err);
  if (app && !parse_rule(req, app, &rule, &err))
    store_change(req, app->id, rule->id, rule);
  else reply__error(req, &err);
  apps__release(app);
}

void rest_rules__list(struct http_request *req) {
  herald_error err;
  struct app *app = administered_app(req, &err);
  if (!app) {
    reply__error(req, &err);
    return;
  }
  json_t *rules = webhooks__list(rest__context(req)->channels->webhooks,
                                 app->id, NULL);
  send_json(req, 200, rules);
  json_decref(rules);
  apps__release(app);
}

/* The rule the path names, or NULL with err set. */
static json_t *named_rule(struct http_request *req, struct app **app,
                          herald_error *err) {
  *app = administered_app(req, err);
  if (!*app) return NULL;
  json_t *rule = webhooks__list(rest__context(req)->channels->webhooks,
                                (*app)->id, req->segments[3]);
  if (!rule)
    herald_error_set(err, HERALD_E_NOT_FOUND, "No rule %s", req->segments[3]);
  return rule;
}

void rest_rules__get(struct http_request *req) {
  herald_error err;
  struct app *app;
  json_t *rule = named_rule(req, &app, &err);
  if (rule) send_json(req, 200, rule);
  else reply__error(req, &err);
  json_decref(rule);
  apps__release(app);
}

void rest_rules__delete(struct http_request *req) {
  herald_error err;
  struct app *app;
  json_t *rule = named_rule(req, &app, &err);
  if (rule) store_change(req, app->id, req->segments[3], NULL);
  else reply__error(req, &err);
  json_decref(rule);
  apps__release(app);
}
