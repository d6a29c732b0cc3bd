/* test_store.c -- the storage engines through the one store interface
 * (server/store/store.h): every case runs against each engine (memory, SQLite),
 * and each request completes as in the server, posted to the worker named
 * by req.origin, here a worker with only its loop and inbox, run by the
 * test until the completion arrives. Each case opens a fresh store (SQLite
 * in a temporary directory). Leaks: herald_alloc_live counts per thread,
 * and SQLite's results are allocated on its storage thread and freed on
 * this one, so only the memory engine's cases check the count; for SQLite
 * LeakSanitizer does (make sanitize-test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "annotation.h"
#include "clock.h"
#include "leak_check.h"
#include "serial.h"
#include "store/store.h"

#define RETENTION_MS (60 * 60 * 1000)
#define WINDOW_MS (60 * 1000)
#define MAX_APPENDED 32

struct engine {
  const char *storage;
  bool persists;        /* history and records outlive close/reopen */
  bool one_thread;      /* allocates only on the caller's thread */
};

static const struct engine memory_engine = {"memory", false, true};
static const struct engine sqlite_engine = {"sqlite", true, false};

struct appended {
  char name[16];
  char serial[SERIAL_MAX];
};

struct fixture {
  const struct engine *engine;
  char dir[64];
  struct config cfg;
  struct store *store;
  struct worker worker;
  int completions;
  int64_t next_ms; /* the timestamp (and serial time) of the next message */
  struct appended appended[MAX_APPENDED];
  size_t n_appended;
  char text[512];
};

static struct fixture *running; /* the case's fixture, for on_done */

/* ---- Fixture -------------------------------------------------------------- */

static void open_store(struct fixture *f) {
  herald_error err;
  assert_int_equal(store__open(&f->store, &f->cfg, &err), 0);
}

static int setup(void **state) {
  leak_check__setup(state);
  static struct fixture f;
  const struct engine *engine = *state;
  memset(&f, 0, sizeof f);
  f.engine = engine;
  snprintf(f.dir, sizeof f.dir, "/tmp/herald-store-XXXXXX");
  assert_non_null(mkdtemp(f.dir));
  f.cfg.engine = (char *)engine->storage;
  f.cfg.data_dir = f.dir;
  open_store(&f);
  assert_int_equal(worker__init(&f.worker, NULL, 0), 0);
  f.next_ms = clock__now_ms() - 60000;
  running = &f;
  *state = &f;
  return 0;
}

static void remove_dir(const char *dir) {
  static const char *const files[] = {"herald.db", "herald.db-wal",
                                      "herald.db-shm"};
  char path[128];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
}

static int teardown(void **state) {
  struct fixture *f = *state;
  store__close(f->store);
  uv_close((uv_handle_t *)&f->worker.inbox_signal, NULL);
  uv_run(&f->worker.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->worker.loop), 0);
  uv_mutex_destroy(&f->worker.inbox_lock);
  remove_dir(f->dir);
  return f->engine->one_thread ? leak_check__teardown(state) : 0;
}

/* ---- Running requests ----------------------------------------------------- */

static void on_done(struct store_req *req) { running->completions++; }

/* Submits req through submit and runs the worker's loop until it completes:
 * on the worker (never inline in the call), exactly once, successfully. */
#define RUN(f, op, r)                                                          \
  do {                                                                         \
    (r)->req.origin = &(f)->worker;                                            \
    (r)->req.done = on_done;                                                   \
    op((f)->store, (r));                                                       \
    await_completion((f), &(r)->req);                                          \
  } while (0)

static void await_completion(struct fixture *f, struct store_req *req) {
  assert_int_equal(f->completions, 0);
  while (f->completions == 0) uv_run(&f->worker.loop, UV_RUN_ONCE);
  uv_run(&f->worker.loop, UV_RUN_NOWAIT);
  assert_int_equal(f->completions, 1);
  f->completions = 0;
  assert_int_equal(req->rc, 0);
}

