/* test_meta_channels.c -- the rules and event data of metachannels
 * (server/channel/meta_channels.c): a metachannel is subscribe-only
 * (40160 for publishing and presence), "[meta]" names are metachannels,
 * and the data of [meta]connection.lifecycle and [meta]log events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "alloc.h"
#include "channel/meta_channels.h"
#include "leak_check.h"

/* The JSON text (taken over) as a jansson tree, checked to be len bytes. */
static json_t *parsed(char *text, size_t len) {
  assert_int_equal(strlen(text), len);
  json_error_t jerr;
  json_t *v = json_loads(text, 0, &jerr);
  assert_non_null(v);
  herald_free(text);
  return v;
}

static void test_metachannels_are_subscribe_only(void **state) {
  struct channel_name name;
  herald_error err;
  const char *meta = "[meta]log";
  assert_int_equal(channel_name__parse(meta, strlen(meta), &name, &err), 0);
  assert_int_equal(meta_channels__refuse_write(&name, "Publishing", &err),
                   -HERALD_E_CAPABILITY_DENIED);
  assert_int_equal(err.code, 40160);
  assert_int_equal(err.status, 401);
  assert_non_null(strstr(err.message, "Publishing"));
  const char *plain = "log";
  assert_int_equal(channel_name__parse(plain, strlen(plain), &name, &err), 0);
  assert_int_equal(meta_channels__refuse_write(&name, "Presence", &err), 0);
  assert_true(meta_channels__is_meta("[meta]channel.lifecycle", 23));
  assert_false(meta_channels__is_meta("[meta", 5));
  assert_false(meta_channels__is_meta("meta]x", 6));
}

static void test_connection_events_data(void **state) {
  size_t len;
  struct meta_connection opened = {.connection_id = "abc", .client_id = "alice",
                                   .transport = "web_socket", .duration_ms = -1};
  char *text = meta_channels__connection_json(&opened, &len);
  json_t *got = parsed(text, len);
  json_t *want = json_pack("{s:s, s:s, s:s}", "connectionId", "abc", "clientId",
                           "alice", "transport", "web_socket");
  assert_true(json_equal(got, want));
  json_decref(got);
  json_decref(want);
  struct meta_connection closed = {.connection_id = "abc", .transport = "sse",
                                   .duration_ms = 1500};
  text = meta_channels__connection_json(&closed, &len);
  got = parsed(text, len);
  want = json_pack("{s:s, s:s, s:i}", "connectionId", "abc", "transport", "sse",
                   "duration", 1500);
  assert_true(json_equal(got, want));
  json_decref(got);
  json_decref(want);
}

static void test_log_events_data(void **state) {
  herald_error err;
  herald_error_set(&err, HERALD_E_OUTBOUND_RATE_EXCEEDED, "too slow");
  size_t len;
  char *text = meta_channels__log_json(&err, "conn1", &len);
  json_t *got = parsed(text, len);
  json_t *error = json_object_get(got, "error");
  assert_int_equal(json_integer_value(json_object_get(error, "code")), 80020);
  assert_int_equal(json_integer_value(json_object_get(error, "statusCode")), 429);
  assert_string_equal(json_string_value(json_object_get(error, "message")),
                      "too slow");
  assert_string_equal(json_string_value(json_object_get(got, "connectionId")),
                      "conn1");
  json_decref(got);
  text = meta_channels__log_json(&err, NULL, &len);
  got = parsed(text, len);
  assert_int_equal(json_object_size(got), 1);
  json_decref(got);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_metachannels_are_subscribe_only,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_connection_events_data,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_log_events_data, leak_check__setup,
                                      leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
