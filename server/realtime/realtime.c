/* realtime.c -- realtime connections: connect and resume, CONNECTED,
 * heartbeats, token expiry and in-band AUTH, CLOSE and DISCONNECT, and the
 * dispatch of every ProtocolMessage a client sends (realtime.md 3).
 * Owns: struct rt_conn, struct realtime_worker and their lifetimes.
 * Channels: realtime_channels.c; publishing: realtime_publish.c. */
#include "realtime/realtime.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "auth/token_auth.h"
#include "channel/fanout.h"
#include "channel/meta_channels.h"
#include "channel/presence.h"
#include "channel/stats.h"
#include "clock.h"
#include "core/log.h"
#include "realtime/connection_registry.h"
#include "transport/websocket.h"

#define RT_ACKS_REMEMBERED 256
#define RT_MIN_VERSION 2
#define RT_MAX_VERSION 6
#define RT_MAX_MESSAGES_PER_PM 1000
#define RT_MAX_OUTBOUND_RATE 100 /* advertised only */
#define RT_TICK_MAX_MS 1000
#define RT_PRESENCE_GRACE_MIN_MS 1000 /* the least remainPresentFor gives */

/* A new transport waiting for the connection it resumes, which may have to
 * travel from another worker first. */
struct rt_resume {
  struct worker_task task;
  struct realtime *realtime;
  char *key;            /* a take-over's: the key the client presented */
  struct rt_conn *conn;
  struct worker *target;       /* the new transport's worker */
  struct transport *transport; /* NULL once it closed while waiting */
  struct auth auth;
  bool echo;
  int64_t idle_interval_ms;
  int64_t remain_present_ms;
  herald_error err; /* scratch for on_taken */
};

/* What the connect request asked for, copied out of the request. */
struct connect_params {
  bool echo;
  bool ephemeral; /* a stream's connection */
  int64_t idle_interval_ms;
  int64_t remain_present_ms;
  char *resume_key; /* resume= or recover= */
};

static const struct config *cfg_of(const struct rt_conn *c) {
  return c->realtime->cfg;
}

/* ---- Sending ----------------------------------------------------------- */

void realtime__send_frame(struct rt_conn *c, struct frame *f,
                          const char *channel, const char *serial) {
  if (!c->transport || c->slow) return;
  c->transport->send_frame(c->transport, f, channel, serial);
  c->last_sent_ms = (int64_t)uv_now(&c->worker->loop);
}

/* The subscriber fell behind: it gets nothing more, and is disconnected at
 * the next tick (it can resume and catch up from history). */
static void on_transport_backlog(void *owner) {
  struct rt_conn *c = owner;
  if (!c || c->slow) return;
  c->slow = true;
  outbound__discard_unsent(c->transport->out);
}

bool realtime__hold(struct rt_conn *c, size_t bytes) {
  if (!c->transport || c->slow) return false;
  struct outbound *out = c->transport->out;
  if (out->limit && out->bytes + c->held_bytes + bytes > out->limit) {
    on_transport_backlog(c);
    return false;
  }
  c->held_bytes += bytes;
  return true;
}

void realtime__unhold(struct rt_conn *c, size_t bytes) { c->held_bytes -= bytes; }

void realtime__send(struct rt_conn *c, const struct protocol_message *pm) {
  if (!c->transport || c->slow) return;
  c->transport->send(c->transport, pm);
  c->last_sent_ms = (int64_t)uv_now(&c->worker->loop);
}

void realtime__channel_error(struct rt_conn *c, const char *channel,
                       const herald_error *err) {
  struct protocol_message pm = {.action = PM_ERROR,
                                .channel = (char *)channel,
                                .has_error = true,
                                .error = *err};
  realtime__send(c, &pm);
}

static void send_error_and_close(struct transport *t, const herald_error *err) {
  struct protocol_message pm = {.action = PM_ERROR, .has_error = true,
                                .error = *err};
  t->send(t, &pm); /* whatever its owner's state: a goodbye */
  t->close(t);
}

/* ---- Lifetime ------------------------------------------------------------ */

static void link_home(struct rt_conn *c, struct worker *w) {
  struct realtime_worker *rw = realtime__worker(w);
  c->worker = w;
  c->prev = NULL;
  c->next = rw->conns;
  if (rw->conns) rw->conns->prev = c;
  rw->conns = c;
}

