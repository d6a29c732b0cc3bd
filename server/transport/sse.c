/* sse.c -- the event-stream transport (see sse.h).
 * Owns: struct sse (its outbound queue and its channels' positions, which
 * make its event ids) and each worker's last id suffix, shared by the
 * single-channel streams a delivery reaches.
 * Does not own: what the stream subscribes to (the realtime layer attaches
 * its channels) or its frames of a kind (shared, built by sse__pm_frame). */
#include "transport/sse.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "core/worker.h"
#include "serial.h"

#define TEXT_FIRST_CAP 256

struct sse_channel {
  char *name;                /* base name */
  char position[SERIAL_MAX]; /* after the last event of it sent */
  bool attached;             /* its ATTACHED has come */
};

struct sse {
  struct transport transport;
  struct http_upgrade upgrade;
  struct outbound out;
  bool heartbeats;
  bool closing;
  size_t n_attached; /* the id alone goes out once every channel is */
  size_t n_channels;
  struct sse_channel channels[];
};

/* Per worker: the last id suffix built for a single-channel stream, by
 * family (SSE, JSON), so that a delivery's streams share one. */
struct sse_worker {
  struct frame *suffix[2];
};

static bool is_sse(enum frame_kind kind) {
  return kind == FRAME_SSE || kind == FRAME_SSE_BARE;
}

static bool is_bare(enum frame_kind kind) {
  return kind == FRAME_SSE_BARE || kind == FRAME_EVENTS_BARE;
}

bool sse__kind(enum frame_kind kind) {
  return is_sse(kind) || kind == FRAME_EVENTS || kind == FRAME_EVENTS_BARE;
}

/* ---- Text into a frame ----------------------------------------------------- */

/* A frame being written, grown by doubling. */
struct text {
  struct frame *f;
  size_t cap;
};

static void put(struct text *t, const char *s, size_t n) {
  size_t len = t->f ? t->f->len : 0;
  if (!t->f || len + n > t->cap) {
    size_t cap = t->cap ? t->cap : TEXT_FIRST_CAP;
    while (cap < len + n) cap *= 2;
    t->f = herald_xrealloc(t->f, sizeof *t->f + cap);
    t->f->refs = 1;
    t->f->len = len;
    t->cap = cap;
  }
  memcpy(t->f->data + len, s, n);
  t->f->len = len + n;
}

static void put_str(struct text *t, const char *s) { put(t, s, strlen(s)); }

/* The frame written, trimmed to its length. */
static struct frame *finish(struct text *t) {
  return herald_xrealloc(t->f, sizeof *t->f + t->f->len);
}

/* Puts what w wrote (JSON text); false when it did not encode. */
static bool put_written(struct text *t, struct wire_writer *w) {
  size_t len;
  char *json = wire_writer__finish(w, &len);
  wire_writer__cleanup(w);
  if (json) put(t, json, len);
  herald_free(json);
  return json != NULL;
}

/* ---- Items ---------------------------------------------------------------- */

/* s as SSE data lines: one "data: " line per line of s (CR, LF or CRLF
 * end one), which the reader joins with LF. */
static void put_data_lines(struct text *t, const char *s, size_t n) {
  for (size_t i = 0;;) {
    size_t end = i;
    while (end < n && s[end] != '\n' && s[end] != '\r') end++;
    put_str(t, "data: ");
    put(t, s + i, end - i);
    put_str(t, "\n");
    if (end == n) return;
    i = end + (s[end] == '\r' && end + 1 < n && s[end + 1] == '\n' ? 2 : 1);
  }
}

/* Whether p is JSON text that parses (encoding "json"). */
static bool json_payload(const struct payload *p) {
  if (p->type != PAYLOAD_STRING || !p->encoding || strcmp(p->encoding, "json"))
    return false;
  struct wire_doc doc;
  int rc = wire_doc__parse(&doc, WIRE_JSON, p->data, p->len, NULL);
  wire_doc__cleanup(&doc);
  return rc == 0;
}

/* A bare payload as a JSON value: JSON-encoded data as that JSON (on one
 * line: valid JSON has line breaks only between tokens), a string as a
 * string, binary as base64 text, no data as null. */
