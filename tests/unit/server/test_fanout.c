/* test_fanout.c -- from a channel's owner to every subscriber
 * (server/channel/fanout.c, delivery.c), over two real workers' inboxes
 * driven on this thread: registration answered with the channel's position,
 * one delivery per subscriber encoded once per frame kind, no frame for a
 * subscriber (or a kind) that does not want it, unsubscribing, the owner's
 * record of subscribed workers, no delivery from before a registration's
 * position, ordering, the presence member count travelling with the
 * position and with deliveries, sweep, and the per-worker queries
 * (fanout__each_channel, fanout__count_subscribers).
 *
 * The workers are real (worker__init, then channel__worker_init, which
 * gives each its channel table and fan-out state), but no thread runs
 * them: pump() runs each one's loop until no inbox holds a task, and
 * teardown runs their at_exit hooks, latest first, as a worker's thread
 * would. The store is a stub (fan-out never touches it; channel__worker_init
 * only asks it for its last serial). Publishes are handed to
 * fanout__published on the owner, as channel.c does once a publish was
 * stamped and appended.
 *
 * The subscribers are the test's own struct subscriber_ops: deliver takes an
 * offer when a flag the test sets says so and records (subscriber, frame
 * reference, worker, serial, presence member count), positioned records the
 * position and member count it was told. They come from a pool the fixture
 * owns, so that teardown can unsubscribe what a failed test left. Echo,
 * modes and replay filtering are the realtime attachment's
 * (realtime_channels.c), covered by the integration tests.
 *
 * Two things are replaced with the linker's --wrap
 * (tests/unit/CMakeLists.txt): worker__self (the worker whose loop the test
 * is running, `current`) and transport__pm_frame, wrapped only to count and
 * record encodings; the real one builds the frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth/apps.h"
#include "channel/channel.h"
#include "channel/delivery.h"
#include "channel/fanout.h"
#include "channel/occupancy.h"
#include "clock.h"
#include "core/worker.h"
#include "hashmap.h"
#include "leak_check.h"
#include "serial.h"
#include "store/store.h"
#include "transport/frame.h"
#include "transport/transport.h"
#include "transport/websocket.h"

#define N_WORKERS 2
#define MAX_RECORDS 256
#define STUB_LAST_SERIAL_MS INT64_C(1700000000000)

static struct worker_pool pool;
static struct worker workers[N_WORKERS];
static struct app app = {.id = (char *)"app1"};
static struct worker *current;

/* ---- The store: only asked for its last serial --------------------------- */

static int64_t stub_last_serial_ms(struct store *s) {
  (void)s;
  return STUB_LAST_SERIAL_MS;
}

static const struct store_ops stub_store_ops = {
    .name = "stub", .last_serial_ms = stub_last_serial_ms};
static struct store stub_store = {.ops = &stub_store_ops};

/* Fan-out's sweep reads the occupancy event interval; apps are unused. */
static const struct config cfg = {.occupancy_interval_ms = 15000};
static struct channels channels = {
    .pool = &pool, .store = &stub_store, .cfg = &cfg, .node_id = "testnode"};

/* ---- The wrapped collaborators ------------------------------------------- */

struct worker *__wrap_worker__self(void) { return current; }

/* Every frame fan-out encoded, with what it encoded. */
static struct {
  struct frame *frame;
  enum frame_kind kind;
  char serial[SERIAL_MAX];
  struct worker *worker;
} encoded[MAX_RECORDS];
static int n_encoded;

struct frame *__real_transport__pm_frame(enum frame_kind kind,
                                         const struct protocol_message *pm);

struct frame *__wrap_transport__pm_frame(enum frame_kind kind,
                                         const struct protocol_message *pm) {
  struct frame *f = __real_transport__pm_frame(kind, pm);
  assert_true(n_encoded < MAX_RECORDS);
  encoded[n_encoded].frame = f;
  encoded[n_encoded].kind = kind;
  snprintf(encoded[n_encoded].serial, SERIAL_MAX, "%s", pm->channel_serial);
  encoded[n_encoded++].worker = current;
  return f;
}

/* ---- The test's subscriber ----------------------------------------------- */

struct test_sub {
  struct subscriber sub; /* first: the ops cast back */
  struct worker *worker; /* where it subscribed */
  enum frame_kind kind;  /* what it takes deliveries as */
  bool wants;            /* whether it takes what it is offered */
  int offers;
  int positioned_calls;
  char told_position[SERIAL_MAX]; /* s->position when positioned ran */
  size_t told_members;            /* fanout__presence_members then */
  struct worker *positioned_on;
};

