/* page.h -- struct herald_page: one page of a paginated answer (TG), its
 * items, its status and headers, and the queries of its Link relations
 * (rest.md 6: "<./last?query>; rel="next""), which fetch the next and
 * first pages at the original path. */
#ifndef HERALD_LIB_PAGE_H
#define HERALD_LIB_PAGE_H

#include <stdbool.h>

#include "herald/herald.h"
#include "messages.h"
#include "request.h"
#include "transfer.h"

struct herald_page {
  herald_client *client;
  char *path; /* the original request's */
  bool as_messages;
  bool has_cipher;
  herald_cipher_params cipher;
  struct item_list items;
  struct transfer_response resp; /* status and headers */
  bool has_error;
  herald_error error;
  char *next_query, *first_query; /* NULL: no such link */
};

/* What a page fetch asks: the path and first query, and how the items
 * are read. */
struct page_query {
  const char *path;
  const char *query;
  bool as_messages;
  const herald_cipher_params *cipher;
};

/* GETs q and makes the page of its answer. An error status fails the
 * call. */
int page__get(herald_client *c, const struct page_query *q, herald_page **out,
              herald_error *err);

/* The page of an answer that came (any status: an error status is kept in
 * the page's error); resp is moved into it. */
int page__of_response(herald_client *c, const struct page_query *q,
                      struct transfer_response *resp, herald_page **out,
                      herald_error *err);

#endif
