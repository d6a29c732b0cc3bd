/* token_auth.h -- authenticating with a token credential (auth.md sections
 * 3, 7, 8, 11, 12): Herald's signed Ably tokens, Ably JWTs, and outer JWTs
 * that embed either. */
#ifndef HERALD_TOKEN_AUTH_H
#define HERALD_TOKEN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/apps.h"
#include "auth/auth.h"
#include "herald/errors.h"

/* Authenticates with a token credential as presented (base64 of the token
 * as SDKs send it, or raw): an Ably token or an Ably JWT, at time now. */
int token_auth__authenticate(struct auth *a, struct apps *apps,
                             const char *credential, size_t len, int64_t now,
                             herald_error *err);

/* Whether the token a authenticated with (via_token) is revoked at time
 * `at` (a later time asks whether a pending revocation will reach it). */
bool token_auth__revoked(const struct auth *a, int64_t at);

#endif
