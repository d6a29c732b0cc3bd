/* capability.c -- Ably capabilities: parsing, matching, canonical text and
 * intersection (see capability.h and shared/spec/auth.md section 9).
 * Owns: every struct capability, each laid out in one herald_xmalloc block
 * (header, entries sorted by resource, pre-split segments, resource bytes)
 * that never changes after it is built, so matching allocates nothing and
 * needs no locks. */
#include "capability.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* An operation set: bits, plus whether it was written "*" (kept apart from an
 * explicit list naming every operation, so canonical text round-trips). */
struct opset {
  unsigned bits; /* CAPABILITY_OP_ALL when star */
  bool star;
};

/* A resource and its operations, before layout. The resource is borrowed. */
struct grant {
  const char *resource;
  size_t len;
  struct opset ops;
};

struct view {
  const char *text;
  size_t len;
};

struct capability_segment {
  const char *text;
  size_t len;
  bool wildcard; /* the whole segment is "*" */
};

struct capability_entry {
  const char *resource; /* as written, NUL-terminated */
  size_t resource_len;
  struct view qualifier; /* "meta", "queue", "*", ... or "" for none */
  struct view pattern;   /* the resource after its [qualifier] */
  const struct capability_segment *segments; /* pattern split at ':' */
  size_t segment_count;
  struct opset ops;
};

struct capability {
  size_t count;
  struct capability_entry entries[];
};

static const char *const op_names[] = {
#define XX(name, text) text,
    CAPABILITY_OPS(XX)
#undef XX
};

/* ---------------------------------------------------------------------------
 * Names, qualifiers and segments
 * ------------------------------------------------------------------------- */

/* Splits a resource or channel name into its qualifier and the rest:
 * "[meta?x=y]log" -> ("meta", "log"), "[?rewind=1]foo" -> ("", "foo"),
 * "foo" -> ("", "foo"). Channel params are dropped, as they never take part
 * in matching. Text without a closing ']' has no qualifier. */
static void split_qualifier(const char *s, size_t len, struct view *qualifier,
                            struct view *rest) {
  const char *close = len && s[0] == '[' ? memchr(s, ']', len) : NULL;
  if (!close) {
    *qualifier = (struct view){"", 0};
    *rest = (struct view){s, len};
    return;
  }
  const char *query = memchr(s + 1, '?', (size_t)(close - s - 1));
  const char *end = query ? query : close;
  *qualifier = (struct view){s + 1, (size_t)(end - s - 1)};
  *rest = (struct view){close + 1, len - (size_t)(close + 1 - s)};
}

static size_t count_segments(struct view pattern) {
  size_t n = 1;
  for (size_t i = 0; i < pattern.len; i++) n += pattern.text[i] == ':';
  return n;
}

static bool view_equal(struct view a, const char *text, size_t len) {
  return a.len == len && memcmp(a.text, text, len) == 0;
}

/* Whether the qualifier of an entry admits the given qualifier: "[*]" admits
 * any (or none), otherwise they must be equal. */
static bool qualifier_covers(const struct capability_entry *e,
                             struct view qualifier) {
  return view_equal(e->qualifier, "*", 1) ||
         view_equal(e->qualifier, qualifier.text, qualifier.len);
}

/* Whether the entry's pattern matches every name matched by `name`, read as
 * ':' segments. A wildcard segment matches any one segment, a final one any
 * one or more remaining segments; other segments must be equal. Applied to a
 * channel name this is plain matching; applied to another pattern it is the
 * "covers" relation of auth.md 9.5, since a '*' there is just a segment. */
static bool pattern_covers(const struct capability_entry *e, struct view name) {
  size_t pos = 0;
  bool more = true; /* name segments remain from pos */
  for (size_t i = 0; i < e->segment_count; i++) {
    const struct capability_segment *seg = &e->segments[i];
    if (!more) return false;
    if (seg->wildcard && i + 1 == e->segment_count) return true;
    const char *start = name.text + pos;
    const char *colon = memchr(start, ':', name.len - pos);
    size_t n = colon ? (size_t)(colon - start) : name.len - pos;
    if (!seg->wildcard && (n != seg->len || memcmp(start, seg->text, n) != 0))
      return false;
    pos += n + 1;
    more = colon != NULL;
  }
  return !more;
}

