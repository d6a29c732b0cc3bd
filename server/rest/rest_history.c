/* rest_history.c -- GET /channels/:channel/messages and
 * /channels/:channel/presence/history: a page of a channel's message or
 * presence history (rest.md 10.3, 10.5) with Link headers to the next
 * pages; in a mutable namespace each message as it is now. And one
 * message's: GET /channels/:channel/messages/:serial (as it is now),
 * .../:serial/versions (a page of its versions) and .../:serial/annotations
 * (a page of its annotations, oldest first, once the message is found). */
#include <stdint.h>
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
  char *of;
  const char *segment; /* of the Link URLs */
  bool single;         /* one message, not a page */
  int status;          /* of a single message's answer */
  rest_history_write_fn write;
  /* annotations: the message is looked up first (query is that read
   * until then) */
  bool finding;
  struct store_history annotations;
};

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
static void reply_single(struct rest_history *rh) {
  struct http_request *req = rh->req;
  const struct store_history *h = &rh->query;
  if (!h->count) {
    herald_error err;
    herald_error_set(&err, HERALD_E_NOT_FOUND, "Could not find message %s",
                     h->of);
    reply__error(req, &err);
    return;
  }
  struct wire_writer w;
  reply__writer(req, &w);
  rh->write(h->messages[0], &w);
  reply__send(req, rh->status, &w, NULL);
}

static void reply_page(struct rest_history *rh) {
  struct http_request *req = rh->req;
  const struct store_history *h = &rh->query;
  struct wire_writer w;
  struct page_param params[4];
  struct reply_links links;
  size_t n = pagination__time_params(req, &rh->page, params);
  pagination__links(req, rh->segment, params, n, rh->page.cursor,
                    h->next_cursor, &links);
  reply__writer(req, &w);
  wire_writer__array(&w, h->count);
  for (size_t i = 0; i < h->count; i++) rh->write(h->messages[i], &w);
  reply__send(req, 200, &w, &links);
}

static void on_history(struct store_req *sreq) {
  struct rest_history *rh = (struct rest_history *)sreq;
  if (!sreq->rc && rh->finding) {
    on_found(rh);
    if (!rh->finding) return;
  }
  if (sreq->rc) reply__error(rh->req, &sreq->err);
  else if (rh->single) reply_single(rh);
  else reply_page(rh);
  store__history_cleanup(&rh->query);
  herald_free(rh->channel);
  herald_free(rh->of);
  herald_free(rh);
}

/* Starts the query of rh's page of stream (a view of it), of the message
 * `of` unless view is the stream's (annotations: that message's, once it is
 * found). */
