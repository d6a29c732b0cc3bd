/* fuzz_input.h -- splitting a fuzz input into the fields a target builds
 * from, shared by the targets that sign and verify what they built. */
#ifndef HERALD_FUZZ_INPUT_H
#define HERALD_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"

/* The next NUL-terminated piece of the input (the last one may end
 * without), herald_xmalloc'd; the input advances past it. */
static inline char *fuzz_input__next_piece(const uint8_t **data, size_t *size) {
  const uint8_t *nul = memchr(*data, 0, *size);
  size_t n = nul ? (size_t)(nul - *data) : *size;
  char *piece = herald_xstrndup((const char *)*data, n);
  *data += nul ? n + 1 : n;
  *size -= nul ? n + 1 : n;
  return piece;
}

#endif
