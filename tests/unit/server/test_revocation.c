/* test_revocation.c -- an app's token revocations (server/auth/revocation.c):
 * what a revocation reaches and from when, and whether adding one changed
 * anything (what makes live connections be swept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/revocation.h"
#include "leak_check.h"

#define KEY "app.key"
#define NOW 1700000000000LL

static void test_it_reaches_matching_tokens_issued_before(void **state) {
  struct revocations r;
  revocation__init(&r);
  assert_true(revocation__add(&r, KEY, "clientId:alice", NOW, NOW));
  assert_true(revocation__revoked(&r, KEY, "alice", NULL, NOW - 1, NOW));
  assert_false(revocation__revoked(&r, KEY, "alice", NULL, NOW, NOW));
  assert_false(revocation__revoked(&r, KEY, "bob", NULL, NOW - 1, NOW));
  assert_false(
      revocation__revoked(&r, "app.other", "alice", NULL, NOW - 1, NOW));
  assert_false(revocation__revoked(&r, KEY, NULL, "alice", NOW - 1, NOW));
  assert_true(revocation__add(&r, KEY, "revocationKey:rk", NOW, NOW));
  assert_true(revocation__revoked(&r, KEY, NULL, "rk", NOW - 1, NOW));
  revocation__cleanup(&r);
}

static void test_a_margin_delays_it_to_applies_at(void **state) {
  struct revocations r;
  revocation__init(&r);
  assert_true(revocation__add(&r, KEY, "clientId:alice", NOW, NOW + 30000));
  int64_t applies_at = NOW + 30000;
  assert_false(
      revocation__revoked(&r, KEY, "alice", NULL, NOW - 1, applies_at - 1));
  assert_true(revocation__revoked(&r, KEY, "alice", NULL, NOW - 1, applies_at));
  revocation__cleanup(&r);
}

static void test_only_a_further_reaching_one_changes_anything(void **state) {
  struct revocations r;
  revocation__init(&r);
  assert_true(revocation__add(&r, KEY, "clientId:alice", NOW, NOW));
  assert_false(revocation__add(&r, KEY, "clientId:alice", NOW, NOW));
  assert_false(revocation__add(&r, KEY, "clientId:alice", NOW - 5, NOW));
  assert_true(revocation__add(&r, KEY, "clientId:alice", NOW + 5, NOW + 5));
  assert_true(revocation__revoked(&r, KEY, "alice", NULL, NOW + 4, NOW + 5));
  assert_true(revocation__add(&r, KEY, "clientId:bob", NOW, NOW));
  revocation__cleanup(&r);
}

static void test_it_is_forgotten_when_no_token_can_match(void **state) {
  struct revocations r;
  revocation__init(&r);
  assert_true(revocation__add(&r, KEY, "clientId:alice", NOW, NOW));
  int64_t later = NOW + REVOCABLE_TOKEN_MAX_TTL_MS;
  assert_true(revocation__add(&r, KEY, "clientId:bob", later, later));
  assert_int_equal(r.count, 1);
  /* added again as new, since the first was forgotten */
  assert_true(revocation__add(&r, KEY, "clientId:alice", NOW, later));
  revocation__cleanup(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_it_reaches_matching_tokens_issued_before,
          leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_a_margin_delays_it_to_applies_at,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(
          test_only_a_further_reaching_one_changes_anything, leak_check__setup,
          leak_check__teardown),
      cmocka_unit_test_setup_teardown(
          test_it_is_forgotten_when_no_token_can_match, leak_check__setup,
          leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
