/* rest_tokens.c -- POST /keys/:keyName/requestToken (issuing Ably tokens,
 * auth.md sections 5-7) and POST /keys/:keyName/revokeTokens (auth.md 12,
 * rest.md 14.2). */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth/auth.h"
#include "capability.h"
#include "channel/stats.h"
#include "clock.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "store/store.h"
#include "token.h"
#include "token_request.h"
#include "transport/http.h"

#define DEFAULT_TOKEN_TTL_MS (60 * 60 * 1000LL)
#define MAX_TOKEN_TTL_MS (24 * 60 * 60 * 1000LL)
#define MAX_REVOCATION_TARGETS 100

int rest_tokens__key_exists(struct http_request *req, herald_error *err) {
  const char *name = req->segments[1];
  struct app *app;
  const struct key *key;
  if (!apps__find_key(rest__context(req)->apps, name, strlen(name), &app, &key,
                      NULL)) {
    apps__release(app);
    return 0;
  }
  return herald_error_set(err, HERALD_E_NOT_FOUND, "No key found with name %s",
                          name);
}

/* ---- requestToken ----------------------------------------------------- */

/* A signed request proves itself with its MAC; an unsigned one needs the
 * caller to be authenticated with that very key. */
static int check_signature(struct http_request *req,
                           const struct token_request *tr,
                           const struct key *key, herald_error *err) {
  if (tr->mac) {
    if (!token_request__mac_matches(tr, key->secret))
      return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                              "Invalid TokenRequest: MAC does not match");
    return 0;
  }
  int rc = auth__authenticate(req, rest__context(req)->apps, rest__auth(req), err);
  if (!rc && rest__auth(req)->key != key)
    rc = herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                          "An unsigned TokenRequest needs the credentials "
                          "of key %s", key->name);
  return rc;
}

/* Timestamp window and nonce replay (auth.md 6, steps 4-5). */
static int check_freshness(struct rest *r,
                           const struct token_request *tr, int64_t now,
                           herald_error *err) {
  int64_t timestamp;
  if (!tr->timestamp) return 0; /* unsigned and without one */
  if (!token_request__parse_ms(tr->timestamp, &timestamp))
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid TokenRequest timestamp");
  int64_t skew = now > timestamp ? now - timestamp : timestamp - now;
  if (skew > r->cfg->token_window_ms)
    return herald_error_set(err, HERALD_E_STALE_TIMESTAMP,
                            "Timestamp not current");
  if (tr->mac &&
      !nonce_cache__first_use(r->nonces, tr->key_name, tr->nonce, now))
    return herald_error_set(err, HERALD_E_NONCE_REPLAYED,
                            "Nonce value replayed");
  return 0;
}

/* What a new token may not exceed: the key's powers, or for an unsigned
 * request made with token credentials, the presenting token's, so a token
 * never mints a stronger one (capability, clientId, lifetime). */
struct token_ceiling {
  const struct capability *capability;
  const char *client_id; /* with !any_client_id: the only one (NULL: none) */
  bool any_client_id;
  int64_t expires;       /* ms; 0: none beyond the TTL maximum */
};

static struct token_ceiling token_ceiling(const struct http_request *req,
                                          const struct key *key) {
  const struct auth *a = rest__auth(req);
  if (!a->via_token)
    return (struct token_ceiling){.capability = key->capability,
                                  .any_client_id = true};
  return (struct token_ceiling){.capability = a->capability,
                                .client_id = a->client_id,
                                .any_client_id = a->any_client_id,
                                .expires = a->token_expires};
}

/* The requested TTL, or the default, within the key's maximum and the
 * ceiling's expiry: a default TTL is shortened to it, an explicit one
 * beyond it is refused. */
static int token_ttl(const struct token_request *tr, const struct key *key,
                     const struct token_ceiling *ceiling, int64_t now,
                     int64_t *ttl, herald_error *err) {
  int64_t max = key->revocable_tokens ? REVOCABLE_TOKEN_MAX_TTL_MS
                                      : MAX_TOKEN_TTL_MS;
  *ttl = DEFAULT_TOKEN_TTL_MS;
  if (tr->ttl && (!token_request__parse_ms(tr->ttl, ttl) || *ttl <= 0))
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid ttl '%s'", tr->ttl);
  if (*ttl > max)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "ttl %lld exceeds the maximum of %lld ms",
                            (long long)*ttl, (long long)max);
  if (!ceiling->expires || now + *ttl <= ceiling->expires) return 0;
  if (tr->ttl)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "ttl %lld outlives the token presented, which "
                            "expires in %lld ms", (long long)*ttl,
                            (long long)(ceiling->expires - now));
  *ttl = ceiling->expires - now;
  return 0;
}

