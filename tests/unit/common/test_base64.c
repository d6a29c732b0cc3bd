/* test_base64.c -- base64 and base64url encoding, lenient decoding
 * (whitespace, missing padding, base64url characters), rejection of
 * non-base64 text, and the strict check. Every test checks that the live
 * allocation count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "base64.h"
#include "leak_check.h"

/* RFC 4648 section 10 test vectors. */
static const struct {
  const char *bytes;
  const char *text;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};
#define RFC4648_COUNT (sizeof rfc4648 / sizeof rfc4648[0])

/* Decodes text and checks the result is exactly expected[0..expected_len). */
static void assert_decodes(const char *text, const void *expected,
                           size_t expected_len) {
  size_t len = (size_t)-1;
  unsigned char *bytes = base64__decode(text, strlen(text), &len);
  if (!bytes) print_error("could not decode \"%s\"\n", text);
  assert_non_null(bytes);
  assert_int_equal(len, expected_len);
  assert_memory_equal(bytes, expected, expected_len);
  herald_free(bytes);
}

static void assert_rejected(const char *text, size_t len) {
  size_t out_len = 12345;
  assert_null(base64__decode(text, len, &out_len));
  assert_int_equal(out_len, 12345);
}

#define REJECTED(literal) assert_rejected(literal, sizeof literal - 1)

static void test_encoded_size(void **state) {
  assert_int_equal(base64__encoded_size(0), 1);
  assert_int_equal(base64__encoded_size(1), 5);
  assert_int_equal(base64__encoded_size(2), 5);
  assert_int_equal(base64__encoded_size(3), 5);
  assert_int_equal(base64__encoded_size(4), 9);
  assert_int_equal(base64__encoded_size(6), 9);
  assert_int_equal(base64__encoded_size(7), 13);
}

static void test_encode_rfc4648(void **state) {
  for (size_t i = 0; i < RFC4648_COUNT; i++) {
    size_t len = strlen(rfc4648[i].bytes);
    char out[16];
    memset(out, 'x', sizeof out);
    assert_true(base64__encoded_size(len) <= sizeof out);
    assert_int_equal(base64__encode(rfc4648[i].bytes, len, out),
                     strlen(rfc4648[i].text));
    assert_string_equal(out, rfc4648[i].text);
  }
}

static void test_encode_binary(void **state) {
  const unsigned char bytes[] = {0xfb, 0xff, 0xfe, 0x00, 0x10, 0x83};
  char out[9];
  assert_int_equal(base64__encode(bytes, sizeof bytes, out), 8);
  assert_string_equal(out, "+//+ABCD");
}

static void test_encode_url(void **state) {
  for (size_t i = 0; i < RFC4648_COUNT; i++) {
    size_t len = strlen(rfc4648[i].bytes);
    char out[16];
    memset(out, 'x', sizeof out);
    size_t text_len = strcspn(rfc4648[i].text, "=");
    assert_int_equal(base64__encode_url(rfc4648[i].bytes, len, out), text_len);
    assert_int_equal(strlen(out), text_len);
    assert_memory_equal(out, rfc4648[i].text, text_len);
  }
  const unsigned char bytes[] = {0xfb, 0xff, 0xfe, 0x00, 0x10, 0x83, 0xfb};
  char out[13];
  assert_int_equal(base64__encoded_size(sizeof bytes), sizeof out);
  assert_int_equal(base64__encode_url(bytes, sizeof bytes, out), 10);
  assert_string_equal(out, "-__-ABCD-w");
  assert_int_equal(base64__encode_url(bytes, 2, out), 3);
  assert_string_equal(out, "-_8");
}

static void test_encode_url_roundtrip(void **state) {
  unsigned char bytes[256];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)(255 - i);
  for (size_t len = 0; len <= sizeof bytes; len++) {
    char text[4 * (256 / 3 + 1) + 1];
    size_t text_len = base64__encode_url(bytes, len, text);
    assert_int_equal(text_len, (4 * len + 2) / 3);
    assert_int_equal(strcspn(text, "+/="), text_len);
    assert_decodes(text, bytes, len);
  }
}

