/* store_redis.c -- the redis engine: several heraldd nodes sharing every
 * channel through Redis (docs/architecture.md, "The redis engine").
 *
 * Channels are spread over the configured instances (shards) by a stable
 * hash of app id and channel name, the same on every node; apps and other
 * records live on the first. Per channel, on its shard:
 *   h:m:<app>\n<channel>  stream of publishes (entry id = serial position)
 *   h:p:<app>\n<channel>  stream of presence changes
 *   h:c:<app>\n<channel>  hash {ms, seq}: the channel's serial clock
 *   h:i:<app>\n<channel>\n<key>  a client-supplied id, for the window
 *   h:s:<app>\n<channel>  hash: every node's presence members,
 *                         "<connectionId>:<clientId>" -> "<id>|<node>|<item>"
 *   h:u:<app>\n<channel>  hash: attachments, "<node>.<worker>" -> the
 *                         occupancy counts, space-separated
 *   h:a:<app>             zset: channel -> when its history expires
 *   h:ua:<app>            set: channels with attachments (h:u: not empty)
 *   h:t:<app>\n<channel>  the pub/sub topic every publish goes to
 *   h:l:<app>\n<channel>  hash: changed messages as they now are,
 *                         serial -> "<id> <batch>" (mutable messages)
 *   h:lz:<app>\n<channel> zset: those serials -> creation ms (trimming)
 *   h:v:<app>\n<channel>\n<serial>  list: the message's versions
 *   h:n:<app>\n<channel>\n<serial>  stream: the message's annotations
 *   h:sm:<app>\n<channel> hash: annotated messages' summaries, serial ->
 *                         "<id> <batch>" of the last annotation counted
 * on every shard h:wq and h:wl (the outbox, redis_outbox.h),
 * and on the first shard h:r:<kind> (hash "<app>\n<key>" -> "<expires>|
 * <value>"), h:rk (the kinds), h:nodes (zset: node -> last check-in),
 * h:nm:<node> (the channels a node has members or attachments on),
 * h:reaping:<node>,
 * h:x:<connection> (connection state) and h:o:<key> (nonces seen).
 * One Lua script stamps, stores, trims, records the idempotency key,
 * updates the members (or a changed message's state, if it is still the
 * one the change was made from) and publishes, atomically: a publish is
 * acknowledged only once Redis answered it.
 *
 * One engine thread runs a libuv loop with two connections per shard
 * (redis_shard.h). Workers queue requests to it; it sends them pipelined
 * and completes each on its origin when Redis answers. A node watches a
 * channel (store.h) by subscribing to its topic; the channel's position
 * is read once the subscription is confirmed, and publishes are fed in
 * topic order, after that position, decoded once per node.
 *
 * Owns: the engine thread and loop, the shards, the watches. */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "core/log.h"
#include "hashmap.h"
#include "msgid.h"
#include "store/redis_batch.h"
#include "store/redis_outbox.h"
#include "store/redis_shard.h"
#include "store/store.h"

extern const struct store_ops store_redis__ops;

#define CONNECT_TIMEOUT_MS 5000
#define CLOCK_MARGIN_MS 86400000 /* a clock outlives its history by this */

/* ---- Scripts ------------------------------------------------------------ */

/* KEYS: stream, clock, idempotency key, app's channel index, members,
 * the publisher's last msgSerial here, the channel's message states, their
 * index, and for a change the changed message's versions (for an
 * annotation: the stream is the message's annotations, this the
 * channel's summaries). ARGV: batch, retention ms, window ms, flags (e:
 * ephemeral, i: with an idempotency key, c: a change, a: an annotation),
 * topic, channel, stream kind (m/p/a), "node count message_id" (kept with
 * the key), the msgSerial or "", how long to remember it, the outbox tag
 * ("": none; else the publish goes to h:wq too, redis_outbox.h), then for a
 * presence change one pair per item: member key, "<node>|<item>" (or ""
 * for a LEAVE), and for a change or an annotation: the changed message's
 * serial, the entry id of the state it was made from ("": as created),
 * the new state's batch ("" for an annotation), "1" if it is a version,
 * the message's creation ms, and for an annotation the entry id of the
 * annotation its summary counts up to ("": none yet).
 * Publishes "<id> <kind> <members or -> <batch>". Returns {1, id}, {0,
 * "id node count message_id"} of the first publish with that key, {2,
 * ""} for a msgSerial stored already (a connection's msgSerials grow on
 * each channel), or {3, ""} for a change or an annotation of a message
 * changed (or summarised anew) since it was read (nothing stored). An
 * annotation's batch, "<id> <batch>", becomes its message's summary. A change's entry carries the field
 * "o" (what it changes), which the latest view skips; the new state,
 * "<id> <batch>", goes in the states hash (serial -> state, indexed by
 * creation ms in the zset) and if a version at the end of the versions
 * list. States, versions, summaries and annotations go with their
 * message, trimmed as MINID trims the stream. */
static const char append_script[] =
    "local flags = ARGV[4]\n"
    "local idem = string.find(flags, 'i', 1, true)\n"
    "if idem then\n"
    "  local seen = redis.call('GET', KEYS[3])\n"
    "  if seen then return {0, seen} end\n"
    "end\n"
    "local serial = tonumber(ARGV[9])\n"
    "if serial then\n"
    "  local last = tonumber(redis.call('GET', KEYS[6]))\n"
    "  if last and last >= serial then return {2, ''} end\n"
    "end\n"
    "local change = string.find(flags, 'c', 1, true)\n"
    "local annotation = string.find(flags, 'a', 1, true)\n"
    "if change or annotation then\n"
    "  local now_state = redis.call('HGET', KEYS[7], ARGV[12])\n"
    "  local made_from = now_state and string.match(now_state, '^[^ ]*') or ''\n"
    "  if made_from ~= ARGV[13] then return {3, ''} end\n"
    "end\n"
    "if annotation then\n"
    "  local summary = redis.call('HGET', KEYS[9], ARGV[12])\n"
    "  local counted = summary and string.match(summary, '^[^ ]*') or ''\n"
    "  if counted ~= ARGV[17] then return {3, ''} end\n"
    "end\n"
    "if serial then redis.call('SET', KEYS[6], ARGV[9], 'PX', ARGV[10]) end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ms, seq = now, 0\n"
    "local last = redis.call('HMGET', KEYS[2], 'ms', 'seq')\n"
    "if last[1] and tonumber(last[1]) >= now then\n"
    "  ms = tonumber(last[1]); seq = tonumber(last[2]) + 1\n"
    "  if seq > 999 then ms = ms + 1; seq = 0 end\n"
    "end\n"
    "local retention = tonumber(ARGV[2])\n"
    "redis.call('HSET', KEYS[2], 'ms', ms, 'seq', seq, 'r', ARGV[2])\n"
    "redis.call('PEXPIRE', KEYS[2], retention + 86400000)\n"
    "local id = string.format('%d-%d', ms, seq)\n"
    "if change or not string.find(flags, 'e', 1, true) then\n"
    "  local fields = change and {'b', ARGV[1], 'o', ARGV[12]} or {'b', ARGV[1]}\n"
    "  redis.call('XADD', KEYS[1], 'MINID', string.format('%d', now - retention),\n"
    "             id, unpack(fields))\n"
    "  redis.call('PEXPIRE', KEYS[1], retention)\n"
    "  redis.call('ZADD', KEYS[4], now + retention, ARGV[6])\n"
    "end\n"
    "if change then\n"
    "  local state = id .. ' ' .. ARGV[14]\n"
    "  redis.call('HSET', KEYS[7], ARGV[12], state)\n"
    "  redis.call('ZADD', KEYS[8], ARGV[16], ARGV[12])\n"
    "  if ARGV[15] == '1' then redis.call('RPUSH', KEYS[9], state) end\n"
    "  for _, k in ipairs({KEYS[7], KEYS[8], KEYS[9]}) do\n"
    "    redis.call('PEXPIRE', k, retention)\n"
    "  end\n"
    "end\n"
    "if annotation then\n"
    "  redis.call('HSET', KEYS[9], ARGV[12], id .. ' ' .. ARGV[1])\n"
    "  redis.call('ZADD', KEYS[8], ARGV[16], ARGV[12])\n"
    "  redis.call('PEXPIRE', KEYS[8], retention)\n"
    "  redis.call('PEXPIRE', KEYS[9], retention)\n"
    "end\n"
    "if ARGV[7] ~= 'p' then\n"
    "  local gone = redis.call('ZRANGEBYSCORE', KEYS[8], '-inf',\n"
    "                          string.format('(%d', now - retention), 'LIMIT', 0, 100)\n"
    "  local base = string.sub(KEYS[7], 5)\n"
    "  for _, of in ipairs(gone) do\n"
    "    redis.call('HDEL', KEYS[7], of)\n"
    "    redis.call('ZREM', KEYS[8], of)\n"
    "    redis.call('HDEL', 'h:sm:' .. base, of)\n"
    "    redis.call('DEL', 'h:v:' .. base .. '\\n' .. of, 'h:n:' .. base .. '\\n' .. of)\n"
    "  end\n"
    "end\n"
    "if idem then\n"
    "  redis.call('SET', KEYS[3], id .. ' ' .. ARGV[8], 'PX', ARGV[3])\n"
    "end\n"
    "local members = '-'\n"
    "if ARGV[7] == 'p' then\n"
    "  for i = 12, #ARGV, 2 do\n"
    "    if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[5], ARGV[i])\n"
    "    else redis.call('HSET', KEYS[5], ARGV[i], id .. '|' .. ARGV[i + 1]) end\n"
    "  end\n"
    "  members = redis.call('HLEN', KEYS[5])\n"
    "end\n"
    "if ARGV[11] ~= '' then\n"
    "  redis.call('XADD', 'h:wq', '*', 'a', string.sub(KEYS[4], 5), 'c', ARGV[6],\n"
    "             'k', ARGV[7], 'i', id, 't', ARGV[11], 'b', ARGV[1])\n"
    "  redis.call('PUBLISH', 'h:wq', '')\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[5],\n"
    "           id .. ' ' .. ARGV[7] .. ' ' .. members .. ' ' .. ARGV[1])\n"
    "return {1, id}\n";

/* KEYS: clock, members, usage. Returns {ms, seq, members, usage} of the
 * channel's next serial position (after every serial issued, not before
 * now), its member count and every node's attachment counts. */
static const char position_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local n = redis.call('HLEN', KEYS[2])\n"
    "local u = redis.call('HGETALL', KEYS[3])\n"
    "local last = redis.call('HMGET', KEYS[1], 'ms', 'seq')\n"
    "if last[1] and tonumber(last[1]) >= now then\n"
    "  local seq = tonumber(last[2]) + 1\n"
    "  if seq > 999 then return {tonumber(last[1]) + 1, 0, n, u} end\n"
    "  return {tonumber(last[1]), seq, n, u}\n"
    "end\n"
    "return {now, 0, n, u}\n";

/* KEYS: the nodes zset. ARGV: this node, timeout ms. Checks this node in
 * and returns up to 8 nodes silent for longer than the timeout. */
static const char beat_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf',\n"
    "                  now - tonumber(ARGV[2]), 'LIMIT', 0, 8)\n";

/* KEYS: members, clock, usage, the app's used channels. ARGV: a node,
 * the channel. Forgets the node's attachments on the channel (telling the
 * watchers, as the usage script does) and returns
 * {retention or '', key, value, ...} of its members there. */