static void unlink_home(struct rt_conn *c) {
  struct realtime_worker *rw = realtime__worker(c->worker);
  if (c->prev) c->prev->next = c->next;
  else rw->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void free_conn(struct rt_conn *c) {
  for (size_t i = 0; i < c->n_presence_channels; i++)
    herald_free(c->presence_channels[i]);
  herald_free(c->presence_channels);
  hashmap__cleanup(&c->attachments);
  ack_queue__cleanup(&c->acks);
  auth__release(&c->auth);
  herald_free(c->identity);
  herald_free(c);
}

/* The name [meta]connection.lifecycle gives a transport of kind. */
static const char *transport_name(enum frame_kind kind) {
  switch (kind) {
  case FRAME_WS_JSON:
  case FRAME_WS_MSGPACK: return "web_socket";
  case FRAME_COMET: return "comet";
  default: return "sse";
  }
}

/* Tells the app's [meta]connection.lifecycle that c opened or closed
 * (meta_channels.h): connectionId, clientId, its (last) transport and,
 * when it closed, how long it was open here. */
static void announce(struct rt_conn *c, bool opened) {
  struct meta_connection mc = {
      .connection_id = c->id,
      .client_id = c->identity,
      .transport = c->transport_name,
      .duration_ms = opened || !c->opened_ms ? -1
                                             : clock__now_ms() - c->opened_ms};
  meta_channels__connection(c->realtime->channels, c->auth.app, opened, &mc);
  stats__connection(c->auth.app, c->transport_name, opened);
}

/* c has left the registry: its members leave now, its memory once its
 * publishes completed. */
static void retire(struct rt_conn *c) {
  realtime_presence__leave_all(c);
  unlink_home(c);
  c->ended = true;
  if (c->publishes_in_flight == 0) free_conn(c);
}

/* The connection is over (CLOSE, a fatal error), unless a resume claimed
 * it in the meantime: then the claim owns it and it goes on elsewhere. */
static void end(struct rt_conn *c) {
  if (connection_registry__remove(&c->realtime->connections, c, 0, true)) {
    realtime_handover__forget(c);
    announce(c, false);
    retire(c);
  }
}

/* Detaches the transport from the connection and returns it. */
static struct transport *unbind(struct rt_conn *c) {
  struct transport *t = c->transport;
  if (!t) return NULL;
  t->owner = NULL;
  c->transport = NULL;
  c->slow = false;
  ack_queue__transport_lost(&c->acks);
  realtime_channels__detach_all(c);
  realtime_presence__transport_lost(c);
  return t;
}

/* No transport: resumable for connectionStateTtl (unless a resume claimed
 * it: then the resume decides), or over if it is a stream's. */
static void become_detached(struct rt_conn *c) {
  if (c->ephemeral) {
    end(c);
    return;
  }
  connection_registry__detach(&c->realtime->connections, c,
                              clock__now_ms() +
                                  cfg_of(c)->connection_state_ttl_ms);
}

/* Drops the transport (state kept for resume), after sending pm if any. */
static void drop_transport(struct rt_conn *c,
                           const struct protocol_message *pm) {
  if (pm) realtime__send(c, pm);
  struct transport *t = unbind(c);
  if (t) t->close(t);
  become_detached(c);
}

void realtime__disconnect(struct rt_conn *c, const herald_error *err) {
  struct protocol_message pm = {.action = PM_DISCONNECTED, .has_error = true,
                                .error = *err};
  drop_transport(c, &pm);
}

void realtime__fail(struct rt_conn *c, const herald_error *err) {
  struct transport *t = unbind(c);
  if (t) send_error_and_close(t, err);
  end(c);
}

/* ---- Transport events ---------------------------------------------------- */

static void on_message(void *owner, const char *data, size_t len,
                       bool batch);

static void on_transport_closed(void *owner) {
  struct rt_conn *c = owner;
  if (!c) return;
  unbind(c);
  become_detached(c);
}

static void on_transport_drain(void *owner) {
  struct rt_conn *c = owner;
  if (!c) return;
  herald_error err;
  /* Not a 5xx: that would send SDKs to fallback hosts, which self-hosted
   * clients do not have; they reconnect here. */
  herald_error_set(&err, HERALD_E_DISCONNECTED, "Server is shutting down");
  struct protocol_message pm = {.action = PM_DISCONNECTED, .has_error = true,
                                .error = err};
  drop_transport(c, &pm);
}

static void ignore_event(void *owner) {}
static void ignore_message(void *owner, const char *data, size_t len,
                           bool batch) {}

/* A transport nobody owns yet (or any more) only closes. */
static void orphan(struct transport *t) {
  t->owner = NULL;
  t->on_message = ignore_message;
  t->on_closed = ignore_event;
  t->on_drain = ignore_event;
  t->on_backlog = ignore_event;
}

static void bind_transport(struct rt_conn *c, struct transport *t) {
  c->transport = t;
  c->transport_name = transport_name(t->kind);
  t->owner = c;
  t->on_message = on_message;
  t->on_closed = on_transport_closed;
  t->on_drain = on_transport_drain;
  t->on_backlog = on_transport_backlog;
  t->out->limit = (size_t)cfg_of(c)->max_outbound_bytes;
  c->last_sent_ms = (int64_t)uv_now(&c->worker->loop);
  c->slow = false;
  c->inbound_allowance = (double)cfg_of(c)->max_inbound_rate;
  c->inbound_at_ms = c->last_sent_ms;
}

/* ---- CONNECTED -------------------------------------------------------------- */

static void send_connected(struct rt_conn *c, const herald_error *err) {
  const struct config *cfg = cfg_of(c);
  struct connection_details d = {
      .client_id = c->auth.client_id ? c->auth.client_id
                   : c->auth.via_token && c->auth.any_client_id ? "*"
                                                                : NULL,
      .connection_key = c->key,
      .connection_state_ttl = cfg->connection_state_ttl_ms,
      .max_idle_interval = c->idle_interval_ms,
      .max_message_size = cfg->max_message_size,
      .max_frame_size = cfg->max_frame_size,
      .max_inbound_rate = cfg->max_inbound_rate,
      .max_outbound_rate = RT_MAX_OUTBOUND_RATE,
      .server_id = c->realtime->channels->node_id,
      .site_code = "local",
  };
  struct protocol_message pm = {.action = PM_CONNECTED,
                                .connection_id = c->id,
                                .connection_key = c->key,
                                .connection_details = &d};
  if (err) {
    pm.has_error = true;
    pm.error = *err;
  }
  realtime__send(c, &pm);
}

/* A new connection on transport t; err: why a resume failed, or NULL. */
static struct rt_conn *open_connection(struct realtime *s, struct transport *t,
                                       struct auth *auth,
                                       const struct connect_params *p,
                                       const herald_error *err) {
  struct rt_conn *c = herald_xcalloc(1, sizeof *c);
  c->realtime = s;
  c->auth = *auth;
  memset(auth, 0, sizeof *auth);
  c->app = c->auth.app;
  c->identity = c->auth.client_id ? herald_xstrdup(c->auth.client_id) : NULL;
  c->echo = p->echo;
  c->ephemeral = p->ephemeral;
  c->idle_interval_ms = p->idle_interval_ms;
  c->remain_present_ms = p->remain_present_ms;
  ack_queue__init(&c->acks, RT_ACKS_REMEMBERED);
  connection_registry__add(&s->connections, c);
  link_home(c, worker__self());
  bind_transport(c, t);
  c->opened_ms = clock__now_ms();
  announce(c, true);
  send_connected(c, err);
  realtime_handover__save(c);
  t->start(t);
  return c;
}

struct rt_conn *realtime__open_stream(struct realtime *rt, struct transport *t,
                                      struct auth *auth,
                                      int64_t idle_interval_ms) {
  struct connect_params p = {.echo = true, .ephemeral = true,
                             .idle_interval_ms = idle_interval_ms};
  orphan(t);
  return open_connection(rt, t, auth, &p, NULL);
}

/* ---- Resume ------------------------------------------------------------------ */

static void free_resume(struct rt_resume *r) {
  auth__release(&r->auth);
  herald_free(r->key);
  herald_free(r);
}

static void resume_transport_closed(void *owner) {
  struct rt_resume *r = owner;
  r->transport = NULL;
}

/* On the target worker: the connection has arrived. */
static void arrive(struct worker_task *task) {
  struct rt_resume *r = (struct rt_resume *)task;
  struct rt_conn *c = r->conn;
  struct connection_registry *reg = &c->realtime->connections;
  link_home(c, r->target);
  if (!r->transport) { /* the new transport left meanwhile */
    c->expires_at = clock__now_ms() + cfg_of(c)->connection_state_ttl_ms;
    connection_registry__settle(reg, c, RT_DETACHED);
    realtime_presence__rearm(c);
    free_resume(r);
    return;
  }
  auth__release(&c->auth);
  c->auth = r->auth;
  memset(&r->auth, 0, sizeof r->auth);
  c->echo = r->echo;
  c->idle_interval_ms = r->idle_interval_ms;
  c->remain_present_ms = r->remain_present_ms;
  realtime_presence__transport_back(c);
  connection_registry__rekey(reg, c);
  connection_registry__settle(reg, c, RT_LIVE);
  struct transport *t = r->transport;
  bind_transport(c, t);
  c->resumed = true;
  send_connected(c, NULL);
  realtime_handover__save(c);
  free_resume(r);
  t->start(t);
}

/* On the connection's home: let go of it, once its publishes completed. */
static void release(struct rt_conn *c) {
  struct transport *old = unbind(c);
  if (old) old->close(old);
  if (c->publishes_in_flight) {
    c->handover_waiting = true;
    return;
  }
  struct rt_resume *r = c->claim;
  unlink_home(c);
  if (r->target == c->worker) arrive(&r->task);
  else worker__post(r->target, &r->task, arrive);
}

static void release_task(struct worker_task *task) {
  release(((struct rt_resume *)task)->conn);
}

/* The connection another node had, continued here (with no transport if
 * the new one left meanwhile: then it waits for the next resume, under
 * the key the client has). */
static bool adopt(struct rt_resume *r, const struct handover *h) {
  struct realtime *s = r->realtime;
  struct rt_conn *c = herald_xcalloc(1, sizeof *c);
  if (!connection_registry__add_as(&s->connections, c, h->id, r->key)) {
    herald_free(c);
    return false;
  }
  c->realtime = s;
  c->auth = r->auth;
  memset(&r->auth, 0, sizeof r->auth);
  c->app = c->auth.app;
  c->identity = c->auth.client_id ? herald_xstrdup(c->auth.client_id) : NULL;
  c->echo = r->echo;
  c->idle_interval_ms = r->idle_interval_ms;
  c->remain_present_ms = r->remain_present_ms;
  ack_queue__init(&c->acks, RT_ACKS_REMEMBERED);
  link_home(c, worker__self());
  c->presence_channels = herald_xcalloc(h->n_channels + 1,
                                        sizeof *c->presence_channels);
  for (size_t i = 0; i < h->n_channels; i++) {
    c->presence_channels[c->n_presence_channels++] = herald_xstrdup(h->channels[i]);
    presence__adopt(s->channels, c->app->id, h->channels[i], c->id);
  }
  struct transport *t = r->transport;
  if (!t) {
    become_detached(c);
    realtime_presence__transport_lost(c);
  } else {
    connection_registry__rekey(&s->connections, c);
    bind_transport(c, t);
    c->resumed = true;
    realtime_presence__transport_back(c);
    send_connected(c, NULL);
    t->start(t);
  }
  realtime_handover__save(c);
  return true;
}

/* The answer of a take-over: the connection, or a new one told why not. */
static void on_taken(void *ctx, const struct handover *h,
                     const herald_error *err) {
  struct rt_resume *r = ctx;
  struct realtime *s = r->realtime;
  if (h && adopt(r, h)) {
    free_resume(r);
    return;
  }
  if (h) { /* the id is in use here: not the connection the key named */
    herald_error_set(&r->err, HERALD_E_CONNECTION_EXPIRED, NULL);
    err = &r->err;
  }
  if (r->transport) {
    struct connect_params p = {.echo = r->echo,
                               .idle_interval_ms = r->idle_interval_ms,
                               .remain_present_ms = r->remain_present_ms};
    open_connection(s, r->transport, &r->auth, &p, err);
  }
  free_resume(r);
}

static void resume(struct realtime *s, struct transport *t, struct auth *auth,
                   const struct connect_params *p) {
  struct rt_resume *r = herald_xcalloc(1, sizeof *r);
  r->target = worker__self();
  r->transport = t;
  r->echo = p->echo;
  r->idle_interval_ms = p->idle_interval_ms;
  r->remain_present_ms = p->remain_present_ms;
  r->realtime = s;
  herald_error err;
  r->conn = connection_registry__claim(&s->connections, p->resume_key, auth,
                                       r, &err);
  bool elsewhere = !r->conn && err.code == HERALD_E_CONNECTION_EXPIRED &&
                   store__shared(s->channels->store);
  if (!r->conn && !elsewhere) {
    herald_free(r);
    open_connection(s, t, auth, p, &err);
    return;
  }
  r->auth = *auth;
  memset(auth, 0, sizeof *auth);
  orphan(t);
  t->owner = r;
  t->on_closed = resume_transport_closed;
  if (elsewhere) {
    r->key = herald_xstrdup(p->resume_key);
    if (!realtime_handover__take(s, r->key, &r->auth, on_taken, r))
      on_taken(r, NULL, &err);
  } else if (r->conn->worker == r->target) release(r->conn);
  else worker__post(r->conn->worker, &r->task, release_task);
}

void realtime__publish_settled(struct rt_conn *c) {
  c->publishes_in_flight--;
  if (c->publishes_in_flight) return;
  if (c->ended) free_conn(c);
  else if (c->handover_waiting) {
    c->handover_waiting = false;
    release(c);
  }
}

/* ---- Connect ----------------------------------------------------------------- */

static int parse_params(const struct realtime *rt, struct http_request *req,
                        struct connect_params *p, herald_error *err) {
  const struct config *cfg = rt->cfg;
  const char *v = http__param(req, "v");
  char *end = NULL;
  long version = v ? strtol(v, &end, 10) : 0;
  if (!v || *end || version < RT_MIN_VERSION || version > RT_MAX_VERSION)
    return herald_error_set(err, HERALD_E_UNSUPPORTED_VERSION,
                            "Unsupported protocol version '%s' (2 to 6 are)",
                            v ? v : "");
  const char *echo = http__param(req, "echo");
  p->echo = !echo || strcmp(echo, "false");
  p->idle_interval_ms = cfg->max_idle_interval_ms;
  const char *hb = http__param(req, "heartbeatInterval");
  if (hb) {
    long long ms = strtoll(hb, &end, 10);
    if (*end || ms <= 0)
      return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                              "Invalid heartbeatInterval '%s'", hb);
    p->idle_interval_ms = ms;
  }
  const char *remain = http__param(req, "remainPresentFor");
  p->remain_present_ms = cfg->presence_grace_ms;
  if (remain) { /* may shorten the grace period, to a floor */
    long long ms = strtoll(remain, &end, 10);
    int64_t floor = RT_PRESENCE_GRACE_MIN_MS < cfg->presence_grace_ms
                        ? RT_PRESENCE_GRACE_MIN_MS
                        : cfg->presence_grace_ms;
    if (*end || ms < 0)
      return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                              "Invalid remainPresentFor '%s'", remain);
    if (ms < p->remain_present_ms)
      p->remain_present_ms = ms > floor ? ms : floor;
  }
  const char *key = http__param(req, "resume");
  if (!key) key = http__param(req, "recover");
  p->resume_key = key ? herald_xstrdup(key) : NULL;
  return 0;
}

