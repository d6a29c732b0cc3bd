/* router.c -- the route table and dispatch, the HTTP layer's handlers
 * (see router.h). */
#include "router.h"

#include <http_parser.h>
#include <string.h>

#include "auth/auth.h"
#include "realtime/realtime.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "server.h"
#include "transport/http.h"
#include "transport/websocket.h"

enum route_auth { ROUTE_PUBLIC, ROUTE_AUTHENTICATED };

/* ---- Realtime over HTTP: comet (connect, then its requests), event streams */

static struct realtime *realtime_of(struct http_request *req) {
  return &((struct server *)req->context)->realtime;
}

static void comet_connect(struct http_request *req) {
  realtime__comet(realtime_of(req), req);
}

static void comet_serve(struct http_request *req, enum comet_request what) {
  comet__serve(&realtime_of(req)->comets, req->segments[1], what, req);
}

static void comet_recv(struct http_request *req) { comet_serve(req, COMET_RECV); }
static void comet_send(struct http_request *req) { comet_serve(req, COMET_SEND); }
static void comet_close(struct http_request *req) {
  comet_serve(req, COMET_CLOSE);
}
static void comet_disconnect(struct http_request *req) {
  comet_serve(req, COMET_DISCONNECT);
}

/* GET /sse and GET /event-stream: realtime event streams, which
 * authenticate themselves. */
static void sse_get(struct http_request *req) {
  realtime_sse__sse(realtime_of(req), req);
}

static void event_stream_get(struct http_request *req) {
  realtime_sse__event_stream(realtime_of(req), req);
}

struct route {
  int method;
  const char *pattern; /* "/channels/:channel/messages" */
  void (*handler)(struct http_request *req);
  enum route_auth auth;
};

/* GET /readyz: not while stopping, nor while the store does not answer. */
static void readyz(struct http_request *req) {
  if (((struct server *)req->context)->stopping)
    http__respond(req, 503, "Content-Type: text/plain\r\n", "stopping\n", 9);
  else
    rest_metrics__readyz(req);
}

