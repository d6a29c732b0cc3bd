/* realtime_channels.c -- ATTACH, DETACH and what an attachment receives
 * before live traffic: nothing (a fresh attach), the messages missed since
 * a channelSerial (resume), or a rewind backlog (realtime.md 5).
 * Owns: struct attachment (a subscriber of fanout.h) and struct replay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel/fanout.h"
#include "channel/meta_channels.h"
#include "channel/stats.h"
#include "channel_name.h"
#include "clock.h"
#include "message_filter.h"
#include "realtime/channel_params.h"
#include "realtime/realtime.h"
#include "store/store.h"

#define DEFAULT_MODES                                                          \
  (PM_FLAG_MODE_PRESENCE | PM_FLAG_MODE_PUBLISH | PM_FLAG_MODE_SUBSCRIBE |     \
   PM_FLAG_MODE_PRESENCE_SUBSCRIBE | PM_FLAG_MODE_ANNOTATION_PUBLISH)
#define REWIND_MAX 100  /* messages a rewind delivers at most */
#define REPLAY_PAGE 100 /* messages read per history query of a resume */

enum attachment_state {
  ATTACHMENT_WAITING,   /* for the channel's position */
  ATTACHMENT_REPLAYING, /* history being sent; live messages are held */
  ATTACHMENT_LIVE,
};

/* A live delivery held back while its attachment replays, with the frame
 * it will be sent as (its bytes count toward the connection's outbound
 * bound: realtime__hold). */
struct held_delivery {
  struct delivery *delivery;
  struct frame *frame;
};

/* A connection's attachment to a channel: a subscriber of the channel's
 * fan-out (its modes and position are sub's; sub.name is the channel's). */
struct attachment {
  struct subscriber sub;
  /* The channel as the client names it, its key in the connection's
   * attachments map: sub.name, or "[filter=...]" and sub.name for a
   * subscription filter (then subscribe-only, messages that filter
   * matches only). */
  char *name;
  struct message_filter *filter; /* NULL: every message */
  struct rt_conn *conn; /* whose attachments map holds it by name */
  bool echo; /* false: the connection's own messages are not delivered */
  enum attachment_state state;
  /* What the attach asked for. */
  uint32_t requested; /* modes (0: the default), granted as credentials allow */
  struct channel_params params; /* echoed by ATTACHED */
  char *resume_from;  /* channelSerial to continue from, or NULL */
  struct replay *replay;
  struct held_delivery *held; /* live deliveries during a replay */
  size_t n_held, cap_held;
};

/* A history read for an attachment's backlog. */
struct replay {
  struct store_history query;
  struct attachment *a; /* NULL once the attachment is gone */
  char *channel;
  char *cursor;
  bool resume;        /* else a rewind */
  size_t rewind_count; /* 0 for a rewind by time */
  int64_t rewind_from_ms;
  bool started;       /* ATTACHED sent */
  char last[SERIAL_MAX]; /* the last serial sent */
  bool lost; /* a rewind after continuity was lost: ATTACHED says so */
};

/* ---- Modes ------------------------------------------------------------------ */

/* The channel modes the credentials allow on a channel (realtime.md 3.7). */
static uint32_t allowed_modes(const struct auth *auth, const char *name) {
  static const struct {
    unsigned op;
    uint32_t modes;
  } map[] = {
      {CAPABILITY_OP_SUBSCRIBE, PM_FLAG_MODE_SUBSCRIBE |
                                    PM_FLAG_MODE_PRESENCE_SUBSCRIBE |
                                    PM_FLAG_MODE_OBJECT_SUBSCRIBE},
      {CAPABILITY_OP_PUBLISH, PM_FLAG_MODE_PUBLISH},
      {CAPABILITY_OP_PRESENCE, PM_FLAG_MODE_PRESENCE},
      {CAPABILITY_OP_ANNOTATION_PUBLISH, PM_FLAG_MODE_ANNOTATION_PUBLISH},
      {CAPABILITY_OP_ANNOTATION_SUBSCRIBE, PM_FLAG_MODE_ANNOTATION_SUBSCRIBE},
      {CAPABILITY_OP_OBJECT_PUBLISH, PM_FLAG_MODE_OBJECT_PUBLISH},
      {CAPABILITY_OP_OBJECT_SUBSCRIBE, PM_FLAG_MODE_OBJECT_SUBSCRIBE},
  };
  uint32_t modes = 0;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (auth__check(auth, name, strlen(name), map[i].op, NULL) == 0)
      modes |= map[i].modes;
  return modes;
}

