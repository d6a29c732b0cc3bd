/* crypto.c -- CipherParams and keys (RSE1, RSE2) on common/cipher.c. */
#include <openssl/rand.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "cipher.h"
#include "herald/herald.h"

int herald_cipher_params_from_key(herald_cipher_params *p, const void *key,
                                  size_t len, herald_error *err) {
  if (!cipher__key_len_valid(len))
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid cipher key: %zu bits (128 or 256)",
                            len * 8);
  memset(p, 0, sizeof *p);
  memcpy(p->key, key, len);
  p->key_len = len;
  return 0;
}

int herald_cipher_params_from_base64(herald_cipher_params *p,
                                     const char *key_base64,
                                     herald_error *err) {
  size_t len;
  unsigned char *key = base64__decode(key_base64, strlen(key_base64), &len);
  if (!key)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid cipher key: not base64");
  int rc = herald_cipher_params_from_key(p, key, len, err);
  herald_free(key);
  return rc;
}

int herald_cipher_generate_key(unsigned char out[32], int bits,
                               herald_error *err) {
  if (bits != 128 && bits != 256)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid key length: %d bits (128 or 256)", bits);
  if (RAND_bytes(out, bits / 8) != 1) herald_oom("randomness");
  return 0;
}