static const struct route routes[] = {
    {HTTP_GET, "/time", rest_time__get, ROUTE_PUBLIC},
    {HTTP_GET, "/stats", rest_stats__get, ROUTE_AUTHENTICATED},
    {HTTP_POST, "/stats", rest_stats__post, ROUTE_AUTHENTICATED},
    /* The operator's: /metrics checks its own bearer key. */
    {HTTP_GET, "/metrics", rest_metrics__get, ROUTE_PUBLIC},
    {HTTP_GET, "/healthz", rest_metrics__healthz, ROUTE_PUBLIC},
    {HTTP_GET, "/readyz", readyz, ROUTE_PUBLIC},
    {HTTP_GET, "/channels", rest_channels__list, ROUTE_AUTHENTICATED},
    {HTTP_GET, "/channels/:channel", rest_channels__status, ROUTE_AUTHENTICATED},
    {HTTP_POST, "/channels/:channel/messages", rest_publish__post,
     ROUTE_AUTHENTICATED},
    {HTTP_GET, "/channels/:channel/presence", rest_presence__get,
     ROUTE_AUTHENTICATED},
    {HTTP_GET, "/channels/:channel/presence/history", rest_history__presence,
     ROUTE_AUTHENTICATED},
    {HTTP_GET, "/channels/:channel/messages", rest_history__get,
     ROUTE_AUTHENTICATED},
    {HTTP_GET, "/channels/:channel/messages/:serial", rest_history__message,
     ROUTE_AUTHENTICATED},
    {HTTP_PATCH, "/channels/:channel/messages/:serial", rest_publish__patch,
     ROUTE_AUTHENTICATED},
    {HTTP_GET, "/channels/:channel/messages/:serial/versions",
     rest_history__versions, ROUTE_AUTHENTICATED},
    {HTTP_POST, "/channels/:channel/messages/:serial/annotations",
     rest_annotations__post, ROUTE_AUTHENTICATED},
    {HTTP_GET, "/channels/:channel/messages/:serial/annotations",
     rest_history__annotations, ROUTE_AUTHENTICATED},
    /* Ably Chat (rest_chat.c, rest_chat_reactions.c) */
    {HTTP_POST, "/chat/v4/rooms/:room/messages", rest_chat__send,
     ROUTE_AUTHENTICATED},
    {HTTP_GET, "/chat/v4/rooms/:room/messages", rest_chat__history,
     ROUTE_AUTHENTICATED},
    {HTTP_GET, "/chat/v4/rooms/:room/messages/:serial", rest_chat__message,
     ROUTE_AUTHENTICATED},
    {HTTP_PUT, "/chat/v4/rooms/:room/messages/:serial", rest_chat__update,
     ROUTE_AUTHENTICATED},
    {HTTP_POST, "/chat/v4/rooms/:room/messages/:serial/delete",
     rest_chat__delete, ROUTE_AUTHENTICATED},
    {HTTP_GET, "/chat/v4/rooms/:room/messages/:serial/versions",
     rest_chat__versions, ROUTE_AUTHENTICATED},
    {HTTP_POST, "/chat/v4/rooms/:room/messages/:serial/reactions",
     rest_chat_reactions__send, ROUTE_AUTHENTICATED},
    {HTTP_DELETE, "/chat/v4/rooms/:room/messages/:serial/reactions",
     rest_chat_reactions__delete, ROUTE_AUTHENTICATED},
    {HTTP_GET, "/chat/v4/rooms/:room/messages/:serial/client-reactions",
     rest_chat_reactions__client, ROUTE_AUTHENTICATED},
    {HTTP_GET, "/chat/v4/rooms/:room/occupancy", rest_chat__occupancy,
     ROUTE_AUTHENTICATED},
    {HTTP_POST, "/messages", rest_batch_publish__post, ROUTE_AUTHENTICATED},
    {HTTP_GET, "/presence", rest_batch_presence__get, ROUTE_AUTHENTICATED},
    /* Signed TokenRequests need no credentials; unsigned ones are checked
     * by the handler. */
    {HTTP_POST, "/keys/:key/requestToken", rest_tokens__request, ROUTE_PUBLIC},
    {HTTP_POST, "/keys/:key/revokeTokens", rest_tokens__revoke,
     ROUTE_AUTHENTICATED},
    {HTTP_GET, "/apps", rest_apps__list, ROUTE_PUBLIC},
    {HTTP_POST, "/apps", rest_apps__create, ROUTE_PUBLIC},
    {HTTP_DELETE, "/apps/:app", rest_apps__delete, ROUTE_PUBLIC},
    /* Rules check the admin key (or sandbox credentials) themselves. */
    {HTTP_POST, "/apps/:app/rules", rest_rules__create, ROUTE_PUBLIC},
    {HTTP_GET, "/apps/:app/rules", rest_rules__list, ROUTE_PUBLIC},
    {HTTP_GET, "/apps/:app/rules/:rule", rest_rules__get, ROUTE_PUBLIC},
    {HTTP_DELETE, "/apps/:app/rules/:rule", rest_rules__delete, ROUTE_PUBLIC},
    /* Comet: the connect authenticates itself; later requests name their
     * connection by its key, which is the credential. */
    {HTTP_GET, "/comet/connect", comet_connect, ROUTE_PUBLIC},
    {HTTP_GET, "/comet/:key/recv", comet_recv, ROUTE_PUBLIC},
    {HTTP_POST, "/comet/:key/send", comet_send, ROUTE_PUBLIC},
    {HTTP_GET, "/comet/:key/close", comet_close, ROUTE_PUBLIC},
    {HTTP_GET, "/comet/:key/disconnect", comet_disconnect, ROUTE_PUBLIC},
    /* The web console (--console): public files, signed in on the page. */
    {HTTP_GET, "/console", rest_console__page, ROUTE_PUBLIC},
    {HTTP_GET, "/console/:file", rest_console__file, ROUTE_PUBLIC},
    {HTTP_GET, "/sse", sse_get, ROUTE_PUBLIC},
    {HTTP_GET, "/event-stream", event_stream_get, ROUTE_PUBLIC},
};

