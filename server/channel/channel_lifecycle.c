/* channel_lifecycle.c -- channels opening and closing (see
 * channel_lifecycle.h). */
#include "channel/channel_lifecycle.h"

#include <string.h>

#include "alloc.h"
#include "channel/meta_channels.h"
#include "channel/occupancy.h"
#include "channel/stats.h"
#include "channel/webhooks.h"

enum lifecycle_event channel_lifecycle__step(struct channel_lifecycle *l,
                                             long here, long others,
                                             bool local, bool known) {
  if (local) l->local_pending = true;
  if (!known) return LIFECYCLE_NONE;
  if (!l->known) { /* what the others made of it before this node came */
    l->known = true;
    l->open = others > 0;
  }
  bool ours = l->local_pending, open = here + others > 0;
  l->local_pending = false;
  if (open == l->open) return LIFECYCLE_NONE;
  l->open = open;
  if (!ours) return LIFECYCLE_NONE;
  return open ? LIFECYCLE_OPENED : LIFECYCLE_CLOSED;
}

char *channel_lifecycle__details_json(const char *channel, bool open,
                                      const struct occupancy *o, size_t *len) {
  struct wire_writer w;
  wire_writer__init(&w, WIRE_JSON);
  occupancy__write_details(&w, channel, open, o);
  return meta_channels__json_text(&w, len);
}

void channel_lifecycle__announce(struct channels *ch, const char *key,
                                 size_t key_len, const struct occupancy *o,
                                 enum lifecycle_event e) {
  const char *newline = memchr(key, '\n', key_len);
  const char *channel = newline + 1;
  if (e == LIFECYCLE_NONE ||
      meta_channels__is_meta(channel, key_len - (size_t)(channel - key)))
    return;
  char *app_id = herald_xstrndup(key, (size_t)(newline - key));
  struct app *app = apps__find(ch->apps, app_id);
  herald_free(app_id);
  if (!app) return;
  bool open = e == LIFECYCLE_OPENED;
  stats__channel(app, open);
  size_t len;
  char *json = channel_lifecycle__details_json(channel, open, o, &len);
  meta_channels__publish(ch, app, META_CHANNEL_LIFECYCLE,
                         open ? "channel.opened" : "channel.closed", json,
                         len);
  json_t *details = json_loadb(json, len, 0, NULL);
  webhooks__channel_event(ch->webhooks, app->id, channel, WEBHOOK_LIFECYCLE,
                          open ? "channel.opened" : "channel.closed",
                          json_object_get(details, "status"));
  json_decref(details);
  herald_free(json);
  apps__release(app);
}
