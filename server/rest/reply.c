/* reply.c -- REST responses: negotiation, envelope, CORS, Link headers and
 * Ably errors (see reply.h). */
#include "rest/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "channel/stats.h"
#include "core/log.h"
#include "rest/rest.h"
#include "transport/http.h"
#include "transport/http_headers.h"


void reply__negotiate(struct http_request *req) {
  const char *accept = http__header(req, "accept");
  const char *format = http__param(req, "format");
  const char *envelope = http__param(req, "envelope");
  const char *version = http__header(req, "x-ably-version");
  if (!version) version = http__param(req, "v");
  req->version = version ? atoi(version) : 0;
  if (accept && strstr(accept, "application/x-msgpack"))
    req->format = WIRE_MSGPACK;
  else if (accept && strstr(accept, "application/json"))
    req->format = WIRE_JSON;
  else
    req->format = format && !strcmp(format, "msgpack") ? WIRE_MSGPACK : WIRE_JSON;
  req->envelope = -1;
  if (envelope && !strcmp(envelope, "json")) req->envelope = WIRE_JSON;
  else if (envelope && !strcmp(envelope, "msgpack")) req->envelope = WIRE_MSGPACK;
  /* The whole enveloped body is one document in the envelope's format. */
  if (req->envelope >= 0) req->format = (enum wire_format)req->envelope;
}

void reply__writer(const struct http_request *req, struct wire_writer *w) {
  wire_writer__init(w, req->format);
}

bool reply__origin_allowed(const struct http_request *req) {
  return http_headers__origin_allowed(req,
                                      rest__context(req)->cfg->allowed_origins);
}

static void add_cors_headers(const struct http_request *req,
                             struct http_headers *h) {
  http_headers__cors(h, req, rest__context(req)->cfg->allowed_origins);
}

/* The Link header value, one entry per present relation, in the request
 * arena: sized to its URLs, which carry cursors of any length. */
static const char *format_links(struct http_request *req,
                                const struct reply_links *links) {
  const struct {
    const char *rel;
    const char *url;
  } rels[] = {{"first", links->first},
              {"current", links->current},
              {"next", links->next}};
  size_t size = 1;
  for (size_t i = 0; i < 3; i++)
    if (rels[i].url) size += strlen(rels[i].url) + strlen(rels[i].rel) + 12;
  char *out = arena__alloc(&req->arena, size);
  size_t n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < 3; i++)
    if (rels[i].url)
      n += (size_t)sprintf(out + n, "%s<%s>; rel=\"%s\"", n ? ", " : "",
                           rels[i].url, rels[i].rel);
  return out;
}

/* "Link: <value>\r\n" followed by the other header lines, in the request
 * arena (the fixed header buffer would cut a long Link short). */
static const char *prepend_link(struct http_request *req, const char *value,
                                const char *headers) {
  size_t size = strlen("Link: \r\n") + strlen(value) + strlen(headers) + 1;
  char *out = arena__alloc(&req->arena, size);
  snprintf(out, size, "Link: %s\r\n%s", value, headers);
  return out;
}

/* ASCII-only copy of an error message for the X-Ably-Errormessage header. */
static void ascii_message(const char *message, char *out, size_t size) {
  size_t n = 0;
  for (; *message && n + 1 < size; message++)
    out[n++] = (unsigned char)*message < 0x80 ? *message : '?';
  out[n] = '\0';
}

static size_t count_links(const struct reply_links *links) {
  return links ? !!links->first + !!links->current + !!links->next : 0;
}

/* {"statusCode", "response", "headers", "rel"} around the body. */
static void write_envelope(struct wire_writer *env, int status,
                           const struct wire_writer *body,
                           const struct reply_links *links,
                           const char *link_value, const herald_error *err) {
  size_t n_rel = count_links(links);
  wire_writer__map(env, 3 + (n_rel > 0));
  wire_writer__kv_int(env, "statusCode", status);
  wire_writer__key(env, "response");
  wire_writer__embed(env, body);
  wire_writer__key(env, "headers");
  wire_writer__map(env, (n_rel > 0) + (err ? 2 : 0));
  if (n_rel) wire_writer__kv_str(env, "link", link_value);
  if (err) {
    char code[16], message[HERALD_ERROR_MESSAGE_MAX];
    snprintf(code, sizeof code, "%d", err->code);
    ascii_message(err->message, message, sizeof message);
    wire_writer__kv_str(env, "x-ably-errorcode", code);
    wire_writer__kv_str(env, "x-ably-errormessage", message);
  }
  if (!n_rel) return;
  wire_writer__key(env, "rel");
  wire_writer__map(env, n_rel);
  if (links->first) wire_writer__kv_str(env, "first", links->first);
  if (links->current) wire_writer__kv_str(env, "current", links->current);
  if (links->next) wire_writer__kv_str(env, "next", links->next);
}

/* Counts an app's answered request for its statistics; token requests
 * are rest_tokens.c's, which knows their app even when unauthenticated. */
