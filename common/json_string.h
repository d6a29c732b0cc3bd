/* json_string.h -- the characters a JSON string carries as they are: the
 * scan the JSON parser (json_parse.c) and writer (wire_write.c) share. */
#ifndef HERALD_JSON_STRING_H
#define HERALD_JSON_STRING_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the longest prefix of s[0..len) without a quote, a
 * backslash or a control character (below 0x20): what a JSON string holds
 * unescaped. *ascii: whether that prefix is all ASCII (then it needs no
 * UTF-8 check). */
size_t json_string__plain_len(const char *s, size_t len, bool *ascii);

#endif
