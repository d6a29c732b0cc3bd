/* test_outbound.c -- per-connection outbound queues (server/transport/outbound.c)
 * over a real libuv loop and real Unix socket pairs, so every write really
 * happens: frames leave at the end of the loop turn, in order and intact;
 * a frame shared by many queues is written by each and freed once; a write
 * the socket takes only partly resumes where it stopped; the unsent-bytes
 * limit reports a peer that falls behind; discard_unsent drops only frames
 * no write has started on; a dead peer fails the queue.
 *
 * Each peer is a thread that reads its end of the pair until EOF (in small
 * reads when it should be slow); a test that needs the socket buffer full
 * pushes a frame much bigger than it before starting the peer.
 *
 * wslay hands a control frame over in two parts (header, payload); two
 * tests show that a discard can no longer split one, which corrupted the
 * peer's stream while websocket.c queued the parts as two frames.
 *
 * A queue without a stream (comet between recvs) keeps its frames and
 * says so at the end of the turn; they are taken in order, or written
 * after a head frame once a stream is attached, and its limit holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "alloc.h"
#include "leak_check.h"
#include "transport/outbound.h"
#include "transport/websocket.h"

#define BIG (4u << 20) /* far more than a socket buffer takes */

struct peer {
  int fd;
  size_t chunk; /* bytes per read: small for a slow reader */
  char *buf;
  size_t len, cap;
  uv_thread_t thread;
  bool started;
};

struct conn {
  int fds[2];
  uv_pipe_t pipe;
  struct outbound out;
  struct peer peer;
  int empties, overflows, errors;
  size_t wslay_parts; /* parts wslay_sink was handed */
  bool slow; /* as realtime.c's owner: discard once, then ignore */
};

static uv_loop_t loop;
static struct outbound_flusher *flusher;

static struct conn *conn_of(struct outbound *o) {
  return (struct conn *)((char *)o - offsetof(struct conn, out));
}

static void on_empty(struct outbound *o) { conn_of(o)->empties++; }
static void on_error(struct outbound *o) { conn_of(o)->errors++; }
static void on_overflow(struct outbound *o) { conn_of(o)->overflows++; }

/* The realtime owner's answer to a backlog (realtime.c
 * on_transport_backlog): the first report drops the unsent frames. */
static void on_overflow_discard(struct outbound *o) {
  struct conn *c = conn_of(o);
  c->overflows++;
  if (c->slow) return;
  c->slow = true;
  outbound__discard_unsent(o);
}

static void conn_open(struct conn *c) {
  memset(c, 0, sizeof *c);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c->fds), 0);
  assert_int_equal(uv_pipe_init(&loop, &c->pipe, 0), 0);
  assert_int_equal(uv_pipe_open(&c->pipe, c->fds[0]), 0);
  outbound__init(&c->out, (uv_stream_t *)&c->pipe, flusher);
  c->out.on_empty = on_empty;
  c->out.on_error = on_error;
  c->out.on_overflow = on_overflow;
  c->peer.fd = c->fds[1];
  c->peer.chunk = 64 * 1024;
}

static void peer_read(void *arg) {
  struct peer *p = arg;
  for (;;) {
    if (p->cap - p->len < p->chunk) {
      p->cap = p->cap ? p->cap * 2 : p->chunk * 2;
      p->buf = realloc(p->buf, p->cap);
    }
    ssize_t n = read(p->fd, p->buf + p->len, p->chunk);
    if (n <= 0) return;
    p->len += (size_t)n;
  }
}

static void peer_start(struct conn *c) {
  c->peer.started = true;
  assert_int_equal(uv_thread_create(&c->peer.thread, peer_read, &c->peer), 0);
}

