/* comet.c -- the comet transport: recvs answered or streamed, sends,
 * close and disconnect, and the registry by connection key (see
 * comet.h).
 * Owns: struct comet (one per comet connection) and its registry entry. */
#include "transport/comet.h"

#include <string.h>

#include "alloc.h"
#include "core/worker.h"
#include "transport/http_headers.h"

struct comet {
  struct transport transport;
  struct outbound out; /* a stream only while a streaming recv is open */
  struct comet_registry *registry;
  struct worker *worker;
  struct comet_options options;
  char *key; /* registered under it; NULL until CONNECTED */
  /* The recv waiting for frames: a poll, or a streaming recv whose
   * response has not begun. */
  struct http_request *recv;
  struct http_upgrade upgrade; /* the streaming recv's connection */
  uv_stream_t *stream;
  uv_timer_t timer; /* no recv: lost; a streaming recv: its end */
  int status;       /* of the next answer: an error's, or 200 */
  bool closing;     /* close(): end once the queue is handed over */
  bool ending;      /* end the streaming recv once its queue is out */
  bool dropped;     /* the peer dropped a streaming recv: no more recvs */
  bool finished;    /* over: waiting for its handles to close */
  int open_handles; /* the timer, the stream: freed when both closed */
};

/* ---- The registry ------------------------------------------------------- */

void comet__registry_init(struct comet_registry *r,
                          const char *allowed_origins) {
  r->allowed_origins = allowed_origins;
  uv_mutex_init(&r->lock);
  hashmap__init(&r->by_key);
}

void comet__registry_cleanup(struct comet_registry *r) {
  hashmap__cleanup(&r->by_key);
  uv_mutex_destroy(&r->lock);
}

static void enrol(struct comet *cm, const char *key) {
  if (cm->key && !strcmp(cm->key, key)) return; /* CONNECTED again: AUTH */
  uv_mutex_lock(&cm->registry->lock);
  if (cm->key) hashmap__remove(&cm->registry->by_key, cm->key, strlen(cm->key));
  herald_free(cm->key);
  cm->key = herald_xstrdup(key);
  hashmap__put(&cm->registry->by_key, cm->key, strlen(cm->key), cm);
  uv_mutex_unlock(&cm->registry->lock);
}

static void withdraw(struct comet *cm) {
  if (!cm->key) return;
  uv_mutex_lock(&cm->registry->lock);
  hashmap__remove(&cm->registry->by_key, cm->key, strlen(cm->key));
  uv_mutex_unlock(&cm->registry->lock);
}

/* The worker of the connection with that key, or NULL. */
static struct worker *home_of(struct comet_registry *r, const char *key) {
  uv_mutex_lock(&r->lock);
  struct comet *cm = hashmap__get(&r->by_key, key, strlen(key));
  struct worker *w = cm ? cm->worker : NULL;
  uv_mutex_unlock(&r->lock);
  return w;
}

/* On the home worker: the connection itself (only this thread frees it). */
static struct comet *find(struct comet_registry *r, const char *key) {
  uv_mutex_lock(&r->lock);
  struct comet *cm = hashmap__get(&r->by_key, key, strlen(key));
  uv_mutex_unlock(&r->lock);
  return cm;
}

/* ---- Answers ------------------------------------------------------------ */

static void answer(struct comet_registry *r, struct http_request *req,
                   int status, const char *body, size_t len) {
  struct http_headers h;
  http_headers__init(&h);
  if (body) http_headers__add(&h, "Content-Type", "application/json");
  http_headers__add(&h, "Cache-Control", "no-cache, no-store");
  http_headers__cors(&h, req, r->allowed_origins);
  http__respond(req, body ? status : 204, h.buf, body, len);
}

