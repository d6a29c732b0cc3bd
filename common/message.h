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
  int action; /* 0 MESSAGE_CREATE for publishes */
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
 * fields must be strings, extras an object, data canonicalised. Unknown
 * fields are ignored. Returns 0 with *out set, or a negative Ably code. */
int message__decode(struct wire_value v, struct message **out,
                    herald_error *err);

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

/* A new message (one reference) with m's id, clientId, connectionId,
 * payload, extras and timestamp, and the given action. Nothing is shared
 * with m, so the copy may live on another thread. */
struct message *presence_message__copy(const struct message *m, int action);

#endif
