/* client.h -- struct herald_client: the options a client was made with,
 * its hosts, its token, and its pool of libcurl easy handles (each keeps
 * its connections, so sequential calls reuse them; concurrent calls take
 * different handles). Everything that changes after creation is behind a
 * mutex: the token and the pool here, the remembered host in hosts.c. */
#ifndef HERALD_LIB_CLIENT_H
#define HERALD_LIB_CLIENT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "herald/herald.h"
#include "hosts.h"
#include "wire.h"

struct herald_client {
  pthread_mutex_t lock;
  char *key_name, *key_secret; /* NULL without a key */
  char *client_id;
  herald_auth_callback auth_callback;
  void *auth_userdata;
  bool use_token_auth;
  /* default_token_params, copied */
  herald_token_params token_params;
  char *token_capability, *token_client_id;
  bool tls;
  char *ca_file;
  char **headers; /* NULL-terminated copies */
  long open_timeout_ms, request_timeout_ms, max_retry_duration_ms;
  int max_retry_count;
  enum wire_format format;
  bool idempotent;
  struct hosts hosts;
  /* Under lock: the token in use (NULL: none yet) and its expiry (0:
   * unknown), and the idle easy handles. */
  char *token;
  int64_t token_expires;
  CURL **idle;
  size_t n_idle, cap_idle;
};

/* An easy handle for one call, from the pool or new. */
CURL *client__take(herald_client *c);
void client__give(herald_client *c, CURL *h);

/* "http(s)://host:port" for a host of the plan. herald_xmalloc'd. */
char *client__base_url(const herald_client *c, const char *host);

#endif
