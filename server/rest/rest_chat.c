/* rest_chat.c -- Ably Chat's REST API (version 4, as @ably/chat calls it)
 * on a room's channel "<room>::$chat": messages sent, read, updated and
 * deleted as that channel's mutable messages (changes.h, rest_history.c),
 * each answered in Chat's message shape, and the room's occupancy.
 *
 * A Chat message on the channel is {name: "chat.message", data: {text,
 * metadata} (JSON, as ably-js publishes it), extras: {headers}}, which is
 * what the SDK's realtime subscribers read. The REST shape is {serial,
 * clientId, text, metadata, headers, action: "message.create" | ".update" |
 * ".delete", timestamp (of the create), version: {serial, timestamp,
 * clientId, description, metadata}, reactions (rest_chat_reactions.c)}. */
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel/changes.h"
#include "channel/occupancy.h"
#include "channel_name.h"
#include "message_version.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

#define CHAT_MESSAGE_NAME "chat.message"

/* Path segments: /chat/v4/rooms/:room/messages/:serial/... (the serial's:
 * REST_CHAT_SEGMENT_SERIAL) */
#define SEGMENT_ROOM 3

int rest_chat__room(struct http_request *req, unsigned op,
                    struct channel_name *name, herald_error *err) {
  const char *room = req->segments[SEGMENT_ROOM];
  if (!*room || *room == '[')
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "Invalid room name '%.100s'", room);
  size_t size = strlen(room) + sizeof APPS_CHAT_ROOM_SUFFIX;
  char *raw = arena__alloc(&req->arena, size);
  memcpy(raw, room, strlen(room));
  memcpy(raw + strlen(room), APPS_CHAT_ROOM_SUFFIX,
         sizeof APPS_CHAT_ROOM_SUFFIX);
  return rest__named_channel(req, raw, op, name, err);
}

/* ---- The REST shape of a message ----------------------------------------- */

/* A message's data as Chat publishes it, a JSON object, or NULL. */
static json_t *chat_data(const struct message *m) {
  const struct payload *p = &m->payload;
  if (p->type != PAYLOAD_STRING || !p->encoding || strcmp(p->encoding, "json"))
    return NULL;
  json_t *data = json_loadb(p->data, p->len, 0, NULL);
  if (json_is_object(data)) return data;
  json_decref(data);
  return NULL;
}

static const char *action_name(int action) {
  switch (action) {
  case MESSAGE_UPDATE: return "message.update";
  case MESSAGE_DELETE: return "message.delete";
  default: return "message.create";
  }
}

/* Writes key: member of object (an object), or {} when it is none. */
static void write_object(struct wire_writer *w, const char *key,
                         const json_t *object, const char *member) {
  const json_t *v = json_object_get(object, member);
  wire_writer__key(w, key);
  if (json_is_object(v)) wire_writer__json(w, v);
  else wire_writer__map(w, 0);
}

/* The "version" member: the change's, or the create's own. */
static void write_version(const struct message *m, struct wire_writer *w) {
  if (m->version) {
    message_version__write(m, w);
    return;
  }
  wire_writer__key(w, "version");
  wire_writer__map(w, 2);
  wire_writer__kv_str(w, "serial", m->serial);
  wire_writer__kv_int(w, "timestamp", m->timestamp);
}

static void write_message(const struct message *m, struct wire_writer *w) {
  json_t *data = chat_data(m);
  const json_t *text = json_object_get(data, "text");
  const json_t *claim = json_object_get(m->extras, "userClaim");
  wire_writer__map(w, 9 + json_is_string(claim));
  wire_writer__kv_str(w, "serial", m->version ? m->version->of : m->serial);
  wire_writer__kv_str(w, "clientId", m->client_id ? m->client_id : "");
  wire_writer__key(w, "text");
  if (json_is_string(text))
    wire_writer__strn(w, json_string_value(text), json_string_length(text));
  else
    wire_writer__str(w, "");
  write_object(w, "metadata", data, "metadata");
  write_object(w, "headers", m->extras, "headers");
  if (json_is_string(claim))
    wire_writer__kv_str(w, "userClaim", json_string_value(claim));
  wire_writer__kv_str(w, "action", action_name(m->action));
  wire_writer__kv_int(w, "timestamp",
                      m->version ? m->version->created : m->timestamp);
  write_version(m, w);
  wire_writer__key(w, "reactions");
  rest_chat_reactions__write(m->summary, NULL, w);
  json_decref(data);
}

/* ---- Reading ------------------------------------------------------------- */

/* The base name of the room's channel if the request may read its
 * history (else answered): herald_xmalloc'd, or NULL. */
static char *readable_room(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  if (rest_chat__room(req, CAPABILITY_OP_HISTORY, &name, &err)) {
    reply__error(req, &err);
    return NULL;
  }
  return channel_name__base_dup(&name);
}

