/* test_wire_bounds.c -- the MessagePack size pass of common/wire_bounds.h:
 * every format msgpack-c packs is accepted, nested and at exact fit;
 * containers, strings, bin and ext that declare more than the bytes left
 * are refused, as are the never-used 0xc1, truncated headers and empty
 * input; and wire_doc__parse refuses arrays of 2^28 and 2^32-1 elements
 * in a 500 KB frame with 40001 without asking for their gigabytes (this
 * suite runs under ASan in make sanitize-test, which aborts on an
 * allocation it cannot serve). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "leak_check.h"
#include "wire.h"
#include "wire_bounds.h"

static bool fits(const void *data, size_t len) {
  return wire_bounds__msgpack(data, len);
}

/* Whether msgpack-c unpacks exactly one object from data[0..len). */
static bool msgpack_c_accepts(const char *data, size_t len) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t offset = 0;
  bool ok = msgpack_unpack_next(&u, data, len, &offset) == MSGPACK_UNPACK_SUCCESS;
  msgpack_unpacked_destroy(&u);
  return ok;
}

/* One object of every format family, nested in a map and an array. */
static void pack_every_format(msgpack_packer *pk) {
  static const char blob[70000] = {0};
  msgpack_pack_map(pk, 3);
  msgpack_pack_str_with_body(pk, "scalars", 7);
  msgpack_pack_array(pk, 17);
  msgpack_pack_nil(pk);
  msgpack_pack_true(pk);
  msgpack_pack_false(pk);
  msgpack_pack_int64(pk, 5);          /* positive fixint */
  msgpack_pack_int64(pk, -5);         /* negative fixint */
  msgpack_pack_int64(pk, 200);        /* uint8 */
  msgpack_pack_int64(pk, 60000);      /* uint16 */
  msgpack_pack_int64(pk, 4000000000); /* uint32 */
  msgpack_pack_uint64(pk, UINT64_MAX);
  msgpack_pack_int64(pk, -100);      /* int8 */
  msgpack_pack_int64(pk, -30000);    /* int16 */
  msgpack_pack_int64(pk, -2000000000);
  msgpack_pack_int64(pk, INT64_MIN);
  msgpack_pack_float(pk, 1.5f);
  msgpack_pack_double(pk, 2.5);
  msgpack_pack_ext_with_body(pk, blob, 1, 7);  /* fixext1 */
  msgpack_pack_ext_with_body(pk, blob, 16, 7); /* fixext16 */
  msgpack_pack_str_with_body(pk, "sized", 5);
  msgpack_pack_array(pk, 9);
  msgpack_pack_str_with_body(pk, blob, 31);    /* fixstr */
  msgpack_pack_str_with_body(pk, blob, 200);   /* str8 */
  msgpack_pack_str_with_body(pk, blob, 1000);  /* str16 */
  msgpack_pack_str_with_body(pk, blob, 70000); /* str32 */
  msgpack_pack_bin_with_body(pk, blob, 10);
  msgpack_pack_bin_with_body(pk, blob, 1000);
  msgpack_pack_bin_with_body(pk, blob, 70000);
  msgpack_pack_ext_with_body(pk, blob, 3, 1);   /* ext8 */
  msgpack_pack_ext_with_body(pk, blob, 300, 1); /* ext16 */
  msgpack_pack_str_with_body(pk, "wide", 4);
  msgpack_pack_array(pk, 2);
  msgpack_pack_array(pk, 20); /* array16 */
  for (int i = 0; i < 20; i++) msgpack_pack_nil(pk);
  msgpack_pack_map(pk, 20); /* map16 */
  for (int i = 0; i < 20; i++) {
    msgpack_pack_int64(pk, i);
    msgpack_pack_map(pk, 0);
  }
}

static void test_every_format_fits(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  pack_every_format(&pk);
  assert_true(msgpack_c_accepts(sb.data, sb.size));
  assert_true(fits(sb.data, sb.size));
  /* Cut anywhere, it is incomplete: refused, as msgpack-c refuses it. */
  for (size_t cut = 0; cut < sb.size; cut += 1 + cut / 64) {
    assert_false(fits(sb.data, cut));
    assert_false(msgpack_c_accepts(sb.data, cut));
  }
  msgpack_sbuffer_destroy(&sb);
}

