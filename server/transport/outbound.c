/* outbound.c -- queues of shared frames and coalesced writes (see
 * outbound.h). */
#include "transport/outbound.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "core/worker.h"
#include "transport/tls.h"

#define OUTBOUND_IOV_MAX 256

struct outbound_flusher {
  uv_check_t check;
  struct outbound *dirty;
};

void outbound__init(struct outbound *o, uv_stream_t *stream,
                    struct outbound_flusher *flusher) {
  memset(o, 0, sizeof *o);
  o->stream = stream;
  o->flusher = flusher;
}

static struct frame *at(const struct outbound *o, size_t i) {
  return o->ring[(o->head + i) % o->cap];
}

static void grow(struct outbound *o) {
  size_t cap = o->cap ? o->cap * 2 : 8;
  struct frame **ring = herald_xmalloc(cap * sizeof *ring);
  for (size_t i = 0; i < o->count; i++) ring[i] = at(o, i);
  herald_free(o->ring);
  o->ring = ring;
  o->cap = cap;
  o->head = 0;
}

static void on_check(uv_check_t *check);

/* Bytes of the write in flight: the frames from the head, less what of the
 * head was written before. */
static size_t in_write_bytes(const struct outbound *o) {
  size_t n = 0;
  for (size_t i = 0; i < o->in_write; i++)
    n += at(o, i)->len - (i ? 0 : o->offset);
  return n;
}

/* What the peer has not taken: the queue, where the write in flight counts
 * for what libuv still holds of it. A TLS write completes a loop turn
 * after the socket took it (tls.h): its bytes do not count until then. */
static void check_limit(struct outbound *o) {
  if (!o->limit || o->bytes <= o->limit || !o->on_overflow) return;
  size_t unsent = o->bytes;
  if (o->in_write && o->stream)
    unsent = unsent - in_write_bytes(o) +
             uv_stream_get_write_queue_size(o->stream);
  if (unsent > o->limit) o->on_overflow(o);
}

static void mark_dirty(struct outbound *o) {
  if (o->dirty) return;
  struct outbound_flusher *f = o->flusher;
  o->dirty = true;
  o->next_dirty = f->dirty;
  if (!f->dirty) uv_check_start(&f->check, on_check);
  f->dirty = o;
}

void outbound__push(struct outbound *o, struct frame *f) {
  if (o->failed) return;
  if (o->count == o->cap) grow(o);
  o->ring[(o->head + o->count) % o->cap] = frame__ref(f);
  o->count++;
  o->bytes += f->len;
  if (o->in_write) check_limit(o); /* else flushing decides */
  mark_dirty(o);
}

void outbound__push_part(struct outbound *o, const void *data, size_t len,
                         bool more) {
  struct frame *f = o->partial;
  size_t at = f ? f->len : 0;
  f = herald_xrealloc(f, sizeof *f + at + len);
  if (!at) f->refs = 1;
  memcpy(f->data + at, data, len);
  f->len = at + len;
  o->partial = more ? f : NULL;
  if (more) return;
  outbound__push(o, f);
  frame__unref(f);
}

/* Releases n frames from the head. */
static void pop(struct outbound *o, size_t n) {
  for (size_t i = 0; i < n; i++) {
    frame__unref(o->ring[o->head]);
    o->head = (o->head + 1) % o->cap;
    o->count--;
  }
}

/* Accounts for n bytes written from the head. */
static void consume(struct outbound *o, size_t n) {
  o->bytes -= n;
  while (n) {
    struct frame *f = at(o, 0);
    size_t left = f->len - o->offset;
    if (n < left) {
      o->offset += n;
      return;
    }
    n -= left;
    o->offset = 0;
    pop(o, 1);
  }
}

static size_t gather(const struct outbound *o, uv_buf_t *bufs) {
  size_t n = o->count < OUTBOUND_IOV_MAX ? o->count : OUTBOUND_IOV_MAX;
  for (size_t i = 0; i < n; i++) {
    struct frame *f = at(o, i);
    size_t skip = i == 0 ? o->offset : 0;
    bufs[i] = uv_buf_init(f->data + skip, (unsigned)(f->len - skip));
  }
  return n;
}

static void fail(struct outbound *o) {
  o->failed = true;
  if (o->on_error) o->on_error(o);
}

