/* store_memory.c -- the in-memory storage engine, for tests and throwaway
 * runs. Nothing survives a restart.
 *
 * Owns: every channel's retained messages (references, in serial order),
 * the versions of its mutable messages (the newest with its annotations
 * summary), its annotations, the idempotency records and their
 * expiry queue. One mutex guards it all;
 * operations run on the caller's thread and complete through the caller's
 * worker like any engine's. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "clock.h"
#include "hashmap.h"
#include "store/store.h"

extern const struct store_ops store_memory__ops;

/* A message of a mutable namespace that was changed: the message as
 * created, then each version as it then was, in serial order, and the
 * message as it is now (which an append changes without a version). */
struct mem_versions {
  struct message **list;
  size_t count, capacity;
  struct message *latest;
};

/* One history of a channel: its messages or its presence events. */
struct mem_channel {
  char *app_id;
  char *name;
  enum store_stream stream;
  struct message **msgs; /* msgs[first..count) are live */
  size_t first, count, capacity;
  int64_t retention_ms; /* as of the latest append */
  struct hashmap versions; /* serial -> mem_versions, while retained */
};

struct mem_idempotency {
  struct mem_idempotency *next_expiry; /* FIFO: expiries only grow */
  char *map_key;
  int64_t expires;
  char *message_id;
  char **serials;
  size_t n_serials;
};

struct mem_store {
  struct store base;
  pthread_mutex_t lock;
  struct hashmap channels;    /* "app\n<stream>\nchannel" -> mem_channel */
  struct hashmap idempotency; /* "app\nchannel\nkey" -> mem_idempotency */
  struct mem_idempotency *expiry_head, *expiry_tail;
};

static char *join_key(const char *a, const char *b, const char *c,
                      size_t *len) {
  size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
  char *key = herald_xmalloc(la + lb + lc + 3);
  memcpy(key, a, la);
  key[la] = '\n';
  memcpy(key + la + 1, b, lb);
  *len = la + 1 + lb;
  if (c) {
    key[(*len)++] = '\n';
    memcpy(key + *len, c, lc);
    *len += lc;
  }
  key[*len] = '\0';
  return key;
}

/* ---- Retention and idempotency expiry --------------------------------- */

static void free_versions(struct mem_versions *v) {
  message__free_list(v->list, v->count);
  message__unref(v->latest);
  herald_free(v);
}

/* Drops the messages older than the channel's retention, with their
 * versions. Every operation trims what it touches, so expired history is
 * never served. */
static void trim_channel(struct mem_channel *ch, int64_t now) {
  int64_t oldest = now - ch->retention_ms;
  while (ch->first < ch->count && ch->msgs[ch->first]->timestamp < oldest) {
    struct message *m = ch->msgs[ch->first++];
    if (ch->versions.count && !m->version) {
      struct mem_versions *v =
          hashmap__remove(&ch->versions, m->serial, strlen(m->serial));
      if (v) free_versions(v);
    }
    message__unref(m);
  }
  if (ch->first > ch->capacity / 2) {
    memmove(ch->msgs, ch->msgs + ch->first,
            (ch->count - ch->first) * sizeof *ch->msgs);
    ch->count -= ch->first;
    ch->first = 0;
  }
}

static void free_idempotency(struct mem_idempotency *rec) {
  for (size_t i = 0; i < rec->n_serials; i++) herald_free(rec->serials[i]);
  herald_free(rec->serials);
  herald_free(rec->message_id);
  herald_free(rec->map_key);
  herald_free(rec);
}

static void expire_idempotency(struct mem_store *s, int64_t now) {
  while (s->expiry_head && s->expiry_head->expires <= now) {
    struct mem_idempotency *rec = s->expiry_head;
    s->expiry_head = rec->next_expiry;
    if (!s->expiry_head) s->expiry_tail = NULL;
    hashmap__remove(&s->idempotency, rec->map_key, strlen(rec->map_key));
    free_idempotency(rec);
  }
}

/* ---- append ------------------------------------------------------------ */

/* The key of one history (app ids hold no newline, so keys are unique). */
static char *history_key(const char *app_id, enum store_stream stream,
                         const char *name, size_t *len) {
  static const char *const letters[] = {[STORE_MESSAGES] = "m",
                                         [STORE_PRESENCE] = "p",
                                         [STORE_ANNOTATIONS] = "a"};
  return join_key(app_id, letters[stream], name, len);
}

