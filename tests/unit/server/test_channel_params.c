/* test_channel_params.c -- an ATTACH's params as Herald applies them
 * (server/realtime/channel_params.c): the known ones are kept as given
 * (ATTACHED echoes them), modes become flags, unknown ones and agent are
 * dropped, a value Herald cannot apply is 40000 naming the param and
 * leaves nothing behind; rewind reads counts and durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "leak_check.h"
#include "realtime/channel_params.h"

/* A protocol message carrying n params. */
static struct protocol_message with_params(char **keys, char **values,
                                           size_t n) {
  return (struct protocol_message){.action = PM_ATTACH,
                                   .param_keys = keys,
                                   .param_values = values,
                                   .n_params = n};
}

static void test_known_params_are_kept_as_given(void **state) {
  char *keys[] = {"modes", "agent", "rewind", "nonexistent", "delta",
                  "occupancy", "echo"};
  char *values[] = {"Presence,subscribe", "ably-js/2", "2m", "x", "vcdiff",
                    "metrics.presenceMembers", "false"};
  struct protocol_message pm = with_params(keys, values, 7);
  struct channel_params p;
  herald_error err;
  assert_int_equal(channel_params__read(&pm, &p, &err), 0);
  assert_int_equal(p.n, 5);
  assert_int_equal(p.modes, PM_FLAG_MODE_PRESENCE | PM_FLAG_MODE_SUBSCRIBE);
  assert_string_equal(channel_params__get(&p, "modes"), "Presence,subscribe");
  assert_string_equal(channel_params__get(&p, "rewind"), "2m");
  assert_string_equal(channel_params__get(&p, "delta"), "vcdiff");
  assert_string_equal(channel_params__get(&p, "occupancy"),
                      "metrics.presenceMembers");
  assert_string_equal(channel_params__get(&p, "echo"), "false");
  assert_null(channel_params__get(&p, "agent"));
  assert_null(channel_params__get(&p, "nonexistent"));
  channel_params__free(&p);
  assert_int_equal(p.n, 0);
}

static void test_values_it_cannot_apply_are_refused(void **state) {
  static const char *const bad[][2] = {
      {"modes", "subscribe,bogus"}, {"modes", ""},       {"modes", "subscribe,"},
      {"rewind", "soon"},           {"rewind", "0"},     {"rewind", "-3"},
      {"rewind", "10h"},            {"delta", "xdelta"}, {"occupancy", "metrics.x"},
      {"occupancy", "all"},         {"echo", "no"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *keys[] = {"delta", (char *)bad[i][0]};
    char *values[] = {"vcdiff", (char *)bad[i][1]};
    struct protocol_message pm = with_params(keys, values, 2);
    struct channel_params p;
    herald_error err;
    assert_int_equal(channel_params__read(&pm, &p, &err), -HERALD_E_BAD_REQUEST);
    assert_non_null(strstr(err.message, bad[i][0]));
    assert_int_equal(p.n, 0); /* the delta read before is gone too */
  }
}

static void test_rewind_counts_and_durations(void **state) {
  size_t count;
  int64_t ms;
  assert_true(channel_params__rewind("7", 100, &count, &ms));
  assert_int_equal(count, 7);
  assert_int_equal(ms, 0);
  assert_true(channel_params__rewind("500", 100, &count, &ms));
  assert_int_equal(count, 100); /* at most max */
  assert_true(channel_params__rewind("30s", 100, &count, &ms));
  assert_int_equal(count, 0);
  assert_int_equal(ms, 30000);
  assert_true(channel_params__rewind("2m", 100, &count, &ms));
  assert_int_equal(ms, 120000);
  assert_false(channel_params__rewind("", 100, &count, &ms));
  assert_false(channel_params__rewind("s", 100, &count, &ms));
  assert_false(channel_params__rewind("1.5", 100, &count, &ms));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_known_params_are_kept_as_given,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_values_it_cannot_apply_are_refused,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_rewind_counts_and_durations,
                                      leak_check__setup, leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