static const char members_of_script[] =
    "local prefix = ARGV[1] .. '.'\n"
    "local topic = 'h:t:' .. string.sub(KEYS[1], 5)\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do\n"
    "  if string.sub(f, 1, #prefix) == prefix then\n"
    "    redis.call('HDEL', KEYS[3], f)\n"
    "    redis.call('PUBLISH', topic, '- u ' .. f .. ' ')\n"
    "  end\n"
    "end\n"
    "if redis.call('HLEN', KEYS[3]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end\n"
    "local out = {redis.call('HGET', KEYS[2], 'r') or ''}\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local mark = '|' .. ARGV[1] .. '|'\n"
    "for i = 1, #all, 2 do\n"
    "  local v = all[i + 1]\n"
    "  local bar = string.find(v, '|', 1, true)\n"
    "  if bar and string.sub(v, bar, bar + #mark - 1) == mark then\n"
    "    out[#out + 1] = all[i]; out[#out + 1] = v\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: usage, the app's used channels, the channel's topic. ARGV:
 * "<node>.<worker>", its counts ("" when it has none left), the channel.
 * Publishes "- u <field> <counts>" (watchers keep other nodes' counts). */
static const char usage_script[] =
    "if ARGV[2] == '' then\n"
    "  redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "  if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "  redis.call('SADD', KEYS[2], ARGV[3])\n"
    "end\n"
    "redis.call('PUBLISH', KEYS[3], '- u ' .. ARGV[1] .. ' ' .. ARGV[2])\n"
    "return 1\n";

/* KEYS: usage, members. ARGV: "<node>." of this node. Returns the other
 * nodes' attachment counts summed, then every node's member count. */
static const char occupancy_script[] =
    "local sums = {0, 0, 0, 0, 0, 0, 0}\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #all, 2 do\n"
    "  if string.sub(all[i], 1, #ARGV[1]) ~= ARGV[1] then\n"
    "    local j = 1\n"
    "    for n in string.gmatch(all[i + 1], '%d+') do\n"
    "      if j <= 7 then sums[j] = sums[j] + tonumber(n) end\n"
    "      j = j + 1\n"
    "    end\n"
    "  end\n"
    "end\n"
    "sums[8] = redis.call('HLEN', KEYS[2])\n"
    "return sums\n";

/* KEYS: the app's channel index, its used channels. ARGV: now (ms).
 * Returns the channels with history or attachments, once each. */
static const char channels_script[] =
    "local out, seen = {}, {}\n"
    "for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')) do\n"
    "  seen[n] = true; out[#out + 1] = n\n"
    "end\n"
    "for _, n in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
    "  if not seen[n] then out[#out + 1] = n end\n"
    "end\n"
    "return out\n";

/* KEYS: the app's channel index on this shard. ARGV: app id, whether this
 * shard keeps records. Deletes the app's channels (with their messages'
 * states, versions, summaries and annotations) and records. */
static const char drop_script[] =
    "local used = 'h:ua:' .. ARGV[1]\n"
    "local names = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "for _, n in ipairs(redis.call('SMEMBERS', used)) do names[#names + 1] = n end\n"
    "for _, name in ipairs(names) do\n"
    "  local base = ARGV[1] .. '\\n' .. name\n"
    "  for _, of in ipairs(redis.call('ZRANGE', 'h:lz:' .. base, 0, -1)) do\n"
    "    redis.call('DEL', 'h:v:' .. base .. '\\n' .. of, 'h:n:' .. base .. '\\n' .. of)\n"
    "  end\n"
    "  for _, kind in ipairs({'m', 'p', 'c', 's', 'u', 'l', 'lz', 'sm'}) do\n"
    "    redis.call('DEL', 'h:' .. kind .. ':' .. base)\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[1], used)\n"
    "if ARGV[2] == '1' then\n"
    "  local prefix = ARGV[1] .. '\\n'\n"
    "  for _, kind in ipairs(redis.call('SMEMBERS', 'h:rk')) do\n"
    "    for _, f in ipairs(redis.call('HKEYS', 'h:r:' .. kind)) do\n"
    "      if string.sub(f, 1, #prefix) == prefix then\n"
    "        redis.call('HDEL', 'h:r:' .. kind, f)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return 1\n";

/* KEYS: the kind's records, the kinds. ARGV: field, value ("" deletes),
 * kind, the control message telling the other nodes. */
static const char record_script[] =
    "if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "  redis.call('SADD', KEYS[2], ARGV[3])\n"
    "end\n"
    "redis.call('PUBLISH', 'h:ctl', ARGV[4])\n"
    "return 1\n";

/* KEYS: the connection's state. ARGV: the control message telling the
 * other nodes. Returns the state (nil if none), forgotten here. */
static const char take_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  redis.call('PUBLISH', 'h:ctl', ARGV[1])\n"
    "end\n"
    "return v\n";

/* KEYS: members. ARGV: "<connectionId>:", the node taking them. Returns
 * {key, value, ...} of that connection's members, now the node's. */
static const char adopt_script[] =
    "local out = {}\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #all, 2 do\n"
    "  local k, v = all[i], all[i + 1]\n"
    "  local b1 = string.find(v, '|', 1, true)\n"
    "  local b2 = b1 and string.find(v, '|', b1 + 1, true)\n"
    "  if b2 and string.sub(k, 1, #ARGV[1]) == ARGV[1] then\n"
    "    local nv = string.sub(v, 1, b1) .. ARGV[2] .. string.sub(v, b2)\n"
    "    redis.call('HSET', KEYS[1], k, nv)\n"
    "    out[#out + 1] = k; out[#out + 1] = nv\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: a stream. ARGV: XRANGE or XREVRANGE, its two bounds, a count.
 * Returns up to count entries of that range, in its order, that are not
 * changes (have no field "o"): the latest view's. */
static const char scan_script[] =
    "local out, from, want = {}, ARGV[2], tonumber(ARGV[4])\n"
    "while true do\n"
    "  local got = redis.call(ARGV[1], KEYS[1], from, ARGV[3], 'COUNT', want)\n"
    "  for _, e in ipairs(got) do\n"
    "    if #e[2] == 2 then\n"
    "      out[#out + 1] = e\n"
    "      if #out == want then return out end\n"
    "    end\n"
    "  end\n"
    "  if #got < want then return out end\n"
    "  from = '(' .. got[#got][1]\n"
    "end\n";

/* KEYS: a stream, its message states, one message's versions, the
 * summaries. ARGV: the message's entry id, its serial, "v" for its
 * versions. Returns {its entry (as XRANGE returns it), its state or "",
 * its versions or {}, its summary or ""}. */
static const char message_script[] =
    "local versions = {}\n"
    "if ARGV[3] == 'v' then versions = redis.call('LRANGE', KEYS[3], 0, -1) end\n"
    "return {redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]),\n"
    "        redis.call('HGET', KEYS[2], ARGV[2]) or '', versions,\n"
    "        redis.call('HGET', KEYS[4], ARGV[2]) or ''}\n";

/* KEYS: message states, summaries. ARGV: serials. Returns {their states,
 * their summaries} (HMGET replies). */
static const char states_script[] =
    "return {redis.call('HMGET', KEYS[1], unpack(ARGV)),\n"
    "        redis.call('HMGET', KEYS[2], unpack(ARGV))}\n";

enum script {
  SCRIPT_ADOPT,
  SCRIPT_TAKE,
  SCRIPT_RECORD,
  SCRIPT_APPEND,
  SCRIPT_POSITION,
  SCRIPT_DROP,
  SCRIPT_BEAT,
  SCRIPT_MEMBERS_OF,
  SCRIPT_USAGE,
  SCRIPT_OCCUPANCY,
  SCRIPT_CHANNELS,
  SCRIPT_SCAN,
  SCRIPT_MESSAGE,
  SCRIPT_STATES,
  SCRIPTS
};

static const char *const scripts[SCRIPTS] = {
    adopt_script, take_script, record_script, append_script, position_script, drop_script, beat_script,
    members_of_script, usage_script, occupancy_script, channels_script,
    scan_script, message_script, states_script};

/* ---- State ---------------------------------------------------------------- */

enum watch_state {
  WATCH_SUBSCRIBING,   /* SUBSCRIBE sent */
  WATCH_POSITIONING,   /* subscribed; reading the channel's position */
  WATCH_LIVE,          /* feeding appends after the position */
  WATCH_UNSUBSCRIBING, /* UNSUBSCRIBE sent */
};

/* A channel this node watches, keyed by its topic in its shard. */
struct watch {
  enum watch_state state;
  bool wanted; /* the node still wants it (unwatch clears it) */
  uint64_t generation; /* tells a stale position answer from this one's */
  char *app_id, *channel;
  char last[SERIAL_MAX]; /* the position, then the last serial fed */
  size_t members;        /* the member count as of last */
  struct store_feed_item *held, **held_tail; /* while positioning */
  struct hashmap usage; /* other nodes' "<node>.<worker>" -> struct occupancy */
  char **held_usage;    /* "- u ..." notices while positioning */
  size_t n_held_usage;
};

struct redis_store {
  struct store base;
  char node[16]; /* the serials' node part for publishes stamped here */
  uv_loop_t loop;
  uv_thread_t thread;
  uv_async_t wake;
  uv_timer_t beat;         /* checks this node in, looks for dead ones */
  int64_t node_timeout_ms; /* --node-timeout-ms */
  int64_t retention_ms;    /* for a channel whose own is not known */
  uv_mutex_t lock; /* the queue, the start-up state, quiet */
  struct store_req *queue_head, *queue_tail;
  atomic_bool stopping;
  bool quiet; /* under lock: nothing reaches the watchers */
  struct redis_shard *shards;
  size_t n_shards;
  bool *seen_up; /* per shard: was up once */
  size_t n_up;
  uv_cond_t up_cond;
  struct hashmap *watches; /* per shard: topic -> struct watch */
  struct hashmap told; /* "<app>\n<channel>\n<worker>" -> struct told_usage */
  uint64_t generations;
  struct redis_outbox outbox;
  char sha[SCRIPTS][41];
};

/* ---- Keys ------------------------------------------------------------------ */

/* "<prefix><app>\n<channel>" (herald_xmalloc'd; *len without the NUL). */
static char *channel_key(const char *prefix, const char *app_id,
                         const char *channel, size_t *len) {
  size_t p = strlen(prefix), a = strlen(app_id), c = strlen(channel);
  char *key = herald_xmalloc(p + a + 1 + c + 1);
  memcpy(key, prefix, p);
  memcpy(key + p, app_id, a);
  key[p + a] = '\n';
  memcpy(key + p + a + 1, channel, c + 1);
  *len = p + a + 1 + c;
  return key;
}

/* FNV-1a: stable across nodes and restarts, unlike hashmap__hash. */
static struct redis_shard *shard_of(struct redis_store *s, const char *app_id,
                                    const char *channel) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (const char *p = app_id; *p; p++) h = (h ^ (uint8_t)*p) * UINT64_C(1099511628211);
  h = (h ^ '\n') * UINT64_C(1099511628211);
  for (const char *p = channel; *p; p++) h = (h ^ (uint8_t)*p) * UINT64_C(1099511628211);
  return &s->shards[h % s->n_shards];
}

static struct redis_store *store_of(struct redis_shard *sh) { return sh->owner; }

/* ---- Replies ------------------------------------------------------------- */

static const redisReply *element(const redisReply *r, size_t i, int type) {
  if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements) return NULL;
  return r->element[i]->type == type ? r->element[i] : NULL;
}

/* Fails req for reply r (NULL: the connection was lost). */
static void fail(struct store_req *req, struct redis_shard *sh,
                 const redisReply *r) {
  if (r && r->type == REDIS_REPLY_ERROR) {
    log_error("redis %s:%d: %s", sh->host, sh->port, r->str);
    req->rc = herald_error_set(&req->err, HERALD_E_INTERNAL,
                               "Storage error: %s", r->str);
  } else {
    req->rc = redis_shard__unavailable(sh, &req->err);
  }
  store_req__complete(req);
}

static void succeed(struct store_req *req) {
  req->rc = 0;
  store_req__complete(req);
}

/* A request in flight on a shard: what its reply callback needs. */
struct call {
  struct store_req *req;
  struct redis_shard *sh;
  void *extra; /* the request's own state, if any */
  size_t index; /* which of the request's commands, for several */
};

static struct call *call_new(struct store_req *req, struct redis_shard *sh) {
  struct call *c = herald_xcalloc(1, sizeof *c);
  c->req = req;
  c->sh = sh;
  return c;
}

/* Sends argv for call c, or fails its request at once (shard down). */
static void send_call(struct call *c, redisCallbackFn *fn, int argc,
                      const char **argv, const size_t *lens) {
  if (redis_shard__command(c->sh, fn, c, argc, argv, lens)) return;
  struct store_req *req = c->req;
  struct redis_shard *sh = c->sh;
  herald_free(c);
  fail(req, sh, NULL);
}

/* ---- Positions ------------------------------------------------------------- */

/* A history cursor or channel position: (ms, seq) of its entry and the
 * message index in it, -1 for a floor (before the entry's messages). */
struct position {
  int64_t ms;
  unsigned seq;
  long index;
};

static bool parse_position(const char *text, struct position *p) {
  if (!serial__position(text, &p->ms)) return false;
  p->seq = (unsigned)((text[15] - '0') * 100 + (text[16] - '0') * 10 +
                      (text[17] - '0'));
  const char *colon = strrchr(text, ':');
  p->index = text[18] && colon ? strtol(colon + 1, NULL, 10) : -1;
  return true;
}

/* ---- Append ----------------------------------------------------------------- */

/* "<id> <node> <count> <message_id>" of the first publish with the key. */
static bool take_duplicate(struct store_append *a, const char *seen) {
  char id[32], node[24];
  size_t count;
  int used = 0;
  int64_t ms;
  unsigned seq;
  if (sscanf(seen, "%31s %23s %zu %n", id, node, &count, &used) != 3 ||
      !used || count == 0 || count > 100000 ||
      !redis_batch__parse_id(id, strlen(id), &ms, &seq))
    return false;
  a->duplicate = true;
  a->original_message_id = herald_xstrdup(seen + used);
  a->original_serials = herald_xcalloc(count, sizeof *a->original_serials);
  for (size_t i = 0; i < count; i++) {
    char serial[SERIAL_MAX];
    serial__format(serial, ms, seq, node, i);
    a->original_serials[i] = herald_xstrdup(serial);
  }
  a->original_count = count;
  return true;
}

static void on_appended(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct store_append *a = (struct store_append *)c->req;
  const redisReply *r = reply;
  const redisReply *kind = element(r, 0, REDIS_REPLY_INTEGER);
  const redisReply *value = element(r, 1, REDIS_REPLY_STRING);
  int64_t ms;
  unsigned seq;
  struct redis_store *s = store_of(c->sh);
  if (kind && value && kind->integer == 1 &&
      redis_batch__parse_id(value->str, value->len, &ms, &seq)) {
    a->stamp_ms = ms;
    a->stamp_seq = seq;
    snprintf(a->stamp_node, sizeof a->stamp_node, "%s", s->node);
    succeed(&a->req);
  } else if (kind && value && kind->integer == 0 && take_duplicate(a, value->str)) {
    succeed(&a->req);
  } else if (kind && kind->integer == 3) { /* changed meanwhile */
    a->stale = true;
    succeed(&a->req);
  } else if (kind && kind->integer == 2) { /* a resend: stored already */
    a->duplicate = true;
    a->original_message_id = herald_xstrdup(a->message_id);
    succeed(&a->req);
  } else {
    fail(&a->req, c->sh, r);
  }
  herald_free(c);
}

/* A command's arguments, binary-safe; args_free releases those it was
 * given to own. */
struct args {
  const char **argv;
  size_t *lens;
  int n, cap;
  char **owned;
  int n_owned;
};