/* Whether the peer's socket holds no byte yet (nothing was written). */
static bool peer_got_nothing(struct conn *c) {
  char byte;
  return recv(c->fds[1], &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0;
}

static bool sent(const struct conn *c) {
  return outbound__empty(&c->out) && !c->out.in_write && !c->out.dirty;
}

/* One loop turn: the flusher writes every dirty queue. */
static void turn(void) { uv_run(&loop, UV_RUN_NOWAIT); }

/* Runs the loop until c has written everything (its peer reads). A dirty
 * queue needs a turn that does not wait for I/O: only its check is due. */
static void run_until_sent(struct conn *c) {
  while (!sent(c)) {
    if (c->out.dirty) turn();
    else assert_true(uv_run(&loop, UV_RUN_ONCE) || sent(c));
  }
}

/* Closes c's end, lets its peer read to EOF and releases the queue. */
static void conn_close(struct conn *c) {
  uv_close((uv_handle_t *)&c->pipe, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (!c->peer.started) peer_start(c);
  uv_thread_join(&c->peer.thread);
  close(c->fds[1]);
  outbound__cleanup(&c->out);
}

static void peer_free(struct conn *c) { free(c->peer.buf); }

/* ---- Frames and expected streams ---------------------------------------- */

static struct frame *pattern_frame(size_t len, unsigned seed) {
  struct frame *f = frame__new(len);
  for (size_t i = 0; i < len; i++) f->data[i] = (char)(seed * 31u + i * 7u);
  return f;
}

struct stream {
  char *data;
  size_t len;
};

static void expect(struct stream *s, const struct frame *f) {
  s->data = realloc(s->data, s->len + f->len);
  memcpy(s->data + s->len, f->data, f->len);
  s->len += f->len;
}

static void assert_peer_got(const struct conn *c, const struct stream *s) {
  assert_int_equal(c->peer.len, s->len);
  assert_memory_equal(c->peer.buf, s->data, s->len);
}

/* Pushes f on c and drops the caller's reference, recording its bytes. */
static void push(struct conn *c, struct frame *f, struct stream *s) {
  outbound__push(&c->out, f);
  if (s) expect(s, f);
  frame__unref(f);
}

/* ---- Fixture --------------------------------------------------------------- */

static int setup(void **state) {
  leak_check__setup(state);
  assert_int_equal(uv_loop_init(&loop), 0);
  flusher = outbound__flusher_new(&loop);
  return 0;
}

static int teardown(void **state) {
  uv_close((uv_handle_t *)flusher, NULL); /* the check handle comes first */
  uv_run(&loop, UV_RUN_DEFAULT);
  outbound__flusher_free(flusher);
  websocket__thread_cleanup();
  assert_int_equal(uv_loop_close(&loop), 0);
  return leak_check__teardown(state);
}

/* ---- Order and integrity ------------------------------------------------------ */

/* More frames than one vectored write takes (256), of many sizes: nothing
 * leaves before the loop turn ends; then every byte arrives, in order. */
static void test_frames_leave_at_turn_end_in_order(void **state) {
  (void)state;
  struct conn c;
  struct stream s = {0};
  conn_open(&c);
  size_t total = 0;
  for (unsigned i = 0; i < 300; i++) {
    size_t len = (i * 37u) % 1000 + 1;
    push(&c, pattern_frame(len, i), &s);
    total += len;
  }
  assert_int_equal(c.out.count, 300);
  assert_int_equal(c.out.bytes, total);
  assert_true(c.out.dirty);
  assert_true(peer_got_nothing(&c));
  peer_start(&c);
  run_until_sent(&c);
  assert_int_equal(c.out.bytes, 0);
  assert_int_equal(c.empties, 1); /* the drain event, once */
  assert_int_equal(c.errors, 0);
  conn_close(&c);
  assert_peer_got(&c, &s);
  peer_free(&c);
  free(s.data);
}

/* A frame queued on three connections is written by each and freed once,
 * when the last (a peer that reads late) has written it. */
static void test_shared_frame_written_by_each_freed_once(void **state) {
  (void)state;
  struct conn c[3];
  for (int i = 0; i < 3; i++) conn_open(&c[i]);
  long before = herald_alloc_live();
  struct frame *f = pattern_frame(BIG, 7);
  struct stream s = {0};
  expect(&s, f);
  for (int i = 0; i < 3; i++) outbound__push(&c[i].out, f);
  frame__unref(f);
  assert_int_equal(f->refs, 3);
  long with_frame = herald_alloc_live(); /* the frame and three rings */
  assert_int_equal(with_frame, before + 4);
  turn();
  peer_start(&c[0]);
  peer_start(&c[1]);
  run_until_sent(&c[0]);
  run_until_sent(&c[1]);
  assert_false(sent(&c[2])); /* its peer has not read: still writing */
  assert_int_equal(f->refs, 1);
  assert_int_equal(herald_alloc_live(), with_frame);
  peer_start(&c[2]);
  run_until_sent(&c[2]);
  assert_int_equal(herald_alloc_live(), with_frame - 1); /* freed, once */
  for (int i = 0; i < 3; i++) {
    conn_close(&c[i]);
    assert_peer_got(&c[i], &s);
    peer_free(&c[i]);
  }
  free(s.data);
}

/* The socket takes part of a big frame at once; the rest (and the frames
 * behind it) follow from the byte where it stopped, to a slow reader. */
static void test_partial_write_resumes_where_it_stopped(void **state) {
  (void)state;
  struct conn c;
  struct stream s = {0};
  conn_open(&c);
  c.peer.chunk = 1000; /* reads slowly, in small bites */
  push(&c, pattern_frame(BIG, 1), &s);
  push(&c, pattern_frame(10, 2), &s);
  turn();
  assert_true(c.out.offset > 0 && c.out.offset < BIG); /* partly written */
  assert_int_equal(c.out.in_write, 2); /* the rest is one write in flight */
  assert_int_equal(c.out.bytes, BIG + 10 - c.out.offset);
  push(&c, pattern_frame(20, 3), &s); /* queued behind the write */
  assert_int_equal(c.out.count, 3);
  peer_start(&c);
  run_until_sent(&c);
  conn_close(&c);
  assert_peer_got(&c, &s);
  peer_free(&c);
  free(s.data);
}

/* ---- The unsent-bytes limit ------------------------------------------------------ */

/* Unsent bytes within the limit, even with the socket full, report
 * nothing; no limit (0) never does. */
static void test_within_limit_no_backlog(void **state) {
  (void)state;
  size_t limits[] = {2 * BIG, 0};
  for (int i = 0; i < 2; i++) {
    struct conn c;
    struct stream s = {0};
    conn_open(&c);
    c.out.limit = limits[i];
    push(&c, pattern_frame(BIG, 4), &s);
    turn();
    assert_true(c.out.in_write > 0);
    peer_start(&c);
    run_until_sent(&c);
    assert_int_equal(c.overflows, 0);
    conn_close(&c);
    assert_peer_got(&c, &s);
    peer_free(&c);
    free(s.data);
  }
}

/* A frame the peer does not read takes the unsent bytes past the limit:
 * the backlog callback fires exactly once, after the write that left them
 * (not at the push); once the peer reads, all arrives and nothing more is
 * reported. */
static void test_limit_exceeded_fires_backlog_once(void **state) {
  (void)state;
  struct conn c;
  struct stream s = {0};
  conn_open(&c);
  c.out.limit = 64 * 1024;
  push(&c, pattern_frame(BIG, 5), &s);
  assert_int_equal(c.overflows, 0); /* flushing decides */
  turn();
  assert_true(c.out.bytes > c.out.limit);
  assert_int_equal(c.overflows, 1);
  turn(); /* another turn with nothing pushed reports nothing new */
  assert_int_equal(c.overflows, 1);
  peer_start(&c);
  run_until_sent(&c);
  assert_int_equal(c.overflows, 1);
  conn_close(&c);
  assert_peer_got(&c, &s);
  peer_free(&c);
  free(s.data);
}

/* The callback is level-triggered: each push while the queue is past the
 * limit reports again, so the owner keeps its own state (realtime.c: the
 * connection's slow flag). With that owner, the first report discards. */
static void test_backlog_reported_per_push_while_over(void **state) {
  (void)state;
  struct conn c;
  struct stream s = {0};
  conn_open(&c);
  c.out.limit = 64 * 1024;
  c.out.on_overflow = on_overflow_discard;
  push(&c, pattern_frame(BIG, 6), &s);
  turn();
  assert_int_equal(c.overflows, 1);
  assert_true(c.slow);
  push(&c, pattern_frame(100, 7), NULL);
  push(&c, pattern_frame(100, 8), NULL);
  assert_int_equal(c.overflows, 3);
  assert_int_equal(c.out.count, 3); /* the owner discards only once */
  outbound__discard_unsent(&c.out);
  peer_start(&c);
  run_until_sent(&c);
  conn_close(&c);
  assert_peer_got(&c, &s);
  peer_free(&c);
  free(s.data);
}

/* ---- discard_unsent ------------------------------------------------------- */

/* Frames queued behind a write in flight are dropped; the frame half
 * written is completed, and a frame pushed after the discard follows it:
 * the peer gets whole frames only. */
static void test_discard_keeps_frame_in_flight(void **state) {
  (void)state;
  struct conn c;
  struct stream s = {0};
  conn_open(&c);
  push(&c, pattern_frame(BIG, 9), &s);
  turn();
  size_t offset = c.out.offset;
  assert_true(offset > 0 && offset < BIG);
  push(&c, pattern_frame(500, 10), NULL);
  push(&c, pattern_frame(600, 11), NULL);
  turn(); /* a turn while writing sends nothing new */
  assert_int_equal(c.out.count, 3);
  outbound__discard_unsent(&c.out);
  assert_int_equal(c.out.count, 1);
  assert_int_equal(c.out.offset, offset);
  assert_int_equal(c.out.bytes, BIG - offset);
  push(&c, pattern_frame(30, 12), &s);
  peer_start(&c);
  run_until_sent(&c);
  conn_close(&c);
  assert_peer_got(&c, &s);
  peer_free(&c);
  free(s.data);
}

/* With no write started, everything queued goes and nothing is written;
 * the queue still reports that it is empty at the turn's end. */
static void test_discard_before_any_write_drops_all(void **state) {
  (void)state;
  struct conn c;
  struct stream s = {0};
  conn_open(&c);
  long before = herald_alloc_live();
  push(&c, pattern_frame(100, 13), NULL);
  push(&c, pattern_frame(200, 14), NULL);
  outbound__discard_unsent(&c.out);
  assert_true(outbound__empty(&c.out));
  assert_int_equal(c.out.bytes, 0);
  assert_int_equal(herald_alloc_live(), before + 1); /* the ring only */
  turn();
  assert_int_equal(c.empties, 1);
  push(&c, pattern_frame(40, 15), &s); /* the queue still works */
  peer_start(&c);
  run_until_sent(&c);
  conn_close(&c);
  assert_peer_got(&c, &s);
  peer_free(&c);
  free(s.data);
}

/* A queue released while dirty (its connection went before the turn's
 * end) leaves the flusher's list: the turn writes the others only. */
static void test_cleanup_of_dirty_queue_unlinks_it(void **state) {
  (void)state;
  struct conn gone, stays[2];
  struct stream s[2] = {{0}};
  conn_open(&stays[0]);
  conn_open(&gone);
  conn_open(&stays[1]);
  push(&stays[0], pattern_frame(100, 20), &s[0]);
  push(&gone, pattern_frame(100, 21), NULL);
  push(&stays[1], pattern_frame(100, 22), &s[1]);
  outbound__cleanup(&gone.out); /* no write started: nothing in flight */
  assert_false(gone.out.dirty);
  turn();
  assert_false(stays[0].out.dirty); /* the turn reached both */
  assert_false(stays[1].out.dirty);
  assert_true(peer_got_nothing(&gone));
  for (int i = 0; i < 2; i++) {
    peer_start(&stays[i]);
    run_until_sent(&stays[i]);
    conn_close(&stays[i]);
    assert_peer_got(&stays[i], &s[i]);
    peer_free(&stays[i]);
    free(s[i].data);
  }
  outbound__init(&gone.out, (uv_stream_t *)&gone.pipe, flusher);
  conn_close(&gone);
  assert_int_equal(gone.peer.len, 0);
  peer_free(&gone);
}

/* ---- A dead peer ---------------------------------------------------------------- */

static void test_write_to_closed_peer_fails_queue(void **state) {
  (void)state;
  struct conn c;
  conn_open(&c);
  close(c.fds[1]);
  c.fds[1] = -1;
  c.peer.fd = -1; /* its reader returns at once */
  push(&c, pattern_frame(100, 16), NULL);
  turn();
  assert_int_equal(c.errors, 1);
  assert_true(c.out.failed);
  push(&c, pattern_frame(100, 17), NULL); /* ignored from now on */
  assert_int_equal(c.out.count, 1);
  turn();
  assert_int_equal(c.errors, 1);
  conn_close(&c);
  peer_free(&c);
}

/* ---- A wslay control frame stays whole ----------------------------------- */

/* wslay's event API sends a control frame through its send callback in two
 * calls, header then payload (WSLAY_MSG_MORE on the first); websocket.c's
 * on_send hands them to outbound__push_part, as this sink does. */
static ssize_t wslay_sink(wslay_event_context_ptr ctx, const uint8_t *data,
                          size_t len, int flags, void *user_data) {
  (void)ctx;
  struct conn *c = user_data;
  c->wslay_parts++;
  outbound__push_part(&c->out, data, len, flags & WSLAY_MSG_MORE);
  return (ssize_t)len;
}

static ssize_t wslay_no_input(wslay_event_context_ptr ctx, uint8_t *buf,
                              size_t len, int flags, void *user_data) {
  (void)buf;
  (void)len;
  (void)flags;
  (void)user_data;
  wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
  return -1;
}

/* Queues a close frame (code 1000, "bye") as websocket.c would: returns the
 * number of parts wslay handed over for it. */
static size_t queue_wslay_close(struct conn *c) {
  struct wslay_event_callbacks callbacks = {.recv_callback = wslay_no_input,
                                            .send_callback = wslay_sink};
  wslay_event_context_ptr ctx;
  assert_int_equal(wslay_event_context_server_init(&ctx, &callbacks, c), 0);
  c->wslay_parts = 0;
  wslay_event_queue_close(ctx, WSLAY_CODE_NORMAL_CLOSURE,
                          (const uint8_t *)"bye", 3);
  wslay_event_send(ctx);
  wslay_event_context_free(ctx);
  return c->wslay_parts;
}

/* Whether buf is a sequence of whole, well-formed server WebSocket frames
 * (RFC 6455 5.2: unmasked, no RSV bits, known opcodes, control frames
 * final and short). */
static bool whole_ws_frames(const unsigned char *buf, size_t len) {
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < 2) return false;
    unsigned op = buf[pos] & 0x0f, fin = buf[pos] & 0x80;
    if ((buf[pos] & 0x70) || (buf[pos + 1] & 0x80)) return false;
    if (!(op <= 2 || (op >= 8 && op <= 10))) return false;
    uint64_t n = buf[pos + 1] & 0x7f;
    pos += 2;
    size_t ext = n == 126 ? 2 : n == 127 ? 8 : 0;
    if (ext && len - pos < ext) return false;
    if (ext) n = 0;
    for (size_t i = 0; i < ext; i++) n = n << 8 | buf[pos++];
    if (op >= 8 && (!fin || n > 125)) return false;
    if (n > len - pos) return false;
    pos += (size_t)n;
  }
  return true;
}

