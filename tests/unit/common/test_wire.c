/* test_wire.c -- the format-neutral reader and writer of common/wire.h:
 * parsing JSON and MessagePack (valid, malformed, trailing bytes), the kind
 * of every value, map/array access, integer extraction, conversion to
 * jansson, the writer producing the same structure in both formats
 * (including embedded writers, zero-length containers and nil), and
 * content-type negotiation. Every test checks that the live allocation count
 * returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "wire.h"
#include "leak_check.h"

/* ---- helpers ------------------------------------------------------------ */

static void parse_ok(struct wire_doc *doc, enum wire_format format,
                     const char *data, size_t len) {
  herald_error err = {0};
  int rc = wire_doc__parse(doc, format, data, len, &err);
  if (rc) print_error("parse failed: %s\n", err.message);
  assert_int_equal(rc, 0);
}

/* Parses and expects -40001 with err filled in. */
static void assert_parse_fails(enum wire_format format, const char *data,
                               size_t len) {
  struct wire_doc doc;
  herald_error err = {0};
  assert_int_equal(wire_doc__parse(&doc, format, data, len, &err), -40001);
  assert_int_equal(err.code, 40001);
  assert_int_equal(err.status, 400);
  assert_true(err.message[0] != '\0');
  wire_doc__cleanup(&doc);
}

#define JSON_LIT(s) WIRE_JSON, s, sizeof s - 1
#define MP_LIT(s) WIRE_MSGPACK, s, sizeof s - 1

/* Asserts v is a string (or bin) with exactly the bytes expected[0..len). */
static void assert_bytes(struct wire_value v, enum wire_kind kind,
                         const char *expected, size_t len) {
  assert_int_equal(wire_value__kind(v), kind);
  size_t got_len = (size_t)-1;
  const char *got = wire_value__bytes(v, &got_len);
  assert_non_null(got);
  assert_int_equal(got_len, len);
  assert_memory_equal(got, expected, len);
}

static void assert_str(struct wire_value v, const char *expected) {
  assert_bytes(v, WIRE_STR, expected, strlen(expected));
}

static void assert_int_value(struct wire_value v, int64_t expected) {
  int64_t got = 0;
  assert_true(wire_value__int(v, &got));
  assert_int_equal(got, expected);
}

static void assert_not_int(struct wire_value v) {
  int64_t got = 777;
  assert_false(wire_value__int(v, &got));
}

/* Finishes w and returns its output (herald_free it). */
static char *finish_ok(struct wire_writer *w, size_t *len) {
  *len = (size_t)-1;
  char *out = wire_writer__finish(w, len);
  assert_non_null(out);
  return out;
}

/* Finishes w and compares its output with expected[0..len) exactly. */
static void assert_output(struct wire_writer *w, const char *expected,
                          size_t len) {
  size_t got_len;
  char *got = finish_ok(w, &got_len);
  if (got_len != len || memcmp(got, expected, len) != 0)
    print_error("output (%zu bytes) differs from expected (%zu bytes)\n",
                got_len, len);
  assert_int_equal(got_len, len);
  assert_memory_equal(got, expected, len);
  herald_free(got);
}

/* ---- parsing ------------------------------------------------------------ */

static void test_parse_json_valid(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, JSON_LIT("{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{}}"));
  struct wire_value root = wire_doc__root(&doc);
  assert_int_equal(root.format, WIRE_JSON);
  assert_int_equal(wire_value__kind(root), WIRE_MAP);
  assert_int_equal(wire_value__count(root), 3);
  assert_int_equal(wire_value__count(wire_value__get(root, "b")), 3);
  wire_doc__cleanup(&doc);

  /* Any value is a document, and whitespace around it is not trailing data. */
  parse_ok(&doc, JSON_LIT(" \"text\"\n"));
  assert_str(wire_doc__root(&doc), "text");
  wire_doc__cleanup(&doc);
  parse_ok(&doc, JSON_LIT("42"));
  assert_int_value(wire_doc__root(&doc), 42);
  wire_doc__cleanup(&doc);
}

static void test_parse_msgpack_valid(void **state) {
  (void)state;
  struct wire_doc doc;
  /* {"a": 1, "b": [true, nil, "x"]} */
  parse_ok(&doc, MP_LIT("\x82\xa1" "a\x01\xa1" "b\x93\xc3\xc0\xa1x"));
  struct wire_value root = wire_doc__root(&doc);
  assert_int_equal(root.format, WIRE_MSGPACK);
  assert_int_equal(wire_value__kind(root), WIRE_MAP);
  assert_int_equal(wire_value__count(root), 2);
  assert_int_value(wire_value__get(root, "a"), 1);
  assert_int_equal(wire_value__count(wire_value__get(root, "b")), 3);
  wire_doc__cleanup(&doc);

  parse_ok(&doc, MP_LIT("\x07"));
  assert_int_value(wire_doc__root(&doc), 7);
  wire_doc__cleanup(&doc);
}

static void test_parse_json_malformed(void **state) {
  (void)state;
  assert_parse_fails(JSON_LIT(""));
  assert_parse_fails(JSON_LIT("   "));
  assert_parse_fails(JSON_LIT("{"));
  assert_parse_fails(JSON_LIT("{\"a\":}"));
  assert_parse_fails(JSON_LIT("{\"a\":1,}"));
  assert_parse_fails(JSON_LIT("[1,2"));
  assert_parse_fails(JSON_LIT("{'a':1}"));
  assert_parse_fails(JSON_LIT("nul"));
  assert_parse_fails(JSON_LIT("\"unterminated"));
}

