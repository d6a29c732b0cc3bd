/* leak_check.c -- the shared leak-checking fixture (see leak_check.h). */
#include "leak_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "alloc.h"

static long live_at_start;

int leak_check__setup(void **state) {
  (void)state;
  live_at_start = herald_alloc_live();
  return 0;
}

int leak_check__teardown(void **state) {
  (void)state;
  assert_int_equal(herald_alloc_live(), live_at_start);
  return 0;
}
