/* test_hashmap.c -- the string-keyed chained hash map (common/hashmap.h):
 * put/get/replace/remove, keys given by length (embedded NULs, prefixes of
 * one another, not NUL-terminated), growth to 10,000 entries, iteration
 * visiting each entry exactly once, and the keyed hash: SipHash-2-4
 * reference values, and other seeds giving other hashes. Every test
 * checks that the live allocation count returns to where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "hashmap.h"
#include "leak_check.h"

/* Values are small integers stored as pointers; 0 would read as "absent". */
#define VAL(n) ((void *)(uintptr_t)(n))
#define NUM(p) ((uintptr_t)(p))

static void *get(const struct hashmap *m, const char *key) {
  return hashmap__get(m, key, strlen(key));
}

static void *put(struct hashmap *m, const char *key, uintptr_t n) {
  return hashmap__put(m, key, strlen(key), VAL(n));
}

static void *del(struct hashmap *m, const char *key) {
  return hashmap__remove(m, key, strlen(key));
}

/* Number of entries iteration visits. */
static size_t iterated(const struct hashmap *m) {
  size_t n = 0, bucket;
  for (struct hashmap_entry *e = hashmap__first(m, &bucket); e;
       e = hashmap__next(m, e, &bucket))
    n++;
  return n;
}

/* ---- basic operations --------------------------------------------------- */

static void test_empty(void **state) {
  (void)state;
  struct hashmap m;
  hashmap__init(&m);
  assert_int_equal(m.count, 0);
  assert_null(get(&m, "a"));
  assert_null(get(&m, ""));
  assert_null(del(&m, "a"));
  assert_int_equal(iterated(&m), 0);
  hashmap__cleanup(&m);
  hashmap__cleanup(&m); /* cleanup leaves an empty, reusable map */
}

static void test_put_get_replace_remove(void **state) {
  (void)state;
  struct hashmap m;
  hashmap__init(&m);
  assert_null(put(&m, "alpha", 1));
  assert_null(put(&m, "beta", 2));
  assert_int_equal(m.count, 2);
  assert_int_equal(NUM(get(&m, "alpha")), 1);
  assert_int_equal(NUM(get(&m, "beta")), 2);
  assert_null(get(&m, "gamma"));

  /* Replacing returns the old value and keeps the count. */
  assert_int_equal(NUM(put(&m, "alpha", 10)), 1);
  assert_int_equal(m.count, 2);
  assert_int_equal(NUM(get(&m, "alpha")), 10);

  assert_int_equal(NUM(del(&m, "alpha")), 10);
  assert_int_equal(m.count, 1);
  assert_null(get(&m, "alpha"));
  assert_null(del(&m, "alpha"));
  assert_int_equal(NUM(get(&m, "beta")), 2);

  /* Re-inserting a removed key works. */
  assert_null(put(&m, "alpha", 11));
  assert_int_equal(NUM(get(&m, "alpha")), 11);
  assert_int_equal(m.count, 2);
  hashmap__cleanup(&m);
  assert_int_equal(m.count, 0);
}

static void test_null_value_and_empty_key(void **state) {
  (void)state;
  struct hashmap m;
  hashmap__init(&m);
  assert_null(hashmap__put(&m, "", 0, VAL(5)));
  assert_int_equal(NUM(hashmap__get(&m, "", 0)), 5);
  assert_null(get(&m, "a"));
  /* A NULL value is stored (counted, iterated) though get cannot tell it
   * from absence. */
  assert_null(hashmap__put(&m, "nothing", 7, NULL));
  assert_int_equal(m.count, 2);
  assert_int_equal(iterated(&m), 2);
  assert_null(hashmap__put(&m, "nothing", 7, VAL(9)));
  assert_int_equal(m.count, 2);
  assert_int_equal(NUM(get(&m, "nothing")), 9);
  hashmap__cleanup(&m);
}

static void test_keys_are_copied(void **state) {
  (void)state;
  struct hashmap m;
  hashmap__init(&m);
  char key[] = "mutable";
  put(&m, key, 1);
  memcpy(key, "changed", 7);
  assert_int_equal(NUM(get(&m, "mutable")), 1);
  assert_null(get(&m, "changed"));
  size_t bucket;
  struct hashmap_entry *e = hashmap__first(&m, &bucket);
  assert_non_null(e);
  assert_int_equal(e->key_len, 7);
  assert_string_equal(e->key, "mutable");
  assert_int_equal(e->hash, hashmap__hash("mutable", 7));
  hashmap__cleanup(&m);
}

