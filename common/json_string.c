/* json_string.c -- the plain-character scan of JSON strings (see
 * json_string.h), eight bytes at a time. */
#include "json_string.h"

#include <stdint.h>
#include <string.h>

#define BYTES(b) (0x0101010101010101ULL * (b))

/* Whether any byte of word is zero (the classic bit trick: exact as a
 * yes/no answer). */
static uint64_t has_zero_byte(uint64_t word) {
  return (word - BYTES(0x01)) & ~word & BYTES(0x80);
}

/* Whether any byte of word is below n (n <= 128). */
static uint64_t has_byte_below(uint64_t word, uint8_t n) {
  return (word - BYTES(n)) & ~word & BYTES(0x80);
}

static int plain(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; }

size_t json_string__plain_len(const char *s, size_t len, bool *ascii) {
  uint64_t high = 0; /* the top bits seen: non-ASCII bytes */
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t word;
    memcpy(&word, s + i, 8);
    if (has_zero_byte(word ^ BYTES('"')) || has_zero_byte(word ^ BYTES('\\')) ||
        has_byte_below(word, 0x20))
      break;
    high |= word & BYTES(0x80);
  }
  for (; i < len && plain((unsigned char)s[i]); i++) high |= (unsigned char)s[i] & 0x80;
  *ascii = high == 0;
  return i;
}
