/* rest_chat_reactions.c -- Ably Chat's message reactions (REST v4) on a
 * room's channel: POST and DELETE /chat/v4/rooms/:room/messages/:serial/
 * reactions are annotations (annotations.h) by the caller of the types
 * reaction:unique.v1, reaction:distinct.v1 and reaction:multiple.v1, and
 * GET .../client-reactions is what one client's reactions are in the
 * message's summary. Chat reads a message's reactions as {unique,
 * distinct, multiple}: the summary's entries of those three types. */
#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "capability.h"
#include "channel/annotations.h"
#include "channel_name.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

/* Chat's reaction types and their annotation types. */
static const struct {
  const char *name;
  const char *type;
} types[] = {{"unique", "reaction:unique.v1"},
             {"distinct", "reaction:distinct.v1"},
             {"multiple", "reaction:multiple.v1"}};
#define N_TYPES (sizeof types / sizeof types[0])
#define DEFAULT_TYPE "distinct" /* the SDK's */

/* The annotation type of a reaction type as Chat names it ("unique"), or
 * as the annotation's ("reaction:unique.v1"); NULL for another. */
static const char *annotation_type(const char *given) {
  for (size_t i = 0; i < N_TYPES; i++)
    if (!strcmp(given, types[i].name) || !strcmp(given, types[i].type))
      return types[i].type;
  return NULL;
}

/* ---- A message's reactions ----------------------------------------------- */

/* The entries of by_name (a type's summary: name -> entry) client is in,
 * each with client alone in its clientIds (a list, or counts). */
static json_t *client_entries(const json_t *by_name, const char *client) {
  json_t *out = json_object();
  const char *name;
  json_t *entry;
  json_object_foreach((json_t *)by_name, name, entry) {
    json_t *ids = json_object_get(entry, "clientIds");
    json_t *mine = NULL;
    if (json_is_object(ids) && json_object_get(ids, client)) {
      mine = json_pack("{s:O}", client, json_object_get(ids, client));
    } else if (json_is_array(ids)) {
      size_t i;
      json_t *id;
      json_array_foreach(ids, i, id)
        if (json_is_string(id) && !strcmp(json_string_value(id), client))
          mine = json_pack("[s]", client);
    }
    if (!mine) continue;
    json_t *copy = json_copy(entry);
    json_object_set_new(copy, "clientIds", mine);
    json_object_set_new(copy, "clipped", json_false());
    json_object_set_new(out, name, copy);
  }
  return out;
}

void rest_chat_reactions__write(const json_t *summary, const char *client,
                                struct wire_writer *w) {
  wire_writer__map(w, N_TYPES);
  for (size_t i = 0; i < N_TYPES; i++) {
    json_t *by_name = json_object_get(summary, types[i].type);
    json_t *entries = !json_is_object(by_name) ? json_object()
                      : client ? client_entries(by_name, client)
                               : json_incref(by_name);
    wire_writer__key(w, types[i].name);
    wire_writer__json(w, entries);
    json_decref(entries);
  }
}

/* ---- Sending and deleting ------------------------------------------------ */

struct chat_reaction {
  struct publish publish;
  struct http_request *req;
  int status; /* of the answer */
};

/* Answers with the annotation's serial. */
static void on_published(struct publish *p) {
  struct chat_reaction *cr = (struct chat_reaction *)p;
  if (p->rc) {
    reply__error(cr->req, &p->err);
  } else {
    struct wire_writer w;
    reply__writer(cr->req, &w);
    wire_writer__map(&w, 1);
    wire_writer__kv_str(&w, "serial", p->serials[0]);
    reply__send(cr->req, cr->status, &w, NULL);
  }
  channel__publish_cleanup(p);
  herald_free(cr);
}

/* What a reaction is: its action, Chat type, name and count (0: none). */
struct reaction {
  int action;
  const char *type;
  const char *name; /* NULL: none */
  int64_t count;
};

static int invalid(herald_error *err, const char *what) {
  return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "Invalid message reaction: %s", what);
}

/* p's one annotation, of the message the path names, by r. */
static int annotate(struct http_request *req, const struct reaction *r,
                    struct publish *p, herald_error *err) {
  const char *type = annotation_type(r->type);
  if (!type) return invalid(err, "type must be unique, distinct or multiple");
  struct message *m = message__new();
  m->action = r->action;
  m->name = r->name ? herald_xstrdup(r->name) : NULL;
  struct annotation *a = m->annotation = herald_xcalloc(1, sizeof *a);
  a->type = herald_xstrdup(type);
  a->message_serial = herald_xstrdup(req->segments[REST_CHAT_SEGMENT_SERIAL]);
  a->has_count = r->count > 0;
  a->count = a->has_count ? r->count : 1;
  p->messages = herald_xmalloc(sizeof *p->messages);
  p->messages[0] = m;
  p->count = 1;
  return 0;
}

/* Checks and starts the annotation r of the message the path names, or
 * refuses it with err when rc (an error found before) is not 0; answers
 * with `status`. */
