/* cipher.h -- Ably's message encryption (RSE, TE): AES-128/256-CBC with
 * PKCS#7 padding, the 16-byte IV sent before the ciphertext (OpenSSL). */
#ifndef HERALD_CIPHER_H
#define HERALD_CIPHER_H

#include <stdbool.h>
#include <stddef.h>

#define CIPHER_IV_LEN 16

/* Whether key_len (bytes) is an AES key length Ably uses: 16 or 32. */
bool cipher__key_len_valid(size_t key_len);

/* The encoding step of a key length: "cipher+aes-128-cbc" or "-256-". */
const char *cipher__encoding(size_t key_len);

/* Fills iv with random bytes. */
void cipher__random_iv(unsigned char iv[CIPHER_IV_LEN]);

/* iv || AES-CBC(key, iv, data padded): a new herald_xmalloc'd buffer of
 * *out_len bytes. key_len must be valid. */
unsigned char *cipher__encrypt(const unsigned char *key, size_t key_len,
                               const unsigned char iv[CIPHER_IV_LEN],
                               const void *data, size_t len, size_t *out_len);

/* The plaintext of iv || ciphertext, herald_xmalloc'd with a NUL after its
 * *out_len bytes; NULL when the input is not whole blocks after an IV or
 * its padding is wrong (another key). */
unsigned char *cipher__decrypt(const unsigned char *key, size_t key_len,
                               const void *data, size_t len, size_t *out_len);

#endif
