/* test_counters.c -- server/core/counters.c and metrics.c: workers add to
 * their own slots and other threads to the shared one, concurrently, and
 * a reader's sum loses nothing; histogram buckets by their bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "core/counters.h"
#include "core/metrics.h"
#include "core/worker.h"
#include "leak_check.h"

#define WORKERS 3
#define ADDS 100000

static struct counters *block;
static uv_sem_t added;

struct adder {
  struct worker_task task;
  int64_t step;
};

static void add_many(int64_t step) {
  for (int i = 0; i < ADDS; i++) {
    counters__add(block, 0, step);
    counters__add(block, 2, 1);
  }
}

static void on_worker(struct worker_task *task) {
  add_many(((struct adder *)task)->step);
  uv_sem_post(&added);
}

static void on_thread(void *arg) {
  add_many(*(int64_t *)arg);
  uv_sem_post(&added);
}

static void test_sum_of_slots(void **state) {
  (void)state;
  counters__set_workers(WORKERS);
  block = counters__new(3);
  uv_sem_init(&added, 0);
  struct worker_pool pool = {.n = WORKERS};
  struct worker workers[WORKERS];
  pool.workers = workers;
  struct adder adders[WORKERS];
  for (int i = 0; i < WORKERS; i++) assert_int_equal(worker__init(&workers[i], &pool, i), 0);
  for (int i = 0; i < WORKERS; i++) assert_int_equal(worker__start(&workers[i]), 0);
  for (int i = 0; i < WORKERS; i++) {
    adders[i].step = i + 1;
    worker__post(&workers[i], &adders[i].task, on_worker);
  }
  /* two threads that are no workers share the last slot */
  int64_t minus = -1;
  uv_thread_t others[2];
  for (int i = 0; i < 2; i++) uv_thread_create(&others[i], on_thread, &minus);
  for (int i = 0; i < WORKERS + 2; i++) uv_sem_wait(&added);
  for (int i = 0; i < 2; i++) uv_thread_join(&others[i]);
  /* workers add 1, 2, 3 a time; the others -1 each */
  assert_int_equal(counters__sum(block, 0), (int64_t)ADDS * (1 + 2 + 3 - 2));
  assert_int_equal(counters__sum(block, 1), 0);
  assert_int_equal(counters__sum(block, 2), (int64_t)ADDS * (WORKERS + 2));
  for (int i = 0; i < WORKERS; i++) worker__exit(&workers[i]);
  for (int i = 0; i < WORKERS; i++) worker__join(&workers[i]);
  for (int i = 0; i < WORKERS; i++) worker__cleanup(&workers[i]);
  uv_sem_destroy(&added);
  counters__free(block);
}

static void test_histogram(void **state) {
  (void)state;
  metrics__init();
  metrics__observe(METRIC_PUBLISH_LATENCY, 50);      /* <= 100 us */
  metrics__observe(METRIC_PUBLISH_LATENCY, 100);     /* still <= 100 us */
  metrics__observe(METRIC_PUBLISH_LATENCY, 101);     /* <= 250 us */
  metrics__observe(METRIC_PUBLISH_LATENCY, 9000000); /* past the last: +Inf */
  metrics__observe(METRIC_STORE_LATENCY, 300);
  metrics__add(METRIC_BYTES_OUT, 7);
  struct metric_snapshot s;
  metrics__histogram(METRIC_PUBLISH_LATENCY, &s);
  assert_int_equal(s.counts[0], 2);
  assert_int_equal(s.counts[1], 1);
  assert_int_equal(s.counts[METRIC_BUCKETS], 1);
  assert_int_equal(s.count, 4);
  assert_int_equal(s.sum_us, 50 + 100 + 101 + 9000000);
  metrics__histogram(METRIC_STORE_LATENCY, &s);
  assert_int_equal(s.count, 1);
  assert_int_equal(s.counts[2], 1);
  assert_int_equal(metrics__value(METRIC_BYTES_OUT), 7);
  metrics__cleanup();
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_sum_of_slots),
      TEST(test_histogram),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
