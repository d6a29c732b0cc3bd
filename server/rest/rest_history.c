/* rest_history.c -- GET /channels/:channel/messages and
 * /channels/:channel/presence/history: a page of a channel's message or
 * presence history (rest.md 10.3, 10.5) with Link headers to the next
 * pages. */
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel_name.h"
#include "rest/pagination.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "serial.h"
#include "transport/http.h"

struct rest_history {
  struct store_history query;
  struct http_request *req;
  struct page_query page;
  char *channel;
  const char *segment; /* of the Link URLs */
};

static void on_history(struct store_req *sreq) {
  struct rest_history *rh = (struct rest_history *)sreq;
  struct store_history *h = &rh->query;
  struct http_request *req = rh->req;
  if (sreq->rc) {
    reply__error(req, &sreq->err);
  } else {
    struct wire_writer w;
    struct page_param params[4];
    struct reply_links links;
    size_t n = pagination__time_params(req, &rh->page, params);
    pagination__links(req, rh->segment, params, n, rh->page.cursor,
                      h->next_cursor, &links);
    reply__writer(req, &w);
    wire_writer__array(&w, h->count);
    for (size_t i = 0; i < h->count; i++) {
      if (h->stream == STORE_PRESENCE) presence_message__write(h->messages[i], &w);
      else message__write(h->messages[i], &w);
    }
    reply__send(req, 200, &w, &links);
  }
  store__history_cleanup(h);
  herald_free(rh->channel);
  herald_free(rh);
}

static void get_history(struct http_request *req, enum store_stream stream,
                        const char *segment) {
  herald_error err;
  struct channel_name name;
  struct page_query page;
  int rc = rest__channel(req, 1, CAPABILITY_OP_HISTORY, &name, &err);
  if (!rc) rc = pagination__parse(req, &page, &err);
  if (!rc && page.cursor && !serial__valid(page.cursor))
    rc = herald_error_set(&err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid cursor");
  /* history({untilAttach}): nothing after a channel position. Newest first,
   * that bound is where the first page starts. */
  const char *until = http__param(req, "from_serial");
  if (!until) until = http__param(req, "fromSerial");
  int64_t until_ms;
  if (!rc && until && (!serial__position(until, &until_ms) ||
                       page.direction != STORE_BACKWARDS))
    rc = herald_error_set(&err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid from_serial (a channelSerial, with "
                          "direction backwards)");
  if (rc) {
    reply__error(req, &err);
    return;
  }
  struct rest_history *rh = herald_xcalloc(1, sizeof *rh);
  rh->req = req;
  rh->page = page;
  rh->channel = channel_name__base_dup(&name);
  rh->segment = segment;
  struct store_history *h = &rh->query;
  h->stream = stream;
  h->req.origin = req->worker;
  h->req.done = on_history;
  h->app_id = rest__auth(req)->app->id;
  h->channel = rh->channel;
  h->start = page.start;
  h->end = page.end;
  h->direction = page.direction;
  h->limit = page.limit;
  h->cursor = page.cursor ? page.cursor : until;
  store__history(rest__context(req)->store, h);
}

/* GET /channels/:channel/messages */
void rest_history__get(struct http_request *req) {
  get_history(req, STORE_MESSAGES, "messages");
}

/* GET /channels/:channel/presence/history */
void rest_history__presence(struct http_request *req) {
  get_history(req, STORE_PRESENCE, "history");
}
