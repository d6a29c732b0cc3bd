/* test_webhook_payload.c -- webhook rules (webhook_rule.c: defaults,
 * refusals, the channel filter) and requests (webhook_payload.c: batched,
 * single enveloped, non-enveloped, in JSON and MessagePack, their headers
 * and an HMAC-SHA256 signature checked against a known vector) and events
 * kept as records. Every test
 * checks that the live allocation count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>

#include "alloc.h"
#include "leak_check.h"
#include "webhook_payload.h"
#include "webhook_rule.h"

static struct webhook_rule *rule_of(const char *json) {
  json_t *def = json_loads(json, 0, NULL);
  assert_non_null(def);
  struct webhook_rule *r = NULL;
  herald_error err;
  int rc = webhook_rule__parse(def, "generated", &r, &err);
  json_decref(def);
  if (rc) print_error("%s\n", err.message);
  assert_int_equal(rc, 0);
  return r;
}

static int refusal(const char *json) {
  json_t *def = json_loads(json, 0, NULL);
  struct webhook_rule *r = NULL;
  herald_error err;
  int rc = webhook_rule__parse(def, "generated", &r, &err);
  json_decref(def);
  assert_null(r);
  return rc;
}

static void test_rule_defaults(void **state) {
  (void)state;
  struct webhook_rule *r = rule_of(
      "{\"source\":{\"type\":\"channel.presence\"},"
      "\"target\":{\"url\":\"https://example.com/x\"}}");
  assert_string_equal(r->id, "generated");
  assert_false(r->batch);
  assert_true(r->enabled);
  assert_true(r->enveloped);
  assert_int_equal(r->format, WIRE_JSON);
  assert_int_equal(r->source, WEBHOOK_PRESENCE);
  assert_string_equal(json_string_value(json_object_get(r->def, "requestMode")),
                      "single");
  assert_true(webhook_rule__matches(r, WEBHOOK_PRESENCE, "anything"));
  assert_false(webhook_rule__matches(r, WEBHOOK_MESSAGE, "anything"));
  webhook_rule__free(r);
}

static void test_rule_filter_and_headers(void **state) {
  (void)state;
  struct webhook_rule *r = rule_of(
      "{\"id\":\"r1\",\"requestMode\":\"batch\",\"status\":\"enabled\","
      "\"source\":{\"type\":\"channel.message\",\"channelFilter\":\"^room:[0-9]+$\"},"
      "\"target\":{\"url\":\"http://h/\",\"format\":\"msgpack\","
      "\"headers\":[{\"name\":\"A\",\"value\":\"1\"}]}}");
  assert_true(webhook_rule__matches(r, WEBHOOK_MESSAGE, "room:12"));
  assert_false(webhook_rule__matches(r, WEBHOOK_MESSAGE, "room:x"));
  assert_false(webhook_rule__matches(r, WEBHOOK_MESSAGE, "aroom:1"));
  assert_int_equal(r->n_headers, 1);
  assert_string_equal(r->headers[0].name, "A");
  webhook_rule__free(r);
  r = rule_of("{\"status\":\"disabled\",\"source\":{\"type\":\"channel.message\"},"
              "\"target\":{\"url\":\"http://h/\"}}");
  assert_false(webhook_rule__matches(r, WEBHOOK_MESSAGE, "c"));
  webhook_rule__free(r);
}

static void test_rule_refusals(void **state) {
  (void)state;
  const char *bad[] = {
      "[]",
      "{\"target\":{\"url\":\"http://h/\"}}",
      "{\"source\":{\"type\":\"channel.message\"}}",
      "{\"source\":{\"type\":\"channel.message\",\"channelFilter\":\"[\"},"
      "\"target\":{\"url\":\"http://h/\"}}",
      "{\"source\":{\"type\":\"channel.message\"},\"target\":{\"url\":\"file:///x\"}}",
      "{\"requestMode\":\"batch\",\"source\":{\"type\":\"channel.message\"},"
      "\"target\":{\"url\":\"http://h/\",\"enveloped\":false}}",
      "{\"source\":{\"type\":\"channel.lifecycle\"},"
      "\"target\":{\"url\":\"http://h/\",\"enveloped\":false}}",
      "{\"id\":\"a/b\",\"source\":{\"type\":\"channel.message\"},"
      "\"target\":{\"url\":\"http://h/\"}}",
      "{\"source\":{\"type\":\"channel.message\"},"
      "\"target\":{\"url\":\"http://h/\",\"headers\":{\"X\":\"a\\r\\nB: c\"}}}",
      "{\"requestMode\":\"many\",\"source\":{\"type\":\"channel.message\"},"
      "\"target\":{\"url\":\"http://h/\"}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(refusal(bad[i]), -HERALD_E_INVALID_PARAMETER_VALUE);
}

static struct webhook_event *event(const char *items) {
  struct webhook_event *e = herald_xcalloc(1, sizeof *e);
  e->source = WEBHOOK_MESSAGE;
  e->channel = herald_xstrdup("room:1");
  e->name = herald_xstrdup("channel.message");
  e->serial = herald_xstrdup("s1");
  e->timestamp = 1700000000000;
  e->items = herald_xstrdup(items);
  e->items_len = strlen(items);
  return e;
}

static const char *header(const struct webhook_request *req, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < req->n_headers; i++)
    if (!strncmp(req->headers[i], name, n) && req->headers[i][n] == ':')
      return req->headers[i] + n + 2;
  return NULL;
}

static void test_batch_json_signed(void **state) {
  (void)state;
  struct webhook_rule *r = rule_of(
      "{\"id\":\"b\",\"requestMode\":\"batch\",\"source\":{\"type\":"
      "\"channel.message\"},\"target\":{\"url\":\"http://h/\",\"signingKey\":"
      "\"app.key\"}}");
  struct webhook_event *events[2] = {event("[{\"data\":\"x\"}]"),
                                     event("[{\"data\":\"y\"}]")};
  struct webhook_request req;
  webhook_payload__build(r, "app", events, 2, "secret", &req);
  const char want[] =
      "{\"items\":[{\"webhookId\":\"b\",\"source\":\"channel.message\","
      "\"serial\":\"s1\",\"timestamp\":1700000000000,\"name\":"
      "\"channel.message\",\"data\":{\"channelId\":\"room:1\",\"site\":"
      "\"herald\",\"messages\":[{\"data\":\"x\"}]}},{\"webhookId\":\"b\","
      "\"source\":\"channel.message\",\"serial\":\"s1\",\"timestamp\":"
      "1700000000000,\"name\":\"channel.message\",\"data\":{\"channelId\":"
      "\"room:1\",\"site\":\"herald\",\"messages\":[{\"data\":\"y\"}]}}]}";
  assert_int_equal(req.len, sizeof want - 1); /* the body has no NUL */
  assert_memory_equal(req.body, want, req.len);
  assert_string_equal(header(&req, "X-Ably-Version"), "1.2");
  assert_string_equal(header(&req, "Content-Type"), "application/json");
  assert_string_equal(header(&req, "X-Ably-Key"), "app.key");
  char *sig = webhook_payload__signature("secret", req.body, req.len);
  assert_string_equal(header(&req, "X-Ably-Signature"), sig);
  herald_free(sig);
  webhook_payload__request_cleanup(&req);
  webhook_payload__event_free(events[0]);
  webhook_payload__event_free(events[1]);
  webhook_rule__free(r);
}

/* RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?"). */
static void test_signature_vector(void **state) {
  (void)state;
  const char *data = "what do ya want for nothing?";
  char *sig = webhook_payload__signature("Jefe", data, strlen(data));
  assert_string_equal(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
  herald_free(sig);
}

static void test_single_msgpack(void **state) {
  (void)state;
  struct webhook_rule *r = rule_of(
      "{\"id\":\"s\",\"source\":{\"type\":\"channel.message\"},"
      "\"target\":{\"url\":\"http://h/\",\"format\":\"msgpack\"}}");
  const char items[] = "\x91\x81\xa4" "data" "\xa1x"; /* [{"data":"x"}] */
  struct webhook_event *e = herald_xcalloc(1, sizeof *e);
  e->source = WEBHOOK_MESSAGE;
  e->channel = herald_xstrdup("c");
  e->name = herald_xstrdup("channel.message");
  e->serial = herald_xstrdup("s1");
  e->items = herald_xmalloc(sizeof items - 1);
  memcpy(e->items, items, sizeof items - 1);
  e->items_len = sizeof items - 1;
  struct webhook_request req;
  webhook_payload__build(r, "app", &e, 1, NULL, &req);
  assert_null(header(&req, "X-Ably-Signature"));
  assert_null(header(&req, "X-Ably-Version"));
  assert_string_equal(header(&req, "Content-Type"), "application/x-msgpack");
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  assert_int_equal(msgpack_unpack_next(&u, req.body, req.len, NULL),
                   MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
  const char *keys[] = {"source", "appId", "channel", "site", "ruleId",
                        "messages"};
  assert_int_equal(u.data.via.map.size, 6);
  for (size_t i = 0; i < 6; i++) {
    msgpack_object k = u.data.via.map.ptr[i].key;
    assert_int_equal(k.via.str.size, strlen(keys[i]));
    assert_memory_equal(k.via.str.ptr, keys[i], k.via.str.size);
  }
  msgpack_unpacked_destroy(&u);
  webhook_payload__request_cleanup(&req);
  webhook_payload__event_free(e);
  webhook_rule__free(r);
}

static void test_non_enveloped(void **state) {
  (void)state;
  struct webhook_rule *r = rule_of(
      "{\"id\":\"n\",\"source\":{\"type\":\"channel.message\"},"
      "\"target\":{\"url\":\"http://h/\",\"enveloped\":false,"
      "\"headers\":{\"X-Mine\":\"1\"}}}");
  struct webhook_event *e = event("[]");
  e->bare.id = herald_xstrdup("m1");
  e->bare.name = herald_xstrdup("greet\r\nX-Evil: 1");
  e->bare.encoding = herald_xstrdup("base64");
  e->bare.data = herald_xstrdup("aGk=");
  e->bare.data_len = 4;
  struct webhook_request req;
  webhook_payload__build(r, "app", &e, 1, NULL, &req);
  assert_int_equal(req.len, 4);
  assert_memory_equal(req.body, "aGk=", 4);
  assert_string_equal(header(&req, "X-Ably-Envelope-Channel"), "room:1");
  assert_string_equal(header(&req, "X-Ably-Envelope-RuleId"), "n");
  assert_string_equal(header(&req, "X-Ably-Message-Id"), "m1");
  assert_string_equal(header(&req, "X-Ably-Message-Encoding"), "base64");
  assert_string_equal(header(&req, "X-Ably-Message-Name"), "greet  X-Evil: 1");
  assert_string_equal(header(&req, "X-Mine"), "1");
  webhook_payload__request_cleanup(&req);
  webhook_payload__event_free(e);
  webhook_rule__free(r);
}

/* An event kept as a record reads back as it was, binary bytes too. */
static void test_event_round_trip(void **state) {
  (void)state;
  struct webhook_event *e = event("\x91\xc4\x01");
  e->items[2] = 0; /* a NUL inside the bytes */
  e->bare.id = herald_xstrdup("m1");
  e->bare.client_id = herald_xstrdup("alice");
  e->bare.data = herald_xstrdup("hi");
  e->bare.data_len = 2;
  char *text = webhook_payload__event_json(e);
  struct webhook_event *back = webhook_payload__event_parse(text);
  assert_non_null(back);
  assert_int_equal(back->source, e->source);
  assert_string_equal(back->channel, e->channel);
  assert_string_equal(back->name, e->name);
  assert_string_equal(back->serial, e->serial);
  assert_int_equal(back->timestamp, e->timestamp);
  assert_int_equal(back->items_len, e->items_len);
  assert_memory_equal(back->items, e->items, e->items_len);
  assert_string_equal(back->bare.id, "m1");
  assert_string_equal(back->bare.client_id, "alice");
  assert_null(back->bare.connection_id);
  assert_int_equal(back->bare.data_len, 2);
  assert_memory_equal(back->bare.data, "hi", 2);
  assert_null(webhook_payload__event_parse("{\"source\":9}"));
  assert_null(webhook_payload__event_parse("not json"));
  herald_free(text);
  webhook_payload__event_free(back);
  webhook_payload__event_free(e);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_rule_defaults),     TEST(test_rule_filter_and_headers),
      TEST(test_rule_refusals),     TEST(test_batch_json_signed),
      TEST(test_signature_vector),  TEST(test_single_msgpack),
      TEST(test_non_enveloped),     TEST(test_event_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
