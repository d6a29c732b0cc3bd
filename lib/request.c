/* request.c -- headers, fallback retries, token renewal, errors (see
 * request.h). */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "clock.h"
#include "credentials.h"
#include "text.h"

#define ABLY_VERSION "6"
#define AGENT "Ably-Agent: libherald/" HERALD_VERSION

static struct curl_slist *add(struct curl_slist *list, const char *line) {
  struct curl_slist *l = curl_slist_append(list, line);
  if (!l) herald_oom("a header list");
  return l;
}

static struct curl_slist *add_all(struct curl_slist *list,
                                  const char *const *lines) {
  for (size_t i = 0; lines && lines[i]; i++) list = add(list, lines[i]);
  return list;
}

/* The X-Ably-ClientId header a Basic request names its clientId with
 * (RSA7e2). */
static struct curl_slist *add_client_id(struct curl_slist *list,
                                        const char *client_id) {
  size_t len = strlen(client_id);
  char *b64 = herald_xmalloc(base64__encoded_size(len));
  base64__encode(client_id, len, b64);
  struct text t = {0};
  text__appendf(&t, "X-Ably-ClientId: %s", b64);
  list = add(list, t.s);
  herald_free(t.s);
  herald_free(b64);
  return list;
}

static struct curl_slist *build_headers(herald_client *c,
                                        const struct request *r,
                                        const char *authorization) {
  const char *type = wire_format__content_type(r->format);
  struct text t = {0};
  text__appendf(&t, "Accept: %s", type);
  struct curl_slist *list = add(NULL, t.s);
  herald_free(t.s);
  if (r->body) {
    t = (struct text){0};
    text__appendf(&t, "Content-Type: %s", type);
    list = add(list, t.s);
    herald_free(t.s);
  }
  t = (struct text){0};
  text__appendf(&t, "X-Ably-Version: %s", r->version ? r->version : ABLY_VERSION);
  list = add(list, t.s);
  herald_free(t.s);
  list = add(list, AGENT);
  if (authorization) {
    t = (struct text){0};
    text__appendf(&t, "Authorization: %s", authorization);
    list = add(list, t.s);
    herald_free(t.s);
    if (c->client_id && strncmp(authorization, "Basic ", 6) == 0)
      list = add_client_id(list, c->client_id);
  }
  list = add(list, "Expect:"); /* no 100-continue round trip */
  list = add_all(list, (const char *const *)c->headers);
  return add_all(list, r->headers);
}

static char *url_of(herald_client *c, const struct request *r,
                    const char *host) {
  char *base = client__base_url(c, host);
  struct text t = {0};
  text__append(&t, base);
  text__append(&t, r->path);
  if (r->query && *r->query) text__appendf(&t, "?%s", r->query);
  herald_free(base);
  return text__take(&t);
}

static bool retriable(int rc, const struct transfer_response *resp) {
  return rc != 0 || (resp->status >= 500 && resp->status <= 504);
}

/* Tries the hosts of the plan in order until one answers with no reason
 * to try another, within the retry budget (RSC15a). */
static int send_on_hosts(herald_client *c, const struct request *r,
                         const char *authorization,
                         struct transfer_response *resp, herald_error *err) {
  struct curl_slist *headers = build_headers(c, r, authorization);
  char **plan;
  size_t n = hosts__plan(&c->hosts, c->max_retry_count, &plan);
  int64_t start = clock__monotonic_ms();
  CURL *h = client__take(c);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    if (i && clock__monotonic_ms() - start >= c->max_retry_duration_ms) break;
    transfer__response_cleanup(resp);
    char *url = url_of(c, r, plan[i]);
    struct transfer_request tr = {
        .method = r->method, .url = url, .headers = headers,
        .body = r->body, .body_len = r->body_len,
        .connect_timeout_ms = c->open_timeout_ms,
        .timeout_ms = c->request_timeout_ms, .ca_file = c->ca_file};
    rc = transfer__perform(h, &tr, resp, err);
    herald_free(url);
    if (!retriable(rc, resp)) {
      hosts__answered(&c->hosts, plan[i]);
      break;
    }
    hosts__failed(&c->hosts, plan[i]);
  }
  client__give(c, h);
  hosts__free_plan(plan, n);
  curl_slist_free_all(headers);
  return rc;
}

static bool token_error(const struct transfer_response *resp) {
  if (resp->status != 401) return false;
  herald_error e;
  int code = -request__error_of(resp, &e);
  return code >= 40140 && code < 40150;
}

