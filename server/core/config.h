/* config.h -- heraldd's configuration: defaults, then herald.json, then
 * HERALD_* environment variables, then command-line flags, each overriding
 * the one before. One option table drives all four (config.c). */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "herald/errors.h"

#define CONFIG_MAX_THREADS 64

struct config {
  int port;
  char *bind;
  char *tls_cert; /* PEM chain; with tls_key, TLS is on */
  char *tls_key;
  int tls_port;   /* TLS beside plaintext on port; -1: TLS on port */
  int threads;
  char *data_dir;
  char *engine; /* sqlite, redis or memory */
  char *redis;  /* comma-separated redis://host:port, for the redis engine */
  char *config_path;
  bool sandbox;
  char *admin_key;         /* lets POST /apps create apps; NULL: none */
  bool console;            /* serve the web console at /console */
  int64_t token_window_ms; /* TokenRequest timestamp tolerance */
  int64_t reauth_margin_ms; /* revokeTokens' allowReauthMargin delay */
  char *log_level;
  int64_t max_message_size;       /* bytes, one publish */
  int64_t max_body_size;          /* bytes, one request body */
  int64_t max_header_size;        /* bytes, request line + headers */
  int64_t http_header_timeout_ms; /* a request's head must arrive in this */
  int64_t http_body_timeout_ms;   /* its body, from the end of the head */
  int64_t http_idle_timeout_ms;   /* keep-alive with no request */
  int64_t max_unauthenticated_per_address; /* open connections; 0: no cap */
  char *allowed_origins; /* CORS and WebSocket Origins: "*" or a list */
  int64_t retention_ms;           /* history of non-persisted channels */
  int64_t persisted_retention_ms; /* history of persisted namespaces */
  int64_t idempotency_window_ms;
  int64_t max_idle_interval_ms;    /* realtime heartbeat interval */
  int64_t connection_state_ttl_ms; /* how long a dropped connection lives */
  int64_t comet_stream_ms;     /* a streaming comet recv's longest life */
  int64_t comet_recv_grace_ms; /* comet: no recv for idle + this: lost */
  int64_t max_frame_size;          /* bytes, one inbound WebSocket message */
  int64_t max_inbound_rate;        /* messages per second per connection */
  int64_t max_outbound_bytes;      /* unsent bytes per subscriber */
  int64_t max_channels_per_connection; /* attached at once */
  int64_t presence_grace_ms;    /* members outlive an abrupt drop this long */
  int64_t reattach_window_ms;   /* after a resume: re-attach or members leave */
  int64_t presence_max_members; /* per channel, unless the app says */
  int64_t max_apps;             /* POST /apps refuses beyond this many */
  int64_t node_timeout_ms;      /* redis engine: a silent node is dead */
  int64_t occupancy_interval_ms; /* between [meta]occupancy events */
  int64_t stats_interval_ms; /* app statistics stored and published */
  char *metrics_key;         /* GET /metrics's bearer token; NULL: admin's */
  int64_t webhook_retry_min_ms;    /* a failing rule's first delay */
  int64_t webhook_retry_max_ms;    /* ... growing by sqrt(2) up to this */
  int64_t webhook_retry_window_ms; /* events older are dropped on failure */
  int64_t webhook_batch_interval_ms; /* a batch rule's requests, at most */
  int64_t webhook_batch_max;       /* events in one batch request */
  int64_t webhook_timeout_ms;      /* one request, connecting included */
  int64_t webhook_queue_max;       /* events a rule queues */
  json_t *apps; /* the "apps" array of the config file, or NULL */
  char *env_key; /* HERALD_KEY: appId.keyId:secret with full capability */
  bool help;
};

/* Fills *cfg from all sources. Returns 0, or a negative code with err set
 * (unknown flag, bad value, unreadable file). */
int config__load(struct config *cfg, int argc, char **argv, herald_error *err);
void config__cleanup(struct config *cfg);
/* Prints the option table (heraldd --help). */
void config__print_help(const char *program);

#endif