/* A key whose name no app knows is, to a realtime client, a wrong
 * credential (40101), as Ably answers it; REST keeps 40400. */
static int with_key(struct auth *a, struct apps *apps, const char *key,
                    herald_error *err) {
  int rc = auth__with_key(a, apps, key, strlen(key), err);
  if (rc != -HERALD_E_NOT_FOUND) return rc;
  return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                          "Invalid credentials: no key named %.*s",
                          (int)strcspn(key, ":"), key);
}

static int authenticate(const struct realtime *rt, struct http_request *req,
                        struct auth *a, herald_error *err) {
  struct apps *apps = rt->channels->apps;
  const char *key = http__param(req, "key");
  const char *token = http__param(req, "access_token");
  if (!token) token = http__param(req, "accessToken");
  int rc;
  if (key) rc = with_key(a, apps, key, err);
  else if (token)
    rc = token_auth__authenticate(a, apps, token, strlen(token), clock__now_ms(), err);
  else
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIALS,
                            "No key or token given (key or access_token "
                            "parameter)");
  const char *client_id = http__param(req, "clientId");
  if (!rc && client_id) rc = auth__assume_client_id(a, client_id, err);
  return rc;
}

/* The ERROR a too big message gets: the same for every connection of a
 * format, so each worker builds it once (a new reference each call). */