static void test_parse_json_trailing_bytes(void **state) {
  (void)state;
  assert_parse_fails(JSON_LIT("{\"a\":1} x"));
  assert_parse_fails(JSON_LIT("{\"a\":1}{}"));
  assert_parse_fails(JSON_LIT("[1][2]"));
  assert_parse_fails(JSON_LIT("1 2"));
  assert_parse_fails(JSON_LIT("{}\0"));
}

static void test_parse_msgpack_malformed(void **state) {
  (void)state;
  assert_parse_fails(MP_LIT(""));
  assert_parse_fails(MP_LIT("\x82\xa1" "a\x01"));  /* map missing a member */
  assert_parse_fails(MP_LIT("\xa5" "abc"));        /* str cut short */
  assert_parse_fails(MP_LIT("\xc4\x04\x01\x02")); /* bin cut short */
  assert_parse_fails(MP_LIT("\xcf\x00\x00\x01"));  /* uint64 cut short */
  assert_parse_fails(MP_LIT("\xc1"));              /* never-used byte */
  /* str values and keys must be UTF-8; bin may hold anything. */
  assert_parse_fails(MP_LIT("\xa2\xc3\x28"));
  assert_parse_fails(MP_LIT("\x81\xa1\xff\x01"));
  assert_parse_fails(MP_LIT("\x91\xa3\xed\xa0\x80")); /* a surrogate */
  assert_parse_fails(MP_LIT("\xa2\xc0\x80"));         /* overlong NUL */
  assert_parse_fails(MP_LIT("\xa1\xc3"));             /* truncated sequence */
  struct wire_doc doc;
  parse_ok(&doc, MP_LIT("\xc4\x02\xc3\x28"));
  assert_bytes(wire_doc__root(&doc), WIRE_BIN, "\xc3\x28", 2);
  wire_doc__cleanup(&doc);
  parse_ok(&doc, MP_LIT("\xa3\xe2\x82\xac")); /* the euro sign */
  assert_str(wire_doc__root(&doc), "\xe2\x82\xac");
  wire_doc__cleanup(&doc);
}

static void test_parse_msgpack_trailing_bytes(void **state) {
  (void)state;
  assert_parse_fails(MP_LIT("\x01\x02"));
  assert_parse_fails(MP_LIT("\x80\x80"));
  assert_parse_fails(MP_LIT("\xa1x\x00"));
  assert_parse_fails(MP_LIT("\x81\xa1" "a\x01\xc0"));
}

/* ---- kinds and access --------------------------------------------------- */

/* Checks the kinds of {"nil","t","f","i","neg","real","s","arr","map"}
 * members, identical in both formats. */
static void assert_kinds(struct wire_value root) {
  assert_int_equal(wire_value__kind(root), WIRE_MAP);
  assert_int_equal(wire_value__count(root), 9);
  assert_int_equal(wire_value__kind(wire_value__get(root, "nil")), WIRE_NIL);
  assert_int_equal(wire_value__kind(wire_value__get(root, "t")), WIRE_BOOL);
  assert_int_equal(wire_value__kind(wire_value__get(root, "f")), WIRE_BOOL);
  assert_true(wire_value__bool(wire_value__get(root, "t")));
  assert_false(wire_value__bool(wire_value__get(root, "f")));
  assert_int_equal(wire_value__kind(wire_value__get(root, "i")), WIRE_INT);
  assert_int_equal(wire_value__kind(wire_value__get(root, "neg")), WIRE_INT);
  assert_int_equal(wire_value__kind(wire_value__get(root, "real")), WIRE_FLOAT);
  assert_int_equal(wire_value__kind(wire_value__get(root, "s")), WIRE_STR);
  assert_int_equal(wire_value__kind(wire_value__get(root, "arr")), WIRE_ARRAY);
  assert_int_equal(wire_value__kind(wire_value__get(root, "map")), WIRE_MAP);
  /* Missing members, and members of non-maps, are absent. */
  assert_int_equal(wire_value__kind(wire_value__get(root, "missing")),
                   WIRE_ABSENT);
  assert_int_equal(wire_value__kind(wire_value__get(root, "")), WIRE_ABSENT);
  struct wire_value s = wire_value__get(root, "s");
  assert_int_equal(wire_value__kind(wire_value__get(s, "s")), WIRE_ABSENT);
  struct wire_value arr = wire_value__get(root, "arr");
  assert_int_equal(wire_value__kind(wire_value__get(arr, "0")), WIRE_ABSENT);
  /* bool of a non-bool is false; bytes of a non-string is NULL. */
  assert_false(wire_value__bool(wire_value__get(root, "i")));
  assert_false(wire_value__bool(wire_value__get(root, "missing")));
  size_t len = 99;
  assert_null(wire_value__bytes(wire_value__get(root, "i"), &len));
  assert_null(wire_value__bytes(arr, &len));
  assert_null(wire_value__bytes(wire_value__get(root, "missing"), &len));
  /* count of scalars and absent values is 0. */
  assert_int_equal(wire_value__count(s), 0);
  assert_int_equal(wire_value__count(wire_value__get(root, "i")), 0);
  assert_int_equal(wire_value__count(wire_value__get(root, "missing")), 0);
  assert_int_equal(wire_value__count(wire_value__get(root, "map")), 0);
  assert_int_equal(wire_value__count(arr), 2);
}

static void test_kinds_json(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, JSON_LIT("{\"nil\":null,\"t\":true,\"f\":false,\"i\":5,"
                          "\"neg\":-5,\"real\":0.5,\"s\":\"x\",\"arr\":[1,2],"
                          "\"map\":{}}"));
  assert_kinds(wire_doc__root(&doc));
  wire_doc__cleanup(&doc);
}

