/* presence.c -- channel member sets on their owners (see presence.h).
 * Owns: struct presence_table (per owner worker) and struct presence_set.
 * Does not own: the publish pipeline (channel.c) that carries changes. */
#include "channel/presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "channel/channel.h"
#include "channel/fanout.h"
#include "msgid.h"

#define FIXTURE_CONNECTION_ID "fixtures"
#define SYNTHESIZED_BASE_LEN 12

/* One channel's members: "<connectionId>:<clientId>" -> PRESENT message.
 * connectionIds hold no ':', so the key splits back unambiguously, and
 * sorting keys gives the stable order pages follow. */
struct presence_set {
  struct hashmap members;
};

struct presence_table {
  struct hashmap sets; /* "<app id>\n<channel>" -> struct presence_set */
};

struct presence_table *presence__table_new(void) {
  struct presence_table *t = herald_xcalloc(1, sizeof *t);
  hashmap__init(&t->sets);
  return t;
}

static void free_set(struct presence_set *set) {
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&set->members, &bucket); e;
       e = hashmap__next(&set->members, e, &bucket))
    message__unref(e->value);
  hashmap__cleanup(&set->members);
  herald_free(set);
}

void presence__table_free(struct presence_table *t) {
  if (!t) return;
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&t->sets, &bucket); e;
       e = hashmap__next(&t->sets, e, &bucket))
    free_set(e->value);
  hashmap__cleanup(&t->sets);
  herald_free(t);
}

/* ---- Keys ------------------------------------------------------------------------ */

static char *join(const char *a, char sep, const char *b, size_t *len) {
  size_t la = strlen(a), lb = strlen(b);
  char *key = herald_xmalloc(la + lb + 2);
  memcpy(key, a, la);
  key[la] = sep;
  memcpy(key + la + 1, b, lb + 1);
  *len = la + 1 + lb;
  return key;
}

static char *member_key(const struct message *m, size_t *len) {
  return join(m->connection_id, ':', m->client_id, len);
}

static struct presence_set *find_set(struct presence_table *t,
                                     const char *app_id, const char *channel) {
  size_t len;
  char *key = join(app_id, '\n', channel, &len);
  struct presence_set *set = hashmap__get(&t->sets, key, len);
  herald_free(key);
  return set;
}

void presence__each_channel(struct presence_table *t, const char *app_id,
                            void (*fn)(const char *name, void *arg), void *arg) {
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&t->sets, &bucket); e;
       e = hashmap__next(&t->sets, e, &bucket)) {
    const struct presence_set *set = e->value;
    const char *name = fanout__key_channel(e->key, e->key_len, app_id);
    if (name && set->members.count) fn(name, arg);
  }
}

size_t presence__count(struct presence_table *t, const char *key,
                       size_t key_len) {
  struct presence_set *set = hashmap__get(&t->sets, key, key_len);
  return set ? set->members.count : 0;
}

static struct presence_set *get_set(struct presence_table *t,
                                    const char *app_id, const char *channel) {
  struct presence_set *set = find_set(t, app_id, channel);
  if (set) return set;
  set = herald_xcalloc(1, sizeof *set);
  hashmap__init(&set->members);
  size_t len;
  char *key = join(app_id, '\n', channel, &len);
  hashmap__put(&t->sets, key, len, set);
  herald_free(key);
  return set;
}

static void drop_set_if_empty(struct presence_table *t, const char *app_id,
                              const char *channel) {
  size_t len;
  char *key = join(app_id, '\n', channel, &len);
  struct presence_set *set = hashmap__get(&t->sets, key, len);
  if (set && set->members.count == 0) {
    hashmap__remove(&t->sets, key, len);
    free_set(set);
  }
  herald_free(key);
}

static struct message *find_member(const struct presence_set *set,
                                   const struct message *m) {
  if (!set) return NULL;
  size_t len;
  char *key = member_key(m, &len);
  struct message *member = hashmap__get(&set->members, key, len);
  herald_free(key);
  return member;
}

/* ---- Changes (on the owner) ------------------------------------------------------ */

/* One synthesized LEAVE per member of p->connection_id: fresh ids that do
 * not start with the connectionId, so clients compare them by time. */
