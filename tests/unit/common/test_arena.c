/* test_arena.c -- common/arena.c: aligned allocations across chunks, large
 * ones, and reset keeping one chunk (no allocation for the next request). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "arena.h"
#include "leak_check.h"

static void test_allocations(void **state) {
  (void)state;
  struct arena a;
  arena__init(&a);
  for (int i = 0; i < 100; i++) {
    char *p = arena__alloc(&a, 33);
    assert_int_equal((uintptr_t)p % 16, 0);
    memset(p, 'x', 33);
  }
  char *big = arena__alloc(&a, 10000);
  memset(big, 'y', 10000);
  assert_string_equal(arena__strndup(&a, "hello world", 5), "hello");
  arena__cleanup(&a);
  assert_null(a.chunks);
}

static void test_reset_keeps_one_chunk(void **state) {
  (void)state;
  struct arena a;
  arena__init(&a);
  for (int i = 0; i < 100; i++) arena__alloc(&a, 100);
  arena__alloc(&a, 10000);
  long live = herald_alloc_live();
  arena__reset(&a);
  assert_non_null(a.chunks);
  assert_true(herald_alloc_live() < live);
  long kept = herald_alloc_live();
  for (int i = 0; i < 5; i++) arena__alloc(&a, 100); /* fits the kept chunk */
  assert_int_equal(herald_alloc_live(), kept);
  arena__reset(&a);
  assert_int_equal(herald_alloc_live(), kept);
  arena__cleanup(&a);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_allocations),
      TEST(test_reset_keeps_one_chunk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
