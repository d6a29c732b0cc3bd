/* wire_read.c -- the reading half of wire.h: a JSON (json_parse.h) or
 * MessagePack (msgpack-c) document, both as msgpack-c's object tree. */
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "json_parse.h"
#include "utf8.h"
#include "wire.h"
#include "wire_bounds.h"

#define JSON_ZONE_CHUNK_MAX (64 * 1024)

/* MessagePack str values (and map keys) must be UTF-8, so that anything
 * accepted can later be written as JSON. */
static bool mp_strings_valid(const msgpack_object *o) {
  switch (o->type) {
  case MSGPACK_OBJECT_STR:
    return utf8__valid(o->via.str.ptr, o->via.str.size);
  case MSGPACK_OBJECT_ARRAY:
    for (uint32_t i = 0; i < o->via.array.size; i++)
      if (!mp_strings_valid(&o->via.array.ptr[i])) return false;
    return true;
  case MSGPACK_OBJECT_MAP:
    for (uint32_t i = 0; i < o->via.map.size; i++)
      if (!mp_strings_valid(&o->via.map.ptr[i].key) ||
          !mp_strings_valid(&o->via.map.ptr[i].val))
        return false;
    return true;
  default: return true;
  }
}

static int parse_json(struct wire_doc *doc, const char *data, size_t len,
                      herald_error *err) {
  char why[JSON_PARSE_ERROR_MAX];
  /* The tree takes about the text's size; strings mostly stay in the text. */
  if (!msgpack_zone_init(&doc->json_zone, len < JSON_ZONE_CHUNK_MAX
                                              ? len + 256
                                              : JSON_ZONE_CHUNK_MAX))
    herald_oom("msgpack zone");
  doc->json_zone_live = true;
  if (json_parse(data, len, &doc->json_zone, &doc->mp.data, why) == 0) return 0;
  wire_doc__cleanup(doc);
  return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                          "Unable to parse JSON body: %s", why);
}

static int parse_msgpack(struct wire_doc *doc, const char *data, size_t len,
                         herald_error *err) {
  msgpack_unpacked_init(&doc->mp);
  size_t offset = 0;
  /* Sizes checked first: msgpack-c reserves what a header declares. */
  if (wire_bounds__msgpack(data, len) &&
      msgpack_unpack_next(&doc->mp, data, len, &offset) ==
          MSGPACK_UNPACK_SUCCESS &&
      offset == len && mp_strings_valid(&doc->mp.data))
    return 0;
  msgpack_unpacked_destroy(&doc->mp);
  return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                          "Unable to parse msgpack body");
}

int wire_doc__parse(struct wire_doc *doc, enum wire_format format,
                    const char *data, size_t len, herald_error *err) {
  memset(doc, 0, sizeof *doc);
  doc->format = format;
  return format == WIRE_JSON ? parse_json(doc, data, len, err)
                             : parse_msgpack(doc, data, len, err);
}

void wire_doc__cleanup(struct wire_doc *doc) {
  if (doc->mp.zone) msgpack_unpacked_destroy(&doc->mp);
  if (doc->json_zone_live) msgpack_zone_destroy(&doc->json_zone);
  memset(doc, 0, sizeof *doc);
}

struct wire_value wire_doc__root(const struct wire_doc *doc) {
  struct wire_value v = {.format = doc->format, .mp = &doc->mp.data};
  return v;
}

enum wire_kind wire_value__kind(struct wire_value v) {
  if (!v.mp) return WIRE_ABSENT;
  switch (v.mp->type) {
  case MSGPACK_OBJECT_NIL: return WIRE_NIL;
  case MSGPACK_OBJECT_BOOLEAN: return WIRE_BOOL;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return WIRE_INT;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return WIRE_FLOAT;
  case MSGPACK_OBJECT_STR: return WIRE_STR;
  case MSGPACK_OBJECT_BIN: return WIRE_BIN;
  case MSGPACK_OBJECT_ARRAY: return WIRE_ARRAY;
  case MSGPACK_OBJECT_MAP: return WIRE_MAP;
  default: return WIRE_NIL; /* ext: carried by nothing Ably sends */
  }
}

static struct wire_value child(struct wire_value parent,
                               const msgpack_object *o) {
  struct wire_value v = {.format = parent.format, .mp = o};
  return v;
}

struct wire_value wire_value__get(struct wire_value map, const char *key) {
  if (wire_value__kind(map) != WIRE_MAP) return child(map, NULL);
  size_t key_len = strlen(key);
  const msgpack_object_map *m = &map.mp->via.map;
  for (uint32_t i = 0; i < m->size; i++) {
    const msgpack_object *k = &m->ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_len &&
        memcmp(k->via.str.ptr, key, key_len) == 0)
      return child(map, &m->ptr[i].val);
  }
  return child(map, NULL);
}

size_t wire_value__count(struct wire_value v) {
  switch (wire_value__kind(v)) {
  case WIRE_ARRAY: return v.mp->via.array.size;
  case WIRE_MAP: return v.mp->via.map.size;
  default: return 0;
  }
}

