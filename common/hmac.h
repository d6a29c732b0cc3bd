/* hmac.h -- HMAC-SHA256 (OpenSSL) and constant-time comparison: the one
 * primitive behind TokenRequest MACs, Herald token signatures and JWTs. */
#ifndef HERALD_HMAC_H
#define HERALD_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#define HMAC_SHA256_LEN 32

void hmac__sha256(const void *key, size_t key_len, const void *data,
                  size_t len, unsigned char out[HMAC_SHA256_LEN]);

/* Whether a[0..len) equals b[0..len), in time independent of the bytes. */
bool hmac__equal(const void *a, const void *b, size_t len);

#endif