/* Without a discard, the close wslay queued in two frames arrives whole
 * behind a data frame (and the check above accepts it). */
static void test_wslay_close_arrives_whole(void **state) {
  (void)state;
  struct conn c;
  conn_open(&c);
  push(&c, websocket__frame(false, "hello", 5), NULL);
  assert_int_equal(queue_wslay_close(&c), 2); /* header, payload */
  peer_start(&c);
  run_until_sent(&c);
  conn_close(&c);
  assert_int_equal(c.peer.len, 7 + 7);
  assert_true(whole_ws_frames((unsigned char *)c.peer.buf, c.peer.len));
  assert_false(whole_ws_frames((unsigned char *)c.peer.buf, c.peer.len - 1));
  peer_free(&c);
}

/* A data frame that fills the socket is being written; wslay queues a
 * close that takes the queue past the limit and the owner discards. When
 * the parts were queued one by one, the header went and the payload,
 * pushed next, stayed: the peer received a payload with no header. */
static void test_backlog_discard_keeps_wslay_close_whole(void **state) {
  (void)state;
  struct conn c;
  conn_open(&c);
  c.out.on_overflow = on_overflow_discard;
  char *payload = herald_xcalloc(1, BIG);
  push(&c, websocket__frame(true, payload, BIG), NULL);
  herald_free(payload);
  turn();
  assert_true(c.out.in_write > 0);
  c.out.limit = c.out.bytes + 1; /* the next bytes pass it */
  assert_int_equal(queue_wslay_close(&c), 2); /* header, payload */
  assert_true(c.slow);
  peer_start(&c);
  run_until_sent(&c);
  conn_close(&c);
  bool whole = whole_ws_frames((unsigned char *)c.peer.buf, c.peer.len);
  peer_free(&c);
  assert_true(whole);
}

