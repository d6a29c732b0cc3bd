/* router.h -- the route table: (method, path pattern) -> handler.
 *
 * Patterns are path segments where ":name" matches any one segment; a
 * handler reads the matched values from req->segments. A path that matches
 * no pattern answers 404/40400; a path that matches with another method
 * answers 405/40500; OPTIONS on any path is the CORS preflight. */
#ifndef HERALD_ROUTER_H
#define HERALD_ROUTER_H

#include "herald/errors.h"

struct http_request;

void router__dispatch(struct http_request *req);

/* Called once a request's head is in, when a body follows and before it is
 * read: refuses what the router would refuse whatever the body says (a
 * disallowed Origin, a route that needs credentials the request lacks), so
 * nobody without credentials makes the server buffer a body. 0, or -code
 * with err set (the request is then answered with it, unread). */
int router__precheck(struct http_request *req, herald_error *err);

#endif