static void flush(struct outbound *o);

static void on_written(uv_write_t *req, int status) {
  struct outbound *o = req->data;
  size_t written = in_write_bytes(o);
  o->in_write = 0;
  if (status < 0) {
    if (status != UV_ECANCELED) fail(o);
    return;
  }
  consume(o, written);
  flush(o);
}

/* Writes what the socket takes now; the rest goes in one uv_write. */
static void flush(struct outbound *o) {
  if (o->in_write || o->failed) return;
  if (!o->stream) {
    check_limit(o);
    if (o->count && o->on_waiting) o->on_waiting(o);
    return;
  }
  if (o->count == 0) {
    if (o->on_empty) o->on_empty(o);
    return;
  }
  uv_buf_t bufs[OUTBOUND_IOV_MAX];
  size_t n = gather(o, bufs);
  int w = tls__try_write(o->stream, bufs, (unsigned)n);
  if (w < 0 && w != UV_EAGAIN) {
    fail(o);
    return;
  }
  if (w > 0) consume(o, (size_t)w);
  if (o->count == 0) {
    if (o->on_empty) o->on_empty(o);
    return;
  }
  n = gather(o, bufs);
  o->in_write = n;
  o->write_req.data = o;
  if (tls__write(&o->write_req, o->stream, bufs, (unsigned)n, on_written)) {
    o->in_write = 0;
    fail(o);
    return;
  }
  check_limit(o);
}

void outbound__discard_unsent(struct outbound *o) {
  size_t keep = o->in_write ? o->in_write : o->offset ? 1 : 0;
  while (o->count > keep) {
    size_t last = (o->head + o->count - 1) % o->cap;
    o->bytes -= o->ring[last]->len;
    frame__unref(o->ring[last]);
    o->count--;
  }
}

bool outbound__empty(const struct outbound *o) { return o->count == 0; }

bool outbound__idle(const struct outbound *o) {
  return !o->in_write && !o->offset;
}

void outbound__attach(struct outbound *o, uv_stream_t *stream,
                      struct frame *head) {
  o->stream = stream;
  if (head) {
    if (o->count == o->cap) grow(o);
    o->head = (o->head + o->cap - 1) % o->cap;
    o->ring[o->head] = frame__ref(head);
    o->count++;
    o->bytes += head->len;
  }
  if (o->count) mark_dirty(o);
}

void outbound__detach(struct outbound *o) { o->stream = NULL; }

struct frame *outbound__pop(struct outbound *o) {
  if (!o->count) return NULL;
  struct frame *f = o->ring[o->head];
  o->head = (o->head + 1) % o->cap;
  o->count--;
  o->bytes -= f->len;
  return f;
}

void outbound__cleanup(struct outbound *o) {
  if (o->dirty) { /* unlink from the flusher's list */
    struct outbound **p = &o->flusher->dirty;
    while (*p != o) p = &(*p)->next_dirty;
    *p = o->next_dirty;
  }
  o->offset = 0;
  pop(o, o->count);
  if (o->partial) frame__unref(o->partial);
  herald_free(o->ring);
  memset(o, 0, sizeof *o);
}

/* End of the loop turn: every queue that received frames is written. */
static void on_check(uv_check_t *check) {
  struct outbound_flusher *f = check->data;
  while (f->dirty) {
    struct outbound *o = f->dirty;
    f->dirty = o->next_dirty;
    o->dirty = false;
    flush(o);
  }
  uv_check_stop(check);
}

struct outbound_flusher *outbound__flusher_new(uv_loop_t *loop) {
  struct outbound_flusher *f = herald_xcalloc(1, sizeof *f);
  uv_check_init(loop, &f->check);
  f->check.data = f;
  return f;
}

void outbound__flusher_free(struct outbound_flusher *f) { herald_free(f); }

static int slot = -1;

static void free_flusher(void *f) { outbound__flusher_free(f); }

void outbound__worker_init(struct worker *w) {
  struct outbound_flusher *f = outbound__flusher_new(&w->loop);
  w->locals[worker__slot(&slot)] = f;
  worker__at_exit(w, free_flusher, f);
}

struct outbound_flusher *outbound__flusher(struct worker *w) {
  return w->locals[slot];
}