static struct message *new_message(struct fixture *f, const char *name) {
  struct message *m = message__new();
  char serial[SERIAL_MAX];
  int64_t ms = f->next_ms++;
  serial__format(serial, ms, 0, "testnode", 0);
  m->serial = herald_xstrdup(serial);
  m->timestamp = ms;
  m->name = herald_xstrdup(name);
  m->payload.type = PAYLOAD_STRING;
  m->payload.data = herald_xstrdup(name);
  m->payload.len = strlen(name);
  assert_true(f->n_appended < MAX_APPENDED);
  struct appended *a = &f->appended[f->n_appended++];
  snprintf(a->name, sizeof a->name, "%s", name);
  snprintf(a->serial, sizeof a->serial, "%s", serial);
  return m;
}

static const char *serial_of(struct fixture *f, const char *name) {
  for (size_t i = 0; i < f->n_appended; i++)
    if (!strcmp(f->appended[i].name, name)) return f->appended[i].serial;
  fail_msg("no message named %s", name);
  return NULL;
}

static const char *name_of(struct fixture *f, const char *serial) {
  for (size_t i = 0; i < f->n_appended; i++)
    if (!strcmp(f->appended[i].serial, serial)) return f->appended[i].name;
  return "?";
}

/* The append's defaults: one history of app "app1", retained an hour. */
static struct store_append publish_to(const char *channel) {
  return (struct store_append){.app_id = "app1",
                               .channel = channel,
                               .stream = STORE_MESSAGES,
                               .message_id = "conn:0",
                               .retention_ms = RETENTION_MS,
                               .idempotency_window_ms = WINDOW_MS,
                               .durable = true};
}

/* Appends a (inputs filled) with one message per name, space-separated. */
static void append(struct fixture *f, struct store_append *a,
                   const char *names) {
  struct message *msgs[8];
  size_t n = 0;
  char copy[128];
  snprintf(copy, sizeof copy, "%s", names);
  for (char *save, *name = strtok_r(copy, " ", &save); name;
       name = strtok_r(NULL, " ", &save)) {
    assert_true(n < sizeof msgs / sizeof msgs[0]);
    msgs[n++] = new_message(f, name);
  }
  a->messages = msgs;
  a->count = n;
  RUN(f, store__append, a);
  for (size_t i = 0; i < n; i++) message__unref(msgs[i]);
  a->messages = NULL;
}

/* Appends to app1's channel, one message per name, one publish each. */
static void append_each(struct fixture *f, const char *channel,
                        const char *names) {
  char copy[128];
  snprintf(copy, sizeof copy, "%s", names);
  for (char *save, *name = strtok_r(copy, " ", &save); name;
       name = strtok_r(NULL, " ", &save)) {
    struct store_append a = publish_to(channel);
    append(f, &a, name);
    assert_false(a.duplicate);
  }
}

/* A history page as "c b a >x": the names, then the message the next
 * cursor names. */
static const char *page(struct fixture *f, struct store_history *h) {
  if (!h->end) h->end = INT64_MAX;
  if (!h->app_id) h->app_id = "app1";
  RUN(f, store__history, h);
  size_t len = 0;
  f->text[0] = '\0';
  for (size_t i = 0; i < h->count; i++)
    len += (size_t)snprintf(f->text + len, sizeof f->text - len, "%s%s",
                            i ? " " : "", h->messages[i]->name);
  if (h->next_cursor)
    snprintf(f->text + len, sizeof f->text - len, " >%s",
             name_of(f, h->next_cursor));
  store__history_cleanup(h);
  return f->text;
}

static const char *channel_page(struct fixture *f, struct store_channels *c) {
  if (!c->app_id) c->app_id = "app1";
  RUN(f, store__channels, c);
  size_t len = 0;
  f->text[0] = '\0';
  for (size_t i = 0; i < c->count; i++)
    len += (size_t)snprintf(f->text + len, sizeof f->text - len, "%s%s",
                            i ? " " : "", c->names[i]);
  if (c->next_cursor)
    snprintf(f->text + len, sizeof f->text - len, " >%s", c->next_cursor);
  store__channels_cleanup(c);
  return f->text;
}

static void put_record(struct fixture *f, const char *app, const char *kind,
                       const char *key, const char *value, int64_t expires) {
  struct store_record r = {.app_id = app, .kind = kind, .key = key,
                           .value = value, .expires = expires};
  RUN(f, store__put_record, &r);
}