static void arg(struct args *a, const char *s, size_t len) {
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 16;
    a->argv = herald_xrealloc(a->argv, (size_t)a->cap * sizeof *a->argv);
    a->lens = herald_xrealloc(a->lens, (size_t)a->cap * sizeof *a->lens);
    a->owned = herald_xrealloc(a->owned, (size_t)a->cap * sizeof *a->owned);
  }
  a->argv[a->n] = s;
  a->lens[a->n++] = len;
}

static void arg_str(struct args *a, const char *s) { arg(a, s, strlen(s)); }

/* An argument (herald_xmalloc'd) the args free. */
static void arg_owned(struct args *a, char *s, size_t len) {
  arg(a, s, len);
  a->owned[a->n_owned++] = s;
}

/* The channel's key with prefix, as an argument. */
static void arg_channel_key(struct args *a, const char *prefix,
                            const char *app_id, const char *channel) {
  size_t len;
  char *key = channel_key(prefix, app_id, channel, &len);
  arg_owned(a, key, len);
}

/* "h:ua:<app>": the app's channels with attachments, as an argument. */
static void arg_used_key(struct args *a, const char *app_id) {
  size_t len = strlen(app_id) + 5;
  char *key = herald_xmalloc(len + 1);
  sprintf(key, "h:ua:%s", app_id);
  arg_owned(a, key, len);
}

static void args_free(struct args *a) {
  for (int i = 0; i < a->n_owned; i++) herald_free(a->owned[i]);
  herald_free(a->argv);
  herald_free(a->lens);
  herald_free(a->owned);
  memset(a, 0, sizeof *a);
}

static void send_args(struct call *c, redisCallbackFn *fn, struct args *a) {
  send_call(c, fn, a->n, a->argv, a->lens);
  args_free(a);
}

/* "<prefix><app>\n<channel>\n<suffix>": a key of one channel and one
 * client-supplied id (h:i:), one connection's last msgSerial (h:k:) or one
 * message's versions (h:v:). */
static char *channel_subkey(const char *prefix, const char *app_id,
                            const char *channel, const char *suffix,
                            size_t *len) {
  size_t base, n = strlen(suffix);
  char *k = channel_key(prefix, app_id, channel, &base);
  k = herald_xrealloc(k, base + 1 + n + 1);
  k[base] = '\n';
  memcpy(k + base + 1, suffix, n + 1);
  *len = base + 1 + n;
  return k;
}

/* A presence change's member pairs: "<connectionId>:<clientId>" and the
 * member ("" for a LEAVE). Whether any item makes a member. */
static bool add_member_pairs(struct redis_store *s, struct args *args,
                             const struct store_append *a) {
  bool enters = false;
  for (size_t i = 0; i < a->count; i++) {
    const struct message *m = a->messages[i];
    size_t conn = strlen(m->connection_id), client = strlen(m->client_id);
    char *key = herald_xmalloc(conn + 1 + client + 1);
    memcpy(key, m->connection_id, conn);
    key[conn] = ':';
    memcpy(key + conn + 1, m->client_id, client + 1);
    arg_owned(args, key, conn + 1 + client);
    size_t len = 0;
    char *member = m->action == PRESENCE_LEAVE
                       ? NULL : redis_batch__encode_member(s->node, m, &len);
    if (member) arg_owned(args, member, len);
    else arg(args, "", 0);
    enters |= member != NULL;
  }
  return enters;
}

/* The node has members on the channel: the reaper's list if it dies. */
static void note_member_channel(struct redis_store *s, const char *app_id,
                                const char *channel) {
  char set[32];
  snprintf(set, sizeof set, "h:nm:%s", s->node);
  size_t len;
  char *name = channel_key("", app_id, channel, &len);
  const char *argv[] = {"SADD", set, name};
  size_t lens[] = {4, strlen(set), len};
  redis_shard__command(&s->shards[0], NULL, NULL, 3, argv, lens);
  herald_free(name);
}

/* The serial of the message latest (a change's or an annotation's) is,
 * as created. */
static const char *created_serial(const struct message *latest) {
  return latest->version ? latest->version->of : latest->serial;
}

/* The entry id "<ms>-<seq>" of serial as an argument: "" for NULL or for
 * `self` (a message as created has no state). */
static void arg_entry_id(struct args *args, const char *serial,
                         const char *self) {
  struct position at;
  char id[40] = "";
  if (serial && (!self || strcmp(serial, self)) && parse_position(serial, &at))
    snprintf(id, sizeof id, "%" PRId64 "-%u", at.ms, at.seq);
  arg_owned(args, herald_xstrdup(id), strlen(id));
}

/* A change's or an annotation's arguments (owned by args or a): the
 * changed message's serial, the entry id of the state it was made from
 * ("" for the message as created), the new state (a change's), whether it
 * is a version, the message's creation time, and an annotation's expected
 * summary. false: the state could not be encoded. */
static bool add_change(struct redis_store *s, struct args *args,
                       const struct store_append *a) {
  const struct message *latest = a->latest;
  const char *of = created_serial(latest);
  bool annotation = a->stream == STORE_ANNOTATIONS;
  size_t len = 0;
  char *state = annotation ? herald_xstrdup("")
                           : redis_batch__encode(s->node, a->message_id,
                                                 latest->connection_id,
                                                 &a->latest, 1, &len);
  if (!state) return false;
  char created[24];
  snprintf(created, sizeof created, "%" PRId64,
           latest->version ? latest->version->created : latest->timestamp);
  arg_str(args, of);
  arg_entry_id(args, a->expected, of);
  arg_owned(args, state, len);
  arg_str(args, a->new_version ? "1" : "");
  arg_owned(args, herald_xstrdup(created), strlen(created));
  if (annotation) arg_entry_id(args, a->expected_summary, NULL);
  return true;
}

/* The publish as the engine stores it (redis_batch.h), or NULL. */
static char *encode_publish(const struct redis_store *s,
                            const struct store_append *a, size_t *len) {
  /* The publisher (echo=false leaves out its own), a change's too, not the
   * changed message's; a reaped member's LEAVE has only the item's. */
  const char *publisher =
      a->connection_id ? a->connection_id : a->messages[0]->connection_id;
  if (a->stream == STORE_ANNOTATIONS)
    return redis_batch__encode_annotation(s->node, a->message_id, publisher,
                                          a->messages[0], a->latest, len);
  return redis_batch__encode(s->node, a->message_id, publisher, a->messages,
                             a->count, len);
}

/* The stream of an append's kind: the channel's messages or presence, or
 * the annotated message's annotations. */
static char *stream_key(const struct store_append *a, char kind, size_t *len) {
  if (kind == 'a')
    return channel_subkey("h:n:", a->app_id, a->channel,
                          created_serial(a->latest), len);
  return channel_key(kind == 'p' ? "h:p:" : "h:m:", a->app_id, a->channel, len);
}

static void run_append(struct redis_store *s, struct store_append *a) {
  size_t batch_len;
  char *batch = encode_publish(s, a, &batch_len);
  if (!batch) {
    a->req.rc = herald_error_set(&a->req.err, HERALD_E_INTERNAL,
                                 "cannot encode the publish");
    store_req__complete(&a->req);
    return;
  }
  char kind = a->stream == STORE_PRESENCE      ? 'p'
              : a->stream == STORE_ANNOTATIONS ? 'a'
                                               : 'm';
  bool idem = a->idempotency_key && a->idempotency_window_ms > 0;
  size_t len;
  char *index = herald_xmalloc(4 + strlen(a->app_id) + 1);
  sprintf(index, "h:a:%s", a->app_id);
  char retention[24], window[24], dup[300];
  snprintf(retention, sizeof retention, "%" PRId64, a->retention_ms);
  snprintf(window, sizeof window, "%" PRId64, a->idempotency_window_ms);
  snprintf(dup, sizeof dup, "%s %zu %s", s->node, a->count, a->message_id);
  struct args args = {.n = 0};
  arg_str(&args, "EVALSHA");
  arg_str(&args, s->sha[SCRIPT_APPEND]);
  arg_str(&args, "9");
  char *stream = stream_key(a, kind, &len);
  arg_owned(&args, stream, len);
  char *clock = channel_key("h:c:", a->app_id, a->channel, &len);
  arg_owned(&args, clock, len);
  if (idem) {
    char *key = channel_subkey("h:i:", a->app_id, a->channel, a->idempotency_key,
                               &len);
    arg_owned(&args, key, len);
  } else {
    arg(&args, clock, len); /* unused */
  }
  arg_owned(&args, index, strlen(index));
  size_t members_len;
  char *members = channel_key("h:s:", a->app_id, a->channel, &members_len);
  arg_owned(&args, members, members_len);
  bool dedupe = a->msg_serial >= 0 && a->connection_id;
  if (dedupe) {
    char *last = channel_subkey("h:k:", a->app_id, a->channel, a->connection_id,
                                &len);
    arg_owned(&args, last, len);
  } else {
    arg(&args, members, members_len); /* unused */
  }
  arg_channel_key(&args, "h:l:", a->app_id, a->channel);
  arg_channel_key(&args, "h:lz:", a->app_id, a->channel);
  if (kind == 'a') {
    arg_channel_key(&args, "h:sm:", a->app_id, a->channel);
  } else if (a->latest) {
    char *versions = channel_subkey("h:v:", a->app_id, a->channel,
                                    a->latest->version->of, &len);
    arg_owned(&args, versions, len);
  } else {
    arg(&args, members, members_len); /* unused */
  }
  arg_owned(&args, batch, batch_len);
  arg_str(&args, retention);
  arg_str(&args, window);
  char flags[4] = "", *f = flags;
  if (a->ephemeral) *f++ = 'e';
  if (idem) *f++ = 'i';
  if (a->latest) *f++ = kind == 'a' ? 'a' : 'c';
  arg_str(&args, flags);
  char *topic = channel_key("h:t:", a->app_id, a->channel, &len);
  arg_owned(&args, topic, len);
  arg_str(&args, a->channel);
  arg(&args, &kind, 1);
  arg_str(&args, dup);
  char serial[24] = "", ttl[24];
  if (dedupe) snprintf(serial, sizeof serial, "%lld", a->msg_serial);
  snprintf(ttl, sizeof ttl, "%" PRId64,
           a->dedupe_ttl_ms > 0 ? a->dedupe_ttl_ms : 1);
  arg_str(&args, serial);
  arg_str(&args, ttl);
  arg_str(&args, a->outbox_tag ? a->outbox_tag : "");
  if (kind == 'p' && add_member_pairs(s, &args, a))
    note_member_channel(s, a->app_id, a->channel);
  if (a->latest && !add_change(s, &args, a)) {
    args_free(&args);
    a->req.rc = herald_error_set(&a->req.err, HERALD_E_INTERNAL,
                                 "cannot encode the change");
    store_req__complete(&a->req);
    return;
  }
  send_args(call_new(&a->req, shard_of(s, a->app_id, a->channel)), on_appended,
            &args);
}

/* ---- History ----------------------------------------------------------------- */

/* Whether message i of entry (ms, seq) lies on the page's side of the
 * cursor: at or after it going forwards, at or before it backwards. */
static bool past_cursor(const struct store_history *h, const struct position *c,
                        int64_t ms, unsigned seq, size_t i) {
  if (!h->cursor || ms != c->ms || seq != c->seq) return true;
  return h->direction == STORE_FORWARDS ? (long)i >= c->index
                                        : (long)i <= c->index;
}

/* Takes message m for the page, or as the next page's cursor. false: the
 * page is complete. */
static bool collect(struct store_history *h, struct message *m) {
  if (h->count == h->limit) {
    h->next_cursor = herald_xstrdup(m->serial);
    message__unref(m);
    return false;
  }
  h->messages[h->count++] = m;
  return true;
}

/* Adds the messages of one stream entry [id, [field, value...]]. */
static bool take_entry(struct store_history *h, const struct position *cursor,
                       const redisReply *entry) {
  const redisReply *id = element(entry, 0, REDIS_REPLY_STRING);
  const redisReply *fields = element(entry, 1, REDIS_REPLY_ARRAY);
  const redisReply *batch = element(fields, 1, REDIS_REPLY_STRING);
  int64_t ms;
  unsigned seq;
  struct redis_batch b;
  herald_error err;
  if (!id || !batch || !redis_batch__parse_id(id->str, id->len, &ms, &seq) ||
      redis_batch__decode(batch->str, batch->len, ms, seq, &b, &err)) {
    log_warn("history of %s: skipping a malformed entry", h->channel);
    return true;
  }
  bool more = true, forwards = h->direction == STORE_FORWARDS;
  for (size_t k = 0; k < b.count; k++) {
    size_t i = forwards ? k : b.count - 1 - k;
    struct message *m = b.messages[i];
    b.messages[i] = NULL;
    if (!more || ms < h->start || ms > h->end ||
        !past_cursor(h, cursor, ms, seq, i))
      message__unref(m);
    else
      more = collect(h, m);
  }
  redis_batch__cleanup(&b); /* the messages taken are NULL in it */
  return more;
}

/* Gives m (the message as it now is) its stored summary, if it has one
 * (summary: a summaries hash value, or not a string). */
static void attach_summary(struct message *m, const redisReply *summary,
                           const struct store_history *h) {
  struct message *latest;
  herald_error err;
  if (!summary || summary->type != REDIS_REPLY_STRING || !summary->len) return;
  if (redis_batch__decode_summary(summary->str, summary->len, &latest, &err)) {
    log_warn("history of %s: skipping a malformed summary", h->channel);
    return;
  }
  json_decref(m->summary);
  herald_free(m->summary_serial);
  m->summary = latest->summary;
  m->summary_serial = latest->summary_serial;
  latest->summary = NULL;
  latest->summary_serial = NULL;
  message__unref(latest);
}

/* Replaces the page's messages that were changed by their states now and
 * gives them their summaries ({[state or nil], [summary or nil]} per
 * message). */