static struct frame *too_big_frame(struct worker *w, enum wire_format format) {
  struct realtime_worker *rw = realtime__worker(w);
  struct frame **built = &rw->too_big[format];
  if (!*built) {
    herald_error err;
    herald_error_set(&err, HERALD_E_MESSAGE_TOO_LARGE,
                     "Maximum frame size exceeded (limit is %lld bytes)",
                     (long long)rw->realtime->cfg->max_frame_size);
    struct protocol_message pm = {.action = PM_ERROR, .has_error = true,
                                  .error = err};
    *built = transport__pm_frame(websocket__kind(format), &pm);
  }
  return *built ? frame__ref(*built) : NULL;
}

/* Goes on with a transport accepted for a connect request whose checks
 * gave rc (err): a new connection, a resumed one, or the error. */
static void connect_on(struct realtime *s, struct transport *t, int rc,
                       const herald_error *err, struct auth *auth,
                       const struct connect_params *p) {
  orphan(t);
  if (rc) {
    auth__release(auth);
    send_error_and_close(t, err);
  } else if (p->resume_key) {
    resume(s, t, auth, p);
  } else {
    open_connection(s, t, auth, p, NULL);
  }
}

/* The checks every connect request passes, whatever its transport. */
static int check_connect(const struct realtime *s, struct http_request *req,
                         struct connect_params *p, struct auth *auth,
                         herald_error *err) {
  int rc = parse_params(s, req, p, err);
  return rc ? rc : authenticate(s, req, auth, err);
}