static bool put_json_payload(struct text *t, const struct payload *p) {
  if (json_payload(p)) {
    size_t start = t->f ? t->f->len : 0;
    put(t, p->data, p->len);
    for (size_t i = start; i < t->f->len; i++)
      if (t->f->data[i] == '\n' || t->f->data[i] == '\r') t->f->data[i] = ' ';
    return true;
  }
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  if (p->type == PAYLOAD_BINARY) wire_writer__bin(&w, p->data, p->len);
  else if (p->type == PAYLOAD_STRING) wire_writer__strn(&w, p->data, p->len);
  else wire_writer__nil(&w);
  return put_written(t, &w);
}

/* A bare payload as SSE data: text as it is, binary as base64. */
static void put_sse_payload(struct text *t, const struct payload *p) {
  if (p->type != PAYLOAD_BINARY) {
    put_data_lines(t, p->data ? p->data : "", p->len);
    return;
  }
  char *b64 = herald_xmalloc(base64__encoded_size(p->len));
  size_t len = base64__encode(p->data, p->len, b64);
  put_data_lines(t, b64, len);
  herald_free(b64);
}

/* The enveloped item: its JSON with the channel's name, which is one line
 * (the writer escapes every line break), so one SSE data line. */
static bool put_envelope(struct text *t, enum frame_kind kind,
                         const struct message *m, bool presence,
                         const char *channel) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  message__write_in_channel(m, presence, channel, &w);
  if (is_sse(kind)) put_str(t, "data: ");
  bool ok = put_written(t, &w);
  if (is_sse(kind)) put_str(t, "\n");
  return ok;
}

/* One event for item m, open: without what ends it (put_event_end). */
static bool put_event(struct text *t, enum frame_kind kind,
                      const struct message *m, bool presence,
                      const char *channel) {
  const char *name = presence ? "presence" : "message";
  if (is_sse(kind)) {
    put_str(t, "event: ");
    put_str(t, name);
    put_str(t, "\n");
  } else {
    put_str(t, "{\"event\":\"");
    put_str(t, name);
    put_str(t, "\",\"data\":");
  }
  if (!is_bare(kind)) return put_envelope(t, kind, m, presence, channel);
  if (!is_sse(kind)) return put_json_payload(t, &m->payload);
  put_sse_payload(t, &m->payload);
  return true;
}

static void put_event_end(struct text *t, enum frame_kind kind) {
  put_str(t, is_sse(kind) ? "\n" : "}\n");
}

struct frame *sse__pm_frame(enum frame_kind kind,
                            const struct protocol_message *pm) {
  bool presence = pm->action == PM_PRESENCE;
  if (pm->action != PM_MESSAGE && !presence) return NULL;
  struct message **items = presence ? pm->presence : pm->messages;
  size_t n = presence ? pm->n_presence : pm->n_messages;
  if (!n) return NULL;
  struct text t = {0};
  for (size_t i = 0; i < n; i++) {
    if (i) put_event_end(&t, kind);
    if (!put_event(&t, kind, items[i], presence, pm->channel)) {
      herald_free(t.f);
      return NULL;
    }
  }
  return finish(&t);
}

/* ---- Event ids --------------------------------------------------------------- */

/* before, the stream's position (its channels' serials joined), after. */
static struct frame *position_frame(const struct sse *s, const char *before,
                                    const char *after) {
  struct text t = {0};
  put_str(&t, before);
  for (size_t i = 0; i < s->n_channels; i++) {
    if (i) put(&t, &(char){SSE_ID_SEPARATOR}, 1);
    put_str(&t, s->channels[i].position);
  }
  put_str(&t, after);
  return finish(&t);
}

/* What completes a message frame's last event: its id. */
static void suffix_parts(enum frame_kind kind, const char **before,
                         const char **after) {
  *before = is_sse(kind) ? "id: " : ",\"id\":\"";
  *after = is_sse(kind) ? "\n\n" : "\"}\n";
}

static bool frame_is(const struct frame *f, const char *before,
                     const char *middle, const char *after) {
  size_t b = strlen(before), m = strlen(middle), a = strlen(after);
  return f->len == b + m + a && !memcmp(f->data, before, b) &&
         !memcmp(f->data + b, middle, m) && !memcmp(f->data + b + m, after, a);
}

static int slot = -1;

