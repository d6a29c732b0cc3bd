/* test_json_string.c -- common/json_string.c: the plain prefix of a JSON
 * string, for every stopping character at every position around the
 * eight-byte steps, and UTF-8 bytes (which are plain, but not ASCII). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
      bool ascii;
      assert_int_equal(json_string__plain_len(text, sizeof text, &ascii), at);
      assert_true(ascii);
      assert_int_equal(json_string__plain_len(text, at, &ascii), at);
    }
}

static void test_plain_characters(void **state) {
  (void)state;
  static const char text[] = " ~\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/'#]";
  bool ascii;
  assert_int_equal(json_string__plain_len(text, sizeof text - 1, &ascii), sizeof text - 1);
  assert_false(ascii);
  assert_int_equal(json_string__plain_len(text, 3, &ascii), 3);
  assert_true(ascii);
  char word[17] = "abcdefgh12345678"; /* a non-ASCII byte in a whole word */
  word[5] = (char)0xc3;
  assert_int_equal(json_string__plain_len(word, 16, &ascii), 16);
  assert_false(ascii);
  assert_int_equal(json_string__plain_len(text, 0, &ascii), 0);
  assert_true(ascii);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_stops_at_each_position),
      TEST(test_plain_characters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
