/* protocol_message.c -- ProtocolMessage decoding and encoding (see
 * protocol_message.h). Decoding fills a struct protocol_message from a wire
 * map and owns what it copies; encoding lists the present members first so a
 * map's declared size always matches what is written. */
#include "protocol_message.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

#include "alloc.h"
#include "annotation.h"

/* ---- decoding ----------------------------------------------------------- */

static int bad_field(herald_error *err, const char *field, const char *want) {
  return herald_error_set(err, HERALD_E_BAD_REQUEST,
                          "Invalid ProtocolMessage: %s must be %s", field,
                          want);
}

/* The member `key` of map, or kind WIRE_ABSENT when it is missing or null. */
static struct wire_value lookup(struct wire_value map, const char *key,
                                enum wire_kind *kind) {
  struct wire_value v = wire_value__get(map, key);
  *kind = wire_value__kind(v);
  if (*kind == WIRE_NIL) *kind = WIRE_ABSENT;
  return v;
}

/* A text value (a string without NUL) as a new NUL-terminated copy, or NULL
 * when v is anything else. */
static char *copy_text(struct wire_value v) {
  size_t len;
  const char *s = wire_value__bytes(v, &len);
  if (wire_value__kind(v) != WIRE_STR || memchr(s, '\0', len)) return NULL;
  return herald_xstrndup(s, len);
}

static int optional_string(struct wire_value map, const char *key, char **out,
                           herald_error *err) {
  enum wire_kind kind;
  struct wire_value v = lookup(map, key, &kind);
  if (kind == WIRE_ABSENT) return 0;
  *out = copy_text(v);
  return *out ? 0 : bad_field(err, key, "a string");
}

/* Reads an optional integer member within [min, max]; *present (when given)
 * says whether it was there. */
static int optional_int(struct wire_value map, const char *key, int64_t min,
                        int64_t max, int64_t *out, bool *present,
                        herald_error *err) {
  enum wire_kind kind;
  struct wire_value v = lookup(map, key, &kind);
  if (present) *present = kind != WIRE_ABSENT;
  if (kind == WIRE_ABSENT) return 0;
  if (!wire_value__int(v, out) || *out < min || *out > max)
    return bad_field(err, key, "an integer");
  return 0;
}

static int decode_action(struct wire_value map, struct protocol_message *out,
                         herald_error *err) {
  int64_t action;
  bool present;
  int rc = optional_int(map, "action", INT_MIN, INT_MAX, &action, &present,
                        err);
  if (rc) return rc;
  if (!present) return bad_field(err, "action", "present");
  out->action = (int)action;
  return 0;
}

static int decode_ints(struct wire_value map, struct protocol_message *out,
                       herald_error *err) {
  int64_t flags = 0;
  int rc = optional_int(map, "flags", 0, UINT32_MAX, &flags, NULL, err);
  out->flags = (uint32_t)flags;
  if (!rc)
    rc = optional_int(map, "msgSerial", INT64_MIN, INT64_MAX, &out->msg_serial,
                      &out->has_msg_serial, err);
  if (!rc)
    rc = optional_int(map, "count", INT64_MIN, INT64_MAX, &out->count, NULL,
                      err);
  if (!rc)
    rc = optional_int(map, "timestamp", INT64_MIN, INT64_MAX, &out->timestamp,
                      NULL, err);
  return rc;
}

static int decode_auth(struct wire_value map, struct protocol_message *out,
                       herald_error *err) {
  enum wire_kind kind;
  struct wire_value auth = lookup(map, "auth", &kind);
  if (kind == WIRE_ABSENT) return 0;
  if (kind != WIRE_MAP) return bad_field(err, "auth", "an object");
  return optional_string(auth, "accessToken", &out->access_token, err);
}

