/* pagination.h -- paginated query parameters and Link URLs (rest.md 6).
 *
 * Parses limit/direction/start/end/cursor with Ably's defaults and bounds,
 * and builds the relative "./<segment>?<query>" URLs of the first, current
 * and next pages, each carrying the complete query state. */
#ifndef HERALD_PAGINATION_H
#define HERALD_PAGINATION_H

#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"
#include "rest/reply.h"
#include "store/store.h"

struct http_request;

#define PAGINATION_DEFAULT_LIMIT 100
#define PAGINATION_MAX_LIMIT 1000

struct page_query {
  int64_t start;
  int64_t end; /* resolved to now when absent, so "first" is repeatable */
  enum store_direction direction;
  size_t limit;
  const char *cursor; /* request arena, or NULL */
};

/* Reads limit, direction and cursor of req (start and end left alone).
 * Returns 0 or -40003 with err set. */
int pagination__parse_page(const struct http_request *req,
                           struct page_query *q, herald_error *err);

/* Reads the page parameters of req. Returns 0 or -40003 with err set. */
int pagination__parse(const struct http_request *req, struct page_query *q,
                      herald_error *err);

/* A query parameter carried into every link (filters such as prefix). */
struct page_param {
  const char *name;
  const char *value; /* NULL: left out */
};

/* Fills links for a page of `segment` ("messages", "channels", ...): the
 * parameters given, plus the cursor for current and next. Strings live in
 * the request arena. */
void pagination__links(struct http_request *req, const char *segment,
                       const struct page_param *params, size_t n_params,
                       const char *cursor, const char *next_cursor,
                       struct reply_links *links);

/* The standard parameters of a time-bounded query, for pagination__links. */
size_t pagination__time_params(struct http_request *req,
                               const struct page_query *q,
                               struct page_param out[4]);

#endif
