/* rest_batch_publish.c -- POST /messages, batch publish (seed 002; rest.md
 * 12). The body is a BatchSpec {channels, messages} or an array of them;
 * each spec publishes its messages, atomically, to each of its channels.
 * The request fails as a whole only before any publish starts (credentials,
 * an invalid body, over 100 distinct channels); then every publish starts at
 * once on its channel's owner and succeeds or fails on its own (channel
 * name, capability, the message rules). The outcomes are answered in
 * request order: the seed's form for X-Ably-Version <= 2, one BatchResult
 * per spec for >= 3. */
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel/channel.h"
#include "channel/stats.h"
#include "channel_name.h"
#include "hashmap.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

/* One spec's publish to one of its channels. */
struct batch_item {
  struct publish publish; /* first: the publish's done finds its item */
  struct batch *batch;
  char *channel;    /* as requested */
  herald_error err; /* code 0: published */
};

struct batch_spec {
  size_t first, count;   /* its items: items[first .. first + count) */
  herald_error rejected; /* the message rule its messages break, or code 0 */
};

struct batch {
  struct http_request *req;
  struct batch_spec *specs;
  size_t n_specs;
  struct batch_item *items;
  size_t n_items;
  size_t pending; /* publishes running, plus one while they are started */
};

/* ---- The body's shape ------------------------------------------------- */

/* A body's BatchSpecs and a spec's channels are one value or an array. */
static size_t one_or_many_count(struct wire_value v) {
  return wire_value__kind(v) == WIRE_ARRAY ? wire_value__count(v) : 1;
}

static struct wire_value one_or_many_at(struct wire_value v, size_t i) {
  return wire_value__kind(v) == WIRE_ARRAY ? wire_value__at(v, i) : v;
}

static int invalid_body(herald_error *err, const char *what) {
  return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                          "Invalid batch request: %s", what);
}

/* A spec is a map whose channels are a name or a non-empty array of names. */
static int check_spec(struct wire_value spec, herald_error *err) {
  if (wire_value__kind(spec) != WIRE_MAP)
    return invalid_body(err, "a BatchSpec must be an object");
  struct wire_value channels = wire_value__get(spec, "channels");
  size_t n = one_or_many_count(channels);
  bool valid = n > 0 && (wire_value__kind(channels) == WIRE_STR ||
                         wire_value__kind(channels) == WIRE_ARRAY);
  for (size_t i = 0; valid && i < n; i++)
    valid = wire_value__kind(one_or_many_at(channels, i)) == WIRE_STR;
  return valid ? 0
               : invalid_body(err, "channels must be a channel name or a "
                                   "non-empty array of channel names");
}

/* Checks every spec's shape and the channel limit, before any message is
 * decoded. 0 with *n_items the number of (spec, channel) publishes. */
static int check_shape(struct wire_value body, size_t *n_items,
                       herald_error *err) {
  size_t n_specs = one_or_many_count(body);
  *n_items = 0;
  if (n_specs == 0) return invalid_body(err, "no BatchSpec");
  struct hashmap distinct;
  hashmap__init(&distinct);
  int rc = 0;
  for (size_t s = 0; s < n_specs && !rc; s++) {
    struct wire_value spec = one_or_many_at(body, s);
    rc = check_spec(spec, err);
    struct wire_value channels = wire_value__get(spec, "channels");
    size_t n = rc ? 0 : one_or_many_count(channels);
    for (size_t i = 0; i < n && !rc; i++) {
      size_t len;
      const char *name = wire_value__bytes(one_or_many_at(channels, i), &len);
      rc = rest__batch_channel(&distinct, name, len, err);
    }
    *n_items += n;
  }
  hashmap__cleanup(&distinct);
  return rc;
}

/* ---- Preparing and starting the publishes ----------------------------- */

static struct batch *batch_new(struct http_request *req,
                               struct wire_value body, size_t n_items) {
  struct batch *b = herald_xcalloc(1, sizeof *b);
  b->req = req;
  b->n_specs = one_or_many_count(body);
  b->specs = herald_xcalloc(b->n_specs, sizeof *b->specs);
  b->n_items = n_items;
  b->items = herald_xcalloc(n_items, sizeof *b->items);
  size_t first = 0;
  for (size_t s = 0; s < b->n_specs; s++) {
    struct wire_value spec = one_or_many_at(body, s);
    struct wire_value channels = wire_value__get(spec, "channels");
    b->specs[s].first = first;
    b->specs[s].count = one_or_many_count(channels);
    for (size_t i = 0; i < b->specs[s].count; i++) {
      size_t len;
      const char *name = wire_value__bytes(one_or_many_at(channels, i), &len);
      b->items[first + i].batch = b;
      b->items[first + i].channel = herald_xstrndup(name, len);
    }
    first += b->specs[s].count;
  }
  return b;
}

static void batch_free(struct batch *b) {
  for (size_t i = 0; i < b->n_items; i++) {
    herald_free(b->items[i].channel);
    channel__publish_cleanup(&b->items[i].publish);
  }
  herald_free(b->items);
  herald_free(b->specs);
  herald_free(b);
}

