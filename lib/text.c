/* text.c -- the growing string (see text.h). */
#include "text.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

static void reserve(struct text *t, size_t more) {
  if (t->len + more + 1 <= t->cap) return;
  size_t cap = t->cap ? t->cap : 64;
  while (cap < t->len + more + 1) cap *= 2;
  t->s = herald_xrealloc(t->s, cap);
  t->cap = cap;
}

void text__appendn(struct text *t, const char *s, size_t len) {
  reserve(t, len);
  memcpy(t->s + t->len, s, len);
  t->len += len;
  t->s[t->len] = '\0';
}

void text__append(struct text *t, const char *s) {
  text__appendn(t, s, strlen(s));
}

void text__appendf(struct text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  reserve(t, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

void text__append_escaped(struct text *t, const char *s) {
  char *e = curl_easy_escape(NULL, s, (int)strlen(s));
  if (!e) herald_oom("a URL");
  text__append(t, e);
  curl_free(e);
}

void text__param(struct text *t, const char *name, const char *value) {
  if (t->len) text__append(t, "&");
  text__append(t, name);
  text__append(t, "=");
  text__append_escaped(t, value);
}

char *text__take(struct text *t) {
  char *s = t->s ? t->s : herald_xstrdup("");
  memset(t, 0, sizeof *t);
  return s;
}
