/* redis_shard.h -- the redis engine's two connections to one Redis
 * instance: one for commands, one for pub/sub (a subscribed connection
 * takes no other command). Both live on the engine's loop (polled here,
 * not by hiredis's libuv adapter: see redis_shard.c) and reconnect by
 * themselves, backing off from 100 ms to 2 s, while the instance is
 * unreachable.
 *
 * Commands are only sent while the command connection is up: otherwise
 * the caller fails at once (50005) rather than queueing behind an outage.
 * Each (re)connection loads the engine's Lua scripts first, so EVALSHA
 * never meets a Redis that forgot them.
 *
 * Owns: the hiredis contexts, their libuv polls, the retry timer. */
#ifndef HERALD_REDIS_SHARD_H
#define HERALD_REDIS_SHARD_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <uv.h>

#include "herald/errors.h"

struct redis_shard;

/* What a shard tells its owner, on the loop's thread. */
struct redis_shard_events {
  /* Both connections are up (after a start or an outage). */
  void (*up)(struct redis_shard *sh);
  /* The pub/sub connection was lost or refused: subscriptions are gone. */
  void (*sub_down)(struct redis_shard *sh);
  /* A reply or message on the pub/sub connection (never NULL). */
  void (*sub_reply)(struct redis_shard *sh, const redisReply *r);
};

struct redis_shard {
  int index;
  char *host;
  int port;
  uv_loop_t *loop;
  redisAsyncContext *cmd, *sub; /* NULL while down */
  bool cmd_up, sub_up;
  size_t scripts_loaded; /* on cmd, this connection: commands wait for all */
  bool stopping;
  uv_timer_t retry;
  uint64_t retry_ms;
  const struct redis_shard_events *events;
  void *owner;
  const char *const *scripts; /* loaded on each connection */
  size_t n_scripts;
  char error[128]; /* why it is down, for errors and logs */
};

/* Parses "redis://host:port" or "host:port" (port 6379 if absent). */
int redis_shard__parse_url(const char *url, size_t len, char **host,
                           int *port, herald_error *err);

/* Sets sh up (index, host, port, events, owner, scripts filled by the
 * caller) on loop and starts connecting. */
void redis_shard__start(struct redis_shard *sh, uv_loop_t *loop);
/* Disconnects (pending commands still get their replies or NULL) and
 * closes the timer; the loop then ends once hiredis let go. */
void redis_shard__stop(struct redis_shard *sh);

/* Sends a command on the command connection; fn(reply or NULL on a lost
 * connection, priv) runs once. false (fn never runs): the connection is
 * down. */
bool redis_shard__command(struct redis_shard *sh, redisCallbackFn *fn,
                          void *priv, int argc, const char **argv,
                          const size_t *lens);
/* SUBSCRIBE or UNSUBSCRIBE one topic; false while the connection is down.
 * The replies come as sub_reply events. */
bool redis_shard__subscribe(struct redis_shard *sh, bool on, const char *topic,
                            size_t len);
/* The shard's outage as an Ably error (50005), for requests failed by it. */
int redis_shard__unavailable(const struct redis_shard *sh, herald_error *err);

#endif
