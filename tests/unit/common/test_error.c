/* test_error.c -- herald_error (common/error.c, include/herald/errors.h):
 * setting returns -code and fills status and message, default messages,
 * CR/LF stripping, and the lookups for table and unknown codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "herald/errors.h"
#include "leak_check.h"

static const struct {
  int code;
  int status;
  const char *name;
  const char *message;
} rows[] = {
#define XX(name, code, status, msg) {code, status, #name, msg},
    HERALD_ERRORS(XX)
#undef XX
};
#define ROW_COUNT (sizeof rows / sizeof rows[0])

static void test_set_returns_negative_code(void **state) {
  herald_error err;
  memset(&err, 'x', sizeof err);
  assert_int_equal(
      herald_error_set(&err, HERALD_E_TOKEN_EXPIRED, "Token expired at %d", 5),
      -40142);
  assert_int_equal(err.code, 40142);
  assert_int_equal(err.status, 401);
  assert_string_equal(err.message, "Token expired at 5");
}

static void test_set_fills_status_from_table(void **state) {
  for (size_t i = 0; i < ROW_COUNT; i++) {
    herald_error err;
    assert_int_equal(herald_error_set(&err, rows[i].code, "m"), -rows[i].code);
    assert_int_equal(err.code, rows[i].code);
    assert_int_equal(err.status, rows[i].status);
    assert_string_equal(err.message, "m");
  }
  herald_error err;
  herald_error_set(&err, HERALD_E_MESSAGE_TOO_LARGE, "too big");
  assert_int_equal(err.status, 413);
  herald_error_set(&err, HERALD_E_RATE_LIMITED, "slow down");
  assert_int_equal(err.status, 429);
  herald_error_set(&err, HERALD_E_UNAVAILABLE, "later");
  assert_int_equal(err.status, 503);
}

static void test_set_default_message(void **state) {
  for (size_t i = 0; i < ROW_COUNT; i++) {
    herald_error err;
    assert_int_equal(herald_error_set(&err, rows[i].code, NULL), -rows[i].code);
    assert_string_equal(err.message, rows[i].message);
  }
  herald_error err;
  herald_error_set(&err, HERALD_E_CAPABILITY_DENIED, NULL);
  assert_string_equal(err.message,
                      "Given credentials do not have the required capability");
  herald_error_set(&err, 40199, NULL);
  assert_string_equal(err.message, "Unknown error");
}

static void test_set_strips_cr_lf(void **state) {
  herald_error err;
  herald_error_set(&err, HERALD_E_BAD_REQUEST, "a\r\nb\nc\rd%s", "\r\ne");
  assert_string_equal(err.message, "a  b c d  e");
  assert_null(strchr(err.message, '\r'));
  assert_null(strchr(err.message, '\n'));
}

static void test_set_null_error(void **state) {
  assert_int_equal(herald_error_set(NULL, HERALD_E_NOT_FOUND, "gone %s", "x"),
                   -40400);
  assert_int_equal(herald_error_set(NULL, 40199, NULL), -40199);
}

/* A negated code is accepted, so a returned -code can be passed on. */
static void test_set_negated_code(void **state) {
  herald_error err;
  assert_int_equal(herald_error_set(&err, -HERALD_E_BAD_REQUEST, NULL), -40000);
  assert_int_equal(err.code, 40000);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.message, "Bad request");
}

/* Messages are truncated to fit, NUL-terminated. */
static void test_set_truncates(void **state) {
  char long_text[600];
  memset(long_text, 'a', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  herald_error err;
  herald_error_set(&err, HERALD_E_BAD_REQUEST, "%s", long_text);
  assert_int_equal(strlen(err.message), HERALD_ERROR_MESSAGE_MAX - 1);
  assert_memory_equal(err.message, long_text, HERALD_ERROR_MESSAGE_MAX - 1);
}

/* Unknown codes: status floor(code / 100) when that is 4xx/5xx, else 500. */
static void test_unknown_code_status(void **state) {
  assert_int_equal(herald_error_status(40199), 401);
  assert_int_equal(herald_error_status(42200), 422);
  assert_int_equal(herald_error_status(50399), 503);
  assert_int_equal(herald_error_status(59999), 599);
  assert_int_equal(herald_error_status(39999), 500);
  assert_int_equal(herald_error_status(60000), 500);
  assert_int_equal(herald_error_status(12345), 500);
  assert_int_equal(herald_error_status(0), 500);
  herald_error err;
  assert_int_equal(herald_error_set(&err, 40199, "custom"), -40199);
  assert_int_equal(err.code, 40199);
  assert_int_equal(err.status, 401);
  assert_string_equal(err.message, "custom");
  herald_error_set(&err, 10000, NULL);
  assert_int_equal(err.status, 500);
}

static void test_table_lookups(void **state) {
  for (size_t i = 0; i < ROW_COUNT; i++) {
    assert_int_equal(herald_error_status(rows[i].code), rows[i].status);
    assert_string_equal(herald_error_name(rows[i].code), rows[i].name);
    assert_string_equal(herald_strerror(rows[i].code), rows[i].message);
  }
  assert_string_equal(herald_error_name(40142), "TOKEN_EXPIRED");
  assert_string_equal(herald_error_name(40010), "INVALID_CHANNEL_NAME");
  assert_string_equal(herald_strerror(40000), "Bad request");
  assert_string_equal(herald_error_name(40199), "UNKNOWN");
  assert_string_equal(herald_strerror(40199), "Unknown error");
  assert_int_equal(HERALD_E_BAD_REQUEST, 40000);
  assert_int_equal(HERALD_E_CAPABILITY_DENIED, 40160);
  assert_int_equal(HERALD_E_INVALID_CHANNEL_NAME, 40010);
}

/* Each code appears once, so a lookup cannot hit the wrong row. */
static void test_table_codes_unique(void **state) {
  for (size_t i = 0; i < ROW_COUNT; i++)
    for (size_t j = i + 1; j < ROW_COUNT; j++)
      assert_int_not_equal(rows[i].code, rows[j].code);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_set_returns_negative_code),
      TEST(test_set_fills_status_from_table),
      TEST(test_set_default_message),
      TEST(test_set_strips_cr_lf),
      TEST(test_set_null_error),
      TEST(test_set_negated_code),
      TEST(test_set_truncates),
      TEST(test_unknown_code_status),
      TEST(test_table_lookups),
      TEST(test_table_codes_unique),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
