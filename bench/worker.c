/* worker.c -- one load-generating thread (see worker.h). */
#include "worker.h"

#include <string.h>
#include <sys/resource.h>

#include "alloc.h"
#include "peer.h"
#include "protocol.h"
#include "publisher.h"

#define SWEEP_MS 500
#define CONNECT_TIMEOUT_NS (15ULL * 1000000000ULL)
#define STOP_GRACE_NS (2ULL * 1000000000ULL) /* then close without goodbye */

/* How many of total items, numbered round-robin over threads, are index's. */
static size_t share(int total, int threads, int index) {
  return (size_t)(total / threads + (index < total % threads ? 1 : 0));
}

static double thread_cpu_seconds(void) {
  struct rusage usage;
  getrusage(RUSAGE_THREAD, &usage);
  return (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* ---- Setting up ---------------------------------------------------------- */

static void wake_cb(uv_async_t *async);

/* Subscribers of this worker first: global subscriber i is the k-th of
 * worker i mod threads, on channel i mod channels; publishers likewise.
 * The n-th subscriber of a channel (n = i / channels) connects to node
 * (channel + n) mod nodes, and so does the n-th publisher: each channel's
 * subscribers and publishers are spread evenly over the nodes. Publisher
 * j's schedule is j / publishers messages behind the start (publisher.h). */
static int place_peers(struct worker *w, size_t n_subscribers,
                       size_t n_publishers) {
  const struct bench_options *opt = &w->run->opt;
  double rate = opt->publishers ? opt->rate / opt->publishers : 0;
  for (size_t k = 0; k < w->n_peers; k++) {
    struct peer *p = &w->peers[k];
    bool publishing = k >= n_subscribers;
    size_t global = (size_t)w->index +
                    (publishing ? k - n_subscribers : k) * (size_t)opt->threads;
    p->worker = w;
    p->channel = (uint32_t)(global % (size_t)opt->channels);
    p->node = &w->run->nodes[(p->channel + global / (size_t)opt->channels) %
                             (size_t)w->run->n_nodes];
    p->ops = publishing ? w->run->protocol->publisher
                        : w->run->protocol->subscriber;
    if (!publishing) continue;
    p->publisher = &w->publishers[k - n_subscribers];
    if (publisher__init(p->publisher, p, rate,
                        (double)global / opt->publishers, (size_t)opt->size))
      return -1;
  }
  return 0;
}

int worker__init(struct worker *w, struct bench_run *run, int index) {
  memset(w, 0, sizeof *w);
  w->index = index;
  w->run = run;
  const struct bench_options *opt = &run->opt;
  size_t n_subscribers = share(opt->subscribers, opt->threads, index);
  w->n_publishers = opt->idle ? 0 : share(opt->publishers, opt->threads, index);
  w->n_peers = n_subscribers + w->n_publishers;
  w->peers = herald_xcalloc(w->n_peers, sizeof *w->peers);
  w->publishers = herald_xcalloc(w->n_publishers, sizeof *w->publishers);
  histogram__init(&w->latency);
  if (ably__init(&w->codec, run->protocol->format) ||
      place_peers(w, n_subscribers, w->n_publishers))
    return -1;
  uv_loop_init(&w->loop);
  w->loop_ready = true;
  uv_async_init(&w->loop, &w->wake, wake_cb);
  uv_timer_init(&w->loop, &w->sweep_timer);
  uv_timer_init(&w->loop, &w->cpu_timer);
  w->wake.data = w->sweep_timer.data = w->cpu_timer.data = w;
  return 0;
}

/* ---- Connecting ---------------------------------------------------------- */

/* Opens peers in order while fewer than this worker's share of
 * --connect-concurrency are being set up. */
static void open_next(struct worker *w) {
  if (w->opening) return;
  w->opening = true;
  int concurrency = w->run->opt.connect_concurrency / w->run->opt.threads;
  size_t limit = concurrency > 0 ? (size_t)concurrency : 1;
  while (!w->stopping && w->connecting < limit &&
         w->next_to_open < w->n_peers) {
    struct peer *p = &w->peers[w->next_to_open++];
    p->state = PEER_CONNECTING;
    p->opened_ns = uv_hrtime();
    w->connecting++;
    w->open_transports++;
    p->ops->open(p);
  }
  w->opening = false;
}

void worker__connection_settled(struct worker *w) {
  w->connecting--;
  stat_add(&w->stats.connections_settled, 1);
  open_next(w);
}

static void fail_slow_connections(struct worker *w, uint64_t now) {
  for (size_t i = 0; i < w->next_to_open; i++) {
    struct peer *p = &w->peers[i];
    if (p->state == PEER_CONNECTING && now - p->opened_ns > CONNECT_TIMEOUT_NS)
      peer__fail(p, "set-up timed out");
  }
}

/* ---- Running and stopping ------------------------------------------------ */

static void close_handle(uv_handle_t *handle) {
  if (!uv_is_closing(handle)) uv_close(handle, NULL);
}

/* Ends the loop once every connection is closed. */
static void finish_if_closed(struct worker *w) {
  if (!w->stopping || w->open_transports) return;
  close_handle((uv_handle_t *)&w->wake);
  close_handle((uv_handle_t *)&w->sweep_timer);
  close_handle((uv_handle_t *)&w->cpu_timer);
}

void worker__transport_closed(struct worker *w) {
  w->open_transports--;
  finish_if_closed(w);
}

/* Closes what has not said goodbye within STOP_GRACE_NS. */
static void close_stragglers(struct worker *w) {
  for (size_t i = 0; i < w->next_to_open; i++)
    tcp_client__close(peer__tcp(&w->peers[i]));
}

static void sweep_cb(uv_timer_t *timer) {
  struct worker *w = timer->data;
  uint64_t now = uv_hrtime();
  if (!w->stopping) return fail_slow_connections(w, now);
  if (now - w->stop_ns > STOP_GRACE_NS) close_stragglers(w);
}

/* Fires at the start of the measured window, then at its end; a busy loop
 * may run it late, so the wall time between the samples is taken too. */
static void cpu_cb(uv_timer_t *timer) {
  struct worker *w = timer->data;
  uint64_t now = uv_hrtime();
  if (!w->cpu_window_started) {
    w->cpu_window_started = true;
    w->cpu_from_s = thread_cpu_seconds();
    w->cpu_from_ns = now;
    uint64_t until = w->schedule.measure_until_ns;
    uv_timer_start(timer, cpu_cb, until > now ? (until - now) / 1000000 : 0,
                   0);
    return;
  }
  w->cpu_cores = (thread_cpu_seconds() - w->cpu_from_s) /
                 ((double)(now - w->cpu_from_ns) / 1e9);
}

static void go(struct worker *w) {
  w->schedule = w->run->schedule;
  for (size_t i = 0; i < w->n_publishers; i++)
    if (w->publishers[i].peer->state == PEER_READY)
      publisher__start(&w->publishers[i]);
  uint64_t now = uv_hrtime(), from = w->schedule.measure_from_ns;
  uv_timer_start(&w->cpu_timer, cpu_cb,
                 from > now ? (from - now) / 1000000 : 0, 0);
}

static void stop(struct worker *w) {
  w->stopping = true;
  w->stop_ns = uv_hrtime();
  for (size_t i = 0; i < w->n_publishers; i++)
    publisher__close(&w->publishers[i]);
  for (size_t i = 0; i < w->next_to_open; i++) {
    struct peer *p = &w->peers[i];
    if (p->state != PEER_CONNECTING && p->state != PEER_READY) continue;
    p->state = PEER_CLOSING;
    p->ops->close(p);
  }
  finish_if_closed(w);
}

static void wake_cb(uv_async_t *async) {
  struct worker *w = async->data;
  int command = atomic_load_explicit(&w->command, memory_order_acquire);
  if (command >= WORKER_GO && w->command_done < WORKER_GO) go(w);
  if (command >= WORKER_STOP && w->command_done < WORKER_STOP) stop(w);
  w->command_done = command;
}

/* ---- The thread ---------------------------------------------------------- */

static void thread_main(void *arg) {
  struct worker *w = arg;
  open_next(w);
  uv_timer_start(&w->sweep_timer, sweep_cb, SWEEP_MS, SWEEP_MS);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  atomic_store_explicit(&w->finished, true, memory_order_release);
}

int worker__start(struct worker *w) {
  return uv_thread_create(&w->thread, thread_main, w);
}

void worker__command(struct worker *w, enum worker_command command) {
  atomic_store_explicit(&w->command, (int)command, memory_order_release);
  uv_async_send(&w->wake);
}

void worker__join(struct worker *w) { uv_thread_join(&w->thread); }

void worker__cleanup(struct worker *w) {
  for (size_t i = 0; i < w->n_publishers; i++)
    publisher__cleanup(&w->publishers[i]);
  herald_free(w->publishers);
  herald_free(w->peers);
  ably__cleanup(&w->codec);
  if (w->loop_ready) uv_loop_close(&w->loop);
}
