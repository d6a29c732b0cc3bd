/* auth.h -- who is making a request and what they may do.
 *
 * Resolves the credentials of a request (Basic header, ?key=) to an app,
 * key, capability and clientId, and answers the per-operation checks of
 * rest.md section 9 and auth.md sections 9-11. Token credentials join here
 * in the token issue. */
#ifndef HERALD_AUTH_H
#define HERALD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "apps.h"
#include "herald/errors.h"

struct http_request;

struct auth {
  struct app *app; /* retained; NULL when unauthenticated */
  const struct key *key;
  const struct capability *capability;
  const char *client_id; /* the request's identity, or NULL (request arena) */
  bool any_client_id;    /* may publish as any clientId */
};

/* Authenticates req against apps, filling req->auth. Returns 0, or a
 * negative code with err set: no credentials 40101, unreadable 40005,
 * unknown app 40400 (404), unknown key 40400 (401), wrong secret 40101,
 * bad X-Ably-ClientId 40012. */
int auth__authenticate(struct http_request *req, struct apps *apps,
                       herald_error *err);

void auth__release(struct auth *a);

/* Checks `op` (CAPABILITY_OP_*) on channel name[0..len). 0 or -40160. */
int auth__check(const struct auth *a, const char *name, size_t len,
                unsigned op, herald_error *err);

/* Applies the publish clientId rule (auth.md section 10) to a message's
 * clientId: fills it from the identity when absent (*client_id set to a
 * new herald_malloc'd copy), keeps it when permitted, else -40012. */
int auth__publish_client_id(const struct auth *a, char **client_id,
                            herald_error *err);

#endif