/* A close frame is the 256th frame queued, the last one a vectored write
 * takes. When its parts were two frames, the payload waited for the next
 * write, a discard while the first was in flight (realtime.c's tick for a
 * slow subscriber) dropped it, and the header's length swallowed the frame
 * queued after it. */
static void test_discard_at_write_batch_keeps_wslay_close_whole(
    void **state) {
  (void)state;
  struct conn c;
  conn_open(&c);
  char *payload = herald_xcalloc(1, BIG);
  push(&c, websocket__frame(true, payload, BIG), NULL);
  herald_free(payload);
  for (int i = 0; i < 254; i++) push(&c, websocket__frame(false, "x", 1), NULL);
  assert_int_equal(queue_wslay_close(&c), 2);
  turn();
  assert_int_equal(c.out.in_write, 256); /* ...up to the whole close */
  outbound__discard_unsent(&c.out);
  push(&c, websocket__frame(false, "goodbye", 7), NULL);
  peer_start(&c);
  run_until_sent(&c);
  conn_close(&c);
  bool whole = whole_ws_frames((unsigned char *)c.peer.buf, c.peer.len);
  peer_free(&c);
  assert_true(whole);
}

/* ---- Without a stream ------------------------------------------------------ */

static int waitings;
static void on_waiting(struct outbound *o) { waitings++; }

