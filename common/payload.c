/* payload.c -- data/encoding canonicalisation (see payload.h). */
#include "payload.h"

#include <string.h>

#include "alloc.h"
#include "base64.h"

static void set_owned(struct payload *p, enum payload_type type, char *data,
                      size_t len) {
  p->type = type;
  p->data = data;
  p->len = len;
}

/* Appends "/suffix" to the current encoding (or sets it to "suffix"). */
static void push_encoding(struct payload *p, const char *suffix) {
  size_t old_len = p->encoding ? strlen(p->encoding) : 0;
  size_t suffix_len = strlen(suffix);
  char *enc = herald_xmalloc(old_len + suffix_len + 2);
  if (old_len) {
    memcpy(enc, p->encoding, old_len);
    enc[old_len++] = '/';
  }
  memcpy(enc + old_len, suffix, suffix_len + 1);
  herald_free(p->encoding);
  p->encoding = enc;
}

/* A string whose encoding ends with base64 is stored as the decoded bytes
 * with that step removed; text that does not decode is kept verbatim. */
static void decode_string(struct payload *p, const char *s, size_t len) {
  size_t enc_len = p->encoding ? strlen(p->encoding) : 0;
  const size_t b64 = sizeof "base64" - 1;
  bool ends_base64 =
      enc_len >= b64 && strcmp(p->encoding + enc_len - b64, "base64") == 0 &&
      (enc_len == b64 || p->encoding[enc_len - b64 - 1] == '/');
  if (ends_base64) {
    size_t bytes_len;
    unsigned char *bytes = base64__decode(s, len, &bytes_len);
    if (bytes) {
      size_t keep = enc_len == b64 ? 0 : enc_len - b64 - 1;
      if (keep) p->encoding[keep] = '\0';
      else {
        herald_free(p->encoding);
        p->encoding = NULL;
      }
      set_owned(p, PAYLOAD_BINARY, (char *)bytes, bytes_len);
      return;
    }
  }
  set_owned(p, PAYLOAD_STRING, herald_xstrndup(s, len), len);
}

/* A JSON object or array given as data is stored as its compact text with
 * the json step added. */
int payload__set_json(struct payload *p, const json_t *tree,
                      herald_error *err) {
  char *text = tree ? json_dumps(tree, JSON_COMPACT) : NULL;
  if (!text)
    return herald_error_set(err, HERALD_E_INVALID_DATA,
                            "Unable to encode message data");
  set_owned(p, PAYLOAD_STRING, herald_xstrdup(text), strlen(text));
  free(text); /* from jansson's allocator */
  push_encoding(p, "json");
  return 0;
}

static int decode_structured(struct payload *p, struct wire_value data,
                             herald_error *err) {
  json_t *tree = wire_value__to_json(data);
  int rc = payload__set_json(p, tree, err);
  json_decref(tree);
  return rc;
}

int payload__decode(struct wire_value map, struct payload *out,
                    herald_error *err) {
  memset(out, 0, sizeof *out);
  struct wire_value enc = wire_value__get(map, "encoding");
  enum wire_kind enc_kind = wire_value__kind(enc);
  if (enc_kind == WIRE_STR) {
    size_t len;
    const char *s = wire_value__bytes(enc, &len);
    if (memchr(s, '\0', len))
      return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                              "Invalid message encoding: contains NUL");
    if (len) out->encoding = herald_xstrndup(s, len);
  } else if (enc_kind != WIRE_ABSENT && enc_kind != WIRE_NIL) {
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid message encoding: must be a string");
  }
  struct wire_value data = wire_value__get(map, "data");
  size_t len;
  const char *bytes;
  int rc = 0;
  switch (wire_value__kind(data)) {
  case WIRE_ABSENT:
  case WIRE_NIL: break;
  case WIRE_STR:
    bytes = wire_value__bytes(data, &len);
    decode_string(out, bytes, len);
    break;
  case WIRE_BIN:
    bytes = wire_value__bytes(data, &len);
    set_owned(out, PAYLOAD_BINARY, herald_xstrndup(bytes, len), len);
    break;
  case WIRE_MAP:
  case WIRE_ARRAY: rc = decode_structured(out, data, err); break;
  default:
    rc = herald_error_set(err, HERALD_E_INVALID_DATA,
                          "Invalid message data: unsupported data type");
  }
  if (rc) payload__cleanup(out);
  return rc;
}

size_t payload__member_count(const struct payload *p, enum wire_format format) {
  bool base64_added = p->type == PAYLOAD_BINARY && format == WIRE_JSON;
  return (p->type != PAYLOAD_NONE) + (p->encoding || base64_added ? 1 : 0);
}

/* JSON carries bytes as base64 text, so the encoding gains a base64 step. */
static void write_json_binary(const struct payload *p, struct wire_writer *w) {
  wire_writer__key(w, "data");
  wire_writer__bin(w, p->data, p->len);
  wire_writer__key(w, "encoding");
  if (!p->encoding) {
    wire_writer__str(w, "base64");
    return;
  }
  size_t len = strlen(p->encoding);
  char *enc = herald_xmalloc(len + sizeof "/base64");
  memcpy(enc, p->encoding, len);
  memcpy(enc + len, "/base64", sizeof "/base64");
  wire_writer__str(w, enc);
  herald_free(enc);
}

void payload__write(const struct payload *p, struct wire_writer *w) {
  if (p->type == PAYLOAD_BINARY && w->format == WIRE_JSON) {
    write_json_binary(p, w);
    return;
  }
  if (p->type == PAYLOAD_STRING) {
    wire_writer__key(w, "data");
    wire_writer__strn(w, p->data, p->len);
  } else if (p->type == PAYLOAD_BINARY) {
    wire_writer__key(w, "data");
    wire_writer__bin(w, p->data, p->len);
  }
  if (p->encoding) wire_writer__kv_str(w, "encoding", p->encoding);
}

void payload__copy(struct payload *dst, const struct payload *src) {
  dst->type = src->type;
  dst->len = src->len;
  dst->data = src->data ? herald_xstrndup(src->data, src->len) : NULL;
  dst->encoding = src->encoding ? herald_xstrdup(src->encoding) : NULL;
}

void payload__cleanup(struct payload *p) {
  herald_free(p->data);
  herald_free(p->encoding);
  memset(p, 0, sizeof *p);
}
