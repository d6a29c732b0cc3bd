/* test_stats_interval.c -- common/stats_interval.c: units, interval ids
 * of every form (and what is not one), flooring and the next interval
 * across month and year ends, ids as Ably writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "leak_check.h"
#include "stats_interval.h"

#define MIN_15_03 1738594980000LL /* 2025-02-03T15:03:00Z */
#define HOUR_15 1738594800000LL   /* 2025-02-03T15:00:00Z */
#define HOUR_16 1738598400000LL
#define DAY_03 1738540800000LL    /* 2025-02-03T00:00:00Z */
#define DAY_04 1738627200000LL
#define FEB_2025 1738368000000LL
#define MAR_2025 1740787200000LL
#define DEC_2024 1733011200000LL
#define JAN_2025 1735689600000LL
#define FEB_29_2024 1709164800000LL
#define MAR_2024 1709251200000LL

static void test_units(void **state) {
  (void)state;
  enum stats_unit u;
  assert_int_equal(stats_interval__unit("minute", &u), 0);
  assert_int_equal(u, STATS_MINUTE);
  assert_int_equal(stats_interval__unit("month", &u), 0);
  assert_int_equal(u, STATS_MONTH);
  assert_int_equal(stats_interval__unit("week", &u), -1);
  assert_int_equal(stats_interval__unit("Hour", &u), -1);
  assert_string_equal(stats_interval__unit_name(STATS_DAY), "day");
}

static void assert_bounds(const char *text, int64_t first, int64_t last) {
  int64_t f = -1, l = -1;
  assert_int_equal(stats_interval__parse(text, &f, &l), 0);
  assert_int_equal(f, first);
  assert_int_equal(l, last);
}

static void test_parse_forms(void **state) {
  (void)state;
  assert_bounds("2025-02-03:15:03", MIN_15_03, MIN_15_03 + 59999);
  assert_bounds("2025-02-03:15", HOUR_15, HOUR_16 - 1);
  assert_bounds("2025-02-03", DAY_03, DAY_04 - 1);
  assert_bounds("2025-02", FEB_2025, MAR_2025 - 1);
  assert_bounds("1738594980123", 1738594980123LL, 1738594980123LL);
  assert_bounds("0", 0, 0);
  assert_bounds("2024-02-29", FEB_29_2024, MAR_2024 - 1);
}

static void test_parse_refuses(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",          "abc",           "-5",         "12x",
      "2025-02-30", "2025-13",      "2025-00",    "2025-02-03:24",
      "2025-02-03:15:60", "2025-02-03:15:03:00", "2025-2-03", "2025-02-03 15",
      "2025-02-03:15:3", "2023-02-29", "2025-02-03:", "99999999999999999999",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t f, l;
    if (stats_interval__parse(bad[i], &f, &l) != -1) fail_msg("accepted '%s'", bad[i]);
  }
  int64_t f, l;
  assert_int_equal(stats_interval__parse(NULL, &f, &l), -1);
}

static void test_floor_and_next(void **state) {
  (void)state;
  int64_t t = MIN_15_03 + 42123; /* 15:03:42.123 */
  assert_int_equal(stats_interval__floor(t, STATS_MINUTE), MIN_15_03);
  assert_int_equal(stats_interval__floor(t, STATS_HOUR), HOUR_15);
  assert_int_equal(stats_interval__floor(t, STATS_DAY), DAY_03);
  assert_int_equal(stats_interval__floor(t, STATS_MONTH), FEB_2025);
  assert_int_equal(stats_interval__next(MIN_15_03, STATS_MINUTE), MIN_15_03 + 60000);
  assert_int_equal(stats_interval__next(HOUR_15, STATS_HOUR), HOUR_16);
  assert_int_equal(stats_interval__next(DAY_03, STATS_DAY), DAY_04);
  assert_int_equal(stats_interval__next(FEB_2025, STATS_MONTH), MAR_2025);
  assert_int_equal(stats_interval__next(DEC_2024, STATS_MONTH), JAN_2025);
  assert_int_equal(stats_interval__next(FEB_29_2024, STATS_DAY), MAR_2024);
}

static void test_ids(void **state) {
  (void)state;
  char id[STATS_INTERVAL_ID_MAX];
  stats_interval__id(MIN_15_03, STATS_MINUTE, id);
  assert_string_equal(id, "2025-02-03:15:03");
  stats_interval__id(HOUR_15, STATS_HOUR, id);
  assert_string_equal(id, "2025-02-03:15");
  stats_interval__id(DAY_03, STATS_DAY, id);
  assert_string_equal(id, "2025-02-03:00");
  stats_interval__id(FEB_2025, STATS_MONTH, id);
  assert_string_equal(id, "2025-02-01:00");
  stats_interval__second_id(MIN_15_03 + 42999, id);
  assert_string_equal(id, "2025-02-03:15:03:42");
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_units),          TEST(test_parse_forms), TEST(test_parse_refuses),
      TEST(test_floor_and_next), TEST(test_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
