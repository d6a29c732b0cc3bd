/* test_protocol_message.c -- ProtocolMessage decoding and writing
 * (common/protocol_message.h) against shared/spec/realtime.md sections 1.3
 * and 2.1-2.6 and the exchanges of Appendix C: frames shaped as ably-js 2.26
 * sends them, in JSON and MessagePack (integers of every width, binary
 * data), null as absent, unknown fields, every decoding error, the exact
 * text of CONNECTED, ACK and ERROR, and write-then-decode round trips in
 * both formats. Every test checks that the live allocation count returns to
 * where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "annotation.h"
#include "protocol_message.h"
#include "leak_check.h"

#define MAX_MESSAGES 100

/* ---- helpers ------------------------------------------------------------ */

#define JSON_LIT(s) WIRE_JSON, s, sizeof s - 1
#define MP_LIT(s) WIRE_MSGPACK, s, sizeof s - 1
#define MP(s) s, sizeof s - 1

/* Parses data and decodes it into *pm; returns decode's code. */
static int decode(enum wire_format format, const char *data, size_t len,
                  size_t max_messages, struct protocol_message *pm,
                  herald_error *err) {
  struct wire_doc doc;
  herald_error perr = {0};
  int rc = wire_doc__parse(&doc, format, data, len, &perr);
  if (rc) print_error("parse failed: %s\n", perr.message);
  assert_int_equal(rc, 0);
  rc = protocol_message__decode(wire_doc__root(&doc), max_messages, pm, err);
  wire_doc__cleanup(&doc);
  return rc;
}

static void decode_ok(enum wire_format format, const char *data, size_t len,
                      struct protocol_message *pm) {
  herald_error err = {0};
  int rc = decode(format, data, len, MAX_MESSAGES, pm, &err);
  if (rc) print_error("decode failed: %s\n", err.message);
  assert_int_equal(rc, 0);
}

/* Decodes JSON text expected to fail with code; the output is left empty. */
static void assert_fails(const char *text, size_t max_messages, int code) {
  struct protocol_message pm;
  memset(&pm, 0xa5, sizeof pm);
  herald_error err = {0};
  int rc = decode(WIRE_JSON, text, strlen(text), max_messages, &pm, &err);
  if (rc != code) print_error("%s: got %d, expected %d\n", text, rc, code);
  assert_int_equal(rc, code);
  assert_int_equal(err.code, -code);
  assert_int_equal(err.status, 400);
  assert_true(err.message[0] != '\0');
  assert_null(pm.channel);
  assert_null(pm.messages);
  assert_null(pm.param_keys);
  assert_int_equal(pm.n_messages, 0);
  assert_int_equal(pm.n_params, 0);
  protocol_message__cleanup(&pm);
}

/* Writes pm in format; herald_free the result. */
static char *write_pm(const struct protocol_message *pm,
                      enum wire_format format, size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, format);
  protocol_message__write(pm, &w);
  char *out = wire_writer__finish(&w, len);
  assert_non_null(out);
  wire_writer__cleanup(&w);
  return out;
}

/* Writes pm as JSON and compares the text exactly. */
static void assert_json_text(const struct protocol_message *pm,
                             const char *expected) {
  size_t len;
  char *out = write_pm(pm, WIRE_JSON, &len);
  if (len != strlen(expected) || memcmp(out, expected, len) != 0)
    print_error("got      %.*s\nexpected %s\n", (int)len, out, expected);
  assert_int_equal(len, strlen(expected));
  assert_memory_equal(out, expected, len);
  herald_free(out);
}

/* Writes pm in format and decodes the output into *back. */
static void roundtrip(const struct protocol_message *pm,
                      enum wire_format format, struct protocol_message *back) {
  size_t len;
  char *out = write_pm(pm, format, &len);
  decode_ok(format, out, len, back);
  herald_free(out);
}

static void assert_param(const struct protocol_message *pm, size_t i,
                         const char *key, const char *value) {
  assert_true(i < pm->n_params);
  assert_string_equal(pm->param_keys[i], key);
  assert_string_equal(pm->param_values[i], value);
}

static void assert_payload(const struct message *m, enum payload_type type,
                           const char *data, size_t len) {
  assert_int_equal(m->payload.type, type);
  assert_int_equal(m->payload.len, len);
  assert_memory_equal(m->payload.data, data, len);
}

/* ---- decoding ably-js frames -------------------------------------------- */

static void check_attach(const struct protocol_message *pm) {
  assert_int_equal(pm->action, PM_ATTACH);
  assert_int_equal(pm->flags,
                   PM_FLAG_MODE_PUBLISH | PM_FLAG_MODE_SUBSCRIBE);
  assert_string_equal(pm->channel, "room");
  assert_null(pm->channel_serial);
  assert_null(pm->id);
  assert_false(pm->has_msg_serial);
  assert_int_equal(pm->n_messages, 0);
  assert_int_equal(pm->n_params, 1);
  assert_param(pm, 0, "rewind", "1");
}