/* The suffix for s's position, a new reference. Every single-channel
 * stream a delivery reaches has the same one: the worker's last is reused
 * while it matches, so such a fan-out builds it once. */
static struct frame *suffix(const struct sse *s) {
  const char *before, *after;
  suffix_parts(s->transport.kind, &before, &after);
  if (s->n_channels > 1) return position_frame(s, before, after);
  struct sse_worker *sw = worker__self()->locals[slot];
  struct frame **last = &sw->suffix[is_sse(s->transport.kind) ? 0 : 1];
  if (!*last || !frame_is(*last, before, s->channels[0].position, after)) {
    frame__unref(*last);
    *last = position_frame(s, before, after);
  }
  return frame__ref(*last);
}

static struct sse_channel *find(struct sse *s, const char *name) {
  for (size_t i = 0; i < s->n_channels; i++)
    if (!strcmp(s->channels[i].name, name)) return &s->channels[i];
  return NULL;
}

/* ---- Sending ----------------------------------------------------------------- */

static void push(struct sse *s, struct frame *f) {
  outbound__push(&s->out, f);
  frame__unref(f);
}

static void push_text(struct sse *s, const char *text) {
  size_t len = strlen(text);
  struct frame *f = frame__new(len);
  memcpy(f->data, text, len);
  push(s, f);
}

static void sse_send_frame(struct transport *t, struct frame *f,
                           const char *channel, const char *serial) {
  struct sse *s = (struct sse *)t;
  if (s->closing) return;
  outbound__push(&s->out, f);
  if (!channel) return;
  struct sse_channel *ch = find(s, channel);
  if (ch && serial) snprintf(ch->position, SERIAL_MAX, "%s", serial);
  push(s, suffix(s));
}

static void error_event(struct sse *s, const herald_error *err) {
  struct text t = {0};
  bool sse = is_sse(s->transport.kind);
  put_str(&t, sse ? "event: error\ndata: " : "{\"event\":\"error\",\"data\":");
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__error_info(&w, err);
  put_written(&t, &w); /* an ErrorInfo always encodes */
  put_str(&t, sse ? "\n\n" : "}\n");
  push(s, finish(&t));
}

static void keepalive(struct sse *s) {
  static const char *const text[2][2] = {
      {":keepalive\n\n", "event: heartbeat\ndata: \n\n"},
      {"\n", "{\"event\":\"heartbeat\"}\n"}};
  push_text(s, text[is_sse(s->transport.kind) ? 0 : 1][s->heartbeats]);
}

/* A channel's ATTACHED: where it starts (a resume's position, a rewind's
 * start or the channel's live position), and, when it could not continue
 * where asked, why. Once every channel has started, the position goes out
 * alone, so a client has an id to resume from before any message. */
static void attached(struct sse *s, const struct protocol_message *pm) {
  struct sse_channel *ch = pm->channel ? find(s, pm->channel) : NULL;
  if (!ch) return;
  if (pm->channel_serial)
    snprintf(ch->position, SERIAL_MAX, "%s", pm->channel_serial);
  if (pm->has_error) error_event(s, &pm->error);
  if (ch->attached) return;
  ch->attached = true;
  if (++s->n_attached < s->n_channels) return;
  bool sse = is_sse(s->transport.kind);
  push(s, position_frame(s, sse ? "id: " : "{\"id\":\"", sse ? "\n\n" : "\"}\n"));
}

static void sse_close(struct transport *t);

/* A ProtocolMessage rendered for this stream: messages as their kind's
 * events with the stream's id; keepalives; errors as error events (a
 * channel's ends the stream: it cannot attach again). CONNECTED, AUTH,
 * CLOSED and DETACHED have nothing to say to a stream. */
static void sse_send(struct transport *t, const struct protocol_message *pm) {
  struct sse *s = (struct sse *)t;
  if (s->closing) return;
  switch (pm->action) {
  case PM_MESSAGE:
  case PM_PRESENCE: {
    struct frame *f = sse__pm_frame(t->kind, pm);
    if (!f) return;
    sse_send_frame(t, f, pm->channel, pm->channel_serial);
    frame__unref(f);
    return;
  }
  case PM_ATTACHED: attached(s, pm); return;
  case PM_HEARTBEAT: keepalive(s); return;
  case PM_ERROR:
  case PM_DISCONNECTED:
    if (pm->has_error) error_event(s, &pm->error);
    if (pm->action == PM_ERROR && pm->channel) sse_close(t);
    return;
  default: return;
  }
}

