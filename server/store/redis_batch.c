/* redis_batch.c -- the redis engine's stored form of a publish (see
 * redis_batch.h). */
#include "store/redis_batch.h"

#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "message_version.h"
#include "serial.h"
#include "wire.h"

char *redis_batch__encode(const char *node, const char *message_id,
                          const char *connection_id,
                          struct message *const *messages, size_t count,
                          size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_MSGPACK);
  wire_writer__array(&w, 4);
  wire_writer__str(&w, node);
  wire_writer__str(&w, message_id);
  wire_writer__str(&w, connection_id);
  wire_writer__array(&w, count);
  for (size_t i = 0; i < count; i++) message__write(messages[i], &w);
  char *out = wire_writer__finish(&w, len);
  wire_writer__cleanup(&w);
  return out;
}

char *redis_batch__encode_annotation(const char *node, const char *message_id,
                                     const char *connection_id,
                                     const struct message *a,
                                     const struct message *latest,
                                     size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_MSGPACK);
  wire_writer__array(&w, 5);
  wire_writer__str(&w, node);
  wire_writer__str(&w, message_id);
  wire_writer__str(&w, connection_id);
  wire_writer__array(&w, 1);
  annotation__write(a, &w);
  wire_writer__map(&w, 3);
  wire_writer__kv_str(&w, "serial", latest->version ? latest->version->of
                                                    : latest->serial);
  wire_writer__kv_int(&w, "timestamp", latest->version ? latest->version->created
                                                       : latest->timestamp);
  wire_writer__key(&w, "summary");
  wire_writer__json(&w, latest->summary);
  char *out = wire_writer__finish(&w, len);
  wire_writer__cleanup(&w);
  return out;
}

bool redis_batch__parse_id(const char *id, size_t len, int64_t *ms,
                           unsigned *seq) {
  const char *dash = memchr(id, '-', len);
  if (!dash || dash == id || dash - id > 15 || len - (size_t)(dash - id) < 2 ||
      len - (size_t)(dash - id) > 4)
    return false;
  int64_t m = 0;
  for (const char *p = id; p < dash; p++) {
    if (*p < '0' || *p > '9') return false;
    m = m * 10 + (*p - '0');
  }
  unsigned s = 0;
  for (const char *p = dash + 1; p < id + len; p++) {
    if (*p < '0' || *p > '9') return false;
    s = s * 10 + (unsigned)(*p - '0');
  }
  if (s > 999) return false;
  *ms = m;
  *seq = s;
  return true;
}

static char *string_at(struct wire_value array, size_t i) {
  size_t len;
  struct wire_value v = wire_value__at(array, i);
  const char *s = wire_value__kind(v) == WIRE_STR ? wire_value__bytes(v, &len)
                                                  : NULL;
  return s && !memchr(s, '\0', len) ? herald_xstrndup(s, len) : NULL;
}

/* One stored Message: what message__decode_stored reads, what makes it a
 * version of another (message_version.h), plus the fields only the server
 * sets. */
static int decode_message(struct wire_value v, bool annotation,
                          struct message **out, herald_error *err) {
  int rc = annotation ? annotation__decode(v, out, err)
                      : message__decode_stored(v, out, err);
  if (rc) return rc;
  struct message *m = *out;
  rc = annotation ? 0 : message_version__decode_stored(v, m, err);
  if (rc) {
    message__unref(m);
    *out = NULL;
    return rc;
  }
  size_t len;
  struct wire_value conn = wire_value__get(v, "connectionId");
  const char *s = wire_value__kind(conn) == WIRE_STR
                      ? wire_value__bytes(conn, &len) : NULL;
  int64_t action = 0;
  wire_value__int(wire_value__get(v, "action"), &action);
  if (!s || memchr(s, '\0', len) || action < 0 || action > 255) {
    message__unref(m);
    *out = NULL;
    return herald_error_set(err, HERALD_E_INTERNAL,
                            "stored message without connectionId or action");
  }
  m->connection_id = herald_xstrndup(s, len);
  m->action = (int)action;
  return 0;
}

/* The annotated message of an annotation's batch, its summary counting up
 * to the annotation (serial). */
static int decode_latest(struct wire_value v, const char *serial,
                         struct redis_batch *b, herald_error *err) {
  struct message *m = b->latest = message__new();
  int64_t created;
  struct wire_value summary = wire_value__get(v, "summary");
  int rc = message__read_string(v, "serial", &m->serial, err);
  if (rc || !m->serial || !wire_value__int(wire_value__get(v, "timestamp"), &created) ||
      wire_value__kind(summary) != WIRE_MAP)
    return herald_error_set(err, HERALD_E_INTERNAL, "malformed stored summary");
  m->timestamp = created;
  m->summary = wire_value__to_json(summary);
  m->summary_serial = herald_xstrdup(serial);
  return m->summary ? 0 : herald_error_set(err, HERALD_E_INTERNAL,
                                           "malformed stored summary");
}

static int stamp(struct redis_batch *b, const char *node, int64_t ms,
                 unsigned seq, herald_error *err) {
  for (size_t i = 0; i < b->count; i++) {
    char serial[SERIAL_MAX];
    if (strlen(node) >= 24)
      return herald_error_set(err, HERALD_E_INTERNAL, "stored node too long");
    serial__format(serial, ms, seq, node, i);
    if (!serial__valid(serial))
      return herald_error_set(err, HERALD_E_INTERNAL, "stored node invalid");
    b->messages[i]->serial = herald_xstrdup(serial);
    b->messages[i]->timestamp = ms;
  }
  return 0;
}

