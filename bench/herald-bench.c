/* herald-bench.c -- the load generator of `make bench`: opens subscriber
 * and publisher connections to Herald (Ably realtime protocol, JSON or
 * MessagePack; SSE) or to nchan (WebSocket or EventSource subscribers, HTTP
 * publishers), publishes at a fixed rate for a bounded time, and prints one
 * JSON object: messages delivered per second, end-to-end latency
 * percentiles, connection set-up rate, errors, and its own CPU use.
 *
 * This file holds the run's phases (connect, publish with a warm-up then
 * the measured window, drain, stop) as seen from the main thread, and the
 * report. The command line is options.c; the connections live on --threads
 * worker threads (worker.c), one libuv loop each.
 *
 * Examples (servers started separately; see docs/benchmarks.md):
 *   herald-bench --server herald --protocol ably-msgpack --port 8080 \
 *       --key bench.root:secret --subscribers 1000 --rate 500 --duration 5
 *   herald-bench --server nchan --protocol nchan-ws --port 8081 \
 *       --subscribers 1000 --rate 500 --duration 5 --threads 2
 *   herald-bench --server nchan --protocol nchan-sse --port 8081 \
 *       --subscribers 10000 --idle --duration 10
 *   herald-bench --server herald --protocol ably-json --port 8080,8082,8084 \
 *       --key bench.root:secret --subscribers 3000 --channels 10 \
 *       --publishers 30 --rate 1000 --duration 5   (three nodes of a cluster)
 * Exit status: 0 after a run, 1 when the run could not be set up (bad
 * options, a publisher or every subscriber failed to connect) or was
 * interrupted; the JSON object is printed in every case once connecting
 * started.
 *
 * Owns: the run (struct bench_run), the workers array and the main loop. */
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "alloc.h"
#include "bench.h"
#include "histogram.h"
#include "options.h"
#include "protocol.h"
#include "worker.h"

#define NS_PER_S 1000000000ULL
#define TICK_MS 20
#define START_DELAY_NS (100ULL * 1000000ULL)
#define DRAIN_QUIET_NS (2ULL * NS_PER_S)    /* nothing delivered: give up */
#define DRAIN_MIN_LIMIT_NS (10ULL * NS_PER_S) /* or the duration, if longer */
#define BUSY_THREAD_CORES 0.85 /* a worker this busy may limit the run */

/* ---- Preparing the run --------------------------------------------------- */

/* Loopback only: the tool must never load someone else's server. One node
 * per --port, all on the one host. */
static int resolve_loopback(struct bench_run *run) {
  const char *host = run->opt.host;
  bool v4 = !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost");
  if (!v4 && strcmp(host, "::1"))
    return bench__refuse("--host must be 127.0.0.1, ::1 or localhost");
  run->n_nodes = run->opt.ports.n;
  for (int i = 0; i < run->n_nodes; i++) {
    struct bench_node *node = &run->nodes[i];
    int port = run->opt.ports.port[i], rc;
    if (v4) {
      rc = uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)&node->addr);
      snprintf(node->host_header, sizeof node->host_header, "%s:%d", host,
               port);
    } else {
      rc = uv_ip6_addr("::1", port, (struct sockaddr_in6 *)&node->addr);
      snprintf(node->host_header, sizeof node->host_header, "[::1]:%d", port);
    }
    if (rc) return bench__refuse("bad address");
  }
  return 0;
}

/* Percent-encodes the key for query strings (RFC 3986 unreserved kept). */
static int escape_key(struct bench_run *run) {
  static const char hex[] = "0123456789ABCDEF";
  const char *key = run->opt.key ? run->opt.key : "";
  size_t n = 0, size = sizeof run->key_escaped;
  for (const unsigned char *c = (const unsigned char *)key; *c; c++) {
    if (n + 4 > size) return bench__refuse("--key is too long");
    if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
        (*c >= '0' && *c <= '9') || strchr("-._~", *c)) {
      run->key_escaped[n++] = (char)*c;
    } else {
      run->key_escaped[n++] = '%';
      run->key_escaped[n++] = hex[*c >> 4];
      run->key_escaped[n++] = hex[*c & 15];
    }
  }
  run->key_escaped[n] = '\0';
  return 0;
}

