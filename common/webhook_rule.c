/* webhook_rule.c -- checking and compiling a webhook rule's definition
 * (webhook_rule.h). */
#include "webhook_rule.h"

#include <string.h>

#include "alloc.h"

static const char *const source_names[WEBHOOK_SOURCES] = {
    "channel.message", "channel.presence", "channel.lifecycle",
    "channel.occupancy"};

const char *webhook_rule__source_name(enum webhook_source s) {
  return source_names[s];
}

int webhook_rule__source_of(const char *name) {
  for (int i = 0; name && i < WEBHOOK_SOURCES; i++)
    if (!strcmp(name, source_names[i])) return i;
  return -1;
}

static int invalid(herald_error *err, const char *what) {
  return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid webhook rule: %s", what);
}

/* def's string member key: *out (NULL when absent); -1 when not a string. */
static int optional_string(const json_t *def, const char *key,
                           const char **out) {
  const json_t *v = json_object_get(def, key);
  *out = json_string_value(v);
  return v && !*out ? -1 : 0;
}

/* The member key among the choices, choices[0] when absent; -1: neither. */
static int choice(const json_t *def, const char *key, const char *a,
                  const char *b) {
  const char *s;
  if (optional_string(def, key, &s)) return -1;
  if (!s || !strcmp(s, a)) return 0;
  return strcmp(s, b) ? -1 : 1;
}

static void add_header(struct webhook_rule *r, const char *name,
                       const char *value) {
  r->headers = herald_xrealloc(r->headers,
                               (r->n_headers + 1) * sizeof *r->headers);
  r->headers[r->n_headers++] = (struct webhook_header){
      herald_xstrdup(name), herald_xstrdup(value)};
}

/* A header the receiver gets as given: a token, a value without CR/LF. */
static bool header_ok(const char *name, const char *value) {
  if (!name || !value || !*name || strlen(name) > 256 || strlen(value) > 4096)
    return false;
  return strcspn(name, " \t\r\n:") == strlen(name) &&
         strcspn(value, "\r\n") == strlen(value);
}

static int parse_headers(struct webhook_rule *r, const json_t *h,
                         herald_error *err) {
  const char *name;
  const json_t *v;
  size_t i;
  if (!h) return 0;
  if (json_is_object(h)) {
    json_object_foreach((json_t *)h, name, v) {
      if (!header_ok(name, json_string_value(v)))
        return invalid(err, "target.headers");
      add_header(r, name, json_string_value(v));
    }
    return 0;
  }
  if (!json_is_array(h)) return invalid(err, "target.headers");
  json_array_foreach(h, i, v) {
    name = json_string_value(json_object_get(v, "name"));
    const char *value = json_string_value(json_object_get(v, "value"));
    if (!header_ok(name, value)) return invalid(err, "target.headers");
    add_header(r, name, value);
  }
  return 0;
}

static int parse_source(struct webhook_rule *r, const json_t *source,
                        herald_error *err) {
  const char *type, *filter;
  if (!json_is_object(source) || optional_string(source, "type", &type) ||
      webhook_rule__source_of(type) < 0)
    return invalid(err, "source.type must be channel.message, "
                        "channel.presence, channel.lifecycle or "
                        "channel.occupancy");
  r->source = (enum webhook_source)webhook_rule__source_of(type);
  if (optional_string(source, "channelFilter", &filter) ||
      (filter && strlen(filter) > WEBHOOK_FILTER_MAX))
    return invalid(err, "source.channelFilter");
  if (filter && *filter) {
    if (regcomp(&r->filter, filter, REG_EXTENDED | REG_NOSUB))
      return invalid(err, "source.channelFilter is not a regular expression");
    r->has_filter = true;
  }
  return 0;
}

static bool url_ok(const char *url) {
  return url && strlen(url) < 2048 && strcspn(url, " \t\r\n") == strlen(url) &&
         (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8));
}