/* The queued lines "[PM]\n" as one array "[PM,PM,...]\n". */
static char *take_queue(struct comet *cm, size_t *len) {
  size_t size = cm->out.bytes + 3, n = 1;
  char *body = herald_xmalloc(size);
  body[0] = '[';
  for (struct frame *f; (f = outbound__pop(&cm->out)); frame__unref(f)) {
    if (n > 1) body[n++] = ',';
    memcpy(body + n, f->data + 1, f->len - 3);
    n += f->len - 3;
  }
  memcpy(body + n, "]\n", 2);
  *len = n + 2;
  return body;
}

static void arm(struct comet *cm, int64_t ms, uv_timer_cb cb) {
  uv_timer_start(&cm->timer, cb, (uint64_t)ms, 0);
}

static void on_lost(uv_timer_t *timer);
static void on_stream_due(uv_timer_t *timer);
static void finish(struct comet *cm);

/* No recv now: the next one is due within the heartbeat interval and
 * the grace. */
static void await_recv(struct comet *cm) {
  if (cm->closing) finish(cm);
  else arm(cm, cm->options.idle_ms + cm->options.grace_ms, on_lost);
}

static void answer_poll(struct comet *cm) {
  struct http_request *req = cm->recv;
  cm->recv = NULL;
  size_t len;
  char *body = take_queue(cm, &len);
  answer(cm->registry, req, cm->status, body, len);
  herald_free(body);
  cm->status = 200;
  if (!cm->finished) await_recv(cm);
}

static struct frame *stream_head(struct comet *cm, struct http_request *req) {
  struct http_headers h;
  http_headers__init(&h);
  http_headers__add_lines(&h, "HTTP/1.1 200 OK\r\n"
                              "Content-Type: application/json\r\n"
                              "Cache-Control: no-cache, no-store\r\n"
                              "Connection: close\r\n");
  http_headers__cors(&h, req, cm->registry->allowed_origins);
  http_headers__add_lines(&h, "\r\n");
  struct frame *f = frame__new(h.len);
  memcpy(f->data, h.buf, h.len);
  return f;
}

static void begin_stream(struct comet *cm) {
  struct http_request *req = cm->recv;
  cm->recv = NULL;
  struct frame *head = stream_head(cm, req);
  cm->stream = http__upgrade(req, &cm->upgrade);
  cm->open_handles++;
  outbound__attach(&cm->out, cm->stream, head);
  frame__unref(head);
  http__upgrade_start(cm->stream);
  arm(cm, cm->options.stream_ms, on_stream_due);
}

/* Frames are queued and a recv waits for them. An error that ends the
 * connection is answered whole, with its status, in either mode. */
static void hand_over(struct comet *cm) {
  if (!cm->recv || outbound__empty(&cm->out)) return;
  if (cm->options.stream && cm->status == 200) begin_stream(cm);
  else answer_poll(cm);
}

/* Ends the streaming recv (its queue written); the next recv takes what
 * follows. */
static void end_stream(struct comet *cm) {
  cm->ending = false;
  outbound__detach(&cm->out);
  uv_stream_t *s = cm->stream;
  cm->stream = NULL;
  http__close(s);
}

static void on_stream_due(uv_timer_t *timer) {
  struct comet *cm = timer->data;
  if (outbound__empty(&cm->out) && outbound__idle(&cm->out)) {
    end_stream(cm);
    await_recv(cm);
  } else {
    cm->ending = true; /* on_empty ends it */
  }
}

/* ---- The end ------------------------------------------------------------ */

static void free_comet(struct comet *cm) {
  outbound__cleanup(&cm->out);
  herald_free(cm->key);
  herald_free(cm);
}

void comet__worker_cleanup(struct comet_registry *r, struct worker *w) {
  uv_mutex_lock(&r->lock);
  size_t i;
  for (struct hashmap_entry *e = hashmap__first(&r->by_key, &i), *next; e;
       e = next) {
    next = hashmap__next(&r->by_key, e, &i);
    struct comet *cm = e->value;
    if (cm->worker != w) continue;
    hashmap__remove(&r->by_key, cm->key, strlen(cm->key));
    free_comet(cm);
  }
  uv_mutex_unlock(&r->lock);
}

