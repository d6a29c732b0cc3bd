/* test_channel_lifecycle.c -- when a channel opens and closes
 * (server/channel/channel_lifecycle.c): the node whose own attachments
 * open or close it announces it, other nodes' changes move the state
 * without announcing, an owner waits for the other nodes' counts before
 * deciding; and the events' ChannelDetails data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "alloc.h"
#include "channel/channel_lifecycle.h"
#include "leak_check.h"

#define HERE true
#define ELSEWHERE false
#define KNOWN true

static void test_one_node_opens_on_first_and_closes_on_last(void **state) {
  struct channel_lifecycle l = {0};
  assert_int_equal(channel_lifecycle__step(&l, 1, 0, HERE, KNOWN), LIFECYCLE_OPENED);
  assert_int_equal(channel_lifecycle__step(&l, 2, 0, HERE, KNOWN), LIFECYCLE_NONE);
  assert_int_equal(channel_lifecycle__step(&l, 1, 0, HERE, KNOWN), LIFECYCLE_NONE);
  assert_int_equal(channel_lifecycle__step(&l, 0, 0, HERE, KNOWN), LIFECYCLE_CLOSED);
  assert_int_equal(channel_lifecycle__step(&l, 0, 0, HERE, KNOWN), LIFECYCLE_NONE);
  assert_int_equal(channel_lifecycle__step(&l, 1, 0, HERE, KNOWN), LIFECYCLE_OPENED);
}

static void test_other_nodes_changes_are_not_announced_here(void **state) {
  struct channel_lifecycle l = {0};
  /* Another node opened it: this owner learns it, announces nothing. */
  assert_int_equal(channel_lifecycle__step(&l, 0, 1, ELSEWHERE, KNOWN), LIFECYCLE_NONE);
  assert_true(l.open);
  /* An attachment here too, then the other node's leaves: still open. */
  assert_int_equal(channel_lifecycle__step(&l, 1, 1, HERE, KNOWN), LIFECYCLE_NONE);
  assert_int_equal(channel_lifecycle__step(&l, 1, 0, ELSEWHERE, KNOWN), LIFECYCLE_NONE);
  /* The last attachment anywhere was this node's: it announces. */
  assert_int_equal(channel_lifecycle__step(&l, 0, 0, HERE, KNOWN), LIFECYCLE_CLOSED);
  /* This node leaving while another stays closes nothing. */
  assert_int_equal(channel_lifecycle__step(&l, 1, 1, HERE, KNOWN), LIFECYCLE_OPENED);
  assert_int_equal(channel_lifecycle__step(&l, 0, 1, HERE, KNOWN), LIFECYCLE_NONE);
  assert_int_equal(channel_lifecycle__step(&l, 0, 0, ELSEWHERE, KNOWN), LIFECYCLE_NONE);
  assert_false(l.open);
}

static void test_waits_for_the_other_nodes_counts(void **state) {
  /* This node's first report comes before the engine's answer: nothing
   * yet; the answer says others are on it: it was open already. */
  struct channel_lifecycle l = {0};
  assert_int_equal(channel_lifecycle__step(&l, 1, 0, HERE, !KNOWN), LIFECYCLE_NONE);
  assert_int_equal(channel_lifecycle__step(&l, 1, 1, ELSEWHERE, KNOWN), LIFECYCLE_NONE);
  assert_true(l.open);
  /* Nobody else: the pending change of this node's opened it. */
  struct channel_lifecycle m = {0};
  assert_int_equal(channel_lifecycle__step(&m, 1, 0, HERE, !KNOWN), LIFECYCLE_NONE);
  assert_int_equal(channel_lifecycle__step(&m, 1, 0, ELSEWHERE, KNOWN), LIFECYCLE_OPENED);
  /* The engine's answer alone (no change here) announces nothing. */
  struct channel_lifecycle n = {0};
  assert_int_equal(channel_lifecycle__step(&n, 0, 2, ELSEWHERE, KNOWN), LIFECYCLE_NONE);
}

static void test_details_are_channel_details(void **state) {
  struct occupancy o = {.connections = 2, .publishers = 1, .subscribers = 2,
                        .presence_members = 3};
  size_t len;
  char *text = channel_lifecycle__details_json("room:1", true, &o, &len);
  assert_int_equal(strlen(text), len);
  json_error_t jerr;
  json_t *got = json_loads(text, 0, &jerr);
  json_t *want = json_pack(
      "{s:s, s:{s:b, s:{s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}}}}",
      "channelId", "room:1", "status", "isActive", 1, "occupancy", "metrics",
      "connections", 2, "presenceConnections", 0, "presenceMembers", 3,
      "presenceSubscribers", 0, "publishers", 1, "subscribers", 2,
      "objectPublishers", 0, "objectSubscribers", 0);
  assert_non_null(got);
  assert_true(json_equal(got, want));
  json_decref(got);
  json_decref(want);
  herald_free(text);
  struct occupancy none = {0};
  text = channel_lifecycle__details_json("room:1", false, &none, &len);
  got = json_loads(text, 0, &jerr);
  assert_true(json_is_false(json_object_get(json_object_get(got, "status"), "isActive")));
  json_decref(got);
  herald_free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_one_node_opens_on_first_and_closes_on_last, leak_check__setup,
          leak_check__teardown),
      cmocka_unit_test_setup_teardown(
          test_other_nodes_changes_are_not_announced_here, leak_check__setup,
          leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_waits_for_the_other_nodes_counts,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_details_are_channel_details,
                                      leak_check__setup, leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
