/* test_msgid.c -- publish id rules (common/msgid.h) per
 * shared/spec/messages.md section 3: the idempotency key of a publish, the
 * 40031 rejections for malformed multi-message ids, random URL-safe ids and
 * server-assigned "<base>:<index>" ids. Every test checks that the live
 * allocation count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "msgid.h"
#include "leak_check.h"

#define MAX_MESSAGES 8

/* A publish of count messages with the given ids (NULL = no id). */
struct publish_ids {
  struct message *messages[MAX_MESSAGES];
  size_t count;
};

static void make(struct publish_ids *p, size_t count, const char *const *ids) {
  assert_true(count <= MAX_MESSAGES);
  p->count = count;
  for (size_t i = 0; i < count; i++) {
    p->messages[i] = message__new();
    if (ids[i]) p->messages[i]->id = herald_xstrdup(ids[i]);
  }
}

static void release(struct publish_ids *p) {
  for (size_t i = 0; i < p->count; i++) message__unref(p->messages[i]);
}

/* Expects success with the key expected (NULL for none). */
static void assert_key(size_t count, const char *const *ids,
                       const char *expected) {
  struct publish_ids p;
  make(&p, count, ids);
  char *key = (char *)"untouched";
  herald_error err = {0};
  int rc = msgid__publish_key(p.messages, p.count, &key, &err);
  if (rc) print_error("unexpected error: %s\n", err.message);
  assert_int_equal(rc, 0);
  if (expected) {
    assert_non_null(key);
    assert_string_equal(key, expected);
    herald_free(key);
  } else {
    assert_null(key);
  }
  release(&p);
}

/* Expects -40031 with err filled in and no key allocated. */
static void assert_rejected(size_t count, const char *const *ids) {
  struct publish_ids p;
  make(&p, count, ids);
  char *key = NULL;
  herald_error err = {0};
  long live = herald_alloc_live();
  assert_int_equal(msgid__publish_key(p.messages, p.count, &key, &err),
                   -40031);
  assert_int_equal(err.code, 40031);
  assert_int_equal(err.status, 400);
  assert_true(err.message[0] != '\0');
  assert_int_equal(herald_alloc_live(), live);
  release(&p);
}

#define IDS(...) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
                 (const char *const[]){__VA_ARGS__}

/* ---- publish keys ------------------------------------------------------- */

static void test_no_ids(void **state) {
  (void)state;
  assert_key(IDS(NULL), NULL);
  assert_key(IDS(NULL, NULL, NULL), NULL);
  assert_key(0, (const char *const[]){NULL}, NULL);
}

static void test_single_id_is_key(void **state) {
  (void)state;
  assert_key(IDS("abc"), "abc");
  /* A single message's id is the key as given, index or not. */
  assert_key(IDS("abc:5"), "abc:5");
  assert_key(IDS("abc:0"), "abc:0");
  assert_key(IDS("no-colon"), "no-colon");
}

static void test_multi_ids_base_is_key(void **state) {
  (void)state;
  assert_key(IDS("b:0", "b:1"), "b");
  assert_key(IDS("EcHTzYk9fuT+:0", "EcHTzYk9fuT+:1", "EcHTzYk9fuT+:2"),
             "EcHTzYk9fuT+");
  /* The index follows the last colon; the base may contain colons. */
  assert_key(IDS("x:y:0", "x:y:1"), "x:y");
  assert_key(IDS("b:0", "b:1", "b:2", "b:3", "b:4", "b:5", "b:6", "b:7"), "b");
}

static void test_multi_wrong_index(void **state) {
  (void)state;
  assert_rejected(IDS("b:0", "b:2"));
  assert_rejected(IDS("b:1", "b:2"));
  assert_rejected(IDS("b:1", "b:0"));
  assert_rejected(IDS("b:0", "b:0"));
  assert_rejected(IDS("b:0", "b:1", "b:1"));
  assert_rejected(IDS("b:0", "b:x"));
  assert_rejected(IDS("b:0", "b:"));
  assert_rejected(IDS("b:0", "b:-1"));
  assert_rejected(IDS("b:0", "b:+1"));
}

static void test_multi_mixed_presence(void **state) {
  (void)state;
  assert_rejected(IDS("b:0", NULL));
  assert_rejected(IDS(NULL, "b:1"));
  assert_rejected(IDS("b:0", NULL, "b:2"));
}

