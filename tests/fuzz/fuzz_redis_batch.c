/* fuzz_redis_batch.c -- libFuzzer target for what the redis engine reads
 * back from Redis (any node wrote it): a stored publish, through
 * redis_batch__decode, as history and the pub/sub feed decode it.
 *
 * Whatever the bytes, decoding ends in a batch or an error without a
 * crash, a leak or undefined behaviour. What decodes must survive the way
 * back: encoded again with the node its serials name, it decodes to the
 * same serials. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "serial.h"
#include "store/redis_batch.h"

static void fail(const char *what) {
  fprintf(stderr, "%s\n", what);
  abort();
}

/* The node part of a serial "<ms>-<seq>@<node>:<index>". */
static char *node_of(const char *serial) {
  const char *at = strchr(serial, '@'), *colon = strrchr(serial, ':');
  return herald_xstrndup(at + 1, (size_t)(colon - at - 1));
}

static void round_trip(const struct redis_batch *b) {
  char *node = node_of(b->messages[0]->serial);
  size_t len;
  char *bytes = redis_batch__encode(node, b->message_id, b->connection_id,
                                    b->messages, b->count, &len);
  herald_free(node);
  if (!bytes) fail("a decoded batch could not be encoded");
  struct redis_batch again;
  herald_error err;
  if (redis_batch__decode(bytes, len, 1700000000000, 7, &again, &err))
    fail("an encoded batch did not decode");
  if (again.count != b->count) fail("the round trip changed the count");
  for (size_t i = 0; i < b->count; i++)
    if (strcmp(again.messages[i]->serial, b->messages[i]->serial))
      fail("the round trip changed a serial");
  redis_batch__cleanup(&again);
  herald_free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct redis_batch b;
  herald_error err;
  if (redis_batch__decode((const char *)data, size, 1700000000000, 7, &b,
                          &err) == 0) {
    round_trip(&b);
    redis_batch__cleanup(&b);
  }
  return 0;
}
