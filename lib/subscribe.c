/* subscribe.c -- a live stream of messages over Ably's event-stream
 * endpoint (GET /sse, realtime.md 8): the stream read as Server-Sent
 * Events, each "message" event decoded and handed to the callback, an
 * "error" event ending the stream with its error. The transfer runs on a
 * libcurl multi handle polled every 100 ms, so a cancel flag (set from a
 * signal handler) ends it promptly. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "client.h"
#include "credentials.h"
#include "messages.h"
#include "request.h"
#include "text.h"
#include "transfer.h"

#define POLL_MS 100

struct stream {
  herald_client *client;
  CURL *handle;
  const herald_subscribe_options *opts;
  herald_message_callback cb;
  void *userdata;
  struct transfer_response resp; /* headers; the body of an error status */
  struct text line;              /* the line being read */
  struct text data;              /* the event's data lines */
  char event[32];
  bool has_id;
  bool opened;
  bool stop;      /* the callback asked, or an error event came */
  int rc;         /* the stream's end */
  herald_error *err;
};

static void deliver(struct stream *s, const char *json) {
  struct wire_doc doc;
  herald_error e;
  if (wire_doc__parse(&doc, WIRE_JSON, json, strlen(json), &e) != 0) return;
  struct wire_value root = wire_doc__root(&doc);
  if (strcmp(s->event, "error") == 0) {
    s->rc = request__error_info(root, s->err);
    s->stop = true;
  } else if (strcmp(s->event, "message") == 0) {
    struct item_list items;
    const herald_cipher_params *cipher = s->opts ? s->opts->cipher : NULL;
    if (messages__read(root, true, cipher, &items, &e) == 0) {
      struct wire_value ch = wire_value__get(root, "channel");
      size_t len;
      const char *name = wire_value__bytes(ch, &len);
      char *channel = herald_xstrndup(name ? name : "", name ? len : 0);
      if (items.n && s->cb(channel, &items.views[0], s->userdata)) s->stop = true;
      herald_free(channel);
      messages__free(&items);
    }
  }
  wire_doc__cleanup(&doc);
}

/* A blank line ends an event: its data is delivered; an event with an id
 * and no data is the stream's position, which comes first once every
 * channel is attached. */
static void end_event(struct stream *s) {
  if (s->data.len) deliver(s, s->data.s);
  else if (s->has_id && !s->opened) {
    s->opened = true;
    if (s->opts && s->opts->on_open) s->opts->on_open(s->userdata);
  }
  s->data.len = 0;
  if (s->data.s) s->data.s[0] = '\0';
  s->event[0] = '\0';
  s->has_id = false;
}

static void field(struct stream *s, const char *line) {
  const char *colon = strchr(line, ':');
  size_t name_len = colon ? (size_t)(colon - line) : strlen(line);
  const char *value = colon ? colon + 1 : "";
  if (*value == ' ') value++;
  if (name_len == 0) return; /* a comment: keepalive */
  if (name_len == 5 && strncmp(line, "event", 5) == 0)
    snprintf(s->event, sizeof s->event, "%s", value);
  else if (name_len == 4 && strncmp(line, "data", 4) == 0) {
    if (s->data.len) text__append(&s->data, "\n");
    text__append(&s->data, value);
  } else if (name_len == 2 && strncmp(line, "id", 2) == 0)
    s->has_id = true;
}

static void on_line(struct stream *s) {
  char *l = s->line.s ? s->line.s : "";
  size_t len = s->line.len;
  if (len && l[len - 1] == '\r') l[--len] = '\0';
  if (len == 0) end_event(s);
  else field(s, l);
  s->line.len = 0;
  if (s->line.s) s->line.s[0] = '\0';
}

