/* test_payload.c -- data/encoding canonicalisation (common/payload.h) per
 * shared/spec/messages.md section 4.3: strings kept, base64 removed from
 * JSON input and re-added on JSON output, undecodable base64 kept verbatim,
 * structured data stringified with a json step, numbers and booleans
 * rejected with 40013, bytes sent as bin over MessagePack, and other
 * transforms never interpreted. Every test checks that the live allocation
 * count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <malloc.h>

#include "alloc.h"
#include "base64.h"
#include "payload.h"
#include "leak_check.h"

/* ---- helpers ------------------------------------------------------------ */

/* Decodes the message map in text (format) into *p, expecting success. */
static void decode_ok(enum wire_format format, const char *text, size_t len,
                      struct payload *p) {
  struct wire_doc doc;
  herald_error err = {0};
  assert_int_equal(wire_doc__parse(&doc, format, text, len, &err), 0);
  int rc = payload__decode(wire_doc__root(&doc), p, &err);
  if (rc) print_error("payload__decode failed: %s\n", err.message);
  assert_int_equal(rc, 0);
  wire_doc__cleanup(&doc);
}

static void decode_json(const char *text, struct payload *p) {
  decode_ok(WIRE_JSON, text, strlen(text), p);
}

#define DECODE_MP(lit, p) decode_ok(WIRE_MSGPACK, lit, sizeof lit - 1, p)

/* Decodes and expects the error code (negative) with err filled in and the
 * payload left empty. */
static void decode_fails(enum wire_format format, const char *text, size_t len,
                         int code) {
  struct wire_doc doc;
  herald_error err = {0};
  assert_int_equal(wire_doc__parse(&doc, format, text, len, &err), 0);
  struct payload p;
  memset(&p, 0xa5, sizeof p);
  assert_int_equal(payload__decode(wire_doc__root(&doc), &p, &err), code);
  assert_int_equal(err.code, -code);
  assert_int_equal(err.status, 400);
  assert_int_equal(p.type, PAYLOAD_NONE);
  assert_null(p.data);
  assert_null(p.encoding);
  wire_doc__cleanup(&doc);
}

static void json_fails(const char *text, int code) {
  decode_fails(WIRE_JSON, text, strlen(text), code);
}

#define MP_FAILS(lit, code) decode_fails(WIRE_MSGPACK, lit, sizeof lit - 1, code)

static void assert_payload(const struct payload *p, enum payload_type type,
                           const char *data, size_t len,
                           const char *encoding) {
  assert_int_equal(p->type, type);
  assert_int_equal(p->len, len);
  if (type == PAYLOAD_NONE) {
    assert_null(p->data);
  } else {
    assert_non_null(p->data);
    assert_memory_equal(p->data, data, len);
    /* Binary NUL-termination has its own test below. */
    if (type == PAYLOAD_STRING) assert_int_equal(p->data[len], '\0');
  }
  if (encoding) {
    assert_non_null(p->encoding);
    assert_string_equal(p->encoding, encoding);
  } else {
    assert_null(p->encoding);
  }
}

/* Writes p as a map of its members in format and compares the output with
 * expected[0..len) exactly. */
static void assert_written(const struct payload *p, enum wire_format format,
                           const char *expected, size_t len) {
  struct wire_writer w;
  wire_writer__init(&w, format);
  wire_writer__map(&w, payload__member_count(p, format));
  payload__write(p, &w);
  size_t got_len = (size_t)-1;
  char *got = wire_writer__finish(&w, &got_len);
  assert_non_null(got);
  if (got_len != len || memcmp(got, expected, len) != 0)
    print_error("written %.*s (%zu bytes), expected %.*s (%zu bytes)\n",
                (int)got_len, got, got_len, (int)len, expected, len);
  assert_int_equal(got_len, len);
  assert_memory_equal(got, expected, len);
  herald_free(got);
  wire_writer__cleanup(&w);
}

static void assert_json_out(const struct payload *p, const char *expected) {
  assert_written(p, WIRE_JSON, expected, strlen(expected));
}

