/* reply.h -- turning handler results into HTTP responses: content
 * negotiation (rest.md 2), the envelope (7), CORS (8), Link headers (6) and
 * Ably error bodies and headers (5). The only exits to the wire for REST. */
#ifndef HERALD_REPLY_H
#define HERALD_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/errors.h"
#include "wire.h"

struct http_request;

/* Chooses req->format and req->envelope from Accept, format= and
 * envelope=. Called by the router before any handler. */
void reply__negotiate(struct http_request *req);

/* Starts a writer in the request's response format. */
void reply__writer(const struct http_request *req, struct wire_writer *w);

/* Pagination links of a page (rest.md 6): relative URLs such as
 * "./messages?limit=10&cursor=..."; NULL members are left out. */
struct reply_links {
  const char *first;
  const char *current;
  const char *next;
};

/* Answers with status and the body written into w (w is cleaned up).
 * links may be NULL for responses that are not paginated. */
void reply__send(struct http_request *req, int status, struct wire_writer *w,
                 const struct reply_links *links);

/* Answers with an Ably error: {"error":{message,code,statusCode,href}}
 * plus X-Ably-Errorcode/X-Ably-Errormessage; a 500 when err is NULL. */
void reply__error(struct http_request *req, const herald_error *err);

/* Writes a BatchResult {successCount, failureCount, results} (rest.md
 * 12.2) whose results are the n items of `items`, a finished array writer
 * of w's format. */
void reply__write_batch_result(struct wire_writer *w,
                               const struct wire_writer *items, size_t n,
                               size_t failures);

/* Writes a failed batch item {<key>: value, error: ErrorInfo} (the
 * failure items of rest.md 12.2, 13.2 and 14.2). */
void reply__write_batch_failure(struct wire_writer *w, const char *key,
                                const char *value, const herald_error *err);

/* The legacy batch answer (X-Ably-Version <= 2, rest.md 12.1): `status`
 * with the items array when none failed, else 400 with error 40020 and the
 * items as batchResponse. items is cleaned up. */
void reply__legacy_batch(struct http_request *req, int status,
                         struct wire_writer *items, size_t failures);

/* A batch answer in the form the request's version asks for: from 3 on,
 * `status` with one BatchResult even when some items failed (rest.md 13.2,
 * 14.2), else reply__legacy_batch. items (n of them) is cleaned up. */
void reply__batch(struct http_request *req, int status,
                  struct wire_writer *items, size_t n, size_t failures);

/* The CORS header lines a REST response to req carries ("Name: v\r\n"
 * each), in req's arena: for a response another layer writes (an event
 * stream). */
const char *reply__cors_headers(struct http_request *req);

/* Answers 204 No Content. */
void reply__no_content(struct http_request *req);

/* Answers a CORS preflight (OPTIONS). */
void reply__preflight(struct http_request *req);

/* Whether the request may be served given its Origin header: true without
 * one (not a browser), else when --allowed-origins is "*" or lists it. */
bool reply__origin_allowed(const struct http_request *req);

#endif
