/* protocol_message.h -- Ably's realtime ProtocolMessage (realtime.md
 * sections 2.1-2.5): decoding what a client sends and encoding what the
 * server sends, over JSON and MessagePack alike (wire.h).
 *
 * Decoding is liberal as realtime.md 1.3 requires: null is absent, unknown
 * fields are ignored, integers of any width are accepted. Encoding omits
 * absent fields. Messages inside are struct message (message.h), shared by
 * reference, so a fanned-out MESSAGE is encoded from the same objects
 * history holds; so are presence items (PresenceMessages, realtime.md
 * 2.7). */
#ifndef HERALD_PROTOCOL_MESSAGE_H
#define HERALD_PROTOCOL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"
#include "message.h"
#include "wire.h"

enum pm_action {
  PM_HEARTBEAT = 0,
  PM_ACK = 1,
  PM_NACK = 2,
  PM_CONNECT = 3,
  PM_CONNECTED = 4,
  PM_DISCONNECT = 5,
  PM_DISCONNECTED = 6,
  PM_CLOSE = 7,
  PM_CLOSED = 8,
  PM_ERROR = 9,
  PM_ATTACH = 10,
  PM_ATTACHED = 11,
  PM_DETACH = 12,
  PM_DETACHED = 13,
  PM_PRESENCE = 14,
  PM_MESSAGE = 15,
  PM_SYNC = 16,
  PM_AUTH = 17,
  PM_ACTIVATE = 18,
  PM_OBJECT = 19,
  PM_OBJECT_SYNC = 20,
  PM_ANNOTATION = 21,
};

/* Flag bits (realtime.md 2.3). */
#define PM_FLAG_HAS_PRESENCE 0x1u
#define PM_FLAG_HAS_BACKLOG 0x2u
#define PM_FLAG_RESUMED 0x4u
#define PM_FLAG_MODE_PRESENCE 0x10000u
#define PM_FLAG_MODE_PUBLISH 0x20000u
#define PM_FLAG_MODE_SUBSCRIBE 0x40000u
#define PM_FLAG_MODE_PRESENCE_SUBSCRIBE 0x80000u
#define PM_FLAG_MODE_ANNOTATION_PUBLISH 0x200000u
#define PM_FLAG_MODE_ANNOTATION_SUBSCRIBE 0x400000u
#define PM_FLAG_MODE_OBJECT_SUBSCRIBE 0x1000000u
#define PM_FLAG_MODE_OBJECT_PUBLISH 0x2000000u
#define PM_FLAG_MODES 0x36F0000u

/* connectionDetails of CONNECTED (realtime.md 2.5). */
struct connection_details {
  const char *client_id; /* NULL: anonymous (sent as absent) */
  const char *connection_key;
  int64_t connection_state_ttl;
  int64_t max_idle_interval;
  int64_t max_message_size;
  int64_t max_frame_size;
  int64_t max_inbound_rate;
  int64_t max_outbound_rate;
  const char *server_id;
  const char *site_code;
};

/* One entry of an ACK's res: the serials of one acknowledged publish
 * (NULL entries are written as null). */
struct publish_result {
  const char *const *serials;
  size_t count;
};

struct protocol_message {
  int action;
  uint32_t flags;
  /* Text fields: NULL when absent. Decoded ones are herald_xmalloc'd and
   * freed by protocol_message__cleanup; for encoding they are borrowed. */
  char *id;
  char *channel;
  char *channel_serial;
  char *connection_id;
  char *connection_key; /* the legacy top-level copy, S->C only */
  char *access_token;   /* AUTH: auth.accessToken */
  bool has_msg_serial;
  int64_t msg_serial;
  int64_t count;     /* ACK/NACK; 0: absent */
  int64_t timestamp; /* 0: absent */
  bool has_error;
  herald_error error;
  struct message **messages; /* references */
  size_t n_messages;
  struct message **presence; /* references; a SYNC always writes the array */
  size_t n_presence;
  struct message **annotations; /* references (annotation.h) */
  size_t n_annotations;
  /* params: n_params pairs of key/value text. */
  char **param_keys, **param_values;
  size_t n_params;
  /* Encoding only. */
  const struct connection_details *connection_details;
  const struct publish_result *res;
  size_t n_res;
};

/* Decodes one ProtocolMessage map. Messages go through message__decode,
 * presence items through presence_message__decode, annotations through
 * annotation__decode (up to max_messages of each). Returns 0, or a negative code with err
 * set: -40000 not a map or no integer action, wrongly typed fields
 * (strings that are not strings, params that are not a map of strings,
 * messages not an array); message errors as message__decode gives them;
 * -40034 for more than max_messages messages. On failure nothing stays
 * allocated, but action and msgSerial keep what was decoded of them (0 and
 * has_msg_serial false when not), so a bad publish can still be NACKed. */
int protocol_message__decode(struct wire_value v, size_t max_messages,
                             struct protocol_message *out, herald_error *err);

/* Frees what decode allocated (message references are released). */
void protocol_message__cleanup(struct protocol_message *pm);

/* Writes pm as one map, present fields only (action always). */
void protocol_message__write(const struct protocol_message *pm,
                             struct wire_writer *w);

#endif
