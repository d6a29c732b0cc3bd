/* rest_history.c -- GET /channels/:channel/messages and
 * /channels/:channel/presence/history: a page of a channel's message or
 * presence history (rest.md 10.3, 10.5) with Link headers to the next
 * pages; in a mutable namespace each message as it is now. And one
 * message's: GET /channels/:channel/messages/:serial (as it is now),
 * .../:serial/versions (a page of its versions) and .../:serial/annotations
 * (a page of its annotations, oldest first, once the message is found). */
#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "capability.h"
#include "channel/annotations.h"
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
  bool single;         /* one message, not a page */
  /* annotations: the message is looked up first (query is that read
   * until then) */
  bool finding;
  struct store_history annotations;
};

static void on_history(struct store_req *sreq);

/* The message of an annotations query was read: its annotations next, or
 * 40400. */
static void on_found(struct rest_history *rh) {
  struct store_history *found = &rh->query;
  if (!found->count) {
    rh->single = true; /* answered as GET .../messages/:serial is */
    return;
  }
  store__history_cleanup(found);
  *found = rh->annotations;
  rh->finding = false;
  store__history(rest__context(rh->req)->store, found);
}

/* The answer of a single message: it, or 40400. */
static void reply_single(struct http_request *req,
                         const struct store_history *h) {
  if (!h->count) {
    herald_error err;
    herald_error_set(&err, HERALD_E_NOT_FOUND, "Could not find message %s",
                     h->of);
    reply__error(req, &err);
    return;
  }
  struct wire_writer w;
  reply__writer(req, &w);
  message__write(h->messages[0], &w);
  reply__send(req, 200, &w, NULL);
}

static void on_history(struct store_req *sreq) {
  struct rest_history *rh = (struct rest_history *)sreq;
  struct store_history *h = &rh->query;
  struct http_request *req = rh->req;
  if (!sreq->rc && rh->finding) {
    on_found(rh);
    if (!rh->finding) return;
  }
  if (sreq->rc) {
    reply__error(req, &sreq->err);
  } else if (rh->single) {
    reply_single(req, h);
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
      else if (h->stream == STORE_ANNOTATIONS) annotation__write(h->messages[i], &w);
      else message__write(h->messages[i], &w);
    }
    reply__send(req, 200, &w, &links);
  }
  store__history_cleanup(h);
  herald_free(rh->channel);
  herald_free(rh);
}

/* A page of stream (a view of it: of the message named by path segment
 * 3, unless view is the stream's; annotations: of that message) with Link
 * URLs ending in segment, or with single the message itself. op: the
 * capability it needs. */
static void get_history(struct http_request *req, enum store_stream stream,
                        enum store_view view, const char *segment,
                        bool single, unsigned op) {
  herald_error err;
  struct channel_name name;
  struct page_query page;
  bool annotations = stream == STORE_ANNOTATIONS;
  int rc = rest__channel(req, 1, op, &name, &err);
  if (!rc) rc = pagination__parse(req, &page, &err);
  if ((view == STORE_VIEW_VERSIONS || annotations) &&
      !http__param(req, "direction"))
    page.direction = STORE_FORWARDS;
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
  char *base = rc ? NULL : channel_name__base_dup(&name);
  if (!rc && annotations)
    rc = annotations__supported(rest__context(req)->store, &err);
  if (!rc && annotations && !apps__mutable(rest__auth(req)->app, base))
    rc = herald_error_set(&err, HERALD_E_MESSAGE_UPDATES_NOT_ENABLED, NULL);
  herald_free(base);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  struct rest_history *rh = herald_xcalloc(1, sizeof *rh);
  rh->req = req;
  rh->page = page;
  rh->channel = channel_name__base_dup(&name);
  rh->segment = segment;
  rh->single = single;
  struct store_history *h = &rh->query;
  h->stream = stream;
  h->view = view;
  if (view == STORE_VIEW_STREAM && stream == STORE_MESSAGES &&
      apps__mutable(rest__auth(req)->app, rh->channel))
    h->view = STORE_VIEW_LATEST;
  else if (view != STORE_VIEW_STREAM || annotations)
    h->of = req->segments[3];
  h->req.origin = req->worker;
  h->req.done = on_history;
  h->app_id = rest__auth(req)->app->id;
  h->channel = rh->channel;
  h->start = page.start;
  h->end = page.end;
  h->direction = page.direction;
  h->limit = single ? 1 : page.limit;
  h->cursor = page.cursor ? page.cursor : until;
  if (annotations) { /* the message first */
    rh->annotations = *h;
    rh->finding = true;
    *h = (struct store_history){.req = h->req, .app_id = h->app_id,
                                .channel = h->channel, .stream = STORE_MESSAGES,
                                .view = STORE_VIEW_LATEST, .of = h->of,
                                .end = INT64_MAX, .limit = 1};
  }
  store__history(rest__context(req)->store, h);
}

/* GET /channels/:channel/messages */
void rest_history__get(struct http_request *req) {
  get_history(req, STORE_MESSAGES, STORE_VIEW_STREAM, "messages", false,
              CAPABILITY_OP_HISTORY);
}

/* GET /channels/:channel/presence/history */
void rest_history__presence(struct http_request *req) {
  get_history(req, STORE_PRESENCE, STORE_VIEW_STREAM, "history", false,
              CAPABILITY_OP_HISTORY);
}

/* GET /channels/:channel/messages/:serial */
void rest_history__message(struct http_request *req) {
  get_history(req, STORE_MESSAGES, STORE_VIEW_LATEST, NULL, true,
              CAPABILITY_OP_HISTORY);
}

/* GET /channels/:channel/messages/:serial/versions: oldest first unless
 * asked otherwise. */
void rest_history__versions(struct http_request *req) {
  get_history(req, STORE_MESSAGES, STORE_VIEW_VERSIONS, "versions", false,
              CAPABILITY_OP_HISTORY);
}

/* GET /channels/:channel/messages/:serial/annotations: oldest first unless
 * asked otherwise; raw annotations, so the annotation-subscribe capability
 * (as the mode that receives them live). */
void rest_history__annotations(struct http_request *req) {
  get_history(req, STORE_ANNOTATIONS, STORE_VIEW_STREAM, "annotations", false,
              CAPABILITY_OP_ANNOTATION_SUBSCRIBE);
}