static void test_kinds_msgpack(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, MP_LIT("\x89"
                        "\xa3nil\xc0"
                        "\xa1t\xc3"
                        "\xa1" "f\xc2"
                        "\xa1i\x05"
                        "\xa3neg\xfb"
                        "\xa4real\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00"
                        "\xa1s\xa1x"
                        "\xa3" "arr\x92\x01\x02"
                        "\xa3map\x80"));
  assert_kinds(wire_doc__root(&doc));
  wire_doc__cleanup(&doc);
}

static void test_kinds_msgpack_only(void **state) {
  (void)state;
  struct wire_doc doc;
  /* [bin "ab", float32 1.5, uint64 5, int8 -1, str8 ""] */
  parse_ok(&doc, MP_LIT("\x95\xc4\x02" "ab\xca\x3f\xc0\x00\x00\xcf\x00\x00\x00"
                        "\x00\x00\x00\x00\x05\xd0\xff\xd9\x00"));
  struct wire_value root = wire_doc__root(&doc);
  assert_int_equal(wire_value__count(root), 5);
  assert_bytes(wire_value__at(root, 0), WIRE_BIN, "ab", 2);
  assert_int_equal(wire_value__kind(wire_value__at(root, 1)), WIRE_FLOAT);
  assert_int_equal(wire_value__kind(wire_value__at(root, 2)), WIRE_INT);
  assert_int_value(wire_value__at(root, 2), 5);
  assert_int_value(wire_value__at(root, 3), -1);
  assert_bytes(wire_value__at(root, 4), WIRE_STR, "", 0);
  wire_doc__cleanup(&doc);
}

/* Checks {"ab":1,"a":2,"b":[10,"y",{"c":null}]} in either format. */
static void assert_access(struct wire_value root) {
  assert_int_value(wire_value__get(root, "ab"), 1);
  assert_int_value(wire_value__get(root, "a"), 2);
  struct wire_value b = wire_value__get(root, "b");
  assert_int_equal(wire_value__count(b), 3);
  assert_int_value(wire_value__at(b, 0), 10);
  assert_str(wire_value__at(b, 1), "y");
  struct wire_value inner = wire_value__at(b, 2);
  assert_int_equal(wire_value__kind(inner), WIRE_MAP);
  assert_int_equal(wire_value__kind(wire_value__get(inner, "c")), WIRE_NIL);

  static const char *const keys[] = {"ab", "a", "b"};
  for (size_t i = 0; i < 3; i++) {
    const char *key = NULL;
    size_t key_len = 99;
    struct wire_value v = wire_value__member(root, i, &key, &key_len);
    assert_int_equal(key_len, strlen(keys[i]));
    assert_memory_equal(key, keys[i], key_len);
    if (i < 2) assert_int_value(v, (int64_t)i + 1);
    else assert_int_equal(wire_value__kind(v), WIRE_ARRAY);
  }
}

static void test_access_json(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc,
           JSON_LIT("{\"ab\":1,\"a\":2,\"b\":[10,\"y\",{\"c\":null}]}"));
  assert_access(wire_doc__root(&doc));
  wire_doc__cleanup(&doc);
}

static void test_access_msgpack(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, MP_LIT("\x83\xa2" "ab\x01\xa1" "a\x02\xa1" "b\x93\x0a\xa1y"
                        "\x81\xa1" "c\xc0"));
  assert_access(wire_doc__root(&doc));
  wire_doc__cleanup(&doc);
}

static void test_json_strings_with_nul(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, JSON_LIT("{\"s\":\"a\\u0000b\"}"));
  assert_bytes(wire_value__get(wire_doc__root(&doc), "s"), WIRE_STR, "a\0b",
               3);
  wire_doc__cleanup(&doc);
}

/* ---- integers ----------------------------------------------------------- */

static void test_int_json(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, JSON_LIT("[0,-7,1700000000000,9223372036854775807,1000.0,"
                          "1e3,-2.0,2.5,\"5\",true,null,[],{}]"));
  struct wire_value root = wire_doc__root(&doc);
  assert_int_value(wire_value__at(root, 0), 0);
  assert_int_value(wire_value__at(root, 1), -7);
  assert_int_value(wire_value__at(root, 2), 1700000000000);
  assert_int_value(wire_value__at(root, 3), INT64_MAX);
  assert_int_value(wire_value__at(root, 4), 1000);
  assert_int_value(wire_value__at(root, 5), 1000);
  assert_int_value(wire_value__at(root, 6), -2);
  for (size_t i = 7; i < 13; i++) assert_not_int(wire_value__at(root, i));
  assert_not_int(wire_value__get(root, "x"));
  wire_doc__cleanup(&doc);
}

/* Reals outside the int64 range are not integers. */
static void test_int_out_of_range_reals(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, JSON_LIT("[1e19,-1e19,1e300,9223372036854775808.0]"));
  struct wire_value root = wire_doc__root(&doc);
  for (size_t i = 0; i < 4; i++) assert_not_int(wire_value__at(root, i));
  wire_doc__cleanup(&doc);
  /* float64 -2^63 is exactly INT64_MIN. */
  parse_ok(&doc, MP_LIT("\xcb\xc3\xe0\x00\x00\x00\x00\x00\x00"));
  assert_int_value(wire_doc__root(&doc), INT64_MIN);
  wire_doc__cleanup(&doc);
  parse_ok(&doc, MP_LIT("\xcb\x43\xe0\x00\x00\x00\x00\x00\x00")); /* 2^63 */
  assert_not_int(wire_doc__root(&doc));
  wire_doc__cleanup(&doc);
}

