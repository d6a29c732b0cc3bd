/* test_message_filter.c -- subscription filter expressions: the grammar,
 * JMESPath's semantics over name, clientId and headers, and every refusal
 * (syntax, unknown field, literal kind, length, depth, base64). Every test
 * checks that the live allocation count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "base64.h"
#include "leak_check.h"
#include "message.h"
#include "message_filter.h"

/* A message named `name` from `client_id` (either NULL for none) with the
 * extras JSON text (NULL for none). */
static struct message *make(const char *name, const char *client_id,
                            const char *extras) {
  struct message *m = message__new();
  m->name = name ? herald_xstrdup(name) : NULL;
  m->client_id = client_id ? herald_xstrdup(client_id) : NULL;
  m->extras = extras ? json_loads(extras, 0, NULL) : NULL;
  if (extras) assert_non_null(m->extras);
  return m;
}

/* The scoops-kiosk message of Ably's documentation. */
static struct message *ice_cream(void) {
  return make("ice-cream", "kiosk-1",
              "{\"headers\":{\"flavor\":\"strawberry\",\"cost\":35,"
              "\"temp\":3,\"vegan\":false,\"fresh\":true,\"note\":\"\","
              "\"my-key\":\"x\",\"half\":2.5}}");
}

static bool matches(const char *expr, const struct message *m) {
  struct message_filter *f = NULL;
  herald_error err = {0};
  int rc = message_filter__compile(expr, strlen(expr), &f, &err);
  if (rc) print_error("%s: %s\n", expr, err.message);
  assert_int_equal(rc, 0);
  bool match = message_filter__matches(f, m);
  message_filter__free(f);
  return match;
}

#define MATCH(expr, m) assert_true(matches(expr, m))
#define NO_MATCH(expr, m) assert_false(matches(expr, m))

/* Asserts that expr[0..len) is refused with 40010/400 and a message
 * containing `why`. */
static void assert_refused(const char *expr, size_t len, const char *why) {
  struct message_filter *f = NULL;
  herald_error err = {0};
  assert_int_equal(message_filter__compile(expr, len, &f, &err),
                   -HERALD_E_INVALID_CHANNEL_NAME);
  assert_null(f);
  assert_int_equal(err.code, HERALD_E_INVALID_CHANNEL_NAME);
  assert_int_equal(err.status, 400);
  if (!strstr(err.message, why)) print_error("%s: %s\n", expr, err.message);
  assert_non_null(strstr(err.message, "Invalid filter expression: "));
  assert_non_null(strstr(err.message, why));
}

#define REFUSED(expr, why) assert_refused(expr, strlen(expr), why)

static void test_fields(void **state) {
  struct message *m = ice_cream();
  MATCH("name == `\"ice-cream\"`", m);
  NO_MATCH("name == `\"ice\"`", m);
  MATCH("clientId == `\"kiosk-1\"`", m);
  NO_MATCH("clientId != `\"kiosk-1\"`", m);
  MATCH("headers.flavor == `\"strawberry\"`", m);
  MATCH("headers.\"my-key\" == `\"x\"`", m);
  MATCH("headers.\"fla\\u0076or\" == `\"strawberry\"`", m);
  /* Raw strings are strings too. */
  MATCH("name == 'ice-cream'", m);
  MATCH("headers.flavor == 'straw\\'berry' || name == 'ice-cream'", m);
  message__unref(m);
}

static void test_numbers_and_booleans(void **state) {
  struct message *m = ice_cream();
  MATCH("headers.cost == `35`", m);
  MATCH("headers.cost == `35.0`", m);
  MATCH("headers.cost < `50`", m);
  MATCH("headers.cost <= `35`", m);
  NO_MATCH("headers.cost > `35`", m);
  MATCH("headers.cost >= `35`", m);
  MATCH("headers.half > `2` && headers.half < `3`", m);
  MATCH("headers.cost > `-1e3`", m);
  MATCH("headers.fresh == `true`", m);
  MATCH("headers.vegan == `false`", m);
  NO_MATCH("headers.vegan == `true`", m);
  /* Types never equal across kinds. */
  NO_MATCH("headers.cost == `\"35\"`", m);
  NO_MATCH("headers.fresh == `1`", m);
  /* Ordering is for numbers only: anything else is null (false-like). */
  NO_MATCH("headers.flavor < `\"z\"`", m);
  NO_MATCH("headers.flavor >= `1`", m);
  message__unref(m);
}