/* The modes the credentials allow on a parsed channel name: a filtered
 * name is subscribe-only, and allowed by a capability for "[filter]<name>"
 * (or "[*]<name>"), as Ably's subscription filters are; a metachannel is
 * subscribe-only too (meta_channels.h). */
static uint32_t name_modes(const struct auth *auth,
                           const struct channel_name *name) {
  if (!name->filter) {
    char *base = channel_name__base_dup(name);
    uint32_t modes = allowed_modes(auth, base);
    herald_free(base);
    return name->is_meta ? modes & META_CHANNEL_MODES : modes;
  }
  char resource[CHANNEL_NAME_MAX + sizeof "[filter]"];
  snprintf(resource, sizeof resource, "[filter]%.*s", (int)name->base_len,
           name->base);
  return allowed_modes(auth, resource) & PM_FLAG_MODE_SUBSCRIBE;
}

/* The modes granted for `requested` (0: the default ones). */
static uint32_t granted_modes(const struct auth *auth,
                              const struct channel_name *name,
                              uint32_t requested) {
  return (requested ? requested : DEFAULT_MODES) & name_modes(auth, name);
}

/* ---- What an attachment takes ----------------------------------------------- */

/* Whether a takes a message published by connection `publisher` (NULL:
 * unknown): it subscribes, and echo is on or the message is not its own. */
static inline bool wants_message(const struct attachment *a,
                                 const char *publisher) {
  if (!(a->sub.modes & PM_FLAG_MODE_SUBSCRIBE)) return false;
  bool echo = a->echo && a->conn->echo;
  return echo || !publisher || strcmp(publisher, a->conn->id) != 0;
}

/* Whether a takes d: an annotation with the annotation_subscribe mode; a
 * message as wants_message says; a presence change with the
 * presence_subscribe mode, or when it concerns a's own connection's
 * members (RTP17a). */
static inline bool wants_delivery(const struct attachment *a,
                                  const struct delivery *d) {
  if (d->kind == DELIVERY_ANNOTATION) /* raw annotations: by mode only */
    return (a->sub.modes & PM_FLAG_MODE_ANNOTATION_SUBSCRIBE) && !a->filter;
  if (d->action != PM_PRESENCE) return wants_message(a, d->connection_id);
  if (a->filter) return false; /* a filter is for messages only */
  if (a->sub.modes & PM_FLAG_MODE_PRESENCE_SUBSCRIBE) return true;
  for (size_t i = 0; i < d->count; i++)
    if (!strcmp(d->messages[i]->connection_id, a->conn->id)) return true;
  return false;
}

/* Keeps d and its frame f for a until its replay ends, unless that takes
 * the connection past its outbound bound (it is then disconnected). */
static void hold(struct attachment *a, struct delivery *d, struct frame *f) {
  if (!realtime__hold(a->conn, f->len)) return;
  if (a->n_held == a->cap_held) {
    a->cap_held = a->cap_held ? a->cap_held * 2 : 8;
    a->held = herald_xrealloc(a->held, a->cap_held * sizeof *a->held);
  }
  a->held[a->n_held++] = (struct held_delivery){delivery__ref(d), frame__ref(f)};
}

/* Sends a delivery d that a wants: unfiltered, as `shared`, the frame
 * every unfiltered subscriber of the worker is sent; filtered (shared is
 * unused), as a frame of its own of the messages a's filter matches, if
 * any. */
