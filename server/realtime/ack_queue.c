/* ack_queue.c -- in-order ACK/NACK with resend deduplication (see
 * ack_queue.h). */
#include "realtime/ack_queue.h"

#include <string.h>

#include "alloc.h"

#define ACK_RUN_MAX 256 /* entries per ACK, bounding the copy on the stack */

void ack_queue__init(struct ack_queue *q, size_t remembered) {
  memset(q, 0, sizeof *q);
  q->remembered = remembered;
}

static struct ack_entry *at(const struct ack_queue *q, size_t i) {
  return &q->entries[(q->head + i) % q->cap];
}

static void free_serials(struct ack_entry *e) {
  for (size_t i = 0; i < e->n_serials; i++) herald_free(e->serials[i]);
  herald_free(e->serials);
  e->serials = NULL;
  e->n_serials = 0;
}

void ack_queue__cleanup(struct ack_queue *q) {
  for (size_t i = 0; i < q->count; i++) free_serials(at(q, i));
  herald_free(q->entries);
  memset(q, 0, sizeof *q);
}

static void grow(struct ack_queue *q) {
  size_t cap = q->cap ? q->cap * 2 : 16;
  struct ack_entry *entries = herald_xmalloc(cap * sizeof *entries);
  for (size_t i = 0; i < q->count; i++) entries[i] = *at(q, i);
  herald_free(q->entries);
  q->entries = entries;
  q->cap = cap;
  q->head = 0;
}

/* Forgets the oldest answered entries beyond the remembered bound. */
static void forget_old(struct ack_queue *q) {
  while (q->count > q->remembered) {
    struct ack_entry *e = at(q, 0);
    if (!e->done || e->owed) return;
    free_serials(e);
    q->head = (q->head + 1) % q->cap;
    q->count--;
  }
}

/* Inserts a new owed entry for msg_serial at its place in serial order. */
static struct ack_entry *insert(struct ack_queue *q, int64_t msg_serial) {
  if (q->count == q->cap) grow(q);
  size_t pos = q->count;
  while (pos > 0 && at(q, pos - 1)->msg_serial > msg_serial) {
    *at(q, pos) = *at(q, pos - 1);
    pos--;
  }
  q->count++;
  struct ack_entry *e = at(q, pos);
  memset(e, 0, sizeof *e);
  e->msg_serial = msg_serial;
  e->owed = true;
  return e;
}

static struct ack_entry *find(struct ack_queue *q, int64_t msg_serial) {
  for (size_t i = q->count; i-- > 0;) {
    struct ack_entry *e = at(q, i);
    if (e->msg_serial == msg_serial) return e;
    if (e->msg_serial < msg_serial) break;
  }
  return NULL;
}

enum ack_receipt ack_queue__receive(struct ack_queue *q, int64_t msg_serial) {
  if (q->count == 0 || msg_serial > at(q, q->count - 1)->msg_serial) {
    insert(q, msg_serial);
    return ACK_NEW;
  }
  struct ack_entry *e = find(q, msg_serial);
  if (e) {
    e->owed = true;
    return ACK_DUPLICATE;
  }
  /* Seen but forgotten (or skipped): answered, with no serials to give. */
  insert(q, msg_serial)->done = true;
  return ACK_DUPLICATE;
}

void ack_queue__complete(struct ack_queue *q, int64_t msg_serial,
                         char *const *serials, size_t n_serials,
                         const herald_error *err) {
  struct ack_entry *e = find(q, msg_serial);
  if (!e || e->done) return;
  e->done = true;
  if (err) {
    e->failed = true;
    e->err = *err;
    return;
  }
  e->serials = herald_xcalloc(n_serials ? n_serials : 1, sizeof *e->serials);
  e->n_serials = n_serials;
  for (size_t i = 0; i < n_serials; i++)
    e->serials[i] = serials[i] ? herald_xstrdup(serials[i]) : NULL;
}

void ack_queue__transport_lost(struct ack_queue *q) {
  for (size_t i = 0; i < q->count; i++) at(q, i)->owed = false;
}

bool ack_queue__pending(const struct ack_queue *q) {
  for (size_t i = 0; i < q->count; i++)
    if (!at(q, i)->done) return true;
  return false;
}

void ack_queue__flush(struct ack_queue *q, ack_emit_fn emit, void *ctx) {
  size_t i = 0;
  while (i < q->count) {
    struct ack_entry *e = at(q, i);
    if (!e->owed) {
      i++;
      continue;
    }
    if (!e->done) break;
    if (e->failed) {
      e->owed = false;
      emit(ctx, e, 1, &e->err);
      i++;
      continue;
    }
    /* A run of consecutive successes leaves as one ACK. The ring may wrap,
     * so the run is handed over as a copy when it does. */
    size_t n = 1;
    while (i + n < q->count && n < ACK_RUN_MAX) {
      struct ack_entry *next = at(q, i + n);
      if (!next->owed || !next->done || next->failed ||
          next->msg_serial != e->msg_serial + (int64_t)n)
        break;
      n++;
    }
    struct ack_entry run[n];
    for (size_t k = 0; k < n; k++) {
      at(q, i + k)->owed = false;
      run[k] = *at(q, i + k);
    }
    emit(ctx, run, n, NULL);
    i += n;
  }
  forget_old(q);
}
