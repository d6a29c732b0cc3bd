/* rest.h -- the REST handlers, one file per resource (rest_*.c). Each
 * serves one route of router.c and has one shape: parse, authorise, act,
 * reply. */
#ifndef HERALD_REST_H
#define HERALD_REST_H

#include <stddef.h>

#include "auth/apps.h"
#include "auth/auth.h"
#include "auth/nonce_cache.h"
#include "channel/channel.h"
#include "core/config.h"
#include "herald/errors.h"
#include "store/store.h"
#include "wire.h"

struct http_request;
struct channel_name;
struct publish;
struct hashmap;
struct occupancy_query;

void rest_time__get(struct http_request *req);
void rest_publish__post(struct http_request *req);
void rest_publish__patch(struct http_request *req);
void rest_batch_publish__post(struct http_request *req);
void rest_batch_presence__get(struct http_request *req);
void rest_history__get(struct http_request *req);
void rest_history__presence(struct http_request *req);
void rest_history__message(struct http_request *req);
void rest_history__versions(struct http_request *req);
void rest_history__annotations(struct http_request *req);
void rest_annotations__post(struct http_request *req);
void rest_presence__get(struct http_request *req);
void rest_channels__status(struct http_request *req);
void rest_channels__list(struct http_request *req);
void rest_chat__send(struct http_request *req);
void rest_chat__history(struct http_request *req);
void rest_chat__message(struct http_request *req);
void rest_chat__update(struct http_request *req);
void rest_chat__delete(struct http_request *req);
void rest_chat__versions(struct http_request *req);
void rest_chat__occupancy(struct http_request *req);
void rest_chat_reactions__send(struct http_request *req);
void rest_chat_reactions__delete(struct http_request *req);
void rest_chat_reactions__client(struct http_request *req);
void rest_tokens__request(struct http_request *req);
void rest_tokens__revoke(struct http_request *req);
/* Whether the key /keys/:key/... names exists: 0, or -40400 (404), which a
 * request gets whatever its method. */
int rest_tokens__key_exists(struct http_request *req, herald_error *err);
void rest_stats__get(struct http_request *req);
void rest_stats__post(struct http_request *req);
/* GET /metrics (Prometheus text), /healthz and /readyz (rest_metrics.c). */
void rest_metrics__get(struct http_request *req);
void rest_metrics__healthz(struct http_request *req);
void rest_metrics__readyz(struct http_request *req);
void rest_apps__list(struct http_request *req);
void rest_apps__create(struct http_request *req);
void rest_apps__delete(struct http_request *req);
/* Who may delete app_id or change its rules: the admin key; in sandbox
 * mode also a key of that app with full capability, as SDK test suites
 * delete their apps. Never a token: tokens are handed to untrusted
 * clients. */
bool rest_apps__may_administer(struct http_request *req, const char *app_id);
/* Webhook rules (rest_rules.c): POST, GET /apps/:app/rules, GET and
 * DELETE /apps/:app/rules/:id. */
void rest_rules__create(struct http_request *req);
void rest_rules__list(struct http_request *req);
void rest_rules__get(struct http_request *req);
void rest_rules__delete(struct http_request *req);
/* The web console's page and files (rest_console.c). */
void rest_console__page(struct http_request *req);
void rest_console__file(struct http_request *req);

/* Realtime connections a REST publish may speak for (a message's
 * connectionKey): done gets the id of the connection with that key (on
 * this node or, with a shared engine, another), if the publisher's
 * credentials and the message's clientId (or NULL) may speak for it, or
 * NULL with err (40006, 50005). done runs on the calling worker, maybe
 * before resolve returns. */
typedef void (*connection_key_fn)(void *arg, const char *id,
                                  const herald_error *err);
struct connection_keys {
  void (*resolve)(void *ctx, const char *key, const struct auth *auth,
                  const char *client_id, connection_key_fn done, void *arg);
  void *ctx;
};

/* What the REST layer needs of the process (server.c makes it). */
struct rest {
  const struct config *cfg;
  struct apps *apps;
  struct store *store;
  struct nonce_cache *nonces; /* of signed TokenRequests */
  struct channels *channels;
  struct connection_keys connections;
  int port; /* the bound port, for the apps' connection details */
};

/* Hands req to the REST layer (before its handler or precheck runs):
 * req->data records r and the request's credentials, empty until
 * authenticated (rest__auth); rest__end releases them when it ends. */
void rest__begin(struct rest *r, struct http_request *req);
void rest__end(struct http_request *req);