static size_t on_body(char *bytes, size_t size, size_t n, void *userdata) {
  struct stream *s = userdata;
  size_t len = size * n;
  if (s->resp.status == 0)
    curl_easy_getinfo(s->handle, CURLINFO_RESPONSE_CODE, &s->resp.status);
  if (s->resp.status >= 400) { /* an error answer, read whole */
    text__appendn(&s->line, bytes, len);
    return len;
  }
  for (size_t i = 0; i < len && !s->stop; i++) {
    if (bytes[i] == '\n') on_line(s);
    else text__appendn(&s->line, &bytes[i], 1);
  }
  return s->stop ? 0 : len;
}

static char *stream_url(herald_client *c, const char *const *channels) {
  char *host = hosts__current(&c->hosts);
  char *base = client__base_url(c, host);
  herald_free(host);
  struct text names = {0}, q = {0};
  for (size_t i = 0; channels[i]; i++) {
    if (i) text__append(&names, ",");
    text__append(&names, channels[i]);
  }
  text__param(&q, "v", "1.2");
  text__param(&q, "channels", names.s ? names.s : "");
  struct text url = {0};
  text__appendf(&url, "%s/sse?%s", base, q.s);
  herald_free(base);
  herald_free(names.s);
  herald_free(q.s);
  return text__take(&url);
}

static struct curl_slist *stream_headers(const char *authorization) {
  struct curl_slist *l = curl_slist_append(NULL, "Accept: text/event-stream");
  l = curl_slist_append(l, "Ably-Agent: libherald/" HERALD_VERSION);
  if (authorization) { /* none without credentials */
    struct text t = {0};
    text__appendf(&t, "Authorization: %s", authorization);
    l = curl_slist_append(l, t.s);
    herald_free(t.s);
  }
  if (!l) herald_oom("a header list");
  return l;
}

static bool cancelled(const struct stream *s) {
  return s->stop || (s->opts && s->opts->cancel && *s->opts->cancel);
}

/* Runs the transfer until it ends or is cancelled; 0 or its failure. */
static int run(struct stream *s, CURL *h, const char *url) {
  CURLM *m = curl_multi_init();
  if (!m) herald_oom("a libcurl multi handle");
  curl_multi_add_handle(m, h);
  int running = 1;
  while (running && !cancelled(s)) {
    curl_multi_perform(m, &running);
    if (running) curl_multi_poll(m, NULL, 0, POLL_MS, NULL);
  }
  int rc = 0;
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m, &left)))
    if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK &&
        msg->data.result != CURLE_WRITE_ERROR && !cancelled(s))
      rc = transfer__failure(msg->data.result, url, s->err);
  curl_multi_remove_handle(m, h);
  curl_multi_cleanup(m);
  return rc;
}

static int stream_error(struct stream *s) {
  s->resp.body = s->line.s;
  s->resp.len = s->line.len;
  int rc = request__error_of(&s->resp, s->err);
  s->resp.body = NULL;
  return rc;
}

int herald_subscribe(herald_client *c, const char *const *channels,
                     const herald_subscribe_options *opts,
                     herald_message_callback cb, void *userdata,
                     herald_error *err) {
  if (!channels || !channels[0])
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "No channel to subscribe to");
  char *authorization;
  int rc = credentials__authorization(c, REQUEST_AUTH_CLIENT, &authorization,
                                      err);
  if (rc) return rc;
  struct stream s = {.client = c, .opts = opts, .cb = cb,
                     .userdata = userdata, .err = err};
  char *url = stream_url(c, channels);
  struct curl_slist *headers = stream_headers(authorization);
  struct transfer_request tr = {.method = "GET", .url = url,
                                .headers = headers,
                                .connect_timeout_ms = c->open_timeout_ms,
                                .ca_file = c->ca_file};
  CURL *h = client__take(c);
  transfer__setup(h, &tr, &s.resp);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
  s.handle = h;
  rc = run(&s, h, url);
  if (!rc && s.resp.status >= 400) rc = stream_error(&s);
  else if (!rc) rc = s.rc;
  client__give(c, h);
  curl_slist_free_all(headers);
  transfer__response_cleanup(&s.resp);
  herald_free(s.line.s);
  herald_free(s.data.s);
  herald_free(url);
  herald_free(authorization);
  return rc;
}
