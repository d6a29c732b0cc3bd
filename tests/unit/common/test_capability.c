/* test_capability.c -- capability parsing, validation, matching, canonical
 * text and intersection (shared/spec/auth.md section 9), with the key
 * capabilities of ably-common's test-app-setup.json as vectors. Every test
 * checks that the live allocation count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "alloc.h"
#include "capability.h"
#include "leak_check.h"

/* An address no allocation returns, to check outputs stay untouched. */
static long sentinel;

#define APP_SETUP HERALD_FIXTURES "/test-app-setup.json"

/* Canonical forms of the fixture keys' capabilities (keys 1, 2, 3 and 5;
 * keys 0 and 4 have none). */
#define KEY1                                                          \
  "{\"canpublish:*\":[\"publish\"],"                                  \
  "\"canpublish:andpresence\":[\"presence\",\"publish\"],"            \
  "\"cansubscribe:*\":[\"subscribe\"],"                               \
  "\"pushenabled:*\":[\"publish\",\"push-subscribe\",\"subscribe\"]," \
  "\"pushenabled:admin:*\":[\"publish\",\"push-admin\",\"subscribe\"]}"
#define KEY2                                                               \
  "{\"channel0\":[\"publish\"],\"channel1\":[\"publish\"],"                \
  "\"channel2\":[\"publish\",\"subscribe\"],\"channel3\":[\"subscribe\"]," \
  "\"channel4\":[\"presence\",\"publish\",\"subscribe\"],"                 \
  "\"channel5\":[\"presence\"],\"channel6\":[\"*\"]}"
#define KEY3 "{\"*\":[\"subscribe\"]}"
#define KEY5 "{\"[*]*\":[\"*\"]}"

/* ---------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------- */

static struct capability *parse(const char *json) {
  struct capability *cap = NULL;
  herald_error err = {0};
  int rc = capability__parse(json, strlen(json), &cap, &err);
  if (rc) print_error("parse(%s): %s\n", json, err.message);
  assert_int_equal(rc, 0);
  assert_non_null(cap);
  return cap;
}

/* The capability text of fixture key `index`, as configured (unsorted, with
 * whitespace), parsed. */
static struct capability *parse_fixture_key(size_t index) {
  json_error_t jerr;
  json_t *root = json_load_file(APP_SETUP, 0, &jerr);
  assert_non_null(root);
  json_t *keys = json_object_get(json_object_get(root, "post_apps"), "keys");
  const char *text = json_string_value(
      json_object_get(json_array_get(keys, index), "capability"));
  assert_non_null(text);
  struct capability *cap = parse(text);
  json_decref(root);
  return cap;
}

static void assert_canonical(const struct capability *cap,
                             const char *expected) {
  char *text = capability__canonical(cap);
  assert_non_null(text);
  assert_string_equal(text, expected);
  herald_free(text);
}

static void assert_parse_canonical(const char *json, const char *expected) {
  struct capability *cap = parse(json);
  assert_canonical(cap, expected);
  capability__free(cap);
}

static void assert_invalid(const char *json, size_t len) {
  struct capability *cap = (struct capability *)&sentinel;
  herald_error err = {0};
  assert_int_equal(capability__parse(json, len, &cap, &err),
                   -HERALD_E_BAD_REQUEST);
  assert_int_equal(err.code, HERALD_E_BAD_REQUEST);
  assert_int_equal(err.status, 400);
  assert_non_null(strstr(err.message, "Invalid capability"));
  assert_ptr_equal(cap, (struct capability *)&sentinel);
}

#define INVALID(literal) assert_invalid(literal, sizeof literal - 1)

static bool allows(const struct capability *cap, const char *name,
                   unsigned op) {
  return capability__allows(cap, name, strlen(name), op);
}

/* Asserts requested ∩ key has the given canonical text. */
static void assert_intersection(const char *requested, const char *key,
                                const char *expected) {
  struct capability *r = parse(requested), *k = parse(key), *out = NULL;
  herald_error err = {0};
  assert_int_equal(capability__intersect(r, k, &out, &err), 0);
  assert_canonical(out, expected);
  capability__free(out);
  capability__free(k);
  capability__free(r);
}

