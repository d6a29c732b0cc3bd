/* credentials.c -- Basic and token auth, TokenRequests, requestToken,
 * authorize and revokeTokens (see credentials.h and herald/auth.h). */
#include "credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "batch.h"
#include "clock.h"
#include "msgid.h"
#include "text.h"
#include "token_request.h"

#define NONCE_LEN 16
/* A token this close to its expiry is renewed before use (RSA4b1). */
#define EXPIRY_MARGIN_MS 15000

static char *dup_or_null(const char *s) { return s ? herald_xstrdup(s) : NULL; }

static char *base64_of(const char *prefix, const char *s) {
  size_t len = strlen(s);
  char *b64 = herald_xmalloc(base64__encoded_size(len));
  base64__encode(s, len, b64);
  struct text t = {0};
  text__appendf(&t, "%s%s", prefix, b64);
  herald_free(b64);
  return text__take(&t);
}

void herald_token_details_free(herald_token_details *td) {
  if (!td) return;
  herald_free(td->token);
  herald_free(td->capability);
  herald_free(td->client_id);
  herald_free(td);
}

/* ---- TokenRequest --------------------------------------------------- */

static char *decimal(int64_t v) {
  struct text t = {0};
  text__appendf(&t, "%lld", (long long)v);
  return text__take(&t);
}

/* The request's fields as the MAC signs them (token_request.h). */
static void fill_request(const herald_client *c, const herald_token_params *p,
                         struct token_request *tr) {
  memset(tr, 0, sizeof *tr);
  tr->key_name = herald_xstrdup(c->key_name);
  if (p->ttl) tr->ttl = decimal(p->ttl);
  tr->capability = dup_or_null(p->capability);
  tr->client_id = dup_or_null(p->client_id ? p->client_id : c->client_id);
  tr->timestamp = decimal(p->timestamp ? p->timestamp : clock__now_ms());
  if (p->nonce) tr->nonce = herald_xstrdup(p->nonce);
  else {
    tr->nonce = herald_xmalloc(NONCE_LEN + 1);
    msgid__random(tr->nonce, NONCE_LEN);
  }
  tr->mac = herald_xmalloc(TOKEN_REQUEST_MAC_LEN + 1);
  token_request__mac(tr, c->key_secret, tr->mac);
}

static char *token_request_json(const struct token_request *tr) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__map(&w, 4 + !!tr->ttl + !!tr->capability + !!tr->client_id);
  wire_writer__kv_str(&w, "keyName", tr->key_name);
  if (tr->ttl) wire_writer__kv_int(&w, "ttl", strtoll(tr->ttl, NULL, 10));
  if (tr->capability) wire_writer__kv_str(&w, "capability", tr->capability);
  if (tr->client_id) wire_writer__kv_str(&w, "clientId", tr->client_id);
  wire_writer__kv_int(&w, "timestamp", strtoll(tr->timestamp, NULL, 10));
  wire_writer__kv_str(&w, "nonce", tr->nonce);
  wire_writer__kv_str(&w, "mac", tr->mac);
  size_t len;
  char *bytes = wire_writer__finish(&w, &len);
  wire_writer__cleanup(&w);
  char *json = bytes ? herald_xstrndup(bytes, len) : NULL;
  herald_free(bytes);
  return json;
}

static const herald_token_params *params_or_default(const herald_client *c,
                                                    const herald_token_params *p) {
  return p ? p : &c->token_params;
}

int herald_create_token_request(herald_client *c,
                                const herald_token_params *params,
                                char **json_out, herald_error *err) {
  if (!c->key_name)
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                            "No key specified: a TokenRequest is signed "
                            "with the key's secret");
  struct token_request tr;
  fill_request(c, params_or_default(c, params), &tr);
  *json_out = token_request_json(&tr);
  token_request__cleanup(&tr);
  if (!*json_out)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid token params (not UTF-8)");
  return 0;
}

/* ---- Obtaining tokens ------------------------------------------------ */

static char *string_member(struct wire_value map, const char *key) {
  size_t len;
  struct wire_value v = wire_value__get(map, key);
  const char *s = wire_value__bytes(v, &len);
  return s && wire_value__kind(v) == WIRE_STR ? herald_xstrndup(s, len) : NULL;
}