static struct mem_channel *get_channel(struct mem_store *s, const char *app_id,
                                       enum store_stream stream,
                                       const char *name) {
  size_t len;
  char *key = history_key(app_id, stream, name, &len);
  struct mem_channel *ch = hashmap__get(&s->channels, key, len);
  if (!ch) {
    ch = herald_xcalloc(1, sizeof *ch);
    ch->app_id = herald_xstrdup(app_id);
    ch->name = herald_xstrdup(name);
    ch->stream = stream;
    hashmap__init(&ch->versions);
    hashmap__put(&s->channels, key, len, ch);
  }
  herald_free(key);
  return ch;
}

static void push_message(struct mem_channel *ch, struct message *m) {
  if (ch->count == ch->capacity) {
    ch->capacity = ch->capacity ? ch->capacity * 2 : 16;
    ch->msgs = herald_xrealloc(ch->msgs, ch->capacity * sizeof *ch->msgs);
  }
  ch->msgs[ch->count++] = message__ref(m);
}

static char **copy_serials(struct message *const *msgs, size_t n) {
  char **serials = herald_xcalloc(n, sizeof *serials);
  for (size_t i = 0; i < n; i++) serials[i] = herald_xstrdup(msgs[i]->serial);
  return serials;
}

/* Records the publish's idempotency key, or fills the duplicate outputs
 * when the key is already known. Returns true for a duplicate. */
static bool check_idempotency(struct mem_store *s, struct store_append *a,
                              int64_t now) {
  size_t len;
  char *key = join_key(a->app_id, a->channel, a->idempotency_key, &len);
  struct mem_idempotency *rec = hashmap__get(&s->idempotency, key, len);
  if (rec) {
    herald_free(key);
    a->duplicate = true;
    a->original_message_id = herald_xstrdup(rec->message_id);
    a->original_serials = herald_xcalloc(rec->n_serials, sizeof(char *));
    for (size_t i = 0; i < rec->n_serials; i++)
      a->original_serials[i] = herald_xstrdup(rec->serials[i]);
    a->original_count = rec->n_serials;
    return true;
  }
  rec = herald_xcalloc(1, sizeof *rec);
  rec->map_key = key;
  rec->expires = now + a->idempotency_window_ms;
  rec->message_id = herald_xstrdup(a->message_id);
  rec->serials = copy_serials(a->messages, a->count);
  rec->n_serials = a->count;
  hashmap__put(&s->idempotency, key, len, rec);
  if (s->expiry_tail) s->expiry_tail->next_expiry = rec;
  else s->expiry_head = rec;
  s->expiry_tail = rec;
  return false;
}