static void assert_no_intersection(const char *requested, const char *key) {
  struct capability *r = parse(requested), *k = parse(key);
  struct capability *out = (struct capability *)&sentinel;
  herald_error err = {0};
  assert_int_equal(capability__intersect(r, k, &out, &err),
                   -HERALD_E_CAPABILITY_DENIED);
  assert_int_equal(err.code, HERALD_E_CAPABILITY_DENIED);
  assert_int_equal(err.status, 401);
  assert_ptr_equal(out, (struct capability *)&sentinel);
  capability__free(k);
  capability__free(r);
}

/* ---------------------------------------------------------------------------
 * Operations and validation (9.1, 9.2)
 * ------------------------------------------------------------------------- */

static const struct {
  const char *name;
  unsigned op;
} ops[] = {
    {"publish", CAPABILITY_OP_PUBLISH},
    {"subscribe", CAPABILITY_OP_SUBSCRIBE},
    {"presence", CAPABILITY_OP_PRESENCE},
    {"history", CAPABILITY_OP_HISTORY},
    {"stats", CAPABILITY_OP_STATS},
    {"channel-metadata", CAPABILITY_OP_CHANNEL_METADATA},
    {"push-subscribe", CAPABILITY_OP_PUSH_SUBSCRIBE},
    {"push-admin", CAPABILITY_OP_PUSH_ADMIN},
    {"privileged-headers", CAPABILITY_OP_PRIVILEGED_HEADERS},
    {"object-subscribe", CAPABILITY_OP_OBJECT_SUBSCRIBE},
    {"object-publish", CAPABILITY_OP_OBJECT_PUBLISH},
    {"annotation-subscribe", CAPABILITY_OP_ANNOTATION_SUBSCRIBE},
    {"annotation-publish", CAPABILITY_OP_ANNOTATION_PUBLISH},
    {"message-update-own", CAPABILITY_OP_MESSAGE_UPDATE_OWN},
    {"message-update-any", CAPABILITY_OP_MESSAGE_UPDATE_ANY},
    {"message-delete-own", CAPABILITY_OP_MESSAGE_DELETE_OWN},
    {"message-delete-any", CAPABILITY_OP_MESSAGE_DELETE_ANY},
};
#define OP_COUNT (sizeof ops / sizeof ops[0])

/* Each operation name parses to exactly its own bit and prints back. */
static void test_every_operation(void **state) {
  assert_int_equal(OP_COUNT, CAPABILITY_BIT_COUNT);
  for (size_t i = 0; i < OP_COUNT; i++) {
    char json[96];
    snprintf(json, sizeof json, "{\"x\":[\"%s\"]}", ops[i].name);
    struct capability *cap = parse(json);
    for (size_t j = 0; j < OP_COUNT; j++)
      assert_int_equal(allows(cap, "x", ops[j].op), i == j);
    assert_canonical(cap, json);
    capability__free(cap);
  }
}

static void test_star_grants_every_operation(void **state) {
  struct capability *cap = parse("{\"x\":[\"*\"]}");
  for (size_t i = 0; i < OP_COUNT; i++)
    assert_true(allows(cap, "x", ops[i].op));
  assert_true(allows(cap, "x", CAPABILITY_OP_ALL));
  assert_false(allows(cap, "y", CAPABILITY_OP_PUBLISH));
  capability__free(cap);
}

static void test_new_all(void **state) {
  struct capability *cap = capability__new_all();
  assert_non_null(cap);
  assert_canonical(cap, "{\"*\":[\"*\"]}");
  assert_true(allows(cap, "anything:at:all", CAPABILITY_OP_PUSH_ADMIN));
  assert_true(capability__allows_all_channels(cap, CAPABILITY_OP_STATS));
  /* "*" is not "[*]*": metachannels are not included. */
  assert_false(allows(cap, "[meta]log", CAPABILITY_OP_SUBSCRIBE));
  capability__free(cap);
}

static void test_invalid_operations(void **state) {
  INVALID("{\"x\":[\"publish_\"]}");
  INVALID("{\"x\":[\"Publish\"]}");
  INVALID("{\"x\":[\" publish\"]}");
  INVALID("{\"x\":[\"\"]}");
  INVALID("{\"x\":[\"publish\",\"nope\"]}");
  INVALID("{\"x\":[\"*\",\"publish\"]}");
  INVALID("{\"x\":[\"publish\",\"*\"]}");
  INVALID("{\"x\":[\"*\",\"*\"]}");
  INVALID("{\"x\":[]}");
  INVALID("{\"ok\":[\"publish\"],\"x\":[]}");
}

