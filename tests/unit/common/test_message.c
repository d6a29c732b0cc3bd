/* test_message.c -- Message decoding, sizing and writing (common/message.h)
 * against shared/spec/messages.md sections 1, 2, 4.3 and 7 and the
 * ably-common fixtures: messages-encoding.json (JSON in, JSON and
 * MessagePack out), msgpack_test_fixtures.json (ProtocolMessages packed by
 * SDKs) and crypto-data-{128,256}.json (the MessagePack form of each
 * encrypted JSON message). Also message__decode_list's errors, TM6 sizes and
 * reference counting. Every test checks that the live allocation count
 * returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "base64.h"
#include "message.h"
#include "leak_check.h"

/* ---- helpers ------------------------------------------------------------ */

static json_t *load_fixture(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", HERALD_FIXTURES, name);
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  if (!root) print_error("cannot load %s: %s\n", path, jerr.text);
  assert_non_null(root);
  return root;
}

static void parse_ok(struct wire_doc *doc, enum wire_format format,
                     const char *data, size_t len) {
  herald_error err = {0};
  int rc = wire_doc__parse(doc, format, data, len, &err);
  if (rc) print_error("parse failed: %s\n", err.message);
  assert_int_equal(rc, 0);
}

/* Decodes one message from a document in format. */
static struct message *decode_ok(enum wire_format format, const char *data,
                                 size_t len) {
  struct wire_doc doc;
  parse_ok(&doc, format, data, len);
  struct message *m = NULL;
  herald_error err = {0};
  int rc = message__decode(wire_doc__root(&doc), &m, &err);
  if (rc) print_error("message__decode failed: %s\n", err.message);
  assert_int_equal(rc, 0);
  assert_non_null(m);
  wire_doc__cleanup(&doc);
  return m;
}

static struct message *decode_json(const char *text) {
  return decode_ok(WIRE_JSON, text, strlen(text));
}

/* Decodes a jansson message object through its JSON text. */
static struct message *decode_jansson(const json_t *value) {
  char *text = json_dumps(value, JSON_COMPACT);
  assert_non_null(text);
  struct message *m = decode_json(text);
  free(text);
  return m;
}

/* Base64-decodes fixture text; herald_free the result. */
static char *unbase64(const char *text, size_t *len) {
  char *bytes = (char *)base64__decode(text, strlen(text), len);
  assert_non_null(bytes);
  return bytes;
}

/* Writes m with message__write in format; herald_free the result. */
static char *write_message(const struct message *m, enum wire_format format,
                           size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, format);
  message__write(m, &w);
  char *out = wire_writer__finish(&w, len);
  assert_non_null(out);
  wire_writer__cleanup(&w);
  return out;
}

/* The output of message__write, parsed. MessagePack values point into the
 * parsed bytes, so both live until written__cleanup. */
struct written {
  struct wire_doc doc;
  char *bytes;
};

static struct wire_value write_and_parse(const struct message *m,
                                         enum wire_format format,
                                         struct written *out) {
  size_t len;
  out->bytes = write_message(m, format, &len);
  parse_ok(&out->doc, format, out->bytes, len);
  return wire_doc__root(&out->doc);
}

static void written__cleanup(struct written *out) {
  wire_doc__cleanup(&out->doc);
  herald_free(out->bytes);
}

static void assert_member_bytes(struct wire_value map, const char *key,
                                enum wire_kind kind, const char *expected,
                                size_t len) {
  struct wire_value v = wire_value__get(map, key);
  if (wire_value__kind(v) != kind)
    print_error("member %s has kind %d, expected %d\n", key,
                wire_value__kind(v), kind);
  assert_int_equal(wire_value__kind(v), kind);
  size_t got_len = (size_t)-1;
  const char *got = wire_value__bytes(v, &got_len);
  assert_non_null(got);
  assert_int_equal(got_len, len);
  assert_memory_equal(got, expected, len);
}

static void assert_member_str(struct wire_value map, const char *key,
                              const char *expected) {
  assert_member_bytes(map, key, WIRE_STR, expected, strlen(expected));
}