static bool entry_covers(const struct capability_entry *k,
                         const struct capability_entry *r) {
  return qualifier_covers(k, r->qualifier) && pattern_covers(k, r->pattern);
}

/* Compares UTF-8 strings in UTF-16 code unit order, as JavaScript's sort()
 * does for JSON.stringify-compatible output. This is byte order except that
 * U+E000..U+FFFF (lead bytes 0xEE, 0xEF) sort after the supplementary planes
 * (lead bytes 0xF0..0xF4), whose UTF-16 surrogates are below 0xE000. */
static int js_compare(const char *a, size_t alen, const char *b, size_t blen) {
  size_t n = alen < blen ? alen : blen, i = 0;
  while (i < n && a[i] == b[i]) i++;
  if (i == n) return alen < blen ? -1 : alen > blen;
  unsigned ca = (unsigned char)a[i], cb = (unsigned char)b[i];
  if (ca == 0xEE || ca == 0xEF) ca += 0x10;
  if (cb == 0xEE || cb == 0xEF) cb += 0x10;
  return ca < cb ? -1 : 1;
}

/* ---------------------------------------------------------------------------
 * Operation sets
 * ------------------------------------------------------------------------- */

static const struct opset opset_all = {CAPABILITY_OP_ALL, true};

/* ["*"] ∩ X = X, X ∩ ["*"] = X, otherwise the set intersection. */
static struct opset opset_meet(struct opset a, struct opset b) {
  if (a.star) return b;
  if (b.star) return a;
  return (struct opset){a.bits & b.bits, false};
}

/* The union; one containing "*" is "*". */
static struct opset opset_join(struct opset a, struct opset b) {
  if (a.star || b.star) return opset_all;
  return (struct opset){a.bits | b.bits, false};
}

/* Returns the bit index of an operation name, or -1 when it is unknown. */
static int op_lookup(const char *name) {
  for (int i = 0; i < CAPABILITY_BIT_COUNT; i++)
    if (strcmp(op_names[i], name) == 0) return i;
  return -1;
}

/* ---------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------- */

static int grant_compare(const void *pa, const void *pb) {
  const struct grant *a = pa, *b = pb;
  return js_compare(a->resource, a->len, b->resource, b->len);
}

/* Sorts grants by resource, joins the operations of grants naming the same
 * resource and drops grants with no operations. Returns the new count. */
static size_t merge_grants(struct grant *grants, size_t count) {
  if (count) qsort(grants, count, sizeof *grants, grant_compare);
  size_t out = 0;
  for (size_t i = 0; i < count; i++) {
    if (!grants[i].ops.bits) continue;
    if (out && grant_compare(&grants[out - 1], &grants[i]) == 0)
      grants[out - 1].ops = opset_join(grants[out - 1].ops, grants[i].ops);
    else
      grants[out++] = grants[i];
  }
  return out;
}

/* Fills one entry, its segments and its resource copy at the given places. */
static void layout_entry(struct capability_entry *e, const struct grant *g,
                         struct capability_segment *segments, char *text) {
  memcpy(text, g->resource, g->len);
  text[g->len] = '\0';
  e->resource = text;
  e->resource_len = g->len;
  e->ops = g->ops;
  split_qualifier(text, g->len, &e->qualifier, &e->pattern);
  e->segments = segments;
  e->segment_count = count_segments(e->pattern);
  const char *start = e->pattern.text, *end = start + e->pattern.len;
  for (size_t i = 0; i < e->segment_count; i++) {
    const char *colon = memchr(start, ':', (size_t)(end - start));
    size_t n = colon ? (size_t)(colon - start) : (size_t)(end - start);
    segments[i] =
        (struct capability_segment){start, n, n == 1 && *start == '*'};
    start += n + 1;
  }
}

/* Copies merged grants (sorted, distinct, non-empty) into one new block. */
static struct capability *layout(const struct grant *grants, size_t count) {
  size_t segment_total = 0, text_total = 0;
  for (size_t i = 0; i < count; i++) {
    struct view q, pattern;
    split_qualifier(grants[i].resource, grants[i].len, &q, &pattern);
    segment_total += count_segments(pattern);
    text_total += grants[i].len + 1;
  }
  size_t head =
      sizeof(struct capability) + count * sizeof(struct capability_entry);
  size_t text_at = head + segment_total * sizeof(struct capability_segment);
  struct capability *cap = herald_xmalloc(text_at + text_total);
  cap->count = count;
  struct capability_segment *segments =
      (struct capability_segment *)((char *)cap + head);
  char *text = (char *)cap + text_at;
  for (size_t i = 0; i < count; i++) {
    layout_entry(&cap->entries[i], &grants[i], segments, text);
    segments += cap->entries[i].segment_count;
    text += grants[i].len + 1;
  }
  return cap;
}

