/* base64.h -- RFC 4648 base64 (standard alphabet, padded; or base64url,
 * unpadded), with the lenient decoding Ably
 * payloads need: whitespace is ignored, missing padding is accepted, and
 * base64url characters are read as their standard equivalents. */
#ifndef HERALD_BASE64_H
#define HERALD_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes needed to encode len bytes, including the terminating NUL. */
size_t base64__encoded_size(size_t len);

/* Encodes src[0..len) into out (base64__encoded_size(len) bytes), NUL-terminated.
 * Returns the text length. */
size_t base64__encode(const void *src, size_t len, char *out);

/* As base64__encode, in the base64url alphabet ('-' and '_' for '+' and '/')
 * and without padding (RFC 4648 section 5, as JWTs and Herald tokens use). */
size_t base64__encode_url(const void *src, size_t len, char *out);

/* The most bytes len characters of base64 decode to. */
size_t base64__decoded_max(size_t len);

/* Decodes text[0..len) leniently into out (base64__decoded_max(len)
 * bytes); returns the byte count, or (size_t)-1 when the text is not
 * base64: a foreign character, data after padding, more than two '=', or a
 * lone character in the last group. */
size_t base64__decode_to(const char *text, size_t len, unsigned char *out);

/* Decodes text[0..len) leniently into a new herald_xmalloc'd buffer, with a
 * NUL after the last byte; *out_len receives the byte count. Returns NULL
 * when the text is not base64. */
unsigned char *base64__decode(const char *text, size_t len, size_t *out_len);

/* Whether text is strict standard base64: only [A-Za-z0-9+/], '=' padding
 * only at the end, and a length that is a multiple of 4. */
bool base64__is_strict(const char *text, size_t len);

#endif
