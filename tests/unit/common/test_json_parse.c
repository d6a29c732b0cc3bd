/* test_json_parse.c -- common/json_parse.c against jansson, the parser it
 * replaced: the same documents are accepted (with equal trees) and the
 * same rejected, for a table of edge cases and for random token soups;
 * repeated keys, "\u0000", surrogates, integer and real limits, nesting
 * depth, and strings that stay in the text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "json_parse.h"
#include "leak_check.h"
#include "wire.h"

/* ---- the oracle --------------------------------------------------------- */

static json_t *jansson_parse(const char *text, size_t len) {
  json_error_t err;
  return json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
}

/* Parses text with both and asserts they agree: both reject, or both
 * accept with equal trees. Returns whether it was accepted. */
static bool assert_agrees(const char *text, size_t len) {
  json_t *want = jansson_parse(text, len);
  struct wire_doc doc;
  herald_error err;
  int rc = wire_doc__parse(&doc, WIRE_JSON, text, len, &err);
  if ((rc == 0) != (want != NULL))
    print_error("%.*s: jansson %s, json_parse %s\n", (int)len, text,
                want ? "accepts" : "rejects", rc ? err.message : "accepts");
  assert_int_equal(rc == 0, want != NULL);
  if (want) {
    json_t *got = wire_value__to_json(wire_doc__root(&doc));
    assert_non_null(got);
    if (!json_equal(got, want)) print_error("%.*s: trees differ\n", (int)len, text);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
  }
  wire_doc__cleanup(&doc);
  return want != NULL;
}

#define AGREES(s) assert_agrees(s, sizeof s - 1)

/* ---- tables ------------------------------------------------------------- */

