/* message_version.c -- changes of mutable messages (see message_version.h). */
#include "message_version.h"

#include <string.h>

#include "alloc.h"

static char *dup_or_null(const char *s) { return s ? herald_xstrdup(s) : NULL; }

struct message_version *message_version__copy(const struct message_version *v) {
  if (!v) return NULL;
  struct message_version *c = herald_xcalloc(1, sizeof *c);
  c->of = herald_xstrdup(v->of);
  c->created = v->created;
  c->client_id = dup_or_null(v->client_id);
  c->description = dup_or_null(v->description);
  c->metadata = v->metadata ? json_deep_copy(v->metadata) : NULL;
  return c;
}

void message_version__free(struct message_version *v) {
  if (!v) return;
  herald_free(v->of);
  herald_free(v->client_id);
  herald_free(v->description);
  json_decref(v->metadata);
  herald_free(v);
}

bool message_version__is_change(const struct message *m) {
  return m->action == MESSAGE_UPDATE || m->action == MESSAGE_DELETE ||
         m->action == MESSAGE_APPEND;
}

/* ---- Decoding ------------------------------------------------------------ */

static int invalid(herald_error *err, const char *what) {
  return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid message: %s", what);
}

/* The operation's metadata: an object of strings. */
static int decode_metadata(struct wire_value op, json_t **out,
                           herald_error *err) {
  struct wire_value v = wire_value__get(op, "metadata");
  enum wire_kind kind = wire_value__kind(v);
  if (kind == WIRE_ABSENT || kind == WIRE_NIL) return 0;
  if (kind != WIRE_MAP)
    return invalid(err, "the operation's metadata must be an object");
  json_t *metadata = wire_value__to_json(v);
  const char *key;
  json_t *value;
  json_object_foreach(metadata, key, value) {
    if (!json_is_string(value)) {
      json_decref(metadata);
      return invalid(err, "the operation's metadata values must be strings");
    }
  }
  *out = metadata;
  return 0;
}

int message_version__decode_operation(struct wire_value op,
                                      struct message_version *v,
                                      herald_error *err) {
  int rc = message__read_string(op, "clientId", &v->client_id, err);
  if (!rc) rc = message__read_string(op, "description", &v->description, err);
  if (!rc) rc = decode_metadata(op, &v->metadata, err);
  return rc;
}

/* "version": the operation (MessageOperation) of a change, if any. */
static int decode_operation(struct wire_value map, struct message_version *v,
                            herald_error *err) {
  struct wire_value op = wire_value__get(map, "version");
  enum wire_kind kind = wire_value__kind(op);
  if (kind == WIRE_ABSENT || kind == WIRE_NIL) return 0;
  if (kind != WIRE_MAP) return invalid(err, "version must be an object");
  return message_version__decode_operation(op, v, err);
}

int message_version__decode(struct wire_value v, struct message *m,
                            herald_error *err) {
  struct wire_value action = wire_value__get(v, "action");
  int64_t a = MESSAGE_CREATE;
  if (wire_value__kind(action) != WIRE_ABSENT && !wire_value__int(action, &a))
    return invalid(err, "action must be an integer");
  if (a != MESSAGE_CREATE && a != MESSAGE_UPDATE && a != MESSAGE_DELETE &&
      a != MESSAGE_APPEND)
    return invalid(err, "action must be create (0), update (1), delete (2) "
                        "or append (5)");
  m->action = (int)a;
  if (a == MESSAGE_CREATE) return 0;
  m->version = herald_xcalloc(1, sizeof *m->version);
  int rc = message__read_string(v, "serial", &m->version->of, err);
  if (!rc && (!m->version->of || !*m->version->of))
    rc = herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "This message lacks a serial");
  if (!rc) rc = decode_operation(v, m->version, err);
  return rc;
}

int message_version__decode_stored(struct wire_value v, struct message *m,
                                   herald_error *err) {
  if (wire_value__kind(wire_value__get(v, "version")) == WIRE_ABSENT) return 0;
  m->version = herald_xcalloc(1, sizeof *m->version);
  int rc = message__read_string(v, "serial", &m->version->of, err);
  if (!rc && !m->version->of) rc = invalid(err, "stored version without serial");
  if (!rc && !wire_value__int(wire_value__get(v, "timestamp"),
                              &m->version->created))
    rc = invalid(err, "stored version without timestamp");
  if (!rc) rc = decode_operation(v, m->version, err);
  return rc;
}

/* ---- Applying ------------------------------------------------------------ */

/* Whether an append may join data encoded so: the server never decodes
 * data, so only text or bytes as they are. */