static void test_decode_attach(void **state) {
  (void)state;
  struct protocol_message pm;
  decode_ok(JSON_LIT("{\"action\":10,\"channel\":\"room\",\"flags\":393216,"
                     "\"channelSerial\":null,\"params\":{\"rewind\":\"1\"}}"),
            &pm);
  check_attach(&pm);
  protocol_message__cleanup(&pm);
  /* The same in MessagePack, nulls omitted, flags as uint32. */
  decode_ok(MP_LIT("\x84\xa6" "action\x0a\xa7" "channel\xa4" "room\xa5"
                   "flags\xce\x00\x06\x00\x00\xa6" "params\x81\xa6"
                   "rewind\xa1" "1"),
            &pm);
  check_attach(&pm);
  protocol_message__cleanup(&pm);
  /* A resume point. */
  decode_ok(JSON_LIT("{\"action\":10,\"channel\":\"room\",\"channelSerial\":"
                     "\"01734567890300-000000@e1\"}"),
            &pm);
  assert_string_equal(pm.channel_serial, "01734567890300-000000@e1");
  assert_int_equal(pm.flags, 0);
  assert_int_equal(pm.n_params, 0);
  assert_null(pm.param_keys);
  protocol_message__cleanup(&pm);
}

static void check_message(const struct protocol_message *pm) {
  assert_int_equal(pm->action, PM_MESSAGE);
  assert_string_equal(pm->channel, "room");
  assert_true(pm->has_msg_serial);
  assert_int_equal(pm->msg_serial, 1);
  assert_int_equal(pm->n_messages, 2);
  assert_string_equal(pm->messages[0]->name, "greet");
  assert_payload(pm->messages[0], PAYLOAD_STRING, "hi", 2);
  assert_int_equal(pm->messages[0]->action, 0);
  assert_string_equal(pm->messages[1]->name, "b");
  assert_payload(pm->messages[1], PAYLOAD_BINARY, "\x01\x02\x03", 3);
  assert_null(pm->messages[1]->payload.encoding);
}

static void test_decode_message(void **state) {
  (void)state;
  struct protocol_message pm;
  decode_ok(JSON_LIT("{\"action\":15,\"channel\":\"room\",\"msgSerial\":1,"
                     "\"messages\":[{\"name\":\"greet\",\"data\":\"hi\","
                     "\"action\":0,\"size\":7},{\"name\":\"b\",\"data\":"
                     "\"AQID\",\"encoding\":\"base64\"}]}"),
            &pm);
  check_message(&pm);
  protocol_message__cleanup(&pm);
  /* MessagePack: binary data as bin8. */
  decode_ok(MP_LIT("\x84\xa6" "action\x0f\xa7" "channel\xa4" "room\xa9"
                   "msgSerial\x01\xa8" "messages\x92"
                   "\x84\xa4" "name\xa5" "greet\xa4" "data\xa2" "hi\xa6"
                   "action\x00\xa4" "size\x07"
                   "\x82\xa4" "name\xa1" "b\xa4" "data\xc4\x03\x01\x02\x03"),
            &pm);
  check_message(&pm);
  protocol_message__cleanup(&pm);
}

/* action and msgSerial in every MessagePack integer width. */
static void test_decode_integer_widths(void **state) {
  (void)state;
  static const struct {
    const char *packed;
    size_t len;
    int64_t msg_serial;
  } frames[] = {
      {MP("\x82\xa6" "action\xcc\x0f\xa9" "msgSerial\xcd\x01\x00"), 256},
      {MP("\x82\xa6" "action\xd0\x0f\xa9" "msgSerial\xce\x00\x01\x00\x00"),
       65536},
      {MP("\x82\xa6" "action\xd1\x00\x0f\xa9"
          "msgSerial\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
       4294967296},
      {MP("\x82\xa6" "action\xd2\x00\x00\x00\x0f\xa9"
          "msgSerial\xd3\x00\x00\x00\x00\x00\x00\x00\x05"),
       5},
      {MP("\x82\xa6" "action\xcf\x00\x00\x00\x00\x00\x00\x00\x0f\xa9"
          "msgSerial\x00"),
       0},
      /* ably-js never sends it, but an integral float64 is an integer. */
      {MP("\x82\xa6" "action\xcb\x40\x2e\x00\x00\x00\x00\x00\x00\xa9"
          "msgSerial\xff"),
       -1},
  };
  for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
    struct protocol_message pm;
    decode_ok(WIRE_MSGPACK, frames[i].packed, frames[i].len, &pm);
    assert_int_equal(pm.action, PM_MESSAGE);
    assert_true(pm.has_msg_serial);
    assert_int_equal(pm.msg_serial, frames[i].msg_serial);
    protocol_message__cleanup(&pm);
  }
}

