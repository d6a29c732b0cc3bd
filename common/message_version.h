/* message_version.h -- mutable messages: a change (update, delete,
 * append) as a client sends it, and what it makes of a message.
 *
 * A change is a struct message whose action is MESSAGE_UPDATE,
 * MESSAGE_DELETE or MESSAGE_APPEND and whose version (message.h) names
 * the message it changes. Applied to that message as it is now, an update
 * or a delete replaces each of name, data and extras the change carries
 * and keeps the others (Ably's mixin); an append adds its data to the
 * end. The result keeps the message's id, clientId, connectionId,
 * annotations summary and creation time. */
#ifndef HERALD_MESSAGE_VERSION_H
#define HERALD_MESSAGE_VERSION_H

#include "herald/errors.h"
#include "message.h"
#include "wire.h"

/* Reads the change members of message map v into m: an integer action
 * (absent or 0: m is a new message), and for a change the serial of the
 * message it changes and the operation ("version": clientId, description,
 * metadata). 0, or -40003 (no serial, an action a client may not send, a
 * malformed operation). */
int message_version__decode(struct wire_value v, struct message *m,
                            herald_error *err);

/* Reads an operation's members of map op (clientId, description, and
 * metadata: an object of strings) into v: 0, or -40003. */
int message_version__decode_operation(struct wire_value op,
                                      struct message_version *v,
                                      herald_error *err);

/* The stored form of a message (message__write's, perhaps before a
 * shared engine stamped it): when map v has a "version", m's version of
 * the message "serial" created at "timestamp", with the operation's
 * clientId, description and metadata; m's own serial and timestamp are the
 * store's to set. 0, or -40003 (m->version may then be set). */
int message_version__decode_stored(struct wire_value v, struct message *m,
                                   herald_error *err);

/* Whether m is a change of another message. */
bool message_version__is_change(const struct message *m);

/* The message `now` becomes through `change` (stamped: its serial and
 * timestamp are the new version's; unstamped when a shared engine stamps
 * it as it stores it), as a new message in *out. 0, or
 * -40003 for an append whose data cannot be joined to now's (another type
 * or encoding, or JSON or encrypted data). */
int message_version__apply(const struct message *now,
                           const struct message *change, struct message **out,
                           herald_error *err);

/* A copy sharing nothing with v, or NULL for NULL. */
struct message_version *message_version__copy(const struct message_version *v);
void message_version__free(struct message_version *v);

/* v as a JSON object {of, created, clientId, description, metadata}
 * (for stores), and back: NULL for text that is not one. */
json_t *message_version__to_json(const struct message_version *v);
struct message_version *message_version__from_json(const json_t *j);

/* The wire's "version" member of a changed message m: {serial, timestamp,
 * clientId, description, metadata} (no serial while m is unstamped). */
void message_version__write(const struct message *m, struct wire_writer *w);

#endif
