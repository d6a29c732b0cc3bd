/* test_channel_name.c -- channel name validation, qualifiers, base names and
 * namespaces (shared/spec/messages.md section 8). Every test checks that the
 * live allocation count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "channel_name.h"
#include "leak_check.h"

/* Parses a valid name and checks every field of the result: the base view,
 * the params view (NULL when expected is NULL), is_meta and the base name
 * channel_name__base_dup returns. */
static void assert_name(const char *name, const char *base, const char *params,
                        int is_meta, const char *full) {
  struct channel_name out;
  herald_error err = {0};
  int rc = channel_name__parse(name, strlen(name), &out, &err);
  if (rc) print_error("%s: %s\n", name, err.message);
  assert_int_equal(rc, 0);
  assert_int_equal(out.base_len, strlen(base));
  assert_memory_equal(out.base, base, out.base_len);
  if (params) {
    assert_non_null(out.params);
    assert_int_equal(out.params_len, strlen(params));
    assert_memory_equal(out.params, params, out.params_len);
  } else {
    assert_null(out.params);
    assert_int_equal(out.params_len, 0);
  }
  assert_int_equal(out.is_meta, is_meta);
  char *dup = channel_name__base_dup(&out);
  assert_non_null(dup);
  assert_string_equal(dup, full);
  herald_free(dup);
}

/* Asserts that name[0..len) is rejected with 40010 and a message starting
 * with `prefix`, leaving the output untouched. */
static void assert_invalid(const char *name, size_t len, const char *prefix) {
  struct channel_name out = {"untouched", 9, NULL, 0, 7, NULL, 0};
  herald_error err = {0};
  assert_int_equal(channel_name__parse(name, len, &out, &err),
                   -HERALD_E_INVALID_CHANNEL_NAME);
  assert_int_equal(err.code, HERALD_E_INVALID_CHANNEL_NAME);
  assert_int_equal(err.status, 400);
  assert_memory_equal(err.message, prefix, strlen(prefix));
  assert_null(strchr(err.message, '\n'));
  assert_null(strchr(err.message, '\r'));
  assert_string_equal(out.base, "untouched");
  assert_int_equal(out.is_meta, 7);
}

#define INVALID_NAME "invalid channel name: "
#define INVALID_QUALIFIER "Invalid qualifier in channelId; "
#define INVALID(literal, prefix) \
  assert_invalid(literal, sizeof literal - 1, prefix)

static void test_plain_names(void **state) {
  assert_name("foo", "foo", NULL, 0, "foo");
  assert_name("foo:bar:baz", "foo:bar:baz", NULL, 0, "foo:bar:baz");
  assert_name("Foo Bar", "Foo Bar", NULL, 0, "Foo Bar");
  assert_name("foo*", "foo*", NULL, 0, "foo*");
  assert_name("a]b[c", "a]b[c", NULL, 0, "a]b[c");
  assert_name("foo:", "foo:", NULL, 0, "foo:");
  assert_name("x", "x", NULL, 0, "x");
  assert_name("\xe6\x97\xa5\xe6\x9c\xac:\xf0\x9f\x98\x80",
              "\xe6\x97\xa5\xe6\x9c\xac:\xf0\x9f\x98\x80", NULL, 0,
              "\xe6\x97\xa5\xe6\x9c\xac:\xf0\x9f\x98\x80");
}

static void test_meta_names(void **state) {
  assert_name("[meta]log", "log", NULL, 1, "[meta]log");
  assert_name("[meta]channel.lifecycle", "channel.lifecycle", NULL, 1,
              "[meta]channel.lifecycle");
  assert_name("[meta]a:b", "a:b", NULL, 1, "[meta]a:b");
}

static void test_params_names(void **state) {
  assert_name("[?rewind=1]foo", "foo", "rewind=1", 0, "foo");
  assert_name("[?delta=vcdiff]foo:bar", "foo:bar", "delta=vcdiff", 0,
              "foo:bar");
  assert_name("[?rewind=1&delta=vcdiff]x", "x", "rewind=1&delta=vcdiff", 0,
              "x");
  assert_name("[meta?x=y]log", "log", "x=y", 1, "[meta]log");
  /* The qualifier ends at the first ']'. */
  assert_name("[?a=b]c]d", "c]d", "a=b", 0, "c]d");
  /* An empty query is a params qualifier without params. */
  assert_name("[?]foo", "foo", NULL, 0, "foo");
  assert_name("[meta?]log", "log", NULL, 1, "[meta]log");
}

/* A filter qualifier: its base64 text as a view, kept in the base name
 * (a filtered name is its own attachment), params dropped. */
