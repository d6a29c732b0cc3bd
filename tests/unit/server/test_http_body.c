/* test_http_body.c -- how http.c's on_body grows a request body: never to
 * the declared Content-Length up front, and geometrically for many small
 * chunks (a 2 MiB body in 1-byte chunks must not copy quadratically).
 * Includes http.c to reach the parser callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <malloc.h>

#include "../../../server/transport/http.c"
#include "leak_check.h"

#define MIB (1024 * 1024)

struct fixture {
  struct config cfg;
  struct http_server server;
  struct http_worker worker;
  struct http_conn conn;
};

static void fixture_init(struct fixture *f, unsigned flags,
                         uint64_t content_length) {
  memset(f, 0, sizeof *f);
  f->cfg.max_body_size = 4 * MIB;
  f->server.cfg = &f->cfg;
  f->worker.server = &f->server;
  f->conn.hw = &f->worker;
  f->conn.parser.data = &f->conn;
  f->conn.parser.flags = (uint8_t)flags;
  f->conn.parser.content_length = content_length;
}

static void test_declared_length_is_not_reserved(void **state) {
  struct fixture f;
  fixture_init(&f, F_CONTENTLENGTH, 2000000);
  assert_int_equal(on_body(&f.conn.parser, "0123456789", 10), 0);
  assert_int_equal(f.conn.req.body_len, 10);
  assert_string_equal(f.conn.req.body, "0123456789");
  size_t reserved = malloc_usable_size(f.conn.req.body);
  if (reserved > 64 * 1024) print_error("%zu bytes reserved for 10\n", reserved);
  assert_true(reserved <= 64 * 1024);
  herald_free(f.conn.req.body);
}

static void test_one_byte_chunks_grow_geometrically(void **state) {
  struct fixture f;
  fixture_init(&f, F_CHUNKED, 0);
  size_t growths = 0, usable = 0;
  for (size_t i = 0; i < 2 * MIB; i++) {
    assert_int_equal(on_body(&f.conn.parser, "x", 1), 0);
    size_t now = malloc_usable_size(f.conn.req.body);
    if (now != usable) growths++, usable = now;
  }
  assert_int_equal(f.conn.req.body_len, 2 * MIB);
  assert_int_equal(f.conn.req.body[2 * MIB], '\0');
  if (growths > 32) print_error("%zu reallocations for 2 MiB\n", growths);
  assert_true(growths <= 32);
  herald_free(f.conn.req.body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_declared_length_is_not_reserved,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_one_byte_chunks_grow_geometrically,
                                      leak_check__setup, leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
