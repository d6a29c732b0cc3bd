/* main.c -- heraldd's entry point: read the configuration, run the server. */
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
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

int main(int argc, char **argv) {
  struct config cfg;
  herald_error err;
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
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
