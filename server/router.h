/* router.h -- the route table: (method, path pattern) -> handler.
 *
 * Patterns are path segments where ":name" matches any one segment; a
 * handler reads the matched values from req->segments. A path that matches
 * no pattern answers 404/40400; a path that matches with another method
 * answers 405/40500; OPTIONS on any path is the CORS preflight. */
#ifndef HERALD_ROUTER_H
#define HERALD_ROUTER_H

struct http_request;

void router__dispatch(struct http_request *req);

#endif
