/* pagination.c -- page parameters and Link URLs (see pagination.h). */
#include "rest/pagination.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "transport/http.h"

static int parse_int(const char *text, int64_t *out) {
  if (!text || !*text) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || *end || v < 0) return -1;
  *out = v;
  return 0;
}

int pagination__parse_page(const struct http_request *req,
                           struct page_query *q, herald_error *err) {
  const char *limit = http__param(req, "limit");
  const char *direction = http__param(req, "direction");
  int64_t value;
  q->limit = PAGINATION_DEFAULT_LIMIT;
  if (limit) {
    if (parse_int(limit, &value) || value < 1 || value > PAGINATION_MAX_LIMIT)
      return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                              "Invalid limit '%s': must be 1 to %d", limit,
                              PAGINATION_MAX_LIMIT);
    q->limit = (size_t)value;
  }
  q->direction = STORE_BACKWARDS;
  if (direction && !strcmp(direction, "forwards")) q->direction = STORE_FORWARDS;
  else if (direction && strcmp(direction, "backwards"))
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid direction '%s'", direction);
  q->cursor = http__param(req, "cursor");
  if (q->cursor && !*q->cursor) q->cursor = NULL;
  return 0;
}

int pagination__parse(const struct http_request *req, struct page_query *q,
                      herald_error *err) {
  const char *start = http__param(req, "start");
  const char *end = http__param(req, "end");
  int rc = pagination__parse_page(req, q, err);
  if (rc) return rc;
  q->start = 0;
  if (start && parse_int(start, &q->start))
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid start '%s'", start);
  q->end = clock__now_ms();
  if (end && parse_int(end, &q->end))
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid end '%s'", end);
  if (q->start > q->end)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "start (%" PRId64 ") must not be after end (%" PRId64
                            ")", q->start, q->end);
  return 0;
}

/* Appends value percent-encoded (all but unreserved characters), so a
 * link never carries a raw ',', ';', ':', '<' or '>'. */
static size_t encode_component(char *out, const char *value) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
        (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
        *p == '~') {
      out[n++] = (char)*p;
    } else {
      out[n++] = '%';
      out[n++] = hex[*p >> 4];
      out[n++] = hex[*p & 15];
    }
  }
  return n;
}

static const char *build_link(struct http_request *req, const char *segment,
                              const struct page_param *params, size_t n_params,
                              const char *cursor) {
  size_t size = strlen(segment) + 8;
  for (size_t i = 0; i < n_params; i++)
    if (params[i].value)
      size += strlen(params[i].name) + 3 * strlen(params[i].value) + 2;
  if (cursor) size += 8 + 3 * strlen(cursor);
  char *url = arena__alloc(&req->arena, size);
  size_t n = (size_t)sprintf(url, "./%s?", segment);
  bool first = true;
  for (size_t i = 0; i <= n_params; i++) {
    const char *name = i < n_params ? params[i].name : "cursor";
    const char *value = i < n_params ? params[i].value : cursor;
    if (!value) continue;
    if (!first) url[n++] = '&';
    first = false;
    n += (size_t)sprintf(url + n, "%s=", name);
    n += encode_component(url + n, value);
  }
  url[n] = '\0';
  return url;
}

void pagination__links(struct http_request *req, const char *segment,
                       const struct page_param *params, size_t n_params,
                       const char *cursor, const char *next_cursor,
                       struct reply_links *links) {
  links->first = build_link(req, segment, params, n_params, NULL);
  links->current = build_link(req, segment, params, n_params, cursor);
  links->next =
      next_cursor ? build_link(req, segment, params, n_params, next_cursor)
                  : NULL;
}

size_t pagination__time_params(struct http_request *req,
                               const struct page_query *q,
                               struct page_param out[4]) {
  char *start = arena__alloc(&req->arena, 24);
  char *end = arena__alloc(&req->arena, 24);
  char *limit = arena__alloc(&req->arena, 24);
  snprintf(start, 24, "%" PRId64, q->start);
  snprintf(end, 24, "%" PRId64, q->end);
  snprintf(limit, 24, "%zu", q->limit);
  out[0] = (struct page_param){"start", start};
  out[1] = (struct page_param){"end", end};
  out[2] = (struct page_param){"limit", limit};
  out[3] = (struct page_param){"direction", q->direction == STORE_FORWARDS
                                                ? "forwards"
                                                : "backwards"};
  return 4;
}
