/* webhook_payload.c -- building and signing webhook requests
 * (webhook_payload.h). */
#include "webhook_payload.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "base64.h"
#include "hmac.h"

void webhook_payload__event_free(struct webhook_event *e) {
  if (!e) return;
  herald_free(e->channel);
  herald_free(e->name);
  herald_free(e->serial);
  herald_free(e->items);
  herald_free(e->bare.id);
  herald_free(e->bare.client_id);
  herald_free(e->bare.connection_id);
  herald_free(e->bare.encoding);
  herald_free(e->bare.name);
  herald_free(e->bare.data);
  herald_free(e);
}

/* ---- Keeping events -------------------------------------------------------- */

static void kv_bytes(struct wire_writer *w, const char *key, const char *bytes,
                     size_t len) {
  wire_writer__key(w, key);
  wire_writer__bin(w, bytes, len); /* base64 in JSON */
}

static void kv_optional(struct wire_writer *w, const char *key, const char *s) {
  if (s) wire_writer__kv_str(w, key, s);
}

/* Written with the wire writer, not jansson: a sqlite publish keeps one
 * for each of its events, in the publish's own path. */
char *webhook_payload__event_json(const struct webhook_event *e) {
  const struct webhook_bare *b = &e->bare;
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__map(&w, 6 + !!b->id + !!b->client_id + !!b->connection_id +
                           !!b->encoding + !!b->name + !!b->data);
  wire_writer__kv_int(&w, "source", e->source);
  wire_writer__kv_str(&w, "channel", e->channel);
  wire_writer__kv_str(&w, "name", e->name);
  wire_writer__kv_str(&w, "serial", e->serial);
  wire_writer__kv_int(&w, "timestamp", e->timestamp);
  kv_bytes(&w, "items", e->items, e->items_len);
  kv_optional(&w, "id", b->id);
  kv_optional(&w, "clientId", b->client_id);
  kv_optional(&w, "connectionId", b->connection_id);
  kv_optional(&w, "encoding", b->encoding);
  kv_optional(&w, "messageName", b->name);
  if (b->data) kv_bytes(&w, "data", b->data, b->data_len);
  size_t len;
  char *json = wire_writer__finish(&w, &len); /* not NUL-terminated */
  wire_writer__cleanup(&w);
  char *out = herald_xstrndup(json, len);
  herald_free(json);
  return out;
}

static char *get_string(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? herald_xstrdup(s) : NULL;
}

/* The bytes of base64 member key into *out (NUL-terminated); false: none. */
static bool get_bytes(const json_t *o, const char *key, char **out,
                      size_t *len) {
  const char *text = json_string_value(json_object_get(o, key));
  if (!text) return false;
  *out = (char *)base64__decode(text, strlen(text), len);
  return *out != NULL;
}

struct webhook_event *webhook_payload__event_parse(const char *text) {
  json_t *o = json_loads(text, 0, NULL);
  json_int_t source = json_integer_value(json_object_get(o, "source"));
  struct webhook_event *e = herald_xcalloc(1, sizeof *e);
  e->source = (enum webhook_source)source;
  e->channel = get_string(o, "channel");
  e->name = get_string(o, "name");
  e->serial = get_string(o, "serial");
  e->timestamp = json_integer_value(json_object_get(o, "timestamp"));
  bool ok = source >= 0 && source < WEBHOOK_SOURCES && e->channel &&
            e->name && e->serial &&
            get_bytes(o, "items", &e->items, &e->items_len);
  struct webhook_bare *b = &e->bare;
  b->id = get_string(o, "id");
  b->client_id = get_string(o, "clientId");
  b->connection_id = get_string(o, "connectionId");
  b->encoding = get_string(o, "encoding");
  b->name = get_string(o, "messageName");
  if (json_object_get(o, "data"))
    ok = ok && get_bytes(o, "data", &b->data, &b->data_len);
  json_decref(o);
  if (ok) return e;
  webhook_payload__event_free(e);
  return NULL;
}

/* ---- Requests ---------------------------------------------------------------- */

