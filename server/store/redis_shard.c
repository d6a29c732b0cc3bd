/* redis_shard.c -- connections to one Redis instance (see redis_shard.h). */
#include "store/redis_shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "core/log.h"
#include "core/metrics.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 2000

int redis_shard__parse_url(const char *url, size_t len, char **host,
                           int *port, herald_error *err) {
  static const char scheme[] = "redis://";
  if (len >= sizeof scheme - 1 && !strncmp(url, scheme, sizeof scheme - 1)) {
    url += sizeof scheme - 1;
    len -= sizeof scheme - 1;
  }
  const char *colon = memrchr(url, ':', len);
  size_t host_len = colon ? (size_t)(colon - url) : len;
  long p = 6379;
  if (colon) {
    char digits[8] = "";
    size_t n = len - host_len - 1;
    char *end;
    if (n == 0 || n >= sizeof digits) p = 0;
    else {
      memcpy(digits, colon + 1, n);
      p = strtol(digits, &end, 10);
      if (*end) p = 0;
    }
  }
  if (host_len == 0 || p <= 0 || p > 65535)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "invalid redis address '%.*s': expected "
                            "redis://host:port", (int)len, url);
  *host = herald_xstrndup(url, host_len);
  *port = (int)p;
  return 0;
}

/* ---- hiredis on libuv ----------------------------------------------------
 * hiredis 0.14's own libuv adapter (hiredis/adapters/libuv.h) returns on a
 * poll error without telling hiredis, so a reset connection -- Redis going
 * away with commands in flight -- or a refused connect is never noticed:
 * requests would wait forever. This attachment, through the adapter hooks
 * hiredis documents (redisAsyncContext.ev), hands an error to hiredis as
 * readiness: its read or connect check then finds the error and ends the
 * connection the usual way (pending callbacks get NULL, then disconnect). */

struct poll_events {
  redisAsyncContext *context; /* NULL once hiredis let go */
  uv_poll_t handle;
  int events;
};

static void on_poll(uv_poll_t *handle, int status, int events) {
  struct poll_events *p = handle->data;
  if (status < 0) events = p->events ? p->events : UV_READABLE;
  if (p->context && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
  if (p->context && (events & UV_READABLE)) redisAsyncHandleRead(p->context);
}

static void watch_events(struct poll_events *p, int add, int remove) {
  p->events = (p->events | add) & ~remove;
  if (p->events) uv_poll_start(&p->handle, p->events, on_poll);
  else uv_poll_stop(&p->handle);
}

static void add_read(void *p) { watch_events(p, UV_READABLE, 0); }
static void del_read(void *p) { watch_events(p, 0, UV_READABLE); }
static void add_write(void *p) { watch_events(p, UV_WRITABLE, 0); }
static void del_write(void *p) { watch_events(p, 0, UV_WRITABLE); }

static void on_poll_closed(uv_handle_t *handle) { herald_free(handle->data); }

static void cleanup_events(void *arg) {
  struct poll_events *p = arg;
  p->context = NULL;
  uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop) {
  struct poll_events *p = herald_xcalloc(1, sizeof *p);
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    herald_free(p);
    return -1;
  }
  p->context = ac;
  p->handle.data = p;
  ac->ev.data = p;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup_events;
  return 0;
}

/* ---- Connecting ------------------------------------------------------------ */

static void connect_missing(struct redis_shard *sh);

/* An attempt not up by the next retry is given up (a connect that hangs,
 * e.g. to an address that drops packets). */
static void give_up_attempts(struct redis_shard *sh) {
  if (sh->cmd && !sh->cmd_up) {
    redisAsyncFree(sh->cmd); /* not connected: no callback runs */
    sh->cmd = NULL;
  }
  if (sh->sub && !sh->sub_up) {
    redisAsyncFree(sh->sub);
    sh->sub = NULL;
  }
}

static void on_retry(uv_timer_t *t) {
  struct redis_shard *sh = t->data;
  give_up_attempts(sh);
  connect_missing(sh);
}

/* Runs while either connection is not up, backing off. */
static void schedule_retry(struct redis_shard *sh) {
  if (sh->stopping || uv_is_active((uv_handle_t *)&sh->retry)) return;
  uv_timer_start(&sh->retry, on_retry, sh->retry_ms, 0);
  sh->retry_ms = sh->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : sh->retry_ms * 2;
}

static void note_error(struct redis_shard *sh, const redisAsyncContext *ac) {
  char was[sizeof sh->error];
  snprintf(was, sizeof was, "%s", sh->error);
  snprintf(sh->error, sizeof sh->error, "redis %s:%d: %s", sh->host, sh->port,
           ac->errstr[0] ? ac->errstr : "connection closed");
  if (strcmp(was, sh->error)) log_warn("%s", sh->error);
}