static bool joinable(const char *encoding) {
  return !encoding || (!strstr(encoding, "json") && !strstr(encoding, "cipher"));
}

static int append_payload(struct payload *to, const struct payload *more,
                          herald_error *err) {
  if (more->type == PAYLOAD_NONE) return 0;
  if (to->type == PAYLOAD_NONE) {
    payload__copy(to, more);
    return 0;
  }
  bool same_encoding = (!to->encoding && !more->encoding) ||
                       (to->encoding && more->encoding &&
                        !strcmp(to->encoding, more->encoding));
  if (to->type != more->type || !same_encoding || !joinable(to->encoding))
    return invalid(err, "an append's data must be of the message's type and "
                        "encoding, and neither JSON nor encrypted");
  to->data = herald_xrealloc(to->data, to->len + more->len + 1);
  memcpy(to->data + to->len, more->data, more->len);
  to->len += more->len;
  to->data[to->len] = '\0';
  return 0;
}

/* The members of now a change keeps: identity and creation. */
static struct message *copy_identity(const struct message *now) {
  struct message *m = message__new();
  m->id = dup_or_null(now->id);
  m->client_id = dup_or_null(now->client_id);
  m->connection_id = dup_or_null(now->connection_id);
  return m;
}

int message_version__apply(const struct message *now,
                           const struct message *change, struct message **out,
                           herald_error *err) {
  struct message *m = copy_identity(now);
  const struct message *named = change->name ? change : now;
  m->name = dup_or_null(named->name);
  const struct message *extras = change->extras ? change : now;
  m->extras = extras->extras ? json_deep_copy(extras->extras) : NULL;
  int rc = 0;
  if (change->action == MESSAGE_APPEND) {
    payload__copy(&m->payload, &now->payload);
    rc = append_payload(&m->payload, &change->payload, err);
  } else {
    const struct message *data =
        change->payload.type != PAYLOAD_NONE ? change : now;
    payload__copy(&m->payload, &data->payload);
  }
  if (rc) {
    message__unref(m);
    return rc;
  }
  m->action = change->action == MESSAGE_DELETE ? MESSAGE_DELETE : MESSAGE_UPDATE;
  m->serial = dup_or_null(change->serial); /* NULL: a shared engine stamps */
  m->timestamp = change->timestamp;
  m->version = message_version__copy(change->version);
  m->version->created = now->version ? now->version->created : now->timestamp;
  m->summary = now->summary ? json_deep_copy(now->summary) : NULL;
  m->summary_serial = dup_or_null(now->summary_serial);
  *out = m;
  return 0;
}

/* ---- Stored form ----------------------------------------------------------- */

json_t *message_version__to_json(const struct message_version *v) {
  json_t *j = json_pack("{s:s, s:I}", "of", v->of, "created",
                        (json_int_t)v->created);
  if (v->client_id) json_object_set_new(j, "clientId", json_string(v->client_id));
  if (v->description)
    json_object_set_new(j, "description", json_string(v->description));
  if (v->metadata) json_object_set(j, "metadata", v->metadata);
  return j;
}

static char *json_dup(const json_t *j, const char *key) {
  const char *s = json_string_value(json_object_get(j, key));
  return s ? herald_xstrdup(s) : NULL;
}

struct message_version *message_version__from_json(const json_t *j) {
  const char *of = json_string_value(json_object_get(j, "of"));
  json_t *created = json_object_get(j, "created");
  json_t *metadata = json_object_get(j, "metadata");
  if (!of || !json_is_integer(created) || (metadata && !json_is_object(metadata)))
    return NULL;
  struct message_version *v = herald_xcalloc(1, sizeof *v);
  v->of = herald_xstrdup(of);
  v->created = json_integer_value(created);
  v->client_id = json_dup(j, "clientId");
  v->description = json_dup(j, "description");
  v->metadata = metadata ? json_deep_copy(metadata) : NULL;
  return v;
}

/* ---- Writing ------------------------------------------------------------- */

void message_version__write(const struct message *m, struct wire_writer *w) {
  const struct message_version *v = m->version;
  wire_writer__key(w, "version");
  wire_writer__map(w, 1 + !!m->serial + !!v->client_id + !!v->description +
                         !!v->metadata);
  if (m->serial) wire_writer__kv_str(w, "serial", m->serial); /* stamped */
  wire_writer__kv_int(w, "timestamp", m->timestamp);
  if (v->client_id) wire_writer__kv_str(w, "clientId", v->client_id);
  if (v->description) wire_writer__kv_str(w, "description", v->description);
  if (v->metadata) {
    wire_writer__key(w, "metadata");
    wire_writer__json(w, v->metadata);
  }
}
