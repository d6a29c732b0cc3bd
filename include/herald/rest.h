/* rest.h -- the client's other REST calls: stats (RSC6), time (RSC16) and
 * request (RSC19) for any endpoint. */
#ifndef HERALD_REST_H
#define HERALD_REST_H

#include <stdint.h>

#include "herald/channel.h"
#include "herald/client.h"
#include "herald/errors.h"
#include "herald/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct herald_stats_params {
  int64_t start, end; /* ms */
  enum herald_direction direction;
  int limit;
  const char *unit; /* "minute" (default), "hour", "day", "month" */
} herald_stats_params;

/* Application statistics (RSC6): a page of Stats items as JSON. */
int herald_stats(herald_client *c, const herald_stats_params *params,
                 herald_page **out, herald_error *err);

/* The server's time in ms since the epoch (RSC16). */
int herald_time(herald_client *c, int64_t *ms, herald_error *err);

/* Any REST request (RSC19): method, path ("/channels"), query params as
 * name/value pairs ending with NULL, a JSON body (or NULL), extra headers
 * "Name: value" ending with NULL. Authenticated, with the client's format
 * and fallbacks. Returns 0 with *out set whenever the server answered, even
 * with an error status (HttpPaginatedResponse: see herald_page_status and
 * herald_page_error); fails only when no answer came. */
int herald_request(herald_client *c, const char *method, const char *path,
                   const char *const *params, const char *body_json,
                   const char *const *headers, herald_page **out,
                   herald_error *err);

#ifdef __cplusplus
}
#endif

#endif
