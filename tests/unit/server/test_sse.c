/* test_sse.c -- the event-stream renderings of a MESSAGE
 * (server/transport/sse.c, sse__pm_frame), byte for byte: one event per
 * item, the last one left open for the stream's id; SSE and JSON lines,
 * enveloped and bare; payloads of every type, line breaks in SSE data and
 * in JSON-encoded data; PRESENCE as presence events; other actions have
 * no rendering of these kinds. The streams themselves (ids, keepalives,
 * errors) are exercised end to end by tests/integration/sse.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "alloc.h"
#include "leak_check.h"
#include "message.h"
#include "protocol_message.h"
#include "transport/frame.h"
#include "transport/sse.h"

static struct message *item(const char *name, enum payload_type type,
                            const char *data, size_t len,
                            const char *encoding) {
  struct message *m = message__new();
  m->id = herald_xstrdup("abc:0:0");
  m->name = name ? herald_xstrdup(name) : NULL;
  m->serial = herald_xstrdup("01700000000000-000@n:000");
  m->timestamp = 1700000000000;
  m->payload.type = type;
  m->payload.data = data ? herald_xstrndup(data, len) : NULL;
  m->payload.len = len;
  m->payload.encoding = encoding ? herald_xstrdup(encoding) : NULL;
  return m;
}

static struct message *text_item(const char *data, const char *encoding) {
  return item("n", PAYLOAD_STRING, data, strlen(data), encoding);
}

static struct message *binary_item(const char *name, const char *bytes,
                                   size_t len) {
  return item(name, PAYLOAD_BINARY, bytes, len, NULL);
}

/* Renders the items (taken over) as a MESSAGE on channel "ch", compares. */
static void assert_renders(enum frame_kind kind, struct message **items,
                           size_t n, const char *want) {
  struct protocol_message pm = {.action = PM_MESSAGE, .channel = "ch",
                                .messages = items, .n_messages = n};
  struct frame *f = sse__pm_frame(kind, &pm);
  assert_non_null(f);
  char *got = herald_xstrndup(f->data, f->len);
  assert_string_equal(got, want);
  herald_free(got);
  frame__unref(f);
  for (size_t i = 0; i < n; i++) message__unref(items[i]);
}

static void test_sse_enveloped_events_leave_the_last_open(void **state) {
  struct message *items[] = {text_item("a", NULL), text_item("b", NULL)};
  assert_renders(FRAME_SSE, items, 2,
                 "event: message\ndata: {\"id\":\"abc:0:0\",\"name\":\"n\","
                 "\"serial\":\"01700000000000-000@n:000\",\"channel\":\"ch\","
                 "\"data\":\"a\",\"timestamp\":1700000000000,\"action\":0}\n\n"
                 "event: message\ndata: {\"id\":\"abc:0:0\",\"name\":\"n\","
                 "\"serial\":\"01700000000000-000@n:000\",\"channel\":\"ch\","
                 "\"data\":\"b\",\"timestamp\":1700000000000,\"action\":0}\n");
}

static void test_sse_bare_payloads(void **state) {
  struct message *items[] = {
      text_item("plain", NULL),
      text_item("{\"a\":1}", "json"),
      binary_item("b", "\x00\x01\xfa\xff", 4),
      text_item("one\ntwo\r\nthree\rfour\n", "utf-8"),
      item("none", PAYLOAD_NONE, NULL, 0, NULL),
  };
  assert_renders(FRAME_SSE_BARE, items, 5,
                 "event: message\ndata: plain\n\n"
                 "event: message\ndata: {\"a\":1}\n\n"
                 "event: message\ndata: AAH6/w==\n\n"
                 "event: message\ndata: one\ndata: two\ndata: three\n"
                 "data: four\ndata: \n\n"
                 "event: message\ndata: \n");
}

static void test_json_lines_enveloped(void **state) {
  struct message *items[] = {binary_item(NULL, "hi", 2)};
  assert_renders(FRAME_EVENTS, items, 1,
                 "{\"event\":\"message\",\"data\":{\"id\":\"abc:0:0\","
                 "\"serial\":\"01700000000000-000@n:000\",\"channel\":\"ch\","
                 "\"data\":\"aGk=\",\"encoding\":\"base64\","
                 "\"timestamp\":1700000000000,\"action\":0}");
}

static void test_json_lines_bare_payloads_are_json_values(void **state) {
  struct message *items[] = {
      text_item("line \"1\"\nline 2", NULL),
      text_item("{\n  \"a\": [1,\n 2]\r\n}", "json"),
      text_item("not json", "json"),
      binary_item("b", "hi", 2),
      item("none", PAYLOAD_NONE, NULL, 0, NULL),
  };
  assert_renders(FRAME_EVENTS_BARE, items, 5,
                 "{\"event\":\"message\",\"data\":\"line \\\"1\\\"\\nline 2\"}\n"
                 "{\"event\":\"message\",\"data\":{   \"a\": [1,  2]  }}\n"
                 "{\"event\":\"message\",\"data\":\"not json\"}\n"
                 "{\"event\":\"message\",\"data\":\"aGk=\"}\n"
                 "{\"event\":\"message\",\"data\":null");
}

static void test_presence_and_other_actions(void **state) {
  struct message *m = text_item("here", NULL);
  m->action = PRESENCE_ENTER;
  struct protocol_message pm = {.action = PM_PRESENCE, .channel = "ch",
                                .presence = &m, .n_presence = 1};
  struct frame *f = sse__pm_frame(FRAME_SSE_BARE, &pm);
  assert_non_null(f);
  assert_int_equal(f->len, strlen("event: presence\ndata: here\n"));
  assert_memory_equal(f->data, "event: presence\ndata: here\n", f->len);
  frame__unref(f);
  message__unref(m);
  struct protocol_message hb = {.action = PM_HEARTBEAT};
  assert_null(sse__pm_frame(FRAME_SSE, &hb));
  assert_true(sse__kind(FRAME_EVENTS_BARE));
  assert_false(sse__kind(FRAME_WS_JSON));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sse_enveloped_events_leave_the_last_open,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_sse_bare_payloads, leak_check__setup,
                                      leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_json_lines_enveloped,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_json_lines_bare_payloads_are_json_values,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_presence_and_other_actions,
                                      leak_check__setup, leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