static void expand_leave_connection(const struct presence_set *set,
                                    struct publish *p) {
  p->count = 0;
  if (!set) return;
  p->messages = herald_xcalloc(set->members.count, sizeof *p->messages);
  char base[SYNTHESIZED_BASE_LEN + 1];
  msgid__random(base, SYNTHESIZED_BASE_LEN);
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&set->members, &bucket); e;
       e = hashmap__next(&set->members, e, &bucket)) {
    struct message *member = e->value;
    if (strcmp(member->connection_id, p->connection_id)) continue;
    struct message *leave = presence_message__copy(member, PRESENCE_LEAVE);
    herald_free(leave->id);
    size_t id_len = SYNTHESIZED_BASE_LEN + 24;
    leave->id = herald_xmalloc(id_len);
    snprintf(leave->id, id_len, "%s:0:%zu", base, p->count);
    p->messages[p->count++] = leave;
  }
}

/* Members the items would add (an item's connectionId is the publish's,
 * as stamping will make it). */
static size_t members_added(const struct presence_set *set,
                            const struct publish *p) {
  size_t added = 0;
  for (size_t i = 0; i < p->count; i++) {
    struct message *m = p->messages[i];
    if (m->action == PRESENCE_LEAVE) continue;
    struct message probe = {.connection_id = p->connection_id,
                            .client_id = m->client_id};
    bool counted = find_member(set, &probe) != NULL;
    for (size_t j = 0; !counted && j < i; j++)
      counted = p->messages[j]->action != PRESENCE_LEAVE &&
                !strcmp(p->messages[j]->client_id, m->client_id);
    added += !counted;
  }
  return added;
}

int presence__prepare(struct presence_table *t, struct publish *p,
                      size_t max_members, herald_error *err) {
  struct presence_set *set = find_set(t, p->app->id, p->channel);
  if (p->leave_connection) {
    expand_leave_connection(set, p);
    return 0;
  }
  size_t present = set ? set->members.count : 0;
  if (present + members_added(set, p) > max_members)
    return herald_error_set(err, HERALD_E_TOO_MANY_PRESENCE_MEMBERS,
                            "Maximum number of presence members (%zu) on "
                            "channel %s exceeded", max_members, p->channel);
  return 0;
}

/* Applies one stamped item; false when it changes nothing a client sees. */
static bool apply_item(struct presence_set *set, struct message *m) {
  size_t len;
  char *key = member_key(m, &len);
  struct message *member = hashmap__get(&set->members, key, len);
  bool visible = true;
  if (m->action == PRESENCE_LEAVE) {
    if (member) {
      if (m->payload.type == PAYLOAD_NONE) {
        payload__cleanup(&m->payload);
        payload__copy(&m->payload, &member->payload);
      }
      hashmap__remove(&set->members, key, len);
      message__unref(member);
    }
    visible = member != NULL;
  } else {
    /* A re-entry with the member's current id is the same membership. */
    if (member && m->action == PRESENCE_ENTER && m->id && member->id &&
        !strcmp(m->id, member->id)) {
      visible = false;
    } else {
      m->action = member ? PRESENCE_UPDATE : PRESENCE_ENTER;
      hashmap__put(&set->members, key, len,
                   presence_message__copy(m, PRESENCE_PRESENT));
      message__unref(member);
    }
  }
  herald_free(key);
  return visible;
}

void presence__apply(struct presence_table *t, struct publish *p) {
  struct presence_set *set = get_set(t, p->app->id, p->channel);
  size_t kept = 0;
  for (size_t i = 0; i < p->count; i++) {
    if (apply_item(set, p->messages[i])) p->messages[kept++] = p->messages[i];
    else message__unref(p->messages[i]);
  }
  p->count = kept;
  p->presence_members = set->members.count;
  drop_set_if_empty(t, p->app->id, p->channel);
}

/* ---- Queries ---------------------------------------------------------------------- */

static int compare_keys(const void *a, const void *b) {
  const struct hashmap_entry *x = *(struct hashmap_entry *const *)a;
  const struct hashmap_entry *y = *(struct hashmap_entry *const *)b;
  return strcmp(x->key, y->key);
}

static bool matches(const struct presence_query *q, const struct message *m) {
  return (!q->client_id || !strcmp(q->client_id, m->client_id)) &&
         (!q->connection_id || !strcmp(q->connection_id, m->connection_id));
}

static void answer_on_origin(struct worker_task *task) {
  struct presence_query *q = (struct presence_query *)task;
  q->done(q);
}

