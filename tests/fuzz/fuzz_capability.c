/* fuzz_capability.c -- libFuzzer target for capability JSON
 * (common/capability.c): parse, canonical text, intersection and matching.
 *
 * The input is split at NULs: the first piece is a capability X, the
 * second a capability Y (a key's), the rest channel names. For every
 * input, parsing ends in a capability or a -40000 error without a crash
 * or leak, and for what parses:
 *  - canonical text reparses to the same canonical text;
 *  - X ∩ X is X (same canonical text);
 *  - X ∩ Y allows an operation on a channel only when X and Y both do
 *    (checked for every operation on the given channels and on every
 *    resource name of X and Y taken as a channel name), and when it is
 *    empty it is refused with -40160;
 *  - an operation X allows on all channels it allows on every channel
 *    without a qualifier. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "capability.h"

#define MAX_NAMES 64

static void fail(const char *what) {
  fprintf(stderr, "capability: %s\n", what);
  abort();
}

struct piece {
  const char *text;
  size_t len;
};

/* Splits data at NULs into at most max pieces; returns how many. */
static size_t split(const uint8_t *data, size_t size, struct piece *out, size_t max) {
  size_t n = 0;
  const char *p = (const char *)data, *end = p + size;
  while (n < max && p <= end) {
    const char *nul = memchr(p, 0, (size_t)(end - p));
    size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);
    out[n++] = (struct piece){p, len};
    if (!nul) break;
    p = nul + 1;
  }
  return n;
}

/* Parses a piece; NULL (with the code checked) when it is no capability. */
static struct capability *parse(struct piece text) {
  struct capability *cap = NULL;
  herald_error err;
  if (capability__parse(text.text, text.len, &cap, &err) == 0) return cap;
  if (err.code != HERALD_E_BAD_REQUEST) fail("a refused capability got another code");
  return NULL;
}

/* The canonical text of cap, after checking that it reparses to itself. */
static char *canonical(const struct capability *cap) {
  char *text = capability__canonical(cap);
  if (!text) fail("no canonical text");
  struct capability *again = parse((struct piece){text, strlen(text)});
  if (!again) fail("canonical text does not reparse");
  char *text2 = capability__canonical(again);
  if (strcmp(text, text2) != 0) fail("canonical text reparses to other text");
  herald_free(text2);
  capability__free(again);
  return text;
}

/* Checks X ∩ X == X. */
static void check_self(const struct capability *x, const char *x_text) {
  struct capability *xx = NULL;
  herald_error err;
  if (capability__intersect(x, x, &xx, &err)) fail("X ∩ X is empty");
  char *xx_text = canonical(xx);
  if (strcmp(x_text, xx_text) != 0) fail("X ∩ X is not X");
  herald_free(xx_text);
  capability__free(xx);
}

/* Checks matching on one channel name against X, Y and X ∩ Y (or NULL). */
static void check_channel(const struct capability *x, const struct capability *y,
                          const struct capability *xy, const char *name, size_t len) {
  bool plain = !(len && name[0] == '[' && memchr(name, ']', len));
  for (int bit = 0; bit < CAPABILITY_BIT_COUNT; bit++) {
    unsigned op = 1u << bit;
    bool in_x = capability__allows(x, name, len, op);
    if (plain && capability__allows_all_channels(x, op) && !in_x)
      fail("allowed on all channels but not on this one");
    if (xy && capability__allows(xy, name, len, op) &&
        !(in_x && capability__allows(y, name, len, op)))
      fail("X ∩ Y allows what X or Y does not");
  }
}

/* Checks every resource name of a canonical text as a channel name. */
static void check_resources(const struct capability *x, const struct capability *y,
                            const struct capability *xy, const char *text) {
  json_t *root = json_loads(text, 0, NULL);
  if (!json_is_object(root)) fail("canonical text is not a JSON object");
  const char *resource;
  json_t *ops;
  json_object_foreach(root, resource, ops) {
    check_channel(x, y, xy, resource, strlen(resource));
  }
  json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct piece pieces[MAX_NAMES];
  size_t n = split(data, size, pieces, MAX_NAMES);
  struct capability *x = parse(pieces[0]);
  if (!x) return 0;
  char *x_text = canonical(x);
  check_self(x, x_text);
  struct capability *y = n > 1 ? parse(pieces[1]) : capability__new_all();
  if (y) {
    char *y_text = canonical(y);
    struct capability *xy = NULL;
    herald_error err;
    if (capability__intersect(x, y, &xy, &err) && err.code != HERALD_E_CAPABILITY_DENIED)
      fail("an empty intersection got another code than 40160");
    for (size_t i = 2; i < n; i++)
      check_channel(x, y, xy, pieces[i].text, pieces[i].len);
    check_resources(x, y, xy, x_text);
    check_resources(x, y, xy, y_text);
    capability__free(xy);
    herald_free(y_text);
    capability__free(y);
  }
  herald_free(x_text);
  capability__free(x);
  return 0;
}
