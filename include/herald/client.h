/* client.h -- the client (Ably's Rest, RSC): options, creation, the
 * connection to one endpoint and its fallback hosts (RSC15). */
#ifndef HERALD_CLIENT_H
#define HERALD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"
#include "herald/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct herald_client herald_client;
struct herald_token_params;

/* An authCallback (RSA8d): called whenever the client needs a token, with
 * the default token params. It returns 0 and sets *out to a string the
 * library frees with free(): a token (Ably token or JWT), or the JSON text
 * of a TokenDetails or of a TokenRequest (which the client exchanges for a
 * token). Or a negative Ably code with err filled. */
typedef int (*herald_auth_callback)(const struct herald_token_params *params,
                                    void *userdata, char **out,
                                    herald_error *err);

enum herald_tls { HERALD_TLS_AUTO = 0, HERALD_TLS_ON, HERALD_TLS_OFF };

typedef struct herald_options {
  /* Credentials: a key "appId.keyId:secret" (Basic auth unless
   * use_token_auth), a token or JWT, or an auth_callback. */
  const char *key;
  const char *token;
  herald_auth_callback auth_callback;
  void *auth_userdata;
  bool use_token_auth; /* with a key: request tokens, send them (RSA4) */
  const struct herald_token_params *default_token_params;
  const char *client_id; /* RSC17, RSA7 */

  /* Where: a host name or address (default "localhost"), its port (0: 80
   * or 443) and TLS (AUTO: off for localhost and 127.0.0.1, else on). */
  const char *endpoint;
  int port;
  enum herald_tls tls;
  /* Fallback hosts (RSC15), each "host" or "host:port"; NULL-terminated.
   * Tried in random order when the primary fails. */
  const char *const *fallback_hosts;

  /* Timeouts and retries, in ms, Ably's defaults (TO3l). */
  long http_open_timeout_ms;       /* 4000 */
  long http_request_timeout_ms;    /* 10000 */
  int http_max_retry_count;        /* 3 */
  long http_max_retry_duration_ms; /* 15000 */
  long fallback_retry_timeout_ms;  /* 600000 */

  bool use_binary_protocol;        /* true: MessagePack (RSC8) */
  bool idempotent_rest_publishing; /* true: ids set by the library (RSL1k) */
  /* Extra request headers "Name: value", NULL-terminated. */
  const char *const *headers;
  const char *ca_file; /* TLS trust store (NULL: the system's) */
} herald_options;

/* Fills *o with the defaults above, every other field empty. */
void herald_options_init(herald_options *o);

/* A new client, or NULL with err filled (-40005 for a malformed key,
 * -40003 for a bad endpoint or fallback host). The options are copied. A
 * client without credentials sends none (for unauthenticated endpoints:
 * /time, a sandbox's POST /apps). */
herald_client *herald_client_new(const herald_options *o, herald_error *err);
void herald_client_free(herald_client *c);

/* The client id the client's credentials give, or NULL (RSA7). */
const char *herald_client_id(herald_client *c);

/* The host ("host:port") requests go to now: the primary, or the fallback
 * remembered for fallback_retry_timeout_ms (RSC15f). herald_free it. */
char *herald_client_current_host(herald_client *c);

#ifdef __cplusplus
}
#endif

#endif