static void test_exact_fit(void **state) {
  (void)state;
  unsigned char array16[3 + 300] = {0xdc, 0x01, 0x2c}; /* 300 elements */
  memset(array16 + 3, 0xc0, 300);
  assert_true(fits(array16, sizeof array16));
  assert_false(fits(array16, sizeof array16 - 1));
  unsigned char map16[3 + 20] = {0xde, 0x00, 0x0a}; /* 10 pairs */
  memset(map16 + 3, 0x01, 20);
  assert_true(fits(map16, sizeof map16));
  assert_false(fits(map16, sizeof map16 - 1));
  const unsigned char fixstr[] = {0xa3, 'a', 'b', 'c'};
  assert_true(fits(fixstr, sizeof fixstr));
  assert_false(fits(fixstr, sizeof fixstr - 1));
  /* Bytes after the first object are the caller's business. */
  const unsigned char trailing[] = {0x91, 0x01, 0xff, 0xff};
  assert_true(fits(trailing, sizeof trailing));
}

/* A header declaring `count` elements followed by `present` nil bytes. */
static unsigned char *lying_container(unsigned char header, uint32_t count,
                                      size_t present, size_t *len) {
  *len = 5 + present;
  unsigned char *buf = malloc(*len);
  buf[0] = header;
  for (int i = 0; i < 4; i++) buf[1 + i] = (unsigned char)(count >> (24 - 8 * i));
  memset(buf + 5, 0xc0, present);
  return buf;
}

static void test_declared_counts_over_the_bytes_refused(void **state) {
  (void)state;
  size_t len;
  unsigned char *array = lying_container(0xdd, 1u << 28, 500 * 1024, &len);
  assert_false(fits(array, len));
  free(array);
  unsigned char *map = lying_container(0xdf, 0xffffffff, 1000, &len);
  assert_false(fits(map, len));
  free(map);
  /* A map of n pairs needs 2n objects: n + 1 bytes are not enough. */
  unsigned char *pairs = lying_container(0xdf, 100, 150, &len);
  assert_false(fits(pairs, len));
  free(pairs);
  /* The second inner array is cut short. */
  const unsigned char nested[] = {0x92, 0x93, 0xc0, 0xc0, 0xc0, 0x93, 0xc0, 0xc0};
  assert_false(fits(nested, sizeof nested));
  const unsigned char deep_lie[] = {0x91, 0x91, 0xdd, 0x10, 0x00, 0x00, 0x00, 0xc0};
  assert_false(fits(deep_lie, sizeof deep_lie));
}

static void test_lengths_over_the_bytes_refused(void **state) {
  (void)state;
  const unsigned char str32[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
  const unsigned char bin16[] = {0xc5, 0x01, 0x00, 'a', 'b'};
  const unsigned char ext32[] = {0xc9, 0x00, 0x00, 0x00, 0x02, 0x01, 'a'};
  const unsigned char fixext8[] = {0xd7, 0x01, 1, 2, 3, 4, 5, 6, 7};
  const unsigned char uint64[] = {0xcf, 1, 2, 3};
  assert_false(fits(str32, sizeof str32));
  assert_false(fits(bin16, sizeof bin16));
  assert_false(fits(ext32, sizeof ext32));
  assert_false(fits(fixext8, sizeof fixext8));
  assert_false(fits(uint64, sizeof uint64));
}

static void test_malformed_refused(void **state) {
  (void)state;
  const unsigned char never_used[] = {0xc1};
  const unsigned char cut_header[] = {0xdd, 0xff};
  assert_false(fits(never_used, 1));
  assert_false(fits(cut_header, sizeof cut_header));
  assert_false(fits("", 0));
}

/* What websocket.c hands realtime.c: a 500 KB frame whose array header
 * declares 2^28 elements. Refused as unparsable, never allocated. */
static void test_parse_refuses_lying_frame(void **state) {
  (void)state;
  const uint32_t counts[] = {1u << 28, 0xffffffff};
  for (size_t i = 0; i < 2; i++) {
    size_t len;
    unsigned char *frame = lying_container(0xdd, counts[i], 500 * 1024, &len);
    struct wire_doc doc;
    herald_error err = {0};
    assert_int_equal(
        wire_doc__parse(&doc, WIRE_MSGPACK, (const char *)frame, len, &err),
        -HERALD_E_INVALID_REQUEST_BODY);
    assert_int_equal(err.code, 40001);
    free(frame);
  }
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_every_format_fits),
      TEST(test_exact_fit),
      TEST(test_declared_counts_over_the_bytes_refused),
      TEST(test_lengths_over_the_bytes_refused),
      TEST(test_malformed_refused),
      TEST(test_parse_refuses_lying_frame),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