static void assert_member_absent(struct wire_value map, const char *key) {
  assert_int_equal(wire_value__kind(wire_value__get(map, key)), WIRE_ABSENT);
}

static void assert_member_int(struct wire_value map, const char *key,
                              int64_t expected) {
  int64_t got = -999;
  assert_true(wire_value__int(wire_value__get(map, key), &got));
  assert_int_equal(got, expected);
}

static void assert_payload_is(const struct payload *p, enum payload_type type,
                              const char *data, size_t len,
                              const char *encoding) {
  assert_int_equal(p->type, type);
  assert_int_equal(p->len, len);
  if (len) assert_memory_equal(p->data, data, len);
  if (encoding) {
    assert_non_null(p->encoding);
    assert_string_equal(p->encoding, encoding);
  } else {
    assert_null(p->encoding);
  }
}

/* Structural equality of two maps whose values are strings or bins: same
 * member count, and every member of want present in got with the same kind
 * and bytes. */
static void assert_same_string_map(struct wire_value got,
                                   struct wire_value want) {
  assert_int_equal(wire_value__kind(got), WIRE_MAP);
  assert_int_equal(wire_value__kind(want), WIRE_MAP);
  assert_int_equal(wire_value__count(got), wire_value__count(want));
  for (size_t i = 0; i < wire_value__count(want); i++) {
    const char *key;
    size_t key_len;
    struct wire_value v = wire_value__member(want, i, &key, &key_len);
    char name[64];
    assert_true(key_len < sizeof name);
    memcpy(name, key, key_len);
    name[key_len] = '\0';
    size_t len;
    const char *bytes = wire_value__bytes(v, &len);
    assert_non_null(bytes);
    assert_member_bytes(got, name, wire_value__kind(v), bytes, len);
  }
}

/* ---- messages-encoding.json --------------------------------------------- */

/* Checks one written message against a messages-encoding.json item. */
static void check_encoding_item(const json_t *item, struct wire_value out) {
  const char *type = json_string_value(json_object_get(item, "expectedType"));
  const json_t *data = json_object_get(item, "data");
  if (strcmp(type, "string") == 0) {
    const json_t *value = json_object_get(item, "expectedValue");
    assert_member_str(out, "data", json_string_value(value));
    assert_member_absent(out, "encoding");
  } else if (strcmp(type, "jsonObject") == 0 || strcmp(type, "jsonArray") == 0) {
    assert_member_str(out, "data", json_string_value(data));
    assert_member_str(out, "encoding", "json");
    size_t len;
    const char *text = wire_value__bytes(wire_value__get(out, "data"), &len);
    json_t *parsed = json_loadb(text, len, 0, NULL);
    assert_non_null(parsed);
    assert_true(json_equal(parsed, json_object_get(item, "expectedValue")));
    assert_int_equal(json_is_object(parsed), strcmp(type, "jsonObject") == 0);
    json_decref(parsed);
  } else {
    assert_string_equal(type, "binary");
    if (out.format == WIRE_JSON) {
      assert_member_str(out, "data", json_string_value(data));
      assert_member_str(out, "encoding", "base64");
    } else {
      const char *hex =
          json_string_value(json_object_get(item, "expectedHexValue"));
      unsigned char bytes[64];
      size_t n = strlen(hex) / 2;
      assert_true(n <= sizeof bytes);
      for (size_t i = 0; i < n; i++) {
        unsigned int byte;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
        bytes[i] = (unsigned char)byte;
      }
      assert_member_bytes(out, "data", WIRE_BIN, (const char *)bytes, n);
      assert_member_absent(out, "encoding");
    }
  }
  assert_member_int(out, "action", 0);
}