static void test_multi_different_bases(void **state) {
  (void)state;
  assert_rejected(IDS("a:0", "b:1"));
  assert_rejected(IDS("aa:0", "ab:1"));
  assert_rejected(IDS("a:0", "ab:1"));
  assert_rejected(IDS("ab:0", "a:1"));
  assert_rejected(IDS("x:y:0", "x:z:1"));
  assert_rejected(IDS("b:0", "b:1", "c:2"));
}

static void test_empty_id(void **state) {
  (void)state;
  assert_rejected(IDS(""));
  assert_rejected(IDS("", ""));
  assert_rejected(IDS("b:0", ""));
  assert_rejected(IDS("", NULL));
}

static void test_multi_id_without_colon(void **state) {
  (void)state;
  assert_rejected(IDS("b", "b"));
  assert_rejected(IDS("b0", "b1"));
  assert_rejected(IDS("b:0", "b1"));
  assert_rejected(IDS("b", "b:1"));
}

/* ---- random ids --------------------------------------------------------- */

static bool url_safe(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void test_random_length_and_alphabet(void **state) {
  (void)state;
  static const size_t lengths[] = {0, 1, 10, 63, 64, 65, 200};
  char buf[256];
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    size_t len = lengths[i];
    memset(buf, 'X' + 1, sizeof buf); /* '[' is not in the alphabet */
    msgid__random(buf, len);
    assert_int_equal(strlen(buf), len);
    assert_int_equal(buf[len + 1], 'X' + 1); /* nothing written past NUL */
    for (size_t k = 0; k < len; k++) {
      if (!url_safe(buf[k])) print_error("bad char 0x%02x\n", buf[k]);
      assert_true(url_safe(buf[k]));
    }
  }
}

/* 8,000 characters use every one of the 64 (the chance that a fair source
 * misses one is about 64 * (63/64)^8000, effectively zero), and two ids are
 * different. */
static void test_random_uses_whole_alphabet(void **state) {
  (void)state;
  enum { LEN = 8000 };
  static char buf[LEN + 1];
  msgid__random(buf, LEN);
  bool seen[256] = {false};
  size_t distinct = 0;
  for (size_t i = 0; i < LEN; i++) {
    unsigned char c = (unsigned char)buf[i];
    assert_true(url_safe((char)c));
    if (!seen[c]) distinct++;
    seen[c] = true;
  }
  assert_int_equal(distinct, 64);

  char a[21], b[21];
  msgid__random(a, 20);
  msgid__random(b, 20);
  assert_string_not_equal(a, b);
}

/* ---- assigned ids ------------------------------------------------------- */

static void test_assign(void **state) {
  (void)state;
  struct publish_ids p;
  make(&p, 4, (const char *const[]){NULL, "keep:1", NULL, NULL});
  msgid__assign(p.messages, p.count, "ClDn4dPtUL");
  assert_string_equal(p.messages[0]->id, "ClDn4dPtUL:0");
  assert_string_equal(p.messages[1]->id, "keep:1");
  assert_string_equal(p.messages[2]->id, "ClDn4dPtUL:2");
  assert_string_equal(p.messages[3]->id, "ClDn4dPtUL:3");
  release(&p);
}

/* Assigned ids satisfy the multi-message rule, with the base as key. */
static void test_assign_then_key(void **state) {
  (void)state;
  char base[11];
  msgid__random(base, 10);
  struct publish_ids p;
  make(&p, 3, (const char *const[]){NULL, NULL, NULL});
  msgid__assign(p.messages, p.count, base);
  char *key = NULL;
  assert_int_equal(msgid__publish_key(p.messages, p.count, &key, NULL), 0);
  assert_non_null(key);
  assert_string_equal(key, base);
  herald_free(key);
  release(&p);
}

static void test_assign_long_base_and_index(void **state) {
  (void)state;
  char base[101];
  memset(base, 'q', 100);
  base[100] = '\0';
  struct publish_ids p;
  const char *none[MAX_MESSAGES] = {NULL};
  make(&p, MAX_MESSAGES, none);
  msgid__assign(p.messages, p.count, base);
  char expected[128];
  snprintf(expected, sizeof expected, "%s:7", base);
  assert_string_equal(p.messages[7]->id, expected);
  release(&p);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_no_ids),
      TEST(test_single_id_is_key),
      TEST(test_multi_ids_base_is_key),
      TEST(test_multi_wrong_index),
      TEST(test_multi_mixed_presence),
      TEST(test_multi_different_bases),
      TEST(test_empty_id),
      TEST(test_multi_id_without_colon),
      TEST(test_random_length_and_alphabet),
      TEST(test_random_uses_whole_alphabet),
      TEST(test_assign),
      TEST(test_assign_then_key),
      TEST(test_assign_long_base_and_index),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
