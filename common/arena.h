/* arena.h -- a request-scoped bump allocator.
 *
 * Everything a request needs while it is handled (decoded path segments,
 * query parameters, header copies) comes from its arena and is released at
 * once when the request ends. Nothing long-lived may point into an arena. */
#ifndef HERALD_ARENA_H
#define HERALD_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
  struct arena_chunk *chunks;
};

void arena__init(struct arena *a);
/* Frees every chunk; the arena is empty and reusable afterwards. */
void arena__cleanup(struct arena *a);
/* Empties the arena but keeps one standard chunk for what comes next (a
 * connection's next request): no allocation in the steady state. */
void arena__reset(struct arena *a);
/* size bytes, 16-byte aligned. Aborts on allocation failure (server use). */
void *arena__alloc(struct arena *a, size_t size);
/* A NUL-terminated copy of s[0..len). */
char *arena__strndup(struct arena *a, const char *s, size_t len);

#endif
