/* arena.c -- request-scoped bump allocator (see arena.h). */
#include "arena.h"

#include <string.h>

#include "alloc.h"


struct arena_chunk {
  struct arena_chunk *next;
  size_t used;
  size_t size;
  _Alignas(16) unsigned char data[];
};

/* A chunk with its header takes 1 KiB: a request's arena (headers, path
 * segments, parameters) usually fits, and glibc serves blocks this small
 * from its per-thread cache; a 4 KiB block cost a malloc_consolidate. */
#define ARENA_CHUNK_SIZE (1024 - sizeof(struct arena_chunk))

void arena__init(struct arena *a) { a->chunks = NULL; }

void arena__cleanup(struct arena *a) {
  while (a->chunks) {
    struct arena_chunk *next = a->chunks->next;
    herald_free(a->chunks);
    a->chunks = next;
  }
}

void arena__reset(struct arena *a) {
  struct arena_chunk *kept = NULL;
  while (a->chunks) {
    struct arena_chunk *next = a->chunks->next;
    if (!kept && a->chunks->size == ARENA_CHUNK_SIZE) kept = a->chunks;
    else herald_free(a->chunks);
    a->chunks = next;
  }
  if (kept) {
    kept->used = 0;
    kept->next = NULL;
  }
  a->chunks = kept;
}

void *arena__alloc(struct arena *a, size_t size) {
  size = (size + 15) & ~(size_t)15;
  struct arena_chunk *c = a->chunks;
  if (!c || c->size - c->used < size) {
    size_t capacity = size > ARENA_CHUNK_SIZE ? size : ARENA_CHUNK_SIZE;
    c = herald_xmalloc(sizeof *c + capacity);
    c->size = capacity;
    c->used = 0;
    c->next = a->chunks;
    a->chunks = c;
  }
  void *p = c->data + c->used;
  c->used += size;
  return p;
}

char *arena__strndup(struct arena *a, const char *s, size_t len) {
  char *copy = arena__alloc(a, len + 1);
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}
