/* test_pagination.c -- page parameters and Link URLs (server/rest/pagination.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "transport/http.h"
#include "rest/pagination.h"

/* A request with the given query parameters (name, value pairs). */
static void make_request(struct http_request *req, struct http_param *params,
                         size_t n) {
  memset(req, 0, sizeof *req);
  arena__init(&req->arena);
  req->params = params;
  req->n_params = n;
}

static void test_defaults(void **state) {
  struct http_request req;
  struct page_query q;
  make_request(&req, NULL, 0);
  assert_int_equal(pagination__parse(&req, &q, NULL), 0);
  assert_int_equal(q.limit, 100);
  assert_int_equal(q.direction, STORE_BACKWARDS);
  assert_int_equal(q.start, 0);
  assert_true(q.end > 1700000000000);
  assert_null(q.cursor);
}

static void test_explicit_values(void **state) {
  struct http_param p[] = {{"limit", "1000"}, {"direction", "forwards"},
                           {"start", "5"}, {"end", "10"}, {"cursor", "c"}};
  struct http_request req;
  struct page_query q;
  make_request(&req, p, 5);
  assert_int_equal(pagination__parse(&req, &q, NULL), 0);
  assert_int_equal(q.limit, 1000);
  assert_int_equal(q.direction, STORE_FORWARDS);
  assert_int_equal(q.start, 5);
  assert_int_equal(q.end, 10);
  assert_string_equal(q.cursor, "c");
}

static void expect_invalid(const char *name, const char *value) {
  struct http_param p[] = {{name, value}};
  struct http_request req;
  struct page_query q;
  herald_error err;
  make_request(&req, p, 1);
  assert_int_equal(pagination__parse(&req, &q, &err),
                   -HERALD_E_INVALID_PARAMETER_VALUE);
  assert_int_equal(err.status, 400);
}

static void test_invalid_values(void **state) {
  expect_invalid("limit", "0");
  expect_invalid("limit", "1001");
  expect_invalid("limit", "abc");
  expect_invalid("limit", "");
  expect_invalid("limit", "-1");
  expect_invalid("direction", "sideways");
  expect_invalid("start", "x");
  expect_invalid("end", "1.5");
}

static void test_start_after_end(void **state) {
  struct http_param p[] = {{"start", "11"}, {"end", "10"}};
  struct http_request req;
  struct page_query q;
  make_request(&req, p, 2);
  assert_int_equal(pagination__parse(&req, &q, NULL),
                   -HERALD_E_INVALID_PARAMETER_VALUE);
}

static void test_links_carry_the_whole_query(void **state) {
  struct http_param p[] = {{"limit", "2"}, {"start", "1"}, {"end", "9"}};
  struct http_request req;
  struct page_query q;
  struct page_param params[4];
  struct reply_links links;
  make_request(&req, p, 3);
  assert_int_equal(pagination__parse(&req, &q, NULL), 0);
  size_t n = pagination__time_params(&req, &q, params);
  pagination__links(&req, "messages", params, n, NULL,
                    "01700000000000-000@ab1:000", &links);
  assert_string_equal(links.first,
                      "./messages?start=1&end=9&limit=2&direction=backwards");
  assert_string_equal(links.current, links.first);
  /* '@' and ':' are percent-encoded: ably-js splits Link on ',' and ';'. */
  assert_string_equal(links.next,
                      "./messages?start=1&end=9&limit=2&direction=backwards"
                      "&cursor=01700000000000-000%40ab1%3A000");
  arena__cleanup(&req.arena);
}

static void test_last_page_has_no_next(void **state) {
  struct http_request req;
  struct reply_links links;
  const struct page_param params[] = {{"prefix", "a b,c"}, {"by", NULL}};
  make_request(&req, NULL, 0);
  pagination__links(&req, "channels", params, 2, "cur", NULL, &links);
  assert_string_equal(links.first, "./channels?prefix=a%20b%2Cc");
  assert_string_equal(links.current, "./channels?prefix=a%20b%2Cc&cursor=cur");
  assert_null(links.next);
  arena__cleanup(&req.arena);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_explicit_values),
      cmocka_unit_test(test_invalid_values),
      cmocka_unit_test(test_start_after_end),
      cmocka_unit_test(test_links_carry_the_whole_query),
      cmocka_unit_test(test_last_page_has_no_next),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
