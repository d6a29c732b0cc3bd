/* http_client.h -- outbound HTTP requests (webhooks) through libcurl's
 * multi interface, driven by one thread of the caller's (the client is
 * not thread-safe, but for http_client__wakeup).
 *
 * POST only; http and https; a request times out after its timeout_ms
 * (connecting included); redirects are not followed (a 3xx is an answer
 * like any other). */
#ifndef HERALD_HTTP_CLIENT_H
#define HERALD_HTTP_CLIENT_H

#include <stddef.h>

struct http_client;

struct http_call {
  const char *url;
  const char *const *headers; /* "Name: value" lines */
  size_t n_headers;
  const char *body; /* kept by the caller until done */
  size_t len;
  long timeout_ms;
  /* On the client's thread, from http_client__run: status is the HTTP
   * status, or 0 when there was no answer (error says why). */
  void (*done)(struct http_call *c, long status, const char *error);
  void *internal; /* the client's */
};

/* From the main thread before any other thread uses libcurl. */
struct http_client *http_client__new(void);
void http_client__free(struct http_client *c);

/* Starts call (its fields set). */
void http_client__post(struct http_client *c, struct http_call *call);
/* Waits up to timeout_ms for sockets or a wakeup, moves the transfers on,
 * and runs the done of each that ended. */
void http_client__run(struct http_client *c, int timeout_ms);
/* Makes a waiting http_client__run return now; from any thread. */
void http_client__wakeup(struct http_client *c);

#endif
