/* rest.h -- the REST handlers, one file per resource (rest_*.c). Each
 * serves one route of router.c and has one shape: parse, authorise, act,
 * reply. */
#ifndef HERALD_REST_H
#define HERALD_REST_H

#include <stddef.h>

#include "herald/errors.h"
#include "wire.h"

struct http_request;
struct server;
struct channel_name;

void rest_time__get(struct http_request *req);
void rest_publish__post(struct http_request *req);
void rest_history__get(struct http_request *req);
void rest_history__presence(struct http_request *req);
void rest_presence__get(struct http_request *req);
void rest_channels__status(struct http_request *req);
void rest_channels__list(struct http_request *req);
void rest_tokens__request(struct http_request *req);
void rest_tokens__revoke(struct http_request *req);
void rest_apps__create(struct http_request *req);
void rest_apps__delete(struct http_request *req);

/* The server of the request's worker. */
struct server *rest__server(const struct http_request *req);

/* Parses the channel named by path segment i and checks `op` on it.
 * Returns 0 with *name filled, or a negative code with err set. */
int rest__channel(struct http_request *req, size_t i, unsigned op,
                  struct channel_name *name, herald_error *err);

/* Parses the request body in the format its Content-Type names (JSON
 * when absent or text/plain). 0, or -40001 with err set. */
int rest__parse_body(const struct http_request *req, struct wire_doc *doc,
                     herald_error *err);

/* Answers err, or 500 when err is NULL. */
void rest__fail(struct http_request *req, const herald_error *err);

#endif
