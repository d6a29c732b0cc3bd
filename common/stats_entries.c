/* stats_entries.c -- one stats interval's entries (see stats_entries.h). */
#include "stats_entries.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "hashmap.h"

/* ---- Interned keys ---------------------------------------------------------- */

#define KEYS_MAX 4096
#define KEY_MAX_LEN 100

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hashmap interned; /* key -> its copy, never freed */
static bool keys_ready;

static bool valid_key(const char *key, size_t len) {
  if (len == 0 || len > KEY_MAX_LEN) return false;
  size_t segments = 1, run = 0;
  for (size_t i = 0; i < len; i++) {
    char c = key[i];
    if (c == '.') {
      if (run == 0) return false;
      segments++;
      run = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      run++;
    } else {
      return false;
    }
  }
  return run > 0 && segments >= 2 && segments <= 8;
}

const char *stats_entries__intern(const char *key, size_t len) {
  if (!valid_key(key, len)) return NULL;
  pthread_mutex_lock(&keys_lock);
  if (!keys_ready) {
    hashmap__init(&interned);
    keys_ready = true;
  }
  char *copy = hashmap__get(&interned, key, len);
  if (!copy && interned.count < KEYS_MAX) {
    copy = herald_xstrndup(key, len);
    hashmap__put(&interned, key, len, copy);
  }
  pthread_mutex_unlock(&keys_lock);
  return copy;
}

/* ---- An interval's entries ---------------------------------------------------- */

void stats_entries__init(struct stats_entries *e) { memset(e, 0, sizeof *e); }

void stats_entries__cleanup(struct stats_entries *e) {
  herald_free(e->items);
  memset(e, 0, sizeof *e);
}

void stats_entries__copy(struct stats_entries *dst,
                         const struct stats_entries *src) {
  stats_entries__init(dst);
  if (!src->count) return;
  dst->items = herald_xmalloc(src->count * sizeof *dst->items);
  memcpy(dst->items, src->items, src->count * sizeof *dst->items);
  dst->count = dst->cap = src->count;
}