static void test_fixture_messages_encoding(void **state) {
  (void)state;
  json_t *root = load_fixture("messages-encoding.json");
  const json_t *items = json_object_get(root, "messages");
  assert_int_equal(json_array_size(items), 5);
  size_t i;
  const json_t *item;
  size_t seen[4] = {0}; /* string, jsonObject, jsonArray, binary */
  json_array_foreach(items, i, item) {
    json_t *wire = json_object();
    json_object_set(wire, "data", json_object_get(item, "data"));
    json_object_set(wire, "encoding", json_object_get(item, "encoding"));
    struct message *m = decode_jansson(wire);
    json_decref(wire);
    const char *type = json_string_value(json_object_get(item, "expectedType"));
    seen[strcmp(type, "string") == 0       ? 0
         : strcmp(type, "jsonObject") == 0 ? 1
         : strcmp(type, "jsonArray") == 0  ? 2
                                           : 3]++;
    for (int f = 0; f < 2; f++) {
      struct written out;
      check_encoding_item(item,
                          write_and_parse(m, f ? WIRE_MSGPACK : WIRE_JSON, &out));
      written__cleanup(&out);
    }
    message__unref(m);
  }
  assert_int_equal(seen[0], 2);
  assert_int_equal(seen[1], 1);
  assert_int_equal(seen[2], 1);
  assert_int_equal(seen[3], 1);
  json_decref(root);
}

/* ---- msgpack_test_fixtures.json ----------------------------------------- */

static void check_msgpack_fixture(const json_t *item) {
  const char *type = json_string_value(json_object_get(item, "type"));
  const json_t *data = json_object_get(item, "data");
  size_t repeat = (size_t)json_integer_value(json_object_get(item, "numRepeat"));
  size_t packed_len;
  char *packed = unbase64(
      json_string_value(json_object_get(item, "msgpack")), &packed_len);
  struct wire_doc doc;
  parse_ok(&doc, WIRE_MSGPACK, packed, packed_len);
  struct wire_value pm = wire_doc__root(&doc);
  assert_member_int(pm, "msgSerial", 0);
  struct wire_value messages = wire_value__get(pm, "messages");
  assert_int_equal(wire_value__kind(messages), WIRE_ARRAY);
  assert_int_equal(wire_value__count(messages), 1);
  struct message *m = NULL;
  herald_error err = {0};
  assert_int_equal(message__decode(wire_value__at(messages, 0), &m, &err), 0);

  if (strcmp(type, "string") == 0 || strcmp(type, "binary") == 0) {
    const char *unit = json_string_value(data);
    size_t unit_len = strlen(unit);
    char *expected = herald_xmalloc(unit_len * repeat + 1);
    for (size_t i = 0; i < repeat; i++)
      memcpy(expected + i * unit_len, unit, unit_len);
    assert_payload_is(&m->payload,
                      type[0] == 's' ? PAYLOAD_STRING : PAYLOAD_BINARY,
                      expected, unit_len * repeat, NULL);
    herald_free(expected);
  } else {
    assert_true(strcmp(type, "jsonObject") == 0 ||
                strcmp(type, "jsonArray") == 0);
    assert_int_equal(m->payload.type, PAYLOAD_STRING);
    assert_string_equal(m->payload.encoding, "json");
    json_t *parsed = json_loadb(m->payload.data, m->payload.len, 0, NULL);
    assert_non_null(parsed);
    assert_true(json_equal(parsed, data));
    json_decref(parsed);
  }
  message__unref(m);
  wire_doc__cleanup(&doc);
  herald_free(packed);
}

static void test_fixture_msgpack(void **state) {
  (void)state;
  json_t *root = load_fixture("msgpack_test_fixtures.json");
  assert_int_equal(json_array_size(root), 8);
  size_t i;
  const json_t *item;
  json_array_foreach(root, i, item) check_msgpack_fixture(item);
  json_decref(root);
}

/* The binary fixtures arrive as base64 text with encoding "base64"; written
 * back as MessagePack they are bin with no encoding. */
