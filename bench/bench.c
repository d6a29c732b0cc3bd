/* bench.c -- messages on stderr shared by every part and thread of
 * herald-bench (see bench.h). */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SHOWN_PER_KIND 3
#define MAX_KINDS 64

static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  const char *kind;
  unsigned count;
} kinds[MAX_KINDS];

/* How many times kind was reported before, counting this one. */
static unsigned count_kind(const char *kind) {
  for (int i = 0; i < MAX_KINDS; i++) {
    if (!kinds[i].kind) kinds[i].kind = kind;
    if (!strcmp(kinds[i].kind, kind)) return ++kinds[i].count;
  }
  return SHOWN_PER_KIND + 2; /* table full: stay quiet */
}

int bench__refuse(const char *why) {
  fprintf(stderr, "herald-bench: %s\n", why);
  return -1;
}

void bench__warn(const char *kind, const char *detail) {
  pthread_mutex_lock(&warn_lock);
  unsigned n = count_kind(kind);
  if (n <= SHOWN_PER_KIND)
    fprintf(stderr, "herald-bench: %s%s%s\n", kind, detail ? ": " : "",
            detail ? detail : "");
  else if (n == SHOWN_PER_KIND + 1)
    fprintf(stderr, "herald-bench: %s: more of these, not shown\n", kind);
  pthread_mutex_unlock(&warn_lock);
}
