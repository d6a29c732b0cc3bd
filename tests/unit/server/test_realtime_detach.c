/* test_realtime_detach.c -- a connection losing its transport on its home
 * worker while a resume on another worker claims it
 * (server/realtime/realtime.c, become_detached): the claim is kept, so
 * that the resume's release finds it.
 *
 * A comet client's /disconnect and its resume's /comet/connect arrive
 * together, often on different workers: the home drops the transport and
 * detaches the connection while the other worker claims it. The claim may
 * land at any instant of the detach. Here it lands at the detach's clock
 * read (the expiry it computes), which came after the home looked at the
 * state and before it changed it when the check and the change were two
 * steps: clock_gettime is replaced with the linker's --wrap
 * (tests/unit/CMakeLists.txt) by one that claims the connection on its
 * first call once armed.
 *
 * The connection is a bare struct rt_conn in a real registry, bound to a
 * transport of the test's own that records what it is sent and its
 * close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "auth/apps.h"
#include "core/worker.h"
#include "realtime/connection_registry.h"
#include "realtime/realtime.h"
#include "transport/transport.h"
#include "leak_check.h"

#define TTL_MS 120000

int __real_clock_gettime(clockid_t id, struct timespec *ts);

struct fixture {
  struct config cfg;
  struct realtime realtime;
  struct worker worker;
  struct transport transport;
  struct rt_conn conn;
  int sent_action; /* of the last ProtocolMessage sent, or -1 */
  int closes;
};

static struct app app;
static struct rt_resume *const resume_claim = (struct rt_resume *)&app;
static struct fixture *armed; /* claims armed->conn at the next clock read */
static int claims;

int __wrap_clock_gettime(clockid_t id, struct timespec *ts) {
  struct fixture *f = armed;
  armed = NULL;
  if (f) {
    herald_error err;
    struct auth auth = {.app = &app};
    assert_ptr_equal(connection_registry__claim(&f->realtime.connections,
                                                f->conn.key, &auth,
                                                resume_claim, &err),
                     &f->conn);
    claims++;
  }
  return __real_clock_gettime(id, ts);
}

static struct fixture *of_transport(struct transport *t) {
  return (struct fixture *)((char *)t - offsetof(struct fixture, transport));
}

static void fake_send(struct transport *t, const struct protocol_message *pm) {
  of_transport(t)->sent_action = pm->action;
}

static void fake_close(struct transport *t) { of_transport(t)->closes++; }

static int setup(void **state) {
  leak_check__setup(state);
  static struct fixture f;
  memset(&f, 0, sizeof f);
  f.cfg.connection_state_ttl_ms = TTL_MS;
  f.realtime.cfg = &f.cfg;
  connection_registry__init(&f.realtime.connections);
  f.transport = (struct transport){.send = fake_send, .close = fake_close,
                                   .owner = &f.conn};
  f.sent_action = -1;
  f.conn = (struct rt_conn){.realtime = &f.realtime, .worker = &f.worker,
                            .app = &app, .transport = &f.transport};
  ack_queue__init(&f.conn.acks, 4);
  hashmap__init(&f.conn.attachments);
  connection_registry__add(&f.realtime.connections, &f.conn);
  armed = NULL;
  claims = 0;
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  armed = NULL;
  connection_registry__settle(&f->realtime.connections, &f->conn, RT_LIVE);
  assert_true(
      connection_registry__remove(&f->realtime.connections, &f->conn, 0, true));
  hashmap__cleanup(&f->conn.attachments);
  ack_queue__cleanup(&f->conn.acks);
  connection_registry__cleanup(&f->realtime.connections);
  return leak_check__teardown(state);
}

static void disconnect(struct fixture *f) {
  herald_error err;
  herald_error_set(&err, HERALD_E_DISCONNECTED, "test");
  realtime__disconnect(&f->conn, &err);
  assert_int_equal(f->sent_action, PM_DISCONNECTED);
  assert_int_equal(f->closes, 1);
  assert_null(f->conn.transport);
}

static void test_without_a_claim_the_connection_is_resumable_until_its_ttl(
    void **state) {
  struct fixture *f = *state;
  struct timespec ts;
  __real_clock_gettime(CLOCK_REALTIME, &ts);
  int64_t before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  disconnect(f);
  assert_int_equal(f->conn.state, RT_DETACHED);
  assert_null(f->conn.claim);
  assert_true(f->conn.expires_at >= before + TTL_MS);
  assert_true(f->conn.expires_at < before + TTL_MS + 60000);
}

static void test_a_claim_landing_during_the_detach_is_kept(void **state) {
  struct fixture *f = *state;
  armed = f;
  disconnect(f);
  assert_int_equal(claims, 1); /* the claim did land during the detach */
  assert_int_equal(f->conn.state, RT_MOVING);
  assert_ptr_equal(f->conn.claim, resume_claim);
  assert_false(
      connection_registry__remove(&f->realtime.connections, &f->conn, 0, true));
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      CASE(test_without_a_claim_the_connection_is_resumable_until_its_ttl),
      CASE(test_a_claim_landing_during_the_detach_is_kept),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