static int send_authorized(herald_client *c, const struct request *r,
                           struct transfer_response *resp, herald_error *err) {
  char *authorization = NULL;
  int rc = credentials__authorization(c, r->auth, &authorization, err);
  if (!rc) rc = send_on_hosts(c, r, authorization, resp, err);
  herald_free(authorization);
  return rc;
}

int request__send(herald_client *c, const struct request *r,
                  struct transfer_response *resp, herald_error *err) {
  memset(resp, 0, sizeof *resp);
  int rc = send_authorized(c, r, resp, err);
  if (rc || r->auth != REQUEST_AUTH_CLIENT || !token_error(resp) ||
      !credentials__token_based(c))
    return rc;
  /* RSA4b: a token the server refuses is renewed once, if it can be. */
  if (!credentials__can_renew(c)) {
    herald_error server;
    request__error_of(resp, &server);
    transfer__response_cleanup(resp);
    return herald_error_set(err, HERALD_E_NO_MEANS_TO_RENEW,
                            "Token refused (%d: %s) and no means provided "
                            "to renew it", server.code, server.message);
  }
  transfer__response_cleanup(resp);
  rc = credentials__renew(c, err);
  if (!rc) rc = send_authorized(c, r, resp, err);
  return rc;
}

int request__call(herald_client *c, const struct request *r,
                  struct transfer_response *resp, herald_error *err) {
  int rc = request__send(c, r, resp, err);
  if (rc || resp->status < 400) return rc;
  rc = request__error_of(resp, err);
  transfer__response_cleanup(resp);
  return rc;
}

static void copy_string(struct wire_value map, const char *key, char *out,
                        size_t cap) {
  size_t len;
  const char *s = wire_value__bytes(wire_value__get(map, key), &len);
  if (s && wire_value__kind(wire_value__get(map, key)) == WIRE_STR)
    snprintf(out, cap, "%.*s", (int)len, s);
}

int request__error_info(struct wire_value info, herald_error *err) {
  int64_t code = 0, status = 0;
  wire_value__int(wire_value__get(info, "code"), &code);
  if (code <= 0 || code > 99999) code = HERALD_E_BAD_REQUEST;
  herald_error e;
  herald_error_set(&e, (int)code, NULL);
  e.message[0] = '\0';
  copy_string(info, "message", e.message, sizeof e.message);
  if (!e.message[0])
    snprintf(e.message, sizeof e.message, "%s", herald_strerror((int)code));
  if (wire_value__int(wire_value__get(info, "statusCode"), &status) &&
      status >= 100 && status <= 599)
    e.status = (int)status;
  copy_string(info, "href", e.href, sizeof e.href);
  if (err) *err = e;
  return -(int)code;
}

/* The X-Ably-Errorcode / -Errormessage headers' error, or status * 100. */
static int error_of_headers(const struct transfer_response *resp,
                            herald_error *err) {
  const char *code_text = transfer__header(resp, "X-Ably-Errorcode", 0);
  const char *message = transfer__header(resp, "X-Ably-Errormessage", 0);
  int code = code_text ? atoi(code_text) : 0;
  if (code <= 0 || code > 99999) code = (int)resp->status * 100;
  herald_error_set(err, code, message ? "%s" : NULL, message);
  if (err) err->status = (int)resp->status;
  return -code;
}

int request__error_of(const struct transfer_response *resp, herald_error *err) {
  struct wire_doc doc;
  herald_error ignored;
  if (resp->len && request__parse(resp, &doc, &ignored) == 0) {
    struct wire_value info = wire_value__get(wire_doc__root(&doc), "error");
    int rc = 0;
    if (wire_value__kind(info) == WIRE_MAP) rc = request__error_info(info, err);
    wire_doc__cleanup(&doc);
    if (rc) return rc;
  }
  return error_of_headers(resp, err);
}

int request__parse(const struct transfer_response *resp, struct wire_doc *doc,
                   herald_error *err) {
  const char *type = transfer__header(resp, "Content-Type", 0);
  int format = type ? wire_format__from_content_type(type, strlen(type)) : -1;
  if (format < 0)
    return herald_error_set(err, HERALD_E_INVALID_DATA,
                            "Unsupported response content type: %s",
                            type ? type : "(none)");
  return wire_doc__parse(doc, (enum wire_format)format, resp->body, resp->len,
                         err);
}
