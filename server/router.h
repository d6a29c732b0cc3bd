/* router.h -- the route table: (method, path pattern) -> handler.
 *
 * Patterns are path segments where ":name" matches any one segment; a
 * handler reads the matched values from req->segments. A path that matches
 * no pattern answers 404/40400; a path that matches with another method
 * answers 405/40500; OPTIONS on any path is the CORS preflight. */
#ifndef HERALD_ROUTER_H
#define HERALD_ROUTER_H

#include "transport/http.h"

struct server;

/* The HTTP layer's handlers for s: dispatch (the routes, the WebSocket
 * upgrade), precheck, error (an Ably error body) and end. The precheck
 * refuses what the router would refuse whatever the body says (a
 * disallowed Origin, a route that needs credentials the request lacks),
 * so nobody without credentials makes the server buffer a body. drained
 * is left to the caller. */
struct http_handlers router__handlers(struct server *s);

#endif