static void test_decode_rfc4648(void **state) {
  for (size_t i = 0; i < RFC4648_COUNT; i++)
    assert_decodes(rfc4648[i].text, rfc4648[i].bytes, strlen(rfc4648[i].bytes));
}

static void test_decode_binary_roundtrip(void **state) {
  unsigned char bytes[256];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)i;
  for (size_t len = 0; len <= sizeof bytes; len += 37) {
    char text[4 * (256 / 3 + 1) + 1];
    size_t text_len = base64__encode(bytes, len, text);
    assert_true(base64__is_strict(text, text_len) || len == 0);
    assert_decodes(text, bytes, len);
  }
}

static void test_decode_whitespace(void **state) {
  assert_decodes("Zm9v\nYmFy", "foobar", 6);
  assert_decodes(" Zm9v YmE= ", "fooba", 5);
  assert_decodes("\tZm9vYg==\r\n", "foob", 4);
  assert_decodes("Z m 9 v", "foo", 3);
  assert_decodes("Zg=\n=", "f", 1);
  assert_decodes("  \n\t", "", 0);
}

static void test_decode_missing_padding(void **state) {
  assert_decodes("Zg", "f", 1);
  assert_decodes("Zg=", "f", 1);
  assert_decodes("Zm8", "fo", 2);
  assert_decodes("Zm9vYg", "foob", 4);
  assert_decodes("Zm9vYmE", "fooba", 5);
}

static void test_decode_base64url(void **state) {
  const unsigned char bytes[] = {0xfb, 0xff, 0xfe};
  assert_decodes("-__-", bytes, sizeof bytes);
  assert_decodes("+//+", bytes, sizeof bytes);
  assert_decodes("-/_+", bytes, sizeof bytes);
  const unsigned char two[] = {0xfb, 0xf0};
  assert_decodes("-_A", two, sizeof two);
}

static void test_decode_rejects_garbage(void **state) {
  REJECTED("Zm9v!");
  REJECTED("@@@@");
  REJECTED("Zm9v.YmFy");
  REJECTED("Zm\0v");
  REJECTED("Zm9v\xc3\xa9");
  REJECTED("Z");
  REJECTED("Zm9vY");
  REJECTED("Zm9vY===");
  REJECTED("Zg===");
  REJECTED("====");
  REJECTED("Zm=9v");
  REJECTED("Zg==Zg==");
  REJECTED("Zg==\nZg");
}

static void test_is_strict(void **state) {
  for (size_t i = 1; i < RFC4648_COUNT; i++)
    assert_true(base64__is_strict(rfc4648[i].text, strlen(rfc4648[i].text)));
  assert_true(base64__is_strict("+//+", 4));
  assert_false(base64__is_strict("", 0));
  assert_false(base64__is_strict("Zg", 2));
  assert_false(base64__is_strict("Zm9vYg", 6));
  assert_false(base64__is_strict("Zm9v\n", 5));
  assert_false(base64__is_strict("Zm 9", 4));
  assert_false(base64__is_strict("-__-", 4));
  assert_false(base64__is_strict("Zg=a", 4));
  assert_false(base64__is_strict("Z===", 4));
  assert_false(base64__is_strict("====", 4));
  assert_false(base64__is_strict("Zg==Zg==", 8));
  assert_false(base64__is_strict("Zm9!", 4));
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_encoded_size),
      TEST(test_encode_rfc4648),
      TEST(test_encode_binary),
      TEST(test_encode_url),
      TEST(test_encode_url_roundtrip),
      TEST(test_decode_rfc4648),
      TEST(test_decode_binary_roundtrip),
      TEST(test_decode_whitespace),
      TEST(test_decode_missing_padding),
      TEST(test_decode_base64url),
      TEST(test_decode_rejects_garbage),
      TEST(test_is_strict),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
