/* http_strict.h -- the request framing checks Debian's http-parser leaves
 * out (it is built without HTTP_PARSER_STRICT): every line of the head, of
 * a chunk size and of the trailers ends in CRLF (no bare LF or CR), no
 * obs-fold continuation line, no whitespace in a header name (before the
 * colon) and no header line without one, and chunk data is followed by
 * CRLF. Each of these is a
 * request-smuggling vector when a proxy in front frames differently.
 *
 * The scanner reads the same bytes as the parser, after it: http.c feeds
 * it what one http_parser_execute call took, which is never more than one
 * request (the parser pauses at the end of each). It only checks; the
 * parser still frames and reports everything else. */
#ifndef HERALD_HTTP_STRICT_H
#define HERALD_HTTP_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_strict {
  uint8_t state;
  bool line_seen;    /* the head has a non-empty line */
  bool in_name;      /* in a header name: before the line's colon */
  uint64_t chunk_left; /* chunk size, then data bytes left */
};

/* Starts a new request. */
void http_strict__reset(struct http_strict *s);

/* Checks the next len bytes of the request. chunked: the request's body is
 * chunked (known once the parser has read its head, which it has by the
 * time the scanner reaches the end of it). Returns NULL, or what is wrong
 * (the scanner then stays failed until reset). */
const char *http_strict__scan(struct http_strict *s, const char *data,
                              size_t len, bool chunked);

#endif
