/* wire_bounds.c -- MessagePack header sizes against the bytes present (see
 * wire_bounds.h). Formats: the MessagePack specification, "Formats". */
#include "wire_bounds.h"

#include <stdint.h>

enum format_kind {
  KIND_INVALID, /* 0xc1, never used */
  KIND_FIXED,   /* `extra` payload bytes */
  KIND_SIZED,   /* a length of `len_bytes`, then `extra` + length bytes */
  KIND_ARRAY,   /* a count of `len_bytes`, then count objects */
  KIND_MAP      /* a count of `len_bytes`, then 2 * count objects */
};

struct format {
  uint8_t kind, len_bytes, extra;
};

/* The formats 0xc0..0xdf; the rest carry their size in the first byte. */
static const struct format formats[32] = {
    [0x00] = {KIND_FIXED, 0, 0},  [0x01] = {KIND_INVALID, 0, 0},
    [0x02] = {KIND_FIXED, 0, 0},  [0x03] = {KIND_FIXED, 0, 0},
    [0x04] = {KIND_SIZED, 1, 0},  [0x05] = {KIND_SIZED, 2, 0},  /* bin */
    [0x06] = {KIND_SIZED, 4, 0},  [0x07] = {KIND_SIZED, 1, 1},  /* ext */
    [0x08] = {KIND_SIZED, 2, 1},  [0x09] = {KIND_SIZED, 4, 1},
    [0x0a] = {KIND_FIXED, 0, 4},  [0x0b] = {KIND_FIXED, 0, 8},  /* float */
    [0x0c] = {KIND_FIXED, 0, 1},  [0x0d] = {KIND_FIXED, 0, 2},  /* uint */
    [0x0e] = {KIND_FIXED, 0, 4},  [0x0f] = {KIND_FIXED, 0, 8},
    [0x10] = {KIND_FIXED, 0, 1},  [0x11] = {KIND_FIXED, 0, 2},  /* int */
    [0x12] = {KIND_FIXED, 0, 4},  [0x13] = {KIND_FIXED, 0, 8},
    [0x14] = {KIND_FIXED, 0, 2},  [0x15] = {KIND_FIXED, 0, 3},  /* fixext */
    [0x16] = {KIND_FIXED, 0, 5},  [0x17] = {KIND_FIXED, 0, 9},
    [0x18] = {KIND_FIXED, 0, 17}, [0x19] = {KIND_SIZED, 1, 0},  /* str */
    [0x1a] = {KIND_SIZED, 2, 0},  [0x1b] = {KIND_SIZED, 4, 0},
    [0x1c] = {KIND_ARRAY, 2, 0},  [0x1d] = {KIND_ARRAY, 4, 0},
    [0x1e] = {KIND_MAP, 2, 0},    [0x1f] = {KIND_MAP, 4, 0},
};

/* The format of first byte b; fixmap, fixarray and fixstr carry their
 * count or length in b itself, returned in *inline_n. */
static struct format format_of(unsigned b, uint64_t *inline_n) {
  *inline_n = 0;
  if (b <= 0x7f || b >= 0xe0) return (struct format){KIND_FIXED, 0, 0};
  if (b >= 0xc0) return formats[b - 0xc0];
  if (b <= 0x8f) {
    *inline_n = b & 0x0f;
    return (struct format){KIND_MAP, 0, 0};
  }
  if (b <= 0x9f) {
    *inline_n = b & 0x0f;
    return (struct format){KIND_ARRAY, 0, 0};
  }
  *inline_n = b & 0x1f;
  return (struct format){KIND_SIZED, 0, 0};
}

bool wire_bounds__msgpack(const char *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data, *end = p + len;
  uint64_t pending = 1; /* objects still to come, each at least one byte */
  while (pending) {
    if (p == end) return false;
    uint64_t n;
    struct format f = format_of(*p++, &n);
    pending--;
    if (f.kind == KIND_INVALID || (size_t)(end - p) < f.len_bytes) return false;
    for (unsigned i = 0; i < f.len_bytes; i++) n = n << 8 | *p++;
    uint64_t skip = f.extra + (f.kind == KIND_SIZED ? n : 0);
    if (f.kind == KIND_ARRAY) pending += n;
    if (f.kind == KIND_MAP) pending += 2 * n;
    if (skip > (uint64_t)(end - p)) return false;
    p += skip;
    if (pending > (uint64_t)(end - p)) return false;
  }
  return true;
}
