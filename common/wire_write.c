/* wire_write.c -- the writing half of wire.h: one call sequence writes
 * compact JSON text (byte for byte what jansson's JSON_COMPACT dump gives)
 * or packed MessagePack. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "decimal.h"
#include "json_string.h"
#include "utf8.h"
#include "wire.h"

/* ---- The bytes written ---------------------------------------------------- */

/* Room for n more bytes. */
static void text_reserve(struct wire_writer *w, size_t n) {
  if (w->text_len + n <= w->text_cap) return;
  size_t cap = w->text_cap ? w->text_cap : 256;
  while (cap < w->text_len + n) cap *= 2;
  w->text = herald_xrealloc(w->text, cap);
  w->text_cap = cap;
}

static void text_put(struct wire_writer *w, const char *s, size_t n) {
  text_reserve(w, n);
  memcpy(w->text + w->text_len, s, n);
  w->text_len += n;
}

/* msgpack-c's packer writes into the same buffer. */
static int pack_write(void *data, const char *buf, size_t len) {
  text_put(data, buf, len);
  return 0;
}

void wire_writer__init(struct wire_writer *w, enum wire_format format) {
  memset(w, 0, sizeof *w);
  w->format = format;
  if (format == WIRE_MSGPACK) msgpack_packer_init(&w->packer, w, pack_write);
}

void wire_writer__cleanup(struct wire_writer *w) {
  herald_free(w->text);
  memset(w, 0, sizeof *w);
}

/* ---- JSON text ----------------------------------------------------------- */

static void text_put_char(struct wire_writer *w, char c) { text_put(w, &c, 1); }

