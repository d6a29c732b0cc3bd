/* hmac.c -- HMAC-SHA256 and constant-time comparison on OpenSSL (see
 * hmac.h). Owns nothing: both calls are pure. */
#include "hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alloc.h"

void hmac__sha256(const void *key, size_t key_len, const void *data,
                  size_t len, unsigned char out[HMAC_SHA256_LEN]) {
  unsigned int out_len = HMAC_SHA256_LEN;
  /* OpenSSL fails only when it cannot allocate; a MAC that silently came
   * out wrong would be worse than stopping. */
  if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len))
    herald_oom("HMAC-SHA256");
}

bool hmac__equal(const void *a, const void *b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}
