/* token_auth.c -- authenticating with a token credential (see
 * token_auth.h). */
#include "auth/token_auth.h"

#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "capability.h"
#include "jwt.h"
#include "token.h"
#include "utf8.h"

#define MAX_TOKEN_TTL_MS (24 * 60 * 60 * 1000LL)

/* What a verified credential says, before it becomes a struct auth. */
struct grant {
  struct app *app; /* retained */
  const struct key *key;
  int64_t issued, expires;   /* ms */
  const char *capability;    /* JSON text; NULL: the key's */
  bool intersect;            /* capability still needs ∩ key */
  const char *client_id;     /* NULL, "*" or an identity */
  const char *revocation_key;
};

/* The token text of a credential. SDKs send base64 of the token; curl
 * users send it raw. A raw token never reads as strict base64 (it has
 * '.'), so decode only when the result is a token we recognise. */
static char *credential_text(const char *cred, size_t len, size_t *out_len) {
  if (base64__is_strict(cred, len)) {
    size_t n;
    char *decoded = (char *)base64__decode(cred, len, &n);
    size_t key_name_len;
    if (decoded && !memchr(decoded, 0, n) && utf8__valid(decoded, n) &&
        (token__key_name(decoded, n, &key_name_len) ||
         jwt__looks_like(decoded, n))) {
      *out_len = n;
      return decoded;
    }
    herald_free(decoded);
  }
  *out_len = len;
  return herald_xstrndup(cred, len);
}

static int grant_capability(struct auth *a, const struct grant *g,
                            herald_error *err) {
  if (!g->capability) {
    a->capability = g->key->capability;
    return 0;
  }
  struct capability *requested;
  herald_error parse_err;
  if (capability__parse(g->capability, strlen(g->capability), &requested,
                        &parse_err))
    return herald_error_set(err, HERALD_E_INVALID_JWT,
                            "Invalid capability in token: %s",
                            parse_err.message);
  int rc = 0;
  if (!g->intersect) {
    a->owned_capability = requested;
  } else {
    rc = capability__intersect(requested, g->key->capability,
                               &a->owned_capability, err);
    capability__free(requested);
    if (rc) return rc;
  }
  a->capability = a->owned_capability;
  return 0;
}

static char *dup_or_null(const char *s) {
  return s ? herald_xstrdup(s) : NULL;
}

/* Fills *a from g, taking its app. */
static void take_grant(struct auth *a, const struct grant *g) {
  a->app = g->app;
  a->key = g->key;
  a->via_token = true;
  a->token_issued = g->issued;
  a->token_expires = g->expires;
  a->any_client_id = g->client_id && !strcmp(g->client_id, "*");
  a->client_id = a->any_client_id ? NULL : dup_or_null(g->client_id);
  if (!g->key->revocable_tokens) return; /* nothing can revoke it */
  a->token_client_id = dup_or_null(g->client_id);
  a->revocation_key = dup_or_null(g->revocation_key);
}

bool token_auth__revoked(const struct auth *a, int64_t at) {
  return a->via_token && a->key->revocable_tokens &&
         revocation__revoked(&a->app->revocations, a->key->name,
                             a->token_client_id, a->revocation_key,
                             a->token_issued, at);
}

/* Fills *a from g (taking its app) once it is neither expired nor revoked
 * and its capability reads; else *a is released. */
static int accept_grant(struct auth *a, struct grant *g, int64_t now,
                        herald_error *err) {
  take_grant(a, g);
  int rc = 0;
  if (g->expires <= now)
    rc = herald_error_set(err, HERALD_E_TOKEN_EXPIRED, "Token expired");
  else if (token_auth__revoked(a, now))
    rc = herald_error_set(err, HERALD_E_TOKEN_REVOKED, "Token revoked");
  if (!rc) rc = grant_capability(a, g, err);
  if (rc) auth__release(a);
  return rc;
}