static void test_filter_names(void **state) {
  struct channel_name out;
  assert_int_equal(channel_name__parse("[filter=bmFtZQ==]foo", 20, &out, NULL), 0);
  assert_int_equal(out.filter_len, 8);
  assert_memory_equal(out.filter, "bmFtZQ==", 8);
  assert_int_equal(out.base_len, 3);
  assert_memory_equal(out.base, "foo", 3);
  assert_int_equal(out.is_meta, 0);
  assert_null(out.params);
  char *dup = channel_name__base_dup(&out);
  assert_string_equal(dup, "[filter=bmFtZQ==]foo");
  herald_free(dup);
  const char *with_params = "[filter=a+b/?rewind=1]ns:x";
  assert_int_equal(channel_name__parse(with_params, strlen(with_params), &out, NULL), 0);
  assert_int_equal(out.filter_len, 4);
  assert_memory_equal(out.filter, "a+b/", 4);
  assert_int_equal(out.params_len, 8);
  assert_memory_equal(out.params, "rewind=1", 8);
  dup = channel_name__base_dup(&out);
  assert_string_equal(dup, "[filter=a+b/]ns:x");
  herald_free(dup);
  /* Plain names have no filter. */
  assert_int_equal(channel_name__parse("[meta]log", 9, &out, NULL), 0);
  assert_null(out.filter);
  INVALID("[filter=abc]", INVALID_NAME);
  INVALID("[filterx]foo", INVALID_QUALIFIER);
  INVALID("[filter]foo", INVALID_QUALIFIER);
}

/* The name is (name, len): bytes past len are not read. */
static void test_length_bounds_name(void **state) {
  struct channel_name out;
  const char *text = "[?rewind=1]foo\nbar";
  assert_int_equal(channel_name__parse(text, 14, &out, NULL), 0);
  assert_int_equal(out.base_len, 3);
  assert_memory_equal(out.base, "foo", 3);
  char *dup = channel_name__base_dup(&out);
  assert_string_equal(dup, "foo");
  herald_free(dup);
  assert_int_equal(channel_name__parse(text, 18, &out, NULL),
                   -HERALD_E_INVALID_CHANNEL_NAME);
}

/* CHANNEL_NAME_MAX bytes are taken, one more is not. */
static void test_longest_name(void **state) {
  static char text[CHANNEL_NAME_MAX + 1];
  memset(text, 'x', sizeof text);
  struct channel_name out;
  herald_error err;
  assert_int_equal(channel_name__parse(text, CHANNEL_NAME_MAX, &out, &err), 0);
  assert_int_equal(out.base_len, CHANNEL_NAME_MAX);
  assert_int_equal(channel_name__parse(text, CHANNEL_NAME_MAX + 1, &out, &err),
                   -HERALD_E_INVALID_CHANNEL_NAME);
  assert_non_null(strstr(err.message, "longer than 2048 bytes"));
}

static void test_invalid_names(void **state) {
  INVALID("", INVALID_NAME);
  INVALID(":foo", INVALID_NAME);
  INVALID(":", INVALID_NAME);
  INVALID("foo\nbar", INVALID_NAME);
  INVALID("foo\rbar", INVALID_NAME);
  INVALID("foo\n", INVALID_NAME);
  INVALID("[meta]log\r\n", INVALID_NAME);
  INVALID("[foo\nbar]x", INVALID_NAME);
  /* After a qualifier the same rules apply to the rest. */
  INVALID("[meta]", INVALID_NAME);
  INVALID("[?rewind=1]", INVALID_NAME);
  INVALID("[meta]:foo", INVALID_NAME);
  INVALID("[?x=1]:foo", INVALID_NAME);
}

static void test_invalid_qualifiers(void **state) {
  INVALID("[foo]bar", INVALID_QUALIFIER);
  INVALID("[queue]bar", INVALID_QUALIFIER);
  INVALID("[*]bar", INVALID_QUALIFIER);
  INVALID("[Meta]bar", INVALID_QUALIFIER);
  INVALID("[metax]bar", INVALID_QUALIFIER);
  INVALID("[]bar", INVALID_QUALIFIER);
  INVALID("[", INVALID_QUALIFIER);
  INVALID("[meta", INVALID_QUALIFIER);
  INVALID("[?rewind=1foo", INVALID_QUALIFIER);
  INVALID("[foo?x=1]bar", INVALID_QUALIFIER);
  INVALID("[meta][meta]x", INVALID_QUALIFIER);
  INVALID("[?x=1][meta]x", INVALID_QUALIFIER);
}

static void test_error_message_names_channel(void **state) {
  herald_error err;
  struct channel_name out;
  assert_int_equal(channel_name__parse("[foo]bar", 8, &out, &err),
                   -HERALD_E_INVALID_CHANNEL_NAME);
  assert_string_equal(err.message,
                      "Invalid qualifier in channelId; channelId = [foo]bar");
  assert_int_equal(channel_name__parse(":x", 2, &out, NULL),
                   -HERALD_E_INVALID_CHANNEL_NAME);
}

static void test_namespace_len(void **state) {
  assert_int_equal(channel_name__namespace_len("foo:bar:baz", 11), 3);
  assert_int_equal(channel_name__namespace_len("foo", 3), 3);
  assert_int_equal(channel_name__namespace_len("foo:", 4), 3);
  assert_int_equal(channel_name__namespace_len("", 0), 0);
  assert_int_equal(channel_name__namespace_len("ab:cd", 2), 2);
  struct channel_name out;
  assert_int_equal(channel_name__parse("[?rewind=1]ns:x", 15, &out, NULL), 0);
  assert_int_equal(channel_name__namespace_len(out.base, out.base_len), 2);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_plain_names),
      TEST(test_meta_names),
      TEST(test_params_names),
      TEST(test_filter_names),
      TEST(test_length_bounds_name),
      TEST(test_longest_name),
      TEST(test_invalid_names),
      TEST(test_invalid_qualifiers),
      TEST(test_error_message_names_channel),
      TEST(test_namespace_len),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
