/* json_parse.c -- JSON text to a msgpack-c object tree (see json_parse.h).
 * A recursive descent over the text; the values of the containers being
 * parsed wait on one scratch stack and move into the zone, contiguous, when
 * their container closes. */
#include "json_parse.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hashmap.h"
#include "json_string.h"
#include "utf8.h"

#define JSON_MAX_DEPTH 2048
#define SCRATCH_INLINE 64
#define NUMBER_TEXT_MAX 512 /* longer reals are copied to the heap */

struct parser {
  const char *start, *p, *end;
  msgpack_zone *zone;
  msgpack_object *scratch; /* values of the open containers */
  size_t top, cap;
  msgpack_object scratch_inline[SCRATCH_INLINE];
  int depth;
  const char *error; /* the first error */
  size_t error_at;
};

static bool fail(struct parser *ps, const char *what) {
  if (!ps->error) {
    ps->error = what;
    ps->error_at = (size_t)(ps->p - ps->start);
  }
  return false;
}

static bool push(struct parser *ps, const msgpack_object *v) {
  if (ps->top == ps->cap) {
    size_t cap = ps->cap * 2;
    msgpack_object *grown =
        ps->scratch == ps->scratch_inline
            ? herald_xmalloc(cap * sizeof *grown)
            : herald_xrealloc(ps->scratch, cap * sizeof *grown);
    if (ps->scratch == ps->scratch_inline)
      memcpy(grown, ps->scratch_inline, sizeof ps->scratch_inline);
    ps->scratch = grown;
    ps->cap = cap;
  }
  ps->scratch[ps->top++] = *v;
  return true;
}

static void *zone_alloc(struct parser *ps, size_t size) {
  void *p = size ? msgpack_zone_malloc(ps->zone, size) : NULL;
  if (size && !p) herald_oom("msgpack zone");
  return p;
}

