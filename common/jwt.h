/* jwt.h -- Ably JWTs (auth.md section 8): HS256 JWS compact tokens signed
 * with a key secret, and outer JWTs that embed an Ably token.
 *
 * Parsing and verifying are separate steps: parsing yields the key name
 * (kid), which the caller resolves to a secret, then verifies. Segments are
 * decoded leniently (base64url or standard base64, padding optional); the
 * signature is checked over the exact transmitted bytes. */
#ifndef HERALD_JWT_H
#define HERALD_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"

struct jwt {
  /* Each herald_xmalloc'd, NULL when absent. */
  char *alg;             /* header alg */
  char *kid;             /* header kid: the signing key's name */
  char *embedded_token;  /* x-ably-token (header, else claim) */
  char *capability;      /* x-ably-capability: JSON text */
  char *client_id;       /* x-ably-clientId */
  char *revocation_key;  /* x-ably-revocation-key */
  bool has_iat, has_exp;
  int64_t iat, exp;      /* seconds */
  size_t signed_len;     /* bytes of "<header>.<claims>" */
  unsigned char *signature;
  size_t signature_len;
};

/* Whether text is three '.'-separated segments whose first decodes to a
 * JSON object: the test that tells a JWT from an Ably token. */
bool jwt__looks_like(const char *text, size_t len);

/* Parses text into *out. Returns 0, or -40144 with err set for a
 * malformed token: wrong segment count, undecodable segment, header or
 * claims not a JSON object, wrongly typed claims (iat/exp must be
 * integers, x-ably-* strings). An embedded-token JWT needs no kid. */
int jwt__parse(const char *text, size_t len, struct jwt *out,
               herald_error *err);

/* Checks an Ably JWT (one without an embedded token) signed with secret:
 * alg HS256, signature valid, iat and exp present. 0 or -40144. Expiry and
 * lifetime limits are the caller's checks. */
int jwt__verify(const struct jwt *jwt, const char *text, const char *secret,
                herald_error *err);

void jwt__cleanup(struct jwt *jwt);

#endif
