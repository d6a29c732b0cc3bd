/* publisher.c -- send schedule and settlement accounting (see
 * publisher.h). */
#include "publisher.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "peer.h"
#include "worker.h"

#define TICK_MS 1
#define NOT_YET UINT64_MAX

int publisher__init(struct publisher *pub, struct peer *peer, double rate,
                    double phase, size_t size) {
  memset(pub, 0, sizeof *pub);
  pub->peer = peer;
  pub->rate = rate;
  pub->phase = phase;
  pub->size = size;
  pub->measured_first = pub->measured_end = NOT_YET;
  pub->send_ns = herald_xcalloc(PUBLISHER_MAX_UNSETTLED, sizeof *pub->send_ns);
  pub->payload = herald_xmalloc(size);
  memset(pub->payload, 'x', size);
  return 0;
}

void publisher__cleanup(struct publisher *pub) {
  herald_free(pub->send_ns);
  herald_free(pub->payload);
  pub->send_ns = NULL;
  pub->payload = NULL;
}

struct span publisher__payload(struct publisher *pub, uint64_t send_ns) {
  char digits[24];
  int n = snprintf(digits, sizeof digits, "%" PRIu64 " ", send_ns);
  memcpy(pub->payload, digits, (size_t)n);
  return (struct span){pub->payload, pub->size};
}

uint64_t publisher__send_time(const struct publisher *pub, uint64_t n) {
  return pub->send_ns[n % PUBLISHER_MAX_UNSETTLED];
}

/* ---- Sending ------------------------------------------------------------- */

/* How many messages should have been sent by now: message n is due at
 * (n + phase) / rate after the start. */
static uint64_t due(const struct publisher *pub, uint64_t now) {
  if (pub->rate <= 0) return pub->settled + PUBLISHER_WINDOW;
  const struct bench_schedule *s = &pub->peer->worker->schedule;
  if (now < s->start_ns) return 0;
  double messages = (double)(now - s->start_ns) * pub->rate / 1e9;
  if (messages < pub->phase) return 0;
  return (uint64_t)(messages - pub->phase) + 1;
}

static void send_one(struct publisher *pub, uint64_t now) {
  struct worker *w = pub->peer->worker;
  uint64_t n = pub->next++;
  pub->send_ns[n % PUBLISHER_MAX_UNSETTLED] = now;
  if (now >= w->schedule.measure_from_ns) {
    if (pub->measured_first == NOT_YET) pub->measured_first = n;
    stat_add(&w->stats.sent, 1);
  }
  stat_add(&w->stats.sent_total, 1);
  pub->peer->ops->publish(pub->peer, n, publisher__payload(pub, now));
}

/* Ends publishing once the measured window is over. */
static void stop(struct publisher *pub) {
  pub->stopped = true;
  if (pub->measured_first == NOT_YET) pub->measured_first = pub->next;
  pub->measured_end = pub->next;
  uv_timer_stop(&pub->timer);
}

/* Sends every message due now (within the unsettled limit). */
static void send_due(struct publisher *pub) {
  if (pub->stopped || pub->peer->state != PEER_READY) return;
  uint64_t now = uv_hrtime();
  if (now >= pub->peer->worker->schedule.measure_until_ns) return stop(pub);
  uint64_t target = due(pub, now);
  uint64_t limit = pub->settled + PUBLISHER_MAX_UNSETTLED;
  if (target > limit) target = limit;
  if (pub->next >= target) return;
  while (pub->next < target) send_one(pub, now);
  pub->peer->ops->flush(pub->peer);
}

static void tick(uv_timer_t *timer) { send_due(timer->data); }

void publisher__start(struct publisher *pub) {
  struct worker *w = pub->peer->worker;
  uv_timer_init(&w->loop, &pub->timer);
  pub->timer.data = pub;
  pub->timer_started = true;
  uint64_t now = uv_hrtime();
  uint64_t start = w->schedule.start_ns;
  uint64_t delay_ms = start > now ? (start - now) / 1000000 : 0;
  uv_timer_start(&pub->timer, tick, delay_ms, TICK_MS);
}

void publisher__close(struct publisher *pub) {
  pub->stopped = true;
  if (pub->timer_started && !uv_is_closing((uv_handle_t *)&pub->timer))
    uv_close((uv_handle_t *)&pub->timer, NULL);
}

/* ---- Settling ------------------------------------------------------------ */

/* How many of [first, end) are in the measured window. */
static uint64_t measured_part(const struct publisher *pub, uint64_t first,
                              uint64_t end) {
  uint64_t from = pub->measured_first, until = pub->measured_end;
  if (first < from) first = from;
  if (end > until) end = until;
  return end > first ? end - first : 0;
}

void publisher__settled(struct publisher *pub, uint64_t first, uint64_t count,
                        bool ok) {
  uint64_t end = first + count;
  if (end > pub->next) end = pub->next; /* never sent: ignore */
  if (first < pub->settled) first = pub->settled;
  if (end <= first) return;
  struct worker *w = pub->peer->worker;
  uint64_t measured = measured_part(pub, first, end);
  stat_add(&w->stats.settled_total, end - first);
  if (ok) {
    uint32_t subscribers = atomic_load_explicit(
        &w->run->channel_subscribers[pub->peer->channel],
        memory_order_relaxed);
    stat_add(&w->stats.acked, measured);
    stat_add(&w->stats.expected, measured * subscribers);
  } else {
    stat_add(&w->stats.errors, end - first);
  }
  pub->settled = end;
  if (pub->rate <= 0) send_due(pub);
}
