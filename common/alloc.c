/* alloc.c -- counting, aborting wrappers around the C allocator (see
 * alloc.h). */
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per thread: a shared counter was an atomic read-modify-write on one
 * cache line for every allocation of every worker. */
static _Thread_local long live_allocations;

void herald_oom(const char *what) {
  fprintf(stderr, "herald: out of memory (%s)\n", what);
  abort();
}

static void *or_abort(void *p) {
  if (!p) herald_oom("malloc");
  return p;
}

void *herald_xmalloc(size_t size) {
  void *p = or_abort(malloc(size ? size : 1));
  live_allocations++;
  return p;
}

void *herald_xcalloc(size_t count, size_t size) {
  void *p = or_abort(calloc(count ? count : 1, size ? size : 1));
  live_allocations++;
  return p;
}

void *herald_xrealloc(void *ptr, size_t size) {
  if (!ptr) return herald_xmalloc(size);
  return or_abort(realloc(ptr, size ? size : 1));
}

void herald_free(void *ptr) {
  if (!ptr) return;
  live_allocations--;
  free(ptr);
}

char *herald_xstrndup(const char *s, size_t len) {
  char *copy = herald_xmalloc(len + 1);
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

char *herald_xstrdup(const char *s) { return herald_xstrndup(s, strlen(s)); }

long herald_alloc_live(void) { return live_allocations; }