static void test_missing_fields_are_null(void **state) {
  struct message *bare = make(NULL, NULL, NULL);
  NO_MATCH("name == `\"x\"`", bare);
  MATCH("name == `null`", bare);
  MATCH("clientId == `null`", bare);
  MATCH("headers.any == `null`", bare);
  MATCH("!headers.any", bare);
  NO_MATCH("headers.cost < `50`", bare);
  message__unref(bare);
  /* extras without headers, or headers that are not an object */
  struct message *odd = make("n", NULL, "{\"headers\":[1,2]}");
  MATCH("headers.a == `null`", odd);
  message__unref(odd);
  struct message *nested = make("n", NULL, "{\"headers\":{\"o\":{\"a\":1}}}");
  NO_MATCH("headers.o == `1`", nested);
  MATCH("headers.o != `null`", nested);
  MATCH("headers.o", nested); /* an object is true-like */
  message__unref(nested);
}

static void test_logic(void **state) {
  struct message *m = ice_cream();
  MATCH("name == `\"ice-cream\"` && headers.flavor == `\"strawberry\"` && "
        "headers.cost < `50`", m);
  MATCH("headers.flavor == `\"strawberry\"` || headers.flavor == "
        "`\"chocolate\"`", m);
  NO_MATCH("headers.flavor == `\"vanilla\"` || headers.flavor == "
           "`\"chocolate\"`", m);
  MATCH("!(headers.flavor == `\"vanilla\"`)", m);
  NO_MATCH("!(name == `\"ice-cream\"`)", m);
  MATCH("!!headers.fresh", m);
  /* && binds tighter than ||. */
  MATCH("name == `\"x\"` && headers.cost == `1` || headers.temp == `3`", m);
  NO_MATCH("name == `\"x\"` && (headers.cost == `1` || headers.temp == `3`)", m);
  MATCH("(name == `\"x\"` || headers.temp == `3`) && headers.fresh", m);
  /* ! binds tighter than ==, as JMESPath's: (!vegan) == true. */
  MATCH("!headers.vegan == `true`", m);
  /* Truth: false, null and "" are false-like; 0 and numbers are not. */
  NO_MATCH("headers.note", m);
  MATCH("headers.cost", m);
  MATCH("`0`", m);
  NO_MATCH("`false`", m);
  NO_MATCH("`null`", m);
  /* Comparisons chain left to right: (cost == 35) == true. */
  MATCH("headers.cost == `35` == `true`", m);
  /* Whitespace anywhere between tokens. */
  MATCH("  ( name\t==\n`\"ice-cream\"` )  ", m);
  MATCH("name==`\"ice-cream\"`&&headers.cost<`50`", m);
  message__unref(m);
}

static void test_syntax_errors(void **state) {
  REFUSED("", "unexpected end");
  REFUSED("name ==", "unexpected end");
  REFUSED("name = `\"x\"`", "unexpected '='");
  REFUSED("name == `\"x\"` &&", "unexpected end");
  REFUSED("(name == `\"x\"`", "expected ')'");
  REFUSED("name == `\"x\"`)", "unexpected ')'");
  REFUSED("name == `\"x`", "invalid JSON literal");
  REFUSED("name == `\"x\"", "unterminated literal");
  REFUSED("name == 'x", "unterminated raw string");
  REFUSED("name == `x`", "invalid JSON literal");
  REFUSED("name == `[1]`", "only string, number, boolean and null");
  REFUSED("name == `{\"a\":1}`", "only string, number, boolean and null");
  REFUSED("headers", "expected '.' after 'headers'");
  REFUSED("headers.", "expected a header name");
  REFUSED("headers.\"a", "invalid quoted header name");
  REFUSED("headers.1a == `1`", "expected a header name");
  REFUSED("name & clientId", "unexpected '&'");
  REFUSED("name == `1` name", "unexpected 'n'");
  REFUSED("!= name", "unexpected '='");
}