static void skip_space(struct parser *ps) {
  while (ps->p < ps->end &&
         (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static bool at(struct parser *ps, char c) { return ps->p < ps->end && *ps->p == c; }

static bool is_digit(struct parser *ps) {
  return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* ---- Strings ---------------------------------------------------------------- */

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits of a \u escape at p (past the "\u"), or -1. */
static long hex4(const char *p, const char *end) {
  if (end - p < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int d = hex_digit(p[i]);
    if (d < 0) return -1;
    v = v << 4 | d;
  }
  return v;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes the \u escape at ps->p (at the backslash), a surrogate pair taking
 * two, into out; returns the bytes written or 0 on error. */
static size_t unicode_escape(struct parser *ps, char *out) {
  long cp = hex4(ps->p + 2, ps->end);
  const char *problem = NULL;
  if (cp < 0) problem = "invalid \\u escape";
  else if (cp >= 0xDC00 && cp <= 0xDFFF) problem = "lone low surrogate";
  if (problem) {
    fail(ps, problem);
    return 0;
  }
  ps->p += 6;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    long low = ps->end - ps->p >= 2 && ps->p[0] == '\\' && ps->p[1] == 'u'
                   ? hex4(ps->p + 2, ps->end)
                   : -1;
    if (low < 0xDC00 || low > 0xDFFF) {
      fail(ps, "lone high surrogate");
      return 0;
    }
    ps->p += 6;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
  }
  return put_utf8(out, (uint32_t)cp);
}

/* One escape at ps->p (the backslash) into out; bytes written, 0 on error. */
static size_t escape(struct parser *ps, char *out) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *which =
      ps->end - ps->p >= 2 && ps->p[1] ? strchr(from, ps->p[1]) : NULL;
  if (which) {
    *out = to[which - from];
    ps->p += 2;
    return 1;
  }
  if (ps->end - ps->p >= 2 && ps->p[1] == 'u') return unicode_escape(ps, out);
  fail(ps, "invalid escape");
  return 0;
}

/* A run of plain characters from ps->p: up to a quote, a backslash, a
 * control character or the end. Checked to be UTF-8. */
static bool plain_run(struct parser *ps, const char **run, size_t *len) {
  const char *s = ps->p;
  bool ascii;
  ps->p += json_string__plain_len(s, (size_t)(ps->end - s), &ascii);
  *run = s;
  *len = (size_t)(ps->p - s);
  if (!ascii && !utf8__valid(s, *len)) return fail(ps, "invalid UTF-8");
  if (ps->p == ps->end) return fail(ps, "unterminated string");
  if (*ps->p != '"' && *ps->p != '\\') return fail(ps, "control character in string");
  return true;
}

/* The length of a string's text from s to its closing quote (or the end). */
static size_t text_to_quote(const char *s, const char *end) {
  const char *p = s;
  while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;
  return (size_t)((p < end ? p : end) - s);
}

/* A string with escapes, from its first backslash: decoded into the zone
 * (never longer than its text). */
static bool escaped_string(struct parser *ps, const char *first_run,
                           size_t first_len, msgpack_object *out) {
  char *buf = zone_alloc(ps, text_to_quote(first_run, ps->end));
  memcpy(buf, first_run, first_len);
  size_t n = first_len;
  while (*ps->p == '\\') {
    size_t k = escape(ps, buf + n);
    if (!k) return false;
    n += k;
    const char *run;
    size_t len;
    if (!plain_run(ps, &run, &len)) return false;
    memcpy(buf + n, run, len);
    n += len;
  }
  ps->p++; /* the closing quote */
  out->type = MSGPACK_OBJECT_STR;
  out->via.str.ptr = buf;
  out->via.str.size = (uint32_t)n;
  return true;
}

/* A string at ps->p (the opening quote). Without escapes it stays in the
 * text. */
static bool string(struct parser *ps, msgpack_object *out) {
  ps->p++;
  const char *run;
  size_t len;
  if (!plain_run(ps, &run, &len)) return false;
  if (*ps->p == '\\') return escaped_string(ps, run, len, out);
  ps->p++;
  out->type = MSGPACK_OBJECT_STR;
  out->via.str.ptr = run;
  out->via.str.size = (uint32_t)len;
  return true;
}

/* ---- Numbers ----------------------------------------------------------------- */

static void skip_digits(struct parser *ps) {
  while (is_digit(ps)) ps->p++;
}

/* An integer's text (sign and digits) into *out: int64 range only. */
static bool integer(struct parser *ps, const char *s, msgpack_object *out) {
  bool negative = *s == '-';
  uint64_t magnitude = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
  for (const char *d = s + negative; d < ps->p; d++) {
    unsigned digit = (unsigned)(*d - '0');
    if (magnitude > (limit - digit) / 10) {
      ps->p = s;
      return fail(ps, negative ? "too big negative integer" : "too big integer");
    }
    magnitude = magnitude * 10 + digit;
  }
  if (negative && magnitude) {
    out->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    out->via.i64 = magnitude == (uint64_t)INT64_MAX + 1
                       ? INT64_MIN
                       : -(int64_t)magnitude;
  } else {
    out->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    out->via.u64 = magnitude;
  }
  return true;
}

/* A real's text into *out (strtod wants it NUL-terminated). */
static bool real(struct parser *ps, const char *s, msgpack_object *out) {
  size_t len = (size_t)(ps->p - s);
  char local[NUMBER_TEXT_MAX], *text = len < sizeof local ? local : herald_xmalloc(len + 1);
  memcpy(text, s, len);
  text[len] = '\0';
  errno = 0;
  double value = strtod(text, NULL);
  bool overflow = errno == ERANGE && isinf(value);
  if (text != local) herald_free(text);
  if (overflow) {
    ps->p = s;
    return fail(ps, "real number overflow");
  }
  out->type = MSGPACK_OBJECT_FLOAT64;
  out->via.f64 = value;
  return true;
}

static bool number(struct parser *ps, msgpack_object *out) {
  const char *s = ps->p;
  if (at(ps, '-')) ps->p++;
  if (!is_digit(ps)) return fail(ps, "invalid number");
  if (at(ps, '0')) ps->p++;
  else skip_digits(ps);
  bool is_real = false;
  if (at(ps, '.')) {
    ps->p++;
    if (!is_digit(ps)) return fail(ps, "invalid number");
    skip_digits(ps);
    is_real = true;
  }
  if (at(ps, 'e') || at(ps, 'E')) {
    ps->p++;
    if (at(ps, '+') || at(ps, '-')) ps->p++;
    if (!is_digit(ps)) return fail(ps, "invalid number");
    skip_digits(ps);
    is_real = true;
  }
  return is_real ? real(ps, s, out) : integer(ps, s, out);
}

/* ---- Containers ----------------------------------------------------------- */

static bool value(struct parser *ps, msgpack_object *out);

static bool same_key(const msgpack_object *a, const msgpack_object *b) {
  return a->via.str.size == b->via.str.size &&
         memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
}

/* Merges repeated keys among the n key/value pairs at kv (jansson's rule: a
 * key keeps its first place and takes its last value). Returns the pairs
 * left. An open-addressing table of first places finds repeats. */
static size_t merge_repeated_keys(struct parser *ps, msgpack_object *kv,
                                  size_t n) {
  if (n < 2) return n;
  uint32_t small[64], *slots = small; /* kept pair index + 1; 0: free */
  size_t size = 64;
  while (size < 2 * n) size *= 2;
  if (size > 64) slots = herald_xcalloc(size, sizeof *slots);
  else memset(small, 0, sizeof small);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    const msgpack_object *key = &kv[2 * i];
    size_t h = hashmap__hash(key->via.str.ptr, key->via.str.size) & (size - 1);
    while (slots[h] && !same_key(&kv[2 * (slots[h] - 1)], key))
      h = (h + 1) & (size - 1);
    if (slots[h]) { /* repeated: the first place takes this value */
      kv[2 * (slots[h] - 1) + 1] = kv[2 * i + 1];
      continue;
    }
    slots[h] = (uint32_t)(kept + 1);
    kv[2 * kept] = kv[2 * i];
    kv[2 * kept + 1] = kv[2 * i + 1];
    kept++;
  }
  if (slots != small) herald_free(slots);
  return kept;
}

/* A map's pairs are moved as plain objects: key, value, key, value. */
_Static_assert(sizeof(msgpack_object_kv) == 2 * sizeof(msgpack_object),
               "msgpack_object_kv is two objects");

/* Moves the n objects pushed since `base` into the zone, contiguous, and
 * pops them (NULL when n is 0). */
static void *move_to_zone(struct parser *ps, size_t base, size_t n) {
  void *moved = zone_alloc(ps, n * sizeof(msgpack_object));
  if (moved) memcpy(moved, ps->scratch + base, n * sizeof(msgpack_object));
  ps->top = base;
  return moved;
}

static bool close_array(struct parser *ps, size_t base, msgpack_object *out) {
  size_t n = ps->top - base;
  out->type = MSGPACK_OBJECT_ARRAY;
  out->via.array.size = (uint32_t)n;
  out->via.array.ptr = move_to_zone(ps, base, n);
  return !ps->error;
}

static bool close_map(struct parser *ps, size_t base, msgpack_object *out) {
  size_t n = merge_repeated_keys(ps, ps->scratch + base, (ps->top - base) / 2);
  out->type = MSGPACK_OBJECT_MAP;
  out->via.map.size = (uint32_t)n;
  out->via.map.ptr = ps->error ? NULL : move_to_zone(ps, base, 2 * n);
  return !ps->error;
}

/* After a member or element: true with ps->p past `close` when the
 * container ends, true past a comma when more follows. */
static bool next_or_close(struct parser *ps, char close, bool *closed) {
  skip_space(ps);
  if (at(ps, ',')) {
    ps->p++;
    *closed = false;
    return true;
  }
  if (at(ps, close)) {
    ps->p++;
    *closed = true;
    return true;
  }
  return fail(ps, close == ']' ? "',' or ']' expected" : "',' or '}' expected");
}

static bool enter(struct parser *ps, char close, bool *empty) {
  if (++ps->depth > JSON_MAX_DEPTH) return fail(ps, "too deeply nested");
  ps->p++;
  skip_space(ps);
  *empty = at(ps, close);
  if (*empty) ps->p++;
  return true;
}

static bool array(struct parser *ps, msgpack_object *out) {
  size_t base = ps->top;
  bool closed;
  if (!enter(ps, ']', &closed)) return false;
  while (!closed) {
    msgpack_object item;
    if (!value(ps, &item) || !push(ps, &item) || !next_or_close(ps, ']', &closed))
      return false;
  }
  ps->depth--;
  return close_array(ps, base, out);
}

static bool member(struct parser *ps) {
  msgpack_object key, val;
  skip_space(ps);
  if (!at(ps, '"')) return fail(ps, "string or '}' expected");
  if (!string(ps, &key)) return false;
  if (memchr(key.via.str.ptr, '\0', key.via.str.size))
    return fail(ps, "NUL byte in object key not supported");
  skip_space(ps);
  if (!at(ps, ':')) return fail(ps, "':' expected");
  ps->p++;
  return value(ps, &val) && push(ps, &key) && push(ps, &val);
}

static bool object(struct parser *ps, msgpack_object *out) {
  size_t base = ps->top;
  bool closed;
  if (!enter(ps, '}', &closed)) return false;
  while (!closed)
    if (!member(ps) || !next_or_close(ps, '}', &closed)) return false;
  ps->depth--;
  return close_map(ps, base, out);
}

static bool literal(struct parser *ps, const char *word, msgpack_object *out,
                    msgpack_object_type type, bool truth) {
  size_t len = strlen(word);
  if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len))
    return fail(ps, "invalid token");
  ps->p += len;
  out->type = type;
  out->via.boolean = truth;
  return true;
}

