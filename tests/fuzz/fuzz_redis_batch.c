/* fuzz_redis_batch.c -- libFuzzer target for what the redis engine reads
 * back from Redis (any node wrote it): a stored publish, through
 * redis_batch__decode, as history and the pub/sub feed decode it, and a
 * mutable message's stored state or version ("<id> <batch>"), through
 * redis_batch__decode_state, and an annotated message's stored summary
 * (the same form), through redis_batch__decode_summary.
 *
 * Whatever the bytes, decoding ends in a batch (a state) or an error
 * without a crash, a leak or undefined behaviour. What decodes must
 * survive the way back: a batch encoded again with the node its serials
 * name decodes to the same serials; a state stored again under another
 * entry id decodes to the same change of the same message, with the serial
 * that id gives; an annotation encoded again keeps its message and its
 * summary counting up to it. */
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
  char *bytes = b->latest ? redis_batch__encode_annotation(
                               node, b->message_id, b->connection_id,
                               b->messages[0], b->latest, &len)
                         : redis_batch__encode(node, b->message_id,
                                               b->connection_id, b->messages,
                                               b->count, &len);
  herald_free(node);
  if (!bytes) fail("a decoded batch could not be encoded");
  struct redis_batch again;
  herald_error err;
  if (redis_batch__decode(bytes, len, 1700000000000, 7, &again, &err))
    fail("an encoded batch did not decode");
  if (again.count != b->count) fail("the round trip changed the count");
  if ((again.latest != NULL) != (b->latest != NULL) ||
      (b->latest && (strcmp(again.latest->serial, b->latest->serial) ||
                     strcmp(again.latest->summary_serial,
                            again.messages[0]->serial))))
    fail("the round trip changed the annotated message");
  for (size_t i = 0; i < b->count; i++)
    if (strcmp(again.messages[i]->serial, b->messages[i]->serial))
      fail("the round trip changed a serial");
  redis_batch__cleanup(&again);
  herald_free(bytes);
}

static void round_trip_state(const struct message *m) {
  char *node = node_of(m->serial);
  size_t len;
  char *bytes = redis_batch__encode(node, "id", m->connection_id,
                                    (struct message *const *)&m, 1, &len);
  if (!bytes) fail("a decoded state could not be encoded");
  char *value = herald_xmalloc(len + 16);
  memcpy(value, "1700000000000-7 ", 16);
  memcpy(value + 16, bytes, len);
  herald_free(bytes);
  struct message *again = NULL;
  herald_error err;
  if (redis_batch__decode_state(value, len + 16, &again, &err))
    fail("an encoded state did not decode");
  char serial[SERIAL_MAX];
  serial__format(serial, 1700000000000, 7, node, 0);
  if (strcmp(again->serial, serial) || again->action != m->action ||
      strcmp(again->version->of, m->version->of) ||
      again->version->created != m->version->created)
    fail("the round trip changed the state");
  message__unref(again);
  herald_free(value);
  herald_free(node);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct redis_batch b;
  herald_error err;
  if (redis_batch__decode((const char *)data, size, 1700000000000, 7, &b,
                          &err) == 0) {
    round_trip(&b);
    redis_batch__cleanup(&b);
  }
  struct message *state = NULL;
  if (redis_batch__decode_state((const char *)data, size, &state, &err) == 0) {
    round_trip_state(state);
    message__unref(state);
  }
  struct message *summarised = NULL;
  if (redis_batch__decode_summary((const char *)data, size, &summarised,
                                  &err) == 0) {
    if (!summarised->summary || !summarised->summary_serial)
      fail("a decoded summary without its summary");
    message__unref(summarised);
  }
  return 0;
}
