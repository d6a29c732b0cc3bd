/* sse.c -- Server-Sent Events stream reader (see sse.h). */
#include "sse.h"

#include <string.h>

#define MAX_LINE (64u << 10)

void sse_parser__init(struct sse_parser *p) { memset(p, 0, sizeof *p); }

void sse_parser__cleanup(struct sse_parser *p) {
  byte_buf__cleanup(&p->partial_line);
  byte_buf__cleanup(&p->data);
  sse_parser__init(p);
}

static void dispatch(struct sse_parser *p, sse_event_cb cb, void *ctx) {
  if (p->has_data) {
    struct span name = p->name_len ? (struct span){p->name, p->name_len}
                                   : (struct span){"message", 7};
    cb(ctx, name, (struct span){p->data.data, p->data.len});
  }
  p->data.len = 0;
  p->name_len = 0;
  p->has_data = false;
}

/* The value of a "field: value" line (one optional space after ':'). */
static struct span field_value(const char *line, size_t len, size_t colon) {
  size_t start = colon + 1;
  if (start < len && line[start] == ' ') start++;
  return (struct span){line + start, len - start};
}

/* Handles one line without its end-of-line. Returns 0 or -1. */
static int read_line(struct sse_parser *p, const char *line, size_t len,
                     sse_event_cb cb, void *ctx) {
  if (!len) {
    dispatch(p, cb, ctx);
    return 0;
  }
  const char *colon = memchr(line, ':', len);
  size_t field_len = colon ? (size_t)(colon - line) : len;
  if (!field_len) return 0; /* a comment */
  struct span value = colon ? field_value(line, len, field_len)
                            : (struct span){line + len, 0};
  if (field_len == 4 && !memcmp(line, "data", 4)) {
    if (p->has_data && byte_buf__append(&p->data, "\n", 1, MAX_LINE))
      return -1;
    p->has_data = true;
    return byte_buf__append(&p->data, value.p, value.len, MAX_LINE);
  }
  if (field_len == 5 && !memcmp(line, "event", 5)) {
    size_t n = value.len < sizeof p->name ? value.len : sizeof p->name;
    memcpy(p->name, value.p, n);
    p->name_len = (unsigned char)n;
  }
  return 0;
}

/* Reads the complete lines of bytes[0..len) (CRLF or LF; a lone CR as an
 * end of line is not supported) and returns how many bytes they took. */
static size_t read_lines(struct sse_parser *p, const char *bytes, size_t len,
                         sse_event_cb cb, void *ctx, int *rc) {
  size_t done = 0;
  const char *newline;
  while (!*rc && (newline = memchr(bytes + done, '\n', len - done))) {
    size_t end = (size_t)(newline - bytes);
    size_t line_len = end - done;
    if (line_len && bytes[end - 1] == '\r') line_len--;
    *rc = read_line(p, bytes + done, line_len, cb, ctx);
    done = end + 1;
  }
  return done;
}

/* Completes a line split across feeds with the start of bytes. Returns how
 * many bytes of bytes it took (all of them when the line is still open). */
static size_t finish_partial_line(struct sse_parser *p, const char *bytes,
                                  size_t len, sse_event_cb cb, void *ctx,
                                  int *rc) {
  const char *newline = memchr(bytes, '\n', len);
  size_t take = newline ? (size_t)(newline - bytes) + 1 : len;
  if (byte_buf__append(&p->partial_line, bytes, take, MAX_LINE)) {
    *rc = -1;
    return len;
  }
  if (newline) {
    read_lines(p, p->partial_line.data, p->partial_line.len, cb, ctx, rc);
    p->partial_line.len = 0;
  }
  return take;
}

int sse_parser__feed(struct sse_parser *p, const char *bytes, size_t len,
                     sse_event_cb cb, void *ctx) {
  int rc = 0;
  size_t done = 0;
  if (p->partial_line.len)
    done = finish_partial_line(p, bytes, len, cb, ctx, &rc);
  done += read_lines(p, bytes + done, len - done, cb, ctx, &rc);
  if (!rc && done < len &&
      byte_buf__append(&p->partial_line, bytes + done, len - done, MAX_LINE))
    rc = -1;
  return rc;
}
