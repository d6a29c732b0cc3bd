/* test_connection_registry.c -- realtime connections by id
 * (server/realtime/connection_registry.c): keys, resume claims, who may
 * detach or remove a connection. The connections are bare struct rt_conn:
 * the registry reads only their id, key, state, claim, app, identity and
 * expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/apps.h"
#include "realtime/connection_registry.h"
#include "realtime/realtime.h"
#include "leak_check.h"

static struct app app_a, app_b;
static struct rt_resume *const some_claim = (struct rt_resume *)&app_b;

struct fixture {
  struct connection_registry registry;
  struct rt_conn conn;
};

static int setup(void **state) {
  leak_check__setup(state);
  static struct fixture f;
  memset(&f, 0, sizeof f);
  connection_registry__init(&f.registry);
  f.conn.app = &app_a;
  connection_registry__add(&f.registry, &f.conn);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  connection_registry__cleanup(&f->registry);
  return leak_check__teardown(state);
}

/* The credentials a resume arrives with. */
static struct auth as(struct app *app, char *client_id) {
  return (struct auth){.app = app, .client_id = client_id};
}

/* Claims key with auth; returns the error code (0 when claimed) and checks
 * that a refusal returns NULL and a success the connection. */
static int claim(struct fixture *f, const char *key, struct auth auth) {
  herald_error err = {0};
  struct rt_conn *c =
      connection_registry__claim(&f->registry, key, &auth, some_claim, &err);
  if (c) {
    assert_ptr_equal(c, &f->conn);
    return 0;
  }
  assert_int_not_equal(err.code, 0);
  return err.code;
}

static void test_add_gives_a_fresh_id_and_a_key_naming_it(void **state) {
  struct fixture *f = *state;
  struct rt_conn other = {.app = &app_a};
  connection_registry__add(&f->registry, &other);
  assert_int_equal(f->conn.state, RT_LIVE);
  assert_int_equal(strlen(f->conn.id), RT_CONNECTION_ID_LEN);
  assert_string_not_equal(f->conn.id, other.id);
  assert_memory_equal(f->conn.key, f->conn.id, RT_CONNECTION_ID_LEN);
  assert_int_equal(f->conn.key[RT_CONNECTION_ID_LEN], '!');
  assert_true(strlen(f->conn.key) > RT_CONNECTION_ID_LEN + 1);
  assert_true(connection_registry__remove(&f->registry, &other, 0, true));
}

static void test_claim_with_the_key_moves_the_connection(void **state) {
  struct fixture *f = *state;
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
  assert_int_equal(f->conn.state, RT_MOVING);
  assert_ptr_equal(f->conn.claim, some_claim);
}

static void test_claim_with_a_wrong_secret_is_80008(void **state) {
  struct fixture *f = *state;
  char key[RT_CONNECTION_KEY_MAX];
  snprintf(key, sizeof key, "%s", f->conn.key);
  key[strlen(key) - 1] ^= 1; /* same id, another secret */
  assert_int_equal(claim(f, key, as(&app_a, NULL)), 80008);
  key[RT_CONNECTION_ID_LEN + 1] = '\0'; /* the id and no secret at all */
  assert_int_equal(claim(f, key, as(&app_a, NULL)), 80008);
  assert_int_equal(f->conn.state, RT_LIVE);
  assert_null(f->conn.claim);
}

static void test_claim_of_an_unknown_id_is_80008(void **state) {
  struct fixture *f = *state;
  char key[RT_CONNECTION_KEY_MAX];
  snprintf(key, sizeof key, "%s", f->conn.key);
  key[0] = key[0] == 'A' ? 'B' : 'A';
  assert_int_equal(claim(f, key, as(&app_a, NULL)), 80008);
}

static void test_a_malformed_key_is_80018(void **state) {
  struct fixture *f = *state;
  char too_long[RT_CONNECTION_KEY_MAX + 1]; /* the real id, a long secret */
  memset(too_long, 'x', RT_CONNECTION_KEY_MAX);
  memcpy(too_long, f->conn.key, RT_CONNECTION_ID_LEN + 1);
  too_long[RT_CONNECTION_KEY_MAX] = '\0';
  const char *bad[] = {"", "no-bang-at-all", "short!secret",
                       "abcdefghijk!idtoolong", too_long};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(claim(f, bad[i], as(&app_a, NULL)), 80018);
  assert_int_equal(f->conn.state, RT_LIVE);
}

static void test_claim_with_another_identity_is_80011(void **state) {
  struct fixture *f = *state;
  assert_int_equal(claim(f, f->conn.key, as(&app_b, NULL)), 80011);
  assert_int_equal(claim(f, f->conn.key, as(&app_a, "alice")), 80011);
  assert_int_equal(f->conn.state, RT_LIVE);

  struct rt_conn alice = {.app = &app_a, .identity = "alice"};
  connection_registry__add(&f->registry, &alice);
  herald_error err;
  struct auth bob = as(&app_a, "bob"), nobody = as(&app_a, NULL),
              alice_b = as(&app_b, "alice"), alice_a = as(&app_a, "alice");
  assert_null(connection_registry__claim(&f->registry, alice.key, &bob,
                                         some_claim, &err));
  assert_int_equal(err.code, 80011);
  assert_null(connection_registry__claim(&f->registry, alice.key, &nobody,
                                         some_claim, &err));
  assert_int_equal(err.code, 80011);
  assert_null(connection_registry__claim(&f->registry, alice.key, &alice_b,
                                         some_claim, &err));
  assert_int_equal(err.code, 80011);
  assert_ptr_equal(connection_registry__claim(&f->registry, alice.key,
                                              &alice_a, some_claim, &err),
                   &alice);
  connection_registry__settle(&f->registry, &alice, RT_LIVE);
  assert_true(connection_registry__remove(&f->registry, &alice, 0, true));
}

