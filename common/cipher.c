/* cipher.c -- AES-CBC for message data (see cipher.h). */
#include "cipher.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "alloc.h"

bool cipher__key_len_valid(size_t key_len) {
  return key_len == 16 || key_len == 32;
}

const char *cipher__encoding(size_t key_len) {
  return key_len == 16 ? "cipher+aes-128-cbc" : "cipher+aes-256-cbc";
}

void cipher__random_iv(unsigned char iv[CIPHER_IV_LEN]) {
  if (RAND_bytes(iv, CIPHER_IV_LEN) != 1) herald_oom("a random IV");
}

static const EVP_CIPHER *aes_cbc(size_t key_len) {
  return key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
}

/* One EVP pass over in[0..len) into out; the byte count, or -1 when the
 * final block does not unpad. */
static long run(bool encrypt, const unsigned char *key, size_t key_len,
                const unsigned char *iv, const unsigned char *in, size_t len,
                unsigned char *out) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) herald_oom("a cipher context");
  int n = 0, tail = 0;
  int ok = EVP_CipherInit_ex(ctx, aes_cbc(key_len), NULL, key, iv, encrypt) &&
           EVP_CipherUpdate(ctx, out, &n, in, (int)len) &&
           EVP_CipherFinal_ex(ctx, out + n, &tail);
  EVP_CIPHER_CTX_free(ctx);
  return ok ? (long)n + tail : -1;
}

unsigned char *cipher__encrypt(const unsigned char *key, size_t key_len,
                               const unsigned char iv[CIPHER_IV_LEN],
                               const void *data, size_t len, size_t *out_len) {
  size_t padded = (len / CIPHER_IV_LEN + 1) * CIPHER_IV_LEN;
  unsigned char *out = herald_xmalloc(CIPHER_IV_LEN + padded);
  memcpy(out, iv, CIPHER_IV_LEN);
  long n = run(true, key, key_len, iv, data, len, out + CIPHER_IV_LEN);
  if (n < 0) herald_oom("AES encryption");
  *out_len = CIPHER_IV_LEN + (size_t)n;
  return out;
}

unsigned char *cipher__decrypt(const unsigned char *key, size_t key_len,
                               const void *data, size_t len, size_t *out_len) {
  if (len < 2 * CIPHER_IV_LEN || len % CIPHER_IV_LEN) return NULL;
  const unsigned char *in = data;
  size_t body = len - CIPHER_IV_LEN;
  unsigned char *out = herald_xmalloc(body + 1);
  long n = run(false, key, key_len, in, in + CIPHER_IV_LEN, body, out);
  if (n < 0) {
    herald_free(out);
    return NULL;
  }
  out[n] = '\0';
  *out_len = (size_t)n;
  return out;
}
