/* data.h -- message data between the application and the wire, as every
 * Ably SDK does it (RSL4, RSL5, RSL6): a string, bytes or JSON, with the
 * `encoding` chain that says how it was transformed (json, utf-8, base64,
 * cipher+aes-<n>-cbc), encrypted with the channel's cipher when it has one.
 *
 * The wire side is a struct payload (common/payload.h): bytes held decoded,
 * an outermost base64 added or removed by payload.c for JSON. */
#ifndef HERALD_LIB_DATA_H
#define HERALD_LIB_DATA_H

#include "herald/herald.h"
#include "payload.h"

/* Encodes d into *p (zeroed first): JSON text gets "json", text to be
 * encrypted "utf-8", and with cipher the bytes are encrypted under iv
 * (NULL: a random one). -40013 for JSON data that is not an object or
 * array, or a type out of range. */
int data__encode(const herald_data *d, const herald_cipher_params *cipher,
                 const unsigned char *iv, struct payload *p,
                 herald_error *err);

/* Undoes p's encoding steps from the last: base64, cipher (with a key of
 * the same length), utf-8, json. A step it cannot undo (no key, another
 * key, an unknown step) stops it there: p->encoding keeps what is left.
 * *type is what the data is now (JSON for a json step undone). */
void data__decode(struct payload *p, const herald_cipher_params *cipher,
                  herald_data_type *type);

#endif