/* Decodes every spec's messages once: an invalid one fails the request;
 * a message rule they break (size, clientId, ids) is the spec's, and fails
 * each of its channels. */
static int check_messages(struct batch *b, struct wire_value body,
                          herald_error *err) {
  for (size_t s = 0; s < b->n_specs; s++) {
    struct wire_value spec = one_or_many_at(body, s);
    struct publish probe;
    memset(&probe, 0, sizeof probe);
    int rc = rest_publish__decode(wire_value__get(spec, "messages"), &probe,
                                  err);
    if (!rc) rest_publish__check(b->req, &probe, &b->specs[s].rejected);
    channel__publish_cleanup(&probe);
    if (rc) return rc;
  }
  return 0;
}

static void answer(struct batch *b);

static void release(struct batch *b) {
  if (--b->pending == 0) answer(b);
}

static void on_item_published(struct publish *p) {
  struct batch_item *it = (struct batch_item *)p;
  stats__published(p, METRIC_REST);
  if (p->rc) it->err = p->err;
  release(it->batch);
}

/* Starts an item's publish, unless its channel or its spec fails it. */
static void start_item(struct batch *b, struct batch_item *it,
                       struct wire_value messages,
                       const herald_error *rejected) {
  struct channel_name name;
  if (rest__named_channel(b->req, it->channel, CAPABILITY_OP_PUBLISH, &name,
                          &it->err))
    return;
  if (rejected->code) {
    it->err = *rejected;
    return;
  }
  /* The spec's messages passed both steps already (check_messages). */
  rest_publish__decode(messages, &it->publish, &it->err);
  rest_publish__check(b->req, &it->publish, &it->err);
  b->pending++;
  rest_publish__start(b->req, &it->publish, &name, NULL, on_item_published);
}

static void start(struct batch *b, struct wire_value body) {
  b->pending = 1;
  for (size_t s = 0; s < b->n_specs; s++) {
    struct wire_value messages =
        wire_value__get(one_or_many_at(body, s), "messages");
    const struct batch_spec *spec = &b->specs[s];
    for (size_t i = 0; i < spec->count; i++)
      start_item(b, &b->items[spec->first + i], messages, &spec->rejected);
  }
  release(b);
}

/* ---- The answer -------------------------------------------------------- */

/* {channel, messageId[, serials]} or {channel, error}. */
static void write_item(struct wire_writer *w, const struct batch_item *it,
                       bool with_serials) {
  const struct publish *p = &it->publish;
  if (it->err.code) {
    reply__write_batch_failure(w, "channel", it->channel, &it->err);
    return;
  }
  wire_writer__map(w, with_serials ? 3 : 2);
  wire_writer__kv_str(w, "channel", it->channel);
  wire_writer__kv_str(w, "messageId", p->message_id);
  if (!with_serials) return;
  wire_writer__key(w, "serials");
  wire_writer__array(w, p->n_serials);
  for (size_t i = 0; i < p->n_serials; i++) wire_writer__str(w, p->serials[i]);
}

/* Writes items[first .. first + count) as an array; returns the failures. */
static size_t write_items(const struct batch *b, size_t first, size_t count,
                          bool with_serials, struct wire_writer *w) {
  size_t failures = 0;
  reply__writer(b->req, w);
  wire_writer__array(w, count);
  for (size_t i = first; i < first + count; i++) {
    write_item(w, &b->items[i], with_serials);
    failures += b->items[i].err.code != 0;
  }
  return failures;
}

/* X-Ably-Version >= 3: 201 with one BatchResult per spec (rest.md 12.2). */
static void answer_batch_results(struct batch *b) {
  struct wire_writer w, items;
  reply__writer(b->req, &w);
  wire_writer__array(&w, b->n_specs);
  for (size_t s = 0; s < b->n_specs; s++) {
    const struct batch_spec *spec = &b->specs[s];
    size_t failures = write_items(b, spec->first, spec->count, true, &items);
    reply__write_batch_result(&w, &items, spec->count, failures);
    wire_writer__cleanup(&items);
  }
  reply__send(b->req, 201, &w, NULL);
}

static void answer(struct batch *b) {
  if (b->req->version >= 3) {
    answer_batch_results(b);
  } else { /* the seed's form (rest.md 12.1) */
    struct wire_writer items;
    size_t failures = write_items(b, 0, b->n_items, false, &items);
    reply__legacy_batch(b->req, 201, &items, failures);
  }
  batch_free(b);
}

/* POST /messages */
void rest_batch_publish__post(struct http_request *req) {
  herald_error err;
  struct wire_doc doc;
  struct batch *b = NULL;
  size_t n_items;
  int rc = rest__parse_body(req, &doc, &err);
  if (rc) {
    reply__error(req, &err);
    return;
  }
  struct wire_value body = wire_doc__root(&doc);
  rc = check_shape(body, &n_items, &err);
  if (!rc) {
    b = batch_new(req, body, n_items);
    rc = check_messages(b, body, &err);
  }
  if (!rc) start(b, body);
  else if (b) batch_free(b);
  wire_doc__cleanup(&doc);
  if (rc) reply__error(req, &err);
}
