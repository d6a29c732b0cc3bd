/* redis_outbox.c -- leases on the shards' outboxes and reading them
 * (redis_outbox.h). */
#include "store/redis_outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "core/log.h"
#include "store/redis_batch.h"

#define READ_COUNT 256
#define ENTRY_ID_MAX 48

struct redis_outbox_shard {
  struct redis_outbox *o;
  struct redis_shard *sh;
  bool holding;
  bool reading; /* an XRANGE in flight */
  bool again;   /* told of more while it was */
  char last[ENTRY_ID_MAX]; /* the last entry handed on; "" from the start */
};

/* Takes the lease if free, renews it if ours: 1 held, 0 another's. */
static const char lease_script[] =
    "local holder = redis.call('GET', KEYS[1])\n"
    "if holder and holder ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 1\n";

void redis_outbox__init(struct redis_outbox *o, struct redis_shard *shards,
                        size_t n_shards, const char *node, int64_t lease_ms,
                        void (*emit)(void *, struct store_feed_item *),
                        void *ctx) {
  *o = (struct redis_outbox){.shards = shards, .n_shards = n_shards,
                             .node = node, .lease_ms = lease_ms,
                             .emit = emit, .ctx = ctx};
  o->per = herald_xcalloc(n_shards, sizeof *o->per);
  for (size_t i = 0; i < n_shards; i++)
    o->per[i] = (struct redis_outbox_shard){.o = o, .sh = &shards[i]};
}

void redis_outbox__cleanup(struct redis_outbox *o) { herald_free(o->per); }

/* ---- Reading ---------------------------------------------------------------- */

static const redisReply *field(const redisReply *fields, const char *name) {
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    const redisReply *f = fields->element[i];
    if (f->type == REDIS_REPLY_STRING && !strcmp(f->str, name) &&
        fields->element[i + 1]->type == REDIS_REPLY_STRING)
      return fields->element[i + 1];
  }
  return NULL;
}

/* The entry [id, [field, value, ...]] as an item, or NULL if malformed. */
static struct store_feed_item *parse_entry(const struct redis_outbox_shard *os,
                                           const redisReply *id,
                                           const redisReply *fields) {
  const redisReply *app = field(fields, "a"), *channel = field(fields, "c"),
                   *kind = field(fields, "k"), *at = field(fields, "i"),
                   *tag = field(fields, "t"), *batch = field(fields, "b");
  int64_t ms;
  unsigned seq;
  struct redis_batch b;
  herald_error err;
  if (!app || !channel || !kind || !at || !tag || !batch || kind->len != 1 ||
      !redis_batch__parse_id(at->str, at->len, &ms, &seq) ||
      redis_batch__decode(batch->str, batch->len, ms, seq, &b, &err))
    return NULL;
  struct store_feed_item *it = herald_xcalloc(1, sizeof *it);
  it->event = STORE_FEED_OUTBOX;
  it->app_id = herald_xstrndup(app->str, app->len);
  it->channel = herald_xstrndup(channel->str, channel->len);
  it->stream = kind->str[0] == 'p' ? STORE_PRESENCE : STORE_MESSAGES;
  it->message_id = b.message_id;
  it->connection_id = b.connection_id;
  it->messages = b.messages;
  it->count = b.count;
  message__unref(b.latest); /* annotations are kept in no outbox */
  it->outbox_tag = herald_xstrndup(tag->str, tag->len);
  size_t n = id->len + 24;
  it->outbox_key = herald_xmalloc(n);
  snprintf(it->outbox_key, n, "%d %s", os->sh->index, id->str);
  return it;
}

static void read_more(struct redis_outbox_shard *os);