/* A connection ended (or never started): forget it, tell, retry. */
static void lost(struct redis_shard *sh, const redisAsyncContext *ac) {
  note_error(sh, ac);
  if (ac == sh->cmd) {
    sh->cmd = NULL;
    sh->cmd_up = false;
  } else {
    sh->sub = NULL;
    sh->sub_up = false;
    if (!sh->stopping) sh->events->sub_down(sh);
  }
  schedule_retry(sh);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  lost(ac->data, ac);
}

static bool ready(const struct redis_shard *sh) {
  return sh->cmd_up && sh->sub_up && sh->scripts_loaded == sh->n_scripts;
}

/* Both connections up and the scripts loaded: the shard is up. */
static void maybe_up(struct redis_shard *sh) {
  if (!ready(sh)) return;
  uv_timer_stop(&sh->retry);
  sh->retry_ms = RETRY_MIN_MS;
  if (sh->error[0]) log_info("redis %s:%d: connected", sh->host, sh->port);
  sh->error[0] = '\0';
  sh->events->up(sh);
}

/* A SCRIPT LOAD answered. Refused (a Redis still loading its data
 * answers LOADING): the connection starts again, else every EVALSHA on it
 * would fail with NOSCRIPT. */
static void on_script_loaded(redisAsyncContext *ac, void *reply, void *priv) {
  struct redis_shard *sh = priv;
  const redisReply *r = reply;
  if (!r || ac != sh->cmd) return; /* that connection is gone */
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(sh->error, sizeof sh->error, "%s", r->str);
    log_warn("redis %s:%d: %s", sh->host, sh->port, r->str);
    redisAsyncDisconnect(ac); /* on_disconnect retries */
    return;
  }
  sh->scripts_loaded++;
  maybe_up(sh);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  struct redis_shard *sh = ac->data;
  if (status != REDIS_OK) { /* hiredis frees ac after this */
    lost(sh, ac);
    return;
  }
  redisEnableKeepAlive((redisContext *)&ac->c); /* a silent peer ends too */
  if (ac == sh->cmd) {
    sh->scripts_loaded = 0;
    for (size_t i = 0; i < sh->n_scripts; i++) {
      const char *argv[] = {"SCRIPT", "LOAD", sh->scripts[i]};
      size_t lens[] = {6, 4, strlen(sh->scripts[i])};
      redisAsyncCommandArgv(sh->cmd, on_script_loaded, sh, 3, argv, lens);
    }
    sh->cmd_up = true;
  } else {
    sh->sub_up = true;
  }
  maybe_up(sh);
}

static redisAsyncContext *open_context(struct redis_shard *sh) {
  redisAsyncContext *ac = redisAsyncConnect(sh->host, sh->port);
  if (!ac) abort(); /* hiredis could not allocate: the OOM policy */
  if (ac->err) {
    note_error(sh, ac);
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = sh;
  if (attach(ac, sh->loop)) {
    redisAsyncFree(ac);
    return NULL;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  return ac;
}

static void connect_missing(struct redis_shard *sh) {
  if (sh->stopping) return;
  if (!sh->cmd) sh->cmd = open_context(sh);
  if (!sh->sub) sh->sub = open_context(sh);
  schedule_retry(sh); /* the deadline of these attempts */
}

void redis_shard__start(struct redis_shard *sh, uv_loop_t *loop) {
  sh->loop = loop;
  sh->retry_ms = RETRY_MIN_MS;
  uv_timer_init(loop, &sh->retry);
  sh->retry.data = sh;
  connect_missing(sh);
}

void redis_shard__stop(struct redis_shard *sh) {
  sh->stopping = true;
  uv_timer_stop(&sh->retry);
  uv_close((uv_handle_t *)&sh->retry, NULL);
  if (sh->cmd) redisAsyncDisconnect(sh->cmd);
  if (sh->sub) redisAsyncDisconnect(sh->sub);
}

bool redis_shard__command(struct redis_shard *sh, redisCallbackFn *fn,
                          void *priv, int argc, const char **argv,
                          const size_t *lens) {
  if (!ready(sh) || sh->stopping) return false;
  metrics__add(METRIC_REDIS_COMMANDS, 1);
  return redisAsyncCommandArgv(sh->cmd, fn, priv, argc, argv, lens) == REDIS_OK;
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *priv) {
  struct redis_shard *sh = priv;
  if (reply) sh->events->sub_reply(sh, reply);
}

bool redis_shard__subscribe(struct redis_shard *sh, bool on, const char *topic,
                            size_t len) {
  if (!sh->sub_up || sh->stopping) return false;
  const char *argv[] = {on ? "SUBSCRIBE" : "UNSUBSCRIBE", topic};
  size_t lens[] = {strlen(argv[0]), len};
  return redisAsyncCommandArgv(sh->sub, on_sub_reply, sh, 2, argv, lens) ==
         REDIS_OK;
}

int redis_shard__unavailable(const struct redis_shard *sh, herald_error *err) {
  return herald_error_set(err, HERALD_E_UNAVAILABLE,
                          "Storage unavailable (%s)",
                          sh->error[0] ? sh->error : "redis not connected");
}
