/* hosts.c -- primary, fallbacks and the remembered fallback (see hosts.h). */
#include "hosts.h"

#include <openssl/rand.h>
#include <stdbool.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"

void hosts__init(struct hosts *h, const char *primary,
                 const char *const *fallbacks, size_t n_fallbacks,
                 long retry_timeout_ms) {
  memset(h, 0, sizeof *h);
  pthread_mutex_init(&h->lock, NULL);
  h->primary = herald_xstrdup(primary);
  h->fallbacks = herald_xcalloc(n_fallbacks ? n_fallbacks : 1, sizeof *h->fallbacks);
  for (size_t i = 0; i < n_fallbacks; i++)
    h->fallbacks[i] = herald_xstrdup(fallbacks[i]);
  h->n_fallbacks = n_fallbacks;
  h->retry_timeout_ms = retry_timeout_ms;
}

void hosts__cleanup(struct hosts *h) {
  herald_free(h->primary);
  for (size_t i = 0; i < h->n_fallbacks; i++) herald_free(h->fallbacks[i]);
  herald_free(h->fallbacks);
  herald_free(h->remembered);
  pthread_mutex_destroy(&h->lock);
}

/* The current host; the lock is held. An expired memory is dropped. */
static const char *current(struct hosts *h) {
  if (h->remembered && clock__monotonic_ms() >= h->remembered_until) {
    herald_free(h->remembered);
    h->remembered = NULL;
  }
  return h->remembered ? h->remembered : h->primary;
}

static size_t random_below(size_t n) {
  unsigned int r;
  if (RAND_bytes((unsigned char *)&r, sizeof r) != 1) herald_oom("randomness");
  return r % n;
}

size_t hosts__plan(struct hosts *h, int max_retries, char ***out) {
  pthread_mutex_lock(&h->lock);
  const char *first = current(h);
  /* Every other host: the fallbacks, and the primary when a fallback is
   * current; shuffled (Fisher-Yates). */
  size_t n_others = 0;
  const char **others = herald_xcalloc(h->n_fallbacks + 1, sizeof *others);
  if (first != h->primary) others[n_others++] = h->primary;
  for (size_t i = 0; i < h->n_fallbacks; i++)
    if (strcmp(h->fallbacks[i], first) != 0) others[n_others++] = h->fallbacks[i];
  for (size_t i = n_others; i > 1; i--) {
    size_t j = random_below(i);
    const char *t = others[i - 1];
    others[i - 1] = others[j];
    others[j] = t;
  }
  size_t retries = max_retries < 0 ? 0 : (size_t)max_retries;
  if (retries > n_others) retries = n_others;
  char **plan = herald_xcalloc(1 + retries, sizeof *plan);
  plan[0] = herald_xstrdup(first);
  for (size_t i = 0; i < retries; i++) plan[1 + i] = herald_xstrdup(others[i]);
  pthread_mutex_unlock(&h->lock);
  herald_free(others);
  *out = plan;
  return 1 + retries;
}

void hosts__free_plan(char **plan, size_t n) {
  for (size_t i = 0; i < n; i++) herald_free(plan[i]);
  herald_free(plan);
}

void hosts__answered(struct hosts *h, const char *host) {
  pthread_mutex_lock(&h->lock);
  bool primary = strcmp(host, h->primary) == 0;
  bool same = h->remembered && strcmp(host, h->remembered) == 0;
  if (primary || !same) {
    herald_free(h->remembered);
    h->remembered = NULL;
  }
  if (!primary && !same) {
    h->remembered = herald_xstrdup(host);
    h->remembered_until = clock__monotonic_ms() + h->retry_timeout_ms;
  }
  pthread_mutex_unlock(&h->lock);
}

void hosts__failed(struct hosts *h, const char *host) {
  pthread_mutex_lock(&h->lock);
  if (h->remembered && strcmp(host, h->remembered) == 0) {
    herald_free(h->remembered);
    h->remembered = NULL;
  }
  pthread_mutex_unlock(&h->lock);
}

char *hosts__current(struct hosts *h) {
  pthread_mutex_lock(&h->lock);
  char *s = herald_xstrdup(current(h));
  pthread_mutex_unlock(&h->lock);
  return s;
}