static void send_delivery(struct attachment *a, struct delivery *d,
                          struct frame *shared) {
  if (!a->filter) {
    realtime__send_frame(a->conn, shared, d->channel, d->channel_serial);
    return;
  }
  struct frame *f = delivery__filtered_frame(d, a->conn->transport->kind,
                                             a->name, a->filter);
  if (!f) return;
  realtime__send_frame(a->conn, f, a->name, d->channel_serial);
  frame__unref(f);
}

/* Fan-out's offer: a replaying attachment holds every delivery (they are
 * filtered when it goes live), a live one sends what it wants. */
static void on_deliver(struct subscriber *s, struct delivery *d,
                       struct delivery_frames *frames) {
  struct attachment *a = (struct attachment *)s;
  enum frame_kind kind = a->conn->transport->kind; /* attachments end with it */
  if (d->kind == DELIVERY_OCCUPANCY) { /* outside the channel's order */
    if (a->sub.occupancy && a->state == ATTACHMENT_LIVE)
      realtime__send_frame(a->conn, delivery__frame_of(frames, kind),
                           d->channel, NULL);
    return;
  }
  if (a->state == ATTACHMENT_REPLAYING)
    hold(a, d, delivery__frame_of(frames, kind));
  else if (a->state == ATTACHMENT_LIVE && wants_delivery(a, d)) {
    send_delivery(a, d, a->filter ? NULL : delivery__frame_of(frames, kind));
    /* not metachannels': [meta]stats:minute would count its own updates */
    if (!meta_channels__is_meta(d->channel, strlen(d->channel)))
      stats__delivered(a->conn->auth.app, d);
  }
}

static void on_positioned(struct subscriber *s);

/* The channel's feed broke (the engine's outage): the connection is
 * disconnected, and its client resumes -- from history, with nothing
 * lost -- once the engine is back. Not a 5xx: that would send SDKs to
 * fallback hosts, which self-hosted clients do not have. */
static void on_interrupted(struct subscriber *s, const herald_error *cause) {
  struct attachment *a = (struct attachment *)s;
  herald_error err;
  herald_error_set(&err, HERALD_E_DISCONNECTED, "Channel %s interrupted: %s",
                   a->name, cause->message);
  realtime__disconnect(a->conn, &err); /* which ends a */
}

static const struct subscriber_ops attachment_ops = {
    .deliver = on_deliver, .positioned = on_positioned,
    .interrupted = on_interrupted};

/* ---- Attachments ----------------------------------------------------------- */

static struct attachment *find(const struct rt_conn *c, const char *name) {
  return hashmap__get(&c->attachments, name, strlen(name));
}

bool realtime_channels__attached(const struct rt_conn *c, const char *channel,
                           uint32_t *modes) {
  const struct attachment *a = find(c, channel);
  if (a) *modes = a->sub.modes;
  return a != NULL;
}

static void release_held(struct attachment *a) {
  for (size_t i = 0; i < a->n_held; i++) {
    realtime__unhold(a->conn, a->held[i].frame->len);
    frame__unref(a->held[i].frame);
    delivery__unref(a->held[i].delivery);
  }
  herald_free(a->held);
  a->held = NULL;
  a->n_held = a->cap_held = 0;
}

static void free_attachment(struct attachment *a) {
  hashmap__remove(&a->conn->attachments, a->name, strlen(a->name));
  fanout__unsubscribe(&a->sub);
  if (a->replay) a->replay->a = NULL;
  release_held(a);
  herald_free(a->sub.name);
  herald_free(a->name);
  message_filter__free(a->filter);
  herald_free(a->resume_from);
  channel_params__free(&a->params);
  herald_free(a);
}

/* Calls fn on each of c's attachments; fn may free the one it is given. */
static void each_attachment(struct rt_conn *c, void (*fn)(struct attachment *a)) {
  size_t bucket;
  struct hashmap_entry *e = hashmap__first(&c->attachments, &bucket);
  while (e) {
    struct hashmap_entry *next = hashmap__next(&c->attachments, e, &bucket);
    fn(e->value);
    e = next;
  }
}

