/* config.c -- heraldd's option table and the four sources it is read from:
 * built-in defaults, the JSON config file (keys are the long flag names),
 * HERALD_<NAME> environment variables and --<name> flags. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

enum option_type { OPT_INT, OPT_INT64, OPT_STRING, OPT_BOOL };

struct option_def {
  const char *name; /* flag --name, file key "name", env HERALD_NAME */
  enum option_type type;
  size_t offset;
  const char *default_value;
  const char *help;
  int64_t min, max; /* the valid range of an integer option */
};

/* An integer option with its valid range. */
#define OPT_RANGE(name, type, field, def, lo, hi, help)                        \
  {name, type, offsetof(struct config, field), def, help, lo, hi}
/* Any other option; an integer one may then be 0 up to its type's maximum. */
#define OPT(name, type, field, def, help)                                      \
  OPT_RANGE(name, type, field, def, 0, INT64_MAX, help)

/* Durations: at most 100 years, so that now + a few of them never overflows
 * an int64 of milliseconds. Sizes: at most 1 GiB (one request, frame or
 * message held whole in memory). */
#define MS_MAX INT64_C(3153600000000)
#define BYTES_MAX (INT64_C(1) << 30)

static const struct option_def options[] = {
    OPT_RANGE("port", OPT_INT, port,
              "8080", 0, 65535,
              "TCP port to listen on (0: any free)"),
    OPT("bind", OPT_STRING, bind, "localhost",
        "address or host name to listen on (every address it resolves to)"),
    OPT("tls-cert", OPT_STRING, tls_cert, NULL,
        "TLS certificate chain (PEM, the server's first): with --tls-key, "
        "serves https and wss (re-read on SIGHUP)"),
    OPT("tls-key", OPT_STRING, tls_key, NULL,
        "the TLS certificate's private key (PEM; re-read on SIGHUP)"),
    OPT_RANGE("tls-port", OPT_INT, tls_port, "-1", -1, 65535,
              "TCP port for TLS beside plaintext on --port (0: any free); "
              "-1: TLS on --port itself"),
    OPT_RANGE("threads", OPT_INT, threads,
              "0", 0, CONFIG_MAX_THREADS,
              "I/O worker threads (0: one per core; at most 64)"),
    OPT("data-dir", OPT_STRING, data_dir, "./herald-data",
        "directory for stored data and the development app"),
    OPT("engine", OPT_STRING, engine, "sqlite",
        "engine: sqlite (one node, durable), redis (many nodes sharing "
        "--redis) or memory (tests, throwaway runs)"),
    OPT("storage", OPT_STRING, engine, NULL, "the older name of --engine"),
    OPT("redis", OPT_STRING, redis, "redis://127.0.0.1:6379",
        "the redis engine's instances, comma-separated redis://host:port: "
        "channels are spread over them, apps and keys live on the first"),
    OPT("config", OPT_STRING, config_path, NULL, "JSON configuration file"),
    OPT("sandbox", OPT_BOOL, sandbox, "false",
        "sandbox mode: anyone may create apps (POST /apps)"),
    OPT("admin-key", OPT_STRING, admin_key, NULL,
        "secret that lets POST /apps create apps outside sandbox mode "
        "(sent as Authorization: Bearer <secret>)"),
    OPT("console", OPT_BOOL, console, "false",
        "serve the web console at /console (sign in with the admin key or "
        "an app key)"),
    OPT_RANGE("token-window-ms", OPT_INT64, token_window_ms,
              "120000", 1, MS_MAX,
              "how far a TokenRequest timestamp may be from server time"),
    OPT_RANGE("reauth-margin-ms", OPT_INT64, reauth_margin_ms,
              "30000", 0, MS_MAX,
              "revokeTokens with allowReauthMargin: how much later the "
              "revocation applies (live connections are asked to renew)"),
    OPT("log-level", OPT_STRING, log_level, "info",
        "debug, info, warn or error"),
    OPT_RANGE("max-message-size", OPT_INT64, max_message_size,
              "65536", 1, BYTES_MAX,
              "largest publish in bytes (Ably's message size)"),
    OPT_RANGE("max-body-size", OPT_INT64, max_body_size,
              "2097152", 1, BYTES_MAX,
              "largest request body in bytes"),
    OPT_RANGE("max-header-size", OPT_INT64, max_header_size,
              "32768", 1, BYTES_MAX,
              "largest request line plus headers in bytes"),
    OPT_RANGE("http-header-timeout-ms", OPT_INT64, http_header_timeout_ms,
              "10000", 0, MS_MAX,
              "HTTP: a request line and headers must arrive within this (from "
              "the connection or the request's first byte), else 408 and "
              "close; 0: no limit"),
    OPT_RANGE("http-body-timeout-ms", OPT_INT64, http_body_timeout_ms,
              "30000", 0, MS_MAX,
              "HTTP: a request body must arrive within this of its headers, "
              "else 408 and close; 0: no limit"),
    OPT_RANGE("http-idle-timeout-ms", OPT_INT64, http_idle_timeout_ms,
              "60000", 0, MS_MAX,
              "HTTP: a keep-alive connection with no request is closed after "
              "this; 0: never"),
    OPT_RANGE("max-unauthenticated-per-address", OPT_INT64,
              max_unauthenticated_per_address, "256", 0, INT32_MAX,
              "HTTP: open connections one source address (IPv6: /64) may "
              "hold before they authenticate or upgrade; more are refused "
              "(429). 0: no limit"),
    OPT("allowed-origins", OPT_STRING, allowed_origins, "*",
        "comma-separated Origins browsers may call from (CORS and WebSocket "
        "upgrades; others get 403), or * for any"),
    OPT_RANGE("retention-ms", OPT_INT64, retention_ms,
              "120000", 1, MS_MAX,
              "history retention of channels in non-persisted namespaces"),
    OPT_RANGE("persisted-retention-ms", OPT_INT64, persisted_retention_ms,
              "86400000", 1, MS_MAX,
              "history retention of persisted namespaces"),
    OPT_RANGE("idempotency-window-ms", OPT_INT64, idempotency_window_ms,
              "120000", 0, MS_MAX,
              "how long client-supplied message ids are remembered"),
    OPT_RANGE("max-idle-interval-ms", OPT_INT64, max_idle_interval_ms,
              "15000", 1, MS_MAX,
              "realtime: longest outbound silence before a heartbeat"),
    OPT_RANGE("connection-state-ttl-ms", OPT_INT64, connection_state_ttl_ms,
              "120000", 1, MS_MAX,
              "realtime: how long a dropped connection can be resumed"),
    OPT_RANGE("comet-stream-ms", OPT_INT64, comet_stream_ms,
              "60000", 1, MS_MAX,
              "comet: a streaming recv is ended after this (the client "
              "asks again)"),
    OPT_RANGE("comet-recv-grace-ms", OPT_INT64, comet_recv_grace_ms,
              "10000", 0, MS_MAX,
              "comet: a connection without a recv for its heartbeat "
              "interval plus this is lost (the client resumes)"),
    OPT_RANGE("max-frame-size", OPT_INT64, max_frame_size,
              "524288", 1, BYTES_MAX,
              "realtime: largest inbound WebSocket message in bytes"),
    OPT_RANGE("max-inbound-rate", OPT_INT64, max_inbound_rate,
              "250", 1, INT32_MAX,
              "realtime: messages per second a connection may publish"),
    OPT_RANGE("max-outbound-bytes", OPT_INT64, max_outbound_bytes,
              "1048576", 1, BYTES_MAX,
              "realtime: unsent bytes a subscriber may fall behind by "
              "before it is disconnected"),
    OPT_RANGE("max-channels-per-connection", OPT_INT64,
              max_channels_per_connection, "200", 1, INT32_MAX,
              "realtime: channels a connection may have attached at once"),
    OPT_RANGE("presence-grace-ms", OPT_INT64, presence_grace_ms,
              "15000", 0, MS_MAX,
              "realtime: how long presence members outlive an abrupt "
              "disconnect (a client's remainPresentFor may shorten it, to "
              "1000 at least)"),
    OPT_RANGE("reattach-window-ms", OPT_INT64, reattach_window_ms,
              "15000", 0, MS_MAX,
              "realtime: after a resume or recover, how long a channel has "
              "to be attached again before the connection's members there "
              "leave"),
    OPT_RANGE("presence-max-members", OPT_INT64, presence_max_members,
              "250", 1, INT32_MAX,
              "presence members per channel, unless the app's "
              "limits.presence.maxMembers says otherwise"),
    OPT_RANGE("max-apps", OPT_INT64, max_apps,
              "1000", 1, INT32_MAX,
              "apps the registry may hold before POST /apps is refused "
              "(403, error 40128)"),
    OPT_RANGE("occupancy-interval-ms", OPT_INT64, occupancy_interval_ms,
              "15000", 0, MS_MAX,
              "[meta]occupancy events of a channel: the first change is sent "
              "at once, later ones at most once per this"),
    OPT_RANGE("node-timeout-ms", OPT_INT64, node_timeout_ms,
              "15000", 100, MS_MAX,
              "redis engine: a node that has not checked in for this long "
              "is taken for dead, and its presence members leave"),
    OPT_RANGE("stats-interval-ms", OPT_INT64, stats_interval_ms,
              "60000", 100, 60000,
              "app statistics: how often the current minute's counts are "
              "stored and published on [meta]stats:minute"),
    OPT_RANGE("webhook-retry-min-ms", OPT_INT64, webhook_retry_min_ms,
              "1000", 1, MS_MAX,
              "webhooks: a failing rule's first retry comes after this, each "
              "next one sqrt(2) times later"),
    OPT_RANGE("webhook-retry-max-ms", OPT_INT64, webhook_retry_max_ms,
              "60000", 1, MS_MAX, "webhooks: the longest delay between retries"),
    OPT_RANGE("webhook-retry-window-ms", OPT_INT64, webhook_retry_window_ms,
              "300000", 1, MS_MAX,
              "webhooks: a failing rule drops (and counts) events queued "
              "longer than this"),
    OPT_RANGE("webhook-batch-interval-ms", OPT_INT64,
              webhook_batch_interval_ms, "1000", 0, MS_MAX,
              "webhooks: a batch rule sends at most one request per this"),
    OPT_RANGE("webhook-batch-max", OPT_INT64, webhook_batch_max, "1000", 1,
              1000, "webhooks: the most events in one batch request"),
    OPT_RANGE("webhook-timeout-ms", OPT_INT64, webhook_timeout_ms, "15000",
              1, MS_MAX,
              "webhooks: a request without its answer by then has failed"),
    OPT_RANGE("webhook-queue-max", OPT_INT64, webhook_queue_max, "100000", 1,
              INT32_MAX,
              "webhooks: the events a rule queues; beyond, its oldest are "
              "dropped (and counted)"),
    OPT("metrics-key", OPT_STRING, metrics_key, NULL,
        "GET /metrics needs Authorization: Bearer <this key> (or the admin "
        "key)"),
    OPT("help", OPT_BOOL, help, "false", "print this help and exit"),
};

