/* http_headers.h -- response header lines built in a fixed buffer, and
 * CORS: which Origin may read a response, and the headers that let it.
 * Shared by every layer that answers HTTP: REST replies, and the realtime
 * transports that answer requests themselves (comet, SSE). */
#ifndef HERALD_HTTP_HEADERS_H
#define HERALD_HTTP_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include "transport/http.h"

#define HTTP_HEADERS_MAX 2048

/* Header lines being built: buf holds len bytes and a NUL. */
struct http_headers {
  char buf[HTTP_HEADERS_MAX];
  size_t len;
};

void http_headers__init(struct http_headers *h);
/* Appends "Name: value\r\n" when it fits; values are cut at CR/LF. */
void http_headers__add(struct http_headers *h, const char *name,
                       const char *value);
/* Appends whole header lines when they fit. */
void http_headers__add_lines(struct http_headers *h, const char *lines);

/* Whether req's Origin (none: yes) is in allowed (--allowed-origins: "*"
 * or "https://a.example, ..."); scheme and host compare
 * case-insensitively. */
bool http_headers__origin_allowed(const struct http_request *req,
                                  const char *allowed);
/* The CORS headers of a response to req, if its Origin is allowed. */
void http_headers__cors(struct http_headers *h, const struct http_request *req,
                        const char *allowed);
/* The headers of the answer to a CORS preflight. */
void http_headers__preflight(struct http_headers *h,
                             const struct http_request *req);

#endif