/* GET /chat/v4/rooms/:room/messages: newest first unless orderBy (and the
 * direction the SDK derives from it) says otherwise; fromSerial bounds
 * history before a subscription. */
void rest_chat__history(struct http_request *req) {
  char *channel = readable_room(req);
  if (!channel) return;
  rest_history__page(req, channel, STORE_VIEW_STREAM, NULL, "messages",
                     write_message);
  herald_free(channel);
}

/* GET /chat/v4/rooms/:room/messages/:serial */
void rest_chat__message(struct http_request *req) {
  char *channel = readable_room(req);
  if (!channel) return;
  rest_history__single(req, channel, req->segments[REST_CHAT_SEGMENT_SERIAL],
                       200, write_message);
  herald_free(channel);
}

/* GET /chat/v4/rooms/:room/messages/:serial/versions */
void rest_chat__versions(struct http_request *req) {
  char *channel = readable_room(req);
  if (!channel) return;
  rest_history__page(req, channel, STORE_VIEW_VERSIONS,
                     req->segments[REST_CHAT_SEGMENT_SERIAL], "versions",
                     write_message);
  herald_free(channel);
}

/* ---- Sending, updating, deleting ----------------------------------------- */

struct chat_publish {
  struct publish publish;
  struct http_request *req;
  int status; /* of the answer */
};

/* Answers with the message as it now is, read back: a send that repeats
 * an idempotencyKey gets the message the first one made. */
static void on_published(struct publish *p) {
  struct chat_publish *cp = (struct chat_publish *)p;
  if (p->rc)
    reply__error(cp->req, &p->err);
  else
    rest_history__single(cp->req, p->channel,
                         p->change.op ? p->change.op->version->of
                                      : p->serials[0],
                         cp->status, write_message);
  channel__publish_cleanup(p);
  herald_free(cp);
}

static int invalid(herald_error *err, const char *what) {
  return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid chat message: %s", what);
}

/* Member key of map, an object, into *out ({} when absent): 0 or -40003. */
static int read_object(struct wire_value map, const char *key, json_t **out,
                       herald_error *err) {
  struct wire_value v = wire_value__get(map, key);
  enum wire_kind kind = wire_value__kind(v);
  if (kind == WIRE_ABSENT || kind == WIRE_NIL) {
    *out = json_object();
    return 0;
  }
  if (kind != WIRE_MAP) return invalid(err, "metadata and headers are objects");
  *out = wire_value__to_json(v);
  return 0;
}

/* Headers are flat: their values are strings, numbers, booleans or null. */
static int check_headers(const json_t *headers, herald_error *err) {
  const char *key;
  const json_t *value;
  json_object_foreach((json_t *)headers, key, value) {
    if (json_is_object(value) || json_is_array(value))
      return invalid(err, "header values are strings, numbers or booleans");
  }
  return 0;
}

/* Chat's {text, metadata?, headers?} as the whole of m's data and extras. */
static int decode_content(struct wire_value map, struct message *m,
                          herald_error *err) {
  if (wire_value__kind(map) != WIRE_MAP) return invalid(err, "not an object");
  struct wire_value text = wire_value__get(map, "text");
  if (wire_value__kind(text) != WIRE_STR)
    return invalid(err, "text must be a string");
  json_t *metadata = NULL, *headers = NULL;
  int rc = read_object(map, "metadata", &metadata, err);
  if (!rc) rc = read_object(map, "headers", &headers, err);
  if (!rc) rc = check_headers(headers, err);
  size_t len;
  const char *s = wire_value__bytes(text, &len);
  json_t *data = json_object();
  json_object_set_new(data, "text", json_stringn(s, len));
  json_object_set(data, "metadata", metadata);
  if (!rc) rc = payload__set_json(&m->payload, data, err);
  json_decref(data);
  json_decref(metadata);
  if (!rc) m->extras = json_pack("{s:O}", "headers", headers);
  json_decref(headers);
  return rc;
}

int rest_chat__parse_body(struct http_request *req, struct wire_doc *doc,
                          herald_error *err) {
  int rc = req->body_len ? rest__parse_body(req, doc, err)
                         : wire_doc__parse(doc, WIRE_JSON, "{}", 2, err);
  if (!rc && wire_value__kind(wire_doc__root(doc)) != WIRE_MAP) {
    wire_doc__cleanup(doc);
    rc = herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                          "Invalid request body: not an object");
  }
  return rc;
}

