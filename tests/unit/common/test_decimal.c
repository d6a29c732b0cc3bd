/* test_decimal.c -- common/decimal.c: digits, zero padding, the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decimal.h"
#include "leak_check.h"

static void assert_decimal(uint64_t value, size_t min_width,
                           const char *expected) {
  char out[DECIMAL_MAX + 1];
  memset(out, 'X', sizeof out);
  size_t n = decimal__write(out, value, min_width);
  assert_int_equal(n, strlen(expected));
  assert_memory_equal(out, expected, n);
  assert_int_equal(out[n], 'X'); /* no NUL, nothing past the digits */
}

static void test_digits(void **state) {
  (void)state;
  assert_decimal(0, 0, "0");
  assert_decimal(0, 1, "0");
  assert_decimal(7, 1, "7");
  assert_decimal(1234567890, 1, "1234567890");
  assert_decimal(UINT64_MAX, 1, "18446744073709551615");
}

static void test_padding(void **state) {
  (void)state;
  assert_decimal(5, 3, "005");
  assert_decimal(999, 3, "999");
  assert_decimal(1000, 3, "1000"); /* a minimum, not a cut */
  assert_decimal(1700000000000, 14, "01700000000000");
  assert_decimal(0, DECIMAL_MAX, "00000000000000000000");
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_digits),
      TEST(test_padding),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