static void test_valid_documents(void **state) {
  (void)state;
  static const char *const docs[] = {
      "{}", "[]", " [ ] ", "0", "-0", "1", "-1", "0.5", "-0.5e-3", "1E10",
      "1e+2", "123456789", "\"\"", "\"plain\"", "true", "false", "null",
      "{\"a\":1,\"b\":[true,false,null,\"x\",{\"c\":{}}]}",
      "\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\"\\u0041\\u00e9\\u20AC\"",
      "\"\\ud83d\\ude00\"", "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
      "\"a\\u0000b\"", "9223372036854775807", "-9223372036854775808",
      "1.7976931348623157e308", "1e-400", "[1,[2,[3,[4]]]]",
      "\n\t\r {\"k\" : \"v\" } \n", "{\"\":\"empty key\"}",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
    assert_true(assert_agrees(docs[i], strlen(docs[i])));
}

static void test_invalid_documents(void **state) {
  (void)state;
  static const char *const docs[] = {
      "", " ", "{", "}", "[", "]", "[1,]", "{\"a\":1,}", "{\"a\"}", "{\"a\" 1}",
      "{1:2}", "{'a':1}", "[1 2]", "01", "-", "-a", "1.", ".5", "1e", "1e+",
      "+1", "0x10", "tru", "truex", "nul", "NaN", "Infinity", "\"unterminated",
      "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\ud800\"", "\"\\udc00\"",
      "\"\\ud800\\u0041\"", "\"tab\there\"", "\"\xc3\x28\"", "\"\xed\xa0\x80\"",
      "\xef\xbb\xbf{}", "{\"a\\u0000\":1}", "9223372036854775808",
      "-9223372036854775809", "1e400", "-1e400", "{} x", "[1][2]", "1 2",
      "\"a\"\"b\"", "[\"\\",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
    assert_false(assert_agrees(docs[i], strlen(docs[i])));
  assert_false(AGREES("{}\0"));
  assert_false(AGREES("\"a\0b\""));
}

static void test_nesting_limit(void **state) {
  (void)state;
  enum { DEEP = 2049 };
  char *text = herald_xmalloc(2 * DEEP);
  for (size_t levels = DEEP - 1; levels <= DEEP; levels++) {
    memset(text, '[', levels);
    memset(text + levels, ']', levels);
    assert_int_equal(assert_agrees(text, 2 * levels), levels < DEEP);
  }
  herald_free(text);
}

/* A key given twice keeps its first place and takes its last value. */
static void test_repeated_keys(void **state) {
  (void)state;
  static const char text[] = "{\"a\":1,\"b\":2,\"a\":3,\"c\":4,\"b\":5}";
  assert_true(AGREES(text));
  struct wire_doc doc;
  herald_error err;
  assert_int_equal(wire_doc__parse(&doc, WIRE_JSON, text, sizeof text - 1, &err), 0);
  struct wire_value root = wire_doc__root(&doc);
  assert_int_equal(wire_value__count(root), 3);
  static const char *const keys[] = {"a", "b", "c"};
  static const int64_t values[] = {3, 5, 4};
  for (size_t i = 0; i < 3; i++) {
    const char *key;
    size_t key_len;
    int64_t v;
    assert_true(wire_value__int(wire_value__member(root, i, &key, &key_len), &v));
    assert_int_equal(key_len, 1);
    assert_memory_equal(key, keys[i], 1);
    assert_int_equal(v, values[i]);
  }
  wire_doc__cleanup(&doc);
}

/* Many members, repeated, go through the hashed merge. */
static void test_many_repeated_keys(void **state) {
  (void)state;
  enum { KEYS = 300 };
  char *text = herald_xmalloc(KEYS * 2 * 24 + 2), *p = text;
  *p++ = '{';
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < KEYS; i++)
      p += sprintf(p, "%s\"k%d\":%d", p == text + 1 ? "" : ",", i, round * KEYS + i);
  *p++ = '}';
  assert_true(assert_agrees(text, (size_t)(p - text)));
  herald_free(text);
}

/* Strings without escapes are views of the text; escaped ones are copies. */
static void test_plain_strings_stay_in_the_text(void **state) {
  (void)state;
  static const char text[] = "[\"plain\",\"esc\\n\"]";
  struct wire_doc doc;
  herald_error err;
  assert_int_equal(wire_doc__parse(&doc, WIRE_JSON, text, sizeof text - 1, &err), 0);
  size_t len;
  const char *plain = wire_value__bytes(wire_value__at(wire_doc__root(&doc), 0), &len);
  assert_ptr_equal(plain, text + 2);
  const char *escaped = wire_value__bytes(wire_value__at(wire_doc__root(&doc), 1), &len);
  assert_int_equal(len, 4);
  assert_memory_equal(escaped, "esc\n", 4);
  wire_doc__cleanup(&doc);
}

/* ---- random token soups ---------------------------------------------------- */

static void test_random_soups(void **state) {
  (void)state;
  static const char *const tokens[] = {
      "{", "}", "[", "]", ",", ":", " ", "\"", "\"k\"", "\"v\\n\"", "\\",
      "\\u00e9", "\\ud83d", "\\ude00", "0", "-", "1", "2.5", "e", "E+3", ".",
      "true", "false", "null", "\xc3\xa9", "\xff", "\t", "\\u0000", "x"};
  enum { ROUNDS = 20000, MAX_TOKENS = 12 };
  char text[MAX_TOKENS * 8];
  unsigned seed = 6;
  size_t accepted = 0;
  for (int round = 0; round < ROUNDS; round++) {
    size_t len = 0, n = 1 + (size_t)rand_r(&seed) % MAX_TOKENS;
    for (size_t i = 0; i < n; i++) {
      const char *t = tokens[(size_t)rand_r(&seed) % (sizeof tokens / sizeof *tokens)];
      memcpy(text + len, t, strlen(t));
      len += strlen(t);
    }
    accepted += assert_agrees(text, len);
  }
  assert_true(accepted > 100); /* the soups do hit valid documents */
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_valid_documents),
      TEST(test_invalid_documents),
      TEST(test_nesting_limit),
      TEST(test_repeated_keys),
      TEST(test_many_repeated_keys),
      TEST(test_plain_strings_stay_in_the_text),
      TEST(test_random_soups),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