static int token_details_of(struct wire_value v, herald_token_details **out,
                            herald_error *err) {
  char *token = string_member(v, "token");
  if (!token)
    return herald_error_set(err, HERALD_E_TOKEN_ERROR,
                            "Invalid TokenDetails: no token");
  herald_token_details *td = herald_xcalloc(1, sizeof *td);
  td->token = token;
  td->capability = string_member(v, "capability");
  td->client_id = string_member(v, "clientId");
  wire_value__int(wire_value__get(v, "expires"), &td->expires);
  wire_value__int(wire_value__get(v, "issued"), &td->issued);
  *out = td;
  return 0;
}

static int parse_json(const char *json, struct wire_doc *doc,
                      herald_error *err) {
  int rc = wire_doc__parse(doc, WIRE_JSON, json, strlen(json), err);
  if (!rc && wire_value__kind(wire_doc__root(doc)) != WIRE_MAP) {
    wire_doc__cleanup(doc);
    rc = herald_error_set(err, HERALD_E_TOKEN_ERROR,
                          "Invalid token or TokenRequest: not an object");
  }
  return rc;
}

/* POSTs a TokenRequest's JSON to /keys/<keyName>/requestToken (RSA8c). */
static int exchange(herald_client *c, const char *json,
                    herald_token_details **out, herald_error *err) {
  struct wire_doc doc;
  int rc = parse_json(json, &doc, err);
  if (rc) return rc;
  char *key_name = string_member(wire_doc__root(&doc), "keyName");
  wire_doc__cleanup(&doc);
  if (!key_name)
    return herald_error_set(err, HERALD_E_TOKEN_ERROR,
                            "Invalid TokenRequest: no keyName");
  struct text path = {0};
  text__append(&path, "/keys/");
  text__append_escaped(&path, key_name);
  text__append(&path, "/requestToken");
  herald_free(key_name);
  struct request r = {.method = "POST", .path = path.s, .body = json,
                      .body_len = strlen(json), .format = WIRE_JSON,
                      .auth = REQUEST_AUTH_NONE};
  struct transfer_response resp;
  rc = request__call(c, &r, &resp, err);
  herald_free(path.s);
  if (rc) return rc;
  rc = request__parse(&resp, &doc, err);
  if (!rc) {
    rc = token_details_of(wire_doc__root(&doc), out, err);
    wire_doc__cleanup(&doc);
  }
  transfer__response_cleanup(&resp);
  return rc;
}

/* What an authCallback returned (RSA8d): a TokenRequest to exchange, a
 * TokenDetails, or a token string. */
static int token_of_callback_text(herald_client *c, const char *text,
                                  herald_token_details **out,
                                  herald_error *err) {
  if (text[0] != '{') {
    herald_token_details *td = herald_xcalloc(1, sizeof *td);
    td->token = herald_xstrdup(text);
    *out = td;
    return 0;
  }
  struct wire_doc doc;
  int rc = parse_json(text, &doc, err);
  if (rc) return rc;
  struct wire_value root = wire_doc__root(&doc);
  bool is_request = wire_value__kind(wire_value__get(root, "mac")) == WIRE_STR;
  rc = is_request ? 0 : token_details_of(root, out, err);
  wire_doc__cleanup(&doc);
  return is_request ? exchange(c, text, out, err) : rc;
}

static int token_of_callback(herald_client *c, const herald_token_params *p,
                             herald_token_details **out, herald_error *err) {
  char *text = NULL;
  herald_error cb_err;
  herald_error_set(&cb_err, HERALD_E_TOKEN_ERROR, "authCallback failed");
  int rc = c->auth_callback(p, c->auth_userdata, &text, &cb_err);
  if (rc || !text) {
    free(text);
    if (err) *err = cb_err;
    return rc < 0 ? rc : -cb_err.code;
  }
  rc = token_of_callback_text(c, text, out, err);
  free(text); /* the application's allocation */
  return rc;
}

int herald_request_token(herald_client *c, const herald_token_params *params,
                         herald_token_details **out, herald_error *err) {
  const herald_token_params *p = params_or_default(c, params);
  if (c->auth_callback) return token_of_callback(c, p, out, err);
  char *json;
  int rc = herald_create_token_request(c, p, &json, err);
  if (rc) return rc;
  rc = exchange(c, json, out, err);
  herald_free(json);
  return rc;
}

static void use_token(herald_client *c, const herald_token_details *td) {
  pthread_mutex_lock(&c->lock);
  herald_free(c->token);
  c->token = herald_xstrdup(td->token);
  c->token_expires = td->expires;
  c->use_token_auth = true;
  pthread_mutex_unlock(&c->lock);
}

int herald_authorize(herald_client *c, const herald_token_params *params,
                     herald_token_details **out, herald_error *err) {
  herald_token_details *td;
  int rc = herald_request_token(c, params, &td, err);
  if (rc) return rc;
  use_token(c, td);
  if (out) *out = td;
  else herald_token_details_free(td);
  return 0;
}