/* The page: matching members from the cursor's key on, in key order. */
static void collect_page(const struct presence_set *set,
                         struct presence_query *q) {
  size_t n = 0, bucket;
  struct hashmap_entry **sorted =
      herald_xcalloc(set->members.count, sizeof *sorted);
  for (struct hashmap_entry *e = hashmap__first(&set->members, &bucket); e;
       e = hashmap__next(&set->members, e, &bucket))
    if (matches(q, e->value) && (!q->cursor || strcmp(e->key, q->cursor) >= 0))
      sorted[n++] = e;
  qsort(sorted, n, sizeof *sorted, compare_keys);
  size_t take = q->limit && q->limit < n ? q->limit : n;
  q->members = herald_xcalloc(take ? take : 1, sizeof *q->members);
  for (; q->count < take; q->count++)
    q->members[q->count] = message__ref(sorted[q->count]->value);
  if (take < n) q->next_cursor = herald_xstrdup(sorted[take]->key);
  herald_free(sorted);
}

static void query_on_owner(struct worker_task *task) {
  struct presence_query *q = (struct presence_query *)task;
  struct presence_set *set =
      find_set(channel__presence(channel__table(worker__self())), q->app_id,
               q->channel);
  if (set) collect_page(set, q);
  worker__post(q->origin, &q->task, answer_on_origin);
}

/* Every node's members, from a shared engine, paged as the owner's. */
static void on_stored_members(struct store_req *req) {
  struct presence_query *q = (struct presence_query *)((char *)req -
                                offsetof(struct presence_query, stored));
  if (!req->rc) {
    struct presence_set set;
    hashmap__init(&set.members);
    for (size_t i = 0; i < q->stored.count; i++) {
      size_t len;
      char *key = member_key(q->stored.members[i], &len);
      hashmap__put(&set.members, key, len, q->stored.members[i]);
      herald_free(key);
    }
    collect_page(&set, q);
    hashmap__cleanup(&set.members);
  }
  store__members_cleanup(&q->stored);
  q->done(q);
}

void presence__query(struct presence_query *q) {
  q->members = NULL;
  q->count = 0;
  q->next_cursor = NULL;
  struct store *store = q->channels->store;
  if (store__shared(store)) {
    memset(&q->stored, 0, sizeof q->stored);
    q->stored.req.origin = q->origin;
    q->stored.req.done = on_stored_members;
    q->stored.app_id = q->app_id;
    q->stored.channel = q->channel;
    store__members(store, &q->stored);
    return;
  }
  worker__post(channel__owner(q->channels, q->app_id, q->channel), &q->task,
               query_on_owner);
}

void presence__query_cleanup(struct presence_query *q) {
  message__free_list(q->members, q->count);
  herald_free(q->next_cursor);
  q->members = NULL;
  q->count = 0;
  q->next_cursor = NULL;
}

/* ---- Connections moving between nodes (shared engines) -------------------------- */

struct member_move {
  struct worker_task task;
  struct store_members stored;
  char *app_id, *channel, *connection_id;
};

static void free_move(struct member_move *mv) {
  store__members_cleanup(&mv->stored);
  herald_free(mv->app_id);
  herald_free(mv->channel);
  herald_free(mv->connection_id);
  herald_free(mv);
}

static struct member_move *move_new(const char *app_id, const char *channel,
                                    const char *connection_id) {
  struct member_move *mv = herald_xcalloc(1, sizeof *mv);
  mv->app_id = herald_xstrdup(app_id);
  mv->channel = herald_xstrdup(channel);
  mv->connection_id = herald_xstrdup(connection_id);
  return mv;
}

/* On the owner: the adopted members join its set. */
static void on_adopted(struct store_req *req) {
  struct member_move *mv = (struct member_move *)((char *)req -
                             offsetof(struct member_move, stored));
  struct presence_table *t = channel__presence(channel__table(worker__self()));
  struct presence_set *set = get_set(t, mv->app_id, mv->channel);
  for (size_t i = 0; !req->rc && i < mv->stored.count; i++) {
    struct message *m = mv->stored.members[i];
    if (!m->client_id || strcmp(m->connection_id, mv->connection_id)) continue;
    size_t len;
    char *key = member_key(m, &len);
    message__unref(hashmap__put(&set->members, key, len, message__ref(m)));
    herald_free(key);
  }
  drop_set_if_empty(t, mv->app_id, mv->channel);
  free_move(mv);
}

