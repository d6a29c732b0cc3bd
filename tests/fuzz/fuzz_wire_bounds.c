/* fuzz_wire_bounds.c -- libFuzzer target for common/wire_bounds.c, the
 * hand-written pass that refuses MessagePack whose headers declare more
 * than the bytes hold, held to msgpack-c, the library it guards.
 *
 * Two properties:
 * - On the input as bytes: when wire_bounds__msgpack accepts, msgpack-c
 *   never says it needs more bytes, and never allocates past libFuzzer's
 *   malloc limit, so nothing let through can reserve gigabytes.
 * - On MessagePack that msgpack-c's packer writes from a structure the
 *   input describes (every type and width, nesting): the whole is accepted,
 *   with anything after it too, and every shorter prefix is refused. */
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire_bounds.h"

#define MAX_DEPTH 6

static void fail(const char *what) {
  fprintf(stderr, "%s\n", what);
  abort();
}

/* msgpack-c on data: whether it found a whole object, or a fault of its
 * own (nesting deeper than its 32-level stack comes back as NOMEM). An
 * allocation over libFuzzer's malloc limit is reported by libFuzzer. */
static bool msgpack_complete(const char *data, size_t len) {
  msgpack_zone zone;
  msgpack_zone_init(&zone, 1024);
  msgpack_object obj;
  size_t off = 0;
  msgpack_unpack_return r = msgpack_unpack(data, len, &off, &zone, &obj);
  msgpack_zone_destroy(&zone);
  return r != MSGPACK_UNPACK_CONTINUE;
}

struct input {
  const uint8_t *p, *end;
};

static uint8_t next(struct input *in) { return in->p < in->end ? *in->p++ : 0; }

/* Packs one value the input describes; containers hold up to 7 values. */
static void pack_value(struct input *in, msgpack_packer *pk, int depth) {
  static const char filler[300] = {0};
  uint8_t kind = next(in), n = next(in);
  switch (kind % 12) {
  case 0: msgpack_pack_nil(pk); break;
  case 1: msgpack_pack_true(pk); break;
  case 2: msgpack_pack_int64(pk, (int64_t)((uint64_t)n << (kind % 55))); break;
  case 3: msgpack_pack_int64(pk, -(int64_t)((uint64_t)n << (kind % 55)) - 1); break;
  case 4: msgpack_pack_double(pk, n / 3.0); break;
  case 5: msgpack_pack_float(pk, n / 7.0f); break;
  case 6: { /* str8 / str16 reached by lengths over 255 */
    size_t len = n + (kind & 0x80 ? 40 : 0);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, filler, len);
    break;
  }
  case 7:
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, filler, n);
    break;
  case 8:
    msgpack_pack_ext(pk, n % 20, (int8_t)kind);
    msgpack_pack_ext_body(pk, filler, n % 20);
    break;
  case 9:
  case 10: {
    size_t count = depth < MAX_DEPTH ? n % 8 : 0;
    bool map = kind % 12 == 10;
    if (map) msgpack_pack_map(pk, count);
    else msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count * (map ? 2 : 1); i++)
      pack_value(in, pk, depth + 1);
    break;
  }
  default: msgpack_pack_uint64(pk, UINT64_MAX >> (n % 64)); break;
  }
}

static void check_packed(const uint8_t *data, size_t size) {
  struct input in = {data, data + size};
  msgpack_sbuffer buf;
  msgpack_sbuffer_init(&buf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
  pack_value(&in, &pk, 0);
  size_t whole = buf.size;
  msgpack_pack_nil(&pk); /* bytes after the object are not looked at */
  if (!wire_bounds__msgpack(buf.data, whole))
    fail("a packed object was refused");
  if (!wire_bounds__msgpack(buf.data, buf.size))
    fail("a packed object followed by more bytes was refused");
  for (size_t cut = 0; cut < whole; cut += 1 + cut / 8)
    if (wire_bounds__msgpack(buf.data, cut)) fail("a cut object was accepted");
  msgpack_sbuffer_destroy(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (wire_bounds__msgpack((const char *)data, size) &&
      !msgpack_complete((const char *)data, size))
    fail("accepted bytes that msgpack-c finds incomplete");
  check_packed(data, size);
  return 0;
}