void realtime__websocket(struct realtime *s, struct http_request *req) {
  herald_error err;
  const char *format_name = http__param(req, "format");
  enum wire_format format =
      format_name && !strcmp(format_name, "msgpack") ? WIRE_MSGPACK : WIRE_JSON;
  struct connect_params p = {0};
  struct auth auth = {0};
  int rc = 0;
  if (format_name && strcmp(format_name, "msgpack") && strcmp(format_name, "json"))
    rc = herald_error_set(&err, HERALD_E_BAD_REQUEST,
                          "Unsupported format (json or msgpack)");
  if (!rc) rc = check_connect(s, req, &p, &auth, &err);
  struct transport *t = websocket__accept(req, format,
                                          (size_t)s->cfg->max_frame_size,
                                          too_big_frame(req->worker, format));
  if (t) connect_on(s, t, rc, &err, &auth, &p);
  else auth__release(&auth);
  herald_free(p.resume_key);
}

/* Comet is JSON only; stream=false is the polling of browsers. */
void realtime__comet(struct realtime *s, struct http_request *req) {
  herald_error err;
  struct connect_params p = {0};
  struct auth auth = {0};
  int rc = check_connect(s, req, &p, &auth, &err);
  const char *stream = http__param(req, "stream");
  struct comet_options o = {.stream = !stream || strcmp(stream, "false"),
                            .idle_ms = p.idle_interval_ms,
                            .grace_ms = s->cfg->comet_recv_grace_ms,
                            .stream_ms = s->cfg->comet_stream_ms};
  if (rc) o.idle_ms = s->cfg->max_idle_interval_ms;
  connect_on(s, comet__accept(&s->comets, req, &o), rc, &err, &auth, &p);
  herald_free(p.resume_key);
}

