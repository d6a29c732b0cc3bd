/* histogram.c -- log-linear latency histogram (see histogram.h).
 *
 * Layout, with S = HISTOGRAM_SUB_BUCKETS (256) and H = S / 2:
 *   values 0 .. S-1 have one bucket each (exact);
 *   a value v >= S, with shift = msb(v) - 7, goes to bucket
 *   S + (shift - 1) * H + ((v >> shift) - H), i.e. each further power of
 *   two is split into H buckets of width 2^shift. */
#include "histogram.h"

#include <string.h>

#define HALF (HISTOGRAM_SUB_BUCKETS / 2)

static unsigned most_significant_bit(uint64_t v) {
  return 63u - (unsigned)__builtin_clzll(v);
}

static unsigned bucket_of(uint64_t us) {
  if (us < HISTOGRAM_SUB_BUCKETS) return (unsigned)us;
  unsigned shift = most_significant_bit(us) - 7;
  return HISTOGRAM_SUB_BUCKETS + (shift - 1) * HALF +
         (unsigned)((us >> shift) - HALF);
}

/* The smallest value of bucket i and the bucket's width. */
static void bucket_range(unsigned i, uint64_t *low, uint64_t *width) {
  if (i < HISTOGRAM_SUB_BUCKETS) {
    *low = i;
    *width = 1;
    return;
  }
  unsigned shift = (i - HISTOGRAM_SUB_BUCKETS) / HALF + 1;
  uint64_t sub = (i - HISTOGRAM_SUB_BUCKETS) % HALF + HALF;
  *low = sub << shift;
  *width = 1ULL << shift;
}

void histogram__init(struct histogram *h) { memset(h, 0, sizeof *h); }

void histogram__record(struct histogram *h, uint64_t us) {
  if (us > HISTOGRAM_MAX_US) us = HISTOGRAM_MAX_US;
  h->buckets[bucket_of(us)]++;
  h->count++;
  if (us > h->max_us) h->max_us = us;
}

void histogram__merge(struct histogram *into, const struct histogram *from) {
  for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
    into->buckets[i] += from->buckets[i];
  into->count += from->count;
  if (from->max_us > into->max_us) into->max_us = from->max_us;
}

uint64_t histogram__percentile(const struct histogram *h, double percent) {
  if (!h->count) return 0;
  uint64_t rank = (uint64_t)(percent / 100.0 * (double)h->count + 0.5);
  if (rank < 1) rank = 1;
  if (rank > h->count) rank = h->count;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
    seen += h->buckets[i];
    if (seen < rank) continue;
    uint64_t low, width;
    bucket_range(i, &low, &width);
    uint64_t middle = low + width / 2;
    return middle < h->max_us ? middle : h->max_us;
  }
  return h->max_us;
}

/* HISTOGRAM_MAX_US has msb 26, so shift 19: the last bucket is
 * S + 18 * H + (H - 1). */
_Static_assert(HISTOGRAM_BUCKETS == HISTOGRAM_SUB_BUCKETS + 18 * HALF + HALF,
               "HISTOGRAM_BUCKETS must end at HISTOGRAM_MAX_US");
_Static_assert(HISTOGRAM_MAX_US >> 26 == 1, "HISTOGRAM_MAX_US has msb 26");
