/* test_redis_batch.c -- the redis engine's stored form of a publish
 * (server/store/redis_batch.c): what is encoded decodes to the same
 * messages, stamped from the entry id (serial per index, timestamp = the
 * id's time); entry ids parse only in the serial's range; bytes that are
 * not a batch -- truncated, wrong shape, a node that cannot be in a
 * serial -- are refused without a leak. A changed message (mutable
 * messages), stored unstamped, comes back with its version: the message it
 * changes, its creation time and the operation, its own serial and
 * timestamp from the entry id; a stored state "<id> <batch>" decodes to
 * that one changed message, and anything else is refused. An annotation
 * comes back as the annotation it was (type, messageSerial, count,
 * action), stamped, with its message's serial, creation time and summary,
 * the summary counting up to the annotation's serial; stored as a summary
 * "<id> <batch>" it decodes to that message; a summary that is not an
 * annotation's, or an annotation batch of two, is refused.
 * tests/fuzz/fuzz_redis_batch.c throws arbitrary bytes at the decoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "leak_check.h"
#include "message.h"
#include "message_version.h"
#include "store/redis_batch.h"
#include "wire.h"

static struct message *item(const char *name, const char *data,
                            enum payload_type type, size_t len) {
  struct message *m = message__new();
  m->id = herald_xstrdup("conn:7:0");
  m->name = name ? herald_xstrdup(name) : NULL;
  m->client_id = herald_xstrdup("alice");
  m->connection_id = herald_xstrdup("conn");
  m->payload.type = type;
  m->payload.data = herald_xstrndup(data, len);
  m->payload.len = len;
  return m;
}

static void test_round_trip_stamps_from_the_entry_id(void **state) {
  struct message *in[2] = {item("greeting", "hello", PAYLOAD_STRING, 5),
                           item(NULL, "\0\1\2", PAYLOAD_BINARY, 3)};
  in[1]->action = 3;
  size_t len;
  char *bytes = redis_batch__encode("rNode_-1", "conn:7", "conn", in, 2, &len);
  assert_non_null(bytes);
  struct redis_batch b;
  herald_error err;
  assert_int_equal(redis_batch__decode(bytes, len, 1700000000123, 42, &b, &err), 0);
  assert_string_equal(b.message_id, "conn:7");
  assert_string_equal(b.connection_id, "conn");
  assert_int_equal(b.count, 2);
  assert_string_equal(b.messages[0]->serial, "01700000000123-042@rNode_-1:000");
  assert_string_equal(b.messages[1]->serial, "01700000000123-042@rNode_-1:001");
  assert_int_equal(b.messages[0]->timestamp, 1700000000123);
  assert_string_equal(b.messages[0]->name, "greeting");
  assert_string_equal(b.messages[0]->client_id, "alice");
  assert_string_equal(b.messages[0]->connection_id, "conn");
  assert_int_equal(b.messages[0]->payload.type, PAYLOAD_STRING);
  assert_memory_equal(b.messages[0]->payload.data, "hello", 5);
  assert_int_equal(b.messages[1]->payload.type, PAYLOAD_BINARY);
  assert_int_equal(b.messages[1]->payload.len, 3);
  assert_memory_equal(b.messages[1]->payload.data, "\0\1\2", 3);
  assert_int_equal(b.messages[1]->action, 3);
  redis_batch__cleanup(&b);
  herald_free(bytes);
  message__unref(in[0]);
  message__unref(in[1]);
}

static void test_entry_ids(void **state) {
  int64_t ms;
  unsigned seq;
  assert_true(redis_batch__parse_id("1700000000123-0", 15, &ms, &seq));
  assert_int_equal(ms, 1700000000123);
  assert_int_equal(seq, 0);
  assert_true(redis_batch__parse_id("5-999", 5, &ms, &seq));
  assert_int_equal(seq, 999);
  const char *bad[] = {"", "-1", "5-", "5-1000", "5-1a", "a-1", "5", "5--1",
                       "1234567890123456-0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(redis_batch__parse_id(bad[i], strlen(bad[i]), &ms, &seq));
}

/* Writes [node, id, conn, items] with items given as raw values. */
static char *batch_of(const char *node, size_t n_items, bool item_is_map,
                      size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_MSGPACK);
  wire_writer__array(&w, 4);
  wire_writer__str(&w, node);
  wire_writer__str(&w, "id");
  wire_writer__str(&w, "conn");
  wire_writer__array(&w, n_items);
  for (size_t i = 0; i < n_items; i++) {
    if (!item_is_map) {
      wire_writer__int(&w, 1);
      continue;
    }
    wire_writer__map(&w, i == n_items - 1 ? 1 : 2);
    wire_writer__kv_str(&w, "name", "x");
    if (i != n_items - 1) wire_writer__kv_str(&w, "connectionId", "conn");
  }
  char *out = wire_writer__finish(&w, len);
  wire_writer__cleanup(&w);
  return out;
}

