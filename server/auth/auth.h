/* auth.h -- who is making a request and what they may do.
 *
 * Resolves credentials to an app, key, capability and clientId, and
 * answers the per-operation checks of rest.md section 9 and auth.md
 * sections 9-11. The credential functions are transport-neutral (REST
 * requests and realtime connections share them); auth__authenticate is
 * the HTTP front: Authorization header, ?key= / ?access_token= /
 * ?accessToken=, X-Ably-ClientId. Token and JWT validation: token_auth.h. */
#ifndef HERALD_AUTH_H
#define HERALD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/apps.h"
#include "herald/errors.h"

struct http_request;

struct auth {
  struct app *app; /* retained; NULL when unauthenticated */
  const struct key *key;
  const struct capability *capability; /* the key's, or owned_capability */
  struct capability *owned_capability; /* a token's; freed on release */
  char *client_id;    /* the identity, or NULL (herald_xmalloc'd) */
  bool any_client_id; /* may act as any clientId: Basic, or a "*" token */
  bool via_token;     /* authenticated by an Ably token or JWT */
  int64_t token_issued, token_expires; /* ms, when via_token */
  /* A revocable key's token: its own clientId claim ("*" included) and JWT
   * revocation key, or NULL: what a revocation names (token_auth__revoked). */
  char *token_client_id, *revocation_key;
};

/* Authenticates with an API key "keyName:secret". 0, or -40005
 * unreadable, -40400 unknown app (404) or key (401), -40101 wrong secret. */
int auth__with_key(struct auth *a, struct apps *apps, const char *key,
                   size_t len, herald_error *err);

/* Makes the authenticated identity client_id (X-Ably-ClientId, a realtime
 * clientId param): allowed for a Basic credential or when it is the
 * token's clientId or the token is a wildcard. 0, -40012 invalid, -40102
 * conflicting with the credentials. */
int auth__assume_client_id(struct auth *a, const char *client_id,
                           herald_error *err);

/* Authenticates an HTTP request, filling *a; its connection then stops
 * counting as unauthenticated (http__authenticated). No credentials:
 * 40101. */
int auth__authenticate(struct http_request *req, struct apps *apps,
                       struct auth *a, herald_error *err);

void auth__release(struct auth *a);

/* Checks `op` (CAPABILITY_OP_*) on channel name[0..len). 0 or -40160. */
int auth__check(const struct auth *a, const char *name, size_t len,
                unsigned op, herald_error *err);

/* Applies the publish clientId rule (auth.md section 10) to a message's
 * clientId: fills it from the identity when absent (*client_id set to a
 * new herald_xmalloc'd copy), keeps it when permitted, else -40012. */
int auth__publish_client_id(const struct auth *a, char **client_id,
                            herald_error *err);

#endif
