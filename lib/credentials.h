/* credentials.h -- how a client authenticates (RSA): Basic with its key,
 * or a token it holds, obtains (a TokenRequest signed with the key, or the
 * application's authCallback) and renews. */
#ifndef HERALD_LIB_CREDENTIALS_H
#define HERALD_LIB_CREDENTIALS_H

#include <stdbool.h>

#include "client.h"
#include "request.h"

/* The Authorization header's value for a request in mode ("Basic ...",
 * "Bearer ..."), herald_xmalloc'd, NULL for REQUEST_AUTH_NONE; a token is
 * obtained first when the client has none or it expired. */
int credentials__authorization(herald_client *c, enum request_auth mode,
                               char **out, herald_error *err);

/* Whether the client sends tokens (RSA4) rather than its key. */
bool credentials__token_based(herald_client *c);

/* Whether it can get a new token: a key or an authCallback. */
bool credentials__can_renew(const herald_client *c);

/* Drops the token and obtains a new one. */
int credentials__renew(herald_client *c, herald_error *err);

#endif
