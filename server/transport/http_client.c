/* http_client.c -- outbound POSTs on libcurl's multi interface
 * (http_client.h). */
#include "transport/http_client.h"

#include <curl/curl.h>
#include <stdio.h>

#include "alloc.h"

struct transfer {
  struct transfer *prev, *next; /* the client's transfers */
  struct http_call *call;
  CURL *easy;
  struct curl_slist *headers;
  char error[CURL_ERROR_SIZE];
};

struct http_client {
  CURLM *multi;
  struct transfer *transfers;
};

struct http_client *http_client__new(void) {
  static int global;
  if (!global++) curl_global_init(CURL_GLOBAL_DEFAULT);
  struct http_client *c = herald_xcalloc(1, sizeof *c);
  c->multi = curl_multi_init();
  if (!c->multi) herald_oom("libcurl");
  return c;
}

static void end_transfer(struct http_client *c, struct transfer *t) {
  curl_multi_remove_handle(c->multi, t->easy);
  curl_easy_cleanup(t->easy);
  curl_slist_free_all(t->headers);
  if (t->prev) t->prev->next = t->next;
  else c->transfers = t->next;
  if (t->next) t->next->prev = t->prev;
  t->call->internal = NULL;
  herald_free(t);
}

void http_client__free(struct http_client *c) {
  if (!c) return;
  while (c->transfers) end_transfer(c, c->transfers);
  curl_multi_cleanup(c->multi);
  herald_free(c);
}

/* The receiver's answer body is read and forgotten. */
static size_t discard(char *data, size_t size, size_t n, void *arg) {
  (void)data;
  (void)arg;
  return size * n;
}

void http_client__post(struct http_client *c, struct http_call *call) {
  struct transfer *t = herald_xcalloc(1, sizeof *t);
  t->call = call;
  call->internal = t;
  t->next = c->transfers;
  if (t->next) t->next->prev = t;
  c->transfers = t;
  t->easy = curl_easy_init();
  if (!t->easy) herald_oom("libcurl");
  for (size_t i = 0; i < call->n_headers; i++)
    t->headers = curl_slist_append(t->headers, call->headers[i]);
  t->headers = curl_slist_append(t->headers, "Expect:");
  CURL *e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, call->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, call->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, call->timeout_ms);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "herald-webhooks");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_multi_add_handle(c->multi, e);
}

void http_client__run(struct http_client *c, int timeout_ms) {
  int running;
  curl_multi_perform(c->multi, &running);
  curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
  curl_multi_perform(c->multi, &running);
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    struct transfer *t;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    long status = 0;
    if (msg->data.result == CURLE_OK)
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    const char *why = t->error[0] ? t->error
                                  : curl_easy_strerror(msg->data.result);
    struct http_call *call = t->call;
    char error[CURL_ERROR_SIZE];
    snprintf(error, sizeof error, "%s", why);
    end_transfer(c, t);
    call->done(call, status, error);
  }
}

void http_client__wakeup(struct http_client *c) { curl_multi_wakeup(c->multi); }