/* Raises the open-file limit to the hard limit; warns if that is short of
 * what the run needs. */
static void raise_file_limit(const struct bench_options *opt) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit)) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  rlim_t needed = (rlim_t)opt->subscribers + (rlim_t)opt->publishers + 64;
  if (limit.rlim_cur < needed)
    fprintf(stderr,
            "herald-bench: open-file limit %llu is below the %llu this run "
            "needs\n",
            (unsigned long long)limit.rlim_cur, (unsigned long long)needed);
}

static int prepare_run(struct bench_run *run) {
  if (options__check(&run->opt) || resolve_loopback(run) || escape_key(run))
    return -1;
  run->protocol = protocol__find(run->opt.server, run->opt.protocol_name);
  if (!run->protocol) {
    fprintf(stderr, "herald-bench: no protocol %s for server %s; known:\n",
            run->opt.protocol_name, run->opt.server);
    protocol__list(stderr);
    return -1;
  }
  if (run->opt.idle) run->opt.publishers = 0;
  run->channel_subscribers =
      herald_xcalloc((size_t)run->opt.channels, sizeof(_Atomic uint32_t));
  return 0;
}

/* ---- The run, from the main thread --------------------------------------- */

enum phase { PHASE_CONNECTING, PHASE_RUNNING, PHASE_DRAINING, PHASE_STOPPING };

struct totals {
  uint64_t subscribers_ready, publishers_ready, connect_errors, settled;
  uint64_t sent, acked, expected, delivered, sent_total, settled_total;
  uint64_t errors, disconnects, publisher_reconnects, last_delivery_ns;
};

struct controller {
  struct bench_run run;
  struct worker *workers;
  int n_workers;
  uv_loop_t *loop;
  uv_timer_t tick;
  uv_signal_t interrupt;
  enum phase phase;
  bool setup_failed;
  bool interrupted;
  bool window_started, window_ended;
  uint64_t connect_start_ns, connect_end_ns;
  uint64_t drain_start_ns, last_progress_ns, last_delivered;
  uint64_t quiet_since_ns;
  struct rusage usage_from, usage_until;
};

static void sum_stats(struct controller *c, struct totals *t) {
  memset(t, 0, sizeof *t);
  for (int i = 0; i < c->n_workers; i++) {
    struct bench_stats *s = &c->workers[i].stats;
    t->subscribers_ready += stat_get(&s->subscribers_ready);
    t->publishers_ready += stat_get(&s->publishers_ready);
    t->connect_errors += stat_get(&s->connect_errors);
    t->settled += stat_get(&s->connections_settled);
    t->sent += stat_get(&s->sent);
    t->acked += stat_get(&s->acked);
    t->expected += stat_get(&s->expected);
    t->delivered += stat_get(&s->delivered);
    t->sent_total += stat_get(&s->sent_total);
    t->settled_total += stat_get(&s->settled_total);
    t->errors += stat_get(&s->errors);
    t->disconnects += stat_get(&s->disconnects);
    t->publisher_reconnects += stat_get(&s->publisher_reconnects);
    uint64_t last = stat_get(&s->last_delivery_ns);
    if (last > t->last_delivery_ns) t->last_delivery_ns = last;
  }
}

static void command_all(struct controller *c, enum worker_command command) {
  for (int i = 0; i < c->n_workers; i++)
    worker__command(&c->workers[i], command);
}

static void enter_stopping(struct controller *c) {
  c->phase = PHASE_STOPPING;
  command_all(c, WORKER_STOP);
}

static bool progress_due(struct controller *c, uint64_t now) {
  if (now - c->last_progress_ns < NS_PER_S) return false;
  c->last_progress_ns = now;
  return true;
}