void presence__adopt(struct channels *s, const char *app_id,
                     const char *channel, const char *connection_id) {
  struct member_move *mv = move_new(app_id, channel, connection_id);
  mv->stored.req.origin = channel__owner(s, app_id, channel);
  mv->stored.req.done = on_adopted;
  mv->stored.app_id = mv->app_id;
  mv->stored.channel = mv->channel;
  mv->stored.adopt_connection = mv->connection_id;
  store__members(s->store, &mv->stored);
}

static void forget_on_owner(struct worker_task *task) {
  struct member_move *mv = (struct member_move *)task;
  struct presence_table *t = channel__presence(channel__table(worker__self()));
  struct presence_set *set = find_set(t, mv->app_id, mv->channel);
  size_t bucket;
  struct hashmap_entry *e = set ? hashmap__first(&set->members, &bucket) : NULL;
  while (e) {
    struct hashmap_entry *next = hashmap__next(&set->members, e, &bucket);
    struct message *member = e->value;
    if (!strcmp(member->connection_id, mv->connection_id)) {
      hashmap__remove(&set->members, e->key, e->key_len);
      message__unref(member);
    }
    e = next;
  }
  drop_set_if_empty(t, mv->app_id, mv->channel);
  free_move(mv);
}

void presence__forget_connection(struct channels *s, const char *app_id,
                                 const char *channel,
                                 const char *connection_id) {
  struct member_move *mv = move_new(app_id, channel, connection_id);
  worker__post(channel__owner(s, app_id, channel), &mv->task, forget_on_owner);
}

/* ---- Changes the server makes --------------------------------------------------- */

static void free_server_change(struct publish *p) {
  apps__release(p->app);
  channel__publish_cleanup(p);
  herald_free(p);
}

/* A presence change of connection_id's on channel, made by the server
 * (msg_serial: as struct publisher's). */
static struct publish *server_change(struct channels *s, struct app *app,
                                     const char *channel,
                                     const char *connection_id,
                                     long long msg_serial) {
  struct publish *p = herald_xcalloc(1, sizeof *p);
  struct publisher from = {.channels = s,
                           .origin = channel__owner(s, app->id, channel),
                           .app = apps__retain(app),
                           .connection_id = connection_id,
                           .msg_serial = msg_serial};
  channel__publish_init(p, &from, herald_xstrdup(channel), free_server_change);
  p->presence = true;
  return p;
}

void presence__leave_connection(struct channels *s, struct app *app,
                                const char *channel,
                                const char *connection_id) {
  struct publish *p = server_change(s, app, channel, connection_id, -1);
  p->leave_connection = true;
  channel__publish(p);
}

/* The ENTERs of one fixture channel {name, presence: [{clientId, data,
 * encoding}]}; items that do not decode are skipped. The app definition is
 * a jansson tree; messages decode from wire documents, so the items go
 * through their JSON text (once per fixture channel, at start-up or when
 * the app is created). */
static void seed_channel(struct channels *s, struct app *app,
                         const json_t *fixture, bool record) {
  const char *name = json_string_value(json_object_get(fixture, "name"));
  const json_t *items = json_object_get(fixture, "presence");
  if (!name || !json_array_size(items)) return;
  char *text = json_dumps(items, JSON_COMPACT);
  struct wire_doc doc;
  herald_error err;
  int rc = text ? wire_doc__parse(&doc, WIRE_JSON, text, strlen(text), &err)
                : -1;
  if (rc == 0) {
    struct wire_value list = wire_doc__root(&doc);
    size_t n = wire_value__count(list);
    struct publish *p = server_change(s, app, name, FIXTURE_CONNECTION_ID, 0);
    p->ephemeral = !record;
    p->messages = herald_xcalloc(n, sizeof *p->messages);
    for (size_t i = 0; i < n; i++) {
      struct message *m = NULL;
      if (message__decode_stored(wire_value__at(list, i), &m, &err) ||
          !m->client_id) {
        message__unref(m);
        continue;
      }
      m->action = PRESENCE_ENTER;
      p->messages[p->count++] = m;
    }
    channel__publish(p);
    wire_doc__cleanup(&doc);
  }
  free(text);
}

void presence__seed_fixtures(struct channels *s, struct app *app, bool record) {
  size_t i;
  const json_t *fixture;
  json_array_foreach(app->fixtures, i, fixture)
    seed_channel(s, app, fixture, record);
}
