/* options.c -- herald-bench's command line (see options.h): one table of
 * options (name, type, field, help) drives both parsing and the usage
 * text; options__check refuses what cannot make a run. */
#include "options.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

#define MAX_THREADS 64

enum option_kind {
  OPTION_STRING,
  OPTION_INT,
  OPTION_NUMBER,
  OPTION_FLAG,
  OPTION_PORTS, /* struct bench_ports: P[,P...] */
};

struct option_spec {
  const char *name;
  enum option_kind kind;
  size_t offset;
  const char *value;
  const char *help;
};

#define OPTION(name, kind, field, value, help) \
  {name, kind, offsetof(struct bench_options, field), value, help}

static const struct option_spec option_specs[] = {
    OPTION("server", OPTION_STRING, server, "herald|nchan", "server kind"),
    OPTION("protocol", OPTION_STRING, protocol_name, "PROTO",
           "protocol (list below)"),
    OPTION("host", OPTION_STRING, host, "HOST",
           "127.0.0.1 (default), ::1 or localhost: loopback only"),
    OPTION("port", OPTION_PORTS, ports, "P[,P...]",
           "server port; several: the nodes of a cluster, each channel's "
           "connections spread over them"),
    OPTION("key", OPTION_STRING, key, "appId.keyId:secret",
           "Herald API key (herald only)"),
    OPTION("subscribers", OPTION_INT, subscribers, "N",
           "subscriber connections (default 1000)"),
    OPTION("channels", OPTION_INT, channels, "M",
           "channels bench-0 .. bench-<M-1> (default 1)"),
    OPTION("publishers", OPTION_INT, publishers, "K",
           "publisher connections (default 1)"),
    OPTION("rate", OPTION_NUMBER, rate, "R",
           "messages/s over all publishers; 0: as fast as acks allow "
           "(default 100)"),
    OPTION("size", OPTION_INT, size, "B",
           "payload bytes, at least 24 (default 100)"),
    OPTION("duration", OPTION_NUMBER, duration_s, "S",
           "measured publishing time; with --idle, the hold (default 10)"),
    OPTION("warmup", OPTION_NUMBER, warmup_s, "S",
           "publishing before the measurement starts (default 1)"),
    OPTION("threads", OPTION_INT, threads, "T",
           "event-loop threads sharing the connections (default 1)"),
    OPTION("connect-concurrency", OPTION_INT, connect_concurrency, "C",
           "connections being set up at once (default 200)"),
    OPTION("idle", OPTION_FLAG, idle, NULL,
           "connect the subscribers, hold them, publish nothing"),
};

#define N_OPTION_SPECS (sizeof option_specs / sizeof option_specs[0])

void options__usage(FILE *out) {
  fprintf(out, "usage: herald-bench --server S --protocol PROTO --port P[,P...] "
               "[options]\n\n");
  for (size_t i = 0; i < N_OPTION_SPECS; i++) {
    const struct option_spec *o = &option_specs[i];
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", o->name, o->value ? " " : "",
             o->value ? o->value : "");
    fprintf(out, "  %-34s %s\n", left, o->help);
  }
  fprintf(out, "\nprotocols:\n");
  protocol__list(out);
  fprintf(out, "\nPrints one JSON object on stdout; progress on stderr.\n");
}

static const struct option_spec *find_option(const char *name) {
  for (size_t i = 0; i < N_OPTION_SPECS; i++)
    if (!strcmp(option_specs[i].name, name)) return &option_specs[i];
  return NULL;
}

/* Parses "P[,P...]" (1 .. 65535 each, at most BENCH_MAX_NODES). Returns 0
 * or -1. */
static int parse_ports(struct bench_ports *ports, const char *value) {
  ports->n = 0;
  for (const char *c = value;; c++) {
    char *end = NULL;
    long n = strtol(c, &end, 10);
    if (end == c || n < 1 || n > 65535 || ports->n == BENCH_MAX_NODES)
      return -1;
    ports->port[ports->n++] = (int)n;
    if (!*end) return 0;
    if (*end != ',') return -1;
    c = end;
  }
}

/* Stores value into the field o describes. Returns 0 or -1. */
static int set_option(struct bench_options *opt, const struct option_spec *o,
                      const char *value) {
  void *field = (char *)opt + o->offset;
  char *end = NULL;
  switch (o->kind) {
    case OPTION_STRING:
      *(const char **)field = value;
      return 0;
    case OPTION_INT: {
      long n = strtol(value, &end, 10);
      *(int *)field = (int)n;
      return *end || end == value || n < 0 || n > 100000000 ? -1 : 0;
    }
    case OPTION_NUMBER:
      *(double *)field = strtod(value, &end);
      return *end || end == value || *(double *)field < 0 ? -1 : 0;
    case OPTION_FLAG:
      *(bool *)field = true;
      return 0;
    case OPTION_PORTS:
      return parse_ports(field, value);
  }
  return -1;
}

static void default_options(struct bench_options *opt) {
  *opt = (struct bench_options){
      .host = "127.0.0.1",
      .subscribers = 1000,
      .channels = 1,
      .publishers = 1,
      .threads = 1,
      .size = 100,
      .connect_concurrency = 200,
      .rate = 100,
      .duration_s = 10,
      .warmup_s = 1,
  };
}

int options__parse(int argc, char **argv, struct bench_options *opt) {
  default_options(opt);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    const struct option_spec *o =
        strncmp(argv[i], "--", 2) ? NULL : find_option(argv[i] + 2);
    if (!o) {
      fprintf(stderr, "herald-bench: unknown option %s\n", argv[i]);
      return -1;
    }
    const char *value = o->kind == OPTION_FLAG ? "" : argv[++i];
    if (!value || set_option(opt, o, value)) {
      fprintf(stderr, "herald-bench: --%s needs %s\n", o->name, o->value);
      return -1;
    }
  }
  return 0;
}

/* ---- Checking ------------------------------------------------------------- */

int options__check(const struct bench_options *opt) {
  if (!opt->server || !opt->protocol_name || !opt->ports.n)
    return bench__refuse("--server, --protocol and --port are required");
  if (!strcmp(opt->server, "herald") && !opt->key)
    return bench__refuse("--key is required for herald");
  if (opt->size < 24 || opt->size > (1 << 20))
    return bench__refuse("--size is 24 .. 1048576 bytes (the payload starts with "
                  "the send time)");
  if (opt->channels < 1) return bench__refuse("--channels is at least 1");
  if (!opt->idle && opt->publishers < 1)
    return bench__refuse("--publishers is at least 1 (or use --idle)");
  if (opt->threads < 1 || opt->threads > MAX_THREADS)
    return bench__refuse("--threads is 1 .. 64");
  if (opt->duration_s <= 0) return bench__refuse("--duration must be positive");
  return 0;
}
