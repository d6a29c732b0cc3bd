/* test_token_request.c -- TokenRequest decoding from JSON and MessagePack
 * (field types, the text each field is kept as) and the request MAC, with
 * the worked examples of shared/spec/auth.md section 5 as vectors. Every
 * test checks that the live allocation count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "alloc.h"
#include "leak_check.h"
#include "token_request.h"
#include "wire.h"

#define SECRET "secretValue123"

/* auth.md section 5, first example: only the required fields. */
#define MINIMAL                                               \
  "{\"keyName\":\"xVLyHw.A1b2C3\",\"timestamp\":1700000000000," \
  "\"nonce\":\"1234567890123456\"}"
#define MINIMAL_MAC "9CClpvqvdOmvApDU3MB3yKsAEQKoWIKeFyZF6CLGndM="

/* auth.md section 5, second example: every field. CAPABILITY_STRING is
 * CAPABILITY as a JSON string. */
#define CAPABILITY \
  "{\"*\":[\"subscribe\"],\"private\":[\"presence\",\"publish\"]}"
#define CAPABILITY_STRING                             \
  "\"{\\\"*\\\":[\\\"subscribe\\\"],\\\"private\\\":" \
  "[\\\"presence\\\",\\\"publish\\\"]}\""
#define FULL_WITH(ttl, capability)                                         \
  "{\"keyName\":\"xVLyHw.A1b2C3\",\"timestamp\":1700000000000,"           \
  "\"nonce\":\"1234567890123456\",\"ttl\":" ttl ",\"clientId\":\"bob\"," \
  "\"capability\":" capability "}"
#define FULL FULL_WITH("3600000", CAPABILITY_STRING)
#define FULL_MAC "PsrGQ6QrumieVE3fr/tdeXbk3SlpL8Gx87D9SGmketI="

/* ---------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------- */

static int decode(enum wire_format format, const char *data, size_t len,
                  struct token_request *tr, herald_error *err) {
  struct wire_doc doc;
  herald_error parse_err = {0};
  int rc = wire_doc__parse(&doc, format, data, len, &parse_err);
  if (rc) print_error("parse: %s\n", parse_err.message);
  assert_int_equal(rc, 0);
  rc = token_request__decode(wire_doc__root(&doc), tr, err);
  wire_doc__cleanup(&doc);
  return rc;
}

static void decode_json(const char *json, struct token_request *tr) {
  herald_error err = {0};
  int rc = decode(WIRE_JSON, json, strlen(json), tr, &err);
  if (rc) print_error("decode(%s): %s\n", json, err.message);
  assert_int_equal(rc, 0);
}

static void assert_mac(const struct token_request *tr, const char *expected) {
  char mac[TOKEN_REQUEST_MAC_LEN + 1];
  memset(mac, 'x', sizeof mac);
  token_request__mac(tr, SECRET, mac);
  assert_string_equal(mac, expected);
}

/* Decodes json and checks the MAC it signs to. */
static void assert_json_mac(const char *json, const char *expected) {
  struct token_request tr;
  decode_json(json, &tr);
  assert_mac(&tr, expected);
  token_request__cleanup(&tr);
}

/* Expects decoding to fail with 40001 naming `field`, leaving *tr empty. */
static void assert_rejected(enum wire_format format, const char *data,
                            size_t len, const char *field) {
  struct token_request tr;
  memset(&tr, 0xab, sizeof tr);
  herald_error err = {0};
  assert_int_equal(decode(format, data, len, &tr, &err), -40001);
  assert_int_equal(err.code, HERALD_E_INVALID_REQUEST_BODY);
  assert_int_equal(err.status, 400);
  if (!strstr(err.message, field))
    print_error("\"%s\" does not name %s\n", err.message, field);
  assert_non_null(strstr(err.message, field));
  struct token_request empty;
  memset(&empty, 0, sizeof empty);
  assert_memory_equal(&tr, &empty, sizeof tr);
}

#define REJECTED_JSON(literal, field) \
  assert_rejected(WIRE_JSON, literal, sizeof literal - 1, field)

static void pack_str(msgpack_packer *pk, const char *s) {
  msgpack_pack_str(pk, strlen(s));
  msgpack_pack_str_body(pk, s, strlen(s));
}

/* The second example as MessagePack; capability packed as a string, or as a
 * map equal to it. */