static void test_int_msgpack(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc,
           MP_LIT("\x9a"
                  "\xcf\x00\x00\x01\x8b\xcf\xe5\x68\x00" /* uint64 1.7e12 */
                  "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff" /* uint64 INT64_MAX */
                  "\xcf\xff\xff\xff\xff\xff\xff\xff\xff" /* uint64 max */
                  "\xd3\x80\x00\x00\x00\x00\x00\x00\x00" /* int64 min */
                  "\xce\xff\xff\xff\xff"                 /* uint32 max */
                  "\xcb\x40\x08\x00\x00\x00\x00\x00\x00" /* float64 3.0 */
                  "\xca\xc0\x20\x00\x00"                 /* float32 -2.5 */
                  "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00" /* float64 1.5 */
                  "\xa1" "1"                             /* "1" */
                  "\xc3"));                              /* true */
  struct wire_value root = wire_doc__root(&doc);
  assert_int_value(wire_value__at(root, 0), 1700000000000);
  assert_int_value(wire_value__at(root, 1), INT64_MAX);
  assert_not_int(wire_value__at(root, 2));
  assert_int_value(wire_value__at(root, 3), INT64_MIN);
  assert_int_value(wire_value__at(root, 4), 4294967295);
  assert_int_value(wire_value__at(root, 5), 3);
  assert_not_int(wire_value__at(root, 6));
  assert_not_int(wire_value__at(root, 7));
  assert_not_int(wire_value__at(root, 8));
  assert_not_int(wire_value__at(root, 9));
  wire_doc__cleanup(&doc);
}

/* ---- to_json ------------------------------------------------------------ */

/* Converts v and compares with the JSON text expected. */
static void assert_to_json(struct wire_value v, const char *expected) {
  json_t *got = wire_value__to_json(v);
  assert_non_null(got);
  json_t *want = json_loads(expected, JSON_DECODE_ANY, NULL);
  assert_non_null(want);
  if (!json_equal(got, want)) {
    char *text = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    print_error("to_json gave %s, expected %s\n", text, expected);
    free(text);
  }
  assert_true(json_equal(got, want));
  json_decref(got);
  json_decref(want);
}

static void test_to_json_from_json(void **state) {
  (void)state;
  static const char text[] =
      "{\"a\":[1,-2,2.5,\"s\",true,false,null],\"o\":{\"k\":{}}}";
  struct wire_doc doc;
  parse_ok(&doc, JSON_LIT(text));
  struct wire_value root = wire_doc__root(&doc);
  assert_to_json(root, text);
  assert_to_json(wire_value__get(root, "o"), "{\"k\":{}}");
  assert_null(wire_value__to_json(wire_value__get(root, "missing")));
  wire_doc__cleanup(&doc);
}

static void test_to_json_from_msgpack(void **state) {
  (void)state;
  struct wire_doc doc;
  /* {"b": bin de ad be ef, "e": bin "", "a": [1, -2, 0.5, nil, false, "s"],
   *  "u": uint64 1.7e12, "m": {}} */
  parse_ok(&doc, MP_LIT("\x85"
                        "\xa1" "b\xc4\x04\xde\xad\xbe\xef"
                        "\xa1" "e\xc4\x00"
                        "\xa1" "a\x96\x01\xfe\xcb\x3f\xe0\x00\x00\x00\x00\x00"
                        "\x00\xc0\xc2\xa1s"
                        "\xa1u\xcf\x00\x00\x01\x8b\xcf\xe5\x68\x00"
                        "\xa1m\x80"));
  struct wire_value root = wire_doc__root(&doc);
  assert_to_json(root, "{\"b\":\"3q2+7w==\",\"e\":\"\",\"a\":[1,-2,0.5,null,"
                       "false,\"s\"],\"u\":1700000000000,\"m\":{}}");
  assert_to_json(wire_value__get(root, "b"), "\"3q2+7w==\"");
  assert_null(wire_value__to_json(wire_value__get(root, "missing")));
  json_t *u = wire_value__to_json(wire_value__get(root, "u"));
  assert_true(json_is_integer(u));
  json_decref(u);
  wire_doc__cleanup(&doc);
}

static void test_to_json_non_string_key_fails(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, MP_LIT("\x81\x01\x02")); /* {1: 2} */
  assert_null(wire_value__to_json(wire_doc__root(&doc)));
  wire_doc__cleanup(&doc);
  parse_ok(&doc, MP_LIT("\x91\x81\xc0\x02")); /* [{nil: 2}] */
  assert_null(wire_value__to_json(wire_doc__root(&doc)));
  wire_doc__cleanup(&doc);
}

/* ---- writer ------------------------------------------------------------- */

/* {"s":"h\u00e9","n":-42,"ts":1700000000000,"t":true,"f":false,
 *  "arr":["x",{"k":[]},bin 00 01 ff],"empty":{}} */
static void write_sample(struct wire_writer *w) {
  static const unsigned char bin[] = {0x00, 0x01, 0xff};
  wire_writer__map(w, 7);
  wire_writer__kv_str(w, "s", "h\xc3\xa9");
  wire_writer__kv_int(w, "n", -42);
  wire_writer__kv_int(w, "ts", 1700000000000);
  wire_writer__kv_bool(w, "t", true);
  wire_writer__kv_bool(w, "f", false);
  wire_writer__key(w, "arr");
  wire_writer__array(w, 3);
  wire_writer__str(w, "x");
  wire_writer__map(w, 1);
  wire_writer__key(w, "k");
  wire_writer__array(w, 0);
  wire_writer__bin(w, bin, sizeof bin);
  wire_writer__key(w, "empty");
  wire_writer__map(w, 0);
}