static int decode_params(struct wire_value map, struct protocol_message *out,
                         herald_error *err) {
  enum wire_kind kind;
  struct wire_value params = lookup(map, "params", &kind);
  if (kind == WIRE_ABSENT) return 0;
  if (kind != WIRE_MAP) return bad_field(err, "params", "an object");
  size_t n = wire_value__count(params);
  if (n == 0) return 0;
  out->param_keys = herald_xcalloc(n, sizeof *out->param_keys);
  out->param_values = herald_xcalloc(n, sizeof *out->param_values);
  out->n_params = n; /* unfilled entries stay NULL for cleanup */
  for (size_t i = 0; i < n; i++) {
    const char *key;
    size_t key_len;
    struct wire_value v = wire_value__member(params, i, &key, &key_len);
    if (memchr(key, '\0', key_len))
      return bad_field(err, "params keys", "strings");
    out->param_keys[i] = herald_xstrndup(key, key_len);
    out->param_values[i] = copy_text(v);
    if (!out->param_values[i])
      return bad_field(err, "params values", "strings");
  }
  return 0;
}

/* An optional array member of items ("messages", "presence" or
 * "annotations"). */
static int decode_items(struct wire_value map, const char *field,
                        message_decoder decode, size_t max_items,
                        struct message ***items, size_t *n_items,
                        herald_error *err) {
  enum wire_kind kind;
  struct wire_value array = lookup(map, field, &kind);
  if (kind == WIRE_ABSENT) return 0;
  if (kind != WIRE_ARRAY) return bad_field(err, field, "an array");
  size_t n = wire_value__count(array);
  if (n > max_items)
    return herald_error_set(err, HERALD_E_TOO_MANY_MESSAGES,
                            "Too many %s in one ProtocolMessage (%zu, "
                            "limit %zu)",
                            field, n, max_items);
  if (n == 0) return 0;
  *items = herald_xcalloc(n, sizeof **items);
  for (; *n_items < n; (*n_items)++) {
    int rc = decode(wire_value__at(array, *n_items), &(*items)[*n_items], err);
    if (rc) return rc;
  }
  return 0;
}

/* error: {message, code, statusCode}, each optional; code defaults to 40000,
 * statusCode to the code's status, message to the code's default. */
static int decode_error(struct wire_value map, struct protocol_message *out,
                        herald_error *err) {
  enum wire_kind kind;
  struct wire_value info = lookup(map, "error", &kind);
  if (kind == WIRE_ABSENT) return 0;
  if (kind != WIRE_MAP) return bad_field(err, "error", "an object");
  int64_t code = HERALD_E_BAD_REQUEST, status = 0;
  bool has_status = false;
  int rc = optional_int(info, "code", INT_MIN, INT_MAX, &code, NULL, err);
  if (!rc)
    rc = optional_int(info, "statusCode", INT_MIN, INT_MAX, &status,
                      &has_status, err);
  if (rc) return rc;
  struct wire_value message = lookup(info, "message", &kind);
  size_t len = 0;
  const char *text = wire_value__bytes(message, &len);
  if (kind != WIRE_ABSENT && kind != WIRE_STR)
    return bad_field(err, "error.message", "a string");
  if (text)
    herald_error_set(&out->error, (int)code, "%.*s", (int)len, text);
  else
    herald_error_set(&out->error, (int)code, NULL);
  if (has_status) out->error.status = (int)status;
  out->has_error = true;
  return 0;
}

