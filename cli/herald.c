/* herald.c -- the command-line client, on libherald's public API only:
 * global options, one function per command, --help for each, output as
 * text or --json, and errors as "herald: <code> (<status>): <message>" with
 * exit status 1 (2 for a usage error). */
#include <getopt.h>
#include <herald/herald.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli {
  herald_options o;
  bool json;
  const char *type; /* publish data: string, json, base64 */
  const char *name, *client_id, *id, *extras, *cipher_key, *capability;
  const char *unit, *prefix, *body;
  int limit, count;
  long long start, end, ttl;
  bool forwards, presence_history, token_request;
  const char *fallbacks[9];
  int n_fallbacks;
  int argc;
  char **argv; /* the command's positional arguments */
};

struct command {
  const char *name;
  const char *usage;
  int (*run)(struct cli *, herald_client *);
};

static const struct command *find_command(const char *name);

static int fail(const struct cli *cli, const herald_error *e) {
  if (cli->json) {
    json_t *o = json_pack("{s:{s:i, s:i, s:s, s:s}}", "error", "code", e->code,
                          "statusCode", e->status, "message", e->message,
                          "href", e->href);
    char *text = json_dumps(o, JSON_COMPACT);
    fprintf(stderr, "%s\n", text);
    free(text);
    json_decref(o);
  } else
    fprintf(stderr, "herald: error %d (%d): %s\n", e->code, e->status, e->message);
  return 1;
}

static int usage_error(const char *what) {
  fprintf(stderr, "herald: %s (herald --help)\n", what);
  return 2;
}

/* ---- output ------------------------------------------------------------ */

