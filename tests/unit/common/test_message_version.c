/* test_message_version.c -- changes of mutable messages
 * (common/message_version.h): decoding what ably-js sends (action, serial,
 * version), the mixin of an update or delete, an append's joined data and
 * its refusals, the wire form of a changed message and the stored JSON
 * form. Every test checks that the live allocation count returns to where
 * it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "leak_check.h"
#include "message_version.h"

/* Decodes a Message from JSON text: its rc, *out set on success. */
static int decode(const char *text, struct message **out, herald_error *err) {
  struct wire_doc doc;
  assert_int_equal(wire_doc__parse(&doc, WIRE_JSON, text, strlen(text), err), 0);
  int rc = message__decode(wire_doc__root(&doc), out, err);
  wire_doc__cleanup(&doc);
  return rc;
}

static struct message *decode_ok(const char *text) {
  struct message *m = NULL;
  herald_error err;
  assert_int_equal(decode(text, &m, &err), 0);
  return m;
}

/* A stored message as created: serial s1, timestamp 1000. */
static struct message *created(void) {
  struct message *m = decode_ok(
      "{\"id\":\"x:0:0\",\"name\":\"n\",\"clientId\":\"alice\",\"data\":\"Hello\","
      "\"extras\":{\"headers\":{\"a\":\"1\"}}}");
  m->serial = herald_xstrdup("s1");
  m->timestamp = 1000;
  m->connection_id = herald_xstrdup("conn");
  return m;
}

/* The change text, stamped as version s2 at time 2000. */
static struct message *stamped(const char *text) {
  struct message *c = decode_ok(text);
  c->serial = herald_xstrdup("s2");
  c->timestamp = 2000;
  return c;
}

static void test_decodes_a_change(void **state) {
  struct message *m = decode_ok(
      "{\"serial\":\"s1\",\"action\":1,\"data\":\"x\",\"version\":"
      "{\"clientId\":\"bob\",\"description\":\"why\",\"metadata\":{\"k\":\"v\"}}}");
  assert_true(message_version__is_change(m));
  assert_int_equal(m->action, MESSAGE_UPDATE);
  assert_string_equal(m->version->of, "s1");
  assert_string_equal(m->version->client_id, "bob");
  assert_string_equal(m->version->description, "why");
  assert_string_equal(json_string_value(json_object_get(m->version->metadata, "k")), "v");
  message__unref(m);
  m = decode_ok("{\"action\":0,\"data\":\"plain\"}");
  assert_false(message_version__is_change(m));
  assert_null(m->version);
  message__unref(m);
}

static void test_refuses_malformed_changes(void **state) {
  static const char *const bad[] = {
      "{\"action\":1,\"data\":\"no serial\"}",
      "{\"serial\":\"\",\"action\":2}",
      "{\"serial\":\"s1\",\"action\":4}",
      "{\"serial\":\"s1\",\"action\":\"1\"}",
      "{\"serial\":\"s1\",\"action\":1,\"version\":[]}",
      "{\"serial\":\"s1\",\"action\":1,\"version\":{\"metadata\":{\"n\":1}}}",
      "{\"serial\":\"s1\",\"action\":1,\"version\":{\"clientId\":7}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct message *m = NULL;
    herald_error err;
    int rc = decode(bad[i], &m, &err);
    assert_true(rc == -HERALD_E_INVALID_PARAMETER_VALUE ||
                rc == -HERALD_E_INVALID_REQUEST_BODY);
    assert_null(m);
  }
}

static void test_an_update_replaces_what_it_carries(void **state) {
  struct message *now = created();
  struct message *change = stamped("{\"serial\":\"s1\",\"action\":1,\"data\":\"Bye\"}");
  struct message *out = NULL;
  herald_error err;
  assert_int_equal(message_version__apply(now, change, &out, &err), 0);
  assert_int_equal(out->action, MESSAGE_UPDATE);
  assert_string_equal(out->payload.data, "Bye");
  assert_string_equal(out->name, "n");
  assert_non_null(json_object_get(out->extras, "headers"));
  assert_string_equal(out->client_id, "alice");
  assert_string_equal(out->id, "x:0:0");
  assert_string_equal(out->serial, "s2");
  assert_int_equal(out->timestamp, 2000);
  assert_string_equal(out->version->of, "s1");
  assert_int_equal(out->version->created, 1000);
  message__unref(out);
  message__unref(change);
  /* a delete without data keeps it; its action is delete */
  change = stamped("{\"serial\":\"s1\",\"action\":2,\"name\":\"gone\"}");
  assert_int_equal(message_version__apply(now, change, &out, &err), 0);
  assert_int_equal(out->action, MESSAGE_DELETE);
  assert_string_equal(out->payload.data, "Hello");
  assert_string_equal(out->name, "gone");
  message__unref(out);
  message__unref(change);
  message__unref(now);
}

