/* message.h -- the Ably Message (messages.md section 1).
 *
 * A message is decoded from a publish, stamped once by its channel's owner
 * (id, timestamp, serial, connectionId) and is immutable from then on, so it
 * is reference counted and shared by the store, history replies and every
 * subscriber. */
#ifndef HERALD_MESSAGE_H
#define HERALD_MESSAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"
#include "payload.h"
#include "wire.h"

/* Message actions (TM5). */
enum message_action {
  MESSAGE_CREATE = 0,
  MESSAGE_UPDATE = 1,
  MESSAGE_DELETE = 2,
  MESSAGE_META = 3,
  MESSAGE_SUMMARY = 4,
  MESSAGE_APPEND = 5,
};

/* What makes a message a version of another (mutable messages): set on
 * every message whose action is update, delete, append or summary. Such a
 * message's serial is its own position in the channel (the wire's
 * version.serial) and its timestamp when it was made (version.timestamp);
 * on the wire its "serial" and "timestamp" are those of the message it
 * changes. */
struct message_version {
  char *of;        /* the serial of the message this is a version of */
  int64_t created; /* that message's timestamp */
  /* The operation's own details (MessageOperation). */
  char *client_id;
  char *description;
  json_t *metadata; /* an object of strings, or NULL */
};

struct annotation;

struct message {
  atomic_int refs;
  char *id;
  char *name;
  char *client_id;
  char *connection_id;
  char *serial;
  struct payload payload;
  json_t *extras; /* a JSON object, or NULL */
  int64_t timestamp;
  int action; /* enum message_action, or a presence action */
  struct message_version *version; /* NULL: the message as created */
  /* An annotation (annotation.h) travels as a message with this set. */
  struct annotation *annotation;
  /* A message's annotations summary (annotation_summary.h), written as
   * "annotations": {"summary": ...}; NULL: none yet. summary_serial is the
   * serial of the last annotation it counts (not on the wire): a store
   * changes the summary only while it is still that one. */
  json_t *summary;
  char *summary_serial;
};

/* PresenceMessage actions (realtime.md 2.7): a presence item is a struct
 * message whose action is one of these and whose name is unused. */
enum presence_action {
  PRESENCE_ABSENT = 0,
  PRESENCE_PRESENT = 1,
  PRESENCE_ENTER = 2,
  PRESENCE_LEAVE = 3,
  PRESENCE_UPDATE = 4,
};

/* A new message with one reference, all fields empty. Never NULL. */
struct message *message__new(void);
struct message *message__ref(struct message *m);
void message__unref(struct message *m);

/* Decodes one Message map (messages.md section 2 steps 2 and 4): string
 * fields must be strings, extras an object, data canonicalised, and a
 * change of another message read as message_version.h says. Unknown
 * fields are ignored. Returns 0 with *out set, or a negative Ably code. */
int message__decode(struct wire_value v, struct message **out,
                    herald_error *err);

/* Decodes the members a client sends of a Message or PresenceMessage
 * map (message__decode without an action or what it changes): for stored
 * items, whose action the store reads itself. */
int message__decode_stored(struct wire_value v, struct message **out,
                           herald_error *err);

/* Reads map's optional string member key into *out (herald_xmalloc'd;
 * left alone when absent or nil): 0, or -40001 when it is not a string
 * without NUL. */
int message__read_string(struct wire_value map, const char *key, char **out,
                         herald_error *err);

typedef int (*message_decoder)(struct wire_value v, struct message **out,
                               herald_error *err);

/* message__decode_list with another decoder of each item (annotations). */
int message__decode_list_of(struct wire_value body, size_t max_count,
                            message_decoder decode, struct message ***out,
                            size_t *count, herald_error *err);

/* Decodes a publish body: one Message or an array of them (at least one, at
 * most max_count, else -40034). On success *out is a herald_xmalloc'd array
 * of *count messages. */
int message__decode_list(struct wire_value body, size_t max_count,
                         struct message ***out, size_t *count,
                         herald_error *err);
void message__free_list(struct message **list, size_t count);

/* The size of a message as TM6 counts it: name + clientId + extras JSON
 * text + data bytes. */
size_t message__size(const struct message *m);

/* Writes the message as a map of its present fields. */
void message__write(const struct message *m, struct wire_writer *w);

/* Writes a message as a client publishes it (libherald): its present
 * fields, without action, and timestamp only when set. */
void message__write_publish(const struct message *m, struct wire_writer *w);

/* Decodes one PresenceMessage map a client sends: as message__decode, plus
 * an integer action that must be ENTER, LEAVE or UPDATE (else -40000). */
int presence_message__decode(struct wire_value v, struct message **out,
                             herald_error *err);

/* Writes a PresenceMessage: action, id, clientId, connectionId, data,
 * encoding, extras and timestamp (no name, no serial). */
void presence_message__write(const struct message *m, struct wire_writer *w);

/* Writes m as an event stream carries it (realtime.md 8.3): as
 * message__write (with presence, as presence_message__write) plus a
 * "channel" member. */
void message__write_in_channel(const struct message *m, bool presence,
                               const char *channel, struct wire_writer *w);

/* A new message (one reference) equal to m, sharing nothing with it. */
struct message *message__copy(const struct message *m);

/* A new message (one reference) with m's id, clientId, connectionId,
 * payload, extras and timestamp, and the given action. Nothing is shared
 * with m, so the copy may live on another thread. */
struct message *presence_message__copy(const struct message *m, int action);

#endif