static void assert_refused(const char *bytes, size_t len) {
  struct redis_batch b;
  herald_error err;
  assert_true(redis_batch__decode(bytes, len, 1, 0, &b, &err) < 0);
  assert_null(b.messages);
}

static void test_malformed_batches_are_refused(void **state) {
  struct message *in[1] = {item("n", "d", PAYLOAD_STRING, 1)};
  size_t len;
  char *good = redis_batch__encode("node", "id", "conn", in, 1, &len);
  for (size_t cut = 0; cut < len; cut++) assert_refused(good, cut);
  herald_free(good);
  message__unref(in[0]);

  char *bytes = batch_of("node", 0, true, &len); /* no messages */
  assert_refused(bytes, len);
  herald_free(bytes);
  bytes = batch_of("node", 2, false, &len); /* items not maps */
  assert_refused(bytes, len);
  herald_free(bytes);
  bytes = batch_of("node", 3, true, &len); /* the last lacks connectionId */
  assert_refused(bytes, len);
  herald_free(bytes);
  bytes = batch_of("no de", 1, false, &len);
  assert_refused(bytes, len);
  herald_free(bytes);
  in[0] = item("n", "d", PAYLOAD_STRING, 1);
  bytes = redis_batch__encode("bad node!", "id", "conn", in, 1, &len);
  assert_refused(bytes, len); /* a node no serial may name */
  herald_free(bytes);
  message__unref(in[0]);
  assert_refused("\x93\xa1x\xa1y\xa1z", 7); /* three members, not four */
  assert_refused("\xa0", 1);                   /* not an array */
}

/* An update of "01700000000000-003@rOther:001", as a change is before a
 * shared engine stamps it. */
static struct message *change(void) {
  struct message *m = item("greeting", "edited", PAYLOAD_STRING, 6);
  m->action = MESSAGE_UPDATE;
  m->version = herald_xcalloc(1, sizeof *m->version);
  m->version->of = herald_xstrdup("01700000000000-003@rOther:001");
  m->version->created = 1700000000000;
  m->version->client_id = herald_xstrdup("moderator");
  m->version->description = herald_xstrdup("typo");
  m->version->metadata = json_pack("{s:s}", "reason", "spelling");
  return m;
}

static void assert_is_the_change(const struct message *m, const char *serial,
                                 int64_t timestamp) {
  assert_int_equal(m->action, MESSAGE_UPDATE);
  assert_string_equal(m->serial, serial);
  assert_int_equal(m->timestamp, timestamp);
  assert_non_null(m->version);
  assert_string_equal(m->version->of, "01700000000000-003@rOther:001");
  assert_int_equal(m->version->created, 1700000000000);
  assert_string_equal(m->version->client_id, "moderator");
  assert_string_equal(m->version->description, "typo");
  assert_string_equal(json_string_value(json_object_get(m->version->metadata,
                                                        "reason")),
                      "spelling");
  assert_string_equal(m->client_id, "alice");
  assert_memory_equal(m->payload.data, "edited", 6);
}

