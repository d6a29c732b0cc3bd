/* alloc.h -- the one allocator every Herald module uses, and Herald's one
 * out-of-memory policy: an allocation never returns NULL. When the C
 * allocator fails, herald_x* print "out of memory" and abort (as Redis's
 * zmalloc does), so no caller checks and no error path pretends to recover.
 * Sizes a client chooses are bounded before they are allocated (header,
 * body and frame limits, msgpack declared sizes: wire_bounds.c), so only a
 * machine that is really out of memory gets here.
 *
 * They keep a per-thread count of live allocations, so tests can assert
 * that a module frees what it allocates. */
#ifndef HERALD_ALLOC_H
#define HERALD_ALLOC_H

#include <stddef.h>

void *herald_xmalloc(size_t size);
void *herald_xcalloc(size_t count, size_t size);
void *herald_xrealloc(void *ptr, size_t size);
char *herald_xstrdup(const char *s);
char *herald_xstrndup(const char *s, size_t len);
void herald_free(void *ptr);

/* Stops the process: memory ran out for what. For libraries whose calls
 * fail only for want of memory (wslay's contexts, OpenSSL's digests), so
 * they follow the same policy. */
_Noreturn void herald_oom(const char *what);

/* Allocations made through this module by the calling thread minus those
 * it freed (tests check single-threaded code with it). */
long herald_alloc_live(void);

#endif
