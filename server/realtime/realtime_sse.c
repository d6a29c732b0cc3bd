/* realtime_sse.c -- the event-stream routes (realtime.md 8): GET /sse and
 * GET /event-stream open a subscribe-only realtime connection on an
 * event-stream transport (transport/sse.h) and attach it to the channels
 * asked for, fresh, with a rewind, or resumed after an event id.
 * Owns: the reading and checking of a stream request. Every check happens
 * before the response starts, so what fails is an ordinary HTTP error;
 * from then on the stream is a realtime connection like any other
 * (heartbeats, token expiry, slow subscribers, shutdown: realtime.c). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "channel_name.h"
#include "clock.h"
#include "realtime/realtime.h"
#include "serial.h"
#include "transport/http_headers.h"
#include "transport/sse.h"

struct stream_channel {
  char *base;   /* the base name: the id's order follows these */
  char *rewind; /* the rewind to attach with, or NULL */
  char position[SERIAL_MAX]; /* where it starts: a resume's, or now */
};

/* A stream request, read and checked. */
struct stream_request {
  enum frame_kind kind;
  bool heartbeats;
  bool resume; /* positions are an event id to continue after */
  size_t n;
  struct stream_channel *channels;
};

static void request_cleanup(struct stream_request *sr) {
  for (size_t i = 0; i < sr->n; i++) {
    herald_free(sr->channels[i].base);
    herald_free(sr->channels[i].rewind);
  }
  herald_free(sr->channels);
}

/* ---- Parameters ------------------------------------------------------------ */

static int bool_param(const struct http_request *req, const char *name,
                      bool otherwise, bool *out, herald_error *err) {
  const char *v = http__param(req, name);
  *out = v ? !strcmp(v, "true") : otherwise;
  if (!v || !strcmp(v, "true") || !strcmp(v, "false")) return 0;
  return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid %s '%s' (true or false)", name, v);
}

/* v, the channel list and the stream's form; they need no credentials. */
static int read_form(const struct http_request *req, bool sse,
                     struct stream_request *sr, herald_error *err) {
  if (!http__param(req, "v"))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Missing the v parameter (API version)");
  if (!http__param(req, "channels") && !http__param(req, "channel"))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Missing the channels parameter");
  bool enveloped;
  int rc = bool_param(req, "enveloped", true, &enveloped, err);
  if (!rc) rc = bool_param(req, "heartbeats", false, &sr->heartbeats, err);
  if (sse) sr->kind = enveloped ? FRAME_SSE : FRAME_SSE_BARE;
  else sr->kind = enveloped ? FRAME_EVENTS : FRAME_EVENTS_BARE;
  return rc;
}

/* The value of key in a qualifier's params ("rewind=1&k=v", len bytes) as
 * a new string, or NULL. */
static char *qualifier_param(const char *params, size_t len, const char *key) {
  size_t key_len = strlen(key);
  for (const char *p = params, *end = params + len; p < end;) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    if ((size_t)(stop - p) > key_len && !memcmp(p, key, key_len) &&
        p[key_len] == '=')
      return herald_xstrndup(p + key_len + 1, (size_t)(stop - p) - key_len - 1);
    p = stop + 1;
  }
  return NULL;
}

/* One channel of the list, name[0..len): checked as an ATTACH for
 * subscribe is; its qualifier's rewind overrides the stream's. */
static int read_channel(const struct auth *auth, const char *name, size_t len,
                        const char *rewind, bool resume,
                        struct stream_channel *ch, herald_error *err) {
  char *text = herald_xstrndup(name, len);
  struct channel_name parsed;
  uint32_t modes;
  int rc = channel_name__parse(text, len, &parsed, err);
  if (!rc && !resume) { /* a resume continues where it was: no rewind */
    char *own = parsed.params ? qualifier_param(parsed.params, parsed.params_len,
                                                "rewind")
                              : NULL;
    ch->rewind = own ? own : rewind ? herald_xstrdup(rewind) : NULL;
  }
  if (!rc)
    rc = realtime_channels__check(auth, text, PM_FLAG_MODE_SUBSCRIBE,
                                  ch->rewind, &parsed, &modes, err);
  if (!rc) ch->base = channel_name__base_dup(&parsed);
  herald_free(text);
  return rc;
}

static size_t count_parts(const char *list, const char *separator) {
  size_t n = 1, sep_len = strlen(separator);
  for (const char *p = list; (p = strstr(p, separator)); p += sep_len) n++;
  return n;
}

