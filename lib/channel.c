/* channel.c -- a channel's REST calls (RSL, RSP): publish, history,
 * status, presence. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "messages.h"
#include "page.h"
#include "request.h"
#include "text.h"

struct herald_channel {
  herald_client *client;
  char *name;
  char *path; /* "/channels/<escaped name>" */
  bool has_cipher;
  herald_cipher_params cipher;
};

herald_channel *herald_channel_new(herald_client *c, const char *name,
                                   const herald_channel_options *opts) {
  herald_channel *ch = herald_xcalloc(1, sizeof *ch);
  ch->client = c;
  ch->name = herald_xstrdup(name);
  struct text t = {0};
  text__append(&t, "/channels/");
  text__append_escaped(&t, name);
  ch->path = text__take(&t);
  if (opts && opts->cipher) {
    ch->cipher = *opts->cipher;
    ch->has_cipher = true;
  }
  return ch;
}

void herald_channel_free(herald_channel *ch) {
  if (!ch) return;
  herald_free(ch->name);
  herald_free(ch->path);
  herald_free(ch);
}

const char *herald_channel_name(const herald_channel *ch) { return ch->name; }

static const herald_cipher_params *cipher_of(const herald_channel *ch) {
  return ch->has_cipher ? &ch->cipher : NULL;
}

static char *path_of(const herald_channel *ch, const char *suffix) {
  struct text t = {0};
  text__append(&t, ch->path);
  text__append(&t, suffix);
  return text__take(&t);
}

/* RSL1k1: ids only when none of the messages has one. */
static bool needs_ids(const herald_client *c, const herald_message *m,
                      size_t n) {
  if (!c->idempotent) return false;
  for (size_t i = 0; i < n; i++)
    if (m[i].id) return false;
  return true;
}

int herald_publish(herald_channel *ch, const herald_message *messages,
                   size_t n, herald_error *err) {
  if (!n)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "Nothing to publish");
  herald_client *c = ch->client;
  char *id_base = needs_ids(c, messages, n) ? messages__id_base() : NULL;
  char *body;
  size_t len;
  int rc = messages__publish_body(messages, n, cipher_of(ch), id_base,
                                  c->format, &body, &len, err);
  herald_free(id_base);
  if (rc) return rc;
  char *path = path_of(ch, "/messages");
  struct request r = {.method = "POST", .path = path, .body = body,
                      .body_len = len, .format = c->format,
                      .auth = REQUEST_AUTH_CLIENT};
  struct transfer_response resp;
  rc = request__call(c, &r, &resp, err);
  if (!rc) transfer__response_cleanup(&resp);
  herald_free(path);
  herald_free(body);
  return rc;
}

static void history_query(const herald_history_params *p, struct text *q) {
  if (!p) return;
  char n[32];
  if (p->start) {
    snprintf(n, sizeof n, "%lld", (long long)p->start);
    text__param(q, "start", n);
  }
  if (p->end) {
    snprintf(n, sizeof n, "%lld", (long long)p->end);
    text__param(q, "end", n);
  }
  if (p->limit) {
    snprintf(n, sizeof n, "%d", p->limit);
    text__param(q, "limit", n);
  }
  if (p->direction == HERALD_FORWARDS) text__param(q, "direction", "forwards");
}

static int get_page(herald_channel *ch, const char *suffix, struct text *query,
                    herald_page **out, herald_error *err) {
  char *path = path_of(ch, suffix);
  struct page_query q = {.path = path, .query = query->s, .as_messages = true,
                         .cipher = cipher_of(ch)};
  int rc = page__get(ch->client, &q, out, err);
  herald_free(path);
  herald_free(query->s);
  return rc;
}

int herald_history(herald_channel *ch, const herald_history_params *params,
                   herald_page **out, herald_error *err) {
  struct text q = {0};
  history_query(params, &q);
  return get_page(ch, "/messages", &q, out, err);
}

int herald_presence_history(herald_channel *ch,
                            const herald_history_params *params,
                            herald_page **out, herald_error *err) {
  struct text q = {0};
  history_query(params, &q);
  return get_page(ch, "/presence/history", &q, out, err);
}

int herald_presence_get(herald_channel *ch,
                        const herald_presence_params *params,
                        herald_page **out, herald_error *err) {
  struct text q = {0};
  if (params && params->limit) {
    char n[16];
    snprintf(n, sizeof n, "%d", params->limit);
    text__param(&q, "limit", n);
  }
  if (params && params->client_id) text__param(&q, "clientId", params->client_id);
  if (params && params->connection_id)
    text__param(&q, "connectionId", params->connection_id);
  return get_page(ch, "/presence", &q, out, err);
}

int herald_channel_status(herald_channel *ch, char **json_out,
                          herald_error *err) {
  struct page_query q = {.path = ch->path};
  herald_page *page;
  int rc = page__get(ch->client, &q, &page, err);
  if (rc) return rc;
  const char *json = herald_page_json(page, 0);
  *json_out = herald_xstrdup(json ? json : "{}");
  herald_page_free(page);
  return 0;
}