static void collect_record(void *ctx, const char *app_id, const char *key,
                           const char *value) {
  struct fixture *f = ctx;
  size_t len = strlen(f->text);
  snprintf(f->text + len, sizeof f->text - len, "%s%s/%s=%s", len ? " " : "",
           app_id, key, value);
}

/* The live records of kind as "app/key=value ...". */
static const char *records(struct fixture *f, const char *kind) {
  herald_error err;
  f->text[0] = '\0';
  assert_int_equal(store__load_records(f->store, kind, collect_record, f, &err),
                   0);
  return f->text;
}

/* What an engine that keeps nothing across a restart shows instead. */
static const char *if_kept(const struct fixture *f, const char *kept) {
  return f->engine->persists ? kept : "";
}

/* ---- History -------------------------------------------------------------- */

static void test_history_is_newest_first_or_oldest_first(void **state) {
  struct fixture *f = *state;
  append_each(f, "ch", "a b c");
  struct store_history back = {.channel = "ch", .limit = 10};
  assert_string_equal(page(f, &back), "c b a");
  struct store_history fwd = {.channel = "ch", .limit = 10,
                              .direction = STORE_FORWARDS};
  assert_string_equal(page(f, &fwd), "a b c");
  struct store_history other = {.channel = "other", .limit = 10};
  assert_string_equal(page(f, &other), "");
}

static void test_history_pages_by_limit_and_cursor(void **state) {
  struct fixture *f = *state;
  append_each(f, "ch", "a b c d e");
  struct store_history h = {.channel = "ch", .limit = 2};
  assert_string_equal(page(f, &h), "e d >c");
  h = (struct store_history){.channel = "ch", .limit = 2,
                             .cursor = serial_of(f, "c")};
  assert_string_equal(page(f, &h), "c b >a");
  h = (struct store_history){.channel = "ch", .limit = 2,
                             .cursor = serial_of(f, "a")};
  assert_string_equal(page(f, &h), "a");
  h = (struct store_history){.channel = "ch", .limit = 2,
                             .direction = STORE_FORWARDS};
  assert_string_equal(page(f, &h), "a b >c");
  h = (struct store_history){.channel = "ch", .limit = 3,
                             .direction = STORE_FORWARDS,
                             .cursor = serial_of(f, "c")};
  assert_string_equal(page(f, &h), "c d e");
  h = (struct store_history){.channel = "ch", .limit = 5};
  assert_string_equal(page(f, &h), "e d c b a"); /* exactly full: no cursor */
}

static void test_history_keeps_to_the_time_bounds(void **state) {
  struct fixture *f = *state;
  int64_t t0 = f->next_ms;
  append_each(f, "ch", "a b c d");
  struct store_history h = {.channel = "ch", .limit = 10, .start = t0 + 1,
                            .end = t0 + 2};
  assert_string_equal(page(f, &h), "c b");
  h = (struct store_history){.channel = "ch", .limit = 10, .start = t0 + 1,
                             .end = t0 + 2, .direction = STORE_FORWARDS};
  assert_string_equal(page(f, &h), "b c");
}

static void test_a_publish_of_several_messages_is_stored_whole(void **state) {
  struct fixture *f = *state;
  struct store_append a = publish_to("ch");
  append(f, &a, "x y z");
  struct store_history h = {.channel = "ch", .limit = 10,
                            .direction = STORE_FORWARDS};
  assert_string_equal(page(f, &h), "x y z");
}

static void test_an_ephemeral_publish_is_not_kept(void **state) {
  struct fixture *f = *state;
  struct store_append a = publish_to("ch");
  a.ephemeral = true;
  append(f, &a, "gone");
  struct store_history h = {.channel = "ch", .limit = 10};
  assert_string_equal(page(f, &h), "");
  struct store_channels c = {.limit = 10};
  assert_string_equal(channel_page(f, &c), "");
}

/* ---- Idempotency ---------------------------------------------------------- */

