/* auth.h -- tokens (Ably's Auth, RSA): TokenParams, TokenDetails,
 * TokenRequests signed locally, requestToken, and revokeTokens (RSA17). */
#ifndef HERALD_AUTH_H
#define HERALD_AUTH_H

#include <stdint.h>

#include "herald/client.h"
#include "herald/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* TokenParams (TK). Empty fields are left to the server (ttl, capability)
 * or filled by the library (timestamp: now, nonce: random). */
typedef struct herald_token_params {
  int64_t ttl;            /* ms; 0: the server's default (1 hour) */
  const char *capability; /* JSON text; NULL: the key's */
  const char *client_id;  /* NULL: the client's, if any */
  int64_t timestamp;      /* ms; 0: now (the server's with query_time) */
  const char *nonce;
} herald_token_params;

/* TokenDetails (TD); strings owned, freed with herald_token_details_free. */
typedef struct herald_token_details {
  char *token;
  int64_t expires, issued; /* ms */
  char *capability;        /* JSON text */
  char *client_id;
} herald_token_details;

void herald_token_details_free(herald_token_details *td);

/* Creates a TokenRequest signed with the client's key (RSA9): *json_out is
 * its JSON text (herald_free it), which heraldd or Ably exchange for a token
 * at POST /keys/<keyName>/requestToken. -40101 without a key. */
int herald_create_token_request(herald_client *c,
                                const herald_token_params *params,
                                char **json_out, herald_error *err);

/* Obtains a token (RSA8): with the key, by a signed TokenRequest; with an
 * auth_callback, through it. *out is herald_token_details_free'd. */
int herald_request_token(herald_client *c, const herald_token_params *params,
                         herald_token_details **out, herald_error *err);

/* Makes the client use a new token from now on (RSA10), *out as with
 * herald_request_token (out may be NULL). */
int herald_authorize(herald_client *c, const herald_token_params *params,
                     herald_token_details **out, herald_error *err);

/* A target of revokeTokens (TRT): type "clientId", "revocationKey" or
 * "channel", and its value. */
typedef struct herald_revocation_target {
  const char *type;
  const char *value;
} herald_revocation_target;

struct herald_batch_results;

/* Revokes the tokens the key issued that match each target (RSA17), with
 * Basic auth. issued_before (ms, 0: now) and allow_reauth_margin as the
 * spec says. *results (may be NULL) holds one result per target. */
int herald_revoke_tokens(herald_client *c,
                         const herald_revocation_target *targets, size_t n,
                         int64_t issued_before, bool allow_reauth_margin,
                         struct herald_batch_results **results,
                         herald_error *err);

#ifdef __cplusplus
}
#endif

#endif
