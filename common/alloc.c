/* alloc.c -- counting wrappers around the C allocator (see alloc.h). */
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per thread: a shared counter was an atomic read-modify-write on one
 * cache line for every allocation of every worker. */
static _Thread_local long live_allocations;

void *herald_malloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (p) live_allocations++;
  return p;
}

void *herald_calloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (p) live_allocations++;
  return p;
}

void *herald_realloc(void *ptr, size_t size) {
  if (!ptr) return herald_malloc(size);
  return realloc(ptr, size ? size : 1);
}

void herald_free(void *ptr) {
  if (!ptr) return;
  live_allocations--;
  free(ptr);
}

char *herald_strndup(const char *s, size_t len) {
  char *copy = herald_malloc(len + 1);
  if (!copy) return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

char *herald_strdup(const char *s) { return herald_strndup(s, strlen(s)); }

static void *or_abort(void *p) {
  if (!p) {
    fputs("heraldd: out of memory\n", stderr);
    abort();
  }
  return p;
}

void *herald_xmalloc(size_t size) { return or_abort(herald_malloc(size)); }
void *herald_xcalloc(size_t count, size_t size) {
  return or_abort(herald_calloc(count, size));
}
void *herald_xrealloc(void *ptr, size_t size) {
  return or_abort(herald_realloc(ptr, size));
}
char *herald_xstrdup(const char *s) { return or_abort(herald_strdup(s)); }
char *herald_xstrndup(const char *s, size_t len) {
  return or_abort(herald_strndup(s, len));
}

long herald_alloc_live(void) {
  return live_allocations;
}
