/* ably.c -- Ably ProtocolMessages in JSON and MessagePack (see ably.h).
 * Decoding walks either format through one small reader (struct value and
 * struct value_iter), so the fields are picked out by one piece of code. */
#include "ably.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json_scan.h"

#define MAX_ENCODED (16u << 20)

int ably__init(struct ably_codec *c, enum ably_format format) {
  memset(c, 0, sizeof *c);
  c->format = format;
  return msgpack_zone_init(&c->zone, MSGPACK_ZONE_CHUNK_SIZE) ? 0 : -1;
}

void ably__cleanup(struct ably_codec *c) {
  msgpack_zone_destroy(&c->zone);
  byte_buf__cleanup(&c->out);
}

/* ---- Encoding ------------------------------------------------------------ */

static int append(struct ably_codec *c, const void *bytes, size_t len) {
  return byte_buf__append(&c->out, bytes, len, MAX_ENCODED);
}

static int pack_write(void *data, const char *bytes, size_t len) {
  return append(data, bytes, len);
}

static void pack_str(msgpack_packer *pk, const char *s, size_t len) {
  msgpack_pack_str(pk, len);
  msgpack_pack_str_body(pk, s, len);
}

static void pack_key(msgpack_packer *pk, const char *key) {
  pack_str(pk, key, strlen(key));
}

static int finish(struct ably_codec *c, int rc, struct span *out) {
  *out = (struct span){c->out.data, c->out.len};
  return rc ? -1 : 0;
}

int ably__encode_attach(struct ably_codec *c, const char *channel,
                        struct span *out) {
  c->out.len = 0;
  if (c->format == ABLY_FORMAT_JSON) {
    char json[512];
    int n = snprintf(json, sizeof json, "{\"action\":%d,\"channel\":\"%s\"}",
                     PM_ATTACH, channel);
    if (n < 0 || (size_t)n >= sizeof json) return -1;
    return finish(c, append(c, json, (size_t)n), out);
  }
  msgpack_packer pk;
  msgpack_packer_init(&pk, c, pack_write);
  msgpack_pack_map(&pk, 2);
  pack_key(&pk, "action");
  msgpack_pack_int(&pk, PM_ATTACH);
  pack_key(&pk, "channel");
  int rc = msgpack_pack_str(&pk, strlen(channel));
  rc |= msgpack_pack_str_body(&pk, channel, strlen(channel));
  return finish(c, rc, out);
}

/* {"action":15,"channel":c,"msgSerial":n,"messages":[{"name":"b",
 * "data":data}]}; data must need no JSON escaping. */
int ably__encode_message(struct ably_codec *c, const char *channel,
                         int64_t msg_serial, struct span data,
                         struct span *out) {
  c->out.len = 0;
  if (c->format == ABLY_FORMAT_JSON) {
    char head[512];
    int n = snprintf(head, sizeof head,
                     "{\"action\":%d,\"channel\":\"%s\",\"msgSerial\":%" PRId64
                     ",\"messages\":[{\"name\":\"b\",\"data\":\"",
                     PM_MESSAGE, channel, msg_serial);
    if (n < 0 || (size_t)n >= sizeof head) return -1;
    int rc = append(c, head, (size_t)n);
    rc |= append(c, data.p, data.len);
    rc |= append(c, "\"}]}", 4);
    return finish(c, rc, out);
  }
  msgpack_packer pk;
  msgpack_packer_init(&pk, c, pack_write);
  int rc = msgpack_pack_map(&pk, 4);
  pack_key(&pk, "action");
  msgpack_pack_int(&pk, PM_MESSAGE);
  pack_key(&pk, "channel");
  pack_str(&pk, channel, strlen(channel));
  pack_key(&pk, "msgSerial");
  msgpack_pack_int64(&pk, msg_serial);
  pack_key(&pk, "messages");
  msgpack_pack_array(&pk, 1);
  msgpack_pack_map(&pk, 2);
  pack_key(&pk, "name");
  pack_str(&pk, "b", 1);
  pack_key(&pk, "data");
  rc |= msgpack_pack_str(&pk, data.len);
  rc |= msgpack_pack_str_body(&pk, data.p, data.len);
  return finish(c, rc, out);
}

int ably__encode_close(struct ably_codec *c, struct span *out) {
  c->out.len = 0;
  if (c->format == ABLY_FORMAT_JSON) {
    char json[32];
    int n = snprintf(json, sizeof json, "{\"action\":%d}", PM_CLOSE);
    return finish(c, append(c, json, (size_t)n), out);
  }
  msgpack_packer pk;
  msgpack_packer_init(&pk, c, pack_write);
  msgpack_pack_map(&pk, 1);
  pack_key(&pk, "action");
  return finish(c, msgpack_pack_int(&pk, PM_CLOSE), out);
}

/* ---- One reader over both formats ---------------------------------------- */

struct value {
  enum ably_format format;
  struct span json;
  const msgpack_object *msgpack;
};

struct value_iter {
  enum ably_format format;
  struct json_iter json;
  const msgpack_object *msgpack; /* the map or array */
  uint32_t next;
};

static bool value_int(const struct value *v, int64_t *out) {
  if (v->format == ABLY_FORMAT_JSON) return json_scan__int(v->json, out);
  if (v->msgpack->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
    *out = (int64_t)v->msgpack->via.u64;
    return true;
  }
  if (v->msgpack->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
    *out = v->msgpack->via.i64;
    return true;
  }
  return false;
}