static void test_fixture_msgpack_binary_written_as_bin(void **state) {
  (void)state;
  /* "short binary": {"messages":[{"data":"YQ==","encoding":"base64"}],
   *                  "msgSerial":0} */
  size_t packed_len;
  char *packed = unbase64("gqhtZXNzYWdlc5GCpGRhdGGkWVE9PahlbmNvZGluZ6ZiYXNlNjSp"
                          "bXNnU2VyaWFsAA==",
                          &packed_len);
  struct wire_doc in;
  parse_ok(&in, WIRE_MSGPACK, packed, packed_len);
  struct message *m = NULL;
  assert_int_equal(
      message__decode(
          wire_value__at(wire_value__get(wire_doc__root(&in), "messages"), 0),
          &m, NULL),
      0);
  struct written out;
  struct wire_value root = write_and_parse(m, WIRE_MSGPACK, &out);
  assert_member_bytes(root, "data", WIRE_BIN, "a", 1);
  assert_member_absent(root, "encoding");
  written__cleanup(&out);
  root = write_and_parse(m, WIRE_JSON, &out);
  assert_member_str(root, "data", "YQ==");
  assert_member_str(root, "encoding", "base64");
  written__cleanup(&out);
  message__unref(m);
  wire_doc__cleanup(&in);
  herald_free(packed);
}

/* ---- crypto-data-*.json ------------------------------------------------- */

/* Writes the wire form of m as Ably SDKs pack it: {name, data, encoding}. */
static char *write_name_and_payload(const struct message *m, size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_MSGPACK);
  wire_writer__map(&w, 1 + payload__member_count(&m->payload, WIRE_MSGPACK));
  wire_writer__kv_str(&w, "name", m->name);
  payload__write(&m->payload, &w);
  char *out = wire_writer__finish(&w, len);
  assert_non_null(out);
  wire_writer__cleanup(&w);
  return out;
}

/* For one crypto fixture file: every item's `encrypted` decoded from JSON and
 * written as MessagePack equals its `msgpack` member -- byte for byte when
 * the fixture lists the members in our order (name, data, encoding),
 * structurally otherwise. message__write's fuller form contains the same
 * members. expected_exact items must match byte for byte. */
static void check_crypto_file(const char *name, size_t expected_items,
                              size_t expected_exact) {
  json_t *root = load_fixture(name);
  const json_t *items = json_object_get(root, "items");
  assert_int_equal(json_array_size(items), expected_items);
  size_t exact = 0, structural = 0;
  size_t i;
  const json_t *item;
  json_array_foreach(items, i, item) {
    struct message *m = decode_jansson(json_object_get(item, "encrypted"));
    assert_int_equal(m->payload.type, PAYLOAD_BINARY);
    size_t want_len, got_len;
    char *want = unbase64(
        json_string_value(json_object_get(item, "msgpack")), &want_len);
    char *got = write_name_and_payload(m, &got_len);

    struct wire_doc want_doc, got_doc;
    parse_ok(&want_doc, WIRE_MSGPACK, want, want_len);
    parse_ok(&got_doc, WIRE_MSGPACK, got, got_len);
    struct wire_value want_root = wire_doc__root(&want_doc);
    const char *second_key;
    size_t second_len;
    wire_value__member(want_root, 1, &second_key, &second_len);
    bool same_order = second_len == 4 && memcmp(second_key, "data", 4) == 0;
    if (same_order) {
      assert_int_equal(got_len, want_len);
      assert_memory_equal(got, want, want_len);
      exact++;
    } else {
      structural++;
    }
    assert_same_string_map(wire_doc__root(&got_doc), want_root);

    /* The fixture's MessagePack decodes to the same stored payload. */
    struct message *from_mp = decode_ok(WIRE_MSGPACK, want, want_len);
    assert_string_equal(from_mp->name, m->name);
    assert_payload_is(&from_mp->payload, m->payload.type, m->payload.data,
                      m->payload.len, m->payload.encoding);
    message__unref(from_mp);

    /* message__write adds timestamp and action around the same members. */
    struct written full;
    struct wire_value full_root = write_and_parse(m, WIRE_MSGPACK, &full);
    assert_int_equal(wire_value__count(full_root), 5);
    assert_member_str(full_root, "name", m->name);
    size_t bin_len;
    const char *bin =
        wire_value__bytes(wire_value__get(want_root, "data"), &bin_len);
    assert_member_bytes(full_root, "data", WIRE_BIN, bin, bin_len);
    assert_member_str(full_root, "encoding", m->payload.encoding);
    assert_member_int(full_root, "timestamp", 0);
    assert_member_int(full_root, "action", 0);
    written__cleanup(&full);

    wire_doc__cleanup(&want_doc);
    wire_doc__cleanup(&got_doc);
    herald_free(want);
    herald_free(got);
    message__unref(m);
  }
  assert_int_equal(exact, expected_exact);
  assert_int_equal(exact + structural, expected_items);
  json_decref(root);
}

