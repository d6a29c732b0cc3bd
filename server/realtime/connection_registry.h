/* connection_registry.h -- every realtime connection of the server by id,
 * so that a resume arriving on any worker finds the connection it names.
 *
 * The registry lock guards the registry itself and each connection's
 * state, claim and key; everything else of a connection belongs to its
 * home worker's thread. A resume claims a connection (state RT_MOVING),
 * which keeps it from expiring while it travels to the new transport. */
#ifndef HERALD_CONNECTION_REGISTRY_H
#define HERALD_CONNECTION_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "hashmap.h"
#include "herald/errors.h"

struct auth;
struct rt_conn;
struct rt_resume;

enum rt_state {
  RT_LIVE,     /* bound to a transport */
  RT_DETACHED, /* no transport; resumable until expires_at */
  RT_MOVING,   /* being handed to another worker for a resume */
};

struct connection_registry {
  uv_mutex_t lock;
  struct hashmap by_id;
};

void connection_registry__init(struct connection_registry *r);
void connection_registry__cleanup(struct connection_registry *r);

/* Gives c a fresh id (unique here) and key, and registers it as RT_LIVE. */
void connection_registry__add(struct connection_registry *r, struct rt_conn *c);

/* Registers c (RT_LIVE) under the id and key it had on another node;
 * false when that id is taken here. */
bool connection_registry__add_as(struct connection_registry *r,
                                 struct rt_conn *c, const char *id,
                                 const char *key);

/* The connection with that id, claimed as by a resume (RT_MOVING) unless
 * it is moving already; NULL if none. */
struct rt_conn *connection_registry__claim_id(struct connection_registry *r,
                                              const char *id,
                                              struct rt_resume *claim);

/* Gives c a fresh key (the old one stops working), under the lock. */
void connection_registry__rekey(struct connection_registry *r,
                                struct rt_conn *c);

/* Claims the connection named by key for resume, which must come from the
 * same app and identity. Returns it (now RT_MOVING, claim set), or NULL
 * with err: 80018 malformed key, 80008 unknown or expired, 80011
 * incompatible credentials. */
struct rt_conn *connection_registry__claim(struct connection_registry *r,
                                           const char *key,
                                           const struct auth *auth,
                                           struct rt_resume *claim,
                                           herald_error *err);

/* The id of the connection with that key, for a REST publish on its
 * behalf (the key in a message's connectionKey), by credentials of its
 * app and, if they or the message (client_id, or NULL) name a clientId,
 * of its clientId: 0 with id filled (RT_CONNECTION_ID_LEN + 1 bytes), or
 * -40006 (malformed, unknown or stale key, another app or clientId). */
int connection_registry__resolve(struct connection_registry *r,
                                 const char *key, const struct auth *auth,
                                 const char *client_id, char *id,
                                 herald_error *err);

/* Sets c's state under the lock, ending its claim: for the holder of the
 * claim only. Anyone else may be overtaken by a claim made on another
 * worker at any moment (c's home uses connection_registry__detach). */
void connection_registry__settle(struct connection_registry *r,
                                 struct rt_conn *c, enum rt_state state);

/* On c's home, c's transport is gone: RT_DETACHED, resumable until
 * expires_at (true), unless a resume claimed it meanwhile, on any worker:
 * then it stays RT_MOVING with its claim, which decides (false). One step
 * under the lock, so no claim falls between the check and the change. */
bool connection_registry__detach(struct connection_registry *r,
                                 struct rt_conn *c, int64_t expires_at);

/* Removes c (true) if it is RT_DETACHED and expired at now, or when force
 * (a CLOSE, a fatal error), but never once a resume claimed it: the claim
 * then owns the connection, which goes on under its new transport. */
bool connection_registry__remove(struct connection_registry *r,
                                 struct rt_conn *c, int64_t now, bool force);

#endif
