/* webhook_payload.h -- the HTTP requests of a webhook rule, as Ably sends
 * them: the body (batched, single enveloped, or a message's data alone),
 * its headers, and its signature.
 *
 * Batched: {"items": [{webhookId, source, serial, timestamp, name,
 *   data: {channelId, site, messages | presence | status}}]} with
 *   x-ably-version. Single enveloped: {source, appId, channel, site, ruleId,
 *   messages | presence | (name, status)}. Single non-enveloped (messages
 *   only): the message's data as the body, the envelope in X-Ably-Envelope-*
 *   headers and the message's fields in X-Ably-Message-* headers.
 * Signed requests carry X-Ably-Key (the key's name) and X-Ably-Signature,
 * base64(HMAC-SHA256(body, the key's secret)). */
#ifndef HERALD_WEBHOOK_PAYLOAD_H
#define HERALD_WEBHOOK_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "webhook_rule.h"
#include "wire.h"

#define WEBHOOK_SITE "herald"
#define WEBHOOK_VERSION "1.2"

struct webhook_keeper;

/* One event for one rule. `items` is one value encoded in the rule's
 * format: the messages or presence messages (an array), or a lifecycle or
 * occupancy event's status (a map). A message event also keeps its first
 * message's fields for non-enveloped requests. */
struct webhook_event {
  enum webhook_source source;
  char *channel;
  char *name; /* channel.message, presence.message, channel.opened, ... */
  char *serial;
  int64_t timestamp;
  int64_t queued_ms; /* when it was queued (the queue's clock; not sent) */
  /* what keeps it stored until delivered (the server's; not sent), or
   * NULL */
  struct webhook_keeper *keeper;
  char *items;
  size_t items_len;
  struct webhook_bare {
    char *id, *client_id, *connection_id, *encoding, *name;
    char *data; /* text or bytes as the message holds them */
    size_t data_len;
  } bare;
};

void webhook_payload__event_free(struct webhook_event *e);

/* An event as JSON text to keep (herald_xmalloc'd; queued_ms is not kept),
 * and back: NULL when text is no such event. */
char *webhook_payload__event_json(const struct webhook_event *e);
struct webhook_event *webhook_payload__event_parse(const char *text);

/* One request: body and header lines ("Name: value"). */
struct webhook_request {
  char *body;
  size_t len;
  char **headers;
  size_t n_headers;
};

/* Builds the request for events[0..n) of rule r of app_id (n is 1 for a
 * single rule); signs it when secret is not NULL. */
void webhook_payload__build(const struct webhook_rule *r, const char *app_id,
                            struct webhook_event *const *events, size_t n,
                            const char *secret, struct webhook_request *out);
void webhook_payload__request_cleanup(struct webhook_request *req);

/* base64(HMAC-SHA256(body, secret)), herald_xmalloc'd. */
char *webhook_payload__signature(const char *secret, const void *body,
                                 size_t len);

#endif
