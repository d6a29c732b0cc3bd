/* metrics.h -- the process's own counts, for an operator (GET /metrics).
 *
 * Counters every layer bumps on its hot path and latency histograms, all
 * in one per-worker block (counters.h): adding takes no lock. What the
 * app's statistics count (Ably's stats API) is channel/stats.h; these
 * are the node's, across apps. */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* The realtime transports, as labelled. */
enum metric_transport {
  METRIC_WEBSOCKET,
  METRIC_COMET,
  METRIC_SSE,
  METRIC_TRANSPORTS
};

/* Where a published message came in. */
enum metric_origin { METRIC_REST, METRIC_REALTIME, METRIC_ORIGINS };

enum metric_counter {
  /* + enum metric_transport */
  METRIC_CONNECTIONS_OPENED = 0,
  METRIC_CONNECTIONS_CLOSED = METRIC_CONNECTIONS_OPENED + METRIC_TRANSPORTS,
  /* + enum metric_origin */
  METRIC_MESSAGES_IN = METRIC_CONNECTIONS_CLOSED + METRIC_TRANSPORTS,
  METRIC_BYTES_IN = METRIC_MESSAGES_IN + METRIC_ORIGINS,
  METRIC_MESSAGES_OUT = METRIC_BYTES_IN + METRIC_ORIGINS, /* realtime */
  METRIC_BYTES_OUT,
  METRIC_CHANNELS_OPENED, /* announced by this node */
  METRIC_CHANNELS_CLOSED,
  METRIC_REQUESTS_SUCCEEDED, /* REST requests, by outcome */
  METRIC_REQUESTS_FAILED,
  METRIC_REQUESTS_REFUSED,
  METRIC_STORE_FAILURES, /* appends the store failed */
  METRIC_REDIS_COMMANDS, /* commands the redis engine sent (round trips) */
  METRIC_WEBHOOK_DELIVERED, /* webhook events a receiver took (2xx) */
  METRIC_WEBHOOK_FAILED,    /* webhook requests that failed */
  METRIC_WEBHOOK_DROPPED,   /* webhook events given up on */
  METRIC_COUNTERS
};

enum metric_histogram {
  METRIC_PUBLISH_LATENCY, /* a publish, from its start to its result */
  METRIC_STORE_LATENCY,   /* a store append, from the call to its result */
  METRIC_HISTOGRAMS
};

/* The histograms' upper bounds in microseconds; a last bucket (+Inf)
 * follows them. */
#define METRIC_BUCKETS 15
extern const int64_t metrics__bounds_us[METRIC_BUCKETS];

/* Makes the block (after counters__set_workers, before workers start). */
void metrics__init(void);
void metrics__cleanup(void);

void metrics__add(enum metric_counter id, int64_t v);
int64_t metrics__value(enum metric_counter id);

/* Counts one observation of us microseconds. */
void metrics__observe(enum metric_histogram h, int64_t us);

/* A histogram as it stands: counts[i] of bucket i (not cumulative; the
 * last is +Inf), the sum of the observations and how many there were. */
struct metric_snapshot {
  int64_t counts[METRIC_BUCKETS + 1];
  int64_t sum_us;
  int64_t count;
};
void metrics__histogram(enum metric_histogram h, struct metric_snapshot *out);

/* A monotonic clock in microseconds, for latencies. */
int64_t metrics__now_us(void);

#endif
