/* fuzz_http_decode.c -- libFuzzer target for the decoding of a request
 * target: server/transport/http.c's http__percent_decode (every path segment, query
 * name and query value goes through it) and, on what it yields,
 * channel_name__parse, as rest__channel reads a decoded path segment.
 *
 * For every input:
 *  - decoding fails exactly when a '%' is not followed by two hex digits or
 *    encodes a NUL; otherwise the output is the input with each "%XY"
 *    replaced by its byte, so it is never longer;
 *  - the input's bytes, fully percent-encoded, decode back to themselves
 *    (or are refused when they hold a NUL);
 *  - a decoded name that parses as a channel has its base (and params)
 *    inside the name, and a base name that parses again to itself.
 *
 * The path and query splitting around it (http.c split_path, split_query,
 * build_request) is static and reachable only through a socket; see
 * tests/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "channel_name.h"
#include "transport/http.h"

static void fail(const char *what) {
  fprintf(stderr, "http decode: %s\n", what);
  abort();
}

static bool is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* Checks a successful decoding of src against the rule, byte by byte. */
static void check_decoded(const uint8_t *src, size_t len, const char *out) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++, n++) {
    uint8_t want = src[i];
    if (src[i] == '%') {
      if (i + 2 >= len || !is_hex(src[i + 1]) || !is_hex(src[i + 2]))
        fail("a malformed escape was accepted");
      char hex[3] = {(char)src[i + 1], (char)src[i + 2], 0};
      want = (uint8_t)strtoul(hex, NULL, 16);
      if (want == 0) fail("an encoded NUL was accepted");
      i += 2;
    }
    if ((uint8_t)out[n] != want) fail("a byte decoded wrongly");
  }
  if (out[n] != '\0') fail("the output is not NUL-terminated where it ends");
}

/* Whether the rule refuses src: some '%' without two hex digits, or %00. */
static bool malformed(const uint8_t *src, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (src[i] != '%') continue;
    if (i + 2 >= len || !is_hex(src[i + 1]) || !is_hex(src[i + 2])) return true;
    if (src[i + 1] == '0' && src[i + 2] == '0') return true;
    i += 2;
  }
  return false;
}

/* Every byte of data as "%XY", decoded again. */
static void check_round_trip(struct arena *a, const uint8_t *data, size_t size) {
  static const char hex[] = "0123456789ABCDEF";
  char *encoded = herald_xmalloc(3 * size + 1);
  for (size_t i = 0; i < size; i++) {
    encoded[3 * i] = '%';
    encoded[3 * i + 1] = hex[data[i] >> 4];
    encoded[3 * i + 2] = hex[data[i] & 15];
  }
  char *back = http__percent_decode(a, encoded, 3 * size);
  bool has_nul = memchr(data, 0, size) != NULL;
  if (has_nul != (back == NULL))
    fail(has_nul ? "an encoded NUL was accepted" : "encoded bytes were refused");
  if (back && memcmp(back, data, size) != 0) fail("encoded bytes came back changed");
  herald_free(encoded);
}

/* A decoded name read as rest__channel reads a path segment. */
static void check_channel(const char *name) {
  size_t len = strlen(name);
  struct channel_name cn;
  herald_error err;
  if (channel_name__parse(name, len, &cn, &err)) return;
  if (cn.base < name || cn.base + cn.base_len > name + len || cn.base_len == 0)
    fail("the base name lies outside the name");
  if (cn.params && (cn.params < name || cn.params + cn.params_len > name + len))
    fail("the params lie outside the name");
  char *base = channel_name__base_dup(&cn);
  if (!base) fail("base_dup failed");
  struct channel_name again;
  if (channel_name__parse(base, strlen(base), &again, &err))
    fail("a base name does not parse");
  char *base2 = channel_name__base_dup(&again);
  if (strcmp(base, base2) != 0 || again.params) fail("a base name is not its own base");
  herald_free(base2);
  herald_free(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct arena a;
  arena__init(&a);
  char *out = http__percent_decode(&a, (const char *)data, size);
  if ((out == NULL) != malformed(data, size))
    fail(out ? "a malformed target was accepted" : "a well-formed target was refused");
  if (out) {
    check_decoded(data, size, out);
    check_channel(out);
  }
  check_round_trip(&a, data, size);
  arena__cleanup(&a);
  return 0;
}
