/* test_deadline.c -- deadline queues behind one timer (server/core/deadline.c):
 * expiry order across queues, disarming, re-arming to the back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/deadline.h"
#include "leak_check.h"

struct item {
  struct deadline d; /* first: the callback gets &item->d */
  char name;
};

static char expired[16];
static struct deadline_timer timer;

static void on_expired(struct deadline *d) {
  size_t n = strlen(expired);
  expired[n] = ((struct item *)d)->name;
  expired[n + 1] = '\0';
}

static void run(uv_loop_t *loop) {
  expired[0] = '\0';
  uv_run(loop, UV_RUN_DEFAULT); /* ends once nothing is armed */
}

static void test_expiry_order_disarm_and_rearm(void **state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  const uint64_t durations[] = {30, 10};
  deadline__timer_init(&timer, &loop, durations, 2, on_expired);
  struct item a = {.name = 'a'}, b = {.name = 'b'}, c = {.name = 'c'},
              d = {.name = 'd'};
  deadline__arm(&timer, &a.d, &timer.queues[0]); /* 30 ms */
  deadline__arm(&timer, &b.d, &timer.queues[0]);
  deadline__arm(&timer, &c.d, &timer.queues[1]); /* 10 ms: first */
  deadline__arm(&timer, &d.d, &timer.queues[1]);
  deadline__disarm(&d.d);
  assert_false(deadline__armed(&d.d));
  deadline__arm(&timer, &a.d, &timer.queues[0]); /* to the back */
  run(&loop);
  assert_string_equal(expired, "cba");
  assert_false(deadline__armed(&a.d));
  uv_close((uv_handle_t *)&timer.timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_expiry_order_disarm_and_rearm,
                                      leak_check__setup, leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