/* Hands each entry of one XRANGE page on, in order. */
static void on_range(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  struct redis_outbox_shard *os = priv;
  const redisReply *r = reply;
  os->reading = false;
  if (!r || r->type != REDIS_REPLY_ARRAY) return; /* the next beat retries */
  for (size_t i = 0; os->holding && i < r->elements; i++) {
    const redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY ||
        e->element[0]->len >= ENTRY_ID_MAX)
      continue;
    memcpy(os->last, e->element[0]->str, e->element[0]->len + 1);
    struct store_feed_item *it = parse_entry(os, e->element[0], e->element[1]);
    if (it) {
      os->o->emit(os->o->ctx, it);
    } else {
      log_warn("redis %s:%d: dropping a malformed outbox entry %s",
               os->sh->host, os->sh->port, os->last);
      char key[ENTRY_ID_MAX + 24];
      snprintf(key, sizeof key, "%d %s", os->sh->index, os->last);
      redis_outbox__done(os->o, key);
    }
  }
  if (os->holding && (os->again || r->elements == READ_COUNT)) {
    os->again = false;
    read_more(os);
  }
}

/* XRANGE after the last entry handed on (from the start after a take). */
static void read_more(struct redis_outbox_shard *os) {
  if (os->reading) {
    os->again = true;
    return;
  }
  char start[ENTRY_ID_MAX + 1];
  snprintf(start, sizeof start, "%s%s", os->last[0] ? "(" : "",
           os->last[0] ? os->last : "-");
  char count[8];
  snprintf(count, sizeof count, "%d", READ_COUNT);
  const char *argv[] = {"XRANGE", REDIS_OUTBOX_STREAM, start, "+", "COUNT",
                        count};
  size_t lens[] = {6, strlen(REDIS_OUTBOX_STREAM), strlen(start), 1, 5,
                   strlen(count)};
  os->reading = redis_shard__command(os->sh, on_range, os, 6, argv, lens);
}

/* ---- The lease -------------------------------------------------------------- */

static void listen_to(struct redis_outbox_shard *os, bool on) {
  redis_shard__subscribe(os->sh, on, REDIS_OUTBOX_STREAM,
                         strlen(REDIS_OUTBOX_STREAM));
}

static void on_lease(redisAsyncContext *ac, void *reply, void *priv) {
  (void)ac;
  struct redis_outbox_shard *os = priv;
  const redisReply *r = reply;
  if (!r || r->type != REDIS_REPLY_INTEGER) return; /* kept until known */
  bool held = r->integer == 1;
  if (held && !os->holding) {
    log_info("redis %s:%d: this node delivers the outbox", os->sh->host,
             os->sh->port);
    os->last[0] = '\0';
    listen_to(os, true);
  } else if (!held && os->holding) {
    listen_to(os, false);
  }
  os->holding = held;
  if (held) read_more(os);
}

void redis_outbox__beat(struct redis_outbox *o) {
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%" PRId64, o->lease_ms);
  const char *argv[] = {"EVAL", lease_script, "1", "h:wl", o->node, ttl};
  size_t lens[] = {4, sizeof lease_script - 1, 1, 4, strlen(o->node),
                   strlen(ttl)};
  for (size_t i = 0; i < o->n_shards; i++)
    redis_shard__command(&o->shards[i], on_lease, &o->per[i], 6, argv, lens);
}

void redis_outbox__up(struct redis_outbox *o, struct redis_shard *sh) {
  if (o->per[sh->index].holding) listen_to(&o->per[sh->index], true);
}

bool redis_outbox__sub_reply(struct redis_outbox *o, struct redis_shard *sh,
                             const redisReply *kind, const redisReply *topic) {
  if (strcmp(topic->str, REDIS_OUTBOX_STREAM)) return false;
  struct redis_outbox_shard *os = &o->per[sh->index];
  if (!strcmp(kind->str, "message") && os->holding) read_more(os);
  return true;
}

void redis_outbox__done(struct redis_outbox *o, const char *key) {
  char *space = strchr(key, ' ');
  long index = strtol(key, NULL, 10);
  if (!space || index < 0 || (size_t)index >= o->n_shards) return;
  const char *argv[] = {"XDEL", REDIS_OUTBOX_STREAM, space + 1};
  size_t lens[] = {4, strlen(REDIS_OUTBOX_STREAM), strlen(space + 1)};
  redis_shard__command(&o->shards[index], NULL, NULL, 3, argv, lens);
}
