/* buf.c -- bounded growable byte buffers (see buf.h). */
#include "buf.h"

#include <string.h>

#include "alloc.h"

int byte_buf__append(struct byte_buf *b, const void *data, size_t len,
                     size_t max) {
  if (len > max || b->len > max - len) return -1;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + len) cap *= 2;
    if (cap > max) cap = max;
    b->data = herald_xrealloc(b->data, cap);
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

void byte_buf__cleanup(struct byte_buf *b) {
  herald_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
