/* base64.c -- base64: encoding on OpenSSL's EVP block coder, lenient
 * decoding in one pass (see base64.h). */
#include "base64.h"

#include <openssl/evp.h>
#include <pthread.h>
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

/* The 6-bit value of each character of either alphabet, or what else it
 * is; built once. */
static signed char sextets[256];
static pthread_once_t sextets_built = PTHREAD_ONCE_INIT;

static void build_sextets(void) {
  static const char standard[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  memset(sextets, SEXTET_BAD, sizeof sextets);
  for (int i = 0; i < 64; i++) sextets[(unsigned char)standard[i]] = (signed char)i;
  sextets['-'] = 62;
  sextets['_'] = 63;
  sextets['='] = SEXTET_PAD;
  sextets[' '] = sextets['\t'] = sextets['\r'] = sextets['\n'] = SEXTET_SKIP;
}

size_t base64__decoded_max(size_t len) { return len / 4 * 3 + 2; }

size_t base64__decode_to(const char *text, size_t len, unsigned char *out) {
  uint32_t group = 0;
  size_t chars = 0, padding = 0, n = 0;
  pthread_once(&sextets_built, build_sextets);
  size_t i = 0;
  /* Whole groups of four plain characters, the usual text, at once. */
  for (; i + 4 <= len; i += 4) {
    int a = sextets[(unsigned char)text[i]], b = sextets[(unsigned char)text[i + 1]],
        c = sextets[(unsigned char)text[i + 2]], d = sextets[(unsigned char)text[i + 3]];
    if ((a | b | c | d) < 0) break;
    out[n++] = (unsigned char)(a << 2 | b >> 4);
    out[n++] = (unsigned char)(b << 4 | c >> 2);
    out[n++] = (unsigned char)(c << 6 | d);
  }
  for (; i < len; i++) {
    int v = sextets[(unsigned char)text[i]];
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
  unsigned char *bytes = herald_xmalloc(base64__decoded_max(len) + 1);
  size_t n = base64__decode_to(text, len, bytes);
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