/* The new token's clientId (borrowed): the requested one if the ceiling
 * allows it; a token-bound ceiling imposes its own. */
static int token_client_id(const struct token_request *tr,
                           const struct token_ceiling *ceiling,
                           const char **out, herald_error *err) {
  if (tr->client_id && !*tr->client_id)
    return herald_error_set(err, HERALD_E_INVALID_CLIENT_ID,
                            "A token's clientId may not be empty");
  *out = tr->client_id;
  if (ceiling->any_client_id) return 0;
  if (tr->client_id &&
      (!ceiling->client_id || strcmp(tr->client_id, ceiling->client_id)))
    return herald_error_set(err, HERALD_E_INCOMPATIBLE_CREDENTIALS,
                            "clientId '%s' is not that of the token "
                            "presented", tr->client_id);
  *out = ceiling->client_id;
  return 0;
}

/* The granted capability's canonical text: requested ∩ ceiling, or the
 * ceiling's. */
static int token_capability(const struct token_request *tr,
                            const struct token_ceiling *ceiling, char **out,
                            herald_error *err) {
  if (!tr->capability) {
    *out = capability__canonical(ceiling->capability);
    return 0;
  }
  struct capability *requested, *granted;
  int rc = capability__parse(tr->capability, strlen(tr->capability),
                             &requested, err);
  if (rc) return rc;
  rc = capability__intersect(requested, ceiling->capability, &granted, err);
  capability__free(requested);
  if (rc) return rc;
  *out = capability__canonical(granted);
  capability__free(granted);
  return 0;
}

static void reply_token_details(struct http_request *req,
                                const struct token_claims *c,
                                const char *token) {
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__map(&w, 5 + (c->client_id != NULL));
  wire_writer__kv_str(&w, "token", token);
  wire_writer__kv_str(&w, "keyName", c->key_name);
  wire_writer__kv_int(&w, "issued", c->issued);
  wire_writer__kv_int(&w, "expires", c->expires);
  wire_writer__kv_str(&w, "capability", c->capability);
  if (c->client_id) wire_writer__kv_str(&w, "clientId", c->client_id);
  reply__send(req, 200, &w, NULL);
}

/* A signed request's nonce, checked on every node (a shared engine) before
 * its token goes out: this node's cache saw it first, others may not. */
struct nonce_check {
  struct store_once once;
  struct http_request *req;
  struct token_claims claims;
  char *token;
  char *key;
};

static void on_nonce_checked(struct store_req *sreq) {
  struct nonce_check *n = (struct nonce_check *)sreq;
  herald_error err;
  if (sreq->rc) reply__error(n->req, &sreq->err);
  else if (!n->once.first) {
    herald_error_set(&err, HERALD_E_NONCE_REPLAYED, "Nonce value replayed");
    reply__error(n->req, &err);
  } else {
    reply_token_details(n->req, &n->claims, n->token);
  }
  herald_free(n->claims.key_name);
  herald_free(n->claims.capability);
  herald_free(n->claims.client_id);
  herald_free(n->token);
  herald_free(n->key);
  herald_free(n);
}

/* Replies with the token, once a shared engine agreed the nonce is new. */
static void deliver(struct http_request *req, const struct token_request *tr,
                    const struct token_claims *claims, char *token) {
  struct store *store = rest__context(req)->store;
  if (!tr->mac || !store__shared(store)) {
    reply_token_details(req, claims, token);
    herald_free(token);
    return;
  }
  struct nonce_check *n = herald_xcalloc(1, sizeof *n);
  n->req = req;
  n->token = token;
  n->claims = (struct token_claims){
      .key_name = herald_xstrdup(claims->key_name),
      .issued = claims->issued,
      .expires = claims->expires,
      .capability = herald_xstrdup(claims->capability),
      .client_id = claims->client_id ? herald_xstrdup(claims->client_id) : NULL};
  size_t len = strlen(tr->key_name) + 1 + strlen(tr->nonce) + 1;
  n->key = herald_xmalloc(len);
  snprintf(n->key, len, "%s\n%s", tr->key_name, tr->nonce);
  n->once = (struct store_once){
      .req = {.origin = req->worker, .done = on_nonce_checked},
      .key = n->key,
      .ttl_ms = 2 * rest__context(req)->cfg->token_window_ms};
  store__once(store, &n->once);
}

