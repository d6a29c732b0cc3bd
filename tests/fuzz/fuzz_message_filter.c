/* fuzz_message_filter.c -- libFuzzer target for subscription filter
 * expressions (common/message_filter.c): compile, then match.
 *
 * The input is split at NULs: the first piece is an expression E, the
 * next ones a message's name, clientId and extras JSON text (each
 * optional). For every input, compiling ends in a filter or a -40010
 * "Invalid filter expression: ..." error without a crash or leak; the
 * base64 of E compiles the same way. For what compiles, against the
 * message and a message with no fields:
 *  - "!(E)" matches exactly when E does not;
 *  - "(E) || (E)" and "(E) && (E)" match exactly when E does;
 * (each when it compiles: a refusal must be for length or depth). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "fuzz_input.h"
#include "message.h"
#include "message_filter.h"
#include "utf8.h"

static void fail(const char *what) {
  fprintf(stderr, "message_filter: %s\n", what);
  abort();
}

/* Compiles text; NULL (the refusal checked) when it is no filter. */
static struct message_filter *compile(const char *text, size_t len,
                                      herald_error *err) {
  struct message_filter *f = NULL;
  int rc = message_filter__compile(text, len, &f, err);
  if (rc == 0) {
    if (!f) fail("success without a filter");
    return f;
  }
  if (rc != -HERALD_E_INVALID_CHANNEL_NAME || err->code != rc * -1 ||
      err->status != 400 || strncmp(err->message, "Invalid filter expression: ", 27))
    fail("a refusal is not 40010/400 \"Invalid filter expression: ...\"");
  if (f) fail("a refusal left a filter");
  return NULL;
}

/* The base64 of E gives the same verdict when E is UTF-8 text, and is
 * refused when it is not. */
static void check_base64(const char *e, size_t len, bool compiled) {
  char *b64 = herald_xmalloc(base64__encoded_size(len));
  size_t b64_len = base64__encode(e, len, b64);
  struct message_filter *f = NULL;
  herald_error err;
  int rc = message_filter__compile_base64(b64, b64_len, &f, &err);
  bool utf8 = utf8__valid(e, len);
  if (utf8 && compiled && rc) fail("E compiles, its base64 does not");
  if ((!utf8 || !compiled) && !rc) fail("E is refused or not UTF-8, its base64 compiles");
  message_filter__free(f);
  herald_free(b64);
}

/* Checks that format (E in one or two "%.*s") matches as `negate ? !E : E`
 * does on m, when it compiles. */
static void check_wrapped(const char *format, const char *e, size_t len,
                          bool negate, bool want_e, const struct message *m) {
  size_t cap = 2 * len + 32;
  char *text = herald_xmalloc(cap);
  int n = snprintf(text, cap, format, (int)len, e, (int)len, e);
  herald_error err;
  struct message_filter *f = compile(text, (size_t)n, &err);
  if (!f && !strstr(err.message, "longer than") && !strstr(err.message, "nested deeper"))
    fail("a wrapped expression is refused for something else than length or depth");
  if (f && message_filter__matches(f, m) != (negate ? !want_e : want_e))
    fail("a wrapped expression disagrees with the expression");
  message_filter__free(f);
  herald_free(text);
}

static void check_message(const struct message_filter *f, const char *e,
                          size_t len, const struct message *m) {
  bool want = message_filter__matches(f, m);
  if (message_filter__matches(f, m) != want) fail("matching is not deterministic");
  check_wrapped("!(%.*s)", e, len, true, want, m);
  check_wrapped("(%.*s) || (%.*s)", e, len, false, want, m);
  check_wrapped("(%.*s) && (%.*s)", e, len, false, want, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *e = fuzz_input__next_piece(&data, &size);
  size_t e_len = strlen(e);
  struct message *m = message__new();
  if (size) m->name = fuzz_input__next_piece(&data, &size);
  if (size) m->client_id = fuzz_input__next_piece(&data, &size);
  if (size) {
    char *extras = fuzz_input__next_piece(&data, &size);
    json_t *j = json_loads(extras, 0, NULL);
    if (json_is_object(j)) m->extras = j;
    else json_decref(j);
    herald_free(extras);
  }
  struct message *bare = message__new();
  herald_error err;
  struct message_filter *f = compile(e, e_len, &err);
  check_base64(e, e_len, f != NULL);
  if (f) {
    check_message(f, e, e_len, m);
    check_message(f, e, e_len, bare);
  }
  message_filter__free(f);
  message__unref(bare);
  message__unref(m);
  herald_free(e);
  return 0;
}
