/* peer.c -- the events of a connection and what they count (see peer.h). */
#include "peer.h"

#include <stdio.h>

#include "publisher.h"
#include "worker.h"

void peer__channel_name(const struct peer *p, char *buf, size_t size) {
  snprintf(buf, size, "bench-%u", p->channel);
}

void peer__ready(struct peer *p) {
  if (p->state != PEER_CONNECTING) return;
  struct worker *w = p->worker;
  p->state = PEER_READY;
  p->connected = true;
  if (p->publisher) {
    stat_add(&w->stats.publishers_ready, 1);
  } else {
    stat_add(&w->stats.subscribers_ready, 1);
    atomic_fetch_add_explicit(&w->run->channel_subscribers[p->channel], 1,
                              memory_order_relaxed);
  }
  worker__connection_settled(w);
}

void peer__fail(struct peer *p, const char *why) {
  if (!p->fail_why) p->fail_why = why;
  tcp_client__close(peer__tcp(p));
}

void peer__closed(struct peer *p, const char *why) {
  struct worker *w = p->worker;
  if (!why) why = p->fail_why;
  p->connected = false;
  if (p->state == PEER_CONNECTING) {
    p->state = PEER_FAILED;
    stat_add(&w->stats.connect_errors, 1);
    bench__warn("connection set-up failed", why);
    worker__connection_settled(w);
  } else {
    if (p->state == PEER_READY && !w->stopping) {
      stat_add(&w->stats.disconnects, 1);
      bench__warn("connection lost", why);
    }
    if (p->state != PEER_FAILED) p->state = PEER_CLOSED;
  }
  worker__transport_closed(w);
}

/* Reads the send time at the start of a payload; 0 when there is none. */
static uint64_t send_time(struct span payload) {
  uint64_t ns = 0;
  for (size_t i = 0; i < payload.len && i < 20; i++) {
    char c = payload.p[i];
    if (c < '0' || c > '9') break;
    ns = ns * 10 + (uint64_t)(c - '0');
  }
  return ns;
}

void peer__deliver(struct peer *p, struct span payload, uint64_t recv_ns) {
  struct worker *w = p->worker;
  uint64_t sent_ns = send_time(payload);
  if (!sent_ns) return peer__error(p, "payload without a send time", NULL);
  if (sent_ns < w->schedule.measure_from_ns ||
      sent_ns >= w->schedule.measure_until_ns)
    return; /* warm-up, or an older run's message replayed by the server */
  stat_add(&w->stats.delivered, 1);
  histogram__record(&w->latency,
                    recv_ns > sent_ns ? (recv_ns - sent_ns) / 1000 : 0);
  if (recv_ns > stat_get(&w->stats.last_delivery_ns))
    stat_set(&w->stats.last_delivery_ns, recv_ns);
}

void peer__settled(struct peer *p, uint64_t first_serial, uint64_t count,
                   bool ok) {
  if (p->publisher) publisher__settled(p->publisher, first_serial, count, ok);
}

void peer__error(struct peer *p, const char *kind, const char *detail) {
  stat_add(&p->worker->stats.errors, 1);
  bench__warn(kind, detail);
}
