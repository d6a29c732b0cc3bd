/* rest_batch_presence.c -- GET /presence, batch presence (seed 002; rest.md
 * 13): the present members of each channel listed in `channels` (or the
 * seed's `channel`), separated by ',' or by `separator`. The request fails
 * as a whole only before any lookup (credentials, no channels, over 100
 * distinct channels); a channel fails on its own for its name (40010) or
 * its capability (40160: `subscribe` is needed). Every lookup runs at once
 * on its channel's owner (presence.h), and the outcomes are answered in
 * request order: the seed's form for X-Ably-Version <= 2, one BatchResult
 * for >= 3. */
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel/presence.h"
#include "channel_name.h"
#include "hashmap.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

/* One channel's presence lookup. */
struct presence_item {
  struct presence_query query; /* first: the query's done finds its item */
  struct presence_batch *batch;
  char *channel;    /* as requested */
  char *base;       /* the channel queried; NULL when not queried */
  herald_error err; /* code 0: its members were found */
};

struct presence_batch {
  struct http_request *req;
  struct presence_item *items;
  size_t n_items;
  size_t pending; /* lookups running, plus one while they are started */
};

/* The channel list, `channels` winning over the seed's `channel`, and its
 * separator (default ','). */
static int channel_list(const struct http_request *req, const char **list,
                        const char **separator, herald_error *err) {
  *list = http__param(req, "channels");
  if (!*list) *list = http__param(req, "channel");
  *separator = http__param(req, "separator");
  if (!*separator) *separator = ",";
  if (!*list || !**list)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "No channels: expected channels=<name>[,<name>...]");
  if (!**separator)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "separator must not be empty");
  return 0;
}

/* One item per name of list (an empty name is a name, and fails as one).
 * -40000 past the channel limit. */
static int split_channels(struct presence_batch *b, const char *list,
                          const char *separator, herald_error *err) {
  size_t sep_len = strlen(separator);
  b->n_items = 1;
  for (const char *p = strstr(list, separator); p;
       p = strstr(p + sep_len, separator))
    b->n_items++;
  b->items = herald_xcalloc(b->n_items, sizeof *b->items);
  struct hashmap distinct;
  hashmap__init(&distinct);
  int rc = 0;
  const char *name = list;
  for (size_t i = 0; i < b->n_items && !rc; i++) {
    const char *end = strstr(name, separator);
    size_t len = end ? (size_t)(end - name) : strlen(name);
    b->items[i].batch = b;
    b->items[i].channel = herald_xstrndup(name, len);
    rc = rest__batch_channel(&distinct, name, len, err);
    if (end) name = end + sep_len;
  }
  hashmap__cleanup(&distinct);
  return rc;
}

static void batch_free(struct presence_batch *b) {
  for (size_t i = 0; i < b->n_items; i++) {
    struct presence_item *it = &b->items[i];
    if (it->base) presence__query_cleanup(&it->query);
    herald_free(it->base);
    herald_free(it->channel);
  }
  herald_free(b->items);
  herald_free(b);
}

/* {channel, presence: [PresenceMessage...]} or {channel, error}. */
static void write_item(struct wire_writer *w, const struct presence_item *it) {
  if (it->err.code) {
    reply__write_batch_failure(w, "channel", it->channel, &it->err);
    return;
  }
  wire_writer__map(w, 2);
  wire_writer__kv_str(w, "channel", it->channel);
  wire_writer__key(w, "presence");
  wire_writer__array(w, it->query.count);
  for (size_t i = 0; i < it->query.count; i++)
    presence_message__write(it->query.members[i], w);
}

static void answer(struct presence_batch *b) {
  struct wire_writer items;
  size_t failures = 0;
  reply__writer(b->req, &items);
  wire_writer__array(&items, b->n_items);
  for (size_t i = 0; i < b->n_items; i++) {
    write_item(&items, &b->items[i]);
    failures += b->items[i].err.code != 0;
  }
  reply__batch(b->req, 200, &items, b->n_items, failures);
  batch_free(b);
}

static void release(struct presence_batch *b) {
  if (--b->pending == 0) answer(b);
}

static void on_members(struct presence_query *q) {
  release(((struct presence_item *)q)->batch);
}

/* Starts an item's lookup, unless its channel fails it. */
static void start_item(struct presence_batch *b, struct presence_item *it) {
  struct channel_name name;
  if (rest__named_channel(b->req, it->channel, CAPABILITY_OP_SUBSCRIBE, &name,
                          &it->err))
    return;
  it->base = channel_name__base_dup(&name);
  struct presence_query *q = &it->query;
  q->channels = rest__context(b->req)->channels;
  q->origin = b->req->worker;
  q->app_id = rest__auth(b->req)->app->id;
  q->channel = it->base;
  q->done = on_members;
  b->pending++;
  presence__query(q);
}

/* GET /presence */
void rest_batch_presence__get(struct http_request *req) {
  herald_error err;
  const char *list, *separator;
  int rc = channel_list(req, &list, &separator, &err);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  struct presence_batch *b = herald_xcalloc(1, sizeof *b);
  b->req = req;
  if (split_channels(b, list, separator, &err)) {
    batch_free(b);
    reply__error(req, &err);
    return;
  }
  b->pending = 1;
  for (size_t i = 0; i < b->n_items; i++) start_item(b, &b->items[i]);
  release(b);
}
