/* annotation.h -- Ably's Annotation (message annotations): decoding what
 * a client publishes and writing what subscribers and GET .../annotations
 * receive, over JSON and MessagePack alike (wire.h).
 *
 * An annotation travels as a struct message (message.h) whose `annotation`
 * member holds what only annotations have (type, messageSerial, count), so
 * the publish pipeline, fan-out and the stores carry it as they carry
 * messages. Its action is ANNOTATION_CREATE or ANNOTATION_DELETE; its
 * serial, id, timestamp and connectionId are its own; name, clientId,
 * data, encoding and extras are the message's members of the same names.
 * The server never reads data: only type, name, clientId and count make a
 * summary (annotation_summary.h). */
#ifndef HERALD_ANNOTATION_H
#define HERALD_ANNOTATION_H

#include <stdbool.h>
#include <stdint.h>

#include "herald/errors.h"
#include "message.h"
#include "wire.h"

/* Annotation actions (the wire's integers). */
enum annotation_action { ANNOTATION_CREATE = 0, ANNOTATION_DELETE = 1 };

/* How annotations of a type are summarised: the <method> of its
 * "<namespace>:<method>.v1". */
enum annotation_method {
  ANNOTATION_TOTAL,
  ANNOTATION_FLAG,
  ANNOTATION_DISTINCT,
  ANNOTATION_UNIQUE,
  ANNOTATION_MULTIPLE,
  ANNOTATION_METHOD_INVALID = -1,
};

struct annotation {
  char *type;           /* "<namespace>:<method>.v1" */
  char *message_serial; /* of the message annotated */
  int64_t count;        /* multiple.v1's count (1 when not given) */
  bool has_count;
};

/* The method of type, or ANNOTATION_METHOD_INVALID unless type is a
 * non-empty namespace, ':', and one of the five methods with ".v1". */
enum annotation_method annotation__method(const char *type);

/* Decodes one Annotation map a client sends (action 0 or 1, default 0;
 * messageSerial and a valid type required; count a positive integer)
 * into a new message with its annotation set. 0 with *out set, or a
 * negative Ably code: -40001 not a map or wrongly typed members, -40003
 * a missing messageSerial, a bad type, action or count. */
int annotation__decode(struct wire_value v, struct message **out,
                       herald_error *err);

/* Writes annotation m as an Annotation map (its members that are set). */
void annotation__write(const struct message *m, struct wire_writer *w);

/* A copy sharing nothing with a, or NULL for NULL. */
struct annotation *annotation__copy(const struct annotation *a);
void annotation__free(struct annotation *a);

#endif
