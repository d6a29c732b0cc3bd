/* test_json_string.c -- common/json_string.c: the plain prefix of a JSON
 * string, for every stopping character at every position around the
 * eight-byte steps, and UTF-8 bytes (which are plain). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json_string.h"
#include "leak_check.h"

static void test_stops_at_each_position(void **state) {
  (void)state;
  static const char stops[] = {'"', '\\', '\0', '\x01', '\n', '\x1f'};
  char text[24];
  for (size_t s = 0; s < sizeof stops; s++)
    for (size_t at = 0; at < sizeof text; at++) {
      memset(text, 'a', sizeof text);
      text[at] = stops[s];
      assert_int_equal(json_string__plain_len(text, sizeof text), at);
      assert_int_equal(json_string__plain_len(text, at), at);
    }
}

static void test_plain_characters(void **state) {
  (void)state;
  static const char text[] = " ~\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/'#]";
  assert_int_equal(json_string__plain_len(text, sizeof text - 1), sizeof text - 1);
  assert_int_equal(json_string__plain_len(text, 0), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_stops_at_each_position),
      TEST(test_plain_characters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