static void add_header(struct webhook_request *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_header(struct webhook_request *req, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *line = herald_xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(line, (size_t)n + 1, fmt, ap);
  va_end(ap);
  req->headers = herald_xrealloc(req->headers,
                                 (req->n_headers + 1) * sizeof *req->headers);
  req->headers[req->n_headers++] = line;
}

/* The key the event's items go under. */
static const char *items_key(const struct webhook_event *e) {
  switch (e->source) {
  case WEBHOOK_MESSAGE: return "messages";
  case WEBHOOK_PRESENCE: return "presence";
  default: return "status";
  }
}

static void write_item(struct wire_writer *w, const char *rule_id,
                       const struct webhook_event *e) {
  wire_writer__map(w, 6);
  wire_writer__kv_str(w, "webhookId", rule_id);
  wire_writer__kv_str(w, "source", webhook_rule__source_name(e->source));
  wire_writer__kv_str(w, "serial", e->serial);
  wire_writer__kv_int(w, "timestamp", e->timestamp);
  wire_writer__kv_str(w, "name", e->name);
  wire_writer__key(w, "data");
  wire_writer__map(w, 3);
  wire_writer__kv_str(w, "channelId", e->channel);
  wire_writer__kv_str(w, "site", WEBHOOK_SITE);
  wire_writer__key(w, items_key(e));
  wire_writer__encoded(w, e->items, e->items_len);
}

static void write_batch(struct wire_writer *w, const struct webhook_rule *r,
                        struct webhook_event *const *events, size_t n) {
  wire_writer__map(w, 1);
  wire_writer__key(w, "items");
  wire_writer__array(w, n);
  for (size_t i = 0; i < n; i++) write_item(w, r->id, events[i]);
}

static void write_single(struct wire_writer *w, const struct webhook_rule *r,
                         const char *app_id, const struct webhook_event *e) {
  bool status = e->source == WEBHOOK_LIFECYCLE ||
                e->source == WEBHOOK_OCCUPANCY;
  wire_writer__map(w, status ? 7 : 6);
  wire_writer__kv_str(w, "source", webhook_rule__source_name(e->source));
  wire_writer__kv_str(w, "appId", app_id);
  wire_writer__kv_str(w, "channel", e->channel);
  wire_writer__kv_str(w, "site", WEBHOOK_SITE);
  wire_writer__kv_str(w, "ruleId", r->id);
  if (status) wire_writer__kv_str(w, "name", e->name);
  wire_writer__key(w, items_key(e));
  wire_writer__encoded(w, e->items, e->items_len);
}

static void bare_headers(struct webhook_request *req,
                         const struct webhook_rule *r, const char *app_id,
                         const struct webhook_event *e) {
  const struct webhook_bare *b = &e->bare;
  add_header(req, "X-Ably-Envelope-AppId: %s", app_id);
  add_header(req, "X-Ably-Envelope-Channel: %s", e->channel);
  add_header(req, "X-Ably-Envelope-RuleId: %s", r->id);
  add_header(req, "X-Ably-Envelope-Site: %s", WEBHOOK_SITE);
  add_header(req, "X-Ably-Envelope-Source: %s",
             webhook_rule__source_name(e->source));
  add_header(req, "X-Ably-Message-Id: %s", b->id ? b->id : "");
  add_header(req, "X-Ably-Message-Timestamp: %" PRId64, e->timestamp);
  if (b->name) add_header(req, "X-Ably-Message-Name: %s", b->name);
  if (b->client_id) add_header(req, "X-Ably-Message-Client-Id: %s", b->client_id);
  if (b->connection_id)
    add_header(req, "X-Ably-Message-Connection-Id: %s", b->connection_id);
  if (b->encoding) add_header(req, "X-Ably-Message-Encoding: %s", b->encoding);
}

/* A header line breaks no line (names and ids are the clients'). */
static void sanitize(char *line) {
  for (char *c = line; *c; c++)
    if (*c == '\r' || *c == '\n') *c = ' ';
}

char *webhook_payload__signature(const char *secret, const void *body,
                                 size_t len) {
  unsigned char mac[HMAC_SHA256_LEN];
  hmac__sha256(secret, strlen(secret), body, len, mac);
  char *out = herald_xmalloc(base64__encoded_size(sizeof mac));
  base64__encode(mac, sizeof mac, out);
  return out;
}

void webhook_payload__build(const struct webhook_rule *r, const char *app_id,
                            struct webhook_event *const *events, size_t n,
                            const char *secret, struct webhook_request *out) {
  memset(out, 0, sizeof *out);
  bool bare = !r->batch && !r->enveloped;
  if (bare) {
    out->len = events[0]->bare.data_len;
    out->body = herald_xmalloc(out->len + 1);
    memcpy(out->body, events[0]->bare.data ? events[0]->bare.data : "",
           out->len);
    bare_headers(out, r, app_id, events[0]);
  } else {
    struct wire_writer w;
    wire_writer__init(&w, r->format);
    if (r->batch) write_batch(&w, r, events, n);
    else write_single(&w, r, app_id, events[0]);
    out->body = wire_writer__finish(&w, &out->len);
    wire_writer__cleanup(&w);
    if (!out->body) out->body = herald_xstrdup(""), out->len = 0;
  }
  add_header(out, "Content-Type: %s",
             bare ? "application/octet-stream"
                  : wire_format__content_type(r->format));
  if (r->batch) add_header(out, "X-Ably-Version: %s", WEBHOOK_VERSION);
  for (size_t i = 0; i < r->n_headers; i++)
    add_header(out, "%s: %s", r->headers[i].name, r->headers[i].value);
  if (secret && r->signing_key) {
    char *sig = webhook_payload__signature(secret, out->body, out->len);
    add_header(out, "X-Ably-Key: %s", r->signing_key);
    add_header(out, "X-Ably-Signature: %s", sig);
    herald_free(sig);
  }
  for (size_t i = 0; i < out->n_headers; i++) sanitize(out->headers[i]);
}

void webhook_payload__request_cleanup(struct webhook_request *req) {
  herald_free(req->body);
  for (size_t i = 0; i < req->n_headers; i++) herald_free(req->headers[i]);
  herald_free(req->headers);
  memset(req, 0, sizeof *req);
}