static void on_states(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct store_history *h = (struct store_history *)c->req;
  const redisReply *r = reply;
  const redisReply *states = element(r, 0, REDIS_REPLY_ARRAY);
  const redisReply *summaries = element(r, 1, REDIS_REPLY_ARRAY);
  if (!states || !summaries || states->elements != h->count ||
      summaries->elements != h->count) {
    fail(&h->req, c->sh, r);
    herald_free(c);
    return;
  }
  for (size_t i = 0; i < h->count; i++) {
    const redisReply *state = element(states, i, REDIS_REPLY_STRING);
    struct message *now;
    herald_error err;
    if (state && redis_batch__decode_state(state->str, state->len, &now, &err)) {
      log_warn("history of %s: skipping a malformed state", h->channel);
    } else if (state) {
      message__unref(h->messages[i]);
      h->messages[i] = now;
    }
    attach_summary(h->messages[i], summaries->element[i], h);
  }
  herald_free(c);
  succeed(&h->req);
}

/* The latest view: reads the states and summaries of the page's
 * messages. */
static void read_states(struct call *c) {
  struct store_history *h = (struct store_history *)c->req;
  struct redis_store *s = store_of(c->sh);
  struct args args = {.n = 0};
  arg_str(&args, "EVALSHA");
  arg_str(&args, s->sha[SCRIPT_STATES]);
  arg_str(&args, "2");
  arg_channel_key(&args, "h:l:", h->app_id, h->channel);
  arg_channel_key(&args, "h:sm:", h->app_id, h->channel);
  for (size_t i = 0; i < h->count; i++) arg_str(&args, h->messages[i]->serial);
  send_args(c, on_states, &args);
}

static void on_history(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct store_history *h = (struct store_history *)c->req;
  const redisReply *r = reply;
  struct position cursor = {0};
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    fail(&h->req, c->sh, r);
    herald_free(c);
    return;
  }
  if (h->cursor) parse_position(h->cursor, &cursor);
  h->messages = herald_xcalloc(h->limit ? h->limit : 1, sizeof *h->messages);
  for (size_t i = 0; i < r->elements; i++)
    if (!take_entry(h, &cursor, r->element[i])) break;
  if (h->view == STORE_VIEW_LATEST && h->count) {
    read_states(c);
    return;
  }
  herald_free(c);
  succeed(&h->req);
}

/* An entry id bound for XRANGE: the cursor's entry, a time, or open. */
static void bound(char *out, size_t size, const struct store_history *h,
                  const struct position *cursor, bool upper) {
  bool cursor_side = (h->direction == STORE_FORWARDS) != upper;
  int64_t ms = upper ? h->end : h->start;
  if (h->cursor && cursor_side)
    snprintf(out, size, "%" PRId64 "-%u", cursor->ms, cursor->seq);
  else if (upper ? ms == INT64_MAX : ms <= 0)
    snprintf(out, size, "%s", upper ? "+" : "-");
  else
    snprintf(out, size, "%" PRId64, ms);
}

/* ---- One message's state and versions ----------------------------------------- */

/* The message `serial` as created, from its stream entry (an XRANGE
 * reply), or NULL. */
static struct message *created_in(const redisReply *range, const char *serial) {
  const redisReply *entry = element(range, 0, REDIS_REPLY_ARRAY);
  const redisReply *id = element(entry, 0, REDIS_REPLY_STRING);
  const redisReply *batch = element(element(entry, 1, REDIS_REPLY_ARRAY), 1,
                                    REDIS_REPLY_STRING);
  int64_t ms;
  unsigned seq;
  struct redis_batch b;
  herald_error err;
  if (!id || !batch || !redis_batch__parse_id(id->str, id->len, &ms, &seq) ||
      redis_batch__decode(batch->str, batch->len, ms, seq, &b, &err))
    return NULL;
  struct message *found = NULL;
  for (size_t i = 0; i < b.count && !found; i++) {
    if (b.messages[i]->version || strcmp(b.messages[i]->serial, serial)) continue;
    found = b.messages[i];
    b.messages[i] = NULL;
  }
  redis_batch__cleanup(&b);
  return found;
}

/* Pages list (n messages in serial order, each taken) by h's bounds,
 * direction and cursor. */
static void page_list(struct store_history *h, struct message **list,
                      size_t n) {
  bool forwards = h->direction == STORE_FORWARDS, more = true;
  h->messages = herald_xcalloc(h->limit ? h->limit : 1, sizeof *h->messages);
  for (size_t k = 0; k < n; k++) {
    struct message *m = list[forwards ? k : n - 1 - k];
    int side = h->cursor ? strcmp(m->serial, h->cursor) : 0;
    if (!more || (forwards ? side < 0 : side > 0) || m->timestamp < h->start ||
        m->timestamp > h->end)
      message__unref(m);
    else
      more = collect(h, m);
  }
}

/* [created, versions...] of the message: its versions view, oldest first. */
static size_t versions_of(struct message *created, const redisReply *stored,
                          const struct store_history *h,
                          struct message ***out) {
  size_t n = 0, cap = 1 + (stored ? stored->elements : 0);
  struct message **list = herald_xcalloc(cap, sizeof *list);
  list[n++] = created;
  for (size_t i = 0; stored && i < stored->elements; i++) {
    const redisReply *state = element(stored, i, REDIS_REPLY_STRING);
    herald_error err;
    if (!state ||
        redis_batch__decode_state(state->str, state->len, &list[n], &err))
      log_warn("versions in %s: skipping a malformed one", h->channel);
    else
      n++;
  }
  *out = list;
  return n;
}

/* The message as it now is: its stored state if it has one (state: the
 * script's reply, "" for none), else as created. */
static struct message *as_now(struct message *created, const redisReply *state,
                              const struct store_history *h) {
  struct message *now;
  herald_error err;
  if (!state->len) return created;
  if (redis_batch__decode_state(state->str, state->len, &now, &err)) {
    log_warn("message in %s: skipping a malformed state", h->channel);
    return created;
  }
  message__unref(created);
  return now;
}

static void on_message(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct store_history *h = (struct store_history *)c->req;
  const redisReply *r = reply;
  const redisReply *range = element(r, 0, REDIS_REPLY_ARRAY);
  const redisReply *state = element(r, 1, REDIS_REPLY_STRING);
  if (!range || !state) {
    fail(&h->req, c->sh, r);
    herald_free(c);
    return;
  }
  herald_free(c);
  struct message *created = created_in(range, h->of);
  struct message **list = &created;
  size_t n = created != NULL;
  if (n && h->view == STORE_VIEW_VERSIONS)
    n = versions_of(created, element(r, 2, REDIS_REPLY_ARRAY), h, &list);
  else if (n)
    attach_summary(created = as_now(created, state, h),
                   element(r, 3, REDIS_REPLY_STRING), h);
  page_list(h, list, n);
  if (list != &created) herald_free(list);
  succeed(&h->req);
}

/* The message h->of as it now is (latest view) or its versions. */
static void run_message(struct redis_store *s, struct store_history *h) {
  struct position of;
  if (!parse_position(h->of, &of) || of.index < 0) { /* no such message */
    h->messages = herald_xcalloc(1, sizeof *h->messages);
    succeed(&h->req);
    return;
  }
  char id[40];
  snprintf(id, sizeof id, "%" PRId64 "-%u", of.ms, of.seq);
  size_t len;
  struct args args = {.n = 0};
  arg_str(&args, "EVALSHA");
  arg_str(&args, s->sha[SCRIPT_MESSAGE]);
  arg_str(&args, "4");
  arg_channel_key(&args, "h:m:", h->app_id, h->channel);
  arg_channel_key(&args, "h:l:", h->app_id, h->channel);
  char *versions = channel_subkey("h:v:", h->app_id, h->channel, h->of, &len);
  arg_owned(&args, versions, len);
  arg_channel_key(&args, "h:sm:", h->app_id, h->channel);
  arg_str(&args, id);
  arg_str(&args, h->of);
  arg_str(&args, h->view == STORE_VIEW_VERSIONS ? "v" : "");
  send_args(call_new(&h->req, shard_of(s, h->app_id, h->channel)), on_message,
            &args);
}

static void run_history(struct redis_store *s, struct store_history *h) {
  struct position cursor = {0};
  h->count = 0;
  h->messages = NULL;
  h->next_cursor = NULL;
  if (h->cursor && !parse_position(h->cursor, &cursor)) {
    h->req.rc = herald_error_set(&h->req.err, HERALD_E_BAD_REQUEST,
                                 "Invalid history cursor");
    store_req__complete(&h->req);
    return;
  }
  if (h->of && h->stream != STORE_ANNOTATIONS) {
    run_message(s, h);
    return;
  }
  size_t key_len;
  char *key = h->stream == STORE_ANNOTATIONS
                  ? channel_subkey("h:n:", h->app_id, h->channel, h->of, &key_len)
                  : channel_key(h->stream == STORE_PRESENCE ? "h:p:" : "h:m:",
                                h->app_id, h->channel, &key_len);
  char lower[32], upper[32], count[24];
  bound(lower, sizeof lower, h, &cursor, false);
  bound(upper, sizeof upper, h, &cursor, true);
  snprintf(count, sizeof count, "%zu", h->limit + 2);
  bool forwards = h->direction == STORE_FORWARDS;
  bool latest = h->view == STORE_VIEW_LATEST;
  struct args args = {.n = 0};
  if (latest) {
    arg_str(&args, "EVALSHA");
    arg_str(&args, s->sha[SCRIPT_SCAN]);
    arg_str(&args, "1");
    arg(&args, key, key_len);
  }
  arg_str(&args, forwards ? "XRANGE" : "XREVRANGE");
  if (!latest) arg(&args, key, key_len);
  arg_str(&args, forwards ? lower : upper);
  arg_str(&args, forwards ? upper : lower);
  if (!latest) arg_str(&args, "COUNT");
  arg_str(&args, count);
  send_args(call_new(&h->req, shard_of(s, h->app_id, h->channel)), on_history,
            &args);
  herald_free(key);
}

/* ---- Requests of several commands ---------------------------------------------- */

/* One request sent as several commands (one per shard, or one per
 * channel), complete when all answered. */
struct fan_in {
  struct store_req *req;
  size_t pending;
  bool failed;
  herald_error err; /* the first failure */
  char **names; /* channels */
  size_t n, cap;
};

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The page of channel names, from every shard's live channels. */
static void finish_channels(struct fan_in *f) {
  struct store_channels *c = (struct store_channels *)f->req;
  size_t prefix_len = c->prefix ? strlen(c->prefix) : 0;
  if (f->n) qsort(f->names, f->n, sizeof *f->names, compare_names);
  c->names = herald_xcalloc(c->limit + 1, sizeof *c->names);
  c->count = 0;
  c->next_cursor = NULL;
  for (size_t i = 0; i < f->n; i++) {
    char *name = f->names[i];
    f->names[i] = NULL;
    if ((prefix_len && strncmp(name, c->prefix, prefix_len)) ||
        (c->cursor && strcmp(name, c->cursor) < 0) || c->next_cursor) {
      herald_free(name);
    } else if (c->count == c->limit) {
      c->next_cursor = name;
    } else {
      c->names[c->count++] = name;
    }
  }
}

static void announce_drop(struct redis_store *s, const char *app_id);

static void fan_in_answered(struct fan_in *f, struct redis_shard *sh,
                            const redisReply *r, bool ok) {
  if (!ok && !f->failed) {
    f->failed = true;
    if (r && r->type == REDIS_REPLY_ERROR)
      herald_error_set(&f->err, HERALD_E_INTERNAL, "Storage error: %s", r->str);
    else
      redis_shard__unavailable(sh, &f->err);
  }
  if (--f->pending) return;
  if (f->failed) {
    f->req->rc = herald_error_set(&f->req->err, f->err.code, "%s",
                                  f->err.message);
  } else {
    if (f->req->op == STORE_OP_CHANNELS) finish_channels(f);
    if (f->req->op == STORE_OP_DROP_APP)
      announce_drop(store_of(sh), ((struct store_drop_app *)f->req)->app_id);
    f->req->rc = 0;
  }
  for (size_t i = 0; i < f->n; i++) herald_free(f->names[i]);
  herald_free(f->names);
  struct store_req *req = f->req;
  herald_free(f);
  store_req__complete(req);
}

static void on_shard_channels(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct fan_in *f = c->extra;
  const redisReply *r = reply;
  bool ok = r && r->type == REDIS_REPLY_ARRAY;
  for (size_t i = 0; ok && i < r->elements; i++) {
    const redisReply *name = r->element[i];
    if (name->type != REDIS_REPLY_STRING) continue;
    if (f->n == f->cap) {
      f->cap = f->cap ? f->cap * 2 : 64;
      f->names = herald_xrealloc(f->names, f->cap * sizeof *f->names);
    }
    f->names[f->n++] = herald_xstrndup(name->str, name->len);
  }
  fan_in_answered(f, c->sh, r, ok);
  herald_free(c);
}

static void on_shard_dropped(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  const redisReply *r = reply;
  fan_in_answered(c->extra, c->sh, r, r && r->type == REDIS_REPLY_INTEGER);
  herald_free(c);
}

/* Sends one command per shard (build fills it for shard i). */
static void fan_out(struct redis_store *s, struct store_req *req,
                    redisCallbackFn *fn,
                    void (*build)(const struct redis_store *s, struct args *a,
                                  const void *in, size_t i, char *scratch,
                                  size_t scratch_size),
                    const void *in) {
  struct fan_in *f = herald_xcalloc(1, sizeof *f);
  f->req = req;
  f->pending = s->n_shards;
  for (size_t i = 0; i < s->n_shards; i++) {
    struct call *c = call_new(req, &s->shards[i]);
    c->extra = f;
    struct args args = {.n = 0};
    char scratch[320];
    build(s, &args, in, i, scratch, sizeof scratch);
    bool sent = redis_shard__command(c->sh, fn, c, args.n, args.argv, args.lens);
    args_free(&args);
    if (!sent) {
      herald_free(c);
      fan_in_answered(f, &s->shards[i], NULL, false);
    }
  }
}

