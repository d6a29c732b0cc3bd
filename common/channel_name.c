/* channel_name.c -- channel name validation and qualifier parsing (see
 * channel_name.h and shared/spec/messages.md section 8). Owns nothing: a
 * parsed name is a set of views into the caller's text. */
#include "channel_name.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "utf8.h"

#define META_PREFIX "[meta]"
#define FILTER_KIND "filter="

/* The longest part of a name quoted back in an error message. */
#define QUOTE_MAX 100

static int quote_len(size_t len) {
  return len > QUOTE_MAX ? QUOTE_MAX : (int)len;
}

/* Checks the rules for a name without qualifier: non-empty, not starting
 * with ':' or '['. Returns 0, or -40010 with err set. */
static int check_plain(const char *name, size_t len, herald_error *err) {
  if (len == 0)
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "invalid channel name: must not be empty");
  if (name[0] == ':')
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "invalid channel name: must not start with ':' "
                            "(channel = %.*s)",
                            quote_len(len), name);
  if (name[0] == '[')
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "Invalid qualifier in channelId; channelId = %.*s",
                            quote_len(len), name);
  return 0;
}

/* Parses the "[meta]", "[?params]", "[filter=...]" prefix, or one of those
 * with "?params", of name, which starts with '['. Fills the qualifier fields
 * of *out and returns the length of the prefix, or 0 when the qualifier is
 * invalid. */
static size_t parse_qualifier(const char *name, size_t len,
                              struct channel_name *out) {
  const char *close = memchr(name, ']', len);
  if (!close) return 0;
  size_t inner = (size_t)(close - name - 1);
  const char *query = memchr(name + 1, '?', inner);
  size_t kind_len = query ? (size_t)(query - name - 1) : inner;
  size_t filter_kind = strlen(FILTER_KIND);
  out->is_meta = kind_len == 4 && memcmp(name + 1, "meta", 4) == 0;
  if (kind_len >= filter_kind && !memcmp(name + 1, FILTER_KIND, filter_kind)) {
    out->filter = name + 1 + filter_kind;
    out->filter_len = kind_len - filter_kind;
  } else if (!out->is_meta && !(kind_len == 0 && query)) {
    return 0;
  }
  size_t params_len = query ? (size_t)(close - query - 1) : 0;
  out->params = params_len ? query + 1 : NULL;
  out->params_len = params_len;
  return inner + 2;
}

int channel_name__parse(const char *name, size_t len, struct channel_name *out,
                        herald_error *err) {
  if (len > CHANNEL_NAME_MAX)
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "invalid channel name: longer than %d bytes "
                            "(channel = %.*s...)",
                            CHANNEL_NAME_MAX, QUOTE_MAX, name);
  if (memchr(name, '\n', len) || memchr(name, '\r', len))
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "invalid channel name: must not contain a newline");
  if (memchr(name, '\0', len) || !utf8__valid(name, len))
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "invalid channel name: must be UTF-8 text "
                            "without NUL");
  struct channel_name parsed = {name, len, NULL, 0, 0, NULL, 0};
  if (len && name[0] == '[') {
    size_t prefix = parse_qualifier(name, len, &parsed);
    if (prefix == 0)
      return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                              "Invalid qualifier in channelId; "
                              "channelId = %.*s",
                              quote_len(len), name);
    parsed.base = name + prefix;
    parsed.base_len = len - prefix;
  }
  int rc = check_plain(parsed.base, parsed.base_len, err);
  if (rc) return rc;
  *out = parsed;
  return 0;
}

char *channel_name__base_dup(const struct channel_name *name) {
  size_t prefix = name->is_meta ? strlen(META_PREFIX) : 0;
  if (name->filter) prefix = strlen("[" FILTER_KIND "]") + name->filter_len;
  char *text = herald_xmalloc(prefix + name->base_len + 1);
  if (name->filter)
    snprintf(text, prefix + 1, "[" FILTER_KIND "%.*s]", (int)name->filter_len,
             name->filter);
  else
    memcpy(text, META_PREFIX, prefix);
  memcpy(text + prefix, name->base, name->base_len);
  text[prefix + name->base_len] = '\0';
  return text;
}

size_t channel_name__namespace_len(const char *base, size_t len) {
  const char *colon = memchr(base, ':', len);
  return colon ? (size_t)(colon - base) : len;
}