/* Index of the first of list[first..count) whose serial is >= serial. */
static size_t bound_in(struct message *const *list, size_t first, size_t count,
                       const char *serial) {
  size_t lo = first, hi = count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(list[mid]->serial, serial) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* The message with this serial as created, or NULL. */
static struct message *find_created(const struct mem_channel *ch,
                                    const char *serial) {
  size_t at = bound_in(ch->msgs, ch->first, ch->count, serial);
  if (at == ch->count) return NULL;
  struct message *m = ch->msgs[at];
  return !m->version && !strcmp(m->serial, serial) ? m : NULL;
}

/* The versions of the message with this serial (NULL: it has none), and
 * the message as created (*created, NULL when not retained). */
static struct mem_versions *find_versions(const struct mem_channel *ch,
                                          const char *serial,
                                          struct message **created) {
  struct mem_versions *v = hashmap__get(&ch->versions, serial, strlen(serial));
  *created = v ? v->list[0] : find_created(ch, serial);
  return v;
}

static void push_version(struct mem_versions *v, struct message *m) {
  if (v->count == v->capacity) {
    v->capacity = v->capacity ? v->capacity * 2 : 4;
    v->list = herald_xrealloc(v->list, v->capacity * sizeof *v->list);
  }
  v->list[v->count++] = message__ref(m);
}

static bool same_or_null(const char *a, const char *b) {
  return a && b ? !strcmp(a, b) : a == b;
}

/* Keeps a->latest as the newest version of its message, if that message's
 * newest version is still a->expected, and its summary a->expected_summary. */
static bool add_version(struct mem_channel *ch, struct store_append *a) {
  const char *of = a->latest->version ? a->latest->version->of
                                      : a->latest->serial;
  struct message *created;
  struct mem_versions *v = find_versions(ch, of, &created);
  struct message *now = v ? v->latest : created;
  if (!now || strcmp(now->serial, a->expected) ||
      !same_or_null(now->summary_serial, a->expected_summary))
    return false;
  if (!v) {
    v = herald_xcalloc(1, sizeof *v);
    push_version(v, created);
    hashmap__put(&ch->versions, of, strlen(of), v);
  }
  if (a->new_version) push_version(v, a->latest);
  message__unref(v->latest);
  v->latest = message__ref(a->latest);
  return true;
}

static void mem_append(struct store *base, struct store_append *a) {
  struct mem_store *s = (struct mem_store *)base;
  int64_t now = clock__now_ms();
  pthread_mutex_lock(&s->lock);
  expire_idempotency(s, now);
  bool duplicate = a->idempotency_key && check_idempotency(s, a, now);
  if (!duplicate && !a->ephemeral) {
    struct mem_channel *ch = get_channel(s, a->app_id, a->stream, a->channel);
    ch->retention_ms = a->retention_ms;
    trim_channel(ch, now);
    /* an annotation changes its message's summary */
    struct mem_channel *messages =
        a->stream == STORE_ANNOTATIONS
            ? get_channel(s, a->app_id, STORE_MESSAGES, a->channel)
            : ch;
    a->stale = a->latest && !add_version(messages, a);
    if (!a->stale)
      for (size_t i = 0; i < a->count; i++) push_message(ch, a->messages[i]);
  }
  pthread_mutex_unlock(&s->lock);
  a->req.rc = 0;
  store_req__complete(&a->req);
}

/* ---- history ----------------------------------------------------------- */

static bool in_bounds(const struct store_history *h, const struct message *m) {
  return m->timestamp >= h->start && m->timestamp <= h->end;
}

/* What the latest view shows of the stream entry m: the newest version of
 * a message as created, nothing of a version. */
static struct message *latest_of(const struct mem_channel *ch,
                                 struct message *m) {
  if (m->version) return NULL;
  struct mem_versions *v =
      ch->versions.count ? hashmap__get(&ch->versions, m->serial,
                                        strlen(m->serial))
                         : NULL;
  return v ? v->latest : m;
}

/* Collects up to limit + 1 matching messages of list[first..count) walking
 * from index `at` in the query's direction; the extra one becomes the next
 * cursor. With ch, the latest view of ch's stream. */
static void collect(const struct mem_channel *ch, struct message *const *list,
                    size_t first, size_t count, struct store_history *h,
                    size_t at) {
  h->messages = herald_xcalloc(h->limit, sizeof *h->messages);
  bool forwards = h->direction == STORE_FORWARDS;
  for (size_t i = at; forwards ? i < count : i > first;) {
    struct message *m = list[forwards ? i : i - 1];
    i = forwards ? i + 1 : i - 1;
    if (!in_bounds(h, m)) {
      /* Serial order is time order: past the bound nothing else matches. */
      if (forwards ? m->timestamp > h->end : m->timestamp < h->start) break;
      continue;
    }
    if (h->stream == STORE_ANNOTATIONS && h->of &&
        strcmp(m->annotation->message_serial, h->of))
      continue; /* another message's */
    struct message *shown = ch ? latest_of(ch, m) : m;
    if (!shown) continue;
    if (h->count == h->limit) {
      h->next_cursor = herald_xstrdup(m->serial);
      break;
    }
    h->messages[h->count++] = message__ref(shown);
  }
}

/* Where a page of list[first..count) starts, from h's cursor. */
static size_t page_start(struct message *const *list, size_t first,
                         size_t count, const struct store_history *h) {
  if (h->direction == STORE_FORWARDS)
    return h->cursor ? bound_in(list, first, count, h->cursor) : first;
  if (!h->cursor) return count;
  size_t at = bound_in(list, first, count, h->cursor);
  return at < count && !strcmp(list[at]->serial, h->cursor) ? at + 1 : at;
}

static void query(const struct mem_channel *ch, struct store_history *h) {
  if (!h->of || h->stream == STORE_ANNOTATIONS) {
    size_t at = page_start(ch->msgs, ch->first, ch->count, h);
    collect(h->view == STORE_VIEW_LATEST ? ch : NULL, ch->msgs, ch->first,
            ch->count, h, at);
    return;
  }
  struct message *created;
  struct mem_versions *v = find_versions(ch, h->of, &created);
  if (h->view == STORE_VIEW_LATEST && v) created = v->latest;
  bool listed = v && h->view == STORE_VIEW_VERSIONS;
  struct message *const *list = listed ? v->list : &created;
  size_t count = listed ? v->count : created != NULL;
  collect(NULL, list, 0, count, h, page_start(list, 0, count, h));
}

static void mem_history(struct store *base, struct store_history *h) {
  struct mem_store *s = (struct mem_store *)base;
  size_t len;
  char *key = history_key(h->app_id, h->stream, h->channel, &len);
  pthread_mutex_lock(&s->lock);
  struct mem_channel *ch = hashmap__get(&s->channels, key, len);
  h->count = 0;
  h->next_cursor = NULL;
  h->messages = NULL;
  if (ch) {
    trim_channel(ch, clock__now_ms());
    query(ch, h);
  }
  pthread_mutex_unlock(&s->lock);
  herald_free(key);
  h->req.rc = 0;
  store_req__complete(&h->req);
}

/* ---- channels ---------------------------------------------------------- */

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void mem_channels(struct store *base, struct store_channels *c) {
  struct mem_store *s = (struct mem_store *)base;
  size_t prefix_len = c->prefix ? strlen(c->prefix) : 0;
  int64_t now = clock__now_ms();
  pthread_mutex_lock(&s->lock);
  char **names = herald_xcalloc(s->channels.count + 1, sizeof *names);
  size_t n = 0, bucket;
  for (struct hashmap_entry *e = hashmap__first(&s->channels, &bucket); e;
       e = hashmap__next(&s->channels, e, &bucket)) {
    struct mem_channel *ch = e->value;
    if (ch->stream != STORE_MESSAGES || strcmp(ch->app_id, c->app_id)) continue;
    trim_channel(ch, now);
    if (ch->first == ch->count) continue;
    if (prefix_len && strncmp(ch->name, c->prefix, prefix_len)) continue;
    if (c->cursor && strcmp(ch->name, c->cursor) < 0) continue;
    names[n++] = herald_xstrdup(ch->name);
  }
  pthread_mutex_unlock(&s->lock);
  qsort(names, n, sizeof *names, compare_names);
  c->count = n < c->limit ? n : c->limit;
  c->next_cursor = n > c->limit ? names[c->limit] : NULL;
  for (size_t i = c->limit + 1; i < n; i++) herald_free(names[i]);
  c->names = names;
  c->req.rc = 0;
  store_req__complete(&c->req);
}

/* ---- records and apps --------------------------------------------------- */

static void free_channel(struct mem_channel *ch) {
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&ch->versions, &bucket); e;
       e = hashmap__next(&ch->versions, e, &bucket))
    free_versions(e->value);
  hashmap__cleanup(&ch->versions);
  for (size_t i = ch->first; i < ch->count; i++) message__unref(ch->msgs[i]);
  herald_free(ch->msgs);
  herald_free(ch->app_id);
  herald_free(ch->name);
  herald_free(ch);
}

