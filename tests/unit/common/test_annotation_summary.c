/* test_annotation_summary.c -- how each annotation changes a message's
 * summary (common/annotation_summary.h), method by method, with creates
 * and deletes of two clients and unidentified ones; and the checks of
 * what a method needs. Every test checks that the live allocation count
 * returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "annotation.h"
#include "annotation_summary.h"
#include "leak_check.h"

/* An annotation: "+" create or "-" delete, type, name and clientId (NULL:
 * none), count (0: not given). */
static struct message *annotation(const char *op, const char *type,
                                  const char *name, const char *client_id,
                                  int count) {
  struct message *m = message__new();
  m->action = op[0] == '-' ? ANNOTATION_DELETE : ANNOTATION_CREATE;
  m->name = name ? herald_xstrdup(name) : NULL;
  m->client_id = client_id ? herald_xstrdup(client_id) : NULL;
  m->annotation = herald_xcalloc(1, sizeof *m->annotation);
  m->annotation->type = herald_xstrdup(type);
  m->annotation->message_serial = herald_xstrdup("serial");
  m->annotation->has_count = count > 0;
  m->annotation->count = count > 0 ? count : 1;
  return m;
}

/* Applies each annotation of steps to summary (taken over), returning the
 * result. */
struct step {
  const char *op, *type, *name, *client_id;
  int count;
};

static json_t *apply_all(json_t *summary, const struct step *steps, size_t n) {
  for (size_t i = 0; i < n; i++) {
    struct message *a = annotation(steps[i].op, steps[i].type, steps[i].name,
                                   steps[i].client_id, steps[i].count);
    json_t *next = annotation_summary__apply(summary, a);
    json_decref(summary);
    message__unref(a);
    summary = next;
  }
  return summary;
}

