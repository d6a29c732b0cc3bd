/* annotation.c -- Annotations on the wire (see annotation.h). */
#include "annotation.h"

#include <string.h>

#include "alloc.h"

static const struct {
  const char *name;
  enum annotation_method method;
} methods[] = {
    {"total.v1", ANNOTATION_TOTAL},       {"flag.v1", ANNOTATION_FLAG},
    {"distinct.v1", ANNOTATION_DISTINCT}, {"unique.v1", ANNOTATION_UNIQUE},
    {"multiple.v1", ANNOTATION_MULTIPLE},
};

enum annotation_method annotation__method(const char *type) {
  const char *colon = type ? strchr(type, ':') : NULL;
  if (!colon || colon == type) return ANNOTATION_METHOD_INVALID;
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (!strcmp(colon + 1, methods[i].name)) return methods[i].method;
  return ANNOTATION_METHOD_INVALID;
}

struct annotation *annotation__copy(const struct annotation *a) {
  if (!a) return NULL;
  struct annotation *c = herald_xcalloc(1, sizeof *c);
  c->type = herald_xstrdup(a->type);
  c->message_serial = herald_xstrdup(a->message_serial);
  c->count = a->count;
  c->has_count = a->has_count;
  return c;
}

void annotation__free(struct annotation *a) {
  if (!a) return;
  herald_free(a->type);
  herald_free(a->message_serial);
  herald_free(a);
}

/* ---- Decoding ------------------------------------------------------------ */

static int invalid(herald_error *err, const char *what) {
  return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid annotation: %s", what);
}

/* An optional integer member; *present says whether it is there. */
static int optional_int(struct wire_value map, const char *key, int64_t *out,
                        bool *present, herald_error *err) {
  struct wire_value v = wire_value__get(map, key);
  enum wire_kind kind = wire_value__kind(v);
  *present = kind != WIRE_ABSENT && kind != WIRE_NIL;
  if (*present && !wire_value__int(v, out))
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid annotation: %s must be an integer", key);
  return 0;
}

/* The members only annotations have, checked. */
static int decode_own(struct wire_value v, struct message *m,
                      herald_error *err) {
  struct annotation *a = m->annotation;
  int64_t action = ANNOTATION_CREATE;
  bool present;
  int rc = optional_int(v, "action", &action, &present, err);
  if (!rc && action != ANNOTATION_CREATE && action != ANNOTATION_DELETE)
    rc = invalid(err, "action must be annotation.create (0) or "
                      "annotation.delete (1)");
  m->action = (int)action;
  if (!rc) rc = message__read_string(v, "messageSerial", &a->message_serial, err);
  if (!rc && (!a->message_serial || !*a->message_serial))
    rc = invalid(err, "messageSerial is required");
  if (!rc) rc = message__read_string(v, "type", &a->type, err);
  if (!rc && annotation__method(a->type) == ANNOTATION_METHOD_INVALID)
    rc = invalid(err, "type must be \"<namespace>:<method>.v1\", the method "
                      "one of total, flag, distinct, unique or multiple");
  if (!rc) rc = optional_int(v, "count", &a->count, &a->has_count, err);
  if (!rc && a->has_count && a->count < 1)
    rc = invalid(err, "count must be a positive integer");
  if (!a->has_count) a->count = 1;
  return rc;
}

int annotation__decode(struct wire_value v, struct message **out,
                       herald_error *err) {
  struct message *m = NULL;
  int rc = message__decode_stored(v, &m, err); /* id, name, clientId, data */
  if (rc) return rc;
  m->annotation = herald_xcalloc(1, sizeof *m->annotation);
  rc = decode_own(v, m, err);
  if (rc) {
    message__unref(m);
    return rc;
  }
  *out = m;
  return 0;
}

/* ---- Writing ------------------------------------------------------------- */

void annotation__write(const struct message *m, struct wire_writer *w) {
  const struct annotation *a = m->annotation;
  const struct {
    const char *key;
    const char *value;
  } strings[] = {{"id", m->id},
                 {"serial", m->serial},
                 {"messageSerial", a->message_serial},
                 {"type", a->type},
                 {"name", m->name},
                 {"clientId", m->client_id},
                 {"connectionId", m->connection_id}};
  size_t n = sizeof strings / sizeof strings[0];
  size_t members = 2 + a->has_count + !!m->extras +
                   payload__member_count(&m->payload, w->format);
  for (size_t i = 0; i < n; i++) members += strings[i].value != NULL;
  wire_writer__map(w, members);
  wire_writer__kv_int(w, "action", m->action);
  for (size_t i = 0; i < n; i++)
    if (strings[i].value) wire_writer__kv_str(w, strings[i].key, strings[i].value);
  if (a->has_count) wire_writer__kv_int(w, "count", a->count);
  payload__write(&m->payload, w);
  if (m->extras) {
    wire_writer__key(w, "extras");
    wire_writer__json(w, m->extras);
  }
  wire_writer__kv_int(w, "timestamp", m->timestamp);
}