#define ASSERT_MP_OUT(p, lit) assert_written(p, WIRE_MSGPACK, lit, sizeof lit - 1)

/* ---- strings ------------------------------------------------------------ */

static void test_string_data(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"foo\"}", &p);
  assert_payload(&p, PAYLOAD_STRING, "foo", 3, NULL);
  assert_int_equal(payload__member_count(&p, WIRE_JSON), 1);
  assert_int_equal(payload__member_count(&p, WIRE_MSGPACK), 1);
  assert_json_out(&p, "{\"data\":\"foo\"}");
  ASSERT_MP_OUT(&p, "\x81\xa4" "data\xa3" "foo");
  payload__cleanup(&p);
  assert_payload(&p, PAYLOAD_NONE, NULL, 0, NULL);
}

static void test_string_data_with_encoding(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"x\",\"encoding\":\"utf-8\"}", &p);
  assert_payload(&p, PAYLOAD_STRING, "x", 1, "utf-8");
  assert_int_equal(payload__member_count(&p, WIRE_JSON), 2);
  assert_int_equal(payload__member_count(&p, WIRE_MSGPACK), 2);
  assert_json_out(&p, "{\"data\":\"x\",\"encoding\":\"utf-8\"}");
  ASSERT_MP_OUT(&p, "\x82\xa4" "data\xa1x\xa8" "encoding\xa5utf-8");
  payload__cleanup(&p);
}

static void test_string_json_looking_kept(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"{\\\"foo\\\":42}\",\"encoding\":null}", &p);
  assert_payload(&p, PAYLOAD_STRING, "{\"foo\":42}", 10, NULL);
  assert_json_out(&p, "{\"data\":\"{\\\"foo\\\":42}\"}");
  payload__cleanup(&p);
}

static void test_string_with_nul_and_utf8(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"a\\u0000\\u00e9\"}", &p);
  assert_payload(&p, PAYLOAD_STRING, "a\0\xc3\xa9", 4, NULL);
  ASSERT_MP_OUT(&p, "\x81\xa4" "data\xa4" "a\0\xc3\xa9");
  payload__cleanup(&p);
}

static void test_empty_string_data(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"\"}", &p);
  assert_payload(&p, PAYLOAD_STRING, "", 0, NULL);
  assert_json_out(&p, "{\"data\":\"\"}");
  payload__cleanup(&p);
}

/* payload.h promises data is NUL-terminated whatever its type. glibc's
 * M_PERTURB fills fresh allocations too large for its per-thread cache
 * (over 1032 bytes) with a non-zero byte, so a missing terminator is seen
 * deterministically rather than by chance: payloads of 1500..1502 bytes
 * cover base64 text with no padding, "=" and "==". */
static void test_binary_data_nul_terminated(void **state) {
  (void)state;
  enum { BASE = 1500 };
  static unsigned char bytes[BASE + 2];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)(i * 7);
#ifdef M_PERTURB
  mallopt(M_PERTURB, 0x5a);
#endif
  bool all_terminated = true;
  for (size_t len = BASE; len <= BASE + 2; len++) {
    char *text = herald_xmalloc(base64__encoded_size(len));
    base64__encode(bytes, len, text);
    size_t body_len = strlen(text) + 64;
    char *body = herald_xmalloc(body_len);
    snprintf(body, body_len, "{\"data\":\"%s\",\"encoding\":\"base64\"}",
             text);
    struct payload p;
    decode_json(body, &p);
    assert_payload(&p, PAYLOAD_BINARY, (const char *)bytes, len, NULL);
    if (p.data[p.len] != '\0') {
      print_error("%zu bytes from %zu base64 chars: data[%zu] is 0x%02x, "
                  "not NUL\n",
                  len, strlen(text), p.len, (unsigned char)p.data[p.len]);
      all_terminated = false;
    }
    payload__cleanup(&p);
    herald_free(body);
    herald_free(text);
  }
#ifdef M_PERTURB
  mallopt(M_PERTURB, 0);
