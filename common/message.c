/* message.c -- Message decoding, sizing and encoding (see message.h). */
#include "message.h"

#include <stdbool.h>
#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "message_version.h"

struct message *message__new(void) {
  struct message *m = herald_xcalloc(1, sizeof *m);
  atomic_init(&m->refs, 1);
  return m;
}

struct message *message__ref(struct message *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

void message__unref(struct message *m) {
  if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  herald_free(m->id);
  herald_free(m->name);
  herald_free(m->client_id);
  herald_free(m->connection_id);
  herald_free(m->serial);
  payload__cleanup(&m->payload);
  json_decref(m->extras);
  message_version__free(m->version);
  annotation__free(m->annotation);
  json_decref(m->summary);
  herald_free(m->summary_serial);
  herald_free(m);
}

int message__read_string(struct wire_value map, const char *key, char **out,
                         herald_error *err) {
  struct wire_value v = wire_value__get(map, key);
  enum wire_kind kind = wire_value__kind(v);
  if (kind == WIRE_ABSENT || kind == WIRE_NIL) return 0;
  size_t len;
  const char *s = wire_value__bytes(v, &len);
  if (kind != WIRE_STR || memchr(s, '\0', len))
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid message: %s must be a string without NUL",
                            key);
  *out = herald_xstrndup(s, len);
  return 0;
}

static int decode_extras(struct wire_value map, struct message *m,
                         herald_error *err) {
  struct wire_value v = wire_value__get(map, "extras");
  enum wire_kind kind = wire_value__kind(v);
  if (kind == WIRE_ABSENT || kind == WIRE_NIL) return 0;
  if (kind != WIRE_MAP)
    return herald_error_set(err, HERALD_E_INVALID_EXTRAS,
                            "Invalid message extras: must be an object");
  m->extras = wire_value__to_json(v);
  if (!m->extras)
    return herald_error_set(err, HERALD_E_INVALID_EXTRAS,
                            "Invalid message extras");
  return 0;
}

/* The members Messages and PresenceMessages share, and with
 * read_change a Message's action and what it changes. */
static int decode_item(struct wire_value v, bool read_change,
                       struct message **out, herald_error *err);

int message__decode_stored(struct wire_value v, struct message **out,
                           herald_error *err) {
  return decode_item(v, false, out, err);
}

static int decode_item(struct wire_value v, bool read_change,
                       struct message **out, herald_error *err) {
  if (wire_value__kind(v) != WIRE_MAP)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid message: must be an object");
  struct message *m = message__new();
  int rc = message__read_string(v, "id", &m->id, err);
  if (!rc) rc = message__read_string(v, "name", &m->name, err);
  if (!rc) rc = message__read_string(v, "clientId", &m->client_id, err);
  if (!rc) rc = payload__decode(v, &m->payload, err);
  if (!rc) rc = decode_extras(v, m, err);
  if (!rc && read_change) rc = message_version__decode(v, m, err);
  if (rc) {
    message__unref(m);
    return rc;
  }
  *out = m;
  return 0;
}

int message__decode(struct wire_value v, struct message **out,
                    herald_error *err) {
  return decode_item(v, true, out, err);
}

int message__decode_list(struct wire_value body, size_t max_count,
                         struct message ***out, size_t *count,
                         herald_error *err) {
  return message__decode_list_of(body, max_count, message__decode, out, count,
                                 err);
}

int message__decode_list_of(struct wire_value body, size_t max_count,
                            message_decoder decode, struct message ***out,
                            size_t *count, herald_error *err) {
  bool is_array = wire_value__kind(body) == WIRE_ARRAY;
  size_t n = is_array ? wire_value__count(body) : 1;
  if (n == 0)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid request body: no messages");
  if (n > max_count)
    return herald_error_set(err, HERALD_E_TOO_MANY_MESSAGES,
                            "Too many messages in one publish (%zu, limit %zu)",
                            n, max_count);
  struct message **list = herald_xcalloc(n, sizeof *list);
  for (size_t i = 0; i < n; i++) {
    int rc = decode(is_array ? wire_value__at(body, i) : body, &list[i], err);
    if (rc) {
      message__free_list(list, i);
      return rc;
    }
  }
  *out = list;
  *count = n;
  return 0;
}

void message__free_list(struct message **list, size_t count) {
  if (!list) return;
  for (size_t i = 0; i < count; i++) message__unref(list[i]);
  herald_free(list);
}