static void test_an_append_joins_data_of_the_same_kind(void **state) {
  struct message *now = created();
  struct message *change = stamped("{\"serial\":\"s1\",\"action\":5,\"data\":\", world\"}");
  struct message *out = NULL;
  herald_error err;
  assert_int_equal(message_version__apply(now, change, &out, &err), 0);
  assert_int_equal(out->action, MESSAGE_UPDATE);
  assert_int_equal(out->payload.len, strlen("Hello, world"));
  assert_string_equal(out->payload.data, "Hello, world");
  message__unref(out);
  message__unref(change);
  static const char *const refused[] = {
      "{\"serial\":\"s1\",\"action\":5,\"data\":\"AAEC\",\"encoding\":\"base64\"}",
      "{\"serial\":\"s1\",\"action\":5,\"data\":{\"a\":1}}",
      "{\"serial\":\"s1\",\"action\":5,\"data\":\"x\",\"encoding\":\"utf-8/cipher+aes-128-cbc\"}",
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    change = stamped(refused[i]);
    out = NULL;
    assert_int_equal(message_version__apply(now, change, &out, &err),
                     -HERALD_E_INVALID_PARAMETER_VALUE);
    assert_null(out);
    message__unref(change);
  }
  message__unref(now);
}

static void test_a_changed_message_is_written_with_its_version(void **state) {
  struct message *now = created();
  struct message *change = stamped(
      "{\"serial\":\"s1\",\"action\":1,\"data\":\"B\",\"version\":{\"description\":\"d\"}}");
  struct message *out = NULL;
  herald_error err;
  assert_int_equal(message_version__apply(now, change, &out, &err), 0);
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  message__write(out, &w);
  size_t len;
  char *text = wire_writer__finish(&w, &len);
  json_t *j = json_loadb(text, len, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(j, "serial")), "s1");
  assert_int_equal(json_integer_value(json_object_get(j, "timestamp")), 1000);
  assert_int_equal(json_integer_value(json_object_get(j, "action")), 1);
  json_t *version = json_object_get(j, "version");
  assert_string_equal(json_string_value(json_object_get(version, "serial")), "s2");
  assert_int_equal(json_integer_value(json_object_get(version, "timestamp")), 2000);
  assert_string_equal(json_string_value(json_object_get(version, "description")), "d");
  json_decref(j);
  herald_free(text);
  wire_writer__cleanup(&w);
  message__unref(out);
  message__unref(change);
  message__unref(now);
}

static void test_the_stored_form_round_trips(void **state) {
  struct message *change = stamped(
      "{\"serial\":\"s1\",\"action\":2,\"version\":{\"clientId\":\"mod\","
      "\"metadata\":{\"why\":\"spam\"}}}");
  change->version->created = 1000;
  json_t *j = message_version__to_json(change->version);
  struct message_version *v = message_version__from_json(j);
  assert_non_null(v);
  assert_string_equal(v->of, "s1");
  assert_int_equal(v->created, 1000);
  assert_string_equal(v->client_id, "mod");
  assert_null(v->description);
  assert_true(json_equal(v->metadata, change->version->metadata));
  message_version__free(v);
  json_decref(j);
  json_t *broken = json_pack("{s:i}", "of", 3);
  assert_null(message_version__from_json(broken));
  json_decref(broken);
  message__unref(change);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_decodes_a_change),
      TEST(test_refuses_malformed_changes),
      TEST(test_an_update_replaces_what_it_carries),
      TEST(test_an_append_joins_data_of_the_same_kind),
      TEST(test_a_changed_message_is_written_with_its_version),
      TEST(test_the_stored_form_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