void realtime_channels__detach_all(struct rt_conn *c) {
  each_attachment(c, free_attachment);
}

/* ---- Sending to an attachment -------------------------------------------------- */

static void send_attached(struct attachment *a, uint32_t state_flags,
                          const char *channel_serial, const herald_error *err) {
  /* With presence_subscribe and members present, ATTACHED promises a SYNC
   * (realtime.md 6.4). Without the flag the client takes the set to be
   * empty as of this position, which it is: later changes arrive live. */
  bool sync = (a->sub.modes & PM_FLAG_MODE_PRESENCE_SUBSCRIBE) &&
              fanout__presence_members(&a->sub) > 0;
  struct protocol_message pm = {.action = PM_ATTACHED,
                                .channel = a->name,
                                .flags = a->sub.modes | state_flags |
                                         (sync ? PM_FLAG_HAS_PRESENCE : 0),
                                .channel_serial = (char *)channel_serial,
                                .param_keys = a->params.keys,
                                .param_values = a->params.values,
                                .n_params = a->params.n};
  if (err) {
    pm.has_error = true;
    pm.error = *err;
  }
  realtime__send(a->conn, &pm);
  if (sync) realtime_presence__sync(a->conn, a->sub.name);
}

/* A stored message as its own MESSAGE, every item field explicit. */
static void send_stored(struct attachment *a, struct message *m) {
  snprintf(a->sub.position, SERIAL_MAX, "%s", m->serial);
  if (!wants_message(a, m->connection_id) ||
      (a->filter && !message_filter__matches(a->filter, m)))
    return;
  struct protocol_message pm = {.action = PM_MESSAGE,
                                .channel = a->name,
                                .channel_serial = m->serial,
                                .messages = &m,
                                .n_messages = 1};
  realtime__send(a->conn, &pm);
}

/* After a backlog: what arrived meanwhile, then live traffic. */
static void go_live(struct attachment *a) {
  for (size_t i = 0; i < a->n_held; i++) {
    struct delivery *d = a->held[i].delivery;
    snprintf(a->sub.position, SERIAL_MAX, "%s", d->channel_serial);
    if (wants_delivery(a, d)) send_delivery(a, d, a->held[i].frame);
  }
  release_held(a);
  a->state = ATTACHMENT_LIVE;
}

/* ---- Backlogs ---------------------------------------------------------------- */

static void on_history(struct store_req *req);

static void query(struct replay *r, struct realtime *s, const char *app_id) {
  struct store_history *h = &r->query;
  store__history_cleanup(h);
  memset(h, 0, sizeof *h);
  h->req.origin = worker__self();
  h->req.done = on_history;
  h->app_id = app_id;
  h->channel = r->channel;
  h->end = INT64_MAX;
  h->cursor = r->cursor;
  if (r->resume) {
    h->direction = STORE_FORWARDS;
    h->limit = REPLAY_PAGE;
  } else {
    h->direction = STORE_BACKWARDS;
    h->start = r->rewind_from_ms;
    h->limit = (r->rewind_count ? r->rewind_count : REWIND_MAX) + 1;
  }
  store__history(s->channels->store, h);
}

static void start_replay(struct attachment *a, bool resume, size_t count,
                         int64_t from_ms) {
  struct replay *r = herald_xcalloc(1, sizeof *r);
  r->a = a;
  r->channel = herald_xstrdup(a->sub.name);
  r->resume = resume;
  r->rewind_count = count;
  r->rewind_from_ms = from_ms;
  r->cursor = herald_xstrdup(resume ? a->resume_from : a->sub.position);
  a->replay = r;
  a->state = ATTACHMENT_REPLAYING;
  query(r, a->conn->realtime, a->conn->app->id);
}