#endif
  assert_true(all_terminated);

  struct payload p;
  DECODE_MP("\x81\xa4" "data\xc4\x02\x01\x02", &p);
  assert_payload(&p, PAYLOAD_BINARY, "\x01\x02", 2, NULL);
  assert_int_equal(p.data[2], '\0');
  payload__cleanup(&p);
}

/* ---- absent data -------------------------------------------------------- */

static void test_absent_and_null_data(void **state) {
  (void)state;
  static const char *const bodies[] = {"{}", "{\"data\":null}",
                                       "{\"data\":null,\"encoding\":null}",
                                       "{\"name\":\"x\"}"};
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    struct payload p;
    decode_json(bodies[i], &p);
    assert_payload(&p, PAYLOAD_NONE, NULL, 0, NULL);
    assert_int_equal(payload__member_count(&p, WIRE_JSON), 0);
    assert_int_equal(payload__member_count(&p, WIRE_MSGPACK), 0);
    assert_json_out(&p, "{}");
    ASSERT_MP_OUT(&p, "\x80");
    payload__cleanup(&p);
  }
}

static void test_encoding_without_data(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"encoding\":\"utf-8\"}", &p);
  assert_payload(&p, PAYLOAD_NONE, NULL, 0, "utf-8");
  assert_int_equal(payload__member_count(&p, WIRE_JSON), 1);
  assert_int_equal(payload__member_count(&p, WIRE_MSGPACK), 1);
  assert_json_out(&p, "{\"encoding\":\"utf-8\"}");
  payload__cleanup(&p);
}

/* ---- base64 ------------------------------------------------------------- */

static void test_base64_json_stored_as_bytes(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"3q2+7w==\",\"encoding\":\"base64\"}", &p);
  assert_payload(&p, PAYLOAD_BINARY, "\xde\xad\xbe\xef", 4, NULL);
  assert_int_equal(payload__member_count(&p, WIRE_JSON), 2);
  assert_int_equal(payload__member_count(&p, WIRE_MSGPACK), 1);
  assert_json_out(&p, "{\"data\":\"3q2+7w==\",\"encoding\":\"base64\"}");
  ASSERT_MP_OUT(&p, "\x81\xa4" "data\xc4\x04\xde\xad\xbe\xef");
  payload__cleanup(&p);
}

static void test_base64_step_removed_from_chain(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"AAEC/w==\","
              "\"encoding\":\"utf-8/cipher+aes-128-cbc/base64\"}",
              &p);
  assert_payload(&p, PAYLOAD_BINARY, "\x00\x01\x02\xff", 4,
                 "utf-8/cipher+aes-128-cbc");
  assert_int_equal(payload__member_count(&p, WIRE_JSON), 2);
  assert_int_equal(payload__member_count(&p, WIRE_MSGPACK), 2);
  assert_json_out(&p, "{\"data\":\"AAEC/w==\","
                      "\"encoding\":\"utf-8/cipher+aes-128-cbc/base64\"}");
  ASSERT_MP_OUT(&p, "\x82\xa4" "data\xc4\x04\x00\x01\x02\xff"
                    "\xa8" "encoding\xb8utf-8/cipher+aes-128-cbc");
  payload__cleanup(&p);

  decode_json("{\"data\":\"3q2+7w==\",\"encoding\":\"json/base64\"}", &p);
  assert_payload(&p, PAYLOAD_BINARY, "\xde\xad\xbe\xef", 4, "json");
  assert_json_out(&p, "{\"data\":\"3q2+7w==\",\"encoding\":\"json/base64\"}");
  payload__cleanup(&p);
}

static void test_base64_lenient(void **state) {
  (void)state;
  static const char *const bodies[] = {
      "{\"data\":\"3q2+\\n7w==\",\"encoding\":\"base64\"}",
      "{\"data\":\"3q2+7w\",\"encoding\":\"base64\"}",
      "{\"data\":\" 3q2+ 7w== \",\"encoding\":\"base64\"}",
      "{\"data\":\"3q2-7w==\",\"encoding\":\"base64\"}",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    struct payload p;
    decode_json(bodies[i], &p);
    assert_payload(&p, PAYLOAD_BINARY, "\xde\xad\xbe\xef", 4, NULL);
    /* Output is canonical padded standard base64. */
    assert_json_out(&p, "{\"data\":\"3q2+7w==\",\"encoding\":\"base64\"}");
    payload__cleanup(&p);
  }
}

