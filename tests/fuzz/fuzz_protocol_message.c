/* fuzz_protocol_message.c -- libFuzzer target for what a realtime client
 * sends: a ProtocolMessage in either wire format (the first input byte
 * picks JSON or MessagePack), through wire_doc__parse and
 * protocol_message__decode, as websocket.c hands frames to realtime.c.
 *
 * Whatever the bytes, decoding must end in a value or an error without a
 * crash, a leak or undefined behaviour (ASan, LeakSanitizer, UBSan). What
 * decodes must also survive the way back: written in both formats, it
 * parses and decodes again, with as many annotations (ANNOTATION, action
 * 21: annotation.c's decoder and writer).
 *
 * msgpack-c reserves a container's declared size before it reads the
 * elements, so five bytes (an array32 header) could ask for gigabytes;
 * wire_doc__parse refuses such a header first (common/wire_bounds.c), so
 * `make fuzz` runs with libFuzzer's default malloc limit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "protocol_message.h"
#include "wire.h"

#define MAX_MESSAGES 1000 /* as realtime.c's RT_MAX_MESSAGES_PER_PM */

static void fail(const char *what, enum wire_format format) {
  fprintf(stderr, "%s (%s)\n", what, format == WIRE_JSON ? "JSON" : "msgpack");
  abort();
}

/* pm written in format, then parsed and decoded again. */
static void round_trip(const struct protocol_message *pm, enum wire_format format) {
  struct wire_writer w;
  wire_writer__init(&w, format);
  protocol_message__write(pm, &w);
  size_t len;
  char *bytes = wire_writer__finish(&w, &len);
  wire_writer__cleanup(&w);
  if (!bytes) fail("a decoded ProtocolMessage could not be written", format);
  struct wire_doc doc;
  herald_error err;
  struct protocol_message again;
  if (wire_doc__parse(&doc, format, bytes, len, &err) ||
      protocol_message__decode(wire_doc__root(&doc), MAX_MESSAGES, &again, &err)) {
    fprintf(stderr, "%.*s\n%s\n", (int)len, bytes, err.message);
    fail("what was written does not decode", format);
  }
  if (again.action != pm->action) fail("the action changed", format);
  if (again.n_annotations != pm->n_annotations)
    fail("annotations were lost", format);
  protocol_message__cleanup(&again);
  wire_doc__cleanup(&doc);
  herald_free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  enum wire_format format = data[0] & 1 ? WIRE_MSGPACK : WIRE_JSON;
  struct wire_doc doc;
  herald_error err;
  if (wire_doc__parse(&doc, format, (const char *)data + 1, size - 1, &err))
    return 0;
  struct protocol_message pm;
  if (protocol_message__decode(wire_doc__root(&doc), MAX_MESSAGES, &pm, &err) == 0) {
    round_trip(&pm, WIRE_JSON);
    round_trip(&pm, WIRE_MSGPACK);
    protocol_message__cleanup(&pm);
  }
  wire_doc__cleanup(&doc);
  return 0;
}
