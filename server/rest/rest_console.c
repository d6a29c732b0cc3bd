/* rest_console.c -- the web console (--console): GET /console is its page,
 * GET /console/<file> its scripts and styles, every one built into heraldd
 * (console_assets.h), so nothing is fetched from elsewhere. The page is
 * plain HTML and JavaScript on Herald's public APIs; what it may do is what
 * the key its user signs in with may do, so serving it needs no credentials.
 * Off, /console is a 404 like any unknown path. Files are looked up by
 * exact name in the built-in table: no path reaches the file system. */
#include <stdio.h>
#include <string.h>

#include "rest/console_assets.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

#define INDEX "index.html"

/* Scripts, styles and requests only from heraldd itself; nothing inline,
 * no frames, no forms posted anywhere. */
#define SECURITY_HEADERS                                                       \
  "Content-Security-Policy: default-src 'none'; script-src 'self'; "          \
  "style-src 'self'; img-src 'self' data:; connect-src 'self'; "              \
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"           \
  "X-Content-Type-Options: nosniff\r\n"                                        \
  "X-Frame-Options: DENY\r\n"                                                  \
  "Referrer-Policy: no-referrer\r\n"

static const struct {
  const char *suffix, *type;
} types[] = {{".html", "text/html; charset=utf-8"},
             {".js", "text/javascript; charset=utf-8"},
             {".css", "text/css; charset=utf-8"},
             {".svg", "image/svg+xml"}};

static const char *content_type(const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    size_t n = strlen(types[i].suffix);
    if (len > n && !strcmp(name + len - n, types[i].suffix))
      return types[i].type;
  }
  return "application/octet-stream";
}

static const struct console_asset *find(const char *name) {
  for (size_t i = 0; i < console_assets__count; i++)
    if (!strcmp(console_assets__table[i].name, name))
      return &console_assets__table[i];
  return NULL;
}

/* Answers with the named file; revalidated on every use (no-cache with
 * its ETag), so a new heraldd's console is never mixed with an old one. */
static void serve(struct http_request *req, const char *name) {
  const struct console_asset *a =
      rest__context(req)->cfg->console ? find(name) : NULL;
  if (!a) {
    herald_error err;
    herald_error_set(&err, HERALD_E_NOT_FOUND, "No such resource");
    reply__error(req, &err);
    return;
  }
  char headers[1024];
  snprintf(headers, sizeof headers,
           "Content-Type: %s\r\nCache-Control: no-cache\r\nETag: %s\r\n"
           SECURITY_HEADERS,
           content_type(a->name), a->etag);
  const char *match = http__header(req, "if-none-match");
  if (match && !strcmp(match, a->etag))
    http__respond(req, 304, headers, NULL, 0);
  else
    http__respond(req, 200, headers, (const char *)a->data, a->len);
}

/* GET /console */
void rest_console__page(struct http_request *req) { serve(req, INDEX); }

/* GET /console/:file */
void rest_console__file(struct http_request *req) {
  serve(req, req->segments[1]);
}
