/* test_fanout.c -- from a channel's owner to every subscriber
 * (server/fanout.c), over two real workers' inboxes driven on this thread:
 * registration answered with the channel's position, one delivery per
 * subscriber encoded once per frame kind, echo, unsubscribing, the
 * owner's record of subscribed workers, ordering, the presence member count
 * travelling with deliveries, and sweep.
 *
 * fanout.c reaches three things outside it, replaced here with the
 * linker's --wrap (tests/unit/CMakeLists.txt): worker__self (the worker
 * whose loop the test is running), rt_channels__positioned (records the
 * call and makes the attachment live, as realtime_channels.c does for a
 * plain attach, or replaying when the test asks) and rt__send_frame
 * (records what each connection was sent). transport__pm_frame is wrapped
 * only to count encodings; the real one builds the frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "auth/apps.h"
#include "channel/channel.h"
#include "clock.h"
#include "channel/fanout.h"
#include "leak_check.h"
#include "transport/outbound.h"
#include "realtime/realtime.h"
#include "server.h"
#include "transport/transport.h"
#include "transport/websocket.h"

#define N_WORKERS 2
#define MAX_SENT 256

static struct server server;
static struct worker workers[N_WORKERS];
static struct realtime_worker rws[N_WORKERS];
static struct app app = {.id = (char *)"app1"};
static struct worker *current;

/* ---- The wrapped collaborators ---------------------------------------------- */

struct worker *__wrap_worker__self(void) { return current; }

static int positioned_calls;
static bool replay_next; /* the next positioned attachment replays */

void __wrap_rt_channels__positioned(struct attachment *a) {
  positioned_calls++;
  a->state = replay_next ? ATTACHMENT_REPLAYING : ATTACHMENT_LIVE;
}

/* Every frame fanout encoded, with what it encoded. */
static struct {
  struct frame *frame;
  enum frame_kind kind;
  char serial[SERIAL_MAX];
  struct worker *worker;
} encoded[MAX_SENT];
static int n_encoded;

struct frame *__real_transport__pm_frame(enum frame_kind kind,
                                         const struct protocol_message *pm);

struct frame *__wrap_transport__pm_frame(enum frame_kind kind,
                                         const struct protocol_message *pm) {
  struct frame *f = __real_transport__pm_frame(kind, pm);
  assert_true(n_encoded < MAX_SENT);
  encoded[n_encoded].frame = f;
  encoded[n_encoded].kind = kind;
  snprintf(encoded[n_encoded].serial, SERIAL_MAX, "%s", pm->channel_serial);
  encoded[n_encoded++].worker = current;
  return f;
}

/* Every frame sent, to whom, on which worker (a reference is kept). */
static struct {
  struct rt_conn *conn;
  struct frame *frame;
  struct worker *worker;
} sent[MAX_SENT];
static int n_sent;

void __wrap_rt__send_frame(struct rt_conn *c, struct frame *f) {
  assert_true(n_sent < MAX_SENT);
  sent[n_sent].conn = c;
  sent[n_sent].frame = frame__ref(f);
  sent[n_sent++].worker = current;
}

static int encoded_index(const struct frame *f) {
  for (int i = 0; i < n_encoded; i++)
    if (encoded[i].frame == f) return i;
  fail_msg("a frame fanout did not encode was sent");
  return -1;
}

/* How many frames c was sent. */
static int sent_to(const struct rt_conn *c) {
  int n = 0;
  for (int i = 0; i < n_sent; i++) n += sent[i].conn == c;
  return n;
}

/* The k-th frame c was sent. */
static struct frame *nth_sent(const struct rt_conn *c, int k) {
  for (int i = 0; i < n_sent; i++)
    if (sent[i].conn == c && k-- == 0) return sent[i].frame;
  fail_msg("fewer frames sent than expected");
  return NULL;
}

/* ---- Workers, driven on this thread ----------------------------------------- */

static bool inbox_empty(const struct worker *w) { return !w->inbox_head; }

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
  return channel__owner(&server, app.id, channel);
}

static struct realtime_worker *owner_rw(const char *channel) {
  return owner(channel)->realtime;
}

