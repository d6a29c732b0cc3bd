/* token_request.h -- Ably TokenRequest / TokenParams (auth.md sections 4-5):
 * decoding from a JSON or MessagePack body and the request MAC.
 *
 * Every field is kept as the text that was signed, since the MAC is
 * computed over the fields exactly as sent (a ttl of "3600000" and of
 * 3600000 sign alike; a capability is never re-serialised). */
#ifndef HERALD_TOKEN_REQUEST_H
#define HERALD_TOKEN_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "herald/errors.h"
#include "wire.h"

struct token_request {
  /* Each herald_xmalloc'd, NULL when absent. ttl and timestamp are decimal
   * text (a JSON number rendered without exponent, or a string as given);
   * capability is JSON text (an object is rendered compactly). */
  char *key_name;
  char *ttl;
  char *capability;
  char *client_id;
  char *timestamp;
  char *nonce;
  char *mac;
};

/* Decodes a TokenRequest map. Returns 0, or -40001 with err set when v is
 * not a map or a field has the wrong type (strings for keyName, clientId,
 * nonce, mac; string or object for capability; integer or string for ttl
 * and timestamp). Presence of required fields is the caller's rule. */
int token_request__decode(struct wire_value v, struct token_request *out,
                          herald_error *err);
void token_request__cleanup(struct token_request *tr);

#define TOKEN_REQUEST_MAC_LEN 44 /* base64 of 32 bytes, without NUL */

/* The MAC of tr signed with secret (auth.md 5), NUL-terminated base64. */
void token_request__mac(const struct token_request *tr, const char *secret,
                        char out[TOKEN_REQUEST_MAC_LEN + 1]);

/* Whether tr->mac is present and equal (constant time) to its MAC. */
bool token_request__mac_matches(const struct token_request *tr,
                                const char *secret);

/* Parses decimal text as a positive-or-zero int64; false for anything else
 * (empty, sign, non-digits, overflow). */
bool token_request__parse_ms(const char *text, int64_t *out);

#endif