/* ---------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------- */

/* Reads the operation array of one resource into *ops. Returns 0, or -40000
 * with err set. */
static int parse_ops(const char *resource, const json_t *list,
                     struct opset *ops, herald_error *err) {
  if (!json_is_array(list))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Invalid capability: operations for resource "
                            "\"%.100s\" must be an array",
                            resource);
  size_t n = json_array_size(list);
  if (n == 0)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Invalid capability: empty operation list for "
                            "resource \"%.100s\"",
                            resource);
  *ops = (struct opset){0, false};
  for (size_t i = 0; i < n; i++) {
    const char *name = json_string_value(json_array_get(list, i));
    if (!name)
      return herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "Invalid capability: operations for resource "
                              "\"%.100s\" must be strings",
                              resource);
    if (strcmp(name, "*") == 0 && n > 1)
      return herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "Invalid capability: \"*\" cannot be combined "
                              "with other operations (resource \"%.100s\")",
                              resource);
    if (strcmp(name, "*") == 0) {
      *ops = opset_all;
      return 0;
    }
    int bit = op_lookup(name);
    if (bit < 0)
      return herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "Invalid capability: unknown operation "
                              "\"%.60s\" for resource \"%.100s\"",
                              name, resource);
    ops->bits |= 1u << bit;
  }
  return 0;
}

/* Validates a decoded capability object into grants borrowing its keys, then
 * lays them out. Returns 0 with *out set, or a negative code with err set. */
static int parse_object(const json_t *root, struct capability **out,
                        herald_error *err) {
  if (!json_is_object(root))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Invalid capability: must be a JSON object");
  size_t count = json_object_size(root);
  if (count == 0)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Invalid capability: no resources");
  struct grant *grants = herald_xmalloc(count * sizeof *grants);
  size_t n = 0;
  const char *resource;
  const json_t *list;
  int rc = 0;
  json_object_foreach((json_t *)root, resource, list) {
    struct grant *g = &grants[n++];
    *g = (struct grant){resource, strlen(resource), {0, false}};
    rc = parse_ops(resource, list, &g->ops, err);
    if (rc) break;
  }
  if (!rc) *out = layout(grants, merge_grants(grants, n));
  herald_free(grants);
  return rc;
}

int capability__parse(const char *json, size_t len, struct capability **out,
                      herald_error *err) {
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
  if (!root)
    return herald_error_set(err, HERALD_E_BAD_REQUEST, "Invalid capability: %s",
                            jerr.text);
  struct capability *cap = NULL;
  int rc = parse_object(root, &cap, err);
  json_decref(root);
  if (rc == 0) *out = cap;
  return rc;
}

struct capability *capability__new_all(void) {
  const struct grant all = {"*", 1, opset_all};
  return layout(&all, 1);
}

void capability__free(struct capability *cap) { herald_free(cap); }

/* ---------------------------------------------------------------------------
 * Matching
 * ------------------------------------------------------------------------- */

bool capability__allows(const struct capability *cap, const char *name,
                        size_t len, unsigned op) {
  struct view qualifier, rest;
  split_qualifier(name, len, &qualifier, &rest);
  for (size_t i = 0; i < cap->count; i++) {
    const struct capability_entry *e = &cap->entries[i];
    if ((e->ops.bits & op) == op && qualifier_covers(e, qualifier) &&
        pattern_covers(e, rest))
      return true;
  }
  return false;
}

bool capability__allows_all_channels(const struct capability *cap,
                                     unsigned op) {
  for (size_t i = 0; i < cap->count; i++) {
    const struct capability_entry *e = &cap->entries[i];
    bool any_qualifier =
        e->qualifier.len == 0 || view_equal(e->qualifier, "*", 1);
    if ((e->ops.bits & op) == op && any_qualifier &&
        view_equal(e->pattern, "*", 1))
      return true;
  }
  return false;
}

/* ---------------------------------------------------------------------------
 * Canonical text
 * ------------------------------------------------------------------------- */

