/* rest_channels.c -- GET /channels/:channel (ChannelDetails, rest.md 11.1)
 * and GET /channels (enumeration of active channels, rest.md 11.2). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel/meta_channels.h"
#include "channel/occupancy.h"
#include "channel_name.h"
#include "rest/pagination.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

void rest_channels__count_occupancy(struct http_request *req,
                                    struct occupancy_query *q,
                                    char *const *channels, size_t count,
                                    void (*done)(struct occupancy_query *q)) {
  q->round.channels = rest__context(req)->channels;
  q->round.origin = req->worker;
  q->app_id = rest__auth(req)->app->id;
  q->channels = channels;
  q->count = count;
  q->done = done;
  occupancy__query(q);
}

struct rest_status {
  struct occupancy_query query;
  struct http_request *req;
  char *channel; /* base name */
};

static void on_status(struct occupancy_query *q) {
  struct rest_status *rs = (struct rest_status *)q;
  struct http_request *req = rs->req;
  struct wire_writer w;
  reply__writer(req, &w);
  occupancy__write_details(&w, req->segments[1], true, &q->results[0]);
  reply__send(req, 200, &w, NULL);
  occupancy__query_cleanup(q);
  herald_free(rs->channel);
  herald_free(rs);
}

/* GET /channels/:channel */
void rest_channels__status(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  int rc = rest__channel(req, 1, CAPABILITY_OP_CHANNEL_METADATA, &name, &err);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  struct rest_status *rs = herald_xcalloc(1, sizeof *rs);
  rs->req = req;
  rs->channel = channel_name__base_dup(&name);
  rest_channels__count_occupancy(req, &rs->query, &rs->channel, 1, on_status);
}

/* GET /channels: the channels with history (the store) and those someone
 * is on now (occupancy.h), merged into one page. */
struct rest_list {
  struct store_channels query;
  struct active_channels_query active;
  struct occupancy_query occupancy; /* by value: the page's channels' */
  struct http_request *req;
  bool by_id;
  char limit_text[24];
  /* The page: names borrowed from the two queries' results. */
  char **names;
  size_t count;
  const char *next_cursor;
};

/* The page of channels: ids, or ChannelDetails with their occupancy. */
static void send_list(struct rest_list *rl, const struct occupancy *occupancy) {
  struct http_request *req = rl->req;
  const struct page_param params[] = {{"limit", rl->limit_text},
                                      {"prefix", rl->query.prefix},
                                      {"by", rl->by_id ? "id" : "value"}};
  struct reply_links links;
  pagination__links(req, "channels", params, 3, rl->query.cursor,
                    rl->next_cursor, &links);
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__array(&w, rl->count);
  for (size_t i = 0; i < rl->count; i++) {
    if (rl->by_id) wire_writer__str(&w, rl->names[i]);
    else occupancy__write_details(&w, rl->names[i], true, &occupancy[i]);
  }
  reply__send(req, 200, &w, &links);
}

static void free_list(struct rest_list *rl) {
  store__channels_cleanup(&rl->query);
  occupancy__active_channels_cleanup(&rl->active);
  herald_free(rl->names);
  herald_free(rl);
}

static void on_list_occupancy(struct occupancy_query *q) {
  struct rest_list *rl = (struct rest_list *)((char *)q -
                                              offsetof(struct rest_list, occupancy));
  send_list(rl, q->results);
  occupancy__query_cleanup(q);
  free_list(rl);
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether a channel is listed: metachannels are not the app's channels
 * (a page holding one is that much shorter). */
static bool listed(const char *name) {
  return !meta_channels__is_meta(name, strlen(name));
}

/* The page: the store's names and the active ones, sorted, without
 * repeats, the first `limit`. Active names from the store's next page on
 * wait for a later page, where the store's cursor brings them back. */
static void merge_page(struct rest_list *rl) {
  const struct store_channels *c = &rl->query;
  const struct active_channels_query *a = &rl->active;
  char **all = herald_xcalloc(c->count + a->count + 1, sizeof *all);
  size_t n = 0;
  for (size_t i = 0; i < c->count; i++)
    if (listed(c->names[i])) all[n++] = c->names[i];
  for (size_t i = 0; i < a->count; i++)
    if (listed(a->names[i]) &&
        (!c->next_cursor || strcmp(a->names[i], c->next_cursor) < 0))
      all[n++] = a->names[i];
  qsort(all, n, sizeof *all, compare_names);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++)
    if (!kept || strcmp(all[kept - 1], all[i])) all[kept++] = all[i];
  rl->names = all;
  rl->count = kept < c->limit ? kept : c->limit;
  rl->next_cursor = kept > c->limit ? all[c->limit] : c->next_cursor;
}

static void on_active(struct active_channels_query *q) {
  struct rest_list *rl = (struct rest_list *)((char *)q -
                                              offsetof(struct rest_list, active));
  merge_page(rl);
  if (!rl->by_id) { /* details need every worker's counts */
    rest_channels__count_occupancy(rl->req, &rl->occupancy, rl->names,
                                   rl->count, on_list_occupancy);
    return;
  }
  send_list(rl, NULL);
  free_list(rl);
}

static void on_channels(struct store_req *sreq) {
  struct rest_list *rl = (struct rest_list *)sreq;
  if (sreq->rc) {
    reply__error(rl->req, &sreq->err);
    free_list(rl);
    return;
  }
  struct active_channels_query *a = &rl->active;
  a->round.channels = rest__context(rl->req)->channels;
  a->round.origin = rl->req->worker;
  a->app_id = rl->query.app_id;
  a->prefix = rl->query.prefix;
  a->cursor = rl->query.cursor;
  a->done = on_active;
  occupancy__active_channels(a);
}

/* GET /channels */
void rest_channels__list(struct http_request *req) {
  herald_error err;
  struct page_query page;
  const char *by = http__param(req, "by");
  int rc = 0;
  if (!capability__allows_all_channels(rest__auth(req)->capability,
                                       CAPABILITY_OP_CHANNEL_METADATA))
    rc = herald_error_set(&err, HERALD_E_CAPABILITY_DENIED, NULL);
  if (!rc) rc = pagination__parse(req, &page, &err);
  if (!rc && by && strcmp(by, "id") && strcmp(by, "value"))
    rc = herald_error_set(&err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid by '%s': must be id or value", by);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  struct rest_list *rl = herald_xcalloc(1, sizeof *rl);
  rl->req = req;
  rl->by_id = by ? !strcmp(by, "id") : req->version >= 3;
  snprintf(rl->limit_text, sizeof rl->limit_text, "%zu", page.limit);
  struct store_channels *c = &rl->query;
  c->req.origin = req->worker;
  c->req.done = on_channels;
  c->app_id = rest__auth(req)->app->id;
  c->prefix = http__param(req, "prefix");
  c->cursor = page.cursor;
  c->limit = page.limit;
  store__channels(rest__context(req)->store, c);
}