/* Every delivery, to whom, on which worker (a frame reference is kept). */
static struct {
  struct test_sub *to;
  struct frame *frame;
  struct worker *worker;
  char serial[SERIAL_MAX];
  int action;
  size_t members;       /* the delivery's presence member count */
  size_t local_members; /* fanout__presence_members(s) as it was delivered */
} delivered[MAX_RECORDS];
static int n_delivered;
static int positioned_calls;

static void test_deliver(struct subscriber *s, struct delivery *d,
                         struct delivery_frames *frames) {
  struct test_sub *t = (struct test_sub *)s;
  assert_string_equal(d->channel, s->name);
  t->offers++;
  if (!t->wants) return;
  struct frame *f = delivery__frame_of(frames, t->kind);
  assert_true(n_delivered < MAX_RECORDS);
  delivered[n_delivered].to = t;
  delivered[n_delivered].frame = frame__ref(f);
  delivered[n_delivered].worker = current;
  snprintf(delivered[n_delivered].serial, SERIAL_MAX, "%s", d->channel_serial);
  delivered[n_delivered].action = d->action;
  delivered[n_delivered].members = d->presence_members;
  delivered[n_delivered++].local_members = fanout__presence_members(s);
}

static void test_positioned(struct subscriber *s) {
  struct test_sub *t = (struct test_sub *)s;
  positioned_calls++;
  t->positioned_calls++;
  memcpy(t->told_position, s->position, SERIAL_MAX);
  t->told_members = fanout__presence_members(s);
  t->positioned_on = current;
}

static const struct subscriber_ops test_ops = {
    .deliver = test_deliver,
    .positioned = test_positioned};

/* The test's subscribers: a pool the fixture owns, so that teardown can
 * unsubscribe whatever a failed test left subscribed. */
#define MAX_SUBS 16
static struct test_sub subs[MAX_SUBS];
static int n_subs;

static struct test_sub *new_sub(enum frame_kind kind, const char *channel) {
  assert_true(n_subs < MAX_SUBS);
  struct test_sub *t = &subs[n_subs++];
  memset(t, 0, sizeof *t);
  t->sub.ops = &test_ops;
  t->kind = kind;
  t->sub.name = (char *)channel;
  t->sub.modes = PM_FLAG_MODE_SUBSCRIBE;
  t->wants = true;
  return t;
}

static void subscribe_app(struct test_sub *t, const char *app_id, int worker) {
  current = &workers[worker];
  t->worker = current;
  fanout__subscribe(app_id, &t->sub);
}

static void subscribe(struct test_sub *t, int worker) {
  subscribe_app(t, app.id, worker);
}

static void unsubscribe(struct test_sub *t) {
  current = t->worker;
  fanout__unsubscribe(&t->sub);
}

/* How many deliveries t had. */
static int delivered_to(const struct test_sub *t) {
  int n = 0;
  for (int i = 0; i < n_delivered; i++) n += delivered[i].to == t;
  return n;
}

/* The index in delivered[] of t's k-th delivery. */
static int nth(const struct test_sub *t, int k) {
  for (int i = 0; i < n_delivered; i++)
    if (delivered[i].to == t && k-- == 0) return i;
  fail_msg("fewer deliveries than expected");
  return -1;
}

static int encoded_index(const struct frame *f) {
  for (int i = 0; i < n_encoded; i++)
    if (encoded[i].frame == f) return i;
  fail_msg("a frame fan-out did not encode was delivered");
  return -1;
}

/* ---- Workers, driven on this thread -------------------------------------- */

static bool inbox_empty(const struct worker *w) { return !w->inbox_head; }

static bool inboxes_empty(void) {
  for (int i = 0; i < N_WORKERS; i++)
    if (!inbox_empty(&workers[i])) return false;
  return true;
}

/* Runs every worker's posted tasks until none is left. */
static void pump(void) {
  for (int rounds = 0;; rounds++) {
    assert_true(rounds < 100);
    bool ran = false;
    for (int i = 0; i < N_WORKERS; i++) {
      if (inbox_empty(&workers[i])) continue;
      current = &workers[i];
      uv_run(&workers[i].loop, UV_RUN_NOWAIT);
      ran = true;
    }
    if (!ran) return;
  }
}

static struct worker *owner(const char *channel) {
  return channel__owner(&channels, app.id, channel);
}

/* Asserts that position is one a channel's owner gives a channel it has
 * no record of: a floor past the store's last serial, not before `since`
 * (the owner's clock is brought to now) and not after now. */
static void assert_fresh(const char *position, int64_t since) {
  int64_t ms;
  assert_true(serial__position(position, &ms));
  assert_int_equal(strlen(position), 18); /* a floor, not a serial */
  assert_string_equal(position + 14, "-001");
  assert_true(ms > STUB_LAST_SERIAL_MS);
  assert_true(ms >= since && ms <= clock__now_ms());
}