static void end_replay(struct replay *r) {
  if (r->a) {
    r->a->replay = NULL;
    go_live(r->a);
  }
  store__history_cleanup(&r->query);
  herald_free(r->channel);
  herald_free(r->cursor);
  herald_free(r);
}

/* A page of a resume: messages after the resume point, up to the position
 * the attachment started live from. */
static bool resume_page(struct replay *r) {
  struct attachment *a = r->a;
  struct store_history *h = &r->query;
  const char *until = a->sub.position; /* live traffic starts after it */
  size_t first = 0;
  if (!r->started && h->count && !strcmp(h->messages[0]->serial, r->cursor))
    first = 1;
  bool backlog = first < h->count && strcmp(h->messages[first]->serial, until) <= 0;
  if (!r->started) {
    send_attached(a, PM_FLAG_RESUMED | (backlog ? PM_FLAG_HAS_BACKLOG : 0),
                  a->resume_from, NULL);
    r->started = true;
  }
  char live_from[SERIAL_MAX];
  snprintf(live_from, SERIAL_MAX, "%s", until);
  for (size_t i = first; i < h->count; i++) {
    if (strcmp(h->messages[i]->serial, live_from) > 0) return false;
    send_stored(a, h->messages[i]);
  }
  snprintf(a->sub.position, SERIAL_MAX, "%s", live_from);
  if (!h->next_cursor) return false;
  herald_free(r->cursor);
  r->cursor = herald_xstrdup(h->next_cursor);
  return true;
}

/* A rewind: up to N (or since a time) messages before the position, oldest
 * first; ATTACHED names the position just before the first of them. */
static void rewind_backlog(struct replay *r) {
  struct attachment *a = r->a;
  struct store_history *h = &r->query;
  size_t want = r->rewind_count ? r->rewind_count : REWIND_MAX;
  size_t n = h->count < want ? h->count : want;
  char anchor[SERIAL_MAX];
  int64_t ms;
  if (h->count > want) snprintf(anchor, SERIAL_MAX, "%s", h->messages[want]->serial);
  else if (!r->rewind_count) serial__floor(anchor, r->rewind_from_ms, 0);
  else if (n && serial__position(h->messages[n - 1]->serial, &ms))
    serial__floor(anchor, ms, 0);
  else snprintf(anchor, SERIAL_MAX, "%s", a->sub.position);
  char live_from[SERIAL_MAX];
  snprintf(live_from, SERIAL_MAX, "%s", a->sub.position);
  herald_error lost;
  if (r->lost) herald_error_set(&lost, HERALD_E_CONTINUITY_LOST, NULL);
  send_attached(a, n ? PM_FLAG_HAS_BACKLOG : 0, anchor, r->lost ? &lost : NULL);
  for (size_t i = n; i-- > 0;) send_stored(a, h->messages[i]);
  snprintf(a->sub.position, SERIAL_MAX, "%s", live_from);
}

static void on_history(struct store_req *req) {
  struct replay *r = (struct replay *)req;
  struct attachment *a = r->a;
  if (!a) {
    end_replay(r);
    return;
  }
  if (req->rc) {
    a->replay = NULL;
    r->a = NULL;
    realtime__channel_error(a->conn, a->name, &req->err);
    free_attachment(a);
    end_replay(r);
    return;
  }
  if (r->resume) {
    if (resume_page(r)) {
      query(r, a->conn->realtime, a->conn->app->id);
      return;
    }
  } else {
    rewind_backlog(r);
  }
  end_replay(r);
}

/* ---- Attach ------------------------------------------------------------------ */

/* Starts a's rewind, if it asked for one (lost: continuity was lost,
 * which its ATTACHED says). */
static bool start_rewind(struct attachment *a, bool lost) {
  const char *rewind = channel_params__get(&a->params, "rewind");
  size_t count;
  int64_t ms;
  if (!rewind || !channel_params__rewind(rewind, REWIND_MAX, &count, &ms))
    return false;
  start_replay(a, false, count, ms ? clock__now_ms() - ms : 0);
  a->replay->lost = lost;
  return true;
}