static int with_herald_token(struct auth *a, struct apps *apps,
                             const char *text, size_t len,
                             size_t key_name_len, int64_t now,
                             herald_error *err) {
  struct grant g = {0};
  if (apps__find_key(apps, text, key_name_len, &g.app, &g.key, NULL))
    return herald_error_set(err, HERALD_E_TOKEN_UNRECOGNIZED,
                            "Token not recognised: its key %.*s does not "
                            "exist", (int)key_name_len, text);
  struct token_claims claims = {0};
  int rc = token__verify(text, len, g.key->secret, &claims, err);
  if (rc) {
    apps__release(g.app);
    return rc;
  }
  g.issued = claims.issued;
  g.expires = claims.expires;
  g.capability = claims.capability;
  g.client_id = claims.client_id;
  rc = accept_grant(a, &g, now, err);
  token_claims__cleanup(&claims);
  return rc;
}

static int authenticate_text(struct auth *a, struct apps *apps,
                             const char *text, size_t len, int64_t now,
                             bool nested, herald_error *err);

/* An outer JWT carrying an Ably token or JWT: the inner one authenticates,
 * and the outer may not outlive it. */
static int with_embedded_token(struct auth *a, struct apps *apps,
                               const struct jwt *outer, int64_t now,
                               bool nested, herald_error *err) {
  if (nested)
    return herald_error_set(err, HERALD_E_INVALID_JWT,
                            "Embedded tokens may not be nested");
  const char *inner = outer->embedded_token;
  int rc = authenticate_text(a, apps, inner, strlen(inner), now, true, err);
  if (!rc && outer->has_exp && outer->exp * 1000 > a->token_expires) {
    auth__release(a);
    return herald_error_set(err, HERALD_E_INVALID_JWT,
                            "The JWT expires after the token it embeds");
  }
  return rc;
}

static int jwt_lifetime_check(const struct jwt *jwt, const struct key *key,
                              herald_error *err) {
  int64_t lifetime = (jwt->exp - jwt->iat) * 1000;
  int64_t max = key->revocable_tokens ? REVOCABLE_TOKEN_MAX_TTL_MS
                                      : MAX_TOKEN_TTL_MS;
  if (lifetime > max)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "JWT lifetime of %lld ms exceeds the maximum of "
                            "%lld ms", (long long)lifetime, (long long)max);
  return 0;
}

static int with_jwt(struct auth *a, struct apps *apps, const char *text,
                    size_t len, int64_t now, bool nested, herald_error *err) {
  struct jwt jwt = {0};
  struct grant g = {0};
  int rc = jwt__parse(text, len, &jwt, err);
  if (!rc && jwt.embedded_token) {
    rc = with_embedded_token(a, apps, &jwt, now, nested, err);
    jwt__cleanup(&jwt);
    return rc;
  }
  /* jwt__parse guarantees a kid when nothing is embedded. */
  if (!rc) rc = apps__find_key(apps, jwt.kid, strlen(jwt.kid), &g.app, &g.key,
                               err);
  if (!rc) {
    rc = jwt__verify(&jwt, text, g.key->secret, err);
    if (!rc) rc = jwt_lifetime_check(&jwt, g.key, err);
    if (rc) apps__release(g.app);
  }
  if (!rc) {
    g.issued = jwt.iat * 1000;
    g.expires = jwt.exp * 1000;
    g.capability = jwt.capability;
    g.intersect = true;
    g.client_id = jwt.client_id;
    g.revocation_key = jwt.revocation_key;
    rc = accept_grant(a, &g, now, err);
  }
  jwt__cleanup(&jwt);
  return rc;
}

static int authenticate_text(struct auth *a, struct apps *apps,
                             const char *text, size_t len, int64_t now,
                             bool nested, herald_error *err) {
  size_t key_name_len;
  if (jwt__looks_like(text, len))
    return with_jwt(a, apps, text, len, now, nested, err);
  if (token__key_name(text, len, &key_name_len))
    return with_herald_token(a, apps, text, len, key_name_len, now, err);
  return herald_error_set(err, HERALD_E_INVALID_TOKEN,
                          "Invalid token: neither an Ably token nor a JWT");
}

int token_auth__authenticate(struct auth *a, struct apps *apps,
                             const char *credential, size_t len, int64_t now,
                             herald_error *err) {
  size_t text_len;
  char *text = credential_text(credential, len, &text_len);
  int rc = authenticate_text(a, apps, text, text_len, now, false, err);
  herald_free(text);
  return rc;
}
