/* messages.c -- publish bodies and decoded answers (see messages.h). */
#include "messages.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "data.h"

#define ID_BASE_BYTES 9

static void view_of(herald_message *view, struct message *m, char *extras,
                    herald_data_type type) {
  *view = (herald_message){
      .id = m->id, .name = m->name, .client_id = m->client_id,
      .connection_id = m->connection_id,
      .data = {type, m->payload.data, m->payload.len},
      .encoding = m->payload.encoding, .extras = extras,
      .timestamp = m->timestamp, .serial = m->serial, .action = m->action};
}

/* The members message__decode_stored leaves to the reader. */
static int decode_message(struct wire_value v, const herald_cipher_params *cipher,
                          struct message **out, herald_data_type *type,
                          herald_error *err) {
  struct message *m;
  int rc = message__decode_stored(v, &m, err);
  if (rc) return rc;
  rc = message__read_string(v, "connectionId", &m->connection_id, err);
  if (!rc) rc = message__read_string(v, "serial", &m->serial, err);
  if (rc) {
    message__unref(m);
    return rc;
  }
  int64_t n;
  if (wire_value__int(wire_value__get(v, "timestamp"), &n)) m->timestamp = n;
  if (wire_value__int(wire_value__get(v, "action"), &n)) m->action = (int)n;
  data__decode(&m->payload, cipher, type);
  *out = m;
  return 0;
}

static char *json_text(struct wire_value v) {
  json_t *tree = wire_value__to_json(v);
  char *text = tree ? json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(tree);
  char *copy = herald_xstrdup(text ? text : "null");
  free(text); /* jansson's allocation */
  return copy;
}

static void alloc_list(struct item_list *l, size_t n, bool as_messages) {
  l->n = n;
  l->json = herald_xcalloc(n ? n : 1, sizeof *l->json);
  if (!as_messages) return;
  l->views = herald_xcalloc(n ? n : 1, sizeof *l->views);
  l->messages = herald_xcalloc(n ? n : 1, sizeof *l->messages);
  l->extras = herald_xcalloc(n ? n : 1, sizeof *l->extras);
}

static int read_item(struct wire_value v, size_t i, const herald_cipher_params *cipher,
                     struct item_list *l, herald_error *err) {
  l->json[i] = json_text(v);
  if (!l->views) return 0;
  herald_data_type type;
  int rc = decode_message(v, cipher, &l->messages[i], &type, err);
  if (rc) return rc;
  struct message *m = l->messages[i];
  if (m->extras) {
    char *text = json_dumps(m->extras, JSON_COMPACT);
    l->extras[i] = herald_xstrdup(text ? text : "{}");
    free(text);
  }
  view_of(&l->views[i], m, l->extras[i], type);
  return 0;
}

int messages__read(struct wire_value v, bool as_messages,
                   const herald_cipher_params *cipher, struct item_list *out,
                   herald_error *err) {
  memset(out, 0, sizeof *out);
  enum wire_kind kind = wire_value__kind(v);
  bool none = kind == WIRE_ABSENT || kind == WIRE_NIL;
  bool array = kind == WIRE_ARRAY;
  size_t n = none ? 0 : array ? wire_value__count(v) : 1;
  alloc_list(out, n, as_messages);
  for (size_t i = 0; i < n; i++) {
    int rc = read_item(array ? wire_value__at(v, i) : v, i, cipher, out, err);
    if (rc) {
      messages__free(out);
      return rc;
    }
  }
  return 0;
}

void messages__free(struct item_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    herald_free(l->json[i]);
    if (!l->views) continue;
    message__unref(l->messages[i]);
    herald_free(l->extras[i]);
  }
  herald_free(l->json);
  herald_free(l->views);
  herald_free(l->messages);
  herald_free(l->extras);
  memset(l, 0, sizeof *l);
}

/* ---- Publishing ----------------------------------------------------- */

char *messages__id_base(void) {
  unsigned char bytes[ID_BASE_BYTES];
  if (RAND_bytes(bytes, sizeof bytes) != 1) herald_oom("randomness");
  char *base = herald_xmalloc(base64__encoded_size(sizeof bytes));
  base64__encode(bytes, sizeof bytes, base);
  return base;
}

static char *dup_or_null(const char *s) { return s ? herald_xstrdup(s) : NULL; }

static int message_of(const herald_message *in, size_t index,
                      const herald_cipher_params *cipher, const char *id_base,
                      struct message **out, herald_error *err) {
  struct message *m = message__new();
  m->name = dup_or_null(in->name);
  m->client_id = dup_or_null(in->client_id);
  m->timestamp = in->timestamp;
  if (in->id) m->id = herald_xstrdup(in->id);
  else if (id_base) {
    char id[64];
    snprintf(id, sizeof id, "%s:%zu", id_base, index);
    m->id = herald_xstrdup(id);
  }
  int rc = data__encode(&in->data, cipher, NULL, &m->payload, err);
  if (!rc && in->extras) {
    json_error_t e;
    m->extras = json_loads(in->extras, 0, &e);
    if (!json_is_object(m->extras))
      rc = herald_error_set(err, HERALD_E_INVALID_EXTRAS,
                            "Invalid extras: a JSON object");
  }
  if (rc) {
    message__unref(m);
    return rc;
  }
  *out = m;
  return 0;
}

int messages__write(const herald_message *messages, size_t n,
                    const herald_cipher_params *cipher, const char *id_base,
                    struct wire_writer *w, herald_error *err) {
  struct message **list = herald_xcalloc(n ? n : 1, sizeof *list);
  int rc = 0;
  size_t made = 0;
  for (; made < n && !rc; made++)
    rc = message_of(&messages[made], made, cipher, id_base, &list[made], err);
  if (rc) made--;
  if (!rc) {
    wire_writer__array(w, n);
    for (size_t i = 0; i < n; i++) message__write_publish(list[i], w);
  }
  message__free_list(list, made);
  return rc;
}

int messages__publish_body(const herald_message *messages, size_t n,
                           const herald_cipher_params *cipher,
                           const char *id_base, enum wire_format format,
                           char **body, size_t *len, herald_error *err) {
  struct wire_writer w;
  wire_writer__init(&w, format);
  int rc = messages__write(messages, n, cipher, id_base, &w, err);
  if (!rc && !(*body = wire_writer__finish(&w, len)))
    rc = herald_error_set(err, HERALD_E_INVALID_DATA,
                          "Invalid message: a string is not UTF-8");
  wire_writer__cleanup(&w);
  return rc;
}