/* ---- In-band AUTH ------------------------------------------------------------ */

static void reauthenticate(struct rt_conn *c, const struct protocol_message *pm) {
  herald_error err;
  struct auth fresh = {0};
  const char *token = pm->access_token;
  int rc = token ? token_auth__authenticate(&fresh, c->realtime->channels->apps, token,
                                    strlen(token), clock__now_ms(), &err)
                 : herald_error_set(&err, HERALD_E_INVALID_CREDENTIALS,
                                    "AUTH without auth.accessToken");
  if (!rc && fresh.app != c->app)
    rc = herald_error_set(&err, HERALD_E_INCOMPATIBLE_CREDENTIALS,
                          "New token is for another app");
  if (!rc && c->identity) rc = auth__assume_client_id(&fresh, c->identity, &err);
  else if (!rc && fresh.client_id)
    rc = herald_error_set(&err, HERALD_E_INCOMPATIBLE_CREDENTIALS,
                          "Connection has no clientId; the new token names one");
  if (rc) {
    auth__release(&fresh);
    realtime__fail(c, &err);
    return;
  }
  auth__release(&c->auth);
  c->auth = fresh;
  send_connected(c, NULL);
  realtime_channels__recheck(c);
}

/* ---- Dispatch --------------------------------------------------------------- */

static void heartbeat(struct rt_conn *c, const char *id) {
  struct protocol_message pm = {.action = PM_HEARTBEAT, .id = (char *)id};
  realtime__send(c, &pm);
}

static void close_connection(struct rt_conn *c) {
  struct protocol_message pm = {.action = PM_CLOSED};
  realtime__send(c, &pm);
  struct transport *t = unbind(c);
  if (t) t->close(t);
  end(c);
}

static void handle(struct rt_conn *c, struct protocol_message *pm) {
  herald_error err;
  switch (pm->action) {
  case PM_HEARTBEAT: heartbeat(c, pm->id); break;
  case PM_CLOSE: close_connection(c); break;
  case PM_DISCONNECT: drop_transport(c, NULL); break;
  case PM_ATTACH: realtime_channels__attach(c, pm); break;
  case PM_DETACH: realtime_channels__detach(c, pm); break;
  case PM_MESSAGE: realtime_publish__message(c, pm); break;
  case PM_PRESENCE: realtime_publish__presence(c, pm); break;
  case PM_SYNC: realtime_presence__client_sync(c, pm); break;
  case PM_OBJECT: realtime_publish__nack_unsupported(c, pm); break;
  case PM_ANNOTATION: realtime_publish__annotation(c, pm); break;
  case PM_AUTH: reauthenticate(c, pm); break;
  case PM_ACTIVATE: break;
  default:
    herald_error_set(&err, HERALD_E_BAD_REQUEST,
                     "Unexpected ProtocolMessage action %d", pm->action);
    realtime__fail(c, &err);
  }
}