/* crypto-data-128.json lists every item as {name, encoding, data}. */
static void test_fixture_crypto_128(void **state) {
  (void)state;
  check_crypto_file("crypto-data-128.json", 4, 0);
}

/* crypto-data-256.json: 4 items {name, encoding, data}, 70 {name, data,
 * encoding}. */
static void test_fixture_crypto_256(void **state) {
  (void)state;
  check_crypto_file("crypto-data-256.json", 74, 70);
}

static void test_crypto_encoding_step_removed(void **state) {
  (void)state;
  struct message *m = decode_json(
      "{\"name\":\"example\",\"data\":\"HO4cYSP8LybPYBPZPHQOtuB3dfKG08yw7J4qx3kk"
      "jxdW0eoZv+nGAp76OKqYQ327\",\"encoding\":\"cipher+aes-128-cbc/base64\"}");
  assert_int_equal(m->payload.type, PAYLOAD_BINARY);
  assert_int_equal(m->payload.len, 48);
  assert_string_equal(m->payload.encoding, "cipher+aes-128-cbc");
  assert_memory_equal(m->payload.data, "\x1c\xee\x1c\x61\x23\xfc\x2f\x26", 8);
  message__unref(m);
}

/* ---- decoding fields ---------------------------------------------------- */

static void test_decode_fields(void **state) {
  (void)state;
  struct message *m = decode_json(
      "{\"id\":\"abc:0\",\"name\":\"ev\",\"clientId\":\"me\",\"data\":\"d\","
      "\"extras\":{\"headers\":{\"k\":\"v\"}},\"size\":12,\"unknown\":[1]}");
  assert_string_equal(m->id, "abc:0");
  assert_string_equal(m->name, "ev");
  assert_string_equal(m->client_id, "me");
  assert_null(m->connection_id);
  assert_null(m->serial);
  assert_payload_is(&m->payload, PAYLOAD_STRING, "d", 1, NULL);
  assert_non_null(m->extras);
  json_t *want = json_loads("{\"headers\":{\"k\":\"v\"}}", 0, NULL);
  assert_true(json_equal(m->extras, want));
  json_decref(want);
  message__unref(m);

  m = decode_json("{}");
  assert_null(m->id);
  assert_null(m->name);
  assert_null(m->client_id);
  assert_null(m->extras);
  assert_int_equal(m->payload.type, PAYLOAD_NONE);
  message__unref(m);
}

static void test_decode_fields_msgpack(void **state) {
  (void)state;
  /* {"name":"n","clientId":"c","data":bin 01 02,"extras":{"a":[true]}} */
  static const char packed[] =
      "\x84\xa4name\xa1n\xa8" "clientId\xa1" "c\xa4" "data\xc4\x02\x01\x02"
      "\xa6" "extras\x81\xa1" "a\x91\xc3";
  struct message *m = decode_ok(WIRE_MSGPACK, packed, sizeof packed - 1);
  assert_string_equal(m->name, "n");
  assert_string_equal(m->client_id, "c");
  assert_payload_is(&m->payload, PAYLOAD_BINARY, "\x01\x02", 2, NULL);
  json_t *want = json_loads("{\"a\":[true]}", 0, NULL);
  assert_true(json_equal(m->extras, want));
  json_decref(want);
  message__unref(m);
}

