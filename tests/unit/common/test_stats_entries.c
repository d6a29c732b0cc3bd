/* test_stats_entries.c -- common/stats_entries.c: keys (which are keys,
 * interned once), sparse sorted entries written as Ably's flat map, the
 * sum across nodes and the roll-up into longer units (peak max, min min,
 * mean of means, counts summed), the message families, and the legacy
 * fixtures SDK suites post with rest.md 17.3's check values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "leak_check.h"
#include "stats_entries.h"

/* Entries e as compact JSON (herald_xmalloc'd). */
static char *json_of(const struct stats_entries *e) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  stats_entries__write(&w, e);
  size_t len;
  char *text = wire_writer__finish(&w, &len);
  char *out = herald_xstrndup(text, len);
  herald_free(text);
  wire_writer__cleanup(&w);
  return out;
}

static void assert_json(const struct stats_entries *e, const char *expected) {
  char *text = json_of(e);
  assert_string_equal(text, expected);
  herald_free(text);
}

static void test_keys(void **state) {
  (void)state;
  const char *a = stats_entries__intern("channels.peak", 13);
  assert_non_null(a);
  assert_ptr_equal(stats_entries__intern("channels.peak", 13), a);
  assert_null(stats_entries__intern("channels", 8));        /* one segment */
  assert_null(stats_entries__intern("channels..peak", 14)); /* empty one */
  assert_null(stats_entries__intern("channels.peak.", 14));
  assert_null(stats_entries__intern("channels.pe ak", 14));
  assert_null(stats_entries__intern("a.b.c.d.e.f.g.h.i", 17)); /* 9 */
}

static void test_sparse_sorted(void **state) {
  (void)state;
  struct stats_entries e;
  stats_entries__init(&e);
  stats_entries__add(&e, "messages.all.all.count", 2);
  stats_entries__add(&e, "channels.opened", 0); /* zero: not kept */
  stats_entries__add(&e, "apiRequests.all.failed", 1);
  stats_entries__add(&e, "messages.all.all.count", 3);
  stats_entries__add(&e, "not a key", 9);
  assert_json(&e, "{\"apiRequests.all.failed\":1,\"messages.all.all.count\":5}");
  assert_true(stats_entries__get(&e, "messages.all.all.count") == 5);
  assert_true(stats_entries__get(&e, "channels.opened") == 0);
  stats_entries__cleanup(&e);
}

/* One interval's gauges and counts. */
static void interval(struct stats_entries *e, double peak, double min,
                     double mean, double opened) {
  stats_entries__init(e);
  stats_entries__add(e, "connections.all.peak", peak);
  stats_entries__add(e, "connections.all.min", min);
  stats_entries__add(e, "connections.all.mean", mean);
  stats_entries__add(e, "connections.all.opened", opened);
}

static void test_roll_up(void **state) {
  (void)state;
  struct stats_entries a, b, hour;
  interval(&a, 4, 1, 2, 3);
  interval(&b, 6, 2, 3, 5);
  stats_entries__init(&hour);
  stats_entries__roll(&hour, &a);
  stats_entries__roll(&hour, &b);
  assert_true(stats_entries__get(&hour, "connections.all.peak") == 6);
  assert_true(stats_entries__get(&hour, "connections.all.min") == 1);
  assert_true(stats_entries__get(&hour, "connections.all.mean") == 2.5);
  assert_true(stats_entries__get(&hour, "connections.all.opened") == 8);
  assert_json(&hour, "{\"connections.all.mean\":2.5,\"connections.all.min\":1,"
                     "\"connections.all.opened\":8,\"connections.all.peak\":6}");
  /* a rolled-up interval rolls on as its mean, not its sum */
  struct stats_entries day;
  stats_entries__init(&day);
  stats_entries__roll(&day, &hour);
  assert_true(stats_entries__get(&day, "connections.all.mean") == 2.5);
  stats_entries__cleanup(&a);
  stats_entries__cleanup(&b);
  stats_entries__cleanup(&hour);
  stats_entries__cleanup(&day);
}

static void test_sum_of_nodes(void **state) {
  (void)state;
  struct stats_entries a, b, minute;
  interval(&a, 4, 1, 2, 3);
  interval(&b, 6, 2, 3, 5);
  stats_entries__init(&minute);
  stats_entries__sum(&minute, &a);
  stats_entries__sum(&minute, &b);
  assert_true(stats_entries__get(&minute, "connections.all.peak") == 10);
  assert_true(stats_entries__get(&minute, "connections.all.min") == 3);
  assert_true(stats_entries__get(&minute, "connections.all.mean") == 5);
  assert_true(stats_entries__get(&minute, "connections.all.opened") == 8);
  stats_entries__cleanup(&a);
  stats_entries__cleanup(&b);
  stats_entries__cleanup(&minute);
}

