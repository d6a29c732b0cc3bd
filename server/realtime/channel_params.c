/* channel_params.c -- an ATTACH's params Herald applies (see
 * channel_params.h). */
#include "realtime/channel_params.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"

static const struct {
  const char *name;
  uint32_t flag;
} mode_names[] = {
    {"presence", PM_FLAG_MODE_PRESENCE},
    {"publish", PM_FLAG_MODE_PUBLISH},
    {"subscribe", PM_FLAG_MODE_SUBSCRIBE},
    {"presence_subscribe", PM_FLAG_MODE_PRESENCE_SUBSCRIBE},
    {"annotation_publish", PM_FLAG_MODE_ANNOTATION_PUBLISH},
    {"annotation_subscribe", PM_FLAG_MODE_ANNOTATION_SUBSCRIBE},
    {"object_publish", PM_FLAG_MODE_OBJECT_PUBLISH},
    {"object_subscribe", PM_FLAG_MODE_OBJECT_SUBSCRIBE},
};

/* One mode name of text[0..len), case-insensitive: its flag, or 0. */
static uint32_t mode_flag(const char *text, size_t len) {
  for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
    if (strlen(mode_names[i].name) == len &&
        !strncasecmp(text, mode_names[i].name, len))
      return mode_names[i].flag;
  return 0;
}

/* "presence,subscribe": the modes named, 0 if one is unknown or none is
 * given. */
static uint32_t parse_modes(const char *text) {
  uint32_t modes = 0;
  for (const char *p = text;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    uint32_t flag = mode_flag(p, len);
    if (!flag) return 0;
    modes |= flag;
    if (!comma) return modes;
    p = comma + 1;
  }
}

/* "metrics", or "metrics.<one of the metrics>" (realtime.md 5.3). */
static bool valid_occupancy(const char *v) {
  static const char *const metrics[] = {
      "connections",         "publishers",          "subscribers",
      "presenceConnections", "presenceMembers",     "presenceSubscribers",
      "objectPublishers",    "objectSubscribers"};
  if (!strcmp(v, "metrics")) return true;
  if (strncmp(v, "metrics.", 8)) return false;
  for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
    if (!strcmp(v + 8, metrics[i])) return true;
  return false;
}

bool channel_params__rewind(const char *text, size_t max, size_t *count,
                            int64_t *ms) {
  char *end;
  long long v = strtoll(text, &end, 10);
  if (end == text || v < 0) return false;
  *count = 0;
  *ms = 0;
  if (!*end) {
    *count = (unsigned long long)v > max ? max : (size_t)v;
    return *count > 0;
  }
  if (!strcmp(end, "s")) *ms = v * 1000;
  else if (!strcmp(end, "m")) *ms = v * 60000;
  else return false;
  return true;
}

/* Whether Herald applies param key with value v: 1 yes, 0 it does not
 * know the param, -1 the value is not one it can apply. */
static int applies(struct channel_params *p, const char *key, const char *v) {
  size_t count;
  int64_t ms;
  if (!strcmp(key, "modes")) return (p->modes = parse_modes(v)) ? 1 : -1;
  if (!strcmp(key, "rewind"))
    return channel_params__rewind(v, SIZE_MAX, &count, &ms) ? 1 : -1;
  if (!strcmp(key, "delta")) /* accepted; full payloads are sent */
    return !strcmp(v, "vcdiff") ? 1 : -1;
  if (!strcmp(key, "occupancy")) return valid_occupancy(v) ? 1 : -1;
  if (!strcmp(key, "echo"))
    return !strcmp(v, "true") || !strcmp(v, "false") ? 1 : -1;
  return 0;
}

int channel_params__read(const struct protocol_message *pm,
                         struct channel_params *out, herald_error *err) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < pm->n_params; i++) {
    const char *key = pm->param_keys[i], *value = pm->param_values[i];
    int known = applies(out, key, value);
    if (known < 0) {
      channel_params__free(out);
      return herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "Invalid channel param %s: '%s'", key, value);
    }
    if (known && out->n < CHANNEL_PARAMS_MAX && !channel_params__get(out, key)) {
      out->keys[out->n] = herald_xstrdup(key);
      out->values[out->n++] = herald_xstrdup(value);
    }
  }
  return 0;
}

const char *channel_params__get(const struct channel_params *p,
                                const char *key) {
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->keys[i], key)) return p->values[i];
  return NULL;
}

void channel_params__free(struct channel_params *p) {
  for (size_t i = 0; i < p->n; i++) {
    herald_free(p->keys[i]);
    herald_free(p->values[i]);
  }
  memset(p, 0, sizeof *p);
}
