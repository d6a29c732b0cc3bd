/* presence.h -- who is present on each channel (realtime.md 6).
 *
 * A channel's member set lives on the channel's owner, beside its serial
 * clock, so a presence change is stamped, applied and fanned out in one
 * place, in the channel's serial order. A change travels like a message
 * publish (channel.h: struct publish with `presence` set): the origin checks
 * it, the owner applies it to the set (presence__apply), appends what
 * changed to the channel's presence history and fans it out as a PRESENCE.
 *
 * A member is identified by clientId + connectionId and held as an
 * immutable PRESENT message, so a query hands out references that another
 * thread may encode.
 *
 * With a shared engine (store.h) an owner's set holds the members of this
 * node's connections -- the only ones it changes, so the rules above
 * still decide each change in one place -- while the engine keeps every
 * node's members: queries read them there, and the member counts travel
 * with the engine's feed. */
#ifndef HERALD_PRESENCE_H
#define HERALD_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/worker.h"
#include "herald/errors.h"
#include "message.h"
#include "store/store.h"

struct app;
struct publish;
struct channels;

/* ---- On the owner ---------------------------------------------------------- */

struct presence_table;
struct presence_table *presence__table_new(void);
void presence__table_free(struct presence_table *t);

/* Before stamping: a leave-all publish (p->leave_connection) becomes one
 * LEAVE per member of that connection, with synthesized ids; then the
 * member limit is checked (-91003 when the items would exceed max_members;
 * nothing changes then). */
int presence__prepare(struct presence_table *t, struct publish *p,
                      size_t max_members, herald_error *err);

/* After stamping: applies p's items to the set (realtime.md 6.2) and keeps
 * in p only the events to broadcast and record: an ENTER of a present
 * member becomes UPDATE (nothing at all when it carries the member's
 * current id), an UPDATE of an absent one ENTER, a LEAVE of an absent one
 * nothing; a LEAVE without data carries the member's last data.
 * p->presence_members becomes the channel's member count after it. */
void presence__apply(struct presence_table *t, struct publish *p);

/* Calls fn with the name of each of the app's channels with members. */
void presence__each_channel(struct presence_table *t, const char *app_id,
                            void (*fn)(const char *name, void *arg), void *arg);

/* How many members the channel has; key is "<app id>\n<channel>", as
 * fanout.h's channel keys. */
size_t presence__count(struct presence_table *t, const char *key,
                       size_t key_len);

/* ---- From any worker ---------------------------------------------------------- */

/* The members of a channel, filtered, in a stable order, one page at a time
 * (run on the owner; done runs once on origin). */
struct presence_query {
  struct worker_task task;
  struct channels *channels;
  struct worker *origin;
  const char *app_id;
  const char *channel;       /* base name */
  const char *client_id;     /* filter, or NULL */
  const char *connection_id; /* filter, or NULL */
  size_t limit;              /* 0: all members */
  const char *cursor;        /* NULL: from the first member */
  void (*done)(struct presence_query *q);
  /* Outputs */
  struct message **members; /* referenced, action PRESENCE_PRESENT */
  size_t count;
  char *next_cursor; /* NULL on the last page */
  struct store_members stored; /* internal: a shared engine's members */
};
void presence__query(struct presence_query *q);
void presence__query_cleanup(struct presence_query *q);

/* Removes every member connection_id has on a channel, broadcasting a
 * synthesized LEAVE for each (a detach, a close, or the end of the presence
 * grace period after an abrupt disconnect). Fire and forget. */
void presence__leave_connection(struct channels *s, struct app *app,
                                const char *channel,
                                const char *connection_id);

/* A shared engine's connection taken over from another node: its members
 * on channel become this node's, in the owner's set as in the engine.
 * Fire and forget. */
void presence__adopt(struct channels *s, const char *app_id,
                     const char *channel, const char *connection_id);

/* Another node took connection_id over: its members leave this node's set
 * with no LEAVE (they live on there). Fire and forget. */
void presence__forget_connection(struct channels *s, const char *app_id,
                                 const char *channel,
                                 const char *connection_id);

/* Enters the app's presence fixtures (the "channels" of its POST /apps
 * body): recorded in presence history too when record is true (the app is
 * new), else only made members again (a restart). */
void presence__seed_fixtures(struct channels *s, struct app *app, bool record);

#endif