static void test_invalid_shapes(void **state) {
  INVALID("{}");
  INVALID("[]");
  INVALID("[\"publish\"]");
  INVALID("\"{}\"");
  INVALID("1");
  INVALID("null");
  INVALID("{\"x\":\"publish\"}");
  INVALID("{\"x\":{\"publish\":true}}");
  INVALID("{\"x\":null}");
  INVALID("{\"x\":[1]}");
  INVALID("{\"x\":[null]}");
  INVALID("{\"x\":[[\"publish\"]]}");
  INVALID("{\"x\":[true]}");
}

static void test_invalid_json(void **state) {
  INVALID("");
  INVALID("{");
  INVALID("{\"x\":[\"publish\"]");
  INVALID("{\"x\":[\"publish\"]}x");
  INVALID("{\"x\":[\"publish\",]}");
  INVALID("{'x':['publish']}");
  INVALID("{\"a\\u0000b\":[\"publish\"]}");
}

/* A length shorter than the text bounds what is parsed. */
static void test_parse_uses_length(void **state) {
  const char *json = "{\"x\":[\"publish\"]}garbage";
  struct capability *cap = NULL;
  assert_int_equal(capability__parse(json, 17, &cap, NULL), 0);
  assert_canonical(cap, "{\"x\":[\"publish\"]}");
  capability__free(cap);
  assert_int_equal(capability__parse(json, 18, &cap, NULL),
                   -HERALD_E_BAD_REQUEST);
}

/* ---------------------------------------------------------------------------
 * Resource matching (9.3)
 * ------------------------------------------------------------------------- */

static void test_match_literal(void **state) {
  struct capability *cap = parse_fixture_key(2);
  assert_true(allows(cap, "channel2", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "channel2", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "channel2", CAPABILITY_OP_PRESENCE));
  assert_false(allows(cap, "channel22", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "channel", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "channel2:x", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "Channel2", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "channel5", CAPABILITY_OP_PRESENCE));
  assert_false(allows(cap, "channel5", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "channel6", CAPABILITY_OP_HISTORY));
  assert_false(allows(cap, "[meta]channel6", CAPABILITY_OP_HISTORY));
  /* The name is (name, len): a longer buffer is not read past len. */
  assert_true(
      capability__allows(cap, "channel2junk", 8, CAPABILITY_OP_PUBLISH));
  capability__free(cap);
}

static void test_match_star_alone(void **state) {
  struct capability *cap = parse_fixture_key(3);
  assert_true(allows(cap, "foo", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "foo:bar", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "foo:bar:bam:baz", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "*", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "foo", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "[meta]foo", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "[queue]foo", CAPABILITY_OP_SUBSCRIBE));
  capability__free(cap);
}

