/* meta_channels.c -- server-originated events on an app's metachannels,
 * and the rule that they are subscribe-only (see meta_channels.h).
 * Owns: each event's publish until it completed. */
#include "channel/meta_channels.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "core/log.h"
#include "message.h"
#include "msgid.h"

#define META_PREFIX "[meta]"
#define CONNECTION_ID_LEN 10

bool meta_channels__is_meta(const char *base, size_t len) {
  size_t n = strlen(META_PREFIX);
  return len >= n && memcmp(base, META_PREFIX, n) == 0;
}

int meta_channels__refuse_write(const struct channel_name *name,
                                const char *what, herald_error *err) {
  if (!name->is_meta) return 0;
  return herald_error_set(err, HERALD_E_CAPABILITY_DENIED,
                          "%s is not permitted on a metachannel", what);
}

/* ---- Publishing ------------------------------------------------------------ */

static void on_published(struct publish *p) {
  if (p->rc)
    log_warn("%s of app %s: event not published: %s", p->channel, p->app->id,
             p->err.message);
  apps__release(p->app);
  channel__publish_cleanup(p);
  herald_free(p);
}

void meta_channels__publish(struct channels *ch, struct app *app,
                            const char *channel, const char *name,
                            const char *json, size_t len) {
  if (channel__stopping(ch)) return; /* a stopping node announces nothing */
  /* The event is a connection of its own that sends one message, as a
   * REST publish is: ids "<connectionId>:0:0". */
  char connection_id[CONNECTION_ID_LEN + 1];
  msgid__random(connection_id, CONNECTION_ID_LEN);
  struct message *m = message__new();
  m->name = herald_xstrdup(name);
  m->payload.type = PAYLOAD_STRING;
  m->payload.data = herald_xstrndup(json, len);
  m->payload.len = len;
  m->payload.encoding = herald_xstrdup("json");
  struct publish *p = herald_xcalloc(1, sizeof *p);
  p->messages = herald_xmalloc(sizeof *p->messages);
  p->messages[0] = m;
  p->count = 1;
  struct publisher from = {.channels = ch,
                           .origin = worker__self(),
                           .app = apps__retain(app),
                           .connection_id = connection_id,
                           .msg_serial = 0};
  channel__publish_init(p, &from, herald_xstrdup(channel), on_published);
  channel__publish(p);
}

char *meta_channels__json_text(struct wire_writer *w, size_t *len) {
  char *raw = wire_writer__finish(w, len);
  if (!raw) abort(); /* the events' writers always write one document */
  char *text = herald_xstrndup(raw, *len);
  herald_free(raw);
  wire_writer__cleanup(w);
  return text;
}

/* ---- [meta]connection.lifecycle ------------------------------------------------ */

char *meta_channels__connection_json(const struct meta_connection *mc,
                                     size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__map(&w, 1 + (mc->client_id != NULL) + (mc->transport != NULL) +
                          (mc->duration_ms >= 0));
  wire_writer__kv_str(&w, "connectionId", mc->connection_id);
  if (mc->client_id) wire_writer__kv_str(&w, "clientId", mc->client_id);
  if (mc->transport) wire_writer__kv_str(&w, "transport", mc->transport);
  if (mc->duration_ms >= 0) wire_writer__kv_int(&w, "duration", mc->duration_ms);
  return meta_channels__json_text(&w, len);
}

void meta_channels__connection(struct channels *ch, struct app *app,
                               bool opened, const struct meta_connection *mc) {
  size_t len;
  char *json = meta_channels__connection_json(mc, &len);
  meta_channels__publish(ch, app, META_CONNECTION_LIFECYCLE,
                         opened ? "connection.opened" : "connection.closed",
                         json, len);
  herald_free(json);
}

/* ---- [meta]log --------------------------------------------------------------------- */

char *meta_channels__log_json(const herald_error *err,
                              const char *connection_id, size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  wire_writer__map(&w, 1 + (connection_id != NULL));
  wire_writer__key(&w, "error");
  wire_writer__error_info(&w, err);
  if (connection_id) wire_writer__kv_str(&w, "connectionId", connection_id);
  return meta_channels__json_text(&w, len);
}

void meta_channels__log(struct channels *ch, struct app *app,
                        const char *name, const herald_error *err,
                        const char *connection_id) {
  size_t len;
  char *json = meta_channels__log_json(err, connection_id, &len);
  meta_channels__publish(ch, app, META_LOG, name, json, len);
  herald_free(json);
}
