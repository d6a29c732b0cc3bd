/* rest.c -- helpers shared by the REST handlers (see rest.h). */
#include "rest/rest.h"

#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "capability.h"
#include "channel/meta_channels.h"
#include "channel_name.h"
#include "hashmap.h"
#include "hmac.h"
#include "transport/http.h"

/* What the REST layer keeps of a request (req->data). */
struct rest_request {
  struct rest *rest;
  struct auth auth;
};

void rest__begin(struct rest *r, struct http_request *req) {
  if (req->data) return; /* begun at the precheck already */
  struct rest_request *rr = arena__alloc(&req->arena, sizeof *rr);
  memset(rr, 0, sizeof *rr);
  rr->rest = r;
  req->data = rr;
}

void rest__end(struct http_request *req) {
  struct rest_request *rr = req->data;
  if (rr) auth__release(&rr->auth);
}

struct rest *rest__context(const struct http_request *req) {
  return ((struct rest_request *)req->data)->rest;
}

struct auth *rest__auth(const struct http_request *req) {
  return &((struct rest_request *)req->data)->auth;
}

int rest__channel(struct http_request *req, size_t i, unsigned op,
                  struct channel_name *name, herald_error *err) {
  return rest__named_channel(req, req->segments[i], op, name, err);
}

int rest__named_channel(const struct http_request *req, const char *raw,
                        unsigned op, struct channel_name *name,
                        herald_error *err) {
  int rc = channel_name__parse(raw, strlen(raw), name, err);
  if (rc) return rc;
  if (name->filter)
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "Invalid channel name: a subscription filter "
                            "qualifier is for realtime subscriptions only "
                            "(channel = %.100s)", raw);
  if (op == CAPABILITY_OP_PUBLISH) { /* metachannels are subscribe-only */
    rc = meta_channels__refuse_write(name, "Publishing", err);
    if (rc) return rc;
  }
  return auth__check(rest__auth(req), raw, strlen(raw), op, err);
}

int rest__batch_channel(struct hashmap *distinct, const char *name,
                        size_t len, herald_error *err) {
  if (distinct->count < REST_BATCH_MAX_CHANNELS)
    hashmap__put(distinct, name, len, distinct);
  else if (!hashmap__get(distinct, name, len))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "A batch request may address at most %d "
                            "distinct channels", REST_BATCH_MAX_CHANNELS);
  return 0;
}

int rest__parse_body(const struct http_request *req, struct wire_doc *doc,
                     herald_error *err) {
  const char *type = http__header(req, "content-type");
  int format = WIRE_JSON;
  if (type && strncasecmp(type, "text/plain", 10))
    format = wire_format__from_content_type(type, strlen(type));
  if (format < 0)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Unsupported content type '%s'", type);
  return wire_doc__parse(doc, (enum wire_format)format,
                         req->body ? req->body : "", req->body_len, err);
}

bool rest__bearer_is(const struct http_request *req, const char *secret) {
  const char *authorization = http__header(req, "authorization");
  const char *given = authorization && !strncasecmp(authorization, "Bearer ", 7)
                          ? authorization + 7
                          : NULL;
  return secret && given && strlen(given) == strlen(secret) &&
         hmac__equal(given, secret, strlen(given));
}
