/* fuzz_base64.c -- libFuzzer target for common/base64.c, Herald's own
 * decoder (both alphabets, whitespace and missing padding accepted, as Ably
 * payloads and Basic credentials need).
 *
 * For every input: decoding it ends in bytes that fit base64__decoded_max,
 * or in an error, without a crash; and the input taken as bytes comes back
 * unchanged from its standard and its base64url encodings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"

static void check_round_trip(const uint8_t *data, size_t size, bool url) {
  char *text = herald_xmalloc(base64__encoded_size(size));
  size_t len = url ? base64__encode_url(data, size, text) : base64__encode(data, size, text);
  unsigned char *back = herald_xmalloc(base64__decoded_max(len) + 1);
  size_t n = base64__decode_to(text, len, back);
  if (n != size || memcmp(back, data, size) != 0) {
    fprintf(stderr, "%s encoding of %zu bytes does not decode back\n",
            url ? "base64url" : "base64", size);
    abort();
  }
  herald_free(back);
  herald_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *out = herald_xmalloc(base64__decoded_max(size) + 1);
  size_t n = base64__decode_to((const char *)data, size, out);
  if (n != (size_t)-1 && n > base64__decoded_max(size)) abort();
  herald_free(out);
  check_round_trip(data, size, false);
  check_round_trip(data, size, true);
  return 0;
}