static void release(struct comet *cm) {
  if (--cm->open_handles == 0) free_comet(cm);
}

static void on_handle_closed(uv_handle_t *handle) { release(handle->data); }

/* The connection is over: a waiting recv gets what is left, the owner
 * hears of it once, and the memory goes once the handles closed. */
static void finish(struct comet *cm) {
  if (cm->finished) return;
  cm->finished = true;
  withdraw(cm);
  if (cm->recv && outbound__empty(&cm->out)) {
    answer(cm->registry, cm->recv, 204, NULL, 0);
    cm->recv = NULL;
  }
  if (cm->recv) answer_poll(cm);
  if (cm->stream) end_stream(cm);
  uv_timer_stop(&cm->timer);
  uv_close((uv_handle_t *)&cm->timer, on_handle_closed);
  cm->transport.on_closed(cm->transport.owner);
}

/* No recv came in time, or the peer dropped a streaming recv: the client
 * has lost the connection (it resumes on a new one). */
static void on_lost(uv_timer_t *timer) { finish(timer->data); }

/* ---- The streaming recv's connection -------------------------------------- */

static struct comet *of_upgrade(struct http_upgrade *u) {
  return (struct comet *)((char *)u - offsetof(struct comet, upgrade));
}

/* The peer dropped a streaming recv: what was being written is lost, so
 * the client will not recv here again (it resumes on a new transport).
 * The connection waits for the /close or /disconnect that often races
 * with the drop, or for its time to be up. */
static void drop_stream(struct comet *cm) {
  if (!cm->stream) return;
  cm->dropped = true;
  end_stream(cm);
  arm(cm, cm->options.idle_ms + cm->options.grace_ms, on_lost);
}

static void stream_read(struct http_upgrade *u, const char *data, size_t len) {
  if (!data) drop_stream(of_upgrade(u));
}

static void stream_drain(struct http_upgrade *u) {
  struct comet *cm = of_upgrade(u);
  cm->transport.on_drain(cm->transport.owner);
}

static void stream_closed(struct http_upgrade *u) { release(of_upgrade(u)); }

static struct comet *of_out(struct outbound *o) {
  return (struct comet *)((char *)o - offsetof(struct comet, out));
}

static void on_write_error(struct outbound *o) { drop_stream(of_out(o)); }

static void on_empty(struct outbound *o) {
  struct comet *cm = of_out(o);
  if (!cm->ending && !cm->closing) return;
  end_stream(cm);
  await_recv(cm);
}

static void on_overflow(struct outbound *o) {
  struct comet *cm = of_out(o);
  cm->transport.on_backlog(cm->transport.owner);
}

static void on_waiting(struct outbound *o) {
  struct comet *cm = of_out(o);
  if (cm->dropped && cm->closing) finish(cm); /* nobody will take it */
  else hand_over(cm);
}

/* ---- The transport --------------------------------------------------------- */

static void comet_start(struct transport *t) {}

static void comet_close(struct transport *t) {
  struct comet *cm = (struct comet *)t;
  cm->closing = true;
  if (cm->dropped || (outbound__empty(&cm->out) && outbound__idle(&cm->out)))
    finish(cm);
  /* else the stream, the waiting recv or the next one takes the rest */
}

static void comet_abort(struct transport *t) {
  struct comet *cm = (struct comet *)t;
  outbound__discard_unsent(&cm->out);
  finish(cm);
}

/* The key of CONNECTED is the one the client's URLs carry; an error that
 * ends the connection sets the status of the answer that carries it. */
static void comet_send(struct transport *t, const struct protocol_message *pm) {
  struct comet *cm = (struct comet *)t;
  if (pm->action == PM_CONNECTED && pm->connection_key)
    enrol(cm, pm->connection_key);
  bool fatal = pm->has_error && !pm->channel &&
               (pm->action == PM_ERROR || pm->action == PM_DISCONNECTED);
  if (fatal && !cm->stream) cm->status = pm->error.status;
  transport__send(t, pm);
}