/* Nothing outlives the process here, so there is nothing to keep. */
static void mem_put_record(struct store *base, struct store_record *r) {
  r->req.rc = 0;
  store_req__complete(&r->req);
}

static int mem_load_records(struct store *base, const char *kind,
                            store_record_fn fn, void *ctx, herald_error *err) {
  return 0;
}

/* Drops the app's channels; its idempotency records expire by themselves. */
static void mem_drop_app(struct store *base, struct store_drop_app *d) {
  struct mem_store *s = (struct mem_store *)base;
  pthread_mutex_lock(&s->lock);
  size_t bucket;
  struct hashmap_entry *e = hashmap__first(&s->channels, &bucket);
  while (e) {
    struct mem_channel *ch = e->value;
    struct hashmap_entry *next = hashmap__next(&s->channels, e, &bucket);
    if (!strcmp(ch->app_id, d->app_id)) {
      hashmap__remove(&s->channels, e->key, e->key_len);
      free_channel(ch);
    }
    e = next;
  }
  pthread_mutex_unlock(&s->lock);
  d->req.rc = 0;
  store_req__complete(&d->req);
}

/* ---- open / close ------------------------------------------------------ */

static int mem_open(struct store **out, const struct config *cfg,
                    herald_error *err) {
  struct mem_store *s = herald_xcalloc(1, sizeof *s);
  s->base.ops = &store_memory__ops;
  pthread_mutex_init(&s->lock, NULL);
  hashmap__init(&s->channels);
  hashmap__init(&s->idempotency);
  *out = &s->base;
  return 0;
}

static void mem_close(struct store *base) {
  struct mem_store *s = (struct mem_store *)base;
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&s->channels, &bucket); e;
       e = hashmap__next(&s->channels, e, &bucket))
    free_channel(e->value);
  hashmap__cleanup(&s->channels);
  expire_idempotency(s, INT64_MAX);
  hashmap__cleanup(&s->idempotency);
  pthread_mutex_destroy(&s->lock);
  herald_free(s);
}

const struct store_ops store_memory__ops = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .append = mem_append,
    .history = mem_history,
    .channels = mem_channels,
    .put_record = mem_put_record,
    .drop_app = mem_drop_app,
    .load_records = mem_load_records,
};
