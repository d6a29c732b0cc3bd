/* fuzz_jwt.c -- libFuzzer target for Ably JWTs (common/jwt.c).
 *
 * Two checks on every input:
 *  - as a token: jwt__parse ends in a JWT or a -40144 error without a
 *    crash or leak; a parsed JWT also "looks like" one, its signed part
 *    ends at the second '.', and jwt__verify with a known secret accepts it
 *    exactly when it is HS256, has iat and exp, and its signature is the
 *    HMAC of that part;
 *  - as claims: the input's bytes become a kid, a clientId and a
 *    capability (split at NULs), signed into a JWT with the known secret;
 *    that JWT parses back to the same values and verifies, and with any
 *    one signature byte changed it no longer verifies. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fuzz_input.h"
#include "base64.h"
#include "hmac.h"
#include "jwt.h"

static const char secret[] = "fuzz-secret";

static void fail(const char *what) {
  fprintf(stderr, "jwt: %s\n", what);
  abort();
}

/* What jwt__verify must decide, from the parsed fields alone. */
static bool should_verify(const struct jwt *jwt, const char *text) {
  unsigned char digest[HMAC_SHA256_LEN];
  hmac__sha256(secret, strlen(secret), text, jwt->signed_len, digest);
  return jwt->alg && strcmp(jwt->alg, "HS256") == 0 && jwt->has_iat &&
         jwt->has_exp && jwt->signature_len == HMAC_SHA256_LEN &&
         memcmp(digest, jwt->signature, HMAC_SHA256_LEN) == 0;
}

static void check_as_token(const uint8_t *data, size_t size) {
  char *text = herald_xmalloc(size + 1); /* NUL-terminated, as the server's */
  memcpy(text, data, size);
  text[size] = '\0';
  struct jwt jwt;
  herald_error err;
  if (jwt__parse(text, size, &jwt, &err) == 0) {
    if (!jwt__looks_like(text, size)) fail("a parsed JWT does not look like one");
    const char *second = memchr(text, '.', size);
    second = second ? memchr(second + 1, '.', size - (size_t)(second + 1 - text)) : NULL;
    if (!second || (size_t)(second - text) != jwt.signed_len)
      fail("the signed part does not end at the second '.'");
    bool ok = jwt__verify(&jwt, text, secret, &err) == 0;
    if (ok != should_verify(&jwt, text)) fail("verify decided wrongly");
    jwt__cleanup(&jwt);
  } else if (err.code != HERALD_E_INVALID_JWT) {
    fail("a malformed JWT got another code than 40144");
  }
  herald_free(text);
}

/* "<base64url(header)>.<base64url(claims)>.<base64url(HMAC)>", signed with
 * the known secret (herald_xmalloc'd, *len its length). */
static char *sign(const json_t *header, const json_t *claims, size_t *len) {
  char *h = json_dumps(header, JSON_COMPACT), *c = json_dumps(claims, JSON_COMPACT);
  char *token = herald_xmalloc(base64__encoded_size(strlen(h)) +
                               base64__encoded_size(strlen(c)) +
                               base64__encoded_size(HMAC_SHA256_LEN) + 2);
  size_t at = base64__encode_url(h, strlen(h), token);
  token[at++] = '.';
  at += base64__encode_url(c, strlen(c), token + at);
  unsigned char digest[HMAC_SHA256_LEN];
  hmac__sha256(secret, strlen(secret), token, at, digest);
  token[at++] = '.';
  *len = at + base64__encode_url(digest, sizeof digest, token + at);
  free(h); /* from jansson's allocator */
  free(c);
  return token;
}

static bool same(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

static void check_signed(const uint8_t *data, size_t size) {
  char *kid = fuzz_input__next_piece(&data, &size), *client_id = fuzz_input__next_piece(&data, &size);
  char *capability = fuzz_input__next_piece(&data, &size);
  json_t *header = json_pack("{s:s, s:s, s:s}", "typ", "JWT", "alg", "HS256",
                             "kid", kid);
  json_t *claims = json_pack("{s:I, s:I, s:s, s:s}", "iat", (json_int_t)size,
                             "exp", (json_int_t)size + 3600, "x-ably-clientId",
                             client_id, "x-ably-capability", capability);
  if (header && claims) { /* both are NULL for text that is not UTF-8 */
    size_t at;
    char *token = sign(header, claims, &at);
    struct jwt jwt;
    herald_error err;
    if (jwt__parse(token, at, &jwt, &err)) fail("a signed JWT does not parse");
    if (!same(jwt.kid, kid) || !same(jwt.client_id, client_id) ||
        !same(jwt.capability, capability) || jwt.iat != (int64_t)size)
      fail("a signed JWT parses to other values");
    if (jwt__verify(&jwt, token, secret, &err)) fail("a signed JWT does not verify");
    jwt.signature[size % HMAC_SHA256_LEN] ^= 1;
    if (jwt__verify(&jwt, token, secret, &err) == 0)
      fail("a changed signature verifies");
    jwt__cleanup(&jwt);
    herald_free(token);
  }
  json_decref(header);
  json_decref(claims);
  herald_free(kid);
  herald_free(client_id);
  herald_free(capability);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_as_token(data, size);
  check_signed(data, size);
  return 0;
}