/* ---- keys by length ----------------------------------------------------- */

static void test_similar_prefixes(void **state) {
  (void)state;
  static const char *const keys[] = {"chan",  "chan1", "chan10", "cha",
                                     "chan:", "chan:1", "c",     "chan10 ",
                                     "Chan",  "nahc"};
  enum { N = sizeof keys / sizeof keys[0] };
  struct hashmap m;
  hashmap__init(&m);
  for (size_t i = 0; i < N; i++) assert_null(put(&m, keys[i], i + 1));
  assert_int_equal(m.count, N);
  for (size_t i = 0; i < N; i++)
    assert_int_equal(NUM(get(&m, keys[i])), i + 1);
  assert_null(get(&m, "ch"));
  assert_null(get(&m, "chan100"));
  assert_null(get(&m, "chan1 "));

  /* Removing one leaves its neighbours. */
  assert_int_equal(NUM(del(&m, "chan1")), 2);
  assert_null(get(&m, "chan1"));
  assert_int_equal(NUM(get(&m, "chan")), 1);
  assert_int_equal(NUM(get(&m, "chan10")), 3);
  assert_int_equal(m.count, N - 1);
  hashmap__cleanup(&m);
}

static void test_length_not_terminator(void **state) {
  (void)state;
  struct hashmap m;
  hashmap__init(&m);
  /* "a\0b", "a\0c" and "a" are three keys. */
  assert_null(hashmap__put(&m, "a\0b", 3, VAL(1)));
  assert_null(hashmap__put(&m, "a\0c", 3, VAL(2)));
  assert_null(hashmap__put(&m, "a", 1, VAL(3)));
  assert_int_equal(m.count, 3);
  assert_int_equal(NUM(hashmap__get(&m, "a\0b", 3)), 1);
  assert_int_equal(NUM(hashmap__get(&m, "a\0c", 3)), 2);
  assert_int_equal(NUM(hashmap__get(&m, "a", 1)), 3);
  assert_null(hashmap__get(&m, "a\0", 2));
  /* A key can be a slice of a longer buffer. */
  static const char buf[] = "channel-name/extra";
  assert_null(hashmap__put(&m, buf, 12, VAL(4)));
  assert_int_equal(NUM(get(&m, "channel-name")), 4);
  assert_null(get(&m, buf));
  assert_int_equal(NUM(hashmap__remove(&m, "channel-name!!", 12)), 4);
  assert_int_equal(m.count, 3);
  hashmap__cleanup(&m);
}

/* ---- growth and iteration ----------------------------------------------- */

enum { MANY = 10000 };

static void key_of(char *buf, size_t size, size_t i) {
  snprintf(buf, size, "key-%zu", i);
}

static void fill(struct hashmap *m, size_t n) {
  char key[32];
  for (size_t i = 0; i < n; i++) {
    key_of(key, sizeof key, i);
    assert_null(put(m, key, i + 1));
  }
}

static void test_growth(void **state) {
  (void)state;
  struct hashmap m;
  hashmap__init(&m);
  fill(&m, MANY);
  assert_int_equal(m.count, MANY);
  /* The load factor stays at most 1 with a power-of-two table. */
  assert_true(m.n_buckets >= MANY);
  assert_int_equal(m.n_buckets & (m.n_buckets - 1), 0);
  char key[32];
  for (size_t i = 0; i < MANY; i++) {
    key_of(key, sizeof key, i);
    assert_int_equal(NUM(get(&m, key)), i + 1);
  }
  assert_null(get(&m, "key-10000"));
  assert_null(get(&m, "key-"));
  /* Remove the even ones, replace the odd ones. */
  for (size_t i = 0; i < MANY; i++) {
    key_of(key, sizeof key, i);
    if (i % 2 == 0) assert_int_equal(NUM(del(&m, key)), i + 1);
    else assert_int_equal(NUM(put(&m, key, i + 100000)), i + 1);
  }
  assert_int_equal(m.count, MANY / 2);
  for (size_t i = 0; i < MANY; i++) {
    key_of(key, sizeof key, i);
    if (i % 2 == 0) assert_null(get(&m, key));
    else assert_int_equal(NUM(get(&m, key)), i + 100000);
  }
  hashmap__cleanup(&m);
}