/* Checks the sample read back; bin is base64 text in JSON. */
static void assert_sample(struct wire_value root) {
  assert_int_equal(wire_value__kind(root), WIRE_MAP);
  assert_int_equal(wire_value__count(root), 7);
  assert_str(wire_value__get(root, "s"), "h\xc3\xa9");
  assert_int_value(wire_value__get(root, "n"), -42);
  assert_int_value(wire_value__get(root, "ts"), 1700000000000);
  assert_int_equal(wire_value__kind(wire_value__get(root, "t")), WIRE_BOOL);
  assert_true(wire_value__bool(wire_value__get(root, "t")));
  assert_int_equal(wire_value__kind(wire_value__get(root, "f")), WIRE_BOOL);
  assert_false(wire_value__bool(wire_value__get(root, "f")));
  struct wire_value arr = wire_value__get(root, "arr");
  assert_int_equal(wire_value__kind(arr), WIRE_ARRAY);
  assert_int_equal(wire_value__count(arr), 3);
  assert_str(wire_value__at(arr, 0), "x");
  struct wire_value inner = wire_value__at(arr, 1);
  assert_int_equal(wire_value__kind(inner), WIRE_MAP);
  assert_int_equal(wire_value__count(inner), 1);
  struct wire_value k = wire_value__get(inner, "k");
  assert_int_equal(wire_value__kind(k), WIRE_ARRAY);
  assert_int_equal(wire_value__count(k), 0);
  if (root.format == WIRE_JSON) assert_str(wire_value__at(arr, 2), "AAH/");
  else assert_bytes(wire_value__at(arr, 2), WIRE_BIN, "\x00\x01\xff", 3);
  struct wire_value empty = wire_value__get(root, "empty");
  assert_int_equal(wire_value__kind(empty), WIRE_MAP);
  assert_int_equal(wire_value__count(empty), 0);
  const char *key;
  size_t key_len;
  wire_value__member(root, 6, &key, &key_len);
  assert_int_equal(key_len, 5);
  assert_memory_equal(key, "empty", 5);
}

static void roundtrip_sample(enum wire_format format) {
  struct wire_writer w;
  wire_writer__init(&w, format);
  write_sample(&w);
  size_t len;
  char *out = finish_ok(&w, &len);
  wire_writer__cleanup(&w);
  struct wire_doc doc;
  parse_ok(&doc, format, out, len);
  assert_sample(wire_doc__root(&doc));
  wire_doc__cleanup(&doc);
  herald_free(out);
}

static void test_writer_roundtrip_json(void **state) {
  (void)state;
  roundtrip_sample(WIRE_JSON);
}

static void test_writer_roundtrip_msgpack(void **state) {
  (void)state;
  roundtrip_sample(WIRE_MSGPACK);
}

static void test_writer_exact_json(void **state) {
  (void)state;
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  write_sample(&w);
  static const char expected[] =
      "{\"s\":\"h\xc3\xa9\",\"n\":-42,\"ts\":1700000000000,\"t\":true,"
      "\"f\":false,\"arr\":[\"x\",{\"k\":[]},\"AAH/\"],\"empty\":{}}";
  assert_output(&w, expected, sizeof expected - 1);
  wire_writer__cleanup(&w);
}

static void test_writer_exact_msgpack(void **state) {
  (void)state;
  struct wire_writer w;
  wire_writer__init(&w, WIRE_MSGPACK);
  write_sample(&w);
  static const char expected[] =
      "\x87"
      "\xa1s\xa3h\xc3\xa9"
      "\xa1n\xd0\xd6"
      "\xa2ts\xcf\x00\x00\x01\x8b\xcf\xe5\x68\x00"
      "\xa1t\xc3"
      "\xa1" "f\xc2"
      "\xa3" "arr\x93\xa1x\x81\xa1k\x90\xc4\x03\x00\x01\xff"
      "\xa5" "empty\x80";
  assert_output(&w, expected, sizeof expected - 1);
  wire_writer__cleanup(&w);
}

/* Writes {"v": <jansson value>} and reads it back as the same JSON. */
static void assert_json_value_roundtrip(enum wire_format format,
                                        const char *text) {
  json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
  assert_non_null(value);
  struct wire_writer w;
  wire_writer__init(&w, format);
  wire_writer__map(&w, 1);
  wire_writer__key(&w, "v");
  wire_writer__json(&w, value);
  size_t len;
  char *out = finish_ok(&w, &len);
  wire_writer__cleanup(&w);
  struct wire_doc doc;
  parse_ok(&doc, format, out, len);
  json_t *got = wire_value__to_json(wire_value__get(wire_doc__root(&doc), "v"));
  assert_non_null(got);
  assert_true(json_equal(got, value));
  json_decref(got);
  json_decref(value);
  wire_doc__cleanup(&doc);
  herald_free(out);
}

static void test_writer_json_value(void **state) {
  (void)state;
  static const char *const values[] = {
      "{\"a\":[1,-2,2.5,\"s\",true,false,null],\"o\":{\"k\":{}}}",
      "[]",
      "\"text\"",
      "-9007199254740993",
      "null",
  };
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    assert_json_value_roundtrip(WIRE_JSON, values[i]);
    assert_json_value_roundtrip(WIRE_MSGPACK, values[i]);
  }
}

static void test_writer_json_value_msgpack_exact(void **state) {
  (void)state;
  json_t *value = json_loads("{\"a\":[1,true,null],\"b\":\"c\"}", 0, NULL);
  struct wire_writer w;
  wire_writer__init(&w, WIRE_MSGPACK);
  wire_writer__json(&w, value);
  static const char expected[] =
      "\x82\xa1" "a\x93\x01\xc3\xc0\xa1" "b\xa1" "c";
  assert_output(&w, expected, sizeof expected - 1);
  wire_writer__cleanup(&w);
  json_decref(value);
}

