/* http_headers.c -- header lines and CORS (see http_headers.h). */
#include "transport/http_headers.h"

#include <string.h>
#include <strings.h>

#define CORS_EXPOSE                                                            \
  "Link, X-Ably-Errorcode, X-Ably-Errormessage, X-Ably-Serverid, Content-Type"

void http_headers__init(struct http_headers *h) {
  h->len = 0;
  h->buf[0] = '\0';
}

void http_headers__add(struct http_headers *h, const char *name,
                       const char *value) {
  size_t name_len = strlen(name), value_len = strcspn(value, "\r\n");
  size_t line_len = name_len + 2 + value_len + 2;
  if (h->len + line_len >= HTTP_HEADERS_MAX) return;
  char *p = h->buf + h->len;
  memcpy(p, name, name_len);
  memcpy(p + name_len, ": ", 2);
  memcpy(p + name_len + 2, value, value_len);
  memcpy(p + name_len + 2 + value_len, "\r\n\0", 3);
  h->len += line_len;
}

void http_headers__add_lines(struct http_headers *h, const char *lines) {
  size_t n = strlen(lines);
  if (h->len + n >= HTTP_HEADERS_MAX) return;
  memcpy(h->buf + h->len, lines, n + 1);
  h->len += n;
}

static bool origin_listed(const char *list, const char *origin) {
  size_t origin_len = strlen(origin);
  for (const char *p = list; *p;) {
    p += strspn(p, " \t,");
    size_t n = strcspn(p, ",");
    size_t trimmed = n;
    while (trimmed && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
      trimmed--;
    if ((trimmed == 1 && p[0] == '*') ||
        (trimmed == origin_len && trimmed && !strncasecmp(p, origin, trimmed)))
      return true;
    p += n;
  }
  return false;
}

bool http_headers__origin_allowed(const struct http_request *req,
                                  const char *allowed) {
  const char *origin = http__header(req, "origin");
  return !origin || origin_listed(allowed, origin);
}

/* The Origin is reflected with credentials allowed: ably-js sends
 * fetch/XHR requests that carry an Authorization header with credentials
 * "include" (withCredentials), and a browser reads such a response only
 * with the exact origin and Allow-Credentials. Herald sets no cookies, so
 * the page gains nothing it did not send itself. A disallowed Origin gets
 * no CORS headers (and the router refuses its request with 403). */
void http_headers__cors(struct http_headers *h, const struct http_request *req,
                        const char *allowed) {
  const char *origin = http__header(req, "origin");
  if (!origin) { /* the usual answer: one constant */
    http_headers__add_lines(h, "Access-Control-Allow-Origin: *\r\n"
                               "Access-Control-Expose-Headers: " CORS_EXPOSE
                               "\r\n");
    return;
  }
  if (!origin_listed(allowed, origin)) return;
  http_headers__add(h, "Access-Control-Allow-Origin", origin);
  http_headers__add(h, "Vary", "Origin");
  http_headers__add(h, "Access-Control-Allow-Credentials", "true");
  http_headers__add(h, "Access-Control-Expose-Headers", CORS_EXPOSE);
}

void http_headers__preflight(struct http_headers *h,
                             const struct http_request *req) {
  const char *origin = http__header(req, "origin");
  const char *asked = http__header(req, "access-control-request-headers");
  http_headers__add(h, "Access-Control-Allow-Origin", origin ? origin : "*");
  http_headers__add(h, "Vary", "Origin");
  http_headers__add(h, "Access-Control-Allow-Credentials", "true");
  http_headers__add(h, "Access-Control-Allow-Methods",
                    "GET, POST, PUT, PATCH, DELETE, OPTIONS");
  http_headers__add(h, "Access-Control-Allow-Headers",
                    asked ? asked
                          : "authorization, content-type, accept, "
                            "x-ably-version, ably-agent, x-ably-clientid, "
                            "x-ably-lib");
  http_headers__add(h, "Access-Control-Max-Age", "86400");
}
