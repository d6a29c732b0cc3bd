/* realtime_presence.c -- presence as a realtime connection sees it
 * (realtime.md 6.4, 6.7): the member set sent as SYNC pages, and a
 * connection's members leaving: at once on DETACH and CLOSE, after the
 * grace period when its transport drops and it does not come back, and on
 * the channels it does not attach again within the re-attach window when
 * it does come back (realtime.md 3.9).
 * Owns: struct rt_sync, each worker's grace timer. Changes themselves go
 * through realtime_publish.c; member sets live on owners (presence.h). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "channel/fanout.h"
#include "channel/presence.h"
#include "channel_name.h"
#include "clock.h"
#include "msgid.h"
#include "realtime/realtime.h"

#define SYNC_PAGE 100 /* members per SYNC ProtocolMessage */
#define SYNC_ID_LEN 12 /* random URL-safe characters of a sync id (72 bits) */

/* ---- Which channels a connection may have members on ------------------------ */

static size_t find_channel(const struct rt_conn *c, const char *channel) {
  size_t i = 0;
  while (i < c->n_presence_channels && strcmp(c->presence_channels[i], channel))
    i++;
  return i;
}

void realtime_presence__entered(struct rt_conn *c, const char *channel) {
  if (find_channel(c, channel) < c->n_presence_channels) return;
  c->presence_channels =
      herald_xrealloc(c->presence_channels,
                      (c->n_presence_channels + 1) * sizeof *c->presence_channels);
  c->presence_channels[c->n_presence_channels++] = herald_xstrdup(channel);
  realtime_handover__save(c); /* a node taking c over adopts its members */
}

static void leave_at(struct rt_conn *c, size_t i) {
  presence__leave_connection(c->realtime->channels, c->auth.app, c->presence_channels[i],
                             c->id);
  herald_free(c->presence_channels[i]);
  c->presence_channels[i] = c->presence_channels[--c->n_presence_channels];
}

void realtime_presence__leave_channel(struct rt_conn *c, const char *channel) {
  size_t i = find_channel(c, channel);
  if (i < c->n_presence_channels) leave_at(c, i);
}

void realtime_presence__leave_all(struct rt_conn *c) {
  while (c->n_presence_channels) leave_at(c, c->n_presence_channels - 1);
  herald_free(c->presence_channels);
  c->presence_channels = NULL;
  c->presence_leave_at = 0;
}

/* ---- The grace period --------------------------------------------------------- */

static void on_grace(uv_timer_t *timer);

/* The worker's timer fires at `at` at the latest. */
static void arm(struct realtime_worker *rw, int64_t at) {
  if (rw->presence_grace_at && rw->presence_grace_at <= at) return;
  rw->presence_grace_at = at;
  int64_t wait = at - clock__now_ms();
  uv_timer_start(&rw->presence_grace, on_grace,
                 (uint64_t)(wait > 0 ? wait : 0), 0);
}

void realtime_presence__rearm(struct rt_conn *c) {
  if (c->presence_leave_at) arm(realtime__worker(c->worker), c->presence_leave_at);
}

void realtime_presence__transport_lost(struct rt_conn *c) {
  if (!c->n_presence_channels) return;
  c->presence_leave_at = clock__now_ms() + c->remain_present_ms;
  realtime_presence__rearm(c);
}

void realtime_presence__transport_back(struct rt_conn *c) {
  c->presence_leave_at = 0;
  if (!c->n_presence_channels) return;
  c->presence_leave_at =
      clock__now_ms() + c->realtime->cfg->reattach_window_ms;
  realtime_presence__rearm(c);
}

/* The re-attach window of a resumed connection is over: its members leave
 * the channels it has not attached again. */
static void leave_unattached(struct rt_conn *c) {
  for (size_t i = c->n_presence_channels; i-- > 0;) {
    uint32_t modes;
    if (!realtime_channels__attached(c, c->presence_channels[i], &modes))
      leave_at(c, i);
  }
  c->presence_leave_at = 0;
}

