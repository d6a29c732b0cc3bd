/* bench.h -- what the parts of herald-bench share: the options of a run,
 * the schedule the main thread hands to the workers, and the counters each
 * worker keeps for main to read while it runs.
 * Owns: nothing (struct bench_run is main's, struct bench_stats a
 * worker's). */
#ifndef HERALD_BENCH_BENCH_H
#define HERALD_BENCH_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct protocol;

/* Most server nodes one run spreads its connections over. */
#define BENCH_MAX_NODES 16

/* --port P[,P...]: one port per server node on the loopback host. */
struct bench_ports {
  int port[BENCH_MAX_NODES];
  int n;
};

struct bench_options {
  const char *server; /* "herald" or "nchan" */
  const char *protocol_name;
  const char *host;
  const char *key; /* herald: appId.keyId:secret */
  struct bench_ports ports;
  int subscribers;
  int channels;
  int publishers;
  int threads;
  int size; /* payload bytes */
  int connect_concurrency;
  double rate; /* messages/s over all publishers; 0: as fast as acks allow */
  double duration_s;
  double warmup_s;
  bool idle;
};

/* Publishing times in uv_hrtime() nanoseconds (CLOCK_MONOTONIC). A message
 * is measured when its send time is in [measure_from_ns, measure_until_ns):
 * the send time travels in the payload, so a receiver decides by itself. */
struct bench_schedule {
  uint64_t start_ns;
  uint64_t measure_from_ns;
  uint64_t measure_until_ns;
};

/* A server node: the address connections to it go to. */
struct bench_node {
  struct sockaddr_storage addr;
  char host_header[80]; /* host:port, for Host headers */
};

/* Everything fixed before the workers start, plus the schedule (written by
 * main before it sends GO, read by workers after) and the number of ready
 * subscribers per channel (counted while connecting, fixed from GO on). */
struct bench_run {
  struct bench_options opt;
  const struct protocol *protocol;
  struct bench_node nodes[BENCH_MAX_NODES]; /* one per --port */
  int n_nodes;
  char key_escaped[256]; /* opt.key, percent-encoded for query strings */
  struct bench_schedule schedule;
  _Atomic uint32_t *channel_subscribers;
};

/* A worker's counters. Only its thread writes them; main reads them while
 * the run goes on. Relaxed atomics make both sides see whole values at the
 * cost of a plain load and store (see stat_add). "Measured" counters cover
 * messages sent inside the schedule's measured window. */
struct bench_stats {
  _Atomic uint64_t subscribers_ready;
  _Atomic uint64_t publishers_ready;
  _Atomic uint64_t connect_errors;
  _Atomic uint64_t connections_settled; /* ready or failed */
  _Atomic uint64_t sent;                /* measured */
  _Atomic uint64_t acked;               /* measured */
  _Atomic uint64_t expected;            /* measured acked x subscribers */
  _Atomic uint64_t delivered;           /* measured */
  _Atomic uint64_t sent_total;          /* including the warm-up */
  _Atomic uint64_t settled_total;       /* acked or refused, all */
  _Atomic uint64_t errors;
  _Atomic uint64_t disconnects;
  _Atomic uint64_t publisher_reconnects;
  _Atomic uint64_t last_delivery_ns; /* of a measured message */
};

/* Adds n to a counter only the calling thread writes. */
static inline void stat_add(_Atomic uint64_t *counter, uint64_t n) {
  atomic_store_explicit(
      counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
      memory_order_relaxed);
}

static inline void stat_set(_Atomic uint64_t *counter, uint64_t value) {
  atomic_store_explicit(counter, value, memory_order_relaxed);
}

static inline uint64_t stat_get(_Atomic uint64_t *counter) {
  return atomic_load_explicit(counter, memory_order_relaxed);
}

/* Prints "herald-bench: why" on stderr and returns -1, for setup errors. */
int bench__refuse(const char *why);

/* Prints a problem on stderr, at most a few times per kind of problem so a
 * failing run does not flood the terminal. kind is a static string. */
void bench__warn(const char *kind, const char *detail);

#endif