static void start(struct rest_history *rh, enum store_stream stream,
                  enum store_view view, const char *of, const char *until) {
  struct http_request *req = rh->req;
  struct store_history *h = &rh->query;
  h->stream = stream;
  h->view = view;
  bool annotations = stream == STORE_ANNOTATIONS;
  if (view == STORE_VIEW_STREAM && stream == STORE_MESSAGES &&
      apps__mutable(rest__auth(req)->app, rh->channel))
    h->view = STORE_VIEW_LATEST;
  else if (view != STORE_VIEW_STREAM || annotations)
    h->of = rh->of = herald_xstrdup(of);
  h->req.origin = req->worker;
  h->req.done = on_history;
  h->app_id = rest__auth(req)->app->id;
  h->channel = rh->channel;
  h->start = rh->page.start;
  h->end = rh->page.end;
  h->direction = rh->page.direction;
  h->limit = rh->single ? 1 : rh->page.limit;
  h->cursor = rh->page.cursor ? rh->page.cursor : until;
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

/* The page the request's parameters ask for, checked: 0 or a negative
 * code. *until is the channel position the page may not pass, or NULL. */
static int parse_page(struct http_request *req, enum store_stream stream,
                      enum store_view view, struct page_query *page,
                      const char **until, herald_error *err) {
  int rc = pagination__parse(req, page, err);
  if ((view == STORE_VIEW_VERSIONS || stream == STORE_ANNOTATIONS) &&
      !http__param(req, "direction"))
    page->direction = STORE_FORWARDS;
  if (!rc && page->cursor && !serial__valid(page->cursor))
    rc = herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid cursor");
  /* history({untilAttach}): nothing after a channel position. Newest first,
   * that bound is where the first page starts. */
  *until = http__param(req, "from_serial");
  if (!*until) *until = http__param(req, "fromSerial");
  int64_t until_ms;
  if (!rc && *until && (!serial__position(*until, &until_ms) ||
                        page->direction != STORE_BACKWARDS))
    rc = herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid from_serial (a channelSerial, with "
                          "direction backwards)");
  return rc;
}

static struct rest_history *new_query(struct http_request *req,
                                      const char *channel,
                                      rest_history_write_fn write) {
  struct rest_history *rh = herald_xcalloc(1, sizeof *rh);
  rh->req = req;
  rh->channel = herald_xstrdup(channel);
  rh->write = write;
  return rh;
}

static void page_of(struct http_request *req, const char *channel,
                    enum store_stream stream, enum store_view view,
                    const char *of, const char *segment,
                    rest_history_write_fn write) {
  herald_error err;
  struct page_query page;
  const char *until;
  if (parse_page(req, stream, view, &page, &until, &err)) {
    reply__error(req, &err);
    return;
  }
  struct rest_history *rh = new_query(req, channel, write);
  rh->page = page;
  rh->segment = segment;
  start(rh, stream, view, of, until);
}

void rest_history__page(struct http_request *req, const char *channel,
                        enum store_view view, const char *of,
                        const char *segment, rest_history_write_fn write) {
  page_of(req, channel, STORE_MESSAGES, view, of, segment, write);
}

void rest_history__single(struct http_request *req, const char *channel,
                          const char *of, int status,
                          rest_history_write_fn write) {
  struct rest_history *rh = new_query(req, channel, write);
  rh->single = true;
  rh->status = status;
  rh->page = (struct page_query){.end = INT64_MAX,
                                 .direction = STORE_BACKWARDS};
  start(rh, STORE_MESSAGES, STORE_VIEW_LATEST, of, NULL);
}

/* The base name of the channel path segment 1 names, if the request may
 * do op there (else answered): herald_xmalloc'd, or NULL. */
static char *readable_channel(struct http_request *req, unsigned op) {
  herald_error err;
  struct channel_name name;
  if (rest__channel(req, 1, op, &name, &err)) {
    reply__error(req, &err);
    return NULL;
  }
  return channel_name__base_dup(&name);
}

/* A page of the channel's stream, or of the versions or annotations of the
 * message path segment 3 names; op: the capability it needs. */
static void get_page(struct http_request *req, enum store_stream stream,
                     enum store_view view, const char *segment, unsigned op,
                     rest_history_write_fn write) {
  char *channel = readable_channel(req, op);
  if (!channel) return;
  const char *of = view == STORE_VIEW_VERSIONS || stream == STORE_ANNOTATIONS
                       ? req->segments[3]
                       : NULL;
  page_of(req, channel, stream, view, of, segment, write);
  herald_free(channel);
}

/* GET /channels/:channel/messages */
void rest_history__get(struct http_request *req) {
  get_page(req, STORE_MESSAGES, STORE_VIEW_STREAM, "messages",
           CAPABILITY_OP_HISTORY, message__write);
}

/* GET /channels/:channel/presence/history */
void rest_history__presence(struct http_request *req) {
  get_page(req, STORE_PRESENCE, STORE_VIEW_STREAM, "history",
           CAPABILITY_OP_HISTORY, presence_message__write);
}

/* GET /channels/:channel/messages/:serial */
void rest_history__message(struct http_request *req) {
  char *channel = readable_channel(req, CAPABILITY_OP_HISTORY);
  if (!channel) return;
  rest_history__single(req, channel, req->segments[3], 200, message__write);
  herald_free(channel);
}

/* GET /channels/:channel/messages/:serial/versions: oldest first unless
 * asked otherwise. */
void rest_history__versions(struct http_request *req) {
  get_page(req, STORE_MESSAGES, STORE_VIEW_VERSIONS, "versions",
           CAPABILITY_OP_HISTORY, message__write);
}

/* GET /channels/:channel/messages/:serial/annotations: oldest first unless
 * asked otherwise; raw annotations, so the annotation-subscribe capability
 * (as the mode that receives them live), in a mutable namespace only. */
void rest_history__annotations(struct http_request *req) {
  char *channel = readable_channel(req, CAPABILITY_OP_ANNOTATION_SUBSCRIBE);
  if (!channel) return;
  herald_error err;
  int rc = apps__mutable(rest__auth(req)->app, channel)
               ? 0
               : herald_error_set(&err, HERALD_E_MESSAGE_UPDATES_NOT_ENABLED,
                                  NULL);
  if (rc) {
    reply__error(req, &err);
  } else {
    page_of(req, channel, STORE_ANNOTATIONS, STORE_VIEW_STREAM,
            req->segments[3], "annotations", annotation__write);
  }
  herald_free(channel);
}
