/* wire_write.c -- the writing half of wire.h: one call sequence builds a
 * compact JSON document (through a jansson tree) or packed MessagePack. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "wire.h"

void wire_writer__init(struct wire_writer *w, enum wire_format format) {
  memset(w, 0, sizeof *w);
  w->format = format;
  if (format == WIRE_MSGPACK) {
    msgpack_sbuffer_init(&w->sbuf);
    msgpack_packer_init(&w->packer, &w->sbuf, msgpack_sbuffer_write);
  }
}

void wire_writer__cleanup(struct wire_writer *w) {
  if (w->format == WIRE_JSON) json_decref(w->root);
  else msgpack_sbuffer_destroy(&w->sbuf);
  herald_free(w->pending_key);
  memset(w, 0, sizeof *w);
}

/* Closes every container whose declared values have all been written. */
static void close_full_containers(struct wire_writer *w) {
  while (w->depth > 0 && w->stack[w->depth - 1].remaining == 0) w->depth--;
}

/* Places a new JSON value at the current position (the root, the next array
 * element, or the member named by the pending key). Steals the reference. */
static void json_place(struct wire_writer *w, json_t *value) {
  if (!value) {
    w->failed = true;
    return;
  }
  if (w->depth == 0) {
    if (w->root) {
      w->failed = true;
      json_decref(value);
      return;
    }
    w->root = value;
    return;
  }
  struct wire_frame *top = &w->stack[w->depth - 1];
  int rc;
  if (json_is_object(top->container)) {
    rc = w->pending_key
             ? json_object_set_new(top->container, w->pending_key, value)
             : (json_decref(value), -1);
    herald_free(w->pending_key);
    w->pending_key = NULL;
  } else {
    rc = json_array_append_new(top->container, value);
  }
  if (rc != 0) w->failed = true;
  top->remaining--;
}

/* Accounts one MessagePack value against the open containers. */
static void mp_placed(struct wire_writer *w) {
  if (w->depth > 0) w->stack[w->depth - 1].remaining--;
  else w->roots++;
}

static void after_value(struct wire_writer *w) {
  if (w->format == WIRE_MSGPACK) mp_placed(w);
  close_full_containers(w);
}

static void open_container(struct wire_writer *w, json_t *json_container,
                           size_t count) {
  if (w->format == WIRE_JSON) {
    json_t *held = json_incref(json_container);
    json_place(w, json_container);
    if (w->failed) {
      json_decref(held);
      return;
    }
    json_decref(held); /* the parent (or root) keeps it alive */
  } else {
    mp_placed(w);
  }
  if (w->depth == WIRE_WRITER_DEPTH) {
    w->failed = true;
    return;
  }
  w->stack[w->depth].container = json_container;
  w->stack[w->depth].remaining = count;
  w->depth++;
  close_full_containers(w);
}

void wire_writer__map(struct wire_writer *w, size_t members) {
  if (w->format == WIRE_JSON) {
    open_container(w, json_object(), members);
  } else {
    msgpack_pack_map(&w->packer, members);
    open_container(w, NULL, members);
  }
}

void wire_writer__array(struct wire_writer *w, size_t elements) {
  if (w->format == WIRE_JSON) {
    open_container(w, json_array(), elements);
  } else {
    msgpack_pack_array(&w->packer, elements);
    open_container(w, NULL, elements);
  }
}

void wire_writer__key(struct wire_writer *w, const char *key) {
  if (w->format == WIRE_JSON) {
    herald_free(w->pending_key);
    w->pending_key = herald_strdup(key);
    if (!w->pending_key) w->failed = true;
    return;
  }
  size_t len = strlen(key);
  msgpack_pack_str(&w->packer, len);
  msgpack_pack_str_body(&w->packer, key, len);
}

void wire_writer__strn(struct wire_writer *w, const char *s, size_t len) {
  if (w->format == WIRE_JSON) {
    json_place(w, json_stringn(s, len));
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
  if (w->format == WIRE_MSGPACK) {
    msgpack_pack_bin(&w->packer, len);
    msgpack_pack_bin_body(&w->packer, bytes, len);
    after_value(w);
    return;
  }
  char *text = herald_malloc(base64__encoded_size(len));
  if (!text) {
    w->failed = true;
    return;
  }
  size_t text_len = base64__encode(bytes, len, text);
  json_place(w, json_stringn(text, text_len));
  herald_free(text);
  after_value(w);
}

void wire_writer__int(struct wire_writer *w, int64_t value) {
  if (w->format == WIRE_JSON) json_place(w, json_integer(value));
  else msgpack_pack_int64(&w->packer, value);
  after_value(w);
}

void wire_writer__bool(struct wire_writer *w, bool value) {
  if (w->format == WIRE_JSON) json_place(w, json_boolean(value));
  else if (value) msgpack_pack_true(&w->packer);
  else msgpack_pack_false(&w->packer);
  after_value(w);
}

void wire_writer__nil(struct wire_writer *w) {
  if (w->format == WIRE_JSON) json_place(w, json_null());
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

void wire_writer__json(struct wire_writer *w, const json_t *value) {
  if (w->format == WIRE_JSON) json_place(w, json_deep_copy(value));
  else pack_json(&w->packer, value);
  after_value(w);
}

void wire_writer__embed(struct wire_writer *w, const struct wire_writer *inner) {
  if (w->format != inner->format || inner->failed || inner->depth != 0 ||
      (inner->format == WIRE_JSON ? !inner->root : inner->roots != 1)) {
    w->failed = true;
    return;
  }
  if (w->format == WIRE_JSON) {
    json_place(w, json_incref(inner->root));
  } else {
    /* MessagePack is a stream: a packed value is embedded by its bytes. */
    msgpack_sbuffer_write(&w->sbuf, inner->sbuf.data, inner->sbuf.size);
  }
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
  if (w->failed || w->depth != 0) return NULL;
  if (w->format == WIRE_MSGPACK) {
    if (w->roots != 1) return NULL;
    char *out = herald_malloc(w->sbuf.size);
    if (!out) return NULL;
    memcpy(out, w->sbuf.data, w->sbuf.size);
    *len = w->sbuf.size;
    return out;
  }
  if (!w->root) return NULL;
  size_t need = json_dumpb(w->root, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  char *out = need ? herald_malloc(need) : NULL;
  if (!out) return NULL;
  *len = json_dumpb(w->root, out, need, JSON_COMPACT | JSON_ENCODE_ANY);
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
