/* counters.h -- counts kept per worker, summed by whoever reads them.
 *
 * A block holds n counters for every worker and one more slot for the
 * other threads (the main thread, a storage engine's). A worker adds to
 * its own slot only, so the hot path takes no lock and shares no cache
 * line with another writer: a relaxed load and store of its own value. A
 * reader on any thread sums the slots with relaxed loads, so it sees each
 * count a little late at worst, never torn. */
#ifndef HERALD_COUNTERS_H
#define HERALD_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

struct counters;

/* Sizes every block made from now on for `workers` workers (at start-up,
 * before any block is made; 1 until called). */
void counters__set_workers(int workers);

/* A block of n counters, all 0 (herald_xmalloc'd). */
struct counters *counters__new(size_t n);
void counters__free(struct counters *c);

/* Adds v (maybe negative) to counter id, in the calling thread's slot. */
void counters__add(struct counters *c, size_t id, int64_t v);

/* The sum of counter id over every slot. */
int64_t counters__sum(const struct counters *c, size_t id);

#endif
