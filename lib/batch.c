/* batch.c -- BatchResults, batch publish and batch presence (see
 * batch.h). */
#include "batch.h"

#include <string.h>

#include "alloc.h"
#include "messages.h"
#include "text.h"

/* herald_batch_results and what its items point into. */
struct batch {
  herald_batch_results pub;
  size_t cap;
  struct item_list *presence; /* per item */
  char **strings;             /* channel, message id, json per item */
};

static char *member_string(struct wire_value map, const char *key) {
  struct wire_value v = wire_value__get(map, key);
  size_t len;
  const char *s = wire_value__bytes(v, &len);
  return s && wire_value__kind(v) == WIRE_STR ? herald_xstrndup(s, len) : NULL;
}

static void grow(struct batch *b) {
  if (b->pub.count < b->cap) return;
  b->cap = b->cap ? 2 * b->cap : 8;
  b->pub.items = herald_xrealloc(b->pub.items, b->cap * sizeof *b->pub.items);
  b->presence = herald_xrealloc(b->presence, b->cap * sizeof *b->presence);
  b->strings = herald_xrealloc(b->strings, 3 * b->cap * sizeof *b->strings);
}

static int add_result(struct batch *b, struct wire_value v,
                      const herald_cipher_params *cipher, herald_error *err) {
  grow(b);
  size_t i = b->pub.count++;
  herald_batch_result *r = &b->pub.items[i];
  struct item_list *members = &b->presence[i];
  char **s = &b->strings[3 * i];
  memset(r, 0, sizeof *r);
  memset(members, 0, sizeof *members);
  s[0] = member_string(v, "channel");
  if (!s[0]) s[0] = member_string(v, "target");
  s[1] = member_string(v, "messageId");
  s[2] = NULL;
  struct item_list whole;
  int rc = messages__read(v, false, NULL, &whole, err);
  if (!rc) {
    s[2] = whole.json[0];
    whole.json[0] = NULL;
    messages__free(&whole);
    rc = messages__read(wire_value__get(v, "presence"), true, cipher, members,
                        err);
  }
  struct wire_value error = wire_value__get(v, "error");
  if (wire_value__kind(error) == WIRE_MAP) {
    r->failed = true;
    request__error_info(error, &r->error);
  }
  r->channel = s[0];
  r->message_id = s[1];
  r->json = s[2];
  r->presence = members->views;
  r->presence_count = members->n;
  return rc;
}

/* One BatchResult {successCount, failureCount, results}. */
static int add_batch_result(struct batch *b, struct wire_value v,
                            const herald_cipher_params *cipher,
                            herald_error *err) {
  struct wire_value results = wire_value__get(v, "results");
  if (wire_value__kind(results) != WIRE_ARRAY)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid batch response: no results");
  for (size_t i = 0; i < wire_value__count(results); i++) {
    int rc = add_result(b, wire_value__at(results, i), cipher, err);
    if (rc) return rc;
    if (b->pub.items[b->pub.count - 1].failed) b->pub.failure_count++;
    else b->pub.success_count++;
  }
  return 0;
}

static int read_batch(struct wire_value root, const herald_cipher_params *cipher,
                      struct batch *b, herald_error *err) {
  if (wire_value__kind(root) != WIRE_ARRAY)
    return add_batch_result(b, root, cipher, err);
  for (size_t i = 0; i < wire_value__count(root); i++) {
    int rc = add_batch_result(b, wire_value__at(root, i), cipher, err);
    if (rc) return rc;
  }
  return 0;
}

void herald_batch_results_free(herald_batch_results *r) {
  if (!r) return;
  struct batch *b = (struct batch *)r;
  for (size_t i = 0; i < r->count; i++) {
    messages__free(&b->presence[i]);
    for (size_t k = 0; k < 3; k++) herald_free(b->strings[3 * i + k]);
  }
  herald_free(r->items);
  herald_free(b->presence);
  herald_free(b->strings);
  herald_free(b);
}

int batch__call(herald_client *c, const struct request *r,
                const herald_cipher_params *cipher,
                herald_batch_results **out, herald_error *err) {
  struct transfer_response resp;
  int rc = request__call(c, r, &resp, err);
  if (rc) return rc;
  struct wire_doc doc;
  rc = request__parse(&resp, &doc, err);
  struct batch *b = herald_xcalloc(1, sizeof *b);
  if (!rc) {
    rc = read_batch(wire_doc__root(&doc), cipher, b, err);
    wire_doc__cleanup(&doc);
  }
  transfer__response_cleanup(&resp);
  if (rc || !out) herald_batch_results_free(&b->pub);
  else *out = &b->pub;
  return rc;
}

/* ---- Batch publish and presence -------------------------------------- */

static size_t count_channels(const char *const *channels) {
  size_t n = 0;
  while (channels && channels[n]) n++;
  return n;
}

static int write_spec(const herald_client *c, const herald_batch_spec *spec,
                      struct wire_writer *w, herald_error *err) {
  size_t n = count_channels(spec->channels);
  wire_writer__map(w, 2);
  wire_writer__key(w, "channels");
  wire_writer__array(w, n);
  for (size_t i = 0; i < n; i++) wire_writer__str(w, spec->channels[i]);
  wire_writer__key(w, "messages");
  bool ids = c->idempotent;
  for (size_t i = 0; i < spec->message_count; i++)
    if (spec->messages[i].id) ids = false;
  char *base = ids ? messages__id_base() : NULL; /* RSC22d */
  int rc = messages__write(spec->messages, spec->message_count, NULL, base, w,
                           err);
  herald_free(base);
  return rc;
}

int herald_batch_publish(herald_client *c, const herald_batch_spec *specs,
                         size_t n, herald_batch_results **out,
                         herald_error *err) {
  struct wire_writer w;
  wire_writer__init(&w, c->format);
  wire_writer__array(&w, n);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = write_spec(c, &specs[i], &w, err);
  size_t len = 0;
  char *body = rc ? NULL : wire_writer__finish(&w, &len);
  wire_writer__cleanup(&w);
  if (rc) return rc;
  if (!body)
    return herald_error_set(err, HERALD_E_INVALID_DATA,
                            "Invalid batch: a string is not UTF-8");
  struct request r = {.method = "POST", .path = "/messages", .body = body,
                      .body_len = len, .format = c->format,
                      .auth = REQUEST_AUTH_CLIENT};
  rc = batch__call(c, &r, NULL, out, err);
  herald_free(body);
  return rc;
}

int herald_batch_presence(herald_client *c, const char *const *channels,
                          herald_batch_results **out, herald_error *err) {
  struct text names = {0}, q = {0};
  for (size_t i = 0; channels && channels[i]; i++) {
    if (i) text__append(&names, ",");
    text__append(&names, channels[i]);
  }
  text__param(&q, "channels", names.s ? names.s : "");
  herald_free(names.s);
  struct request r = {.method = "GET", .path = "/presence", .query = q.s,
                      .format = c->format, .auth = REQUEST_AUTH_CLIENT};
  int rc = batch__call(c, &r, NULL, out, err);
  herald_free(q.s);
  return rc;
}