static int parse_target(struct webhook_rule *r, const json_t *target,
                        herald_error *err) {
  const char *url, *key;
  if (!json_is_object(target) || optional_string(target, "url", &url) ||
      !url_ok(url))
    return invalid(err, "target.url must be an http or https URL");
  r->url = herald_xstrdup(url);
  int format = choice(target, "format", "json", "msgpack");
  if (format < 0) return invalid(err, "target.format must be json or msgpack");
  r->format = format ? WIRE_MSGPACK : WIRE_JSON;
  const json_t *enveloped = json_object_get(target, "enveloped");
  if (enveloped && !json_is_boolean(enveloped))
    return invalid(err, "target.enveloped must be a boolean");
  r->enveloped = !enveloped || json_is_true(enveloped);
  if (optional_string(target, "signingKey", &key))
    return invalid(err, "target.signingKey must be a key name");
  if (key && *key) r->signing_key = herald_xstrdup(key);
  return parse_headers(r, json_object_get(target, "headers"), err);
}

/* The definition as given back: def with its id and defaults. */
static json_t *canonical(const json_t *def, const struct webhook_rule *r) {
  json_t *out = json_deep_copy(def);
  json_object_set_new(out, "id", json_string(r->id));
  json_object_set_new(out, "requestMode",
                      json_string(r->batch ? "batch" : "single"));
  json_object_set_new(out, "status",
                      json_string(r->enabled ? "enabled" : "disabled"));
  json_t *target = json_object_get(out, "target");
  json_object_set_new(target, "format",
                      json_string(r->format == WIRE_MSGPACK ? "msgpack"
                                                            : "json"));
  json_object_set_new(target, "enveloped", json_boolean(r->enveloped));
  return out;
}

static int parse(struct webhook_rule *r, const json_t *def,
                 const char *id_if_absent, herald_error *err) {
  const char *id;
  if (!json_is_object(def))
    return invalid(err, "a rule is an object");
  if (optional_string(def, "id", &id)) return invalid(err, "id");
  if (!id) id = id_if_absent;
  if (!id || !*id || strlen(id) > WEBHOOK_RULE_ID_MAX ||
      strcspn(id, "/?#%\n") != strlen(id))
    return invalid(err, "id must be 1 to 64 characters, without / ? # %");
  r->id = herald_xstrdup(id);
  int mode = choice(def, "requestMode", "single", "batch");
  int status = choice(def, "status", "enabled", "disabled");
  if (mode < 0) return invalid(err, "requestMode must be single or batch");
  if (status < 0) return invalid(err, "status must be enabled or disabled");
  r->batch = mode == 1;
  r->enabled = status == 0;
  int rc = parse_source(r, json_object_get(def, "source"), err);
  if (!rc) rc = parse_target(r, json_object_get(def, "target"), err);
  if (!rc && r->batch && !r->enveloped)
    rc = invalid(err, "a batch rule's requests are always enveloped");
  if (!rc && !r->enveloped && r->source != WEBHOOK_MESSAGE)
    rc = invalid(err, "only channel.message rules can be non-enveloped");
  if (!rc) r->def = canonical(def, r);
  return rc;
}

int webhook_rule__parse(const json_t *def, const char *id_if_absent,
                        struct webhook_rule **out, herald_error *err) {
  struct webhook_rule *r = herald_xcalloc(1, sizeof *r);
  int rc = parse(r, def, id_if_absent, err);
  if (rc) {
    webhook_rule__free(r);
    r = NULL;
  }
  *out = r;
  return rc;
}

void webhook_rule__free(struct webhook_rule *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_headers; i++) {
    herald_free(r->headers[i].name);
    herald_free(r->headers[i].value);
  }
  herald_free(r->headers);
  if (r->has_filter) regfree(&r->filter);
  herald_free(r->id);
  herald_free(r->url);
  herald_free(r->signing_key);
  json_decref(r->def);
  herald_free(r);
}

bool webhook_rule__matches(const struct webhook_rule *r,
                           enum webhook_source s, const char *channel) {
  if (!r->enabled || r->source != s) return false;
  return !r->has_filter || !regexec(&r->filter, channel, 0, NULL, 0);
}