static void count_request(const struct http_request *req, int status) {
  bool token = req->n_segments == 3 && !strcmp(req->segments[0], "keys") &&
               !strcmp(req->segments[2], "requestToken");
  if (!token) stats__request(rest__auth(req)->app, false, status);
}

/* Sends body (possibly enveloped) with every header a REST response needs. */
static void send_document(struct http_request *req, int status,
                          struct wire_writer *body,
                          const struct reply_links *links,
                          const herald_error *err) {
  struct http_headers headers;
  http_headers__init(&headers);
  const char *link_value = count_links(links) ? format_links(req, links) : NULL;
  struct wire_writer enveloped, *out = body;
  int http_status = status;
  if (req->envelope >= 0) {
    wire_writer__init(&enveloped, body->format);
    write_envelope(&enveloped, status, body, links, link_value, err);
    out = &enveloped;
    http_status = 200;
  } else {
    if (err) {
      char code[16], message[HERALD_ERROR_MESSAGE_MAX];
      snprintf(code, sizeof code, "%d", err->code);
      ascii_message(err->message, message, sizeof message);
      http_headers__add(&headers, "X-Ably-Errorcode", code);
      http_headers__add(&headers, "X-Ably-Errormessage", message);
    }
  }
  http_headers__add(&headers, "Content-Type",
                    wire_format__content_type(out->format));
  add_cors_headers(req, &headers);
  const char *extra = link_value && req->envelope < 0
                          ? prepend_link(req, link_value, headers.buf)
                          : headers.buf;
  count_request(req, status);
  size_t body_len = 0;
  char *bytes = wire_writer__finish(out, &body_len);
  if (!bytes) {
    log_error("failed to encode a %d response", status);
    static const char internal[] =
        "{\"error\":{\"message\":\"internal error\",\"code\":50000,"
        "\"statusCode\":500}}";
    http__respond(req, 500, "Content-Type: application/json\r\n", internal,
                  sizeof internal - 1);
  } else {
    http__respond(req, http_status, extra, bytes, body_len);
  }
  herald_free(bytes);
  if (out == &enveloped) wire_writer__cleanup(&enveloped);
  wire_writer__cleanup(body);
}

void reply__send(struct http_request *req, int status, struct wire_writer *w,
                 const struct reply_links *links) {
  send_document(req, status, w, links, NULL);
}

void reply__error(struct http_request *req, const herald_error *err) {
  herald_error internal;
  if (!err) {
    herald_error_set(&internal, HERALD_E_INTERNAL, NULL);
    err = &internal;
  }
  if (err->status >= 500) log_error("%d %d %s", err->status, err->code, err->message);
  else log_debug("%d %d %s", err->status, err->code, err->message);
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__map(&w, 1);
  wire_writer__key(&w, "error");
  wire_writer__error_info(&w, err);
  send_document(req, err->status, &w, NULL, err);
}

void reply__write_batch_result(struct wire_writer *w,
                               const struct wire_writer *items, size_t n,
                               size_t failures) {
  wire_writer__map(w, 3);
  wire_writer__kv_int(w, "successCount", (int64_t)(n - failures));
  wire_writer__kv_int(w, "failureCount", (int64_t)failures);
  wire_writer__key(w, "results");
  wire_writer__embed(w, items);
}

void reply__write_batch_failure(struct wire_writer *w, const char *key,
                                const char *value, const herald_error *err) {
  wire_writer__map(w, 2);
  wire_writer__kv_str(w, key, value);
  wire_writer__key(w, "error");
  wire_writer__error_info(w, err);
}

void reply__legacy_batch(struct http_request *req, int status,
                         struct wire_writer *items, size_t failures) {
  if (!failures) {
    send_document(req, status, items, NULL, NULL);
    return;
  }
  herald_error err;
  herald_error_set(&err, HERALD_E_BATCH_ERROR, NULL);
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__map(&w, 2);
  wire_writer__key(&w, "error");
  wire_writer__error_info(&w, &err);
  wire_writer__key(&w, "batchResponse");
  wire_writer__embed(&w, items);
  wire_writer__cleanup(items);
  send_document(req, err.status, &w, NULL, &err);
}

void reply__batch(struct http_request *req, int status,
                  struct wire_writer *items, size_t n, size_t failures) {
  if (req->version < 3) {
    reply__legacy_batch(req, status, items, failures);
    return;
  }
  struct wire_writer w;
  reply__writer(req, &w);
  reply__write_batch_result(&w, items, n, failures);
  wire_writer__cleanup(items);
  send_document(req, status, &w, NULL, NULL);
}

void reply__no_content(struct http_request *req) {
  struct http_headers headers;
  http_headers__init(&headers);
  add_cors_headers(req, &headers);
  count_request(req, 204);
  http__respond(req, 204, headers.buf, NULL, 0);
}

void reply__preflight(struct http_request *req) {
  struct http_headers headers;
  http_headers__init(&headers);
  http_headers__preflight(&headers, req);
  http__respond(req, 204, headers.buf, NULL, 0);
}
