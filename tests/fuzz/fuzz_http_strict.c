/* fuzz_http_strict.c -- libFuzzer target for server/transport/http_strict.c, the
 * hand-written scanner for the framing rules Debian's http-parser leaves
 * out (CRLF only, no obs-fold, header names present and without
 * whitespace, CRLF after chunk data).
 *
 * The first input byte picks chunked or not and how the rest is split;
 * the rest is the request as the socket gives it. Properties:
 * - the verdict does not depend on how the bytes are split into reads
 *   (the scanner sees them one http_parser_execute call at a time);
 * - for a head, the verdict is that of a plain reference written here,
 *   line by line, from the rules in http_strict.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "transport/http_strict.h"

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* The rules, over a whole head (and whatever follows it): false at the
 * first broken one. A line may be cut short by the end of the input. */
static bool reference_head_ok(const char *p, size_t len) {
  bool seen_line = false;
  size_t i = 0;
  while (i < len) {
    if (p[i] == '\r') { /* an empty line: before a request, or its end */
      if (i + 1 == len) return true;
      if (p[i + 1] != '\n') return false;
      if (seen_line) return true;
      i += 2;
      continue;
    }
    if (p[i] == '\n' || blank(p[i])) return false; /* bare LF, obs-fold */
    bool in_name = seen_line; /* the request line has no header name */
    if (in_name && p[i] == ':') return false; /* a header needs a name */
    seen_line = true;
    for (; i < len && p[i] != '\r' && p[i] != '\n'; i++) {
      if (in_name && blank(p[i])) return false;
      if (p[i] == ':') in_name = false;
    }
    if (i == len) return true;
    if (p[i] == '\n' || (i + 1 < len && p[i + 1] != '\n')) return false;
    i += 2;
  }
  return true;
}

/* The scanner's verdict on data split into reads of the given sizes. */
static bool scan_ok(const char *data, size_t len, bool chunked,
                    size_t read_size) {
  struct http_strict s;
  http_strict__reset(&s);
  for (size_t at = 0; at < len; at += read_size) {
    size_t n = len - at < read_size ? len - at : read_size;
    if (http_strict__scan(&s, data + at, n, chunked)) return false;
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
  if (size < 1) return 0;
  bool chunked = bytes[0] & 1;
  size_t read_size = 1 + (bytes[0] >> 1) % 17;
  const char *data = (const char *)bytes + 1;
  size_t len = size - 1;
  bool whole = scan_ok(data, len, chunked, len ? len : 1);
  if (scan_ok(data, len, chunked, 1) != whole ||
      scan_ok(data, len, chunked, read_size) != whole) {
    fprintf(stderr, "the verdict depends on how the bytes are split\n");
    abort();
  }
  if (!chunked && whole != reference_head_ok(data, len)) {
    fprintf(stderr, "the scanner says %s, the reference %s\n",
            whole ? "valid" : "invalid", whole ? "invalid" : "valid");
    abort();
  }
  return 0;
}