static void test_base64_empty(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"\",\"encoding\":\"base64\"}", &p);
  assert_payload(&p, PAYLOAD_BINARY, "", 0, NULL);
  assert_json_out(&p, "{\"data\":\"\",\"encoding\":\"base64\"}");
  ASSERT_MP_OUT(&p, "\x81\xa4" "data\xc4\x00");
  payload__cleanup(&p);
}

static void test_base64_undecodable_kept_verbatim(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":\"not base64!\",\"encoding\":\"base64\"}", &p);
  assert_payload(&p, PAYLOAD_STRING, "not base64!", 11, "base64");
  assert_json_out(&p, "{\"data\":\"not base64!\",\"encoding\":\"base64\"}");
  ASSERT_MP_OUT(&p, "\x82\xa4" "data\xab" "not base64!\xa8" "encoding\xa6"
                    "base64");
  payload__cleanup(&p);

  decode_json("{\"data\":\"%%%\",\"encoding\":\"utf-8/base64\"}", &p);
  assert_payload(&p, PAYLOAD_STRING, "%%%", 3, "utf-8/base64");
  assert_json_out(&p, "{\"data\":\"%%%\",\"encoding\":\"utf-8/base64\"}");
  payload__cleanup(&p);
}

static void test_base64_only_as_last_step(void **state) {
  (void)state;
  static const char *const encodings[] = {"base64/utf-8", "xbase64",
                                          "utf-8/xbase64", "base64x", "BASE64"};
  for (size_t i = 0; i < sizeof encodings / sizeof encodings[0]; i++) {
    char body[128];
    snprintf(body, sizeof body, "{\"data\":\"3q2+7w==\",\"encoding\":\"%s\"}",
             encodings[i]);
    struct payload p;
    decode_json(body, &p);
    assert_payload(&p, PAYLOAD_STRING, "3q2+7w==", 8, encodings[i]);
    assert_json_out(&p, body);
    payload__cleanup(&p);
  }
}

/* ---- structured data ---------------------------------------------------- */

static void test_json_object_data(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":{\"foo\": 42, \"bar\": [\"a\", 1.5, {\"boo\": \"ha\"}]}}",
              &p);
  static const char text[] = "{\"foo\":42,\"bar\":[\"a\",1.5,{\"boo\":\"ha\"}]}";
  assert_payload(&p, PAYLOAD_STRING, text, sizeof text - 1, "json");
  assert_json_out(&p, "{\"data\":\"{\\\"foo\\\":42,\\\"bar\\\":[\\\"a\\\",1.5,"
                      "{\\\"boo\\\":\\\"ha\\\"}]}\",\"encoding\":\"json\"}");
  payload__cleanup(&p);
}

static void test_json_array_data(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":[{\"foo\":42}, \"qux\", null, true]}", &p);
  static const char text[] = "[{\"foo\":42},\"qux\",null,true]";
  assert_payload(&p, PAYLOAD_STRING, text, sizeof text - 1, "json");
  ASSERT_MP_OUT(&p, "\x82\xa4" "data\xbc[{\"foo\":42},\"qux\",null,true]"
                    "\xa8" "encoding\xa4json");
  payload__cleanup(&p);
}

static void test_json_empty_containers(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":{}}", &p);
  assert_payload(&p, PAYLOAD_STRING, "{}", 2, "json");
  payload__cleanup(&p);
  decode_json("{\"data\":[]}", &p);
  assert_payload(&p, PAYLOAD_STRING, "[]", 2, "json");
  payload__cleanup(&p);
}

