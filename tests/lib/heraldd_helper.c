/* heraldd_helper.c -- the real heraldd for libherald's tests (see
 * heraldd_helper.h). */
#include "heraldd_helper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char config[] =
    "{\"apps\":[{\"id\":\"testapp\",\"keys\":["
    "{\"key\":\"" TEST_KEY "\",\"capability\":{\"*\":[\"*\"]}},"
    "{\"key\":\"" TEST_SUB_KEY "\",\"capability\":{\"*\":[\"subscribe\"]}}"
    "]}]}";

static int write_config(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(config, f);
  return fclose(f);
}

/* The port of the "listening on" line in the log, 0 while not there. */
static int port_in(const char *log) {
  FILE *f = fopen(log, "r");
  char line[512];
  int port = 0;
  while (f && !port && fgets(line, sizeof line, f)) {
    const char *at = strstr(line, "listening on http://");
    const char *colon = at ? strrchr(at, ':') : NULL;
    if (colon) port = atoi(colon + 1);
  }
  if (f) fclose(f);
  return port;
}

int test_server__start(struct test_server *s) {
  snprintf(s->dir, sizeof s->dir, "/tmp/herald-lib-XXXXXX");
  if (!mkdtemp(s->dir)) return -1;
  char cfg[128], log[128];
  snprintf(cfg, sizeof cfg, "%s/config.json", s->dir);
  snprintf(log, sizeof log, "%s/heraldd.log", s->dir);
  if (write_config(cfg)) return -1;
  s->pid = fork();
  if (s->pid == 0) {
    if (!freopen(log, "w", stdout)) _exit(126);
    execl(HERALDD_PATH, "heraldd", "--port", "0", "--bind", "127.0.0.1",
          "--threads", "2", "--storage", "memory", "--data-dir", s->dir,
          "--config", cfg, (char *)NULL);
    _exit(127);
  }
  /* heraldd prints the line once it listens: 15 s at most. */
  for (int i = 0; i < 1500 && !(s->port = port_in(log)); i++) {
    if (waitpid(s->pid, NULL, WNOHANG) == s->pid) return -1;
    usleep(10000);
  }
  return s->port ? 0 : -1;
}

void test_server__stop(struct test_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", s->dir);
}

int test_server__closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

static const char answer_500[] =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
    "Connection: close\r\nContent-Length: 58\r\n\r\n"
    "{\"error\":{\"code\":50000,\"statusCode\":500,\"message\":\"fake\"}}";

static void *serve_500(void *arg) {
  struct fake_server *f = arg;
  int c;
  while ((c = accept(f->fd, NULL, NULL)) >= 0) {
    char buf[4096];
    if (recv(c, buf, sizeof buf, 0) > 0) {
      atomic_fetch_add(&f->requests, 1);
      if (send(c, answer_500, sizeof answer_500 - 1, MSG_NOSIGNAL) < 0) {}
    }
    close(c);
  }
  return NULL;
}

int fake_server__start(struct fake_server *f, bool hang) {
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (bind(f->fd, (struct sockaddr *)&a, sizeof a) || listen(f->fd, 16) ||
      getsockname(f->fd, (struct sockaddr *)&a, &len))
    return -1;
  f->port = ntohs(a.sin_port);
  f->hang = hang;
  atomic_init(&f->requests, 0);
  return hang ? 0 : pthread_create(&f->thread, NULL, serve_500, f);
}

void fake_server__stop(struct fake_server *f) {
  shutdown(f->fd, SHUT_RDWR); /* ends accept() */
  if (!f->hang) pthread_join(f->thread, NULL);
  close(f->fd);
}
