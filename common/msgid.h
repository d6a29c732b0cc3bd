/* msgid.h -- message id rules for publishes (messages.md section 3).
 *
 * A publish either supplies no ids (the server assigns "<base>:<index>") or,
 * for several messages, ids "<base>:<i>" with one common base and i equal to
 * each message's position. The idempotency key of a publish is the single
 * message's id, or the common base. */
#ifndef HERALD_MSGID_H
#define HERALD_MSGID_H

#include <stddef.h>

#include "herald/errors.h"
#include "message.h"

/* Checks the client-supplied ids of a publish. On success *key is the
 * idempotency key (herald_xmalloc'd), or NULL when no message has an id.
 * Returns 0, or -40031 with err set. */
int msgid__publish_key(struct message *const *messages, size_t count,
                       char **key, herald_error *err);

/* Fills out[0..len) with random URL-safe characters and a NUL at out[len].
 * Used for server-assigned id bases and connection ids. */
void msgid__random(char *out, size_t len);

/* Assigns "<base>:<index>" ids to messages that have none. */
void msgid__assign(struct message *const *messages, size_t count,
                   const char *base);

#endif