static void test_decode_not_a_map(void **state) {
  (void)state;
  static const char *const bodies[] = {"5", "\"x\"", "null", "[]", "true"};
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    struct wire_doc doc;
    parse_ok(&doc, WIRE_JSON, bodies[i], strlen(bodies[i]));
    struct message *m = (struct message *)0x1;
    herald_error err = {0};
    assert_int_equal(message__decode(wire_doc__root(&doc), &m, &err), -40001);
    assert_int_equal(err.code, 40001);
    assert_ptr_equal(m, (struct message *)0x1);
    wire_doc__cleanup(&doc);
  }
}

/* ---- message__decode_list ----------------------------------------------- */

/* Runs decode_list on JSON text; returns the code, frees any list. */
static int decode_list_code(const char *text, size_t max_count,
                            herald_error *err) {
  struct wire_doc doc;
  parse_ok(&doc, WIRE_JSON, text, strlen(text));
  struct message **list = NULL;
  size_t count = 0;
  int rc = message__decode_list(wire_doc__root(&doc), max_count, &list,
                                &count, err);
  if (rc == 0) message__free_list(list, count);
  wire_doc__cleanup(&doc);
  return rc;
}

static void assert_list_fails(const char *text, size_t max_count, int code) {
  herald_error err = {0};
  int rc = decode_list_code(text, max_count, &err);
  if (rc != code) print_error("%s: got %d, expected %d\n", text, rc, code);
  assert_int_equal(rc, code);
  assert_int_equal(err.code, -code);
  assert_int_equal(err.status, 400);
}

static void test_decode_list_single_object(void **state) {
  (void)state;
  static const char text[] = "{\"name\":\"a\",\"data\":\"x\"}";
  struct wire_doc doc;
  parse_ok(&doc, WIRE_JSON, text, sizeof text - 1);
  struct message **list = NULL;
  size_t count = 0;
  assert_int_equal(
      message__decode_list(wire_doc__root(&doc), 1, &list, &count, NULL), 0);
  assert_int_equal(count, 1);
  assert_string_equal(list[0]->name, "a");
  assert_payload_is(&list[0]->payload, PAYLOAD_STRING, "x", 1, NULL);
  message__free_list(list, count);
  wire_doc__cleanup(&doc);
}

static void test_decode_list_array(void **state) {
  (void)state;
  static const char text[] =
      "[{\"name\":\"a\"},{\"name\":\"b\",\"data\":[1]},{\"name\":\"c\"}]";
  struct wire_doc doc;
  parse_ok(&doc, WIRE_JSON, text, sizeof text - 1);
  struct message **list = NULL;
  size_t count = 0;
  assert_int_equal(
      message__decode_list(wire_doc__root(&doc), 3, &list, &count, NULL), 0);
  assert_int_equal(count, 3);
  assert_string_equal(list[0]->name, "a");
  assert_string_equal(list[1]->name, "b");
  assert_string_equal(list[2]->name, "c");
  assert_payload_is(&list[1]->payload, PAYLOAD_STRING, "[1]", 3, "json");
  message__free_list(list, count);
  wire_doc__cleanup(&doc);
  message__free_list(NULL, 0);
}

static void test_decode_list_msgpack_array(void **state) {
  (void)state;
  static const char packed[] = "\x92\x81\xa4name\xa1x\x81\xa4" "data\xc4\x01\x07";
  struct wire_doc doc;
  parse_ok(&doc, WIRE_MSGPACK, packed, sizeof packed - 1);
  struct message **list = NULL;
  size_t count = 0;
  assert_int_equal(
      message__decode_list(wire_doc__root(&doc), 10, &list, &count, NULL), 0);
  assert_int_equal(count, 2);
  assert_string_equal(list[0]->name, "x");
  assert_payload_is(&list[1]->payload, PAYLOAD_BINARY, "\x07", 1, NULL);
  message__free_list(list, count);
  wire_doc__cleanup(&doc);
}

