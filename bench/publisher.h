/* publisher.h -- what makes a peer a publisher, whatever its protocol: the
 * send schedule (a fixed rate, or a window of unsettled messages when the
 * rate is 0; at a fixed rate, publisher k of K sends its message n at
 * (n + k / K) / rate after the start, so the publishers' messages
 * interleave evenly instead of leaving in bursts of K), the payload carrying its send time, and the accounting of
 * what the server settled (accepted or refused) against the measured
 * window.
 * Messages are numbered 0, 1, ... per publisher (the Ably msgSerial; for
 * HTTP, the request's place on its connection, answered in order). The
 * send time of every unsettled message is kept, so a publisher whose
 * connection dropped can send those again unchanged.
 * Owns: the timer, the payload buffer and the ring of send times. */
#ifndef HERALD_BENCH_PUBLISHER_H
#define HERALD_BENCH_PUBLISHER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

/* Most messages a publisher leaves unsettled; also its ring's size. */
#define PUBLISHER_MAX_UNSETTLED 32768u
/* Unsettled messages kept in flight when the rate is 0. */
#define PUBLISHER_WINDOW 64u

struct peer;

struct publisher {
  struct peer *peer;
  uv_timer_t timer;
  bool timer_started;
  bool stopped;     /* the measured window is over: nothing more is sent */
  double rate;      /* messages/s; 0: as fast as settling allows */
  double phase;     /* in [0, 1): the schedule's offset, in messages */
  uint64_t next;    /* number of the next message */
  uint64_t settled; /* every message below this one is settled */
  uint64_t measured_first; /* first message sent in the measured window */
  uint64_t measured_end;   /* first message not sent in it */
  uint64_t *send_ns;       /* ring of PUBLISHER_MAX_UNSETTLED send times */
  char *payload;
  size_t size;
};

/* Sets up a publisher of size-byte payloads, phase messages behind the
 * schedule's start. Returns 0 or -1 (memory). */
int publisher__init(struct publisher *pub, struct peer *peer, double rate,
                    double phase, size_t size);
void publisher__cleanup(struct publisher *pub);

/* Starts sending on the worker's schedule. */
void publisher__start(struct publisher *pub);

/* Stops sending and closes the timer (before the loop ends). */
void publisher__close(struct publisher *pub);

/* Messages [first, first + count) were accepted (ok) or refused. */
void publisher__settled(struct publisher *pub, uint64_t first, uint64_t count,
                        bool ok);

/* The payload of a message sent at send_ns: the time in decimal, a space,
 * then padding to the payload size. Valid until the next call. */
struct span publisher__payload(struct publisher *pub, uint64_t send_ns);

/* The send time of an unsettled message (for sending it again). */
uint64_t publisher__send_time(const struct publisher *pub, uint64_t n);

#endif
