/* buf.h -- byte spans and bounded growable byte buffers for herald-bench.
 * Owns: nothing; a byte_buf owns its data, freed by byte_buf__cleanup. */
#ifndef HERALD_BENCH_BUF_H
#define HERALD_BENCH_BUF_H

#include <stddef.h>

/* Borrowed bytes: p[0..len), not NUL-terminated. */
struct span {
  const char *p;
  size_t len;
};

/* A buffer that grows on demand up to a maximum and keeps its capacity when
 * emptied, so a buffer in steady use stops allocating. A zeroed struct is an
 * empty buffer. */
struct byte_buf {
  char *data;
  size_t len;
  size_t cap;
};

/* Appends len bytes. Returns 0, or -1 when the result would exceed max bytes
 * or memory ran out (the buffer is then unchanged). */
int byte_buf__append(struct byte_buf *b, const void *data, size_t len,
                     size_t max);

/* Frees the data and leaves an empty buffer. */
void byte_buf__cleanup(struct byte_buf *b);

#endif
