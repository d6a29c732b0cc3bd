/* json_scan.h -- reading JSON in place, without building a tree: iterate an
 * object's members or an array's elements as spans of the original text and
 * read numbers and strings out of them. Enough to pick a few fields out of
 * each ProtocolMessage at the rate herald-bench receives them, with no
 * allocation (jansson allocates every node).
 * Strings are returned raw (between the quotes, escapes left in place).
 * Owns: nothing. */
#ifndef HERALD_BENCH_JSON_SCAN_H
#define HERALD_BENCH_JSON_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* Iterates the members of an object or the elements of an array. */
struct json_iter {
  const char *p;
  const char *end;
  char close; /* '}' or ']' */
  bool first;
};

/* Starts iterating value, which must be an object (or an array, for
 * json_scan__next_element). Returns false when it is neither. */
bool json_scan__enter(struct json_iter *it, struct span value);

/* The next member: its key (raw) and its value (the span of its text).
 * Returns 1, 0 at the end, -1 on malformed JSON. */
int json_scan__next_member(struct json_iter *it, struct span *key,
                           struct span *value);

/* The next element of an array. Returns 1, 0 at the end, -1 if malformed. */
int json_scan__next_element(struct json_iter *it, struct span *value);

/* Reads an integer value. Returns false when value is not one. */
bool json_scan__int(struct span value, int64_t *out);

/* Reads a string value into its raw contents. Returns false if not one. */
bool json_scan__string(struct span value, struct span *out);

/* Whether a raw key equals name[0..len). */
bool json_scan__key_equals(struct span key, const char *name, size_t len);

/* Whether a raw key equals a string literal. */
#define json_scan__key_is(key, literal) \
  json_scan__key_equals((key), "" literal, sizeof(literal) - 1)

#endif