/* ---- Transport ----------------------------------------------------------------- */

static void sse_start(struct transport *t) {
  http__upgrade_start(((struct sse *)t)->out.stream);
}

static void sse_close(struct transport *t) {
  struct sse *s = (struct sse *)t;
  if (s->closing) return;
  s->closing = true;
  http__close_when_sent(&s->out);
}

static void sse_abort(struct transport *t) {
  struct sse *s = (struct sse *)t;
  s->closing = true;
  http__close(s->out.stream);
}

static void on_overflow(struct outbound *o) {
  struct sse *s = (struct sse *)((char *)o - offsetof(struct sse, out));
  s->transport.on_backlog(s->transport.owner);
}

/* ---- The connection ------------------------------------------------------------- */

static struct sse *from_upgrade(struct http_upgrade *u) {
  return (struct sse *)((char *)u - offsetof(struct sse, upgrade));
}

/* A stream's client has nothing to say: its bytes are dropped, its EOF
 * ends the stream. */
static void on_read(struct http_upgrade *u, const char *data, size_t len) {
  if (!data) sse_abort(&from_upgrade(u)->transport);
}

static void on_drain(struct http_upgrade *u) {
  struct sse *s = from_upgrade(u);
  s->transport.on_drain(s->transport.owner);
}

static void on_closed(struct http_upgrade *u) {
  struct sse *s = from_upgrade(u);
  s->transport.on_closed(s->transport.owner);
  outbound__cleanup(&s->out);
  for (size_t i = 0; i < s->n_channels; i++) herald_free(s->channels[i].name);
  herald_free(s);
}

static struct frame *response_head(const struct sse_options *o) {
  struct text t = {0};
  put_str(&t, "HTTP/1.1 200 OK\r\nContent-Type: ");
  put_str(&t, is_sse(o->kind) ? "text/event-stream" : "application/x-ndjson");
  put_str(&t, "\r\nCache-Control: no-cache\r\nConnection: close\r\n"
              "X-Accel-Buffering: no\r\n");
  if (o->headers) put_str(&t, o->headers);
  put_str(&t, "\r\n");
  return finish(&t);
}

struct transport *sse__accept(struct http_request *req,
                              const struct sse_options *o) {
  struct sse *s = herald_xcalloc(1, sizeof *s + o->n_channels * sizeof *s->channels);
  s->heartbeats = o->heartbeats;
  s->n_channels = o->n_channels;
  for (size_t i = 0; i < o->n_channels; i++) {
    s->channels[i].name = herald_xstrdup(o->channels[i]);
    snprintf(s->channels[i].position, SERIAL_MAX, "%s", o->positions[i]);
  }
  s->upgrade = (struct http_upgrade){on_read, on_drain, on_closed};
  s->transport.kind = o->kind;
  s->transport.format = WIRE_JSON; /* nothing arrives */
  s->transport.out = &s->out;
  s->transport.start = sse_start;
  s->transport.close = sse_close;
  s->transport.abort = sse_abort;
  s->transport.send = sse_send;
  s->transport.send_frame = sse_send_frame;
  struct worker *w = req->worker;
  struct frame *head = response_head(o); /* before the request's memory goes */
  uv_stream_t *stream = http__upgrade(req, &s->upgrade);
  outbound__init(&s->out, stream, outbound__flusher(w));
  s->out.on_error = http__close_queue;
  s->out.on_overflow = on_overflow;
  push(s, head);
  return &s->transport;
}

/* ---- Per worker ------------------------------------------------------------------ */

static void free_worker_state(void *arg) {
  struct sse_worker *sw = arg;
  frame__unref(sw->suffix[0]);
  frame__unref(sw->suffix[1]);
  herald_free(sw);
}

void sse__worker_init(struct worker *w) {
  struct sse_worker *sw = herald_xcalloc(1, sizeof *sw);
  w->locals[worker__slot(&slot)] = sw;
  worker__at_exit(w, free_worker_state, sw);
}