static void build_channels(const struct redis_store *s, struct args *a,
                           const void *in, size_t i, char *scratch,
                           size_t size) {
  const struct store_channels *c = in;
  int index = snprintf(scratch, size, "h:a:%s", c->app_id) + 1;
  int used = index + snprintf(scratch + index, size - (size_t)index, "h:ua:%s",
                              c->app_id) + 1;
  snprintf(scratch + used, size - (size_t)used, "%" PRId64, clock__now_ms());
  arg_str(a, "EVALSHA");
  arg_str(a, s->sha[SCRIPT_CHANNELS]);
  arg_str(a, "2");
  arg_str(a, scratch);
  arg_str(a, scratch + index);
  arg_str(a, scratch + used);
}

static void run_channels(struct redis_store *s, struct store_channels *c) {
  fan_out(s, &c->req, on_shard_channels, build_channels, c);
}

static void build_drop(const struct redis_store *s, struct args *a,
                       const void *in, size_t i, char *scratch, size_t size) {
  const struct store_drop_app *d = in;
  snprintf(scratch, size, "h:a:%s", d->app_id);
  arg_str(a, "EVALSHA");
  arg_str(a, s->sha[SCRIPT_DROP]);
  arg_str(a, "1");
  arg_str(a, scratch);
  arg_str(a, d->app_id);
  arg_str(a, i == 0 ? "1" : "0"); /* the first shard keeps records */
}

static void run_drop_app(struct redis_store *s, struct store_drop_app *d) {
  fan_out(s, &d->req, on_shard_dropped, build_drop, d);
}

/* ---- Occupancy ------------------------------------------------------------------
 *
 * Each worker tells its attachment counts per channel (h:u:, one field
 * per node and worker); a query adds up the other nodes' fields and the
 * channel's members. One command per channel, pipelined. */

/* "c p s pc ps op os": the counts a worker keeps in h:u:. */
static void format_counts(char *out, size_t size, const struct occupancy *o) {
  if (!o->connections) {
    out[0] = 0;
    return;
  }
  snprintf(out, size, "%ld %ld %ld %ld %ld %ld %ld", o->connections,
           o->publishers, o->subscribers, o->presence_connections,
           o->presence_subscribers, o->object_publishers, o->object_subscribers);
}

/* A fan-in of count commands (at least one answer, even for none). */
static struct fan_in *fan_in_new(struct store_req *req, size_t count) {
  struct fan_in *f = herald_xcalloc(1, sizeof *f);
  f->req = req;
  f->pending = count + 1; /* + the sender's own share */
  return f;
}

/* Sends args for f's command index to sh (or counts it failed). */
static void fan_in_send(struct fan_in *f, struct redis_shard *sh,
                        redisCallbackFn *fn, size_t index, struct args *args) {
  struct call *c = call_new(f->req, sh);
  c->extra = f;
  c->index = index;
  bool sent = redis_shard__command(sh, fn, c, args->n, args->argv, args->lens);
  args_free(args);
  if (!sent) {
    herald_free(c);
    fan_in_answered(f, sh, NULL, false);
  }
}

/* What this node tells Redis of one worker's attachments on a channel,
 * kept to tell it again when the channel's shard comes back (a Redis
 * without persistence comes back empty; one with it may have missed a
 * change). Forgotten once "none" was answered. */
struct told_usage {
  char *key; /* in s->told */
  size_t key_len;
  char *app_id, *channel;
  int worker;
  char counts[160]; /* format_counts; "" for none */
  unsigned in_flight; /* sent, not answered */
  struct redis_store *s;
};

static void free_told(struct told_usage *t) {
  herald_free(t->key);
  herald_free(t->app_id);
  herald_free(t->channel);
  herald_free(t);
}

static void on_usage_told(redisAsyncContext *ac, void *reply, void *priv) {
  struct told_usage *t = priv;
  const redisReply *r = reply;
  t->in_flight--;
  if (r && r->type == REDIS_REPLY_INTEGER && !t->counts[0] && !t->in_flight) {
    hashmap__remove(&t->s->told, t->key, t->key_len);
    free_told(t);
  }
}

/* Sends t to its channel's shard (kept for the shard's return if it is
 * down). */
static void send_usage(struct redis_store *s, struct told_usage *t) {
  char field[40];
  snprintf(field, sizeof field, "%s.%d", s->node, t->worker);
  if (t->counts[0]) note_member_channel(s, t->app_id, t->channel);
  struct args args = {.n = 0};
  arg_str(&args, "EVALSHA");
  arg_str(&args, s->sha[SCRIPT_USAGE]);
  arg_str(&args, "3");
  arg_channel_key(&args, "h:u:", t->app_id, t->channel);
  arg_used_key(&args, t->app_id);
  arg_channel_key(&args, "h:t:", t->app_id, t->channel);
  arg_str(&args, field);
  arg_str(&args, t->counts);
  arg_str(&args, t->channel);
  if (redis_shard__command(shard_of(s, t->app_id, t->channel), on_usage_told,
                           t, args.n, args.argv, args.lens))
    t->in_flight++;
  args_free(&args);
}

static void run_usage(struct redis_store *s, struct store_usage *u) {
  for (size_t i = 0; i < u->count; i++) {
    const struct store_usage_entry *e = &u->entries[i];
    size_t len;
    char *key = channel_key("", e->app_id, e->channel, &len);
    key = herald_xrealloc(key, len + 16);
    len += (size_t)sprintf(key + len, "\n%d", u->worker);
    struct told_usage *t = hashmap__get(&s->told, key, len);
    if (t) {
      herald_free(key);
    } else {
      t = herald_xcalloc(1, sizeof *t);
      t->key = key;
      t->key_len = len;
      t->app_id = herald_xstrdup(e->app_id);
      t->channel = herald_xstrdup(e->channel);
      t->worker = u->worker;
      t->s = s;
      hashmap__put(&s->told, key, len, t);
    }
    format_counts(t->counts, sizeof t->counts, &e->counts);
    send_usage(s, t);
  }
  succeed(&u->req);
}

/* sh is up (again): it hears this node's attachments on its channels. */
static void retell_usage(struct redis_store *s, const struct redis_shard *sh) {
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&s->told, &bucket); e;
       e = hashmap__next(&s->told, e, &bucket)) {
    struct told_usage *t = e->value;
    if (shard_of(s, t->app_id, t->channel) == sh) send_usage(s, t);
  }
}

static void on_occupancy(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct store_occupancy *o = (struct store_occupancy *)c->req;
  const redisReply *r = reply;
  long n[8];
  bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 8;
  for (size_t i = 0; ok && i < 8; i++) {
    const redisReply *e = element(r, i, REDIS_REPLY_INTEGER);
    ok = e != NULL;
    n[i] = e ? (long)e->integer : 0;
  }
  if (ok) {
    struct occupancy part = {
        .connections = n[0], .publishers = n[1], .subscribers = n[2],
        .presence_connections = n[3], .presence_subscribers = n[4],
        .object_publishers = n[5], .object_subscribers = n[6],
        .presence_members = n[7]};
    store__add_occupancy(&o->results[c->index], &part);
  }
  fan_in_answered(c->extra, c->sh, r, ok);
  herald_free(c);
}

static void run_occupancy(struct redis_store *s, struct store_occupancy *o) {
  struct fan_in *f = fan_in_new(&o->req, o->count);
  char prefix[24];
  snprintf(prefix, sizeof prefix, "%s.", s->node);
  for (size_t i = 0; i < o->count; i++) {
    struct args args = {.n = 0};
    arg_str(&args, "EVALSHA");
    arg_str(&args, s->sha[SCRIPT_OCCUPANCY]);
    arg_str(&args, "2");
    arg_channel_key(&args, "h:u:", o->app_id, o->channels[i]);
    arg_channel_key(&args, "h:s:", o->app_id, o->channels[i]);
    arg_str(&args, prefix);
    fan_in_send(f, shard_of(s, o->app_id, o->channels[i]), on_occupancy, i,
                &args);
  }
  fan_in_answered(f, &s->shards[0], NULL, true);
}

/* ---- Records ------------------------------------------------------------------- */

static void on_record_put(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  const redisReply *r = reply;
  if (r && r->type == REDIS_REPLY_INTEGER) succeed(c->req);
  else fail(c->req, c->sh, r);
  herald_free(c);
}

/* The control message of a change: "<node>\n<op>\n<kind>\n<app>\n<value>
 * \n<key>", op p(ut), d(elete) or x (app dropped); the key, which may hold
 * anything, comes last (values are compact JSON: no line breaks). */
static char *control_message(const struct redis_store *s, char op,
                             const char *kind, const char *app_id,
                             const char *value, const char *key, size_t *len) {
  size_t n = strlen(s->node) + strlen(kind) + strlen(app_id) + strlen(value) +
             strlen(key) + 8;
  char *text = herald_xmalloc(n);
  *len = (size_t)snprintf(text, n, "%s\n%c\n%s\n%s\n%s\n%s", s->node, op, kind,
                          app_id, value, key);
  return text;
}

static void run_put_record(struct redis_store *s, struct store_record *r) {
  size_t field_len, len;
  char *field = channel_key("", r->app_id, r->key, &field_len); /* app\nkey */
  struct args args = {.n = 0};
  arg_str(&args, "EVALSHA");
  arg_str(&args, s->sha[SCRIPT_RECORD]);
  arg_str(&args, "2");
  char *hash = herald_xmalloc(4 + strlen(r->kind) + 1);
  sprintf(hash, "h:r:%s", r->kind);
  arg_owned(&args, hash, strlen(hash));
  arg_str(&args, "h:rk");
  arg_owned(&args, field, field_len);
  if (r->value) {
    size_t n = strlen(r->value);
    char *value = herald_xmalloc(24 + n);
    int head = snprintf(value, 24, "%" PRId64 "|", r->expires);
    memcpy(value + head, r->value, n + 1);
    arg_owned(&args, value, (size_t)head + n);
  } else {
    arg(&args, "", 0);
  }
  arg_str(&args, r->kind);
  char *message = control_message(s, r->value ? 'p' : 'd', r->kind, r->app_id,
                                  r->value ? r->value : "", r->key, &len);
  arg_owned(&args, message, len);
  send_args(call_new(&r->req, &s->shards[0]), on_record_put, &args);
}

/* The other nodes forget the app too. */
static void announce_drop(struct redis_store *s, const char *app_id) {
  size_t len;
  char *message = control_message(s, 'x', "", app_id, "", "", &len);
  const char *argv[] = {"PUBLISH", "h:ctl", message};
  size_t lens[] = {7, 5, len};
  redis_shard__command(&s->shards[0], NULL, NULL, 3, argv, lens);
  herald_free(message);
}

/* A control message from h:ctl: another node's change, for the record
 * watcher. */
static void on_control(struct redis_store *s, const char *text, size_t len) {
  char *copy = herald_xstrndup(text, len), *part[6], *p = copy;
  size_t n = 0;
  for (; n < 5 && p; n++) {
    part[n] = p;
    p = strchr(p, '\n');
    if (p) *p++ = '\0';
  }
  if (n == 5 && p && strcmp(part[0], s->node) && part[1][0]) {
    part[5] = p;
    char op = part[1][0];
    const char *kind = op == 'x' ? NULL : op == 't' ? STORE_CONNECTION_MOVED
                                                    : part[2];
    uv_mutex_lock(&s->lock);
    for (int i = 0; !s->quiet && i < s->base.n_records; i++)
      s->base.records[i].fn(s->base.records[i].ctx, kind, part[3], part[5],
                            op == 'p' ? part[4] : NULL);
    uv_mutex_unlock(&s->lock);
  }
  herald_free(copy);
}

struct record {
  char *field; /* "<app>\n<key>" */
  const char *value;
};

static int compare_records(const void *a, const void *b) {
  return strcmp(((const struct record *)a)->field,
                ((const struct record *)b)->field);
}

/* Calls fn for each live record of one HGETALL reply, in (app, key)
 * order. */
static void each_record(const redisReply *r, store_record_fn fn, void *ctx) {
  size_t n = r->elements / 2, live = 0;
  struct record *list = herald_xcalloc(n + 1, sizeof *list);
  int64_t now = clock__now_ms();
  for (size_t i = 0; i < n; i++) {
    const redisReply *f = r->element[2 * i], *v = r->element[2 * i + 1];
    char *bar = v->type == REDIS_REPLY_STRING ? strchr(v->str, '|') : NULL;
    if (f->type != REDIS_REPLY_STRING || !bar || !memchr(f->str, '\n', f->len))
      continue;
    int64_t expires = strtoll(v->str, NULL, 10);
    if (expires > 0 && expires <= now) continue;
    list[live].field = herald_xstrndup(f->str, f->len);
    list[live++].value = bar + 1;
  }
  qsort(list, live, sizeof *list, compare_records);
  for (size_t i = 0; i < live; i++) {
    char *newline = strchr(list[i].field, '\n');
    *newline = '\0';
    fn(ctx, list[i].field, newline + 1, list[i].value);
    herald_free(list[i].field);
  }
  herald_free(list);
}

