/* peer.h -- one connection of a run, subscriber or publisher, whatever the
 * protocol: its state, its transport, and the events protocol code reports
 * about it (ready, delivery, settled publish, error, closed), which update
 * its worker's counters and latency histogram.
 * A protocol is a set of struct peer_ops (protocol.h); a variant overrides
 * entries, e.g. the SSE subscriber of nchan and of Herald differ in target.
 * Owns: the transport (embedded) and, for SSE, the event parser. A
 * publisher's schedule is struct publisher (publisher.h), which points back
 * here. */
#ifndef HERALD_BENCH_PEER_H
#define HERALD_BENCH_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "buf.h"
#include "http_client.h"
#include "sse.h"
#include "ws_client.h"

struct peer;
struct worker;
struct publisher;

enum peer_state {
  PEER_WAITING,    /* not opened yet */
  PEER_CONNECTING, /* until ready: connected, upgraded, attached */
  PEER_READY,
  PEER_FAILED,  /* never became ready; its transport is closed */
  PEER_CLOSING, /* closed by the run's end */
  PEER_CLOSED,
};

struct peer_ops {
  /* Starts connecting. Ends in peer__ready, or peer__closed when the
   * connection cannot be set up. */
  void (*open)(struct peer *p);
  /* Publishers: queues the message numbered serial (0, 1, ...) carrying
   * payload; flush sends what is queued. */
  void (*publish)(struct peer *p, uint64_t serial, struct span payload);
  void (*flush)(struct peer *p);
  /* Says goodbye where the protocol has one and closes; peer__closed
   * follows. */
  void (*close)(struct peer *p);
  /* Writes the request target (path and query) into buf. */
  void (*target)(const struct peer *p, char *buf, size_t size);
};

struct peer {
  const struct peer_ops *ops;
  struct worker *worker;
  struct publisher *publisher; /* NULL for a subscriber */
  enum peer_state state;
  uint32_t channel;
  const struct bench_node *node; /* the server node it connects to */
  bool connected; /* transport up (publishers that reconnect) */
  uint32_t reconnect_failures;
  uint64_t opened_ns;
  const char *fail_why; /* set by peer__fail */
  union {
    struct ws_client ws;
    struct {
      struct http_client http;
      struct sse_parser sse;
    } stream;
  } transport; /* every member starts with a struct tcp_client */
};

/* The TCP connection under whatever transport p uses. */
static inline struct tcp_client *peer__tcp(struct peer *p) {
  return (struct tcp_client *)&p->transport;
}

/* Writes "bench-<channel>" into buf (at least 24 bytes). */
void peer__channel_name(const struct peer *p, char *buf, size_t size);

/* The connection is set up (subscribers: receiving the channel). */
void peer__ready(struct peer *p);

/* Set-up failed at the protocol level (error reply, refused request):
 * closes the transport and counts a connect error for why. */
void peer__fail(struct peer *p, const char *why);

/* The transport is closed (why: NULL when the run closed it). */
void peer__closed(struct peer *p, const char *why);

/* A subscriber received a payload at recv_ns. */
void peer__deliver(struct peer *p, struct span payload, uint64_t recv_ns);

/* A publisher's messages [first_serial, first_serial + count) were
 * accepted (ok) or refused by the server. */
void peer__settled(struct peer *p, uint64_t first_serial, uint64_t count,
                   bool ok);

/* Counts an error that does not end the connection. */
void peer__error(struct peer *p, const char *kind, const char *detail);

#endif
