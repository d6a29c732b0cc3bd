/* test_serial.c -- serial shapes and channel positions (common/serial.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "serial.h"

static void test_serials_sort_in_issue_order(void **state) {
  char a[SERIAL_MAX], b[SERIAL_MAX], c[SERIAL_MAX];
  serial__format(a, 1700000000000, 5, "node1", 0);
  serial__format(b, 1700000000000, 5, "node1", 1);
  serial__format(c, 1700000000000, 6, "node1", 0);
  assert_string_equal(a, "01700000000000-005@node1:000");
  assert_true(strcmp(a, b) < 0 && strcmp(b, c) < 0);
  assert_true(serial__valid(a));
}

/* A floor sorts after every serial issued before (ms, seq) and before every
 * serial from (ms, seq) on: what a channel position needs. */
static void test_a_floor_separates_earlier_from_later_serials(void **state) {
  char floor[SERIAL_MAX], before[SERIAL_MAX], at[SERIAL_MAX], next_ms[SERIAL_MAX];
  serial__floor(floor, 1700000000000, 6);
  serial__format(before, 1700000000000, 5, "zz9", 999);
  serial__format(at, 1700000000000, 6, "-", 0);
  serial__format(next_ms, 1700000000001, 0, "a", 0);
  assert_string_equal(floor, "01700000000000-006");
  assert_true(strcmp(before, floor) < 0);
  assert_true(strcmp(floor, at) < 0);
  assert_true(strcmp(floor, next_ms) < 0);
}

static void test_positions_are_serials_or_floors(void **state) {
  int64_t ms = 0;
  assert_true(serial__position("01700000000000-006", &ms));
  assert_int_equal(ms, 1700000000000);
  assert_true(serial__position("01700000000123-000@node1:002", &ms));
  assert_int_equal(ms, 1700000000123);
  assert_false(serial__position("01700000000000-", &ms));
  assert_false(serial__position("01700000000000-006x", &ms));
  assert_false(serial__position("not a serial at all", &ms));
  assert_false(serial__position("", &ms));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_serials_sort_in_issue_order),
      cmocka_unit_test(test_a_floor_separates_earlier_from_later_serials),
      cmocka_unit_test(test_positions_are_serials_or_floors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
