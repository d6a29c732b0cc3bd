/* client.c -- options, creation and the handle pool (see client.h). */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "text.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void init_curl(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    herald_oom("libcurl's global state");
}

void herald_options_init(herald_options *o) {
  memset(o, 0, sizeof *o);
  o->http_open_timeout_ms = 4000;
  o->http_request_timeout_ms = 10000;
  o->http_max_retry_count = 3;
  o->http_max_retry_duration_ms = 15000;
  o->fallback_retry_timeout_ms = 600000;
  o->use_binary_protocol = true;
  o->idempotent_rest_publishing = true;
}

static char *dup_or_null(const char *s) { return s ? herald_xstrdup(s) : NULL; }

/* A key is "appId.keyId:secret" (rest.md 20: ^[^:\s]+:[^:.\s]+$). */
static int split_key(herald_client *c, const char *key, herald_error *err) {
  const char *colon = strchr(key, ':');
  bool ok = colon && colon != key && colon[1] && !strchr(colon + 1, ':') &&
            !strchr(colon + 1, '.') && !strpbrk(key, " \t\r\n");
  if (!ok)
    return herald_error_set(err, HERALD_E_INVALID_CREDENTIAL,
                            "Invalid key: expected appId.keyId:secret");
  c->key_name = herald_xstrndup(key, (size_t)(colon - key));
  c->key_secret = herald_xstrdup(colon + 1);
  return 0;
}

static bool is_local(const char *host) {
  return strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
         strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

/* A fallback host is "host" or "host:port" (the primary's port then). */
static bool host_valid(const char *h) {
  return *h && !strpbrk(h, "/ \t\r\n?#@");
}

static char **copy_list(const char *const *list, size_t *n) {
  size_t count = 0;
  while (list && list[count]) count++;
  char **copy = herald_xcalloc(count + 1, sizeof *copy);
  for (size_t i = 0; i < count; i++) copy[i] = herald_xstrdup(list[i]);
  if (n) *n = count;
  return copy;
}

static void free_list(char **list) {
  for (size_t i = 0; list && list[i]; i++) herald_free(list[i]);
  herald_free(list);
}

static int set_hosts(herald_client *c, const herald_options *o,
                     herald_error *err) {
  const char *endpoint = o->endpoint ? o->endpoint : "localhost";
  if (!host_valid(endpoint) || strchr(endpoint, ':'))
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid endpoint \"%s\": a host name", endpoint);
  c->tls = o->tls == HERALD_TLS_ON ||
           (o->tls == HERALD_TLS_AUTO && !is_local(endpoint));
  int port = o->port ? o->port : c->tls ? 443 : 80;
  size_t n = 0;
  char **fallbacks = copy_list(o->fallback_hosts, &n);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    if (!host_valid(fallbacks[i]))
      rc = herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid fallback host \"%s\"", fallbacks[i]);
    else if (!strchr(fallbacks[i], ':')) {
      struct text t = {0};
      text__appendf(&t, "%s:%d", fallbacks[i], port);
      herald_free(fallbacks[i]);
      fallbacks[i] = text__take(&t);
    }
  }
  if (!rc) {
    struct text primary = {0};
    text__appendf(&primary, "%s:%d", endpoint, port);
    hosts__init(&c->hosts, primary.s, (const char *const *)fallbacks, n,
                o->fallback_retry_timeout_ms);
    herald_free(primary.s);
  }
  free_list(fallbacks);
  return rc;
}

static int check_credentials(const herald_options *o, herald_error *err) {
  if (o->client_id && strcmp(o->client_id, "*") == 0)
    return herald_error_set(err, HERALD_E_INVALID_CLIENT_ID,
                            "clientId \"*\" is reserved (RSA7c)");
  return 0;
}

static void copy_options(herald_client *c, const herald_options *o) {
  c->client_id = dup_or_null(o->client_id);
  c->auth_callback = o->auth_callback;
  c->auth_userdata = o->auth_userdata;
  c->use_token_auth = o->use_token_auth;
  if (o->default_token_params) {
    c->token_params = *o->default_token_params;
    c->token_capability = dup_or_null(o->default_token_params->capability);
    c->token_client_id = dup_or_null(o->default_token_params->client_id);
  }
  c->token_params.capability = c->token_capability;
  c->token_params.client_id = c->token_client_id;
  c->token_params.nonce = NULL;
  c->token = dup_or_null(o->token);
  c->ca_file = dup_or_null(o->ca_file);
  c->headers = copy_list(o->headers, NULL);
  c->open_timeout_ms = o->http_open_timeout_ms;
  c->request_timeout_ms = o->http_request_timeout_ms;
  c->max_retry_count = o->http_max_retry_count;
  c->max_retry_duration_ms = o->http_max_retry_duration_ms;
  c->format = o->use_binary_protocol ? WIRE_MSGPACK : WIRE_JSON;
  c->idempotent = o->idempotent_rest_publishing;
}

herald_client *herald_client_new(const herald_options *o, herald_error *err) {
  pthread_once(&curl_once, init_curl);
  if (check_credentials(o, err)) return NULL;
  herald_client *c = herald_xcalloc(1, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  int rc = o->key ? split_key(c, o->key, err) : 0;
  if (!rc) rc = set_hosts(c, o, err);
  if (rc) {
    herald_free(c->key_name);
    herald_free(c->key_secret);
    pthread_mutex_destroy(&c->lock);
    herald_free(c);
    return NULL;
  }
  copy_options(c, o);
  return c;
}

void herald_client_free(herald_client *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n_idle; i++) curl_easy_cleanup(c->idle[i]);
  herald_free(c->idle);
  hosts__cleanup(&c->hosts);
  free_list(c->headers);
  herald_free(c->key_name);
  herald_free(c->key_secret);
  herald_free(c->client_id);
  herald_free(c->token_capability);
  herald_free(c->token_client_id);
  herald_free(c->token);
  herald_free(c->ca_file);
  pthread_mutex_destroy(&c->lock);
  herald_free(c);
}

const char *herald_client_id(herald_client *c) { return c->client_id; }

char *herald_client_current_host(herald_client *c) {
  return hosts__current(&c->hosts);
}

CURL *client__take(herald_client *c) {
  pthread_mutex_lock(&c->lock);
  CURL *h = c->n_idle ? c->idle[--c->n_idle] : NULL;
  pthread_mutex_unlock(&c->lock);
  if (!h && !(h = curl_easy_init())) herald_oom("a libcurl handle");
  return h;
}

void client__give(herald_client *c, CURL *h) {
  pthread_mutex_lock(&c->lock);
  if (c->n_idle == c->cap_idle) {
    c->cap_idle = c->cap_idle ? 2 * c->cap_idle : 4;
    c->idle = herald_xrealloc(c->idle, c->cap_idle * sizeof *c->idle);
  }
  c->idle[c->n_idle++] = h;
  pthread_mutex_unlock(&c->lock);
}

char *client__base_url(const herald_client *c, const char *host) {
  struct text t = {0};
  text__appendf(&t, "%s://%s", c->tls ? "https" : "http", host);
  return text__take(&t);
}