/* Frames pushed with no stream are reported once per turn and wait; the
 * owner pops them in order, the byte count following. */
static void test_without_stream_frames_wait_and_pop_in_order(void **state) {
  (void)state;
  struct outbound o;
  outbound__init(&o, NULL, flusher);
  o.on_waiting = on_waiting;
  waitings = 0;
  for (unsigned i = 0; i < 20; i++) {
    struct frame *f = pattern_frame(i + 1, i);
    outbound__push(&o, f);
    frame__unref(f);
  }
  turn();
  assert_int_equal(waitings, 1);
  assert_int_equal(o.bytes, 210);
  for (unsigned i = 0; i < 20; i++) {
    struct frame *f = outbound__pop(&o);
    assert_non_null(f);
    struct frame *want = pattern_frame(i + 1, i);
    assert_int_equal(f->len, want->len);
    assert_memory_equal(f->data, want->data, f->len);
    frame__unref(want);
    frame__unref(f);
  }
  assert_null(outbound__pop(&o));
  assert_int_equal(o.bytes, 0);
  turn();
  assert_int_equal(waitings, 1); /* nothing new: not reported again */
  outbound__cleanup(&o);
}

/* Frames that waited leave, after the head frame, once a stream is
 * attached; after a detach, new frames wait again. */