/* Checks that enough connected to make the run meaningful. */
static bool connections_usable(struct controller *c, const struct totals *t) {
  const struct bench_options *opt = &c->run.opt;
  if (t->publishers_ready < (uint64_t)opt->publishers) {
    fprintf(stderr, "herald-bench: only %" PRIu64 " of %d publishers "
            "connected\n", t->publishers_ready, opt->publishers);
    return false;
  }
  if (opt->subscribers > 0 && !t->subscribers_ready) {
    fprintf(stderr, "herald-bench: no subscriber connected (see above)\n");
    return false;
  }
  return true;
}

/* All connections settled: fix the schedule and tell the workers to go. */
static void start_publishing(struct controller *c, uint64_t now) {
  const struct bench_options *opt = &c->run.opt;
  struct bench_schedule *s = &c->run.schedule;
  s->start_ns = now + START_DELAY_NS;
  s->measure_from_ns =
      s->start_ns + (opt->idle ? 0 : (uint64_t)(opt->warmup_s * NS_PER_S));
  s->measure_until_ns =
      s->measure_from_ns + (uint64_t)(opt->duration_s * NS_PER_S);
  command_all(c, WORKER_GO); /* its release store publishes the schedule */
  c->phase = PHASE_RUNNING;
  fprintf(stderr, "herald-bench: %s; %s %.0f s\n",
          opt->idle ? "all connected" : "publishing",
          opt->idle ? "holding for" : "measuring after a warm-up, for",
          opt->duration_s);
}

static void while_connecting(struct controller *c, uint64_t now,
                             const struct totals *t) {
  uint64_t total = (uint64_t)c->run.opt.subscribers +
                   (uint64_t)c->run.opt.publishers;
  if (t->settled < total) {
    if (progress_due(c, now))
      fprintf(stderr, "herald-bench: connecting: %" PRIu64 " of %" PRIu64
              " ready, %" PRIu64 " failed\n",
              t->subscribers_ready + t->publishers_ready, total,
              t->connect_errors);
    return;
  }
  c->connect_end_ns = now;
  fprintf(stderr, "herald-bench: %" PRIu64 " subscribers and %" PRIu64
          " publishers connected in %.2f s, %" PRIu64 " failed\n",
          t->subscribers_ready, t->publishers_ready,
          (double)(now - c->connect_start_ns) / NS_PER_S, t->connect_errors);
  if (!connections_usable(c, t)) {
    c->setup_failed = true;
    return enter_stopping(c);
  }
  start_publishing(c, now);
}

static void print_progress(const struct controller *c,
                           const struct totals *t) {
  if (c->run.opt.idle)
    fprintf(stderr, "herald-bench: holding %" PRIu64 " connections, %" PRIu64
            " lost\n", t->subscribers_ready - t->disconnects, t->disconnects);
  else
    fprintf(stderr, "herald-bench: measured: sent %" PRIu64 ", delivered %"
            PRIu64 "; %" PRIu64 " errors, %" PRIu64 " disconnects\n",
            t->sent, t->delivered, t->errors, t->disconnects);
}

static void while_running(struct controller *c, uint64_t now,
                          const struct totals *t) {
  const struct bench_schedule *s = &c->run.schedule;
  if (!c->window_started && now >= s->measure_from_ns) {
    getrusage(RUSAGE_SELF, &c->usage_from);
    c->window_started = true;
  }
  if (progress_due(c, now)) print_progress(c, t);
  if (now < s->measure_until_ns) return;
  getrusage(RUSAGE_SELF, &c->usage_until);
  c->window_ended = true;
  if (c->run.opt.idle) return enter_stopping(c);
  c->phase = PHASE_DRAINING;
  c->drain_start_ns = c->quiet_since_ns = now;
  c->last_delivered = t->delivered;
}

/* After publishing: wait for the last acks and deliveries, but not for
 * ever: a saturated server may never catch up. */