static void pack_full(msgpack_sbuffer *buf, bool capability_as_map) {
  msgpack_packer pk;
  msgpack_sbuffer_init(buf);
  msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 6);
  pack_str(&pk, "keyName");
  pack_str(&pk, "xVLyHw.A1b2C3");
  pack_str(&pk, "timestamp");
  msgpack_pack_uint64(&pk, 1700000000000ULL);
  pack_str(&pk, "nonce");
  pack_str(&pk, "1234567890123456");
  pack_str(&pk, "ttl");
  msgpack_pack_uint32(&pk, 3600000);
  pack_str(&pk, "clientId");
  pack_str(&pk, "bob");
  pack_str(&pk, "capability");
  if (!capability_as_map) {
    pack_str(&pk, CAPABILITY);
    return;
  }
  msgpack_pack_map(&pk, 2);
  pack_str(&pk, "*");
  msgpack_pack_array(&pk, 1);
  pack_str(&pk, "subscribe");
  pack_str(&pk, "private");
  msgpack_pack_array(&pk, 2);
  pack_str(&pk, "presence");
  pack_str(&pk, "publish");
}

/* ---------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------- */

static void test_decode_minimal(void **state) {
  struct token_request tr;
  decode_json(MINIMAL, &tr);
  assert_string_equal(tr.key_name, "xVLyHw.A1b2C3");
  assert_string_equal(tr.timestamp, "1700000000000");
  assert_string_equal(tr.nonce, "1234567890123456");
  assert_null(tr.ttl);
  assert_null(tr.capability);
  assert_null(tr.client_id);
  assert_null(tr.mac);
  token_request__cleanup(&tr);
  assert_null(tr.key_name);
}

static void test_decode_full(void **state) {
  struct token_request tr;
  decode_json("{\"keyName\":\"k.n\",\"ttl\":3600000,\"capability\":\"{}\","
              "\"clientId\":\"bob\",\"timestamp\":1,\"nonce\":\"n\","
              "\"mac\":\"m\"}",
              &tr);
  assert_string_equal(tr.key_name, "k.n");
  assert_string_equal(tr.ttl, "3600000");
  assert_string_equal(tr.capability, "{}");
  assert_string_equal(tr.client_id, "bob");
  assert_string_equal(tr.timestamp, "1");
  assert_string_equal(tr.nonce, "n");
  assert_string_equal(tr.mac, "m");
  token_request__cleanup(&tr);
}

/* Strings are kept as given; numbers rendered in decimal, also from a float
 * with an integral value or an exponent. */
static void test_decode_ms_text(void **state) {
  struct token_request tr;
  decode_json("{\"ttl\":\"0036\",\"timestamp\":\" 12 \"}", &tr);
  assert_string_equal(tr.ttl, "0036");
  assert_string_equal(tr.timestamp, " 12 ");
  token_request__cleanup(&tr);
  decode_json("{\"ttl\":3600000.0,\"timestamp\":1.7e12}", &tr);
  assert_string_equal(tr.ttl, "3600000");
  assert_string_equal(tr.timestamp, "1700000000000");
  token_request__cleanup(&tr);
  decode_json("{\"ttl\":-5,\"timestamp\":9223372036854775807}", &tr);
  assert_string_equal(tr.ttl, "-5");
  assert_string_equal(tr.timestamp, "9223372036854775807");
  token_request__cleanup(&tr);
}

/* A capability object is kept as compact JSON, members in the order sent. */
static void test_decode_capability_object(void **state) {
  struct token_request tr;
  decode_json("{\"capability\": { \"b\" : [ \"publish\" ], \"a\": [\"*\"] }}",
              &tr);
  assert_string_equal(tr.capability, "{\"b\":[\"publish\"],\"a\":[\"*\"]}");
  token_request__cleanup(&tr);
  decode_json("{\"capability\":\" { } \"}", &tr);
  assert_string_equal(tr.capability, " { } ");
  token_request__cleanup(&tr);
}

/* null reads as an absent field (ably-js signs `value || ''`). */
static void test_decode_null_is_absent(void **state) {
  struct token_request tr;
  decode_json("{\"keyName\":\"xVLyHw.A1b2C3\",\"timestamp\":1700000000000,"
              "\"nonce\":\"1234567890123456\",\"ttl\":null,"
              "\"capability\":null,\"clientId\":null,\"mac\":null}",
              &tr);
  assert_null(tr.ttl);
  assert_null(tr.capability);
  assert_null(tr.client_id);
  assert_null(tr.mac);
  assert_mac(&tr, MINIMAL_MAC);
  token_request__cleanup(&tr);
}

