/* base64.c -- base64 on OpenSSL's EVP block coder (see base64.h). */
#include "base64.h"

#include <openssl/evp.h>
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

/* Copies the base64 characters of text into a standard, padded form:
 * whitespace dropped, '-' and '_' mapped to '+' and '/'. Returns the new
 * length, or (size_t)-1 when a character is not base64. */
static size_t normalise(const char *text, size_t len, char *out) {
  size_t n = 0, padding = 0;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '=') {
      padding++;
      continue;
    }
    if (padding) return (size_t)-1; /* data after padding */
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return (size_t)-1;
    out[n++] = c;
  }
  if (n % 4 == 1 || padding > 2) return (size_t)-1;
  while (n % 4) out[n++] = '=';
  return n;
}

unsigned char *base64__decode(const char *text, size_t len, size_t *out_len) {
  char *clean = herald_malloc(len + 4);
  if (!clean) return NULL;
  size_t n = normalise(text, len, clean);
  unsigned char *bytes = n == (size_t)-1 ? NULL : herald_malloc(n / 4 * 3 + 1);
  if (!bytes) {
    herald_free(clean);
    return NULL;
  }
  int decoded = EVP_DecodeBlock(bytes, (unsigned char *)clean, (int)n);
  if (decoded < 0) {
    herald_free(clean);
    herald_free(bytes);
    return NULL;
  }
  /* EVP_DecodeBlock counts padding as zero bytes; take them back off. */
  if (n >= 1 && clean[n - 1] == '=') decoded--;
  if (n >= 2 && clean[n - 2] == '=') decoded--;
  herald_free(clean);
  bytes[decoded] = '\0'; /* callers may treat the bytes as a C string */
  *out_len = (size_t)decoded;
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
