/* metrics.c -- the process's counters and histograms (see metrics.h). */
#include "core/metrics.h"

#include <uv.h>

#include "core/counters.h"

const int64_t metrics__bounds_us[METRIC_BUCKETS] = {
    100,    250,    500,    1000,    2500,    5000,    10000,  25000,
    50000,  100000, 250000, 500000, 1000000, 2500000, 5000000};

/* After the counters: per histogram, its buckets, then sum and count. */
#define HISTOGRAM_SIZE (METRIC_BUCKETS + 1 + 2)
#define HISTOGRAM(h) (METRIC_COUNTERS + (size_t)(h) * HISTOGRAM_SIZE)

static struct counters *block;

void metrics__init(void) {
  if (!block)
    block = counters__new(METRIC_COUNTERS + METRIC_HISTOGRAMS * HISTOGRAM_SIZE);
}

void metrics__cleanup(void) {
  counters__free(block);
  block = NULL;
}

void metrics__add(enum metric_counter id, int64_t v) {
  if (block) counters__add(block, id, v);
}

int64_t metrics__value(enum metric_counter id) {
  return block ? counters__sum(block, id) : 0;
}

void metrics__observe(enum metric_histogram h, int64_t us) {
  if (!block) return;
  size_t i = 0;
  while (i < METRIC_BUCKETS && us > metrics__bounds_us[i]) i++;
  size_t base = HISTOGRAM(h);
  counters__add(block, base + i, 1);
  counters__add(block, base + METRIC_BUCKETS + 1, us);
  counters__add(block, base + METRIC_BUCKETS + 2, 1);
}

void metrics__histogram(enum metric_histogram h, struct metric_snapshot *out) {
  size_t base = HISTOGRAM(h);
  for (size_t i = 0; i <= METRIC_BUCKETS; i++)
    out->counts[i] = block ? counters__sum(block, base + i) : 0;
  out->sum_us = block ? counters__sum(block, base + METRIC_BUCKETS + 1) : 0;
  out->count = block ? counters__sum(block, base + METRIC_BUCKETS + 2) : 0;
}

int64_t metrics__now_us(void) { return (int64_t)(uv_hrtime() / 1000); }
