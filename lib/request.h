/* request.h -- one REST call of a client, as the Ably SDKs make it: the
 * headers (X-Ably-Version, Ably-Agent, format, credentials), the retries on
 * fallback hosts within httpMaxRetryCount / httpMaxRetryDuration on a
 * timeout, a connection failure or a 500-504 (RSC15; a 4xx never), one
 * renewal of a token on 401 with 40140-40149 (RSA4b), and the Ably error of
 * an error response. */
#ifndef HERALD_LIB_REQUEST_H
#define HERALD_LIB_REQUEST_H

#include <stddef.h>

#include "client.h"
#include "transfer.h"
#include "wire.h"

enum request_auth {
  REQUEST_AUTH_CLIENT, /* the client's: Basic, or its token */
  REQUEST_AUTH_NONE,   /* a signed TokenRequest's exchange */
  REQUEST_AUTH_BASIC,  /* the key's, whatever the client uses (RSA17g) */
};

struct request {
  const char *method;
  const char *path;  /* percent-encoded, from "/" */
  const char *query; /* percent-encoded, without '?'; NULL or "": none */
  const char *body;  /* in format; NULL: none */
  size_t body_len;
  enum wire_format format; /* of the body and of the answer wanted */
  const char *const *headers; /* extra "Name: value", NULL-terminated */
  const char *version; /* X-Ably-Version; NULL: the library's (6) */
  enum request_auth auth;
};

/* Sends r; 0 when a server answered, whatever the status (then *resp holds
 * the answer; transfer__response_cleanup it), else the failure. */
int request__send(herald_client *c, const struct request *r,
                  struct transfer_response *resp, herald_error *err);

/* request__send, and an answer of status 400 or more is the call's error
 * (resp is cleaned up then). */
int request__call(herald_client *c, const struct request *r,
                  struct transfer_response *resp, herald_error *err);

/* The Ably error of an error answer: the body's {"error": ErrorInfo}, else
 * X-Ably-Errorcode / X-Ably-Errormessage, else status * 100. Returns -code. */
int request__error_of(const struct transfer_response *resp, herald_error *err);

/* An ErrorInfo map into *err: -code (40000 when it has none). */
int request__error_info(struct wire_value info, herald_error *err);

/* Parses the answer's body in the format its Content-Type names. A body
 * of another type is -40013 (RSC8e). */
int request__parse(const struct transfer_response *resp, struct wire_doc *doc,
                   herald_error *err);

#endif