/* The escape of a character JSON strings may not hold as is. */
static void text_put_escape(struct wire_writer *w, unsigned char c) {
  static const char hex[] = "0123456789ABCDEF";
  switch (c) {
  case '"': text_put(w, "\\\"", 2); return;
  case '\\': text_put(w, "\\\\", 2); return;
  case '\b': text_put(w, "\\b", 2); return;
  case '\f': text_put(w, "\\f", 2); return;
  case '\n': text_put(w, "\\n", 2); return;
  case '\r': text_put(w, "\\r", 2); return;
  case '\t': text_put(w, "\\t", 2); return;
  default: {
    char seq[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    text_put(w, seq, sizeof seq);
  }
  }
}

/* A string: UTF-8 is kept as is, quotes, backslashes and control
 * characters are escaped; invalid UTF-8 fails the writer. */
static void text_put_string(struct wire_writer *w, const char *s, size_t len) {
  bool ascii;
  size_t plain = json_string__plain_len(s, len, &ascii);
  if (!(plain == len && ascii) && !utf8__valid(s, len)) {
    w->failed = true;
    return;
  }
  if (plain == len) { /* the usual case: nothing to escape, one copy */
    text_reserve(w, len + 2);
    char *out = w->text + w->text_len;
    out[0] = '"';
    memcpy(out + 1, s, len);
    out[len + 1] = '"';
    w->text_len += len + 2;
    return;
  }
  text_put_char(w, '"');
  for (size_t i = 0; i < len; i++) {
    plain = json_string__plain_len(s + i, len - i, &ascii);
    text_put(w, s + i, plain);
    i += plain;
    if (i < len) text_put_escape(w, (unsigned char)s[i]);
  }
  text_put_char(w, '"');
}

static void text_put_int(struct wire_writer *w, int64_t value) {
  char text[1 + DECIMAL_MAX];
  size_t sign = value < 0;
  text[0] = '-';
  uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
  text_put(w, text, sign + decimal__write(text + sign, magnitude, 1));
}

/* ---- Structure ------------------------------------------------------------ */

/* Before a value: in JSON, the comma before an array element; a map member's
 * value needs its key first. */
static void begin_value(struct wire_writer *w) {
  if (w->format != WIRE_JSON) return;
  if (w->depth == 0) return;
  struct wire_frame *top = &w->stack[w->depth - 1];
  if (top->is_map) {
    if (!w->key_pending) w->failed = true;
    w->key_pending = false;
    return;
  }
  if (top->has_values) text_put_char(w, ',');
  top->has_values = true;
}

/* Counts a value (a container counts when it opens) where it was placed. */
static void count_value(struct wire_writer *w) {
  if (w->depth > 0) w->stack[w->depth - 1].remaining--;
  else if (w->roots++ > 0) w->failed = true; /* a second document */
}

/* Closes every container whose declared values have all been written. */
static void close_full_containers(struct wire_writer *w) {
  while (w->depth > 0 && w->stack[w->depth - 1].remaining == 0) {
    w->depth--;
    if (w->format == WIRE_JSON)
      text_put_char(w, w->stack[w->depth].is_map ? '}' : ']');
  }
}

static void after_value(struct wire_writer *w) {
  count_value(w);
  close_full_containers(w);
}

static void open_container(struct wire_writer *w, bool is_map, size_t count) {
  begin_value(w);
  if (w->format == WIRE_JSON) text_put_char(w, is_map ? '{' : '[');
  else if (is_map) msgpack_pack_map(&w->packer, count);
  else msgpack_pack_array(&w->packer, count);
  count_value(w);
  if (w->depth == WIRE_WRITER_DEPTH) {
    w->failed = true;
    return;
  }
  w->stack[w->depth++] = (struct wire_frame){.remaining = count, .is_map = is_map};
  close_full_containers(w);
}

void wire_writer__map(struct wire_writer *w, size_t members) {
  open_container(w, true, members);
}

void wire_writer__array(struct wire_writer *w, size_t elements) {
  open_container(w, false, elements);
}

void wire_writer__key(struct wire_writer *w, const char *key) {
  size_t len = strlen(key);
  if (w->format == WIRE_MSGPACK) {
    msgpack_pack_str(&w->packer, len);
    msgpack_pack_str_body(&w->packer, key, len);
    return;
  }
  struct wire_frame *top = w->depth > 0 ? &w->stack[w->depth - 1] : NULL;
  if (!top || !top->is_map || w->key_pending) {
    w->failed = true;
    return;
  }
  if (top->has_values) text_put_char(w, ',');
  top->has_values = true;
  text_put_string(w, key, len);
  text_put_char(w, ':');
  w->key_pending = true;
}

/* ---- Values --------------------------------------------------------------- */

void wire_writer__strn(struct wire_writer *w, const char *s, size_t len) {
  begin_value(w);
  if (w->format == WIRE_JSON) {
    text_put_string(w, s, len);
  } else {
    msgpack_pack_str(&w->packer, len);
    msgpack_pack_str_body(&w->packer, s, len);
  }
  after_value(w);
}

void wire_writer__str(struct wire_writer *w, const char *s) {
  wire_writer__strn(w, s, strlen(s));
}

void wire_writer__bin(struct wire_writer *w, const void *bytes, size_t len) {
  begin_value(w);
  if (w->format == WIRE_MSGPACK) {
    msgpack_pack_bin(&w->packer, len);
    msgpack_pack_bin_body(&w->packer, bytes, len);
  } else { /* base64 text needs no escaping */
    text_reserve(w, base64__encoded_size(len) + 2);
    w->text[w->text_len++] = '"';
    w->text_len += base64__encode(bytes, len, w->text + w->text_len);
    w->text[w->text_len++] = '"';
  }
  after_value(w);
}

void wire_writer__int(struct wire_writer *w, int64_t value) {
  begin_value(w);
  if (w->format == WIRE_JSON) text_put_int(w, value);
  else msgpack_pack_int64(&w->packer, value);
  after_value(w);
}

void wire_writer__number(struct wire_writer *w, double value) {
  if (value > -9e15 && value < 9e15 &&
      value == (double)(int64_t)value) { /* integral: as an integer */
    wire_writer__int(w, (int64_t)value);
    return;
  }
  begin_value(w);
  if (w->format == WIRE_JSON) {
    char text[32];
    text_put(w, text, (size_t)snprintf(text, sizeof text, "%.17g", value));
  } else {
    msgpack_pack_double(&w->packer, value);
  }
  after_value(w);
}

void wire_writer__bool(struct wire_writer *w, bool value) {
  begin_value(w);
  if (w->format == WIRE_JSON) text_put(w, value ? "true" : "false", value ? 4 : 5);
  else if (value) msgpack_pack_true(&w->packer);
  else msgpack_pack_false(&w->packer);
  after_value(w);
}

void wire_writer__nil(struct wire_writer *w) {
  begin_value(w);
  if (w->format == WIRE_JSON) text_put(w, "null", 4);
  else msgpack_pack_nil(&w->packer);
  after_value(w);
}

/* Packs a jansson value as MessagePack, recursively. */
static void pack_json(msgpack_packer *pk, const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *key;
    json_t *member;
    msgpack_pack_map(pk, json_object_size(v));
    json_object_foreach((json_t *)v, key, member) {
      size_t len = strlen(key);
      msgpack_pack_str(pk, len);
      msgpack_pack_str_body(pk, key, len);
      pack_json(pk, member);
    }
    break;
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *element;
    msgpack_pack_array(pk, json_array_size(v));
    json_array_foreach(v, i, element) pack_json(pk, element);
    break;
  }
  case JSON_STRING:
    msgpack_pack_str(pk, json_string_length(v));
    msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(v)); break;
  case JSON_REAL: msgpack_pack_double(pk, json_real_value(v)); break;
  case JSON_TRUE: msgpack_pack_true(pk); break;
  case JSON_FALSE: msgpack_pack_false(pk); break;
  case JSON_NULL: msgpack_pack_nil(pk); break;
  }
}