/* The entry of key (interned), made (0) if need be. */
static struct stats_entry *slot(struct stats_entries *e, const char *key) {
  size_t lo = 0, hi = e->count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(e->items[mid].key, key);
    if (c == 0) return &e->items[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  if (e->count == e->cap) {
    e->cap = e->cap ? e->cap * 2 : 16;
    e->items = herald_xrealloc(e->items, e->cap * sizeof *e->items);
  }
  memmove(&e->items[lo + 1], &e->items[lo],
          (e->count - lo) * sizeof *e->items);
  e->count++;
  e->items[lo] = (struct stats_entry){.key = key};
  return &e->items[lo];
}

static const struct stats_entry *find(const struct stats_entries *e,
                                      const char *key) {
  size_t lo = 0, hi = e->count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(e->items[mid].key, key);
    if (c == 0) return &e->items[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* How a metric combines across intervals: by its last segment. */
enum roll { ROLL_SUM, ROLL_MAX, ROLL_MIN, ROLL_MEAN };

static enum roll roll_of(const char *key) {
  const char *last = strrchr(key, '.');
  last = last ? last + 1 : key;
  if (!strcmp(last, "peak")) return ROLL_MAX;
  if (!strcmp(last, "min")) return ROLL_MIN;
  if (!strcmp(last, "mean")) return ROLL_MEAN;
  return ROLL_SUM;
}

static int add_checked(struct stats_entries *e, const char *key, double v) {
  const char *k = stats_entries__intern(key, strlen(key));
  if (!k) return -1;
  struct stats_entry *s = slot(e, k);
  s->value += v;
  if (!s->n) s->n = 1;
  return 0;
}

void stats_entries__add(struct stats_entries *e, const char *key, double v) {
  add_checked(e, key, v);
}

static double value_of(const struct stats_entry *s) {
  return roll_of(s->key) == ROLL_MEAN && s->n ? s->value / s->n : s->value;
}

double stats_entries__get(const struct stats_entries *e, const char *key) {
  const struct stats_entry *s = find(e, key);
  return s ? value_of(s) : 0;
}

void stats_entries__sum(struct stats_entries *dst,
                        const struct stats_entries *src) {
  for (size_t i = 0; i < src->count; i++) {
    struct stats_entry *d = slot(dst, src->items[i].key);
    d->value += value_of(&src->items[i]);
    d->n = 1;
  }
}

void stats_entries__roll(struct stats_entries *dst,
                         const struct stats_entries *src) {
  for (size_t i = 0; i < src->count; i++) {
    const struct stats_entry *s = &src->items[i];
    struct stats_entry *d = slot(dst, s->key);
    double v = value_of(s);
    bool fresh = d->n == 0;
    switch (roll_of(s->key)) {
    case ROLL_SUM: d->value += v; break;
    case ROLL_MAX: if (fresh || v > d->value) d->value = v; break;
    case ROLL_MIN: if (fresh || v < d->value) d->value = v; break;
    case ROLL_MEAN: d->value += v; break;
    }
    d->n++;
  }
}

void stats_entries__write(struct wire_writer *w, const struct stats_entries *e) {
  size_t n = 0;
  for (size_t i = 0; i < e->count; i++) n += value_of(&e->items[i]) != 0;
  wire_writer__map(w, n);
  for (size_t i = 0; i < e->count; i++) {
    double v = value_of(&e->items[i]);
    if (v == 0) continue;
    wire_writer__key(w, e->items[i].key);
    wire_writer__number(w, v);
  }
}

static int bad_value(herald_error *err, const char *what) {
  return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid stats entry %s", what);
}

int stats_entries__read(struct stats_entries *e, struct wire_value map,
                        herald_error *err) {
  if (wire_value__kind(map) != WIRE_MAP) return bad_value(err, "map");
  for (size_t i = 0; i < wire_value__count(map); i++) {
    const char *text;
    size_t len;
    struct wire_value value = wire_value__member(map, i, &text, &len);
    const char *k = text ? stats_entries__intern(text, len) : NULL;
    double v;
    if (!k || !wire_value__number(value, &v)) return bad_value(err, "key");
    struct stats_entry *s = slot(e, k);
    s->value += v;
    s->n = 1;
  }
  return 0;
}

/* ---- Families ------------------------------------------------------------ */

/* Adds v to each distinct key of keys[0..n). */
static int add_distinct(struct stats_entries *e, char keys[][KEY_MAX_LEN + 2],
                        size_t n, double v) {
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(keys[i], keys[j]);
    if (!seen && add_checked(e, keys[i], v)) return -1;
  }
  return 0;
}

#define KEY(buf, ...) snprintf(buf, KEY_MAX_LEN + 2, __VA_ARGS__)

static int add_message(struct stats_entries *e, const char *dir,
                       const char *t, const char *ty, const char *f, double v) {
  char k[6][KEY_MAX_LEN + 2];
  KEY(k[0], "messages.%s.%s.%s.%s", dir, t, ty, f);
  KEY(k[1], "messages.%s.%s.all.%s", dir, t, f);
  KEY(k[2], "messages.%s.all.%s.%s", dir, ty, f);
  KEY(k[3], "messages.%s.all.all.%s", dir, f);
  KEY(k[4], "messages.all.%s.%s", ty, f);
  KEY(k[5], "messages.all.all.%s", f);
  return add_distinct(e, k, 6, v);
}

void stats_entries__add_message(struct stats_entries *e, const char *direction,
                                const char *transport, const char *type,
                                const char *metric, double v) {
  add_message(e, direction, transport, type, metric, v);
}

static int add_persisted(struct stats_entries *e, const char *ty,
                         const char *f, double v) {
  char k[2][KEY_MAX_LEN + 2];
  KEY(k[0], "messages.persisted.%s.%s", ty, f);
  KEY(k[1], "messages.persisted.all.%s", f);
  return add_distinct(e, k, 2, v);
}

void stats_entries__add_persisted(struct stats_entries *e, const char *type,
                                  const char *metric, double v) {
  add_persisted(e, type, metric, v);
}

static int add_request(struct stats_entries *e, const char *kind,
                       const char *f, double v) {
  char k[2][KEY_MAX_LEN + 2];
  KEY(k[0], "apiRequests.%s.%s", kind, f);
  KEY(k[1], "apiRequests.all.%s", f);
  return add_distinct(e, k, 2, v);
}

void stats_entries__add_request(struct stats_entries *e, const char *kind,
                                const char *metric, double v) {
  add_request(e, kind, metric, v);
}

/* ---- Legacy fixtures --------------------------------------------------------- */

/* A map member's name, as a NUL-terminated copy (over-long: ""). */
static void member_name(const char *text, size_t len,
                        char out[KEY_MAX_LEN + 2]) {
  if (!text || len > KEY_MAX_LEN) len = 0;
  memcpy(out, text ? text : "", len);
  out[len] = '\0';
}

/* What a fixture's leaf (path[0..depth), a number) adds. */
struct leaf_rule {
  const char *name;
  int depth; /* of the path below the top-level member */
  int (*add)(struct stats_entries *e, char path[][KEY_MAX_LEN + 2], double v);
};

static int leaf_inbound(struct stats_entries *e, char p[][KEY_MAX_LEN + 2],
                        double v) {
  return add_message(e, "inbound", p[0], p[1], p[2], v);
}
static int leaf_outbound(struct stats_entries *e, char p[][KEY_MAX_LEN + 2],
                         double v) {
  return add_message(e, "outbound", p[0], p[1], p[2], v);
}
static int leaf_persisted(struct stats_entries *e, char p[][KEY_MAX_LEN + 2],
                          double v) {
  return add_persisted(e, p[0], p[1], v);
}
static int leaf_connections(struct stats_entries *e,
                            char p[][KEY_MAX_LEN + 2], double v) {
  char k[1][KEY_MAX_LEN + 2]; /* all, plain and tls are one now */
  KEY(k[0], "connections.all.%s", p[1]);
  return add_distinct(e, k, 1, v);
}
static int leaf_channels(struct stats_entries *e, char p[][KEY_MAX_LEN + 2],
                         double v) {
  char k[1][KEY_MAX_LEN + 2];
  KEY(k[0], "channels.%s", p[0]);
  return add_distinct(e, k, 1, v);
}
static int leaf_api(struct stats_entries *e, char p[][KEY_MAX_LEN + 2],
                    double v) {
  return add_request(e, "other", p[0], v);
}
static int leaf_tokens(struct stats_entries *e, char p[][KEY_MAX_LEN + 2],
                       double v) {
  return add_request(e, "tokenRequests", p[0], v);
}

static const struct leaf_rule rules[] = {
    {"inbound", 3, leaf_inbound},         {"outbound", 3, leaf_outbound},
    {"persisted", 2, leaf_persisted},     {"connections", 2, leaf_connections},
    {"channels", 1, leaf_channels},       {"apiRequests", 1, leaf_api},
    {"tokenRequests", 1, leaf_tokens},
};

#define FIXTURE_DEPTH 3

/* Walks v, the value at path[0..depth) under rule r's member. */
static int walk(struct stats_entries *e, const struct leaf_rule *r,
                struct wire_value v, char path[][KEY_MAX_LEN + 2], int depth,
                herald_error *err) {
  double number;
  if (depth == r->depth) {
    if (!wire_value__number(v, &number)) return bad_value(err, "value");
    return r->add(e, path, number) ? bad_value(err, "key") : 0;
  }
  if (wire_value__kind(v) != WIRE_MAP) return bad_value(err, r->name);
  for (size_t i = 0; i < wire_value__count(v); i++) {
    const char *name;
    size_t len;
    struct wire_value child = wire_value__member(v, i, &name, &len);
    member_name(name, len, path[depth]);
    int rc = walk(e, r, child, path, depth + 1, err);
    if (rc) return rc;
  }
  return 0;
}

int stats_entries__add_fixture(struct stats_entries *e, struct wire_value rec,
                               herald_error *err) {
  if (wire_value__kind(rec) != WIRE_MAP) return bad_value(err, "record");
  char path[FIXTURE_DEPTH][KEY_MAX_LEN + 2];
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    struct wire_value v = wire_value__get(rec, rules[i].name);
    if (wire_value__kind(v) == WIRE_ABSENT) continue;
    int rc = walk(e, &rules[i], v, path, 0, err);
    if (rc) return rc;
  }
  struct wire_value flat = wire_value__get(rec, "entries");
  if (wire_value__kind(flat) == WIRE_ABSENT) return 0;
  return stats_entries__read(e, flat, err);
}