#define N_OPTIONS (sizeof options / sizeof options[0])

/* The table's maximum, within what the field's type holds. */
static int64_t option_max(const struct option_def *opt) {
  return opt->type == OPT_INT && opt->max > INT_MAX ? INT_MAX : opt->max;
}

static int set_from_text(struct config *cfg, const struct option_def *opt,
                         const char *text, herald_error *err) {
  void *field = (char *)cfg + opt->offset;
  char *end = NULL;
  switch (opt->type) {
  case OPT_STRING:
    herald_free(*(char **)field);
    *(char **)field = text ? herald_xstrdup(text) : NULL;
    return 0;
  case OPT_BOOL:
    if (!strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes"))
      *(bool *)field = true;
    else if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no"))
      *(bool *)field = false;
    else break;
    return 0;
  case OPT_INT:
  case OPT_INT64: {
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end) break;
    if (v < opt->min || v > option_max(opt))
      return herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "invalid value '%s' for option %s: must be "
                              "%" PRId64 " to %" PRId64,
                              text, opt->name, opt->min, option_max(opt));
    if (opt->type == OPT_INT) *(int *)field = (int)v;
    else *(int64_t *)field = v;
    return 0;
  }
  }
  return herald_error_set(err, HERALD_E_BAD_REQUEST,
                          "invalid value '%s' for option %s", text, opt->name);
}

