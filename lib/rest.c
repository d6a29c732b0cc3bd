/* rest.c -- the client's calls outside channels: stats (RSC6), time
 * (RSC16) and request (RSC19). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "page.h"
#include "request.h"
#include "text.h"

static void int_param(struct text *q, const char *name, int64_t v) {
  char n[32];
  snprintf(n, sizeof n, "%lld", (long long)v);
  text__param(q, name, n);
}

int herald_stats(herald_client *c, const herald_stats_params *p,
                 herald_page **out, herald_error *err) {
  struct text q = {0};
  if (p && p->start) int_param(&q, "start", p->start);
  if (p && p->end) int_param(&q, "end", p->end);
  if (p && p->limit) int_param(&q, "limit", p->limit);
  if (p && p->direction == HERALD_FORWARDS) text__param(&q, "direction", "forwards");
  if (p && p->unit) text__param(&q, "unit", p->unit);
  struct page_query pq = {.path = "/stats", .query = q.s};
  int rc = page__get(c, &pq, out, err);
  herald_free(q.s);
  return rc;
}

int herald_time(herald_client *c, int64_t *ms, herald_error *err) {
  struct page_query q = {.path = "/time"};
  herald_page *page;
  int rc = page__get(c, &q, &page, err);
  if (rc) return rc;
  const char *first = herald_page_json(page, 0);
  long long t = 0;
  if (!first || sscanf(first, "%lld", &t) != 1 || t <= 0)
    rc = herald_error_set(err, HERALD_E_INTERNAL,
                          "Invalid /time response: %s", first ? first : "[]");
  else *ms = t;
  herald_page_free(page);
  return rc;
}

static bool method_valid(const char *m) {
  static const char *const methods[] = {"GET", "POST", "PUT", "PATCH",
                                        "DELETE", "HEAD"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (strcmp(m, methods[i]) == 0) return true;
  return false;
}

/* The JSON body in the client's format. */
static int body_in_format(const herald_client *c, const char *json,
                          char **body, size_t *len, herald_error *err) {
  struct wire_doc doc;
  int rc = wire_doc__parse(&doc, WIRE_JSON, json, strlen(json), err);
  if (rc) return rc;
  struct wire_writer w;
  wire_writer__init(&w, c->format);
  json_t *tree = wire_value__to_json(wire_doc__root(&doc));
  wire_writer__json(&w, tree);
  json_decref(tree);
  wire_doc__cleanup(&doc);
  *body = wire_writer__finish(&w, len);
  wire_writer__cleanup(&w);
  if (!*body)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid request body");
  return 0;
}

int herald_request(herald_client *c, const char *method, const char *path,
                   const char *const *params, const char *body_json,
                   const char *const *headers, herald_page **out,
                   herald_error *err) {
  if (!method_valid(method) || !path || path[0] != '/')
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid request: method %s, path %s", method,
                            path ? path : "(none)");
  char *body = NULL;
  size_t len = 0;
  if (body_json) {
    int rc = body_in_format(c, body_json, &body, &len, err);
    if (rc) return rc;
  }
  struct text q = {0};
  for (size_t i = 0; params && params[i] && params[i + 1]; i += 2)
    text__param(&q, params[i], params[i + 1]);
  struct request r = {.method = method, .path = path, .query = q.s,
                      .body = body, .body_len = len, .format = c->format,
                      .headers = headers, .auth = REQUEST_AUTH_CLIENT};
  struct transfer_response resp;
  int rc = request__send(c, &r, &resp, err);
  if (!rc) {
    struct page_query pq = {.path = path, .query = q.s};
    rc = page__of_response(c, &pq, &resp, out, err);
  }
  herald_free(q.s);
  herald_free(body);
  return rc;
}