static int setup(void **state) {
  leak_check__setup(state);
  pool.workers = workers;
  pool.n = N_WORKERS;
  for (int i = 0; i < N_WORKERS; i++) {
    assert_int_equal(worker__init(&workers[i], &pool, i), 0);
    channel__worker_init(&channels, &workers[i]);
  }
  n_encoded = n_delivered = positioned_calls = n_subs = 0;
  current = NULL;
  return 0;
}

static void close_handle(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int teardown(void **state) {
  for (int i = 0; i < n_subs; i++) /* each test unsubscribes; if it failed */
    if (subs[i].sub.local) {
      current = subs[i].worker;
      fanout__unsubscribe(&subs[i].sub);
    }
  pump();
  for (int i = 0; i < n_delivered; i++) frame__unref(delivered[i].frame);
  for (int i = 0; i < N_WORKERS; i++) {
    struct worker *w = &workers[i];
    current = w;
    uv_walk(&w->loop, close_handle, NULL); /* as worker__exit does */
    uv_run(&w->loop, UV_RUN_DEFAULT);
    while (w->n_at_exit > 0) { /* as the worker's thread does, latest first */
      struct worker_exit_hook *h = &w->at_exit[--w->n_at_exit];
      h->fn(h->arg);
    }
    assert_int_equal(uv_loop_close(&w->loop), 0);
    uv_mutex_destroy(&w->inbox_lock);
  }
  current = NULL;
  websocket__thread_cleanup(); /* the frame builder of this thread */
  return leak_check__teardown(state);
}

/* ---- Publishing ---------------------------------------------------------- */

/* Publishes one message (or presence change) on the owner, as channel.c
 * does once it was stamped and appended. */
static void publish_on(const char *channel, const char *serial, bool presence,
                       size_t presence_members) {
  struct message *m = message__new();
  m->serial = herald_xstrdup(serial);
  m->name = herald_xstrdup("greeting");
  m->connection_id = herald_xstrdup("publisher");
  m->timestamp = 1700000000000;
  if (presence) {
    m->action = PRESENCE_ENTER;
    m->client_id = herald_xstrdup("member");
  }
  struct message *messages[] = {m};
  struct publish p = {
      .channels = &channels,
      .app = &app,
      .channel = (char *)channel,
      .messages = messages,
      .count = 1,
      .connection_id = (char *)"publisher",
      .message_id = "pm-id",
      .presence = presence,
      .presence_members = presence_members,
  };
  current = owner(channel);
  fanout__published(current, &p);
  message__unref(m);
}

static void publish(const char *serial) {
  publish_on("chan", serial, false, 0);
}

/* ---- Tests --------------------------------------------------------------- */

/* The first subscriber on a worker waits for the owner's answer; it is told
 * the channel's position (a fresh one: the owner's next serial, past the
 * store's last), and once the channel has fanned a message out, its serial.
 * A later subscriber there is positioned at once at the local position with
 * no round trip; one on another worker asks the owner. */
static void test_registration_answers_position(void **state) {
  (void)state;
  struct test_sub *first, *second, *other;
  first = new_sub(FRAME_WS_JSON, "chan");
  second = new_sub(FRAME_WS_JSON, "chan");
  other = new_sub(FRAME_WS_JSON, "chan");
  int64_t since = clock__now_ms();
  subscribe(first, 1);
  assert_int_equal(positioned_calls, 0);
  assert_false(inboxes_empty()); /* the registration, to the owner */
  pump();
  assert_int_equal(positioned_calls, 1);
  assert_int_equal(first->positioned_calls, 1);
  assert_ptr_equal(first->positioned_on, &workers[1]);
  assert_fresh(first->told_position, since);
  assert_string_equal(first->sub.position, first->told_position);
  assert_string_equal(fanout__position(&first->sub), first->told_position);

  publish("200-0");
  pump();
  assert_int_equal(delivered_to(first), 1);
  assert_string_equal(fanout__position(&first->sub), "200-0");

  subscribe(second, 1); /* registered: positioned at once */
  assert_int_equal(second->positioned_calls, 1);
  assert_string_equal(second->told_position, "200-0");
  assert_ptr_equal(second->positioned_on, &workers[1]);
  assert_true(inboxes_empty());

  subscribe(other, 0); /* a new worker asks the owner */
  assert_int_equal(other->positioned_calls, 0);
  pump();
  assert_int_equal(other->positioned_calls, 1);
  assert_string_equal(other->told_position, "200-0");
  assert_ptr_equal(other->positioned_on, &workers[0]);
  assert_int_equal(positioned_calls, 3);
  assert_int_equal(first->positioned_calls, 1); /* told once only */
  unsubscribe(first);
  unsubscribe(second);
  unsubscribe(other);
}

/* Five subscribers on two workers, three of them JSON, two msgpack: one
 * publish reaches each once; each worker encodes it once per kind it has,
 * and subscribers of one kind on one worker share that frame. */
static void test_one_delivery_per_subscriber_one_encoding_per_kind(
    void **state) {
  (void)state;
  struct test_sub *s[5];
  enum frame_kind kinds[] = {FRAME_WS_JSON, FRAME_WS_JSON, FRAME_WS_MSGPACK,
                             FRAME_WS_JSON, FRAME_WS_MSGPACK};
  int on_worker[] = {0, 0, 0, 1, 1};
  for (int i = 0; i < 5; i++) {
    s[i] = new_sub(kinds[i], "chan");
    subscribe(s[i], on_worker[i]);
  }
  pump();
  assert_int_equal(positioned_calls, 5);
  publish("100-0");
  pump();
  assert_int_equal(n_delivered, 5);
  assert_int_equal(n_encoded, 4); /* (JSON, msgpack) x 2 workers */
  for (int i = 0; i < 5; i++) {
    assert_int_equal(delivered_to(s[i]), 1);
    int k = nth(s[i], 0);
    assert_ptr_equal(delivered[k].worker, &workers[on_worker[i]]);
    assert_string_equal(delivered[k].serial, "100-0");
    assert_int_equal(delivered[k].action, PM_MESSAGE);
    struct frame *f = delivered[k].frame;
    int e = encoded_index(f);
    assert_int_equal(encoded[e].kind, kinds[i]);
    assert_ptr_equal(encoded[e].worker, &workers[on_worker[i]]);
    assert_string_equal(encoded[e].serial, "100-0");
    /* A text frame for JSON, a binary one for msgpack. */
    assert_int_equal((unsigned char)f->data[0],
                     kinds[i] == FRAME_WS_JSON ? 0x81 : 0x82);
    assert_non_null(memmem(f->data, f->len, "greeting", 8));
  }
  assert_ptr_equal(delivered[nth(s[0], 0)].frame,
                   delivered[nth(s[1], 0)].frame);
  assert_ptr_not_equal(delivered[nth(s[0], 0)].frame,
                       delivered[nth(s[2], 0)].frame);
  assert_ptr_not_equal(delivered[nth(s[0], 0)].frame,
                       delivered[nth(s[3], 0)].frame);
  assert_ptr_not_equal(delivered[nth(s[2], 0)].frame,
                       delivered[nth(s[4], 0)].frame);
  for (int i = 0; i < 5; i++) unsubscribe(s[i]);
}

/* Nothing is posted, delivered nor encoded where nobody subscribes. */
static void test_publish_without_subscribers_sends_nothing(void **state) {
  (void)state;
  publish("100-0");
  assert_true(inboxes_empty());
  pump();
  assert_int_equal(n_encoded, 0);
  assert_int_equal(n_delivered, 0);
}

/* Each subscriber is offered the delivery; one that does not take it
 * gets nothing, and a kind nobody on a worker takes is not encoded there. */
static void test_unwanted_deliveries_not_encoded(void **state) {
  (void)state;
  struct test_sub *json_yes, *json_no, *msgpack_no, *far_msgpack_no;
  json_yes = new_sub(FRAME_WS_JSON, "chan");
  json_no = new_sub(FRAME_WS_JSON, "chan");
  msgpack_no = new_sub(FRAME_WS_MSGPACK, "chan");
  far_msgpack_no = new_sub(FRAME_WS_MSGPACK, "chan");
  json_no->wants = msgpack_no->wants = far_msgpack_no->wants = false;
  subscribe(json_yes, 0);
  subscribe(json_no, 0);
  subscribe(msgpack_no, 0);
  subscribe(far_msgpack_no, 1);
  pump();
  publish("150-0");
  pump();
  assert_int_equal(json_yes->offers, 1);
  assert_int_equal(json_no->offers, 1);
  assert_int_equal(msgpack_no->offers, 1);
  assert_int_equal(far_msgpack_no->offers, 1);
  assert_int_equal(n_delivered, 1);
  assert_int_equal(delivered_to(json_yes), 1);
  assert_int_equal(n_encoded, 1); /* JSON on worker 0; no msgpack anywhere */
  assert_int_equal(encoded[0].kind, FRAME_WS_JSON);
  assert_ptr_equal(encoded[0].worker, &workers[0]);

  msgpack_no->wants = true; /* now one msgpack subscriber on worker 0 does */
  publish("150-1");
  pump();
  assert_int_equal(n_delivered, 3);
  assert_int_equal(delivered_to(msgpack_no), 1);
  assert_int_equal(delivered_to(json_no), 0);
  assert_int_equal(delivered_to(far_msgpack_no), 0);
  assert_int_equal(n_encoded, 3); /* + JSON and msgpack on worker 0 */
  int e = encoded_index(delivered[nth(msgpack_no, 0)].frame);
  assert_int_equal(encoded[e].kind, FRAME_WS_MSGPACK);
  assert_ptr_equal(encoded[e].worker, &workers[0]);
  assert_string_equal(encoded[e].serial, "150-1");
  assert_int_equal(far_msgpack_no->offers, 2);
  unsubscribe(json_yes);
  unsubscribe(json_no);
  unsubscribe(msgpack_no);
  unsubscribe(far_msgpack_no);
}

/* An unsubscribed subscriber gets nothing more, at once: deliveries already
 * on their way to its worker find no subscriber and are not encoded; the
 * others still get theirs. Unsubscribing twice is harmless. */
static void test_unsubscribed_get_nothing_more(void **state) {
  (void)state;
  struct test_sub *stays, *leaves, *gone_a, *gone_b;
  stays = new_sub(FRAME_WS_JSON, "chan");
  leaves = new_sub(FRAME_WS_JSON, "chan");
  gone_a = new_sub(FRAME_WS_JSON, "chan");
  gone_b = new_sub(FRAME_WS_JSON, "chan2");
  subscribe(stays, 0);
  subscribe(leaves, 0);
  subscribe(gone_a, 1);
  subscribe(gone_b, 1);
  pump();
  publish("500-0");
  publish_on("chan2", "500-1", false, 0);
  pump();
  assert_int_equal(n_delivered, 4);
  assert_int_equal(n_encoded, 3); /* chan on both workers, chan2 on 1 */
  unsubscribe(leaves);
  unsubscribe(gone_a);
  unsubscribe(gone_b);
  unsubscribe(gone_b); /* twice is harmless */
  /* Published before the owner learns: posted, then dropped on arrival. */
  publish("500-2");
  publish_on("chan2", "500-3", false, 0);
  pump();
  assert_int_equal(delivered_to(stays), 2);
  assert_string_equal(delivered[nth(stays, 1)].serial, "500-2");
  assert_int_equal(delivered_to(leaves), 1);
  assert_int_equal(delivered_to(gone_a), 1);
  assert_int_equal(delivered_to(gone_b), 1);
  assert_int_equal(n_encoded, 4); /* + chan on worker 0 only */
  unsubscribe(stays);
}

/* The owner posts to a worker while it has a subscriber there; when the
 * last one leaves, the owner clears the worker from its record and posts
 * nothing more to it. */
static void test_last_subscriber_leaving_drops_registration(void **state) {
  (void)state;
  struct test_sub *a, *b, *elsewhere;
  a = new_sub(FRAME_WS_JSON, "chan");
  b = new_sub(FRAME_WS_JSON, "chan");
  elsewhere = new_sub(FRAME_WS_JSON, "chan");
  subscribe(a, 1);
  subscribe(b, 1);
  subscribe(elsewhere, 0);
  pump();
  unsubscribe(a);
  pump();
  publish("600-0");
  assert_false(inbox_empty(&workers[1])); /* still registered: b */
  pump();
  assert_int_equal(delivered_to(b), 1);
  unsubscribe(b);
  pump(); /* the owner learns */
  publish("600-1");
  assert_true(inbox_empty(&workers[1]));
  assert_false(inbox_empty(&workers[0]));
  pump();
  assert_int_equal(delivered_to(elsewhere), 2);
  assert_int_equal(delivered_to(b), 1);
  assert_int_equal(delivered_to(a), 0);
  assert_int_equal(n_encoded, 3); /* none for worker 1 the second time */
  unsubscribe(elsewhere);
}

/* A subscriber that leaves before the owner answered: the answer finds
 * nobody, positions nobody, the worker unregisters, and nothing is posted
 * there. */
static void test_unsubscribe_before_answer_unregisters(void **state) {
  (void)state;
  struct test_sub *early, *stays;
  early = new_sub(FRAME_WS_JSON, "chan");
  stays = new_sub(FRAME_WS_JSON, "chan");
  subscribe(stays, 0);
  subscribe(early, 1);
  unsubscribe(early);
  pump();
  assert_int_equal(positioned_calls, 1); /* stays only */
  assert_int_equal(early->positioned_calls, 0);
  publish("700-0");
  assert_true(inbox_empty(&workers[1]));
  pump();
  assert_int_equal(n_delivered, 1);
  assert_int_equal(delivered_to(stays), 1);
  assert_int_equal(n_encoded, 1); /* worker 0 only */
  assert_ptr_equal(encoded[0].worker, &workers[0]);
  unsubscribe(stays);
}

/* A worker whose last subscriber left, and that registers again before
 * the owner heard of either, may be posted a message from before its new
 * registration: it holds none before the position it is then told (that
 * message's serial), so the message is dropped, and the next one is
 * delivered. */
static void test_delivery_before_answer_dropped(void **state) {
  (void)state;
  struct test_sub *before = new_sub(FRAME_WS_JSON, "chan");
  struct test_sub *after = new_sub(FRAME_WS_JSON, "chan");
  subscribe(before, 1);
  pump();
  unsubscribe(before); /* posts the end of the registration ... */
  subscribe(after, 1); /* ... and a new one, neither read yet */
  publish("750-0");    /* still posted to worker 1 */
  assert_false(inbox_empty(&workers[1]));
  pump();
  assert_int_equal(after->positioned_calls, 1);
  assert_string_equal(after->told_position, "750-0");
  assert_int_equal(n_delivered, 0);
  assert_int_equal(n_encoded, 0);
  publish("750-1");
  pump();
  assert_int_equal(delivered_to(after), 1);
  assert_string_equal(delivered[nth(after, 0)].serial, "750-1");
  assert_int_equal(delivered_to(before), 0);
  unsubscribe(after);
}

/* Twenty publishes queued back to back reach every subscriber in serial
 * order; the channel's local position follows the last. */
static void test_order_by_serial_kept(void **state) {
  (void)state;
  struct test_sub *s[3];
  s[0] = new_sub(FRAME_WS_JSON, "chan");
  s[1] = new_sub(FRAME_WS_MSGPACK, "chan");
  s[2] = new_sub(FRAME_WS_JSON, "chan");
  subscribe(s[0], 0);
  subscribe(s[1], 0);
  subscribe(s[2], 1);
  pump();
  char serial[SERIAL_MAX];
  for (int i = 0; i < 20; i++) {
    snprintf(serial, sizeof serial, "800-%02d", i);
    publish(serial);
  }
  pump();
  assert_int_equal(n_encoded, 60); /* 20 x (JSON + msgpack on 0, JSON on 1) */
  for (int k = 0; k < 3; k++) {
    assert_int_equal(delivered_to(s[k]), 20);
    for (int i = 0; i < 20; i++) {
      snprintf(serial, sizeof serial, "800-%02d", i);
      int d = nth(s[k], i);
      assert_string_equal(delivered[d].serial, serial);
      assert_string_equal(encoded[encoded_index(delivered[d].frame)].serial,
                          serial);
    }
    assert_string_equal(fanout__position(&s[k]->sub), "800-19");
  }
  for (int k = 0; k < 3; k++) unsubscribe(s[k]);
}

/* The channel's presence member count travels with the position and each
 * delivery: a presence change sets it, a message keeps it, and a late
 * subscriber is told it with the position, at once on a registered worker
 * and through the owner on another. */
static void test_presence_members_travel_with_deliveries(void **state) {
  (void)state;
  struct test_sub *s, *near, *late;
  s = new_sub(FRAME_WS_JSON, "chan");
  near = new_sub(FRAME_WS_JSON, "chan");
  late = new_sub(FRAME_WS_JSON, "chan");
  subscribe(s, 0);
  pump();
  assert_int_equal(s->told_members, 0);
  assert_int_equal(fanout__presence_members(&s->sub), 0);
  publish_on("chan", "900-0", true, 3);
  pump();
  int d = nth(s, 0);
  assert_int_equal(delivered[d].action, PM_PRESENCE);
  assert_int_equal(delivered[d].members, 3);
  assert_int_equal(delivered[d].local_members, 3);
  assert_non_null(memmem(delivered[d].frame->data, delivered[d].frame->len,
                         "member", 6));
  assert_int_equal(fanout__presence_members(&s->sub), 3);
  publish("900-1");
  pump();
  d = nth(s, 1);
  assert_int_equal(delivered[d].action, PM_MESSAGE);
  assert_int_equal(delivered[d].members, 3); /* a message keeps it */
  assert_int_equal(fanout__presence_members(&s->sub), 3);

  subscribe(near, 0); /* registered worker: at once */
  assert_int_equal(near->positioned_calls, 1);
  assert_int_equal(near->told_members, 3);
  assert_string_equal(near->told_position, "900-1");
  subscribe(late, 1); /* through the owner */
  pump();
  assert_int_equal(late->positioned_calls, 1);
  assert_int_equal(late->told_members, 3);
  assert_string_equal(late->told_position, "900-1");

  publish_on("chan", "900-2", true, 2);
  pump();
  assert_int_equal(delivered[nth(late, 0)].members, 2);
  assert_int_equal(delivered[nth(late, 0)].local_members, 2);
  assert_int_equal(fanout__presence_members(&s->sub), 2);
  assert_int_equal(fanout__presence_members(&late->sub), 2);
  unsubscribe(s);
  unsubscribe(near);
  unsubscribe(late);
}

/* The owner keeps a channel's record (its position) while a worker
 * subscribes, however idle, and for a while after its last message once
 * none does; sweep then drops it, and a new registration starts from a
 * fresh position. */
static void test_sweep_drops_idle_unsubscribed_channels(void **state) {
  (void)state;
  struct worker *o = owner("chan");
  struct test_sub *s, *again, *third;
  s = new_sub(FRAME_WS_JSON, "chan");
  again = new_sub(FRAME_WS_JSON, "chan");
  third = new_sub(FRAME_WS_JSON, "chan");
  subscribe(s, 1);
  pump();
  publish("990-0");
  pump();
  int64_t now = clock__now_ms();
  current = o;
  fanout__sweep(o, now + 3600 * 1000); /* subscribed: kept however idle */
  publish("990-1");
  pump();
  assert_int_equal(delivered_to(s), 2); /* still posted: the record is kept */
  unsubscribe(s);
  pump();
  current = o;
  fanout__sweep(o, now); /* not idle yet */
  subscribe(again, 1);
  pump();
  assert_string_equal(again->told_position, "990-1"); /* kept */
  unsubscribe(again);
  pump();
  current = o;
  fanout__sweep(o, clock__now_ms() + 3600 * 1000); /* nobody, idle: dropped */
  publish("990-2");
  assert_true(inboxes_empty());
  int64_t since = clock__now_ms();
  subscribe(third, 1);
  pump();
  assert_fresh(third->told_position, since);
  unsubscribe(third);
}

static void collect_name(const char *name, void *arg) {
  char *names = arg;
  strcat(names, name);
  strcat(names, ",");
}

static int compare_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names fanout__each_channel gives for w's channels of app_id, sorted,
 * each followed by a comma. */
static const char *channels_of(int worker, const char *app_id) {
  static char out[256];
  char names[256] = "";
  fanout__each_channel(&workers[worker], app_id, collect_name, names);
  char *list[16];
  int n = 0;
  for (char *p = strtok(names, ","); p; p = strtok(NULL, ",")) {
    assert_true(n < 16);
    list[n++] = p;
  }
  qsort(list, (size_t)n, sizeof *list, compare_str);
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    strcat(out, list[i]);
    strcat(out, ",");
  }
  return out;
}