/* The continuity decision of realtime.md 5.4, once a has its position:
 * history holds what came after the resume point when that is within
 * retention, or when nothing came after it (the channel is still there). */
static void on_positioned(struct subscriber *s) {
  struct attachment *a = (struct attachment *)s;
  struct rt_conn *c = a->conn;
  if (a->resume_from) {
    int64_t ms;
    int64_t oldest = clock__now_ms() -
                     apps__retention_ms(c->realtime->channels->apps, c->app, a->sub.name);
    if (serial__position(a->resume_from, &ms) &&
        (ms >= oldest || strcmp(a->resume_from, a->sub.position) >= 0)) {
      start_replay(a, true, 0, 0);
      return;
    }
    if (start_rewind(a, true)) return;
    herald_error err;
    herald_error_set(&err, HERALD_E_CONTINUITY_LOST, NULL);
    send_attached(a, 0, a->sub.position, &err);
    a->state = ATTACHMENT_LIVE;
    return;
  }
  if (start_rewind(a, false)) return;
  send_attached(a, 0, a->sub.position, NULL);
  a->state = ATTACHMENT_LIVE;
}

/* realtime_channels__check, with the expression of a filtered name
 * compiled into *filter (else NULL; the caller frees it): -40010 when it
 * is invalid, checked last, so only a client allowed there has it
 * compiled. */
static int check_channel(const struct auth *auth, const char *channel,
                         uint32_t requested, const char *rewind,
                         struct channel_name *name, uint32_t *modes,
                         struct message_filter **filter, herald_error *err) {
  *filter = NULL;
  int rc = channel_name__parse(channel, strlen(channel), name, err);
  if (rc) return rc;
  size_t count;
  int64_t ms;
  if (rewind && !channel_params__rewind(rewind, REWIND_MAX, &count, &ms))
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "Invalid rewind parameter '%s'", rewind);
  *modes = granted_modes(auth, name, requested);
  if (!*modes)
    return herald_error_set(err, HERALD_E_CAPABILITY_DENIED,
                            "Channel denied access based on given capability");
  if (!name->filter) return 0;
  return message_filter__compile_base64(name->filter, name->filter_len, filter,
                                        err);
}

int realtime_channels__check(const struct auth *auth, const char *channel,
                             uint32_t requested, const char *rewind,
                             struct channel_name *name, uint32_t *modes,
                             herald_error *err) {
  struct message_filter *filter;
  int rc = check_channel(auth, channel, requested, rewind, name, modes,
                         &filter, err);
  message_filter__free(filter);
  return rc;
}

int realtime_channels__check_count(const struct realtime *rt, size_t n,
                                   herald_error *err) {
  long long max = (long long)rt->cfg->max_channels_per_connection;
  if (n <= (size_t)max) return 0;
  return herald_error_set(err, HERALD_E_TOO_MANY_CHANNELS,
                          "Too many channels: a connection may attach %lld",
                          max);
}

/* An ATTACH's checks: its params read into *params (the modes param
 * wins over the mode flags, as in Ably), *requested the modes it asked
 * for, *modes those granted, *filter the compiled expression of a
 * filtered name. */
static int check_attach(struct rt_conn *c, const struct protocol_message *pm,
                        struct channel_params *params, uint32_t *requested,
                        struct channel_name *name, uint32_t *modes,
                        struct message_filter **filter, herald_error *err) {
  *filter = NULL;
  if (!pm->channel)
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "ATTACH without a channel");
  int rc = channel_params__read(pm, params, err);
  if (rc) return rc;
  *requested = params->modes ? params->modes : pm->flags & PM_FLAG_MODES;
  rc = check_channel(&c->auth, pm->channel, *requested, NULL, name, modes,
                     filter, err);
  if (rc) channel_params__free(params);
  return rc;
}