static void test_the_same_publish_id_is_stored_once(void **state) {
  struct fixture *f = *state;
  struct store_append first = publish_to("ch");
  first.idempotency_key = "client-id-1";
  first.message_id = "client-id-1";
  append(f, &first, "one");
  assert_false(first.duplicate);

  struct store_append again = publish_to("ch");
  again.idempotency_key = "client-id-1";
  again.message_id = "other";
  append(f, &again, "one-again");
  assert_true(again.duplicate);
  assert_string_equal(again.original_message_id, "client-id-1");
  assert_int_equal(again.original_count, 1);
  assert_string_equal(again.original_serials[0], serial_of(f, "one"));
  store__append_cleanup(&again);

  struct store_history h = {.channel = "ch", .limit = 10};
  assert_string_equal(page(f, &h), "one");
}

static void test_publish_ids_are_per_channel_and_app(void **state) {
  struct fixture *f = *state;
  struct store_append a = publish_to("ch");
  a.idempotency_key = "k";
  append(f, &a, "a");
  struct store_append b = publish_to("elsewhere");
  b.idempotency_key = "k";
  append(f, &b, "b");
  assert_false(b.duplicate);
  struct store_append c = publish_to("ch");
  c.app_id = "app2";
  c.idempotency_key = "k";
  append(f, &c, "c");
  assert_false(c.duplicate);
}

static void test_a_publish_id_is_forgotten_after_the_window(void **state) {
  struct fixture *f = *state;
  struct store_append a = publish_to("ch");
  a.idempotency_key = "k";
  a.idempotency_window_ms = 0; /* expired as soon as it is written */
  append(f, &a, "a");
  struct store_append b = publish_to("ch");
  b.idempotency_key = "k";
  append(f, &b, "b");
  assert_false(b.duplicate);
  struct store_history h = {.channel = "ch", .limit = 10};
  assert_string_equal(page(f, &h), "b a");
}

/* ---- Streams and channels -------------------------------------------------- */

static void test_messages_and_presence_are_two_histories(void **state) {
  struct fixture *f = *state;
  struct store_append m = publish_to("ch");
  append(f, &m, "msg");
  struct store_append p = publish_to("ch");
  p.stream = STORE_PRESENCE;
  append(f, &p, "enter");
  struct store_append only_presence = publish_to("members-only");
  only_presence.stream = STORE_PRESENCE;
  append(f, &only_presence, "enter2");

  struct store_history h = {.channel = "ch", .limit = 10};
  assert_string_equal(page(f, &h), "msg");
  h = (struct store_history){.channel = "ch", .limit = 10,
                             .stream = STORE_PRESENCE};
  assert_string_equal(page(f, &h), "enter");
  /* the active channels are those with messages */
  struct store_channels c = {.limit = 10};
  assert_string_equal(channel_page(f, &c), "ch");
}

static void test_channels_by_name_prefix_and_cursor(void **state) {
  struct fixture *f = *state;
  append_each(f, "b1", "m1");
  append_each(f, "a2", "m2");
  append_each(f, "a1", "m3");
  struct store_append elsewhere = publish_to("a0");
  elsewhere.app_id = "app2";
  append(f, &elsewhere, "m4");

  struct store_channels c = {.limit = 10};
  assert_string_equal(channel_page(f, &c), "a1 a2 b1");
  c = (struct store_channels){.limit = 10, .prefix = "a"};
  assert_string_equal(channel_page(f, &c), "a1 a2");
  c = (struct store_channels){.limit = 1};
  assert_string_equal(channel_page(f, &c), "a1 >a2");
  c = (struct store_channels){.limit = 10, .cursor = "a2"};
  assert_string_equal(channel_page(f, &c), "a2 b1");
  c = (struct store_channels){.limit = 10, .app_id = "app2"};
  assert_string_equal(channel_page(f, &c), "a0");
}

/* ---- Retention ------------------------------------------------------------- */

static void test_messages_past_retention_are_not_served(void **state) {
  struct fixture *f = *state;
  f->next_ms = clock__now_ms() - 10000;
  struct store_append old = publish_to("old");
  old.retention_ms = 1000; /* expired 9 s ago */
  append(f, &old, "stale");
  f->next_ms = clock__now_ms() - 1000;
  struct store_append fresh = publish_to("fresh");
  append(f, &fresh, "new");

  struct store_history h = {.channel = "old", .limit = 10};
  assert_string_equal(page(f, &h), "");
  h = (struct store_history){.channel = "fresh", .limit = 10};
  assert_string_equal(page(f, &h), "new");
  struct store_channels c = {.limit = 10};
  assert_string_equal(channel_page(f, &c), "fresh");
}