/* fanout__each_channel gives each of an app's channels a worker has
 * subscribers to, once, whether or not the owner answered yet; not another
 * app's, nor one whose subscribers all left. */
static void test_each_channel_lists_subscribed_channels(void **state) {
  (void)state;
  struct test_sub *c1, *c2a, *c2b, *other_app, *c3, *left;
  c1 = new_sub(FRAME_WS_JSON, "chan");
  c2a = new_sub(FRAME_WS_JSON, "chan2");
  c2b = new_sub(FRAME_WS_MSGPACK, "chan2");
  other_app = new_sub(FRAME_WS_JSON, "chan9");
  c3 = new_sub(FRAME_WS_JSON, "chan3");
  left = new_sub(FRAME_WS_JSON, "chan4");
  subscribe(c1, 0);
  subscribe(c2a, 0);
  subscribe(c2b, 0);
  subscribe_app(other_app, "app2", 0);
  subscribe(c3, 1);
  subscribe(left, 0);
  unsubscribe(left); /* before the answer: its channel lingers, empty */
  assert_string_equal(channels_of(0, "app1"), "chan,chan2,");
  assert_string_equal(channels_of(1, "app1"), "chan3,");
  assert_string_equal(channels_of(0, "app2"), "chan9,");
  assert_string_equal(channels_of(1, "app2"), "");
  pump();
  assert_string_equal(channels_of(0, "app1"), "chan,chan2,");
  unsubscribe(c2a);
  assert_string_equal(channels_of(0, "app1"), "chan,chan2,");
  unsubscribe(c2b);
  assert_string_equal(channels_of(0, "app1"), "chan,");
  unsubscribe(c1);
  unsubscribe(other_app);
  unsubscribe(c3);
  assert_string_equal(channels_of(0, "app1"), "");
  assert_string_equal(channels_of(0, "app2"), "");
  assert_string_equal(channels_of(1, "app1"), "");
}

