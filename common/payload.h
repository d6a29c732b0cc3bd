/* payload.h -- the data + encoding pair of a Message or PresenceMessage, and
 * its canonicalisation between JSON and MessagePack (messages.md 4.3).
 *
 * Stored form: data is a string or bytes; encoding lists the transforms
 * applied, minus any outermost base64 (bytes are stored decoded). Output
 * adds base64 back for JSON and sends bytes as bin for MessagePack. The
 * server never interprets other transforms (json, utf-8, cipher+...). */
#ifndef HERALD_PAYLOAD_H
#define HERALD_PAYLOAD_H

#include <stddef.h>

#include "herald/errors.h"
#include "wire.h"

enum payload_type { PAYLOAD_NONE, PAYLOAD_STRING, PAYLOAD_BINARY };

struct payload {
  enum payload_type type;
  char *data; /* herald_xmalloc'd, NUL-terminated for convenience */
  size_t len;
  char *encoding; /* NULL when absent */
};

/* Reads `data` and `encoding` from a message map into *out (zeroed first).
 * Returns 0, or -40013 (data of an unsupported type) / -40001 (encoding not
 * a string) with err set. */
int payload__decode(struct wire_value map, struct payload *out,
                    herald_error *err);

/* Sets *p (zeroed, or as decoded so far) to tree, a JSON object or array,
 * as ably-js sends one: its compact text with the json step added to the
 * encoding. 0, or -40013. */
int payload__set_json(struct payload *p, const json_t *tree,
                      herald_error *err);

/* Number of map members payload__write will add (0, 1 or 2) in format. */
size_t payload__member_count(const struct payload *p, enum wire_format format);

/* Writes the "data" and "encoding" members for the writer's format. */
void payload__write(const struct payload *p, struct wire_writer *w);

/* *dst becomes a copy of src that shares nothing with it. */
void payload__copy(struct payload *dst, const struct payload *src);

void payload__cleanup(struct payload *p);

#endif