static void test_decode_msgpack(void **state) {
  for (int as_map = 0; as_map <= 1; as_map++) {
    msgpack_sbuffer buf;
    pack_full(&buf, as_map);
    struct token_request tr;
    herald_error err = {0};
    assert_int_equal(decode(WIRE_MSGPACK, buf.data, buf.size, &tr, &err), 0);
    msgpack_sbuffer_destroy(&buf);
    assert_string_equal(tr.key_name, "xVLyHw.A1b2C3");
    assert_string_equal(tr.timestamp, "1700000000000");
    assert_string_equal(tr.ttl, "3600000");
    assert_string_equal(tr.client_id, "bob");
    assert_string_equal(tr.capability, CAPABILITY);
    assert_mac(&tr, FULL_MAC);
    token_request__cleanup(&tr);
  }
}

static void test_decode_msgpack_rejects(void **state) {
  msgpack_sbuffer buf;
  msgpack_packer pk;
  /* A timestamp beyond int64. */
  msgpack_sbuffer_init(&buf);
  msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 1);
  pack_str(&pk, "timestamp");
  msgpack_pack_uint64(&pk, UINT64_MAX);
  assert_rejected(WIRE_MSGPACK, buf.data, buf.size, "timestamp");
  msgpack_sbuffer_destroy(&buf);
  /* A binary keyName. */
  msgpack_sbuffer_init(&buf);
  msgpack_pack_map(&pk, 1);
  pack_str(&pk, "keyName");
  msgpack_pack_bin(&pk, 3);
  msgpack_pack_bin_body(&pk, "k.n", 3);
  assert_rejected(WIRE_MSGPACK, buf.data, buf.size, "keyName");
  msgpack_sbuffer_destroy(&buf);
  /* Not a map. */
  msgpack_sbuffer_init(&buf);
  msgpack_pack_array(&pk, 0);
  assert_rejected(WIRE_MSGPACK, buf.data, buf.size, "TokenRequest");
  msgpack_sbuffer_destroy(&buf);
}

static void test_decode_bad_types(void **state) {
  REJECTED_JSON("[]", "TokenRequest");
  REJECTED_JSON("\"keyName\"", "TokenRequest");
  REJECTED_JSON("3", "TokenRequest");
  REJECTED_JSON("{\"keyName\":5}", "keyName");
  REJECTED_JSON("{\"keyName\":{}}", "keyName");
  REJECTED_JSON("{\"ttl\":1.5}", "ttl");
  REJECTED_JSON("{\"ttl\":true}", "ttl");
  REJECTED_JSON("{\"ttl\":[3600000]}", "ttl");
  REJECTED_JSON("{\"ttl\":{}}", "ttl");
  REJECTED_JSON("{\"ttl\":1e300}", "ttl");
  REJECTED_JSON("{\"capability\":5}", "capability");
  REJECTED_JSON("{\"capability\":[\"*\"]}", "capability");
  REJECTED_JSON("{\"capability\":false}", "capability");
  REJECTED_JSON("{\"clientId\":7}", "clientId");
  REJECTED_JSON("{\"clientId\":{}}", "clientId");
  REJECTED_JSON("{\"timestamp\":\"1\",\"clientId\":\"bo\\u0000b\"}",
                "clientId");
  REJECTED_JSON("{\"timestamp\":{}}", "timestamp");
  REJECTED_JSON("{\"timestamp\":-0.5}", "timestamp");
  REJECTED_JSON("{\"nonce\":1234567890123456}", "nonce");
  REJECTED_JSON("{\"mac\":false}", "mac");
  /* Fields decoded before the bad one are released. */
  REJECTED_JSON("{\"keyName\":\"k.n\",\"ttl\":\"1\",\"capability\":{},"
                "\"clientId\":\"c\",\"timestamp\":1,\"nonce\":\"n\","
                "\"mac\":[]}",
                "mac");
}

/* ---------------------------------------------------------------------------
 * MAC
 * ------------------------------------------------------------------------- */

static void test_mac_examples(void **state) {
  assert_json_mac(MINIMAL, MINIMAL_MAC);
  assert_json_mac(FULL, FULL_MAC);
}

/* The ttl signs as its text, whether sent as a number or a string. */
static void test_mac_ttl_string(void **state) {
  assert_json_mac(FULL_WITH("\"3600000\"", CAPABILITY_STRING), FULL_MAC);
  assert_json_mac(FULL_WITH("3600000.0", CAPABILITY_STRING), FULL_MAC);
  assert_json_mac("{\"keyName\":\"xVLyHw.A1b2C3\",\"timestamp\":"
                  "\"1700000000000\",\"nonce\":\"1234567890123456\"}",
                  MINIMAL_MAC);
}