struct wire_value wire_value__at(struct wire_value array, size_t i) {
  return child(array, &array.mp->via.array.ptr[i]);
}

struct wire_value wire_value__member(struct wire_value map, size_t i,
                                     const char **key, size_t *key_len) {
  const msgpack_object_kv *kv = &map.mp->via.map.ptr[i];
  if (kv->key.type == MSGPACK_OBJECT_STR) {
    *key = kv->key.via.str.ptr;
    *key_len = kv->key.via.str.size;
  } else {
    *key = "";
    *key_len = 0;
  }
  return child(map, &kv->val);
}

const char *wire_value__bytes(struct wire_value v, size_t *len) {
  switch (wire_value__kind(v)) {
  case WIRE_STR:
    *len = v.mp->via.str.size;
    return v.mp->via.str.ptr;
  case WIRE_BIN:
    *len = v.mp->via.bin.size;
    return v.mp->via.bin.ptr;
  default: return NULL;
  }
}

bool wire_value__int(struct wire_value v, int64_t *out) {
  enum wire_kind kind = wire_value__kind(v);
  if (kind == WIRE_INT) {
    if (v.mp->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
      if (v.mp->via.u64 > INT64_MAX) return false;
      *out = (int64_t)v.mp->via.u64;
    } else {
      *out = v.mp->via.i64;
    }
    return true;
  }
  if (kind != WIRE_FLOAT) return false;
  double real = v.mp->via.f64;
  /* Range first: converting an out-of-range double is undefined. */
  if (!(real >= -9223372036854775808.0 && real < 9223372036854775808.0) ||
      real != (double)(int64_t)real)
    return false;
  *out = (int64_t)real;
  return true;
}

bool wire_value__number(struct wire_value v, double *out) {
  int64_t i;
  if (wire_value__kind(v) == WIRE_FLOAT) *out = v.mp->via.f64;
  else if (wire_value__int(v, &i)) *out = (double)i;
  else return false;
  return true;
}

bool wire_value__bool(struct wire_value v) {
  return wire_value__kind(v) == WIRE_BOOL && v.mp->via.boolean;
}

static json_t *mp_to_json(const msgpack_object *o);

static json_t *mp_map_to_json(const msgpack_object_map *m) {
  json_t *obj = json_object();
  for (uint32_t i = 0; obj && i < m->size; i++) {
    const msgpack_object *k = &m->ptr[i].key;
    json_t *val = mp_to_json(&m->ptr[i].val);
    char *key = k->type == MSGPACK_OBJECT_STR
                    ? herald_xstrndup(k->via.str.ptr, k->via.str.size)
                    : NULL;
    if (!val || !key || json_object_set_new(obj, key, val) != 0) {
      if (!key) json_decref(val);
      json_decref(obj);
      obj = NULL;
    }
    herald_free(key);
  }
  return obj;
}

static json_t *mp_to_json(const msgpack_object *o) {
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: return json_null();
  case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    return o->via.u64 > INT64_MAX ? json_real((double)o->via.u64)
                                  : json_integer((json_int_t)o->via.u64);
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
  case MSGPACK_OBJECT_STR: return json_stringn(o->via.str.ptr, o->via.str.size);
  case MSGPACK_OBJECT_BIN: {
    char *text = herald_xmalloc(base64__encoded_size(o->via.bin.size));
    base64__encode(o->via.bin.ptr, o->via.bin.size, text);
    json_t *s = json_string(text);
    herald_free(text);
    return s;
  }
  case MSGPACK_OBJECT_ARRAY: {
    json_t *arr = json_array();
    for (uint32_t i = 0; arr && i < o->via.array.size; i++)
      if (json_array_append_new(arr, mp_to_json(&o->via.array.ptr[i])) != 0) {
        json_decref(arr);
        arr = NULL;
      }
    return arr;
  }
  case MSGPACK_OBJECT_MAP: return mp_map_to_json(&o->via.map);
  default: return NULL;
  }
}

json_t *wire_value__to_json(struct wire_value v) {
  if (wire_value__kind(v) == WIRE_ABSENT) return NULL;
  return mp_to_json(v.mp);
}

int wire_format__from_content_type(const char *type, size_t len) {
  static const struct {
    const char *name;
    enum wire_format format;
  } types[] = {{"application/json", WIRE_JSON},
               {"application/x-msgpack", WIRE_MSGPACK},
               {"application/msgpack", WIRE_MSGPACK}};
  while (len && (*type == ' ' || *type == '\t')) type++, len--;
  size_t end = 0;
  while (end < len && type[end] != ';' && type[end] != ' ' && type[end] != '\t')
    end++;
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strlen(types[i].name) == end &&
        strncasecmp(types[i].name, type, end) == 0)
      return types[i].format;
  return -1;
}

const char *wire_format__content_type(enum wire_format format) {
  return format == WIRE_JSON ? "application/json" : "application/x-msgpack";
}