static void test_decode_list_errors(void **state) {
  (void)state;
  assert_list_fails("[]", 10, -40001);
  assert_list_fails("[{},{},{}]", 2, -40034);
  assert_list_fails("[{\"name\":\"a\"},5]", 10, -40001);
  assert_list_fails("[\"x\"]", 10, -40001);
  assert_list_fails("[null]", 10, -40001);
  assert_list_fails("[[{}]]", 10, -40001);
  assert_list_fails("\"x\"", 10, -40001);
  assert_list_fails("42", 10, -40001);
  assert_list_fails("{\"name\":5}", 10, -40001);
  assert_list_fails("[{\"name\":\"a\"},{\"name\":true}]", 10, -40001);
  assert_list_fails("{\"clientId\":{}}", 10, -40001);
  assert_list_fails("{\"id\":[]}", 10, -40001);
  assert_list_fails("{\"encoding\":1}", 10, -40001);
  assert_list_fails("{\"extras\":[1]}", 10, -40032);
  assert_list_fails("{\"extras\":\"x\"}", 10, -40032);
  assert_list_fails("[{},{\"extras\":5}]", 10, -40032);
  assert_list_fails("{\"data\":42}", 10, -40013);
  assert_list_fails("[{\"name\":\"a\"},{\"data\":true}]", 10, -40013);
  /* Exactly max_count is fine; a single object counts as one. */
  herald_error err = {0};
  assert_int_equal(decode_list_code("[{},{}]", 2, &err), 0);
  assert_int_equal(decode_list_code("{}", 1, &err), 0);
}

/* ---- message__size (TM6) ------------------------------------------------ */

static size_t size_of_json(const char *text) {
  struct message *m = decode_json(text);
  size_t size = message__size(m);
  message__unref(m);
  return size;
}

static void test_size(void **state) {
  (void)state;
  assert_int_equal(size_of_json("{}"), 0);
  /* name "s" + 32 ciphertext bytes (spec example). */
  assert_int_equal(
      size_of_json("{\"name\":\"s\",\"data\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRY"
                   "XGBkaGxwdHh8=\",\"encoding\":\"utf-8/cipher+aes-128-cbc/"
                   "base64\"}"),
      33);
  /* name 6 UTF-8 bytes + clientId 6 + data 3 + extras text 21. */
  assert_int_equal(size_of_json("{\"name\":\"h\\u00e9llo\",\"clientId\":"
                                "\"client\",\"data\":\"xyz\",\"extras\":"
                                "{ \"headers\" : { \"a\" : \"b\" } }}"),
                   36);
  /* Structured data counts as its JSON text. */
  assert_int_equal(size_of_json("{\"data\":{\"foo\": 42}}"), 10);
  /* id, encoding and connection fields do not count. */
  assert_int_equal(size_of_json("{\"id\":\"abc:0\",\"data\":\"x\","
                                "\"encoding\":\"utf-8\"}"),
                   1);
  assert_int_equal(size_of_json("{\"extras\":{}}"), 2);
  static const char packed[] = "\x82\xa4name\xa1n\xa4" "data\xc4\x05\0\0\0\0\0";
  struct message *m = decode_ok(WIRE_MSGPACK, packed, sizeof packed - 1);
  assert_int_equal(message__size(m), 6);
  message__unref(m);
}

/* ---- message__write ----------------------------------------------------- */