/* Checks tr for key and issues the token (auth.md 6, steps 3-9). */
static int issue(struct http_request *req, const struct token_request *tr,
                 const struct key *key, herald_error *err) {
  int64_t now = clock__now_ms(), ttl = 0;
  const char *client_id = NULL;
  int rc = check_signature(req, tr, key, err);
  struct token_ceiling ceiling = token_ceiling(req, key);
  if (!rc) rc = check_freshness(rest__context(req), tr, now, err);
  if (!rc) rc = token_ttl(tr, key, &ceiling, now, &ttl, err);
  if (!rc) rc = token_client_id(tr, &ceiling, &client_id, err);
  struct token_claims claims = {.key_name = key->name,
                                .issued = now,
                                .expires = now + ttl,
                                .client_id = (char *)client_id};
  if (!rc) rc = token_capability(tr, &ceiling, &claims.capability, err);
  if (rc) return rc;
  char *token = token__sign(&claims, key->secret);
  if (!token)
    rc = herald_error_set(err, HERALD_E_INVALID_CLIENT_ID,
                          "clientId is not valid UTF-8");
  else deliver(req, tr, &claims, token);
  herald_free(claims.capability);
  return rc;
}

static int decode_token_request(const struct http_request *req,
                                struct token_request *tr, herald_error *err) {
  struct wire_doc doc;
  int rc = rest__parse_body(req, &doc, err);
  if (rc) return rc;
  rc = token_request__decode(wire_doc__root(&doc), tr, err);
  wire_doc__cleanup(&doc);
  if (!rc && (!tr->key_name || (tr->mac && (!tr->timestamp || !tr->nonce))))
    rc = herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                          "A TokenRequest needs keyName, and a signed one "
                          "timestamp and nonce");
  if (!rc && strcmp(tr->key_name, req->segments[1]))
    rc = herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                          "TokenRequest keyName %s does not match the URL",
                          tr->key_name);
  return rc;
}

/* POST /keys/:keyName/requestToken */
void rest_tokens__request(struct http_request *req) {
  herald_error err;
  struct token_request tr = {0};
  struct app *app = NULL;
  const struct key *key;
  int rc = decode_token_request(req, &tr, &err);
  if (!rc)
    rc = apps__find_key(rest__context(req)->apps, tr.key_name,
                        strlen(tr.key_name), &app, &key, &err);
  if (!rc) rc = issue(req, &tr, key, &err);
  if (rc) reply__error(req, &err);
  stats__request(app, true, rc ? err.status : 200);
  apps__release(app);
  token_request__cleanup(&tr);
}

/* ---- revokeTokens ----------------------------------------------------- */

struct revoke_job;

struct revoke_target {
  struct store_record record; /* first: its completion leads here */
  struct revoke_job *job;
  char *target;
  herald_error err; /* code 0: accepted */
  char *record_key, *record_value;
};

struct revoke_job {
  struct http_request *req;
  int64_t issued_before, applies_at;
  size_t n_targets, pending, failures;
  struct revoke_target targets[];
};

static int revoke_caller_check(const struct auth *a, const char *key_name,
                               herald_error *err) {
  if (a->via_token)
    return herald_error_set(err, HERALD_E_BASIC_AUTH_REQUIRED,
                            "revokeTokens requires Basic authentication");
  if (strcmp(a->key->name, key_name))
    return herald_error_set(err, HERALD_E_WRONG_REVOCATION_KEY, NULL);
  if (!a->key->revocable_tokens)
    return herald_error_set(err, HERALD_E_REVOCATION_NOT_ENABLED, NULL);
  return 0;
}

/* issuedBefore: default now; neither in the future nor over an hour old. */
static int revoke_issued_before(struct wire_value body, int64_t now,
                                int64_t *out, herald_error *err) {
  struct wire_value v = wire_value__get(body, "issuedBefore");
  *out = now;
  if (wire_value__kind(v) == WIRE_ABSENT) return 0;
  if (!wire_value__int(v, out) || *out > now ||
      *out < now - REVOCABLE_TOKEN_MAX_TTL_MS)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "issuedBefore must be a time within the last "
                            "hour, not in the future");
  return 0;
}

static int decode_targets(struct wire_value body, struct wire_value *targets,
                          herald_error *err) {
  *targets = wire_value__get(body, "targets");
  size_t n = wire_value__count(*targets);
  if (wire_value__kind(*targets) != WIRE_ARRAY || n == 0 ||
      n > MAX_REVOCATION_TARGETS)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "targets must be an array of 1 to %d strings",
                            MAX_REVOCATION_TARGETS);
  for (size_t i = 0; i < n; i++)
    if (wire_value__kind(wire_value__at(*targets, i)) != WIRE_STR)
      return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                              "targets must be strings");
  return 0;
}

