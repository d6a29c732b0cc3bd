/* serial.c -- message serial formatting and validation (see serial.h). */
#include "serial.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void serial__format(char *out, int64_t ms, unsigned seq, const char *node,
                    size_t index) {
  snprintf(out, SERIAL_MAX, "%014" PRId64 "-%03u@%s:%03zu", ms, seq, node,
           index);
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
  snprintf(out, SERIAL_MAX, "%014" PRId64 "-%03u", ms, seq);
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