/* ---- Records and apps ------------------------------------------------------- */

static void test_records_put_replace_delete_expire(void **state) {
  struct fixture *f = *state;
  put_record(f, "app1", "app", "k1", "{\"v\":1}", 0);
  put_record(f, "app1", "app", "k2", "{}", 0);
  put_record(f, "app2", "app", "k0", "{}", 0);
  put_record(f, "app1", "app", "k1", "{\"v\":2}", 0); /* replaces */
  put_record(f, "app1", "app", "k2", NULL, 0);        /* deletes */
  put_record(f, "app1", "app", "old", "{}", clock__now_ms() - 1);
  put_record(f, "app1", "revocation", "r", "{}", clock__now_ms() + 60000);
  assert_string_equal(records(f, "app"),
                      if_kept(f, "app1/k1={\"v\":2} app2/k0={}"));
  assert_string_equal(records(f, "revocation"), if_kept(f, "app1/r={}"));
}

static void test_drop_app_forgets_everything_of_that_app(void **state) {
  struct fixture *f = *state;
  append_each(f, "ch", "mine");
  struct store_append other = publish_to("ch");
  other.app_id = "app2";
  append(f, &other, "theirs");
  struct store_append keyed = publish_to("ch");
  keyed.idempotency_key = "k";
  append(f, &keyed, "keyed");
  put_record(f, "app1", "app", "app1", "{}", 0);
  put_record(f, "app2", "app", "app2", "{}", 0);

  struct store_drop_app d = {.app_id = "app1"};
  RUN(f, store__drop_app, &d);
  struct store_history h = {.channel = "ch", .limit = 10};
  assert_string_equal(page(f, &h), "");
  h = (struct store_history){.channel = "ch", .limit = 10, .app_id = "app2"};
  assert_string_equal(page(f, &h), "theirs");
  struct store_channels c = {.limit = 10};
  assert_string_equal(channel_page(f, &c), "");
  assert_string_equal(records(f, "app"), if_kept(f, "app2/app2={}"));
}

/* ---- Persistence ------------------------------------------------------------ */

static void test_what_is_kept_across_close_and_reopen(void **state) {
  struct fixture *f = *state;
  append_each(f, "ch", "a b");
  struct store_append keyed = publish_to("ch");
  keyed.idempotency_key = "k";
  append(f, &keyed, "c");
  put_record(f, "app1", "app", "app1", "{}", 0);
  int64_t last_ms = f->next_ms - 1;

  store__close(f->store);
  open_store(f);

  /* serials go on growing from the newest one stored */
  assert_int_equal(store__last_serial_ms(f->store),
                   f->engine->persists ? last_ms : 0);
  struct store_history h = {.channel = "ch", .limit = 10};
  assert_string_equal(page(f, &h), if_kept(f, "c b a"));
  assert_string_equal(records(f, "app"), if_kept(f, "app1/app1={}"));
  struct store_append again = publish_to("ch");
  again.idempotency_key = "k";
  append(f, &again, "c2");
  assert_int_equal(again.duplicate, f->engine->persists);
  store__append_cleanup(&again);
}

/* ---- Both engines ----------------------------------------------------------- */

/* Appends annotation `name` of message m with m's new summary (as
 * annotations.c makes them) while m's summary counts up to `expected`
 * (NULL: none yet): whether it was stored (else stale). */
static bool annotate(struct fixture *f, const struct message *m,
                     const char *name, int total, const char *expected) {
  struct message *a = new_message(f, name);
  a->annotation = herald_xcalloc(1, sizeof *a->annotation);
  a->annotation->type = herald_xstrdup("votes:total.v1");
  a->annotation->message_serial = herald_xstrdup(m->serial);
  a->annotation->count = 1;
  struct message *latest = message__copy(m);
  latest->summary = json_pack("{s:{s:i}}", "votes:total.v1", "total", total);
  latest->summary_serial = herald_xstrdup(a->serial);
  struct store_append ap = publish_to("ch");
  ap.stream = STORE_ANNOTATIONS;
  ap.messages = &a;
  ap.count = 1;
  ap.latest = latest;
  ap.expected = m->serial;
  ap.expected_summary = expected;
  RUN(f, store__append, &ap);
  bool stored = !ap.stale;
  store__append_cleanup(&ap);
  message__unref(a);
  message__unref(latest);
  return stored;
}

