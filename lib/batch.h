/* batch.h -- calls answered with BatchResults (BAR2): batch publish
 * (RSC22), batch presence (RSC24) and revokeTokens (RSA17), read into one
 * herald_batch_results. */
#ifndef HERALD_LIB_BATCH_H
#define HERALD_LIB_BATCH_H

#include "herald/herald.h"
#include "request.h"

/* Sends r and reads its BatchResult (or array of them, one per spec) into
 * *out (may be NULL: the results are dropped); presence members are
 * decoded with cipher (NULL: none). */
int batch__call(herald_client *c, const struct request *r,
                const herald_cipher_params *cipher,
                herald_batch_results **out, herald_error *err);

#endif
