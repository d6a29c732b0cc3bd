/* crypto.h -- message encryption (RSE, TE): AES-128/256-CBC with PKCS#7
 * padding and a random IV before the ciphertext, as `cipher+aes-<n>-cbc`. */
#ifndef HERALD_CRYPTO_H
#define HERALD_CRYPTO_H

#include <stddef.h>

#include "herald/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CipherParams (TZ): algorithm "aes", mode "cbc", key_length 128 or 256. */
typedef struct herald_cipher_params {
  unsigned char key[32];
  size_t key_len; /* bytes: 16 or 32 */
} herald_cipher_params;

/* Crypto.getDefaultParams (RSE1) from a raw key of 16 or 32 bytes, or from
 * its base64 (or base64url) text. -40003 for another length. */
int herald_cipher_params_from_key(herald_cipher_params *p, const void *key,
                                  size_t len, herald_error *err);
int herald_cipher_params_from_base64(herald_cipher_params *p,
                                     const char *key_base64,
                                     herald_error *err);

/* Crypto.generateRandomKey (RSE2): bits 128 or 256 into out. */
int herald_cipher_generate_key(unsigned char out[32], int bits,
                               herald_error *err);

#ifdef __cplusplus
}
#endif

#endif
