/* histogram.h -- a log-linear latency histogram (HDR-style) in microseconds.
 * Values from 1 us to 100 s fall into buckets no wider than 1/128 of their
 * value (under 1 % error); smaller values are exact, larger ones clamp to
 * 100 s. Recording is an index computation and an increment: no allocation,
 * no floating point. One histogram per thread; merge them at the end. */
#ifndef HERALD_BENCH_HISTOGRAM_H
#define HERALD_BENCH_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BUCKETS 256 /* per power of two: precision 1/128 */
#define HISTOGRAM_MAX_US 100000000ULL /* 100 s */
#define HISTOGRAM_BUCKETS 2688 /* enough for HISTOGRAM_MAX_US */

struct histogram {
  uint64_t count;
  uint64_t max_us;
  uint64_t buckets[HISTOGRAM_BUCKETS];
};

/* Empties h. */
void histogram__init(struct histogram *h);

/* Counts one value. */
void histogram__record(struct histogram *h, uint64_t us);

/* Adds every count of from into into. */
void histogram__merge(struct histogram *into, const struct histogram *from);

/* The value at or below which `percent` % of the values lie, as the middle
 * of its bucket; 0 when h is empty. */
uint64_t histogram__percentile(const struct histogram *h, double percent);

#endif