/* Dumps a jansson value into the text (jansson formats its own numbers). */
static void text_put_json(struct wire_writer *w, const json_t *value) {
  const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
  size_t need = json_dumpb(value, NULL, 0, flags);
  if (need == 0) {
    w->failed = true;
    return;
  }
  text_reserve(w, need);
  w->text_len += json_dumpb(value, w->text + w->text_len, need, flags);
}

void wire_writer__json(struct wire_writer *w, const json_t *value) {
  begin_value(w);
  if (w->format == WIRE_JSON) text_put_json(w, value);
  else pack_json(&w->packer, value);
  after_value(w);
}

void wire_writer__embed(struct wire_writer *w, const struct wire_writer *inner) {
  if (w->format != inner->format || inner->failed || inner->depth != 0 ||
      inner->roots != 1) {
    w->failed = true;
    return;
  }
  wire_writer__encoded(w, inner->text, inner->text_len);
}

void wire_writer__encoded(struct wire_writer *w, const char *bytes,
                          size_t len) {
  begin_value(w);
  /* Both formats are streams: a written value is embedded by its bytes. */
  text_put(w, bytes, len);
  after_value(w);
}

void wire_writer__kv_str(struct wire_writer *w, const char *key, const char *s) {
  wire_writer__key(w, key);
  wire_writer__str(w, s);
}

void wire_writer__kv_int(struct wire_writer *w, const char *key, int64_t v) {
  wire_writer__key(w, key);
  wire_writer__int(w, v);
}

void wire_writer__kv_bool(struct wire_writer *w, const char *key, bool v) {
  wire_writer__key(w, key);
  wire_writer__bool(w, v);
}

char *wire_writer__finish(struct wire_writer *w, size_t *len) {
  if (w->failed || w->depth != 0 || w->roots != 1) return NULL;
  char *out = w->text; /* handed over */
  *len = w->text_len;
  w->text = NULL;
  w->text_len = w->text_cap = 0;
  w->failed = true; /* done: nothing more can be written or embedded */
  return out;
}

void wire_writer__error_info(struct wire_writer *w, const herald_error *err) {
  char href[64];
  snprintf(href, sizeof href, "https://help.ably.io/error/%d", err->code);
  wire_writer__map(w, 4);
  wire_writer__kv_str(w, "message", err->message);
  wire_writer__kv_int(w, "code", err->code);
  wire_writer__kv_int(w, "statusCode", err->status);
  wire_writer__kv_str(w, "href", href);
}
