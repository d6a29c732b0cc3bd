/* rest_channels.c -- GET /channels/:channel (ChannelDetails, rest.md 11.1)
 * and GET /channels (enumeration of active channels, rest.md 11.2). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel_name.h"
#include "http.h"
#include "pagination.h"
#include "reply.h"
#include "rest.h"
#include "server.h"

static const char *const occupancy_metrics[] = {
    "connections",         "presenceConnections", "presenceMembers",
    "presenceSubscribers", "publishers",          "subscribers",
    "objectPublishers",    "objectSubscribers",
};
#define N_METRICS (sizeof occupancy_metrics / sizeof occupancy_metrics[0])

/* Writes a ChannelDetails map. Occupancy counts realtime attachments and
 * presence members, which REST alone never creates. */
static void write_details(struct wire_writer *w, const char *channel_id) {
  wire_writer__map(w, 2);
  wire_writer__kv_str(w, "channelId", channel_id);
  wire_writer__key(w, "status");
  wire_writer__map(w, 2);
  wire_writer__kv_bool(w, "isActive", true);
  wire_writer__key(w, "occupancy");
  wire_writer__map(w, 1);
  wire_writer__key(w, "metrics");
  wire_writer__map(w, N_METRICS);
  for (size_t i = 0; i < N_METRICS; i++)
    wire_writer__kv_int(w, occupancy_metrics[i], 0);
}

/* GET /channels/:channel */
void rest_channels__status(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  int rc = rest__channel(req, 1, CAPABILITY_OP_CHANNEL_METADATA, &name, &err);
  if (rc) {
    rest__fail(req, &err);
    return;
  }
  struct wire_writer w;
  reply__writer(req, &w);
  write_details(&w, req->segments[1]);
  reply__send(req, 200, &w, NULL);
}

struct rest_list {
  struct store_channels query;
  struct http_request *req;
  bool by_id;
  char limit_text[24];
};

static void on_channels(struct store_req *sreq) {
  struct rest_list *rl = (struct rest_list *)sreq;
  struct store_channels *c = &rl->query;
  struct http_request *req = rl->req;
  if (sreq->rc) {
    rest__fail(req, &sreq->err);
  } else {
    const struct page_param params[] = {{"limit", rl->limit_text},
                                        {"prefix", c->prefix},
                                        {"by", rl->by_id ? "id" : "value"}};
    struct reply_links links;
    pagination__links(req, "channels", params, 3, c->cursor, c->next_cursor,
                      &links);
    struct wire_writer w;
    reply__writer(req, &w);
    wire_writer__array(&w, c->count);
    for (size_t i = 0; i < c->count; i++) {
      if (rl->by_id) wire_writer__str(&w, c->names[i]);
      else write_details(&w, c->names[i]);
    }
    reply__send(req, 200, &w, &links);
  }
  store__channels_cleanup(c);
  herald_free(rl);
}

/* GET /channels */
void rest_channels__list(struct http_request *req) {
  herald_error err;
  struct page_query page;
  const char *by = http__param(req, "by");
  int rc = 0;
  if (!capability__allows_all_channels(req->auth.capability,
                                       CAPABILITY_OP_CHANNEL_METADATA))
    rc = herald_error_set(&err, HERALD_E_CAPABILITY_DENIED, NULL);
  if (!rc) rc = pagination__parse(req, &page, &err);
  if (!rc && by && strcmp(by, "id") && strcmp(by, "value"))
    rc = herald_error_set(&err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid by '%s': must be id or value", by);
  if (rc) {
    rest__fail(req, &err);
    return;
  }
  struct rest_list *rl = herald_xcalloc(1, sizeof *rl);
  rl->req = req;
  rl->by_id = by ? !strcmp(by, "id") : req->version >= 3;
  snprintf(rl->limit_text, sizeof rl->limit_text, "%zu", page.limit);
  struct store_channels *c = &rl->query;
  c->req.origin = req->worker;
  c->req.done = on_channels;
  c->app_id = req->auth.app->id;
  c->prefix = http__param(req, "prefix");
  c->cursor = page.cursor;
  c->limit = page.limit;
  store__channels(rest__server(req)->store, c);
}
