/* test_ack_queue.c -- ACK/NACK order and resend deduplication
 * (server/realtime/ack_queue.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "realtime/ack_queue.h"
#include "leak_check.h"

/* What flush emitted, as text: "A0x2[s0,s1] N2(40160)". */
struct transcript {
  char text[512];
};

static void record(void *ctx, const struct ack_entry *first, size_t count,
                   const herald_error *err) {
  struct transcript *t = ctx;
  size_t len = strlen(t->text);
  char *p = t->text + len;
  size_t room = sizeof t->text - len;
  if (err) {
    snprintf(p, room, "%sN%lldx%zu(%d)", len ? " " : "",
             (long long)first->msg_serial, count, err->code);
    return;
  }
  int n = snprintf(p, room, "%sA%lldx%zu[", len ? " " : "",
                   (long long)first->msg_serial, count);
  for (size_t i = 0; i < count; i++)
    for (size_t k = 0; k < first[i].n_serials; k++)
      n += snprintf(p + n, room - (size_t)n, "%s%s", i || k ? "," : "",
                    first[i].serials[k] ? first[i].serials[k] : "null");
  snprintf(p + n, room - (size_t)n, "]");
}

static const char *flush(struct ack_queue *q, struct transcript *t) {
  t->text[0] = '\0';
  ack_queue__flush(q, record, t);
  return t->text;
}

static void complete_ok(struct ack_queue *q, int64_t serial, const char *s) {
  char *serials[] = {(char *)s};
  ack_queue__complete(q, serial, serials, 1, NULL);
}

static void test_answers_leave_in_msg_serial_order(void **state) {
  struct ack_queue q;
  struct transcript t;
  ack_queue__init(&q, 16);
  for (int i = 0; i < 3; i++) assert_int_equal(ack_queue__receive(&q, i), ACK_NEW);
  complete_ok(&q, 2, "c"); /* completes first, must wait for 0 and 1 */
  assert_string_equal(flush(&q, &t), "");
  complete_ok(&q, 0, "a");
  assert_string_equal(flush(&q, &t), "A0x1[a]");
  complete_ok(&q, 1, "b");
  assert_string_equal(flush(&q, &t), "A1x2[b,c]");
  assert_false(ack_queue__pending(&q));
  ack_queue__cleanup(&q);
}

static void test_a_nack_splits_the_run(void **state) {
  struct ack_queue q;
  struct transcript t;
  herald_error err;
  herald_error_set(&err, HERALD_E_CAPABILITY_DENIED, NULL);
  ack_queue__init(&q, 16);
  for (int i = 0; i < 3; i++) ack_queue__receive(&q, i);
  complete_ok(&q, 0, "a");
  ack_queue__complete(&q, 1, NULL, 0, &err);
  complete_ok(&q, 2, "c");
  assert_string_equal(flush(&q, &t), "A0x1[a] N1x1(40160) A2x1[c]");
  ack_queue__cleanup(&q);
}

static void test_a_resend_is_answered_again_not_republished(void **state) {
  struct ack_queue q;
  struct transcript t;
  ack_queue__init(&q, 16);
  ack_queue__receive(&q, 0);
  ack_queue__receive(&q, 1);
  complete_ok(&q, 0, "a");
  assert_string_equal(flush(&q, &t), "A0x1[a]");
  /* The transport drops; 1 completes meanwhile; the client resends 0, 1. */
  ack_queue__transport_lost(&q);
  complete_ok(&q, 1, "b");
  assert_string_equal(flush(&q, &t), "");
  assert_int_equal(ack_queue__receive(&q, 0), ACK_DUPLICATE);
  assert_int_equal(ack_queue__receive(&q, 1), ACK_DUPLICATE);
  assert_string_equal(flush(&q, &t), "A0x2[a,b]");
  assert_int_equal(ack_queue__receive(&q, 2), ACK_NEW);
  ack_queue__cleanup(&q);
}

static void test_a_resend_of_a_pending_publish_waits_for_it(void **state) {
  struct ack_queue q;
  struct transcript t;
  ack_queue__init(&q, 16);
  ack_queue__receive(&q, 5);
  ack_queue__transport_lost(&q);
  assert_int_equal(ack_queue__receive(&q, 5), ACK_DUPLICATE);
  assert_true(ack_queue__pending(&q));
  assert_string_equal(flush(&q, &t), "");
  complete_ok(&q, 5, "e");
  assert_string_equal(flush(&q, &t), "A5x1[e]");
  ack_queue__cleanup(&q);
}

static void test_only_resent_entries_are_answered_after_a_drop(void **state) {
  struct ack_queue q;
  struct transcript t;
  ack_queue__init(&q, 16);
  for (int i = 0; i < 3; i++) ack_queue__receive(&q, i);
  ack_queue__transport_lost(&q);
  for (int i = 0; i < 3; i++) complete_ok(&q, i, "x");
  /* The client saw the answer to 0 before the drop: it resends 1 and 2. */
  ack_queue__receive(&q, 1);
  ack_queue__receive(&q, 2);
  assert_string_equal(flush(&q, &t), "A1x2[x,x]");
  ack_queue__cleanup(&q);
}

static void test_forgotten_serials_get_empty_answers(void **state) {
  struct ack_queue q;
  struct transcript t;
  ack_queue__init(&q, 2);
  for (int i = 0; i < 5; i++) {
    ack_queue__receive(&q, i);
    complete_ok(&q, i, "s");
  }
  flush(&q, &t); /* answered; only the last two are remembered */
  ack_queue__transport_lost(&q);
  assert_int_equal(ack_queue__receive(&q, 0), ACK_DUPLICATE);
  assert_string_equal(flush(&q, &t), "A0x1[]");
  ack_queue__cleanup(&q);
}

static void test_gaps_after_recover_are_accepted(void **state) {
  struct ack_queue q;
  struct transcript t;
  ack_queue__init(&q, 16);
  ack_queue__receive(&q, 7);
  assert_int_equal(ack_queue__receive(&q, 9), ACK_NEW);
  complete_ok(&q, 7, "a");
  complete_ok(&q, 9, "b");
  /* Not consecutive: two ACKs, since count covers consecutive serials. */
  assert_string_equal(flush(&q, &t), "A7x1[a] A9x1[b]");
  ack_queue__cleanup(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_answers_leave_in_msg_serial_order,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_a_nack_splits_the_run,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(
          test_a_resend_is_answered_again_not_republished, leak_check__setup,
          leak_check__teardown),
      cmocka_unit_test_setup_teardown(
          test_a_resend_of_a_pending_publish_waits_for_it, leak_check__setup,
          leak_check__teardown),
      cmocka_unit_test_setup_teardown(
          test_only_resent_entries_are_answered_after_a_drop,
          leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_forgotten_serials_get_empty_answers,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_gaps_after_recover_are_accepted,
                                      leak_check__setup, leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