/* Reads a string (or MessagePack binary) value. */
static bool value_bytes(const struct value *v, struct span *out) {
  if (v->format == ABLY_FORMAT_JSON) return json_scan__string(v->json, out);
  if (v->msgpack->type == MSGPACK_OBJECT_STR) {
    *out = (struct span){v->msgpack->via.str.ptr, v->msgpack->via.str.size};
    return true;
  }
  if (v->msgpack->type == MSGPACK_OBJECT_BIN) {
    *out = (struct span){v->msgpack->via.bin.ptr, v->msgpack->via.bin.size};
    return true;
  }
  return false;
}

/* Starts iterating a map (want_map) or an array value. */
static bool value_enter(const struct value *v, bool want_map,
                        struct value_iter *it) {
  it->format = v->format;
  it->next = 0;
  if (v->format == ABLY_FORMAT_JSON)
    return json_scan__enter(&it->json, v->json) &&
           it->json.close == (want_map ? '}' : ']');
  it->msgpack = v->msgpack;
  return v->msgpack->type ==
         (want_map ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY);
}

/* The next map member. Returns 1, 0 at the end, -1 if malformed. */
static int next_member(struct value_iter *it, struct span *key,
                       struct value *v) {
  v->format = it->format;
  if (it->format == ABLY_FORMAT_JSON)
    return json_scan__next_member(&it->json, key, &v->json);
  if (it->next >= it->msgpack->via.map.size) return 0;
  const msgpack_object_kv *kv = &it->msgpack->via.map.ptr[it->next++];
  if (kv->key.type != MSGPACK_OBJECT_STR) return -1;
  *key = (struct span){kv->key.via.str.ptr, kv->key.via.str.size};
  v->msgpack = &kv->val;
  return 1;
}

/* The next array element. Returns 1, 0 at the end, -1 if malformed. */
static int next_element(struct value_iter *it, struct value *v) {
  v->format = it->format;
  if (it->format == ABLY_FORMAT_JSON)
    return json_scan__next_element(&it->json, &v->json);
  if (it->next >= it->msgpack->via.array.size) return 0;
  v->msgpack = &it->msgpack->via.array.ptr[it->next++];
  return 1;
}

/* ---- Decoding ------------------------------------------------------------ */

/* The integer members of a ProtocolMessage that herald-bench reads. */
#define INT_FIELD(name, member) \
  { name, sizeof(name) - 1, offsetof(struct ably_pm, member) }

static const struct {
  const char *name;
  size_t name_len;
  size_t offset;
} int_fields[] = {
    INT_FIELD("action", action),
    INT_FIELD("msgSerial", msg_serial),
    INT_FIELD("count", count),
};

/* error: {"code":n,...} */
static int read_error(const struct value *error, struct ably_pm *pm) {
  struct value_iter it;
  if (!value_enter(error, true, &it)) return -1;
  struct span key;
  struct value v;
  int rc;
  while ((rc = next_member(&it, &key, &v)) > 0)
    if (json_scan__key_is(key, "code") && !value_int(&v, &pm->error_code))
      return -1;
  return rc;
}

/* One Message: only its data matters. */
static int read_message(const struct value *message, struct ably_pm *pm) {
  struct value_iter it;
  if (!value_enter(message, true, &it)) return -1;
  pm->n_messages++;
  struct span key;
  struct value v;
  int rc;
  while ((rc = next_member(&it, &key, &v)) > 0) {
    if (!json_scan__key_is(key, "data") || pm->n_data == ABLY_PM_MAX_DATA)
      continue;
    if (value_bytes(&v, &pm->data[pm->n_data])) pm->n_data++;
  }
  return rc;
}

static int read_messages(const struct value *messages, struct ably_pm *pm) {
  struct value_iter it;
  if (!value_enter(messages, false, &it)) return -1;
  struct value message;
  int rc;
  while ((rc = next_element(&it, &message)) > 0)
    if (read_message(&message, pm)) return -1;
  return rc;
}

static int read_member(struct span key, const struct value *v,
                       struct ably_pm *pm) {
  for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
    if (!json_scan__key_equals(key, int_fields[i].name, int_fields[i].name_len))
      continue;
    return value_int(v, (int64_t *)((char *)pm + int_fields[i].offset)) ? 0
                                                                        : -1;
  }
  if (json_scan__key_is(key, "messages")) return read_messages(v, pm);
  if (json_scan__key_is(key, "error")) return read_error(v, pm);
  return 0;
}

/* The root value of a frame. */
static int root_value(struct ably_codec *c, const char *frame, size_t len,
                      msgpack_object *root, struct value *v) {
  v->format = c->format;
  if (c->format == ABLY_FORMAT_JSON) {
    v->json = (struct span){frame, len};
    return 0;
  }
  msgpack_zone_clear(&c->zone);
  size_t offset = 0;
  if (msgpack_unpack(frame, len, &offset, &c->zone, root) !=
      MSGPACK_UNPACK_SUCCESS)
    return -1;
  v->msgpack = root;
  return 0;
}

int ably__decode(struct ably_codec *c, const char *frame, size_t len,
                 struct ably_pm *pm) {
  *pm = (struct ably_pm){.action = -1, .msg_serial = -1, .count = -1,
                         .error_code = -1};
  msgpack_object root;
  struct value v;
  struct value_iter it;
  if (root_value(c, frame, len, &root, &v) || !value_enter(&v, true, &it))
    return -1;
  struct span key;
  struct value member;
  int rc;
  while ((rc = next_member(&it, &key, &member)) > 0)
    if (read_member(key, &member, pm)) return -1;
  return rc < 0 || pm->action < 0 ? -1 : 0;
}
