/* test_http_strict.c -- the strict framing checks (server/transport/http_strict.c),
 * fed whole and split at every byte (the state carries across reads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "transport/http_strict.h"
#include "leak_check.h"

struct strict_case {
  const char *bytes;
  bool chunked;
  const char *error; /* NULL: accepted */
};

static const struct strict_case cases[] = {
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, NULL},
    {"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", false, NULL},
    {"GET / HTTP/1.1\r\nHost: a b\r\nX:  c \r\n\r\n", false, NULL},
    {"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\nb", false, NULL},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3;x=y\r\na\nb\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
     true, NULL},
    {"GET / HTTP/1.1\nHost: x\n\n", false, "Line ending without CR"},
    {"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", false, "Line ending without CR"},
    {"GET / HTTP/1.1\r\nHost: x\r\rX: y\r\n\r\n", false, "CR not followed by LF"},
    {"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", false, "Obsolete line folding"},
    {"GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", false, "Obsolete line folding"},
    {"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", true,
     "Whitespace in a header name"},
    {"GET / HTTP/1.1\r\n: b\r\nHost: x\r\n\r\n", false,
     "Header line without a name"}, /* found by fuzz_http_strict */
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX0\r\n\r\n",
     true, "Chunk data not followed by CRLF"},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n",
     true, "Line ending without CR"},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\n",
     true, "Line ending without CR"},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     "1\r\na\r\n0\r\nT: v\r\n w\r\n\r\n",
     true, "Obsolete line folding"},
};

static const char *scan_split(const struct strict_case *c, size_t split) {
  struct http_strict s;
  http_strict__reset(&s);
  size_t len = strlen(c->bytes);
  const char *err = http_strict__scan(&s, c->bytes, split, c->chunked);
  if (!err) err = http_strict__scan(&s, c->bytes + split, len - split, c->chunked);
  return err;
}

static void test_cases_whole_and_split(void **state) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    for (size_t split = 0; split <= strlen(cases[i].bytes); split++) {
      const char *err = scan_split(&cases[i], split);
      if (!cases[i].error) {
        if (err) print_error("case %zu split %zu: %s\n", i, split, err);
        assert_null(err);
      } else {
        if (!err) print_error("case %zu split %zu: accepted\n", i, split);
        assert_non_null(err);
        assert_string_equal(err, cases[i].error);
      }
    }
  }
}

/* Reset makes the scanner ready for the next request of a connection. */
static void test_reset_between_requests(void **state) {
  struct http_strict s;
  http_strict__reset(&s);
  const char *a = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_null(http_strict__scan(&s, a, strlen(a), false));
  http_strict__reset(&s);
  const char *b = "GET / HTTP/1.1\nHost: x\n\n";
  assert_non_null(http_strict__scan(&s, b, strlen(b), false));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cases_whole_and_split,
                                      leak_check__setup, leak_check__teardown),
      cmocka_unit_test_setup_teardown(test_reset_between_requests,
                                      leak_check__setup, leak_check__teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