static void test_decode_heartbeat_auth_fields(void **state) {
  (void)state;
  struct protocol_message pm;
  decode_ok(JSON_LIT("{\"action\":0,\"id\":\"ping-1\"}"), &pm);
  assert_int_equal(pm.action, PM_HEARTBEAT);
  assert_string_equal(pm.id, "ping-1");
  protocol_message__cleanup(&pm);
  decode_ok(MP_LIT("\x82\xa6" "action\x00\xa2" "id\xa6" "ping-2"), &pm);
  assert_string_equal(pm.id, "ping-2");
  protocol_message__cleanup(&pm);

  decode_ok(JSON_LIT("{\"action\":17,\"auth\":{\"accessToken\":\"eyJ.x.y\"}}"),
            &pm);
  assert_int_equal(pm.action, PM_AUTH);
  assert_string_equal(pm.access_token, "eyJ.x.y");
  protocol_message__cleanup(&pm);
  decode_ok(MP_LIT("\x82\xa6" "action\x11\xa4" "auth\x81\xab"
                   "accessToken\xa3tok"),
            &pm);
  assert_string_equal(pm.access_token, "tok");
  protocol_message__cleanup(&pm);
  /* An auth without a token decodes; the handler rejects it. */
  decode_ok(JSON_LIT("{\"action\":17,\"auth\":{}}"), &pm);
  assert_null(pm.access_token);
  protocol_message__cleanup(&pm);

  decode_ok(JSON_LIT("{\"action\":11,\"connectionId\":\"c1\",\"count\":3,"
                     "\"timestamp\":1734567890200,\"params\":{\"a\":\"1\","
                     "\"delta\":\"vcdiff\"}}"),
            &pm);
  assert_string_equal(pm.connection_id, "c1");
  assert_int_equal(pm.count, 3);
  assert_int_equal(pm.timestamp, 1734567890200);
  assert_int_equal(pm.n_params, 2);
  assert_param(&pm, 0, "a", "1");
  assert_param(&pm, 1, "delta", "vcdiff");
  protocol_message__cleanup(&pm);

  decode_ok(JSON_LIT("{\"action\":9,\"error\":{\"message\":\"Nope\","
                     "\"code\":80008,\"statusCode\":400}}"),
            &pm);
  assert_true(pm.has_error);
  assert_int_equal(pm.error.code, 80008);
  assert_int_equal(pm.error.status, 400);
  assert_string_equal(pm.error.message, "Nope");
  protocol_message__cleanup(&pm);
}

static void test_decode_null_is_absent(void **state) {
  (void)state;
  static const char text[] =
      "{\"action\":15,\"flags\":null,\"id\":null,\"channel\":null,"
      "\"channelSerial\":null,\"connectionId\":null,\"msgSerial\":null,"
      "\"count\":null,\"timestamp\":null,\"auth\":null,\"params\":null,"
      "\"messages\":null,\"error\":null}";
  struct protocol_message pm;
  decode_ok(JSON_LIT(text), &pm);
  assert_int_equal(pm.action, PM_MESSAGE);
  assert_int_equal(pm.flags, 0);
  assert_null(pm.id);
  assert_null(pm.channel);
  assert_null(pm.channel_serial);
  assert_null(pm.connection_id);
  assert_null(pm.access_token);
  assert_false(pm.has_msg_serial);
  assert_int_equal(pm.count, 0);
  assert_int_equal(pm.timestamp, 0);
  assert_false(pm.has_error);
  assert_int_equal(pm.n_params, 0);
  assert_int_equal(pm.n_messages, 0);
  assert_null(pm.messages);
  protocol_message__cleanup(&pm);
  /* MessagePack nil likewise. */
  decode_ok(MP_LIT("\x83\xa6" "action\x0a\xa7" "channel\xc0\xa9"
                   "msgSerial\xc0"),
            &pm);
  assert_null(pm.channel);
  assert_false(pm.has_msg_serial);
  protocol_message__cleanup(&pm);
}

static void test_decode_unknown_fields_ignored(void **state) {
  (void)state;
  struct protocol_message pm;
  decode_ok(JSON_LIT("{\"connectionSerial\":5,\"action\":10,\"channel\":"
                     "\"x\",\"presence\":[{\"action\":2}],\"future\":{\"a\":"
                     "[1,null]},\"connectionKey\":7}"),
            &pm);
  assert_int_equal(pm.action, PM_ATTACH);
  assert_string_equal(pm.channel, "x");
  assert_null(pm.connection_key);
  protocol_message__cleanup(&pm);
  /* An action the server does not know still decodes. */
  decode_ok(MP_LIT("\x82\xa6" "action\x63\xa3" "ext\xc4\x01\x00"), &pm);
  assert_int_equal(pm.action, 99);
  protocol_message__cleanup(&pm);
}

/* ---- decoding errors ---------------------------------------------------- */