static void react(struct http_request *req, const struct reaction *r,
                  int rc, herald_error *err, int status) {
  struct chat_reaction *cr = herald_xcalloc(1, sizeof *cr);
  struct publish *p = &cr->publish;
  cr->req = req;
  cr->status = status;
  struct channel_name name;
  /* the rights are annotations__check's (annotation-publish) */
  if (!rc) rc = rest_chat__room(req, 0, &name, err);
  if (!rc) rc = annotate(req, r, p, err);
  if (!rc) {
    char *base = channel_name__base_dup(&name);
    rc = annotations__check(p, rest__auth(req), base,
                            (size_t)rest__context(req)->cfg->max_message_size,
                            err);
    herald_free(base);
  }
  if (rc) {
    p->rc = rc;
    p->err = *err;
    on_published(p);
    return;
  }
  rest_publish__start(req, p, &name, NULL, on_published);
}

/* Reads a string member into the request's arena (*out left alone when
 * absent): 0 or -40003. */
static int read_string(struct http_request *req, struct wire_value body,
                       const char *key, const char **out, herald_error *err) {
  struct wire_value v = wire_value__get(body, key);
  enum wire_kind kind = wire_value__kind(v);
  if (kind == WIRE_ABSENT || kind == WIRE_NIL) return 0;
  size_t len;
  const char *s = wire_value__bytes(v, &len);
  if (kind != WIRE_STR || memchr(s, '\0', len))
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid message reaction: %s must be a string",
                            key);
  char *copy = arena__alloc(&req->arena, len + 1);
  memcpy(copy, s, len);
  copy[len] = '\0';
  *out = copy;
  return 0;
}

/* The body's {type, name, count}. */
static int decode_reaction(struct http_request *req, struct wire_value body,
                           struct reaction *r, herald_error *err) {
  int rc = read_string(req, body, "type", &r->type, err);
  if (!rc) rc = read_string(req, body, "name", &r->name, err);
  struct wire_value count = wire_value__get(body, "count");
  enum wire_kind kind = wire_value__kind(count);
  if (!rc && kind != WIRE_ABSENT && kind != WIRE_NIL &&
      (!wire_value__int(count, &r->count) || r->count < 1))
    rc = invalid(err, "count must be a positive integer");
  return rc;
}

/* POST /chat/v4/rooms/:room/messages/:serial/reactions: body {type, name,
 * count}; 201 {serial} of the annotation. */
void rest_chat_reactions__send(struct http_request *req) {
  herald_error err;
  struct wire_doc doc;
  struct reaction r = {.action = ANNOTATION_CREATE, .type = DEFAULT_TYPE};
  int rc = rest_chat__parse_body(req, &doc, &err);
  if (!rc) {
    rc = decode_reaction(req, wire_doc__root(&doc), &r, &err);
    wire_doc__cleanup(&doc);
  }
  react(req, &r, rc, &err, 201);
}

/* DELETE /chat/v4/rooms/:room/messages/:serial/reactions?type=&name=
 * (unique: no name, the caller's one reaction); 200 {serial}. */
void rest_chat_reactions__delete(struct http_request *req) {
  herald_error err;
  const char *type = http__param(req, "type");
  struct reaction r = {.action = ANNOTATION_DELETE,
                       .type = type ? type : DEFAULT_TYPE,
                       .name = http__param(req, "name")};
  react(req, &r, 0, &err, 200);
}

/* ---- One client's reactions ---------------------------------------------- */

struct client_reactions {
  struct store_history query;
  struct http_request *req;
  char *channel;
  char *of;
  const char *client_id; /* NULL: none, so no reactions */
};

static void on_read(struct store_req *sreq) {
  struct client_reactions *cr = (struct client_reactions *)sreq;
  struct store_history *h = &cr->query;
  herald_error err;
  if (sreq->rc) {
    reply__error(cr->req, &sreq->err);
  } else if (!h->count) {
    herald_error_set(&err, HERALD_E_NOT_FOUND, "Could not find message %s",
                     h->of);
    reply__error(cr->req, &err);
  } else {
    struct wire_writer w;
    reply__writer(cr->req, &w);
    rest_chat_reactions__write(cr->client_id ? h->messages[0]->summary : NULL,
                               cr->client_id, &w);
    reply__send(cr->req, 200, &w, NULL);
  }
  store__history_cleanup(h);
  herald_free(cr->channel);
  herald_free(cr->of);
  herald_free(cr);
}

/* GET /chat/v4/rooms/:room/messages/:serial/client-reactions?forClientId=
 * (default: the caller) */
void rest_chat_reactions__client(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  if (rest_chat__room(req, CAPABILITY_OP_HISTORY, &name, &err)) {
    reply__error(req, &err);
    return;
  }
  struct client_reactions *cr = herald_xcalloc(1, sizeof *cr);
  const char *client = http__param(req, "forClientId");
  const char *own = rest__auth(req)->client_id;
  cr->req = req;
  cr->client_id = client ? client : own && strcmp(own, "*") ? own : NULL;
  cr->channel = channel_name__base_dup(&name);
  cr->of = herald_xstrdup(req->segments[REST_CHAT_SEGMENT_SERIAL]);
  struct store_history *h = &cr->query;
  h->req.origin = req->worker;
  h->req.done = on_read;
  h->app_id = rest__auth(req)->app->id;
  h->channel = cr->channel;
  h->stream = STORE_MESSAGES;
  h->view = STORE_VIEW_LATEST;
  h->of = cr->of;
  h->end = INT64_MAX;
  h->direction = STORE_BACKWARDS;
  h->limit = 1;
  store__history(rest__context(req)->store, h);
}