static void test_match_trailing_star(void **state) {
  struct capability *cap = parse("{\"foo:*\":[\"publish\"]}");
  assert_true(allows(cap, "foo:bar", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "foo:bar:bam", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "foo:bar:bam:baz", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "foo:", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foo", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foobar", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "fo:bar", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "bar:foo:baz", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foo:bar", CAPABILITY_OP_SUBSCRIBE));
  capability__free(cap);
}

static void test_match_inner_star(void **state) {
  struct capability *cap = parse(
      "{\"foo:*:baz\":[\"publish\"],"
      "\"*:end\":[\"history\"]}");
  assert_true(allows(cap, "foo:bar:baz", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "foo:*:baz", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foo:bar:bam:baz", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foo:baz", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foo:bar:baz:x", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foo:bar:bazz", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "x:end", CAPABILITY_OP_HISTORY));
  assert_false(allows(cap, "end", CAPABILITY_OP_HISTORY));
  assert_false(allows(cap, "x:y:end", CAPABILITY_OP_HISTORY));
  capability__free(cap);
}

static void test_match_star_inside_segment_is_literal(void **state) {
  struct capability *cap = parse(
      "{\"foo*\":[\"publish\"],"
      "\"a:b*\":[\"subscribe\"]}");
  assert_true(allows(cap, "foo*", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foo", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foobar", CAPABILITY_OP_PUBLISH));
  assert_false(allows(cap, "foo:bar", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "a:b*", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "a:bc", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "a:b:c", CAPABILITY_OP_SUBSCRIBE));
  capability__free(cap);
}

static void test_match_meta(void **state) {
  struct capability *cap = parse(
      "{\"[meta]*\":[\"subscribe\"],"
      "\"[meta]log\":[\"history\"]}");
  assert_true(allows(cap, "[meta]channel.lifecycle", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "[meta]log", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "[meta]a:b", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "log", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "[queue]log", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "[meta]log", CAPABILITY_OP_HISTORY));
  assert_false(allows(cap, "[meta]logs", CAPABILITY_OP_HISTORY));
  assert_false(allows(cap, "log", CAPABILITY_OP_HISTORY));
  capability__free(cap);
}

static void test_match_queue(void **state) {
  struct capability *cap = parse("{\"[queue]app:*\":[\"subscribe\"]}");
  assert_true(allows(cap, "[queue]app:q1", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "[queue]other:q1", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "app:q1", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "[meta]app:q1", CAPABILITY_OP_SUBSCRIBE));
  capability__free(cap);
}

static void test_match_any_qualifier(void **state) {
  struct capability *all = parse_fixture_key(5);
  assert_true(allows(all, "foo", CAPABILITY_OP_PUBLISH));
  assert_true(allows(all, "foo:bar:baz", CAPABILITY_OP_MESSAGE_DELETE_ANY));
  assert_true(allows(all, "[meta]log", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(all, "[queue]app:q", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(all, "[?rewind=1]foo", CAPABILITY_OP_SUBSCRIBE));
  capability__free(all);

  struct capability *cap = parse("{\"[*]foo:*\":[\"subscribe\"]}");
  assert_true(allows(cap, "foo:bar", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "[meta]foo:bar", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "[queue]foo:bar", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "foo", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "[meta]bar", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "foo:bar", CAPABILITY_OP_PUBLISH));
  capability__free(cap);
}

/* Channel params qualifiers are stripped before matching. */
static void test_match_params_ignored(void **state) {
  struct capability *cap = parse(
      "{\"foo\":[\"subscribe\"],"
      "\"[meta]log\":[\"subscribe\"]}");
  assert_true(allows(cap, "[?rewind=1]foo", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "[?delta=vcdiff]foo", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "[?rewind=1]bar", CAPABILITY_OP_SUBSCRIBE));
  assert_true(allows(cap, "[meta?x=y]log", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "[?x=y]log", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "[meta?x=y]foo", CAPABILITY_OP_SUBSCRIBE));
  capability__free(cap);
}

static void test_match_fixture_namespaces(void **state) {
  struct capability *cap = parse_fixture_key(1);
  assert_true(allows(cap, "cansubscribe:x", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "cansubscribe", CAPABILITY_OP_SUBSCRIBE));
  assert_false(allows(cap, "cansubscribe:x", CAPABILITY_OP_PUBLISH));
  assert_true(allows(cap, "canpublish:andpresence", CAPABILITY_OP_PRESENCE));
  assert_false(allows(cap, "canpublish:other", CAPABILITY_OP_PRESENCE));
  assert_true(allows(cap, "pushenabled:x", CAPABILITY_OP_PUSH_SUBSCRIBE));
  assert_false(allows(cap, "pushenabled:x", CAPABILITY_OP_PUSH_ADMIN));
  assert_true(allows(cap, "pushenabled:admin:x", CAPABILITY_OP_PUSH_ADMIN));
  assert_true(allows(cap, "pushenabled:admin:x", CAPABILITY_OP_PUSH_SUBSCRIBE));
  capability__free(cap);
}

static void test_allows_all_channels(void **state) {
  struct capability *key3 = parse_fixture_key(3);
  assert_true(capability__allows_all_channels(key3, CAPABILITY_OP_SUBSCRIBE));
  assert_false(capability__allows_all_channels(key3, CAPABILITY_OP_STATS));
  capability__free(key3);

  struct capability *key5 = parse_fixture_key(5);
  assert_true(capability__allows_all_channels(key5, CAPABILITY_OP_STATS));
  capability__free(key5);

  struct capability *key2 = parse_fixture_key(2);
  assert_false(capability__allows_all_channels(key2, CAPABILITY_OP_PUBLISH));
  capability__free(key2);

  struct capability *cap = parse(
      "{\"[meta]*\":[\"stats\"],"
      "\"foo:*\":[\"stats\"],"
      "\"*:x\":[\"stats\"],"
      "\"[*]*\":[\"channel-metadata\"]}");
  assert_false(capability__allows_all_channels(cap, CAPABILITY_OP_STATS));
  assert_true(
      capability__allows_all_channels(cap, CAPABILITY_OP_CHANNEL_METADATA));
  capability__free(cap);
}

/* ---------------------------------------------------------------------------
 * Canonical form (9.4)
 * ------------------------------------------------------------------------- */

static void test_canonical_fixture_keys(void **state) {
  static const struct {
    size_t index;
    const char *expected;
  } keys[] = {{1, KEY1}, {2, KEY2}, {3, KEY3}, {5, KEY5}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    struct capability *cap = parse_fixture_key(keys[i].index);
    assert_canonical(cap, keys[i].expected);
    capability__free(cap);
    /* The canonical text is a fixed point. */
    assert_parse_canonical(keys[i].expected, keys[i].expected);
  }
}

static void test_canonical_sorts(void **state) {
  assert_parse_canonical(
      "{\"private\":[\"publish\",\"presence\"],\"*\":[\"subscribe\"]}",
      "{\"*\":[\"subscribe\"],\"private\":[\"presence\",\"publish\"]}");
  assert_parse_canonical(
      "{ \"b\" : [ \"subscribe\" ] ,\n\t\"a\":[\"history\",\"publish\"],"
      "\"B\":[\"stats\"], \"[meta]x\":[\"subscribe\"]}",
      "{\"B\":[\"stats\"],\"[meta]x\":[\"subscribe\"],"
      "\"a\":[\"history\",\"publish\"],\"b\":[\"subscribe\"]}");
  assert_parse_canonical("{\"x\":[\"publish\",\"publish\",\"history\"]}",
                         "{\"x\":[\"history\",\"publish\"]}");
}

/* An explicit list of every operation stays a sorted list: it is not "*". */
static void test_canonical_full_list(void **state) {
  assert_parse_canonical(
      "{\"x\":[\"publish\",\"subscribe\",\"presence\",\"history\",\"stats\","
      "\"channel-metadata\",\"push-subscribe\",\"push-admin\","
      "\"privileged-headers\",\"object-subscribe\",\"object-publish\","
      "\"annotation-subscribe\",\"annotation-publish\","
      "\"message-update-own\",\"message-update-any\",\"message-delete-own\","
      "\"message-delete-any\"]}",
      "{\"x\":[\"annotation-publish\",\"annotation-subscribe\","
      "\"channel-metadata\",\"history\",\"message-delete-any\","
      "\"message-delete-own\",\"message-update-any\",\"message-update-own\","
      "\"object-publish\",\"object-subscribe\",\"presence\","
      "\"privileged-headers\",\"publish\",\"push-admin\",\"push-subscribe\","
      "\"stats\",\"subscribe\"]}");
}

/* Escaping follows JSON.stringify: only '"', '\\' and control characters. */
static void test_canonical_escaping(void **state) {
  assert_parse_canonical(
      "{\"a\\\"b\\\\c\\/d\\u0001\\t\\u001F\\u00e9\\u007f\":[\"publish\"]}",
      "{\"a\\\"b\\\\c/d\\u0001\\t\\u001f\xc3\xa9\x7f\":[\"publish\"]}");
  assert_parse_canonical("{\"\\b\\f\\n\\r\":[\"publish\"]}",
                         "{\"\\b\\f\\n\\r\":[\"publish\"]}");
}

/* Resources sort in UTF-16 code unit order, as JavaScript sorts: U+1F600
 * (surrogates D83D DE00) before U+FF21, though its UTF-8 bytes are larger. */
static void test_canonical_utf16_order(void **state) {
  assert_parse_canonical(
      "{\"\\uFF21\":[\"publish\"],"
      "\"\\uD83D\\uDE00\":[\"publish\"],"
      "\"\\u00e9\":[\"publish\"],"
      "\"z\":[\"publish\"]}",
      "{\"z\":[\"publish\"],\"\xc3\xa9\":[\"publish\"],"
      "\"\xf0\x9f\x98\x80\":[\"publish\"],"
      "\"\xef\xbc\xa1\":[\"publish\"]}");
}

/* A duplicated resource key keeps the last value, as JSON.parse does. */
static void test_duplicate_resource(void **state) {
  assert_parse_canonical("{\"x\":[\"publish\"],\"x\":[\"subscribe\"]}",
                         "{\"x\":[\"subscribe\"]}");
}

/* ---------------------------------------------------------------------------
 * Intersection (9.5)
 * ------------------------------------------------------------------------- */

static void test_intersect_observed(void **state) {
  assert_intersection("{\"channel2\":[\"presence\",\"subscribe\"]}", KEY2,
                      "{\"channel2\":[\"subscribe\"]}");
  assert_intersection(
      "{\"channel2\":[\"presence\",\"subscribe\"],"
      "\"channelx\":[\"publish\"]}",
      KEY2, "{\"channel2\":[\"subscribe\"]}");
  assert_intersection("{\"channel2\":[\"*\"]}", KEY2,
                      "{\"channel2\":[\"publish\",\"subscribe\"]}");
  assert_intersection("{\"channel6\":[\"publish\",\"subscribe\"]}", KEY2,
                      "{\"channel6\":[\"publish\",\"subscribe\"]}");
  assert_intersection("{\"cansubscribe\":[\"subscribe\"]}", KEY3,
                      "{\"cansubscribe\":[\"subscribe\"]}");
  assert_intersection("{\"canpublish:check\":[\"publish\"]}", KEY1,
                      "{\"canpublish:check\":[\"publish\"]}");
}

static void test_intersect_empty(void **state) {
  /* Empty operation intersection. */
  assert_no_intersection("{\"channel0\":[\"subscribe\"]}", KEY2);
  assert_no_intersection("{\"cansubscribe\":[\"publish\"]}", KEY3);
  /* Empty path intersection. */
  assert_no_intersection("{\"channelx\":[\"publish\"]}", KEY2);
  assert_no_intersection("{\"cansubscribe\":[\"subscribe\"]}", KEY1);
  /* Unqualified "*" does not cover metachannels. */
  assert_no_intersection("{\"[meta]log\":[\"subscribe\"]}", KEY3);
  /* Partial overlap: neither resource covers the other. */
  assert_no_intersection("{\"foo:*:baz\":[\"publish\"]}",
                         "{\"foo:bar:*\":[\"publish\"]}");
  struct capability *r = parse("{\"channelx\":[\"publish\"]}");
  struct capability *k = parse(KEY2), *out = NULL;
  assert_int_equal(capability__intersect(r, k, &out, NULL),
                   -HERALD_E_CAPABILITY_DENIED);
  assert_null(out);
  capability__free(k);
  capability__free(r);
}

/* When the requested resource is wider, the key's resources are kept. */
static void test_intersect_requested_wider(void **state) {
  assert_intersection("{\"*\":[\"publish\"]}", KEY2,
                      "{\"channel0\":[\"publish\"],\"channel1\":[\"publish\"],"
                      "\"channel2\":[\"publish\"],\"channel4\":[\"publish\"],"
                      "\"channel6\":[\"publish\"]}");
  assert_intersection("{\"[*]*\":[\"*\"]}", KEY1, KEY1);
  assert_intersection("{\"foo:*\":[\"publish\"]}", "{\"foo:*:baz\":[\"*\"]}",
                      "{\"foo:*:baz\":[\"publish\"]}");
  assert_intersection("{\"foo:*\":[\"publish\"]}",
                      "{\"foo:*:*\":[\"publish\",\"history\"]}",
                      "{\"foo:*:*\":[\"publish\"]}");
  assert_intersection("{\"[*]log\":[\"subscribe\"]}",
                      "{\"[meta]log\":[\"subscribe\",\"history\"]}",
                      "{\"[meta]log\":[\"subscribe\"]}");
}

static void test_intersect_key_wider(void **state) {
  assert_intersection(
      "{\"foo\":[\"publish\"],\"[meta]log\":[\"subscribe\"],"
      "\"[queue]q:1\":[\"subscribe\"]}",
      KEY5,
      "{\"[meta]log\":[\"subscribe\"],"
      "\"[queue]q:1\":[\"subscribe\"],\"foo\":[\"publish\"]}");
  assert_intersection("{\"foo:*:baz\":[\"publish\"]}",
                      "{\"foo:*\":[\"publish\"]}",
                      "{\"foo:*:baz\":[\"publish\"]}");
  assert_intersection("{\"foo:*\":[\"publish\"]}", "{\"foo:*\":[\"*\"]}",
                      "{\"foo:*\":[\"publish\"]}");
  assert_intersection("{\"a:*:c\":[\"publish\"]}", "{\"a:*:*\":[\"*\"]}",
                      "{\"a:*:c\":[\"publish\"]}");
  assert_intersection("{\"pushenabled:admin:x\":[\"*\"]}", KEY1,
                      "{\"pushenabled:admin:x\":"
                      "[\"publish\",\"push-admin\",\"push-subscribe\","
                      "\"subscribe\"]}");
}

static void test_intersect_star_ops(void **state) {
  assert_intersection("{\"channel6\":[\"*\"]}", KEY2, "{\"channel6\":[\"*\"]}");
  assert_intersection("{\"x\":[\"*\"]}", KEY5, "{\"x\":[\"*\"]}");
}

/* Candidates for one resource are merged; a union with "*" is "*". */
static void test_intersect_merges(void **state) {
  assert_intersection("{\"a:*\":[\"publish\"],\"a:b\":[\"subscribe\"]}",
                      "{\"a:b\":[\"*\"]}",
                      "{\"a:b\":[\"publish\",\"subscribe\"]}");
  assert_intersection("{\"a:*\":[\"publish\"],\"a:b\":[\"*\"]}",
                      "{\"a:b\":[\"*\"]}", "{\"a:b\":[\"*\"]}");
  assert_intersection("{\"x\":[\"publish\",\"presence\"]}",
                      "{\"*\":[\"publish\"],\"x\":[\"presence\"]}",
                      "{\"x\":[\"presence\",\"publish\"]}");
}

/* Each fixture key intersected with itself is itself. */
static void test_intersect_idempotent(void **state) {
  static const char *const keys[] = {KEY1, KEY2, KEY3, KEY5};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    assert_intersection(keys[i], keys[i], keys[i]);
}

/* The intersection is independent of the inputs' lifetimes. */
static void test_intersect_owns_its_text(void **state) {
  struct capability *r = parse("{\"canpublish:check\":[\"publish\"]}");
  struct capability *k = parse_fixture_key(1), *out = NULL;
  assert_int_equal(capability__intersect(r, k, &out, NULL), 0);
  capability__free(r);
  capability__free(k);
  assert_true(allows(out, "canpublish:check", CAPABILITY_OP_PUBLISH));
  assert_false(allows(out, "canpublish:other", CAPABILITY_OP_PUBLISH));
  assert_canonical(out, "{\"canpublish:check\":[\"publish\"]}");
  capability__free(out);
}

static void test_free_null(void **state) { capability__free(NULL); }

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_every_operation),
      TEST(test_star_grants_every_operation),
      TEST(test_new_all),
      TEST(test_invalid_operations),
      TEST(test_invalid_shapes),
      TEST(test_invalid_json),
      TEST(test_parse_uses_length),
      TEST(test_match_literal),
      TEST(test_match_star_alone),
      TEST(test_match_trailing_star),
      TEST(test_match_inner_star),
      TEST(test_match_star_inside_segment_is_literal),
      TEST(test_match_meta),
      TEST(test_match_queue),
      TEST(test_match_any_qualifier),
      TEST(test_match_params_ignored),
      TEST(test_match_fixture_namespaces),
      TEST(test_allows_all_channels),
      TEST(test_canonical_fixture_keys),
      TEST(test_canonical_sorts),
      TEST(test_canonical_full_list),
      TEST(test_canonical_escaping),
      TEST(test_canonical_utf16_order),
      TEST(test_duplicate_resource),
      TEST(test_intersect_observed),
      TEST(test_intersect_empty),
      TEST(test_intersect_requested_wider),
      TEST(test_intersect_key_wider),
      TEST(test_intersect_star_ops),
      TEST(test_intersect_merges),
      TEST(test_intersect_idempotent),
      TEST(test_intersect_owns_its_text),
      TEST(test_free_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