/* ---- Headers ---------------------------------------------------------- */

bool credentials__token_based(herald_client *c) {
  pthread_mutex_lock(&c->lock);
  bool token = c->use_token_auth || !c->key_name;
  pthread_mutex_unlock(&c->lock);
  return token;
}

bool credentials__can_renew(const herald_client *c) {
  return c->key_name || c->auth_callback;
}

int credentials__renew(herald_client *c, herald_error *err) {
  if (!credentials__can_renew(c))
    return herald_error_set(err, HERALD_E_NO_MEANS_TO_RENEW, NULL);
  return herald_authorize(c, NULL, NULL, err);
}

static char *basic(const herald_client *c) {
  struct text key = {0};
  text__appendf(&key, "%s:%s", c->key_name, c->key_secret);
  char *header = base64_of("Basic ", key.s);
  herald_free(key.s);
  return header;
}

/* The current token as a Bearer header, or NULL when it must be renewed. */
static char *bearer(herald_client *c) {
  pthread_mutex_lock(&c->lock);
  bool fresh = c->token && (!c->token_expires ||
                            c->token_expires > clock__now_ms() + EXPIRY_MARGIN_MS);
  char *header = fresh ? base64_of("Bearer ", c->token) : NULL;
  bool renewable = c->key_name || c->auth_callback;
  if (!header && !renewable && c->token)
    header = base64_of("Bearer ", c->token); /* the server will judge it */
  pthread_mutex_unlock(&c->lock);
  return header;
}

int credentials__authorization(herald_client *c, enum request_auth mode,
                               char **out, herald_error *err) {
  *out = NULL;
  bool anonymous = !c->key_name && !c->auth_callback && !c->token;
  if (mode == REQUEST_AUTH_NONE || (anonymous && mode == REQUEST_AUTH_CLIENT))
    return 0; /* no credentials: the server judges (POST /apps, /time) */
  if (mode == REQUEST_AUTH_BASIC || !credentials__token_based(c)) {
    if (!c->key_name)
      return herald_error_set(err, HERALD_E_BASIC_AUTH_REQUIRED,
                              "This call needs Basic auth: give a key");
    *out = basic(c);
    return 0;
  }
  if ((*out = bearer(c))) return 0;
  int rc = credentials__renew(c, err);
  if (!rc && !(*out = bearer(c)))
    rc = herald_error_set(err, HERALD_E_TOKEN_EXPIRED,
                          "The token obtained has expired already");
  return rc;
}

/* ---- revokeTokens (RSA17) -------------------------------------------- */

static char *revoke_body(const herald_client *c,
                         const herald_revocation_target *targets, size_t n,
                         int64_t issued_before, bool margin, size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, c->format);
  wire_writer__map(&w, 1 + (issued_before != 0) + margin);
  wire_writer__key(&w, "targets");
  wire_writer__array(&w, n);
  for (size_t i = 0; i < n; i++) {
    struct text t = {0};
    text__appendf(&t, "%s:%s", targets[i].type, targets[i].value);
    wire_writer__str(&w, t.s);
    herald_free(t.s);
  }
  if (issued_before) wire_writer__kv_int(&w, "issuedBefore", issued_before);
  if (margin) wire_writer__kv_bool(&w, "allowReauthMargin", true);
  char *body = wire_writer__finish(&w, len);
  wire_writer__cleanup(&w);
  return body;
}

int herald_revoke_tokens(herald_client *c,
                         const herald_revocation_target *targets, size_t n,
                         int64_t issued_before, bool allow_reauth_margin,
                         herald_batch_results **results, herald_error *err) {
  if (!c->key_name)
    return herald_error_set(err, HERALD_E_BASIC_AUTH_REQUIRED,
                            "revokeTokens needs the key (Basic auth)");
  size_t len;
  char *body = revoke_body(c, targets, n, issued_before, allow_reauth_margin,
                           &len);
  if (!body)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid revocation target (not UTF-8)");
  struct text path = {0};
  text__append(&path, "/keys/");
  text__append_escaped(&path, c->key_name);
  text__append(&path, "/revokeTokens");
  struct request r = {.method = "POST", .path = path.s, .body = body,
                      .body_len = len, .format = c->format,
                      .auth = REQUEST_AUTH_BASIC};
  int rc = batch__call(c, &r, NULL, results, err);
  herald_free(path.s);
  herald_free(body);
  return rc;
}
