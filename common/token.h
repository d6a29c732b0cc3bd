/* token.h -- Herald's Ably token strings: self-contained and signed.
 *
 * A token is "<keyName>.<claims>.<signature>", i.e.
 * "<appId>.<keyId>.<base64url(claims JSON)>.<base64url(HMAC-SHA256)>",
 * signed with the issuing key's secret. Any node that knows the key can
 * validate it without shared state. Four dot-separated segments never read
 * as a JWT (three), and the alphabet has no ':', whitespace or leading '{'
 * (auth.md section 3). */
#ifndef HERALD_TOKEN_H
#define HERALD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"

struct token_claims {
  char *key_name;   /* appId.keyId */
  int64_t issued;   /* ms */
  int64_t expires;  /* ms */
  char *capability; /* canonical capability JSON text */
  char *client_id;  /* NULL: anonymous; "*": wildcard */
};

/* The token string for claims, signed with secret (herald_xmalloc'd), or
 * NULL when the claims cannot form a token (key_name not "<appId>.<keyId>",
 * capability or client_id not UTF-8). */
char *token__sign(const struct token_claims *claims, const char *secret);

/* Whether text has the shape of a Herald token; if so, *key_name_len is
 * the length of its leading keyName, so the caller can find the secret. */
bool token__key_name(const char *text, size_t len, size_t *key_name_len);

/* Verifies text with secret and decodes its claims into *out (fields
 * herald_xmalloc'd). Returns 0; -40145 when the text is not a well-formed
 * token; -40143 when the signature does not match (forged, or signed by
 * a key that has since changed). Expiry is the caller's check. */
int token__verify(const char *text, size_t len, const char *secret,
                  struct token_claims *out, herald_error *err);

void token_claims__cleanup(struct token_claims *c);

#endif