/* Embeds {"a":1} as the first element of [<inner>, "z"] and as the value
 * of a map member, and checks the result in both formats. */
static void embed_in(enum wire_format format, const char *expected,
                     size_t expected_len) {
  struct wire_writer inner;
  wire_writer__init(&inner, format);
  wire_writer__map(&inner, 1);
  wire_writer__kv_int(&inner, "a", 1);

  struct wire_writer w;
  wire_writer__init(&w, format);
  wire_writer__map(&w, 2);
  wire_writer__key(&w, "list");
  wire_writer__array(&w, 2);
  wire_writer__embed(&w, &inner);
  wire_writer__str(&w, "z");
  wire_writer__key(&w, "one");
  wire_writer__embed(&w, &inner);
  size_t len;
  char *out = finish_ok(&w, &len);
  assert_int_equal(len, expected_len);
  assert_memory_equal(out, expected, expected_len);

  struct wire_doc doc;
  parse_ok(&doc, format, out, len);
  struct wire_value root = wire_doc__root(&doc);
  struct wire_value list = wire_value__get(root, "list");
  assert_int_equal(wire_value__count(list), 2);
  assert_int_value(wire_value__get(wire_value__at(list, 0), "a"), 1);
  assert_str(wire_value__at(list, 1), "z");
  assert_int_value(wire_value__get(wire_value__get(root, "one"), "a"), 1);
  wire_doc__cleanup(&doc);
  herald_free(out);
  wire_writer__cleanup(&w);
  /* The inner writer is still usable after being embedded. */
  assert_output(&inner, format == WIRE_JSON ? "{\"a\":1}" : "\x81\xa1" "a\x01",
                format == WIRE_JSON ? 7 : 4);
  wire_writer__cleanup(&inner);
}

static void test_writer_embed_json(void **state) {
  (void)state;
  static const char expected[] = "{\"list\":[{\"a\":1},\"z\"],\"one\":{\"a\":1}}";
  embed_in(WIRE_JSON, expected, sizeof expected - 1);
}

static void test_writer_embed_msgpack(void **state) {
  (void)state;
  static const char expected[] = "\x82\xa4list\x92\x81\xa1" "a\x01\xa1z"
                                 "\xa3one\x81\xa1" "a\x01";
  embed_in(WIRE_MSGPACK, expected, sizeof expected - 1);
}

static void test_writer_embed_format_mismatch_fails(void **state) {
  (void)state;
  struct wire_writer inner, w;
  wire_writer__init(&inner, WIRE_MSGPACK);
  wire_writer__int(&inner, 1);
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__array(&w, 1);
  wire_writer__embed(&w, &inner);
  size_t len = 5;
  assert_null(wire_writer__finish(&w, &len));
  wire_writer__cleanup(&w);
  wire_writer__cleanup(&inner);
}

/* Finishes w, expecting failure; reports and counts an unexpected output. */
static int expect_no_output(struct wire_writer *w, const char *what) {
  size_t len = 5;
  char *out = wire_writer__finish(w, &len);
  if (!out) return 0;
  print_error("%s: %s gave %zu bytes instead of failing\n",
              w->format == WIRE_JSON ? "JSON" : "MessagePack", what, len);
  herald_free(out);
  return 1;
}

/* A writer's output is one document: with no value, or a second root value,
 * finish fails -- in both formats alike, as the JSON writer already does. */
static void test_writer_not_one_document_fails(void **state) {
  (void)state;
  int unexpected = 0;
  for (int f = 0; f < 2; f++) {
    enum wire_format format = f ? WIRE_MSGPACK : WIRE_JSON;
    struct wire_writer w, empty;

    wire_writer__init(&w, format);
    unexpected += expect_no_output(&w, "an empty writer");
    wire_writer__cleanup(&w);

    wire_writer__init(&w, format);
    wire_writer__int(&w, 1);
    wire_writer__int(&w, 2);
    unexpected += expect_no_output(&w, "two root values");
    wire_writer__cleanup(&w);

    wire_writer__init(&empty, format);
    wire_writer__init(&w, format);
    wire_writer__array(&w, 1);
    wire_writer__embed(&w, &empty);
    unexpected += expect_no_output(&w, "embedding an empty writer");
    wire_writer__cleanup(&w);
    wire_writer__cleanup(&empty);
  }
  assert_int_equal(unexpected, 0);
}

static void test_writer_zero_length_containers(void **state) {
  (void)state;
  static const struct {
    enum wire_format format;
    bool map;
    const char *expected;
    size_t len;
  } roots[] = {
      {WIRE_JSON, false, "[]", 2},
      {WIRE_JSON, true, "{}", 2},
      {WIRE_MSGPACK, false, "\x90", 1},
      {WIRE_MSGPACK, true, "\x80", 1},
  };
  for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
    struct wire_writer w;
    wire_writer__init(&w, roots[i].format);
    if (roots[i].map) wire_writer__map(&w, 0);
    else wire_writer__array(&w, 0);
    assert_output(&w, roots[i].expected, roots[i].len);
    wire_writer__cleanup(&w);
  }
  /* Nested empties close themselves and their full parents:
   * [[], {}, [[]]] then nothing more. */
  for (int f = 0; f < 2; f++) {
    struct wire_writer w;
    wire_writer__init(&w, f ? WIRE_MSGPACK : WIRE_JSON);
    wire_writer__array(&w, 3);
    wire_writer__array(&w, 0);
    wire_writer__map(&w, 0);
    wire_writer__array(&w, 1);
    wire_writer__array(&w, 0);
    if (f) assert_output(&w, "\x93\x90\x80\x91\x90", 5);
    else assert_output(&w, "[[],{},[[]]]", 12);
    wire_writer__cleanup(&w);
  }
}