static void test_a_claimed_connection_cannot_be_claimed_again(void **state) {
  struct fixture *f = *state;
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 80008);
  assert_ptr_equal(f->conn.claim, some_claim);
}

static void test_settle_ends_the_claim(void **state) {
  struct fixture *f = *state;
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
  connection_registry__settle(&f->registry, &f->conn, RT_LIVE);
  assert_int_equal(f->conn.state, RT_LIVE);
  assert_null(f->conn.claim);
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
}

/* A resume claim owns the connection: not even a CLOSE removes it. */
static void test_remove_refuses_a_claimed_connection(void **state) {
  struct fixture *f = *state;
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
  f->conn.expires_at = 1;
  assert_false(connection_registry__remove(&f->registry, &f->conn, 100, true));
  assert_false(connection_registry__remove(&f->registry, &f->conn, 100, false));
  assert_int_equal(f->conn.state, RT_MOVING);
  /* still registered: once the move settles it can be claimed again */
  connection_registry__settle(&f->registry, &f->conn, RT_LIVE);
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
}

static void test_remove_takes_a_detached_connection_once_expired(void **state) {
  struct fixture *f = *state;
  connection_registry__settle(&f->registry, &f->conn, RT_DETACHED);
  f->conn.expires_at = 1000;
  assert_false(connection_registry__remove(&f->registry, &f->conn, 999, false));
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
  connection_registry__settle(&f->registry, &f->conn, RT_DETACHED);
  assert_true(connection_registry__remove(&f->registry, &f->conn, 1000, false));
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 80008);
}

static void test_remove_takes_a_live_connection_only_when_forced(void **state) {
  struct fixture *f = *state;
  f->conn.expires_at = 1;
  assert_false(connection_registry__remove(&f->registry, &f->conn, 100, false));
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
  connection_registry__settle(&f->registry, &f->conn, RT_LIVE);
  assert_true(connection_registry__remove(&f->registry, &f->conn, 100, true));
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 80008);
}

static void test_detach_makes_a_live_connection_resumable_until_expiry(
    void **state) {
  struct fixture *f = *state;
  assert_true(connection_registry__detach(&f->registry, &f->conn, 1000));
  assert_int_equal(f->conn.state, RT_DETACHED);
  assert_int_equal(f->conn.expires_at, 1000);
  assert_false(connection_registry__remove(&f->registry, &f->conn, 999, false));
  assert_true(connection_registry__remove(&f->registry, &f->conn, 1000, false));
}

/* A resume on another worker may claim the connection just before its
 * home detaches it: the claim stays, and so does the connection. */
static void test_detach_leaves_a_claimed_connection_to_its_claim(void **state) {
  struct fixture *f = *state;
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
  f->conn.expires_at = 0;
  assert_false(connection_registry__detach(&f->registry, &f->conn, 1000));
  assert_int_equal(f->conn.state, RT_MOVING);
  assert_ptr_equal(f->conn.claim, some_claim);
  assert_int_equal(f->conn.expires_at, 0);
  assert_false(connection_registry__remove(&f->registry, &f->conn, 2000, false));
  /* and a detached one is not detached again */
  connection_registry__settle(&f->registry, &f->conn, RT_DETACHED);
  assert_false(connection_registry__detach(&f->registry, &f->conn, 3000));
  assert_int_equal(f->conn.expires_at, 0);
}

static void test_rekey_retires_the_old_key(void **state) {
  struct fixture *f = *state;
  char old_key[RT_CONNECTION_KEY_MAX], old_id[RT_CONNECTION_ID_LEN + 1];
  snprintf(old_key, sizeof old_key, "%s", f->conn.key);
  snprintf(old_id, sizeof old_id, "%s", f->conn.id);
  connection_registry__rekey(&f->registry, &f->conn);
  assert_string_equal(f->conn.id, old_id);
  assert_string_not_equal(f->conn.key, old_key);
  assert_int_equal(claim(f, old_key, as(&app_a, NULL)), 80008);
  assert_int_equal(claim(f, f->conn.key, as(&app_a, NULL)), 0);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      CASE(test_add_gives_a_fresh_id_and_a_key_naming_it),
      CASE(test_claim_with_the_key_moves_the_connection),
      CASE(test_claim_with_a_wrong_secret_is_80008),
      CASE(test_claim_of_an_unknown_id_is_80008),
      CASE(test_a_malformed_key_is_80018),
      CASE(test_claim_with_another_identity_is_80011),
      CASE(test_a_claimed_connection_cannot_be_claimed_again),
      CASE(test_settle_ends_the_claim),
      CASE(test_remove_refuses_a_claimed_connection),
      CASE(test_remove_takes_a_detached_connection_once_expired),
      CASE(test_remove_takes_a_live_connection_only_when_forced),
      CASE(test_detach_makes_a_live_connection_resumable_until_expiry),
      CASE(test_detach_leaves_a_claimed_connection_to_its_claim),
      CASE(test_rekey_retires_the_old_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