struct transport *comet__accept(struct comet_registry *r,
                                struct http_request *req,
                                const struct comet_options *o) {
  struct comet *cm = herald_xcalloc(1, sizeof *cm);
  cm->registry = r;
  cm->worker = req->worker;
  cm->options = *o;
  cm->recv = req;
  cm->status = 200;
  cm->upgrade = (struct http_upgrade){stream_read, stream_drain, stream_closed};
  outbound__init(&cm->out, NULL, outbound__flusher(req->worker));
  cm->out.on_error = on_write_error;
  cm->out.on_empty = on_empty;
  cm->out.on_overflow = on_overflow;
  cm->out.on_waiting = on_waiting;
  uv_timer_init(&req->worker->loop, &cm->timer);
  cm->timer.data = cm;
  cm->open_handles = 1;
  struct transport *t = &cm->transport;
  t->kind = FRAME_COMET;
  t->format = WIRE_JSON;
  t->out = &cm->out;
  t->start = comet_start;
  t->close = comet_close;
  t->abort = comet_abort;
  t->send = comet_send;
  t->send_frame = transport__send_frame;
  return t;
}

/* ---- Requests ------------------------------------------------------------- */

static void unknown(struct comet_registry *r, struct http_request *req);

/* A new recv: it ends the one before it, if any, and takes what waits.
 * A streaming recv with anything unwritten cannot hand its queue over: a
 * frame may be half written, or its own response head still be queued.
 * As when the peer drops one, the client does not recv here again (it
 * resumes). */
static void take_recv(struct comet *cm, struct http_request *req) {
  if (cm->recv) {
    answer(cm->registry, cm->recv, 204, NULL, 0);
    cm->recv = NULL;
  }
  if (cm->stream &&
      !(outbound__idle(&cm->out) && outbound__empty(&cm->out))) {
    drop_stream(cm);
    unknown(cm->registry, req);
    return;
  }
  if (cm->stream) end_stream(cm);
  uv_timer_stop(&cm->timer);
  cm->recv = req;
  hand_over(cm);
}

static void pass_on(struct comet *cm, const char *body, size_t len) {
  cm->transport.on_message(cm->transport.owner, body, len, true);
}

static void unknown(struct comet_registry *r, struct http_request *req) {
  herald_error err;
  herald_error_set(&err, HERALD_E_TRANSPORT_GONE,
                   "No comet connection with that key (it ended or moved)");
  struct protocol_message pm = {.action = PM_DISCONNECTED, .has_error = true,
                                .error = err};
  struct frame *f = transport__pm_frame(FRAME_COMET, &pm);
  answer(r, req, err.status, f->data, f->len);
  frame__unref(f);
}

void comet__serve(struct comet_registry *r, const char *key,
                  enum comet_request what, struct http_request *req) {
  struct worker *home = home_of(r, key);
  if (home && home != req->worker) {
    http__move(req, home);
    return;
  }
  struct comet *cm = home ? find(r, key) : NULL;
  if (!cm || cm->finished || (cm->dropped && what == COMET_RECV)) {
    unknown(r, req);
    return;
  }
  /* The CLOSE and DISCONNECT a WebSocket client would send. */
  static const char close_pm[] = "[{\"action\":7}]";
  static const char disconnect_pm[] = "[{\"action\":5}]";
  switch (what) {
  case COMET_RECV: take_recv(cm, req); return;
  case COMET_SEND: pass_on(cm, req->body ? req->body : "", req->body_len); break;
  case COMET_CLOSE: pass_on(cm, close_pm, sizeof close_pm - 1); break;
  case COMET_DISCONNECT:
    pass_on(cm, disconnect_pm, sizeof disconnect_pm - 1);
    break;
  }
  answer(r, req, 204, NULL, 0);
}
