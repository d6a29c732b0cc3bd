/* transfer.h -- one HTTP exchange with one host over a libcurl easy handle
 * (which keeps its connection open for the next exchange): the request's
 * options, the response's status, headers and body, and what a failure to
 * get a response means in Ably's terms. */
#ifndef HERALD_LIB_TRANSFER_H
#define HERALD_LIB_TRANSFER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "herald/errors.h"

struct transfer_request {
  const char *method;
  const char *url;
  const struct curl_slist *headers;
  const char *body; /* NULL: none */
  size_t body_len;
  long connect_timeout_ms, timeout_ms; /* timeout 0: none (streams) */
  const char *ca_file;
};

struct transfer_response {
  long status;
  char *body; /* herald_xmalloc'd, NUL-terminated */
  size_t len, cap;
  char **headers; /* "name: value" lines of the last response */
  size_t n_headers, cap_headers;
};

/* Sets h (reset first) for r, with the response's headers going to resp;
 * the caller sets what the body does. */
void transfer__setup(CURL *h, const struct transfer_request *r,
                     struct transfer_response *resp);

/* Performs r on h. 0 when a response came (any status), else -50003 (the
 * timeout) or -80000 (no connection, or it broke) with err set. */
int transfer__perform(CURL *h, const struct transfer_request *r,
                      struct transfer_response *resp, herald_error *err);

/* What a curl result other than CURLE_OK means: -50003 or -80000. */
int transfer__failure(CURLcode rc, const char *url, herald_error *err);

/* A header's value (name case-insensitive) without surrounding blanks,
 * or NULL; every value of a repeated header through index. */
const char *transfer__header(const struct transfer_response *r,
                             const char *name, size_t index);

void transfer__response_cleanup(struct transfer_response *r);

#endif
