/* base64.c -- base64: encoding on OpenSSL's EVP block coder, lenient
 * decoding in one pass (see base64.h). */
#include "base64.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"

size_t base64__encoded_size(size_t len) { return 4 * ((len + 2) / 3) + 1; }

size_t base64__encode(const void *src, size_t len, char *out) {
  return (size_t)EVP_EncodeBlock((unsigned char *)out, src, (int)len);
}

size_t base64__encode_url(const void *src, size_t len, char *out) {
  size_t n = base64__encode(src, len, out);
  while (n && out[n - 1] == '=') out[--n] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (out[i] == '+') out[i] = '-';
    else if (out[i] == '/') out[i] = '_';
  }
  return n;
}

enum { SEXTET_SKIP = -1, SEXTET_PAD = -2, SEXTET_BAD = -3 };

/* The 6-bit value of a character of either alphabet, or what else it is. */
static int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  if (c == '=') return SEXTET_PAD;
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return SEXTET_SKIP;
  return SEXTET_BAD;
}

/* Decodes into out (len / 4 * 3 + 2 bytes at least); the byte count, or
 * (size_t)-1 when the text is not base64: a foreign character, data after
 * padding, more than two '=', or a lone character in the last group. */
static size_t decode(const char *text, size_t len, unsigned char *out) {
  uint32_t group = 0;
  size_t chars = 0, padding = 0, n = 0;
  for (size_t i = 0; i < len; i++) {
    int v = sextet(text[i]);
    if (v == SEXTET_SKIP) continue;
    if (v == SEXTET_PAD) {
      padding++;
      continue;
    }
    if (v == SEXTET_BAD || padding) return (size_t)-1;
    group = group << 6 | (uint32_t)v;
    if (++chars % 4 == 0) {
      out[n++] = (unsigned char)(group >> 16);
      out[n++] = (unsigned char)(group >> 8);
      out[n++] = (unsigned char)group;
    }
  }
  if (chars % 4 == 1 || padding > 2) return (size_t)-1;
  if (chars % 4 == 2) out[n++] = (unsigned char)(group >> 4);
  if (chars % 4 == 3) {
    out[n++] = (unsigned char)(group >> 10);
    out[n++] = (unsigned char)(group >> 2);
  }
  return n;
}

unsigned char *base64__decode(const char *text, size_t len, size_t *out_len) {
  unsigned char *bytes = herald_malloc(len / 4 * 3 + 3);
  if (!bytes) return NULL;
  size_t n = decode(text, len, bytes);
  if (n == (size_t)-1) {
    herald_free(bytes);
    return NULL;
  }
  bytes[n] = '\0'; /* callers may treat the bytes as a C string */
  *out_len = n;
  return bytes;
}

bool base64__is_strict(const char *text, size_t len) {
  if (len == 0 || len % 4) return false;
  size_t i = 0;
  for (; i < len; i++) {
    char c = text[i];
    if (c == '=') break;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return false;
  }
  size_t padding = len - i;
  if (padding > 2) return false;
  for (; i < len; i++)
    if (text[i] != '=') return false;
  return true;
}