static void test_json_step_appended(void **state) {
  (void)state;
  struct payload p;
  decode_json("{\"data\":{\"a\":1},\"encoding\":\"utf-8\"}", &p);
  assert_payload(&p, PAYLOAD_STRING, "{\"a\":1}", 7, "utf-8/json");
  assert_json_out(&p, "{\"data\":\"{\\\"a\\\":1}\",\"encoding\":\"utf-8/json\"}");
  payload__cleanup(&p);
  /* An encoding ending in base64 does not make structured data binary. */
  decode_json("{\"data\":[1],\"encoding\":\"base64\"}", &p);
  assert_payload(&p, PAYLOAD_STRING, "[1]", 3, "base64/json");
  payload__cleanup(&p);
}

/* ---- rejected data ------------------------------------------------------ */

static void test_number_and_bool_rejected(void **state) {
  (void)state;
  json_fails("{\"data\":42}", -40013);
  json_fails("{\"data\":-1}", -40013);
  json_fails("{\"data\":1.5}", -40013);
  json_fails("{\"data\":true}", -40013);
  json_fails("{\"data\":false}", -40013);
  json_fails("{\"data\":0,\"encoding\":\"utf-8\"}", -40013);
}

static void test_encoding_not_string_rejected(void **state) {
  (void)state;
  json_fails("{\"data\":\"x\",\"encoding\":5}", -40001);
  json_fails("{\"data\":\"x\",\"encoding\":[\"base64\"]}", -40001);
  json_fails("{\"data\":\"x\",\"encoding\":{}}", -40001);
  json_fails("{\"data\":\"x\",\"encoding\":true}", -40001);
}

static void test_msgpack_other_types_rejected(void **state) {
  (void)state;
  MP_FAILS("\x81\xa4" "data\x2a", -40013);                 /* 42 */
  MP_FAILS("\x81\xa4" "data\xff", -40013);                 /* -1 */
  MP_FAILS("\x81\xa4" "data\xc3", -40013);                 /* true */
  MP_FAILS("\x81\xa4" "data\xca\x3f\xc0\x00\x00", -40013); /* 1.5f */
  MP_FAILS("\x82\xa4" "data\xa1x\xa8" "encoding\x01", -40001);
  MP_FAILS("\x82\xa4" "data\xa1x\xa8" "encoding\xc4\x01x", -40001);
}

/* ---- MessagePack input -------------------------------------------------- */

static void test_msgpack_str_and_bin(void **state) {
  (void)state;
  struct payload p;
  DECODE_MP("\x81\xa4" "data\xa3" "foo", &p);
  assert_payload(&p, PAYLOAD_STRING, "foo", 3, NULL);
  assert_json_out(&p, "{\"data\":\"foo\"}");
  payload__cleanup(&p);

  DECODE_MP("\x81\xa4" "data\xc4\x05\x00\xde\xad\x00\xef", &p);
  assert_payload(&p, PAYLOAD_BINARY, "\x00\xde\xad\x00\xef", 5, NULL);
  assert_json_out(&p, "{\"data\":\"AN6tAO8=\",\"encoding\":\"base64\"}");
  ASSERT_MP_OUT(&p, "\x81\xa4" "data\xc4\x05\x00\xde\xad\x00\xef");
  payload__cleanup(&p);

  DECODE_MP("\x81\xa4" "data\xc0", &p);
  assert_payload(&p, PAYLOAD_NONE, NULL, 0, NULL);
  payload__cleanup(&p);
}

static void test_msgpack_bin_with_encoding(void **state) {
  (void)state;
  struct payload p;
  DECODE_MP("\x82\xa4" "data\xc4\x02\x01\x02\xa8" "encoding\xb2"
            "cipher+aes-128-cbc",
            &p);
  assert_payload(&p, PAYLOAD_BINARY, "\x01\x02", 2, "cipher+aes-128-cbc");
  assert_int_equal(payload__member_count(&p, WIRE_JSON), 2);
  assert_int_equal(payload__member_count(&p, WIRE_MSGPACK), 2);
  assert_json_out(&p,
                  "{\"data\":\"AQI=\",\"encoding\":\"cipher+aes-128-cbc/base64\"}");
  ASSERT_MP_OUT(&p, "\x82\xa4" "data\xc4\x02\x01\x02\xa8" "encoding\xb2"
                    "cipher+aes-128-cbc");
  payload__cleanup(&p);
}