static void assert_summary(json_t *summary, const char *expected) {
  json_t *want = json_loads(expected, 0, NULL);
  assert_non_null(want);
  if (!json_equal(summary, want)) {
    char *got = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
    fail_msg("summary %s, expected %s", got, expected);
  }
  json_decref(want);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_total_counts_creates_less_deletes(void **state) {
  const struct step steps[] = {{"+", "v:total.v1", NULL, "alice", 0},
                               {"+", "v:total.v1", NULL, "alice", 0},
                               {"+", "v:total.v1", NULL, NULL, 0},
                               {"-", "v:total.v1", NULL, "bob", 0}};
  json_t *s = apply_all(NULL, steps, N(steps));
  assert_summary(s, "{\"v:total.v1\":{\"total\":2}}");
  const struct step more[] = {{"-", "v:total.v1", NULL, "a", 0},
                              {"-", "v:total.v1", NULL, "a", 0},
                              {"-", "v:total.v1", NULL, "a", 0}};
  s = apply_all(s, more, N(more));
  assert_summary(s, "{}"); /* never below zero; empty types go */
  json_decref(s);
}

static void test_flag_counts_each_client_once(void **state) {
  const struct step steps[] = {{"+", "s:flag.v1", NULL, "alice", 0},
                               {"+", "s:flag.v1", "ignored", "alice", 0},
                               {"+", "s:flag.v1", NULL, "bob", 0}};
  json_t *s = apply_all(NULL, steps, N(steps));
  assert_summary(s, "{\"s:flag.v1\":{\"total\":2,\"clientIds\":[\"alice\","
                    "\"bob\"],\"clipped\":false}}");
  const struct step del[] = {{"-", "s:flag.v1", NULL, "alice", 0}};
  s = apply_all(s, del, N(del));
  assert_summary(s, "{\"s:flag.v1\":{\"total\":1,\"clientIds\":[\"bob\"],"
                    "\"clipped\":false}}");
  json_decref(s);
}

static void test_distinct_counts_each_client_once_per_name(void **state) {
  const struct step steps[] = {{"+", "t:distinct.v1", "a", "alice", 0},
                               {"+", "t:distinct.v1", "b", "alice", 0},
                               {"+", "t:distinct.v1", "a", "bob", 0},
                               {"+", "t:distinct.v1", "a", "bob", 0},
                               {"-", "t:distinct.v1", "a", "alice", 0}};
  json_t *s = apply_all(NULL, steps, N(steps));
  assert_summary(s, "{\"t:distinct.v1\":{"
                    "\"a\":{\"total\":1,\"clientIds\":[\"bob\"],\"clipped\":false},"
                    "\"b\":{\"total\":1,\"clientIds\":[\"alice\"],\"clipped\":false}}}");
  const struct step all[] = {{"-", "t:distinct.v1", NULL, "alice", 0},
                             {"-", "t:distinct.v1", "a", "bob", 0}};
  s = apply_all(s, all, N(all)); /* no name: every name of the client */
  assert_summary(s, "{}");
  json_decref(s);
}

static void test_unique_moves_a_client_to_its_new_name(void **state) {
  const struct step steps[] = {{"+", "p:unique.v1", "x", "alice", 0},
                               {"+", "p:unique.v1", "x", "bob", 0},
                               {"+", "p:unique.v1", "y", "alice", 0}};
  json_t *s = apply_all(NULL, steps, N(steps));
  assert_summary(s, "{\"p:unique.v1\":{"
                    "\"x\":{\"total\":1,\"clientIds\":[\"bob\"],\"clipped\":false},"
                    "\"y\":{\"total\":1,\"clientIds\":[\"alice\"],\"clipped\":false}}}");
  const struct step del[] = {{"-", "p:unique.v1", NULL, "bob", 0}};
  s = apply_all(s, del, N(del));
  assert_summary(s, "{\"p:unique.v1\":{"
                    "\"y\":{\"total\":1,\"clientIds\":[\"alice\"],\"clipped\":false}}}");
  json_decref(s);
}

static void test_multiple_adds_counts_and_deletes_a_clients_all(void **state) {
  const struct step steps[] = {{"+", "c:multiple.v1", "m", "alice", 2},
                               {"+", "c:multiple.v1", "m", "alice", 3},
                               {"+", "c:multiple.v1", "m", "bob", 0},
                               {"+", "c:multiple.v1", "m", NULL, 4},
                               {"+", "c:multiple.v1", "n", "bob", 1}};
  json_t *s = apply_all(NULL, steps, N(steps));
  assert_summary(s, "{\"c:multiple.v1\":{"
                    "\"m\":{\"total\":10,\"clientIds\":{\"alice\":5,\"bob\":1},"
                    "\"totalUnidentified\":4,\"clipped\":false,\"totalClientIds\":2},"
                    "\"n\":{\"total\":1,\"clientIds\":{\"bob\":1},"
                    "\"totalUnidentified\":0,\"clipped\":false,\"totalClientIds\":1}}}");
  const struct step del[] = {{"-", "c:multiple.v1", "m", "alice", 0},
                             {"-", "c:multiple.v1", NULL, "bob", 0}};
  s = apply_all(s, del, N(del));
  assert_summary(s, "{\"c:multiple.v1\":{"
                    "\"m\":{\"total\":4,\"clientIds\":{},"
                    "\"totalUnidentified\":4,\"clipped\":false,\"totalClientIds\":0}}}");
  json_decref(s);
}

static void test_types_are_summarised_apart_and_input_is_kept(void **state) {
  json_t *before = json_loads("{\"v:total.v1\":{\"total\":1}}", 0, NULL);
  struct message *a = annotation("+", "s:flag.v1", NULL, "alice", 0);
  json_t *after = annotation_summary__apply(before, a);
  assert_summary(before, "{\"v:total.v1\":{\"total\":1}}");
  assert_summary(after, "{\"v:total.v1\":{\"total\":1},\"s:flag.v1\":{"
                        "\"total\":1,\"clientIds\":[\"alice\"],\"clipped\":false}}");
  json_decref(before);
  json_decref(after);
  message__unref(a);
}

static void test_check_needs_a_client_or_a_name(void **state) {
  static const struct {
    const char *op, *type, *name, *client_id;
    int code;
  } cases[] = {
      {"+", "v:total.v1", NULL, NULL, 0},
      {"+", "c:multiple.v1", "m", NULL, 0},
      {"+", "s:flag.v1", NULL, NULL, HERALD_E_IDENTIFIED_CLIENT_REQUIRED},
      {"+", "t:distinct.v1", "a", NULL, HERALD_E_IDENTIFIED_CLIENT_REQUIRED},
      {"+", "p:unique.v1", "a", NULL, HERALD_E_IDENTIFIED_CLIENT_REQUIRED},
      {"+", "t:distinct.v1", NULL, "alice", HERALD_E_INVALID_PARAMETER_VALUE},
      {"+", "c:multiple.v1", NULL, "alice", HERALD_E_INVALID_PARAMETER_VALUE},
      {"-", "t:distinct.v1", NULL, "alice", 0},
  };
  for (size_t i = 0; i < N(cases); i++) {
    struct message *a = annotation(cases[i].op, cases[i].type, cases[i].name,
                                   cases[i].client_id, 0);
    herald_error err;
    assert_int_equal(annotation_summary__check(a, &err), -cases[i].code);
    message__unref(a);
  }
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_total_counts_creates_less_deletes),
      TEST(test_flag_counts_each_client_once),
      TEST(test_distinct_counts_each_client_once_per_name),
      TEST(test_unique_moves_a_client_to_its_new_name),
      TEST(test_multiple_adds_counts_and_deletes_a_clients_all),
      TEST(test_types_are_summarised_apart_and_input_is_kept),
      TEST(test_check_needs_a_client_or_a_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
