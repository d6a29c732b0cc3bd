/* page.c -- paginated results (see page.h). */
#include "page.h"

#include <string.h>

#include "alloc.h"


/* The query of the Link entry with rel="rel": each entry of each Link
 * header is <./segment?query>; rel="name" (rest.md 6, as ably-js reads). */
static char *link_query(const struct transfer_response *resp, const char *rel) {
  const char *header;
  for (size_t i = 0; (header = transfer__header(resp, "Link", i)); i++) {
    char *copy = herald_xstrdup(header), *save = NULL;
    for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
      char *lt = strstr(e, "<./"), *q = lt ? strchr(lt, '?') : NULL;
      char *gt = q ? strchr(q, '>') : NULL;
      char *r = gt ? strstr(gt, "rel=\"") : NULL;
      if (!r || strncmp(r + 5, rel, strlen(rel)) != 0 || r[5 + strlen(rel)] != '"')
        continue;
      char *query = herald_xstrndup(q + 1, (size_t)(gt - q - 1));
      herald_free(copy);
      return query;
    }
    herald_free(copy);
  }
  return NULL;
}

static int read_items(herald_page *p, herald_error *err) {
  if (p->resp.len == 0) return messages__read((struct wire_value){0}, p->as_messages,
                                              NULL, &p->items, err);
  struct wire_doc doc;
  int rc = request__parse(&p->resp, &doc, err);
  if (rc) return rc;
  struct wire_value root = wire_doc__root(&doc);
  rc = messages__read(root, p->as_messages && !p->has_error,
                      p->has_cipher ? &p->cipher : NULL, &p->items, err);
  wire_doc__cleanup(&doc);
  return rc;
}

int page__of_response(herald_client *c, const struct page_query *q,
                      struct transfer_response *resp, herald_page **out,
                      herald_error *err) {
  herald_page *p = herald_xcalloc(1, sizeof *p);
  p->client = c;
  p->path = herald_xstrdup(q->path);
  p->as_messages = q->as_messages;
  if (q->cipher) {
    p->cipher = *q->cipher;
    p->has_cipher = true;
  }
  p->resp = *resp;
  memset(resp, 0, sizeof *resp);
  if (p->resp.status >= 400) {
    p->has_error = true;
    request__error_of(&p->resp, &p->error);
  }
  p->next_query = link_query(&p->resp, "next");
  p->first_query = link_query(&p->resp, "first");
  int rc = read_items(p, err);
  if (rc && p->has_error) rc = 0; /* an error body need not be items */
  if (rc) {
    herald_page_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int page__get(herald_client *c, const struct page_query *q, herald_page **out,
              herald_error *err) {
  struct request r = {.method = "GET", .path = q->path, .query = q->query,
                      .format = c->format, .auth = REQUEST_AUTH_CLIENT};
  struct transfer_response resp;
  int rc = request__call(c, &r, &resp, err);
  if (rc) return rc;
  return page__of_response(c, q, &resp, out, err);
}

size_t herald_page_count(const herald_page *page) { return page->items.n; }

const herald_message *herald_page_message(const herald_page *page, size_t i) {
  return page->items.views && i < page->items.n ? &page->items.views[i] : NULL;
}

const char *herald_page_json(const herald_page *page, size_t i) {
  return i < page->items.n ? page->items.json[i] : NULL;
}

int herald_page_status(const herald_page *page) { return (int)page->resp.status; }

const herald_error *herald_page_error(const herald_page *page) {
  return page->has_error ? &page->error : NULL;
}

const char *herald_page_header(const herald_page *page, const char *name) {
  return transfer__header(&page->resp, name, 0);
}

bool herald_page_has_next(const herald_page *page) {
  return page->next_query != NULL;
}

static int follow(const herald_page *page, const char *query,
                  herald_page **out, herald_error *err) {
  *out = NULL;
  if (!query) return 0;
  struct page_query q = {.path = page->path, .query = query,
                         .as_messages = page->as_messages,
                         .cipher = page->has_cipher ? &page->cipher : NULL};
  return page__get(page->client, &q, out, err);
}

int herald_page_next(const herald_page *page, herald_page **out,
                     herald_error *err) {
  return follow(page, page->next_query, out, err);
}

int herald_page_first(const herald_page *page, herald_page **out,
                      herald_error *err) {
  return follow(page, page->first_query, out, err);
}

void herald_page_free(herald_page *page) {
  if (!page) return;
  messages__free(&page->items);
  transfer__response_cleanup(&page->resp);
  herald_free(page->path);
  herald_free(page->next_query);
  herald_free(page->first_query);
  herald_free(page);
}