static void test_unknown_fields(void **state) {
  REFUSED("data == `\"x\"`", "unknown field 'data'");
  REFUSED("extras.headers.a == `1`", "unknown field 'extras'");
  REFUSED("Name == `\"x\"`", "unknown field 'Name'");
  REFUSED("name.x == `1`", "unexpected '.'");
}

static void test_limits(void **state) {
  char text[MESSAGE_FILTER_MAX_LEN + 2];
  memset(text, ' ', sizeof text);
  memcpy(text, "name", 4);
  struct message_filter *f = NULL;
  assert_int_equal(message_filter__compile(text, MESSAGE_FILTER_MAX_LEN, &f, NULL), 0);
  message_filter__free(f);
  assert_refused(text, MESSAGE_FILTER_MAX_LEN + 1, "longer than 1024 bytes");

  /* MESSAGE_FILTER_MAX_DEPTH levels are taken, one more is not: as nested
   * "!", as parentheses, and as a long chain (a left-deep tree). */
  char deep[3 * MESSAGE_FILTER_MAX_DEPTH + 16];
  size_t n = 0;
  for (int i = 0; i < MESSAGE_FILTER_MAX_DEPTH - 1; i++) deep[n++] = '!';
  memcpy(deep + n, "name", 5);
  struct message *m = ice_cream();
  assert_false(matches(deep, m)); /* 31 "!": false */
  memmove(deep + 1, deep, strlen(deep) + 1);
  REFUSED(deep, "nested deeper than 32 levels");
  n = 0;
  for (int i = 0; i < MESSAGE_FILTER_MAX_DEPTH + 1; i++) deep[n++] = '(';
  deep[n++] = 'n';
  deep[n] = '\0';
  REFUSED(deep, "nested deeper than 32 levels");
  char chain[64 * 8] = "name";
  for (int i = 1; i < MESSAGE_FILTER_MAX_DEPTH; i++) strcat(chain, "||name");
  MATCH(chain, m); /* 31 operators: depth 32 */
  strcat(chain, "||name");
  REFUSED(chain, "nested deeper than 32 levels");
  message__unref(m);
}

static void compile_base64(const char *expr, int want) {
  char b64[256];
  base64__encode(expr, strlen(expr), b64);
  struct message_filter *f = NULL;
  assert_int_equal(message_filter__compile_base64(b64, strlen(b64), &f, NULL), want);
  if (!want) {
    struct message *m = ice_cream();
    assert_true(message_filter__matches(f, m));
    message__unref(m);
  }
  message_filter__free(f);
}

static void test_base64(void **state) {
  compile_base64("name == `\"ice-cream\"`", 0);
  compile_base64("name == ", -HERALD_E_INVALID_CHANNEL_NAME);
  herald_error err;
  struct message_filter *f = NULL;
  assert_int_equal(message_filter__compile_base64("bm*h", 4, &f, &err),
                   -HERALD_E_INVALID_CHANNEL_NAME);
  assert_non_null(strstr(err.message, "is not base64"));
  /* "\xff\xfe" is not UTF-8 */
  assert_int_equal(message_filter__compile_base64("//4=", 4, &f, &err),
                   -HERALD_E_INVALID_CHANNEL_NAME);
  assert_non_null(strstr(err.message, "not UTF-8"));
  assert_null(f);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_fields),
      TEST(test_numbers_and_booleans),
      TEST(test_missing_fields_are_null),
      TEST(test_logic),
      TEST(test_syntax_errors),
      TEST(test_unknown_fields),
      TEST(test_limits),
      TEST(test_base64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
