/* wire.h -- format-neutral reading and writing of JSON and MessagePack.
 *
 * Ably carries every body in one of two formats with the same structure.
 * The reader gives one view over both (each parsed into a msgpack-c object
 * tree), so a wire type (Message, TokenRequest, ...) is decoded by one
 * function for both formats; the only visible difference is that
 * MessagePack has binary strings. The writer writes either compact JSON text or packed MessagePack
 * through the same calls, so each wire type is encoded once too.
 *
 * Owns: a parsed document (struct wire_doc) and a writer's output. Values
 * (struct wire_value) are borrowed views valid while their document lives;
 * a document also points into the bytes it was parsed from, so those must
 * outlive it too. */
#ifndef HERALD_WIRE_H
#define HERALD_WIRE_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"

enum wire_format { WIRE_JSON, WIRE_MSGPACK };

enum wire_kind {
  WIRE_ABSENT, /* a missing map member */
  WIRE_NIL,
  WIRE_BOOL,
  WIRE_INT,
  WIRE_FLOAT,
  WIRE_STR,
  WIRE_BIN, /* MessagePack only */
  WIRE_ARRAY,
  WIRE_MAP,
};

/* A value of a parsed document. Both formats are held as msgpack-c's object
 * tree; format says which one the document was (JSON has no binary). */
struct wire_value {
  enum wire_format format;
  const msgpack_object *mp; /* NULL: absent */
};

struct wire_doc {
  enum wire_format format;
  msgpack_unpacked mp; /* JSON uses only mp.data: its tree is in json_zone */
  msgpack_zone json_zone;
  bool json_zone_live;
};

/* ---- Reading ---------------------------------------------------------- */

/* Parses one complete document. Returns 0, or -40001 with err set when the
 * bytes are not one well-formed value of that format (trailing bytes
 * included). */
int wire_doc__parse(struct wire_doc *doc, enum wire_format format,
                    const char *data, size_t len, herald_error *err);
void wire_doc__cleanup(struct wire_doc *doc);
struct wire_value wire_doc__root(const struct wire_doc *doc);

enum wire_kind wire_value__kind(struct wire_value v);
/* The member `key` of a map; kind WIRE_ABSENT when v is not a map or has
 * no such member. */
struct wire_value wire_value__get(struct wire_value map, const char *key);
/* Elements of an array, members of a map, 0 otherwise. */
size_t wire_value__count(struct wire_value v);
/* Element i of an array (i < count). */
struct wire_value wire_value__at(struct wire_value array, size_t i);
/* Member i of a map: its key (a string view) and value. */
struct wire_value wire_value__member(struct wire_value map, size_t i,
                                     const char **key, size_t *key_len);
/* The bytes of a WIRE_STR or WIRE_BIN (not NUL-terminated), NULL otherwise. */
const char *wire_value__bytes(struct wire_value v, size_t *len);
/* A WIRE_INT's value (floats with an integral value are accepted too).
 * Returns false for anything else. */
bool wire_value__int(struct wire_value v, int64_t *out);
/* A WIRE_INT's or WIRE_FLOAT's value; false for anything else. */
bool wire_value__number(struct wire_value v, double *out);
bool wire_value__bool(struct wire_value v);
/* A new jansson tree equal to v (binary strings become base64 text). NULL on
 * failure; invalid UTF-8 in a MessagePack string fails. */
json_t *wire_value__to_json(struct wire_value v);

/* ---- Writing ---------------------------------------------------------- */

#define WIRE_WRITER_DEPTH 16

struct wire_writer {
  enum wire_format format;
  struct wire_frame {
    size_t remaining; /* values still to come before it closes */
    bool is_map;
    bool has_values; /* JSON: the next member or element needs a comma */
  } stack[WIRE_WRITER_DEPTH];
  int depth;
  bool key_pending; /* JSON: a key was written, its value comes next */
  bool failed;
  size_t roots; /* top-level values written: a document has exactly one */
  /* The bytes written so far: JSON text, or MessagePack the packer wrote. */
  char *text;
  size_t text_len, text_cap;
  msgpack_packer packer;
};

void wire_writer__init(struct wire_writer *w, enum wire_format format);
void wire_writer__cleanup(struct wire_writer *w);

/* Containers: the element count is declared up front (MessagePack needs it);
 * a container closes itself once that many values were written. */
void wire_writer__map(struct wire_writer *w, size_t members);
void wire_writer__array(struct wire_writer *w, size_t elements);
/* A map key; the next value written is its value. */
void wire_writer__key(struct wire_writer *w, const char *key);

void wire_writer__str(struct wire_writer *w, const char *s);
void wire_writer__strn(struct wire_writer *w, const char *s, size_t len);
/* Binary: a bin in MessagePack; in JSON, base64 text. */
void wire_writer__bin(struct wire_writer *w, const void *bytes, size_t len);
void wire_writer__int(struct wire_writer *w, int64_t value);
/* A number: an integer when it is integral, else a float. */
void wire_writer__number(struct wire_writer *w, double value);
void wire_writer__bool(struct wire_writer *w, bool value);
void wire_writer__nil(struct wire_writer *w);
/* A jansson value, converted for MessagePack. */
void wire_writer__json(struct wire_writer *w, const json_t *value);
/* The complete output of another writer of the same format, as one value. */
void wire_writer__embed(struct wire_writer *w, const struct wire_writer *inner);
/* One value already encoded in w's format (bytes[0..len)), as it is. */
void wire_writer__encoded(struct wire_writer *w, const char *bytes,
                          size_t len);

/* Key + value shorthands. */
void wire_writer__kv_str(struct wire_writer *w, const char *key, const char *s);
void wire_writer__kv_int(struct wire_writer *w, const char *key, int64_t v);
void wire_writer__kv_bool(struct wire_writer *w, const char *key, bool v);

/* An Ably ErrorInfo map {message, code, statusCode, href}: the one shape
 * errors take in REST bodies, batch results and ProtocolMessages. */
void wire_writer__error_info(struct wire_writer *w, const herald_error *err);

/* The encoded bytes, written as one document: JSON text (compact) or packed
 * MessagePack. Returns a buffer allocated with herald_xmalloc, or NULL when
 * a write failed (invalid UTF-8, a misuse of the calls). The writer is done after it:
 * nothing more can be written to it or embedded from it. */
char *wire_writer__finish(struct wire_writer *w, size_t *len);

/* The format named by a content type ("application/json",
 * "application/x-msgpack", with or without parameters), or -1. */
int wire_format__from_content_type(const char *type, size_t len);
const char *wire_format__content_type(enum wire_format format);

#endif