/* Iteration visits every entry exactly once, with its key and value. */
static void assert_iteration_exact(const struct hashmap *m, size_t n,
                                   bool (*present)(size_t)) {
  unsigned char *visits = calloc(n, 1);
  assert_non_null(visits);
  size_t total = 0, bucket;
  char key[32];
  for (struct hashmap_entry *e = hashmap__first(m, &bucket); e;
       e = hashmap__next(m, e, &bucket)) {
    size_t i = NUM(e->value) - 1;
    assert_true(i < n);
    key_of(key, sizeof key, i);
    assert_int_equal(e->key_len, strlen(key));
    assert_string_equal(e->key, key);
    visits[i]++;
    total++;
  }
  assert_int_equal(total, m->count);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(visits[i], present(i) ? 1 : 0);
  free(visits);
}

static bool all(size_t i) {
  (void)i;
  return true;
}

static bool not_multiple_of_3(size_t i) { return i % 3 != 0; }

static void test_iteration_visits_each_once(void **state) {
  (void)state;
  struct hashmap m;
  hashmap__init(&m);
  fill(&m, MANY);
  assert_iteration_exact(&m, MANY, all);
  char key[32];
  for (size_t i = 0; i < MANY; i += 3) {
    key_of(key, sizeof key, i);
    assert_int_equal(NUM(del(&m, key)), i + 1);
  }
  assert_int_equal(m.count, MANY - (MANY + 2) / 3);
  assert_iteration_exact(&m, MANY, not_multiple_of_3);
  hashmap__cleanup(&m);
}

static void test_iteration_small(void **state) {
  (void)state;
  struct hashmap m;
  hashmap__init(&m);
  fill(&m, 1);
  assert_iteration_exact(&m, 1, all);
  hashmap__cleanup(&m);
  hashmap__init(&m);
  fill(&m, 17); /* past the first growth (16 buckets) */
  assert_int_equal(m.count, 17);
  assert_iteration_exact(&m, 17, all);
  hashmap__cleanup(&m);
}

/* ---- hash --------------------------------------------------------------- */

static const unsigned char zero_seed[HASHMAP_SEED_BYTES];

/* The SipHash paper's key 00 01 .. 0f. */
static void reference_seed(unsigned char seed[HASHMAP_SEED_BYTES]) {
  for (int i = 0; i < HASHMAP_SEED_BYTES; i++) seed[i] = (unsigned char)i;
}

static void test_siphash_vectors(void **state) {
  (void)state;
  unsigned char seed[HASHMAP_SEED_BYTES];
  reference_seed(seed);
  hashmap__seed(seed);
  /* SipHash-2-4 test vectors (64-bit output, little-endian). */
  assert_int_equal(hashmap__hash("", 0), 0x726fdb47dd0e0e31ull);
  assert_int_equal(hashmap__hash("\x00", 1), 0x74f839c593dc67fdull);
  assert_int_not_equal(hashmap__hash("a\0b", 3), hashmap__hash("a", 1));
  hashmap__seed(zero_seed);
}

/* The same names hash apart under another key, so collisions found for
 * one process do not carry over to another. */
static void test_seed_changes_hash(void **state) {
  (void)state;
  unsigned char seed[HASHMAP_SEED_BYTES];
  reference_seed(seed);
  hashmap__seed(seed);
  uint64_t a = hashmap__hash("channel", 7), b = hashmap__hash("other", 5);
  seed[0] ^= 1;
  hashmap__seed(seed);
  assert_int_not_equal(hashmap__hash("channel", 7), a);
  assert_int_not_equal(hashmap__hash("other", 5), b);
  assert_int_equal(hashmap__seed_random(), 0);
  uint64_t r1 = hashmap__hash("channel", 7);
  assert_int_equal(hashmap__seed_random(), 0);
  assert_int_not_equal(hashmap__hash("channel", 7), r1);
  hashmap__seed(zero_seed);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_empty),
      TEST(test_put_get_replace_remove),
      TEST(test_null_value_and_empty_key),
      TEST(test_keys_are_copied),
      TEST(test_similar_prefixes),
      TEST(test_length_not_terminator),
      TEST(test_growth),
      TEST(test_iteration_visits_each_once),
      TEST(test_iteration_small),
      TEST(test_siphash_vectors),
      TEST(test_seed_changes_hash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
