/* json_parse.h -- strict JSON (RFC 8259) parsed into msgpack-c's object
 * tree, so that the wire reader (wire.h) reads both of Ably's formats
 * through one representation.
 *
 * The accepted language is jansson's with JSON_DECODE_ANY | JSON_ALLOW_NUL,
 * which Herald parsed with before: any value at the top, nothing but
 * whitespace after it, UTF-8 only, "\u0000" in strings but not in object
 * keys, integers within int64 (else an error), reals that do not overflow,
 * at most 2048 levels of nesting. A key given twice keeps its first place
 * and takes its last value. One deliberate difference: a raw NUL byte is
 * an error anywhere (jansson skips them; tests/fuzz/fuzz_json_parse.c).
 *
 * Strings without escapes point into the text, so the text must outlive
 * the tree; everything else lives in the zone. */
#ifndef HERALD_JSON_PARSE_H
#define HERALD_JSON_PARSE_H

#include <msgpack.h>
#include <stddef.h>

#define JSON_PARSE_ERROR_MAX 96

/* Parses text[0..len) into *out. Returns 0, or -1 with a message ("<what>
 * at byte <n>") in error. */
int json_parse(const char *text, size_t len, msgpack_zone *zone,
               msgpack_object *out, char error[JSON_PARSE_ERROR_MAX]);

#endif