static void test_annotations_change_the_summary_by_compare_and_set(void **state) {
  struct fixture *f = *state;
  struct message *m = new_message(f, "m");
  struct store_append a = publish_to("ch");
  a.messages = &m;
  a.count = 1;
  RUN(f, store__append, &a);
  append_each(f, "ch", "other");
  assert_true(annotate(f, m, "a1", 1, NULL));
  char first[SERIAL_MAX];
  snprintf(first, sizeof first, "%s", serial_of(f, "a1"));
  assert_false(annotate(f, m, "a2", 1, NULL)); /* a1 came first */
  assert_true(annotate(f, m, "a3", 2, first));
  struct store_history h = {.channel = "ch", .stream = STORE_ANNOTATIONS,
                            .of = m->serial, .direction = STORE_FORWARDS,
                            .limit = 10};
  assert_string_equal(page(f, &h), "a1 a3");
  h = (struct store_history){.app_id = "app1", .channel = "ch",
                             .stream = STORE_ANNOTATIONS, .of = m->serial,
                             .end = INT64_MAX, .limit = 1};
  RUN(f, store__history, &h); /* newest first */
  assert_int_equal(h.count, 1);
  assert_string_equal(h.messages[0]->annotation->type, "votes:total.v1");
  assert_string_equal(h.messages[0]->annotation->message_serial, m->serial);
  assert_string_equal(name_of(f, h.next_cursor), "a1");
  store__history_cleanup(&h);
  h = (struct store_history){.app_id = "app1", .channel = "ch",
                             .stream = STORE_MESSAGES,
                             .view = STORE_VIEW_LATEST, .of = m->serial,
                             .end = INT64_MAX, .limit = 1};
  RUN(f, store__history, &h); /* the message as it now is */
  assert_int_equal(h.count, 1);
  assert_string_equal(h.messages[0]->name, "m");
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(h.messages[0]->summary, "votes:total.v1"),
                       "total")),
                   2);
  assert_string_equal(h.messages[0]->summary_serial, serial_of(f, "a3"));
  store__history_cleanup(&h);
  message__unref(m);
}

#define CASES(engine)                                                          \
  CASE(test_history_is_newest_first_or_oldest_first, engine),                  \
  CASE(test_history_pages_by_limit_and_cursor, engine),                        \
  CASE(test_history_keeps_to_the_time_bounds, engine),                         \
  CASE(test_a_publish_of_several_messages_is_stored_whole, engine),            \
  CASE(test_an_ephemeral_publish_is_not_kept, engine),                         \
  CASE(test_the_same_publish_id_is_stored_once, engine),                       \
  CASE(test_publish_ids_are_per_channel_and_app, engine),                      \
  CASE(test_a_publish_id_is_forgotten_after_the_window, engine),               \
  CASE(test_messages_and_presence_are_two_histories, engine),                  \
  CASE(test_channels_by_name_prefix_and_cursor, engine),                       \
  CASE(test_messages_past_retention_are_not_served, engine),                   \
  CASE(test_records_put_replace_delete_expire, engine),                        \
  CASE(test_drop_app_forgets_everything_of_that_app, engine),                  \
  CASE(test_what_is_kept_across_close_and_reopen, engine),                    \
  CASE(test_annotations_change_the_summary_by_compare_and_set, engine)

#define CASE(fn, engine)                                                       \
  cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown,               \
                                           (void *)&engine)

int main(void) {
  const struct CMUnitTest memory[] = {CASES(memory_engine)};
  const struct CMUnitTest sqlite[] = {CASES(sqlite_engine)};
  int failed = cmocka_run_group_tests_name("memory", memory, NULL, NULL);
  return failed + cmocka_run_group_tests_name("sqlite", sqlite, NULL, NULL);
}
