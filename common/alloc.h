/* alloc.h -- the one allocator every Herald module uses.
 *
 * herald_malloc and friends wrap the C allocator and keep a per-thread count
 * of live allocations, so tests can assert that a module frees what it
 * allocates.
 * They return NULL on failure like malloc; the server's small fixed-size
 * allocations use herald_xmalloc, which aborts instead (as redis zmalloc). */
#ifndef HERALD_ALLOC_H
#define HERALD_ALLOC_H

#include <stddef.h>

void *herald_malloc(size_t size);
void *herald_calloc(size_t count, size_t size);
void *herald_realloc(void *ptr, size_t size);
void herald_free(void *ptr);
char *herald_strdup(const char *s);
char *herald_strndup(const char *s, size_t len);

/* Abort-on-failure variants for fixed-size server allocations. */
void *herald_xmalloc(size_t size);
void *herald_xcalloc(size_t count, size_t size);
void *herald_xrealloc(void *ptr, size_t size);
char *herald_xstrdup(const char *s);
char *herald_xstrndup(const char *s, size_t len);

/* Allocations made through this module by the calling thread minus those
 * it freed (tests check single-threaded code with it). */
long herald_alloc_live(void);

#endif
