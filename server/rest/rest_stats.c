/* rest_stats.c -- GET /stats (an app's statistics, rest.md 15) and, in
 * sandbox mode, POST /stats (SDK test suites' fixtures, rest.md 17.3). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "channel/stats_minutes.h"
#include "clock.h"
#include "rest/pagination.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

static int invalid(herald_error *err, const char *name, const char *value) {
  return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid %s '%s'", name, value);
}

/* unit (or its alias by), start, end and cursor of req into q. */
static int parse_query(const struct http_request *req, struct stats_query *q,
                       int64_t now, herald_error *err) {
  const char *unit = http__param(req, "unit");
  if (!unit) unit = http__param(req, "by");
  q->unit = STATS_MINUTE;
  if (unit && stats_interval__unit(unit, &q->unit))
    return invalid(err, "unit", unit);
  const char *start = http__param(req, "start"), *end = http__param(req, "end");
  int64_t ignored;
  q->first = 0;
  if (start && stats_interval__parse(start, &q->first, &ignored))
    return invalid(err, "start", start);
  q->last = now;
  if (end && stats_interval__parse(end, &ignored, &q->last))
    return invalid(err, "end", end);
  if (q->first > q->last)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "start (%s) must not be after end (%s)",
                            start ? start : "0", end ? end : "now");
  return 0;
}

static int parse_cursor(const char *cursor, int64_t *out, herald_error *err) {
  *out = -1;
  if (!cursor) return 0;
  char *end;
  long long v = strtoll(cursor, &end, 10);
  if (*end || v < 0) return invalid(err, "cursor", cursor);
  *out = v;
  return 0;
}

/* The parameters every link of the page carries. */
static size_t link_params(struct http_request *req, const struct stats_query *q,
                          struct page_param out[5]) {
  const char *end = http__param(req, "end");
  if (!end) { /* "now", pinned, so that the first page stays the same */
    char *text = arena__alloc(&req->arena, 24);
    snprintf(text, 24, "%" PRId64, q->last);
    end = text;
  }
  char *limit = arena__alloc(&req->arena, 24);
  snprintf(limit, 24, "%zu", q->limit);
  out[0] = (struct page_param){"start", http__param(req, "start")};
  out[1] = (struct page_param){"end", end};
  out[2] = (struct page_param){"unit", stats_interval__unit_name(q->unit)};
  out[3] = (struct page_param){"limit", limit};
  out[4] = (struct page_param){"direction",
                               q->forwards ? "forwards" : "backwards"};
  return 5;
}

static void reply_page(struct http_request *req, const struct stats_query *q,
                       const struct stats_interval *iv, size_t n, int64_t next,
                       int64_t now) {
  const char *app_id = rest__auth(req)->app->id;
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__array(&w, n);
  for (size_t i = 0; i < n; i++)
    stats_minutes__write(&w, app_id, q->unit, &iv[i], now);
  struct page_param params[5];
  size_t n_params = link_params(req, q, params);
  char *next_text = NULL;
  if (next >= 0) {
    next_text = arena__alloc(&req->arena, 24);
    snprintf(next_text, 24, "%" PRId64, next);
  }
  struct reply_links links;
  pagination__links(req, "stats", params, n_params, http__param(req, "cursor"),
                    next_text, &links);
  reply__send(req, 200, &w, &links);
}

/* GET /stats */
void rest_stats__get(struct http_request *req) {
  herald_error err;
  int64_t now = clock__now_ms();
  struct page_query page;
  struct stats_query q;
  int rc = 0;
  if (!capability__allows_all_channels(rest__auth(req)->capability,
                                       CAPABILITY_OP_STATS))
    rc = herald_error_set(&err, HERALD_E_CAPABILITY_DENIED, NULL);
  if (!rc) rc = pagination__parse_page(req, &page, &err);
  if (!rc) rc = parse_query(req, &q, now, &err);
  if (!rc) rc = parse_cursor(page.cursor, &q.cursor, &err);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  q.limit = page.limit;
  q.forwards = page.direction == STORE_FORWARDS;
  size_t n;
  int64_t next;
  struct stats_interval *iv =
      stats_minutes__query(rest__context(req)->channels->stats,
                           rest__auth(req)->app, &q, now, &n, &next);
  reply_page(req, &q, iv, n, next, now);
  stats_minutes__free_intervals(iv, n);
}

/* ---- Fixtures ----------------------------------------------------------- */

/* A fixture record: its minute (intervalId) and entries. */
static int read_fixture(struct wire_value rec, struct stats_interval *iv,
                        herald_error *err) {
  size_t len;
  const char *id = wire_value__bytes(wire_value__get(rec, "intervalId"), &len);
  char text[STATS_INTERVAL_ID_MAX];
  int64_t last;
  if (!id || len >= sizeof text)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "A stats fixture needs a minute's intervalId");
  memcpy(text, id, len);
  text[len] = '\0';
  if (stats_interval__parse(text, &iv->start, &last) ||
      last - iv->start != 60000 - 1)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Invalid intervalId '%s': must be yyyy-mm-dd:hh:mm",
                            text);
  return stats_entries__add_fixture(&iv->entries, rec, err);
}

static int read_fixtures(struct wire_value body, struct stats_interval *iv,
                         size_t n, herald_error *err) {
  bool one = wire_value__kind(body) == WIRE_MAP;
  for (size_t i = 0; i < n; i++) {
    int rc = read_fixture(one ? body : wire_value__at(body, i), &iv[i], err);
    if (rc) return rc;
  }
  return 0;
}

/* POST /stats (sandbox mode) */
void rest_stats__post(struct http_request *req) {
  herald_error err;
  struct wire_doc doc;
  if (!rest__context(req)->cfg->sandbox) {
    herald_error_set(&err, HERALD_E_FORBIDDEN,
                     "Stats fixtures are for sandbox mode (--sandbox)");
    reply__error(req, &err);
    return;
  }
  if (rest__parse_body(req, &doc, &err)) {
    reply__error(req, &err);
    return;
  }
  struct wire_value body = wire_doc__root(&doc);
  enum wire_kind kind = wire_value__kind(body);
  size_t n = kind == WIRE_MAP ? 1 : kind == WIRE_ARRAY ? wire_value__count(body) : 0;
  struct stats_interval *iv = herald_xcalloc(n ? n : 1, sizeof *iv);
  int rc = n ? read_fixtures(body, iv, n, &err)
             : herald_error_set(&err, HERALD_E_INVALID_REQUEST_BODY,
                                "Expected an array of stats records");
  if (rc) {
    reply__error(req, &err);
  } else {
    struct app *app = rest__auth(req)->app;
    struct wire_writer w;
    reply__writer(req, &w);
    wire_writer__array(&w, n);
    for (size_t i = 0; i < n; i++) {
      stats_minutes__add_fixture(rest__context(req)->channels->stats, app,
                                 iv[i].start, &iv[i].entries);
      stats_minutes__write(&w, app->id, STATS_MINUTE, &iv[i], 0);
    }
    reply__send(req, 201, &w, NULL);
  }
  stats_minutes__free_intervals(iv, n);
  wire_doc__cleanup(&doc);
}
