/* heraldd_helper.h -- starts the real heraldd for libherald's tests: a free
 * port chosen by the OS, a temporary data directory, a config with the
 * test keys; stops it with SIGTERM. */
#ifndef HERALD_TEST_HERALDD_HELPER_H
#define HERALD_TEST_HERALDD_HELPER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#define TEST_KEY "testapp.root:secretroot"
#define TEST_SUB_KEY "testapp.sub:secretsub" /* subscribe only */

struct test_server {
  pid_t pid;
  int port;
  char dir[64];
};

/* Starts build/heraldd (HERALDD_PATH) and waits for its "listening on"
 * line. Returns 0, or -1 (the test fails). */
int test_server__start(struct test_server *s);
void test_server__stop(struct test_server *s);

/* A port nothing listens on (bound, then closed). */
int test_server__closed_port(void);

/* A server on a free port that answers every request with a 500 (and
 * counts them), or, hanging, accepts connections and never answers. */
struct fake_server {
  int fd, port;
  bool hang;
  atomic_int requests;
  pthread_t thread;
};
int fake_server__start(struct fake_server *f, bool hang);
void fake_server__stop(struct fake_server *f);

#endif