static void test_a_change_round_trips_with_its_version(void **state) {
  struct message *in[1] = {change()};
  size_t len;
  char *bytes = redis_batch__encode("rNode", "conn:7", "conn", in, 1, &len);
  assert_non_null(bytes);
  struct redis_batch b;
  herald_error err;
  assert_int_equal(redis_batch__decode(bytes, len, 1700000000500, 2, &b, &err), 0);
  assert_is_the_change(b.messages[0], "01700000000500-002@rNode:000",
                       1700000000500);
  redis_batch__cleanup(&b);

  /* The same bytes as a state: "<id> <batch>". */
  char *value = herald_xmalloc(len + 32);
  int id_len = snprintf(value, 32, "1700000000600-9 ");
  memcpy(value + id_len, bytes, len);
  struct message *m = NULL;
  assert_int_equal(redis_batch__decode_state(value, (size_t)id_len + len, &m, &err), 0);
  assert_is_the_change(m, "01700000000600-009@rNode:000", 1700000000600);
  message__unref(m);
  for (size_t cut = 0; cut < (size_t)id_len + len; cut++)
    assert_true(redis_batch__decode_state(value, cut, &m, &err) < 0);
  value[4] = 'x'; /* not an entry id */
  assert_true(redis_batch__decode_state(value, (size_t)id_len + len, &m, &err) < 0);
  herald_free(value);
  herald_free(bytes);
  message__unref(in[0]);
}

/* " <batch>" after id: a state must be one changed message. */
static void assert_not_a_state(struct message **in, size_t n) {
  size_t len;
  char *bytes = redis_batch__encode("rNode", "id", "conn", in, n, &len);
  char *value = herald_xmalloc(len + 4);
  memcpy(value, "5-1 ", 4);
  memcpy(value + 4, bytes, len);
  struct message *m = NULL;
  herald_error err;
  assert_true(redis_batch__decode_state(value, len + 4, &m, &err) < 0);
  assert_null(m);
  herald_free(value);
  herald_free(bytes);
}

static void test_states_are_one_changed_message(void **state) {
  struct message *in[2] = {item("n", "d", PAYLOAD_STRING, 1), change()};
  assert_not_a_state(in, 1); /* not a change */
  struct message *two[2] = {in[1], in[1]};
  assert_not_a_state(two, 2);
  message__unref(in[0]);
  message__unref(in[1]);
}

/* A stored "version" without the serial or timestamp it needs (flaw 0,
 * 1), or with an operation that is not (2). */
static void test_malformed_stored_versions_are_refused(void **state) {
  for (int flaw = 0; flaw < 3; flaw++) {
    struct wire_writer w;
    wire_writer__init(&w, WIRE_MSGPACK);
    wire_writer__array(&w, 4);
    wire_writer__str(&w, "node");
    wire_writer__str(&w, "id");
    wire_writer__str(&w, "conn");
    wire_writer__array(&w, 1);
    wire_writer__map(&w, flaw == 2 ? 5 : 4);
    wire_writer__kv_str(&w, "connectionId", "conn");
    wire_writer__kv_int(&w, "action", MESSAGE_UPDATE);
    if (flaw != 0) wire_writer__kv_str(&w, "serial", "5-1@n:000");
    if (flaw != 1) wire_writer__kv_int(&w, "timestamp", 5);
    wire_writer__key(&w, "version");
    wire_writer__map(&w, 1);
    if (flaw == 2) wire_writer__kv_int(&w, "clientId", 7);
    else wire_writer__kv_str(&w, "clientId", "moderator");
    size_t len;
    char *bytes = wire_writer__finish(&w, &len);
    wire_writer__cleanup(&w);
    assert_refused(bytes, len);
    herald_free(bytes);
  }
}

static struct message *annotation_item(void) {
  struct message *a = item("up", "x", PAYLOAD_STRING, 1);
  a->action = ANNOTATION_CREATE;
  a->annotation = herald_xcalloc(1, sizeof *a->annotation);
  a->annotation->type = herald_xstrdup("votes:multiple.v1");
  a->annotation->message_serial = herald_xstrdup("01700000000000-000@n:000");
  a->annotation->count = 3;
  a->annotation->has_count = true;
  return a;
}

static struct message *annotated_message(void) {
  struct message *m = item("q", "which?", PAYLOAD_STRING, 6);
  m->serial = herald_xstrdup("01700000000000-000@n:000");
  m->timestamp = 1700000000000;
  m->summary = json_pack("{s:{s:i}}", "votes:total.v1", "total", 2);
  return m;
}