static void while_draining(struct controller *c, uint64_t now,
                           const struct totals *t) {
  if (t->delivered != c->last_delivered) {
    c->last_delivered = t->delivered;
    c->quiet_since_ns = now;
  }
  bool all_settled = t->settled_total >= t->sent_total;
  uint64_t limit = (uint64_t)(c->run.opt.duration_s * NS_PER_S);
  if (limit < DRAIN_MIN_LIMIT_NS) limit = DRAIN_MIN_LIMIT_NS;
  bool complete = all_settled && t->delivered >= t->expected;
  bool quiet = now - c->quiet_since_ns > DRAIN_QUIET_NS &&
               (all_settled || now - c->drain_start_ns > 2 * DRAIN_QUIET_NS);
  if (complete || quiet || now - c->drain_start_ns > limit)
    enter_stopping(c);
}

static bool workers_finished(struct controller *c) {
  for (int i = 0; i < c->n_workers; i++)
    if (!atomic_load_explicit(&c->workers[i].finished, memory_order_acquire))
      return false;
  return true;
}

static void tick_cb(uv_timer_t *timer) {
  struct controller *c = timer->data;
  uint64_t now = uv_hrtime();
  struct totals t;
  sum_stats(c, &t);
  switch (c->phase) {
    case PHASE_CONNECTING:
      return while_connecting(c, now, &t);
    case PHASE_RUNNING:
      return while_running(c, now, &t);
    case PHASE_DRAINING:
      return while_draining(c, now, &t);
    case PHASE_STOPPING:
      if (!workers_finished(c)) return;
      uv_close((uv_handle_t *)&c->tick, NULL);
      uv_close((uv_handle_t *)&c->interrupt, NULL);
  }
}

static void interrupt_cb(uv_signal_t *signal, int signum) {
  struct controller *c = signal->data;
  if (c->phase == PHASE_STOPPING) return;
  fprintf(stderr, "herald-bench: interrupted, stopping\n");
  c->interrupted = true;
  enter_stopping(c);
}

static int start_workers(struct controller *c) {
  c->n_workers = c->run.opt.threads;
  c->workers = herald_xcalloc((size_t)c->n_workers, sizeof *c->workers);
  for (int i = 0; i < c->n_workers; i++)
    if (worker__init(&c->workers[i], &c->run, i))
      return bench__refuse("out of memory");
  c->connect_start_ns = c->last_progress_ns = uv_hrtime();
  for (int i = 0; i < c->n_workers; i++)
    if (worker__start(&c->workers[i])) return bench__refuse("cannot start threads");
  return 0;
}

static void run_phases(struct controller *c) {
  c->loop = uv_default_loop();
  uv_timer_init(c->loop, &c->tick);
  c->tick.data = c;
  uv_timer_start(&c->tick, tick_cb, TICK_MS, TICK_MS);
  uv_signal_init(c->loop, &c->interrupt);
  c->interrupt.data = c;
  uv_signal_start(&c->interrupt, interrupt_cb, SIGINT);
  uv_run(c->loop, UV_RUN_DEFAULT);
  for (int i = 0; i < c->n_workers; i++) worker__join(&c->workers[i]);
}

/* ---- Report -------------------------------------------------------------- */