static void test_families(void **state) {
  (void)state;
  struct stats_entries e;
  stats_entries__init(&e);
  stats_entries__add_message(&e, "inbound", "rest", "messages", "count", 2);
  assert_json(&e, "{\"messages.all.all.count\":2,\"messages.all.messages.count\":2,"
                  "\"messages.inbound.all.all.count\":2,"
                  "\"messages.inbound.all.messages.count\":2,"
                  "\"messages.inbound.rest.all.count\":2,"
                  "\"messages.inbound.rest.messages.count\":2}");
  stats_entries__cleanup(&e);
  /* "all" already: each key once */
  stats_entries__init(&e);
  stats_entries__add_message(&e, "outbound", "all", "all", "data", 7);
  assert_json(&e, "{\"messages.all.all.data\":7,\"messages.outbound.all.all.data\":7}");
  stats_entries__cleanup(&e);
  stats_entries__init(&e);
  stats_entries__add_persisted(&e, "presence", "count", 1);
  stats_entries__add_request(&e, "tokenRequests", "refused", 1);
  assert_json(&e, "{\"apiRequests.all.refused\":1,\"apiRequests.tokenRequests.refused\":1,"
                  "\"messages.persisted.all.count\":1,"
                  "\"messages.persisted.presence.count\":1}");
  stats_entries__cleanup(&e);
}

static const char FIXTURE[] =
    "{\"intervalId\":\"2025-02-03:15:05\","
    "\"inbound\":{\"realtime\":{\"messages\":{\"count\":70,\"data\":7000}}},"
    "\"outbound\":{\"realtime\":{\"messages\":{\"count\":40,\"data\":4000}}},"
    "\"persisted\":{\"presence\":{\"count\":20,\"data\":2000}},"
    "\"connections\":{\"tls\":{\"peak\":20,\"opened\":10}},"
    "\"channels\":{\"peak\":50,\"opened\":30},"
    "\"apiRequests\":{\"succeeded\":50,\"failed\":10},"
    "\"tokenRequests\":{\"succeeded\":60,\"failed\":20},"
    "\"entries\":{\"push.channelMessages\":3}}";

static int fixture(const char *text, struct stats_entries *e, herald_error *err) {
  struct wire_doc doc;
  assert_int_equal(wire_doc__parse(&doc, WIRE_JSON, text, strlen(text), err), 0);
  stats_entries__init(e);
  int rc = stats_entries__add_fixture(e, wire_doc__root(&doc), err);
  wire_doc__cleanup(&doc);
  return rc;
}

static void test_fixture_check_values(void **state) {
  (void)state;
  struct stats_entries e;
  herald_error err;
  assert_int_equal(fixture(FIXTURE, &e, &err), 0);
  assert_true(stats_entries__get(&e, "messages.all.messages.count") == 110);
  assert_true(stats_entries__get(&e, "messages.inbound.realtime.all.data") == 7000);
  assert_true(stats_entries__get(&e, "messages.persisted.all.count") == 20);
  assert_true(stats_entries__get(&e, "connections.all.peak") == 20);
  assert_true(stats_entries__get(&e, "channels.opened") == 30);
  assert_true(stats_entries__get(&e, "apiRequests.all.succeeded") == 110);
  assert_true(stats_entries__get(&e, "apiRequests.tokenRequests.failed") == 20);
  assert_true(stats_entries__get(&e, "push.channelMessages") == 3);
  assert_true(stats_entries__get(&e, "channels.refused") == 0);
  /* persisted messages are not messages.all */
  assert_true(stats_entries__get(&e, "messages.all.presence.count") == 0);
  stats_entries__cleanup(&e);
}

static void test_fixture_refuses(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"inbound\":{\"realtime\":{\"messages\":{\"count\":\"70\"}}}}",
      "{\"inbound\":{\"realtime\":{\"messages\":7}}}",
      "{\"channels\":{\"pe ak\":1}}",
      "{\"entries\":{\"nodots\":1}}",
      "[]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct stats_entries e;
    herald_error err;
    assert_int_equal(fixture(bad[i], &e, &err), -40003);
    stats_entries__cleanup(&e);
  }
}

/* Interns what the tests use once, before the leak checks: interned keys
 * are the process's for good. */
static int intern_keys(void **state) {
  void (*const each[])(void **) = {test_keys, test_sparse_sorted, test_roll_up,
                                   test_sum_of_nodes, test_families,
                                   test_fixture_check_values,
                                   test_fixture_refuses};
  for (size_t i = 0; i < sizeof each / sizeof each[0]; i++) each[i](state);
  return 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_keys),          TEST(test_sparse_sorted),
      TEST(test_roll_up),       TEST(test_sum_of_nodes),
      TEST(test_families),      TEST(test_fixture_check_values),
      TEST(test_fixture_refuses),
  };
  return cmocka_run_group_tests(tests, intern_keys, NULL);
}
