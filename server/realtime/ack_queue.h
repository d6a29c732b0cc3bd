/* ack_queue.h -- the ACK/NACK bookkeeping of one realtime connection
 * (realtime.md 4.3-4.4).
 *
 * Every MESSAGE (and later PRESENCE) ProtocolMessage a client sends has a
 * msgSerial and gets exactly one ACK or NACK, in msgSerial order, even
 * though publishes to different channels complete out of order. After a
 * resume the client resends what it saw no answer for, with the same
 * msgSerial: such a duplicate is never republished, only answered again
 * (with the stored result, or when its publish completes).
 *
 * An entry is "owed" while the client waits for its answer: from receipt,
 * and again from a resend after a resume. Answers leave in order: the
 * longest run of owed entries that are complete, stopping at the first
 * owed one still pending. Completed entries are remembered (up to a bound)
 * so that resends can be answered. */
#ifndef HERALD_ACK_QUEUE_H
#define HERALD_ACK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"

struct ack_entry {
  int64_t msg_serial;
  bool done;
  bool owed;
  bool failed;
  herald_error err; /* when failed */
  char **serials;   /* when done and not failed: one per message (NULL ok) */
  size_t n_serials;
};

struct ack_queue {
  struct ack_entry *entries; /* ring, oldest msgSerial first */
  size_t head, count, cap;
  size_t remembered; /* completed entries kept for resends */
};

enum ack_receipt {
  ACK_NEW,       /* process it; complete it with ack_queue__complete */
  ACK_DUPLICATE, /* already known: answered when its result is known */
};

void ack_queue__init(struct ack_queue *q, size_t remembered);
void ack_queue__cleanup(struct ack_queue *q);

/* Records the receipt of msg_serial. A serial older than anything
 * remembered counts as a duplicate answered with empty serials. */
enum ack_receipt ack_queue__receive(struct ack_queue *q, int64_t msg_serial);

/* Completes a NEW entry: serials (copied) on success, or err. */
void ack_queue__complete(struct ack_queue *q, int64_t msg_serial,
                         char *const *serials, size_t n_serials,
                         const herald_error *err);

/* The transport is gone: nothing is owed until the client resends. */
void ack_queue__transport_lost(struct ack_queue *q);

/* One answer: count consecutive entries from first, all ACKs (err NULL) or
 * one NACK. */
typedef void (*ack_emit_fn)(void *ctx, const struct ack_entry *first,
                            size_t count, const herald_error *err);

/* Emits every answer that can leave now, in order. */
void ack_queue__flush(struct ack_queue *q, ack_emit_fn emit, void *ctx);

/* Whether any entry is still waiting for its publish to complete. */
bool ack_queue__pending(const struct ack_queue *q);

#endif