static void test_attach_writes_head_then_waiting_frames(void **state) {
  (void)state;
  struct conn c;
  struct stream s = {0};
  conn_open(&c);
  outbound__detach(&c.out);
  c.out.on_waiting = on_waiting;
  struct frame *f1 = pattern_frame(100, 1), *f2 = pattern_frame(200, 2);
  struct frame *head = pattern_frame(50, 3);
  outbound__push(&c.out, f1);
  outbound__push(&c.out, f2);
  turn();
  assert_true(peer_got_nothing(&c));
  expect(&s, head);
  expect(&s, f1);
  expect(&s, f2);
  outbound__attach(&c.out, (uv_stream_t *)&c.pipe, head);
  peer_start(&c);
  run_until_sent(&c);
  assert_true(outbound__idle(&c.out));
  outbound__detach(&c.out);
  waitings = 0;
  outbound__push(&c.out, f1);
  turn();
  assert_int_equal(waitings, 1);
  assert_int_equal(c.out.count, 1);
  frame__unref(f1);
  frame__unref(f2);
  frame__unref(head);
  conn_close(&c);
  assert_peer_got(&c, &s);
  peer_free(&c);
  free(s.data);
}

/* The unsent-bytes bound applies to frames that wait for a stream. */
static void test_without_stream_limit_reports_backlog(void **state) {
  (void)state;
  struct conn c;
  conn_open(&c);
  outbound__detach(&c.out);
  c.out.limit = 1000;
  push(&c, pattern_frame(600, 1), NULL);
  turn();
  assert_int_equal(c.overflows, 0);
  push(&c, pattern_frame(600, 2), NULL);
  turn();
  assert_int_equal(c.overflows, 1);
  conn_close(&c);
  peer_free(&c);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_frames_leave_at_turn_end_in_order,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_shared_frame_written_by_each_freed_once, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_partial_write_resumes_where_it_stopped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_within_limit_no_backlog, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_limit_exceeded_fires_backlog_once,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_backlog_reported_per_push_while_over, setup, teardown),
      cmocka_unit_test_setup_teardown(test_discard_keeps_frame_in_flight,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_discard_before_any_write_drops_all,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_cleanup_of_dirty_queue_unlinks_it,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_to_closed_peer_fails_queue,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_wslay_close_arrives_whole, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_backlog_discard_keeps_wslay_close_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_discard_at_write_batch_keeps_wslay_close_whole, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_without_stream_frames_wait_and_pop_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_attach_writes_head_then_waiting_frames, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_without_stream_limit_reports_backlog, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