/* p's one message, made from the request body by decode. */
static int decode_one(struct http_request *req, struct publish *p,
                      int (*decode)(struct http_request *req,
                                    struct wire_value body, struct message *m,
                                    herald_error *err),
                      herald_error *err) {
  struct wire_doc doc;
  int rc = rest_chat__parse_body(req, &doc, err);
  if (rc) return rc;
  p->messages = herald_xmalloc(sizeof *p->messages);
  p->messages[0] = message__new();
  p->count = 1;
  rc = decode(req, wire_doc__root(&doc), p->messages[0], err);
  wire_doc__cleanup(&doc);
  return rc;
}

/* A send: the message Chat publishes, with the idempotencyKey as its id
 * (the publish is then idempotent). */
static int decode_send(struct http_request *req, struct wire_value body,
                       struct message *m, herald_error *err) {
  m->name = herald_xstrdup(CHAT_MESSAGE_NAME);
  const char *key = http__param(req, "idempotencyKey");
  if (key) m->id = herald_xstrdup(key);
  return decode_content(body, m, err);
}

/* A change of the message the path names: its operation's details are
 * the body's description and metadata; an update replaces the text,
 * metadata and headers with the body's "message". */
static int decode_change(struct http_request *req, struct wire_value body,
                         struct message *m, int action, herald_error *err) {
  m->action = action;
  m->version = herald_xcalloc(1, sizeof *m->version);
  m->version->of = herald_xstrdup(req->segments[REST_CHAT_SEGMENT_SERIAL]);
  int rc = message_version__decode_operation(body, m->version, err);
  if (!rc && action == MESSAGE_UPDATE)
    rc = decode_content(wire_value__get(body, "message"), m, err);
  return rc;
}

static int decode_update(struct http_request *req, struct wire_value body,
                         struct message *m, herald_error *err) {
  return decode_change(req, body, m, MESSAGE_UPDATE, err);
}

static int decode_delete(struct http_request *req, struct wire_value body,
                         struct message *m, herald_error *err) {
  return decode_change(req, body, m, MESSAGE_DELETE, err);
}

/* Decodes, checks and starts one publish to the room's channel; answers
 * with `status` and the message as it then is. */
static void publish(struct http_request *req, bool change, int status,
                    int (*decode)(struct http_request *req,
                                  struct wire_value body, struct message *m,
                                  herald_error *err)) {
  herald_error err;
  struct channel_name name;
  struct chat_publish *cp = herald_xcalloc(1, sizeof *cp);
  struct publish *p = &cp->publish;
  cp->req = req;
  cp->status = status;
  /* a change's rights are the changes' own (changes__check) */
  int rc =
      rest_chat__room(req, change ? 0 : CAPABILITY_OP_PUBLISH, &name, &err);
  if (!rc) rc = decode_one(req, p, decode, &err);
  if (!rc && !change) {
    rc = rest_publish__check(req, p, &err);
  } else if (!rc) {
    char *base = channel_name__base_dup(&name);
    rc = changes__check(p, rest__auth(req), base,
                        (size_t)rest__context(req)->cfg->max_message_size,
                        &err);
    herald_free(base);
  }
  if (rc) {
    p->rc = rc;
    p->err = err;
    on_published(p);
    return;
  }
  rest_publish__start(req, p, &name, NULL, on_published);
}

/* POST /chat/v4/rooms/:room/messages */
void rest_chat__send(struct http_request *req) {
  publish(req, false, 201, decode_send);
}

/* PUT /chat/v4/rooms/:room/messages/:serial */
void rest_chat__update(struct http_request *req) {
  publish(req, true, 200, decode_update);
}

/* POST /chat/v4/rooms/:room/messages/:serial/delete */
void rest_chat__delete(struct http_request *req) {
  publish(req, true, 200, decode_delete);
}

/* ---- Occupancy ----------------------------------------------------------- */

struct chat_occupancy {
  struct occupancy_query query;
  struct http_request *req;
  char *channel;
};

static void on_occupancy(struct occupancy_query *q) {
  struct chat_occupancy *co = (struct chat_occupancy *)q;
  struct wire_writer w;
  reply__writer(co->req, &w);
  wire_writer__map(&w, 2);
  wire_writer__kv_int(&w, "connections", q->results[0].connections);
  wire_writer__kv_int(&w, "presenceMembers", q->results[0].presence_members);
  reply__send(co->req, 200, &w, NULL);
  occupancy__query_cleanup(q);
  herald_free(co->channel);
  herald_free(co);
}

/* GET /chat/v4/rooms/:room/occupancy */
void rest_chat__occupancy(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  if (rest_chat__room(req, CAPABILITY_OP_CHANNEL_METADATA, &name, &err)) {
    reply__error(req, &err);
    return;
  }
  struct chat_occupancy *co = herald_xcalloc(1, sizeof *co);
  co->req = req;
  co->channel = channel_name__base_dup(&name);
  rest_channels__count_occupancy(req, &co->query, &co->channel, 1,
                                 on_occupancy);
}