static double seconds(struct timeval tv) {
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void print_cpu(const struct controller *c) {
  const struct bench_schedule *s = &c->run.schedule;
  double user = 0, sys = 0, busiest = 0;
  double wall = (double)(s->measure_until_ns - s->measure_from_ns) / NS_PER_S;
  if (c->window_started && c->window_ended) {
    user = seconds(c->usage_until.ru_utime) - seconds(c->usage_from.ru_utime);
    sys = seconds(c->usage_until.ru_stime) - seconds(c->usage_from.ru_stime);
  }
  for (int i = 0; i < c->n_workers; i++)
    if (c->workers[i].cpu_cores > busiest) busiest = c->workers[i].cpu_cores;
  if (wall <= 0) wall = 1;
  if (busiest > BUSY_THREAD_CORES)
    fprintf(stderr, "herald-bench: a thread was busy %.0f%% of the measured "
            "window: the client may have been the bottleneck (more "
            "--threads, or fewer connections per thread)\n", busiest * 100);
  printf("\"cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"cores\":%.3f,"
         "\"threads\":%d,\"busiest_thread_cores\":%.3f}",
         user, sys, (user + sys) / wall, c->n_workers, busiest);
}

static void print_latency(const struct histogram *h) {
  printf("\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
         ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "},",
         histogram__percentile(h, 50), histogram__percentile(h, 90),
         histogram__percentile(h, 99), histogram__percentile(h, 99.9),
         h->max_us);
}

/* Delivered per second over the measured window, stretched to the last
 * measured delivery when the server delivered late. */
static double delivered_per_s(const struct controller *c,
                              const struct totals *t) {
  const struct bench_schedule *s = &c->run.schedule;
  if (!t->delivered) return 0;
  uint64_t end = s->measure_until_ns;
  if (t->last_delivery_ns > end) end = t->last_delivery_ns;
  return (double)t->delivered / ((double)(end - s->measure_from_ns) / NS_PER_S);
}

static void report(struct controller *c) {
  const struct bench_options *opt = &c->run.opt;
  struct totals t;
  sum_stats(c, &t);
  struct histogram *latency = herald_xmalloc(sizeof *latency);
  histogram__init(latency);
  for (int i = 0; i < c->n_workers; i++)
    histogram__merge(latency, &c->workers[i].latency);
  uint64_t connect_ns = c->connect_end_ns > c->connect_start_ns
                            ? c->connect_end_ns - c->connect_start_ns
                            : 1;
  printf("{\"server\":\"%s\",\"protocol\":\"%s\",\"nodes\":%d,"
         "\"subscribers\":%d,\"channels\":%d,\"publishers\":%d,"
         "\"rate_target\":%g,",
         opt->server, opt->protocol_name, c->run.n_nodes, opt->subscribers,
         opt->channels, opt->publishers, opt->idle ? 0 : opt->rate);
  printf("\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"delivered\":%" PRIu64
         ",\"expected\":%" PRIu64 ",\"lost\":%" PRIu64
         ",\"delivered_per_s\":%.1f,",
         t.sent, t.acked, t.delivered, t.expected,
         t.expected > t.delivered ? t.expected - t.delivered : 0,
         delivered_per_s(c, &t));
  print_latency(latency);
  printf("\"connect_per_s\":%.1f,\"connect_errors\":%" PRIu64
         ",\"errors\":%" PRIu64 ",\"disconnects\":%" PRIu64 ",",
         (double)(t.subscribers_ready + t.publishers_ready) /
             ((double)connect_ns / NS_PER_S),
         t.connect_errors, t.errors, t.disconnects);
  printf("\"subscribers_connected\":%" PRIu64 ",\"publisher_reconnects\":%"
         PRIu64 ",", t.subscribers_ready, t.publisher_reconnects);
  print_cpu(c);
  printf("}\n");
  fflush(stdout);
  herald_free(latency);
}

static void cleanup(struct controller *c) {
  for (int i = 0; c->workers && i < c->n_workers; i++)
    worker__cleanup(&c->workers[i]);
  herald_free(c->workers);
  herald_free(c->run.channel_subscribers);
}

int main(int argc, char **argv) {
  static struct controller c;
  int parsed = options__parse(argc, argv, &c.run.opt);
  if (parsed) {
    options__usage(parsed > 0 ? stdout : stderr);
    return parsed > 0 ? 0 : 1;
  }
  signal(SIGPIPE, SIG_IGN);
  if (prepare_run(&c.run)) return 1;
  raise_file_limit(&c.run.opt);
  if (start_workers(&c)) return 1;
  run_phases(&c);
  report(&c);
  cleanup(&c);
  return c.setup_failed || c.interrupted ? 1 : 0;
}