/* fanout__count_subscribers adds a worker's subscribers to one channel to
 * an occupancy, by their modes; other channels', the departed and the
 * presence member count are not its to add. */
static void test_count_subscribers_by_mode(void **state) {
  (void)state;
  struct test_sub *a, *b, *c, *far, *other_channel, *departed;
  a = new_sub(FRAME_WS_JSON, "chan");
  b = new_sub(FRAME_WS_JSON, "chan");
  c = new_sub(FRAME_WS_MSGPACK, "chan");
  far = new_sub(FRAME_WS_JSON, "chan");
  other_channel = new_sub(FRAME_WS_JSON, "chan2");
  departed = new_sub(FRAME_WS_JSON, "chan");
  a->sub.modes = PM_FLAG_MODE_SUBSCRIBE | PM_FLAG_MODE_PUBLISH;
  b->sub.modes = PM_FLAG_MODE_PRESENCE | PM_FLAG_MODE_PRESENCE_SUBSCRIBE;
  c->sub.modes = PM_FLAG_MODE_OBJECT_PUBLISH | PM_FLAG_MODE_OBJECT_SUBSCRIBE |
                PM_FLAG_MODE_SUBSCRIBE;
  far->sub.modes = PM_FLAG_MODE_PUBLISH;
  other_channel->sub.modes = PM_FLAG_MODES;
  departed->sub.modes = PM_FLAG_MODES;
  subscribe(a, 0);
  subscribe(b, 0);
  subscribe(c, 0);
  subscribe(departed, 0);
  subscribe(far, 1);
  subscribe(other_channel, 0);
  pump();
  unsubscribe(departed);
  size_t key_len;
  char *key = fanout__channel_key(app.id, "chan", &key_len);

  struct occupancy o = {0};
  fanout__count_subscribers(&workers[0], key, key_len, &o);
  assert_int_equal(o.connections, 3);
  assert_int_equal(o.publishers, 1);
  assert_int_equal(o.subscribers, 2);
  assert_int_equal(o.presence_connections, 1);
  assert_int_equal(o.presence_subscribers, 1);
  assert_int_equal(o.object_publishers, 1);
  assert_int_equal(o.object_subscribers, 1);
  fanout__count_subscribers(&workers[1], key, key_len, &o); /* adds */
  assert_int_equal(o.connections, 4);
  assert_int_equal(o.publishers, 2);
  assert_int_equal(o.subscribers, 2);
  assert_int_equal(o.presence_connections, 1);
  assert_int_equal(o.presence_members, 0);

  struct occupancy none = {0};
  size_t other_len;
  char *other_key = fanout__channel_key("app2", "chan", &other_len);
  fanout__count_subscribers(&workers[0], other_key, other_len, &none);
  assert_int_equal(none.connections, 0);
  herald_free(other_key);

  unsubscribe(far);
  struct occupancy after = {0};
  fanout__count_subscribers(&workers[1], key, key_len, &after);
  assert_int_equal(after.connections, 0);
  herald_free(key);
  unsubscribe(a);
  unsubscribe(b);
  unsubscribe(c);
  unsubscribe(other_channel);
}

