/* fuzz_json_parse.c -- libFuzzer target for common/json_parse.c, checked
 * against jansson, the library Herald parsed JSON with before and whose
 * language json_parse.h promises to keep (JSON_DECODE_ANY | JSON_ALLOW_NUL).
 *
 * For every input: both accept or both reject, and an accepted document
 * gives the same tree (same types, integers, reals bit for bit, string
 * bytes, array order, and map members by key; a repeated key keeps its
 * first place and takes its last value in both). Any difference aborts.
 *
 * The one known difference: jansson's reader skips raw NUL bytes (it takes
 * a zero for "nothing buffered"), so it accepts "2\0" or "[1,\0 2]";
 * RFC 8259 allows no NUL outside a string and no raw control character
 * inside one. Inputs with a raw NUL must be rejected, and are not compared. */
#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_parse.h"

static void differ(const char *what) {
  fprintf(stderr, "json_parse and jansson differ: %s\n", what);
  abort();
}

static void same_value(const msgpack_object *o, const json_t *j);

static void same_map(const msgpack_object *o, const json_t *j) {
  if (o->type != MSGPACK_OBJECT_MAP || !json_is_object(j)) differ("map");
  if (o->via.map.size != json_object_size(j)) differ("map size");
  /* jansson keeps insertion order of first places too: compare in order. */
  void *it = json_object_iter((json_t *)j);
  for (uint32_t i = 0; i < o->via.map.size; i++, it = json_object_iter_next((json_t *)j, it)) {
    const msgpack_object_kv *kv = &o->via.map.ptr[i];
    const char *key = json_object_iter_key(it);
    if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != strlen(key) ||
        memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) != 0)
      differ("map key");
    same_value(&kv->val, json_object_iter_value(it));
  }
}

static void same_value(const msgpack_object *o, const json_t *j) {
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    if (!json_is_null(j)) differ("null");
    return;
  case MSGPACK_OBJECT_BOOLEAN:
    if (!json_is_boolean(j) || o->via.boolean != json_is_true(j)) differ("boolean");
    return;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    if (!json_is_integer(j) || json_integer_value(j) < 0 ||
        (uint64_t)json_integer_value(j) != o->via.u64)
      differ("positive integer");
    return;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    if (!json_is_integer(j) || json_integer_value(j) != o->via.i64) differ("negative integer");
    return;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: {
    double a = o->via.f64, b = json_real_value(j);
    if (!json_is_real(j) || memcmp(&a, &b, sizeof a) != 0) differ("real");
    return;
  }
  case MSGPACK_OBJECT_STR:
    if (!json_is_string(j) || o->via.str.size != json_string_length(j) ||
        memcmp(o->via.str.ptr, json_string_value(j), o->via.str.size) != 0)
      differ("string");
    return;
  case MSGPACK_OBJECT_ARRAY:
    if (!json_is_array(j) || o->via.array.size != json_array_size(j)) differ("array");
    for (uint32_t i = 0; i < o->via.array.size; i++)
      same_value(&o->via.array.ptr[i], json_array_get(j, i));
    return;
  case MSGPACK_OBJECT_MAP:
    same_map(o, j);
    return;
  default:
    differ("unexpected msgpack type");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  msgpack_zone zone;
  if (!msgpack_zone_init(&zone, 1024)) return 0;
  msgpack_object tree;
  char error[JSON_PARSE_ERROR_MAX];
  int rc = json_parse((const char *)data, size, &zone, &tree, error);
  if (memchr(data, 0, size)) {
    if (rc == 0) differ("a raw NUL byte was accepted");
    msgpack_zone_destroy(&zone);
    return 0;
  }
  json_error_t jerr;
  json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if ((rc == 0) != (j != NULL)) {
    fprintf(stderr, "json_parse: %s; jansson: %s\n", rc ? error : "accepted",
            j ? "accepted" : jerr.text);
    differ("acceptance");
  }
  if (j) same_value(&tree, j);
  json_decref(j);
  msgpack_zone_destroy(&zone);
  return 0;
}
