/* worker.h -- one load-generating thread: its own libuv loop and its share
 * of the run's connections (connection i belongs to worker i mod threads),
 * which it opens a few at a time, drives through the run and closes. Main
 * steers it with three commands (connect is implicit at start, then GO and
 * STOP) and reads its counters (struct bench_stats) while it runs; the
 * latency histogram and CPU time are read after the thread has ended.
 * Owns: the loop, the peers, the publishers, the Ably codec, the histogram
 * and the counters. */
#ifndef HERALD_BENCH_WORKER_H
#define HERALD_BENCH_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "ably.h"
#include "bench.h"
#include "histogram.h"

struct peer;
struct publisher;

enum worker_command {
  WORKER_CONNECT = 0, /* the state a worker starts in */
  WORKER_GO = 1,      /* run->schedule is set: publish */
  WORKER_STOP = 2,    /* close everything and end the thread */
};

struct worker {
  int index;
  struct bench_run *run;
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t sweep_timer; /* connect timeouts; the end of a stop */
  uv_timer_t cpu_timer;   /* samples this thread's CPU time */
  uv_thread_t thread;
  struct peer *peers; /* subscribers first, then publishers */
  size_t n_peers;
  struct publisher *publishers;
  size_t n_publishers;
  size_t next_to_open;
  size_t connecting;
  size_t open_transports;
  bool loop_ready;
  bool opening; /* inside open_next: do not re-enter */
  bool stopping;
  uint64_t stop_ns;
  struct bench_schedule schedule; /* copied from run at GO; zero before */
  struct ably_codec codec;
  struct histogram latency;
  struct bench_stats stats;
  bool cpu_window_started;
  double cpu_from_s;   /* this thread's CPU seconds at the window's start */
  uint64_t cpu_from_ns; /* when they were taken */
  double cpu_cores;     /* CPU seconds per second over the window */
  int command_done;
  _Atomic int command;
  _Atomic bool finished; /* the loop has ended */
};

/* Sets up worker index of the run with its share of the connections.
 * Returns 0 or -1 (out of memory). */
int worker__init(struct worker *w, struct bench_run *run, int index);

/* Starts the thread, which starts connecting. Returns 0 or a libuv error. */
int worker__start(struct worker *w);

/* From main: moves the worker on to command (GO, STOP). */
void worker__command(struct worker *w, enum worker_command command);

/* From main: waits for the thread to end. */
void worker__join(struct worker *w);

/* Frees everything (after the thread has ended). */
void worker__cleanup(struct worker *w);

/* From peers: a connection is set up or failed (frees a connect slot). */
void worker__connection_settled(struct worker *w);

/* From peers: a transport has closed. */
void worker__transport_closed(struct worker *w);

#endif
