/* utf8.h -- UTF-8 validation. Everything Herald stores as text must be
 * valid UTF-8 so that it can always be written as JSON. */
#ifndef HERALD_UTF8_H
#define HERALD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s[0..len) is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
bool utf8__valid(const char *s, size_t len);

#endif