size_t message__size(const struct message *m) {
  size_t size = m->payload.len;
  if (m->name) size += strlen(m->name);
  if (m->client_id) size += strlen(m->client_id);
  if (m->extras) size += json_dumpb(m->extras, NULL, 0, JSON_COMPACT);
  return size;
}

/* The members of a Message, or of a PresenceMessage (no name, no
 * serial), with a "channel" member when channel is not NULL. A client's
 * publish has no action and a timestamp only when one was set. */
static void write_item(const struct message *m, struct wire_writer *w,
                       bool presence, const char *channel, bool publish) {
  const struct {
    const char *key;
    const char *value;
  } strings[] = {{"id", m->id},
                 {"name", presence ? NULL : m->name},
                 {"clientId", m->client_id},
                 {"connectionId", m->connection_id},
                 {"serial", presence ? NULL : m->version ? m->version->of : m->serial},
                 {"channel", channel}};
  /* A summary names the message it summarises by its serial alone. */
  bool version = m->version && m->action != MESSAGE_SUMMARY;
  size_t members = (publish ? m->timestamp != 0 : 2) +
                   payload__member_count(&m->payload, w->format) +
                   !!m->extras + version + !!m->summary;
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
    members += strings[i].value != NULL;
  wire_writer__map(w, members);
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
    if (strings[i].value) wire_writer__kv_str(w, strings[i].key, strings[i].value);
  payload__write(&m->payload, w);
  if (m->extras) {
    wire_writer__key(w, "extras");
    wire_writer__json(w, m->extras);
  }
  if (!publish || m->timestamp)
    wire_writer__kv_int(w, "timestamp",
                        m->version ? m->version->created : m->timestamp);
  if (!publish) wire_writer__kv_int(w, "action", m->action);
  if (version) message_version__write(m, w);
  if (m->summary) {
    wire_writer__key(w, "annotations");
    wire_writer__map(w, 1);
    wire_writer__key(w, "summary");
    wire_writer__json(w, m->summary);
  }
}

void message__write(const struct message *m, struct wire_writer *w) {
  write_item(m, w, false, NULL, false);
}

void message__write_publish(const struct message *m, struct wire_writer *w) {
  write_item(m, w, false, NULL, true);
}

void presence_message__write(const struct message *m, struct wire_writer *w) {
  write_item(m, w, true, NULL, false);
}

void message__write_in_channel(const struct message *m, bool presence,
                               const char *channel, struct wire_writer *w) {
  write_item(m, w, presence, channel, false);
}

int presence_message__decode(struct wire_value v, struct message **out,
                             herald_error *err) {
  int rc = decode_item(v, false, out, err);
  if (rc) return rc;
  struct message *m = *out;
  struct wire_value action = wire_value__get(v, "action");
  int64_t a;
  if (!wire_value__int(action, &a) ||
      (a != PRESENCE_ENTER && a != PRESENCE_LEAVE && a != PRESENCE_UPDATE)) {
    message__unref(m);
    *out = NULL;
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Invalid presence message: action must be enter "
                            "(2), leave (3) or update (4)");
  }
  m->action = (int)a;
  herald_free(m->name);
  m->name = NULL;
  return 0;
}

static char *dup_or_null(const char *s) { return s ? herald_xstrdup(s) : NULL; }

/* The members a presence item has too. */
static struct message *copy_item(const struct message *m) {
  struct message *c = message__new();
  c->id = dup_or_null(m->id);
  c->client_id = dup_or_null(m->client_id);
  c->connection_id = dup_or_null(m->connection_id);
  payload__copy(&c->payload, &m->payload);
  c->extras = m->extras ? json_deep_copy(m->extras) : NULL;
  c->timestamp = m->timestamp;
  c->action = m->action;
  return c;
}

struct message *message__copy(const struct message *m) {
  struct message *c = copy_item(m);
  c->name = dup_or_null(m->name);
  c->serial = dup_or_null(m->serial);
  c->version = message_version__copy(m->version);
  c->annotation = annotation__copy(m->annotation);
  c->summary = m->summary ? json_deep_copy(m->summary) : NULL;
  c->summary_serial = dup_or_null(m->summary_serial);
  return c;
}

struct message *presence_message__copy(const struct message *m, int action) {
  struct message *c = copy_item(m);
  c->action = action;
  return c;
}