/* What an ATTACH asked for becomes a's (the params replace a's own). */
/* Whether a takes [meta]occupancy events: it asked (the occupancy param),
 * is not filtered, and its credentials have channel-metadata there. */
static bool takes_events(const struct attachment *a) {
  return channel_params__get(&a->params, "occupancy") && !a->filter &&
         auth__check(&a->conn->auth, a->sub.name, strlen(a->sub.name),
                     CAPABILITY_OP_CHANNEL_METADATA, NULL) == 0;
}

static void apply_attach(struct attachment *a, struct channel_params *params,
                         uint32_t requested, uint32_t modes) {
  channel_params__free(&a->params);
  a->params = *params;
  const char *echo = channel_params__get(&a->params, "echo");
  a->echo = !echo || strcmp(echo, "false");
  a->requested = requested;
  fanout__set_modes(&a->sub, modes);
  fanout__set_occupancy(&a->sub, takes_events(a));
}

void realtime_channels__attach(struct rt_conn *c, const struct protocol_message *pm) {
  herald_error err;
  struct channel_name name;
  struct channel_params params;
  uint32_t requested = 0, modes = 0;
  struct message_filter *filter;
  if (check_attach(c, pm, &params, &requested, &name, &modes, &filter, &err)) {
    realtime__channel_error(c, pm->channel, &err);
    return;
  }
  char *base = channel_name__base_dup(&name);
  struct attachment *a = find(c, base);
  if (a) { /* already attached: new modes and params apply */
    herald_free(base);
    message_filter__free(filter); /* the same: it is in the name */
    apply_attach(a, &params, requested, modes);
    if (a->state == ATTACHMENT_LIVE)
      send_attached(a, PM_FLAG_RESUMED, fanout__position(&a->sub), NULL);
    return;
  }
  if (realtime_channels__check_count(c->realtime, c->attachments.count + 1,
                                     &err)) {
    herald_free(base);
    channel_params__free(&params);
    message_filter__free(filter);
    realtime__channel_error(c, pm->channel, &err);
    return;
  }
  a = herald_xcalloc(1, sizeof *a);
  a->sub.ops = &attachment_ops;
  a->name = base;
  a->sub.name = name.filter ? herald_xstrndup(name.base, name.base_len)
                            : herald_xstrdup(base);
  a->filter = filter;
  a->conn = c;
  apply_attach(a, &params, requested, modes);
  if (c->resumed && pm->channel_serial)
    a->resume_from = herald_xstrdup(pm->channel_serial);
  hashmap__put(&c->attachments, base, strlen(base), a);
  fanout__subscribe(c->app->id, &a->sub);
}

void realtime_channels__detach(struct rt_conn *c, const struct protocol_message *pm) {
  if (!pm->channel) return;
  struct channel_name name;
  herald_error err;
  if (!channel_name__parse(pm->channel, strlen(pm->channel), &name, &err)) {
    char *base = channel_name__base_dup(&name);
    struct attachment *a = find(c, base);
    if (a) free_attachment(a);
    realtime_presence__leave_channel(c, base);
    herald_free(base);
  }
  struct protocol_message reply = {.action = PM_DETACHED, .channel = pm->channel};
  realtime__send(c, &reply);
}

/* Grants a the modes it asked for that the connection's new credentials
 * allow (more or fewer than before); none left: the channel fails. */
static void recheck(struct attachment *a) {
  struct channel_name name; /* valid: it was attached */
  channel_name__parse(a->name, strlen(a->name), &name, NULL);
  fanout__set_modes(&a->sub, granted_modes(&a->conn->auth, &name,
                                           a->requested));
  fanout__set_occupancy(&a->sub, takes_events(a));
  if (a->sub.modes) return;
  herald_error err;
  herald_error_set(&err, HERALD_E_CAPABILITY_DENIED,
                   "Channel denied access based on new capability");
  realtime__channel_error(a->conn, a->name, &err);
  free_attachment(a);
}

void realtime_channels__recheck(struct rt_conn *c) { each_attachment(c, recheck); }