static int setup(void **state) {
  leak_check__setup(state);
  memset(&server, 0, sizeof server);
  snprintf(server.node_id, sizeof server.node_id, "testnode");
  server.workers = workers;
  server.n_workers = N_WORKERS;
  for (int i = 0; i < N_WORKERS; i++) {
    struct worker *w = &workers[i];
    memset(w, 0, sizeof *w);
    w->index = i;
    w->server = &server;
    assert_int_equal(worker__init_inbox(w), 0);
    w->channels = channel__table_new(server.node_id, i, clock__now_ms());
    memset(&rws[i], 0, sizeof rws[i]);
    rws[i].worker = w;
    hashmap__init(&rws[i].subscribed);
    hashmap__init(&rws[i].owned);
    w->realtime = &rws[i];
  }
  positioned_calls = n_encoded = n_sent = 0;
  replay_next = false;
  return 0;
}

static int teardown(void **state) {
  pump();
  for (int i = 0; i < n_sent; i++) frame__unref(sent[i].frame);
  for (int i = 0; i < N_WORKERS; i++) {
    struct worker *w = &workers[i];
    fanout__cleanup(&rws[i]);
    channel__table_free(w->channels);
    uv_close((uv_handle_t *)&w->inbox_signal, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    uv_mutex_destroy(&w->inbox_lock);
  }
  current = NULL;
  websocket__thread_cleanup();
  return leak_check__teardown(state);
}

/* ---- Subscribers ------------------------------------------------------------- */

struct subscriber {
  struct rt_conn conn;
  struct transport transport;
  struct outbound out;
  struct attachment a;
};

static void subscriber_init(struct subscriber *s, const char *conn_id,
                            enum frame_kind kind, const char *channel) {
  memset(s, 0, sizeof *s);
  snprintf(s->conn.id, sizeof s->conn.id, "%s", conn_id);
  s->conn.echo = true;
  s->conn.transport = &s->transport;
  s->transport.kind = kind;
  s->transport.out = &s->out;
  s->a.conn = &s->conn;
  s->a.name = (char *)channel;
  s->a.modes = PM_FLAG_MODE_SUBSCRIBE;
  s->a.echo = true;
}

static void subscribe(struct subscriber *s, int worker) {
  current = &workers[worker];
  s->conn.worker = &workers[worker];
  fanout__subscribe(&rws[worker], app.id, &s->a);
}

/* ---- Publishing --------------------------------------------------------------- */

/* Publishes one message (or presence change) on the owner, as channel.c
 * does once it was stamped and appended. */
static void publish_on(const char *channel, const char *serial,
                       const char *publisher, bool presence,
                       size_t presence_members) {
  struct message *m = message__new();
  m->serial = herald_xstrdup(serial);
  m->name = herald_xstrdup("greeting");
  m->connection_id = herald_xstrdup(publisher);
  m->timestamp = 1700000000000;
  if (presence) m->action = PRESENCE_ENTER;
  struct message *messages[] = {m};
  struct publish p = {
      .server = &server,
      .app = &app,
      .channel = (char *)channel,
      .messages = messages,
      .count = 1,
      .connection_id = (char *)publisher,
      .message_id = "pm-id",
      .presence = presence,
      .presence_members = presence_members,
  };
  current = owner(channel);
  fanout__published(current, &p);
  message__unref(m);
}

static void publish(const char *serial, const char *publisher) {
  publish_on("chan", serial, publisher, false, 0);
}

/* ---- Tests -------------------------------------------------------------------- */

/* Five subscribers on two workers, three of them JSON, two msgpack: one
 * publish reaches each once; each worker encodes it once per kind it has,
 * and subscribers of one kind on one worker share that frame. */
static void test_one_delivery_per_subscriber_one_encoding_per_kind(
    void **state) {
  (void)state;
  struct subscriber s[5];
  enum frame_kind kinds[] = {FRAME_WS_JSON, FRAME_WS_JSON, FRAME_WS_MSGPACK,
                             FRAME_WS_JSON, FRAME_WS_MSGPACK};
  int on_worker[] = {0, 0, 0, 1, 1};
  for (int i = 0; i < 5; i++) {
    char id[8];
    snprintf(id, sizeof id, "conn%d", i);
    subscriber_init(&s[i], id, kinds[i], "chan");
    subscribe(&s[i], on_worker[i]);
  }
  pump();
  assert_int_equal(positioned_calls, 5);
  publish("100-0", "publisher");
  pump();
  assert_int_equal(n_sent, 5);
  assert_int_equal(n_encoded, 4); /* (JSON, msgpack) x 2 workers */
  for (int i = 0; i < 5; i++) {
    assert_int_equal(sent_to(&s[i].conn), 1);
    struct frame *f = nth_sent(&s[i].conn, 0);
    int e = encoded_index(f);
    assert_int_equal(encoded[e].kind, kinds[i]);
    assert_ptr_equal(encoded[e].worker, &workers[on_worker[i]]);
    /* A text frame for JSON, a binary one for msgpack. */
    assert_int_equal((unsigned char)f->data[0],
                     kinds[i] == FRAME_WS_JSON ? 0x81 : 0x82);
    assert_non_null(memmem(f->data, f->len, "greeting", 8));
  }
  assert_ptr_equal(nth_sent(&s[0].conn, 0), nth_sent(&s[1].conn, 0));
  assert_ptr_not_equal(nth_sent(&s[0].conn, 0), nth_sent(&s[2].conn, 0));
  assert_ptr_not_equal(nth_sent(&s[0].conn, 0), nth_sent(&s[3].conn, 0));
  for (int i = 0; i < 5; i++) fanout__unsubscribe(&s[i].a);
}

/* Nothing is delivered, nor encoded, where nobody subscribes. */
static void test_publish_without_subscribers_sends_nothing(void **state) {
  (void)state;
  publish("100-0", "publisher");
  for (int i = 0; i < N_WORKERS; i++) assert_true(inbox_empty(&workers[i]));
  assert_null(hashmap__get(&owner_rw("chan")->owned, "app1\nchan", 9));
  pump();
  assert_int_equal(n_encoded, 0);
}

/* The first attachment on a worker waits for the owner's answer; it gets
 * the channel's position (the last serial fanned out), and a later
 * attachment there starts at the local position with no round trip. */
static void test_registration_answers_position(void **state) {
  (void)state;
  struct subscriber first, second, other;
  subscriber_init(&first, "first", FRAME_WS_JSON, "chan");
  subscriber_init(&second, "second", FRAME_WS_JSON, "chan");
  subscriber_init(&other, "other", FRAME_WS_JSON, "chan");
  subscribe(&first, 1);
  assert_int_equal(first.a.state, ATTACHMENT_WAITING);
  assert_int_equal(positioned_calls, 0);
  pump();
  assert_int_equal(positioned_calls, 1);
  assert_int_equal(first.a.state, ATTACHMENT_LIVE);
  char fresh[SERIAL_MAX];
  channel__next_position(owner("chan")->channels, fresh);
  assert_string_equal(first.a.position, fresh);
  publish("200-0", "publisher");
  pump();
  assert_string_equal(fanout__position(&first.a), "200-0");
  subscribe(&second, 1); /* registered: positioned at once */
  assert_int_equal(positioned_calls, 2);
  assert_string_equal(second.a.position, "200-0");
  assert_true(inbox_empty(&workers[0]) && inbox_empty(&workers[1]));
  subscribe(&other, 0); /* a new worker asks the owner */
  assert_int_equal(positioned_calls, 2);
  pump();
  assert_int_equal(positioned_calls, 3);
  assert_string_equal(other.a.position, "200-0");
  fanout__unsubscribe(&first.a);
  fanout__unsubscribe(&second.a);
  fanout__unsubscribe(&other.a);
}

/* echo=false (on the connection or the attachment): the subscriber's own
 * messages are not delivered to it; others' are. */
static void test_echo_false_skips_own_messages(void **state) {
  (void)state;
  struct subscriber conn_off, attach_off, on;
  subscriber_init(&conn_off, "connoff", FRAME_WS_JSON, "chan");
  subscriber_init(&attach_off, "attoff", FRAME_WS_JSON, "chan");
  subscriber_init(&on, "echoon", FRAME_WS_JSON, "chan");
  conn_off.conn.echo = false;
  attach_off.a.echo = false;
  subscribe(&conn_off, 0);
  subscribe(&attach_off, 0);
  subscribe(&on, 1);
  pump();
  publish("300-0", "connoff");
  publish("300-1", "attoff");
  publish("300-2", "echoon");
  pump();
  assert_int_equal(sent_to(&conn_off.conn), 2);
  assert_int_equal(sent_to(&attach_off.conn), 2);
  assert_int_equal(sent_to(&on.conn), 3); /* its own too: echo on */
  assert_string_equal(encoded[encoded_index(nth_sent(&conn_off.conn, 0))].serial,
                      "300-1");
  assert_string_equal(
      encoded[encoded_index(nth_sent(&attach_off.conn, 0))].serial, "300-0");
  fanout__unsubscribe(&conn_off.a);
  fanout__unsubscribe(&attach_off.a);
  fanout__unsubscribe(&on.a);
}

/* An attachment without the subscribe mode gets no messages; a presence
 * change reaches presence subscribers, and any attachment of a member's
 * own connection. */
static void test_modes_select_deliveries(void **state) {
  (void)state;
  struct subscriber publisher_only, presence_sub, member;
  subscriber_init(&publisher_only, "pubonly", FRAME_WS_JSON, "chan");
  subscriber_init(&presence_sub, "presub", FRAME_WS_JSON, "chan");
  subscriber_init(&member, "member", FRAME_WS_JSON, "chan");
  publisher_only.a.modes = PM_FLAG_MODE_PUBLISH;
  presence_sub.a.modes = PM_FLAG_MODE_PRESENCE_SUBSCRIBE;
  subscribe(&publisher_only, 0);
  subscribe(&presence_sub, 0);
  subscribe(&member, 1);
  pump();
  publish("400-0", "someone");
  publish_on("chan", "400-1", "member", true, 1);
  pump();
  assert_int_equal(sent_to(&publisher_only.conn), 0);
  assert_int_equal(sent_to(&presence_sub.conn), 1);
  assert_int_equal(sent_to(&member.conn), 2); /* its message, its member */
  fanout__unsubscribe(&publisher_only.a);
  fanout__unsubscribe(&presence_sub.a);
  fanout__unsubscribe(&member.a);
}

/* An unsubscribed attachment, and a connection whose attachments all went
 * (what a detaching connection does: rt_channels__detach_all), get
 * nothing more; the others still do. */
static void test_unsubscribed_get_nothing_more(void **state) {
  (void)state;
  struct subscriber stays, leaves, gone_a, gone_b;
  subscriber_init(&stays, "stays", FRAME_WS_JSON, "chan");
  subscriber_init(&leaves, "leaves", FRAME_WS_JSON, "chan");
  subscriber_init(&gone_a, "gone", FRAME_WS_JSON, "chan");
  subscriber_init(&gone_b, "gone", FRAME_WS_JSON, "chan2");
  subscribe(&stays, 0);
  subscribe(&leaves, 0);
  gone_b.a.conn = &gone_a.conn; /* one connection, two channels */
  subscribe(&gone_a, 1);
  subscribe(&gone_b, 1);
  pump();
  publish("500-0", "publisher");
  publish_on("chan2", "500-1", "publisher", false, 0);
  pump();
  assert_int_equal(n_sent, 4);
  fanout__unsubscribe(&leaves.a);
  fanout__unsubscribe(&gone_a.a);
  fanout__unsubscribe(&gone_b.a);
  fanout__unsubscribe(&gone_b.a); /* twice is harmless */
  publish("500-2", "publisher");
  publish_on("chan2", "500-3", "publisher", false, 0);
  pump();
  assert_int_equal(sent_to(&stays.conn), 2);
  assert_int_equal(sent_to(&leaves.conn), 1);
  assert_int_equal(sent_to(&gone_a.conn), 2); /* one per channel, before */
  fanout__unsubscribe(&stays.a);
}

/* The owner posts to a worker while it has a subscriber there; when the
 * last one leaves, the worker's registration is dropped: its record goes
 * and the owner posts nothing more to it. */
static void test_last_subscriber_leaving_drops_registration(void **state) {
  (void)state;
  struct subscriber a, b, elsewhere;
  subscriber_init(&a, "a", FRAME_WS_JSON, "chan");
  subscriber_init(&b, "b", FRAME_WS_JSON, "chan");
  subscriber_init(&elsewhere, "elsewhere", FRAME_WS_JSON, "chan");
  subscribe(&a, 1);
  subscribe(&b, 1);
  subscribe(&elsewhere, 0);
  pump();
  fanout__unsubscribe(&a.a);
  pump();
  publish("600-0", "publisher");
  assert_false(inbox_empty(&workers[1])); /* still registered: b */
  pump();
  assert_int_equal(sent_to(&b.conn), 1);
  fanout__unsubscribe(&b.a);
  assert_null(hashmap__get(&rws[1].subscribed, "app1\nchan", 9));
  pump(); /* the owner learns */
  publish("600-1", "publisher");
  assert_true(inbox_empty(&workers[1]));
  pump();
  assert_int_equal(sent_to(&elsewhere.conn), 2);
  assert_int_equal(sent_to(&b.conn), 1);
  assert_int_equal(n_encoded, 3); /* none for worker 1 the second time */
  fanout__unsubscribe(&elsewhere.a);
}

/* An attachment that leaves before the owner answered: the answer finds
 * no attachment, the worker unregisters, and nothing is delivered there. */
static void test_unsubscribe_before_answer_unregisters(void **state) {
  (void)state;
  struct subscriber early, stays;
  subscriber_init(&early, "early", FRAME_WS_JSON, "chan");
  subscriber_init(&stays, "stays", FRAME_WS_JSON, "chan");
  subscribe(&stays, 0);
  subscribe(&early, 1);
  fanout__unsubscribe(&early.a);
  pump();
  assert_int_equal(positioned_calls, 1); /* stays only */
  assert_null(hashmap__get(&rws[1].subscribed, "app1\nchan", 9));
  publish("700-0", "publisher");
  pump();
  assert_int_equal(n_sent, 1);
  assert_int_equal(n_encoded, 1); /* worker 0 only */
  assert_ptr_equal(encoded[0].worker, &workers[0]);
  fanout__unsubscribe(&stays.a);
}

/* Twenty publishes queued back to back reach every subscriber in serial
 * order; the channel's local position follows the last. */
static void test_order_by_serial_kept(void **state) {
  (void)state;
  struct subscriber s[3];
  subscriber_init(&s[0], "s0", FRAME_WS_JSON, "chan");
  subscriber_init(&s[1], "s1", FRAME_WS_MSGPACK, "chan");
  subscriber_init(&s[2], "s2", FRAME_WS_JSON, "chan");
  subscribe(&s[0], 0);
  subscribe(&s[1], 0);
  subscribe(&s[2], 1);
  pump();
  char serial[SERIAL_MAX];
  for (int i = 0; i < 20; i++) {
    snprintf(serial, sizeof serial, "800-%02d", i);
    publish(serial, "publisher");
  }
  pump();
  for (int k = 0; k < 3; k++) {
    assert_int_equal(sent_to(&s[k].conn), 20);
    for (int i = 0; i < 20; i++) {
      snprintf(serial, sizeof serial, "800-%02d", i);
      assert_string_equal(
          encoded[encoded_index(nth_sent(&s[k].conn, i))].serial, serial);
    }
    assert_string_equal(fanout__position(&s[k].a), "800-19");
  }
  for (int k = 0; k < 3; k++) fanout__unsubscribe(&s[k].a);
}

/* The channel's presence member count travels with the position and each
 * delivery: a presence change sets it, a message keeps it, and a late
 * attachment on another worker is told it with the position. */
static void test_presence_members_travel_with_deliveries(void **state) {
  (void)state;
  struct subscriber s, late;
  subscriber_init(&s, "s", FRAME_WS_JSON, "chan");
  subscriber_init(&late, "late", FRAME_WS_JSON, "chan");
  subscribe(&s, 0);
  pump();
  assert_int_equal(fanout__presence_members(&s.a), 0);
  publish_on("chan", "900-0", "publisher", true, 3);
  pump();
  assert_int_equal(fanout__presence_members(&s.a), 3);
  publish("900-1", "publisher");
  pump();
  assert_int_equal(fanout__presence_members(&s.a), 3);
  subscribe(&late, 1);
  pump();
  assert_int_equal(fanout__presence_members(&late.a), 3);
  assert_string_equal(late.a.position, "900-1");
  fanout__unsubscribe(&s.a);
  fanout__unsubscribe(&late.a);
}

/* A replaying attachment holds live deliveries (the same frame a live
 * subscriber of its kind is sent) instead of being sent them. */
static void test_replaying_attachment_holds_deliveries(void **state) {
  (void)state;
  struct subscriber live, replaying;
  subscriber_init(&live, "live", FRAME_WS_JSON, "chan");
  subscriber_init(&replaying, "replaying", FRAME_WS_JSON, "chan");
  subscribe(&live, 0);
  pump();
  replay_next = true;
  subscribe(&replaying, 0);
  replay_next = false;
  assert_int_equal(replaying.a.state, ATTACHMENT_REPLAYING);
  publish("950-0", "publisher");
  pump();
  assert_int_equal(sent_to(&replaying.conn), 0);
  assert_int_equal(replaying.a.n_held, 1);
  assert_ptr_equal(replaying.a.held[0].frame, nth_sent(&live.conn, 0));
  assert_int_equal(replaying.conn.held_bytes, replaying.a.held[0].frame->len);
  assert_int_equal(n_encoded, 1);
  frame__unref(replaying.a.held[0].frame);
  delivery__unref(replaying.a.held[0].delivery);
  herald_free(replaying.a.held);
  fanout__unsubscribe(&live.a);
  fanout__unsubscribe(&replaying.a);
}

/* The owner keeps a channel's record while a worker subscribes, and for a
 * while after its last message once none does; sweep then drops it, and
 * a new registration starts from a fresh position. */
static void test_sweep_drops_idle_unsubscribed_channels(void **state) {
  (void)state;
  struct realtime_worker *rw = owner_rw("chan");
  struct subscriber s, again;
  subscriber_init(&s, "s", FRAME_WS_JSON, "chan");
  subscriber_init(&again, "again", FRAME_WS_JSON, "chan");
  subscribe(&s, 1);
  pump();
  publish("990-0", "publisher");
  pump();
  int64_t now = clock__now_ms();
  fanout__sweep(rw, now + 3600 * 1000); /* subscribed: kept however idle */
  assert_non_null(hashmap__get(&rw->owned, "app1\nchan", 9));
  fanout__unsubscribe(&s.a);
  pump();
  fanout__sweep(rw, now); /* not idle yet */
  assert_non_null(hashmap__get(&rw->owned, "app1\nchan", 9));
  fanout__sweep(rw, now + 3600 * 1000);
  assert_null(hashmap__get(&rw->owned, "app1\nchan", 9));
  subscribe(&again, 1);
  pump();
  assert_string_not_equal(again.a.position, "990-0");
  fanout__unsubscribe(&again.a);
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
      T(test_one_delivery_per_subscriber_one_encoding_per_kind),
      T(test_publish_without_subscribers_sends_nothing),
      T(test_registration_answers_position),
      T(test_echo_false_skips_own_messages),
      T(test_modes_select_deliveries),
      T(test_unsubscribed_get_nothing_more),
      T(test_last_subscriber_leaving_drops_registration),
      T(test_unsubscribe_before_answer_unregisters),
      T(test_order_by_serial_kept),
      T(test_presence_members_travel_with_deliveries),
      T(test_replaying_attachment_holds_deliveries),
      T(test_sweep_drops_idle_unsubscribed_channels),
      T(test_channel_keys),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