int protocol_message__decode(struct wire_value v, size_t max_messages,
                             struct protocol_message *out, herald_error *err) {
  memset(out, 0, sizeof *out);
  if (wire_value__kind(v) != WIRE_MAP)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Invalid ProtocolMessage: must be an object");
  int rc = decode_action(v, out, err);
  if (!rc) rc = decode_ints(v, out, err);
  if (!rc) rc = optional_string(v, "id", &out->id, err);
  if (!rc) rc = optional_string(v, "channel", &out->channel, err);
  if (!rc)
    rc = optional_string(v, "channelSerial", &out->channel_serial, err);
  if (!rc) rc = optional_string(v, "connectionId", &out->connection_id, err);
  if (!rc) rc = decode_auth(v, out, err);
  if (!rc) rc = decode_params(v, out, err);
  if (!rc) rc = decode_error(v, out, err);
  if (!rc)
    rc = decode_items(v, "messages", message__decode, max_messages,
                      &out->messages, &out->n_messages, err);
  if (!rc)
    rc = decode_items(v, "presence", presence_message__decode, max_messages,
                      &out->presence, &out->n_presence, err);
  if (!rc)
    rc = decode_items(v, "annotations", annotation__decode, max_messages,
                      &out->annotations, &out->n_annotations, err);
  if (rc) { /* keep what a NACK needs */
    int action = out->action;
    bool has_msg_serial = out->has_msg_serial;
    int64_t msg_serial = out->msg_serial;
    protocol_message__cleanup(out);
    out->action = action;
    out->has_msg_serial = has_msg_serial;
    out->msg_serial = msg_serial;
  }
  return rc;
}

void protocol_message__cleanup(struct protocol_message *pm) {
  herald_free(pm->id);
  herald_free(pm->channel);
  herald_free(pm->channel_serial);
  herald_free(pm->connection_id);
  herald_free(pm->connection_key);
  herald_free(pm->access_token);
  message__free_list(pm->messages, pm->n_messages);
  message__free_list(pm->presence, pm->n_presence);
  message__free_list(pm->annotations, pm->n_annotations);
  for (size_t i = 0; i < pm->n_params; i++) {
    herald_free(pm->param_keys[i]);
    herald_free(pm->param_values[i]);
  }
  herald_free(pm->param_keys);
  herald_free(pm->param_values);
  memset(pm, 0, sizeof *pm);
}

/* ---- encoding ----------------------------------------------------------- */

enum member_kind {
  MEMBER_STR,
  MEMBER_INT,
  MEMBER_ERROR,
  MEMBER_MESSAGES,
  MEMBER_PRESENCE,
  MEMBER_ANNOTATIONS,
  MEMBER_PARAMS,
  MEMBER_DETAILS,
  MEMBER_RES,
};

/* The present members of one map, in wire order. Scalars carry their value;
 * the other kinds are written from the protocol message. */
#define MEMBERS_MAX 20

struct members {
  struct {
    const char *key;
    enum member_kind kind;
    const char *str;
    int64_t num;
  } list[MEMBERS_MAX];
  size_t n;
};

static void add(struct members *ms, const char *key, enum member_kind kind) {
  assert(ms->n < MEMBERS_MAX);
  ms->list[ms->n].key = key;
  ms->list[ms->n].kind = kind;
  ms->n++;
}

static void add_str(struct members *ms, const char *key, const char *s) {
  if (!s) return;
  add(ms, key, MEMBER_STR);
  ms->list[ms->n - 1].str = s;
}

static void add_int(struct members *ms, const char *key, int64_t v,
                    bool present) {
  if (!present) return;
  add(ms, key, MEMBER_INT);
  ms->list[ms->n - 1].num = v;
}

static void write_members(const struct members *ms,
                          const struct protocol_message *pm,
                          struct wire_writer *w);

static void write_details(const struct connection_details *d,
                          struct wire_writer *w) {
  struct members ms = {.n = 0};
  add_str(&ms, "connectionKey", d->connection_key);
  add_str(&ms, "clientId", d->client_id);
  add_int(&ms, "connectionStateTtl", d->connection_state_ttl, true);
  add_int(&ms, "maxIdleInterval", d->max_idle_interval, true);
  add_int(&ms, "maxMessageSize", d->max_message_size, true);
  add_int(&ms, "maxFrameSize", d->max_frame_size, true);
  add_int(&ms, "maxInboundRate", d->max_inbound_rate, true);
  add_int(&ms, "maxOutboundRate", d->max_outbound_rate, true);
  add_str(&ms, "serverId", d->server_id);
  add_str(&ms, "siteCode", d->site_code);
  write_members(&ms, NULL, w);
}

