/* test_channel.c -- channel ownership (server/channel/channel.h): owners spread
 * over the workers, and names chosen to share one owner under one hash
 * key spread again under another (the key is per process, so a client
 * cannot pick names that pin every channel on one worker). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "channel/channel.h"
#include "hashmap.h"

#define WORKERS 4
#define NAMES 1000

static struct worker workers[WORKERS];
static struct worker_pool pool = {.workers = workers, .n = WORKERS};
static struct channels channels = {.pool = &pool};

static int owner_index(const char *name) {
  return (int)(channel__owner(&channels, "app", name) - workers);
}

static void seed_with(unsigned char first) {
  unsigned char seed[HASHMAP_SEED_BYTES] = {first};
  hashmap__seed(seed);
}

/* Every worker owns between 15% and 35% of NAMES names (25% is even). */
static void assert_spread(char names[][16], size_t n) {
  size_t counts[WORKERS] = {0};
  for (size_t i = 0; i < n; i++) counts[owner_index(names[i])]++;
  for (int w = 0; w < WORKERS; w++) {
    assert_true(counts[w] > n * 15 / 100);
    assert_true(counts[w] < n * 35 / 100);
  }
}

static char names[NAMES][16];

static void test_owners_spread(void **state) {
  (void)state;
  seed_with(1);
  for (size_t i = 0; i < NAMES; i++) snprintf(names[i], 16, "room-%zu", i);
  assert_spread(names, NAMES);
}

static void test_pinned_names_spread_under_another_key(void **state) {
  (void)state;
  seed_with(2);
  size_t found = 0;
  for (unsigned i = 0; found < NAMES; i++) {
    char name[16];
    snprintf(name, sizeof name, "pin-%u", i);
    if (owner_index(name) == 0) memcpy(names[found++], name, sizeof name);
  }
  seed_with(3);
  assert_spread(names, NAMES);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_owners_spread),
      cmocka_unit_test(test_pinned_names_spread_under_another_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
