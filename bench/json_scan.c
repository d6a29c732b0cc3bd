/* json_scan.c -- in-place JSON reading (see json_scan.h). Validation is
 * shallow: structure (brackets, strings, separators) is checked, scalar
 * tokens are only delimited; a value is checked when it is read. */
#include "json_scan.h"

#include <stddef.h>
#include <string.h>

/* Byte classes for the scanning loops. */
enum { PLAIN = 0, SPACE, QUOTE, OPEN, CLOSE, COMMA };

static const unsigned char byte_class[256] = {
    [' '] = SPACE, ['\t'] = SPACE, ['\n'] = SPACE, ['\r'] = SPACE,
    ['"'] = QUOTE, ['{'] = OPEN,   ['['] = OPEN,   ['}'] = CLOSE,
    [']'] = CLOSE, [','] = COMMA,
};

static const char *skip_space(const char *p, const char *end) {
  while (p < end && byte_class[(unsigned char)*p] == SPACE) p++;
  return p;
}

/* p is at the opening quote. Returns the byte after the closing one: the
 * first quote not escaped by an odd run of backslashes. */
static const char *skip_string(const char *p, const char *end) {
  const char *q = p + 1;
  while ((q = memchr(q, '"', (size_t)(end - q)))) {
    size_t backslashes = 0;
    while (q - backslashes > p + 1 && q[-1 - (ptrdiff_t)backslashes] == '\\')
      backslashes++;
    if (backslashes % 2 == 0) return q + 1;
    q++;
  }
  return NULL;
}

/* p is at '{' or '['. Returns the byte after the matching bracket. */
static const char *skip_container(const char *p, const char *end) {
  int depth = 0;
  while (p < end) {
    switch (byte_class[(unsigned char)*p]) {
      case QUOTE:
        p = skip_string(p, end);
        if (!p) return NULL;
        continue;
      case OPEN:
        depth++;
        break;
      case CLOSE:
        if (--depth == 0) return p + 1;
        break;
    }
    p++;
  }
  return NULL;
}

static const char *skip_scalar(const char *p, const char *end) {
  const char *start = p;
  while (p < end && byte_class[(unsigned char)*p] == PLAIN) p++;
  return p > start ? p : NULL;
}

/* Returns the byte after the value at p (after space), NULL if malformed. */
static const char *skip_value(const char *p, const char *end) {
  if (p >= end) return NULL;
  switch (byte_class[(unsigned char)*p]) {
    case QUOTE:
      return skip_string(p, end);
    case OPEN:
      return skip_container(p, end);
    case PLAIN:
      return skip_scalar(p, end);
    default:
      return NULL;
  }
}

bool json_scan__enter(struct json_iter *it, struct span value) {
  const char *p = skip_space(value.p, value.p + value.len);
  if (p >= value.p + value.len || (*p != '{' && *p != '[')) return false;
  it->close = *p == '{' ? '}' : ']';
  it->p = p + 1;
  it->end = value.p + value.len;
  it->first = true;
  return true;
}

/* Moves past the ',' between items. Returns 1 at an item, 0 at the end, -1
 * when malformed. */
static int next_item(struct json_iter *it) {
  it->p = skip_space(it->p, it->end);
  if (it->p >= it->end) return -1;
  if (*it->p == it->close) return 0;
  if (!it->first) {
    if (*it->p != ',') return -1;
    it->p = skip_space(it->p + 1, it->end);
  }
  it->first = false;
  return 1;
}

/* Reads the value at it->p into value. Returns 1 or -1. */
static int take_value(struct json_iter *it, struct span *value) {
  const char *start = skip_space(it->p, it->end);
  const char *after = skip_value(start, it->end);
  if (!after) return -1;
  *value = (struct span){start, (size_t)(after - start)};
  it->p = after;
  return 1;
}

int json_scan__next_member(struct json_iter *it, struct span *key,
                           struct span *value) {
  int rc = next_item(it);
  if (rc <= 0) return rc;
  if (it->p >= it->end || *it->p != '"') return -1;
  const char *after_key = skip_string(it->p, it->end);
  if (!after_key) return -1;
  *key = (struct span){it->p + 1, (size_t)(after_key - it->p - 2)};
  it->p = skip_space(after_key, it->end);
  if (it->p >= it->end || *it->p != ':') return -1;
  it->p++;
  return take_value(it, value);
}

int json_scan__next_element(struct json_iter *it, struct span *value) {
  int rc = next_item(it);
  if (rc <= 0) return rc;
  return take_value(it, value);
}

bool json_scan__int(struct span value, int64_t *out) {
  const char *p = value.p, *end = value.p + value.len;
  bool negative = p < end && *p == '-';
  if (negative) p++;
  if (p == end) return false;
  int64_t n = 0;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9') return false;
    n = n * 10 + (*p - '0');
  }
  *out = negative ? -n : n;
  return true;
}

bool json_scan__string(struct span value, struct span *out) {
  if (value.len < 2 || value.p[0] != '"') return false;
  *out = (struct span){value.p + 1, value.len - 2};
  return true;
}

bool json_scan__key_equals(struct span key, const char *name, size_t len) {
  return key.len == len && !memcmp(key.p, name, len);
}