static bool value(struct parser *ps, msgpack_object *out) {
  skip_space(ps);
  if (ps->p == ps->end) return fail(ps, "unexpected end of input");
  switch (*ps->p) {
  case '{': return object(ps, out);
  case '[': return array(ps, out);
  case '"': return string(ps, out);
  case 't': return literal(ps, "true", out, MSGPACK_OBJECT_BOOLEAN, true);
  case 'f': return literal(ps, "false", out, MSGPACK_OBJECT_BOOLEAN, false);
  case 'n': return literal(ps, "null", out, MSGPACK_OBJECT_NIL, false);
  default:
    if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return number(ps, out);
    return fail(ps, "invalid token");
  }
}

int json_parse(const char *text, size_t len, msgpack_zone *zone,
               msgpack_object *out, char error[JSON_PARSE_ERROR_MAX]) {
  struct parser ps = {.start = text, .p = text, .end = text + len,
                      .zone = zone, .cap = SCRATCH_INLINE};
  ps.scratch = ps.scratch_inline;
  bool ok = value(&ps, out);
  if (ok) {
    skip_space(&ps);
    if (ps.p != ps.end) ok = fail(&ps, "end of input expected");
  }
  if (ps.scratch != ps.scratch_inline) herald_free(ps.scratch);
  if (ok) return 0;
  snprintf(error, JSON_PARSE_ERROR_MAX, "%s at byte %zu", ps.error, ps.error_at);
  return -1;
}