static char *base64(const char *bytes, size_t len) {
  char *out = malloc(4 * ((len + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)bytes, (int)len);
  return out;
}

static json_t *message_json(const herald_message *m, const char *channel) {
  json_t *o = json_object();
  const struct { const char *k, *v; } s[] = {
      {"channel", channel}, {"id", m->id}, {"name", m->name},
      {"clientId", m->client_id}, {"connectionId", m->connection_id},
      {"serial", m->serial}};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
    if (s[i].v) json_object_set_new(o, s[i].k, json_string(s[i].v));
  json_error_t e;
  if (m->data.type == HERALD_DATA_JSON)
    json_object_set_new(o, "data", json_loads(m->data.bytes, 0, &e));
  else if (m->data.type == HERALD_DATA_STRING)
    json_object_set_new(o, "data", json_stringn(m->data.bytes, m->data.len));
  else if (m->data.type == HERALD_DATA_BINARY) {
    char *b = base64(m->data.bytes, m->data.len);
    json_object_set_new(o, "data", json_string(b));
    free(b);
  }
  const char *enc = m->data.type == HERALD_DATA_BINARY ? "base64" : NULL;
  if (m->encoding || enc) {
    char both[256];
    snprintf(both, sizeof both, "%s%s%s", m->encoding ? m->encoding : "",
             m->encoding && enc ? "/" : "", enc ? enc : "");
    json_object_set_new(o, "encoding", json_string(both));
  }
  if (m->extras) json_object_set_new(o, "extras", json_loads(m->extras, 0, &e));
  if (m->timestamp) json_object_set_new(o, "timestamp", json_integer(m->timestamp));
  json_object_set_new(o, "action", json_integer(m->action));
  return o;
}

static void print_message(const struct cli *cli, const herald_message *m,
                          const char *channel) {
  if (cli->json) {
    json_t *o = message_json(m, channel);
    char *text = json_dumps(o, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(o);
  } else {
    char *b = m->data.type == HERALD_DATA_BINARY ? base64(m->data.bytes, m->data.len) : NULL;
    printf("%s%s%s%s: %s%s\n", channel ? channel : "", channel ? " " : "",
           m->name ? m->name : "", m->client_id ? " " : "",
           b ? "base64:" : "", b ? b : m->data.bytes ? m->data.bytes : "");
    free(b);
  }
  fflush(stdout);
}

static int print_pages(struct cli *cli, herald_page *p, bool messages) {
  herald_error err;
  int rc = 0;
  while (p) {
    for (size_t i = 0; i < herald_page_count(p); i++) {
      if (messages) print_message(cli, herald_page_message(p, i), NULL);
      else puts(herald_page_json(p, i));
    }
    herald_page *next = NULL;
    if (cli->limit == 0) rc = herald_page_next(p, &next, &err); /* all pages */
    herald_page_free(p);
    if (rc) return fail(cli, &err);
    p = next;
  }
  return 0;
}

/* ---- commands -------------------------------------------------------- */

static herald_channel *channel_of(struct cli *cli, herald_client *c,
                                  const char *name,
                                  herald_cipher_params *cp, int *rc) {
  herald_error err;
  *rc = 0;
  if (cli->cipher_key &&
      herald_cipher_params_from_base64(cp, cli->cipher_key, &err)) {
    *rc = fail(cli, &err);
    return NULL;
  }
  herald_channel_options opts = {.cipher = cli->cipher_key ? cp : NULL};
  return herald_channel_new(c, name, &opts);
}

static int data_of(const struct cli *cli, const char *text, herald_data *d,
                   unsigned char **owned) {
  *owned = NULL;
  if (!cli->type || !strcmp(cli->type, "string")) *d = herald_string(text);
  else if (!strcmp(cli->type, "json")) *d = herald_json(text);
  else if (!strcmp(cli->type, "base64")) {
    size_t len = strlen(text);
    *owned = malloc(len + 1);
    int n = EVP_DecodeBlock(*owned, (const unsigned char *)text, (int)len);
    if (n < 0) return usage_error("DATA is not base64");
    while (len && text[len - 1] == '=') len--, n--;
    *d = herald_binary(*owned, (size_t)n);
  } else return usage_error("--type is string, json or base64");
  return 0;
}

static int cmd_publish(struct cli *cli, herald_client *c) {
  if (cli->argc < 2 || cli->argc > 3) return usage_error("publish CHANNEL [NAME] DATA");
  herald_cipher_params cp;
  int rc;
  herald_channel *ch = channel_of(cli, c, cli->argv[0], &cp, &rc);
  if (!ch) return rc;
  unsigned char *owned;
  herald_message m = {.name = cli->argc == 3 ? cli->argv[1] : cli->name,
                      .client_id = cli->client_id, .id = cli->id,
                      .extras = cli->extras};
  rc = data_of(cli, cli->argv[cli->argc - 1], &m.data, &owned);
  herald_error err;
  if (!rc && herald_publish(ch, &m, 1, &err)) rc = fail(cli, &err);
  free(owned);
  herald_channel_free(ch);
  return rc;
}

static int cmd_history(struct cli *cli, herald_client *c) {
  if (cli->argc != 1) return usage_error("history CHANNEL");
  herald_cipher_params cp;
  int rc;
  herald_channel *ch = channel_of(cli, c, cli->argv[0], &cp, &rc);
  if (!ch) return rc;
  herald_history_params hp = {.start = cli->start, .end = cli->end,
                              .limit = cli->limit,
                              .direction = cli->forwards ? HERALD_FORWARDS : HERALD_BACKWARDS};
  herald_page *p;
  herald_error err;
  rc = herald_history(ch, &hp, &p, &err) ? fail(cli, &err) : print_pages(cli, p, true);
  herald_channel_free(ch);
  return rc;
}

static int cmd_presence(struct cli *cli, herald_client *c) {
  if (cli->argc != 1) return usage_error("presence CHANNEL");
  herald_cipher_params cp;
  int rc;
  herald_channel *ch = channel_of(cli, c, cli->argv[0], &cp, &rc);
  if (!ch) return rc;
  herald_page *p;
  herald_error err;
  if (cli->presence_history) {
    herald_history_params hp = {.start = cli->start, .end = cli->end, .limit = cli->limit,
                                .direction = cli->forwards ? HERALD_FORWARDS : HERALD_BACKWARDS};
    rc = herald_presence_history(ch, &hp, &p, &err);
  } else {
    herald_presence_params pp = {.limit = cli->limit, .client_id = cli->client_id};
    rc = herald_presence_get(ch, &pp, &p, &err);
  }
  rc = rc ? fail(cli, &err) : print_pages(cli, p, true);
  herald_channel_free(ch);
  return rc;
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

struct sub_state {
  struct cli *cli;
  int received;
};

static int on_message(const char *channel, const herald_message *m, void *ud) {
  struct sub_state *s = ud;
  print_message(s->cli, m, channel);
  return s->cli->count && ++s->received >= s->cli->count;
}

static void on_open(void *ud) {
  (void)ud;
  fprintf(stderr, "herald: subscribed\n");
}

static int cmd_subscribe(struct cli *cli, herald_client *c) {
  if (cli->argc < 1) return usage_error("subscribe CHANNEL...");
  herald_cipher_params cp;
  herald_error err;
  if (cli->cipher_key && herald_cipher_params_from_base64(&cp, cli->cipher_key, &err))
    return fail(cli, &err);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  const char **channels = calloc((size_t)cli->argc + 1, sizeof *channels);
  for (int i = 0; i < cli->argc; i++) channels[i] = cli->argv[i];
  herald_subscribe_options so = {.cipher = cli->cipher_key ? &cp : NULL,
                                 .cancel = &interrupted, .on_open = on_open};
  struct sub_state s = {cli, 0};
  int rc = herald_subscribe(c, channels, &so, on_message, &s, &err);
  free(channels);
  return rc ? fail(cli, &err) : 0;
}

static void print_token(const struct cli *cli, const herald_token_details *td) {
  if (!cli->json) {
    puts(td->token);
    return;
  }
  json_t *o = json_pack("{s:s,s:I,s:I}", "token", td->token, "expires",
                        (json_int_t)td->expires, "issued", (json_int_t)td->issued);
  if (td->capability) json_object_set_new(o, "capability", json_string(td->capability));
  if (td->client_id) json_object_set_new(o, "clientId", json_string(td->client_id));
  char *text = json_dumps(o, JSON_COMPACT);
  puts(text);
  free(text);
  json_decref(o);
}

static int cmd_token(struct cli *cli, herald_client *c) {
  herald_token_params tp = {.ttl = cli->ttl, .capability = cli->capability,
                            .client_id = cli->client_id};
  herald_error err;
  if (cli->token_request) {
    char *json;
    if (herald_create_token_request(c, &tp, &json, &err)) return fail(cli, &err);
    puts(json);
    herald_free(json);
    return 0;
  }
  herald_token_details *td;
  if (herald_request_token(c, &tp, &td, &err)) return fail(cli, &err);
  print_token(cli, td);
  herald_token_details_free(td);
  return 0;
}

static int cmd_stats(struct cli *cli, herald_client *c) {
  herald_stats_params sp = {.start = cli->start, .end = cli->end, .limit = cli->limit,
                            .unit = cli->unit,
                            .direction = cli->forwards ? HERALD_FORWARDS : HERALD_BACKWARDS};
  herald_page *p;
  herald_error err;
  if (herald_stats(c, &sp, &p, &err)) return fail(cli, &err);
  return print_pages(cli, p, false);
}

static int cmd_time(struct cli *cli, herald_client *c) {
  int64_t t;
  herald_error err;
  if (herald_time(c, &t, &err)) return fail(cli, &err);
  printf("%lld\n", (long long)t);
  return 0;
}

/* Answers of herald_request: the items, or the error they carry. */
static int request_and_print(struct cli *cli, herald_client *c, const char *method,
                             const char *path, const char *const *params,
                             const char *body, herald_page **keep) {
  herald_page *p;
  herald_error err;
  if (herald_request(c, method, path, params, body, NULL, &p, &err)) return fail(cli, &err);
  if (herald_page_error(p)) {
    int rc = fail(cli, herald_page_error(p));
    herald_page_free(p);
    return rc;
  }
  if (keep) {
    *keep = p;
    return 0;
  }
  return print_pages(cli, p, false);
}

static int cmd_channels(struct cli *cli, herald_client *c) {
  char limit[16];
  snprintf(limit, sizeof limit, "%d", cli->limit ? cli->limit : 100);
  const char *params[] = {"by", "id", "limit", limit, cli->prefix ? "prefix" : NULL, cli->prefix, NULL};
  return request_and_print(cli, c, "GET", "/channels", params, NULL, NULL);
}

static int cmd_batch_publish(struct cli *cli, herald_client *c) {
  if (cli->argc < 2 || cli->argc > 3)
    return usage_error("batch-publish CHANNEL[,CHANNEL...] [NAME] DATA");
  char *names = strdup(cli->argv[0]);
  const char *channels[101] = {0};
  int n = 0;
  for (char *save, *t = strtok_r(names, ",", &save); t && n < 100; t = strtok_r(NULL, ",", &save))
    channels[n++] = t;
  unsigned char *owned;
  herald_message m = {.name = cli->argc == 3 ? cli->argv[1] : cli->name,
                      .client_id = cli->client_id, .extras = cli->extras};
  int rc = data_of(cli, cli->argv[cli->argc - 1], &m.data, &owned);
  herald_batch_spec spec = {.channels = channels, .messages = &m, .message_count = 1};
  herald_batch_results *r = NULL;
  herald_error err;
  if (!rc && herald_batch_publish(c, &spec, 1, &r, &err)) rc = fail(cli, &err);
  for (size_t i = 0; r && i < r->count; i++) {
    if (cli->json) puts(r->items[i].json);
    else if (r->items[i].failed)
      printf("%s: error %d: %s\n", r->items[i].channel, r->items[i].error.code, r->items[i].error.message);
    else printf("%s: %s\n", r->items[i].channel, r->items[i].message_id);
  }
  if (r && r->failure_count) rc = 1;
  herald_batch_results_free(r);
  free(owned);
  free(names);
  return rc;
}

static int cmd_apps(struct cli *cli, herald_client *c) {
  if (cli->argc != 1 || strcmp(cli->argv[0], "create"))
    return usage_error("apps create [--body JSON]");
  herald_page *p;
  int rc = request_and_print(cli, c, "POST", "/apps", NULL,
                             cli->body ? cli->body : "{\"keys\":[{}]}", &p);
  if (rc) return rc;
  json_error_t e;
  json_t *app = json_loads(herald_page_json(p, 0), 0, &e);
  json_t *key = json_object_get(json_array_get(json_object_get(app, "keys"), 0), "keyStr");
  if (cli->json || !key) puts(herald_page_json(p, 0));
  else puts(json_string_value(key));
  json_decref(app);
  herald_page_free(p);
  return 0;
}

static const struct command commands[] = {
    {"publish", "publish CHANNEL [NAME] DATA [--type string|json|base64] [--client-id ID] [--id ID] [--extras JSON] [--cipher-key KEY]\n  Publishes one message.", cmd_publish},
    {"history", "history CHANNEL [--limit N] [--forwards] [--start MS] [--end MS] [--cipher-key KEY]\n  Prints the channel's messages, newest first (every page without --limit).", cmd_history},
    {"presence", "presence CHANNEL [--history] [--limit N] [--client-id ID]\n  Prints the members present, or the presence history.", cmd_presence},
    {"subscribe", "subscribe CHANNEL... [--count N] [--cipher-key KEY]\n  Prints each message as it arrives (SSE) until Ctrl-C or N messages.", cmd_subscribe},
    {"token", "token [--request] [--ttl MS] [--capability JSON] [--client-id ID]\n  Issues a token (with --request: prints a signed TokenRequest).", cmd_token},
    {"stats", "stats [--unit minute|hour|day|month] [--limit N] [--start MS] [--end MS] [--forwards]\n  Prints the app's statistics.", cmd_stats},
    {"time", "time\n  Prints the server's time (ms since the epoch).", cmd_time},
    {"channels", "channels [--prefix P] [--limit N]\n  Lists the active channels.", cmd_channels},
    {"batch-publish", "batch-publish CHANNEL[,CHANNEL...] [NAME] DATA [--type ...]\n  Publishes one message to several channels in one request.", cmd_batch_publish},
    {"apps", "apps create [--body JSON]\n  Creates an app on a sandbox (POST /apps) and prints its first key.", cmd_apps},
};

static const struct command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(commands[i].name, name)) return &commands[i];
  return NULL;
}

static void help(const struct command *cmd) {
  if (cmd) {
    printf("usage: herald %s\n", cmd->usage);
  } else {
    puts("usage: herald [options] COMMAND [args]\n\ncommands:");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
      printf("  %s\n", commands[i].usage);
  }
  puts("\noptions: --key KEY (or HERALD_KEY)  --token TOKEN (or HERALD_TOKEN)\n"
       "  --endpoint HOST (localhost)  --port N  --tls | --no-tls (no TLS for\n"
       "  localhost and 127.0.0.1 by default)  --fallback HOST[:PORT]...\n"
       "  --protocol json|msgpack  --json (JSON output)  --help");
}

enum { O_KEY = 256, O_TOKEN, O_ENDPOINT, O_PORT, O_TLS, O_NO_TLS, O_FALLBACK,
       O_PROTOCOL, O_JSON, O_TYPE, O_NAME, O_CLIENT_ID, O_ID, O_EXTRAS,
       O_CIPHER, O_LIMIT, O_START, O_END, O_FORWARDS, O_HISTORY, O_COUNT,
       O_REQUEST, O_TTL, O_CAPABILITY, O_UNIT, O_PREFIX, O_BODY, O_HELP };

static const struct option longopts[] = {
    {"key", 1, 0, O_KEY}, {"token", 1, 0, O_TOKEN}, {"endpoint", 1, 0, O_ENDPOINT},
    {"port", 1, 0, O_PORT}, {"tls", 0, 0, O_TLS}, {"no-tls", 0, 0, O_NO_TLS},
    {"fallback", 1, 0, O_FALLBACK}, {"protocol", 1, 0, O_PROTOCOL},
    {"json", 0, 0, O_JSON}, {"type", 1, 0, O_TYPE}, {"name", 1, 0, O_NAME},
    {"client-id", 1, 0, O_CLIENT_ID}, {"id", 1, 0, O_ID}, {"extras", 1, 0, O_EXTRAS},
    {"cipher-key", 1, 0, O_CIPHER}, {"limit", 1, 0, O_LIMIT}, {"start", 1, 0, O_START},
    {"end", 1, 0, O_END}, {"forwards", 0, 0, O_FORWARDS}, {"history", 0, 0, O_HISTORY},
    {"count", 1, 0, O_COUNT}, {"request", 0, 0, O_REQUEST}, {"ttl", 1, 0, O_TTL},
    {"capability", 1, 0, O_CAPABILITY}, {"unit", 1, 0, O_UNIT},
    {"prefix", 1, 0, O_PREFIX}, {"body", 1, 0, O_BODY}, {"help", 0, 0, O_HELP},
    {0, 0, 0, 0}};

/* Options that set a field of the client's options; 0 when opt is not one. */
static int client_option(struct cli *cli, int opt, const char *arg) {
  switch (opt) {
  case O_KEY: cli->o.key = arg; break;
  case O_TOKEN: cli->o.token = arg; break;
  case O_ENDPOINT: cli->o.endpoint = arg; break;
  case O_PORT: cli->o.port = atoi(arg); break;
  case O_TLS: cli->o.tls = HERALD_TLS_ON; break;
  case O_NO_TLS: cli->o.tls = HERALD_TLS_OFF; break;
  case O_FALLBACK:
    if (cli->n_fallbacks < 8) cli->fallbacks[cli->n_fallbacks++] = arg;
    break;
  case O_PROTOCOL: cli->o.use_binary_protocol = strcmp(arg, "json") != 0; break;
  default: return 0;
  }
  return 1;
}

static int command_option(struct cli *cli, int opt, const char *arg) {
  switch (opt) {
  case O_JSON: cli->json = true; break;
  case O_TYPE: cli->type = arg; break;
  case O_NAME: cli->name = arg; break;
  case O_CLIENT_ID: cli->client_id = arg; break;
  case O_ID: cli->id = arg; break;
  case O_EXTRAS: cli->extras = arg; break;
  case O_CIPHER: cli->cipher_key = arg; break;
  case O_LIMIT: cli->limit = atoi(arg); break;
  case O_START: cli->start = atoll(arg); break;
  case O_END: cli->end = atoll(arg); break;
  case O_FORWARDS: cli->forwards = true; break;
  case O_HISTORY: cli->presence_history = true; break;
  case O_COUNT: cli->count = atoi(arg); break;
  case O_REQUEST: cli->token_request = true; break;
  case O_TTL: cli->ttl = atoll(arg); break;
  case O_CAPABILITY: cli->capability = arg; break;
  case O_UNIT: cli->unit = arg; break;
  case O_PREFIX: cli->prefix = arg; break;
  case O_BODY: cli->body = arg; break;
  default: return 0;
  }
  return 1;
}

/* An environment variable, unset when empty. */
static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

int main(int argc, char **argv) {
  struct cli cli = {0};
  herald_options_init(&cli.o);
  cli.o.key = env("HERALD_KEY");
  cli.o.token = env("HERALD_TOKEN");
  bool want_help = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (opt == 'h' || opt == O_HELP) want_help = true;
    else if (!client_option(&cli, opt, optarg) && !command_option(&cli, opt, optarg))
      return usage_error("unknown option");
  }
  const struct command *cmd = optind < argc ? find_command(argv[optind]) : NULL;
  if (want_help || optind >= argc) {
    help(cmd);
    return optind >= argc && !want_help ? 2 : 0;
  }
  if (!cmd) return usage_error("unknown command");
  cli.o.fallback_hosts = cli.n_fallbacks ? cli.fallbacks : NULL;
  cli.argc = argc - optind - 1;
  cli.argv = argv + optind + 1;
  herald_error err;
  herald_client *c = herald_client_new(&cli.o, &err);
  if (!c) return fail(&cli, &err);
  int rc = cmd->run(&cli, c);
  herald_client_free(c);
  return rc;
}