static int decode_root(struct wire_value root, int64_t ms, unsigned seq,
                       struct redis_batch *b, herald_error *err) {
  size_t members = wire_value__kind(root) == WIRE_ARRAY
                       ? wire_value__count(root) : 0;
  if (members != 4 && members != 5)
    return herald_error_set(err, HERALD_E_INTERNAL, "malformed stored publish");
  bool annotation = members == 5;
  struct wire_value list = wire_value__at(root, 3);
  if (wire_value__kind(list) != WIRE_ARRAY || wire_value__count(list) == 0 ||
      (annotation && wire_value__count(list) != 1))
    return herald_error_set(err, HERALD_E_INTERNAL, "malformed stored publish");
  char *node = string_at(root, 0);
  b->message_id = string_at(root, 1);
  b->connection_id = string_at(root, 2);
  int rc = 0;
  if (!node || !b->message_id || !b->connection_id)
    rc = herald_error_set(err, HERALD_E_INTERNAL, "malformed stored publish");
  size_t n = wire_value__count(list);
  b->messages = herald_xcalloc(n, sizeof *b->messages);
  for (; !rc && b->count < n; b->count++)
    rc = decode_message(wire_value__at(list, b->count), annotation,
                        &b->messages[b->count], err);
  if (rc && b->count) b->count--; /* the failed one is not in the list */
  if (!rc) rc = stamp(b, node, ms, seq, err);
  if (!rc && annotation)
    rc = decode_latest(wire_value__at(root, 4), b->messages[0]->serial, b, err);
  herald_free(node);
  return rc;
}

int redis_batch__decode(const char *data, size_t len, int64_t ms,
                        unsigned seq, struct redis_batch *out,
                        herald_error *err) {
  memset(out, 0, sizeof *out);
  struct wire_doc doc;
  int rc = wire_doc__parse(&doc, WIRE_MSGPACK, data, len, err);
  if (rc) return rc;
  rc = decode_root(wire_doc__root(&doc), ms, seq, out, err);
  wire_doc__cleanup(&doc);
  if (rc) redis_batch__cleanup(out);
  return rc;
}

/* Decodes "<id> <batch>" into *b. */
static int decode_prefixed(const char *value, size_t len, struct redis_batch *b,
                           herald_error *err) {
  const char *space = memchr(value, ' ', len);
  int64_t ms;
  unsigned seq;
  if (!space || !redis_batch__parse_id(value, (size_t)(space - value), &ms, &seq))
    return herald_error_set(err, HERALD_E_INTERNAL, "malformed stored state");
  const char *batch = space + 1;
  return redis_batch__decode(batch, len - (size_t)(batch - value), ms, seq, b,
                             err);
}

int redis_batch__decode_summary(const char *value, size_t len,
                                struct message **out, herald_error *err) {
  struct redis_batch b;
  int rc = decode_prefixed(value, len, &b, err);
  if (rc) return rc;
  if (!b.latest) {
    redis_batch__cleanup(&b);
    return herald_error_set(err, HERALD_E_INTERNAL, "malformed stored summary");
  }
  *out = b.latest;
  b.latest = NULL;
  redis_batch__cleanup(&b);
  return 0;
}

int redis_batch__decode_state(const char *value, size_t len,
                              struct message **out, herald_error *err) {
  struct redis_batch b;
  int rc = decode_prefixed(value, len, &b, err);
  if (rc) return rc;
  if (b.count != 1 || !b.messages[0]->version) {
    redis_batch__cleanup(&b);
    return herald_error_set(err, HERALD_E_INTERNAL, "malformed stored state");
  }
  *out = b.messages[0];
  b.messages[0] = NULL;
  redis_batch__cleanup(&b);
  return 0;
}

char *redis_batch__encode_member(const char *node, const struct message *m,
                                 size_t *len) {
  struct message *present = presence_message__copy(m, PRESENCE_PRESENT);
  struct wire_writer w;
  wire_writer__init(&w, WIRE_MSGPACK);
  message__write(present, &w);
  size_t item_len;
  char *item = wire_writer__finish(&w, &item_len);
  wire_writer__cleanup(&w);
  message__unref(present);
  if (!item) return NULL;
  size_t node_len = strlen(node);
  char *out = herald_xmalloc(node_len + 1 + item_len);
  memcpy(out, node, node_len);
  out[node_len] = '|';
  memcpy(out + node_len + 1, item, item_len);
  herald_free(item);
  *len = node_len + 1 + item_len;
  return out;
}

int redis_batch__decode_member(const char *value, size_t len,
                               struct message **out, char **node,
                               herald_error *err) {
  const char *bar1 = memchr(value, '|', len);
  const char *bar2 = bar1 ? memchr(bar1 + 1, '|', len - (size_t)(bar1 + 1 - value))
                          : NULL;
  int64_t ms;
  unsigned seq;
  if (!bar2 || !redis_batch__parse_id(value, (size_t)(bar1 - value), &ms, &seq))
    return herald_error_set(err, HERALD_E_INTERNAL, "malformed stored member");
  const char *item = bar2 + 1;
  struct wire_doc doc;
  int rc = wire_doc__parse(&doc, WIRE_MSGPACK, item,
                           len - (size_t)(item - value), err);
  if (rc) return rc;
  rc = decode_message(wire_doc__root(&doc), false, out, err);
  wire_doc__cleanup(&doc);
  if (rc) return rc;
  (*out)->timestamp = ms;
  if (node) *node = herald_xstrndup(bar1 + 1, (size_t)(bar2 - bar1 - 1));
  return 0;
}

void redis_batch__cleanup(struct redis_batch *b) {
  herald_free(b->message_id);
  herald_free(b->connection_id);
  message__free_list(b->messages, b->count);
  if (b->latest) message__unref(b->latest);
  memset(b, 0, sizeof *b);
}
