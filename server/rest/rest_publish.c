/* rest_publish.c -- the REST publish path: POST /channels/:channel/messages
 * (decode and check a publish, messages.md section 2, hand it to the
 * channel's owner, answer 201 {channel, messageId, serials} once it is
 * durable), PATCH /channels/:channel/messages/:serial (a change of that
 * message, changes.h: {serial, versionSerial}), and the steps batch
 * publish (rest_batch_publish.c) shares. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel/changes.h"
#include "channel/channel.h"
#include "channel/stats.h"
#include "channel_name.h"
#include "message_version.h"
#include "msgid.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

#define MAX_MESSAGES_PER_PUBLISH 1000
#define REST_CONNECTION_ID_LEN 10

struct rest_publish {
  struct publish publish;
  struct http_request *req;
  const char *channel_id; /* as requested, qualifier included (the
                             request's, which outlives the publish) */
  struct channel_name name;
  char *connection_key; /* the messages', or NULL */
};

int rest_publish__decode(struct wire_value body, struct publish *p,
                         herald_error *err) {
  return message__decode_list(body, MAX_MESSAGES_PER_PUBLISH, &p->messages,
                              &p->count, err);
}

int rest_publish__check(const struct http_request *req, struct publish *p,
                        herald_error *err) {
  return channel__check_publish(
      p, rest__auth(req), (size_t)rest__context(req)->cfg->max_message_size, err);
}

/* A REST publish is a connection of its own that sends one ProtocolMessage:
 * its messages get ids "<connectionId>:0:<index>", as Ably assigns them.
 * One on behalf of a realtime connection (on_behalf_of: its id) is that
 * connection's, with random ids. */
void rest_publish__start(struct http_request *req, struct publish *p,
                         const struct channel_name *name,
                         const char *on_behalf_of,
                         void (*done)(struct publish *p)) {
  char connection_id[REST_CONNECTION_ID_LEN + 1];
  msgid__random(connection_id, REST_CONNECTION_ID_LEN);
  struct publisher from = {.channels = rest__context(req)->channels,
                           .origin = req->worker,
                           .app = rest__auth(req)->app,
                           .connection_id = on_behalf_of ? on_behalf_of
                                                         : connection_id,
                           .msg_serial = on_behalf_of ? -1 : 0};
  channel__publish_init(p, &from, channel_name__base_dup(name), done);
  channel__publish(p);
}

/* The messages' connectionKey (one for them all) into *key
 * (herald_xmalloc'd; NULL: none): 0, or -40006. */
static int connection_key_of(struct wire_value body, size_t count, char **key,
                             herald_error *err) {
  bool is_array = wire_value__kind(body) == WIRE_ARRAY;
  for (size_t i = 0; i < count; i++) {
    struct wire_value k = wire_value__get(is_array ? wire_value__at(body, i) : body,
                                          "connectionKey");
    enum wire_kind kind = wire_value__kind(k);
    if (kind == WIRE_ABSENT || kind == WIRE_NIL) continue;
    size_t len;
    const char *s = wire_value__bytes(k, &len);
    if (kind != WIRE_STR || memchr(s, '\0', len) ||
        (*key && (strlen(*key) != len || memcmp(s, *key, len))))
      return herald_error_set(err, HERALD_E_INVALID_CONNECTION_ID,
                              "Malformed message; invalid connectionKey");
    if (!*key) *key = herald_xstrndup(s, len);
  }
  return 0;
}

static int decode_body(struct http_request *req, struct rest_publish *rp,
                       herald_error *err) {
  struct wire_doc doc;
  int rc = rest__parse_body(req, &doc, err);
  if (rc) return rc;
  struct publish *p = &rp->publish;
  rc = rest_publish__decode(wire_doc__root(&doc), p, err);
  if (!rc) rc = rest_publish__check(req, p, err);
  if (!rc)
    rc = connection_key_of(wire_doc__root(&doc), p->count, &rp->connection_key,
                           err);
  wire_doc__cleanup(&doc);
  return rc;
}

/* {serial, versionSerial} of a change. */
static void reply_changed(struct http_request *req, const struct publish *p) {
  struct wire_writer w;
  reply__writer(req, &w);
  wire_writer__map(&w, 2);
  wire_writer__kv_str(&w, "serial", p->change.op->version->of);
  wire_writer__kv_str(&w, "versionSerial", p->serials[0]);
  reply__send(req, 200, &w, NULL);
}

