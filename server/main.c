/* main.c -- heraldd's entry point: read the configuration, run the server. */
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "hashmap.h"
#include "server.h"

static enum log_level parse_level(const char *name) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, names[i])) return (enum log_level)i;
  return LOG_INFO;
}

/* Every connection is a descriptor: allow as many as the hard limit does. */
static void raise_fd_limit(void) {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

/* glibc hands a heap's free top back to the kernel once it passes 128 KiB
 * and grows the heap again by as much: with connections and requests
 * coming and going, that ping-pong cost madvise calls (each a TLB shootdown
 * across the cores) and page faults. Up to 32 MiB per heap stays mapped;
 * blocks under 4 MiB come from the heaps rather than their own mappings. */
static void tune_allocator(void) {
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

int main(int argc, char **argv) {
  struct config cfg;
  herald_error err;
  signal(SIGPIPE, SIG_IGN);
  if (hashmap__seed_random() != 0) { /* before any map and any thread */
    fprintf(stderr, "heraldd: cannot initialise libsodium\n");
    return 1;
  }
  raise_fd_limit();
  tune_allocator();
  if (config__load(&cfg, argc, argv, &err) != 0) {
    fprintf(stderr, "heraldd: %s\n", err.message);
    config__cleanup(&cfg);
    return 2;
  }
  if (cfg.help) {
    config__print_help(argv[0]);
    config__cleanup(&cfg);
    return 0;
  }
  log__set_level(parse_level(cfg.log_level));
  struct server server;
  int status = server__run(&server, &cfg);
  config__cleanup(&cfg);
  return status;
}