static const struct option_def *find_option(const char *name, size_t len) {
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
      return &options[i];
  return NULL;
}

static void set_defaults(struct config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (options[i].default_value)
      set_from_text(cfg, &options[i], options[i].default_value, NULL);
}

/* Reads one file member: strings, integers and booleans become option
 * text, so the same validation applies as for flags. */
static int set_from_json(struct config *cfg, const struct option_def *opt,
                         json_t *value, herald_error *err) {
  char text[32];
  if (json_is_string(value))
    return set_from_text(cfg, opt, json_string_value(value), err);
  if (json_is_integer(value)) {
    snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
    return set_from_text(cfg, opt, text, err);
  }
  if (json_is_boolean(value))
    return set_from_text(cfg, opt, json_is_true(value) ? "true" : "false", err);
  return herald_error_set(err, HERALD_E_BAD_REQUEST,
                          "invalid type for option %s in config file",
                          opt->name);
}

static int load_file(struct config *cfg, const char *path, herald_error *err) {
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  if (!root || !json_is_object(root)) {
    json_decref(root);
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "cannot read config file %s: %s (line %d)", path,
                            root ? "not a JSON object" : jerr.text, jerr.line);
  }
  const char *key;
  json_t *value;
  int rc = 0;
  json_object_foreach(root, key, value) {
    const struct option_def *opt = find_option(key, strlen(key));
    if (!strcmp(key, "apps")) {
      json_decref(cfg->apps);
      cfg->apps = json_incref(value);
    } else if (!opt || !strcmp(key, "config")) {
      rc = herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "unknown option '%s' in config file %s", key, path);
    } else {
      rc = set_from_json(cfg, opt, value, err);
    }
    if (rc) break;
  }
  json_decref(root);
  return rc;
}