static void test_write_all_fields(void **state) {
  (void)state;
  struct message *m = decode_json(
      "{\"id\":\"base:0\",\"name\":\"ev\",\"clientId\":\"me\",\"data\":"
      "\"3q2+7w==\",\"encoding\":\"cipher+aes-128-cbc/base64\","
      "\"extras\":{\"headers\":{\"k\":\"v\"}}}");
  m->connection_id = herald_xstrdup("conn");
  m->serial = herald_xstrdup("01700000000000-000@srv1:000");
  m->timestamp = 1700000000000;
  for (int f = 0; f < 2; f++) {
    struct written out;
    struct wire_value root =
        write_and_parse(m, f ? WIRE_MSGPACK : WIRE_JSON, &out);
    assert_int_equal(wire_value__count(root), 10);
    assert_member_str(root, "id", "base:0");
    assert_member_str(root, "name", "ev");
    assert_member_str(root, "clientId", "me");
    assert_member_str(root, "connectionId", "conn");
    assert_member_str(root, "serial", "01700000000000-000@srv1:000");
    if (f) {
      assert_member_bytes(root, "data", WIRE_BIN, "\xde\xad\xbe\xef", 4);
      assert_member_str(root, "encoding", "cipher+aes-128-cbc");
    } else {
      assert_member_str(root, "data", "3q2+7w==");
      assert_member_str(root, "encoding", "cipher+aes-128-cbc/base64");
    }
    json_t *extras = wire_value__to_json(wire_value__get(root, "extras"));
    assert_true(json_equal(extras, m->extras));
    json_decref(extras);
    assert_member_int(root, "timestamp", 1700000000000);
    assert_member_int(root, "action", 0);
    written__cleanup(&out);
  }
  message__unref(m);
}

static void test_write_omits_absent_fields(void **state) {
  (void)state;
  struct message *m = decode_json("{\"data\":null,\"name\":null}");
  size_t len;
  char *out = write_message(m, WIRE_JSON, &len);
  static const char expected[] = "{\"timestamp\":0,\"action\":0}";
  assert_int_equal(len, sizeof expected - 1);
  assert_memory_equal(out, expected, len);
  herald_free(out);
  out = write_message(m, WIRE_MSGPACK, &len);
  static const char packed[] = "\x82\xa9timestamp\x00\xa6" "action\x00";
  assert_int_equal(len, sizeof packed - 1);
  assert_memory_equal(out, packed, len);
  herald_free(out);
  message__unref(m);
}

static void test_write_inconsistent_json_utf8(void **state) {
  (void)state;
  struct message *m = decode_json(
      "{\"data\":\"{\\\"foo\\\":\\\"bar\\\"}\",\"encoding\":\"json/utf-8\"}");
  for (int f = 0; f < 2; f++) {
    struct written out;
    struct wire_value root =
        write_and_parse(m, f ? WIRE_MSGPACK : WIRE_JSON, &out);
    assert_member_str(root, "data", "{\"foo\":\"bar\"}");
    assert_member_str(root, "encoding", "json/utf-8");
    written__cleanup(&out);
  }
  message__unref(m);
}

/* ---- reference counting ------------------------------------------------- */

static void test_ref_unref(void **state) {
  (void)state;
  long before = herald_alloc_live();
  struct message *m = message__new();
  assert_int_equal(atomic_load(&m->refs), 1);
  assert_null(m->id);
  assert_int_equal(m->timestamp, 0);
  assert_int_equal(m->action, 0);
  m->name = herald_xstrdup("n");
  assert_ptr_equal(message__ref(m), m);
  assert_int_equal(atomic_load(&m->refs), 2);
  message__unref(m);
  assert_int_equal(atomic_load(&m->refs), 1);
  assert_string_equal(m->name, "n");
  message__unref(m);
  assert_int_equal(herald_alloc_live(), before);
  message__unref(NULL);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_fixture_messages_encoding),
      TEST(test_fixture_msgpack),
      TEST(test_fixture_msgpack_binary_written_as_bin),
      TEST(test_fixture_crypto_128),
      TEST(test_fixture_crypto_256),
      TEST(test_crypto_encoding_step_removed),
      TEST(test_decode_fields),
      TEST(test_decode_fields_msgpack),
      TEST(test_decode_not_a_map),
      TEST(test_decode_list_single_object),
      TEST(test_decode_list_array),
      TEST(test_decode_list_msgpack_array),
      TEST(test_decode_list_errors),
      TEST(test_size),
      TEST(test_write_all_fields),
      TEST(test_write_omits_absent_fields),
      TEST(test_write_inconsistent_json_utf8),
      TEST(test_ref_unref),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