/* The REST layer a request was handed to, and the request's credentials. */
struct rest *rest__context(const struct http_request *req);
struct auth *rest__auth(const struct http_request *req);

/* Whether req carries Authorization: Bearer <secret> (secret NULL: no). */
bool rest__bearer_is(const struct http_request *req, const char *secret);

/* Parses the channel named by path segment i and checks `op` on it.
 * Returns 0 with *name filled, or a negative code with err set. */
int rest__channel(struct http_request *req, size_t i, unsigned op,
                  struct channel_name *name, herald_error *err);

/* The same for a channel named in the request's body or query: raw is the
 * name as requested, and *name views into it. */
int rest__named_channel(const struct http_request *req, const char *raw,
                        unsigned op, struct channel_name *name,
                        herald_error *err);

/* Parses the request body in the format its Content-Type names (JSON
 * when absent or text/plain). 0, or -40001 with err set. */
int rest__parse_body(const struct http_request *req, struct wire_doc *doc,
                     herald_error *err);

/* Batch requests (POST /messages, GET /presence) address at most this
 * many distinct channels (seed 002). */
#define REST_BATCH_MAX_CHANNELS 100

/* Adds a channel name to a batch request's set of distinct names (a
 * hashmap of the caller's): 0, or -40000 once the set is over the limit,
 * when it stops growing. */
int rest__batch_channel(struct hashmap *distinct, const char *name,
                        size_t len, herald_error *err);

/* The REST publish path (rest_publish.c), shared with batch publish. */

/* Decodes a publish body, one Message or an array of them, into p's
 * messages: 0, or a negative code for an invalid body. */
int rest_publish__decode(struct wire_value body, struct publish *p,
                         herald_error *err);
/* channel__check_publish for the request's credentials and the server's
 * message size limit. */
int rest_publish__check(const struct http_request *req, struct publish *p,
                        herald_error *err);
/* Starts p, decoded and checked, as a REST publish to channel `name`, or
 * as one of the realtime connection with id on_behalf_of (NULL: none);
 * done runs on the request's worker. */
void rest_publish__start(struct http_request *req, struct publish *p,
                         const struct channel_name *name,
                         const char *on_behalf_of,
                         void (*done)(struct publish *p));

/* The occupancy of some channels (base names) of the request's app
 * (rest_channels.c), then done; channels outlive the query. */
void rest_channels__count_occupancy(struct http_request *req,
                                    struct occupancy_query *q,
                                    char *const *channels, size_t count,
                                    void (*done)(struct occupancy_query *q));

/* The channel of the Ably Chat room path segment 3 names ("<room>::$chat",
 * rest_chat.c) with `op` checked on it: 0 with *name filled (viewing into
 * the request's arena), or a negative code with err set. */
int rest_chat__room(struct http_request *req, unsigned op,
                    struct channel_name *name, herald_error *err);
/* The path segment of a Chat message's serial. */
#define REST_CHAT_SEGMENT_SERIAL 5
/* A Chat request's body in its format, which must be an object (none is
 * {}): 0 (doc to clean up) or a negative code. */
int rest_chat__parse_body(struct http_request *req, struct wire_doc *doc,
                          herald_error *err);
/* Writes a message's reactions as Chat reads them, {unique, distinct,
 * multiple}, from its annotations summary (NULL: none); with client (not
 * NULL) only the reactions of that clientId (rest_chat_reactions.c). */
void rest_chat_reactions__write(const json_t *summary, const char *client,
                                struct wire_writer *w);

/* History replies (rest_history.c), shared with the Chat routes. */

/* How a history reply writes each message. */
typedef void (*rest_history_write_fn)(const struct message *m,
                                      struct wire_writer *w);
/* Answers req with a page of channel's (a base name, which the request
 * may read) messages: `view` of them (in a mutable namespace the stream's
 * view is each message as it now is; the versions view is of the message
 * with serial `of`), as the request's page parameters ask (limit,
 * direction, start, end, cursor, fromSerial), with Link URLs to
 * "./<segment>?...", each message written by write. */
void rest_history__page(struct http_request *req, const char *channel,
                        enum store_view view, const char *of,
                        const char *segment, rest_history_write_fn write);
/* Answers req with the message of channel with serial `of` as it is now,
 * written by write with HTTP status `status`, or 404/40400. */
void rest_history__single(struct http_request *req, const char *channel,
                          const char *of, int status,
                          rest_history_write_fn write);

#endif