static void test_decode_errors(void **state) {
  (void)state;
  static const char *const bad[] = {
      "5",
      "[]",
      "null",
      "\"x\"",
      "{}",
      "{\"action\":null}",
      "{\"action\":\"10\"}",
      "{\"action\":1.5}",
      "{\"action\":true}",
      "{\"action\":4294967296}",
      "{\"action\":10,\"channel\":5}",
      "{\"action\":10,\"channel\":[\"room\"]}",
      "{\"action\":10,\"channel\":\"a\\u0000b\"}",
      "{\"action\":0,\"id\":{}}",
      "{\"action\":10,\"channelSerial\":1}",
      "{\"action\":4,\"connectionId\":false}",
      "{\"action\":10,\"flags\":\"1\"}",
      "{\"action\":10,\"flags\":-1}",
      "{\"action\":10,\"flags\":4294967296}",
      "{\"action\":15,\"msgSerial\":\"1\"}",
      "{\"action\":1,\"count\":[]}",
      "{\"action\":0,\"timestamp\":1.5}",
      "{\"action\":17,\"auth\":\"tok\"}",
      "{\"action\":17,\"auth\":{\"accessToken\":5}}",
      "{\"action\":10,\"channel\":\"r\",\"params\":{\"rewind\":1}}",
      "{\"action\":10,\"params\":{\"a\":\"1\",\"b\":null}}",
      "{\"action\":10,\"params\":[\"a\"]}",
      "{\"action\":10,\"params\":\"a=1\"}",
      "{\"action\":15,\"messages\":{\"name\":\"a\"}}",
      "{\"action\":9,\"error\":\"bad\"}",
      "{\"action\":9,\"error\":{\"code\":\"40000\"}}",
      "{\"action\":9,\"error\":{\"code\":40000,\"message\":5}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_fails(bad[i], MAX_MESSAGES, -40000);
  /* Message errors are message__decode's, after fields already copied. */
  assert_fails("{\"action\":15,\"channel\":\"room\",\"params\":{\"a\":\"b\"},"
               "\"messages\":[{\"name\":\"a\"},5]}",
               MAX_MESSAGES, -40001);
  assert_fails("{\"action\":15,\"channel\":\"room\",\"messages\":[{\"name\":"
               "\"a\",\"data\":\"x\"},{\"extras\":[]}]}",
               MAX_MESSAGES, -40032);
  assert_fails("{\"action\":15,\"messages\":[{\"data\":true}]}", MAX_MESSAGES,
               -40013);
}

/* A publish that fails to decode keeps what its NACK needs. */
static void test_failed_publish_keeps_action_and_msg_serial(void **state) {
  const char text[] = "{\"action\":15,\"msgSerial\":4,\"channel\":\"c\","
                      "\"messages\":[{\"data\":17}]}";
  struct protocol_message pm;
  herald_error err = {0};
  int rc = decode(JSON_LIT(text), MAX_MESSAGES, &pm, &err);
  assert_int_equal(rc, -HERALD_E_INVALID_DATA);
  assert_int_equal(pm.action, PM_MESSAGE);
  assert_true(pm.has_msg_serial);
  assert_int_equal(pm.msg_serial, 4);
  assert_null(pm.channel);
  assert_null(pm.messages);
  protocol_message__cleanup(&pm);
}

static void test_decode_errors_msgpack(void **state) {
  (void)state;
  static const struct {
    const char *packed;
    size_t len;
  } bad[] = {
      {MP("\x91\x0a")},                                  /* [10] */
      {MP("\x81\xa6" "action\xc4\x01\x0a")},            /* bin action */
      {MP("\x82\xa6" "action\x0a\xa7" "channel\xc4\x01r")}, /* bin channel */
      {MP("\x83\xa6" "action\x0a\xa2" "id\xc0\xa6"       /* bin param */
          "params\x81\xa1k\xc4\x01v")},
      /* action beyond int64 */
      {MP("\x81\xa6" "action\xcf\xff\xff\xff\xff\xff\xff\xff\xff")},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct protocol_message pm;
    herald_error err = {0};
    int rc = decode(WIRE_MSGPACK, bad[i].packed, bad[i].len, MAX_MESSAGES,
                    &pm, &err);
    if (rc != -40000) print_error("frame %zu: got %d\n", i, rc);
    assert_int_equal(rc, -40000);
    assert_int_equal(err.code, 40000);
  }
}

static void test_decode_too_many_messages(void **state) {
  (void)state;
  static const char three[] =
      "{\"action\":15,\"channel\":\"room\",\"msgSerial\":0,\"messages\":"
      "[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}";
  assert_fails(three, 2, -40034);
  assert_fails(three, 0, -40034);
  struct protocol_message pm;
  herald_error err = {0};
  assert_int_equal(decode(JSON_LIT(three), 3, &pm, &err), 0);
  assert_int_equal(pm.n_messages, 3);
  assert_string_equal(pm.messages[2]->name, "c");
  protocol_message__cleanup(&pm);
  /* An empty array is no messages at all (the handler decides). */
  decode_ok(JSON_LIT("{\"action\":15,\"messages\":[]}"), &pm);
  assert_int_equal(pm.n_messages, 0);
  protocol_message__cleanup(&pm);
}

/* ---- writing ------------------------------------------------------------ */

static void test_write_connected(void **state) {
  (void)state;
  struct connection_details details = {
      .client_id = "bob",
      .connection_key = "hK3fP9xQ2a!W1z",
      .connection_state_ttl = 120000,
      .max_idle_interval = 15000,
      .max_message_size = 65536,
      .max_frame_size = 524288,
      .max_inbound_rate = 250,
      .max_outbound_rate = 100,
      .server_id = "node-1",
  };
  struct protocol_message pm = {.action = PM_CONNECTED,
                                .connection_id = "hK3fP9xQ2a",
                                .connection_details = &details};
  /* Appendix C, byte for byte. */
  assert_json_text(
      &pm, "{\"action\":4,\"connectionId\":\"hK3fP9xQ2a\","
           "\"connectionDetails\":{\"connectionKey\":\"hK3fP9xQ2a!W1z\",\"clientId\":\"bob\","
           "\"connectionStateTtl\":120000,\"maxIdleInterval\":15000,"
           "\"maxMessageSize\":65536,\"maxFrameSize\":524288,"
           "\"maxInboundRate\":250,\"maxOutboundRate\":100,\"serverId\":"
           "\"node-1\"}}");
  /* Anonymous, with the legacy key, a site code and a failed resume. */
  details.client_id = NULL;
  details.site_code = "local";
  pm.connection_key = "hK3fP9xQ2a!W1z";
  pm.has_error = true;
  herald_error_set(&pm.error, 80008, "Unable to recover connection");
  pm.error.status = 400;
  assert_json_text(
      &pm, "{\"action\":4,\"connectionId\":\"hK3fP9xQ2a\",\"connectionKey\":"
           "\"hK3fP9xQ2a!W1z\",\"error\":{\"message\":\"Unable to recover "
           "connection\",\"code\":80008,\"statusCode\":400,\"href\":"
           "\"https://help.ably.io/error/80008\"},\"connectionDetails\":"
           "{\"connectionKey\":\"hK3fP9xQ2a!W1z\",\"connectionStateTtl\":"
           "120000,\"maxIdleInterval\":15000,\"maxMessageSize\":65536,"
           "\"maxFrameSize\":524288,\"maxInboundRate\":250,"
           "\"maxOutboundRate\":100,\"serverId\":\"node-1\",\"siteCode\":"
           "\"local\"}}");
  /* MessagePack carries the same members. */
  size_t len;
  char *out = write_pm(&pm, WIRE_MSGPACK, &len);
  struct wire_doc doc;
  assert_int_equal(wire_doc__parse(&doc, WIRE_MSGPACK, out, len, NULL), 0);
  struct wire_value root = wire_doc__root(&doc);
  assert_int_equal(wire_value__count(root), 5);
  struct wire_value d = wire_value__get(root, "connectionDetails");
  assert_int_equal(wire_value__count(d), 9);
  int64_t ttl = 0;
  assert_true(wire_value__int(wire_value__get(d, "connectionStateTtl"), &ttl));
  assert_int_equal(ttl, 120000);
  assert_int_equal(wire_value__kind(wire_value__get(d, "clientId")),
                   WIRE_ABSENT);
  wire_doc__cleanup(&doc);
  herald_free(out);
}

static void test_write_ack(void **state) {
  (void)state;
  static const char *const serials[] = {"01734567890300-000000@e1", NULL};
  struct publish_result res[] = {{serials, 2}, {NULL, 0}};
  struct protocol_message pm = {.action = PM_ACK,
                                .has_msg_serial = true,
                                .msg_serial = 2,
                                .count = 2,
                                .res = res,
                                .n_res = 2};
  assert_json_text(&pm, "{\"action\":1,\"msgSerial\":2,\"count\":2,\"res\":"
                        "[{\"serials\":[\"01734567890300-000000@e1\",null]},"
                        "{\"serials\":[]}]}");
  /* msgSerial 0 is present; Appendix C's first ACK. */
  pm.msg_serial = 0;
  pm.count = 1;
  pm.res = &res[1];
  pm.n_res = 1;
  assert_json_text(
      &pm, "{\"action\":1,\"msgSerial\":0,\"count\":1,\"res\":[{\"serials\":"
           "[]}]}");
  /* MessagePack, exactly: nil for the missing serial. */
  pm.res = res;
  pm.n_res = 2;
  size_t len;
  char *out = write_pm(&pm, WIRE_MSGPACK, &len);
  static const char packed[] =
      "\x84\xa6" "action\x01\xa9" "msgSerial\x00\xa5" "count\x01\xa3"
      "res\x92\x81\xa7" "serials\x92\xb8" "01734567890300-000000@e1\xc0"
      "\x81\xa7" "serials\x90";
  assert_int_equal(len, sizeof packed - 1);
  assert_memory_equal(out, packed, len);
  herald_free(out);
}

static void test_write_error(void **state) {
  (void)state;
  struct protocol_message pm = {.action = PM_ERROR, .has_error = true};
  herald_error_set(&pm.error, HERALD_E_TOKEN_EXPIRED, NULL);
  assert_json_text(&pm, "{\"action\":9,\"error\":{\"message\":\"Token "
                        "expired\",\"code\":40142,\"statusCode\":401,"
                        "\"href\":\"https://help.ably.io/error/40142\"}}");
  pm.channel = "room";
  herald_error_set(&pm.error, HERALD_E_CAPABILITY_DENIED, "Denied on %s",
                   "room");
  assert_json_text(&pm, "{\"action\":9,\"channel\":\"room\",\"error\":{"
                        "\"message\":\"Denied on room\",\"code\":40160,"
                        "\"statusCode\":401,\"href\":"
                        "\"https://help.ably.io/error/40160\"}}");
  /* Read back in both formats. */
  for (int f = 0; f < 2; f++) {
    struct protocol_message back;
    roundtrip(&pm, f ? WIRE_MSGPACK : WIRE_JSON, &back);
    assert_int_equal(back.action, PM_ERROR);
    assert_string_equal(back.channel, "room");
    assert_true(back.has_error);
    assert_int_equal(back.error.code, 40160);
    assert_int_equal(back.error.status, 401);
    assert_string_equal(back.error.message, "Denied on room");
    protocol_message__cleanup(&back);
  }
}

static void test_write_minimal(void **state) {
  (void)state;
  struct protocol_message pm = {.action = PM_HEARTBEAT};
  assert_json_text(&pm, "{\"action\":0}");
  size_t len;
  char *out = write_pm(&pm, WIRE_MSGPACK, &len);
  assert_int_equal(len, 9);
  assert_memory_equal(out, "\x81\xa6" "action\x00", 9);
  herald_free(out);
  pm.id = "ping-1";
  assert_json_text(&pm, "{\"action\":0,\"id\":\"ping-1\"}");
  /* AUTH (S->C) has no fields; ATTACHED with flags and params. */
  struct protocol_message auth = {.action = PM_AUTH};
  assert_json_text(&auth, "{\"action\":17}");
  char key[] = "rewind", value[] = "1";
  char *keys[] = {key}, *values[] = {value};
  struct protocol_message attached = {
      .action = PM_ATTACHED,
      .flags = 3080193,
      .channel = "room",
      .channel_serial = "01734567890000-000000@e1",
      .param_keys = keys,
      .param_values = values,
      .n_params = 1};
  assert_json_text(&attached,
                   "{\"action\":11,\"flags\":3080193,\"channel\":\"room\","
                   "\"channelSerial\":\"01734567890000-000000@e1\","
                   "\"params\":{\"rewind\":\"1\"}}");
}

/* A fanned-out MESSAGE: decoded from a publish, stamped, written, and read
 * back with the same fields in both formats. */
static void test_message_roundtrip(void **state) {
  (void)state;
  struct protocol_message pub;
  decode_ok(JSON_LIT("{\"action\":15,\"channel\":\"room\",\"msgSerial\":1,"
                     "\"params\":{\"k\":\"v\"},\"messages\":[{\"name\":"
                     "\"greet\",\"data\":\"hi\"},{\"name\":\"b\",\"data\":"
                     "\"AQID\",\"encoding\":\"base64\",\"extras\":{\"headers\":"
                     "{\"h\":\"1\"}}}]}"),
            &pub);
  for (size_t i = 0; i < pub.n_messages; i++) {
    pub.messages[i]->connection_id = herald_xstrdup("hK3fP9xQ2a");
    pub.messages[i]->timestamp = 1734567890300;
  }
  pub.messages[0]->serial = herald_xstrdup("01734567890300-000000@e1");
  struct protocol_message out = {.action = PM_MESSAGE,
                                 .flags = PM_FLAG_HAS_BACKLOG,
                                 .id = "hK3fP9xQ2a:1",
                                 .channel = pub.channel,
                                 .channel_serial = "01734567890300-000000@e1",
                                 .connection_id = "hK3fP9xQ2a",
                                 .has_msg_serial = true,
                                 .msg_serial = 7,
                                 .timestamp = 1734567890300,
                                 .messages = pub.messages,
                                 .n_messages = pub.n_messages,
                                 .param_keys = pub.param_keys,
                                 .param_values = pub.param_values,
                                 .n_params = pub.n_params};
  for (int f = 0; f < 2; f++) {
    struct protocol_message back;
    roundtrip(&out, f ? WIRE_MSGPACK : WIRE_JSON, &back);
    assert_int_equal(back.action, PM_MESSAGE);
    assert_int_equal(back.flags, PM_FLAG_HAS_BACKLOG);
    assert_string_equal(back.id, "hK3fP9xQ2a:1");
    assert_string_equal(back.channel, "room");
    assert_string_equal(back.channel_serial, "01734567890300-000000@e1");
    assert_string_equal(back.connection_id, "hK3fP9xQ2a");
    assert_true(back.has_msg_serial);
    assert_int_equal(back.msg_serial, 7);
    assert_int_equal(back.timestamp, 1734567890300);
    assert_int_equal(back.count, 0);
    assert_false(back.has_error);
    assert_int_equal(back.n_params, 1);
    assert_param(&back, 0, "k", "v");
    assert_int_equal(back.n_messages, 2);
    assert_string_equal(back.messages[0]->name, "greet");
    assert_payload(back.messages[0], PAYLOAD_STRING, "hi", 2);
    assert_string_equal(back.messages[1]->name, "b");
    assert_payload(back.messages[1], PAYLOAD_BINARY, "\x01\x02\x03", 3);
    assert_null(back.messages[1]->payload.encoding);
    assert_true(json_equal(back.messages[1]->extras, pub.messages[1]->extras));
    protocol_message__cleanup(&back);
  }
  protocol_message__cleanup(&pub);
}


/* ---- presence ------------------------------------------------------------ */

/* enterClient as ably-js sends it, in both formats. */
static void test_decode_presence(void **state) {
  (void)state;
  struct protocol_message pm;
  decode_ok(JSON_LIT("{\"action\":14,\"channel\":\"room\",\"msgSerial\":3,"
                     "\"presence\":[{\"action\":2,\"clientId\":\"bob\","
                     "\"data\":\"hi\",\"name\":\"ignored\"},{\"action\":4,"
                     "\"clientId\":\"al\",\"id\":\"c1:0:0\"}]}"),
            &pm);
  assert_int_equal(pm.action, PM_PRESENCE);
  assert_int_equal(pm.msg_serial, 3);
  assert_int_equal(pm.n_messages, 0);
  assert_int_equal(pm.n_presence, 2);
  assert_int_equal(pm.presence[0]->action, PRESENCE_ENTER);
  assert_string_equal(pm.presence[0]->client_id, "bob");
  assert_null(pm.presence[0]->name);
  assert_payload(pm.presence[0], PAYLOAD_STRING, "hi", 2);
  assert_int_equal(pm.presence[1]->action, PRESENCE_UPDATE);
  assert_string_equal(pm.presence[1]->id, "c1:0:0");
  protocol_message__cleanup(&pm);
  decode_ok(MP_LIT("\x83\xa6" "action\x0e\xa9" "msgSerial\x03\xa8" "presence"
                   "\x91\x83\xa6" "action\x03\xa8" "clientId\xa3" "bob\xa4"
                   "data\xc4\x02\x01\x02"),
            &pm);
  assert_int_equal(pm.n_presence, 1);
  assert_int_equal(pm.presence[0]->action, PRESENCE_LEAVE);
  assert_payload(pm.presence[0], PAYLOAD_BINARY, "\x01\x02", 2);
  protocol_message__cleanup(&pm);
}

/* A client may only send ENTER, LEAVE and UPDATE items, in an array. */
static void test_decode_presence_errors(void **state) {
  (void)state;
  assert_fails("{\"action\":14,\"presence\":[{\"clientId\":\"a\"}]}",
               MAX_MESSAGES, -40000);
  assert_fails("{\"action\":14,\"presence\":[{\"action\":1}]}", MAX_MESSAGES,
               -40000);
  assert_fails("{\"action\":14,\"presence\":[{\"action\":5}]}", MAX_MESSAGES,
               -40000);
  assert_fails("{\"action\":14,\"presence\":[{\"action\":\"enter\"}]}",
               MAX_MESSAGES, -40000);
  assert_fails("{\"action\":14,\"presence\":{\"action\":2}}", MAX_MESSAGES,
               -40000);
  assert_fails("{\"action\":14,\"presence\":[{\"action\":2},{\"action\":2}]}",
               1, -40034);
}

/* SYNC always carries its presence array; items have no name or serial. */
static void test_write_sync_and_presence(void **state) {
  (void)state;
  struct protocol_message sync = {.action = PM_SYNC, .channel = "room",
                                  .channel_serial = "sync1:"};
  assert_json_text(&sync, "{\"action\":16,\"channel\":\"room\","
                          "\"channelSerial\":\"sync1:\",\"presence\":[]}");
  struct message *m = message__new();
  m->id = herald_xstrdup("c1:8:0");
  m->name = herald_xstrdup("not written");
  m->serial = herald_xstrdup("01734567890200-000000@e1");
  m->client_id = herald_xstrdup("bob");
  m->connection_id = herald_xstrdup("c1");
  m->timestamp = 1734567890200;
  m->action = PRESENCE_ENTER;
  m->payload.type = PAYLOAD_STRING;
  m->payload.data = herald_xstrdup("hello");
  m->payload.len = 5;
  struct message *present = presence_message__copy(m, PRESENCE_PRESENT);
  sync.presence = &present;
  sync.n_presence = 1;
  assert_json_text(&sync,
                   "{\"action\":16,\"channel\":\"room\",\"channelSerial\":"
                   "\"sync1:\",\"presence\":[{\"id\":\"c1:8:0\",\"clientId\":"
                   "\"bob\",\"connectionId\":\"c1\",\"data\":\"hello\","
                   "\"timestamp\":1734567890200,\"action\":1}]}");
  message__unref(present);
  /* A broadcast ENTER reads back as what was sent, minus name and serial. */
  struct protocol_message broadcast = {.action = PM_PRESENCE, .channel = "room",
                                       .presence = &m, .n_presence = 1};
  struct protocol_message back;
  roundtrip(&broadcast, WIRE_MSGPACK, &back);
  assert_int_equal(back.n_presence, 1);
  assert_int_equal(back.presence[0]->action, PRESENCE_ENTER);
  assert_string_equal(back.presence[0]->id, "c1:8:0");
  assert_string_equal(back.presence[0]->client_id, "bob");
  assert_null(back.presence[0]->name);
  assert_null(back.presence[0]->serial);
  assert_payload(back.presence[0], PAYLOAD_STRING, "hello", 5);
  protocol_message__cleanup(&back);
  message__unref(m);
}

/* ANNOTATION as ably-js sends it: each annotation read (annotation.h),
 * the server's members ignored; written as subscribers receive it. */
static void test_decode_and_write_annotation(void **state) {
  struct protocol_message pm;
  decode_ok(JSON_LIT("{\"action\":21,\"channel\":\"c\",\"msgSerial\":4,"
                     "\"annotations\":[{\"action\":0,\"messageSerial\":\"s1\","
                     "\"type\":\"reaction:multiple.v1\",\"name\":\"x\","
                     "\"count\":2,\"data\":\"d\",\"serial\":\"forged\"},"
                     "{\"action\":1,\"messageSerial\":\"s1\","
                     "\"type\":\"r:flag.v1\",\"clientId\":\"bob\"}]}"),
            &pm);
  assert_int_equal(pm.action, PM_ANNOTATION);
  assert_int_equal(pm.n_annotations, 2);
  struct message *a = pm.annotations[0];
  assert_int_equal(a->action, ANNOTATION_CREATE);
  assert_string_equal(a->annotation->message_serial, "s1");
  assert_string_equal(a->annotation->type, "reaction:multiple.v1");
  assert_string_equal(a->name, "x");
  assert_true(a->annotation->has_count);
  assert_int_equal(a->annotation->count, 2);
  assert_null(a->serial); /* the server's to give */
  assert_payload(a, PAYLOAD_STRING, "d", 1);
  struct message *b = pm.annotations[1];
  assert_int_equal(b->action, ANNOTATION_DELETE);
  assert_false(b->annotation->has_count);
  assert_int_equal(b->annotation->count, 1);
  b->serial = herald_xstrdup("s2");
  b->id = herald_xstrdup("c:4:1");
  b->timestamp = 1700;
  struct protocol_message out = {.action = PM_ANNOTATION, .channel = "c",
                                 .annotations = &b, .n_annotations = 1};
  assert_json_text(&out, "{\"action\":21,\"channel\":\"c\",\"annotations\":"
                         "[{\"action\":1,\"id\":\"c:4:1\",\"serial\":\"s2\","
                         "\"messageSerial\":\"s1\",\"type\":\"r:flag.v1\","
                         "\"clientId\":\"bob\",\"timestamp\":1700}]}");
  struct protocol_message back;
  roundtrip(&out, WIRE_MSGPACK, &back);
  assert_int_equal(back.n_annotations, 1);
  assert_string_equal(back.annotations[0]->annotation->type, "r:flag.v1");
  protocol_message__cleanup(&back);
  protocol_message__cleanup(&pm);
}

static void test_decode_annotation_errors(void **state) {
  static const char *const bad_types[] = {
      "\"r\"", "\"r:flag\"", "\"r:flag.v2\"", "\":flag.v1\"", "\"r:sum.v1\"",
      "\"r:flag.v1x\""};
  char text[256];
  for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
    snprintf(text, sizeof text,
             "{\"action\":21,\"annotations\":[{\"messageSerial\":\"s\","
             "\"type\":%s}]}", bad_types[i]);
    assert_fails(text, MAX_MESSAGES, -HERALD_E_INVALID_PARAMETER_VALUE);
  }
  assert_fails("{\"action\":21,\"annotations\":[{\"type\":\"r:flag.v1\"}]}",
               MAX_MESSAGES, -HERALD_E_INVALID_PARAMETER_VALUE);
  assert_fails("{\"action\":21,\"annotations\":[{\"messageSerial\":\"\","
               "\"type\":\"r:flag.v1\"}]}",
               MAX_MESSAGES, -HERALD_E_INVALID_PARAMETER_VALUE);
  assert_fails("{\"action\":21,\"annotations\":[{\"messageSerial\":\"s\","
               "\"type\":\"r:flag.v1\",\"action\":2}]}",
               MAX_MESSAGES, -HERALD_E_INVALID_PARAMETER_VALUE);
  assert_fails("{\"action\":21,\"annotations\":[{\"messageSerial\":\"s\","
               "\"type\":\"r:multiple.v1\",\"count\":-1}]}",
               MAX_MESSAGES, -HERALD_E_INVALID_PARAMETER_VALUE);
  assert_fails("{\"action\":21,\"annotations\":[{\"messageSerial\":7,"
               "\"type\":\"r:flag.v1\"}]}",
               MAX_MESSAGES, -HERALD_E_INVALID_REQUEST_BODY);
  assert_fails("{\"action\":21,\"annotations\":{}}", MAX_MESSAGES,
               -HERALD_E_BAD_REQUEST);
  assert_fails("{\"action\":21,\"annotations\":[{\"messageSerial\":\"s\","
               "\"type\":\"r:flag.v1\"},{\"messageSerial\":\"s\","
               "\"type\":\"r:flag.v1\"}]}",
               1, -HERALD_E_TOO_MANY_MESSAGES);
  assert_int_equal(annotation__method("a:b:total.v1"), ANNOTATION_METHOD_INVALID);
  assert_int_equal(annotation__method("ns:unique.v1"), ANNOTATION_UNIQUE);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_decode_attach),
      TEST(test_decode_message),
      TEST(test_decode_integer_widths),
      TEST(test_decode_heartbeat_auth_fields),
      TEST(test_decode_null_is_absent),
      TEST(test_decode_unknown_fields_ignored),
      TEST(test_decode_errors),
      TEST(test_decode_errors_msgpack),
      TEST(test_failed_publish_keeps_action_and_msg_serial),
      TEST(test_decode_too_many_messages),
      TEST(test_write_connected),
      TEST(test_write_ack),
      TEST(test_write_error),
      TEST(test_write_minimal),
      TEST(test_message_roundtrip),
      TEST(test_decode_presence),
      TEST(test_decode_presence_errors),
      TEST(test_write_sync_and_presence),
      TEST(test_decode_and_write_annotation),
      TEST(test_decode_annotation_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
