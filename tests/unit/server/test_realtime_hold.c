/* test_realtime_hold.c -- live frames held back while an attachment
 * replays count toward the connection's outbound bound (realtime__hold in
 * server/realtime/realtime.c): held plus unsent bytes within --max-outbound-bytes
 * are kept; a frame that would pass it makes the subscriber slow (it is
 * disconnected at the next tick, 80020) and nothing more is held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "transport/outbound.h"
#include "realtime/realtime.h"
#include "transport/transport.h"

struct fixture {
  struct outbound out;
  struct transport transport;
  struct rt_conn conn;
};

static void setup_conn(struct fixture *f, size_t limit, size_t unsent) {
  *f = (struct fixture){0};
  f->out.limit = limit;
  f->out.bytes = unsent; /* as if queued and not yet written */
  f->transport.out = &f->out;
  f->conn.transport = &f->transport;
}

static void test_held_within_bound(void **state) {
  (void)state;
  struct fixture f;
  setup_conn(&f, 1000, 100);
  assert_true(realtime__hold(&f.conn, 400));
  assert_true(realtime__hold(&f.conn, 500)); /* 100 unsent + 900 held = limit */
  assert_int_equal(f.conn.held_bytes, 900);
  assert_false(f.conn.slow);
  realtime__unhold(&f.conn, 400);
  assert_int_equal(f.conn.held_bytes, 500);
}

static void test_held_past_bound_makes_slow(void **state) {
  (void)state;
  struct fixture f;
  setup_conn(&f, 1000, 600);
  assert_true(realtime__hold(&f.conn, 300));
  assert_false(realtime__hold(&f.conn, 200)); /* 600 + 300 + 200 > 1000 */
  assert_true(f.conn.slow);
  assert_int_equal(f.conn.held_bytes, 300);
  assert_false(realtime__hold(&f.conn, 1)); /* a slow subscriber holds nothing */
  assert_int_equal(f.conn.held_bytes, 300);
}

static void test_no_limit_no_transport(void **state) {
  (void)state;
  struct fixture f;
  setup_conn(&f, 0, 1 << 20);
  assert_true(realtime__hold(&f.conn, 1 << 20)); /* limit 0: unbounded */
  f.conn.transport = NULL;
  assert_false(realtime__hold(&f.conn, 1)); /* nowhere to send it */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_held_within_bound),
      cmocka_unit_test(test_held_past_bound_makes_slow),
      cmocka_unit_test(test_no_limit_no_transport),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
