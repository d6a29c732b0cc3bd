/* fuzz_config.c -- libFuzzer target for heraldd's configuration file
 * (server/core/config.c config__load with --config, then the file's "apps"
 * through server/auth/apps.c apps__init), as `heraldd --config FILE` reads it.
 * The input is the file (written to a memfd, read by path); no HERALD_*
 * variable is set.
 *
 * For every input: loading ends in a configuration or an error without a
 * crash or leak, and a loaded configuration
 *  - is one heraldd can run with: port 0..65535, 1..64 threads, no
 *    negative size or time;
 *  - is the one the same options give as --name=value flags;
 *  - has registered every key its apps name, findable by its keyName.
 * apps__init runs only when the file names an app, with data-dir set to a
 * temporary directory, so no development key is written elsewhere. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "auth/apps.h"
#include "core/config.h"
#include "core/log.h"

#define MAX_FLAGS 64

static int fd = -1;
static char path[64];
static char data_dir[] = "/tmp/fuzz_config.XXXXXX";

static void fail(const char *what) {
  fprintf(stderr, "config: %s\n", what);
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fd = memfd_create("fuzz_config", 0);
  if (fd < 0 || !mkdtemp(data_dir)) fail("no memfd or temporary directory");
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  for (char **e = environ; *e;)
    if (!strncmp(*e, "HERALD_", 7)) {
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
      unsetenv(name);
    } else {
      e++;
    }
  log__set_level(LOG_ERROR);
  return 0;
}

static void check_ranges(const struct config *c) {
  if (c->port < 0 || c->port > 65535) fail("a port out of range");
  if (c->threads < 1 || c->threads > CONFIG_MAX_THREADS) fail("threads out of range");
  const int64_t values[] = {
      c->token_window_ms,     c->max_message_size,       c->max_body_size,
      c->max_header_size,     c->retention_ms,           c->persisted_retention_ms,
      c->idempotency_window_ms, c->max_idle_interval_ms, c->connection_state_ttl_ms,
      c->max_frame_size,      c->max_inbound_rate,       c->max_outbound_bytes,
      c->presence_grace_ms,   c->reattach_window_ms,     c->presence_max_members};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
    if (values[i] < 0) fail("a negative size or time");
}

static bool same_text(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* The fields config.h declares, but the file path and the apps. */
static bool same_config(const struct config *a, const struct config *b) {
  return a->port == b->port && a->threads == b->threads &&
         a->sandbox == b->sandbox && a->help == b->help &&
         same_text(a->bind, b->bind) && same_text(a->data_dir, b->data_dir) &&
         same_text(a->engine, b->engine) &&
         same_text(a->redis, b->redis) && same_text(a->admin_key, b->admin_key) &&
         same_text(a->log_level, b->log_level) &&
         a->token_window_ms == b->token_window_ms &&
         a->max_message_size == b->max_message_size &&
         a->max_body_size == b->max_body_size &&
         a->max_header_size == b->max_header_size &&
         a->retention_ms == b->retention_ms &&
         a->persisted_retention_ms == b->persisted_retention_ms &&
         a->idempotency_window_ms == b->idempotency_window_ms &&
         a->max_idle_interval_ms == b->max_idle_interval_ms &&
         a->connection_state_ttl_ms == b->connection_state_ttl_ms &&
         a->max_frame_size == b->max_frame_size &&
         a->max_inbound_rate == b->max_inbound_rate &&
         a->max_outbound_bytes == b->max_outbound_bytes &&
         a->presence_grace_ms == b->presence_grace_ms &&
         a->reattach_window_ms == b->reattach_window_ms &&
         a->presence_max_members == b->presence_max_members;
}

/* The file's members but "apps" as --name=value flags, loaded. */
static void check_as_flags(const struct config *from_file) {
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  char *argv[MAX_FLAGS + 1] = {"heraldd"};
  int argc = 1;
  const char *key;
  json_t *value;
  json_object_foreach(root, key, value) {
    if (!strcmp(key, "apps")) continue;
    if (argc == MAX_FLAGS) goto out;
    int n;
    if (json_is_string(value))
      n = asprintf(&argv[argc], "--%s=%s", key, json_string_value(value));
    else if (json_is_integer(value))
      n = asprintf(&argv[argc], "--%s=%lld", key, (long long)json_integer_value(value));
    else
      n = asprintf(&argv[argc], "--%s=%s", key, json_is_true(value) ? "true" : "false");
    if (n < 0) fail("out of memory");
    argc++;
  }
  struct config from_flags;
  herald_error err;
  if (config__load(&from_flags, argc, argv, &err))
    fail("flags refuse what the file gives");
  if (!same_config(from_file, &from_flags)) fail("flags and file give other values");
  config__cleanup(&from_flags);
out:
  for (int i = 1; i < argc; i++) free(argv[i]);
  json_decref(root);
}

/* Every "key" of every app in the file, by its keyName. */
static void check_keys(struct apps *apps, const json_t *defs) {
  for (size_t i = 0; i < json_array_size(defs); i++) {
    const json_t *keys = json_object_get(json_array_get(defs, i), "keys");
    for (size_t j = 0; j < json_array_size(keys); j++) {
      const char *text = json_string_value(json_object_get(json_array_get(keys, j), "key"));
      struct app *app;
      const struct key *k;
      herald_error err;
      if (apps__find_key(apps, text, strcspn(text, ":"), &app, &k, &err))
        fail("a configured key is not found");
      apps__release(app);
    }
  }
}

static void check_apps(struct config *cfg) {
  if (json_array_size(cfg->apps) == 0) return;
  herald_free(cfg->data_dir);
  cfg->data_dir = herald_xstrdup(data_dir);
  struct apps apps;
  char *dev_key;
  herald_error err;
  if (apps__init(&apps, cfg, &dev_key, &err) == 0) {
    if (dev_key) fail("a development key with apps configured");
    check_keys(&apps, cfg->apps);
  }
  apps__cleanup(&apps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
    fail("cannot write the memfd");
  char *argv[] = {"heraldd", "--config", path, NULL};
  struct config cfg;
  herald_error err;
  if (config__load(&cfg, 3, argv, &err) == 0) {
    check_ranges(&cfg);
    check_as_flags(&cfg);
    check_apps(&cfg);
  }
  config__cleanup(&cfg);
  return 0;
}
