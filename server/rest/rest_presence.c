/* rest_presence.c -- GET /channels/:channel/presence: a page of a channel's
 * current members (rest.md 10.4), the same set realtime clients see,
 * filtered by clientId and connectionId. */
#include <stdio.h>

#include "alloc.h"
#include "capability.h"
#include "channel/presence.h"
#include "channel_name.h"
#include "rest/pagination.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

struct rest_presence {
  struct presence_query query;
  struct http_request *req;
  char *channel;
  char limit_text[24];
};

static void on_members(struct presence_query *q) {
  struct rest_presence *rp = (struct rest_presence *)q;
  struct http_request *req = rp->req;
  const struct page_param params[] = {{"limit", rp->limit_text},
                                      {"clientId", q->client_id},
                                      {"connectionId", q->connection_id}};
  struct reply_links links;
  pagination__links(req, "presence", params, 3, q->cursor, q->next_cursor,
                    &links);
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__array(&w, q->count);
  for (size_t i = 0; i < q->count; i++) presence_message__write(q->members[i], &w);
  reply__send(req, 200, &w, &links);
  presence__query_cleanup(q);
  herald_free(rp->channel);
  herald_free(rp);
}

void rest_presence__get(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  struct page_query page;
  int rc = rest__channel(req, 1, CAPABILITY_OP_SUBSCRIBE, &name, &err);
  if (!rc) rc = pagination__parse(req, &page, &err);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  struct rest_presence *rp = herald_xcalloc(1, sizeof *rp);
  rp->req = req;
  rp->channel = channel_name__base_dup(&name);
  snprintf(rp->limit_text, sizeof rp->limit_text, "%zu", page.limit);
  struct presence_query *q = &rp->query;
  q->channels = rest__context(req)->channels;
  q->origin = req->worker;
  q->app_id = rest__auth(req)->app->id;
  q->channel = rp->channel;
  q->client_id = http__param(req, "clientId");
  q->connection_id = http__param(req, "connectionId");
  q->limit = page.limit;
  q->cursor = page.cursor;
  q->done = on_members;
  presence__query(q);
}
