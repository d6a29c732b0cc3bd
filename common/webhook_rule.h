/* webhook_rule.h -- an app's webhook rule (Ably's integration rule of
 * type http): its JSON definition, checked and compiled.
 *
 * {id, requestMode: "single"|"batch", source: {type, channelFilter},
 *  target: {url, headers, format: "json"|"msgpack", enveloped, signingKey},
 *  status: "enabled"|"disabled"}. `headers` is an object of name -> value
 * or, as Ably's Control API gives them, an array of {name, value}. The
 * channel filter is a POSIX extended regular expression matched anywhere
 * in the channel's name (anchor it to match whole names); none or "" match
 * every channel. */
#ifndef HERALD_WEBHOOK_RULE_H
#define HERALD_WEBHOOK_RULE_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "herald/errors.h"
#include "wire.h"

enum webhook_source {
  WEBHOOK_MESSAGE,   /* channel.message */
  WEBHOOK_PRESENCE,  /* channel.presence */
  WEBHOOK_LIFECYCLE, /* channel.lifecycle */
  WEBHOOK_OCCUPANCY, /* channel.occupancy */
  WEBHOOK_SOURCES
};

#define WEBHOOK_RULE_ID_MAX 64
#define WEBHOOK_FILTER_MAX 1024

struct webhook_header {
  char *name, *value;
};

struct webhook_rule {
  char *id;
  bool batch;
  enum webhook_source source;
  bool has_filter;
  regex_t filter;
  char *url;
  struct webhook_header *headers;
  size_t n_headers;
  enum wire_format format;
  bool enveloped;
  char *signing_key; /* a key name of the app, or NULL: unsigned */
  bool enabled;
  json_t *def; /* the rule as given back (defaults filled in) */
};

/* The wire name of a source ("channel.message"), and back (-1: none). */
const char *webhook_rule__source_name(enum webhook_source s);
int webhook_rule__source_of(const char *name);

/* Checks and compiles def. id_if_absent names a rule whose definition has
 * no id. 0, or -40001 / -40003 with err set. */
int webhook_rule__parse(const json_t *def, const char *id_if_absent,
                        struct webhook_rule **out, herald_error *err);
void webhook_rule__free(struct webhook_rule *r);

/* Whether r takes events of source s on channel (a base name). */
bool webhook_rule__matches(const struct webhook_rule *r,
                           enum webhook_source s, const char *channel);

#endif
