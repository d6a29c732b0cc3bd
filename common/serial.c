/* serial.c -- message serial formatting and validation (see serial.h). */
#include "serial.h"

#include <string.h>

#include "decimal.h"

/* "<ms>-<seq>" as serials and floors start: at least 14 and 3 digits. */
static size_t format_position(char *out, int64_t ms, unsigned seq) {
  size_t n = decimal__write(out, (uint64_t)ms, 14);
  out[n++] = '-';
  return n + decimal__write(out + n, seq, 3);
}

void serial__format(char *out, int64_t ms, unsigned seq, const char *node,
                    size_t index) {
  size_t n = format_position(out, ms, seq);
  size_t node_len = strlen(node);
  out[n++] = '@';
  memcpy(out + n, node, node_len);
  n += node_len;
  out[n++] = ':';
  n += decimal__write(out + n, index, 3);
  out[n] = '\0';
}

static bool digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool serial__valid(const char *text) {
  size_t len = strlen(text);
  /* 14 digits, '-', 3 digits, '@', node, ':', 3 digits */
  if (len < 14 + 1 + 3 + 1 + 1 + 1 + 3 || len >= SERIAL_MAX) return false;
  if (!digits(text, 14) || text[14] != '-' || !digits(text + 15, 3) ||
      text[18] != '@')
    return false;
  const char *node = text + 19, *colon = text + len - 4;
  if (*colon != ':' || !digits(colon + 1, 3) || colon == node) return false;
  for (const char *p = node; p < colon; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
          (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
      return false;
  return true;
}

void serial__floor(char *out, int64_t ms, unsigned seq) {
  out[format_position(out, ms, seq)] = '\0';
}

bool serial__position(const char *text, int64_t *ms) {
  size_t len = strlen(text);
  if (len < 18 || !digits(text, 14) || text[14] != '-' || !digits(text + 15, 3))
    return false;
  if (len != 18 && !serial__valid(text)) return false;
  *ms = 0;
  for (int i = 0; i < 14; i++) *ms = *ms * 10 + (text[i] - '0');
  return true;
}
