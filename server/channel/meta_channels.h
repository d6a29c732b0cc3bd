/* meta_channels.h -- Ably's metachannels: "[meta]channel.lifecycle",
 * "[meta]connection.lifecycle" and "[meta]log" of each app.
 *
 * Their events are server-originated publishes through the ordinary
 * pipeline (channel.h): stamped by the meta channel's owner, stored in its
 * history (Ably lets one query a metachannel's history) and fanned out --
 * with a shared engine through its feed, so that every node's subscribers
 * get every node's events. Each event's data is JSON text with encoding
 * "json", as Ably sends it.
 *
 * A metachannel is subscribe-only: nobody may publish or enter presence
 * there, whatever the capability (Ably intersects every capability with
 * that), which is 40160. Matching the capability itself is capability.c's:
 * only a resource naming the [meta] (or [*]) qualifier matches. */
#ifndef HERALD_META_CHANNELS_H
#define HERALD_META_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel/channel.h"
#include "channel_name.h"
#include "protocol_message.h"

#define META_CHANNEL_LIFECYCLE "[meta]channel.lifecycle"
#define META_CONNECTION_LIFECYCLE "[meta]connection.lifecycle"
#define META_LOG "[meta]log"

/* The channel modes an attachment to a metachannel can have. */
#define META_CHANNEL_MODES (PM_FLAG_MODE_SUBSCRIBE | PM_FLAG_MODE_PRESENCE_SUBSCRIBE)

/* Whether a base name is a metachannel's ("[meta]..."). */
bool meta_channels__is_meta(const char *base, size_t len);

/* 0 for an ordinary channel; -40160 for a metachannel (publishing and
 * presence are refused there). `what`: "Publishing" or "Presence". */
int meta_channels__refuse_write(const struct channel_name *name,
                                const char *what, herald_error *err);

/* Publishes one message named `name` with JSON data (text of len bytes,
 * copied) to the app's metachannel `channel`, from worker__self(); a
 * failure is logged, never told anyone. Nothing once the process is
 * stopping (channel__stopping). */
void meta_channels__publish(struct channels *ch, struct app *app,
                            const char *channel, const char *name,
                            const char *json, size_t len);

/* The JSON document w (WIRE_JSON) wrote, as NUL-terminated text
 * (herald_xmalloc'd, *len bytes); w is cleaned up. */
char *meta_channels__json_text(struct wire_writer *w, size_t *len);

/* A realtime connection as [meta]connection.lifecycle tells of it. */
struct meta_connection {
  const char *connection_id;
  const char *client_id; /* or NULL */
  const char *transport; /* "web_socket", "comet", "sse", or NULL */
  int64_t duration_ms;   /* closed: how long it was open; below 0: none */
};

/* "connection.opened" or "connection.closed"; its data {connectionId[,
 * clientId][, transport][, duration]} as JSON text (herald_xmalloc'd). */
char *meta_channels__connection_json(const struct meta_connection *mc,
                                     size_t *len);
void meta_channels__connection(struct channels *ch, struct app *app,
                               bool opened, const struct meta_connection *mc);

/* An error of the app's that no client is told of otherwise, on its
 * [meta]log: a message named `name`, data {"error": ErrorInfo[,
 * "connectionId": connection_id]} (JSON text, herald_xmalloc'd). */
char *meta_channels__log_json(const herald_error *err,
                              const char *connection_id, size_t *len);
void meta_channels__log(struct channels *ch, struct app *app,
                        const char *name, const herald_error *err,
                        const char *connection_id);

#endif