/* Deadlines that passed: without a transport the grace period is over
 * (every member leaves), with one the re-attach window; the timer follows
 * the next deadline. */
static void on_grace(uv_timer_t *timer) {
  struct realtime_worker *rw = timer->data;
  int64_t now = clock__now_ms(), next = 0;
  rw->presence_grace_at = 0;
  for (struct rt_conn *c = rw->conns; c; c = c->next) {
    if (!c->presence_leave_at) continue;
    if (c->presence_leave_at > now) {
      if (!next || c->presence_leave_at < next) next = c->presence_leave_at;
    } else if (c->transport) {
      leave_unattached(c);
    } else {
      realtime_presence__leave_all(c);
    }
  }
  if (next) arm(rw, next);
}

void realtime_presence__worker_init(struct realtime_worker *rw) {
  uv_timer_init(&rw->worker->loop, &rw->presence_grace);
  rw->presence_grace.data = rw;
}

/* ---- SYNC ------------------------------------------------------------------------ */

struct rt_sync {
  struct presence_query query;
  struct rt_conn *conn;
  char *channel;
};

/* The members as SYNC pages "<syncId>:<page>", the last "<syncId>:" (an
 * empty set is one empty last page). The sync id is random, not a count:
 * a client takes a SYNC with the id of the sequence it has in progress
 * for more of it (RTP18a), and a connection that moved to this node since
 * (a resume elsewhere) may have been cut off in the middle of one. */
static void send_pages(struct rt_conn *c, const char *channel,
                       struct message **members, size_t count) {
  char sync_id[SYNC_ID_LEN + 1];
  msgid__random(sync_id, SYNC_ID_LEN);
  size_t page = 0;
  do {
    size_t first = page * SYNC_PAGE;
    size_t n = count - first < SYNC_PAGE ? count - first : SYNC_PAGE;
    bool last = first + n >= count;
    char cursor[48];
    if (last) snprintf(cursor, sizeof cursor, "%s:", sync_id);
    else snprintf(cursor, sizeof cursor, "%s:%zu", sync_id, page + 1);
    struct protocol_message pm = {.action = PM_SYNC,
                                  .channel = (char *)channel,
                                  .channel_serial = cursor,
                                  .presence = members + first,
                                  .n_presence = n};
    realtime__send(c, &pm);
    page++;
  } while (page * SYNC_PAGE < count);
}

static void on_members(struct presence_query *q) {
  struct rt_sync *s = (struct rt_sync *)q;
  struct rt_conn *c = s->conn;
  uint32_t modes = 0;
  if (!c->ended && c->transport &&
      realtime_channels__attached(c, s->channel, &modes) &&
      (modes & PM_FLAG_MODE_PRESENCE_SUBSCRIBE))
    send_pages(c, s->channel, q->members, q->count);
  presence__query_cleanup(q);
  herald_free(s->channel);
  herald_free(s);
  realtime__publish_settled(c); /* may free c */
}

void realtime_presence__sync(struct rt_conn *c, const char *channel) {
  struct rt_sync *s = herald_xcalloc(1, sizeof *s);
  s->conn = c;
  s->channel = herald_xstrdup(channel);
  struct presence_query *q = &s->query;
  q->channels = c->realtime->channels;
  q->origin = c->worker;
  q->app_id = c->app->id;
  q->channel = s->channel;
  q->done = on_members;
  c->publishes_in_flight++; /* keeps c here until the answer */
  presence__query(q);
}

void realtime_presence__client_sync(struct rt_conn *c,
                              const struct protocol_message *pm) {
  struct channel_name name;
  herald_error err;
  if (!pm->channel ||
      channel_name__parse(pm->channel, strlen(pm->channel), &name, &err))
    return;
  char *base = channel_name__base_dup(&name);
  uint32_t modes = 0;
  if (realtime_channels__attached(c, base, &modes) &&
      (modes & PM_FLAG_MODE_PRESENCE_SUBSCRIBE))
    realtime_presence__sync(c, base);
  herald_free(base);
}