/* At start-up, before any request: a blocking connection of its own. */
static int redis_load_records(struct store *base, const char *kind,
                              store_record_fn fn, void *ctx,
                              herald_error *err) {
  struct redis_store *s = (struct redis_store *)base;
  struct redis_shard *first = &s->shards[0];
  struct timeval timeout = {CONNECT_TIMEOUT_MS / 1000, 0};
  redisContext *rc = redisConnectWithTimeout(first->host, first->port, timeout);
  if (!rc || rc->err) {
    int code = herald_error_set(err, HERALD_E_UNAVAILABLE,
                                "cannot reach redis %s:%d: %s", first->host,
                                first->port, rc ? rc->errstr : "out of memory");
    redisFree(rc);
    return code;
  }
  redisReply *r = redisCommand(rc, "HGETALL h:r:%s", kind);
  int code = 0;
  if (r && r->type == REDIS_REPLY_ARRAY) each_record(r, fn, ctx);
  else
    code = herald_error_set(err, HERALD_E_UNAVAILABLE,
                            "cannot read records from redis %s:%d: %s",
                            first->host, first->port,
                            r && r->type == REDIS_REPLY_ERROR ? r->str
                                                              : rc->errstr);
  freeReplyObject(r);
  redisFree(rc);
  return code;
}

/* ---- Connections' state ------------------------------------------------------------ */

static void on_connection(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct store_connection *sc = (struct store_connection *)c->req;
  const redisReply *r = reply;
  if (!r || r->type == REDIS_REPLY_ERROR) {
    fail(&sc->req, c->sh, r);
  } else {
    if ((sc->take || sc->peek) && r->type == REDIS_REPLY_STRING)
      sc->taken = herald_xstrndup(r->str, r->len);
    succeed(&sc->req);
  }
  herald_free(c);
}

/* "h:x:<id>" on the first shard. */
static void run_connection(struct redis_store *s, struct store_connection *sc) {
  char key[80];
  snprintf(key, sizeof key, "h:x:%s", sc->id);
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%" PRId64, sc->ttl_ms > 0 ? sc->ttl_ms : 1);
  struct args args = {.n = 0};
  if (sc->take) {
    size_t len;
    char *message = control_message(s, 't', "", "", "", sc->id, &len);
    arg_str(&args, "EVALSHA");
    arg_str(&args, s->sha[SCRIPT_TAKE]);
    arg_str(&args, "1");
    arg_str(&args, key);
    arg_owned(&args, message, len);
  } else if (sc->peek) {
    arg_str(&args, "GET");
    arg_str(&args, key);
  } else if (sc->value) {
    arg_str(&args, "SET");
    arg_str(&args, key);
    arg_str(&args, sc->value);
    arg_str(&args, "PX");
    arg_str(&args, ttl);
  } else {
    arg_str(&args, "DEL");
    arg_str(&args, key);
  }
  send_args(call_new(&sc->req, &s->shards[0]), on_connection, &args);
}

static void on_once(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct store_once *o = (struct store_once *)c->req;
  const redisReply *r = reply;
  if (!r || r->type == REDIS_REPLY_ERROR) {
    fail(&o->req, c->sh, r);
  } else {
    o->first = r->type == REDIS_REPLY_STATUS; /* OK; nil: seen */
    succeed(&o->req);
  }
  herald_free(c);
}

/* "h:o:<key>" on the first shard, SET NX for ttl_ms. */
static void run_once(struct redis_store *s, struct store_once *o) {
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%" PRId64, o->ttl_ms > 0 ? o->ttl_ms : 1);
  char *key = herald_xmalloc(4 + strlen(o->key) + 1);
  sprintf(key, "h:o:%s", o->key);
  struct args args = {.n = 0};
  arg_str(&args, "SET");
  arg_owned(&args, key, strlen(key));
  arg_str(&args, "1");
  arg_str(&args, "NX");
  arg_str(&args, "PX");
  arg_str(&args, ttl);
  send_args(call_new(&o->req, &s->shards[0]), on_once, &args);
}

/* ---- Presence members ------------------------------------------------------------ */

static void on_members(redisAsyncContext *ac, void *reply, void *priv) {
  struct call *c = priv;
  struct store_members *m = (struct store_members *)c->req;
  const redisReply *r = reply;
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    fail(&m->req, c->sh, r);
    herald_free(c);
    return;
  }
  m->members = herald_xcalloc(r->elements / 2 + 1, sizeof *m->members);
  for (size_t i = 1; i < r->elements; i += 2) {
    const redisReply *v = r->element[i];
    herald_error err;
    struct message *member;
    if (v->type != REDIS_REPLY_STRING ||
        redis_batch__decode_member(v->str, v->len, &member, NULL, &err)) {
      log_warn("members of %s: skipping a malformed member", m->channel);
      continue;
    }
    m->members[m->count++] = member;
  }
  herald_free(c);
  succeed(&m->req);
}

static void run_members(struct redis_store *s, struct store_members *m) {
  size_t len;
  struct args args = {.n = 0};
  char *key = channel_key("h:s:", m->app_id, m->channel, &len);
  if (m->adopt_connection) {
    arg_str(&args, "EVALSHA");
    arg_str(&args, s->sha[SCRIPT_ADOPT]);
    arg_str(&args, "1");
    arg_owned(&args, key, len);
    char *prefix = herald_xmalloc(strlen(m->adopt_connection) + 2);
    sprintf(prefix, "%s:", m->adopt_connection);
    arg_owned(&args, prefix, strlen(prefix));
    arg_str(&args, s->node);
    note_member_channel(s, m->app_id, m->channel);
  } else {
    arg_str(&args, "HGETALL");
    arg_owned(&args, key, len);
  }
  send_args(call_new(&m->req, shard_of(s, m->app_id, m->channel)), on_members,
            &args);
}

/* ---- Dead nodes' members ------------------------------------------------------------
 *
 * Every node checks in (h:nodes) each third of --node-timeout-ms. A node
 * that finds another silent for longer claims it (h:reaping:<node>, for
 * one timeout) and makes its members leave, channel by channel (the dead
 * node listed them in h:nm:<node>): a LEAVE each, appended as any
 * presence change, so history has them and every node delivers them. */

/* One dead node being reaped. */
struct reap {
  struct redis_store *s;
  char *node;
  size_t pending; /* channels not done yet */
};

/* One channel's LEAVEs, appended by the engine itself. */
struct reap_append {
  struct store_append append;
  struct reap *reap;
  char *app_id, *channel;
  char message_id[16];
};

static void reap_done(struct reap *r) {
  if (--r->pending) return;
  struct redis_shard *first = &r->s->shards[0];
  char set[32];
  snprintf(set, sizeof set, "h:nm:%s", r->node);
  const char *del[] = {"DEL", set};
  size_t del_lens[] = {3, strlen(set)};
  redis_shard__command(first, NULL, NULL, 2, del, del_lens);
  const char *zrem[] = {"ZREM", "h:nodes", r->node};
  size_t zrem_lens[] = {4, 7, strlen(r->node)};
  redis_shard__command(first, NULL, NULL, 3, zrem, zrem_lens);
  log_info("node %s was silent: its presence members left", r->node);
  herald_free(r->node);
  herald_free(r);
}

static void on_reap_appended(struct store_req *req) {
  struct reap_append *ra = (struct reap_append *)req;
  if (req->rc) log_warn("reaping %s: %s", ra->channel, req->err.message);
  struct reap *r = ra->reap;
  message__free_list((struct message **)ra->append.messages, ra->append.count);
  store__append_cleanup(&ra->append);
  herald_free(ra->app_id);
  herald_free(ra->channel);
  herald_free(ra);
  reap_done(r);
}

/* {retention, key, value, ...}: the dead node's members on one channel. */
static void on_dead_members(redisAsyncContext *ac, void *reply, void *priv) {
  struct reap_append *ra = priv;
  const redisReply *r = reply;
  const redisReply *retention = element(r, 0, REDIS_REPLY_STRING);
  size_t n = retention ? (r->elements - 1) / 2 : 0;
  struct message **leaves = herald_xcalloc(n + 1, sizeof *leaves);
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    const redisReply *v = r->element[2 + 2 * i];
    struct message *member;
    herald_error err;
    if (v->type != REDIS_REPLY_STRING ||
        redis_batch__decode_member(v->str, v->len, &member, NULL, &err))
      continue;
    struct message *leave = presence_message__copy(member, PRESENCE_LEAVE);
    message__unref(member);
    herald_free(leave->id);
    leave->id = herald_xmalloc(sizeof ra->message_id + 24);
    sprintf(leave->id, "%s:0:%zu", ra->message_id, count);
    leaves[count++] = leave;
  }
  if (!count) {
    herald_free(leaves);
    ra->append.count = 0;
    on_reap_appended(&ra->append.req);
    return;
  }
  struct store_append *a = &ra->append;
  a->messages = leaves;
  a->count = count;
  a->retention_ms = retention->len ? strtoll(retention->str, NULL, 10)
                                   : ra->reap->s->retention_ms;
  run_append(ra->reap->s, a);
}

static void reap_channel(struct reap *r, const char *app_id,
                         const char *channel) {
  struct reap_append *ra = herald_xcalloc(1, sizeof *ra);
  ra->reap = r;
  ra->app_id = herald_xstrdup(app_id);
  ra->channel = herald_xstrdup(channel);
  msgid__random(ra->message_id, 12);
  struct store_append *a = &ra->append;
  a->req.op = STORE_OP_APPEND;
  a->req.done = on_reap_appended; /* origin NULL: on this thread */
  a->app_id = ra->app_id;
  a->channel = ra->channel;
  a->stream = STORE_PRESENCE;
  a->message_id = ra->message_id;
  r->pending++;
  struct args args = {.n = 0};
  arg_str(&args, "EVALSHA");
  arg_str(&args, r->s->sha[SCRIPT_MEMBERS_OF]);
  arg_str(&args, "4");
  arg_channel_key(&args, "h:s:", app_id, channel);
  arg_channel_key(&args, "h:c:", app_id, channel);
  arg_channel_key(&args, "h:u:", app_id, channel);
  arg_used_key(&args, app_id);
  arg_str(&args, r->node);
  arg_str(&args, channel);
  bool sent = redis_shard__command(shard_of(r->s, app_id, channel),
                                   on_dead_members, ra, args.n, args.argv,
                                   args.lens);
  args_free(&args);
  if (!sent) {
    ra->append.count = 0;
    on_reap_appended(&ra->append.req);
  }
}

/* The channels "<app>\n<channel>" the dead node had members on. */
static void on_dead_channels(redisAsyncContext *ac, void *reply, void *priv) {
  struct reap *r = priv;
  const redisReply *list = reply;
  r->pending = 1; /* this reply's own share, released below */
  for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY &&
                     i < list->elements; i++) {
    const redisReply *e = list->element[i];
    char *newline = e->type == REDIS_REPLY_STRING ? memchr(e->str, '\n', e->len)
                                                   : NULL;
    if (!newline) continue;
    char *app_id = herald_xstrndup(e->str, (size_t)(newline - e->str));
    char *channel = herald_xstrndup(newline + 1,
                                    e->len - (size_t)(newline + 1 - e->str));
    reap_channel(r, app_id, channel);
    herald_free(app_id);
    herald_free(channel);
  }
  reap_done(r);
}

static void on_claimed(redisAsyncContext *ac, void *reply, void *priv) {
  struct reap *r = priv;
  const redisReply *ok = reply;
  char set[32];
  snprintf(set, sizeof set, "h:nm:%s", r->node);
  const char *argv[] = {"SMEMBERS", set};
  size_t lens[] = {8, strlen(set)};
  if (ok && ok->type == REDIS_REPLY_STATUS &&
      redis_shard__command(&r->s->shards[0], on_dead_channels, r, 2, argv, lens))
    return;
  herald_free(r->node); /* another node reaps it, or Redis is away */
  herald_free(r);
}

static void claim(struct redis_store *s, const char *node) {
  struct reap *r = herald_xcalloc(1, sizeof *r);
  r->s = s;
  r->node = herald_xstrdup(node);
  char lock[32], ttl[24];
  snprintf(lock, sizeof lock, "h:reaping:%s", node);
  snprintf(ttl, sizeof ttl, "%" PRId64, s->node_timeout_ms);
  const char *argv[] = {"SET", lock, s->node, "NX", "PX", ttl};
  size_t lens[] = {3, strlen(lock), strlen(s->node), 2, 2, strlen(ttl)};
  if (!redis_shard__command(&s->shards[0], on_claimed, r, 6, argv, lens)) {
    herald_free(r->node);
    herald_free(r);
  }
}

static void on_beat(redisAsyncContext *ac, void *reply, void *priv) {
  struct redis_store *s = priv;
  const redisReply *silent = reply;
  for (size_t i = 0; silent && silent->type == REDIS_REPLY_ARRAY &&
                     i < silent->elements; i++) {
    const redisReply *node = silent->element[i];
    if (node->type == REDIS_REPLY_STRING && node->len < 24 &&
        strcmp(node->str, s->node))
      claim(s, node->str);
  }
}

static void beat(uv_timer_t *timer) {
  struct redis_store *s = timer->data;
  char timeout[24];
  snprintf(timeout, sizeof timeout, "%" PRId64, s->node_timeout_ms);
  const char *argv[] = {"EVALSHA", s->sha[SCRIPT_BEAT], "1", "h:nodes", s->node,
                        timeout};
  size_t lens[] = {7, 40, 1, 7, strlen(s->node), strlen(timeout)};
  redis_shard__command(&s->shards[0], on_beat, s, 6, argv, lens);
  uv_mutex_lock(&s->lock);
  bool followed = s->base.outbox.fn != NULL;
  uv_mutex_unlock(&s->lock);
  if (followed) redis_outbox__beat(&s->outbox);
}

/* ---- Watches and the feed ------------------------------------------------------- */

