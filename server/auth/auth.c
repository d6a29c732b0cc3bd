/* auth.c -- request authentication and authorisation (see auth.h). */
#include "auth/auth.h"

#include <string.h>

#include "alloc.h"
#include "auth/token_auth.h"
#include "base64.h"
#include "capability.h"
#include "clock.h"
#include "hmac.h"
#include "transport/http.h"

int auth__with_key(struct auth *a, struct apps *apps, const char *key,
                   size_t len, herald_error *err) {
  const char *colon = memchr(key, ':', len);
  if (!colon || colon == key)
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIAL,
                            "Invalid key: expected keyName:keySecret");
  size_t name_len = (size_t)(colon - key);
  const char *secret = colon + 1;
  size_t secret_len = len - name_len - 1;
  struct app *app;
  const struct key *found;
  int rc = apps__find_key(apps, key, name_len, &app, &found, err);
  if (rc) return rc;
  if (strlen(found->secret) != secret_len ||
      !hmac__equal(found->secret, secret, secret_len)) {
    apps__release(app);
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                            "Invalid credentials: wrong key secret");
  }
  a->app = app;
  a->key = found;
  a->capability = found->capability;
  a->any_client_id = true;
  return 0;
}

int auth__assume_client_id(struct auth *a, const char *client_id,
                           herald_error *err) {
  if (!*client_id || !strcmp(client_id, "*"))
    return herald_error_set(err, HERALD_E_INVALID_CLIENT_ID,
                            "Invalid clientId '%s'", client_id);
  bool allowed = a->any_client_id ||
                 (a->client_id && !strcmp(a->client_id, client_id));
  if (!allowed)
    return herald_error_set(err, HERALD_E_INCOMPATIBLE_CREDENTIALS,
                            "Invalid clientId '%s' for credentials",
                            client_id);
  herald_free(a->client_id);
  a->client_id = herald_xstrdup(client_id);
  a->any_client_id = false;
  return 0;
}

#define BASIC_ON_STACK 512 /* decoded keys are much shorter */

static int authenticate_basic(struct auth *a, struct apps *apps,
                              const char *encoded, herald_error *err) {
  size_t text_len = strlen(encoded), max = base64__decoded_max(text_len);
  unsigned char on_stack[BASIC_ON_STACK];
  unsigned char *decoded = max <= sizeof on_stack ? on_stack : herald_xmalloc(max);
  size_t len = base64__decode_to(encoded, text_len, decoded);
  int rc = len == (size_t)-1
               ? herald_error_set(err, HERALD_E_INVALID_CREDENTIAL,
                                  "Invalid Basic credentials: not base64")
               : auth__with_key(a, apps, (const char *)decoded, len, err);
  if (decoded != on_stack) herald_free(decoded);
  return rc;
}

/* X-Ably-ClientId: base64 of the UTF-8 clientId (auth.md 10). */
static int apply_client_id_header(struct http_request *req, struct auth *a,
                                  herald_error *err) {
  const char *header = http__header(req, "x-ably-clientid");
  if (!header) return 0;
  size_t len;
  unsigned char *decoded = base64__decode(header, strlen(header), &len);
  if (!decoded || memchr(decoded, 0, len)) {
    herald_free(decoded);
    return herald_error_set(err, HERALD_E_INVALID_CLIENT_ID,
                            "Invalid X-Ably-ClientId header");
  }
  int rc = auth__assume_client_id(a, (const char *)decoded, err);
  herald_free(decoded);
  return rc;
}

static int authenticate_credentials(struct http_request *req,
                                    struct apps *apps, struct auth *a,
                                    herald_error *err) {
  const char *authorization = http__header(req, "authorization");
  const char *key = http__param(req, "key");
  const char *token = http__param(req, "access_token");
  if (!token) token = http__param(req, "accessToken");
  if (authorization && !strncasecmp(authorization, "Basic ", 6))
    return authenticate_basic(a, apps, authorization + 6, err);
  if (authorization && !strncasecmp(authorization, "Bearer ", 7))
    return token_auth__authenticate(a, apps, authorization + 7,
                            strlen(authorization + 7), clock__now_ms(), err);
  if (authorization)
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIAL,
                            "Unsupported Authorization scheme");
  if (key) return auth__with_key(a, apps, key, strlen(key), err);
  if (token)
    return token_auth__authenticate(a, apps, token, strlen(token),
                            clock__now_ms(), err);
  return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                          "No authentication information provided");
}

int auth__authenticate(struct http_request *req, struct apps *apps,
                       struct auth *a, herald_error *err) {
  int rc = authenticate_credentials(req, apps, a, err);
  if (!rc) rc = apply_client_id_header(req, a, err);
  if (a->app) http__authenticated(req); /* its credentials were good */
  return rc;
}

void auth__release(struct auth *a) {
  apps__release(a->app);
  capability__free(a->owned_capability);
  herald_free(a->client_id);
  herald_free(a->token_client_id);
  herald_free(a->revocation_key);
  memset(a, 0, sizeof *a);
}

int auth__check(const struct auth *a, const char *name, size_t len,
                unsigned op, herald_error *err) {
  if (capability__allows(a->capability, name, len, op)) return 0;
  return herald_error_set(err, HERALD_E_CAPABILITY_DENIED, NULL);
}

int auth__publish_client_id(const struct auth *a, char **client_id,
                            herald_error *err) {
  if (!*client_id) {
    if (a->client_id) *client_id = herald_xstrdup(a->client_id);
    return 0;
  }
  if (!**client_id || !strcmp(*client_id, "*"))
    return herald_error_set(err, HERALD_E_INVALID_CLIENT_ID,
                            "Invalid clientId '%s' in message", *client_id);
  if (a->any_client_id || (a->client_id && !strcmp(a->client_id, *client_id)))
    return 0;
  return herald_error_set(err, HERALD_E_INVALID_CLIENT_ID,
                          "Message clientId '%s' does not match the "
                          "credentials' clientId", *client_id);
}