static void on_published(struct publish *p) {
  struct rest_publish *rp = (struct rest_publish *)p;
  struct http_request *req = rp->req;
  stats__published(p, METRIC_REST);
  if (p->rc) {
    reply__error(req, &p->err);
  } else if (p->change.op) {
    reply_changed(req, p);
  } else {
    struct wire_writer w;
    reply__writer(req, &w);
    wire_writer__map(&w, 3);
    wire_writer__kv_str(&w, "channel", rp->channel_id);
    wire_writer__kv_str(&w, "messageId", p->message_id);
    wire_writer__key(&w, "serials");
    wire_writer__array(&w, p->n_serials);
    for (size_t i = 0; i < p->n_serials; i++) wire_writer__str(&w, p->serials[i]);
    reply__send(req, 201, &w, NULL);
  }
  channel__publish_cleanup(p);
  herald_free(rp->connection_key);
  herald_free(rp);
}

/* Answers rp with err before its publish started. */
static void refuse(struct rest_publish *rp, const herald_error *err) {
  rp->publish.rc = -err->code;
  rp->publish.err = *err;
  on_published(&rp->publish);
}

/* The connection the messages speak for is known (id), or they may not
 * (err). */
static void on_resolved(void *arg, const char *id, const herald_error *err) {
  struct rest_publish *rp = arg;
  if (id) rest_publish__start(rp->req, &rp->publish, &rp->name, id, on_published);
  else refuse(rp, err);
}

/* POST /channels/:channel/messages */
void rest_publish__post(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  int rc = rest__channel(req, 1, CAPABILITY_OP_PUBLISH, &name, &err);
  const char *force_nack = http__param(req, "_forceNack");
  if (!rc && force_nack && !strcmp(force_nack, "true"))
    rc = herald_error_set(&err, HERALD_E_FORCED_NACK,
                          "Forced nack requested by _forceNack");
  struct rest_publish *rp = herald_xcalloc(1, sizeof *rp);
  struct publish *p = &rp->publish;
  rp->req = req;
  rp->channel_id = req->segments[1];
  if (!rc) rc = decode_body(req, rp, &err);
  if (rc) {
    refuse(rp, &err);
    return;
  }
  const char *ephemeral = http__param(req, "ephemeral");
  rp->name = name;
  p->ephemeral = ephemeral && !strcmp(ephemeral, "true");
  if (!rp->connection_key) {
    rest_publish__start(req, p, &name, NULL, on_published);
    return;
  }
  const struct connection_keys *keys = &rest__context(req)->connections;
  keys->resolve(keys->ctx, rp->connection_key, rest__auth(req),
                p->messages[0]->client_id, on_resolved, rp);
}

/* The change a PATCH body describes (one Message) of the message the path
 * names, checked: 0 or a negative Ably code. */
static int decode_change(struct http_request *req, struct publish *p,
                         const char *channel, herald_error *err) {
  struct wire_doc doc;
  int rc = rest__parse_body(req, &doc, err);
  if (rc) return rc;
  struct message *m = NULL;
  rc = message__decode(wire_doc__root(&doc), &m, err);
  wire_doc__cleanup(&doc);
  const char *serial = req->segments[3];
  if (!rc && !message_version__is_change(m))
    rc = herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "A message's action must be update (1), delete (2) "
                          "or append (5)");
  else if (!rc && strcmp(m->version->of, serial))
    rc = herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "The message's serial is not the one in the path");
  if (m) {
    p->messages = herald_xmalloc(sizeof *p->messages);
    p->messages[0] = m;
    p->count = 1;
  }
  if (!rc)
    rc = changes__check(p, rest__auth(req), channel,
                        (size_t)rest__context(req)->cfg->max_message_size, err);
  return rc;
}

/* PATCH /channels/:channel/messages/:serial */
void rest_publish__patch(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  struct rest_publish *rp = herald_xcalloc(1, sizeof *rp);
  rp->req = req;
  rp->channel_id = req->segments[1];
  int rc = rest__channel(req, 1, 0, &name, &err);
  char *base = rc ? NULL : channel_name__base_dup(&name);
  if (!rc) rc = decode_change(req, &rp->publish, base, &err);
  herald_free(base);
  if (rc) refuse(rp, &err);
  else rest_publish__start(req, &rp->publish, &name, NULL, on_published);
}