/* res: one {"serials": [...]} per publish, NULL serials as null. */
static void write_res(const struct protocol_message *pm,
                      struct wire_writer *w) {
  wire_writer__array(w, pm->n_res);
  for (size_t i = 0; i < pm->n_res; i++) {
    const struct publish_result *r = &pm->res[i];
    wire_writer__map(w, 1);
    wire_writer__key(w, "serials");
    wire_writer__array(w, r->count);
    for (size_t j = 0; j < r->count; j++) {
      if (r->serials[j]) wire_writer__str(w, r->serials[j]);
      else wire_writer__nil(w);
    }
  }
}

static void write_members(const struct members *ms,
                          const struct protocol_message *pm,
                          struct wire_writer *w) {
  wire_writer__map(w, ms->n);
  for (size_t i = 0; i < ms->n; i++) {
    wire_writer__key(w, ms->list[i].key);
    switch (ms->list[i].kind) {
    case MEMBER_STR: wire_writer__str(w, ms->list[i].str); break;
    case MEMBER_INT: wire_writer__int(w, ms->list[i].num); break;
    case MEMBER_ERROR: wire_writer__error_info(w, &pm->error); break;
    case MEMBER_MESSAGES:
      wire_writer__array(w, pm->n_messages);
      for (size_t j = 0; j < pm->n_messages; j++)
        message__write(pm->messages[j], w);
      break;
    case MEMBER_PRESENCE:
      wire_writer__array(w, pm->n_presence);
      for (size_t j = 0; j < pm->n_presence; j++)
        presence_message__write(pm->presence[j], w);
      break;
    case MEMBER_ANNOTATIONS:
      wire_writer__array(w, pm->n_annotations);
      for (size_t j = 0; j < pm->n_annotations; j++)
        annotation__write(pm->annotations[j], w);
      break;
    case MEMBER_PARAMS:
      wire_writer__map(w, pm->n_params);
      for (size_t j = 0; j < pm->n_params; j++)
        wire_writer__kv_str(w, pm->param_keys[j], pm->param_values[j]);
      break;
    case MEMBER_DETAILS: write_details(pm->connection_details, w); break;
    case MEMBER_RES: write_res(pm, w); break;
    }
  }
}

void protocol_message__write(const struct protocol_message *pm,
                             struct wire_writer *w) {
  struct members ms = {.n = 0};
  add_int(&ms, "action", pm->action, true);
  add_int(&ms, "flags", pm->flags, pm->flags != 0);
  add_str(&ms, "id", pm->id);
  add_str(&ms, "channel", pm->channel);
  add_str(&ms, "channelSerial", pm->channel_serial);
  add_str(&ms, "connectionId", pm->connection_id);
  add_str(&ms, "connectionKey", pm->connection_key);
  add_int(&ms, "msgSerial", pm->msg_serial, pm->has_msg_serial);
  add_int(&ms, "count", pm->count, pm->count != 0);
  add_int(&ms, "timestamp", pm->timestamp, pm->timestamp != 0);
  if (pm->has_error) add(&ms, "error", MEMBER_ERROR);
  if (pm->n_messages) add(&ms, "messages", MEMBER_MESSAGES);
  if (pm->n_presence || pm->action == PM_SYNC)
    add(&ms, "presence", MEMBER_PRESENCE);
  if (pm->n_annotations) add(&ms, "annotations", MEMBER_ANNOTATIONS);
  if (pm->n_params) add(&ms, "params", MEMBER_PARAMS);
  if (pm->connection_details) add(&ms, "connectionDetails", MEMBER_DETAILS);
  if (pm->n_res) add(&ms, "res", MEMBER_RES);
  write_members(&ms, pm, w);
}