/* HERALD_<NAME> with the name upper-cased and '-' as '_'. */
static int load_environment(struct config *cfg, herald_error *err) {
  for (size_t i = 0; i < N_OPTIONS; i++) {
    char env_name[64] = "HERALD_";
    size_t n = strlen(env_name);
    for (const char *p = options[i].name; *p && n < sizeof env_name - 1; p++)
      env_name[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    env_name[n] = '\0';
    const char *value = getenv(env_name);
    if (value && *value) {
      int rc = set_from_text(cfg, &options[i], value, err);
      if (rc) return rc;
    }
  }
  const char *key = getenv("HERALD_KEY");
  if (key && *key) cfg->env_key = herald_xstrdup(key);
  return 0;
}

/* Parses "--name value", "--name=value" and bare "--flag" for booleans.
 * With only_config, reads just --config (the file is read before the other
 * flags so that flags override it). */
static int load_flags(struct config *cfg, int argc, char **argv,
                      bool only_config, herald_error *err) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0)
      return herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "unexpected argument '%s'", arg);
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct option_def *opt = find_option(name, len);
    if (!opt)
      return herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "unknown option '%s' (see --help)", arg);
    const char *value = eq ? eq + 1 : NULL;
    if (!value && opt->type == OPT_BOOL) value = "true";
    if (!value && i + 1 < argc) value = argv[++i];
    if (!value)
      return herald_error_set(err, HERALD_E_BAD_REQUEST,
                              "option --%s needs a value", opt->name);
    bool is_config = opt->offset == offsetof(struct config, config_path);
    if (only_config != is_config) continue;
    int rc = set_from_text(cfg, opt, value, err);
    if (rc) return rc;
  }
  return 0;
}

int config__load(struct config *cfg, int argc, char **argv, herald_error *err) {
  set_defaults(cfg);
  char *env_config = getenv("HERALD_CONFIG");
  if (env_config && *env_config) cfg->config_path = herald_xstrdup(env_config);
  int rc = load_flags(cfg, argc, argv, true, err);
  if (!rc && cfg->config_path) rc = load_file(cfg, cfg->config_path, err);
  if (!rc) rc = load_environment(cfg, err);
  if (!rc) rc = load_flags(cfg, argc, argv, false, err);
  /* One per core, at most CONFIG_MAX_THREADS: channel owners track
   * subscribing workers in a 64-bit set (fanout.c). */
  if (!rc && cfg->threads == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cores > 0 ? (int)cores : 1;
    if (cfg->threads > CONFIG_MAX_THREADS) cfg->threads = CONFIG_MAX_THREADS;
  }
  return rc;
}

void config__cleanup(struct config *cfg) {
  for (size_t i = 0; i < N_OPTIONS; i++) /* aliases share a field */
    if (options[i].type == OPT_STRING) {
      char **field = (char **)((char *)cfg + options[i].offset);
      herald_free(*field);
      *field = NULL;
    }
  json_decref(cfg->apps);
  herald_free(cfg->env_key);
  memset(cfg, 0, sizeof *cfg);
}

/* One --help line: help text, default and, for integers, the range. */
static void print_option(const struct option_def *opt) {
  printf("  --%-24s %s", opt->name, opt->help);
  bool ranged = opt->type == OPT_INT || opt->type == OPT_INT64;
  if (opt->default_value) printf(" [default: %s", opt->default_value);
  if (ranged)
    printf("%s%" PRId64 " to %" PRId64, opt->default_value ? "; " : " [",
           opt->min, option_max(opt));
  printf("%s\n", opt->default_value || ranged ? "]" : "");
}

void config__print_help(const char *program) {
  printf("usage: %s [--option value ...]\n\n"
         "Options (also \"name\": value in the --config file, or the\n"
         "environment variable HERALD_<NAME> with '-' as '_'):\n\n",
         program);
  for (size_t i = 0; i < N_OPTIONS; i++) print_option(&options[i]);
  printf("\nHERALD_KEY=appId.keyId:secret adds that key with full capability.\n"
         "With no apps configured, a development app and key are created in\n"
         "the data directory on first start and reused afterwards.\n");
}