/* Decodes and handles one ProtocolMessage (c may be gone after it). */
static void take(struct rt_conn *c, struct wire_value v) {
  herald_error err;
  struct protocol_message pm;
  int rc = protocol_message__decode(v, RT_MAX_MESSAGES_PER_PM, &pm, &err);
  bool publish = pm.action == PM_MESSAGE || pm.action == PM_PRESENCE ||
                 pm.action == PM_ANNOTATION;
  if (rc && !(publish && pm.has_msg_serial)) {
    char reason[HERALD_ERROR_MESSAGE_MAX];
    snprintf(reason, sizeof reason, "%s", err.message);
    herald_error_set(&err, HERALD_E_BAD_REQUEST, "Invalid protocol message: %s",
                     reason);
    realtime__fail(c, &err);
    return;
  }
  if (rc) realtime_publish__reject(c, &pm, &err);
  else handle(c, &pm);
  protocol_message__cleanup(&pm);
}

static void on_message(void *owner, const char *data, size_t len,
                       bool batch) {
  struct rt_conn *c = owner;
  if (!c || !c->transport) return;
  struct transport *t = c->transport; /* outlives this call */
  herald_error err;
  struct wire_doc doc;
  if (wire_doc__parse(&doc, c->transport->format, data, len, &err)) {
    herald_error_set(&err, HERALD_E_BAD_REQUEST,
                     "Invalid protocol message: not a %s document",
                     c->transport->format == WIRE_JSON ? "JSON" : "MessagePack");
    realtime__fail(c, &err);
    return;
  }
  struct wire_value root = wire_doc__root(&doc);
  if (!batch) take(c, root);
  else if (wire_value__kind(root) != WIRE_ARRAY) {
    herald_error_set(&err, HERALD_E_BAD_REQUEST,
                     "Invalid request body: not an array of ProtocolMessages");
    realtime__fail(c, &err);
  } else {
    /* Until one of them ends c's hold on t (c may be gone then). */
    size_t n = wire_value__count(root);
    for (size_t i = 0; i < n && t->owner == owner; i++)
      take(c, wire_value__at(root, i));
  }
  wire_doc__cleanup(&doc);
}

/* ---- The tick: heartbeats, token expiry, slow subscribers, expiry ----------- */

static void tick_live(struct rt_conn *c, int64_t now, int64_t tick_ms) {
  struct protocol_message pm = {.action = PM_DISCONNECTED, .has_error = true};
  if (c->slow) {
    c->slow = false; /* so that the goodbye can be queued */
    outbound__discard_unsent(c->transport->out);
    herald_error_set(&pm.error, HERALD_E_OUTBOUND_RATE_EXCEEDED,
                     "Subscriber too slow: outbound buffer limit exceeded");
    /* What it had not received is gone, and it may never read the goodbye:
     * the app hears of it on [meta]log. */
    meta_channels__log(c->realtime->channels, c->auth.app,
                       "connection.disconnected", &pm.error, c->id);
    drop_transport(c, &pm);
    return;
  }
  /* No AUTH ahead of expiry (realtime.md 3.8): the SDK renews on this
   * DISCONNECTED and resumes, or, holding a token it cannot renew, gives
   * up on its own terms. */
  if (c->auth.via_token && now >= c->auth.token_expires) {
    herald_error_set(&pm.error, HERALD_E_TOKEN_EXPIRED, "Token expired");
    drop_transport(c, &pm);
    return;
  }
  if ((int64_t)uv_now(&c->worker->loop) - c->last_sent_ms >=
      c->idle_interval_ms - tick_ms)
    heartbeat(c, NULL);
}

static int64_t tick_interval(const struct config *cfg) {
  int64_t ms = cfg->max_idle_interval_ms / 4;
  if (ms > RT_TICK_MAX_MS) ms = RT_TICK_MAX_MS;
  return ms < 10 ? 10 : ms;
}