static struct store_feed_item *item_new(enum store_feed_event event,
                                        const struct watch *w) {
  struct store_feed_item *it = herald_xcalloc(1, sizeof *it);
  it->event = event;
  it->app_id = herald_xstrdup(w->app_id);
  it->channel = herald_xstrdup(w->channel);
  return it;
}

/* Hands it to the watcher, unless the node went quiet (store__quiet). */
static void emit(struct redis_store *s, struct store_feed_item *it) {
  uv_mutex_lock(&s->lock);
  if (s->quiet) store__feed_item_free(it);
  else s->base.watcher.fn(s->base.watcher.ctx, it);
  uv_mutex_unlock(&s->lock);
}

static void drop_held(struct watch *w) {
  for (struct store_feed_item *it = w->held, *next; it; it = next) {
    next = it->next;
    store__feed_item_free(it);
  }
  w->held = NULL;
  w->held_tail = &w->held;
}

static void free_watch(struct watch *w) {
  drop_held(w);
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&w->usage, &bucket); e;
       e = hashmap__next(&w->usage, e, &bucket))
    herald_free(e->value);
  hashmap__cleanup(&w->usage);
  for (size_t i = 0; i < w->n_held_usage; i++) herald_free(w->held_usage[i]);
  herald_free(w->held_usage);
  herald_free(w->app_id);
  herald_free(w->channel);
  herald_free(w);
}

static struct watch *watch_get(struct redis_store *s, struct redis_shard *sh,
                               const char *topic, size_t len) {
  return hashmap__get(&s->watches[sh->index], topic, len);
}

static void watch_forget(struct redis_store *s, struct redis_shard *sh,
                         struct watch *w) {
  size_t len;
  char *topic = channel_key("h:t:", w->app_id, w->channel, &len);
  hashmap__remove(&s->watches[sh->index], topic, len);
  herald_free(topic);
  free_watch(w);
}

/* Sends (UN)SUBSCRIBE for w's topic. */
static bool watch_subscribe(struct redis_shard *sh, struct watch *w, bool on) {
  size_t len;
  char *topic = channel_key("h:t:", w->app_id, w->channel, &len);
  bool sent = redis_shard__subscribe(sh, on, topic, len);
  herald_free(topic);
  if (sent) w->state = on ? WATCH_SUBSCRIBING : WATCH_UNSUBSCRIBING;
  return sent;
}

/* The watch ended by itself: the node is told (if it still wants it) and
 * may watch again. A subscribed topic is left first -- resubscribing only
 * after Redis confirmed, since hiredis would drop a new subscription's
 * callback on the old one's confirmation. */
static void interrupt(struct redis_store *s, struct redis_shard *sh,
                      struct watch *w) {
  if (w->wanted) {
    struct store_feed_item *it = item_new(STORE_FEED_INTERRUPTED, w);
    redis_shard__unavailable(sh, &it->err);
    emit(s, it);
  }
  w->wanted = false;
  drop_held(w);
  bool subscribed = w->state == WATCH_POSITIONING || w->state == WATCH_LIVE;
  if (!subscribed || !watch_subscribe(sh, w, false)) watch_forget(s, sh, w);
}

/* An append from the topic: fed if it comes after what w fed so far. */
static void feed(struct redis_store *s, struct watch *w,
                 struct store_feed_item *it) {
  const char *serial = it->messages[it->count - 1]->serial;
  if (strcmp(serial, w->last) <= 0) {
    store__feed_item_free(it);
    return;
  }
  snprintf(w->last, SERIAL_MAX, "%s", serial);
  if (it->stream == STORE_PRESENCE) w->members = it->members;
  emit(s, it);
}

/* ---- Other nodes' attachments on a watched channel -------------------------- */

/* Field "<node>.<worker>" (len bytes) now has counts ("": none), unless
 * it is this node's (its owners count their own workers). */
static void set_usage(const struct redis_store *s, struct watch *w,
                      const char *field, size_t len, const char *counts) {
  size_t own = strlen(s->node);
  if (len > own && field[own] == '.' && !memcmp(field, s->node, own)) return;
  struct occupancy o = {0};
  int n = sscanf(counts, "%ld %ld %ld %ld %ld %ld %ld", &o.connections,
                 &o.publishers, &o.subscribers, &o.presence_connections,
                 &o.presence_subscribers, &o.object_publishers,
                 &o.object_subscribers);
  struct occupancy *known = hashmap__get(&w->usage, field, len);
  if (n != 7) {
    herald_free(hashmap__remove(&w->usage, field, len));
  } else if (known) {
    *known = o;
  } else {
    known = herald_xmalloc(sizeof *known);
    *known = o;
    hashmap__put(&w->usage, field, len, known);
  }
}

/* "- u <field> <counts>" as the usage script publishes it. */
static void set_usage_notice(const struct redis_store *s, struct watch *w,
                             const char *notice) {
  const char *field = notice + 4, *space = strchr(field, ' ');
  if (space) set_usage(s, w, field, (size_t)(space - field), space + 1);
}

static struct occupancy usage_sum(const struct watch *w) {
  struct occupancy sum = {0};
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&w->usage, &bucket); e;
       e = hashmap__next(&w->usage, e, &bucket))
    store__add_occupancy(&sum, e->value);
  return sum;
}

/* The position script's {field, counts, ...}, then the notices that came
 * meanwhile (in order: the last of each field wins). */
static void position_usage(const struct redis_store *s, struct watch *w,
                           const redisReply *list) {
  for (size_t i = 0; list && i + 1 < list->elements; i += 2) {
    const redisReply *f = list->element[i], *c = list->element[i + 1];
    if (f->type == REDIS_REPLY_STRING && c->type == REDIS_REPLY_STRING)
      set_usage(s, w, f->str, f->len, c->str);
  }
  for (size_t i = 0; i < w->n_held_usage; i++) {
    set_usage_notice(s, w, w->held_usage[i]);
    herald_free(w->held_usage[i]);
  }
  herald_free(w->held_usage);
  w->held_usage = NULL;
  w->n_held_usage = 0;
}

/* A usage notice for w: kept while positioning, else applied and fed. */
static void on_usage_notice(struct redis_store *s, struct watch *w,
                            const redisReply *payload) {
  if (w->state == WATCH_POSITIONING) {
    w->held_usage = herald_xrealloc(w->held_usage,
                                    (w->n_held_usage + 1) * sizeof *w->held_usage);
    w->held_usage[w->n_held_usage++] = herald_xstrndup(payload->str, payload->len);
  } else if (w->state == WATCH_LIVE) {
    char *notice = herald_xstrndup(payload->str, payload->len);
    set_usage_notice(s, w, notice);
    herald_free(notice);
    struct store_feed_item *it = item_new(STORE_FEED_USAGE, w);
    it->usage = usage_sum(w);
    emit(s, it);
  }
}

struct position_call {
  struct redis_shard *sh;
  uint64_t generation;
  size_t topic_len;
  char topic[];
};

static void on_position(redisAsyncContext *ac, void *reply, void *priv) {
  struct position_call *pc = priv;
  struct redis_shard *sh = pc->sh;
  struct redis_store *s = store_of(sh);
  struct watch *w = watch_get(s, sh, pc->topic, pc->topic_len);
  const redisReply *ms = element(reply, 0, REDIS_REPLY_INTEGER);
  const redisReply *seq = element(reply, 1, REDIS_REPLY_INTEGER);
  const redisReply *members = element(reply, 2, REDIS_REPLY_INTEGER);
  const redisReply *usage = element(reply, 3, REDIS_REPLY_ARRAY);
  bool current = w && w->generation == pc->generation &&
                 w->state == WATCH_POSITIONING;
  herald_free(pc);
  if (!current) return;
  if (!w->wanted || !ms || !seq || !members || seq->integer < 0 ||
      seq->integer > 999) {
    if (w->wanted) interrupt(s, sh, w);
    else if (!watch_subscribe(sh, w, false)) watch_forget(s, sh, w);
    return;
  }
  serial__floor(w->last, ms->integer, (unsigned)seq->integer);
  position_usage(s, w, usage);
  struct store_feed_item *it = item_new(STORE_FEED_POSITIONED, w);
  memcpy(it->position, w->last, SERIAL_MAX);
  it->members = (size_t)members->integer;
  it->usage = usage_sum(w);
  w->members = it->members;
  emit(s, it);
  w->state = WATCH_LIVE;
  struct store_feed_item *held = w->held;
  w->held = NULL;
  w->held_tail = &w->held;
  for (struct store_feed_item *next; held; held = next) {
    next = held->next;
    feed(s, w, held);
  }
}

/* Subscribed: read the channel's position (after the subscription, so
 * that nothing published later is missed). */
static void on_subscribed(struct redis_store *s, struct redis_shard *sh,
                          struct watch *w, const char *topic, size_t len) {
  if (!w->wanted) {
    if (!watch_subscribe(sh, w, false)) watch_forget(s, sh, w);
    return;
  }
  w->state = WATCH_POSITIONING;
  struct position_call *pc = herald_xmalloc(sizeof *pc + len + 1);
  pc->sh = sh;
  pc->generation = w->generation;
  pc->topic_len = len;
  memcpy(pc->topic, topic, len);
  struct args args = {.n = 0};
  arg_str(&args, "EVALSHA");
  arg_str(&args, s->sha[SCRIPT_POSITION]);
  arg_str(&args, "3");
  arg_channel_key(&args, "h:c:", w->app_id, w->channel);
  arg_channel_key(&args, "h:s:", w->app_id, w->channel);
  arg_channel_key(&args, "h:u:", w->app_id, w->channel);
  bool sent = redis_shard__command(sh, on_position, pc, args.n, args.argv,
                                   args.lens);
  args_free(&args);
  if (!sent) {
    herald_free(pc);
    interrupt(s, sh, w);
  }
}

static void on_unsubscribed(struct redis_store *s, struct redis_shard *sh,
                            struct watch *w) {
  w->generation = ++s->generations;
  if (!w->wanted || !watch_subscribe(sh, w, true)) {
    if (w->wanted) interrupt(s, sh, w);
    else watch_forget(s, sh, w);
  }
}

/* "<id> <kind> <members or -> <batch>" as the append script publishes
 * it. */
static struct store_feed_item *parse_published(const struct watch *w,
                                               const char *data, size_t len) {
  const char *end = data + len, *space = memchr(data, ' ', len < 32 ? len : 32);
  int64_t ms;
  unsigned seq;
  if (!space || end - space < 4 || space[2] != ' ' ||
      !redis_batch__parse_id(data, (size_t)(space - data), &ms, &seq))
    return NULL;
  char kind = space[1];
  const char *count = space + 3;
  const char *batch = memchr(count, ' ', (size_t)(end - count));
  if (!batch) return NULL;
  long long members = 0;
  if (*count != '-') {
    char digits[24];
    size_t n = (size_t)(batch - count);
    if (n == 0 || n >= sizeof digits) return NULL;
    memcpy(digits, count, n);
    digits[n] = '\0';
    members = strtoll(digits, NULL, 10);
  }
  struct redis_batch b;
  herald_error err;
  batch++;
  if (redis_batch__decode(batch, (size_t)(end - batch), ms, seq, &b, &err))
    return NULL;
  if ((kind == 'a') != (b.latest != NULL)) { /* an annotation has its summary */
    redis_batch__cleanup(&b);
    return NULL;
  }
  struct store_feed_item *it = item_new(STORE_FEED_APPENDED, w);
  it->stream = kind == 'p'   ? STORE_PRESENCE
               : kind == 'a' ? STORE_ANNOTATIONS
                             : STORE_MESSAGES;
  it->latest = b.latest;
  it->members = members > 0 ? (size_t)members : 0;
  it->message_id = b.message_id;
  it->connection_id = b.connection_id;
  it->messages = b.messages;
  it->count = b.count;
  return it;
}

static void on_published(struct redis_store *s, struct watch *w,
                         const redisReply *payload) {
  if (payload->len >= 4 && !memcmp(payload->str, "- u ", 4)) {
    on_usage_notice(s, w, payload);
    return;
  }
  if (w->state != WATCH_POSITIONING && w->state != WATCH_LIVE) return;
  struct store_feed_item *it = parse_published(w, payload->str, payload->len);
  if (!it) {
    log_warn("channel %s: skipping a malformed publish", w->channel);
    return;
  }
  if (w->state == WATCH_LIVE) {
    feed(s, w, it);
  } else {
    *w->held_tail = it;
    w->held_tail = &it->next;
  }
}

/* Every reply on a shard's pub/sub connection: [kind, topic, value]. */
static void on_sub_reply(struct redis_shard *sh, const redisReply *r) {
  struct redis_store *s = store_of(sh);
  const redisReply *kind = element(r, 0, REDIS_REPLY_STRING);
  const redisReply *topic = element(r, 1, REDIS_REPLY_STRING);
  if (!kind || !topic) return;
  if (redis_outbox__sub_reply(&s->outbox, sh, kind, topic)) return;
  if (topic->len == 5 && !memcmp(topic->str, "h:ctl", 5)) {
    const redisReply *message = element(r, 2, REDIS_REPLY_STRING);
    if (message && !strcmp(kind->str, "message"))
      on_control(s, message->str, message->len);
    return;
  }
  struct watch *w = watch_get(s, sh, topic->str, topic->len);
  if (!w) return;
  if (!strcmp(kind->str, "message")) {
    const redisReply *payload = element(r, 2, REDIS_REPLY_STRING);
    if (payload) on_published(s, w, payload);
  } else if (!strcmp(kind->str, "subscribe")) {
    if (w->state == WATCH_SUBSCRIBING)
      on_subscribed(s, sh, w, topic->str, topic->len);
  } else if (!strcmp(kind->str, "unsubscribe")) {
    if (w->state == WATCH_UNSUBSCRIBING) on_unsubscribed(s, sh, w);
  }
}