/* A capability object signs as its compact text; one already in canonical
 * order thus signs as the canonical string does. */
static void test_mac_capability_object(void **state) {
  assert_json_mac(FULL_WITH("3600000", "{\"*\": [\"subscribe\"], "
                                       "\"private\": [\"presence\", "
                                       "\"publish\"]}"),
                  FULL_MAC);
}

/* The capability string is signed exactly as sent, never re-serialised. */
static void test_mac_capability_not_reserialised(void **state) {
  struct token_request tr;
  decode_json(FULL_WITH("3600000", "\"{\\\"*\\\": [\\\"subscribe\\\"],"
                                   "\\\"private\\\":[\\\"presence\\\","
                                   "\\\"publish\\\"]}\""),
              &tr);
  assert_non_null(strstr(tr.capability, "{\"*\": ["));
  char mac[TOKEN_REQUEST_MAC_LEN + 1];
  token_request__mac(&tr, SECRET, mac);
  assert_string_not_equal(mac, FULL_MAC);
  token_request__cleanup(&tr);
}

static void test_mac_matches(void **state) {
  struct token_request tr;
  decode_json(FULL, &tr);
  assert_false(token_request__mac_matches(&tr, SECRET)); /* no mac */
  tr.mac = herald_xstrdup(FULL_MAC);
  assert_true(token_request__mac_matches(&tr, SECRET));
  assert_false(token_request__mac_matches(&tr, "secretValue124"));
  assert_false(token_request__mac_matches(&tr, ""));
  tr.mac[0] = 'Q';
  assert_false(token_request__mac_matches(&tr, SECRET));
  tr.mac[0] = 'P';
  tr.mac[TOKEN_REQUEST_MAC_LEN - 1] = '\0'; /* padding dropped */
  assert_false(token_request__mac_matches(&tr, SECRET));
  herald_free(tr.mac);
  tr.mac = herald_xstrdup(FULL_MAC "=");
  assert_false(token_request__mac_matches(&tr, SECRET));
  herald_free(tr.mac);
  tr.mac = herald_xstrdup(FULL_MAC);
  tr.client_id[0] = 'B'; /* a signed field changed */
  assert_false(token_request__mac_matches(&tr, SECRET));
  token_request__cleanup(&tr);

  decode_json("{\"keyName\":\"xVLyHw.A1b2C3\",\"timestamp\":1700000000000,"
              "\"nonce\":\"1234567890123456\",\"mac\":\"" MINIMAL_MAC "\"}",
              &tr);
  assert_true(token_request__mac_matches(&tr, SECRET));
  token_request__cleanup(&tr);
}

/* ---------------------------------------------------------------------------
 * parse_ms
 * ------------------------------------------------------------------------- */

static void assert_ms(const char *text, int64_t expected) {
  int64_t n = -1;
  assert_true(token_request__parse_ms(text, &n));
  assert_int_equal(n, expected);
}

static void assert_not_ms(const char *text) {
  int64_t n = 42;
  assert_false(token_request__parse_ms(text, &n));
  assert_int_equal(n, 42);
}

static void test_parse_ms(void **state) {
  assert_ms("0", 0);
  assert_ms("3600000", 3600000);
  assert_ms("1700000000000", 1700000000000LL);
  assert_ms("007", 7);
  assert_ms("9223372036854775807", INT64_MAX);
  assert_not_ms("9223372036854775808");
  assert_not_ms("99999999999999999999");
  assert_not_ms(NULL);
  assert_not_ms("");
  assert_not_ms("-1");
  assert_not_ms("+1");
  assert_not_ms(" 1");
  assert_not_ms("1 ");
  assert_not_ms("1e3");
  assert_not_ms("1.0");
  assert_not_ms("0x10");
  assert_not_ms("12a");
}

#define TEST(f) \
  cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_decode_minimal),
      TEST(test_decode_full),
      TEST(test_decode_ms_text),
      TEST(test_decode_capability_object),
      TEST(test_decode_null_is_absent),
      TEST(test_decode_msgpack),
      TEST(test_decode_msgpack_rejects),
      TEST(test_decode_bad_types),
      TEST(test_mac_examples),
      TEST(test_mac_ttl_string),
      TEST(test_mac_capability_object),
      TEST(test_mac_capability_not_reserialised),
      TEST(test_mac_matches),
      TEST(test_parse_ms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
