/* rest_annotations.c -- POST /channels/:channel/messages/:serial/annotations:
 * one annotation (a map, or an array of one, as ably-js sends it) of the
 * message the path names, created or deleted by its action, through the
 * channel's owner (annotations.h); 201 {serial} once stored. The page of
 * a message's annotations (GET) is a history (rest_history.c). */
#include <string.h>

#include "alloc.h"
#include "annotation.h"
#include "channel/annotations.h"
#include "channel/channel.h"
#include "channel_name.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

#define MAX_ANNOTATIONS_PER_PUBLISH 1 /* annotations__check's rule */

struct rest_annotation {
  struct publish publish;
  struct http_request *req;
};

static void on_published(struct publish *p) {
  struct rest_annotation *ra = (struct rest_annotation *)p;
  struct http_request *req = ra->req;
  if (p->rc) {
    reply__error(req, &p->err);
  } else {
    struct wire_writer w;
    reply__writer(req, &w);
    wire_writer__map(&w, 1);
    wire_writer__kv_str(&w, "serial", p->serials[0]);
    reply__send(req, 201, &w, NULL);
  }
  channel__publish_cleanup(p);
  herald_free(ra);
}

/* The body's annotation, of the message the path names (a messageSerial
 * it gives must be that one): 0 or a negative Ably code. */
static int decode_body(struct http_request *req, struct publish *p,
                       herald_error *err) {
  struct wire_doc doc;
  int rc = rest__parse_body(req, &doc, err);
  if (rc) return rc;
  struct wire_value body = wire_doc__root(&doc);
  rc = message__decode_list_of(body, MAX_ANNOTATIONS_PER_PUBLISH,
                               annotation__decode, &p->messages, &p->count,
                               err);
  wire_doc__cleanup(&doc);
  if (!rc && strcmp(p->messages[0]->annotation->message_serial,
                    req->segments[3]))
    rc = herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                          "The annotation's messageSerial is not the one in "
                          "the path");
  return rc;
}

/* POST /channels/:channel/messages/:serial/annotations */
void rest_annotations__post(struct http_request *req) {
  herald_error err;
  struct channel_name name;
  struct rest_annotation *ra = herald_xcalloc(1, sizeof *ra);
  struct publish *p = &ra->publish;
  ra->req = req;
  int rc = rest__channel(req, 1, 0, &name, &err);
  char *base = rc ? NULL : channel_name__base_dup(&name);
  if (!rc) rc = decode_body(req, p, &err);
  if (!rc)
    rc = annotations__check(p, rest__auth(req), base,
                            (size_t)rest__context(req)->cfg->max_message_size,
                            &err);
  herald_free(base);
  if (rc) {
    p->rc = -err.code;
    p->err = err;
    on_published(p);
    return;
  }
  rest_publish__start(req, p, &name, NULL, on_published);
}