static void test_msgpack_structured_data(void **state) {
  (void)state;
  struct payload p;
  /* {"data": {"a": [1, bin 00 ff]}} -- bin inside becomes base64 text. */
  DECODE_MP("\x81\xa4" "data\x81\xa1" "a\x92\x01\xc4\x02\x00\xff", &p);
  assert_payload(&p, PAYLOAD_STRING, "{\"a\":[1,\"AP8=\"]}", 16, "json");
  payload__cleanup(&p);
  DECODE_MP("\x82\xa4" "data\x90\xa8" "encoding\xa5utf-8", &p);
  assert_payload(&p, PAYLOAD_STRING, "[]", 2, "utf-8/json");
  payload__cleanup(&p);
}

/* ---- the inconsistent SDK fixture --------------------------------------- */

static void test_inconsistent_json_utf8_roundtrips(void **state) {
  (void)state;
  static const char json_body[] =
      "{\"data\":\"{\\\"foo\\\":\\\"bar\\\"}\",\"encoding\":\"json/utf-8\"}";
  static const char mp_body[] = "\x82\xa4" "data\xad{\"foo\":\"bar\"}"
                                "\xa8" "encoding\xaajson/utf-8";
  struct payload p;
  decode_json(json_body, &p);
  assert_payload(&p, PAYLOAD_STRING, "{\"foo\":\"bar\"}", 13, "json/utf-8");
  assert_json_out(&p, json_body);
  ASSERT_MP_OUT(&p, mp_body);
  payload__cleanup(&p);

  DECODE_MP(mp_body, &p);
  assert_payload(&p, PAYLOAD_STRING, "{\"foo\":\"bar\"}", 13, "json/utf-8");
  assert_json_out(&p, json_body);
  ASSERT_MP_OUT(&p, mp_body);
  payload__cleanup(&p);
}

/* JSON in, MessagePack out, MessagePack back in: the stored form is stable. */
static void test_cross_format_stable(void **state) {
  (void)state;
  struct payload first, second;
  decode_json("{\"data\":\"AAEC\",\"encoding\":\"cipher+aes-256-cbc/base64\"}",
              &first);
  struct wire_writer w;
  wire_writer__init(&w, WIRE_MSGPACK);
  wire_writer__map(&w, payload__member_count(&first, WIRE_MSGPACK));
  payload__write(&first, &w);
  size_t len;
  char *out = wire_writer__finish(&w, &len);
  assert_non_null(out);
  wire_writer__cleanup(&w);
  decode_ok(WIRE_MSGPACK, out, len, &second);
  herald_free(out);
  assert_payload(&second, PAYLOAD_BINARY, "\x00\x01\x02", 3,
                 "cipher+aes-256-cbc");
  assert_json_out(&second,
                  "{\"data\":\"AAEC\",\"encoding\":\"cipher+aes-256-cbc/base64\"}");
  payload__cleanup(&first);
  payload__cleanup(&second);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_string_data),
      TEST(test_string_data_with_encoding),
      TEST(test_string_json_looking_kept),
      TEST(test_string_with_nul_and_utf8),
      TEST(test_empty_string_data),
      TEST(test_binary_data_nul_terminated),
      TEST(test_absent_and_null_data),
      TEST(test_encoding_without_data),
      TEST(test_base64_json_stored_as_bytes),
      TEST(test_base64_step_removed_from_chain),
      TEST(test_base64_lenient),
      TEST(test_base64_empty),
      TEST(test_base64_undecodable_kept_verbatim),
      TEST(test_base64_only_as_last_step),
      TEST(test_json_object_data),
      TEST(test_json_array_data),
      TEST(test_json_empty_containers),
      TEST(test_json_step_appended),
      TEST(test_number_and_bool_rejected),
      TEST(test_encoding_not_string_rejected),
      TEST(test_msgpack_other_types_rejected),
      TEST(test_msgpack_str_and_bin),
      TEST(test_msgpack_bin_with_encoding),
      TEST(test_msgpack_structured_data),
      TEST(test_inconsistent_json_utf8_roundtrips),
      TEST(test_cross_format_stable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