/* The channels, split at the separator, each checked, none twice. */
static int read_channels(const struct realtime *rt,
                         const struct http_request *req,
                         const struct auth *auth, struct stream_request *sr,
                         herald_error *err) {
  const char *list = http__param(req, "channels");
  if (!list) list = http__param(req, "channel");
  const char *separator = http__param(req, "separator");
  if (!separator || !*separator) separator = ",";
  size_t n = count_parts(list, separator), sep_len = strlen(separator);
  int rc = realtime_channels__check_count(rt, n, err);
  if (rc) return rc;
  const char *rewind = http__param(req, "rewind");
  sr->channels = herald_xcalloc(n, sizeof *sr->channels);
  const char *p = list;
  for (size_t i = 0; i < n && !rc; i++, sr->n++) {
    const char *end = strstr(p, separator);
    size_t len = end ? (size_t)(end - p) : strlen(p);
    rc = read_channel(auth, p, len, rewind, sr->resume, &sr->channels[i], err);
    for (size_t j = 0; !rc && j < i; j++)
      if (!strcmp(sr->channels[j].base, sr->channels[i].base))
        rc = herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "Channel '%s' named twice", sr->channels[i].base);
    p = end ? end + sep_len : p + len;
  }
  return rc;
}

/* Where each channel starts: after the event id to resume from (lastEvent
 * or Last-Event-ID: one position per channel, in their order), else now. */
static int read_positions(const char *id, struct stream_request *sr,
                          herald_error *err) {
  int64_t ms;
  for (size_t i = 0; i < sr->n; i++) {
    if (!id) {
      serial__floor(sr->channels[i].position, clock__now_ms(), 0);
      continue;
    }
    const char *end = strchr(id, SSE_ID_SEPARATOR);
    size_t len = end ? (size_t)(end - id) : strlen(id);
    char *part = herald_xstrndup(id, len);
    bool valid = (end != NULL) == (i + 1 < sr->n) && len < SERIAL_MAX &&
                 serial__position(part, &ms);
    if (valid) memcpy(sr->channels[i].position, part, len + 1);
    herald_free(part);
    if (!valid)
      return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                              "Invalid lastEvent: not a position of the "
                              "stream's %zu channel(s)", sr->n);
    id = end + 1;
  }
  return 0;
}

static const char *last_event_id(const struct http_request *req) {
  const char *id = http__param(req, "lastEvent");
  return id ? id : http__header(req, "last-event-id");
}

/* Everything a stream needs, in the order its errors are reported. */
static int read_request(const struct realtime *rt, struct http_request *req,
                        bool sse, struct stream_request *sr, struct auth *auth,
                        herald_error *err) {
  int rc = read_form(req, sse, sr, err);
  if (!rc) rc = auth__authenticate(req, rt->channels->apps, auth, err);
  sr->resume = last_event_id(req) != NULL;
  if (!rc) rc = read_channels(rt, req, auth, sr, err);
  return rc ? rc : read_positions(last_event_id(req), sr, err);
}

/* ---- The stream ------------------------------------------------------------- */

/* A synthesized ATTACH for subscribe only (no presence reaches a stream),
 * with its rewind, or the position a resume continues after. */
static void attach(struct rt_conn *c, struct stream_channel *ch, bool resume) {
  char *keys[] = {"rewind"}, *values[] = {ch->rewind};
  struct protocol_message pm = {.action = PM_ATTACH,
                                .channel = ch->base,
                                .flags = PM_FLAG_MODE_SUBSCRIBE,
                                .channel_serial = resume ? ch->position : NULL,
                                .param_keys = keys,
                                .param_values = values,
                                .n_params = ch->rewind ? 1 : 0};
  realtime_channels__attach(c, &pm);
}

static void start_stream(struct realtime *rt, struct http_request *req,
                         struct stream_request *sr, struct auth *auth) {
  struct http_headers cors;
  http_headers__init(&cors);
  http_headers__cors(&cors, req, rt->cfg->allowed_origins);
  const char **names = herald_xmalloc(sr->n * sizeof *names);
  const char **positions = herald_xmalloc(sr->n * sizeof *positions);
  for (size_t i = 0; i < sr->n; i++) {
    names[i] = sr->channels[i].base;
    positions[i] = sr->channels[i].position;
  }
  struct sse_options o = {.kind = sr->kind,
                          .heartbeats = sr->heartbeats,
                          .n_channels = sr->n,
                          .channels = names,
                          .positions = positions,
                          .headers = cors.buf};
  struct transport *t = sse__accept(req, &o);
  herald_free(names);
  herald_free(positions);
  struct rt_conn *c =
      realtime__open_stream(rt, t, auth, rt->cfg->max_idle_interval_ms);
  c->resumed = sr->resume;
  for (size_t i = 0; i < sr->n; i++) attach(c, &sr->channels[i], sr->resume);
}

static void serve(struct realtime *rt, struct http_request *req, bool sse) {
  herald_error err;
  struct stream_request sr = {0};
  struct auth auth = {0};
  if (read_request(rt, req, sse, &sr, &auth, &err)) {
    auth__release(&auth);
    http__fail(req, &err);
  } else {
    start_stream(rt, req, &sr, &auth);
  }
  request_cleanup(&sr);
}

void realtime_sse__sse(struct realtime *rt, struct http_request *req) {
  serve(rt, req, true);
}

void realtime_sse__event_stream(struct realtime *rt, struct http_request *req) {
  const char *accept = http__header(req, "accept");
  serve(rt, req, accept && strstr(accept, "text/event-stream"));
}
