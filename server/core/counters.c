/* counters.c -- per-worker counter blocks (see counters.h). */
#include "core/counters.h"

#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "core/worker.h"

#define CACHE_LINE 64

struct counters {
  size_t n;
  size_t stride; /* values per slot */
  int slots;     /* workers, then the shared slot of other threads */
  _Atomic int64_t values[];
};

static int n_workers = 1;

void counters__set_workers(int workers) { n_workers = workers > 0 ? workers : 1; }

struct counters *counters__new(size_t n) {
  /* whole lines, and one line more: slots never share one, however
   * malloc aligns the block */
  size_t per_line = CACHE_LINE / sizeof(int64_t);
  size_t stride = (n + per_line - 1) / per_line * per_line + per_line;
  int slots = n_workers + 1;
  struct counters *c = herald_xcalloc(
      1, sizeof(struct counters) + stride * (size_t)slots * sizeof(int64_t));
  c->n = n;
  c->stride = stride;
  c->slots = slots;
  return c;
}

void counters__free(struct counters *c) { herald_free(c); }

void counters__add(struct counters *c, size_t id, int64_t v) {
  struct worker *w = worker__self();
  if (w && w->index < c->slots - 1) { /* the only writer of its slot */
    _Atomic int64_t *p = &c->values[(size_t)w->index * c->stride + id];
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + v,
                          memory_order_relaxed);
    return;
  }
  atomic_fetch_add_explicit(&c->values[(size_t)(c->slots - 1) * c->stride + id],
                            v, memory_order_relaxed);
}

int64_t counters__sum(const struct counters *c, size_t id) {
  int64_t sum = 0;
  for (int s = 0; s < c->slots; s++)
    sum += atomic_load_explicit(&c->values[(size_t)s * c->stride + id],
                                memory_order_relaxed);
  return sum;
}