static void test_channel_keys(void **state) {
  (void)state;
  size_t len;
  char *key = fanout__channel_key("app1", "room:1", &len);
  assert_int_equal(len, 11);
  assert_memory_equal(key, "app1\nroom:1", 12);
  assert_string_equal(fanout__key_channel(key, len, "app1"), "room:1");
  assert_null(fanout__key_channel(key, len, "app"));
  assert_null(fanout__key_channel(key, len, "app12"));
  herald_free(key);
}

int main(void) {
  unsigned char seed[HASHMAP_SEED_BYTES] = {0};
  hashmap__seed(seed);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_registration_answers_position),
      T(test_one_delivery_per_subscriber_one_encoding_per_kind),
      T(test_publish_without_subscribers_sends_nothing),
      T(test_unwanted_deliveries_not_encoded),
      T(test_unsubscribed_get_nothing_more),
      T(test_last_subscriber_leaving_drops_registration),
      T(test_unsubscribe_before_answer_unregisters),
      T(test_delivery_before_answer_dropped),
      T(test_order_by_serial_kept),
      T(test_presence_members_travel_with_deliveries),
      T(test_sweep_drops_idle_unsubscribed_channels),
      T(test_each_channel_lists_subscribed_channels),
      T(test_count_subscribers_by_mode),
      T(test_channel_keys),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