static void test_writer_zero_length_parse(void **state) {
  (void)state;
  struct wire_doc doc;
  parse_ok(&doc, JSON_LIT("[[],{}]"));
  struct wire_value root = wire_doc__root(&doc);
  assert_int_equal(wire_value__kind(wire_value__at(root, 0)), WIRE_ARRAY);
  assert_int_equal(wire_value__count(wire_value__at(root, 0)), 0);
  assert_int_equal(wire_value__kind(wire_value__at(root, 1)), WIRE_MAP);
  assert_int_equal(wire_value__count(wire_value__at(root, 1)), 0);
  wire_doc__cleanup(&doc);
  parse_ok(&doc, MP_LIT("\x92\x90\x80"));
  root = wire_doc__root(&doc);
  assert_int_equal(wire_value__kind(wire_value__at(root, 0)), WIRE_ARRAY);
  assert_int_equal(wire_value__count(wire_value__at(root, 0)), 0);
  assert_int_equal(wire_value__kind(wire_value__at(root, 1)), WIRE_MAP);
  assert_int_equal(wire_value__count(wire_value__at(root, 1)), 0);
  wire_doc__cleanup(&doc);
}

static void test_writer_unfinished_container_fails(void **state) {
  (void)state;
  for (int f = 0; f < 2; f++) {
    struct wire_writer w;
    wire_writer__init(&w, f ? WIRE_MSGPACK : WIRE_JSON);
    wire_writer__map(&w, 2);
    wire_writer__kv_int(&w, "a", 1);
    size_t len = 5;
    assert_null(wire_writer__finish(&w, &len));
    wire_writer__cleanup(&w);
  }
}

/* [nil, {"k": nil}]: null in JSON, nil in MessagePack, read back as such. */
static void test_writer_nil(void **state) {
  (void)state;
  for (int f = 0; f < 2; f++) {
    enum wire_format format = f ? WIRE_MSGPACK : WIRE_JSON;
    struct wire_writer w;
    wire_writer__init(&w, format);
    wire_writer__array(&w, 2);
    wire_writer__nil(&w);
    wire_writer__map(&w, 1);
    wire_writer__key(&w, "k");
    wire_writer__nil(&w);
    size_t len;
    char *out = finish_ok(&w, &len);
    wire_writer__cleanup(&w);
    static const char packed[] = "\x92\xc0\x81\xa1k\xc0";
    static const char text[] = "[null,{\"k\":null}]";
    assert_int_equal(len, f ? sizeof packed - 1 : sizeof text - 1);
    assert_memory_equal(out, f ? packed : text, len);
    struct wire_doc doc;
    parse_ok(&doc, format, out, len);
    struct wire_value root = wire_doc__root(&doc);
    assert_int_equal(wire_value__kind(wire_value__at(root, 0)), WIRE_NIL);
    assert_int_equal(
        wire_value__kind(wire_value__get(wire_value__at(root, 1), "k")),
        WIRE_NIL);
    wire_doc__cleanup(&doc);
    herald_free(out);
  }
}

static void test_writer_strn_and_large_values(void **state) {
  (void)state;
  char big[300];
  memset(big, 'q', sizeof big);
  for (int f = 0; f < 2; f++) {
    enum wire_format format = f ? WIRE_MSGPACK : WIRE_JSON;
    struct wire_writer w;
    wire_writer__init(&w, format);
    wire_writer__array(&w, 4);
    wire_writer__strn(&w, "a\0b", 3);
    wire_writer__strn(&w, big, sizeof big);
    wire_writer__int(&w, INT64_MIN);
    wire_writer__int(&w, INT64_MAX);
    size_t len;
    char *out = finish_ok(&w, &len);
    wire_writer__cleanup(&w);
    struct wire_doc doc;
    parse_ok(&doc, format, out, len);
    struct wire_value root = wire_doc__root(&doc);
    assert_bytes(wire_value__at(root, 0), WIRE_STR, "a\0b", 3);
    assert_bytes(wire_value__at(root, 1), WIRE_STR, big, sizeof big);
    assert_int_value(wire_value__at(root, 2), INT64_MIN);
    assert_int_value(wire_value__at(root, 3), INT64_MAX);
    wire_doc__cleanup(&doc);
    herald_free(out);
  }
}

static void test_writer_bin_json_is_base64(void **state) {
  (void)state;
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__array(&w, 2);
  wire_writer__bin(&w, "\xde\xad\xbe\xef", 4);
  wire_writer__bin(&w, "", 0);
  assert_output(&w, "[\"3q2+7w==\",\"\"]", 15);
  wire_writer__cleanup(&w);
  wire_writer__init(&w, WIRE_MSGPACK);
  wire_writer__array(&w, 2);
  wire_writer__bin(&w, "\xde\xad\xbe\xef", 4);
  wire_writer__bin(&w, "", 0);
  assert_output(&w, "\x92\xc4\x04\xde\xad\xbe\xef\xc4\x00", 9);
  wire_writer__cleanup(&w);
}

/* Strings come out as jansson's compact dump wrote them: every ASCII
 * character (escaped or not), UTF-8, keys, integers at the limits. */
