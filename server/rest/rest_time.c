/* rest_time.c -- GET /time: the server's clock, as [milliseconds]. */
#include "clock.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

/* GET /time */
void rest_time__get(struct http_request *req) {
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__array(&w, 1);
  wire_writer__int(&w, clock__now_ms());
  reply__send(req, 200, &w, NULL);
}