/* Appends n bytes at out[pos] unless out is NULL (measuring). Returns the new
 * position. */
static size_t put(char *out, size_t pos, const char *s, size_t n) {
  if (out) memcpy(out + pos, s, n);
  return pos + n;
}

/* Appends s as a JSON string escaped as JSON.stringify does: \" \\ \b \f \n
 * \r \t, other control characters as \u00xx, everything else verbatim. */
static size_t put_string(char *out, size_t pos, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  pos = put(out, pos, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *short_escape = c == '"'    ? "\\\""
                               : c == '\\' ? "\\\\"
                               : c == '\b' ? "\\b"
                               : c == '\f' ? "\\f"
                               : c == '\n' ? "\\n"
                               : c == '\r' ? "\\r"
                               : c == '\t' ? "\\t"
                                           : NULL;
    if (short_escape) {
      pos = put(out, pos, short_escape, 2);
    } else if (c < 0x20) {
      char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      pos = put(out, pos, escape, sizeof escape);
    } else {
      pos = put(out, pos, (const char *)&c, 1);
    }
  }
  return put(out, pos, "\"", 1);
}

static int name_compare(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends an operation list: ["*"], or the names in ascending order. */
static size_t put_ops(char *out, size_t pos, struct opset ops) {
  if (ops.star) return put(out, pos, "[\"*\"]", 5);
  const char *names[CAPABILITY_BIT_COUNT];
  size_t n = 0;
  for (int i = 0; i < CAPABILITY_BIT_COUNT; i++)
    if (ops.bits & (1u << i)) names[n++] = op_names[i];
  qsort(names, n, sizeof names[0], name_compare);
  pos = put(out, pos, "[", 1);
  for (size_t i = 0; i < n; i++) {
    if (i) pos = put(out, pos, ",", 1);
    pos = put_string(out, pos, names[i], strlen(names[i]));
  }
  return put(out, pos, "]", 1);
}

/* Writes the canonical text into out (or only measures it when out is NULL).
 * Entries are already in canonical resource order. Returns its length. */
static size_t render(const struct capability *cap, char *out) {
  size_t pos = put(out, 0, "{", 1);
  for (size_t i = 0; i < cap->count; i++) {
    const struct capability_entry *e = &cap->entries[i];
    if (i) pos = put(out, pos, ",", 1);
    pos = put_string(out, pos, e->resource, e->resource_len);
    pos = put(out, pos, ":", 1);
    pos = put_ops(out, pos, e->ops);
  }
  return put(out, pos, "}", 1);
}

char *capability__canonical(const struct capability *cap) {
  size_t len = render(cap, NULL);
  char *text = herald_xmalloc(len + 1);
  render(cap, text);
  text[len] = '\0';
  return text;
}

/* ---------------------------------------------------------------------------
 * Intersection
 * ------------------------------------------------------------------------- */

/* Collects the candidates of auth.md 9.5 step 1 into grants (or only counts
 * them when grants is NULL): for each requested r and key k, (r, ops) when k
 * covers r, else (k, ops) when r covers k. Returns the count. */
static size_t collect(const struct capability *requested,
                      const struct capability *key, struct grant *grants) {
  size_t n = 0;
  for (size_t i = 0; i < requested->count; i++) {
    const struct capability_entry *r = &requested->entries[i];
    for (size_t j = 0; j < key->count; j++) {
      const struct capability_entry *k = &key->entries[j];
      const struct capability_entry *kept = r;
      if (!entry_covers(k, r)) {
        if (!entry_covers(r, k)) continue;
        kept = k;
      }
      if (grants)
        grants[n] = (struct grant){kept->resource, kept->resource_len,
                                   opset_meet(r->ops, k->ops)};
      n++;
    }
  }
  return n;
}

int capability__intersect(const struct capability *requested,
                          const struct capability *key, struct capability **out,
                          herald_error *err) {
  size_t count = collect(requested, key, NULL);
  struct grant *grants = herald_xmalloc(count * sizeof *grants);
  count = merge_grants(grants, collect(requested, key, grants));
  int rc = 0;
  if (count == 0) {
    rc = herald_error_set(err, HERALD_E_CAPABILITY_DENIED,
                          "Requested capability has no intersection with the "
                          "key's capability");
  } else {
    *out = layout(grants, count);
  }
  herald_free(grants);
  return rc;
}