/* Whether the request's segments match pattern segment by segment. */
static bool path_matches(const struct http_request *req, const char *pattern) {
  size_t i = 0;
  const char *p = pattern + 1;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (i == req->n_segments) return false;
    if (p[0] != ':' &&
        (strlen(req->segments[i]) != len || strncmp(req->segments[i], p, len)))
      return false;
    i++;
    p += len + (end ? 1 : 0);
  }
  return i == req->n_segments;
}

/* The route for req's method and path, or NULL; *on_path is a route with
 * that path whatever its method, or NULL. */
static const struct route *find_route(const struct http_request *req,
                                      const struct route **on_path) {
  *on_path = NULL;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (!path_matches(req, routes[i].pattern)) continue;
    *on_path = &routes[i];
    if (routes[i].method == req->method) return &routes[i];
  }
  return NULL;
}

/* 0 unless the path names a resource that does not exist: a key of
 * /keys/:key/..., whatever the method (-40400). */
static int check_exists(const struct route *on_path, struct http_request *req,
                        herald_error *err) {
  static const char keys[] = "/keys/:key/";
  if (on_path && !strncmp(on_path->pattern, keys, sizeof keys - 1))
    return rest_tokens__key_exists(req, err);
  return 0;
}

/* The request's credentials are there already when precheck authenticated
 * it. */
static void run(const struct route *route, struct http_request *req) {
  herald_error err;
  struct auth *auth = rest__auth(req);
  if (route->auth == ROUTE_AUTHENTICATED && !auth->app &&
      auth__authenticate(req, rest__context(req)->apps, auth, &err) != 0) {
    reply__error(req, &err);
    return;
  }
  route->handler(req);
}

/* Refuses a browser page whose Origin --allowed-origins does not list,
 * before anything happens on its behalf: REST, preflight and WebSocket
 * upgrade alike (a WebSocket handshake is not subject to CORS, so the
 * server is the only one to check it). 0 or -40300. */
static int check_origin(const struct http_request *req, herald_error *err) {
  if (reply__origin_allowed(req)) return 0;
  return herald_error_set(err, HERALD_E_FORBIDDEN, "Origin %s not allowed",
                          http__header(req, "origin"));
}

/* Every request is the REST layer's from its first handler on, whatever
 * answers it, so that replies find their context. */
static struct server *begin(struct http_request *req) {
  struct server *s = req->context;
  rest__begin(&s->rest, req);
  return s;
}

static int precheck(struct http_request *req, herald_error *err) {
  struct server *s = begin(req);
  int rc = check_origin(req, err);
  const struct route *on_path = NULL;
  const struct route *route = rc ? NULL : find_route(req, &on_path);
  if (!rc) rc = check_exists(on_path, req, err);
  if (!rc && route && route->auth == ROUTE_AUTHENTICATED)
    rc = auth__authenticate(req, s->rest.apps, rest__auth(req), err);
  if (rc) reply__negotiate(req); /* the refusal is answered in its format */
  return rc;
}

static void answer_error(struct http_request *req, const herald_error *err) {
  begin(req);
  reply__error(req, err);
}

static void dispatch(struct http_request *req) {
  struct server *s = begin(req);
  herald_error err;
  if (check_origin(req, &err)) {
    reply__negotiate(req);
    reply__error(req, &err);
    return;
  }
  if (websocket__requested(req)) { /* realtime, whatever the path */
    realtime__websocket(&s->realtime, req);
    return;
  }
  reply__negotiate(req);
  if (req->method == HTTP_OPTIONS) {
    reply__preflight(req);
    return;
  }
  const struct route *on_path;
  const struct route *route = find_route(req, &on_path);
  if (check_exists(on_path, req, &err)) {
    reply__error(req, &err);
    return;
  }
  if (route) {
    run(route, req);
    return;
  }
  if (on_path)
    herald_error_set(&err, HERALD_E_METHOD_NOT_ALLOWED, "Method %s not allowed",
                     http_method_str((enum http_method)req->method));
  else
    herald_error_set(&err, HERALD_E_NOT_FOUND, "No such resource");
  reply__error(req, &err);
}

struct http_handlers router__handlers(struct server *s) {
  return (struct http_handlers){.context = s,
                                .precheck = precheck,
                                .dispatch = dispatch,
                                .error = answer_error,
                                .end = rest__end};
}
