/* auth.c -- request authentication and authorisation (see auth.h). */
#include "auth.h"

#include <string.h>

#include <openssl/crypto.h>

#include "alloc.h"
#include "base64.h"
#include "capability.h"
#include "http.h"

/* Splits "keyName:secret" and checks it against the registry. */
static int authenticate_key(struct http_request *req, struct apps *apps,
                            const char *key_string, size_t len,
                            herald_error *err) {
  const char *colon = memchr(key_string, ':', len);
  if (!colon || colon == key_string)
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIAL,
                            "Invalid key: expected keyName:keySecret");
  size_t name_len = (size_t)(colon - key_string);
  const char *secret = colon + 1;
  size_t secret_len = len - name_len - 1;
  struct app *app;
  const struct key *key;
  int rc = apps__find_key(apps, key_string, name_len, &app, &key, err);
  if (rc) return rc;
  if (strlen(key->secret) != secret_len ||
      CRYPTO_memcmp(key->secret, secret, secret_len) != 0) {
    apps__release(app);
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                            "Invalid credentials: wrong key secret");
  }
  req->auth.app = app;
  req->auth.key = key;
  req->auth.capability = key->capability;
  req->auth.any_client_id = true;
  return 0;
}

static int authenticate_basic(struct http_request *req, struct apps *apps,
                              const char *encoded, herald_error *err) {
  size_t len;
  unsigned char *decoded = base64__decode(encoded, strlen(encoded), &len);
  if (!decoded)
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIAL,
                            "Invalid Basic credentials: not base64");
  int rc = authenticate_key(req, apps, (const char *)decoded, len, err);
  herald_free(decoded);
  return rc;
}

/* X-Ably-ClientId: base64 of the UTF-8 clientId; makes a Basic request
 * identified (auth.md 10). */
static int apply_client_id_header(struct http_request *req, herald_error *err) {
  const char *header = http__header(req, "x-ably-clientid");
  if (!header) return 0;
  size_t len;
  unsigned char *decoded = base64__decode(header, strlen(header), &len);
  if (!decoded || len == 0 || memchr(decoded, 0, len) ||
      (len == 1 && decoded[0] == '*')) {
    herald_free(decoded);
    return herald_error_set(err, HERALD_E_INVALID_CLIENT_ID,
                            "Invalid X-Ably-ClientId header");
  }
  req->auth.client_id = arena__strndup(&req->arena, (char *)decoded, len);
  req->auth.any_client_id = false;
  herald_free(decoded);
  return 0;
}

int auth__authenticate(struct http_request *req, struct apps *apps,
                       herald_error *err) {
  const char *authorization = http__header(req, "authorization");
  const char *key_param = http__param(req, "key");
  int rc;
  if (authorization && !strncasecmp(authorization, "Basic ", 6)) {
    rc = authenticate_basic(req, apps, authorization + 6, err);
  } else if (authorization && !strncasecmp(authorization, "Bearer ", 7)) {
    return herald_error_set(err, HERALD_E_TOKEN_ERROR,
                            "Token authentication is not supported yet");
  } else if (authorization) {
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIAL,
                            "Unsupported Authorization scheme");
  } else if (key_param) {
    rc = authenticate_key(req, apps, key_param, strlen(key_param), err);
  } else {
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                            "No authentication information provided");
  }
  if (!rc) rc = apply_client_id_header(req, err);
  return rc;
}

void auth__release(struct auth *a) {
  apps__release(a->app);
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
