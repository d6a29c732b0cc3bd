/* transfer.c -- one HTTP exchange over libcurl (see transfer.h). */
#include "transfer.h"

#include <string.h>
#include <strings.h>

#include "alloc.h"

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
  struct transfer_response *r = userdata;
  size_t len = size * n;
  if (r->len + len + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 1024;
    while (cap < r->len + len + 1) cap *= 2;
    r->body = herald_xrealloc(r->body, cap);
    r->cap = cap;
  }
  memcpy(r->body + r->len, data, len);
  r->len += len;
  r->body[r->len] = '\0';
  return len;
}

static void clear_headers(struct transfer_response *r) {
  for (size_t i = 0; i < r->n_headers; i++) herald_free(r->headers[i]);
  r->n_headers = 0;
}

/* Header lines of the response; a status line starts a new response (a
 * 100 Continue's headers are dropped). */
static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
  struct transfer_response *r = userdata;
  size_t len = size * n;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    clear_headers(r);
    return len;
  }
  while (len && (data[len - 1] == '\r' || data[len - 1] == '\n')) len--;
  if (!len || !memchr(data, ':', len)) return size * n;
  if (r->n_headers == r->cap_headers) {
    r->cap_headers = r->cap_headers ? 2 * r->cap_headers : 16;
    r->headers = herald_xrealloc(r->headers, r->cap_headers * sizeof *r->headers);
  }
  r->headers[r->n_headers++] = herald_xstrndup(data, len);
  return size * n;
}

void transfer__setup(CURL *h, const struct transfer_request *r,
                     struct transfer_response *resp) {
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, r->url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
  if (strcmp(r->method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
  if (r->body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
  }
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  if (r->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, r->ca_file);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
}

int transfer__failure(CURLcode rc, const char *url, herald_error *err) {
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return herald_error_set(err, HERALD_E_TIMEOUT, "Timeout: %s: %s", url,
                            curl_easy_strerror(rc));
  return herald_error_set(err, HERALD_E_CONNECTION_FAILED,
                          "Connection failed: %s: %s", url,
                          curl_easy_strerror(rc));
}

int transfer__perform(CURL *h, const struct transfer_request *r,
                      struct transfer_response *resp, herald_error *err) {
  transfer__setup(h, r, resp);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) return transfer__failure(rc, r->url, err);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
  if (!resp->body) {
    resp->body = herald_xcalloc(1, 1);
    resp->cap = 1;
  }
  return 0;
}

const char *transfer__header(const struct transfer_response *r,
                             const char *name, size_t index) {
  size_t len = strlen(name);
  for (size_t i = 0; i < r->n_headers; i++) {
    const char *line = r->headers[i];
    if (strncasecmp(line, name, len) != 0 || line[len] != ':') continue;
    if (index--) continue;
    const char *v = line + len + 1;
    while (*v == ' ' || *v == '\t') v++;
    return v;
  }
  return NULL;
}

void transfer__response_cleanup(struct transfer_response *r) {
  clear_headers(r);
  herald_free(r->headers);
  herald_free(r->body);
  memset(r, 0, sizeof *r);
}