static void test_an_annotation_round_trips_with_its_summary(void **state) {
  struct message *a = annotation_item(), *latest = annotated_message();
  size_t len;
  char *bytes = redis_batch__encode_annotation("rNode", "conn:9", "conn", a,
                                               latest, &len);
  assert_non_null(bytes);
  struct redis_batch b;
  herald_error err;
  assert_int_equal(redis_batch__decode(bytes, len, 1700000000500, 3, &b, &err), 0);
  assert_int_equal(b.count, 1);
  struct message *got = b.messages[0];
  assert_string_equal(got->serial, "01700000000500-003@rNode:000");
  assert_int_equal(got->timestamp, 1700000000500);
  assert_int_equal(got->action, ANNOTATION_CREATE);
  assert_non_null(got->annotation);
  assert_string_equal(got->annotation->type, "votes:multiple.v1");
  assert_string_equal(got->annotation->message_serial, "01700000000000-000@n:000");
  assert_true(got->annotation->has_count);
  assert_int_equal(got->annotation->count, 3);
  assert_string_equal(got->name, "up");
  assert_string_equal(got->client_id, "alice");
  assert_string_equal(got->connection_id, "conn");
  assert_non_null(b.latest);
  assert_string_equal(b.latest->serial, "01700000000000-000@n:000");
  assert_int_equal(b.latest->timestamp, 1700000000000);
  assert_string_equal(b.latest->summary_serial, got->serial);
  assert_true(json_equal(b.latest->summary, latest->summary));
  redis_batch__cleanup(&b);

  /* as the summaries hash keeps it */
  char *value = herald_xmalloc(len + 16);
  memcpy(value, "1700000000600-4 ", 16);
  memcpy(value + 16, bytes, len);
  struct message *summary = NULL;
  assert_int_equal(redis_batch__decode_summary(value, len + 16, &summary, &err), 0);
  assert_string_equal(summary->serial, "01700000000000-000@n:000");
  assert_string_equal(summary->summary_serial, "01700000000600-004@rNode:000");
  assert_true(json_equal(summary->summary, latest->summary));
  message__unref(summary);
  /* an annotation is no message state */
  assert_int_not_equal(redis_batch__decode_state(value, len + 16, &summary, &err), 0);
  herald_free(value);
  herald_free(bytes);
  message__unref(a);
  message__unref(latest);
}

static void test_malformed_annotations_are_refused(void **state) {
  herald_error err;
  struct message *summary = NULL;
  /* a publish stored as a summary */
  struct message *in = item("m", "x", PAYLOAD_STRING, 1);
  size_t len;
  char *bytes = redis_batch__encode("rNode", "conn:1", "conn", &in, 1, &len);
  char *value = herald_xmalloc(len + 8);
  memcpy(value, "5-1 ", 4);
  memcpy(value + 4, bytes, len);
  assert_int_not_equal(redis_batch__decode_summary(value, len + 4, &summary, &err), 0);
  assert_null(summary);
  herald_free(value);
  herald_free(bytes);
  message__unref(in);
  /* two annotations, an annotation without a valid type, no summary */
  for (int k = 0; k < 3; k++) {
    struct message *a = annotation_item();
    if (k == 1) {
      herald_free(a->annotation->type);
      a->annotation->type = herald_xstrdup("votes");
    }
    struct wire_writer w;
    wire_writer__init(&w, WIRE_MSGPACK);
    wire_writer__array(&w, 5);
    wire_writer__str(&w, "rNode");
    wire_writer__str(&w, "conn:1");
    wire_writer__str(&w, "conn");
    wire_writer__array(&w, k == 0 ? 2 : 1);
    annotation__write(a, &w);
    if (k == 0) annotation__write(a, &w);
    wire_writer__map(&w, k == 2 ? 2 : 3);
    wire_writer__kv_str(&w, "serial", "01700000000000-000@n:000");
    wire_writer__kv_int(&w, "timestamp", 1);
    if (k != 2) {
      wire_writer__key(&w, "summary");
      wire_writer__map(&w, 0);
    }
    bytes = wire_writer__finish(&w, &len);
    wire_writer__cleanup(&w);
    struct redis_batch b;
    assert_int_not_equal(redis_batch__decode(bytes, len, 5, 1, &b, &err), 0);
    herald_free(bytes);
    message__unref(a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip_stamps_from_the_entry_id,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_entry_ids, leak_check__setup,
                                      leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_malformed_batches_are_refused,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_a_change_round_trips_with_its_version,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_states_are_one_changed_message,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_an_annotation_round_trips_with_its_summary,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_malformed_annotations_are_refused,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_malformed_stored_versions_are_refused,
                                      leak_check__setup, leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