static void on_tick(uv_timer_t *timer) {
  struct realtime_worker *rw = timer->data;
  struct realtime *s = rw->realtime;
  int64_t now = clock__now_ms(), tick_ms = tick_interval(s->cfg);
  for (struct rt_conn *c = rw->conns, *next; c; c = next) {
    next = c->next;
    if (c->transport) {
      realtime_handover__refresh(c, now); /* tick_live may end c */
      tick_live(c, now, tick_ms);
    } else if (connection_registry__remove(&s->connections, c, now, false)) {
      announce(c, false); /* RT_DETACHED and expired, as read under the
                             lock: closed */
      retire(c);
    }
  }
  realtime_revocation__tick(rw, now);
  fanout__sweep(rw->worker, now);
}

/* ---- Per worker ------------------------------------------------------------- */

static int slot = -1;

static void free_worker_state(void *arg) {
  struct realtime_worker *rw = arg;
  comet__worker_cleanup(&rw->realtime->comets, rw->worker);
  realtime_revocation__worker_cleanup(rw);
  while (rw->conns) {
    struct rt_conn *c = rw->conns;
    rw->conns = c->next;
    connection_registry__remove(&rw->realtime->connections, c, 0, true);
    free_conn(c);
  }
  frame__unref(rw->too_big[WIRE_JSON]);
  frame__unref(rw->too_big[WIRE_MSGPACK]);
  herald_free(rw);
}

void realtime__worker_init(struct realtime *rt, struct worker *w) {
  struct realtime_worker *rw = herald_xcalloc(1, sizeof *rw);
  rw->realtime = rt;
  rw->worker = w;
  w->locals[worker__slot(&slot)] = rw;
  worker__at_exit(w, free_worker_state, rw);
  uv_timer_init(&w->loop, &rw->tick);
  rw->tick.data = rw;
  int64_t ms = tick_interval(rt->cfg);
  uv_timer_start(&rw->tick, on_tick, (uint64_t)ms, (uint64_t)ms);
  realtime_presence__worker_init(rw);
}

struct realtime_worker *realtime__worker(struct worker *w) {
  return w->locals[slot];
}

void realtime__drain(struct worker *w) {
  struct realtime_worker *rw = realtime__worker(w);
  for (struct rt_conn *c = rw->conns, *next; c; c = next) {
    next = c->next;
    if (c->transport) on_transport_drain(c);
  }
}

void realtime__init(struct realtime *rt, struct channels *channels,
                    const struct config *cfg) {
  rt->channels = channels;
  rt->cfg = cfg;
  connection_registry__init(&rt->connections);
  comet__registry_init(&rt->comets, cfg->allowed_origins);
  realtime_handover__init(rt);
}

/* ---- A connection another node took over ---------------------------------------- */

struct let_go {
  struct worker_task task;
  struct rt_conn *conn;
};

/* On c's home: it goes without its members leaving (they are the other
 * node's now). */
static void let_go(struct worker_task *task) {
  struct let_go *g = (struct let_go *)task;
  struct rt_conn *c = g->conn;
  herald_free(g);
  struct transport *t = unbind(c);
  if (t) t->close(t);
  for (size_t i = 0; i < c->n_presence_channels; i++) {
    presence__forget_connection(c->realtime->channels, c->app->id,
                                c->presence_channels[i], c->id);
    herald_free(c->presence_channels[i]);
  }
  c->n_presence_channels = 0;
  struct connection_registry *reg = &c->realtime->connections;
  connection_registry__settle(reg, c, RT_DETACHED);
  if (connection_registry__remove(reg, c, 0, true)) retire(c);
}

void realtime__moved(struct realtime *rt, const char *id) {
  struct rt_conn *c = connection_registry__claim_id(&rt->connections, id, NULL);
  if (!c) return;
  struct let_go *g = herald_xcalloc(1, sizeof *g);
  g->conn = c;
  worker__post(c->worker, &g->task, let_go);
}

void realtime__resolve_key(void *rt, const char *key, const struct auth *auth,
                           const char *client_id,
                           void (*done)(void *arg, const char *id,
                                        const herald_error *err),
                           void *arg) {
  char id[RT_CONNECTION_ID_LEN + 1];
  herald_error err;
  if (!connection_registry__resolve(&((struct realtime *)rt)->connections,
                                    key, auth, client_id, id, &err))
    done(arg, id, NULL);
  else if (!realtime_handover__resolve(rt, key, auth, client_id, done, arg))
    done(arg, NULL, &err);
}

void realtime__cleanup(struct realtime *rt) {
  comet__registry_cleanup(&rt->comets);
  connection_registry__cleanup(&rt->connections);
}