static void on_sub_down(struct redis_shard *sh) {
  struct redis_store *s = store_of(sh);
  struct hashmap *map = &s->watches[sh->index];
  size_t bucket;
  struct hashmap_entry *e = hashmap__first(map, &bucket);
  while (e) {
    struct hashmap_entry *next = hashmap__next(map, e, &bucket);
    struct watch *w = e->value;
    w->state = WATCH_SUBSCRIBING; /* nothing to leave: the connection is gone */
    interrupt(s, sh, w);
    e = next;
  }
}

static void run_watch(struct redis_store *s, struct store_watch *req) {
  struct redis_shard *sh = shard_of(s, req->app_id, req->channel);
  size_t len;
  char *topic = channel_key("h:t:", req->app_id, req->channel, &len);
  struct watch *w = watch_get(s, sh, topic, len);
  if (!req->on) {
    if (w) {
      w->wanted = false;
      if (w->state == WATCH_LIVE && !watch_subscribe(sh, w, false))
        watch_forget(s, sh, w);
    }
  } else if (w) {
    w->wanted = true;
    if (w->state == WATCH_LIVE) { /* fed already: it goes on from here */
      struct store_feed_item *it = item_new(STORE_FEED_POSITIONED, w);
      memcpy(it->position, w->last, SERIAL_MAX);
      it->members = w->members;
      it->usage = usage_sum(w);
      emit(s, it);
    }
  } else {
    w = herald_xcalloc(1, sizeof *w);
    w->wanted = true;
    w->generation = ++s->generations;
    w->app_id = herald_xstrdup(req->app_id);
    w->channel = herald_xstrdup(req->channel);
    w->held_tail = &w->held;
    hashmap__init(&w->usage);
    hashmap__put(&s->watches[sh->index], topic, len, w);
    if (!watch_subscribe(sh, w, true)) interrupt(s, sh, w);
  }
  herald_free(topic);
  herald_free(req->app_id);
  herald_free(req->channel);
  herald_free(req);
}

/* ---- The outbox ---------------------------------------------------------------- */

struct outbox_done {
  struct store_req req; /* no completion */
  char *key;
};

static void run_outbox_done(struct redis_store *s, struct outbox_done *d) {
  redis_outbox__done(&s->outbox, d->key);
  herald_free(d->key);
  herald_free(d);
}

/* An outbox entry for its follower, unless the node went quiet. */
static void emit_outbox(void *ctx, struct store_feed_item *it) {
  struct redis_store *s = ctx;
  uv_mutex_lock(&s->lock);
  if (s->quiet || !s->base.outbox.fn) store__feed_item_free(it);
  else s->base.outbox.fn(s->base.outbox.ctx, it);
  uv_mutex_unlock(&s->lock);
}

/* ---- The engine thread ------------------------------------------------------------ */

static void run_request(struct redis_store *s, struct store_req *req) {
  switch (req->op) {
  case STORE_OP_APPEND: run_append(s, (struct store_append *)req); break;
  case STORE_OP_HISTORY: run_history(s, (struct store_history *)req); break;
  case STORE_OP_CHANNELS: run_channels(s, (struct store_channels *)req); break;
  case STORE_OP_PUT_RECORD: run_put_record(s, (struct store_record *)req); break;
  case STORE_OP_DROP_APP: run_drop_app(s, (struct store_drop_app *)req); break;
  case STORE_OP_WATCH: run_watch(s, (struct store_watch *)req); break;
  case STORE_OP_MEMBERS: run_members(s, (struct store_members *)req); break;
  case STORE_OP_CONNECTION:
    run_connection(s, (struct store_connection *)req);
    break;
  case STORE_OP_ONCE: run_once(s, (struct store_once *)req); break;
  case STORE_OP_USAGE: run_usage(s, (struct store_usage *)req); break;
  case STORE_OP_OCCUPANCY: run_occupancy(s, (struct store_occupancy *)req); break;
  case STORE_OP_OUTBOX_DONE: run_outbox_done(s, (struct outbox_done *)req); break;
  case STORE_OP_LOAD_RECORDS: abort(); /* synchronous, never queued */
  }
}

static void shut_down(struct redis_store *s) {
  for (size_t i = 0; i < s->n_shards; i++) {
    redis_shard__stop(&s->shards[i]);
    size_t bucket;
    for (struct hashmap_entry *e = hashmap__first(&s->watches[i], &bucket); e;
         e = hashmap__next(&s->watches[i], e, &bucket))
      free_watch(e->value);
    hashmap__cleanup(&s->watches[i]);
  }
  uv_close((uv_handle_t *)&s->wake, NULL);
  uv_close((uv_handle_t *)&s->beat, NULL);
}

/* Takes the queued requests: NULL when there are none. */
static struct store_req *take_queue(struct redis_store *s) {
  uv_mutex_lock(&s->lock);
  struct store_req *req = s->queue_head;
  s->queue_head = s->queue_tail = NULL;
  uv_mutex_unlock(&s->lock);
  return req;
}

/* Runs what is queued until nothing is: a request queued while the last
 * ones ran may have no wake-up of its own left once stopping closes the
 * handle (the workers' last requests, made as they end, before close). */
static void on_wake(uv_async_t *handle) {
  struct redis_store *s = handle->data;
  for (struct store_req *req; (req = take_queue(s));)
    for (struct store_req *next; req; req = next) {
      next = req->queued_next;
      run_request(s, req);
    }
  if (atomic_load(&s->stopping) && !uv_is_closing((uv_handle_t *)&s->wake))
    shut_down(s);
}

/* A shard came up (again): open() waits for each one's first time. */
static void on_shard_up(struct redis_shard *sh) {
  struct redis_store *s = store_of(sh);
  if (sh->index == 0) {
    redis_shard__subscribe(sh, true, "h:ctl", 5);
    beat(&s->beat); /* in at once: a node dying soon is reaped too */
  }
  retell_usage(s, sh);
  redis_outbox__up(&s->outbox, sh);
  uv_mutex_lock(&s->lock);
  if (!s->seen_up[sh->index]) {
    s->seen_up[sh->index] = true;
    s->n_up++;
    uv_cond_signal(&s->up_cond);
  }
  uv_mutex_unlock(&s->lock);
}

static const struct redis_shard_events shard_events = {
    .up = on_shard_up, .sub_down = on_sub_down, .sub_reply = on_sub_reply};

static void engine_thread(void *arg) {
  struct redis_store *s = arg;
  for (size_t i = 0; i < s->n_shards; i++)
    redis_shard__start(&s->shards[i], &s->loop);
  uint64_t every = (uint64_t)(s->node_timeout_ms / 3);
  uv_timer_start(&s->beat, beat, every, every);
  uv_run(&s->loop, UV_RUN_DEFAULT);
}

static void enqueue(struct store *base, struct store_req *req) {
  struct redis_store *s = (struct redis_store *)base;
  req->queued_next = NULL;
  uv_mutex_lock(&s->lock);
  if (s->queue_tail) s->queue_tail->queued_next = req;
  else s->queue_head = req;
  s->queue_tail = req;
  uv_mutex_unlock(&s->lock);
  uv_async_send(&s->wake);
}

static void redis_append(struct store *s, struct store_append *a) {
  enqueue(s, &a->req);
}

static void redis_history(struct store *s, struct store_history *h) {
  enqueue(s, &h->req);
}

static void redis_channels(struct store *s, struct store_channels *c) {
  enqueue(s, &c->req);
}

static void redis_put_record(struct store *s, struct store_record *r) {
  enqueue(s, &r->req);
}

static void redis_drop_app(struct store *s, struct store_drop_app *d) {
  enqueue(s, &d->req);
}

static void redis_watch(struct store *s, struct store_watch *w) {
  enqueue(s, &w->req);
}

static void redis_members(struct store *s, struct store_members *m) {
  enqueue(s, &m->req);
}

static void redis_connection(struct store *s, struct store_connection *c) {
  enqueue(s, &c->req);
}

static void redis_once(struct store *s, struct store_once *o) {
  enqueue(s, &o->req);
}

static void redis_usage(struct store *s, struct store_usage *u) {
  enqueue(s, &u->req);
}

static void redis_occupancy(struct store *s, struct store_occupancy *o) {
  enqueue(s, &o->req);
}

static void redis_outbox_done(struct store *s, char *key) {
  struct outbox_done *d = herald_xcalloc(1, sizeof *d);
  d->req.op = STORE_OP_OUTBOX_DONE;
  d->key = key;
  enqueue(s, &d->req);
}

static void redis_quiet(struct store *base) {
  struct redis_store *s = (struct redis_store *)base;
  uv_mutex_lock(&s->lock);
  s->quiet = true;
  uv_mutex_unlock(&s->lock);
}

/* ---- Opening and closing ------------------------------------------------------------ */

static int parse_shards(struct redis_store *s, const char *list,
                        herald_error *err) {
  for (const char *p = list; *p;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    s->shards = herald_xrealloc(s->shards,
                                (s->n_shards + 1) * sizeof *s->shards);
    struct redis_shard *sh = &s->shards[s->n_shards];
    memset(sh, 0, sizeof *sh);
    int rc = redis_shard__parse_url(p, len, &sh->host, &sh->port, err);
    if (rc) return rc;
    sh->index = (int)s->n_shards++;
    sh->events = &shard_events;
    sh->owner = s;
    sh->scripts = scripts;
    sh->n_scripts = SCRIPTS;
    p += len + (comma != NULL);
  }
  if (!s->n_shards)
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "the redis engine needs --redis redis://host:port");
  return 0;
}

static void hash_scripts(struct redis_store *s) {
  for (int i = 0; i < SCRIPTS; i++) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)scripts[i], strlen(scripts[i]), digest);
    for (int k = 0; k < SHA_DIGEST_LENGTH; k++)
      snprintf(s->sha[i] + 2 * k, 3, "%02x", digest[k]);
  }
}

/* Waits until every shard was up once, or CONNECT_TIMEOUT_MS. */
static int await_shards(struct redis_store *s, herald_error *err) {
  uint64_t deadline = uv_hrtime() + (uint64_t)CONNECT_TIMEOUT_MS * 1000000;
  uv_mutex_lock(&s->lock);
  while (s->n_up < s->n_shards && uv_hrtime() < deadline)
    uv_cond_timedwait(&s->up_cond, &s->lock, deadline - uv_hrtime());
  bool up = s->n_up == s->n_shards;
  uv_mutex_unlock(&s->lock);
  if (up) return 0;
  for (size_t i = 0; i < s->n_shards; i++)
    if (!s->seen_up[i])
      return herald_error_set(err, HERALD_E_UNAVAILABLE,
                              "cannot reach redis %s:%d%s%s",
                              s->shards[i].host, s->shards[i].port,
                              s->shards[i].error[0] ? ": " : "",
                              s->shards[i].error);
  return 0;
}

static void release(struct redis_store *s) {
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&s->told, &bucket); e;
       e = hashmap__next(&s->told, e, &bucket))
    free_told(e->value);
  hashmap__cleanup(&s->told);
  for (size_t i = 0; i < s->n_shards; i++) herald_free(s->shards[i].host);
  herald_free(s->shards);
  herald_free(s->watches);
  herald_free(s->seen_up);
  redis_outbox__cleanup(&s->outbox);
  uv_cond_destroy(&s->up_cond);
  uv_mutex_destroy(&s->lock);
  herald_free(s);
}

static void redis_close(struct store *base) {
  struct redis_store *s = (struct redis_store *)base;
  atomic_store(&s->stopping, true);
  uv_async_send(&s->wake);
  uv_thread_join(&s->thread);
  uv_loop_close(&s->loop);
  release(s);
}

static int redis_open(struct store **out, const struct config *cfg,
                      herald_error *err) {
  struct redis_store *s = herald_xcalloc(1, sizeof *s);
  s->base.ops = &store_redis__ops;
  uv_mutex_init(&s->lock);
  uv_cond_init(&s->up_cond);
  hashmap__init(&s->told);
  s->node[0] = 'r';
  msgid__random(s->node + 1, 7);
  int rc = parse_shards(s, cfg->redis, err);
  if (rc) {
    release(s);
    return rc;
  }
  hash_scripts(s);
  redis_outbox__init(&s->outbox, s->shards, s->n_shards, s->node,
                     cfg->node_timeout_ms, emit_outbox, s);
  s->watches = herald_xcalloc(s->n_shards, sizeof *s->watches);
  for (size_t i = 0; i < s->n_shards; i++) hashmap__init(&s->watches[i]);
  s->seen_up = herald_xcalloc(s->n_shards, sizeof *s->seen_up);
  uv_loop_init(&s->loop);
  uv_async_init(&s->loop, &s->wake, on_wake);
  s->wake.data = s;
  uv_timer_init(&s->loop, &s->beat);
  s->beat.data = s;
  s->node_timeout_ms = cfg->node_timeout_ms;
  s->retention_ms = cfg->retention_ms;
  if (uv_thread_create(&s->thread, engine_thread, s) != 0) abort();
  rc = await_shards(s, err);
  if (rc) {
    redis_close(&s->base);
    return rc;
  }
  *out = &s->base;
  return 0;
}

const struct store_ops store_redis__ops = {
    .name = "redis",
    .keeps_records = true,
    .open = redis_open,
    .close = redis_close,
    .append = redis_append,
    .history = redis_history,
    .channels = redis_channels,
    .put_record = redis_put_record,
    .drop_app = redis_drop_app,
    .load_records = redis_load_records,
    .watch = redis_watch,
    .members = redis_members,
    .connection = redis_connection,
    .once = redis_once,
    .quiet = redis_quiet,
    .usage = redis_usage,
    .occupancy = redis_occupancy,
    .outbox_done = redis_outbox_done,
};