static void test_writer_json_text_as_jansson(void **state) {
  (void)state;
  char ascii[128];
  for (int c = 0; c < 128; c++) ascii[c] = (char)c;
  json_t *want = json_object();
  json_object_set_new(want, "ascii", json_stringn(ascii, sizeof ascii));
  json_object_set_new(want, "k\"\n", json_string("h\xc3\xa9 \xf0\x9f\x98\x80"));
  json_object_set_new(want, "min", json_integer(INT64_MIN));
  json_object_set_new(want, "max", json_integer(INT64_MAX));
  char expected[1024];
  size_t len = json_dumpb(want, expected, sizeof expected, JSON_COMPACT);
  json_decref(want);
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__map(&w, 4);
  wire_writer__key(&w, "ascii");
  wire_writer__strn(&w, ascii, sizeof ascii);
  wire_writer__kv_str(&w, "k\"\n", "h\xc3\xa9 \xf0\x9f\x98\x80");
  wire_writer__kv_int(&w, "min", INT64_MIN);
  wire_writer__kv_int(&w, "max", INT64_MAX);
  assert_output(&w, expected, len);
  wire_writer__cleanup(&w);
}

static void test_writer_json_invalid_utf8_fails(void **state) {
  (void)state;
  struct wire_writer w;
  size_t len;
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__str(&w, "\xc3\x28");
  assert_null(wire_writer__finish(&w, &len));
  wire_writer__cleanup(&w);
}

/* ---- content types ------------------------------------------------------ */

static int from_type(const char *type) {
  return wire_format__from_content_type(type, strlen(type));
}

static void test_content_type(void **state) {
  (void)state;
  assert_int_equal(from_type("application/json"), WIRE_JSON);
  assert_int_equal(from_type("application/json; charset=utf-8"), WIRE_JSON);
  assert_int_equal(from_type("application/json;charset=UTF-8"), WIRE_JSON);
  assert_int_equal(from_type("application/json ; charset=utf-8"), WIRE_JSON);
  assert_int_equal(from_type("application/json "), WIRE_JSON);
  assert_int_equal(from_type("Application/JSON"), WIRE_JSON);
  assert_int_equal(from_type(" application/json"), WIRE_JSON);
  assert_int_equal(from_type("application/x-msgpack"), WIRE_MSGPACK);
  assert_int_equal(from_type("APPLICATION/X-MSGPACK; foo=bar"), WIRE_MSGPACK);
  assert_int_equal(from_type("application/msgpack"), WIRE_MSGPACK);

  assert_int_equal(from_type(""), -1);
  assert_int_equal(from_type("text/plain"), -1);
  assert_int_equal(from_type("application/jsonp"), -1);
  assert_int_equal(from_type("application/js"), -1);
  assert_int_equal(from_type("application/xml; charset=utf-8"), -1);
  assert_int_equal(from_type("json"), -1);
  assert_int_equal(from_type("; application/json"), -1);
  /* Only len bytes count. */
  assert_int_equal(wire_format__from_content_type("application/json", 11), -1);
  assert_int_equal(
      wire_format__from_content_type("application/jsonXYZ", 16), WIRE_JSON);
}

/* RFC 9110 media-type: type "/" subtype *( OWS ";" OWS parameter ), with
 * OWS = *( SP / HTAB ), so a tab may precede the ';' as a space may. */
static void test_content_type_tab_before_parameters(void **state) {
  (void)state;
  assert_int_equal(from_type("application/json\t; charset=utf-8"), WIRE_JSON);
  assert_int_equal(from_type("application/x-msgpack\t;q=1"), WIRE_MSGPACK);
  assert_int_equal(from_type("\tapplication/json"), WIRE_JSON);
}

static void test_content_type_names(void **state) {
  (void)state;
  assert_string_equal(wire_format__content_type(WIRE_JSON), "application/json");
  assert_string_equal(wire_format__content_type(WIRE_MSGPACK),
                      "application/x-msgpack");
  assert_int_equal(from_type(wire_format__content_type(WIRE_JSON)), WIRE_JSON);
  assert_int_equal(from_type(wire_format__content_type(WIRE_MSGPACK)),
                   WIRE_MSGPACK);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_parse_json_valid),
      TEST(test_parse_msgpack_valid),
      TEST(test_parse_json_malformed),
      TEST(test_parse_json_trailing_bytes),
      TEST(test_parse_msgpack_malformed),
      TEST(test_parse_msgpack_trailing_bytes),
      TEST(test_kinds_json),
      TEST(test_kinds_msgpack),
      TEST(test_kinds_msgpack_only),
      TEST(test_access_json),
      TEST(test_access_msgpack),
      TEST(test_json_strings_with_nul),
      TEST(test_int_json),
      TEST(test_int_msgpack),
      TEST(test_int_out_of_range_reals),
      TEST(test_to_json_from_json),
      TEST(test_to_json_from_msgpack),
      TEST(test_to_json_non_string_key_fails),
      TEST(test_writer_roundtrip_json),
      TEST(test_writer_roundtrip_msgpack),
      TEST(test_writer_exact_json),
      TEST(test_writer_exact_msgpack),
      TEST(test_writer_json_value),
      TEST(test_writer_json_value_msgpack_exact),
      TEST(test_writer_embed_json),
      TEST(test_writer_embed_msgpack),
      TEST(test_writer_embed_format_mismatch_fails),
      TEST(test_writer_not_one_document_fails),
      TEST(test_writer_zero_length_containers),
      TEST(test_writer_zero_length_parse),
      TEST(test_writer_unfinished_container_fails),
      TEST(test_writer_nil),
      TEST(test_writer_strn_and_large_values),
      TEST(test_writer_bin_json_is_base64),
      TEST(test_writer_json_text_as_jansson),
      TEST(test_writer_json_invalid_utf8_fails),
      TEST(test_content_type),
      TEST(test_content_type_tab_before_parameters),
      TEST(test_content_type_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
