/* text.h -- a growing NUL-terminated string: URLs, query strings, header
 * lines the library builds. */
#ifndef HERALD_LIB_TEXT_H
#define HERALD_LIB_TEXT_H

#include <stddef.h>

struct text {
  char *s; /* herald_xmalloc'd, always NUL-terminated once anything is added */
  size_t len, cap;
};

void text__append(struct text *t, const char *s);
void text__appendn(struct text *t, const char *s, size_t len);
void text__appendf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s percent-encoded as a URL path segment or query value. */
void text__append_escaped(struct text *t, const char *s);
/* Appends "&name=value" ("name=value" first), value escaped. */
void text__param(struct text *t, const char *name, const char *value);
/* The string (owned by the caller from now on; "" when empty). */
char *text__take(struct text *t);

#endif