/* Decodes the body into a job with one entry per target. */
static int decode_revocations(struct http_request *req,
                              struct revoke_job **out, herald_error *err) {
  struct wire_doc doc;
  struct wire_value targets;
  int64_t now = clock__now_ms(), issued_before;
  int rc = rest__parse_body(req, &doc, err);
  if (rc) return rc;
  struct wire_value body = wire_doc__root(&doc);
  rc = decode_targets(body, &targets, err);
  if (!rc) rc = revoke_issued_before(body, now, &issued_before, err);
  if (!rc) {
    size_t n = wire_value__count(targets);
    struct revoke_job *job =
        herald_xcalloc(1, sizeof *job + n * sizeof job->targets[0]);
    job->req = req;
    job->n_targets = n;
    job->issued_before = issued_before;
    bool margin = wire_value__bool(wire_value__get(body, "allowReauthMargin"));
    int64_t margin_ms = rest__context(req)->cfg->reauth_margin_ms;
    job->applies_at = now + (margin ? margin_ms : 0);
    for (size_t i = 0; i < n; i++) {
      size_t len;
      const char *text = wire_value__bytes(wire_value__at(targets, i), &len);
      job->targets[i].target = herald_xstrndup(text, len);
      job->targets[i].job = job;
    }
    *out = job;
  }
  wire_doc__cleanup(&doc);
  return rc;
}

static void write_target_result(struct wire_writer *w,
                                const struct revoke_job *job,
                                const struct revoke_target *t) {
  if (t->err.code) {
    reply__write_batch_failure(w, "target", t->target, &t->err);
    return;
  }
  wire_writer__map(w, 3);
  wire_writer__kv_str(w, "target", t->target);
  wire_writer__kv_int(w, "issuedBefore", job->issued_before);
  wire_writer__kv_int(w, "appliesAt", job->applies_at);
}

/* Answers with every target's outcome and frees the job. */
static void finish_revocations(struct revoke_job *job) {
  struct http_request *req = job->req;
  struct wire_writer items;
  reply__writer(req, &items);
  wire_writer__array(&items, job->n_targets);
  for (size_t i = 0; i < job->n_targets; i++)
    write_target_result(&items, job, &job->targets[i]);
  reply__batch(req, 201, &items, job->n_targets, job->failures);
  for (size_t i = 0; i < job->n_targets; i++) {
    herald_free(job->targets[i].target);
    herald_free(job->targets[i].record_key);
    free(job->targets[i].record_value);
  }
  herald_free(job);
}

static void on_revocation_stored(struct store_req *sreq) {
  struct revoke_target *t = (struct revoke_target *)sreq;
  struct revoke_job *job = t->job;
  if (sreq->rc) {
    t->err = sreq->err;
    job->failures++;
  }
  if (--job->pending == 0) finish_revocations(job);
}

/* Validates one "<type>:<value>" target; a good one takes effect now and
 * gets its record ready. Returns whether it was accepted. */
static bool accept_target(struct revoke_job *job, struct revoke_target *t) {
  struct http_request *req = job->req;
  const char *colon = strchr(t->target, ':');
  bool known = !strncmp(t->target, "clientId:", 9) ||
               !strncmp(t->target, "revocationKey:", 14);
  if (!known || !colon[1]) {
    herald_error_set(&t->err, HERALD_E_BAD_REQUEST,
                     "Invalid revocation target '%s': expected clientId:<id> "
                     "or revocationKey:<key>", t->target);
    job->failures++;
    return false;
  }
  struct app *app = rest__auth(req)->app;
  const char *key_name = rest__auth(req)->key->name;
  apps__revoke(rest__context(req)->apps, app, key_name, t->target,
               job->issued_before, job->applies_at);
  t->record_key = apps__revocation_key(key_name, t->target);
  t->record_value = apps__revocation_value(job->issued_before, job->applies_at);
  t->record = (struct store_record){
      .req = {.origin = req->worker, .done = on_revocation_stored},
      .app_id = app->id,
      .kind = APPS_RECORD_REVOCATION,
      .key = t->record_key,
      .value = t->record_value,
      .expires = job->issued_before + REVOCABLE_TOKEN_MAX_TTL_MS};
  return true;
}

/* POST /keys/:keyName/revokeTokens: answered once every accepted
 * revocation is stored. */
void rest_tokens__revoke(struct http_request *req) {
  herald_error err;
  struct revoke_job *job;
  int rc = revoke_caller_check(rest__auth(req), req->segments[1], &err);
  if (!rc) rc = decode_revocations(req, &job, &err);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  for (size_t i = 0; i < job->n_targets; i++)
    if (accept_target(job, &job->targets[i])) job->pending++;
  if (!job->pending) {
    finish_revocations(job);
    return;
  }
  struct store *store = rest__context(req)->store;
  for (size_t i = 0; i < job->n_targets; i++)
    if (job->targets[i].record_key)
      store__put_record(store, &job->targets[i].record);
}
