/* channel_name.h -- channel name rules (shared/spec/messages.md section 8).
 *
 * A channel name is non-empty, does not start with ':', contains no CR or LF,
 * is at most CHANNEL_NAME_MAX bytes (qualifier included), and starts with
 * '[' only for a valid qualifier: "[meta]name",
 * "[?params]name", "[meta?params]name", or a subscription filter
 * "[filter=<base64 expression>]name" (with params too:
 * "[filter=<base64>?params]name"; message_filter.h). The params qualifier
 * does not change the channel: history, presence and capabilities use the
 * base name ("[?rewind=1]foo" -> "foo", "[meta?x=y]log" -> "[meta]log"). A
 * filtered name is a view of its base channel: it receives a subset of
 * "name"'s messages. */
#ifndef HERALD_CHANNEL_NAME_H
#define HERALD_CHANNEL_NAME_H

#include <stddef.h>

#include "herald/errors.h"

/* The longest channel name taken. Ably documents no limit but advises
 * under 2048 characters (names travel in URLs); an unbounded name costs
 * memory in every map that holds it. */
#define CHANNEL_NAME_MAX 2048

struct channel_name {
  const char *base;   /* the name after any qualifier: "log" for "[meta]log"
                         and "[meta?x=y]log"; channel_name__base_dup adds
                         "[meta]" back */
  size_t base_len;    /* NOT NUL-terminated when a qualifier was removed */
  const char *params; /* "rewind=1" for "[?rewind=1]foo", else NULL */
  size_t params_len;
  int is_meta;        /* 1 for "[meta]..." channels */
  const char *filter; /* the base64 expression of "[filter=...]..." names,
                         else NULL */
  size_t filter_len;
};

/* Validates name[0..len) and fills *out with views into it. Returns 0, or
 * -40010 with err set ("invalid channel name: ..." / "Invalid qualifier in
 * channelId; ..."), also for a name longer than CHANNEL_NAME_MAX. */
int channel_name__parse(const char *name, size_t len, struct channel_name *out,
                        herald_error *err);

/* The base name (with "[meta]" kept for metachannels, "[filter=...]" for
 * filtered names) as a new NUL-terminated string (herald_xmalloc'd). */
char *channel_name__base_dup(const struct channel_name *name);

/* The namespace of a base name: its length up to the first ':' (the whole
 * length when there is none). */
size_t channel_name__namespace_len(const char *base, size_t len);

#endif
