/* fuzz_webhook_rule.c -- libFuzzer target for webhook rule definitions
 * (common/webhook_rule.c), which the rules API takes from its callers.
 *
 * The input is JSON text (what jansson does not parse is skipped). For
 * every definition, parsing ends in a rule or a -40003 error without a
 * crash or leak, and for what parses: the definition given back parses
 * again to the same definition, and the rule's filter can be matched
 * against its own id. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "webhook_rule.h"

static void fail(const char *what) {
  fprintf(stderr, "webhook_rule: %s\n", what);
  abort();
}

static struct webhook_rule *parse(const json_t *def) {
  struct webhook_rule *r = NULL;
  herald_error err;
  if (!webhook_rule__parse(def, "fuzz", &r, &err)) return r;
  if (err.code != HERALD_E_INVALID_PARAMETER_VALUE || r)
    fail("a refused rule got another code, or a rule");
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *def = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
  if (!def) return 0;
  struct webhook_rule *r = parse(def);
  json_decref(def);
  if (!r) return 0;
  struct webhook_rule *again = parse(r->def);
  if (!again) fail("the definition given back does not parse");
  if (!json_equal(r->def, again->def))
    fail("the definition given back parses to another");
  (void)webhook_rule__matches(r, r->source, r->id);
  webhook_rule__free(again);
  webhook_rule__free(r);
  return 0;
}
