/* rest.c -- helpers shared by the REST handlers (see rest.h). */
#include "rest.h"

#include <string.h>

#include "auth.h"
#include "channel_name.h"
#include "http.h"
#include "reply.h"
#include "worker.h"

struct server *rest__server(const struct http_request *req) {
  return req->worker->server;
}

int rest__channel(struct http_request *req, size_t i, unsigned op,
                  struct channel_name *name, herald_error *err) {
  const char *raw = req->segments[i];
  int rc = channel_name__parse(raw, strlen(raw), name, err);
  if (rc) return rc;
  return auth__check(&req->auth, raw, strlen(raw), op, err);
}

void rest__fail(struct http_request *req, const herald_error *err) {
  herald_error internal;
  if (!err) {
    herald_error_set(&internal, HERALD_E_INTERNAL, NULL);
    err = &internal;
  }
  reply__error(req, err);
}
